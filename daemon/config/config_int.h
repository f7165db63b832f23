/* SPDX-License-Identifier: MIT */
/*
 * Internal to the config module (the files of daemon/config/); nothing else includes
 * this. The files, each calling only those above it in this list:
 *   errors.c        error collection and the final sorted report
 *   config_value.c  scalar and value parsers: YAML node -> C value, each
 *                   reporting its own errors
 *   walk.c          the table walker (cfg_walk_map, cfg_apply_defaults)
 *   setters.c       one setter per value type (cfg_set_*), named by the
 *                   key tables' rows; sections and lists walk again
 *   config_keys.c   the key tables of every section and their whole-section
 *                   checks (the csection finish hooks); cfg_root_sec
 *   config.c        config_parse() and the snapshot's lifetime
 *   config_files.c  config_load_file(): reading the file, allowlist and
 *                   denylist files, rate-class check, the caller's builder
 */
#ifndef SLUICE_CONFIG_INT_H
#define SLUICE_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config/config.h"

/* ---- key tables ---------------------------------------------------------- */

#define CFG_MAX_KEYS 32		/* keys per section */
#define CFG_MAX_ERRORS 200	/* reported; the rest are counted */

#define K_REQUIRED (1u << 0)	/* error when missing */
#define K_RELOAD   (1u << 1)	/* may change on SIGHUP reload */
#define K_UNIQUE   (1u << 2)	/* unique across the items of a list */
#define K_TARGET   (1u << 3)	/* addresses: unspecified (0.0.0.0, ::) refused */
#define K_IFNAME   (1u << 4)	/* strings: interface names */
#define K_FILE     (1u << 5)	/* strings: paths relative to the config dir */
#define K_ABSPATH  (1u << 6)	/* string: absolute path */
#define K_USERNAME (1u << 7)	/* string: a user name or numeric uid */
#define K_RAW      (1u << 8)	/* strings: kept as written (not paths) */
#define K_HEADER   (1u << 9)	/* matches: header names */

struct csection;
struct pctx;
struct ckey;

/*
 * A setter (setters.c): parse value node n of key k (key path `path`, for
 * messages) into the field at base + k->off; with n NULL, write the key's
 * default instead.
 */
typedef void cfg_setter(struct pctx *p, const struct ckey *k, yaml_node_t *n,
			void *base, const char *path);

/* One key of a section. Rows use named initialisers only. */
struct ckey {
	const char *name;
	cfg_setter *set;
	size_t off, off2;	/* field; off2: its count or length */
	long long min, max;	/* ints: bounds; strings: max length; lists:
				 * item count bounds */
	long long def_int;	/* default of bool, integer and enum keys */
	const char *def_str;	/* default of string, address and ratio keys */
	unsigned int flags;
	const struct csection *sub;	/* sections and lists */
	const char *const *choices;	/* NULL-terminated */
};

struct csection {
	const char *what;		/* item noun in messages ("listener") */
	const struct ckey *keys;
	size_t n_keys;
	size_t item_size;		/* cfg_set_list items */
	/* whole-section checks after all keys; vals[i]: value node of keys[i]
	 * or NULL when absent */
	void (*finish)(struct pctx *p, const struct csection *sec,
		       yaml_node_t *map, void *base, const char *path,
		       yaml_node_t **vals);
};

/* config_checks.c: the sections' whole-section checks (csection.finish) */
void cfg_root_finish(struct pctx *p, const struct csection *sec,
		     yaml_node_t *map, void *base, const char *path,
		     yaml_node_t **vals);
void cfg_listener_finish(struct pctx *p, const struct csection *sec,
			 yaml_node_t *map, void *base, const char *path,
			 yaml_node_t **vals);
void cfg_tls_finish(struct pctx *p, const struct csection *sec,
		    yaml_node_t *map, void *base, const char *path,
		    yaml_node_t **vals);
void cfg_up_tls_finish(struct pctx *p, const struct csection *sec,
		       yaml_node_t *map, void *base, const char *path,
		       yaml_node_t **vals);
void cfg_limit_finish(struct pctx *p, const struct csection *sec,
		      yaml_node_t *map, void *base, const char *path,
		      yaml_node_t **vals);
void cfg_consumer_finish(struct pctx *p, const struct csection *sec,
			 yaml_node_t *map, void *base, const char *path,
			 yaml_node_t **vals);
void cfg_jwt_finish(struct pctx *p, const struct csection *sec,
		    yaml_node_t *map, void *base, const char *path,
		    yaml_node_t **vals);
void cfg_jwt_key_finish(struct pctx *p, const struct csection *sec,
			yaml_node_t *map, void *base, const char *path,
			yaml_node_t **vals);
void cfg_route_finish(struct pctx *p, const struct csection *sec,
		      yaml_node_t *map, void *base, const char *path,
		      yaml_node_t **vals);
void cfg_cluster_finish(struct pctx *p, const struct csection *sec,
			yaml_node_t *map, void *base, const char *path,
			yaml_node_t **vals);
