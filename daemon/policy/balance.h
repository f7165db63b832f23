/* SPDX-License-Identifier: MIT */
/*
 * Load balancing, pure: which target of a service a request goes to,
 * given the state, and the state itself.
 *
 * The pickers take plain arrays and a set of the targets that may be
 * chosen, so they are unit-tested directly:
 *   - balance_wrr(): smooth weighted round robin (NGINX's): each pick adds
 *     every candidate's weight to its current value, takes the largest
 *     and subtracts the candidates' total from it. Weights 5,1,1 give
 *     a a b a c a a, not a a a a a b c.
 *   - balance_p2c(): least request with the power of two choices: two
 *     distinct random candidates, the one with fewer requests in flight
 *     relative to its weight ((active + 1) / weight) wins.
 *   - balance_ring_pick(): consistent hashing on a ring of virtual points
 *     (BALANCE_RING_POINTS per unit of weight, hashed from the target's
 *     address text, so the ring does not depend on the order of targets):
 *     the first point clockwise of the key's hash whose target may be
 *     chosen. A target that leaves moves only its own keys.
 *
 * struct balance_state is what a service shares between the workers and
 * the health checker: per target, atomics (health, ejection, counters),
 * read without a lock on the request path; and per worker, a slot that
 * only that worker writes (the round robin's current weights, its
 * requests in flight per target for least request). It hangs off the
 * config snapshot (config_service.state), is built by policy_build() and
 * carried over a reload by policy_adopt() while the targets stay the same.
 */
#ifndef SLUICE_BALANCE_H
#define SLUICE_BALANCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define BALANCE_MAX_TARGETS	256	/* the targets key's maximum */
#define BALANCE_RING_POINTS	160	/* points per unit of weight */
#define BALANCE_MIN_RETRIES	3	/* the retry budget's floor */
#define BALANCE_MAX_EJECT_SHIFT 6	/* back-off: at most base << 6 */

/* The targets that may be chosen: a bit per target index. */
struct balance_set {
	uint64_t bits[BALANCE_MAX_TARGETS / 64];
};

static inline void balance_set_add(struct balance_set *s, unsigned int i)
{
	s->bits[i / 64] |= 1ull << (i % 64);
}

static inline void balance_set_del(struct balance_set *s, unsigned int i)
{
	s->bits[i / 64] &= ~(1ull << (i % 64));
}

static inline bool balance_set_has(const struct balance_set *s,
				   unsigned int i)
{
	return s->bits[i / 64] >> (i % 64) & 1;
}

unsigned int balance_set_count(const struct balance_set *s);

/*
 * Smooth weighted round robin over the n targets in ok: cur[] holds each
 * target's current weight (caller-owned, zero at start). The chosen
 * index, or -1 when ok is empty.
 */
int balance_wrr(unsigned int n, const uint32_t *weight, int64_t *cur,
		const struct balance_set *ok);

/*
 * Power of two choices over the targets in ok: rnd is a random 64-bit
 * value (two indexes are drawn from it). active[]: requests in flight per
 * target. -1 when ok is empty.
 */
int balance_p2c(unsigned int n, const uint32_t *weight,
		const uint32_t *active, const struct balance_set *ok,
		uint64_t rnd);

struct balance_point {
	uint64_t hash;
	uint32_t target;
};

struct balance_ring {
	struct balance_point *pts;	/* sorted by hash */
	size_t n;
};

/* Build the ring of n targets named names[i] with weights. 0 or -ENOMEM. */
int balance_ring_build(struct balance_ring *r, unsigned int n,
		       const uint32_t *weight, const char *const *names);
void balance_ring_free(struct balance_ring *r);

/* The target for key: the first point at or after key whose target is in
 * ok (wrapping). -1 when ok is empty. */
int balance_ring_pick(const struct balance_ring *r, uint64_t key,
		      const struct balance_set *ok);

/*
 * The value of cookie `name` in one Cookie field value s[0..n) ("a=1; b=2"):
 * *v, *vlen point into s. Names match exactly (case-sensitive, as cookies
 * are); the first match wins. False when absent.
 */
bool balance_cookie(const char *s, size_t n, const char *name,
		    const char **v, size_t *vlen);

/* 64-bit hash of bytes (FNV-1a, then a finalising mix). */
uint64_t balance_hash(const void *p, size_t n);

/* xorshift64*: the next value of *s (never 0). */
uint64_t balance_rand(uint64_t *s);

/* ---- shared state ------------------------------------------------------- */

/* Why a target is out of rotation (balance_target.out_reason). */
enum balance_reason {
	BALANCE_R_NONE = 0,
	BALANCE_R_HEALTH,		/* active health check failures */
	BALANCE_R_5XX,			/* passive: consecutive 5xx */
	BALANCE_R_CONNECT,		/* passive: connect failures */
};

struct balance_target {
	/* health checks: 1 passing (or none configured), 0 failing */
	_Atomic uint32_t hc_up;
	_Atomic uint32_t hc_streak;	/* results in a row that differ */
	_Atomic uint64_t eject_until_ms;	/* 0: not ejected */
	_Atomic uint32_t ejections;	/* back-off exponent (consecutive) */
	_Atomic uint32_t fail_5xx;	/* consecutive 5xx responses */
	_Atomic uint32_t fail_connect;	/* consecutive connect failures */
	_Atomic uint32_t out_reason;	/* enum balance_reason */
	_Atomic uint64_t last_change_s;	/* unix time, last change */
	/* up <-> down by health checks */
	_Atomic uint64_t health_changes;
	_Atomic uint64_t ejections_total;
	uint64_t next_check_ms;		/* health checker's own */
	uint64_t return_seen_ms;	/* health checker's own: the ejection
					 * whose end it logged */
	char last_error[96];		/* health checker's own */
};

