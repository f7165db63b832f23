// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/http/http.c. Every input is parsed from a buffer that
 * ends exactly at a guard page (tests/unit/guard.h), so any read past the
 * given length crashes the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"
#include "http/http_int.h"
#include "guard.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- helpers ------------------------------------------------------------ */

static struct http_limits lim;

static int parse_req(const char *s, size_t n, struct http_request *req)
{
	const char *g = guard_copy(s, n);

	return http_parse_request(g, n, 0, &lim, req);
}

static int parse_resp(const char *s, size_t n, bool head,
		      struct http_response *resp)
{
	const char *g = guard_copy(s, n);

	return http_parse_response(g, n, 0, head, resp);
}

static bool span_eq(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

#define assert_span(p, n, lit)                                              \
	do {                                                                \
		if (!span_eq((p), (n), (lit)))                              \
			fail_msg("expected \"%s\", got \"%.*s\"", (lit),    \
				 (int)(n), (p) ? (p) : "(null)");           \
	} while (0)

/* deterministic PRNG for the randomized splits */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/*
 * Feed s[0..n) growing by steps (step 0: random 1..7 bytes), passing
 * last_len as a real caller would. Returns the first non -2 result (or -2
 * when the whole input was fed), with *at set to the length that produced it.
 */
static int feed_request(const char *s, size_t n, size_t step,
			struct http_request *req, size_t *at)
{
	size_t cur = 0, last = 0;
	int r = -2;

	while (cur < n) {
		size_t inc = step ? step : 1 + (size_t)(rng() % 7);

		cur = cur + inc > n ? n : cur + inc;
		r = http_parse_request(guard_copy(s, cur), cur, last, &lim,
				       req);
		if (r != -2)
			break;
		last = cur;
	}
	if (at)
		*at = cur;
	return r;
}

static int setup(void **state)
{
	http_limits_default(&lim);
	return 0;
}

static int teardown(void **state)
{
	guard_free();
	return 0;
}

/* ---- helpers API -------------------------------------------------------- */

static void test_limits_default(void **state)
{
	struct http_limits l = { 0, 0 };

	http_limits_default(&l);
	assert_int_equal(l.max_target, 8192);
	assert_int_equal(l.max_head, 32768);
}

static void test_token_eq(void **state)
{
	assert_true(http_token_eq(S("Content-Length"), "content-length"));
	assert_true(http_token_eq(S("HOST"), "host"));
	assert_true(http_token_eq(S("host"), "HOST"));
	assert_false(http_token_eq(S("hos"), "host"));
	assert_false(http_token_eq(S("hosts"), "host"));
	assert_false(http_token_eq(S("h0st"), "host"));
	assert_true(http_token_eq("", 0, ""));
	/* no case folding outside ASCII letters: '[' is not '{' */
	assert_false(http_token_eq(S("["), "{"));
}

static void test_reason(void **state)
{
	assert_string_equal(http_reason(200), "OK");
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(414), "URI Too Long");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(501), "Not Implemented");
	assert_string_equal(http_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http_reason(799), "Unknown");
	assert_string_equal(http_reason(-1), "Unknown");
}

/* ---- valid requests ----------------------------------------------------- */

static void test_req_simple(void **state)
{
	static const char in[] = "GET /index.html?a=1&b=%20 HTTP/1.1\r\n"
				 "Host: example.com\r\n"
				 "User-Agent:   curl/8 \t\r\n"
				 "Accept:\r\n"
				 "\r\n";
	struct http_request req;
	int r = parse_req(S(in), &req);

	assert_int_equal(r, sizeof(in) - 1);
	assert_span(req.method, req.method_len, "GET");
	assert_span(req.target, req.target_len, "/index.html?a=1&b=%20");
	assert_span(req.path, req.path_len, "/index.html");
	assert_int_equal(req.minor_version, 1);
	assert_int_equal(req.num_headers, 3);
	assert_span(req.headers[0].name, req.headers[0].name_len, "Host");
	assert_span(req.headers[0].value, req.headers[0].value_len,
		    "example.com");
	assert_span(req.headers[1].value, req.headers[1].value_len, "curl/8");
	assert_span(req.headers[2].name, req.headers[2].name_len, "Accept");
	assert_int_equal(req.headers[2].value_len, 0);
	assert_span(req.host, req.host_len, "example.com");
	assert_int_equal(req.body, HTTP_BODY_NONE);
	assert_int_equal(req.content_length, 0);
	assert_true(req.keep_alive);
	assert_false(req.expect_continue);
	assert_false(req.upgrade);
}

static void test_req_value_inner_ws_and_obs_text(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\n"
				 "X-A: a  b\tc\r\n"
				 "X-B: caf\xc3\xa9\r\n"
				 "X-C: \t \r\n\r\n";
	struct http_request req;

	assert_int_equal(parse_req(S(in), &req), sizeof(in) - 1);
	assert_span(req.headers[1].value, req.headers[1].value_len,
		    "a  b\tc");
	assert_span(req.headers[2].value, req.headers[2].value_len,
		    "caf\xc3\xa9");
	assert_int_equal(req.headers[3].value_len, 0);
}

/* pre, then len bytes of fill with byte b at offset at, then post, into
 * in (room for all of it); returns the length. */
static size_t with_byte_at(char *in, const char *pre, char fill, size_t len,
			   size_t at, unsigned int b, const char *post)
{
	size_t n = strlen(pre), m = strlen(post);

	memcpy(in, pre, n);
	memset(in + n, fill, len);
	in[n + at] = (char)b;
	memcpy(in + n + len, post, m);
	return n + len + m;
}

/*
 * Every byte value at every position of a long value (the scan takes 16
 * bytes a step, then byte by byte): accepted exactly when it is a
 * field-value byte (VCHAR, obs-text, SP, HTAB), and the value then ends
 * where the line does; CR and LF end the line early (bare CR / LF).
 */
static void test_req_value_every_byte_every_offset(void **state)
{
	static const char pre[] = "GET / HTTP/1.1\r\nHost: h\r\nX-V: ";
	static const char post[] = "\r\nX-W: w\r\n\r\n";
	char in[sizeof(pre) + 40 + sizeof(post)];
	struct http_request req;
	unsigned int checked = 0;

	for (size_t vlen = 1; vlen <= 40; vlen += 13) {
		for (size_t at = 0; at < vlen; at++) {
			for (unsigned int b = 0; b < 256; b++) {
				size_t n = 0;
				bool ok = b == '\t' || (b >= 0x20 && b != 0x7f);
				/* OWS at either end is not part of the value */
				bool edge = (b == ' ' || b == '\t') &&
					    (at == 0 || at == vlen - 1);
				int r;

				n = with_byte_at(in, pre, 'v', vlen, at, b,
						 post);
				r = parse_req(in, n, &req);
				if (!ok) {
					if (r != -1)
						fail_msg("byte 0x%02x at %zu of "
							 "%zu: %d, want -1", b,
							 at, vlen, r);
					assert_int_equal(req.status, 400);
					checked++;
					continue;
				}
				if (r != (int)n)
					fail_msg("byte 0x%02x at %zu of %zu: %d, "
						 "want %zu", b, at, vlen, r, n);
				assert_int_equal(req.num_headers, 3);
				if (!edge) {
					assert_int_equal(req.headers[1].value_len,
							 vlen);
					assert_int_equal(
						(unsigned char)req.headers[1].value[at],
						b);
				} else {
					assert_true(req.headers[1].value_len <
						    vlen);
				}
				checked++;
			}
		}
	}
	assert_int_equal(checked, 256u * (1 + 14 + 27 + 40));
}

/*
 * Every byte value at every position of field names and request targets
 * of 1-40 bytes (the scans take 16 bytes a step, then byte by byte):
 * accepted exactly when the byte is in the class the RFC gives (token
 * characters; VCHAR except '#'), as http_int.h's table says.
 */
