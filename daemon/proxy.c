// SPDX-License-Identifier: MIT
/*
 * Request flow. See proxy.h.
 *
 * Every completion updates a connection and then calls pump() on the client
 * connection of the exchange, which makes whatever progress is possible now
 * in both directions:
 *
 *   request:  client->in --(head re-built in client->out, then body)--> upstream
 *   response: upstream->in --(head re-built in client->out, then body)--> client
 *
 * At most one receive and one send are in flight per connection. Data read
 * from one side is consumed only when the send to the other side completed,
 * and that side is not read again before: memory per exchange is bounded by
 * a few buffers whatever the body sizes. Content-Length bodies are sent
 * straight from the input buffer; chunked request bodies are re-framed (data
 * only: chunk extensions and trailers are dropped) through one more buffer;
 * chunked responses are validated and relayed, or de-chunked for HTTP/1.0
 * clients.
 *
 * After a backend's 101 to a websocket handshake the exchange becomes a
 * tunnel (CS_TUNNEL): bytes flow both ways unchanged, half-closes are passed
 * on, and the tunnel ends when both sides are done or it is idle too long.
 *
 * Buffer ownership: a send in flight reads a peer's buffer. When a
 * connection is torn down while its peer's send (or its own) still reads a
 * buffer, the buffer moves to the sending connection's hold[] and is given
 * back when that connection is freed.
 */
#include "proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gate.h"
#include "log.h"
#include "proxyproto.h"
#include "realip.h"
#include "obs.h"
#include "rewrite.h"
#include "router.h"
#include "util/clock.h"

enum client_state {
	CS_HEAD = 1,		/* reading a request head */
	CS_EXCHANGE,		/* proxying a request and its response */
	CS_ERROR,		/* sending a gateway error, then linger */
	CS_LINGER,		/* write side shut; discard input until EOF */
	CS_PROXY,		/* reading a PROXY protocol header */
	CS_TUNNEL,		/* upgraded: two-way byte tunnel */
};

enum upstream_state {
	US_CONNECTING = 1,
	US_ACTIVE,
	US_IDLE,		/* in the pool */
};

/* Room kept in the re-framing buffer for one chunk header and CRLF. */
#define FRAME_OVERHEAD 32

static void pump(struct proxy *p, struct conn *c);

/* Operational warnings at most once a second per worker. */
static bool warn_ok(struct proxy *p)
{
	if (p->last_warn_ms && p->now_ms - p->last_warn_ms < 1000)
		return false;
	p->last_warn_ms = p->now_ms ? p->now_ms : 1;
	return true;
}

static const struct config_http *http_cfg(const struct proxy *p,
					  const struct conn *c)
{
	return c->x && c->x->cfg ? &c->x->cfg->http : &p->cfg->http;
}

/* ---- config snapshots, counted per worker ----------------------------- */

static struct config *cfg_hold(struct proxy *p)
{
	struct proxy_cfgref *r;

	for (size_t i = 0; i < p->n_refs; i++) {
		if (p->refs[i].cfg == p->cfg) {
			p->refs[i].refs++;
			return p->cfg;
		}
	}
	if (p->n_refs == p->cap_refs) {
		size_t cap = p->cap_refs ? p->cap_refs * 2 : 4;

		r = realloc(p->refs, cap * sizeof(*r));
		if (!r)
			return config_get(p->cfg);	/* shared count, rare */
		p->refs = r;
		p->cap_refs = cap;
	}
	r = &p->refs[p->n_refs++];
	r->cfg = config_get(p->cfg);
	r->refs = 1;
	return p->cfg;
}

static void cfg_release(struct proxy *p, struct config *cfg)
{
	for (size_t i = 0; i < p->n_refs; i++) {
		struct proxy_cfgref *r = &p->refs[i];

		if (r->cfg != cfg)
			continue;
		if (--r->refs == 0) {
			config_put(r->cfg);
			*r = p->refs[--p->n_refs];
		}
		return;
	}
	config_put(cfg);	/* taken with config_get() */
}

/* ---- buffers held across teardown ----------------------------------- */

static void hold_buf(struct proxy *p, struct conn *c, struct buf *b)
{
	if (!b)
		return;
	if (!c->hold[0])
		c->hold[0] = b;
	else if (!c->hold[1])
		c->hold[1] = b;
	else
		buf_put(&p->bufs, b);	/* cannot happen: two buffers at most */
}

static bool buf_has(const struct buf *b, const char *ptr)
{
	return b && ptr >= b->data && ptr <= b->data + b->cap;
}

/* The gather write of a response head in flight on client s reads b. */
static bool gather_reads(const struct conn *s, const struct buf *b)
{
	return s->kind == CONN_CLIENT && s->x && s->x->head_gather &&
	       buf_has(b, s->x->head_iov[1].iov_base);
}

/* If the send in flight on s reads *bp, move the buffer to s's hold[]. */
static void hold_if_read(struct proxy *p, struct conn *s, struct buf **bp)
{
	if ((s->flags & CONN_F_SEND) &&
	    (buf_has(*bp, s->wptr) || gather_reads(s, *bp))) {
		hold_buf(p, s, *bp);
		*bp = NULL;
	}
}

/* ---- submitting ------------------------------------------------------- */

/* Nothing can have arrived yet: a keep-alive client between requests (it
 * waits for our response first), an upstream whose response head has not
 * begun (the request just went out). */
static bool recv_idle(const struct conn *c)
{
	if (c->in && buf_len(c->in))
		return false;
	if (c->kind == CONN_CLIENT)
		return c->state == CS_HEAD && c->requests;
	return c->peer && c->peer->x && !c->peer->x->resp_head_parsed;
}

static int post_recv(struct proxy *p, struct conn *c)
{
	/* an upstream's response: large receives (head and body at once) */
	size_t maxlen = c->kind == CONN_UPSTREAM ? loop_buf_size_max(p->loop)
						 : loop_buf_size(p->loop);
	bool discard = c->kind == CONN_CLIENT && c->state == CS_LINGER;
	int ret;

	if (c->flags & (CONN_F_RECV | CONN_F_CLOSING | CONN_F_EOF))
		return 0;
	/* no input buffer yet (an idle connection): none is taken until data
	 * arrives, on_recv() gets one then (a receive is at most maxlen) */
	if (!discard && c->in) {
		/* compact only if no send of the peer reads this buffer */
		if (buf_room(c->in) < maxlen &&
		    !(c->peer && (c->peer->flags & CONN_F_SEND)))
			buf_compact(c->in);
		if (buf_room(c->in) < maxlen)
			maxlen = buf_room(c->in);
		if (maxlen == 0)
			return 0;	/* backpressure: the other side drains it */
	}
	ret = transport_read_ex(&c->tr, maxlen, recv_idle(c) ?
				TRANSPORT_READ_IDLE : 0,
				conn_ud(c, CONN_OP_RECV));
	if (ret)
		return ret;
	conn_op_start(c);
	c->flags |= CONN_F_RECV;
	return 0;
}

/* flags: TRANSPORT_WRITE_LAST when the connection is closed right after */
static int post_send_ex(struct proxy *p, struct conn *c, const char *data,
			size_t len, unsigned int flags)
{
	int ret;

	(void)p;
	c->wptr = data;
	c->wlen = len;
	ret = transport_write_ex(&c->tr, data, len, flags,
				 conn_ud(c, CONN_OP_SEND));
	if (ret)
		return ret;
	conn_op_start(c);
	c->flags |= CONN_F_SEND;
	return 0;
}

static int post_send(struct proxy *p, struct conn *c, const char *data,
		     size_t len)
{
	return post_send_ex(p, c, data, len, 0);
}

/* The gather write of x->head_iov[first..1] (send_head, short writes). */
static int post_head_gather(struct conn *c, unsigned int first,
			    unsigned int flags)
{
	struct conn_exchange *x = c->x;
	int ret;

	x->head_msg.msg_iov = &x->head_iov[first];
	x->head_msg.msg_iovlen = 2 - first;
	c->wptr = x->head_iov[first].iov_base;
	c->wlen = x->head_iov[1].iov_len +
		  (first == 0 ? x->head_iov[0].iov_len : 0);
	ret = transport_writev(&c->tr, &x->head_msg, flags,
			       conn_ud(c, CONN_OP_SEND));
	if (ret)
		return ret;
	x->head_gather = true;
	conn_op_start(c);
	c->flags |= CONN_F_SEND;
	return 0;
}

/* The response ends with these bytes and the client connection closes
 * after them (finish_exchange): they can leave with the FIN. */
static bool resp_ends_conn(const struct conn_exchange *x)
{
	if (x->client_keep_alive || x->interim || x->tunnel)
		return false;
	switch (x->resp_body) {
	case HTTP_BODY_NONE:
		return true;
	case HTTP_BODY_LENGTH:
		return x->resp_left == 0;
	case HTTP_BODY_CHUNKED:
		return !x->resp_dechunk && x->resp_ck_done;
	default:
		return false;
	}
}

