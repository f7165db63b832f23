// SPDX-License-Identifier: MIT
/*
 * The response direction of an exchange: the upstream's response head is
 * parsed and re-built for the client (interim 1xx heads passed on, a 101
 * opening a tunnel), then its body is relayed, Content-Length or chunked
 * (de-chunked for HTTP/1.0 clients), straight from the upstream's input
 * buffer. Driven by proxy__pump() (proxy.c). See proxy_int.h.
 */
#include "proxy/proxy.h"

#include <errno.h>

#include "config/config.h"
#include "proxy/gate.h"
#include "lib/log.h"
#include "obs/obs.h"
#include "proxy/proxy_int.h"
#include "http/rewrite.h"

/* The response ends with these bytes and the client connection closes
 * after them (finish_exchange): they can leave with the FIN. */
static bool resp_ends_conn(const struct exchange *x)
{
	if (x->client_keep_alive || x->interim || x->tunnel)
		return false;
	switch (x->res.body) {
	case HTTP_BODY_NONE:
		return true;
	case HTTP_BODY_LENGTH:
		return x->res.left == 0;
	case HTTP_BODY_CHUNKED:
		return !x->resp_dechunk && x->res.ck_done;
	default:
		return false;
	}
}

/* Body bytes already buffered behind a response head go out with the head
 * in one gather write (one segment, one wakeup of the client, no copy):
 * accounted as body sent here, consumed from upstream->in when the write
 * completes. Returns their count. */
