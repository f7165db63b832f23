// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/policy/auth.c (consumers, credential lookup, 401/403
 * decisions, stripping, RBAC, L7 CIDR, X-Forwarded-For), token hashing,
 * the strict JSON reader (auth_json.c) and base64url.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/auth.h"
#include "policy/auth_json.h"
#include "http/http.h"
#include "guard.h"

#define NOW 1700000000

static struct auth_store store;

static void hash_of(const char *tok, uint8_t h[32])
{
	char txt[AUTH_HASH_TEXT_LEN], err[128];

	auth_hash_token(tok, strlen(tok), txt);
	assert_int_equal(auth_parse_hash(txt, h, err, sizeof(err)), 0);
}

/* alice: admin+ops, bearer "alice-token", key "alice-key"; bob: reader. */
static int setup(void **state)
{
	uint8_t h[32];
	int a, b;

	auth_store_init(&store);
	a = auth_store_add_consumer(&store, "alice");
	b = auth_store_add_consumer(&store, "bob");
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);
	assert_int_equal(auth_store_add_role(&store, 0, "admin"), 0);
	assert_int_equal(auth_store_add_role(&store, 0, "ops"), 0);
	assert_int_equal(auth_store_add_role(&store, 1, "reader"), 0);
	hash_of("alice-token", h);
	assert_int_equal(auth_store_add_cred(&store, 0, AUTH_CRED_BEARER, h), 0);
	hash_of("alice-key", h);
	assert_int_equal(auth_store_add_cred(&store, 0, AUTH_CRED_KEY, h), 0);
	hash_of("bob-token", h);
	assert_int_equal(auth_store_add_cred(&store, 1, AUTH_CRED_BEARER, h), 0);
	hash_of("bob-key", h);
	assert_int_equal(auth_store_add_cred(&store, 1, AUTH_CRED_KEY, h), 0);
	hash_of("cn:bob", h);
	assert_int_equal(auth_store_add_cred(&store, 1, AUTH_CRED_CERT, h), 0);
	return 0;
}

static int teardown(void **state)
{
	auth_store_free(&store);
	guard_free();
	return 0;
}

struct req {
	struct http_header h[8];
	size_t n;
	struct sockaddr_in sin;
	const char *target;
};

static void req_init(struct req *r, const char *target)
{
	memset(r, 0, sizeof(*r));
	r->sin.sin_family = AF_INET;
	inet_pton(AF_INET, "198.18.0.10", &r->sin.sin_addr);
	r->target = target;
}

static void hdr(struct req *r, const char *name, const char *value)
{
	r->h[r->n].name = name;
	r->h[r->n].name_len = strlen(name);
	r->h[r->n].value = value;
	r->h[r->n].value_len = strlen(value);
	r->n++;
}

static enum auth_verdict eval(const struct auth_policy *p, struct req *r,
			      struct auth_result *res)
{
	struct auth_request ar = {
		.headers = r->h,
		.n_headers = r->n,
		.target = r->target,
		.target_len = r->target ? strlen(r->target) : 0,
		.client = (struct sockaddr *)&r->sin,
	};

	return auth_evaluate(&store, p, &ar, NOW, res);
}

static void policy(struct auth_policy *p, uint32_t methods)
{
	auth_policy_init(p);
	p->methods = methods;
}

static void add_role(struct auth_policy *p, const char *role)
{
	p->roles = realloc(p->roles, (p->n_roles + 1) * sizeof(char *));
	p->roles[p->n_roles++] = strdup(role);
}

/* ---- hashing & store --------------------------------------------------- */

static void test_hash_token(void **state)
{
	char out[AUTH_HASH_TEXT_LEN];
	uint8_t h[32];
	char err[256];

	/* FIPS 180-2 test vector */
	auth_hash_token("abc", 3, out);
	assert_string_equal(out, "sha256:ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	auth_hash_token("", 0, out);
	assert_string_equal(out, "sha256:e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	assert_int_equal(auth_parse_hash("sha256:BA7816BF8F01CFEA414140DE5DAE2223"
					 "B00361A396177A9CB410FF61F20015AD", h,
					 err, sizeof(err)), 0);
	assert_int_equal(h[0], 0xba);
	assert_int_equal(h[31], 0xad);
	assert_int_equal(auth_parse_hash("my-secret-token", h, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "never in plain text"));
	assert_int_equal(auth_parse_hash("sha256:abc", h, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "64 hex digits, got 3"));
	assert_int_equal(auth_parse_hash("sha256:zz7816bf8f01cfea414140de5dae2223"
					 "b00361a396177a9cb410ff61f20015ad", h,
					 err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "non-hex"));
}

