// SPDX-License-Identifier: MIT
/* Unit tests for daemon/obs/metrics.c (registry, merge, renderer) and
 * daemon/obs/metrics_catalog.c (the Sluice series). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sluice/abi.h>

#include "obs/metrics.h"
#include "obs/metrics_catalog.h"

static char err[256];

static char *render(struct metrics *m)
{
	char *out, *s;
	size_t len;

	assert_int_equal(metrics_render(m, &out, &len), 0);
	assert_int_equal(out[len], '\0');	/* a NUL follows, not counted */
	assert_int_equal(strlen(out), len);
	s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, out, len);
	s[len] = '\0';
	free(out);
	return s;
}

/* The value of the sample line that starts with `series ` in text, or
 * -1 when absent. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p;) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static int simple_dims(struct metrics *m, int *route, int *method)
{
	static const char *const methods[] = { "GET", "POST", "OTHER" };

	*route = metrics_dim_dynamic(m, "route", 4, "other", err, sizeof(err));
	*method = metrics_dim_fixed(m, "method", methods, 3, "OTHER", err,
				    sizeof(err));
	return *route >= 0 && *method >= 0 ? 0 : -1;
}

/* ---- dimensions ----------------------------------------------------------- */

static void test_dim_errors(void **state)
{
	struct metrics *m = metrics_new(1);
	static const char *const dup[] = { "a", "b", "a" };
	static const char *const ok[] = { "a", "b" };
	static const char *const ctl[] = { "a", "b\n" };
	static const char *const empty[] = { "" };

	(void)state;
	assert_non_null(m);
	assert_int_equal(metrics_dim_fixed(m, "9x", ok, 2, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "invalid label name '9x'"));
	assert_int_equal(metrics_dim_fixed(m, "a-b", ok, 2, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(metrics_dim_fixed(m, "__x", ok, 2, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "reserved"));
	assert_int_equal(metrics_dim_fixed(m, "le", ok, 2, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(metrics_dim_fixed(m, "x", dup, 3, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "duplicate value 'a'"));
	assert_int_equal(metrics_dim_fixed(m, "x", ctl, 2, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "control characters"));
	assert_int_equal(metrics_dim_fixed(m, "x", empty, 1, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(metrics_dim_fixed(m, "x", ok, 0, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "no values"));
	assert_int_equal(metrics_dim_fixed(m, "x", ok, 2, "c", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "fallback 'c' is not one of the values"));
	assert_int_equal(metrics_dim_dynamic(m, "x", 0, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "out of range"));
	/* failures left nothing behind: the first good one gets id 0 */
	assert_int_equal(metrics_dim_fixed(m, "x", ok, 2, "b", err, sizeof(err)), 0);
	assert_int_equal(metrics_dim_dynamic(m, "y", 2, NULL, err, sizeof(err)), 1);
	metrics_free(m);
}

static void test_dim_lookup_and_intern(void **state)
{
	struct metrics *m = metrics_new(1);
	static const char *const ok[] = { "GET", "POST", "OTHER" };
	int f, d;
	char longv[METRICS_VALUE_MAX + 1];

	(void)state;
	f = metrics_dim_fixed(m, "method", ok, 3, "OTHER", err, sizeof(err));
	d = metrics_dim_dynamic(m, "route", 3, "other", err, sizeof(err));
	assert_true(f >= 0 && d >= 0);
	assert_int_equal(metrics_dim_index(m, f, "POST", 4), 1);
	assert_int_equal(metrics_dim_index(m, f, "POSTX", 5), 2);	/* OTHER */
	assert_int_equal(metrics_dim_index(m, f, "POSTX", 4), 1);	/* len */
	assert_int_equal(metrics_dim_intern(m, f, "BREW", 4), 2);
	assert_int_equal(metrics_dim_count(m, f), 3);
	/* dynamic: fallback first, then values in order; full -> fallback */
	assert_int_equal(metrics_dim_count(m, d), 1);
	assert_string_equal(metrics_dim_value(m, d, 0), "other");
	assert_int_equal(metrics_dim_intern(m, d, "api", 3), 1);
	assert_int_equal(metrics_dim_intern(m, d, "web", 3), 2);
	assert_int_equal(metrics_dim_intern(m, d, "api", 3), 1);
	assert_int_equal(metrics_dim_intern(m, d, "img", 3), 0);
	assert_int_equal(metrics_dim_count(m, d), 3);
	assert_null(metrics_dim_value(m, d, 3));
	assert_int_equal(metrics_dim_index(m, d, "web", 3), 2);
	/* invalid values are refused, not truncated */
	memset(longv, 'a', sizeof(longv));
	assert_int_equal(metrics_dim_intern(m, d, longv, METRICS_VALUE_MAX), -EINVAL);
	assert_int_equal(metrics_dim_intern(m, d, "a\tb", 3), -EINVAL);
	assert_int_equal(metrics_dim_intern(m, d, "", 0), -EINVAL);
	assert_int_equal(metrics_dim_intern(m, 99, "x", 1), -EINVAL);
	metrics_free(m);
}

/* ---- families ----------------------------------------------------------------- */

static void test_family_errors(void **state)
{
	struct metrics *m = metrics_new(2);
	int route, method, dims[2], twice[2];
	static const double b_ok[] = { 0.1, 1 };
	static const double b_dec[] = { 1, 0.5 };
	static const double b_eq[] = { 1, 1 };
	double b_inf[] = { 1, INFINITY };
	struct metrics_family_def d = { 0 };

	(void)state;
	assert_int_equal(simple_dims(m, &route, &method), 0);
	dims[0] = route;
	dims[1] = method;
	twice[0] = twice[1] = route;

	d = (struct metrics_family_def){ .type = METRICS_COUNTER, .name = "x_requests", .help = "h" };
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "must end in _total"));
	d = (struct metrics_family_def){ .type = METRICS_GAUGE, .name = "x_total", .help = "h" };
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "only counters end in _total"));
	d = (struct metrics_family_def){ .type = METRICS_COUNTER, .name = "x-y_total", .help = "h" };
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid metric name"));
	d = (struct metrics_family_def){ .type = METRICS_COUNTER, .name = "1x_total", .help = "h" };
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	d = (struct metrics_family_def){ .type = METRICS_COUNTER, .name = "x_total", .help = "" };
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "help text required"));
	d = (struct metrics_family_def){ .type = METRICS_HISTOGRAM, .name = "x_seconds", .help = "h" };
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs 1..32 buckets"));
	d.buckets = b_dec;
	d.n_buckets = 2;
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "strictly increasing (bucket 1)"));
	d.buckets = b_eq;
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	d.buckets = b_inf;
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not finite"));
	d.name = "x_seconds_count";
	d.buckets = b_ok;
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "must not end in"));
	d = (struct metrics_family_def){ .type = METRICS_COUNTER, .name = "x_total", .help = "h" };
	d.buckets = b_ok;
	d.n_buckets = 2;
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "buckets on a non-histogram"));
	d = (struct metrics_family_def){ .type = METRICS_COUNTER, .name = "x_total", .help = "h", .dims = twice, .n_dims = 2 };
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "label 'route' used twice"));
	d.dims = (int[]){ 42 };
	d.n_dims = 1;
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown label dimension 42"));
	d.dims = (int[]){ route, method, route, method, route };
	d.n_dims = 5;
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many labels"));
	d = (struct metrics_family_def){ .type = METRICS_COUNTER, .name = "x_total", .help = "h", .dims = dims, .n_dims = 2 };
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), 0);
	assert_int_equal(metrics_family_add(m, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "duplicate metric name 'x_total'"));
	metrics_free(m);
}

