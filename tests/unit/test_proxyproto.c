// SPDX-License-Identifier: MIT
/* Unit tests for daemon/http/proxyproto.c. Inputs end at a guard page. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http/proxyproto.h"
#include "unit/guard.h"

static int parse(const void *data, size_t len, struct proxyproto *pp)
{
	return proxyproto_parse(guard_copy(data, len), len, pp);
}

static int parse_s(const char *s, struct proxyproto *pp)
{
	return parse(s, strlen(s), pp);
}

static void check4(const struct sockaddr_storage *ss, const char *ip,
		   uint16_t port)
{
	const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(s->sin_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(s->sin_port), port);
}

static void check6(const struct sockaddr_storage *ss, const char *ip,
		   uint16_t port)
{
	const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(s->sin6_family, AF_INET6);
	assert_non_null(inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(s->sin6_port), port);
}

/* Every strict prefix of a valid header is "incomplete". */
static void all_prefixes_incomplete(const void *data, size_t len)
{
	struct proxyproto pp;

	for (size_t i = 0; i < len; i++)
		assert_int_equal(parse(data, i, &pp), -2);
}

static void test_v1_tcp4(void **state)
{
	static const char h[] = "PROXY TCP4 198.18.0.9 198.18.0.1 51234 8080\r\n";
	char buf[128];
	struct proxyproto pp;

	assert_int_equal(parse_s(h, &pp), (int)strlen(h));
	assert_int_equal(pp.version, 1);
	assert_true(pp.has_addr);
	check4(&pp.src, "198.18.0.9", 51234);
	check4(&pp.dst, "198.18.0.1", 8080);
	assert_int_equal(pp.addrlen, sizeof(struct sockaddr_in));
	all_prefixes_incomplete(h, strlen(h));

	/* the HTTP request after it is not consumed */
	snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\n", h);
	assert_int_equal(parse_s(buf, &pp), (int)strlen(h));
	/* ports 0 and 65535 */
	assert_int_equal(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n", &pp),
			 36);
	check4(&pp.dst, "5.6.7.8", 65535);
}

static void test_v1_tcp6_unknown(void **state)
{
	static const char h[] = "PROXY TCP6 fd00:5c::9 fd00:5c::1 1 443\r\n";
	struct proxyproto pp;

	assert_int_equal(parse_s(h, &pp), (int)strlen(h));
	check6(&pp.src, "fd00:5c::9", 1);
	check6(&pp.dst, "fd00:5c::1", 443);
	all_prefixes_incomplete(h, strlen(h));

	assert_int_equal(parse_s("PROXY UNKNOWN\r\n", &pp), 15);
	assert_false(pp.has_addr);
	assert_int_equal(parse_s("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &pp),
			 35);
	assert_false(pp.has_addr);
}

static void expect_bad(const char *s, const char *err)
{
	struct proxyproto pp;

	assert_int_equal(parse_s(s, &pp), -1);
	assert_non_null(pp.error);
	assert_string_equal(pp.error, err);
}

static void test_v1_invalid(void **state)
{
	char longline[200];

	expect_bad("GET / HTTP/1.1\r\n", "not a PROXY protocol header");
	expect_bad("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		   "not a PROXY protocol header");
	expect_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "invalid PROXY v1 header");
	expect_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
		   "invalid PROXY v1 header");
	expect_bad("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
		   "invalid PROXY v1 header");
	expect_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
		   "invalid PROXY v1 header");
	expect_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
		   "invalid PROXY v1 header");
	expect_bad("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
		   "unsupported PROXY v1 protocol");
	expect_bad("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
		   "invalid address in PROXY v1 header");
	expect_bad("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
		   "invalid address in PROXY v1 header");
	expect_bad("PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
		   "invalid address in PROXY v1 header");
	expect_bad("PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
		   "invalid address in PROXY v1 header");
	expect_bad("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
		   "invalid port in PROXY v1 header");
	expect_bad("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
		   "invalid port in PROXY v1 header");
	expect_bad("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		   "invalid port in PROXY v1 header");
	expect_bad("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
		   "invalid PROXY v1 header");
	{
		static const char nul[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n";
		struct proxyproto pp;

		assert_int_equal(parse(nul, sizeof(nul) - 1, &pp), -1);
		assert_string_equal(pp.error, "invalid PROXY v1 header");
	}
	/* no CRLF within 107 bytes */
	memset(longline, 'A', sizeof(longline));
	memcpy(longline, "PROXY UNKNOWN ", 14);
	longline[sizeof(longline) - 1] = '\0';
	expect_bad(longline, "PROXY v1 header too long");
	/* exactly 107 bytes including CRLF is fine, 108 is not */
	longline[105] = '\r';
	longline[106] = '\n';
	longline[107] = '\0';
	{
		struct proxyproto pp;

		assert_int_equal(parse_s(longline, &pp), 107);
	}
	longline[105] = 'A';
	longline[106] = '\r';
	longline[107] = '\n';
	longline[108] = '\0';
	expect_bad(longline, "PROXY v1 header too long");
}

static size_t v2(unsigned char *b, unsigned ver_cmd, unsigned fam,
		 const void *addr, size_t alen, size_t tlv)
{
	static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00,
					       0x0d, 0x0a, 0x51, 0x55, 0x49,
					       0x54, 0x0a };

	memcpy(b, sig, 12);
	b[12] = (unsigned char)ver_cmd;
	b[13] = (unsigned char)fam;
	b[14] = (unsigned char)((alen + tlv) >> 8);
	b[15] = (unsigned char)(alen + tlv);
	if (alen)
		memcpy(b + 16, addr, alen);
	memset(b + 16 + alen, 0xee, tlv);
	return 16 + alen + tlv;
}

