/* SPDX-License-Identifier: MIT */
/*
 * One interface for plain TCP and (later) TLS connections, so the HTTP code
 * never branches on TLS (the model is redis src/connection.h).
 *
 * Completion style, on top of loop.h: read/write/writev submit an operation
 * tagged with the caller's user_data; when its completion comes back, the
 * caller hands it to transport_read_done() / transport_write_done(), which
 * turn it into application bytes (a TLS transport decrypts here and may ask
 * for another round trip with -EAGAIN).
 */
#ifndef SLUICE_TRANSPORT_H
#define SLUICE_TRANSPORT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct loop;
struct loop_cqe;
struct transport;

struct transport_ops {
	const char *name;
	int (*read)(struct transport *t, size_t maxlen, unsigned int flags,
		    uint64_t ud);
	int (*read_multi)(struct transport *t, size_t maxlen, size_t limit,
			  uint64_t ud);
	long (*read_done)(struct transport *t, const struct loop_cqe *cqe,
			  const char **data);
	void (*read_release)(struct transport *t, const struct loop_cqe *cqe);
	bool (*read_keep)(struct transport *t, const struct loop_cqe *cqe,
			  uint16_t *bid, size_t *cap);
	int (*write)(struct transport *t, const void *buf, size_t len,
		     unsigned int flags, uint64_t ud);
	int (*writev)(struct transport *t, struct msghdr *msg,
		      unsigned int flags, uint64_t ud);
	long (*write_done)(struct transport *t, const struct loop_cqe *cqe);
	int (*shutdown)(struct transport *t);
	/* Cancel the operations submitted with any of the n user data in
	 * targets (the ring finds each with one lookup), and complete any
	 * the transport holds back itself; each cancel request completes
	 * with ud. Returns how many cancel requests were submitted (fewer
	 * than n: the ring had no room for the rest). */
	unsigned int (*cancel)(struct transport *t, const uint64_t *targets,
			       unsigned int n, uint64_t ud);
	void (*close)(struct transport *t);
	/* the bytes on the wire are the application's (plain TCP, or a
	 * Unix-domain stream socket): the kernel may move them itself with
	 * splice(2) on fd */
	bool spliceable;
	/* a transport layered on another (HTTP/2 to upstreams): the one it
	 * wraps, so that queries about the connection's TLS (tls.h) see
	 * through it; NULL for plain and TLS */
	const struct transport *(*inner)(const struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	struct loop *loop;
	int fd;
	void *priv;		/* TLS session later */
};

/* The kernel may move t's bytes with splice(2) on t->fd (plain TCP; not
 * TLS, whose bytes on the wire are records). */
static inline bool transport_spliceable(const struct transport *t)
{
	return t->ops->spliceable;
}

/* The transport at the bottom of t's layers (t itself unless layered). */
static inline const struct transport *transport_base(const struct transport *t)
{
	while (t->ops->inner)
		t = t->ops->inner(t);
	return t;
}

/* Plain bytes on an already connected (or connecting) stream socket: TCP,
 * or a Unix-domain upstream. */
void transport_plain_init(struct transport *t, struct loop *l, int fd);

/* Submit a receive of at most maxlen bytes. 0 or -errno. */
static inline int transport_read(struct transport *t, size_t maxlen,
				 uint64_t ud)
{
	return t->ops->read(t, maxlen, 0, ud);
}

/* transport_read() when no data is expected yet (idle keep-alive, a
 * request just sent): waits for readiness before the first attempt. */
#define TRANSPORT_READ_IDLE	(1u << 0)
static inline int transport_read_ex(struct transport *t, size_t maxlen,
				    unsigned int flags, uint64_t ud)
{
	return t->ops->read(t, maxlen, flags, ud);
}

/*
 * A read that stays armed (loop_recv_multi()): completions with .more set
 * keep coming, each with at most maxlen bytes, until limit bytes in all
 * (the last may pass it by up to maxlen - 1), EOF, an error or a cancel.
 * For a connection with nothing expected yet, or one that takes whatever
 * comes (HTTP/2). -EOPNOTSUPP: not available (kernel, or a transport that
 * cannot right now): use transport_read_ex().
 */
static inline int transport_read_multi(struct transport *t, size_t maxlen,
				       size_t limit, uint64_t ud)
{
	if (!t->ops->read_multi)
		return -EOPNOTSUPP;
	return t->ops->read_multi(t, maxlen, limit, ud);
}

/*
 * Interpret a read completion: returns bytes available at *data (0 = EOF),
 * or -errno. *data stays valid until transport_read_release().
 */
static inline long transport_read_done(struct transport *t,
				       const struct loop_cqe *cqe,
				       const char **data)
{
	return t->ops->read_done(t, cqe, data);
}

/* Give back whatever the read completion holds (provided buffer). Must be
 * called for every read completion, whatever its result. */
static inline void transport_read_release(struct transport *t,
					  const struct loop_cqe *cqe)
{
	t->ops->read_release(t, cqe);
}

/*
 * Instead of transport_read_release(): keep the memory the data is in (no
 * copy). True when it is a loop provided buffer the caller now owns (id
 * *bid, *cap bytes), to give back with loop_buf_recycle(); false (TLS:
 * the data is in the session's buffer) and the caller must copy and
 * release as usual.
 */
static inline bool transport_read_keep(struct transport *t,
				       const struct loop_cqe *cqe,
				       uint16_t *bid, size_t *cap)
{
	return t->ops->read_keep && t->ops->read_keep(t, cqe, bid, cap);
}

/* buf must stay valid until the completion. 0 or -errno. */
static inline int transport_write(struct transport *t, const void *buf,
				  size_t len, uint64_t ud)
{
	return t->ops->write(t, buf, len, 0, ud);
}

/* transport_write() of the last bytes before the connection is closed
 * (or shut for writing) right after: they may wait for the FIN and leave
 * in the same segment. The caller must close or shut down once it
 * completes, or the bytes stay queued. */
#define TRANSPORT_WRITE_LAST	(1u << 0)
static inline int transport_write_ex(struct transport *t, const void *buf,
				     size_t len, unsigned int flags,
				     uint64_t ud)
{
	return t->ops->write(t, buf, len, flags, ud);
}

/* Gather write of msg->msg_iov (msg_iovlen entries; the other fields are
 * the transport's). msg and the iovecs must stay valid until the next
 * loop_run_once(), the data until the completion. flags: as for
 * transport_write_ex(). */
static inline int transport_writev(struct transport *t, struct msghdr *msg,
				   unsigned int flags, uint64_t ud)
{
	return t->ops->writev(t, msg, flags, ud);
}

/* Bytes of the caller's data written (may be short) or -errno. */
static inline long transport_write_done(struct transport *t,
					const struct loop_cqe *cqe)
{
	return t->ops->write_done(t, cqe);
}

/* Half-close for writing (TLS: close_notify). 0 or -errno. */
static inline int transport_shutdown(struct transport *t)
{
	return t->ops->shutdown(t);
}

static inline unsigned int transport_cancel(struct transport *t,
					    const uint64_t *targets,
					    unsigned int n, uint64_t ud)
{
	return t->ops->cancel(t, targets, n, ud);
}

/* The cancel op of transports whose operations are all the ring's. */
unsigned int transport_loop_cancel(struct transport *t,
				   const uint64_t *targets, unsigned int n,
				   uint64_t ud);

/* Release the socket. Only once no operation is pending. */
static inline void transport_close(struct transport *t)
{
	t->ops->close(t);
}

#endif