/* ---- updates, merge and rendering ------------------------------------------- */

static void test_counter_merge_and_text(void **state)
{
	struct metrics *m = metrics_new(2);
	int route, method, c, g;
	uint32_t api, web;
	char *t;
	int64_t v;

	(void)state;
	assert_int_equal(simple_dims(m, &route, &method), 0);
	c = metrics_family_add(m, &(struct metrics_family_def){ .type = METRICS_COUNTER, .name = "t_requests_total", .help = "Requests.\nSecond \\ line.", .dims = (int[]){ route, method }, .n_dims = 2 }, err, sizeof(err));
	g = metrics_family_add(m, &(struct metrics_family_def){ .type = METRICS_GAUGE, .name = "t_up", .help = "Up." }, err, sizeof(err));
	assert_true(c >= 0 && g >= 0);
	api = (uint32_t)metrics_dim_intern(m, route, "api", 3);
	web = (uint32_t)metrics_dim_intern(m, route, "web", 3);

	metrics_inc(metrics_shard(m, 0), c, (uint32_t[]){ api, 0 }, 2);
	metrics_inc(metrics_shard(m, 1), c, (uint32_t[]){ api, 0 }, 3);
	metrics_inc(metrics_shard(m, 1), c, (uint32_t[]){ web, 1 }, 1);
	metrics_set(metrics_control_shard(m), g, NULL, -4);
	assert_int_equal(metrics_read(m, c, (uint32_t[]){ api, 0 }, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(metrics_read(m, c, (uint32_t[]){ web, 0 }, &v), -ENOENT);

	t = render(m);
	assert_string_equal(t,
		"# HELP t_requests_total Requests.\\nSecond \\\\ line.\n"
		"# TYPE t_requests_total counter\n"
		"t_requests_total{route=\"api\",method=\"GET\"} 5\n"
		"t_requests_total{route=\"web\",method=\"POST\"} 1\n"
		"# HELP t_up Up.\n"
		"# TYPE t_up gauge\n"
		"t_up -4\n");
	free(t);
	assert_int_equal(metrics_dropped(m), 0);
	metrics_free(m);
}

static void test_label_value_escaping(void **state)
{
	struct metrics *m = metrics_new(1);
	int d, c;
	uint32_t i;
	char *t;

	(void)state;
	d = metrics_dim_dynamic(m, "name", 4, NULL, err, sizeof(err));
	c = metrics_family_add(m, &(struct metrics_family_def){ .type = METRICS_COUNTER, .name = "e_total", .help = "E.", .dims = (int[]){ d }, .n_dims = 1 }, err, sizeof(err));
	i = (uint32_t)metrics_dim_intern(m, d, "a\"b\\c", 5);
	metrics_inc(metrics_shard(m, 0), c, &i, 1);
	t = render(m);
	assert_non_null(strstr(t, "e_total{name=\"a\\\"b\\\\c\"} 1\n"));
	free(t);
	metrics_free(m);
}

static void test_histogram(void **state)
{
	struct metrics *m = metrics_new(2);
	static const double b[] = { 0.005, 0.1, 1 };
	int route, method, h;
	uint32_t api;
	char *t;
	int64_t v;

	(void)state;
	assert_int_equal(simple_dims(m, &route, &method), 0);
	h = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_HISTOGRAM, .name = "t_duration_seconds",
		.help = "D.", .dims = &route, .n_dims = 1, .buckets = b,
		.n_buckets = 3 }, err, sizeof(err));
	assert_true(h >= 0);
	api = (uint32_t)metrics_dim_intern(m, route, "api", 3);
	metrics_observe(metrics_shard(m, 0), h, &api, 0.005);	/* le is <= */
	metrics_observe(metrics_shard(m, 0), h, &api, 0.05);
	metrics_observe(metrics_shard(m, 1), h, &api, 0.5);
	metrics_observe(metrics_shard(m, 1), h, &api, 7);
	metrics_observe(metrics_shard(m, 1), h, &api, NAN);	/* dropped */
	assert_int_equal(metrics_dropped(m), 1);
	assert_int_equal(metrics_read(m, h, &api, &v), 0);
	assert_int_equal(v, 4);
	t = render(m);
	assert_string_equal(t,
		"# HELP t_duration_seconds D.\n"
		"# TYPE t_duration_seconds histogram\n"
		"t_duration_seconds_bucket{route=\"api\",le=\"0.005\"} 1\n"
		"t_duration_seconds_bucket{route=\"api\",le=\"0.1\"} 2\n"
		"t_duration_seconds_bucket{route=\"api\",le=\"1\"} 3\n"
		"t_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 4\n"
		"t_duration_seconds_sum{route=\"api\"} 7.555\n"
		"t_duration_seconds_count{route=\"api\"} 4\n");
	free(t);
	metrics_free(m);
}

static void test_gauge_merge_modes(void **state)
{
	struct metrics *m = metrics_new(2);
	int sum, min, max;
	int64_t v;

	(void)state;
	sum = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_GAUGE, .name = "g_sum", .help = "s" }, err, sizeof(err));
	min = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_GAUGE, .name = "g_min", .help = "s",
		.merge = METRICS_MERGE_MIN }, err, sizeof(err));
	max = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_GAUGE, .name = "g_max", .help = "s",
		.merge = METRICS_MERGE_MAX }, err, sizeof(err));
	assert_true(sum >= 0 && min >= 0 && max >= 0);
	for (unsigned int s = 0; s < 2; s++) {
		metrics_gauge_add(metrics_shard(m, s), sum, NULL, 5);
		metrics_gauge_add(metrics_shard(m, s), sum, NULL, -2);
		metrics_set(metrics_shard(m, s), min, NULL, s ? 1 : 0);
		metrics_set(metrics_shard(m, s), max, NULL, s ? -7 : -3);
	}
	metrics_set(metrics_control_shard(m), min, NULL, 1);
	assert_int_equal(metrics_read(m, sum, NULL, &v), 0);
	assert_int_equal(v, 6);
	assert_int_equal(metrics_read(m, min, NULL, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(metrics_read(m, max, NULL, &v), 0);
	assert_int_equal(v, -3);
	metrics_free(m);
}

static void test_milli_gauge_scrapes_as_decimal(void **state)
{
	struct metrics *m = metrics_new(1);
	struct metrics_shard *cs = metrics_control_shard(m);
	int lag, plain;
	char *text;

	(void)state;
	lag = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_GAUGE, .name = "t_lag_seconds", .help = "l",
		.milli = true }, err, sizeof(err));
	plain = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_GAUGE, .name = "t_plain", .help = "p" },
		err, sizeof(err));
	assert_true(lag >= 0 && plain >= 0);
	metrics_set(cs, lag, NULL, 1234);
	metrics_set(cs, plain, NULL, 1234);
	text = render(m);
	assert_non_null(strstr(text, "\nt_lag_seconds 1.234\n"));
	assert_non_null(strstr(text, "\nt_plain 1234\n"));
	free(text);
	metrics_set(cs, lag, NULL, 88);
	text = render(m);
	assert_true(sample(text, "t_lag_seconds") == 0.088);
	free(text);
	metrics_free(m);
}

static void test_clear(void **state)
{
	struct metrics *m = metrics_new(1);
	struct metrics_shard *cs = metrics_control_shard(m);
	int route, method, g, c;
	uint32_t a[1], b[1];
	int64_t v;
	char *text;

	(void)state;
	assert_int_equal(simple_dims(m, &route, &method), 0);
	g = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_GAUGE, .name = "t_up", .help = "u",
		.dims = &route, .n_dims = 1 }, err, sizeof(err));
	c = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_COUNTER, .name = "t_total", .help = "c",
		.dims = &route, .n_dims = 1 }, err, sizeof(err));
	assert_true(g >= 0 && c >= 0);
	a[0] = (uint32_t)metrics_dim_intern(m, route, "a", 1);
	b[0] = (uint32_t)metrics_dim_intern(m, route, "b", 1);
	metrics_set(cs, g, a, 1);
	metrics_set(cs, g, b, 0);
	metrics_inc(cs, c, a, 3);
	metrics_inc(metrics_shard(m, 0), c, b, 2);
	metrics_clear(cs, g);
	metrics_clear(cs, c);
	/* gone from the control shard; the worker's series stays */
	assert_int_equal(metrics_read(m, g, a, &v), -ENOENT);
	assert_int_equal(metrics_read(m, g, b, &v), -ENOENT);
	assert_int_equal(metrics_read(m, c, a, &v), -ENOENT);
	assert_int_equal(metrics_read(m, c, b, &v), 0);
	assert_int_equal(v, 2);
	/* and usable again, from zero */
	metrics_set(cs, g, b, 1);
	metrics_inc(cs, c, a, 1);
	text = render(m);
	assert_true(sample(text, "t_up{route=\"a\"}") < 0);
	assert_true(sample(text, "t_up{route=\"b\"}") == 1);
	assert_true(sample(text, "t_total{route=\"a\"}") == 1);
	free(text);
	metrics_clear(NULL, g);		/* no-ops */
	metrics_clear(cs, -1);
	metrics_clear(cs, 999);
	assert_int_equal(metrics_dropped(m), 0);
	metrics_free(m);
}

