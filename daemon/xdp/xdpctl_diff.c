// SPDX-License-Identifier: MIT
/*
 * Sorting and diffing the records of a map sync (part of the xdpctl module,
 * used by xdpctl_sync.c): a record is a map key followed by its value, and
 * records are ordered by their key bytes (memcmp order). Pure memory work,
 * no system calls: a sync of 10^6 host entries sorts the wanted and the
 * present records once each (a radix sort, byte by byte, a few ms per pass)
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

/*
 * Least significant byte first: each pass is a stable counting sort on one
 * key byte, so after the last pass (byte 0) the records are in memcmp order
 * of their keys and records with equal keys keep their input order. One
 * counting pass first builds every byte's histogram; a byte that is the
 * same in every key (the prefixlen of host keys, a shared address prefix)
 * needs no pass.
 */
int xdpctl__rec_sort(unsigned char **recs, size_t n, size_t rec_size,
		     size_t key_size)
{
	unsigned char *src = *recs, *dst;
	size_t(*cnt)[256];

	if (n < 2)
		return 0;
	cnt = calloc(key_size, sizeof(*cnt));
	dst = malloc(n * rec_size);
	if (!cnt || !dst) {
		free(cnt);
		free(dst);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *r = src + i * rec_size;

		for (size_t b = 0; b < key_size; b++)
			cnt[b][r[b]]++;
	}
	for (size_t b = key_size; b-- > 0;) {
		size_t off = 0;
		unsigned char *t;

		if (cnt[b][src[b]] == n)
			continue; /* one value: the order stays */
		for (size_t v = 0; v < 256; v++) {
			size_t c = cnt[b][v];

			cnt[b][v] = off;
			off += c;
		}
		for (size_t i = 0; i < n; i++) {
			const unsigned char *r = src + i * rec_size;

			rec_copy(dst + cnt[b][r[b]]++ * rec_size, r, rec_size);
		}
		t = src;
		src = dst;
		dst = t;
	}
	free(cnt);
	free(dst);
	*recs = src;
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
