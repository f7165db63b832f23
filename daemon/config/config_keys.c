// SPDX-License-Identifier: MIT
/*
 * Configuration: the key tables of every section -- one entry per key with
 * its type, bounds, default and flags -- and the whole-section checks that
 * run once a section's keys are parsed (csection.finish). Table order is
 * parse order. The engine that walks them is config.c.
 */
#include "config/config_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/abi.h"

/* ---- key tables ----------------------------------------------------------- */

#define KEYS(a) (a), (sizeof(a) / sizeof((a)[0]))

static const char *const xdp_modes[] = { "auto", "native", "generic", NULL };
static const char *const xdp_scopes[] = { "guarded", "all", NULL };
/* order: the CFG_PATH_PARAMS_* and CFG_ESCAPED_SLASHES_* values */
static const char *const path_params_modes[] = { "reject", "strip", NULL };
static const char *const escaped_slashes_modes[] = { "reject", "keep", NULL };
static const char *const log_levels[] = { "error", "warn", "info", "debug",
					  NULL };

static void xdp_finish(struct pctx *p, yaml_node_t *map, void *base,
		       const char *path, yaml_node_t **vals);
static void allowlist_finish(struct pctx *p, yaml_node_t *map, void *base,
			     const char *path, yaml_node_t **vals);
static void root_finish(struct pctx *p, yaml_node_t *map, void *base,
			const char *path, yaml_node_t **vals);
static void access_log_finish(struct pctx *p, yaml_node_t *map, void *base,
			      const char *path, yaml_node_t **vals);
static void rate_finish(struct pctx *p, yaml_node_t *map, void *base,
			const char *path, yaml_node_t **vals);

#define L(f) offsetof(struct config_listener, f)
static const struct ckey listener_keys[] = {
	{ "name", KT_NAME, L(name), 0, 1, CONFIG_MAX_NAME - 1, .flags = K_REQUIRED | K_UNIQUE },
	{ "address", KT_ADDR, L(addr), .flags = K_REQUIRED | K_UNIQUE },
	{ "proxy_protocol", KT_BOOL, L(proxy_protocol), .def_int = 0 },
	{ "defer_accept", KT_BOOL, L(defer_accept), .def_int = 1 },
};
#undef L
static const struct csection listener_sec = {
	"listener", KEYS(listener_keys), sizeof(struct config_listener), NULL
};

#define S(f) offsetof(struct config_service, f)
static const struct ckey service_keys[] = {
	{ "name", KT_NAME, S(name), 0, 1, CONFIG_MAX_NAME - 1, .flags = K_REQUIRED | K_UNIQUE | K_RELOAD },
	{ "targets", KT_ADDRS, S(targets), S(n_targets), 1, 256, .flags = K_REQUIRED | K_TARGET | K_RELOAD },
	{ "connect_timeout_ms", KT_U32, S(connect_timeout_ms), 0, 1, 600000, .def_int = 2000, .flags = K_RELOAD },
	{ "max_idle", KT_U32, S(max_idle), 0, 0, 4096, .def_int = 32, .flags = K_RELOAD },
	{ "idle_timeout_ms", KT_U32, S(idle_timeout_ms), 0, 1, 3600000, .def_int = 30000, .flags = K_RELOAD },
};
#undef S
static const struct csection service_sec = {
	"service", KEYS(service_keys), sizeof(struct config_service), NULL
};

/* ---- issue 5: auth, limits, escalation ---- */
static const char *const rl_keys[] = { "consumer", "ip", "route", "global", NULL };
static const char *const roles_modes[] = { "any", "all", NULL };

static void limit_finish(struct pctx *p, yaml_node_t *map, void *base,
			 const char *path, yaml_node_t **vals);
static void consumer_finish(struct pctx *p, yaml_node_t *map, void *base,
			    const char *path, yaml_node_t **vals);
static void jwt_finish(struct pctx *p, yaml_node_t *map, void *base,
		       const char *path, yaml_node_t **vals);
static void jwt_key_finish(struct pctx *p, yaml_node_t *map, void *base,
			   const char *path, yaml_node_t **vals);
static void route_finish(struct pctx *p, yaml_node_t *map, void *base,
			 const char *path, yaml_node_t **vals);