static void test_bad_updates_are_counted(void **state)
{
	struct metrics *m = metrics_new(1);
	int route, method, c, g;
	struct metrics_shard *s;
	int64_t v;

	(void)state;
	assert_int_equal(simple_dims(m, &route, &method), 0);
	c = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_COUNTER, .name = "b_total", .help = "b",
		.dims = &method, .n_dims = 1, .max_series = 2 }, err, sizeof(err));
	g = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_GAUGE, .name = "b_g", .help = "b" }, err, sizeof(err));
	assert_true(c >= 0 && g >= 0);
	s = metrics_shard(m, 0);
	assert_null(metrics_shard(m, 1));
	metrics_inc(s, c, (uint32_t[]){ 0 }, 1);
	metrics_inc(s, c, (uint32_t[]){ 1 }, 1);
	metrics_inc(s, c, (uint32_t[]){ 2 }, 1);	/* table full: 2 series */
	assert_int_equal(metrics_dropped(m), 1);
	metrics_inc(s, c, (uint32_t[]){ 0 }, 1);	/* existing series: fine */
	assert_int_equal(metrics_dropped(m), 1);
	metrics_inc(s, c, (uint32_t[]){ 9 }, 1);	/* index out of range */
	metrics_inc(s, c, NULL, 1);			/* labels missing */
	metrics_inc(s, g, NULL, 1);			/* wrong type */
	metrics_observe(s, c, (uint32_t[]){ 0 }, 1);	/* wrong type */
	metrics_inc(s, 77, NULL, 1);			/* no such family */
	metrics_set(s, c, (uint32_t[]){ 1 }, -1);	/* counters never go down */
	assert_int_equal(metrics_dropped(m), 7);
	assert_int_equal(metrics_read(m, c, (uint32_t[]){ 0 }, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(metrics_read(m, c, (uint32_t[]){ 1 }, &v), 0);
	assert_int_equal(v, 1);
	metrics_free(m);
}

static void test_format_double(void **state)
{
	char b[40];

	(void)state;
	metrics_format_double(0.005, b, sizeof(b));
	assert_string_equal(b, "0.005");
	metrics_format_double(1, b, sizeof(b));
	assert_string_equal(b, "1");
	metrics_format_double(0.1, b, sizeof(b));
	assert_string_equal(b, "0.1");
	metrics_format_double(10, b, sizeof(b));
	assert_string_equal(b, "10");
	metrics_format_double(300, b, sizeof(b));
	assert_string_equal(b, "300");
	metrics_format_double(1e-9, b, sizeof(b));
	assert_string_equal(b, "1e-09");
	metrics_format_double(2.5, b, sizeof(b));
	assert_string_equal(b, "2.5");
	metrics_format_double(1.0 / 3, b, sizeof(b));
	assert_true(strtod(b, NULL) == 1.0 / 3);
	metrics_format_double(INFINITY, b, sizeof(b));
	assert_string_equal(b, "+Inf");
	metrics_format_double(-INFINITY, b, sizeof(b));
	assert_string_equal(b, "-Inf");
	metrics_format_double(NAN, b, sizeof(b));
	assert_string_equal(b, "NaN");
}

/* ---- concurrency: writers never lose updates, scrapes see monotonic
 * counters and consistent histograms ------------------------------------------ */

#define N_ITER 200000

struct writer_arg {
	struct metrics_shard *s;
	int c, h;
	uint32_t route;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;

	for (int i = 0; i < N_ITER; i++) {
		metrics_inc(a->s, a->c, &a->route, 1);
		metrics_observe(a->s, a->h, &a->route, (i % 3) * 0.5);
	}
	return NULL;
}

static void test_concurrent_scrape(void **state)
{
	struct metrics *m = metrics_new(2);
	static const double b[] = { 0.25, 0.75 };
	struct writer_arg a[2];
	pthread_t th[2];
	int route, method, c, h;
	uint32_t api;
	double last = 0;

	(void)state;
	assert_int_equal(simple_dims(m, &route, &method), 0);
	c = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_COUNTER, .name = "cc_total", .help = "c",
		.dims = &route, .n_dims = 1 }, err, sizeof(err));
	h = metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_HISTOGRAM, .name = "cc_seconds", .help = "h",
		.dims = &route, .n_dims = 1, .buckets = b, .n_buckets = 2 },
		err, sizeof(err));
	assert_true(c >= 0 && h >= 0);
	api = (uint32_t)metrics_dim_intern(m, route, "api", 3);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct writer_arg){ metrics_shard(m, (unsigned int)i), c, h,
					    api };
		assert_int_equal(pthread_create(&th[i], NULL, writer, &a[i]), 0);
	}
	for (int r = 0; r < 50; r++) {
		char *t = render(m);
		double v = sample(t, "cc_total{route=\"api\"}");
		double inf = sample(t, "cc_seconds_bucket{route=\"api\",le=\"+Inf\"}");
		double cnt = sample(t, "cc_seconds_count{route=\"api\"}");
		double b1 = sample(t, "cc_seconds_bucket{route=\"api\",le=\"0.25\"}");
		double b2 = sample(t, "cc_seconds_bucket{route=\"api\",le=\"0.75\"}");

		if (v >= 0) {
			assert_true(v >= last);
			last = v;
		}
		if (inf >= 0) {
			assert_true(inf == cnt);
			assert_true(b1 <= b2 && b2 <= inf);
		}
		free(t);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	{
		char *t = render(m);

		assert_true(sample(t, "cc_total{route=\"api\"}") == 2.0 * N_ITER);
		assert_true(sample(t, "cc_seconds_count{route=\"api\"}") ==
			    2.0 * N_ITER);
		free(t);
	}
	metrics_free(m);
}

