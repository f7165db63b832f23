// SPDX-License-Identifier: MIT
/*
 * Configuration: the key tables of every section -- one row per key with
 * its setter (the value type, setters.c), bounds, default and flags, named
 * initialisers only -- and the whole-section checks that run once a
 * section's keys are parsed (csection.finish). Table order is parse order.
 * The walker is walk.c.
 */
#include "config/config_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/abi.h"

/* ---- key tables ----------------------------------------------------------- */

#define N_KEYS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const xdp_modes[] = { "auto", "native", "generic", NULL };
static const char *const xdp_scopes[] = { "guarded", "all", NULL };
static const char *const xdp_cookies[] = { "false", "true", "auto", NULL };
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
static void cookie_finish(struct pctx *p, yaml_node_t *map, void *base,
			  const char *path, yaml_node_t **vals);

#define L(f) offsetof(struct config_listener, f)
static const struct ckey listener_keys[] = {
	{ .name = "name", .set = cfg_set_name, .off = L(name), .min = 1,
	  .max = CONFIG_MAX_NAME - 1, .flags = K_REQUIRED | K_UNIQUE },
	{ .name = "address", .set = cfg_set_addr, .off = L(addr),
	  .flags = K_REQUIRED | K_UNIQUE },
	{ .name = "proxy_protocol", .set = cfg_set_bool,
	  .off = L(proxy_protocol), .def_int = 0 },
	{ .name = "defer_accept", .set = cfg_set_bool, .off = L(defer_accept),
	  .def_int = 1 },
};
#undef L
static const struct csection listener_sec = {
	.what = "listener",
	.keys = listener_keys,
	.n_keys = N_KEYS(listener_keys),
	.item_size = sizeof(struct config_listener),
};

#define S(f) offsetof(struct config_service, f)
static const struct ckey service_keys[] = {
	{ .name = "name", .set = cfg_set_name, .off = S(name), .min = 1,
	  .max = CONFIG_MAX_NAME - 1,
	  .flags = K_REQUIRED | K_UNIQUE | K_RELOAD },
	{ .name = "targets", .set = cfg_set_addrs, .off = S(targets),
	  .off2 = S(n_targets), .min = 1, .max = 256,
	  .flags = K_REQUIRED | K_TARGET | K_RELOAD },
	{ .name = "connect_timeout_ms", .set = cfg_set_u32,
	  .off = S(connect_timeout_ms), .min = 1, .max = 600000,
	  .def_int = 2000, .flags = K_RELOAD },
	{ .name = "max_idle", .set = cfg_set_u32, .off = S(max_idle),
	  .max = 4096, .def_int = 32, .flags = K_RELOAD },
	{ .name = "idle_timeout_ms", .set = cfg_set_u32,
	  .off = S(idle_timeout_ms), .min = 1, .max = 3600000, .def_int = 30000,
	  .flags = K_RELOAD },
};
#undef S
static const struct csection service_sec = {
	.what = "service",
	.keys = service_keys,
	.n_keys = N_KEYS(service_keys),
	.item_size = sizeof(struct config_service),
};

/* ---- auth, limits, escalation ---- */
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
	{ .name = "key", .set = cfg_set_enum, .off = LM(key),
	  .flags = K_REQUIRED | K_RELOAD, .choices = rl_keys },
	{ .name = "rates", .set = cfg_set_strs, .off = LM(rates),
	  .off2 = LM(n_rates), .min = 1, .max = RL_MAX_WINDOWS,
	  .flags = K_REQUIRED | K_RAW | K_RELOAD },
	{ .name = "max_keys", .set = cfg_set_u32, .off = LM(max_keys),
	  .min = 64, .max = 1 << 24, .def_int = RL_DEFAULT_MAX_KEYS,
	  .flags = K_RELOAD },
};
#undef LM
static const struct csection limit_sec = {
	.what = "limit",
	.keys = limit_keys,
	.n_keys = N_KEYS(limit_keys),
	.item_size = sizeof(struct config_limit),
	.finish = limit_finish,
};

