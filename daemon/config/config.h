/* SPDX-License-Identifier: MIT */
/*
 * Configuration: the only module that parses YAML (libyaml). Produces an
 * immutable, reference-counted snapshot. Table-driven keys; every error names
 * "file:line:column: message". All errors found are reported, not only the
 * first.
 *
 * Example:
 *   listeners:
 *     - name: public
 *       address: 127.0.0.1:8080      # IPv4 "a.b.c.d:port", IPv6 "[::1]:port"
 *   admin:
 *     address: 127.0.0.1:9900        # read-only HTTP (status, /metrics)
 *     socket: /run/sluice/admin.sock # full admin API, mode 0600
 *   xdp:
 *     enabled: true
 *     interfaces: [lo]
 *     mode: auto                     # auto | native | generic
 *     pin_path: /sys/fs/bpf/sluice
 *     allowlist:
 *       enabled: true
 *       files: [allowlist.txt]       # relative to the config file's directory
 *     denylist:
 *       files: [denylist.txt]        # CIDRs always dropped (checked first)
 *     scope: guarded                 # guarded (TCP to listener ports) | all
 *     persist: false                 # keep program + maps across restarts
 *     rate_limit:                    # default class; per-CIDR classes come
 *       rate: 1000/s                 # from allowlist line options
 *       burst: 2000
 *       syn: 50/s
 *       syn_burst: 100
 *       ipv6_prefix: 64              # IPv6 sources share a bucket per /64
 *       table_size: 65536            # LRU entries per address family
 *     drop_sample: 64                # 1 in N drops to sluicectl top; 0 off
 *   services:
 *     - name: echo
 *       targets: [127.0.0.1:9001, 127.0.0.1:9002]   # or unix:/run/app.sock
 *       connect_timeout_ms: 2000
 *   routes:
 *     - name: api
 *       path_prefix: /api/
 *       service: echo
 *       methods: [GET, POST]         # optional; default: any
 *       host: api.example.com        # optional; default: any host
 *       hosts: [a.example.com, '*.example.com']   # instead of host
 *       path_exact: /v1/x            # or path_regex: '/v[0-9]+/.*'
 *       headers: {X-Env: [canary, beta]}          # all must hold
 *       query: {version: '2'}
 *       strip_prefix: true           # or rewrite_prefix: /v2/
 *       preserve_host: true          # false: Host is the target address
 *       priority: 0                  # last tie-breaker (docs/CONFIG.md)
 *   http:                            # all optional, defaults shown
 *     header_timeout_ms: 10000       # request head must arrive within
 *     body_timeout_ms: 30000         # request body idle
 *     keepalive_timeout_ms: 60000
 *     response_timeout_ms: 60000     # upstream response idle -> 504
 *     tunnel_timeout_ms: 600000      # websocket tunnel idle
 *     drain_timeout_ms: 10000        # SIGTERM grace for in-flight requests
 *     max_header_bytes: 32768
 *     max_uri_bytes: 8192
 *     max_body_bytes: 0              # 0: unlimited; routes may override
 *     max_connections: 10000         # client connections per worker
 *     receive_buffers: 512           # 16 KiB client receive buffers per worker
 *     upstream_buffers: 128          # 32 KiB upstream receive buffers per worker
 *   workers: 0                       # 0: one per CPU (default)
 *   user: sluice                   # optional: drop privileges after setup
 *   logging:
 *     level: info
 *     access_log:                    # optional; off without a path
 *       path: /var/log/sluice/access.log   # absolute, or "-" for stdout
 *       format: json                 # json | combined
 *       sample: 1.0                  # 0..1 of requests with status < 400
 *       buffer_kb: 256               # per-worker line buffer
 *   metrics:
 *     enabled: true                  # GET /metrics on the admin listener
 *     request_duration_buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
 *     upstream_duration_buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
 *
 * Authentication, roles, L7 limits, escalation (docs/AUTH.md):
 *   consumers:
 *     - name: alice
 *       roles: [admin]
 *       bearer_tokens: ['sha256:<hex>']     # or file:PATH, env:NAME
 *       api_keys: [env:ALICE_KEY]
 *   jwt:
 *     algorithms: [RS256, ES256]          # default: all supported
 *     issuer: https://idp.example
 *     audiences: [api]
 *     leeway_s: 30
 *     consumer_claim: sub
 *     roles_claim: roles
 *     keys: [{file: idp.pem, kid: k1}]    # or {secret: env:HS_KEY}
 *     jwks: [jwks.json]
 *   trusted_proxies: [198.18.0.1]         # PROXY protocol + X-Forwarded-For
 *                                         # are believed from these
 *   limits: [{key: global, rates: [5000/s]}]
 *   escalation: {enabled: true, threshold: 20, window_s: 60, ban_s: 600}
 *   routes:
 *     - name: api ...
 *       auth: [bearer, key, jwt]          # any of
 *       anonymous: false
 *       roles: [admin]
 *       roles_mode: any                   # any | all
 *       key_header: X-API-Key
 *       key_query: api_key
 *       strip_credentials: true
 *       allow_cidrs: [198.18.0.0/15]
 *       deny_cidrs: [198.18.0.66]
 *       ratelimit_headers: true
 *       limits: [{key: consumer, rates: [10/s, 1000/h]}]   # consumer|ip|route|global
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "config/allowlist.h"
#include "config/auth_spec.h"
#include "config/limit_spec.h"

/* Built from a snapshot by policy/ (policy/policy.h), opaque here. */
struct auth_store;
struct rl_table;
struct router_index;
struct crl_table;