#define LM(f) offsetof(struct config_limit, f)
static const struct ckey limit_keys[] = {
	{ "key", KT_ENUM, LM(key), .flags = K_REQUIRED | K_RELOAD, .choices = rl_keys },
	{ "rates", KT_STRS, LM(rates), LM(n_rates), 1, RL_MAX_WINDOWS, .flags = K_REQUIRED | K_RAW | K_RELOAD },
	{ "max_keys", KT_U32, LM(max_keys), 0, 64, 1 << 24, .def_int = RL_DEFAULT_MAX_KEYS, .flags = K_RELOAD },
};
#undef LM
static const struct csection limit_sec = {
	"limit", KEYS(limit_keys), sizeof(struct config_limit), limit_finish
};

#define CO(f) offsetof(struct config_consumer, f)
static const struct ckey consumer_keys[] = {
	{ "name", KT_NAME, CO(name), 0, 1, CONFIG_MAX_NAME - 1, .flags = K_REQUIRED | K_UNIQUE | K_RELOAD },
	{ "roles", KT_STRS, CO(roles), CO(n_roles), 0, AUTH_MAX_ROLES, .flags = K_RAW | K_RELOAD },
	{ "bearer_tokens", KT_STRS, CO(bearer_tokens), CO(n_bearer_tokens), 0, 64, .flags = K_RAW | K_RELOAD },
	{ "api_keys", KT_STRS, CO(api_keys), CO(n_api_keys), 0, 64, .flags = K_RAW | K_RELOAD },
};
#undef CO
static const struct csection consumer_sec = {
	"consumer", KEYS(consumer_keys), sizeof(struct config_consumer), consumer_finish
};

#define JK(f) offsetof(struct config_jwt_key, f)
static const struct ckey jwt_key_keys[] = {
	{ "file", KT_FILE, JK(file), 0, 1, PATH_MAX - 1, .flags = K_RELOAD },
	{ "secret", KT_STR, JK(secret), 0, 1, PATH_MAX - 1, .flags = K_RELOAD },
	{ "kid", KT_STRBUF, JK(kid), 0, 1, AUTH_JWT_MAX_KID - 1, .flags = K_RELOAD },
	{ "alg", KT_STRBUF, JK(alg), 0, 1, 15, .flags = K_RELOAD },
};
#undef JK
static const struct csection jwt_key_sec = {
	"jwt key", KEYS(jwt_key_keys), sizeof(struct config_jwt_key), jwt_key_finish
};

#define J(f) offsetof(struct config_jwt, f)
static const struct ckey jwt_keys[] = {
	{ "algorithms", KT_STRS, J(algorithms), J(n_algorithms), 1, AUTH_JWT_ALG_MAX, .flags = K_RAW | K_RELOAD },
	{ "issuer", KT_STR, J(issuer), 0, 1, 1024, .flags = K_RELOAD },
	{ "audiences", KT_STRS, J(audiences), J(n_audiences), 1, 32, .flags = K_RAW | K_RELOAD },
	{ "leeway_s", KT_U32, J(leeway_s), 0, 0, 3600, .def_int = 30, .flags = K_RELOAD },
	{ "require_exp", KT_BOOL, J(require_exp), .def_int = 1, .flags = K_RELOAD },
	{ "consumer_claim", KT_STRBUF, J(consumer_claim), 0, 1, 63, .def_str = "sub", .flags = K_RELOAD },
	{ "roles_claim", KT_STRBUF, J(roles_claim), 0, 0, 63, .def_str = "roles", .flags = K_RELOAD },
	{ "keys", KT_LIST, J(keys), J(n_keys), 0, 256, .flags = K_RELOAD, .sub = &jwt_key_sec },
	{ "jwks", KT_STRS, J(jwks_files), J(n_jwks_files), 0, 16, .flags = K_FILE | K_RELOAD },
};
#undef J
static const struct csection jwt_sec = { "jwt", KEYS(jwt_keys), 0, jwt_finish };

