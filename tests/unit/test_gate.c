// SPDX-License-Identifier: MIT
/*
 * Unit tests for the gate's rate-limit answers: the 429 response and the
 * headers of allowed responses carry RateLimit-Policy (IETF draft) naming
 * the windows of the limit that decided, next to RateLimit-Limit/-Remaining
 * /-Reset; and a limit's state carries over a reload that leaves it
 * unchanged (policy_adopt), as seen through gate_check().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "policy/policy.h"
#include "proxy/gate.h"
#include "http/http.h"
#include "policy/realip.h"

#define NS 1000000000ull
#define T0 (1000ull * NS)

static char dir[64];

static struct config *load(const char *text)
{
	char path[128], *errors = NULL;
	struct config *c = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/sluice.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (policy_load_file(path, &c, &errors))
		fail_msg("%s", errors);
	return c;
}

#define CFG(route_limits)                                                  \
	"listeners: [{name: pub, address: '127.0.0.1:8080'}]\n"            \
	"xdp: {enabled: false}\n"                                          \
	"services: [{name: echo, targets: ['127.0.0.1:9001']}]\n"          \
	"routes:\n"                                                        \
	"  - name: api\n"                                                  \
	"    service: echo\n"                                              \
	"    ratelimit_headers: true\n"                                    \
	"    limits: [" route_limits "]\n"

static int check(const struct config *c, uint64_t now, struct gate_verdict *v)
{
	struct http_request r;
	struct sockaddr_in peer = { .sin_family = AF_INET };

	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.method_len = 3;
	r.target = "/x";
	r.target_len = 2;
	inet_pton(AF_INET, "192.0.2.7", &peer.sin_addr);
	return gate_check(c, 0, &r, (struct sockaddr *)&peer, 0, now, v);
}

static const struct http_header *find(const struct http_response *resp,
				      const char *name)
{
	for (size_t i = 0; i < resp->num_headers; i++)
		if (resp->headers[i].name_len == strlen(name) &&
		    !memcmp(resp->headers[i].name, name, strlen(name)))
			return &resp->headers[i];
	return NULL;
}

static void assert_header(const struct http_response *resp, const char *name,
			  const char *want)
{
	const struct http_header *h = find(resp, name);

	if (!h)
		fail_msg("no %s header", name);
	if (h->value_len != strlen(want) || memcmp(h->value, want, h->value_len))
		fail_msg("%s: '%.*s', want '%s'", name, (int)h->value_len,
			 h->value, want);
}

static void test_policy_headers(void **state)
{
	struct config *c = load(CFG("{key: ip, rates: ['2/m', '100/h']}, "
				    "{key: global, rates: ['50/s']}"));
	struct http_response resp;
	struct gate_verdict v;
	char scratch[256], out[2048];
	long n;

	(void)state;
	assert_int_equal(check(c, T0, &v), 0);
	assert_true(v.have_rl);
	/* the ip limit is the tightest: 1 of 2 left in its minute */
	memset(&resp, 0, sizeof(resp));
	assert_int_equal(gate_add_ratelimit_headers(&resp, &v.rl, scratch,
						    sizeof(scratch)), 0);
	assert_int_equal(resp.num_headers, 4);
	assert_header(&resp, "RateLimit-Limit", "2");
	assert_header(&resp, "RateLimit-Remaining", "1");
	assert_header(&resp, "RateLimit-Policy", "2;w=60, 100;w=3600");
	/* no room for the policy: a clear -ENOSPC, not a truncated value */
	memset(&resp, 0, sizeof(resp));
	assert_int_equal(gate_add_ratelimit_headers(&resp, &v.rl, scratch, 12),
			 -ENOSPC);
	/* without a policy, three headers as before */
	{
		struct rl_result bare = v.rl;

		bare.policy = NULL;
		memset(&resp, 0, sizeof(resp));
		assert_int_equal(gate_add_ratelimit_headers(&resp, &bare, scratch,
							    sizeof(scratch)), 0);
		assert_int_equal(resp.num_headers, 3);
		assert_null(find(&resp, "RateLimit-Policy"));
	}

	assert_int_equal(check(c, T0 + 1, &v), 0);
	assert_int_equal(check(c, T0 + 2, &v), 429);
	n = gate_error_response(c, 0, &v, false, NULL, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "HTTP/1.1 429 "));
	assert_non_null(strstr(out, "\r\nRetry-After: "));
	assert_non_null(strstr(out, "\r\nRateLimit-Remaining: 0\r\n"));
	if (!strstr(out, "\r\nRateLimit-Policy: 2;w=60, 100;w=3600\r\n"))
		fail_msg("no RateLimit-Policy in:\n%s", out);
	assert_null(strstr(out, "X-Request-Id"));
	/* the request's id goes back on a refusal too */
	n = gate_error_response(c, 0, &v, false, "req-42", out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "\r\nX-Request-Id: req-42\r\n"));
	n = gate_error_response(c, 0, &v, false, "", out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_null(strstr(out, "X-Request-Id"));
	config_put(c);
}

/* The gate's view of a reload: the unchanged limit still refuses, the
 * changed one starts fresh. */
static void test_reload_keeps_state(void **state)
{
	struct config *a = load(CFG("{key: ip, rates: ['1/m']}"));
	struct config *b = load(CFG("{key: ip, rates: ['1/m']}"));
	struct config *c = load(CFG("{key: ip, rates: ['2/m']}"));
	struct gate_verdict v;

	(void)state;
	assert_int_equal(check(a, T0, &v), 0);
	assert_int_equal(check(a, T0, &v), 429);
	/* without adoption b would be fresh; with it, still limited */
	assert_int_equal(policy_adopt(b, a), 1);
	config_put(a);
	assert_int_equal(check(b, T0 + NS, &v), 429);
	assert_int_equal(v.rl.retry_after_s, 59);
	/* a changed limit: fresh */
	assert_int_equal(policy_adopt(c, b), 0);
	assert_int_equal(check(c, T0 + NS, &v), 0);
	config_put(b);
	config_put(c);
}

/* The upstream's view: every client field a CGI-style backend would read
 * as an X-Consumer-* one is gone, the gate's own are there once. */
static void test_upstream_consumer_lookalikes(void **state)
{
	static const char text[] =
		"GET / HTTP/1.1\r\nHost: h\r\n"
		"X_Consumer_Name: spoof0\r\n"
		"x-consumer_roles: spoof1\r\n"
		"X-CONSUMER-NAME: spoof2\r\n"
		"X-Consumer-Name: spoof3\r\n"
		"X-Consumer-ID: spoof4\r\n"
		"x_consumer_groups: spoof5\r\n"
		"X-Consumer: kept\r\n\r\n";
	static char buf[sizeof(text)], scratch[512];
	struct http_request r;
	struct gate_verdict v;
	size_t names = 0, roles = 0, kept = 0;

	(void)state;
	memcpy(buf, text, sizeof(text));
	assert_int_equal(http_parse_request(buf, sizeof(text) - 1, 0, NULL, &r),
			 (int)sizeof(text) - 1);
	memset(&v, 0, sizeof(v));
	v.auth.authenticated = true;
	strcpy(v.auth.consumer, "alice");
	strcpy(v.auth.roles[0], "ops");
	v.auth.n_roles = 1;
	assert_int_equal(gate_upstream_request(&r, &v, scratch,
					       sizeof(scratch)), 0);
	for (size_t i = 0; i < r.num_headers; i++) {
		const struct http_header *f = &r.headers[i];

		if (memmem(f->value, f->value_len, "spoof", 5))
			fail_msg("%.*s reached the upstream",
				 (int)f->name_len, f->name);
		if (f->value_len == 5 && !memcmp(f->value, "alice", 5))
			names++;
		if (f->value_len == 3 && !memcmp(f->value, "ops", 3))
			roles++;
		if (f->value_len == 4 && !memcmp(f->value, "kept", 4))
			kept++;
	}
	assert_int_equal(names, 1);
	assert_int_equal(roles, 1);
	assert_int_equal(kept, 1);
}

