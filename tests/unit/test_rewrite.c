// SPDX-License-Identifier: MIT
/* Unit tests for daemon/http/rewrite.c: request/response head rebuilding and
 * the gateway's JSON errors. Heads are parsed with the real parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http/http.h"
#include "http/rewrite.h"

static struct http_request req;
static struct http_response resp;
static char in[8192], out[8192];

static void parse_req(const char *text)
{
	size_t n = strlen(text);

	memcpy(in, text, n);
	assert_int_equal(http_parse_request(in, n, 0, NULL, &req), (int)n);
}

static void parse_resp(const char *text, bool head)
{
	size_t n = strlen(text);

	memcpy(in, text, n);
	assert_int_equal(http_parse_response(in, n, 0, head, &resp), (int)n);
}

static const char *rw_req(const struct rewrite_req *rw)
{
	long n = rewrite_request(out, sizeof(out) - 1, &req, rw);

	assert_true(n > 0);
	out[n] = '\0';
	return out;
}

static void test_request_basic(void **state)
{
	struct rewrite_req rw = { .client_ip = "198.18.0.2", .proto = "http" };

	parse_req("GET /a?b HTTP/1.1\r\nHost: h.test\r\nUser-Agent: t\r\n"
		  "X-Forwarded-For: 203.0.113.1\r\nVia: 1.0 lb\r\n\r\n");
	assert_string_equal(rw_req(&rw),
			    "GET /a?b HTTP/1.1\r\n"
			    "Host: h.test\r\n"
			    "User-Agent: t\r\n"
			    "X-Forwarded-For: 203.0.113.1, 198.18.0.2\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "X-Forwarded-Host: h.test\r\n"
			    "Via: 1.0 lb, 1.1 sluice\r\n"
			    "Connection: keep-alive\r\n\r\n");
	/* untrusted peer: XFF replaced; a request id replaces the client's */
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n"
		  "X-Request-Id: old\r\n\r\n");
	rw.xff_replace = true;
	rw.request_id = "abc";
	assert_string_equal(rw_req(&rw),
			    "GET / HTTP/1.1\r\n"
			    "Host: h\r\n"
			    "X-Forwarded-For: 198.18.0.2\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "X-Forwarded-Host: h\r\n"
			    "X-Request-Id: abc\r\n"
			    "Via: 1.1 sluice\r\n"
			    "Connection: keep-alive\r\n\r\n");
}

/* absolute-form: sent in origin-form (normalised by the proxy first), with
 * a Host field from the authority when the client sent none (HTTP/1.0) */
static void test_request_absolute_form(void **state)
{
	struct rewrite_req rw = { .client_ip = "198.18.0.2", .proto = "http",
				  .default_host = "10.0.0.1:80",
				  .xff_replace = true };

	parse_req("GET http://h.test/a/../b?q=/../ HTTP/1.0\r\n\r\n");
	assert_int_equal(http_request_normalize_target(
				 &req, in + (req.target - in),
				 strlen(in) - (size_t)(req.target - in), 0), 0);
	assert_string_equal(rw_req(&rw),
			    "GET /b?q=/../ HTTP/1.0\r\n"
			    "Host: h.test\r\n"
			    "X-Forwarded-For: 198.18.0.2\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "X-Forwarded-Host: h.test\r\n"
			    "Via: 1.0 sluice\r\n"
			    "Connection: keep-alive\r\n\r\n");
	/* with a Host field: that one, once */
	parse_req("GET http://h.test HTTP/1.1\r\nHost: H.test\r\n\r\n");
	assert_int_equal(http_request_normalize_target(
				 &req, in + (req.target - in),
				 strlen(in) - (size_t)(req.target - in), 0), 0);
	assert_string_equal(rw_req(&rw),
			    "GET / HTTP/1.1\r\n"
			    "Host: H.test\r\n"
			    "X-Forwarded-For: 198.18.0.2\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "X-Forwarded-Host: h.test\r\n"
			    "Via: 1.1 sluice\r\n"
			    "Connection: keep-alive\r\n\r\n");
	/* no Host at all (HTTP/1.0 origin-form): the target's address */
	parse_req("GET / HTTP/1.0\r\n\r\n");
	assert_string_equal(rw_req(&rw),
			    "GET / HTTP/1.0\r\n"
			    "Host: 10.0.0.1:80\r\n"
			    "X-Forwarded-For: 198.18.0.2\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "Via: 1.0 sluice\r\n"
			    "Connection: keep-alive\r\n\r\n");
}

