// SPDX-License-Identifier: MIT
/*
 * OpenSSL 3 adapter: hashing, HMAC, constant-time compare, public keys (PEM
 * or JWK components) and signature verification. See crypto.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "policy/crypto.h"

#define CRYPTO_MIN_RSA_BITS 2048

struct crypto_key {
	EVP_PKEY *pkey;
	enum crypto_key_type type;
	unsigned int bits;
};

static const EVP_MD *md_of(enum crypto_md md)
{
	switch (md) {
	case CRYPTO_MD_SHA256:
		return EVP_sha256();
	case CRYPTO_MD_SHA384:
		return EVP_sha384();
	case CRYPTO_MD_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

size_t crypto_md_len(enum crypto_md md)
{
	switch (md) {
	case CRYPTO_MD_SHA256:
		return 32;
	case CRYPTO_MD_SHA384:
		return 48;
	case CRYPTO_MD_SHA512:
		return 64;
	}
	return 0;
}

/*
 * SHA-256 fetched from the provider once: EVP_sha256() is a legacy handle
 * that EVP_Digest() fetches again on every call (a locked name lookup,
 * about 2,300 instructions: more than the hash of a short token). Kept for
 * the life of the process.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void crypto_sha256(const void *data, size_t len,
		   uint8_t out[CRYPTO_SHA256_LEN])
{
	unsigned int n = CRYPTO_SHA256_LEN;

	pthread_once(&sha256_once, sha256_fetch);
	if (!EVP_Digest(data, len, out, &n,
			sha256_md ? sha256_md : EVP_sha256(), NULL))
		memset(out, 0, CRYPTO_SHA256_LEN);	/* cannot happen */
}

int crypto_hmac(enum crypto_md md, const void *key, size_t keylen,
		const void *data, size_t len, uint8_t out[CRYPTO_MAX_MD_LEN])
{
	unsigned int n = CRYPTO_MAX_MD_LEN;
	static const uint8_t empty;

	if (!md_of(md))
		return -EINVAL;
	if (!HMAC(md_of(md), keylen ? key : &empty, (int)keylen, data, len,
		  out, &n))
		return -EIO;
	return 0;
}

/*
 * Constant time: every byte is read and folded into one difference word,
 * with no branch on the contents. Eight bytes a step (CRYPTO_memcmp went a
 * byte at a time: ~230 instructions for a digest, on every credential
 * lookup); the empty asm keeps the compiler from turning the fold into an
 * early exit.
 */
bool crypto_memeq(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	uint64_t d = 0, u, v;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&u, x + i, 8);
		memcpy(&v, y + i, 8);
		d |= u ^ v;
		__asm__("" : "+r"(d));
	}
	for (; i < n; i++) {
		d |= (uint64_t)(x[i] ^ y[i]);
		__asm__("" : "+r"(d));
	}
	return d == 0;
}

int crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -EIO;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

/* Classify pkey; NULL (and err) when it is not a kind we verify with. */
static struct crypto_key *wrap(EVP_PKEY *pkey, char *err, size_t errlen)
{
	struct crypto_key *k;
	enum crypto_key_type type = CRYPTO_KEY_NONE;
	unsigned int bits = 0;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		type = CRYPTO_KEY_RSA;
		bits = (unsigned int)EVP_PKEY_get_bits(pkey);
		if (bits < CRYPTO_MIN_RSA_BITS) {
			set_err(err, errlen,
				"RSA key shorter than 2048 bits");
			goto bad;
		}
		break;
	case EVP_PKEY_EC: {
		char group[64];
		size_t glen = 0;

		if (!EVP_PKEY_get_utf8_string_param(pkey,
						    OSSL_PKEY_PARAM_GROUP_NAME,
						    group, sizeof(group), &glen)) {
			set_err(err, errlen, "EC key without a named curve");
			goto bad;
		}
		if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
			type = CRYPTO_KEY_EC_P256;
		else if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
			type = CRYPTO_KEY_EC_P384;
		else {
			set_err(err, errlen,
				"EC curve not supported (P-256, P-384)");
			goto bad;
		}
		break;
	}
	case EVP_PKEY_ED25519:
		type = CRYPTO_KEY_ED25519;
		break;
	case EVP_PKEY_ED448:
		type = CRYPTO_KEY_ED448;
		break;
	default:
		set_err(err, errlen,
			"key type not supported (RSA, EC P-256/P-384, Ed25519, Ed448)");
		goto bad;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		errno = ENOMEM;
		return NULL;
	}
	k->pkey = pkey;
	k->type = type;
	k->bits = bits;
	return k;
