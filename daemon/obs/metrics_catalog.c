// SPDX-License-Identifier: MIT
/* The Sluice metric catalogue: see metrics_catalog.h. */
#include "obs/metrics_catalog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sluice/abi.h"

const double metrics_default_buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const size_t metrics_n_default_buckets =
	sizeof(metrics_default_buckets) / sizeof(metrics_default_buckets[0]);

static const char *const method_values[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT",
	"TRACE", "OTHER",
};

/* Status codes registered with IANA (RFC 9110 and friends), sorted; "0"
 * stands for "no response was sent" (the client went away first). */
static const short known_codes[] = {
	0,   100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208,
	226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404,
	405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421,
	422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504,
	505, 506, 507, 508, 510, 511,
};
#define N_KNOWN (sizeof(known_codes) / sizeof(known_codes[0]))
/* then "1xx".."9xx", then "other" */
#define N_CODE_VALUES (N_KNOWN + 9 + 1)

static const char *const result_values[] = { "success", "failure" };

uint32_t metrics_code_index(int status)
{
	size_t lo = 0, hi = N_KNOWN;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (known_codes[mid] == status)
			return (uint32_t)mid;
		if (known_codes[mid] < status)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (status >= 100 && status <= 999)
		return (uint32_t)(N_KNOWN + (size_t)(status / 100) - 1);
	return N_CODE_VALUES - 1;
}

uint32_t metrics_method_index(const struct metrics *m, const char *method,
			      size_t len)
{
	int i = method ? metrics_dim_index(m, MD_METHOD, method, len) : -EINVAL;

	return i >= 0 ? (uint32_t)i : (uint32_t)(sizeof(method_values) /
						 sizeof(method_values[0]) - 1);
}

uint32_t metrics_label_index(struct metrics *m, enum metrics_dim_id dim,
			     const char *value)
{
	int i = -EINVAL;

	if (value && *value)
		i = metrics_dim_intern(m, dim, value, strlen(value));
	if (i < 0)	/* refused value: the fallback, interned first (0) */
		return 0;
	return (uint32_t)i;
}

uint32_t metrics_route_index(struct metrics *m, const char *route)
{
	return metrics_label_index(m, MD_ROUTE, route && *route ? route : "none");
}

struct dim_def {
	const char *label;
	int dynamic;
	uint32_t cap;
	const char *fallback;
};

#define DYN 1
#define FIXED 0
static const struct dim_def dim_defs[] = {
#define MD_DEF(id, label, kind, cap, fb) { label, kind, cap, fb },
	METRICS_DIMS(MD_DEF)
#undef MD_DEF
};
#undef DYN
#undef FIXED

#define UNPAREN(...) __VA_ARGS__
#define NOB 0
#define REQ 1
#define UPS 2
#define MILLI 3
struct fam_def {
	enum metrics_type type;
	enum metrics_merge merge;
	const char *name;
	int buckets;
	int dims[METRICS_MAX_LABELS + 1];	/* [0] is padding */
	size_t n_dims;
	const char *help;
};

static const struct fam_def fam_defs[] = {
#define MF_DEF(id, type, merge, name, bk, dims, help)                          \
	{ METRICS_##type, METRICS_MERGE_##merge, name, bk,                     \
	  { -1, UNPAREN dims },                                                \
	  sizeof((int[]){ -1, UNPAREN dims }) / sizeof(int) - 1, help },
	METRICS_FAMILIES(MF_DEF)
#undef MF_DEF
};

static int add_fixed(struct metrics *m, int id, char *err, size_t errlen)
{
	char code_text[N_CODE_VALUES][16];
	const char *code_values[N_CODE_VALUES];

	switch (id) {
	case MD_METHOD:
		return metrics_dim_fixed(m, dim_defs[id].label, method_values,
					 sizeof(method_values) /
						 sizeof(method_values[0]),
					 dim_defs[id].fallback, err, errlen);
	case MD_CODE:
		for (size_t i = 0; i < N_KNOWN; i++)
			snprintf(code_text[i], sizeof(code_text[i]), "%d",
				 known_codes[i]);
		for (int c = 1; c <= 9; c++)
			snprintf(code_text[N_KNOWN + c - 1], sizeof(code_text[0]),
				 "%dxx", c);
		snprintf(code_text[N_CODE_VALUES - 1], sizeof(code_text[0]),
			 "other");
		for (size_t i = 0; i < N_CODE_VALUES; i++)
			code_values[i] = code_text[i];
		return metrics_dim_fixed(m, dim_defs[id].label, code_values,
					 N_CODE_VALUES, dim_defs[id].fallback,
					 err, errlen);
	case MD_RESULT:
		return metrics_dim_fixed(m, dim_defs[id].label, result_values, 2,
					 dim_defs[id].fallback, err, errlen);
	default:
		return -EINVAL;
	}
}