#define CO(f) offsetof(struct config_consumer, f)
static const struct ckey consumer_keys[] = {
	{ .name = "name", .set = cfg_set_name, .off = CO(name), .min = 1,
	  .max = CONFIG_MAX_NAME - 1,
	  .flags = K_REQUIRED | K_UNIQUE | K_RELOAD },
	{ .name = "roles", .set = cfg_set_strs, .off = CO(roles),
	  .off2 = CO(n_roles), .max = AUTH_MAX_ROLES,
	  .flags = K_RAW | K_RELOAD },
	{ .name = "bearer_tokens", .set = cfg_set_strs,
	  .off = CO(bearer_tokens), .off2 = CO(n_bearer_tokens), .max = 64,
	  .flags = K_RAW | K_RELOAD },
	{ .name = "api_keys", .set = cfg_set_strs, .off = CO(api_keys),
	  .off2 = CO(n_api_keys), .max = 64, .flags = K_RAW | K_RELOAD },
};
#undef CO
static const struct csection consumer_sec = {
	.what = "consumer",
	.keys = consumer_keys,
	.n_keys = N_KEYS(consumer_keys),
	.item_size = sizeof(struct config_consumer),
	.finish = consumer_finish,
};

#define JK(f) offsetof(struct config_jwt_key, f)
static const struct ckey jwt_key_keys[] = {
	{ .name = "file", .set = cfg_set_file, .off = JK(file), .min = 1,
	  .max = PATH_MAX - 1, .flags = K_RELOAD },
	{ .name = "secret", .set = cfg_set_str, .off = JK(secret), .min = 1,
	  .max = PATH_MAX - 1, .flags = K_RELOAD },
	{ .name = "kid", .set = cfg_set_strbuf, .off = JK(kid), .min = 1,
	  .max = AUTH_JWT_MAX_KID - 1, .flags = K_RELOAD },
	{ .name = "alg", .set = cfg_set_strbuf, .off = JK(alg), .min = 1,
	  .max = 15, .flags = K_RELOAD },
};
#undef JK
static const struct csection jwt_key_sec = {
	.what = "jwt key",
	.keys = jwt_key_keys,
	.n_keys = N_KEYS(jwt_key_keys),
	.item_size = sizeof(struct config_jwt_key),
	.finish = jwt_key_finish,
};

#define J(f) offsetof(struct config_jwt, f)
static const struct ckey jwt_keys[] = {
	{ .name = "algorithms", .set = cfg_set_strs, .off = J(algorithms),
	  .off2 = J(n_algorithms), .min = 1, .max = AUTH_JWT_ALG_MAX,
	  .flags = K_RAW | K_RELOAD },
	{ .name = "issuer", .set = cfg_set_str, .off = J(issuer), .min = 1,
	  .max = 1024, .flags = K_RELOAD },
	{ .name = "audiences", .set = cfg_set_strs, .off = J(audiences),
	  .off2 = J(n_audiences), .min = 1, .max = 32,
	  .flags = K_RAW | K_RELOAD },
	{ .name = "leeway_s", .set = cfg_set_u32, .off = J(leeway_s),
	  .max = 3600, .def_int = 30, .flags = K_RELOAD },
	{ .name = "require_exp", .set = cfg_set_bool, .off = J(require_exp),
	  .def_int = 1, .flags = K_RELOAD },
	{ .name = "consumer_claim", .set = cfg_set_strbuf,
	  .off = J(consumer_claim), .min = 1, .max = 63, .def_str = "sub",
	  .flags = K_RELOAD },
	{ .name = "roles_claim", .set = cfg_set_strbuf, .off = J(roles_claim),
	  .max = 63, .def_str = "roles", .flags = K_RELOAD },
	{ .name = "keys", .set = cfg_set_list, .off = J(keys),
	  .off2 = J(n_keys), .max = 256, .flags = K_RELOAD,
	  .sub = &jwt_key_sec },
	{ .name = "jwks", .set = cfg_set_strs, .off = J(jwks_files),
	  .off2 = J(n_jwks_files), .max = 16, .flags = K_FILE | K_RELOAD },
};
#undef J
static const struct csection jwt_sec = {
	.what = "jwt",
	.keys = jwt_keys,
	.n_keys = N_KEYS(jwt_keys),
	.finish = jwt_finish,
};

