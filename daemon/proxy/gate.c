// SPDX-License-Identifier: MIT
/* The request gate: auth, RBAC, L7 CIDR, rate limits, escalation. See gate.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "config/config.h"
#include "policy/cluster_limit.h"
#include "proxy/gate.h"
#include "lib/log.h"
#include "http/rewrite.h"

static _Atomic(gate_ban_fn) ban_fn;
static _Atomic(void *) ban_ctx;
static atomic_uint_fast64_t n_bans, n_bans_l7, n_banned;

void gate_set_ban_sink(gate_ban_fn fn, void *ctx)
{
	atomic_store(&ban_ctx, ctx);
	atomic_store(&ban_fn, fn);
}

void gate_get_stats(struct gate_stats *out)
{
	out->bans = atomic_load(&n_bans);
	out->bans_l7 = atomic_load(&n_bans_l7);
	out->banned = atomic_load(&n_banned);
}

/*
 * Key bytes of a client address: family byte + address, IPv4-mapped as
 * IPv4, IPv6 cut to its first v6_prefix bits (xdp.ipv6_prefix), the same
 * grouping XDP applies, so a host rotating addresses inside its prefix is
 * one client for limits, strikes and bans.
 */
static size_t addr_key(const struct sockaddr *sa, unsigned int v6_prefix,
		       char *out)
{
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			out[0] = 4;
			memcpy(out + 1, &a->s6_addr[12], 4);
			return 5;
		}
		out[0] = 6;
		if (!v6_prefix || v6_prefix > 128)
			v6_prefix = 128;
		for (unsigned int i = 0; i < 16; i++) {
			unsigned int bits = v6_prefix > i * 8 ?
					    v6_prefix - i * 8 : 0;

			out[1 + i] = (char)(bits >= 8 ? a->s6_addr[i] :
					    a->s6_addr[i] &
					    (uint8_t)(0xff00u >> bits));
		}
		return 17;
	}
	out[0] = 4;
	memcpy(out + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	return 5;
}

/* ---- L7 bans --------------------------------------------------------------
 *
 * Escalation bans that XDP cannot enforce (the client came through a PROXY
 * protocol header or a trusted X-Forwarded-For, so XDP sees the proxy), or
 * that the XDP sink refused. Process-wide (they outlive config reloads),
 * shared by all workers: a set-associative table keyed by addr_key() bytes
 * with a SipHash seed drawn once, a spinlock per bucket. When no ban can be
 * live (now is past the latest expiry ever set) the check is one atomic
 * load.
 */
#define L7BAN_BUCKETS 1024
#define L7BAN_WAYS 4

struct l7ban_slot {
	uint64_t expires_ns;		/* CLOCK_MONOTONIC; 0: free */
	uint8_t keylen;
	char key[17];
};

struct l7ban_bucket {
	atomic_flag lock;
	struct l7ban_slot slot[L7BAN_WAYS];
};

static struct l7ban_bucket l7bans[L7BAN_BUCKETS];
static atomic_uint_fast64_t l7ban_horizon;	/* latest expiry set */
static uint8_t l7ban_seed[16];
static pthread_once_t l7ban_once = PTHREAD_ONCE_INIT;

static void l7ban_init(void)
{
	if (getrandom(l7ban_seed, sizeof(l7ban_seed), 0) !=
	    (ssize_t)sizeof(l7ban_seed))
		pr_warn("escalation: no random seed for the L7 ban table");
}

static struct l7ban_bucket *l7ban_lock(const char *key, size_t klen)
{
	struct l7ban_bucket *b;

	pthread_once(&l7ban_once, l7ban_init);
	b = &l7bans[rl_siphash(l7ban_seed, key, klen) % L7BAN_BUCKETS];
	while (atomic_flag_test_and_set_explicit(&b->lock,
						 memory_order_acquire))
		;
	return b;
}

static void l7ban_unlock(struct l7ban_bucket *b)
{
	atomic_flag_clear_explicit(&b->lock, memory_order_release);
}