static void test_v2(void **state)
{
	unsigned char b[2048], a4[12] = { 198, 18, 0, 9, 198, 18, 0, 1,
					  0xc8, 0x22, 0x1f, 0x90 };
	unsigned char a6[36] = { 0 };
	struct proxyproto pp;
	size_t n;

	n = v2(b, 0x21, 0x11, a4, sizeof(a4), 0);
	assert_int_equal(parse(b, n, &pp), (int)n);
	assert_int_equal(pp.version, 2);
	assert_true(pp.has_addr);
	check4(&pp.src, "198.18.0.9", 51234);
	check4(&pp.dst, "198.18.0.1", 8080);
	all_prefixes_incomplete(b, n);

	/* TLVs are skipped */
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), 40);
	assert_int_equal(parse(b, n, &pp), (int)n);
	check4(&pp.src, "198.18.0.9", 51234);

	a6[0] = 0xfd;
	a6[15] = 9;
	a6[16] = 0xfd;
	a6[31] = 1;
	a6[32] = 0x01;
	a6[33] = 0xbb;
	a6[35] = 80;
	n = v2(b, 0x21, 0x21, a6, sizeof(a6), 0);
	assert_int_equal(parse(b, n, &pp), (int)n);
	check6(&pp.src, "fd00::9", 443);
	check6(&pp.dst, "fd00::1", 80);

	/* LOCAL: addresses ignored, whatever the family says */
	n = v2(b, 0x20, 0x11, a4, sizeof(a4), 0);
	assert_int_equal(parse(b, n, &pp), (int)n);
	assert_false(pp.has_addr);
	n = v2(b, 0x20, 0x00, NULL, 0, 0);
	assert_int_equal(parse(b, n, &pp), 16);
	assert_false(pp.has_addr);
	/* PROXY with UNSPEC */
	n = v2(b, 0x21, 0x00, NULL, 0, 5);
	assert_int_equal(parse(b, n, &pp), 21);
	assert_false(pp.has_addr);
}

static void test_v2_invalid(void **state)
{
	unsigned char b[2048], a4[12] = { 0 };
	struct proxyproto pp;
	size_t n;

	n = v2(b, 0x11, 0x11, a4, sizeof(a4), 0);	/* version 1 */
	assert_int_equal(parse(b, n, &pp), -1);
	assert_string_equal(pp.error, "unsupported PROXY v2 version or command");
	n = v2(b, 0x22, 0x11, a4, sizeof(a4), 0);	/* command 2 */
	assert_int_equal(parse(b, n, &pp), -1);
	n = v2(b, 0x21, 0x12, a4, sizeof(a4), 0);	/* DGRAM */
	assert_int_equal(parse(b, n, &pp), -1);
	assert_string_equal(pp.error, "unsupported PROXY v2 address family");
	n = v2(b, 0x21, 0x31, a4, sizeof(a4), 0);	/* UNIX */
	assert_int_equal(parse(b, n, &pp), -1);
	n = v2(b, 0x21, 0x11, a4, 8, 0);		/* block too short */
	assert_int_equal(parse(b, n, &pp), -1);
	assert_string_equal(pp.error, "PROXY v2 address block too short");
	n = v2(b, 0x21, 0x21, a4, sizeof(a4), 0);	/* v6 with v4 length */
	assert_int_equal(parse(b, n, &pp), -1);
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), PROXYPROTO_V2_MAX);
	/* reported from the 16-byte header alone */
	assert_int_equal(parse(b, 16, &pp), -1);
	assert_string_equal(pp.error, "PROXY v2 header too long");
	/* signature broken at any byte */
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), 0);
	for (size_t i = 1; i < 12; i++) {
		b[i] ^= 0x40;
		assert_int_equal(parse(b, n, &pp), -1);
		assert_string_equal(pp.error, "not a PROXY protocol header");
		b[i] ^= 0x40;
	}
	assert_int_equal(parse(b, 0, &pp), -2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6_unknown),
		cmocka_unit_test(test_v1_invalid),
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_v2_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
