// SPDX-License-Identifier: MIT
/*
 * Configuration: the table walker. cfg_walk_map() checks a mapping's keys
 * against its section table (unknown keys with a "did you mean" hint,
 * duplicate and missing keys), then hands each value to its key's setter
 * in table order, so later keys can refer to earlier ones (routes name
 * services), and last runs the section's whole-section check. The setters
 * (setters.c) call back into it for sections and lists of mappings.
 */
#include "config/config_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

yaml_node_t *cfg_node(struct pctx *p, int id)
{
	return yaml_document_get_node(p->doc, id);
}

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

void cfg_apply_defaults(struct pctx *p, const struct csection *sec,
			void *base)
{
	for (size_t i = 0; i < sec->n_keys; i++)
		sec->keys[i].set(p, &sec->keys[i], NULL, base, NULL);
}

void cfg_walk_map(struct pctx *p, yaml_node_t *map,
		  const struct csection *sec, void *base, const char *path)
{
	yaml_node_t *vals[CFG_MAX_KEYS] = { 0 }, *keys[CFG_MAX_KEYS] = { 0 };
	char sp[160], b[256];

	if (sec->item_size)	/* list item: fresh defaults */
		cfg_apply_defaults(p, sec, base);

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
		k->set(p, k, vals[i], base, sp);
	}
	if (sec->finish)
		sec->finish(p, sec, map, base, path, vals);
}
