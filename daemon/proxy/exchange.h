/* SPDX-License-Identifier: MIT */
/*
 * One HTTP request/response exchange, apart from the connection that
 * carries it. The client connection points to its current exchange
 * (struct conn.x, opaque to the io layer); an HTTP/1.1 connection carries
 * one at a time, and a connection that multiplexes (HTTP/2 streams) can
 * carry several without the connection changing.
 *
 * Each direction is one struct exchange_dir, used twice: req (client ->
 * upstream) and res (upstream -> client), as HAProxy's struct channel and
 * liburing's examples/proxy.c do.
 *
 * Exchanges are pooled per worker (struct exchange_pool, in struct proxy):
 * an idle keep-alive connection holds none; one is attached when request
 * bytes arrive and given back when the connection goes idle or is freed.
 * Single-threaded like the rest of the proxy.
 */
#ifndef SLUICE_EXCHANGE_H
#define SLUICE_EXCHANGE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http/http.h"
#include "io/conn.h"
#include "obs/obs.h"

struct buf;
struct config;
struct rl_limit;

/* Progress of one direction of an exchange. */
enum exchange_phase {
	EX_PH_IDLE = 0,		/* not started */
	EX_PH_HEAD,		/* head being sent */
	EX_PH_BODY,		/* body being streamed */
	EX_PH_DONE,
};

/* A chunked body as received, validated ahead of forwarding (the request,
 * before its head goes upstream: proxy_chunked.c): the scanner's state,
 * the bytes and the data bytes seen, and whether its end was. */
struct exchange_check {
	struct http_chunked ck;
	size_t bytes;
	uint64_t data;
	bool done;
};

/* One direction of an exchange: the message's framing and how far it got.
 * Fields in their order of use on the request path (hot first). */
struct exchange_dir {
	uint8_t phase;			/* enum exchange_phase */
	bool ck_done;			/* chunked: the scanner saw the end */
	bool aborted;			/* body not (fully) forwarded */
	enum http_body body;		/* framing of the body */
	uint64_t left;			/* Content-Length bytes still to forward */
	size_t inflight;		/* bytes of the source's input being sent */
	uint64_t body_bytes;		/* body bytes forwarded (data) */
	size_t last_len;		/* head parse resume hint */
	struct http_chunked ck;		/* chunked: the forwarding scanner */
};

/* Upstream attempts per request at most (services[].retries.attempts). */
#define PROXY_MAX_ATTEMPTS 10

