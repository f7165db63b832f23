// SPDX-License-Identifier: MIT
/*
 * Test backend for Sluice: a small, strict HTTP/1.1 origin server.
 *
 *   backend --listen ADDR:PORT [--listen ...] [--name NAME] [--log FILE]
 *
 * ADDR is an IPv4 literal ("127.0.0.1:9001") or a bracketed IPv6 literal
 * ("[::1]:9001"); port 0 picks a free port (the bound address is printed on
 * stderr). "--listen unix:/abs/path.sock" listens on a Unix-domain stream
 * socket instead (a stale socket file there is replaced; the file is
 * removed on SIGTERM/SIGINT); its peers have no address, so remote_addr is
 * "unix:#N", N counting the connections accepted (one N per connection:
 * tests tell keep-alive reuse by it). Prints "backend ready" on stdout once
 * every listener is bound.
 *
 * Every request is answered with 200 and a JSON body
 *   {"backend":NAME,"method":..,"path":..,"target":..,"query":..,
 *    "http_version":..,"remote_addr":..,"headers":{..},"body_bytes":N,
 *    "body_fnv1a":"16 hex digits"}
 * (header names lower-cased; repeated headers joined with ", ") except:
 *   /status/NNN   that status (200..599), JSON body (none for 204/304)
 *   /bytes/N      N bytes of 'x', Content-Length
 *   /chunked/N    N bytes of 'x', Transfer-Encoding: chunked
 *   /sleep/MS     wait MS milliseconds (<= 60000), then the JSON body
 *   /ws...        with Connection: upgrade + Upgrade: websocket: 101, then
 *                 every byte received is echoed back (a tunnel) until EOF
 *   /force101     101 whatever the request, then the same echo
 *   /fail/on      from now on every other request is answered 500 (a sick
 *                 backend, health path included); /fail/off heals it
 *   /drop-next    the JSON body, keep-alive; the *next* request on this
 *                 connection is read and logged, then the connection is
 *                 closed without an answer (a backend dropping a kept-alive
 *                 connection just as a request arrives)
 *
 * Request bodies (Content-Length or chunked) are read and counted, and
 * hashed with 64-bit FNV-1a so tests can prove a body arrived intact.
 * Keep-alive per HTTP/1.1 (HTTP/1.0: only with "Connection: keep-alive");
 * "Expect: 100-continue" is honoured. Malformed requests get 400 (or 431,
 * 501) with "Connection: close".
 *
 * --log FILE appends one JSON line per request received: the same object as
 * the response body plus "header_list" (the headers exactly as received,
 * in order, as [name, value] pairs) and "ts" (unix time, seconds); each line
 * is flushed at once.
 *
 * One thread per connection (no per-request fork). SIGTERM/SIGINT: exit 0.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <stdatomic.h>

/* /fail/on .. /fail/off: every request answered 500 */
static atomic_bool g_failing;
#include <unistd.h>

#define MAX_LISTENERS 16
#define RBUF_SIZE (64 * 1024)		/* also the longest line accepted */
#define MAX_HEADER_BYTES (512 * 1024)	/* whole header block */
#define MAX_HEADERS 128
#define MAX_TARGET 8192
#define MAX_BYTES_RESPONSE (1024ull * 1024 * 1024)
#define MAX_SLEEP_MS 60000
#define IDLE_TIMEOUT_S 120
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static const char *g_name = "backend";
static FILE *g_log;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- small growable buffer ---------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
	size_t ncap;
	char *np;

	if (b->oom || b->len + extra + 1 <= b->cap)
		return;
	ncap = b->cap ? b->cap : 1024;
	while (ncap < b->len + extra + 1)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (!np) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = ncap;
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_reserve(b, (size_t)n);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* JSON string; bytes >= 0x80 are escaped as \u00XX so output is always
 * valid JSON whatever arrived on the wire. */
