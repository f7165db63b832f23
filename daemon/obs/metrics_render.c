// SPDX-License-Identifier: MIT
/*
 * Metrics registry, reading side: the shards merged into one value per
 * series, read back (metrics_read) or rendered in the Prometheus text
 * exposition format (metrics_render). See metrics.h.
 */
#include "obs/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "obs/metrics_int.h"

/* Slot of key in t (reader side). -1 when absent. */
static long slot_find(const struct mfam *f, const struct mtable *t,
		      uint64_t key)
{
	uint32_t mask = f->cap - 1, i = (uint32_t)hash64(key) & mask;

	for (uint32_t probes = 0; probes <= mask; probes++) {
		uint64_t k = atomic_load_explicit(&t->keys[i], memory_order_acquire);

		if (k == key)
			return i;
		if (!k)
			return -1;
		i = (i + 1) & mask;
	}
	return -1;
}

/* ---- merge ----------------------------------------------------------------- */

/* Merged values of one series: v[0] for counters and gauges; bucket counts
 * (non-cumulative) then the sum's bits for histograms. Returns false when no
 * shard has the series. */
static bool merge_series(const struct metrics *m, int fam, uint64_t key,
			 uint64_t *v)
{
	const struct mfam *f = &m->fams[fam];
	bool found = false;
	double sum = 0;

	memset(v, 0, sizeof(uint64_t) * f->words);
	for (unsigned int s = 0; s < m->n_shards; s++) {
		const struct mtable *t = &m->shards[s].tabs[fam];
		long slot = slot_find(f, t, key);
		const _Atomic uint64_t *w;

		if (slot < 0)
			continue;
		w = &t->vals[(size_t)slot * f->words];
		if (f->type == METRICS_HISTOGRAM) {
			uint64_t bits;
			double d;

			for (size_t b = 0; b <= f->n_bounds; b++)
				v[b] += atomic_load_explicit(&w[b], memory_order_relaxed);
			bits = atomic_load_explicit(&w[f->n_bounds + 1],
						    memory_order_relaxed);
			memcpy(&d, &bits, sizeof(d));
			sum += d;
		} else {
			uint64_t x = atomic_load_explicit(&w[0], memory_order_relaxed);

			if (!found || f->merge == METRICS_MERGE_SUM)
				v[0] = found ? v[0] + x : x;
			else if (f->merge == METRICS_MERGE_MIN)
				v[0] = (int64_t)x < (int64_t)v[0] ? x : v[0];
			else
				v[0] = (int64_t)x > (int64_t)v[0] ? x : v[0];
		}
		found = true;
	}
	if (f->type == METRICS_HISTOGRAM)
		memcpy(&v[f->n_bounds + 1], &sum, sizeof(sum));
	return found;
}

int metrics_read(const struct metrics *m, int fam, const uint32_t *labels,
		 int64_t *out)
{
	uint64_t v[METRICS_MAX_BUCKETS + 2], key;
	const struct mfam *f;

	if (fam < 0 || fam >= m->n_fams)
		return -EINVAL;
	f = &m->fams[fam];
	if (f->n_dims && !labels)
		return -EINVAL;
	key = metrics__series_key(m, f, labels);
	if (!key)
		return -EINVAL;
	if (!merge_series(m, fam, key, v))
		return -ENOENT;
	if (f->type == METRICS_HISTOGRAM) {
		uint64_t n = 0;

		for (size_t b = 0; b <= f->n_bounds; b++)
			n += v[b];
		*out = (int64_t)n;
	} else {
		*out = (int64_t)v[0];
	}
	return 0;
}

/* ---- rendering ---------------------------------------------------------------- */

/* HELP text: backslash and newline escaped. Label values: also '"'. */
static void sb_escaped(struct sbuf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			sbuf_add(b, "\\\\", 2);
		else if (*s == '\n')
			sbuf_add(b, "\\n", 2);
		else if (quote && *s == '"')
			sbuf_add(b, "\\\"", 2);
		else
			sbuf_add(b, s, 1);
	}
}

