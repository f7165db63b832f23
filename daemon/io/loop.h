/* SPDX-License-Identifier: MIT */
/*
 * io_uring event loop: the only module that includes <liburing.h>.
 *
 * One loop per thread. Operations are submitted with a 64-bit user_data the
 * caller builds with loop_ud() ({op, id, gen}); every completion is handed
 * to one callback as a struct loop_cqe, and the completion queue is
 * acknowledged in batches after the callback ran for all of them.
 *
 * Receives use a provided-buffer ring: no memory is tied to a connection
 * while it waits for data. The callback gets the selected buffer in
 * loop_cqe.buf and must give it back with loop_buf_recycle() (the caller
 * copies what it needs first).
 *
 * Knows nothing of HTTP or connections.
 */
#ifndef SLUICE_LOOP_H
#define SLUICE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct loop;

/* user_data layout: op (8 bits) | id (24 bits) | gen (32 bits). Op 0xff
 * with an id of 0xfffffe or more is the loop's own. */
#define LOOP_ID_MAX 0xffffffu

static inline uint64_t loop_ud(unsigned op, uint32_t id, uint32_t gen)
{
	return ((uint64_t)(op & 0xff) << 56) |
	       ((uint64_t)(id & LOOP_ID_MAX) << 32) | gen;
}

static inline unsigned loop_ud_op(uint64_t ud)
{
	return (unsigned)(ud >> 56);
}

static inline uint32_t loop_ud_id(uint64_t ud)
{
	return (uint32_t)(ud >> 32) & LOOP_ID_MAX;
}

static inline uint32_t loop_ud_gen(uint64_t ud)
{
	return (uint32_t)ud;
}

/* A time span for timeouts. Must stay valid until the next loop_run_once()
 * (the kernel reads it at submission). */
struct loop_ts {
	long long tv_sec;
	long long tv_nsec;
};

static inline void loop_ts_ms(struct loop_ts *ts, uint64_t ms)
{
	ts->tv_sec = (long long)(ms / 1000);
	ts->tv_nsec = (long long)(ms % 1000) * 1000000;
}

struct loop_cqe {
	uint64_t ud;
	int res;		/* >= 0 result or -errno */
	bool more;		/* multishot: more completions will follow */
	bool has_buf;		/* a provided buffer was consumed */
	uint16_t bid;		/* its id (for loop_buf_recycle) */
	char *buf;		/* its data (res bytes when res > 0) */
};

typedef void (*loop_cb)(void *ctx, const struct loop_cqe *cqe);

/*
 * entries: submission queue size. nbufs (power of two, may be 0 for a loop
 * that never receives into provided buffers) of buf_size bytes each.
 * NULL + errno on failure.
 */
struct loop *loop_new(unsigned entries, unsigned nbufs, size_t buf_size);

/* loop_new() with LOOP_F_* flags. LOOP_F_SINGLE_ISSUER: only one thread
 * ever submits to and reaps this loop, and it calls loop_start() before
 * its first submission (task work is deferred to that thread; falls back
 * to a plain ring where the kernel lacks it). */
#define LOOP_F_SINGLE_ISSUER	(1u << 0)
struct loop *loop_new_flags(unsigned entries, unsigned nbufs, size_t buf_size,
			    unsigned flags);
/* From the thread that will use the loop: enable a LOOP_F_SINGLE_ISSUER
 * ring and register its fd for this thread. No-op otherwise. 0 or
 * -errno. */
int loop_start(struct loop *l);
void loop_free(struct loop *l);

/* Registered files: a table of n slots (at most LOOP_FILES_MAX) in the
 * ring, from the thread that uses the loop. A socket given to
 * loop_fd_attach() sits at index fd, and the receives, sends and
 * connects on it then skip the kernel's file lookup and reference per
 * operation; fds >= n are used as they are. 0 or -errno (the loop works
 * without). */
#define LOOP_FILES_MAX 65536
int loop_files_init(struct loop *l, unsigned n);
/* Attach fd after it was opened; detach it before it is closed (the
 * table holds a reference to the socket until then). No-ops for fds
 * outside the table. A table update that fails is logged; the fd is then
 * used as it is. */
void loop_fd_attach(struct loop *l, int fd);
void loop_fd_detach(struct loop *l, int fd);

/* A second class of larger provided buffers (buf_size above the first
 * class's): a loop_recv() whose maxlen does not fit the first class takes
 * one of these. Its ring grows only while a turn of the loop receives
 * under 128 KiB into it, and halves (to 16 buffers at least) after a turn
 * that received over 256 KiB: many small responses may each take a
 * buffer, and a burst of large ones waits a turn once the ring has
 * shrunk (the turn that shrinks it received into all it held, up to
 * nbufs). The rest are a reserve for the buffers receivers keep. 0 or
 * -errno. */
int loop_add_bufs(struct loop *l, unsigned nbufs, size_t buf_size);
/* How many buffers class cls (0: the first) keeps in its ring now: the
 * receives of one turn that can find a buffer (0: no such class). */
unsigned loop_buf_ring_target(const struct loop *l, unsigned cls);

/* Size of one provided buffer of the first class, and of the largest
 * class (upper bound for a single receive). */
size_t loop_buf_size(const struct loop *l);
size_t loop_buf_size_max(const struct loop *l);
/* Number of buffers in the largest class. */
unsigned loop_buf_count_max(const struct loop *l);
/* Size of provided buffer bid (0: no such buffer). */
size_t loop_buf_cap(struct loop *l, uint16_t bid);
void loop_buf_recycle(struct loop *l, uint16_t bid);
/* For a receive that failed with -ENOBUFS in this turn of the loop: did a
 * class's ring run empty this turn while it held every free buffer of the
 * class (true: all were in use), or did the ring only hold fewer than the
 * free ones (it is topped up before the next submission)? */
