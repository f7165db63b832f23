// SPDX-License-Identifier: MIT
/*
 * Configuration: one setter per value type, as NGINX's ngx_conf_set_*_slot
 * functions are. A key's table row names its setter (.set); the walker
 * (walk.c) calls it with the key's value node, and cfg_apply_defaults()
 * calls it with NULL for the key's default (.def_int, .def_str) -- types
 * without a default leave the field as it is (zero). Each setter checks
 * the value with the value parsers (config_value.c), reports what is wrong
 * at the node's line and column, and writes the field at base + k->off
 * (and k->off2 for a count or a length) only when the value is good.
 */
#include "config/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(base, off, type) ((type *)((char *)(base) + (off)))

/* ---- scalars -------------------------------------------------------------- */

/* char[CONFIG_MAX_NAME]: [A-Za-z0-9_.-]{1,63}. */
void cfg_set_name(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	const char *s;
	size_t len;
	char q[256];

	if (!n)
		return;
	if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
		return;
	if (!cfg_name_ok(s, len)) {
		cfg_err_at(p, n, path,
			   "invalid name %s (use A-Z a-z 0-9 _ . -)",
			   cfg_qv(n, q, sizeof(q)));
		return;
	}
	memcpy(FIELD(base, k->off, char), s, len);
	FIELD(base, k->off, char)[len] = '\0';
}

/* A string into char[max + 1]: one of k->choices, or checked by
 * K_ABSPATH / K_USERNAME. Default: def_str when given. */
void cfg_set_strbuf(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		    void *base, const char *path)
{
	const char *s;
	size_t len;
	char q[256];

	if (!n) {
		if (k->def_str)
			strcpy(FIELD(base, k->off, char), k->def_str);
		return;
	}
	if (k->choices) {
		int i = cfg_choice_index(p, n, path, k->choices);

		if (i >= 0)
			strcpy(FIELD(base, k->off, char), k->choices[i]);
		return;
	}
	if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
		return;
	if ((k->flags & K_ABSPATH) && s[0] != '/') {
		cfg_err_at(p, n, path, "must be an absolute path: %s",
			   cfg_qv(n, q, sizeof(q)));
		return;
	}
	if ((k->flags & K_USERNAME) && (!cfg_name_ok(s, len) || s[0] == '-')) {
		cfg_err_at(p, n, path,
			   "invalid user name %s (letters, digits, '_', '.', '-'; not starting with '-')",
			   cfg_qv(n, q, sizeof(q)));
		return;
	}
	memcpy(FIELD(base, k->off, char), s, len);
	FIELD(base, k->off, char)[len] = '\0';
}

/* int: the index of the value in k->choices. */
void cfg_set_enum(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	int i;

	if (!n) {
		*FIELD(base, k->off, int) = (int)k->def_int;
		return;
	}
	i = cfg_choice_index(p, n, path, k->choices);
	if (i >= 0)
		*FIELD(base, k->off, int) = i;
}

void cfg_set_bool(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	bool b;

	if (!n)
		*FIELD(base, k->off, bool) = k->def_int;
	else if (cfg_get_bool(p, n, path, &b))
		*FIELD(base, k->off, bool) = b;
}

/* uint32_t (or unsigned int), k->min..k->max. */
void cfg_set_u32(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		 void *base, const char *path)
{
	long long v;

	if (!n)
		*FIELD(base, k->off, uint32_t) = (uint32_t)k->def_int;
	else if (cfg_get_int(p, n, path, k->min, k->max, &v))
		*FIELD(base, k->off, uint32_t) = (uint32_t)v;
}

/* uint64_t, k->min..k->max. */
void cfg_set_u64(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		 void *base, const char *path)
{
	long long v;

	if (!n)
		*FIELD(base, k->off, uint64_t) = (uint64_t)k->def_int;
	else if (cfg_get_int(p, n, path, k->min, k->max, &v))
		*FIELD(base, k->off, uint64_t) = (uint64_t)v;
}

/* "N/s" -> uint32_t N (1..ALLOWLIST_MAX_RATE). */
void cfg_set_rate(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	uint32_t r;
	char q[256];

	if (!n)
		return;
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
}

