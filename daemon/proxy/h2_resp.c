// SPDX-License-Identifier: MIT
/*
 * An HTTP/2 stream's response (see h2.h, docs/HTTP2.md): the HTTP/1.1
 * response the request path writes into the stream's bridge, translated
 * into HEADERS and DATA frames. Connection-specific fields are dropped
 * (RFC 9113 8.2.2), names lowered, a chunked body decoded and its trailer
 * section sent as a trailing HEADERS frame (grpc-status). Also the
 * answers a stream gets from us without a bridge (400/405/431/503 with a
 * JSON body).
 */
#include "proxy/h2_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* :status of an HTTP status (100-999): its three digits */
static void status_digits(char out[4], int status)
{
	unsigned int v = (unsigned int)status % 1000;

	out[0] = (char)('0' + v / 100);
	out[1] = (char)('0' + v / 10 % 10);
	out[2] = (char)('0' + v % 10);
	out[3] = '\0';
}

static ssize_t answer_read(nghttp2_session *session, int32_t id, uint8_t *buf,
			   size_t len, uint32_t *flags,
			   nghttp2_data_source *src, void *ud)
{
	struct h2_stream *s = src->ptr;
	size_t n = s->w_len - s->w_inflight;

	(void)session;
	(void)id;
	(void)ud;
	if (n > len)
		n = len;
	memcpy(buf, s->w + s->w_inflight, n);
	s->w_inflight += n;
	if (s->w_inflight == s->w_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		s->resp_done = true;
	}
	return (ssize_t)n;
}

void h2s_answer(struct h2_conn *hc, struct h2_stream *s)
{
	char status[4], len[24];
	nghttp2_data_provider dp = { .source.ptr = s,
				     .read_callback = answer_read };
	nghttp2_nv nv[3];
	int n;

	/* the body: {"error":"..."} in s->w (no bridge: never sent there) */
	s->w_dead = true;
	s->w_len = s->w_inflight = 0;
	if (h2s_w_reserve(s, strlen(s->error) + 16)) {
		nghttp2_submit_rst_stream(hc->s, NGHTTP2_FLAG_NONE, s->id,
					  NGHTTP2_INTERNAL_ERROR);
		return;
	}
	s->w_len = (size_t)snprintf(s->w, s->w_cap, "{\"error\":\"%s\"}\n",
				    s->error);
	status_digits(status, s->status);
	n = snprintf(len, sizeof(len), "%zu", s->w_len);
	nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, 3,
			      NGHTTP2_NV_FLAG_NONE };
	nv[1] = (nghttp2_nv){ (uint8_t *)"content-type",
			      (uint8_t *)"application/json", 12, 16,
			      NGHTTP2_NV_FLAG_NONE };
	nv[2] = (nghttp2_nv){ (uint8_t *)"content-length", (uint8_t *)len, 14,
			      (size_t)n, NGHTTP2_NV_FLAG_NONE };
	h2s_head_out(s);
	if (nghttp2_submit_response(hc->s, s->id, nv, 3, &dp))
		nghttp2_submit_rst_stream(hc->s, NGHTTP2_FLAG_NONE, s->id,
					  NGHTTP2_INTERNAL_ERROR);
}

/* Chunked framing bytes after the last data run, kept for the trailers
 * (at most the decoder's trailer limit and a last-chunk line). */
#define RTAIL_MAX (8192 + 512)

static int keep_framing(struct h2_stream *s, const char *d, size_t n)
{
	char *t;

	if (s->rtail_len + n > RTAIL_MAX)
		return -E2BIG;
	t = realloc(s->rtail, s->rtail_len + n + 1);
	if (!t)
		return -ENOMEM;
	s->rtail = t;
	memcpy(t + s->rtail_len, d, n);
	s->rtail_len += n;
	return 0;
}

/* The trailer section of a finished chunked response (in s->rtail: CRLF
 * of the last data, the last-chunk line, the trailer fields, CRLF) as a
 * trailing HEADERS frame: 1 when there was one (so DATA does not end the
 * stream), 0 when none, -1 when there are more fields than it takes
 * (the stream is reset rather than lose, say, a grpc-status at the end).
 * Fields a trailer may not carry (RFC 9110 6.5.1: framing, routing) are
 * left out. nghttp2 copies the fields. */
#define H2_MAX_TRAILERS 64

