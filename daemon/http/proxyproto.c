// SPDX-License-Identifier: MIT
/* PROXY protocol v1/v2 header parser. See proxyproto.h. */
#include "http/proxyproto.h"

#include <arpa/inet.h>
#include <string.h>

static const char v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";
static const char v1_prefix[6] = "PROXY ";

#define E_NOT_PP "not a PROXY protocol header"
#define E_V1_LINE "invalid PROXY v1 header"
#define E_V1_LONG "PROXY v1 header too long"
#define E_V1_PROTO "unsupported PROXY v1 protocol"
#define E_V1_ADDR "invalid address in PROXY v1 header"
#define E_V1_PORT "invalid port in PROXY v1 header"
#define E_V2_VER "unsupported PROXY v2 version or command"
#define E_V2_FAM "unsupported PROXY v2 address family"
#define E_V2_LEN "PROXY v2 address block too short"
#define E_V2_LONG "PROXY v2 header too long"

static int fail(struct proxyproto *out, const char *msg)
{
	out->error = msg;
	return -1;
}

/* Is buf[0..len) a prefix of lit[0..n)? */
static bool prefix_of(const char *buf, size_t len, const char *lit, size_t n)
{
	return len <= n && !memcmp(buf, lit, len);
}

/* One SP-delimited field of a v1 line into a NUL-terminated copy. */
static bool v1_field(const char **p, const char *end, char *dst, size_t cap,
		     bool last)
{
	const char *s = *p, *q = s;

	while (q < end && *q != ' ')
		q++;
	if (q == s || (size_t)(q - s) >= cap)
		return false;
	if (last ? q != end : (q == end))
		return false;
	memcpy(dst, s, (size_t)(q - s));
	dst[q - s] = '\0';
	*p = last ? q : q + 1;
	return true;
}

static bool v1_port(const char *s, uint16_t *port)
{
	size_t n = strlen(s);
	unsigned long v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static int parse_v1(const char *buf, size_t len, struct proxyproto *out)
{
	const char *cr = NULL, *p, *end;
	char proto[8], a[INET6_ADDRSTRLEN + 1], b[INET6_ADDRSTRLEN + 1];
	char sp[8], dp[8];
	uint16_t sport, dport;
	size_t i, lim = len < PROXYPROTO_V1_MAX - 1 ? len : PROXYPROTO_V1_MAX - 1;

	for (i = sizeof(v1_prefix); i < lim; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\r') {
			cr = buf + i;
			break;
		}
		if (ch < 0x20 || ch > 0x7e)
			return fail(out, E_V1_LINE);
	}
	if (!cr)
		return len >= PROXYPROTO_V1_MAX - 1 ? fail(out, E_V1_LONG) : -2;
	if ((size_t)(cr - buf) + 1 >= len)
		return -2;
	if (cr[1] != '\n')
		return fail(out, E_V1_LINE);
	out->version = 1;
	p = buf + sizeof(v1_prefix);
	end = cr;
	if (end - p >= 7 && !memcmp(p, "UNKNOWN", 7) &&
	    (end - p == 7 || p[7] == ' ')) {
		/* the rest of the line is to be ignored */
		out->has_addr = false;
		return (int)(cr + 2 - buf);
	}
	if (!v1_field(&p, end, proto, sizeof(proto), false))
		return fail(out, E_V1_LINE);
	if (strcmp(proto, "TCP4") && strcmp(proto, "TCP6"))
		return fail(out, E_V1_PROTO);
	if (!v1_field(&p, end, a, sizeof(a), false) ||
	    !v1_field(&p, end, b, sizeof(b), false) ||
	    !v1_field(&p, end, sp, sizeof(sp), false) ||
	    !v1_field(&p, end, dp, sizeof(dp), true))
		return fail(out, E_V1_LINE);
	if (!v1_port(sp, &sport) || !v1_port(dp, &dport))
		return fail(out, E_V1_PORT);
	memset(&out->src, 0, sizeof(out->src));
	memset(&out->dst, 0, sizeof(out->dst));
	if (proto[3] == '4') {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d4 = (struct sockaddr_in *)&out->dst;

		if (inet_pton(AF_INET, a, &s4->sin_addr) != 1 ||
		    inet_pton(AF_INET, b, &d4->sin_addr) != 1)
			return fail(out, E_V1_ADDR);
		s4->sin_family = d4->sin_family = AF_INET;
		s4->sin_port = htons(sport);
		d4->sin_port = htons(dport);
		out->addrlen = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->src;
		struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&out->dst;

		/* an IPv6 literal has a ':'; refuse dotted quads here */
		if (!strchr(a, ':') || !strchr(b, ':') ||
		    inet_pton(AF_INET6, a, &s6->sin6_addr) != 1 ||
		    inet_pton(AF_INET6, b, &d6->sin6_addr) != 1)
			return fail(out, E_V1_ADDR);
		s6->sin6_family = d6->sin6_family = AF_INET6;
		s6->sin6_port = htons(sport);
		d6->sin6_port = htons(dport);
		out->addrlen = sizeof(*s6);
	}
	out->has_addr = true;
	return (int)(cr + 2 - buf);
}

