// SPDX-License-Identifier: MIT
/*
 * HTTP/2 to upstreams (services[].protocol: h2; docs/HTTP2.md "gRPC
 * passthrough"): a transport that wraps an upstream connection's plain or
 * TLS transport and runs an nghttp2 client session on it, so that the
 * HTTP/1.1 exchange above it stays unchanged.
 *
 * The exchange writes an HTTP/1.1 request (head, then a Content-Length or
 * chunked body) and reads an HTTP/1.1 response; here the request head
 * becomes a HEADERS frame (with te: trailers), the body DATA frames, and
 * the response HEADERS, DATA and trailing HEADERS become an HTTP/1.1
 * response with a chunked body whose trailer section carries the
 * trailers (grpc-status, grpc-message), or, for a response that ends on
 * its HEADERS (a gRPC trailers-only response), a head with
 * Content-Length: 0. The connection goes back to the exchange's pool
 * after a response, as an HTTP/1.1 one does, and carries the next
 * request of the service on a new stream: one request at a time (no
 * multiplexing). A GOAWAY while it is idle closes it; a request refused
 * on a pooled connection (GOAWAY, REFUSED_STREAM, closed) reads as an
 * upstream EOF, so the exchange's stale-connection retry applies.
 *
 * All socket I/O is this file's own (CONN_OP_XRECV, CONN_OP_XSEND); the
 * exchange's reads and writes are answered from buffers through no-op
 * completions. Bounds: the request body waiting for the upstream's flow
 * control window (UP_PENDING_MAX, past which the exchange's write does not
 * complete); the translated response waiting for the exchange: the
 * windows we give the upstream open only as the exchange takes its DATA
 * (no automatic WINDOW_UPDATE), so it holds at most a window (64 KiB) of
 * DATA, and past UP_RBUF_MAX the socket is not read either, except while
 * the exchange's write waits for a WINDOW_UPDATE (which must be read);
 * the frames being sent (UP_OUT_SIZE).
 *
 * An upstream that resets the stream, sends GOAWAY before answering, or
 * does not speak HTTP/2 (answers HTTP/1.x, breaks the framing) gets a 502
 * JSON response made here that names the problem; a gRPC client reads a
 * 502 as UNAVAILABLE. The response side (frames to HTTP/1.1, the 502s)
 * is h2_up_resp.c; this file has the transport, the socket I/O and the
 * request.
 */
#include "proxy/h2_up_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/rewrite.h"
#include "io/tls.h"
#include "proxy/exchange.h"

static struct h2up *hu_of(const struct transport *t)
{
	return t->priv;
}

/* ---- growing buffers -------------------------------------------------- */

int h2up__grow(char **b, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 1024;
	char *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*b, c);
	if (!n)
		return -ENOMEM;
	*b = n;
	*cap = c;
	return 0;
}

/* ---- the exchange's operations, completed ----------------------------- */

/* Nothing more will come on this connection for a next request: a
 * GOAWAY while idle (the pool then closes it). */
static bool idle_gone(const struct h2up *h)
{
	return h->goaway && (h->resp_done || !h->head_done);
}

static void wake_reader(struct h2up *h)
{
	if (!h->rd_parked || (h->rlen == h->roff && !h->err && !h->sock_eof &&
			      !idle_gone(h)))
		return;
	/* loop_nop() fails only when no submission entry can be had even
	 * after submitting: the read stays parked and the next wake (any
	 * completion on this connection) tries again */
	if (loop_nop(h->inner.loop, h->rd_ud) == 0)
		h->rd_parked = false;
}

static void wake_writer(struct h2up *h)
{
	/* a response that is complete (or failed) frees the writer: the
	 * rest of the body goes nowhere (take_body drops it) */
	if (!h->wr_parked ||
	    (h->pend_len - h->pend_off > UP_PENDING_MAX && !h->err &&
	     !h->resp_done && !h->sock_eof))
		return;
	if (loop_nop(h->inner.loop, h->wr_ud) == 0)
		h->wr_parked = false;
}

/* ---- I/O on the socket ------------------------------------------------ */

static void kick(struct h2up *h);

