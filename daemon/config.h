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
 *   services:
 *     - name: echo
 *       targets: [127.0.0.1:9001, 127.0.0.1:9002]
 *       connect_timeout_ms: 2000
 *   routes:
 *     - name: api
 *       path_prefix: /api/
 *       service: echo
 *       methods: [GET, POST]         # optional; default: any
 *       host: api.example.com        # optional; default: any host
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
 *     trusted_proxies: [10.0.0.0/8]  # PROXY protocol + X-Forwarded-For
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
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "allowlist.h"

#define CONFIG_MAX_NAME 64

struct config_addr {
	struct sockaddr_storage sa;	/* AF_INET or AF_INET6, port set */
	socklen_t salen;
	uint16_t port;			/* host byte order */
	char text[64];			/* as written: "127.0.0.1:9001" */
};

struct config_listener {
	char name[CONFIG_MAX_NAME];
	struct config_addr addr;
	bool proxy_protocol;		/* expect a PROXY v1/v2 header from
					 * http.trusted_proxies peers */
};

struct config_service {
	char name[CONFIG_MAX_NAME];
	struct config_addr *targets;
	size_t n_targets;
	uint32_t connect_timeout_ms;	/* default 2000 */
	uint32_t max_idle;		/* pooled idle connections per target
					 * and worker; default 32, 0: no pool */
	uint32_t idle_timeout_ms;	/* pooled connection closed after */
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

struct config_route {
	char name[CONFIG_MAX_NAME];
	char *path_prefix;		/* starts with '/' */
	size_t path_prefix_len;
	char *host;			/* NULL: any host; lower-case, no port */
	uint32_t methods;		/* CFG_M_* bits; 0 = any */
	size_t service;			/* index into config.services */
	uint64_t max_body_bytes;	/* request body limit (413); 0: none.
					 * Absent: http.max_body_bytes */
};

/* Route max_body_bytes not given: inherit http.max_body_bytes. */
#define CONFIG_INHERIT UINT64_MAX

/* HTTP engine settings (section "http"); all times in milliseconds. */
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
	/* PROXY protocol peers and X-Forwarded-For hops that are believed */
	struct allowlist_entry *trusted_proxies;
	size_t n_trusted_proxies;
};

enum config_xdp_mode {
	CFG_XDP_AUTO = 0,
	CFG_XDP_NATIVE,
	CFG_XDP_GENERIC,
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
	int refcount;			/* atomic; config_get/config_put */
	struct config_metrics metrics;
	struct config_access_log access_log;
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

/* Read the file, config_parse() it, then load every allowlist file into
 * xdp.allow (errors "file:line: ..."). Same return convention. */
int config_load_file(const char *path, struct config **out, char **errors);

struct config *config_get(struct config *c);
void config_put(struct config *c);

#endif