#define E(f) offsetof(struct config_escalation, f)
static const struct ckey escalation_keys[] = {
	{ .name = "enabled", .set = cfg_set_bool, .off = E(enabled),
	  .def_int = 0, .flags = K_RELOAD },
	{ .name = "threshold", .set = cfg_set_u32, .off = E(threshold),
	  .min = 1, .max = 1000000, .def_int = 20, .flags = K_RELOAD },
	{ .name = "window_s", .set = cfg_set_u32, .off = E(window_s), .min = 1,
	  .max = 86400, .def_int = 60, .flags = K_RELOAD },
	{ .name = "ban_s", .set = cfg_set_u32, .off = E(ban_s), .min = 1,
	  .max = 30 * 86400, .def_int = 600, .flags = K_RELOAD },
	{ .name = "count_rate_limited", .set = cfg_set_bool,
	  .off = E(count_rate_limited), .def_int = 1, .flags = K_RELOAD },
	{ .name = "count_auth_failures", .set = cfg_set_bool,
	  .off = E(count_auth_failures), .def_int = 1, .flags = K_RELOAD },
};
#undef E
static const struct csection escalation_sec = {
	.what = "escalation",
	.keys = escalation_keys,
	.n_keys = N_KEYS(escalation_keys),
};

#define R(f) offsetof(struct config_route, f)
static const struct ckey route_keys[] = {
	{ .name = "name", .set = cfg_set_name, .off = R(name), .min = 1,
	  .max = CONFIG_MAX_NAME - 1,
	  .flags = K_REQUIRED | K_UNIQUE | K_RELOAD },
	{ .name = "path_prefix", .set = cfg_set_path_prefix,
	  .off = R(path_prefix), .off2 = R(path_prefix_len), .min = 1,
	  .max = 1024, .def_str = "/", .flags = K_RELOAD },
	{ .name = "service", .set = cfg_set_service_ref, .off = R(service),
	  .flags = K_REQUIRED | K_RELOAD },
	{ .name = "methods", .set = cfg_set_methods, .off = R(methods),
	  .min = 1, .max = 16, .flags = K_RELOAD },
	{ .name = "host", .set = cfg_set_host, .off = R(host), .min = 1,
	  .max = 253, .flags = K_RELOAD },
	{ .name = "max_body_bytes", .set = cfg_set_u64,
	  .off = R(max_body_bytes), .max = 1ll << 62, .def_int = -1,
	  .flags = K_RELOAD },
	/* authentication, roles, L7 address policy */
	{ .name = "auth", .set = cfg_set_auth, .off = R(auth.methods), .min = 1,
	  .max = 3, .flags = K_RELOAD },
	{ .name = "anonymous", .set = cfg_set_bool, .off = R(auth.anonymous),
	  .def_int = 0, .flags = K_RELOAD },
	{ .name = "roles", .set = cfg_set_strs, .off = R(auth.roles),
	  .off2 = R(auth.n_roles), .min = 1, .max = 64,
	  .flags = K_RAW | K_RELOAD },
	{ .name = "roles_mode", .set = cfg_set_enum, .off = R(auth.roles_mode),
	  .def_int = AUTH_ROLES_ANY, .flags = K_RELOAD,
	  .choices = roles_modes },
	{ .name = "key_header", .set = cfg_set_strbuf,
	  .off = R(auth.key_header), .min = 1, .max = AUTH_NAME_MAX - 1,
	  .def_str = AUTH_DEFAULT_KEY_HEADER, .flags = K_RELOAD },
	{ .name = "key_query", .set = cfg_set_strbuf, .off = R(auth.key_query),
	  .min = 1, .max = AUTH_NAME_MAX - 1, .flags = K_RELOAD },
	{ .name = "strip_credentials", .set = cfg_set_bool,
	  .off = R(auth.strip), .def_int = 1, .flags = K_RELOAD },
	{ .name = "allow_cidrs", .set = cfg_set_cidrs, .off = R(auth.allow),
	  .max = 4096, .flags = K_RELOAD },
	{ .name = "deny_cidrs", .set = cfg_set_cidrs, .off = R(auth.deny),
	  .max = 4096, .flags = K_RELOAD },
	{ .name = "limits", .set = cfg_set_list, .off = R(limits),
	  .off2 = R(n_limits), .max = 16, .flags = K_RELOAD,
	  .sub = &limit_sec },
	{ .name = "ratelimit_headers", .set = cfg_set_bool,
	  .off = R(ratelimit_headers), .def_int = 0, .flags = K_RELOAD },
};
#undef R
static const struct csection route_sec = {
	.what = "route",
	.keys = route_keys,
	.n_keys = N_KEYS(route_keys),
	.item_size = sizeof(struct config_route),
	.finish = route_finish,
};