bad:
	EVP_PKEY_free(pkey);
	errno = EINVAL;
	return NULL;
}

struct crypto_key *crypto_key_from_pem(const char *pem, size_t len, char *err,
				       size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio;

	if (len > INT32_MAX) {
		set_err(err, errlen, "PEM too large");
		errno = EINVAL;
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		errno = ENOMEM;
		return NULL;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!pkey) {
		/* "RSA PUBLIC KEY" (PKCS#1) and friends, via the decoders */
		const unsigned char *data = (const unsigned char *)pem;
		size_t left = len;
		OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
			&pkey, "PEM", NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL,
			NULL);

		if (dctx && !OSSL_DECODER_from_data(dctx, &data, &left))
			pkey = NULL;
		OSSL_DECODER_CTX_free(dctx);
	}
	if (!pkey) {
		X509 *x;

		(void)BIO_reset(bio);
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (x) {
			pkey = X509_get_pubkey(x);
			X509_free(x);
		}
	}
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey) {
		set_err(err, errlen,
			"no PEM public key or certificate found "
			"(expected \"-----BEGIN PUBLIC KEY-----\")");
		errno = EINVAL;
		return NULL;
	}
	return wrap(pkey, err, errlen);
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (!params)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

struct crypto_key *crypto_key_from_rsa(const uint8_t *n, size_t nlen,
				       const uint8_t *e, size_t elen,
				       char *err, size_t errlen)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	EVP_PKEY *pkey = NULL;

	if (!nlen || !elen || nlen > 2048 || elen > 16) {
		set_err(err, errlen, "RSA JWK: bad 'n' or 'e' length");
		errno = EINVAL;
		return NULL;
	}
	bn_n = BN_bin2bn(n, (int)nlen, NULL);
	bn_e = BN_bin2bn(e, (int)elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn_n && bn_e && bld &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		pkey = from_params("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	ERR_clear_error();
	if (!pkey) {
		set_err(err, errlen, "RSA JWK: cannot build key");
		errno = EINVAL;
		return NULL;
	}
	return wrap(pkey, err, errlen);
}

struct crypto_key *crypto_key_from_ec(enum crypto_key_type type,
				      const uint8_t *x, size_t xlen,
				      const uint8_t *y, size_t ylen, char *err,
				      size_t errlen)
{
	uint8_t point[1 + 2 * 48];
	size_t clen = type == CRYPTO_KEY_EC_P256 ? 32 :
		      type == CRYPTO_KEY_EC_P384 ? 48 : 0;
	const char *group = type == CRYPTO_KEY_EC_P256 ? "prime256v1" :
						     "secp384r1";
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *chk;

	if (!clen || xlen != clen || ylen != clen) {
		set_err(err, errlen, "EC JWK: 'x'/'y' length does not match the curve");
		errno = EINVAL;
		return NULL;
	}
	point[0] = 0x04;
	memcpy(point + 1, x, clen);
	memcpy(point + 1 + clen, y, clen);
	bld = OSSL_PARAM_BLD_new();
	if (bld &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    group, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
					     point, 1 + 2 * clen))
		pkey = from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (pkey) {
		/* the point must be on the curve */
		chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (!chk || EVP_PKEY_public_check(chk) != 1) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		EVP_PKEY_CTX_free(chk);
	}
	ERR_clear_error();
	if (!pkey) {
		set_err(err, errlen, "EC JWK: point is not on the curve");
		errno = EINVAL;
		return NULL;
	}
	return wrap(pkey, err, errlen);
}

