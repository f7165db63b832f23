/* SPDX-License-Identifier: MIT */
/* Routing: pure lookup of a request against a config snapshot. */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stddef.h>

struct config;

/*
 * Find the route for a request. host (may be NULL) is the Host header value,
 * compared case-insensitively with any ":port" suffix ignored. path is the
 * request-target's path (query excluded). Longest matching path_prefix wins;
 * on a tie, the first route in file order. Returns route index or -1.
 */
int router_match(const struct config *c, const char *host, size_t host_len,
		 const char *method, size_t method_len, const char *path,
		 size_t path_len);

#endif
