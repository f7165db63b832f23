/* SPDX-License-Identifier: MIT */
/*
 * jw: a small growable JSON writer for control-plane replies (admin API,
 * sluicectl --json). Commas are inserted automatically between values of
 * the same object or array. Not for the hot path: it allocates.
 *
 * Errors are sticky: after an allocation failure or a nesting mistake every
 * later call is a no-op and jw_finish() returns -ENOMEM / -EINVAL.
 */
#ifndef SLUICE_UTIL_JW_H
#define SLUICE_UTIL_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/str.h"

#define JW_MAX_DEPTH 16

struct jw {
	struct sbuf b;			/* growing, allocated at the first byte */
	int err;			/* 0, -ENOMEM or -EINVAL */
	unsigned int depth;
	bool first[JW_MAX_DEPTH + 1];	/* next value is the first at this depth */
	bool after_key;			/* a key was written, its value is next */
};

void jw_init(struct jw *w);
void jw_free(struct jw *w);
/* Hand the text (NUL-terminated, malloc'd) to the caller: 0, or the sticky
 * error (the buffer is then freed). Unbalanced nesting is -EINVAL. */
int jw_finish(struct jw *w, char **out, size_t *len);

void jw_obj(struct jw *w);		/* { */
void jw_obj_end(struct jw *w);		/* } */
void jw_arr(struct jw *w);		/* [ */
void jw_arr_end(struct jw *w);		/* ] */
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s);	/* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* Raw JSON text as one value (the caller vouches for its syntax). */
void jw_raw(struct jw *w, const char *json);

/* key + value shorthands */
void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_ku64(struct jw *w, const char *k, uint64_t v);
void jw_ki64(struct jw *w, const char *k, int64_t v);
void jw_kbool(struct jw *w, const char *k, bool v);

/* Append s as a JSON string literal (quotes included) to a plain buffer:
 * returns bytes that would be written (like snprintf). */
size_t jw_escape(char *out, size_t outlen, const char *s, size_t n);

#endif