static void sb_json(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t i, run = 0;

	sb_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			continue;
		sb_add(b, s + run, i - run);
		run = i + 1;
		if (c == '"') {
			sb_add(b, "\\\"", 2);
		} else if (c == '\\') {
			sb_add(b, "\\\\", 2);
		} else {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			sb_add(b, esc, 6);
		}
	}
	sb_add(b, s + run, n - run);
	sb_add(b, "\"", 1);
}

static void sb_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- connection and buffered reader ------------------------------------ */

struct hdr {
	size_t name, name_len, value, value_len;	/* offsets into arena */
};

struct request {
	char method[32];
	char target[MAX_TARGET + 1];
	size_t target_len;
	int minor;			/* HTTP/1.<minor> */
	struct hdr h[MAX_HEADERS];
	size_t n_h;
	size_t arena_len;
	bool chunked;
	bool has_cl;
	uint64_t content_length;
	bool keep_alive;
	bool expect_continue;
	bool conn_upgrade;		/* Connection: upgrade */
	bool upgrade_ws;		/* Upgrade: websocket */
	uint64_t body_bytes;
	uint64_t body_hash;
	char arena[MAX_HEADER_BYTES];	/* last: not cleared per request */
};

struct conn {
	int fd;
	char peer[INET6_ADDRSTRLEN + 8];
	char rbuf[RBUF_SIZE];
	size_t pos, end;
	struct request req;
	bool drop_next;		/* /drop-next: close instead of answering */
};

/* Errors carried out of the reader: EOF before a request vs. protocol. */
enum rd_err {
	RD_OK = 0,
	RD_EOF = -1,		/* peer closed / read error: just close */
	RD_BAD = -2,		/* malformed: answer 400 */
	RD_TOO_BIG = -3,	/* line or header block too big: 431 */
	RD_UNSUPP = -4,		/* unsupported transfer coding: 501 */
};

static int rd_fill(struct conn *c)
{
	ssize_t n;

	if (c->pos > 0) {
		memmove(c->rbuf, c->rbuf + c->pos, c->end - c->pos);
		c->end -= c->pos;
		c->pos = 0;
	}
	if (c->end == sizeof(c->rbuf))
		return RD_TOO_BIG;
	for (;;) {
		n = recv(c->fd, c->rbuf + c->end, sizeof(c->rbuf) - c->end, 0);
		if (n > 0) {
			c->end += (size_t)n;
			return RD_OK;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return RD_EOF;
	}
}

/* Next line without its CRLF (bare LF accepted). Valid until the next read. */
static int rd_line(struct conn *c, char **line, size_t *len)
{
	char *nl;
	int err;

	for (;;) {
		nl = memchr(c->rbuf + c->pos, '\n', c->end - c->pos);
		if (nl) {
			*line = c->rbuf + c->pos;
			*len = (size_t)(nl - *line);
			c->pos += *len + 1;
			if (*len > 0 && (*line)[*len - 1] == '\r')
				(*len)--;
			return RD_OK;
		}
		err = rd_fill(c);
		if (err)
			return err;
	}
}

/* Consume exactly n body bytes, counting and hashing them. */
static int rd_body(struct conn *c, uint64_t n)
{
	struct request *r = &c->req;
	int err;

	while (n > 0) {
		size_t avail = c->end - c->pos, take, i;
		const unsigned char *p;

		if (avail == 0) {
			c->pos = c->end = 0;
			err = rd_fill(c);
			if (err)
				return err == RD_TOO_BIG ? RD_BAD : err;
			continue;
		}
		take = avail < n ? avail : (size_t)n;
		p = (const unsigned char *)c->rbuf + c->pos;
		for (i = 0; i < take; i++) {
			r->body_hash ^= p[i];
			r->body_hash *= FNV_PRIME;
		}
		c->pos += take;
		r->body_bytes += take;
		n -= take;
	}
	return RD_OK;
}

/* ---- sending ------------------------------------------------------------ */

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

static int send_error(struct conn *c, int status, const char *msg)
{
	struct sbuf b = { 0 }, body = { 0 };
	int err;

	sb_str(&body, "{\"backend\":");
	sb_json(&body, g_name, strlen(g_name));
	sb_printf(&body, ",\"error\":\"%s\",\"status\":%d}\n", msg, status);
	sb_printf(&b,
		  "HTTP/1.1 %d %s\r\n"
		  "Content-Type: application/json\r\n"
		  "Content-Length: %zu\r\n"
		  "Connection: close\r\n\r\n",
		  status, reason_phrase(status), body.len);
	if (body.p)
		sb_add(&b, body.p, body.len);
	err = (b.oom || body.oom) ? -ENOMEM : send_all(c->fd, b.p, b.len);
	sb_free(&b);
	sb_free(&body);
	return err;
}

/* ---- request parsing ---------------------------------------------------- */

static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool ieq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

static const char *hname(const struct request *r, size_t i)
{
	return r->arena + r->h[i].name;
}

static const char *hvalue(const struct request *r, size_t i)
{
	return r->arena + r->h[i].value;
}

/* Does comma-separated header value v contain token tok? */
static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && ieq(v + s, e - s, tok))
			return true;
	}
	return false;
}

