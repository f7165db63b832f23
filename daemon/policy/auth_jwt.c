// SPDX-License-Identifier: MIT
/* JWT verification and key loading. See auth_jwt.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/auth_json.h"
#include "policy/auth_jwt.h"
#include "policy/crypto.h"

#define HDR_MAX 1024		/* decoded header bytes */
#define PAYLOAD_MAX 6144	/* decoded payload bytes */
#define SIG_MAX 1024		/* decoded signature bytes (RSA 8192) */
#define HDR_TOKS 48
#define PAYLOAD_TOKS 384

/* Digest of each algorithm (its name: auth_jwt_alg_name()). */
static const enum crypto_md alg_md[AUTH_JWT_ALG_MAX] = {
	[AUTH_JWT_HS256] = CRYPTO_MD_SHA256,
	[AUTH_JWT_HS384] = CRYPTO_MD_SHA384,
	[AUTH_JWT_HS512] = CRYPTO_MD_SHA512,
	[AUTH_JWT_RS256] = CRYPTO_MD_SHA256,
	[AUTH_JWT_RS384] = CRYPTO_MD_SHA384,
	[AUTH_JWT_RS512] = CRYPTO_MD_SHA512,
	[AUTH_JWT_PS256] = CRYPTO_MD_SHA256,
	[AUTH_JWT_PS384] = CRYPTO_MD_SHA384,
	[AUTH_JWT_PS512] = CRYPTO_MD_SHA512,
	[AUTH_JWT_ES256] = CRYPTO_MD_SHA256,
	[AUTH_JWT_ES384] = CRYPTO_MD_SHA384,
	[AUTH_JWT_EDDSA] = CRYPTO_MD_SHA512,
};

static const char *const status_names[AUTH_JWT_E_MAX] = {
	[AUTH_JWT_OK] = "ok",
	[AUTH_JWT_E_MALFORMED] = "malformed token",
	[AUTH_JWT_E_TOO_LONG] = "token too long",
	[AUTH_JWT_E_ALG] = "algorithm not allowed for this key",
	[AUTH_JWT_E_CRIT] = "unsupported critical header",
	[AUTH_JWT_E_KID] = "unknown key id",
	[AUTH_JWT_E_SIGNATURE] = "invalid signature",
	[AUTH_JWT_E_EXPIRED] = "token expired",
	[AUTH_JWT_E_NOT_YET_VALID] = "token not yet valid",
	[AUTH_JWT_E_NO_EXP] = "token has no expiry",
	[AUTH_JWT_E_ISSUER] = "wrong issuer",
	[AUTH_JWT_E_AUDIENCE] = "wrong audience",
	[AUTH_JWT_E_CLAIM] = "identity claim missing or malformed",
};