/* struct config_addr; K_TARGET refuses unspecified addresses. */
void cfg_set_addr(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	char msg[128];

	if (!n) {
		if (k->def_str)
			cfg_parse_addr(k->def_str, strlen(k->def_str), false,
				       FIELD(base, k->off, struct config_addr),
				       msg, sizeof(msg));
		return;
	}
	cfg_get_addr(p, n, path, k->flags & K_TARGET,
		     FIELD(base, k->off, struct config_addr));
}

/* A checked string into a malloc'd char * at k->off. */
static void set_dup(struct pctx *p, const struct ckey *k, void *base,
		    const char *s, size_t len, bool lower)
{
	char *d = strndup(s, len);

	if (!d) {
		p->oom = true;
		return;
	}
	if (lower)
		for (char *c = d; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	free(*FIELD(base, k->off, char *));
	*FIELD(base, k->off, char *) = d;
}

/* char * starting with '/', its length at k->off2. Default: def_str. */
void cfg_set_path_prefix(struct pctx *p, const struct ckey *k, yaml_node_t *n,
			 void *base, const char *path)
{
	const char *s;
	size_t len;

	if (!n) {
		if (!k->def_str)
			return;
		*FIELD(base, k->off, char *) = strdup(k->def_str);
		if (!*FIELD(base, k->off, char *))
			p->oom = true;
		*FIELD(base, k->off2, size_t) = strlen(k->def_str);
		return;
	}
	if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
		return;
	if (!cfg_get_path_prefix(p, n, path, s, len))
		return;
	set_dup(p, k, base, s, len, false);
	if (!p->oom)
		*FIELD(base, k->off2, size_t) = len;
}

/* char *: a host name or IP literal, lower-cased. */
void cfg_set_host(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	const char *s;
	size_t len;

	if (!n)
		return;
	if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
		return;
	if (cfg_get_host(p, n, path, s, len))
		set_dup(p, k, base, s, len, true);
}

/* char *, as written. */
void cfg_set_str(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		 void *base, const char *path)
{
	const char *s;
	size_t len;

	if (!n)
		return;
	if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
		return;
	set_dup(p, k, base, s, len, false);
}

/* char *: a path, resolved against the config file's directory. */
void cfg_set_file(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	const char *s;
	size_t len;
	char *d;

	if (!n)
		return;
	if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
		return;
	d = cfg_resolve_path(p, s, len);
	if (!d) {
		p->oom = true;
		return;
	}
	free(*FIELD(base, k->off, char *));
	*FIELD(base, k->off, char *) = d;
}

/* size_t: the index of the named service in config.services. */
void cfg_set_service_ref(struct pctx *p, const struct ckey *k, yaml_node_t *n,
			 void *base, const char *path)
{
	const char *s;
	size_t len;
	char q[256];

	if (!n || !cfg_get_str(p, n, path, &s, &len))
		return;
	for (size_t i = 0; i < p->cfg->n_services; i++) {
		if (cfg_sc_eq(n, p->cfg->services[i].name)) {
			*FIELD(base, k->off, size_t) = i;
			return;
		}
	}
	cfg_err_at(p, n, path, "unknown service %s", cfg_qv(n, q, sizeof(q)));
}

/* double 0..1. Default: def_str. */
void cfg_set_ratio(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		   void *base, const char *path)
{
	double d;

	if (!n) {
		*FIELD(base, k->off, double) = strtod(k->def_str, NULL);
		return;
	}
	if (!cfg_get_number(p, n, path, &d))
		return;
	if (d < 0 || d > 1) {
		cfg_err_at(p, n, path, "%.40s is out of range (0-1)",
			   (const char *)n->data.scalar.value);
		return;
	}
	*FIELD(base, k->off, double) = d;
}

/* A mapping walked with k->sub over base + k->off ("admin:" alone is an
 * empty section). Default: the sub table's defaults. */
void cfg_set_section(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		     void *base, const char *path)
{
	if (!n) {
		cfg_apply_defaults(p, k->sub, FIELD(base, k->off, char));
		return;
	}
	if (n->type != YAML_MAPPING_NODE && !cfg_is_null(n)) {
		cfg_err_type(p, n, path, "a mapping");
		return;
	}
	cfg_walk_map(p, n, k->sub, FIELD(base, k->off, char), path);
}

/* ---- sequences ------------------------------------------------------------ */

/*
 * The items of sequence n with k->min..k->max of them into *cnt; false
 * (reported) otherwise. empty: the message for too few items when k->min
 * is 1, NULL for the generic one. null_ok: a null value is no items.
 */
static bool seq_items(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		      const char *path, const char *empty, bool null_ok,
		      size_t *cnt)
{
	if (null_ok && cfg_is_null(n)) {
		*cnt = 0;
	} else if (n->type != YAML_SEQUENCE_NODE) {
		cfg_err_type(p, n, path, "a sequence");
		return false;
	} else {
		*cnt = (size_t)(n->data.sequence.items.top -
				n->data.sequence.items.start);
	}
	if (*cnt < (size_t)k->min) {
		if (empty)
			cfg_err_at(p, n, path, "%s", empty);
		else
			cfg_err_at(p, n, path, "at least %lld %s required",
				   k->min,
				   k->min == 1 ? "entry is" : "entries are");
		return false;
	}
	if (*cnt > (size_t)k->max) {
		cfg_err_at(p, n, path, "too many entries (%zu, max %lld)", *cnt,
			   k->max);
		return false;
	}
	return true;
}

/* cnt zeroed items of isz bytes: pointer at k->off, count at k->off2. */
static char *seq_alloc(struct pctx *p, const struct ckey *k, void *base,
		       size_t cnt, size_t isz)
{
	char *items;

	if (!cnt)
		return NULL;
	items = calloc(cnt, isz);
	if (!items) {
		p->oom = true;
		return NULL;
	}
	*FIELD(base, k->off, char *) = items;
	*FIELD(base, k->off2, size_t) = cnt;
	return items;
}

static yaml_node_t *seq_node(struct pctx *p, yaml_node_t *n, size_t i,
			     char *ip, size_t iplen, const char *path)
{
	snprintf(ip, iplen, "%.100s[%zu]", path, i);
	return cfg_node(p, n->data.sequence.items.start[i]);
}

/* A target written as {address: A, weight: W}. */
static void target_map(struct pctx *p, yaml_node_t *it, const char *ip,
		       struct config_addr *a)
{
	yaml_node_t *addr = NULL, *w = NULL;
	char sp[200], b[256];

	for (yaml_node_pair_t *q = it->data.mapping.pairs.start;
	     q < it->data.mapping.pairs.top; q++) {
		yaml_node_t *key = cfg_node(p, q->key);

		if (cfg_is_scalar(key) && cfg_sc_eq(key, "address"))
			addr = cfg_node(p, q->value);
		else if (cfg_is_scalar(key) && cfg_sc_eq(key, "weight"))
			w = cfg_node(p, q->value);
		else
			cfg_err_at(p, key, ip, "unknown key %s (a target has "
				   "address and weight)",
				   cfg_qv(key, b, sizeof(b)));
	}
	if (!addr) {
		cfg_err_at(p, it, ip, "missing required key 'address'");
		return;
	}
	snprintf(sp, sizeof(sp), "%s.address", ip);
	cfg_get_addr(p, addr, sp, true, a);
	a->weight = 1;
	if (w) {
		long long v;

		snprintf(sp, sizeof(sp), "%s.weight", ip);
		if (cfg_get_int(p, w, sp, 1, 1000, &v))
			a->weight = (uint32_t)v;
	}
}

/* struct config_addr[] at k->off, count at k->off2. */
void cfg_set_addrs(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		   void *base, const char *path)
{
	struct config_addr *items;
	size_t cnt;
	char ip[160];

	if (!n || !seq_items(p, k, n, path, NULL, false, &cnt))
		return;
	items = (struct config_addr *)seq_alloc(p, k, base, cnt, sizeof(*items));
	if (cnt && !items)
		return;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = seq_node(p, n, i, ip, sizeof(ip), path);

		if ((k->flags & K_TARGET) && it->type == YAML_MAPPING_NODE)
			target_map(p, it, ip, items + i);
		else if (cfg_get_addr(p, it, ip, k->flags & K_TARGET, items + i))
			items[i].weight = 1;
	}
}

