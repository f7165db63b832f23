// SPDX-License-Identifier: MIT
/*
 * Strict HTTP/1.1 message-head parser (RFC 9112, RFC 9110); the chunked-body
 * validator and decoder are in http_chunked.c. Pure: no allocation, no I/O,
 * no logging, no globals besides constant tables. docs/HTTP.md lists every
 * accept/reject decision.
 *
 * Design: one forward pass over the bytes with a 256-entry class table;
 * results point into the caller's buffer. On "incomplete" (-2) the outputs
 * are unspecified; on -1 only ->status/->error are meaningful.
 */
#include "http/http.h"
#include "http/http_int.h"

#include <limits.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "lib/str.h"

/* ---- character classes (enum and IS() in http_int.h) ------------------ */

/* Generated from the RFC ABNF; see docs/HTTP.md. */
const uint8_t http__cls[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x00 */
	0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x08 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x10 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x18 */
	0x84, 0x8b, 0x0a, 0x83, 0x8b, 0x8b, 0x8b, 0x8b, /* 0x20 */
	0x8a, 0x8a, 0x8b, 0x8b, 0x8a, 0xab, 0xab, 0x8a, /* 0x28 */
	0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, /* 0x30 */
	0xfb, 0xfb, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0x38 */
	0x8a, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xab, /* 0x40 */
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, /* 0x48 */
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, /* 0x50 */
	0xab, 0xab, 0xab, 0x8a, 0x0a, 0x8a, 0x8b, 0xab, /* 0x58 */
	0x8b, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xab, /* 0x60 */
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, /* 0x68 */
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, /* 0x70 */
	0xab, 0xab, 0xab, 0x8a, 0x8b, 0x8a, 0xab, 0x00, /* 0x78 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0x80 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0x88 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0x90 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0x98 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xa0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xa8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xb0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xb8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xc0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xc8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xd0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xd8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xe0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xe8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xf0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, /* 0xf8 */
};

/* ---- error strings (static, JSON-safe) -------------------------------- */

#define E_BARE_LF "bare LF line ending"
#define E_BARE_CR "CR not followed by LF"
#define E_METHOD "invalid method"
#define E_METHOD_LONG "method too long"
#define E_TARGET_CHAR "invalid character in request target"
#define E_TARGET_EMPTY "empty request target"
#define E_TARGET_LONG "request target too long"
#define E_TARGET_PCT "invalid percent-encoding in request target"
#define E_TARGET_FORM "invalid request target"
#define E_TARGET_SCHEME "unsupported URI scheme in request target"
#define E_TARGET_USERINFO "userinfo in request target"
#define E_TARGET_HOST "invalid host in request target"
#define E_ASTERISK "asterisk-form target is only allowed for OPTIONS"
#define E_CONNECT "CONNECT requires an authority-form target"
#define E_VERSION "invalid HTTP version"
#define E_VERSION_UNSUP "unsupported HTTP version"
#define E_REQLINE "invalid request line"
#define E_HEAD_LARGE "header section too large"
#define E_TOO_MANY "too many header fields"
#define E_OBS_FOLD "obs-fold line folding is not allowed"
#define E_NAME "invalid header name"
#define E_NAME_WS "whitespace before colon in header"
#define E_VALUE "invalid character in header value"
#define E_CL "invalid content-length"
#define E_CL_DUP "duplicate content-length"
#define E_TE "invalid transfer-encoding"
#define E_TE_10 "transfer-encoding in HTTP/1.0 message"
#define E_TE_CL "both content-length and transfer-encoding"
#define E_TE_CHUNKED_TWICE "chunked applied more than once"
#define E_TE_NOT_LAST "chunked is not the final transfer-coding"
#define E_TE_UNSUP "unsupported transfer-coding"
#define E_HOST "invalid host header"
#define E_HOST_DUP "duplicate host header"
#define E_HOST_MISSING "missing host header"
#define E_HOST_MISMATCH "host header does not match request target"
#define E_CONNECTION "invalid connection header"
#define E_EXPECT "unsupported expectation"
#define E_STATUS_LINE "invalid status line"
#define E_STATUS_CODE "invalid status code"
#define E_REASON "invalid character in reason phrase"
#define E_NOBODY_FRAMING "framing headers on a response without body"

