// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/control/admin.c (server over a private Unix socket and a
 * 127.0.0.1 ephemeral TCP port) and daemon/lib/jw.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/admin.h"
#include "lib/jw.h"

static char sock_path[108];
static char sock_dir[64];

static int h_echo(const struct admin_request *rq, struct admin_reply *out,
		  void *arg)
{
	char b[512];
	int n = snprintf(b, sizeof(b), "%s|%s|%s|%s|%d|%s", (const char *)arg,
			 rq->method, rq->path, rq->query, rq->via_unix,
			 rq->body);

	return admin_reply_set(out, 200, "text/plain", b, (size_t)n);
}

static int h_fail(const struct admin_request *rq, struct admin_reply *out,
		  void *arg)
{
	return -EIO;
}

static int h_get_only(const struct admin_request *rq, struct admin_reply *out,
		      void *arg)
{
	if (strcmp(rq->method, "GET"))
		return admin_reply_bad_method(out, "GET");
	return admin_reply_set(out, 200, NULL, "{}", 2);
}

/* Send raw bytes, read the whole reply (the server closes). */
static char *xfer(bool tcp, const char *req, size_t reqlen)
{
	static char resp[16384];
	size_t o = 0;
	ssize_t n;
	int fd;

	if (tcp) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons((uint16_t)admin_tcp_port()),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (void *)&sin, sizeof(sin)), 0);
	} else {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		strcpy(sun.sun_path, sock_path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (void *)&sun, sizeof(sun)), 0);
	}
	assert_int_equal(write(fd, req, reqlen), (ssize_t)reqlen);
	while ((n = read(fd, resp + o, sizeof(resp) - 1 - o)) > 0)
		o += (size_t)n;
	close(fd);
	resp[o] = '\0';
	return resp;
}

static char *req(bool tcp, const char *r)
{
	return xfer(tcp, r, strlen(r));
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

static int setup(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct admin_opts o = { .tcp = (void *)&sin, .tcp_len = sizeof(sin) };

	snprintf(sock_dir, sizeof(sock_dir), "/tmp/sluice-admin-test-%d", getpid());
	snprintf(sock_path, sizeof(sock_path), "%s/sub/admin.sock", sock_dir);
	mkdir(sock_dir, 0700);
	o.unix_path = sock_path;
	assert_int_equal(admin_register("/echo", h_echo, "E"), 0);
	assert_int_equal(admin_register("/fail", h_fail, NULL), 0);
	assert_int_equal(admin_register("/get", h_get_only, NULL), 0);
	assert_int_equal(admin_start(&o), 0);
	return 0;
}

static int teardown(void **state)
{
	char sub[96];

	admin_stop();
	admin_unregister_all();
	snprintf(sub, sizeof(sub), "%s/sub", sock_dir);
	rmdir(sub);
	rmdir(sock_dir);
	return 0;
}

static void test_get_unix(void **state)
{
	char *r = req(false, "GET /echo?a=1&b=2 HTTP/1.1\r\nHost: x\r\n\r\n");

	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r, "Content-Type: text/plain\r\n"));
	assert_non_null(strstr(r, "Connection: close\r\n"));
	assert_string_equal(body_of(r), "E|GET|/echo|a=1&b=2|1|");
}

static void test_post_body_unix(void **state)
{
	char *r = req(false, "POST /echo HTTP/1.1\r\nHost: x\r\n"
			     "Content-Length: 9\r\n\r\ncidr=1234");

	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_string_equal(body_of(r), "E|POST|/echo||1|cidr=1234");
}

static void test_body_in_pieces(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *a = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Le";
	const char *b = "ngth: 5\r\n\r\nab", *c = "cde";
	char resp[4096];
	size_t o = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, sock_path);
	assert_int_equal(connect(fd, (void *)&sun, sizeof(sun)), 0);
	assert_true(write(fd, a, strlen(a)) > 0);
	usleep(20000);
	assert_true(write(fd, b, strlen(b)) > 0);
	usleep(20000);
	assert_true(write(fd, c, strlen(c)) > 0);
	while ((n = read(fd, resp + o, sizeof(resp) - 1 - o)) > 0)
		o += (size_t)n;
	resp[o] = '\0';
	close(fd);
	assert_string_equal(body_of(resp), "E|POST|/echo||1|abcde");
}

