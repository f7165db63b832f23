// SPDX-License-Identifier: MIT
/*
 * Configuration: the whole-section checks, one per section that needs one
 * (csection.finish in the key tables, config_keys.c): what no single
 * key's setter can see -- keys that need each other, exclusive keys,
 * lists that must not repeat, values checked against other sections.
 * Each runs once its section's keys are parsed, with their value nodes.
 */
#include "config/config_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/abi.h"

static yaml_node_t *val_of(const struct csection *sec, yaml_node_t **vals,
			   const char *name)
{
	for (size_t i = 0; i < sec->n_keys; i++)
		if (!strcmp(sec->keys[i].name, name))
			return vals[i];
	return NULL;
}

static bool empty_seq(const yaml_node_t *n)
{
	return cfg_is_null(n) || (n->type == YAML_SEQUENCE_NODE &&
			      n->data.sequence.items.top == n->data.sequence.items.start);
}

void cfg_allowlist_finish(struct pctx *p, const struct csection *sec,
			  yaml_node_t *map, void *base, const char *path,
			  yaml_node_t **vals)
{
	struct config_xdp *x = base;
	yaml_node_t *en = val_of(sec, vals, "enabled");
	yaml_node_t *files = val_of(sec, vals, "files");

	if (!en)	/* default: enabled if files are given */
		x->allowlist_enabled = x->n_allowlist_files > 0;
	else if (x->allowlist_enabled && (!files || empty_seq(files)))
		cfg_err_at(p, en, path,
			   "enabled but no 'files' given (to drop all traffic to the guarded ports, list an empty file)");
}

void cfg_access_log_finish(struct pctx *p, const struct csection *sec,
			   yaml_node_t *map, void *base, const char *path,
			   yaml_node_t **vals)
{
	struct config_access_log *a = base;
	yaml_node_t *pn = val_of(sec, vals, "path");

	if (pn && a->path[0] && a->path[0] != '/' && strcmp(a->path, "-") &&
	    strcmp(a->path, "stdout")) {
		char q[256], sp[160];

		cfg_subpath(sp, sizeof(sp), path, "path");
		cfg_err_at(p, pn, sp, "must be an absolute path, '-' or 'stdout': %s",
			   cfg_qv(pn, q, sizeof(q)));
	}
}

void cfg_cookie_finish(struct pctx *p, const struct csection *sec,
		       yaml_node_t *map, void *base, const char *path,
		       yaml_node_t **vals)
{
	struct config_xdp *x = base;

	(void)p;
	(void)map;
	(void)path;
	if (!val_of(sec, vals, "syn_rate"))
		x->cookie_syn_rate = CFG_DEF_COOKIE_SYN_RATE;
}

void cfg_xdp_finish(struct pctx *p, const struct csection *sec,
		    yaml_node_t *map, void *base, const char *path,
		    yaml_node_t **vals)
{
	struct config_xdp *x = base;
	yaml_node_t *ifs = val_of(sec, vals, "interfaces");
	yaml_node_t *en = val_of(sec, vals, "enabled");
	yaml_node_t *ds = val_of(sec, vals, "drop_sample");
	char sp[64];
	bool b;

	if (ds && x->drop_sample & (x->drop_sample - 1)) {
		cfg_subpath(sp, sizeof(sp), path, "drop_sample");
		cfg_err_at(p, ds, sp,
			   "must be 0 (off) or a power of two (1, 2, 4, ... 1073741824), got %u",
			   x->drop_sample);
	}

	if (!x->enabled || x->n_interfaces || (en && !cfg_bool_value(en, &b)))
		return;	/* (a bad 'enabled' was reported already) */
	cfg_subpath(sp, sizeof(sp), path, "interfaces");
	if (!ifs)
		cfg_err_at(p, map, path,
			   "missing required key 'interfaces' (required when xdp is enabled)");
	else if (empty_seq(ifs))
		cfg_err_at(p, ifs, sp, "at least 1 entry is required when xdp is enabled");
}

/* ---- auth and limit section checks ---- */

static yaml_node_t *seq_item(struct pctx *p, yaml_node_t *seq, size_t i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE ||
	    (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start) <= i)
		return seq;
	return cfg_node(p, seq->data.sequence.items.start[i]);
}