const char *auth_jwt_strerror(enum auth_jwt_status s)
{
	if ((unsigned)s >= AUTH_JWT_E_MAX)
		return "unknown";
	return status_names[s];
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

ssize_t auth_b64url_decode(const char *in, size_t len, uint8_t *out,
			   size_t outlen)
{
	size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -EINVAL;
	if (need > outlen)
		return -ENOSPC;
	for (size_t i = 0; i < len; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc)
		return -EINVAL;	/* non-canonical: leftover bits set */
	return (ssize_t)o;
}

void auth_jwt_provider_init(struct auth_jwt_provider *p)
{
	memset(p, 0, sizeof(*p));
	p->algs = AUTH_JWT_ALG_ALL;
	p->leeway_s = 30;
	p->require_exp = true;
	strcpy(p->consumer_claim, "sub");
	strcpy(p->roles_claim, "roles");
}

void auth_jwt_provider_free(struct auth_jwt_provider *p)
{
	for (size_t i = 0; i < p->n_keys; i++) {
		crypto_key_free(p->keys[i].pk);
		if (p->keys[i].secret) {
			memset(p->keys[i].secret, 0, p->keys[i].secret_len);
			free(p->keys[i].secret);
		}
	}
	free(p->keys);
	free(p->issuer);
	for (size_t i = 0; i < p->n_audiences; i++)
		free(p->audiences[i]);
	free(p->audiences);
	p->keys = NULL;
	p->n_keys = 0;
	p->issuer = NULL;
	p->audiences = NULL;
	p->n_audiences = 0;
}

static bool key_fits(const struct auth_jwt_key *k, enum auth_jwt_alg a)
{
	if (k->alg >= 0 && k->alg != (int)a)
		return false;
	switch (a) {
	case AUTH_JWT_HS256:
	case AUTH_JWT_HS384:
	case AUTH_JWT_HS512:
		return k->secret && !k->pk;
	case AUTH_JWT_RS256:
	case AUTH_JWT_RS384:
	case AUTH_JWT_RS512:
	case AUTH_JWT_PS256:
	case AUTH_JWT_PS384:
	case AUTH_JWT_PS512:
		return crypto_key_type(k->pk) == CRYPTO_KEY_RSA;
	case AUTH_JWT_ES256:
		return crypto_key_type(k->pk) == CRYPTO_KEY_EC_P256;
	case AUTH_JWT_ES384:
		return crypto_key_type(k->pk) == CRYPTO_KEY_EC_P384;
	case AUTH_JWT_EDDSA:
		return crypto_key_type(k->pk) == CRYPTO_KEY_ED25519 ||
		       crypto_key_type(k->pk) == CRYPTO_KEY_ED448;
	default:
		return false;
	}
}

static bool verify_with(const struct auth_jwt_key *k, enum auth_jwt_alg a,
			const char *data, size_t len, const uint8_t *sig,
			size_t siglen)
{
	enum crypto_md md = alg_md[a];
	uint8_t mac[CRYPTO_MAX_MD_LEN];
	enum crypto_sig scheme;

	switch (a) {
	case AUTH_JWT_HS256:
	case AUTH_JWT_HS384:
	case AUTH_JWT_HS512:
		if (crypto_hmac(md, k->secret, k->secret_len, data, len, mac))
			return false;
		return siglen == crypto_md_len(md) &&
		       crypto_memeq(mac, sig, siglen);
	case AUTH_JWT_RS256:
	case AUTH_JWT_RS384:
	case AUTH_JWT_RS512:
		scheme = CRYPTO_SIG_RSA_PKCS1;
		break;
	case AUTH_JWT_PS256:
	case AUTH_JWT_PS384:
	case AUTH_JWT_PS512:
		scheme = CRYPTO_SIG_RSA_PSS;
		break;
	case AUTH_JWT_ES256:
	case AUTH_JWT_ES384:
		scheme = CRYPTO_SIG_ECDSA_RAW;
		break;
	case AUTH_JWT_EDDSA:
		scheme = CRYPTO_SIG_EDDSA;
		break;
	default:
		return false;
	}
	return crypto_verify(k->pk, scheme, md, data, len, sig, siglen) == 0;
}

/* Resolve a dotted claim path ("realm_access.roles") in the payload. */
static int claim_path(const char *buf, const struct auth_json_tok *t,
		      const char *path)
{
	char part[64];
	int cur = 0;

	while (*path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n == 0 || n >= sizeof(part))
			return -ENOENT;
		memcpy(part, path, n);
		part[n] = '\0';
		cur = auth_json_get(buf, t, cur, part);
		if (cur < 0)
			return -ENOENT;
		path += n + (dot ? 1 : 0);
	}
	return cur;
}

static void add_role(struct auth_jwt_claims *c, const char *s, size_t n)
{
	if (c->n_roles >= AUTH_MAX_ROLES || !auth_name_valid(s, n))
		return;		/* dropping a role never grants more */
	memcpy(c->roles[c->n_roles], s, n);
	c->roles[c->n_roles][n] = '\0';
	c->n_roles++;
}

static enum auth_jwt_status read_roles(const struct auth_jwt_provider *p,
				       const char *buf,
				       const struct auth_json_tok *t,
				       struct auth_jwt_claims *out)
{
	char tmp[512];
	int r;

	if (!p->roles_claim[0])
		return AUTH_JWT_OK;
	r = claim_path(buf, t, p->roles_claim);
	if (r < 0)
		return AUTH_JWT_OK;	/* no roles */
	if (t[r].type == AUTH_JSON_STRING) {
		/* space-separated, like OAuth "scope" */
		ssize_t n = auth_json_str(buf, &t[r], tmp, sizeof(tmp));
		size_t i = 0;

		if (n < 0)
			return AUTH_JWT_E_CLAIM;
		while (i < (size_t)n) {
			size_t j = i;

			while (j < (size_t)n && tmp[j] != ' ')
				j++;
			if (j > i)
				add_role(out, tmp + i, j - i);
			i = j + 1;
		}
		return AUTH_JWT_OK;
	}
	if (t[r].type != AUTH_JSON_ARRAY)
		return AUTH_JWT_E_CLAIM;
	for (uint32_t i = 0; i < t[r].size; i++) {
		int e = auth_json_elem(t, r, i);
		ssize_t n;

		if (t[e].type != AUTH_JSON_STRING)
			return AUTH_JWT_E_CLAIM;
		n = auth_json_str(buf, &t[e], tmp, sizeof(tmp));
		if (n > 0)
			add_role(out, tmp, (size_t)n);
	}
	return AUTH_JWT_OK;
}

