// SPDX-License-Identifier: MIT
/*
 * Fields of a parsed head that an exchange inspects: token lists (Upgrade:
 * websocket) and the request id (the client's X-Request-Id or a generated
 * one). See proxy_int.h.
 */
#include "proxy/proxy.h"

#include <string.h>

#include "proxy/proxy_int.h"
#include "http/rewrite.h"

/* Does a comma list hold the token (case-insensitive)? */
static bool list_has(const char *v, size_t n, const char *tok)
{
	const char *end = v + n, *s, *e;

	while (http_list_next(&v, end, &s, &e))
		if (http_token_eq(s, (size_t)(e - s), tok))
			return true;
	return false;
}

/* Exactly one field `name` whose value lists `tok`. */
bool proxy__field_has(const struct http_header *hs, size_t n, const char *name,
		      const char *tok)
{
	const struct http_header *found = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!http_token_eq(hs[i].name, hs[i].name_len, name))
			continue;
		if (found)
			return false;
		found = &hs[i];
	}
	return found && list_has(found->value, found->value_len, tok);
}

static uint64_t rng_next(struct proxy *p)
{
	uint64_t s1 = p->rng[0];
	const uint64_t s0 = p->rng[1];

	p->rng[0] = s0;
	s1 ^= s1 << 23;
	p->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return p->rng[1] + s0;
}

/* The client's X-Request-Id if there is exactly one and it is valid, else
 * a new random one (32 hex digits). */
void proxy__request_id(struct proxy *p, const struct http_request *r,
		       char *out, size_t cap)
{
	const struct http_header *found = NULL;
	int n = 0;

	for (size_t i = 0; i < r->num_headers; i++) {
		if (http_token_eq(r->headers[i].name, r->headers[i].name_len,
				  "x-request-id")) {
			found = &r->headers[i];
			n++;
		}
	}
	if (n == 1 && found->value_len < cap &&
	    rewrite_request_id_valid(found->value, found->value_len)) {
		memcpy(out, found->value, found->value_len);
		out[found->value_len] = '\0';
		return;
	}
	if (cap < 33) {
		out[0] = '\0';
		return;
	}
	for (int k = 0; k < 2; k++) {
		static const char hex[] = "0123456789abcdef";
		uint64_t v = rng_next(p);

		for (int i = 15; i >= 0; i--, v >>= 4)
			out[k * 16 + i] = hex[v & 0xf];
	}
	out[32] = '\0';
}
