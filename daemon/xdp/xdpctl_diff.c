// SPDX-License-Identifier: MIT
/*
 * Sorting and diffing the records of a map sync (part of the xdpctl module,
 * used by xdpctl_sync.c): a record is a map key followed by its value, and
 * records are ordered by their key bytes (memcmp order). Pure memory work,
 * no system calls: a sync of 10^6 host entries sorts the wanted and the
 * present records once each (a radix sort, byte by byte)
 * and finds what to add, rewrite, keep and delete in one merge pass, where
 * a comparison sort and a binary search per key took most of a second.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xdp/xdpctl_int.h"

/* Copy one record; the common sizes are constants the compiler inlines
 * (a host or trie record of 8+8 or 20+8 bytes). */
static inline void rec_copy(unsigned char *dst, const unsigned char *src,
			    size_t rec_size)
{
	switch (rec_size) {
	case 16:
		memcpy(dst, src, 16);
		break;
	case 28:
		memcpy(dst, src, 28);
		break;
	default:
		memcpy(dst, src, rec_size);
	}
}

/* Runs shorter than this are sorted by insertion. */
#define SORT_SMALL 24

/* Stable insertion sort of n records on key bytes [b, key_size); tmp
 * holds one record. */
static void insertion_sort(unsigned char *a, size_t n, size_t rec_size,
			   size_t key_size, size_t b, unsigned char *tmp)
{
	for (size_t i = 1; i < n; i++) {
		unsigned char *r = a + i * rec_size;
		size_t j = i;

		if (memcmp(r - rec_size + b, r + b, key_size - b) <= 0)
			continue;
		rec_copy(tmp, r, rec_size);
		while (j > 0 && memcmp(a + (j - 1) * rec_size + b, tmp + b,
				       key_size - b) > 0)
			j--;
		memmove(a + (j + 1) * rec_size, a + j * rec_size,
			(i - j) * rec_size);
		rec_copy(a + j * rec_size, tmp, rec_size);
	}
}

/*
 * Most significant byte first: the n records at a (all equal on the key
 * bytes before b) are split by a stable counting pass on the first byte
 * from b on that is not the same in every one of them (through t, scratch
 * of n records, and back), then each run is sorted the same way on the
 * bytes after it; short runs by insertion. Records with equal keys keep
 * their order. Random keys need two passes (10^6 records: 256 runs of
 * ~4000, which fit in the cache, then runs of ~16), where a pass per key
 * byte over the whole set (16 for random /128s) misses the cache at
 * nearly every record; shared bytes (the prefixlen of host keys, a common
 * address prefix) are skipped. The depth is at most key_size.
 */
static void msd_sort(unsigned char *a, unsigned char *t, size_t n,
		     size_t rec_size, size_t key_size, size_t b)
{
	size_t cnt[256], off = 0;

	if (n < SORT_SMALL) {
		insertion_sort(a, n, rec_size, key_size, b, t);
		return;
	}
	for (; b < key_size; b++) {
		memset(cnt, 0, sizeof(cnt));
		for (size_t i = 0; i < n; i++)
			cnt[a[i * rec_size + b]]++;
		if (cnt[a[b]] != n)
			break;
	}
	if (b == key_size)
		return; /* every key the same: the order stays */
	for (size_t v = 0; v < 256; v++) {
		size_t c = cnt[v];

		cnt[v] = off;
		off += c;
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *r = a + i * rec_size;

		rec_copy(t + cnt[r[b]]++ * rec_size, r, rec_size);
	}
	memcpy(a, t, n * rec_size);
	/* cnt[v] is now the end of run v */
	for (size_t v = 0, from = 0; v < 256; from = cnt[v++]) {
		if (cnt[v] - from > 1)
			msd_sort(a + from * rec_size, t + from * rec_size,
				 cnt[v] - from, rec_size, key_size, b + 1);
	}
}

