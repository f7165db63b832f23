// SPDX-License-Identifier: MIT
/*
 * The upstream of an exchange: attach it (pooled or new), recover from a
 * failed connect or a stale pooled connection, and drop it while keeping
 * alive the buffers that sends in flight still read. See proxy_int.h.
 */
#include "proxy/proxy.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "io/tls.h"
#include "lib/log.h"
#include "obs/obs.h"
#include "policy/balance.h"
#include "proxy/h2.h"
#include "proxy/proxy_int.h"

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

/* ---- teardown ---------------------------------------------------------- */

/* Close the upstream of client c (not reusable), keeping alive what the
 * sends in flight still read. */
void proxy__drop_upstream(struct proxy *p, struct conn *c)
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

/* ---- attach, retry ----------------------------------------------------- */

/* Connecting to the current target failed: try another target (for
 * idempotent requests; nothing was sent yet) within the service's
 * retries, or answer: 503 naming the service when every target was out
 * (panic mode found none that answers), else 502. */
bool proxy__connect_failed(struct proxy *p, struct conn *c, int err)
{
	return proxy__connect_failed_why(p, c, err, NULL);
}

bool proxy__connect_failed_why(struct proxy *p, struct conn *c, int err,
			       const char *why)
{
	struct exchange *x = c->x;
	const struct config_service *svc = &x->cfg->services[x->service];
	char msg[256];

	obs_upstream_failed(p->worker, svc->name, x->st->targets[x->target].text);
	if (proxy__warn_ok(p))
		pr_warn("worker %u: upstream %s (service %s): "
			"connect failed: %s%s",
			p->worker, x->st->targets[x->target].text, svc->name,
			why ? "TLS: " : "",
			why ? why : err == -ETIMEDOUT ? "timed out"
						      : strerror(-err));
	proxy__lb_pending(p, x, false);
	proxy__lb_outcome(p, x, true, 0);
	if (x->idempotent && proxy__lb_retry(p, c))
		return proxy__attach_upstream(p, c, false);
	if (x->lb_panic) {
		if (x->st)
			atomic_fetch_add_explicit(&x->st->unavailable, 1,
						  memory_order_relaxed);
		proxy__send_error_service(p, c, 503, "no target of the "
					  "service could be reached",
					  svc->name, 0);
		return false;
	}
	if (why) {
		snprintf(msg, sizeof(msg), "upstream TLS: %s", why);
		proxy__send_error(p, c, 502, msg);
		return false;
	}
	proxy__send_error(p, c, 502, err == -ETIMEDOUT ?
				     "timed out connecting to the upstream" :
				     "could not connect to the upstream");
	return false;
}

/* ---- TLS to the upstream ---------------------------------------------- */

void proxy__tls_start(struct proxy *p, struct conn *u)
{
	struct conn *c = u->peer;
	struct exchange *x = c->x;
	const struct config_service *svc = &x->cfg->services[x->service];
	int ret;

	ret = transport_tls_client_init(&u->tr,
					tls_upstream_of(x->cfg, x->service),
					x->target);
	if (!ret)
		ret = transport_read_ex(&u->tr, loop_buf_size_max(p->loop), 0,
					conn_ud(u, CONN_OP_RECV));
	if (ret) {
		c->peer = NULL;
		u->peer = NULL;
		conn_close(&p->conns, u);
		if (proxy__connect_failed(p, c, ret))
			proxy__pump(p, c);
		return;
	}
	conn_op_start(u);
	u->flags |= CONN_F_RECV;
	u->state = US_HANDSHAKE;
	/* a server that stalls its handshake: as long as a connect may
	 * take, or less when the try runs out first */
	u->deadline_ms = p->now_ms + svc->connect_timeout_ms;
	if (x->try_deadline_ms && x->try_deadline_ms < u->deadline_ms)
		u->deadline_ms = x->try_deadline_ms;
}

/* The handshake on u failed (why) or timed out (why NULL). */
static void tls_failed(struct proxy *p, struct conn *u, const char *why)
{
	struct conn *c = u->peer;
	char reason[200];

	snprintf(reason, sizeof(reason), "%s",
		 why ? why : "timed out in the handshake");
	c->peer = NULL;
	u->peer = NULL;
	conn_close(&p->conns, u);
	if (proxy__connect_failed_why(p, c, why ? -ECONNABORTED : -ETIMEDOUT,
				      reason))
		proxy__pump(p, c);
}

