// SPDX-License-Identifier: MIT
/*
 * An HTTP/2 stream as an exchange (see h2.h, docs/HTTP2.md).
 *
 * The request is checked against RFC 9113 section 8 (nghttp2 checks most
 * of it: pseudo-header fields, connection-specific fields, TE, upper case
 * names, content-length against DATA; we add :authority against host, the
 * header list size, and refuse what nghttp2 would drop) and translated
 * into an HTTP/1.1 request. Nothing is handed on before the whole head
 * passed. The translated request goes into one end of a bridge, a
 * transport pair joined in the process (io/pair.h), whose
 * other end is an ordinary client connection of this worker with the
 * HTTP/2 connection's client address: the HTTP/1.1 request path, unchanged,
 * runs routing, the gate (auth, roles, limits, escalation), the upstream
 * pools, metrics, the access log and the request id for it. Its HTTP/1.1
 * response comes back through the pair; h2_resp.c translates it into
 * HEADERS and DATA frames.
 */
#include "proxy/h2_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "io/pair.h"
#include "obs/obs.h"

/* Bytes of a stream's buffer towards its bridge above which its window
 * is not given back: about one DATA frame (and its chunk framing). */
static size_t frame_room(const struct h2_conn *hc)
{
	return hc->p->cfg->http.h2_max_frame_size + 32;
}

static struct h2_stream *stream_of_b(struct proxy *p, const struct conn *b)
{
	return p->h2 ? p->h2[b->id] : NULL;
}

/* A string of the stream's: in its inline bytes or allocated. */
static void str_free(struct h2_stream *s, char *str)
{
	if (str < s->pbuf || str >= s->pbuf + sizeof(s->pbuf))
		free(str);
}

/* A buffer a spare stream keeps: small ones only. */
static void keep_small(char **b, size_t *cap)
{
	if (*cap > H2S_SPARE_BUF) {
		free(*b);
		*b = NULL;
		*cap = 0;
	}
}

/*
 * A stream is over. Its object and its small buffers (fields, w, wf,
 * rhead) go to the worker's spares for the next stream, up to
 * H2S_SPARE_MAX; the rest is freed. malloc and free were about 7% of
 * the daemon's instructions per HTTP/2 request (eleven of each per
 * stream).
 */
static void stream_free(struct proxy *p, struct h2_stream *s)
{
	str_free(s, s->method);
	str_free(s, s->path);
	str_free(s, s->authority);
	str_free(s, s->scheme);
	str_free(s, s->host);
	free(s->cookie);
	free(s->rtail);
	if (!p || p->h2_gone || p->n_h2_spare >= H2S_SPARE_MAX) {
		free(s->fields);
		free(s->w);
		free(s->wf);
		free(s->rhead);
		free(s);
		return;
	}
	keep_small(&s->fields, &s->fields_cap);
	keep_small(&s->rhead, &s->rhead_cap);
	keep_small(&s->w, &s->w_cap);
	keep_small(&s->wf, &s->wf_cap);
	s->next = p->h2_spare;
	p->h2_spare = s;
	p->n_h2_spare++;
}

/* A zeroed stream: a spare one (its buffers kept) or a new one. */
static struct h2_stream *stream_new(struct proxy *p)
{
	struct h2_stream *s = p->h2_spare;
	char *fields, *w, *wf, *rhead;
	size_t fields_cap, w_cap, wf_cap, rhead_cap;

	if (!s)
		return calloc(1, sizeof(*s));
	p->h2_spare = s->next;
	p->n_h2_spare--;
	fields = s->fields;
	fields_cap = s->fields_cap;
	w = s->w;
	w_cap = s->w_cap;
	wf = s->wf;
	wf_cap = s->wf_cap;
	rhead = s->rhead;
	rhead_cap = s->rhead_cap;
	memset(s, 0, offsetof(struct h2_stream, pbuf));
	memset(&s->pbuf_used, 0,
	       sizeof(*s) - offsetof(struct h2_stream, pbuf_used));
	s->fields = fields;
	s->fields_cap = fields_cap;
	s->w = w;
	s->w_cap = w_cap;
	s->wf = wf;
	s->wf_cap = wf_cap;
	s->rhead = rhead;
	s->rhead_cap = rhead_cap;
	return s;
}

void h2s_spares_free(struct proxy *p)
{
	struct h2_stream *s;

	while ((s = p->h2_spare)) {
		p->h2_spare = s->next;
		free(s->fields);
		free(s->w);
		free(s->wf);
		free(s->rhead);
		free(s);
	}
	p->n_h2_spare = 0;
}

static void unlink_stream(struct h2_conn *hc, struct h2_stream *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		hc->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	hc->n_streams--;
	if (s->req_done && !s->resp_head)
		hc->n_waiting--;
}

/* The whole request is in: the stream waits on its upstream until the
 * response head comes. hc->n_waiting counts the linked streams with
 * req_done && !resp_head (output coalescing, h2.c). */
static void request_done(struct h2_conn *hc, struct h2_stream *s)
{
	if (s->req_done)
		return;
	s->req_done = true;
	if (!s->resp_head)
		hc->n_waiting++;
}

/* The stream's response head is submitted (or it gets none): it is not
 * waiting on its upstream any more. */
void h2s_head_out(struct h2_stream *s)
{
	if (s->req_done && !s->resp_head && s->hc)
		s->hc->n_waiting--;
	s->resp_head = true;
}

int h2s_begin_headers(struct h2_conn *hc, int32_t id)
{
	struct h2_stream *s = stream_new(hc->p);

	if (!s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (!hc->n_streams)
		h2__progress(hc);	/* from idle: the stall clock starts */
	s->hc = hc;
	s->id = id;
	s->next = hc->streams;
	if (s->next)
		s->next->prev = s;
	hc->streams = s;
	hc->n_streams++;
	nghttp2_session_set_stream_user_data(hc->s, id, s);
	return 0;
}

/* v[0, n) as a string of s's: in its inline bytes while they last */
static char *dup_n(struct h2_stream *s, const uint8_t *v, size_t n)
{
	char *d;

	if (n < sizeof(s->pbuf) - s->pbuf_used) {
		d = s->pbuf + s->pbuf_used;
		s->pbuf_used += n + 1;
	} else {
		d = malloc(n + 1);
	}

	if (d) {
		memcpy(d, v, n);
		d[n] = '\0';
	}
	return d;
}

static bool is(const uint8_t *name, size_t n, const char *lit)
{
	return n == strlen(lit) && !memcmp(name, lit, n);
}

/* Append "name: value\r\n" to s->fields. */
static int add_field(struct h2_stream *s, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl)
{
	size_t need = s->fields_len + nl + vl + 4;

	if (need > s->fields_cap) {
		size_t cap = s->fields_cap ? s->fields_cap * 2 : 1024;
		char *f;

		while (cap < need)
			cap *= 2;
		f = realloc(s->fields, cap);
		if (!f)
			return -ENOMEM;
		s->fields = f;
		s->fields_cap = cap;
	}
	memcpy(s->fields + s->fields_len, name, nl);
	s->fields_len += nl;
	memcpy(s->fields + s->fields_len, ": ", 2);
	s->fields_len += 2;
	memcpy(s->fields + s->fields_len, value, vl);
	s->fields_len += vl;
	memcpy(s->fields + s->fields_len, "\r\n", 2);
	s->fields_len += 2;
	return 0;
}

static int add_cookie(struct h2_stream *s, const uint8_t *v, size_t n)
{
	char *c = realloc(s->cookie, s->cookie_len + n + 3);

	if (!c)
		return -ENOMEM;
	s->cookie = c;
	if (s->cookie_len) {
		memcpy(c + s->cookie_len, "; ", 2);
		s->cookie_len += 2;
	}
	memcpy(c + s->cookie_len, v, n);
	s->cookie_len += n;
	c[s->cookie_len] = '\0';
	return 0;
}

static void refuse(struct h2_stream *s, int status, const char *error)
{
	if (!s->status) {
		s->status = status;
		s->error = error;
	}
}

int h2s_header(struct h2_conn *hc, struct h2_stream *s, const uint8_t *name,
	       size_t nl, const uint8_t *value, size_t vl)
{
	char **pseudo = NULL;

	/* RFC 9113 6.5.2: each field counts its name, value and 32 */
	s->list_bytes += nl + vl + 32;
	if (s->list_bytes > hc->max_header_list) {
		if (!s->status)
			h2__glitch(hc, "header_list");
		refuse(s, 431, "request header list too large");
	}
	if (s->status)
		return 0;	/* decoded (HPACK state) and dropped */
	if (s->head_seen) {
		/* request trailers: the chunked body's trailer section
		 * (h2s_end), the fields a trailer may not carry left out */
		if (!s->chunked || is(name, nl, "host") ||
		    is(name, nl, "content-length") || is(name, nl, "te") ||
		    is(name, nl, "cookie") ||
		    h2_conn_specific((const char *)name, nl))
			return 0;
		return add_field(s, name, nl, value, vl) ?
			       NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
	}
	if (nl && name[0] == ':') {
		/* nghttp2 checked: known, once each, before regular fields */
		if (is(name, nl, ":method"))
			pseudo = &s->method;
		else if (is(name, nl, ":path"))
			pseudo = &s->path;
		else if (is(name, nl, ":authority"))
			pseudo = &s->authority;
		else if (is(name, nl, ":scheme"))
			pseudo = &s->scheme;
		else
			return 0;	/* :protocol: CONNECT is refused below */
		str_free(s, *pseudo);
		*pseudo = dup_n(s, value, vl);
		return *pseudo ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (is(name, nl, "host")) {
		if (s->host) {
			refuse(s, 400, "more than one host field");
			return 0;
		}
		s->host = dup_n(s, value, vl);
		return s->host ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (is(name, nl, "content-length"))
		s->has_cl = true;
	if (is(name, nl, "cookie"))
		return add_cookie(s, value, vl) ?
			       NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
	/* "te: trailers" (the only TE nghttp2 lets through) means nothing
	 * to an HTTP/1.1 upstream that gets no trailers from us */
	if (is(name, nl, "te"))
		return 0;
	return add_field(s, name, nl, value, vl) ?
		       NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}


/*
 * Bridge reuse. A stream whose exchange ended cleanly leaves its bridge
 * as an HTTP/1.1 keep-alive connection between requests; parked here, it
 * carries the connection's next stream. A receive stays armed on a parked
 * bridge: its other end closing (keep-alive timeout, drain) or anything
 * arriving closes it (h2s_complete finds no stream). A bridge older than
 * half the keep-alive timeout is not reused: its other end may be about
 * to close, which would fail the stream taking it. Parking stops while
 * the worker's connection table is half full, so idle bridges never keep
 * clients out.
 */
static bool bridge_park(struct h2_conn *hc, struct h2_stream *s)
{
	struct proxy *p = hc->p;
	struct conn *b = s->b;
	struct h2_idle_bridge *e;

	if (!s->resp_done || !s->resp_keep || !s->req_done || s->w_dead ||
	    s->w_len || s->wf_off != s->wf_len || s->b_eof ||
	    conn_closing(b) || (b->flags & (CONN_F_SEND | CONN_F_EOF)) ||
	    (b->in && buf_len(b->in)) || hc->closing || hc->dead ||
	    p->draining || p->conns.n_clients >= p->max_clients / 2)
		return false;
	if (hc->n_idle == hc->idle_cap) {
		unsigned int cap = p->cfg->http.h2_max_streams;

		if (hc->idle_cap >= cap)
			return false;
		cap = hc->idle_cap ? hc->idle_cap * 2 : 8;
		if (cap > p->cfg->http.h2_max_streams)
			cap = p->cfg->http.h2_max_streams;
		e = realloc(hc->idle, cap * sizeof(*e));
		if (!e)
			return false;
		hc->idle = e;
		hc->idle_cap = cap;
	}
	p->h2[b->id] = NULL;
	s->b = NULL;
	conn_bufs_trim(&p->conns, b);
	if (proxy__post_recv(p, b)) {
		conn_close(&p->conns, b);
		return true;
	}
	hc->idle[hc->n_idle++] = (struct h2_idle_bridge){
		.b = b, .gen = b->gen, .v = s->v, .since_ms = p->now_ms };
	return true;
}

/* A parked bridge for s, the most recently parked first. */
static bool bridge_unpark(struct h2_conn *hc, struct h2_stream *s)
{
	struct proxy *p = hc->p;
	uint64_t max_age = hc->idle_ms / 2;

	while (hc->n_idle) {
		struct h2_idle_bridge *e = &hc->idle[--hc->n_idle];
		struct conn *b = e->b;

		if (b->gen != e->gen || b->state != CS_H2B ||
		    conn_closing(b) || (b->flags & CONN_F_EOF) ||
		    p->h2[b->id])
			continue;	/* closed (and maybe reused) since */
		if (transport_pair_peer_gone(&b->tr))
			/* its other end closed this turn: the EOF on its
			 * way closes it (h2s_complete finds no stream) */
			continue;
		if (p->now_ms - e->since_ms > max_age) {
			conn_close(&p->conns, b);
			continue;
		}
		p->h2[b->id] = s;
		s->b = b;
		s->v = e->v;
		return true;
	}
	return false;
}

/* The connection goes: its parked bridges close. */
static void bridge_close_idle(struct h2_conn *hc)
{
	struct proxy *p = hc->p;

	while (hc->n_idle) {
		struct h2_idle_bridge *e = &hc->idle[--hc->n_idle];

		if (!p->h2_gone && e->b->gen == e->gen &&
		    e->b->state == CS_H2B && !p->h2[e->b->id])
			conn_close(&p->conns, e->b);
	}
	free(hc->idle);
	hc->idle = NULL;
	hc->idle_cap = 0;
}

/* Our end of the pair as a connection of this worker (CS_H2B); the other
 * end an HTTP/1.1 client connection carrying the HTTP/2 client's
 * identity. The pair is joined in the process (io/pair.h): no socket, no
 * descriptor, no system call per byte moved. */
static int open_bridge(struct h2_conn *hc, struct h2_stream *s)
{
	struct proxy *p = hc->p;
	struct conn *h = hc->c, *b, *v;

	if (p->draining)
		return -EBUSY;
	if (bridge_unpark(hc, s)) {
		obs_h2_event(p->worker, OBS_H2_BRIDGE_REUSED, NULL);
		return 0;
	}
	if (proxy_full(p))
		return -EBUSY;
	v = conn_alloc(&p->conns, CONN_CLIENT, -1);
	if (!v)
		return -EBUSY;
	b = conn_alloc(&p->conns, CONN_CLIENT, -1);
	if (!b) {
		conn_close(&p->conns, v);
		return -EBUSY;
	}
	if (transport_pair_init(&v->tr, &b->tr, p->loop, &p->bufs)) {
		conn_close(&p->conns, v);
		conn_close(&p->conns, b);
		return -ENOMEM;
	}
	/* the response waits in one buffer between the request path and
	 * the stream (and one more in b->in): a client that opens no
	 * window for it makes each of its streams hold that much, not the
	 * six of an upload's direction */
	transport_pair_set_queue(&b->tr, 1);
	obs_h2_event(p->worker, OBS_H2_BRIDGE_NEW, NULL);
	memcpy(&v->addr, &h->addr, sizeof(v->addr));
	v->addrlen = h->addrlen;
	memcpy(v->ip, h->ip, sizeof(v->ip));
	v->addr_proxied = h->addr_proxied;
	/* per-listener settings (HSTS, redirect_https) follow the stream,
	 * and the TLS session (mTLS identity, access log) is the front's */
	v->listener = h->listener;
	p->h2_front[v->id] = conn_ud(h, 0);
	/* the TLS flag stays (X-Forwarded-Proto); the PROXY header was
	 * read on the HTTP/2 connection already */
	v->lflags = (h->lflags & ~(PROXY_L_PROXY_PROTOCOL | PROXY_L_H2C)) |
		    PROXY_L_H2S;
	v->state = CS_HEAD;
	v->deadline_ms = p->now_ms + p->cfg->http.header_timeout_ms;
	b->state = CS_H2B;
	memcpy(b->ip, h->ip, sizeof(b->ip));
	p->h2[b->id] = s;
	s->b = b;
	s->v = conn_ud(v, 0);
	if (proxy__post_recv(p, v)) {
		conn_close(&p->conns, v);
		return -EIO;
	}
	if (proxy__post_recv(p, b))
		return -EIO;
	return 0;
}

/* Send what is buffered for the bridge (one send at a time: w becomes
 * wf, the buffer in flight). */
static void bridge_send(struct proxy *p, struct h2_stream *s)
{
	struct conn *b = s->b;
	char *t;
	size_t cap;

	if (!b || conn_closing(b) || (b->flags & CONN_F_SEND) || s->w_dead)
		return;
	if (s->wf_off == s->wf_len) {
		if (!s->w_len)
			return;
		t = s->wf;
		cap = s->wf_cap;
		s->wf = s->w;
		s->wf_cap = s->w_cap;
		s->wf_len = s->w_len;
		s->wf_off = 0;
		s->w = t;
		s->w_cap = cap;
		s->w_len = 0;
	}
	if (proxy__post_send(p, b, s->wf + s->wf_off, s->wf_len - s->wf_off))
		s->w_dead = true;
}

/* Room for n more bytes in w (never the buffer in flight). */
int h2s_w_reserve(struct h2_stream *s, size_t n)
{
	char *w;
	size_t cap;

	if (s->w_len + n <= s->w_cap)
		return 0;
	cap = s->w_cap ? s->w_cap : 1024;
	while (cap < s->w_len + n)
		cap *= 2;
	w = realloc(s->w, cap);
	if (!w)
		return -ENOMEM;
	s->w = w;
	s->w_cap = cap;
	return 0;
}

static void w_put(struct h2_stream *s, const void *d, size_t n)
{
	memcpy(s->w + s->w_len, d, n);
	s->w_len += n;
}

static void w_str(struct h2_stream *s, const char *str)
{
	w_put(s, str, strlen(str));
}

void h2s_headers_done(struct h2_conn *hc, struct h2_stream *s, bool end)
{
	struct proxy *p = hc->p;
	const char *authority;
	size_t need;
	int ret;

	s->end_stream = end;
	s->head_seen = true;
	if (s->status)
		goto answer;
	if (!s->method || !strcmp(s->method, "CONNECT")) {
		/* extended CONNECT (websockets over HTTP/2) is not offered */
		refuse(s, 405, "CONNECT is not supported over HTTP/2");
		goto answer;
	}
	/* RFC 9113 8.3.1: :authority and host must agree; one is needed */
	authority = s->authority ? s->authority : s->host;
	if (s->authority && s->host && strcasecmp(s->authority, s->host)) {
		refuse(s, 400, "host field differs from :authority");
		goto answer;
	}
	if (!authority || !*authority) {
		refuse(s, 400, "no :authority or host");
		goto answer;
	}
	s->head_method = !strcmp(s->method, "HEAD");
	/* a body without content-length goes chunked */
	s->chunked = !end && !s->has_cl;
	need = strlen(s->method) + strlen(s->path) + strlen(authority) +
	       s->fields_len + s->cookie_len + 96;
	ret = h2s_w_reserve(s, need);
	if (ret)
		goto fail;
	w_str(s, s->method);
	w_str(s, " ");
	w_str(s, s->path);
	w_str(s, " HTTP/1.1\r\nhost: ");
	w_str(s, authority);
	w_str(s, "\r\n");
	if (s->fields_len)
		w_put(s, s->fields, s->fields_len);
	if (s->cookie_len) {
		w_str(s, "cookie: ");
		w_put(s, s->cookie, s->cookie_len);
		w_str(s, "\r\n");
	}
	if (s->chunked)
		w_str(s, "transfer-encoding: chunked\r\n");
	w_str(s, "\r\n");
	s->fields_len = 0;	/* the buffer is kept for trailers or reuse */
	if (end)
		request_done(hc, s);
	ret = open_bridge(hc, s);
	if (ret)
		goto fail;
	obs_h2_event(p->worker, OBS_H2_STREAM, NULL);
	bridge_send(p, s);
	return;
fail:
	if (ret == -EBUSY) {
		nghttp2_submit_rst_stream(hc->s, NGHTTP2_FLAG_NONE, s->id,
					  NGHTTP2_REFUSED_STREAM);
		return;
	}
	refuse(s, 503, "cannot take the stream now");
answer:
	h2s_answer(hc, s);
}

/* Give the stream's taken bytes back to the client's window for it,
 * unless its bridge is behind: then the client stops sending on this
 * stream once its window is used up (and only on this one). */
static void give_back(struct h2_conn *hc, struct h2_stream *s)
{
	if (!s->unconsumed || h2s_backlogged(hc, s))
		return;
	nghttp2_session_consume_stream(hc->s, s->id, s->unconsumed);
	s->unconsumed = 0;
}

void h2s_data(struct h2_conn *hc, struct h2_stream *s, const uint8_t *data,
	      size_t len)
{
	char line[24];
	int n;

	s->unconsumed += len;
	if (s->status || s->w_dead || !s->b) {
		/* answered, or the request path stopped: the bytes go
		 * nowhere, the window comes back at once */
		s->w_dead = true;
		give_back(hc, s);
		return;
	}
	if (h2s_w_reserve(s, len + 32)) {
		s->w_dead = true;
		give_back(hc, s);
		return;
	}
	if (s->chunked) {
		n = snprintf(line, sizeof(line), "%zx\r\n", len);
		w_put(s, line, (size_t)n);
	}
	w_put(s, data, len);
	if (s->chunked)
		w_str(s, "\r\n");
	bridge_send(hc->p, s);
	give_back(hc, s);
}

bool h2s_backlogged(const struct h2_conn *hc, const struct h2_stream *s)
{
	return !s->w_dead && s->w_len >= frame_room(hc);
}

void h2s_end(struct h2_conn *hc, struct h2_stream *s)
{
	if (s->status || s->req_done)
		return;
	request_done(hc, s);
	if (s->chunked && !s->w_dead && s->b) {
		/* the last chunk, with the request trailers if any; without
		 * room for it the request is unfinished: the bridge takes no
		 * more (and is never parked) */
		if (!h2s_w_reserve(s, s->fields_len + 5)) {
			w_str(s, "0\r\n");
			if (s->fields_len)
				w_put(s, s->fields, s->fields_len);
			w_str(s, "\r\n");
		} else {
			s->w_dead = true;
		}
		bridge_send(hc->p, s);
	}
}

static void on_bridge_recv(struct proxy *p, struct h2_stream *s,
			   const struct loop_cqe *cqe)
{
	struct conn *b = s->b;
	struct h2_conn *hc;
	const char *data;
	long n = transport_read_done(&b->tr, cqe, &data);

	if (n == -ENOBUFS || n == -EAGAIN) {
		transport_read_release(&b->tr, cqe);
		proxy__post_recv(p, b);
		return;
	}
	if (n > 0 && (conn_in_get(&p->conns, b) ||
		      buf_append(b->in, data, (size_t)n) != (size_t)n))
		n = -ENOMEM;
	transport_read_release(&b->tr, cqe);
	if (n <= 0)
		s->b_eof = true;
	if (!s->hc) {
		conn_close(&p->conns, b);
		return;
	}
	if (!s->resp_head)
		h2s_submit_head(s->hc, s);
	else if (s->deferred && !s->resp_done) {
		s->deferred = false;
		nghttp2_session_resume_data(s->hc->s, s->id);
	}
	if (!s->b_eof && !s->resp_done)
		proxy__post_recv(p, b);
	hc = s->hc;	/* the flush may close the stream (and free s) */
	h2__enter(hc);
	h2__flush(hc);
	h2__leave(hc);
}

static void on_bridge_sent(struct proxy *p, struct h2_stream *s,
			   const struct loop_cqe *cqe)
{
	struct conn *b = s->b;
	long res = transport_write_done(&b->tr, cqe);
	struct h2_conn *hc;

	if (res <= 0) {
		/* the request path stopped reading (it answered already):
		 * the rest of the body goes nowhere */
		s->w_dead = true;
		s->w_len = 0;
		s->wf_off = s->wf_len = 0;
	} else {
		s->wf_off += (size_t)res;
		bridge_send(p, s);
	}
	hc = s->hc;
	if (!hc || !s->unconsumed || h2s_backlogged(hc, s))
		return;
	h2__enter(hc);
	give_back(hc, s);
	h2__flush(hc);		/* the WINDOW_UPDATE, when nghttp2 sends one */
	h2__leave(hc);
}

void h2s_complete(struct proxy *p, struct conn *b, unsigned int op,
		  const struct loop_cqe *cqe)
{
	struct h2_stream *s = stream_of_b(p, b);

	if (!s) {
		if (op == CONN_OP_RECV)
			transport_read_release(&b->tr, cqe);
		conn_close(&p->conns, b);
		return;
	}
	if (op == CONN_OP_RECV)
		on_bridge_recv(p, s, cqe);
	else if (op == CONN_OP_SEND)
		on_bridge_sent(p, s, cqe);
}

/* The stream goes (reset, or its connection closed) before its request
 * was sent whole or before its response was: close the request path's end
 * of the bridge with its exchange now. The request path reads the pair
 * only as its upstream takes the body, and not at all while it waits for
 * the response, so the EOF of our end closing would reach it only at the
 * response's end or its timeout, its upstream connection, slot and
 * buffers held until then: a client opening a hundred streams to a slow
 * upstream and closing the connection (again and again), or resetting
 * uploads to an upstream that does not read, would pile them up. An
 * exchange whose response the stream took whole is left to finish (and
 * be logged) as it is. */
static void abort_request(struct proxy *p, struct h2_stream *s)
{
	struct conn *v = conn_lookup(&p->conns, s->v);

	if (v && !conn_closing(v) && v->state == CS_EXCHANGE && v->x &&
	    (v->x->req.phase != EX_PH_DONE || !s->resp_done))
		proxy__close_client(p, v);
}

void h2s_closed(struct h2_conn *hc, struct h2_stream *s, uint32_t code)
{
	(void)code;
	unlink_stream(hc, s);
	s->hc = NULL;
	if (s->resp_done)
		hc->ctrl = 0;	/* a stream served: control frames are fine */
	if (!s->b || (code == NGHTTP2_NO_ERROR && bridge_park(hc, s))) {
		stream_free(hc->p, s);
		return;
	}
	/* the request path sees EOF: an unfinished exchange is aborted */
	abort_request(hc->p, s);
	conn_close(&hc->p->conns, s->b);
}

void h2s_detach_all(struct h2_conn *hc)
{
	while (hc->streams) {
		struct h2_stream *s = hc->streams;

		/* callbacks still to come in this turn find no stream */
		nghttp2_session_set_stream_user_data(hc->s, s->id, NULL);
		unlink_stream(hc, s);
		s->hc = NULL;
		if (s->b && !hc->p->h2_gone) {
			abort_request(hc->p, s);
			conn_close(&hc->p->conns, s->b);
		} else if (!s->b) {
			stream_free(hc->p, s);
		}
	}
	bridge_close_idle(hc);
}

void h2s_release(struct proxy *p, struct conn *b)
{
	struct h2_stream *s = stream_of_b(p, b);

	if (!s)
		return;
	if (s->hc) {
		/* the bridge went first (closed with the worker): the stream
		 * cannot be answered any more; it is freed when nghttp2
		 * closes it (h2s_closed), which may still call resp_read */
		s->b = NULL;
		s->b_eof = true;
		s->w_dead = true;
		if (!conn_closing(s->hc->c))
			nghttp2_submit_rst_stream(s->hc->s, NGHTTP2_FLAG_NONE,
						  s->id,
						  NGHTTP2_INTERNAL_ERROR);
		return;
	}
	stream_free(p, s);
}
