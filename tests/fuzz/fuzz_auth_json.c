// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the strict JSON reader (auth_json.c). Checks the
 * token invariants: spans inside the input, subtrees nested and "next"
 * consistent, member/element counts matching the walk, strings decodable
 * (or refused for NUL) and equal to their own decoding.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/auth_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_json_tok toks[512];

static void check(const char *buf, size_t len, int n)
{
	char out[4096];

	for (int i = 0; i < n; i++) {
		const struct auth_json_tok *t = &toks[i];

		if (t->start > t->end || t->end > len)
			abort();
		if (t->next <= (uint32_t)i || t->next > (uint32_t)n)
			abort();
		if (t->type < AUTH_JSON_OBJECT || t->type > AUTH_JSON_NULL)
			abort();
		if (t->type == AUTH_JSON_OBJECT || t->type == AUTH_JSON_ARRAY) {
			uint32_t j = (uint32_t)i + 1, cnt = 0;

			while (j < t->next) {
				if (t->type == AUTH_JSON_OBJECT) {
					if (toks[j].type != AUTH_JSON_STRING)
						abort();
					j = toks[j + 1].next;
				} else {
					j = toks[j].next;
				}
				cnt++;
			}
			if (j != t->next || cnt != t->size)
				abort();
		} else if (t->next != (uint32_t)i + 1) {
			abort();
		}
		if (t->type == AUTH_JSON_STRING) {
			ssize_t r = auth_json_str(buf, t, out, sizeof(out));

			if (r >= 0 && !auth_json_str_eq(buf, t, out, (size_t)r))
				abort();
			if (r < 0 && r != -ENOSPC && r != -EINVAL)
				abort();
		}
		if (t->type == AUTH_JSON_NUMBER) {
			int64_t v;
			int r = auth_json_int(buf, t, &v);

			if (r && r != -EINVAL && r != -ERANGE)
				abort();
		}
	}
	if (toks[0].next != (uint32_t)n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	int n;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	n = auth_json_parse(buf, size, toks, sizeof(toks) / sizeof(toks[0]));
	if (n == 0 || (n < 0 && n != -EINVAL && n != -E2BIG))
		abort();
	if (n > 0) {
		check(buf, size, n);
		if (toks[0].type == AUTH_JSON_OBJECT)
			(void)auth_json_get(buf, toks, 0, "alg");
	}
	free(buf);
	return 0;
}
