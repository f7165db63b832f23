// SPDX-License-Identifier: MIT
/*
 * Configuration: YAML (libyaml document API) -> immutable snapshot.
 *
 * Table-driven: every section is a table of keys (name, type, bounds,
 * default, flags). walk_map() checks a mapping's keys against its table
 * (unknown keys with a "did you mean" hint, duplicate keys), then parses the
 * values in table order, so later keys can refer to earlier ones (routes
 * name services). Every error is collected with its line and column; the
 * caller gets all of them, sorted by position, one per line.
 *
 * This file is the engine: error collection, the walker (walk_map(),
 * parse_value(), apply_defaults()), config_parse() and the snapshot's
 * lifetime. The value parsers are in config_value.c, the key tables and
 * their section checks in config_keys.c, config_load_file() in
 * config_files.c; config_int.h is what they share.
 */
#include "config/config_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define CFG_MAX_ERRORS 200	/* reported; the rest are counted */

/* ---- errors ----------------------------------------------------------- */

struct perr {
	size_t line, col, seq;
	char *msg;
};

static void verr_at(struct pctx *p, size_t line, size_t col, const char *path,
		    const char *fmt, va_list ap)
{
	char msg[1024];
	struct perr *e;
	int n;

	if (p->n_errs >= CFG_MAX_ERRORS) {
		p->dropped++;
		return;
	}
	if (p->n_errs == p->cap_errs) {
		size_t cap = p->cap_errs ? p->cap_errs * 2 : 16;

		e = realloc(p->errs, cap * sizeof(*e));
		if (!e) {
			p->oom = true;
			return;
		}
		p->errs = e;
		p->cap_errs = cap;
	}
	n = snprintf(msg, sizeof(msg), "%s:%zu:%zu: %s%s", p->name, line, col,
		     path ? path : "", path && *path ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	e = &p->errs[p->n_errs];
	e->msg = strdup(msg);
	if (!e->msg) {
		p->oom = true;
		return;
	}
	e->line = line;
	e->col = col;
	e->seq = p->n_errs++;
}

__attribute__((format(printf, 4, 5)))
void cfg_err_at(struct pctx *p, const yaml_node_t *node, const char *path,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(p, node ? node->start_mark.line + 1 : 1,
		node ? node->start_mark.column + 1 : 1, path, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 5, 6)))
static void err_pos(struct pctx *p, size_t line, size_t col, const char *path,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(p, line, col, path, fmt, ap);
	va_end(ap);
}

