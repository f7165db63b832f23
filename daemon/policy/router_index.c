// SPDX-License-Identifier: MIT
/*
 * The routing index, built once per snapshot (router_build()), so that a
 * lookup does not scan every route:
 *   - a tier per host key: each exact host, each wildcard suffix, and one
 *     for the routes without hosts (a route with several hosts is in each
 *     of their tiers);
 *   - hosts: a hash of exact hosts -> tier; wild: a hash of ".suffix" ->
 *     tier, hashed from the right so that one pass over the request's host
 *     gives every suffix's hash;
 *   - in a tier: a hash of exact paths, a hash of prefixes with the set of
 *     their lengths (one pass over the path gives every length's hash),
 *     and the regex routes in order;
 *   - every bucket (the routes of one key) sorted by rules 3-5, so the
 *     first route whose other conditions hold wins its bucket.
 * A lookup visits the request host's exact tier, then its wildcard tiers
 * from the longest suffix, then the any-host tier; in each, the exact path,
 * then the prefixes from the longest, then the regexes; and stops at the
 * first route whose conditions hold. That is the order of the precedence
 * rules, so the answer is router_lookup_linear()'s.
 */
#include "policy/router_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rt_slot {
	uint64_t h;
	const char *key;		/* NULL: empty slot */
	uint32_t len;
	uint32_t first, n;		/* bucket: order[first .. first + n) */
};

struct rt_map {
	struct rt_slot *s;
	uint32_t mask;			/* slots - 1; 0 with s NULL: empty */
};

struct rt_tier {
	struct rt_map exact, prefix;
	uint32_t *plens;		/* distinct prefix lengths, ascending */
	uint32_t n_plens;
	uint32_t regex_first, regex_n;	/* in order[] */
};

struct router_index {
	uint32_t *order;		/* every bucket's route indices */
	size_t n_order, cap_order;
	struct rt_tier *tiers;
	size_t n_tiers;
	struct rt_map hosts, wild;	/* slot.first: tier */
	long any;			/* tier of the routes without hosts */
};

#define FNV_OFF 1469598103934665603ull
#define FNV_MUL 1099511628211ull

static inline uint64_t fnv_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * FNV_MUL;
}

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = FNV_OFF;

	for (size_t i = 0; i < n; i++)
		h = fnv_step(h, (unsigned char)s[i]);
	return h;
}

/* The hash of s read from its last byte to its first. */
static uint64_t fnv_rev(const char *s, size_t n)
{
	uint64_t h = FNV_OFF;

	while (n)
		h = fnv_step(h, (unsigned char)s[--n]);
	return h;
}

static const struct rt_slot *map_get(const struct rt_map *m, uint64_t h,
				     const char *k, size_t n)
{
	if (!m->s)
		return NULL;
	for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
		const struct rt_slot *s = &m->s[i];

		if (!s->key)
			return NULL;
		if (s->h == h && s->len == n && !memcmp(s->key, k, n))
			return s;
	}
}

/* ---- lookup ---------------------------------------------------------------- */

static int bucket(const struct router_index *ix, const struct config *c,
		  const struct rt_slot *s, const struct router_prep *p)
{
	for (uint32_t i = 0; s && i < s->n; i++) {
		uint32_t r = ix->order[s->first + i];

		if (router__conds(&c->routes[r], p, NULL, 0))
			return (int)r;
	}
	return -1;
}

