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
 *     address: 127.0.0.1:9900
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
 *       targets: [127.0.0.1:9001, 127.0.0.1:9002]
 *       connect_timeout_ms: 2000
 *   routes:
 *     - name: api
 *       path_prefix: /api/
 *       service: echo
 *       methods: [GET, POST]         # optional; default: any
 *       host: api.example.com        # optional; default: any host
 *   workers: 1
 *   logging:
 *     level: info
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
};

struct config_service {
	char name[CONFIG_MAX_NAME];
	struct config_addr *targets;
	size_t n_targets;
	uint32_t connect_timeout_ms;	/* default 2000 */
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
};

enum config_xdp_mode {
	CFG_XDP_AUTO = 0,
	CFG_XDP_NATIVE,
	CFG_XDP_GENERIC,
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
	/* issue 3 */
	enum config_xdp_scope scope;	/* default guarded */
	bool persist;			/* default false */
	char **deny_files;		/* resolved relative to config dir */
	size_t n_deny_files;
	struct allowlist deny;		/* loaded by config_load_file */
	struct config_rate rate;	/* default class (xdp.rate_limit) */
	uint32_t rate_v6_prefix;	/* default 64 */
	uint32_t rate_table_size;	/* default 65536 */
	uint32_t drop_sample;		/* 1 in N drops sampled; 0 off; def. 64 */
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
	unsigned int workers;		/* default 1; 0 in file = one per CPU */
	char log_level[16];		/* default "info" */
	int refcount;			/* atomic; config_get/config_put */
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
