// SPDX-License-Identifier: MIT
/* Unit tests for daemon/policy/router.c: snapshots built by config_parse(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "policy/router.h"
#include "unit/guard.h"

#define HEAD_YAML                                                              \
	"listeners: [{name: l, address: '127.0.0.1:8080'}]\n"                  \
	"xdp: {enabled: false}\n"                                              \
	"services: [{name: s, targets: ['127.0.0.1:9001']}]\n"                 \
	"routes:\n"

static struct config *load(const char *routes_yaml)
{
	char text[16384];
	struct config *c = NULL;
	char *errs = NULL;

	snprintf(text, sizeof(text), HEAD_YAML "%s", routes_yaml);
	if (config_parse("r.yaml", text, strlen(text), &c, &errs)) {
		print_error("config errors:\n%s", errs ? errs : "");
		free(errs);
		fail();
	}
	return c;
}

/*
 * Match with method, host and path packed into one guarded buffer. The
 * field named by `last` ('p' path, 'h' host, 'm' method) is placed last so
 * that its final byte touches the guard page: reading past any field's
 * length crashes. host may be NULL.
 */
static int match_last(const struct config *c, const char *host,
		      const char *method, const char *path, char last)
{
	size_t hl = host ? strlen(host) : 0, ml = strlen(method), pl = strlen(path);
	char buf[1024];
	const char *g, *h = NULL, *m, *p;
	size_t o = 0;

	assert_true(hl + ml + pl < sizeof(buf));
	/* order: the two others first, `last` at the end */
	const char *fields[3] = { method, host ? host : "", path };
	size_t lens[3] = { ml, hl, pl }, offs[3];
	int order[3];

	order[2] = last == 'm' ? 0 : last == 'h' ? 1 : 2;
	for (int i = 0, k = 0; i < 3; i++)
		if (i != order[2])
			order[k++] = i;
	for (int i = 0; i < 3; i++) {
		memcpy(buf + o, fields[order[i]], lens[order[i]]);
		offs[order[i]] = o;
		o += lens[order[i]];
	}
	g = guard_copy(buf, o);
	m = g + offs[0];
	if (host)
		h = g + offs[1];
	p = g + offs[2];
	return router_match(c, h, hl, m, ml, p, pl);
}

static int match(const struct config *c, const char *host, const char *method,
		 const char *path)
{
	int r = match_last(c, host, method, path, 'p');

	/* the answer must not depend on where the bytes sit */
	assert_int_equal(match_last(c, host, method, path, 'h'), r);
	assert_int_equal(match_last(c, host, method, path, 'm'), r);
	return r;
}

static void test_longest_prefix(void **state)
{
	struct config *c = load("  - {name: root, service: s, path_prefix: /}\n"
				"  - {name: api, service: s, path_prefix: /api/}\n"
				"  - {name: apiv2, service: s, path_prefix: /api/v2/}\n"
				"  - {name: api2, service: s, path_prefix: /api/, priority: -1, methods: [GET, POST]}\n"
				"  - {name: img, service: s, path_prefix: /img}\n");

	assert_int_equal(match(c, NULL, "GET", "/"), 0);
	assert_int_equal(match(c, NULL, "GET", "/index.html"), 0);
	assert_int_equal(match(c, NULL, "GET", "/api"), 0);
	/* same prefix: the route with more conditions (methods) first */
	assert_int_equal(match(c, NULL, "GET", "/api/"), 3);
	assert_int_equal(match(c, NULL, "PUT", "/api/users"), 1);
	assert_int_equal(match(c, NULL, "GET", "/api/v2/"), 2);
	assert_int_equal(match(c, NULL, "GET", "/api/v2/x/y"), 2);
	assert_int_equal(match(c, NULL, "DELETE", "/api/v3/x"), 1);
	assert_int_equal(match(c, NULL, "GET", "/img"), 4);
	assert_int_equal(match(c, NULL, "GET", "/imgs/a.png"), 4);	/* byte prefix */
	assert_int_equal(match(c, NULL, "GET", "/images/a.png"), 0);
	assert_int_equal(match(c, NULL, "GET", "/IMG"), 0);	/* case-sensitive */
	config_put(c);
}

static void test_no_match(void **state)
{
	struct config *c = load("  - {name: api, service: s, path_prefix: /api/}\n");

	assert_int_equal(match(c, NULL, "GET", "/"), -1);
	assert_int_equal(match(c, NULL, "GET", "/ap"), -1);
	assert_int_equal(match(c, NULL, "GET", "/api"), -1);
	assert_int_equal(match(c, NULL, "GET", ""), -1);
	assert_int_equal(match(c, NULL, "GET", "api/"), -1);
	assert_int_equal(router_match(c, NULL, 0, "GET", 3, NULL, 0), -1);
	assert_int_equal(router_match(NULL, NULL, 0, "GET", 3, "/api/", 5), -1);
	config_put(c);

	c = load("  []\n");
	assert_int_equal(c->n_routes, 0);
	assert_int_equal(match(c, "a", "GET", "/"), -1);
	config_put(c);
}

static void test_path_len_respected(void **state)
{
	struct config *c = load("  - {name: a, service: s, path_prefix: /abc}\n"
				"  - {name: b, service: s, path_prefix: /ab}\n");
	static const char path[] = "/abcdef";

	/* only the first path_len bytes count */
	assert_int_equal(router_match(c, NULL, 0, "GET", 3, path, 3), 1);
	assert_int_equal(router_match(c, NULL, 0, "GET", 3, path, 4), 0);
	assert_int_equal(router_match(c, NULL, 0, "GET", 3, path, 2), -1);
	config_put(c);
}

