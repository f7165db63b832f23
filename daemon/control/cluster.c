// SPDX-License-Identifier: MIT
/*
 * Cluster: Redis connections, the limit sync thread (reservations,
 * heartbeat, publishing the ban queue), start, stop and status. The ban
 * side is cluster_bans.c. See cluster.h and docs/CLUSTER.md.
 *
 * Redis keys (prefix "sluice:"):
 *   rl:{limit}:{key hex}:{window}  hash node -> reservation, expires
 *                                 after 2 windows; the Lua script below
 *                                 reserves this host's allowance
 *   node:{name}                   heartbeat, TTL NODE_TTL_MS
 *   nodes                         sorted set name -> last heartbeat (ms)
 *   bans                          stream of ban/unban entries, MAXLEN ~
 *   bans:live                     hash cidr -> "expires_ms node by"
 */
#include "control/cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "control/cluster_int.h"
#include "control/control.h"
#include "lib/jw.h"
#include "lib/log.h"
#include "policy/cluster_limit.h"
#include "xdp/xdpctl.h"


/*
 * Reserve this host's allowance for one key and window, atomically: the
 * hash holds each host's reservation (what it may admit in the window,
 * never below what it admitted). Others' reservations plus ours never pass
 * N: ours becomes count + ceil(free / hosts), free = N - others - count.
 * A live host with no field yet is counted at its implicit share (ARGV[6])
 * while the window is young: it admits that much before its first sync.
 * ARGV: node, count, N, hosts, ttl ms, implicit share. Returns ours.
 */
static const char lua_sync[] =
	"local me, cnt = ARGV[1], tonumber(ARGV[2]) "
	"local n, h = tonumber(ARGV[3]), tonumber(ARGV[4]) "
	"local f = redis.call('HGETALL', KEYS[1]) "
	"local others, seen = 0, 0 "
	"for i = 1, #f, 2 do if f[i] ~= me then "
	"others = others + tonumber(f[i + 1]) seen = seen + 1 end end "
	"if h - 1 > seen then others = others + (h - 1 - seen) * tonumber(ARGV[6]) end "
	"local free = n - others - cnt "
	"local mine = cnt "
	"if free > 0 then mine = cnt + math.ceil(free / h) end "
	"redis.call('HSET', KEYS[1], me, mine) "
	"redis.call('PEXPIRE', KEYS[1], ARGV[5]) "
	"return mine";

struct cluster_state cluster__state = { .lock = PTHREAD_MUTEX_INITIALIZER,
			    .wake = PTHREAD_COND_INITIALIZER };