#define X(f) offsetof(struct config_xdp, f)
static const struct ckey allowlist_keys[] = {
	{ .name = "enabled", .set = cfg_set_bool, .off = X(allowlist_enabled),
	  .def_int = 0, .flags = K_RELOAD },
	{ .name = "files", .set = cfg_set_strs, .off = X(allowlist_files),
	  .off2 = X(n_allowlist_files), .max = 256,
	  .flags = K_FILE | K_RELOAD },
};
static const struct csection allowlist_sec = {
	.what = "allowlist",
	.keys = allowlist_keys,
	.n_keys = N_KEYS(allowlist_keys),
	.finish = allowlist_finish,
};

static const struct ckey denylist_keys[] = {
	{ .name = "files", .set = cfg_set_strs, .off = X(deny_files),
	  .off2 = X(n_deny_files), .max = 256, .flags = K_FILE | K_RELOAD },
};
static const struct csection denylist_sec = {
	.what = "denylist",
	.keys = denylist_keys,
	.n_keys = N_KEYS(denylist_keys),
};

static const struct ckey rate_keys[] = {
	{ .name = "rate", .set = cfg_set_rate, .off = X(rate.rate),
	  .flags = K_RELOAD },
	{ .name = "burst", .set = cfg_set_u32, .off = X(rate.burst), .min = 1,
	  .max = ALLOWLIST_MAX_RATE, .def_int = 0, .flags = K_RELOAD },
	{ .name = "syn", .set = cfg_set_rate, .off = X(rate.syn),
	  .flags = K_RELOAD },
	{ .name = "syn_burst", .set = cfg_set_u32, .off = X(rate.syn_burst),
	  .min = 1, .max = ALLOWLIST_MAX_RATE, .def_int = 0,
	  .flags = K_RELOAD },
	{ .name = "ipv6_prefix", .set = cfg_set_u32, .off = X(rate_v6_prefix),
	  .min = 1, .max = 128, .def_int = SLUICE_DEF_V6_PREFIX,
	  .flags = K_RELOAD },
	{ .name = "table_size", .set = cfg_set_u32, .off = X(rate_table_size),
	  .min = 1024, .max = 1 << 24, .def_int = SLUICE_DEF_SRC_ENTRIES },
};
static const struct csection rate_sec = {
	.what = "rate_limit",
	.keys = rate_keys,
	.n_keys = N_KEYS(rate_keys),
	.finish = rate_finish,
};

static const struct ckey cookie_keys[] = {
	{ .name = "enabled", .set = cfg_set_enum, .off = X(cookies),
	  .def_int = CFG_XDP_COOKIES_OFF, .flags = K_RELOAD,
	  .choices = xdp_cookies },
	{ .name = "syn_rate", .set = cfg_set_rate, .off = X(cookie_syn_rate),
	  .flags = K_RELOAD },
};
static const struct csection cookie_sec = {
	.what = "syncookies",
	.keys = cookie_keys,
	.n_keys = N_KEYS(cookie_keys),
	.finish = cookie_finish,
};