static int parse_request_line(struct request *r, const char *l, size_t n)
{
	const char *sp1, *sp2;
	size_t mlen;

	sp1 = memchr(l, ' ', n);
	if (!sp1)
		return RD_BAD;
	mlen = (size_t)(sp1 - l);
	if (mlen == 0 || mlen >= sizeof(r->method))
		return RD_BAD;
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)l[i]))
			return RD_BAD;
	memcpy(r->method, l, mlen);
	r->method[mlen] = '\0';

	sp2 = memchr(sp1 + 1, ' ', n - mlen - 1);
	if (!sp2)
		return RD_BAD;
	r->target_len = (size_t)(sp2 - sp1 - 1);
	if (r->target_len == 0)
		return RD_BAD;
	if (r->target_len > MAX_TARGET)
		return RD_TOO_BIG;
	for (size_t i = 0; i < r->target_len; i++) {
		unsigned char ch = (unsigned char)sp1[1 + i];

		if (ch <= 0x20 || ch == 0x7f)
			return RD_BAD;
	}
	memcpy(r->target, sp1 + 1, r->target_len);
	r->target[r->target_len] = '\0';

	if ((size_t)(l + n - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7))
		return RD_BAD;
	if (sp2[8] != '0' && sp2[8] != '1')
		return RD_BAD;
	r->minor = sp2[8] - '0';
	return RD_OK;
}

static int add_header(struct request *r, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n);
	size_t nlen, vs, ve;

	if (l[0] == ' ' || l[0] == '\t')
		return RD_BAD;			/* obs-fold */
	if (!colon || colon == l)
		return RD_BAD;
	nlen = (size_t)(colon - l);
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)l[i]))
			return RD_BAD;		/* includes "Name :" */
	vs = nlen + 1;
	ve = n;
	while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
		vs++;
	while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
		ve--;
	for (size_t i = vs; i < ve; i++) {
		unsigned char ch = (unsigned char)l[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return RD_BAD;
	}
	if (r->n_h == MAX_HEADERS)
		return RD_TOO_BIG;
	if (r->arena_len + nlen + (ve - vs) + 2 > sizeof(r->arena))
		return RD_TOO_BIG;

	r->h[r->n_h].name = r->arena_len;
	r->h[r->n_h].name_len = nlen;
	memcpy(r->arena + r->arena_len, l, nlen);
	r->arena_len += nlen;
	r->arena[r->arena_len++] = '\0';
	r->h[r->n_h].value = r->arena_len;
	r->h[r->n_h].value_len = ve - vs;
	memcpy(r->arena + r->arena_len, l + vs, ve - vs);
	r->arena_len += ve - vs;
	r->arena[r->arena_len++] = '\0';
	r->n_h++;
	return RD_OK;
}