static int tier_lookup(const struct router_index *ix, const struct config *c,
		       const struct rt_tier *t, const struct router_prep *p)
{
	const struct router_req *q = p->q;
	uint64_t hs[1024 + 1];
	size_t k = 0;
	int r;

	if (t->exact.s) {
		r = bucket(ix, c, map_get(&t->exact, fnv(q->path, q->path_len),
					  q->path, q->path_len), p);
		if (r >= 0)
			return r;
	}
	if (t->n_plens) {
		/* every prefix length's hash in one pass, then longest first */
		uint64_t h = FNV_OFF;

		for (size_t i = 0; i < q->path_len && k < t->n_plens; i++) {
			h = fnv_step(h, (unsigned char)q->path[i]);
			if (i + 1 == t->plens[k])
				hs[k++] = h;
		}
		while (k-- > 0) {
			size_t l = t->plens[k];

			r = bucket(ix, c, map_get(&t->prefix, hs[k], q->path, l), p);
			if (r >= 0)
				return r;
		}
	}
	for (uint32_t i = 0; i < t->regex_n; i++) {
		uint32_t ri = ix->order[t->regex_first + i];
		const struct config_route *rt = &c->routes[ri];

		if (router__regex(rt, q->path, q->path_len) &&
		    router__conds(rt, p, NULL, 0))
			return (int)ri;
	}
	return -1;
}

int router_lookup(const struct config *c, const struct router_req *q)
{
	const struct router_index *ix;
	struct router_prep p;
	const struct rt_slot *s;
	int r;

	if (!c || (!q->path && q->path_len))
		return -1;
	ix = c->router;
	if (!ix)
		return router_lookup_linear(c, q);
	router__prep(&p, q);
	if (p.host_len >= 0) {
		size_t hl = (size_t)p.host_len;

		s = map_get(&ix->hosts, fnv(p.host, hl), p.host, hl);
		if (s && (r = tier_lookup(ix, c, &ix->tiers[s->first], &p)) >= 0)
			return r;
		if (ix->wild.s) {
			/* suffix hashes from the right; probe the longest first */
			uint64_t hs[ROUTER_HOST_MAX];
			size_t at[ROUTER_HOST_MAX], n = 0;
			uint64_t h = FNV_OFF;

			for (size_t i = hl; i-- > 0;) {
				h = fnv_step(h, (unsigned char)p.host[i]);
				if (router__wild_ok(p.host, hl, i)) {
					hs[n] = h;
					at[n++] = i;
				}
			}
			while (n-- > 0) {
				s = map_get(&ix->wild, hs[n], p.host + at[n],
					    hl - at[n]);
				if (s && (r = tier_lookup(ix, c, &ix->tiers[s->first],
							  &p)) >= 0)
					return r;
			}
		}
	}
	if (ix->any >= 0)
		return tier_lookup(ix, c, &ix->tiers[ix->any], &p);
	return -1;
}

/* ---- build ----------------------------------------------------------------- */

/* One (key, route) pair to index. */
struct ent {
	const char *key;
	uint32_t len;
	uint32_t kind;			/* hosts: 0 exact, 1 wildcard;
					 * paths: 0 exact, 1 prefix, 2 regex;
					 * regex: its pattern group */
	uint32_t route;
	uint32_t tier;
};

static const struct config *sort_cfg;	/* build runs on one thread */

static int key_cmp(const struct ent *a, const struct ent *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->key, b->key, a->len);
}

static int ent_cmp(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	int d = key_cmp(a, b);

	if (d)
		return d;
	if (a->route == b->route)
		return 0;
	return router__tie_before(sort_cfg->routes, a->route, b->route) ? -1 : 1;
}

static int tier_ent_cmp(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;

	if (a->tier != b->tier)
		return a->tier < b->tier ? -1 : 1;
	return ent_cmp(x, y);
}

static int map_init(struct rt_map *m, size_t n)
{
	size_t cap = 4;

	while (cap < 2 * n)
		cap <<= 1;
	m->s = calloc(cap, sizeof(*m->s));
	m->mask = (uint32_t)cap - 1;
	return m->s ? 0 : -ENOMEM;
}

static void map_put(struct rt_map *m, uint64_t h, const char *k, size_t n,
		    uint32_t first, uint32_t cnt)
{
	uint32_t i = (uint32_t)h & m->mask;

	while (m->s[i].key)
		i = (i + 1) & m->mask;
	m->s[i] = (struct rt_slot){ .h = h, .key = k, .len = (uint32_t)n,
				    .first = first, .n = cnt };
}