#define E(f) offsetof(struct config_escalation, f)
static const struct ckey escalation_keys[] = {
	{ "enabled", KT_BOOL, E(enabled), .def_int = 0, .flags = K_RELOAD },
	{ "threshold", KT_U32, E(threshold), 0, 1, 1000000, .def_int = 20, .flags = K_RELOAD },
	{ "window_s", KT_U32, E(window_s), 0, 1, 86400, .def_int = 60, .flags = K_RELOAD },
	{ "ban_s", KT_U32, E(ban_s), 0, 1, 30 * 86400, .def_int = 600, .flags = K_RELOAD },
	{ "count_rate_limited", KT_BOOL, E(count_rate_limited), .def_int = 1, .flags = K_RELOAD },
	{ "count_auth_failures", KT_BOOL, E(count_auth_failures), .def_int = 1, .flags = K_RELOAD },
};
#undef E
static const struct csection escalation_sec = { "escalation", KEYS(escalation_keys), 0, NULL };

#define R(f) offsetof(struct config_route, f)
static const struct ckey route_keys[] = {
	{ "name", KT_NAME, R(name), 0, 1, CONFIG_MAX_NAME - 1, .flags = K_REQUIRED | K_UNIQUE | K_RELOAD },
	{ "path_prefix", KT_PATH_PREFIX, R(path_prefix), R(path_prefix_len), 1, 1024, .def_str = "/", .flags = K_RELOAD },
	{ "service", KT_SERVICE_REF, R(service), .flags = K_REQUIRED | K_RELOAD },
	{ "methods", KT_METHODS, R(methods), 0, 1, 16, .flags = K_RELOAD },
	{ "host", KT_HOST, R(host), 0, 1, 253, .flags = K_RELOAD },
	{ "max_body_bytes", KT_U64, R(max_body_bytes), 0, 0, 1ll << 62, .def_int = -1, .flags = K_RELOAD },
	/* issue 5 */
	{ "auth", KT_AUTH, R(auth.methods), 0, 1, 3, .flags = K_RELOAD },
	{ "anonymous", KT_BOOL, R(auth.anonymous), .def_int = 0, .flags = K_RELOAD },
	{ "roles", KT_STRS, R(auth.roles), R(auth.n_roles), 1, 64, .flags = K_RAW | K_RELOAD },
	{ "roles_mode", KT_ENUM, R(auth.roles_mode), .def_int = AUTH_ROLES_ANY, .flags = K_RELOAD, .choices = roles_modes },
	{ "key_header", KT_STRBUF, R(auth.key_header), 0, 1, AUTH_NAME_MAX - 1, .def_str = AUTH_DEFAULT_KEY_HEADER, .flags = K_RELOAD },
	{ "key_query", KT_STRBUF, R(auth.key_query), 0, 1, AUTH_NAME_MAX - 1, .flags = K_RELOAD },
	{ "strip_credentials", KT_BOOL, R(auth.strip), .def_int = 1, .flags = K_RELOAD },
	{ "allow_cidrs", KT_CIDRS, R(auth.allow), 0, 0, 4096, .flags = K_RELOAD },
	{ "deny_cidrs", KT_CIDRS, R(auth.deny), 0, 0, 4096, .flags = K_RELOAD },
	{ "limits", KT_LIST, R(limits), R(n_limits), 0, 16, .flags = K_RELOAD, .sub = &limit_sec },
	{ "ratelimit_headers", KT_BOOL, R(ratelimit_headers), .def_int = 0, .flags = K_RELOAD },
};
#undef R
static const struct csection route_sec = {
	"route", KEYS(route_keys), sizeof(struct config_route), route_finish
};

#define X(f) offsetof(struct config_xdp, f)
static const struct ckey allowlist_keys[] = {
	{ "enabled", KT_BOOL, X(allowlist_enabled), .def_int = 0, .flags = K_RELOAD },
	{ "files", KT_STRS, X(allowlist_files), X(n_allowlist_files), 0, 256, .flags = K_FILE | K_RELOAD },
};
static const struct csection allowlist_sec = {
	"allowlist", KEYS(allowlist_keys), 0, allowlist_finish
};

static const struct ckey denylist_keys[] = {
	{ "files", KT_STRS, X(deny_files), X(n_deny_files), 0, 256, .flags = K_FILE | K_RELOAD },
};
static const struct csection denylist_sec = { "denylist", KEYS(denylist_keys), 0, NULL };

