// SPDX-License-Identifier: MIT
/*
 * HTTP/2 to upstreams, the response (see h2_up.c): the upstream's
 * HEADERS, DATA and trailing HEADERS become the HTTP/1.1 response the
 * exchange reads, in h->rbuf: a chunked body whose trailer section
 * carries the trailers (grpc-status), a Content-Length body when the
 * upstream stated its size and it is not gRPC, or a head alone for a
 * response that ends on its HEADERS. Also the 502s made here, naming what
 * the upstream did (reset, GOAWAY, a protocol error nghttp2 found).
 */
#include "proxy/h2_up_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "http/rewrite.h"
#include "proxy/exchange.h"

static int rput(struct h2up *h, const void *d, size_t n)
{
	if (!n)
		return 0;
	if (h->roff && h->roff == h->rlen)
		h->roff = h->rlen = 0;
	if (h2up__grow(&h->rbuf, &h->rcap, h->rlen + n))
		return -ENOMEM;
	memcpy(h->rbuf + h->rlen, d, n);
	h->rlen += n;
	return 0;
}

static int rstr(struct h2up *h, const char *s)
{
	return rput(h, s, strlen(s));
}

static int fput(struct h2up *h, const uint8_t *name, size_t nl,
		const uint8_t *value, size_t vl)
{
	if (h2up__grow(&h->fields, &h->fields_cap, h->fields_len + nl + vl + 4))
		return -ENOMEM;
	memcpy(h->fields + h->fields_len, name, nl);
	h->fields_len += nl;
	memcpy(h->fields + h->fields_len, ": ", 2);
	h->fields_len += 2;
	if (vl)
		memcpy(h->fields + h->fields_len, value, vl);
	h->fields_len += vl;
	memcpy(h->fields + h->fields_len, "\r\n", 2);
	h->fields_len += 2;
	return 0;
}

/* A response made here (no response head came): the gateway's 502 JSON
 * (rewrite_error_ex: the same body as its own errors) naming why. */
void h2up__fail_502(struct h2up *h, const char *why)
{
	struct conn *c = h->u->peer;
	char resp[1024];
	long n;

	if (h->resp_head) {
		if (!h->err)
			h->err = -ECONNRESET;
		return;
	}
	n = rewrite_error_ex(resp, sizeof(resp), 502, why, h->head_method,
			     c && c->x ? c->x->request_id : NULL);
	h->roff = h->rlen = 0;
	h->resp_head = h->resp_done = true;
	if (n < 0 || rput(h, resp, (size_t)n))
		h->err = -ENOMEM;
}

/* The upstream refused the request without answering it (closed, GOAWAY
 * that left it out, REFUSED_STREAM). On a connection taken from the pool
 * the exchange reads EOF instead, as for an HTTP/1.1 connection the
 * backend closed while idle: it retries a request without body on a new
 * connection, else answers 502 itself. */
void h2up__refused(struct h2up *h, const char *why)
{
	struct conn *c = h->u->peer;

	if (!h->resp_head && c && c->x && c->x->upstream_reused) {
		h->sock_eof = true;
		return;
	}
	h2up__fail_502(h, why);
}

/* grpc-status seen (head of a trailers-only response, or trailers): for
 * the exchange's metrics and access log. */
