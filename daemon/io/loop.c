// SPDX-License-Identifier: MIT
/* io_uring event loop. See loop.h. */
#include "io/loop.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sofile.h"

#define LOOP_BGID 7		/* + group index */
#define LOOP_GROUPS 2

_Static_assert(sizeof(struct loop_ts) == sizeof(struct __kernel_timespec),
	       "loop_ts must match __kernel_timespec");

/* Buffers a class keeps in its ring at least (or all it has), and how many
 * turns of the loop with no shortage shrink that by a quarter. */
#define RING_MIN 16
#define RING_CALM_TURNS 4096
/* What a turn of the loop may receive into a class of large receives
 * (loop_add_bufs()) before its ring stops growing (and past which it
 * shrinks, to RING_MIN at least). */
#define RING_LARGE_BYTES (256u << 10)

/*
 * A class of provided buffers. Buffer ids are unique across groups: group
 * g's ids are base .. base + nbufs - 1, so a completion's id alone says
 * which group (and which address) it used.
 *
 * The kernel takes buffers from the ring in the order they were added,
 * so a ring that held every free buffer would hand out the one given
 * back longest ago: each receive would land in memory out of the cache
 * (a 16 KiB response touched 128 x 32 KiB in turn). Free buffers wait on
 * a stack instead, and before each submission the ring is topped up to
 * `target` from its top: the buffers just given back, still in the cache,
 * are the next ones used, and buffers never needed are never touched
 * (nor count in RSS). `target` doubles (up to `max`) when a turn emptied
 * the ring while the stack had more, and shrinks back after
 * RING_CALM_TURNS turns without that. in_ring counts the ring's buffers:
 * one fewer per completion that consumed one (every consumed buffer comes
 * back in a completion; a completion the kernel drops ends the worker, as
 * io_uring_enter() then fails with -EBADR).
 *
 * A receive that finds the ring empty fails with -ENOBUFS and is posted
 * again; only when the ring ran empty holding every free buffer were all
 * of them in use (loop_bufs_exhausted()).
 *
 * The large class's ring also has a byte budget (RING_LARGE_BYTES): it
 * grows only while doubling it would keep what a turn received under the
 * budget, and halves when a turn received more. This is feedback, a turn
 * late, not a bound: buffers already in the ring stay there, so a ring
 * grown by small responses takes one burst of large ones whole before it
 * shrinks (at most nbufs). Large responses keep it
 * small (16 KiB ones at 16 buffers): the receives that wait for the next
 * turn cost less than copying a whole burst of responses into memory the
 * cache no longer holds (16 KiB responses: +4 % per core,
 * docs/BENCHMARKS.md). Small responses (a few hundred bytes in a 32 KiB
 * buffer) touch little memory, and a ring capped by buffer count instead
 * made most of them fail with -ENOBUFS when hundreds arrive in one turn
 * (HTTP/2 clients with many streams): each then cost another completion,
 * another submission and another readiness poll, and waited a turn.
 */
struct bufgroup {
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *bufs;
	size_t bufs_bytes;
	uint16_t *stack;	/* free buffers' ids, the last given back on top */
	unsigned nstack;
	unsigned in_ring;
	unsigned target;
	unsigned max;		/* target's ceiling */
	size_t budget;		/* bytes a turn may receive: see above */
	size_t turn_bytes;	/* received into this class this turn */
	unsigned calm;		/* turns without it running empty */
	bool emptied;		/* this turn: the ring ran empty */
	bool all_out;		/* the last top-up emptied the stack */
	bool exhausted;		/* this turn: it ran empty holding them all */
	unsigned nbufs;
	unsigned base;
	size_t buf_size;
	size_t stride;		/* buf_size + BUF_COLOR_STEP: see buf_at() */
	bool registered;
};

/*
 * Buffer i starts BUF_COLOR_STEP bytes further into a page than buffer
 * i - 1 (64 such offsets), for the same reason as the pool's headers
 * (util/buf.c): at a multiple of the (power of 2) buffer size, the first
 * bytes of every buffer, where heads arrive and are parsed, would fall in
 * the same few cache sets. 64 bytes more per buffer, in pages never
 * touched.
 */
