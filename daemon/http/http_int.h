/* SPDX-License-Identifier: MIT */
/*
 * Internal to the http module (http.c, http_chunked.c, http_host.c): the
 * byte classes the scanners test with, and the host syntax check. Not for
 * other modules.
 */
#ifndef SLUICE_HTTP_INT_H
#define SLUICE_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	C_TCHAR = 0x01,	 /* token character (RFC 9110 5.6.2) */
	C_FVAL = 0x02,	 /* field-vchar: VCHAR / obs-text */
	C_WS = 0x04,	 /* SP / HTAB */
	C_TARGET = 0x08, /* request-target byte: VCHAR except '#' */
	C_HEX = 0x10,	 /* HEXDIG */
	C_HOST = 0x20,	 /* reg-name byte we accept: ALPHA DIGIT - . _ ~ */
	C_DIGIT = 0x40,	 /* DIGIT */
	C_QDTEXT = 0x80, /* qdtext: HTAB SP 21 23-5B 5D-7E obs-text */
};

/* One class bitmask per byte value; defined in http.c. */
extern const uint8_t http__cls[256];

#define IS(c, k) (http__cls[(uint8_t)(c)] & (k))

/* host [ ":" port ]: host an "[" IPv6address "]" (no zone id) or a
 * reg-name of unreserved characters (which covers IPv4 and DNS names),
 * port 1*5DIGIT <= 65535 (required when port_required). http_host.c. */
bool http__host_port_valid(const char *s, size_t n, bool port_required);

#endif
