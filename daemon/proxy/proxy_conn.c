// SPDX-License-Identifier: MIT
/*
 * Client connections of the proxy outside the request path: teardown (and
 * the report of the exchange it ends), accept, the PROXY protocol header,
 * deadlines, drain and close-all. See proxy_int.h.
 */
#include "proxy/proxy.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "policy/balance.h"
#include "lib/log.h"
#include "obs/obs.h"
#include "proxy/proxy_int.h"
#include "proxy/h2.h"
#include "http/proxyproto.h"
#include "io/tls.h"
#include "policy/realip.h"

/* ---- teardown ---------------------------------------------------------- */

/* End of an exchange's resources: re-framing buffer, config snapshot. */
void proxy__put_cfg(struct proxy *p, struct conn *c)
{
	if (!c->x)
		return;
	proxy__splice_end(p, c->x);
	if (c->x->frame) {
		buf_put(&p->bufs, c->x->frame);
		c->x->frame = NULL;
	}
	free(c->x->req_tail);
	c->x->req_tail = NULL;
	c->x->req_tail_len = 0;
	c->x->req_tail_pending = false;
	if (c->x->cfg) {
		proxy__lb_end(p, c->x);
		proxy__cfg_release(p, c->x->cfg);
		c->x->cfg = NULL;
	}
}

/* Observability: report the request on c once (metrics, access log), while
 * the exchange's snapshot is still held. status 0: the response sent. */
void proxy__report(struct proxy *p, struct conn *c, int status,
		   const char *error, uint64_t error_len)
{
	struct exchange *x = c->x;
	const struct transport *tt;
	struct obs_end e = {
		.status = status,
		.error = error,
		.extra_bytes_out = error_len,
	};

	if (!x || !x->obs.t_start_ns)
		return;
	tt = proxy__tls_transport(p, c);
	/* the request's client (trusted XFF resolved), else the connection's */
	e.client = x->client_ip[0] ? x->client_ip : c->ip;
	e.request_id = x->request_id[0] ? x->request_id : NULL;
	e.tls = transport_tls_version(tt);
	e.sni = transport_tls_sni(tt);
	transport_tls_served(tt);
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
		if (x->st && x->target < x->st->n_targets)
			e.upstream = x->st->targets[x->target].text;
		e.upstream_attempts = x->n_tried;
	}
	e.grpc_status = x->obs.begun ? x->grpc_status : -1;
	obs_exchange_end(p->worker, &x->obs, &e);
}

void proxy__close_client(struct proxy *p, struct conn *c)
{
	proxy__report(p, c, 0, NULL, 0);
	proxy__drop_upstream(p, c);
	proxy__put_cfg(p, c);
	conn_close(&p->conns, c);
}

/* Half-close and discard input until EOF, so that the client reads our last
 * bytes instead of a reset (RFC 9112 section 9.6). */
void proxy__linger_close(struct proxy *p, struct conn *c)
{
	proxy__drop_upstream(p, c);
	proxy__put_cfg(p, c);
	if ((c->flags & CONN_F_EOF) || transport_shutdown(&c->tr)) {
		conn_close(&p->conns, c);
		return;
	}
	c->state = CS_LINGER;
	c->deadline_ms = p->now_ms + PROXY_LINGER_MS;
	if (c->in)
		buf_consume(c->in, buf_len(c->in));
	conn_bufs_trim(&p->conns, c);
	if (proxy__post_recv(p, c))
		conn_close(&p->conns, c);
}

/* ---- accept, PROXY protocol header, timers, drain ---------------------- */

bool proxy_full(const struct proxy *p)
{
	return p->conns.n_clients >= p->max_clients;
}