#define BUF_COLOR_STEP	64

static inline char *buf_at(const struct bufgroup *g, uint16_t bid)
{
	return g->bufs + (size_t)(bid - g->base) * g->stride;
}

struct loop {
	struct io_uring ring;
	struct bufgroup g[LOOP_GROUPS];
	unsigned ngroups;
	bool disabled;		/* created R_DISABLED: loop_start() enables */
	bool mshot_limit;	/* multishot receives take a byte limit */
	bool poll_wait;		/* wait in ppoll(), not io_uring_enter() */
	/* registered files (loop_files_init): fd is at index fd of the
	 * ring's file table while fixed[fd]; slot[i] == i is what the
	 * table updates read, none (-1) empties a slot */
	uint8_t *fixed;
	int *slot;
	unsigned nfixed;
	int none;
	/* completions made in user space (loop_post), in order, delivered
	 * after the ring's by the loop_run_once() under way or the next */
	struct loop_post *post_head, *post_tail;
};

/* user_data of the feature probe's own operations (PROBE_UD, + 1 for its
 * cancel). loop_start() or loop_new() runs the probe on an idle ring and
 * reaps them; one that comes late all the same (a kernel that took more
 * than the probe's wait) is dropped by loop_run_once(). */
#define PROBE_UD 0xfffffffffffffff0ull
#define PROBE_WAIT_NS 200000000ll
/* user_data of the file table's updates: op 0xff, id FILES_ID, gen the
 * fd (FILES_DETACH set when the slot is emptied) */
#define FILES_ID 0xfffffeu
#define FILES_DETACH 0x80000000u
/* op 0xff with one of these ids: the loop's own, never the caller's */
static inline bool own_ud(uint64_t ud)
{
	return loop_ud_op(ud) == 0xff && loop_ud_id(ud) >= FILES_ID;
}

/* ---- what the kernel offered (the start-up log, GET /status) ---------- */

static struct {
	uint32_t features;
	const char *setup;
	int mshot;		/* -1 not probed yet */
} kernel = { .mshot = -1 };

static void kernel_seen(uint32_t features, const char *setup)
{
	__atomic_store_n(&kernel.features, features, __ATOMIC_RELAXED);
	__atomic_store_n(&kernel.setup, setup, __ATOMIC_RELEASE);
}

void loop_kernel_info(struct loop_kernel_info *out)
{
	out->setup = __atomic_load_n(&kernel.setup, __ATOMIC_ACQUIRE);
	out->features = __atomic_load_n(&kernel.features, __ATOMIC_RELAXED);
	out->recv_multishot_limit = __atomic_load_n(&kernel.mshot,
						    __ATOMIC_RELAXED);
}

/* IORING_FEAT_* by bit (the uapi values; names kept here so an older
 * <linux/io_uring.h> still names what a newer kernel reports) */
static const char *const feat_names[] = {
	"single_mmap", "nodrop", "submit_stable", "rw_cur_pos",
	"cur_personality", "fast_poll", "poll_32bits", "sqpoll_nonfixed",
	"ext_arg", "native_workers", "rsrc_tags", "cqe_skip", "linked_file",
	"reg_reg_ring", "recvsend_bundle", "min_timeout", "rw_attr",
	"no_iowait",
};

const char *loop_feature_name(unsigned int bit)
{
	return bit < sizeof(feat_names) / sizeof(feat_names[0]) ?
		       feat_names[bit] : NULL;
}

const char *loop_liburing_version(void)
{
	static char v[32];

	/* liburing 2.3 (Debian 12) has no io_uring_major_version(). A
	 * program that makes no io_uring call (sluicectl) is linked without
	 * it: say so rather than guess. */
	if (!v[0]) {
		int r = sofile_version("liburing.so", v, sizeof(v));

		if (r)
			snprintf(v, sizeof(v), "%s",
				 r == -ENOENT ? "not loaded" : "unknown");
	}
	return v;
}

