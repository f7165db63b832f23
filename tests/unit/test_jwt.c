// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/policy/auth_jwt.c against vectors made here, at test time,
 * by the openssl command-line tool: keys are generated into a temporary
 * directory, tokens are signed by `openssl dgst` / `openssl pkeyutl`, so the
 * verifier is never checked against itself. Covers every algorithm,
 * tampered signatures and payloads, wrong keys, exp/nbf with leeway,
 * iss/aud, alg "none", HS/RS confusion, kid selection (PEM and JWKS) and
 * key-loading errors. Without an openssl binary the whole suite is skipped.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/auth_jwt.h"
#include "policy/crypto.h"
#include "guard.h"

static char dir[256];
static const int64_t NOW = 1700000000;
/* 64 random bytes, as hex: the HMAC secret (HS512 needs 64) */
static char hexkey[129];
static uint8_t rawkey[64];

/* ---- helpers ----------------------------------------------------------- */

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len)
		fail_msg("cannot write %s", path);
	fclose(f);
}

/* Independent base64url encoder (no padding), for building tokens. */
static size_t b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | in[i + 1] << 8;

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* DER ECDSA-Sig-Value -> fixed-size r||s (JWS form). */
static size_t der_to_raw(const uint8_t *der, size_t n, size_t clen,
			 uint8_t *out)
{
	size_t p = 2;

	assert_true(n > 8 && der[0] == 0x30);
	if (der[1] & 0x80)
		p = 2 + (der[1] & 0x7f);
	for (int part = 0; part < 2; part++) {
		size_t l;

		assert_int_equal(der[p], 0x02);
		l = der[p + 1];
		p += 2;
		while (l > clen) {	/* leading zero */
			p++;
			l--;
		}
		memset(out + part * clen, 0, clen - l);
		memcpy(out + part * clen + clen - l, der + p, l);
		p += l;
	}
	return 2 * clen;
}

/*
 * Sign header.payload with openssl. alg names the JWS algorithm; key is a
 * private key file in dir (or NULL for HMAC with hexkey, or `hmac_hex`).
 */
static char *make_jwt_hex(const char *alg, const char *header,
			  const char *payload, const char *key,
			  const char *hmac_hex)
{
	char h64[2048], p64[4096], s64[2048], path[512], sigp[512];
	char *tok, *sig;
	uint8_t raw[256];
	const char *md = strstr(alg, "256") ? "sha256" :
			 strstr(alg, "384") ? "sha384" : "sha512";
	size_t slen;
	int r;

	b64url((const uint8_t *)header, strlen(header), h64);
	b64url((const uint8_t *)payload, strlen(payload), p64);
	snprintf(path, sizeof(path), "%s/in", dir);
	snprintf(sigp, sizeof(sigp), "%s/sig", dir);
	{
		char in[6200];
		int n = snprintf(in, sizeof(in), "%s.%s", h64, p64);

		spit(path, in, (size_t)n);
	}
	if (alg[0] == 'H')
		r = sh("openssl dgst -%s -mac HMAC -macopt hexkey:%s -binary "
		       "-out %s %s", md, hmac_hex ? hmac_hex : hexkey, sigp,
		       path);
	else if (alg[0] == 'R')
		r = sh("openssl dgst -%s -sign %s/%s -binary -out %s %s", md,
		       dir, key, sigp, path);
	else if (alg[0] == 'P')
		r = sh("openssl dgst -%s -sign %s/%s -sigopt "
		       "rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest "
		       "-binary -out %s %s", md, dir, key, sigp, path);
	else if (alg[0] == 'E' && alg[1] == 'S')
		r = sh("openssl dgst -%s -sign %s/%s -binary -out %s %s", md,
		       dir, key, sigp, path);
	else
		r = sh("openssl pkeyutl -sign -rawin -inkey %s/%s -in %s "
		       "-out %s", dir, key, path, sigp);
	assert_int_equal(r, 0);
	sig = slurp(sigp, &slen);
	if (alg[0] == 'E' && alg[1] == 'S') {
		slen = der_to_raw((uint8_t *)sig, slen,
				  strstr(alg, "256") ? 32 : 48, raw);
		b64url(raw, slen, s64);
	} else {
		b64url((uint8_t *)sig, slen, s64);
	}
	free(sig);
	tok = malloc(strlen(h64) + strlen(p64) + strlen(s64) + 3);
	sprintf(tok, "%s.%s.%s", h64, p64, s64);
	return tok;
}

static char *make_jwt(const char *alg, const char *header,
		      const char *payload, const char *key)
{
	return make_jwt_hex(alg, header, payload, key, NULL);
}

static const char *good_payload(void)
{
	static char p[256];

	snprintf(p, sizeof(p),
		 "{\"sub\":\"alice\",\"exp\":%lld,\"roles\":[\"admin\",\"ops\"]}",
		 (long long)NOW + 600);
	return p;
}

static void add_pem(struct auth_jwt_provider *p, const char *file,
		    const char *kid)
{
	char path[512], err[256] = "";
	size_t n;
	char *pem;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	pem = slurp(path, &n);
	if (auth_jwt_add_pem(p, kid, -1, pem, n, err, sizeof(err)))
		fail_msg("add_pem %s: %s", file, err);
	free(pem);
}

