// SPDX-License-Identifier: MIT
/*
 * Configuration: scalar and value parsers. Each takes a YAML node and the
 * key path for its messages, reports what is wrong with cfg_err_at() and
 * says whether it produced a value; the setters (setters.c) and the
 * section checks (config_keys.c) call them.
 *
 * Scalars follow the YAML core schema for plain scalars: integers are
 * decimal ("0100" and "0x40" are rejected, not read as octal/hex), booleans
 * are true/false, null is "", "~" or "null". A quoted scalar is always a
 * string, so "2000" is not an integer. Anchors and aliases work as YAML
 * defines them.
 */
#include "config/config_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "http/http.h"

/* ---- scalars ---------------------------------------------------------------- */

bool cfg_is_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

bool cfg_sc_eq(const yaml_node_t *n, const char *s)
{
	size_t l = strlen(s);

	return n->data.scalar.length == l &&
	       !memcmp(n->data.scalar.value, s, l);
}

bool cfg_is_null(const yaml_node_t *n)
{
	return cfg_is_scalar(n) && is_plain(n) &&
	       (n->data.scalar.length == 0 || cfg_sc_eq(n, "~") ||
		cfg_sc_eq(n, "null") || cfg_sc_eq(n, "Null") ||
		cfg_sc_eq(n, "NULL"));
}

