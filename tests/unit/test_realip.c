// SPDX-License-Identifier: MIT
/* Unit tests for daemon/realip.c: trusted CIDRs and X-Forwarded-For. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "realip.h"

static struct allowlist_entry cidrs[3];

static int setup(void **state)
{
	char err[128];

	assert_int_equal(allowlist_parse_cidr("198.18.0.0/24", &cidrs[0], err,
					      sizeof(err)), 0);
	assert_int_equal(allowlist_parse_cidr("fd00:5c::/64", &cidrs[1], err,
					      sizeof(err)), 0);
	assert_int_equal(allowlist_parse_cidr("10.1.2.3", &cidrs[2], err,
					      sizeof(err)), 0);
	return 0;
}

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage ss;

	assert_int_equal(realip_parse(s, strlen(s), &ss), 0);
	return ss;
}

static bool trusted(const char *s)
{
	struct sockaddr_storage ss = addr(s);

	return realip_trusted(cidrs, 3, (struct sockaddr *)&ss);
}

static void test_trusted(void **state)
{
	assert_true(trusted("198.18.0.1"));
	assert_true(trusted("198.18.0.255"));
	assert_false(trusted("198.18.1.0"));
	assert_true(trusted("10.1.2.3"));
	assert_false(trusted("10.1.2.4"));
	assert_true(trusted("fd00:5c::77"));
	assert_false(trusted("fd00:5d::1"));
	assert_true(trusted("::ffff:198.18.0.7"));	/* v4-mapped */
	assert_false(trusted("::ffff:198.19.0.7"));
	{
		struct sockaddr_storage ss = addr("198.18.0.1");

		assert_false(realip_trusted(cidrs, 0, (struct sockaddr *)&ss));
	}
}

static void test_parse(void **state)
{
	struct sockaddr_storage ss;
	char buf[64];
	static const char *const good[] = { "1.2.3.4", "1.2.3.4:80", "::1",
					    "[::1]", "[::1]:443", "fd00::1:2" };
	static const char *const bad[] = { "", "1.2.3", "1.2.3.4:", "1.2.3.4:x",
					   "[::1", "[::1]x", "[1.2.3.4]",
					   "unknown", "01.2.3.4", "1.2.3.4:123456",
					   "::1:80:", "[::1]:" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(realip_parse(good[i], strlen(good[i]), &ss), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (realip_parse(bad[i], strlen(bad[i]), &ss) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	}
	ss = addr("[fd00::9]:80");
	realip_format(&ss, buf, sizeof(buf));
	assert_string_equal(buf, "fd00::9");
}

/* Resolve with the given peer and X-Forwarded-For field values. */
static const char *resolve(const char *peer, const char *const *xff,
			   size_t n, bool *used)
{
	static char out[64];
	struct http_request req;
	struct sockaddr_storage p = addr(peer), r;

	memset(&req, 0, sizeof(req));
	req.headers[req.num_headers++] = (struct http_header){
		"Host", 4, "h", 1 };
	for (size_t i = 0; i < n; i++) {
		req.headers[req.num_headers++] = (struct http_header){
			i % 2 ? "x-forwarded-for" : "X-Forwarded-For", 15,
			xff[i], strlen(xff[i]) };
		req.headers[req.num_headers++] = (struct http_header){
			"X-Other", 7, "9.9.9.9", 7 };
	}
	*used = realip_resolve(cidrs, 3, &p, &req, &r);
	realip_format(&r, out, sizeof(out));
	return out;
}

static void test_resolve(void **state)
{
	const char *one[] = { "203.0.113.7" };
	const char *chain[] = { "203.0.113.7, 192.0.2.1, 198.18.0.5" };
	const char *split[] = { "203.0.113.7", "192.0.2.1 ,198.18.0.5 , " };
	const char *alltrusted[] = { "198.18.0.9, 10.1.2.3" };
	const char *garbage[] = { "203.0.113.7, nonsense, 198.18.0.5" };
	const char *garbage_last[] = { "203.0.113.7, nonsense" };
	const char *v6[] = { "[2001:db8::1]:5555, fd00:5c::3" };
	bool used;

	/* untrusted peer: XFF is ignored whatever it says */
	assert_string_equal(resolve("192.0.2.50", one, 1, &used), "192.0.2.50");
	assert_false(used);
	/* trusted peer: its entry is believed */
	assert_string_equal(resolve("198.18.0.2", one, 1, &used), "203.0.113.7");
	assert_true(used);
	/* chain: rightmost untrusted entry wins (192.0.2.1, not the
	 * client-supplied leftmost one) */
	assert_string_equal(resolve("198.18.0.2", chain, 1, &used), "192.0.2.1");
	/* same across several fields, odd spacing, empty elements */
	assert_string_equal(resolve("198.18.0.2", split, 2, &used), "192.0.2.1");
	/* every hop trusted: the leftmost */
	assert_string_equal(resolve("198.18.0.2", alltrusted, 1, &used),
			    "198.18.0.9");
	/* garbage stops the walk at the trusted hop that sent it */
	assert_string_equal(resolve("198.18.0.2", garbage, 1, &used),
			    "198.18.0.5");
	assert_true(used);
	assert_string_equal(resolve("198.18.0.2", garbage_last, 1, &used),
			    "198.18.0.2");
	assert_false(used);
	assert_string_equal(resolve("fd00:5c::1", v6, 1, &used), "2001:db8::1");
	/* no XFF at all */
	assert_string_equal(resolve("198.18.0.2", NULL, 0, &used), "198.18.0.2");
	assert_false(used);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