static int perr_cmp(const void *a, const void *b)
{
	const struct perr *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorted, one per line, each '\n'-terminated. NULL on OOM. */
static char *join_errors(struct pctx *p)
{
	size_t total = 1, o = 0;
	char tail[96] = "";
	char *out;

	qsort(p->errs, p->n_errs, sizeof(p->errs[0]), perr_cmp);
	if (p->dropped)
		snprintf(tail, sizeof(tail), ": %zu more error(s) not shown\n",
			 p->dropped);
	for (size_t i = 0; i < p->n_errs; i++)
		total += strlen(p->errs[i].msg) + 1;
	total += strlen(p->name) + strlen(tail);
	out = malloc(total);
	if (!out)
		return NULL;
	for (size_t i = 0; i < p->n_errs; i++) {
		size_t l = strlen(p->errs[i].msg);

		memcpy(out + o, p->errs[i].msg, l);
		o += l;
		out[o++] = '\n';
	}
	if (p->dropped)
		o += (size_t)sprintf(out + o, "%s%s", p->name, tail);
	out[o] = '\0';
	return out;
}

/* ---- walker ------------------------------------------------------------------- */

yaml_node_t *cfg_node(struct pctx *p, int id)
{
	return yaml_document_get_node(p->doc, id);
}

#define FIELD(base, off, type) ((type *)((char *)(base) + (off)))

static void walk_map(struct pctx *p, yaml_node_t *map,
		     const struct csection *sec, void *base, const char *path);

static size_t lev(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			char ca = a[i - 1], cb = b[j - 1];
			size_t up = row[j], best;

			if (ca >= 'A' && ca <= 'Z')
				ca = (char)(ca - 'A' + 'a');
			best = diag + (ca != cb);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

static void unknown_key(struct pctx *p, const yaml_node_t *k,
			const struct csection *sec, const char *path)
{
	const char *s = (const char *)k->data.scalar.value;
	size_t len = k->data.scalar.length, best = SIZE_MAX, bi = 0;
	char b[256];

	if (p->n_errs >= CFG_MAX_ERRORS) {
		p->dropped++;
		return;
	}
	for (size_t i = 0; i < sec->n_keys; i++) {
		size_t d = lev(s, len, sec->keys[i].name);

		if (d < best) {
			best = d;
			bi = i;
		}
	}
	if (best != SIZE_MAX && best < len &&
	    (best <= 2 || best <= strlen(sec->keys[bi].name) / 3))
		cfg_err_at(p, k, path, "unknown key %s (did you mean '%s'?)",
			   cfg_qv(k, b, sizeof(b)), sec->keys[bi].name);
	else
		cfg_err_at(p, k, path, "unknown key %s",
			   cfg_qv(k, b, sizeof(b)));
}

void cfg_subpath(char *out, size_t len, const char *path, const char *key)
{
	snprintf(out, len, "%s%s%s", path, *path ? "." : "", key);
}

/* Value node of `key` in mapping `map`, or NULL. */
yaml_node_t *cfg_map_get(struct pctx *p, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *q = map->data.mapping.pairs.start;
	     q < map->data.mapping.pairs.top; q++) {
		yaml_node_t *k = cfg_node(p, q->key);

		if (cfg_is_scalar(k) && cfg_sc_eq(k, key))
			return cfg_node(p, q->value);
	}
	return NULL;
}

/* K_UNIQUE keys of a list's items: report each later duplicate. */
static void check_unique(struct pctx *p, const struct ckey *lk, void *base,
			 yaml_node_t *seq, const char *path)
{
	const struct csection *sec = lk->sub;
	char *items = *FIELD(base, lk->off, char *);
	size_t n = *FIELD(base, lk->off2, size_t);

	for (size_t k = 0; k < sec->n_keys; k++) {
		const struct ckey *key = &sec->keys[k];

		if (!(key->flags & K_UNIQUE))
			continue;
		for (size_t j = 1; j < n; j++) {
			void *fj = items + j * sec->item_size + key->off;

			for (size_t i = 0; i < j; i++) {
				void *fi = items + i * sec->item_size + key->off;
				yaml_node_t *ni, *nj;
				char sp[160];
				const char *text;
				bool dup;

				if (key->type == KT_ADDR) {
					dup = cfg_addr_eq(fi, fj);
					text = ((struct config_addr *)fj)->text;
				} else {
					dup = *(char *)fi && !strcmp(fi, fj);
					text = fj;
				}
				if (!dup)
					continue;
				ni = cfg_map_get(p, cfg_node(p, seq->data.sequence.items.start[i]),
						 key->name);
				nj = cfg_map_get(p, cfg_node(p, seq->data.sequence.items.start[j]),
						 key->name);
				snprintf(sp, sizeof(sp), "%.100s[%zu].%.30s", path, j,
					 key->name);
				cfg_err_at(p, nj, sp,
					   "duplicate %s %s '%s' (first at line %zu)",
					   sec->what, key->name, text,
					   ni ? ni->start_mark.line + 1 : 0);
				break;
			}
		}
	}
}

static void parse_value(struct pctx *p, const struct ckey *k, yaml_node_t *n,
			void *base, const char *path)
{
	const char *s;
	size_t len;
	long long v;
	bool b;

	switch (k->type) {
	case KT_NAME:
		if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
			return;
		if (!cfg_name_ok(s, len)) {
			char q[256];

			cfg_err_at(p, n, path,
				   "invalid name %s (use A-Z a-z 0-9 _ . -)",
				   cfg_qv(n, q, sizeof(q)));
			return;
		}
		memcpy(FIELD(base, k->off, char), s, len);
		FIELD(base, k->off, char)[len] = '\0';
		return;
	case KT_STRBUF:
		if (k->choices) {
			int i = cfg_choice_index(p, n, path, k->choices);

			if (i >= 0)
				strcpy(FIELD(base, k->off, char), k->choices[i]);
			return;
		}
		if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
			return;
		if ((k->flags & K_ABSPATH) && s[0] != '/') {
			char q[256];

			cfg_err_at(p, n, path, "must be an absolute path: %s",
				   cfg_qv(n, q, sizeof(q)));
			return;
		}
		if ((k->flags & K_USERNAME) && (!cfg_name_ok(s, len) || s[0] == '-')) {
			char q[256];

			cfg_err_at(p, n, path,
				   "invalid user name %s (letters, digits, '_', '.', '-'; not starting with '-')",
				   cfg_qv(n, q, sizeof(q)));
			return;
		}
		memcpy(FIELD(base, k->off, char), s, len);
		FIELD(base, k->off, char)[len] = '\0';
		return;
	case KT_ENUM: {
		int i = cfg_choice_index(p, n, path, k->choices);

		if (i >= 0)
			*FIELD(base, k->off, int) = i;
		return;
	}
	case KT_BOOL:
		if (cfg_get_bool(p, n, path, &b))
			*FIELD(base, k->off, bool) = b;
		return;
	case KT_U32:
		if (cfg_get_int(p, n, path, k->min, k->max, &v))
			*FIELD(base, k->off, uint32_t) = (uint32_t)v;
		return;
	case KT_U64:
		if (cfg_get_int(p, n, path, k->min, k->max, &v))
			*FIELD(base, k->off, uint64_t) = (uint64_t)v;
		return;
	case KT_RATE: {
		uint32_t r;
		char q[256];

		if (!cfg_is_scalar(n) || cfg_is_null(n) || n->type != YAML_SCALAR_NODE ||
		    allowlist_parse_rate((const char *)n->data.scalar.value,
					 n->data.scalar.length, &r)) {
			cfg_err_at(p, n, path,
				   "expected a rate N/s with N from 1 to %u, got %s",
				   ALLOWLIST_MAX_RATE,
				   cfg_got(n, q, sizeof(q)));
			return;
		}
		*FIELD(base, k->off, uint32_t) = r;
		return;
	}
	case KT_ADDR:
		cfg_get_addr(p, n, path, k->flags & K_TARGET,
			     FIELD(base, k->off, struct config_addr));
		return;
	case KT_PATH_PREFIX:
	case KT_HOST:
		if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
			return;
		if (k->type == KT_PATH_PREFIX ?
			    !cfg_get_path_prefix(p, n, path, s, len) :
			    !cfg_get_host(p, n, path, s, len))
			return;
		{
			char *d = strndup(s, len);

			if (!d) {
				p->oom = true;
				return;
			}
			if (k->type == KT_HOST)
				for (char *c = d; *c; c++)
					if (*c >= 'A' && *c <= 'Z')
						*c = (char)(*c - 'A' + 'a');
			free(*FIELD(base, k->off, char *));
			*FIELD(base, k->off, char *) = d;
			if (k->type == KT_PATH_PREFIX)
				*FIELD(base, k->off2, size_t) = len;
		}
		return;
	case KT_STR:
	case KT_FILE: {
		char *d;

		if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
			return;
		d = k->type == KT_FILE ? cfg_resolve_path(p, s, len) : strndup(s, len);
		if (!d) {
			p->oom = true;
			return;
		}
		free(*FIELD(base, k->off, char *));
		*FIELD(base, k->off, char *) = d;
		return;
	}
	case KT_SERVICE_REF: {
		char q[256];

		if (!cfg_get_str(p, n, path, &s, &len))
			return;
		for (size_t i = 0; i < p->cfg->n_services; i++) {
			if (cfg_sc_eq(n, p->cfg->services[i].name)) {
				*FIELD(base, k->off, size_t) = i;
				return;
			}
		}
		cfg_err_at(p, n, path, "unknown service %s",
			   cfg_qv(n, q, sizeof(q)));
		return;
	}
	case KT_RATIO: {
		double d;

		if (!cfg_get_number(p, n, path, &d))
			return;
		if (d < 0 || d > 1) {
			cfg_err_at(p, n, path, "%.40s is out of range (0-1)",
				   (const char *)n->data.scalar.value);
			return;
		}
		*FIELD(base, k->off, double) = d;
		return;
	}
	case KT_BUCKETS: {
		double *bk = FIELD(base, k->off, double);
		size_t cnt;
		char ip[160];

		if (n->type != YAML_SEQUENCE_NODE) {
			cfg_err_type(p, n, path, "a sequence");
			return;
		}
		cnt = (size_t)(n->data.sequence.items.top -
			       n->data.sequence.items.start);
		if (cnt < (size_t)k->min || cnt > (size_t)k->max) {
			cfg_err_at(p, n, path, "%zu buckets; %lld to %lld are allowed",
				   cnt, k->min, k->max);
			return;
		}
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_t *it = cfg_node(p, n->data.sequence.items.start[i]);

			snprintf(ip, sizeof(ip), "%.100s[%zu]", path, i);
			if (!cfg_get_number(p, it, ip, &bk[i]))
				return;
			if (!(bk[i] > 0)) {
				cfg_err_at(p, it, ip, "a bucket bound must be greater than 0");
				return;
			}
			if (i && !(bk[i] > bk[i - 1])) {
				cfg_err_at(p, it, ip,
					   "buckets must be strictly increasing (%.40s after %g)",
					   (const char *)it->data.scalar.value, bk[i - 1]);
				return;
			}
		}
		*FIELD(base, k->off2, size_t) = cnt;
		return;
	}
	case KT_SECTION:	/* "admin:" alone is an empty section */
		if (n->type != YAML_MAPPING_NODE && !cfg_is_null(n)) {
			cfg_err_type(p, n, path, "a mapping");
			return;
		}
		walk_map(p, n, k->sub, FIELD(base, k->off, char), path);
		return;
	case KT_ADDRS:
	case KT_STRS:
	case KT_METHODS:
	case KT_LIST:
	case KT_CIDRS:
	case KT_AUTH:
		break;
	}

	/* sequences */
	{
		size_t cnt, isz = 0;
		char *items = NULL;
		char ip[160];

		if (cfg_is_null(n) && k->type == KT_LIST) {
			cnt = 0;
		} else if (n->type != YAML_SEQUENCE_NODE) {
			cfg_err_type(p, n, path, "a sequence");
			return;
		} else {
			cnt = (size_t)(n->data.sequence.items.top -
				       n->data.sequence.items.start);
		}
		if (cnt < (size_t)k->min) {
			if (k->type == KT_METHODS)
				cfg_err_at(p, n, path,
					   "must not be empty (omit it to allow any method)");
			else if (k->type == KT_AUTH)
				cfg_err_at(p, n, path,
					   "must not be empty (omit it for a route without authentication)");
			else
				cfg_err_at(p, n, path, "at least %lld %s required",
					   k->min,
					   k->min == 1 ? "entry is" : "entries are");
			return;
		}
		if (cnt > (size_t)k->max) {
			cfg_err_at(p, n, path, "too many entries (%zu, max %lld)", cnt,
				   k->max);
			return;
		}
		switch (k->type) {
		case KT_ADDRS: isz = sizeof(struct config_addr); break;
		case KT_STRS: isz = sizeof(char *); break;
		case KT_LIST: isz = k->sub->item_size; break;
		default: break;
		}
		if (cnt && isz) {
			items = calloc(cnt, isz);
			if (!items) {
				p->oom = true;
				return;
			}
			*FIELD(base, k->off, char *) = items;
			*FIELD(base, k->off2, size_t) = cnt;
		}
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_t *it = cfg_node(p, n->data.sequence.items.start[i]);

			snprintf(ip, sizeof(ip), "%.100s[%zu]", path, i);
			if (k->type == KT_ADDRS) {
				cfg_get_addr(p, it, ip, k->flags & K_TARGET,
					     (struct config_addr *)items + i);
			} else if (k->type == KT_STRS) {
				cfg_get_strs_item(p, k, it, ip,
						  (char **)items + i,
						  (char **)items, i);
			} else if (k->type == KT_METHODS) {
				cfg_get_method(p, it, ip, FIELD(base, k->off, uint32_t));
			} else if (k->type == KT_CIDRS) {
				cfg_get_cidr(p, it, ip, FIELD(base, k->off, struct allowlist));
			} else if (k->type == KT_AUTH) {
				cfg_get_auth_method(p, it, ip, FIELD(base, k->off, uint32_t));
			} else if (it && it->type == YAML_MAPPING_NODE) {
				walk_map(p, it, k->sub, items + i * isz, ip);
			} else {
				cfg_err_type(p, it, ip, "a mapping");
			}
		}
		if (k->type == KT_LIST && cnt > 1) {
			/* all items must be mappings for check_unique */
			for (size_t i = 0; i < cnt; i++)
				if (cfg_node(p, n->data.sequence.items.start[i])->type !=
				    YAML_MAPPING_NODE)
					return;
			check_unique(p, k, base, n, path);
		}
	}
}