/* A provider with every public key (no kids) and the HMAC secret. */
static void full_provider(struct auth_jwt_provider *p)
{
	char err[256];

	auth_jwt_provider_init(p);
	add_pem(p, "rsa.pub", NULL);
	add_pem(p, "ec256.pub", NULL);
	add_pem(p, "ec384.pub", NULL);
	add_pem(p, "ed.pub", NULL);
	add_pem(p, "ed448.pub", NULL);
	assert_int_equal(auth_jwt_add_secret(p, NULL, -1, rawkey, 64, err,
					     sizeof(err)), 0);
}

static enum auth_jwt_status verify(const struct auth_jwt_provider *p,
				   const char *tok, int64_t now,
				   struct auth_jwt_claims *c)
{
	size_t n = strlen(tok);
	const char *g = guard_copy(tok, n);

	return auth_jwt_verify(p, g, n, now, c);
}

#define assert_status(got, want)                                            \
	do {                                                                \
		enum auth_jwt_status g_ = (got), w_ = (want);               \
		if (g_ != w_)                                               \
			fail_msg("status %s, want %s", auth_jwt_strerror(g_), \
				 auth_jwt_strerror(w_));                    \
	} while (0)

static const struct {
	const char *alg, *key;
} all_algs[] = {
	{ "HS256", NULL },	{ "HS384", NULL },	{ "HS512", NULL },
	{ "RS256", "rsa.pem" }, { "RS384", "rsa.pem" }, { "RS512", "rsa.pem" },
	{ "PS256", "rsa.pem" }, { "PS384", "rsa.pem" }, { "PS512", "rsa.pem" },
	{ "ES256", "ec256.pem" }, { "ES384", "ec384.pem" },
	{ "EdDSA", "ed.pem" },	{ "EdDSA", "ed448.pem" },
};

/* ---- tests ------------------------------------------------------------- */

static void test_every_algorithm(void **state)
{
	struct auth_jwt_provider p;
	struct auth_jwt_claims c;

	full_provider(&p);
	for (size_t i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
		char hdr[64];
		char *tok;

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}",
			 all_algs[i].alg);
		tok = make_jwt(all_algs[i].alg, hdr, good_payload(),
			       all_algs[i].key);
		print_message("  %s/%s\n", all_algs[i].alg,
			      all_algs[i].key ? all_algs[i].key : "hmac");
		assert_status(verify(&p, tok, NOW, &c), AUTH_JWT_OK);
		assert_string_equal(c.consumer, "alice");
		assert_int_equal(c.n_roles, 2);
		assert_string_equal(c.roles[0], "admin");
		assert_string_equal(c.roles[1], "ops");
		assert_int_equal(c.exp, NOW + 600);
		free(tok);
	}
	auth_jwt_provider_free(&p);
}

/* Flip one signature character in the middle, keeping base64url valid. */
static void tamper_sig(char *tok)
{
	char *s = strrchr(tok, '.') + 1;
	size_t mid = strlen(s) / 2;

	s[mid] = s[mid] == 'A' ? 'B' : 'A';
}

static void test_tampered_signature(void **state)
{
	struct auth_jwt_provider p;
	struct auth_jwt_claims c;

	full_provider(&p);
	for (size_t i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
		char hdr[64];
		char *tok;

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", all_algs[i].alg);
		tok = make_jwt(all_algs[i].alg, hdr, good_payload(),
			       all_algs[i].key);
		tamper_sig(tok);
		assert_status(verify(&p, tok, NOW, &c), AUTH_JWT_E_SIGNATURE);
		assert_string_equal(c.consumer, "");
		free(tok);
	}
	auth_jwt_provider_free(&p);
}

static void test_tampered_payload(void **state)
{
	struct auth_jwt_provider p;
	struct auth_jwt_claims c;
	char *tok, *evil, p64[512], *d1, *d2, *forged;
	char payload[256];

	full_provider(&p);
	tok = make_jwt("RS256", "{\"alg\":\"RS256\"}", good_payload(),
		       "rsa.pem");
	/* same header and signature, payload now claims "root" */
	snprintf(payload, sizeof(payload),
		 "{\"sub\":\"root\",\"exp\":%lld,\"roles\":[\"admin\"]}",
		 (long long)NOW + 600);
	b64url((const uint8_t *)payload, strlen(payload), p64);
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');
	forged = malloc(strlen(tok) + strlen(p64) + 2);
	evil = forged;
	memcpy(evil, tok, (size_t)(d1 - tok) + 1);
	evil += d1 - tok + 1;
	strcpy(evil, p64);
	strcat(evil, d2);
	assert_status(verify(&p, forged, NOW, &c), AUTH_JWT_E_SIGNATURE);
	free(forged);
	free(tok);
	auth_jwt_provider_free(&p);
}

static char *token_with(const char *payload)
{
	return make_jwt("ES256", "{\"alg\":\"ES256\"}", payload, "ec256.pem");
}

/*
 * One token and the verdict on it, as a table row. The token is signed by
 * openssl as make_jwt() does: alg NULL means token_with() (ES256 with
 * ec256.pem, hdr and key unused), hdr NULL means {"alg":"<alg>"}, hmac_hex
 * another HMAC secret than the provider's. payload NULL is good_payload();
 * otherwise it is a format whose first %lld is NOW + exp and second
 * NOW + nbf. The token is verified at NOW + at.
 */
