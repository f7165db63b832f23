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
 * Scalars follow the YAML core schema for plain scalars: integers are
 * decimal ("0100" and "0x40" are rejected, not read as octal/hex), booleans
 * are true/false, null is "", "~" or "null". A quoted scalar is always a
 * string, so "2000" is not an integer. Anchors and aliases work as YAML
 * defines them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "sluice/abi.h"

#define CFG_MAX_ERRORS 200	/* reported; the rest are counted */
#define CFG_MAX_FILE (16u << 20)
#define CFG_MAX_KEYS 32		/* keys per section */

/* ---- key tables ----------------------------------------------------------- */

enum ktype {
	KT_NAME,	/* char[CONFIG_MAX_NAME]: [A-Za-z0-9_.-]{1,63} */
	KT_STRBUF,	/* char[max + 1], optional choices */
	KT_ENUM,	/* int: index into choices */
	KT_BOOL,
	KT_U32,		/* uint32_t / unsigned int, min..max */
	KT_ADDR,	/* struct config_addr */
	KT_ADDRS,	/* sequence: struct config_addr * at off, size_t at off2 */
	KT_STRS,	/* sequence: char ** at off, size_t at off2 */
	KT_METHODS,	/* sequence of method names -> uint32_t CFG_M_* mask */
	KT_PATH_PREFIX,	/* char * at off, size_t length at off2 */
	KT_HOST,	/* char *, lower-cased */
	KT_SERVICE_REF,	/* size_t: index into config.services */
	KT_SECTION,	/* mapping: sub table over base + off */
	KT_LIST,	/* sequence of mappings: items at off, count at off2 */
	KT_BUCKETS,	/* sequence of numbers > 0, strictly increasing:
			 * double[] at off, size_t count at off2 */
	KT_RATIO,	/* double 0..1; default def_str */
	KT_CIDRS,	/* sequence of CIDRs -> struct allowlist at off */
	KT_U64,		/* uint64_t, min..max */
	KT_AUTH,	/* sequence of bearer|key|jwt -> uint32_t AUTH_M_* mask */
	KT_STR,		/* char * (malloc'd), as written */
	KT_FILE,	/* char * (malloc'd), resolved against the config dir */
	KT_RATE,	/* "N/s" -> uint32_t N (1..ALLOWLIST_MAX_RATE) */
};

#define K_REQUIRED (1u << 0)	/* error when missing */
#define K_RELOAD   (1u << 1)	/* may change on SIGHUP reload */
#define K_UNIQUE   (1u << 2)	/* unique across the items of a list */
#define K_TARGET   (1u << 3)	/* address: unspecified (0.0.0.0, ::) refused */
#define K_IFNAME   (1u << 4)	/* strings: interface names */
#define K_FILE     (1u << 5)	/* strings: paths relative to the config dir */
#define K_ABSPATH  (1u << 6)	/* string: absolute path */
#define K_USERNAME (1u << 7)	/* string: a user name or numeric uid */
#define K_RAW      (1u << 8)	/* strings: kept as written (not paths) */

struct csection;
struct pctx;

struct ckey {
	const char *name;
	enum ktype type;
	size_t off, off2;
	long long min, max;	/* ints: bounds; strings: max length; lists:
				 * item count bounds */
	long long def_int;	/* default for KT_BOOL/KT_U32/KT_ENUM */
	const char *def_str;	/* default for string and address types */
	unsigned int flags;
	const struct csection *sub;
	const char *const *choices;	/* NULL-terminated */
};

struct csection {
	const char *what;		/* item noun in messages ("listener") */
	const struct ckey *keys;
	size_t n_keys;
	size_t item_size;		/* KT_LIST items */
	/* whole-section checks after all keys; vals[i]: value node of keys[i]
	 * or NULL when absent */
	void (*finish)(struct pctx *p, yaml_node_t *map, void *base,
		       const char *path, yaml_node_t **vals);
};

#define KEYS(a) (a), (sizeof(a) / sizeof((a)[0]))

static const char *const xdp_modes[] = { "auto", "native", "generic", NULL };
static const char *const xdp_scopes[] = { "guarded", "all", NULL };
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
	{ "trusted_proxies", KT_CIDRS, C(auth.trusted_proxies), 0, 0, 4096, .flags = K_RELOAD },
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
static const struct csection root_sec = { "config", KEYS(root_keys), 0, root_finish };

/* walk_map() keeps per-key state in arrays of CFG_MAX_KEYS */
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

/* ---- parse context and errors ---------------------------------------------- */

struct perr {
	size_t line, col, seq;
	char *msg;
};

