/* SPDX-License-Identifier: MIT */
/*
 * The string builder (one for the whole daemon: access log lines, header
 * rewrites, the Prometheus text, JSON and text replies of the admin API).
 * Bounded (sbuf_init(): the caller's array; no allocation, for the request
 * path) or growing (sbuf_init_grow(): a heap buffer, doubled as needed,
 * freed with sbuf_free() or handed over with sbuf_take()). Appends never
 * overflow: once something did not fit (or the heap ran out), the builder
 * is marked overflowed and every later append is ignored.
 */
#ifndef SLUICE_UTIL_STR_H
#define SLUICE_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- ASCII case-insensitive equality, eight bytes a step ---------------
 * Header names and tokens are compared on every field of every message:
 * a byte loop with a lowercase per byte was about 3% of the daemon's
 * instructions per request. */

/* Eight bytes with 'A'..'Z' made lower case, every other byte as it is:
 * a byte c < 0x80 is upper case when c + 0x3f reaches 0x80 (c >= 'A')
 * and c + 0x25 does not (c <= 'Z'); the sums stay within their byte. */
static inline uint64_t str_fold8(uint64_t x)
{
	uint64_t h = x & 0x7f7f7f7f7f7f7f7full;
	uint64_t up = ~x & ((h + 0x3f3f3f3f3f3f3f3full) ^
			    (h + 0x2525252525252525ull)) &
		      0x8080808080808080ull;

	return x | (up >> 2);
}

/* Up to 7 bytes as one word (4 to 7: the first four and the last four,
 * overlapping: every byte is in it) */
static inline uint64_t str_load_short(const char *p, size_t n)
{
	uint64_t v = 0;

	if (n >= 4) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + n - 4, 4);
		return (uint64_t)lo | (uint64_t)hi << 32;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)(unsigned char)p[i] << (8 * i);
	return v;
}

static inline uint64_t str_load8(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* a[0, an) and b[0, bn) are equal but for ASCII case */
static inline bool str_ieq(const char *a, size_t an, const char *b,
			   size_t bn)
{
	size_t i;

	if (an != bn)
		return false;
	if (an < 8)
		return str_fold8(str_load_short(a, an)) ==
		       str_fold8(str_load_short(b, an));
	for (i = 0; i + 8 <= an; i += 8)
		if (str_fold8(str_load8(a + i)) != str_fold8(str_load8(b + i)))
			return false;
	return i == an || str_fold8(str_load8(a + an - 8)) ==
				  str_fold8(str_load8(b + an - 8));
}

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool overflow;
	bool grow;		/* p is the builder's heap buffer */
};

static inline void sbuf_init(struct sbuf *s, char *p, size_t cap)
{
	s->p = p;
	s->len = 0;
	s->cap = cap;
	s->overflow = false;
	s->grow = false;
}

/* A growing builder starting with `hint` bytes (overflow set when even
 * that cannot be allocated). */
void sbuf_init_grow(struct sbuf *s, size_t hint);
/* Free a growing builder's buffer (no-op for a bounded one). */
void sbuf_free(struct sbuf *s);
/* A growing builder's text, NUL-terminated (not counted in *len), handed
 * to the caller to free(); the builder is left empty. NULL when it
 * overflowed (its buffer is freed then) or is a bounded one. */
char *sbuf_take(struct sbuf *s, size_t *len);

/* Value of hex digit c, or -1. */
static inline int str_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* sbuf_add() when the bytes do not fit as it is (grows, or overflows). */
void sbuf_add_slow(struct sbuf *s, const char *src, size_t n);

/* Inline: the header rewrite appends a few pieces per field. */
static inline void sbuf_add(struct sbuf *s, const char *src, size_t n)
{
	if (__builtin_expect(s->overflow || n > s->cap - s->len, 0)) {
		sbuf_add_slow(s, src, n);
		return;
	}
	memcpy(s->p + s->len, src, n);
	s->len += n;
}

static inline void sbuf_adds(struct sbuf *s, const char *str)
{
	sbuf_add(s, str, strlen(str));
}
void sbuf_addf(struct sbuf *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append str as the inside of a JSON string (quotes not added). */
void sbuf_add_json(struct sbuf *s, const char *str, size_t n);

#endif