static void test_req_name_and_target_every_byte_every_offset(void **state)
{
	char in[200];
	struct http_request req;
	unsigned int checked = 0;

	for (size_t len = 1; len <= 40; len += 13) {
		for (size_t at = 0; at < len; at++) {
			for (unsigned int b = 0; b < 256; b++) {
				bool ok = IS(b, C_TCHAR);
				int n, r;

				/* a field name: X + len bytes */
				n = (int)with_byte_at(in,
					"GET / HTTP/1.1\r\nHost: h\r\nX", 'n',
					len, at, b, ": v\r\nY: y\r\n\r\n");
				r = parse_req(in, (size_t)n, &req);
				if (b != ':') {	/* ':' ends the name early */
					if (ok ? r != n : r != -1)
						fail_msg("name byte 0x%02x at %zu "
							 "of %zu: %d", b, at,
							 len, r);
					if (ok)
						assert_int_equal(
							req.headers[1].name_len,
							len + 1);
					checked++;
				}

				/* a target: / + len bytes */
				ok = IS(b, C_TARGET) && b != '%';
				n = (int)with_byte_at(in, "GET /", 't', len, at,
					b, " HTTP/1.1\r\nHost: h\r\n\r\n");
				r = parse_req(in, (size_t)n, &req);
				if (b == '%')
					continue;	/* percent-encoding rules */
				if (ok ? r != n : r != -1)
					fail_msg("target byte 0x%02x at %zu of "
						 "%zu: %d", b, at, len, r);
				if (ok)
					assert_int_equal(req.target_len,
							 len + 1);
				checked++;
			}
		}
	}
	/* all but ':' in names and '%' in targets */
	assert_int_equal(checked, 2u * 255 * (1 + 14 + 27 + 40));
}

/*
 * Heads that parse, as tables: each row is parsed whole from a guarded
 * buffer and must return its full length (a response row: all but its
 * last `tail` bytes, the start of the body), then the fields the row names
 * are compared. A string NULL or a want not EQ() is not checked; "" means
 * length 0. A request row with a status must be refused (-1) with it.
 */
struct want {
	bool set;
	uint64_t v;
};

#define EQ(x) { .set = true, .v = (uint64_t)(x) }

struct req_case {
	const char *what, *in;
	const char *method, *target, *path, *host;
	bool no_host;
	struct want minor, body, cl, keep_alive, upgrade, expect_continue;
	int status;		/* refused with this status */
	const char *error;	/* and this error */
};

struct resp_case {
	const char *what, *in;
	bool head;		/* the answer to a HEAD request */
	size_t tail;		/* body bytes after the head */
	const char *reason;
	struct want minor, status, nhdr, body, cl, keep_alive;
};

static void check_want(const char *what, const char *field, struct want w,
		       uint64_t got)
{
	if (w.set && got != w.v)
		fail_msg("%s: %s %llu, want %llu", what, field,
			 (unsigned long long)got, (unsigned long long)w.v);
}

static void check_str(const char *what, const char *field, const char *p,
		      size_t n, const char *want)
{
	if (!want)
		return;
	if (!*want ? n != 0 : !span_eq(p, n, want))
		fail_msg("%s: %s \"%.*s\", want \"%s\"", what, field, (int)n,
			 p ? p : "(null)", want);
}

static void check_reqs(const struct req_case *c, size_t ncases)
{
	for (size_t i = 0; i < ncases; i++) {
		struct http_request req;
		size_t n = strlen(c[i].in);
		int want = c[i].status ? -1 : (int)n;
		int r;

		req.status = 0;
		req.error = NULL;
		r = parse_req(c[i].in, n, &req);
		if (r != want)
			fail_msg("%s: got %d (%s), want %d", c[i].what, r,
				 r == -1 ? req.error : "", want);
		if (c[i].status) {
			if (req.status != c[i].status)
				fail_msg("%s: status %d, want %d", c[i].what,
					 req.status, c[i].status);
			if (c[i].error && strcmp(req.error, c[i].error))
				fail_msg("%s: error \"%s\", want \"%s\"",
					 c[i].what, req.error, c[i].error);
			continue;
		}
		check_str(c[i].what, "method", req.method, req.method_len,
			  c[i].method);
		check_str(c[i].what, "target", req.target, req.target_len,
			  c[i].target);
		check_str(c[i].what, "path", req.path, req.path_len,
			  c[i].path);
		check_str(c[i].what, "host", req.host, req.host_len,
			  c[i].host);
		if (c[i].no_host && req.host)
			fail_msg("%s: host \"%.*s\", want none", c[i].what,
				 (int)req.host_len, req.host);
		check_want(c[i].what, "minor version", c[i].minor,
			   (uint64_t)req.minor_version);
		check_want(c[i].what, "body", c[i].body, req.body);
		check_want(c[i].what, "content-length", c[i].cl,
			   req.content_length);
		check_want(c[i].what, "keep-alive", c[i].keep_alive,
			   req.keep_alive);
		check_want(c[i].what, "upgrade", c[i].upgrade, req.upgrade);
		check_want(c[i].what, "expect-continue", c[i].expect_continue,
			   req.expect_continue);
	}
}

static void check_resps(const struct resp_case *c, size_t ncases)
{
	for (size_t i = 0; i < ncases; i++) {
		struct http_response resp;
		size_t n = strlen(c[i].in);
		int r = parse_resp(c[i].in, n, c[i].head, &resp);

		if (r != (int)(n - c[i].tail))
			fail_msg("%s: got %d (%s), want %zu", c[i].what, r,
				 r == -1 ? resp.error : "", n - c[i].tail);
		check_str(c[i].what, "reason", resp.reason, resp.reason_len,
			  c[i].reason);
		check_want(c[i].what, "minor version", c[i].minor,
			   (uint64_t)resp.minor_version);
		check_want(c[i].what, "status", c[i].status,
			   (uint64_t)resp.status);
		check_want(c[i].what, "header count", c[i].nhdr,
			   resp.num_headers);
		check_want(c[i].what, "body", c[i].body, resp.body);
		check_want(c[i].what, "content-length", c[i].cl,
			   resp.content_length);
		check_want(c[i].what, "keep-alive", c[i].keep_alive,
			   resp.keep_alive);
	}
}

#define CHECK_REQS(table) check_reqs((table), sizeof(table) / sizeof(*(table)))
#define CHECK_RESPS(table) \
	check_resps((table), sizeof(table) / sizeof(*(table)))

static const struct req_case req_forms[] = {
	/* absolute-form: path is the path part, host the authority */
	{ .what = "absolute-form",
	  .in = "GET http://Example.com:8080/p/q?x=1 HTTP/1.1\r\n"
		"Host: example.COM:8080\r\n\r\n",
	  .path = "/p/q", .host = "Example.com:8080" },
	/* absolute-form with an empty path: path_len 0 ("/" implied) */
	{ .what = "absolute-form, empty path",
	  .in = "GET HTTPS://h.example?q HTTP/1.1\r\n"
		"Host: h.example\r\n\r\n",
	  .path = "", .host = "h.example" },
	/* absolute-form in HTTP/1.0 without Host: host from the target */
	{ .what = "absolute-form, HTTP/1.0 without Host",
	  .in = "GET http://[::1]:80/ HTTP/1.0\r\n\r\n",
	  .host = "[::1]:80", .path = "/" },
	/* authority-form for CONNECT */
	{ .what = "authority-form",
	  .in = "CONNECT db.example:5432 HTTP/1.1\r\n"
		"Host: db.example:5432\r\n\r\n",
	  .target = "db.example:5432", .path = "" },
	/* asterisk-form for OPTIONS */
	{ .what = "asterisk-form",
	  .in = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", .path = "*" },
	/* origin-form edge cases */
	{ .what = "origin-form, dot segments and odd query",
	  .in = "GET //a/./b/../c?x?y=%41 HTTP/1.1\r\nHost: h\r\n\r\n",
	  .path = "//a/./b/../c" },
	/* extension method tokens are fine */
	{ .what = "extension method",
	  .in = "M-SEARCH! /x HTTP/1.1\r\nHost: h\r\n\r\n",
	  .method = "M-SEARCH!" },
};

static void test_req_forms(void **state)
{
	CHECK_REQS(req_forms);
}

/* "GET / HTTP/1.1" with one Host header; *n is the request's length. */
static int parse_with_host(const char *host, struct http_request *req,
			   int *n)
{
	char buf[256];

	*n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
		      host);
	return parse_req(buf, (size_t)*n, req);
}

static void test_req_hosts_valid(void **state)
{
	static const char *const hosts[] = {
		"a", "example.com", "EXAMPLE.com:1", "127.0.0.1",
		"127.0.0.1:65535", "[::1]", "[::]:8080", "[fd00:5c::1]",
		"[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:1.2.3.4]", "[::ffff:10.0.0.1]",
		"[1::]", "[1:2:3:4:5:6:7::]", "xn--bcher-kva.example", "a_b~c-d",
	};
	struct http_request req;

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		int n, r = parse_with_host(hosts[i], &req, &n);

		if (r != n)
			fail_msg("host '%s' rejected (%d: %s)", hosts[i], r,
				 r == -1 ? req.error : "");
		assert_span(req.host, req.host_len, hosts[i]);
	}
}

