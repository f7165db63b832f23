// SPDX-License-Identifier: MIT
/*
 * Routing: the conditions of one route against one request, and the
 * reference answer -- one scan of every route, keeping the greatest by the
 * precedence rules of router.h. router_index.c gives the same answer from
 * an index; the unit tests and the fuzzer hold the two to that.
 */
#include "policy/router_int.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

static uint32_t method_bit(const char *m, size_t n)
{
	static const struct {
		const char *name;
		size_t len;
		uint32_t bit;
	} methods[] = {
		{ "GET", 3, CFG_M_GET },	 { "HEAD", 4, CFG_M_HEAD },
		{ "POST", 4, CFG_M_POST },	 { "PUT", 3, CFG_M_PUT },
		{ "DELETE", 6, CFG_M_DELETE },	 { "PATCH", 5, CFG_M_PATCH },
		{ "OPTIONS", 7, CFG_M_OPTIONS },
	};

	if (!m)
		return CFG_M_OTHER;
	/* methods are case-sensitive (RFC 9110 9.1) */
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (n == methods[i].len && !memcmp(m, methods[i].name, n))
			return methods[i].bit;
	return CFG_M_OTHER;
}

void router_req_from_http(struct router_req *q, const struct http_request *r)
{
	size_t pl = r->path ? (size_t)(r->path - r->target) + r->path_len : 0;

	memset(q, 0, sizeof(*q));
	q->host = r->host;
	q->host_len = r->host_len;
	q->method = r->method;
	q->method_len = r->method_len;
	q->path = r->path;
	q->path_len = r->path_len;
	if (r->path && pl < r->target_len && r->target[pl] == '?') {
		q->query = r->target + pl + 1;
		q->query_len = r->target_len - pl - 1;
	}
	q->headers = r->headers;
	q->n_headers = r->num_headers;
}

void router__prep(struct router_prep *p, const struct router_req *q)
{
	p->q = q;
	p->mbit = method_bit(q->method, q->method_len);
	p->host_len = q->host ? http_host_normalize(p->host, sizeof(p->host),
						    q->host, q->host_len) : -1;
}

/* ---- conditions ----------------------------------------------------------- */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* name (lower-case, from config) equals the field name, case-insensitively */
static bool name_eq(const char *lc, size_t n, const char *s, size_t sl)
{
	if (n != sl)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lc[i] != lower((unsigned char)s[i]))
			return false;
	return true;
}

static bool one_of(const struct config_match *m, const char *v, size_t n)
{
	for (size_t i = 0; i < m->n_values; i++)
		if (m->value_lens[i] == n && !memcmp(m->values[i], v, n))
			return true;
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)lower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * application/x-www-form-urlencoded decoding of s[0..n): '+' is a space,
 * "%XX" a byte, a '%' not followed by two hex digits itself. Returns the
 * decoded length, or -1 when it is longer than cap.
 */
static long form_decode(char *dst, size_t cap, const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
			   hexval(s[i + 2]) >= 0) {
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (w == cap)
			return -1;
		dst[w++] = c;
	}
	return (long)w;
}

/* Every field named m->name has one of its values, and there is one. */
static bool header_ok(const struct config_match *m, const struct router_req *q,
		      char *why, size_t len)
{
	bool seen = false;

	for (size_t i = 0; i < q->n_headers; i++) {
		const struct http_header *h = &q->headers[i];

		if (!name_eq(m->name, m->name_len, h->name, h->name_len))
			continue;
		if (!one_of(m, h->value, h->value_len)) {
			if (why)
				snprintf(why, len, "header %s: '%.*s' is not an accepted value",
					 m->name, (int)(h->value_len > 40 ? 40 : h->value_len),
					 h->value);
			return false;
		}
		seen = true;
	}
	if (!seen && why)
		snprintf(why, len, "header %s: absent", m->name);
	return seen;
}

/* Every parameter whose decoded name is m->name has, decoded, one of its
 * values, and there is one. */
static bool query_ok(const struct config_match *m, const struct router_req *q,
		     char *why, size_t len)
{
	const char *s = q->query, *end = q->query ? q->query + q->query_len : NULL;
	char name[130], val[260];
	bool seen = false;

	while (s && s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(pe - s));
		const char *ne = eq ? eq : pe;
		long nl = form_decode(name, sizeof(name), s, (size_t)(ne - s));
		long vl;

		if (nl == (long)m->name_len && !memcmp(name, m->name, m->name_len)) {
			vl = eq ? form_decode(val, sizeof(val), eq + 1,
					      (size_t)(pe - eq - 1)) : 0;
			if (vl < 0 || !one_of(m, val, (size_t)vl)) {
				if (why)
					snprintf(why, len, "query %s: '%.*s' is not an accepted value",
						 m->name, vl < 0 ? 3 : (int)(vl > 40 ? 40 : vl),
						 vl < 0 ? "..." : val);
				return false;
			}
			seen = true;
		}
		s = amp ? amp + 1 : end;
	}
	if (!seen && why)
		snprintf(why, len, "query %s: absent", m->name);
	return seen;
}

