// SPDX-License-Identifier: MIT
/*
 * Chunked bodies re-coded on their way through: request bodies re-framed
 * (data only: chunk extensions and trailers are dropped, but for a service
 * with protocol: h2 the trailers are kept), response bodies
 * de-chunked for HTTP/1.0 clients. See proxy_int.h.
 */
#include "proxy/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "proxy/proxy_int.h"

/* Room kept in the re-framing buffer for one chunk header and CRLF. */
#define FRAME_OVERHEAD 32

/* ---- request direction ------------------------------------------------- */

/* Framing bytes after the last data run: at most a chunk-ext line and the
 * validator's trailer section (8 KiB). */
#define REQ_TAIL_MAX (8192 + 1024)

/* Keep framing bytes (a service with protocol: h2 passes the trailers
 * on). 0 or -ENOMEM/-E2BIG (cannot happen: the validator bounds them). */
static int keep_tail(struct exchange *x, const char *d, size_t n)
{
	char *t;

	if (x->req_tail_len + n > REQ_TAIL_MAX)
		return -E2BIG;
	t = realloc(x->req_tail, x->req_tail_len + n);
	if (!t)
		return -ENOMEM;
	memcpy(t + x->req_tail_len, d, n);
	x->req_tail = t;
	x->req_tail_len += n;
	return 0;
}

/* The end of a kept body: "0" CRLF, then the trailer section as the
 * client sent it (validated) and its final CRLF, from req_tail (the CRLF
 * after the last data, the last-chunk line with any extension, the
 * trailer section). Into f when it fits (then the body is done), else
 * later (req_tail_pending). false: it can never fit (a section larger
 * than a whole buffer, possible with a small http.max_header_bytes). */
static bool end_with_trailers(struct exchange *x, struct buf *f)
{
	const char *t = x->req_tail, *end = t + x->req_tail_len, *eol;

	if (end - t >= 2 && t[0] == '\r' && t[1] == '\n')
		t += 2;
	eol = memmem(t, (size_t)(end - t), "\r\n", 2);
	t = eol ? eol + 2 : end;
	if (buf_room(f) < 3 + (size_t)(end - t)) {
		if (f->cap < 3 + (size_t)(end - t))
			return false;
		x->req_tail_pending = true;
		return true;
	}
	buf_append(f, "0\r\n", 3);
	if (end - t >= 2)
		buf_append(f, t, (size_t)(end - t));
	else
		buf_append(f, "\r\n", 2);
	x->req_tail_pending = false;
	x->req.ck_done = true;
	free(x->req_tail);
	x->req_tail = NULL;
	x->req_tail_len = 0;
	return true;
}

static bool trailers_too_large(struct proxy *p, struct conn *c)
{
	c->x->req.aborted = true;
	proxy__send_error(p, c, 431,
			  "request trailer section larger than "
			  "http.max_header_bytes allows");
	return false;
}

/* Chunked request body: decode what is buffered into x->frame as fresh
 * chunks (data only) and the last chunk. false: the exchange ended. */
