// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: accesslog_format() with arbitrary bytes in every raw
 * request field (path, host, user agent, referer, method), both formats.
 * Checks: the line fits ACCESSLOG_LINE_MAX, ends in its only '\n', has no
 * other control byte, and a JSON line is valid UTF-8 with balanced quoting
 * (every string closed; escapes well formed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/accesslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const char *s, size_t n)
{
	int in_str = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!in_str) {
			if (c == '"')
				in_str = 1;
			continue;
		}
		if (c == '"') {
			in_str = 0;
		} else if (c == '\\') {
			char e = s[++i];

			if (e == 'u') {
				for (int k = 1; k <= 4; k++)
					if (!strchr("0123456789abcdef", s[i + k]))
						abort();
				i += 4;
			} else if (!strchr("\"\\/bfnrt", e)) {
				abort();
			}
		} else if (c >= 0x80) {
			/* a multi-byte sequence: lead + continuation bytes */
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;

			if (!len || i + len > n)
				abort();
			for (size_t k = 1; k < len; k++)
				if (((unsigned char)s[i + k] & 0xc0) != 0x80)
					abort();
			i += len - 1;
		}
	}
	if (in_str)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[ACCESSLOG_LINE_MAX];
	const char *d = (const char *)data;
	size_t part = size / 5;
	struct accesslog_record r = {
		.start_ns = (int64_t)size * 1000000007,
		.client = "198.18.0.2",
		.route = "r",
		.method = d, .method_len = part,
		.path = d + part, .path_len = part,
		.host = d + 2 * part, .host_len = part,
		.user_agent = d + 3 * part, .user_agent_len = part,
		.referer = d + 4 * part, .referer_len = size - 4 * part,
		.http_minor = 1,
		.status = 200,
		.upstream_us = -1,
	};

	if (size < 5)
		return 0;
	for (int f = ACCESSLOG_JSON; f <= ACCESSLOG_COMBINED; f++) {
		int n = accesslog_format(f, &r, line, sizeof(line));

		if (n <= 0 || (size_t)n > sizeof(line) || line[n - 1] != '\n')
			abort();
		for (int i = 0; i < n - 1; i++)
			if ((unsigned char)line[i] < 0x20)
				abort();
		if (f == ACCESSLOG_JSON)
			check_json(line, (size_t)n - 1);
	}
	return 0;
}
