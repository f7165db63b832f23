/* SPDX-License-Identifier: MIT */
/*
 * Crypto primitives: a thin adapter over OpenSSL 3 (EVP), so that auth stays
 * pure and only this file and tls.c include OpenSSL.
 *
 * Keys are parsed once (config load) into an opaque struct crypto_key; the
 * request path only verifies and hashes, and never allocates except inside
 * OpenSSL's EVP contexts. All comparisons of secrets go through
 * crypto_memeq() (constant time).
 */
#ifndef SLUICE_CRYPTO_H
#define SLUICE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_MAX_MD_LEN 64

enum crypto_md {
	CRYPTO_MD_SHA256 = 0,
	CRYPTO_MD_SHA384,
	CRYPTO_MD_SHA512,
};

/* What a public key is: decides which JWS algorithms may use it. */
enum crypto_key_type {
	CRYPTO_KEY_NONE = 0,
	CRYPTO_KEY_RSA,
	CRYPTO_KEY_EC_P256,
	CRYPTO_KEY_EC_P384,
	CRYPTO_KEY_ED25519,
	CRYPTO_KEY_ED448,
};

/* Signature schemes (how the signature bytes are laid out and checked). */
enum crypto_sig {
	CRYPTO_SIG_RSA_PKCS1 = 0,	/* RS256/384/512 */
	CRYPTO_SIG_RSA_PSS,		/* PS256/384/512: MGF1 same hash, salt = hash len */
	CRYPTO_SIG_ECDSA_RAW,		/* ES256/384: r||s, each the curve size */
	CRYPTO_SIG_EDDSA,		/* Ed25519 / Ed448, no pre-hash */
};

struct crypto_key;

/* SHA-256 of data into out. */
void crypto_sha256(const void *data, size_t len,
		   uint8_t out[CRYPTO_SHA256_LEN]);

/* Digest length in bytes of md (32, 48, 64). */
size_t crypto_md_len(enum crypto_md md);

/* HMAC(md, key) over data into out (crypto_md_len(md) bytes). 0 or -EIO. */
int crypto_hmac(enum crypto_md md, const void *key, size_t keylen,
		const void *data, size_t len, uint8_t out[CRYPTO_MAX_MD_LEN]);

/* Constant-time equality of two n-byte buffers. */
bool crypto_memeq(const void *a, const void *b, size_t n);

/*
 * Parse a PEM public key (SubjectPublicKeyInfo "PUBLIC KEY", or
 * "RSA PUBLIC KEY"), or a certificate's public key. NULL + errno (EINVAL:
 * not a key we understand, with a message in err).
 */
struct crypto_key *crypto_key_from_pem(const char *pem, size_t len, char *err,
				       size_t errlen);

/* Build public keys from JWK components (big-endian byte strings). */
struct crypto_key *crypto_key_from_rsa(const uint8_t *n, size_t nlen,
				       const uint8_t *e, size_t elen,
				       char *err, size_t errlen);
/* type: CRYPTO_KEY_EC_P256 or _P384; x and y are the curve size each. */
struct crypto_key *crypto_key_from_ec(enum crypto_key_type type,
				      const uint8_t *x, size_t xlen,
				      const uint8_t *y, size_t ylen, char *err,
				      size_t errlen);
/* type: CRYPTO_KEY_ED25519 (32 bytes) or CRYPTO_KEY_ED448 (57 bytes). */
struct crypto_key *crypto_key_from_okp(enum crypto_key_type type,
				       const uint8_t *x, size_t xlen, char *err,
				       size_t errlen);

enum crypto_key_type crypto_key_type(const struct crypto_key *k);
void crypto_key_free(struct crypto_key *k);

/*
 * Verify sig over data with k. md is ignored for EdDSA. Returns 0 when the
 * signature is valid, -EBADMSG when it is not (wrong key, tampered, wrong
 * length), -EINVAL when scheme and key type do not fit, -ENOMEM.
 */
int crypto_verify(const struct crypto_key *k, enum crypto_sig scheme,
		  enum crypto_md md, const void *data, size_t len,
		  const uint8_t *sig, size_t siglen);

/* Fill buf with n cryptographically random bytes. 0 or -EIO. */
int crypto_random(void *buf, size_t n);

/* The OpenSSL this process runs with ("3.0.19"). */
const char *crypto_openssl_version(void);

#endif