/* ---- teardown ---------------------------------------------------------- */

/* End of an exchange's resources: re-framing buffer, config snapshot. */
static void put_cfg(struct proxy *p, struct conn *c)
{
	if (!c->x)
		return;
	if (c->x->frame) {
		buf_put(&p->bufs, c->x->frame);
		c->x->frame = NULL;
	}
	if (c->x->cfg) {
		cfg_release(p, c->x->cfg);
		c->x->cfg = NULL;
	}
}

/* Observability: report the request on c once (metrics, access log), while
 * the exchange's snapshot is still held. status 0: the response sent. */
static void report(struct proxy *p, struct conn *c, int status,
		   const char *error, uint64_t error_len)
{
	struct conn_exchange *x = c->x;
	struct obs_end e = {
		.status = status,
		.error = error,
		.extra_bytes_out = error_len,
	};

	if (!x || !x->obs.t_start_ns)
		return;
	/* the request's client (trusted XFF resolved), else the connection's */
	e.client = x->client_ip[0] ? x->client_ip : c->ip;
	e.request_id = x->request_id[0] ? x->request_id : NULL;
	if (c->addr.ss_family == AF_INET)
		e.client_port = ntohs(((struct sockaddr_in *)&c->addr)->sin_port);
	else if (c->addr.ss_family == AF_INET6)
		e.client_port = ntohs(((struct sockaddr_in6 *)&c->addr)->sin6_port);
	if (!x->obs.begun) {
		e.extra_bytes_in = c->in ? buf_len(c->in) : 0;
	} else if (x->cfg && x->route >= 0 && x->service < 0) {
		e.route = x->cfg->routes[x->route].name; /* refused by the gate */
	} else if (x->cfg && x->route >= 0) {
		const struct config_service *svc =
			&x->cfg->services[x->service];

		e.route = x->cfg->routes[x->route].name;
		e.service = svc->name;
		if (x->target < svc->n_targets)
			e.upstream = svc->targets[x->target].text;
	}
	obs_exchange_end(p->worker, &x->obs, &e);
}

/* A gateway error about to be sent: report it with the error's length. */
static void report_error(struct proxy *p, struct conn *c, int status,
			 const char *msg)
{
	char tmp[1024];
	long n = 0;

	if (!c->x || !c->x->obs.t_start_ns)
		return;
	if (!c->x->resp_started)
		n = rewrite_error_ex(tmp, sizeof(tmp), status, msg,
				     c->state == CS_EXCHANGE && c->x->head_method,
				     c->state == CS_EXCHANGE && c->x->request_id[0] ?
					     c->x->request_id : NULL);
	report(p, c, c->x->resp_started ? 0 : status,
	       c->x->resp_started ? NULL : rewrite_error_code(status),
	       n > 0 ? (uint64_t)n : 0);
}

/* Close the upstream of client c (not reusable), keeping alive what the
 * sends in flight still read. */
static void drop_upstream(struct proxy *p, struct conn *c)
{
	struct conn *u = c->peer;

	if (!u)
		return;
	/* response head/body or tunnel bytes being sent to the client */
	hold_if_read(p, c, &u->in);
	/* request head, body, re-framed body or tunnel bytes */
	hold_if_read(p, u, &c->in);
	hold_if_read(p, u, &c->out);
	hold_if_read(p, u, &c->x->frame);
	c->peer = NULL;
	u->peer = NULL;
	upstream_remove(&p->up, u);
	conn_close(&p->conns, u);
}

static void close_client(struct proxy *p, struct conn *c)
{
	report(p, c, 0, NULL, 0);
	drop_upstream(p, c);
	put_cfg(p, c);
	conn_close(&p->conns, c);
}

/* Half-close and discard input until EOF, so that the client reads our last
 * bytes instead of a reset (RFC 9112 section 9.6). */
static void linger_close(struct proxy *p, struct conn *c)
{
	drop_upstream(p, c);
	put_cfg(p, c);
	if ((c->flags & CONN_F_EOF) || transport_shutdown(&c->tr)) {
		conn_close(&p->conns, c);
		return;
	}
	c->state = CS_LINGER;
	c->deadline_ms = p->now_ms + PROXY_LINGER_MS;
	if (c->in)
		buf_consume(c->in, buf_len(c->in));
	conn_bufs_trim(&p->conns, c);
	if (post_recv(p, c))
		conn_close(&p->conns, c);
}

/* Answer the client with a gateway error and close. */
static void send_error(struct proxy *p, struct conn *c, int status,
		       const char *msg)
{
	bool in_exchange = c->state == CS_EXCHANGE;
	long n;

	if (conn_x_get(&p->conns, c)) {
		close_client(p, c);
		return;
	}
	report_error(p, c, status, msg);
	drop_upstream(p, c);
	put_cfg(p, c);
	p->rejected++;
	pr_debug("worker %u: %s: %d %s", p->worker, c->ip, status, msg);
	if (c->x->resp_started || (c->flags & CONN_F_SEND) ||
	    conn_out_get(&p->conns, c)) {
		conn_close(&p->conns, c);
		return;
	}
	n = rewrite_error_ex(c->out->data, c->out->cap, status, msg,
			     in_exchange && c->x->head_method,
			     in_exchange && c->x->request_id[0] ?
				     c->x->request_id : NULL);
	if (n < 0) {
		conn_close(&p->conns, c);
		return;
	}
	c->out->start = 0;
	c->out->end = (size_t)n;
	c->state = CS_ERROR;
	c->x->resp_started = true;
	c->x->resp_status = status;
	c->deadline_ms = p->now_ms + PROXY_ERROR_SEND_MS;
	if (post_send(p, c, c->out->data, (size_t)n))
		conn_close(&p->conns, c);
}

/* ---- the gate (issue 5): auth, RBAC, L7 CIDR, rate limits -------------- */

/* Answer a request the gate refused (401/403/429) and close. */
static void send_gate_error(struct proxy *p, struct conn *c,
			    const struct gate_verdict *v, int route)
{
	long n;

	drop_upstream(p, c);
	p->rejected++;
	pr_debug("worker %u: %s: %d %s", p->worker, c->ip, v->status,
		 v->message);
	if (c->x->resp_started || (c->flags & CONN_F_SEND) ||
	    conn_out_get(&p->conns, c)) {
		put_cfg(p, c);
		conn_close(&p->conns, c);
		return;
	}
	n = gate_error_response(c->x->cfg, route, v, c->x->head_method,
				c->x->request_id, c->out->data, c->out->cap);
	report(p, c, v->status, v->code, n > 0 ? (uint64_t)n : 0);
	put_cfg(p, c);
	if (n < 0) {
		conn_close(&p->conns, c);
		return;
	}
	c->out->start = 0;
	c->out->end = (size_t)n;
	c->state = CS_ERROR;
	c->x->resp_started = true;
	c->deadline_ms = p->now_ms + PROXY_ERROR_SEND_MS;
	if (post_send(p, c, c->out->data, (size_t)n))
		conn_close(&p->conns, c);
}

/* After the route matched: false when the request was answered here. */
static bool gate_request(struct proxy *p, struct conn *c, int route)
{
	struct conn_exchange *x = c->x;
	uint64_t mono_ns = clock_batch_ns();
	struct gate_verdict v;

	if (gate_check(x->cfg, route, &p->req, (struct sockaddr *)&c->addr,
		       clock_batch_wall_s(), mono_ns, &v)) {
		/* the request's client, not a trusted proxy in front of it */
		gate_strike(x->cfg, &x->client_addr.sa, v.status, mono_ns);
		if (v.status == 429)
			obs_ratelimit_rejected(p->worker,
					       x->cfg->routes[route].name);
		else
			obs_auth_failure(p->worker, x->cfg->routes[route].name,
					 v.code);
		send_gate_error(p, c, &v, route);
		return false;
	}
	x->rl_headers = x->cfg->routes[route].ratelimit_headers && v.have_rl;
	x->rl_limit = v.rl.limit;
	x->rl_remaining = v.rl.remaining;
	x->rl_reset = v.rl.reset_s;
	x->rl_policy = v.rl.policy;
	if (gate_upstream_request(&p->req, &v, p->gate_scratch,
				  sizeof(p->gate_scratch))) {
		send_error(p, c, 431, "request head too large");
		return false;
	}
	return true;
}

/* ---- exchange start ----------------------------------------------------- */

static bool method_is(const struct http_request *r, const char *m)
{
	size_t n = strlen(m);

	return r->method_len == n && !memcmp(r->method, m, n);
}

static bool method_idempotent(const struct http_request *r)
{
	return method_is(r, "GET") || method_is(r, "HEAD") ||
	       method_is(r, "OPTIONS") || method_is(r, "TRACE") ||
	       method_is(r, "PUT") || method_is(r, "DELETE");
}

