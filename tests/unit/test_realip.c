// SPDX-License-Identifier: MIT
/* Unit tests for daemon/policy/realip.c: trusted CIDRs and X-Forwarded-For. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy/realip.h"

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
	/* strict: an address, IPv6 maybe in brackets; nothing else */
	static const char *const good[] = { "1.2.3.4", "::1", "[::1]",
					    "fd00::1:2", "[2001:db8::1]",
					    "::ffff:1.2.3.4", "0.0.0.0" };
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4:", "1.2.3.4:x", "1.2.3.4:80",
		"[::1", "[::1]x", "[1.2.3.4]", "[::1]:443", "unknown",
		"01.2.3.4", "1.2.3.4:123456", "::1:80:", "[::1]:", "[]",
		" 1.2.3.4", "1.2.3.4 ", "fe80::1%eth0", "1.2.3.4/32",
		"_hidden", "1.2.3.4.5", "256.1.1.1", "0x7f.0.0.1",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (realip_parse(good[i], strlen(good[i]), &ss))
			fail_msg("refused '%s'", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (realip_parse(bad[i], strlen(bad[i]), &ss) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	}
	ss = addr("[fd00::9]");
	realip_format(&ss, buf, sizeof(buf));
	assert_string_equal(buf, "fd00::9");
	/* IPv4-mapped IPv6 is IPv4, parsed or formatted */
	ss = addr("::ffff:198.18.0.7");
	assert_int_equal(ss.ss_family, AF_INET);
	{
		struct sockaddr_in6 m = { .sin6_family = AF_INET6 };

		inet_pton(AF_INET6, "::ffff:203.0.113.1", &m.sin6_addr);
		memcpy(&ss, &m, sizeof(m));
		realip_format(&ss, buf, sizeof(buf));
		assert_string_equal(buf, "203.0.113.1");
	}
}


struct resolve_case {
	const char *peer;
	const char *xff[4];		/* field lines, in order */
	int err;			/* realip_resolve() */
	const char *client;		/* resolved client */
	const char *upstream;		/* X-Forwarded-For sent on */
};

/* Trusted: 198.18.0.0/24, fd00:5c::/64, 10.1.2.3. */
static const struct resolve_case cases[] = {
	/* untrusted peer: X-Forwarded-For is ignored and replaced */
	{ "192.0.2.50", { "203.0.113.7" }, 0, "192.0.2.50", "192.0.2.50" },
	{ "192.0.2.50", { "garbage,," }, 0, "192.0.2.50", "192.0.2.50" },
	/* trusted peer, no XFF: the peer itself */
	{ "198.18.0.2", { NULL }, 0, "198.18.0.2", "198.18.0.2" },
	/* trusted peer: its element is believed */
	{ "198.18.0.2", { "203.0.113.7" }, 0, "203.0.113.7",
	  "203.0.113.7, 198.18.0.2" },
	/* the rightmost untrusted element wins; a client-written leftmost
	 * one is neither the client nor passed on */
	{ "198.18.0.2", { "6.6.6.6, 203.0.113.7, 198.18.0.5" }, 0,
	  "203.0.113.7", "203.0.113.7, 198.18.0.5, 198.18.0.2" },
	/* several field lines, in order, odd spacing and tabs */
	{ "198.18.0.2", { "6.6.6.6", " 203.0.113.7\t,\t198.18.0.5 " }, 0,
	  "203.0.113.7", "203.0.113.7, 198.18.0.5, 198.18.0.2" },
	{ "198.18.0.2", { "203.0.113.7", "198.18.0.9", "10.1.2.3" }, 0,
	  "203.0.113.7", "203.0.113.7, 198.18.0.9, 10.1.2.3, 198.18.0.2" },
	/* every hop trusted: the leftmost */
	{ "198.18.0.2", { "198.18.0.9, 10.1.2.3" }, 0, "198.18.0.9",
	  "198.18.0.9, 10.1.2.3, 198.18.0.2" },
	/* ip:port, [v6]:port: not addresses, refused */
	{ "198.18.0.2", { "203.0.113.9:4711" }, -EINVAL, "198.18.0.2", NULL },
	{ "198.18.0.2", { "[2001:db8::1]:443" }, -EINVAL, "198.18.0.2", NULL },
	/* empty elements reached by the walk: refused */
	{ "198.18.0.2", { "203.0.113.7," }, -EINVAL, "198.18.0.2", NULL },
	{ "198.18.0.2", { "203.0.113.7, " }, -EINVAL, "198.18.0.2", NULL },
	{ "198.18.0.2", { "203.0.113.7,,198.18.0.5" }, -EINVAL, "198.18.0.2",
	  NULL },
	{ "198.18.0.2", { "" }, -EINVAL, "198.18.0.2", NULL },
	{ "198.18.0.2", { "203.0.113.7", "" }, -EINVAL, "198.18.0.2", NULL },
	/* ... but not behind the client: elements left of it are not read */
	{ "198.18.0.2", { ",,garbage, 203.0.113.7" }, 0, "203.0.113.7",
	  "203.0.113.7, 198.18.0.2" },
	{ "198.18.0.2", { "", "203.0.113.7" }, 0, "203.0.113.7",
	  "203.0.113.7, 198.18.0.2" },
	/* garbage from a trusted hop */
	{ "198.18.0.2", { "203.0.113.7, nonsense, 198.18.0.5" }, -EINVAL,
	  "198.18.0.2", NULL },
	{ "198.18.0.2", { "unknown" }, -EINVAL, "198.18.0.2", NULL },
	{ "198.18.0.2", { "203.0.113.7 198.18.0.5" }, -EINVAL, "198.18.0.2",
	  NULL },
	{ "198.18.0.2", { "\"203.0.113.7\"" }, -EINVAL, "198.18.0.2", NULL },
	/* IPv6, bracketed IPv6 */
	{ "fd00:5c::1", { "2001:db8::1, [fd00:5c::3]" }, 0, "2001:db8::1",
	  "2001:db8::1, fd00:5c::3, fd00:5c::1" },
	{ "fd00:5c::1", { "[2001:DB8:0::1]" }, 0, "2001:db8::1",
	  "2001:db8::1, fd00:5c::1" },
	/* IPv4-mapped: IPv4 everywhere, as a peer, a hop or the client */
	{ "::ffff:198.18.0.2", { "::ffff:203.0.113.7" }, 0, "203.0.113.7",
	  "203.0.113.7, 198.18.0.2" },
	{ "198.18.0.2", { "203.0.113.7, ::ffff:198.18.0.5" }, 0,
	  "203.0.113.7", "203.0.113.7, 198.18.0.5, 198.18.0.2" },
	{ "::ffff:192.0.2.50", { "203.0.113.7" }, 0, "192.0.2.50",
	  "192.0.2.50" },
};

