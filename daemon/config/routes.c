// SPDX-License-Identifier: MIT
/*
 * Configuration: the value types of a route's match and rewrite keys
 * (hosts, path_regex, headers, query) and the checks that need a whole
 * route (which path key, rewrite conflicts) or every route (two routes with
 * the same conditions). The setters that use them are in setters.c, the
 * rows in config_keys.c; the matching itself is policy/router.c.
 */
#include "config/config_int.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

/* ---- hosts ----------------------------------------------------------------- */

/*
 * A route host: a DNS name or IP literal, or "*.name" (a wildcard: one or
 * more labels before ".name", never "name" itself). Stored normalised
 * (http_host_normalize: lower-case, no trailing '.', canonical IPv6).
 */
bool cfg_get_host_pattern(struct pctx *p, const yaml_node_t *n,
			  const char *path, const char *s, size_t len,
			  char **out)
{
	char b[256], norm[300];
	size_t off = 0;
	long l;

	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		off = 2;
	} else if (memchr(s, '*', len)) {
		cfg_err_at(p, n, path,
			   "a wildcard must be the whole leftmost label ('*.example.com'): %s",
			   cfg_qv(n, b, sizeof(b)));
		return false;
	}
	if (off && (len == off || memchr(s + off, '*', len - off) ||
		    s[off] == '[' || s[off] == '.')) {
		cfg_err_at(p, n, path,
			   "a wildcard must be the whole leftmost label of a DNS name ('*.example.com'): %s",
			   cfg_qv(n, b, sizeof(b)));
		return false;
	}
	if (!cfg_get_host(p, n, path, s + off, len - off))
		return false;
	for (size_t i = off; i + 1 < len; i++) {
		if (s[i] == '.' && s[i + 1] == '.') {
			cfg_err_at(p, n, path, "empty label in host %s",
				   cfg_qv(n, b, sizeof(b)));
			return false;
		}
	}
	if (s[off] == '.') {
		cfg_err_at(p, n, path, "empty label in host %s",
			   cfg_qv(n, b, sizeof(b)));
		return false;
	}
	memcpy(norm, "*.", off);
	l = http_host_normalize(norm + off, sizeof(norm) - off - 1, s + off,
				len - off);
	if (l <= 0) {
		cfg_err_at(p, n, path, "invalid host %s", cfg_qv(n, b, sizeof(b)));
		return false;
	}
	*out = strndup(norm, off + (size_t)l);
	if (!*out)
		p->oom = true;
	return *out != NULL;
}

/* ---- path_regex ------------------------------------------------------------ */

/*
 * What would make a pattern unsafe to wrap in "^(...)$" or costly to run:
 * an unmatched ')' (it would close the wrapping group), a back-reference
 * (glibc accepts them in ERE; they need backtracking), or counted
 * repetitions that copy the pattern more than 256 times in all (glibc
 * expands {m,n} into copies). NULL when none.
 */
static const char *regex_unsafe(const char *s, size_t n)
{
	unsigned long copies = 1;
	int depth = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\') {
			if (i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
				return "back-references (\\1 ... \\9) are not allowed";
			i++;
		} else if (c == '[') {
			size_t j = i + 1;

			if (j < n && s[j] == '^')
				j++;
			if (j < n && s[j] == ']')
				j++;
			while (j < n && s[j] != ']') {
				if (s[j] == '[' && j + 1 < n &&
				    (s[j + 1] == ':' || s[j + 1] == '.' ||
				     s[j + 1] == '=')) {
					char d = s[j + 1];

					j += 2;
					while (j + 1 < n &&
					       !(s[j] == d && s[j + 1] == ']'))
						j++;
					j++;
				}
				j++;
			}
			i = j;		/* regcomp reports an open '[' */
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (depth == 0)
				return "unmatched ')'";
			depth--;
		} else if (c == '{') {
			unsigned long lo = 0, hi = 0;
			size_t j = i + 1;
			bool comma = false, has_hi = false;

			while (j < n && s[j] >= '0' && s[j] <= '9' && lo < 100000)
				lo = lo * 10 + (unsigned long)(s[j++] - '0');
			if (j < n && s[j] == ',') {
				comma = true;
				j++;
				while (j < n && s[j] >= '0' && s[j] <= '9' &&
				       hi < 100000) {
					hi = hi * 10 + (unsigned long)(s[j++] - '0');
					has_hi = true;
				}
			}
			if (!comma)
				hi = lo;
			else if (!has_hi)
				hi = lo + 1;
			copies *= hi ? hi : 1;
			if (copies > 256)
				return "counted repetitions ({m,n}) copy the pattern more than 256 times in all";
		}
	}
	return NULL;
}

