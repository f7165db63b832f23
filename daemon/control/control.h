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

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "io/loop.h"

struct config;
struct control;
struct health;
struct loop;
struct watch;
struct worker;
struct xdpctl;

/*
 * The admin API served over this control thread (admin_api.h), passed in
 * by the wiring (cmd/main.c): its endpoints call the control_*() functions
 * below, so this file only calls them back through these hooks.
 * open: register the endpoints, once the listeners and XDP are up and
 * before privileges are dropped; 0 or -errno. close: release what open
 * took, after the admin server stopped.
 */
struct control_admin {
	int (*open)(struct control *ctl);
	void (*close)(void);
};

struct topsample;

struct control {
	char *path;			/* config file, for reloads */
	struct takeover *takeover;	/* starting with --takeover, until ready */
	atomic_bool takeover_served;	/* POST /takeover answered: SIGUSR2 is
					 * the successor's "ready" */
	bool handed_over;		/* stopping for a successor: XDP and
					 * pins are its own now */
	struct config *cfg;		/* current snapshot: one reference */
	uint64_t generation;
	bool log_level_fixed;		/* --log-level given: config does not apply */
	const struct control_admin *admin;	/* NULL: no admin endpoints */
	struct xdpctl *xdp;
	struct topsample *top;		/* top-talkers sampler; NULL without
					 * xdp (topsample.h) */
	struct worker *workers;
	unsigned int n_workers;
	unsigned int n_started;
	struct loop *loop;
	int sfd;			/* signalfd */
	uint64_t siginfo[16];		/* struct signalfd_siginfo (128 bytes) */
	unsigned int reloads, reload_failures;
	/*
	 * Reloads come from SIGHUP (this thread) and from the admin API (the
	 * admin thread): `lock` serializes them and guards cfg, generation and
	 * the reload record below against the admin thread's readers.
	 */
	pthread_mutex_t lock;
	bool admin_started;
	time_t loaded_at;		/* when cfg was loaded */
	time_t last_reload_at;		/* 0: no reload yet */
	bool last_reload_ok;
	char last_reload_origin[16];	/* "SIGHUP", "admin" */
	char *last_reload_errors;	/* the refused config's errors, or NULL */
	/* TLS certificate files: newest change time seen (polled from this
	 * thread; a change triggers a reload) */
	int64_t tls_mtime;
	struct loop_ts poll_ts;
	struct health *health;		/* active health checks (health.h) */
	struct watch *watch;		/* watch_files (watch.h); under lock */
	uint64_t ibuf[512];		/* inotify events (4 KiB) */
};

/* A consistent copy of the reload record, for the admin API. */
struct control_stats {
	uint64_t reloads, reload_failures;
	unsigned int workers;
	time_t loaded_at, last_reload_at;
	bool last_reload_ok;
	char last_reload_origin[16];
	char *last_reload_errors;	/* malloc'd copy or NULL */
};

/*
 * Take over cfg (one reference), attach XDP if enabled, bind listeners,
 * open the admin server with admin's endpoints (when cfg enables it),
 * start the workers. Signals must already be blocked (control_block_signals
 * before any thread exists). 0 or -errno (runtime setup failure; the cause
 * is logged). Call control_destroy() in both cases.
 * takeover: NULL, or the admin socket of a running sluiced whose listening
 * sockets to use (takeover.h); once ready, it is told to drain and exit.
 */
int control_start(struct control *ctl, const char *path, struct config *cfg,
		  bool log_level_fixed, const struct control_admin *admin,
		  const char *takeover);

/* Block the signals the control thread reads through its signalfd and
 * ignore SIGPIPE. 0 or -errno. */
int control_block_signals(void);

/* Serve signals until SIGTERM/SIGINT, then drain and stop the workers and
 * detach XDP. 0 or -errno. */
int control_run(struct control *ctl);

/* SIGHUP: reload the config file. 0, or -errno when it was refused. */
int control_reload(struct control *ctl);

/*
 * Reload from any thread. origin names the trigger in logs and in the
 * record. On refusal (-EINVAL: invalid configuration; other -errno: XDP sync
 * or I/O failure) *errors (when errors is not NULL) receives the error
 * lines, malloc'd, one per line. The running configuration keeps serving.
 */
int control_reload_ex(struct control *ctl, const char *origin, char **errors);

/* The current snapshot (a reference: config_put() it) and, when st is not
 * NULL, the reload record (control_stats_free() it). Any thread. */
struct config *control_config(struct control *ctl, struct control_stats *st);
void control_stats_free(struct control_stats *st);

void control_destroy(struct control *ctl);

#endif