static void test_store_errors(void **state)
{
	uint8_t h[32];

	assert_int_equal(auth_store_add_consumer(&store, "alice"), -EINVAL);
	assert_int_equal(auth_store_add_consumer(&store, "has space"), -EINVAL);
	assert_int_equal(auth_store_add_consumer(&store, ""), -EINVAL);
	assert_int_equal(auth_store_add_role(&store, 0, "a,b"), -EINVAL);
	assert_int_equal(auth_store_add_role(&store, 99, "x"), -EINVAL);
	/* the same secret for two consumers is refused */
	hash_of("alice-token", h);
	assert_int_equal(auth_store_add_cred(&store, 1, AUTH_CRED_BEARER, h),
			 -EEXIST);
	assert_int_equal(auth_store_find_consumer(&store, "bob"), 1);
	assert_int_equal(auth_store_find_consumer(&store, "carol"), -ENOENT);
}

/* Many credentials force table growth; every one must still be found. */
static void test_store_growth(void **state)
{
	struct auth_store s;
	struct auth_policy p;
	struct auth_result res;
	char tok[32];
	uint8_t h[32];

	auth_store_init(&s);
	for (int i = 0; i < 300; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		assert_int_equal(auth_store_add_consumer(&s, name), i);
		snprintf(tok, sizeof(tok), "token-%d", i);
		hash_of(tok, h);
		assert_int_equal(auth_store_add_cred(&s, (size_t)i,
						     AUTH_CRED_KEY, h), 0);
	}
	policy(&p, AUTH_M_KEY);
	for (int i = 0; i < 300; i += 7) {
		struct http_header hh = { "X-API-Key", 9, tok, 0 };
		struct sockaddr_in sin = { .sin_family = AF_INET };
		struct auth_request ar = { .headers = &hh, .n_headers = 1,
					   .client = (struct sockaddr *)&sin };
		char want[16];

		snprintf(tok, sizeof(tok), "token-%d", i);
		hh.value_len = strlen(tok);
		assert_int_equal(auth_evaluate(&s, &p, &ar, NOW, &res),
				 AUTH_ALLOW);
		snprintf(want, sizeof(want), "c%d", i);
		assert_string_equal(res.consumer, want);
	}
	auth_policy_free(&p);
	auth_store_free(&s);
}

/*
 * The per-thread digest memo (auth.c): every lookup is judged on its own
 * credential. 300 consumers with a token each (more than the memo's slots,
 * so entries are replaced), presented in rounds, each round after the
 * previous one memoized them; between them tokens one character off, the
 * same bytes as another kind of credential, and a store without some of
 * the tokens (a reload that revoked them) must all fail.
 */
static void test_memo_each_lookup_on_its_own(void **state)
{
	struct auth_store s, s2;
	struct auth_policy pb, pk;
	struct auth_result res;
	char tok[32];
	uint8_t h[32];

	auth_store_init(&s);
	auth_store_init(&s2);
	for (int i = 0; i < 300; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		assert_int_equal(auth_store_add_consumer(&s, name), i);
		assert_int_equal(auth_store_add_consumer(&s2, name), i);
		snprintf(tok, sizeof(tok), "memo-token-%d", i);
		hash_of(tok, h);
		assert_int_equal(auth_store_add_cred(&s, (size_t)i,
						     AUTH_CRED_BEARER, h), 0);
		/* s2: the odd tokens revoked */
		if (!(i % 2))
			assert_int_equal(auth_store_add_cred(&s2, (size_t)i,
							     AUTH_CRED_BEARER,
							     h), 0);
	}
	policy(&pb, AUTH_M_BEARER);
	policy(&pk, AUTH_M_KEY);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 300; i++) {
			char val[48], want[16];
			struct http_header hh = { "Authorization", 13, val, 0 };
			struct sockaddr_in sin = { .sin_family = AF_INET };
			struct auth_request ar = {
				.headers = &hh, .n_headers = 1,
				.client = (struct sockaddr *)&sin };

			snprintf(want, sizeof(want), "c%d", i);
			hh.value_len = (size_t)snprintf(val, sizeof(val),
						       "Bearer memo-token-%d", i);
			assert_int_equal(auth_evaluate(&s, &pb, &ar, NOW, &res),
					 AUTH_ALLOW);
			assert_string_equal(res.consumer, want);
			/* the same token, twice in a row */
			assert_int_equal(auth_evaluate(&s, &pb, &ar, NOW, &res),
					 AUTH_ALLOW);
			assert_string_equal(res.consumer, want);
			/* in the store of a reload that revoked the odd ones */
			assert_int_equal(auth_evaluate(&s2, &pb, &ar, NOW, &res),
					 i % 2 ? AUTH_DENY_401 : AUTH_ALLOW);
			if (i % 2)
				assert_false(res.authenticated);
			else
				assert_string_equal(res.consumer, want);
			/* one character off: the last one changed */
			val[hh.value_len - 1] = 'x';
			assert_int_equal(auth_evaluate(&s, &pb, &ar, NOW, &res),
					 AUTH_DENY_401);
			assert_false(res.authenticated);
			assert_string_equal(res.message, "invalid bearer token");
			/* one character longer */
			val[hh.value_len - 1] = (char)('0' + i % 10);
			val[hh.value_len++] = 'z';
			assert_int_equal(auth_evaluate(&s, &pb, &ar, NOW, &res),
					 AUTH_DENY_401);
			/* a found bearer token's bytes as an API key */
			hh.name = "X-API-Key";
			hh.name_len = 9;
			hh.value = val + 7;
			hh.value_len -= 8;
			assert_int_equal(auth_evaluate(&s, &pk, &ar, NOW, &res),
					 AUTH_DENY_401);
			assert_string_equal(res.message, "invalid API key");
		}
	}
	auth_policy_free(&pb);
	auth_policy_free(&pk);
	auth_store_free(&s);
	auth_store_free(&s2);
}