static void apply_defaults(struct pctx *p, const struct csection *sec,
			   void *base)
{
	for (size_t i = 0; i < sec->n_keys; i++) {
		const struct ckey *k = &sec->keys[i];
		char msg[128];

		switch (k->type) {
		case KT_BOOL:
			*FIELD(base, k->off, bool) = k->def_int;
			break;
		case KT_U32:
			*FIELD(base, k->off, uint32_t) = (uint32_t)k->def_int;
			break;
		case KT_U64:
			*FIELD(base, k->off, uint64_t) = (uint64_t)k->def_int;
			break;
		case KT_ENUM:
			*FIELD(base, k->off, int) = (int)k->def_int;
			break;
		case KT_STRBUF:
			if (k->def_str)
				strcpy(FIELD(base, k->off, char), k->def_str);
			break;
		case KT_ADDR:
			if (k->def_str)
				cfg_parse_addr(k->def_str, strlen(k->def_str), false,
					       FIELD(base, k->off, struct config_addr),
					       msg, sizeof(msg));
			break;
		case KT_PATH_PREFIX:
			*FIELD(base, k->off, char *) = strdup(k->def_str);
			if (!*FIELD(base, k->off, char *))
				p->oom = true;
			*FIELD(base, k->off2, size_t) = strlen(k->def_str);
			break;
		case KT_SECTION:
			apply_defaults(p, k->sub, FIELD(base, k->off, char));
			break;
		case KT_RATIO:
			*FIELD(base, k->off, double) = strtod(k->def_str, NULL);
			break;
		default:
			break;
		}
	}
}