static bool aud_matches(const struct auth_jwt_provider *p, const char *buf,
			const struct auth_json_tok *t)
{
	for (size_t i = 0; i < p->n_audiences; i++)
		if (auth_json_str_eq(buf, t, p->audiences[i],
				     strlen(p->audiences[i])))
			return true;
	return false;
}

static enum auth_jwt_status check_claims(const struct auth_jwt_provider *p,
					 const char *buf,
					 const struct auth_json_tok *t,
					 int64_t now,
					 struct auth_jwt_claims *out)
{
	int64_t exp = 0, nbf = 0;
	int r;

	r = auth_json_get(buf, t, 0, "exp");
	if (r >= 0) {
		if (auth_json_int(buf, &t[r], &exp))
			return AUTH_JWT_E_MALFORMED;
		if (exp <= INT64_MAX - p->leeway_s &&
		    now >= exp + (int64_t)p->leeway_s)
			return AUTH_JWT_E_EXPIRED;
		out->exp = exp;
	} else if (p->require_exp) {
		return AUTH_JWT_E_NO_EXP;
	}
	r = auth_json_get(buf, t, 0, "nbf");
	if (r >= 0) {
		if (auth_json_int(buf, &t[r], &nbf))
			return AUTH_JWT_E_MALFORMED;
		if (now <= INT64_MAX - p->leeway_s &&
		    now + (int64_t)p->leeway_s < nbf)
			return AUTH_JWT_E_NOT_YET_VALID;
	}
	if (p->issuer) {
		r = auth_json_get(buf, t, 0, "iss");
		if (r < 0 || !auth_json_str_eq(buf, &t[r], p->issuer,
					       strlen(p->issuer)))
			return AUTH_JWT_E_ISSUER;
	}
	if (p->n_audiences) {
		bool ok = false;

		r = auth_json_get(buf, t, 0, "aud");
		if (r >= 0 && t[r].type == AUTH_JSON_STRING)
			ok = aud_matches(p, buf, &t[r]);
		else if (r >= 0 && t[r].type == AUTH_JSON_ARRAY)
			for (uint32_t i = 0; i < t[r].size && !ok; i++)
				ok = aud_matches(p, buf,
						 &t[auth_json_elem(t, r, i)]);
		if (!ok)
			return AUTH_JWT_E_AUDIENCE;
	}
	r = claim_path(buf, t, p->consumer_claim);
	if (r < 0 || t[r].type != AUTH_JSON_STRING)
		return AUTH_JWT_E_CLAIM;
	{
		ssize_t n = auth_json_str(buf, &t[r], out->consumer,
					  sizeof(out->consumer));

		if (n < 0 || !auth_name_valid(out->consumer, (size_t)n))
			return AUTH_JWT_E_CLAIM;
	}
	return read_roles(p, buf, t, out);
}