struct crypto_key *crypto_key_from_okp(enum crypto_key_type type,
				       const uint8_t *x, size_t xlen, char *err,
				       size_t errlen)
{
	EVP_PKEY *pkey = NULL;

	if (type == CRYPTO_KEY_ED25519 && xlen == 32)
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x,
						   xlen);
	else if (type == CRYPTO_KEY_ED448 && xlen == 57)
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, NULL, x,
						   xlen);
	ERR_clear_error();
	if (!pkey) {
		set_err(err, errlen, "OKP JWK: bad curve or 'x' length");
		errno = EINVAL;
		return NULL;
	}
	return wrap(pkey, err, errlen);
}

enum crypto_key_type crypto_key_type(const struct crypto_key *k)
{
	return k ? k->type : CRYPTO_KEY_NONE;
}

void crypto_key_free(struct crypto_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* r||s (each clen bytes) to a DER ECDSA-Sig-Value in out. */
static int ecdsa_raw_to_der(const uint8_t *sig, size_t clen, uint8_t *out,
			    size_t outlen, size_t *derlen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)clen, NULL);
	BIGNUM *s = BN_bin2bn(sig + clen, (int)clen, NULL);
	unsigned char *p = out;
	int n;

	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		ECDSA_SIG_free(es);
		BN_free(r);
		BN_free(s);
		return -ENOMEM;
	}
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || (size_t)n > outlen) {
		ECDSA_SIG_free(es);
		return -EBADMSG;
	}
	n = i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	if (n <= 0)
		return -EBADMSG;
	*derlen = (size_t)n;
	return 0;
}

int crypto_verify(const struct crypto_key *k, enum crypto_sig scheme,
		  enum crypto_md md, const void *data, size_t len,
		  const uint8_t *sig, size_t siglen)
{
	uint8_t der[160];
	const EVP_MD *evp_md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx;
	size_t clen;
	int r;

	if (!k)
		return -EINVAL;
	switch (scheme) {
	case CRYPTO_SIG_RSA_PKCS1:
	case CRYPTO_SIG_RSA_PSS:
		if (k->type != CRYPTO_KEY_RSA)
			return -EINVAL;
		if (siglen != (k->bits + 7) / 8)
			return -EBADMSG;
		evp_md = md_of(md);
		break;
	case CRYPTO_SIG_ECDSA_RAW:
		if (k->type == CRYPTO_KEY_EC_P256 && md == CRYPTO_MD_SHA256)
			clen = 32;
		else if (k->type == CRYPTO_KEY_EC_P384 &&
			 md == CRYPTO_MD_SHA384)
			clen = 48;
		else
			return -EINVAL;
		if (siglen != 2 * clen)
			return -EBADMSG;
		r = ecdsa_raw_to_der(sig, clen, der, sizeof(der), &siglen);
		if (r)
			return r;
		sig = der;
		evp_md = md_of(md);
		break;
	case CRYPTO_SIG_EDDSA:
		if (k->type != CRYPTO_KEY_ED25519 &&
		    k->type != CRYPTO_KEY_ED448)
			return -EINVAL;
		if (siglen != (k->type == CRYPTO_KEY_ED25519 ? 64u : 114u))
			return -EBADMSG;
		break;
	default:
		return -EINVAL;
	}
	if (scheme != CRYPTO_SIG_EDDSA && !evp_md)
		return -EINVAL;

	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	r = -EBADMSG;
	if (EVP_DigestVerifyInit(ctx, &pctx, evp_md, NULL, k->pkey) != 1)
		goto out;
	if (scheme == CRYPTO_SIG_RSA_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, evp_md) != 1))
		goto out;
	if (scheme == CRYPTO_SIG_RSA_PKCS1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, sig, siglen, data, len) == 1)
		r = 0;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

const char *crypto_openssl_version(void)
{
	/* the libcrypto loaded at run time, not the headers' */
	return OpenSSL_version(OPENSSL_VERSION_STRING);
}