/* Printable rendering of s[0..n) in single quotes, cut at 40 bytes. */
static void quote(char *out, size_t outlen, const void *s, size_t n)
{
	const unsigned char *c = s;
	size_t o = 0, i;

	out[o++] = '\'';
	for (i = 0; i < n && i < 40 && o + 6 < outlen; i++) {
		if (c[i] >= 0x20 && c[i] < 0x7f && c[i] != '\\')
			out[o++] = (char)c[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
					      c[i]);
	}
	if (i < n && o + 5 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

/* What a node is, for "expected X, got Y". */
const char *cfg_got(const yaml_node_t *n, char *buf, size_t len)
{
	if (!n)
		return "nothing";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a sequence";
	if (cfg_is_null(n))
		return n->data.scalar.length ? "null" : "an empty value";
	if (is_plain(n)) {
		quote(buf, len, n->data.scalar.value, n->data.scalar.length);
	} else {
		int k = snprintf(buf, len, "a quoted string ");

		quote(buf + k, len - (size_t)k, n->data.scalar.value,
		      n->data.scalar.length);
	}
	return buf;
}

/* A scalar's value, quoted for a message. */
const char *cfg_qv(const yaml_node_t *n, char *buf, size_t len)
{
	if (!cfg_is_scalar(n))
		return cfg_got(n, buf, len);
	quote(buf, len, n->data.scalar.value, n->data.scalar.length);
	return buf;
}

void cfg_err_type(struct pctx *p, const yaml_node_t *n, const char *path,
		  const char *expected)
{
	char b[256];

	cfg_err_at(p, n, path, "expected %s, got %s", expected, cfg_got(n, b, sizeof(b)));
}

/* A non-null scalar without NUL bytes. */
bool cfg_get_str(struct pctx *p, const yaml_node_t *n, const char *path,
		 const char **s, size_t *len)
{
	if (!cfg_is_scalar(n) || cfg_is_null(n)) {
		cfg_err_type(p, n, path, "a string");
		return false;
	}
	*s = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	if (memchr(*s, '\0', *len)) {
		cfg_err_at(p, n, path, "must not contain a NUL byte");
		return false;
	}
	return true;
}

bool cfg_str_max(struct pctx *p, const yaml_node_t *n, const char *path,
		 size_t len, long long max)
{
	if (len == 0) {
		cfg_err_at(p, n, path, "must not be empty");
		return false;
	}
	if (len > (size_t)max) {
		cfg_err_at(p, n, path, "too long (%zu characters, max %lld)",
			   len, max);
		return false;
	}
	return true;
}

/* Plain decimal integer, no leading zeros, optional '-'. */
bool cfg_get_int(struct pctx *p, const yaml_node_t *n, const char *path,
		 long long min, long long max, long long *out)
{
	const char *s;
	size_t len, i = 0;
	bool neg = false, range = true;
	unsigned long long v = 0;

	if (!cfg_is_scalar(n) || !is_plain(n) || cfg_is_null(n))
		goto bad;
	s = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	if (s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len || (len - i > 1 && s[i] == '0'))
		goto bad;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		if (v > 1000000000000000000ull)
			range = false;
		else
			v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (range && v <= (unsigned long long)LLONG_MAX) {
		long long x = neg ? -(long long)v : (long long)v;

		if (x >= min && x <= max) {
			*out = x;
			return true;
		}
	}
	cfg_err_at(p, n, path, "%.40s is out of range (%lld-%lld)",
		   (const char *)n->data.scalar.value, min, max);
	return false;
bad:
	cfg_err_type(p, n, path, "an integer");
	return false;
}

/* A plain decimal number ("0.25", "1", "5e-3"); no hex, inf or nan. */
bool cfg_get_number(struct pctx *p, const yaml_node_t *n, const char *path,
		    double *out)
{
	char buf[64], *end;
	size_t len;

	if (!cfg_is_scalar(n) || !is_plain(n) || cfg_is_null(n))
		goto bad;
	len = n->data.scalar.length;
	if (len == 0 || len >= sizeof(buf))
		goto bad;
	memcpy(buf, n->data.scalar.value, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789.eE+-", buf[i]))
			goto bad;
	errno = 0;
	*out = strtod(buf, &end);
	if (end != buf + len || errno || !isfinite(*out))
		goto bad;
	return true;
bad:
	cfg_err_type(p, n, path, "a number");
	return false;
}

bool cfg_bool_value(const yaml_node_t *n, bool *out)
{
	static const char *const t[] = { "true", "True", "TRUE" };
	static const char *const f[] = { "false", "False", "FALSE" };

	if (cfg_is_scalar(n) && is_plain(n)) {
		for (int i = 0; i < 3; i++) {
			if (cfg_sc_eq(n, t[i]) || cfg_sc_eq(n, f[i])) {
				*out = cfg_sc_eq(n, t[i]);
				return true;
			}
		}
	}
	return false;
}

bool cfg_get_bool(struct pctx *p, const yaml_node_t *n, const char *path,
		  bool *out)
{
	if (cfg_bool_value(n, out))
		return true;
	cfg_err_type(p, n, path, "a boolean (true or false)");
	return false;
}

/* "a, b or c" */
static void choice_list(char *buf, size_t len, const char *const *c)
{
	size_t o = 0, n = 0;

	while (c[n])
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
				      i == 0 ? "" : i + 1 == n ? " or " : ", ",
				      c[i]);
}

int cfg_choice_index(struct pctx *p, const yaml_node_t *n, const char *path,
		     const char *const *c)
{
	char b[128], list[128];
	const char *s;
	size_t len;

	if (!cfg_get_str(p, n, path, &s, &len))
		return -1;
	for (int i = 0; c[i]; i++)
		if (cfg_sc_eq(n, c[i]))
			return i;
	choice_list(list, sizeof(list), c);
	cfg_err_at(p, n, path, "invalid value %s (expected %s)", cfg_qv(n, b, sizeof(b)),
		   list);
	return -1;
}

/* ---- addresses -------------------------------------------------------------- */

#define CONFIG_UNIX_PREFIX	"unix:"
#define CONFIG_UNIX_PREFIX_LEN	(sizeof(CONFIG_UNIX_PREFIX) - 1)

static bool digits_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* "unix:/abs/path" (after the prefix check): an AF_UNIX address. The path
 * must be absolute (the daemon's working directory is no anchor a reader
 * of the config can see), name a file, not a directory, and fit sun_path
 * with its terminating NUL. */
static int parse_unix(const char *s, size_t n, struct config_addr *a,
		      char *msg, size_t msglen)
{
	static const char hint[] = "expected unix:/absolute/path.sock";
	const char *path = s + CONFIG_UNIX_PREFIX_LEN;
	size_t plen = n - CONFIG_UNIX_PREFIX_LEN;
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;
	char q[256];

	quote(q, sizeof(q), s, n);
	if (!plen) {
		snprintf(msg, msglen, "empty Unix socket path in %s (%s)", q,
			 hint);
		return -EINVAL;
	}
	if (path[0] != '/') {
		snprintf(msg, msglen,
			 "Unix socket path must be absolute: %s (%s)", q, hint);
		return -EINVAL;
	}
	if (plen >= sizeof(sun->sun_path)) {
		snprintf(msg, msglen,
			 "Unix socket path too long in %s (%zu bytes; at most "
			 "%zu)", q, plen, sizeof(sun->sun_path) - 1);
		return -EINVAL;
	}
	if (path[plen - 1] == '/') {
		snprintf(msg, msglen,
			 "Unix socket path names a directory: %s (%s)", q,
			 hint);
		return -EINVAL;
	}
	memset(a, 0, sizeof(*a));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, plen);
	a->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			       plen + 1);
	memcpy(a->text, s, n);
	a->text[n] = '\0';
	return 0;
}

