/* SPDX-License-Identifier: MIT */
/*
 * Routing: pure lookup of a request against a config snapshot.
 *
 * A route matches when every condition it has holds: one of its hosts
 * (exact, or "*.name": one or more labels before ".name"), its path
 * (path_prefix: a byte prefix; path_exact; path_regex: the whole path),
 * its methods, every header (some field of that name, and every field of
 * that name, has one of the values) and every query parameter (likewise,
 * names and values percent-decoded). Of the routes that match, the winner
 * is the greatest by, in order (docs/CONFIG.md, "Route precedence"):
 *   1. host: exact, then wildcard (longer suffix first), then none;
 *   2. path: exact, then prefix (longer first), then regex (file order of
 *      the pattern);
 *   3. more conditions (methods counts one, each header and query one);
 *   4. higher priority;
 *   5. earlier in the file.
 *
 * router_build() indexes a snapshot's routes (hash of exact hosts, of
 * wildcard suffixes, per host a hash of exact paths and of prefixes by
 * length, regexes in order), so that a lookup costs about the same for 10
 * routes as for 10,000. Without an index the same answer comes from one
 * scan of every route (router_lookup_linear(), also what --explain uses).
 */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

struct config;
struct config_route;

/* What routing looks at, pointing into the caller's buffers. */
struct router_req {
	const char *host;		/* Host value or authority; NULL: none */
	size_t host_len;
	const char *method;
	size_t method_len;
	const char *path;		/* normalised, without the query */
	size_t path_len;
	const char *query;		/* after '?', NULL: none */
	size_t query_len;
	const struct http_header *headers;
	size_t n_headers;
};

/* The fields of a parsed (and normalised) request. */
void router_req_from_http(struct router_req *q, const struct http_request *r);

/* Build c->router (replacing any); 0 or -ENOMEM. */
int router_build(struct config *c);
void router_free(struct config *c);

/* The winning route's index, or -1. Uses c->router when built, else the
 * linear scan. Never allocates; bounded time (see docs/CONFIG.md). */
int router_lookup(const struct config *c, const struct router_req *q);
/* The same answer from one scan of every route. */
int router_lookup_linear(const struct config *c, const struct router_req *q);

/* The old entry point: host, method and path only. */
int router_match(const struct config *c, const char *host, size_t host_len,
		 const char *method, size_t method_len, const char *path,
		 size_t path_len);

/* ---- explaining a decision (sluiced --check --explain) ----------------- */

/* A route's verdict for one request. */
struct router_verdict {
	bool match;
	char why[160];		/* rejected: which condition failed; matched:
				 * how it matched */
};

/* Every route's verdict for q (v[c->n_routes]); returns the winner or -1. */
int router_explain(const struct config *c, const struct router_req *q,
		   struct router_verdict *v);

/* Why route a beats route b (both matching), into buf. */
void router_why_before(const struct config *c, const struct router_req *q,
		       size_t a, size_t b, char *buf, size_t len);

/*
 * Parse an --explain request: "METHOD URL" where URL is absolute
 * ("http://host[:port]/path?query") or origin-form ("/path?query", the
 * host then from a Host header), and header lines "Name: value". The path
 * is normalised (flags: HTTP_PATH_*) into pathbuf (cap bytes); headers go
 * into hdrs (at most max). Returns 0, or -1 with *err set (static text).
 */
int router_parse_explain(const char *line, const char *const *hlines,
			 size_t n_hlines, unsigned int flags, char *pathbuf,
			 size_t cap, struct http_header *hdrs, size_t max,
			 struct router_req *q, const char **err);

#endif