static void test_host(void **state)
{
	struct config *c = load("  - {name: any, service: s}\n"
				"  - {name: a, service: s, host: api.example.com}\n"
				"  - {name: a2, service: s, host: API.example.com, path_prefix: /x}\n"
				"  - {name: v6, service: s, host: '[fd00::1]'}\n"
				"  - {name: b, service: s, host: b.example.com, path_prefix: /b/}\n");

	/* an exact host ranks before any host, whatever the prefixes
	 * (rule 1); then the longer prefix */
	assert_int_equal(match(c, "api.example.com", "GET", "/"), 1);
	assert_int_equal(match(c, "api.example.com", "GET", "/x/1"), 2);
	assert_int_equal(match(c, "API.Example.Com", "GET", "/x"), 2);
	assert_int_equal(match(c, "api.example.com:8080", "GET", "/x"), 2);
	assert_int_equal(match(c, "api.example.com:", "GET", "/x"), 2);
	assert_int_equal(match(c, "api.example.com.", "GET", "/x"), 2);
	assert_int_equal(match(c, "api.example.co", "GET", "/x"), 0);
	assert_int_equal(match(c, "api.example.comm", "GET", "/x"), 0);
	assert_int_equal(match(c, "xapi.example.com", "GET", "/x"), 0);
	assert_int_equal(match(c, "", "GET", "/x"), 0);
	assert_int_equal(match(c, NULL, "GET", "/x"), 0);
	assert_int_equal(match(c, "[fd00::1]:443", "GET", "/"), 3);
	assert_int_equal(match(c, "[fd00:0::1]", "GET", "/"), 3);
	assert_int_equal(match(c, "b.example.com", "GET", "/b/c"), 4);
	assert_int_equal(match(c, "B.EXAMPLE.COM:80", "GET", "/b/"), 4);
	assert_int_equal(match(c, "c.example.com", "GET", "/b/c"), 0);
	assert_int_equal(match(c, NULL, "GET", "/b/c"), 0);
	config_put(c);

	/* only host routes: no Host header, no match */
	c = load("  - {name: a, service: s, host: api.example.com}\n"
		 "  - {name: v6, service: s, host: '[FD00::1]', path_prefix: /6}\n");
	assert_int_equal(match(c, NULL, "GET", "/"), -1);
	assert_int_equal(match(c, "api.example.com", "GET", "/"), 0);
	assert_int_equal(match(c, "[fd00::1]", "GET", "/6"), 1);
	assert_int_equal(match(c, "[FD00::1]:8080", "GET", "/6"), 1);
	assert_int_equal(match(c, "[fd00::1", "GET", "/6"), -1);
	assert_int_equal(match(c, "[fd00::2]", "GET", "/6"), -1);
	assert_int_equal(match(c, "api.example.com\xff", "GET", "/"), -1);
	config_put(c);
}

static void test_methods(void **state)
{
	struct config *c = load("  - {name: read, service: s, methods: [GET, HEAD]}\n"
				"  - {name: write, service: s, methods: [POST, PUT, DELETE, PATCH]}\n"
				"  - {name: opt, service: s, methods: [OPTIONS]}\n"
				"  - {name: rest, service: s, path_prefix: /any}\n");

	assert_int_equal(match(c, NULL, "GET", "/"), 0);
	assert_int_equal(match(c, NULL, "HEAD", "/"), 0);
	assert_int_equal(match(c, NULL, "POST", "/"), 1);
	assert_int_equal(match(c, NULL, "PUT", "/"), 1);
	assert_int_equal(match(c, NULL, "DELETE", "/"), 1);
	assert_int_equal(match(c, NULL, "PATCH", "/"), 1);
	assert_int_equal(match(c, NULL, "OPTIONS", "/"), 2);
	/* other tokens are CFG_M_OTHER: only method-less routes */
	assert_int_equal(match(c, NULL, "TRACE", "/"), -1);
	assert_int_equal(match(c, NULL, "CONNECT", "/any"), 3);
	assert_int_equal(match(c, NULL, "get", "/"), -1);	/* case-sensitive */
	assert_int_equal(match(c, NULL, "GETX", "/"), -1);
	assert_int_equal(match(c, NULL, "GE", "/"), -1);
	assert_int_equal(match(c, NULL, "", "/"), -1);
	assert_int_equal(match(c, NULL, "POST", "/any/x"), 3);
	assert_int_equal(router_match(c, NULL, 0, NULL, 0, "/any", 4), 3);
	config_put(c);
}

static void test_many_routes(void **state)
{
	char *yaml = malloc(64 * 100 + 1);
	size_t o = 0;
	struct config *c;
	char path[64];

	assert_non_null(yaml);
	for (int i = 0; i < 100; i++)
		o += (size_t)sprintf(yaml + o, "  - {name: r%d, service: s, path_prefix: /p/%d/}\n", i, i);
	c = load(yaml);
	free(yaml);
	assert_int_equal(c->n_routes, 100);
	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/p/%d/x", i);
		assert_int_equal(match(c, "h", "GET", path), i);
	}
	config_put(c);
}

static int teardown_guard(void **state)
{
	guard_free();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix),
		cmocka_unit_test(test_no_match),
		cmocka_unit_test(test_path_len_respected),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_many_routes),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_guard);
}