/* Does a comma list hold the token (case-insensitive)? */
static bool list_has(const char *v, size_t n, const char *tok)
{
	const char *end = v + n;

	while (v < end) {
		const char *s, *e;

		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		s = v;
		while (v < end && *v != ',')
			v++;
		e = v;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s && http_token_eq(s, (size_t)(e - s), tok))
			return true;
	}
	return false;
}

/* Exactly one field `name` whose value lists `tok`. */
static bool field_has(const struct http_header *hs, size_t n, const char *name,
		      const char *tok)
{
	const struct http_header *found = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!http_token_eq(hs[i].name, hs[i].name_len, name))
			continue;
		if (found)
			return false;
		found = &hs[i];
	}
	return found && list_has(found->value, found->value_len, tok);
}

static uint64_t rng_next(struct proxy *p)
{
	uint64_t s1 = p->rng[0];
	const uint64_t s0 = p->rng[1];

	p->rng[0] = s0;
	s1 ^= s1 << 23;
	p->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return p->rng[1] + s0;
}

/* The client's X-Request-Id if there is exactly one and it is valid, else
 * a new random one (32 hex digits). */
static void request_id(struct proxy *p, const struct http_request *r,
		       char *out, size_t cap)
{
	const struct http_header *found = NULL;
	int n = 0;

	for (size_t i = 0; i < r->num_headers; i++) {
		if (http_token_eq(r->headers[i].name, r->headers[i].name_len,
				  "x-request-id")) {
			found = &r->headers[i];
			n++;
		}
	}
	if (n == 1 && found->value_len < cap &&
	    rewrite_request_id_valid(found->value, found->value_len)) {
		memcpy(out, found->value, found->value_len);
		out[found->value_len] = '\0';
		return;
	}
	if (cap < 33) {
		out[0] = '\0';
		return;
	}
	for (int k = 0; k < 2; k++) {
		static const char hex[] = "0123456789abcdef";
		uint64_t v = rng_next(p);

		for (int i = 15; i >= 0; i--, v >>= 4)
			out[k * 16 + i] = hex[v & 0xf];
	}
	out[32] = '\0';
}

static bool attach_upstream(struct proxy *p, struct conn *c, bool fresh);

/* Connecting to the current target failed: try the next target once (for
 * idempotent requests; nothing was sent yet) or answer 502. */
static bool connect_failed(struct proxy *p, struct conn *c, int err)
{
	struct conn_exchange *x = c->x;
	const struct config_service *svc = &x->cfg->services[x->service];

	obs_upstream_failed(p->worker, svc->name, svc->targets[x->target].text);
	if (warn_ok(p))
		pr_warn("worker %u: upstream %s (service %s): connect failed: %s",
			p->worker, svc->targets[x->target].text, svc->name,
			err == -ETIMEDOUT ? "timed out" : strerror(-err));
	if (x->idempotent && x->tries < 2 && svc->n_targets > 1) {
		x->target = (x->target + 1) % (unsigned int)svc->n_targets;
		return attach_upstream(p, c, false);
	}
	send_error(p, c, 502, err == -ETIMEDOUT ?
			      "timed out connecting to the upstream" :
			      "could not connect to the upstream");
	return false;
}

/* Link c to a pooled or new connection to its current target. */
static bool attach_upstream(struct proxy *p, struct conn *c, bool fresh)
{
	struct conn_exchange *x = c->x;
	const struct config_service *svc = &x->cfg->services[x->service];
	const struct config_addr *a = &svc->targets[x->target];
	struct conn *u = NULL;

	x->tries++;
	if (!fresh)
		u = upstream_take(&p->up, (const struct sockaddr *)&a->sa,
				  a->salen);
	if (u) {
		x->upstream_reused = true;
		u->state = US_ACTIVE;
	} else {
		x->upstream_reused = false;
		u = upstream_connect(&p->up, a, svc->connect_timeout_ms,
				     p->now_ms);
		if (!u)
			return connect_failed(p, c, -errno);
		u->state = US_CONNECTING;
	}
	u->deadline_ms = 0;
	c->peer = u;
	u->peer = c;
	return true;
}

/* Deadline of a client in an exchange: body_timeout while we wait for the
 * client's request body, response_timeout otherwise. */
static bool waiting_for_body(const struct conn *c)
{
	return c->x->req_phase == CONN_PH_BODY && (c->flags & CONN_F_RECV) &&
	       !(c->peer && (c->peer->flags & CONN_F_SEND));
}

static void arm_exchange_deadline(struct proxy *p, struct conn *c)
{
	const struct config_http *h = http_cfg(p, c);

	if (c->state == CS_TUNNEL)
		c->deadline_ms = p->now_ms + h->tunnel_timeout_ms;
	else if (c->state == CS_EXCHANGE)
		c->deadline_ms = p->now_ms + (waiting_for_body(c) ?
					      h->body_timeout_ms :
					      h->response_timeout_ms);
}

static bool start_exchange(struct proxy *p, struct conn *c, size_t head_len)
{
	const struct http_request *r = &p->req;
	struct conn_exchange *x = c->x;
	const struct config_service *svc;
	const struct config_http *h;
	const struct allowlist *tp;
	struct sockaddr_storage client;
	struct rewrite_req rw;
	bool peer_trusted;
	int route;
	long n;

	{
		struct obs_exchange o = x->obs;	/* started in read_head */

		memset(x, 0, sizeof(*x));
		x->obs = o;
		x->route = x->service = -1;
		obs_exchange_begin(p->worker, &x->obs, r, head_len);
	}
	x->cfg = cfg_hold(p);
	h = &x->cfg->http;
	x->started_ms = p->now_ms;
	x->head_method = method_is(r, "HEAD");
	x->idempotent = method_idempotent(r);
	x->client_http10 = r->minor_version == 0;
	x->client_keep_alive = r->keep_alive && !p->draining;
	x->client_close = !r->keep_alive;
	x->req_body = r->body;
	if (r->body == HTTP_BODY_LENGTH)
		x->req_left = r->content_length;
	else if (r->body == HTTP_BODY_CHUNKED)
		http_chunked_init(&x->req_ck);
	c->state = CS_EXCHANGE;
	c->deadline_ms = p->now_ms + h->response_timeout_ms;
	p->requests++;

	/* who is asking: PROXY protocol source, then trusted XFF hops */
	tp = &x->cfg->auth.trusted_proxies;
	peer_trusted = realip_trusted(tp->entries, tp->n,
				      (const struct sockaddr *)&c->addr);
	x->xff_used = realip_resolve(tp->entries, tp->n,
				     &c->addr, r, &client);
	if (x->xff_used)
		realip_format(&client, x->client_ip, sizeof(x->client_ip));
	else	/* the connection's client, formatted once at accept */
		memcpy(x->client_ip, c->ip, sizeof(x->client_ip));
	memcpy(&x->client_addr, &client, sizeof(x->client_addr));
	request_id(p, r, x->request_id, sizeof(x->request_id));

	route = router_match(x->cfg, r->host, r->host_len, r->method,
			     r->method_len, r->path, r->path_len);
	if (route < 0) {
		send_error(p, c, 404, "no route matches this request");
		return false;
	}
	x->route = route;
	if (!gate_request(p, c, route))
		return false;
	x->service = (int)x->cfg->routes[route].service;
	x->max_body = x->cfg->routes[route].max_body_bytes;
	/* ---- request admitted by routing: policy hooks go here ---- */
	svc = &x->cfg->services[x->service];
	if (svc->n_targets == 0) {
		send_error(p, c, 502, "the service has no targets");
		return false;
	}
	if (x->max_body && r->body == HTTP_BODY_LENGTH &&
	    r->content_length > x->max_body) {
		send_error(p, c, 413, "request body larger than this route allows");
		return false;
	}
	/* a websocket handshake is forwarded as one; any other Upgrade is
	 * dropped (hop-by-hop) and the request served as plain HTTP */
	x->upgrade = r->upgrade && r->body == HTTP_BODY_NONE &&
		     method_is(r, "GET") &&
		     field_has(r->headers, r->num_headers, "upgrade",
			       "websocket");
	x->target = upstream_pick(&p->up, x->cfg, (size_t)x->service);

	if (conn_out_get(&p->conns, c)) {
		send_error(p, c, 500, "out of memory");
		return false;
	}
	memset(&rw, 0, sizeof(rw));
	rw.client_ip = c->ip;
	rw.proto = "http";
	rw.default_host = svc->targets[x->target].text;
	rw.xff_replace = !peer_trusted;
	rw.request_id = x->request_id;
	rw.upgrade_websocket = x->upgrade;
	n = rewrite_request(c->out->data, c->out->cap, r, &rw);
	if (n < 0) {
		send_error(p, c, 431, "request head too large");
		return false;
	}
	c->out->start = 0;
	c->out->end = (size_t)n;
	buf_consume(c->in, head_len);
	/* a Content-Length body already here goes with the head */
	if (r->body == HTTP_BODY_LENGTH && buf_len(c->in) && buf_room(c->out)) {
		size_t b = buf_len(c->in);

		if (b > buf_room(c->out))
			b = buf_room(c->out);
		if (b > x->req_left)
			b = (size_t)x->req_left;
		buf_append(c->out, buf_head(c->in), b);
		buf_consume(c->in, b);
		x->req_left -= b;
		x->req_body_bytes += b;
		x->obs.bytes_in += b;
	}
	return attach_upstream(p, c, false);
}