struct pctx {
	const char *name;
	char *dir;		/* for relative paths; NULL: none */
	const char *buf;
	size_t len;
	yaml_document_t *doc;
	struct config *cfg;
	struct perr *errs;
	size_t n_errs, cap_errs, dropped;
	bool oom;
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
static void err_at(struct pctx *p, const yaml_node_t *node, const char *path,
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

/* ---- scalars ---------------------------------------------------------------- */

static bool is_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

static bool sc_eq(const yaml_node_t *n, const char *s)
{
	size_t l = strlen(s);

	return n->data.scalar.length == l &&
	       !memcmp(n->data.scalar.value, s, l);
}

static bool is_null(const yaml_node_t *n)
{
	return is_scalar(n) && is_plain(n) &&
	       (n->data.scalar.length == 0 || sc_eq(n, "~") ||
		sc_eq(n, "null") || sc_eq(n, "Null") || sc_eq(n, "NULL"));
}

/* Printable rendering of s[0..n) in single quotes, cut at 40 bytes. */
static void quote(char *out, size_t outlen, const void *s, size_t n)
{
	const unsigned char *c = s;
	size_t o = 0, i;

	out[o++] = '\'';
	for (i = 0; i < n && i < 40 && o + 6 < outlen; i++) {
		if (c[i] >= 0x20 && c[i] < 0x7f && c[i] != '\\')
			out[o++] = (char)c[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
					      c[i]);
	}
	if (i < n && o + 5 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

/* What a node is, for "expected X, got Y". */
static const char *got(const yaml_node_t *n, char *buf, size_t len)
{
	if (!n)
		return "nothing";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a sequence";
	if (is_null(n))
		return n->data.scalar.length ? "null" : "an empty value";
	if (is_plain(n)) {
		quote(buf, len, n->data.scalar.value, n->data.scalar.length);
	} else {
		int k = snprintf(buf, len, "a quoted string ");

		quote(buf + k, len - (size_t)k, n->data.scalar.value,
		      n->data.scalar.length);
	}
	return buf;
}

/* A scalar's value, quoted for a message. */
static const char *qv(const yaml_node_t *n, char *buf, size_t len)
{
	if (!is_scalar(n))
		return got(n, buf, len);
	quote(buf, len, n->data.scalar.value, n->data.scalar.length);
	return buf;
}

static void err_type(struct pctx *p, const yaml_node_t *n, const char *path,
		     const char *expected)
{
	char b[256];

	err_at(p, n, path, "expected %s, got %s", expected, got(n, b, sizeof(b)));
}

/* A non-null scalar without NUL bytes. */
static bool get_str(struct pctx *p, const yaml_node_t *n, const char *path,
		    const char **s, size_t *len)
{
	if (!is_scalar(n) || is_null(n)) {
		err_type(p, n, path, "a string");
		return false;
	}
	*s = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	if (memchr(*s, '\0', *len)) {
		err_at(p, n, path, "must not contain a NUL byte");
		return false;
	}
	return true;
}

static bool str_max(struct pctx *p, const yaml_node_t *n, const char *path,
		    size_t len, long long max)
{
	if (len == 0) {
		err_at(p, n, path, "must not be empty");
		return false;
	}
	if (len > (size_t)max) {
		err_at(p, n, path, "too long (%zu characters, max %lld)", len,
		       max);
		return false;
	}
	return true;
}

/* Plain decimal integer, no leading zeros, optional '-'. */
static bool get_int(struct pctx *p, const yaml_node_t *n, const char *path,
		    long long min, long long max, long long *out)
{
	const char *s;
	size_t len, i = 0;
	bool neg = false, range = true;
	unsigned long long v = 0;

	if (!is_scalar(n) || !is_plain(n) || is_null(n))
		goto bad;
	s = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	if (s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len || (len - i > 1 && s[i] == '0'))
		goto bad;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		if (v > 1000000000000000000ull)
			range = false;
		else
			v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (range && v <= (unsigned long long)LLONG_MAX) {
		long long x = neg ? -(long long)v : (long long)v;

		if (x >= min && x <= max) {
			*out = x;
			return true;
		}
	}
	err_at(p, n, path, "%.40s is out of range (%lld-%lld)",
	       (const char *)n->data.scalar.value, min, max);
	return false;
bad:
	err_type(p, n, path, "an integer");
	return false;
}

/* A plain decimal number ("0.25", "1", "5e-3"); no hex, inf or nan. */
static bool get_number(struct pctx *p, const yaml_node_t *n, const char *path,
		       double *out)
{
	char buf[64], *end;
	size_t len;

	if (!is_scalar(n) || !is_plain(n) || is_null(n))
		goto bad;
	len = n->data.scalar.length;
	if (len == 0 || len >= sizeof(buf))
		goto bad;
	memcpy(buf, n->data.scalar.value, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789.eE+-", buf[i]))
			goto bad;
	errno = 0;
	*out = strtod(buf, &end);
	if (end != buf + len || errno || !isfinite(*out))
		goto bad;
	return true;
bad:
	err_type(p, n, path, "a number");
	return false;
}

static bool bool_value(const yaml_node_t *n, bool *out)
{
	static const char *const t[] = { "true", "True", "TRUE" };
	static const char *const f[] = { "false", "False", "FALSE" };

	if (is_scalar(n) && is_plain(n)) {
		for (int i = 0; i < 3; i++) {
			if (sc_eq(n, t[i]) || sc_eq(n, f[i])) {
				*out = sc_eq(n, t[i]);
				return true;
			}
		}
	}
	return false;
}

static bool get_bool(struct pctx *p, const yaml_node_t *n, const char *path,
		     bool *out)
{
	if (bool_value(n, out))
		return true;
	err_type(p, n, path, "a boolean (true or false)");
	return false;
}

/* "a, b or c" */
static void choice_list(char *buf, size_t len, const char *const *c)
{
	size_t o = 0, n = 0;

	while (c[n])
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
				      i == 0 ? "" : i + 1 == n ? " or " : ", ",
				      c[i]);
}

static int choice_index(struct pctx *p, const yaml_node_t *n, const char *path,
			const char *const *c)
{
	char b[128], list[128];
	const char *s;
	size_t len;

	if (!get_str(p, n, path, &s, &len))
		return -1;
	for (int i = 0; c[i]; i++)
		if (sc_eq(n, c[i]))
			return i;
	choice_list(list, sizeof(list), c);
	err_at(p, n, path, "invalid value %s (expected %s)", qv(n, b, sizeof(b)),
	       list);
	return -1;
}

/* ---- addresses -------------------------------------------------------------- */

static bool digits_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/*
 * "a.b.c.d:port", "[v6]:port" or "localhost:port"; IP literals only, ports
 * 1-65535. On error writes a message (without the key path) to msg.
 */
static int parse_addr(const char *s, size_t n, bool target,
		      struct config_addr *a, char *msg, size_t msglen)
{
	static const char hint[] = "expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080";
	const char *host, *port;
	size_t hlen, plen;
	struct allowlist_entry e;
	char q[256], tmp[64], ebuf[8];
	unsigned long pv;
	bool bracket = false;

	quote(q, sizeof(q), s, n);
	if (n == 0 || n >= sizeof(a->text)) {
		snprintf(msg, msglen, "invalid address %s (%s)", q, hint);
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb) {
			snprintf(msg, msglen, "invalid address %s (missing ']')", q);
			return -EINVAL;
		}
		bracket = true;
		host = s + 1;
		hlen = (size_t)(rb - host);
		if (rb + 1 == s + n || rb[1] != ':') {
			snprintf(msg, msglen, "missing port in %s (%s)", q, hint);
			return -EINVAL;
		}
		port = rb + 2;
	} else {
		const char *c = memrchr(s, ':', n);

		if (!c) {
			snprintf(msg, msglen, "missing port in %s (%s)", q, hint);
			return -EINVAL;
		}
		host = s;
		hlen = (size_t)(c - s);
		if (memchr(host, ':', hlen)) {
			snprintf(msg, msglen,
				 "IPv6 address must be in brackets: %s (e.g. [::1]:8080)", q);
			return -EINVAL;
		}
		port = c + 1;
	}
	plen = (size_t)(s + n - port);
	if (!digits_only(port, plen) || plen > 5 || port[0] == '0' ||
	    (pv = strtoul(port, NULL, 10)) > 65535) {
		snprintf(msg, msglen, "invalid port in %s (expected 1-65535)", q);
		return -EINVAL;
	}

	memset(&e, 0, sizeof(e));
	if (!bracket && hlen == 9 && !strncasecmp(host, "localhost", 9)) {
		e.family = AF_INET;
		e.addr[0] = 127;
		e.addr[3] = 1;
	} else {
		memcpy(tmp, host, hlen);
		tmp[hlen] = '\0';
		if (!hlen || memchr(tmp, '/', hlen) ||
		    allowlist_parse_cidr(tmp, &e, ebuf, sizeof(ebuf)) ||
		    (e.family == AF_INET6) != bracket) {
			snprintf(msg, msglen,
				 "invalid IP address in %s (IP literal or localhost; no DNS names)",
				 q);
			return -EINVAL;
		}
	}
	if (target) {
		static const uint8_t zero[16];

		if (!memcmp(e.addr, zero, e.family == AF_INET ? 4 : 16)) {
			snprintf(msg, msglen,
				 "unspecified address not allowed for a target: %s", q);
			return -EINVAL;
		}
	}

	memset(a, 0, sizeof(*a));
	a->port = (uint16_t)pv;
	if (e.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, e.addr, 4);
		a->salen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, e.addr, 16);
		a->salen = sizeof(*sin6);
	}
	memcpy(a->text, s, n);
	a->text[n] = '\0';
	return 0;
}

static bool addr_eq(const struct config_addr *a, const struct config_addr *b)
{
	return a->salen && a->salen == b->salen &&
	       !memcmp(&a->sa, &b->sa, a->salen);
}

static bool get_addr(struct pctx *p, const yaml_node_t *n, const char *path,
		     bool target, struct config_addr *a)
{
	char msg[512];
	const char *s;
	size_t len;

	if (!get_str(p, n, path, &s, &len))
		return false;
	if (parse_addr(s, len, target, a, msg, sizeof(msg))) {
		err_at(p, n, path, "%s", msg);
		return false;
	}
	return true;
}

/* ---- other value types ------------------------------------------------------ */

static bool name_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0;
}