static void post_read(struct h2up *h)
{
	struct conn *u = h->u;

	/* also while idle in the pool: PING, SETTINGS, GOAWAY */
	if (h->receiving || h->sock_eof || conn_closing(u) ||
	    (h->rlen - h->roff >= UP_RBUF_MAX && !h->wr_parked) ||
	    !nghttp2_session_want_read(h->s))
		return;
	if (h->inner.ops->read(&h->inner, loop_buf_size(h->inner.loop), 0,
			       conn_ud(u, CONN_OP_XRECV))) {
		h->sock_eof = true;
		h2up__fail_502(h, "cannot read from the upstream");
		return;
	}
	conn_op_start(u);
	h->receiving = true;
}

/* nghttp2's output into out, then one send at a time. */
static void post_send(struct h2up *h)
{
	struct conn *u = h->u;

	if (h->sending || conn_closing(u) || h->sock_eof)
		return;
	if (h->out_off == h->out_len) {
		h->out_off = h->out_len = 0;
		for (;;) {
			const uint8_t *d;
			ssize_t n;

			if (!h->chunk_len) {
				n = nghttp2_session_mem_send(h->s, &d);
				if (n < 0) {
					h2up__fail_502(h, "HTTP/2 session failed");
					return;
				}
				if (!n)
					break;
				h->chunk = d;
				h->chunk_len = (size_t)n;
			}
			if (h->chunk_len > UP_OUT_SIZE - h->out_len)
				break;	/* valid until the next mem_send */
			memcpy(h->out + h->out_len, h->chunk, h->chunk_len);
			h->out_len += h->chunk_len;
			h->chunk_len = 0;
		}
		if (!h->out_len && h->chunk_len) {
			/* a chunk larger than out: cannot happen with
			 * frames of at most 16 KiB */
			h2up__fail_502(h, "HTTP/2 frame too large");
			return;
		}
	}
	if (h->out_off == h->out_len)
		return;
	if (h->inner.ops->write(&h->inner, h->out + h->out_off,
				h->out_len - h->out_off, 0,
				conn_ud(u, CONN_OP_XSEND))) {
		h->sock_eof = true;
		h2up__fail_502(h, "cannot write to the upstream");
		return;
	}
	conn_op_start(u);
	h->sending = true;
}

static void kick(struct h2up *h)
{
	post_send(h);
	post_read(h);
	wake_reader(h);
	wake_writer(h);
}

/* ---- the request ------------------------------------------------------ */

