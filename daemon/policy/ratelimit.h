/* SPDX-License-Identifier: MIT */
/*
 * L7 rate limits: GCRA (generic cell rate algorithm, the "virtual
 * scheduling" form) with up to RL_MAX_WINDOWS windows per limit, e.g.
 * 10/s and 1000/h at once. A request passes only if every window has room,
 * and then counts against all of them (all-or-nothing).
 *
 * Window "N/P burst B": at most B requests at once, refilled at N per P; by
 * default B = N, so N requests fit in any window of length P and none more
 * until the refill. Arithmetic is exact: state is kept in units of
 * nanoseconds x N (128-bit), so 3/s means exactly 333333333.33... ns apart.
 *
 * One struct rl_table per configured limit, shared by all worker threads of
 * the host: a set-associative hash table (buckets of RL_WAYS entries), each
 * bucket with its own lock, so results are exact across threads with no
 * global lock. The hash is SipHash-2-4 with a per-table random seed, so
 * clients cannot aim collisions at one bucket. When a bucket is full of
 * live keys, the key closest to idle is evicted (it loses its history).
 *
 * Pure: time is an argument (monotonic nanoseconds), no I/O, no globals.
 */
#ifndef SLUICE_RATELIMIT_H
#define SLUICE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limit_spec.h"

#define RL_MAX_KEY 64
#define RL_WAYS 8

struct rl_table;

/* Outcome of rl_take, for the 429 and the RateLimit-* headers. */
struct rl_result {
	bool allowed;
	uint64_t limit;		/* of the most constrained window */
	uint64_t remaining;	/* requests left in it now */
	uint64_t reset_s;	/* seconds until it is full again */
	uint64_t retry_after_s;	/* denied: seconds until one would pass */
	uint64_t period_s;	/* its period, rounded up to seconds */
	/* the limit whose window this is (for RateLimit-Policy); owned by
	 * the table, valid while a reference to the table is held */
	const struct rl_limit *policy;
};

/*
 * A table for limit l (copied), holding one reference. seed: 16 random
 * bytes. NULL + errno.
 */
struct rl_table *rl_table_new(const struct rl_limit *l, const uint8_t seed[16]);
/* Another reference to t (a reloaded config snapshot adopting the table of
 * an unchanged limit, so its clients keep their history). Returns t. */
struct rl_table *rl_table_ref(struct rl_table *t);
/* Drop a reference; the last one frees the table. NULL is a no-op. */
void rl_table_free(struct rl_table *t);
const struct rl_limit *rl_table_limit(const struct rl_table *t);

/*
 * Whether a and b define the same limit: key kind, the windows in order
 * (limit, period, burst) and the table capacity (0 = the default). A table
 * made for a serves b exactly as one made for b would.
 */
bool rl_limit_same(const struct rl_limit *a, const struct rl_limit *b);

/*
 * Count one request for key[0..keylen) (keylen <= RL_MAX_KEY) at now_ns.
 * Fills *res; returns 0, or -EINVAL for a bad key length.
 */
int rl_take(struct rl_table *t, const void *key, size_t keylen,
	    uint64_t now_ns, struct rl_result *res);

/* The windows as an IETF RateLimit-Policy value, "10;w=1, 1000;w=3600".
 * Returns the length (output NUL-terminated, truncated to len). */
size_t rl_policy_header(const struct rl_limit *l, char *buf, size_t len);

/* SipHash-2-4 of data with a 16-byte key (exposed for tests). */
uint64_t rl_siphash(const uint8_t key[16], const void *data, size_t len);
/* SipHash-2-4 with its 128-bit output (out[0] the first eight bytes of the
 * reference's output, read little-endian). */
void rl_siphash128(const uint8_t key[16], const void *data, size_t len,
		   uint64_t out[2]);

#endif
