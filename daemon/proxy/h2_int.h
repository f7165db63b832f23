/* SPDX-License-Identifier: MIT */
/*
 * Shared by h2.c, h2_stream.c and h2_resp.c (see h2.h): the connection
 * and the stream. Includes <nghttp2/nghttp2.h>; nothing outside
 * proxy/h2*.c may.
 */
#ifndef SLUICE_H2_INT_H
#define SLUICE_H2_INT_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <string.h>

#include "proxy/h2.h"

/* Control frames (PING, SETTINGS, PRIORITY, WINDOW_UPDATE) a connection
 * may send per max_glitches between two completed streams, times this. */
#define H2_CTRL_PER_GLITCH	10
/* Request body bytes that count as progress (resetting the stall
 * deadline): a dribble below this per stall timeout does not. */
#define H2_PROGRESS_BYTES	16384
/* Bytes of a stream's pseudo-header fields and host kept inside the
 * stream object (method, path, authority and scheme of a usual request
 * fit, with their NULs). */
#define H2S_INLINE		224
/* Stream objects a worker keeps for reuse, and the largest buffer one
 * keeps with it: 128 x (object + 3 x 4 KiB) at most, about 1.6 MB. */
#define H2S_SPARE_MAX		128
#define H2S_SPARE_BUF		4096

struct h2_stream;

/* A bridge whose stream is over, kept for a later stream of the same
 * connection (see h2_conn.idle). */
struct h2_idle_bridge {
	struct conn *b;
	uint32_t gen;			/* b's, when parked (a stale slot
					 * differs) */
	uint64_t v;			/* the pair's other end (conn_ud) */
	uint64_t since_ms;
};

struct h2_conn {
	struct proxy *p;
	struct conn *c;			/* the client connection (CS_H2) */
	nghttp2_session *s;
	/* a chunk nghttp2_session_mem_send() handed back that did not fit
	 * in c->out yet (valid until the next mem_send call) */
	const uint8_t *pend;
	size_t pend_len;
	struct h2_stream *streams;	/* open streams, a list */
	unsigned int n_streams;
	uint32_t glitches;		/* protocol abuse seen */
	uint32_t ctrl;			/* control frames since progress */
	uint64_t progress_bytes;	/* request body since last progress */
	uint32_t max_glitches;
	uint32_t max_header_list;
	uint32_t stall_ms;
	uint32_t idle_ms;
	bool dead;			/* GOAWAY queued: no more input */
	/* the connection is to close; while busy (an entry point of h2.c
	 * is running: h2__enter/h2__leave) the close waits for the
	 * outermost leave, so nothing below frees c or this */
	bool closing;
	unsigned int busy;
	/* bridges of finished streams, for the next streams: the other end
	 * is an HTTP/1.1 keep-alive connection between requests, so a new
	 * stream takes one instead of a pair and two connections of its
	 * own (and their set-up and teardown). At most idle_cap (the
	 * connection's stream limit); most recently parked last. */
	struct h2_idle_bridge *idle;
	unsigned int n_idle, idle_cap;
	/* output coalescing (h2__flush): streams whose request is complete
	 * and whose response head has not come yet; while at least
	 * H2_COALESCE_WAITING of them wait, output goes out when it fills
	 * a record, or coalesce_us after it was first held */
	unsigned int n_waiting;
	uint32_t coalesce_us;
	bool hold_armed;		/* the CONN_OP_TIMER timeout is pending */
	bool hold_over;			/* it fired: send what is held */
};

/* Streams waiting on their upstreams from which output is held back, and
 * the held bytes that go out at once (about one full TLS record). */
#define H2_COALESCE_WAITING	8
#define H2_COALESCE_BYTES	15000

struct h2_stream {
	struct h2_stream *prev, *next;
	struct h2_conn *hc;		/* NULL once the stream left it */
	int32_t id;
	struct conn *b;			/* our end of the bridge (CS_H2B) */
	uint64_t v;			/* its other end, the HTTP/1.1
					 * request path's (conn_ud) */
	/* request: pseudo-header fields, then the regular ones as
	 * HTTP/1.1 lines */
	char *method, *path, *authority, *scheme;
	/* where the pseudo-header fields and host are copied while they
	 * fit (most requests); longer ones are allocated */
	char pbuf[H2S_INLINE];
	size_t pbuf_used;
	char *fields;
	size_t fields_len, fields_cap;
	char *cookie;			/* cookie crumbs joined with "; " */
	size_t cookie_len;
	size_t list_bytes;		/* header list size (RFC 9113 6.5.2) */
	char *host;			/* a host field (checked vs :authority) */
	int status;			/* refused by us with this (0: no) */
	const char *error;
	bool end_stream;		/* the request ended on its HEADERS */
	bool head_seen;			/* header fields now are trailers */
	bool chunked;			/* body sent chunked (no content-length) */
	bool has_cl;			/* a content-length field came */
	bool head_method;
	bool req_done;			/* the whole request is in w */
	bool w_dead;			/* the bridge does not take more */
	/* bytes for the bridge: head, then body, gathered in w while wf
	 * (the buffer of the send in flight, wf_off of wf_len bytes sent)
	 * is being written; they swap when it completes. w_inflight: the
	 * read offset of our own answer's body in w (no bridge then) */
	char *w, *wf;
	size_t w_len, w_cap, w_inflight;
	size_t wf_len, wf_off, wf_cap;
	/* DATA bytes taken but not yet given back to the client's window
	 * for this stream (nghttp2_session_consume_stream): given back once
	 * the bridge has taken the backlog, so a stream whose upstream is
	 * slow holds at most its window here, and the other streams of the
	 * connection go on */
	size_t unconsumed;
	/* response */
	bool resp_head;			/* final head parsed and submitted */
	bool resp_done;			/* last byte handed to nghttp2 */
	bool deferred;			/* data provider waits for bytes */
	bool b_eof;			/* the bridge closed */
	/* the response left the bridge's other end open for another
	 * request (HTTP/1.1 keep-alive, framed by length or chunks) */
	bool resp_keep;
	enum http_body rbody;
	uint64_t rleft;
	size_t rlast_len;
	struct http_chunked rck;
	/* chunked framing since the last data run: at the end, the last
	 * chunk and the trailer section (sent as trailing HEADERS) */
	char *rtail;
	size_t rtail_len;
	/* the final response head's fields, lowered, and :status: nghttp2
	 * takes them without copying (NO_COPY_NAME/VALUE) and reads them
	 * when it packs the HEADERS frame, which it does before the stream
	 * closes or not at all (a closed stream's frame is dropped unpacked).
	 * So this object must outlive the stream in nghttp2 (stream_free
	 * only from its close callback, or right before the session is
	 * deleted), and no callback of ours may read a frame's fields after
	 * submission (there is no on_frame_not_send callback). */
	char *rhead;
	size_t rhead_cap;
};