static const struct ckey xdp_keys[] = {
	{ .name = "enabled", .set = cfg_set_bool, .off = X(enabled),
	  .def_int = 1 },
	{ .name = "interfaces", .set = cfg_set_strs, .off = X(interfaces),
	  .off2 = X(n_interfaces), .max = 64, .flags = K_IFNAME },
	{ .name = "mode", .set = cfg_set_enum, .off = X(mode),
	  .def_int = CFG_XDP_AUTO, .choices = xdp_modes },
	{ .name = "pin_path", .set = cfg_set_strbuf, .off = X(pin_path),
	  .min = 1, .max = sizeof(((struct config_xdp *)0)->pin_path) - 1,
	  .def_str = SLUICE_PIN_ROOT, .flags = K_ABSPATH },
	{ .name = "allowlist", .set = cfg_set_section, .sub = &allowlist_sec },
	{ .name = "denylist", .set = cfg_set_section, .sub = &denylist_sec },
	{ .name = "scope", .set = cfg_set_enum, .off = X(scope),
	  .def_int = CFG_XDP_SCOPE_GUARDED, .flags = K_RELOAD,
	  .choices = xdp_scopes },
	{ .name = "persist", .set = cfg_set_bool, .off = X(persist),
	  .def_int = 0 },
	{ .name = "rate_limit", .set = cfg_set_section, .sub = &rate_sec },
	{ .name = "syncookies", .set = cfg_set_section, .sub = &cookie_sec },
	{ .name = "list_size", .set = cfg_set_u32, .off = X(list_size),
	  .min = 1024, .max = 1 << 24, .def_int = SLUICE_MAX_ALLOW4 },
	{ .name = "drop_sample", .set = cfg_set_u32, .off = X(drop_sample),
	  .max = 1 << 30, .def_int = 1 << SLUICE_DEF_SAMPLE_SHIFT,
	  .flags = K_RELOAD },
};
#undef X
static const struct csection xdp_sec = {
	.what = "xdp",
	.keys = xdp_keys,
	.n_keys = N_KEYS(xdp_keys),
	.finish = xdp_finish,
};

#define C(f) offsetof(struct config, f)
static const struct ckey admin_keys[] = {
	{ .name = "enabled", .set = cfg_set_bool, .off = C(admin_enabled),
	  .def_int = 1 },
	{ .name = "address", .set = cfg_set_addr, .off = C(admin),
	  .def_str = "127.0.0.1:9900" },
	{ .name = "socket", .set = cfg_set_strbuf, .off = C(admin_socket),
	  .min = 1, .max = sizeof(((struct config *)0)->admin_socket) - 1,
	  .def_str = "/run/sluice/admin.sock", .flags = K_ABSPATH },
};
static const struct csection admin_sec = {
	.what = "admin",
	.keys = admin_keys,
	.n_keys = N_KEYS(admin_keys),
};

#define A(f) offsetof(struct config_access_log, f)
static const char *const log_formats[] = { "json", "combined", NULL };
static const struct ckey access_log_keys[] = {
	{ .name = "path", .set = cfg_set_strbuf, .off = A(path), .min = 1,
	  .max = sizeof(((struct config_access_log *)0)->path) - 1,
	  .flags = 0 },
	{ .name = "format", .set = cfg_set_enum, .off = A(format),
	  .def_int = CFG_LOG_JSON, .flags = K_RELOAD, .choices = log_formats },
	{ .name = "sample", .set = cfg_set_ratio, .off = A(sample),
	  .def_str = "1", .flags = K_RELOAD },
	{ .name = "buffer_kb", .set = cfg_set_u32, .off = A(buffer_kb),
	  .min = 16, .max = 65536, .def_int = 256 },
};
#undef A
static const struct csection access_log_sec = {
	.what = "access_log",
	.keys = access_log_keys,
	.n_keys = N_KEYS(access_log_keys),
	.finish = access_log_finish,
};

