/* SPDX-License-Identifier: MIT */
/*
 * Metrics registry: counters, gauges and histograms with bounded label sets
 * declared up front, collected per worker without locks, merged and rendered
 * in the Prometheus text exposition format (version 0.0.4) at scrape time.
 *
 * Model
 *  - A *dimension* is a label name with a bounded set of values: fixed (a
 *    list given at creation, e.g. HTTP methods) or dynamic (values interned
 *    at run time, e.g. configured route names, up to a capacity). Either may
 *    name a fallback value ("OTHER", "other") that absorbs unknown values or
 *    the overflow of a full dynamic dimension, so cardinality stays bounded
 *    whatever the traffic does.
 *  - A *family* is a metric name, help text, type, 0..METRICS_MAX_LABELS
 *    dimensions and, for histograms, bucket upper bounds.
 *  - A *shard* holds the values written by exactly one thread: one per
 *    worker plus the control shard (written by the control thread, which
 *    also renders). A shard keeps, per family, an open-addressed table of
 *    the series it has touched; values are updated with relaxed atomic
 *    stores by their only writer and read with relaxed loads by the
 *    renderer. A series key is published with a release store after its
 *    value words are in place, so the renderer never sees a half-made
 *    series. No locks on the update path; the only lock guards the rare
 *    interning of a new dynamic label value.
 *  - Rendering merges the shards: counters and histograms are summed,
 *    gauges are summed (METRICS_MERGE_SUM, e.g. active connections counted
 *    up and down per worker) or reduced with min/max. A histogram's
 *    _count is the sum of its bucket counts read in the same pass, so it
 *    always equals the +Inf bucket.
 *
 * Families and dimensions are created before the shards are used (at
 * start-up, on the control thread); their ids are small integers handed out
 * in creation order. Pure module: no I/O, no globals.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS	4	/* dimensions per family */
#define METRICS_MAX_BUCKETS	32	/* finite histogram bounds */
#define METRICS_MAX_DIMS	64
#define METRICS_MAX_FAMILIES	256
#define METRICS_VALUE_MAX	128	/* bytes of one label value */
#define METRICS_DEFAULT_SERIES	1024	/* per family per shard */

