// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the chunked validator.
 *
 * Input: bytes 0-1 pick a split offset; bytes 2.. are the body. Scanning in
 * one call, in two calls split at that offset, through the decoder, and
 * (for small inputs) byte by byte must give the same verdict: same number of accepted bytes, same
 * done flag, or an error in all cases.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct verdict {
	long accepted;	/* -1: invalid */
	bool done;
};

/* scan buf[0..len) cut at cuts[0..n) (ascending), each piece in its own
 * exact-size heap copy so ASan sees any over-read */
static struct verdict scan(const char *buf, size_t len, const size_t *cuts,
			   size_t n)
{
	struct http_chunked c;
	struct verdict v = { 0, false };
	size_t off = 0;

	http_chunked_init(&c);
	for (size_t i = 0; i <= n; i++) {
		size_t to = i < n ? cuts[i] : len, plen = to - off;
		char *piece = malloc(plen ? plen : 1);
		long r;

		if (!piece)
			abort();
		memcpy(piece, buf + off, plen);
		r = http_chunked_scan(&c, piece, plen, &v.done);
		free(piece);
		if (r < 0) {
			v.accepted = -1;
			v.done = false;
			return v;
		}
		if ((size_t)r > plen)
			abort();
		v.accepted += r;
		if (v.done)
			return v;
		if ((size_t)r != plen)	/* short only when done */
			abort();
		off = to;
	}
	return v;
}

/* http_chunked_decode over the whole input: same verdict as the scanner,
 * data runs inside the accepted bytes and never overlapping framing */
static struct verdict decode(const char *buf, size_t len)
{
	struct http_chunked c;
	struct verdict v = { 0, false };
	char *copy = malloc(len ? len : 1);
	size_t off = 0;

	if (!copy)
		abort();
	memcpy(copy, buf, len);
	http_chunked_init(&c);
	while (off < len && !v.done) {
		size_t doff, dlen;
		long r = http_chunked_decode(&c, copy + off, len - off, &v.done,
					     &doff, &dlen);

		if (r < 0) {
			free(copy);
			v.accepted = -1;
			v.done = false;
			return v;
		}
		if ((size_t)r > len - off || doff + dlen > (size_t)r ||
		    (dlen && doff + dlen != (size_t)r))
			abort();
		if (r == 0)
			break;
		off += (size_t)r;
	}
	free(copy);
	v.accepted = (long)off;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict one, two;
	const char *buf;
	size_t len, cut;

	if (size < 2)
		return 0;
	buf = (const char *)data + 2;
	len = size - 2;
	cut = len ? ((size_t)data[0] << 8 | data[1]) % (len + 1) : 0;

	one = scan(buf, len, NULL, 0);
	two = scan(buf, len, &cut, 1);
	if (one.accepted != two.accepted || one.done != two.done)
		abort();
	if (one.accepted > (long)len)
		abort();
	two = decode(buf, len);
	if (one.accepted != two.accepted || one.done != two.done)
		abort();

	if (len <= 512) {
		size_t cuts[512];

		for (size_t i = 0; i < len; i++)
			cuts[i] = i + 1;
		two = scan(buf, len, cuts, len ? len - 1 : 0);
		if (one.accepted != two.accepted || one.done != two.done)
			abort();
	}
	return 0;
}
