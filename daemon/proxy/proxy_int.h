/* SPDX-License-Identifier: MIT */
/*
 * Internal to the proxy module: what its files share. Not for other
 * modules (their interface is proxy.h). The files, by concern:
 *
 *   proxy.c           the request path: submitting, request head, request
 *                     and response direction, end of an exchange,
 *                     completions (kept in one translation unit so that
 *                     it inlines)
 *   proxy_conn.c      client connections: teardown and the exchange report,
 *                     accept, PROXY protocol header, deadlines, drain
 *   proxy_upstream.c  an exchange's upstream: attach, retry, drop (and the
 *                     buffers held across teardown)
 *   proxy_errors.c    answers the gateway makes itself: gateway errors, the
 *                     gate's refusals; rate-limited warnings
 *   proxy_fields.c    fields of a parsed head: token lists, request ids
 *   proxy_chunked.c   chunked bodies re-coded: request re-framing,
 *                     de-chunking for HTTP/1.0 clients
 *   proxy_splice.c    response bodies spliced (moved by the kernel)
 *   proxy_tunnel.c    upgraded (websocket) connections
 *   proxy_setup.c     init, destroy, config reload, per-worker snapshot refs
 *   exchange.h/.c     the exchange (one request and its response, each
 *                     direction a struct exchange_dir) and its pool
 *
 * Single-threaded like the rest of the module: a struct proxy and its
 * connections belong to one worker thread.
 */
#ifndef SLUICE_PROXY_INT_H
#define SLUICE_PROXY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/proxy.h"

/* struct conn.state of a client connection */
enum client_state {
	CS_HEAD = 1,		/* reading a request head */
	CS_EXCHANGE,		/* proxying a request and its response */
	CS_ERROR,		/* sending a gateway error, then linger */
	CS_LINGER,		/* write side shut; discard input until EOF */
	CS_PROXY,		/* reading a PROXY protocol header */
	CS_TUNNEL,		/* upgraded: two-way byte tunnel */
	CS_H2,			/* an HTTP/2 connection (h2.c) */
	CS_H2B,			/* our end of an HTTP/2 stream's bridge to
				 * the HTTP/1.1 path (h2_stream.c) */
};

/* struct conn.flags of an upstream connection: its last response had a
 * body worth splicing, so the next response head is read alone
 * (proxy_splice.c) */
#define CONN_F_LARGE	CONN_F_OWNER
/* of a TLS client connection: its handshake ended, and the wait for its
 * first request has its own deadline (once: records that bring no
 * plaintext, a KeyUpdate or a record cut short, do not move it again) */
#define CONN_F_TLS_UP	(CONN_F_OWNER << 1)

/* struct conn.state of an upstream connection */
enum upstream_state {
	US_CONNECTING = 1,
	US_HANDSHAKE,		/* TLS upstream: connected, handshaking */
	US_ACTIVE,
	US_IDLE,		/* in the pool */
};

/* Client c in an exchange waits for its request body (deadline:
 * body_timeout, else response_timeout). */
static inline bool proxy__waiting_for_body(const struct conn *c)
{
	return c->x->req.phase == EX_PH_BODY && (c->flags & CONN_F_RECV) &&
	       !(c->peer && (c->peer->flags & CONN_F_SEND));
}

/* proxy.c: submitting. Post a receive on c (none if one is in flight, c
 * is closing or at EOF, or its input buffer is full); post a send of
 * data[0..len) on c. 0 or -errno. */
int proxy__post_recv(struct proxy *p, struct conn *c);
int proxy__post_send(struct proxy *p, struct conn *c, const char *data,
		     size_t len);
/* proxy__post_send() with flags: TRANSPORT_WRITE_LAST when the connection
 * is closed right after. */
int proxy__post_send_ex(struct proxy *p, struct conn *c, const char *data,
			size_t len, unsigned int flags);
/* The gather write of c->x->head_iov[first..1] (a response head and the
 * body behind it; what is left of it after a short write). */