enum metrics_type {
	METRICS_COUNTER = 0,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* How a gauge's per-shard values are combined at scrape time. */
enum metrics_merge {
	METRICS_MERGE_SUM = 0,
	METRICS_MERGE_MIN,
	METRICS_MERGE_MAX,
};

struct metrics;
struct metrics_shard;

struct metrics_family_def {
	enum metrics_type type;
	const char *name;		/* [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total */
	const char *help;
	const int *dims;		/* dimension ids, n_dims of them */
	size_t n_dims;
	const double *buckets;		/* histograms: strictly increasing, finite */
	size_t n_buckets;
	enum metrics_merge merge;	/* gauges only */
	uint32_t max_series;		/* per shard; 0: METRICS_DEFAULT_SERIES */
	bool milli;			/* gauges: set in thousandths of the unit
					 * the name says, scraped as a decimal */
};

/* A registry with n_worker_shards worker shards (index 0..n-1) and one
 * control shard. NULL + errno (EINVAL, ENOMEM). */
struct metrics *metrics_new(unsigned int n_worker_shards);
void metrics_free(struct metrics *m);

/*
 * Dimensions. Return the dimension id (>= 0) or -EINVAL with a message in
 * err (label name not [a-zA-Z_][a-zA-Z0-9_]*, reserved "__" prefix or "le",
 * empty or duplicate values, value too long, fallback not among the
 * values) or -ENOSPC (too many dimensions) or -ENOMEM.
 *
 * fixed: values[0..n) (copied); fallback NULL or one of them.
 * dynamic: up to cap values interned later; fallback NULL or a value that
 * is interned first (so it always exists) and used once the dimension is
 * full.
 */
int metrics_dim_fixed(struct metrics *m, const char *label,
		      const char *const *values, size_t n, const char *fallback,
		      char *err, size_t errlen);
int metrics_dim_dynamic(struct metrics *m, const char *label, uint32_t cap,
			const char *fallback, char *err, size_t errlen);

/*
 * Index of value[0..len) in a dimension, for the label arrays below.
 * metrics_dim_index: lock-free lookup; an unknown value maps to the fallback;
 * -ENOENT when there is none. metrics_dim_intern (dynamic dimensions): the
 * same, but an unknown value is added (under the registry's intern lock)
 * while there is room; a full dimension maps it to the fallback
 * (-ENOSPC without one). Values longer than METRICS_VALUE_MAX - 1 or
 * holding bytes below 0x20 are refused (-EINVAL) rather than truncated.
 */
int metrics_dim_index(const struct metrics *m, int dim, const char *value,
		      size_t len);
int metrics_dim_intern(struct metrics *m, int dim, const char *value,
		       size_t len);
/* Number of values a dimension holds now; its label name. */
uint32_t metrics_dim_count(const struct metrics *m, int dim);
const char *metrics_dim_value(const struct metrics *m, int dim, uint32_t idx);

/* A family; returns its id (>= 0) or -EINVAL with a message in err, -ENOSPC
 * (too many families) or -ENOMEM. Names must be unique. */
int metrics_family_add(struct metrics *m, const struct metrics_family_def *d,
		       char *err, size_t errlen);

struct metrics_shard *metrics_shard(struct metrics *m, unsigned int worker);
struct metrics_shard *metrics_control_shard(struct metrics *m);

/*
 * Updates, from the shard's own thread only. labels[] holds one index per
 * dimension of the family (NULL for a family without labels). Updates that
 * do not fit (the family's series table in this shard is full, an index out
 * of range, the wrong type) are not applied and are counted: see
 * metrics_dropped().
 */
void metrics_inc(struct metrics_shard *s, int fam, const uint32_t *labels,
		 uint64_t n);
void metrics_gauge_add(struct metrics_shard *s, int fam,
		       const uint32_t *labels, int64_t delta);
/* Set a gauge, or a counter mirrored from a monotonic source elsewhere (the
 * kernel's per-CPU counters): set it in one shard only. */
void metrics_set(struct metrics_shard *s, int fam, const uint32_t *labels,
		 int64_t v);
void metrics_observe(struct metrics_shard *s, int fam, const uint32_t *labels,
		     double v);

/*
 * Forget every series of family fam in shard s (values and labels), e.g.
 * a collector that re-derives a family at each scrape and must drop
 * series that no longer apply. The shard's writer only, and not while
 * another thread renders or reads (collectors run under the render).
 */
void metrics_clear(struct metrics_shard *s, int fam);

/* Updates dropped so far, over all shards. */
uint64_t metrics_dropped(const struct metrics *m);

/* Read back a merged value (tests, JSON status): counters and gauges return
 * the value, histograms their count. -ENOENT when no shard has the series. */
int metrics_read(const struct metrics *m, int fam, const uint32_t *labels,
		 int64_t *out);

/* Called at the start of every metrics_render(), on the rendering thread,
 * to refresh values from elsewhere (kernel counters, health states) into
 * the control shard. At most 16. 0, -ENOSPC. */
typedef void (*metrics_collect_fn)(struct metrics *m, void *arg);
int metrics_collector_add(struct metrics *m, metrics_collect_fn fn, void *arg);

/*
 * Run the collectors, then render every family (HELP, TYPE, then its series
 * in a stable order) into a malloc'd buffer *out of *len bytes (a NUL
 * follows, not counted; caller frees). Families without series are
 * rendered with HELP and TYPE only. 0 or -ENOMEM.
 */
int metrics_render(struct metrics *m, char **out, size_t *len);

/* Shortest text that reads back as exactly v ("0.005", "1", "+Inf", "NaN"),
 * as used for le labels and sums. Returns length; buf >= 32 bytes. */
size_t metrics_format_double(double v, char *buf, size_t len);

#endif