#define METHOD_MAX 64		/* longer methods: 501 (RFC 9110 9.1) */
#define CL_MAX_DIGITS 19	/* 10^19 - 1 < 2^64: no overflow while parsing */
#define CL_MAX INT64_MAX	/* and at most 2^63 - 1 (docs/HTTP.md) */
#define RESP_MAX_HEAD 32768	/* response heads have no limits argument */

struct perr {
	int status;
	const char *msg;
};

static int fail(struct perr *e, int status, const char *msg)
{
	e->status = status;
	e->msg = msg;
	return -1;
}

/* a[0..n) equals the literal lit, ASCII case-insensitive */
#define IEQ(a, n, lit) str_ieq((a), (n), "" lit, sizeof(lit) - 1)

static bool is_token(const char *s, const char *e)
{
	if (s == e)
		return false;
	for (; s < e; s++)
		if (!IS(*s, C_TCHAR))
			return false;
	return true;
}

/* ---- public helpers --------------------------------------------------- */

void http_limits_default(struct http_limits *l)
{
	l->max_target = 8192;
	l->max_head = 32768;
}

bool http_token_eq(const char *a, size_t alen, const char *lit)
{
	return str_ieq(a, alen, lit, strlen(lit));
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- field section ---------------------------------------------------- */

/* what the field section tells us, accumulated one field at a time */
struct fstate {
	bool request;
	int minor;
	unsigned host_count;
	const char *host;
	size_t host_len;
	bool cl_seen;
	uint64_t cl;
	bool te_seen;
	unsigned te_chunked;	/* times "chunked" appeared */
	bool te_last_chunked;	/* the last coding seen is chunked */
	bool te_other;		/* some coding other than chunked */
	bool conn_close;
	bool conn_keep_alive;
	bool conn_upgrade;
	bool upgrade_hdr;
	bool expect_continue;
	bool expect_other;
};

static int on_content_length(struct fstate *fs, const char *v, size_t n,
			     struct perr *err)
{
	uint64_t x = 0;

	if (fs->cl_seen)
		return fail(err, 400, E_CL_DUP);
	if (n == 0 || n > CL_MAX_DIGITS)
		return fail(err, 400, E_CL);
	for (size_t i = 0; i < n; i++) {
		if (!IS(v[i], C_DIGIT))
			return fail(err, 400, E_CL);
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	/* 19 digits reach 10^19 - 1; a length past 2^63 - 1 is one that
	 * an off_t, a Java long or a signed 64-bit parser cannot hold: a
	 * backend could read it as negative or wrapped */
	if (x > (uint64_t)CL_MAX)
		return fail(err, 400, E_CL);
	fs->cl_seen = true;
	fs->cl = x;
	return 0;
}

static int on_transfer_encoding(struct fstate *fs, const char *v, size_t n,
				struct perr *err)
{
	const char *p = v, *end = v + n, *s, *e;

	fs->te_seen = true;
	while (http_list_next(&p, end, &s, &e)) {
		const char *q = s;
		bool params;

		while (q < e && IS(*q, C_TCHAR))
			q++;
		if (q == s)
			return fail(err, 400, E_TE);
		params = q < e;
		if (params) {
			const char *r = q;

			while (r < e && (*r == ' ' || *r == '\t'))
				r++;
			if (r == e || *r != ';')
				return fail(err, 400, E_TE);
		}
		if (IEQ(s, (size_t)(q - s), "chunked")) {
			if (params)	/* chunked defines no parameters */
				return fail(err, 400, E_TE);
			fs->te_chunked++;
			fs->te_last_chunked = true;
		} else {
			fs->te_other = true;
			fs->te_last_chunked = false;
		}
	}
	return 0;
}

static int on_connection(struct fstate *fs, const char *v, size_t n,
			 struct perr *err)
{
	const char *p = v, *end = v + n, *s, *e;

	while (http_list_next(&p, end, &s, &e)) {
		size_t l = (size_t)(e - s);

		if (!is_token(s, e))
			return fail(err, 400, E_CONNECTION);
		if (IEQ(s, l, "close"))
			fs->conn_close = true;
		else if (IEQ(s, l, "keep-alive"))
			fs->conn_keep_alive = true;
		else if (IEQ(s, l, "upgrade"))
			fs->conn_upgrade = true;
	}
	return 0;
}

static void on_expect(struct fstate *fs, const char *v, size_t n)
{
	const char *p = v, *end = v + n, *s, *e;

	while (http_list_next(&p, end, &s, &e)) {
		if (IEQ(s, (size_t)(e - s), "100-continue"))
			fs->expect_continue = true;
		else
			fs->expect_other = true;
	}
}

static int on_field(struct fstate *fs, const struct http_header *h,
		    struct perr *err)
{
	const char *nm = h->name, *v = h->value;
	size_t n = h->value_len;

	switch (h->name_len) {
	case 4:
		if (fs->request && IEQ(nm, 4, "host")) {
			if (++fs->host_count > 1)
				return fail(err, 400, E_HOST_DUP);
			if (!http__host_port_valid(v, n, false))
				return fail(err, 400, E_HOST);
			fs->host = v;
			fs->host_len = n;
		}
		break;
	case 6:
		if (fs->request && IEQ(nm, 6, "expect"))
			on_expect(fs, v, n);
		break;
	case 7:
		if (IEQ(nm, 7, "upgrade"))
			fs->upgrade_hdr = true;
		break;
	case 10:
		if (IEQ(nm, 10, "connection"))
			return on_connection(fs, v, n, err);
		break;
	case 14:
		if (IEQ(nm, 14, "content-length"))
			return on_content_length(fs, v, n, err);
		break;
	case 17:
		if (IEQ(nm, 17, "transfer-encoding"))
			return on_transfer_encoding(fs, v, n, err);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Past the field-value bytes from p (field-vchar, obs-text, SP, HTAB: the
 * set IS(c, C_FVAL | C_WS) tests): the first other byte, or end. With SSE2
 * (every x86-64) 16 bytes a step, so that most values take one or two
 * steps instead of a table lookup per byte; the rest byte by byte. The
 * vector test: c <= 0x1f except HTAB, or c == 0x7f (DEL).
 */
static inline const char *skip_field_value(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i ctl = _mm_set1_epi8(0x1f);
	const __m128i tab = _mm_set1_epi8('\t');
	const __m128i del = _mm_set1_epi8(0x7f);

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v);
		__m128i bad = _mm_or_si128(
			_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), low),
			_mm_cmpeq_epi8(v, del));
		unsigned int m = (unsigned int)_mm_movemask_epi8(bad);

		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
#endif
	while (p < end && IS(*p, C_FVAL | C_WS))
		p++;
	return p;
}

/*
 * Past the bytes from p that are surely token characters: ALPHA, DIGIT and
 * '-', which is what field names are made of in practice, 16 a step with
 * SSE2. The caller goes on byte by byte with the whole token set (and the
 * ':' check), so this only ever skips bytes that IS(c, C_TCHAR) accepts.
 */
static inline const char *skip_name_fast(const char *p, const char *end)
{
#ifdef __SSE2__
	/* c | 0x20 folds A-Z onto a-z (and nothing else onto them) */
	const __m128i fold = _mm_set1_epi8(0x20);
	const __m128i a1 = _mm_set1_epi8('a' - 1), z1 = _mm_set1_epi8('z' + 1);
	const __m128i d1 = _mm_set1_epi8('0' - 1), d9 = _mm_set1_epi8('9' + 1);
	const __m128i dash = _mm_set1_epi8('-');

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i l = _mm_or_si128(v, fold);
		/* signed compares: bytes >= 0x80 are negative, so outside */
		__m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(l, a1),
					      _mm_cmplt_epi8(l, z1));
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, d1),
					      _mm_cmplt_epi8(v, d9));
		__m128i ok = _mm_or_si128(_mm_or_si128(alpha, digit),
					  _mm_cmpeq_epi8(v, dash));
		unsigned int m = ~(unsigned int)_mm_movemask_epi8(ok) & 0xffff;

		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