int proxy__post_head_gather(struct conn *c, unsigned int first,
			    unsigned int flags);
/* proxy.c: every possible step of c's exchange now, in both directions
 * (after any completion on c or its upstream). */
void proxy__pump(struct proxy *p, struct conn *c);
/* The deadline of client c in an exchange: body_timeout while its request
 * body is awaited, response_timeout otherwise (tunnel_timeout in a
 * tunnel). */
void proxy__arm_exchange_deadline(struct proxy *p, struct conn *c);

/* proxy_response.c: the response direction. Parse the upstream's response
 * head and send the re-built head, then relay the body (from proxy__pump);
 * a send to client c completed. */
void proxy__pump_response(struct proxy *p, struct conn *c);
/* Upstream u's response waited through a turn for a body send to it
 * that is still in flight (CONN_OP_DEFER): u answered early without
 * reading; the response goes on and the exchange ends without the rest
 * of the body. */
void proxy__early_response(struct proxy *p, struct conn *u);
void proxy__on_client_sent(struct proxy *p, struct conn *c);

/* proxy_conn.c: teardown. End of an exchange's resources (re-framing
 * buffer, config snapshot). */
void proxy__put_cfg(struct proxy *p, struct conn *c);
/* Report the request on c once (metrics, access log); status 0: the
 * response sent. */
void proxy__report(struct proxy *p, struct conn *c, int status,
		   const char *error, uint64_t error_len);
/* Close client c and its upstream now. */
void proxy__close_client(struct proxy *p, struct conn *c);
/* Half-close c, discard its input until EOF, then close. */
void proxy__linger_close(struct proxy *p, struct conn *c);
/* CS_PROXY: read the PROXY protocol header; true when c moved to CS_HEAD. */
bool proxy__read_proxy_header(struct proxy *p, struct conn *c);

/* proxy_upstream.c. Close the upstream of client c (not reusable). */
void proxy__drop_upstream(struct proxy *p, struct conn *c);
/* Link c to a pooled (unless fresh) or new connection to its current
 * target; false when the exchange was answered or closed instead. */
bool proxy__attach_upstream(struct proxy *p, struct conn *c, bool fresh);
/* Connecting failed with err: the next target, or a 502. */
bool proxy__connect_failed(struct proxy *p, struct conn *c, int err);
/* The same, for a TLS handshake that failed (why: its reason, which the
 * 502 names). */
bool proxy__connect_failed_why(struct proxy *p, struct conn *c, int err,
			       const char *why);
/* Upstream u connected (TLS: handshake done): an HTTP/2 service's
 * transport is wrapped (h2_up.c); false: u is gone and the exchange went
 * on (another target, or answered). */
bool proxy__h2_upstream(struct proxy *p, struct conn *u);
/* Upstream u (of a TLS service) connected: start its TLS handshake. */
void proxy__tls_start(struct proxy *p, struct conn *u);
/* A read completion on upstream u in US_HANDSHAKE (n: what
 * transport_read_done() returned; the completion is released). */
void proxy__tls_step(struct proxy *p, struct conn *u, long n);
/* The deadline of upstream u in US_HANDSHAKE passed. */
void proxy__tls_deadline(struct proxy *p, struct conn *u);
/* The request could not be (fully) written to the upstream. */
void proxy__request_send_failed(struct proxy *p, struct conn *c, long err);
/* The upstream closed or failed before a complete response head. */
void proxy__upstream_gone(struct proxy *p, struct conn *c);
/* c's attempt passed its service's per_try_timeout_ms with no response
 * head: the next target, or a 504. */
void proxy__try_timed_out(struct proxy *p, struct conn *c);

/* proxy_errors.c. A plain listener with redirect_https: answer the
 * request with a 308 to the same host and target over https, then close. */
void proxy__send_redirect(struct proxy *p, struct conn *c, uint32_t port);
/* proxy_errors.c. True when an operational warning may be logged now (at
 * most one a second per worker). */