static void walk_map(struct pctx *p, yaml_node_t *map,
		     const struct csection *sec, void *base, const char *path)
{
	yaml_node_t *vals[CFG_MAX_KEYS] = { 0 }, *keys[CFG_MAX_KEYS] = { 0 };
	char sp[160], b[256];

	if (sec->item_size)	/* list item: fresh defaults */
		apply_defaults(p, sec, base);

	for (yaml_node_pair_t *q = map->data.mapping.pairs.start;
	     map->type == YAML_MAPPING_NODE && q < map->data.mapping.pairs.top;
	     q++) {
		yaml_node_t *k = cfg_node(p, q->key);
		size_t i;

		if (!cfg_is_scalar(k) || cfg_is_null(k)) {
			cfg_err_at(p, k, path, "expected a string key, got %s",
				   cfg_got(k, b, sizeof(b)));
			continue;
		}
		for (i = 0; i < sec->n_keys; i++)
			if (cfg_sc_eq(k, sec->keys[i].name))
				break;
		if (i == sec->n_keys) {
			unknown_key(p, k, sec, path);
			continue;
		}
		if (keys[i]) {
			cfg_err_at(p, k, path,
				   "duplicate key '%s' (first at line %zu)",
				   sec->keys[i].name,
				   keys[i]->start_mark.line + 1);
			continue;
		}
		keys[i] = k;
		vals[i] = cfg_node(p, q->value);
	}

	for (size_t i = 0; i < sec->n_keys; i++) {
		const struct ckey *k = &sec->keys[i];

		if (!vals[i]) {
			if (k->flags & K_REQUIRED)
				cfg_err_at(p, map, path, "missing required key '%s'",
					   k->name);
			continue;
		}
		cfg_subpath(sp, sizeof(sp), path, k->name);
		parse_value(p, k, vals[i], base, sp);
	}
	if (sec->finish)
		sec->finish(p, map, base, path, vals);
}