/* CS_PROXY: a PROXY protocol header before the first request. */
static bool read_proxy_header(struct proxy *p, struct conn *c)
{
	struct proxyproto pp;
	size_t len = c->in ? buf_len(c->in) : 0;
	int n = len ? proxyproto_parse(buf_head(c->in), len, &pp) : -2;

	if (n == -2) {
		if (c->flags & CONN_F_EOF)
			conn_close(&p->conns, c);
		else if (post_recv(p, c))
			conn_close(&p->conns, c);
		return false;
	}
	if (n < 0) {
		if (warn_ok(p))
			pr_warn("worker %u: %s: %s", p->worker, c->ip,
				pp.error);
		send_error(p, c, 400, pp.error);
		return false;
	}
	buf_consume(c->in, (size_t)n);
	if (pp.has_addr) {
		memcpy(&c->addr, &pp.src, pp.addrlen);
		c->addrlen = pp.addrlen;
		realip_format(&c->addr, c->ip, sizeof(c->ip));
	}
	c->state = CS_HEAD;
	c->last_len = 0;
	return true;
}

/* CS_HEAD: parse what is buffered; true when an exchange started. */
static bool read_head(struct proxy *p, struct conn *c)
{
	struct http_request *r = &p->req;
	size_t len = c->in ? buf_len(c->in) : 0;
	int n;

	if (len == 0) {
		if ((c->flags & CONN_F_EOF) || (p->draining && c->requests)) {
			conn_close(&p->conns, c);
			return false;
		}
		if (post_recv(p, c))
			conn_close(&p->conns, c);
		return false;
	}
	if (conn_x_get(&p->conns, c)) {
		close_client(p, c);
		return false;
	}
	c->x->head_method = false;
	c->x->request_id[0] = '\0';
	if (!c->x->obs.t_start_ns) {
		memset(&c->x->obs, 0, sizeof(c->x->obs));
		c->x->obs.t_start_ns = obs_now_ns();
	}
	n = http_parse_request(buf_head(c->in), len, c->last_len, &p->limits,
			       r);
	if (n == -2) {
		if (c->flags & CONN_F_EOF) {
			conn_close(&p->conns, c);	/* truncated head */
			return false;
		}
		if (len >= p->limits.max_head) {
			send_error(p, c, 431, "request head too large");
			return false;
		}
		c->last_len = len;
		if (buf_room(c->in) == 0)
			buf_compact(c->in);
		if (post_recv(p, c))
			conn_close(&p->conns, c);
		return false;
	}
	if (n < 0) {
		send_error(p, c, r->status ? r->status : 400,
			   r->error ? r->error : "malformed request");
		return false;
	}
	c->last_len = 0;
	return start_exchange(p, c, (size_t)n);
}

/* ---- request direction ------------------------------------------------- */

/* Chunked request body: decode what is buffered into x->frame as fresh
 * chunks (data only) and the last chunk. false: the exchange ended. */
static bool reframe_request(struct proxy *p, struct conn *c)
{
	struct conn_exchange *x = c->x;
	struct buf *f;

	if (!x->frame && !(x->frame = buf_get(&p->bufs))) {
		send_error(p, c, 500, "out of memory");
		return false;
	}
	f = x->frame;
	while (!x->req_ck_done && c->in && buf_len(c->in) &&
	       buf_room(f) > FRAME_OVERHEAD * 2) {
		size_t lim = buf_len(c->in), doff, dlen;
		bool done = false;
		long r;

		if (lim > buf_room(f) - FRAME_OVERHEAD)
			lim = buf_room(f) - FRAME_OVERHEAD;
		r = http_chunked_decode(&x->req_ck, buf_head(c->in), lim,
					&done, &doff, &dlen);
		if (r < 0) {
			x->req_aborted = true;
			send_error(p, c, 400, "invalid chunked request body");
			return false;
		}
		if (dlen) {
			x->req_body_bytes += dlen;
			if (x->max_body && x->req_body_bytes > x->max_body) {
				x->req_aborted = true;
				send_error(p, c, 413, "request body larger than "
						      "this route allows");
				return false;
			}
			f->end += (size_t)snprintf(buf_tail(f), buf_room(f),
						   "%zx\r\n", dlen);
			buf_append(f, buf_head(c->in) + doff, dlen);
			buf_append(f, "\r\n", 2);
		}
		buf_consume(c->in, (size_t)r);
		if (done) {
			x->req_ck_done = true;
			buf_append(f, "0\r\n\r\n", 5);	/* trailers dropped */
		}
		if (r == 0)
			break;
	}
	return true;
}

static void pump_request(struct proxy *p, struct conn *c)
{
	struct conn_exchange *x = c->x;
	struct conn *u = c->peer;
	size_t avail, fwd;
	const char *from;

	if (!u || u->state != US_ACTIVE || (u->flags & CONN_F_SEND))
		return;
	if (x->req_phase == CONN_PH_IDLE) {
		x->req_phase = CONN_PH_HEAD;
		x->obs.t_up_ns = obs_now_ns();
		if (post_send(p, u, buf_head(c->out), buf_len(c->out)))
			close_client(p, c);
		return;
	}
	if (x->req_phase != CONN_PH_BODY)
		return;
	avail = c->in ? buf_len(c->in) : 0;
	if (x->req_body == HTTP_BODY_LENGTH) {
		fwd = avail < x->req_left ? avail : (size_t)x->req_left;
		from = fwd ? buf_head(c->in) : NULL;
	} else {
		if (!reframe_request(p, c))
			return;
		fwd = buf_len(x->frame);
		from = buf_head(x->frame);
		if (fwd == 0 && x->req_ck_done) {
			x->req_phase = CONN_PH_DONE;
			return;
		}
	}
	if (fwd == 0) {
		if (c->flags & CONN_F_EOF) {
			/* client went away mid-body */
			close_client(p, c);
			return;
		}
		if (avail && buf_room(c->in) == 0) {
			buf_compact(c->in);
			if (buf_room(c->in) == 0) {
				send_error(p, c, 400, "chunk header too long");
				return;
			}
		}
		if (post_recv(p, c))
			close_client(p, c);
		return;
	}
	x->req_inflight = fwd;
	if (post_send(p, u, from, fwd))
		close_client(p, c);
}

/* The request could not be (fully) written to the upstream. */
static void request_send_failed(struct proxy *p, struct conn *c, long err)
{
	struct conn_exchange *x = c->x;

	if (x->upstream_reused && !x->resp_started && !x->stale_retried &&
	    x->req_phase == CONN_PH_HEAD && x->req_body == HTTP_BODY_NONE) {
		/* a pooled connection the backend had closed: once more */
		pr_debug("worker %u: pooled upstream connection was closed, "
			 "retrying on a new one", p->worker);
		x->stale_retried = true;
		drop_upstream(p, c);
		x->req_phase = CONN_PH_IDLE;
		x->tries--;
		attach_upstream(p, c, true);
		return;
	}
	pr_debug("worker %u: upstream write failed: %s", p->worker,
		 strerror((int)-err));
	/* the backend may still have answered (an early error): read it */
	x->req_aborted = true;
	x->req_phase = CONN_PH_DONE;
	x->client_keep_alive = false;
}

static void on_upstream_sent(struct proxy *p, struct conn *u)
{
	struct conn *c = u->peer;
	struct conn_exchange *x;

	if (!c) {
		conn_close(&p->conns, u);
		return;
	}
	x = c->x;
	if (c->state == CS_TUNNEL) {
		x->obs.bytes_in += x->req_inflight;
		buf_consume(c->in, x->req_inflight);
		x->req_inflight = 0;
	} else if (x->req_phase == CONN_PH_HEAD) {
		if (x->req_body == HTTP_BODY_NONE ||
		    (x->req_body == HTTP_BODY_LENGTH && x->req_left == 0))
			x->req_phase = CONN_PH_DONE;
		else
			x->req_phase = CONN_PH_BODY;
	} else if (x->req_phase == CONN_PH_BODY) {
		x->obs.bytes_in += x->req_inflight;
		if (x->req_body == HTTP_BODY_LENGTH) {
			buf_consume(c->in, x->req_inflight);
			x->req_body_bytes += x->req_inflight;
			x->req_left -= x->req_inflight;
			if (x->req_left == 0)
				x->req_phase = CONN_PH_DONE;
		} else {
			buf_consume(x->frame, x->req_inflight);
			if (x->req_ck_done && buf_len(x->frame) == 0)
				x->req_phase = CONN_PH_DONE;
		}
		x->req_inflight = 0;
	}
	pump(p, c);
	if (!conn_closing(c))
		arm_exchange_deadline(p, c);
}