static const struct ckey rate_keys[] = {
	{ "rate", KT_RATE, X(rate.rate), .flags = K_RELOAD },
	{ "burst", KT_U32, X(rate.burst), 0, 1, ALLOWLIST_MAX_RATE, .def_int = 0, .flags = K_RELOAD },
	{ "syn", KT_RATE, X(rate.syn), .flags = K_RELOAD },
	{ "syn_burst", KT_U32, X(rate.syn_burst), 0, 1, ALLOWLIST_MAX_RATE, .def_int = 0, .flags = K_RELOAD },
	{ "ipv6_prefix", KT_U32, X(rate_v6_prefix), 0, 1, 128, .def_int = SLUICE_DEF_V6_PREFIX, .flags = K_RELOAD },
	{ "table_size", KT_U32, X(rate_table_size), 0, 1024, 1 << 24, .def_int = SLUICE_DEF_SRC_ENTRIES },
};
static const struct csection rate_sec = { "rate_limit", KEYS(rate_keys), 0, rate_finish };

static const struct ckey xdp_keys[] = {
	{ "enabled", KT_BOOL, X(enabled), .def_int = 1 },
	{ "interfaces", KT_STRS, X(interfaces), X(n_interfaces), 0, 64, .flags = K_IFNAME },
	{ "mode", KT_ENUM, X(mode), .def_int = CFG_XDP_AUTO, .choices = xdp_modes },
	{ "pin_path", KT_STRBUF, X(pin_path), 0, 1, sizeof(((struct config_xdp *)0)->pin_path) - 1,
	  .def_str = SLUICE_PIN_ROOT, .flags = K_ABSPATH },
	{ "allowlist", KT_SECTION, 0, .sub = &allowlist_sec },
	{ "denylist", KT_SECTION, 0, .sub = &denylist_sec },
	{ "scope", KT_ENUM, X(scope), .def_int = CFG_XDP_SCOPE_GUARDED, .choices = xdp_scopes, .flags = K_RELOAD },
	{ "persist", KT_BOOL, X(persist), .def_int = 0 },
	{ "rate_limit", KT_SECTION, 0, .sub = &rate_sec },
	{ "drop_sample", KT_U32, X(drop_sample), 0, 0, 1 << 30, .def_int = 1 << SLUICE_DEF_SAMPLE_SHIFT, .flags = K_RELOAD },
};
#undef X
static const struct csection xdp_sec = { "xdp", KEYS(xdp_keys), 0, xdp_finish };

#define C(f) offsetof(struct config, f)
static const struct ckey admin_keys[] = {
	{ "enabled", KT_BOOL, C(admin_enabled), .def_int = 1 },
	{ "address", KT_ADDR, C(admin), .def_str = "127.0.0.1:9900" },
	{ "socket", KT_STRBUF, C(admin_socket), 0, 1, sizeof(((struct config *)0)->admin_socket) - 1,
	  .def_str = "/run/sluice/admin.sock", .flags = K_ABSPATH },
};
static const struct csection admin_sec = { "admin", KEYS(admin_keys), 0, NULL };

#define A(f) offsetof(struct config_access_log, f)
static const char *const log_formats[] = { "json", "combined", NULL };
static const struct ckey access_log_keys[] = {
	{ "path", KT_STRBUF, A(path), 0, 1, sizeof(((struct config_access_log *)0)->path) - 1, .flags = 0 },
	{ "format", KT_ENUM, A(format), .def_int = CFG_LOG_JSON, .flags = K_RELOAD, .choices = log_formats },
	{ "sample", KT_RATIO, A(sample), .def_str = "1", .flags = K_RELOAD },
	{ "buffer_kb", KT_U32, A(buffer_kb), 0, 16, 65536, .def_int = 256 },
};
#undef A
static const struct csection access_log_sec = {
	"access_log", KEYS(access_log_keys), 0, access_log_finish
};

#define M(f) offsetof(struct config_metrics, f)
static const struct ckey metrics_keys[] = {
	{ "enabled", KT_BOOL, M(enabled), .def_int = 1 },
	{ "request_duration_buckets", KT_BUCKETS, M(request_buckets), M(n_request_buckets), 1, CONFIG_MAX_BUCKETS, .flags = 0 },
	{ "upstream_duration_buckets", KT_BUCKETS, M(upstream_buckets), M(n_upstream_buckets), 1, CONFIG_MAX_BUCKETS, .flags = 0 },
};
#undef M
static const struct csection metrics_sec = { "metrics", KEYS(metrics_keys), 0, NULL };