uint64_t cluster__wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t cluster__mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep up to ms, waking early when stopping. */
void cluster__nap(uint64_t ms)
{
	while (ms && !atomic_load(&cl.stop)) {
		uint64_t step = ms < 50 ? ms : 50;
		struct timespec ts = { 0, (long)step * 1000000L };

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Until the next sync (ms from now) or a queued ban, whichever first. */
static void wait_tick(uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += (time_t)(ms / 1000) + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&cl.lock);
	if (!cl.q_len && !atomic_load(&cl.stop))
		pthread_cond_timedwait(&cl.wake, &cl.lock, &ts);
	pthread_mutex_unlock(&cl.lock);
}

void cluster__set_error(const char *what, const char *detail)
{
	pthread_mutex_lock(&cl.lock);
	snprintf(cl.last_error, sizeof(cl.last_error), "%.20s: %.100s", what,
		 detail ? detail : "?");
	pthread_mutex_unlock(&cl.lock);
}

/* ---- connection ------------------------------------------------------- */

/* A connection with timeouts (ms) on connect and on every command, AUTH
 * done; NULL when Redis cannot be reached (the cause recorded). */
redisContext *cluster__connect(uint32_t timeout_ms, const char *who)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	const char *a = cl.cfg.redis;
	redisContext *c;
	redisReply *r;

	if (a[0] == '/') {
		c = redisConnectUnixWithTimeout(a, tv);
	} else {
		char host[256];
		const char *colon = strrchr(a, ':');
		size_t hl = (size_t)(colon - a);

		if (a[0] == '[') {	/* [v6]:port */
			hl -= 2;
			memcpy(host, a + 1, hl);
		} else {
			memcpy(host, a, hl);
		}
		host[hl] = '\0';
		c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
	}
	if (!c || c->err) {
		cluster__set_error(who, c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (cl.password[0]) {
		r = redisCommand(c, "AUTH %s", cl.password);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			cluster__set_error(who, r ? r->str : c->errstr);
			if (r)
				freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

/* The reply of a pipelined command, or NULL (connection broken: the
 * caller drops it). */
redisReply *cluster__reply(redisContext *c)
{
	void *r = NULL;

	if (redisGetReply(c, &r) != REDIS_OK)
		return NULL;
	return r;
}

/* ---- limits ------------------------------------------------------------- */

static enum crl_state down_state(void)
{
	switch (cl.cfg.on_redis_down) {
	case CFG_REDIS_DOWN_OPEN: return CRL_DOWN_OPEN;
	case CFG_REDIS_DOWN_CLOSED: return CRL_DOWN_CLOSED;
	default: return CRL_DOWN_LOCAL;
	}
}

/* Apply fn to every cluster table of cfg. */
static void each_table(struct config *cfg,
		       void (*fn)(struct crl_table *t, void *arg), void *arg)
{
	for (size_t i = 0; i < cfg->n_limits; i++)
		if (cfg->limits[i].ctable)
			fn(cfg->limits[i].ctable, arg);
	for (size_t r = 0; r < cfg->n_routes; r++)
		for (size_t i = 0; i < cfg->routes[r].n_limits; i++)
			if (cfg->routes[r].limits[i].ctable)
				fn(cfg->routes[r].limits[i].ctable, arg);
}

static void set_env(struct crl_table *t, void *arg)
{
	enum crl_state st = *(enum crl_state *)arg;
	unsigned int n, rank;

	pthread_mutex_lock(&cl.lock);
	n = cl.n_nodes ? cl.n_nodes : 1;
	rank = cl.rank;
	pthread_mutex_unlock(&cl.lock);
	crl_set_env(t, n, rank, st, (uint64_t)cl.cfg.sync_ms * 2000000ull);
}

struct sync_ctx {
	redisContext *c;
	const char *sha;
	struct crl_sync *buf;
	bool failed;
};

static void hex(const char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[(unsigned char)in[i] >> 4];
		out[2 * i + 1] = d[(unsigned char)in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* One reconcile of table t: every active key's count out, totals in. */
static void sync_table(struct crl_table *t, void *arg)
{
	struct sync_ctx *s = arg;
	const struct rl_window *w = &crl_table_limit(t)->windows[0];
	uint64_t now_ns = cluster__wall_ms() * 1000000ull;
	size_t cursor = 0, n;
	char key[RL_MAX_KEY * 2 + 256], cnt[24], ttl[24], lim[24], hosts[16];
	char implicit[24];
	unsigned int nodes, rank;

	if (s->failed)
		return;
	do {
		n = crl_collect(t, now_ns, s->buf, SYNC_BATCH, &cursor);
		snprintf(ttl, sizeof(ttl), "%" PRIu64,
			 (uint64_t)(2 * w->period_ns / 1000000ull + 10000));
		pthread_mutex_lock(&cl.lock);
		nodes = cl.n_nodes ? cl.n_nodes : 1;
		rank = cl.rank;
		pthread_mutex_unlock(&cl.lock);
		snprintf(lim, sizeof(lim), "%" PRIu64, w->limit);
		snprintf(hosts, sizeof(hosts), "%u", nodes);
		for (size_t i = 0; i < n; i++) {
			char kh[RL_MAX_KEY * 2 + 1];
			uint64_t age = now_ns - s->buf[i].win * w->period_ns;

			/* hosts not synced yet hold their share in a young
			 * window only (crl_set_env: 2 intervals) */
			snprintf(implicit, sizeof(implicit), "%" PRIu64,
				 age < (uint64_t)cl.cfg.sync_ms * 2000000ull ?
				 crl_share(w->limit, nodes, rank) : 0);

			hex(s->buf[i].key, s->buf[i].klen, kh);
			snprintf(key, sizeof(key), "sluice:rl:%s:%s:%" PRIu64,
				 crl_table_id(t), kh, s->buf[i].win);
			snprintf(cnt, sizeof(cnt), "%" PRIu64, s->buf[i].count);
			redisAppendCommand(s->c,
					   "EVALSHA %s 1 %s %s %s %s %s %s %s",
					   s->sha, key, cl.node, cnt, lim, hosts,
					   ttl, implicit);
		}
		for (size_t i = 0; i < n; i++) {
			redisReply *r = cluster__reply(s->c);

			if (!r) {
				s->failed = true;
				return;
			}
			if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
				crl_apply(t, &s->buf[i], (uint64_t)r->integer);
			else if (r->type == REDIS_REPLY_ERROR) {
				cluster__set_error("limit sync", r->str);
				/* scripts flushed: reconnect loads it again */
				if (!strncmp(r->str, "NOSCRIPT", 8))
					s->failed = true;
			}
			freeReplyObject(r);
		}
	} while (cursor && n && !s->failed);
}

/* ---- heartbeat ------------------------------------------------------------ */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Beat, and read the live nodes. 0 or -EIO (connection broken). */
static int heartbeat(redisContext *c)
{
	uint64_t now = cluster__wall_ms();
	char names[MAX_NODES][64];
	unsigned int n = 0, rank = 0;
	redisReply *r;
	char v[160];

	snprintf(v, sizeof(v), "{\"at_ms\":%" PRIu64 ",\"pid\":%d}", now,
		 (int)getpid());
	redisAppendCommand(c, "SET sluice:node:%s %s PX %d", cl.node, v,
			   NODE_TTL_MS);
	redisAppendCommand(c, "ZADD sluice:nodes %" PRIu64 " %s", now,
			   cl.node);
	redisAppendCommand(c, "ZREMRANGEBYSCORE sluice:nodes -inf %" PRIu64,
			   now - NODE_TTL_MS);
	redisAppendCommand(c, "ZRANGEBYSCORE sluice:nodes %" PRIu64 " +inf",
			   now - NODE_TTL_MS);
	for (int i = 0; i < 3; i++) {
		r = cluster__reply(c);
		if (!r)
			return -EIO;
		if (r->type == REDIS_REPLY_ERROR)
			cluster__set_error("heartbeat", r->str);
		freeReplyObject(r);
	}
	r = cluster__reply(c);
	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < r->elements && n < MAX_NODES; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				snprintf(names[n++], sizeof(names[0]), "%s",
					 r->element[i]->str);
	freeReplyObject(r);
	qsort(names, n, sizeof(names[0]), cmp_name);
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp(names[i], cl.node))
			rank = i;
	pthread_mutex_lock(&cl.lock);
	memcpy(cl.nodes, names, sizeof(names[0]) * n);
	cl.n_nodes = n ? n : 1;
	cl.rank = rank;
	pthread_mutex_unlock(&cl.lock);
	return 0;
}

/* ---- the sync thread ---------------------------------------------------- */

static void set_all(enum crl_state st)
{
	struct config *cfg = control_config(cl.ctl, NULL);

	each_table(cfg, set_env, &st);
	config_put(cfg);
}

static void *sync_main(void *arg)
{
	struct crl_sync *buf = calloc(SYNC_BATCH, sizeof(*buf));
	uint64_t backoff = BACKOFF_MIN_MS, last_beat = 0;
	redisContext *c = NULL;
	char sha[64] = "";

	(void)arg;
	if (!buf)
		return NULL;
	set_all(down_state());
	while (!atomic_load(&cl.stop)) {
		uint64_t t0 = cluster__mono_ms();
		struct sync_ctx s;
		struct config *cfg;
		redisReply *r;

		if (!c) {
			c = cluster__connect(cl.cfg.timeout_ms, "sync");
			if (c) {
				r = redisCommand(c, "SCRIPT LOAD %s", lua_sync);
				if (r && r->type == REDIS_REPLY_STRING) {
					snprintf(sha, sizeof(sha), "%s", r->str);
				} else {
					cluster__set_error("SCRIPT LOAD", r ? r->str :
						  c->errstr);
					redisFree(c);
					c = NULL;
				}
				if (r)
					freeReplyObject(r);
			}
			if (!c) {
				cluster__nap(backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ?
					  BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			backoff = BACKOFF_MIN_MS;
			last_beat = 0;
			pthread_mutex_lock(&cl.lock);
			if (!cl.up_sync)
				cl.reconnects++;
			pthread_mutex_unlock(&cl.lock);
			pr_info("cluster: connected to Redis at %s as node %s",
				cl.cfg.redis, cl.node);
		}
		if (t0 - last_beat >= BEAT_MS || !last_beat) {
			if (heartbeat(c))
				goto broken;
			last_beat = t0;
		}
		if (cluster__publish_bans(c))
			goto broken;
		/* limits: push counts, pull totals; state up once it works */
		cfg = control_config(cl.ctl, NULL);
		s = (struct sync_ctx){ .c = c, .sha = sha, .buf = buf };
		each_table(cfg, sync_table, &s);
		if (!s.failed) {
			enum crl_state up = CRL_UP;

			each_table(cfg, set_env, &up);
		}
		config_put(cfg);
		if (s.failed)
			goto broken;
		pthread_mutex_lock(&cl.lock);
		cl.up_sync = true;
		cl.last_sync_ms = cluster__mono_ms();
		pthread_mutex_unlock(&cl.lock);
		{
			uint64_t spent = cluster__mono_ms() - t0;

			wait_tick(spent < cl.cfg.sync_ms ?
				  cl.cfg.sync_ms - spent : 1);
		}
		continue;
broken:
		pr_warn("cluster: lost Redis at %s (%s); limits: %s until it returns",
			cl.cfg.redis, c->errstr[0] ? c->errstr : "error",
			cl.cfg.on_redis_down == CFG_REDIS_DOWN_OPEN ? "open" :
			cl.cfg.on_redis_down == CFG_REDIS_DOWN_CLOSED ?
				"closed" : "local shares");
		if (c->errstr[0])	/* else the reply's error is recorded */
			cluster__set_error("sync", c->errstr);
		redisFree(c);
		c = NULL;
		pthread_mutex_lock(&cl.lock);
		cl.up_sync = false;
		pthread_mutex_unlock(&cl.lock);
		set_all(down_state());
	}
	if (c)
		redisFree(c);
	free(buf);
	return NULL;
}

/* ---- start, stop, status ------------------------------------------------ */

static int read_password(const char *spec, const char *cfg_path)
{
	if (!spec[0])
		return 0;
	if (!strncmp(spec, "env:", 4)) {
		const char *v = getenv(spec + 4);

		if (!v || !*v) {
			pr_err("cluster.password: environment variable '%s' is not set or empty",
			       spec + 4);
			return -EINVAL;
		}
		snprintf(cl.password, sizeof(cl.password), "%s", v);
		return 0;
	}
	{
		const char *p = spec + 5, *slash = strrchr(cfg_path, '/');
		char full[4096];
		FILE *f;
		size_t n;

		if (p[0] != '/' && slash)
			snprintf(full, sizeof(full), "%.*s/%.1000s",
				 (int)(slash - cfg_path) & 2047, cfg_path, p);
		else
			snprintf(full, sizeof(full), "%.1000s", p);
		f = fopen(full, "re");
		if (!f) {
			pr_err("cluster.password: %s: %s", full,
			       strerror(errno));
			return -errno;
		}
		n = fread(cl.password, 1, sizeof(cl.password) - 1, f);
		fclose(f);
		cl.password[n] = '\0';
		cl.password[strcspn(cl.password, "\r\n")] = '\0';
		if (!cl.password[0]) {
			pr_err("cluster.password: %s: empty", full);
			return -EINVAL;
		}
	}
	return 0;
}

int cluster_open(struct control *ctl)
{
	const struct config *cfg = ctl->cfg;
	int ret;

	if (!cfg->cluster.enabled)
		return 0;
	cl.ctl = ctl;
	cl.cfg = cfg->cluster;
	if (cl.cfg.node[0]) {
		snprintf(cl.node, sizeof(cl.node), "%s", cl.cfg.node);
	} else if (gethostname(cl.node, sizeof(cl.node) - 1)) {
		snprintf(cl.node, sizeof(cl.node), "pid-%d", (int)getpid());
	}
	ret = read_password(cl.cfg.password, cfg->path);
	if (ret)
		return ret;
	cl.queue = calloc(QUEUE_MAX, sizeof(*cl.queue));
	if (!cl.queue)
		return -ENOMEM;
	if (ctl->xdp && cfg->xdp.enabled) {
		ret = xdpctl_live_open(cfg->xdp.pin_path, &cl.live);
		if (ret) {
			pr_warn("cluster: cannot open the XDP maps under %s: %s (unbans from other hosts will not apply)",
				cfg->xdp.pin_path, strerror(-ret));
			cl.live = NULL;
		}
	}
	snprintf(cl.last_id, sizeof(cl.last_id), "0-0");
	atomic_store(&cl.stop, false);
	cl.enabled = true;
	return 0;
}

int cluster_start(void)
{
	int ret;

	if (!cl.enabled)
		return 0;
	ret = -pthread_create(&cl.sync_tid, NULL, sync_main, NULL);
	if (ret)
		return ret;
	cl.sync_started = true;
	ret = -pthread_create(&cl.tail_tid, NULL, cluster__tail_main, NULL);
	if (ret)
		return ret;
	cl.tail_started = true;
	pr_info("cluster: node %s, Redis %s, limits sync every %u ms, on_redis_down %s",
		cl.node, cl.cfg.redis, cl.cfg.sync_ms,
		cl.cfg.on_redis_down == CFG_REDIS_DOWN_OPEN ? "open" :
		cl.cfg.on_redis_down == CFG_REDIS_DOWN_CLOSED ? "closed" :
								  "local");
	return 0;
}

void cluster_stop(void)
{
	if (!cl.enabled)
		return;
	atomic_store(&cl.stop, true);
	pthread_mutex_lock(&cl.lock);
	pthread_cond_signal(&cl.wake);
	pthread_mutex_unlock(&cl.lock);
	if (cl.sync_started)
		pthread_join(cl.sync_tid, NULL);
	if (cl.tail_started)
		pthread_join(cl.tail_tid, NULL);
	cl.sync_started = cl.tail_started = false;
	xdpctl_live_close(cl.live);
	cl.live = NULL;
	free(cl.queue);
	cl.queue = NULL;
	cl.q_len = 0;
	cl.enabled = false;
	memset(cl.password, 0, sizeof(cl.password));
}

void cluster_get_counts(struct cluster_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (!cl.enabled)
		return;
	pthread_mutex_lock(&cl.lock);
	out->enabled = true;
	out->up = cl.up_sync && cl.up_tail;
	out->nodes = cl.n_nodes;
	out->reconnects = cl.reconnects;
	out->bans_published = cl.published;
	out->bans_applied = cl.applied;
	out->bans_queued = cl.q_len;
	out->stream_lag_ms = cl.lag_ms;
	out->sync_age_ms = cl.last_sync_ms ? cluster__mono_ms() - cl.last_sync_ms : 0;
	pthread_mutex_unlock(&cl.lock);
}

void cluster_status_json(struct jw *w)
{
	struct cluster_counts k;

	cluster_get_counts(&k);
	jw_obj(w);
	jw_kbool(w, "enabled", k.enabled);
	if (!k.enabled) {
		jw_obj_end(w);
		return;
	}
	pthread_mutex_lock(&cl.lock);
	jw_kstr(w, "node", cl.node);
	jw_kstr(w, "redis", cl.cfg.redis);
	jw_kstr(w, "state", k.up ? "up" : cl.up_sync || cl.up_tail ?
		"partial" : "down");
	jw_kstr(w, "on_redis_down",
		cl.cfg.on_redis_down == CFG_REDIS_DOWN_OPEN ? "open" :
		cl.cfg.on_redis_down == CFG_REDIS_DOWN_CLOSED ? "closed" :
								  "local");
	jw_ku64(w, "sync_ms", cl.cfg.sync_ms);
	jw_key(w, "nodes");
	jw_arr(w);
	for (unsigned int i = 0; i < cl.n_nodes && cl.nodes[i][0]; i++)
		jw_str(w, cl.nodes[i]);
	jw_arr_end(w);
	jw_ku64(w, "rank", cl.rank);
	jw_kstr(w, "stream_last_id", cl.last_id);
	jw_ku64(w, "stream_lag_ms", k.stream_lag_ms);
	jw_ku64(w, "sync_age_ms", k.sync_age_ms);
	jw_ku64(w, "reconnects", k.reconnects);
	jw_ku64(w, "bans_published", k.bans_published);
	jw_ku64(w, "bans_applied", k.bans_applied);
	jw_ku64(w, "bans_queued", k.bans_queued);
	jw_ku64(w, "bans_dropped", cl.q_dropped);
	jw_kstr(w, "last_error", cl.last_error);
	pthread_mutex_unlock(&cl.lock);
	jw_obj_end(w);
}

void cluster_status_line(char *buf, unsigned long len)
{
	struct cluster_counts k;

	cluster_get_counts(&k);
	if (!k.enabled) {
		snprintf(buf, len, "off");
		return;
	}
	pthread_mutex_lock(&cl.lock);
	snprintf(buf, len,
		 "%s, node %s, Redis %s, %" PRIu64 " node(s) live, stream at %s (lag %" PRIu64 " ms), %" PRIu64 " ban(s) queued",
		 k.up ? "up" : "DOWN", cl.node, cl.cfg.redis, k.nodes,
		 cl.last_id, k.stream_lag_ms, k.bans_queued);
	pthread_mutex_unlock(&cl.lock);
}
