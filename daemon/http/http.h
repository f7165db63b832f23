/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 message parsing (RFC 9112): pure, no allocation, no I/O.
 * The caller owns the buffer; results point into it.
 *
 * Return convention (picohttpparser style):
 *   > 0  bytes consumed by the message head (request line + headers + CRLF)
 *   -1   invalid message: see ->status (400, 414, 431, 501) and ->error
 *   -2   incomplete: call again with more bytes; pass last_len = the length
 *        of the previous attempt so the parser can skip rescanning.
 */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;	/* OWS trimmed */
	size_t value_len;
};

struct http_limits {
	size_t max_target;	/* request-target bytes; over -> 414 (default 8192) */
	size_t max_head;	/* whole head bytes; over -> 431 (default 32768) */
};

/* Body framing of a message, as decided by the parser. */
enum http_body {
	HTTP_BODY_NONE = 0,	/* no body */
	HTTP_BODY_LENGTH,	/* content_length bytes */
	HTTP_BODY_CHUNKED,	/* Transfer-Encoding: chunked */
	HTTP_BODY_UNTIL_CLOSE,	/* responses only: read until EOF */
};

struct http_request {
	const char *method;
	size_t method_len;
	const char *target;	/* request-target as sent */
	size_t target_len;
	const char *path;	/* target up to '?' (origin-form) */
	size_t path_len;
	int minor_version;	/* 0 or 1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t num_headers;
	/* derived while parsing */
	enum http_body body;
	uint64_t content_length;
	const char *host;	/* Host header value or NULL */
	size_t host_len;
	bool keep_alive;	/* after Connection: and version rules */
	bool expect_continue;
	bool upgrade;		/* Connection: upgrade + Upgrade: present */
	/* on -1 */
	int status;		/* HTTP status to answer with */
	const char *error;	/* short reason, static string, JSON-safe */
};

struct http_response {
	int minor_version;
	int status;		/* 100..999 */
	const char *reason;
	size_t reason_len;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t num_headers;
	enum http_body body;
	uint64_t content_length;
	bool keep_alive;
	const char *error;	/* on -1 */
};

void http_limits_default(struct http_limits *l);

/* Parse a request head. Rejects (-1): malformed request line, bad method
 * token, HTTP version other than 1.0/1.1, target over the limit (414), head
 * over the limit (431), too many headers (431), obs-fold, whitespace before
 * ':', control/invalid bytes in names/values, bare LF, Content-Length with
 * Transfer-Encoding, differing/invalid Content-Length, Transfer-Encoding not
 * ending in chunked (501 for unknown codings, 400 otherwise), HTTP/1.1 without
 * exactly one Host. */
int http_parse_request(const char *buf, size_t len, size_t last_len,
		       const struct http_limits *lim, struct http_request *req);

/* Parse a response head. req_method says whether the request was HEAD (no
 * body) and is used for framing rules (1xx/204/304 have no body). */
int http_parse_response(const char *buf, size_t len, size_t last_len,
			bool req_was_head, struct http_response *resp);

/*
 * Chunked body validator. It does not modify the data: the caller forwards
 * exactly the bytes the scanner accepted, which are then a strictly valid
 * chunked encoding (hex size without leading/trailing junk, size <= 2^60,
 * chunk extensions bounded, CRLF after data, trailer fields well formed).
 */
struct http_chunked {
	int state;
	uint64_t remaining;	/* data bytes left in the current chunk */
	size_t ext_len;		/* bytes of chunk-ext seen on this line */
	size_t line_len;	/* bytes of the current size/trailer line */
	size_t trailer_bytes;	/* total trailer bytes */
};

void http_chunked_init(struct http_chunked *c);
/*
 * Scan buf[0..len). Returns bytes accepted (0..len) and sets *done when the
 * last chunk and trailers were fully consumed (bytes after that are not
 * accepted: they belong to the next message). Returns -1 on invalid input.
 */
long http_chunked_scan(struct http_chunked *c, const char *buf, size_t len,
		       bool *done);

/*
 * Chunked decoder on top of the validator, for re-framing: like
 * http_chunked_scan() (same state, same verdicts), but it stops right after
 * the first run of chunk data it meets and reports where that run lies in
 * buf: *data_off, *data_len (0 when the accepted bytes held only framing:
 * size lines, extensions, CRLFs, trailers). Returns bytes accepted or -1.
 * Call again from buf + the return value for the rest.
 */
long http_chunked_decode(struct http_chunked *c, const char *buf, size_t len,
			 bool *done, size_t *data_off, size_t *data_len);

/*
 * Next element of a field value that is a #list (RFC 9110 5.6.1): skips
 * empty elements and the whitespace around an element. *pp walks [*pp,
 * end); returns false at the end, else the element in [*es, *ee).
 */
static inline bool http_list_next(const char **pp, const char *end,
				  const char **es, const char **ee)
{
	const char *p = *pp, *s, *e;

	while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
		p++;
	if (p == end) {
		*pp = p;
		return false;
	}
	s = p;
	while (p < end && *p != ',')
		p++;
	e = p;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*es = s;
	*ee = e;
	*pp = p;
	return true;
}

/*
 * Path normalisation (http_path.c): the one form the router matches and
 * the backend receives. Percent-encoded unreserved characters are decoded,
 * other percent-encodings kept with uppercase hex, dot-segments resolved
 * (RFC 3986 5.2.4), runs of '/' merged. Refused (-1, *error a static
 * JSON-safe string): a path not starting with '/', invalid percent-encoding,
 * %2F or %5C (unless HTTP_PATH_KEEP_ESCAPED_SLASH: kept encoded), a raw '\',
 * an encoded control character, a dot-segment above the root, ';' (unless
 * HTTP_PATH_STRIP_PARAMS: ";..." removed from each segment before the
 * dot-segments are resolved), a byte that is not VCHAR, '?' or '#'.
 *
 * Returns the length written to dst (never more than len), or -1. dst may
 * be src (in place); else it needs len bytes. When src is already in
 * normal form (no '%' ';' '\', no "//", no "." or ".." segment) this costs
 * one scan and writes nothing in place.
 */
#define HTTP_PATH_STRIP_PARAMS		0x1u
#define HTTP_PATH_KEEP_ESCAPED_SLASH	0x2u
long http_path_normalize(char *dst, const char *src, size_t len,
			 unsigned int flags, const char **error);

/*
 * Normalise a parsed request's target in place: t is a writable alias of
 * req->target with room bytes from it (room > target_len: the parser's
 * request-line always has the SP after the target). origin-form: the path
 * is normalised, the query kept as sent. absolute-form: becomes the
 * origin-form path [?query], normalised likewise (req->host keeps pointing
 * at the authority, which is not moved). asterisk-form and authority-form
 * are left alone. Updates target/target_len/path/path_len. Returns 0, or -1
 * with req->status = 400 and req->error set.
 */
int http_request_normalize_target(struct http_request *req, char *t,
				  size_t room, unsigned int flags);

/*
 * A host (a Host field value or an authority, [":" port] allowed) in the
 * one spelling routes are matched on: lower-case, no port, no trailing
 * '.', an IPv6 literal as "[" canonical-text "]". Writes at most cap bytes
 * to dst (no NUL); returns the length, or -1 when it does not fit or a
 * bracketed literal is not an IPv6 address.
 */
long http_host_normalize(char *dst, size_t cap, const char *s, size_t n);

/* Case-insensitive token compare, for header names. */
bool http_token_eq(const char *a, size_t alen, const char *lit);

/* Standard reason phrase for a status ("Not Found"), or "Unknown". */
const char *http_reason(int status);

#endif