static void test_req_hosts_invalid(void **state)
{
	static const char *const hosts[] = {
		"", "a b", "a,b", "a@b", "ex%41mple", "a:", "a:65536",
		"a:123456", "a:8o", "a:-1", "[::1", "::1", "[::1]x",
		"[1:2:3:4:5:6:7:8:9]", "[1::2::3]", "[12345::]", "[:1]",
		"[1:]", "[1:2:3:4:5:6:7]", "[1.2.3.4]", "[::1.2.3.256]",
		"[::01.2.3.4]", "[fe80::1%25eth0]", "[v1.x]", "a/b", "a?b",
		"[::1]:", "h\xc3\xa9",
	};
	struct http_request req;

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		int n, r = parse_with_host(hosts[i], &req, &n);

		if (r != -1 || req.status != 400 ||
		    strcmp(req.error, "invalid host header") != 0)
			fail_msg("host '%s' accepted or wrong error (%d)",
				 hosts[i], r);
	}
}

static const struct req_case req_keep_alive[] = {
	{ .what = "HTTP/1.0", .in = "GET / HTTP/1.0\r\n\r\n",
	  .minor = EQ(0), .keep_alive = EQ(false), .no_host = true },
	{ .what = "HTTP/1.0 keep-alive",
	  .in = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
	  .keep_alive = EQ(true) },
	{ .what = "HTTP/1.1 close in a list",
	  .in = "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n",
	  .keep_alive = EQ(false) },
	/* close wins over keep-alive, across several headers */
	{ .what = "close after keep-alive",
	  .in = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
		"Connection: close\r\n\r\n",
	  .keep_alive = EQ(false) },
	{ .what = "keep-alive among empty list elements",
	  .in = "GET / HTTP/1.1\r\nHost: h\r\n"
		"Connection: ,, keep-alive ,\r\n\r\n",
	  .keep_alive = EQ(true) },
};

static void test_req_keep_alive(void **state)
{
	CHECK_REQS(req_keep_alive);
}

static const struct req_case req_upgrade_expect[] = {
	{ .what = "upgrade",
	  .in = "GET /ws HTTP/1.1\r\nHost: h\r\n"
		"Connection: keep-alive, Upgrade\r\n"
		"Upgrade: websocket\r\n\r\n",
	  .upgrade = EQ(true), .keep_alive = EQ(true) },
	/* Upgrade header without the Connection token: not an upgrade */
	{ .what = "Upgrade without the Connection token",
	  .in = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
	  .upgrade = EQ(false) },
	/* HTTP/1.0 upgrade is ignored (RFC 9110 7.8) */
	{ .what = "HTTP/1.0 upgrade",
	  .in = "GET /ws HTTP/1.0\r\nConnection: upgrade\r\n"
		"Upgrade: websocket\r\n\r\n",
	  .upgrade = EQ(false) },
	{ .what = "Expect: 100-continue",
	  .in = "POST /u HTTP/1.1\r\nHost: h\r\n"
		"Expect: 100-Continue\r\n"
		"Content-Length: 10\r\n\r\n",
	  .expect_continue = EQ(true), .body = EQ(HTTP_BODY_LENGTH),
	  .cl = EQ(10) },
	{ .what = "unsupported expectation",
	  .in = "POST /u HTTP/1.1\r\nHost: h\r\n"
		"Expect: 100-continue, x-foo\r\n\r\n",
	  .status = 417, .error = "unsupported expectation" },
	/* HTTP/1.0: expectations are ignored */
	{ .what = "HTTP/1.0 expectations",
	  .in = "POST /u HTTP/1.0\r\n"
		"Expect: 100-continue\r\nExpect: x\r\n\r\n",
	  .expect_continue = EQ(false) },
};

static void test_req_upgrade_expect(void **state)
{
	CHECK_REQS(req_upgrade_expect);
}

static const struct req_case req_content_length[] = {
	{ .what = "Content-Length: 0",
	  .in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
	  .body = EQ(HTTP_BODY_LENGTH), .cl = EQ(0) },
	{ .what = "Content-Length: 2^63 - 1",
	  .in = "POST / HTTP/1.1\r\nHost: h\r\n"
		"content-length: 9223372036854775807\r\n\r\n",
	  .cl = EQ(9223372036854775807ull) },
	{ .what = "leading zeros",
	  .in = "POST / HTTP/1.0\r\nContent-Length: 00042\r\n\r\n",
	  .cl = EQ(42) },
	/* OWS around the value is trimmed */
	{ .what = "OWS around the value",
	  .in = "POST / HTTP/1.1\r\nHost: h\r\n"
		"Content-Length: \t 5 \t\r\n\r\n",
	  .cl = EQ(5) },
};

static void test_req_content_length(void **state)
{
	CHECK_REQS(req_content_length);
}


/* Content-Length values at and past 2^63 - 1, for requests and responses
 * (the same field rule): above it is 400 / invalid, never a length that a
 * signed 64-bit reader would see as negative or wrapped. */
static const struct {
	const char *value;
	bool ok;
	uint64_t len;
} cl_cap_cases[] = {
	{ "9223372036854775807", true, 9223372036854775807ull },
	{ "0009223372036854775", true, 9223372036854775ull },
	{ "9223372036854775806", true, 9223372036854775806ull },
	{ "9223372036854775808", false, 0 },	/* 2^63 */
	{ "9223372036854775809", false, 0 },
	{ "9300000000000000000", false, 0 },
	{ "10000000000000000000", false, 0 },	/* 20 digits */
	{ "18446744073709551615", false, 0 },	/* 2^64 - 1 */
	{ "18446744073709551616", false, 0 },	/* 2^64: wraps to 0 */
	{ "18446744073709551621", false, 0 },	/* 2^64 + 5: wraps to 5 */
	{ "9999999999999999999", false, 0 },
	{ "00000000000000000000", false, 0 },	/* 20 digits, even zeros */
};

static void test_content_length_cap(void **state)
{
	char buf[256];
	struct http_request req;
	struct http_response resp;

	(void)state;
	for (size_t i = 0; i < sizeof(cl_cap_cases) / sizeof(cl_cap_cases[0]);
	     i++) {
		int n = snprintf(buf, sizeof(buf),
				 "POST / HTTP/1.1\r\nHost: h\r\n"
				 "Content-Length: %s\r\n\r\n",
				 cl_cap_cases[i].value);
		int r = parse_req(buf, (size_t)n, &req);

		if (cl_cap_cases[i].ok) {
			assert_int_equal(r, n);
			assert_int_equal(req.body, HTTP_BODY_LENGTH);
			assert_true(req.content_length == cl_cap_cases[i].len);
		} else {
			assert_int_equal(r, -1);
			assert_int_equal(req.status, 400);
			assert_string_equal(req.error, "invalid content-length");
		}
		n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n"
			     "Content-Length: %s\r\n\r\n",
			     cl_cap_cases[i].value);
		r = parse_resp(buf, (size_t)n, false, &resp);
		if (cl_cap_cases[i].ok) {
			assert_int_equal(r, n);
			assert_int_equal(resp.body, HTTP_BODY_LENGTH);
			assert_true(resp.content_length == cl_cap_cases[i].len);
		} else {
			assert_int_equal(r, -1);
			assert_string_equal(resp.error,
					    "invalid content-length");
		}
	}
}

static const struct req_case req_chunked[] = {
	{ .what = "Transfer-Encoding: Chunked",
	  .in = "POST / HTTP/1.1\r\nHost: h\r\n"
		"Transfer-Encoding: Chunked\r\n\r\n",
	  .body = EQ(HTTP_BODY_CHUNKED) },
	{ .what = "chunked among empty list elements",
	  .in = "POST / HTTP/1.1\r\nHost: h\r\n"
		"Transfer-Encoding: ,chunked,\r\n\r\n",
	  .body = EQ(HTTP_BODY_CHUNKED) },
};

static void test_req_chunked(void **state)
{
	CHECK_REQS(req_chunked);
}

