/* SPDX-License-Identifier: MIT */
/* Internal to io/tls*.c: what the contexts and the transport share. */
#ifndef SLUICE_TLS_INT_H
#define SLUICE_TLS_INT_H

#include <openssl/ssl.h>
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

struct tls_set {
	struct tls_listener **l;	/* per listener, NULL: plain */
	size_t n;
	char **files;			/* every file read, for the poll */
	size_t n_files;
};

/* SHA-256, fetched once (client certificate fingerprints). */
extern EVP_MD *tls_sha256;

void tls_listener_get(struct tls_listener *tl);
void tls_listener_put(struct tls_listener *tl);

#endif