static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return RD_BAD;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return RD_BAD;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return RD_BAD;
	*out = v;
	return RD_OK;
}

/* Framing and connection semantics from the headers (RFC 9112 6.1-6.3). */
static int interpret_headers(struct request *r)
{
	bool has_host = false, has_te = false;
	bool conn_close = false, conn_ka = false;

	for (size_t i = 0; i < r->n_h; i++) {
		const char *n = hname(r, i), *v = hvalue(r, i);
		size_t nl = r->h[i].name_len, vl = r->h[i].value_len;

		if (ieq(n, nl, "host")) {
			if (has_host)
				return RD_BAD;
			has_host = true;
		} else if (ieq(n, nl, "content-length")) {
			uint64_t cl;

			if (parse_uint(v, vl, (1ull << 53), &cl))
				return RD_BAD;
			if (r->has_cl && cl != r->content_length)
				return RD_BAD;
			r->has_cl = true;
			r->content_length = cl;
		} else if (ieq(n, nl, "transfer-encoding")) {
			if (has_te)
				return RD_BAD;
			has_te = true;
			if (!ieq(v, vl, "chunked"))
				return RD_UNSUPP;
			r->chunked = true;
		} else if (ieq(n, nl, "connection")) {
			conn_close |= has_token(v, vl, "close");
			conn_ka |= has_token(v, vl, "keep-alive");
			r->conn_upgrade |= has_token(v, vl, "upgrade");
		} else if (ieq(n, nl, "upgrade")) {
			r->upgrade_ws |= has_token(v, vl, "websocket");
		} else if (ieq(n, nl, "expect")) {
			if (!ieq(v, vl, "100-continue"))
				return RD_BAD;
			r->expect_continue = true;
		}
	}
	if (r->minor == 1 && !has_host)
		return RD_BAD;
	if (r->chunked && r->has_cl)
		return RD_BAD;
	if (r->chunked && r->minor == 0)
		return RD_BAD;
	r->keep_alive = r->minor == 1 ? !conn_close : (conn_ka && !conn_close);
	return RD_OK;
}

static int read_headers(struct conn *c)
{
	struct request *r = &c->req;
	size_t total = 0;
	char *l;
	size_t n;
	int err;

	/* RFC 9112 2.2: ignore at least one empty line before a request. */
	for (int skipped = 0;; skipped++) {
		err = rd_line(c, &l, &n);
		if (err)
			return err;
		if (n > 0)
			break;
		if (skipped > 4)
			return RD_BAD;
	}
	err = parse_request_line(r, l, n);
	if (err)
		return err;
	for (;;) {
		err = rd_line(c, &l, &n);
		if (err)
			return err == RD_EOF ? RD_EOF : err;
		if (n == 0)
			break;
		total += n + 2;
		if (total > MAX_HEADER_BYTES)
			return RD_TOO_BIG;
		err = add_header(r, l, n);
		if (err)
			return err;
	}
	return interpret_headers(r);
}

static int parse_hex(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n && isxdigit((unsigned char)s[i]); i++) {
		if (i >= 15)
			return RD_BAD;
		v = v * 16 + (uint64_t)(isdigit((unsigned char)s[i]) ?
				s[i] - '0' : (tolower((unsigned char)s[i]) - 'a' + 10));
	}
	if (i == 0)
		return RD_BAD;
	/* rest: optional whitespace and ";ext" */
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] != ';')
		return RD_BAD;
	*out = v;
	return RD_OK;
}

