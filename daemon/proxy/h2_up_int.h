/* SPDX-License-Identifier: MIT */
/*
 * Shared by h2_up.c and h2_up_resp.c (see h2.h): an upstream connection
 * whose transport runs an nghttp2 client session.
 */
#ifndef SLUICE_H2_UP_INT_H
#define SLUICE_H2_UP_INT_H

#include "proxy/h2_int.h"

#define UP_OUT_SIZE	(32 * 1024)	/* frames in flight to the socket */
#define UP_PENDING_MAX	(64 * 1024)	/* request body held for the window */
#define UP_RBUF_MAX	(64 * 1024)	/* response held for the exchange */

struct h2up {
	struct transport inner;		/* plain or TLS, the socket's */
	struct proxy *p;
	struct conn *u;
	nghttp2_session *s;
	int32_t id;			/* the stream; 0 before the request */
	bool tls;
	/* the request as written by the exchange */
	char *head;			/* its head, until complete */
	size_t head_len, head_cap;
	bool head_done;
	bool head_method;		/* HEAD: a response without body */
	enum http_body body;
	uint64_t left;
	struct http_chunked ck;
	char *pend;			/* body for DATA frames */
	size_t pend_len, pend_off, pend_cap;
	bool req_eof;
	bool deferred;			/* the data provider waits */
	/* chunked framing since the last data run; at the end, the request
	 * trailers, sent as a trailing HEADERS frame (tnv points into it) */
	char *tail;
	size_t tail_len;
	nghttp2_nv tnv[32];
	size_t n_tnv;
	/* frames to the socket */
	char out[UP_OUT_SIZE];
	size_t out_len, out_off;
	const uint8_t *chunk;		/* mem_send's, not yet in out */
	size_t chunk_len;
	bool sending, receiving;
	bool sock_eof;
	/* the response, as HTTP/1.1, for the exchange */
	char *rbuf;
	size_t rlen, roff, rcap;
	size_t rgiven;			/* handed out by the last read_done */
	/* DATA payload in rbuf not yet given back to the upstream's flow
	 * control (nghttp2_session_consume when the exchange takes it) */
	size_t runconsumed;
	int status;			/* :status of the response head */
	/* its content-length, digits as sent (""): kept for a response
	 * with no body that still states the size (HEAD, 304) */
	char clen[21];
	bool grpc;			/* content-type application/grpc... */
	/* the body goes with content-length framing, not chunked: the
	 * upstream stated its size and it is not gRPC (whose trailers need
	 * the chunked trailer section; trailers on a sized body are
	 * dropped, as an HTTP/1.1 message framed by length cannot carry
	 * them) */
	bool sized;
	char *fields;			/* its fields as HTTP/1.1 lines */
	size_t fields_len, fields_cap;
	/* the header list of the HEADERS block being decoded, counted as
	 * RFC 9113 6.5.2 does (name + value + 32 per field): an HPACK
	 * block of one-byte references to a large table entry expands
	 * a thousandfold, and nghttp2 1.52 does not bound it itself */
	size_t list_bytes;
	bool list_over;			/* it passed http.max_header_bytes */
	bool resp_head, resp_done;
	int err;			/* the exchange's reads fail with it */
	bool first_read;
	bool goaway;			/* the upstream sent GOAWAY: no more
					 * requests on this connection */
	/* the exchange's operations, answered by no-op completions */
	uint64_t rd_ud, wr_ud;
	size_t rd_max, wr_len;
	bool rd_parked, wr_parked;
};

/* h2_up.c */
/* *b grown (doubling, from 1 KiB) to hold need bytes: 0 or -ENOMEM. */
int h2up__grow(char **b, size_t *cap, size_t need);

/* h2_up_resp.c: the response */
/* A response made here (no response head came): the gateway's 502 JSON
 * naming why; after a head, the exchange's reads fail instead. */
void h2up__fail_502(struct h2up *h, const char *why);
/* The upstream refused the request without answering it: on a pooled
 * connection the exchange reads EOF (and may retry), else a 502. */
void h2up__refused(struct h2up *h, const char *why);
/* Set the session's callbacks that build the response. */
void h2up__response_callbacks(nghttp2_session_callbacks *cb);

#endif
