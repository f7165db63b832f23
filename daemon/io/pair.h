/* SPDX-License-Identifier: MIT */
/*
 * Two transports joined in the process: what one end writes, the other
 * reads, as over a connected pair of stream sockets, without a socket, a
 * descriptor or a system call. An HTTP/2 stream reaches the HTTP/1.1
 * request path over one (proxy/h2_stream.c).
 *
 * Operations complete as the socket transport's do, through the loop
 * (loop_post(): a completion made in user space, delivered in the same
 * or the next turn), never inside the call that submits them. A write
 * copies what fits into the other end's queue (a few pool buffers,
 * taken as bytes wait and given back as they are read: a short write
 * when full, as a socket's buffer gives one) and completes with that
 * count; with no room at all it waits until the reader makes some. A
 * read completes once its end's queue has bytes or the other end has
 * shut down (EOF then, once the queue is drained); read_done() hands out
 * the first buffer's bytes in place, read_release() consumes them. Shutdown
 * and close are seen by the other end as EOF; writes to an end that is
 * gone fail with -EPIPE. A cancel completes the end's waiting operations
 * with -ECANCELED.
 */
#ifndef SLUICE_PAIR_H
#define SLUICE_PAIR_H

#include "io/transport.h"

struct buf_pool;

/* Join a and b (neither initialised yet; each is closed with
 * transport_close() as usual, the pair freed with the second). Queues
 * are taken from bufs, whose blocks bound what one end holds. 0 or
 * -ENOMEM. */
int transport_pair_init(struct transport *a, struct transport *b,
			struct loop *l, struct buf_pool *bufs);

/* How many pool buffers the queue of t, one end of a pair, may hold of
 * what the other end writes (1 to 6, the default; a write finding it full
 * completes short, or waits): what a reader that stops reading makes
 * the pair hold. */
void transport_pair_set_queue(struct transport *t, unsigned int nbufs);
/* t is one end of a pair. */
bool transport_is_pair(const struct transport *t);
/* The other end of t, a pair's, has shut down or closed: t reads EOF
 * once its queue is drained (the completion saying so may still be on
 * its way). False for a transport that is not a pair. */
bool transport_pair_peer_gone(const struct transport *t);

#endif