bool cfg_get_regex(struct pctx *p, const yaml_node_t *n, const char *path,
		   const char *s, size_t len, void **out)
{
	char b[256], text[CONFIG_MAX_REGEX + 8], msg[256];
	const char *why = regex_unsafe(s, len);
	regex_t *re;
	int rc;

	if (why) {
		cfg_err_at(p, n, path, "invalid regular expression %s: %s",
			   cfg_qv(n, b, sizeof(b)), why);
		return false;
	}
	re = calloc(1, sizeof(*re));
	if (!re) {
		p->oom = true;
		return false;
	}
	snprintf(text, sizeof(text), "^(%.*s)$", (int)len, s);
	rc = regcomp(re, text, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, re, msg, sizeof(msg));
		cfg_err_at(p, n, path, "invalid regular expression %s: %s",
			   cfg_qv(n, b, sizeof(b)), msg);
		free(re);
		return false;
	}
	*out = re;
	return true;
}

void cfg_regex_free(void *re)
{
	if (re) {
		regfree(re);
		free(re);
	}
}

/* ---- headers: and query: ---------------------------------------------------- */

#define MATCH_MAX_VALUES 16
#define MATCH_MAX_VALUE 256

static bool match_value(struct pctx *p, const yaml_node_t *n,
			const char *path, struct config_match *m)
{
	const char *s;
	size_t len;
	char *d;

	if (!cfg_get_str(p, n, path, &s, &len))
		return false;
	if (len > MATCH_MAX_VALUE) {
		cfg_err_at(p, n, path, "too long (%zu characters, max %d)",
			   len, MATCH_MAX_VALUE);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			cfg_err_at(p, n, path, "control character in value");
			return false;
		}
	}
	d = strndup(s, len);
	if (!d) {
		p->oom = true;
		return false;
	}
	m->values[m->n_values] = d;
	m->value_lens[m->n_values++] = len;
	return true;
}

/*
 * One "name: value" or "name: [values]" of a headers: or query: mapping
 * (header: names are checked as tokens and lower-cased).
 */
bool cfg_get_match(struct pctx *p, const yaml_node_t *kn,
		   const yaml_node_t *vn, const char *path, bool header,
		   struct config_match *m)
{
	const char *s;
	size_t len, cnt = 1;
	char b[256], ip[200];

	if (!cfg_get_str(p, kn, path, &s, &len) || !cfg_str_max(p, kn, path, len, 128))
		return false;
	if (header ? !cfg_name_ok(s, len) : memchr(s, '&', len) || memchr(s, '=', len)) {
		cfg_err_at(p, kn, path, header ?
			   "invalid header name %s (use A-Z a-z 0-9 _ . -)" :
			   "invalid query parameter name %s (no '&' or '=')",
			   cfg_qv(kn, b, sizeof(b)));
		return false;
	}
	m->name = strndup(s, len);
	if (!m->name) {
		p->oom = true;
		return false;
	}
	m->name_len = len;
	if (header)
		for (char *c = m->name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	if (vn->type == YAML_SEQUENCE_NODE) {
		cnt = (size_t)(vn->data.sequence.items.top -
			       vn->data.sequence.items.start);
		if (cnt == 0 || cnt > MATCH_MAX_VALUES) {
			cfg_err_at(p, vn, path, "1 to %d values, got %zu",
				   MATCH_MAX_VALUES, cnt);
			return false;
		}
	}
	m->values = calloc(cnt, sizeof(*m->values));
	m->value_lens = calloc(cnt, sizeof(*m->value_lens));
	if (!m->values || !m->value_lens) {
		p->oom = true;
		return false;
	}
	if (vn->type != YAML_SEQUENCE_NODE)
		return match_value(p, vn, path, m);
	for (size_t i = 0; i < cnt; i++) {
		snprintf(ip, sizeof(ip), "%.150s[%zu]", path, i);
		if (!match_value(p, cfg_node(p, vn->data.sequence.items.start[i]),
				 ip, m))
			return false;
	}
	return true;
}

static void free_matches(struct config_match *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < m[i].n_values; j++)
			free(m[i].values[j]);
		free(m[i].values);
		free(m[i].value_lens);
		free(m[i].name);
	}
	free(m);
}

