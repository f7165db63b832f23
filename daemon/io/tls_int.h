/* SPDX-License-Identifier: MIT */
/* Internal to io/tls*.c: what the contexts and the transport share. */
#ifndef SLUICE_TLS_INT_H
#define SLUICE_TLS_INT_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "io/tls.h"

/* Certificates with the same names (an RSA and an ECDSA one, say): one
 * SSL_CTX holds them all, and the client's signature algorithms pick. */
struct tls_group {
	SSL_CTX *ctx;
	char **names;			/* DNS (lower case, "*.x" wildcards)
					 * and IP subjectAltNames */
	size_t n_names;
};

struct tls_certinfo {
	char *file;
	char *names;			/* comma separated */
	int64_t not_after;		/* Unix time */
};

struct tls_listener {
	atomic_int refs;		/* the snapshot's + one per connection */
	char name[CONFIG_MAX_NAME];
	struct tls_group *groups;	/* [0]: the default (first cert) */
	size_t n_groups;
	struct tls_certinfo *certs;
	size_t n_certs;
	unsigned char alpn[64];		/* wire format, server preference */
	size_t alpn_len;
	int client_auth;		/* enum config_client_auth */
	uint32_t handshake_timeout_ms;
};

/* One service's upstream TLS (services[].tls): its client context and
 * the newest session of each target, to resume on the next connection. */
struct tls_upstream {
	atomic_int refs;		/* the snapshot's + one per conn */
	char service[CONFIG_MAX_NAME];
	SSL_CTX *ctx;
	char *sni;			/* NULL: no SNI */
	bool sni_is_ip;			/* sni is an address: verified as
					 * one, not sent (RFC 6066) */
	bool verify;
	size_t n_targets;
	char **ips;			/* per target: the address verified
					 * when there is no sni */
	pthread_mutex_t lock;		/* sess: shared by every worker */
	SSL_SESSION **sess;		/* per target, NULL: none yet */
};

struct tls_set {
	struct tls_listener **l;	/* per listener, NULL: plain */
	size_t n;
	struct tls_upstream **u;	/* per service, NULL: plain */
	size_t n_u;
	char **files;			/* every file read, for the poll */
	size_t n_files;
};

/* SHA-256, fetched once (client certificate fingerprints). */
extern EVP_MD *tls_sha256;

void tls_listener_get(struct tls_listener *tl);
void tls_listener_put(struct tls_listener *tl);

void tls_upstream_get(struct tls_upstream *tu);
void tls_upstream_put(struct tls_upstream *tu);
/* Load-time errors, one "FILE: what is wrong" a line, appended to *buf
 * (OpenSSL's reason added when it left one). */
struct tls_acc {
	char **buf;
	size_t *len;
	bool oom;
	bool failed;
};

__attribute__((format(printf, 2, 3)))
void tls_acc_fail(struct tls_acc *a, const char *fmt, ...);

/* Build service s's upstream context (errors into a). NULL when it
 * failed. */
struct tls_upstream *tls_upstream_build(struct tls_acc *a,
					const struct config_service *s);
/* A new client SSL for target i of tu, set up to verify its name and to
 * resume the target's newest session. NULL: out of memory. */
SSL *tls_upstream_ssl(struct tls_upstream *tu, unsigned int i);
/* Why the handshake on ssl failed, into why (for a 502 and the log);
 * true when it was the certificate's verification. */
bool tls_upstream_why(SSL *ssl, unsigned long err, char *why, size_t len);

#endif