/* One worker's slot: written only by that worker (a cache line each). */
struct balance_worker {
	int64_t *cur;			/* round robin current weights */
	uint32_t *active;		/* requests in flight per target */
	uint64_t rnd;			/* p2c random state */
} __attribute__((aligned(64)));

struct balance_state {
	_Atomic int refs;
	unsigned int n_targets;
	unsigned int n_workers;
	uint32_t *weight;
	char (*names)[CONFIG_ADDR_TEXT]; /* target texts, to match on reload */
	/* the addresses, immutable: a literal target as written, or one
	 * address of a DNS name ("127.0.0.2:9003", the name's weight) */
	struct config_addr *targets;
	/* per target, the DNS-named target it came from as written
	 * ("api-3.internal:9003"); "" for a literal one */
	char (*origin)[CONFIG_ADDR_TEXT];
	struct balance_target *t;
	struct balance_worker *w;
	struct balance_ring ring;	/* lb: hash */
	/* written per request by every worker: a line of its own */
	_Alignas(64) _Atomic uint64_t active;	/* requests in flight */
	_Atomic uint64_t pending;	/* of them, connecting */
	_Atomic uint64_t retrying;	/* of them, retries */
	/* written rarely */
	_Alignas(64) _Atomic uint64_t panics;	/* every target was out */
	_Atomic uint64_t retries;	/* retries made */
	_Atomic uint64_t budget_denied;	/* retries over the budget */
	_Atomic uint64_t overflows;	/* 503s at limits */
	_Atomic uint64_t unavailable;	/* 503s: no target answered */
};

/* A new state for service s and n_workers workers (refs 1) over its
 * literal targets (a DNS name has no address yet). NULL: ENOMEM. */
struct balance_state *balance_state_new(const struct config_service *s,
					unsigned int n_workers);

/* A state over n addresses: addrs[i] (text set) came from s's written
 * target from[i], whose weight it takes. NULL: ENOMEM, EINVAL (n). */
struct balance_state *balance_state_build(const struct config_service *s,
					  const struct config_addr *addrs,
					  const unsigned int *from,
					  unsigned int n,
					  unsigned int n_workers);

/* A state for s (a service with DNS names) with its literal targets and,
 * for each name, the addresses that old had for the same name as written;
 * health and ejection state carried from old (old may be NULL). */
struct balance_state *balance_state_rebase(const struct config_service *s,
					   const struct balance_state *old,
					   unsigned int n_workers);

/* Service si's current state with a reference, for a thread that is not
 * a worker (under c->state_lock, so that it cannot be freed between the
 * load and the reference). NULL when none is built. */
struct balance_state *balance_state_get(const struct config *c, size_t si);

/* Replace service si's state by st (the reference is taken over) under
 * c->state_lock; returns the old one, whose reference the caller drops
 * only once no worker can still be between loading and referencing it. */
struct balance_state *balance_state_publish(struct config *c, size_t si,
					    struct balance_state *st);
struct balance_state *balance_state_ref(struct balance_state *st);
void balance_state_put(struct balance_state *st);

/* Same targets, weights and lb: the state can be shared. */
bool balance_state_fits(const struct balance_state *st,
			const struct config_service *s);

/* Copy the health and ejection state of targets with the same address
 * text from old into st (a reload that changed the target list). */
void balance_state_carry(struct balance_state *st,
			 const struct balance_state *old);

/* Whether target i may be chosen at now_ms (health passing, not ejected). */
static inline bool balance_target_ok(const struct balance_state *st,
				     unsigned int i, uint64_t now_ms)
{
	const struct balance_target *t = &st->t[i];

	return atomic_load_explicit(&t->hc_up, memory_order_relaxed) &&
	       atomic_load_explicit(&t->eject_until_ms,
				    memory_order_relaxed) <= now_ms;
}

/*
 * The targets that may be chosen now, minus those in `tried`. *panic set
 * when none could, in which case every target not tried is returned
 * (panic mode, as Envoy: health state is ignored rather than failing
 * every request).
 */
void balance_candidates(const struct balance_state *st, uint64_t now_ms,
			const struct balance_set *tried,
			struct balance_set *out, bool *panic);

/*
 * Passive outlier detection. A response (status, 0: a reset before any
 * response) or a connect result reported for target i. Returns true when
 * this report ejected the target (the caller logs it). max_ejected_percent
 * of the service's targets (at least one) may be out at once; the
 * ejection lasts base << min(ejections, BALANCE_MAX_EJECT_SHIFT).
 */
bool balance_report(struct balance_state *st, const struct config_outlier *o,
		    unsigned int i, bool connect_failed, int status,
		    uint64_t now_ms, uint64_t wall_s);

/* Health check result for target i. Returns +1 when it came back, -1 when
 * it went out, 0 when nothing changed. */
int balance_health_result(struct balance_state *st,
			  const struct config_health *h, unsigned int i,
			  bool pass, uint64_t wall_s);

/* May one more retry start now (the service-wide budget)? */
bool balance_retry_allowed(const struct balance_state *st,
			   uint32_t budget_percent);

#endif
