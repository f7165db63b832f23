// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the PROXY protocol parser.
 *
 * Invariants: the result is -1, -2 or a length within the input and within
 * the protocol's bound; every strict prefix of an accepted header is
 * incomplete (-2); appending bytes to an accepted header does not change
 * the result; an error carries a message; addresses are AF_INET/AF_INET6.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* parse an exact-size heap copy so ASan sees any over-read */
static int run(const uint8_t *data, size_t size, struct proxyproto *pp)
{
	char *b = malloc(size ? size : 1);
	int r;

	if (!b)
		abort();
	memcpy(b, data, size);
	r = proxyproto_parse(b, size, pp);
	free(b);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto pp, pp2;
	int r = run(data, size, &pp);

	if (r == -1) {
		if (!pp.error)
			abort();
		return 0;
	}
	if (r == -2)
		return 0;
	if (r <= 0 || (size_t)r > size)
		abort();
	if (pp.version == 1 && r > PROXYPROTO_V1_MAX)
		abort();
	if (pp.version == 2 && r > PROXYPROTO_V2_MAX)
		abort();
	if (pp.version != 1 && pp.version != 2)
		abort();
	if (pp.has_addr &&
	    !((pp.src.ss_family == AF_INET && pp.dst.ss_family == AF_INET &&
	       pp.addrlen == sizeof(struct sockaddr_in)) ||
	      (pp.src.ss_family == AF_INET6 && pp.dst.ss_family == AF_INET6 &&
	       pp.addrlen == sizeof(struct sockaddr_in6))))
		abort();
	/* the header alone gives the same result; its prefixes are incomplete */
	if (run(data, (size_t)r, &pp2) != r || pp2.has_addr != pp.has_addr ||
	    (pp.has_addr && memcmp(&pp.src, &pp2.src, pp.addrlen)))
		abort();
	for (size_t cut = 0; cut < (size_t)r; cut += 1 + cut / 8)
		if (run(data, cut, &pp2) != -2)
			abort();
	return 0;
}
