// SPDX-License-Identifier: MIT
/*
 * Configuration: YAML (libyaml document API) -> immutable snapshot.
 *
 * Table-driven: every section is a table of keys (name, setter, bounds,
 * default, flags; config_keys.c). The walker (walk.c) checks a mapping's
 * keys against its table and hands each value to its key's setter
 * (setters.c), in table order. Every error is collected with its line and
 * column (errors.c); the caller gets all of them, sorted by position, one
 * per line.
 *
 * This file is the entry point: config_parse() (the YAML document, then the
 * root table) and the snapshot's lifetime (config_get/config_put). The
 * snapshot is plain data; what policy/ builds from it is attached by
 * policy_build() and freed through c->release. config_int.h is what the
 * module's files share.
 */
#include "config/config_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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
	for (size_t i = 0; i < c->n_services; i++) {
		free(c->services[i].targets);
		free_strs(c->services[i].health.expect,
			  c->services[i].health.n_expect);
		free(c->services[i].tls.ca);
		free(c->services[i].tls.sni);
		free(c->services[i].tls.cert);
		free(c->services[i].tls.key);
	}
	if (c->release)		/* what a builder attached (policy_build()) */
		c->release(c);
	for (size_t i = 0; i < c->n_routes; i++) {
		free(c->routes[i].path_prefix);
		free(c->routes[i].host);
		cfg_route_free(&c->routes[i]);
		auth_policy_free(&c->routes[i].auth);
		free_limits(c->routes[i].limits, c->routes[i].n_limits);
	}
	free_limits(c->limits, c->n_limits);
	for (size_t i = 0; i < c->n_consumers; i++) {
		struct config_consumer *cc = &c->consumers[i];

		free_strs(cc->roles, cc->n_roles);
		free_strs(cc->bearer_tokens, cc->n_bearer_tokens);
		free_strs(cc->api_keys, cc->n_api_keys);
		free_strs(cc->client_certs, cc->n_client_certs);
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
	if (c->tls && c->tls_release)
		c->tls_release(c->tls);
	for (size_t i = 0; i < c->n_listeners; i++) {
		struct config_tls *t = &c->listeners[i].tls;

		for (size_t j = 0; j < t->n_certs; j++) {
			free(t->certs[j].cert);
			free(t->certs[j].key);
		}
		free(t->certs);
		free_strs(t->alpn, t->n_alpn);
		free(t->client_ca);
		free(t->hsts);
	}
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
	free(c->dns.servers);
	free(c->path);
	pthread_mutex_destroy(&c->state_lock);
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
			cfg_err_pos(p, line, col, NULL, "invalid input: %s (byte 0x%02x)",
				y->problem, (unsigned int)y->problem_value & 0xff);
		else
			cfg_err_pos(p, line, col, NULL, "invalid input: %s", y->problem);
		return -EINVAL;
	default:
		line = y->problem_mark.line + 1;
		col = y->problem_mark.column + 1;
		if (y->context)
			cfg_err_pos(p, line, col, NULL, "syntax error: %s (%s at %zu:%zu)",
				y->problem ? y->problem : "invalid YAML", y->context,
				y->context_mark.line + 1, y->context_mark.column + 1);
		else
			cfg_err_pos(p, line, col, NULL, "syntax error: %s",
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
		cfg_err_pos(p, 1, 1, NULL, "empty configuration file");
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
			cfg_apply_defaults(p, &cfg_root_sec, p->cfg);
			cfg_walk_map(p, root, &cfg_root_sec, p->cfg, "");
		}
	}
	p->doc = NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&y);
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
	if (p.cfg)
		pthread_mutex_init(&p.cfg->state_lock, NULL);
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
	ret = cfg_errors_finish(&p, ret, errors);
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