struct exchange {
	struct exchange *next_free;	/* pool link while free */
	struct config *cfg;		/* snapshot the request started on */
	int route;
	int service;
	/* the service's balancing state (targets, health) the exchange
	 * picked from: a reference, so that it stays while a DNS change
	 * publishes another; released by proxy__lb_end() */
	struct balance_state *st;
	unsigned int target;		/* index into st->targets */
	unsigned int tries;		/* connection attempts made */
	uint64_t try_deadline_ms;	/* retries.per_try_timeout_ms of this
					 * try runs out (0: none) */
	bool head_method;		/* request was HEAD */
	bool idempotent;
	bool client_keep_alive;		/* client may send another request */
	bool client_http10;
	bool upstream_reused;		/* came from the pool */
	bool resp_started;		/* bytes of the response sent to client */
	/* the upstream answered while a body send to it was still in
	 * flight at the end of the turn (it answered early and does not
	 * read): the response goes on, the rest of the body does not */
	bool early_resp;
	bool resp_head_parsed;		/* final (non-1xx) head parsed */
	bool upstream_keep_alive;
	bool interim;			/* a 1xx head is being sent */
	bool stale_retried;		/* retried after a dead pooled conn */
	bool head_gather;		/* the head's gather write is in flight */
	bool spl;			/* the body is being spliced */
	/* balancing (proxy_balance.c): what this exchange holds in the
	 * service's state, released by proxy__lb_end() */
	bool lb_active;			/* counted in state->active */
	bool lb_pending;		/* counted in state->pending */
	bool lb_retrying;		/* counted in state->retrying */
	bool lb_worker;			/* counted in the worker's active[target] */
	bool lb_panic;			/* the last pick found every target out */
	uint8_t n_tried;		/* targets tried: tried[0..n_tried) */
	uint8_t tried[PROXY_MAX_ATTEMPTS];
	uint64_t hash_key;		/* lb: hash */
	struct exchange_dir req;	/* client -> upstream */
	struct exchange_dir res;	/* upstream -> client */
	struct exchange_check req_seen;	/* chunked request body checked ahead */
	uint64_t started_ms;
	struct obs_exchange obs;	/* metrics and access log (obs.h) */
	/* ---- what the gate and the hooks (auth, limits, access log) read */
	/* The client of this request, resolved once by realip_resolve():
	 * the connection's client (c->addr, after the PROXY protocol) or,
	 * when that is a trusted proxy, the address its X-Forwarded-For chain
	 * carries. Normalised (IPv4-mapped as IPv4). The gate, logs, rate
	 * limits, bans and the X-Forwarded-For sent upstream all use it. */
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} client_addr;
	char client_ip[INET6_ADDRSTRLEN];
	char request_id[68];		/* X-Request-Id sent upstream and back */
	int resp_status;		/* final status sent to the client (0: none) */
	int16_t grpc_status;		/* grpc-status of an HTTP/2 upstream's
					 * response (-1: none) */
	uint64_t max_body;		/* route limit (0: none) */
	struct buf *frame;		/* re-framed chunked request body */
	/* chunked request framing since the last data run, for a service
	 * with protocol: h2, whose upstream gets the request trailers: at
	 * the end, the last chunk and the trailer section (malloc'd) */
	char *req_tail;
	size_t req_tail_len;
	bool req_tail_pending;		/* the end waits for room in frame */
	/* The response head (client->out) and the body bytes already
	 * received behind it (head_body bytes at the front of upstream->in)
	 * leave in one gather write (head_gather); upstream->in is consumed
	 * when it completes. */
	struct msghdr head_msg;
	struct iovec head_iov[2];
	size_t head_body;
	bool upgrade;			/* websocket handshake forwarded */
	bool tunnel;			/* 101 received: two-way tunnel */
	bool resp_dechunk;		/* chunked response to an HTTP/1.0 client:
					 * data only, close-delimited */
	bool xff_used;			/* client_addr came from X-Forwarded-For */
	/* client_addr is not the TCP peer (PROXY header or XFF) */
	bool client_proxied;
	bool client_close;		/* the request said Connection: close
					 * (or was HTTP/1.0 without keep-alive) */
	/* RateLimit-* on the response (the route's ratelimit_headers) */
	bool rl_headers;
	uint64_t rl_limit, rl_remaining, rl_reset;
	const struct rl_limit *rl_policy;	/* in x.cfg's tables */
	/* A Content-Length response body moved by the kernel (splice(2),
	 * while spl): upstream socket -> pipe -> client socket, never
	 * through user space. The head (head_iov, head_body bytes of
	 * upstream->in behind it) is written first. proxy_splice.c. */
	int spl_pipe[2];		/* read, write end (valid while spl) */
	size_t spl_inpipe;		/* bytes in the pipe */
	uint64_t spl_sent;		/* bytes spliced to the client */
};

/* Free exchanges of one worker, kept for reuse. */
struct exchange_pool {
	struct exchange *free;
	uint32_t n_free;
};

#define EXCHANGE_CACHE 1024	/* free exchanges kept for reuse */

/* Make sure c->x exists (zeroed when new). 0 or -ENOMEM. */
int exchange_attach(struct exchange_pool *xp, struct conn *c);
/* Give c->x back to the pool (its config and buffers released first:
 * proxy__put_cfg). */
void exchange_detach(struct exchange_pool *xp, struct conn *c);
/* Free the pooled exchanges (none may be attached any more). */
void exchange_pool_destroy(struct exchange_pool *xp);

#endif