bool router__conds(const struct config_route *r, const struct router_prep *p,
		   char *why, size_t len)
{
	if (r->methods && !(r->methods & p->mbit)) {
		if (why)
			snprintf(why, len, "method %.*s not in methods",
				 (int)(p->q->method_len > 16 ? 16 : p->q->method_len),
				 p->q->method ? p->q->method : "");
		return false;
	}
	for (size_t i = 0; i < r->n_headers; i++)
		if (!header_ok(&r->headers[i], p->q, why, len))
			return false;
	for (size_t i = 0; i < r->n_query; i++)
		if (!query_ok(&r->query[i], p->q, why, len))
			return false;
	return true;
}

/*
 * regexec() wants a C string (glibc's REG_STARTEND would do without, but
 * sanitizer interceptors still strlen() it): the path is copied, and a
 * path longer than ROUTER_REGEX_PATH_MAX matches no path_regex.
 */
bool router__regex(const struct config_route *r, const char *path, size_t len)
{
	char buf[ROUTER_REGEX_PATH_MAX + 1];

	if (len > ROUTER_REGEX_PATH_MAX)
		return false;
	if (len)
		memcpy(buf, path, len);
	buf[len] = '\0';
	return regexec(r->regex, buf, 0, NULL, 0) == 0;
}

/* ---- the reference scan --------------------------------------------------- */

/* Where a matching route ranks: compared field by field, greater wins. */
struct rank {
	int host;		/* 2 exact, 1 wildcard, 0 any host */
	size_t host_spec;	/* wildcard suffix length */
	int path;		/* 2 exact, 1 prefix, 0 regex */
	long path_spec;		/* prefix length; regex: -(pattern's first
				 * route) */
};

/* Host rank of r (false: no host of r matches). */
static bool host_rank(const struct config_route *r,
		      const struct router_prep *p, struct rank *k)
{
	k->host = 0;
	k->host_spec = 0;
	if (!r->n_hosts)
		return true;
	if (p->host_len < 0)
		return false;
	for (size_t i = 0; i < r->n_hosts; i++) {
		const char *h = r->hosts[i];
		size_t hl = strlen(h), hn = (size_t)p->host_len;

		if (h[0] == '*') {
			size_t sl = hl - 1;	/* ".suffix" */

			if (hn > sl && router__wild_ok(p->host, hn, hn - sl) &&
			    !memcmp(p->host + hn - sl, h + 1, sl) &&
			    k->host < 2 && sl > k->host_spec) {
				k->host = 1;
				k->host_spec = sl;
			}
		} else if (hl == hn && !memcmp(h, p->host, hn)) {
			k->host = 2;
		}
	}
	return k->host > 0;
}

static long regex_group(const struct config *c, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (c->routes[j].path_kind == CFG_PATH_REGEX &&
		    !strcmp(c->routes[j].path_regex, c->routes[i].path_regex))
			return -(long)j;
	return -(long)i;
}

static bool path_rank(const struct config *c, size_t i,
		      const struct router_req *q, struct rank *k)
{
	const struct config_route *r = &c->routes[i];

	switch (r->path_kind) {
	case CFG_PATH_EXACT:
		k->path = 2;
		k->path_spec = 0;
		return q->path_len == r->path_exact_len &&
		       !memcmp(q->path, r->path_exact, q->path_len);
	case CFG_PATH_REGEX:
		k->path = 0;
		if (!router__regex(r, q->path, q->path_len))
			return false;
		k->path_spec = regex_group(c, i);
		return true;
	default:
		k->path = 1;
		k->path_spec = (long)r->path_prefix_len;
		return r->path_prefix_len <= q->path_len &&
		       !memcmp(r->path_prefix, q->path, r->path_prefix_len);
	}
}

/* <0, 0, >0: a ranks below, with, above b (rules 1-2) */
static int rank_cmp(const struct rank *a, const struct rank *b)
{
	if (a->host != b->host)
		return a->host - b->host;
	if (a->host_spec != b->host_spec)
		return a->host_spec > b->host_spec ? 1 : -1;
	if (a->path != b->path)
		return a->path - b->path;
	if (a->path_spec != b->path_spec)
		return a->path_spec > b->path_spec ? 1 : -1;
	return 0;
}