static void run_case(const struct resolve_case *tc, size_t idx)
{
	struct http_request req;
	struct realip_result res;
	struct sockaddr_storage p;
	char got[64], xff[REALIP_XFF_MAX];
	int err;

	memset(&req, 0, sizeof(req));
	memset(&p, 0, sizeof(p));
	if (strchr(tc->peer, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p;

		s6->sin6_family = AF_INET6;	/* as accept() gives it */
		assert_int_equal(inet_pton(AF_INET6, tc->peer,
					   &s6->sin6_addr), 1);
	} else {
		p = addr(tc->peer);
	}
	req.headers[req.num_headers++] = (struct http_header){
		"Host", 4, "h", 1 };
	for (size_t i = 0; i < 4 && tc->xff[i]; i++) {
		req.headers[req.num_headers++] = (struct http_header){
			i % 2 ? "x-forwarded-for" : "X-Forwarded-For", 15,
			tc->xff[i], strlen(tc->xff[i]) };
		req.headers[req.num_headers++] = (struct http_header){
			"X-Other", 7, "9.9.9.9", 7 };
	}
	err = realip_resolve(cidrs, 3, &p, &req, &res);
	if (err != tc->err)
		fail_msg("case %zu: err %d, want %d", idx, err, tc->err);
	realip_format(&res.client, got, sizeof(got));
	if (strcmp(got, tc->client))
		fail_msg("case %zu: client %s, want %s", idx, got, tc->client);
	if (res.client.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&res.client)->sin6_addr))
		fail_msg("case %zu: mapped address not normalised", idx);
	if (!tc->upstream)
		return;
	assert_true(realip_xff_value(&res, &p, xff, sizeof(xff)) > 0);
	if (strcmp(xff, tc->upstream))
		fail_msg("case %zu: upstream XFF '%s', want '%s'", idx, xff,
			 tc->upstream);
}

static void test_resolve_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], i);
}

/* A chain of trusted hops: REALIP_MAX_HOPS are walked, one more is 400. */
static void test_too_many_hops(void **state)
{
	struct http_request req;
	struct realip_result res;
	struct sockaddr_storage p = addr("198.18.0.2");
	char line[REALIP_MAX_HOPS + 2][32], xff[REALIP_XFF_MAX];

	(void)state;
	memset(&req, 0, sizeof(req));
	req.headers[req.num_headers++] = (struct http_header){
		"X-Forwarded-For", 15, "203.0.113.7", 11 };
	for (int i = 0; i < REALIP_MAX_HOPS; i++) {
		snprintf(line[i], sizeof(line[i]), "198.18.0.%d", 10 + i);
		req.headers[req.num_headers++] = (struct http_header){
			"X-Forwarded-For", 15, line[i], strlen(line[i]) };
	}
	/* 16 trusted hops and then the client: fine */
	assert_int_equal(realip_resolve(cidrs, 3, &p, &req, &res), 0);
	realip_format(&res.client, xff, sizeof(xff));
	assert_string_equal(xff, "203.0.113.7");
	assert_int_equal(res.n_chain, REALIP_MAX_HOPS + 1);
	assert_true(realip_xff_value(&res, &p, xff, sizeof(xff)) > 0);
	assert_non_null(strstr(xff, "203.0.113.7, 198.18.0.10, "));
	/* one more trusted hop: refused */
	snprintf(line[REALIP_MAX_HOPS], sizeof(line[0]), "198.18.0.99");
	req.headers[req.num_headers++] = (struct http_header){
		"X-Forwarded-For", 15, line[REALIP_MAX_HOPS],
		strlen(line[REALIP_MAX_HOPS]) };
	assert_int_equal(realip_resolve(cidrs, 3, &p, &req, &res), -E2BIG);
	realip_format(&res.client, xff, sizeof(xff));
	assert_string_equal(xff, "198.18.0.2");
	assert_false(res.from_xff);
	/* and a long list on one line the same */
	memset(&req, 0, sizeof(req));
	{
		char big[64 * 14] = "";

		for (int i = 0; i < 40; i++)
			snprintf(big + strlen(big), sizeof(big) - strlen(big),
				 "%s198.18.0.%d", i ? "," : "", i);
		req.headers[req.num_headers++] = (struct http_header){
			"X-Forwarded-For", 15, big, strlen(big) };
		assert_int_equal(realip_resolve(cidrs, 3, &p, &req, &res),
				 -E2BIG);
	}
	/* no trusted proxies configured: the peer, whatever XFF says */
	assert_int_equal(realip_resolve(cidrs, 0, &p, &req, &res), 0);
	assert_false(res.from_xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_resolve_table),
		cmocka_unit_test(test_too_many_hops),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
