// SPDX-License-Identifier: MIT
/* Load balancing: pickers and shared state. See balance.h. */
#include "policy/balance.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

unsigned int balance_set_count(const struct balance_set *s)
{
	unsigned int n = 0;

	for (size_t i = 0; i < BALANCE_MAX_TARGETS / 64; i++)
		n += (unsigned int)__builtin_popcountll(s->bits[i]);
	return n;
}

int balance_wrr(unsigned int n, const uint32_t *weight, int64_t *cur,
		const struct balance_set *ok)
{
	int64_t total = 0;
	int best = -1;

	for (unsigned int i = 0; i < n; i++) {
		if (!balance_set_has(ok, i))
			continue;
		cur[i] += weight[i];
		total += weight[i];
		if (best < 0 || cur[i] > cur[best])
			best = (int)i;
	}
	if (best >= 0)
		cur[best] -= total;
	return best;
}

/* A member of ok drawn with probability proportional to its weight, from
 * the 32 random bits r. */
static int draw(unsigned int n, const uint32_t *weight,
		const struct balance_set *ok, uint64_t total, uint32_t r)
{
	uint64_t x = (uint64_t)r * total >> 32;

	for (unsigned int i = 0; i < n; i++) {
		if (!balance_set_has(ok, i))
			continue;
		if (x < weight[i])
			return (int)i;
		x -= weight[i];
	}
	return -1;
}

int balance_p2c(unsigned int n, const uint32_t *weight, const uint32_t *active,
		const struct balance_set *ok, uint64_t rnd)
{
	uint64_t total = 0;
	int a, b;

	for (unsigned int i = 0; i < n; i++)
		if (balance_set_has(ok, i))
			total += weight[i];
	if (!total)
		return -1;
	/* two candidates drawn by weight (a heavy target is more often
	 * among them: with uniform draws one of three can win at most
	 * 2/3 of the picks, whatever its weight) */
	a = draw(n, weight, ok, total, (uint32_t)rnd);
	b = draw(n, weight, ok, total, (uint32_t)(rnd >> 32));
	/* (active + 1) / weight, compared without division */
	if ((uint64_t)(active[a] + 1) * weight[b] <=
	    (uint64_t)(active[b] + 1) * weight[a])
		return a;
	return b;
}

bool balance_cookie(const char *s, size_t n, const char *name, const char **v,
		    size_t *vlen)
{
	const char *end = s + n;
	size_t nl = strlen(name);

	while (s < end) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		const char *e = semi ? semi : end;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (nl && (size_t)(e - s) > nl && !memcmp(s, name, nl) &&
		    s[nl] == '=') {
			*v = s + nl + 1;
			*vlen = (size_t)(e - *v);
			while (*vlen && ((*v)[*vlen - 1] == ' ' ||
					 (*v)[*vlen - 1] == '\t'))
				(*vlen)--;
			return true;
		}
		s = semi ? semi + 1 : end;
	}
	return false;
}

uint64_t balance_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	/* splitmix64's finaliser: FNV alone clusters on short keys */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

uint64_t balance_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static int point_cmp(const void *a, const void *b)
{
	const struct balance_point *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->target < y->target ? -1 : x->target > y->target;
}

int balance_ring_build(struct balance_ring *r, unsigned int n,
		       const uint32_t *weight, const char *const *names)
{
	size_t total = 0, k = 0;

	memset(r, 0, sizeof(*r));
	for (unsigned int i = 0; i < n; i++)
		total += (size_t)weight[i] * BALANCE_RING_POINTS;
	if (!total)
		return 0;
	r->pts = calloc(total, sizeof(*r->pts));
	if (!r->pts)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		uint64_t base = balance_hash(names[i], len);

		for (size_t j = 0; j < (size_t)weight[i] * BALANCE_RING_POINTS;
		     j++) {
			uint64_t v[2] = {base, j};

			r->pts[k].hash = balance_hash(v, sizeof(v));
			r->pts[k].target = i;
			k++;
		}
	}
	qsort(r->pts, total, sizeof(*r->pts), point_cmp);
	r->n = total;
	return 0;
}

void balance_ring_free(struct balance_ring *r)
{
	free(r->pts);
	memset(r, 0, sizeof(*r));
}

