// SPDX-License-Identifier: MIT
/*
 * Response bodies the kernel moves itself. A Content-Length body with at
 * least http.splice_min_bytes still to come after its head goes from the
 * upstream socket into a pipe and from the pipe to the client socket with
 * splice(2): the pages the upstream's data arrived in are handed on by
 * reference, where a receive and a send would copy every byte twice (out
 * of the kernel and back in). Plain sockets on both sides only (a TLS
 * transport's bytes are records, not the body); a Unix-domain upstream
 * is one: its stream socket splices into a pipe as TCP does.
 *
 * The head the gateway built (client->out) and the body bytes received
 * behind it (the front of upstream->in) are written first, with a direct
 * sendmsg(2); then the pipe is filled from the upstream (at most the bytes
 * the body has left, so nothing past this response is ever taken) and
 * drained to the client, until the body is complete. The sockets are made
 * non-blocking the first time (splice takes O_NONBLOCK from the socket,
 * not from its flags); when a side is not ready, a one-shot poll on it
 * (CONN_OP_POLL) resumes the exchange. Nothing else reads the upstream
 * meanwhile: a splice starts only with no receive in flight on it, and
 * proxy__post_recv() posts none while it lasts.
 *
 * Memory stays bounded: the pipe holds at most its capacity (64 KiB by
 * default) of page references, and the upstream is read only when the
 * pipe is empty. An empty pipe goes back to the worker's cache at the end
 * of the exchange; one torn down with bytes in it is closed.
 *
 * Which responses: the receive that brings a response head normally takes
 * the whole response (head and body in one buffer). An upstream whose
 * last response body was at least splice_min_bytes (CONN_F_LARGE) has its
 * next head read alone (PROXY_SPLICE_HEAD_READ bytes at most) instead, so
 * that its body is still in the socket to be spliced; one whose last
 * response was small keeps its armed receive (proxy.c).
 */
#include "proxy/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/log.h"
#include "obs/obs.h"
#include "proxy/proxy_int.h"

/* At most this much per splice from the upstream: the default capacity of
 * a pipe (the kernel stops earlier when the pipe is full). */
#define SPLICE_CHUNK	(64u * 1024)