#else
	(void)end;
#endif
	return p;
}

/*
 * Past the request-target bytes from p (VCHAR except '#': the set
 * IS(c, C_TARGET) tests), at most up to end: 16 a step with SSE2, then
 * byte by byte.
 */
static inline const char *skip_target(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i lo = _mm_set1_epi8(0x21), hi = _mm_set1_epi8(0x7e);
	const __m128i hash = _mm_set1_epi8('#');

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i in = _mm_and_si128(
			_mm_cmpeq_epi8(_mm_max_epu8(v, lo), v),
			_mm_cmpeq_epi8(_mm_min_epu8(v, hi), v));
		__m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(v, hash), in);
		unsigned int m = ~(unsigned int)_mm_movemask_epi8(ok) & 0xffff;

		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
#endif
	while (p < end && IS(*p, C_TARGET))
		p++;
	return p;
}

/*
 * Parse header fields from *pp up to and including the empty line.
 * Returns 0 (done, *pp past the final CRLF), -1 (err set) or -2.
 */
static int parse_fields(const char **pp, const char *end,
			struct http_header *hdrs, size_t *num,
			struct fstate *fs, struct perr *err)
{
	const char *p = *pp;
	size_t nh = 0;

	for (;;) {
		const char *name, *val, *vend;
		struct http_header *h;

		if (p == end)
			return -2;
		if (*p == '\r') {
			if (p + 1 == end)
				return -2;
			if (p[1] != '\n')
				return fail(err, 400, E_BARE_CR);
			p += 2;
			break;
		}
		if (*p == '\n')
			return fail(err, 400, E_BARE_LF);
		if (IS(*p, C_WS))
			return fail(err, 400, E_OBS_FOLD);
		if (nh == HTTP_MAX_HEADERS)
			return fail(err, 431, E_TOO_MANY);

		name = p;
		p = skip_name_fast(p, end);
		while (p < end && IS(*p, C_TCHAR))
			p++;
		if (p == end)
			return -2;
		if (*p != ':') {
			if (p != name && IS(*p, C_WS))
				return fail(err, 400, E_NAME_WS);
			return fail(err, 400, E_NAME);
		}
		if (p == name)
			return fail(err, 400, E_NAME);
		h = &hdrs[nh];
		h->name = name;
		h->name_len = (size_t)(p - name);
		p++;

		while (p < end && IS(*p, C_WS))
			p++;
		val = p;
		p = skip_field_value(p, end);
		if (p == end)
			return -2;
		vend = p;
		while (vend > val && IS(vend[-1], C_WS))
			vend--;
		if (*p != '\r')
			return fail(err, 400, *p == '\n' ? E_BARE_LF : E_VALUE);
		if (p + 1 == end)
			return -2;
		if (p[1] != '\n')
			return fail(err, 400, E_BARE_CR);
		p += 2;
		h->value = val;
		h->value_len = (size_t)(vend - val);
		nh++;
		if (on_field(fs, h, err) < 0)
			return -1;
	}
	*num = nh;
	*pp = p;
	return 0;
}