#define CONFIG_MAX_NAME 64

/* Room for the longest address as written: "unix:" and a sun_path of 107
 * bytes (IP:PORT forms are far shorter). */
#define CONFIG_ADDR_TEXT 128

struct config_addr {
	struct sockaddr_storage sa;	/* AF_INET or AF_INET6 with the port
					 * set; AF_UNIX (targets only) */
	socklen_t salen;
	uint16_t port;			/* host order; 0 for AF_UNIX */
	char text[CONFIG_ADDR_TEXT];	/* as written: "127.0.0.1:9001",
					 * "unix:/run/app.sock" */
	uint32_t weight;		/* service targets: 1..1000, default 1 */
};

/* A target written as a DNS name ("api-3.internal:9003"): no address of
 * its own (AF_UNSPEC, salen 0); the port is set and text is as written.
 * control/dns.c resolves it and each address becomes a target with the
 * name's weight (docs/CONFIG.md, "DNS names as targets"). */
static inline bool config_addr_is_name(const struct config_addr *a)
{
	return a->sa.ss_family == AF_UNSPEC && a->port;
}

/* The host name of a DNS-named target, text up to its last ':'. */
static inline size_t config_addr_host_len(const struct config_addr *a)
{
	const char *c = strrchr(a->text, ':');

	return c ? (size_t)(c - a->text) : 0;
}

/* Whether s[0..n) is a host name as DNS carries it: dot-separated labels
 * of 1-63 letters, digits and hyphens, not starting or ending with a
 * hyphen, at most 253 bytes, an optional final dot; not all digits and
 * dots (that is an IPv4 literal, checked as one). */
bool config_hostname_ok(const char *s, size_t n);

/* Top-level dns: how DNS-named targets are resolved. */
struct config_dns {
	struct config_addr *servers;	/* none: the system's resolv.conf */
	size_t n_servers;
	uint32_t min_ttl_ms;		/* a record's TTL is clamped to */
	uint32_t max_ttl_ms;		/* [min_ttl_ms, max_ttl_ms] */
	uint32_t timeout_ms;		/* one query's wait, per try */
};

/* How long an answer with a TTL of ttl_s seconds is used before the name
 * is asked again: the TTL clamped to [min_ttl_ms, max_ttl_ms]. */
uint32_t config_dns_ttl_ms(const struct config_dns *d, uint32_t ttl_s);

/* The wait before the next try after `fails` failed resolutions in a row
 * (1 for the first): min_ttl_ms doubled per failure, at most max_ttl_ms. */
uint32_t config_dns_backoff_ms(const struct config_dns *d, uint32_t fails);

/* A target reached through a Unix-domain stream socket ("unix:/path"):
 * no TCP options, no port, no host name of its own. */
static inline bool config_addr_is_unix(const struct config_addr *a)
{
	return a->sa.ss_family == AF_UNIX;
}

/* listeners[].tls: TLS termination (docs/TLS.md) */
#define CONFIG_TLS_MAX_CERTS 32
enum config_tls_version { CFG_TLS_12 = 0, CFG_TLS_13 };
enum config_client_auth { CFG_CLIENT_AUTH_NONE = 0, CFG_CLIENT_AUTH_OPTIONAL,
			  CFG_CLIENT_AUTH_REQUIRED };

