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
#include <string.h>

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
