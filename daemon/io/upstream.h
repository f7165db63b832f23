/* SPDX-License-Identifier: MIT */
/*
 * Upstream side of one worker (the target is picked by proxy_balance.c):
 * outgoing connects (with the service's connect timeout), and a keep-alive
 * pool of idle connections per target address with a maximum size.
 *
 * An idle pooled connection keeps a receive posted: any completion on it
 * (EOF, reset, or stray bytes) means the backend closed it or broke HTTP,
 * and the owner calls upstream_idle_event() which drops it. When a pooled
 * connection is taken, that receive stays posted and will carry the
 * response.
 */
#ifndef SLUICE_UPSTREAM_H
#define SLUICE_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conn;
struct conn_table;
struct config;
struct config_addr;

#define UPSTREAM_MAX_POOLS	1024	/* distinct target addresses pooled */

/* The idle connections to one target, keyed by its socket address: IP
 * and port, or for a Unix-domain target its path (the bytes of
 * sockaddr_un up to addrlen), and by the upstream TLS they speak (NULL:
 * plain), so that TLS and plain connections, or TLS ones of services
 * with other settings, never mix. */
struct upstream_pool {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const void *tls;
	struct conn *head;		/* most recently used first */
	unsigned int n;
};

struct upstream {
	struct conn_table *conns;
	struct upstream_pool *pools;
	size_t n_pools;
	size_t cap_pools;
	uint64_t connects;		/* counters */
	uint64_t reuses;
};

int upstream_init(struct upstream *u, struct conn_table *t);
/* Pooled connections must have been closed (upstream_close_idle). */
void upstream_destroy(struct upstream *u);


/* Most recently pooled idle connection to addr speaking tls (the
 * service's tls_upstream_of(), NULL: plain), unlinked, or NULL. */
struct conn *upstream_take(struct upstream *u, const struct sockaddr *sa,
			   socklen_t salen, const void *tls);

/*
 * Open a connection to a: socket, then an io_uring connect with a linked
 * timeout of timeout_ms (completions CONN_OP_CONNECT and
 * CONN_OP_CONNECT_TIMEOUT on the returned connection). NULL + errno.
 */
struct conn *upstream_connect(struct upstream *u, const struct config_addr *a,
			      unsigned int timeout_ms, uint64_t now_ms);

/*
 * Make c idle in its target's pool (at most max_idle there, closed after
 * idle_ms) and post the watch receive. c must have no operation in flight
 * but possibly that receive, and an empty input. 0, or -errno when it
 * cannot be pooled (full, or max_idle 0: -ENOSPC): the caller closes it.
 */
int upstream_put_ex(struct upstream *u, struct conn *c, uint64_t now_ms,
		    unsigned int max_idle, unsigned int idle_ms);

/* Unlink c from its pool (no-op if not pooled). */
void upstream_remove(struct upstream *u, struct conn *c);

/* A completion arrived on pooled connection c: drop it. */
void upstream_idle_event(struct upstream *u, struct conn *c, long res);

/* Close every idle connection (shutdown, reload of targets). */
void upstream_close_idle(struct upstream *u);

#endif