static const struct ckey logging_keys[] = {
	{ "level", KT_STRBUF, C(log_level), 0, 1, sizeof(((struct config *)0)->log_level) - 1,
	  .def_str = "info", .flags = K_RELOAD, .choices = log_levels },
	{ "access_log", KT_SECTION, C(access_log), .sub = &access_log_sec },
};
#define H(f) offsetof(struct config_http, f)
static const struct ckey http_keys[] = {
	{ "header_timeout_ms", KT_U32, H(header_timeout_ms), 0, 100, 3600000, .def_int = 10000, .flags = K_RELOAD },
	{ "body_timeout_ms", KT_U32, H(body_timeout_ms), 0, 100, 3600000, .def_int = 30000, .flags = K_RELOAD },
	{ "keepalive_timeout_ms", KT_U32, H(keepalive_timeout_ms), 0, 100, 3600000, .def_int = 60000, .flags = K_RELOAD },
	{ "response_timeout_ms", KT_U32, H(response_timeout_ms), 0, 100, 3600000, .def_int = 60000, .flags = K_RELOAD },
	{ "tunnel_timeout_ms", KT_U32, H(tunnel_timeout_ms), 0, 100, 86400000, .def_int = 600000, .flags = K_RELOAD },
	{ "drain_timeout_ms", KT_U32, H(drain_timeout_ms), 0, 0, 3600000, .def_int = 10000, .flags = K_RELOAD },
	{ "max_header_bytes", KT_U32, H(max_header_bytes), 0, 1024, 1 << 20, .def_int = 32768 },
	{ "max_uri_bytes", KT_U32, H(max_uri_bytes), 0, 64, 1 << 20, .def_int = 8192, .flags = K_RELOAD },
	{ "max_body_bytes", KT_U64, H(max_body_bytes), 0, 0, 1ll << 62, .def_int = 0, .flags = K_RELOAD },
	{ "max_connections", KT_U32, H(max_connections), 0, 1, 1000000, .def_int = 10000 },
	{ "splice_min_bytes", KT_U32, H(splice_min_bytes), 0, 0, 1 << 30, .def_int = 8192, .flags = K_RELOAD },
	{ "receive_buffers", KT_U32, H(receive_buffers), 0, 16, 32768, .def_int = 512 },
	{ "upstream_buffers", KT_U32, H(upstream_buffers), 0, 16, 16384, .def_int = 128 },
	{ "path_params", KT_ENUM, H(path_params), .def_int = CFG_PATH_PARAMS_REJECT, .flags = K_RELOAD, .choices = path_params_modes },
	{ "escaped_slashes", KT_ENUM, H(escaped_slashes), .def_int = CFG_ESCAPED_SLASHES_REJECT, .flags = K_RELOAD, .choices = escaped_slashes_modes },
};
#undef H
static void http_finish(struct pctx *p, yaml_node_t *map, void *base,
			const char *path, yaml_node_t **vals);
static const struct csection http_sec = { "http", KEYS(http_keys), 0, http_finish };

static const struct csection logging_sec = { "logging", KEYS(logging_keys), 0, NULL };

/* Table order is parse order: services before routes. */
static const struct ckey root_keys[] = {
	{ "listeners", KT_LIST, C(listeners), C(n_listeners), 1, SLUICE_MAX_PORTS, .flags = K_REQUIRED, .sub = &listener_sec },
	{ "admin", KT_SECTION, 0, .sub = &admin_sec },
	{ "xdp", KT_SECTION, C(xdp), .sub = &xdp_sec },
	{ "services", KT_LIST, C(services), C(n_services), 0, 4096, .flags = K_RELOAD, .sub = &service_sec },
	/* issue 5: parsed before routes, which refer to them */
	{ "consumers", KT_LIST, C(consumers), C(n_consumers), 0, 100000, .flags = K_RELOAD, .sub = &consumer_sec },
	{ "jwt", KT_SECTION, C(jwt), .flags = K_RELOAD, .sub = &jwt_sec },
	{ "trusted_proxies", KT_CIDRS, C(trusted_proxies), 0, 0, 4096, .flags = K_RELOAD },
	{ "limits", KT_LIST, C(limits), C(n_limits), 0, 16, .flags = K_RELOAD, .sub = &limit_sec },
	{ "escalation", KT_SECTION, C(escalation), .flags = K_RELOAD, .sub = &escalation_sec },
	{ "auth_realm", KT_STRBUF, C(auth_realm), 0, 1, AUTH_NAME_MAX - 1, .def_str = "sluice", .flags = K_RELOAD },
	{ "routes", KT_LIST, C(routes), C(n_routes), 0, 4096, .flags = K_RELOAD, .sub = &route_sec },
	{ "http", KT_SECTION, C(http), .sub = &http_sec },
	{ "workers", KT_U32, C(workers), 0, 0, 256, .def_int = 0 },
	{ "user", KT_STRBUF, C(user), 0, 1, sizeof(((struct config *)0)->user) - 1, .def_str = "", .flags = K_USERNAME },
	{ "logging", KT_SECTION, 0, .sub = &logging_sec },
	{ "metrics", KT_SECTION, C(metrics), .sub = &metrics_sec },
};
#undef C
const struct csection cfg_root_sec = {
	"config", KEYS(root_keys), 0, root_finish
};