struct config_tls_cert {
	char *cert;			/* PEM chain, leaf first (resolved path) */
	char *key;			/* PEM private key (resolved path) */
};

struct config_tls {
	bool enabled;			/* the listener has a tls: section */
	struct config_tls_cert *certs;	/* the first is the default */
	size_t n_certs;
	int min_version;		/* enum config_tls_version */
	char **alpn;			/* protocol ids, preference order */
	size_t n_alpn;
	char *client_ca;		/* PEM bundle; NULL: no client certs */
	int client_auth;		/* enum config_client_auth */
	uint32_t handshake_timeout_ms;
	char *hsts;			/* Strict-Transport-Security value */
};

/* Built from a snapshot's tls: sections by io/tls (SSL_CTXs), opaque
 * here; freed through config.tls_release. */
struct tls_set;

struct config_listener {
	char name[CONFIG_MAX_NAME];
	struct config_addr addr;
	struct config_tls tls;
	/* plain listener: answer every request with a 308 to https on this
	 * port (0: off) */
	uint32_t redirect_https;
	bool proxy_protocol;		/* expect a PROXY v1/v2 header from
					 * trusted_proxies peers */
	bool h2c;			/* plain listener: HTTP/2 with prior
					 * knowledge beside HTTP/1.1 */
	bool defer_accept;		/* TCP_DEFER_ACCEPT: handed over once
					 * the client's first bytes came;
					 * default true */
};

/* Balancing of a service (services[].lb), docs/CONFIG.md. */
enum config_lb {
	CFG_LB_ROUND_ROBIN = 0,		/* smooth weighted round robin */
	CFG_LB_LEAST_REQUEST,		/* power of two choices, weighted */
	CFG_LB_HASH,			/* consistent hashing (a ring) */
};

enum config_hash_on {
	CFG_HASH_IP = 0,		/* the request's client address */
	CFG_HASH_HEADER,		/* header:NAME */
	CFG_HASH_COOKIE,		/* cookie:NAME */
};

#define CONFIG_MAX_EXPECT 8

/* services[].health: active HTTP checks (enabled when the section is
 * given). expect: status ranges "200-399" or single codes. */
struct config_health {
	bool enabled;
	char path[256];			/* default /healthz */
	uint32_t interval_ms;		/* default 2000 */
	uint32_t timeout_ms;		/* default 1000 */
	uint32_t healthy;		/* passes to come back; default 2 */
	uint32_t unhealthy;		/* failures to go out; default 3 */
	char **expect;			/* as written */
	size_t n_expect;
	uint16_t expect_lo[CONFIG_MAX_EXPECT], expect_hi[CONFIG_MAX_EXPECT];
};

/* services[].outlier: passive ejection (enabled when the section is given) */
struct config_outlier {
	bool enabled;
	uint32_t consecutive_5xx;	/* default 5; 0: not counted */
	uint32_t consecutive_connect_failures;	/* default 3; 0: not counted */
	uint32_t base_ejection_ms;	/* default 30000, doubled per ejection */
	uint32_t max_ejected_percent;	/* default 50 */
};

/* services[].retries */
struct config_retries {
	uint32_t attempts;		/* tries in all; default 2 */
	uint32_t budget_percent;	/* of the requests in flight; def. 20 */
	uint32_t per_try_timeout_ms;	/* one attempt's wait for a response
					 * head; 0: none (the response timeout) */
};

/* services[].limits: 0 is no limit */
struct config_svc_limits {
	uint32_t max_connections;	/* requests in flight to the service */
	uint32_t max_pending;		/* of them, still connecting */
};

struct balance_state;

/* services[].protocol: what is spoken to the targets */
enum config_up_protocol {
	CFG_PROTO_HTTP1 = 0,		/* HTTP/1.1, pooled keep-alive */
	CFG_PROTO_H2,			/* HTTP/2: h2c (prior knowledge), or
					 * ALPN h2 over tls (gRPC) */
};

/* services[].tls: TLS to the service's targets (docs/TLS.md, "Upstream
 * TLS"). The SSL_CTX is built from it by io/tls at load time. */
struct config_upstream_tls {
	bool enabled;			/* tls: without enabled: false */
	char *ca;			/* PEM bundle; NULL: system store */
	bool verify;			/* default true */
	char *sni;			/* name sent and verified; NULL: none,
					 * the target's IP is verified */
	char *cert;			/* client certificate chain (mTLS) */
	char *key;			/* and its key */
	int min_version;		/* enum config_tls_version */
};

