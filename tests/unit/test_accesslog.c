// SPDX-License-Identifier: MIT
/* Unit tests for daemon/http/accesslog.c: formatter, sampling, SPSC ring. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/accesslog.h"
#include "unit/guard.h"

/* 2024-05-01T12:34:56.789Z */
#define T0 (1714566896LL * 1000000000LL + 789000000LL)

static struct accesslog_record full(void)
{
	return (struct accesslog_record){
		.start_ns = T0,
		.request_id = "0a1b2c3d-0-17",
		.client = "198.18.0.2",
		.client_port = 40000,
		.consumer = "alice",
		.route = "api",
		.upstream = "127.0.0.1:9001",
		.method = "GET",
		.method_len = 3,
		.path = "/api/items",
		.path_len = 10,
		.host = "api.example.com",
		.host_len = 15,
		.user_agent = "curl/7.88.1",
		.user_agent_len = 11,
		.http_minor = 1,
		.status = 200,
		.bytes_in = 78,
		.bytes_out = 1234,
		.duration_us = 12345,
		.upstream_us = 999,
	};
}

static char *fmt(enum accesslog_format f, const struct accesslog_record *r)
{
	static char buf[ACCESSLOG_LINE_MAX + 1];
	int n = accesslog_format(f, r, buf, ACCESSLOG_LINE_MAX);

	assert_true(n > 0 && n <= ACCESSLOG_LINE_MAX);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', (size_t)n - 1));	/* exactly one line */
	buf[n] = '\0';
	return buf;
}

static void test_json_full(void **state)
{
	struct accesslog_record r = full();

	(void)state;
	assert_string_equal(fmt(ACCESSLOG_JSON, &r),
		"{\"ts\":\"2024-05-01T12:34:56.789Z\",\"request_id\":\"0a1b2c3d-0-17\","
		"\"client\":\"198.18.0.2\",\"client_port\":40000,\"consumer\":\"alice\","
		"\"route\":\"api\",\"upstream\":\"127.0.0.1:9001\",\"method\":\"GET\","
		"\"path\":\"/api/items\",\"host\":\"api.example.com\","
		"\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes_in\":78,"
		"\"bytes_out\":1234,\"duration_ms\":12.345,\"upstream_ms\":0.999,"
		"\"tls\":null,\"sni\":null,"
		"\"user_agent\":\"curl/7.88.1\",\"referer\":null,"
		"\"error\":null}\n");
}

static void test_json_grpc_status(void **state)
{
	struct accesslog_record r = full();
	char *line;

	(void)state;
	r.has_grpc_status = true;
	r.grpc_status = 5;
	line = fmt(ACCESSLOG_JSON, &r);
	assert_non_null(strstr(line, ",\"upstream_ms\":0.999,"
				     "\"grpc_status\":5,\"tls\":null,"));
	/* absent when no grpc-status came (0 is a status: OK) */
	r.has_grpc_status = false;
	r.grpc_status = 0;
	assert_null(strstr(fmt(ACCESSLOG_JSON, &r), "grpc_status"));
	r.has_grpc_status = true;
	assert_non_null(strstr(fmt(ACCESSLOG_JSON, &r), "\"grpc_status\":0,"));
}

static void test_json_rejected(void **state)
{
	/* an unparsable request: nothing but the client and the error */
	struct accesslog_record r = {
		.start_ns = T0,
		.request_id = "x-1",
		.client = "fd00:5c::2",
		.client_port = 1,
		.http_minor = -1,
		.status = 400,
		.bytes_in = 17,
		.bytes_out = 120,
		.duration_us = 5,
		.upstream_us = -1,
		.error = "bad_request",
	};

	(void)state;
	assert_string_equal(fmt(ACCESSLOG_JSON, &r),
		"{\"ts\":\"2024-05-01T12:34:56.789Z\",\"request_id\":\"x-1\","
		"\"client\":\"fd00:5c::2\",\"client_port\":1,\"consumer\":null,"
		"\"route\":null,\"upstream\":null,\"method\":null,\"path\":null,"
		"\"host\":null,\"protocol\":null,\"status\":400,\"bytes_in\":17,"
		"\"bytes_out\":120,\"duration_ms\":0.005,\"upstream_ms\":null,"
		"\"tls\":null,\"sni\":null,\"user_agent\":null,\"referer\":null,"
		"\"error\":\"bad_request\"}\n");
}

