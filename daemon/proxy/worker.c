// SPDX-License-Identifier: MIT
/* Worker thread: ring, accept, mailbox, timers. See worker.h. */
#include "proxy/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "io/conn.h"
#include "io/tls.h"
#include "lib/log.h"
#include "lib/clock.h"
#include "obs/obs.h"

/* Worker-level operations (conn.h's CONN_OP_* stay below these). */
enum worker_op {
	W_OP_ACCEPT = 0x40,		/* id: listener index */
	W_OP_TICK,
	W_OP_EVENT,
	W_OP_RESUME,			/* accept pause over */
	W_OP_CANCEL,
};

_Static_assert((int)CONN_OP__MAX <= (int)W_OP_ACCEPT, "op ranges overlap");

static void arm_accept(struct worker *w, size_t i)
{
	struct worker_listener *l = &w->listeners[i];
	int ret;

	if (l->armed || l->fd < 0 || w->stopping || w->limit_paused)
		return;
	ret = loop_accept_multishot(w->loop, l->fd,
				    loop_ud(W_OP_ACCEPT, (uint32_t)i, 0));
	if (ret) {
		pr_err("worker %u: cannot arm accept: %s", w->id,
		       strerror(-ret));
		return;
	}
	l->armed = true;
}

static void arm_tick(struct worker *w)
{
	loop_ts_ms(&w->tick_ts, WORKER_TICK_MS);
	if (loop_timeout(w->loop, &w->tick_ts, loop_ud(W_OP_TICK, 0, 0)))
		pr_err("worker %u: cannot arm the timer", w->id);
}

static void arm_event(struct worker *w)
{
	if (loop_read(w->loop, w->efd, &w->efd_val, sizeof(w->efd_val),
		      loop_ud(W_OP_EVENT, 0, 0)))
		pr_err("worker %u: cannot read the control eventfd", w->id);
}

static void pause_accept(struct worker *w)
{
	if (w->accept_paused || w->stopping)
		return;
	w->accept_paused = true;
	obs_accept_paused();
	loop_ts_ms(&w->pause_ts, WORKER_ACCEPT_PAUSE_MS);
	if (loop_timeout(w->loop, &w->pause_ts, loop_ud(W_OP_RESUME, 0, 0)))
		w->accept_paused = false;
}

static void cancel_accepts(struct worker *w)
{
	for (size_t i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].armed)
			loop_cancel_ud(w->loop,
				       loop_ud(W_OP_ACCEPT, (uint32_t)i, 0),
				       loop_ud(W_OP_CANCEL, 0, 0));
}

/* At the connection limit: leave new clients in the listen backlog until
 * a connection closes (resumed from worker_main). */
static void limit_pause(struct worker *w)
{
	if (w->limit_paused)
		return;
	w->limit_paused = true;
	if (!w->last_accept_warn_ms ||
	    w->proxy.now_ms - w->last_accept_warn_ms >= 10000) {
		w->last_accept_warn_ms = w->proxy.now_ms;
		pr_warn("worker %u: %u client connections (http.max_connections); "
			"pausing accepts", w->id, w->proxy.conns.n_clients);
	}
	cancel_accepts(w);
}

static void limit_resume(struct worker *w)
{
	if (!w->limit_paused || proxy_full(&w->proxy))
		return;
	w->limit_paused = false;
	if (w->accept_paused)
		return;		/* the fd pause timer re-arms */
	for (size_t i = 0; i < w->n_listeners; i++)
		arm_accept(w, i);
}

/* Past the connection limit: keep the accepted client, holding nothing
 * but its socket, until a slot frees (unpark), as the listen backlog
 * would have. Closing it instead would reset a client that only came in
 * the same burst as the ones that filled the table. */
static bool park(struct worker *w, int fd, size_t listener)
{
	struct worker_parked *pk;

	if (!w->parked || w->n_parked >= WORKER_PARKED_MAX)
		return false;
	pk = &w->parked[(w->parked_head + w->n_parked) % WORKER_PARKED_MAX];
	pk->fd = fd;
	pk->listener = (unsigned int)listener;
	w->n_parked++;
	return true;
}

/* Serve parked clients, oldest first, while there are free slots (while
 * draining too: they were accepted, so they are answered). */