/* ---- response direction ------------------------------------------------ */

/* The upstream closed or failed before a complete response head. */
static void upstream_gone(struct proxy *p, struct conn *c)
{
	struct conn_exchange *x = c->x;

	if (x->upstream_reused && !x->resp_started && !x->stale_retried &&
	    x->req_body == HTTP_BODY_NONE && !x->req_aborted &&
	    (!c->peer->in || buf_len(c->peer->in) == 0)) {
		pr_debug("worker %u: pooled upstream connection closed "
			 "without answering, retrying on a new one", p->worker);
		x->stale_retried = true;
		drop_upstream(p, c);
		x->req_phase = CONN_PH_IDLE;
		x->tries--;
		attach_upstream(p, c, true);	/* on_connect() pumps */
		return;
	}
	send_error(p, c, 502, "the upstream closed the connection "
			      "without a complete response");
}

/* Body bytes already buffered behind a response head go out with the head
 * in one gather write (one segment, one wakeup of the client, no copy):
 * accounted as body sent here, consumed from upstream->in when the write
 * completes. Returns their count. */
static size_t merge_response_body(struct conn *c, struct conn *u)
{
	struct conn_exchange *x = c->x;
	size_t n = u->in ? buf_len(u->in) : 0;

	if (!n || x->resp_dechunk)
		return 0;
	switch (x->resp_body) {
	case HTTP_BODY_NONE:
		return 0;
	case HTTP_BODY_LENGTH:
		if (n > x->resp_left)
			n = (size_t)x->resp_left;
		x->resp_left -= n;
		break;
	case HTTP_BODY_CHUNKED: {
		bool done = false;
		long acc = http_chunked_scan(&x->resp_ck, buf_head(u->in), n,
					     &done);

		if (acc <= 0)
			return 0;	/* an error sticks: pump_response sees it */
		n = (size_t)acc;
		x->resp_ck_done = done;
		break;
	}
	default:
		break;
	}
	x->resp_body_bytes += n;
	return n;
}

static void send_head(struct proxy *p, struct conn *c, struct conn *u,
		      size_t consumed, enum rewrite_conn mode)
{
	unsigned int flags;
	size_t body = 0;
	struct rewrite_resp o = {
		.request_id = c->x->request_id,
		.via = true,
		.drop_transfer_encoding = c->x->client_http10,
	};
	long len;

	if (c->x->rl_headers && mode != REWRITE_CONN_NONE) {
		struct rl_result rl = { .limit = c->x->rl_limit,
					.remaining = c->x->rl_remaining,
					.reset_s = c->x->rl_reset,
					.policy = c->x->rl_policy };

		if (gate_add_ratelimit_headers(&p->resp, &rl, p->gate_scratch,
					       sizeof(p->gate_scratch))) {
			send_error(p, c, 502, "upstream response head too large");
			return;
		}
	}
	len = rewrite_response_ex(c->out->data, c->out->cap, &p->resp, mode,
				  &o);
	if (len < 0) {
		send_error(p, c, 502, "upstream response head too large");
		return;
	}
	buf_consume(u->in, consumed);
	c->out->start = 0;
	c->out->end = (size_t)len;
	c->x->resp_phase = CONN_PH_HEAD;
	c->x->resp_started = true;
	if (mode == REWRITE_CONN_KEEP_ALIVE || mode == REWRITE_CONN_CLOSE)
		body = merge_response_body(c, u);
	flags = mode == REWRITE_CONN_CLOSE && resp_ends_conn(c->x) ?
			TRANSPORT_WRITE_LAST : 0;
	if (body && body <= PROXY_HEAD_COPY_MAX && body <= buf_room(c->out)) {
		/* a small body: copied behind the head is cheaper than a
		 * gather write */
		buf_append(c->out, buf_head(u->in), body);
		buf_consume(u->in, body);
		body = 0;
	}
	if (body) {
		struct conn_exchange *x = c->x;

		x->head_iov[0].iov_base = c->out->data;
		x->head_iov[0].iov_len = buf_len(c->out);
		x->head_iov[1].iov_base = buf_head(u->in);
		x->head_iov[1].iov_len = body;
		x->head_body = body;
		if (post_head_gather(c, 0, flags))
			close_client(p, c);
		return;
	}
	if (post_send_ex(p, c, c->out->data, buf_len(c->out), flags))
		close_client(p, c);
}

/* A kept receive buffer that is full and too small for what must be
 * held at once (a response head longer than it): move to a pool buffer. */
static int unwrap_in(struct proxy *p, struct conn *u)
{
	struct buf *b = buf_get(&p->bufs);

	if (!b)
		return -ENOMEM;
	buf_append(b, buf_head(u->in), buf_len(u->in));
	buf_put(&p->bufs, u->in);
	u->in = b;
	return 0;
}

static void parse_response(struct proxy *p, struct conn *c, struct conn *u)
{
	struct conn_exchange *x = c->x;
	struct http_response *r = &p->resp;
	size_t avail;
	int n;

	for (;;) {
		avail = u->in ? buf_len(u->in) : 0;
		if (avail == 0) {
			if (u->flags & CONN_F_EOF) {
				upstream_gone(p, c);
				return;
			}
			if (post_recv(p, u))
				send_error(p, c, 502, "upstream receive failed");
			return;
		}
		n = http_parse_response(buf_head(u->in), avail,
					x->resp_last_len, x->head_method, r);
		if (n == -2) {
			if (u->flags & CONN_F_EOF) {
				upstream_gone(p, c);
				return;
			}
			if (avail >= p->limits.max_head) {
				send_error(p, c, 502,
					   "upstream response head too large");
				return;
			}
			x->resp_last_len = avail;
			if (buf_room(u->in) == 0)
				buf_compact(u->in);
			if (buf_room(u->in) == 0 && u->in->wrapped &&
			    unwrap_in(p, u)) {
				send_error(p, c, 502, "out of memory");
				return;
			}
			if (post_recv(p, u))
				send_error(p, c, 502, "upstream receive failed");
			return;
		}
		if (n < 0) {
			if (warn_ok(p))
				pr_warn("worker %u: invalid response from upstream: %s",
					p->worker, r->error ? r->error : "?");
			send_error(p, c, 502, "invalid response from the upstream");
			return;
		}
		x->resp_last_len = 0;
		if (r->status == 101) {
			if (!x->upgrade || x->req_phase != CONN_PH_DONE ||
			    !field_has(r->headers, r->num_headers, "upgrade",
				       "websocket")) {
				send_error(p, c, 502,
					   "the upstream switched protocols");
				return;
			}
			x->tunnel = true;
			x->resp_status = 101;
			x->obs.status = 101;
			x->obs.t_resp_ns = obs_now_ns();
			x->client_keep_alive = false;
			send_head(p, c, u, (size_t)n, REWRITE_CONN_UPGRADE);
			return;
		}
		if (r->status < 200) {
			if (x->client_http10) {
				buf_consume(u->in, (size_t)n);	/* 1xx not for 1.0 */
				continue;
			}
			x->interim = true;
			send_head(p, c, u, (size_t)n, REWRITE_CONN_NONE);
			return;
		}
		break;
	}
	x->resp_head_parsed = true;
	x->resp_status = r->status;
	x->obs.status = r->status;
	x->obs.t_resp_ns = obs_now_ns();
	x->resp_body = r->body;
	x->resp_left = r->body == HTTP_BODY_LENGTH ? r->content_length : 0;
	if (r->body == HTTP_BODY_CHUNKED) {
		http_chunked_init(&x->resp_ck);
		/* HTTP/1.0 has no chunked coding: data only, then close */
		x->resp_dechunk = x->client_http10;
	}
	x->upstream_keep_alive = r->keep_alive &&
				 r->body != HTTP_BODY_UNTIL_CLOSE;
	if (r->body == HTTP_BODY_UNTIL_CLOSE || x->req_phase != CONN_PH_DONE ||
	    x->req_aborted || p->draining || x->resp_dechunk)
		x->client_keep_alive = false;
	send_head(p, c, u, (size_t)n,
		  x->client_keep_alive ? REWRITE_CONN_KEEP_ALIVE
				       : REWRITE_CONN_CLOSE);
}

/* Chunked response body for an HTTP/1.0 client: skip the framing, send
 * the data. Returns bytes to send from the head of u->in (0: none yet). */
static long dechunk_response(struct conn *c, struct conn *u)
{
	struct conn_exchange *x = c->x;

	while (u->in && buf_len(u->in) && !x->resp_ck_done) {
		size_t doff, dlen;
		bool done = false;
		long r = http_chunked_decode(&x->resp_ck, buf_head(u->in),
					     buf_len(u->in), &done, &doff,
					     &dlen);

		if (r < 0)
			return -1;
		x->resp_ck_done = done;
		if (dlen) {
			buf_consume(u->in, doff);
			return (long)dlen;
		}
		buf_consume(u->in, (size_t)r);
		if (r == 0)
			break;
	}
	return 0;
}

