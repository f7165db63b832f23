// SPDX-License-Identifier: MIT
/*
 * Routing table tests (daemon/policy/router.c, router_index.c): routes x
 * requests -> the route expected, each answered twice, by the index and by
 * the linear scan, which must agree; hostile spellings of hosts, paths,
 * headers and query; random configurations where index and scan must give
 * the same answer; and the route config errors with their file:line:col.
 */
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
#include "http/http.h"
#include "policy/router.h"
#include "unit/guard.h"

#define HEAD_YAML                                                              \
	"listeners: [{name: l, address: '127.0.0.1:8080'}]\n"                  \
	"xdp: {enabled: false}\n"                                              \
	"services: [{name: s, targets: ['127.0.0.1:9001']}]\n"                 \
	"routes:\n"

static int parse(const char *routes_yaml, struct config **c, char **errs)
{
	static char text[1 << 21];

	snprintf(text, sizeof(text), HEAD_YAML "%s", routes_yaml);
	*c = NULL;
	*errs = NULL;
	return config_parse("r.yaml", text, strlen(text), c, errs);
}

static struct config *load(const char *routes_yaml)
{
	struct config *c;
	char *errs;

	if (parse(routes_yaml, &c, &errs)) {
		print_error("config errors:\n%s", errs ? errs : "");
		free(errs);
		fail();
	}
	assert_int_equal(router_build(c), 0);
	return c;
}

static void unload(struct config *c)
{
	router_free(c);
	config_put(c);
}

struct req {
	const char *method;
	const char *host;		/* NULL: no Host */
	const char *target;		/* path[?query], not yet normalised */
	const char *hdrs[4];		/* "Name: value" */
	const char *want;		/* route name, NULL: no route */
};

/* The route for r, asked of the index and of the scan (they must agree),
 * the path normalised first as the proxy does, the path placed last in a
 * guarded buffer so that an over-read crashes. */
static int route_of(const struct config *c, const struct req *r)
{
	char path[512], buf[1024];
	struct http_header h[4];
	struct router_req q = { 0 };
	const char *qm = strchr(r->target, '?'), *err, *g;
	size_t pl = qm ? (size_t)(qm - r->target) : strlen(r->target), nh = 0;
	long n;
	int a, b;

	n = http_path_normalize(path, r->target, pl, 0, &err);
	assert_true(n >= 0);
	for (; nh < 4 && r->hdrs[nh]; nh++) {
		const char *col = strchr(r->hdrs[nh], ':'), *v = col + 1;

		while (*v == ' ')
			v++;
		h[nh] = (struct http_header){ .name = r->hdrs[nh],
					      .name_len = (size_t)(col - r->hdrs[nh]),
					      .value = v, .value_len = strlen(v) };
	}
	q.method = r->method;
	q.method_len = strlen(r->method);
	q.host = r->host;
	q.host_len = r->host ? strlen(r->host) : 0;
	if (qm) {
		q.query = qm + 1;
		q.query_len = strlen(qm + 1);
	}
	q.headers = h;
	q.n_headers = nh;
	memcpy(buf, path, (size_t)n);
	g = guard_copy(buf, (size_t)n);
	q.path = g;
	q.path_len = (size_t)n;
	a = router_lookup(c, &q);
	b = router_lookup_linear(c, &q);
	if (a != b)
		print_error("%s %s %s: index %d, scan %d\n", r->method,
			    r->host ? r->host : "-", r->target, a, b);
	assert_int_equal(a, b);
	return a;
}

