/* SPDX-License-Identifier: MIT */
/*
 * JWT (RFC 7519) verification: JWS compact serialization only, over keys
 * loaded at config time (PEM files, JWKS documents, HMAC secrets).
 *
 * Rules: the header's "alg" must be one of the provider's allowed algorithms
 * and must fit the key's type (HS256/384/512 only with secrets, RS and PS only
 * with RSA keys, ES256 only with P-256, ES384 only with P-384, EdDSA only with
 * Ed25519/Ed448); "none" is never accepted. A "kid" selects the key by id;
 * without one, every key that fits the algorithm is tried. "crit" is
 * rejected (no extensions are understood). Claims: "exp" (required unless
 * require_exp is off) and "nbf" with leeway, "iss" and "aud" when
 * configured; the consumer name and roles are read from configurable claims
 * (dotted paths such as "realm_access.roles").
 *
 * Verification allocates nothing of its own (OpenSSL's verify context
 * aside); all scratch space is on the stack and bounded.
 */
#ifndef SLUICE_AUTH_JWT_H
#define SLUICE_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/auth_spec.h"

#define AUTH_JWT_MAX_TOKEN 8192		/* bytes of the compact form */
#define AUTH_JWT_MAX_SECRET 512
/* Why a token was refused (0: accepted). Stable names: auth_jwt_strerror. */
enum auth_jwt_status {
	AUTH_JWT_OK = 0,
	AUTH_JWT_E_MALFORMED,	/* not three base64url parts / bad JSON */
	AUTH_JWT_E_TOO_LONG,
	AUTH_JWT_E_ALG,		/* none, unknown, not allowed, or unfit key */
	AUTH_JWT_E_CRIT,	/* "crit" header present */
	AUTH_JWT_E_KID,		/* no key with that kid / no fitting key */
	AUTH_JWT_E_SIGNATURE,
	AUTH_JWT_E_EXPIRED,
	AUTH_JWT_E_NOT_YET_VALID,
	AUTH_JWT_E_NO_EXP,
	AUTH_JWT_E_ISSUER,
	AUTH_JWT_E_AUDIENCE,
	AUTH_JWT_E_CLAIM,	/* consumer/roles claim missing or malformed */
	AUTH_JWT_E_MAX,
};

struct crypto_key;

struct auth_jwt_key {
	char kid[AUTH_JWT_MAX_KID];	/* "" : no kid */
	int alg;			/* -1: any that fits; else enum auth_jwt_alg */
	struct crypto_key *pk;		/* public key, or NULL for a secret */
	uint8_t *secret;		/* HMAC secret (malloc'd) */
	size_t secret_len;
};

struct auth_jwt_provider {
	struct auth_jwt_key *keys;
	size_t n_keys;
	uint32_t algs;			/* allowed: 1u << enum auth_jwt_alg */
	char *issuer;			/* NULL: not checked */
	char **audiences;		/* any of; none: not checked */
	size_t n_audiences;
	uint32_t leeway_s;		/* for exp and nbf */
	bool require_exp;
	char consumer_claim[64];	/* default "sub" */
	char roles_claim[64];		/* default "roles"; "" : none */
};

/* The identity read from an accepted token. */
struct auth_jwt_claims {
	char consumer[AUTH_NAME_MAX];
	char roles[AUTH_MAX_ROLES][AUTH_NAME_MAX];
	unsigned int n_roles;
	int64_t exp;			/* 0 when absent */
};

/* Set defaults: all algorithms, require_exp, leeway 30 s, "sub", "roles". */
void auth_jwt_provider_init(struct auth_jwt_provider *p);
/* Free keys, issuer and audiences (not p itself). */
void auth_jwt_provider_free(struct auth_jwt_provider *p);

/*
 * Verify token[0..len) against p at unix time now (seconds). Returns
 * AUTH_JWT_OK with *out filled, or the reason it was refused.
 */
enum auth_jwt_status auth_jwt_verify(const struct auth_jwt_provider *p,
				     const char *token, size_t len,
				     int64_t now, struct auth_jwt_claims *out);

const char *auth_jwt_strerror(enum auth_jwt_status s);

/*
 * Key loading (config time; allocates). Each appends to p->keys.
 * kid may be NULL or "". alg: -1 or a fixed algorithm. Return 0 or
 * -EINVAL/-ENOMEM with a message in err.
 */
int auth_jwt_add_pem(struct auth_jwt_provider *p, const char *kid, int alg,
		     const char *pem, size_t len, char *err, size_t errlen);
int auth_jwt_add_secret(struct auth_jwt_provider *p, const char *kid, int alg,
			const void *secret, size_t len, char *err,
			size_t errlen);
/* A JWKS document {"keys":[...]}: RSA, EC (P-256/P-384), OKP (Ed25519/
 * Ed448) and oct keys; keys with "use" other than "sig" are skipped. Returns
 * the number of keys added (>= 1) or -EINVAL with a message. */
int auth_jwt_add_jwks(struct auth_jwt_provider *p, const char *json,
		      size_t len, char *err, size_t errlen);

/*
 * base64url without padding (RFC 7515 section 2), strict: no '=', no
 * whitespace, unused trailing bits must be zero. Returns the decoded length,
 * -EINVAL, or -ENOSPC if out is too small.
 */
ssize_t auth_b64url_decode(const char *in, size_t len, uint8_t *out,
			   size_t outlen);

#endif
