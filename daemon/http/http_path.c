// SPDX-License-Identifier: MIT
/*
 * Request path normalisation: one normal form that the router matches and
 * the backend receives, so that no spelling of a path reaches a backend
 * resource through a route that was not chosen for it. Pure: no
 * allocation, no I/O. See http.h and docs/HTTP.md ("Path normalisation").
 *
 * The normal form (RFC 3986 6.2.2):
 *   - percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are
 *     decoded; every other percent-encoding is kept, its hex uppercased;
 *   - dot-segments are resolved (RFC 3986 5.2.4), ones that would climb
 *     above the root are refused;
 *   - runs of '/' are merged into one;
 *   - ";params" are refused, or removed from each segment (before the
 *     dot-segments are resolved, as Tomcat does: "/..;x/" is "/../");
 *   - refused: %2F and %5C (unless kept encoded), a raw '\', percent-encoded
 *     control characters (00-1F, 7F), invalid percent-encoding, and any byte
 *     a request-target may not hold.
 *
 * The output is written at or before the position being read, so dst may
 * be src (in place). It is never longer than the input.
 */
#include <string.h>

#include "http/http.h"

#define E_PCT	 "invalid percent-encoding in request target"
#define E_SLASH	 "encoded slash in request path"
#define E_BSLASH "backslash in request path"
#define E_CTL	 "encoded control character in request path"
#define E_ROOT	 "dot-segment above the root in request path"
#define E_PARAM	 "path parameter (;) in request path"
#define E_CHAR	 "invalid character in request path"
#define E_START	 "request path does not start with /"

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ALPHA DIGIT - . _ ~ (RFC 3986 2.3) */
static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* A byte the fast path copies as is: VCHAR except % ; \ ? # */
static bool plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%' && c != ';' && c != '\\' &&
	       c != '?' && c != '#';
}

static bool dot_segment(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

/*
 * Where the first thing to change is: the start of the segment that holds
 * it (just after a '/'), or len when src is already in normal form. One
 * pass; src[0] is '/'.
 */
static size_t first_abnormal(const char *src, size_t len)
{
	size_t seg = 1;

	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '/') {
			if (i == seg || dot_segment(src + seg, i - seg))
				return seg;
			seg = i + 1;
		} else if (!plain(c)) {
			return seg;
		}
	}
	return dot_segment(src + seg, len - seg) ? seg : len;
}

static const char hexdig[] = "0123456789ABCDEF";

long http_path_normalize(char *dst, const char *src, size_t len,
			 unsigned int flags, const char **error)
{
	const char *err = NULL;
	size_t r, w;

	if (len == 0 || src[0] != '/') {
		err = E_START;
		goto fail;
	}
	r = first_abnormal(src, len);
	if (dst != src)
		memmove(dst, src, r);
	if (r == len)
		return (long)len;
	/* dst[0..w) is in normal form and ends in '/'; r starts a segment */
	w = r;
	for (;;) {
		size_t seg = w, n;
		bool end;

		while (r < len && src[r] != '/') {
			unsigned char c = (unsigned char)src[r];
			int hi, lo;

			if (c == '%') {
				if (len - r < 3 ||
				    (hi = hexval((unsigned char)src[r + 1])) < 0 ||
				    (lo = hexval((unsigned char)src[r + 2])) < 0) {
					err = E_PCT;
					goto fail;
				}
				c = (unsigned char)(hi << 4 | lo);
				r += 3;
				if (c < 0x20 || c == 0x7f) {
					err = E_CTL;
					goto fail;
				}
				if ((c == '/' || c == '\\') &&
				    !(flags & HTTP_PATH_KEEP_ESCAPED_SLASH)) {
					err = c == '/' ? E_SLASH : E_BSLASH;
					goto fail;
				}
				if (unreserved(c)) {
					dst[w++] = (char)c;
				} else {
					dst[w++] = '%';
					dst[w++] = hexdig[c >> 4];
					dst[w++] = hexdig[c & 15];
				}
			} else if (c == ';') {
				if (!(flags & HTTP_PATH_STRIP_PARAMS)) {
					err = E_PARAM;
					goto fail;
				}
				/* drop the parameters up to the next '/';
				 * they are not forwarded, so their bytes
				 * only need to be request-target bytes */
				while (r < len && src[r] != '/') {
					c = (unsigned char)src[r];
					if (c == '\\') {
						err = E_BSLASH;
						goto fail;
					}
					if (c != '%' && c != ';' && !plain(c)) {
						err = E_CHAR;
						goto fail;
					}
					r++;
				}
			} else if (c == '\\') {
				err = E_BSLASH;
				goto fail;
			} else if (!plain(c)) {
				err = E_CHAR;
				goto fail;
			} else {
				dst[w++] = (char)c;
				r++;
			}
		}
		n = w - seg;
		end = r == len;
		if (n == 2 && dst[seg] == '.' && dst[seg + 1] == '.') {
			/* drop this segment and the one before it */
			w = seg;
			if (w == 1) {
				err = E_ROOT;
				goto fail;
			}
			w--;
			while (dst[w - 1] != '/')
				w--;
		} else if ((n == 1 && dst[seg] == '.') || n == 0) {
			w = seg;	/* "." and empty segments vanish */
		} else if (!end) {
			dst[w++] = '/';
		}
		if (end)
			return (long)w;
		r++;	/* the '/' */
	}
fail:
	if (error)
		*error = err;
	return -1;
}

int http_request_normalize_target(struct http_request *req, char *t,
				  size_t room, unsigned int flags)
{
	size_t poff, qlen;
	const char *err = NULL;
	char *p;
	long n;

	if (req->target_len == 0)
		return 0;
	if (t[0] != '/') {
		/* asterisk-form and authority-form carry no path */
		if ((req->target_len == 1 && t[0] == '*') ||
		    (req->method_len == 7 &&
		     !memcmp(req->method, "CONNECT", 7)))
			return 0;
	}
	/* origin-form, or absolute-form: its path part becomes the
	 * origin-form target sent on (RFC 9112 3.2.2); the authority stays
	 * where req->host points to */
	poff = (size_t)(req->path - req->target);
	p = t + poff;
	qlen = req->target_len - poff - req->path_len;
	if (req->path_len == 0) {
		/* "http://h" or "http://h?q": the path is "/"; the byte
		 * after the target (the request-line's SP) takes the shift */
		if (room <= req->target_len) {
			err = E_START;
			goto fail;
		}
		memmove(p + 1, p, qlen);
		p[0] = '/';
		n = 1;
	} else {
		n = http_path_normalize(p, p, req->path_len, flags, &err);
		if (n < 0)
			goto fail;
		if ((size_t)n < req->path_len)
			memmove(p + n, p + req->path_len, qlen);
	}
	req->target = p;
	req->target_len = (size_t)n + qlen;
	req->path = p;
	req->path_len = (size_t)n;
	return 0;
fail:
	req->status = 400;
	req->error = err;
	return -1;
}