static char *resolve_path(struct pctx *p, const char *s, size_t n)
{
	char *out;

	if (s[0] == '/' || !p->dir)
		return strndup(s, n);
	if (asprintf(&out, "%s/%.*s", p->dir, (int)n, s) < 0)
		return NULL;
	return out;
}

static bool get_strs_item(struct pctx *p, const struct ckey *k,
			  const yaml_node_t *n, const char *path, char **out,
			  char *const *prev, size_t n_prev)
{
	char b[256];
	const char *s;
	size_t len;

	if (!get_str(p, n, path, &s, &len) || !str_max(p, n, path, len, PATH_MAX - 1))
		return false;
	if (k->flags & K_IFNAME) {
		if (len > 15 || memchr(s, '/', len) || memchr(s, ' ', len) ||
		    memchr(s, '\t', len)) {
			err_at(p, n, path,
			       "invalid interface name %s (1-15 characters, no '/' or spaces)",
			       qv(n, b, sizeof(b)));
			return false;
		}
		for (size_t i = 0; i < n_prev; i++) {
			if (prev[i] && strlen(prev[i]) == len &&
			    !memcmp(prev[i], s, len)) {
				err_at(p, n, path, "duplicate interface %s",
				       qv(n, b, sizeof(b)));
				return false;
			}
		}
		*out = strndup(s, len);
	} else if (k->flags & K_RAW) {
		*out = strndup(s, len);
	} else {
		*out = resolve_path(p, s, len);
		if (*out && strlen(*out) >= PATH_MAX) {
			err_at(p, n, path, "path too long");
			free(*out);
			*out = NULL;
			return false;
		}
	}
	if (!*out)
		p->oom = true;
	return *out != NULL;
}

