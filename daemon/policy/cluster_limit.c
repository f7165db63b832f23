// SPDX-License-Identifier: MIT
/* Cluster-wide fixed-window limits, the local side. See cluster_limit.h. */
#include "policy/cluster_limit.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRL_WAYS 8

struct crl_entry {
	uint64_t win;		/* window of count/allowance */
	uint64_t count;		/* admitted here in win */
	uint64_t allowance;	/* may admit while count < allowance */
	uint8_t key_len;	/* 0 and !used: free */
	bool used;
	char key[RL_MAX_KEY];
};

struct crl_bucket {
	pthread_mutex_t lock;
	struct crl_entry e[CRL_WAYS];
};

struct crl_table {
	atomic_uint refs;
	struct rl_limit limit;
	char id[96];
	uint8_t seed[16];
	size_t n_buckets;
	struct crl_bucket *buckets;
	/* set by the cluster thread, read by workers */
	atomic_uint nodes, rank, state;
	atomic_uint_fast64_t sync_ns;
};

uint64_t crl_share(uint64_t n, unsigned int nodes, unsigned int rank)
{
	if (!nodes)
		nodes = 1;
	return n / nodes + (rank < n % nodes ? 1 : 0);
}

struct crl_table *crl_table_new(const struct rl_limit *l, const char *id,
				const uint8_t seed[16])
{
	struct crl_table *t;
	size_t want, nb = 1;

	if (l->n_windows != 1 || !l->windows[0].limit ||
	    !l->windows[0].period_ns) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->limit = *l;
	snprintf(t->id, sizeof(t->id), "%s", id);
	memcpy(t->seed, seed, 16);
	atomic_init(&t->nodes, 1);
	atomic_init(&t->rank, 0);
	atomic_init(&t->state, CRL_DOWN_LOCAL);
	atomic_init(&t->sync_ns, 50000000ull);
	if (l->key == RL_KEY_CONSUMER || l->key == RL_KEY_IP) {
		want = l->max_keys ? l->max_keys : RL_DEFAULT_MAX_KEYS;
		if (want > (1u << 24))
			want = 1u << 24;
		while (nb * CRL_WAYS < want)
			nb <<= 1;
	}
	t->n_buckets = nb;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < nb; i++)
		pthread_mutex_init(&t->buckets[i].lock, NULL);
	return t;
}

struct crl_table *crl_table_ref(struct crl_table *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void crl_table_free(struct crl_table *t)
{
	if (!t || atomic_fetch_sub_explicit(&t->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < t->n_buckets; i++)
		pthread_mutex_destroy(&t->buckets[i].lock);
	free(t->buckets);
	free(t);
}

const char *crl_table_id(const struct crl_table *t)
{
	return t->id;
}

const struct rl_limit *crl_table_limit(const struct crl_table *t)
{
	return &t->limit;
}

void crl_set_env(struct crl_table *t, unsigned int nodes, unsigned int rank,
		 enum crl_state st, uint64_t sync_ns)
{
	atomic_store_explicit(&t->nodes, nodes ? nodes : 1,
			      memory_order_relaxed);
	atomic_store_explicit(&t->rank, rank, memory_order_relaxed);
	atomic_store_explicit(&t->sync_ns, sync_ns, memory_order_relaxed);
	atomic_store_explicit(&t->state, (unsigned int)st,
			      memory_order_release);
}

static struct crl_bucket *bucket_of(struct crl_table *t, const void *key,
				    size_t klen)
{
	return &t->buckets[rl_siphash(t->seed, key, klen) &
			   (t->n_buckets - 1)];
}

/* The entry of key, or a claimed one (a free one, else the one idle the
 * longest: an older window). *fresh: not seen here in this window or the
 * one before. Bucket locked. */
static struct crl_entry *find_or_claim(struct crl_bucket *b, const void *key,
				       size_t klen, uint64_t win, bool *fresh)
{
	struct crl_entry *victim = NULL;

	for (int i = 0; i < CRL_WAYS; i++) {
		struct crl_entry *e = &b->e[i];

		if (e->used && e->key_len == klen &&
		    !memcmp(e->key, key, klen)) {
			*fresh = !(e->win == win ||
				   (e->win + 1 == win && e->count));
			return e;
		}
	}
	for (int i = 0; i < CRL_WAYS; i++) {
		struct crl_entry *e = &b->e[i];

		if (!e->used) {
			victim = e;
			break;
		}
		if (e->win != win && (!victim || e->win < victim->win))
			victim = e;
	}
	if (!victim) {	/* every way is live in this window: the least used */
		victim = &b->e[0];
		for (int i = 1; i < CRL_WAYS; i++)
			if (b->e[i].count < victim->count)
				victim = &b->e[i];
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->key_len = (uint8_t)klen;
	memcpy(victim->key, key, klen);
	victim->win = UINT64_MAX;
	*fresh = true;
	return victim;
}

int crl_take(struct crl_table *t, const void *key, size_t keylen,
	     uint64_t wall_ns, struct rl_result *res)
{
	const struct rl_window *w = &t->limit.windows[0];
	uint64_t win = wall_ns / w->period_ns;
	uint64_t into = wall_ns % w->period_ns;
	enum crl_state st = (enum crl_state)atomic_load_explicit(
		&t->state, memory_order_acquire);
	unsigned int nodes = atomic_load_explicit(&t->nodes,
						  memory_order_relaxed);
	unsigned int rank = atomic_load_explicit(&t->rank,
						 memory_order_relaxed);
	uint64_t share = crl_share(w->limit, nodes, rank), cap;
	struct crl_bucket *b;
	struct crl_entry *e;
	bool fresh, ok;

	if (keylen > RL_MAX_KEY || (keylen == 0 &&
				    t->limit.key != RL_KEY_GLOBAL &&
				    t->limit.key != RL_KEY_ROUTE))
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	b = bucket_of(t, key, keylen);
	pthread_mutex_lock(&b->lock);
	e = find_or_claim(b, key, keylen, win, &fresh);
	if (e->win != win) {
		/* a new window: the share, unless the key is new here and
		 * the others may have spent the window already */
		e->win = win;
		e->count = 0;
		e->allowance = fresh && into >= atomic_load_explicit(
				       &t->sync_ns, memory_order_relaxed) &&
				       share ? 1 : share;
	}
	switch (st) {
	case CRL_UP:
		cap = e->allowance;
		break;
	case CRL_DOWN_OPEN:
		cap = UINT64_MAX;
		break;
	case CRL_DOWN_CLOSED:
		cap = 0;
		break;
	default:
		cap = share;
		break;
	}
	ok = e->count < cap;
	if (ok)
		e->count++;
	res->allowed = ok;
	res->limit = w->limit;
	res->remaining = cap == UINT64_MAX ? w->limit :
			 cap > e->count ? cap - e->count : 0;
	if (res->remaining > w->limit)
		res->remaining = w->limit;
	res->period_s = (w->period_ns + 999999999ull) / 1000000000ull;
	res->reset_s = (w->period_ns - into + 999999999ull) / 1000000000ull;
	res->retry_after_s = ok ? 0 : (res->reset_s ? res->reset_s : 1);
	res->policy = &t->limit;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

size_t crl_collect(struct crl_table *t, uint64_t wall_ns, struct crl_sync *out,
		   size_t max, size_t *cursor)
{
	uint64_t win = wall_ns / t->limit.windows[0].period_ns;
	size_t n = 0, i = *cursor;

	for (; i < t->n_buckets && n < max; i++) {
		struct crl_bucket *b = &t->buckets[i];

		pthread_mutex_lock(&b->lock);
		for (int j = 0; j < CRL_WAYS; j++) {
			const struct crl_entry *e = &b->e[j];

			if (!e->used || e->win != win || !e->count)
				continue;
			if (n == max)
				break;
			out[n].win = e->win;
			out[n].count = e->count;
			out[n].klen = e->key_len;
			memcpy(out[n].key, e->key, e->key_len);
			n++;
		}
		pthread_mutex_unlock(&b->lock);
	}
	*cursor = i < t->n_buckets ? i : 0;
	return n;
}

void crl_apply(struct crl_table *t, const struct crl_sync *s,
	       uint64_t allowance)
{
	struct crl_bucket *b = bucket_of(t, s->key, s->klen);

	pthread_mutex_lock(&b->lock);
	for (int j = 0; j < CRL_WAYS; j++) {
		struct crl_entry *e = &b->e[j];

		if (!e->used || e->key_len != s->klen || e->win != s->win ||
		    memcmp(e->key, s->key, s->klen))
			continue;
		e->allowance = allowance > s->count ? allowance : s->count;
		break;
	}
	pthread_mutex_unlock(&b->lock);
}
