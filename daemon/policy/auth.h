/* SPDX-License-Identifier: MIT */
/*
 * Authentication, RBAC and L7 address policy: pure decisions over a request
 * head and a config snapshot (no I/O, no logging, no allocation on the
 * request path).
 *
 * Consumers carry a name, roles and credentials. Bearer tokens and API keys
 * are stored only as SHA-256 digests (config: "sha256:<hex>", or "file:"/
 * "env:" references that config resolves and hashes at load time); a
 * presented credential is hashed and looked up in a table keyed by its
 * digest, then compared in constant time. JWTs are verified by auth_jwt.
 * The digests of credentials that were found are memoized per thread under
 * a keyed 128-bit tag (auth.c: a credential to its digest, never to a
 * verdict), so a keep-alive client's repeated token is not hashed again.
 *
 * Per route (struct auth_policy, config/auth_spec.h): the methods accepted (any of bearer, key,
 * jwt), whether anonymous requests pass, the roles required (any-of or
 * all-of), where an API key is read from (header and/or query parameter),
 * whether the credential is stripped before proxying, and L7 CIDR allow/deny
 * lists checked against the client address (resolved once per exchange by
 * realip_resolve(): the peer, or the X-Forwarded-For chain when the peer is
 * a trusted proxy).
 *
 * Order of checks in auth_evaluate(): CIDR (403) ▸ credentials (401) ▸ roles
 * (403; 401 when anonymous). The address check runs first so that a denied
 * address learns nothing about credentials.
 */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/allowlist.h"
#include "config/auth_spec.h"
#include "policy/auth_jwt.h"
#include "policy/crypto.h"

struct http_header;

enum auth_cred_kind {
	AUTH_CRED_BEARER = 0,
	AUTH_CRED_KEY = 1,
	AUTH_CRED_CERT = 2,		/* a client certificate identity */
};

#define AUTH_HASH_TEXT_LEN (7 + 2 * CRYPTO_SHA256_LEN + 1) /* "sha256:" hex NUL */
#define AUTH_MAX_CREDENTIAL 8192

struct auth_consumer {
	char name[AUTH_NAME_MAX];
	char roles[AUTH_MAX_ROLES][AUTH_NAME_MAX];
	unsigned int n_roles;
};

struct auth_cred {
	uint8_t hash[CRYPTO_SHA256_LEN];
	uint8_t kind;			/* enum auth_cred_kind */
	uint8_t used;			/* slot in use (hash table) */
	uint32_t consumer;		/* index into consumers */
};

/* Everything auth needs that is global to a config snapshot. */
struct auth_store {
	struct auth_consumer *consumers;
	size_t n_consumers;
	struct auth_cred *table;	/* open addressing, power-of-two size */
	size_t table_size, n_creds;
	bool jwt_enabled;
	struct auth_jwt_provider jwt;
	struct allowlist trusted_proxies;	/* PROXY header, XFF */
	char realm[AUTH_NAME_MAX];		/* WWW-Authenticate realm */
};

enum auth_verdict {
	AUTH_ALLOW = 0,
	AUTH_DENY_401,
	AUTH_DENY_403,
};

struct auth_request {
	const struct http_header *headers;
	size_t n_headers;
	const char *target;		/* request-target (for ?key=) */
	size_t target_len;
	const struct sockaddr *client;	/* effective client address */
	/* The connection's verified TLS client certificate, as identities
	 * ("sha256:<hex>", "cn:<CN>", "san:<DNS>"); none: n_cert_ids 0 */
	const char *const *cert_ids;
	size_t n_cert_ids;
};

struct auth_result {
	enum auth_verdict verdict;
	bool authenticated;		/* false: anonymous (or denied) */
	uint32_t method;		/* AUTH_M_* that authenticated */
	bool invalid_token;		/* 401 for a bad credential, not a missing one */
	const char *message;		/* human text for the JSON body */
	/* read up to their NUL and n_roles only: auth_evaluate() does not
	 * clear the rest (1 KiB per request) */
	char consumer[AUTH_NAME_MAX];
	char roles[AUTH_MAX_ROLES][AUTH_NAME_MAX];
	unsigned int n_roles;
	uint64_t strip_headers;		/* bit i: drop headers[i] upstream */
	size_t strip_query_off;		/* span of target to drop; len 0: none */
	size_t strip_query_len;
};

/* ---- config time ------------------------------------------------------- */

void auth_store_init(struct auth_store *s);
void auth_store_free(struct auth_store *s);

/* Append a consumer; returns its index or -EINVAL (bad/duplicate name)
 * / -ENOMEM. */
int auth_store_add_consumer(struct auth_store *s, const char *name);
/* Add a role to consumer ci. -EINVAL: bad name or too many roles. */
int auth_store_add_role(struct auth_store *s, size_t ci, const char *role);
/* Register a credential digest for consumer ci. -EEXIST if that digest is
 * already registered (to any consumer), -ENOMEM. */
int auth_store_add_cred(struct auth_store *s, size_t ci,
			enum auth_cred_kind kind,
			const uint8_t hash[CRYPTO_SHA256_LEN]);
/* Index of the consumer named name, or -ENOENT. */
int auth_store_find_consumer(const struct auth_store *s, const char *name);

/* A consumer's client_certs entry in canonical form (lower-case hex for
 * "sha256:"), into out. 0, or -EINVAL with a message in err. */
int auth_cert_id_parse(const char *text, char *out, size_t outlen,
		       char *err, size_t errlen);

/* "sha256:<hex>" of token[0..n) into out (AUTH_HASH_TEXT_LEN bytes). */
void auth_hash_token(const char *token, size_t n,
		     char out[AUTH_HASH_TEXT_LEN]);

/* ---- request time ------------------------------------------------------ */

/* Whether sa falls within any entry of al. */
bool auth_cidr_match(const struct allowlist *al, const struct sockaddr *sa);

/*
 * Decide a request. now: unix time in seconds (JWT exp/nbf). Fills *res
 * and returns res->verdict.
 */
enum auth_verdict auth_evaluate(const struct auth_store *s,
				const struct auth_policy *p,
				const struct auth_request *req, int64_t now,
				struct auth_result *res);

/*
 * Value of the WWW-Authenticate header for a 401 on policy p, e.g.
 * 'Bearer realm="sluice", error="invalid_token"'. Returns the length
 * written (NUL-terminated; truncated to len).
 */
size_t auth_www_authenticate(const struct auth_store *s,
			     const struct auth_policy *p,
			     const struct auth_result *res, char *buf,
			     size_t len);

/* Roles of res joined with ", " for X-Consumer-Roles. Returns the length. */
size_t auth_roles_header(const struct auth_result *res, char *buf, size_t len);

#endif
