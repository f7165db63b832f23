// SPDX-License-Identifier: MIT
/*
 * HTTP/2 client connections: an nghttp2 server session driven through its
 * memory interface on the worker's io_uring loop. See h2.h, docs/HTTP2.md.
 *
 * Input: each receive completion is handed to nghttp2_session_mem_recv()
 * as it is, and taken whole. A stream's body bytes wait in its buffer
 * towards the HTTP/1.1 path; the connection's window is given back at
 * once, the stream's only as its bridge takes them, so a stream whose
 * upstream is slow stops only itself (h2_stream.c). Output: the chunks
 * nghttp2_session_mem_send() hands back are copied into c->out, the
 * connection's own buffer, which one send at a time writes to the
 * client; what does not fit waits (one chunk) and no more input is read
 * meanwhile, so a client that does not read cannot make the gateway
 * buffer more than c->out per connection.
 */
#include "proxy/h2_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "io/tls.h"
#include "lib/log.h"
#include "obs/obs.h"

const struct transport *proxy__tls_transport(struct proxy *p,
					     struct conn *c)
{
	struct conn *h;

	if (!(c->lflags & PROXY_L_H2S) || !p->h2_front)
		return &c->tr;
	h = conn_lookup(&p->conns, p->h2_front[c->id]);
	return h ? &h->tr : &c->tr;
}

struct h2_conn *h2__conn_of(struct proxy *p, const struct conn *c)
{
	return p->h2 ? p->h2[c->id] : NULL;
}

static uint64_t now_ms(const struct h2_conn *hc)
{
	return hc->p->now_ms;
}

void h2__progress(struct h2_conn *hc)
{
	hc->progress_bytes = 0;
	hc->c->deadline_ms = now_ms(hc) + hc->stall_ms;
}

void h2__goaway(struct h2_conn *hc, uint32_t code, const char *reason)
{
	if (hc->dead)
		return;
	hc->dead = true;
	obs_h2_event(hc->p->worker, OBS_H2_ABUSE, reason);
	if (proxy__warn_ok(hc->p))
		pr_warn("worker %u: %s: HTTP/2 connection closed: %s",
			hc->p->worker, hc->c->ip, reason);
	nghttp2_session_terminate_session(hc->s, code);
	/* a client that does not read its GOAWAY is closed after this */
	hc->c->deadline_ms = now_ms(hc) + PROXY_LINGER_MS;
}

void h2__glitch(struct h2_conn *hc, const char *reason)
{
	if (++hc->glitches > hc->max_glitches)
		h2__goaway(hc, NGHTTP2_ENHANCE_YOUR_CALM, reason);
}

/* ---- output ------------------------------------------------------------ */

void h2__enter(struct h2_conn *hc)
{
	hc->busy++;
}

void h2__leave(struct h2_conn *hc)
{
	if (--hc->busy || !hc->closing || conn_closing(hc->c))
		return;
	/* h2_release() (from conn_free, now or later) frees hc */
	conn_close(&hc->p->conns, hc->c);
}

static bool gone(const struct h2_conn *hc)
{
	return hc->closing || conn_closing(hc->c);
}

static void close_now(struct h2_conn *hc)
{
	hc->closing = true;
	hc->dead = true;
	if (!hc->busy)
		conn_close(&hc->p->conns, hc->c);
}

/* Copy what fits of the pending chunk into c->out. */
static bool take_pending(struct h2_conn *hc)
{
	struct buf *out = hc->c->out;
	size_t n = hc->pend_len;

	if (n > buf_room(out))
		n = buf_room(out);
	buf_append(out, hc->pend, n);
	hc->pend += n;
	hc->pend_len -= n;
	return hc->pend_len == 0;
}

/* Coalescing: while many of the client's streams wait on their upstreams,
 * their responses come within moments of each other. Sent as each comes,
 * every few go out as a TLS record (and a segment) of their own, and the
 * client pays for each record it decrypts, each wakeup and read, about
 * as much as for the responses themselves. So output that is less than
 * a full record is held back until it fills one, until fewer streams
 * wait, or for coalesce_us at most: one timeout per held connection.
 * true: held (the timeout is pending). */
