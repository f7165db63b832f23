// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for JWT verification, JWKS loading and base64url.
 *
 * Byte 0 picks the mode (low 2 bits): 0 verify the rest as a compact JWT
 * against a provider with an HS256 secret, a P-256 key and an Ed25519 key;
 * 1 load the rest as a JWKS document; 2 base64url-decode the rest; 3 verify
 * with issuer/audience/roles settings from byte 0's high bits. Checks: no
 * crash, over-read, leak or UB; an accepted token yields a header-safe
 * consumer name and roles; a decode never writes past its output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/auth_jwt.h"
#include "policy/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* HS256 secret of the seed corpus: 32 bytes of 'k' */
static const char secret[] = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
/* P-256 generator point and the RFC 8032 test 1 public key: valid keys */
static const uint8_t p256_x[32] = {
	0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6,
	0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb,
	0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96 };
static const uint8_t p256_y[32] = {
	0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb,
	0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31,
	0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5 };
static const uint8_t ed_x[32] = {
	0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
	0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
	0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a };

static struct auth_jwt_provider prov;
static int ready;

static void init(void)
{
	struct auth_jwt_key *k;
	char err[128];

	auth_jwt_provider_init(&prov);
	if (auth_jwt_add_secret(&prov, "hs", -1, secret, 32, err, sizeof(err)))
		abort();
	prov.keys = realloc(prov.keys, 3 * sizeof(*prov.keys));
	if (!prov.keys)
		abort();
	k = &prov.keys[1];
	memset(k, 0, 2 * sizeof(*k));
	strcpy(k->kid, "ec");
	k->alg = -1;
	k->pk = crypto_key_from_ec(CRYPTO_KEY_EC_P256, p256_x, 32, p256_y, 32,
				   err, sizeof(err));
	k[1].alg = -1;
	k[1].pk = crypto_key_from_okp(CRYPTO_KEY_ED25519, ed_x, 32, err,
				      sizeof(err));
	if (!k->pk || !k[1].pk)
		abort();
	prov.n_keys = 3;
	ready = 1;
}

static void check_claims(const struct auth_jwt_claims *c)
{
	if (!auth_name_valid(c->consumer, strlen(c->consumer)))
		abort();
	if (c->n_roles > AUTH_MAX_ROLES)
		abort();
	for (unsigned int i = 0; i < c->n_roles; i++)
		if (!auth_name_valid(c->roles[i], strlen(c->roles[i])))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_jwt_claims claims;
	enum auth_jwt_status st;
	char *buf;
	size_t len;

	if (!ready)
		init();
	if (size < 1)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);	/* exact size: ASan sees over-reads */
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);

	switch (data[0] & 3) {
	case 0:
	case 3: {
		struct auth_jwt_provider p = prov;
		char *aud[1] = { "api" };

		if ((data[0] & 3) == 3) {
			p.issuer = "iss";
			p.audiences = aud;
			p.n_audiences = 1;
			p.require_exp = data[0] & 4;
			p.leeway_s = data[0] & 8 ? 0 : 3600;
			strcpy(p.roles_claim, data[0] & 16 ? "scope" : "a.b.roles");
			strcpy(p.consumer_claim, data[0] & 32 ? "client_id" : "sub");
		}
		st = auth_jwt_verify(&p, buf, len, 1700000000, &claims);
		if ((unsigned)st >= AUTH_JWT_E_MAX)
			abort();
		if (st == AUTH_JWT_OK)
			check_claims(&claims);
		else if (claims.consumer[0])
			;	/* claims may be partly filled on refusal */
		break;
	}
	case 1: {
		struct auth_jwt_provider p;
		char err[256];
		int r;

		auth_jwt_provider_init(&p);
		r = auth_jwt_add_jwks(&p, buf, len, err, sizeof(err));
		if (r > 0 && (size_t)r != p.n_keys)
			abort();
		if (r < 0 && !err[0])
			abort();
		auth_jwt_provider_free(&p);
		break;
	}
	case 2: {
		size_t cap = len / 4 * 3 + 2;
		uint8_t *out = malloc(cap);
		ssize_t r;

		if (!out)
			break;
		r = auth_b64url_decode(buf, len, out, cap);
		if (r >= 0 && (size_t)r > cap)
			abort();
		if (r >= 0 && (size_t)r != len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0))
			abort();
		free(out);
		break;
	}
	}
	free(buf);
	return 0;
}