static int ring_init(struct loop *l, unsigned entries, unsigned lflags)
{
	struct io_uring_params p;
	int ret;

	if (lflags & LOOP_F_SINGLE_ISSUER) {
		/* completions' task work runs only when this thread asks for
		 * events: no interruptions, fewer wakeups (kernel 6.1+). The
		 * ring starts disabled so that the thread that will use it
		 * becomes its issuer in loop_start(). */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE |
			  IORING_SETUP_SINGLE_ISSUER |
			  IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, &l->ring, &p);
		if (ret == 0) {
			l->disabled = true;
			kernel_seen(p.features, "single_issuer,defer_taskrun");
			return 0;
		}
	}
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
		  IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4;
	ret = io_uring_queue_init_params(entries, &l->ring, &p);
	if (ret == -EINVAL) {
		/* older kernel: no COOP_TASKRUN / SUBMIT_ALL */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, &l->ring, &p);
		if (ret == 0)
			kernel_seen(p.features, "basic");
		return ret;
	}
	if (ret == 0)
		kernel_seen(p.features, "coop_taskrun");
	return ret;
}

static struct bufgroup *group_of(struct loop *l, unsigned bid)
{
	for (unsigned i = 0; i < l->ngroups; i++)
		if (bid - l->g[i].base < l->g[i].nbufs)
			return &l->g[i];
	return NULL;
}

/* A completion consumed buffer bid from its class's ring. */
static struct bufgroup *buf_taken(struct loop *l, unsigned bid)
{
	struct bufgroup *g = group_of(l, bid);

	if (g && g->in_ring && --g->in_ring == 0) {
		g->emptied = true;
		if (g->all_out)
			g->exhausted = true;
	}
	return g;
}

/* A completion's buffer that no caller gets (the loop's own operations):
 * taken from its ring and back on the stack. */
static void buf_drop(struct loop *l, const struct io_uring_cqe *cqe)
{
	uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

	buf_taken(l, bid);
	loop_buf_recycle(l, bid);
}

/* Move free buffers from the stack's top into the ring until it holds
 * target of them. */
static void ring_top_up(struct bufgroup *g)
{
	int mask = io_uring_buf_ring_mask(g->nbufs);
	int n = 0;

	while (g->in_ring + (unsigned)n < g->target && g->nstack) {
		uint16_t bid = g->stack[--g->nstack];

		io_uring_buf_ring_add(g->br, buf_at(g, bid),
				      (unsigned)g->buf_size, bid, mask, n);
		n++;
	}
	if (n) {
		io_uring_buf_ring_advance(g->br, n);
		g->in_ring += (unsigned)n;
	}
	g->all_out = g->nstack == 0;
}

/* Top every class's ring up (before a submission: the receives it
 * carries may take buffers at once). A ring already at its target (one
 * just shrunk) gets none, and holds every free buffer only if the stack
 * is empty: all_out says so either way. */
static void rings_top_up(struct loop *l)
{
	for (unsigned i = 0; i < l->ngroups; i++) {
		struct bufgroup *g = &l->g[i];

		if (g->in_ring < g->target)
			ring_top_up(g);
		else
			g->all_out = g->nstack == 0;
	}
}

/* Once per turn of the loop: adapt each class's target to the last turn. */
static void rings_adapt(struct loop *l)
{
	for (unsigned i = 0; i < l->ngroups; i++) {
		struct bufgroup *g = &l->g[i];

		if (g->emptied && g->nstack && g->target < g->max &&
		    g->turn_bytes < g->budget / 2) {
			g->target = g->target * 2 < g->max ? g->target * 2
							   : g->max;
			g->calm = 0;
		} else if (g->turn_bytes > g->budget &&
			   g->target > RING_MIN) {
			/* it takes effect as the buffers come back: only
			 * the stack's are not put in again */
			g->target = g->target / 2 > RING_MIN ? g->target / 2
							     : RING_MIN;
			g->calm = 0;
		} else if (!g->emptied && ++g->calm >= RING_CALM_TURNS) {
			g->calm = 0;
			if (g->target - g->target / 4 > RING_MIN)
				g->target -= g->target / 4;
			else if (g->target > RING_MIN)
				g->target = RING_MIN;
		}
		g->emptied = false;
		g->exhausted = false;
		g->turn_bytes = 0;
	}
}

