// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for http_parse_response().
 *
 * Input: byte 0: bit 0 = the request was HEAD, the byte also picks where
 * to split the rest for the incremental check; bytes 1.. are the response.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ptr(const char *p, size_t n, const char *buf, size_t len)
{
	if (n && (p < buf || p + n > buf + len))
		abort();
}

static void check_result(int r, const struct http_response *resp,
			 const char *buf, size_t len, bool head)
{
	if (r == -1) {
		if (!resp->error)
			abort();
		return;
	}
	if (r == -2)
		return;
	if (r <= 0 || (size_t)r > len)
		abort();
	if (resp->status < 100 || resp->status > 599)
		abort();
	check_ptr(resp->reason, resp->reason_len, buf, (size_t)r);
	if (resp->num_headers > HTTP_MAX_HEADERS)
		abort();
	for (size_t i = 0; i < resp->num_headers; i++) {
		check_ptr(resp->headers[i].name, resp->headers[i].name_len, buf,
			  (size_t)r);
		check_ptr(resp->headers[i].value, resp->headers[i].value_len,
			  buf, (size_t)r);
	}
	if (head && resp->body != HTTP_BODY_NONE)
		abort();
	if (resp->body == HTTP_BODY_UNTIL_CLOSE && resp->keep_alive)
		abort();
	if (resp->body != HTTP_BODY_LENGTH && resp->content_length != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_response one, two;
	size_t len, cut;
	bool head;
	char *buf, *part;
	int r1, r2;

	if (size < 1)
		return 0;
	head = data[0] & 1;
	len = size - 1;
	cut = len ? (size_t)data[0] * len / 255 : 0;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);

	r1 = http_parse_response(buf, len, 0, head, &one);
	check_result(r1, &one, buf, len, head);

	part = malloc(cut ? cut : 1);
	if (!part) {
		free(buf);
		return 0;
	}
	memcpy(part, buf, cut);
	r2 = http_parse_response(part, cut, 0, head, &two);
	check_result(r2, &two, part, cut, head);
	free(part);
	if (r2 == -2 && cut < len) {
		r2 = http_parse_response(buf, len, cut, head, &two);
		check_result(r2, &two, buf, len, head);
	} else if (r2 != -2) {
		if (r2 > 0 && r1 != r2)
			abort();
		if (r2 == -1 && r1 != -1)
			abort();
		free(buf);
		return 0;
	}
	if (r1 > 0 && (r2 != r1 || one.status != two.status ||
		       one.body != two.body ||
		       one.content_length != two.content_length ||
		       one.keep_alive != two.keep_alive ||
		       one.num_headers != two.num_headers))
		abort();
	if (r1 == -2 && r2 != -2)
		abort();
	if (r1 == -1 && r2 == -1 && strcmp(one.error, two.error) != 0)
		abort();
	if (r1 == -1 && r2 > 0)
		abort();
	free(buf);
	return 0;
}
