/* SPDX-License-Identifier: MIT */
/*
 * Client and upstream connection state: a pre-allocated table per worker,
 * a free list, a list of live connections (scanned by the worker's timer),
 * and the teardown rule of the io_uring model: a connection marked closing
 * has its pending operations cancelled and is freed only when its count of
 * in-flight operations reaches zero (liburing examples/proxy.c, redis
 * freeClientAsync).
 *
 * The HTTP exchange state that the proxy module (proxy*.c) drives lives
 * here too, so that a connection is one object with one lifetime.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http/http.h"
#include "io/loop.h"
#include "obs/obs.h"
#include "io/transport.h"

struct rl_limit;

struct buf;
struct buf_pool;
struct config;

enum conn_kind {
	CONN_FREE = 0,
	CONN_CLIENT,
	CONN_UPSTREAM,
};

/* Operation codes of per-connection operations (loop_ud op field). */
enum conn_op {
	CONN_OP_RECV = 1,
	CONN_OP_SEND,
	CONN_OP_CONNECT,
	CONN_OP_CONNECT_TIMEOUT,
	CONN_OP_CANCEL,
	CONN_OP_POLL,		/* readiness for a splice (proxy_splice.c) */
	CONN_OP__MAX,
};

#define CONN_F_CLOSING	(1u << 0)	/* teardown started */
#define CONN_F_RECV	(1u << 1)	/* a receive is in flight */
#define CONN_F_SEND	(1u << 2)	/* a send is in flight */
#define CONN_F_CONNECT	(1u << 3)	/* connect (+ its timer) in flight */
#define CONN_F_EOF	(1u << 4)	/* peer closed its side */
#define CONN_F_POOLED	(1u << 5)	/* idle in an upstream pool */
#define CONN_F_POLL	(1u << 6)	/* a readiness poll is in flight */
#define CONN_F_NONBLOCK	(1u << 7)	/* the socket is O_NONBLOCK (splice) */
/* upstream: its last response had a body worth splicing, so the next
 * response head is read alone (proxy_splice.c) */
#define CONN_F_LARGE	(1u << 8)

/* Progress of one direction of an exchange. */
enum conn_phase {
	CONN_PH_IDLE = 0,	/* not started */
	CONN_PH_HEAD,		/* head being sent */
	CONN_PH_BODY,		/* body being streamed */
	CONN_PH_DONE,
};

/* One request/response exchange, held by the client connection while a
 * request is in progress (an idle keep-alive connection has none: it is
 * taken from the table's pool when request bytes arrive). */
struct conn_exchange {
	struct conn_exchange *next_free;	/* pool link while free */
	struct config *cfg;		/* snapshot the request started on */
	int route;
	int service;
	unsigned int target;		/* index into the service's targets */
	unsigned int tries;		/* connection attempts made */
	bool head_method;		/* request was HEAD */
	bool idempotent;
	bool client_keep_alive;		/* client may send another request */
	bool client_http10;
	bool upstream_reused;		/* came from the pool */
	bool resp_started;		/* bytes of the response sent to client */
	bool resp_head_parsed;		/* final (non-1xx) head parsed */
	bool upstream_keep_alive;
	uint8_t req_phase;		/* enum conn_phase */
	uint8_t resp_phase;
	enum http_body req_body;
	enum http_body resp_body;
	uint64_t req_left;		/* Content-Length bytes still to forward */
	uint64_t resp_left;
	struct http_chunked req_ck;
	struct http_chunked resp_ck;
	/* The chunked request body as received before the head goes
	 * upstream, validated ahead of req_ck (proxy_chunked.c): its state,
	 * the bytes and the data bytes seen, and whether its end was. */
	struct http_chunked req_seen_ck;
	size_t req_seen;
	uint64_t req_seen_data;
	bool req_seen_done;
	bool interim;			/* a 1xx head is being sent */
	bool req_aborted;		/* request body not (fully) forwarded */
	bool req_ck_done;		/* chunked scanner saw the end */
	bool resp_ck_done;
	bool stale_retried;		/* retried after a dead pooled conn */
	size_t resp_last_len;		/* parse resume hint for the response */
	size_t req_inflight;		/* bytes of client->in being sent */
	size_t resp_inflight;		/* bytes of upstream->in being sent */
	uint64_t started_ms;
	struct obs_exchange obs;	/* metrics and access log (obs.h) */
	/* ---- issue 4: what hooks (auth, limits, access log) read ---- */
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
	uint64_t req_body_bytes;	/* request body bytes forwarded (data) */
	uint64_t resp_body_bytes;	/* response body bytes sent to the client */
	uint64_t max_body;		/* route limit (0: none) */
	struct buf *frame;		/* re-framed chunked request body */
	/* The response head (client->out) and the body bytes already
	 * received behind it (head_body bytes at the front of upstream->in)
	 * leave in one gather write; upstream->in is consumed when it
	 * completes. */
	struct msghdr head_msg;
	struct iovec head_iov[2];
	size_t head_body;
	bool head_gather;		/* that write is in flight */
	bool upgrade;			/* websocket handshake forwarded */
	bool tunnel;			/* 101 received: two-way tunnel */
	bool resp_dechunk;		/* chunked response to an HTTP/1.0 client:
					 * data only, close-delimited */
	bool xff_used;			/* client_addr came from X-Forwarded-For */
	/* client_addr is not the TCP peer (PROXY header or XFF) */
	bool client_proxied;
	bool client_close;		/* the request said Connection: close
					 * (or was HTTP/1.0 without keep-alive) */
	/* issue 5: RateLimit-* on the response (route ratelimit_headers) */
	bool rl_headers;
	uint64_t rl_limit, rl_remaining, rl_reset;
	const struct rl_limit *rl_policy;	/* in x.cfg's tables */
	/* A Content-Length response body moved by the kernel (splice(2)):
	 * upstream socket -> pipe -> client socket, never through user
	 * space. The head (head_iov, head_body bytes of upstream->in behind
	 * it) is written first. proxy_splice.c. */
	bool spl;			/* the body is being spliced */
	int spl_pipe[2];		/* read, write end (valid while spl) */
	size_t spl_inpipe;		/* bytes in the pipe */
	uint64_t spl_sent;		/* bytes spliced to the client */
};