static int bufring_init(struct loop *l, unsigned nbufs, size_t buf_size)
{
	struct bufgroup *g = &l->g[l->ngroups];
	struct io_uring_buf_reg reg;
	unsigned base = 0;
	int ret;

	if (nbufs == 0)
		return 0;
	if (l->ngroups)
		base = l->g[l->ngroups - 1].base + l->g[l->ngroups - 1].nbufs;
	if ((nbufs & (nbufs - 1)) || nbufs > 32768 || base + nbufs > 65536 ||
	    buf_size == 0 || buf_size > (1u << 30))
		return -EINVAL;
	g->nbufs = nbufs;
	g->base = base;
	g->buf_size = buf_size;
	g->stride = buf_size + BUF_COLOR_STEP;
	g->br_bytes = nbufs * sizeof(struct io_uring_buf);
	g->br = mmap(NULL, g->br_bytes, PROT_READ | PROT_WRITE,
		     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (g->br == MAP_FAILED) {
		g->br = NULL;
		return -errno;
	}
	/* pages are touched (and count in RSS) only once the kernel has
	 * received into them */
	g->bufs_bytes = (size_t)nbufs * g->stride;
	g->bufs = mmap(NULL, g->bufs_bytes, PROT_READ | PROT_WRITE,
		       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (g->bufs == MAP_FAILED) {
		g->bufs = NULL;
		return -errno;
	}
	l->ngroups++;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)g->br;
	reg.ring_entries = nbufs;
	reg.bgid = (unsigned short)(LOOP_BGID + (g - l->g));
	ret = io_uring_register_buf_ring(&l->ring, &reg, 0);
	if (ret)
		return ret;
	g->registered = true;
	io_uring_buf_ring_init(g->br);
	g->stack = malloc(nbufs * sizeof(*g->stack));
	if (!g->stack)
		return -ENOMEM;
	/* the lowest ids on top: used first */
	for (unsigned i = 0; i < nbufs; i++)
		g->stack[i] = (uint16_t)(base + nbufs - 1 - i);
	g->nstack = nbufs;
	g->max = nbufs;
	g->budget = SIZE_MAX;
	g->target = nbufs < RING_MIN ? nbufs : RING_MIN;
	ring_top_up(g);
	return 0;
}

int loop_add_bufs(struct loop *l, unsigned nbufs, size_t buf_size)
{
	struct bufgroup *g = &l->g[l->ngroups];
	int ret;

	if (l->ngroups == 0 || l->ngroups >= LOOP_GROUPS ||
	    buf_size <= l->g[l->ngroups - 1].buf_size)
		return -EINVAL;
	ret = bufring_init(l, nbufs, buf_size);
	if (ret || nbufs == 0)
		return ret;
	g->budget = RING_LARGE_BYTES;
	return 0;
}

struct loop *loop_new(unsigned entries, unsigned nbufs, size_t buf_size)
{
	return loop_new_flags(entries, nbufs, buf_size, 0);
}

/*
 * Does this kernel end a multishot receive after a byte limit (sqe->optlen,
 * Linux 6.17+)? Older kernels reject the field with -EINVAL. Probed with
 * one receive on a socketpair: with a limit of 1, the first completion must
 * be the last one.
 */
static void mshot_probe(struct loop *l)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	bool last = false, cancelled = false;
	int sv[2];

	l->mshot_limit = false;
	/* off by request: the fallback's own behaviour (troubleshooting,
	 * and the tests of the path older kernels take) */
	if (getenv("SLUICE_NO_MULTISHOT"))
		return;
	if (!l->ngroups ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return;
	if (write(sv[1], "xy", 2) != 2)
		goto out;
	sqe = io_uring_get_sqe(&l->ring);
	if (!sqe)
		goto out;
	io_uring_prep_recv(sqe, sv[0], NULL, 0, 0);
	sqe->ioprio |= IORING_RECV_MULTISHOT;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = LOOP_BGID;
	sqe->file_index = 1;	/* union with optlen: the total byte limit */
	io_uring_sqe_set_data64(sqe, PROBE_UD);
	/* a few rounds at most: the result, or (limit ignored) its cancel */
	for (int round = 0; round < 4 && !last; round++) {
		struct __kernel_timespec ts = { 0, PROBE_WAIT_NS };
		int ret = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1,
							   &ts, NULL);

		if (ret < 0 && ret != -ETIME)
			break;
		while (io_uring_peek_cqe(&l->ring, &cqe) == 0) {
			if (cqe->user_data == PROBE_UD) {
				bool more = cqe->flags & IORING_CQE_F_MORE;

				if (cqe->flags & IORING_CQE_F_BUFFER)
					buf_drop(l, cqe);
				if (!more) {
					last = true;
					l->mshot_limit = !cancelled &&
							 cqe->res > 0;
				} else if (!cancelled &&
					   (sqe = io_uring_get_sqe(&l->ring))) {
					/* the limit was ignored */
					io_uring_prep_cancel64(sqe, PROBE_UD, 0);
					io_uring_sqe_set_data64(sqe, PROBE_UD + 1);
					cancelled = true;
				}
			}
			io_uring_cqe_seen(&l->ring, cqe);
		}
	}
out:
	__atomic_store_n(&kernel.mshot, l->mshot_limit, __ATOMIC_RELAXED);
	close(sv[0]);
	close(sv[1]);
}