static const struct req_case req_leading_crlf[] = {
	{ .what = "one empty line first",
	  .in = "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", .method = "GET" },
	/* only one empty line is ignored */
	{ .what = "two empty lines first",
	  .in = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", .status = 400 },
};

static void test_req_leading_crlf(void **state)
{
	CHECK_REQS(req_leading_crlf);
}

static void test_req_max_headers(void **state)
{
	char buf[4096];
	size_t n;
	struct http_request req;

	n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 1; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)sprintf(buf + n, "X-%d: v\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	assert_int_equal(parse_req(buf, n + 2, &req), (int)n + 2);
	assert_int_equal(req.num_headers, HTTP_MAX_HEADERS);

	/* one more: 431, and known before the head is complete */
	n += (size_t)sprintf(buf + n, "X-last: v\r\n");
	assert_int_equal(parse_req(buf, n, &req), -1);
	assert_int_equal(req.status, 431);
	assert_string_equal(req.error, "too many header fields");
}

static void test_req_pipelined(void **state)
{
	static const char in[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
				 "POST /2 HTTP/1.1\r\nHost: h\r\n"
				 "Content-Length: 3\r\n\r\nabc"
				 "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *g = guard_copy(S(in));
	size_t off = 0, n = sizeof(in) - 1;
	struct http_request req;
	int r;

	r = http_parse_request(g, n, 0, &lim, &req);
	assert_int_equal(r, 28);
	assert_span(req.path, req.path_len, "/1");
	off += (size_t)r;
	r = http_parse_request(g + off, n - off, 0, &lim, &req);
	assert_true(r > 0);
	assert_span(req.path, req.path_len, "/2");
	assert_int_equal(req.content_length, 3);
	assert_memory_equal(g + off + r, "abc", 3);
	off += (size_t)r + 3;
	r = http_parse_request(g + off, n - off, 0, &lim, &req);
	assert_int_equal((size_t)r, n - off);
	assert_span(req.path, req.path_len, "/3");
}

/* ---- rejections --------------------------------------------------------- */

struct bad_case {
	const char *in;
	int status;
	const char *error;
	size_t len;	/* 0: strlen(in) */
};

#define A16 "AAAAAAAAAAAAAAAA"

#define H "Host: h\r\n"
static const struct bad_case bad_requests[] = {
	/* request line */
	{ " GET / HTTP/1.1\r\n" H "\r\n", 400, "invalid method", 0 },
	{ "G(T / HTTP/1.1\r\n" H "\r\n", 400, "invalid method", 0 },
	{ "GET\t/ HTTP/1.1\r\n" H "\r\n", 400, "invalid method", 0 },
	{ "GET  / HTTP/1.1\r\n" H "\r\n", 400, "empty request target", 0 },
	{ "GET /  HTTP/1.1\r\n" H "\r\n", 400, "invalid HTTP version", 0 },
	{ "GET / HTTP/1.1 \r\n" H "\r\n", 400, "invalid request line", 0 },
	{ "GET /\r\n\r\n", 400, "invalid request line", 0 },
	{ "GET / http/1.1\r\n" H "\r\n", 400, "invalid HTTP version", 0 },
	{ "GET / HTTP/1.10\r\n" H "\r\n", 400, "invalid request line", 0 },
	{ "GET / HTTP/11\r\n" H "\r\n", 400, "invalid HTTP version", 0 },
	{ "GET / HTTP/1.x\r\n" H "\r\n", 400, "invalid HTTP version", 0 },
	{ "GET / HTTP/2.0\r\n" H "\r\n", 505, "unsupported HTTP version", 0 },
	{ "GET / HTTP/1.2\r\n" H "\r\n", 505, "unsupported HTTP version", 0 },
	{ "GET / HTTP/0.9\r\n" H "\r\n", 505, "unsupported HTTP version", 0 },
	{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "unsupported HTTP version", 0 },
	{ "GET / HTTP/1.1\n" H "\r\n", 400, "bare LF line ending", 0 },
	{ "GET / HTTP/1.1\r" H "\r\n", 400, "CR not followed by LF", 0 },
	{ "GET\n", 400, "bare LF line ending", 0 },
	/* request-target */
	{ "GET /a b HTTP/1.1\r\n" H "\r\n", 400, "invalid HTTP version", 0 },
	{ "GET /a\x01 HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid character in request target", 0 },
	{ "GET /a\x7f HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid character in request target", 0 },
	{ "GET /caf\xc3\xa9 HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid character in request target", 0 },
	{ "GET /a\tb HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid character in request target", 0 },
	{ "GET /a#frag HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid character in request target", 0 },
	{ "GET /a%2 HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid percent-encoding in request target", 0 },
	{ "GET /a%zz HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid percent-encoding in request target", 0 },
	{ "GET /a?x=% HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid percent-encoding in request target", 0 },
	{ "GET a/b HTTP/1.1\r\n" H "\r\n", 400, "invalid request target", 0 },
	{ "GET * HTTP/1.1\r\n" H "\r\n", 400,
	  "asterisk-form target is only allowed for OPTIONS", 0 },
	{ "OPTIONS ** HTTP/1.1\r\n" H "\r\n", 400, "invalid request target", 0 },
	{ "CONNECT / HTTP/1.1\r\n" H "\r\n", 400,
	  "CONNECT requires an authority-form target", 0 },
	{ "CONNECT h HTTP/1.1\r\n" H "\r\n", 400,
	  "CONNECT requires an authority-form target", 0 },
	{ "CONNECT http://h:1/ HTTP/1.1\r\n" H "\r\n", 400,
	  "CONNECT requires an authority-form target", 0 },
	{ "GET h:80 HTTP/1.1\r\n" H "\r\n", 400,
	  "unsupported URI scheme in request target", 0 },
	{ "GET ftp://h/ HTTP/1.1\r\n" H "\r\n", 400,
	  "unsupported URI scheme in request target", 0 },
	{ "GET http:/h/ HTTP/1.1\r\n" H "\r\n", 400, "invalid request target", 0 },
	{ "GET http:///x HTTP/1.1\r\n" H "\r\n", 400,
	  "invalid host in request target", 0 },
	{ "GET http://u:p@h/ HTTP/1.1\r\n" H "\r\n", 400,
	  "userinfo in request target", 0 },
	{ "GET http://other/ HTTP/1.1\r\n" H "\r\n", 400,
	  "host header does not match request target", 0 },
	{ "GET http://h/ HTTP/1.1\r\n\r\n", 400, "missing host header", 0 },
	/* header syntax */
	{ "GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n", 400,
	  "obs-fold line folding is not allowed", 0 },
	{ "GET / HTTP/1.1\r\n " H "\r\n", 400,
	  "obs-fold line folding is not allowed", 0 },
	{ "GET / HTTP/1.1\r\n" H "X : a\r\n\r\n", 400,
	  "whitespace before colon in header", 0 },
	{ "GET / HTTP/1.1\r\n" H "X\t: a\r\n\r\n", 400,
	  "whitespace before colon in header", 0 },
	{ "GET / HTTP/1.1\r\n" H ": a\r\n\r\n", 400, "invalid header name", 0 },
	{ "GET / HTTP/1.1\r\n" H "X-\xc3\xa9: a\r\n\r\n", 400,
	  "invalid header name", 0 },
	{ "GET / HTTP/1.1\r\n" H "X(y): a\r\n\r\n", 400,
	  "invalid header name", 0 },
	{ "GET / HTTP/1.1\r\n" H "no-colon\r\n\r\n", 400,
	  "invalid header name", 0 },
	{ "GET / HTTP/1.1\r\n" H "X: a\x01 b\r\n\r\n", 400,
	  "invalid character in header value", 0 },
	{ "GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", 400,
	  "invalid character in header value", 0 },
	{ "GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", 400,
	  "CR not followed by LF", 0 },
	{ "GET / HTTP/1.1\r\n" H "X: a\nY: b\r\n\r\n", 400,
	  "bare LF line ending", 0 },
	{ "GET / HTTP/1.1\r\n" H "X: a\r\n\n", 400, "bare LF line ending", 0 },
	{ "GET / HTTP/1.1\r\n" H "X: a\r\n\r\r", 400, "CR not followed by LF", 0 },
	/* Host */
	{ "GET / HTTP/1.1\r\n\r\n", 400, "missing host header", 0 },
	{ "GET / HTTP/1.1\r\n" H "Host: h\r\n\r\n", 400,
	  "duplicate host header", 0 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400,
	  "duplicate host header", 0 },
	{ "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400,
	  "duplicate host header", 0 },
	{ "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "invalid host header", 0 },
	{ "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400, "invalid host header", 0 },
	/* Content-Length */
	{ "POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 400,
	  "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", 400,
	  "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n", 400,
	  "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 10000000000000000000\r\n\r\n",
	  400, "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999\r\n\r\n",
	  400, "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
	  "Content-Length: 5\r\n\r\n", 400, "duplicate content-length", 0 },
	/* Transfer-Encoding */
	{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
	  "transfer-encoding in HTTP/1.0 message", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", 400,
	  "chunked is not the final transfer-coding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 400,
	  "chunked is not the final transfer-coding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n",
	  501, "unsupported transfer-coding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", 501,
	  "unsupported transfer-coding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n",
	  400, "chunked applied more than once", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;x=1\r\n\r\n", 400,
	  "invalid transfer-encoding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked x\r\n\r\n", 400,
	  "invalid transfer-encoding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n", 400,
	  "invalid transfer-encoding", 0 },
	/* Connection */
	{ "GET / HTTP/1.1\r\n" H "Connection: close;x\r\n\r\n", 400,
	  "invalid connection header", 0 },
	/* method length */
	{ A16 A16 A16 A16 "A / HTTP/1.1\r\n" H "\r\n", 501, "method too long", 0 },
	{ A16 A16 A16 A16 "A", 501, "method too long", 0 },
};

#define NUL_TE "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunk\x00" "ed\r\n\r\n"

/* the request-smuggling matrix, at the parser level */
static const struct bad_case smuggling[] = {
	/* CL.TE / TE.CL: both framings present */
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 6\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400,
	  "both content-length and transfer-encoding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
	  "Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400,
	  "both content-length and transfer-encoding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 0\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", 400,
	  "both content-length and transfer-encoding", 0 },
	/* TE.TE obfuscations */
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n", 400,
	  "chunked is not the final transfer-coding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, identity\r\n\r\n",
	  400, "chunked is not the final transfer-coding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: identity\r\n\r\n", 400,
	  "chunked is not the final transfer-coding", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n chunked\r\n\r\n", 400,
	  "obs-fold line folding is not allowed", 0 },
	{ "POST / HTTP/1.1\r\n" H "X: y\r\n Transfer-Encoding: chunked\r\n\r\n",
	  400, "obs-fold line folding is not allowed", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n", 400,
	  "whitespace before colon in header", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\x0b\r\n\r\n", 400,
	  "invalid character in header value", 0 },
	{ NUL_TE, 400, "invalid character in header value",
	  sizeof(NUL_TE) - 1 },
	{ "POST / HTTP/1.1\r\n" H "Transfer_Encoding: chunked\r\n"
	  "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
	  "duplicate content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", 400,
	  "chunked applied more than once", 0 },
	{ "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \x63hunked\n\r\n", 400,
	  "bare LF line ending", 0 },
	/* Content-Length obfuscations */
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
	  "Content-Length: 5\r\n\r\n", 400, "duplicate content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n", 400, "duplicate content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", 400,
	  "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 0x5\r\n\r\n", 400,
	  "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n", 400,
	  "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n", 400,
	  "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 5.0\r\n\r\n", 400,
	  "invalid content-length", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length : 5\r\n\r\n", 400,
	  "whitespace before colon in header", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n 6\r\n\r\n", 400,
	  "obs-fold line folding is not allowed", 0 },
	{ "POST / HTTP/1.1\r\n" H "Content-Length: 18446744073709551621\r\n\r\n",
	  400, "invalid content-length", 0 },
	/* Host confusion */
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
	  "duplicate host header", 0 },
	{ "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", 400,
	  "host header does not match request target", 0 },
	/* line-ending confusion */
	{ "GET / HTTP/1.1\r\n" H "X: 1\rContent-Length: 5\r\n\r\n", 400,
	  "CR not followed by LF", 0 },
	{ "GET / HTTP/1.1\r\n" H "X: 1\nContent-Length: 5\r\n\r\n", 400,
	  "bare LF line ending", 0 },
};
#undef H
#undef NUL_TE