int balance_ring_pick(const struct balance_ring *r, uint64_t key,
		      const struct balance_set *ok)
{
	size_t lo = 0, hi = r->n;

	if (!r->n)
		return -1;
	while (lo < hi) { /* first point with hash >= key */
		size_t mid = lo + (hi - lo) / 2;

		if (r->pts[mid].hash < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = 0; k < r->n; k++) {
		const struct balance_point *pt = &r->pts[(lo + k) % r->n];

		if (balance_set_has(ok, pt->target))
			return (int)pt->target;
	}
	return -1;
}

/* ---- shared state ------------------------------------------------------- */

/* Zeroed memory on cache lines of its own: a worker's slot and the
 * service's counters are written per request, and must not share a line
 * with what other workers write. */
static void *zalloc64(size_t n)
{
	size_t len = (n + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, len ? len : 64);

	if (p)
		memset(p, 0, len ? len : 64);
	return p;
}

struct balance_state *balance_state_build(const struct config_service *s,
					  const struct config_addr *addrs,
					  const unsigned int *from,
					  unsigned int n,
					  unsigned int n_workers)
{
	struct balance_state *st;
	const char *names[BALANCE_MAX_TARGETS];

	if (!n_workers)
		n_workers = 1;
	if (n > BALANCE_MAX_TARGETS) {
		errno = EINVAL;
		return NULL;
	}
	st = zalloc64(sizeof(*st));
	if (!st)
		return NULL;
	atomic_init(&st->refs, 1);
	st->n_targets = n;
	st->n_workers = n_workers;
	st->weight = calloc(n ? n : 1, sizeof(*st->weight));
	st->names = calloc(n ? n : 1, sizeof(*st->names));
	st->origin = calloc(n ? n : 1, sizeof(*st->origin));
	st->targets = calloc(n ? n : 1, sizeof(*st->targets));
	st->t = calloc(n ? n : 1, sizeof(*st->t));
	st->w = zalloc64(n_workers * sizeof(*st->w));
	if (!st->weight || !st->names || !st->origin || !st->targets ||
	    !st->t || !st->w)
		goto oom;
	for (unsigned int i = 0; i < n; i++) {
		const struct config_addr *w = &s->targets[from[i]];

		st->targets[i] = addrs[i];
		st->targets[i].weight = w->weight ? w->weight : 1;
		st->weight[i] = st->targets[i].weight;
		memcpy(st->names[i], addrs[i].text, sizeof(st->names[i]));
		st->names[i][sizeof(st->names[i]) - 1] = '\0';
		if (config_addr_is_name(w))
			memcpy(st->origin[i], w->text, sizeof(st->origin[i]));
		st->origin[i][sizeof(st->origin[i]) - 1] = '\0';
		names[i] = st->names[i];
		atomic_init(&st->t[i].hc_up, 1);
	}
	for (unsigned int w = 0; w < n_workers; w++) {
		/* one block per worker, on lines of its own */
		size_t m = n ? n : 1;
		char *blk = zalloc64(m * (sizeof(int64_t) + sizeof(uint32_t)));

		if (!blk)
			goto oom;
		st->w[w].cur = (int64_t *)blk;
		st->w[w].active = (uint32_t *)(blk + m * sizeof(int64_t));
		st->w[w].rnd = 0x9e3779b97f4a7c15ull * (w + 1);
	}
	if (s->lb == CFG_LB_HASH &&
	    balance_ring_build(&st->ring, n, st->weight, names))
		goto oom;
	return st;
oom:
	atomic_store(&st->refs, 1);
	balance_state_put(st);
	errno = ENOMEM;
	return NULL;
}

struct balance_state *balance_state_new(const struct config_service *s,
					unsigned int n_workers)
{
	struct config_addr addrs[BALANCE_MAX_TARGETS];
	unsigned int from[BALANCE_MAX_TARGETS], n = 0;

	if (s->n_targets > BALANCE_MAX_TARGETS) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned int i = 0; i < s->n_targets; i++) {
		if (config_addr_is_name(&s->targets[i]))
			continue;
		addrs[n] = s->targets[i];
		from[n++] = i;
	}
	return balance_state_build(s, addrs, from, n, n_workers);
}

struct balance_state *balance_state_rebase(const struct config_service *s,
					   const struct balance_state *old,
					   unsigned int n_workers)
{
	struct config_addr addrs[BALANCE_MAX_TARGETS];
	unsigned int from[BALANCE_MAX_TARGETS], n = 0;
	struct balance_state *st;

	for (unsigned int i = 0; i < s->n_targets; i++) {
		const struct config_addr *w = &s->targets[i];

		if (!config_addr_is_name(w)) {
			if (n < BALANCE_MAX_TARGETS) {
				addrs[n] = *w;
				from[n++] = i;
			}
			continue;
		}
		for (unsigned int j = 0; old && j < old->n_targets; j++) {
			if (strcmp(old->origin[j], w->text) ||
			    n >= BALANCE_MAX_TARGETS)
				continue;
			addrs[n] = old->targets[j];
			from[n++] = i;
		}
	}
	st = balance_state_build(s, addrs, from, n, n_workers);
	if (st && old)
		balance_state_carry(st, old);
	return st;
}

