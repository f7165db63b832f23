// SPDX-License-Identifier: MIT
/*
 * Answers the gateway makes itself: gateway errors (4xx/5xx) and the
 * gate's refusals (401/403/429); rate-limited operational warnings. See
 * proxy_int.h.
 */
#include "proxy/proxy.h"

#include <stdio.h>

#include "config/config.h"
#include "proxy/gate.h"
#include "io/tls.h"
#include "lib/log.h"
#include "obs/obs.h"
#include "proxy/proxy_int.h"
#include "http/rewrite.h"
#include "lib/clock.h"
#include "lib/str.h"

/* ---- warnings and gateway errors --------------------------------------- */

/* Operational warnings at most once a second per worker. */
bool proxy__warn_ok(struct proxy *p)
{
	if (p->last_warn_ms && p->now_ms - p->last_warn_ms < 1000)
		return false;
	p->last_warn_ms = p->now_ms ? p->now_ms : 1;
	return true;
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
	proxy__report(p, c, c->x->resp_started ? 0 : status,
		      c->x->resp_started ? NULL : rewrite_error_code(status),
		      n > 0 ? (uint64_t)n : 0);
}

/* Send the complete answer (n bytes, or n < 0: it could not be built)
 * already in c->out, then close (lingering: proxy__on_client_sent). */
static void send_answer(struct proxy *p, struct conn *c, long n, int status)
{
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
	if (proxy__post_send(p, c, c->out->data, (size_t)n))
		conn_close(&p->conns, c);
}

/* Answer the client with a gateway error and close. */
void proxy__send_error(struct proxy *p, struct conn *c, int status,
		       const char *msg)
{
	bool in_exchange = c->state == CS_EXCHANGE;
	long n;

	if (exchange_attach(&p->xpool, c)) {
		proxy__close_client(p, c);
		return;
	}
	report_error(p, c, status, msg);
	proxy__drop_upstream(p, c);
	proxy__put_cfg(p, c);
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
	send_answer(p, c, n, status);
}

/* The host of a Host field without its port ("[::1]:80" -> "[::1]"). */
static size_t host_without_port(const char *h, size_t n)
{
	for (size_t i = n; i > 0; i--) {
		if (h[i - 1] == ':')
			return i - 1;
		if (h[i - 1] < '0' || h[i - 1] > '9')
			break;
	}
	return n;
}

void proxy__send_redirect(struct proxy *p, struct conn *c, uint32_t port)
{
	const struct http_request *r = &p->req;
	char portbuf[16] = "";
	struct sbuf s;
	size_t hl;

	if (!r->host || !r->host_len) {
		proxy__send_error(p, c, 400,
				  "a Host is needed to redirect to https");
		return;
	}
	if (c->x->resp_started || (c->flags & CONN_F_SEND) ||
	    conn_out_get(&p->conns, c)) {
		proxy__put_cfg(p, c);
		conn_close(&p->conns, c);
		return;
	}
	hl = host_without_port(r->host, r->host_len);
	if (port != 443)
		snprintf(portbuf, sizeof(portbuf), ":%u", port);
	sbuf_init(&s, c->out->data, c->out->cap);
	sbuf_adds(&s, "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://");
	sbuf_add(&s, r->host, hl);
	sbuf_adds(&s, portbuf);
	if (r->target_len && r->target[0] == '/')
		sbuf_add(&s, r->target, r->target_len);
	else
		sbuf_add(&s, r->path, r->path_len);
	sbuf_adds(&s, "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	proxy__report(p, c, 308, NULL, s.overflow ? 0 : (uint64_t)s.len);
	proxy__put_cfg(p, c);
	send_answer(p, c, s.overflow ? -1 : (long)s.len, 308);
}

void proxy__send_error_service(struct proxy *p, struct conn *c, int status,
			       const char *msg, const char *service,
			       unsigned int retry_after_s)
{
	char name[CONFIG_MAX_NAME];
	long n;

	/* the snapshot that holds the name is let go below */
	snprintf(name, sizeof(name), "%s", service);
	if (exchange_attach(&p->xpool, c)) {
		proxy__close_client(p, c);
		return;
	}
	report_error(p, c, status, msg);
	proxy__drop_upstream(p, c);
	proxy__put_cfg(p, c);
	p->rejected++;
	pr_debug("worker %u: %s: %d %s", p->worker, c->ip, status, msg);
	if (c->x->resp_started || (c->flags & CONN_F_SEND) ||
	    conn_out_get(&p->conns, c)) {
		conn_close(&p->conns, c);
		return;
	}
	n = rewrite_error_service(c->out->data, c->out->cap, status, msg,
				  c->x->head_method,
				  c->x->request_id[0] ? c->x->request_id : NULL,
				  name, retry_after_s);
	send_answer(p, c, n, status);
}

/* ---- the gate: auth, RBAC, L7 CIDR, rate limits ------------------------ */

/* Answer a request the gate refused (401/403/429) and close. */
static void send_gate_error(struct proxy *p, struct conn *c,
			    const struct gate_verdict *v, int route)
{
	long n;

	proxy__drop_upstream(p, c);
	p->rejected++;
	pr_debug("worker %u: %s: %d %s", p->worker, c->ip, v->status,
		 v->message);
	if (c->x->resp_started || (c->flags & CONN_F_SEND) ||
	    conn_out_get(&p->conns, c)) {
		proxy__put_cfg(p, c);
		conn_close(&p->conns, c);
		return;
	}
	n = gate_error_response(c->x->cfg, route, v, c->x->head_method,
				c->x->request_id, c->out->data, c->out->cap);
	proxy__report(p, c, v->status, v->code, n > 0 ? (uint64_t)n : 0);
	proxy__put_cfg(p, c);
	send_answer(p, c, n, v->status);
}

/* After the route matched: false when the request was answered here. */
bool proxy__gate_request(struct proxy *p, struct conn *c, int route)
{
	struct exchange *x = c->x;
	uint64_t mono_ns = clock_batch_ns();
	struct gate_verdict v;
	const char *const *ids = NULL;
	size_t n_ids = transport_tls_client_ids(proxy__tls_transport(p, c),
						&ids);

	if (gate_check_ex(x->cfg, route, &p->req, &x->client_addr.sa,
			  clock_batch_wall_s(), mono_ns, ids, n_ids, &v)) {
		/* the request's client, not a trusted proxy in front of it;
		 * banned in XDP only when XDP sees it (the TCP peer) */
		gate_strike(x->cfg, &x->client_addr.sa, x->client_proxied,
			    v.status, mono_ns);
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
		proxy__send_error(p, c, 431, "request head too large");
		return false;
	}
	return true;
}
