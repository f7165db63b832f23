// SPDX-License-Identifier: MIT
/* Access log formatter, sampling and SPSC line ring. See accesslog.h. */
#include "http/accesslog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/str.h"

/* Output budgets (bytes after escaping) of the variable-length fields. The
 * fixed part of a line is well under 1 KiB, so their sum keeps every line
 * below ACCESSLOG_LINE_MAX. */
#define B_PATH 1200
#define B_HOST 256
#define B_UA 512
#define B_REFERER 400
#define B_SHORT 128	/* names, ids, addresses, method, TLS name */
_Static_assert(B_PATH + B_HOST + B_UA + B_REFERER + 9 * B_SHORT + 512 <
	       ACCESSLOG_LINE_MAX, "access log budgets exceed the line size");

/* Lines are built in a bounded sbuf (util/str.h): the field budgets above
 * keep every line inside it, so it never overflows. */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* One escaped unit of s at *i for JSON into tmp; advances *i. */
static size_t json_unit(const unsigned char *s, size_t n, size_t *i, char *tmp)
{
	unsigned char c = s[*i];
	size_t l;

	if (c == '"' || c == '\\') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		(*i)++;
		return 2;
	}
	if (c < 0x20 || c == 0x7f) {
		(*i)++;
		return (size_t)snprintf(tmp, 8, "\\u%04x", c);
	}
	l = utf8_len(s + *i, n - *i);
	if (!l) {
		(*i)++;
		memcpy(tmp, "\\ufffd", 6);
		return 6;
	}
	memcpy(tmp, s + *i, l);
	*i += l;
	return l;
}

/* One escaped unit for the combined format (NGINX style). */
static size_t clf_unit(const unsigned char *s, size_t n, size_t *i, char *tmp)
{
	unsigned char c = s[*i];

	(void)n;
	(*i)++;
	if (c == '"' || c == '\\') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		return 2;
	}
	if (c < 0x20 || c >= 0x7f)
		return (size_t)snprintf(tmp, 8, "\\x%02X", c);
	tmp[0] = (char)c;
	return 1;
}

/* s[0..n) escaped with at most budget output bytes; cut text ends in
 * "...". */
static void put_escaped(struct sbuf *o, const char *s, size_t n, size_t budget,
			bool json)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, used = 0;
	char tmp[8];

	while (i < n) {
		size_t save = i, l = json ? json_unit(u, n, &i, tmp)
					  : clf_unit(u, n, &i, tmp);

		/* keep room for "..." unless this is the last unit */
		if (used + l > budget - 3 && (i < n || used + l > budget)) {
			i = save;
			sbuf_add(o, "...", 3);
			return;
		}
		sbuf_add(o, tmp, l);
		used += l;
	}
}

static size_t slen(const char *s, size_t n)
{
	return n ? n : s ? strlen(s) : 0;
}

static void json_field(struct sbuf *o, const char *key, const char *s,
		       size_t n, size_t budget)
{
	sbuf_addf(o, ",\"%s\":", key);
	if (!s) {
		sbuf_adds(o, "null");
		return;
	}
	sbuf_add(o, "\"", 1);
	put_escaped(o, s, slen(s, n), budget, true);
	sbuf_add(o, "\"", 1);
}

static void clf_field(struct sbuf *o, const char *s, size_t n, size_t budget)
{
	if (!s || !slen(s, n)) {
		sbuf_add(o, "-", 1);
		return;
	}
	put_escaped(o, s, slen(s, n), budget, false);
}

static void ms_field(struct sbuf *o, const char *key, int64_t us)
{
	if (us < 0) {
		sbuf_addf(o, ",\"%s\":null", key);
		return;
	}
	sbuf_addf(o, ",\"%s\":%" PRId64 ".%03" PRId64, key, us / 1000, us % 1000);
}

static void split_time(int64_t ns, struct tm *tm, int *ms)
{
	time_t sec = (time_t)(ns / 1000000000);
	int64_t rem = ns % 1000000000;

	if (rem < 0) {
		rem += 1000000000;
		sec--;
	}
	*ms = (int)(rem / 1000000);
	gmtime_r(&sec, tm);
}