static void check_bad(const struct bad_case *c, size_t ncases)
{
	struct http_request req;

	for (size_t i = 0; i < ncases; i++) {
		size_t n = c[i].len ? c[i].len : strlen(c[i].in), at = 0;
		int r;

		req.status = 0;
		req.error = NULL;
		r = parse_req(c[i].in, n, &req);
		if (r != -1 || req.status != c[i].status ||
		    strcmp(req.error, c[i].error) != 0)
			fail_msg("case %zu \"%s\": got %d status %d \"%s\", "
				 "want -1 %d \"%s\"", i, c[i].in, r, req.status,
				 r == -1 ? req.error : "", c[i].status,
				 c[i].error);
		/* same verdict when the bytes trickle in (last_len path) */
		for (size_t step = 0; step < 4; step++) {
			req.error = NULL;
			r = feed_request(c[i].in, n, step, &req, &at);
			if (r != -1 || req.status != c[i].status ||
			    strcmp(req.error, c[i].error) != 0)
				fail_msg("case %zu fed by %zu: got %d at %zu "
					 "\"%s\"", i, step, r, at,
					 r == -1 ? req.error : "");
		}
	}
}

static void test_req_rejections(void **state)
{
	check_bad(bad_requests, sizeof(bad_requests) / sizeof(bad_requests[0]));
}

static void test_req_smuggling(void **state)
{
	check_bad(smuggling, sizeof(smuggling) / sizeof(smuggling[0]));
}

/* ---- incomplete input and limits ---------------------------------------- */

static const char *const good_requests[] = {
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"\r\nGET /a?b HTTP/1.0\r\n\r\n",
	"POST /upload HTTP/1.1\r\nHost: example.com:8080\r\n"
	"Content-Length: 12\r\nX-Empty:\r\nX-Ws: \t a b \t\r\n"
	"Connection: keep-alive, Upgrade\r\nUpgrade: h2c\r\n\r\n",
	"PUT http://[::1]:80/p HTTP/1.1\r\nHost: [::1]:80\r\n"
	"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
};

static void test_req_incomplete_every_offset(void **state)
{
	struct http_request req;

	for (size_t i = 0; i < sizeof(good_requests) / sizeof(*good_requests);
	     i++) {
		const char *s = good_requests[i];
		size_t n = strlen(s), at;
		int r;

		for (size_t k = 0; k < n; k++) {
			r = parse_req(s, k, &req);
			if (r != -2)
				fail_msg("request %zu prefix %zu: got %d (%s)",
					 i, k, r, r == -1 ? req.error : "");
		}
		assert_int_equal(parse_req(s, n, &req), (int)n);

		/* with last_len: byte by byte, and random steps */
		for (size_t step = 0; step < 3; step++) {
			for (int rep = 0; rep < (step ? 1 : 20); rep++) {
				r = feed_request(s, n, step, &req, &at);
				if (r != (int)n || at != n)
					fail_msg("request %zu fed by %zu: %d at "
						 "%zu", i, step, r, at);
			}
		}
		/* stale last_len values larger than the buffer are harmless */
		r = http_parse_request(guard_copy(s, n), n, n + 100, &lim, &req);
		assert_int_equal(r, (int)n);
	}
}

static void test_req_target_limit(void **state)
{
	size_t n = 9000;
	char *buf = malloc(n + 64);
	struct http_request req;
	size_t len;

	assert_non_null(buf);
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', n);
	/* incomplete, but already too long: 414 now */
	assert_int_equal(parse_req(buf, 5 + 8192, &req), -1);
	assert_int_equal(req.status, 414);
	assert_string_equal(req.error, "request target too long");
	/* exactly max_target is fine (still incomplete) */
	assert_int_equal(parse_req(buf, 4 + 8192, &req), -2);
	/* complete request with a max_target-sized target */
	len = 4 + 8192;
	memcpy(buf + len, " HTTP/1.1\r\nHost: h\r\n\r\n", 22);
	assert_int_equal(parse_req(buf, len + 22, &req), (int)(len + 22));
	assert_int_equal(req.target_len, 8192);
	/* one more byte: 414 */
	len = 5 + 8192;
	buf[len - 1] = 'a';
	memcpy(buf + len, " HTTP/1.1\r\nHost: h\r\n\r\n", 22);
	assert_int_equal(parse_req(buf, len + 22, &req), -1);
	assert_int_equal(req.status, 414);
	/* trickled in with last_len: 414 as soon as the target is too long */
	assert_int_equal(feed_request(buf, len + 22, 0, &req, &len), -1);
	assert_int_equal(req.status, 414);
	assert_true(len <= 5 + 8192 + 7);
	free(buf);
	buf = NULL;
	/* a smaller configured limit */
	lim.max_target = 10;
	static const char ok10[] = "GET /123456789 HTTP/1.1\r\nHost: h\r\n\r\n";
	assert_int_equal(parse_req(S(ok10), &req), sizeof(ok10) - 1);
	assert_int_equal(parse_req(S("GET /1234567890"), &req), -1);
	assert_int_equal(req.status, 414);
}

