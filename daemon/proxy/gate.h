/* SPDX-License-Identifier: MIT */
/*
 * The request gate: what the proxy asks after a route matched and
 * before an upstream is picked. In order: L7 address policy (403) ▸
 * credentials (401) ▸ roles (403) ▸ rate limits (429), over the immutable
 * config snapshot and its shared rate-limit tables. Also builds the answers
 * (401 with WWW-Authenticate, 403, 429 with Retry-After and RateLimit-*),
 * the upstream view of the request (credential stripped, X-Consumer-Name and
 * X-Consumer-Roles set, client-sent X-Consumer-* removed), and escalates
 * repeat offenders to a ban: in XDP through a sink set by the control thread
 * when the client is the TCP peer, else in an L7 ban table checked here
 * first (a client behind a PROXY header or a trusted X-Forwarded-For is not
 * what XDP sees).
 *
 * Thread-safe: called from every worker; the only shared mutable state is in
 * the rate-limit tables (striped locks), the L7 ban table (a lock per
 * bucket, skipped with one atomic load while no ban is live) and a few
 * atomic counters.
 */
#ifndef SLUICE_GATE_H
#define SLUICE_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/auth.h"
#include "http/http.h"
#include "policy/ratelimit.h"
#include "policy/realip.h"

struct config;

struct gate_verdict {
	int status;			/* 0: pass; else 401, 403 or 429 */
	const char *code;		/* "unauthorized", "forbidden", "rate_limited" */
	const char *message;
	struct auth_result auth;
	bool have_rl;			/* a limit applied: rl is meaningful */
	struct rl_result rl;		/* the most constrained limit */
	struct sockaddr_storage client;	/* effective client address */
	uint64_t ban_left_s;		/* 403 "banned": Retry-After */
};

/*
 * Decide request r on route `route` of cfg, from `client`: the exchange's
 * client as realip_resolve() found it (the one answer used for logs and
 * X-Forwarded-For too). wall_s: unix time (JWT exp/nbf); mono_ns:
 * CLOCK_MONOTONIC (limits, bans). A client under an L7 ban gets 403
 * "banned" before any other check. Returns v->status.
 */
int gate_check(const struct config *cfg, int route,
	       const struct http_request *r, const struct sockaddr *client,
	       int64_t wall_s, uint64_t mono_ns, struct gate_verdict *v);
/* gate_check() with the connection's verified TLS client certificate
 * identities (auth_request.cert_ids) for auth: [mtls]. */
int gate_check_ex(const struct config *cfg, int route,
		  const struct http_request *r, const struct sockaddr *client,
		  int64_t wall_s, uint64_t mono_ns,
		  const char *const *cert_ids, size_t n_cert_ids,
		  struct gate_verdict *v);

/*
 * The complete rejection response for v (head + JSON body, Connection:
 * close; no body for HEAD), with X-Request-Id: request_id unless it is
 * NULL or empty. Returns its length or -ENOSPC.
 */
long gate_error_response(const struct config *cfg, int route,
			 const struct gate_verdict *v, bool head_method,
			 const char *request_id, char *dst, size_t cap);

/*
 * Rewrite r in place for the upstream: drop the stripped credential and any
 * client-sent X-Consumer-* (in any spelling rewrite_name_like() takes for
 * one, X_Consumer_Name included), cut the API-key query
 * parameter from the target, and (authenticated requests) append
 * X-Consumer-Name and X-Consumer-Roles. Strings that r then points to live
 * in scratch, which must outlive the use of r. 0 or -ENOSPC.
 */
int gate_upstream_request(struct http_request *r, const struct gate_verdict *v,
			  char *scratch, size_t cap);

/*
 * RateLimit-Limit/-Remaining/-Reset, and RateLimit-Policy when rl->policy is
 * set, for an allowed response: appended to resp's headers, values in
 * scratch. 0 or -ENOSPC.
 */
int gate_add_ratelimit_headers(struct http_response *resp,
			       const struct rl_result *rl, char *scratch,
			       size_t cap);

/*
 * Count a rejection (status 401 or 429) of `client` (the resolved client;
 * IPv6 grouped by xdp.ipv6_prefix) for escalation. When it crossed the
 * configured threshold it is banned for escalation.ban_s: through the XDP
 * sink when via_proxy is false (the client is the TCP peer), else -- or
 * when the sink fails -- in the L7 ban table. Addresses in trusted_proxies
 * are never counted. Returns true if a ban was set now.
 */
bool gate_strike(const struct config *cfg, const struct sockaddr *client,
		 bool via_proxy, int status, uint64_t mono_ns);

/* Where XDP bans go: fn(ctx, address, prefixlen, seconds) returns 0 or
 * -errno; an existing longer ban is kept. Set once by the control thread
 * (NULL: L7 bans only). */
typedef int (*gate_ban_fn)(void *ctx, const struct sockaddr *addr,
			   unsigned int prefixlen, uint32_t seconds);
void gate_set_ban_sink(gate_ban_fn fn, void *ctx);

/* Escalation counters since start (all workers), for the metrics
 * (sluice_escalation_bans_total, sluice_l7_banned_requests_total). */
struct gate_stats {
	uint64_t bans;			/* escalations banned in XDP */
	uint64_t bans_l7;		/* escalations banned in L7 */
	uint64_t banned;		/* requests refused by an L7 ban */
};
void gate_get_stats(struct gate_stats *out);

#endif
