// SPDX-License-Identifier: MIT
/* Client address behind trusted proxies. See realip.h. */
#include "realip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static bool prefix_match(const uint8_t *a, const uint8_t *net,
			 unsigned int bits)
{
	unsigned int full = bits / 8, rest = bits % 8;

	if (memcmp(a, net, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((a[full] & mask) != (net[full] & mask))
			return false;
	}
	return true;
}

bool realip_trusted(const struct allowlist_entry *cidrs, size_t n,
		    const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	const uint8_t *a;
	int fam = sa->sa_family;

	if (fam == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (fam == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (!memcmp(a, mapped, sizeof(mapped))) {
			fam = AF_INET;
			a += 12;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (cidrs[i].family == fam &&
		    prefix_match(a, cidrs[i].addr, cidrs[i].prefixlen))
			return true;
	return false;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int realip_parse(const char *s, size_t n, struct sockaddr_storage *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	const char *a = s, *colon;
	size_t alen = n;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return -EINVAL;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb)
			return -EINVAL;
		a = s + 1;
		alen = (size_t)(rb - a);
		if (rb + 1 != s + n &&
		    (rb[1] != ':' || !all_digits(rb + 2, (size_t)(s + n - rb - 2))))
			return -EINVAL;
	} else if ((colon = memchr(s, ':', n)) && !memchr(colon + 1, ':',
							  (size_t)(s + n - colon - 1))) {
		/* exactly one ':': IPv4 with a port */
		alen = (size_t)(colon - s);
		if (!all_digits(colon + 1, (size_t)(s + n - colon - 1)))
			return -EINVAL;
	}
	if (alen == 0 || alen >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, a, alen);
	tmp[alen] = '\0';
	if (memchr(tmp, ':', alen)) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		if (inet_pton(AF_INET6, tmp, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		if (a != s || inet_pton(AF_INET, tmp, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
	}
	return 0;
}

void realip_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = NULL;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!a || !inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "unknown");
}

static bool is_xff(const struct http_header *h)
{
	return http_token_eq(h->name, h->name_len, "x-forwarded-for");
}

bool realip_resolve(const struct allowlist_entry *cidrs, size_t n,
		    const struct sockaddr_storage *peer,
		    const struct http_request *req,
		    struct sockaddr_storage *out)
{
	bool used = false;

	*out = *peer;
	if (!n || !realip_trusted(cidrs, n, (const struct sockaddr *)peer))
		return false;
	/* fields from last to first, entries in each from right to left */
	for (size_t i = req->num_headers; i-- > 0;) {
		const struct http_header *h = &req->headers[i];
		const char *v = h->value, *end = v + h->value_len;

		if (!is_xff(h))
			continue;
		while (end > v) {
			const char *e = end, *s;
			struct sockaddr_storage ss;

			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			s = e;
			while (s > v && s[-1] != ',')
				s--;
			end = s > v ? s - 1 : v;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			if (s == e)
				continue;	/* empty list element */
			if (realip_parse(s, (size_t)(e - s), &ss))
				return used;	/* garbage: stop at the hop */
			*out = ss;
			used = true;
			if (!realip_trusted(cidrs, n, (struct sockaddr *)&ss))
				return true;
		}
	}
	return used;
}