static void test_req_head_limit(void **state)
{
	size_t cap = 40000;
	char *buf = malloc(cap);
	struct http_request req;
	size_t n, at;

	assert_non_null(buf);
	n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
	memset(buf + n, 'v', cap - n);

	/* incomplete and already over max_head: 431 */
	assert_int_equal(parse_req(buf, 32769, &req), -1);
	assert_int_equal(req.status, 431);
	assert_string_equal(req.error, "header section too large");
	assert_int_equal(parse_req(buf, 32768, &req), -2);

	/* same through the last_len fast path */
	assert_int_equal(feed_request(buf, cap, 1000, &req, &at), -1);
	assert_int_equal(req.status, 431);
	assert_int_equal(at, 33000);

	/* a complete head of exactly max_head bytes is accepted */
	memcpy(buf + 32768 - 4, "\r\n\r\n", 4);
	assert_int_equal(parse_req(buf, 32768, &req), 32768);
	assert_int_equal(parse_req(buf, cap, &req), 32768);
	/* one byte more is not */
	memset(buf + 32768 - 4, 'v', 4);
	memcpy(buf + 32768 - 3, "\r\n\r\n", 4);
	assert_int_equal(parse_req(buf, cap, &req), -1);
	assert_int_equal(req.status, 431);
	assert_int_equal(feed_request(buf, cap, 0, &req, &at), -1);
	assert_int_equal(req.status, 431);

	/* a configured smaller limit */
	lim.max_head = 20;
	assert_int_equal(parse_req(S("GET / HTTP/1.0\r\n\r\n"), &req), 18);
	assert_int_equal(parse_req(S("GET / HTTP/1.0\r\nA: b\r\n\r\n"), &req), -1);
	assert_int_equal(req.status, 431);
	free(buf);
}

static void test_req_null_limits(void **state)
{
	struct http_request req;
	const char *g = guard_copy(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));

	assert_int_equal(http_parse_request(g, 27, 0, NULL, &req), 27);
}

/* ---- responses ---------------------------------------------------------- */

static const struct resp_case resp_basic[] = {
	{ .what = "200 with a body",
	  .in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		"Server: x\r\n\r\nhello",
	  .tail = 5, .minor = EQ(1), .status = EQ(200), .reason = "OK",
	  .nhdr = EQ(2), .body = EQ(HTTP_BODY_LENGTH), .cl = EQ(5),
	  .keep_alive = EQ(true) },
	{ .what = "empty reason",
	  .in = "HTTP/1.1 404 \r\nTransfer-Encoding: chunked\r\n\r\n",
	  .status = EQ(404), .reason = "", .body = EQ(HTTP_BODY_CHUNKED) },
	/* missing SP after the code is tolerated */
	{ .what = "no SP after the code",
	  .in = "HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n",
	  .status = EQ(500), .reason = "" },
	{ .what = "reason with HTAB and UTF-8",
	  .in = "HTTP/1.1 200 Very \tFine \xe2\x9c\x93\r\n"
		"Content-Length: 0\r\n\r\n",
	  .reason = "Very \tFine \xe2\x9c\x93" },
};

static void test_resp_basic(void **state)
{
	CHECK_RESPS(resp_basic);
}

static const struct resp_case resp_framing[] = {
	/* no framing: read until close, not reusable */
	{ .what = "no framing", .in = "HTTP/1.1 200 OK\r\n\r\n",
	  .body = EQ(HTTP_BODY_UNTIL_CLOSE), .keep_alive = EQ(false) },
	/* HEAD: no body whatever the headers say */
	{ .what = "HEAD, Content-Length",
	  .in = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
	  .head = true, .body = EQ(HTTP_BODY_NONE), .keep_alive = EQ(true) },
	{ .what = "HEAD, chunked",
	  .in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .head = true, .body = EQ(HTTP_BODY_NONE) },
	/* 204, 304, 1xx */
	{ .what = "204", .in = "HTTP/1.1 204 No Content\r\n\r\n",
	  .body = EQ(HTTP_BODY_NONE), .keep_alive = EQ(true) },
	{ .what = "204 with Content-Length: 0",
	  .in = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n" },
	{ .what = "304 with Content-Length",
	  .in = "HTTP/1.1 304 Not Modified\r\n"
		"Content-Length: 1234\r\n\r\n",
	  .body = EQ(HTTP_BODY_NONE) },
	{ .what = "100", .in = "HTTP/1.1 100 Continue\r\n\r\n",
	  .body = EQ(HTTP_BODY_NONE), .status = EQ(100) },
	{ .what = "101",
	  .in = "HTTP/1.1 101 Switching Protocols\r\n"
		"Connection: upgrade\r\nUpgrade: websocket\r\n\r\n",
	  .body = EQ(HTTP_BODY_NONE), .keep_alive = EQ(false) },
	/* HTTP/1.0 */
	{ .what = "HTTP/1.0",
	  .in = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
	  .keep_alive = EQ(false) },
	{ .what = "HTTP/1.0 keep-alive",
	  .in = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n"
		"Connection: keep-alive\r\n\r\n",
	  .keep_alive = EQ(true), .minor = EQ(0) },
	{ .what = "HTTP/1.1 close",
	  .in = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		"Connection: close\r\n\r\n",
	  .keep_alive = EQ(false), .body = EQ(HTTP_BODY_LENGTH) },
	/* codings other than chunked: chunked last -> chunked framing */
	{ .what = "gzip, chunked",
	  .in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	  .body = EQ(HTTP_BODY_CHUNKED), .keep_alive = EQ(true) },
	/* no chunked at all -> until close (RFC 9112 6.3) */
	{ .what = "gzip alone",
	  .in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	  .body = EQ(HTTP_BODY_UNTIL_CLOSE), .keep_alive = EQ(false) },
};

static void test_resp_framing(void **state)
{
	CHECK_RESPS(resp_framing);
}

static const struct bad_case bad_responses[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", 0,
	  "both content-length and transfer-encoding", 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	  0, "duplicate content-length", 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", 0,
	  "invalid content-length", 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", 0,
	  "invalid content-length", 0 },
	{ "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	  "transfer-encoding in HTTP/1.0 message", 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0,
	  "chunked is not the final transfer-coding", 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", 0,
	  "chunked applied more than once", 0 },
	{ "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0,
	  "framing headers on a response without body", 0 },
	{ "HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	  "framing headers on a response without body", 0 },
	{ "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 0,
	  "obs-fold line folding is not allowed", 0 },
	{ "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", 0,
	  "whitespace before colon in header", 0 },
	{ "HTTP/1.1 200 OK\nX: a\r\n\r\n", 0, "bare LF line ending", 0 },
	{ "HTTP/1.1 200 OK\r\nX: a\n\r\n", 0, "bare LF line ending", 0 },
	{ "HTTP/1.1 200 O\x01K\r\n\r\n", 0,
	  "invalid character in reason phrase", 0 },
	{ "HTTP/1.1 200 OK\r\nX: \x7f\r\n\r\n", 0,
	  "invalid character in header value", 0 },
	{ "HTTP/1.1 20 OK\r\n\r\n", 0, "invalid status code", 0 },
	{ "HTTP/1.1 2000 OK\r\n\r\n", 0, "invalid status code", 0 },
	{ "HTTP/1.1 099 OK\r\n\r\n", 0, "invalid status code", 0 },
	{ "HTTP/1.1 600 OK\r\n\r\n", 0, "invalid status code", 0 },
	{ "HTTP/1.1 2x0 OK\r\n\r\n", 0, "invalid status code", 0 },
	{ "HTTP/1.1  200 OK\r\n\r\n", 0, "invalid status code", 0 },
	{ "HTTP/2.0 200 OK\r\n\r\n", 0, "unsupported HTTP version", 0 },
	{ "HTTP/1.1\r\n\r\n", 0, "invalid status line", 0 },
	{ "http/1.1 200 OK\r\n\r\n", 0, "invalid status line", 0 },
	{ "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, "invalid status line", 0 },
	{ "ICY 200 OK\r\n\r\n", 0, "invalid status line", 0 },
};

static void test_resp_rejections(void **state)
{
	struct http_response resp;

	for (size_t i = 0; i < sizeof(bad_responses) / sizeof(*bad_responses);
	     i++) {
		const char *s = bad_responses[i].in;
		size_t n = strlen(s);
		int r;

		resp.error = NULL;
		r = parse_resp(s, n, false, &resp);
		if (r != -1 || strcmp(resp.error, bad_responses[i].error) != 0)
			fail_msg("response case %zu: got %d \"%s\", want \"%s\"",
				 i, r, r == -1 ? resp.error : "",
				 bad_responses[i].error);
	}
}

static void test_resp_incomplete_and_limit(void **state)
{
	static const char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
				"Set-Cookie: a=b; Path=/\r\n\r\n";
	struct http_response resp;
	size_t n = sizeof(a) - 1, last = 0;
	char *big;
	int r;

	for (size_t k = 0; k < n; k++)
		assert_int_equal(parse_resp(a, k, false, &resp), -2);
	/* byte by byte with last_len */
	for (size_t k = 1; k <= n; k++) {
		r = http_parse_response(guard_copy(a, k), k, last, false, &resp);
		assert_int_equal(r, k == n ? (int)n : -2);
		last = k;
	}

	big = malloc(40000);
	assert_non_null(big);
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX: ");
	memset(big + n, 'v', 40000 - n);
	assert_int_equal(parse_resp(big, 32768, false, &resp), -2);
	assert_int_equal(parse_resp(big, 32769, false, &resp), -1);
	assert_string_equal(resp.error, "header section too large");
	r = http_parse_response(guard_copy(big, 40000), 40000, 32768, false,
				&resp);
	assert_int_equal(r, -1);
	free(big);
}

/* ---- chunked ------------------------------------------------------------ */

struct scan_result {
	long accepted;	/* total accepted, or -1 */
	bool done;
};

/* scan s[0..n) in pieces cut at cuts[0..ncuts) (sorted offsets) */
static struct scan_result scan_split(const char *s, size_t n,
				     const size_t *cuts, size_t ncuts)
{
	struct http_chunked c;
	struct scan_result res = { 0, false };
	size_t off = 0;

	http_chunked_init(&c);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : n;
		long r;

		if (to < off)
			to = off;
		r = http_chunked_scan(&c, guard_copy(s + off, to - off),
				      to - off, &res.done);
		if (r < 0) {
			res.accepted = -1;
			return res;
		}
		assert_true((size_t)r <= to - off);
		res.accepted += r;
		if (res.done)
			return res;
		/* not done: everything offered must have been accepted */
		assert_int_equal((size_t)r, to - off);
		off = to;
	}
	return res;
}

static struct scan_result scan_once(const char *s, size_t n)
{
	return scan_split(s, n, NULL, 0);
}

static void check_split_invariance(const char *s, size_t n)
{
	struct scan_result one = scan_once(s, n), r;
	size_t cuts[8];

	/* byte by byte */
	{
		struct http_chunked c;
		long total = 0, x = 0;
		bool done = false;

		http_chunked_init(&c);
		for (size_t i = 0; i < n && !done; i++) {
			x = http_chunked_scan(&c, guard_copy(s + i, 1), 1, &done);
			if (x < 0)
				break;
			total += x;
		}
		if (x < 0)
			total = -1;
		if (total != one.accepted || done != one.done)
			fail_msg("byte-by-byte %ld/%d vs one-shot %ld/%d", total,
				 done, one.accepted, one.done);
	}
	/* every single cut */
	for (size_t k = 0; k <= n; k++) {
		cuts[0] = k;
		r = scan_split(s, n, cuts, 1);
		if (r.accepted != one.accepted || r.done != one.done)
			fail_msg("cut at %zu: %ld/%d vs %ld/%d", k, r.accepted,
				 r.done, one.accepted, one.done);
	}
	/* random multi-cuts */
	for (int rep = 0; rep < 50 && n > 0; rep++) {
		size_t nc = 1 + (size_t)(rng() % 8);

		for (size_t i = 0; i < nc; i++)
			cuts[i] = (size_t)(rng() % (n + 1));
		for (size_t i = 1; i < nc; i++)	/* insertion sort */
			for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t t = cuts[j];

				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
			}
		r = scan_split(s, n, cuts, nc);
		if (r.accepted != one.accepted || r.done != one.done)
			fail_msg("random cuts: %ld/%d vs %ld/%d", r.accepted,
				 r.done, one.accepted, one.done);
	}
}