static ssize_t req_read(nghttp2_session *session, int32_t id, uint8_t *buf,
			size_t len, uint32_t *flags, nghttp2_data_source *src,
			void *ud)
{
	struct h2up *h = src->ptr;
	size_t n = h->pend_len - h->pend_off;

	(void)ud;
	if (id != h->id)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;	/* stale */
	if (n > len)
		n = len;
	if (n)
		memcpy(buf, h->pend + h->pend_off, n);
	h->pend_off += n;
	if (h->pend_off == h->pend_len)
		h->pend_off = h->pend_len = 0;
	if (!h->pend_len && h->req_eof) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		/* request trailers end the stream instead */
		if (h->n_tnv &&
		    !nghttp2_submit_trailer(session, id, h->tnv, h->n_tnv))
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		return (ssize_t)n;
	}
	if (!n) {
		h->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

/* Fields an HTTP/2 request must not carry (RFC 9113 8.2.2), or that
 * become pseudo-header fields. */
static bool skip_field(const struct http_header *f)
{
	return http_token_eq(f->name, f->name_len, "host") ||
	       http_token_eq(f->name, f->name_len, "connection") ||
	       http_token_eq(f->name, f->name_len, "keep-alive") ||
	       http_token_eq(f->name, f->name_len, "proxy-connection") ||
	       http_token_eq(f->name, f->name_len, "transfer-encoding") ||
	       http_token_eq(f->name, f->name_len, "upgrade") ||
	       http_token_eq(f->name, f->name_len, "te");
}

/*
 * Request trailer fields never sent upstream: framing and routing fields
 * (RFC 9110 6.5.1), and every field whose meaning the gateway owns or
 * vouches for in the head (client address, request id, consumer identity,
 * credentials), in any case and with '_' for '-': the head's checks do
 * not see the trailer section, and an upstream that merges trailers into
 * its metadata would take them as the gateway's.
 */
static bool trailer_refused(const struct http_header *f)
{
	static const char *const exact[] = {
		"content-length", "content-type", "content-encoding",
		"content-range", "trailer", "authorization",
		"proxy-authorization", "cookie", "x-real-ip", "forwarded",
		"via", "x-request-id", "x-api-key",
	};
	static const char *const prefix[] = {
		"x-forwarded-", "x-consumer-", "proxy-",
	};

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (rewrite_name_like(f->name, f->name_len, exact[i], false))
			return true;
	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (rewrite_name_like(f->name, f->name_len, prefix[i], true))
			return true;
	return false;
}

#define NV(n, nl, v, vl)                                                       \
	((nghttp2_nv){ (uint8_t *)(n), (uint8_t *)(v), (nl), (vl),             \
		       NGHTTP2_NV_FLAG_NONE })

/* The head is complete: HEADERS. Returns bytes of head, or -1. */
static int submit_head(struct h2up *h)
{
	struct http_request *r = malloc(sizeof(*r));
	nghttp2_data_provider dp = { .source.ptr = h, .read_callback = req_read };
	nghttp2_nv *nv = NULL;
	char *names = NULL;
	size_t n = 0, off = 0;
	int len = -1;

	if (!r)
		return -1;
	len = http_parse_request(h->head, h->head_len, 0, &h->p->limits, r);
	if (len == -2) {
		free(r);
		return 0;
	}
	if (len < 0)
		goto out;
	nv = calloc(r->num_headers + 6, sizeof(*nv));
	names = malloc((size_t)len);
	if (!nv || !names) {
		len = -1;
		goto out;
	}
	nv[n++] = NV(":method", 7, r->method, r->method_len);
	nv[n++] = NV(":scheme", 7, h->tls ? "https" : "http", h->tls ? 5 : 4);
	nv[n++] = NV(":authority", 10, r->host ? r->host : "",
		     r->host ? r->host_len : 0);
	nv[n++] = NV(":path", 5, r->target, r->target_len);
	for (size_t i = 0; i < r->num_headers; i++) {
		const struct http_header *f = &r->headers[i];

		if (skip_field(f))
			continue;
		for (size_t k = 0; k < f->name_len; k++)
			names[off + k] = (char)tolower((unsigned char)f->name[k]);
		nv[n] = NV(names + off, f->name_len, f->value, f->value_len);
		nv[n++].flags = h2_field_flags(names + off, f->name_len);
		off += f->name_len;
	}
	/* gRPC servers require it; it says we take trailers */
	nv[n++] = NV("te", 2, "trailers", 8);
	h->body = r->body;
	h->left = r->content_length;
	h->head_method = r->method_len == 4 && !memcmp(r->method, "HEAD", 4);
	http_chunked_init(&h->ck);
	if (r->body == HTTP_BODY_NONE ||
	    (r->body == HTTP_BODY_LENGTH && !r->content_length)) {
		h->req_eof = true;
		h->id = nghttp2_submit_request(h->s, NULL, nv, n, NULL, h);
	} else {
		h->id = nghttp2_submit_request(h->s, NULL, nv, n, &dp, h);
	}
	if (h->id < 0)
		len = -1;
out:
	free(names);
	free(nv);
	free(r);
	return len;
}

/* The request trailers in tail (the CRLF after the last data, the
 * last-chunk line, the trailer fields, the final CRLF; validated by the
 * exchange) as tnv, names lower-cased in place. */
/* The API key field of the exchange's route (auth key_header, which may
 * be other than X-API-Key), lower case with '-', for trailer_refused's
 * company; "" when there is none. */
static void key_field(const struct h2up *h, char *out, size_t cap)
{
	const struct conn *c = h->u->peer;
	const struct exchange *x = c ? c->x : NULL;
	const char *k;
	size_t i;

	out[0] = '\0';
	if (!x || !x->cfg || x->route < 0)
		return;
	k = x->cfg->routes[x->route].auth.key_header;
	for (i = 0; k[i] && i + 1 < cap; i++)
		out[i] = k[i] == '_' ? '-' : (char)tolower((unsigned char)k[i]);
	out[i] = '\0';
}

static void parse_trailers(struct h2up *h)
{
	char *p = h->tail, *end = h->tail + h->tail_len, *eol;
	char key[AUTH_NAME_MAX];
	struct http_header f;

	h->n_tnv = 0;
	if (!p)
		return;
	key_field(h, key, sizeof(key));
	if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (!eol)
		return;
	for (p = eol + 2; p < end && h->n_tnv < 32; p = eol + 2) {
		char *colon, *v, *ve;

		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol || eol == p)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			continue;
		for (char *k = p; k < colon; k++)
			*k = (char)tolower((unsigned char)*k);
		v = colon + 1;
		ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		f = (struct http_header){ p, (size_t)(colon - p), v,
					  (size_t)(ve - v) };
		if (skip_field(&f) || trailer_refused(&f) ||
		    (key[0] && rewrite_name_like(f.name, f.name_len, key,
						 false)))
			continue;
		h->tnv[h->n_tnv++] = NV(f.name, f.name_len, f.value,
					f.value_len);
	}
}

