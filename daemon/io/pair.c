// SPDX-License-Identifier: MIT
/* Two transports joined in the process (see pair.h). */
#include "io/pair.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io/loop.h"
#include "lib/buf.h"

/* Pieces of a gather write (the HTTP/1.1 engine writes a head in two). */
#define PAIR_IOV_MAX 4
/* Pool buffers one direction may hold: with the default 36 KiB blocks
 * about what a Unix socket pair buffers (~208 KiB), so a stream that
 * uploads while it is answered has the slack it had over one. */
#define PAIR_QBUFS 6

struct pair;

struct pair_end {
	struct pair *pr;
	struct pair_end *peer;
	/* what the peer wrote, not yet read: q[0] is read, q[nq - 1]
	 * written; none of them empty */
	struct buf *q[PAIR_QBUFS];
	unsigned int nq;
	unsigned int qmax;	/* buffers q may hold (PAIR_QBUFS at most) */
	size_t out;		/* bytes of q[0] read_done() handed out */
	size_t rd_max;
	uint64_t rd_ud, wr_ud;
	/* their completions: one read and one write at a time each, so a
	 * post of either never finds its node still queued */
	struct loop_post rd_post, wr_post;
	bool rd_waiting;	/* a read waits for bytes or EOF */
	bool wr_waiting;	/* a write waits for room in peer->q */
	bool shut;		/* writes no more (shut down or closed) */
	bool closed;
	struct iovec wr_iov[PAIR_IOV_MAX];	/* the waiting write's data */
	unsigned int wr_iovcnt;
};

struct pair {
	struct pair_end e[2];
	struct loop *loop;
	struct buf_pool *bufs;
};

static const struct transport_ops pair_ops;

static struct pair_end *end_of(const struct transport *t)
{
	return t->priv;
}

static void complete_read(struct pair_end *e, int res)
{
	e->rd_waiting = false;
	(void)loop_post(e->pr->loop, &e->rd_post, e->rd_ud, res);
}

static void complete_write(struct pair_end *e, int res)
{
	e->wr_waiting = false;
	(void)loop_post(e->pr->loop, &e->wr_post, e->wr_ud, res);
}

/* A read that waits completes when e has bytes, or EOF to report. */
static void wake_reader(struct pair_end *e)
{
	if (!e->rd_waiting || e->closed || (!e->nq && !e->peer->shut))
		return;
	complete_read(e, 0);
}

/* Copy what fits of iov into dst's queue: bytes taken, or -ENOMEM.
 * Bytes are only ever appended (a read may hold q[0]'s in place). */
static long take(struct pair_end *dst, const struct iovec *iov,
		 unsigned int n)
{
	size_t got = 0;

	for (unsigned int i = 0; i < n; i++) {
		const char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			struct buf *last = dst->nq ? dst->q[dst->nq - 1]
						   : NULL;
			size_t k;

			if (!last || !buf_room(last)) {
				if (dst->nq >= dst->qmax)
					return (long)got;	/* full */
				last = buf_get(dst->pr->bufs);
				if (!last)
					return got ? (long)got : -ENOMEM;
				dst->q[dst->nq++] = last;
			}
			k = buf_append(last, p, left);
			p += k;
			left -= k;
			got += k;
		}
	}
	return (long)got;
}

static int write_iov(struct transport *t, const struct iovec *iov,
		     unsigned int n, uint64_t ud)
{
	struct pair_end *e = end_of(t), *d = e->peer;
	size_t total = 0;
	long got;

	if (e->wr_waiting || e->wr_post.queued || n > PAIR_IOV_MAX)
		return -EINVAL;	/* one write at a time, as on a socket */
	e->wr_ud = ud;
	if (e->shut || d->closed) {
		complete_write(e, -EPIPE);
		return 0;
	}
	for (unsigned int i = 0; i < n; i++)
		total += iov[i].iov_len;
	got = take(d, iov, n);
	if (got < 0)
		return (int)got;
	if (got == 0 && total) {
		/* d's queue is full: the write waits for its reader */
		memcpy(e->wr_iov, iov, n * sizeof(*iov));
		e->wr_iovcnt = n;
		e->wr_waiting = true;
		return 0;
	}
	complete_write(e, (int)got);
	wake_reader(d);
	return 0;
}

static int pair_write(struct transport *t, const void *buf, size_t len,
		      unsigned int flags, uint64_t ud)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	(void)flags;
	return write_iov(t, &iov, 1, ud);
}

static int pair_writev(struct transport *t, struct msghdr *msg,
		       unsigned int flags, uint64_t ud)
{
	(void)flags;
	return write_iov(t, msg->msg_iov, (unsigned int)msg->msg_iovlen, ud);
}

static long pair_write_done(struct transport *t, const struct loop_cqe *cqe)
{
	(void)t;
	return cqe->res;
}

