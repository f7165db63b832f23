// SPDX-License-Identifier: MIT
/*
 * Admin API endpoints (JSON by default, aligned text tables with
 * ?format=text). See admin_api.h and docs/OPERATIONS.md for the reference.
 */
#include "control/admin_api.h"

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

#include "control/admin.h"
#include "control/cluster.h"
#include "control/buildinfo.h"
#include "config/allowlist.h"
#include "config/config.h"
#include "control/control.h"
#include "lib/log.h"
#include "lib/clock.h"
#include "lib/jw.h"
#include "lib/str.h"
#include "lib/table.h"
#include "lib/version.h"
#include "control/liveapi.h"
#include "io/tls.h"
#include "control/statuspage.h"
#include "obs/obs.h"
#include "policy/balance.h"
#include "xdp/xdpctl.h"

static struct {
	struct control *ctl;
	struct xdpctl_live *live;	/* the pinned maps; NULL without xdp */
	pthread_mutex_t edit_lock;	/* serializes live edits */
	time_t started;
} api = { .edit_lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- helpers ------------------------------------------------------------------ */

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

/* ---- GET /status ------------------------------------------------------------------ */

struct xdp_view {
	bool on;
	struct sluice_counter cnt[SLUICE_R_MAX];
	long n4, n6;
	struct xdpctl_live_sizes sz;
};

static void read_xdp(struct control *ctl, struct xdp_view *v)
{
	memset(v, 0, sizeof(*v));
	if (!ctl->xdp || !api.live)
		return;
	if (xdpctl_read_stats(ctl->xdp, v->cnt))
		return;
	v->on = !xdpctl_live_sizes(api.live, &v->sz);
	v->n4 = v->sz.allow4;
	v->n6 = v->sz.allow6;
}

static void jw_sizes(struct jw *w, const struct xdp_view *v)
{
	jw_key(w, "allowlist");
	jw_obj(w);
	jw_ki64(w, "v4", v->n4);
	jw_ki64(w, "v6", v->n6);
	jw_obj_end(w);
	jw_key(w, "denylist");
	jw_obj(w);
	jw_ki64(w, "v4", v->sz.deny4);
	jw_ki64(w, "v6", v->sz.deny6);
	jw_obj_end(w);
	jw_key(w, "bans");
	jw_obj(w);
	jw_ki64(w, "v4", v->sz.ban4);
	jw_ki64(w, "v6", v->sz.ban6);
	jw_obj_end(w);
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
	int r = admin_need_method(rq, out, "GET");

	if (r)
		return r < 0 ? r : 0;
	c = control_config(ctl, &st);
	control_stats_free(&st);	/* only the counters are used */
	read_xdp(ctl, &xv);
	if (admin_want_text(rq)) {
		struct sbuf b;

		sbuf_init_grow(&b, 1024);
		sbuf_addf(&b,
			  "sluiced %s, pid %d, up %llds\n"
			  "config:      %s (generation %" PRIu64 ")\n"
			  "reloads:     %" PRIu64 " ok, %" PRIu64 " failed%s\n"
			  "workers:     %u\n"
			  "listeners:   %zu\n"
			  "xdp:         %s\n",
			  SLUICE_VERSION, (int)getpid(),
			  (long long)(time(NULL) - api.started), c->path,
			  c->generation, st.reloads, st.reload_failures,
			  st.last_reload_at && !st.last_reload_ok ?
				  " (the last one failed: see GET /config)" : "",
			  st.workers, c->n_listeners,
			  xv.on ? "attached" : c->xdp.enabled ?
				  "enabled, maps unreadable" : "disabled");
		config_put(c);
		{
			char line[256];

			cluster_status_line(line, sizeof(line));
			sbuf_addf(&b, "cluster:     %s\n", line);
		}
		buildinfo_kernel_text(&b, ctl->xdp);
		if (xv.on) {
			struct table t;
			static const char *const hdr[] = { "REASON", "PACKETS", "BYTES" };
			char p[24], by[24];

			table_init(&t, 3, 6, hdr);
			for (int i = 0; i < SLUICE_R_MAX; i++) {
				const char *row[3] = {
					xdpctl_reason_name((enum sluice_reason)i), p, by
				};

				snprintf(p, sizeof(p), "%" PRIu64, (uint64_t)xv.cnt[i].packets);
				snprintf(by, sizeof(by), "%" PRIu64, (uint64_t)xv.cnt[i].bytes);
				table_row(&t, row);
			}
			sbuf_addf(&b,
				  "allowlist:   %ld IPv4, %ld IPv6\n"
				  "denylist:    %ld IPv4, %ld IPv6\n"
				  "bans:        %ld IPv4, %ld IPv6 (expired ones included)\n\n",
				  xv.n4, xv.n6, xv.sz.deny4, xv.sz.deny6,
				  xv.sz.ban4, xv.sz.ban6);
			table_render(&t, &b);
		}
		return admin_reply_sbuf(out, &b);
	}

	jw_init(&w);
	jw_obj(&w);
	jw_kstr(&w, "version", SLUICE_VERSION);
	buildinfo_json(&w, ctl->xdp);
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
	jw_key(&w, "cluster");
	cluster_status_json(&w);
	/* the same keys as the pin-based `sluicectl status --json` */
	if (xv.on) {
		jw_kstr(&w, "pin_path", c->xdp.pin_path);
		jw_counters(&w, &xv);
		jw_sizes(&w, &xv);
		jw_ku64(&w, "guarded_ports", c->xdp.n_ports);
	}
	jw_obj_end(&w);
	config_put(c);
	return admin_reply_json(out, &w, 200);
}

/* ---- GET /version ----------------------------------------------------------------- */

static int h_version(const struct admin_request *rq, struct admin_reply *out,
		     void *arg)
{
	struct control *ctl = arg;
	struct jw w;
	int r = admin_need_method(rq, out, "GET");

	if (r)
		return r < 0 ? r : 0;
	if (admin_want_text(rq)) {
		struct sbuf b;

		sbuf_init_grow(&b, 512);
		buildinfo_text(&b, "sluiced");
		buildinfo_kernel_text(&b, ctl->xdp);
		return admin_reply_sbuf(out, &b);
	}
	jw_init(&w);
	jw_obj(&w);
	jw_kstr(&w, "version", SLUICE_VERSION);
	buildinfo_json(&w, ctl->xdp);
	jw_obj_end(&w);
	return admin_reply_json(out, &w, 200);
}

/* ---- GET /config ------------------------------------------------------------------ */

static int h_config(const struct admin_request *rq, struct admin_reply *out,
		    void *arg)
{
	struct control *ctl = arg;
	struct control_stats st;
	struct config *c;
	struct jw w;
	int r = admin_need_method(rq, out, "GET");

	if (r)
		return r < 0 ? r : 0;
	c = control_config(ctl, &st);
	if (admin_want_text(rq)) {
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
		return admin_reply_text(out, text, len);
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
	return admin_reply_json(out, &w, 200);
}

/* ---- GET /routes, /upstreams ----------------------------------------------------------- */

static int h_routes(const struct admin_request *rq, struct admin_reply *out,
		    void *arg)
{
	struct config *c;
	struct jw w;
	char m[96];
	int r = admin_need_method(rq, out, "GET");

	if (r)
		return r < 0 ? r : 0;
	c = control_config(arg, NULL);
	if (admin_want_text(rq)) {
		static const char *const hdr[] = { "NAME", "HOST", "PATH_PREFIX",
						   "METHODS", "SERVICE" };
		struct table t;

		table_init(&t, 5, 0, hdr);
		for (size_t i = 0; i < c->n_routes; i++) {
			const struct config_route *rt = &c->routes[i];
			char hs[128], ps[96];
			const char *row[5] = { rt->name, hs, ps, m,
					       c->services[rt->service].name };
			size_t o = 0;

			/* hosts joined; a path_exact as "=/x", a path_regex
			 * as "~re" */
			hs[0] = '\0';
			for (size_t k = 0; k < rt->n_hosts && o < sizeof(hs); k++)
				o += (size_t)snprintf(hs + o, sizeof(hs) - o, "%s%s",
						      k ? "," : "", rt->hosts[k]);
			if (!rt->n_hosts)
				snprintf(hs, sizeof(hs), "*");
			snprintf(ps, sizeof(ps), "%s%s",
				 rt->path_kind == CFG_PATH_EXACT ? "=" :
				 rt->path_kind == CFG_PATH_REGEX ? "~" : "",
				 rt->path_kind == CFG_PATH_EXACT ? rt->path_exact :
				 rt->path_kind == CFG_PATH_REGEX ? rt->path_regex :
				 rt->path_prefix);
			methods_text(rt->methods, m, sizeof(m));
			table_row(&t, row);
		}
		config_put(c);
		return admin_reply_table(out, &t);
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
		jw_key(&w, "hosts");
		jw_arr(&w);
		for (size_t k = 0; k < rt->n_hosts; k++)
			jw_str(&w, rt->hosts[k]);
		jw_arr_end(&w);
		if (rt->path_kind == CFG_PATH_EXACT)
			jw_kstr(&w, "path_exact", rt->path_exact);
		if (rt->path_kind == CFG_PATH_REGEX)
			jw_kstr(&w, "path_regex", rt->path_regex);
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
	return admin_reply_json(out, &w, 200);
}

static const char *const lb_names[] = { "round_robin", "least_request",
					"hash" };

/* A target's state now: "healthy", "unhealthy" (health checks),
 * "ejected" (outlier detection). */
/* Whether st has an address that came from the DNS-named target text. */
static bool has_origin(const struct balance_state *st, const char *text)
{
	for (unsigned int k = 0; st && k < st->n_targets; k++)
		if (!strcmp(st->origin[k], text))
			return true;
	return false;
}

static const char *target_state(const struct balance_state *st,
				unsigned int i, uint64_t now_ms)
{
	if (!st)
		return "unknown";
	if (!atomic_load(&st->t[i].hc_up))
		return "unhealthy";
	if (atomic_load(&st->t[i].eject_until_ms) > now_ms)
		return "ejected";
	return "healthy";
}

static const char *reason_name(uint32_t r)
{
	static const char *const n[] = { "", "health_check", "consecutive_5xx",
					 "connect_failures" };

	return r < sizeof(n) / sizeof(n[0]) ? n[r] : "";
}

static void fmt_time(uint64_t s, char *buf, size_t len)
{
	time_t t = (time_t)s;
	struct tm tm;

	if (!s || !gmtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int h_upstreams(const struct admin_request *rq, struct admin_reply *out,
		       void *arg)
{
	int64_t ok_ago, fail_ago;
	struct config *c;
	struct jw w;
	int r = admin_need_method(rq, out, "GET");
	uint64_t now = clock_now_ms();
	char changed[32];

	if (r)
		return r < 0 ? r : 0;
	c = control_config(arg, NULL);
	if (admin_want_text(rq)) {
		static const char *const hdr[] = { "SERVICE", "TARGET", "WEIGHT",
						   "LB", "STATE", "LAST_CHANGE",
						   "REASON", "LAST_ATTEMPT",
						   "FROM" };
		struct table t;
		char wt[16];

		table_init(&t, 9, 9, hdr);
		for (size_t i = 0; i < c->n_services; i++) {
			const struct config_service *s = &c->services[i];
			struct balance_state *st = balance_state_get(c, i);

			for (size_t j = 0; st && j < st->n_targets; j++) {
				const char *row[9];

				snprintf(wt, sizeof(wt), "%u",
					 st->targets[j].weight);
				fmt_time(atomic_load(&st->t[j].last_change_s),
					 changed, sizeof(changed));
				row[0] = s->name;
				row[1] = st->targets[j].text;
				row[2] = wt;
				row[3] = lb_names[s->lb];
				row[4] = target_state(st, (unsigned int)j, now);
				row[5] = changed;
				row[6] = reason_name(atomic_load(
					&st->t[j].out_reason));
				if (!row[6][0])
					row[6] = "-";
				row[7] = obs_upstream_health(
					st->targets[j].text);
				row[8] = st->origin[j][0] ? st->origin[j] : "-";
				table_row(&t, row);
			}
			/* a name with no address yet still gets a line */
			for (size_t j = 0; j < s->n_targets; j++) {
				const char *row[9];

				if (!config_addr_is_name(&s->targets[j]) ||
				    has_origin(st, s->targets[j].text))
					continue;
				snprintf(wt, sizeof(wt), "%u",
					 s->targets[j].weight);
				row[0] = s->name;
				row[1] = "-";
				row[2] = wt;
				row[3] = lb_names[s->lb];
				row[4] = "unresolved";
				row[5] = "-";
				row[6] = "-";
				row[7] = "-";
				row[8] = s->targets[j].text;
				table_row(&t, row);
			}
			balance_state_put(st);
		}
		config_put(c);
		return admin_reply_table(out, &t);
	}
	jw_init(&w);
	jw_obj(&w);
	jw_ku64(&w, "generation", c->generation);
	jw_key(&w, "services");
	jw_arr(&w);
	for (size_t i = 0; i < c->n_services; i++) {
		const struct config_service *s = &c->services[i];
		struct balance_state *st = balance_state_get(c, i);

		jw_obj(&w);
		jw_kstr(&w, "name", s->name);
		jw_ku64(&w, "connect_timeout_ms", s->connect_timeout_ms);
		jw_kstr(&w, "balancing", lb_names[s->lb]);
		jw_kbool(&w, "health_checks", s->health.enabled);
		jw_kbool(&w, "outlier_detection", s->outlier.enabled);
		if (st) {
			jw_ku64(&w, "active_requests", atomic_load(&st->active));
			jw_ku64(&w, "panics", atomic_load(&st->panics));
			jw_ku64(&w, "retries", atomic_load(&st->retries));
			jw_ku64(&w, "overflows", atomic_load(&st->overflows));
		}
		/* the DNS-named targets as written, with how many addresses
		 * each has now */
		jw_key(&w, "names");
		jw_arr(&w);
		for (size_t j = 0; j < s->n_targets; j++) {
			unsigned int n = 0;

			if (!config_addr_is_name(&s->targets[j]))
				continue;
			for (unsigned int k = 0; st && k < st->n_targets; k++)
				n += !strcmp(st->origin[k], s->targets[j].text);
			jw_obj(&w);
			jw_kstr(&w, "name", s->targets[j].text);
			jw_ku64(&w, "weight", s->targets[j].weight);
			jw_ku64(&w, "addresses", n);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_key(&w, "targets");
		jw_arr(&w);
		for (size_t j = 0; st && j < st->n_targets; j++) {
			const struct balance_target *t = &st->t[j];

			jw_obj(&w);
			jw_kstr(&w, "address", st->targets[j].text);
			jw_ku64(&w, "weight", st->targets[j].weight);
			jw_key(&w, "from_name");
			if (st->origin[j][0])
				jw_str(&w, st->origin[j]);
			else
				jw_null(&w);
			jw_kstr(&w, "state",
				target_state(st, (unsigned int)j, now));
			/* passive: the most recent attempt (obs.h) */
			jw_kstr(&w, "health",
				obs_upstream_health(st->targets[j].text));
			fmt_time(atomic_load(&t->last_change_s), changed,
				 sizeof(changed));
			jw_kstr(&w, "last_change", changed);
			jw_kstr(&w, "reason",
				reason_name(atomic_load(&t->out_reason)));
			jw_ku64(&w, "health_changes",
				atomic_load(&t->health_changes));
			jw_ku64(&w, "ejections",
				atomic_load(&t->ejections_total));
			jw_kstr(&w, "last_check_error", t->last_error);
			obs_upstream_ages(st->targets[j].text, &ok_ago,
					  &fail_ago);
			jw_key(&w, "last_success_s_ago");
			if (ok_ago < 0)
				jw_null(&w);
			else
				jw_u64(&w, (uint64_t)ok_ago / 1000000000u);
			jw_key(&w, "last_failure_s_ago");
			if (fail_ago < 0)
				jw_null(&w);
			else
				jw_u64(&w, (uint64_t)fail_ago / 1000000000u);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		balance_state_put(st);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	config_put(c);
	return admin_reply_json(out, &w, 200);
}

/* ---- GET /certs: every TLS certificate served ------------------------------- */

struct certs_ctx {
	struct jw *w;
	struct table *t;
	time_t now;
};

static void cert_row(void *arg, const char *listener, const char *file,
		     const char *names, int64_t not_after)
{
	struct certs_ctx *cc = arg;
	char when[32] = "", days[24];
	time_t na = (time_t)not_after;
	struct tm tm;

	if (gmtime_r(&na, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(days, sizeof(days), "%" PRId64,
		 (not_after - (int64_t)cc->now) / 86400);
	if (cc->t) {
		const char *row[5] = { listener, names, when, days, file };

		table_row(cc->t, row);
		return;
	}
	jw_obj(cc->w);
	jw_kstr(cc->w, "listener", listener);
	jw_kstr(cc->w, "names", names);
	jw_kstr(cc->w, "not_after", when);
	jw_ki64(cc->w, "not_after_seconds", not_after);
	jw_ki64(cc->w, "days_left", (not_after - (int64_t)cc->now) / 86400);
	jw_kstr(cc->w, "file", file);
	jw_obj_end(cc->w);
}

static int h_certs(const struct admin_request *rq, struct admin_reply *out,
		   void *arg)
{
	struct certs_ctx cc = { .now = time(NULL) };
	struct config *c;
	struct jw w;
	int r = admin_need_method(rq, out, "GET");

	if (r)
		return r < 0 ? r : 0;
	c = control_config(arg, NULL);
	if (admin_want_text(rq)) {
		static const char *const hdr[] = { "LISTENER", "NAMES",
						   "NOT_AFTER", "DAYS_LEFT",
						   "FILE" };
		struct table t;

		table_init(&t, 5, 1u << 3, hdr);
		cc.t = &t;
		tls_each_cert(c, cert_row, &cc);
		config_put(c);
		return admin_reply_table(out, &t);
	}
	jw_init(&w);
	cc.w = &w;
	jw_obj(&w);
	jw_ku64(&w, "generation", c->generation);
	jw_key(&w, "certificates");
	jw_arr(&w);
	tls_each_cert(c, cert_row, &cc);
	jw_arr_end(&w);
	jw_obj_end(&w);
	config_put(c);
	return admin_reply_json(out, &w, 200);
}

/* ---- GET /xdp ----------------------------------------------------------------------- */

static int h_xdp(const struct admin_request *rq, struct admin_reply *out,
		 void *arg)
{
	struct xdp_view xv;
	struct config *c;
	struct jw w;
	int r = admin_need_method(rq, out, "GET");

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
	jw_sizes(&w, &xv);
	jw_ku64(&w, "guarded_ports", c->xdp.n_ports);
	jw_key(&w, "ports");
	jw_arr(&w);
	for (size_t i = 0; i < c->xdp.n_ports; i++)
		jw_u64(&w, c->xdp.ports[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	config_put(c);
	return admin_reply_json(out, &w, 200);
}

/* ---- live XDP edits, bans, top talkers (liveapi.c) ---------------------------------- */

static int h_live(const struct admin_request *rq, struct admin_reply *out,
		  void *arg)
{
	struct liveapi_event ev;
	int r;

	(void)arg;
	if (!strcmp(rq->path, "/top")) {
		/* read-only and answered at once from the sampler: both
		 * sockets; never the blocking in-process read */
		if (api.live && !api.ctl->top)
			return admin_reply_error(out, 503, "unavailable",
						 "the top-talkers sampler is not running (see the log)");
		return liveapi_handle(api.live, api.ctl->top, rq, out, NULL);
	}
	pthread_mutex_lock(&api.edit_lock);
	r = liveapi_handle(api.live, NULL, rq, out, &ev);
	pthread_mutex_unlock(&api.edit_lock);
	if (r || !ev.action)
		return r;
	if (!strcmp(ev.action, "ban") || !strcmp(ev.action, "unban")) {
		struct allowlist_entry e;
		char err[128];

		/* the other hosts of a cluster apply it too */
		if (!allowlist_parse_cidr(ev.cidr, &e, err, sizeof(err)))
			cluster_publish_ban(&e, ev.seconds,
					    ev.action[0] == 'b', "operator");
	}
	if (!strcmp(ev.action, "ban")) {
		obs_ban(OBS_BAN_OPERATOR);
		if (ev.seconds)
			pr_warn("admin: banned %s in XDP for %llu s (operator)",
				ev.cidr, (unsigned long long)ev.seconds);
		else
			pr_warn("admin: banned %s in XDP until unbanned (operator)",
				ev.cidr);
	} else if (!strcmp(ev.action, "unban")) {
		pr_warn("admin: unbanned %s", ev.cidr);
	} else {
		pr_info("admin: %s %s (runtime only)", ev.action, ev.cidr);
	}
	return 0;
}

/* ---- GET /cluster ------------------------------------------------------------------- */

static int h_cluster(const struct admin_request *rq, struct admin_reply *out,
		     void *arg)
{
	struct jw w;
	int r = admin_need_method(rq, out, "GET");

	(void)arg;
	if (r)
		return r < 0 ? r : 0;
	if (admin_want_text(rq)) {
		struct sbuf b;
		char line[256];

		sbuf_init_grow(&b, 256);
		cluster_status_line(line, sizeof(line));
		sbuf_addf(&b, "cluster: %s\n", line);
		return admin_reply_sbuf(out, &b);
	}
	jw_init(&w);
	cluster_status_json(&w);
	return admin_reply_json(out, &w, 200);
}

/* ---- POST /reload --------------------------------------------------------------------- */

static int h_reload(const struct admin_request *rq, struct admin_reply *out,
		    void *arg)
{
	struct control *ctl = arg;
	char *errors = NULL;
	struct jw w;
	int r = admin_need_method(rq, out, "POST"), ret;

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
	return admin_reply_json(out, &w, !ret ? 200 : ret == -EINVAL ? 422 : 500);
}

/* ---- GET /metrics ---------------------------------------------------------------------- */

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static int h_metrics(const struct admin_request *rq, struct admin_reply *out,
		     void *arg)
{
	static const char msg[] =
		"{\"error\":\"method_not_allowed\",\"status\":405,"
		"\"message\":\"use GET\"}";
	char *body;
	size_t len;
	int ret;

	(void)arg;
	if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD"))
		return admin_reply_set(out, 405, "application/json", msg,
				       sizeof(msg) - 1);
	ret = obs_render(&body, &len);
	if (ret)
		return ret;
	out->status = 200;
	out->content_type = METRICS_CONTENT_TYPE;
	out->body = body;
	out->len = len;
	return 0;
}

/* ---- registration ----------------------------------------------------------------------- */

int admin_api_register(struct control *ctl)
{
	static const struct {
		const char *path;
		admin_handler_fn fn;
	} eps[] = {
		{ "/status", h_status },
		{ "/version", h_version },
		{ "/config", h_config },
		{ "/routes", h_routes },
		{ "/upstreams", h_upstreams },
		{ "/xdp", h_xdp },
		{ "/reload", h_reload },
		{ "/certs", h_certs },
		{ "/cluster", h_cluster },
	};
	struct config *c;
	bool metrics;
	int ret;

	api.ctl = ctl;
	api.started = time(NULL);
	c = control_config(ctl, NULL);
	if (ctl->xdp && c->xdp.enabled) {
		ret = xdpctl_live_open(c->xdp.pin_path, &api.live);
		if (ret) {
			pr_warn("admin: cannot open the XDP maps under %s for live edits: %s",
				c->xdp.pin_path, strerror(-ret));
			api.live = NULL;
		}
	}
	metrics = c->metrics.enabled;
	config_put(c);
	if (metrics) {
		ret = admin_register("/metrics", h_metrics, NULL);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		ret = admin_register(eps[i].path, eps[i].fn, ctl);
		if (ret)
			return ret;
	}
	for (size_t i = 0; liveapi_paths[i]; i++) {
		ret = admin_register(liveapi_paths[i], h_live, ctl);
		if (ret)
			return ret;
	}
	return statuspage_register();
}

void admin_api_close(void)
{
	xdpctl_live_close(api.live);
	api.live = NULL;
}