static void unpark(struct worker *w)
{
	while (w->n_parked && !proxy_full(&w->proxy)) {
		struct worker_parked pk = w->parked[w->parked_head];

		w->parked_head = (w->parked_head + 1) % WORKER_PARKED_MAX;
		w->n_parked--;
		proxy_accept_on(&w->proxy, pk.fd,
				w->listeners[pk.listener].lflags, pk.listener);
	}
}

static void close_parked(struct worker *w)
{
	for (; w->n_parked; w->n_parked--) {
		close(w->parked[w->parked_head].fd);
		w->parked_head = (w->parked_head + 1) % WORKER_PARKED_MAX;
	}
}

/* Stopping: a listener still waits for its accept to end (drain_listener). */
static bool listening(const struct worker *w)
{
	for (size_t i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].fd >= 0)
			return true;
	return false;
}

/* An accepted client: served, or parked when the table is full. */
static void take(struct worker *w, int fd, size_t i)
{
	if (!proxy_full(&w->proxy) || !park(w, fd, i))
		proxy_accept_on(&w->proxy, fd, w->listeners[i].lflags, i);
}

/*
 * Stopping, with no accept of the ring on listener i any more: the
 * connections the kernel completed that nobody accepted yet would be
 * reset by the close (their clients may have sent a request already).
 * Take them, to be answered with "Connection: close" like the rest of the
 * drain, then close; whoever comes after that is refused.
 */
static void drain_listener(struct worker *w, size_t i)
{
	struct worker_listener *l = &w->listeners[i];
	int flags;

	if (l->fd < 0)
		return;
	/* a successor shares these sockets (and O_NONBLOCK would be set on
	 * its file too): what queued is its to take */
	flags = atomic_load(&w->handed_over) ? -1 : fcntl(l->fd, F_GETFL);
	if (flags >= 0 && fcntl(l->fd, F_SETFL, flags | O_NONBLOCK) == 0) {
		for (int n = 0; n < WORKER_PARKED_MAX; n++) {
			int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0)
				break;
			take(w, fd, i);
		}
	}
	close(l->fd);
	l->fd = -1;
}

static void on_accept(struct worker *w, const struct loop_cqe *cqe)
{
	size_t i = loop_ud_id(cqe->ud);
	struct worker_listener *l;

	if (i >= w->n_listeners)
		return;
	l = &w->listeners[i];
	if (!cqe->more)
		l->armed = false;
	if (cqe->res >= 0)
		take(w, cqe->res, i);
	if (w->stopping) {
		if (!l->armed)
			drain_listener(w, i);
		return;
	}
	if (cqe->res >= 0) {
		if (proxy_full(&w->proxy))
			limit_pause(w);
		else if (!l->armed)
			arm_accept(w, i);
		return;
	}
	if (cqe->res == -ECANCELED)
		return;
	if (!w->last_accept_warn_ms ||
	    w->proxy.now_ms - w->last_accept_warn_ms >= 10000) {
		/* while the condition lasts: one line per 10 s, not per retry */
		w->last_accept_warn_ms = w->proxy.now_ms;
		pr_warn("worker %u: accept: %s; pausing accepts for %d ms",
			w->id, strerror(-cqe->res), WORKER_ACCEPT_PAUSE_MS);
	}
	if (l->armed)
		loop_cancel_ud(w->loop, loop_ud(W_OP_ACCEPT, (uint32_t)i, 0),
			       loop_ud(W_OP_CANCEL, 0, 0));
	/* re-armed by the timer, never in a busy loop */
	pause_accept(w);
}

static void begin_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->drain_deadline_ms = clock_now_ms() + atomic_load(&w->drain_ms);
	for (size_t i = 0; i < w->n_listeners; i++) {
		struct worker_listener *l = &w->listeners[i];

		/* the socket stays open (and listening) until the ring's
		 * accept is gone: then drain_listener() takes what queued
		 * and closes it */
		if (l->armed)
			loop_cancel_ud(w->loop,
				       loop_ud(W_OP_ACCEPT, (uint32_t)i, 0),
				       loop_ud(W_OP_CANCEL, 0, 0));
		else
			drain_listener(w, i);
	}
	proxy_drain(&w->proxy);
	pr_debug("worker %u: draining %u connection(s)", w->id,
		 proxy_live(&w->proxy));
}

static void on_event(struct worker *w)
{
	struct config *cfg = atomic_exchange(&w->pending_cfg, NULL);

	if (cfg) {
		proxy_set_config(&w->proxy, cfg);
		/* idle connections may go to targets no longer configured */
		upstream_close_idle(&w->proxy.up);
	}
	if (atomic_load(&w->stop))
		begin_stop(w);
	arm_event(w);
}