size_t metrics_format_double(double v, char *buf, size_t len)
{
	int n = 0;

	if (isnan(v))
		n = snprintf(buf, len, "NaN");
	else if (isinf(v))
		n = snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else
		/* the shortest form that reads back exactly; exponents only for
		 * very small or very large magnitudes ("10", not "1e+01") */
		for (int prec = 1; prec <= 17; prec++) {
			bool plain = fabs(v) >= 1e-4 && fabs(v) < 1e15;

			n = snprintf(buf, len, "%.*g", prec, v);
			if (strtod(buf, NULL) == v &&
			    (!plain || !strchr(buf, 'e') || prec == 17))
				break;
		}
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* {a="x",b="y"[,le="..."]} or nothing */
static void sb_labels(struct sbuf *b, const struct metrics *m,
		      const struct mfam *f, uint64_t key, const char *le)
{
	if (!f->n_dims && !le)
		return;
	sbuf_add(b, "{", 1);
	for (size_t i = 0; i < f->n_dims; i++) {
		const struct mdim *d = &m->dims[f->dims[i]];
		uint32_t idx = (uint32_t)(key >> f->shift[i]) &
			       (uint32_t)((1ull << d->bits) - 1);
		const char *v = metrics_dim_value(m, f->dims[i], idx);

		if (i)
			sbuf_add(b, ",", 1);
		sbuf_adds(b, d->label);
		sbuf_add(b, "=\"", 2);
		sb_escaped(b, v ? v : "", true);
		sbuf_add(b, "\"", 1);
	}
	if (le) {
		if (f->n_dims)
			sbuf_add(b, ",", 1);
		sbuf_add(b, "le=\"", 4);
		sbuf_adds(b, le);
		sbuf_add(b, "\"", 1);
	}
	sbuf_add(b, "}", 1);
}

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Distinct keys of family fam over all shards, sorted. */
static uint64_t *family_keys(const struct metrics *m, int fam, size_t *n)
{
	const struct mfam *f = &m->fams[fam];
	size_t cnt = 0, max = (size_t)f->max_series * m->n_shards, j = 0;
	uint64_t *keys;

	*n = 0;
	keys = malloc((max ? max : 1) * sizeof(*keys));
	if (!keys)
		return NULL;
	for (unsigned int s = 0; s < m->n_shards; s++) {
		const struct mtable *t = &m->shards[s].tabs[fam];

		for (uint32_t i = 0; i < f->cap && cnt < max; i++) {
			uint64_t k = atomic_load_explicit(&t->keys[i],
							  memory_order_acquire);
			if (k)
				keys[cnt++] = k;
		}
	}
	qsort(keys, cnt, sizeof(*keys), key_cmp);
	for (size_t i = 0; i < cnt; i++)
		if (!j || keys[j - 1] != keys[i])
			keys[j++] = keys[i];
	*n = j;
	return keys;
}

static const char *const type_names[] = {
	[METRICS_COUNTER] = "counter",
	[METRICS_GAUGE] = "gauge",
	[METRICS_HISTOGRAM] = "histogram",
};

static void render_family(struct sbuf *b, const struct metrics *m, int fam)
{
	const struct mfam *f = &m->fams[fam];
	uint64_t v[METRICS_MAX_BUCKETS + 2];
	size_t n;
	uint64_t *keys;

	sbuf_adds(b, "# HELP ");
	sbuf_adds(b, f->name);
	sbuf_add(b, " ", 1);
	sb_escaped(b, f->help, false);
	sbuf_adds(b, "\n# TYPE ");
	sbuf_adds(b, f->name);
	sbuf_add(b, " ", 1);
	sbuf_adds(b, type_names[f->type]);
	sbuf_add(b, "\n", 1);
	keys = family_keys(m, fam, &n);
	if (!keys) {
		b->overflow = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!merge_series(m, fam, keys[i], v))
			continue;
		if (f->type == METRICS_HISTOGRAM) {
			char le[40], num[40];
			uint64_t cum = 0;
			double sum;

			for (size_t k = 0; k <= f->n_bounds; k++) {
				cum += v[k];
				if (k < f->n_bounds)
					metrics_format_double(f->bounds[k], le,
							      sizeof(le));
				else
					strcpy(le, "+Inf");
				sbuf_adds(b, f->name);
				sbuf_adds(b, "_bucket");
				sb_labels(b, m, f, keys[i], le);
				sbuf_addf(b, " %" PRIu64 "\n", cum);
			}
			memcpy(&sum, &v[f->n_bounds + 1], sizeof(sum));
			metrics_format_double(sum, num, sizeof(num));
			sbuf_adds(b, f->name);
			sbuf_adds(b, "_sum");
			sb_labels(b, m, f, keys[i], NULL);
			sbuf_add(b, " ", 1);
			sbuf_adds(b, num);
			sbuf_add(b, "\n", 1);
			sbuf_adds(b, f->name);
			sbuf_adds(b, "_count");
			sb_labels(b, m, f, keys[i], NULL);
			sbuf_addf(b, " %" PRIu64 "\n", cum);
		} else {
			sbuf_adds(b, f->name);
			sb_labels(b, m, f, keys[i], NULL);
			if (f->type == METRICS_COUNTER) {
				sbuf_addf(b, " %" PRIu64 "\n", v[0]);
			} else if (f->milli) {
				char num[40];

				metrics_format_double((double)(int64_t)v[0] / 1000,
						      num, sizeof(num));
				sbuf_add(b, " ", 1);
				sbuf_adds(b, num);
				sbuf_add(b, "\n", 1);
			} else {
				sbuf_addf(b, " %" PRId64 "\n", (int64_t)v[0]);
			}
		}
	}
	free(keys);
}

int metrics_render(struct metrics *m, char **out, size_t *len)
{
	struct sbuf b;

	for (int i = 0; i < m->n_coll; i++)
		m->coll[i].fn(m, m->coll[i].arg);
	sbuf_init_grow(&b, 4096);
	for (int f = 0; f < m->n_fams && !b.overflow; f++)
		render_family(&b, m, f);
	*out = sbuf_take(&b, len);
	return *out ? 0 : -ENOMEM;
}