/* crypto_memeq: equal, and unequal in each byte, for lengths 0-40. */
static void test_memeq(void **state)
{
	uint8_t a[40], b[40];

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)(i * 37 + 1);
	for (size_t n = 0; n <= sizeof(a); n++) {
		assert_true(crypto_memeq(a, b, n));
		for (size_t i = 0; i < n; i++) {
			b[i] ^= 0x80;
			assert_false(crypto_memeq(a, b, n));
			b[i] ^= 0x81;
			assert_false(crypto_memeq(a, b, n));
			b[i] ^= 0x01;
		}
	}
}

/* ---- credentials ------------------------------------------------------- */

static void test_bearer(void **state)
{
	struct auth_policy p;
	struct auth_result res;
	struct req r;

	policy(&p, AUTH_M_BEARER);
	req_init(&r, "/x");
	hdr(&r, "Host", "a");
	hdr(&r, "authorization", "Bearer alice-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_true(res.authenticated);
	assert_int_equal(res.method, AUTH_M_BEARER);
	assert_string_equal(res.consumer, "alice");
	assert_int_equal(res.n_roles, 2);
	assert_true(res.strip_headers == 1u << 1);

	/* scheme is case-insensitive, extra spaces allowed */
	r.h[1].value = "bEaReR   bob-token";
	r.h[1].value_len = strlen(r.h[1].value);
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_string_equal(res.consumer, "bob");

	/* keep the credential when stripping is off */
	p.strip = false;
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_true(res.strip_headers == 0);
	auth_policy_free(&p);
}

static void test_bearer_rejections(void **state)
{
	static const struct {
		const char *value, *msg;
	} bad[] = {
		{ "Bearer wrong-token", "invalid bearer token" },
		{ "Bearer alice-key", "invalid bearer token" },	/* a key, not a bearer */
		{ "Basic YWxpY2U6cHc=", "unsupported Authorization scheme" },
		{ "Bearer", "unsupported Authorization scheme" },
		{ "Bearer ", "malformed bearer token" },
		{ "Bearer a b", "malformed bearer token" },
		{ "Bearer alice-token=x", "malformed bearer token" },
		{ "Bearertoken", "unsupported Authorization scheme" },
	};
	struct auth_policy p;
	struct auth_result res;
	struct req r;

	policy(&p, AUTH_M_BEARER);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req_init(&r, "/");
		hdr(&r, "Authorization", bad[i].value);
		assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
		assert_true(res.invalid_token);
		assert_false(res.authenticated);
		if (!strstr(res.message, bad[i].msg))
			fail_msg("'%s': '%s', want '%s'", bad[i].value,
				 res.message, bad[i].msg);
	}
	/* two Authorization headers */
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer alice-token");
	hdr(&r, "Authorization", "Bearer bob-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_non_null(strstr(res.message, "more than one"));
	/* none at all */
	req_init(&r, "/");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_false(res.invalid_token);
	assert_string_equal(res.message, "credentials required");
	auth_policy_free(&p);
}

static void test_api_key_header(void **state)
{
	struct auth_policy p;
	struct auth_result res;
	struct req r;

	policy(&p, AUTH_M_KEY);
	req_init(&r, "/");
	hdr(&r, "x-api-key", "bob-key");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_string_equal(res.consumer, "bob");
	assert_int_equal(res.method, AUTH_M_KEY);
	assert_true(res.strip_headers == 1);
	/* a bearer token does not count for a key-only route */
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer alice-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_false(res.invalid_token);
	/* custom header name */
	strcpy(p.key_header, "X-Token");
	req_init(&r, "/");
	hdr(&r, "X-Token", "alice-key");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_string_equal(res.consumer, "alice");
	req_init(&r, "/");
	hdr(&r, "X-Token", "nope");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_string_equal(res.message, "invalid API key");
	req_init(&r, "/");
	hdr(&r, "X-Token", "alice-key");
	hdr(&r, "X-Token", "alice-key");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_non_null(strstr(res.message, "more than once"));
	auth_policy_free(&p);
}

static void test_api_key_query(void **state)
{
	struct auth_policy p;
	struct auth_result res;
	struct req r;
	static const struct {
		const char *target;
		size_t off, len;	/* expected strip span */
	} ok[] = {
		{ "/a?api_key=alice-key", 2, 18 },
		{ "/a?x=1&api_key=alice-key", 6, 18 },
		{ "/a?api_key=alice-key&x=1", 3, 18 },
		{ "/a?x=1&api_key=alice%2Dkey&y=2", 7, 20 },
	};

	policy(&p, AUTH_M_KEY);
	p.key_header[0] = '\0';
	strcpy(p.key_query, "api_key");
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		req_init(&r, ok[i].target);
		assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
		assert_string_equal(res.consumer, "alice");
		assert_int_equal(res.strip_query_off, ok[i].off);
		assert_int_equal(res.strip_query_len, ok[i].len);
	}
	req_init(&r, "/a?api_key=zzz");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_true(res.invalid_token);
	req_init(&r, "/a?api_key=a&api_key=b");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_non_null(strstr(res.message, "more than once"));
	req_init(&r, "/a?api_key=%zz");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_string_equal(res.message, "malformed API key");
	req_init(&r, "/a?api_key");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	req_init(&r, "/a?my_api_key=alice-key");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_false(res.invalid_token);
	/* header wins over the query when both are configured */
	strcpy(p.key_header, "X-API-Key");
	req_init(&r, "/a?api_key=alice-key");
	hdr(&r, "X-API-Key", "bob-key");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_string_equal(res.consumer, "bob");
	auth_policy_free(&p);
}