/* ---- entry points --------------------------------------------------------- */

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_limits(struct config_limit *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free_strs(l[i].rates, l[i].n_rates);
	free(l);
}

static void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_services; i++)
		free(c->services[i].targets);
	if (c->release)		/* what a builder attached (policy_build()) */
		c->release(c);
	for (size_t i = 0; i < c->n_routes; i++) {
		free(c->routes[i].path_prefix);
		free(c->routes[i].host);
		auth_policy_free(&c->routes[i].auth);
		free_limits(c->routes[i].limits, c->routes[i].n_limits);
	}
	free_limits(c->limits, c->n_limits);
	for (size_t i = 0; i < c->n_consumers; i++) {
		struct config_consumer *cc = &c->consumers[i];

		free_strs(cc->roles, cc->n_roles);
		free_strs(cc->bearer_tokens, cc->n_bearer_tokens);
		free_strs(cc->api_keys, cc->n_api_keys);
	}
	free(c->consumers);
	free_strs(c->jwt.algorithms, c->jwt.n_algorithms);
	free_strs(c->jwt.audiences, c->jwt.n_audiences);
	free_strs(c->jwt.jwks_files, c->jwt.n_jwks_files);
	free(c->jwt.issuer);
	for (size_t i = 0; i < c->jwt.n_keys; i++) {
		free(c->jwt.keys[i].file);
		free(c->jwt.keys[i].secret);
	}
	free(c->jwt.keys);
	allowlist_free(&c->trusted_proxies);
	for (size_t i = 0; i < c->xdp.n_interfaces; i++)
		free(c->xdp.interfaces[i]);
	for (size_t i = 0; i < c->xdp.n_allowlist_files; i++)
		free(c->xdp.allowlist_files[i]);
	for (size_t i = 0; i < c->xdp.n_deny_files; i++)
		free(c->xdp.deny_files[i]);
	free(c->xdp.deny_files);
	allowlist_free(&c->xdp.deny);
	free(c->listeners);
	free(c->services);
	free(c->routes);
	free(c->xdp.interfaces);
	free(c->xdp.allowlist_files);
	free(c->xdp.ports);
	allowlist_free(&c->xdp.allow);
	free(c->path);
	free(c);
}

