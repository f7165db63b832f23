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

int realip_normalise(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		s4->sin_family = AF_INET;
		s4->sin_addr = ((const struct sockaddr_in *)sa)->sin_addr;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)out;

			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, &a->s6_addr[12], 4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

			s6->sin6_family = AF_INET6;
			s6->sin6_addr = *a;
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

int realip_parse(const char *s, size_t n, struct sockaddr_storage *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	struct sockaddr_storage ss;

	memset(out, 0, sizeof(*out));
	memset(&ss, 0, sizeof(ss));
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		/* brackets hold an IPv6 address and nothing else */
		s++;
		n -= 2;
		if (!memchr(s, ':', n))
			return -EINVAL;
	}
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	/* inet_pton takes no port, no brackets, no spaces, no zone, and only
	 * the four-part decimal IPv4 form (no "01.2.3.4", no "1.2.3") */
	if (memchr(tmp, ':', n)) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET6, tmp, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		if (inet_pton(AF_INET, tmp, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
	}
	return realip_normalise((const struct sockaddr *)&ss, out);
}

void realip_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct sockaddr_storage n;
	const void *a = NULL;

	if (!realip_normalise((const struct sockaddr *)ss, &n)) {
		if (n.ss_family == AF_INET)
			a = &((const struct sockaddr_in *)&n)->sin_addr;
		else
			a = &((const struct sockaddr_in6 *)&n)->sin6_addr;
	}
	if (!a || !inet_ntop(n.ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "unknown");
}

static bool is_xff(const struct http_header *h)
{
	return http_token_eq(h->name, h->name_len, "x-forwarded-for");
}

static void to_raddr(const struct sockaddr_storage *ss, struct realip_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(a->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else
		memcpy(a->addr, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		       16);
}

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

int realip_resolve(const struct allowlist_entry *cidrs, size_t n,
		   const struct sockaddr_storage *peer,
		   const struct http_request *req, struct realip_result *res)
{
	/* believed elements, right to left */
	struct realip_addr rev[REALIP_MAX_HOPS + 1];
	unsigned int nrev = 0;
	int err = 0;

	res->from_xff = false;
	res->n_chain = 0;
	if (realip_normalise((const struct sockaddr *)peer, &res->client))
		return 0;	/* no address (e.g. getpeername failed) */
	if (!n || !realip_trusted(cidrs, n,
				  (const struct sockaddr *)&res->client))
		return 0;
	/* field lines from last to first, elements of each right to left;
	 * an empty field line is one empty element */
	for (size_t i = req->num_headers; i-- > 0;) {
		const struct http_header *h = &req->headers[i];
		const char *v = h->value, *e = v + h->value_len;

		if (!is_xff(h))
			continue;
		for (;;) {
			const char *s = e, *next;
			struct sockaddr_storage ss;

			while (s > v && s[-1] != ',')
				s--;
			next = s > v ? s - 1 : NULL;
			while (s < e && ows(*s))
				s++;
			while (e > s && ows(e[-1]))
				e--;
			if (realip_parse(s, (size_t)(e - s), &ss)) {
				err = -EINVAL;
				goto refuse;
			}
			to_raddr(&ss, &rev[nrev++]);
			res->client = ss;
			res->from_xff = true;
			if (!realip_trusted(cidrs, n, (struct sockaddr *)&ss))
				goto done;
			if (nrev > REALIP_MAX_HOPS) {
				err = -E2BIG;
				goto refuse;
			}
			if (!next)
				break;
			e = next;
		}
	}
done:
	res->n_chain = nrev;
	for (unsigned int k = 0; k < nrev; k++)
		res->chain[k] = rev[nrev - 1 - k];
	return 0;
refuse:
	realip_normalise((const struct sockaddr *)peer, &res->client);
	res->from_xff = false;
	return err;
}

static size_t fmt_raddr(const struct realip_addr *a, char *buf, size_t cap)
{
	if (!inet_ntop(a->family, a->addr, buf, (socklen_t)cap))
		return 0;
	return strlen(buf);
}

int realip_xff_value(const struct realip_result *res,
		     const struct sockaddr_storage *peer, char *buf,
		     size_t cap)
{
	char one[INET6_ADDRSTRLEN];
	size_t o = 0;

	if (!cap)
		return -ENOSPC;
	buf[0] = '\0';
	for (unsigned int k = 0; k <= res->n_chain; k++) {
		size_t l;

		if (k < res->n_chain) {
			l = fmt_raddr(&res->chain[k], one, sizeof(one));
		} else {
			/* the hop that sent the request to us: the peer when
			 * it is trusted (n_chain > 0 or peer == client) */
			realip_format(res->n_chain ? peer : &res->client, one,
				      sizeof(one));
			l = strlen(one);
		}
		if (o + (k ? 2 : 0) + l + 1 > cap)
			return -ENOSPC;
		if (k) {
			memcpy(buf + o, ", ", 2);
			o += 2;
		}
		memcpy(buf + o, one, l);
		o += l;
		buf[o] = '\0';
	}
	return (int)o;
}