enum auth_jwt_status auth_jwt_verify(const struct auth_jwt_provider *p,
				     const char *token, size_t len,
				     int64_t now, struct auth_jwt_claims *out)
{
	char hdr[HDR_MAX], payload[PAYLOAD_MAX];
	uint8_t sig[SIG_MAX];
	struct auth_json_tok ht[HDR_TOKS];
	struct auth_json_tok pt[PAYLOAD_TOKS];
	const char *d1, *d2;
	char kid[AUTH_JWT_MAX_KID];
	bool have_kid = false, kid_found = false, fitted = false;
	ssize_t hlen, plen, slen;
	enum auth_jwt_alg alg;
	int r, a;

	memset(out, 0, sizeof(*out));
	if (len > AUTH_JWT_MAX_TOKEN)
		return AUTH_JWT_E_TOO_LONG;
	d1 = memchr(token, '.', len);
	if (!d1)
		return AUTH_JWT_E_MALFORMED;
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return AUTH_JWT_E_MALFORMED;

	/* header */
	hlen = auth_b64url_decode(token, (size_t)(d1 - token), (uint8_t *)hdr,
				  sizeof(hdr));
	if (hlen <= 0)
		return AUTH_JWT_E_MALFORMED;
	r = auth_json_parse(hdr, (size_t)hlen, ht, HDR_TOKS);
	if (r < 0 || ht[0].type != AUTH_JSON_OBJECT)
		return AUTH_JWT_E_MALFORMED;
	r = auth_json_get(hdr, ht, 0, "alg");
	if (r < 0 || ht[r].type != AUTH_JSON_STRING)
		return AUTH_JWT_E_MALFORMED;
	a = auth_json_str_eq(hdr, &ht[r], "none", 4) ? -1 :
	    auth_jwt_alg_from_name(hdr + ht[r].start, ht[r].end - ht[r].start);
	if (a < 0 || !(p->algs & (1u << a)))
		return AUTH_JWT_E_ALG;
	alg = (enum auth_jwt_alg)a;
	if (auth_json_get(hdr, ht, 0, "crit") >= 0)
		return AUTH_JWT_E_CRIT;
	r = auth_json_get(hdr, ht, 0, "kid");
	if (r >= 0) {
		if (auth_json_str(hdr, &ht[r], kid, sizeof(kid)) < 0)
			return AUTH_JWT_E_KID;
		have_kid = true;
	}

	/* signature */
	slen = auth_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), sig,
				  sizeof(sig));
	if (slen < 0)
		return AUTH_JWT_E_MALFORMED;
	if (slen == 0)
		return AUTH_JWT_E_SIGNATURE;

	for (size_t i = 0; i < p->n_keys; i++) {
		const struct auth_jwt_key *k = &p->keys[i];

		if (have_kid && strcmp(k->kid, kid))
			continue;
		kid_found = true;
		if (!key_fits(k, alg))
			continue;
		fitted = true;
		if (verify_with(k, alg, token, (size_t)(d2 - token), sig,
				(size_t)slen))
			goto verified;
	}
	if (have_kid && !kid_found)
		return AUTH_JWT_E_KID;
	return fitted ? AUTH_JWT_E_SIGNATURE : AUTH_JWT_E_ALG;

verified:
	plen = auth_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1),
				  (uint8_t *)payload, sizeof(payload));
	if (plen <= 0)
		return AUTH_JWT_E_MALFORMED;
	r = auth_json_parse(payload, (size_t)plen, pt, PAYLOAD_TOKS);
	if (r < 0 || pt[0].type != AUTH_JSON_OBJECT)
		return AUTH_JWT_E_MALFORMED;
	return check_claims(p, payload, pt, now, out);
}