static void test_json_escaping(void **state)
{
	/* quote, backslash, tab, DEL, valid 2- and 3-byte UTF-8, then invalid
	 * bytes: a lone continuation, an overlong encoding, a truncated
	 * sequence at the very end */
	static const char path[] = "/a\"b\\c\td\x7f" "\xc3\xa9\xe2\x82\xac" "\x80"
				   "\xc0\xaf" "\xe2\x82";
	struct accesslog_record r = full();
	const char *g = guard_copy(path, sizeof(path) - 1);
	char *line;

	(void)state;
	r.path = g;
	r.path_len = sizeof(path) - 1;
	line = fmt(ACCESSLOG_JSON, &r);
	assert_non_null(strstr(line,
		"\"path\":\"/a\\\"b\\\\c\\u0009d\\u007f\xc3\xa9\xe2\x82\xac"
		"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\","));
	guard_free();
}

static void test_long_fields_are_cut(void **state)
{
	struct accesslog_record r = full();
	char *path = malloc(20000), *ua = malloc(20000), *line;

	(void)state;
	memset(path, '\x01', 20000);	/* worst case: 6 bytes each in JSON */
	path[0] = '/';
	memset(ua, '"', 20000);
	r.path = guard_copy(path, 20000);
	r.path_len = 20000;
	r.user_agent = ua;
	r.user_agent_len = 20000;
	r.host = ua;
	r.host_len = 20000;
	r.referer = ua;
	r.referer_len = 20000;
	line = fmt(ACCESSLOG_JSON, &r);
	assert_true(strlen(line) < ACCESSLOG_LINE_MAX);
	assert_non_null(strstr(line, "\\u0001...\",\"host\""));
	assert_non_null(strstr(line, "\\\"...\",\"referer\""));
	assert_non_null(strstr(line, "\"error\":null}\n"));	/* line complete */
	line = fmt(ACCESSLOG_COMBINED, &r);
	assert_true(strlen(line) < ACCESSLOG_LINE_MAX);
	assert_non_null(strstr(line, "\\x01... HTTP/1.1\" 200 1234 \""));
	free(path);
	free(ua);
	guard_free();
}

static void test_combined(void **state)
{
	struct accesslog_record r = full();

	(void)state;
	r.referer = "https://example.com/";
	r.referer_len = 0;	/* 0: NUL-terminated */
	assert_string_equal(fmt(ACCESSLOG_COMBINED, &r),
		"198.18.0.2 - alice [01/May/2024:12:34:56 +0000] "
		"\"GET /api/items HTTP/1.1\" 200 1234 \"https://example.com/\" "
		"\"curl/7.88.1\"\n");
	r = (struct accesslog_record){
		.start_ns = T0, .client = "198.18.0.2", .http_minor = -1,
		.status = 408, .upstream_us = -1,
		.user_agent = "a\"b\\c\xff", .user_agent_len = 6,
	};
	assert_string_equal(fmt(ACCESSLOG_COMBINED, &r),
		"198.18.0.2 - - [01/May/2024:12:34:56 +0000] \"- -\" 408 - \"-\" "
		"\"a\\\"b\\\\c\\xFF\"\n");
}

static void test_format_errors(void **state)
{
	struct accesslog_record r = full();
	char small[ACCESSLOG_LINE_MAX - 1];
	enum accesslog_format f;

	(void)state;
	assert_int_equal(accesslog_format(ACCESSLOG_JSON, &r, small, sizeof(small)),
			 -ENOSPC);
	assert_int_equal(accesslog_format_parse("json", &f), 0);
	assert_int_equal(f, ACCESSLOG_JSON);
	assert_int_equal(accesslog_format_parse("combined", &f), 0);
	assert_int_equal(f, ACCESSLOG_COMBINED);
	assert_int_equal(accesslog_format_parse("JSON", &f), -EINVAL);
	assert_int_equal(accesslog_format_parse("", &f), -EINVAL);
	assert_int_equal(accesslog_format_parse(NULL, &f), -EINVAL);
}

static void test_sampling(void **state)
{
	uint64_t seed = 42;
	int hits = 0;

	(void)state;
	/* errors and unanswered requests are always logged */
	assert_true(accesslog_sampled(0.0, 500, 0));
	assert_true(accesslog_sampled(0.0, 404, ~0ull));
	assert_true(accesslog_sampled(0.0, 0, ~0ull));
	assert_false(accesslog_sampled(0.0, 200, 0));
	assert_true(accesslog_sampled(1.0, 200, ~0ull));
	assert_true(accesslog_sampled(0.5, 200, 0));
	assert_false(accesslog_sampled(0.5, 200, ~0ull));
	for (int i = 0; i < 100000; i++)
		hits += accesslog_sampled(0.25, 200, accesslog_rand(&seed));
	assert_in_range(hits, 23500, 26500);
}