void proxy__tls_step(struct proxy *p, struct conn *u, long n)
{
	struct conn *c = u->peer;
	const char *why;
	int ret;

	if (!c) {
		conn_close(&p->conns, u);
		return;
	}
	why = transport_tls_error(&u->tr);
	if (n != -EAGAIN || why) {
		if (!why)
			why = n == 0 ? "the upstream closed the connection "
				       "in the handshake"
				     : "the handshake failed";
		tls_failed(p, u, why);
		return;
	}
	if (!transport_tls_handshake_done(&u->tr)) {
		ret = transport_read_ex(&u->tr, loop_buf_size_max(p->loop), 0,
					conn_ud(u, CONN_OP_RECV));
		if (ret) {
			tls_failed(p, u, "cannot read");
			return;
		}
		conn_op_start(u);
		u->flags |= CONN_F_RECV;
		return;
	}
	if (!proxy__h2_upstream(p, u))
		return;
	u->state = US_ACTIVE;
	/* what is left of the try, if it has a per-try timeout */
	u->deadline_ms = c->x ? c->x->try_deadline_ms : 0;
	if (c->x)
		proxy__lb_pending(p, c->x, false);
	proxy__pump(p, c);
}

/* A handshake that passed the connect timeout. */
void proxy__tls_deadline(struct proxy *p, struct conn *u)
{
	if (u->peer)
		tls_failed(p, u, NULL);
}

/* Upstream u connected (and finished its TLS handshake): for a service
 * with protocol: h2 its transport becomes HTTP/2 (h2_up.c). False when
 * that failed and the exchange went on without u (another target, or
 * answered). */
bool proxy__h2_upstream(struct proxy *p, struct conn *u)
{
	struct conn *c = u->peer;
	const char *why;
	int ret;

	if (!c->x || c->x->cfg->services[c->x->service].protocol !=
			     CFG_PROTO_H2)
		return true;
	ret = h2up_attach(p, u, &why);
	if (!ret)
		return true;
	c->peer = NULL;
	u->peer = NULL;
	conn_close(&p->conns, u);
	if (proxy__connect_failed_why(p, c, ret, why ? why : strerror(-ret)))
		proxy__pump(p, c);
	return false;
}

/* Link c to a pooled or new connection to its current target. */
bool proxy__attach_upstream(struct proxy *p, struct conn *c, bool fresh)
{
	struct exchange *x = c->x;
	const struct config_service *svc = &x->cfg->services[x->service];
	const struct config_addr *a = &x->st->targets[x->target];
	struct conn *u = NULL;

	x->tries++;
	if (!fresh)
		u = upstream_take(&p->up, (const struct sockaddr *)&a->sa,
				  a->salen,
				  tls_upstream_of(x->cfg, x->service));
	/* the pool is per address: an HTTP/1.1 service and an h2 one on the
	 * same plain target share it, but not their connections */
	if (u && h2up_is(u) != (svc->protocol == CFG_PROTO_H2)) {
		conn_close(&p->conns, u);
		u = NULL;
	}
	if (u) {
		x->upstream_reused = true;
		u->state = US_ACTIVE;
	} else {
		x->upstream_reused = false;
		u = upstream_connect(&p->up, a, svc->connect_timeout_ms,
				     p->now_ms);
		if (!u)
			return proxy__connect_failed(p, c, -errno);
		u->state = US_CONNECTING;
		proxy__lb_pending(p, x, true);
	}
	/* one attempt's time to a response head (connect and an upstream
	 * TLS handshake included); the client's response timeout still
	 * bounds the whole exchange */
	x->try_deadline_ms = svc->retries.per_try_timeout_ms ?
				     p->now_ms + svc->retries.per_try_timeout_ms :
				     0;
	u->deadline_ms = x->try_deadline_ms;
	c->peer = u;
	u->peer = c;
	return true;
}