static void test_anonymous(void **state)
{
	struct auth_policy p;
	struct auth_result res;
	struct req r;

	policy(&p, AUTH_M_BEARER | AUTH_M_KEY);
	p.anonymous = true;
	req_init(&r, "/");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_false(res.authenticated);
	assert_string_equal(res.consumer, "");
	/* a wrong credential is still refused on an anonymous route */
	hdr(&r, "Authorization", "Bearer wrong");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	/* anonymous + roles: credentials needed */
	add_role(&p, "reader");
	req_init(&r, "/");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_non_null(strstr(res.message, "for this role"));
	auth_policy_free(&p);

	/* no methods at all: public route */
	policy(&p, 0);
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer whatever");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_true(res.strip_headers == 0);
	auth_policy_free(&p);
}

/* auth_evaluate() sets every field it defines without a memset of the
 * whole result: nothing of a garbage-filled one, nor of an earlier
 * consumer's, shows through an anonymous pass or a denial. */
static void test_result_fields_all_set(void **state)
{
	struct auth_policy p;
	struct auth_result res;
	struct req r;

	policy(&p, AUTH_M_BEARER | AUTH_M_KEY);
	p.anonymous = true;
	req_init(&r, "/");
	memset(&res, 0xa5, sizeof(res));
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_int_equal(res.verdict, AUTH_ALLOW);
	assert_false(res.authenticated);
	assert_int_equal(res.method, 0);
	assert_false(res.invalid_token);
	assert_null(res.message);
	assert_string_equal(res.consumer, "");
	assert_int_equal(res.n_roles, 0);
	assert_true(res.strip_headers == 0);
	assert_int_equal(res.strip_query_off, 0);
	assert_int_equal(res.strip_query_len, 0);

	/* alice (two roles, a stripped header), then nobody in the same
	 * result */
	hdr(&r, "Authorization", "Bearer alice-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_string_equal(res.consumer, "alice");
	assert_int_equal(res.n_roles, 2);
	req_init(&r, "/");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_false(res.authenticated);
	assert_int_equal(res.method, 0);
	assert_string_equal(res.consumer, "");
	assert_int_equal(res.n_roles, 0);
	assert_true(res.strip_headers == 0);
	auth_policy_free(&p);

	/* a denial after a grant */
	policy(&p, AUTH_M_BEARER);
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer alice-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer wrong");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_401);
	assert_false(res.authenticated);
	assert_string_equal(res.consumer, "");
	assert_int_equal(res.n_roles, 0);
	assert_true(res.invalid_token);
	auth_policy_free(&p);
}

static void test_roles(void **state)
{
	struct auth_policy p;
	struct auth_result res;
	struct req r;

	policy(&p, AUTH_M_BEARER);
	add_role(&p, "admin");
	add_role(&p, "reader");
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer alice-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);	/* any-of */
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer bob-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	p.roles_mode = AUTH_ROLES_ALL;
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_403);
	assert_string_equal(res.message, "consumer lacks a required role");
	assert_string_equal(res.consumer, "");
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer alice-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_403);	/* no reader */
	free(p.roles[1]);
	p.roles[1] = strdup("ops");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	p.roles_mode = AUTH_ROLES_ANY;
	free(p.roles[0]);
	free(p.roles[1]);
	p.roles[0] = strdup("x");
	p.roles[1] = strdup("y");
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_403);
	assert_string_equal(res.message,
			    "consumer has none of the required roles");
	auth_policy_free(&p);
}