static void test_request_hop_by_hop_and_framing(void **state)
{
	struct rewrite_req rw = { .client_ip = "::1", .default_host = "t:1" };

	parse_req("POST /p HTTP/1.0\r\nConnection: keep-alive, X-Hop\r\n"
		  "X-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\n"
		  "Proxy-Connection: x\r\nTrailer: T\r\nUpgrade: websocket\r\n"
		  "Content-Length:  5\r\nX-Keep: y\r\n\r\n");
	assert_string_equal(rw_req(&rw),
			    "POST /p HTTP/1.0\r\n"
			    "X-Keep: y\r\n"
			    "Host: t:1\r\n"
			    "Content-Length: 5\r\n"
			    "X-Forwarded-For: ::1\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "Via: 1.0 sluice\r\n"
			    "Connection: keep-alive\r\n\r\n");
	parse_req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
		  "\r\n");
	assert_non_null(strstr(rw_req(&rw),
			       "\r\nTransfer-Encoding: chunked\r\n"));
	/* a websocket handshake keeps its Upgrade */
	parse_req("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
		  "Upgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n");
	rw.upgrade_websocket = true;
	rw_req(&rw);
	assert_non_null(strstr(out, "\r\nSec-WebSocket-Key: k\r\n"));
	assert_non_null(strstr(out, "\r\nUpgrade: websocket\r\n"
				    "Connection: upgrade\r\n\r\n"));
	assert_null(strstr(out, "keep-alive"));
}

/* rewrite_name_like(): case-insensitive, '_' read as '-', exact or prefix. */
static void test_name_like(void **state)
{
	static const struct {
		const char *name, *lit;
		bool prefix, like;
	} cases[] = {
		{ "X-Consumer-Name", "x-consumer-name", false, true },
		{ "X_Consumer_Name", "x-consumer-name", false, true },
		{ "x-consumer_roles", "x-consumer-", true, true },
		{ "X-CONSUMER-ID", "x-consumer-", true, true },
		{ "X_Consumer_", "x-consumer-", true, true },
		{ "X-Consumer", "x-consumer-", true, false },
		{ "X-Consumers-Name", "x-consumer-", true, false },
		{ "XX-Consumer-Name", "x-consumer-", true, false },
		{ "x_forwarded_for", "x-forwarded-", true, true },
		{ "X_Real_IP", "x-real-ip", false, true },
		{ "X-Real-IPs", "x-real-ip", false, false },
		{ "X-Real-I", "x-real-ip", false, false },
		{ "Forwarded", "forwarded", false, true },
		{ "Forwarded_", "forwarded", false, false },
		{ "x_request_id", "x-request-id", false, true },
		{ "x.request.id", "x-request-id", false, false },
		{ "x-request-id", "x_request_id", false, false },
		{ "Content_Length", "content-length", false, true },
		{ "Transfer_encoding", "transfer-encoding", false, true },
		{ "", "via", false, false },
		{ "", "", true, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = rewrite_name_like(cases[i].name,
					     strlen(cases[i].name),
					     cases[i].lit, cases[i].prefix);

		if (got != cases[i].like)
			fail_msg("%s vs %s%s: %d", cases[i].name, cases[i].lit,
				 cases[i].prefix ? "*" : "", got);
	}
}

/*
 * Fields the gateway owns, spelled as a CGI-style backend would read them
 * (case, '_' for '-'): none of the client's values reaches the backend,
 * and the gateway's own values are there once. A field that only looks
 * close stays. Each value is unique, so its absence is checked in the
 * whole output.
 */
static void test_request_owned_lookalikes(void **state)
{
	static const char *const spoofed[] = {
		"X_Forwarded_For", "x-forwarded_for", "X-FORWARDED-FOR",
		"x_forwarded_proto", "X_Forwarded_Host", "X-Forwarded-Port",
		"X_Forwarded_Prefix", "X-Forwarded-", "X_Real_IP",
		"x-real-ip", "X-REAL_IP", "forwarded", "FORWARDED",
		"x_request_id", "X-Request_Id", "X-REQUEST-ID",
		"Content_Length", "transfer_encoding",
	};
	static const char *const kept[] = {
		"X-Forwarded", "XForwarded-For", "X-Real-IPs", "Forwarded-By",
		"X-Requestid", "X-Consumer-Name-Hint", "Via-Hint",
	};
	struct rewrite_req rw = { .client_ip = "198.18.0.2", .proto = "http",
				  .xff_replace = true, .request_id = "gw-id" };
	char text[4096], *o;
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text),
			     "GET / HTTP/1.1\r\nHost: h.test\r\n");
	for (size_t i = 0; i < sizeof(spoofed) / sizeof(spoofed[0]); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s: spoof%02zu\r\n", spoofed[i], i);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s: kept%02zu\r\n", kept[i], i);
	snprintf(text + n, sizeof(text) - n, "\r\n");
	parse_req(text);
	o = (char *)rw_req(&rw);
	assert_null(strstr(o, "spoof"));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		char line[96];

		snprintf(line, sizeof(line), "\r\n%s: kept%02zu\r\n", kept[i],
			 i);
		assert_non_null(strstr(o, line));
	}
	assert_non_null(strstr(o, "\r\nX-Forwarded-For: 198.18.0.2\r\n"));
	assert_non_null(strstr(o, "\r\nX-Forwarded-Proto: http\r\n"));
	assert_non_null(strstr(o, "\r\nX-Forwarded-Host: h.test\r\n"));
	assert_non_null(strstr(o, "\r\nX-Request-Id: gw-id\r\n"));
	assert_non_null(strstr(o, "\r\nVia: 1.1 sluice\r\n"));
	assert_null(strstr(o, "Content-Length"));
	assert_null(strstr(o, "Transfer-Encoding"));

	/* a trusted peer's X-Forwarded-For is extended under its exact name;
	 * a look-alike next to it is still dropped, never joined */
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 6.6.6.6\r\n"
		  "X-Forwarded-For: 203.0.113.1\r\nVIA: 1.0 lb\r\n\r\n");
	rw.xff_replace = false;
	assert_string_equal(rw_req(&rw),
			    "GET / HTTP/1.1\r\n"
			    "Host: h\r\n"
			    "X-Forwarded-For: 203.0.113.1, 198.18.0.2\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "X-Forwarded-Host: h\r\n"
			    "X-Request-Id: gw-id\r\n"
			    "Via: 1.0 lb, 1.1 sluice\r\n"
			    "Connection: keep-alive\r\n\r\n");

	/* no request id from the gateway: the client's is its own to keep */
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX_Request_Id: mine\r\n\r\n");
	rw.request_id = NULL;
	assert_non_null(strstr(rw_req(&rw), "\r\nX_Request_Id: mine\r\n"));
}