static void pump_response(struct proxy *p, struct conn *c)
{
	struct conn_exchange *x = c->x;
	struct conn *u = c->peer;
	size_t avail, fwd;

	if (x->resp_phase == CONN_PH_DONE || !u || u->state != US_ACTIVE)
		return;
	/* client->out carries the request head until it is sent */
	if (x->req_phase == CONN_PH_IDLE || x->req_phase == CONN_PH_HEAD)
		return;
	if (c->flags & CONN_F_SEND)
		return;
	/* a body send completing decides whether the request is done,
	 * hence whether the client connection can stay open */
	if (x->req_phase == CONN_PH_BODY && (u->flags & CONN_F_SEND))
		return;
	if (!x->resp_head_parsed) {
		if (x->resp_phase == CONN_PH_IDLE)
			parse_response(p, c, u);
		return;
	}
	if (x->resp_phase != CONN_PH_BODY)
		return;
	avail = u->in ? buf_len(u->in) : 0;
	switch (x->resp_body) {
	case HTTP_BODY_LENGTH:
		fwd = avail < x->resp_left ? avail : (size_t)x->resp_left;
		break;
	case HTTP_BODY_CHUNKED: {
		bool done = false;
		long acc = 0;

		if (x->resp_dechunk)
			acc = dechunk_response(c, u);
		else if (avail)
			acc = http_chunked_scan(&x->resp_ck, buf_head(u->in),
						avail, &done);
		if (acc < 0) {
			if (warn_ok(p))
				pr_warn("worker %u: invalid chunked body from upstream",
					p->worker);
			close_client(p, c);
			return;
		}
		fwd = (size_t)acc;
		if (!x->resp_dechunk)
			x->resp_ck_done = done;
		if (x->resp_ck_done && fwd == 0) {
			x->resp_phase = CONN_PH_DONE;
			return;
		}
		avail = u->in ? buf_len(u->in) : 0;
		break;
	}
	default:
		fwd = avail;
		break;
	}
	if (fwd == 0) {
		if (u->flags & CONN_F_EOF) {
			if (x->resp_body == HTTP_BODY_UNTIL_CLOSE)
				x->resp_phase = CONN_PH_DONE;
			else
				close_client(p, c);	/* truncated */
			return;
		}
		if (avail && buf_room(u->in) == 0) {
			buf_compact(u->in);
			if (buf_room(u->in) == 0) {
				close_client(p, c);
				return;
			}
		}
		if (post_recv(p, u))
			close_client(p, c);
		return;
	}
	x->resp_inflight = fwd;
	if (post_send_ex(p, c, buf_head(u->in), fwd,
			 !x->client_keep_alive && x->resp_body == HTTP_BODY_LENGTH &&
				 fwd == x->resp_left ? TRANSPORT_WRITE_LAST : 0))
		close_client(p, c);
}

/* ---- upgraded connections ---------------------------------------------- */

/* One direction of a tunnel: from->in is sent to `to`; EOF on `from` shuts
 * `to` for writing once everything was sent. */
static int tunnel_dir(struct proxy *p, struct conn *from, struct conn *to,
		      size_t *inflight)
{
	size_t n = from->in ? buf_len(from->in) : 0;

	if (!(to->flags & CONN_F_SEND)) {
		if (n) {
			*inflight = n;
			if (post_send(p, to, buf_head(from->in), n))
				return -EIO;
		} else if ((from->flags & CONN_F_EOF) && !to->tunnel_shut_up) {
			to->tunnel_shut_up = true;
			transport_shutdown(&to->tr);
		}
	}
	return post_recv(p, from);
}

static void pump_tunnel(struct proxy *p, struct conn *c)
{
	struct conn *u = c->peer;

	if (!u) {
		close_client(p, c);
		return;
	}
	if (tunnel_dir(p, c, u, &c->x->req_inflight) ||
	    tunnel_dir(p, u, c, &c->x->resp_inflight)) {
		close_client(p, c);
		return;
	}
	if (c->tunnel_shut_up && u->tunnel_shut_up &&
	    !((c->flags | u->flags) & CONN_F_SEND))
		close_client(p, c);	/* both directions finished */
}

static void on_client_sent(struct proxy *p, struct conn *c)
{
	struct conn_exchange *x = c->x;
	struct conn *u = c->peer;

	if (c->state == CS_ERROR) {
		linger_close(p, c);
		return;
	}
	if (c->state == CS_TUNNEL) {
		if (u)
			buf_consume(u->in, x->resp_inflight);
		x->resp_inflight = 0;
		pump(p, c);
		if (!conn_closing(c))
			arm_exchange_deadline(p, c);
		return;
	}
	if (c->state != CS_EXCHANGE)
		return;
	if (x->resp_phase == CONN_PH_HEAD) {
		if (x->head_gather) {
			/* the body bytes that left with the head */
			if (u && u->in)
				buf_consume(u->in, x->head_body);
			x->head_gather = false;
			x->head_body = 0;
		}
		if (x->tunnel) {
			x->resp_phase = CONN_PH_DONE;
			c->state = CS_TUNNEL;
			pr_debug("worker %u: %s: websocket tunnel open",
				 p->worker, c->ip);
		} else if (x->interim) {
			x->interim = false;
			x->resp_phase = CONN_PH_IDLE;
		} else if (x->resp_body == HTTP_BODY_NONE ||
			   (x->resp_body == HTTP_BODY_LENGTH &&
			    x->resp_left == 0) ||
			   (x->resp_body == HTTP_BODY_CHUNKED &&
			    !x->resp_dechunk && x->resp_ck_done)) {
			x->resp_phase = CONN_PH_DONE;
		} else {
			x->resp_phase = CONN_PH_BODY;
		}
	} else if (x->resp_phase == CONN_PH_BODY) {
		if (!u) {
			close_client(p, c);
			return;
		}
		buf_consume(u->in, x->resp_inflight);
		x->resp_body_bytes += x->resp_inflight;
		if (x->resp_body == HTTP_BODY_LENGTH) {
			x->resp_left -= x->resp_inflight;
			if (x->resp_left == 0)
				x->resp_phase = CONN_PH_DONE;
		} else if (x->resp_body == HTTP_BODY_CHUNKED &&
			   x->resp_ck_done && (!x->resp_dechunk ||
					       !buf_len(u->in))) {
			x->resp_phase = CONN_PH_DONE;
		}
		x->resp_inflight = 0;
	}
	pump(p, c);
	if (!conn_closing(c))
		arm_exchange_deadline(p, c);
}

/* ---- end of an exchange ------------------------------------------------ */

static void finish_exchange(struct proxy *p, struct conn *c)
{
	struct conn_exchange *x = c->x;
	const struct config_http *h = &x->cfg->http;
	struct conn *u = c->peer;
	bool reuse;

	report(p, c, 0, NULL, 0);
	reuse = u && x->upstream_keep_alive && !x->req_aborted &&
		x->req_phase == CONN_PH_DONE && !p->draining &&
		!(u->flags & (CONN_F_EOF | CONN_F_SEND)) &&
		(!u->in || buf_len(u->in) == 0);
	if (reuse) {
		const struct config_service *svc =
			&x->cfg->services[x->service];

		c->peer = NULL;
		u->peer = NULL;
		u->state = US_IDLE;
		if (upstream_put_ex(&p->up, u, p->now_ms, svc->max_idle,
				    svc->idle_timeout_ms))
			conn_close(&p->conns, u);
	} else {
		drop_upstream(p, c);
	}
	c->requests++;
	if (x->client_close && x->req_phase == CONN_PH_DONE &&
	    !x->req_aborted && (!c->in || buf_len(c->in) == 0)) {
		/* the client asked to close and sent nothing more: nothing
		 * unread can turn our close into a reset, no need to linger */
		put_cfg(p, c);
		conn_close(&p->conns, c);
		return;
	}
	if (!x->client_keep_alive || p->draining ||
	    (c->flags & CONN_F_EOF)) {
		linger_close(p, c);
		return;
	}
	c->state = CS_HEAD;
	c->last_len = 0;
	c->deadline_ms = p->now_ms + (c->in && buf_len(c->in) ?
				      h->header_timeout_ms :
				      h->keepalive_timeout_ms);
	put_cfg(p, c);
	if (!c->in || buf_len(c->in) == 0)
		conn_x_put(&p->conns, c);	/* idle: no exchange */
	conn_bufs_trim(&p->conns, c);
}

