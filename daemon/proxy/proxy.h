/* SPDX-License-Identifier: MIT */
/*
 * Request flow of one worker: client connections from accept to close,
 * request head -> route -> upstream (pooled or connected) -> re-built head
 * -> streamed body; response head -> re-built head -> streamed body; then
 * the next (possibly pipelined) request. Bounded memory per connection:
 * bodies stream through the connections' fixed-size input buffers, and
 * neither side is read again until what was read from it was written to the
 * other (backpressure).
 *
 * Single-threaded: a struct proxy belongs to one worker thread.
 */
#ifndef SLUICE_PROXY_H
#define SLUICE_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "io/conn.h"
#include "http/http.h"
#include "io/upstream.h"
#include "lib/buf.h"
#include "proxy/exchange.h"

struct config;
struct loop;
struct loop_cqe;

#define PROXY_GATE_SCRATCH		12288

/* Timeouts (ms) that are not configuration: the others are in the
 * config's http section (struct config_http). */
#define PROXY_LINGER_MS			2000	/* after our last byte */
/* draining: how long a client between requests may take to send its next
 * one (answered with "Connection: close") before it is closed */
#define PROXY_DRAIN_IDLE_MS		1000
#define PROXY_ERROR_SEND_MS		5000	/* to deliver an error */

/* A response body up to this size already behind its head is copied after
 * the head (one plain send); a larger one goes in a gather write. */
#define PROXY_HEAD_COPY_MAX		2048
/* An armed (multishot) receive only with a byte limit of at least this
 * much: below, it would end after a request or two. */
#define PROXY_RECV_ARMED_MIN		4096
/* Extra room past max_head in each buffer for the headers the gateway adds. */
#define PROXY_HEAD_SLACK		4096
/* Free buffers a worker keeps for reuse (the rest go back to the kernel). */
#define PROXY_BUF_CACHE			256

/* Splicing response bodies (proxy_splice.c): an upstream whose last
 * response was large has its next response head read alone, in a receive
 * of at most this many bytes (a longer head is read the usual way);
 * empty pipes a worker keeps for reuse. */
#define PROXY_SPLICE_HEAD_READ		1024
#define PROXY_PIPE_CACHE		64

/* Listener flags for proxy_accept_on(). */
#define PROXY_L_PROXY_PROTOCOL		(1u << 0)
#define PROXY_L_TLS			(1u << 1)	/* tls: section */
#define PROXY_L_REDIRECT_HTTPS		(1u << 2)	/* 308 to https */
#define PROXY_L_H2C			(1u << 3)	/* HTTP/2 prior knowledge */
#define PROXY_L_H2S			(1u << 4)	/* an HTTP/2 stream's bridge */

/* A config snapshot and how many exchanges of this worker use it: the
 * request path counts references locally, never on the shared atomic. */
struct proxy_cfgref {
	struct config *cfg;
	unsigned long refs;
};

struct proxy {
	struct loop *loop;
	struct conn_table conns;
	struct exchange_pool xpool;	/* what client connections carry */
	struct buf_pool bufs;
	struct upstream up;
	struct config *cfg;		/* current snapshot: one reference */
	struct http_limits limits;
	struct http_request req;	/* parse scratch */
	struct http_response resp;
	uint64_t now_ms;
	uint64_t last_warn_ms;
	bool draining;
	unsigned int worker;
	uint64_t accepted, requests, rejected;
	unsigned int max_clients;	/* http.max_connections at start */
	uint64_t rng[2];		/* request ids (xorshift128+) */
	struct proxy_cfgref *refs;	/* snapshots in use by exchanges */
	size_t n_refs, cap_refs;
	/* strings the gate's rewritten request/response head point to
	 * (credential stripped, X-Consumer-* and RateLimit-* added), until
	 * the head is rebuilt (single-threaded per worker) */
	char gate_scratch[PROXY_GATE_SCRATCH];
	/* empty pipes for splicing, [n][0] the read end */
	int pipes[PROXY_PIPE_CACHE][2];
	unsigned int n_pipes;
	/* HTTP/2 (h2.c): by connection id, what a connection in CS_H2 or
	 * CS_H2B carries; nghttp2 callbacks and options (made on first use) */
	void **h2;
	/* by connection id, for a stream's inner client connection
	 * (PROXY_L_H2S): the HTTP/2 connection it came in on, as a
	 * conn_lookup() key (stale once that one is gone) */
	uint64_t *h2_front;
	void *h2_cbs, *h2_opt;
	/* HTTP/2 stream objects kept for reuse, with their buffers
	 * (h2_stream.c): a stream costs no allocation in steady traffic */
	void *h2_spare;
	unsigned int n_h2_spare;
	bool h2_gone;			/* proxy_destroy(): no more closes */
	/* the output-coalescing timeouts' interval: io_uring reads it when
	 * the ring takes the request, after the connection may be gone */
	struct loop_ts h2_hold_ts;
};

/* max_conns: client + upstream connections (0: derived from
 * cfg->http.max_connections). cfg: a reference the proxy takes over.
 * 0 or -errno. */
int proxy_init(struct proxy *p, struct loop *l, struct config *cfg,
	       unsigned int max_conns, unsigned int worker);
void proxy_destroy(struct proxy *p);

/* Replace the current snapshot (takes over the reference to cfg); requests
 * in flight keep the one they started on. */
void proxy_set_config(struct proxy *p, struct config *cfg);

/* A new client socket from accept on a listener with PROXY_L_* flags.
 * Closes fd itself on failure. */
void proxy_accept_on(struct proxy *p, int fd, unsigned int lflags,
		     size_t listener);
/* At the client connection limit (http.max_connections): stop accepting. */
bool proxy_full(const struct proxy *p);

/* A completion whose op is a CONN_OP_* (see conn.h). */
void proxy_complete(struct proxy *p, const struct loop_cqe *cqe);

/* Enforce deadlines; call about once a second with the current time. */
void proxy_tick(struct proxy *p);

/* Shutdown: no more keep-alive; idle connections get PROXY_DRAIN_IDLE_MS
 * to send one more request. */
void proxy_drain(struct proxy *p);
/* Close everything (end of the drain deadline). */
void proxy_close_all(struct proxy *p);
/* Connections still open. */
unsigned int proxy_live(const struct proxy *p);

#endif
