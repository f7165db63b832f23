// SPDX-License-Identifier: MIT
/*
 * Request flow. See proxy.h.
 *
 * Every completion updates a connection and then calls proxy__pump() on
 * the client connection of the exchange, which makes whatever progress is
 * possible now in both directions:
 *
 *   request:  client->in --(head re-built in client->out, then body)--> upstream
 *   response: upstream->in --(head re-built in client->out, then body)--> client
 *
 * At most one receive and one send are in flight per connection. Data read
 * from one side is consumed only when the send to the other side completed,
 * and a receive never brings more than the input buffer has room for:
 * memory per exchange is bounded by a few buffers whatever the body sizes.
 * Where nothing is expected yet (a keep-alive client between requests, an
 * upstream waiting for a response), the receive is an armed (multishot)
 * one that carries on over many requests, with a byte limit that keeps to
 * the same bound (post_recv_armed). Content-Length bodies are sent
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
 * back when that connection is freed (proxy_upstream.c).
 *
 * This file: submitting, the request head and the start of an exchange,
 * the request direction, the end of an exchange, completions. The response
 * direction is in proxy_response.c, the rest of the module in proxy_*.c,
 * listed in proxy_int.h (the build links with LTO, so the request path
 * still inlines across them).
 */
#include "proxy/proxy.h"

#include <errno.h>
#include <string.h>

#include "config/config.h"
#include "io/tls.h"
#include "proxy/gate.h"
#include "lib/log.h"
#include "obs/obs.h"
#include "proxy/proxy_int.h"
#include "proxy/h2.h"
#include "policy/balance.h"
#include "policy/realip.h"
#include "http/rewrite.h"
#include "policy/router.h"

