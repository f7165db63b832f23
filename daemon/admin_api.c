// SPDX-License-Identifier: MIT
/*
 * Admin API endpoints (JSON by default, aligned text tables with
 * ?format=text). See admin_api.h and docs/OPERATIONS.md for the reference.
 */
#include "admin_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sluice/abi.h>

#include "admin.h"
#include "allowlist.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "util/jw.h"
#include "util/table.h"
#include "version.h"
#include "xdpctl.h"
#include "xdpctl_live.h"

static struct {
	struct control *ctl;
	struct xdpctl_live live;	/* allow maps, read-write; -1 without xdp */
	pthread_mutex_t edit_lock;	/* serializes live edits */
	time_t started;
} api = { .live = { -1, -1 }, .edit_lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- helpers ------------------------------------------------------------------ */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Find key in an application/x-www-form-urlencoded string ("a=1&b=x%2Fy")
 * and decode its value into out. 1 found, 0 absent, -EINVAL bad encoding or
 * too long.
 */
static int form_get(const char *s, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);

	while (s && *s) {
		const char *amp = strchr(s, '&');
		const char *end = amp ? amp : s + strlen(s);

		if ((size_t)(end - s) > kl && !strncmp(s, key, kl) && s[kl] == '=') {
			size_t o = 0;

			for (const char *p = s + kl + 1; p < end; p++) {
				char c = *p;

				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int h, l;

					if (end - p < 3)
						return -EINVAL;
					h = hexval(p[1]);
					l = hexval(p[2]);
					if (h < 0 || l < 0)
						return -EINVAL;
					c = (char)(h * 16 + l);
					p += 2;
				}
				if (c == '\0' || o + 1 >= outlen)
					return -EINVAL;
				out[o++] = c;
			}
			out[o] = '\0';
			return 1;
		}
		s = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* A parameter from the query string or, for POST, the form body. */
static int param(const struct admin_request *rq, const char *key, char *out,
		 size_t outlen)
{
	int r = form_get(rq->query, key, out, outlen);

	if (r == 0 && rq->body_len)
		r = form_get(rq->body, key, out, outlen);
	return r;
}

static bool want_text(const struct admin_request *rq)
{
	char f[16];

	return param(rq, "format", f, sizeof(f)) == 1 && !strcmp(f, "text");
}

static int finish_json(struct jw *w, struct admin_reply *out, int status)
{
	char *body;
	size_t len;
	int ret;

	ret = jw_finish(w, &body, &len);
	if (ret)
		return ret;
	free(out->body);
	out->body = body;
	out->len = len;
	out->status = status;
	out->content_type = "application/json";
	return 0;
}

static int finish_text(char *text, size_t len, struct admin_reply *out)
{
	free(out->body);
	out->body = text;
	out->len = len;
	out->status = 200;
	out->content_type = "text/plain; charset=utf-8";
	return 0;
}

static const char *mode_name(enum config_xdp_mode m)
{
	switch (m) {
	case CFG_XDP_NATIVE: return "native";
	case CFG_XDP_GENERIC: return "generic";
	default: return "auto";
	}
}

static const char *const method_names[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
};

static void methods_text(uint32_t m, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	if (!m) {
		snprintf(buf, len, "any");
		return;
	}
	for (unsigned int i = 0; i < 8; i++)
		if (m & (1u << i))
			o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
					      o ? "," : "", method_names[i]);
}

static int need_get(const struct admin_request *rq, struct admin_reply *out)
{
	if (strcmp(rq->method, "GET"))
		return admin_reply_bad_method(out, "GET") ? -ENOMEM : 1;
	return 0;
}

static int need_post(const struct admin_request *rq, struct admin_reply *out)
{
	if (strcmp(rq->method, "POST"))
		return admin_reply_bad_method(out, "POST") ? -ENOMEM : 1;
	return 0;
}

/* ---- GET /status ------------------------------------------------------------------ */

struct xdp_view {
	bool on;
	struct sluice_counter cnt[SLUICE_R_MAX];
	long n4, n6;
};

static void read_xdp(struct control *ctl, struct xdp_view *v)
{
	memset(v, 0, sizeof(*v));
	if (!ctl->xdp || api.live.allow4_fd < 0)
		return;
	if (xdpctl_read_stats(ctl->xdp, v->cnt))
		return;
	v->n4 = xdpctl_pins_count(api.live.allow4_fd);
	v->n6 = xdpctl_pins_count(api.live.allow6_fd);
	v->on = v->n4 >= 0 && v->n6 >= 0;
}