/* Chunked framing bytes (see tail). */
static int keep_tail(struct h2up *h, const char *d, size_t n)
{
	char *t;

	if (h->tail_len + n > 16384)
		return -E2BIG;	/* more than the exchange lets through */
	t = realloc(h->tail, h->tail_len + n);
	if (!t)
		return -ENOMEM;
	memcpy(t + h->tail_len, d, n);
	h->tail = t;
	h->tail_len += n;
	return 0;
}

/* Body bytes as the exchange framed them: into pend, unframed. */
static int take_body(struct h2up *h, const char *d, size_t n)
{
	if (h->body == HTTP_BODY_LENGTH) {
		if (n > h->left)
			n = (size_t)h->left;
		if (h2up__grow(&h->pend, &h->pend_cap, h->pend_len + n))
			return -ENOMEM;
		memcpy(h->pend + h->pend_len, d, n);
		h->pend_len += n;
		h->left -= n;
		if (!h->left)
			h->req_eof = true;
		return 0;
	}
	while (n && !h->req_eof) {
		size_t off, dl;
		bool done = false;
		long acc = http_chunked_decode(&h->ck, d, n, &done, &off, &dl);

		if (acc < 0)
			return -EINVAL;
		if (dl) {
			if (h2up__grow(&h->pend, &h->pend_cap, h->pend_len + dl))
				return -ENOMEM;
			memcpy(h->pend + h->pend_len, d + off, dl);
			h->pend_len += dl;
			h->tail_len = 0;
		} else if (acc > 0 && keep_tail(h, d, (size_t)acc)) {
			return -ENOMEM;
		}
		if (done) {
			h->req_eof = true;
			parse_trailers(h);
		}
		if (!acc)
			break;
		d += acc;
		n -= (size_t)acc;
	}
	return 0;
}

/* A request after the previous one on this connection (taken from the
 * pool): a fresh request state, the session kept. */
static void next_request(struct h2up *h)
{
	/* cannot happen (a response before the request's end closes the
	 * connection): a stream still open goes */
	if (h->id > 0 && nghttp2_session_find_stream(h->s, h->id))
		nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, h->id,
					  NGHTTP2_CANCEL);
	h->id = 0;
	h->head_len = 0;
	h->head_done = h->head_method = false;
	h->pend_len = h->pend_off = 0;
	h->req_eof = h->deferred = false;
	h->tail_len = h->n_tnv = 0;
	h->roff = h->rlen = h->rgiven = h->runconsumed = 0;
	h->status = 0;
	h->clen[0] = '\0';
	h->grpc = h->sized = false;
	h->fields_len = h->list_bytes = 0;
	h->list_over = false;
	h->resp_head = h->resp_done = false;
}

static int up_write(struct transport *t, const void *buf, size_t len,
		    unsigned int flags, uint64_t ud)
{
	struct h2up *h = hu_of(t);
	struct conn *c = h->u->peer;
	const char *d = buf;
	size_t n = len;
	int hl;

	(void)flags;
	/* the head of the next exchange on a pooled connection */
	if (h->head_done && c && c->x && c->x->req.phase == EX_PH_HEAD)
		next_request(h);
	if (!h->head_done && h->goaway) {
		/* refused by a GOAWAY that came while the connection was
		 * idle: the exchange reads EOF and retries on a new one
		 * (a pooled connection closed before it answered) */
		h->sock_eof = true;
		h->head_done = h->req_eof = true;
		n = 0;
	}
	if (!h->head_done) {
		if (h2up__grow(&h->head, &h->head_cap, h->head_len + n))
			return -ENOMEM;
		memcpy(h->head + h->head_len, d, n);
		h->head_len += n;
		hl = submit_head(h);
		if (hl < 0 && !nghttp2_session_check_request_allowed(h->s)) {
			h->goaway = h->sock_eof = true;
			h->head_done = h->req_eof = true;
			hl = 0;
		} else if (hl < 0) {
			return -EPROTO;
		}
		if (hl > 0) {
			h->head_done = true;
			d = h->head + hl;
			n = h->head_len - (size_t)hl;
		} else {
			n = 0;
		}
	}
	/* after a complete response the upstream wants no more body */
	if (h->head_done && n && !h->req_eof && !h->resp_done &&
	    take_body(h, d, n))
		return -EPROTO;
	if (h->head_done && h->deferred &&
	    (h->pend_len > h->pend_off || h->req_eof)) {
		h->deferred = false;
		nghttp2_session_resume_data(h->s, h->id);
	}
	h->wr_ud = ud;
	h->wr_len = len;
	h->wr_parked = true;
	kick(h);
	return 0;
}