/* Ban key until until_ns (an existing ban keeps the later expiry). */
static void l7ban_set(const char *key, size_t klen, uint64_t now_ns,
		      uint64_t until_ns)
{
	struct l7ban_bucket *b = l7ban_lock(key, klen);
	struct l7ban_slot *hit = NULL, *victim = NULL;
	uint_fast64_t h;

	for (int i = 0; i < L7BAN_WAYS; i++) {
		struct l7ban_slot *sl = &b->slot[i];
		bool live = sl->expires_ns > now_ns;

		if (live && sl->keylen == klen && !memcmp(sl->key, key, klen)) {
			hit = sl;
			break;
		}
		/* a free or expired slot, else the one expiring first */
		if (!victim || (victim->expires_ns > now_ns &&
				(!live || sl->expires_ns < victim->expires_ns)))
			victim = sl;
	}
	if (hit) {
		if (hit->expires_ns < until_ns)
			hit->expires_ns = until_ns;
	} else {
		victim->keylen = (uint8_t)klen;
		memcpy(victim->key, key, klen);
		victim->expires_ns = until_ns;
	}
	l7ban_unlock(b);
	h = atomic_load(&l7ban_horizon);
	while (h < until_ns &&
	       !atomic_compare_exchange_weak(&l7ban_horizon, &h, until_ns))
		;
}

/* Seconds left of a ban on key (rounded up), 0 if none. */
static uint64_t l7ban_left_s(const char *key, size_t klen, uint64_t now_ns)
{
	struct l7ban_bucket *b;
	uint64_t left = 0;

	if (atomic_load_explicit(&l7ban_horizon, memory_order_relaxed) <=
	    now_ns)
		return 0;
	b = l7ban_lock(key, klen);
	for (int i = 0; i < L7BAN_WAYS; i++) {
		const struct l7ban_slot *sl = &b->slot[i];

		if (sl->expires_ns > now_ns && sl->keylen == klen &&
		    !memcmp(sl->key, key, klen)) {
			left = (sl->expires_ns - now_ns + 999999999ull) /
			       1000000000ull;
			break;
		}
	}
	l7ban_unlock(b);
	return left;
}

/* The key of limit l for this request; returns its length. */
static size_t limit_key(const struct config_limit *l, const struct config_route *rt,
			const struct gate_verdict *v, unsigned int v6_prefix,
			char *key)
{
	switch (l->key) {
	case RL_KEY_CONSUMER:
		if (v->auth.authenticated) {
			size_t n = strlen(v->auth.consumer), o = 0;

			/* a JWT subject is not the configured consumer of the
			 * same name: \2 never starts a consumer name */
			if (v->auth.method == AUTH_M_JWT)
				key[o++] = '\2';
			memcpy(key + o, v->auth.consumer, n);
			return o + n;
		}
		/* anonymous: per address; \1 never starts a consumer name */
		key[0] = '\1';
		return 1 + addr_key((const struct sockaddr *)&v->client,
				    v6_prefix, key + 1);
	case RL_KEY_IP:
		return addr_key((const struct sockaddr *)&v->client, v6_prefix,
				key);
	case RL_KEY_ROUTE: {
		size_t n = strlen(rt->name);

		memcpy(key, rt->name, n);
		return n;
	}
	default:
		return 0;
	}
}

/* Take from each limit; the first refusal decides. Tracks the tightest. */
static bool take_limits(struct config_limit *ls, size_t n,
			const struct config_route *rt, unsigned int v6_prefix,
			uint64_t mono_ns, uint64_t *wall_ns,
			struct gate_verdict *v)
{
	for (size_t i = 0; i < n; i++) {
		char key[RL_MAX_KEY + 1];
		struct rl_result r;
		size_t klen;

		if (ls[i].ctable) {
			/* scope: cluster: windows on the wall clock, which
			 * all hosts share (read only when such a limit is) */
			struct timespec ts;

			if (!*wall_ns) {
				clock_gettime(CLOCK_REALTIME, &ts);
				*wall_ns = (uint64_t)ts.tv_sec * 1000000000ull +
					   (uint64_t)ts.tv_nsec;
			}
			klen = limit_key(&ls[i], rt, v, v6_prefix, key);
			if (crl_take(ls[i].ctable, key, klen, *wall_ns, &r))
				continue;
		} else if (!ls[i].table) {
			continue;
		} else {
			klen = limit_key(&ls[i], rt, v, v6_prefix, key);
			if (rl_take(ls[i].table, key, klen, mono_ns, &r))
				continue;
		}
		if (!r.allowed) {
			v->rl = r;
			v->have_rl = true;
			return false;
		}
		if (!v->have_rl || r.remaining < v->rl.remaining) {
			v->rl = r;
			v->have_rl = true;
		}
	}
	return true;
}

