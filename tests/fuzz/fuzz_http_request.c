// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for http_parse_request().
 *
 * Input: byte 0 picks where to split the rest for the incremental check;
 * bytes 1.. are the request. Checks: no crash/over-read/UB (ASan+UBSan),
 * the return value convention, that results point inside the input, and
 * that parsing in two calls (with last_len) agrees with one call.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ptr(const char *p, size_t n, const char *buf, size_t len)
{
	if (n == 0)
		return;
	if (p < buf || p + n > buf + len)
		abort();
}

static void check_result(int r, const struct http_request *req,
			 const char *buf, size_t len)
{
	if (r == -1) {
		if (!req->error)
			abort();
		switch (req->status) {
		case 400: case 414: case 417: case 431: case 501: case 505:
			break;
		default:
			abort();
		}
		return;
	}
	if (r == -2)
		return;
	if (r <= 0 || (size_t)r > len)
		abort();
	check_ptr(req->method, req->method_len, buf, (size_t)r);
	check_ptr(req->target, req->target_len, buf, (size_t)r);
	check_ptr(req->path, req->path_len, buf, (size_t)r);
	check_ptr(req->host, req->host_len, buf, (size_t)r);
	if (req->method_len == 0 || req->target_len == 0)
		abort();
	if (req->num_headers > HTTP_MAX_HEADERS)
		abort();
	for (size_t i = 0; i < req->num_headers; i++) {
		const struct http_header *h = &req->headers[i];

		check_ptr(h->name, h->name_len, buf, (size_t)r);
		check_ptr(h->value, h->value_len, buf, (size_t)r);
		if (h->name_len == 0)
			abort();
		/* values are OWS-trimmed and hold no CR/LF/NUL */
		if (h->value_len &&
		    (h->value[0] == ' ' || h->value[0] == '\t' ||
		     h->value[h->value_len - 1] == ' ' ||
		     h->value[h->value_len - 1] == '\t'))
			abort();
		for (size_t k = 0; k < h->value_len; k++)
			if (h->value[k] == '\r' || h->value[k] == '\n' ||
			    h->value[k] == '\0')
				abort();
	}
	if (req->minor_version != 0 && req->minor_version != 1)
		abort();
	if (req->body == HTTP_BODY_UNTIL_CLOSE)
		abort();
	if (req->minor_version == 1 && !req->host)
		abort();
}

static bool same_request(const struct http_request *a,
			 const struct http_request *b)
{
	if (a->method != b->method || a->method_len != b->method_len ||
	    a->target != b->target || a->target_len != b->target_len ||
	    a->path != b->path || a->path_len != b->path_len ||
	    a->minor_version != b->minor_version ||
	    a->num_headers != b->num_headers || a->body != b->body ||
	    a->content_length != b->content_length || a->host != b->host ||
	    a->host_len != b->host_len || a->keep_alive != b->keep_alive ||
	    a->expect_continue != b->expect_continue ||
	    a->upgrade != b->upgrade)
		return false;
	return memcmp(a->headers, b->headers,
		      a->num_headers * sizeof(a->headers[0])) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request one, two;
	struct http_limits lim;
	size_t len, cut;
	char *buf, *part;
	int r1, r2;

	if (size < 1)
		return 0;
	len = size - 1;
	cut = len ? (size_t)data[0] * len / 255 : 0;

	/* exact-size copies so ASan catches any over-read */
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);

	http_limits_default(&lim);
	if (data[0] & 1) {	/* small limits exercise the 414/431 paths */
		lim.max_target = 16 + data[0] % 64;
		lim.max_head = 64 + (size_t)data[0] * 2;
	}

	r1 = http_parse_request(buf, len, 0, &lim, &one);
	check_result(r1, &one, buf, len);

	/* two calls: a prefix (in its own exact-size buffer), then all */
	part = malloc(cut ? cut : 1);
	if (!part) {
		free(buf);
		return 0;
	}
	memcpy(part, buf, cut);
	r2 = http_parse_request(part, cut, 0, &lim, &two);
	check_result(r2, &two, part, cut);
	free(part);
	if (r2 == -2 && cut < len) {
		r2 = http_parse_request(buf, len, cut, &lim, &two);
		check_result(r2, &two, buf, len);
	} else if (r2 != -2) {
		/* the prefix already decided: the whole must agree */
		if (r2 > 0 && (r1 != r2))
			abort();
		if (r2 == -1 && (r1 != -1 || one.status != two.status))
			abort();
		free(buf);
		return 0;
	}

	/*
	 * Agreement: a complete head parses identically; "incomplete" stays
	 * incomplete. An error may show up later in the two-call path (the
	 * re-entry check only looks for the end of the head), never a
	 * different verdict.
	 */
	if (r1 > 0 && (r2 != r1 || !same_request(&one, &two)))
		abort();
	if (r1 == -2 && r2 != -2)
		abort();
	if (r1 == -1 && !(r2 == -2 || (r2 == -1 && one.status == two.status)))
		abort();
	free(buf);
	return 0;
}
