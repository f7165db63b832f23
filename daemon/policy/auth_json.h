/* SPDX-License-Identifier: MIT */
/*
 * A tiny, strict, bounded JSON reader (RFC 8259) for JWT headers/payloads
 * and JWKS files. Pure: no allocation, no I/O. The parser tokenises into a
 * caller-provided array; strings stay escaped in the input and are compared
 * or decoded on demand.
 *
 * Strict means: one value and only whitespace around it; no trailing commas,
 * comments, single quotes, NaN, leading zeros, lone surrogates, invalid
 * UTF-8, control characters in strings, or duplicate keys in an object.
 *
 * Token layout (pre-order): an object is followed by key, value-subtree,
 * key, value-subtree...; an array by its element subtrees. tok.next is the
 * index just past a token's subtree, so siblings are walked in O(1) each.
 */
#ifndef SLUICE_AUTH_JSON_H
#define SLUICE_AUTH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum auth_json_type {
	AUTH_JSON_OBJECT = 1,
	AUTH_JSON_ARRAY,
	AUTH_JSON_STRING,
	AUTH_JSON_NUMBER,
	AUTH_JSON_TRUE,
	AUTH_JSON_FALSE,
	AUTH_JSON_NULL,
};

struct auth_json_tok {
	uint8_t type;		/* enum auth_json_type */
	uint32_t start, end;	/* byte span; strings: inside the quotes */
	uint32_t size;		/* object: members; array: elements */
	uint32_t next;		/* index past this token's subtree */
};

#define AUTH_JSON_MAX_DEPTH 16

/*
 * Parse buf[0..len). Returns the number of tokens (>= 1), -EINVAL when the
 * text is not strict JSON, -E2BIG when it needs more than max_toks tokens
 * or nests deeper than AUTH_JSON_MAX_DEPTH, or when len >= 2^31.
 */
int auth_json_parse(const char *buf, size_t len, struct auth_json_tok *toks,
		    size_t max_toks);

/* Index of the value of member `key` in object toks[obj], -ENOENT if absent,
 * -EINVAL if toks[obj] is not an object. */
int auth_json_get(const char *buf, const struct auth_json_tok *toks, int obj,
		  const char *key);

/* Index of the i-th element of array toks[arr] (0-based), or -ENOENT. */
int auth_json_elem(const struct auth_json_tok *toks, int arr, uint32_t i);

/* Whether string token t decodes to exactly s[0..n). */
bool auth_json_str_eq(const char *buf, const struct auth_json_tok *t,
		      const char *s, size_t n);

/*
 * Decode string token t into out (NUL-terminated). Returns the decoded
 * length, -ENOSPC if it does not fit, -EINVAL if t is not a string or
 * decodes to a NUL byte.
 */
ssize_t auth_json_str(const char *buf, const struct auth_json_tok *t,
		      char *out, size_t outlen);

/*
 * Number token t as an integer, the fraction truncated toward zero
 * (NumericDate). -EINVAL if not a number or written with an exponent,
 * -ERANGE if it does not fit in int64_t.
 */
int auth_json_int(const char *buf, const struct auth_json_tok *t, int64_t *v);

#endif
