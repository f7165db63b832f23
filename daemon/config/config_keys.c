// SPDX-License-Identifier: MIT
/*
 * Configuration: the key tables of every section -- one row per key with
 * its setter (the value type, setters.c), bounds, default and flags, named
 * initialisers only -- each naming its whole-section check
 * (csection.finish, config_checks.c). Table order is parse order. The
 * walker is walk.c.
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


static const char *const tls_versions[] = { "1.2", "1.3", NULL };
const char *const cfg_client_auth_modes[] = { "none", "optional",
						  "required", NULL };

#define TC(f) offsetof(struct config_tls_cert, f)
static const struct ckey tls_cert_keys[] = {
	{ .name = "cert", .set = cfg_set_file, .off = TC(cert), .min = 1,
	  .max = PATH_MAX - 1, .flags = K_REQUIRED | K_RELOAD },
	{ .name = "key", .set = cfg_set_file, .off = TC(key), .min = 1,
	  .max = PATH_MAX - 1, .flags = K_REQUIRED | K_RELOAD },
};
#undef TC
static const struct csection tls_cert_sec = {
	.what = "certificate",
	.keys = tls_cert_keys,
	.n_keys = N_KEYS(tls_cert_keys),
	.item_size = sizeof(struct config_tls_cert),
};

#define T(f) offsetof(struct config_tls, f)
static const struct ckey tls_keys[] = {
	{ .name = "certificates", .set = cfg_set_list, .off = T(certs),
	  .off2 = T(n_certs), .min = 1, .max = CONFIG_TLS_MAX_CERTS,
	  .flags = K_REQUIRED | K_RELOAD, .sub = &tls_cert_sec },
	{ .name = "min_version", .set = cfg_set_enum, .off = T(min_version),
	  .def_int = CFG_TLS_12, .flags = K_RELOAD, .choices = tls_versions },
	{ .name = "alpn", .set = cfg_set_strs, .off = T(alpn),
	  .off2 = T(n_alpn), .min = 1, .max = 8, .flags = K_RAW | K_RELOAD },
	{ .name = "client_ca", .set = cfg_set_file, .off = T(client_ca),
	  .min = 1, .max = PATH_MAX - 1, .flags = K_RELOAD },
	{ .name = "client_auth", .set = cfg_set_enum, .off = T(client_auth),
	  .def_int = CFG_CLIENT_AUTH_NONE, .flags = K_RELOAD,
	  .choices = cfg_client_auth_modes },
	{ .name = "handshake_timeout_ms", .set = cfg_set_u32,
	  .off = T(handshake_timeout_ms), .min = 100, .max = 600000,
	  .def_int = 10000, .flags = K_RELOAD },
	{ .name = "hsts", .set = cfg_set_str, .off = T(hsts), .min = 1,
	  .max = 256, .flags = K_RELOAD },
};
#undef T
static const struct csection tls_sec = {
	.what = "tls",
	.keys = tls_keys,
	.n_keys = N_KEYS(tls_keys),
	.finish = cfg_tls_finish,
};

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
	{ .name = "tls", .set = cfg_set_section, .off = L(tls),
	  .sub = &tls_sec },
	{ .name = "redirect_https", .set = cfg_set_u32,
	  .off = L(redirect_https), .min = 1, .max = 65535, .def_int = 0,
	  .flags = K_RELOAD },
	{ .name = "h2c", .set = cfg_set_bool, .off = L(h2c), .def_int = 0 },
};
#undef L
static const struct csection listener_sec = {
	.what = "listener",
	.keys = listener_keys,
	.n_keys = N_KEYS(listener_keys),
	.item_size = sizeof(struct config_listener),
	.finish = cfg_listener_finish,
};

static const char *const lb_modes[] = { "round_robin", "least_request",
					"hash", NULL };
static const char *const up_protocols[] = { "http1", "h2", NULL };

static void service_finish(struct pctx *p, const struct csection *sec,
			   yaml_node_t *map, void *base, const char *path,
			   yaml_node_t **vals);

#define HC(f) offsetof(struct config_health, f)
static const struct ckey health_keys[] = {
	{ .name = "path", .set = cfg_set_strbuf, .off = HC(path), .min = 1,
	  .max = sizeof(((struct config_health *)0)->path) - 1,
	  .def_str = "/healthz", .flags = K_RELOAD },
	{ .name = "interval_ms", .set = cfg_set_u32, .off = HC(interval_ms),
	  .min = 50, .max = 3600000, .def_int = 2000, .flags = K_RELOAD },
	{ .name = "timeout_ms", .set = cfg_set_u32, .off = HC(timeout_ms),
	  .min = 10, .max = 600000, .def_int = 1000, .flags = K_RELOAD },
	{ .name = "healthy", .set = cfg_set_u32, .off = HC(healthy),
	  .min = 1, .max = 100, .def_int = 2, .flags = K_RELOAD },
	{ .name = "unhealthy", .set = cfg_set_u32, .off = HC(unhealthy),
	  .min = 1, .max = 100, .def_int = 3, .flags = K_RELOAD },
	{ .name = "expect", .set = cfg_set_strs, .off = HC(expect),
	  .off2 = HC(n_expect), .min = 1, .max = CONFIG_MAX_EXPECT,
	  .flags = K_RAW | K_RELOAD },
};
#undef HC
static const struct csection health_sec = {
	.what = "health",
	.keys = health_keys,
	.n_keys = N_KEYS(health_keys),
};

#define OD(f) offsetof(struct config_outlier, f)
static const struct ckey outlier_keys[] = {
	{ .name = "consecutive_5xx", .set = cfg_set_u32,
	  .off = OD(consecutive_5xx), .max = 1000, .def_int = 5,
	  .flags = K_RELOAD },
	{ .name = "consecutive_connect_failures", .set = cfg_set_u32,
	  .off = OD(consecutive_connect_failures), .max = 1000, .def_int = 3,
	  .flags = K_RELOAD },
	{ .name = "base_ejection_ms", .set = cfg_set_u32,
	  .off = OD(base_ejection_ms), .min = 100, .max = 3600000,
	  .def_int = 30000, .flags = K_RELOAD },
	{ .name = "max_ejected_percent", .set = cfg_set_u32,
	  .off = OD(max_ejected_percent), .max = 100, .def_int = 50,
	  .flags = K_RELOAD },
};
#undef OD
static const struct csection outlier_sec = {
	.what = "outlier",
	.keys = outlier_keys,
	.n_keys = N_KEYS(outlier_keys),
};

#define RT(f) offsetof(struct config_retries, f)
static const struct ckey retries_keys[] = {
	{ .name = "attempts", .set = cfg_set_u32, .off = RT(attempts),
	  .min = 1, .max = 10, .def_int = 2, .flags = K_RELOAD },
	{ .name = "budget_percent", .set = cfg_set_u32,
	  .off = RT(budget_percent), .max = 100, .def_int = 20,
	  .flags = K_RELOAD },
	{ .name = "per_try_timeout_ms", .set = cfg_set_u32,
	  .off = RT(per_try_timeout_ms), .max = 600000, .def_int = 0,
	  .flags = K_RELOAD },
};
#undef RT
static const struct csection retries_sec = {
	.what = "retries",
	.keys = retries_keys,
	.n_keys = N_KEYS(retries_keys),
};

#define SL(f) offsetof(struct config_svc_limits, f)
static const struct ckey svc_limits_keys[] = {
	{ .name = "max_connections", .set = cfg_set_u32,
	  .off = SL(max_connections), .max = 1000000, .def_int = 0,
	  .flags = K_RELOAD },
	{ .name = "max_pending", .set = cfg_set_u32, .off = SL(max_pending),
	  .max = 1000000, .def_int = 0, .flags = K_RELOAD },
};
#undef SL
static const struct csection svc_limits_sec = {
	.what = "limits",
	.keys = svc_limits_keys,
	.n_keys = N_KEYS(svc_limits_keys),
};


#define UT(f) offsetof(struct config_upstream_tls, f)
static const struct ckey up_tls_keys[] = {
	{ .name = "enabled", .set = cfg_set_bool, .off = UT(enabled),
	  .def_int = 1, .flags = K_RELOAD },
	{ .name = "ca", .set = cfg_set_file, .off = UT(ca), .min = 1,
	  .max = PATH_MAX - 1, .flags = K_RELOAD },
	{ .name = "verify", .set = cfg_set_bool, .off = UT(verify),
	  .def_int = 1, .flags = K_RELOAD },
	{ .name = "sni", .set = cfg_set_str, .off = UT(sni), .min = 1,
	  .max = 253, .flags = K_RELOAD },
	{ .name = "cert", .set = cfg_set_file, .off = UT(cert), .min = 1,
	  .max = PATH_MAX - 1, .flags = K_RELOAD },
	{ .name = "key", .set = cfg_set_file, .off = UT(key), .min = 1,
	  .max = PATH_MAX - 1, .flags = K_RELOAD },
	{ .name = "min_version", .set = cfg_set_enum, .off = UT(min_version),
	  .def_int = CFG_TLS_12, .flags = K_RELOAD, .choices = tls_versions },
};
#undef UT
static const struct csection up_tls_sec = {
	.what = "tls",
	.keys = up_tls_keys,
	.n_keys = N_KEYS(up_tls_keys),
	.finish = cfg_up_tls_finish,
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
	{ .name = "lb", .set = cfg_set_enum, .off = S(lb), .def_int = 0,
	  .flags = K_RELOAD, .choices = lb_modes },
	{ .name = "hash_on", .set = cfg_set_strbuf, .off = S(hash_on),
	  .min = 1, .max = sizeof(((struct config_service *)0)->hash_on) - 1,
	  .def_str = "ip", .flags = K_RELOAD },
	{ .name = "health", .set = cfg_set_section, .off = S(health),
	  .flags = K_RELOAD, .sub = &health_sec },
	{ .name = "outlier", .set = cfg_set_section, .off = S(outlier),
	  .flags = K_RELOAD, .sub = &outlier_sec },
	{ .name = "retries", .set = cfg_set_section, .off = S(retries),
	  .flags = K_RELOAD, .sub = &retries_sec },
	{ .name = "limits", .set = cfg_set_section, .off = S(limits),
	  .flags = K_RELOAD, .sub = &svc_limits_sec },
	{ .name = "tls", .set = cfg_set_section, .off = S(tls),
	  .flags = K_RELOAD, .sub = &up_tls_sec },
	{ .name = "protocol", .set = cfg_set_enum, .off = S(protocol),
	  .def_int = CFG_PROTO_HTTP1, .flags = K_RELOAD,
	  .choices = up_protocols },
};
#undef S
static const struct csection service_sec = {
	.what = "service",
	.keys = service_keys,
	.n_keys = N_KEYS(service_keys),
	.item_size = sizeof(struct config_service),
	.finish = service_finish,
};

/* Key index in a table, for the finish hooks' vals[]. */
static size_t key_index(const struct ckey *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(keys[i].name, name))
			return i;
	return n;
}