#define M(f) offsetof(struct config_metrics, f)
static const struct ckey metrics_keys[] = {
	{ .name = "enabled", .set = cfg_set_bool, .off = M(enabled),
	  .def_int = 1 },
	{ .name = "request_duration_buckets", .set = cfg_set_buckets,
	  .off = M(request_buckets), .off2 = M(n_request_buckets), .min = 1,
	  .max = CONFIG_MAX_BUCKETS, .flags = 0 },
	{ .name = "upstream_duration_buckets", .set = cfg_set_buckets,
	  .off = M(upstream_buckets), .off2 = M(n_upstream_buckets), .min = 1,
	  .max = CONFIG_MAX_BUCKETS, .flags = 0 },
};
#undef M
static const struct csection metrics_sec = {
	.what = "metrics",
	.keys = metrics_keys,
	.n_keys = N_KEYS(metrics_keys),
};

static const struct ckey logging_keys[] = {
	{ .name = "level", .set = cfg_set_strbuf, .off = C(log_level), .min = 1,
	  .max = sizeof(((struct config *)0)->log_level) - 1, .def_str = "info",
	  .flags = K_RELOAD, .choices = log_levels },
	{ .name = "access_log", .set = cfg_set_section, .off = C(access_log),
	  .sub = &access_log_sec },
};
#define H(f) offsetof(struct config_http, f)
static const struct ckey http_keys[] = {
	{ .name = "header_timeout_ms", .set = cfg_set_u32,
	  .off = H(header_timeout_ms), .min = 100, .max = 3600000,
	  .def_int = 10000, .flags = K_RELOAD },
	{ .name = "body_timeout_ms", .set = cfg_set_u32,
	  .off = H(body_timeout_ms), .min = 100, .max = 3600000,
	  .def_int = 30000, .flags = K_RELOAD },
	{ .name = "keepalive_timeout_ms", .set = cfg_set_u32,
	  .off = H(keepalive_timeout_ms), .min = 100, .max = 3600000,
	  .def_int = 60000, .flags = K_RELOAD },
	{ .name = "response_timeout_ms", .set = cfg_set_u32,
	  .off = H(response_timeout_ms), .min = 100, .max = 3600000,
	  .def_int = 60000, .flags = K_RELOAD },
	{ .name = "tunnel_timeout_ms", .set = cfg_set_u32,
	  .off = H(tunnel_timeout_ms), .min = 100, .max = 86400000,
	  .def_int = 600000, .flags = K_RELOAD },
	{ .name = "drain_timeout_ms", .set = cfg_set_u32,
	  .off = H(drain_timeout_ms), .max = 3600000, .def_int = 10000,
	  .flags = K_RELOAD },
	{ .name = "max_header_bytes", .set = cfg_set_u32,
	  .off = H(max_header_bytes), .min = 1024, .max = 1 << 20,
	  .def_int = 32768 },
	{ .name = "max_uri_bytes", .set = cfg_set_u32, .off = H(max_uri_bytes),
	  .min = 64, .max = 1 << 20, .def_int = 8192, .flags = K_RELOAD },
	{ .name = "max_body_bytes", .set = cfg_set_u64,
	  .off = H(max_body_bytes), .max = 1ll << 62, .def_int = 0,
	  .flags = K_RELOAD },
	{ .name = "max_connections", .set = cfg_set_u32,
	  .off = H(max_connections), .min = 1, .max = 1000000,
	  .def_int = 10000 },
	{ .name = "splice_min_bytes", .set = cfg_set_u32,
	  .off = H(splice_min_bytes), .max = 1 << 30, .def_int = 8192,
	  .flags = K_RELOAD },
	{ .name = "receive_buffers", .set = cfg_set_u32,
	  .off = H(receive_buffers), .min = 16, .max = 32768, .def_int = 512 },
	{ .name = "upstream_buffers", .set = cfg_set_u32,
	  .off = H(upstream_buffers), .min = 16, .max = 16384, .def_int = 128 },
	{ .name = "path_params", .set = cfg_set_enum, .off = H(path_params),
	  .def_int = CFG_PATH_PARAMS_REJECT, .flags = K_RELOAD,
	  .choices = path_params_modes },
	{ .name = "escaped_slashes", .set = cfg_set_enum,
	  .off = H(escaped_slashes), .def_int = CFG_ESCAPED_SLASHES_REJECT,
	  .flags = K_RELOAD, .choices = escaped_slashes_modes },
};
#undef H
static void http_finish(struct pctx *p, yaml_node_t *map, void *base,
			const char *path, yaml_node_t **vals);