/* ---- key loading (config time) ----------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, const char *a)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a);
}

static struct auth_jwt_key *new_key(struct auth_jwt_provider *p,
				    const char *kid, int alg)
{
	struct auth_jwt_key *keys, *k;

	if (kid && strlen(kid) >= AUTH_JWT_MAX_KID)
		return NULL;
	keys = realloc(p->keys, (p->n_keys + 1) * sizeof(*keys));
	if (!keys)
		return NULL;
	p->keys = keys;
	k = &keys[p->n_keys];
	memset(k, 0, sizeof(*k));
	if (kid)
		strcpy(k->kid, kid);
	k->alg = alg;
	return k;
}

static bool any_alg_fits(const struct auth_jwt_key *k)
{
	for (int a = 0; a < AUTH_JWT_ALG_MAX; a++)
		if (key_fits(k, (enum auth_jwt_alg)a))
			return true;
	return false;
}

static int add_pk(struct auth_jwt_provider *p, const char *kid, int alg,
		  struct crypto_key *pk, char *err, size_t errlen)
{
	struct auth_jwt_key probe = { .alg = alg, .pk = pk }, *k;

	if (!any_alg_fits(&probe)) {
		crypto_key_free(pk);
		set_err(err, errlen, "key type does not fit algorithm %s",
			auth_jwt_alg_name(alg));
		return -EINVAL;
	}
	k = new_key(p, kid, alg);
	if (!k) {
		crypto_key_free(pk);
		set_err(err, errlen, "%s", "kid too long or out of memory");
		return -EINVAL;
	}
	k->pk = pk;
	p->n_keys++;
	return 0;
}

int auth_jwt_add_pem(struct auth_jwt_provider *p, const char *kid, int alg,
		     const char *pem, size_t len, char *err, size_t errlen)
{
	struct crypto_key *pk = crypto_key_from_pem(pem, len, err, errlen);

	if (!pk)
		return -EINVAL;
	return add_pk(p, kid, alg, pk, err, errlen);
}

int auth_jwt_add_secret(struct auth_jwt_provider *p, const char *kid, int alg,
			const void *secret, size_t len, char *err,
			size_t errlen)
{
	struct auth_jwt_key *k;
	size_t min = 32;

	if (alg >= 0 && alg > AUTH_JWT_HS512) {
		set_err(err, errlen, "a secret can only be used with HS256/384/512, not %s",
			auth_jwt_alg_name(alg));
		return -EINVAL;
	}
	if (alg == AUTH_JWT_HS384)
		min = 48;
	else if (alg == AUTH_JWT_HS512)
		min = 64;
	if (len < min || len > AUTH_JWT_MAX_SECRET) {
		set_err(err, errlen, "%s",
			"HMAC secret must be 32 (HS256), 48 (HS384) or 64 (HS512) to 512 bytes long");
		return -EINVAL;
	}
	k = new_key(p, kid, alg);
	if (!k) {
		set_err(err, errlen, "%s", "kid too long or out of memory");
		return -EINVAL;
	}
	k->secret = malloc(len);
	if (!k->secret) {
		set_err(err, errlen, "%s", "out of memory");
		return -ENOMEM;
	}
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	p->n_keys++;
	return 0;
}

/* Decode the base64url member `name` of JWK toks[obj] into out. */
static ssize_t jwk_bytes(const char *buf, const struct auth_json_tok *t,
			 int obj, const char *name, uint8_t *out, size_t outlen)
{
	int r = auth_json_get(buf, t, obj, name);

	if (r < 0 || t[r].type != AUTH_JSON_STRING)
		return -ENOENT;
	return auth_b64url_decode(buf + t[r].start, t[r].end - t[r].start, out,
				  outlen);
}

