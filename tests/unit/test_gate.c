// SPDX-License-Identifier: MIT
/*
 * Unit tests for the gate's rate-limit answers: the 429 response and the
 * headers of allowed responses carry RateLimit-Policy (IETF draft) naming
 * the windows of the limit that decided, next to RateLimit-Limit/-Remaining
 * /-Reset; and a limit's state carries over a reload that leaves it
 * unchanged (config_security_adopt), as seen through gate_check().
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

#include "config.h"
#include "gate.h"
#include "http.h"

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
	if (config_load_file(path, &c, &errors))
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
	assert_int_equal(config_security_adopt(b, a), 1);
	config_put(a);
	assert_int_equal(check(b, T0 + NS, &v), 429);
	assert_int_equal(v.rl.retry_after_s, 59);
	/* a changed limit: fresh */
	assert_int_equal(config_security_adopt(c, b), 0);
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
	};

	return cmocka_run_group_tests_name("gate", tests, setup, teardown);
}