static void check_table(const struct config *c, const struct req *t, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		int got = route_of(c, &t[i]);
		const char *name = got >= 0 ? c->routes[got].name : NULL;

		if ((!name) != (!t[i].want) || (name && strcmp(name, t[i].want))) {
			print_error("case %zu: %s %s %s: want %s, got %s\n", i,
				    t[i].method, t[i].host ? t[i].host : "-",
				    t[i].target, t[i].want ? t[i].want : "(none)",
				    name ? name : "(none)");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char routes_a[] =
	"  - {name: any-root, service: s, path_exact: /}\n"
	"  - {name: any-api, service: s, path_prefix: /api/}\n"
	"  - {name: any-health, service: s, path_exact: /api/health}\n"
	"  - {name: any-user, service: s, path_regex: '/users/[0-9]+'}\n"
	"  - {name: ex-root, service: s, hosts: [api.example.com, 'API2.Example.com.']}\n"
	"  - {name: ex-v1, service: s, hosts: [api.example.com], path_prefix: /v1/}\n"
	"  - {name: ex-v1-get, service: s, hosts: [api.example.com], path_prefix: /v1/, methods: [GET]}\n"
	"  - {name: wild, service: s, hosts: ['*.example.com']}\n"
	"  - {name: wild-eu, service: s, hosts: ['*.eu.example.com']}\n"
	"  - {name: wild-v1, service: s, hosts: ['*.example.com'], path_prefix: /v1/}\n"
	"  - {name: v6, service: s, hosts: ['[fd00::1]', 127.0.0.1]}\n"
	"  - {name: hdr, service: s, path_prefix: /api/, headers: {X-Env: [canary, beta]}}\n"
	"  - {name: hdr2, service: s, path_prefix: /api/, headers: {x-env: canary, X-Tenant: acme}}\n"
	"  - {name: q, service: s, path_prefix: /api/, query: {version: '2'}}\n"
	"  - {name: rx-png, service: s, path_regex: '/files/.*\\.png'}\n"
	"  - {name: rx-any, service: s, path_regex: '/files/.*'}\n"
	"  - {name: rx-any-beta, service: s, path_regex: '/files/.*', headers: {X-Env: beta}}\n"
	"  - {name: prio-lo, service: s, path_prefix: /p/, headers: {a: '1'}, priority: 1}\n"
	"  - {name: prio-hi, service: s, path_prefix: /p/, headers: {b: '1'}, priority: 9}\n"
	"  - {name: prio-tie, service: s, path_prefix: /p/, headers: {c: '1'}, priority: 9}\n"
	"  - {name: files-prefix, service: s, path_prefix: /files/big/}\n";

static const struct req table_a[] = {
	/* hosts: exact, case, trailing dot, port, wildcard depth, apex */
	{ "GET", "api.example.com", "/", { 0 }, "ex-root" },
	{ "GET", "API.EXAMPLE.COM", "/", { 0 }, "ex-root" },
	{ "GET", "Api.Example.Com.", "/", { 0 }, "ex-root" },
	{ "GET", "api.example.com:8443", "/", { 0 }, "ex-root" },
	{ "GET", "api.example.com.:80", "/", { 0 }, "ex-root" },
	{ "GET", "api2.example.com", "/x", { 0 }, "ex-root" },
	{ "GET", "API2.EXAMPLE.COM.", "/x", { 0 }, "ex-root" },
	{ "GET", "api.example.com..", "/", { 0 }, "any-root" },
	{ "GET", "www.example.com", "/", { 0 }, "wild" },
	{ "GET", "a.b.example.com", "/", { 0 }, "wild" },
	{ "GET", "WWW.Example.COM:8080", "/", { 0 }, "wild" },
	{ "GET", "example.com", "/", { 0 }, "any-root" },	/* apex */
	{ "GET", ".example.com", "/", { 0 }, "any-root" },
	{ "GET", "a..example.com", "/", { 0 }, "any-root" },
	{ "GET", "xexample.com", "/", { 0 }, "any-root" },
	{ "GET", "example.com.evil.net", "/", { 0 }, "any-root" },
	{ "GET", "fr.eu.example.com", "/", { 0 }, "wild-eu" },	/* longer suffix */
	{ "GET", "a.fr.eu.example.com", "/", { 0 }, "wild-eu" },
	{ "GET", "eu.example.com", "/", { 0 }, "wild" },
	{ "GET", "www.example.com", "/v1/x", { 0 }, "wild-v1" },
	{ "GET", "fr.eu.example.com", "/v1/x", { 0 }, "wild-eu" },	/* host first */
	{ "GET", NULL, "/", { 0 }, "any-root" },
	{ "GET", "", "/", { 0 }, "any-root" },
	{ "GET", "unknown.test", "/api/x", { 0 }, "any-api" },
	/* IPv6 literal and IPv4 hosts */
	{ "GET", "[fd00::1]", "/", { 0 }, "v6" },
	{ "GET", "[FD00::1]:8080", "/", { 0 }, "v6" },
	{ "GET", "[fd00:0:0:0:0:0:0:1]", "/", { 0 }, "v6" },
	{ "GET", "[fd00::2]", "/", { 0 }, "any-root" },
	{ "GET", "[fd00::1", "/", { 0 }, "any-root" },
	{ "GET", "127.0.0.1:8080", "/", { 0 }, "v6" },
	{ "GET", "127.0.0.10", "/", { 0 }, "any-root" },
	/* host before path: the exact host's "/" beats any host's exact path */
	{ "GET", "api.example.com", "/api/health", { 0 }, "ex-root" },
	{ "GET", "api.example.com", "/v1/a", { 0 }, "ex-v1-get" },	/* method counts */
	{ "POST", "api.example.com", "/v1/a", { 0 }, "ex-v1" },
	{ "get", "api.example.com", "/v1/a", { 0 }, "ex-v1" },	/* method case */
	/* paths: exact before prefix before regex (a prefix "/" in the same
	 * host tier would shadow every regex: any-root is exact); the path
	 * is normalised first */
	{ "GET", NULL, "/api/health", { 0 }, "any-health" },
	{ "GET", NULL, "/api/health/", { 0 }, "any-api" },
	{ "GET", NULL, "/api/./health", { 0 }, "any-health" },
	{ "GET", NULL, "/api/x/../health", { 0 }, "any-health" },
	{ "GET", NULL, "//api//health", { 0 }, "any-health" },
	{ "GET", NULL, "/%61pi/%68ealth", { 0 }, "any-health" },
	{ "GET", NULL, "/API/health", { 0 }, NULL },	/* path case */
	{ "GET", NULL, "/api/health?x=1", { 0 }, "any-health" },
	{ "GET", NULL, "/users/42", { 0 }, "any-user" },
	{ "GET", NULL, "/users/42/", { 0 }, NULL },	/* anchored */
	{ "GET", NULL, "/x/users/42", { 0 }, NULL },
	{ "GET", NULL, "/users/%34%32", { 0 }, "any-user" },
	{ "GET", NULL, "/users/4a", { 0 }, NULL },
	{ "GET", NULL, "/files/a.png", { 0 }, "rx-png" },	/* file order */
	{ "GET", NULL, "/files/a.gif", { 0 }, "rx-any" },
	{ "GET", NULL, "/files/a.gif", { "X-Env: beta" }, "rx-any-beta" },
	{ "GET", NULL, "/files/big/a.png", { 0 }, "files-prefix" },	/* prefix first */
	/* headers: names case-insensitive, values exact, every field */
	{ "GET", NULL, "/api/x", { "X-Env: canary" }, "hdr" },
	{ "GET", NULL, "/api/x", { "x-env: beta" }, "hdr" },
	{ "GET", NULL, "/api/x", { "X-ENV: canary" }, "hdr" },
	{ "GET", NULL, "/api/x", { "X-Env: Canary" }, "any-api" },	/* value case */
	{ "GET", NULL, "/api/x", { "X-Env: canary " }, "any-api" },
	{ "GET", NULL, "/api/x", { "X-Env: canary, beta" }, "any-api" },
	{ "GET", NULL, "/api/x", { "X-Env: canary", "X-Env: beta" }, "hdr" },
	{ "GET", NULL, "/api/x", { "X-Env: canary", "X-Env: prod" }, "any-api" },
	{ "GET", NULL, "/api/x", { "X-Env: canary", "X-Tenant: acme" }, "hdr2" },
	{ "GET", NULL, "/api/x", { "X-Tenant: acme", "x-env: canary" }, "hdr2" },
	{ "GET", NULL, "/api/x", { "X-Env: beta", "X-Tenant: acme" }, "hdr" },
	{ "GET", NULL, "/api/x", { "X-Env_: canary" }, "any-api" },
	{ "GET", NULL, "/api/x", { "X_Env: canary" }, "any-api" },
	/* query: decoded names and values, every occurrence */
	{ "GET", NULL, "/api/x?version=2", { 0 }, "q" },
	{ "GET", NULL, "/api/x?a=1&version=2&b", { 0 }, "q" },
	{ "GET", NULL, "/api/x?ver%73ion=%32", { 0 }, "q" },
	{ "GET", NULL, "/api/x?version=2&version=2", { 0 }, "q" },
	{ "GET", NULL, "/api/x?version=2&version=3", { 0 }, "any-api" },
	{ "GET", NULL, "/api/x?version=3", { 0 }, "any-api" },
	{ "GET", NULL, "/api/x?Version=2", { 0 }, "any-api" },
	{ "GET", NULL, "/api/x?version", { 0 }, "any-api" },
	{ "GET", NULL, "/api/x?version=2%", { 0 }, "any-api" },
	{ "GET", NULL, "/api/x?version=+2", { 0 }, "any-api" },
	{ "GET", NULL, "/api/x?xversion=2", { 0 }, "any-api" },
	{ "GET", NULL, "/api/x?", { 0 }, "any-api" },
	{ "GET", NULL, "/api/x?&&version=2&&", { 0 }, "q" },
	/* more conditions, then priority, then file order */
	{ "GET", NULL, "/p/x", { "a: 1" }, "prio-lo" },
	{ "GET", NULL, "/p/x", { "a: 1", "b: 1" }, "prio-hi" },
	{ "GET", NULL, "/p/x", { "c: 1", "b: 1" }, "prio-hi" },
	{ "GET", NULL, "/p/x", { "c: 1", "a: 1" }, "prio-tie" },
	{ "GET", NULL, "/p/x", { 0 }, NULL },
};

static void test_table(void **state)
{
	struct config *c = load(routes_a);

	check_table(c, table_a, N(table_a));
	unload(c);
}

/* Only host routes: a request without a matching host finds none. */
static const struct req table_b[] = {
	{ "GET", "a.example.org", "/", { 0 }, "b-wild" },
	{ "GET", "example.org", "/", { 0 }, "b-apex" },
	{ "GET", "example.org", "/v2/x", { 0 }, "b-apex" },
	{ "GET", "a.example.org", "/v2/x", { 0 }, "b-wild-v2" },
	{ "GET", "a.example.org", "/v2", { 0 }, "b-wild" },
	{ "GET", "other.org", "/", { 0 }, NULL },
	{ "GET", NULL, "/", { 0 }, NULL },
	{ "GET", "a.example.org", "/exact", { 0 }, "b-wild-exact" },
	{ "GET", "a.example.org", "/exact/", { 0 }, "b-wild" },
};

static void test_hosts_only(void **state)
{
	struct config *c = load(
		"  - {name: b-apex, service: s, hosts: [example.org]}\n"
		"  - {name: b-wild, service: s, hosts: ['*.example.org']}\n"
		"  - {name: b-wild-v2, service: s, hosts: ['*.example.org'], path_prefix: /v2/}\n"
		"  - {name: b-wild-exact, service: s, hosts: ['*.example.org'], path_exact: /exact}\n");

	check_table(c, table_b, N(table_b));
	unload(c);
}

/* ---- random configurations: index == scan ---------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const char *const hostpool[] = { "a.x.io", "b.x.io", "*.x.io",
					"*.y.x.io", "c.y.x.io", "[::1]" };
static const char *const pathpool[] = { "/", "/a", "/a/", "/a/b", "/ab",
					"/b/c/d", "/a/b/c" };
static const char *const rxpool[] = { "/a/.*", "/[ab]+", "/a/b", ".*c.*" };

static void test_random_agree(void **state)
{
	static char y[1 << 16];

	for (int round = 0; round < 40; round++) {
		size_t o = 0, n = 1 + rnd(30);
		struct config *c;
		char *errs;

		for (size_t i = 0; i < n; i++) {
			o += (size_t)snprintf(y + o, sizeof(y) - o,
					      "  - {name: r%zu, service: s", i);
			if (rnd(2))
				o += (size_t)snprintf(y + o, sizeof(y) - o,
						      ", hosts: ['%s']",
						      hostpool[rnd(N(hostpool))]);
			switch (rnd(3)) {
			case 0:
				o += (size_t)snprintf(y + o, sizeof(y) - o,
						      ", path_prefix: %s",
						      pathpool[rnd(N(pathpool))]);
				break;
			case 1:
				o += (size_t)snprintf(y + o, sizeof(y) - o,
						      ", path_exact: %s",
						      pathpool[rnd(N(pathpool))]);
				break;
			default:
				o += (size_t)snprintf(y + o, sizeof(y) - o,
						      ", path_regex: '%s'",
						      rxpool[rnd(N(rxpool))]);
			}
			if (!rnd(3))
				o += (size_t)snprintf(y + o, sizeof(y) - o,
						      ", methods: [GET]");
			if (!rnd(3))
				o += (size_t)snprintf(y + o, sizeof(y) - o,
						      ", headers: {h: '%u'}", rnd(2));
			if (!rnd(4))
				o += (size_t)snprintf(y + o, sizeof(y) - o,
						      ", priority: %u", rnd(3));
			o += (size_t)snprintf(y + o, sizeof(y) - o, "}\n");
		}
		if (parse(y, &c, &errs)) {	/* a duplicate drawn: skip */
			free(errs);
			config_put(c);
			continue;
		}
		assert_int_equal(router_build(c), 0);
		for (int k = 0; k < 200; k++) {
			static const char *const hosts[] = {
				"a.x.io", "B.x.io.", "q.x.io", "c.y.x.io",
				"d.c.y.x.io", "x.io", "[::1]:1", NULL };
			char hv[8];
			struct req r = {
				.method = rnd(2) ? "GET" : "POST",
				.host = hosts[rnd(N(hosts))],
				.target = pathpool[rnd(N(pathpool))],
			};

			snprintf(hv, sizeof(hv), "h: %u", rnd(3));
			if (rnd(2))
				r.hdrs[0] = hv;
			route_of(c, &r);
		}
		unload(c);
	}
}

