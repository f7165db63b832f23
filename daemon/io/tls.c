// SPDX-License-Identifier: MIT
/*
 * The TLS transport (transport.h): OpenSSL over the loop's own receives
 * and sends, through a BIO over buffers the transport owns (the HAProxy
 * way; docs/TLS.md says why not memory BIOs).
 *
 * Read side. transport_read() submits one of three operations, all with
 * the caller's user_data, and transport_read_done() interprets it:
 *   - a receive of ciphertext into a loop provided buffer; SSL reads it
 *     straight from there (no copy), what it leaves unread is kept;
 *   - during the handshake, a send of what SSL wrote (the server's
 *     flights, an alert): the read side carries it, as the layer above
 *     writes nothing before it got a first request;
 *   - a no-op, when decrypted data is still waiting (the last read was
 *     limited by the caller's room).
 * read_done returns plaintext, 0 at EOF, or -EAGAIN: "read again" (a
 * handshake step, a partial record, a flight sent).
 *
 * transport_read_multi() arms a multishot receive instead, when nothing
 * is held anywhere (handshake done, nothing to send, no ciphertext kept,
 * nothing in SSL): each arrival is decrypted as far as it goes, all of it,
 * so no plaintext is left for a no-op to deliver, and the plaintext of
 * the whole receive is never more than its ciphertext (the caller's byte
 * limit holds). What SSL writes meanwhile (a KeyUpdate answer) leads the
 * next send.
 *
 * Write side. transport_write() encrypts (at most TLS_WRITE_MAX bytes of
 * plaintext) into the output buffer and sends it with MSG_WAITALL, so a
 * send completes whole or fails; write_done() reports the plaintext bytes
 * it carried. Bytes SSL wrote meanwhile for itself (TLS 1.3 tickets after
 * the handshake) lead the next send.
 */
#include "io/tls_int.h"

#include <errno.h>
#include <pthread.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/loop.h"
#include "obs/obs.h"

#define TLS_WRITE_MAX	(64 * 1024)	/* plaintext per send */
#define TLS_STASH_MAX	(64 * 1024)	/* ciphertext kept unread */
#define TLS_PLAIN_MAX	(16 * 1024)	/* plaintext per read_done */
/* A multishot completion carries at most TLS_MULTI_READ_MAX bytes, and
 * SSL may hold the start of one record (at most 16 KiB of plaintext)
 * from the completions before: all of it fits in tls_plain_multi. */
#define TLS_MULTI_READ_MAX	(32 * 1024)
#define TLS_RECORD_PLAIN	(16 * 1024)
/* Ciphertext SSL may write on its own after the handshake, to answer the
 * peer (a KeyUpdate that asks for ours, a refused renegotiation's warning
 * alert), that has not been sent yet: about 75 KeyUpdate answers. Such
 * answers wait for our next send, so a peer asking again and again while
 * making us send nothing (KeyUpdate requests on an idle connection) would
 * grow out by about a byte per byte it sends, for as long as the
 * connection lives. Past this the connection fails instead. */
#define TLS_ANSWER_MAX	2048

enum tls_rop {
	TLS_ROP_NONE = 0,
	TLS_ROP_RECV,
	TLS_ROP_SEND,
	TLS_ROP_NOP,
	TLS_ROP_MULTI,		/* an armed multishot receive */
};

struct tls_conn {
	SSL *ssl;
	BIO *bio;
	struct tls_listener *tl;	/* server side */
	struct tls_upstream *tu;	/* client side (an upstream) */
	char *why;			/* client: why the handshake failed */
	/* the receive being read by SSL (the provided buffer) */
	const char *rptr;
	size_t rlen;
	/* ciphertext SSL left unread */
	char *stash;
	size_t stash_off, stash_len, stash_cap;
	/* ciphertext to send: [out_off, out_len) */
	char *out;
	size_t out_off, out_len, out_cap;
	size_t answers;			/* bytes of out SSL wrote on its own
					 * since out was last sent whole */
	size_t w_cipher;		/* bytes of out the send in flight has */
	size_t w_plain;			/* caller's bytes it carries */
	size_t maxlen;			/* of the read in flight */
	uint8_t rop;			/* enum tls_rop */
	bool wbusy;			/* a write in flight */
	bool delivered;			/* plaintext handed up at least once */
	bool again;			/* decrypted data may be waiting */
	bool failed;			/* fatal: send what is in out, then error */
	bool counted;			/* handshake end reported */
	bool writing;			/* in SSL_write or SSL_shutdown */
	bool flooded;			/* answers passed TLS_ANSWER_MAX */
	/* buffers between records (transport_tls_tick): a response ended
	 * on it since the worker's last tick (transport_tls_served);
	 * keeping its buffers (OpenSSL's and ours) between records until a
	 * tick finds none did */
	bool served;
	bool keeping;
	/* a verified client certificate's identities (auth: [mtls]) */
	char **ids;
	size_t n_ids;
};

