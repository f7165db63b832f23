// SPDX-License-Identifier: MIT
/*
 * Chunked transfer-coding (RFC 9112 7.1): a strict validator that never
 * changes the bytes (http_chunked_scan) and a decoder on top of it that
 * reports where the chunk data lie, for re-framing (http_chunked_decode).
 * Pure: no allocation, no I/O, no logging. Part of the http module: the
 * interface is in http.h, the byte classes are shared with http.c through
 * http_int.h. docs/HTTP.md lists every accept/reject decision.
 */
#include "http/http.h"
#include "http/http_int.h"

#include <string.h>

#define CHUNK_SIZE_DIGITS 15		/* 16^15 = 2^60 */
#define CHUNK_EXT_MAX 256		/* bytes of chunk-ext per line */
#define CHUNK_TRAILER_MAX 8192		/* bytes of the whole trailer section */

enum {
	CH_SIZE_FIRST = 0,	/* first HEXDIG of chunk-size */
	CH_SIZE,		/* HEXDIG, ';' or CR */
	CH_EXT_NAME_FIRST,	/* after ';': token */
	CH_EXT_NAME,		/* token, '=', ';' or CR */
	CH_EXT_VAL_FIRST,	/* after '=': token or DQUOTE */
	CH_EXT_VAL_TOKEN,	/* token, ';' or CR */
	CH_EXT_VAL_QUOTED,	/* qdtext, '\\' or DQUOTE */
	CH_EXT_VAL_QPAIR,	/* the byte after '\\' */
	CH_EXT_VAL_END,		/* after closing DQUOTE: ';' or CR */
	CH_SIZE_LF,		/* LF ending the chunk-size line */
	CH_DATA,		/* chunk-data */
	CH_DATA_CR,		/* CR after chunk-data */
	CH_DATA_LF,		/* LF after chunk-data */
	CH_TRAILER_START,	/* start of a trailer line or the final CRLF */
	CH_TRAILER_NAME,	/* token or ':' */
	CH_TRAILER_VALUE,	/* field-vchar, SP, HTAB or CR */
	CH_TRAILER_LF,		/* LF ending a trailer field line */
	CH_FINAL_LF,		/* LF ending the message */
	CH_DONE,
	CH_ERROR,
};

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE_FIRST;
}

/*
 * One function on purpose: a byte-at-a-time state machine whose states are
 * the grammar's positions (the enum above). Split into helpers, the state
 * and the cursor would have to travel through every call, and the grammar
 * would no longer read top to bottom.
 */