/* ---- config errors ---------------------------------------------------------- */

static void expect_error(const char *routes, const char *want)
{
	struct config *c;
	char *errs;

	assert_int_equal(parse(routes, &c, &errs), -EINVAL);
	assert_non_null(errs);
	if (!strstr(errs, want)) {
		print_error("want '%s' in:\n%s", want, errs);
		fail();
	}
	free(errs);
}

static void test_config_errors(void **state)
{
	/* line 5 is the first route (HEAD_YAML has 4 lines) */
	expect_error("  - {name: a, service: s, path_regex: '/a[b'}\n",
		     "r.yaml:5:39: routes[0].path_regex: invalid regular expression '/a[b': ");
	expect_error("  - {name: a, service: s, path_regex: '/(a'}\n",
		     "r.yaml:5:39: routes[0].path_regex: invalid regular expression");
	expect_error("  - {name: a, service: s, path_regex: '/a)|(b'}\n",
		     "unmatched ')'");
	expect_error("  - {name: a, service: s, path_regex: '/(a)\\1'}\n",
		     "back-references");
	expect_error("  - {name: a, service: s, path_regex: '/(a{20}){20}'}\n",
		     "more than 256 times");
	expect_error("  - {name: a, service: s, hosts: ['a.*.example.com']}\n",
		     "r.yaml:5:35: routes[0].hosts[0]: a wildcard must be the whole leftmost label");
	expect_error("  - {name: a, service: s, hosts: ['*example.com']}\n",
		     "wildcard must be the whole leftmost label");
	expect_error("  - {name: a, service: s, hosts: ['*']}\n",
		     "wildcard must be");
	expect_error("  - {name: a, service: s, hosts: ['a.com:80']}\n",
		     "must not include a port");
	expect_error("  - {name: a, service: s, hosts: [a.com, A.com.]}\n",
		     "duplicate host 'a.com'");
	expect_error("  - {name: a, service: s, host: a.com, hosts: [b.com]}\n",
		     "use one of 'host' and 'hosts'");
	expect_error("  - {name: a, service: s, path_exact: /a, strip_prefix: true}\n",
		     "r.yaml:5:57: routes[0].strip_prefix: needs path_prefix");
	expect_error("  - {name: a, service: s, path_prefix: /a, path_exact: /a}\n",
		     "use only one of path_prefix, path_exact and path_regex");
	expect_error("  - {name: a, service: s, strip_prefix: true, rewrite_prefix: /v2/}\n",
		     "use one of strip_prefix and rewrite_prefix");
	expect_error("  - {name: a, service: s, path_regex: /a, rewrite_prefix: /v2/}\n",
		     "a path_regex has no prefix to replace");
	expect_error("  - {name: a, service: s, path_exact: /a/../b}\n",
		     "not in normal form");
	expect_error("  - {name: a, service: s, headers: {X-A: '1', x-a: '2'}}\n",
		     "'x-a' is given twice");
	expect_error("  - {name: a, service: s, headers: {'X A': '1'}}\n",
		     "invalid header name");
	expect_error("  - {name: a, service: s, query: {'a=b': '1'}}\n",
		     "invalid query parameter name");
	expect_error("  - {name: a, service: s, path_prefix: /x, hosts: [b.com, a.com]}\n"
		     "  - {name: b, service: s, path_prefix: /x, hosts: [a.com, b.com], priority: 3}\n"
		     "  - {name: c, service: s, path_prefix: /x, hosts: [a.com]}\n",
		     "r.yaml:5:5: routes[0]: route 'a' has the same conditions as route 'b' (line 6)");
	expect_error("  - {name: a, service: s, headers: {x: [a, b]}}\n"
		     "  - {name: b, service: s, headers: {X: [b, a]}}\n",
		     "route 'b' has the same conditions as route 'a'");
	expect_error("  - {name: a, service: s, priority: 1000001}\n",
		     "routes[0].priority");
}