struct config_service {
	char name[CONFIG_MAX_NAME];
	struct config_addr *targets;	/* as written: addresses, names */
	size_t n_targets;
	size_t n_names;			/* of them, DNS names */
	uint32_t connect_timeout_ms;	/* default 2000 */
	uint32_t max_idle;		/* pooled idle connections per target
					 * and worker; default 32, 0: no pool */
	uint32_t idle_timeout_ms;	/* pooled connection closed after */
	int lb;				/* enum config_lb */
	char hash_on[80];		/* as written, default "ip" */
	int hash_kind;			/* enum config_hash_on */
	char hash_name[72];		/* header or cookie name */
	struct config_health health;
	struct config_outlier outlier;
	struct config_retries retries;
	struct config_svc_limits limits;
	struct config_upstream_tls tls;
	int protocol;			/* enum config_up_protocol */
	/* shared balancing and health state, built by policy_build()
	 * (policy/balance.h); kept across reloads by policy_adopt(). With
	 * DNS-named targets, replaced whole when a name's addresses change
	 * (balance_state_publish()): workers load it once per exchange and
	 * hold a reference; other threads use balance_state_get(). */
	struct balance_state *_Atomic state;
};

/* Method bits for config_route.methods; 0 means any method. */
enum config_method {
	CFG_M_GET = 1u << 0,
	CFG_M_HEAD = 1u << 1,
	CFG_M_POST = 1u << 2,
	CFG_M_PUT = 1u << 3,
	CFG_M_DELETE = 1u << 4,
	CFG_M_PATCH = 1u << 5,
	CFG_M_OPTIONS = 1u << 6,
	CFG_M_OTHER = 1u << 7,		/* any other token */
};

/*
 * An L7 rate limit: "limits:" at the top level (every route) or in a route.
 * The parser fills `limit` from the rates; the table is created by the
 * policy builder (policy_build()) and shared by every worker of the
 * snapshot.
 */
struct config_limit {
	int key;			/* enum rl_key_kind */
	char **rates;			/* "10/s", "1000/h", "100/10s burst 5" */
	size_t n_rates;
	uint32_t max_keys;		/* default RL_DEFAULT_MAX_KEYS */
	struct rl_limit limit;		/* parsed from rates */
	struct rl_table *table;		/* policy_build() */
	int scope;			/* enum config_limit_scope */
	char cluster_id[96];		/* scope cluster: its name in Redis */
	struct crl_table *ctable;	/* scope cluster: policy_build() */
};

/* How a route matches the path (docs/CONFIG.md, "Routes"). */
enum config_path_kind {
	CFG_PATH_PREFIX = 0,		/* path_prefix: a byte prefix */
	CFG_PATH_EXACT,			/* path_exact: the whole path */
	CFG_PATH_REGEX,			/* path_regex: anchored POSIX ERE */
};

/* A request header or query parameter condition: name with any of values. */
struct config_match {
	char *name;			/* headers: lower-case; query: as written */
	size_t name_len;
	char **values;			/* any one of them, compared exactly */
	size_t *value_lens;
	size_t n_values;
};

#define CONFIG_MAX_REGEX 256		/* path_regex bytes */

struct config_route {
	char name[CONFIG_MAX_NAME];
	char *path_prefix;		/* starts with '/' */
	size_t path_prefix_len;
	char *host;			/* host: as given (normalised), or NULL */
	uint32_t methods;		/* CFG_M_* bits; 0 = any */
	/* hosts: (and host:), normalised (http_host_normalize); "*.a.b" is
	 * a wildcard: one or more labels before ".a.b". None: any host. */
	char **hosts;
	size_t n_hosts;
	int path_kind;			/* enum config_path_kind */
	char *path_exact;		/* path_exact:, normal form */
	size_t path_exact_len;
	char *path_regex;		/* path_regex: as written */
	void *regex;			/* its regex_t, compiled "^(...)$" */
	struct config_match *headers;	/* headers: (all must hold) */
	size_t n_headers;
	struct config_match *query;	/* query: (all must hold) */
	size_t n_query;
	bool strip_prefix;		/* forward the path without the prefix */
	char *rewrite_prefix;		/* forward with the prefix replaced */
	size_t rewrite_prefix_len;
	bool preserve_host;		/* false: Host is the target's address */
	long long priority;		/* last tie-breaker; higher wins */
	uint32_t line, col;		/* where the route starts in the file */
	size_t service;			/* index into config.services */
	uint64_t max_body_bytes;	/* request body limit (413); 0: none.
					 * Absent: http.max_body_bytes */
	/* auth:, anonymous:, roles:, roles_mode:, key_header:, key_query:,
	 * strip_credentials:, allow_cidrs:, deny_cidrs: */
	struct auth_policy auth;
	struct config_limit *limits;	/* limits: */
	size_t n_limits;
	bool ratelimit_headers;		/* RateLimit-* on allowed responses */
};

