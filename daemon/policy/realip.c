// SPDX-License-Identifier: MIT
/* Client address behind trusted proxies. See realip.h. */
#include "policy/realip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
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

/*
 * Socket addresses are read and written through memcpy into locals of the
 * right type: the same bytes are seen as sockaddr, sockaddr_in,
 * sockaddr_in6 and sockaddr_storage, and with inlining an optimiser may
 * otherwise reorder accesses through the different types.
 */
static sa_family_t family_of(const void *sa)
{
	sa_family_t f;

	memcpy(&f, (const char *)sa + offsetof(struct sockaddr, sa_family),
	       sizeof(f));
	return f;
}

static void put_v4(struct sockaddr_storage *out, const void *a4)
{
	struct sockaddr_in s4;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	memcpy(&s4.sin_addr, a4, 4);
	memset(out, 0, sizeof(*out));
	memcpy(out, &s4, sizeof(s4));
}

static void put_v6(struct sockaddr_storage *out, const struct in6_addr *a6)
{
	struct sockaddr_in6 s6;

	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		put_v4(out, &a6->s6_addr[12]);
		return;
	}
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_addr = *a6;
	memset(out, 0, sizeof(*out));
	memcpy(out, &s6, sizeof(s6));
}

int realip_normalise(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	sa_family_t f = family_of(sa);

	if (f == AF_INET) {
		struct sockaddr_in s4;

		memcpy(&s4, sa, sizeof(s4));
		put_v4(out, &s4.sin_addr);
		return 0;
	}
	if (f == AF_INET6) {
		struct sockaddr_in6 s6;

		memcpy(&s6, sa, sizeof(s6));
		put_v6(out, &s6.sin6_addr);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -EAFNOSUPPORT;
}

int realip_parse(const char *s, size_t n, struct sockaddr_storage *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];

	memset(out, 0, sizeof(*out));
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
		struct in6_addr a6;

		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return -EINVAL;
		put_v6(out, &a6);
	} else {
		struct in_addr a4;

		if (inet_pton(AF_INET, tmp, &a4) != 1)
			return -EINVAL;
		put_v4(out, &a4);
	}
	return 0;
}

static void to_raddr(const struct sockaddr_storage *ss, struct realip_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family_of(ss);
	if (a->family == AF_INET) {
		struct sockaddr_in s4;

		memcpy(&s4, ss, sizeof(s4));
		memcpy(a->addr, &s4.sin_addr, 4);
	} else if (a->family == AF_INET6) {
		struct sockaddr_in6 s6;

		memcpy(&s6, ss, sizeof(s6));
		memcpy(a->addr, &s6.sin6_addr, 16);
	}
}

bool realip_trusted(const struct allowlist_entry *cidrs, size_t n,
		    const struct sockaddr *sa)
{
	struct sockaddr_storage ss;
	struct realip_addr a;

	if (!n || realip_normalise(sa, &ss))
		return false;
	to_raddr(&ss, &a);
	for (size_t i = 0; i < n; i++)
		if (cidrs[i].family == a.family &&
		    prefix_match(a.addr, cidrs[i].addr, cidrs[i].prefixlen))
			return true;
	return false;
}

void realip_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct sockaddr_storage n;
	struct realip_addr a;

	if (realip_normalise((const struct sockaddr *)ss, &n)) {
		snprintf(buf, len, "unknown");
		return;
	}
	to_raddr(&n, &a);
	if (!inet_ntop(a.family, a.addr, buf, (socklen_t)len))
		snprintf(buf, len, "unknown");
}

static bool is_xff(const struct http_header *h)
{
	return http_token_eq(h->name, h->name_len, "x-forwarded-for");
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
