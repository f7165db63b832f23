// SPDX-License-Identifier: MIT
/*
 * Kong declarative config -> Sluice config (kongimport.h). One pass over
 * the plugins reports what cannot be converted (once per plugin); the
 * routes then take what each plugin means, silently.
 */
#include "cmd/kongimport.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "lib/str.h"
#include "policy/crypto.h"

#define MAX_RATES 4

struct kctx {
	const char *file;
	yaml_document_t doc;
	struct sbuf out, report;
	size_t left_out, actions;
	unsigned int jwt_env;		/* env: names handed out */
	bool any_jwt;
};

/* what the plugins on a route's path (route, service, global) ask for */
struct kpolicy {
	bool key, jwt;
	const char *key_header;
	bool key_query;
	int strip;			/* hide_credentials: -1 unset */
	yaml_node_t *roles;		/* acl allow (sequence) */
	yaml_node_t *allow, *deny;	/* ip-restriction */
	const char *limit_key;
	char rates[MAX_RATES][24];
	int n_rates;
};

/* ---- document access --------------------------------------------------- */

static yaml_node_t *node(struct kctx *k, int id)
{
	return yaml_document_get_node(&k->doc, id);
}

static unsigned long line_of(const yaml_node_t *n)
{
	return n ? (unsigned long)n->start_mark.line + 1 : 0;
}

static bool is_map(const yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE;
}

static bool is_seq(const yaml_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE;
}

static const char *sc(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value :
						  NULL;
}

static yaml_node_t *get(struct kctx *k, const yaml_node_t *map, const char *key)
{
	if (!is_map(map))
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const char *s = sc(node(k, p->key));

		if (s && !strcmp(s, key))
			return node(k, p->value);
	}
	return NULL;
}

static const char *gets(struct kctx *k, const yaml_node_t *map, const char *key)
{
	return sc(get(k, map, key));
}

static bool is_false(const char *s)
{
	return s && (!strcmp(s, "false") || !strcmp(s, "no"));
}

static bool is_true(const char *s)
{
	return s && (!strcmp(s, "true") || !strcmp(s, "yes"));
}