static int read_body(struct conn *c)
{
	struct request *r = &c->req;
	char *l;
	size_t n;
	int err;

	r->body_hash = FNV_OFFSET;
	if (!r->chunked)
		return r->has_cl ? rd_body(c, r->content_length) : RD_OK;
	for (;;) {
		uint64_t sz;

		err = rd_line(c, &l, &n);
		if (err)
			return err == RD_TOO_BIG ? RD_BAD : err;
		err = parse_hex(l, n, &sz);
		if (err)
			return err;
		if (sz == 0)
			break;
		err = rd_body(c, sz);
		if (err)
			return err;
		err = rd_line(c, &l, &n);
		if (err)
			return err == RD_TOO_BIG ? RD_BAD : err;
		if (n != 0)
			return RD_BAD;
	}
	/* trailer section */
	for (int i = 0;; i++) {
		err = rd_line(c, &l, &n);
		if (err)
			return err == RD_TOO_BIG ? RD_BAD : err;
		if (n == 0)
			return RD_OK;
		if (i > MAX_HEADERS)
			return RD_BAD;
	}
}

/* ---- responses ---------------------------------------------------------- */

/* The JSON description of a request: response body and log line. */
static void describe(struct sbuf *b, const struct conn *c, bool with_list)
{
	const struct request *r = &c->req;
	const char *q = memchr(r->target, '?', r->target_len);
	size_t plen = q ? (size_t)(q - r->target) : r->target_len;
	bool *done = calloc(r->n_h ? r->n_h : 1, sizeof(*done));
	bool first = true;

	sb_str(b, "{\"backend\":");
	sb_json(b, g_name, strlen(g_name));
	sb_str(b, ",\"method\":");
	sb_json(b, r->method, strlen(r->method));
	sb_str(b, ",\"path\":");
	sb_json(b, r->target, plen);
	sb_str(b, ",\"query\":");
	if (q)
		sb_json(b, q + 1, r->target_len - plen - 1);
	else
		sb_str(b, "null");
	sb_str(b, ",\"target\":");
	sb_json(b, r->target, r->target_len);
	sb_printf(b, ",\"http_version\":\"HTTP/1.%d\",\"remote_addr\":",
		  r->minor);
	sb_json(b, c->peer, strlen(c->peer));
	sb_str(b, ",\"headers\":{");
	/* lower-cased names; repeats joined with ", " in arrival order */
	for (size_t i = 0; i < r->n_h && done; i++) {
		char lname[256];
		size_t nl = r->h[i].name_len;

		if (done[i])
			continue;
		if (nl >= sizeof(lname))
			nl = sizeof(lname) - 1;
		for (size_t k = 0; k < nl; k++)
			lname[k] = (char)tolower((unsigned char)hname(r, i)[k]);
		if (!first)
			sb_str(b, ",");
		first = false;
		sb_json(b, lname, nl);
		sb_str(b, ":");
		{
			struct sbuf v = { 0 };

			for (size_t j = i; j < r->n_h; j++) {
				if (done[j] || r->h[j].name_len != r->h[i].name_len ||
				    strcasecmp(hname(r, j), hname(r, i)))
					continue;
				done[j] = true;
				if (v.len)
					sb_add(&v, ", ", 2);
				sb_add(&v, hvalue(r, j), r->h[j].value_len);
			}
			sb_json(b, v.p ? v.p : "", v.len);
			sb_free(&v);
		}
	}
	free(done);
	sb_printf(b, "},\"body_bytes\":%" PRIu64 ",\"body_fnv1a\":\"%016" PRIx64
		  "\"", r->body_bytes, r->body_hash);
	if (with_list) {
		struct timespec ts;

		sb_str(b, ",\"header_list\":[");
		for (size_t i = 0; i < r->n_h; i++) {
			sb_str(b, i ? ",[" : "[");
			sb_json(b, hname(r, i), r->h[i].name_len);
			sb_str(b, ",");
			sb_json(b, hvalue(r, i), r->h[i].value_len);
			sb_str(b, "]");
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		sb_printf(b, "],\"ts\":%lld.%03ld", (long long)ts.tv_sec,
			  ts.tv_nsec / 1000000);
	}
	sb_str(b, "}");
}

static void log_request(const struct conn *c)
{
	struct sbuf b = { 0 };

	if (!g_log)
		return;
	describe(&b, c, true);
	if (b.oom) {
		sb_free(&b);
		return;
	}
	pthread_mutex_lock(&g_log_lock);
	fprintf(g_log, "%s\n", b.p);
	fflush(g_log);
	pthread_mutex_unlock(&g_log_lock);
	sb_free(&b);
}

static void head_common(struct sbuf *h, const struct request *r, int status)
{
	sb_printf(h, "HTTP/1.1 %d %s\r\nServer: sluice-test-backend\r\n"
		  "X-Backend: ", status, reason_phrase(status));
	sb_str(h, g_name);
	sb_str(h, "\r\n");
	if (!r->keep_alive)
		sb_str(h, "Connection: close\r\n");
	else if (r->minor == 0)
		sb_str(h, "Connection: keep-alive\r\n");
}

static int send_filler(int fd, uint64_t n)
{
	static char xs[16384];
	int err;

	if (!xs[0])
		memset(xs, 'x', sizeof(xs));
	while (n > 0) {
		size_t k = n < sizeof(xs) ? (size_t)n : sizeof(xs);

		err = send_all(fd, xs, k);
		if (err)
			return err;
		n -= k;
	}
	return 0;
}

/* /prefix/<digits> → value, else false. */
static bool path_num(const char *path, size_t plen, const char *prefix,
		     uint64_t max, uint64_t *out)
{
	size_t l = strlen(prefix);

	if (plen <= l || strncmp(path, prefix, l))
		return false;
	return parse_uint(path + l, plen - l, max, out) == RD_OK;
}

static int respond(struct conn *c)
{
	struct request *r = &c->req;
	bool head = strcmp(r->method, "HEAD") == 0;
	const char *q = memchr(r->target, '?', r->target_len);
	size_t plen = q ? (size_t)(q - r->target) : r->target_len;
	struct sbuf h = { 0 }, body = { 0 };
	uint64_t v;
	int status = 200, err;

	if (path_num(r->target, plen, "/bytes/", MAX_BYTES_RESPONSE, &v)) {
		head_common(&h, r, 200);
		sb_printf(&h, "Content-Type: application/octet-stream\r\n"
			  "Content-Length: %" PRIu64 "\r\n\r\n", v);
		err = h.oom ? -ENOMEM : send_all(c->fd, h.p, h.len);
		if (!err && !head)
			err = send_filler(c->fd, v);
		sb_free(&h);
		return err;
	}
	if (path_num(r->target, plen, "/chunked/", MAX_BYTES_RESPONSE, &v)) {
		head_common(&h, r, 200);
		sb_str(&h, "Content-Type: application/octet-stream\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n");
		err = h.oom ? -ENOMEM : send_all(c->fd, h.p, h.len);
		sb_free(&h);
		while (!err && !head && v > 0) {
			uint64_t k = v < 16384 ? v : 16384;
			char line[32];
			int ln = snprintf(line, sizeof(line), "%" PRIx64 "\r\n", k);

			err = send_all(c->fd, line, (size_t)ln);
			if (!err)
				err = send_filler(c->fd, k);
			if (!err)
				err = send_all(c->fd, "\r\n", 2);
			v -= k;
		}
		if (!err && !head)
			err = send_all(c->fd, "0\r\n\r\n", 5);
		return err;
	}
	if (path_num(r->target, plen, "/sleep/", MAX_SLEEP_MS, &v)) {
		struct timespec ts = { .tv_sec = (time_t)(v / 1000),
				       .tv_nsec = (long)(v % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	} else if (plen > 8 && strncmp(r->target, "/status/", 8) == 0) {
		if (!path_num(r->target, plen, "/status/", 599, &v) || v < 200)
			return send_error(c, 400, "bad_status");
		status = (int)v;
	} else if (plen == 8 && !strncmp(r->target, "/fail/on", 8)) {
		atomic_store(&g_failing, true);
	} else if (plen == 9 && !strncmp(r->target, "/fail/off", 9)) {
		atomic_store(&g_failing, false);
	} else if (atomic_load(&g_failing)) {
		status = 500;
	}

	describe(&body, c, false);
	sb_str(&body, "\n");
	head_common(&h, r, status);
	if (status == 204 || status == 304) {
		sb_str(&h, "\r\n");
	} else {
		sb_printf(&h, "Content-Type: application/json\r\n"
			  "Content-Length: %zu\r\n\r\n", body.len);
		if (!head)
			sb_add(&h, body.p, body.len);
	}
	err = (h.oom || body.oom) ? -ENOMEM : send_all(c->fd, h.p, h.len);
	sb_free(&h);
	sb_free(&body);
	return err;
}

/* After a 101: echo every byte back until the peer closes its side, then
 * close ours (a transparent tunnel test). */
static void echo_tunnel(struct conn *c)
{
	char buf[16384];

	if (c->end > c->pos &&
	    send_all(c->fd, c->rbuf + c->pos, c->end - c->pos))
		return;
	c->pos = c->end = 0;
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || send_all(c->fd, buf, (size_t)n))
			return;
	}
}

/* Websocket handshake (Connection: upgrade + Upgrade: websocket on a
 * path starting with /ws), or /force101 for any request: answer 101 and
 * become an echo tunnel. Returns true when it did. */
static bool maybe_upgrade(struct conn *c)
{
	struct request *r = &c->req;
	static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\n"
				 "Upgrade: websocket\r\n"
				 "Connection: Upgrade\r\n"
				 "X-Backend-Tunnel: echo\r\n\r\n";
	bool ws = r->conn_upgrade && r->upgrade_ws &&
		  strncmp(r->target, "/ws", 3) == 0;

	if (!ws && strncmp(r->target, "/force101", 9) != 0)
		return false;
	if (send_all(c->fd, sw, sizeof(sw) - 1) == 0)
		echo_tunnel(c);
	return true;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	int one = 1;

	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	{
		struct timeval tv = { .tv_sec = IDLE_TIMEOUT_S };

		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	for (;;) {
		struct request *r = &c->req;
		int err;

		memset(r, 0, offsetof(struct request, arena));
		r->arena_len = 0;
		err = read_headers(c);
		if (!err && r->expect_continue &&
		    ((r->has_cl && r->content_length > 0) || r->chunked)) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			if (send_all(c->fd, cont, sizeof(cont) - 1))
				break;
		}
		if (!err)
			err = read_body(c);
		if (err == RD_EOF)
			break;
		if (err == RD_BAD) {
			send_error(c, 400, "bad_request");
			break;
		}
		if (err == RD_TOO_BIG) {
			send_error(c, 431, "headers_too_large");
			break;
		}
		if (err == RD_UNSUPP) {
			send_error(c, 501, "not_implemented");
			break;
		}
		log_request(c);
		if (c->drop_next)
			break;
		c->drop_next = strcmp(r->target, "/drop-next") == 0;
		if (maybe_upgrade(c))
			break;
		if (respond(c) || !r->keep_alive)
			break;
	}
	shutdown(c->fd, SHUT_WR);
	close(c->fd);
	free(c);
	return NULL;
}

/* ---- listeners ---------------------------------------------------------- */

struct listener {
	int fd;
	char text[128];
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Unix-domain connections accepted so far: their remote_addr. */
static atomic_uint g_unix_conns;

static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_UNIX) {
		snprintf(out, n, "unix:#%u",
			 atomic_fetch_add(&g_unix_conns, 1) + 1);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

static void *accept_main(void *arg)
{
	struct listener *l = arg;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct conn *c;
		pthread_t t;
		int fd;

		fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				usleep(10000);
			continue;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->pos = c->end = 0;
		c->drop_next = false;
		addr_text((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
		if (pthread_create(&t, &attr, conn_main, c)) {
			close(fd);
			free(c);
			usleep(1000);
		}
	}
	return NULL;
}

static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *sl)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs;
	size_t hl;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		size_t pl = strlen(s + 5);

		if (s[5] != '/' || pl >= sizeof(sun->sun_path))
			return -EINVAL;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, s + 5, pl + 1);
		*sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				  pl + 1);
		return 0;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hs = s;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (parse_uint(colon + 1, strlen(colon + 1), 65535, &port))
		return -EINVAL;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (s[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
	}
	return 0;
}