/* Route rewriting: the path's first path_strip bytes replaced by
 * path_prefix, the query kept; Host replaced when asked. */
static void test_request_route_rewrite(void **state)
{
	static const struct {
		const char *target, *prefix;
		size_t strip;
		const char *want;
	} t[] = {
		{ "/api/users?x=1", "/", 5, "/users?x=1" },	/* strip "/api/" */
		{ "/api/users", "/", 4, "/users" },		/* strip "/api" */
		{ "/api", "/", 4, "/" },
		{ "/api?q", "/", 4, "/?q" },
		{ "/apiary", "/", 4, "/ary" },			/* byte prefix */
		{ "/api/users", "/v2/", 5, "/v2/users" },
		{ "/api/users", "/v2/", 4, "/v2/users" },	/* one '/' */
		{ "/api/users", "/v2", 5, "/v2users" },		/* as written */
		{ "/exact", "/other", 6, "/other" },		/* path_exact */
		{ "/exact?a=b", "/other/", 6, "/other/?a=b" },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rewrite_req rw = { .client_ip = "1.2.3.4",
					  .path_prefix = t[i].prefix,
					  .path_prefix_len = strlen(t[i].prefix),
					  .path_strip = t[i].strip };

		snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n",
			 t[i].target);
		parse_req(text);
		rw_req(&rw);
		snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\n", t[i].want);
		if (strncmp(out, text, strlen(text)))
			fail_msg("%s -> %.*s, want %s", t[i].target,
				 (int)(strchr(out, '\r') - out), out, t[i].want);
	}
	/* preserve_host: false -> the target's address, the client's Host
	 * still in X-Forwarded-Host */
	parse_req("GET / HTTP/1.1\r\nhost: Client.Example\r\nA: b\r\n\r\n");
	struct rewrite_req rw = { .client_ip = "1.2.3.4", .proto = "http",
				  .host = "127.0.0.1:9001" };
	assert_string_equal(rw_req(&rw),
			    "GET / HTTP/1.1\r\n"
			    "A: b\r\n"
			    "Host: 127.0.0.1:9001\r\n"
			    "X-Forwarded-For: 1.2.3.4\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "X-Forwarded-Host: Client.Example\r\n"
			    "Via: 1.1 sluice\r\n"
			    "Connection: keep-alive\r\n\r\n");
}