/* walk_map() (config.c) keeps per-key state in arrays of CFG_MAX_KEYS */
#define N_KEYS(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(N_KEYS(listener_keys) <= CFG_MAX_KEYS && N_KEYS(service_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(route_keys) <= CFG_MAX_KEYS && N_KEYS(allowlist_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(xdp_keys) <= CFG_MAX_KEYS && N_KEYS(admin_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(logging_keys) <= CFG_MAX_KEYS && N_KEYS(root_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(access_log_keys) <= CFG_MAX_KEYS && N_KEYS(metrics_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(limit_keys) <= CFG_MAX_KEYS && N_KEYS(consumer_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(jwt_key_keys) <= CFG_MAX_KEYS && N_KEYS(jwt_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(escalation_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(denylist_keys) <= CFG_MAX_KEYS && N_KEYS(rate_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(http_keys) <= CFG_MAX_KEYS,
	       "a key table outgrew CFG_MAX_KEYS");
#undef N_KEYS

/* ---- whole-section checks ----------------------------------------------------- */

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

static void allowlist_finish(struct pctx *p, yaml_node_t *map, void *base,
			     const char *path, yaml_node_t **vals)
{
	struct config_xdp *x = base;
	yaml_node_t *en = val_of(&allowlist_sec, vals, "enabled");
	yaml_node_t *files = val_of(&allowlist_sec, vals, "files");

	if (!en)	/* default: enabled if files are given */
		x->allowlist_enabled = x->n_allowlist_files > 0;
	else if (x->allowlist_enabled && (!files || empty_seq(files)))
		cfg_err_at(p, en, path,
			   "enabled but no 'files' given (to drop all traffic to the guarded ports, list an empty file)");
}

static void access_log_finish(struct pctx *p, yaml_node_t *map, void *base,
			      const char *path, yaml_node_t **vals)
{
	struct config_access_log *a = base;
	yaml_node_t *pn = val_of(&access_log_sec, vals, "path");

	if (pn && a->path[0] && a->path[0] != '/' && strcmp(a->path, "-") &&
	    strcmp(a->path, "stdout")) {
		char q[256], sp[160];

		cfg_subpath(sp, sizeof(sp), path, "path");
		cfg_err_at(p, pn, sp, "must be an absolute path, '-' or 'stdout': %s",
			   cfg_qv(pn, q, sizeof(q)));
	}
}

static void xdp_finish(struct pctx *p, yaml_node_t *map, void *base,
		       const char *path, yaml_node_t **vals)
{
	struct config_xdp *x = base;
	yaml_node_t *ifs = val_of(&xdp_sec, vals, "interfaces");
	yaml_node_t *en = val_of(&xdp_sec, vals, "enabled");
	yaml_node_t *ds = val_of(&xdp_sec, vals, "drop_sample");
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

/* ---- issue 5 section checks ---- */

static yaml_node_t *seq_item(struct pctx *p, yaml_node_t *seq, size_t i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE ||
	    (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start) <= i)
		return seq;
	return cfg_node(p, seq->data.sequence.items.start[i]);
}