static void test_tcp_read_only(void **state)
{
	char *r = req(true, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");

	assert_string_equal(body_of(r), "E|GET|/echo||0|");
	r = req(true, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 403 Forbidden\r\n"));
	assert_string_equal(body_of(r),
			    "{\"error\":\"forbidden\",\"status\":403,\"message\":"
			    "\"POST /echo is accepted only on the admin Unix socket\"}");
}

static void test_not_found(void **state)
{
	char *r = req(false, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");

	assert_non_null(strstr(r, "HTTP/1.1 404 Not Found\r\n"));
	assert_non_null(strstr(r, "Content-Type: application/json\r\n"));
	assert_string_equal(body_of(r), "{\"error\":\"not_found\",\"status\":404,"
					"\"message\":\"no admin endpoint /nope\"}");
	/* exact match: a prefix is not enough */
	r = req(false, "GET /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 404 "));
}

static void test_handler_error_and_method(void **state)
{
	char *r = req(false, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");

	assert_non_null(strstr(r, "HTTP/1.1 500 "));
	assert_non_null(strstr(body_of(r), "\"error\":\"internal_error\""));
	r = req(false, "DELETE /get HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 405 "));
	assert_string_equal(body_of(r), "{\"error\":\"method_not_allowed\",\"status\":405,"
					"\"message\":\"this endpoint accepts GET\"}");
}

static void test_head(void **state)
{
	char *r = req(false, "HEAD /get HTTP/1.1\r\nHost: x\r\n\r\n");

	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r, "Content-Length: 2\r\n"));
	assert_string_equal(body_of(r), "");
}

static void test_bad_requests(void **state)
{
	char big[ADMIN_MAX_REQUEST + 64];
	char *r;
	int n;

	r = req(false, "GARBAGE\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 400 "));
	r = req(false, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 411 "));
	r = req(false, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 413 "));
	n = snprintf(big, sizeof(big), "GET /echo HTTP/1.1\r\nHost: x\r\nX: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n - 1);
	big[sizeof(big) - 1] = '\0';
	r = xfer(false, big, ADMIN_MAX_REQUEST);
	assert_non_null(strstr(r, "HTTP/1.1 431 "));
}

static void test_register_errors(void **state)
{
	assert_int_equal(admin_register("nope", h_echo, NULL), -EINVAL);
	assert_int_equal(admin_register("/x", NULL, NULL), -EINVAL);
	/* re-registering replaces the handler */
	assert_int_equal(admin_register("/echo", h_echo, "F"), 0);
	assert_string_equal(body_of(req(false, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")),
			    "F|GET|/echo||1|");
	assert_int_equal(admin_register("/echo", h_echo, "E"), 0);
}

static void test_socket_mode_and_inuse(void **state)
{
	struct admin_opts o = { .unix_path = sock_path };
	struct stat st;

	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a second server in the process is refused */
	assert_int_equal(admin_start(&o), -EALREADY);
}

static void test_stale_socket_replaced(void **state)
{
	char path[128];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct admin_opts o = { .unix_path = path };
	int fd;

	/* stop the shared server, leave a stale socket file, restart on it */
	admin_stop();
	snprintf(path, sizeof(path), "%s/stale.sock", sock_dir);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (void *)&sun, sizeof(sun)), 0);
	close(fd);	/* the file remains: stale */
	assert_int_equal(admin_start(&o), 0);
	admin_stop();
	assert_int_equal(access(path, F_OK), -1);	/* removed on stop */
	/* a regular file in the way is an error */
	fd = creat(path, 0600);
	close(fd);
	assert_int_equal(admin_start(&o), -EEXIST);
	unlink(path);
	setup(state);
}

static void test_jw(void **state)
{
	struct jw w;
	char *out;
	size_t len;

	jw_init(&w);
	jw_obj(&w);
	jw_kstr(&w, "s", "a\"b\\c\n\x01");
	jw_key(&w, "arr");
	jw_arr(&w);
	jw_u64(&w, 1);
	jw_i64(&w, -2);
	jw_bool(&w, true);
	jw_null(&w);
	jw_obj(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_kstr(&w, "n", NULL);
	jw_obj_end(&w);
	assert_int_equal(jw_finish(&w, &out, &len), 0);
	assert_string_equal(out, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"arr\":[1,-2,true,null,{}],\"n\":null}");
	assert_int_equal(len, strlen(out));
	free(out);

	/* nothing written: an empty text, still the caller's to free */
	jw_init(&w);
	assert_int_equal(jw_finish(&w, &out, &len), 0);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	free(out);

	/* unbalanced */
	jw_init(&w);
	jw_obj(&w);
	assert_int_equal(jw_finish(&w, &out, &len), -EINVAL);
	jw_init(&w);
	jw_arr_end(&w);
	assert_int_equal(jw_finish(&w, &out, &len), -EINVAL);
	/* key outside an object */
	jw_init(&w);
	jw_key(&w, "k");
	assert_int_equal(jw_finish(&w, &out, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_unix),
		cmocka_unit_test(test_post_body_unix),
		cmocka_unit_test(test_body_in_pieces),
		cmocka_unit_test(test_tcp_read_only),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_handler_error_and_method),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_register_errors),
		cmocka_unit_test(test_socket_mode_and_inuse),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_jw),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