struct balance_state *balance_state_get(const struct config *c, size_t si)
{
	/* the lock is not part of the snapshot's value: a const snapshot
	 * may still be locked */
	pthread_mutex_t *l = (pthread_mutex_t *)&c->state_lock;
	struct balance_state *st;

	pthread_mutex_lock(l);
	st = balance_state_ref(c->services[si].state);
	pthread_mutex_unlock(l);
	return st;
}

struct balance_state *balance_state_publish(struct config *c, size_t si,
					    struct balance_state *st)
{
	struct balance_state *old;

	pthread_mutex_lock(&c->state_lock);
	old = atomic_exchange(&c->services[si].state, st);
	pthread_mutex_unlock(&c->state_lock);
	return old;
}

struct balance_state *balance_state_ref(struct balance_state *st)
{
	if (st)
		atomic_fetch_add(&st->refs, 1);
	return st;
}

void balance_state_put(struct balance_state *st)
{
	if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	for (unsigned int w = 0; st->w && w < st->n_workers; w++) {
		free(st->w[w].cur); /* the block holding active[] too */
	}
	balance_ring_free(&st->ring);
	free(st->w);
	free(st->t);
	free(st->names);
	free(st->origin);
	free(st->targets);
	free(st->weight);
	free(st);
}

bool balance_state_fits(const struct balance_state *st,
			const struct config_service *s)
{
	if (!st || s->n_names || st->n_targets != s->n_targets ||
	    (s->lb == CFG_LB_HASH) != (st->ring.n > 0 || !s->n_targets))
		return false;
	for (unsigned int i = 0; i < st->n_targets; i++)
		if (st->weight[i] !=
			    (s->targets[i].weight ? s->targets[i].weight : 1) ||
		    strncmp(st->names[i], s->targets[i].text,
			    sizeof(st->names[i])))
			return false;
	return true;
}

void balance_state_carry(struct balance_state *st,
			 const struct balance_state *old)
{
	for (unsigned int i = 0; i < st->n_targets; i++) {
		for (unsigned int j = 0; j < old->n_targets; j++) {
			const struct balance_target *o = &old->t[j];
			struct balance_target *t = &st->t[i];

			if (strcmp(st->names[i], old->names[j]))
				continue;
			atomic_store(&t->hc_up, atomic_load(&o->hc_up));
			atomic_store(&t->hc_streak, atomic_load(&o->hc_streak));
			atomic_store(&t->eject_until_ms,
				     atomic_load(&o->eject_until_ms));
			atomic_store(&t->ejections, atomic_load(&o->ejections));
			atomic_store(&t->out_reason,
				     atomic_load(&o->out_reason));
			atomic_store(&t->last_change_s,
				     atomic_load(&o->last_change_s));
			atomic_store(&t->health_changes,
				     atomic_load(&o->health_changes));
			atomic_store(&t->ejections_total,
				     atomic_load(&o->ejections_total));
			t->next_check_ms = o->next_check_ms;
			t->return_seen_ms = o->return_seen_ms;
			memcpy(t->last_error, o->last_error,
			       sizeof(t->last_error));
			break;
		}
	}
	/* the service's counters go on (a reset would read as one) */
	atomic_store(&st->panics, atomic_load(&old->panics));
	atomic_store(&st->retries, atomic_load(&old->retries));
	atomic_store(&st->budget_denied, atomic_load(&old->budget_denied));
	atomic_store(&st->overflows, atomic_load(&old->overflows));
	atomic_store(&st->unavailable, atomic_load(&old->unavailable));
}

void balance_candidates(const struct balance_state *st, uint64_t now_ms,
			const struct balance_set *tried,
			struct balance_set *out, bool *panic)
{
	bool any = false;

	memset(out, 0, sizeof(*out));
	*panic = false;
	for (unsigned int i = 0; i < st->n_targets; i++) {
		if (tried && balance_set_has(tried, i))
			continue;
		if (balance_target_ok(st, i, now_ms)) {
			balance_set_add(out, i);
			any = true;
		}
	}
	if (any)
		return;
	for (unsigned int i = 0; i < st->n_targets; i++)
		if (!tried || !balance_set_has(tried, i))
			balance_set_add(out, i);
	*panic = st->n_targets > 0;
}