#define SEQ_EACH(k, seq, it)                                                    \
	for (yaml_node_item_t *it##_i = is_seq(seq) ? (seq)->data.sequence.items.start : NULL; \
	     it##_i && it##_i < (seq)->data.sequence.items.top; it##_i++)      \
		for (yaml_node_t *it = node(k, *it##_i); it; it = NULL)

#define MAP_EACH(k, map, kn, vn)                                                \
	for (yaml_node_pair_t *kn##_p = is_map(map) ? (map)->data.mapping.pairs.start : NULL; \
	     kn##_p && kn##_p < (map)->data.mapping.pairs.top; kn##_p++)       \
		for (yaml_node_t *kn = node(k, kn##_p->key), *vn = node(k, kn##_p->value); \
		     kn; kn = NULL, (void)vn)

/* ---- report and output --------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
left_out(struct kctx *k, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sbuf_addf(&k->report, "%s:%lu: not converted: %s\n", k->file,
		  line_of(n), msg);
	k->left_out++;
}

static void __attribute__((format(printf, 3, 4)))
action(struct kctx *k, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sbuf_addf(&k->report, "%s:%lu: to do: %s\n", k->file, line_of(n), msg);
	k->actions++;
}

/* a YAML single-quoted scalar */
static void q(struct kctx *k, const char *s)
{
	sbuf_adds(&k->out, "'");
	for (; s && *s; s++) {
		if (*s == '\'')
			sbuf_adds(&k->out, "''");
		else if ((unsigned char)*s >= 0x20)
			sbuf_add(&k->out, s, 1);
	}
	sbuf_adds(&k->out, "'");
}

/* a name Sluice accepts: [A-Za-z0-9_.-], at most 63 characters */
static void name_of(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; s && *s && o + 1 < len && o < 63; s++)
		buf[o++] = (char)((*s >= 'a' && *s <= 'z') ||
					  (*s >= 'A' && *s <= 'Z') ||
					  (*s >= '0' && *s <= '9') || *s == '_' ||
					  *s == '.' || *s == '-' ?
				  *s : '_');
	buf[o] = '\0';
	if (!o)
		snprintf(buf, len, "unnamed");
}

static void seq_out(struct kctx *k, const yaml_node_t *seq)
{
	bool first = true;

	sbuf_adds(&k->out, "[");
	SEQ_EACH(k, seq, it) {
		if (!sc(it))
			continue;
		sbuf_adds(&k->out, first ? "" : ", ");
		q(k, sc(it));
		first = false;
	}
	sbuf_adds(&k->out, "]");
}

/* ---- plugins ------------------------------------------------------------ */

static const char *const known_plugins[] = {
	"key-auth", "jwt", "rate-limiting", "ip-restriction", "acl", NULL,
};

static bool known_plugin(const char *name)
{
	for (size_t i = 0; known_plugins[i]; i++)
		if (name && !strcmp(name, known_plugins[i]))
			return true;
	return false;
}

static bool plugin_enabled(struct kctx *k, const yaml_node_t *pl)
{
	return !is_false(gets(k, pl, "enabled"));
}

/* Report, once per plugin, what of it cannot be converted. */
static void check_plugin(struct kctx *k, yaml_node_t *pl, const char *where)
{
	const char *name = gets(k, pl, "name");
	yaml_node_t *cfg = get(k, pl, "config");

	if (!plugin_enabled(k, pl))
		return;
	if (!known_plugin(name)) {
		left_out(k, pl, "plugin '%s' (%s)", name ? name : "?", where);
		return;
	}
	if (get(k, pl, "consumer"))
		left_out(k, pl, "plugin '%s' scoped to a consumer", name);
	if (!strcmp(name, "key-auth")) {
		yaml_node_t *kn = get(k, cfg, "key_names");

		if (is_seq(kn) && kn->data.sequence.items.top -
					  kn->data.sequence.items.start > 1)
			left_out(k, kn, "key-auth key_names beyond the first "
					"(Sluice reads one header)");
		if (is_true(gets(k, cfg, "key_in_body")))
			left_out(k, cfg, "key-auth key_in_body");
		if (gets(k, cfg, "anonymous"))
			left_out(k, cfg, "key-auth anonymous consumer "
					"(Sluice: 'anonymous: true' on the route "
					"passes without a name)");
	} else if (!strcmp(name, "jwt")) {
		yaml_node_t *u = get(k, cfg, "uri_param_names"),
			    *c = get(k, cfg, "cookie_names"),
			    *kc = get(k, cfg, "key_claim_name");

		if (is_seq(u) && u->data.sequence.items.top >
					 u->data.sequence.items.start)
			left_out(k, u, "jwt uri_param_names (Sluice reads "
					"Authorization: Bearer)");
		if (is_seq(c) && c->data.sequence.items.top >
					 c->data.sequence.items.start)
			left_out(k, c, "jwt cookie_names");
		if (sc(kc) && strcmp(sc(kc), "iss"))
			left_out(k, kc, "jwt key_claim_name '%s' (the import "
					"names JWT identities by iss)", sc(kc));
		if (get(k, cfg, "maximum_expiration"))
			left_out(k, cfg, "jwt maximum_expiration");
	} else if (!strcmp(name, "rate-limiting")) {
		static const char *const unsupported[] = { "month", "year" };
		const char *by = gets(k, cfg, "limit_by");

		for (size_t i = 0; i < 2; i++)
			if (get(k, cfg, unsupported[i]))
				left_out(k, get(k, cfg, unsupported[i]),
					 "rate-limiting per %s (Sluice windows "
					 "go up to days)", unsupported[i]);
		if (by && strcmp(by, "consumer") && strcmp(by, "ip") &&
		    strcmp(by, "credential") && strcmp(by, "service"))
			left_out(k, get(k, cfg, "limit_by"),
				 "rate-limiting limit_by '%s'", by);
		if (gets(k, cfg, "policy") && strcmp(gets(k, cfg, "policy"), "local"))
			left_out(k, get(k, cfg, "policy"),
				 "rate-limiting policy '%s': Sluice counts on "
				 "this host only", gets(k, cfg, "policy"));
	} else if (!strcmp(name, "acl")) {
		yaml_node_t *d = get(k, cfg, "deny"), *bl = get(k, cfg, "blacklist");

		if (d || bl)
			left_out(k, d ? d : bl, "acl deny list (Sluice requires "
						"roles; it has no denied roles)");
	}
}

static void apply_plugin(struct kctx *k, yaml_node_t *pl, struct kpolicy *p)
{
	const char *name = gets(k, pl, "name");
	yaml_node_t *cfg = get(k, pl, "config");

	if (!plugin_enabled(k, pl) || !known_plugin(name) ||
	    get(k, pl, "consumer"))
		return;
	if (!strcmp(name, "key-auth")) {
		yaml_node_t *kn = get(k, cfg, "key_names");
		const char *hide = gets(k, cfg, "hide_credentials");

		p->key = true;
		p->key_header = "apikey";	/* Kong's default */
		SEQ_EACH(k, kn, it) {
			if (sc(it)) {
				p->key_header = sc(it);
				break;
			}
		}
		p->key_query = !is_false(gets(k, cfg, "key_in_query"));
		if (is_false(gets(k, cfg, "key_in_header")))
			p->key_header = NULL;
		p->strip = is_true(hide);
	} else if (!strcmp(name, "jwt")) {
		p->jwt = true;
		k->any_jwt = true;
	} else if (!strcmp(name, "rate-limiting")) {
		static const struct { const char *key, *unit; } w[] = {
			{ "second", "s" }, { "minute", "m" }, { "hour", "h" },
			{ "day", "d" },
		};
		const char *by = gets(k, cfg, "limit_by");

		p->n_rates = 0;
		for (size_t i = 0; i < 4; i++) {
			const char *v = gets(k, cfg, w[i].key);

			if (v && p->n_rates < MAX_RATES)
				snprintf(p->rates[p->n_rates++],
					 sizeof(p->rates[0]), "%s/%s", v,
					 w[i].unit);
		}
		p->limit_key = !by || !strcmp(by, "consumer") ||
					       !strcmp(by, "credential") ?
				       "consumer" :
			       !strcmp(by, "ip")      ? "ip" :
			       !strcmp(by, "service") ? "route" :
							NULL;
	} else if (!strcmp(name, "ip-restriction")) {
		yaml_node_t *a = get(k, cfg, "allow"), *d = get(k, cfg, "deny");

		p->allow = a ? a : get(k, cfg, "whitelist");
		p->deny = d ? d : get(k, cfg, "blacklist");
	} else if (!strcmp(name, "acl")) {
		yaml_node_t *a = get(k, cfg, "allow");

		p->roles = a ? a : get(k, cfg, "whitelist");
	}
}

/* Plugins that apply to a route: global ones, then the service's, then
 * the route's (the most specific wins, as in Kong). */
static void policy_for(struct kctx *k, yaml_node_t *root, yaml_node_t *svc,
		       yaml_node_t *route, struct kpolicy *p)
{
	const char *sname = gets(k, svc, "name"), *rname = gets(k, route, "name");
	yaml_node_t *top = get(k, root, "plugins");

	memset(p, 0, sizeof(*p));
	p->strip = -1;
	SEQ_EACH(k, top, pl) {
		if (!get(k, pl, "service") && !get(k, pl, "route") &&
		    !get(k, pl, "consumer"))
			apply_plugin(k, pl, p);
	}
	SEQ_EACH(k, get(k, svc, "plugins"), pl)
		apply_plugin(k, pl, p);
	SEQ_EACH(k, top, pl) {
		const char *s = gets(k, pl, "service");

		if (s && sname && !strcmp(s, sname) && !get(k, pl, "route"))
			apply_plugin(k, pl, p);
	}
	SEQ_EACH(k, get(k, route, "plugins"), pl)
		apply_plugin(k, pl, p);
	SEQ_EACH(k, top, pl) {
		const char *r = gets(k, pl, "route");

		if (r && rname && !strcmp(r, rname))
			apply_plugin(k, pl, p);
	}
}

/* ---- services and routes ------------------------------------------------- */

/* host:port targets of a service into the output: the file's upstream of
 * that name, or the host itself */
static bool targets_out(struct kctx *k, yaml_node_t *root, yaml_node_t *svc,
			const char *host, const char *port)
{
	bool first = true;

	SEQ_EACH(k, get(k, root, "upstreams"), up) {
		if (!gets(k, up, "name") || strcmp(gets(k, up, "name"), host))
			continue;
		sbuf_adds(&k->out, "    targets: [");
		SEQ_EACH(k, get(k, up, "targets"), t) {
			const char *tt = gets(k, t, "target");

			if (!tt)
				continue;
			sbuf_adds(&k->out, first ? "" : ", ");
			if (strchr(tt, ':'))
				q(k, tt);
			else {
				char buf[300];

				snprintf(buf, sizeof(buf), "%s:8000", tt);
				q(k, buf);	/* Kong's default target port */
			}
			first = false;
		}
		sbuf_adds(&k->out, "]\n");
		if (get(k, up, "healthchecks"))
			left_out(k, get(k, up, "healthchecks"),
				 "upstream healthchecks (health is passive)");
		if (gets(k, up, "algorithm") &&
		    strcmp(gets(k, up, "algorithm"), "round-robin"))
			left_out(k, get(k, up, "algorithm"),
				 "upstream algorithm '%s' (round robin)",
				 gets(k, up, "algorithm"));
		return !first;
	}
	sbuf_addf(&k->out, "    targets: ['%s:%s']\n", host, port);
	(void)svc;
	return true;
}

static void service_out(struct kctx *k, yaml_node_t *root, yaml_node_t *svc)
{
	char name[64], host[256] = "", port[16] = "80", proto[16] = "http";
	const char *url = gets(k, svc, "url"), *v;

	name_of(gets(k, svc, "name"), name, sizeof(name));
	if (url) {
		/* scheme://host[:port][/path] */
		const char *h = strstr(url, "://"), *e;

		if (h) {
			snprintf(proto, sizeof(proto), "%.*s", (int)(h - url), url);
			h += 3;
		} else {
			h = url;
		}
		e = h + strcspn(h, ":/");
		snprintf(host, sizeof(host), "%.*s", (int)(e - h), h);
		if (*e == ':') {
			size_t n = strcspn(e + 1, "/");

			snprintf(port, sizeof(port), "%.*s", (int)n, e + 1);
			e += 1 + n;
		} else if (!strcmp(proto, "https")) {
			snprintf(port, sizeof(port), "443");
		}
		if (*e == '/' && e[1])
			left_out(k, get(k, svc, "url"), "service '%s' path '%s' "
				 "(upstream requests keep the client's path)",
				 name, e);
	} else {
		if ((v = gets(k, svc, "protocol")))
			snprintf(proto, sizeof(proto), "%s", v);
		if ((v = gets(k, svc, "host")))
			snprintf(host, sizeof(host), "%s", v);
		if ((v = gets(k, svc, "port")))
			snprintf(port, sizeof(port), "%s", v);
		else if (!strcmp(proto, "https"))
			snprintf(port, sizeof(port), "443");
		if ((v = gets(k, svc, "path")) && strcmp(v, "/"))
			left_out(k, get(k, svc, "path"), "service '%s' path '%s' "
				 "(upstream requests keep the client's path)",
				 name, v);
	}
	if (strcmp(proto, "http"))
		left_out(k, svc, "service '%s' protocol '%s' (Sluice proxies "
			 "HTTP/1.1 in clear text)", name, proto);
	sbuf_addf(&k->out, "  - name: %s\n", name);
	targets_out(k, root, svc, host, port);
	if ((v = gets(k, svc, "connect_timeout")))
		sbuf_addf(&k->out, "    connect_timeout_ms: %s\n", v);
	static const char *const timeouts[] = { "read_timeout", "write_timeout",
						"retries", "tls_verify",
						"client_certificate" };
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
		if (get(k, svc, timeouts[i]))
			left_out(k, get(k, svc, timeouts[i]), "service '%s' %s",
				 name, timeouts[i]);
}

static void one_route_out(struct kctx *k, const char *name, const char *svc,
			  const char *path, const char *host,
			  yaml_node_t *methods, const struct kpolicy *p)
{
	sbuf_addf(&k->out, "  - name: %s\n    path_prefix: ", name);
	q(k, path);
	sbuf_addf(&k->out, "\n    service: %s\n", svc);
	if (host) {
		sbuf_adds(&k->out, "    host: ");
		q(k, host);
		sbuf_adds(&k->out, "\n");
	}
	if (is_seq(methods)) {
		sbuf_adds(&k->out, "    methods: ");
		seq_out(k, methods);
		sbuf_adds(&k->out, "\n");
	}
	if (p->key || p->jwt) {
		sbuf_addf(&k->out, "    auth: [%s%s%s]\n", p->key ? "key" : "",
			  p->key && p->jwt ? ", " : "", p->jwt ? "jwt" : "");
		if (p->key && p->key_header)
			sbuf_addf(&k->out, "    key_header: %s\n", p->key_header);
		if (p->key && p->key_query)
			sbuf_addf(&k->out, "    key_query: %s\n",
				  p->key_header ? p->key_header : "apikey");
		/* Kong passes credentials on unless hide_credentials */
		sbuf_addf(&k->out, "    strip_credentials: %s\n",
			  p->strip == 1 ? "true" : "false");
	}
	if (p->roles) {
		sbuf_adds(&k->out, "    roles: ");
		seq_out(k, p->roles);
		sbuf_adds(&k->out, "\n");
	}
	if (p->allow) {
		sbuf_adds(&k->out, "    allow_cidrs: ");
		seq_out(k, p->allow);
		sbuf_adds(&k->out, "\n");
	}
	if (p->deny) {
		sbuf_adds(&k->out, "    deny_cidrs: ");
		seq_out(k, p->deny);
		sbuf_adds(&k->out, "\n");
	}
	if (p->n_rates && p->limit_key) {
		sbuf_addf(&k->out, "    limits:\n      - key: %s\n        rates: [",
			  p->limit_key);
		for (int i = 0; i < p->n_rates; i++)
			sbuf_addf(&k->out, "%s%s", i ? ", " : "", p->rates[i]);
		sbuf_adds(&k->out, "]\n");
	}
}

/* A Kong route is one Sluice route per path and host. */
static void route_out(struct kctx *k, yaml_node_t *root, yaml_node_t *svc,
		      yaml_node_t *route, unsigned int *seq)
{
	static const char *const unsupported[] = {
		"headers", "snis", "sources", "destinations", "regex_priority",
		"request_buffering", "response_buffering", "path_handling",
	};
	yaml_node_t *paths = get(k, route, "paths"),
		    *hosts = get(k, route, "hosts"),
		    *protos = get(k, route, "protocols");
	const char *strip = gets(k, route, "strip_path");
	char rname[64], sname[64], name[80];
	const char *path_list[32], *host_list[32];
	size_t np = 0, nh = 0;
	struct kpolicy p;

	name_of(gets(k, svc, "name"), sname, sizeof(sname));
	if (gets(k, route, "name"))
		name_of(gets(k, route, "name"), rname, sizeof(rname));
	else
		snprintf(rname, sizeof(rname), "%.50s-route-%u", sname, ++*seq);
	SEQ_EACH(k, paths, it) {
		const char *s = sc(it);

		if (!s)
			continue;
		if (s[0] == '~' || s[0] != '/') {
			left_out(k, it, "route '%s' path '%s' (regex paths; "
				 "Sluice matches prefixes)", rname, s);
			continue;
		}
		if (np < 32)
			path_list[np++] = s;
	}
	if (!paths)
		path_list[np++] = "/";
	if (!np)
		return;
	SEQ_EACH(k, hosts, it)
		if (sc(it) && nh < 32) {
			if (strchr(sc(it), '*'))
				left_out(k, it, "route '%s' wildcard host '%s'",
					 rname, sc(it));
			else
				host_list[nh++] = sc(it);
		}
	if (!is_false(strip))
		left_out(k, strip ? get(k, route, "strip_path") : route,
			 "route '%s' strip_path (Kong's default is true): the "
			 "upstream gets the full path", rname);
	SEQ_EACH(k, protos, it)
		if (sc(it) && strcmp(sc(it), "http"))
			left_out(k, it, "route '%s' protocol '%s'", rname, sc(it));
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (get(k, route, unsupported[i]))
			left_out(k, get(k, route, unsupported[i]), "route '%s' %s",
				 rname, unsupported[i]);
	policy_for(k, root, svc, route, &p);
	for (size_t i = 0; i < np; i++) {
		for (size_t j = 0; j < (nh ? nh : 1); j++) {
			if (np * (nh ? nh : 1) == 1)
				snprintf(name, sizeof(name), "%s", rname);
			else
				snprintf(name, sizeof(name), "%.50s-%zu", rname,
					 i * (nh ? nh : 1) + j + 1);
			one_route_out(k, name, sname, path_list[i],
				      nh ? host_list[j] : NULL,
				      get(k, route, "methods"), &p);
		}
	}
}

/* ---- consumers ----------------------------------------------------------- */

static void consumer_out(struct kctx *k, yaml_node_t *c)
{
	const char *user = gets(k, c, "username"), *id = gets(k, c, "custom_id");
	yaml_node_t *keys = get(k, c, "keyauth_credentials"),
		    *acls = get(k, c, "acls");
	char name[64];
	bool first;

	name_of(user ? user : id, name, sizeof(name));
	sbuf_addf(&k->out, "  - name: %s\n", name);
	if (is_seq(acls)) {
		sbuf_adds(&k->out, "    roles: [");
		first = true;
		SEQ_EACH(k, acls, a) {
			if (!gets(k, a, "group"))
				continue;
			sbuf_adds(&k->out, first ? "" : ", ");
			q(k, gets(k, a, "group"));
			first = false;
		}
		sbuf_adds(&k->out, "]\n");
	}
	first = true;
	SEQ_EACH(k, keys, kc) {
		const char *key = gets(k, kc, "key");
		uint8_t d[CRYPTO_SHA256_LEN];

		if (!key) {
			left_out(k, kc, "consumer '%s' key-auth credential "
				 "without a key (Kong would generate one)", name);
			continue;
		}
		if (first)
			sbuf_adds(&k->out, "    api_keys:\n");
		first = false;
		crypto_sha256(key, strlen(key), d);
		sbuf_adds(&k->out, "      - 'sha256:");
		for (size_t i = 0; i < sizeof(d); i++)
			sbuf_addf(&k->out, "%02x", d[i]);
		sbuf_adds(&k->out, "'\n");
	}
	static const char *const creds[] = {
		"basicauth_credentials", "hmacauth_credentials",
		"oauth2_credentials", "mtls_auth_credentials", "plugins",
	};
	for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++)
		if (get(k, c, creds[i]))
			left_out(k, get(k, c, creds[i]), "consumer '%s' %s",
				 name, creds[i]);
	if (is_seq(get(k, c, "jwt_secrets")) && is_seq(acls))
		left_out(k, get(k, c, "jwt_secrets"),
			 "consumer '%s' acls for its JWTs: a JWT identity is "
			 "named by the token's iss and its roles come from the "
			 "token's 'roles' claim", name);
}

/* jwt.keys from every consumer's jwt_secrets */
static void jwt_out(struct kctx *k, yaml_node_t *root)
{
	bool any = false;

	SEQ_EACH(k, get(k, root, "consumers"), c) {
		SEQ_EACH(k, get(k, c, "jwt_secrets"), js) {
			const char *alg = gets(k, js, "algorithm"),
				   *key = gets(k, js, "key");

			if (!alg)
				alg = "HS256";	/* Kong's default */
			if (alg[0] == 'H' && alg[1] == 'S') {
				char env[32];

				if (!any)
					sbuf_adds(&k->out,
						  "jwt:\n  consumer_claim: iss\n"
						  "  roles_claim: roles\n"
						  "  keys:\n");
				any = true;

				snprintf(env, sizeof(env), "KONG_JWT_SECRET_%u",
					 ++k->jwt_env);
				sbuf_addf(&k->out, "    - secret: env:%s\n"
						   "      alg: %s\n", env, alg);
				if (key) {
					sbuf_adds(&k->out, "      kid: ");
					q(k, key);
					sbuf_adds(&k->out, "\n");
				}
				action(k, js, "set %s to the jwt secret of "
					 "key '%s' (secrets are never written "
					 "in the config)", env, key ? key : "?");
			} else {
				left_out(k, js, "jwt %s public key of '%s': write "
					 "rsa_public_key to a PEM file and add it "
					 "under jwt.keys (file:, alg: %s)", alg,
					 key ? key : "?", alg);
			}
		}
	}
	if (k->any_jwt && !any)
		left_out(k, get(k, root, "consumers"),
			 "jwt plugin without any consumer jwt_secrets: add "
			 "keys under jwt.keys");
}

/* ---- the whole file ------------------------------------------------------ */

static void convert(struct kctx *k, yaml_node_t *root)
{
	static const char *const known_top[] = {
		"_format_version", "_transform", "_workspace", "services",
		"routes", "plugins", "consumers", "upstreams", NULL,
	};
	yaml_node_t *services = get(k, root, "services"),
		    *routes = get(k, root, "routes");
	unsigned int seq = 0;
	bool any_route = false;

	MAP_EACH(k, root, kn, vn) {
		size_t i;

		for (i = 0; known_top[i]; i++)
			if (sc(kn) && !strcmp(sc(kn), known_top[i]))
				break;
		if (!known_top[i])
			left_out(k, kn, "top-level '%s'", sc(kn) ? sc(kn) : "?");
	}
	/* report each plugin once, where it is written */
	SEQ_EACH(k, get(k, root, "plugins"), pl)
		check_plugin(k, pl, get(k, pl, "route") ? "route" :
				    get(k, pl, "service") ? "service" : "global");
	SEQ_EACH(k, services, svc) {
		SEQ_EACH(k, get(k, svc, "plugins"), pl)
			check_plugin(k, pl, "service");
		SEQ_EACH(k, get(k, svc, "routes"), r)
			SEQ_EACH(k, get(k, r, "plugins"), pl)
				check_plugin(k, pl, "route");
	}
	SEQ_EACH(k, routes, r) {
		SEQ_EACH(k, get(k, r, "plugins"), pl)
			check_plugin(k, pl, "route");
	}

	sbuf_adds(&k->out,
		  "# Converted from a Kong declarative config by "
		  "'sluicectl import kong'.\n"
		  "# Review it: what was not converted is listed on stderr.\n"
		  "listeners:\n  - name: proxy\n"
		  "    address: 0.0.0.0:8000          # Kong's proxy_listen\n"
		  "xdp:\n  enabled: false\n");
	if (is_seq(services)) {
		sbuf_adds(&k->out, "services:\n");
		SEQ_EACH(k, services, svc)
			service_out(k, root, svc);
	}
	sbuf_adds(&k->out, "routes:\n");
	SEQ_EACH(k, services, svc) {
		SEQ_EACH(k, get(k, svc, "routes"), r) {
			route_out(k, root, svc, r, &seq);
			any_route = true;
		}
		/* top-level routes naming this service */
		SEQ_EACH(k, routes, r) {
			const char *s = gets(k, r, "service");
			yaml_node_t *sn = get(k, r, "service");

			if (!s && is_map(sn))
				s = gets(k, sn, "name");
			if (s && gets(k, svc, "name") &&
			    !strcmp(s, gets(k, svc, "name"))) {
				route_out(k, root, svc, r, &seq);
				any_route = true;
			}
		}
	}
	SEQ_EACH(k, routes, r) {
		const char *s = gets(k, r, "service");
		yaml_node_t *sn = get(k, r, "service");
		bool found = false;

		if (!s && is_map(sn))
			s = gets(k, sn, "name");
		SEQ_EACH(k, services, svc)
			if (s && gets(k, svc, "name") &&
			    !strcmp(s, gets(k, svc, "name")))
				found = true;
		if (!found)
			left_out(k, r, "route '%s' without a known service",
				 gets(k, r, "name") ? gets(k, r, "name") : "?");
	}
	if (!any_route)
		sbuf_adds(&k->out, "  []\n");
	if (is_seq(get(k, root, "consumers"))) {
		sbuf_adds(&k->out, "consumers:\n");
		SEQ_EACH(k, get(k, root, "consumers"), c)
			consumer_out(k, c);
		jwt_out(k, root);
	}
}

int kong_import(const char *file, const char *text, size_t len,
		struct kong_result *out)
{
	struct kctx k = { .file = file };
	yaml_parser_t parser;
	yaml_node_t *root;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	sbuf_init_grow(&k.out, 4096);
	sbuf_init_grow(&k.report, 512);
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &k.doc)) {
		sbuf_addf(&k.report, "%s:%lu: invalid YAML: %s\n", file,
			  (unsigned long)parser.problem_mark.line + 1,
			  parser.problem ? parser.problem : "?");
		yaml_parser_delete(&parser);
		ret = -EINVAL;
		goto done;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&k.doc);
	if (!is_map(root) || !gets(&k, root, "_format_version")) {
		sbuf_addf(&k.report, "%s:%lu: not a Kong declarative config "
			  "(no _format_version)\n", file, line_of(root));
		ret = -EINVAL;
	} else {
		convert(&k, root);
	}
	yaml_document_delete(&k.doc);
done:
	out->yaml = sbuf_take(&k.out, &len);
	out->report = sbuf_take(&k.report, &len);
	out->n_left_out = k.left_out;
	out->n_actions = k.actions;
	if (!out->yaml || !out->report) {
		kong_result_free(out);
		return -ENOMEM;
	}
	return ret;
}

void kong_result_free(struct kong_result *r)
{
	free(r->yaml);
	free(r->report);
	r->yaml = r->report = NULL;
}