static const struct csection http_sec = {
	.what = "http",
	.keys = http_keys,
	.n_keys = N_KEYS(http_keys),
	.finish = http_finish,
};

static const struct csection logging_sec = {
	.what = "logging",
	.keys = logging_keys,
	.n_keys = N_KEYS(logging_keys),
};

/* Table order is parse order: services before routes. */
static const struct ckey root_keys[] = {
	{ .name = "listeners", .set = cfg_set_list, .off = C(listeners),
	  .off2 = C(n_listeners), .min = 1, .max = SLUICE_MAX_PORTS,
	  .flags = K_REQUIRED, .sub = &listener_sec },
	{ .name = "admin", .set = cfg_set_section, .sub = &admin_sec },
	{ .name = "xdp", .set = cfg_set_section, .off = C(xdp),
	  .sub = &xdp_sec },
	{ .name = "services", .set = cfg_set_list, .off = C(services),
	  .off2 = C(n_services), .max = 4096, .flags = K_RELOAD,
	  .sub = &service_sec },
	/* parsed before routes, which refer to them */
	{ .name = "consumers", .set = cfg_set_list, .off = C(consumers),
	  .off2 = C(n_consumers), .max = 100000, .flags = K_RELOAD,
	  .sub = &consumer_sec },
	{ .name = "jwt", .set = cfg_set_section, .off = C(jwt),
	  .flags = K_RELOAD, .sub = &jwt_sec },
	{ .name = "trusted_proxies", .set = cfg_set_cidrs,
	  .off = C(trusted_proxies), .max = 4096, .flags = K_RELOAD },
	{ .name = "limits", .set = cfg_set_list, .off = C(limits),
	  .off2 = C(n_limits), .max = 16, .flags = K_RELOAD,
	  .sub = &limit_sec },
	{ .name = "escalation", .set = cfg_set_section, .off = C(escalation),
	  .flags = K_RELOAD, .sub = &escalation_sec },
	{ .name = "auth_realm", .set = cfg_set_strbuf, .off = C(auth_realm),
	  .min = 1, .max = AUTH_NAME_MAX - 1, .def_str = "sluice",
	  .flags = K_RELOAD },
	{ .name = "routes", .set = cfg_set_list, .off = C(routes),
	  .off2 = C(n_routes), .max = 4096, .flags = K_RELOAD,
	  .sub = &route_sec },
	{ .name = "http", .set = cfg_set_section, .off = C(http),
	  .sub = &http_sec },
	{ .name = "workers", .set = cfg_set_u32, .off = C(workers), .max = 256,
	  .def_int = 0 },
	{ .name = "user", .set = cfg_set_strbuf, .off = C(user), .min = 1,
	  .max = sizeof(((struct config *)0)->user) - 1, .def_str = "",
	  .flags = K_USERNAME },
	{ .name = "logging", .set = cfg_set_section, .sub = &logging_sec },
	{ .name = "metrics", .set = cfg_set_section, .off = C(metrics),
	  .sub = &metrics_sec },
};
#undef C
const struct csection cfg_root_sec = {
	.what = "config",
	.keys = root_keys,
	.n_keys = N_KEYS(root_keys),
	.finish = root_finish,
};

/* cfg_walk_map() (walk.c) keeps per-key state in arrays of CFG_MAX_KEYS */
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

static void cookie_finish(struct pctx *p, yaml_node_t *map, void *base,
			  const char *path, yaml_node_t **vals)
{
	struct config_xdp *x = base;

	(void)p;
	(void)map;
	(void)path;
	if (!val_of(&cookie_sec, vals, "syn_rate"))
		x->cookie_syn_rate = CFG_DEF_COOKIE_SYN_RATE;
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

/* ---- auth and limit section checks ---- */

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
