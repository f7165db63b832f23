/* SPDX-License-Identifier: MIT */
/*
 * Control thread (the main thread): owns the current config snapshot and
 * the XDP handle, binds every worker's listeners, starts the workers, then
 * reads signals through a signalfd on its own io_uring: SIGHUP reloads
 * (validate whole, sync XDP maps, swap the snapshot), SIGTERM/SIGINT drain
 * and stop.
 */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

struct config;
struct loop;
struct worker;
struct xdpctl;

/* In-flight requests get http.drain_timeout_ms on shutdown. */
#define CONTROL_DRAIN_MS 5000	/* (unused: kept for source compatibility) */

struct control {
	char *path;			/* config file, for reloads */
	struct config *cfg;		/* current snapshot: one reference */
	uint64_t generation;
	bool log_level_fixed;		/* --log-level given: config does not apply */
	struct xdpctl *xdp;
	struct worker *workers;
	unsigned int n_workers;
	unsigned int n_started;
	struct loop *loop;
	int sfd;			/* signalfd */
	uint64_t siginfo[16];		/* struct signalfd_siginfo (128 bytes) */
	unsigned int reloads, reload_failures;
};

/*
 * Take over cfg (one reference), attach XDP if enabled, bind listeners,
 * start the workers. Signals must already be blocked (control_block_signals
 * before any thread exists). 0 or -errno (runtime setup failure; the cause
 * is logged). Call control_destroy() in both cases.
 */
int control_start(struct control *ctl, const char *path, struct config *cfg,
		  bool log_level_fixed);

/* Block the signals the control thread reads through its signalfd and
 * ignore SIGPIPE. 0 or -errno. */
int control_block_signals(void);

/* Serve signals until SIGTERM/SIGINT, then drain and stop the workers and
 * detach XDP. 0 or -errno. */
int control_run(struct control *ctl);

/* SIGHUP: reload the config file. 0, or -errno when it was refused. */
int control_reload(struct control *ctl);

void control_destroy(struct control *ctl);

#endif