static bool hold(struct h2_conn *hc)
{
	struct proxy *p = hc->p;
	struct conn *c = hc->c;

	if (hc->hold_over || !hc->coalesce_us || hc->dead ||
	    hc->n_waiting < H2_COALESCE_WAITING ||
	    buf_len(c->out) >= H2_COALESCE_BYTES ||
	    buf_room(c->out) < buf_len(c->out))	/* input waits on it */
		return false;
	if (hc->hold_armed)
		return true;
	p->h2_hold_ts.tv_sec = 0;
	p->h2_hold_ts.tv_nsec = (long long)hc->coalesce_us * 1000;
	if (loop_timeout(p->loop, &p->h2_hold_ts, conn_ud(c, CONN_OP_TIMER)))
		return false;	/* no room in the ring: sent now */
	conn_op_start(c);
	hc->hold_armed = true;
	obs_h2_event(p->worker, OBS_H2_OUTPUT_HELD, NULL);
	return true;
}

void h2__flush(struct h2_conn *hc)
{
	struct conn *c = hc->c;
	struct proxy *p = hc->p;

	if (gone(hc))
		return;
	if (conn_out_get(&p->conns, c)) {
		close_now(hc);
		return;
	}
	if (!(c->flags & CONN_F_SEND) && buf_room(c->out) < buf_len(c->out))
		buf_compact(c->out);
	for (;;) {
		const uint8_t *data;
		ssize_t n;

		if (hc->pend_len && !take_pending(hc))
			break;
		n = nghttp2_session_mem_send(hc->s, &data);
		if (n < 0) {
			close_now(hc);
			return;
		}
		if (n == 0)
			break;
		hc->pend = data;
		hc->pend_len = (size_t)n;
	}
	if (!(c->flags & CONN_F_SEND) && buf_len(c->out)) {
		if (hold(hc))
			return;
		if (proxy__post_send(p, c, buf_head(c->out), buf_len(c->out)))
			close_now(hc);
		return;
	}
	if (c->flags & CONN_F_SEND)
		return;
	/* everything is out */
	if (!nghttp2_session_want_read(hc->s) &&
	    !nghttp2_session_want_write(hc->s)) {
		/* GOAWAY delivered: half-close, discard input until EOF */
		hc->dead = true;
		if (transport_shutdown(&c->tr) || (c->flags & CONN_F_EOF)) {
			close_now(hc);
			return;
		}
		if (!c->deadline_ms || c->deadline_ms > now_ms(hc) +
						     PROXY_LINGER_MS)
			c->deadline_ms = now_ms(hc) + PROXY_LINGER_MS;
	}
}

/* ---- input ------------------------------------------------------------- */

static const char *fatal_reason(int rv)
{
	switch (rv) {
	case NGHTTP2_ERR_FLOODED:
		return "flood";
	case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
		return "continuation";
	case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
		return "preface";
	default:
		return "protocol";
	}
}

/* Feed data[0..n) to the session (c->in's bytes are consumed). false:
 * the connection is closing. */
static bool feed(struct h2_conn *hc, const char *data, size_t n)
{
	struct conn *c = hc->c;
	ssize_t rv;

	rv = nghttp2_session_mem_recv(hc->s, (const uint8_t *)data, n);
	if (gone(hc))
		return false;
	if (rv < 0) {
		const char *why = fatal_reason((int)rv);

		pr_debug("worker %u: %s: HTTP/2: %s", hc->p->worker, c->ip,
			 nghttp2_strerror((int)rv));
		if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
			obs_h2_event(hc->p->worker, OBS_H2_ABUSE, why);
			close_now(hc);
			return false;
		}
		/* nghttp2 queued its GOAWAY for protocol errors; floods
		 * get ours */
		if (rv == NGHTTP2_ERR_FLOODED ||
		    rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
			h2__goaway(hc, NGHTTP2_ENHANCE_YOUR_CALM, why);
		else if (!hc->dead)
			h2__goaway(hc, NGHTTP2_PROTOCOL_ERROR, why);
		hc->dead = true;
		return true;
	}
	/* no callback pauses: nghttp2 took it all */
	if (c->in && data == buf_head(c->in))
		buf_consume(c->in, n);
	return true;
}