int gate_check(const struct config *cfg, int route,
	       const struct http_request *r, const struct sockaddr *client,
	       int64_t wall_s, uint64_t mono_ns, struct gate_verdict *v)
{
	return gate_check_ex(cfg, route, r, client, wall_s, mono_ns, NULL, 0,
			     v);
}

int gate_check_ex(const struct config *cfg, int route,
		  const struct http_request *r, const struct sockaddr *client,
		  int64_t wall_s, uint64_t mono_ns,
		  const char *const *cert_ids, size_t n_cert_ids,
		  struct gate_verdict *v)
{
	const struct config_route *rt = &cfg->routes[route];
	unsigned int v6p = cfg->xdp.rate_v6_prefix;
	struct auth_request ar;
	uint64_t wall_ns = 0;
	char key[17];

	/* auth_evaluate() sets v->auth: the rest by hand (no memset of the
	 * whole verdict per request) */
	v->status = 0;
	v->code = NULL;
	v->message = NULL;
	v->have_rl = false;
	v->ban_left_s = 0;
	memset(&v->rl, 0, sizeof(v->rl));
	if (realip_normalise(client, &v->client))
		v->client.ss_family = AF_UNSPEC;
	/* an L7 ban (escalation behind a proxy) refuses before anything */
	if (v->client.ss_family != AF_UNSPEC) {
		size_t klen = addr_key((const struct sockaddr *)&v->client, v6p,
				       key);

		v->ban_left_s = l7ban_left_s(key, klen, mono_ns);
		if (v->ban_left_s) {
			v->auth.verdict = AUTH_DENY_403;
			v->auth.authenticated = false;
			v->auth.consumer[0] = '\0';
			v->auth.n_roles = 0;
			v->auth.strip_headers = 0;
			v->auth.strip_query_len = 0;
			v->status = 403;
			v->code = "banned";
			v->message =
				"client is banned after repeated rejections";
			atomic_fetch_add(&n_banned, 1);
			return v->status;
		}
	}
	ar.headers = r->headers;
	ar.n_headers = r->num_headers;
	ar.target = r->target;
	ar.target_len = r->target_len;
	ar.client = (const struct sockaddr *)&v->client;
	ar.cert_ids = cert_ids;
	ar.n_cert_ids = n_cert_ids;
	switch (auth_evaluate(cfg->auth, &rt->auth, &ar, wall_s, &v->auth)) {
	case AUTH_ALLOW:
		break;
	case AUTH_DENY_401:
		v->status = 401;
		v->code = "unauthorized";
		v->message = v->auth.message;
		return v->status;
	case AUTH_DENY_403:
		v->status = 403;
		v->code = "forbidden";
		v->message = v->auth.message;
		return v->status;
	}
	if (!take_limits(cfg->limits, cfg->n_limits, rt, v6p, mono_ns,
			 &wall_ns, v) ||
	    !take_limits(rt->limits, rt->n_limits, rt, v6p, mono_ns, &wall_ns,
			 v)) {
		v->status = 429;
		v->code = "rate_limited";
		v->message = "rate limit exceeded";
	}
	return v->status;
}

static void json_str(char **p, char *end, const char *s)
{
	for (; *s && *p < end - 7; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*(*p)++ = '\\';
			*(*p)++ = (char)c;
		} else if (c < 0x20) {
			*p += snprintf(*p, (size_t)(end - *p), "\\u%04x", c);
		} else {
			*(*p)++ = (char)c;
		}
	}
}