static __thread unsigned int tls_worker;	/* for metrics */
static __thread char tls_plain[TLS_PLAIN_MAX];
static __thread char tls_plain_multi[TLS_MULTI_READ_MAX + TLS_RECORD_PLAIN];

/* ---- the BIO over the transport's buffers --------------------------------- */

static BIO_METHOD *bio_meth;

static int bio_read(BIO *b, char *dst, int len)
{
	struct tls_conn *tc = BIO_get_data(b);
	size_t n = 0, want = (size_t)len;

	BIO_clear_retry_flags(b);
	if (tc->stash_len > tc->stash_off) {
		n = tc->stash_len - tc->stash_off;
		if (n > want)
			n = want;
		memcpy(dst, tc->stash + tc->stash_off, n);
		tc->stash_off += n;
		if (tc->stash_off == tc->stash_len)
			tc->stash_off = tc->stash_len = 0;
	}
	if (n < want && tc->rlen) {
		size_t m = tc->rlen < want - n ? tc->rlen : want - n;

		memcpy(dst + n, tc->rptr, m);
		tc->rptr += m;
		tc->rlen -= m;
		n += m;
	}
	if (!n) {
		BIO_set_retry_read(b);
		return -1;
	}
	return (int)n;
}

static int grow(struct tls_conn *tc, size_t need)
{
	size_t cap = tc->out_cap ? tc->out_cap : 4096;
	char *nb;

	while (cap < need)
		cap *= 2;
	nb = realloc(tc->out, cap);
	if (!nb)
		return -ENOMEM;
	tc->out = nb;
	tc->out_cap = cap;
	return 0;
}

/* Answer bytes SSL may still write before the bound. */
static size_t answer_left(const struct tls_conn *tc)
{
	return tc->answers < TLS_ANSWER_MAX ? TLS_ANSWER_MAX - tc->answers
					    : 0;
}

/* Before a send of out: room after it for the answers SSL may write
 * while the send is in flight (reads go on meanwhile, and out cannot
 * move under the kernel), which the bound keeps within TLS_ANSWER_MAX
 * since out was last sent whole. (out grows with that room already, so
 * this seldom moves it.) */
static int answer_room(struct tls_conn *tc)
{
	size_t need = tc->out_len + answer_left(tc);

	return need <= tc->out_cap ? 0 : grow(tc, need);
}

static int bio_write(BIO *b, const char *src, int len)
{
	struct tls_conn *tc = BIO_get_data(b);
	size_t need = tc->out_len + (size_t)len;

	BIO_clear_retry_flags(b);
	/* after the handshake (SSL is "in init" again while it answers a
	 * post-handshake message, so counted says it) */
	if (!tc->writing && tc->counted && !tc->failed) {
		tc->answers += (size_t)len;
		if (tc->answers > TLS_ANSWER_MAX) {
			tc->flooded = true;
			return -1;
		}
	}
	if (need > tc->out_cap) {
		/* a send in flight reads out: never move it then (cannot
		 * happen: the send left room for the answers, see
		 * answer_room()) */
		if (tc->wbusy || tc->rop == TLS_ROP_SEND ||
		    grow(tc, need + answer_left(tc)))
			return -1;
	}
	memcpy(tc->out + tc->out_len, src, (size_t)len);
	tc->out_len += (size_t)len;
	return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void bio_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "sluice");

	if (!m)
		return;
	BIO_meth_set_read(m, bio_read);
	BIO_meth_set_write(m, bio_write);
	BIO_meth_set_ctrl(m, bio_ctrl);
	BIO_meth_set_create(m, bio_create);
	bio_meth = m;
}

static BIO_METHOD *bio_method(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, bio_init);
	return bio_meth;
}

/* ---- helpers --------------------------------------------------------------- */

static struct tls_conn *tc_of(const struct transport *t)
{
	return t->priv;
}

/* What SSL left of the receive goes to the stash (the provided buffer is
 * given back right after). */