static int check_from(const struct config *c, const char *client,
		      const char *authz, uint64_t now, struct gate_verdict *v)
{
	struct http_request r;
	struct sockaddr_storage ss;

	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.method_len = 3;
	r.target = r.path = "/";
	r.target_len = r.path_len = 1;
	if (authz)
		r.headers[r.num_headers++] = (struct http_header){
			"Authorization", 13, authz, strlen(authz) };
	assert_int_equal(realip_parse(client, strlen(client), &ss), 0);
	return gate_check(c, 0, &r, (struct sockaddr *)&ss, 0, now, v);
}

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;

	assert_int_equal(realip_parse(s, strlen(s), &ss), 0);
	return ss;
}

/* IPv6 clients are limited per xdp.ipv6_prefix (/64 by default), as XDP
 * groups them: 20 addresses of one /64 share one 3/m. */
static void test_v6_prefix_limits(void **state)
{
	struct config *c = load(CFG("{key: ip, rates: ['3/m']}"));
	struct config *c128 = load(
		"listeners: [{name: pub, address: '127.0.0.1:8080'}]\n"
		"xdp: {enabled: false, rate_limit: {ipv6_prefix: 128}}\n"
		"services: [{name: echo, targets: ['127.0.0.1:9001']}]\n"
		"routes: [{name: api, service: echo,"
		" limits: [{key: ip, rates: ['3/m']}]}]\n");
	struct gate_verdict v;
	char ip[64];
	int ok = 0;

	(void)state;
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "fd00:5c::%x:%x", 0x1000 + i, i * 7);
		if (check_from(c, ip, NULL, T0 + (uint64_t)i, &v) == 0)
			ok++;
		else
			assert_int_equal(v.status, 429);
	}
	assert_int_equal(ok, 3);
	/* another /64 is another client */
	assert_int_equal(check_from(c, "fd00:5d::1", NULL, T0, &v), 0);
	/* IPv4-mapped and plain IPv4 are one client */
	assert_int_equal(check_from(c, "192.0.2.1", NULL, T0, &v), 0);
	assert_int_equal(check_from(c, "192.0.2.1", NULL, T0, &v), 0);
	assert_int_equal(check_from(c, "::ffff:192.0.2.1", NULL, T0, &v), 0);
	assert_int_equal(check_from(c, "192.0.2.1", NULL, T0, &v), 429);
	/* ipv6_prefix: 128 keys each address alone */
	ok = 0;
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "fd00:5c::%x", 0x1000 + i);
		ok += check_from(c128, ip, NULL, T0, &v) == 0;
	}
	assert_int_equal(ok, 20);
	config_put(c);
	config_put(c128);
}

static struct {
	int calls;
	int fail;
	char addr[64];
	unsigned int prefixlen;
	uint32_t seconds;
} sink;

static int test_sink(void *ctx, const struct sockaddr *addr,
		     unsigned int prefixlen, uint32_t seconds)
{
	(void)ctx;
	sink.calls++;
	realip_format((const struct sockaddr_storage *)addr, sink.addr,
		      sizeof(sink.addr));
	sink.prefixlen = prefixlen;
	sink.seconds = seconds;
	return sink.fail;
}

#define ESC_CFG                                                           \
	"listeners: [{name: pub, address: '127.0.0.1:8080'}]\n"            \
	"xdp: {enabled: false}\n"                                          \
	"services: [{name: echo, targets: ['127.0.0.1:9001']}]\n"          \
	"trusted_proxies: [198.18.0.2]\n"                                  \
	"escalation: {enabled: true, threshold: 2, window_s: 60,"          \
	" ban_s: 30}\n"                                                    \
	"consumers: [{name: bob, bearer_tokens: ['sha256:"                 \
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  \
	"']}]\n"                                                           \
	"routes: [{name: api, service: echo, auth: [bearer]}]\n"

/* Strike `client` until banned; returns the number of 401s it took. */
static int strike_out(const struct config *c, const char *client,
		      bool via_proxy, uint64_t now)
{
	struct sockaddr_storage ss = sa(client);
	struct gate_verdict v;

	for (int i = 1; i <= 10; i++) {
		assert_int_equal(check_from(c, client, NULL, now, &v), 401);
		if (gate_strike(c, (struct sockaddr *)&ss, via_proxy, v.status,
				now))
			return i;
	}
	fail_msg("%s never banned", client);
	return 0;
}