static int pipe_get(struct proxy *p, int fds[2])
{
	if (p->n_pipes) {
		p->n_pipes--;
		fds[0] = p->pipes[p->n_pipes][0];
		fds[1] = p->pipes[p->n_pipes][1];
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	return 0;
}

/* An empty pipe is kept for reuse; one with bytes in it is closed (they
 * belonged to a response that will never be completed). */
static void pipe_put(struct proxy *p, const int fds[2], bool empty)
{
	if (empty && p->n_pipes < PROXY_PIPE_CACHE) {
		p->pipes[p->n_pipes][0] = fds[0];
		p->pipes[p->n_pipes][1] = fds[1];
		p->n_pipes++;
		return;
	}
	close(fds[0]);
	close(fds[1]);
}

void proxy__pipes_close(struct proxy *p)
{
	while (p->n_pipes) {
		p->n_pipes--;
		close(p->pipes[p->n_pipes][0]);
		close(p->pipes[p->n_pipes][1]);
	}
}

static int set_nonblock(struct conn *c)
{
	int on = 1;

	if (c->flags & CONN_F_NONBLOCK)
		return 0;
	if (ioctl(c->tr.fd, FIONBIO, &on))
		return -errno;
	c->flags |= CONN_F_NONBLOCK;
	return 0;
}

void proxy__splice_end(struct proxy *p, struct exchange *x)
{
	if (!x->spl)
		return;
	pipe_put(p, x->spl_pipe, x->spl_inpipe == 0);
	obs_spliced(p->worker, x->spl_sent);
	x->spl = false;
	x->spl_inpipe = 0;
	x->spl_sent = 0;
}

/* A one-shot poll for events on c; the exchange resumes on its
 * completion (proxy__on_poll). */
static int wait_for(struct conn *c, unsigned int events)
{
	int ret;

	if (c->flags & CONN_F_POLL)
		return 0;
	ret = loop_poll(c->tr.loop, c->tr.fd, events, conn_ud(c, CONN_OP_POLL));
	if (ret)
		return ret;
	conn_op_start(c);
	c->flags |= CONN_F_POLL;
	return 0;
}

/* Write what is left of the head (head_iov[0..1]); true when all of it is
 * out, false when the client is not ready (*err: 0) or failed (*err). */
static bool write_head(struct conn *c, struct conn *u, int *err)
{
	struct exchange *x = c->x;
	struct iovec *iov = x->head_iov;
	struct msghdr m = { 0 };
	unsigned int first = iov[0].iov_len ? 0 : 1;
	ssize_t r;

	*err = 0;
	if (!iov[0].iov_len && !iov[1].iov_len)
		return true;
	m.msg_iov = &iov[first];
	m.msg_iovlen = 2 - first;
	/* body bytes in the pipe leave with it, in the same segment */
	r = sendmsg(c->tr.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT |
				  (x->spl_inpipe ? MSG_MORE : 0));
	if (r < 0) {
		if (errno != EAGAIN)
			*err = -errno;
		return false;
	}
	x->obs.bytes_out += (uint64_t)r;
	for (unsigned int i = first; i < 2 && r > 0; i++) {
		size_t n = (size_t)r < iov[i].iov_len ? (size_t)r
						       : iov[i].iov_len;

		iov[i].iov_base = (char *)iov[i].iov_base + n;
		iov[i].iov_len -= n;
		r -= (ssize_t)n;
	}
	if (iov[0].iov_len || iov[1].iov_len)
		return false;
	/* the body bytes that were behind the head in upstream->in */
	if (u->in)
		buf_consume(u->in, x->head_body);
	x->head_body = 0;
	return true;
}

/*
 * Every step possible now: the head, then fill the (empty) pipe from the
 * upstream and drain it to the client, until the body is complete
 * (res.phase EX_PH_DONE) or a side is not ready (a poll armed on it).
 * A failure closes the client (the response has begun: nothing else can
 * be said to it).
 */
void proxy__splice_pump(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	struct conn *u = c->peer;
	const char *what = NULL;
	int err = 0;
	ssize_t r;

	if (!u) {
		what = "the upstream is gone";
		goto fail;
	}
	for (;;) {
		bool in_ready = true;

		if (!x->spl_inpipe && x->res.left) {
			size_t want = x->res.left < SPLICE_CHUNK ?
					      (size_t)x->res.left :
					      SPLICE_CHUNK;

			r = splice(u->tr.fd, NULL, x->spl_pipe[1], NULL, want,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (r > 0) {
				x->spl_inpipe = (size_t)r;
				x->res.left -= (uint64_t)r;
			} else if (r == 0) {
				what = "the upstream closed within the body";
				goto fail;
			} else if (errno == EAGAIN) {
				in_ready = false;
			} else {
				err = -errno;
				what = "upstream receive failed";
				goto fail;
			}
		}
		if (!write_head(c, u, &err)) {
			if (err) {
				what = "client send failed";
				goto fail;
			}
			goto wait_out;
		}
		if (x->spl_inpipe) {
			r = splice(x->spl_pipe[0], NULL, c->tr.fd, NULL,
				   x->spl_inpipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (r > 0) {
				x->spl_inpipe -= (size_t)r;
				x->spl_sent += (uint64_t)r;
				x->res.body_bytes += (uint64_t)r;
				x->obs.bytes_out += (uint64_t)r;
			} else if (r < 0 && errno != EAGAIN) {
				err = -errno;
				what = "client send failed";
				goto fail;
			}
			if (x->spl_inpipe)
				goto wait_out;
		}
		if (!x->res.left) {
			proxy__splice_end(p, x);
			x->res.phase = EX_PH_DONE;
			return;
		}
		if (!in_ready) {
			if (wait_for(u, POLLIN | POLLRDHUP))
				goto fail;
			return;
		}
	}
wait_out:
	if (wait_for(c, POLLOUT) == 0)
		return;
fail:
	pr_debug("worker %u: %s: spliced response: %s%s%s", p->worker, c->ip,
		 what ? what : "cannot wait", err ? ": " : "",
		 err ? strerror(-err) : "");
	proxy__close_client(p, c);
}

/*
 * From send_head(): the response head is in c->out and `body` bytes of its
 * body (already counted out of res.left) at the front of u->in. True when
 * the rest of the body is spliced, which starts now; false: send it the
 * usual way.
 */
bool proxy__splice_start(struct proxy *p, struct conn *c, struct conn *u,
			 size_t body)
{
	struct exchange *x = c->x;
	uint32_t min = x->cfg->http.splice_min_bytes;

	if (!min || x->res.body != HTTP_BODY_LENGTH || x->resp_dechunk ||
	    x->res.left < min || x->req.phase != EX_PH_DONE ||
	    (u->flags & (CONN_F_RECV | CONN_F_EOF | CONN_F_POLL)) ||
	    !transport_spliceable(&c->tr) || !transport_spliceable(&u->tr))
		return false;
	if (set_nonblock(c) || set_nonblock(u) || pipe_get(p, x->spl_pipe))
		return false;
	x->spl = true;
	x->spl_inpipe = 0;
	x->spl_sent = 0;
	x->head_iov[0].iov_base = c->out->data;
	x->head_iov[0].iov_len = buf_len(c->out);
	x->head_iov[1].iov_base = body ? buf_head(u->in) : NULL;
	x->head_iov[1].iov_len = body;
	x->head_body = body;
	x->res.phase = EX_PH_BODY;
	proxy__splice_pump(p, c);
	return true;
}

/* The poll of c (client or upstream) for a spliced exchange completed. */
void proxy__on_poll(struct proxy *p, struct conn *c)
{
	struct conn *cl = c->kind == CONN_CLIENT ? c : c->peer;

	c->flags &= ~CONN_F_POLL;
	if (!cl || !cl->x || !cl->x->spl) {
		if (c->kind == CONN_UPSTREAM && !c->peer)
			conn_close(&p->conns, c);
		return;
	}
	proxy__splice_pump(p, cl);
	if (conn_closing(cl))
		return;
	proxy__pump(p, cl);
	if (!conn_closing(cl))
		proxy__arm_exchange_deadline(p, cl);
}