static int submit_trailers(nghttp2_session *session, struct h2_stream *s)
{
	nghttp2_nv nv[H2_MAX_TRAILERS];
	char *p = s->rtail, *end = s->rtail + s->rtail_len, *eol;
	size_t n = 0;

	if (!p)
		return 0;
	if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;	/* the CRLF after the last chunk's data */
	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (!eol)
		return 0;
	p = eol + 2;	/* past the last-chunk line */
	while (p < end &&
	       (eol = memmem(p, (size_t)(end - p), "\r\n", 2)) && eol > p) {
		char *colon = memchr(p, ':', (size_t)(eol - p)), *v;
		size_t nl;

		if (colon) {
			nl = (size_t)(colon - p);
			for (char *k = p; k < colon; k++)
				*k = (char)tolower((unsigned char)*k);
			v = colon + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			while (eol > v && (eol[-1] == ' ' || eol[-1] == '\t'))
				eol--;
			if (h2_conn_specific(p, nl) ||
			    http_token_eq(p, nl, "content-length") ||
			    http_token_eq(p, nl, "content-type") ||
			    http_token_eq(p, nl, "host") ||
			    http_token_eq(p, nl, "te") ||
			    http_token_eq(p, nl, "trailer")) {
				/* left out */
			} else if (n == H2_MAX_TRAILERS) {
				return -1;
			} else {
				nv[n++] = (nghttp2_nv){
					(uint8_t *)p, (uint8_t *)v,
					nl, (size_t)(eol - v),
					NGHTTP2_NV_FLAG_NONE };
			}
			eol = memmem(eol, (size_t)(end - eol), "\r\n", 2);
			if (!eol)
				break;
		}
		p = eol + 2;
	}
	if (!n)
		return 0;
	return nghttp2_submit_trailer(session, s->id, nv, n) ? -1 : 1;
}

/* Response body bytes from the bridge's buffer, de-chunked. */
static ssize_t resp_read(nghttp2_session *session, int32_t id, uint8_t *buf,
			 size_t len, uint32_t *flags, nghttp2_data_source *src,
			 void *ud)
{
	struct h2_stream *s = src->ptr;
	struct conn *b = s->b;
	struct buf *in = b ? b->in : NULL;
	size_t got = 0;

	(void)session;
	(void)id;
	(void)ud;
	while (in && buf_len(in) && got < len && !s->resp_done) {
		size_t avail = buf_len(in), n;

		if (s->rbody == HTTP_BODY_LENGTH) {
			n = avail < len - got ? avail : len - got;
			if (n > s->rleft)
				n = (size_t)s->rleft;
			memcpy(buf + got, buf_head(in), n);
			buf_consume(in, n);
			got += n;
			s->rleft -= n;
			if (!s->rleft)
				s->resp_done = true;
		} else if (s->rbody == HTTP_BODY_CHUNKED) {
			size_t off, dl;
			bool done = false;
			long acc;

			/* at most the room left, so a run of data always
			 * fits what is accepted */
			if (avail > len - got)
				avail = len - got;
			acc = http_chunked_decode(&s->rck, buf_head(in), avail,
						  &done, &off, &dl);
			if (acc < 0)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			/* framing after the last data run: the trailers are
			 * in it at the end */
			if (dl)
				s->rtail_len = 0;
			else if (acc > 0 &&
				 keep_framing(s, buf_head(in), (size_t)acc))
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			if (dl && (size_t)acc > off + dl &&
			    keep_framing(s, buf_head(in) + off + dl,
					 (size_t)acc - off - dl))
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			memcpy(buf + got, buf_head(in) + off, dl);
			got += dl;
			buf_consume(in, (size_t)acc);
			if (done)
				s->resp_done = true;
			if (acc == 0)
				break;
		} else {
			n = avail < len - got ? avail : len - got;
			memcpy(buf + got, buf_head(in), n);
			buf_consume(in, n);
			got += n;
		}
	}
	if (!s->resp_done && s->b_eof && (!in || !buf_len(in))) {
		if (s->rbody != HTTP_BODY_UNTIL_CLOSE)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		s->resp_done = true;
	}
	if (s->resp_done) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		/* response trailers (grpc-status) end the stream instead */
		if (s->rbody == HTTP_BODY_CHUNKED) {
			int t = submit_trailers(session, s);

			if (t < 0)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			if (t)
				*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		}
	} else if (!got) {
		s->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	/* room in the buffer again: read more of the response */
	if (b && !conn_closing(b) && s->hc)
		proxy__post_recv(s->hc->p, b);
	return (ssize_t)got;
}

/* Response header fields HTTP/2 forbids (RFC 9113 8.2.2). Asked of every
 * field of every response: the length picks the one name to compare. */
bool h2_conn_specific(const char *n, size_t l)
{
	switch (l) {
	case 7:
		return http_token_eq(n, l, "upgrade");
	case 10:
		return http_token_eq(n, l, "connection") ||
		       http_token_eq(n, l, "keep-alive");
	case 16:
		return http_token_eq(n, l, "proxy-connection");
	case 17:
		return http_token_eq(n, l, "transfer-encoding");
	default:
		return false;
	}
}

#define NO_COPY (NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE)

/* Room for n bytes of response head in s->rhead. */
static bool rhead_reserve(struct h2_stream *s, size_t n)
{
	char *b;

	if (n <= s->rhead_cap)
		return true;
	b = malloc(n < 512 ? 512 : n);
	if (!b)
		return false;
	free(s->rhead);
	s->rhead = b;
	s->rhead_cap = n < 512 ? 512 : n;
	return true;
}

/* Parse the HTTP/1.1 response head in b->in; submit it as HEADERS. */
void h2s_submit_head(struct h2_conn *hc, struct h2_stream *s)
{
	struct proxy *p = hc->p;
	struct http_response *r = &p->resp;
	struct buf *in = s->b->in;
	nghttp2_data_provider dp = { .source.ptr = s,
				     .read_callback = resp_read };
	nghttp2_nv nv[HTTP_MAX_HEADERS + 1];
	char status[4];
	size_t n = 0;
	int len;

	for (;;) {
		len = in ? http_parse_response(buf_head(in), buf_len(in),
					       s->rlast_len, s->head_method, r)
			 : -2;
		if (len == -2) {
			s->rlast_len = in ? buf_len(in) : 0;
			if (s->b_eof || (in && !buf_room(in)))
				goto bad;
			return;
		}
		if (len < 0)
			goto bad;
		s->rlast_len = 0;
		if (r->status >= 200)
			break;
		if (r->status == 100) {
			/* interim: the client may be waiting for it to send
			 * its body; other 1xx are not passed on */
			snprintf(status, sizeof(status), "100");
			nv[0] = (nghttp2_nv){ (uint8_t *)":status",
					      (uint8_t *)status, 7, 3,
					      NGHTTP2_NV_FLAG_NONE };
			nghttp2_submit_headers(hc->s, NGHTTP2_FLAG_NONE, s->id,
					       NULL, nv, 1, NULL);
		}
		buf_consume(in, (size_t)len);
	}
	/* The head is copied once into the stream's own buffer, which
	 * outlives the HEADERS frame, and nghttp2 takes the fields from
	 * there without copying each (and lowering it again): its copy was
	 * about 3% of the daemon's instructions per request. */
	if (!rhead_reserve(s, (size_t)len + 4))
		goto bad;
	memcpy(s->rhead, buf_head(in), (size_t)len);
	status_digits(s->rhead + len, r->status);
	nv[n++] = (nghttp2_nv){ (uint8_t *)":status",
				(uint8_t *)s->rhead + len, 7, 3, NO_COPY };
	for (size_t i = 0; i < r->num_headers; i++) {
		const struct http_header *h = &r->headers[i];
		char *name = s->rhead + (h->name - buf_head(in));
		char *value = s->rhead + (h->value - buf_head(in));

		if (h2_conn_specific(h->name, h->name_len))
			continue;
		for (size_t k = 0; k < h->name_len; k++)
			name[k] = (char)tolower((unsigned char)name[k]);
		nv[n++] = (nghttp2_nv){ (uint8_t *)name, (uint8_t *)value,
					h->name_len, h->value_len,
					NO_COPY | h2_field_flags(name,
								 h->name_len) };
	}
	s->rbody = r->body;
	s->rleft = r->content_length;
	s->resp_keep = r->keep_alive && r->body != HTTP_BODY_UNTIL_CLOSE;
	http_chunked_init(&s->rck);
	buf_consume(in, (size_t)len);
	h2s_head_out(s);
	if (s->rbody == HTTP_BODY_NONE ||
	    (s->rbody == HTTP_BODY_LENGTH && !s->rleft)) {
		s->resp_done = true;
		len = nghttp2_submit_response(hc->s, s->id, nv, n, NULL);
	} else {
		len = nghttp2_submit_response(hc->s, s->id, nv, n, &dp);
	}
	if (len)
		goto bad;
	return;
bad:
	h2s_head_out(s);
	s->resp_done = true;
	nghttp2_submit_rst_stream(hc->s, NGHTTP2_FLAG_NONE, s->id,
				  NGHTTP2_INTERNAL_ERROR);
}