static void want_input(struct h2_conn *hc)
{
	struct conn *c = hc->c;

	if (gone(hc) || (c->in && buf_len(c->in)))
		return;
	/* backpressure: output the client does not read stops input */
	if (hc->pend_len || (c->out && buf_room(c->out) < buf_len(c->out)))
		return;
	if (!hc->dead && !nghttp2_session_want_read(hc->s))
		return;
	if (proxy__post_recv(hc->p, c))
		close_now(hc);
}

static void on_recv(struct h2_conn *hc, const struct loop_cqe *cqe)
{
	struct conn *c = hc->c;
	const char *data;
	long n = transport_read_done(&c->tr, cqe, &data);

	if (n == -ENOBUFS || n == -EAGAIN) {
		transport_read_release(&c->tr, cqe);
		want_input(hc);
		return;
	}
	if (n <= 0) {
		transport_read_release(&c->tr, cqe);
		c->flags |= CONN_F_EOF;
		close_now(hc);
		return;
	}
	if (hc->dead) {
		/* after GOAWAY: read and discard until EOF */
		transport_read_release(&c->tr, cqe);
		if (proxy__post_recv(hc->p, c))
			close_now(hc);
		return;
	}
	if (!feed(hc, data, (size_t)n)) {
		transport_read_release(&c->tr, cqe);
		return;
	}
	transport_read_release(&c->tr, cqe);
	h2__flush(hc);
	want_input(hc);
}

static void on_sent(struct h2_conn *hc, const struct loop_cqe *cqe)
{
	struct conn *c = hc->c;
	long res = transport_write_done(&c->tr, cqe);

	if (res <= 0) {
		close_now(hc);
		return;
	}
	buf_consume(c->out, (size_t)res);
	h2__flush(hc);
	want_input(hc);
}

/* ---- nghttp2 callbacks ------------------------------------------------- */

static struct h2_stream *stream_of(struct h2_conn *hc, int32_t id)
{
	return nghttp2_session_get_stream_user_data(hc->s, id);
}

static void control_frame(struct h2_conn *hc, const char *reason)
{
	if (++hc->ctrl > hc->max_glitches * H2_CTRL_PER_GLITCH)
		h2__goaway(hc, NGHTTP2_ENHANCE_YOUR_CALM, reason);
}

static int cb_begin_headers(nghttp2_session *session,
			    const nghttp2_frame *frame, void *ud)
{
	struct h2_conn *hc = ud;

	(void)session;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	return h2s_begin_headers(hc, frame->hd.stream_id);
}

static int cb_header(nghttp2_session *session, const nghttp2_frame *frame,
		     const uint8_t *name, size_t namelen, const uint8_t *value,
		     size_t valuelen, uint8_t flags, void *ud)
{
	struct h2_conn *hc = ud;
	struct h2_stream *s;

	(void)session;
	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	s = stream_of(hc, frame->hd.stream_id);
	if (!s)
		return 0;
	return h2s_header(hc, s, name, namelen, value, valuelen);
}

/* Refuse a header field nghttp2 would drop silently (CR, LF, NUL or
 * whitespace at either end of a value, invalid name bytes): the stream
 * is reset with PROTOCOL_ERROR (RFC 9113 8.2.1). */
static int cb_invalid_header(nghttp2_session *session,
			     const nghttp2_frame *frame, const uint8_t *name,
			     size_t namelen, const uint8_t *value,
			     size_t valuelen, uint8_t flags, void *ud)
{
	(void)session;
	(void)frame;
	(void)name;
	(void)namelen;
	(void)value;
	(void)valuelen;
	(void)flags;
	(void)ud;
	return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int cb_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
			 void *ud)
{
	struct h2_conn *hc = ud;
	struct h2_stream *s = NULL;
	bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;

	(void)session;
	if (frame->hd.stream_id)
		s = stream_of(hc, frame->hd.stream_id);
	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		if (!s)
			break;
		if (frame->headers.cat == NGHTTP2_HCAT_REQUEST)
			h2s_headers_done(hc, s, end);
		else if (end)
			h2s_end(hc, s);	/* trailers (h2s_header took them) */
		break;
	case NGHTTP2_DATA:
		if (frame->hd.length == 0 && !end)
			h2__glitch(hc, "empty_frames");
		if (s && end)
			h2s_end(hc, s);
		break;
	case NGHTTP2_RST_STREAM:
		/* a client resetting a stream it opened, before its response
		 * was complete: Rapid Reset (CVE-2023-44487) */
		if (s && !s->resp_done)
			h2__glitch(hc, "rapid_reset");
		break;
	case NGHTTP2_PING:
		if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
			control_frame(hc, "ping");
		break;
	case NGHTTP2_SETTINGS:
		if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
			control_frame(hc, "settings");
		break;
	case NGHTTP2_PRIORITY:
	case NGHTTP2_WINDOW_UPDATE:
		control_frame(hc, "control_frames");
		break;
	default:
		break;
	}
	return 0;
}

static int cb_data_chunk(nghttp2_session *session, uint8_t flags,
			 int32_t id, const uint8_t *data, size_t len, void *ud)
{
	struct h2_conn *hc = ud;
	struct h2_stream *s = stream_of(hc, id);

	(void)session;
	(void)flags;
	hc->progress_bytes += len;
	if (hc->progress_bytes >= H2_PROGRESS_BYTES)
		h2__progress(hc);
	if (!s) {
		nghttp2_session_consume(hc->s, id, len);
		return 0;
	}
	/* the connection's window comes back at once: what a stream holds
	 * is bounded by its own window, given back as its bridge takes the
	 * bytes (h2s_data), so one slow upstream never holds up the
	 * connection's other streams */
	nghttp2_session_consume_connection(hc->s, len);
	h2s_data(hc, s, data, len);
	return 0;
}

static int cb_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
			 void *ud)
{
	struct h2_conn *hc = ud;

	(void)session;
	switch (frame->hd.type) {
	case NGHTTP2_RST_STREAM:
		/* streams the server resets because the client broke the
		 * protocol count against the same budget as the client's
		 * own resets (MadeYouReset, CVE-2025-8671) */
		switch (frame->rst_stream.error_code) {
		case NGHTTP2_PROTOCOL_ERROR:
		case NGHTTP2_FLOW_CONTROL_ERROR:
		case NGHTTP2_STREAM_CLOSED:
		case NGHTTP2_FRAME_SIZE_ERROR:
			h2__glitch(hc, "server_reset");
			break;
		default:
			break;
		}
		break;
	case NGHTTP2_HEADERS:
	case NGHTTP2_DATA:
		h2__progress(hc);
		break;
	default:
		break;
	}
	return 0;
}

static int cb_stream_close(nghttp2_session *session, int32_t id,
			   uint32_t code, void *ud)
{
	struct h2_conn *hc = ud;
	struct h2_stream *s = stream_of(hc, id);

	(void)session;
	if (s)
		h2s_closed(hc, s, code);
	if (!hc->n_streams)
		hc->c->deadline_ms = now_ms(hc) + hc->idle_ms;
	if (!hc->n_streams && hc->p->draining && !hc->dead) {
		hc->dead = true;
		nghttp2_session_terminate_session(hc->s, NGHTTP2_NO_ERROR);
	}
	return 0;
}

/* ---- setup ------------------------------------------------------------- */