/* Keys that are fine, and what they leave in the route. */
static void test_config_values(void **state)
{
	struct config *c = load(
		"  - {name: a, service: s, host: 'API.Example.COM.'}\n"
		"  - {name: b, service: s, hosts: ['*.Example.com', '[FD00:0::1]'], path_exact: /x, rewrite_prefix: /y/, preserve_host: false, priority: -5}\n"
		"  - {name: c, service: s, path_prefix: /c/, strip_prefix: true}\n"
		"  - {name: d, service: s, path_prefix: /c/, methods: [GET]}\n");

	assert_int_equal(c->routes[0].n_hosts, 1);
	assert_string_equal(c->routes[0].hosts[0], "api.example.com");
	assert_true(c->routes[0].preserve_host);
	assert_string_equal(c->routes[1].hosts[0], "*.example.com");
	assert_string_equal(c->routes[1].hosts[1], "[fd00::1]");
	assert_int_equal(c->routes[1].path_kind, CFG_PATH_EXACT);
	assert_false(c->routes[1].preserve_host);
	assert_int_equal(c->routes[1].priority, -5);
	assert_string_equal(c->routes[1].rewrite_prefix, "/y/");
	assert_true(c->routes[2].strip_prefix);
	assert_int_equal(c->routes[3].line, 8);
	assert_int_equal(c->routes[3].col, 5);
	unload(c);
}