/*
 * Least significant byte first, for keys with few bytes that vary (IPv4
 * host keys: the four address bytes): one stable counting pass per
 * varying byte over the whole set, from the last to the first, with the
 * histograms (cnt, key_size rows) counted already. Fewer record moves
 * than msd_sort() when there are at most LSD_MAX_PASSES such bytes. The
 * result ends in *src or *tmp (the pointers swapped after an odd number
 * of passes).
 */
#define LSD_MAX_PASSES 4
static void lsd_sort(unsigned char **src, unsigned char **tmp, size_t n,
		     size_t rec_size, size_t key_size, size_t (*cnt)[256])
{
	unsigned char *s = *src, *d = *tmp;

	for (size_t b = key_size; b-- > 0;) {
		size_t off = 0;
		unsigned char *t;

		if (cnt[b][s[b]] == n)
			continue; /* one value: the order stays */
		for (size_t v = 0; v < 256; v++) {
			size_t c = cnt[b][v];

			cnt[b][v] = off;
			off += c;
		}
		for (size_t i = 0; i < n; i++) {
			const unsigned char *r = s + i * rec_size;

			rec_copy(d + cnt[b][r[b]]++ * rec_size, r, rec_size);
		}
		t = s;
		s = d;
		d = t;
	}
	*src = s;
	*tmp = d;
}

int xdpctl__rec_sort(unsigned char **recs, size_t n, size_t rec_size,
		     size_t key_size)
{
	unsigned char *src = *recs, *t;
	size_t(*cnt)[256];
	size_t varying = 0;

	if (n < 2)
		return 0;
	t = malloc(n * rec_size);
	cnt = calloc(key_size, sizeof(*cnt));
	if (!t || !cnt) {
		free(t);
		free(cnt);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t b = 0; b < key_size; b++)
			cnt[b][src[i * rec_size + b]]++;
	for (size_t b = 0; b < key_size; b++)
		varying += cnt[b][src[b]] != n;
	if (varying <= LSD_MAX_PASSES) {
		lsd_sort(&src, &t, n, rec_size, key_size, cnt);
		if (src != *recs) {
			/* the sorted records are in the scratch buffer */
			t = *recs;
			*recs = src;
		}
	} else {
		msd_sort(src, t, n, rec_size, key_size, 0);
	}
	free(cnt);
	free(t);
	return 0;
}

size_t xdpctl__rec_dedup(unsigned char *recs, size_t n, size_t rec_size,
			 size_t key_size)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char *prev = recs + out * rec_size;
		unsigned char *cur = recs + i * rec_size;

		if (memcmp(prev, cur, key_size) == 0)
			continue;
		out++;
		if (out != i)
			rec_copy(recs + out * rec_size, cur, rec_size);
	}
	return out + 1;
}

/*
 * One pass over both sorted lists. The stale keys are compacted to the
 * front of live as they are met: the write position never passes the read
 * position (a key is no longer than its record), and the records behind
 * the read position are still intact when compared.
 */
int xdpctl__rec_diff(const unsigned char *want, size_t n_want,
		     unsigned char *live, size_t n_live, size_t key_size,
		     size_t val_size, struct xdpctl_diff *d)
{
	size_t rec_size = key_size + val_size, i = 0, j = 0;

	memset(d, 0, sizeof(*d));
	d->idx = malloc((n_want ? n_want : 1) * sizeof(*d->idx));
	if (!d->idx)
		return -ENOMEM;
	d->stale = live;
	while (i < n_want || j < n_live) {
		const unsigned char *w = want + i * rec_size;
		const unsigned char *l = live + j * rec_size;
		int c = i == n_want   ? 1
			: j == n_live ? -1
				      : memcmp(w, l, key_size);

		if (c < 0) { /* wanted, missing */
			d->idx[d->n_add++] = i++;
		} else if (c > 0) { /* present, not wanted */
			memmove(live + d->n_stale++ * key_size, l, key_size);
			j++;
		} else if (memcmp(w + key_size, l + key_size, val_size)) {
			/* present with another value: rewrites fill idx from
			 * its end */
			d->n_upd++;
			d->idx[n_want - d->n_upd] = i++;
			j++;
		} else {
			d->n_kept++;
			i++;
			j++;
		}
	}
	return 0;
}