int loop_start(struct loop *l)
{
	int ret;

	if (!l->disabled)
		return 0;
	/* io_uring_enable_rings() is missing from some liburing builds */
	ret = (int)syscall(__NR_io_uring_register, l->ring.ring_fd,
			   IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		return -errno;
	l->disabled = false;
	/* this thread's io_uring_enter() calls then skip the fd lookup;
	 * an error only means they keep doing it */
	(void)io_uring_register_ring_fd(&l->ring);
	mshot_probe(l);
	return 0;
}

static bool poll_wait_wanted(void)
{
	static bool said;
	const char *v = getenv("SLUICE_LOOP_WAIT");

	if (!v || strcmp(v, "poll"))
		return false;
	if (!__atomic_exchange_n(&said, true, __ATOMIC_RELAXED))
		pr_warn("io_uring: loops wait in ppoll() "
			"(SLUICE_LOOP_WAIT=poll: for valgrind, not production)");
	return true;
}

struct loop *loop_new_flags(unsigned entries, unsigned nbufs, size_t buf_size,
			    unsigned flags)
{
	struct loop *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return NULL;
	/* SLUICE_LOOP_WAIT=poll: wait for completions in ppoll() on the
	 * ring's descriptor, then reap them without waiting. For tools that
	 * know ppoll() blocks but not io_uring_enter(): valgrind 3.19 runs
	 * one thread at a time and lets the others run only while one is in
	 * a call it knows blocks. The ring then has no deferred task work
	 * (that would need an io_uring_enter() to run), so the flags of the
	 * fallback ring. Everything else is the same daemon. */
	if (poll_wait_wanted()) {
		l->poll_wait = true;
		flags &= ~LOOP_F_SINGLE_ISSUER;
	}
	ret = ring_init(l, entries, flags);
	if (ret) {
		free(l);
		errno = -ret;
		return NULL;
	}
	ret = bufring_init(l, nbufs, buf_size);
	if (ret) {
		loop_free(l);
		errno = -ret;
		return NULL;
	}
	if (!l->disabled)
		mshot_probe(l);
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (unsigned i = 0; i < LOOP_GROUPS; i++)
		if (l->g[i].registered)
			io_uring_unregister_buf_ring(&l->ring,
						     (int)(LOOP_BGID + i));
	io_uring_queue_exit(&l->ring);
	free(l->fixed);
	free(l->slot);
	for (unsigned i = 0; i < LOOP_GROUPS; i++) {
		if (l->g[i].bufs)
			munmap(l->g[i].bufs, l->g[i].bufs_bytes);
		if (l->g[i].br)
			munmap(l->g[i].br, l->g[i].br_bytes);
		free(l->g[i].stack);
	}
	free(l);
}

size_t loop_buf_size(const struct loop *l)
{
	return l->ngroups ? l->g[0].buf_size : 0;
}

size_t loop_buf_size_max(const struct loop *l)
{
	return l->ngroups ? l->g[l->ngroups - 1].buf_size : 0;
}

unsigned loop_buf_ring_target(const struct loop *l, unsigned cls)
{
	return cls < l->ngroups ? l->g[cls].target : 0;
}

bool loop_bufs_exhausted(const struct loop *l)
{
	for (unsigned i = 0; i < l->ngroups; i++)
		if (l->g[i].exhausted)
			return true;
	return false;
}

unsigned loop_buf_count_max(const struct loop *l)
{
	return l->ngroups ? l->g[l->ngroups - 1].nbufs : 0;
}

size_t loop_buf_cap(struct loop *l, uint16_t bid)
{
	struct bufgroup *g = group_of(l, bid);

	return g ? g->buf_size : 0;
}

void loop_buf_recycle(struct loop *l, uint16_t bid)
{
	struct bufgroup *g = group_of(l, bid);

	/* the ring takes it at the next top-up (before a submission) */
	if (g && g->nstack < g->nbufs)
		g->stack[g->nstack++] = bid;
}

/* An SQE with room for `need` consecutive ones (linked pairs); flushes the
 * queue to the kernel when it is full. */
static struct io_uring_sqe *get_sqe(struct loop *l, unsigned need)
{
	struct io_uring_sqe *sqe;

	if (io_uring_sq_space_left(&l->ring) < need) {
		rings_top_up(l);
		io_uring_submit(&l->ring);
	}
	if (io_uring_sq_space_left(&l->ring) < need)
		return NULL;
	sqe = io_uring_get_sqe(&l->ring);
	return sqe;
}

/* An SQE on fd: through the file table when fd is there (no file lookup
 * and reference per operation). */
static inline void use_fd(const struct loop *l, struct io_uring_sqe *sqe,
			  int fd)
{
	if ((unsigned)fd < l->nfixed && l->fixed[fd])
		sqe->flags |= IOSQE_FIXED_FILE;	/* sqe->fd: the index */
}

int loop_files_init(struct loop *l, unsigned n)
{
	int ret;

	if (n > LOOP_FILES_MAX)
		n = LOOP_FILES_MAX;
	if (n == 0 || l->nfixed)
		return 0;
	l->fixed = calloc(n, sizeof(*l->fixed));
	l->slot = malloc(n * sizeof(*l->slot));
	if (!l->fixed || !l->slot) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = io_uring_register_files_sparse(&l->ring, n);
	if (ret)
		goto fail;
	for (unsigned i = 0; i < n; i++)
		l->slot[i] = (int)i;
	l->none = -1;
	l->nfixed = n;
	return 0;
fail:
	free(l->fixed);
	free(l->slot);
	l->fixed = NULL;
	l->slot = NULL;
	return ret;
}

void loop_fd_attach(struct loop *l, int fd)
{
	struct io_uring_sqe *sqe;

	if ((unsigned)fd >= l->nfixed || l->fixed[fd])
		return;
	/* queued in order: the operations on fd prepared after it find it
	 * in the table, and an earlier detach of the same number (a closed
	 * fd the kernel gave out again) happens first */
	sqe = get_sqe(l, 1);
	if (!sqe)
		return;		/* the ring is full: fd is used as it is */
	io_uring_prep_files_update(sqe, &l->slot[fd], 1, fd);
	io_uring_sqe_set_data64(sqe, loop_ud(0xff, FILES_ID, (uint32_t)fd));
	l->fixed[fd] = 1;
}

void loop_fd_detach(struct loop *l, int fd)
{
	struct io_uring_sqe *sqe;

	if ((unsigned)fd >= l->nfixed || !l->fixed[fd])
		return;
	l->fixed[fd] = 0;
	sqe = get_sqe(l, 1);
	if (sqe) {
		io_uring_prep_files_update(sqe, &l->none, 1, fd);
		io_uring_sqe_set_data64(sqe, loop_ud(0xff, FILES_ID,
						     (uint32_t)fd | FILES_DETACH));
		return;
	}
	/* the ring is full: now (the table's reference would keep the
	 * socket open after its close) */
	int ret = io_uring_register_files_update(&l->ring, (unsigned)fd,
						 &l->none, 1);

	if (ret < 0)
		pr_warn("io_uring file table: cannot empty slot %d: %s", fd,
			strerror(-ret));
}

/* A completion of the file table's updates. */
static void files_done(struct loop *l, uint64_t ud, int res)
{
	uint32_t v = loop_ud_gen(ud);
	unsigned fd = v & ~FILES_DETACH;

	if (res >= 0)
		return;
	pr_warn("io_uring file table: cannot %s slot %u: %s",
		(v & FILES_DETACH) ? "empty" : "fill", fd, strerror(-res));
	/* an attach that failed: operations already queued on the index
	 * fail (EBADF) and end their connection; later ones use the fd */
	if (!(v & FILES_DETACH) && fd < l->nfixed)
		l->fixed[fd] = 0;
}

int loop_accept_multishot(struct loop *l, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 1);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

int loop_recv(struct loop *l, int fd, size_t maxlen, uint64_t ud)
{
	return loop_recv_ex(l, fd, maxlen, 0, ud);
}

/* A receive of at most maxlen bytes into a provided buffer of the smallest
 * class that holds maxlen (else of the largest, and at most its size).
 * NULL when the ring cannot take it. */
static struct io_uring_sqe *prep_recv(struct loop *l, int fd, size_t maxlen,
				      uint64_t ud)
{
	struct io_uring_sqe *sqe;
	unsigned gi = 0;

	while (gi + 1 < l->ngroups && maxlen > l->g[gi].buf_size)
		gi++;
	sqe = get_sqe(l, 1);
	if (!sqe)
		return NULL;
	if (maxlen > l->g[gi].buf_size)
		maxlen = l->g[gi].buf_size;
	io_uring_prep_recv(sqe, fd, NULL, maxlen, 0);
	use_fd(l, sqe, fd);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)(LOOP_BGID + gi);
	io_uring_sqe_set_data64(sqe, ud);
	return sqe;
}

