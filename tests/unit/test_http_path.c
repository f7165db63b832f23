// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/http/http_path.c: the path normal form. Every input
 * ends at a guard page (a one-byte over-read crashes) and is normalised
 * both in place and into a separate buffer.
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
#include "unit/guard.h"

#define S HTTP_PATH_STRIP_PARAMS
#define K HTTP_PATH_KEEP_ESCAPED_SLASH

struct pcase {
	const char *in;
	unsigned int flags;
	const char *out;	/* NULL: refused */
	const char *error;	/* expected error when refused */
};

#define E_PCT	 "invalid percent-encoding in request target"
#define E_SLASH	 "encoded slash in request path"
#define E_BSLASH "backslash in request path"
#define E_CTL	 "encoded control character in request path"
#define E_ROOT	 "dot-segment above the root in request path"
#define E_PARAM	 "path parameter (;) in request path"
#define E_CHAR	 "invalid character in request path"
#define E_START	 "request path does not start with /"

static const struct pcase cases[] = {
	/* already normal: unchanged */
	{ "/", 0, "/", NULL },
	{ "/admin/users", 0, "/admin/users", NULL },
	{ "/admin/users/", 0, "/admin/users/", NULL },
	{ "/.well-known/x", 0, "/.well-known/x", NULL },
	{ "/a.b/..c/c../...", 0, "/a.b/..c/c../...", NULL },
	{ "/a:b@c!$&'()*+,=", 0, "/a:b@c!$&'()*+,=", NULL },
	{ "/{x}|\"<>^`", 0, "/{x}|\"<>^`", NULL },
	/* the spellings of /admin/users an attacker would try */
	{ "/public/../admin/users", 0, "/admin/users", NULL },
	{ "/%61dmin/users", 0, "/admin/users", NULL },
	{ "/%41DMIN/users", 0, "/ADMIN/users", NULL },
	{ "/x/%2e%2e/admin/users", 0, "/admin/users", NULL },
	{ "/x/%2E%2E/admin/users", 0, "/admin/users", NULL },
	{ "/x/.%2e/admin/users", 0, "/admin/users", NULL },
	{ "/x/%2e./admin/users", 0, "/admin/users", NULL },
	{ "//admin/users", 0, "/admin/users", NULL },
	{ "///admin//users", 0, "/admin/users", NULL },
	{ "/./admin/users", 0, "/admin/users", NULL },
	{ "/admin/./users", 0, "/admin/users", NULL },
	{ "/%2e/admin/users", 0, "/admin/users", NULL },
	{ "/a/b/c/../../../admin/users", 0, "/admin/users", NULL },
	{ "/admin/x/../users", 0, "/admin/users", NULL },
	{ "/admin/users/.", 0, "/admin/users/", NULL },
	{ "/admin/users/..", 0, "/admin/", NULL },
	{ "/admin/users//", 0, "/admin/users/", NULL },
	{ "/a/..", 0, "/", NULL },
	{ "/a/../", 0, "/", NULL },
	{ "/.", 0, "/", NULL },
	{ "/./", 0, "/", NULL },
	{ "//", 0, "/", NULL },
	{ "/%7euser/%5f%2d", 0, "/~user/_-", NULL },
	{ "/%30%39%7A", 0, "/09z", NULL },
	/* reserved and other characters stay encoded, hex uppercased */
	{ "/a%3bb", 0, "/a%3Bb", NULL },
	{ "/a%3Fb%23c%25d", 0, "/a%3Fb%23c%25d", NULL },
	{ "/a%20b", 0, "/a%20b", NULL },
	{ "/%c3%a9", 0, "/%C3%A9", NULL },
	{ "/%252e%252e/admin", 0, "/%252e%252e/admin", NULL },
	{ "/%ff", 0, "/%FF", NULL },
	/* refused */
	{ "", 0, NULL, E_START },
	{ "a/b", 0, NULL, E_START },
	{ "/..", 0, NULL, E_ROOT },
	{ "/../admin/users", 0, NULL, E_ROOT },
	{ "/a/../../admin", 0, NULL, E_ROOT },
	{ "/%2e%2e/admin", 0, NULL, E_ROOT },
	{ "//../admin", 0, NULL, E_ROOT },
	{ "/admin%2fusers", 0, NULL, E_SLASH },
	{ "/admin%2Fusers", 0, NULL, E_SLASH },
	{ "/x/..%2fadmin/users", 0, NULL, E_SLASH },
	{ "/admin%5cusers", 0, NULL, E_BSLASH },
	{ "/admin\\users", 0, NULL, E_BSLASH },
	{ "/x\\..\\admin", 0, NULL, E_BSLASH },
	{ "/a%00b", 0, NULL, E_CTL },
	{ "/a%0d%0aX: y", 0, NULL, E_CTL },
	{ "/a%1f", 0, NULL, E_CTL },
	{ "/a%7f", 0, NULL, E_CTL },
	{ "/a%", 0, NULL, E_PCT },
	{ "/a%4", 0, NULL, E_PCT },
	{ "/a%g1", 0, NULL, E_PCT },
	{ "/a%1g/b", 0, NULL, E_PCT },
	{ "/admin;x/users", 0, NULL, E_PARAM },
	{ "/public/..;/admin/users", 0, NULL, E_PARAM },
	{ "/a;", 0, NULL, E_PARAM },
	{ "/a b", 0, NULL, E_CHAR },
	{ "/a?b", 0, NULL, E_CHAR },
	{ "/a#b", 0, NULL, E_CHAR },
	{ "/a\x01", 0, NULL, E_CHAR },
	{ "/a\x7f", 0, NULL, E_CHAR },
	{ "/a\x80", 0, NULL, E_CHAR },
	/* ";params" stripped from each segment, before dot-segments */
	{ "/admin;x/users", S, "/admin/users", NULL },
	{ "/admin;jsessionid=1/users;a=b;c", S, "/admin/users", NULL },
	{ "/public/..;/admin/users", S, "/admin/users", NULL },
	{ "/public/..;x=y/admin/users", S, "/admin/users", NULL },
	{ "/public/%2e%2e;/admin/users", S, "/admin/users", NULL },
	{ "/.;/admin/users", S, "/admin/users", NULL },
	{ "/;/admin/users", S, "/admin/users", NULL },
	{ "/a;%2f/b", S, "/a/b", NULL },
	{ "/a/b;", S, "/a/b", NULL },
	{ "/a;x\\y/b", S, NULL, E_BSLASH },
	{ "/a;x y", S, NULL, E_CHAR },
	{ "/..;/admin", S, NULL, E_ROOT },
	{ "/a%3bb", S, "/a%3Bb", NULL },
	/* %2F and %5C kept encoded: data, not separators */
	{ "/projects/group%2fname", K, "/projects/group%2Fname", NULL },
	{ "/x/..%2F..%2Fadmin", K, "/x/..%2F..%2Fadmin", NULL },
	{ "/a%5cb", K, "/a%5Cb", NULL },
	{ "/a\\b", K, NULL, E_BSLASH },
	{ "/a%00", K, NULL, E_CTL },
	{ "/admin;x/%2f", S | K, "/admin/%2F", NULL },
};