static int make_callbacks(struct proxy *p)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;

	if (nghttp2_session_callbacks_new(&cb))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(
		cb, cb_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, cb_header);
	nghttp2_session_callbacks_set_on_invalid_header_callback(
		cb, cb_invalid_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
							     cb_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
		cb, cb_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb,
							     cb_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(
		cb, cb_stream_close);
	if (nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cb);
		return -ENOMEM;
	}
	/* queued PING/SETTINGS ACKs a client that does not read may cause */
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	/* entries in one SETTINGS frame */
	nghttp2_option_set_max_settings(opt, 32);
	/* CONTINUATION frames after a HEADERS frame */
	nghttp2_option_set_max_continuations(opt, 8);
	/* windows are given back by us, per stream (cb_data_chunk) */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	p->h2_cbs = cb;
	p->h2_opt = opt;
	return 0;
}

void proxy__h2_destroy(struct proxy *p)
{
	if (p->h2_cbs)
		nghttp2_session_callbacks_del(p->h2_cbs);
	if (p->h2_opt)
		nghttp2_option_del(p->h2_opt);
	p->h2_cbs = NULL;
	p->h2_opt = NULL;
	free(p->h2);
	p->h2 = NULL;
	free(p->h2_front);
	p->h2_front = NULL;
	h2s_spares_free(p);
}

static int start(struct proxy *p, struct conn *c)
{
	const struct config_http *h = &p->cfg->http;
	struct h2_conn *hc;
	nghttp2_settings_entry iv[5];

	if (!p->h2) {
		p->h2 = calloc(p->conns.n, sizeof(*p->h2));
		if (!p->h2)
			return -ENOMEM;
	}
	if (!p->h2_front) {
		p->h2_front = calloc(p->conns.n, sizeof(*p->h2_front));
		if (!p->h2_front)
			return -ENOMEM;
	}
	if (!p->h2_cbs && make_callbacks(p))
		return -ENOMEM;
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return -ENOMEM;
	hc->p = p;
	hc->c = c;
	hc->max_glitches = h->h2_max_glitches;
	hc->max_header_list = h->h2_max_header_list;
	hc->stall_ms = h->h2_stall_timeout_ms;
	hc->coalesce_us = h->h2_coalesce_us;
	hc->idle_ms = h->keepalive_timeout_ms;
	if (nghttp2_session_server_new2(&hc->s, p->h2_cbs, hc, p->h2_opt)) {
		free(hc);
		return -ENOMEM;
	}
	iv[0] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
					  h->h2_max_streams };
	iv[1] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
					  h->h2_initial_window };
	iv[2] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_MAX_FRAME_SIZE,
					  h->h2_max_frame_size };
	iv[3] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
					  h->h2_max_header_list };
	iv[4] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 };
	if (nghttp2_submit_settings(hc->s, NGHTTP2_FLAG_NONE, iv, 5)) {
		nghttp2_session_del(hc->s);
		free(hc);
		return -ENOMEM;
	}
	p->h2[c->id] = hc;
	c->state = CS_H2;
	c->deadline_ms = p->now_ms + hc->idle_ms;
	exchange_detach(&p->xpool, c);
	obs_h2_event(p->worker, OBS_H2_CONN, NULL);
	return 0;
}

bool h2_detect(struct proxy *p, struct conn *c)
{
	size_t len = c->in ? buf_len(c->in) : 0;
	struct h2_conn *hc;

	if (c->requests || !len)
		return false;
	if (!transport_tls_alpn_is(&c->tr, "h2")) {
		size_t n = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;

		if (!(c->lflags & PROXY_L_H2C) ||
		    memcmp(buf_head(c->in), H2_PREFACE, n))
			return false;
		if (n < H2_PREFACE_LEN) {
			/* a prefix of the preface: wait for the rest */
			if ((c->flags & CONN_F_EOF) || proxy__post_recv(p, c))
				conn_close(&p->conns, c);
			return true;
		}
	}
	if (start(p, c)) {
		proxy__close_client(p, c);
		return true;
	}
	hc = p->h2[c->id];
	h2__enter(hc);
	if (feed(hc, buf_head(c->in), buf_len(c->in))) {
		h2__flush(hc);
		want_input(hc);
	}
	h2__leave(hc);
	return true;
}

