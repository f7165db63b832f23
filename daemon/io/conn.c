// SPDX-License-Identifier: MIT
/* Connection table and teardown. See conn.h. */
#include "io/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/log.h"
#include "lib/buf.h"

static void live_add(struct conn_table *t, struct conn *c)
{
	c->live_next = t->live.live_next;
	c->live_prev = &t->live;
	t->live.live_next->live_prev = c;
	t->live.live_next = c;
	t->n_live++;
}

static void live_del(struct conn_table *t, struct conn *c)
{
	c->live_prev->live_next = c->live_next;
	c->live_next->live_prev = c->live_prev;
	c->live_prev = c->live_next = NULL;
	t->n_live--;
}

/* What c carries goes back to its owner (also told when c->x is NULL:
 * an owner may hang more on a connection, by its id). */
static void release_x(struct conn_table *t, struct conn *c)
{
	if (t->release_x)
		t->release_x(t->release_ctx, c);
	c->x = NULL;
}

int conn_table_init(struct conn_table *t, uint32_t n, struct loop *l,
		    struct buf_pool *bufs)
{
	memset(t, 0, sizeof(*t));
	if (n == 0 || n > LOOP_ID_MAX)
		return -EINVAL;
	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->n = n;
	t->loop = l;
	t->bufs = bufs;
	t->live.live_next = t->live.live_prev = &t->live;
	/* slots are handed out in index order on first use, so a table sized
	 * for many connections costs memory only for those it really had */
	t->n_fresh = 0;
	return 0;
}

void conn_table_destroy(struct conn_table *t)
{
	if (!t->slots)
		return;
	for (uint32_t i = 0; i < t->n_fresh; i++) {
		struct conn *c = &t->slots[i];

		if (c->kind == CONN_FREE)
			continue;
		/* a completion of the owner's still queued: not delivered
		 * into the freed table */
		if (t->loop)
			loop_unpost(t->loop, &c->defer);
		if (c->tr.ops)
			transport_close(&c->tr);
		buf_put(t->bufs, c->in);
		buf_put(t->bufs, c->out);
		buf_put(t->bufs, c->hold[0]);
		buf_put(t->bufs, c->hold[1]);
		release_x(t, c);
	}
	free(t->slots);
	t->slots = NULL;
}

struct conn *conn_alloc(struct conn_table *t, enum conn_kind kind, int fd)
{
	struct conn *c = t->free;
	uint32_t id, gen;

	if (c) {
		t->free = c->live_next;
		id = c->id;
		gen = c->gen;
	} else if (t->n_fresh < t->n) {
		id = t->n_fresh++;
		c = &t->slots[id];
		gen = 1;
	} else {
		errno = EMFILE;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->gen = gen;
	c->kind = (uint8_t)kind;
	transport_plain_init(&c->tr, t->loop, fd);
	live_add(t, c);
	if (kind == CONN_CLIENT)
		t->n_clients++;
	return c;
}

struct conn *conn_lookup(struct conn_table *t, uint64_t ud)
{
	uint32_t id = loop_ud_id(ud);
	struct conn *c;

	if (id >= t->n_fresh)
		return NULL;
	c = &t->slots[id];
	if (c->kind == CONN_FREE || c->gen != loop_ud_gen(ud))
		return NULL;
	return c;
}

static void conn_free(struct conn_table *t, struct conn *c)
{
	release_x(t, c);
	transport_close(&c->tr);
	buf_put(t->bufs, c->in);
	buf_put(t->bufs, c->out);
	buf_put(t->bufs, c->hold[0]);
	buf_put(t->bufs, c->hold[1]);
	c->in = c->out = c->hold[0] = c->hold[1] = NULL;
	live_del(t, c);
	if (c->kind == CONN_CLIENT)
		t->n_clients--;
	c->kind = CONN_FREE;
	c->gen++;
	if (c->gen == 0)
		c->gen = 1;
	c->live_next = t->free;
	t->free = c;
}

bool conn_op_done(struct conn_table *t, struct conn *c)
{
	if (c->inflight == 0) {
		pr_err("conn %u: completion with nothing in flight", c->id);
	} else {
		c->inflight--;
	}
	if (conn_closing(c) && c->inflight == 0) {
		conn_free(t, c);
		return true;
	}
	return false;
}

/*
 * Cancels what c has in flight, by user data: every operation of a
 * connection carries conn_ud(c, op) for one of these ops (the transports
 * pass the caller's on, or use the X ops for their own), and the ring
 * finds a user datum with one hash lookup. A cancel by descriptor walks
 * every request pending on the ring instead, each time: with thousands of
 * connections open closes cost that many comparisons each. A cancel that
 * finds nothing completes with -ENOENT. Each submitted cancel is an
 * operation in flight of c. True when the ring had no room for all.
 */
static bool cancel_pending(struct conn *c)
{
	/* client connections never connect, nor layer a transport */
	static const enum conn_op ops[] = {
		CONN_OP_RECV, CONN_OP_SEND, CONN_OP_POLL,
		CONN_OP_CONNECT, CONN_OP_XRECV, CONN_OP_XSEND,
	};
	uint64_t targets[sizeof(ops) / sizeof(ops[0])];
	unsigned int i, n = c->kind == CONN_UPSTREAM ? 6 : 3, done;

	for (i = 0; i < n; i++)
		targets[i] = conn_ud(c, ops[i]);
	done = transport_cancel(&c->tr, targets, n,
				conn_ud(c, CONN_OP_CANCEL));
	for (i = 0; i < done; i++)
		conn_op_start(c);
	return done < n;
}

void conn_close(struct conn_table *t, struct conn *c)
{
	if (conn_closing(c))
		return;
	c->flags |= CONN_F_CLOSING;
	c->deadline_ms = 0;
	if (c->peer) {
		if (c->peer->peer == c)
			c->peer->peer = NULL;
		c->peer = NULL;
	}
	if (c->inflight == 0) {
		conn_free(t, c);
		return;
	}
	if (cancel_pending(c) && c->tr.fd >= 0)
		/* no room to cancel: a reset socket fails what is pending */
		shutdown(c->tr.fd, SHUT_RDWR);
}

int conn_in_get(struct conn_table *t, struct conn *c)
{
	if (!c->in && !(c->in = buf_get(t->bufs)))
		return -ENOMEM;
	return 0;
}

int conn_out_get(struct conn_table *t, struct conn *c)
{
	if (!c->out && !(c->out = buf_get(t->bufs)))
		return -ENOMEM;
	return 0;
}

void conn_bufs_trim(struct conn_table *t, struct conn *c)
{
	if (c->in && buf_len(c->in) == 0) {
		buf_put(t->bufs, c->in);
		c->in = NULL;
	}
	if (c->out && !(c->flags & CONN_F_SEND)) {
		buf_put(t->bufs, c->out);
		c->out = NULL;
	}
}