static int parse_v2(const unsigned char *b, size_t len, struct proxyproto *out)
{
	size_t total;
	unsigned ver_cmd, fam;

	if (len < 16)
		return -2;
	ver_cmd = b[12];
	fam = b[13];
	total = 16 + (((size_t)b[14] << 8) | b[15]);
	if ((ver_cmd & 0xf0) != 0x20 || (ver_cmd & 0x0f) > 1)
		return fail(out, E_V2_VER);
	if (total > PROXYPROTO_V2_MAX)
		return fail(out, E_V2_LONG);
	/* check what can be checked before the whole block is here */
	if ((ver_cmd & 0x0f) == 1) {
		switch (fam) {
		case 0x00:	/* UNSPEC */
			break;
		case 0x11:	/* TCP over IPv4 */
			if (total < 16 + 12)
				return fail(out, E_V2_LEN);
			break;
		case 0x21:	/* TCP over IPv6 */
			if (total < 16 + 36)
				return fail(out, E_V2_LEN);
			break;
		default:
			return fail(out, E_V2_FAM);
		}
	}
	if (len < total)
		return -2;
	out->version = 2;
	out->has_addr = false;
	if ((ver_cmd & 0x0f) == 0 || fam == 0x00)
		return (int)total;	/* LOCAL (health check) or UNSPEC */
	memset(&out->src, 0, sizeof(out->src));
	memset(&out->dst, 0, sizeof(out->dst));
	if (fam == 0x11) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d4 = (struct sockaddr_in *)&out->dst;

		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, b + 16, 4);
		memcpy(&d4->sin_addr, b + 20, 4);
		memcpy(&s4->sin_port, b + 24, 2);
		memcpy(&d4->sin_port, b + 26, 2);
		out->addrlen = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->src;
		struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&out->dst;

		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, b + 16, 16);
		memcpy(&d6->sin6_addr, b + 32, 16);
		memcpy(&s6->sin6_port, b + 48, 2);
		memcpy(&d6->sin6_port, b + 50, 2);
		out->addrlen = sizeof(*s6);
	}
	out->has_addr = true;
	return (int)total;
}

int proxyproto_parse(const char *buf, size_t len, struct proxyproto *out)
{
	out->error = NULL;
	out->has_addr = false;
	out->version = 0;
	if (len == 0)
		return -2;
	if (buf[0] == v2_sig[0]) {
		if (len < sizeof(v2_sig))
			return prefix_of(buf, len, v2_sig, sizeof(v2_sig)) ?
				       -2 : fail(out, E_NOT_PP);
		if (memcmp(buf, v2_sig, sizeof(v2_sig)))
			return fail(out, E_NOT_PP);
		return parse_v2((const unsigned char *)buf, len, out);
	}
	if (len < sizeof(v1_prefix))
		return prefix_of(buf, len, v1_prefix, sizeof(v1_prefix)) ?
			       -2 : fail(out, E_NOT_PP);
	if (memcmp(buf, v1_prefix, sizeof(v1_prefix)))
		return fail(out, E_NOT_PP);
	return parse_v1(buf, len, out);
}