static int up_writev(struct transport *t, struct msghdr *msg,
		     unsigned int flags, uint64_t ud)
{
	(void)t;
	(void)msg;
	(void)flags;
	(void)ud;
	return -EOPNOTSUPP;	/* only client connections gather */
}

static long up_write_done(struct transport *t, const struct loop_cqe *cqe)
{
	struct h2up *h = hu_of(t);

	(void)cqe;
	if (h->err && h->err != -ECONNRESET)
		return h->err;
	return (long)h->wr_len;
}

/* Bytes from the socket into the session. */
static void take_input(struct h2up *h, const char *d, size_t n)
{
	ssize_t r;

	if (h->first_read) {
		h->first_read = false;
		if (n >= 5 && !memcmp(d, "HTTP/", 5)) {
			h2up__fail_502(h, "the upstream answered with HTTP/1.x, not "
				    "HTTP/2 (the service has protocol: h2)");
			h->sock_eof = true;
			return;
		}
	}
	r = nghttp2_session_mem_recv(h->s, (const uint8_t *)d, n);
	if (r < 0) {
		char why[160];

		snprintf(why, sizeof(why),
			 "the upstream broke the HTTP/2 protocol: %s",
			 nghttp2_strerror((int)r));
		h2up__fail_502(h, why);
		h->sock_eof = true;
	}
}

static void on_sock_recv(struct h2up *h, const struct loop_cqe *cqe)
{
	const char *d;
	long n = h->inner.ops->read_done(&h->inner, cqe, &d);

	h->receiving = false;
	if (n > 0)
		take_input(h, d, (size_t)n);
	h->inner.ops->read_release(&h->inner, cqe);
	if (n == 0 || (n < 0 && n != -EAGAIN && n != -ENOBUFS)) {
		h->sock_eof = true;
		if (h->head_done && !h->resp_done) {
			if (!h->resp_head)
				h2up__refused(h, "the upstream closed the HTTP/2 "
					   "connection before answering");
			else
				h->err = -ECONNRESET;
		}
	}
}

static void on_sock_sent(struct h2up *h, const struct loop_cqe *cqe)
{
	long n = h->inner.ops->write_done(&h->inner, cqe);

	h->sending = false;
	if (n <= 0) {
		h->sock_eof = true;
		h2up__fail_502(h, "the upstream connection failed while sending");
		return;
	}
	h->out_off += (size_t)n;
}

void h2up_complete(struct proxy *p, struct conn *u, unsigned int op,
		   const struct loop_cqe *cqe)
{
	struct h2up *h = hu_of(&u->tr);

	(void)p;
	if (op == CONN_OP_XRECV) {
		if (conn_closing(u)) {
			h->inner.ops->read_release(&h->inner, cqe);
			h->receiving = false;
			return;
		}
		on_sock_recv(h, cqe);
	} else {
		if (conn_closing(u)) {
			h->sending = false;
			return;
		}
		on_sock_sent(h, cqe);
	}
	/* the exchange learns of a failure through its read */
	kick(h);
}

/* ---- the exchange's reads -------------------------------------------- */

static int up_read(struct transport *t, size_t maxlen, unsigned int flags,
		   uint64_t ud)
{
	struct h2up *h = hu_of(t);

	(void)flags;
	h->rd_ud = ud;
	h->rd_max = maxlen;
	h->rd_parked = true;
	kick(h);
	return 0;
}