static int jwk_one(struct auth_jwt_provider *p, const char *buf,
		   const struct auth_json_tok *t, int obj, char *err,
		   size_t errlen)
{
	uint8_t a[1024], b[1024];
	char kty[16], kid[AUTH_JWT_MAX_KID] = "", crv[16] = "", name[16];
	struct crypto_key *pk = NULL;
	ssize_t alen, blen;
	int r, alg = -1;

	if (t[obj].type != AUTH_JSON_OBJECT) {
		set_err(err, errlen, "%s", "JWKS: key is not an object");
		return -EINVAL;
	}
	r = auth_json_get(buf, t, obj, "kty");
	if (r < 0 || auth_json_str(buf, &t[r], kty, sizeof(kty)) < 0) {
		set_err(err, errlen, "%s", "JWKS: key without \"kty\"");
		return -EINVAL;
	}
	r = auth_json_get(buf, t, obj, "use");
	if (r >= 0 && !auth_json_str_eq(buf, &t[r], "sig", 3))
		return 0;	/* encryption key: not ours */
	r = auth_json_get(buf, t, obj, "kid");
	if (r >= 0 && auth_json_str(buf, &t[r], kid, sizeof(kid)) < 0) {
		set_err(err, errlen, "%s", "JWKS: \"kid\" not a string or too long");
		return -EINVAL;
	}
	r = auth_json_get(buf, t, obj, "alg");
	if (r >= 0) {
		if (auth_json_str(buf, &t[r], name, sizeof(name)) < 0 ||
		    (alg = auth_jwt_alg_from_name(name, strlen(name))) < 0) {
			set_err(err, errlen, "%s",
				"JWKS: unsupported \"alg\"");
			return -EINVAL;
		}
	}
	if (auth_json_get(buf, t, obj, "d") >= 0 ||
	    auth_json_get(buf, t, obj, "p") >= 0) {
		set_err(err, errlen, "JWKS: key '%s' contains private key material",
			kid);
		return -EINVAL;
	}
	r = auth_json_get(buf, t, obj, "crv");
	if (r >= 0 && auth_json_str(buf, &t[r], crv, sizeof(crv)) < 0) {
		set_err(err, errlen, "%s", "JWKS: bad \"crv\"");
		return -EINVAL;
	}
	if (!strcmp(kty, "RSA")) {
		alen = jwk_bytes(buf, t, obj, "n", a, sizeof(a));
		blen = jwk_bytes(buf, t, obj, "e", b, sizeof(b));
		if (alen <= 0 || blen <= 0) {
			set_err(err, errlen, "%s", "JWKS: RSA key needs \"n\" and \"e\"");
			return -EINVAL;
		}
		pk = crypto_key_from_rsa(a, (size_t)alen, b, (size_t)blen, err,
					 errlen);
	} else if (!strcmp(kty, "EC")) {
		enum crypto_key_type ct = !strcmp(crv, "P-256") ?
			CRYPTO_KEY_EC_P256 : !strcmp(crv, "P-384") ?
			CRYPTO_KEY_EC_P384 : CRYPTO_KEY_NONE;

		if (ct == CRYPTO_KEY_NONE) {
			set_err(err, errlen, "JWKS: EC curve '%s' not supported", crv);
			return -EINVAL;
		}
		alen = jwk_bytes(buf, t, obj, "x", a, sizeof(a));
		blen = jwk_bytes(buf, t, obj, "y", b, sizeof(b));
		if (alen <= 0 || blen <= 0) {
			set_err(err, errlen, "%s", "JWKS: EC key needs \"x\" and \"y\"");
			return -EINVAL;
		}
		pk = crypto_key_from_ec(ct, a, (size_t)alen, b, (size_t)blen,
					err, errlen);
	} else if (!strcmp(kty, "OKP")) {
		enum crypto_key_type ct = !strcmp(crv, "Ed25519") ?
			CRYPTO_KEY_ED25519 : !strcmp(crv, "Ed448") ?
			CRYPTO_KEY_ED448 : CRYPTO_KEY_NONE;

		if (ct == CRYPTO_KEY_NONE) {
			set_err(err, errlen, "JWKS: OKP curve '%s' not supported", crv);
			return -EINVAL;
		}
		alen = jwk_bytes(buf, t, obj, "x", a, sizeof(a));
		if (alen <= 0) {
			set_err(err, errlen, "%s", "JWKS: OKP key needs \"x\"");
			return -EINVAL;
		}
		pk = crypto_key_from_okp(ct, a, (size_t)alen, err, errlen);
	} else if (!strcmp(kty, "oct")) {
		alen = jwk_bytes(buf, t, obj, "k", a, sizeof(a));
		if (alen <= 0) {
			set_err(err, errlen, "%s", "JWKS: oct key needs \"k\"");
			return -EINVAL;
		}
		r = auth_jwt_add_secret(p, kid, alg, a, (size_t)alen, err,
					errlen);
		memset(a, 0, sizeof(a));
		return r ? r : 1;
	} else {
		set_err(err, errlen, "JWKS: unsupported \"kty\" '%s'", kty);
		return -EINVAL;
	}
	if (!pk)
		return -EINVAL;
	r = add_pk(p, kid, alg, pk, err, errlen);
	return r ? r : 1;
}

int auth_jwt_add_jwks(struct auth_jwt_provider *p, const char *json,
		      size_t len, char *err, size_t errlen)
{
	size_t max = len / 2 + 2;
	struct auth_json_tok *t;
	int n, keys, added = 0;

	if (max > 1u << 20) {
		set_err(err, errlen, "%s", "JWKS: document too large");
		return -EINVAL;
	}
	t = calloc(max, sizeof(*t));
	if (!t) {
		set_err(err, errlen, "%s", "out of memory");
		return -ENOMEM;
	}
	n = auth_json_parse(json, len, t, max);
	if (n < 0 || t[0].type != AUTH_JSON_OBJECT) {
		set_err(err, errlen, "%s", "JWKS: not a valid JSON object");
		added = -EINVAL;
		goto out;
	}
	keys = auth_json_get(json, t, 0, "keys");
	if (keys < 0 || t[keys].type != AUTH_JSON_ARRAY) {
		set_err(err, errlen, "%s", "JWKS: no \"keys\" array");
		added = -EINVAL;
		goto out;
	}
	for (uint32_t i = 0; i < t[keys].size; i++) {
		int r = jwk_one(p, json, t, auth_json_elem(t, keys, i), err,
				errlen);

		if (r < 0) {
			added = r;
			goto out;
		}
		added += r;
	}
	if (!added) {
		set_err(err, errlen, "%s", "JWKS: no signature keys");
		added = -EINVAL;
	}
out:
	free(t);
	return added;
}