static void test_roles_header_and_challenge(void **state)
{
	struct auth_policy p;
	struct auth_result res;
	struct req r;
	char buf[256];

	policy(&p, AUTH_M_BEARER);
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer alice-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	assert_int_equal(auth_roles_header(&res, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "admin, ops");
	auth_roles_header(&res, buf, 4);
	assert_string_equal(buf, "adm");

	req_init(&r, "/");
	eval(&p, &r, &res);
	auth_www_authenticate(&store, &p, &res, buf, sizeof(buf));
	assert_string_equal(buf, "Bearer realm=\"sluice\"");
	hdr(&r, "Authorization", "Bearer bad");
	eval(&p, &r, &res);
	auth_www_authenticate(&store, &p, &res, buf, sizeof(buf));
	assert_string_equal(buf,
			    "Bearer realm=\"sluice\", error=\"invalid_token\"");
	p.methods = AUTH_M_KEY;
	strcpy(p.key_query, "k");
	req_init(&r, "/");
	eval(&p, &r, &res);
	auth_www_authenticate(&store, &p, &res, buf, sizeof(buf));
	assert_string_equal(buf, "ApiKey realm=\"sluice\", header=\"X-API-Key\", query=\"k\"");
	p.methods = AUTH_M_KEY | AUTH_M_JWT;
	auth_www_authenticate(&store, &p, &res, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Bearer realm=\"sluice\", ApiKey"));
	auth_policy_free(&p);
}

/* ---- addresses --------------------------------------------------------- */

static void cidr(struct allowlist *al, const char *text)
{
	struct allowlist_entry e;
	char err[128];

	assert_int_equal(allowlist_parse_cidr(text, &e, err, sizeof(err)), 0);
	al->entries = realloc(al->entries, (al->n + 1) * sizeof(e));
	al->entries[al->n++] = e;
}

static void test_route_cidrs(void **state)
{
	struct auth_policy p;
	struct auth_result res;
	struct req r;

	policy(&p, AUTH_M_BEARER);
	cidr(&p.allow, "198.18.0.0/24");
	cidr(&p.deny, "198.18.0.66");
	req_init(&r, "/");
	hdr(&r, "Authorization", "Bearer alice-token");
	assert_int_equal(eval(&p, &r, &res), AUTH_ALLOW);
	inet_pton(AF_INET, "198.18.0.66", &r.sin.sin_addr);
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_403);
	assert_non_null(strstr(res.message, "denied"));
	inet_pton(AF_INET, "198.18.1.1", &r.sin.sin_addr);
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_403);
	assert_non_null(strstr(res.message, "not allowed"));
	/* the address check comes first: no credential needed to be told */
	req_init(&r, "/");
	inet_pton(AF_INET, "198.18.1.1", &r.sin.sin_addr);
	assert_int_equal(eval(&p, &r, &res), AUTH_DENY_403);
	auth_policy_free(&p);
}

static void test_cidr_match(void **state)
{
	struct allowlist al = { 0 };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	cidr(&al, "10.1.0.0/17");
	cidr(&al, "fd00:5c::/64");
	inet_pton(AF_INET, "10.1.127.255", &s4.sin_addr);
	assert_true(auth_cidr_match(&al, (struct sockaddr *)&s4));
	inet_pton(AF_INET, "10.1.128.0", &s4.sin_addr);
	assert_false(auth_cidr_match(&al, (struct sockaddr *)&s4));
	inet_pton(AF_INET6, "fd00:5c::1234", &s6.sin6_addr);
	assert_true(auth_cidr_match(&al, (struct sockaddr *)&s6));
	inet_pton(AF_INET6, "fd00:5d::1", &s6.sin6_addr);
	assert_false(auth_cidr_match(&al, (struct sockaddr *)&s6));
	/* IPv4-mapped IPv6 matches the IPv4 entry */
	inet_pton(AF_INET6, "::ffff:10.1.0.9", &s6.sin6_addr);
	assert_true(auth_cidr_match(&al, (struct sockaddr *)&s6));
	allowlist_free(&al);
}

/* ---- JWT through auth_evaluate (HS256 signed by openssl) ---------------- */

static char *openssl_hs256(const char *secret, const char *header,
			   const char *payload)
{
	char cmd[2048], out[1024];
	FILE *f;
	size_t n;
	char *tok;

	snprintf(cmd, sizeof(cmd),
		 "h=$(printf '%%s' '%s' | openssl base64 -A | tr '+/' '-_' | tr -d '=');"
		 "p=$(printf '%%s' '%s' | openssl base64 -A | tr '+/' '-_' | tr -d '=');"
		 "s=$(printf '%%s' \"$h.$p\" | openssl dgst -sha256 -mac HMAC "
		 "-macopt key:%s -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=');"
		 "printf '%%s' \"$h.$p.$s\"", header, payload, secret);
	f = popen(cmd, "r");
	if (!f)
		return NULL;
	n = fread(out, 1, sizeof(out) - 1, f);
	if (pclose(f) != 0 || n == 0)
		return NULL;
	out[n] = '\0';
	tok = strdup(out);
	return tok;
}

static void test_jwt_and_bearer(void **state)
{
	const char *secret = "0123456789abcdef0123456789abcdef";
	struct auth_store s;
	struct auth_policy p;
	struct auth_result res;
	char err[128], hv[1200], pl[200];
	struct req r;
	char *tok;
	uint8_t h[32];

	if (system("openssl version >/dev/null 2>&1")) {
		print_message("skipped: no openssl command-line tool\n");
		skip();
	}
	auth_store_init(&s);
	s.jwt_enabled = true;
	assert_int_equal(auth_jwt_add_secret(&s.jwt, NULL, -1, secret, 32, err,
					     sizeof(err)), 0);
	assert_int_equal(auth_store_add_consumer(&s, "carol"), 0);
	assert_int_equal(auth_store_add_role(&s, 0, "billing"), 0);
	/* an opaque bearer token that happens to look like a JWT */
	hash_of("a.b.c", h);
	assert_int_equal(auth_store_add_cred(&s, 0, AUTH_CRED_BEARER, h), 0);

	snprintf(pl, sizeof(pl),
		 "{\"sub\":\"carol\",\"exp\":%d,\"roles\":[\"viewer\"]}",
		 NOW + 60);
	tok = openssl_hs256(secret, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pl);
	assert_non_null(tok);
	policy(&p, AUTH_M_JWT | AUTH_M_BEARER);
	add_role(&p, "billing");
	req_init(&r, "/");
	snprintf(hv, sizeof(hv), "Bearer %s", tok);
	hdr(&r, "Authorization", hv);
	{
		struct auth_request ar = {
			.headers = r.h, .n_headers = r.n, .target = "/",
			.target_len = 1, .client = (struct sockaddr *)&r.sin };

		/* sub "carol" is not the configured consumer carol: the
		 * token's roles only, so carol's "billing" is not granted */
		assert_int_equal(auth_evaluate(&s, &p, &ar, NOW, &res),
				 AUTH_DENY_403);
		assert_false(res.authenticated);
		add_role(&p, "viewer");
		assert_int_equal(auth_evaluate(&s, &p, &ar, NOW, &res),
				 AUTH_ALLOW);
		assert_int_equal(res.method, AUTH_M_JWT);
		assert_string_equal(res.consumer, "carol");
		assert_int_equal(res.n_roles, 1);
		assert_string_equal(res.roles[0], "viewer");
		/* roles_mode all over both: the token lacks billing */
		p.roles_mode = AUTH_ROLES_ALL;
		assert_int_equal(auth_evaluate(&s, &p, &ar, NOW, &res),
				 AUTH_DENY_403);
		p.roles_mode = AUTH_ROLES_ANY;
		/* expired */
		assert_int_equal(auth_evaluate(&s, &p, &ar, NOW + 3600, &res),
				 AUTH_DENY_401);
		assert_string_equal(res.message, "invalid token: expired");
		assert_true(res.invalid_token);
		/* jwt not accepted on this route: the bearer table decides */
		p.methods = AUTH_M_BEARER;
		assert_int_equal(auth_evaluate(&s, &p, &ar, NOW, &res),
				 AUTH_DENY_401);
		/* opaque token with dots, bearer+jwt route */
		p.methods = AUTH_M_BEARER | AUTH_M_JWT;
		r.h[0].value = "Bearer a.b.c";
		r.h[0].value_len = strlen(r.h[0].value);
		assert_int_equal(auth_evaluate(&s, &p, &ar, NOW, &res),
				 AUTH_ALLOW);
		assert_int_equal(res.method, AUTH_M_BEARER);
	}
	free(tok);
	auth_policy_free(&p);
	auth_store_free(&s);
}

/* ---- JSON reader ------------------------------------------------------- */

static int jparse(const char *s, struct auth_json_tok *t, size_t max)
{
	size_t n = strlen(s);

	return auth_json_parse(guard_copy(s, n), n, t, max);
}

static void test_json_valid(void **state)
{
	static const char *ok[] = {
		"{}", "[]", "0", "-0", "1.5", "-12e+3", "1E5", "\"\"", "true",
		"false", "null", " {\"a\" : [1, 2, {\"b\": null}] } ",
		"\"\\u00e9\\ud83d\\ude00\\n\\/\"", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
		"[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]",
	};
	struct auth_json_tok t[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (jparse(ok[i], t, 64) < 1)
			fail_msg("rejected valid JSON #%zu: %s", i, ok[i]);
}

static void test_json_invalid(void **state)
{
	static const char *bad[] = {
		"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}",
		"{'a':1}", "01", "1.", ".5", "-", "1e", "+1", "NaN", "tru",
		"nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"",
		"\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"", "\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
		"1 2", "{} x", "[1 2]", "{\"a\":1 \"b\":2}", "{\"a\":1,\"a\":2}",
		"{\"a\":1,\"\\u0061\":2}", "/*c*/1", "[1]\x00",
	};
	struct auth_json_tok t[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]) + (i == sizeof(bad) / sizeof(bad[0]) - 1);
		int r = auth_json_parse(guard_copy(bad[i], n), n, t, 64);

		if (r != -EINVAL)
			fail_msg("accepted/misjudged invalid JSON #%zu: %s (%d)",
				 i, bad[i], r);
	}
	/* bounds: too deep, too many tokens */
	assert_int_equal(jparse("[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]", t, 64),
			 -E2BIG);
	assert_int_equal(jparse("[1,2,3,4]", t, 4), -E2BIG);
	assert_int_equal(jparse("[1,2,3,4]", t, 5), 5);
}

static void test_json_access(void **state)
{
	const char *s = "{\"sub\":\"al\\u0069ce\",\"n\":-42.9,\"big\":99999999999999999999,"
			"\"arr\":[\"x\",{\"k\":1},3],\"e\":1e3,\"o\":{\"in\":true}}";
	struct auth_json_tok t[64];
	char out[16];
	int64_t v;
	int n, r;

	size_t len = strlen(s);

	s = guard_copy(s, len);
	n = auth_json_parse(s, len, t, 64);
	assert_true(n > 0);
	r = auth_json_get(s, t, 0, "sub");
	assert_true(r > 0);
	assert_true(auth_json_str_eq(s, &t[r], "alice", 5));
	assert_false(auth_json_str_eq(s, &t[r], "alic", 4));
	assert_int_equal(auth_json_str(s, &t[r], out, sizeof(out)), 5);
	assert_string_equal(out, "alice");
	assert_int_equal(auth_json_str(s, &t[r], out, 5), -ENOSPC);
	r = auth_json_get(s, t, 0, "n");
	assert_int_equal(auth_json_int(s, &t[r], &v), 0);
	assert_int_equal(v, -42);
	r = auth_json_get(s, t, 0, "big");
	assert_int_equal(auth_json_int(s, &t[r], &v), -ERANGE);
	r = auth_json_get(s, t, 0, "e");
	assert_int_equal(auth_json_int(s, &t[r], &v), -EINVAL);
	r = auth_json_get(s, t, 0, "arr");
	assert_int_equal(t[r].size, 3);
	assert_true(auth_json_str_eq(s, &t[auth_json_elem(t, r, 0)], "x", 1));
	assert_int_equal(t[auth_json_elem(t, r, 1)].type, AUTH_JSON_OBJECT);
	assert_int_equal(t[auth_json_elem(t, r, 2)].type, AUTH_JSON_NUMBER);
	assert_int_equal(auth_json_elem(t, r, 3), -ENOENT);
	r = auth_json_get(s, t, 0, "o");
	assert_int_equal(t[auth_json_get(s, t, r, "in")].type, AUTH_JSON_TRUE);
	assert_int_equal(auth_json_get(s, t, 0, "missing"), -ENOENT);
	assert_int_equal(auth_json_get(s, t, r + 1, "x"), -EINVAL);
	/* \u0000 cannot be decoded into a C string */
	s = "\"a\\u0000b\"";
	len = strlen(s);
	s = guard_copy(s, len);
	assert_int_equal(auth_json_parse(s, len, t, 4), 1);
	assert_int_equal(auth_json_str(s, &t[0], out, sizeof(out)), -EINVAL);
}