void cfg_route_free(struct config_route *r)
{
	for (size_t i = 0; i < r->n_hosts; i++)
		free(r->hosts[i]);
	free(r->hosts);
	free(r->path_exact);
	free(r->path_regex);
	cfg_regex_free(r->regex);
	free(r->rewrite_prefix);
	free_matches(r->headers, r->n_headers);
	free_matches(r->query, r->n_query);
}

/* ---- one route -------------------------------------------------------------- */

/*
 * After a route's keys: its position, which path key it uses (one of
 * path_prefix, path_exact, path_regex), host: folded into hosts:, and the
 * rewrite keys that contradict the path key.
 */
void cfg_route_check(struct pctx *p, yaml_node_t *map,
		     struct config_route *r, const char *path,
		     yaml_node_t *const nodes[CFG_ROUTE_NODES])
{
	static const char *const pk[] = { "path_prefix", "path_exact",
					   "path_regex" };
	char sp[192];
	int given = -1;

	r->line = (uint32_t)map->start_mark.line + 1;
	r->col = (uint32_t)map->start_mark.column + 1;
	for (int i = 0; i < 3; i++) {
		if (!nodes[i])
			continue;
		if (given >= 0) {
			cfg_subpath(sp, sizeof(sp), path, pk[i]);
			cfg_err_at(p, nodes[i], sp,
				   "use only one of path_prefix, path_exact and path_regex ('%s' is given too)",
				   pk[given]);
			continue;
		}
		given = i;
	}
	if (given == 1 && r->path_exact)
		r->path_kind = CFG_PATH_EXACT;
	else if (given == 2 && r->regex)
		r->path_kind = CFG_PATH_REGEX;
	if (nodes[3] && nodes[4]) {
		cfg_subpath(sp, sizeof(sp), path, "hosts");
		cfg_err_at(p, nodes[4], sp, "use one of 'host' and 'hosts'");
	} else if (r->host && !r->n_hosts) {
		char norm[300];
		long l = http_host_normalize(norm, sizeof(norm) - 1, r->host,
					     strlen(r->host));

		r->hosts = calloc(1, sizeof(*r->hosts));
		if (!r->hosts || l < 0) {
			p->oom |= !r->hosts;
			return;
		}
		r->hosts[0] = strndup(norm, (size_t)l);
		if (!r->hosts[0]) {
			p->oom = true;
			return;
		}
		r->n_hosts = 1;
	}
	if (nodes[5] && r->strip_prefix) {
		cfg_subpath(sp, sizeof(sp), path, "strip_prefix");
		if (nodes[6])
			cfg_err_at(p, nodes[5], sp,
				   "use one of strip_prefix and rewrite_prefix (rewrite_prefix replaces the prefix already)");
		else if (given == 1 || given == 2)
			cfg_err_at(p, nodes[5], sp,
				   "needs path_prefix (%s has no prefix to strip; use rewrite_prefix with path_exact)",
				   pk[given]);
	}
	if (nodes[6] && given == 2) {
		cfg_subpath(sp, sizeof(sp), path, "rewrite_prefix");
		cfg_err_at(p, nodes[6], sp,
			   "needs path_prefix or path_exact (a path_regex has no prefix to replace)");
	}
}

/* ---- every route: the same conditions twice --------------------------------- */

static uint64_t mix(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h * 0x9e3779b97f4a7c15ull;
}

static uint64_t match_sig(const struct config_match *m, size_t n)
{
	uint64_t s = n;

	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;

		for (size_t j = 0; j < m[i].n_values; j++)
			v += mix(m[i].values[j], m[i].value_lens[j]);
		s += mix(m[i].name, m[i].name_len) ^ (v * 31);
	}
	return s;
}

/* Order-independent digest of what a route matches on. */
static uint64_t route_sig(const struct config_route *r)
{
	uint64_t s = (uint64_t)r->path_kind * 7 + r->methods * 131ull;

	if (r->path_kind == CFG_PATH_PREFIX)
		s += mix(r->path_prefix, r->path_prefix_len);
	else if (r->path_kind == CFG_PATH_EXACT)
		s += mix(r->path_exact, r->path_exact_len);
	else
		s += mix(r->path_regex, strlen(r->path_regex));
	for (size_t i = 0; i < r->n_hosts; i++)
		s += mix(r->hosts[i], strlen(r->hosts[i])) * 3;
	return s + match_sig(r->headers, r->n_headers) * 5 +
	       match_sig(r->query, r->n_query) * 11;
}

