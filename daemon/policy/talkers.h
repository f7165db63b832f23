/* SPDX-License-Identifier: MIT */
/*
 * Top talkers in bounded memory: per-source counts of sampled XDP drops,
 * kept by the daemon's sampler (control/topsample.c) for GET /top.
 *
 * A struct talkers is one fixed-capacity table (allocated once, never
 * grown). When it is full, a new source takes the place of the entry with
 * the smallest count and inherits that count as its rank (the Space-Saving
 * algorithm, Metwally et al. 2005): a flood of distinct spoofed sources
 * churns the bottom of the table but cannot push out a source that was
 * sampled more than samples/capacity times. The inherited part is kept
 * apart, so the samples reported for a source are the ones really counted
 * (a lower bound; its rank an upper bound). A min-heap finds the smallest
 * entry in O(log n); the index is open addressing with a seeded hash, so
 * sources cannot be picked to collide.
 *
 * A struct talkers_window is a ring of such tables, one per second of
 * CLOCK_MONOTONIC (the clock of the events' timestamps): an event lands in
 * the table of its second, a table is cleared when its slot comes round to
 * a new second, and a reader copies the tables of the last N seconds and
 * merges them (talkers_merge()). Memory: buckets x capacity entries.
 *
 * Pure: no I/O, no locks (the caller serializes), no clock (seconds are
 * arguments).
 */
#ifndef SLUICE_TALKERS_H
#define SLUICE_TALKERS_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/abi.h>

#define TALKERS_MAX_CAP 32768u	/* entries of one table, at most */

struct talkers_entry {
	uint8_t family;			/* AF_INET or AF_INET6; 0: unused */
	uint8_t addr[16];		/* IPv4 in addr[0..3], the rest 0 */
	uint32_t hash;			/* of family and addr, with the seed */
	uint32_t heap;			/* position in the heap */
	uint64_t rank;			/* samples + inherited: the heap key */
	uint64_t inherited;		/* rank taken from an evicted entry */
	uint64_t samples;		/* sampled drops counted for it */
	uint64_t est;			/* drops they stand for (weights) */
	uint64_t bytes;			/* sampled bytes */
	uint32_t by_reason[SLUICE_R_MAX];	/* samples per drop reason */
};

struct talkers {
	struct talkers_entry *e;	/* cap entries; [0, n) in use */
	uint32_t *heap;			/* entry indices, min-heap on rank */
	uint32_t *slot;			/* 2 x cap: entry index + 1, 0 free */
	uint32_t cap, n, mask;
	uint8_t seed[16];
	uint64_t samples;		/* every sample added */
	uint64_t evicted;		/* entries given to another source */
};

/* cap: 1..TALKERS_MAX_CAP entries; seed: 16 random bytes. 0 or -EINVAL,
 * -ENOMEM. */
int talkers_init(struct talkers *t, uint32_t cap, const uint8_t seed[16]);
void talkers_free(struct talkers *t);
void talkers_clear(struct talkers *t);

/* One sample of a drop from family/addr (16 bytes, IPv4 in the first 4)
 * for reason (>= SLUICE_R_MAX: counted, no reason), standing for weight
 * drops, of bytes bytes. */
void talkers_add(struct talkers *t, uint8_t family, const uint8_t addr[16],
		 unsigned int reason, uint32_t weight, uint32_t bytes);

/* The entry of a source, or NULL. */
const struct talkers_entry *talkers_find(const struct talkers *t,
					 uint8_t family,
					 const uint8_t addr[16]);

#define TALKERS_MAX_BUCKETS 64u

struct talkers_window {
	struct talkers b[TALKERS_MAX_BUCKETS];
	uint64_t sec[TALKERS_MAX_BUCKETS];	/* the second each holds */
	uint32_t nb;
	uint64_t stale;			/* too old for the ring: dropped */
};

/* nb buckets (2..TALKERS_MAX_BUCKETS) of cap entries each. 0 or -errno. */
int talkers_window_init(struct talkers_window *w, uint32_t nb, uint32_t cap,
			const uint8_t seed[16]);
void talkers_window_free(struct talkers_window *w);

/* A sample at second sec (CLOCK_MONOTONIC seconds of its timestamp). */
void talkers_window_add(struct talkers_window *w, uint64_t sec,
			uint8_t family, const uint8_t addr[16],
			unsigned int reason, uint32_t weight, uint32_t bytes);

/* Copy the entries of the seconds [now_sec - seconds, now_sec] (seconds
 * complete ones and the current one, which needs seconds < nb) into out
 * (room for max; (seconds + 1) x cap always suffices); the count copied.
 * *samples (may be NULL) receives the samples of those seconds. */
size_t talkers_window_copy(const struct talkers_window *w, uint64_t now_sec,
			   unsigned int seconds, struct talkers_entry *out,
			   size_t max, uint64_t *samples);
/* Entries evicted in those seconds (sources the tables lost). */
uint64_t talkers_window_evicted(const struct talkers_window *w,
				uint64_t now_sec, unsigned int seconds);

/* Merge the entries of one source (summing their counts), then sort the
 * sources heaviest first (samples, then family and address). The count
 * left in e. */
size_t talkers_merge(struct talkers_entry *e, size_t n);

#endif