int loop_recv_ex(struct loop *l, int fd, size_t maxlen, unsigned flags,
		 uint64_t ud)
{
	struct io_uring_sqe *sqe;

	if (!l->ngroups)
		return -EINVAL;
	sqe = prep_recv(l, fd, maxlen, ud);
	if (!sqe)
		return -EBUSY;
	if (flags & LOOP_RECV_POLL_FIRST)
		sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	return 0;
}

bool loop_recv_multi_ok(const struct loop *l)
{
	return l->mshot_limit;
}

int loop_recv_multi(struct loop *l, int fd, size_t maxlen, size_t limit,
		    uint64_t ud)
{
	struct io_uring_sqe *sqe;

	if (!l->mshot_limit || !l->ngroups)
		return -EOPNOTSUPP;
	if (limit == 0 || limit > UINT32_MAX)
		return -EINVAL;
	/* len: at most maxlen bytes per completion; optlen (sharing the
	 * file_index field): the multishot ends once limit bytes came */
	sqe = prep_recv(l, fd, maxlen, ud);
	if (!sqe)
		return -EBUSY;
	sqe->ioprio |= IORING_RECV_MULTISHOT | IORING_RECVSEND_POLL_FIRST;
	sqe->file_index = (uint32_t)limit;
	return 0;
}

