// SPDX-License-Identifier: MIT
/* Plain TCP transport over loop.h. */
#include "io/transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/loop.h"

static int plain_read(struct transport *t, size_t maxlen, unsigned int flags,
		      uint64_t ud)
{
	return loop_recv_ex(t->loop, t->fd, maxlen,
			    (flags & TRANSPORT_READ_IDLE) ? LOOP_RECV_POLL_FIRST
							  : 0, ud);
}

static int plain_read_multi(struct transport *t, size_t maxlen, size_t limit,
			    uint64_t ud)
{
	return loop_recv_multi(t->loop, t->fd, maxlen, limit, ud);
}

static long plain_read_done(struct transport *t, const struct loop_cqe *cqe,
			    const char **data)
{
	*data = NULL;
	if (cqe->res < 0)
		return cqe->res;
	if (cqe->res > 0) {
		if (!cqe->has_buf)
			return -EIO;	/* kernel returned data without a buffer */
		*data = cqe->buf;
	}
	return cqe->res;
}

static void plain_read_release(struct transport *t, const struct loop_cqe *cqe)
{
	if (cqe->has_buf)
		loop_buf_recycle(t->loop, cqe->bid);
}

static bool plain_read_keep(struct transport *t, const struct loop_cqe *cqe,
			    uint16_t *bid, size_t *cap)
{
	if (!cqe->has_buf || cqe->res <= 0)
		return false;
	*bid = cqe->bid;
	*cap = loop_buf_cap(t->loop, cqe->bid);
	return *cap > 0;
}

static int plain_write(struct transport *t, const void *buf, size_t len,
		       unsigned int flags, uint64_t ud)
{
	/* MSG_MORE: not pushed now; the close or shutdown that follows
	 * sends the bytes and the FIN in one segment */
	return loop_send_ex(t->loop, t->fd, buf, len,
			    (flags & TRANSPORT_WRITE_LAST) ? MSG_MORE : 0, ud);
}

static int plain_writev(struct transport *t, struct msghdr *msg,
			unsigned int flags, uint64_t ud)
{
	msg->msg_name = NULL;
	msg->msg_namelen = 0;
	msg->msg_control = NULL;
	msg->msg_controllen = 0;
	msg->msg_flags = 0;
	return loop_sendmsg(t->loop, t->fd, msg,
			    (flags & TRANSPORT_WRITE_LAST) ? MSG_MORE : 0, ud);
}

static long plain_write_done(struct transport *t, const struct loop_cqe *cqe)
{
	return cqe->res;
}

static int plain_shutdown(struct transport *t)
{
	if (shutdown(t->fd, SHUT_WR))
		return -errno;
	return 0;
}

unsigned int transport_loop_cancel(struct transport *t,
				   const uint64_t *targets, unsigned int n,
				   uint64_t ud)
{
	unsigned int i, done = 0;

	for (i = 0; i < n; i++)
		if (loop_cancel_ud(t->loop, targets[i], ud) == 0)
			done++;
	return done;
}

static void plain_close(struct transport *t)
{
	if (t->fd >= 0) {
		if (t->loop)
			loop_fd_detach(t->loop, t->fd);
		close(t->fd);
	}
	t->fd = -1;
}

static const struct transport_ops plain_ops = {
	.name = "tcp",
	.read = plain_read,
	.read_multi = plain_read_multi,
	.read_done = plain_read_done,
	.read_release = plain_read_release,
	.read_keep = plain_read_keep,
	.write = plain_write,
	.writev = plain_writev,
	.write_done = plain_write_done,
	.shutdown = plain_shutdown,
	.cancel = transport_loop_cancel,
	.close = plain_close,
	.spliceable = true,
};

void transport_plain_init(struct transport *t, struct loop *l, int fd)
{
	t->ops = &plain_ops;
	t->loop = l;
	t->fd = fd;
	t->priv = NULL;
	if (l && fd >= 0)
		loop_fd_attach(l, fd);
}