static void dispatch(void *ctx, const struct loop_cqe *cqe)
{
	struct worker *w = ctx;
	unsigned int op = loop_ud_op(cqe->ud);

	/* one clock read per batch of completions */
	if (w->clock_stale) {
		w->proxy.now_ms = clock_batch_ns() / 1000000u;
		w->clock_stale = false;
	}
	if (op < CONN_OP__MAX) {
		proxy_complete(&w->proxy, cqe);
		return;
	}
	switch (op) {
	case W_OP_ACCEPT:
		on_accept(w, cqe);
		break;
	case W_OP_TICK:
		proxy_tick(&w->proxy);
		arm_tick(w);
		break;
	case W_OP_EVENT:
		if (cqe->res < 0 && cqe->res != -EINTR && cqe->res != -EAGAIN)
			pr_err("worker %u: eventfd: %s", w->id,
			       strerror(-cqe->res));
		on_event(w);
		break;
	case W_OP_RESUME:
		w->accept_paused = false;
		for (size_t i = 0; i < w->n_listeners; i++)
			arm_accept(w, i);
		break;
	default:
		break;
	}
}

/* Slots of the ring's file table: as many as fd numbers can reach (the
 * open-files limit), or SLUICE_FILE_TABLE (troubleshooting and tests: 0
 * for none, a few to mix table and plain sockets). */
static unsigned file_table_slots(void)
{
	const char *e = getenv("SLUICE_FILE_TABLE");
	struct rlimit rl;

	if (e && *e) {
		char *end;
		unsigned long v = strtoul(e, &end, 10);

		if (!*end)
			return v > LOOP_FILES_MAX ? LOOP_FILES_MAX : (unsigned)v;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > LOOP_FILES_MAX)
		return LOOP_FILES_MAX;
	return (unsigned)rl.rlim_cur;
}

static void *worker_loop(struct worker *w);

/* The thread: the loop, then "no longer holds anything" for whoever
 * waits for its turns (worker.h). */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	void *r = worker_loop(w);

	atomic_store(&w->turns, WORKER_TURNS_GONE);
	return r;
}

static void *worker_loop(struct worker *w)
{
	unsigned slots;
	int ret;

	w->proxy.now_ms = clock_now_ms();
	tls_thread_worker(w->id);
	ret = loop_start(w->loop);
	if (ret) {
		pr_err("worker %u: io_uring enable: %s", w->id, strerror(-ret));
		return NULL;
	}
	/* sockets numbered below the table's size go in the ring's file
	 * table; the others (and all without a table) are used as they are */
	slots = file_table_slots();
	ret = loop_files_init(w->loop, slots);
	if (ret && w->id == 0)
		pr_warn("io_uring file table: %s; sockets are looked up per "
			"operation", strerror(-ret));
	else if (w->id == 0 && slots)
		pr_info("io_uring file table: %u slots", slots);
	else if (w->id == 0)
		pr_info("io_uring file table: off (SLUICE_FILE_TABLE=0)");
	if (w->id == 0)
		pr_info("receives between requests: %s",
			loop_recv_multi_ok(w->loop) ?
				"armed (multishot with a byte limit)" :
				"one at a time (needs Linux 6.17+, or "
				"SLUICE_NO_MULTISHOT is set)");
	for (size_t i = 0; i < w->n_listeners; i++)
		arm_accept(w, i);
	arm_event(w);
	arm_tick(w);
	for (;;) {
		w->clock_stale = true;
		clock_batch_begin();
		ret = loop_run_once(w->loop, true, dispatch, w);
		/* a turn ended: no service state loaded in it is held
		 * without a reference any more */
		atomic_store(&w->turns, atomic_load_explicit(
			&w->turns, memory_order_relaxed) + 1);
		if (ret < 0) {
			pr_err("worker %u: io_uring: %s", w->id, strerror(-ret));
			break;
		}
		unpark(w);
		if (!w->stopping) {
			limit_resume(w);
			continue;
		}
		if (proxy_live(&w->proxy) == 0 && !w->n_parked &&
		    !listening(w))
			break;
		if (!w->forced && clock_now_ms() >= w->drain_deadline_ms) {
			pr_warn("worker %u: drain deadline passed, closing %u connection(s)",
				w->id, proxy_live(&w->proxy) + w->n_parked);
			w->forced = true;
			for (size_t i = 0; i < w->n_listeners; i++) {
				if (w->listeners[i].fd >= 0)
					close(w->listeners[i].fd);
				w->listeners[i].fd = -1;
			}
			close_parked(w);
			proxy_close_all(&w->proxy);
		}
	}
	return NULL;
}