/*
 * The field section of a request (request = true) or a response, up to and
 * including the empty line, then the Transfer-Encoding checks both share
 * (RFC 9112 6.1): none in HTTP/1.0, not with Content-Length, chunked at most
 * once. A failed check answers bad_status (400 for a request, 502 for a
 * response); the caller goes on with its own framing rules from *fs.
 * Returns 0 (*pp past the final CRLF), -1 (err set) or -2.
 */
static inline int parse_field_section(const char **pp, const char *end,
				      bool request, int minor, int bad_status,
				      struct http_header *hdrs, size_t *num,
				      struct fstate *fs, struct perr *err)
{
	int r;

	*fs = (struct fstate){ .request = request, .minor = minor };
	r = parse_fields(pp, end, hdrs, num, fs, err);
	if (r < 0)
		return r;
	if (fs->te_seen) {
		if (minor == 0)
			return fail(err, bad_status, E_TE_10);
		if (fs->cl_seen)
			return fail(err, bad_status, E_TE_CL);
		if (fs->te_chunked > 1)
			return fail(err, bad_status, E_TE_CHUNKED_TWICE);
	}
	return 0;
}

/*
 * Fast "is it worth a full parse yet?" check for a caller that already saw
 * buf[0..from+3): look at the new bytes [from, to) only, for the end of the
 * head (CRLF CRLF) or a line-ending error (bare LF, CR not followed by LF)
 * that the full parse then reports. picohttpparser's idea; it keeps the cost
 * of a head trickling in linear.
 */