static const struct {
	const char *name;
	uint32_t bit;
} method_names[] = {
	{ "GET", CFG_M_GET },	    { "HEAD", CFG_M_HEAD },
	{ "POST", CFG_M_POST },	    { "PUT", CFG_M_PUT },
	{ "DELETE", CFG_M_DELETE }, { "PATCH", CFG_M_PATCH },
	{ "OPTIONS", CFG_M_OPTIONS },
};

static bool get_method(struct pctx *p, const yaml_node_t *n, const char *path,
		       uint32_t *mask)
{
	char b[256];
	const char *s;
	size_t len;

	if (!get_str(p, n, path, &s, &len))
		return false;
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (sc_eq(n, method_names[i].name)) {
			*mask |= method_names[i].bit;
			return true;
		}
	}
	err_at(p, n, path,
	       "unknown method %s (expected GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS)",
	       qv(n, b, sizeof(b)));
	return false;
}

static bool get_path_prefix(struct pctx *p, const yaml_node_t *n,
			    const char *path, const char *s, size_t len)
{
	char b[256];

	if (s[0] != '/') {
		err_at(p, n, path, "must start with '/': %s", qv(n, b, sizeof(b)));
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
			err_at(p, n, path,
			       "invalid character in path prefix %s (no spaces, controls, '?' or '#')",
			       qv(n, b, sizeof(b)));
			return false;
		}
	}
	return true;
}

static bool get_host(struct pctx *p, const yaml_node_t *n, const char *path,
		     const char *s, size_t len)
{
	char b[256], tmp[64], ebuf[8];
	struct allowlist_entry e;

	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(tmp))
			goto bad;
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		if (strchr(tmp, '/') || allowlist_parse_cidr(tmp, &e, ebuf, sizeof(ebuf)) ||
		    e.family != AF_INET6)
			goto bad;
		return true;
	}
	if (memchr(s, ':', len)) {
		err_at(p, n, path, "must not include a port: %s", qv(n, b, sizeof(b)));
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			goto bad;
	}
	return true;
bad:
	err_at(p, n, path, "invalid host %s (a DNS name or IP literal, no port)",
	       qv(n, b, sizeof(b)));
	return false;
}

/* ---- issue 5 value types ------------------------------------------------------ */

static bool get_cidr(struct pctx *p, const yaml_node_t *n, const char *path,
		     struct allowlist *al)
{
	struct allowlist_entry e, *ne;
	char tmp[INET6_ADDRSTRLEN + 8], msg[256], b[256];
	const char *s;
	size_t len;

	if (!get_str(p, n, path, &s, &len))
		return false;
	if (len >= sizeof(tmp)) {
		err_at(p, n, path, "invalid CIDR %s", qv(n, b, sizeof(b)));
		return false;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (allowlist_parse_cidr(tmp, &e, msg, sizeof(msg))) {
		err_at(p, n, path, "%s", msg);
		return false;
	}
	if (al->n == al->cap) {
		size_t cap = al->cap ? al->cap * 2 : 8;

		ne = realloc(al->entries, cap * sizeof(*ne));
		if (!ne) {
			p->oom = true;
			return false;
		}
		al->entries = ne;
		al->cap = cap;
	}
	e.line = (uint32_t)n->start_mark.line + 1;
	al->entries[al->n++] = e;
	return true;
}

static bool get_auth_method(struct pctx *p, const yaml_node_t *n,
			    const char *path, uint32_t *mask)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} m[] = { { "bearer", AUTH_M_BEARER }, { "key", AUTH_M_KEY },
		  { "jwt", AUTH_M_JWT } };
	char b[256];
	const char *s;
	size_t len;

	if (!get_str(p, n, path, &s, &len))
		return false;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (sc_eq(n, m[i].name)) {
			*mask |= m[i].bit;
			return true;
		}
	}
	err_at(p, n, path, "unknown authentication method %s (expected bearer, key or jwt)",
	       qv(n, b, sizeof(b)));
	return false;
}

/* ---- walker ------------------------------------------------------------------- */

static yaml_node_t *node(struct pctx *p, int id)
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
		err_at(p, k, path, "unknown key %s (did you mean '%s'?)",
		       qv(k, b, sizeof(b)), sec->keys[bi].name);
	else
		err_at(p, k, path, "unknown key %s", qv(k, b, sizeof(b)));
}

static void subpath(char *out, size_t len, const char *path, const char *key)
{
	snprintf(out, len, "%s%s%s", path, *path ? "." : "", key);
}