static void pump(struct proxy *p, struct conn *c)
{
	struct conn_exchange *x;

	for (;;) {
		if (conn_closing(c))
			return;
		x = c->x;	/* finish_exchange() may give it back */
		switch (c->state) {
		case CS_PROXY:
			if (!read_proxy_header(p, c))
				return;
			continue;
		case CS_HEAD:
			if (!read_head(p, c))
				return;
			continue;
		case CS_EXCHANGE:
			pump_request(p, c);
			if (conn_closing(c) || c->state != CS_EXCHANGE)
				return;
			pump_response(p, c);
			if (conn_closing(c) || c->state != CS_EXCHANGE)
				return;
			if (x->resp_phase != CONN_PH_DONE)
				return;
			if (x->req_phase != CONN_PH_DONE) {
				/* let a body send in flight complete first */
				if (c->peer && (c->peer->flags & CONN_F_SEND))
					return;
				x->req_aborted = true;
				x->client_keep_alive = false;
			}
			finish_exchange(p, c);
			continue;
		case CS_TUNNEL:
			pump_tunnel(p, c);
			return;
		default:
			return;
		}
	}
}

/* ---- completions ------------------------------------------------------- */

static void on_connect(struct proxy *p, struct conn *u, int res)
{
	struct conn *c = u->peer;

	u->flags &= ~CONN_F_CONNECT;
	if (!c) {
		conn_close(&p->conns, u);
		return;
	}
	if (res < 0) {
		c->peer = NULL;
		u->peer = NULL;
		conn_close(&p->conns, u);
		if (connect_failed(p, c, res == -ECANCELED ? -ETIMEDOUT : res))
			pump(p, c);
		return;
	}
	u->state = US_ACTIVE;
	pump(p, c);
}

/* A wrapped receive buffer goes back to the ring (buf_put). */
static void release_received(void *ctx, uint32_t tag)
{
	struct proxy *p = ctx;

	loop_buf_recycle(p->loop, (uint16_t)tag);
}

/*
 * An upstream's response data landing in an empty c->in: keep the provided
 * buffer it arrived in as c->in instead of copying it (a 16 KiB body is
 * then copied by nobody in user space: it goes out to the client from
 * this buffer). At most half of the large buffers are kept this way, so
 * slow clients cannot starve the ring; past that, data is copied.
 */
static bool keep_received(struct proxy *p, struct conn *c,
			  const struct loop_cqe *cqe, const char *data,
			  size_t n)
{
	uint16_t bid;
	size_t cap;
	struct buf *b;

	if (p->bufs.n_wrapped >= loop_buf_count_max(p->loop) / 2 ||
	    !transport_read_keep(&c->tr, cqe, &bid, &cap))
		return false;
	b = buf_wrap(&p->bufs, (char *)data, cap, n, bid);
	if (!b)
		return false;
	buf_put(&p->bufs, c->in);	/* empty */
	c->in = b;
	return true;
}

static void on_recv(struct proxy *p, struct conn *c, const struct loop_cqe *cqe)
{
	const char *data;
	long n = transport_read_done(&c->tr, cqe, &data);
	struct conn *peer;
	bool was_empty;

	if (n == -ENOBUFS) {
		/* provided buffers ran out for a moment: try again */
		transport_read_release(&c->tr, cqe);
		if (post_recv(p, c))
			goto fail;
		return;
	}
	if (c->kind == CONN_UPSTREAM && (c->flags & CONN_F_POOLED)) {
		transport_read_release(&c->tr, cqe);
		upstream_idle_event(&p->up, c, n);
		return;
	}
	if (c->kind == CONN_CLIENT &&
	    (c->state == CS_LINGER || c->state == CS_ERROR)) {
		transport_read_release(&c->tr, cqe);
		if (n <= 0) {
			c->flags |= CONN_F_EOF;
			if (c->state == CS_LINGER)
				conn_close(&p->conns, c);
		} else if (c->state == CS_LINGER && post_recv(p, c)) {
			conn_close(&p->conns, c);
		}
		return;
	}
	was_empty = !c->in || buf_len(c->in) == 0;
	if (n > 0 && c->kind == CONN_UPSTREAM && was_empty &&
	    keep_received(p, c, cqe, data, (size_t)n)) {
		/* the receive buffer became c->in: nothing to copy */
	} else if (n > 0) {
		if (conn_in_get(&p->conns, c) ||
		    buf_append(c->in, data, (size_t)n) != (size_t)n) {
			transport_read_release(&c->tr, cqe);
			goto fail;
		}
		transport_read_release(&c->tr, cqe);
	} else {
		c->flags |= CONN_F_EOF;
		transport_read_release(&c->tr, cqe);
	}

	if (c->kind == CONN_UPSTREAM) {
		peer = c->peer;
		if (!peer) {
			conn_close(&p->conns, c);
			return;
		}
		if (n < 0)
			pr_debug("worker %u: upstream receive: %s", p->worker,
				 strerror((int)-n));
		pump(p, peer);
		if (!conn_closing(peer))
			arm_exchange_deadline(p, peer);
		return;
	}
	if (n < 0) {
		close_client(p, c);
		return;
	}
	if (n == 0 && c->state != CS_TUNNEL && c->x)
		c->x->client_keep_alive = false;
	if ((c->state == CS_HEAD || c->state == CS_PROXY) && was_empty &&
	    n > 0 && c->requests)
		/* first byte of a new request: the head timeout starts */
		c->deadline_ms = p->now_ms + http_cfg(p, c)->header_timeout_ms;
	pump(p, c);
	if (!conn_closing(c))
		arm_exchange_deadline(p, c);
	return;
fail:
	if (c->kind == CONN_CLIENT) {
		close_client(p, c);
	} else if (c->peer) {
		close_client(p, c->peer);
	} else {
		upstream_remove(&p->up, c);
		conn_close(&p->conns, c);
	}
}

static void on_sent(struct proxy *p, struct conn *c, const struct loop_cqe *cqe)
{
	long res = transport_write_done(&c->tr, cqe);

	if (res > 0 && c->kind == CONN_CLIENT)
		c->x->obs.bytes_out += (uint64_t)res;
	if (res > 0 && (size_t)res < c->wlen && c->kind == CONN_CLIENT &&
	    c->x && c->x->head_gather) {
		/* short gather write: the rest of the head, then the body */
		struct iovec *iov = c->x->head_iov;
		unsigned int first = c->x->head_msg.msg_iov == iov ? 0 : 1;
		size_t r = (size_t)res;

		if (first == 0 && r >= iov[0].iov_len) {
			r -= iov[0].iov_len;
			first = 1;
		}
		iov[first].iov_base = (char *)iov[first].iov_base + r;
		iov[first].iov_len -= r;
		if (post_head_gather(c, first, 0))
			res = -EIO;
		else
			return;
	} else if (res > 0 && (size_t)res < c->wlen) {
		/* short write: send the rest */
		if (post_send(p, c, c->wptr + res, c->wlen - (size_t)res))
			res = -EIO;
		else
			return;
	}
	if (res <= 0) {
		if (res == 0)
			res = -EPIPE;
		c->wlen = 0;
		if (c->kind == CONN_CLIENT) {
			close_client(p, c);
		} else if (c->peer && c->peer->state == CS_TUNNEL) {
			close_client(p, c->peer);
		} else if (c->peer) {
			struct conn *cl = c->peer;

			request_send_failed(p, cl, res);
			pump(p, cl);
		} else {
			conn_close(&p->conns, c);
		}
		return;
	}
	c->wlen = 0;
	if (c->kind == CONN_UPSTREAM)
		on_upstream_sent(p, c);
	else
		on_client_sent(p, c);
}

void proxy_complete(struct proxy *p, const struct loop_cqe *cqe)
{
	struct conn *c = conn_lookup(&p->conns, cqe->ud);
	unsigned int op = loop_ud_op(cqe->ud);

	if (!c) {
		/* cannot happen: slots are freed only when nothing is pending */
		pr_err("worker %u: completion for a free connection (op %u)",
		       p->worker, op);
		if (cqe->has_buf)
			loop_buf_recycle(p->loop, cqe->bid);
		return;
	}
	if (conn_closing(c)) {
		if (op == CONN_OP_RECV)
			transport_read_release(&c->tr, cqe);
		conn_op_done(&p->conns, c);
		return;
	}
	conn_op_done(&p->conns, c);
	switch (op) {
	case CONN_OP_RECV:
		c->flags &= ~CONN_F_RECV;
		on_recv(p, c, cqe);
		break;
	case CONN_OP_SEND:
		c->flags &= ~CONN_F_SEND;
		on_sent(p, c, cqe);
		break;
	case CONN_OP_CONNECT:
		on_connect(p, c, cqe->res);
		break;
	default:
		/* CONN_OP_CONNECT_TIMEOUT, CONN_OP_CANCEL: accounting only */
		break;
	}
}

/* ---- accept, timers, drain --------------------------------------------- */

bool proxy_full(const struct proxy *p)
{
	return p->conns.n_clients >= p->max_clients;
}

void proxy_accept(struct proxy *p, int fd)
{
	proxy_accept_on(p, fd, 0);
}