void cfg_allowlist_finish(struct pctx *p, const struct csection *sec,
			  yaml_node_t *map, void *base, const char *path,
			  yaml_node_t **vals);
void cfg_rate_finish(struct pctx *p, const struct csection *sec,
		     yaml_node_t *map, void *base, const char *path,
		     yaml_node_t **vals);
void cfg_cookie_finish(struct pctx *p, const struct csection *sec,
		       yaml_node_t *map, void *base, const char *path,
		       yaml_node_t **vals);
void cfg_xdp_finish(struct pctx *p, const struct csection *sec,
		    yaml_node_t *map, void *base, const char *path,
		    yaml_node_t **vals);
void cfg_access_log_finish(struct pctx *p, const struct csection *sec,
			   yaml_node_t *map, void *base, const char *path,
			   yaml_node_t **vals);
void cfg_http_finish(struct pctx *p, const struct csection *sec,
		     yaml_node_t *map, void *base, const char *path,
		     yaml_node_t **vals);
void cfg_dns_finish(struct pctx *p, const struct csection *sec,
		    yaml_node_t *map, void *base, const char *path,
		    yaml_node_t **vals);

/* listeners[].tls.client_auth values, in CFG_CLIENT_AUTH_* order */
extern const char *const cfg_client_auth_modes[];

/* ---- parse context ------------------------------------------------------- */

struct perr;

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

/* ---- errors.c ------------------------------------------------------------ */

/* Record "name:line:col: path: message" at node (1:1 when NULL). */
__attribute__((format(printf, 4, 5)))
void cfg_err_at(struct pctx *p, const yaml_node_t *node, const char *path,
		const char *fmt, ...);

/* The same at an explicit position (path NULL: none). */
__attribute__((format(printf, 5, 6)))
void cfg_err_pos(struct pctx *p, size_t line, size_t col, const char *path,
		 const char *fmt, ...);

/*
 * End of a parse: ret, or -ENOMEM/-EINVAL from what was recorded; with
 * -EINVAL the errors, sorted by position, one a line, in a malloc'd
 * *errors. Frees the recorded errors.
 */
int cfg_errors_finish(struct pctx *p, int ret, char **errors);

/* ---- walk.c -------------------------------------------------------------- */

yaml_node_t *cfg_node(struct pctx *p, int id);

/* Every key of sec to its default (its setter with a NULL node). */
void cfg_apply_defaults(struct pctx *p, const struct csection *sec,
			void *base);

/* Check mapping map against sec and set base's fields from it. */
void cfg_walk_map(struct pctx *p, yaml_node_t *map,
		  const struct csection *sec, void *base, const char *path);

/* out = "path.key" ("key" when path is empty). */
void cfg_subpath(char *out, size_t len, const char *path, const char *key);

/* Value node of `key` in mapping `map`, or NULL. */
yaml_node_t *cfg_map_get(struct pctx *p, yaml_node_t *map, const char *key);

/* ---- config_value.c: scalars --------------------------------------------- */

bool cfg_is_scalar(const yaml_node_t *n);
bool cfg_sc_eq(const yaml_node_t *n, const char *s);
bool cfg_is_null(const yaml_node_t *n);

/* What a node is, for "expected X, got Y". */
const char *cfg_got(const yaml_node_t *n, char *buf, size_t len);

/* A scalar's value, quoted for a message. */
const char *cfg_qv(const yaml_node_t *n, char *buf, size_t len);

void cfg_err_type(struct pctx *p, const yaml_node_t *n, const char *path,
		  const char *expected);

/* A non-null scalar without NUL bytes. */
bool cfg_get_str(struct pctx *p, const yaml_node_t *n, const char *path,
		 const char **s, size_t *len);

bool cfg_str_max(struct pctx *p, const yaml_node_t *n, const char *path,
		 size_t len, long long max);

/* Plain decimal integer, no leading zeros, optional '-'. */
bool cfg_get_int(struct pctx *p, const yaml_node_t *n, const char *path,
		 long long min, long long max, long long *out);

/* A plain decimal number ("0.25", "1", "5e-3"); no hex, inf or nan. */
bool cfg_get_number(struct pctx *p, const yaml_node_t *n, const char *path,
		    double *out);

/* true/false (also True, TRUE, ...): *out set, no error reported. */
bool cfg_bool_value(const yaml_node_t *n, bool *out);

bool cfg_get_bool(struct pctx *p, const yaml_node_t *n, const char *path,
		  bool *out);

/* Index of the node's value in the NULL-terminated choices c; -1 (and an
 * error) when it is none of them. */
int cfg_choice_index(struct pctx *p, const yaml_node_t *n, const char *path,
		     const char *const *c);

/* ---- config_value.c: addresses and other value types --------------------- */

/*
 * "a.b.c.d:port", "[v6]:port" or "localhost:port"; IP literals only, ports
 * 1-65535. On error writes a message (without the key path) to msg.
 */
int cfg_parse_addr(const char *s, size_t n, bool target,
		   struct config_addr *a, char *msg, size_t msglen);

bool cfg_addr_eq(const struct config_addr *a, const struct config_addr *b);