struct jwt_case {
	const char *what;
	const char *alg, *hdr, *key, *hmac_hex;
	const char *payload;
	int64_t exp, nbf, at;
	enum auth_jwt_status want;
};

static char *case_token(const struct jwt_case *c)
{
	char hdr[128], pl[512];
	const char *payload = good_payload();

	if (c->payload) {
		snprintf(pl, sizeof(pl), c->payload, (long long)(NOW + c->exp),
			 (long long)(NOW + c->nbf));
		payload = pl;
	}
	if (!c->alg)
		return token_with(payload);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", c->alg);
	return make_jwt_hex(c->alg, c->hdr ? c->hdr : hdr, payload, c->key,
			    c->hmac_hex);
}

/* Verify one row; a failure names the row. Claims are left in *cl. */
static void check_case(const struct auth_jwt_provider *p,
		       const struct jwt_case *c, struct auth_jwt_claims *cl)
{
	char *tok = case_token(c);
	enum auth_jwt_status got = verify(p, tok, NOW + c->at, cl);

	free(tok);
	if (got != c->want)
		fail_msg("%s: status %s, want %s", c->what,
			 auth_jwt_strerror(got), auth_jwt_strerror(c->want));
}

static void check_cases(const struct auth_jwt_provider *p,
			const struct jwt_case *c, size_t n)
{
	struct auth_jwt_claims cl;

	for (size_t i = 0; i < n; i++)
		check_case(p, &c[i], &cl);
}

#define CHECK_CASES(p, table) \
	check_cases((p), (table), sizeof(table) / sizeof((table)[0]))

static void test_wrong_key(void **state)
{
	static const struct jwt_case other_keys[] = {
		{ .what = "RS256 against another RSA key", .alg = "RS256",
		  .key = "rsa.pem", .want = AUTH_JWT_E_SIGNATURE },
		{ .what = "ES256 against another P-256 key", .alg = "ES256",
		  .key = "ec256.pem", .want = AUTH_JWT_E_SIGNATURE },
	};
	static const struct jwt_case other_secret[] = {
		{ .what = "HS256 with another secret", .alg = "HS256",
		  .hmac_hex = "00112233445566778899aabbccddeeff"
			      "00112233445566778899aabbccddeeff",
		  .want = AUTH_JWT_E_SIGNATURE },
	};
	struct auth_jwt_provider p;

	auth_jwt_provider_init(&p);
	add_pem(&p, "rsa2.pub", NULL);
	add_pem(&p, "ec256b.pub", NULL);
	CHECK_CASES(&p, other_keys);
	auth_jwt_provider_free(&p);
	/* HMAC with another secret */
	full_provider(&p);
	CHECK_CASES(&p, other_secret);
	auth_jwt_provider_free(&p);
}

static void test_expiry_and_leeway(void **state)
{
#define EXP_ONLY "{\"sub\":\"a\",\"exp\":%lld}"
	/* valid until exp + leeway, exclusive */
	static const struct jwt_case leeway30[] = {
		{ .what = "leeway 30, long before exp", .payload = EXP_ONLY,
		  .at = -1000, .want = AUTH_JWT_OK },
		{ .what = "leeway 30, exp + 29", .payload = EXP_ONLY, .at = 29,
		  .want = AUTH_JWT_OK },
		{ .what = "leeway 30, exp + 30", .payload = EXP_ONLY, .at = 30,
		  .want = AUTH_JWT_E_EXPIRED },
		{ .what = "leeway 30, long after exp", .payload = EXP_ONLY,
		  .at = 100000, .want = AUTH_JWT_E_EXPIRED },
	};
	static const struct jwt_case leeway0[] = {
		{ .what = "leeway 0, exp - 1", .payload = EXP_ONLY, .at = -1,
		  .want = AUTH_JWT_OK },
		{ .what = "leeway 0, at exp", .payload = EXP_ONLY, .at = 0,
		  .want = AUTH_JWT_E_EXPIRED },
		/* fractional NumericDate is truncated */
		{ .what = "fractional exp, exp - 1",
		  .payload = "{\"sub\":\"a\",\"exp\":%lld.75}", .at = -1,
		  .want = AUTH_JWT_OK },
		{ .what = "fractional exp, at exp",
		  .payload = "{\"sub\":\"a\",\"exp\":%lld.75}", .at = 0,
		  .want = AUTH_JWT_E_EXPIRED },
		{ .what = "exp not a number",
		  .payload = "{\"sub\":\"a\",\"exp\":\"tomorrow\"}",
		  .want = AUTH_JWT_E_MALFORMED },
		/* missing exp: refused unless require_exp is off */
		{ .what = "missing exp, required", .payload = "{\"sub\":\"a\"}",
		  .want = AUTH_JWT_E_NO_EXP },
	};
	static const struct jwt_case no_require_exp[] = {
		{ .what = "missing exp, not required",
		  .payload = "{\"sub\":\"a\"}", .want = AUTH_JWT_OK },
	};
	struct auth_jwt_provider p;

	full_provider(&p);
	p.leeway_s = 30;
	CHECK_CASES(&p, leeway30);
	p.leeway_s = 0;
	CHECK_CASES(&p, leeway0);
	p.require_exp = false;
	CHECK_CASES(&p, no_require_exp);
	auth_jwt_provider_free(&p);
}