long gate_error_response(const struct config *cfg, int route,
			 const struct gate_verdict *v, bool head_method,
			 const char *request_id, char *dst, size_t cap)
{
	char body[512], extra[768] = "";
	char *bp = body, *be = body + sizeof(body);
	size_t xo = 0;
	int n;

	bp += snprintf(bp, (size_t)(be - bp), "{\"error\":\"%s\",\"status\":%d,\"message\":\"",
		       v->code, v->status);
	json_str(&bp, be, v->message ? v->message : "");
	if (be - bp < 3)
		return -ENOSPC;
	*bp++ = '"';
	*bp++ = '}';
	*bp = '\0';

	if (v->status == 401) {
		char www[512];

		auth_www_authenticate(cfg->auth, &cfg->routes[route].auth,
				      &v->auth, www, sizeof(www));
		xo += (size_t)snprintf(extra + xo, sizeof(extra) - xo,
				       "WWW-Authenticate: %s\r\n", www);
	} else if (v->status == 403 && v->ban_left_s) {
		xo += (size_t)snprintf(extra + xo, sizeof(extra) - xo,
				       "Retry-After: %llu\r\n",
				       (unsigned long long)v->ban_left_s);
	} else if (v->status == 429 && v->have_rl) {
		xo += (size_t)snprintf(extra + xo, sizeof(extra) - xo,
				       "Retry-After: %llu\r\n"
				       "RateLimit-Limit: %llu\r\n"
				       "RateLimit-Remaining: 0\r\n"
				       "RateLimit-Reset: %llu\r\n",
				       (unsigned long long)v->rl.retry_after_s,
				       (unsigned long long)v->rl.limit,
				       (unsigned long long)v->rl.retry_after_s);
		if (v->rl.policy && xo < sizeof(extra)) {
			char pol[256];

			rl_policy_header(v->rl.policy, pol, sizeof(pol));
			xo += (size_t)snprintf(extra + xo, sizeof(extra) - xo,
					       "RateLimit-Policy: %s\r\n", pol);
		}
	}
	if (request_id && request_id[0] && xo < sizeof(extra))
		xo += (size_t)snprintf(extra + xo, sizeof(extra) - xo,
				       "X-Request-Id: %s\r\n", request_id);
	if (xo >= sizeof(extra))
		return -ENOSPC;
	n = snprintf(dst, cap,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: application/json\r\n"
		     "%s"
		     "Content-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s",
		     v->status, http_reason(v->status), extra,
		     (size_t)(bp - body), head_method ? "" : body);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

/* Any X-Consumer-* field, in any spelling a CGI-style backend would read
 * as one (X_Consumer_Name, x-consumer_roles): only the gate sets them. */
static bool is_consumer_header(const struct http_header *h)
{
	return rewrite_name_like(h->name, h->name_len, "x-consumer-", true);
}

int gate_upstream_request(struct http_request *r, const struct gate_verdict *v,
			  char *scratch, size_t cap)
{
	size_t o = 0, j = 0;

	/* drop stripped credentials and spoofed identity headers */
	for (size_t i = 0; i < r->num_headers; i++) {
		if ((i < 64 && (v->auth.strip_headers & (1ull << i))) ||
		    is_consumer_header(&r->headers[i]))
			continue;
		r->headers[j++] = r->headers[i];
	}
	r->num_headers = j;

	if (v->auth.strip_query_len &&
	    v->auth.strip_query_off + v->auth.strip_query_len <= r->target_len) {
		size_t off = v->auth.strip_query_off, len = v->auth.strip_query_len;
		size_t rest = r->target_len - off - len;

		if (r->target_len - len + 1 > cap)
			return -ENOSPC;
		memcpy(scratch, r->target, off);
		memcpy(scratch + off, r->target + off + len, rest);
		o = r->target_len - len;
		/* "/p?" alone: drop the '?' too */
		if (o && scratch[o - 1] == '?')
			o--;
		r->target = scratch;
		r->target_len = o;
		scratch[o++] = '\0';
	}

	if (v->auth.authenticated) {
		size_t nl = strlen(v->auth.consumer), rl;

		if (r->num_headers + 2 > HTTP_MAX_HEADERS || o + nl + 1 > cap)
			return -ENOSPC;
		memcpy(scratch + o, v->auth.consumer, nl + 1);
		r->headers[r->num_headers++] = (struct http_header){
			"X-Consumer-Name", 15, scratch + o, nl };
		o += nl + 1;
		rl = auth_roles_header(&v->auth, scratch + o, cap - o);
		if (o + rl + 1 > cap)
			return -ENOSPC;
		if (rl)
			r->headers[r->num_headers++] = (struct http_header){
				"X-Consumer-Roles", 16, scratch + o, rl };
		o += rl + 1;
	}
	return 0;
}

int gate_add_ratelimit_headers(struct http_response *resp,
			       const struct rl_result *rl, char *scratch,
			       size_t cap)
{
	static const char *const names[] = { "RateLimit-Limit",
					     "RateLimit-Remaining",
					     "RateLimit-Reset" };
	unsigned long long vals[3] = { rl->limit, rl->remaining, rl->reset_s };
	size_t o = 0;

	if (resp->num_headers + 3 + (rl->policy != NULL) > HTTP_MAX_HEADERS)
		return -ENOSPC;
	for (int i = 0; i < 3; i++) {
		int n = snprintf(scratch + o, cap - o, "%llu", vals[i]);

		if (n < 0 || o + (size_t)n + 1 > cap)
			return -ENOSPC;
		resp->headers[resp->num_headers++] = (struct http_header){
			names[i], strlen(names[i]), scratch + o, (size_t)n };
		o += (size_t)n + 1;
	}
	if (rl->policy) {
		size_t n;

		if (o >= cap)
			return -ENOSPC;
		n = rl_policy_header(rl->policy, scratch + o, cap - o);
		if (!n || o + n + 1 >= cap)
			return -ENOSPC;	/* empty or (maybe) truncated */
		resp->headers[resp->num_headers++] = (struct http_header){
			"RateLimit-Policy", 16, scratch + o, n };
	}
	return 0;
}

bool gate_strike(const struct config *cfg, const struct sockaddr *client,
		 bool via_proxy, int status, uint64_t mono_ns)
{
	const struct config_escalation *e = &cfg->escalation;
	unsigned int v6p = cfg->xdp.rate_v6_prefix, plen;
	char key[RL_MAX_KEY], ip[INET6_ADDRSTRLEN] = "?";
	struct sockaddr_storage ss;
	struct rl_result r;
	gate_ban_fn fn;
	size_t klen;
	int err = 0;

	if (!e->enabled || !e->strikes)
		return false;
	if (!((status == 429 && e->count_rate_limited) ||
	      (status == 401 && e->count_auth_failures)))
		return false;
	if (client->sa_family != AF_INET && client->sa_family != AF_INET6)
		return false;
	if (auth_cidr_match(&cfg->trusted_proxies, client))
		return false;	/* never ban our own proxies */
	klen = addr_key(client, v6p, key);
	if (rl_take(e->strikes, key, klen, mono_ns, &r) || r.allowed)
		return false;
	/* threshold crossed: the client's address, or its IPv6 prefix */
	memset(&ss, 0, sizeof(ss));
	if (key[0] == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, key + 1, 4);
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		plen = 32;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, key + 1, 16);
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		plen = v6p && v6p <= 128 ? v6p : 128;
	}
	/* XDP sees the TCP peer only: a client that came through a PROXY
	 * header or a trusted X-Forwarded-For is banned here, in L7 (banning
	 * the proxy in XDP would ban everyone behind it) */
	if (!via_proxy) {
		fn = atomic_load(&ban_fn);
		err = fn ? fn(atomic_load(&ban_ctx), (struct sockaddr *)&ss,
			      plen, e->ban_s) :
			   -EOPNOTSUPP;
		if (!err) {
			atomic_fetch_add(&n_bans, 1);
			pr_warn("escalation: banned %s/%u for %u s in XDP after more than %u rejections within %u s",
				ip, plen, e->ban_s, e->threshold, e->window_s);
			return true;
		}
		{
			static atomic_uint_fast64_t last_warn_s;
			uint64_t now_s = mono_ns / 1000000000ull;

			if (atomic_exchange(&last_warn_s, now_s) != now_s)
				pr_warn("escalation: cannot ban %s in XDP: %s; banning it in L7",
					ip,
					err == -EOPNOTSUPP ? "XDP bans are not available" :
							     strerror(-err));
		}
	}
	l7ban_set(key, klen, mono_ns,
		  mono_ns + (uint64_t)e->ban_s * 1000000000ull);
	atomic_fetch_add(&n_bans_l7, 1);
	pr_warn("escalation: banned %s/%u for %u s in L7 (%s) after more than %u rejections within %u s",
		ip, plen, e->ban_s,
		via_proxy ? "client behind a proxy" : "XDP unavailable",
		e->threshold, e->window_s);
	return true;
}
