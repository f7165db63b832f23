/* SPDX-License-Identifier: MIT */
/*
 * The metrics registry's insides, shared by its two halves: metrics.c
 * (dimensions, families, the lock-free update path) and metrics_render.c
 * (merging the shards, reading back, the Prometheus text). Nothing outside
 * daemon/obs/metrics*.c includes this; the interface is metrics.h.
 */
#ifndef SLUICE_METRICS_INT_H
#define SLUICE_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "obs/metrics.h"

#define KEY_USED (1ull << 63)
#define MAX_KEY_BITS 62
#define MAX_COLLECTORS 16
#define MAX_SERIES_LIMIT (1u << 20)

struct mdim {
	char label[64];
	bool dynamic;
	uint32_t cap;			/* values it may hold */
	unsigned int bits;		/* bits of an index in a series key */
	_Atomic uint32_t n;		/* values published */
	char (*vals)[METRICS_VALUE_MAX];
	_Atomic uint32_t *hidx;		/* value index + 1; 0: empty */
	uint32_t hmask;
	int fallback;			/* index or -1 */
};

struct mfam {
	enum metrics_type type;
	enum metrics_merge merge;
	char *name;
	char *help;
	int dims[METRICS_MAX_LABELS];
	unsigned int shift[METRICS_MAX_LABELS];
	size_t n_dims;
	double bounds[METRICS_MAX_BUCKETS];
	size_t n_bounds;
	uint32_t max_series;
	bool milli;			/* gauge kept in thousandths */
	uint32_t cap;			/* table slots: power of two */
	uint32_t words;			/* value words per series */
};

/* One family's series in one shard. keys[i] != 0: slot i is a published
 * series whose values are vals[i * words ...]. */
struct mtable {
	_Atomic uint64_t *keys;
	_Atomic uint64_t *vals;
	uint32_t used;			/* writer only */
};

struct metrics_shard {
	struct metrics *owner;
	struct mtable tabs[METRICS_MAX_FAMILIES];
	_Atomic uint64_t dropped;
} __attribute__((aligned(64)));

struct metrics {
	unsigned int n_shards;		/* workers + the control shard (last) */
	struct metrics_shard *shards;
	struct mdim dims[METRICS_MAX_DIMS];
	int n_dims;
	struct mfam fams[METRICS_MAX_FAMILIES];
	int n_fams;
	pthread_mutex_t intern_lock;
	struct {
		metrics_collect_fn fn;
		void *arg;
	} coll[MAX_COLLECTORS];
	int n_coll;
};

static inline uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* The series key of labels in family f, or 0 when an index is out of range. */
uint64_t metrics__series_key(const struct metrics *m, const struct mfam *f,
			     const uint32_t *labels);

#endif