static unsigned int ejected_now(const struct balance_state *st, uint64_t now_ms)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < st->n_targets; i++)
		if (atomic_load_explicit(&st->t[i].eject_until_ms,
					 memory_order_relaxed) > now_ms)
			n++;
	return n;
}

bool balance_report(struct balance_state *st, const struct config_outlier *o,
		    unsigned int i, bool connect_failed, int status,
		    uint64_t now_ms, uint64_t wall_s)
{
	struct balance_target *t;
	_Atomic uint32_t *ctr;
	uint32_t limit, n, shift, max_out;
	uint64_t until;
	int reason;

	if (!o->enabled || i >= st->n_targets)
		return false;
	t = &st->t[i];
	if (!connect_failed && status > 0 && status < 500) {
		/* success: only write shared lines when there is something
		 * to reset */
		if (atomic_load_explicit(&t->fail_5xx, memory_order_relaxed))
			atomic_store_explicit(&t->fail_5xx, 0,
					      memory_order_relaxed);
		if (atomic_load_explicit(&t->fail_connect,
					 memory_order_relaxed))
			atomic_store_explicit(&t->fail_connect, 0,
					      memory_order_relaxed);
		until = atomic_load_explicit(&t->eject_until_ms,
					     memory_order_relaxed);
		/* healthy for a whole base period since it came back: the
		 * back-off starts over */
		if (atomic_load_explicit(&t->ejections, memory_order_relaxed) &&
		    until && now_ms > until + o->base_ejection_ms)
			atomic_store(&t->ejections, 0);
		return false;
	}
	if (connect_failed) {
		ctr = &t->fail_connect;
		limit = o->consecutive_connect_failures;
		reason = BALANCE_R_CONNECT;
	} else {
		ctr = &t->fail_5xx;
		limit = o->consecutive_5xx;
		reason = BALANCE_R_5XX;
	}
	n = atomic_fetch_add(ctr, 1) + 1;
	if (!limit || n < limit)
		return false;
	if (atomic_load(&t->eject_until_ms) > now_ms)
		return false; /* already out */
	max_out = (unsigned int)((uint64_t)st->n_targets *
				 o->max_ejected_percent / 100);
	if (max_out < 1)
		max_out = 1;
	if (ejected_now(st, now_ms) >= max_out)
		return false;
	shift = atomic_fetch_add(&t->ejections, 1);
	if (shift > BALANCE_MAX_EJECT_SHIFT)
		shift = BALANCE_MAX_EJECT_SHIFT;
	atomic_store(ctr, 0);
	atomic_store(&t->eject_until_ms,
		     now_ms + ((uint64_t)o->base_ejection_ms << shift));
	atomic_store(&t->out_reason, (uint32_t)reason);
	atomic_store(&t->last_change_s, wall_s);
	atomic_fetch_add(&t->ejections_total, 1);
	return true;
}

int balance_health_result(struct balance_state *st,
			  const struct config_health *h, unsigned int i,
			  bool pass, uint64_t wall_s)
{
	struct balance_target *t = &st->t[i];
	bool up = atomic_load(&t->hc_up);
	uint32_t n;

	if (pass == up) {
		atomic_store(&t->hc_streak, 0);
		return 0;
	}
	n = atomic_fetch_add(&t->hc_streak, 1) + 1;
	if (n < (pass ? h->healthy : h->unhealthy))
		return 0;
	atomic_store(&t->hc_streak, 0);
	atomic_store(&t->hc_up, pass ? 1 : 0);
	atomic_store(&t->out_reason, pass ? BALANCE_R_NONE : BALANCE_R_HEALTH);
	atomic_store(&t->last_change_s, wall_s);
	atomic_fetch_add(&t->health_changes, 1);
	return pass ? 1 : -1;
}

bool balance_retry_allowed(const struct balance_state *st,
			   uint32_t budget_percent)
{
	uint64_t active =
		atomic_load_explicit(&st->active, memory_order_relaxed);
	uint64_t allowed = active * budget_percent / 100;

	if (allowed < BALANCE_MIN_RETRIES)
		allowed = BALANCE_MIN_RETRIES;
	return atomic_load_explicit(&st->retrying, memory_order_relaxed) <
	       allowed;
}