static void limit_finish(struct pctx *p, yaml_node_t *map, void *base,
			 const char *path, yaml_node_t **vals)
{
	struct config_limit *l = base;
	yaml_node_t *rates = val_of(&limit_sec, vals, "rates");
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

static void consumer_finish(struct pctx *p, yaml_node_t *map, void *base,
			    const char *path, yaml_node_t **vals)
{
	struct config_consumer *c = base;
	yaml_node_t *bt = val_of(&consumer_sec, vals, "bearer_tokens");
	yaml_node_t *ak = val_of(&consumer_sec, vals, "api_keys");
	char sp[192];

	cfg_subpath(sp, sizeof(sp), path, "roles");
	check_roles(p, val_of(&consumer_sec, vals, "roles"), sp, c->roles,
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

static void jwt_key_finish(struct pctx *p, yaml_node_t *map, void *base,
			   const char *path, yaml_node_t **vals)
{
	struct config_jwt_key *k = base;
	yaml_node_t *alg = val_of(&jwt_key_sec, vals, "alg");
	char sp[192];

	if (!k->file == !k->secret)
		cfg_err_at(p, map, path, "needs exactly one of 'file' (a PEM public key) or 'secret' (HS256/384/512)");
	if (k->secret) {
		cfg_subpath(sp, sizeof(sp), path, "secret");
		check_secret(p, val_of(&jwt_key_sec, vals, "secret"), sp, k->secret, false);
	}
	if (alg && k->alg[0] && auth_jwt_alg_from_name(k->alg, strlen(k->alg)) < 0) {
		cfg_subpath(sp, sizeof(sp), path, "alg");
		cfg_err_at(p, alg, sp,
			   "unknown algorithm '%s' (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA)",
			   k->alg);
	}
}

static void jwt_finish(struct pctx *p, yaml_node_t *map, void *base,
		       const char *path, yaml_node_t **vals)
{
	struct config_jwt *j = base;
	yaml_node_t *algs = val_of(&jwt_sec, vals, "algorithms");
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

static void route_finish(struct pctx *p, yaml_node_t *map, void *base,
			 const char *path, yaml_node_t **vals)
{
	struct config_route *r = base;
	yaml_node_t *auth = val_of(&route_sec, vals, "auth");
	yaml_node_t *kq = val_of(&route_sec, vals, "key_query");
	yaml_node_t *kh = val_of(&route_sec, vals, "key_header");
	char sp[192];

	cfg_subpath(sp, sizeof(sp), path, "roles");
	check_roles(p, val_of(&route_sec, vals, "roles"), sp, r->auth.roles,
		    r->auth.n_roles);
	if ((r->auth.methods & AUTH_M_JWT) && !p->cfg->jwt.enabled) {
		cfg_subpath(sp, sizeof(sp), path, "auth");
		cfg_err_at(p, auth, sp, "'jwt' needs a top-level 'jwt' section (keys, issuer, ...)");
	}
	if (!r->auth.methods) {
		const char *needs[] = { "roles", "anonymous" };

		for (size_t i = 0; i < 2; i++) {
			yaml_node_t *v = val_of(&route_sec, vals, needs[i]);

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

static void http_finish(struct pctx *p, yaml_node_t *map, void *base,
			const char *path, yaml_node_t **vals)
{
	struct config_http *h = base;
	yaml_node_t *n = val_of(&http_sec, vals, "max_uri_bytes");
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
		n = val_of(&http_sec, vals, pools[i]);
		if (!n || !(counts[i] & (counts[i] - 1)))
			continue;
		cfg_subpath(sp, sizeof(sp), path, pools[i]);
		cfg_err_at(p, n, sp,
			   "must be a power of two (16, 32, 64, ...), got %u",
			   counts[i]);
	}
}

/* A burst without its rate limits nothing: say so rather than ignore it. */
static void rate_finish(struct pctx *p, yaml_node_t *map, void *base,
			const char *path, yaml_node_t **vals)
{
	yaml_node_t *rate = val_of(&rate_sec, vals, "rate");
	yaml_node_t *burst = val_of(&rate_sec, vals, "burst");
	yaml_node_t *syn = val_of(&rate_sec, vals, "syn");
	yaml_node_t *syn_burst = val_of(&rate_sec, vals, "syn_burst");
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

static int port_cmp(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

static void root_finish(struct pctx *p, yaml_node_t *map, void *base,
			const char *path, yaml_node_t **vals)
{
	struct config *c = base;
	size_t n = 0;

	yaml_node_t *admin = val_of(&cfg_root_sec, vals, "admin");

	if (!admin)
		c->admin_enabled = false;	/* no admin section: no admin */
	if (!val_of(&cfg_root_sec, vals, "xdp") && c->xdp.enabled)
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