static bool str_in(const char *s, size_t n, char *const *v,
		   const size_t *lens, size_t cnt)
{
	for (size_t i = 0; i < cnt; i++)
		if ((lens ? lens[i] : strlen(v[i])) == n && !memcmp(v[i], s, n))
			return true;
	return false;
}

/* Same set of names, each with the same set of values. */
static bool matches_eq(const struct config_match *a, size_t na,
		       const struct config_match *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		size_t j;

		for (j = 0; j < nb; j++)
			if (a[i].name_len == b[j].name_len &&
			    !memcmp(a[i].name, b[j].name, a[i].name_len))
				break;
		if (j == nb)
			return false;
		for (size_t k = 0; k < a[i].n_values; k++)
			if (!str_in(a[i].values[k], a[i].value_lens[k],
				    b[j].values, b[j].value_lens, b[j].n_values))
				return false;
		for (size_t k = 0; k < b[j].n_values; k++)
			if (!str_in(b[j].values[k], b[j].value_lens[k],
				    a[i].values, a[i].value_lens, a[i].n_values))
				return false;
	}
	return true;
}

static bool route_conds_eq(const struct config_route *a,
			   const struct config_route *b)
{
	if (a->path_kind != b->path_kind || a->methods != b->methods ||
	    a->n_hosts != b->n_hosts)
		return false;
	if (a->path_kind == CFG_PATH_PREFIX &&
	    (a->path_prefix_len != b->path_prefix_len ||
	     memcmp(a->path_prefix, b->path_prefix, a->path_prefix_len)))
		return false;
	if (a->path_kind == CFG_PATH_EXACT &&
	    (a->path_exact_len != b->path_exact_len ||
	     memcmp(a->path_exact, b->path_exact, a->path_exact_len)))
		return false;
	if (a->path_kind == CFG_PATH_REGEX && strcmp(a->path_regex, b->path_regex))
		return false;
	for (size_t i = 0; i < a->n_hosts; i++)
		if (!str_in(a->hosts[i], strlen(a->hosts[i]), b->hosts, NULL,
			    b->n_hosts))
			return false;
	return matches_eq(a->headers, a->n_headers, b->headers, b->n_headers) &&
	       matches_eq(a->query, a->n_query, b->query, b->n_query);
}

struct sig_ix {
	uint64_t sig;
	size_t i;
};

static int sig_cmp(const void *x, const void *y)
{
	const struct sig_ix *a = x, *b = y;

	if (a->sig != b->sig)
		return a->sig < b->sig ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

/*
 * Two routes with the same conditions (hosts, path, methods, headers,
 * query, in any order): the later one, or the one of lower priority, could
 * never be chosen. That is an error, at the route that loses. Checked only
 * when nothing else was wrong: a route whose keys failed is half-filled.
 */
void cfg_routes_check(struct pctx *p, struct config *c)
{
	struct sig_ix *v;

	if (c->n_routes < 2 || p->n_errs || p->dropped)
		return;
	v = calloc(c->n_routes, sizeof(*v));
	if (!v) {
		p->oom = true;
		return;
	}
	for (size_t i = 0; i < c->n_routes; i++) {
		v[i].sig = route_sig(&c->routes[i]);
		v[i].i = i;
	}
	qsort(v, c->n_routes, sizeof(*v), sig_cmp);
	for (size_t k = 1; k < c->n_routes; k++) {
		for (size_t j = k; j-- > 0 && v[j].sig == v[k].sig;) {
			const struct config_route *a = &c->routes[v[j].i];
			const struct config_route *b = &c->routes[v[k].i];
			const struct config_route *lo = b->priority > a->priority ? a : b;
			const struct config_route *hi = lo == a ? b : a;
			char sp[64];

			if (!route_conds_eq(a, b))
				continue;
			snprintf(sp, sizeof(sp), "routes[%zu]",
				 (size_t)(lo - c->routes));
			cfg_err_pos(p, lo->line, lo->col, sp,
				    "route '%s' has the same conditions as route '%s' (line %u): it could never be chosen",
				    lo->name, hi->name, hi->line);
			break;
		}
	}
	free(v);
}