/* A pooled connection turned out closed by the backend before it
 * answered, and the request (no body) can be sent again as it was: once
 * more on a new connection (on_connect() pumps). True when retried. */
static bool retry_stale(struct proxy *p, struct conn *c, const char *what)
{
	struct exchange *x = c->x;

	if (!x->upstream_reused || x->resp_started || x->stale_retried ||
	    x->req.body != HTTP_BODY_NONE)
		return false;
	pr_debug("worker %u: pooled upstream connection %s, retrying on a "
		 "new one", p->worker, what);
	x->stale_retried = true;
	proxy__drop_upstream(p, c);
	x->req.phase = EX_PH_IDLE;
	x->tries--;
	proxy__attach_upstream(p, c, true);
	return true;
}

/* The request could not be (fully) written to the upstream. */
void proxy__request_send_failed(struct proxy *p, struct conn *c, long err)
{
	struct exchange *x = c->x;

	if (x->req.phase == EX_PH_HEAD &&
	    retry_stale(p, c, "was closed"))
		return;
	pr_debug("worker %u: upstream write failed: %s", p->worker,
		 strerror((int)-err));
	/* the backend may still have answered (an early error): read it */
	x->req.aborted = true;
	x->req.phase = EX_PH_DONE;
	/* a body the client is still sending is left unread: its connection
	 * cannot carry another request. Without a body it is in step, and
	 * the request may yet go to another target (retry_elsewhere()) */
	if (x->req.body != HTTP_BODY_NONE)
		x->client_keep_alive = false;
}

/* The request (no body, idempotent, nothing of a response came) goes to
 * another target after a reset: true when it did. Its head may not have
 * been sent whole (a write that failed on the reset, req.aborted): with
 * no body, it is sent again whole all the same. */
static bool retry_elsewhere(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;

	if (!x->idempotent || x->resp_started ||
	    x->req.body != HTTP_BODY_NONE || !proxy__lb_retry(p, c))
		return false;
	pr_debug("worker %u: upstream reset before answering, retrying on "
		 "%s", p->worker,
		 x->st->targets[x->target].text);
	proxy__drop_upstream(p, c);
	x->req.phase = EX_PH_IDLE;
	x->req.aborted = false;
	/* a new connection: on_connect() pumps the request again */
	return proxy__attach_upstream(p, c, true);
}

/* The attempt on c's upstream passed retries.per_try_timeout_ms without a
 * response head: another target when the request can be sent again as it
 * was (idempotent, no body, within the retries), else 504. It counts as a
 * gateway failure of the target for outlier detection. */
void proxy__try_timed_out(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	const struct config_service *svc = &x->cfg->services[x->service];

	obs_upstream_failed(p->worker, svc->name, x->st->targets[x->target].text);
	if (proxy__warn_ok(p))
		pr_warn("worker %u: upstream %s (service %s): no response head "
			"within per_try_timeout_ms (%u ms)",
			p->worker, x->st->targets[x->target].text, svc->name,
			svc->retries.per_try_timeout_ms);
	proxy__lb_pending(p, x, false);
	proxy__lb_outcome(p, x, false, 504);
	if (retry_elsewhere(p, c) || !c->peer)
		return;		/* retried, or answered by a failed attach */
	proxy__send_error(p, c, 504, "the upstream did not respond within "
				     "the per-try timeout");
}

/* The upstream closed or failed before a complete response head. */
void proxy__upstream_gone(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	bool nothing = !c->peer->in || buf_len(c->peer->in) == 0;
	const char *why;
	char msg[256];

	if (!x->req.aborted && nothing &&
	    retry_stale(p, c, "closed without answering"))
		return;
	if (nothing) {
		proxy__lb_outcome(p, x, false, 0);
		if (retry_elsewhere(p, c))
			return;
		if (!c->peer)
			return;		/* answered by a failed attach */
	}
	why = transport_tls_error(&c->peer->tr);
	if (why) {
		/* an alert after the handshake: say which */
		snprintf(msg, sizeof(msg), "upstream TLS: %s", why);
		proxy__send_error(p, c, 502, msg);
		return;
	}
	proxy__send_error(p, c, 502, "the upstream closed the connection "
				     "without a complete response");
}