static bool has(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(s + i, needle, k))
			return true;
	return false;
}

/* The normal form's properties: no "//", no "." or ".." segment, and
 * normalising it again gives itself. */
static void check_normal(const char *s, size_t n, unsigned int flags)
{
	char again[1024];
	const char *err = NULL;
	long m;

	assert_true(n >= 1 && s[0] == '/');
	assert_false(has(s, n, "//"));
	assert_false(has(s, n, "/./"));
	assert_false(has(s, n, "/../"));
	assert_false(n >= 2 && !memcmp(s + n - 2, "/.", 2));
	assert_false(n >= 3 && !memcmp(s + n - 3, "/..", 3));
	assert_true(n < sizeof(again));
	m = http_path_normalize(again, s, n, flags, &err);
	assert_int_equal(m, (long)n);
	assert_memory_equal(again, s, n);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *t = &cases[i];
		size_t n = strlen(t->in);
		char out[1024];
		const char *err = "unset", *g;
		long m;

		print_message("case %zu: \"%s\" flags %u\n", i, t->in,
			      t->flags);
		/* into a separate buffer, input at the guard page */
		g = guard_copy(t->in, n);
		memset(out, 'Z', sizeof(out));
		m = http_path_normalize(out, g, n, t->flags, &err);
		if (!t->out) {
			assert_int_equal(m, -1);
			assert_string_equal(err, t->error);
		} else {
			assert_int_equal(m, (long)strlen(t->out));
			assert_memory_equal(out, t->out, (size_t)m);
			assert_int_equal(out[n], 'Z');	/* dst: len bytes at most */
			check_normal(out, (size_t)m, t->flags);
		}
		/* in place: the same answer */
		g = guard_copy(t->in, n);
		err = "unset";
		m = http_path_normalize((char *)g, g, n, t->flags, &err);
		if (!t->out) {
			assert_int_equal(m, -1);
			assert_string_equal(err, t->error);
		} else {
			assert_int_equal(m, (long)strlen(t->out));
			assert_memory_equal(g, t->out, (size_t)m);
		}
	}
	guard_free();
}