/* Route max_body_bytes not given: inherit http.max_body_bytes. */
#define CONFIG_INHERIT UINT64_MAX

/* HTTP engine settings (section "http"); all times in milliseconds. */
enum { CFG_PATH_PARAMS_REJECT = 0, CFG_PATH_PARAMS_STRIP };
enum { CFG_ESCAPED_SLASHES_REJECT = 0, CFG_ESCAPED_SLASHES_KEEP };

struct config_http {
	uint32_t header_timeout_ms;	/* whole request head -> 408 */
	uint32_t body_timeout_ms;	/* client body idle -> 408 */
	uint32_t keepalive_timeout_ms;	/* idle between requests -> close */
	uint32_t response_timeout_ms;	/* upstream silent -> 504 */
	uint32_t tunnel_timeout_ms;	/* upgraded (websocket) tunnel idle */
	uint32_t drain_timeout_ms;	/* SIGTERM: in-flight requests get */
	uint32_t max_header_bytes;	/* request head -> 431 (not reloadable) */
	uint32_t max_uri_bytes;		/* request-target -> 414 */
	uint64_t max_body_bytes;	/* default for routes; 0: none */
	uint32_t max_connections;	/* clients per worker */
	/* Content-Length response bodies with at least this many bytes
	 * still to come after the head are spliced (0: never) */
	uint32_t splice_min_bytes;
	/* provided receive buffers per worker (powers of two, not
	 * reloadable): 16 KiB ones for clients, 32 KiB ones for upstreams */
	uint32_t receive_buffers;
	uint32_t upstream_buffers;
	/* request paths (docs/HTTP.md, "Path normalisation"):
	 * path_params: CFG_PATH_PARAMS_* (';' refused or stripped);
	 * escaped_slashes: CFG_ESCAPED_SLASHES_* (%2F/%5C refused or kept) */
	int path_params;
	int escaped_slashes;
	/* HTTP/2 (proxy/h2.c): SETTINGS advertised and enforced, the
	 * protocol-abuse budget per connection, the no-progress timeout */
	uint32_t h2_max_streams;
	uint32_t h2_max_header_list;
	uint32_t h2_initial_window;
	uint32_t h2_max_frame_size;
	uint32_t h2_max_glitches;
	uint32_t h2_stall_timeout_ms;
	/* output to a client held back this long (µs, 0: never) while
	 * enough of its streams wait on their upstreams (h2.c) */
	uint32_t h2_coalesce_us;
	/* PROXY protocol peers and X-Forwarded-For hops that are believed:
	 * the top-level trusted_proxies (config.trusted_proxies) */
};

/* consumers:. Secrets: "sha256:<hex>", "file:PATH", "env:NAME". */
struct config_consumer {
	char name[CONFIG_MAX_NAME];
	char **roles;
	size_t n_roles;
	char **bearer_tokens;
	size_t n_bearer_tokens;
	char **api_keys;
	size_t n_api_keys;
	/* TLS client certificates (auth: [mtls]): "sha256:<hex of the DER
	 * certificate's SHA-256>", "cn:<subject CN>" or "san:<DNS name>" */
	char **client_certs;
	size_t n_client_certs;
};

struct config_jwt_key {
	char *file;			/* PEM public key (resolved path) */
	char *secret;			/* HS*: "file:PATH" or "env:NAME" */
	char kid[AUTH_JWT_MAX_KID];
	char alg[16];			/* "" : any that fits the key */
};

/* jwt: one provider for every route with auth: [jwt]. */
struct config_jwt {
	bool enabled;			/* the section is present */
	char **algorithms;		/* default: all */
	size_t n_algorithms;
	char *issuer;
	char **audiences;
	size_t n_audiences;
	uint32_t leeway_s;		/* default 30 */
	bool require_exp;		/* default true */
	char consumer_claim[64];	/* default "sub" */
	char roles_claim[64];		/* default "roles" */
	struct config_jwt_key *keys;
	size_t n_keys;
	char **jwks_files;		/* resolved paths */
	size_t n_jwks_files;
};

