// SPDX-License-Identifier: MIT
/* Top talkers in bounded memory (talkers.h). */
#include "policy/talkers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/ratelimit.h"

/* ---- one table ---------------------------------------------------------- */

static uint32_t src_hash(const struct talkers *t, uint8_t family,
			 const uint8_t addr[16])
{
	uint8_t k[17];

	k[0] = family;
	memcpy(k + 1, addr, 16);
	return (uint32_t)rl_siphash(t->seed, k, sizeof(k));
}

int talkers_init(struct talkers *t, uint32_t cap, const uint8_t seed[16])
{
	uint32_t slots = 1;

	memset(t, 0, sizeof(*t));
	if (!cap || cap > TALKERS_MAX_CAP)
		return -EINVAL;
	while (slots < 2 * cap)
		slots <<= 1;
	t->e = calloc(cap, sizeof(*t->e));
	t->heap = calloc(cap, sizeof(*t->heap));
	t->slot = calloc(slots, sizeof(*t->slot));
	if (!t->e || !t->heap || !t->slot) {
		talkers_free(t);
		return -ENOMEM;
	}
	t->cap = cap;
	t->mask = slots - 1;
	memcpy(t->seed, seed, sizeof(t->seed));
	return 0;
}

void talkers_free(struct talkers *t)
{
	free(t->e);
	free(t->heap);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

void talkers_clear(struct talkers *t)
{
	if (!t->cap)
		return;
	/* entries past n are never read: only the index needs zeroing */
	memset(t->slot, 0, ((size_t)t->mask + 1) * sizeof(*t->slot));
	t->n = 0;
	t->samples = 0;
	t->evicted = 0;
}

static void heap_swap(struct talkers *t, uint32_t a, uint32_t b)
{
	uint32_t x = t->heap[a];

	t->heap[a] = t->heap[b];
	t->heap[b] = x;
	t->e[t->heap[a]].heap = a;
	t->e[t->heap[b]].heap = b;
}

static void heap_up(struct talkers *t, uint32_t i)
{
	while (i) {
		uint32_t p = (i - 1) / 2;

		if (t->e[t->heap[p]].rank <= t->e[t->heap[i]].rank)
			break;
		heap_swap(t, i, p);
		i = p;
	}
}

/* The entry at i grew: move it down below smaller ones. */
static void heap_down(struct talkers *t, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < t->n && t->e[t->heap[l]].rank < t->e[t->heap[m]].rank)
			m = l;
		if (r < t->n && t->e[t->heap[r]].rank < t->e[t->heap[m]].rank)
			m = r;
		if (m == i)
			return;
		heap_swap(t, i, m);
		i = m;
	}
}

/* The index slot holding source (family, addr), or the free slot where it
 * would go. */
static uint32_t slot_of(const struct talkers *t, uint32_t h, uint8_t family,
			const uint8_t addr[16])
{
	uint32_t i = h & t->mask;

	while (t->slot[i]) {
		const struct talkers_entry *e = &t->e[t->slot[i] - 1];

		if (e->hash == h && e->family == family &&
		    !memcmp(e->addr, addr, 16))
			return i;
		i = (i + 1) & t->mask;
	}
	return i;
}

/* Empty slot i and shift later entries of its probe run back, so that
 * lookups never stop early at the hole (deletion without tombstones). */
static void slot_delete(struct talkers *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		t->slot[i] = 0;
		for (;;) {
			uint32_t k;

			j = (j + 1) & t->mask;
			if (!t->slot[j])
				return;
			k = t->e[t->slot[j] - 1].hash & t->mask;
			/* the entry at j may stay when its home k lies
			 * cyclically in (i, j] */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t->slot[i] = t->slot[j];
		i = j;
	}
}

const struct talkers_entry *talkers_find(const struct talkers *t,
					 uint8_t family,
					 const uint8_t addr[16])
{
	uint32_t i;

	if (!t->cap)
		return NULL;
	i = slot_of(t, src_hash(t, family, addr), family, addr);
	return t->slot[i] ? &t->e[t->slot[i] - 1] : NULL;
}

