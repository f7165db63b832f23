// SPDX-License-Identifier: MIT
/*
 * Cluster bans: the queue of this host's bans and unbans, their XADD to the
 * stream (and the live-ban hash), and the tail thread that applies the
 * other hosts' entries to this host's XDP ban maps. See cluster.h and
 * docs/CLUSTER.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/allowlist.h"
#include "control/cluster.h"
#include "control/cluster_int.h"
#include "control/control.h"
#include "lib/log.h"
#include "xdp/xdpctl.h"

/* ---- ban publishing ----------------------------------------------------- */

void cluster_publish_ban(const struct allowlist_entry *e, uint64_t seconds,
			 bool ban, const char *by)
{
	struct ban_msg *m;

	if (!cl.enabled)
		return;
	pthread_mutex_lock(&cl.lock);
	if (cl.q_len == QUEUE_MAX) {	/* drop the oldest */
		cl.q_head = (cl.q_head + 1) % QUEUE_MAX;
		cl.q_len--;
		cl.q_dropped++;
	}
	m = &cl.queue[(cl.q_head + cl.q_len) % QUEUE_MAX];
	m->ban = ban;
	allowlist_format(e, m->cidr, sizeof(m->cidr));
	m->seconds = seconds;
	snprintf(m->by, sizeof(m->by), "%s", by);
	m->at_ms = cluster__wall_ms();
	cl.q_len++;
	pthread_cond_signal(&cl.wake);
	pthread_mutex_unlock(&cl.lock);
}

/* XADD the queued bans (and keep the live-ban hash); an entry leaves the
 * queue only once Redis acknowledged it. 0 or -EIO. */
int cluster__publish_bans(redisContext *c)
{
	for (;;) {
		struct ban_msg m;
		char secs[24], exp[24], at[24], live[160];
		redisReply *r1, *r2;
		uint64_t expires;

		pthread_mutex_lock(&cl.lock);
		if (!cl.q_len) {
			pthread_mutex_unlock(&cl.lock);
			return 0;
		}
		m = cl.queue[cl.q_head];
		pthread_mutex_unlock(&cl.lock);

		expires = m.ban && m.seconds ? m.at_ms + m.seconds * 1000 : 0;
		snprintf(secs, sizeof(secs), "%" PRIu64, m.seconds);
		snprintf(exp, sizeof(exp), "%" PRIu64, expires);
		snprintf(at, sizeof(at), "%" PRIu64, m.at_ms);
		redisAppendCommand(c,
				   "XADD sluice:bans MAXLEN ~ %d * op %s cidr %s seconds %s expires_ms %s at_ms %s node %s by %s",
				   STREAM_MAXLEN, m.ban ? "ban" : "unban",
				   m.cidr, secs, exp, at, cl.node, m.by);
		if (m.ban) {
			snprintf(live, sizeof(live), "%s %s %s", exp, cl.node,
				 m.by);
			redisAppendCommand(c, "HSET sluice:bans:live %s %s",
					   m.cidr, live);
		} else {
			redisAppendCommand(c, "HDEL sluice:bans:live %s",
					   m.cidr);
		}
		r1 = cluster__reply(c);
		r2 = r1 ? cluster__reply(c) : NULL;
		if (!r1 || !r2) {
			if (r1)
				freeReplyObject(r1);
			return -EIO;
		}
		if (r1->type == REDIS_REPLY_ERROR)
			cluster__set_error("ban publish", r1->str);
		freeReplyObject(r1);
		freeReplyObject(r2);
		pthread_mutex_lock(&cl.lock);
		if (cl.q_len) {
			cl.q_head = (cl.q_head + 1) % QUEUE_MAX;
			cl.q_len--;
		}
		cl.published++;
		pthread_mutex_unlock(&cl.lock);
	}
}

/* ---- the tail thread ---------------------------------------------------- */

static const char *field(const redisReply *kv, const char *name)
{
	for (size_t i = 0; i + 1 < kv->elements; i += 2)
		if (kv->element[i]->type == REDIS_REPLY_STRING &&
		    !strcmp(kv->element[i]->str, name) &&
		    kv->element[i + 1]->type == REDIS_REPLY_STRING)
			return kv->element[i + 1]->str;
	return NULL;
}