static int pair_read(struct transport *t, size_t maxlen, unsigned int flags,
		     uint64_t ud)
{
	struct pair_end *e = end_of(t);

	(void)flags;
	if (e->rd_waiting || e->rd_post.queued)
		return -EINVAL;	/* one read at a time */
	e->rd_ud = ud;
	e->rd_max = maxlen ? maxlen : 1;
	e->rd_waiting = true;
	wake_reader(e);
	return 0;
}

static long pair_read_done(struct transport *t, const struct loop_cqe *cqe,
			   const char **data)
{
	struct pair_end *e = end_of(t);
	size_t n = e->nq ? buf_len(e->q[0]) : 0;

	*data = NULL;
	if (cqe->res < 0)
		return cqe->res;
	if (n > e->rd_max)
		n = e->rd_max;
	if (!n)
		/* EOF once the queue is drained; else nothing came after
		 * all (a read completed by a cancel that lost its race) */
		return e->peer->shut ? 0 : -EAGAIN;
	*data = buf_head(e->q[0]);
	e->out = n;
	return (long)n;
}

static void pair_read_release(struct transport *t, const struct loop_cqe *cqe)
{
	struct pair_end *e = end_of(t), *w = e->peer;
	long got;

	(void)cqe;
	if (!e->nq)
		return;
	buf_consume(e->q[0], e->out);
	e->out = 0;
	if (!buf_len(e->q[0])) {
		/* drained: an idle end holds no buffer */
		buf_put(e->pr->bufs, e->q[0]);
		memmove(e->q, e->q + 1, --e->nq * sizeof(e->q[0]));
	}
	if (w->wr_waiting) {
		/* room again: the peer's waiting write goes in */
		got = take(e, w->wr_iov, w->wr_iovcnt);
		if (got)
			complete_write(w, (int)got);	/* or -ENOMEM */
	}
}

static int pair_shutdown(struct transport *t)
{
	struct pair_end *e = end_of(t);

	e->shut = true;
	wake_reader(e->peer);
	return 0;
}

static bool targeted(const uint64_t *targets, unsigned int n, uint64_t ud)
{
	for (unsigned int i = 0; i < n; i++)
		if (targets[i] == ud)
			return true;
	return false;
}

/* No operation of a pair is the ring's: the waiting ones complete with
 * -ECANCELED (the others have completed already, or are posted), and no
 * cancel request is submitted. */
static unsigned int pair_cancel(struct transport *t, const uint64_t *targets,
				unsigned int n, uint64_t ud)
{
	struct pair_end *e = end_of(t);

	(void)ud;
	if (e->rd_waiting && targeted(targets, n, e->rd_ud))
		complete_read(e, -ECANCELED);
	if (e->wr_waiting && targeted(targets, n, e->wr_ud))
		complete_write(e, -ECANCELED);
	return 0;
}

static void pair_close(struct transport *t)
{
	struct pair_end *e = end_of(t), *d;

	if (!e)
		return;
	d = e->peer;
	/* closed with completions still queued only when the whole table
	 * goes (conn_table_destroy): they must not outlive the pair */
	loop_unpost(e->pr->loop, &e->rd_post);
	loop_unpost(e->pr->loop, &e->wr_post);
	e->rd_waiting = e->wr_waiting = false;
	e->closed = e->shut = true;
	while (e->nq)
		buf_put(e->pr->bufs, e->q[--e->nq]);
	t->priv = NULL;
	if (d->closed) {
		free(e->pr);
		return;
	}
	/* the peer reads EOF, and its writes fail */
	wake_reader(d);
	if (d->wr_waiting)
		complete_write(d, -EPIPE);
}

static const struct transport_ops pair_ops = {
	.name = "pair",
	.read = pair_read,
	.read_done = pair_read_done,
	.read_release = pair_read_release,
	.write = pair_write,
	.writev = pair_writev,
	.write_done = pair_write_done,
	.shutdown = pair_shutdown,
	.cancel = pair_cancel,
	.close = pair_close,
};

int transport_pair_init(struct transport *a, struct transport *b,
			struct loop *l, struct buf_pool *bufs)
{
	struct pair *pr = calloc(1, sizeof(*pr));
	struct transport *t[2] = { a, b };

	if (!pr)
		return -ENOMEM;
	pr->loop = l;
	pr->bufs = bufs;
	for (int i = 0; i < 2; i++) {
		pr->e[i].pr = pr;
		pr->e[i].peer = &pr->e[1 - i];
		pr->e[i].qmax = PAIR_QBUFS;
		t[i]->ops = &pair_ops;
		t[i]->loop = l;
		t[i]->fd = -1;
		t[i]->priv = &pr->e[i];
	}
	return 0;
}

void transport_pair_set_queue(struct transport *t, unsigned int nbufs)
{
	struct pair_end *e = end_of(t);

	e->qmax = nbufs < 1 ? 1 : nbufs > PAIR_QBUFS ? PAIR_QBUFS : nbufs;
}

bool transport_is_pair(const struct transport *t)
{
	return t->ops == &pair_ops;
}

bool transport_pair_peer_gone(const struct transport *t)
{
	return transport_is_pair(t) && t->priv && end_of(t)->peer->shut;
}