bool proxy__reframe_request(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	struct buf *f;
	bool keep;

	if (!x->frame && !(x->frame = buf_get(&p->bufs))) {
		proxy__send_error(p, c, 500, "out of memory");
		return false;
	}
	f = x->frame;
	keep = x->service >= 0 &&
	       x->cfg->services[x->service].protocol == CFG_PROTO_H2;
	if (x->req_tail_pending)
		return end_with_trailers(x, f) || trailers_too_large(p, c);
	while (!x->req.ck_done && c->in && buf_len(c->in) &&
	       buf_room(f) > FRAME_OVERHEAD * 2) {
		size_t lim = buf_len(c->in), doff, dlen;
		bool done = false;
		long r;

		if (lim > buf_room(f) - FRAME_OVERHEAD)
			lim = buf_room(f) - FRAME_OVERHEAD;
		r = http_chunked_decode(&x->req.ck, buf_head(c->in), lim,
					&done, &doff, &dlen);
		if (r < 0) {
			x->req.aborted = true;
			proxy__send_error(p, c, 400,
					  "invalid chunked request body");
			return false;
		}
		if (dlen) {
			x->req.body_bytes += dlen;
			if (x->max_body && x->req.body_bytes > x->max_body) {
				x->req.aborted = true;
				proxy__send_error(p, c, 413,
						  "request body larger than "
						  "this route allows");
				return false;
			}
			f->end += (size_t)snprintf(buf_tail(f), buf_room(f),
						   "%zx\r\n", dlen);
			buf_append(f, buf_head(c->in) + doff, dlen);
			buf_append(f, "\r\n", 2);
			x->req_tail_len = 0;
		} else if (keep && r > 0 &&
			   keep_tail(x, buf_head(c->in), (size_t)r)) {
			x->req.aborted = true;
			proxy__send_error(p, c, 500, "out of memory");
			return false;
		}
		buf_consume(c->in, (size_t)r);
		if (done && keep) {
			if (!end_with_trailers(x, f))
				return trailers_too_large(p, c);
			break;
		}
		if (done) {
			x->req.ck_done = true;
			/* trailers dropped (an HTTP/1.1 upstream) */
			buf_append(f, "0\r\n\r\n", 5);
		}
		if (r == 0)
			break;
	}
	return true;
}

/*
 * A request must reach the backend whole or not at all as far as the
 * gateway can tell: a backend given a head and then EOF holds an
 * incomplete request that some frameworks start to process. So before the
 * head goes upstream, every chunked body byte already received is checked
 * (here, from start_exchange() and again just before the head is sent,
 * for what arrived while connecting). An invalid body, or one larger than
 * the route allows, is answered with nothing sent upstream. Only bytes
 * that arrive after the head went out can still end the exchange in the
 * middle (proxy__reframe_request: the upstream connection is aborted).
 * Bytes after the body's end belong to the next request, parsed when its
 * turn comes.
 */
bool proxy__check_received_body(struct proxy *p, struct conn *c, size_t skip)
{
	struct exchange *x = c->x;
	struct exchange_check *seen = &x->req_seen;
	size_t len = c->in ? buf_len(c->in) : 0;
	const char *b;

	if (x->req.body != HTTP_BODY_CHUNKED || seen->done || len <= skip)
		return true;
	b = buf_head(c->in) + skip;
	len -= skip;
	while (seen->bytes < len) {
		size_t doff, dlen;
		bool done = false;
		long r = http_chunked_decode(&seen->ck, b + seen->bytes,
					     len - seen->bytes, &done, &doff,
					     &dlen);

		if (r < 0) {
			x->req.aborted = true;
			proxy__send_error(p, c, 400,
					  "invalid chunked request body");
			return false;
		}
		seen->bytes += (size_t)r;
		seen->data += dlen;
		if (x->max_body && seen->data > x->max_body) {
			x->req.aborted = true;
			proxy__send_error(p, c, 413, "request body larger than "
						     "this route allows");
			return false;
		}
		if (done) {
			seen->done = true;
			break;
		}
		if (r == 0)
			break;
	}
	return true;
}

/* ---- response direction ------------------------------------------------ */

/* Chunked response body for an HTTP/1.0 client: skip the framing, send
 * the data. Returns bytes to send from the head of u->in (0: none yet). */
long proxy__dechunk_response(struct conn *c, struct conn *u)
{
	struct exchange *x = c->x;

	while (u->in && buf_len(u->in) && !x->res.ck_done) {
		size_t doff, dlen;
		bool done = false;
		long r = http_chunked_decode(&x->res.ck, buf_head(u->in),
					     buf_len(u->in), &done, &doff,
					     &dlen);

		if (r < 0)
			return -1;
		x->res.ck_done = done;
		if (dlen) {
			buf_consume(u->in, doff);
			return (long)dlen;
		}
		buf_consume(u->in, (size_t)r);
		if (r == 0)
			break;
	}
	return 0;
}