static size_t merge_response_body(struct conn *c, struct conn *u)
{
	struct exchange *x = c->x;
	size_t n = u->in ? buf_len(u->in) : 0;

	if (!n || x->resp_dechunk)
		return 0;
	switch (x->res.body) {
	case HTTP_BODY_NONE:
		return 0;
	case HTTP_BODY_LENGTH:
		if (n > x->res.left)
			n = (size_t)x->res.left;
		x->res.left -= n;
		break;
	case HTTP_BODY_CHUNKED: {
		bool done = false;
		long acc = http_chunked_scan(&x->res.ck, buf_head(u->in), n,
					     &done);

		if (acc <= 0)
			return 0;	/* an error sticks: pump_response sees it */
		n = (size_t)acc;
		x->res.ck_done = done;
		break;
	}
	default:
		break;
	}
	x->res.body_bytes += n;
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
	const struct config *cfg = c->x->cfg;

	if ((c->lflags & PROXY_L_TLS) && cfg && c->listener < cfg->n_listeners)
		o.hsts = cfg->listeners[c->listener].tls.hsts;
	long len;

	if (c->x->rl_headers && mode != REWRITE_CONN_NONE) {
		struct rl_result rl = { .limit = c->x->rl_limit,
					.remaining = c->x->rl_remaining,
					.reset_s = c->x->rl_reset,
					.policy = c->x->rl_policy };

		if (gate_add_ratelimit_headers(&p->resp, &rl, p->gate_scratch,
					       sizeof(p->gate_scratch))) {
			proxy__send_error(p, c, 502,
					  "upstream response head too large");
			return;
		}
	}
	len = rewrite_response_ex(c->out->data, c->out->cap, &p->resp, mode,
				  &o);
	if (len < 0) {
		proxy__send_error(p, c, 502,
				  "upstream response head too large");
		return;
	}
	buf_consume(u->in, consumed);
	c->out->start = 0;
	c->out->end = (size_t)len;
	c->x->res.phase = EX_PH_HEAD;
	c->x->resp_started = true;
	u->deadline_ms = 0;	/* the per-try timeout ends with the head */
	if (mode == REWRITE_CONN_KEEP_ALIVE || mode == REWRITE_CONN_CLOSE) {
		body = merge_response_body(c, u);
		if (proxy__splice_start(p, c, u, body))
			return;
	}
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
		struct exchange *x = c->x;

		x->head_iov[0].iov_base = c->out->data;
		x->head_iov[0].iov_len = buf_len(c->out);
		x->head_iov[1].iov_base = buf_head(u->in);
		x->head_iov[1].iov_len = body;
		x->head_body = body;
		if (proxy__post_head_gather(c, 0, flags))
			proxy__close_client(p, c);
		return;
	}
	if (proxy__post_send_ex(p, c, c->out->data, buf_len(c->out), flags))
		proxy__close_client(p, c);
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
	struct exchange *x = c->x;
	struct http_response *r = &p->resp;
	size_t avail;
	int n;

	for (;;) {
		avail = u->in ? buf_len(u->in) : 0;
		if (avail == 0) {
			if (u->flags & CONN_F_EOF) {
				proxy__upstream_gone(p, c);
				return;
			}
			if (proxy__post_recv(p, u))
				proxy__send_error(p, c, 502,
						  "upstream receive failed");
			return;
		}
		n = http_parse_response(buf_head(u->in), avail,
					x->res.last_len, x->head_method, r);
		if (n == -2) {
			if (u->flags & CONN_F_EOF) {
				proxy__upstream_gone(p, c);
				return;
			}
			if (avail >= p->limits.max_head) {
				proxy__send_error(p, c, 502,
						  "upstream response head too large");
				return;
			}
			x->res.last_len = avail;
			if (buf_room(u->in) == 0)
				buf_compact(u->in);
			if (buf_room(u->in) == 0 && u->in->wrapped &&
			    unwrap_in(p, u)) {
				proxy__send_error(p, c, 502, "out of memory");
				return;
			}
			if (proxy__post_recv(p, u))
				proxy__send_error(p, c, 502,
						  "upstream receive failed");
			return;
		}
		if (n < 0) {
			if (proxy__warn_ok(p))
				pr_warn("worker %u: invalid response from upstream: %s",
					p->worker, r->error ? r->error : "?");
			proxy__send_error(p, c, 502,
					  "invalid response from the upstream");
			return;
		}
		x->res.last_len = 0;
		if (r->status == 101) {
			if (!x->upgrade || x->req.phase != EX_PH_DONE ||
			    !proxy__field_has(r->headers, r->num_headers,
					      "upgrade", "websocket")) {
				proxy__send_error(p, c, 502,
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
			/* the final response waits for a body send again: an
			 * interim one says nothing of whether the upstream
			 * reads */
			x->early_resp = false;
			send_head(p, c, u, (size_t)n, REWRITE_CONN_NONE);
			return;
		}
		break;
	}
	x->resp_head_parsed = true;
	/* the next response head on u is read alone when this body is worth
	 * splicing (proxy_splice.c) */
	if (r->body == HTTP_BODY_LENGTH && x->cfg->http.splice_min_bytes &&
	    transport_spliceable(&u->tr) &&
	    r->content_length >= x->cfg->http.splice_min_bytes)
		u->flags |= CONN_F_LARGE;
	else
		u->flags &= ~CONN_F_LARGE;
	x->resp_status = r->status;
	proxy__lb_outcome(p, x, false, r->status);
	x->obs.status = r->status;
	x->obs.t_resp_ns = obs_now_ns();
	x->res.body = r->body;
	x->res.left = r->body == HTTP_BODY_LENGTH ? r->content_length : 0;
	if (r->body == HTTP_BODY_CHUNKED) {
		http_chunked_init(&x->res.ck);
		/* HTTP/1.0 has no chunked coding: data only, then close */
		x->resp_dechunk = x->client_http10;
	}
	x->upstream_keep_alive = r->keep_alive &&
				 r->body != HTTP_BODY_UNTIL_CLOSE;
	if (r->body == HTTP_BODY_UNTIL_CLOSE || x->req.phase != EX_PH_DONE ||
	    x->req.aborted || p->draining || x->resp_dechunk)
		x->client_keep_alive = false;
	send_head(p, c, u, (size_t)n,
		  x->client_keep_alive ? REWRITE_CONN_KEEP_ALIVE
				       : REWRITE_CONN_CLOSE);
}

void proxy__early_response(struct proxy *p, struct conn *u)
{
	struct conn *c = u->peer;

	if (!c || !c->x || c->x->early_resp ||
	    c->x->req.phase != EX_PH_BODY || !(u->flags & CONN_F_SEND))
		return;		/* the send completed meanwhile, or gone */
	c->x->early_resp = true;
	proxy__pump(p, c);
}

void proxy__pump_response(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	struct conn *u = c->peer;
	size_t avail, fwd;

	if (x->res.phase == EX_PH_DONE || !u || u->state != US_ACTIVE ||
	    x->spl)
		return;
	/* client->out carries the request head until it is sent */
	if (x->req.phase == EX_PH_IDLE || x->req.phase == EX_PH_HEAD)
		return;
	if (c->flags & CONN_F_SEND)
		return;
	/* a body send completing decides whether the request is done,
	 * hence whether the client connection can stay open: a response
	 * waits for it. The send's completion comes in this turn when the
	 * upstream read the body to answer; one still in flight once the
	 * turn's completions are handled is held by an upstream that
	 * answered early without reading (proxy__early_response) */
	if (x->req.phase == EX_PH_BODY && (u->flags & CONN_F_SEND) &&
	    !x->early_resp) {
		if (u->in && buf_len(u->in) && !u->defer.queued &&
		    !loop_post(p->loop, &u->defer, conn_ud(u, CONN_OP_DEFER),
			       0))
			conn_op_start(u);
		return;
	}
	if (!x->resp_head_parsed) {
		if (x->res.phase == EX_PH_IDLE)
			parse_response(p, c, u);
		return;
	}
	if (x->res.phase != EX_PH_BODY)
		return;
	avail = u->in ? buf_len(u->in) : 0;
	switch (x->res.body) {
	case HTTP_BODY_LENGTH:
		fwd = avail < x->res.left ? avail : (size_t)x->res.left;
		break;
	case HTTP_BODY_CHUNKED: {
		bool done = false;
		long acc = 0;

		if (x->resp_dechunk)
			acc = proxy__dechunk_response(c, u);
		else if (avail)
			acc = http_chunked_scan(&x->res.ck, buf_head(u->in),
						avail, &done);
		if (acc < 0) {
			if (proxy__warn_ok(p))
				pr_warn("worker %u: invalid chunked body from upstream",
					p->worker);
			proxy__close_client(p, c);
			return;
		}
		fwd = (size_t)acc;
		if (!x->resp_dechunk)
			x->res.ck_done = done;
		if (x->res.ck_done && fwd == 0) {
			x->res.phase = EX_PH_DONE;
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
			if (x->res.body == HTTP_BODY_UNTIL_CLOSE)
				x->res.phase = EX_PH_DONE;
			else
				proxy__close_client(p, c);	/* truncated */
			return;
		}
		if (avail && buf_room(u->in) == 0) {
			buf_compact(u->in);
			if (buf_room(u->in) == 0) {
				proxy__close_client(p, c);
				return;
			}
		}
		if (proxy__post_recv(p, u))
			proxy__close_client(p, c);
		return;
	}
	x->res.inflight = fwd;
	/* the last bytes of a response that ends the connection leave with
	 * the FIN */
	if (proxy__post_send_ex(p, c, buf_head(u->in), fwd,
				!x->client_keep_alive &&
						x->res.body == HTTP_BODY_LENGTH &&
						fwd == x->res.left ?
					TRANSPORT_WRITE_LAST : 0))
		proxy__close_client(p, c);
}

void proxy__on_client_sent(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	struct conn *u = c->peer;

	if (c->state == CS_ERROR) {
		proxy__linger_close(p, c);
		return;
	}
	if (c->state == CS_TUNNEL) {
		if (u)
			buf_consume(u->in, x->res.inflight);
		x->res.inflight = 0;
		proxy__pump(p, c);
		if (!conn_closing(c))
			proxy__arm_exchange_deadline(p, c);
		return;
	}
	if (c->state != CS_EXCHANGE)
		return;
	if (x->res.phase == EX_PH_HEAD) {
		if (x->head_gather) {
			/* the body bytes that left with the head */
			if (u && u->in)
				buf_consume(u->in, x->head_body);
			x->head_gather = false;
			x->head_body = 0;
		}
		if (x->tunnel) {
			x->res.phase = EX_PH_DONE;
			c->state = CS_TUNNEL;
			pr_debug("worker %u: %s: websocket tunnel open",
				 p->worker, c->ip);
		} else if (x->interim) {
			x->interim = false;
			x->res.phase = EX_PH_IDLE;
		} else if (x->res.body == HTTP_BODY_NONE ||
			   (x->res.body == HTTP_BODY_LENGTH &&
			    x->res.left == 0) ||
			   (x->res.body == HTTP_BODY_CHUNKED &&
			    !x->resp_dechunk && x->res.ck_done)) {
			x->res.phase = EX_PH_DONE;
		} else {
			x->res.phase = EX_PH_BODY;
		}
	} else if (x->res.phase == EX_PH_BODY) {
		if (!u) {
			proxy__close_client(p, c);
			return;
		}
		buf_consume(u->in, x->res.inflight);
		x->res.body_bytes += x->res.inflight;
		if (x->res.body == HTTP_BODY_LENGTH) {
			x->res.left -= x->res.inflight;
			if (x->res.left == 0)
				x->res.phase = EX_PH_DONE;
		} else if (x->res.body == HTTP_BODY_CHUNKED &&
			   x->res.ck_done && (!x->resp_dechunk ||
					       !buf_len(u->in))) {
			x->res.phase = EX_PH_DONE;
		}
		x->res.inflight = 0;
	}
	proxy__pump(p, c);
	if (!conn_closing(c))
		proxy__arm_exchange_deadline(p, c);
}