static void test_not_before(void **state)
{
	/* exp an hour after NOW, nbf at NOW, leeway 30 */
#define NBF "{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}"
	static const struct jwt_case cases[] = {
		{ .what = "at nbf", .payload = NBF, .exp = 3600, .at = 0,
		  .want = AUTH_JWT_OK },
		{ .what = "nbf - leeway", .payload = NBF, .exp = 3600,
		  .at = -30, .want = AUTH_JWT_OK },
		{ .what = "nbf - leeway - 1", .payload = NBF, .exp = 3600,
		  .at = -31, .want = AUTH_JWT_E_NOT_YET_VALID },
		{ .what = "an hour before nbf", .payload = NBF, .exp = 3600,
		  .at = -3600, .want = AUTH_JWT_E_NOT_YET_VALID },
	};
#undef NBF
	struct auth_jwt_provider p;

	full_provider(&p);
	p.leeway_s = 30;
	CHECK_CASES(&p, cases);
	auth_jwt_provider_free(&p);
}

static void test_issuer_audience(void **state)
{
#define IDP "\"iss\":\"https://idp.example\""
	static const struct jwt_case cases[] = {
		{ .what = "issuer and one audience",
		  .payload = "{\"sub\":\"a\",\"exp\":%lld," IDP
			     ",\"aud\":\"billing\"}",
		  .exp = 60, .want = AUTH_JWT_OK },
		{ .what = "issuer and an audience array",
		  .payload = "{\"sub\":\"a\",\"exp\":%lld," IDP
			     ",\"aud\":[\"x\",\"api\"]}",
		  .exp = 60, .want = AUTH_JWT_OK },
		{ .what = "another issuer",
		  .payload = "{\"sub\":\"a\",\"exp\":%lld,\"iss\":"
			     "\"https://evil.example\",\"aud\":\"api\"}",
		  .exp = 60, .want = AUTH_JWT_E_ISSUER },
		{ .what = "no issuer",
		  .payload = "{\"sub\":\"a\",\"exp\":%lld,\"aud\":\"api\"}",
		  .exp = 60, .want = AUTH_JWT_E_ISSUER },
		{ .what = "no audience of ours",
		  .payload = "{\"sub\":\"a\",\"exp\":%lld," IDP
			     ",\"aud\":[\"x\",\"y\"]}",
		  .exp = 60, .want = AUTH_JWT_E_AUDIENCE },
		{ .what = "no audience",
		  .payload = "{\"sub\":\"a\",\"exp\":%lld," IDP "}",
		  .exp = 60, .want = AUTH_JWT_E_AUDIENCE },
	};
#undef IDP
	struct auth_jwt_provider p;
	char *auds[] = { strdup("api"), strdup("billing") };

	full_provider(&p);
	p.issuer = strdup("https://idp.example");
	p.audiences = malloc(sizeof(auds));
	memcpy(p.audiences, auds, sizeof(auds));
	p.n_audiences = 2;
	CHECK_CASES(&p, cases);
	auth_jwt_provider_free(&p);
}

static void test_alg_none(void **state)
{
	struct auth_jwt_provider p;
	struct auth_jwt_claims c;
	char h64[128], p64[512], tok[1024];
	const char *hdrs[] = { "{\"alg\":\"none\"}", "{\"alg\":\"None\"}",
			       "{\"alg\":\"NONE\"}", "{\"alg\":\"\"}",
			       "{\"alg\":\"HS1\"}" };

	full_provider(&p);
	b64url((const uint8_t *)good_payload(), strlen(good_payload()), p64);
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		b64url((const uint8_t *)hdrs[i], strlen(hdrs[i]), h64);
		snprintf(tok, sizeof(tok), "%s.%s.", h64, p64);
		assert_status(verify(&p, tok, NOW, &c), AUTH_JWT_E_ALG);
		snprintf(tok, sizeof(tok), "%s.%s.c2ln", h64, p64);
		assert_status(verify(&p, tok, NOW, &c), AUTH_JWT_E_ALG);
	}
	/* no alg at all */
	b64url((const uint8_t *)"{\"typ\":\"JWT\"}", 13, h64);
	snprintf(tok, sizeof(tok), "%s.%s.c2ln", h64, p64);
	assert_status(verify(&p, tok, NOW, &c), AUTH_JWT_E_MALFORMED);
	auth_jwt_provider_free(&p);
}

/*
 * The classic confusion: the verifier holds an RSA public key; the attacker
 * signs HS256 with the public key's PEM text as the HMAC secret.
 */
