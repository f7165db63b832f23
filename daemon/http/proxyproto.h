/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol v1 (text) and v2 (binary) header parser: pure, no
 * allocation, no I/O (the HAProxy specification "The PROXY protocol",
 * versions 1 and 2).
 *
 * Return convention, as for the HTTP parser:
 *   > 0  bytes of the header (the HTTP stream starts right after)
 *   -1   invalid header: ->error says why (a static string, JSON-safe)
 *   -2   incomplete: call again with more bytes
 *
 * Strict: v1 is exactly "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport
 * SP dport CRLF (single spaces, canonical addresses, ports 0-65535 without
 * leading zeros, at most 107 bytes) or "PROXY UNKNOWN" ... CRLF. v2: the
 * 12-byte signature, version 2, command LOCAL or PROXY, family UNSPEC, INET
 * or INET6 over STREAM (or UNSPEC), an address block at least as long as the
 * family needs, a total length of at most PROXYPROTO_V2_MAX. TLVs are skipped
 * (not interpreted). UNIX and DGRAM families are rejected.
 */
#ifndef SLUICE_PROXYPROTO_H
#define SLUICE_PROXYPROTO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXYPROTO_V1_MAX 107		/* whole line, CRLF included */
#define PROXYPROTO_V2_MAX 1024		/* 16-byte header + addresses + TLVs */

struct proxyproto {
	int version;			/* 1 or 2 */
	/* true: the header carries addresses (v1 TCP4/TCP6, v2 PROXY with
	 * INET/INET6); false: v1 UNKNOWN, v2 LOCAL or UNSPEC, meaning "use the
	 * connection's own addresses" */
	bool has_addr;
	struct sockaddr_storage src;	/* the client */
	struct sockaddr_storage dst;	/* the address it connected to */
	socklen_t addrlen;		/* of src and dst when has_addr */
	const char *error;		/* on -1 */
};

int proxyproto_parse(const char *buf, size_t len, struct proxyproto *out);

#endif