/* ---- collectors ----------------------------------------------------------------- */

static void collect(struct metrics *m, void *arg)
{
	int *calls = arg;

	(*calls)++;
	metrics_set(metrics_control_shard(m), 0, NULL, 40 + *calls);
}

static void test_collectors(void **state)
{
	struct metrics *m = metrics_new(1);
	int calls = 0;
	char *t;

	(void)state;
	assert_int_equal(metrics_family_add(m, &(struct metrics_family_def){
		.type = METRICS_COUNTER, .name = "k_total", .help = "k" },
		err, sizeof(err)), 0);
	assert_int_equal(metrics_collector_add(m, collect, &calls), 0);
	t = render(m);
	assert_true(sample(t, "k_total") == 41);
	free(t);
	t = render(m);
	assert_true(sample(t, "k_total") == 42);
	free(t);
	for (int i = 1; i < 16; i++)
		assert_int_equal(metrics_collector_add(m, collect, &calls), 0);
	assert_int_equal(metrics_collector_add(m, collect, &calls), -ENOSPC);
	metrics_free(m);
}

/* ---- the catalogue ------------------------------------------------------------ */

static void test_catalog(void **state)
{
	struct metrics *m = metrics_catalog_new(2, NULL, err, sizeof(err));
	uint32_t l[3];
	char *t;

	(void)state;
	assert_non_null(m);
	l[0] = metrics_route_index(m, "api");
	l[1] = metrics_method_index(m, "POST", 4);
	l[2] = metrics_code_index(201);
	metrics_inc(metrics_shard(m, 1), MF_HTTP_REQUESTS, l, 1);
	l[0] = metrics_route_index(m, NULL);
	l[1] = metrics_method_index(m, "BREW", 4);
	l[2] = metrics_code_index(599);
	metrics_inc(metrics_shard(m, 0), MF_HTTP_REQUESTS, l, 1);
	l[2] = metrics_code_index(0);
	metrics_inc(metrics_shard(m, 0), MF_HTTP_REQUESTS, l, 1);
	l[2] = metrics_code_index(1234);
	metrics_inc(metrics_shard(m, 0), MF_HTTP_REQUESTS, l, 1);
	metrics_observe(metrics_shard(m, 0), MF_HTTP_REQUEST_DURATION, l, 0.2);
	t = render(m);
	assert_non_null(strstr(t, "sluice_http_requests_total{route=\"api\","
				  "method=\"POST\",code=\"201\"} 1\n"));
	assert_non_null(strstr(t, "sluice_http_requests_total{route=\"none\","
				  "method=\"OTHER\",code=\"5xx\"} 1\n"));
	assert_non_null(strstr(t, "sluice_http_requests_total{route=\"none\","
				  "method=\"OTHER\",code=\"0\"} 1\n"));
	assert_non_null(strstr(t, "sluice_http_requests_total{route=\"none\","
				  "method=\"OTHER\",code=\"other\"} 1\n"));
	assert_non_null(strstr(t, "sluice_http_request_duration_seconds_bucket"
				  "{route=\"none\",le=\"0.25\"} 1\n"));
	assert_non_null(strstr(t, "sluice_http_request_duration_seconds_bucket"
				  "{route=\"none\",le=\"10\"} 1\n"));
	{
		char bi[128];

		snprintf(bi, sizeof(bi),
			 "sluice_build_info{version=\"%s\",abi=\"%d\"} 1\n",
			 SLUICE_VERSION, SLUICE_ABI_VERSION);
		assert_non_null(strstr(t, bi));
	}
	/* unlabelled series exist from the start */
	assert_non_null(strstr(t, "\nsluice_connections_active 0\n"));
	assert_non_null(strstr(t, "\nsluice_config_reloads_total{result=\"failure\"} 0\n"));
	assert_non_null(strstr(t, "\nsluice_config_last_reload_successful 1\n"));
	/* every catalogue family has HELP and TYPE */
#define MF_CHECK(id, type, merge, name, bk, dims, help)                        \
	assert_non_null(strstr(t, "# TYPE " name " "));
	METRICS_FAMILIES(MF_CHECK)
#undef MF_CHECK
	free(t);
	metrics_free(m);
}