static void test_hs_rs_confusion(void **state)
{
	struct auth_jwt_provider p;
	struct auth_jwt_claims c;
	char path[512], hex[4096];
	size_t n;
	char *pem, *tok;

	auth_jwt_provider_init(&p);
	add_pem(&p, "rsa.pub", NULL);
	snprintf(path, sizeof(path), "%s/rsa.pub", dir);
	pem = slurp(path, &n);
	for (size_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)pem[i]);
	tok = make_jwt_hex("HS256", "{\"alg\":\"HS256\"}", good_payload(), NULL,
			   hex);
	assert_status(verify(&p, tok, NOW, &c), AUTH_JWT_E_ALG);
	free(tok);
	/* and the other way: an RS256 token against an HMAC-only provider */
	auth_jwt_provider_free(&p);
	auth_jwt_provider_init(&p);
	{
		char err[128];

		assert_int_equal(auth_jwt_add_secret(&p, NULL, -1, rawkey, 64,
						     err, sizeof(err)), 0);
	}
	tok = make_jwt("RS256", "{\"alg\":\"RS256\"}", good_payload(),
		       "rsa.pem");
	assert_status(verify(&p, tok, NOW, &c), AUTH_JWT_E_ALG);
	free(tok);
	/* ES384 token, only a P-256 key: curve does not fit */
	auth_jwt_provider_free(&p);
	auth_jwt_provider_init(&p);
	add_pem(&p, "ec256.pub", NULL);
	tok = make_jwt("ES384", "{\"alg\":\"ES384\"}", good_payload(),
		       "ec384.pem");
	assert_status(verify(&p, tok, NOW, &c), AUTH_JWT_E_ALG);
	free(tok);
	free(pem);
	auth_jwt_provider_free(&p);
}

static void test_allowed_algorithms(void **state)
{
	static const struct jwt_case only_es256[] = {
		{ .what = "RS256, only ES256 allowed", .alg = "RS256",
		  .key = "rsa.pem", .want = AUTH_JWT_E_ALG },
		{ .what = "ES256, only ES256 allowed",
		  .want = AUTH_JWT_OK },
	};
	/* a key pinned to one algorithm refuses others of its family */
	static const struct jwt_case pinned_ps256[] = {
		{ .what = "RS256 on a key pinned to PS256", .alg = "RS256",
		  .hdr = "{\"alg\":\"RS256\",\"kid\":\"k\"}", .key = "rsa.pem",
		  .want = AUTH_JWT_E_ALG },
		{ .what = "PS256 on a key pinned to PS256", .alg = "PS256",
		  .hdr = "{\"alg\":\"PS256\",\"kid\":\"k\"}", .key = "rsa.pem",
		  .want = AUTH_JWT_OK },
	};
	struct auth_jwt_provider p;

	full_provider(&p);
	p.algs = 1u << AUTH_JWT_ES256;
	CHECK_CASES(&p, only_es256);
	auth_jwt_provider_free(&p);

	auth_jwt_provider_init(&p);
	{
		char path[512], err[256];
		size_t n;
		char *pem;

		snprintf(path, sizeof(path), "%s/rsa.pub", dir);
		pem = slurp(path, &n);
		assert_int_equal(auth_jwt_add_pem(&p, "k", AUTH_JWT_PS256, pem,
						  n, err, sizeof(err)), 0);
		free(pem);
	}
	CHECK_CASES(&p, pinned_ps256);
	auth_jwt_provider_free(&p);
}

static void test_kid_selection(void **state)
{
	static const struct jwt_case cases[] = {
		{ .what = "kid names the signing key", .alg = "RS256",
		  .hdr = "{\"alg\":\"RS256\",\"kid\":\"new\"}",
		  .key = "rsa.pem", .want = AUTH_JWT_OK },
		/* kid points at the wrong (but fitting) key */
		{ .what = "kid names another RSA key", .alg = "RS256",
		  .hdr = "{\"alg\":\"RS256\",\"kid\":\"old\"}",
		  .key = "rsa.pem", .want = AUTH_JWT_E_SIGNATURE },
		{ .what = "unknown kid", .alg = "RS256",
		  .hdr = "{\"alg\":\"RS256\",\"kid\":\"nope\"}",
		  .key = "rsa.pem", .want = AUTH_JWT_E_KID },
		/* kid names an EC key, header says RS256 */
		{ .what = "kid names an EC key", .alg = "RS256",
		  .hdr = "{\"alg\":\"RS256\",\"kid\":\"ec\"}", .key = "rsa.pem",
		  .want = AUTH_JWT_E_ALG },
		/* no kid: every fitting key is tried */
		{ .what = "no kid", .alg = "RS256", .key = "rsa.pem",
		  .want = AUTH_JWT_OK },
	};
	struct auth_jwt_provider p;

	auth_jwt_provider_init(&p);
	add_pem(&p, "rsa2.pub", "old");
	add_pem(&p, "rsa.pub", "new");
	add_pem(&p, "ec256.pub", "ec");
	CHECK_CASES(&p, cases);
	auth_jwt_provider_free(&p);
}