static bool head_maybe_ready(const char *buf, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		uint8_t c = (uint8_t)buf[i];

		if (c > '\r')
			continue;
		if (c == '\n') {
			if (i == 0 || buf[i - 1] != '\r')
				return true;
			if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
				return true;
		} else if (c == '\r' && i + 1 < to && buf[i + 1] != '\n') {
			return true;
		}
	}
	return false;
}

/* ---- request ---------------------------------------------------------- */

/* "HTTP/" DIGIT "." DIGIT; returns 0 (major, minor set), -1 or -2 */
static int parse_version(const char **pp, const char *end, int *major,
			 int *minor)
{
	static const char pre[] = "HTTP/";
	const char *p = *pp;

	for (size_t i = 0; i < 5; i++, p++) {
		if (p == end)
			return -2;
		if (*p != pre[i])
			return -1;
	}
	if (p == end)
		return -2;
	if (!IS(*p, C_DIGIT))
		return -1;
	*major = *p++ - '0';
	if (p == end)
		return -2;
	if (*p++ != '.')
		return -1;
	if (p == end)
		return -2;
	if (!IS(*p, C_DIGIT))
		return -1;
	*minor = *p++ - '0';
	*pp = p;
	return 0;
}

/* expect CRLF at *pp; returns 0, -1 (err set with msg_other) or -2 */
static int parse_crlf(const char **pp, const char *end, struct perr *err,
		      const char *msg_other)
{
	const char *p = *pp;

	if (p == end)
		return -2;
	if (*p == '\n')
		return fail(err, 400, E_BARE_LF);
	if (*p != '\r')
		return fail(err, 400, msg_other);
	if (p + 1 == end)
		return -2;
	if (p[1] != '\n')
		return fail(err, 400, E_BARE_CR);
	*pp = p + 2;
	return 0;
}

/*
 * Classify and check the request-target once the method is known.
 * Sets path/path_len; for absolute-form sets *auth to the authority.
 */