bool cfg_get_addr(struct pctx *p, const yaml_node_t *n, const char *path,
		  bool target, struct config_addr *a);

/* [A-Za-z0-9_.-]+ */
bool cfg_name_ok(const char *s, size_t n);

/* s[0..n) against the config file's directory (malloc'd; NULL on OOM). */
char *cfg_resolve_path(struct pctx *p, const char *s, size_t n);

/* One item of a cfg_set_strs sequence, by k->flags (K_IFNAME, K_RAW, a
 * path). */
bool cfg_get_strs_item(struct pctx *p, const struct ckey *k,
		       const yaml_node_t *n, const char *path, char **out,
		       char *const *prev, size_t n_prev);

bool cfg_get_method(struct pctx *p, const yaml_node_t *n, const char *path,
		    uint32_t *mask);

bool cfg_get_path_prefix(struct pctx *p, const yaml_node_t *n,
			 const char *path, const char *s, size_t len);

bool cfg_get_host(struct pctx *p, const yaml_node_t *n, const char *path,
		  const char *s, size_t len);

bool cfg_get_cidr(struct pctx *p, const yaml_node_t *n, const char *path,
		  struct allowlist *al);

bool cfg_get_auth_method(struct pctx *p, const yaml_node_t *n,
			 const char *path, uint32_t *mask);

/* ---- routes.c: route match keys and route checks -------------------------- */

/* A hosts: item ("*.name" allowed), normalised into a malloc'd *out. */
bool cfg_get_host_pattern(struct pctx *p, const yaml_node_t *n,
			  const char *path, const char *s, size_t len,
			  char **out);
/* A path_regex: checked, compiled anchored into a malloc'd regex_t. */
bool cfg_get_regex(struct pctx *p, const yaml_node_t *n, const char *path,
		   const char *s, size_t len, void **out);
void cfg_regex_free(void *re);
/* One name -> value(s) pair of headers: (header true) or query:. */
bool cfg_get_match(struct pctx *p, const yaml_node_t *kn,
		   const yaml_node_t *vn, const char *path, bool header,
		   struct config_match *m);
/* Value nodes route_finish hands to cfg_route_check, in this order:
 * path_prefix, path_exact, path_regex, host, hosts, strip_prefix,
 * rewrite_prefix. */
#define CFG_ROUTE_NODES 7
void cfg_route_check(struct pctx *p, yaml_node_t *map,
		     struct config_route *r, const char *path,
		     yaml_node_t *const nodes[CFG_ROUTE_NODES]);
/* Across all routes: the same conditions twice is an error. */
void cfg_routes_check(struct pctx *p, struct config *c);
/* What a route's match and rewrite keys allocated. */
void cfg_route_free(struct config_route *r);

/* ---- setters.c: one per value type --------------------------------------- */

cfg_setter cfg_set_name;	/* char[CONFIG_MAX_NAME]: [A-Za-z0-9_.-]{1,63} */
cfg_setter cfg_set_strbuf;	/* char[max + 1], optional choices */
cfg_setter cfg_set_enum;	/* int: index into choices */
cfg_setter cfg_set_bool;
cfg_setter cfg_set_u32;		/* uint32_t / unsigned int, min..max */
cfg_setter cfg_set_u64;		/* uint64_t, min..max */
cfg_setter cfg_set_rate;	/* "N/s" -> uint32_t N */
cfg_setter cfg_set_ratio;	/* double 0..1 */
cfg_setter cfg_set_addr;	/* struct config_addr */
cfg_setter cfg_set_path_prefix;	/* char *, length at off2 */
cfg_setter cfg_set_host;	/* char *, lower-cased */
cfg_setter cfg_set_str;		/* char * (malloc'd), as written */
cfg_setter cfg_set_file;	/* char *, resolved against the config dir */
cfg_setter cfg_set_service_ref;	/* size_t: index into config.services */
cfg_setter cfg_set_section;	/* mapping: sub table over base + off */
cfg_setter cfg_set_addrs;	/* struct config_addr *, count at off2 */
cfg_setter cfg_set_strs;	/* char **, count at off2 */
cfg_setter cfg_set_methods;	/* method names -> uint32_t CFG_M_* mask */
cfg_setter cfg_set_auth;	/* bearer|key|jwt -> uint32_t AUTH_M_* mask */
cfg_setter cfg_set_cidrs;	/* CIDRs -> struct allowlist */
cfg_setter cfg_set_buckets;	/* double[], strictly increasing; count off2 */
cfg_setter cfg_set_list;	/* mappings: items at off, count at off2 */
cfg_setter cfg_set_i64;		/* long long, min..max */
cfg_setter cfg_set_hosts;	/* host patterns -> char **, count at off2 */
cfg_setter cfg_set_regex;	/* char * pattern at off, regex_t * at off2 */
cfg_setter cfg_set_matches;	/* name: value(s) -> struct config_match *,
				 * count at off2; K_HEADER: header names */

/* ---- config_keys.c ------------------------------------------------------- */

/* The top-level table; its keys' order is parse order. */
extern const struct csection cfg_root_sec;

#endif