/* Value node of `key` in mapping `map`, or NULL. */
static yaml_node_t *map_get(struct pctx *p, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *q = map->data.mapping.pairs.start;
	     q < map->data.mapping.pairs.top; q++) {
		yaml_node_t *k = node(p, q->key);

		if (is_scalar(k) && sc_eq(k, key))
			return node(p, q->value);
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
					dup = addr_eq(fi, fj);
					text = ((struct config_addr *)fj)->text;
				} else {
					dup = *(char *)fi && !strcmp(fi, fj);
					text = fj;
				}
				if (!dup)
					continue;
				ni = map_get(p, node(p, seq->data.sequence.items.start[i]),
					     key->name);
				nj = map_get(p, node(p, seq->data.sequence.items.start[j]),
					     key->name);
				snprintf(sp, sizeof(sp), "%.100s[%zu].%.30s", path, j,
					 key->name);
				err_at(p, nj, sp,
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
		if (!get_str(p, n, path, &s, &len) || !str_max(p, n, path, len, k->max))
			return;
		if (!name_ok(s, len)) {
			char q[256];

			err_at(p, n, path,
			       "invalid name %s (use A-Z a-z 0-9 _ . -)",
			       qv(n, q, sizeof(q)));
			return;
		}
		memcpy(FIELD(base, k->off, char), s, len);
		FIELD(base, k->off, char)[len] = '\0';
		return;
	case KT_STRBUF:
		if (k->choices) {
			int i = choice_index(p, n, path, k->choices);

			if (i >= 0)
				strcpy(FIELD(base, k->off, char), k->choices[i]);
			return;
		}
		if (!get_str(p, n, path, &s, &len) || !str_max(p, n, path, len, k->max))
			return;
		if ((k->flags & K_ABSPATH) && s[0] != '/') {
			char q[256];

			err_at(p, n, path, "must be an absolute path: %s",
			       qv(n, q, sizeof(q)));
			return;
		}
		if ((k->flags & K_USERNAME) && (!name_ok(s, len) || s[0] == '-')) {
			char q[256];

			err_at(p, n, path,
			       "invalid user name %s (letters, digits, '_', '.', '-'; not starting with '-')",
			       qv(n, q, sizeof(q)));
			return;
		}
		memcpy(FIELD(base, k->off, char), s, len);
		FIELD(base, k->off, char)[len] = '\0';
		return;
	case KT_ENUM: {
		int i = choice_index(p, n, path, k->choices);

		if (i >= 0)
			*FIELD(base, k->off, int) = i;
		return;
	}
	case KT_BOOL:
		if (get_bool(p, n, path, &b))
			*FIELD(base, k->off, bool) = b;
		return;
	case KT_U32:
		if (get_int(p, n, path, k->min, k->max, &v))
			*FIELD(base, k->off, uint32_t) = (uint32_t)v;
		return;
	case KT_U64:
		if (get_int(p, n, path, k->min, k->max, &v))
			*FIELD(base, k->off, uint64_t) = (uint64_t)v;
		return;
	case KT_RATE: {
		uint32_t r;
		char q[256];

		if (!is_scalar(n) || is_null(n) || n->type != YAML_SCALAR_NODE ||
		    allowlist_parse_rate((const char *)n->data.scalar.value,
					 n->data.scalar.length, &r)) {
			err_at(p, n, path,
			       "expected a rate N/s with N from 1 to %u, got %s",
			       ALLOWLIST_MAX_RATE, got(n, q, sizeof(q)));
			return;
		}
		*FIELD(base, k->off, uint32_t) = r;
		return;
	}
	case KT_ADDR:
		get_addr(p, n, path, k->flags & K_TARGET,
			 FIELD(base, k->off, struct config_addr));
		return;
	case KT_PATH_PREFIX:
	case KT_HOST:
		if (!get_str(p, n, path, &s, &len) || !str_max(p, n, path, len, k->max))
			return;
		if (k->type == KT_PATH_PREFIX ? !get_path_prefix(p, n, path, s, len) :
						!get_host(p, n, path, s, len))
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

		if (!get_str(p, n, path, &s, &len) || !str_max(p, n, path, len, k->max))
			return;
		d = k->type == KT_FILE ? resolve_path(p, s, len) : strndup(s, len);
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

		if (!get_str(p, n, path, &s, &len))
			return;
		for (size_t i = 0; i < p->cfg->n_services; i++) {
			if (sc_eq(n, p->cfg->services[i].name)) {
				*FIELD(base, k->off, size_t) = i;
				return;
			}
		}
		err_at(p, n, path, "unknown service %s", qv(n, q, sizeof(q)));
		return;
	}
	case KT_RATIO: {
		double d;

		if (!get_number(p, n, path, &d))
			return;
		if (d < 0 || d > 1) {
			err_at(p, n, path, "%.40s is out of range (0-1)",
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
			err_type(p, n, path, "a sequence");
			return;
		}
		cnt = (size_t)(n->data.sequence.items.top -
			       n->data.sequence.items.start);
		if (cnt < (size_t)k->min || cnt > (size_t)k->max) {
			err_at(p, n, path, "%zu buckets; %lld to %lld are allowed",
			       cnt, k->min, k->max);
			return;
		}
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_t *it = node(p, n->data.sequence.items.start[i]);

			snprintf(ip, sizeof(ip), "%.100s[%zu]", path, i);
			if (!get_number(p, it, ip, &bk[i]))
				return;
			if (!(bk[i] > 0)) {
				err_at(p, it, ip, "a bucket bound must be greater than 0");
				return;
			}
			if (i && !(bk[i] > bk[i - 1])) {
				err_at(p, it, ip,
				       "buckets must be strictly increasing (%.40s after %g)",
				       (const char *)it->data.scalar.value, bk[i - 1]);
				return;
			}
		}
		*FIELD(base, k->off2, size_t) = cnt;
		return;
	}
	case KT_SECTION:	/* "admin:" alone is an empty section */
		if (n->type != YAML_MAPPING_NODE && !is_null(n)) {
			err_type(p, n, path, "a mapping");
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

		if (is_null(n) && k->type == KT_LIST) {
			cnt = 0;
		} else if (n->type != YAML_SEQUENCE_NODE) {
			err_type(p, n, path, "a sequence");
			return;
		} else {
			cnt = (size_t)(n->data.sequence.items.top -
				       n->data.sequence.items.start);
		}
		if (cnt < (size_t)k->min) {
			if (k->type == KT_METHODS)
				err_at(p, n, path,
				       "must not be empty (omit it to allow any method)");
			else if (k->type == KT_AUTH)
				err_at(p, n, path,
				       "must not be empty (omit it for a route without authentication)");
			else
				err_at(p, n, path, "at least %lld %s required",
				       k->min, k->min == 1 ? "entry is" : "entries are");
			return;
		}
		if (cnt > (size_t)k->max) {
			err_at(p, n, path, "too many entries (%zu, max %lld)", cnt,
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
			yaml_node_t *it = node(p, n->data.sequence.items.start[i]);

			snprintf(ip, sizeof(ip), "%.100s[%zu]", path, i);
			if (k->type == KT_ADDRS) {
				get_addr(p, it, ip, k->flags & K_TARGET,
					 (struct config_addr *)items + i);
			} else if (k->type == KT_STRS) {
				get_strs_item(p, k, it, ip, (char **)items + i,
					      (char **)items, i);
			} else if (k->type == KT_METHODS) {
				get_method(p, it, ip, FIELD(base, k->off, uint32_t));
			} else if (k->type == KT_CIDRS) {
				get_cidr(p, it, ip, FIELD(base, k->off, struct allowlist));
			} else if (k->type == KT_AUTH) {
				get_auth_method(p, it, ip, FIELD(base, k->off, uint32_t));
			} else if (it && it->type == YAML_MAPPING_NODE) {
				walk_map(p, it, k->sub, items + i * isz, ip);
			} else {
				err_type(p, it, ip, "a mapping");
			}
		}
		if (k->type == KT_LIST && cnt > 1) {
			/* all items must be mappings for check_unique */
			for (size_t i = 0; i < cnt; i++)
				if (node(p, n->data.sequence.items.start[i])->type !=
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
				parse_addr(k->def_str, strlen(k->def_str), false,
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
		yaml_node_t *k = node(p, q->key);
		size_t i;

		if (!is_scalar(k) || is_null(k)) {
			err_at(p, k, path, "expected a string key, got %s",
			       got(k, b, sizeof(b)));
			continue;
		}
		for (i = 0; i < sec->n_keys; i++)
			if (sc_eq(k, sec->keys[i].name))
				break;
		if (i == sec->n_keys) {
			unknown_key(p, k, sec, path);
			continue;
		}
		if (keys[i]) {
			err_at(p, k, path, "duplicate key '%s' (first at line %zu)",
			       sec->keys[i].name, keys[i]->start_mark.line + 1);
			continue;
		}
		keys[i] = k;
		vals[i] = node(p, q->value);
	}

	for (size_t i = 0; i < sec->n_keys; i++) {
		const struct ckey *k = &sec->keys[i];

		if (!vals[i]) {
			if (k->flags & K_REQUIRED)
				err_at(p, map, path, "missing required key '%s'",
				       k->name);
			continue;
		}
		subpath(sp, sizeof(sp), path, k->name);
		parse_value(p, k, vals[i], base, sp);
	}
	if (sec->finish)
		sec->finish(p, map, base, path, vals);
}

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
	return is_null(n) || (n->type == YAML_SEQUENCE_NODE &&
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
		err_at(p, en, path,
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

		subpath(sp, sizeof(sp), path, "path");
		err_at(p, pn, sp, "must be an absolute path, '-' or 'stdout': %s",
		       qv(pn, q, sizeof(q)));
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
		subpath(sp, sizeof(sp), path, "drop_sample");
		err_at(p, ds, sp,
		       "must be 0 (off) or a power of two (1, 2, 4, ... 1073741824), got %u",
		       x->drop_sample);
	}

	if (!x->enabled || x->n_interfaces || (en && !bool_value(en, &b)))
		return;	/* (a bad 'enabled' was reported already) */
	subpath(sp, sizeof(sp), path, "interfaces");
	if (!ifs)
		err_at(p, map, path,
		       "missing required key 'interfaces' (required when xdp is enabled)");
	else if (empty_seq(ifs))
		err_at(p, ifs, sp, "at least 1 entry is required when xdp is enabled");
}

/* ---- issue 5 section checks ---- */

static yaml_node_t *seq_item(struct pctx *p, yaml_node_t *seq, size_t i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE ||
	    (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start) <= i)
		return seq;
	return node(p, seq->data.sequence.items.start[i]);
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
			err_at(p, seq_item(p, rates, i), sp, "%s", msg);
			continue;
		}
		l->limit.n_windows++;
	}
}