static int check_target(struct http_request *req, const char **auth,
			size_t *auth_len, struct perr *err)
{
	const char *t = req->target, *tend = t + req->target_len, *q, *s;
	bool connect = req->method_len == 7 &&
		       memcmp(req->method, "CONNECT", 7) == 0;

	/* pct-encoded = "%" HEXDIG HEXDIG */
	for (s = memchr(t, '%', req->target_len); s;
	     s = memchr(s + 1, '%', (size_t)(tend - s - 1))) {
		if (tend - s < 3 || !IS(s[1], C_HEX) || !IS(s[2], C_HEX))
			return fail(err, 400, E_TARGET_PCT);
	}

	if (t[0] == '/') {
		if (connect)
			return fail(err, 400, E_CONNECT);
		q = memchr(t, '?', req->target_len);
		req->path = t;
		req->path_len = q ? (size_t)(q - t) : req->target_len;
		return 0;
	}
	if (req->target_len == 1 && t[0] == '*') {
		if (req->method_len != 7 || memcmp(req->method, "OPTIONS", 7))
			return fail(err, 400, E_ASTERISK);
		req->path = t;
		req->path_len = 1;
		return 0;
	}
	if (connect) {
		/* authority-form = uri-host ":" port */
		if (!http__host_port_valid(t, req->target_len, true))
			return fail(err, 400, E_CONNECT);
		req->path = t;
		req->path_len = 0;
		return 0;
	}

	/* absolute-form: "http" / "https" "://" authority path-abempty [?q] */
	s = t;
	while (s < tend && *s != ':' && *s != '/' && *s != '?')
		s++;
	if (s == tend || *s != ':')
		return fail(err, 400, E_TARGET_FORM);
	if (!IEQ(t, (size_t)(s - t), "http") &&
	    !IEQ(t, (size_t)(s - t), "https"))
		return fail(err, 400, E_TARGET_SCHEME);
	if (tend - s < 3 || s[1] != '/' || s[2] != '/')
		return fail(err, 400, E_TARGET_FORM);
	s += 3;
	*auth = s;
	while (s < tend && *s != '/' && *s != '?')
		s++;
	*auth_len = (size_t)(s - *auth);
	if (memchr(*auth, '@', *auth_len))
		return fail(err, 400, E_TARGET_USERINFO);
	if (!http__host_port_valid(*auth, *auth_len, false))
		return fail(err, 400, E_TARGET_HOST);
	req->path = s;
	q = memchr(s, '?', (size_t)(tend - s));
	req->path_len = (size_t)((q ? q : tend) - s);
	return 0;
}

static int parse_request(const char *buf, size_t len,
			 const struct http_limits *lim,
			 struct http_request *req, struct perr *err)
{
	const char *p = buf, *end = buf + len, *m, *t, *auth = NULL;
	size_t avail, scan, auth_len = 0;
	int major = 0, minor = 0, r;
	struct fstate fs;

	/* RFC 9112 2.2: ignore one empty line before the request-line */
	if (p < end && *p == '\r') {
		if (p + 1 == end)
			return -2;
		if (p[1] != '\n')
			return fail(err, 400, E_BARE_CR);
		p += 2;
	}

	/* method = token */
	m = p;
	avail = (size_t)(end - p);
	scan = avail > METHOD_MAX ? METHOD_MAX + 1 : avail;
	while (p < m + scan && IS(*p, C_TCHAR))
		p++;
	if ((size_t)(p - m) > METHOD_MAX)
		return fail(err, 501, E_METHOD_LONG);
	if (p == end)
		return -2;
	if (*p != ' ' || p == m)
		return fail(err, 400, *p == '\n' ? E_BARE_LF : E_METHOD);
	req->method = m;
	req->method_len = (size_t)(p - m);
	p++;

	/* request-target: VCHAR except '#', bounded by max_target */
	t = p;
	avail = (size_t)(end - p);
	scan = avail > lim->max_target ? lim->max_target + 1 : avail;
	p = skip_target(p, t + scan);
	if ((size_t)(p - t) > lim->max_target)
		return fail(err, 414, E_TARGET_LONG);
	if (p == end)
		return -2;
	if (*p != ' ') {
		if (*p == '\r' || *p == '\n')
			return fail(err, 400, E_REQLINE);
		return fail(err, 400, E_TARGET_CHAR);
	}
	if (p == t)
		return fail(err, 400, E_TARGET_EMPTY);
	req->target = t;
	req->target_len = (size_t)(p - t);
	p++;