void cfg_limit_finish(struct pctx *p, const struct csection *sec,
		      yaml_node_t *map, void *base, const char *path,
		      yaml_node_t **vals)
{
	struct config_limit *l = base;
	yaml_node_t *rates = val_of(sec, vals, "rates");
	char msg[256], sp[192];

	l->limit.key = (enum rl_key_kind)l->key;
	l->limit.max_keys = l->max_keys;
	l->limit.n_windows = 0;
	for (size_t i = 0; i < l->n_rates && i < RL_MAX_WINDOWS; i++) {
		if (!l->rates[i])
			continue;
		if (rl_parse_window(l->rates[i], &l->limit.windows[i], msg,
				    sizeof(msg))) {
			snprintf(sp, sizeof(sp), "%.150s.rates[%zu]", path, i);
			cfg_err_at(p, seq_item(p, rates, i), sp, "%s", msg);
			continue;
		}
		l->limit.n_windows++;
	}
	if (l->scope != CFG_SCOPE_CLUSTER)
		return;
	cfg_subpath(sp, sizeof(sp), path, "scope");
	if (!p->cfg->cluster.enabled)
		cfg_err_at(p, val_of(sec, vals, "scope"), sp,
			   "scope 'cluster' needs a top-level 'cluster' section (redis, node, ...)");
	else if (l->n_rates != 1 || (l->limit.n_windows == 1 &&
				     l->limit.windows[0].burst !=
				     l->limit.windows[0].limit))
		cfg_err_at(p, val_of(sec, vals, "scope"), sp,
			   "a cluster limit takes exactly one rate, without 'burst' (a fixed window of N per period shared by all hosts)");
}

/* cluster: the Redis address ("HOST:PORT", "[V6]:PORT" or an absolute
 * Unix socket path) and the password reference. */
