// SPDX-License-Identifier: MIT
/*
 * Host syntax (RFC 3986 3.2.2) for the request parser: the Host field and
 * the authority of absolute-form and CONNECT targets. See http_int.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "http/http.h"
#include "http/http_int.h"

/* dec-octet "." x4 (RFC 3986 3.2.2): 0-255, no leading zeros */
static bool ipv4_valid(const char *s, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t st = i;
		unsigned v = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			st = ++i;
		}
		while (i < n && IS(s[i], C_DIGIT) && i - st < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == st || v > 255 || (i - st > 1 && s[st] == '0'))
			return false;
	}
	return i == n;
}

/* IPv6address (RFC 3986 3.2.2), no zone id */
static bool ipv6_valid(const char *s, size_t n)
{
	size_t i = 0;
	int groups = 0;
	bool dbl = false;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		dbl = true;
		i = 2;
		if (i == n)
			return true;
	} else if (n == 0 || s[0] == ':') {
		return false;
	}
	for (;;) {
		size_t st = i;

		while (i < n && IS(s[i], C_HEX) && i - st < 4)
			i++;
		if (i < n && s[i] == '.') {
			/* trailing IPv4 takes two groups and ends the address */
			if (!ipv4_valid(s + st, n - st))
				return false;
			groups += 2;
			break;
		}
		if (i == st)
			return false;
		groups++;
		if (i == n)
			break;
		if (s[i] != ':' || groups >= 8)
			return false;
		i++;
		if (i < n && s[i] == ':') {
			if (dbl)
				return false;
			dbl = true;
			i++;
			if (i == n)
				break;
		} else if (i == n) {
			return false;
		}
	}
	return dbl ? groups <= 7 : groups == 8;
}

/*
 * host [ ":" port ] where host = "[" IPv6address "]" / reg-name restricted to
 * unreserved characters (covers IPv4 and DNS names). port = 1*5DIGIT <= 65535.
 */
bool http__host_port_valid(const char *s, size_t n, bool port_required)
{
	size_t i = 0;

	if (n == 0)
		return false;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb || !ipv6_valid(s + 1, (size_t)(rb - s) - 1))
			return false;
		i = (size_t)(rb - s) + 1;
	} else {
		while (i < n && IS(s[i], C_HOST))
			i++;
		if (i == 0)
			return false;
	}
	if (i == n)
		return !port_required;
	if (s[i] != ':')
		return false;
	i++;
	if (i == n || n - i > 5)
		return false;
	unsigned port = 0;
	for (; i < n; i++) {
		if (!IS(s[i], C_DIGIT))
			return false;
		port = port * 10 + (unsigned)(s[i] - '0');
	}
	return port <= 65535;
}

/*
 * One spelling of a host for matching (router, route config): ASCII
 * lower-case, the port dropped, one trailing '.' dropped (a fully
 * qualified name is the same host), an IPv6 literal in its canonical text
 * form (RFC 5952, inet_ntop) inside its brackets.
 */
long http_host_normalize(char *dst, size_t cap, const char *s, size_t n)
{
	size_t i = 0, end;

	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		struct in6_addr a;
		char tmp[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
		size_t l;

		if (!rb || (size_t)(rb - s) - 1 >= sizeof(tmp))
			return -1;
		memcpy(tmp, s + 1, (size_t)(rb - s) - 1);
		tmp[rb - s - 1] = '\0';
		if (inet_pton(AF_INET6, tmp, &a) != 1 ||
		    !inet_ntop(AF_INET6, &a, out, sizeof(out)))
			return -1;
		l = strlen(out);
		if (l + 2 > cap)
			return -1;
		dst[0] = '[';
		memcpy(dst + 1, out, l);
		dst[l + 1] = ']';
		return (long)l + 2;
	}
	end = n;
	for (size_t k = n; k > 0; k--) {
		if (s[k - 1] == ':') {
			end = k - 1;
			break;
		}
	}
	if (end && s[end - 1] == '.')
		end--;
	if (end > cap)
		return -1;
	for (i = 0; i < end; i++) {
		char c = s[i];

		dst[i] = c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
	}
	return (long)end;
}