bool loop_bufs_exhausted(const struct loop *l);

/*
 * What the kernel's io_uring offered this process's rings (the last one
 * made; all run on the same kernel): io_uring_params.features, the setup
 * that was accepted ("single_issuer,defer_taskrun", "coop_taskrun",
 * "basic"; NULL before any ring), and whether multishot receives take a
 * byte limit (-1: not probed yet, 0 no, 1 yes).
 */
struct loop_kernel_info {
	uint32_t features;
	const char *setup;
	int recv_multishot_limit;
};
void loop_kernel_info(struct loop_kernel_info *out);
/* The name of IORING_FEAT_ bit `bit` ("fast_poll"), NULL if unknown. */
const char *loop_feature_name(unsigned int bit);
/* The liburing the process runs with ("2.3"), from the loaded library;
 * "not loaded" in a program linked without it. */
const char *loop_liburing_version(void);

/* Submission helpers: 0 or -errno (-EBUSY when the ring cannot take more). */
int loop_accept_multishot(struct loop *l, int fd, uint64_t ud);
/* Receive at most maxlen bytes into a provided buffer: one of the smallest
 * class that holds maxlen (else of the largest class). */
int loop_recv(struct loop *l, int fd, size_t maxlen, uint64_t ud);
/* loop_recv() with LOOP_RECV_* flags. LOOP_RECV_POLL_FIRST: no data is
 * expected yet (an idle keep-alive connection, a request just sent), so
 * wait for readiness instead of trying a receive that would fail first. */
#define LOOP_RECV_POLL_FIRST	(1u << 0)
int loop_recv_ex(struct loop *l, int fd, size_t maxlen, unsigned flags,
		 uint64_t ud);
/*
 * A multishot receive for a socket where nothing is expected yet: it stays
 * armed, each arrival completes with loop_cqe.more set and a provided
 * buffer of at most maxlen bytes, until `limit` bytes in all have come
 * (the completion that reaches it, which may carry up to maxlen - 1 bytes
 * past it, is the last), an error, EOF or a cancel: then .more is false.
 * So a receiver that is not ready for the data still holds at most
 * limit + maxlen - 1 bytes. -EOPNOTSUPP when the kernel cannot limit a
 * multishot receive (before Linux 6.17), or the environment has
 * SLUICE_NO_MULTISHOT: use loop_recv_ex() then.
 */
int loop_recv_multi(struct loop *l, int fd, size_t maxlen, size_t limit,
		    uint64_t ud);
bool loop_recv_multi_ok(const struct loop *l);
/* Plain read into buf (signalfd, eventfd). */
int loop_read(struct loop *l, int fd, void *buf, size_t len, uint64_t ud);
int loop_send(struct loop *l, int fd, const void *buf, size_t len,
	      uint64_t ud);
/* loop_send() with extra MSG_* flags (MSG_NOSIGNAL is always set). */
int loop_send_ex(struct loop *l, int fd, const void *buf, size_t len,
		 int msg_flags, uint64_t ud);
/* sendmsg(2) with MSG_NOSIGNAL | msg_flags; msg (and what it points to)
 * must stay valid until the next loop_run_once(). */
int loop_sendmsg(struct loop *l, int fd, const struct msghdr *msg,
		 int msg_flags, uint64_t ud);
/* Connect with a linked timeout: two completions, `ud` for the connect
 * (-ECANCELED when the timeout fired) and `timeout_ud` for the timer.
 * sa and ts must stay valid until the next loop_run_once(). */
int loop_connect(struct loop *l, int fd, const struct sockaddr *sa,
		 socklen_t salen, const struct loop_ts *ts, uint64_t ud,
		 uint64_t timeout_ud);
/* One-shot readiness poll of fd for `events` (POLLIN, POLLOUT): completes
 * with the events that are ready (POLLERR/POLLHUP included) or -errno. */
int loop_poll(struct loop *l, int fd, unsigned int events, uint64_t ud);
/* One-shot timer: completes with -ETIME when it fires. */
int loop_timeout(struct loop *l, const struct loop_ts *ts, uint64_t ud);
/* A no-op that completes with 0 in the next turn (a transport that has
 * data buffered answers a read with it). */
int loop_nop(struct loop *l, uint64_t ud);
/*
 * A completion made in user space: res (>= 0, or -errno) reaches the
 * loop_run_once() callback as ud's completion, without a buffer, after
 * the ring's completions of the loop_run_once() under way (the next one
 * when posted outside it or by such a completion's callback), in the
 * order posted; no system call is made for it (the in-process transport,
 * io/pair.h, completes its operations this way). A pending one keeps
 * loop_run_once() from blocking. The node is the caller's and nothing is
 * allocated, so a post cannot fail: it must stay valid until its
 * completion has been delivered (the callback may free it then), and be
 * posted again only after that (-EBUSY).
 */
struct loop_post {
	struct loop_post *next;
	uint64_t ud;
	int res;
	bool queued;
};
int loop_post(struct loop *l, struct loop_post *p, uint64_t ud, int res);
/* Take p back if it is queued (its completion is then never delivered):
 * for teardown, a walk of what is queued. */
void loop_unpost(struct loop *l, struct loop_post *p);
/* Cancel the operation(s) submitted with target_ud. */
int loop_cancel_ud(struct loop *l, uint64_t target_ud, uint64_t ud);

/*
 * Submit what is queued, wait for at least one completion (when wait is
 * true) and dispatch every available completion to cb. Returns the number
 * of completions handled or -errno (-EINTR is not an error: returns 0).
 */
int loop_run_once(struct loop *l, bool wait, loop_cb cb, void *ctx);


#endif