void talkers_add(struct talkers *t, uint8_t family, const uint8_t addr[16],
		 unsigned int reason, uint32_t weight, uint32_t bytes)
{
	uint32_t h, i, idx;
	struct talkers_entry *e;

	if (!t->cap || !family)
		return;
	h = src_hash(t, family, addr);
	i = slot_of(t, h, family, addr);
	if (t->slot[i]) {
		idx = t->slot[i] - 1;
		e = &t->e[idx];
	} else {
		uint64_t floor = 0;
		uint32_t pos;

		if (t->n < t->cap) {
			idx = t->n++;
			t->heap[idx] = idx;
			t->e[idx].heap = idx;
		} else {
			/* full: the smallest entry makes room (Space-Saving) */
			const struct talkers_entry *v;

			idx = t->heap[0];
			v = &t->e[idx];
			slot_delete(t, slot_of(t, v->hash, v->family, v->addr));
			floor = v->rank;
			t->evicted++;
			/* the deletion may have moved the free slot */
			i = slot_of(t, h, family, addr);
		}
		e = &t->e[idx];
		pos = e->heap;
		memset(e, 0, sizeof(*e));
		e->heap = pos;
		e->family = family;
		memcpy(e->addr, addr, 16);
		e->hash = h;
		e->rank = floor;
		e->inherited = floor;
		t->slot[i] = idx + 1;
	}
	e->rank++;
	e->samples++;
	e->est += weight;
	e->bytes += bytes;
	if (reason < SLUICE_R_MAX)
		e->by_reason[reason]++;
	t->samples++;
	heap_up(t, e->heap);	/* a new entry starts at the bottom */
	heap_down(t, e->heap);
}

/* ---- the window of seconds ----------------------------------------------- */

int talkers_window_init(struct talkers_window *w, uint32_t nb, uint32_t cap,
			const uint8_t seed[16])
{
	int err;

	memset(w, 0, sizeof(*w));
	if (nb < 2 || nb > TALKERS_MAX_BUCKETS)
		return -EINVAL;
	for (uint32_t i = 0; i < nb; i++) {
		err = talkers_init(&w->b[i], cap, seed);
		if (err) {
			talkers_window_free(w);
			return err;
		}
		w->sec[i] = UINT64_MAX;	/* holds no second yet */
	}
	w->nb = nb;
	return 0;
}

void talkers_window_free(struct talkers_window *w)
{
	for (uint32_t i = 0; i < TALKERS_MAX_BUCKETS; i++)
		talkers_free(&w->b[i]);
	w->nb = 0;
}

void talkers_window_add(struct talkers_window *w, uint64_t sec,
			uint8_t family, const uint8_t addr[16],
			unsigned int reason, uint32_t weight, uint32_t bytes)
{
	uint32_t i;

	if (!w->nb)
		return;
	i = (uint32_t)(sec % w->nb);
	if (w->sec[i] != sec) {
		if (w->sec[i] != UINT64_MAX && w->sec[i] > sec) {
			w->stale++;	/* its second's table is gone */
			return;
		}
		talkers_clear(&w->b[i]);
		w->sec[i] = sec;
	}
	talkers_add(&w->b[i], family, addr, reason, weight, bytes);
}

static int in_window(const struct talkers_window *w, uint32_t i,
		     uint64_t now_sec, unsigned int seconds)
{
	uint64_t from = now_sec >= seconds ? now_sec - seconds : 0;

	return w->sec[i] != UINT64_MAX && w->sec[i] >= from &&
	       w->sec[i] <= now_sec + 1;
}

size_t talkers_window_copy(const struct talkers_window *w, uint64_t now_sec,
			   unsigned int seconds, struct talkers_entry *out,
			   size_t max, uint64_t *samples)
{
	size_t n = 0;
	uint64_t s = 0;

	for (uint32_t i = 0; i < w->nb; i++) {
		const struct talkers *t = &w->b[i];
		size_t k;

		if (!in_window(w, i, now_sec, seconds))
			continue;
		k = t->n < max - n ? t->n : max - n;
		memcpy(out + n, t->e, k * sizeof(*out));
		n += k;
		s += t->samples;
	}
	if (samples)
		*samples = s;
	return n;
}

uint64_t talkers_window_evicted(const struct talkers_window *w,
				uint64_t now_sec, unsigned int seconds)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < w->nb; i++)
		if (in_window(w, i, now_sec, seconds))
			v += w->b[i].evicted;
	return v;
}

/* ---- merging ------------------------------------------------------------ */

static int by_source(const void *a, const void *b)
{
	const struct talkers_entry *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

static int heaviest(const void *a, const void *b)
{
	const struct talkers_entry *x = a, *y = b;

	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return by_source(a, b);
}

size_t talkers_merge(struct talkers_entry *e, size_t n)
{
	size_t o = 0;

	if (!n)
		return 0;
	qsort(e, n, sizeof(*e), by_source);
	for (size_t i = 1; i < n; i++) {
		struct talkers_entry *d = &e[o];

		if (by_source(d, &e[i])) {
			e[++o] = e[i];
			continue;
		}
		d->rank += e[i].rank;
		d->inherited += e[i].inherited;
		d->samples += e[i].samples;
		d->est += e[i].est;
		d->bytes += e[i].bytes;
		for (int r = 0; r < SLUICE_R_MAX; r++)
			d->by_reason[r] += e[i].by_reason[r];
	}
	n = o + 1;
	qsort(e, n, sizeof(*e), heaviest);
	return n;
}