static int stash_rest(struct tls_conn *tc)
{
	size_t keep;

	if (!tc->rlen)
		return 0;
	if (tc->stash_off) {
		memmove(tc->stash, tc->stash + tc->stash_off,
			tc->stash_len - tc->stash_off);
		tc->stash_len -= tc->stash_off;
		tc->stash_off = 0;
	}
	keep = tc->stash_len + tc->rlen;
	if (keep > TLS_STASH_MAX)
		return -ENOBUFS;
	if (keep > tc->stash_cap) {
		char *nb = realloc(tc->stash, keep);

		if (!nb)
			return -ENOMEM;
		tc->stash = nb;
		tc->stash_cap = keep;
	}
	memcpy(tc->stash + tc->stash_len, tc->rptr, tc->rlen);
	tc->stash_len += tc->rlen;
	tc->rlen = 0;
	tc->rptr = NULL;
	return 0;
}

/* Idle: give the buffers back (SSL_MODE_RELEASE_BUFFERS does the same for
 * SSL's own). */
static void trim(struct tls_conn *tc)
{
	if (tc->keeping)
		return;		/* busy: transport_tls_tick() decides */
	if (tc->stash_len == 0 && tc->stash) {
		free(tc->stash);
		tc->stash = NULL;
		tc->stash_cap = tc->stash_off = 0;
	}
	if (tc->out_len == tc->out_off && !tc->wbusy &&
	    tc->rop != TLS_ROP_SEND && tc->out) {
		free(tc->out);
		tc->out = NULL;
		tc->out_cap = tc->out_len = tc->out_off = 0;
	}
}

/* Does the first receive look like plain HTTP (not a TLS record)? */
static bool looks_like_http(const char *p, size_t n)
{
	return n && p[0] >= 'A' && p[0] <= 'Z';
}

#define PLAIN_TO_TLS_400 \
	"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n" \
	"Content-Length: 48\r\nConnection: close\r\n\r\n" \
	"The plain HTTP request was sent to HTTPS port.\r\n"

/* ---- operations ------------------------------------------------------------ */

static int tls_read(struct transport *t, size_t maxlen, unsigned int flags,
		    uint64_t ud)
{
	struct tls_conn *tc = tc_of(t);
	int ret;

	tc->maxlen = maxlen;
	if (tc->out_len > tc->out_off && !tc->wbusy &&
	    (!tc->delivered || tc->failed)) {
		/* (no SSL_read while this is the read: no answers either) */
		ret = loop_send_ex(t->loop, t->fd, tc->out + tc->out_off,
				   tc->out_len - tc->out_off, MSG_WAITALL, ud);
		if (!ret)
			tc->rop = TLS_ROP_SEND;
		return ret;
	}
	if (tc->failed)
		return -EPROTO;
	if (tc->again || tc->stash_len > tc->stash_off) {
		ret = loop_nop(t->loop, ud);
		if (!ret)
			tc->rop = TLS_ROP_NOP;
		return ret;
	}
	ret = loop_recv_ex(t->loop, t->fd, loop_buf_size(t->loop),
			   (flags & TRANSPORT_READ_IDLE) ? LOOP_RECV_POLL_FIRST
							 : 0, ud);
	if (!ret)
		tc->rop = TLS_ROP_RECV;
	return ret;
}

static long tls_fail(struct tls_conn *tc);

static int tls_read_multi(struct transport *t, size_t maxlen, size_t limit,
			  uint64_t ud)
{
	struct tls_conn *tc = tc_of(t);
	int ret;

	if (tc->failed || tc->again || tc->rop != TLS_ROP_NONE ||
	    tc->stash_len > tc->stash_off || tc->out_len > tc->out_off ||
	    !SSL_is_init_finished(tc->ssl) || SSL_has_pending(tc->ssl))
		return -EOPNOTSUPP;
	if (maxlen > TLS_MULTI_READ_MAX)
		maxlen = TLS_MULTI_READ_MAX;
	ret = loop_recv_multi(t->loop, t->fd, maxlen, limit, ud);
	if (!ret)
		tc->rop = TLS_ROP_MULTI;
	return ret;
}

/* SSL_read() returned n <= 0: -EAGAIN (a partial record), 0 (EOF) or
 * -EPROTO. */
static long read_end(struct tls_conn *tc, int n)
{
	int err = SSL_get_error(tc->ssl, n);

	if (tc->flooded) {
		ERR_clear_error();
		if (!tc->failed) {
			tc->failed = true;
			obs_tls_answer_flood(tls_worker);
		}
		return -EPROTO;
	}
	if (err == SSL_ERROR_WANT_READ) {
		trim(tc);
		return -EAGAIN;
	}
	if (err == SSL_ERROR_ZERO_RETURN)
		return 0;		/* close_notify: EOF */
	if (err == SSL_ERROR_SYSCALL && !ERR_peek_error())
		return 0;
	if (tc->tu && !tc->why) {
		/* an alert after the handshake (TLS 1.3: a server refusing
		 * the client certificate says so only now) */
		char why[200];

		tls_upstream_why(tc->ssl, ERR_peek_last_error(), why,
				 sizeof(why));
		tc->why = strdup(why);
	}
	ERR_clear_error();
	return -EPROTO;
}

