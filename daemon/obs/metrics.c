// SPDX-License-Identifier: MIT
/*
 * Metrics registry, writing side: dimensions, families and the per-shard
 * lock-free series tables the workers update. Merging and the Prometheus
 * text are in metrics_render.c. See metrics.h.
 */
#include "obs/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/metrics_int.h"

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return hash64(h);
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t c = 1;

	while (c < n)
		c <<= 1;
	return c;
}

static unsigned int bits_for(uint32_t n)
{
	unsigned int b = 0;

	while (b < 32 && (1ull << b) < n)
		b++;
	return b ? b : 1;
}

/* ---- registry -------------------------------------------------------------- */

struct metrics *metrics_new(unsigned int n_worker_shards)
{
	struct metrics *m;

	if (n_worker_shards > 4096) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->n_shards = n_worker_shards + 1;
	m->shards = aligned_alloc(64, sizeof(*m->shards) * m->n_shards);
	if (!m->shards) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	memset(m->shards, 0, sizeof(*m->shards) * m->n_shards);
	for (unsigned int i = 0; i < m->n_shards; i++)
		m->shards[i].owner = m;
	pthread_mutex_init(&m->intern_lock, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (unsigned int s = 0; s < m->n_shards; s++) {
		for (int f = 0; f < m->n_fams; f++) {
			free(m->shards[s].tabs[f].keys);
			free(m->shards[s].tabs[f].vals);
		}
	}
	for (int d = 0; d < m->n_dims; d++) {
		free(m->dims[d].vals);
		free(m->dims[d].hidx);
	}
	for (int f = 0; f < m->n_fams; f++) {
		free(m->fams[f].name);
		free(m->fams[f].help);
	}
	pthread_mutex_destroy(&m->intern_lock);
	free(m->shards);
	free(m);
}

struct metrics_shard *metrics_shard(struct metrics *m, unsigned int worker)
{
	if (worker >= m->n_shards - 1)
		return NULL;
	return &m->shards[worker];
}

struct metrics_shard *metrics_control_shard(struct metrics *m)
{
	return &m->shards[m->n_shards - 1];
}

/* ---- dimensions ------------------------------------------------------------ */

static bool label_name_ok(const char *s)
{
	if (!s || !*s)
		return false;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (const char *c = s + 1; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

static bool value_ok(const char *v, size_t len)
{
	if (len == 0 || len >= METRICS_VALUE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	return true;
}

static int dim_lookup(const struct mdim *d, const char *v, size_t len)
{
	uint32_t i = (uint32_t)hash_str(v, len) & d->hmask;

	for (uint32_t probes = 0; probes <= d->hmask; probes++) {
		uint32_t x = atomic_load_explicit(&d->hidx[i], memory_order_acquire);
		const char *s;

		if (!x)
			return -ENOENT;
		s = d->vals[x - 1];
		if (strncmp(s, v, len) == 0 && s[len] == '\0')
			return (int)(x - 1);
		i = (i + 1) & d->hmask;
	}
	return -ENOENT;
}

/* Add v as value index n (caller holds the intern lock or owns d). */
static void dim_insert(struct mdim *d, const char *v, size_t len, uint32_t n)
{
	uint32_t i = (uint32_t)hash_str(v, len) & d->hmask;

	memcpy(d->vals[n], v, len);
	d->vals[n][len] = '\0';
	while (atomic_load_explicit(&d->hidx[i], memory_order_relaxed))
		i = (i + 1) & d->hmask;
	atomic_store_explicit(&d->hidx[i], n + 1, memory_order_release);
	atomic_store_explicit(&d->n, n + 1, memory_order_release);
}

static int dim_new(struct metrics *m, const char *label, uint32_t cap,
		   bool dynamic, char *err, size_t errlen)
{
	struct mdim *d;

	if (!label_name_ok(label))
		return fail(err, errlen, -EINVAL,
			    "invalid label name '%s' (use [a-zA-Z_][a-zA-Z0-9_]*)",
			    label ? label : "");
	if (strncmp(label, "__", 2) == 0 || strcmp(label, "le") == 0 ||
	    strlen(label) >= sizeof(d->label))
		return fail(err, errlen, -EINVAL,
			    "label name '%s' is reserved or too long", label);
	if (m->n_dims >= METRICS_MAX_DIMS)
		return fail(err, errlen, -ENOSPC, "too many label dimensions (max %d)",
			    METRICS_MAX_DIMS);
	if (cap == 0 || cap > MAX_SERIES_LIMIT)
		return fail(err, errlen, -EINVAL,
			    "label '%s': value count %u out of range 1..%u", label,
			    cap, MAX_SERIES_LIMIT);
	d = &m->dims[m->n_dims];
	memset(d, 0, sizeof(*d));
	strcpy(d->label, label);
	d->dynamic = dynamic;
	d->cap = cap;
	d->bits = bits_for(cap);
	d->fallback = -1;
	d->hmask = pow2_at_least((uint64_t)cap * 2) - 1;
	d->vals = calloc(cap, sizeof(*d->vals));
	d->hidx = calloc((size_t)d->hmask + 1, sizeof(*d->hidx));
	if (!d->vals || !d->hidx) {
		free(d->vals);
		free(d->hidx);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	return m->n_dims;	/* not yet counted: see callers */
}

static void dim_drop(struct mdim *d)
{
	free(d->vals);
	free(d->hidx);
	memset(d, 0, sizeof(*d));
}

int metrics_dim_fixed(struct metrics *m, const char *label,
		      const char *const *values, size_t n, const char *fallback,
		      char *err, size_t errlen)
{
	struct mdim *d;
	int id;

	if (n == 0 || !values)
		return fail(err, errlen, -EINVAL, "label '%s': no values",
			    label ? label : "");
	id = dim_new(m, label, n > MAX_SERIES_LIMIT ? 0 : (uint32_t)n, false,
		     err, errlen);
	if (id < 0)
		return id;
	d = &m->dims[id];
	for (size_t i = 0; i < n; i++) {
		size_t len = values[i] ? strlen(values[i]) : 0;

		if (!values[i] || !value_ok(values[i], len)) {
			dim_drop(d);
			return fail(err, errlen, -EINVAL,
				    "label '%s': value %zu is empty, too long or "
				    "holds control characters", label, i);
		}
		if (dim_lookup(d, values[i], len) >= 0) {
			dim_drop(d);
			return fail(err, errlen, -EINVAL,
				    "label '%s': duplicate value '%s'", label,
				    values[i]);
		}
		dim_insert(d, values[i], len, (uint32_t)i);
	}
	if (fallback) {
		d->fallback = dim_lookup(d, fallback, strlen(fallback));
		if (d->fallback < 0) {
			dim_drop(d);
			return fail(err, errlen, -EINVAL,
				    "label '%s': fallback '%s' is not one of the values",
				    label, fallback);
		}
	}
	m->n_dims++;
	return id;
}

int metrics_dim_dynamic(struct metrics *m, const char *label, uint32_t cap,
			const char *fallback, char *err, size_t errlen)
{
	struct mdim *d;
	int id = dim_new(m, label, cap, true, err, errlen);

	if (id < 0)
		return id;
	d = &m->dims[id];
	if (fallback) {
		size_t len = strlen(fallback);

		if (!value_ok(fallback, len)) {
			dim_drop(d);
			return fail(err, errlen, -EINVAL,
				    "label '%s': invalid fallback value", label);
		}
		dim_insert(d, fallback, len, 0);
		d->fallback = 0;
	}
	m->n_dims++;
	return id;
}

static const struct mdim *dim_get(const struct metrics *m, int dim)
{
	if (dim < 0 || dim >= m->n_dims)
		return NULL;
	return &m->dims[dim];
}

int metrics_dim_index(const struct metrics *m, int dim, const char *value,
		      size_t len)
{
	const struct mdim *d = dim_get(m, dim);
	int i;

	if (!d || !value || !value_ok(value, len))
		return -EINVAL;
	i = dim_lookup(d, value, len);
	if (i >= 0)
		return i;
	return d->fallback >= 0 ? d->fallback : -ENOENT;
}

int metrics_dim_intern(struct metrics *m, int dim, const char *value,
		       size_t len)
{
	struct mdim *d = (struct mdim *)dim_get(m, dim);
	uint32_t n;
	int i;

	if (!d || !value || !value_ok(value, len))
		return -EINVAL;
	i = dim_lookup(d, value, len);
	if (i >= 0)
		return i;
	if (!d->dynamic)
		return d->fallback >= 0 ? d->fallback : -ENOENT;
	if (atomic_load_explicit(&d->n, memory_order_acquire) >= d->cap)
		return d->fallback >= 0 ? d->fallback : -ENOSPC;
	pthread_mutex_lock(&m->intern_lock);
	i = dim_lookup(d, value, len);
	if (i < 0) {
		n = atomic_load_explicit(&d->n, memory_order_relaxed);
		if (n < d->cap) {
			dim_insert(d, value, len, n);
			i = (int)n;
		} else {
			i = d->fallback >= 0 ? d->fallback : -ENOSPC;
		}
	}
	pthread_mutex_unlock(&m->intern_lock);
	return i;
}

uint32_t metrics_dim_count(const struct metrics *m, int dim)
{
	const struct mdim *d = dim_get(m, dim);

	return d ? atomic_load_explicit(&d->n, memory_order_acquire) : 0;
}

const char *metrics_dim_value(const struct metrics *m, int dim, uint32_t idx)
{
	const struct mdim *d = dim_get(m, dim);

	if (!d || idx >= atomic_load_explicit(&d->n, memory_order_acquire))
		return NULL;
	return d->vals[idx];
}

/* ---- families ---------------------------------------------------------------- */

static bool metric_name_ok(const char *s)
{
	if (!s || !*s)
		return false;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
	      *s == ':'))
		return false;
	for (const char *c = s + 1; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == ':'))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

static int family_check(const struct metrics *m,
			const struct metrics_family_def *d, char *err,
			size_t errlen)
{
	const char *n = d->name;
	unsigned int bits = 0;

	if (!metric_name_ok(n))
		return fail(err, errlen, -EINVAL,
			    "invalid metric name '%s' (use [a-zA-Z_:][a-zA-Z0-9_:]*)",
			    n ? n : "");
	if (strlen(n) > 200)
		return fail(err, errlen, -EINVAL, "metric name '%s' too long", n);
	for (int i = 0; i < m->n_fams; i++)
		if (strcmp(m->fams[i].name, n) == 0)
			return fail(err, errlen, -EINVAL,
				    "duplicate metric name '%s'", n);
	if (!d->help || !*d->help)
		return fail(err, errlen, -EINVAL, "%s: help text required", n);
	switch (d->type) {
	case METRICS_COUNTER:
		if (!ends_with(n, "_total"))
			return fail(err, errlen, -EINVAL,
				    "%s: a counter's name must end in _total", n);
		break;
	case METRICS_GAUGE:
		if (ends_with(n, "_total"))
			return fail(err, errlen, -EINVAL,
				    "%s: only counters end in _total", n);
		if (d->merge > METRICS_MERGE_MAX)
			return fail(err, errlen, -EINVAL, "%s: invalid merge mode", n);
		break;
	case METRICS_HISTOGRAM:
		if (ends_with(n, "_total") || ends_with(n, "_bucket") ||
		    ends_with(n, "_sum") || ends_with(n, "_count"))
			return fail(err, errlen, -EINVAL,
				    "%s: a histogram's name must not end in "
				    "_total, _bucket, _sum or _count", n);
		if (d->n_buckets == 0 || d->n_buckets > METRICS_MAX_BUCKETS ||
		    !d->buckets)
			return fail(err, errlen, -EINVAL,
				    "%s: histogram needs 1..%d buckets", n,
				    METRICS_MAX_BUCKETS);
		for (size_t i = 0; i < d->n_buckets; i++) {
			if (!isfinite(d->buckets[i]))
				return fail(err, errlen, -EINVAL,
					    "%s: bucket %zu is not finite (+Inf is implicit)",
					    n, i);
			if (i && !(d->buckets[i] > d->buckets[i - 1]))
				return fail(err, errlen, -EINVAL,
					    "%s: buckets must be strictly increasing "
					    "(bucket %zu)", n, i);
		}
		break;
	default:
		return fail(err, errlen, -EINVAL, "%s: invalid metric type", n);
	}
	if (d->type != METRICS_HISTOGRAM && d->n_buckets)
		return fail(err, errlen, -EINVAL, "%s: buckets on a non-histogram", n);
	if (d->n_dims > METRICS_MAX_LABELS || (d->n_dims && !d->dims))
		return fail(err, errlen, -EINVAL, "%s: too many labels (max %d)", n,
			    METRICS_MAX_LABELS);
	for (size_t i = 0; i < d->n_dims; i++) {
		if (d->dims[i] < 0 || d->dims[i] >= m->n_dims)
			return fail(err, errlen, -EINVAL, "%s: unknown label dimension %d",
				    n, d->dims[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->dims[d->dims[i]].label,
				   m->dims[d->dims[j]].label) == 0)
				return fail(err, errlen, -EINVAL,
					    "%s: label '%s' used twice", n,
					    m->dims[d->dims[i]].label);
		bits += m->dims[d->dims[i]].bits;
	}
	if (bits > MAX_KEY_BITS)
		return fail(err, errlen, -EINVAL,
			    "%s: label dimensions too large together", n);
	if (d->max_series > MAX_SERIES_LIMIT)
		return fail(err, errlen, -EINVAL, "%s: max_series over %u", n,
			    MAX_SERIES_LIMIT);
	return 0;
}

int metrics_family_add(struct metrics *m, const struct metrics_family_def *d,
		       char *err, size_t errlen)
{
	struct mfam *f;
	unsigned int shift = 0;
	int ret, id;

	if (m->n_fams >= METRICS_MAX_FAMILIES)
		return fail(err, errlen, -ENOSPC, "too many metric families (max %d)",
			    METRICS_MAX_FAMILIES);
	ret = family_check(m, d, err, errlen);
	if (ret)
		return ret;
	id = m->n_fams;
	f = &m->fams[id];
	memset(f, 0, sizeof(*f));
	f->type = d->type;
	f->merge = d->type == METRICS_GAUGE ? d->merge : METRICS_MERGE_SUM;
	f->milli = d->type == METRICS_GAUGE && d->milli;
	f->n_dims = d->n_dims;
	for (size_t i = 0; i < d->n_dims; i++) {
		f->dims[i] = d->dims[i];
		f->shift[i] = shift;
		shift += m->dims[d->dims[i]].bits;
	}
	f->n_bounds = d->type == METRICS_HISTOGRAM ? d->n_buckets : 0;
	if (f->n_bounds)
		memcpy(f->bounds, d->buckets, f->n_bounds * sizeof(double));
	f->max_series = d->max_series ? d->max_series : METRICS_DEFAULT_SERIES;
	if (!d->n_dims)
		f->max_series = 1;
	f->cap = pow2_at_least((uint64_t)f->max_series * 2);
	/* counters, gauges: the value; histograms: n_bounds + 1 bucket counts
	 * (the last is +Inf) and the sum */
	f->words = f->type == METRICS_HISTOGRAM ? (uint32_t)f->n_bounds + 2 : 1;
	f->name = strdup(d->name);
	f->help = strdup(d->help);
	if (!f->name || !f->help)
		goto oom;
	for (unsigned int s = 0; s < m->n_shards; s++) {
		struct mtable *t = &m->shards[s].tabs[id];

		t->keys = calloc(f->cap, sizeof(*t->keys));
		t->vals = calloc((size_t)f->cap * f->words, sizeof(*t->vals));
		if (!t->keys || !t->vals)
			goto oom;
	}
	m->n_fams++;
	return id;
oom:
	for (unsigned int s = 0; s < m->n_shards; s++) {
		free(m->shards[s].tabs[id].keys);
		free(m->shards[s].tabs[id].vals);
		memset(&m->shards[s].tabs[id], 0, sizeof(struct mtable));
	}
	free(f->name);
	free(f->help);
	memset(f, 0, sizeof(*f));
	return fail(err, errlen, -ENOMEM, "out of memory");
}

/* ---- update path ------------------------------------------------------------ */

uint64_t metrics__series_key(const struct metrics *m, const struct mfam *f,
			     const uint32_t *labels)
{
	uint64_t key = KEY_USED;

	for (size_t i = 0; i < f->n_dims; i++) {
		const struct mdim *d = &m->dims[f->dims[i]];

		if (labels[i] >= d->cap)
			return 0;
		key |= (uint64_t)labels[i] << f->shift[i];
	}
	return key;
}

/*
 * Writer side: the slot for key, claiming a free one when the series is new
 * (*fresh set: the caller writes the values, then publish()es the key).
 * -1 when the table holds max_series series already.
 */
static long slot_claim(const struct mfam *f, struct mtable *t, uint64_t key,
		       bool *fresh)
{
	uint32_t mask = f->cap - 1, i = (uint32_t)hash64(key) & mask;

	*fresh = false;
	for (;;) {
		uint64_t k = atomic_load_explicit(&t->keys[i], memory_order_relaxed);

		if (k == key)
			return i;
		if (!k) {
			if (t->used >= f->max_series)
				return -1;
			t->used++;
			*fresh = true;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static void publish(struct mtable *t, long slot, uint64_t key)
{
	atomic_store_explicit(&t->keys[slot], key, memory_order_release);
}

static void dropped(struct metrics_shard *s)
{
	atomic_store_explicit(&s->dropped,
			      atomic_load_explicit(&s->dropped,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Common prologue: the family, its table in s and the slot. */
static _Atomic uint64_t *series_words(struct metrics_shard *s, int fam,
				      const uint32_t *labels,
				      unsigned int type_mask,
				      const struct mfam **fp, long *slot,
				      uint64_t *key, bool *fresh)
{
	struct metrics *m;
	const struct mfam *f;
	struct mtable *t;

	if (!s)
		return NULL;
	m = s->owner;
	if ( fam < 0 || fam >= m->n_fams)
		goto drop;
	f = &m->fams[fam];
	if (!(type_mask & (1u << f->type)) || (f->n_dims && !labels))
		goto drop;
	*key = metrics__series_key(m, f, labels);
	if (!*key)
		goto drop;
	t = &s->tabs[fam];
	*slot = slot_claim(f, t, *key, fresh);
	if (*slot < 0)
		goto drop;
	*fp = f;
	return &t->vals[(size_t)*slot * f->words];
drop:
	dropped(s);
	return NULL;
}

static void word_add(_Atomic uint64_t *w, uint64_t n)
{
	atomic_store_explicit(w, atomic_load_explicit(w, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

void metrics_inc(struct metrics_shard *s, int fam, const uint32_t *labels,
		 uint64_t n)
{
	const struct mfam *f;
	_Atomic uint64_t *w;
	uint64_t key;
	long slot;
	bool fresh;

	w = series_words(s, fam, labels, 1u << METRICS_COUNTER, &f, &slot, &key,
			 &fresh);
	if (!w)
		return;
	word_add(w, n);
	if (fresh)
		publish(&s->tabs[fam], slot, key);
}

void metrics_gauge_add(struct metrics_shard *s, int fam,
		       const uint32_t *labels, int64_t delta)
{
	const struct mfam *f;
	_Atomic uint64_t *w;
	uint64_t key;
	long slot;
	bool fresh;

	w = series_words(s, fam, labels, 1u << METRICS_GAUGE, &f, &slot, &key,
			 &fresh);
	if (!w)
		return;
	word_add(w, (uint64_t)delta);
	if (fresh)
		publish(&s->tabs[fam], slot, key);
}

void metrics_set(struct metrics_shard *s, int fam, const uint32_t *labels,
		 int64_t v)
{
	const struct mfam *f;
	_Atomic uint64_t *w;
	uint64_t key;
	long slot;
	bool fresh;

	w = series_words(s, fam, labels,
			 (1u << METRICS_GAUGE) | (1u << METRICS_COUNTER), &f,
			 &slot, &key, &fresh);
	if (!w)
		return;
	if (f->type == METRICS_COUNTER && v < 0) {
		/* slot may be claimed: keep it for the next valid set */
		if (fresh)
			publish(&s->tabs[fam], slot, key);
		dropped(s);
		return;
	}
	atomic_store_explicit(w, (uint64_t)v, memory_order_relaxed);
	if (fresh)
		publish(&s->tabs[fam], slot, key);
}

void metrics_observe(struct metrics_shard *s, int fam, const uint32_t *labels,
		     double v)
{
	const struct mfam *f;
	_Atomic uint64_t *w;
	uint64_t key, bits;
	long slot;
	bool fresh;
	size_t b;
	double sum;

	if (isnan(v)) {
		dropped(s);
		return;
	}
	w = series_words(s, fam, labels, 1u << METRICS_HISTOGRAM, &f, &slot,
			 &key, &fresh);
	if (!w)
		return;
	for (b = 0; b < f->n_bounds; b++)
		if (v <= f->bounds[b])
			break;
	word_add(&w[b], 1);
	bits = atomic_load_explicit(&w[f->n_bounds + 1], memory_order_relaxed);
	memcpy(&sum, &bits, sizeof(sum));
	sum += v;
	memcpy(&bits, &sum, sizeof(bits));
	atomic_store_explicit(&w[f->n_bounds + 1], bits, memory_order_relaxed);
	if (fresh)
		publish(&s->tabs[fam], slot, key);
}

void metrics_clear(struct metrics_shard *s, int fam)
{
	const struct mfam *f;
	struct mtable *t;

	if (!s || fam < 0 || fam >= s->owner->n_fams)
		return;
	f = &s->owner->fams[fam];
	t = &s->tabs[fam];
	for (uint32_t i = 0; i < f->cap; i++)
		atomic_store_explicit(&t->keys[i], 0, memory_order_relaxed);
	for (size_t i = 0; i < (size_t)f->cap * f->words; i++)
		atomic_store_explicit(&t->vals[i], 0, memory_order_relaxed);
	t->used = 0;
}

uint64_t metrics_dropped(const struct metrics *m)
{
	uint64_t n = 0;

	for (unsigned int s = 0; s < m->n_shards; s++)
		n += atomic_load_explicit(&m->shards[s].dropped,
					  memory_order_relaxed);
	return n;
}

int metrics_collector_add(struct metrics *m, metrics_collect_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	if (m->n_coll >= MAX_COLLECTORS)
		return -ENOSPC;
	m->coll[m->n_coll].fn = fn;
	m->coll[m->n_coll].arg = arg;
	m->n_coll++;
	return 0;
}