/* escalation: N rejections within T seconds -> XDP ban for D. */
/* limits[].scope: where a limit's count lives */
enum config_limit_scope {
	CFG_SCOPE_LOCAL = 0,	/* this host (default) */
	CFG_SCOPE_CLUSTER,	/* every host of cluster: (docs/CLUSTER.md) */
};

/* cluster.on_redis_down */
enum config_redis_down {
	CFG_REDIS_DOWN_LOCAL = 0,	/* each host its share of the limit */
	CFG_REDIS_DOWN_OPEN,		/* cluster limits stop limiting */
	CFG_REDIS_DOWN_CLOSED,		/* cluster limits refuse (429) */
};

/* cluster: (section absent: enabled false, no Redis) */
struct config_cluster {
	bool enabled;			/* the section is present */
	char redis[256];		/* "HOST:PORT" or an absolute socket path */
	char password[256];		/* "", "env:NAME" or "file:PATH" */
	char node[64];			/* default: the hostname */
	int on_redis_down;		/* enum config_redis_down */
	uint32_t sync_ms;		/* limit reconcile interval, default 50 */
	uint32_t timeout_ms;		/* Redis connect/command timeout */
};

struct config_escalation {
	bool enabled;			/* default false */
	uint32_t threshold;		/* N, default 20 */
	uint32_t window_s;		/* T, default 60 */
	uint32_t ban_s;			/* D, default 600 */
	bool count_rate_limited;	/* 429s count (default true) */
	bool count_auth_failures;	/* 401s count (default true) */
	struct rl_table *strikes;	/* policy_build() */
};

enum config_xdp_mode {
	CFG_XDP_AUTO = 0,
	CFG_XDP_NATIVE,
	CFG_XDP_GENERIC,
};

/* SYNs per second over which xdp.syncookies: auto answers with cookies
 * when syn_rate is not given. */
#define CFG_DEF_COOKIE_SYN_RATE 5000

/* xdp.syncookies.enabled (docs/SYNCOOKIES.md) */
enum config_xdp_cookies {
	CFG_XDP_COOKIES_OFF = 0,
	CFG_XDP_COOKIES_ON,		/* every SYN to a guarded port */
	CFG_XDP_COOKIES_AUTO,		/* while SYNs/s > syn_rate */
};

enum config_xdp_scope {
	CFG_XDP_SCOPE_GUARDED = 0,	/* TCP to the listeners' ports */
	CFG_XDP_SCOPE_ALL,		/* every IPv4/IPv6 packet */
};

/* One token-bucket class. 0 rate: unlimited; 0 burst: one second's worth
 * (the rate's N). */
struct config_rate {
	uint32_t rate;			/* packets per second per source */
	uint32_t burst;
	uint32_t syn;			/* TCP SYNs per second per source */
	uint32_t syn_burst;
};

struct config_xdp {
	bool enabled;			/* default true */
	char **interfaces;
	size_t n_interfaces;
	enum config_xdp_mode mode;
	char pin_path[256];		/* default SLUICE_PIN_ROOT */
	bool allowlist_enabled;		/* default true if files given */
	char **allowlist_files;		/* resolved relative to config dir */
	size_t n_allowlist_files;
	struct allowlist allow;		/* all files' entries, loaded by config_load_file */
	/* guarded TCP ports: derived from listeners */
	uint16_t *ports;
	size_t n_ports;
	enum config_xdp_scope scope;	/* default guarded */
	bool persist;			/* default false */
	char **deny_files;		/* resolved relative to config dir */
	size_t n_deny_files;
	struct allowlist deny;		/* loaded by config_load_file */
	struct config_rate rate;	/* default class (xdp.rate_limit) */
	uint32_t rate_v6_prefix;	/* default 64 */
	uint32_t rate_table_size;	/* default 65536 */
	uint32_t drop_sample;		/* 1 in N drops sampled; 0 off; def. 64 */
	uint32_t list_size;		/* entries per allow/deny trie; 65536 */
	bool list_prealloc;		/* host hashes preallocated; false */
	enum config_xdp_cookies cookies;	/* default off */
	uint32_t cookie_syn_rate;	/* auto: global SYNs/s; def. 5000 */
};

#define CONFIG_MAX_BUCKETS 32