/* Install a ban (expires_ms 0: never) or lift one, in our XDP maps. */
static void install(const char *cidr, bool ban, uint64_t expires_ms,
		    const char *by, const char *origin)
{
	struct allowlist_entry e;
	char err[128];
	uint64_t now = cluster__wall_ms();
	int r;

	if (!cl.ctl->xdp)
		return;
	if (allowlist_parse_cidr(cidr, &e, err, sizeof(err))) {
		pr_warn("cluster: bad ban entry from %s: %s", origin, err);
		return;
	}
	if (ban) {
		uint64_t for_ns;

		if (expires_ms && expires_ms <= now)
			return;	/* over already */
		for_ns = expires_ms ? (expires_ms - now) * 1000000ull : 0;
		if (cl.live && by && !strcmp(by, "operator"))
			r = xdpctl_live_ban(cl.live, &e, for_ns);
		else
			r = xdpctl_ban(cl.ctl->xdp, &e, for_ns);
	} else {
		r = cl.live ? xdpctl_live_unban(cl.live, &e) : -EOPNOTSUPP;
		if (r == -ENOENT)
			r = 0;
	}
	if (r)
		pr_warn("cluster: cannot %s %s (from %s): %s",
			ban ? "ban" : "unban", cidr, origin, strerror(-r));
	else
		pr_info("cluster: %s %s (from %s)", ban ? "banned" : "unbanned",
			cidr, origin);
}

/* The live bans of the hash, all installed. 0 or -EIO. */
static int load_live(redisContext *c)
{
	redisReply *r = redisCommand(c, "HGETALL sluice:bans:live");
	size_t n = 0, n_old = 0;

	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i + 1 < r->elements; i += 2) {
			const char *v = r->element[i + 1]->str;
			unsigned long long exp = 0;
			char node[64] = "?", by[16] = "sluiced";

			if (!v || sscanf(v, "%llu %63s %15s", &exp, node,
					 by) < 1)
				continue;
			if (exp && exp <= cluster__wall_ms()) {
				/* over: tidy it away (HDEL is idempotent) */
				redisAppendCommand(c, "HDEL sluice:bans:live %s",
						   r->element[i]->str);
				n_old++;
				continue;
			}
			install(r->element[i]->str, true, exp, by, node);
			n++;
		}
	freeReplyObject(r);
	while (n_old--) {
		r = cluster__reply(c);
		if (!r)
			return -EIO;
		freeReplyObject(r);
	}
	pr_info("cluster: %zu live ban(s) loaded from Redis", n);
	return 0;
}

/* The ID of the stream's first (first) or last entry into id ("0-0":
 * empty). 0 or -EIO. */
static int edge_id(redisContext *c, bool first, char *id, size_t len)
{
	redisReply *r = first ?
		redisCommand(c, "XRANGE sluice:bans - + COUNT 1") :
		redisCommand(c, "XREVRANGE sluice:bans + - COUNT 1");

	if (!r)
		return -EIO;
	snprintf(id, len, "0-0");
	if (r->type == REDIS_REPLY_ARRAY && r->elements &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements &&
	    r->element[0]->element[0]->type == REDIS_REPLY_STRING)
		snprintf(id, len, "%s", r->element[0]->element[0]->str);
	freeReplyObject(r);
	return 0;
}

static int id_cmp(const char *a, const char *b)
{
	unsigned long long am = 0, as = 0, bm = 0, bs = 0;

	sscanf(a, "%llu-%llu", &am, &as);
	sscanf(b, "%llu-%llu", &bm, &bs);
	if (am != bm)
		return am < bm ? -1 : 1;
	return as < bs ? -1 : as > bs;
}

/* After (re)connecting: where to read from. A first start or a Redis that
 * lost its data (another run_id) loads the live bans; a Redis that trimmed
 * past our last ID too. Then XREAD replays what we missed. 0 or -EIO. */
