/* SPDX-License-Identifier: MIT */
/*
 * A worker: one thread, its own io_uring, its own SO_REUSEPORT listener
 * sockets, connection table and pools (struct proxy). Nothing is shared
 * between workers but the immutable config snapshots; the control thread
 * talks to a worker only through its mailbox (an atomic pointer and a flag)
 * and an eventfd the worker reads through its ring.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/loop.h"
#include "proxy/proxy.h"

struct config;

/* Connection table: 2 x http.max_connections + 1024 (proxy_init). */
#define WORKER_RING_ENTRIES	1024
/* Provided receive buffers: http.receive_buffers of these for clients */
#define WORKER_RECV_BUF_SIZE	16384
/* Upstream receives (http.upstream_buffers of them): a response head and a
 * 16 KiB body in one receive (and one send to the client) */
#define WORKER_BIG_BUF_SIZE	32768
#define WORKER_TICK_MS		500	/* a turn of the loop ends at least
					 * this often */
#define WORKER_TURNS_GONE	UINT64_MAX
#define WORKER_ACCEPT_PAUSE_MS	250	/* after EMFILE/ENFILE */
/* Clients accepted past http.max_connections that wait for a free slot
 * (a multishot accept takes every connection queued at a wake-up, so a
 * burst overshoots the limit before the pause takes effect); past this
 * many, one is refused */
#define WORKER_PARKED_MAX	4096

struct worker_listener {
	int fd;
	bool armed;			/* multishot accept pending */
	unsigned int lflags;		/* PROXY_L_* */
};

/* An accepted client waiting for a connection slot: only its socket. */
struct worker_parked {
	int fd;
	unsigned int listener;
};

struct worker {
	unsigned int id;
	pthread_t thread;
	bool running;
	int efd;			/* eventfd: control -> worker */
	uint64_t efd_val;
	_Atomic(struct config *) pending_cfg;
	/* turns of the loop finished (WORKER_TURNS_GONE once the thread
	 * ended): a service state replaced while the count was k is not
	 * referenced without a reference by this worker once it passed k
	 * (control/dns.c frees replaced states by it) */
	_Atomic uint64_t turns;
	atomic_bool stop;
	atomic_bool handed_over;	/* a successor has the listeners */
	atomic_uint drain_ms;
	struct worker_listener *listeners;
	size_t n_listeners;
	struct loop *loop;
	struct proxy proxy;
	bool stopping;
	bool forced;
	bool accept_paused;
	bool limit_paused;		/* at http.max_connections */
	struct worker_parked *parked;	/* FIFO, WORKER_PARKED_MAX slots */
	unsigned int parked_head;
	unsigned int n_parked;
	bool clock_stale;		/* proxy.now_ms to refresh */
	uint64_t drain_deadline_ms;
	uint64_t last_accept_warn_ms;
	struct loop_ts tick_ts;
	struct loop_ts pause_ts;
};

/*
 * Set up worker `id` on the listener sockets fds[0..n) (taken over, closed
 * by the worker; fds[k] is a socket of cfg->listeners[lidx[k]]) and a
 * reference to cfg (taken over). Creates the ring and
 * the connection table but does not start the thread. 0 or -errno; in
 * both cases worker_destroy() releases everything.
 */
int worker_init(struct worker *w, unsigned int id, const int *fds,
		const unsigned int *lidx, size_t n, struct config *cfg);
/* Start the thread. 0 or -errno. */
int worker_start(struct worker *w);
/* From the control thread: hand over a new snapshot (a reference the
 * worker takes over). */
void worker_set_config(struct worker *w, struct config *cfg);
/* From the control thread: stop accepting, close idle connections, give
 * requests in flight drain_ms, then exit the thread. Connections queued
 * on the listeners are taken first and answered, unless handed_over (a
 * successor shares the listening sockets and serves them). */
void worker_stop(struct worker *w, unsigned int drain_ms, bool handed_over);
/* Wait for the thread and free everything. Safe on a worker that was
 * initialised but never started. */
void worker_destroy(struct worker *w);

#endif