/* Build a JWKS from the generated public keys, via openssl output. */
static char *build_jwks(void)
{
	char path[512], n64[1024], x64[256], y64[256], ex64[128], ed64[128];
	uint8_t mod[512], der[256];
	size_t len, mlen = 0;
	char *txt, *der_s, *jwks;

	/* RSA modulus as hex */
	assert_int_equal(sh("openssl rsa -pubin -in %s/rsa.pub -noout -modulus "
			    "> %s/mod.txt 2>/dev/null", dir, dir), 0);
	snprintf(path, sizeof(path), "%s/mod.txt", dir);
	txt = slurp(path, &len);
	{
		const char *h = strchr(txt, '=') + 1;

		while (h[0] && h[1] && h[0] != '\n') {
			unsigned int v;

			sscanf(h, "%2x", &v);
			mod[mlen++] = (uint8_t)v;
			h += 2;
		}
	}
	free(txt);
	b64url(mod, mlen, n64);
	/* EC P-256 public point: the last 65 bytes of the SPKI DER */
	assert_int_equal(sh("openssl pkey -pubin -in %s/ec256.pub -outform DER "
			    "-out %s/ec.der", dir, dir), 0);
	snprintf(path, sizeof(path), "%s/ec.der", dir);
	der_s = slurp(path, &len);
	memcpy(der, der_s + len - 65, 65);
	free(der_s);
	b64url(der + 1, 32, x64);
	b64url(der + 33, 32, y64);
	/* Ed25519: the last 32 bytes */
	assert_int_equal(sh("openssl pkey -pubin -in %s/ed.pub -outform DER "
			    "-out %s/ed.der", dir, dir), 0);
	snprintf(path, sizeof(path), "%s/ed.der", dir);
	der_s = slurp(path, &len);
	b64url((uint8_t *)der_s + len - 32, 32, ed64);
	free(der_s);
	b64url((const uint8_t *)"\x01\x00\x01", 3, ex64);

	jwks = malloc(4096);
	snprintf(jwks, 4096,
		 "{\"keys\":[\n"
		 " {\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"alg\":\"RS256\","
		 "\"n\":\"%s\",\"e\":\"%s\"},\n"
		 " {\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},\n"
		 " {\"kty\":\"OKP\",\"kid\":\"d1\",\"crv\":\"Ed25519\",\"x\":\"%s\"},\n"
		 " {\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"%s\"}\n"
		 "]}", n64, ex64, x64, y64, ed64, n64, ex64);
	return jwks;
}

static void test_jwks(void **state)
{
	static const struct jwt_case cases[] = {
		{ .what = "RSA JWK r1", .alg = "RS256",
		  .hdr = "{\"alg\":\"RS256\",\"kid\":\"r1\"}", .key = "rsa.pem",
		  .want = AUTH_JWT_OK },
		/* r1 is pinned to RS256 by its "alg" */
		{ .what = "PS256 on r1, pinned to RS256", .alg = "PS256",
		  .hdr = "{\"alg\":\"PS256\",\"kid\":\"r1\"}", .key = "rsa.pem",
		  .want = AUTH_JWT_E_ALG },
		{ .what = "EC JWK e1", .alg = "ES256",
		  .hdr = "{\"alg\":\"ES256\",\"kid\":\"e1\"}",
		  .key = "ec256.pem", .want = AUTH_JWT_OK },
		{ .what = "OKP JWK d1", .alg = "EdDSA",
		  .hdr = "{\"alg\":\"EdDSA\",\"kid\":\"d1\"}", .key = "ed.pem",
		  .want = AUTH_JWT_OK },
		/* the "enc" key was skipped */
		{ .what = "the enc key", .alg = "RS256",
		  .hdr = "{\"alg\":\"RS256\",\"kid\":\"enc\"}",
		  .key = "rsa.pem", .want = AUTH_JWT_E_KID },
	};
	struct auth_jwt_provider p;
	char err[256] = "";
	char *jwks = build_jwks();
	int n;

	auth_jwt_provider_init(&p);
	n = auth_jwt_add_jwks(&p, jwks, strlen(jwks), err, sizeof(err));
	if (n != 3)
		fail_msg("add_jwks: %d %s", n, err);
	CHECK_CASES(&p, cases);
	free(jwks);
	auth_jwt_provider_free(&p);
}

static void test_jwks_errors(void **state)
{
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "", "not a valid JSON object" },
		{ "[]", "not a valid JSON object" },
		{ "{\"keys\":{}}", "no \"keys\" array" },
		{ "{\"keys\":[]}", "no signature keys" },
		{ "{\"keys\":[1]}", "key is not an object" },
		{ "{\"keys\":[{\"n\":\"AQAB\"}]}", "without \"kty\"" },
		{ "{\"keys\":[{\"kty\":\"XYZ\"}]}", "unsupported \"kty\"" },
		{ "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}", "needs \"n\"" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-521\"}]}", "not supported" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
		  "length does not match" },
		{ "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}", "HMAC secret" },
		{ "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"XS1\",\"k\":\"AAAA\"}]}", "unsupported \"alg\"" },
		{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"p\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"d\":\"AQAB\"}]}",
		  "private key material" },
		{ "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", "RSA" },
		{ "{\"keys\":[],\"keys\":[]}", "not a valid JSON" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct auth_jwt_provider p;
		char err[256] = "";
		int r;

		auth_jwt_provider_init(&p);
		r = auth_jwt_add_jwks(&p, bad[i].json, strlen(bad[i].json), err,
				      sizeof(err));
		if (r >= 0 || !strstr(err, bad[i].msg))
			fail_msg("jwks %zu: r=%d err='%s', want '%s'", i, r,
				 err, bad[i].msg);
		auth_jwt_provider_free(&p);
	}
}