static bool route_verdict(const struct config *c, size_t i,
			  const struct router_prep *p, struct rank *k,
			  char *why, size_t len)
{
	const struct config_route *r = &c->routes[i];

	if (!host_rank(r, p, k)) {
		if (why)
			snprintf(why, len, p->host_len < 0 ?
				 "host: the request has none this route accepts" :
				 "host: '%.*s' is none of this route's hosts",
				 (int)(p->host_len > 64 ? 64 : p->host_len),
				 p->host);
		return false;
	}
	if (!path_rank(c, i, p->q, k)) {
		if (why)
			snprintf(why, len, "path: '%.*s' does not match %s %.80s",
				 (int)(p->q->path_len > 64 ? 64 : p->q->path_len),
				 p->q->path ? p->q->path : "",
				 r->path_kind == CFG_PATH_EXACT ? "path_exact" :
				 r->path_kind == CFG_PATH_REGEX ? "path_regex" :
				 "path_prefix",
				 r->path_kind == CFG_PATH_EXACT ? r->path_exact :
				 r->path_kind == CFG_PATH_REGEX ? r->path_regex :
				 r->path_prefix);
		return false;
	}
	return router__conds(r, p, why, len);
}

static int scan(const struct config *c, const struct router_req *q,
		struct router_verdict *v)
{
	struct router_prep p;
	struct rank best = { 0 }, k;
	int win = -1;

	if (!c)
		return -1;
	router__prep(&p, q);
	for (size_t i = 0; i < c->n_routes; i++) {
		bool ok = route_verdict(c, i, &p, &k, v ? v[i].why : NULL,
					v ? sizeof(v[i].why) : 0);
		int d;

		if (v)
			v[i].match = ok;
		if (!ok)
			continue;
		if (v)
			snprintf(v[i].why, sizeof(v[i].why),
				 "host %s, path %s, %u condition(s), priority %lld",
				 k.host == 2 ? "exact" : k.host ? "wildcard" : "any",
				 k.path == 2 ? "exact" : k.path ? "prefix" : "regex",
				 router__ncond(&c->routes[i]), c->routes[i].priority);
		d = win < 0 ? 1 : rank_cmp(&k, &best);
		if (d > 0 || (d == 0 && router__tie_before(c->routes, i, (size_t)win))) {
			win = (int)i;
			best = k;
		}
	}
	return win;
}

int router_lookup_linear(const struct config *c, const struct router_req *q)
{
	return scan(c, q, NULL);
}

int router_explain(const struct config *c, const struct router_req *q,
		   struct router_verdict *v)
{
	return scan(c, q, v);
}

void router_why_before(const struct config *c, const struct router_req *q,
		       size_t a, size_t b, char *buf, size_t len)
{
	const struct config_route *ra = &c->routes[a], *rb = &c->routes[b];
	static const char *const hn[] = { "any host", "a wildcard host",
					  "an exact host" };
	static const char *const pn[] = { "a regex path", "a path prefix",
					  "an exact path" };
	struct router_prep p;
	struct rank ka, kb;

	router__prep(&p, q);
	host_rank(ra, &p, &ka);
	host_rank(rb, &p, &kb);
	path_rank(c, a, q, &ka);
	path_rank(c, b, q, &kb);
	if (ka.host != kb.host)
		snprintf(buf, len, "rule 1: %s beats %s", hn[ka.host], hn[kb.host]);
	else if (ka.host_spec != kb.host_spec)
		snprintf(buf, len, "rule 1: a longer wildcard suffix (%zu > %zu bytes)",
			 ka.host_spec, kb.host_spec);
	else if (ka.path != kb.path)
		snprintf(buf, len, "rule 2: %s beats %s", pn[ka.path], pn[kb.path]);
	else if (ka.path_spec != kb.path_spec)
		snprintf(buf, len, ka.path == 1 ?
			 "rule 2: a longer path prefix (%ld > %ld bytes)" :
			 "rule 2: an earlier regex (route %ld before %ld)",
			 ka.path == 1 ? ka.path_spec : -ka.path_spec,
			 ka.path == 1 ? kb.path_spec : -kb.path_spec);
	else if (router__ncond(ra) != router__ncond(rb))
		snprintf(buf, len, "rule 3: more conditions (%u > %u)",
			 router__ncond(ra), router__ncond(rb));
	else if (ra->priority != rb->priority)
		snprintf(buf, len, "rule 4: higher priority (%lld > %lld)",
			 ra->priority, rb->priority);
	else
		snprintf(buf, len, "rule 5: earlier in the file (line %u < %u)",
			 ra->line, rb->line);
}

int router_lookup(const struct config *c, const struct router_req *q);

int router_match(const struct config *c, const char *host, size_t host_len,
		 const char *method, size_t method_len, const char *path,
		 size_t path_len)
{
	struct router_req q = {
		.host = host, .host_len = host_len,
		.method = method, .method_len = method_len,
		.path = path, .path_len = path_len,
	};

	if (!c || (!path && path_len))
		return -1;
	return router_lookup(c, &q);
}