int worker_init(struct worker *w, unsigned int id, const int *fds,
		const unsigned int *lidx, size_t n, struct config *cfg)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->efd = -1;
	atomic_init(&w->pending_cfg, NULL);
	atomic_init(&w->stop, false);
	atomic_init(&w->handed_over, false);
	atomic_init(&w->drain_ms, 5000);
	w->listeners = calloc(n ? n : 1, sizeof(*w->listeners));
	if (!w->listeners) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		config_put(cfg);
		return -ENOMEM;
	}
	w->n_listeners = n;
	for (size_t i = 0; i < n; i++) {
		w->listeners[i].fd = fds[i];
		if (lidx[i] < cfg->n_listeners &&
		    cfg->listeners[lidx[i]].proxy_protocol)
			w->listeners[i].lflags = PROXY_L_PROXY_PROTOCOL;
		if (i < cfg->n_listeners && cfg->listeners[i].tls.enabled)
			w->listeners[i].lflags |= PROXY_L_TLS;
		if (i < cfg->n_listeners && cfg->listeners[i].redirect_https)
			w->listeners[i].lflags |= PROXY_L_REDIRECT_HTTPS;
		if (i < cfg->n_listeners && cfg->listeners[i].h2c)
			w->listeners[i].lflags |= PROXY_L_H2C;
	}
	w->parked = calloc(WORKER_PARKED_MAX, sizeof(*w->parked));
	if (!w->parked) {
		config_put(cfg);
		return -ENOMEM;
	}
	w->efd = eventfd(0, EFD_CLOEXEC);
	if (w->efd < 0) {
		ret = -errno;
		config_put(cfg);
		return ret;
	}
	w->loop = loop_new_flags(WORKER_RING_ENTRIES, cfg->http.receive_buffers,
				 WORKER_RECV_BUF_SIZE, LOOP_F_SINGLE_ISSUER);
	if (!w->loop) {
		ret = -errno;
		pr_err("worker %u: io_uring setup: %s", id, strerror(-ret));
		config_put(cfg);
		return ret;
	}
	ret = loop_add_bufs(w->loop, cfg->http.upstream_buffers,
			    WORKER_BIG_BUF_SIZE);
	if (ret) {
		pr_err("worker %u: io_uring buffers: %s", id, strerror(-ret));
		config_put(cfg);
		return ret;
	}
	ret = proxy_init(&w->proxy, w->loop, cfg, 0, id);
	if (ret) {
		pr_err("worker %u: setup: %s", id, strerror(-ret));
		return ret;
	}
	return 0;
}

int worker_start(struct worker *w)
{
	int ret = pthread_create(&w->thread, NULL, worker_main, w);

	if (ret)
		return -ret;
	w->running = true;
	return 0;
}

static void kick(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0)
		pr_err("worker %u: eventfd write: %s", w->id, strerror(errno));
}

void worker_set_config(struct worker *w, struct config *cfg)
{
	struct config *old = atomic_exchange(&w->pending_cfg, cfg);

	if (old)
		config_put(old);	/* never picked up */
	kick(w);
}

void worker_stop(struct worker *w, unsigned int drain_ms, bool handed_over)
{
	atomic_store(&w->drain_ms, drain_ms);
	atomic_store(&w->handed_over, handed_over);
	atomic_store(&w->stop, true);
	kick(w);
}

void worker_destroy(struct worker *w)
{
	struct config *cfg;

	if (w->running)
		pthread_join(w->thread, NULL);
	w->running = false;
	if (w->parked)
		close_parked(w);
	free(w->parked);
	w->parked = NULL;
	if (w->loop)
		proxy_destroy(&w->proxy);
	loop_free(w->loop);
	w->loop = NULL;
	cfg = atomic_exchange(&w->pending_cfg, NULL);
	if (cfg)
		config_put(cfg);
	for (size_t i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].fd >= 0)
			close(w->listeners[i].fd);
	free(w->listeners);
	w->listeners = NULL;
	if (w->efd >= 0)
		close(w->efd);
	w->efd = -1;
}