static void offset_to_pos(const char *buf, size_t len, size_t off, size_t *line,
			  size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int yaml_error(struct pctx *p, yaml_parser_t *y)
{
	size_t line, col;

	switch (y->error) {
	case YAML_MEMORY_ERROR:
		return -ENOMEM;
	case YAML_READER_ERROR:
		offset_to_pos(p->buf, p->len, y->problem_offset, &line, &col);
		if (y->problem_value != -1)
			err_pos(p, line, col, NULL, "invalid input: %s (byte 0x%02x)",
				y->problem, (unsigned int)y->problem_value & 0xff);
		else
			err_pos(p, line, col, NULL, "invalid input: %s", y->problem);
		return -EINVAL;
	default:
		line = y->problem_mark.line + 1;
		col = y->problem_mark.column + 1;
		if (y->context)
			err_pos(p, line, col, NULL, "syntax error: %s (%s at %zu:%zu)",
				y->problem ? y->problem : "invalid YAML", y->context,
				y->context_mark.line + 1, y->context_mark.column + 1);
		else
			err_pos(p, line, col, NULL, "syntax error: %s",
				y->problem ? y->problem : "invalid YAML");
		return -EINVAL;
	}
}

static int parse_doc(struct pctx *p)
{
	yaml_parser_t y;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int ret = 0;

	if (!yaml_parser_initialize(&y))
		return -ENOMEM;
	yaml_parser_set_input_string(&y, (const unsigned char *)p->buf, p->len);
	if (!yaml_parser_load(&y, &doc)) {
		ret = yaml_error(p, &y);
		yaml_parser_delete(&y);
		return ret;
	}
	p->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root || (cfg_is_null(root) && !root->data.scalar.length)) {
		err_pos(p, 1, 1, NULL, "empty configuration file");
	} else if (root->type != YAML_MAPPING_NODE) {
		cfg_err_type(p, root, NULL, "a mapping at the top level");
	} else {
		/* a second document (or a syntax error after the first) */
		if (!yaml_parser_load(&y, &extra)) {
			ret = yaml_error(p, &y);
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2)
				cfg_err_at(p, r2, NULL,
					   "only one YAML document is allowed");
			yaml_document_delete(&extra);
		}
		if (ret != -ENOMEM) {
			ret = 0;
			apply_defaults(p, &cfg_root_sec, p->cfg);
			walk_map(p, root, &cfg_root_sec, p->cfg, "");
		}
	}
	p->doc = NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&y);
	return ret;
}

