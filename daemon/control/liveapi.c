// SPDX-License-Identifier: MIT
/* Live XDP endpoints of the admin API. See liveapi.h. */
#include "control/liveapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sluice/abi.h>

#include "control/admin.h"
#include "control/topsample.h"
#include "config/allowlist.h"
#include "lib/jw.h"
#include "lib/str.h"
#include "lib/table.h"
#include "policy/talkers.h"
#include "xdp/xdpctl.h"

const char *const liveapi_paths[] = {
	"/allow", "/allow/add", "/allow/del", "/deny", "/deny/add",
	"/deny/del", "/ban", "/unban", "/bans", "/top", NULL,
};

_Static_assert(LIVEAPI_TOP_MAX_S <= TOPSAMPLE_MAX_S,
	       "the sampler keeps every window /top may ask for");

#define RUNTIME_NOTE "runtime only: the next reload re-syncs it from the files"

/* ---- argument checks -------------------------------------------------------- */

int liveapi_parse_entry(const char *text, bool options,
			struct allowlist_entry *e, char *err, size_t errlen)
{
	struct allowlist al = { 0 };
	char msg[512];
	int r;

	if (strpbrk(text, "#\n\r")) {
		snprintf(err, errlen, "unexpected character in '%s'", text);
		return -EINVAL;
	}
	r = allowlist_parse_flags("arg", text, strlen(text), &al,
				  options ? 0 : ALLOWLIST_NO_OPTIONS, msg,
				  sizeof(msg));
	if (r == 1) {
		*e = al.entries[0];
		allowlist_free(&al);
		return 0;
	}
	allowlist_free(&al);
	if (r == 0)
		snprintf(err, errlen, "missing CIDR");
	else /* "arg:1: message: 'text'" -> "message: 'text'" */
		snprintf(err, errlen, "%s",
			 strncmp(msg, "arg:1: ", 7) ? msg : msg + 7);
	return -EINVAL;
}

int liveapi_parse_duration(const char *s, uint64_t *seconds)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v == 0)
		return -EINVAL;
	if (*end) {
		if (end[1])
			return -EINVAL;
		switch (*end) {
		case 's': break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return -EINVAL;
		}
	}
	if (v > LIVEAPI_BAN_MAX_S / mult)
		return -EINVAL;
	*seconds = v * mult;
	return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static void fmt_entry(uint8_t family, uint8_t plen, const uint8_t *addr,
		      char *buf, size_t len)
{
	struct allowlist_entry e = { .family = family, .prefixlen = plen };

	memcpy(e.addr, addr, 16);
	allowlist_format(&e, buf, len);
}

static void fmt_remaining(uint64_t ns, char *buf, size_t len)
{
	unsigned long long s = (ns + 999999999ull) / 1000000000ull;

	if (s >= 86400)
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(buf, len, "%llus", s);
}

static void fmt_limits(const struct sluice_class *c, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	if (c->pkt_rate)
		o += (size_t)snprintf(buf, len, "rate=%u/s burst=%u",
				      c->pkt_rate, c->pkt_burst);
	if (c->syn_rate && o < len)
		snprintf(buf + o, len - o, "%ssyn=%u/s syn_burst=%u",
			 o ? " " : "", c->syn_rate, c->syn_burst);
	if (!buf[0])
		snprintf(buf, len, "unlimited");
}

static int map_error(struct admin_reply *out, int err)
{
	if (err == -ENOSPC)
		return admin_reply_error(out, 507, "map_full", "the map is full");
	return admin_reply_error(out, 500, "internal_error", "map access: %s",
				 strerror(-err));
}

/* A required parameter; 1 found, else the 400 is set and 0 returned (or
 * -ENOMEM). */
static int need_param(const struct admin_request *rq, struct admin_reply *out,
		      const char *key, const char *example, char *buf,
		      size_t len)
{
	int r = admin_param(rq, key, buf, len);

	if (r == 1)
		return 1;
	return admin_reply_error(out, 400, "bad_request",
				 r ? "malformed '%s' parameter" :
				     "missing '%s' parameter (e.g. %s)",
				 key, example) ? -ENOMEM : 0;
}

