/* SPDX-License-Identifier: MIT */
/*
 * Client and upstream connection state: a pre-allocated table per worker,
 * a free list, a list of live connections (scanned by the worker's timer),
 * and the teardown rule of the io_uring model: a connection marked closing
 * has its pending operations cancelled and is freed only when its count of
 * in-flight operations reaches zero (liburing examples/proxy.c, redis
 * freeClientAsync).
 *
 * This layer knows nothing of HTTP: what a connection carries (its state,
 * its current exchange: c->x) belongs to the layer above, which gives it
 * back through the table's release hook when the connection is freed.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "io/loop.h"
#include "io/transport.h"

struct buf;
struct buf_pool;
/* What a client connection carries, defined by the layer above
 * (proxy/exchange.h): opaque here. */
struct exchange;

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
	CONN_OP_POLL,		/* readiness (a non-blocking socket) */
	/* a transport layered on another doing its own I/O on the socket
	 * (HTTP/2 to upstreams, proxy/h2_up.c) */
	CONN_OP_XRECV,
	CONN_OP_XSEND,
	/* a completion the owner posts itself (loop_post, conn.defer), to
	 * look at the connection again after the ring's completions of the
	 * turn */
	CONN_OP_DEFER,
	/* a timeout of the connection's own (HTTP/2 output coalescing) */
	CONN_OP_TIMER,
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
/* Bits from here up are the owner's to define (proxy_int.h). */
#define CONN_F_OWNER	(1u << 8)

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
	uint16_t listener;		/* client: index in config.listeners */
	unsigned int requests;		/* served on this connection */
	struct loop_ts ts;		/* connect timeout span */
	struct loop_post defer;		/* CONN_OP_DEFER, while queued */
	/* client side only: the exchange in progress, owned by the layer
	 * above; NULL while idle between requests. Released through
	 * conn_table.release_x when the connection is freed (a send in
	 * flight until then may still read it). */
	struct exchange *x;
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
	/* the owner's: gives back c->x of a connection being freed (called
	 * for every freed connection, c->x NULL or not) */
	void (*release_x)(void *ctx, struct conn *c);
	void *release_ctx;
};

/* n slots (<= LOOP_ID_MAX). 0 or -errno. */
int conn_table_init(struct conn_table *t, uint32_t n, struct loop *l,
		    struct buf_pool *bufs);
/* Frees the table; live connections' sockets are closed (and their c->x
 * released). */
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

#endif