static int finish_errors(struct pctx *p, int ret, char **errors)
{
	if (!ret && p->oom)
		ret = -ENOMEM;
	if (!ret && (p->n_errs || p->dropped))
		ret = -EINVAL;
	if (ret == -EINVAL && errors) {
		*errors = join_errors(p);
		if (!*errors)
			ret = -ENOMEM;
	}
	for (size_t i = 0; i < p->n_errs; i++)
		free(p->errs[i].msg);
	free(p->errs);
	p->errs = NULL;
	p->n_errs = p->cap_errs = p->dropped = 0;
	return ret;
}

int config_parse(const char *name, const char *buf, size_t len,
		 struct config **out, char **errors)
{
	struct pctx p = { .name = name ? name : "config", .buf = buf, .len = len };
	const char *slash = strrchr(p.name, '/');
	int ret;

	*out = NULL;
	if (errors)
		*errors = NULL;
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg)
		return -ENOMEM;
	p.cfg->path = strdup(p.name);
	if (slash)
		p.dir = slash == p.name ? strdup("/") :
					  strndup(p.name, (size_t)(slash - p.name));
	if (!p.cfg->path || (slash && !p.dir)) {
		ret = -ENOMEM;
	} else {
		/* "/" + "/x" would give "//x" */
		if (p.dir && !strcmp(p.dir, "/"))
			p.dir[0] = '\0';
		ret = parse_doc(&p);
	}
	free(p.dir);
	ret = finish_errors(&p, ret, errors);
	if (ret) {
		config_free(p.cfg);
		return ret;
	}
	p.cfg->refcount = 1;
	*out = p.cfg;
	return 0;
}

struct config *config_get(struct config *c)
{
	if (c)
		__atomic_fetch_add(&c->refcount, 1, __ATOMIC_RELAXED);
	return c;
}

void config_put(struct config *c)
{
	if (c && __atomic_sub_fetch(&c->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}