static void test_request_too_big(void **state)
{
	struct rewrite_req rw = { .client_ip = "1.2.3.4" };

	parse_req("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_int_equal(rewrite_request(out, 40, &req, &rw), -ENOSPC);
}

static void test_response(void **state)
{
	struct rewrite_resp o = { .request_id = "rid", .via = true };
	long n;

	parse_resp("HTTP/1.1 200 OK\r\nConnection: close, X-H\r\nX-H: 1\r\n"
		   "Via: 1.1 origin\r\nX-Request-Id: theirs\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n", false);
	n = rewrite_response_ex(out, sizeof(out) - 1, &resp,
				REWRITE_CONN_KEEP_ALIVE, &o);
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 200 OK\r\n"
				 "Transfer-Encoding: chunked\r\n"
				 "X-Request-Id: rid\r\n"
				 "Via: 1.1 origin, 1.1 sluice\r\n"
				 "Connection: keep-alive\r\n\r\n");
	o.drop_transfer_encoding = true;
	n = rewrite_response_ex(out, sizeof(out) - 1, &resp,
				REWRITE_CONN_CLOSE, &o);
	out[n] = '\0';
	assert_null(strstr(out, "Transfer-Encoding"));
	assert_non_null(strstr(out, "Connection: close\r\n\r\n"));
	/* 101: Upgrade re-added, interim: no Connection */
	parse_resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		   "Connection: upgrade\r\nSec-WebSocket-Accept: a\r\n\r\n",
		   false);
	n = rewrite_response(out, sizeof(out) - 1, &resp,
			     REWRITE_CONN_UPGRADE);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 101 Switching Protocols\r\n"
				 "Sec-WebSocket-Accept: a\r\n"
				 "Upgrade: websocket\r\n"
				 "Connection: upgrade\r\n\r\n");
	parse_resp("HTTP/1.1 100 Continue\r\n\r\n", false);
	n = rewrite_response(out, sizeof(out) - 1, &resp, REWRITE_CONN_NONE);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 100 Continue\r\n\r\n");
}

static void test_errors(void **state)
{
	static const struct {
		int status;
		const char *code;
	} codes[] = {
		{ 400, "bad_request" },	 { 404, "no_route" },
		{ 408, "request_timeout" }, { 413, "payload_too_large" },
		{ 414, "uri_too_long" }, { 417, "expectation_failed" },
		{ 431, "headers_too_large" }, { 501, "not_implemented" },
		{ 502, "bad_gateway" }, { 503, "service_unavailable" },
		{ 504, "gateway_timeout" },
		{ 505, "http_version_not_supported" },
		{ 500, "internal_error" }, { 418, "internal_error" },
	};
	long n;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_string_equal(rewrite_error_code(codes[i].status),
				    codes[i].code);
	n = rewrite_error_ex(out, sizeof(out) - 1, 505, "say \"hi\"\n", false,
			     "r-1");
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out,
			    "HTTP/1.1 505 HTTP Version Not Supported\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: 80\r\n"
			    "Connection: close\r\n"
			    "X-Request-Id: r-1\r\n\r\n"
			    "{\"error\":\"http_version_not_supported\","
			    "\"status\":505,\"message\":\"say \\\"hi\\\"\\u000a\"}");
	/* HEAD: same head, no body */
	n = rewrite_error(out, sizeof(out) - 1, 404, "x", true);
	out[n] = '\0';
	assert_non_null(strstr(out, "Connection: close\r\n\r\n"));
	assert_null(strstr(out, "{"));
	/* an unknown status becomes a 500 */
	n = rewrite_error(out, sizeof(out) - 1, 418, "x", false);
	out[n] = '\0';
	assert_true(!strncmp(out, "HTTP/1.1 500 ", 13));
	assert_int_equal(rewrite_error(out, 20, 400, "x", false), -ENOSPC);
}

static void test_request_id_valid(void **state)
{
	char longest[65];

	memset(longest, 'a', 64);
	longest[64] = '\0';
	assert_true(rewrite_request_id_valid("a", 1));
	assert_true(rewrite_request_id_valid("AZaz09-_.:+/=@", 14));
	assert_true(rewrite_request_id_valid(longest, 64));
	assert_false(rewrite_request_id_valid(longest, 0));
	assert_false(rewrite_request_id_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					      65));
	assert_false(rewrite_request_id_valid("a b", 3));
	assert_false(rewrite_request_id_valid("a,b", 3));
	assert_false(rewrite_request_id_valid("a\"b", 3));
	assert_false(rewrite_request_id_valid("\xc3\xa9", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_basic),
		cmocka_unit_test(test_request_absolute_form),
		cmocka_unit_test(test_request_hop_by_hop_and_framing),
		cmocka_unit_test(test_name_like),
		cmocka_unit_test(test_request_owned_lookalikes),
		cmocka_unit_test(test_request_too_big),
		cmocka_unit_test(test_request_route_rewrite),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_request_id_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