/*
 * "a.b.c.d:port", "[v6]:port" or "localhost:port"; IP literals only, ports
 * 1-65535; for a target also "unix:/abs/path". On error writes a message
 * (without the key path) to msg.
 */
int cfg_parse_addr(const char *s, size_t n, bool target,
		   struct config_addr *a, char *msg, size_t msglen)
{
	static const char hint[] = "expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080";
	const char *host, *port;
	size_t hlen, plen;
	struct allowlist_entry e;
	char q[256], tmp[sizeof(a->text)], ebuf[8];
	unsigned long pv;
	bool bracket = false;

	if (n >= CONFIG_UNIX_PREFIX_LEN &&
	    !memcmp(s, CONFIG_UNIX_PREFIX, CONFIG_UNIX_PREFIX_LEN)) {
		if (target)
			return parse_unix(s, n, a, msg, msglen);
		quote(q, sizeof(q), s, n);
		snprintf(msg, msglen, "a Unix socket is not allowed here: %s "
			 "(only services' targets may be unix:/path)", q);
		return -EINVAL;
	}
	quote(q, sizeof(q), s, n);
	if (n == 0 || n >= sizeof(a->text)) {
		snprintf(msg, msglen, "invalid address %s (%s)", q, hint);
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb) {
			snprintf(msg, msglen, "invalid address %s (missing ']')", q);
			return -EINVAL;
		}
		bracket = true;
		host = s + 1;
		hlen = (size_t)(rb - host);
		if (rb + 1 == s + n || rb[1] != ':') {
			snprintf(msg, msglen, "missing port in %s (%s)", q, hint);
			return -EINVAL;
		}
		port = rb + 2;
	} else {
		const char *c = memrchr(s, ':', n);

		if (!c) {
			snprintf(msg, msglen, "missing port in %s (%s)", q, hint);
			return -EINVAL;
		}
		host = s;
		hlen = (size_t)(c - s);
		if (memchr(host, ':', hlen)) {
			snprintf(msg, msglen,
				 "IPv6 address must be in brackets: %s (e.g. [::1]:8080)", q);
			return -EINVAL;
		}
		port = c + 1;
	}
	plen = (size_t)(s + n - port);
	if (!digits_only(port, plen) || plen > 5 || port[0] == '0' ||
	    (pv = strtoul(port, NULL, 10)) > 65535) {
		snprintf(msg, msglen, "invalid port in %s (expected 1-65535)", q);
		return -EINVAL;
	}

	memset(&e, 0, sizeof(e));
	if (!bracket && hlen == 9 && !strncasecmp(host, "localhost", 9)) {
		e.family = AF_INET;
		e.addr[0] = 127;
		e.addr[3] = 1;
	} else {
		memcpy(tmp, host, hlen);
		tmp[hlen] = '\0';
		if (target && !bracket && config_hostname_ok(host, hlen)) {
			/* a DNS name: control/dns.c resolves it */
			memset(a, 0, sizeof(*a));
			a->port = (uint16_t)pv;
			memcpy(a->text, s, n);
			a->text[n] = '\0';
			return 0;
		}
		if (!hlen || memchr(tmp, '/', hlen) ||
		    allowlist_parse_cidr(tmp, &e, ebuf, sizeof(ebuf)) ||
		    (e.family == AF_INET6) != bracket) {
			snprintf(msg, msglen,
				 target ? "invalid address in %s (an IP literal, localhost or a host name of letters, digits, '-' and '.')"
					: "invalid IP address in %s (IP literal or localhost; no DNS names)",
				 q);
			return -EINVAL;
		}
	}
	if (target) {
		static const uint8_t zero[16];

		if (!memcmp(e.addr, zero, e.family == AF_INET ? 4 : 16)) {
			snprintf(msg, msglen,
				 "unspecified address not allowed for a target: %s", q);
			return -EINVAL;
		}
	}

	memset(a, 0, sizeof(*a));
	a->port = (uint16_t)pv;
	if (e.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, e.addr, 4);
		a->salen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, e.addr, 16);
		a->salen = sizeof(*sin6);
	}
	memcpy(a->text, s, n);
	a->text[n] = '\0';
	return 0;
}

bool config_hostname_ok(const char *s, size_t n)
{
	size_t label = 0;
	bool alpha = false;

	if (n && s[n - 1] == '.')
		n--;
	if (!n || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (!label || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && !label)
			return false;
		if (!(c >= '0' && c <= '9'))
			alpha = true;
		if (++label > 63)
			return false;
	}
	return label && s[n - 1] != '-' && alpha;
}

uint32_t config_dns_ttl_ms(const struct config_dns *d, uint32_t ttl_s)
{
	uint64_t ms = (uint64_t)ttl_s * 1000;

	if (ms < d->min_ttl_ms)
		ms = d->min_ttl_ms;
	if (ms > d->max_ttl_ms)
		ms = d->max_ttl_ms;
	return (uint32_t)ms;
}

uint32_t config_dns_backoff_ms(const struct config_dns *d, uint32_t fails)
{
	uint64_t ms = d->min_ttl_ms;

	for (uint32_t i = 1; i < fails && ms < d->max_ttl_ms; i++)
		ms *= 2;
	return ms > d->max_ttl_ms ? d->max_ttl_ms : (uint32_t)ms;
}

bool cfg_addr_eq(const struct config_addr *a, const struct config_addr *b)
{
	return a->salen && a->salen == b->salen &&
	       !memcmp(&a->sa, &b->sa, a->salen);
}

bool cfg_get_addr(struct pctx *p, const yaml_node_t *n, const char *path,
		  bool target, struct config_addr *a)
{
	char msg[512];
	const char *s;
	size_t len;

	if (!cfg_get_str(p, n, path, &s, &len))
		return false;
	if (cfg_parse_addr(s, len, target, a, msg, sizeof(msg))) {
		cfg_err_at(p, n, path, "%s", msg);
		return false;
	}
	return true;
}

/* ---- other value types ------------------------------------------------------ */

bool cfg_name_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0;
}

char *cfg_resolve_path(struct pctx *p, const char *s, size_t n)
{
	char *out;

	if (s[0] == '/' || !p->dir)
		return strndup(s, n);
	if (asprintf(&out, "%s/%.*s", p->dir, (int)n, s) < 0)
		return NULL;
	return out;
}

bool cfg_get_strs_item(struct pctx *p, const struct ckey *k,
		       const yaml_node_t *n, const char *path, char **out,
		       char *const *prev, size_t n_prev)
{
	char b[256];
	const char *s;
	size_t len;

	if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, PATH_MAX - 1))
		return false;
	if (k->flags & K_IFNAME) {
		if (len > 15 || memchr(s, '/', len) || memchr(s, ' ', len) ||
		    memchr(s, '\t', len)) {
			cfg_err_at(p, n, path,
				   "invalid interface name %s (1-15 characters, no '/' or spaces)",
				   cfg_qv(n, b, sizeof(b)));
			return false;
		}
		for (size_t i = 0; i < n_prev; i++) {
			if (prev[i] && strlen(prev[i]) == len &&
			    !memcmp(prev[i], s, len)) {
				cfg_err_at(p, n, path, "duplicate interface %s",
					   cfg_qv(n, b, sizeof(b)));
				return false;
			}
		}
		*out = strndup(s, len);
	} else if (k->flags & K_RAW) {
		*out = strndup(s, len);
	} else {
		*out = cfg_resolve_path(p, s, len);
		if (*out && strlen(*out) >= PATH_MAX) {
			cfg_err_at(p, n, path, "path too long");
			free(*out);
			*out = NULL;
			return false;
		}
	}
	if (!*out)
		p->oom = true;
	return *out != NULL;
}

/* A flag of a list of names (methods, authentication methods). */
struct flag_name {
	const char *name;
	uint32_t bit;
};

/* Set the bit of the scalar n's name in *mask; else an error naming
 * `what` and the names expected. */
static bool get_flag(struct pctx *p, const yaml_node_t *n, const char *path,
		     const struct flag_name *names, size_t count,
		     const char *what, const char *expected, uint32_t *mask)
{
	char b[256];
	const char *s;
	size_t len;

	if (!cfg_get_str(p, n, path, &s, &len))
		return false;
	for (size_t i = 0; i < count; i++) {
		if (cfg_sc_eq(n, names[i].name)) {
			*mask |= names[i].bit;
			return true;
		}
	}
	cfg_err_at(p, n, path, "unknown %s %s (expected %s)", what,
		   cfg_qv(n, b, sizeof(b)), expected);
	return false;
}

bool cfg_get_method(struct pctx *p, const yaml_node_t *n, const char *path,
		    uint32_t *mask)
{
	static const struct flag_name m[] = {
		{ "GET", CFG_M_GET },	    { "HEAD", CFG_M_HEAD },
		{ "POST", CFG_M_POST },	    { "PUT", CFG_M_PUT },
		{ "DELETE", CFG_M_DELETE }, { "PATCH", CFG_M_PATCH },
		{ "OPTIONS", CFG_M_OPTIONS },
	};

	return get_flag(p, n, path, m, sizeof(m) / sizeof(m[0]), "method",
			"GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS", mask);
}

bool cfg_get_path_prefix(struct pctx *p, const yaml_node_t *n,
			 const char *path, const char *s, size_t len)
{
	char b[256], norm[1025];
	const char *err;

	if (s[0] != '/') {
		cfg_err_at(p, n, path, "must start with '/': %s", cfg_qv(n, b, sizeof(b)));
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
			cfg_err_at(p, n, path,
				   "invalid character in path prefix %s (no spaces, controls, '?' or '#')",
				   cfg_qv(n, b, sizeof(b)));
			return false;
		}
	}
	/* requests are matched on their normal form (http_path.c): a prefix
	 * in any other spelling could never match */
	if (len < sizeof(norm) &&
	    (http_path_normalize(norm, s, len, HTTP_PATH_STRIP_PARAMS |
				 HTTP_PATH_KEEP_ESCAPED_SLASH, &err) != (long)len ||
	     memcmp(norm, s, len) || memchr(s, ';', len))) {
		cfg_err_at(p, n, path,
			   "path prefix %s is not in normal form (no '//', '.' or '..' segments, ';', '\\', encoded unreserved characters or lowercase hex: see docs/HTTP.md)",
			   cfg_qv(n, b, sizeof(b)));
		return false;
	}
	return true;
}

bool cfg_get_host(struct pctx *p, const yaml_node_t *n, const char *path,
		  const char *s, size_t len)
{
	char b[256], tmp[64], ebuf[8];
	struct allowlist_entry e;

	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(tmp))
			goto bad;
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		if (strchr(tmp, '/') || allowlist_parse_cidr(tmp, &e, ebuf, sizeof(ebuf)) ||
		    e.family != AF_INET6)
			goto bad;
		return true;
	}
	if (memchr(s, ':', len)) {
		cfg_err_at(p, n, path, "must not include a port: %s", cfg_qv(n, b, sizeof(b)));
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			goto bad;
	}
	return true;
bad:
	cfg_err_at(p, n, path, "invalid host %s (a DNS name or IP literal, no port)",
		   cfg_qv(n, b, sizeof(b)));
	return false;
}

/* ---- authentication value types -------------------------------------------- */

bool cfg_get_cidr(struct pctx *p, const yaml_node_t *n, const char *path,
		  struct allowlist *al)
{
	struct allowlist_entry e, *ne;
	char tmp[INET6_ADDRSTRLEN + 8], msg[256], b[256];
	const char *s;
	size_t len;

	if (!cfg_get_str(p, n, path, &s, &len))
		return false;
	if (len >= sizeof(tmp)) {
		cfg_err_at(p, n, path, "invalid CIDR %s",
			   cfg_qv(n, b, sizeof(b)));
		return false;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (allowlist_parse_cidr(tmp, &e, msg, sizeof(msg))) {
		cfg_err_at(p, n, path, "%s", msg);
		return false;
	}
	if (al->n == al->cap) {
		size_t cap = al->cap ? al->cap * 2 : 8;

		ne = realloc(al->entries, cap * sizeof(*ne));
		if (!ne) {
			p->oom = true;
			return false;
		}
		al->entries = ne;
		al->cap = cap;
	}
	e.line = (uint32_t)n->start_mark.line + 1;
	al->entries[al->n++] = e;
	return true;
}

bool cfg_get_auth_method(struct pctx *p, const yaml_node_t *n,
			 const char *path, uint32_t *mask)
{
	static const struct flag_name m[] = {
		{ "bearer", AUTH_M_BEARER }, { "key", AUTH_M_KEY },
		{ "jwt", AUTH_M_JWT }, { "mtls", AUTH_M_MTLS },
	};

	return get_flag(p, n, path, m, sizeof(m) / sizeof(m[0]),
			"authentication method", "bearer, key, jwt or mtls",
			mask);
}
