// SPDX-License-Identifier: MIT
#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sbuf_add(struct sbuf *s, const char *src, size_t n)
{
	if (s->overflow || n > s->cap - s->len) {
		s->overflow = true;
		return;
	}
	memcpy(s->p + s->len, src, n);
	s->len += n;
}

void sbuf_adds(struct sbuf *s, const char *str)
{
	sbuf_add(s, str, strlen(str));
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
