// SPDX-License-Identifier: MIT
/*
 * Router micro-benchmark (make bench-router): ns per lookup at 10, 1,000
 * and 10,000 routes, through the index (router_lookup) and, for
 * comparison, the linear scan (router_lookup_linear). docs/BENCHMARKS.md
 * has results.
 *
 * The routes: exact hosts h<k>.example.com (one per 20 routes), each with
 * path prefixes /p<i>/ of different lengths, one route in 10 a path_exact,
 * one in 25 with a header condition, one in 50 under a wildcard host
 * *.w<k>.example.com, one in 100 a path_regex under regex hosts
 * r<k>.example.com, and a catch-all. The requests: one that hits each
 * route, in a shuffled order, plus one miss in ten (an unknown host and
 * path, answered by the catch-all). Times are the thread's CPU time (the
 * machine may be shared); "index-hot" repeats 16 requests, so its routes
 * and requests stay in cache: the lookup's own cost, without the cache
 * misses a large table brings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "policy/router.h"

#define HEAD_YAML                                                              \
	"listeners: [{name: l, address: '127.0.0.1:8080'}]\n"                  \
	"xdp: {enabled: false}\n"                                              \
	"services: [{name: s, targets: ['127.0.0.1:9001']}]\n"                 \
	"routes:\n"                                                            \
	"  - {name: all, service: s}\n"

enum { K_PREFIX, K_EXACT, K_HEADER, K_WILD, K_REGEX, K_MISS, K_N };
static const char *const kind_names[K_N] = { "prefix", "exact", "header",
					     "wildcard", "regex", "miss" };

struct rq {
	int kind;
	char host[64], path[96], hv[16];
	struct http_header h;
	struct router_req q;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static struct config *make(size_t n, struct rq **reqs, size_t *n_reqs)
{
	size_t cap = 256 + n * 160, o = 0, nr = 0;
	char *y = malloc(cap), *errs = NULL;
	struct rq *r = calloc(n + n / 10 + 2, sizeof(*r));
	size_t hosts = n / 20 ? n / 20 : 1;
	struct config *c = NULL;

	o += (size_t)snprintf(y + o, cap - o, HEAD_YAML);
	for (size_t i = 0; i < n; i++) {
		struct rq *q = &r[nr++];
		const char *m = "GET";

		/* prefix lengths vary: /p<i>/ and /p<i>/v<i%3>/... */
		if (i % 100 == 99) {
			q->kind = K_REGEX;
			snprintf(q->host, sizeof(q->host), "r%zu.example.com", i % 7);
			snprintf(q->path, sizeof(q->path), "/r%zu/%u", i, rnd(1000));
			o += (size_t)snprintf(y + o, cap - o,
				"  - {name: r%zu, service: s, hosts: [%s], path_regex: '/r%zu/[0-9]+'}\n",
				i, q->host, i);
		} else if (i % 50 == 49) {
			q->kind = K_WILD;
			snprintf(q->host, sizeof(q->host), "a.w%zu.example.com", i % 11);
			snprintf(q->path, sizeof(q->path), "/p%zu/x", i);
			o += (size_t)snprintf(y + o, cap - o,
				"  - {name: r%zu, service: s, hosts: ['*.w%zu.example.com'], path_prefix: /p%zu/}\n",
				i, i % 11, i);
		} else if (i % 10 == 9) {
			q->kind = K_EXACT;
			snprintf(q->host, sizeof(q->host), "h%zu.example.com", i % hosts);
			snprintf(q->path, sizeof(q->path), "/e%zu", i);
			o += (size_t)snprintf(y + o, cap - o,
				"  - {name: r%zu, service: s, hosts: [%s], path_exact: %s}\n",
				i, q->host, q->path);
		} else if (i % 25 == 24) {
			q->kind = K_HEADER;
			snprintf(q->host, sizeof(q->host), "h%zu.example.com", i % hosts);
			snprintf(q->path, sizeof(q->path), "/p%zu/items/1", i);
			snprintf(q->hv, sizeof(q->hv), "v%zu", i % 3);
			q->h = (struct http_header){ .name = "X-Env", .name_len = 5,
						     .value = q->hv, .value_len = strlen(q->hv) };
			o += (size_t)snprintf(y + o, cap - o,
				"  - {name: r%zu, service: s, hosts: [%s], path_prefix: /p%zu/, headers: {X-Env: %s}}\n",
				i, q->host, i, q->hv);
		} else {
			snprintf(q->host, sizeof(q->host), "h%zu.example.com", i % hosts);
			snprintf(q->path, sizeof(q->path), "/p%zu/v%zu/items", i, i % 3);
			o += (size_t)snprintf(y + o, cap - o,
				"  - {name: r%zu, service: s, hosts: [%s], path_prefix: /p%zu/v%zu/, methods: [GET]}\n",
				i, q->host, i, i % 3);
		}
		q->q.method = m;
		q->q.method_len = 3;
	}
	for (size_t i = 0; i <= n / 10; i++) {
		struct rq *q = &r[nr++];

		q->kind = K_MISS;
		snprintf(q->host, sizeof(q->host), "nobody%zu.test", i);
		snprintf(q->path, sizeof(q->path), "/nothing/%zu", i);
		q->q.method = "GET";
		q->q.method_len = 3;
	}
	for (size_t i = 0; i < nr; i++) {
		struct rq *q = &r[i];

		q->q.host = q->host;
		q->q.host_len = strlen(q->host);
		q->q.path = q->path;
		q->q.path_len = strlen(q->path);
		if (q->h.name) {
			q->q.headers = &q->h;
			q->q.n_headers = 1;
		}
	}
	for (size_t i = nr; i > 1; i--) {	/* shuffle */
		size_t j = rnd((uint32_t)i);
		struct rq t = r[i - 1];

		r[i - 1] = r[j];
		r[j] = t;
	}
	for (size_t i = 0; i < nr; i++) {	/* pointers into the moved rows */
		struct rq *q = &r[i];

		q->q.host = q->host;
		q->q.path = q->path;
		q->h.value = q->hv;
		q->q.headers = q->h.name ? &q->h : NULL;
	}
	if (config_parse("bench.yaml", y, o, &c, &errs)) {
		fprintf(stderr, "routerbench: %s\n", errs ? errs : "config error");
		exit(1);
	}
	free(y);
	*reqs = r;
	*n_reqs = nr;
	return c;
}