struct metrics *metrics_catalog_new(unsigned int n_workers,
				    const struct metrics_catalog_opts *o,
				    char *err, size_t errlen)
{
	char msg[256];
	struct metrics *m;
	int ret = 0;

	m = metrics_new(n_workers);
	if (!m) {
		ret = -errno;
		snprintf(err, errlen, "metrics: %s", strerror(-ret));
		errno = -ret;
		return NULL;
	}
	for (int id = 0; id < MD__COUNT; id++) {
		const struct dim_def *d = &dim_defs[id];

		ret = d->dynamic ? metrics_dim_dynamic(m, d->label, d->cap,
						       d->fallback, msg,
						       sizeof(msg))
				 : add_fixed(m, id, msg, sizeof(msg));
		if (ret != id) {
			snprintf(err, errlen, "metrics: label %s: %s", d->label,
				 ret < 0 ? msg : "id mismatch");
			goto fail;
		}
	}
	for (int id = 0; id < MF__COUNT; id++) {
		const struct fam_def *f = &fam_defs[id];
		struct metrics_family_def fd = {
			.type = f->type,
			.merge = f->merge,
			.name = f->name,
			.help = f->help,
			.dims = f->dims + 1,
			.n_dims = f->n_dims,
			.max_series = o ? o->max_series : 0,
			.milli = f->buckets == MILLI,
		};

		if (f->buckets == REQ) {
			fd.buckets = o && o->request_buckets ? o->request_buckets
							       : metrics_default_buckets;
			fd.n_buckets = o && o->request_buckets ? o->n_request_buckets
								 : metrics_n_default_buckets;
		} else if (f->buckets == UPS) {
			fd.buckets = o && o->upstream_buckets ? o->upstream_buckets
								: metrics_default_buckets;
			fd.n_buckets = o && o->upstream_buckets ? o->n_upstream_buckets
								  : metrics_n_default_buckets;
		}
		ret = metrics_family_add(m, &fd, msg, sizeof(msg));
		if (ret != id) {
			snprintf(err, errlen, "metrics: %s",
				 ret < 0 ? msg : "family id mismatch");
			goto fail;
		}
	}

	/* values that exist from the start */
	{
		struct metrics_shard *cs = metrics_control_shard(m);
		char abi[16];
		uint32_t bi[2];

		metrics_route_index(m, "none");
		snprintf(abi, sizeof(abi), "%d", SLUICE_ABI_VERSION);
		bi[0] = metrics_label_index(m, MD_VERSION, SLUICE_VERSION);
		bi[1] = metrics_label_index(m, MD_ABI, abi);
		metrics_set(cs, MF_BUILD_INFO, bi, 1);
		for (int id = 0; id < MF__COUNT; id++) {
			if (fam_defs[id].n_dims)
				continue;
			if (fam_defs[id].type == METRICS_COUNTER)
				metrics_inc(cs, id, NULL, 0);
			else if (fam_defs[id].type == METRICS_GAUGE)
				metrics_gauge_add(cs, id, NULL, 0);
		}
		metrics_set(cs, MF_CONFIG_LAST_RELOAD_OK, NULL, 1);
		metrics_inc(cs, MF_CONFIG_RELOADS,
			    (uint32_t[]){ METRICS_RESULT_SUCCESS }, 0);
		metrics_inc(cs, MF_CONFIG_RELOADS,
			    (uint32_t[]){ METRICS_RESULT_FAILURE }, 0);
	}
	return m;
fail:
	metrics_free(m);
	errno = ret < 0 ? -ret : EINVAL;	/* >= 0: an id out of order */
	return NULL;
}
