/* SPDX-License-Identifier: MIT */
/*
 * Takeover: a new sluiced replaces a running one (binary upgrade, restart)
 * without refusing a connection.
 *
 *   new                                   old
 *   POST /takeover (admin Unix socket) -> reply + every listening socket
 *                                         (SCM_RIGHTS), the admin TCP one
 *                                         last; it keeps serving
 *   XDP: atomic replacement of the old program (same pinned maps)
 *   workers accept on the same sockets (no new bind: the SO_REUSEPORT group
 *   and every accept queue stay as they are), admin socket re-bound
 *   ready -> SIGUSR2 to the old pid    -> stops accepting, drains, exits
 *                                         leaving XDP and the pins alone
 *
 * The old process closes its copies of the listening sockets only after
 * the new one holds them, so a connection in an accept queue is accepted
 * by one process or the other, never dropped.
 */
#ifndef SLUICE_TAKEOVER_H
#define SLUICE_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct control;

/* SCM_MAX_FD is 253 */
#define TAKEOVER_MAX_FDS	250

struct takeover {
	pid_t pid;			/* the old process (SO_PEERCRED) */
	int fds[TAKEOVER_MAX_FDS];	/* listening sockets; -1 once taken */
	size_t n_fds;
	int admin_tcp_fd;		/* -1: none */
};

/* New side: ask the daemon serving the admin socket sock_path for its
 * sockets. 0 or -errno (logged). */
int takeover_fetch(const char *sock_path, struct takeover *t);
/* A received listening socket bound to sa (taken out of t), or -1. */
int takeover_take(struct takeover *t, const struct sockaddr *sa,
		  socklen_t salen);
/* The next socket left in t (taken out), or -1. */
int takeover_take_any(struct takeover *t);
/* Close what was not taken. */
void takeover_release(struct takeover *t);
/* Ready: tell the old process to drain and exit (SIGUSR2). 0 or -errno. */
int takeover_commit(const struct takeover *t);

/* Old side: register POST /takeover on the admin server. 0 or -errno. */
int takeover_register(struct control *ctl);

#endif