static int open_listener(const char *spec, struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd, err;

	if (parse_listen(spec, &ss, &sl)) {
		fprintf(stderr, "backend: bad --listen '%s' (want "
			"A.B.C.D:PORT, [V6]:PORT or unix:/PATH)\n", spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (ss.ss_family == AF_UNIX) {
		const char *path = ((struct sockaddr_un *)&ss)->sun_path;
		struct stat st;

		/* a socket file left by an earlier run: replace it */
		if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
			unlink(path);
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
		    listen(fd, 1024) < 0)
			goto fail;
		l->fd = fd;
		snprintf(l->unix_path, sizeof(l->unix_path), "%s", path);
		snprintf(l->text, sizeof(l->text), "unix:%s", path);
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0)
		goto fail;
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	l->fd = fd;
	addr_text((struct sockaddr *)&ss, l->text, sizeof(l->text));
	return 0;
fail:
	err = -errno;
	fprintf(stderr, "backend: listen on %s: %s\n", spec, strerror(-err));
	if (fd >= 0)
		close(fd);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: backend --listen ADDR:PORT [--listen ADDR:PORT ...] "
		"[--name NAME] [--log FILE]\n"
		"  ADDR: IPv4 literal, [IPv6 literal] or localhost;\n"
		"  or --listen unix:/PATH for a Unix-domain socket\n");
}