static int ok_reply(struct admin_reply *out, const char *action,
		    const char *cidr, const char *message)
{
	struct jw w;

	jw_init(&w);
	jw_obj(&w);
	jw_kbool(&w, "ok", true);
	jw_kstr(&w, "action", action);
	jw_kstr(&w, "cidr", cidr);
	jw_kstr(&w, "message", message);
	jw_obj_end(&w);
	return admin_reply_json(out, &w, 200);
}

static void set_event(struct liveapi_event *ev, const char *action,
		      const char *cidr, uint64_t seconds)
{
	if (!ev)
		return;
	ev->action = action;
	snprintf(ev->cidr, sizeof(ev->cidr), "%s", cidr);
	ev->seconds = seconds;
}

/* ---- allow / deny --------------------------------------------------------------- */

static const char *list_name(enum xdpctl_list which)
{
	return which == XDPCTL_ALLOW ? "allowlist" : "denylist";
}

static int h_list(struct xdpctl_live *l, const struct admin_request *rq,
		  struct admin_reply *out, enum xdpctl_list which)
{
	static const char *const hdr[] = { "CIDR", "SOURCE", "CLASS", "LIMITS" };
	struct xdpctl_rule_info *ri = NULL;
	bool allow = which == XDPCTL_ALLOW;
	size_t n = 0;
	struct table t;
	struct jw w;
	int err;

	err = xdpctl_live_list(l, which, &ri, &n);
	if (err)
		return map_error(out, err);
	if (admin_want_text(rq))
		table_init(&t, allow ? 4 : 2, 0, hdr);
	else {
		jw_init(&w);
		jw_obj(&w);
		jw_key(&w, "entries");
		jw_arr(&w);
	}
	for (size_t i = 0; i < n; i++) {
		char cidr[64], cls[16], lim[96];
		const char *src = ri[i].flags & SLUICE_RULE_RUNTIME ? "runtime" :
								       "file";

		fmt_entry(ri[i].family, ri[i].prefixlen, ri[i].addr, cidr,
			  sizeof(cidr));
		if (admin_want_text(rq)) {
			const char *row[4] = { cidr, src, cls, lim };

			snprintf(cls, sizeof(cls), "%u", ri[i].class_id);
			fmt_limits(&ri[i].cls, lim, sizeof(lim));
			table_row(&t, row);
			continue;
		}
		jw_obj(&w);
		jw_kstr(&w, "cidr", cidr);
		jw_kstr(&w, "source", src);
		if (allow) {
			jw_ku64(&w, "class", ri[i].class_id);
			jw_ku64(&w, "rate", ri[i].cls.pkt_rate);
			jw_ku64(&w, "burst", ri[i].cls.pkt_burst);
			jw_ku64(&w, "syn", ri[i].cls.syn_rate);
			jw_ku64(&w, "syn_burst", ri[i].cls.syn_burst);
		}
		jw_obj_end(&w);
	}
	free(ri);
	if (admin_want_text(rq))
		return admin_reply_table(out, &t);
	jw_arr_end(&w);
	jw_kstr(&w, "note", "runtime entries are not written to files and are removed by the next reload");
	jw_obj_end(&w);
	return admin_reply_json(out, &w, 200);
}

static int h_edit(struct xdpctl_live *l, const struct admin_request *rq,
		  struct admin_reply *out, enum xdpctl_list which, bool add,
		  struct liveapi_event *ev)
{
	static const char *const actions[2][2] = {
		{ "deny del", "deny add" }, { "allow del", "allow add" } };
	const char *action = actions[which == XDPCTL_ALLOW][add];
	struct allowlist_entry e;
	char arg[512], err[512], cidr[64], msg[256];
	int r;