void proxy_accept_on(struct proxy *p, int fd, unsigned int lflags,
		     size_t listener)
{
	struct tls_listener *tl = NULL;
	const struct config_http *h = &p->cfg->http;
	struct conn *c;

	/* draining, a connection accepted before the listener was let go
	 * (or taken over by a successor) is still served, with
	 * "Connection: close" */
	c = proxy_full(p) ? NULL : conn_alloc(&p->conns, CONN_CLIENT, fd);
	if (!c) {
		if (proxy__warn_ok(p))
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
	c->listener = (uint16_t)listener;
	if (lflags & PROXY_L_TLS) {
		/* the listener's contexts in the current snapshot; the
		 * connection keeps a reference to them until it closes */
		tl = tls_listener_of(p->cfg, listener);
		if (!tl || transport_tls_init(&c->tr, tl)) {
			conn_close(&p->conns, c);
			return;
		}
	}
	/* a PROXY header is read only from a trusted peer; anyone else is
	 * served as a direct client (and a PROXY line from them is a 400) */
	if ((lflags & PROXY_L_PROXY_PROTOCOL) &&
	    realip_trusted(p->cfg->trusted_proxies.entries,
			   p->cfg->trusted_proxies.n,
			   (const struct sockaddr *)&c->addr))
		c->state = CS_PROXY;
	else
		c->state = CS_HEAD;
	c->deadline_ms = p->now_ms + (tl ? tls_handshake_timeout_ms(tl) :
						 h->header_timeout_ms);
	if (proxy__post_recv(p, c))
		conn_close(&p->conns, c);
}

/* CS_PROXY: a PROXY protocol header before the first request. */
bool proxy__read_proxy_header(struct proxy *p, struct conn *c)
{
	struct proxyproto pp;
	size_t len = c->in ? buf_len(c->in) : 0;
	int n = len ? proxyproto_parse(buf_head(c->in), len, &pp) : -2;

	if (n == -2) {
		if (c->flags & CONN_F_EOF)
			conn_close(&p->conns, c);
		else if (proxy__post_recv(p, c))
			conn_close(&p->conns, c);
		return false;
	}
	if (n < 0) {
		if (proxy__warn_ok(p))
			pr_warn("worker %u: %s: %s", p->worker, c->ip,
				pp.error);
		proxy__send_error(p, c, 400, pp.error);
		return false;
	}
	buf_consume(c->in, (size_t)n);
	if (pp.has_addr) {
		memcpy(&c->addr, &pp.src, pp.addrlen);
		c->addrlen = pp.addrlen;
		c->addr_proxied = true;
		realip_format(&c->addr, c->ip, sizeof(c->ip));
	}
	c->state = CS_HEAD;
	return true;
}

static void on_deadline(struct proxy *p, struct conn *c)
{
	if (c->kind == CONN_UPSTREAM) {
		c->deadline_ms = 0;
		if (c->state == US_HANDSHAKE) {
			proxy__tls_deadline(p, c);
			return;
		}
		if (c->flags & CONN_F_POOLED) {
			upstream_remove(&p->up, c);
			conn_close(&p->conns, c);
		} else if (c->peer && c->peer->x && c->peer->x->cfg &&
			   c->peer->state == CS_EXCHANGE &&
			   !c->peer->x->resp_started) {
			struct exchange *x = c->peer->x;

			/* an attempt's per-try timeout; while the request
			 * body is still being relayed it goes at the client's
			 * pace (the body timeout's business), so the try's
			 * clock starts again */
			if (x->req.phase == EX_PH_BODY)
				c->deadline_ms = x->try_deadline_ms =
					p->now_ms +
					x->cfg->services[x->service]
						.retries.per_try_timeout_ms;
			else
				proxy__try_timed_out(p, c->peer);
		}
		return;
	}
	switch (c->state) {
	case CS_HEAD:
	case CS_PROXY:
		if (c->in && buf_len(c->in))
			proxy__send_error(p, c, 408,
					  "timed out reading the request head");
		else
			conn_close(&p->conns, c);
		break;
	case CS_EXCHANGE:
		if (proxy__waiting_for_body(c))
			proxy__send_error(p, c, 408,
					  "timed out reading the request body");
		else
			proxy__send_error(p, c, 504,
					  "the upstream did not respond in time");
		break;
	case CS_H2:
	case CS_H2B:
		h2_deadline(p, c);
		break;
	case CS_TUNNEL:
		pr_debug("worker %u: %s: tunnel idle, closing", p->worker,
			 c->ip);
		proxy__close_client(p, c);
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
	/* busy TLS connections keep their buffers while the table is under
	 * half full (as HTTP/2 bridges park): past that, memory goes to
	 * taking clients */
	bool allow = p->conns.n_clients < p->max_clients / 2;
	uint32_t kept = 0;
	size_t n;

	obs_conn_active(p->worker, p->conns.n_clients);
	buf_pool_trim(&p->bufs);
	for (struct conn *c = p->conns.live.live_next; c != &p->conns.live;
	     c = c->live_next)
		if (c->kind == CONN_CLIENT && !conn_closing(c))
			kept += transport_tls_tick(&c->tr, allow);
	obs_tls_buffers_kept(p->worker, kept);
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
	uint64_t until = p->now_ms + PROXY_DRAIN_IDLE_MS;

	p->draining = true;
	upstream_close_idle(&p->up);
	h2_drain(p);
	/*
	 * A client between requests may be sending its next one right now:
	 * closing at once would lose it. Each idle one gets PROXY_DRAIN_IDLE_MS
	 * to send it (answered with "Connection: close"); the tick closes
	 * those that stay silent.
	 */
	for (struct conn *c = p->conns.live.live_next; c != &p->conns.live;
	     c = c->live_next) {
		if (!conn_closing(c) && snap_match(p, c, SNAP_IDLE_CLIENT) &&
		    (!c->deadline_ms || c->deadline_ms > until))
			c->deadline_ms = until;
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
				proxy__close_client(p, c);
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