bool proxy__warn_ok(struct proxy *p);
/* Answer client c with a gateway error and close. */
void proxy__send_error(struct proxy *p, struct conn *c, int status,
		       const char *msg);
/* The same for a service's 503s: the JSON names the service, and
 * retry_after_s > 0 adds a Retry-After field. */
void proxy__send_error_service(struct proxy *p, struct conn *c, int status,
			       const char *msg, const char *service,
			       unsigned int retry_after_s);

/* proxy_balance.c: the service's limits and the first target (x->target);
 * false when the request was answered (503). */
bool proxy__lb_first_pick(struct proxy *p, struct conn *c);
/* Another target for a retry, within attempts and the service's budget;
 * false: no retry. */
bool proxy__lb_retry(struct proxy *p, struct conn *c);
/* The exchange is (on) or is no longer (off) waiting for a connect. */
void proxy__lb_pending(struct proxy *p, struct exchange *x, bool on);
/* An attempt's outcome for outlier detection: a connect failure, or a
 * response status (0: reset before a response). */
void proxy__lb_outcome(struct proxy *p, struct exchange *x,
		       bool connect_failed, int status);
/* Release what the exchange holds in the service's state. */
void proxy__lb_end(struct proxy *p, struct exchange *x);
/* The gate, after the route matched: false when the request was answered
 * (refused) here. */
bool proxy__gate_request(struct proxy *p, struct conn *c, int route);
/* The transport that carries c's TLS session: c's own, or for an HTTP/2
 * stream's inner connection its HTTP/2 connection's (c's own, plain, once
 * that one is gone). */
const struct transport *proxy__tls_transport(struct proxy *p,
					     struct conn *c);

/* proxy_fields.c. Exactly one field `name` whose value lists `tok`. */
bool proxy__field_has(const struct http_header *hs, size_t n, const char *name,
		      const char *tok);
/* The client's valid X-Request-Id, else a new random one, into out. */
void proxy__request_id(struct proxy *p, const struct http_request *r,
		       char *out, size_t cap);

/* proxy_chunked.c. Re-frame the buffered chunked request body into
 * c->x->frame; false: the exchange ended. */
bool proxy__reframe_request(struct proxy *p, struct conn *c);
/* Before anything of the request goes upstream: validate the chunked
 * request body bytes already received (c->in from skip on: skip is the
 * head when it is still there); false: the exchange ended (400 or 413). */
bool proxy__check_received_body(struct proxy *p, struct conn *c,
				size_t skip);
/* De-chunk a response for an HTTP/1.0 client: bytes to send from the head
 * of u->in (0: none yet, -1: invalid). */
long proxy__dechunk_response(struct conn *c, struct conn *u);

/* proxy_splice.c. From send_head(): splice the rest of the body (true:
 * started) or not (false: send it the usual way); `body` bytes of it are
 * at the front of u->in, already counted. */
bool proxy__splice_start(struct proxy *p, struct conn *c, struct conn *u,
			 size_t body);
/* Every step of a spliced body possible now (closes c on failure). */
void proxy__splice_pump(struct proxy *p, struct conn *c);
/* A poll of c for a spliced exchange completed. */
void proxy__on_poll(struct proxy *p, struct conn *c);
/* End of the exchange's splice: the pipe back to the cache (or closed). */
void proxy__splice_end(struct proxy *p, struct exchange *x);
/* proxy_destroy(): close the cached pipes. */
void proxy__pipes_close(struct proxy *p);

/* proxy_tunnel.c. CS_TUNNEL: move bytes both ways, pass half-closes on. */
void proxy__pump_tunnel(struct proxy *p, struct conn *c);

/* h2.c: nghttp2's callbacks and options go (proxy_destroy). */
void proxy__h2_destroy(struct proxy *p);

/* proxy_setup.c. A reference to the current snapshot for an exchange,
 * counted per worker; given back with proxy__cfg_release(). */
struct config *proxy__cfg_hold(struct proxy *p);
void proxy__cfg_release(struct proxy *p, struct config *cfg);

#endif