	r = need_param(rq, out, "cidr", "cidr=198.18.0.0/24", arg, sizeof(arg));
	if (r <= 0)
		return r;
	if (liveapi_parse_entry(arg, which == XDPCTL_ALLOW && add, &e, err,
				sizeof(err)))
		return admin_reply_error(out, 400, "bad_request", "%s", err);
	allowlist_format(&e, cidr, sizeof(cidr));
	r = add ? xdpctl_live_add(l, which, &e) : xdpctl_live_del(l, which, &e);
	if (r == -EEXIST)
		return admin_reply_error(out, 409, "exists",
					 "%s is already in the %s", cidr,
					 list_name(which));
	if (r == -ENOENT)
		return admin_reply_error(out, 404, "not_found",
					 "%s is not in the %s", cidr,
					 list_name(which));
	if (r)
		return map_error(out, r);
	set_event(ev, action, cidr, 0);
	snprintf(msg, sizeof(msg), "%s %s %s the %s (" RUNTIME_NOTE ")",
		 add ? "added" : "removed", cidr, add ? "to" : "from",
		 list_name(which));
	return ok_reply(out, action, cidr, msg);
}

/* ---- bans ----------------------------------------------------------------------- */

static int h_ban(struct xdpctl_live *l, const struct admin_request *rq,
		 struct admin_reply *out, bool ban, struct liveapi_event *ev)
{
	struct allowlist_entry e;
	char arg[128], err[512], cidr[64], msg[256], dur[32];
	uint64_t seconds = 0;
	int r;

	r = need_param(rq, out, "addr", "addr=198.18.0.7", arg, sizeof(arg));
	if (r <= 0)
		return r;
	if (liveapi_parse_entry(arg, false, &e, err, sizeof(err)))
		return admin_reply_error(out, 400, "bad_request", "%s", err);
	allowlist_format(&e, cidr, sizeof(cidr));
	if (ban) {
		char s[32];

		r = admin_param(rq, "seconds", s, sizeof(s));
		if (r < 0 || (r == 1 && liveapi_parse_duration(s, &seconds)))
			return admin_reply_error(out, 400, "bad_request",
						 "invalid duration '%s' (use N, Ns, Nm, Nh or Nd; at most a year)",
						 r < 0 ? "?" : s);
		r = xdpctl_live_ban(l, &e, seconds * 1000000000ull);
	} else {
		r = xdpctl_live_unban(l, &e);
		if (r == -ENOENT)
			return admin_reply_error(out, 404, "not_found",
						 "%s is not banned", cidr);
	}
	if (r)
		return map_error(out, r);
	set_event(ev, ban ? "ban" : "unban", cidr, seconds);
	if (!ban) {
		snprintf(msg, sizeof(msg), "unbanned %s", cidr);
	} else if (seconds) {
		fmt_remaining(seconds * 1000000000ull, dur, sizeof(dur));
		snprintf(msg, sizeof(msg), "banned %s for %s (bans survive reloads)",
			 cidr, dur);
	} else {
		snprintf(msg, sizeof(msg),
			 "banned %s until unbanned (bans survive reloads)", cidr);
	}
	return ok_reply(out, ban ? "ban" : "unban", cidr, msg);
}

static int h_bans(struct xdpctl_live *l, const struct admin_request *rq,
		  struct admin_reply *out)
{
	static const char *const hdr[] = { "CIDR", "EXPIRES_IN", "BY" };
	struct xdpctl_ban_info *bi = NULL;
	bool text = admin_want_text(rq);
	uint64_t now = 0;
	size_t n = 0;
	struct table t;
	struct jw w;
	int err;

	err = xdpctl_live_bans(l, &bi, &n, &now);
	if (err)
		return map_error(out, err);
	if (text) {
		table_init(&t, 3, 0, hdr);
	} else {
		jw_init(&w);
		jw_obj(&w);
		jw_key(&w, "bans");
		jw_arr(&w);
	}
	for (size_t i = 0; i < n; i++) {
		const struct sluice_ban *b = &bi[i].ban;
		const char *by = b->source == SLUICE_BAN_DAEMON ? "sluiced" :
								  "operator";
		uint64_t left = b->expires_ns ? b->expires_ns - now : 0;
		char cidr[64], rem[32] = "never";

		fmt_entry(bi[i].family, bi[i].prefixlen, bi[i].addr, cidr,
			  sizeof(cidr));
		if (text) {
			const char *row[3] = { cidr, rem, by };

			if (b->expires_ns)
				fmt_remaining(left, rem, sizeof(rem));
			table_row(&t, row);
			continue;
		}
		jw_obj(&w);
		jw_kstr(&w, "cidr", cidr);
		jw_key(&w, "expires_in_s");
		if (b->expires_ns) {
			char num[32];

			snprintf(num, sizeof(num), "%.3f", (double)left / 1e9);
			jw_raw(&w, num);
		} else {
			jw_null(&w);
		}
		jw_kstr(&w, "by", by);
		jw_obj_end(&w);
	}
	free(bi);
	if (text)
		return admin_reply_table(out, &t);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return admin_reply_json(out, &w, 200);
}