/* char *[] at k->off, count at k->off2; items checked by k->flags. */
void cfg_set_strs(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	char **items;
	size_t cnt;
	char ip[160];

	if (!n || !seq_items(p, k, n, path, NULL, false, &cnt))
		return;
	items = (char **)seq_alloc(p, k, base, cnt, sizeof(*items));
	if (cnt && !items)
		return;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = seq_node(p, n, i, ip, sizeof(ip), path);

		cfg_get_strs_item(p, k, it, ip, items + i, items, i);
	}
}

/* A sequence of names, each OR-ed into the uint32_t mask at k->off by get;
 * empty is an error that says what to do instead. */
static void set_mask_seq(struct pctx *p, const struct ckey *k,
			 yaml_node_t *n, void *base, const char *path,
			 const char *if_empty,
			 bool (*get)(struct pctx *, const yaml_node_t *,
				     const char *, uint32_t *))
{
	size_t cnt;
	char ip[160];

	if (!n || !seq_items(p, k, n, path, if_empty, false, &cnt))
		return;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = seq_node(p, n, i, ip, sizeof(ip), path);

		get(p, it, ip, FIELD(base, k->off, uint32_t));
	}
}

/* Method names -> uint32_t CFG_M_* mask. */
void cfg_set_methods(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		     void *base, const char *path)
{
	set_mask_seq(p, k, n, base, path,
		     "must not be empty (omit it to allow any method)",
		     cfg_get_method);
}

