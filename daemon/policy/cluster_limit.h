/* SPDX-License-Identifier: MIT */
/*
 * Cluster-wide L7 limits ("scope: cluster"), the part the request path
 * sees: a fixed window of N requests per period P, shared by every host of
 * the cluster, admitted here from a local allowance with no Redis round
 * trip. Windows are aligned to the wall clock (window = unix time / P), so
 * all hosts count the same window.
 *
 * Each key (consumer, address, route, ...) has an entry holding, for the
 * current window: the requests this host admitted (count) and how many it
 * may admit (allowance). A request passes while count < allowance. The
 * cluster thread (control/cluster.c) reconciles every sync interval: it
 * collects the active entries (crl_collect) and, for each, has Redis
 * reserve this host's allowance atomically (a Lua script: count + a share
 * of what the other hosts' reservations leave of N), which crl_apply()
 * sets. The reservations never add up to more than N, so the cluster
 * admits at most N per window, plus the small exceptions docs/CLUSTER.md
 * bounds (a key first seen mid-window, a wrong count of live hosts).
 *
 * While Redis is unreachable the table follows the state the cluster
 * thread sets: local (each host admits its share N/H of every window),
 * open (no limit), closed (all refused).
 *
 * Shared by all workers: set-associative buckets with a lock each, as in
 * ratelimit.c. Pure: time is an argument, no I/O, no globals.
 */
#ifndef SLUICE_CLUSTER_LIMIT_H
#define SLUICE_CLUSTER_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limit_spec.h"
#include "policy/ratelimit.h"

struct crl_table;

enum crl_state {
	CRL_UP = 0,		/* Redis answers: allowances from reconciles */
	CRL_DOWN_LOCAL,		/* each host its share of the window */
	CRL_DOWN_OPEN,		/* admit all (counts kept for the resync) */
	CRL_DOWN_CLOSED,	/* refuse all */
};

/* A table for limit l (one window, used as a fixed window) named id (the
 * same on every host; copied), one reference. NULL + errno. */
struct crl_table *crl_table_new(const struct rl_limit *l, const char *id,
				const uint8_t seed[16]);
struct crl_table *crl_table_ref(struct crl_table *t);
void crl_table_free(struct crl_table *t);
const char *crl_table_id(const struct crl_table *t);
const struct rl_limit *crl_table_limit(const struct crl_table *t);

/*
 * Count one request for key at wall_ns (unix time in nanoseconds). Fills
 * *res as rl_take() does (limit: N; remaining: this host's allowance
 * left). 0, or -EINVAL for a bad key length.
 */
int crl_take(struct crl_table *t, const void *key, size_t keylen,
	     uint64_t wall_ns, struct rl_result *res);

/*
 * The cluster thread's view: nodes live hosts (>= 1), this host's rank
 * among them (0-based, the hosts sorted by name: it decides who gets the
 * remainder of N / nodes), the Redis state and the reconcile interval.
 * A key first seen here after the first interval of a window (the others
 * may have spent the window already) starts with an allowance of 1 until
 * the next reconcile; one seen in the window before, or in its first
 * interval, starts with the host's share.
 */
void crl_set_env(struct crl_table *t, unsigned int nodes, unsigned int rank,
		 enum crl_state st, uint64_t sync_ns);

/* One active entry, as collected for a reconcile. */
struct crl_sync {
	uint64_t win;		/* window number (wall time / period) */
	uint64_t count;		/* admitted here in it, at collection */
	uint8_t klen;
	char key[RL_MAX_KEY];
};

/*
 * Copy up to max entries that admitted requests in the window current at
 * wall_ns, starting at bucket *cursor (advanced; 0 again after the last
 * bucket). Returns how many were copied.
 */
size_t crl_collect(struct crl_table *t, uint64_t wall_ns, struct crl_sync *out,
		   size_t max, size_t *cursor);

/* The allowance Redis reserved for s's key and window (at least s->count):
 * set it, if the entry is still in that window. */
void crl_apply(struct crl_table *t, const struct crl_sync *s,
	       uint64_t allowance);

/* This host's share of n over nodes hosts, rank 0-based. */
uint64_t crl_share(uint64_t n, unsigned int nodes, unsigned int rank);

#endif