int main(int argc, char **argv)
{
	static struct listener ls[MAX_LISTENERS];
	const char *specs[MAX_LISTENERS];
	size_t n_specs = 0;
	sigset_t set;
	int sig;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "backend: %s needs an argument\n", a);
			usage(stderr);
			return 1;
		}
		if (!strcmp(a, "--listen")) {
			if (n_specs == MAX_LISTENERS) {
				fprintf(stderr, "backend: too many --listen\n");
				return 1;
			}
			specs[n_specs++] = argv[++i];
		} else if (!strcmp(a, "--name")) {
			g_name = argv[++i];
		} else if (!strcmp(a, "--log")) {
			const char *path = argv[++i];

			g_log = fopen(path, "ae");
			if (!g_log) {
				fprintf(stderr, "backend: --log %s: %s\n", path,
					strerror(errno));
				return 1;
			}
		} else {
			fprintf(stderr, "backend: unknown argument '%s'\n", a);
			usage(stderr);
			return 1;
		}
	}
	if (n_specs == 0) {
		usage(stderr);
		return 1;
	}

	/* Signals: handled only by the main thread, via sigwait. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	for (size_t i = 0; i < n_specs; i++)
		if (open_listener(specs[i], &ls[i]))
			return 2;
	for (size_t i = 0; i < n_specs; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, accept_main, &ls[i])) {
			fprintf(stderr, "backend: pthread_create failed\n");
			return 2;
		}
		pthread_detach(t);
		fprintf(stderr, "backend %s: listening on %s\n", g_name,
			ls[i].text);
	}
	printf("backend ready\n");
	fflush(stdout);

	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGHUP)
			continue;
		break;
	}
	pthread_mutex_lock(&g_log_lock);
	if (g_log)
		fflush(g_log);
	for (size_t i = 0; i < n_specs; i++)
		if (ls[i].unix_path[0])
			unlink(ls[i].unix_path);
	fflush(stderr);
	_exit(0);
}