static void test_pem_errors(void **state)
{
	/* file NULL: the 7 bytes "garbage"; msg NULL: text not checked */
	static const struct {
		const char *what, *file;
		int alg, ret;
		const char *msg;
	} pems[] = {
		{ "not PEM", NULL, -1, -EINVAL, "no PEM public key" },
		{ "RSA 1024", "rsa1024.pub", -1, -EINVAL, "shorter than 2048" },
		/* an EC key pinned to an RSA algorithm */
		{ "EC key pinned to RS256", "ec256.pub", AUTH_JWT_RS256,
		  -EINVAL, "does not fit" },
		/* PKCS#1 "RSA PUBLIC KEY" is accepted */
		{ "PKCS#1 RSA public key", "rsa.pkcs1", -1, 0, NULL },
	};
	/* secrets: too short, wrong family */
	static const struct {
		const char *what;
		const void *secret;
		size_t len;
		int alg, ret;
		const char *msg;
	} secrets[] = {
		{ "5-byte secret", "short", 5, -1, -EINVAL, "HMAC secret" },
		{ "32 bytes for HS512", rawkey, 32, AUTH_JWT_HS512, -EINVAL,
		  NULL },
		{ "secret pinned to RS256", rawkey, 64, AUTH_JWT_RS256,
		  -EINVAL, "only be used with HS" },
	};
	struct auth_jwt_provider p;

	auth_jwt_provider_init(&p);
	for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]); i++) {
		char path[512], err[256] = "";
		const char *pem = "garbage";
		char *file = NULL;
		size_t n = 7;
		int r;

		if (pems[i].file) {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 pems[i].file);
			pem = file = slurp(path, &n);
		}
		r = auth_jwt_add_pem(&p, NULL, pems[i].alg, pem, n, err,
				     sizeof(err));
		free(file);
		if (r != pems[i].ret ||
		    (pems[i].msg && !strstr(err, pems[i].msg)))
			fail_msg("%s: %d '%s', want %d '%s'", pems[i].what, r,
				 err, pems[i].ret,
				 pems[i].msg ? pems[i].msg : "");
	}
	assert_int_equal(p.n_keys, 1);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		char err[256] = "";
		int r = auth_jwt_add_secret(&p, NULL, secrets[i].alg,
					    secrets[i].secret, secrets[i].len,
					    err, sizeof(err));

		if (r != secrets[i].ret ||
		    (secrets[i].msg && !strstr(err, secrets[i].msg)))
			fail_msg("%s: %d '%s', want %d '%s'", secrets[i].what,
				 r, err, secrets[i].ret,
				 secrets[i].msg ? secrets[i].msg : "");
	}
	auth_jwt_provider_free(&p);
}

/* A token row and, when given, the consumer and roles it must yield. */
struct claims_case {
	struct jwt_case c;
	const char *consumer;
	int n_roles;		/* 0: not checked */
	const char *roles[2];	/* NULL: not checked */
};

static void check_claims(const struct auth_jwt_provider *p,
			 const struct claims_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct auth_jwt_claims cl;

		check_case(p, &t[i].c, &cl);
		if (t[i].consumer && strcmp(cl.consumer, t[i].consumer))
			fail_msg("%s: consumer '%s', want '%s'", t[i].c.what,
				 cl.consumer, t[i].consumer);
		if (t[i].n_roles && (int)cl.n_roles != t[i].n_roles)
			fail_msg("%s: %d roles, want %d", t[i].c.what,
				 (int)cl.n_roles, t[i].n_roles);
		for (int k = 0; k < 2; k++)
			if (t[i].roles[k] && strcmp(cl.roles[k], t[i].roles[k]))
				fail_msg("%s: role %d '%s', want '%s'",
					 t[i].c.what, k, cl.roles[k],
					 t[i].roles[k]);
	}
}

static void test_claims(void **state)
{
	/* nested roles claim, consumer from another claim; roles that could
	 * not go in a header are dropped, never grant */
	static const struct claims_case nested[] = {
		{ .c = { .what = "nested roles, consumer from client_id",
			 .payload = "{\"sub\":\"x\",\"client_id\":\"svc-a\","
				    "\"exp\":%lld,\"realm_access\":{\"roles\":"
				    "[\"reader\",\"bad role\",\"w,x\","
				    "\"writer\"]}}",
			 .exp = 60, .want = AUTH_JWT_OK },
		  .consumer = "svc-a", .n_roles = 2,
		  .roles = { "reader", "writer" } },
	};
	static const struct claims_case scope[] = {
		/* space-separated scope string */
		{ .c = { .what = "scope string",
			 .payload = "{\"sub\":\"bob\",\"exp\":%lld,"
				    "\"scope\":\"read  write\"}",
			 .exp = 60, .want = AUTH_JWT_OK },
		  .n_roles = 2, .roles = { NULL, "write" } },
		/* roles of the wrong type */
		{ .c = { .what = "scope not a string",
			 .payload = "{\"sub\":\"bob\",\"exp\":%lld,"
				    "\"scope\":7}",
			 .exp = 60, .want = AUTH_JWT_E_CLAIM } },
		/* consumer claim missing, not a string, unsafe for a header */
		{ .c = { .what = "no consumer claim",
			 .payload = "{\"exp\":%lld}",
			 .exp = 60, .want = AUTH_JWT_E_CLAIM } },
		{ .c = { .what = "consumer not a string",
			 .payload = "{\"sub\":42,\"exp\":%lld}",
			 .exp = 60, .want = AUTH_JWT_E_CLAIM } },
		{ .c = { .what = "consumer with CR LF",
			 .payload = "{\"sub\":\"a\\r\\nX-Evil: 1\","
				    "\"exp\":%lld}",
			 .exp = 60, .want = AUTH_JWT_E_CLAIM } },
		/* duplicate claim names are malformed JSON here */
		{ .c = { .what = "duplicate sub",
			 .payload = "{\"sub\":\"a\",\"sub\":\"admin\","
				    "\"exp\":%lld}",
			 .exp = 60, .want = AUTH_JWT_E_MALFORMED } },
	};
	struct auth_jwt_provider p;

	full_provider(&p);
	strcpy(p.roles_claim, "realm_access.roles");
	strcpy(p.consumer_claim, "client_id");
	check_claims(&p, nested, sizeof(nested) / sizeof(nested[0]));
	strcpy(p.roles_claim, "scope");
	strcpy(p.consumer_claim, "sub");
	check_claims(&p, scope, sizeof(scope) / sizeof(scope[0]));
	auth_jwt_provider_free(&p);
}