struct conn {
	uint32_t id;
	uint32_t gen;
	uint8_t kind;			/* enum conn_kind */
	uint8_t state;			/* owner-defined (proxy_int.h) */
	uint16_t flags;			/* CONN_F_* */
	uint32_t inflight;		/* operations submitted, not completed */
	struct transport tr;
	struct buf *in;			/* received, not yet consumed */
	struct buf *out;		/* heads built by the gateway */
	/* a peer's buffers this connection's in-flight send still reads;
	 * given back when the connection is freed */
	struct buf *hold[2];
	/* the send in flight: wptr/wlen remain to be sent */
	const char *wptr;
	size_t wlen;
	struct conn *peer;		/* client <-> upstream */
	uint64_t deadline_ms;		/* 0: none */
	struct conn *live_prev, *live_next;
	/* upstream pool membership */
	struct conn *pool_prev, *pool_next;
	void *pool;
	/* client: remote address (the PROXY protocol source when the
	 * listener speaks it and the peer is trusted); upstream: target */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char ip[INET6_ADDRSTRLEN];
	uint8_t lflags;			/* client: listener flags (PROXY_L_*) */
	/* client: addr came from a PROXY header, it is not the TCP peer */
	bool addr_proxied;
	bool tunnel_shut_up;		/* tunnel: write side of peer shut */
	size_t last_len;		/* request head parse resume hint */
	unsigned int requests;		/* served on this connection */
	struct loop_ts ts;		/* connect timeout span */
	/* client side only; NULL while idle between requests (conn_x_get) */
	struct conn_exchange *x;
};

struct conn_table {
	struct conn *slots;
	uint32_t n;
	struct conn *free;		/* slots used before, now free */
	uint32_t n_fresh;		/* slots [n_fresh, n) never used (their
					 * pages are never touched) */
	struct conn live;		/* sentinel of the live list */
	uint32_t n_live;
	uint32_t n_clients;
	struct buf_pool *bufs;
	struct loop *loop;
	struct conn_exchange *x_free;	/* exchange pool */
	uint32_t n_x_free;
};

#define CONN_X_CACHE 1024	/* free exchanges kept for reuse */

/* n slots (<= LOOP_ID_MAX). 0 or -errno. */
int conn_table_init(struct conn_table *t, uint32_t n, struct loop *l,
		    struct buf_pool *bufs);
/* Frees the table; live connections' sockets are closed. */
void conn_table_destroy(struct conn_table *t);

/* A connection for fd (plain transport) or NULL + errno = EMFILE when the
 * table is full. */
struct conn *conn_alloc(struct conn_table *t, enum conn_kind kind, int fd);

/* The live connection a completion belongs to, or NULL if stale. */
struct conn *conn_lookup(struct conn_table *t, uint64_t ud);

static inline uint64_t conn_ud(const struct conn *c, enum conn_op op)
{
	return loop_ud(op, c->id, c->gen);
}

/* Account for a submitted / completed operation. conn_op_done() returns
 * true when the connection was freed (closing and nothing left in flight):
 * the caller must not touch it again. */
static inline void conn_op_start(struct conn *c)
{
	c->inflight++;
}
bool conn_op_done(struct conn_table *t, struct conn *c);

/* Start teardown: cancel what is pending; free now or when the last
 * operation completes. Idempotent. Detaches the peer link both ways. */
void conn_close(struct conn_table *t, struct conn *c);

static inline bool conn_closing(const struct conn *c)
{
	return c->flags & CONN_F_CLOSING;
}

/* Make sure c->in / c->out exist. 0 or -ENOMEM. */
int conn_in_get(struct conn_table *t, struct conn *c);
int conn_out_get(struct conn_table *t, struct conn *c);
/* Give empty buffers back to the pool (idle connections hold none). */
void conn_bufs_trim(struct conn_table *t, struct conn *c);

/* Make sure c->x exists (zeroed when new). 0 or -ENOMEM. */
int conn_x_get(struct conn_table *t, struct conn *c);
/* Give c->x back to the pool (its config and buffers released first). */
void conn_x_put(struct conn_table *t, struct conn *c);

#endif
