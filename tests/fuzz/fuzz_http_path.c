// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the path normaliser (daemon/http/http_path.c).
 *
 * Input: byte 0 picks the flags; bytes 1.. are the path. The result must be
 * the same into a separate buffer and in place; when accepted it is never
 * longer than the input, starts with '/', holds no "//", "/./" or "/../"
 * (nor ends in "/." or "/.."), no ';' (stripped or refused) and no '\\', and
 * normalising it again gives itself (idempotence).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int has(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(s + i, needle, k))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int flags;
	const char *e1 = NULL, *e2 = NULL, *e3 = NULL;
	char *in, *out, *inplace, *again;
	size_t n;
	long m, m2, m3;

	if (size < 1)
		return 0;
	flags = data[0] & (HTTP_PATH_STRIP_PARAMS |
			   HTTP_PATH_KEEP_ESCAPED_SLASH);
	n = size - 1;
	/* exact-size heap copies: ASan sees any over-read or over-write */
	in = malloc(n ? n : 1);
	out = malloc(n ? n : 1);
	inplace = malloc(n ? n : 1);
	memcpy(in, data + 1, n);
	memcpy(inplace, data + 1, n);

	m = http_path_normalize(out, in, n, flags, &e1);
	m2 = http_path_normalize(inplace, inplace, n, flags, &e2);
	if (m != m2)
		abort();
	if (m < 0) {
		if (!e1 || !e2 || strcmp(e1, e2))
			abort();
		goto done;
	}
	if ((size_t)m > n || m < 1 || out[0] != '/' ||
	    memcmp(out, inplace, (size_t)m))
		abort();
	if (has(out, (size_t)m, "//") || has(out, (size_t)m, "/./") ||
	    has(out, (size_t)m, "/../") || memchr(out, ';', (size_t)m) ||
	    memchr(out, '\\', (size_t)m))
		abort();
	if ((m >= 2 && !memcmp(out + m - 2, "/.", 2)) ||
	    (m >= 3 && !memcmp(out + m - 3, "/..", 3)))
		abort();
	again = malloc((size_t)m);
	m3 = http_path_normalize(again, out, (size_t)m, flags, &e3);
	if (m3 != m || memcmp(again, out, (size_t)m))
		abort();
	free(again);
done:
	free(in);
	free(out);
	free(inplace);
	return 0;
}