/* bearer|key|jwt -> uint32_t AUTH_M_* mask. */
void cfg_set_auth(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	set_mask_seq(p, k, n, base, path,
		     "must not be empty (omit it for a route without authentication)",
		     cfg_get_auth_method);
}

/* CIDRs -> struct allowlist at k->off. */
void cfg_set_cidrs(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		   void *base, const char *path)
{
	size_t cnt;
	char ip[160];

	if (!n || !seq_items(p, k, n, path, NULL, false, &cnt))
		return;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = seq_node(p, n, i, ip, sizeof(ip), path);

		cfg_get_cidr(p, it, ip, FIELD(base, k->off, struct allowlist));
	}
}

/* Numbers > 0, strictly increasing: double[] at k->off, count at k->off2
 * (set only when all are good). */
void cfg_set_buckets(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		     void *base, const char *path)
{
	double *bk = FIELD(base, k->off, double);
	size_t cnt;
	char ip[160];

	if (!n)
		return;
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
		yaml_node_t *it = seq_node(p, n, i, ip, sizeof(ip), path);

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

				if (key->set == cfg_set_addr) {
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

/* Mappings walked with k->sub: items at k->off, count at k->off2; a null
 * value is an empty list. K_UNIQUE keys are checked across the items. */
void cfg_set_list(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		  void *base, const char *path)
{
	size_t cnt, isz = k->sub->item_size;
	char *items;
	char ip[160];

	if (!n || !seq_items(p, k, n, path, NULL, true, &cnt))
		return;
	items = seq_alloc(p, k, base, cnt, isz);
	if (cnt && !items)
		return;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = seq_node(p, n, i, ip, sizeof(ip), path);

		if (it && it->type == YAML_MAPPING_NODE)
			cfg_walk_map(p, it, k->sub, items + i * isz, ip);
		else
			cfg_err_type(p, it, ip, "a mapping");
	}
	if (cnt < 2)
		return;
	/* all items must be mappings for check_unique */
	for (size_t i = 0; i < cnt; i++)
		if (cfg_node(p, n->data.sequence.items.start[i])->type !=
		    YAML_MAPPING_NODE)
			return;
	check_unique(p, k, base, n, path);
}

/* ---- route match keys (values checked in routes.c) ------------------------ */

/* long long, k->min..k->max. */
void cfg_set_i64(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		 void *base, const char *path)
{
	long long v;

	if (!n)
		*FIELD(base, k->off, long long) = k->def_int;
	else if (cfg_get_int(p, n, path, k->min, k->max, &v))
		*FIELD(base, k->off, long long) = v;
}

/* Host patterns ("*.example.com" allowed) -> char *[] at k->off, count at
 * k->off2; a host given twice is an error. */
void cfg_set_hosts(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		   void *base, const char *path)
{
	char **items;
	size_t cnt, got = 0;
	char ip[160];

	if (!n || !seq_items(p, k, n, path,
			     "must not be empty (omit it to match any host)",
			     false, &cnt))
		return;
	items = (char **)seq_alloc(p, k, base, cnt, sizeof(*items));
	if (!items)
		return;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = seq_node(p, n, i, ip, sizeof(ip), path);
		const char *s;
		size_t len;
		char *h = NULL;
		bool dup = false;

		if (!cfg_get_str(p, it, ip, &s, &len) ||
		    !cfg_str_max(p, it, ip, len, k->max) ||
		    !cfg_get_host_pattern(p, it, ip, s, len, &h))
			continue;
		for (size_t j = 0; j < got && !dup; j++)
			dup = !strcmp(items[j], h);
		if (dup) {
			cfg_err_at(p, it, ip, "duplicate host '%s'", h);
			free(h);
			continue;
		}
		items[got++] = h;
	}
	*FIELD(base, k->off2, size_t) = got;
}

