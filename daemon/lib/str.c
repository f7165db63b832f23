// SPDX-License-Identifier: MIT
#include "lib/str.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init_grow(struct sbuf *s, size_t hint)
{
	sbuf_init(s, NULL, 0);
	s->grow = true;
	s->p = malloc(hint ? hint : 1);
	if (!s->p)
		s->overflow = true;
	else
		s->cap = hint ? hint : 1;
}

void sbuf_free(struct sbuf *s)
{
	if (s->grow)
		free(s->p);
	s->p = NULL;
	s->len = s->cap = 0;
}

char *sbuf_take(struct sbuf *s, size_t *len)
{
	char *p;

	if (!s->grow) {
		s->overflow = true;
		return NULL;
	}
	sbuf_add(s, "", 1);
	if (s->overflow) {
		sbuf_free(s);
		return NULL;
	}
	p = s->p;
	if (len)
		*len = s->len - 1;
	s->p = NULL;
	s->len = s->cap = 0;
	return p;
}

/* Room for n more bytes: true when there is (a growing builder grows). */
static bool room_for(struct sbuf *s, size_t n)
{
	size_t cap;
	char *p;

	if (s->overflow)
		return false;
	if (n <= s->cap - s->len)
		return true;
	if (!s->grow || n > SIZE_MAX / 2 - s->len) {
		s->overflow = true;
		return false;
	}
	for (cap = s->cap ? s->cap : 64; cap - s->len < n; cap *= 2)
		;
	p = realloc(s->p, cap);
	if (!p) {
		s->overflow = true;
		return false;
	}
	s->p = p;
	s->cap = cap;
	return true;
}

void sbuf_add_slow(struct sbuf *s, const char *src, size_t n)
{
	if (!room_for(s, n))
		return;
	memcpy(s->p + s->len, src, n);
	s->len += n;
}

void sbuf_addf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	size_t room = s->cap - s->len;
	int n;

	if (s->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->p + s->len, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= room && s->grow) {
		/* grow to fit, then format again */
		if (!room_for(s, (size_t)n + 1))
			return;
		room = s->cap - s->len;
		va_start(ap, fmt);
		n = vsnprintf(s->p + s->len, room, fmt, ap);
		va_end(ap);
	}
	if (n < 0 || (size_t)n >= room) {
		s->overflow = true;
		return;
	}
	s->len += (size_t)n;
}

void sbuf_add_json(struct sbuf *s, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)str[i];
		char esc[6];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			sbuf_add(s, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			sbuf_add(s, esc, 6);
		} else {
			sbuf_add(s, (const char *)&c, 1);
		}
	}
}