/* ---- top talkers ------------------------------------------------------------------ */

static int uint_param(const struct admin_request *rq, const char *key,
		      unsigned int def, unsigned int max, unsigned int *v)
{
	char s[16], *end;
	unsigned long x;
	int r = admin_param(rq, key, s, sizeof(s));

	*v = def;
	if (r == 0)
		return 0;
	if (r < 0 || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || *end || x == 0 || x > max)
		return -EINVAL;
	*v = (unsigned int)x;
	return 0;
}

/* The sampler's view (sluiced), or, without one (sluicectl --pin-path, in
 * its own process), the ring read here for the window as it passes. */
static int top_view(struct xdpctl_live *l, struct topsample *ts,
		    unsigned int seconds, struct topsample_view *v,
		    const char **how)
{
	struct xdpctl_top t;
	int err;

	if (ts) {
		err = topsample_read(ts, seconds, v);
		*how = err || v->running ? "continuous" : "stopped";
		return err;
	}
	memset(v, 0, sizeof(*v));
	*how = "in-process";
	err = xdpctl_live_top(l, seconds * 1000, &t);
	if (err)
		return err;
	v->e = calloc(t.n ? t.n : 1, sizeof(*v->e));
	if (!v->e) {
		xdpctl_top_free(&t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct xdpctl_talker *k = &t.talkers[i];
		struct talkers_entry *e = &v->e[i];

		e->family = k->family;
		memcpy(e->addr, k->addr, 16);
		e->samples = e->rank = k->samples;
		e->est = k->samples * (t.sample_every ? t.sample_every : 1);
		e->bytes = k->bytes;
		for (int r = 0; r < SLUICE_R_MAX; r++)
			e->by_reason[r] = (uint32_t)k->by_reason[r];
	}
	v->n = t.n;
	v->sample_every = t.sample_every;
	v->samples = t.events;
	v->window_ns = (uint64_t)seconds * 1000000000ull;
	xdpctl_top_free(&t);
	return 0;
}

static int h_top(struct xdpctl_live *l, struct topsample *ts,
		 const struct admin_request *rq, struct admin_reply *out)
{
	static const char *const hdr[] = { "SOURCE", "EST_PACKETS", "EST_PPS",
					   "SAMPLES", "REASON" };
	bool text = admin_want_text(rq);
	unsigned int seconds, limit;
	struct topsample_view v;
	const char *how;
	struct table tab;
	struct jw w;
	struct sbuf b;
	char win[32];
	int err;

	if (uint_param(rq, "seconds", LIVEAPI_TOP_DEFAULT_S, LIVEAPI_TOP_MAX_S,
		       &seconds))
		return admin_reply_error(out, 400, "bad_request",
					 "seconds: want a number from 1 to %u",
					 LIVEAPI_TOP_MAX_S);
	if (uint_param(rq, "n", LIVEAPI_TOP_DEFAULT_N, LIVEAPI_TOP_MAX_N, &limit))
		return admin_reply_error(out, 400, "bad_request",
					 "n: want a number from 1 to %u",
					 LIVEAPI_TOP_MAX_N);
	err = top_view(l, ts, seconds, &v, &how);
	if (err)
		return map_error(out, err);
	snprintf(win, sizeof(win), "%.3f", (double)v.window_ns / 1e9);
	if (text) {
		sbuf_init_grow(&b, 1024);
		sbuf_addf(&b, "heaviest dropped sources over the last %.1f s (%s%u drops sampled, %llu samples%s)\n",
			  (double)v.window_ns / 1e9,
			  v.sample_every ? "1 in " : "sampling off: ",
			  v.sample_every, (unsigned long long)v.samples,
			  strcmp(how, "stopped") ? "" : "; the sampler has stopped");
		table_init(&tab, 5, 0xe, hdr);
	} else {
		jw_init(&w);
		jw_obj(&w);
		jw_ku64(&w, "seconds", seconds);
		jw_key(&w, "window_s");
		jw_raw(&w, win);
		jw_kstr(&w, "sampler", how);
		jw_ku64(&w, "sample_every", v.sample_every);
		jw_ku64(&w, "events", v.samples);
		jw_ku64(&w, "sources_evicted", v.evicted);
		jw_key(&w, "talkers");
		jw_arr(&w);
	}
	for (size_t i = 0; i < v.n && i < limit; i++) {
		const struct talkers_entry *k = &v.e[i];
		uint64_t pps = (uint64_t)((double)k->est * 1e9 /
					  (double)v.window_ns);
		char a[INET6_ADDRSTRLEN], e1[24], e2[24], e3[24];
		int top = 0;

		for (int r = 0; r < SLUICE_R_MAX; r++)
			if (k->by_reason[r] > k->by_reason[top])
				top = r;
		inet_ntop(k->family, k->addr, a, sizeof(a));
		if (text) {
			const char *row[5] = {
				a, e1, e2, e3,
				xdpctl_reason_name((enum sluice_reason)top)
			};

			snprintf(e1, sizeof(e1), "%" PRIu64, k->est);
			snprintf(e2, sizeof(e2), "%" PRIu64, pps);
			snprintf(e3, sizeof(e3), "%" PRIu64, k->samples);
			table_row(&tab, row);
			continue;
		}
		jw_obj(&w);
		jw_kstr(&w, "source", a);
		jw_ku64(&w, "samples", k->samples);
		jw_ku64(&w, "est_packets", k->est);
		jw_ku64(&w, "est_pps", pps);
		jw_kstr(&w, "reason",
			xdpctl_reason_name((enum sluice_reason)top));
		jw_key(&w, "reasons");
		jw_obj(&w);
		for (int r = 0; r < SLUICE_R_MAX; r++)
			if (k->by_reason[r])
				jw_ku64(&w, xdpctl_reason_name((enum sluice_reason)r),
					k->by_reason[r]);
		jw_obj_end(&w);
		jw_obj_end(&w);
	}
	topsample_view_free(&v);
	if (text) {
		table_render(&tab, &b);
		return admin_reply_sbuf(out, &b);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return admin_reply_json(out, &w, 200);
}

/* ---- dispatch ---------------------------------------------------------------------- */

int liveapi_handle(struct xdpctl_live *l, struct topsample *ts,
		   const struct admin_request *rq, struct admin_reply *out,
		   struct liveapi_event *ev)
{
	const char *p = rq->path;
	bool post = !strcmp(p, "/ban") || !strcmp(p, "/unban") ||
		    !strcmp(p, "/allow/add") || !strcmp(p, "/allow/del") ||
		    !strcmp(p, "/deny/add") || !strcmp(p, "/deny/del");
	size_t i;
	int r;

	if (ev)
		ev->action = NULL;
	for (i = 0; liveapi_paths[i] && strcmp(liveapi_paths[i], p); i++)
		;
	if (!liveapi_paths[i])
		return -ENOENT;
	r = admin_need_method(rq, out, post ? "POST" : "GET");
	if (r)
		return r < 0 ? r : 0;
	if (!l)
		return admin_reply_error(out, 409, "xdp_disabled",
					 "XDP is not attached (xdp.enabled: false): there are no XDP maps");
	if (!strcmp(p, "/allow") || !strcmp(p, "/deny"))
		return h_list(l, rq, out, p[1] == 'a' ? XDPCTL_ALLOW : XDPCTL_DENY);
	if (!strncmp(p, "/allow/", 7) || !strncmp(p, "/deny/", 6))
		return h_edit(l, rq, out, p[1] == 'a' ? XDPCTL_ALLOW : XDPCTL_DENY,
			      !strcmp(strrchr(p, '/'), "/add"), ev);
	if (!strcmp(p, "/ban") || !strcmp(p, "/unban"))
		return h_ban(l, rq, out, p[1] == 'b', ev);
	if (!strcmp(p, "/bans"))
		return h_bans(l, rq, out);
	return h_top(l, ts, rq, out);
}