static int resync(redisContext *c, bool *first_start)
{
	char run_id[48] = "", first[48], last[48];
	redisReply *r = redisCommand(c, "INFO server");
	bool reload;

	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_STRING) {
		const char *p = strstr(r->str, "run_id:");

		if (p)
			sscanf(p + 7, "%40[0-9a-f]", run_id);
	}
	freeReplyObject(r);
	if (edge_id(c, true, first, sizeof(first)))
		return -EIO;
	pthread_mutex_lock(&cl.lock);
	reload = *first_start || strcmp(run_id, cl.run_id) ||
		 id_cmp(cl.last_id, first) < 0;
	if (strcmp(run_id, cl.run_id) && !*first_start)
		snprintf(cl.last_id, sizeof(cl.last_id), "0-0");
	snprintf(cl.run_id, sizeof(cl.run_id), "%s", run_id);
	pthread_mutex_unlock(&cl.lock);
	if (!reload)
		return 0;
	if (*first_start) {
		/* the stream's end first: what comes after is replayed */
		if (edge_id(c, false, last, sizeof(last)))
			return -EIO;
		pthread_mutex_lock(&cl.lock);
		snprintf(cl.last_id, sizeof(cl.last_id), "%s", last);
		pthread_mutex_unlock(&cl.lock);
	}
	if (load_live(c))
		return -EIO;
	*first_start = false;
	return 0;
}

/* Apply the entries of one XREAD reply. */
static void apply_entries(const redisReply *r)
{
	const redisReply *entries;

	if (r->type != REDIS_REPLY_ARRAY || !r->elements ||
	    r->element[0]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->elements < 2)
		return;
	entries = r->element[0]->element[1];
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *en = entries->element[i];
		const char *id, *op, *cidr, *node, *by, *exp;
		unsigned long long ms = 0;

		if (en->type != REDIS_REPLY_ARRAY || en->elements < 2 ||
		    en->element[0]->type != REDIS_REPLY_STRING ||
		    en->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		id = en->element[0]->str;
		op = field(en->element[1], "op");
		cidr = field(en->element[1], "cidr");
		node = field(en->element[1], "node");
		by = field(en->element[1], "by");
		exp = field(en->element[1], "expires_ms");
		if (op && cidr && node && strcmp(node, cl.node))
			install(cidr, !strcmp(op, "ban"),
				exp ? strtoull(exp, NULL, 10) : 0, by, node);
		sscanf(id, "%llu", &ms);
		pthread_mutex_lock(&cl.lock);
		snprintf(cl.last_id, sizeof(cl.last_id), "%s", id);
		if (node && strcmp(node, cl.node)) {
			uint64_t now = cluster__wall_ms();

			cl.applied++;
			cl.lag_ms = now > ms ? now - ms : 0;
		}
		pthread_mutex_unlock(&cl.lock);
	}
}

void *cluster__tail_main(void *arg)
{
	uint64_t backoff = BACKOFF_MIN_MS;
	redisContext *c = NULL;
	bool first_start = true;

	(void)arg;
	while (!atomic_load(&cl.stop)) {
		char id[48];
		redisReply *r;

		if (!c) {
			/* the read blocks XREAD_BLOCK_MS: a longer timeout */
			c = cluster__connect(cl.cfg.timeout_ms + XREAD_BLOCK_MS,
					  "tail");
			if (c && resync(c, &first_start)) {
				redisFree(c);
				c = NULL;
			}
			if (!c) {
				cluster__nap(backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ?
					  BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			backoff = BACKOFF_MIN_MS;
			pthread_mutex_lock(&cl.lock);
			cl.up_tail = true;
			pthread_mutex_unlock(&cl.lock);
		}
		pthread_mutex_lock(&cl.lock);
		snprintf(id, sizeof(id), "%s", cl.last_id);
		pthread_mutex_unlock(&cl.lock);
		r = redisCommand(c, "XREAD COUNT 256 BLOCK %d STREAMS sluice:bans %s",
				 XREAD_BLOCK_MS, id);
		if (!r) {
			cluster__set_error("tail", c->errstr);
			redisFree(c);
			c = NULL;
			pthread_mutex_lock(&cl.lock);
			cl.up_tail = false;
			pthread_mutex_unlock(&cl.lock);
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR)
			cluster__set_error("XREAD", r->str);
		else
			apply_entries(r);
		freeReplyObject(r);
	}
	if (c)
		redisFree(c);
	return NULL;
}