static size_t groups(const struct ent *e, size_t n)
{
	size_t g = 0;

	for (size_t i = 0; i < n; i++)
		g += !i || key_cmp(&e[i - 1], &e[i]);
	return g;
}

/* Fill map m with the groups of e[0..n) (sorted), appending their routes to
 * ix->order; rev: hash keys from the right. */
static int fill(struct router_index *ix, struct rt_map *m, const struct ent *e,
		size_t n, bool rev)
{
	if (!n)
		return 0;
	if (map_init(m, groups(e, n)))
		return -ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && !key_cmp(&e[i], &e[j]))
			ix->order[ix->n_order + (j - i)] = e[j].route, j++;
		map_put(m, rev ? fnv_rev(e[i].key, e[i].len) :
			fnv(e[i].key, e[i].len), e[i].key, e[i].len,
			(uint32_t)ix->n_order, (uint32_t)(j - i));
		ix->n_order += j - i;
		i = j;
	}
	return 0;
}

static int build_tier(struct router_index *ix, const struct config *c,
		      struct rt_tier *t, struct ent *e, size_t n,
		      const uint32_t *grp)
{
	size_t ne = 0, np = 0, nr = 0, d = 0;

	/* e: this tier's routes; rewrite each entry's key as its path */
	for (size_t i = 0; i < n; i++) {
		const struct config_route *r = &c->routes[e[i].route];

		if (r->path_kind == CFG_PATH_EXACT) {
			e[i].kind = 0;
			e[i].key = r->path_exact;
			e[i].len = (uint32_t)r->path_exact_len;
			ne++;
		} else if (r->path_kind == CFG_PATH_PREFIX) {
			e[i].kind = 1;
			e[i].key = r->path_prefix;
			e[i].len = (uint32_t)r->path_prefix_len;
			np++;
		} else {
			e[i].kind = 2;
			e[i].key = r->path_regex;
			e[i].len = (uint32_t)strlen(r->path_regex);
			nr++;
		}
	}
	qsort(e, n, sizeof(*e), ent_cmp);
	if (fill(ix, &t->exact, e, ne, false) ||
	    fill(ix, &t->prefix, e + ne, np, false))
		return -ENOMEM;
	if (np) {
		t->plens = calloc(np, sizeof(*t->plens));
		if (!t->plens)
			return -ENOMEM;
		/* e[ne..] is sorted by length first */
		for (size_t i = ne; i < ne + np; i++)
			if (!d || t->plens[d - 1] != e[i].len)
				t->plens[d++] = e[i].len;
		t->n_plens = (uint32_t)d;
	}
	if (nr) {
		/* regexes: by the first route with the pattern, then rules
		 * 3-5 (a group is one pattern) */
		struct ent *rx = e + ne + np;

		for (size_t i = 0; i < nr; i++)
			rx[i].kind = grp[rx[i].route];
		qsort(rx, nr, sizeof(*rx), ent_cmp);
		t->regex_first = (uint32_t)ix->n_order;
		t->regex_n = (uint32_t)nr;
		for (size_t i = 0; i < nr; i++)
			ix->order[ix->n_order++] = rx[i].route;
	}
	return 0;
}

void router_free(struct config *c)
{
	struct router_index *ix = c ? c->router : NULL;

	if (!ix)
		return;
	for (size_t i = 0; i < ix->n_tiers; i++) {
		free(ix->tiers[i].exact.s);
		free(ix->tiers[i].prefix.s);
		free(ix->tiers[i].plens);
	}
	free(ix->tiers);
	free(ix->hosts.s);
	free(ix->wild.s);
	free(ix->order);
	free(ix);
	c->router = NULL;
}

static int rx_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	int d = strcmp(sort_cfg->routes[a].path_regex,
		       sort_cfg->routes[b].path_regex);

	return d ? d : (a > b) - (a < b);
}