/* "200-399" or "204" into lo..hi (100..599). */
static bool parse_status_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned int a, b;
	int used = 0;

	if (sscanf(s, "%3u-%3u%n", &a, &b, &used) == 2 && !s[used]) {
	} else if (sscanf(s, "%3u%n", &a, &used) == 1 && !s[used]) {
		b = a;
	} else {
		return false;
	}
	if (a < 100 || b > 599 || a > b)
		return false;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return true;
}

/* hash_on, health.expect; the health and outlier sections' presence. */
static void service_finish(struct pctx *p, const struct csection *sec,
			   yaml_node_t *map, void *base, const char *path,
			   yaml_node_t **vals)
{
	struct config_service *s = base;
	size_t nk = N_KEYS(service_keys);
	size_t ih = key_index(service_keys, nk, "health");
	size_t io = key_index(service_keys, nk, "outlier");
	size_t ihash = key_index(service_keys, nk, "hash_on");
	size_t itls = key_index(service_keys, nk, "tls");
	char sp[160];

	(void)map;
	s->n_names = 0;
	for (size_t i = 0; i < s->n_targets; i++)
		s->n_names += config_addr_is_name(&s->targets[i]);
	s->health.enabled = ih < nk && vals[ih];
	s->outlier.enabled = io < nk && vals[io];
	/* the active checks send an HTTP/1.1 GET: an HTTP/2-only target
	 * (a gRPC server) would fail every one */
	if (s->health.enabled && s->protocol == CFG_PROTO_H2) {
		cfg_subpath(sp, sizeof(sp), path, "health");
		cfg_err_at(p, vals[ih], sp,
			   "active health checks speak HTTP/1.1, which a service with protocol: h2 does not (use outlier: for passive ejection)");
	}
	/* tls: the section's presence enables it (enabled: false does not) */
	s->tls.enabled = itls < nk && vals[itls] && s->tls.enabled;
	for (size_t i = 0; s->tls.enabled && s->tls.verify && !s->tls.sni &&
			   i < s->n_targets; i++) {
		if (!config_addr_is_unix(&s->targets[i]))
			continue;
		cfg_subpath(sp, sizeof(sp), path, "tls");
		cfg_err_at(p, vals[itls], sp,
			   "a unix: target has no address to verify: set sni (the name its certificate carries) or verify: false");
		break;
	}
	if (s->tls.enabled && s->n_names) {
		/* upstream TLS keeps per-target state (sessions, the IP that
		 * is verified) by the index of a target as written */
		cfg_subpath(sp, sizeof(sp), path, "tls");
		cfg_err_at(p, vals[itls], sp,
			   "tls is not supported yet for a service with DNS-named targets");
	}
	if (!strcmp(s->hash_on, "ip")) {
		s->hash_kind = CFG_HASH_IP;
	} else if (!strncmp(s->hash_on, "header:", 7) && s->hash_on[7] &&
		   strlen(s->hash_on + 7) < sizeof(s->hash_name)) {
		s->hash_kind = CFG_HASH_HEADER;
		strcpy(s->hash_name, s->hash_on + 7);
	} else if (!strncmp(s->hash_on, "cookie:", 7) && s->hash_on[7] &&
		   strlen(s->hash_on + 7) < sizeof(s->hash_name)) {
		s->hash_kind = CFG_HASH_COOKIE;
		strcpy(s->hash_name, s->hash_on + 7);
	} else {
		cfg_subpath(sp, sizeof(sp), path, "hash_on");
		cfg_err_at(p, ihash < nk ? vals[ihash] : map, sp,
			   "invalid hash_on '%s' (use ip, header:NAME or "
			   "cookie:NAME)", s->hash_on);
	}
	if (!s->health.n_expect) {
		s->health.expect_lo[0] = 200;
		s->health.expect_hi[0] = 399;
	}
	for (size_t i = 0; i < s->health.n_expect; i++) {
		if (!s->health.expect[i] ||
		    parse_status_range(s->health.expect[i],
				       &s->health.expect_lo[i],
				       &s->health.expect_hi[i]))
			continue;
		cfg_subpath(sp, sizeof(sp), path, "health.expect");
		cfg_err_at(p, vals[ih], sp, "invalid status range '%s' (use "
			   "200-399 or a code, 100..599)",
			   s->health.expect[i]);
	}
	if (s->health.enabled && s->health.path[0] != '/') {
		cfg_subpath(sp, sizeof(sp), path, "health.path");
		cfg_err_at(p, vals[ih], sp, "must start with '/'");
	}
}