	r = parse_version(&p, end, &major, &minor);
	if (r == -2)
		return -2;
	if (r < 0)
		return fail(err, 400, E_VERSION);
	r = parse_crlf(&p, end, err, E_REQLINE);
	if (r < 0)
		return r;
	if (major != 1 || minor > 1)
		return fail(err, 505, E_VERSION_UNSUP);
	req->minor_version = minor;

	if (check_target(req, &auth, &auth_len, err) < 0)
		return -1;

	r = parse_field_section(&p, end, true, minor, 400, req->headers,
				&req->num_headers, &fs, err);
	if (r < 0)
		return r;

	/* ---- framing (RFC 9112 6.1, 6.3), after the common checks ---- */
	if (fs.te_seen) {
		if (!fs.te_last_chunked)
			return fail(err, 400, E_TE_NOT_LAST);
		if (fs.te_other)
			return fail(err, 501, E_TE_UNSUP);
		req->body = HTTP_BODY_CHUNKED;
		req->content_length = 0;
	} else if (fs.cl_seen) {
		req->body = HTTP_BODY_LENGTH;
		req->content_length = fs.cl;
	} else {
		req->body = HTTP_BODY_NONE;
		req->content_length = 0;
	}

	/* ---- Host (RFC 9112 3.2) ---- */
	if (minor == 1 && fs.host_count == 0)
		return fail(err, 400, E_HOST_MISSING);
	if (auth) {
		if (fs.host_count &&
		    !str_ieq(fs.host, fs.host_len, auth, auth_len))
			return fail(err, 400, E_HOST_MISMATCH);
		req->host = auth;
		req->host_len = auth_len;
	} else {
		req->host = fs.host;
		req->host_len = fs.host_len;
	}

	/* ---- Expect (RFC 9110 10.1.1): ignored in HTTP/1.0 ---- */
	if (minor == 1 && fs.expect_other)
		return fail(err, 417, E_EXPECT);
	req->expect_continue = minor == 1 && fs.expect_continue;

	/* ---- persistence (RFC 9112 9.3) and upgrade (RFC 9110 7.8) ---- */
	if (fs.conn_close)
		req->keep_alive = false;
	else
		req->keep_alive = minor == 1 || fs.conn_keep_alive;
	req->upgrade = minor == 1 && fs.conn_upgrade && fs.upgrade_hdr;

	return (int)(p - buf);
}

int http_parse_request(const char *buf, size_t len, size_t last_len,
		       const struct http_limits *lim, struct http_request *req)
{
	struct http_limits dflt;
	struct perr err = { 0, NULL };
	size_t cap, max_head;
	int r;

	if (!lim) {
		http_limits_default(&dflt);
		lim = &dflt;
	}
	max_head = lim->max_head < INT_MAX ? lim->max_head : INT_MAX;
	cap = len < max_head ? len : max_head;

	/*
	 * Cheap re-entry: the caller already saw buf[0..last_len) end without
	 * a complete head. If the request-line was complete then (its limits
	 * are checked) and no new CRLF CRLF / bare LF arrived, stay incomplete.
	 */
	if (last_len != 0 && last_len < len) {
		size_t from = last_len > 3 ? last_len - 3 : 0, skip = 0;

		if (from > cap)
			from = cap;
		if (from >= 2 && buf[0] == '\r' && buf[1] == '\n')
			skip = 2;
		/* over the limit: fall through, the full parse reports the
		 * first error in byte order (or 431) once */
		if (from > skip && memchr(buf + skip, '\n', from - skip) &&
		    !head_maybe_ready(buf, from, cap) && len <= max_head)
			return -2;
	}

	r = parse_request(buf, cap, lim, req, &err);
	if (r == -2 && len > max_head) {
		/* the head does not end within max_head bytes */
		fail(&err, 431, E_HEAD_LARGE);
		r = -1;
	}
	if (r == -1) {
		req->status = err.status;
		req->error = err.msg;
	}
	return r;
}

/* ---- response --------------------------------------------------------- */

