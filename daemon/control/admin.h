/* SPDX-License-Identifier: MIT */
/*
 * Admin server: HTTP/1.1 for operators and scrapers, off the hot path.
 *
 * Listens on a Unix stream socket (default /run/sluice/admin.sock, mode
 * 0600, peers other than root and our own uid refused by SO_PEERCRED) and,
 * optionally, on a TCP address (admin.address, meant to be loopback). It
 * runs on one control-plane thread of its own (never on a worker ring);
 * handlers run there, one request at a time, so a handler may block briefly
 * (a reload) but must not block for long.
 *
 * Requests are small (head + body <= ADMIN_MAX_REQUEST), one per connection
 * (every reply carries "Connection: close"). Each listener has slots of its
 * own: ADMIN_MAX_TCP_CONNS for the TCP listener, whose clients beyond that
 * get an immediate 503 "too_many_connections", and ADMIN_MAX_UNIX_CONNS for
 * the Unix socket, which TCP clients can never take (a connection beyond
 * those waits in the socket's backlog). Every connection has
 * ADMIN_IO_TIMEOUT_MS for its whole request and reply.
 *
 * Dispatch is by exact path through a registry filled with
 * admin_register(). The server itself enforces one
 * policy before dispatch: a method other than GET or HEAD is accepted only on
 * the Unix socket (403 "forbidden" on TCP), so the TCP listener is read-only.
 *
 * Error replies follow the gateway's format:
 *   {"error":"<code>","status":<n>,"message":"<text>"}
 */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define ADMIN_SOCKET_DEFAULT "/run/sluice/admin.sock"
#define ADMIN_MAX_REQUEST    (64u * 1024)	/* head + body */
#define ADMIN_MAX_TCP_CONNS  32		/* TCP listener */
#define ADMIN_MAX_UNIX_CONNS 8		/* Unix socket, its own */
#define ADMIN_MAX_CONNS      (ADMIN_MAX_TCP_CONNS + ADMIN_MAX_UNIX_CONNS)
#define ADMIN_IO_TIMEOUT_MS  5000		/* per connection, whole request */
#define ADMIN_MAX_PATHS      64

struct admin_request {
	const char *method;	/* NUL-terminated */
	const char *path;	/* NUL-terminated, without the query */
	const char *query;	/* after '?', NUL-terminated; "" when none */
	const char *body;	/* NUL-terminated copy; body_len bytes */
	size_t body_len;
	bool via_unix;		/* arrived on the Unix socket */
};

struct admin_reply {
	int status;			/* default 200 */
	const char *content_type;	/* default "application/json" */
	char *body;			/* malloc'd; freed by admin */
	size_t len;
	/* descriptors sent with the reply (SCM_RIGHTS, Unix socket only):
	 * malloc'd array of duplicates, closed and freed by admin */
	int *fds;
	size_t n_fds;
	const char *headers;		/* more header lines, each ending in
					 * CRLF (static); NULL: none */
};

/* Fill out and return 0; or return -errno (the server answers 500). */
typedef int (*admin_handler_fn)(const struct admin_request *rq,
				struct admin_reply *out, void *arg);

/*
 * Register fn for an exact path ("/status"). Registering a path again
 * replaces its handler. May be called before or after admin_start(), from
 * any thread. 0, -EINVAL (path not starting with '/'), -ENOSPC (registry
 * full) or -ENOMEM.
 */
int admin_register(const char *path, admin_handler_fn fn, void *arg);

/* Remove every registration (tests; after admin_stop()). */
void admin_unregister_all(void);

struct admin_opts {
	const char *unix_path;		/* NULL: no Unix socket */
	unsigned int unix_mode;		/* 0: 0600 */
	const struct sockaddr *tcp;	/* NULL: no TCP listener */
	socklen_t tcp_len;
	/* taking over from a running sluiced: a live socket at unix_path is
	 * replaced (its owner is going away); with tcp_adopt, tcp_fd is its
	 * TCP listener, used instead of binding tcp */
	bool replace_live;
	bool tcp_adopt;
	int tcp_fd;
};

/*
 * Bind the listeners (no thread yet). For the Unix socket the parent
 * directory is created (0755) when missing; a stale socket file left by a
 * dead process is replaced, a live one is -EADDRINUSE. 0 or -errno (the
 * cause is logged). At most one server per process.
 */
int admin_listen(const struct admin_opts *o);

/* Start the admin thread on the bound listeners. 0 or -errno (logged). */
int admin_serve(void);

/* admin_listen(), then admin_serve(). */
int admin_start(const struct admin_opts *o);

/* Stop the thread, close the listeners, remove the socket file. Idempotent. */
void admin_stop(void);

/* The bound TCP port (host order; useful with port 0), or 0. */
unsigned int admin_tcp_port(void);
/* The TCP listener's descriptor (-1: none), to hand over to a successor. */
int admin_tcp_fd(void);

/* ---- reply helpers for handlers (all 0 or -ENOMEM) ---- */

/* Reply with status and a copy of body[0..len). */
int admin_reply_set(struct admin_reply *out, int status,
		    const char *content_type, const char *body, size_t len);
/* {"error":code,"status":status,"message":msg} */
int admin_reply_error(struct admin_reply *out, int status, const char *code,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 405 with the allowed methods named in the message. */
int admin_reply_bad_method(struct admin_reply *out, const char *allowed);
/* Take w's JSON (jw_finish) as the reply body, with status. */
struct jw;
int admin_reply_json(struct admin_reply *out, struct jw *w, int status);
/* Take text (malloc'd, len bytes) as a 200 text/plain reply body. */
int admin_reply_text(struct admin_reply *out, char *text, size_t len);
/* The same with a growing builder's text (lib/str.h; handed over, so b is
 * left empty); -ENOMEM when it overflowed. */
struct sbuf;
int admin_reply_sbuf(struct admin_reply *out, struct sbuf *b);
/* Render t (util/table.h, freed) as a 200 text/plain reply. 0 or -ENOMEM. */
struct table;
int admin_reply_table(struct admin_reply *out, struct table *t);
/* 0 when rq's method is method; else a 405 is set and 1 returned. */
int admin_need_method(const struct admin_request *rq, struct admin_reply *out,
		      const char *method);

/*
 * A parameter from the query string or, failing that, the
 * application/x-www-form-urlencoded body, decoded into out: 1 found, 0
 * absent, -EINVAL bad encoding or too long.
 */
int admin_param(const struct admin_request *rq, const char *key, char *out,
		size_t outlen);
/* ?format=text asked for */
bool admin_want_text(const struct admin_request *rq);

#endif