static void test_ring_basics(void **state)
{
	struct accesslog_ring r;
	struct iovec iov[2];
	char line[1000], got[ACCESSLOG_LINE_MAX];

	(void)state;
	assert_int_equal(accesslog_ring_init(&r, 100), 0);
	assert_int_equal(r.cap, ACCESSLOG_LINE_MAX);	/* rounded up */
	memset(line, 'x', sizeof(line));
	for (int i = 0; i < 4; i++)
		assert_true(accesslog_ring_put(&r, line, sizeof(line)));
	assert_false(accesslog_ring_put(&r, line, sizeof(line)));
	assert_int_equal(r.dropped, 1);
	assert_true(accesslog_ring_put(&r, line, 96));	/* exactly full */
	assert_int_equal(accesslog_ring_used(&r), 4096);
	assert_int_equal(accesslog_ring_peek(&r, iov), 4096);
	assert_int_equal(iov[1].iov_len, 0);
	accesslog_ring_consume(&r, 3096);
	accesslog_ring_consume(&r, 1000);	/* empty, offset 0 */
	assert_int_equal(accesslog_ring_used(&r), 0);
	/* move to offset 3096, then put 2000: 1000 at the end, 1000 at the start */
	assert_true(accesslog_ring_put(&r, line, sizeof(line)));
	assert_true(accesslog_ring_put(&r, line, sizeof(line)));
	assert_true(accesslog_ring_put(&r, line, sizeof(line)));
	assert_true(accesslog_ring_put(&r, line, 96));
	accesslog_ring_consume(&r, 3096);
	{
		char big[2000];

		for (int i = 0; i < 2000; i++)
			big[i] = (char)('a' + i % 26);
		assert_true(accesslog_ring_put(&r, big, sizeof(big)));
		assert_int_equal(accesslog_ring_peek(&r, iov), 2000);
		assert_int_equal(iov[0].iov_len, 1000);
		assert_int_equal(iov[1].iov_len, 1000);
		memcpy(got, iov[0].iov_base, iov[0].iov_len);
		memcpy(got + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
		assert_memory_equal(got, big, sizeof(big));
	}
	accesslog_ring_consume(&r, 2000);
	assert_int_equal(accesslog_ring_used(&r), 0);
	accesslog_ring_destroy(&r);
	assert_int_equal(accesslog_ring_init(&r, (size_t)1 << 31), -EINVAL);
}

/* One producer thread, this thread consuming: every line arrives whole and
 * in order, or is counted as dropped. */
#define N_LINES 200000

static void *producer(void *p)
{
	struct accesslog_ring *r = p;
	char line[64];

	for (int i = 0; i < N_LINES; i++) {
		int n = snprintf(line, sizeof(line), "line %d %.*s\n", i, i % 40,
				 "........................................");

		accesslog_ring_put(r, line, (size_t)n);
	}
	return NULL;
}

static void test_ring_concurrent(void **state)
{
	struct accesslog_ring r;
	pthread_t th;
	char acc[2 * ACCESSLOG_LINE_MAX];
	size_t have = 0;
	long got = 0, last = -1;
	int done = 0;

	(void)state;
	assert_int_equal(accesslog_ring_init(&r, 8192), 0);
	assert_int_equal(pthread_create(&th, NULL, producer, &r), 0);
	for (;;) {
		struct iovec iov[2];
		size_t n = accesslog_ring_peek(&r, iov);
		char *nl;

		if (n == 0) {
			if (done)
				break;
			/* the producer may have finished: check once more */
			if (pthread_tryjoin_np(th, NULL) == 0)
				done = 1;
			continue;
		}
		if (n > sizeof(acc) - have)
			n = sizeof(acc) - have;
		{
			size_t a = iov[0].iov_len < n ? iov[0].iov_len : n;

			memcpy(acc + have, iov[0].iov_base, a);
			memcpy(acc + have + a, iov[1].iov_base, n - a);
		}
		accesslog_ring_consume(&r, n);
		have += n;
		while ((nl = memchr(acc, '\n', have))) {
			long v;
			int dots = 0;

			assert_int_equal(sscanf(acc, "line %ld", &v), 1);
			for (char *c = acc; c < nl; c++)
				dots += *c == '.';
			assert_int_equal(dots, v % 40);	/* whole line */
			assert_true(v > last);		/* in order */
			last = v;
			got++;
			have -= (size_t)(nl + 1 - acc);
			memmove(acc, nl + 1, have);
		}
	}
	assert_int_equal(have, 0);
	assert_int_equal(got + (long)r.dropped, N_LINES);
	assert_true(got > 0);
	accesslog_ring_destroy(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_full),
		cmocka_unit_test(test_json_grpc_status),
		cmocka_unit_test(test_json_rejected),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_long_fields_are_cut),
		cmocka_unit_test(test_combined),
		cmocka_unit_test(test_format_errors),
		cmocka_unit_test(test_sampling),
		cmocka_unit_test(test_ring_basics),
		cmocka_unit_test(test_ring_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