static int parse_response(const char *buf, size_t len, bool req_was_head,
			  struct http_response *resp, struct perr *err)
{
	const char *p = buf, *end = buf + len, *rs, *rend;
	int major = 0, minor = 0, r, st = 0;
	struct fstate fs;

	r = parse_version(&p, end, &major, &minor);
	if (r == -2)
		return -2;
	if (r < 0)
		return fail(err, 502, E_STATUS_LINE);
	if (major != 1 || minor > 1)
		return fail(err, 502, E_VERSION_UNSUP);
	if (p == end)
		return -2;
	if (*p++ != ' ')
		return fail(err, 502, E_STATUS_LINE);
	for (int i = 0; i < 3; i++, p++) {
		if (p == end)
			return -2;
		if (!IS(*p, C_DIGIT))
			return fail(err, 502, E_STATUS_CODE);
		st = st * 10 + (*p - '0');
	}
	if (st < 100 || st > 599)
		return fail(err, 502, E_STATUS_CODE);
	if (p == end)
		return -2;
	/* SP reason-phrase; a missing SP before CRLF is tolerated */
	if (*p == ' ') {
		p++;
	} else if (*p != '\r' && *p != '\n') {
		return fail(err, 502, E_STATUS_CODE);
	}
	rs = p;
	p = skip_field_value(p, end);
	rend = p;
	if (p < end && *p != '\r' && *p != '\n')
		return fail(err, 502, E_REASON);
	r = parse_crlf(&p, end, err, E_STATUS_LINE);
	if (r < 0)
		return r;
	resp->minor_version = minor;
	resp->status = st;
	resp->reason = rs;
	resp->reason_len = (size_t)(rend - rs);

	r = parse_field_section(&p, end, false, minor, 502, resp->headers,
				&resp->num_headers, &fs, err);
	if (r < 0)
		return r;

	/* ---- framing (RFC 9112 6.3), after the common checks ---- */
	if (fs.te_seen && fs.te_chunked && !fs.te_last_chunked)
		return fail(err, 502, E_TE_NOT_LAST);
	if ((st < 200 || st == 204) && (fs.te_seen || (fs.cl_seen && fs.cl)))
		return fail(err, 502, E_NOBODY_FRAMING);

	resp->keep_alive = !fs.conn_close && (minor == 1 || fs.conn_keep_alive);
	resp->content_length = 0;
	if (req_was_head || st < 200 || st == 204 || st == 304) {
		resp->body = HTTP_BODY_NONE;
		if (st == 101)
			resp->keep_alive = false;	/* no more HTTP here */
	} else if (fs.te_seen && fs.te_last_chunked) {
		resp->body = HTTP_BODY_CHUNKED;
	} else if (fs.te_seen) {
		resp->body = HTTP_BODY_UNTIL_CLOSE;	/* RFC 9112 6.3 (4) */
		resp->keep_alive = false;
	} else if (fs.cl_seen) {
		resp->body = HTTP_BODY_LENGTH;
		resp->content_length = fs.cl;
	} else {
		resp->body = HTTP_BODY_UNTIL_CLOSE;
		resp->keep_alive = false;
	}
	return (int)(p - buf);
}

int http_parse_response(const char *buf, size_t len, size_t last_len,
			bool req_was_head, struct http_response *resp)
{
	struct perr err = { 0, NULL };
	size_t cap = len < RESP_MAX_HEAD ? len : RESP_MAX_HEAD;
	int r;

	if (last_len != 0 && last_len < len) {
		size_t from = last_len > 3 ? last_len - 3 : 0;

		if (from > cap)
			from = cap;
		if (!head_maybe_ready(buf, from, cap) && len <= RESP_MAX_HEAD)
			return -2;
	}

	r = parse_response(buf, cap, req_was_head, resp, &err);
	if (r == -2 && len > RESP_MAX_HEAD) {
		fail(&err, 502, E_HEAD_LARGE);
		r = -1;
	}
	if (r == -1)
		resp->error = err.msg;
	return r;
}