/* A POSIX extended regular expression: the pattern (char *) at k->off, its
 * compiled form (regex_t *, matching the whole path) at k->off2. */
void cfg_set_regex(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		   void *base, const char *path)
{
	const char *s;
	size_t len;
	void *re = NULL;

	if (!n)
		return;
	if (!cfg_get_str(p, n, path, &s, &len) || !cfg_str_max(p, n, path, len, k->max))
		return;
	if (!cfg_get_regex(p, n, path, s, len, &re))
		return;
	set_dup(p, k, base, s, len, false);
	if (p->oom) {
		cfg_regex_free(re);
		return;
	}
	cfg_regex_free(*FIELD(base, k->off2, void *));
	*FIELD(base, k->off2, void *) = re;
}

/* A mapping of name: value or name: [values] -> struct config_match[] at
 * k->off, count at k->off2 (k->min..k->max names, none twice). */
void cfg_set_matches(struct pctx *p, const struct ckey *k, yaml_node_t *n,
		     void *base, const char *path)
{
	struct config_match *m;
	size_t cnt, got = 0;
	bool header = k->flags & K_HEADER;
	char ip[160];

	if (!n)
		return;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_err_type(p, n, path, "a mapping (name: value or name: [values])");
		return;
	}
	cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (cnt < (size_t)k->min || cnt > (size_t)k->max) {
		cfg_err_at(p, n, path, "%lld to %lld names, got %zu", k->min,
			   k->max, cnt);
		return;
	}
	m = (struct config_match *)seq_alloc(p, k, base, cnt, sizeof(*m));
	if (!m)
		return;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
		yaml_node_t *kn = cfg_node(p, pr->key);
		yaml_node_t *vn = cfg_node(p, pr->value);
		bool dup = false;

		cfg_subpath(ip, sizeof(ip), path,
			    cfg_is_scalar(kn) ? (const char *)kn->data.scalar.value : "?");
		if (!cfg_get_match(p, kn, vn, ip, header, &m[got])) {
			got++;	/* freed with the others */
			continue;
		}
		for (size_t j = 0; j < got && !dup; j++)
			dup = m[j].name && m[j].name_len == m[got].name_len &&
			      !memcmp(m[j].name, m[got].name, m[got].name_len);
		if (dup)
			cfg_err_at(p, kn, ip, "'%s' is given twice%s", m[got].name,
				   header ? " (header names are case-insensitive)" : "");
		got++;
	}
	*FIELD(base, k->off2, size_t) = got;
}
