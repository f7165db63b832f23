// SPDX-License-Identifier: MIT
/* libFuzzer target: allowlist_parse() and allowlist_parse_cidr() on
 * arbitrary bytes. Everything allocated is freed (leak detection is on). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/allowlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allowlist al = { 0 };
	char err[512], fmt[INET6_ADDRSTRLEN + 8], cidr[80];
	int r;

	r = allowlist_parse("fuzz.txt", (const char *)data, size, &al, err,
			    sizeof(err));
	if (r >= 0) {
		if ((size_t)r != al.n)
			abort();
		for (size_t i = 0; i < al.n; i++) {
			struct allowlist_entry back;

			/* format -> parse round trip is exact */
			allowlist_format(&al.entries[i], fmt, sizeof(fmt));
			memset(&back, 0, sizeof(back));
			if (allowlist_parse_cidr(fmt, &back, err, sizeof(err)) ||
			    back.family != al.entries[i].family ||
			    back.prefixlen != al.entries[i].prefixlen ||
			    memcmp(back.addr, al.entries[i].addr, sizeof(back.addr)))
				abort();
		}
		allowlist_normalize(&al);
		for (size_t i = 1; i < al.n; i++)
			if (al.entries[i - 1].family == al.entries[i].family &&
			    al.entries[i - 1].prefixlen == al.entries[i].prefixlen &&
			    !memcmp(al.entries[i - 1].addr, al.entries[i].addr, 16))
				abort();
	} else if (r != -EINVAL || al.n != 0 || !err[0]) {
		abort();
	}
	allowlist_free(&al);

	/* the CIDR parser alone, on a NUL-terminated prefix of the input */
	if (size < sizeof(cidr)) {
		struct allowlist_entry e;

		memcpy(cidr, data, size);
		cidr[size] = '\0';
		allowlist_parse_cidr(cidr, &e, err, sizeof(err));
	}
	return 0;
}
