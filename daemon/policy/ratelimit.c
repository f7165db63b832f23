// SPDX-License-Identifier: MIT
/* GCRA rate limiter over a striped, set-associative table. See ratelimit.h. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/ratelimit.h"

#define NSEC 1000000000ull

typedef unsigned __int128 u128;

struct rl_entry {
	u128 tat[RL_MAX_WINDOWS];	/* theoretical arrival, ns x limit */
	uint8_t key_len;		/* 0: free */
	char key[RL_MAX_KEY];
};

struct rl_bucket {
	pthread_mutex_t lock;
	struct rl_entry e[RL_WAYS];
};

struct rl_table {
	atomic_uint refs;
	struct rl_limit limit;
	uint8_t seed[16];
	size_t n_buckets;		/* power of two */
	struct rl_bucket *buckets;
};

/* ---- SipHash-2-4 (Aumasson & Bernstein), written from the paper -------- */

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/* Little-endian 64-bit word at p: one load on a little-endian CPU (the
 * byte loop was not merged into one by the compiler). */
static inline uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

#define SIPROUND                                                        \
	do {                                                            \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                  \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                  \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
	} while (0)

/* SipHash-2-4 with a 64-bit (out[1] NULL) or 128-bit result: the 128-bit
 * variant differs in the 0xee/0xdd constants and a second finalization. */
static void siphash(const uint8_t key[16], const void *data, size_t len,
		    uint64_t *out0, uint64_t *out1)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ull ^ k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0;
	uint64_t v3 = 0x7465646279746573ull ^ k1;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, end = len - len % 8;

	if (out1)
		v1 ^= 0xee;
	for (i = 0; i < end; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	switch (len & 7) {		/* the last 0-7 bytes */
	case 7:
		b |= (uint64_t)in[end + 6] << 48;
		/* fall through */
	case 6:
		b |= (uint64_t)in[end + 5] << 40;
		/* fall through */
	case 5:
		b |= (uint64_t)in[end + 4] << 32;
		/* fall through */
	case 4:
		b |= (uint64_t)in[end + 3] << 24;
		/* fall through */
	case 3:
		b |= (uint64_t)in[end + 2] << 16;
		/* fall through */
	case 2:
		b |= (uint64_t)in[end + 1] << 8;
		/* fall through */
	case 1:
		b |= (uint64_t)in[end];
		break;
	default:
		break;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= out1 ? 0xee : 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	*out0 = v0 ^ v1 ^ v2 ^ v3;
	if (!out1)
		return;
	v1 ^= 0xdd;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	*out1 = v0 ^ v1 ^ v2 ^ v3;
}

uint64_t rl_siphash(const uint8_t key[16], const void *data, size_t len)
{
	uint64_t h;

	siphash(key, data, len, &h, NULL);
	return h;
}

void rl_siphash128(const uint8_t key[16], const void *data, size_t len,
		   uint64_t out[2])
{
	siphash(key, data, len, &out[0], &out[1]);
}

size_t rl_policy_header(const struct rl_limit *l, char *buf, size_t len)
{
	size_t at = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	for (unsigned int i = 0; i < l->n_windows; i++) {
		int n = snprintf(buf + (at < len ? at : len - 1),
				 at < len ? len - at : 1, "%s%llu;w=%llu",
				 i ? ", " : "",
				 (unsigned long long)l->windows[i].limit,
				 (unsigned long long)((l->windows[i].period_ns +
						       NSEC - 1) / NSEC));

		if (n > 0)
			at += (size_t)n;
	}
	return at < len ? at : len - 1;
}

/* ---- table ------------------------------------------------------------- */

struct rl_table *rl_table_new(const struct rl_limit *l, const uint8_t seed[16])
{
	struct rl_table *t;
	size_t want, nb = 1;

	if (!l->n_windows || l->n_windows > RL_MAX_WINDOWS) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned int i = 0; i < l->n_windows; i++)
		if (!l->windows[i].limit || !l->windows[i].period_ns ||
		    !l->windows[i].burst) {
			errno = EINVAL;
			return NULL;
		}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->limit = *l;
	memcpy(t->seed, seed, 16);
	if (l->key == RL_KEY_CONSUMER || l->key == RL_KEY_IP) {
		want = l->max_keys ? l->max_keys : RL_DEFAULT_MAX_KEYS;
		if (want > (1u << 24))
			want = 1u << 24;
		while (nb * RL_WAYS < want)
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

struct rl_table *rl_table_ref(struct rl_table *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void rl_table_free(struct rl_table *t)
{
	if (!t || atomic_fetch_sub_explicit(&t->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < t->n_buckets; i++)
		pthread_mutex_destroy(&t->buckets[i].lock);
	free(t->buckets);
	free(t);
}

const struct rl_limit *rl_table_limit(const struct rl_table *t)
{
	return &t->limit;
}

static size_t eff_keys(const struct rl_limit *l)
{
	return l->max_keys ? l->max_keys : RL_DEFAULT_MAX_KEYS;
}

bool rl_limit_same(const struct rl_limit *a, const struct rl_limit *b)
{
	if (a->key != b->key || a->n_windows != b->n_windows ||
	    a->n_windows > RL_MAX_WINDOWS)
		return false;
	/* capacity only sizes per-client tables */
	if ((a->key == RL_KEY_CONSUMER || a->key == RL_KEY_IP) &&
	    eff_keys(a) != eff_keys(b))
		return false;
	for (unsigned int i = 0; i < a->n_windows; i++)
		if (a->windows[i].limit != b->windows[i].limit ||
		    a->windows[i].period_ns != b->windows[i].period_ns ||
		    a->windows[i].burst != b->windows[i].burst)
			return false;
	return true;
}

/* Nanoseconds until entry e holds no history at all (0: idle). */
static u128 idle_in(const struct rl_table *t, const struct rl_entry *e,
		    uint64_t now)
{
	u128 worst = 0;

	for (unsigned int i = 0; i < t->limit.n_windows; i++) {
		u128 L = t->limit.windows[i].limit, nowL = (u128)now * L;

		if (e->tat[i] > nowL) {
			u128 d = (e->tat[i] - nowL + L - 1) / L;

			if (d > worst)
				worst = d;
		}
	}
	return worst;
}

static struct rl_entry *find_or_claim(struct rl_table *t, struct rl_bucket *b,
				      const void *key, size_t keylen,
				      uint64_t now)
{
	struct rl_entry *victim = NULL;
	u128 best = 0;

	for (int i = 0; i < RL_WAYS; i++) {
		struct rl_entry *e = &b->e[i];

		if (e->key_len == keylen && !memcmp(e->key, key, keylen))
			return e;
	}
	for (int i = 0; i < RL_WAYS; i++) {
		struct rl_entry *e = &b->e[i];
		u128 idle = e->key_len ? idle_in(t, e, now) : 0;

		if (!victim || idle < best) {
			victim = e;
			best = idle;
			if (!idle)
				break;
		}
	}
	memset(victim, 0, sizeof(*victim));
	victim->key_len = (uint8_t)keylen;
	memcpy(victim->key, key, keylen);
	return victim;
}

/* a / b, in 64 bits when a fits (a 128-bit division is a libgcc call,
 * several per request) */
static inline u128 div_u(u128 a, uint64_t b)
{
	return a >> 64 ? a / b : (uint64_t)a / b;
}

static uint64_t ceil_s(u128 ns)
{
	u128 s = div_u(ns + NSEC - 1, NSEC);

	return s > UINT64_MAX ? UINT64_MAX : (uint64_t)s;
}

int rl_take(struct rl_table *t, const void *key, size_t keylen,
	    uint64_t now_ns, struct rl_result *res)
{
	const struct rl_limit *l = &t->limit;
	u128 base[RL_MAX_WINDOWS];
	bool ok = true;
	struct rl_bucket *b;
	struct rl_entry *e;
	unsigned int w, pick = 0;

	if (keylen > RL_MAX_KEY || (keylen == 0 && l->key != RL_KEY_GLOBAL &&
				    l->key != RL_KEY_ROUTE))
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	b = &t->buckets[rl_siphash(t->seed, key, keylen) & (t->n_buckets - 1)];
	pthread_mutex_lock(&b->lock);
	e = find_or_claim(t, b, key, keylen, now_ns);

	/* decide: every window must have room */
	for (w = 0; w < l->n_windows; w++) {
		const struct rl_window *win = &l->windows[w];
		u128 nowL = (u128)now_ns * win->limit;
		u128 tol = (u128)(win->burst - 1) * win->period_ns;

		base[w] = e->tat[w] > nowL ? e->tat[w] : nowL;
		if (base[w] - nowL > tol) {
			u128 wait = (base[w] - nowL - tol + win->limit - 1) /
				    win->limit;
			uint64_t ra = ceil_s(wait);

			if (ok || ra > res->retry_after_s) {
				res->retry_after_s = ra ? ra : 1;
				pick = w;
			}
			ok = false;
		}
	}
	if (ok) {
		uint64_t least = UINT64_MAX;

		for (w = 0; w < l->n_windows; w++) {
			const struct rl_window *win = &l->windows[w];
			u128 nowL = (u128)now_ns * win->limit;
			u128 full = (u128)win->burst * win->period_ns;
			u128 used;
			uint64_t rem;

			e->tat[w] = base[w] + win->period_ns;
			used = e->tat[w] - nowL;
			rem = used >= full ? 0 :
			      (uint64_t)div_u(full - used, win->period_ns);
			if (rem < least) {
				least = rem;
				pick = w;
			}
		}
		res->remaining = least;
	}
	{
		const struct rl_window *win = &l->windows[pick];
		u128 nowL = (u128)now_ns * win->limit;
		u128 tat = e->tat[pick] > nowL ? e->tat[pick] : nowL;

		res->limit = win->burst;
		res->policy = l;
		res->period_s = ceil_s(win->period_ns);
		res->reset_s = ceil_s(div_u(tat - nowL + win->limit - 1,
					    win->limit));
	}
	res->allowed = ok;
	pthread_mutex_unlock(&b->lock);
	return 0;
}
