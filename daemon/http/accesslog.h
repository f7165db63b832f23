/* SPDX-License-Identifier: MIT */
/*
 * Access log: pure parts. A formatter that turns one request into one line
 * (JSON object or Apache/NGINX "combined"), a sampling decision, and a
 * single-producer single-consumer byte ring that carries whole lines from a
 * worker to the writer thread (logwriter.h) without locks: the worker
 * either copies a whole line in or, when the ring is full, drops it and
 * counts the drop. It never waits.
 *
 * No I/O, no allocation except in accesslog_ring_init().
 */
#ifndef SLUICE_ACCESSLOG_H
#define SLUICE_ACCESSLOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A formatted line never exceeds this (fields are truncated to fit). */
#define ACCESSLOG_LINE_MAX 4096

enum accesslog_format {
	ACCESSLOG_JSON = 0,
	ACCESSLOG_COMBINED,
};

/*
 * One request. Strings are not necessarily NUL-terminated when a length is
 * given; NULL means absent (JSON null, combined "-"). Raw request bytes
 * (path, host, user agent, referer) are escaped: JSON with \" \\ \uXXXX and
 * invalid UTF-8 replaced by U+FFFD; combined with \" \\ \xHH.
 */
#define ACCESSLOG_HTTP2 20

struct accesslog_record {
	int64_t start_ns;		/* CLOCK_REALTIME at the request's first byte */
	const char *request_id;
	const char *client;		/* address text */
	uint16_t client_port;
	const char *consumer;		/* authenticated consumer */
	const char *route;		/* route name */
	const char *upstream;		/* target "ip:port" */
	const char *method;
	size_t method_len;
	const char *path;		/* request path, query excluded */
	size_t path_len;
	const char *host;
	size_t host_len;
	const char *user_agent;
	size_t user_agent_len;
	const char *referer;
	size_t referer_len;
	/* 0, 1; ACCESSLOG_HTTP2: an HTTP/2 stream (carried to the HTTP/1.1
	 * path by proxy/h2*.c); -1: unknown (unparsable request) */
	int http_minor;
	int status;			/* 0: no response was sent */
	uint64_t bytes_in;		/* from the client: head + body */
	uint64_t bytes_out;		/* to the client: head + body */
	int64_t duration_us;		/* first byte in to last byte out */
	int64_t upstream_us;		/* to the upstream's response head; -1: none */
	const char *tls;		/* "TLSv1.3"; NULL: plain */
	const char *sni;		/* TLS server name sent; NULL: none */
	const char *error;		/* gateway error code ("no_route"); NULL */
	unsigned int upstream_attempts;	/* targets tried (0: none; JSON only
					 * when > 0) */
	bool has_grpc_status;		/* an HTTP/2 upstream sent grpc-status */
	int grpc_status;		/* then: its value (JSON only) */
};

/* Parse "json" / "combined". 0 or -EINVAL. */
int accesslog_format_parse(const char *s, enum accesslog_format *out);

/*
 * Format r as one line ending in '\n' into buf[0..len). Returns the line's
 * length, or -ENOSPC when len < ACCESSLOG_LINE_MAX (a line always fits in
 * that much: long fields are cut, at a character boundary, and marked
 * with "...").
 */
int accesslog_format(enum accesslog_format f, const struct accesslog_record *r,
		     char *buf, size_t len);

/*
 * Sampling: log every request with status >= 400 (or no response); others
 * with probability rate (0..1), decided from the random value rnd (uniform
 * 64 bits).
 */
bool accesslog_sampled(double rate, int status, uint64_t rnd);

/* xorshift64* step: a cheap per-worker random source for sampling. */
uint64_t accesslog_rand(uint64_t *state);

/* ---- SPSC ring of whole lines --------------------------------------------- */

struct accesslog_ring {
	char *data;
	size_t cap;			/* power of two */
	_Alignas(64) _Atomic uint64_t head;	/* producer: bytes published */
	_Atomic uint64_t dropped;	/* lines refused (ring full) */
	_Alignas(64) _Atomic uint64_t tail;	/* consumer: bytes consumed */
};

/* cap: bytes, rounded up to a power of two, >= ACCESSLOG_LINE_MAX.
 * 0 or -EINVAL / -ENOMEM. */
int accesslog_ring_init(struct accesslog_ring *r, size_t cap);
void accesslog_ring_destroy(struct accesslog_ring *r);

/* Producer: append the whole line or nothing (then dropped++ and false). */
bool accesslog_ring_put(struct accesslog_ring *r, const char *line, size_t len);
/* Bytes waiting (either side). */
size_t accesslog_ring_used(const struct accesslog_ring *r);

/* Consumer: the bytes waiting, as up to two pieces (the ring wraps);
 * returns the total. They stay valid until accesslog_ring_consume(). */
size_t accesslog_ring_peek(struct accesslog_ring *r, struct iovec iov[2]);
void accesslog_ring_consume(struct accesslog_ring *r, size_t n);

#endif