static void test_catalog_buckets(void **state)
{
	static const double rb[] = { 0.001, 0.5 };
	static const double bad[] = { 0.5, 0.001 };
	struct metrics_catalog_opts o = { rb, 2, NULL, 0, 0 };
	struct metrics *m = metrics_catalog_new(1, &o, err, sizeof(err));
	uint32_t r;
	char *t;

	(void)state;
	assert_non_null(m);
	r = metrics_route_index(m, "api");
	metrics_observe(metrics_shard(m, 0), MF_HTTP_REQUEST_DURATION, &r, 0.3);
	metrics_observe(metrics_shard(m, 0), MF_UPSTREAM_DURATION, &r, 0.3);
	t = render(m);
	assert_non_null(strstr(t, "sluice_http_request_duration_seconds_bucket"
				  "{route=\"api\",le=\"0.001\"} 0\n"));
	assert_non_null(strstr(t, "sluice_http_request_duration_seconds_bucket"
				  "{route=\"api\",le=\"0.5\"} 1\n"));
	assert_null(strstr(t, "sluice_http_request_duration_seconds_bucket"
			      "{route=\"api\",le=\"0.25\"}"));
	assert_non_null(strstr(t, "sluice_upstream_duration_seconds_bucket"
			      "{route=\"api\",le=\"0.25\"} 0\n"));
	free(t);
	metrics_free(m);

	o.request_buckets = bad;
	assert_null(metrics_catalog_new(1, &o, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "sluice_http_request_duration_seconds: "
				    "buckets must be strictly increasing"));
}

static void test_catalog_route_overflow(void **state)
{
	struct metrics *m = metrics_catalog_new(1, NULL, err, sizeof(err));
	char name[32];
	uint32_t last = 0;

	(void)state;
	assert_non_null(m);
	/* "other" and "none" are interned first; 1022 more fit */
	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		last = metrics_route_index(m, name);
		if (i < 1022)
			assert_int_not_equal(last, 0);
	}
	assert_int_equal(last, 0);
	assert_string_equal(metrics_dim_value(m, MD_ROUTE, last), "other");
	assert_int_equal(metrics_dim_count(m, MD_ROUTE), 1024);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dim_errors),
		cmocka_unit_test(test_dim_lookup_and_intern),
		cmocka_unit_test(test_family_errors),
		cmocka_unit_test(test_milli_gauge_scrapes_as_decimal),
		cmocka_unit_test(test_counter_merge_and_text),
		cmocka_unit_test(test_label_value_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_gauge_merge_modes),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_bad_updates_are_counted),
		cmocka_unit_test(test_format_double),
		cmocka_unit_test(test_concurrent_scrape),
		cmocka_unit_test(test_collectors),
		cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_catalog_buckets),
		cmocka_unit_test(test_catalog_route_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