void proxy_accept_on(struct proxy *p, int fd, unsigned int lflags)
{
	const struct config_http *h = &p->cfg->http;
	struct conn *c;

	if (p->draining) {
		close(fd);
		return;
	}
	c = proxy_full(p) ? NULL : conn_alloc(&p->conns, CONN_CLIENT, fd);
	if (!c) {
		if (warn_ok(p))
			pr_warn("worker %u: connection limit reached, refusing a client",
				p->worker);
		close(fd);
		return;
	}
	p->accepted++;
	obs_conn_accepted(p->worker);
	/* TCP_NODELAY is inherited from the listening socket */
	c->addrlen = sizeof(c->addr);
	if (getpeername(fd, (struct sockaddr *)&c->addr, &c->addrlen))
		memset(&c->addr, 0, sizeof(c->addr));
	realip_format(&c->addr, c->ip, sizeof(c->ip));
	c->lflags = (uint8_t)lflags;
	/* a PROXY header is read only from a trusted peer; anyone else is
	 * served as a direct client (and a PROXY line from them is a 400) */
	if ((lflags & PROXY_L_PROXY_PROTOCOL) &&
	    realip_trusted(p->cfg->auth.trusted_proxies.entries,
			   p->cfg->auth.trusted_proxies.n,
			   (const struct sockaddr *)&c->addr))
		c->state = CS_PROXY;
	else
		c->state = CS_HEAD;
	c->deadline_ms = p->now_ms + h->header_timeout_ms;
	if (post_recv(p, c))
		conn_close(&p->conns, c);
}

static void on_deadline(struct proxy *p, struct conn *c)
{
	if (c->kind == CONN_UPSTREAM) {
		c->deadline_ms = 0;
		if (c->flags & CONN_F_POOLED) {
			upstream_remove(&p->up, c);
			conn_close(&p->conns, c);
		}
		return;
	}
	switch (c->state) {
	case CS_HEAD:
	case CS_PROXY:
		if (c->in && buf_len(c->in))
			send_error(p, c, 408, "timed out reading the request head");
		else
			conn_close(&p->conns, c);
		break;
	case CS_EXCHANGE:
		if (waiting_for_body(c))
			send_error(p, c, 408, "timed out reading the request body");
		else
			send_error(p, c, 504, "the upstream did not respond in time");
		break;
	case CS_TUNNEL:
		pr_debug("worker %u: %s: tunnel idle, closing", p->worker,
			 c->ip);
		close_client(p, c);
		break;
	default:
		conn_close(&p->conns, c);
		break;
	}
}

enum snap {
	SNAP_EXPIRED,		/* deadline passed */
	SNAP_IDLE_CLIENT,	/* client waiting for a request, nothing buffered */
	SNAP_CLIENT,
	SNAP_ALL,
};

static bool snap_match(const struct proxy *p, const struct conn *c,
		       enum snap what)
{
	switch (what) {
	case SNAP_EXPIRED:
		return c->deadline_ms && c->deadline_ms <= p->now_ms;
	case SNAP_IDLE_CLIENT:
		return c->kind == CONN_CLIENT &&
		       (c->state == CS_HEAD || c->state == CS_PROXY) &&
		       (!c->in || buf_len(c->in) == 0);
	case SNAP_CLIENT:
		return c->kind == CONN_CLIENT;
	default:
		return true;
	}
}

/* Snapshot (id, gen) of live connections: handlers may free any of them,
 * so a walk of the list itself would not be safe. */
static size_t snapshot(struct proxy *p, uint64_t *ids, size_t max,
		       enum snap what)
{
	size_t n = 0;

	for (struct conn *c = p->conns.live.live_next;
	     c != &p->conns.live && n < max; c = c->live_next) {
		if (!conn_closing(c) && snap_match(p, c, what))
			ids[n++] = loop_ud(0, c->id, c->gen);
	}
	return n;
}

#define PROXY_SCAN_BATCH 512

void proxy_tick(struct proxy *p)
{
	uint64_t ids[PROXY_SCAN_BATCH];
	size_t n;

	obs_conn_active(p->worker, p->conns.n_clients);
	/* each pass handles every expired connection it found (they leave
	 * the snapshot: closed or given a new deadline) */
	do {
		n = snapshot(p, ids, PROXY_SCAN_BATCH, SNAP_EXPIRED);
		for (size_t i = 0; i < n; i++) {
			struct conn *c = conn_lookup(&p->conns, ids[i]);

			if (c && !conn_closing(c) && c->deadline_ms &&
			    c->deadline_ms <= p->now_ms)
				on_deadline(p, c);
		}
	} while (n == PROXY_SCAN_BATCH);
}

void proxy_drain(struct proxy *p)
{
	uint64_t ids[PROXY_SCAN_BATCH];
	size_t n;

	p->draining = true;
	upstream_close_idle(&p->up);
	/* each pass closes all it found: they leave the snapshot */
	while ((n = snapshot(p, ids, PROXY_SCAN_BATCH, SNAP_IDLE_CLIENT))) {
		for (size_t i = 0; i < n; i++) {
			struct conn *c = conn_lookup(&p->conns, ids[i]);

			if (c)
				conn_close(&p->conns, c);
		}
	}
}

void proxy_close_all(struct proxy *p)
{
	uint64_t ids[PROXY_SCAN_BATCH];
	size_t n;

	upstream_close_idle(&p->up);
	/* clients first: closing one also closes its upstream properly */
	while ((n = snapshot(p, ids, PROXY_SCAN_BATCH, SNAP_CLIENT))) {
		for (size_t i = 0; i < n; i++) {
			struct conn *c = conn_lookup(&p->conns, ids[i]);

			if (c)
				close_client(p, c);
		}
	}
	while ((n = snapshot(p, ids, PROXY_SCAN_BATCH, SNAP_ALL))) {
		for (size_t i = 0; i < n; i++) {
			struct conn *c = conn_lookup(&p->conns, ids[i]);

			if (c) {
				upstream_remove(&p->up, c);
				conn_close(&p->conns, c);
			}
		}
	}
}

unsigned int proxy_live(const struct proxy *p)
{
	return p->conns.n_live;
}

/* ---- setup ------------------------------------------------------------- */

static void limits_from(struct proxy *p, const struct config *cfg)
{
	size_t max_head = p->bufs.block_size ?
				  p->bufs.block_size - PROXY_HEAD_SLACK :
				  cfg->http.max_header_bytes;

	http_limits_default(&p->limits);
	p->limits.max_head = cfg->http.max_header_bytes;
	/* buffers are sized once: a reload cannot grow the head limit */
	if (p->limits.max_head > max_head)
		p->limits.max_head = max_head;
	p->limits.max_target = cfg->http.max_uri_bytes;
	if (p->limits.max_target >= p->limits.max_head)
		p->limits.max_target = p->limits.max_head - 1;
}

int proxy_init(struct proxy *p, struct loop *l, struct config *cfg,
	       unsigned int max_conns, unsigned int worker)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->loop = l;
	p->cfg = cfg;
	p->worker = worker;
	p->max_clients = cfg->http.max_connections;
	if (!max_conns) {
		/* each client may have one upstream, plus the pools */
		uint64_t n = (uint64_t)p->max_clients * 2 + 1024;

		max_conns = n > LOOP_ID_MAX ? LOOP_ID_MAX : (unsigned int)n;
	}
	if (p->max_clients > max_conns)
		p->max_clients = max_conns;
	limits_from(p, cfg);
	buf_pool_init(&p->bufs, p->limits.max_head + PROXY_HEAD_SLACK,
		      PROXY_BUF_CACHE);
	p->bufs.release = release_received;
	p->bufs.release_ctx = p;
	if (getrandom(p->rng, sizeof(p->rng), 0) != sizeof(p->rng)) {
		p->rng[0] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
		p->rng[1] = (uint64_t)(uintptr_t)p ^ ((uint64_t)worker << 32);
	}
	if (!p->rng[0] && !p->rng[1])
		p->rng[1] = 1;
	ret = conn_table_init(&p->conns, max_conns, l, &p->bufs);
	if (ret)
		return ret;
	return upstream_init(&p->up, &p->conns, UPSTREAM_MAX_IDLE);
}

void proxy_destroy(struct proxy *p)
{
	upstream_destroy(&p->up);
	for (uint32_t i = 0; i < p->conns.n_fresh; i++)
		if (p->conns.slots[i].kind == CONN_CLIENT)
			put_cfg(p, &p->conns.slots[i]);
	conn_table_destroy(&p->conns);
	buf_pool_destroy(&p->bufs);
	for (size_t i = 0; i < p->n_refs; i++)
		config_put(p->refs[i].cfg);
	free(p->refs);
	p->refs = NULL;
	p->n_refs = p->cap_refs = 0;
	if (p->cfg)
		config_put(p->cfg);
	p->cfg = NULL;
}

void proxy_set_config(struct proxy *p, struct config *cfg)
{
	struct config *old = p->cfg;

	p->cfg = cfg;
	limits_from(p, cfg);
	if (old)
		config_put(old);
}