static const char *const good_chunked[] = {
	"0\r\n\r\n",
	"5\r\nhello\r\n0\r\n\r\n",
	"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
	"00000000000001\r\nx\r\n000\r\n\r\n",
	"3;name\r\nabc\r\n0;last=yes;q=\"a \\\"b\\\" c\"\r\n\r\n",
	"3;a=b;c=d\r\n\r\n\r\r\n0\r\nExpires: never\r\n"
	"X-Checksum: abc  def\t\r\nX-Empty:\r\n\r\n",
	"1\r\n\0\r\n0\r\n\r\n",
	"fFfF\r\n",	/* incomplete: size only */
};

static void test_chunked_valid(void **state)
{
	for (size_t i = 0; i < sizeof(good_chunked) / sizeof(*good_chunked);
	     i++) {
		const char *s = good_chunked[i];
		size_t n = strlen(s);
		struct scan_result r;

		if (i == 7)
			n = 11;	/* embedded NUL */
		r = scan_once(s, n);
		if (i == 8) {
			assert_int_equal(r.accepted, (long)n);
			assert_false(r.done);
		} else if (r.accepted != (long)n || !r.done) {
			fail_msg("chunked case %zu: %ld done=%d", i, r.accepted,
				 r.done);
		}
		check_split_invariance(s, n);
	}
}

static void test_chunked_stops_at_end(void **state)
{
	static const char s[] = "2\r\nab\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
	struct http_chunked c;
	bool done = false;
	long r;

	http_chunked_init(&c);
	r = http_chunked_scan(&c, guard_copy(S(s)), sizeof(s) - 1, &done);
	assert_int_equal(r, 12);
	assert_true(done);
	/* once done, nothing more is accepted */
	r = http_chunked_scan(&c, guard_copy(S("x")), 1, &done);
	assert_int_equal(r, 0);
	assert_true(done);
	check_split_invariance(s, sizeof(s) - 1);

	/* empty input */
	http_chunked_init(&c);
	r = http_chunked_scan(&c, guard_copy("", 0), 0, &done);
	assert_int_equal(r, 0);
	assert_false(done);
}

