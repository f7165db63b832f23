/* SPDX-License-Identifier: MIT */
/*
 * The real client address of a request behind trusted proxies: pure, no
 * I/O. A PROXY protocol header or X-Forwarded-For entries are believed only
 * when they come from a peer inside the configured trusted CIDRs
 * (http.trusted_proxies).
 *
 * X-Forwarded-For (all fields joined in order, one comma list) is walked
 * from the right: each entry was appended by the hop to its right, so an
 * entry is believed only while every hop after it is trusted. The result is
 * the rightmost entry that is not itself a trusted proxy (or the leftmost
 * one when all are trusted). An entry that is not an IP address (IPv4,
 * IPv6, or "[IPv6]", optionally with ":port") stops the walk: the address
 * of the trusted hop that sent it is used instead.
 */
#ifndef SLUICE_REALIP_H
#define SLUICE_REALIP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "allowlist.h"
#include "http.h"

/* Is the address inside one of the CIDRs? IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are compared as IPv4. */
bool realip_trusted(const struct allowlist_entry *cidrs, size_t n,
		    const struct sockaddr *sa);

/*
 * Resolve the client of req, whose connection-level client address is peer
 * (the TCP peer, or the PROXY protocol source). *out = peer when peer is not
 * trusted or the request has no usable X-Forwarded-For. Returns true when
 * *out came from X-Forwarded-For.
 */
bool realip_resolve(const struct allowlist_entry *cidrs, size_t n,
		    const struct sockaddr_storage *peer,
		    const struct http_request *req,
		    struct sockaddr_storage *out);

/* Parse one address ("1.2.3.4", "::1", "[::1]", "1.2.3.4:80",
 * "[::1]:80"). 0 or -EINVAL. Port is ignored (set to 0). */
int realip_parse(const char *s, size_t n, struct sockaddr_storage *out);

/* Text form of an address (no port) into buf (INET6_ADDRSTRLEN). */
void realip_format(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif
