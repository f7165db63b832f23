// SPDX-License-Identifier: MIT
/*
 * Allowlist files: one CIDR a line, '#' comments, blank lines.
 *
 * Strict on purpose: an allowlist decides who reaches the services, so
 * anything ambiguous is an error rather than a guess.
 *  - IPv4 is dotted-quad only: four decimal parts 0..255, no leading zeros
 *    ("010.0.0.1" is octal to some tools and decimal to others), no
 *    shorthand ("10.1", "0x0a.0.0.1").
 *  - IPv6 is whatever inet_pton(AF_INET6) accepts after a charset check
 *    (hex digits, ':' and '.' for an embedded IPv4 tail): no zone ids
 *    ("%eth0"), no brackets.
 *  - IPv4-mapped IPv6 ("::ffff:192.0.2.1") is stored as IPv6 as written. It
 *    only matches IPv6 packets carrying that address; it does not allow the
 *    IPv4 client 192.0.2.1 (write the IPv4 form for that).
 *  - Prefix lengths are decimal without leading zeros, 0..32 or 0..128.
 *  - Host bits beyond the prefix are an error ("10.0.0.1/8").
 *  - A NUL byte anywhere is an error (a binary or corrupt file).
 *  - Options after the CIDR: rate=N/s burst=N syn=N/s syn_burst=N, each at
 *    most once, N decimal 1..ALLOWLIST_MAX_RATE without leading zeros; a
 *    rate needs its "/s". Anything else is an error naming the option.
 * Lines may end in LF or CRLF; the last line need not end in a newline.
 */
#include "config/allowlist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/file.h"

/* Upper bounds that keep an absurd input from exhausting memory. */
#define AL_MAX_ENTRIES (1u << 24)
#define AL_MAX_FILE (256u << 20)
/* Offending text is quoted in messages up to this many input bytes. */
#define AL_QUOTE_MAX 80

/* ---- error buffer: whole lines, '\n'-separated ---------------------------- */

struct errbuf {
	char *buf;
	size_t len, cap;	/* cap: bytes usable including the NUL */
	unsigned int n, dropped;
};

static void errbuf_init(struct errbuf *eb, char *buf, size_t cap)
{
	eb->buf = buf;
	eb->cap = buf ? cap : 0;
	eb->len = 0;
	eb->n = 0;
	eb->dropped = 0;
	if (eb->cap)
		buf[0] = '\0';
}

/* Append one line; a line that does not fit whole is counted, not cut,
 * except the first one, which is truncated rather than lost. */
static void errbuf_add(struct errbuf *eb, const char *line)
{
	size_t l = strlen(line), need = l + (eb->n ? 1 : 0);

	if (!eb->cap) {
		eb->n++;
		return;
	}
	if (eb->n && eb->len + need + 1 > eb->cap) {
		eb->dropped++;
		eb->n++;
		return;
	}
	if (eb->n)
		eb->buf[eb->len++] = '\n';
	if (eb->len + l + 1 > eb->cap)
		l = eb->cap - eb->len - 1;
	memcpy(eb->buf + eb->len, line, l);
	eb->len += l;
	eb->buf[eb->len] = '\0';
	eb->n++;
}

static void errbuf_finish(struct errbuf *eb, const char *name)
{
	char tail[128];

	if (!eb->dropped || !eb->cap)
		return;
	for (;;) {
		char *nl;

		snprintf(tail, sizeof(tail), "%s: %u more error(s) not shown",
			 name, eb->dropped);
		if (eb->len + strlen(tail) + 2 <= eb->cap)
			break;
		/* make room by dropping whole lines from the end */
		nl = eb->len ? memrchr(eb->buf, '\n', eb->len) : NULL;
		if (!nl)
			return;
		eb->len = (size_t)(nl - eb->buf);
		eb->buf[eb->len] = '\0';
		eb->dropped++;
	}
	eb->buf[eb->len++] = '\n';
	memcpy(eb->buf + eb->len, tail, strlen(tail) + 1);
	eb->len += strlen(tail);
}

/* Quote s[0..n) for a message: printable ASCII as is, the rest as \xNN,
 * cut at AL_QUOTE_MAX input bytes with "...". */
static void quote_text(char *out, size_t outlen, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	if (!outlen)
		return;
	for (i = 0; i < n && i < AL_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 2 > outlen)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 5 > outlen)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (i < n && o + 4 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void set_err(char *err, size_t errlen, const char *msg, const char *text,
		    size_t text_len)
{
	char q[AL_QUOTE_MAX * 4 + 8];

	if (!err || !errlen)
		return;
	quote_text(q, sizeof(q), text, text_len);
	snprintf(err, errlen, "%s: '%s'", msg, q);
}

/* ---- addresses ------------------------------------------------------------ */

static int parse_v4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t start = i;
		unsigned int v = 0;

		if (part) {
			if (i >= n || s[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (i - start == 3)
				return -1;
			v = v * 10 + (unsigned int)(s[i] - '0');
			i++;
		}
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return -1;
		out[part] = (uint8_t)v;
	}
	return i == n ? 0 : -1;
}

static int parse_v6(const char *s, size_t n, uint8_t out[16])
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return -1;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1 ? 0 : -1;
}

static void mask_addr(uint8_t *addr, unsigned int bytes, unsigned int plen)
{
	for (unsigned int i = 0; i < bytes; i++) {
		unsigned int bit = i * 8;

		if (bit >= plen)
			addr[i] = 0;
		else if (plen - bit < 8)
			addr[i] &= (uint8_t)(0xff00u >> (plen - bit));
	}
}

/* Parse text[0..n) (no NUL inside). */
static int parse_cidr_n(const char *text, size_t n, struct allowlist_entry *e,
			char *err, size_t errlen)
{
	const char *slash = memchr(text, '/', n);
	size_t alen = slash ? (size_t)(slash - text) : n;
	struct allowlist_entry tmp;
	unsigned int maxlen, plen;
	char msg[96];

	memset(&tmp, 0, sizeof(tmp));
	if (memchr(text, ':', alen)) {
		tmp.family = AF_INET6;
		maxlen = 128;
		if (parse_v6(text, alen, tmp.addr))
			goto bad_addr;
	} else {
		tmp.family = AF_INET;
		maxlen = 32;
		if (parse_v4(text, alen, tmp.addr))
			goto bad_addr;
	}

	plen = maxlen;
	if (slash) {
		const char *p = slash + 1;
		size_t plen_len = n - alen - 1;

		if (plen_len == 0) {
			set_err(err, errlen, "missing prefix length", text, n);
			return -EINVAL;
		}
		plen = 0;
		for (size_t i = 0; i < plen_len; i++) {
			if (p[i] < '0' || p[i] > '9' || i == 3 ||
			    (i == 1 && p[0] == '0')) {
				set_err(err, errlen, "invalid prefix length",
					text, n);
				return -EINVAL;
			}
			plen = plen * 10 + (unsigned int)(p[i] - '0');
		}
		if (plen > maxlen) {
			snprintf(msg, sizeof(msg),
				 "prefix length out of range (0-%u)", maxlen);
			set_err(err, errlen, msg, text, n);
			return -EINVAL;
		}
	}
	tmp.prefixlen = (uint8_t)plen;

	{
		struct allowlist_entry net = tmp;
		char fmt[INET6_ADDRSTRLEN + 8];

		mask_addr(net.addr, maxlen / 8, plen);
		if (memcmp(net.addr, tmp.addr, sizeof(tmp.addr))) {
			allowlist_format(&net, fmt, sizeof(fmt));
			snprintf(msg, sizeof(msg),
				 "host bits set (did you mean %s?)", fmt);
			set_err(err, errlen, msg, text, n);
			return -EINVAL;
		}
	}
	/* e->line is the caller's */
	e->family = tmp.family;
	e->prefixlen = tmp.prefixlen;
	memcpy(e->addr, tmp.addr, sizeof(e->addr));
	return 0;

bad_addr:
	set_err(err, errlen, "invalid address", text, n);
	return -EINVAL;
}

int allowlist_parse_cidr(const char *text, struct allowlist_entry *e,
			 char *err, size_t errlen)
{
	return parse_cidr_n(text, strlen(text), e, err, errlen);
}

void allowlist_format(const struct allowlist_entry *e, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!len)
		return;
	if ((e->family != AF_INET && e->family != AF_INET6) ||
	    !inet_ntop(e->family, e->addr, a, sizeof(a))) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%s/%u", a, e->prefixlen);
}

/* ---- files ---------------------------------------------------------------- */

static int al_reserve(struct allowlist *al, size_t want)
{
	struct allowlist_entry *p;
	size_t cap;

	if (want <= al->cap)
		return 0;
	cap = al->cap ? al->cap : 16;
	while (cap < want)
		cap *= 2;
	p = realloc(al->entries, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	al->entries = p;
	al->cap = cap;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool parse_u32_dec(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

int allowlist_parse_rate(const char *text, size_t n, uint32_t *out)
{
	if (n < 3 || text[n - 2] != '/' || text[n - 1] != 's')
		return -EINVAL;
	return parse_u32_dec(text, n - 2, ALLOWLIST_MAX_RATE, out) ? 0
								   : -EINVAL;
}

int allowlist_has_options(const struct allowlist_entry *e)
{
	return e->rate || e->burst || e->syn || e->syn_burst;
}

/* One "name=value" option o[0..n) into e. 0 or -EINVAL with msg set. */
static int parse_option(const char *o, size_t n, struct allowlist_entry *e,
			unsigned int flags, char *msg, size_t msglen)
{
	static const struct {
		const char *name;
		bool is_rate;
		size_t off;
	} opts[] = {
		{ "rate", true, offsetof(struct allowlist_entry, rate) },
		{ "burst", false, offsetof(struct allowlist_entry, burst) },
		{ "syn", true, offsetof(struct allowlist_entry, syn) },
		{ "syn_burst", false, offsetof(struct allowlist_entry, syn_burst) },
	};
	const char *eq = memchr(o, '=', n);
	size_t nlen = eq ? (size_t)(eq - o) : n;
	char m[160];

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		uint32_t *field, v;
		const char *val;
		size_t vlen;

		if (nlen != strlen(opts[i].name) || memcmp(o, opts[i].name, nlen))
			continue;
		if (flags & ALLOWLIST_NO_OPTIONS) {
			set_err(msg, msglen,
				"options are not allowed in a denylist", o, n);
			return -EINVAL;
		}
		field = (uint32_t *)((char *)e + opts[i].off);
		if (!eq) {
			snprintf(m, sizeof(m), "option %s needs a value (%s=%s)",
				 opts[i].name, opts[i].name,
				 opts[i].is_rate ? "N/s" : "N");
			set_err(msg, msglen, m, o, n);
			return -EINVAL;
		}
		if (*field) {
			snprintf(m, sizeof(m), "option %s given twice",
				 opts[i].name);
			set_err(msg, msglen, m, o, n);
			return -EINVAL;
		}
		val = eq + 1;
		vlen = n - nlen - 1;
		if (opts[i].is_rate ? allowlist_parse_rate(val, vlen, &v) != 0
				    : !parse_u32_dec(val, vlen, ALLOWLIST_MAX_RATE,
						     &v)) {
			snprintf(m, sizeof(m),
				 "invalid %s (want %s with N from 1 to %u)",
				 opts[i].name, opts[i].is_rate ? "N/s" : "N",
				 ALLOWLIST_MAX_RATE);
			set_err(msg, msglen, m, o, n);
			return -EINVAL;
		}
		*field = v;
		return 0;
	}
	set_err(msg, msglen, "unknown option", o, n);
	return -EINVAL;
}

/* One line (without its terminator). Returns 1 if an entry was added to
 * *e, 0 if blank, -EINVAL with msg set. */
static int parse_line(const char *s, size_t n, struct allowlist_entry *e,
		      unsigned int flags, char *msg, size_t msglen)
{
	const char *hash, *tok, *end;
	size_t i = 0, tlen;

	if (memchr(s, '\0', n)) {
		set_err(msg, msglen, "NUL byte in line", s, n);
		return -EINVAL;
	}
	hash = memchr(s, '#', n);
	if (hash)
		n = (size_t)(hash - s);
	while (n && is_blank(s[n - 1]))
		n--;
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n)
		return 0;

	tok = s + i;
	end = tok;
	while (end < s + n && !is_blank(*end))
		end++;
	tlen = (size_t)(end - tok);
	if (parse_cidr_n(tok, tlen, e, msg, msglen))
		return -EINVAL;

	/* anything after the CIDR is an option */
	for (;;) {
		const char *o;

		while (end < s + n && is_blank(*end))
			end++;
		if (end == s + n)
			break;
		o = end;
		while (end < s + n && !is_blank(*end))
			end++;
		if (parse_option(o, (size_t)(end - o), e, flags, msg, msglen))
			return -EINVAL;
	}
	return 1;
}

int allowlist_parse(const char *name, const char *buf, size_t len,
		    struct allowlist *al, char *err, size_t errlen)
{
	return allowlist_parse_flags(name, buf, len, al, 0, err, errlen);
}

int allowlist_parse_flags(const char *name, const char *buf, size_t len,
			  struct allowlist *al, unsigned int flags, char *err,
			  size_t errlen)
{
	size_t n0 = al->n, pos = 0;
	uint32_t lineno = 0;
	struct errbuf eb;
	int ret = 0;

	if (!name)
		name = "allowlist";
	errbuf_init(&eb, err, errlen);

	while (pos < len) {
		const char *line = buf + pos, *nl;
		size_t n = len - pos;
		struct allowlist_entry e;
		char msg[AL_QUOTE_MAX * 4 + 128];
		int r;

		nl = memchr(line, '\n', n);
		if (nl) {
			n = (size_t)(nl - line);
			pos += n + 1;
		} else {
			pos = len;
		}
		if (n && line[n - 1] == '\r')
			n--;
		if (lineno < UINT32_MAX)
			lineno++;

		memset(&e, 0, sizeof(e));
		e.line = lineno;
		r = parse_line(line, n, &e, flags, msg, sizeof(msg));
		if (r < 0) {
			char full[sizeof(msg) + 64 + PATH_MAX];

			snprintf(full, sizeof(full), "%s:%u: %s", name, lineno,
				 msg);
			errbuf_add(&eb, full);
			continue;
		}
		if (r == 0 || eb.n)
			continue;	/* after an error only keep checking */
		if (al->n - n0 >= AL_MAX_ENTRIES) {
			char full[PATH_MAX + 64];

			snprintf(full, sizeof(full),
				 "%s:%u: too many entries (max %u)", name,
				 lineno, AL_MAX_ENTRIES);
			errbuf_add(&eb, full);
			break;
		}
		if (al_reserve(al, al->n + 1)) {
			ret = -ENOMEM;
			break;
		}
		al->entries[al->n++] = e;
	}

	if (!ret && eb.n)
		ret = -EINVAL;
	if (ret) {
		al->n = n0;
		if (ret == -ENOMEM && err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		else
			errbuf_finish(&eb, name);
		return ret;
	}
	return (int)(al->n - n0);
}

int allowlist_load_file(const char *path, struct allowlist *al, char *err,
			size_t errlen)
{
	return allowlist_load_file_flags(path, al, 0, err, errlen);
}

int allowlist_load_file_flags(const char *path, struct allowlist *al,
			      unsigned int flags, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int ret;

	ret = file_read_all(path, AL_MAX_FILE, &buf, &len);
	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = allowlist_parse_flags(path, buf, len, al, flags, err, errlen);
	free(buf);
	return ret;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct allowlist_entry *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	if (x->prefixlen != y->prefixlen)
		return x->prefixlen < y->prefixlen ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return 0;
}

void allowlist_normalize(struct allowlist *al)
{
	size_t o = 0;

	if (al->n < 2)
		return;
	qsort(al->entries, al->n, sizeof(al->entries[0]), entry_cmp);
	for (size_t i = 0; i < al->n; i++) {
		const struct allowlist_entry *e = &al->entries[i];

		if (o && al->entries[o - 1].family == e->family &&
		    al->entries[o - 1].prefixlen == e->prefixlen &&
		    !memcmp(al->entries[o - 1].addr, e->addr, sizeof(e->addr)))
			continue;
		al->entries[o++] = *e;
	}
	al->n = o;
}

void allowlist_free(struct allowlist *al)
{
	free(al->entries);
	al->entries = NULL;
	al->n = al->cap = 0;
}