void cfg_cluster_finish(struct pctx *p, const struct csection *sec,
			yaml_node_t *map, void *base, const char *path,
			yaml_node_t **vals)
{
	struct config_cluster *c = base;
	yaml_node_t *rn = val_of(sec, vals, "redis");
	yaml_node_t *pw = val_of(sec, vals, "password");
	yaml_node_t *nn = val_of(sec, vals, "node");
	const char *a = c->redis, *colon;
	char sp[96];
	bool ok = true;

	(void)map;
	c->enabled = true;
	if (rn && a[0] && a[0] != '/') {
		char *end;
		unsigned long port;

		colon = strrchr(a, ':');
		ok = colon && colon != a && colon[1];
		if (ok) {
			port = strtoul(colon + 1, &end, 10);
			ok = !*end && port >= 1 && port <= 65535 &&
			     colon[1] >= '0' && colon[1] <= '9';
		}
		if (ok && a[0] == '[')
			ok = colon[-1] == ']' && colon - a > 2;
		else if (ok)
			ok = !memchr(a, ':', (size_t)(colon - a)) &&
			     strspn(a, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
			     (size_t)(colon - a);
		if (!ok) {
			cfg_subpath(sp, sizeof(sp), path, "redis");
			cfg_err_at(p, rn, sp,
				   "bad Redis address '%s' (HOST:PORT such as 127.0.0.1:6379, [::1]:6379, or an absolute Unix socket path)",
				   a);
		}
	}
	if (pw && c->password[0]) {
		const char *v = c->password + 4;

		cfg_subpath(sp, sizeof(sp), path, "password");
		if (!strncmp(c->password, "env:", 4))
			ok = *v && strspn(v, "abcdefghijklmnopqrstuvwxyz"
					  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
				   strlen(v) && !(*v >= '0' && *v <= '9');
		else
			ok = !strncmp(c->password, "file:", 5) &&
			     c->password[5];
		if (!ok)
			cfg_err_at(p, pw, sp,
				   "must be 'env:NAME' or 'file:PATH' (the password itself is not written in the config)");
	}
	if (nn && c->node[0] &&
	    strspn(c->node, "abcdefghijklmnopqrstuvwxyz"
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
	    strlen(c->node)) {
		cfg_subpath(sp, sizeof(sp), path, "node");
		cfg_err_at(p, nn, sp,
			   "node name '%s': use letters, digits, '.', '-' and '_'",
			   c->node);
	}
}

/* A secret reference: "sha256:<hex>" (hash_ok), "file:PATH" or "env:NAME". */
static void check_secret(struct pctx *p, yaml_node_t *n, const char *path,
			 const char *spec, bool hash_ok)
{
	uint8_t h[AUTH_DIGEST_LEN];
	char msg[256];

	if (!strncmp(spec, "file:", 5)) {
		if (!spec[5])
			cfg_err_at(p, n, path, "'file:' needs a path");
		return;
	}
	if (!strncmp(spec, "env:", 4)) {
		const char *v = spec + 4;
		bool ok = (*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') || *v == '_';

		for (; ok && *v; v++)
			ok = (*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
			     (*v >= '0' && *v <= '9') || *v == '_';
		if (!ok)
			cfg_err_at(p, n, path, "'env:' needs a variable name ([A-Za-z_][A-Za-z0-9_]*)");
		return;
	}
	if (!hash_ok) {
		cfg_err_at(p, n, path,
			   "an HMAC secret must be 'file:PATH' or 'env:NAME' (the key itself is needed, not its hash)");
		return;
	}
	if (auth_parse_hash(spec, h, msg, sizeof(msg)))
		cfg_err_at(p, n, path, "%s", msg);
}

static void check_roles(struct pctx *p, yaml_node_t *seq, const char *path,
			char **roles, size_t n)
{
	char sp[192];

	for (size_t i = 0; i < n; i++) {
		if (!roles[i] || auth_name_valid(roles[i], strlen(roles[i])))
			continue;
		snprintf(sp, sizeof(sp), "%.150s[%zu]", path, i);
		cfg_err_at(p, seq_item(p, seq, i), sp,
			   "invalid role name '%.64s' (1-63 visible characters, no spaces, quotes, '\\' or ',')",
			   roles[i]);
	}
}

void cfg_consumer_finish(struct pctx *p, const struct csection *sec,
			 yaml_node_t *map, void *base, const char *path,
			 yaml_node_t **vals)
{
	struct config_consumer *c = base;
	yaml_node_t *bt = val_of(sec, vals, "bearer_tokens");
	yaml_node_t *ak = val_of(sec, vals, "api_keys");
	char sp[192];

	cfg_subpath(sp, sizeof(sp), path, "roles");
	check_roles(p, val_of(sec, vals, "roles"), sp, c->roles,
		    c->n_roles);
	for (size_t i = 0; i < c->n_bearer_tokens; i++) {
		snprintf(sp, sizeof(sp), "%.150s.bearer_tokens[%zu]", path, i);
		if (c->bearer_tokens[i])
			check_secret(p, seq_item(p, bt, i), sp, c->bearer_tokens[i], true);
	}
	for (size_t i = 0; i < c->n_api_keys; i++) {
		snprintf(sp, sizeof(sp), "%.150s.api_keys[%zu]", path, i);
		if (c->api_keys[i])
			check_secret(p, seq_item(p, ak, i), sp, c->api_keys[i], true);
	}
}

void cfg_jwt_key_finish(struct pctx *p, const struct csection *sec,
			yaml_node_t *map, void *base, const char *path,
			yaml_node_t **vals)
{
	struct config_jwt_key *k = base;
	yaml_node_t *alg = val_of(sec, vals, "alg");
	char sp[192];

	if (!k->file == !k->secret)
		cfg_err_at(p, map, path, "needs exactly one of 'file' (a PEM public key) or 'secret' (HS256/384/512)");
	if (k->secret) {
		cfg_subpath(sp, sizeof(sp), path, "secret");
		check_secret(p, val_of(sec, vals, "secret"), sp, k->secret, false);
	}
	if (alg && k->alg[0] && auth_jwt_alg_from_name(k->alg, strlen(k->alg)) < 0) {
		cfg_subpath(sp, sizeof(sp), path, "alg");
		cfg_err_at(p, alg, sp,
			   "unknown algorithm '%s' (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA)",
			   k->alg);
	}
}

void cfg_jwt_finish(struct pctx *p, const struct csection *sec,
		    yaml_node_t *map, void *base, const char *path,
		    yaml_node_t **vals)
{
	struct config_jwt *j = base;
	yaml_node_t *algs = val_of(sec, vals, "algorithms");
	char sp[192];

	j->enabled = true;
	for (size_t i = 0; i < j->n_algorithms; i++) {
		if (!j->algorithms[i] ||
		    auth_jwt_alg_from_name(j->algorithms[i], strlen(j->algorithms[i])) >= 0)
			continue;
		snprintf(sp, sizeof(sp), "%.150s.algorithms[%zu]", path, i);
		cfg_err_at(p, seq_item(p, algs, i), sp,
			   "unknown algorithm '%.32s' (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA; 'none' is never accepted)",
			   j->algorithms[i]);
	}
	if (!j->n_keys && !j->n_jwks_files)
		cfg_err_at(p, map, path, "needs 'keys' or 'jwks' (where the verification keys are)");
}

void cfg_route_finish(struct pctx *p, const struct csection *sec,
		      yaml_node_t *map, void *base, const char *path,
		      yaml_node_t **vals)
{
	struct config_route *r = base;
	yaml_node_t *auth = val_of(sec, vals, "auth");
	yaml_node_t *kq = val_of(sec, vals, "key_query");
	yaml_node_t *kh = val_of(sec, vals, "key_header");
	char sp[192];

	yaml_node_t *const rn[CFG_ROUTE_NODES] = {
		val_of(sec, vals, "path_prefix"),
		val_of(sec, vals, "path_exact"),
		val_of(sec, vals, "path_regex"),
		val_of(sec, vals, "host"),
		val_of(sec, vals, "hosts"),
		val_of(sec, vals, "strip_prefix"),
		val_of(sec, vals, "rewrite_prefix"),
	};

	cfg_route_check(p, map, r, path, rn);
	cfg_subpath(sp, sizeof(sp), path, "roles");
	check_roles(p, val_of(sec, vals, "roles"), sp, r->auth.roles,
		    r->auth.n_roles);
	if ((r->auth.methods & AUTH_M_JWT) && !p->cfg->jwt.enabled) {
		cfg_subpath(sp, sizeof(sp), path, "auth");
		cfg_err_at(p, auth, sp, "'jwt' needs a top-level 'jwt' section (keys, issuer, ...)");
	}
	if (!r->auth.methods) {
		const char *needs[] = { "roles", "anonymous" };

		for (size_t i = 0; i < 2; i++) {
			yaml_node_t *v = val_of(sec, vals, needs[i]);

			if (v) {
				cfg_subpath(sp, sizeof(sp), path, needs[i]);
				cfg_err_at(p, v, sp, "needs 'auth' (the accepted credentials)");
			}
		}
	}
	if (kh && r->auth.key_header[0] && !cfg_name_ok(r->auth.key_header, strlen(r->auth.key_header))) {
		cfg_subpath(sp, sizeof(sp), path, "key_header");
		cfg_err_at(p, kh, sp, "invalid header name '%s'", r->auth.key_header);
	}
	if (kq && r->auth.key_query[0] && !cfg_name_ok(r->auth.key_query, strlen(r->auth.key_query))) {
		cfg_subpath(sp, sizeof(sp), path, "key_query");
		cfg_err_at(p, kq, sp, "invalid query parameter name '%s' (use A-Z a-z 0-9 _ . -)",
			   r->auth.key_query);
	}
}

void cfg_http_finish(struct pctx *p, const struct csection *sec,
		     yaml_node_t *map, void *base, const char *path,
		     yaml_node_t **vals)
{
	struct config_http *h = base;
	yaml_node_t *n = val_of(sec, vals, "max_uri_bytes");
	static const char *const pools[] = { "receive_buffers",
					     "upstream_buffers" };
	const uint32_t counts[] = { h->receive_buffers, h->upstream_buffers };
	char sp[64];

	if (h->max_uri_bytes >= h->max_header_bytes)
		cfg_err_at(p, n ? n : map, n ? "http.max_uri_bytes" : path,
			   "must be smaller than http.max_header_bytes (%u)",
			   h->max_header_bytes);
	/* the kernel's buffer rings hold a power of two */
	for (size_t i = 0; i < 2; i++) {
		n = val_of(sec, vals, pools[i]);
		if (!n || !(counts[i] & (counts[i] - 1)))
			continue;
		cfg_subpath(sp, sizeof(sp), path, pools[i]);
		cfg_err_at(p, n, sp,
			   "must be a power of two (16, 32, 64, ...), got %u",
			   counts[i]);
	}
}

/* A burst without its rate limits nothing: say so rather than ignore it. */
void cfg_rate_finish(struct pctx *p, const struct csection *sec,
		     yaml_node_t *map, void *base, const char *path,
		     yaml_node_t **vals)
{
	yaml_node_t *rate = val_of(sec, vals, "rate");
	yaml_node_t *burst = val_of(sec, vals, "burst");
	yaml_node_t *syn = val_of(sec, vals, "syn");
	yaml_node_t *syn_burst = val_of(sec, vals, "syn_burst");
	char sp[96];

	(void)base;
	if (burst && !rate) {
		cfg_subpath(sp, sizeof(sp), path, "burst");
		cfg_err_at(p, burst, sp, "burst needs a rate (add rate: N/s)");
	}
	if (syn_burst && !syn) {
		cfg_subpath(sp, sizeof(sp), path, "syn_burst");
		cfg_err_at(p, syn_burst, sp, "syn_burst needs a syn rate (add syn: N/s)");
	}
}

/* tls: present (the section's keys are parsed only then) */
void cfg_tls_finish(struct pctx *p, const struct csection *sec,
		    yaml_node_t *map, void *base, const char *path,
		    yaml_node_t **vals)
{
	struct config_tls *t = base;

	t->enabled = true;
	for (const char *s = t->hsts; s && *s; s++)
		if (*s < 0x20 || *s > 0x7e) {
			cfg_err_at(p, map, path,
				   "hsts: only printable ASCII may go in a header value");
			break;
		}
	if (t->client_auth != CFG_CLIENT_AUTH_NONE && !t->client_ca)
		cfg_err_at(p, map, path,
			   "client_auth '%s' needs client_ca (the CAs that sign client certificates)",
			   cfg_client_auth_modes[t->client_auth]);
}

/* services[].tls: present (enabled unless it says enabled: false) */
void cfg_up_tls_finish(struct pctx *p, const struct csection *sec,
		       yaml_node_t *map, void *base, const char *path,
		       yaml_node_t **vals)
{
	struct config_upstream_tls *t = base;

	(void)vals;
	if (!t->enabled)
		return;
	if (!t->cert != !t->key)
		cfg_err_at(p, map, path,
			   "cert and key go together (a client certificate needs its key)");
	for (const char *s = t->sni; s && *s; s++)
		if (*s <= 0x20 || *s > 0x7e) {
			cfg_err_at(p, map, path,
				   "sni: a host name (printable ASCII, no spaces)");
			break;
		}
}

void cfg_listener_finish(struct pctx *p, const struct csection *sec,
			 yaml_node_t *map, void *base, const char *path,
			 yaml_node_t **vals)
{
	struct config_listener *l = base;

	if (l->tls.enabled && l->proxy_protocol)
		cfg_err_at(p, map, path,
			   "tls and proxy_protocol cannot be combined yet");
	if (l->tls.enabled && l->redirect_https)
		cfg_err_at(p, map, path,
			   "redirect_https is for a plain listener, this one has tls");
	if (l->tls.enabled && l->h2c)
		cfg_err_at(p, map, path,
			   "h2c is for a plain listener; with tls, offer h2 in tls.alpn");
}

static int port_cmp(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

void cfg_root_finish(struct pctx *p, const struct csection *sec,
		     yaml_node_t *map, void *base, const char *path,
		     yaml_node_t **vals)
{
	struct config *c = base;
	size_t n = 0;

	yaml_node_t *admin = val_of(sec, vals, "admin");

	if (!admin)
		c->admin_enabled = false;	/* no admin section: no admin */
	if (!val_of(sec, vals, "xdp") && c->xdp.enabled)
		cfg_err_at(p, map, path,
			   "missing required key 'xdp' (xdp is enabled by default and needs 'interfaces'; set xdp.enabled: false to run without it)");
	if (c->admin_enabled) {
		yaml_node_t *an = cfg_map_get(p, admin, "address");

		for (size_t i = 0; i < c->n_listeners; i++) {
			if (!cfg_addr_eq(&c->listeners[i].addr, &c->admin))
				continue;
			cfg_err_at(p, an ? an : admin,
				   an ? "admin.address" : "admin",
				   "address '%s' is also used by listeners[%zu]",
				   c->admin.text, i);
			break;
		}
	}

	for (size_t i = 0; i < c->n_routes; i++)
		if (c->routes[i].max_body_bytes == CONFIG_INHERIT)
			c->routes[i].max_body_bytes = c->http.max_body_bytes;
	cfg_routes_check(p, c);
	if (!c->n_listeners)
		return;
	c->xdp.ports = calloc(c->n_listeners, sizeof(uint16_t));
	if (!c->xdp.ports) {
		p->oom = true;
		return;
	}
	for (size_t i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].addr.port)
			c->xdp.ports[n++] = c->listeners[i].addr.port;
	qsort(c->xdp.ports, n, sizeof(uint16_t), port_cmp);
	c->xdp.n_ports = 0;
	for (size_t i = 0; i < n; i++)
		if (!c->xdp.n_ports || c->xdp.ports[c->xdp.n_ports - 1] != c->xdp.ports[i])
			c->xdp.ports[c->xdp.n_ports++] = c->xdp.ports[i];
}

/* min_ttl_ms <= max_ttl_ms. */
void cfg_dns_finish(struct pctx *p, const struct csection *sec,
		    yaml_node_t *map, void *base, const char *path,
		    yaml_node_t **vals)
{
	struct config_dns *d = base;
	yaml_node_t *mx = val_of(sec, vals, "max_ttl_ms");
	char sp[160];

	if (d->min_ttl_ms <= d->max_ttl_ms)
		return;
	cfg_subpath(sp, sizeof(sp), path, "max_ttl_ms");
	cfg_err_at(p, mx ? mx : map, sp,
		   "max_ttl_ms (%u) is below min_ttl_ms (%u)", d->max_ttl_ms,
		   d->min_ttl_ms);
}