static long up_read_done(struct transport *t, const struct loop_cqe *cqe,
			 const char **data)
{
	struct h2up *h = hu_of(t);
	size_t n = h->rlen - h->roff;

	(void)cqe;
	h->rgiven = 0;
	if (n) {
		if (n > h->rd_max)
			n = h->rd_max;
		*data = h->rbuf + h->roff;
		h->rgiven = n;
		return (long)n;
	}
	if (h->err)
		return h->err;
	if (h->sock_eof || idle_gone(h))
		return 0;
	return -EAGAIN;
}

static void up_read_release(struct transport *t, const struct loop_cqe *cqe)
{
	struct h2up *h = hu_of(t);

	(void)cqe;
	h->roff += h->rgiven;
	/* the DATA taken opens the upstream's windows again (counted on
	 * the bytes taken, framing included: early by a few bytes a
	 * chunk, never late) */
	if (h->runconsumed && h->rgiven && h->id > 0) {
		size_t k = h->rgiven < h->runconsumed ? h->rgiven
						      : h->runconsumed;

		nghttp2_session_consume(h->s, h->id, k);
		h->runconsumed -= k;
	}
	h->rgiven = 0;
	if (h->roff == h->rlen)
		h->roff = h->rlen = 0;
	/* room again: read on, and send the WINDOW_UPDATEs */
	if (!conn_closing(h->u)) {
		post_send(h);
		post_read(h);
	}
}

static int up_shutdown(struct transport *t)
{
	(void)t;
	return 0;
}

static unsigned int up_cancel(struct transport *t, const uint64_t *targets,
			      unsigned int n, uint64_t ud)
{
	struct h2up *h = hu_of(t);
	unsigned int done;

	/* the exchange's parked operations complete now */
	if (h->rd_parked && loop_nop(h->inner.loop, h->rd_ud) == 0)
		h->rd_parked = false;
	if (h->wr_parked && loop_nop(h->inner.loop, h->wr_ud) == 0)
		h->wr_parked = false;
	done = h->inner.ops->cancel(&h->inner, targets, n, ud);
	/* a parked operation left (the ring was full): a socket shut down
	 * fails what is pending on it, and those completions wake the
	 * parked ones again */
	if ((h->rd_parked || h->wr_parked) && h->inner.fd >= 0)
		shutdown(h->inner.fd, SHUT_RDWR);
	return done;
}

static void up_close(struct transport *t)
{
	struct h2up *h = hu_of(t);

	h->inner.ops->close(&h->inner);
	nghttp2_session_del(h->s);
	free(h->head);
	free(h->tail);
	free(h->pend);
	free(h->rbuf);
	free(h->fields);
	free(h);
	t->priv = NULL;
	t->fd = -1;
}

static const struct transport *up_inner(const struct transport *t)
{
	return &hu_of(t)->inner;
}

static const struct transport_ops up_ops = {
	.name = "h2",
	.read = up_read,
	.read_done = up_read_done,
	.read_release = up_read_release,
	.write = up_write,
	.writev = up_writev,
	.write_done = up_write_done,
	.shutdown = up_shutdown,
	.cancel = up_cancel,
	.close = up_close,
	.spliceable = false,
	.inner = up_inner,
};

bool h2up_is(const struct conn *u)
{
	return u->tr.ops == &up_ops;
}

int h2up_attach(struct proxy *p, struct conn *u, const char **why)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		  p->cfg->http.max_header_bytes },
	};
	struct h2up *h;
	int ret;

	*why = NULL;
	if (transport_is_tls(&u->tr) && !transport_tls_alpn_is(&u->tr, "h2")) {
		*why = "the upstream did not select h2 by ALPN (the service "
		       "has protocol: h2)";
		return -EPROTO;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (nghttp2_session_callbacks_new(&cb)) {
		free(h);
		return -ENOMEM;
	}
	h2up__response_callbacks(cb);
	if (nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cb);
		free(h);
		return -ENOMEM;
	}
	/* the windows open as the exchange takes the response */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	ret = nghttp2_session_client_new2(&h->s, cb, h, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (ret) {
		free(h);
		return -ENOMEM;
	}
	nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv,
				sizeof(iv) / sizeof(iv[0]));
	h->p = p;
	h->u = u;
	h->tls = transport_is_tls(&u->tr);
	h->first_read = true;
	h->inner = u->tr;
	u->tr.ops = &up_ops;
	u->tr.priv = h;
	kick(h);
	return 0;
}
