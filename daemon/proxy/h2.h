/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to clients (docs/HTTP2.md): libnghttp2 on the worker's io_uring
 * loop through its memory interface. Internal to the proxy module.
 *
 *   h2.c         the connection: the nghttp2 session fed from the loop's
 *                receives, its output copied into the connection's own
 *                buffer until the send completes, SETTINGS, the abuse
 *                budget ("glitches"), GOAWAY, the no-progress deadline
 *   h2_stream.c  a stream as an exchange: the request checked against
 *                RFC 9113 section 8 and translated to HTTP/1.1, handed to
 *                the unchanged HTTP/1.1 request path through a socket
 *                pair (route, gate, limits, upstream pools, access log,
 *                request id: all per stream)
 *   h2_resp.c    a stream's response: the HTTP/1.1 response translated
 *                back (trailers as a trailing HEADERS frame), and the
 *                answers a stream gets from us (400/405/431/503)
 *   h2_up.c      HTTP/2 to upstreams (services[].protocol: h2, gRPC): a
 *                transport wrapping the upstream connection's plain or TLS
 *                one with an nghttp2 client session; the exchange above
 *                writes and reads HTTP/1.1 (trailers in the chunked body);
 *                pooled like HTTP/1.1 connections, one request at a time
 *   h2_up_resp.c the upstream's response frames as the HTTP/1.1 response
 *                the exchange reads, and the 502s naming what went wrong
 *
 * The only files that include <nghttp2/nghttp2.h>.
 */
#ifndef SLUICE_H2_H
#define SLUICE_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/proxy_int.h"

struct loop_cqe;

/* The client connection preface (RFC 9113 section 3.4). */
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

/*
 * CS_HEAD, before the first request: does client c speak HTTP/2? True when
 * it did and c became an HTTP/2 connection (or was closed), or when more
 * bytes are needed to tell (a receive is posted); false: HTTP/1.1.
 */
bool h2_detect(struct proxy *p, struct conn *c);

/* A completion on a connection in CS_H2 or CS_H2B (op: CONN_OP_*). */
void h2_complete(struct proxy *p, struct conn *c, unsigned int op,
		 const struct loop_cqe *cqe);
/* The deadline of a connection in CS_H2 or CS_H2B passed. */
void h2_deadline(struct proxy *p, struct conn *c);
/* c is being freed: what HTTP/2 hangs on it goes. */
void h2_release(struct proxy *p, struct conn *c);
/* h2_up.c: HTTP/2 to an upstream. Wrap u's transport (connected, TLS
 * handshake done) in an nghttp2 client session; 0 or -errno, and *why
 * (static) for a refusal (TLS without ALPN h2). */
int h2up_attach(struct proxy *p, struct conn *u, const char **why);
/* u's transport is h2_up.c's. */
bool h2up_is(const struct conn *u);
/* A completion of the wrapped transport's own I/O on u (CONN_OP_XRECV,
 * CONN_OP_XSEND). */
void h2up_complete(struct proxy *p, struct conn *u, unsigned int op,
		   const struct loop_cqe *cqe);
/* Worker shutdown: GOAWAY to every HTTP/2 connection. */
void h2_drain(struct proxy *p);

#endif
