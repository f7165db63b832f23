// SPDX-License-Identifier: MIT
/* The request gate: auth, RBAC, L7 CIDR, rate limits, escalation. See gate.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "gate.h"
#include "log.h"
#include "rewrite.h"

static _Atomic(gate_ban_fn) ban_fn;
static _Atomic(void *) ban_ctx;
static atomic_uint_fast64_t n_401, n_403, n_429, n_bans, n_ban_fail;

void gate_set_ban_sink(gate_ban_fn fn, void *ctx)
{
	atomic_store(&ban_ctx, ctx);
	atomic_store(&ban_fn, fn);
}

void gate_get_stats(struct gate_stats *out)
{
	out->unauthorized = atomic_load(&n_401);
	out->forbidden = atomic_load(&n_403);
	out->rate_limited = atomic_load(&n_429);
	out->bans = atomic_load(&n_bans);
	out->ban_failures = atomic_load(&n_ban_fail);
}

/* Key bytes of an address: family byte + address (IPv4-mapped as IPv4). */
static size_t addr_key(const struct sockaddr *sa, char *out)
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
		memcpy(out + 1, a->s6_addr, 16);
		return 17;
	}
	out[0] = 4;
	memcpy(out + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	return 5;
}

/* The key of limit l for this request; returns its length. */
static size_t limit_key(const struct config_limit *l, const struct config_route *rt,
			const struct gate_verdict *v, char *key)
{
	switch (l->key) {
	case RL_KEY_CONSUMER:
		if (v->auth.authenticated) {
			size_t n = strlen(v->auth.consumer);

			memcpy(key, v->auth.consumer, n);
			return n;
		}
		/* anonymous: per address; \1 never starts a consumer name */
		key[0] = '\1';
		return 1 + addr_key((const struct sockaddr *)&v->client, key + 1);
	case RL_KEY_IP:
		return addr_key((const struct sockaddr *)&v->client, key);
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
			const struct config_route *rt, uint64_t mono_ns,
			struct gate_verdict *v)
{
	for (size_t i = 0; i < n; i++) {
		char key[RL_MAX_KEY + 1];
		struct rl_result r;
		size_t klen;

		if (!ls[i].table)
			continue;
		klen = limit_key(&ls[i], rt, v, key);
		if (rl_take(ls[i].table, key, klen, mono_ns, &r))
			continue;
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
	       const struct http_request *r, const struct sockaddr *peer,
	       int64_t wall_s, uint64_t mono_ns, struct gate_verdict *v)
{
	const struct config_route *rt = &cfg->routes[route];
	struct auth_request ar;

	/* auth_evaluate() sets v->auth, auth_client_addr() v->client: the
	 * rest by hand (no memset of the whole verdict per request) */
	v->status = 0;
	v->code = NULL;
	v->message = NULL;
	v->have_rl = false;
	memset(&v->rl, 0, sizeof(v->rl));
	auth_client_addr(&cfg->auth.trusted_proxies, peer, r->headers,
			 r->num_headers, &v->client);
	ar.headers = r->headers;
	ar.n_headers = r->num_headers;
	ar.target = r->target;
	ar.target_len = r->target_len;
	ar.client = (const struct sockaddr *)&v->client;
	switch (auth_evaluate(&cfg->auth, &rt->auth, &ar, wall_s, &v->auth)) {
	case AUTH_ALLOW:
		break;
	case AUTH_DENY_401:
		v->status = 401;
		v->code = "unauthorized";
		v->message = v->auth.message;
		atomic_fetch_add(&n_401, 1);
		return v->status;
	case AUTH_DENY_403:
		v->status = 403;
		v->code = "forbidden";
		v->message = v->auth.message;
		atomic_fetch_add(&n_403, 1);
		return v->status;
	}
	if (!take_limits(cfg->limits, cfg->n_limits, rt, mono_ns, v) ||
	    !take_limits(rt->limits, rt->n_limits, rt, mono_ns, v)) {
		v->status = 429;
		v->code = "rate_limited";
		v->message = "rate limit exceeded";
		atomic_fetch_add(&n_429, 1);
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

		auth_www_authenticate(&cfg->auth, &cfg->routes[route].auth,
				      &v->auth, www, sizeof(www));
		xo += (size_t)snprintf(extra + xo, sizeof(extra) - xo,
				       "WWW-Authenticate: %s\r\n", www);
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

bool gate_strike(const struct config *cfg, const struct sockaddr *peer,
		 int status, uint64_t mono_ns)
{
	const struct config_escalation *e = &cfg->escalation;
	char key[RL_MAX_KEY], ip[INET6_ADDRSTRLEN] = "?";
	struct sockaddr_storage ss;
	struct rl_result r;
	gate_ban_fn fn;
	size_t klen;
	int err;

	if (!e->enabled || !e->strikes)
		return false;
	if (!((status == 429 && e->count_rate_limited) ||
	      (status == 401 && e->count_auth_failures)))
		return false;
	if (auth_cidr_match(&cfg->auth.trusted_proxies, peer))
		return false;	/* never ban our own proxies */
	klen = addr_key(peer, key);
	if (rl_take(e->strikes, key, klen, mono_ns, &r) || r.allowed)
		return false;
	/* threshold crossed: ban the TCP source (what XDP sees) */
	memset(&ss, 0, sizeof(ss));
	if (key[0] == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, key + 1, 4);
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, key + 1, 16);
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
	}
	fn = atomic_load(&ban_fn);
	err = fn ? fn(atomic_load(&ban_ctx), (struct sockaddr *)&ss, e->ban_s) :
		   -EOPNOTSUPP;
	if (err) {
		static atomic_uint_fast64_t last_warn_s;
		uint64_t now_s = mono_ns / 1000000000ull;

		atomic_fetch_add(&n_ban_fail, 1);
		if (atomic_exchange(&last_warn_s, now_s) != now_s)
			pr_warn("escalation: cannot ban %s: %s", ip,
				err == -EOPNOTSUPP ? "XDP bans are not available" :
						     strerror(-err));
		return false;
	}
	atomic_fetch_add(&n_bans, 1);
	pr_warn("escalation: banned %s for %u s in XDP after more than %u rejections within %u s",
		ip, e->ban_s, e->threshold, e->window_s);
	return true;
}