static const struct config_http *http_cfg(const struct proxy *p,
					  const struct conn *c)
{
	return c->x && c->x->cfg ? &c->x->cfg->http : &p->cfg->http;
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

/* A receive was submitted (ret 0) on c: it is in flight. */
static int recv_posted(struct conn *c, int ret)
{
	if (ret)
		return ret;
	conn_op_start(c);
	c->flags |= CONN_F_RECV;
	return 0;
}

/* After a large response on upstream u, its next response head alone
 * (at most PROXY_SPLICE_HEAD_READ bytes), so that the body is still in the
 * socket to be spliced (proxy_splice.c). */
static int post_recv_head(struct conn *u, size_t maxlen)
{
	if (maxlen > PROXY_SPLICE_HEAD_READ)
		maxlen = PROXY_SPLICE_HEAD_READ;
	return recv_posted(u, transport_read_ex(&u->tr, maxlen,
						TRANSPORT_READ_IDLE,
						conn_ud(u, CONN_OP_RECV)));
}

/*
 * Where nothing is expected yet (recv_idle), the receive stays armed
 * across requests (multishot): no receive to submit and no readiness poll
 * to arm per request. It reads whatever arrives, also while the
 * connection is not ready for more (a request in flight), so it is given
 * a byte limit that c->in can always take: c->in's room only grows while
 * the receive is armed (data is appended or consumed, buffers compacted,
 * an emptied buffer trimmed and replaced by one at least as large), and
 * the receive brings at most limit + per-read - 1 bytes. When the limit
 * is reached (after many small requests, or one large one) the receive
 * ends and the next one is posted as usual, with the room there is then:
 * the same bound as a single receive of room bytes. -EOPNOTSUPP: not
 * possible here (kernel, transport, too little room).
 */
static int post_recv_armed(struct proxy *p, struct conn *c, size_t maxlen)
{
	size_t room = c->in ? buf_room(c->in) : p->bufs.block_size;
	size_t per_read, limit;

	/* an upstream's receive buffer may itself become c->in
	 * (keep_received): its size is the bound then */
	if (c->kind == CONN_UPSTREAM && room > loop_buf_size_max(p->loop))
		room = loop_buf_size_max(p->loop);
	per_read = room / 4 * 3;
	if (per_read > maxlen)
		per_read = maxlen;
	if (room < per_read + PROXY_RECV_ARMED_MIN)
		return -EOPNOTSUPP;
	limit = room - per_read + 1;
	return recv_posted(c, transport_read_multi(&c->tr, per_read, limit,
						   conn_ud(c, CONN_OP_RECV)));
}

int proxy__post_recv(struct proxy *p, struct conn *c)
{
	/* an upstream's response: large receives (head and body at once) */
	size_t maxlen = c->kind == CONN_UPSTREAM ? loop_buf_size_max(p->loop)
						 : loop_buf_size(p->loop);
	bool discard = c->kind == CONN_CLIENT && c->state == CS_LINGER;
	int ret;

	if (c->flags & (CONN_F_RECV | CONN_F_CLOSING | CONN_F_EOF))
		return 0;
	/* a spliced body is read by splice(2) alone */
	if (c->kind == CONN_UPSTREAM && c->peer && c->peer->x &&
	    c->peer->x->spl)
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
	if (!discard && recv_idle(c)) {
		if (c->flags & CONN_F_LARGE)
			return post_recv_head(c, maxlen);
		ret = post_recv_armed(p, c, maxlen);
		if (ret != -EOPNOTSUPP)
			return ret;
		return recv_posted(c, transport_read_ex(&c->tr, maxlen,
							TRANSPORT_READ_IDLE,
							conn_ud(c, CONN_OP_RECV)));
	}
	/* an HTTP/2 connection takes whatever comes whenever it comes (its
	 * frames are handed to nghttp2 as they arrive): armed as well, so
	 * that a client's next request needs no receive and no readiness
	 * poll of its own */
	if (c->kind == CONN_CLIENT && c->state == CS_H2 &&
	    !(c->in && buf_len(c->in))) {
		ret = post_recv_armed(p, c, maxlen);
		if (ret != -EOPNOTSUPP)
			return ret;
	}
	return recv_posted(c, transport_read_ex(&c->tr, maxlen, 0,
						conn_ud(c, CONN_OP_RECV)));
}

/* flags: TRANSPORT_WRITE_LAST when the connection is closed right after */
int proxy__post_send_ex(struct proxy *p, struct conn *c, const char *data,
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

int proxy__post_send(struct proxy *p, struct conn *c, const char *data,
		     size_t len)
{
	return proxy__post_send_ex(p, c, data, len, 0);
}

/* The gather write of x->head_iov[first..1] (proxy_response.c send_head,
 * short writes). */
int proxy__post_head_gather(struct conn *c, unsigned int first,
			    unsigned int flags)
{
	struct exchange *x = c->x;
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

/* Deadline of a client in an exchange: body_timeout while we wait for the
 * client's request body, response_timeout otherwise. */
void proxy__arm_exchange_deadline(struct proxy *p, struct conn *c)
{
	const struct config_http *h = http_cfg(p, c);

	if (c->state == CS_TUNNEL)
		c->deadline_ms = p->now_ms + h->tunnel_timeout_ms;
	else if (c->state == CS_EXCHANGE)
		c->deadline_ms = p->now_ms + (proxy__waiting_for_body(c) ?
					      h->body_timeout_ms :
					      h->response_timeout_ms);
}

/* The request-target in its normal form (http_request_normalize_target),
 * in place in the client's input buffer, where the parser left it. */
static bool normalize_target(struct proxy *p, struct conn *c,
			     const struct config_http *h)
{
	struct http_request *r = &p->req;
	char *head = buf_head(c->in);
	size_t off = (size_t)(r->target - head);
	unsigned int flags = 0;

	if (h->path_params == CFG_PATH_PARAMS_STRIP)
		flags |= HTTP_PATH_STRIP_PARAMS;
	if (h->escaped_slashes == CFG_ESCAPED_SLASHES_KEEP)
		flags |= HTTP_PATH_KEEP_ESCAPED_SLASH;
	return http_request_normalize_target(r, head + off,
					     buf_len(c->in) - off, flags) == 0;
}

/* Start of an exchange, step 1: a fresh exchange state for the parsed
 * request (its metrics and log capture, begun in read_head, kept) on the
 * current config snapshot. */
static void begin_exchange(struct proxy *p, struct conn *c, size_t head_len)
{
	const struct http_request *r = &p->req;
	struct exchange *x = c->x;
	struct obs_exchange o = x->obs;	/* started in read_head */

	memset(x, 0, sizeof(*x));
	x->obs = o;
	x->route = x->service = -1;
	x->grpc_status = -1;
	obs_exchange_begin(p->worker, &x->obs, r, head_len);
	if (c->lflags & PROXY_L_H2S)
		x->obs.http_minor = ACCESSLOG_HTTP2;	/* logged as such */
	x->cfg = proxy__cfg_hold(p);
	x->started_ms = p->now_ms;
	x->head_method = method_is(r, "HEAD");
	x->idempotent = method_idempotent(r);
	x->client_http10 = r->minor_version == 0;
	x->client_keep_alive = r->keep_alive && !p->draining;
	x->client_close = !r->keep_alive;
	x->req.body = r->body;
	if (r->body == HTTP_BODY_LENGTH)
		x->req.left = r->content_length;
	else if (r->body == HTTP_BODY_CHUNKED) {
		http_chunked_init(&x->req.ck);
		http_chunked_init(&x->req_seen.ck);
	}
	c->state = CS_EXCHANGE;
	c->deadline_ms = p->now_ms + x->cfg->http.response_timeout_ms;
	p->requests++;
}

/* Step 2: who is asking. The PROXY protocol source, then trusted XFF
 * hops: the one answer for the gate, limits, bans and logs; into xff
 * (REALIP_XFF_MAX bytes) the X-Forwarded-For to send on. False: the
 * request was answered. */
static bool resolve_client(struct proxy *p, struct conn *c, char *xff)
{
	const struct http_request *r = &p->req;
	struct exchange *x = c->x;
	const struct allowlist *tp = &x->cfg->trusted_proxies;
	struct realip_result rip;
	int xff_err;

	xff_err = realip_resolve(tp->entries, tp->n, &c->addr, r, &rip);
	x->xff_used = rip.from_xff;
	x->client_proxied = rip.from_xff || c->addr_proxied;
	memcpy(&x->client_addr, &rip.client, sizeof(x->client_addr));
	proxy__request_id(p, r, x->request_id, sizeof(x->request_id));
	if (xff_err) {
		proxy__send_error(p, c, 400, xff_err == -E2BIG ?
				  "X-Forwarded-For has too many trusted hops" :
				  "X-Forwarded-For from a trusted proxy has an element that is not an IP address");
		return false;
	}
	if (!rip.n_chain) {
		/* no trusted hop: the client is the connection's source, as
		 * formatted once at accept, and the whole chain sent on */
		memcpy(x->client_ip, c->ip, sizeof(x->client_ip));
		memcpy(xff, c->ip, sizeof(c->ip));
		return true;
	}
	realip_format(&rip.client, x->client_ip, sizeof(x->client_ip));
	if (realip_xff_value(&rip, &c->addr, xff, REALIP_XFF_MAX) < 0) {
		proxy__send_error(p, c, 400, "X-Forwarded-For too long");
		return false;
	}
	return true;
}

/* Step 3: route, authorise and check the request, on one spelling of the
 * path (its normal form, written over the target in the input buffer);
 * then pick its target. False: the request was answered. */
static bool admit_request(struct proxy *p, struct conn *c, size_t head_len)
{
	const struct http_request *r = &p->req;
	struct exchange *x = c->x;
	const struct config_service *svc;
	struct router_req rq;
	int route;

	if (!normalize_target(p, c, &x->cfg->http)) {
		proxy__send_error(p, c, 400, p->req.error);
		return false;
	}
	if ((c->lflags & PROXY_L_REDIRECT_HTTPS) &&
	    c->listener < x->cfg->n_listeners) {
		proxy__send_redirect(p, c,
				     x->cfg->listeners[c->listener].redirect_https);
		return false;
	}
	router_req_from_http(&rq, r);
	route = router_lookup(x->cfg, &rq);
	if (route < 0) {
		proxy__send_error(p, c, 404, "no route matches this request");
		return false;
	}
	x->route = route;
	if (!proxy__gate_request(p, c, route))
		return false;
	x->service = (int)x->cfg->routes[route].service;
	x->max_body = x->cfg->routes[route].max_body_bytes;
	/* ---- request admitted by routing: policy hooks go here ---- */
	svc = &x->cfg->services[x->service];
	if (svc->n_targets == 0) {
		proxy__send_error(p, c, 502, "the service has no targets");
		return false;
	}
	if (x->max_body && r->body == HTTP_BODY_LENGTH &&
	    r->content_length > x->max_body) {
		proxy__send_error(p, c, 413,
				  "request body larger than this route allows");
		return false;
	}
	/* the body bytes that came with the head, before any upstream */
	if (!proxy__check_received_body(p, c, head_len))
		return false;
	/* a websocket handshake is forwarded as one; any other Upgrade is
	 * dropped (hop-by-hop) and the request served as plain HTTP */
	x->upgrade = r->upgrade && r->body == HTTP_BODY_NONE &&
		     method_is(r, "GET") &&
		     proxy__field_has(r->headers, r->num_headers, "upgrade",
				      "websocket");
	return proxy__lb_first_pick(p, c);
}

/* The route's own rewriting: its path (strip_prefix, rewrite_prefix) and
 * Host (preserve_host: false sends the target's address, default_host). */
static void route_rewrite(const struct config_route *rt,
			  const struct http_request *r, struct rewrite_req *rw)
{
	size_t matched = rt->path_kind == CFG_PATH_EXACT ? r->path_len :
			 rt->path_prefix_len;

	if (rt->strip_prefix) {
		rw->path_prefix = "/";
		rw->path_prefix_len = 1;
		rw->path_strip = matched;
	} else if (rt->rewrite_prefix) {
		rw->path_prefix = rt->rewrite_prefix;
		rw->path_prefix_len = rt->rewrite_prefix_len;
		rw->path_strip = matched;
	}
	if (!rt->preserve_host)
		rw->host = rw->default_host;
}

/* Step 4: the request head for the upstream, in c->out (with the
 * Content-Length body bytes that came with it, when they fit); the
 * client's head consumed. False: the request was answered. */
static bool build_upstream_head(struct proxy *p, struct conn *c,
				const char *xff, size_t head_len)
{
	const struct http_request *r = &p->req;
	struct exchange *x = c->x;
	struct rewrite_req rw;
	long n;

	if (conn_out_get(&p->conns, c)) {
		proxy__send_error(p, c, 500, "out of memory");
		return false;
	}
	memset(&rw, 0, sizeof(rw));
	/* the believed chain, client first, then the peer: whatever the
	 * client or an untrusted hop wrote is not passed on */
	rw.client_ip = xff;
	rw.proto = (c->lflags & PROXY_L_TLS) ? "https" : "http";
	/* a Unix-domain target has no address a Host field could carry */
	rw.default_host = config_addr_is_unix(&x->st->targets[x->target]) ?
			  "localhost" : x->st->targets[x->target].text;
	rw.xff_replace = true;
	rw.request_id = x->request_id;
	rw.upgrade_websocket = x->upgrade;
	route_rewrite(&x->cfg->routes[x->route], r, &rw);
	n = rewrite_request(c->out->data, c->out->cap, r, &rw);
	if (n < 0) {
		proxy__send_error(p, c, 431, "request head too large");
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
		if (b > x->req.left)
			b = (size_t)x->req.left;
		buf_append(c->out, buf_head(c->in), b);
		buf_consume(c->in, b);
		x->req.left -= b;
		x->req.body_bytes += b;
		x->obs.bytes_in += b;
	}
	return true;
}

/* A parsed request head of head_len bytes at the front of c->in: start its
 * exchange, in steps; false when it was answered (refused) instead. */
static bool start_exchange(struct proxy *p, struct conn *c, size_t head_len)
{
	char xff[REALIP_XFF_MAX];

	begin_exchange(p, c, head_len);
	if (!resolve_client(p, c, xff) || !admit_request(p, c, head_len) ||
	    !build_upstream_head(p, c, xff, head_len))
		return false;
	return proxy__attach_upstream(p, c, false);
}

/* CS_HEAD: parse what is buffered; true when an exchange started. */
static bool read_head(struct proxy *p, struct conn *c)
{
	struct http_request *r = &p->req;
	size_t len = c->in ? buf_len(c->in) : 0;
	int n;

	/* HTTP/2: ALPN h2, or the preface on an h2c listener */
	if (len && !c->requests &&
	    (c->lflags & (PROXY_L_H2C | PROXY_L_TLS)) && h2_detect(p, c))
		return false;
	if (len == 0) {
		if (c->flags & CONN_F_EOF) {
			conn_close(&p->conns, c);
			return false;
		}
		if (proxy__post_recv(p, c))
			conn_close(&p->conns, c);
		return false;
	}
	if (exchange_attach(&p->xpool, c)) {
		proxy__close_client(p, c);
		return false;
	}
	c->x->head_method = false;
	c->x->request_id[0] = '\0';
	/* a new request: nothing of its response is out yet (a refused
	 * pipelined request gets its error, not a silent close) */
	c->x->resp_started = false;
	c->x->early_resp = false;
	if (!c->x->obs.t_start_ns) {
		memset(&c->x->obs, 0, sizeof(c->x->obs));
		c->x->obs.t_start_ns = obs_now_ns();
	}
	n = http_parse_request(buf_head(c->in), len, c->x->req.last_len,
			       &p->limits, r);
	if (n == -2) {
		if (c->flags & CONN_F_EOF) {
			conn_close(&p->conns, c);	/* truncated head */
			return false;
		}
		if (len >= p->limits.max_head) {
			proxy__send_error(p, c, 431, "request head too large");
			return false;
		}
		c->x->req.last_len = len;
		if (buf_room(c->in) == 0)
			buf_compact(c->in);
		if (proxy__post_recv(p, c))
			conn_close(&p->conns, c);
		return false;
	}
	if (n < 0) {
		proxy__send_error(p, c, r->status ? r->status : 400,
				  r->error ? r->error : "malformed request");
		return false;
	}
	c->x->req.last_len = 0;
	return start_exchange(p, c, (size_t)n);
}

/* ---- request direction ------------------------------------------------- */

static void pump_request(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	struct conn *u = c->peer;
	size_t avail, fwd;
	const char *from;

	if (!u || u->state != US_ACTIVE || (u->flags & CONN_F_SEND))
		return;
	if (x->req.phase == EX_PH_IDLE) {
		/* and those that arrived since (while connecting) */
		if (!proxy__check_received_body(p, c, 0))
			return;
		x->req.phase = EX_PH_HEAD;
		x->obs.t_up_ns = obs_now_ns();
		if (proxy__post_send(p, u, buf_head(c->out), buf_len(c->out)))
			proxy__close_client(p, c);
		return;
	}
	if (x->req.phase != EX_PH_BODY)
		return;
	avail = c->in ? buf_len(c->in) : 0;
	if (x->req.body == HTTP_BODY_LENGTH) {
		fwd = avail < x->req.left ? avail : (size_t)x->req.left;
		from = fwd ? buf_head(c->in) : NULL;
	} else {
		if (!proxy__reframe_request(p, c))
			return;
		fwd = buf_len(x->frame);
		from = buf_head(x->frame);
		if (fwd == 0 && x->req.ck_done) {
			x->req.phase = EX_PH_DONE;
			return;
		}
	}
	if (fwd == 0) {
		if (c->flags & CONN_F_EOF) {
			/* client went away mid-body */
			proxy__close_client(p, c);
			return;
		}
		if (avail && buf_room(c->in) == 0) {
			buf_compact(c->in);
			if (buf_room(c->in) == 0) {
				proxy__send_error(p, c, 400,
						  "chunk header too long");
				return;
			}
		}
		if (proxy__post_recv(p, c))
			proxy__close_client(p, c);
		return;
	}
	x->req.inflight = fwd;
	if (proxy__post_send(p, u, from, fwd))
		proxy__close_client(p, c);
}

static void on_upstream_sent(struct proxy *p, struct conn *u)
{
	struct conn *c = u->peer;
	struct exchange *x;

	if (!c) {
		conn_close(&p->conns, u);
		return;
	}
	x = c->x;
	if (c->state == CS_TUNNEL) {
		x->obs.bytes_in += x->req.inflight;
		buf_consume(c->in, x->req.inflight);
		x->req.inflight = 0;
	} else if (x->req.phase == EX_PH_HEAD) {
		if (x->req.body == HTTP_BODY_NONE ||
		    (x->req.body == HTTP_BODY_LENGTH && x->req.left == 0))
			x->req.phase = EX_PH_DONE;
		else
			x->req.phase = EX_PH_BODY;
	} else if (x->req.phase == EX_PH_BODY) {
		x->obs.bytes_in += x->req.inflight;
		if (x->req.body == HTTP_BODY_LENGTH) {
			buf_consume(c->in, x->req.inflight);
			x->req.body_bytes += x->req.inflight;
			x->req.left -= x->req.inflight;
			if (x->req.left == 0)
				x->req.phase = EX_PH_DONE;
		} else {
			buf_consume(x->frame, x->req.inflight);
			if (x->req.ck_done && buf_len(x->frame) == 0)
				x->req.phase = EX_PH_DONE;
		}
		x->req.inflight = 0;
	}
	proxy__pump(p, c);
	if (!conn_closing(c))
		proxy__arm_exchange_deadline(p, c);
}

/* ---- end of an exchange ------------------------------------------------ */

static void finish_exchange(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	const struct config_http *h = &x->cfg->http;
	struct conn *u = c->peer;
	bool reuse;

	proxy__report(p, c, 0, NULL, 0);
	reuse = u && x->upstream_keep_alive && !x->req.aborted &&
		x->req.phase == EX_PH_DONE && !p->draining &&
		!(u->flags & (CONN_F_EOF | CONN_F_SEND | CONN_F_POLL)) &&
		(!u->in || buf_len(u->in) == 0);
	if (reuse) {
		const struct config_service *svc =
			&x->cfg->services[x->service];

		c->peer = NULL;
		u->peer = NULL;
		u->state = US_IDLE;
		/* the pool's receive (a close, or the next response) as an
		 * armed one: it carries on into the next exchanges; after a
		 * large response, the next head alone (proxy_splice.c) */
		if (!(u->flags & CONN_F_RECV) && (u->flags & CONN_F_LARGE))
			(void)post_recv_head(u, PROXY_SPLICE_HEAD_READ);
		else if (!(u->flags & CONN_F_RECV))
			(void)post_recv_armed(p, u,
					      loop_buf_size_max(p->loop));
		if (upstream_put_ex(&p->up, u, p->now_ms, svc->max_idle,
				    svc->idle_timeout_ms))
			conn_close(&p->conns, u);
	} else {
		proxy__drop_upstream(p, c);
	}
	c->requests++;
	if (x->client_close && x->req.phase == EX_PH_DONE &&
	    !x->req.aborted && (!c->in || buf_len(c->in) == 0)) {
		/* the client asked to close and sent nothing more: no need
		 * to linger. The FIN goes now, with the response's last bytes
		 * (sent with TRANSPORT_WRITE_LAST, still queued): the close
		 * itself may come a turn later (a receive to cancel first),
		 * and bytes arriving meanwhile would turn it into a reset
		 * that drops what is still queued */
		proxy__put_cfg(p, c);
		transport_shutdown(&c->tr);
		conn_close(&p->conns, c);
		return;
	}
	if (!x->client_keep_alive || (c->flags & CONN_F_EOF)) {
		proxy__linger_close(p, c);
		return;
	}
	c->state = CS_HEAD;
	x->req.last_len = 0;
	c->deadline_ms = p->now_ms + (c->in && buf_len(c->in) ?
				      h->header_timeout_ms :
				      h->keepalive_timeout_ms);
	/* draining began after this response said "keep-alive": the client
	 * may send one more request (answered with "Connection: close") in
	 * PROXY_DRAIN_IDLE_MS; closing now could lose one already sent */
	if (p->draining && c->deadline_ms > p->now_ms + PROXY_DRAIN_IDLE_MS)
		c->deadline_ms = p->now_ms + PROXY_DRAIN_IDLE_MS;
	proxy__put_cfg(p, c);
	if (!c->in || buf_len(c->in) == 0)
		exchange_detach(&p->xpool, c);	/* idle: no exchange */
	conn_bufs_trim(&p->conns, c);
}

void proxy__pump(struct proxy *p, struct conn *c)
{
	struct exchange *x;

	for (;;) {
		if (conn_closing(c))
			return;
		x = c->x;	/* finish_exchange() may give it back */
		switch (c->state) {
		case CS_PROXY:
			if (!proxy__read_proxy_header(p, c))
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
			proxy__pump_response(p, c);
			if (conn_closing(c) || c->state != CS_EXCHANGE)
				return;
			if (x->res.phase != EX_PH_DONE)
				return;
			if (x->req.phase != EX_PH_DONE) {
				/* let a body send in flight complete first,
				 * unless the upstream answered without reading
				 * it: that send is dropped with the upstream */
				if (c->peer && (c->peer->flags & CONN_F_SEND) &&
				    !x->early_resp)
					return;
				x->req.aborted = true;
				x->client_keep_alive = false;
			}
			finish_exchange(p, c);
			continue;
		case CS_TUNNEL:
			proxy__pump_tunnel(p, c);
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
		if (proxy__connect_failed(p, c,
					  res == -ECANCELED ? -ETIMEDOUT : res))
			proxy__pump(p, c);
		return;
	}
	if (c->x && tls_upstream_of(c->x->cfg, c->x->service)) {
		/* the request waits for the handshake (proxy__tls_step) */
		proxy__tls_start(p, u);
		return;
	}
	if (!proxy__h2_upstream(p, u))
		return;
	u->state = US_ACTIVE;
	if (c->x)
		proxy__lb_pending(p, c->x, false);
	proxy__pump(p, c);
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

	if (c->kind == CONN_UPSTREAM && c->state == US_HANDSHAKE) {
		transport_read_release(&c->tr, cqe);
		proxy__tls_step(p, c, n == -ENOBUFS ? -EAGAIN : n);
		return;
	}

	if (n == -ENOBUFS) {
		/* provided buffers ran out for a moment (more arrivals in one
		 * turn of the loop than buffers, or than the ring held): try
		 * again */
		if (loop_bufs_exhausted(p->loop))
			obs_recv_buffers_exhausted(p->worker);
		transport_read_release(&c->tr, cqe);
		if (proxy__post_recv(p, c))
			goto fail;
		return;
	}
	if (n == -EAGAIN) {
		/* the transport needs another round trip (a TLS handshake
		 * step, a partial record): no data for us yet */
		transport_read_release(&c->tr, cqe);
		if (c->kind == CONN_CLIENT && (c->lflags & PROXY_L_TLS) &&
		    !(c->flags & CONN_F_TLS_UP) && c->state == CS_HEAD &&
		    !c->requests && transport_tls_handshake_done(&c->tr)) {
			/* the handshake's deadline ends with it: the first
			 * request has the header timeout, as on a plain
			 * listener from the accept */
			c->flags |= CONN_F_TLS_UP;
			c->deadline_ms = p->now_ms +
					 http_cfg(p, c)->header_timeout_ms;
			/* while draining, an idle client has what any has */
			if (p->draining &&
			    c->deadline_ms > p->now_ms + PROXY_DRAIN_IDLE_MS)
				c->deadline_ms = p->now_ms + PROXY_DRAIN_IDLE_MS;
		}
		if (proxy__post_recv(p, c))
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
		} else if (c->state == CS_LINGER && proxy__post_recv(p, c)) {
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
		proxy__pump(p, peer);
		if (!conn_closing(peer))
			proxy__arm_exchange_deadline(p, peer);
		return;
	}
	if (n < 0) {
		proxy__close_client(p, c);
		return;
	}
	if (n == 0 && c->state != CS_TUNNEL && c->x)
		c->x->client_keep_alive = false;
	if ((c->state == CS_HEAD || c->state == CS_PROXY) && was_empty &&
	    n > 0 && (c->requests || ((c->lflags & PROXY_L_TLS) &&
				       !(c->flags & CONN_F_TLS_UP))))
		/* first byte of a new request: the head timeout starts (the
		 * first request on a TLS connection: unless it started at
		 * the handshake's end; on a plain one it started at the
		 * accept) */
		c->deadline_ms = p->now_ms + http_cfg(p, c)->header_timeout_ms;
	proxy__pump(p, c);
	if (!conn_closing(c))
		proxy__arm_exchange_deadline(p, c);
	return;
fail:
	if (c->kind == CONN_CLIENT) {
		proxy__close_client(p, c);
	} else if (c->peer) {
		proxy__close_client(p, c->peer);
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
		if (proxy__post_head_gather(c, first, 0))
			res = -EIO;
		else
			return;
	} else if (res > 0 && (size_t)res < c->wlen) {
		/* short write: send the rest */
		if (proxy__post_send(p, c, c->wptr + res,
				     c->wlen - (size_t)res))
			res = -EIO;
		else
			return;
	}
	if (res <= 0) {
		if (res == 0)
			res = -EPIPE;
		c->wlen = 0;
		if (c->kind == CONN_CLIENT) {
			proxy__close_client(p, c);
		} else if (c->peer && c->peer->state == CS_TUNNEL) {
			proxy__close_client(p, c->peer);
		} else if (c->peer) {
			struct conn *cl = c->peer;

			proxy__request_send_failed(p, cl, res);
			proxy__pump(p, cl);
		} else {
			conn_close(&p->conns, c);
		}
		return;
	}
	c->wlen = 0;
	if (c->kind == CONN_UPSTREAM)
		on_upstream_sent(p, c);
	else
		proxy__on_client_sent(p, c);
}

void proxy_complete(struct proxy *p, const struct loop_cqe *cqe)
{
	struct conn *c = conn_lookup(&p->conns, cqe->ud);
	unsigned int op = loop_ud_op(cqe->ud);
	bool last;

	if (!c) {
		/* cannot happen: slots are freed only when nothing is pending */
		pr_err("worker %u: completion for a free connection (op %u)",
		       p->worker, op);
		if (cqe->has_buf)
			loop_buf_recycle(p->loop, cqe->bid);
		return;
	}
	/* an armed receive stays in flight until its last completion */
	last = !(op == CONN_OP_RECV && cqe->more);
	if (op == CONN_OP_XRECV || op == CONN_OP_XSEND) {
		/* the HTTP/2 upstream transport's own socket I/O (also while
		 * closing: a receive's buffer goes back) */
		h2up_complete(p, c, op, cqe);
		conn_op_done(&p->conns, c);
		return;
	}
	if (conn_closing(c)) {
		if (op == CONN_OP_RECV)
			transport_read_release(&c->tr, cqe);
		if (last)
			conn_op_done(&p->conns, c);
		return;
	}
	if (last)
		conn_op_done(&p->conns, c);
	if (c->kind == CONN_CLIENT &&
	    (c->state == CS_H2 || c->state == CS_H2B)) {
		if (op == CONN_OP_RECV && last)
			c->flags &= ~CONN_F_RECV;
		else if (op == CONN_OP_SEND)
			c->flags &= ~CONN_F_SEND;
		h2_complete(p, c, op, cqe);
		return;
	}
	switch (op) {
	case CONN_OP_RECV:
		if (last)
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
	case CONN_OP_POLL:
		proxy__on_poll(p, c);
		break;
	case CONN_OP_DEFER:
		proxy__early_response(p, c);
		break;
	default:
		/* CONN_OP_CONNECT_TIMEOUT, CONN_OP_CANCEL: accounting only */
		break;
	}
}