/* A secret reference: "sha256:<hex>" (hash_ok), "file:PATH" or "env:NAME". */
static void check_secret(struct pctx *p, yaml_node_t *n, const char *path,
			 const char *spec, bool hash_ok)
{
	uint8_t h[CRYPTO_SHA256_LEN];
	char msg[256];

	if (!strncmp(spec, "file:", 5)) {
		if (!spec[5])
			err_at(p, n, path, "'file:' needs a path");
		return;
	}
	if (!strncmp(spec, "env:", 4)) {
		const char *v = spec + 4;
		bool ok = (*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') || *v == '_';

		for (; ok && *v; v++)
			ok = (*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
			     (*v >= '0' && *v <= '9') || *v == '_';
		if (!ok)
			err_at(p, n, path, "'env:' needs a variable name ([A-Za-z_][A-Za-z0-9_]*)");
		return;
	}
	if (!hash_ok) {
		err_at(p, n, path,
		       "an HMAC secret must be 'file:PATH' or 'env:NAME' (the key itself is needed, not its hash)");
		return;
	}
	if (auth_parse_hash(spec, h, msg, sizeof(msg)))
		err_at(p, n, path, "%s", msg);
}

static void check_roles(struct pctx *p, yaml_node_t *seq, const char *path,
			char **roles, size_t n)
{
	char sp[192];

	for (size_t i = 0; i < n; i++) {
		if (!roles[i] || auth_name_valid(roles[i], strlen(roles[i])))
			continue;
		snprintf(sp, sizeof(sp), "%.150s[%zu]", path, i);
		err_at(p, seq_item(p, seq, i), sp,
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

	subpath(sp, sizeof(sp), path, "roles");
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
		err_at(p, map, path, "needs exactly one of 'file' (a PEM public key) or 'secret' (HS256/384/512)");
	if (k->secret) {
		subpath(sp, sizeof(sp), path, "secret");
		check_secret(p, val_of(&jwt_key_sec, vals, "secret"), sp, k->secret, false);
	}
	if (alg && k->alg[0] && auth_jwt_alg_from_name(k->alg, strlen(k->alg)) < 0) {
		subpath(sp, sizeof(sp), path, "alg");
		err_at(p, alg, sp,
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
		err_at(p, seq_item(p, algs, i), sp,
		       "unknown algorithm '%.32s' (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA; 'none' is never accepted)",
		       j->algorithms[i]);
	}
	if (!j->n_keys && !j->n_jwks_files)
		err_at(p, map, path, "needs 'keys' or 'jwks' (where the verification keys are)");
}

static void route_finish(struct pctx *p, yaml_node_t *map, void *base,
			 const char *path, yaml_node_t **vals)
{
	struct config_route *r = base;
	yaml_node_t *auth = val_of(&route_sec, vals, "auth");
	yaml_node_t *kq = val_of(&route_sec, vals, "key_query");
	yaml_node_t *kh = val_of(&route_sec, vals, "key_header");
	char sp[192];

	subpath(sp, sizeof(sp), path, "roles");
	check_roles(p, val_of(&route_sec, vals, "roles"), sp, r->auth.roles,
		    r->auth.n_roles);
	if ((r->auth.methods & AUTH_M_JWT) && !p->cfg->jwt.enabled) {
		subpath(sp, sizeof(sp), path, "auth");
		err_at(p, auth, sp, "'jwt' needs a top-level 'jwt' section (keys, issuer, ...)");
	}
	if (!r->auth.methods) {
		const char *needs[] = { "roles", "anonymous" };

		for (size_t i = 0; i < 2; i++) {
			yaml_node_t *v = val_of(&route_sec, vals, needs[i]);

			if (v) {
				subpath(sp, sizeof(sp), path, needs[i]);
				err_at(p, v, sp, "needs 'auth' (the accepted credentials)");
			}
		}
	}
	if (kh && r->auth.key_header[0] && !name_ok(r->auth.key_header, strlen(r->auth.key_header))) {
		subpath(sp, sizeof(sp), path, "key_header");
		err_at(p, kh, sp, "invalid header name '%s'", r->auth.key_header);
	}
	if (kq && r->auth.key_query[0] && !name_ok(r->auth.key_query, strlen(r->auth.key_query))) {
		subpath(sp, sizeof(sp), path, "key_query");
		err_at(p, kq, sp, "invalid query parameter name '%s' (use A-Z a-z 0-9 _ . -)",
		       r->auth.key_query);
	}
}

static void http_finish(struct pctx *p, yaml_node_t *map, void *base,
			const char *path, yaml_node_t **vals)
{
	struct config_http *h = base;
	yaml_node_t *n = val_of(&http_sec, vals, "max_uri_bytes");

	if (h->max_uri_bytes >= h->max_header_bytes)
		err_at(p, n ? n : map, n ? "http.max_uri_bytes" : path,
		       "must be smaller than http.max_header_bytes (%u)",
		       h->max_header_bytes);
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
		subpath(sp, sizeof(sp), path, "burst");
		err_at(p, burst, sp, "burst needs a rate (add rate: N/s)");
	}
	if (syn_burst && !syn) {
		subpath(sp, sizeof(sp), path, "syn_burst");
		err_at(p, syn_burst, sp, "syn_burst needs a syn rate (add syn: N/s)");
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

	yaml_node_t *admin = val_of(&root_sec, vals, "admin");

	if (!admin)
		c->admin_enabled = false;	/* no admin section: no admin */
	if (!val_of(&root_sec, vals, "xdp") && c->xdp.enabled)
		err_at(p, map, path,
		       "missing required key 'xdp' (xdp is enabled by default and needs 'interfaces'; set xdp.enabled: false to run without it)");
	if (c->admin_enabled) {
		yaml_node_t *an = map_get(p, admin, "address");

		for (size_t i = 0; i < c->n_listeners; i++) {
			if (!addr_eq(&c->listeners[i].addr, &c->admin))
				continue;
			err_at(p, an ? an : admin, an ? "admin.address" : "admin",
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
	config_security_free(c);
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
	allowlist_free(&c->auth.trusted_proxies);
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
	if (!root || (is_null(root) && !root->data.scalar.length)) {
		err_pos(p, 1, 1, NULL, "empty configuration file");
	} else if (root->type != YAML_MAPPING_NODE) {
		err_type(p, root, NULL, "a mapping at the top level");
	} else {
		/* a second document (or a syntax error after the first) */
		if (!yaml_parser_load(&y, &extra)) {
			ret = yaml_error(p, &y);
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2)
				err_at(p, r2, NULL,
				       "only one YAML document is allowed");
			yaml_document_delete(&extra);
		}
		if (ret != -ENOMEM) {
			ret = 0;
			apply_defaults(p, &root_sec, p->cfg);
			walk_map(p, root, &root_sec, p->cfg, "");
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

static int read_file(const char *path, char **out, size_t *outlen)
{
	size_t len = 0, cap = 4096;
	char *buf = NULL;
	int fd, ret = 0;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (!buf || len == cap) {
			char *nb;

			if (buf)
				cap *= 2;
			if (cap > CFG_MAX_FILE * 2) {
				ret = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CFG_MAX_FILE) {
			ret = -EFBIG;
			goto out;
		}
	}
out:
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* Append "line\n" to a malloc'd string. */
static int str_append(char **acc, size_t *len, const char *line, size_t n)
{
	char *p = realloc(*acc, *len + n + 2);

	if (!p)
		return -ENOMEM;
	memcpy(p + *len, line, n);
	*len += n;
	p[(*len)++] = '\n';
	p[*len] = '\0';
	*acc = p;
	return 0;
}

/*
 * Load CIDR list files into *list (normalized); every error line is
 * appended to *acc, and so is "too many entries" when the list would not
 * fit its XDP maps. `what` names the config key in that message.
 */
static int load_cidr_files(struct config *c, char *const *files, size_t n,
			   struct allowlist *list, unsigned int flags,
			   const char *what, size_t max4, size_t max6,
			   char **acc, size_t *acc_len)
{
	const size_t elen = 16384;
	char *ebuf = malloc(elen), line[160];
	size_t n4 = 0, n6 = 0;
	int ret = 0;

	if (!ebuf)
		return -ENOMEM;
	for (size_t i = 0; i < n && !ret; i++) {
		int r = allowlist_load_file_flags(files[i], list, flags, ebuf,
						  elen);

		if (r == -ENOMEM) {
			ret = -ENOMEM;
		} else if (r < 0) {
			for (char *l = ebuf, *nl; !ret && l && *l; l = nl) {
				nl = strchr(l, '\n');
				ret = str_append(acc, acc_len, l,
						 nl ? (size_t)(nl - l) : strlen(l));
				if (nl)
					nl++;
			}
		}
	}
	free(ebuf);
	if (ret)
		return ret;
	allowlist_normalize(list);
	for (size_t i = 0; i < list->n; i++) {
		if (list->entries[i].family == AF_INET)
			n4++;
		else
			n6++;
	}
	if (n4 > max4 || n6 > max6) {
		snprintf(line, sizeof(line),
			 "%s: %s: too many entries (%zu IPv4, %zu IPv6; max %zu each)",
			 c->path, what, n4, n6, max4);
		ret = str_append(acc, acc_len, line, strlen(line));
	}
	return ret;
}

static int opt_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 4 * sizeof(uint32_t));
}

/* Distinct rate-option sets in the allowlist must fit the class table. */
static int check_classes(struct config *c, char **acc, size_t *acc_len)
{
	const struct allowlist *al = &c->xdp.allow;
	uint32_t (*t)[4];
	size_t n = 0, distinct = 0;
	char line[200];
	int ret = 0;

	t = calloc(al->n ? al->n : 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < al->n; i++) {
		const struct allowlist_entry *e = &al->entries[i];

		if (!allowlist_has_options(e))
			continue;
		t[n][0] = e->rate;
		t[n][1] = e->burst;
		t[n][2] = e->syn;
		t[n][3] = e->syn_burst;
		n++;
	}
	qsort(t, n, sizeof(*t), opt_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(t[i], t[i - 1], sizeof(t[i])))
			distinct++;
	free(t);
	if (distinct > SLUICE_MAX_CLASSES - 1) {
		snprintf(line, sizeof(line),
			 "%s: xdp.allowlist: too many distinct rate option sets (%zu; max %u)",
			 c->path, distinct, SLUICE_MAX_CLASSES - 1);
		ret = str_append(acc, acc_len, line, strlen(line));
	}
	return ret;
}

int config_load_file(const char *path, struct config **out, char **errors)
{
	struct config *c;
	size_t len = 0, acc_len = 0;
	char *buf = NULL, *acc = NULL;
	int ret;

	*out = NULL;
	if (errors)
		*errors = NULL;
	ret = read_file(path, &buf, &len);
	if (ret) {
		if (errors && asprintf(errors, "%s: %s\n", path, strerror(-ret)) < 0)
			*errors = NULL;
		return ret;
	}
	ret = config_parse(path, buf, len, &c, errors);
	free(buf);
	if (ret)
		return ret;

	if (c->xdp.enabled && c->xdp.allowlist_enabled) {
		ret = load_cidr_files(c, c->xdp.allowlist_files,
				      c->xdp.n_allowlist_files, &c->xdp.allow, 0,
				      "xdp.allowlist", SLUICE_MAX_ALLOW4,
				      SLUICE_MAX_ALLOW6, &acc, &acc_len);
		if (!ret)
			ret = check_classes(c, &acc, &acc_len);
	}
	if (!ret && c->xdp.enabled && c->xdp.n_deny_files)
		ret = load_cidr_files(c, c->xdp.deny_files, c->xdp.n_deny_files,
				      &c->xdp.deny, ALLOWLIST_NO_OPTIONS,
				      "xdp.denylist", SLUICE_MAX_DENY4,
				      SLUICE_MAX_DENY6, &acc, &acc_len);
	if (!ret) {
		ret = config_security_load(c, &acc, &acc_len);
		if (!ret && acc)
			ret = -EINVAL;
	}
	if (ret) {
		if (errors && ret == -EINVAL)
			*errors = acc;
		else
			free(acc);
		config_put(c);
		return ret;
	}
	*out = c;
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