static void format_json(struct sbuf *o, const struct accesslog_record *r)
{
	struct tm tm;
	int ms;
	char ts[64];

	split_time(r->start_ns, &tm, &ms);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	sbuf_addf(o, "{\"ts\":\"%s.%03dZ\"", ts, ms);
	json_field(o, "request_id", r->request_id, 0, B_SHORT);
	json_field(o, "client", r->client, 0, B_SHORT);
	sbuf_addf(o, ",\"client_port\":%u", r->client_port);
	json_field(o, "consumer", r->consumer, 0, B_SHORT);
	json_field(o, "route", r->route, 0, B_SHORT);
	json_field(o, "upstream", r->upstream, 0, B_SHORT);
	json_field(o, "method", r->method, r->method_len, B_SHORT);
	json_field(o, "path", r->path, r->path_len, B_PATH);
	json_field(o, "host", r->host, r->host_len, B_HOST);
	if (r->http_minor == ACCESSLOG_HTTP2)
		sbuf_adds(o, ",\"protocol\":\"HTTP/2\"");
	else if (r->http_minor >= 0)
		sbuf_addf(o, ",\"protocol\":\"HTTP/1.%d\"", r->http_minor);
	else
		sbuf_adds(o, ",\"protocol\":null");
	sbuf_addf(o, ",\"status\":%d", r->status);
	sbuf_addf(o, ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64, r->bytes_in,
	     r->bytes_out);
	ms_field(o, "duration_ms", r->duration_us);
	ms_field(o, "upstream_ms", r->upstream_us);
	if (r->upstream_attempts)
		sbuf_addf(o, ",\"upstream_attempts\":%u",
			  r->upstream_attempts);
	if (r->has_grpc_status)
		sbuf_addf(o, ",\"grpc_status\":%d", r->grpc_status);
	json_field(o, "tls", r->tls, 0, B_SHORT);
	json_field(o, "sni", r->sni, 0, B_SHORT);
	json_field(o, "user_agent", r->user_agent, r->user_agent_len, B_UA);
	json_field(o, "referer", r->referer, r->referer_len, B_REFERER);
	json_field(o, "error", r->error, 0, B_SHORT);
	sbuf_add(o, "}\n", 2);
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* client - consumer [time] "METHOD path HTTP/1.x" status bytes "referer" "ua" */
static void format_combined(struct sbuf *o, const struct accesslog_record *r)
{
	struct tm tm;
	int ms;

	split_time(r->start_ns, &tm, &ms);
	clf_field(o, r->client, 0, B_SHORT);
	sbuf_add(o, " - ", 3);
	clf_field(o, r->consumer, 0, B_SHORT);
	sbuf_addf(o, " [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", tm.tm_mday,
	     months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	     tm.tm_sec);
	clf_field(o, r->method, r->method_len, B_SHORT);
	sbuf_add(o, " ", 1);
	clf_field(o, r->path, r->path_len, B_PATH);
	if (r->http_minor == ACCESSLOG_HTTP2)
		sbuf_adds(o, " HTTP/2.0");
	else if (r->http_minor >= 0)
		sbuf_addf(o, " HTTP/1.%d", r->http_minor);
	sbuf_addf(o, "\" %03d ", r->status);
	if (r->bytes_out)
		sbuf_addf(o, "%" PRIu64, r->bytes_out);
	else
		sbuf_add(o, "-", 1);
	sbuf_add(o, " \"", 2);
	clf_field(o, r->referer, r->referer_len, B_REFERER);
	sbuf_add(o, "\" \"", 3);
	clf_field(o, r->user_agent, r->user_agent_len, B_UA);
	sbuf_add(o, "\"\n", 2);
}

int accesslog_format(enum accesslog_format f, const struct accesslog_record *r,
		     char *buf, size_t len)
{
	struct sbuf o;

	if (len < ACCESSLOG_LINE_MAX)
		return -ENOSPC;
	sbuf_init(&o, buf, len);
	if (f == ACCESSLOG_COMBINED)
		format_combined(&o, r);
	else
		format_json(&o, r);
	return o.overflow ? -ENOSPC : (int)o.len;
}

int accesslog_format_parse(const char *s, enum accesslog_format *out)
{
	if (s && strcmp(s, "json") == 0)
		*out = ACCESSLOG_JSON;
	else if (s && strcmp(s, "combined") == 0)
		*out = ACCESSLOG_COMBINED;
	else
		return -EINVAL;
	return 0;
}

bool accesslog_sampled(double rate, int status, uint64_t rnd)
{
	if (status >= 400 || status == 0 || rate >= 1.0)
		return true;
	if (!(rate > 0.0))
		return false;
	/* top 53 bits as a uniform double in [0, 1) */
	return (double)(rnd >> 11) * 0x1.0p-53 < rate;
}

uint64_t accesslog_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* ---- ring ------------------------------------------------------------------- */

int accesslog_ring_init(struct accesslog_ring *r, size_t cap)
{
	size_t c = ACCESSLOG_LINE_MAX;

	memset(r, 0, sizeof(*r));
	if (cap > ((size_t)1 << 30))
		return -EINVAL;
	while (c < cap)
		c <<= 1;
	r->data = malloc(c);
	if (!r->data)
		return -ENOMEM;
	r->cap = c;
	return 0;
}

void accesslog_ring_destroy(struct accesslog_ring *r)
{
	free(r->data);
	r->data = NULL;
	r->cap = 0;
}

size_t accesslog_ring_used(const struct accesslog_ring *r)
{
	uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);

	return (size_t)(h - t);
}

bool accesslog_ring_put(struct accesslog_ring *r, const char *line, size_t len)
{
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t off = (size_t)(h & (r->cap - 1)), first;

	if (len > r->cap - (size_t)(h - t)) {
		atomic_store_explicit(&r->dropped,
				      atomic_load_explicit(&r->dropped,
							   memory_order_relaxed) + 1,
				      memory_order_relaxed);
		return false;
	}
	first = r->cap - off < len ? r->cap - off : len;
	memcpy(r->data + off, line, first);
	memcpy(r->data, line + first, len - first);
	atomic_store_explicit(&r->head, h + len, memory_order_release);
	return true;
}

size_t accesslog_ring_peek(struct accesslog_ring *r, struct iovec iov[2])
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t n = (size_t)(h - t), off = (size_t)(t & (r->cap - 1));
	size_t first = r->cap - off < n ? r->cap - off : n;

	iov[0].iov_base = r->data + off;
	iov[0].iov_len = first;
	iov[1].iov_base = r->data;
	iov[1].iov_len = n - first;
	return n;
}

void accesslog_ring_consume(struct accesslog_ring *r, size_t n)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);

	atomic_store_explicit(&r->tail, t + n, memory_order_release);
}