static void test_chunked_large_sizes(void **state)
{
	struct http_chunked c;
	bool done;
	long r;

	/* 15 hex digits is the maximum: 2^60 - 1 */
	http_chunked_init(&c);
	r = http_chunked_scan(&c, guard_copy(S("fffffffffffffff\r\nab")), 19,
			      &done);
	assert_int_equal(r, 19);
	assert_true(c.remaining == 0xfffffffffffffffull - 2);
	assert_false(done);

	/* data bigger than the buffer is consumed across calls */
	http_chunked_init(&c);
	assert_int_equal(http_chunked_scan(&c, guard_copy(S("10\r\n")), 4, &done),
			 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(http_chunked_scan(&c, guard_copy(S("abcd")), 4,
						   &done), 4);
	assert_int_equal(http_chunked_scan(&c, guard_copy(S("\r\n0\r\n\r\nX")),
					   8, &done), 7);
	assert_true(done);
}

static const char *const bad_chunked[] = {
	"",			/* placeholder: see below, index 0 is skipped */
	"x\r\n",
	" 5\r\nhello\r\n0\r\n\r\n",
	"5 \r\nhello\r\n0\r\n\r\n",
	"5\t\r\nhello\r\n0\r\n\r\n",
	"+5\r\nhello\r\n0\r\n\r\n",
	"-5\r\n",
	"0x5\r\nhello\r\n0\r\n\r\n",
	"5\nhello\r\n0\r\n\r\n",
	"5\r\nhello\n0\r\n\r\n",
	"5\r\nhelloX\r\n0\r\n\r\n",
	"5\r\nhello\r\r\n",
	"5\r\nhello\r\n0\n\r\n",
	"5\r\nhello\r\n0\r\n\n",
	"5\r\nhello\r\n0\r\n\r\r",
	"\r\n5\r\nhello\r\n0\r\n\r\n",
	"1000000000000000\r\n",		/* 16 digits */
	"0000000000000001\r\n",		/* 16 digits, even if small */
	"5;\r\nhello\r\n0\r\n\r\n",
	"5;=x\r\n",
	"5;a=\r\n",
	"5;a=\"x\r\n",
	"5;a=b c\r\n",
	"5 ;a\r\n",
	"5; a\r\n",
	"5;a =b\r\n",
	"5;a=\"\x01\"\r\n",
	"5;a=\"x\"y\r\n",
	"5;a\x7f\r\n",
	"5;a=\"x\\\x01\"\r\n",
	"0\r\n X: y\r\n\r\n",		/* obs-fold in trailer */
	"0\r\nX : y\r\n\r\n",
	"0\r\n:y\r\n\r\n",
	"0\r\nX: y\nZ: w\r\n\r\n",
	"0\r\nX: y\x01\r\n\r\n",
	"0\r\nX\r\n\r\n",
	"0\r\nX: y\r\n\rX",
	"0\r\n\r\r",
};

static void test_chunked_invalid(void **state)
{
	for (size_t i = 1; i < sizeof(bad_chunked) / sizeof(*bad_chunked);
	     i++) {
		const char *s = bad_chunked[i];
		size_t n = strlen(s);
		struct scan_result r = scan_once(s, n);

		if (r.accepted != -1)
			fail_msg("bad chunked case %zu \"%s\" accepted (%ld)", i,
				 s, r.accepted);
		check_split_invariance(s, n);
	}
}

static void test_chunked_bounds(void **state)
{
	/* pre, then `at` fill bytes (the limit), then post: accepted; one
	 * fill byte more: rejected */
	static const struct {
		const char *what, *pre;
		char fill;
		size_t at;
		const char *post;
		bool split;	/* also check split invariance when rejected */
	} bounds[] = {
		/* chunk-ext: 256 bytes a line is the limit (';' through CR) */
		{ "chunk-ext of 256 bytes", "1;", 'e', 254,
		  "\r\nx\r\n0\r\n\r\n", true },
		/* trailer section: 8192 bytes including the final CRLF */
		{ "trailer section of 8192 bytes", "0\r\nX: ", 'v',
		  8192 - 3 - 4, "\r\n\r\n", false },
	};
	char buf[9000];

	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		size_t n = with_byte_at(buf, bounds[i].pre, bounds[i].fill,
					bounds[i].at, 0,
					(unsigned char)bounds[i].fill,
					bounds[i].post);
		struct scan_result r = scan_once(buf, n);

		if (r.accepted != (long)n || !r.done)
			fail_msg("%s: %ld done=%d, want %zu done",
				 bounds[i].what, r.accepted, r.done, n);
		n = with_byte_at(buf, bounds[i].pre, bounds[i].fill,
				 bounds[i].at + 1, 0,
				 (unsigned char)bounds[i].fill, bounds[i].post);
		r = scan_once(buf, n);
		if (r.accepted != -1)
			fail_msg("%s, one byte more: accepted %ld",
				 bounds[i].what, r.accepted);
		if (bounds[i].split)
			check_split_invariance(buf, n);
	}
}

static void test_chunked_error_sticks(void **state)
{
	struct http_chunked c;
	bool done;

	http_chunked_init(&c);
	assert_int_equal(http_chunked_scan(&c, guard_copy(S("5\n")), 2, &done),
			 -1);
	assert_int_equal(http_chunked_scan(&c, guard_copy(S("0\r\n\r\n")), 5,
					   &done), -1);
	assert_false(done);
}

static void test_chunked_random_messages(void **state)
{
	char buf[2048];

	/* random well-formed messages of small chunks, random splits */
	for (int rep = 0; rep < 200; rep++) {
		size_t n = 0;
		int chunks = (int)(rng() % 5);

		for (int k = 0; k < chunks; k++) {
			size_t sz = 1 + (size_t)(rng() % 40);

			n += (size_t)sprintf(buf + n, "%zx", sz);
			if (rng() % 3 == 0)
				n += (size_t)sprintf(buf + n, ";k%d=\"v\"", k);
			n += (size_t)sprintf(buf + n, "\r\n");
			for (size_t b = 0; b < sz; b++)
				buf[n++] = (char)(rng() & 0xff);
			n += (size_t)sprintf(buf + n, "\r\n");
		}
		n += (size_t)sprintf(buf + n, "0\r\n");
		if (rng() % 2)
			n += (size_t)sprintf(buf + n, "T: x\r\n");
		n += (size_t)sprintf(buf + n, "\r\n");
		{
			struct scan_result r = scan_once(buf, n);

			assert_int_equal(r.accepted, (long)n);
			assert_true(r.done);
		}
		check_split_invariance(buf, n);
		/* flip one byte: whatever the verdict, splits agree */
		buf[rng() % n] ^= (char)(1 + rng() % 255);
		check_split_invariance(buf, n);
	}
}

/* Decode buf[0..n) fed in pieces of at most `step` bytes (0: all at once);
 * data bytes go to out. Returns accepted bytes or -1. */
static long decode_all(const char *buf, size_t n, size_t step, char *out,
		       size_t *out_len, bool *done)
{
	struct http_chunked c;
	size_t off = 0;

	http_chunked_init(&c);
	*out_len = 0;
	*done = false;
	while (off < n && !*done) {
		size_t piece = step && n - off > step ? step : n - off;
		const char *g = guard_copy(buf + off, piece);
		size_t pos = 0;

		while (pos < piece && !*done) {
			size_t doff, dlen;
			long r = http_chunked_decode(&c, g + pos, piece - pos,
						     done, &doff, &dlen);

			if (r < 0)
				return -1;
			assert_true(doff + dlen <= (size_t)r);
			memcpy(out + *out_len, g + pos + doff, dlen);
			*out_len += dlen;
			/* a data run ends the call; framing-only calls
			 * accept everything up to the end or the last chunk */
			if (r == 0)
				break;
			pos += (size_t)r;
		}
		off += pos;
		if (pos < piece && !*done)
			break;
	}
	return (long)off;
}

static void test_chunked_decode(void **state)
{
	char buf[4096], data[2048], out[4096];
	size_t olen;
	bool done;

	/* known message: data only, extensions and trailers dropped */
	{
		static const char m[] = "3;a=b\r\nabc\r\n2\r\nde\r\n0\r\n"
					"T: 1\r\n\r\nNEXT";

		for (size_t step = 0; step < 8; step++) {
			long r = decode_all(m, sizeof(m) - 1, step, out, &olen,
					    &done);

			assert_int_equal(r, (long)sizeof(m) - 1 - 4);
			assert_true(done);
			assert_int_equal(olen, 5);
			assert_memory_equal(out, "abcde", 5);
		}
	}
	/* invalid input fails like the validator */
	assert_int_equal(decode_all("5 \r\nhello\r\n0\r\n\r\n", 16, 0, out,
				    &olen, &done), -1);
	assert_int_equal(decode_all("3\r\nabcX\r\n", 9, 1, out, &olen, &done),
			 -1);
	/* random messages, random piece sizes: same payload, same verdict */
	for (int rep = 0; rep < 200; rep++) {
		size_t n = 0, dn = 0;
		int chunks = (int)(rng() % 6);

		for (int k = 0; k < chunks; k++) {
			size_t sz = 1 + (size_t)(rng() % 100);

			n += (size_t)sprintf(buf + n, "%zX", sz);
			if (rng() % 3 == 0)
				n += (size_t)sprintf(buf + n, ";e%d", k);
			n += (size_t)sprintf(buf + n, "\r\n");
			for (size_t b = 0; b < sz; b++) {
				data[dn] = (char)(rng() & 0xff);
				buf[n++] = data[dn++];
			}
			n += (size_t)sprintf(buf + n, "\r\n");
		}
		n += (size_t)sprintf(buf + n, "0\r\n%s\r\n",
				     rng() % 2 ? "X-T: y\r\n" : "");
		for (size_t step = 0; step < 20; step += 1 + step) {
			long r = decode_all(buf, n, step, out, &olen, &done);

			assert_int_equal(r, (long)n);
			assert_true(done);
			assert_int_equal(olen, dn);
			assert_memory_equal(out, data, dn);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limits_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_eq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_simple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_value_inner_ws_and_obs_text,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_req_value_every_byte_every_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_req_name_and_target_every_byte_every_offset, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_req_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_hosts_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_hosts_invalid, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_req_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_upgrade_expect, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_req_content_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_content_length_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_req_chunked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_leading_crlf, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_req_max_headers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_req_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_rejections, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_req_smuggling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_incomplete_every_offset,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_target_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_req_head_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_null_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resp_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_rejections, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resp_incomplete_and_limit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_stops_at_end, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chunked_large_sizes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chunked_invalid, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chunked_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_error_sticks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chunked_random_messages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chunked_decode, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