int loop_read(struct loop *l, int fd, void *buf, size_t len, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 1);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, (unsigned)len, 0);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

int loop_send(struct loop *l, int fd, const void *buf, size_t len,
	      uint64_t ud)
{
	return loop_send_ex(l, fd, buf, len, 0, ud);
}

int loop_send_ex(struct loop *l, int fd, const void *buf, size_t len,
		 int msg_flags, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 1);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL | msg_flags);
	use_fd(l, sqe, fd);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

int loop_poll(struct loop *l, int fd, unsigned int events, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 1);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, events);
	use_fd(l, sqe, fd);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

int loop_sendmsg(struct loop *l, int fd, const struct msghdr *msg,
		 int msg_flags, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 1);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)(MSG_NOSIGNAL | msg_flags));
	use_fd(l, sqe, fd);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

int loop_connect(struct loop *l, int fd, const struct sockaddr *sa,
		 socklen_t salen, const struct loop_ts *ts, uint64_t ud,
		 uint64_t timeout_ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 2);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_connect(sqe, fd, sa, salen);
	use_fd(l, sqe, fd);
	sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, ud);
	sqe = io_uring_get_sqe(&l->ring);	/* room checked above */
	io_uring_prep_link_timeout(sqe, (struct __kernel_timespec *)ts, 0);
	io_uring_sqe_set_data64(sqe, timeout_ud);
	return 0;
}