/* A client behind a proxy is banned in L7 (XDP sees only the proxy):
 * refused early with 403 "banned", other clients of the same proxy are
 * not, and nothing goes to the XDP sink. A direct client goes to XDP with
 * its address (IPv6: its /64). */
static void test_escalation_where(void **state)
{
	struct config *c = load(ESC_CFG);
	struct gate_stats before, after;
	struct gate_verdict v;
	char out[1024];
	long n;

	(void)state;
	memset(&sink, 0, sizeof(sink));
	gate_set_ban_sink(test_sink, NULL);
	gate_get_stats(&before);

	assert_int_equal(strike_out(c, "203.0.113.9", true, T0), 3);
	assert_int_equal(sink.calls, 0);
	assert_int_equal(check_from(c, "203.0.113.9", "Bearer test", T0 + NS,
				    &v), 403);
	assert_string_equal(v.code, "banned");
	assert_int_equal(v.ban_left_s, 29);
	n = gate_error_response(c, 0, &v, false, NULL, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "HTTP/1.1 403 "));
	assert_non_null(strstr(out, "\r\nRetry-After: 29\r\n"));
	assert_non_null(strstr(out, "\"error\":\"banned\""));
	/* another client behind the same proxy: served */
	assert_int_equal(check_from(c, "203.0.113.10", "Bearer test",
				    T0 + NS, &v), 0);
	/* the proxy itself is never struck */
	{
		struct sockaddr_storage p = sa("198.18.0.2");

		for (int i = 0; i < 5; i++)
			assert_false(gate_strike(c, (struct sockaddr *)&p,
						 false, 401, T0));
	}
	/* the ban expires by itself */
	assert_int_equal(check_from(c, "203.0.113.9", "Bearer test",
				    T0 + 31 * NS, &v), 0);

	/* behind a proxy, IPv6: the /64 is banned in L7 */
	strike_out(c, "2001:db8:1:2::5", true, T0);
	assert_int_equal(sink.calls, 0);
	assert_int_equal(check_from(c, "2001:db8:1:2:ffff::1", NULL, T0, &v),
			 403);
	assert_int_equal(check_from(c, "2001:db8:1:3::5", NULL, T0, &v), 401);

	/* a direct client: XDP, with its prefix */
	strike_out(c, "192.0.2.77", false, T0);
	assert_int_equal(sink.calls, 1);
	assert_string_equal(sink.addr, "192.0.2.77");
	assert_int_equal(sink.prefixlen, 32);
	assert_int_equal(sink.seconds, 30);
	assert_int_equal(check_from(c, "192.0.2.77", NULL, T0, &v), 401);
	strike_out(c, "2001:db8:9:9:1:2:3:4", false, T0);
	assert_int_equal(sink.calls, 2);
	assert_string_equal(sink.addr, "2001:db8:9:9::");
	assert_int_equal(sink.prefixlen, 64);
	/* the XDP sink fails: banned in L7 instead */
	sink.fail = -EOPNOTSUPP;
	strike_out(c, "192.0.2.78", false, T0);
	assert_int_equal(sink.calls, 3);
	assert_int_equal(check_from(c, "192.0.2.78", NULL, T0, &v), 403);

	gate_get_stats(&after);
	assert_int_equal(after.bans - before.bans, 2);
	assert_int_equal(after.bans_l7 - before.bans_l7, 3);
	assert_int_equal(after.banned - before.banned, 3);
	gate_set_ban_sink(NULL, NULL);
	config_put(c);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-gate-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/sluice.yaml", dir);
	unlink(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_headers),
		cmocka_unit_test(test_reload_keeps_state),
		cmocka_unit_test(test_upstream_consumer_lookalikes),
		cmocka_unit_test(test_v6_prefix_limits),
		cmocka_unit_test(test_escalation_where),
	};

	return cmocka_run_group_tests_name("gate", tests, setup, teardown);
}
