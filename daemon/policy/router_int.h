/* SPDX-License-Identifier: MIT */
/* Internal to the router (router.c, router_index.c, router_explain.c). */
#ifndef SLUICE_ROUTER_INT_H
#define SLUICE_ROUTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "policy/router.h"

#define ROUTER_HOST_MAX 256
#define ROUTER_REGEX_PATH_MAX 8192	/* longer paths match no path_regex */

/* A request as the router compares it: the host normalised once. */
struct router_prep {
	const struct router_req *q;
	uint32_t mbit;			/* CFG_M_* of the method */
	char host[ROUTER_HOST_MAX];
	long host_len;			/* -1: no host (or none that fits) */
};

void router__prep(struct router_prep *p, const struct router_req *q);

/* Methods, headers and query of r against the request; false with a
 * reason in why (when not NULL). */
bool router__conds(const struct config_route *r, const struct router_prep *p,
		   char *why, size_t len);

/* Conditions counted for precedence rule 3. */
static inline unsigned router__ncond(const struct config_route *r)
{
	return (r->methods ? 1u : 0u) + (unsigned)r->n_headers +
	       (unsigned)r->n_query;
}

bool router__regex(const struct config_route *r, const char *path,
		   size_t len);

/* Does wildcard "*.sfx" (pattern) match host h? */
static inline bool router__wild_ok(const char *h, size_t hl, size_t at)
{
	/* the suffix starts at h[at] ('.'); one or more labels before */
	return at > 0 && at < hl && h[at] == '.' && h[at - 1] != '.';
}

/* rule 5 and rules 3-4 between two routes of the same host and path
 * rank: true when a goes first */
static inline bool router__tie_before(const struct config_route *rs,
				      size_t a, size_t b)
{
	unsigned ca = router__ncond(&rs[a]), cb = router__ncond(&rs[b]);

	if (ca != cb)
		return ca > cb;
	if (rs[a].priority != rs[b].priority)
		return rs[a].priority > rs[b].priority;
	return a < b;
}

#endif