/* ---- auth, limits, escalation ---- */
static const char *const rl_keys[] = { "consumer", "ip", "route", "global", NULL };
/* order: enum config_limit_scope, enum config_redis_down */
static const char *const limit_scopes[] = { "local", "cluster", NULL };
static const char *const redis_down_modes[] = { "local", "open", "closed",
						NULL };
static const char *const roles_modes[] = { "any", "all", NULL };


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
	{ .name = "scope", .set = cfg_set_enum, .off = LM(scope),
	  .def_int = CFG_SCOPE_LOCAL, .flags = K_RELOAD,
	  .choices = limit_scopes },
};
#undef LM
static const struct csection limit_sec = {
	.what = "limit",
	.keys = limit_keys,
	.n_keys = N_KEYS(limit_keys),
	.item_size = sizeof(struct config_limit),
	.finish = cfg_limit_finish,
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
	{ .name = "client_certs", .set = cfg_set_strs,
	  .off = CO(client_certs), .off2 = CO(n_client_certs), .max = 64,
	  .flags = K_RAW | K_RELOAD },
};
#undef CO
static const struct csection consumer_sec = {
	.what = "consumer",
	.keys = consumer_keys,
	.n_keys = N_KEYS(consumer_keys),
	.item_size = sizeof(struct config_consumer),
	.finish = cfg_consumer_finish,
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
	.finish = cfg_jwt_key_finish,
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
	.finish = cfg_jwt_finish,
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


#define CL(f) offsetof(struct config_cluster, f)
static const struct ckey cluster_keys[] = {
	{ .name = "redis", .set = cfg_set_strbuf, .off = CL(redis), .min = 1,
	  .max = sizeof(((struct config_cluster *)0)->redis) - 1,
	  .flags = K_REQUIRED },
	{ .name = "password", .set = cfg_set_strbuf, .off = CL(password),
	  .min = 1, .max = sizeof(((struct config_cluster *)0)->password) - 1 },
	{ .name = "node", .set = cfg_set_strbuf, .off = CL(node), .min = 1,
	  .max = sizeof(((struct config_cluster *)0)->node) - 1 },
	{ .name = "on_redis_down", .set = cfg_set_enum,
	  .off = CL(on_redis_down), .def_int = CFG_REDIS_DOWN_LOCAL,
	  .choices = redis_down_modes },
	{ .name = "sync_ms", .set = cfg_set_u32, .off = CL(sync_ms), .min = 10,
	  .max = 1000, .def_int = 50 },
	{ .name = "timeout_ms", .set = cfg_set_u32, .off = CL(timeout_ms),
	  .min = 10, .max = 10000, .def_int = 200 },
};
#undef CL
static const struct csection cluster_sec = {
	.what = "cluster",
	.keys = cluster_keys,
	.n_keys = N_KEYS(cluster_keys),
	.finish = cfg_cluster_finish,
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
	/* richer matching and rewriting (docs/CONFIG.md, "Routes") */
	{ .name = "hosts", .set = cfg_set_hosts, .off = R(hosts),
	  .off2 = R(n_hosts), .min = 1, .max = 255, .flags = K_RELOAD },
	{ .name = "path_exact", .set = cfg_set_path_prefix,
	  .off = R(path_exact), .off2 = R(path_exact_len), .min = 1,
	  .max = 1024, .flags = K_RELOAD },
	{ .name = "path_regex", .set = cfg_set_regex, .off = R(path_regex),
	  .off2 = R(regex), .min = 1, .max = CONFIG_MAX_REGEX,
	  .flags = K_RELOAD },
	{ .name = "headers", .set = cfg_set_matches, .off = R(headers),
	  .off2 = R(n_headers), .min = 1, .max = 16,
	  .flags = K_HEADER | K_RELOAD },
	{ .name = "query", .set = cfg_set_matches, .off = R(query),
	  .off2 = R(n_query), .min = 1, .max = 16, .flags = K_RELOAD },
	{ .name = "strip_prefix", .set = cfg_set_bool, .off = R(strip_prefix),
	  .def_int = 0, .flags = K_RELOAD },
	{ .name = "rewrite_prefix", .set = cfg_set_path_prefix,
	  .off = R(rewrite_prefix), .off2 = R(rewrite_prefix_len), .min = 1,
	  .max = 1024, .flags = K_RELOAD },
	{ .name = "preserve_host", .set = cfg_set_bool,
	  .off = R(preserve_host), .def_int = 1, .flags = K_RELOAD },
	{ .name = "priority", .set = cfg_set_i64, .off = R(priority),
	  .min = -1000000, .max = 1000000, .def_int = 0, .flags = K_RELOAD },
};
#undef R
static const struct csection route_sec = {
	.what = "route",
	.keys = route_keys,
	.n_keys = N_KEYS(route_keys),
	.item_size = sizeof(struct config_route),
	.finish = cfg_route_finish,
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
	.finish = cfg_allowlist_finish,
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
	.finish = cfg_rate_finish,
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
	.finish = cfg_cookie_finish,
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
	{ .name = "list_prealloc", .set = cfg_set_bool, .off = X(list_prealloc),
	  .def_int = 0 },
	{ .name = "drop_sample", .set = cfg_set_u32, .off = X(drop_sample),
	  .max = 1 << 30, .def_int = 1 << SLUICE_DEF_SAMPLE_SHIFT,
	  .flags = K_RELOAD },
};
#undef X
static const struct csection xdp_sec = {
	.what = "xdp",
	.keys = xdp_keys,
	.n_keys = N_KEYS(xdp_keys),
	.finish = cfg_xdp_finish,
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
	.finish = cfg_access_log_finish,
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
	/* HTTP/2 (docs/HTTP2.md) */
	{ .name = "h2_max_concurrent_streams", .set = cfg_set_u32,
	  .off = H(h2_max_streams), .min = 1, .max = 1000, .def_int = 100,
	  .flags = K_RELOAD },
	{ .name = "h2_max_header_list_bytes", .set = cfg_set_u32,
	  .off = H(h2_max_header_list), .min = 1024, .max = 1 << 20,
	  .def_int = 16384, .flags = K_RELOAD },
	{ .name = "h2_initial_window", .set = cfg_set_u32,
	  .off = H(h2_initial_window), .min = 1024, .max = (1u << 31) - 1,
	  .def_int = 65535, .flags = K_RELOAD },
	{ .name = "h2_max_frame_size", .set = cfg_set_u32,
	  .off = H(h2_max_frame_size), .min = 16384, .max = (1 << 24) - 1,
	  .def_int = 16384, .flags = K_RELOAD },
	{ .name = "h2_max_glitches", .set = cfg_set_u32,
	  .off = H(h2_max_glitches), .min = 1, .max = 1000000, .def_int = 100,
	  .flags = K_RELOAD },
	{ .name = "h2_stall_timeout_ms", .set = cfg_set_u32,
	  .off = H(h2_stall_timeout_ms), .min = 100, .max = 3600000,
	  .def_int = 30000, .flags = K_RELOAD },
	{ .name = "h2_coalesce_us", .set = cfg_set_u32,
	  .off = H(h2_coalesce_us), .min = 0, .max = 1000,
	  .def_int = 200, .flags = K_RELOAD },
};
#undef H
static const struct csection http_sec = {
	.what = "http",
	.keys = http_keys,
	.n_keys = N_KEYS(http_keys),
	.finish = cfg_http_finish,
};

static const struct csection logging_sec = {
	.what = "logging",
	.keys = logging_keys,
	.n_keys = N_KEYS(logging_keys),
};


#define D(f) offsetof(struct config_dns, f)
static const struct ckey dns_keys[] = {
	/* IP:PORT of each server, asked in order; none: /etc/resolv.conf */
	{ .name = "servers", .set = cfg_set_addrs, .off = D(servers),
	  .off2 = D(n_servers), .min = 1, .max = 8, .flags = K_RELOAD },
	{ .name = "min_ttl_ms", .set = cfg_set_u32, .off = D(min_ttl_ms),
	  .min = 100, .max = 86400000, .def_int = 1000, .flags = K_RELOAD },
	{ .name = "max_ttl_ms", .set = cfg_set_u32, .off = D(max_ttl_ms),
	  .min = 100, .max = 86400000, .def_int = 300000, .flags = K_RELOAD },
	{ .name = "timeout_ms", .set = cfg_set_u32, .off = D(timeout_ms),
	  .min = 10, .max = 60000, .def_int = 2000, .flags = K_RELOAD },
};
#undef D
static const struct csection dns_sec = {
	.what = "dns",
	.keys = dns_keys,
	.n_keys = N_KEYS(dns_keys),
	.finish = cfg_dns_finish,
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
	/* before limits (scope: cluster needs it); not reloadable: the
	 * Redis connection is set up at start */
	{ .name = "cluster", .set = cfg_set_section, .off = C(cluster),
	  .sub = &cluster_sec },
	{ .name = "limits", .set = cfg_set_list, .off = C(limits),
	  .off2 = C(n_limits), .max = 16, .flags = K_RELOAD,
	  .sub = &limit_sec },
	{ .name = "escalation", .set = cfg_set_section, .off = C(escalation),
	  .flags = K_RELOAD, .sub = &escalation_sec },
	{ .name = "auth_realm", .set = cfg_set_strbuf, .off = C(auth_realm),
	  .min = 1, .max = AUTH_NAME_MAX - 1, .def_str = "sluice",
	  .flags = K_RELOAD },
	{ .name = "routes", .set = cfg_set_list, .off = C(routes),
	  .off2 = C(n_routes), .max = 16384, .flags = K_RELOAD,
	  .sub = &route_sec },
	{ .name = "http", .set = cfg_set_section, .off = C(http),
	  .sub = &http_sec },
	{ .name = "workers", .set = cfg_set_u32, .off = C(workers), .max = 256,
	  .def_int = 0 },
	{ .name = "watch_files", .set = cfg_set_bool, .off = C(watch_files),
	  .def_int = 0, .flags = K_RELOAD },
	{ .name = "user", .set = cfg_set_strbuf, .off = C(user), .min = 1,
	  .max = sizeof(((struct config *)0)->user) - 1, .def_str = "",
	  .flags = K_USERNAME },
	{ .name = "logging", .set = cfg_set_section, .sub = &logging_sec },
	{ .name = "metrics", .set = cfg_set_section, .off = C(metrics),
	  .sub = &metrics_sec },
	{ .name = "dns", .set = cfg_set_section, .off = C(dns),
	  .flags = K_RELOAD, .sub = &dns_sec },
};
#undef C
const struct csection cfg_root_sec = {
	.what = "config",
	.keys = root_keys,
	.n_keys = N_KEYS(root_keys),
	.finish = cfg_root_finish,
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
	       N_KEYS(cluster_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(denylist_keys) <= CFG_MAX_KEYS && N_KEYS(rate_keys) <= CFG_MAX_KEYS &&
	       N_KEYS(http_keys) <= CFG_MAX_KEYS && N_KEYS(dns_keys) <= CFG_MAX_KEYS,
	       "a key table outgrew CFG_MAX_KEYS");
#undef N_KEYS
