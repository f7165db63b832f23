// SPDX-License-Identifier: MIT
/*
 * Routing: one linear pass over the snapshot's routes, no allocation.
 *
 * A route matches when (a) its methods mask is 0 or contains the request's
 * method bit, (b) it has no host or the Host header (":port" dropped)
 * equals it case-insensitively, and (c) its path_prefix is a byte prefix of
 * the path. The longest matching prefix wins; ties go to the earlier route.
 */
#include "policy/router.h"

#include <string.h>

#include "config/config.h"

static uint32_t method_bit(const char *m, size_t n)
{
	static const struct {
		const char *name;
		size_t len;
		uint32_t bit;
	} methods[] = {
		{ "GET", 3, CFG_M_GET },	 { "HEAD", 4, CFG_M_HEAD },
		{ "POST", 4, CFG_M_POST },	 { "PUT", 3, CFG_M_PUT },
		{ "DELETE", 6, CFG_M_DELETE },	 { "PATCH", 5, CFG_M_PATCH },
		{ "OPTIONS", 7, CFG_M_OPTIONS },
	};

	if (!m)
		return CFG_M_OTHER;
	/* methods are case-sensitive (RFC 9110 9.1) */
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (n == methods[i].len && !memcmp(m, methods[i].name, n))
			return methods[i].bit;
	return CFG_M_OTHER;
}

/* Length of the host part of a Host header value: "[v6]:port" keeps the
 * brackets, "name:port" drops from the last ':'. */
static size_t host_part_len(const char *h, size_t n)
{
	if (n && h[0] == '[') {
		const char *rb = memchr(h, ']', n);

		return rb ? (size_t)(rb - h) + 1 : n;
	}
	for (size_t i = n; i > 0; i--)
		if (h[i - 1] == ':')
			return i - 1;
	return n;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* route_host is stored lower-case by config. */
static int host_eq(const char *route_host, const char *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!route_host[i] || route_host[i] != lower((unsigned char)h[i]))
			return 0;
	}
	return route_host[i] == '\0';
}

int router_match(const struct config *c, const char *host, size_t host_len,
		 const char *method, size_t method_len, const char *path,
		 size_t path_len)
{
	uint32_t bit = method_bit(method, method_len);
	size_t hlen = host ? host_part_len(host, host_len) : 0;
	size_t best_len = 0;
	int best = -1;

	if (!c || (!path && path_len))
		return -1;
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct config_route *r = &c->routes[i];
		size_t plen = r->path_prefix_len;

		if (r->methods && !(r->methods & bit))
			continue;
		if (plen > path_len || (best >= 0 && plen <= best_len))
			continue;
		if (r->host && (!host || !host_eq(r->host, host, hlen)))
			continue;
		if (plen && memcmp(r->path_prefix, path, plen))
			continue;
		best = (int)i;
		best_len = plen;
	}
	return best;
}