/* A completion of the multishot receive: all the plaintext it completes. */
static long tls_read_multi_done(struct transport *t, struct tls_conn *tc,
				const struct loop_cqe *cqe, const char **data)
{
	size_t got = 0;
	long ret;
	int n;

	if (!cqe->more)
		tc->rop = TLS_ROP_NONE;
	if (tc->failed)
		return -EPROTO;		/* one queued after the failure */
	if (cqe->res <= 0)
		return cqe->res;	/* EOF, error, or no buffer (-ENOBUFS) */
	if (!cqe->has_buf)
		return -EIO;
	tc->rptr = cqe->buf;
	tc->rlen = (size_t)cqe->res;
	for (;;) {
		n = SSL_read(tc->ssl, tls_plain_multi + got,
			     (int)(sizeof(tls_plain_multi) - got));
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(tls_plain_multi))
			break;
		if (!tc->rlen && tc->stash_len == tc->stash_off &&
		    !SSL_has_pending(tc->ssl)) {
			/* every byte received is processed: another SSL_read
			 * could only say "want read" (and cost as much as a
			 * small record's) */
			trim(tc);
			break;
		}
	}
	if (stash_rest(tc))
		return tls_fail(tc);
	if (n > 0) {
		/* all input processed, or the buffer filled: by its size
		 * (the bound above) no plaintext is left, which nothing
		 * would deliver while the receive is armed */
		if (SSL_pending(tc->ssl) > 0 || tc->stash_len > tc->stash_off)
			return -EPROTO;
	} else {
		ret = read_end(tc, n);
		if (ret == -EPROTO || !got)
			return ret;
		/* EOF or a partial record after data: the data first. A
		 * close_notify read in the same batch as a request is kept
		 * by OpenSSL (SSL_read says EOF from now on), but the armed
		 * receive would complete again only when the peer sends
		 * more or its FIN, and a client that sent close_notify
		 * without a FIN would keep its connection open until the
		 * keep-alive timeout after its response. Shutting the
		 * socket's receive side ends the armed receive now, with
		 * an EOF, which is then the peer's (its response still goes
		 * out: only receiving ends). */
		if (ret == 0 && cqe->more)
			(void)shutdown(t->fd, SHUT_RD);
	}
	tc->delivered = true;
	*data = tls_plain_multi;
	return (long)got;
}

/* The handshake ended (well or not): counted once. */
bool transport_tls_alpn_is(const struct transport *t, const char *proto)
{
	const unsigned char *sel = NULL;
	unsigned int len = 0;

	if (!transport_is_tls(t) || !SSL_is_init_finished(tc_of(t)->ssl))
		return false;
	SSL_get0_alpn_selected(tc_of(t)->ssl, &sel, &len);
	return sel && len == strlen(proto) && !memcmp(sel, proto, len);
}

static void tls__handshake_done(struct tls_conn *tc, SSL *ssl, bool ok);

static long tls_fail(struct tls_conn *tc)
{
	if (tc->tu && !tc->why && !tc->counted) {
		char why[200];

		tls_upstream_why(tc->ssl, ERR_peek_last_error(), why,
				 sizeof(why));
		tc->why = strdup(why);
	}
	if (!tc->counted) {
		tc->counted = true;
		tls__handshake_done(tc, tc->ssl, false);
	}
	ERR_clear_error();
	tc->failed = true;
	/* the alert SSL wrote goes out first (the next read sends it) */
	return tc->out_len > tc->out_off && !tc->wbusy ? -EAGAIN
							: -ECONNRESET;
}

static long tls_read_done(struct transport *t, const struct loop_cqe *cqe,
			  const char **data)
{
	struct tls_conn *tc = tc_of(t);
	uint8_t rop = tc->rop;
	size_t want;
	int n, err;

	*data = NULL;
	if (rop == TLS_ROP_MULTI)
		return tls_read_multi_done(t, tc, cqe, data);
	tc->rop = TLS_ROP_NONE;
	if (rop == TLS_ROP_SEND) {
		if (cqe->res < 0)
			return cqe->res;
		tc->out_off += (size_t)cqe->res;
		if (tc->out_off >= tc->out_len)
			tc->out_off = tc->out_len = 0;
		tc->answers = 0;	/* nothing reads while this sends */
		if (tc->failed)
			return -ECONNRESET;
		trim(tc);
		return -EAGAIN;
	}
	if (rop == TLS_ROP_RECV) {
		if (cqe->res <= 0)
			return cqe->res;	/* EOF or error */
		if (!cqe->has_buf)
			return -EIO;
		if (!tc->tu && !SSL_is_init_finished(tc->ssl) &&
		    !tc->counted && SSL_in_before(tc->ssl) &&
		    looks_like_http(cqe->buf, (size_t)cqe->res)) {
			/* plain HTTP to a TLS port: a plain 400, then close */
			tc->failed = true;
			tc->counted = true;
			tls__handshake_done(tc, NULL, false);
			tc->out_len = tc->out_off = 0;
			bio_write(tc->bio, PLAIN_TO_TLS_400,
				  sizeof(PLAIN_TO_TLS_400) - 1);
			return -EAGAIN;
		}
		tc->rptr = cqe->buf;
		tc->rlen = (size_t)cqe->res;
	}
	if (tc->failed)
		return -ECONNRESET;
	if (!SSL_is_init_finished(tc->ssl)) {
		n = SSL_do_handshake(tc->ssl);
		if (n <= 0) {
			err = SSL_get_error(tc->ssl, n);
			if (err == SSL_ERROR_WANT_READ) {
				if (stash_rest(tc))
					return tls_fail(tc);
				return -EAGAIN;
			}
			return tls_fail(tc);
		}
		tc->counted = true;
		tls__handshake_done(tc, tc->ssl, true);
	}
	want = tc->maxlen < sizeof(tls_plain) ? tc->maxlen : sizeof(tls_plain);
	if (!want)
		want = 1;
	n = SSL_read(tc->ssl, tls_plain, (int)want);
	if (stash_rest(tc))
		return tls_fail(tc);
	if (n > 0) {
		/* more to read without a receive: the rest of a record that
		 * did not fit, or records OpenSSL holds; the ciphertext not
		 * handed to it yet is the stash, which tls_read() checks.
		 * Else the next read goes to the socket at once (no no-op
		 * round trip per request to find nothing). */
		tc->again = (size_t)n == want || SSL_has_pending(tc->ssl);
		tc->delivered = true;
		*data = tls_plain;
		return n;
	}
	tc->again = false;
	return read_end(tc, n);
}

static void tls_read_release(struct transport *t, const struct loop_cqe *cqe)
{
	struct tls_conn *tc = tc_of(t);

	if (tc && tc->rlen)	/* an error path that left it unread */
		(void)stash_rest(tc);
	if (cqe->has_buf)
		loop_buf_recycle(t->loop, cqe->bid);
}

/* Send out[out_off, out_len) for a write of `plain` caller bytes. */
static int send_out(struct transport *t, struct tls_conn *tc, size_t plain,
		    unsigned int flags, uint64_t ud)
{
	int ret;

	/* (SSL took the plaintext already: the caller closes the
	 * connection on this error, as on any failed write) */
	if (answer_room(tc))
		return -ENOMEM;
	tc->w_cipher = tc->out_len - tc->out_off;
	tc->w_plain = plain;
	ret = loop_send_ex(t->loop, t->fd, tc->out + tc->out_off, tc->w_cipher,
			   MSG_WAITALL | ((flags & TRANSPORT_WRITE_LAST) ?
					  MSG_MORE : 0), ud);
	if (!ret)
		tc->wbusy = true;
	return ret;
}

static int encrypt(struct tls_conn *tc, const void *buf, size_t len,
		   size_t *done)
{
	size_t w = 0;

	if (!len)
		return 0;
	tc->writing = true;
	if (SSL_write_ex(tc->ssl, buf, len, &w) != 1) {
		tc->writing = false;
		ERR_clear_error();
		return -EPROTO;
	}
	tc->writing = false;
	*done += w;
	return 0;
}

static int tls_write(struct transport *t, const void *buf, size_t len,
		     unsigned int flags, uint64_t ud)
{
	struct tls_conn *tc = tc_of(t);
	size_t done = 0;
	int ret;

	if (tc->wbusy || tc->rop == TLS_ROP_SEND || tc->failed ||
	    !SSL_is_init_finished(tc->ssl))
		return -EBUSY;
	if (len > TLS_WRITE_MAX)
		len = TLS_WRITE_MAX;
	ret = encrypt(tc, buf, len, &done);
	if (ret)
		return ret;
	return send_out(t, tc, done, flags, ud);
}

static int tls_writev(struct transport *t, struct msghdr *msg,
		      unsigned int flags, uint64_t ud)
{
	struct tls_conn *tc = tc_of(t);
	size_t total = 0, done = 0;
	int ret = 0;

	if (tc->wbusy || tc->rop == TLS_ROP_SEND || tc->failed ||
	    !SSL_is_init_finished(tc->ssl))
		return -EBUSY;
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	if (total <= sizeof(tls_plain)) {
		/* a head and a small body: one record */
		for (size_t i = 0; i < msg->msg_iovlen; i++) {
			memcpy(tls_plain + done, msg->msg_iov[i].iov_base,
			       msg->msg_iov[i].iov_len);
			done += msg->msg_iov[i].iov_len;
		}
		done = 0;
		ret = encrypt(tc, tls_plain, total, &done);
	} else {
		for (size_t i = 0; i < msg->msg_iovlen && !ret; i++) {
			size_t n = msg->msg_iov[i].iov_len;

			if (done + n > TLS_WRITE_MAX)
				n = TLS_WRITE_MAX > done ? TLS_WRITE_MAX - done
							 : 0;
			if (!n)
				break;
			ret = encrypt(tc, msg->msg_iov[i].iov_base, n, &done);
		}
	}
	if (ret)
		return ret;
	return send_out(t, tc, done, flags, ud);
}

static long tls_write_done(struct transport *t, const struct loop_cqe *cqe)
{
	struct tls_conn *tc = tc_of(t);
	size_t rest;

	tc->wbusy = false;
	if (cqe->res < 0)
		return cqe->res;
	if ((size_t)cqe->res < tc->w_cipher)
		return -EIO;	/* MSG_WAITALL: whole or an error */
	tc->out_off += tc->w_cipher;
	rest = tc->out_len - tc->out_off;
	/* the send had all of out: what came after is SSL's answers */
	tc->answers = rest;
	if (rest && tc->out_off) {
		/* SSL wrote more meanwhile: it leads the next send */
		memmove(tc->out, tc->out + tc->out_off, rest);
	}
	tc->out_len = rest;
	tc->out_off = 0;
	trim(tc);
	return (long)tc->w_plain;
}

static int tls_shutdown(struct transport *t)
{
	struct tls_conn *tc = tc_of(t);

	if (!tc->wbusy && tc->rop != TLS_ROP_SEND && !tc->failed &&
	    SSL_is_init_finished(tc->ssl)) {
		/* close_notify, best effort, without waiting */
		tc->writing = true;
		if (SSL_shutdown(tc->ssl) < 0)
			ERR_clear_error();
		tc->writing = false;
		while (tc->out_len > tc->out_off) {
			ssize_t r = send(t->fd, tc->out + tc->out_off,
					 tc->out_len - tc->out_off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (r <= 0)
				break;
			tc->out_off += (size_t)r;
		}
		tc->out_off = tc->out_len = 0;
	}
	if (shutdown(t->fd, SHUT_WR))
		return -errno;
	return 0;
}

static void tls_close(struct transport *t)
{
	struct tls_conn *tc = tc_of(t);

	if (tc) {
		if (!tc->counted && tc->ssl)
			tls__handshake_done(tc, NULL, false);
		/* a client session stays resumable: OpenSSL marks the session
		 * of an SSL freed without a shutdown not resumable, and it is
		 * the one the target's cache holds */
		if (tc->tu && tc->ssl && !tc->failed)
			SSL_set_shutdown(tc->ssl, SSL_SENT_SHUTDOWN |
						  SSL_RECEIVED_SHUTDOWN);
		SSL_free(tc->ssl);	/* frees the BIO too */
		if (tc->tl)
			tls_listener_put(tc->tl);
		if (tc->tu)
			tls_upstream_put(tc->tu);
		free(tc->why);
		free(tc->stash);
		free(tc->out);
		free(tc->ids);
		free(tc);
		t->priv = NULL;
	}
	if (t->fd >= 0) {
		if (t->loop)
			loop_fd_detach(t->loop, t->fd);
		close(t->fd);
	}
	t->fd = -1;
}

static const struct transport_ops tls_ops = {
	.name = "tls",
	.read = tls_read,
	.read_multi = tls_read_multi,
	.read_done = tls_read_done,
	.read_release = tls_read_release,
	.write = tls_write,
	.writev = tls_writev,
	.write_done = tls_write_done,
	.shutdown = tls_shutdown,
	.cancel = transport_loop_cancel,
	.close = tls_close,
	.spliceable = false,
};

int transport_tls_init(struct transport *t, struct tls_listener *tl)
{
	struct tls_conn *tc;
	BIO_METHOD *m = bio_method();

	if (!m || !tl || !tl->n_groups)
		return -EINVAL;
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return -ENOMEM;
	tc->ssl = SSL_new(tl->groups[0].ctx);
	tc->bio = tc->ssl ? BIO_new(m) : NULL;
	if (!tc->bio) {
		SSL_free(tc->ssl);
		free(tc);
		ERR_clear_error();
		return -ENOMEM;
	}
	BIO_set_data(tc->bio, tc);
	SSL_set_bio(tc->ssl, tc->bio, tc->bio);
	SSL_set_accept_state(tc->ssl);
	tls_listener_get(tl);
	tc->tl = tl;
	t->ops = &tls_ops;
	t->priv = tc;
	return 0;
}

int transport_tls_client_init(struct transport *t, struct tls_upstream *tu,
			      unsigned int target)
{
	struct tls_conn *tc;
	BIO_METHOD *m = bio_method();
	int n;

	if (!m || !tu)
		return -EINVAL;
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return -ENOMEM;
	tc->ssl = tls_upstream_ssl(tu, target);
	tc->bio = tc->ssl ? BIO_new(m) : NULL;
	if (!tc->bio) {
		SSL_free(tc->ssl);
		free(tc);
		ERR_clear_error();
		return -ENOMEM;
	}
	BIO_set_data(tc->bio, tc);
	SSL_set_bio(tc->ssl, tc->bio, tc->bio);
	tls_upstream_get(tu);
	tc->tu = tu;
	t->ops = &tls_ops;
	t->priv = tc;
	/* the ClientHello, into out: the first read sends it */
	n = SSL_do_handshake(tc->ssl);
	if (n <= 0 && SSL_get_error(tc->ssl, n) != SSL_ERROR_WANT_READ) {
		(void)tls_fail(tc);
		return 0;	/* the first read reports it */
	}
	return 0;
}

const void *transport_tls_upstream(const struct transport *t)
{
	t = transport_base(t);	/* an upstream's pool key, under HTTP/2 */
	return transport_is_tls(t) ? tc_of(t)->tu : NULL;
}

bool transport_tls_handshake_done(const struct transport *t)
{
	return !transport_is_tls(t) || SSL_is_init_finished(tc_of(t)->ssl);
}

const char *transport_tls_error(const struct transport *t)
{
	t = transport_base(t);
	if (!transport_is_tls(t))
		return NULL;
	if (tc_of(t)->why)
		return tc_of(t)->why;
	return tc_of(t)->failed ? "handshake failed" : NULL;
}

bool transport_is_tls(const struct transport *t)
{
	return t->ops == &tls_ops;
}

/*
 * Buffers between records. A TLS connection starts with OpenSSL's
 * SSL_MODE_RELEASE_BUFFERS (the listener's context): its read and write
 * buffers (about 17 KiB each) are freed whenever they are empty, and ours
 * (ciphertext out, stash) whenever a read finds nothing more, so an idle
 * or slow connection holds none. On a busy one that is an allocation and
 * a free of each per request (about 3% of the daemon's instructions with
 * one HTTP/2 stream per connection). A connection on which a response
 * ended since the last tick (HTTP/1.1, or any of its HTTP/2 streams)
 * keeps them until a tick finds none did: it gives them back within two
 * ticks of going quiet. What we send besides responses does not count:
 * a client trickling a request or an upload in, or pinging, keeps none.
 */
void transport_tls_served(const struct transport *t)
{
	if (transport_is_tls(t) && t->priv)
		((struct tls_conn *)t->priv)->served = true;
}

bool transport_tls_tick(struct transport *t, bool allow)
{
	struct tls_conn *tc;

	if (!transport_is_tls(t) || !(tc = tc_of(t)) || !tc->ssl)
		return false;
	if (tc->served && allow && !tc->failed) {
		tc->served = false;
		if (!tc->keeping) {
			SSL_clear_mode(tc->ssl, SSL_MODE_RELEASE_BUFFERS);
			tc->keeping = true;
		}
		return true;
	}
	tc->served = false;
	if (tc->keeping) {
		tc->keeping = false;
		SSL_set_mode(tc->ssl, SSL_MODE_RELEASE_BUFFERS);
		/* only what is empty: a record half received, or plaintext
		 * not read yet, stays (OpenSSL checks; asked only then all
		 * the same) */
		if (!SSL_has_pending(tc->ssl))
			(void)SSL_free_buffers(tc->ssl);
		trim(tc);
	}
	return false;
}

const char *transport_tls_version(const struct transport *t)
{
	if (!transport_is_tls(t) || !SSL_is_init_finished(tc_of(t)->ssl))
		return NULL;
	return SSL_get_version(tc_of(t)->ssl);
}

const char *transport_tls_cipher(const struct transport *t)
{
	if (!transport_is_tls(t) || !SSL_is_init_finished(tc_of(t)->ssl))
		return NULL;
	return SSL_get_cipher_name(tc_of(t)->ssl);
}

const char *transport_tls_sni(const struct transport *t)
{
	if (!transport_is_tls(t))
		return NULL;
	return SSL_get_servername(tc_of(t)->ssl, TLSEXT_NAMETYPE_host_name);
}

#define TLS_MAX_IDS 10			/* fingerprint, CN, 8 DNS SANs */
#define TLS_ID_MAX 260

/* A printable name (no NUL, control or space) from an ASN.1 string. */
static bool id_add(char **ids, size_t *n, char *space, const char *prefix,
		   const ASN1_STRING *s)
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);
	char *o = space + *n * TLS_ID_MAX;
	size_t pl = strlen(prefix);

	if (*n >= TLS_MAX_IDS || len <= 0 || (size_t)len + pl >= TLS_ID_MAX)
		return false;
	for (int i = 0; i < len; i++)
		if (d[i] <= 0x20 || d[i] >= 0x7f)
			return false;
	memcpy(o, prefix, pl);
	memcpy(o + pl, d, (size_t)len);
	o[pl + (size_t)len] = '\0';
	ids[(*n)++] = o;
	return true;
}

/* Once per connection: the identities of its verified client cert. */
static void client_ids(struct tls_conn *tc, SSL *ssl)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);
	GENERAL_NAMES *gens;
	X509_NAME *subj;
	char **ids, *space, *o;
	size_t n = 0;
	int i;

	if (!x || SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	ids = malloc(TLS_MAX_IDS * (sizeof(char *) + TLS_ID_MAX));
	if (!ids)
		return;
	space = (char *)(ids + TLS_MAX_IDS);
	if (X509_digest(x, tls_sha256, md, &mdlen) && mdlen == 32) {
		o = space;
		memcpy(o, "sha256:", 7);
		for (unsigned int k = 0; k < 32; k++)
			snprintf(o + 7 + 2 * k, 3, "%02x", md[k]);
		ids[n++] = o;
	}
	subj = X509_get_subject_name(x);
	i = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
	if (i >= 0)
		id_add(ids, &n, space, "cn:",
		       X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int k = 0; gens && k < sk_GENERAL_NAME_num(gens); k++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);

		if (g->type == GEN_DNS)
			id_add(ids, &n, space, "san:", g->d.dNSName);
	}
	GENERAL_NAMES_free(gens);
	tc->ids = ids;
	tc->n_ids = n;
}

size_t transport_tls_client_ids(const struct transport *t,
				const char *const **ids)
{
	const struct tls_conn *tc;

	if (!transport_is_tls(t))
		return 0;
	tc = tc_of(t);
	*ids = (const char *const *)tc->ids;
	return tc->n_ids;
}

void tls_thread_worker(unsigned int worker)
{
	tls_worker = worker;
}

/* Metrics of a handshake that ended; ssl NULL: it never really began
 * (plain HTTP, a client gone before its hello). */
static void tls__handshake_done(struct tls_conn *tc, SSL *ssl, bool ok)
{
	const char *verify = "none";

	if (tc->tu) {
		const char *res = "ok";

		if (!ok)
			res = ssl && SSL_get_verify_result(ssl) != X509_V_OK ?
				      "verify_failed" : "failed";
		obs_upstream_tls_handshake(tls_worker, tc->tu->service, res,
					   ok && SSL_session_reused(ssl));
		return;
	}
	if (!ok) {
		obs_tls_handshake(tls_worker, NULL, NULL, false);
		return;
	}
	obs_tls_handshake(tls_worker, SSL_get_version(ssl),
			  SSL_get_cipher_name(ssl), SSL_session_reused(ssl));
	if (tc->tl->client_auth == CFG_CLIENT_AUTH_NONE)
		return;
	if (SSL_get0_peer_certificate(ssl))
		verify = SSL_get_verify_result(ssl) == X509_V_OK ? "ok"
								  : "failed";
	obs_tls_client_cert(tls_worker, verify);
	client_ids(tc, ssl);
}