static void test_crit_and_malformed(void **state)
{
	static const struct jwt_case signed_bad[] = {
		{ .what = "crit header", .alg = "ES256",
		  .hdr = "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}",
		  .key = "ec256.pem", .want = AUTH_JWT_E_CRIT },
		/* valid signature over a payload that is not JSON */
		{ .what = "payload not JSON", .payload = "[1,2",
		  .want = AUTH_JWT_E_MALFORMED },
	};
	static const char *bad[] = {
		"", "a", "a.b", "a.b.c.d", "..", "!!.e30.c2ln",
		"e30.e30.c2ln",			/* {} header: no alg */
		"bm90IGpzb24.e30.c2ln",		/* "not json" */
		"eyJhbGciOiJIUzI1NiJ9=.e30.c2ln", /* padding */
	};
	struct auth_jwt_provider p;
	struct auth_jwt_claims c;

	full_provider(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum auth_jwt_status got = verify(&p, bad[i], NOW, &c);

		if (got != AUTH_JWT_E_MALFORMED)
			fail_msg("token '%s': status %s, want %s", bad[i],
				 auth_jwt_strerror(got),
				 auth_jwt_strerror(AUTH_JWT_E_MALFORMED));
	}
	CHECK_CASES(&p, signed_bad);
	/* too long */
	{
		char *big = malloc(AUTH_JWT_MAX_TOKEN + 2);

		memset(big, 'A', AUTH_JWT_MAX_TOKEN + 1);
		big[AUTH_JWT_MAX_TOKEN + 1] = '\0';
		assert_status(verify(&p, big, NOW, &c), AUTH_JWT_E_TOO_LONG);
		free(big);
	}
	auth_jwt_provider_free(&p);
}

static void test_alg_names(void **state)
{
	for (int a = 0; a < AUTH_JWT_ALG_MAX; a++) {
		const char *n = auth_jwt_alg_name((enum auth_jwt_alg)a);

		assert_int_equal(auth_jwt_alg_from_name(n, strlen(n)), a);
	}
	assert_int_equal(auth_jwt_alg_from_name("none", 4), -1);
	assert_int_equal(auth_jwt_alg_from_name("hs256", 5), -1);
	assert_string_equal(auth_jwt_strerror(AUTH_JWT_E_EXPIRED),
			    "token expired");
}

/* ---- setup ------------------------------------------------------------- */

static int gen_keys(void **state)
{
	static const char *cmds[] = {
		"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/rsa.pem",
		"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/rsa2.pem",
		"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out %s/rsa1024.pem",
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/ec256.pem",
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/ec256b.pem",
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out %s/ec384.pem",
		"openssl genpkey -algorithm ed25519 -out %s/ed.pem",
		"openssl genpkey -algorithm ed448 -out %s/ed448.pem",
	};
	static const char *pubs[] = { "rsa", "rsa2", "rsa1024", "ec256",
				      "ec256b", "ec384", "ed", "ed448" };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char c[512];

		snprintf(c, sizeof(c), cmds[i], dir);
		if (sh("%s 2>/dev/null", c))
			return -1;
		if (sh("openssl pkey -in %s/%s.pem -pubout -out %s/%s.pub",
		       dir, pubs[i], dir, pubs[i]))
			return -1;
	}
	if (sh("openssl rsa -in %s/rsa.pem -RSAPublicKey_out -out %s/rsa.pkcs1 "
	       "2>/dev/null", dir, dir))
		return -1;
	if (crypto_random(rawkey, sizeof(rawkey)))
		return -1;
	for (size_t i = 0; i < sizeof(rawkey); i++)
		sprintf(hexkey + 2 * i, "%02x", rawkey[i]);
	return 0;
}

static int cleanup(void **state)
{
	guard_free();
	sh("rm -rf %s", dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_algorithm),
		cmocka_unit_test(test_tampered_signature),
		cmocka_unit_test(test_tampered_payload),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_expiry_and_leeway),
		cmocka_unit_test(test_not_before),
		cmocka_unit_test(test_issuer_audience),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_hs_rs_confusion),
		cmocka_unit_test(test_allowed_algorithms),
		cmocka_unit_test(test_kid_selection),
		cmocka_unit_test(test_jwks),
		cmocka_unit_test(test_jwks_errors),
		cmocka_unit_test(test_pem_errors),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_crit_and_malformed),
		cmocka_unit_test(test_alg_names),
	};
	const char *tmp = getenv("TMPDIR");

	if (system("openssl version >/dev/null 2>&1")) {
		printf("test_jwt: skipped: no openssl command-line tool\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "%s/test_jwt.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	return cmocka_run_group_tests_name("jwt", tests, gen_keys, cleanup);
}