int loop_timeout(struct loop *l, const struct loop_ts *ts, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 1);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_timeout(sqe, (struct __kernel_timespec *)ts, 0, 0);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

int loop_nop(struct loop *l, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 1);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

int loop_post(struct loop *l, struct loop_post *p, uint64_t ud, int res)
{
	if (p->queued)
		return -EBUSY;
	p->next = NULL;
	p->ud = ud;
	p->res = res;
	p->queued = true;
	if (l->post_tail)
		l->post_tail->next = p;
	else
		l->post_head = p;
	l->post_tail = p;
	return 0;
}

void loop_unpost(struct loop *l, struct loop_post *p)
{
	struct loop_post **pp, *prev = NULL;

	if (!p->queued)
		return;
	for (pp = &l->post_head; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp != p)
			continue;
		*pp = p->next;
		if (l->post_tail == p)
			l->post_tail = prev;
		break;
	}
	p->queued = false;
}

/* Deliver the completions posted before this call; those the callbacks
 * post now wait for the next turn. A callback may free its own node (and
 * with it, say, the transport pair it belongs to), never one still
 * queued: that one's operation is in flight. */
static unsigned run_posted(struct loop *l, loop_cb cb, void *ctx)
{
	struct loop_post *p = l->post_head, *next;
	unsigned n = 0;

	l->post_head = l->post_tail = NULL;
	for (; p; p = next) {
		struct loop_cqe c = { .ud = p->ud, .res = p->res };

		next = p->next;
		p->queued = false;
		cb(ctx, &c);
		n++;
	}
	return n;
}

int loop_cancel_ud(struct loop *l, uint64_t target_ud, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l, 1);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, target_ud, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

int loop_run_once(struct loop *l, bool wait, loop_cb cb, void *ctx)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	int ret;

	rings_adapt(l);
	rings_top_up(l);
	if (l->post_head)
		wait = false;	/* completions of ours are waiting */
	if (__builtin_expect(l->poll_wait, 0)) {
		ret = io_uring_submit(&l->ring);
		if (wait && ret >= 0 && !io_uring_cq_ready(&l->ring)) {
			struct pollfd pfd = { .fd = l->ring.ring_fd,
					      .events = POLLIN };

			/* bounded, so that a wakeup lost to the COOP
			 * task-work rules costs at most this long */
			if (ppoll(&pfd, 1, &(struct timespec){ 0, 50000000 },
				  NULL) < 0)
				ret = -errno;
			if (!io_uring_cq_ready(&l->ring))
				(void)io_uring_get_events(&l->ring);
		}
	} else {
		ret = io_uring_submit_and_wait(&l->ring, wait ? 1 : 0);
	}
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
	    ret != -ETIME)
		return ret;
	io_uring_for_each_cqe(&l->ring, head, cqe) {
		struct loop_cqe c;

		if (__builtin_expect(own_ud(cqe->user_data), 0)) {
			/* a file table update's, or the feature probe's, late:
			 * not the caller's */
			if (loop_ud_id(cqe->user_data) == FILES_ID)
				files_done(l, cqe->user_data, cqe->res);
			else if (cqe->flags & IORING_CQE_F_BUFFER)
				buf_drop(l, cqe);
			n++;
			continue;
		}

		c.ud = cqe->user_data;
		c.res = cqe->res;
		c.more = cqe->flags & IORING_CQE_F_MORE;
		c.has_buf = cqe->flags & IORING_CQE_F_BUFFER;
		c.bid = 0;
		c.buf = NULL;
		if (c.has_buf) {
			struct bufgroup *g;

			c.bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
			g = buf_taken(l, c.bid);
			if (g) {
				c.buf = buf_at(g, c.bid);
				if (c.res > 0)
					g->turn_bytes += (size_t)c.res;
			} else {
				c.has_buf = false;
			}
		}
		cb(ctx, &c);
		n++;
	}
	io_uring_cq_advance(&l->ring, n);
	if (l->post_head)
		n += run_posted(l, cb, ctx);
	return (int)n;
}