/* ns per lookup, running for about budget_ns; checks that every hit goes
 * to the route it was made for (the scan's answer) */
static double run(const struct config *c, const struct rq *r, size_t nr,
		  bool linear, uint64_t budget_ns, size_t *lookups)
{
	uint64_t t0 = now_ns(), t;
	size_t done = 0;
	volatile int sink = 0;

	/* the clock (a system call for CPU time) read every 1000 or so
	 * lookups, not after each pass over a short list */
	do {
		size_t k = 0;

		do {
			for (size_t i = 0; i < nr; i++)
				sink += linear ? router_lookup_linear(c, &r[i].q) :
						 router_lookup(c, &r[i].q);
			k += nr;
		} while (k < (linear ? 1 : 1000));
		done += k;
		t = now_ns();
	} while (t - t0 < budget_ns);
	(void)sink;
	*lookups = done;
	return (double)(t - t0) / (double)done;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 10, 1000, 10000 };
	double budget = argc > 1 ? atof(argv[1]) : 0.5;

	printf("%-8s %-9s %12s %12s %13s %9s\n", "routes", "requests",
	       "index ns/op", "index-hot", "linear ns/op", "build ms");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct rq *r;
		size_t nr, li, ll;
		struct config *c = make(sizes[s], &r, &nr);
		uint64_t t0 = now_ns();
		double bi, bh, bl;

		if (router_build(c)) {
			fprintf(stderr, "routerbench: out of memory\n");
			return 1;
		}
		t0 = now_ns() - t0;
		for (size_t i = 0; i < nr; i++) {
			int a = router_lookup(c, &r[i].q);

			if (a != router_lookup_linear(c, &r[i].q) || a < 0) {
				fprintf(stderr, "routerbench: index and scan disagree on %s%s\n",
					r[i].host, r[i].path);
				return 1;
			}
		}
		bi = run(c, r, nr, false, (uint64_t)(budget * 1e9), &li);
		bh = run(c, r, nr < 16 ? nr : 16, false,
			 (uint64_t)(budget * 1e9), &li);
		bl = run(c, r, nr, true, (uint64_t)(budget * 1e9), &ll);
		printf("%-8zu %-9zu %12.1f %12.1f %13.1f %9.2f\n", sizes[s], nr,
		       bi, bh, bl, (double)t0 / 1e6);
		/* by kind of request: the index over only those (hot when few) */
		printf("         by kind (index ns/op):");
		for (int k = 0; k < K_N; k++) {
			struct rq *sub = calloc(nr, sizeof(*sub));
			size_t m = 0, lk;

			for (size_t i = 0; i < nr; i++)
				if (r[i].kind == k) {
					sub[m] = r[i];
					sub[m].q.host = sub[m].host;
					sub[m].q.path = sub[m].path;
					sub[m].h.value = sub[m].hv;
					sub[m].q.headers = sub[m].h.name ? &sub[m].h : NULL;
					m++;
				}
			if (m)
				printf(" %s %.0f", kind_names[k],
				       run(c, sub, m, false,
					   (uint64_t)(budget * 0.2e9), &lk));
			free(sub);
		}
		printf("\n");
		router_free(c);
		config_put(c);
		free(r);
	}
	return 0;
}
