// SPDX-License-Identifier: MIT
/* Growable JSON writer. See jw.h. */
#include "lib/jw.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w)
{
	memset(w, 0, sizeof(*w));
	w->first[0] = true;
}

void jw_free(struct jw *w)
{
	sbuf_free(&w->b);
	sbuf_init(&w->b, NULL, 0);
}

static void put(struct jw *w, const char *s, size_t n)
{
	if (w->err || !n)
		return;
	if (!w->b.grow)
		sbuf_init_grow(&w->b, 256);
	sbuf_add(&w->b, s, n);
	if (w->b.overflow)
		w->err = -ENOMEM;
}

/* Before any value: a comma when it is not the first one at this depth. */
static void sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
}

static void open_(struct jw *w, char c)
{
	sep(w);
	if (w->depth >= JW_MAX_DEPTH) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	put(w, &c, 1);
	w->first[++w->depth] = true;
}

static void close_(struct jw *w, char c)
{
	if (!w->depth || w->after_key) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	w->depth--;
	put(w, &c, 1);
}

void jw_obj(struct jw *w) { open_(w, '{'); }
void jw_obj_end(struct jw *w) { close_(w, '}'); }
void jw_arr(struct jw *w) { open_(w, '['); }
void jw_arr_end(struct jw *w) { close_(w, ']'); }

size_t jw_escape(char *out, size_t outlen, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

#define EMIT(ch)                                                               \
	do {                                                                   \
		if (o + 1 < outlen)                                            \
			out[o] = (ch);                                         \
		o++;                                                           \
	} while (0)
	EMIT('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			EMIT('\\');
			EMIT((char)c);
		} else if (c == '\n') {
			EMIT('\\');
			EMIT('n');
		} else if (c == '\t') {
			EMIT('\\');
			EMIT('t');
		} else if (c < 0x20 || c == 0x7f) {
			EMIT('\\');
			EMIT('u');
			EMIT('0');
			EMIT('0');
			EMIT(hex[c >> 4]);
			EMIT(hex[c & 15]);
		} else {
			EMIT((char)c);
		}
	}
	EMIT('"');
#undef EMIT
	if (outlen)
		out[o < outlen ? o : outlen - 1] = '\0';
	return o;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	char small[256], *b = small;
	size_t need;

	sep(w);
	need = jw_escape(small, sizeof(small), s, n);
	if (need >= sizeof(small)) {
		b = malloc(need + 1);
		if (!b) {
			w->err = w->err ? w->err : -ENOMEM;
			return;
		}
		jw_escape(b, need + 1, s, n);
	}
	put(w, b, need);
	if (b != small)
		free(b);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_key(struct jw *w, const char *k)
{
	if (w->after_key || !w->depth) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	jw_str(w, k);
	put(w, ":", 1);
	w->after_key = true;
}

void jw_u64(struct jw *w, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRIu64, v);

	sep(w);
	put(w, b, (size_t)n);
}

void jw_i64(struct jw *w, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);

	sep(w);
	put(w, b, (size_t)n);
}

void jw_bool(struct jw *w, bool v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w)
{
	sep(w);
	put(w, "null", 4);
}

void jw_raw(struct jw *w, const char *json)
{
	sep(w);
	put(w, json, strlen(json));
}

void jw_kstr(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str(w, s);
}

void jw_ku64(struct jw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_u64(w, v);
}

void jw_ki64(struct jw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_i64(w, v);
}

void jw_kbool(struct jw *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

int jw_finish(struct jw *w, char **out, size_t *len)
{
	int err = w->err;
	char *p;

	if (!err && (w->depth || w->after_key))
		err = -EINVAL;
	if (!err && !w->b.grow)
		sbuf_init_grow(&w->b, 1);
	p = err ? NULL : sbuf_take(&w->b, len);
	if (!p) {
		jw_free(w);
		return err ? err : -ENOMEM;
	}
	*out = p;
	jw_free(w);
	return 0;
}