/* HPACK flags for a field whose lower-case name is name: values that
 * are new in every message (request, correlation and trace ids) are sent
 * never indexed. Indexed, each would take a slot of the peer's dynamic
 * table and push out entries that repeat; and nghttp2 keeps its table's
 * entries of one name in one hash chain, walked (with a compare of name
 * and value per entry) for every field it encodes and every entry it
 * evicts: about 50 entries long at 4 KiB of table, and not in cache
 * when each connection has its own table (18% of the daemon's CPU with
 * 64 connections of one stream each). */
static inline uint8_t h2_field_flags(const char *name, size_t len)
{
	bool unique;

	switch (len) {
	case 10:
		unique = !memcmp(name, "request-id", 10) ||
			 !memcmp(name, "x-trace-id", 10);
		break;
	case 11:
		unique = !memcmp(name, "traceparent", 11) ||
			 !memcmp(name, "x-b3-spanid", 11);
		break;
	case 12:
		unique = !memcmp(name, "x-request-id", 12) ||
			 !memcmp(name, "x-b3-traceid", 12);
		break;
	case 15:
		unique = !memcmp(name, "x-amzn-trace-id", 15);
		break;
	case 16:
		unique = !memcmp(name, "x-correlation-id", 16);
		break;
	default:
		unique = false;
	}
	return unique ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
}

/* h2.c */
struct h2_conn *h2__conn_of(struct proxy *p, const struct conn *c);
/* Around every use of hc from outside h2.c's own entry points: a close
 * asked for meanwhile happens at the outermost h2__leave(), after which
 * hc may be gone. */
void h2__enter(struct h2_conn *hc);
void h2__leave(struct h2_conn *hc);
/* Hand nghttp2's output to the client; GOAWAY done: close. */
void h2__flush(struct h2_conn *hc);
/* A glitch (reason: a metric label); past the budget, GOAWAY. */
void h2__glitch(struct h2_conn *hc, const char *reason);
/* Close the connection for abuse: GOAWAY(code), counted by reason. */
void h2__goaway(struct h2_conn *hc, uint32_t code, const char *reason);
/* Progress: the stall deadline moves. */
void h2__progress(struct h2_conn *hc);

/* h2_stream.c: nghttp2 callbacks of a stream */
int h2s_begin_headers(struct h2_conn *hc, int32_t id);
int h2s_header(struct h2_conn *hc, struct h2_stream *s, const uint8_t *name,
	       size_t namelen, const uint8_t *value, size_t valuelen);
/* The request head is complete (end: END_STREAM with it). */
void h2s_headers_done(struct h2_conn *hc, struct h2_stream *s, bool end);
/* Body bytes (already counted back to the connection's window). */
void h2s_data(struct h2_conn *hc, struct h2_stream *s, const uint8_t *data,
	      size_t len);
void h2s_end(struct h2_conn *hc, struct h2_stream *s);
/* The stream's bytes for its bridge are at the limit (its window is not
 * given back). */
bool h2s_backlogged(const struct h2_conn *hc, const struct h2_stream *s);
/* nghttp2 closed the stream. */
void h2s_closed(struct h2_conn *hc, struct h2_stream *s, uint32_t code);
/* The connection goes: every stream leaves it, idle bridges close. */
void h2s_detach_all(struct h2_conn *hc);
/* A completion on a bridge end. */
void h2s_complete(struct proxy *p, struct conn *b, unsigned int op,
		  const struct loop_cqe *cqe);
/* b is freed: its stream goes. */
void h2s_release(struct proxy *p, struct conn *b);
/* Free the worker's spare stream objects (proxy_destroy). */
void h2s_spares_free(struct proxy *p);
/* Room for n more bytes in s->w (never the buffer in flight). */
int h2s_w_reserve(struct h2_stream *s, size_t n);
/* The stream's response head is submitted (or it gets none): it is not
 * waiting on its upstream any more. */
void h2s_head_out(struct h2_stream *s);

/* h2_resp.c: a stream's response */
/* Answer the stream ourselves (s->status, s->error) with a JSON body. */
void h2s_answer(struct h2_conn *hc, struct h2_stream *s);
/* Parse the HTTP/1.1 response head in the bridge's buffer; once it is
 * whole, submit it as HEADERS (and the body as DATA as it comes). */
void h2s_submit_head(struct h2_conn *hc, struct h2_stream *s);
/* Is n[0, l) (any case) a connection-specific field name, which
 * HTTP/2 forbids (RFC 9113 8.2.2)? */
bool h2_conn_specific(const char *n, size_t l);

#endif