/* metrics: (docs/OBSERVABILITY.md). Buckets are fixed at start-up. */
struct config_metrics {
	bool enabled;			/* default true */
	double request_buckets[CONFIG_MAX_BUCKETS];	/* seconds */
	size_t n_request_buckets;	/* 0: the built-in default */
	double upstream_buckets[CONFIG_MAX_BUCKETS];
	size_t n_upstream_buckets;
};

enum config_log_format {
	CFG_LOG_JSON = 0,
	CFG_LOG_COMBINED,
};

/* logging.access_log: */
struct config_access_log {
	char path[256];			/* "": off; "-" or "stdout"; absolute */
	int format;			/* enum config_log_format */
	double sample;			/* 0..1, default 1 */
	uint32_t buffer_kb;		/* per worker, default 256 */
};

struct config {
	char *path;			/* file it came from */
	uint64_t generation;		/* set by the owner on swap */
	struct config_listener *listeners;
	size_t n_listeners;
	struct config_service *services;
	size_t n_services;
	struct config_route *routes;	/* in file order; longest prefix wins */
	size_t n_routes;
	struct config_xdp xdp;
	bool admin_enabled;
	struct config_addr admin;	/* default 127.0.0.1:9900 */
	char admin_socket[108];		/* default /run/sluice/admin.sock */
	unsigned int workers;		/* default 0 = one per CPU */
	char log_level[16];		/* default "info" */
	char user[33];			/* "": stay root; else drop to it */
	struct config_http http;
	struct config_consumer *consumers;
	size_t n_consumers;
	struct config_jwt jwt;
	struct config_limit *limits;	/* global: every route */
	size_t n_limits;
	struct config_escalation escalation;
	struct config_cluster cluster;
	char auth_realm[AUTH_NAME_MAX];	/* WWW-Authenticate realm */
	/* PROXY protocol peers and X-Forwarded-For hops that are believed */
	struct allowlist trusted_proxies;
	/* Built from the above by policy_build(): consumers, credentials,
	 * JWT keys (NULL until then). */
	struct auth_store *auth;
	/* The routing index (policy/router.h), built by policy_build(); NULL:
	 * routes are matched by a linear scan. */
	struct router_index *router;
	/* Frees what a builder attached (the auth store, the rate-limit
	 * tables); called by the last config_put(). NULL: nothing built. */
	void (*release)(struct config *c);
	/* The listeners' TLS contexts (io/tls.h tls_build()); NULL when no
	 * listener has TLS. Freed by the last config_put() through
	 * tls_release. */
	struct tls_set *tls;
	void (*tls_release)(struct tls_set *t);
	int refcount;			/* atomic; config_get/config_put */
	/* orders services[].state's replacement against readers that are
	 * not workers (balance_state_get(), balance_state_publish()) */
	pthread_mutex_t state_lock;
	struct config_metrics metrics;
	struct config_access_log access_log;
	struct config_dns dns;
	/* watch_files: reload when the config or a list file changes
	 * (inotify on the control thread); default false */
	bool watch_files;
};

/*
 * Parse YAML text `buf` named `name` (for messages; relative file references
 * resolve against its directory). Pure: reads no files, does not load the
 * allowlists (only records their resolved paths).
 * Returns 0 and *out (refcount 1), or -EINVAL with every error, one per
 * line "name:line:col: message", in a malloc'd *errors (caller frees).
 * -ENOMEM on allocation failure.
 */
int config_parse(const char *name, const char *buf, size_t len,
		 struct config **out, char **errors);

/* Read the file, config_parse() it, then load every allowlist and denylist
 * file into xdp.allow and xdp.deny (errors "file:line: ..."). Same return
 * convention. Builds no runtime objects: policy_load_file() does. */
int config_load_file(const char *path, struct config **out, char **errors);

/*
 * config_load_file(), then build(c, &acc, &acc_len) on the parsed snapshot
 * even when its list files had errors, so that one run reports all of them.
 * build appends "FILE: key: message" lines to *acc and returns 0 or
 * -ENOMEM; any line makes the load fail with -EINVAL. This is how a higher
 * layer (policy_load_file()) adds what it builds without config knowing it.
 */
int config_load_file_with(const char *path,
			  int (*build)(struct config *c, char **acc,
				       size_t *acc_len),
			  struct config **out, char **errors);

struct config *config_get(struct config *c);
void config_put(struct config *c);

#endif