/* ---- --explain request parsing ---------------------------------------------- */

static void test_parse_explain(void **state)
{
	char path[256];
	struct http_header h[4];
	struct router_req q;
	const char *err, *hl[] = { "Host: ignored.example", "X-Env:  beta  " };

	assert_int_equal(router_parse_explain("GET https://API.example.com:8443/v1/./x?a=1",
					      hl, 2, 0, path, sizeof(path), h, 4,
					      &q, &err), 0);
	assert_int_equal(q.host_len, 20);
	assert_memory_equal(q.host, "API.example.com:8443", 20);
	assert_int_equal(q.path_len, 5);
	assert_memory_equal(q.path, "/v1/x", 5);
	assert_int_equal(q.query_len, 3);
	assert_int_equal(q.n_headers, 2);
	assert_int_equal(h[1].value_len, 4);
	assert_int_equal(router_parse_explain("POST /a?b", hl, 1, 0, path,
					      sizeof(path), h, 4, &q, &err), 0);
	assert_memory_equal(q.host, "ignored.example", 15);
	assert_int_equal(router_parse_explain("GET http://h", NULL, 0, 0, path,
					      sizeof(path), h, 4, &q, &err), 0);
	assert_int_equal(q.path_len, 1);
	assert_int_equal(router_parse_explain("GET", NULL, 0, 0, path,
					      sizeof(path), h, 4, &q, &err), -1);
	assert_int_equal(router_parse_explain("GET x/y", NULL, 0, 0, path,
					      sizeof(path), h, 4, &q, &err), -1);
	assert_int_equal(router_parse_explain("GET http:///x", NULL, 0, 0, path,
					      sizeof(path), h, 4, &q, &err), -1);
	assert_int_equal(router_parse_explain("GET /../x", NULL, 0, 0, path,
					      sizeof(path), h, 4, &q, &err), -1);
	assert_int_equal(router_parse_explain("GET /x junk", NULL, 0, 0, path,
					      sizeof(path), h, 4, &q, &err), -1);
	hl[0] = "NoColon";
	assert_int_equal(router_parse_explain("GET /x", hl, 1, 0, path,
					      sizeof(path), h, 4, &q, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_hosts_only),
		cmocka_unit_test(test_random_agree),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_values),
		cmocka_unit_test(test_parse_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