static void jw_counters(struct jw *w, const struct xdp_view *v)
{
	jw_key(w, "counters");
	jw_obj(w);
	for (int r = 0; r < SLUICE_R_MAX; r++) {
		jw_key(w, xdpctl_reason_name((enum sluice_reason)r));
		jw_obj(w);
		jw_ku64(w, "packets", v->cnt[r].packets);
		jw_ku64(w, "bytes", v->cnt[r].bytes);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

static int h_status(const struct admin_request *rq, struct admin_reply *out,
		    void *arg)
{
	struct control *ctl = arg;
	struct control_stats st;
	struct xdp_view xv;
	struct config *c;
	struct jw w;
	int r = need_get(rq, out);

	if (r)
		return r < 0 ? r : 0;
	c = control_config(ctl, &st);
	control_stats_free(&st);	/* only the counters are used */
	read_xdp(ctl, &xv);
	if (want_text(rq)) {
		char *text = NULL;
		size_t len = 0;
		int n;

		n = asprintf(&text,
			     "sluiced %s, pid %d, up %llds\n"
			     "config:      %s (generation %" PRIu64 ")\n"
			     "reloads:     %" PRIu64 " ok, %" PRIu64 " failed%s%s\n"
			     "workers:     %u\n"
			     "listeners:   %zu\n"
			     "xdp:         %s\n",
			     SLUICE_VERSION, (int)getpid(),
			     (long long)(time(NULL) - api.started), c->path,
			     c->generation, st.reloads, st.reload_failures,
			     st.last_reload_at && !st.last_reload_ok ?
				     " (the last one failed: see GET /config)" : "",
			     "",
			     st.workers, c->n_listeners,
			     xv.on ? "attached" : c->xdp.enabled ? "enabled, maps unreadable" : "disabled");
		config_put(c);
		if (n < 0)
			return -ENOMEM;
		len = (size_t)n;
		if (xv.on) {
			struct table t;
			static const char *const hdr[] = { "REASON", "PACKETS", "BYTES" };
			char p[24], b[24], *more = NULL;

			table_init(&t, 3, 6, hdr);
			for (int i = 0; i < SLUICE_R_MAX; i++) {
				const char *row[3] = {
					xdpctl_reason_name((enum sluice_reason)i), p, b
				};

				snprintf(p, sizeof(p), "%" PRIu64, (uint64_t)xv.cnt[i].packets);
				snprintf(b, sizeof(b), "%" PRIu64, (uint64_t)xv.cnt[i].bytes);
				table_row(&t, row);
			}
			if (asprintf(&more, "allowlist:   %ld IPv4, %ld IPv6\n\n",
				     xv.n4, xv.n6) < 0) {
				table_free(&t);
				free(text);
				return -ENOMEM;
			}
			n = (int)strlen(more);
			text = realloc(text, len + (size_t)n + 1);
			if (!text) {
				free(more);
				table_free(&t);
				return -ENOMEM;
			}
			memcpy(text + len, more, (size_t)n + 1);
			len += (size_t)n;
			free(more);
			if (table_render(&t, &text, &len)) {
				free(text);
				return -ENOMEM;
			}
		}
		return finish_text(text, len, out);
	}

	jw_init(&w);
	jw_obj(&w);
	jw_kstr(&w, "version", SLUICE_VERSION);
	jw_ku64(&w, "pid", (uint64_t)getpid());
	jw_ki64(&w, "uptime_s", (int64_t)(time(NULL) - api.started));
	jw_ku64(&w, "uid", (uint64_t)geteuid());
	jw_key(&w, "config");
	jw_obj(&w);
	jw_kstr(&w, "path", c->path);
	jw_ku64(&w, "generation", c->generation);
	jw_obj_end(&w);
	jw_ku64(&w, "reloads", st.reloads);
	jw_ku64(&w, "reload_failures", st.reload_failures);
	jw_ku64(&w, "workers", st.workers);
	jw_key(&w, "listeners");
	jw_arr(&w);
	for (size_t i = 0; i < c->n_listeners; i++) {
		jw_obj(&w);
		jw_kstr(&w, "name", c->listeners[i].name);
		jw_kstr(&w, "address", c->listeners[i].addr.text);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "xdp");
	jw_obj(&w);
	jw_kbool(&w, "enabled", c->xdp.enabled);
	jw_kbool(&w, "attached", xv.on);
	jw_key(&w, "interfaces");
	jw_arr(&w);
	for (size_t i = 0; i < c->xdp.n_interfaces; i++)
		jw_str(&w, c->xdp.interfaces[i]);
	jw_arr_end(&w);
	jw_kstr(&w, "mode", mode_name(c->xdp.mode));
	jw_kstr(&w, "pin_path", c->xdp.pin_path);
	jw_obj_end(&w);
	/* the same keys as the pin-based `sluicectl status --json` */
	if (xv.on) {
		jw_kstr(&w, "pin_path", c->xdp.pin_path);
		jw_counters(&w, &xv);
		jw_key(&w, "allowlist");
		jw_obj(&w);
		jw_ki64(&w, "v4", xv.n4);
		jw_ki64(&w, "v6", xv.n6);
		jw_obj_end(&w);
		jw_ku64(&w, "guarded_ports", c->xdp.n_ports);
	}
	jw_obj_end(&w);
	config_put(c);
	return finish_json(&w, out, 200);
}

/* ---- GET /config ------------------------------------------------------------------ */

static int h_config(const struct admin_request *rq, struct admin_reply *out,
		    void *arg)
{
	struct control *ctl = arg;
	struct control_stats st;
	struct config *c;
	struct jw w;
	int r = need_get(rq, out);

	if (r)
		return r < 0 ? r : 0;
	c = control_config(ctl, &st);
	if (want_text(rq)) {
		char *text = NULL, when[32] = "never";
		size_t len;
		struct tm tm;
		FILE *f = open_memstream(&text, &len);

		if (!f) {
			control_stats_free(&st);
			config_put(c);
			return -ENOMEM;
		}
		if (st.last_reload_at && gmtime_r(&st.last_reload_at, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(f, "config:      %s\ngeneration:  %" PRIu64 "\n"
			   "reloads:     %" PRIu64 " ok, %" PRIu64 " failed\n"
			   "last reload: %s%s%s%s\n",
			c->path, c->generation, st.reloads, st.reload_failures,
			when, st.last_reload_at ? (st.last_reload_ok ? ", applied" : ", REFUSED") : "",
			st.last_reload_at ? ", via " : "",
			st.last_reload_at ? st.last_reload_origin : "");
		for (const char *p = st.last_reload_errors; p && *p;) {
			const char *nl = strchr(p, '\n');
			int l = nl ? (int)(nl - p) : (int)strlen(p);

			if (l)
				fprintf(f, "  %.*s\n", l, p);
			p = nl ? nl + 1 : NULL;
		}
		fprintf(f, "live edits:  runtime only (a reload re-syncs from the files)\n");
		control_stats_free(&st);
		config_put(c);
		if (fclose(f))
			return -ENOMEM;
		return finish_text(text, len, out);
	}
	jw_init(&w);
	jw_obj(&w);
	jw_kstr(&w, "path", c->path);
	jw_ku64(&w, "generation", c->generation);
	jw_ki64(&w, "loaded_at", (int64_t)st.loaded_at);
	jw_ku64(&w, "reloads", st.reloads);
	jw_ku64(&w, "reload_failures", st.reload_failures);
	jw_key(&w, "last_reload");
	if (!st.last_reload_at) {
		jw_null(&w);
	} else {
		jw_obj(&w);
		jw_kbool(&w, "ok", st.last_reload_ok);
		jw_ki64(&w, "at", (int64_t)st.last_reload_at);
		jw_kstr(&w, "origin", st.last_reload_origin);
		jw_key(&w, "errors");
		jw_arr(&w);
		for (const char *p = st.last_reload_errors; p && *p;) {
			const char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);

			if (l)
				jw_strn(&w, p, l);
			p = nl ? nl + 1 : NULL;
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_key(&w, "live_edits");
	jw_str(&w, "runtime-only: not written to files; a reload re-syncs allow/deny from the files (bans survive)");
	jw_obj_end(&w);
	control_stats_free(&st);
	config_put(c);
	return finish_json(&w, out, 200);
}

/* ---- GET /routes, /upstreams ----------------------------------------------------------- */

static int h_routes(const struct admin_request *rq, struct admin_reply *out,
		    void *arg)
{
	struct config *c;
	struct jw w;
	char m[96];
	int r = need_get(rq, out);

	if (r)
		return r < 0 ? r : 0;
	c = control_config(arg, NULL);
	if (want_text(rq)) {
		static const char *const hdr[] = { "NAME", "HOST", "PATH_PREFIX",
						   "METHODS", "SERVICE" };
		struct table t;
		char *text = NULL;
		size_t len = 0;

		table_init(&t, 5, 0, hdr);
		for (size_t i = 0; i < c->n_routes; i++) {
			const struct config_route *rt = &c->routes[i];
			const char *row[5] = { rt->name, rt->host ? rt->host : "*",
					       rt->path_prefix, m,
					       c->services[rt->service].name };

			methods_text(rt->methods, m, sizeof(m));
			table_row(&t, row);
		}
		config_put(c);
		if (table_render(&t, &text, &len))
			return -ENOMEM;
		return finish_text(text, len, out);
	}
	jw_init(&w);
	jw_obj(&w);
	jw_ku64(&w, "generation", c->generation);
	jw_key(&w, "routes");
	jw_arr(&w);
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct config_route *rt = &c->routes[i];

		jw_obj(&w);
		jw_kstr(&w, "name", rt->name);
		jw_kstr(&w, "host", rt->host);
		jw_kstr(&w, "path_prefix", rt->path_prefix);
		jw_key(&w, "methods");
		jw_arr(&w);
		for (unsigned int b = 0; b < 8; b++)
			if (rt->methods & (1u << b))
				jw_str(&w, method_names[b]);
		jw_arr_end(&w);
		jw_kstr(&w, "service", c->services[rt->service].name);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	config_put(c);
	return finish_json(&w, out, 200);
}

static int h_upstreams(const struct admin_request *rq, struct admin_reply *out,
		       void *arg)
{
	struct config *c;
	struct jw w;
	int r = need_get(rq, out);

	if (r)
		return r < 0 ? r : 0;
	c = control_config(arg, NULL);
	if (want_text(rq)) {
		static const char *const hdr[] = { "SERVICE", "TARGET",
						   "CONNECT_TIMEOUT_MS", "HEALTH" };
		struct table t;
		char *text = NULL, ms[16];
		size_t len = 0;

		table_init(&t, 4, 4, hdr);
		for (size_t i = 0; i < c->n_services; i++) {
			const struct config_service *s = &c->services[i];

			snprintf(ms, sizeof(ms), "%u", s->connect_timeout_ms);
			for (size_t j = 0; j < s->n_targets; j++) {
				const char *row[4] = { s->name, s->targets[j].text,
						       ms, "unknown" };

				table_row(&t, row);
			}
		}
		config_put(c);
		if (table_render(&t, &text, &len))
			return -ENOMEM;
		return finish_text(text, len, out);
	}
	jw_init(&w);
	jw_obj(&w);
	jw_ku64(&w, "generation", c->generation);
	jw_key(&w, "services");
	jw_arr(&w);
	for (size_t i = 0; i < c->n_services; i++) {
		const struct config_service *s = &c->services[i];

		jw_obj(&w);
		jw_kstr(&w, "name", s->name);
		jw_ku64(&w, "connect_timeout_ms", s->connect_timeout_ms);
		jw_kstr(&w, "balancing", "round_robin");
		jw_key(&w, "targets");
		jw_arr(&w);
		for (size_t j = 0; j < s->n_targets; j++) {
			jw_obj(&w);
			jw_kstr(&w, "address", s->targets[j].text);
			/* health checks: a later issue */
			jw_kstr(&w, "health", "unknown");
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	config_put(c);
	return finish_json(&w, out, 200);
}

/* ---- GET /xdp ----------------------------------------------------------------------- */

static int h_xdp(const struct admin_request *rq, struct admin_reply *out,
		 void *arg)
{
	struct xdp_view xv;
	struct config *c;
	struct jw w;
	int r = need_get(rq, out);

	if (r)
		return r < 0 ? r : 0;
	c = control_config(arg, NULL);
	read_xdp(arg, &xv);
	if (!xv.on) {
		config_put(c);
		return admin_reply_error(out, 409, "xdp_disabled",
					 "XDP is not attached (xdp.enabled: false)");
	}
	jw_init(&w);
	jw_obj(&w);
	jw_kstr(&w, "pin_path", c->xdp.pin_path);
	jw_counters(&w, &xv);
	jw_key(&w, "allowlist");
	jw_obj(&w);
	jw_ki64(&w, "v4", xv.n4);
	jw_ki64(&w, "v6", xv.n6);
	jw_obj_end(&w);
	jw_ku64(&w, "guarded_ports", c->xdp.n_ports);
	jw_key(&w, "ports");
	jw_arr(&w);
	for (size_t i = 0; i < c->xdp.n_ports; i++)
		jw_u64(&w, c->xdp.ports[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	config_put(c);
	return finish_json(&w, out, 200);
}

/* ---- allow list ------------------------------------------------------------------------ */

static bool in_config(const struct config *c, const struct allowlist_entry *e)
{
	const struct allowlist *al = &c->xdp.allow;

	for (size_t i = 0; i < al->n; i++) {
		const struct allowlist_entry *x = &al->entries[i];

		if (x->family == e->family && x->prefixlen == e->prefixlen &&
		    !memcmp(x->addr, e->addr, e->family == AF_INET ? 4 : 16))
			return true;
	}
	return false;
}

struct walk_ctx {
	const struct config *c;
	struct jw *w;
	struct table *t;
};

static int list_one(const struct allowlist_entry *e, void *arg)
{
	struct walk_ctx *x = arg;
	const char *src = in_config(x->c, e) ? "file" : "runtime";
	char cidr[INET6_ADDRSTRLEN + 8];

	allowlist_format(e, cidr, sizeof(cidr));
	if (x->t) {
		const char *row[2] = { cidr, src };

		table_row(x->t, row);
		return 0;
	}
	jw_obj(x->w);
	jw_kstr(x->w, "cidr", cidr);
	jw_kstr(x->w, "source", src);
	jw_obj_end(x->w);
	return 0;
}

static int xdp_needed(struct admin_reply *out)
{
	if (api.live.allow4_fd >= 0)
		return 0;
	return admin_reply_error(out, 409, "xdp_disabled",
				 "XDP is not attached (xdp.enabled: false): there is no allowlist to edit") ?
		       -ENOMEM : 1;
}

static int h_allow(const struct admin_request *rq, struct admin_reply *out,
		   void *arg)
{
	struct walk_ctx x = { 0 };
	struct table t;
	struct jw w;
	int r = need_get(rq, out);

	if (!r)
		r = xdp_needed(out);
	if (r)
		return r < 0 ? r : 0;
	x.c = control_config(arg, NULL);
	pthread_mutex_lock(&api.edit_lock);
	if (want_text(rq)) {
		static const char *const hdr[] = { "CIDR", "SOURCE" };
		char *text = NULL;
		size_t len = 0;

		table_init(&t, 2, 0, hdr);
		x.t = &t;
		r = xdpctl_live_allow_walk(&api.live, list_one, &x);
		pthread_mutex_unlock(&api.edit_lock);
		config_put((struct config *)x.c);
		if (r) {
			table_free(&t);
			return r;
		}
		if (table_render(&t, &text, &len))
			return -ENOMEM;
		return finish_text(text, len, out);
	}
	jw_init(&w);
	x.w = &w;
	jw_obj(&w);
	jw_key(&w, "entries");
	jw_arr(&w);
	r = xdpctl_live_allow_walk(&api.live, list_one, &x);
	pthread_mutex_unlock(&api.edit_lock);
	jw_arr_end(&w);
	jw_kstr(&w, "note", "runtime entries are not written to files and are removed by the next reload");
	jw_obj_end(&w);
	config_put((struct config *)x.c);
	if (r) {
		jw_free(&w);
		return r;
	}
	return finish_json(&w, out, 200);
}

static int allow_edit(const struct admin_request *rq, struct admin_reply *out,
		      struct control *ctl, bool add)
{
	struct allowlist_entry e = { 0 };
	char cidr[128], err[160], norm[INET6_ADDRSTRLEN + 8];
	struct jw w;
	int r = need_post(rq, out);

	if (!r)
		r = xdp_needed(out);
	if (r)
		return r < 0 ? r : 0;
	r = param(rq, "cidr", cidr, sizeof(cidr));
	if (r <= 0)
		return admin_reply_error(out, 400, "bad_request",
					 r ? "malformed 'cidr' parameter" :
					     "missing 'cidr' parameter (e.g. cidr=198.18.0.0/24)");
	if (allowlist_parse_cidr(cidr, &e, err, sizeof(err)))
		return admin_reply_error(out, 400, "bad_request", "%s", err);
	allowlist_format(&e, norm, sizeof(norm));
	pthread_mutex_lock(&api.edit_lock);
	r = xdpctl_live_allow(&api.live, &e, add);
	pthread_mutex_unlock(&api.edit_lock);
	if (r == -EEXIST)
		return admin_reply_error(out, 409, "exists", "%s is already in the allowlist", norm);
	if (r == -ENOENT)
		return admin_reply_error(out, 404, "not_found", "%s is not in the allowlist", norm);
	if (r == -ENOSPC)
		return admin_reply_error(out, 507, "map_full", "the allowlist map is full");
	if (r)
		return admin_reply_error(out, 500, "internal_error", "map update: %s", strerror(-r));
	pr_info("admin: allowlist %s %s (runtime only)", add ? "add" : "del", norm);
	jw_init(&w);
	jw_obj(&w);
	jw_kbool(&w, "ok", true);
	jw_kstr(&w, "action", add ? "add" : "del");
	jw_kstr(&w, "cidr", norm);
	jw_kbool(&w, "persistent", false);
	jw_obj_end(&w);
	(void)ctl;
	return finish_json(&w, out, 200);
}

static int h_allow_add(const struct admin_request *rq, struct admin_reply *out,
		       void *arg)
{
	return allow_edit(rq, out, arg, true);
}

static int h_allow_del(const struct admin_request *rq, struct admin_reply *out,
		       void *arg)
{
	return allow_edit(rq, out, arg, false);
}

/* ---- POST /reload --------------------------------------------------------------------- */

static int h_reload(const struct admin_request *rq, struct admin_reply *out,
		    void *arg)
{
	struct control *ctl = arg;
	char *errors = NULL;
	struct jw w;
	int r = need_post(rq, out), ret;

	if (r)
		return r < 0 ? r : 0;
	ret = control_reload_ex(ctl, "admin", &errors);
	jw_init(&w);
	jw_obj(&w);
	if (!ret) {
		struct config *c = control_config(ctl, NULL);

		jw_kbool(&w, "ok", true);
		jw_ku64(&w, "generation", c->generation);
		config_put(c);
	} else {
		jw_kstr(&w, "error", ret == -EINVAL ? "invalid_config" : "reload_failed");
		jw_ku64(&w, "status", ret == -EINVAL ? 422 : 500);
		jw_kstr(&w, "message", ret == -EINVAL ?
			"the configuration was refused; the running one is kept" :
			"the reload failed; the running configuration is kept");
		jw_key(&w, "errors");
		jw_arr(&w);
		for (const char *p = errors; p && *p;) {
			const char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);

			if (l)
				jw_strn(&w, p, l);
			p = nl ? nl + 1 : NULL;
		}
		if (!errors)
			jw_str(&w, strerror(-ret));
		jw_arr_end(&w);
	}
	jw_obj_end(&w);
	free(errors);
	return finish_json(&w, out, !ret ? 200 : ret == -EINVAL ? 422 : 500);
}

/* ---- registration ----------------------------------------------------------------------- */

int admin_api_register(struct control *ctl)
{
	static const struct {
		const char *path;
		admin_handler_fn fn;
	} eps[] = {
		{ "/status", h_status },
		{ "/config", h_config },
		{ "/routes", h_routes },
		{ "/upstreams", h_upstreams },
		{ "/xdp", h_xdp },
		{ "/allow", h_allow },
		{ "/allow/add", h_allow_add },
		{ "/allow/del", h_allow_del },
		{ "/reload", h_reload },
	};
	struct config *c;
	int ret;

	api.ctl = ctl;
	api.started = time(NULL);
	c = control_config(ctl, NULL);
	if (ctl->xdp && c->xdp.enabled) {
		ret = xdpctl_live_open(c->xdp.pin_path, &api.live);
		if (ret)
			pr_warn("admin: cannot open the allow maps under %s for live edits: %s",
				c->xdp.pin_path, strerror(-ret));
	}
	config_put(c);
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		ret = admin_register(eps[i].path, eps[i].fn, ctl);
		if (ret)
			return ret;
	}
	return 0;
}

void admin_api_close(void)
{
	xdpctl_live_close(&api.live);
}