long http_chunked_scan(struct http_chunked *c, const char *buf, size_t len,
		       bool *done)
{
	const uint8_t *p = (const uint8_t *)buf, *end = p + len;
	int st = c->state;

	*done = st == CH_DONE;
	if (st == CH_DONE)
		return 0;
	if (st == CH_ERROR)
		return -1;

	while (p < end) {
		uint8_t ch;

		if (st == CH_DATA) {
			size_t n = (size_t)(end - p);

			if (c->remaining < n)
				n = (size_t)c->remaining;
			p += n;
			c->remaining -= n;
			if (c->remaining == 0)
				st = CH_DATA_CR;
			continue;
		}
		ch = *p++;
		if (st >= CH_EXT_NAME_FIRST && st <= CH_EXT_VAL_END &&
		    ++c->ext_len > CHUNK_EXT_MAX)
			goto bad;
		if (st >= CH_TRAILER_START && st <= CH_FINAL_LF &&
		    ++c->trailer_bytes > CHUNK_TRAILER_MAX)
			goto bad;

		switch (st) {
		case CH_SIZE_FIRST:
			if (!IS(ch, C_HEX))
				goto bad;
			c->remaining = 0;
			c->line_len = 0;
			c->ext_len = 0;
			/* fall through */
		case CH_SIZE:
			if (IS(ch, C_HEX)) {
				if (++c->line_len > CHUNK_SIZE_DIGITS)
					goto bad;
				c->remaining = (c->remaining << 4) |
					       (uint64_t)((ch & 0xf) +
							  (ch > '9' ? 9 : 0));
				st = CH_SIZE;
			} else if (ch == ';') {
				c->ext_len = 1;
				st = CH_EXT_NAME_FIRST;
			} else if (ch == '\r') {
				st = CH_SIZE_LF;
			} else {
				goto bad;
			}
			break;
		case CH_EXT_NAME_FIRST:
			if (!IS(ch, C_TCHAR))
				goto bad;
			st = CH_EXT_NAME;
			break;
		case CH_EXT_NAME:
		case CH_EXT_VAL_TOKEN:
			if (IS(ch, C_TCHAR))
				break;
			if (ch == '=' && st == CH_EXT_NAME)
				st = CH_EXT_VAL_FIRST;
			else if (ch == ';')
				st = CH_EXT_NAME_FIRST;
			else if (ch == '\r')
				st = CH_SIZE_LF;
			else
				goto bad;
			break;
		case CH_EXT_VAL_FIRST:
			if (ch == '"')
				st = CH_EXT_VAL_QUOTED;
			else if (IS(ch, C_TCHAR))
				st = CH_EXT_VAL_TOKEN;
			else
				goto bad;
			break;
		case CH_EXT_VAL_QUOTED:
			if (ch == '"')
				st = CH_EXT_VAL_END;
			else if (ch == '\\')
				st = CH_EXT_VAL_QPAIR;
			else if (!IS(ch, C_QDTEXT))
				goto bad;
			break;
		case CH_EXT_VAL_QPAIR:
			if (!IS(ch, C_FVAL) && !IS(ch, C_WS))
				goto bad;
			st = CH_EXT_VAL_QUOTED;
			break;
		case CH_EXT_VAL_END:
			if (ch == ';')
				st = CH_EXT_NAME_FIRST;
			else if (ch == '\r')
				st = CH_SIZE_LF;
			else
				goto bad;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				goto bad;
			if (c->remaining == 0) {
				c->trailer_bytes = 0;
				st = CH_TRAILER_START;
			} else {
				st = CH_DATA;
			}
			break;
		case CH_DATA_CR:
			if (ch != '\r')
				goto bad;
			st = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				goto bad;
			st = CH_SIZE_FIRST;
			break;
		case CH_TRAILER_START:
			if (ch == '\r')
				st = CH_FINAL_LF;
			else if (IS(ch, C_TCHAR))
				st = CH_TRAILER_NAME;
			else
				goto bad;	/* obs-fold, bare LF, junk */
			break;
		case CH_TRAILER_NAME:
			if (ch == ':')
				st = CH_TRAILER_VALUE;
			else if (!IS(ch, C_TCHAR))
				goto bad;
			break;
		case CH_TRAILER_VALUE:
			if (ch == '\r')
				st = CH_TRAILER_LF;
			else if (!IS(ch, C_FVAL) && !IS(ch, C_WS))
				goto bad;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				goto bad;
			st = CH_TRAILER_START;
			break;
		case CH_FINAL_LF:
			if (ch != '\n')
				goto bad;
			c->state = CH_DONE;
			*done = true;
			return (long)((const char *)p - buf);
		default:
			goto bad;
		}
	}
	c->state = st;
	return (long)len;

bad:
	c->state = CH_ERROR;
	return -1;
}

long http_chunked_decode(struct http_chunked *c, const char *buf, size_t len,
			 bool *done, size_t *data_off, size_t *data_len)
{
	size_t off = 0;
	long r;

	*data_off = 0;
	*data_len = 0;
	*done = c->state == CH_DONE;
	if (c->state == CH_ERROR)
		return -1;
	while (off < len && !*done) {
		if (c->state == CH_DATA) {
			size_t n = len - off;

			if (c->remaining < n)
				n = (size_t)c->remaining;
			r = http_chunked_scan(c, buf + off, n, done);
			if (r != (long)n)
				return -1;	/* cannot happen */
			*data_off = off;
			*data_len = n;
			return (long)(off + n);
		}
		/* framing: byte by byte, so that a data run starts a call */
		r = http_chunked_scan(c, buf + off, 1, done);
		if (r < 0)
			return -1;
		off += (size_t)r;
		if (r == 0)
			break;
	}
	return (long)off;
}
