// SPDX-License-Identifier: MIT
/*
 * The request of `sluiced --check --explain "METHOD URL" [-H "Name: v"]`,
 * parsed into what the router looks at. Pure: the caller prints.
 */
#include "policy/router_int.h"

#include <string.h>

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool ci_prefix(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (n < l)
		return false;
	for (size_t i = 0; i < l; i++) {
		char c = s[i];

		if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != lit[i])
			return false;
	}
	return true;
}

int router_parse_explain(const char *line, const char *const *hlines,
			 size_t n_hlines, unsigned int flags, char *pathbuf,
			 size_t cap, struct http_header *hdrs, size_t max,
			 struct router_req *q, const char **err)
{
	const char *s = line, *e, *u, *ue, *p, *pe;
	long n;

	memset(q, 0, sizeof(*q));
	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s; tchar(*e); e++)
		;
	if (e == s || (*e != ' ' && *e != '\t')) {
		*err = "expected \"METHOD URL\" (e.g. \"GET https://api.example.com/v1/x\")";
		return -1;
	}
	q->method = s;
	q->method_len = (size_t)(e - s);
	for (u = e; *u == ' ' || *u == '\t'; u++)
		;
	for (ue = u; *ue && *ue != ' ' && *ue != '\t' && *ue != '#'; ue++)
		;
	for (const char *t = ue; *t; t++) {
		if (*t == '#')
			break;
		if (*t != ' ' && *t != '\t') {
			*err = "unexpected text after the URL";
			return -1;
		}
	}
	p = u;
	if (ci_prefix(u, (size_t)(ue - u), "http://") ||
	    ci_prefix(u, (size_t)(ue - u), "https://")) {
		const char *a = strstr(u, "//") + 2, *ae = a;

		while (ae < ue && *ae != '/' && *ae != '?')
			ae++;
		if (ae == a) {
			*err = "the URL has no host";
			return -1;
		}
		q->host = a;
		q->host_len = (size_t)(ae - a);
		p = ae;
	} else if (*u != '/') {
		*err = "the URL must be absolute (http://host/path) or start with '/'";
		return -1;
	}
	for (pe = p; pe < ue && *pe != '?'; pe++)
		;
	if (pe < ue) {
		q->query = pe + 1;
		q->query_len = (size_t)(ue - pe - 1);
	}
	if (pe == p) {			/* "http://h" or "http://h?q" */
		if (cap < 1) {
			*err = "path too long";
			return -1;
		}
		pathbuf[0] = '/';
		n = 1;
	} else {
		if ((size_t)(pe - p) > cap) {
			*err = "path too long";
			return -1;
		}
		n = http_path_normalize(pathbuf, p, (size_t)(pe - p), flags, err);
		if (n < 0)
			return -1;
	}
	q->path = pathbuf;
	q->path_len = (size_t)n;
	if (n_hlines > max) {
		*err = "too many headers";
		return -1;
	}
	for (size_t i = 0; i < n_hlines; i++) {
		const char *h = hlines[i], *c = strchr(h, ':'), *v, *ve;

		if (!c || c == h) {
			*err = "a header must be \"Name: value\"";
			return -1;
		}
		for (const char *t = h; t < c; t++) {
			if (!tchar(*t)) {
				*err = "invalid header name";
				return -1;
			}
		}
		for (v = c + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (ve = v + strlen(v); ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		hdrs[i] = (struct http_header){ .name = h,
						.name_len = (size_t)(c - h),
						.value = v,
						.value_len = (size_t)(ve - v) };
		/* origin-form: the Host header names the host */
		if (!q->host && p == u && http_token_eq(h, (size_t)(c - h), "host")) {
			q->host = v;
			q->host_len = (size_t)(ve - v);
		}
	}
	q->headers = hdrs;
	q->n_headers = n_hlines;
	return 0;
}