static void note_grpc_status(struct h2up *h, const uint8_t *v, size_t n)
{
	struct conn *c = h->u->peer;
	int st = 0;

	if (!n || n > 3)
		return;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
		st = st * 10 + (v[i] - '0');
	}
	if (c && c->x)
		c->x->grpc_status = (int16_t)st;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame,
		     const uint8_t *name, size_t nl, const uint8_t *value,
		     size_t vl, uint8_t flags, void *ud)
{
	struct h2up *h = ud;

	(void)session;
	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != h->id)
		return 0;
	h->list_bytes += nl + vl + 32;
	if (h->list_bytes > h->p->cfg->http.max_header_bytes) {
		/* the stream is reset; its close answers the exchange */
		h->list_over = true;
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (nl == 7 && !memcmp(name, ":status", 7)) {
		h->status = 0;
		for (size_t i = 0; i < vl && i < 3; i++)
			h->status = h->status * 10 + (value[i] - '0');
		return 0;
	}
	if (nl && name[0] == ':')
		return 0;
	if (nl == 11 && !memcmp(name, "grpc-status", 11))
		note_grpc_status(h, value, vl);
	if (nl == 12 && !memcmp(name, "content-type", 12) && vl >= 16 &&
	    !strncasecmp((const char *)value, "application/grpc", 16))
		h->grpc = true;
	/* the framing is ours: chunked, or as headers_done() says */
	if (nl == 14 && !memcmp(name, "content-length", 14)) {
		/* nghttp2 checked it is digits and agrees with DATA */
		if (vl < sizeof(h->clen)) {
			memcpy(h->clen, value, vl);
			h->clen[vl] = '\0';
		}
		return 0;
	}
	if ((nl == 17 && !memcmp(name, "transfer-encoding", 17)) ||
	    (nl == 10 && !memcmp(name, "connection", 10)))
		return 0;
	return fput(h, name, nl, value, vl) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

/* A HEADERS frame on our stream is complete. */
static int headers_done(struct h2up *h, bool end)
{
	char line[64];
	int ret = 0;

	h->list_bytes = 0;
	if (h->resp_done)
		return 0;
	if (!h->resp_head) {
		if (h->status < 200 && !end) {
			h->fields_len = 0;	/* interim: not passed on */
			h->clen[0] = '\0';
			h->grpc = false;
			return 0;
		}
		/* a response to a HEAD, a 204 or a 304 has no body even when
		 * its HEADERS do not end the stream (an empty DATA frame
		 * does, or trailers): framed as one that ends on them */
		bool none = end || h->head_method || h->status == 204 ||
			    h->status == 304;

		snprintf(line, sizeof(line), "HTTP/1.1 %03d %s\r\n", h->status,
			 http_reason(h->status));
		ret |= rstr(h, line);
		ret |= rput(h, h->fields, h->fields_len);
		/* a response that ends on its HEADERS (gRPC trailers-only)
		 * keeps its fields in the head, with no body; the connection
		 * goes back to the pool unless it can take no more requests.
		 * Its length: 0, but the size the upstream stated for a HEAD
		 * or a 304 (never a body here), and none for a 204 */
		if (!none && h->clen[0] && !h->grpc) {
			h->sized = true;
			snprintf(line, sizeof(line), "content-length: %s\r\n",
				 h->clen);
			ret |= rstr(h, line);
		} else if (!none) {
			ret |= rstr(h, "transfer-encoding: chunked\r\n");
		} else if (h->head_method || h->status == 304) {
			if (h->clen[0]) {
				snprintf(line, sizeof(line),
					 "content-length: %s\r\n", h->clen);
				ret |= rstr(h, line);
			}
		} else if (h->status != 204) {
			ret |= rstr(h, "content-length: 0\r\n");
		}
		/* ... or its request is still being sent (an early answer,
		 * a bidirectional call): the stream may outlive the
		 * exchange, so the connection is not reused */
		if (h->goaway || !h->req_eof ||
		    !nghttp2_session_check_request_allowed(h->s))
			ret |= rstr(h, "connection: close\r\n");
		ret |= rstr(h, "\r\n");
		h->resp_head = true;
		h->resp_done = end;
		/* no body to come: what ends the stream adds nothing */
		if (!end && none)
			h->sized = true;
	} else if (h->sized) {
		h->resp_done = true;	/* trailers after a sized body */
	} else {
		/* trailers: the chunked body's trailer section */
		ret |= rstr(h, "0\r\n");
		ret |= rput(h, h->fields, h->fields_len);
		ret |= rstr(h, "\r\n");
		h->resp_done = true;
	}
	h->fields_len = 0;
	return ret ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
			 void *ud)
{
	struct h2up *h = ud;
	bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;

	(void)session;
	if (frame->hd.type == NGHTTP2_GOAWAY) {
		h->goaway = true;
		if (h->head_done && !h->resp_head &&
		    (h->id <= 0 || frame->goaway.last_stream_id < h->id))
			h2up__refused(h, "the upstream sent GOAWAY before answering");
		return 0;
	}
	if (frame->hd.stream_id != h->id || h->id <= 0)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS)
		return headers_done(h, end);
	if (frame->hd.type == NGHTTP2_DATA && end && h->resp_head &&
	    !h->resp_done) {
		h->resp_done = true;
		if (h->sized)
			return 0;
		return rstr(h, "0\r\n\r\n") ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
	}
	return 0;
}