/* grp[i]: for a regex route, the first route with the same pattern */
static uint32_t *regex_groups(const struct config *c)
{
	uint32_t *grp = calloc(c->n_routes + 1, sizeof(*grp));
	uint32_t *ix = calloc(c->n_routes + 1, sizeof(*ix));
	size_t n = 0;

	if (!grp || !ix) {
		free(grp);
		free(ix);
		return NULL;
	}
	for (size_t i = 0; i < c->n_routes; i++)
		if (c->routes[i].path_kind == CFG_PATH_REGEX)
			ix[n++] = (uint32_t)i;
	qsort(ix, n, sizeof(*ix), rx_cmp);
	for (size_t i = 0; i < n; i++)
		grp[ix[i]] = i && !strcmp(c->routes[ix[i]].path_regex,
					  c->routes[ix[i - 1]].path_regex) ?
			     grp[ix[i - 1]] : ix[i];
	free(ix);
	return grp;
}

int router_build(struct config *c)
{
	struct router_index *ix;
	uint32_t *grp = NULL;
	struct ent *e = NULL;
	size_t n = 0, cap = 0, ntiers = 0, nh = 0, nw = 0;
	int ret = -ENOMEM;

	router_free(c);
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	ix->any = -1;
	c->router = ix;
	for (size_t i = 0; i < c->n_routes; i++)
		cap += c->routes[i].n_hosts ? c->routes[i].n_hosts : 1;
	e = calloc(cap ? cap : 1, sizeof(*e));
	ix->order = calloc(cap ? cap : 1, sizeof(*ix->order));
	sort_cfg = c;
	grp = regex_groups(c);
	if (!e || !ix->order || !grp)
		goto out;
	/* host keys: kind 0 exact, 1 wildcard (".suffix"), 2 any */
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct config_route *r = &c->routes[i];

		for (size_t h = 0; h < r->n_hosts; h++) {
			bool w = r->hosts[h][0] == '*';

			e[n++] = (struct ent){ .key = r->hosts[h] + w,
					       .len = (uint32_t)strlen(r->hosts[h] + w),
					       .kind = w, .route = (uint32_t)i };
		}
		if (!r->n_hosts)
			e[n++] = (struct ent){ .key = "", .kind = 2,
					       .route = (uint32_t)i };
	}
	qsort(e, n, sizeof(*e), ent_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !key_cmp(&e[i - 1], &e[i])) {
			e[i].tier = e[i - 1].tier;
			continue;
		}
		e[i].tier = (uint32_t)ntiers++;
		nh += e[i].kind == 0;
		nw += e[i].kind == 1;
	}
	ix->tiers = calloc(ntiers ? ntiers : 1, sizeof(*ix->tiers));
	if (!ix->tiers || (nh && map_init(&ix->hosts, nh)) ||
	    (nw && map_init(&ix->wild, nw)))
		goto out;
	ix->n_tiers = ntiers;
	for (size_t i = 0; i < n; i++) {
		if (i && e[i].tier == e[i - 1].tier)
			continue;
		if (e[i].kind == 2)
			ix->any = e[i].tier;
		else
			map_put(e[i].kind ? &ix->wild : &ix->hosts,
				e[i].kind ? fnv_rev(e[i].key, e[i].len) :
				fnv(e[i].key, e[i].len), e[i].key, e[i].len,
				e[i].tier, 0);
	}
	/* then each tier's paths, over the same entries */
	qsort(e, n, sizeof(*e), tier_ent_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && e[j].tier == e[i].tier)
			j++;
		if (build_tier(ix, c, &ix->tiers[e[i].tier], e + i, j - i, grp))
			goto out;
		i = j;
	}
	ret = 0;
out:
	sort_cfg = NULL;
	free(grp);
	free(e);
	if (ret)
		router_free(c);
	return ret;
}