static void test_b64url(void **state)
{
	uint8_t out[16];

	assert_int_equal(auth_b64url_decode("", 0, out, sizeof(out)), 0);
	assert_int_equal(auth_b64url_decode("YQ", 2, out, sizeof(out)), 1);
	assert_int_equal(out[0], 'a');
	assert_int_equal(auth_b64url_decode("YWI", 3, out, sizeof(out)), 2);
	assert_int_equal(auth_b64url_decode("YWJj", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(auth_b64url_decode("-_8", 3, out, sizeof(out)), 2);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xff);
	/* strict: padding, standard alphabet, bad length, stray bits */
	assert_int_equal(auth_b64url_decode("YQ==", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_b64url_decode("+/8", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_b64url_decode("Y", 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_b64url_decode("YR", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_b64url_decode("YW J", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_b64url_decode("YWJj", 4, out, 2), -ENOSPC);
}

/* auth: [mtls]: the transport's identities of a verified certificate;
 * hostile and near-miss identities never authenticate. */
static void test_mtls(void **state)
{
	static const struct {
		const char *ids[3];
		size_t n;
		enum auth_verdict want;
		const char *consumer;
	} cases[] = {
		{ { "cn:bob" }, 1, AUTH_ALLOW, "bob" },
		{ { "sha256:00", "cn:bob" }, 2, AUTH_ALLOW, "bob" },
		{ { "cn:Bob" }, 1, AUTH_DENY_401, "" },		/* case matters */
		{ { "cn:bob " }, 1, AUTH_DENY_401, "" },
		{ { "san:bob" }, 1, AUTH_DENY_401, "" },	/* other kind */
		{ { "bob-token" }, 1, AUTH_DENY_401, "" },	/* a bearer's */
		{ { "cn:alice" }, 1, AUTH_DENY_401, "" },
		{ { NULL }, 0, AUTH_DENY_401, "" },		/* no cert */
	};
	struct auth_policy p;
	struct auth_result res;
	struct req r;

	policy(&p, AUTH_M_MTLS);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct auth_request ar;

		req_init(&r, "/");
		ar = (struct auth_request){
			.headers = r.h, .n_headers = r.n, .target = "/",
			.target_len = 1, .client = (struct sockaddr *)&r.sin,
			.cert_ids = cases[i].ids, .n_cert_ids = cases[i].n };
		assert_int_equal(auth_evaluate(&store, &p, &ar, NOW, &res),
				 cases[i].want);
		assert_string_equal(res.consumer, cases[i].consumer);
		if (cases[i].want == AUTH_ALLOW)
			assert_int_equal(res.method, AUTH_M_MTLS);
	}
	/* a route without mtls ignores the certificate */
	policy(&p, AUTH_M_BEARER);
	{
		const char *ids[] = { "cn:bob" };
		struct auth_request ar = {
			.headers = r.h, .n_headers = r.n, .target = "/",
			.target_len = 1, .client = (struct sockaddr *)&r.sin,
			.cert_ids = ids, .n_cert_ids = 1 };

		assert_int_equal(auth_evaluate(&store, &p, &ar, NOW, &res),
				 AUTH_DENY_401);
	}
	auth_policy_free(&p);
}

static void test_cert_id_parse(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "cn:alice", "cn:alice" },
		{ "san:a.example", "san:a.example" },
		{ "sha256:ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789",
		  "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789" },
		{ "sha256:abcd", NULL },
		{ "sha256:gbcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", NULL },
		{ "sha256:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89", NULL },
		{ "cn:", NULL },
		{ "san:", NULL },
		{ "alice", NULL },
		{ "", NULL },
		{ "CN:alice", NULL },
	};
	char out[320], err[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = auth_cert_id_parse(cases[i].in, out, sizeof(out), err,
					   sizeof(err));

		if (cases[i].out) {
			assert_int_equal(r, 0);
			assert_string_equal(out, cases[i].out);
		} else {
			assert_int_equal(r, -EINVAL);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_token),
		cmocka_unit_test(test_mtls),
		cmocka_unit_test(test_cert_id_parse),
		cmocka_unit_test(test_store_errors),
		cmocka_unit_test(test_store_growth),
		cmocka_unit_test(test_memo_each_lookup_on_its_own),
		cmocka_unit_test(test_memeq),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_bearer_rejections),
		cmocka_unit_test(test_api_key_header),
		cmocka_unit_test(test_api_key_query),
		cmocka_unit_test(test_anonymous),
		cmocka_unit_test(test_result_fields_all_set),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_roles_header_and_challenge),
		cmocka_unit_test(test_route_cidrs),
		cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_jwt_and_bearer),
		cmocka_unit_test(test_json_valid),
		cmocka_unit_test(test_json_invalid),
		cmocka_unit_test(test_json_access),
		cmocka_unit_test(test_b64url),
	};

	return cmocka_run_group_tests_name("auth", tests, setup, teardown);
}