/* Every byte value at every position of a short path: the result is
 * refused or a normal form no longer than the input. */
static void test_every_byte(void **state)
{
	(void)state;
	for (unsigned int flags = 0; flags < 4; flags++) {
		for (int b = 0; b < 256; b++) {
			for (size_t pos = 1; pos < 8; pos++) {
				char in[8] = "/a/./b/";
				char out[16];
				const char *g, *err = NULL;
				long m;

				in[pos] = (char)b;
				g = guard_copy(in, sizeof(in));
				m = http_path_normalize(out, g, sizeof(in),
							flags, &err);
				if (m < 0) {
					assert_non_null(err);
					continue;
				}
				assert_true(m <= (long)sizeof(in));
				check_normal(out, (size_t)m, flags);
			}
		}
	}
	guard_free();
}

/* A whole request: parse, then normalise the target in the parser's
 * buffer, as the proxy does. */
struct rcase {
	const char *req;
	const char *target;	/* after; NULL: refused with 400 */
	const char *path;
	const char *host;
};

static const struct rcase rcases[] = {
	{ "GET /a/../b?x=/../y HTTP/1.1\r\nHost: h\r\n\r\n", "/b?x=/../y",
	  "/b", "h" },
	{ "GET /%61/b/ HTTP/1.1\r\nHost: h\r\n\r\n", "/a/b/", "/a/b/", "h" },
	{ "GET /plain?q HTTP/1.1\r\nHost: h\r\n\r\n", "/plain?q", "/plain",
	  "h" },
	{ "GET http://h:8080/x/../admin?q=1 HTTP/1.1\r\nHost: h:8080\r\n\r\n",
	  "/admin?q=1", "/admin", "h:8080" },
	{ "GET http://h/p HTTP/1.0\r\n\r\n", "/p", "/p", "h" },
	{ "GET http://h HTTP/1.0\r\n\r\n", "/", "/", "h" },
	{ "GET http://h?x=1 HTTP/1.0\r\n\r\n", "/?x=1", "/", "h" },
	{ "GET HTTPS://h//a HTTP/1.0\r\n\r\n", "/a", "/a", "h" },
	{ "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "*", "*", "h" },
	{ "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", "h:443", "",
	  "h:443" },
	{ "GET /../x HTTP/1.1\r\nHost: h\r\n\r\n", NULL, NULL, NULL },
	{ "GET /a%2fb?x HTTP/1.1\r\nHost: h\r\n\r\n", NULL, NULL, NULL },
	{ "GET http://h/a;b HTTP/1.0\r\n\r\n", NULL, NULL, NULL },
};

static void test_request(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *t = &rcases[i];
		size_t n = strlen(t->req);
		struct http_request r;
		const char *g = guard_copy(t->req, n);
		int rc;

		print_message("request %zu\n", i);
		assert_int_equal(http_parse_request(g, n, 0, NULL, &r), (int)n);
		rc = http_request_normalize_target(&r, (char *)r.target,
						   n - (size_t)(r.target - g),
						   0);
		if (!t->target) {
			assert_int_equal(rc, -1);
			assert_int_equal(r.status, 400);
			assert_non_null(r.error);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(r.target_len, strlen(t->target));
		assert_memory_equal(r.target, t->target, r.target_len);
		assert_int_equal(r.path_len, strlen(t->path));
		assert_memory_equal(r.path, t->path, r.path_len);
		assert_int_equal(r.host_len, strlen(t->host));
		assert_memory_equal(r.host, t->host, r.host_len);
		/* the path is the target's start, the query follows it */
		assert_ptr_equal(r.path, r.target);
	}
	guard_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