void h2_complete(struct proxy *p, struct conn *c, unsigned int op,
		 const struct loop_cqe *cqe)
{
	struct h2_conn *hc;

	if (c->state == CS_H2B) {
		h2s_complete(p, c, op, cqe);
		return;
	}
	hc = h2__conn_of(p, c);
	if (!hc) {
		if (op == CONN_OP_RECV)
			transport_read_release(&c->tr, cqe);
		conn_close(&p->conns, c);
		return;
	}
	h2__enter(hc);
	if (op == CONN_OP_RECV)
		on_recv(hc, cqe);
	else if (op == CONN_OP_SEND)
		on_sent(hc, cqe);
	else if (op == CONN_OP_TIMER) {
		/* what is held goes out; more output later may be held again */
		hc->hold_armed = false;
		hc->hold_over = true;
		h2__flush(hc);
		hc->hold_over = false;
	}
	h2__leave(hc);
}

/* Is the client what holds things up: output it does not read, windows
 * it keeps shut, a request body it does not finish? (Waiting for an
 * upstream is not: the exchange's own response_timeout covers that.) */
static bool client_stalls(struct h2_conn *hc)
{
	struct conn *c = hc->c;

	if (hc->pend_len || ((c->flags & CONN_F_SEND) && c->out &&
			     buf_len(c->out)))
		return true;
	if (nghttp2_session_get_remote_window_size(hc->s) <= 0)
		return true;
	for (struct h2_stream *s = hc->streams; s; s = s->next) {
		/* a body not finished, unless its window is ours to give
		 * back (its upstream is behind) */
		if (!s->req_done && !s->status && !s->unconsumed)
			return true;
		if (s->resp_head && !s->resp_done &&
		    nghttp2_session_get_stream_remote_window_size(hc->s,
								  s->id) <= 0)
			return true;
	}
	return false;
}

void h2_deadline(struct proxy *p, struct conn *c)
{
	struct h2_conn *hc = h2__conn_of(p, c);

	c->deadline_ms = 0;
	if (!hc || c->state == CS_H2B || hc->dead) {
		if (c->state != CS_H2B)
			conn_close(&p->conns, c);
		return;
	}
	if (hc->n_streams && !client_stalls(hc)) {
		c->deadline_ms = p->now_ms + hc->stall_ms;
		return;
	}
	h2__enter(hc);
	if (hc->n_streams) {
		/* open streams and nothing moved: a zero window kept shut,
		 * output not read, a body dribbled */
		h2__goaway(hc, NGHTTP2_ENHANCE_YOUR_CALM, "stall");
	} else {
		hc->dead = true;
		nghttp2_session_terminate_session(hc->s, NGHTTP2_NO_ERROR);
		c->deadline_ms = p->now_ms + PROXY_LINGER_MS;
	}
	h2__flush(hc);
	h2__leave(hc);
}

void h2_drain(struct proxy *p)
{
	if (!p->h2)
		return;
	for (uint32_t i = 0; i < p->conns.n; i++) {
		struct conn *c = &p->conns.slots[i];
		struct h2_conn *hc = p->h2[i];

		if (!hc || c->state != CS_H2 || conn_closing(c) || hc->dead)
			continue;
		if (hc->n_streams) {
			/* no new streams; the last one to close ends it */
			nghttp2_submit_shutdown_notice(hc->s);
		} else {
			hc->dead = true;
			nghttp2_session_terminate_session(hc->s,
							  NGHTTP2_NO_ERROR);
		}
		h2__enter(hc);
		h2__flush(hc);
		h2__leave(hc);
	}
}

void h2_release(struct proxy *p, struct conn *c)
{
	struct h2_conn *hc;

	if (!p->h2 || !p->h2[c->id])
		return;
	if (c->state == CS_H2B) {
		h2s_release(p, c);
		p->h2[c->id] = NULL;
		return;
	}
	hc = p->h2[c->id];
	p->h2[c->id] = NULL;
	h2s_detach_all(hc);
	nghttp2_session_del(hc->s);
	free(hc);
}
