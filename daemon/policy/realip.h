/* SPDX-License-Identifier: MIT */
/*
 * The real client address of a request behind trusted proxies: pure, no
 * I/O. The one answer to "who is the client" for an exchange: the gate
 * (L7 CIDR rules, rate-limit keys, escalation, L7 bans), the access log and
 * the X-Forwarded-For sent upstream all use the result of one
 * realip_resolve() call. A PROXY protocol header or X-Forwarded-For
 * elements are believed only when they come from a peer inside the
 * configured trusted CIDRs (trusted_proxies).
 *
 * X-Forwarded-For (every field line in order, one comma list) is walked
 * from the right: each element was appended by the hop to its right, so an
 * element is believed only while every hop after it is trusted. The client
 * is the rightmost element that is not itself a trusted proxy (or the
 * leftmost one when all are trusted).
 *
 * Elements are strict: an IPv4 dotted quad, an IPv6 address, or an IPv6
 * address in brackets, with optional spaces or tabs around it. Anything
 * else reached by the walk — an empty element ("a,,b", a trailing comma),
 * "ip:port", "[v6]:port", "unknown", garbage — means a trusted hop did not
 * say who its client was; believing what lies left of it would believe
 * the client, and taking the hop itself would make a trusted proxy the
 * client (inside allow lists, never limited). So the exchange is refused
 * (400). So is a chain with more than REALIP_MAX_HOPS trusted elements.
 * Elements left of the client are never read.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are normalised to IPv4
 * everywhere (result and chain), so one client has one form.
 */
#ifndef SLUICE_REALIP_H
#define SLUICE_REALIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/allowlist.h"
#include "http/http.h"

/* Trusted X-Forwarded-For elements walked at most (then 400). */
#define REALIP_MAX_HOPS 16
/* Room for the X-Forwarded-For value realip_xff_value() writes. */
#define REALIP_XFF_MAX ((REALIP_MAX_HOPS + 2) * 48)

/* One believed address, normalised (IPv4-mapped as AF_INET). */
struct realip_addr {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network order; IPv4 in the first 4 */
};

struct realip_result {
	/* the client: port 0, IPv4-mapped IPv6 normalised to AF_INET */
	struct sockaddr_storage client;
	bool from_xff;			/* client came from X-Forwarded-For */
	/* the believed X-Forwarded-For elements, left to right: chain[0]
	 * is the client when from_xff, then the trusted hops after it */
	unsigned int n_chain;
	struct realip_addr chain[REALIP_MAX_HOPS + 1];
};

/* Is the address inside one of the CIDRs? IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are compared as IPv4. */
bool realip_trusted(const struct allowlist_entry *cidrs, size_t n,
		    const struct sockaddr *sa);

/*
 * Resolve the client of req, whose connection-level client address is peer
 * (the TCP peer, or the PROXY protocol source). The client is peer when
 * peer is not trusted or the request has no X-Forwarded-For. Returns 0;
 * -EINVAL when the walk met an element that is not an IP address, -E2BIG
 * when it met more than REALIP_MAX_HOPS trusted elements (then *res holds
 * the peer as client; the caller answers 400).
 */
int realip_resolve(const struct allowlist_entry *cidrs, size_t n,
		   const struct sockaddr_storage *peer,
		   const struct http_request *req,
		   struct realip_result *res);

/*
 * The X-Forwarded-For value to send upstream for res: the believed chain
 * (client first) and then peer, comma separated, e.g.
 * "203.0.113.9, 198.18.0.7, 198.18.0.2"; just the client when peer is not
 * trusted (then the chain is empty and the client is peer). The leftmost
 * element is always the resolved client. Returns the length (NUL-terminated)
 * or -ENOSPC.
 */
int realip_xff_value(const struct realip_result *res,
		     const struct sockaddr_storage *peer, char *buf,
		     size_t cap);

/* Copy sa to *out with port 0, IPv4-mapped IPv6 made AF_INET. 0, or
 * -EAFNOSUPPORT (then *out is zeroed). */
int realip_normalise(const struct sockaddr *sa, struct sockaddr_storage *out);

/* Parse one address ("1.2.3.4", "::1", "[::1]"), normalised. No port, no
 * spaces. 0 or -EINVAL. */
int realip_parse(const char *s, size_t n, struct sockaddr_storage *out);

/* Text form of an address (no port) into buf (INET6_ADDRSTRLEN);
 * IPv4-mapped IPv6 is written as IPv4. */
void realip_format(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif
