/* SPDX-License-Identifier: MIT */
/*
 * TLS termination: the second transport (transport.h) and the SSL_CTXs it
 * runs on. The only module that includes <openssl/ssl.h> (docs/TLS.md).
 *
 *   tls_ctx.c   the contexts of a config snapshot: one SSL_CTX per group
 *               of certificates with the same names (an RSA and an ECDSA
 *               certificate for one name share one), SNI, ALPN, client
 *               certificates, session ticket keys shared by every worker
 *   tls.c       the transport: ciphertext comes in through the loop's
 *               receives and leaves through its sends; OpenSSL reads and
 *               writes through a BIO over buffers the transport owns
 *
 * Built once per snapshot, at load time (tls_build()); a connection takes
 * a reference to its listener's contexts, so a reload never pulls them
 * from under a connection that is still open.
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "io/transport.h"

struct loop;
struct tls_listener;

/* The worker this thread is (metrics of its handshakes). */
void tls_thread_worker(unsigned int worker);

/* One-time process setup (ticket key master secret). 0 or -errno. */
int tls_global_init(void);

/*
 * Build the TLS contexts of every listener of c that has a tls: section
 * and attach them (c->tls, c->tls_release). Errors, one per line
 * "FILE: what is wrong", are appended to *acc (a certificate that cannot
 * be read, is expired, has no DNS/IP name, a key that does not match).
 * 0 or -ENOMEM.
 */
int tls_build(struct config *c, char **acc, size_t *acc_len);

/* policy_load_file() and tls_build(): a snapshot ready for the workers.
 * Same conventions as policy_load_file(). */
int tls_load_file(const char *path, struct config **out, char **errors);

/* The TLS contexts of listener i of snapshot c, NULL for a plain one. */
struct tls_listener *tls_listener_of(const struct config *c, size_t i);
/* Its tls.handshake_timeout_ms. */
uint32_t tls_handshake_timeout_ms(const struct tls_listener *tl);

/*
 * Turn t (a plain transport just initialised on an accepted socket) into
 * a TLS server transport on tl. 0, or -errno (t is left plain).
 */
int transport_tls_init(struct transport *t, struct tls_listener *tl);

/* Upstream TLS (services[].tls, docs/TLS.md "Upstream TLS"). */
struct tls_upstream;
/* The upstream TLS of service i of snapshot c, NULL: plain. */
struct tls_upstream *tls_upstream_of(const struct config *c, size_t i);
/*
 * Turn t (a plain transport on a connected socket to target `target` of
 * the service) into a TLS client transport on tu. The ClientHello is
 * ready: the next transport_read() sends it, and reads go on returning
 * -EAGAIN until transport_tls_handshake_done() (or an error). 0 or
 * -errno (t is left plain).
 */
int transport_tls_client_init(struct transport *t, struct tls_upstream *tu,
			      unsigned int target);
/* The upstream TLS a client transport speaks (its pool key), NULL for a
 * plain or server one. */
const void *transport_tls_upstream(const struct transport *t);
/* The handshake of a TLS transport completed (true for a plain one). */
bool transport_tls_handshake_done(const struct transport *t);
/* Why a client handshake failed ("certificate verify failed: ..."), or
 * NULL when it did not fail (or t is plain). */
const char *transport_tls_error(const struct transport *t);
/*
 * Health check over TLS, blocking (the health thread): handshake on the
 * connected socket fd with service s's upstream TLS (verified as the
 * workers verify), send req, read at most cap - 1 bytes of response into
 * resp (NUL-terminated), all within timeout_ms. Bytes read, or -1 with
 * the reason in why.
 */
long tls_upstream_probe(const struct config *c, size_t s, unsigned int target,
			int fd, const char *req, size_t req_len, char *resp,
			size_t cap, unsigned int timeout_ms, char *why,
			size_t why_len);

/* What a TLS transport negotiated, for logs and headers; NULL (or false)
 * for a plain transport or before the handshake completed. */
const char *transport_tls_version(const struct transport *t);
const char *transport_tls_cipher(const struct transport *t);
const char *transport_tls_sni(const struct transport *t);
bool transport_is_tls(const struct transport *t);
/* A response ended on t (a TLS client connection; else nothing). */
void transport_tls_served(const struct transport *t);
/* The worker's tick, for each client connection: a TLS one on which a
 * response ended since the last tick keeps its record buffers between
 * records, if allow; any other gives them back. True while it keeps
 * them. */
bool transport_tls_tick(struct transport *t, bool allow);
/* The identities of a verified client certificate ("sha256:<hex>",
 * "cn:<CN>", "san:<DNS>", for auth: [mtls]) at *ids; returns how many
 * (0: plain, no certificate, or one that did not verify). */
size_t transport_tls_client_ids(const struct transport *t,
				const char *const **ids);
/* The handshake completed and ALPN selected proto (e.g. "h2"). */
bool transport_tls_alpn_is(const struct transport *t, const char *proto);

/* Every certificate of a snapshot, for the admin API: calls fn once per
 * certificate with its file, names (comma separated) and expiry. */
void tls_each_cert(const struct config *c,
		   void (*fn)(void *ctx, const char *listener,
			      const char *file, const char *names,
			      int64_t not_after),
		   void *ctx);

/* The files a snapshot's TLS contexts were read from, newest change time
 * of any of them (stat() each: for the control thread's poll). 0 when
 * there are none. */
int64_t tls_files_mtime(const struct config *c);

#endif