/* We send a GOAWAY with an error code: nghttp2 found the upstream
 * breaking the protocol (HEADERS or DATA on a stream never opened, a
 * PUSH_PROMISE, a bad HPACK block, a window past 2^31-1, ...). For these
 * nghttp2_session_mem_recv() returns no error and no stream closes, so
 * the waiting exchange is answered here (502 naming it, or its response
 * cut short), not at its response timeout; the connection takes no more
 * requests. */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
			 void *ud)
{
	struct h2up *h = ud;
	const nghttp2_goaway *g = &frame->goaway;
	char why[200];
	int n;

	(void)session;
	if (frame->hd.type != NGHTTP2_GOAWAY ||
	    g->error_code == NGHTTP2_NO_ERROR)
		return 0;
	h->goaway = true;
	if (!h->head_done || h->resp_done)
		return 0;
	n = snprintf(why, sizeof(why),
		     "the upstream broke the HTTP/2 protocol: %s",
		     nghttp2_http2_strerror(g->error_code));
	/* nghttp2's own words for it ("DATA: stream in idle") */
	if (n > 0 && (size_t)n < sizeof(why) - 4 && g->opaque_data_len) {
		size_t k = sizeof(why) - (size_t)n - 4;	/* " (", ")", NUL */

		if (k > g->opaque_data_len)
			k = g->opaque_data_len;
		why[n++] = ' ';
		why[n++] = '(';
		for (size_t i = 0; i < k; i++)
			why[n++] = g->opaque_data[i] >= 0x20 &&
						   g->opaque_data[i] < 0x7f ?
					   (char)g->opaque_data[i] : '?';
		why[n++] = ')';
		why[n] = '\0';
	}
	h2up__fail_502(h, why);
	return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t id,
		   const uint8_t *data, size_t len, void *ud)
{
	struct h2up *h = ud;
	char line[24];
	int n;

	(void)session;
	(void)flags;
	if (id != h->id || !h->resp_head || h->resp_done || !len)
		return 0;
	if (h->sized) {
		if (rput(h, data, len))
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		h->runconsumed += len;
		return 0;
	}
	n = snprintf(line, sizeof(line), "%zx\r\n", len);
	if (rput(h, line, (size_t)n) || rput(h, data, len) || rstr(h, "\r\n"))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	h->runconsumed += len;
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id,
			   uint32_t code, void *ud)
{
	struct h2up *h = ud;
	char why[128];

	(void)session;
	if (id != h->id || h->resp_done)
		return 0;
	if (h->list_over) {
		h2up__fail_502(h, "the upstream's header list passed "
			    "http.max_header_bytes");
		return 0;
	}
	snprintf(why, sizeof(why),
		 "the upstream reset the HTTP/2 stream (%s) before a "
		 "complete response",
		 nghttp2_http2_strerror(code));
	if (code == NGHTTP2_REFUSED_STREAM)
		h2up__refused(h, why);	/* not processed: may go again */
	else
		h2up__fail_502(h, why);
	return 0;
}

void h2up__response_callbacks(nghttp2_session_callbacks *cb)
{
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb,
							     on_frame_send);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
							     on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
							       on_stream_close);
}
