// SPDX-License-Identifier: MIT
/*
 * Unit tests for the authentication and limit config keys: consumers:, jwt:, limits:,
 * trusted_proxies:, escalation:, and the route keys auth:, anonymous:,
 * roles:, roles_mode:, key_header:, key_query:, strip_credentials:,
 * allow_cidrs:, deny_cidrs:, limits:, ratelimit_headers:. Parse errors must
 * name file:line:col; load-time errors (secret files, env, key files) name
 * the file and the key. policy_load_file() builds the auth store and the
 * rate-limit tables, which are exercised end to end here.
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
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "policy/auth.h"
#include "policy/policy.h"
#include "policy/ratelimit.h"
#include "http/http.h"

static char dir[256];

#define BASE                                                               \
	"listeners:\n"                                                     \
	"  - name: pub\n"                                                  \
	"    address: 127.0.0.1:8080\n"                                    \
	"xdp:\n"                                                           \
	"  enabled: false\n"                                               \
	"services:\n"                                                      \
	"  - name: echo\n"                                                 \
	"    targets: [127.0.0.1:9001]\n"

/* SHA-256 of "alice-token-0123456789" and of "bob-key-0123456789" */
static char alice_hash[80], bob_hash[80];

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int load(const char *text, struct config **c, char **errors)
{
	char path[512];

	write_file("sluice.yaml", text);
	snprintf(path, sizeof(path), "%s/sluice.yaml", dir);
	return policy_load_file(path, c, errors);
}

/* Parse must fail with an error containing every one of want[] (NULL-ended). */
static void expect_errors(const char *text, const char *const *want)
{
	struct config *c = NULL;
	char *errors = NULL;
	int r = config_parse("t.yaml", text, strlen(text), &c, &errors);

	if (r != -EINVAL || !errors)
		fail_msg("expected -EINVAL, got %d for:\n%s", r, text);
	for (; *want; want++)
		if (!strstr(errors, *want))
			fail_msg("missing error '%s' in:\n%s", *want, errors);
	free(errors);
}

static void test_parse_full(void **state)
{
	char text[4096];
	struct config *c;
	char *errors = NULL;

	snprintf(text, sizeof(text), BASE
		 "consumers:\n"
		 "  - name: alice\n"
		 "    roles: [admin, ops]\n"
		 "    bearer_tokens: ['%s']\n"
		 "    api_keys: [env:SLUICE_TEST_ALICE_KEY, file:alice.key]\n"
		 "  - name: bob\n"
		 "    api_keys: ['%s']\n"
		 "jwt:\n"
		 "  algorithms: [ES256, EdDSA]\n"
		 "  issuer: https://idp.example\n"
		 "  audiences: [api]\n"
		 "  leeway_s: 5\n"
		 "  roles_claim: realm_access.roles\n"
		 "  jwks: [keys.json]\n"
		 "  keys:\n"
		 "    - secret: env:SLUICE_TEST_HS\n"
		 "      kid: hs\n"
		 "      alg: HS256\n"
		 "trusted_proxies: [198.18.0.1, 'fd00:5c::/64']\n"
		 "limits:\n"
		 "  - key: global\n"
		 "    rates: [1000/s]\n"
		 "escalation:\n"
		 "  enabled: true\n"
		 "  threshold: 5\n"
		 "  window_s: 10\n"
		 "  ban_s: 3\n"
		 "routes:\n"
		 "  - name: api\n"
		 "    path_prefix: /api/\n"
		 "    service: echo\n"
		 "    auth: [bearer, key, jwt]\n"
		 "    roles: [admin, billing]\n"
		 "    roles_mode: all\n"
		 "    key_query: api_key\n"
		 "    strip_credentials: false\n"
		 "    allow_cidrs: [198.18.0.0/15]\n"
		 "    deny_cidrs: [198.18.0.66]\n"
		 "    ratelimit_headers: true\n"
		 "    limits:\n"
		 "      - key: consumer\n"
		 "        rates: [10/s, 1000/h]\n"
		 "      - key: ip\n"
		 "        rates: [100/10s burst 5]\n"
		 "        max_keys: 1024\n"
		 "  - name: open\n"
		 "    service: echo\n",
		 alice_hash, bob_hash);
	if (config_parse("t.yaml", text, strlen(text), &c, &errors))
		fail_msg("%s", errors);
	assert_int_equal(c->n_consumers, 2);
	assert_string_equal(c->consumers[0].name, "alice");
	assert_int_equal(c->consumers[0].n_roles, 2);
	assert_string_equal(c->consumers[0].api_keys[1], "file:alice.key");
	assert_true(c->jwt.enabled);
	assert_int_equal(c->jwt.n_algorithms, 2);
	assert_string_equal(c->jwt.issuer, "https://idp.example");
	assert_int_equal(c->jwt.leeway_s, 5);
	assert_true(c->jwt.require_exp);
	assert_string_equal(c->jwt.consumer_claim, "sub");
	assert_string_equal(c->jwt.roles_claim, "realm_access.roles");
	assert_string_equal(c->jwt.jwks_files[0], "keys.json");
	assert_string_equal(c->jwt.keys[0].kid, "hs");
	assert_int_equal(c->trusted_proxies.n, 2);
	assert_int_equal(c->n_limits, 1);
	assert_int_equal(c->limits[0].key, RL_KEY_GLOBAL);
	assert_true(c->escalation.enabled);
	assert_int_equal(c->escalation.threshold, 5);
	assert_true(c->escalation.count_rate_limited);

	const struct config_route *r = &c->routes[0];

	assert_int_equal(r->auth.methods, AUTH_M_BEARER | AUTH_M_KEY | AUTH_M_JWT);
	assert_int_equal(r->auth.n_roles, 2);
	assert_int_equal(r->auth.roles_mode, AUTH_ROLES_ALL);
	assert_string_equal(r->auth.key_header, "X-API-Key");
	assert_string_equal(r->auth.key_query, "api_key");
	assert_false(r->auth.strip);
	assert_int_equal(r->auth.allow.n, 1);
	assert_int_equal(r->auth.deny.n, 1);
	assert_true(r->ratelimit_headers);
	assert_int_equal(r->n_limits, 2);
	assert_int_equal(r->limits[0].limit.n_windows, 2);
	assert_int_equal(r->limits[0].limit.windows[1].period_ns, 3600000000000ull);
	assert_int_equal(r->limits[1].limit.windows[0].burst, 5);
	assert_int_equal(r->limits[1].limit.max_keys, 1024);
	/* defaults of a route without the keys */
	r = &c->routes[1];
	assert_int_equal(r->auth.methods, 0);
	assert_true(r->auth.strip);
	assert_int_equal(r->auth.roles_mode, AUTH_ROLES_ANY);
	assert_false(r->ratelimit_headers);
	assert_int_equal(r->n_limits, 0);
	config_put(c);
}

static void test_parse_errors(void **state)
{
	{
		const char *w[] = {
			"t.yaml:11:21: consumers[0].bearer_tokens[0]: secret must be written as 'sha256:<hex>'",
			"never in plain text",
			"t.yaml:12:16: consumers[0].api_keys[0]: sha256 digest must be 64 hex digits, got 2",
			"t.yaml:12:27: consumers[0].api_keys[1]: 'env:' needs a variable name",
			"t.yaml:13:17: consumers[0].roles[1]: invalid role name 'a b'",
			NULL };
		expect_errors(BASE
			      "consumers:\n"
			      "  - name: alice\n"
			      "    bearer_tokens: [plain-text-token]\n"
			      "    api_keys: [sha256:00, 'env:1x']\n"
			      "    roles: [ok, 'a b']\n", w);
	}
	{
		const char *w[] = {
			"t.yaml:12:12: routes[0].auth[0]: unknown authentication method 'password' (expected bearer, key, jwt or mtls)",
			"t.yaml:13:12: routes[0].roles: needs 'auth'",
			"t.yaml:14:16: routes[0].anonymous: needs 'auth'",
			NULL };
		expect_errors(BASE
			      "routes:\n"
			      "  - name: r\n"
			      "    service: echo\n"
			      "    auth: [password]\n"
			      "    roles: [x]\n"
			      "    anonymous: true\n", w);
	}
	{
		const char *w[] = {
			"t.yaml:11:11: routes[0].auth: 'jwt' needs a top-level 'jwt' section",
			"t.yaml:12:19: routes[0].allow_cidrs[0]: host bits set",
			"t.yaml:13:17: routes[0].roles_mode: invalid value 'most' (expected any or all)",
			"t.yaml:14:18: routes[0].deny_cidrs[0]: invalid address",
			"t.yaml:15:16: routes[0].key_query: invalid query parameter name 'a&b'",
			NULL };
		expect_errors(BASE
			      "routes:\n"
			      "  - name: r\n"
			      "    auth: [jwt]\n"
			      "    allow_cidrs: [10.0.0.1/8]\n"
			      "    roles_mode: most\n"
			      "    deny_cidrs: [example.com]\n"
			      "    key_query: a&b\n"
			      "    service: echo\n", w);
	}
	{
		const char *w[] = {
			"t.yaml:12:11: routes[0].auth: must not be empty",
			NULL };
		expect_errors(BASE
			      "routes:\n"
			      "  - name: r\n"
			      "    service: echo\n"
			      "    auth: []\n", w);
	}
	{
		const char *w[] = {
			"t.yaml:11:13: limits[0].rates[0]: rate '10/x': period unit must be s, m, h or d",
			"t.yaml:12:10: limits[1].key: invalid value 'user' (expected consumer, ip, route or global)",
			"t.yaml:13:12: limits[1].rates: at least 1 entry is required",
			"t.yaml:14:5: limits[2]: missing required key 'rates'",
			NULL };
		expect_errors(BASE
			      "limits:\n"
			      "  - key: ip\n"
			      "    rates: [10/x]\n"
			      "  - key: user\n"
			      "    rates: []\n"
			      "  - key: ip\n", w);
	}
	{
		const char *w[] = {
			"t.yaml:10:16: jwt.algorithms[0]: unknown algorithm 'none'",
			"'none' is never accepted",
			"t.yaml:12:7: jwt.keys[0]: needs exactly one of 'file' (a PEM public key) or 'secret'",
			"t.yaml:14:15: jwt.keys[1].secret: an HMAC secret must be 'file:PATH' or 'env:NAME'",
			"t.yaml:15:12: jwt.keys[1].alg: unknown algorithm 'HS1'",
			"t.yaml:16:13: jwt.leeway_s: 99999 is out of range (0-3600)",
			NULL };
		expect_errors(BASE
			      "jwt:\n"
			      "  algorithms: [none]\n"
			      "  keys:\n"
			      "    - kid: a\n"
			      "      alg: RS256\n"
			      "    - secret: 'sha256:00'\n"
			      "      alg: HS1\n"
			      "  leeway_s: 99999\n", w);
	}
	{
		const char *w[] = { "t.yaml:10:3: jwt: needs 'keys' or 'jwks'", NULL };

		expect_errors(BASE "jwt:\n  leeway_s: 1\n", w);
	}
	{
		const char *w[] = {
			"t.yaml:11:14: escalation.threshold: 0 is out of range (1-1000000)",
			"t.yaml:12:3: escalation: unknown key 'ban_seconds'",
			NULL };
		expect_errors(BASE
			      "escalation:\n"
			      "  enabled: true\n"
			      "  threshold: 0\n"
			      "  ban_seconds: 10\n", w);
	}
}

static void test_load(void **state)
{
	char text[4096];
	struct config *c;
	char *errors = NULL;
	struct rl_result rr;

	/* a JWKS with the P-256 generator as its key (a valid point) */
	write_file("keys.json",
		   "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\","
		   "\"x\":\"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY\","
		   "\"y\":\"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU\"}]}");
	write_file("alice.key", "alice-file-key-0123456789\n");
	setenv("SLUICE_TEST_ALICE_KEY", "alice-env-key-0123456789", 1);
	setenv("SLUICE_TEST_HS", "0123456789abcdef0123456789abcdef", 1);
	snprintf(text, sizeof(text), BASE
		 "consumers:\n"
		 "  - name: alice\n"
		 "    roles: [admin]\n"
		 "    bearer_tokens: ['%s']\n"
		 "    api_keys: [env:SLUICE_TEST_ALICE_KEY, file:alice.key]\n"
		 "jwt:\n"
		 "  jwks: [keys.json]\n"
		 "  keys: [{secret: 'env:SLUICE_TEST_HS', kid: hs}]\n"
		 "escalation: {enabled: true, threshold: 2, window_s: 60}\n"
		 "routes:\n"
		 "  - name: api\n"
		 "    service: echo\n"
		 "    auth: [bearer, key]\n"
		 "    limits: [{key: consumer, rates: [2/m]}]\n",
		 alice_hash);
	if (load(text, &c, &errors))
		fail_msg("%s", errors);
	assert_int_equal(c->auth->n_consumers, 1);
	assert_int_equal(c->auth->n_creds, 3);
	assert_true(c->auth->jwt_enabled);
	assert_int_equal(c->auth->jwt.n_keys, 2);
	assert_non_null(c->routes[0].limits[0].table);
	assert_non_null(c->escalation.strikes);

	/* the three credentials work through auth_evaluate */
	{
		static const char *vals[][2] = {
			{ "Authorization", "Bearer alice-token-0123456789" },
			{ "X-API-Key", "alice-env-key-0123456789" },
			{ "X-API-Key", "alice-file-key-0123456789" },
		};
		struct sockaddr_in sin = { .sin_family = AF_INET };

		for (int i = 0; i < 3; i++) {
			struct http_header h = { vals[i][0], strlen(vals[i][0]),
						 vals[i][1], strlen(vals[i][1]) };
			struct auth_request ar = {
				.headers = &h, .n_headers = 1, .target = "/",
				.target_len = 1,
				.client = (struct sockaddr *)&sin };
			struct auth_result res;

			assert_int_equal(auth_evaluate(c->auth, &c->routes[0].auth,
						       &ar, 0, &res), AUTH_ALLOW);
			assert_string_equal(res.consumer, "alice");
		}
	}
	/* and the table limits */
	assert_int_equal(rl_take(c->routes[0].limits[0].table, "alice", 5, 1, &rr), 0);
	assert_true(rr.allowed);
	assert_int_equal(rl_take(c->routes[0].limits[0].table, "alice", 5, 1, &rr), 0);
	assert_int_equal(rl_take(c->routes[0].limits[0].table, "alice", 5, 1, &rr), 0);
	assert_false(rr.allowed);
	config_put(c);
}

/* A reload adopts the tables of unchanged limits (so clients keep their
 * counts) and starts changed ones fresh; the old snapshot stays usable. */
static void test_reload_adopt(void **state)
{
	static const char *const v1 = BASE
		"escalation: {enabled: true, threshold: 2, window_s: 60}\n"
		"limits: [{key: ip, rates: [2/m]}, {key: global, rates: [100/s]}]\n"
		"routes:\n"
		"  - name: api\n"
		"    service: echo\n"
		"    limits: [{key: ip, rates: [1/m, 10/h]}, {key: route, rates: [5/s]}]\n"
		"  - name: gone\n"
		"    path_prefix: /gone\n"
		"    service: echo\n"
		"    limits: [{key: ip, rates: [1/m]}]\n";
	/* global ip limit unchanged, global one changed; route api: first
	 * unchanged, second changed (rate); route 'renamed' has gone's limit
	 * but another name; escalation unchanged */
	static const char *const v2 = BASE
		"escalation: {enabled: true, threshold: 2, window_s: 60, ban_s: 5}\n"
		"limits: [{key: ip, rates: [2/m]}, {key: global, rates: [200/s]}]\n"
		"routes:\n"
		"  - name: api\n"
		"    service: echo\n"
		"    limits: [{key: ip, rates: [1/m, 10/h]}, {key: route, rates: [6/s]}]\n"
		"  - name: renamed\n"
		"    path_prefix: /gone\n"
		"    service: echo\n"
		"    limits: [{key: ip, rates: [1/m]}]\n";
	/* escalation window changed; ip limit's capacity changed */
	static const char *const v3 = BASE
		"escalation: {enabled: true, threshold: 2, window_s: 61}\n"
		"limits: [{key: ip, rates: [2/m], max_keys: 128}]\n"
		"routes:\n"
		"  - name: api\n"
		"    service: echo\n";
	struct config *a, *b, *c;
	char *errors = NULL;
	struct rl_result rr;

	(void)state;
	if (load(v1, &a, &errors))
		fail_msg("%s", errors);
	if (load(v2, &b, &errors))
		fail_msg("%s", errors);
	/* exhaust the route limit and strike once on the old snapshot */
	assert_int_equal(rl_take(a->routes[0].limits[0].table, "k", 1, 1, &rr), 0);
	assert_true(rr.allowed);
	assert_int_equal(rl_take(a->routes[0].limits[0].table, "k", 1, 1, &rr), 0);
	assert_false(rr.allowed);

	assert_int_equal(policy_adopt(b, a), 3);
	assert_ptr_equal(b->limits[0].table, a->limits[0].table);
	assert_ptr_not_equal(b->limits[1].table, a->limits[1].table);
	assert_ptr_equal(b->routes[0].limits[0].table, a->routes[0].limits[0].table);
	assert_ptr_not_equal(b->routes[0].limits[1].table, a->routes[0].limits[1].table);
	assert_ptr_not_equal(b->routes[1].limits[0].table, a->routes[1].limits[0].table);
	assert_ptr_equal(b->escalation.strikes, a->escalation.strikes);
	/* the count carried over: still refused on the new snapshot */
	assert_int_equal(rl_take(b->routes[0].limits[0].table, "k", 1, 2, &rr), 0);
	assert_false(rr.allowed);
	/* adopting again is a no-op */
	assert_int_equal(policy_adopt(b, a), 0);

	/* the old snapshot goes away; the new one keeps the shared tables */
	config_put(a);
	assert_int_equal(rl_take(b->routes[0].limits[0].table, "k", 1, 3, &rr), 0);
	assert_false(rr.allowed);
	assert_int_equal(rl_take(b->escalation.strikes, "s", 1, 3, &rr), 0);
	assert_true(rr.allowed);

	if (load(v3, &c, &errors))
		fail_msg("%s", errors);
	assert_int_equal(policy_adopt(c, b), 0);
	assert_ptr_not_equal(c->escalation.strikes, b->escalation.strikes);
	assert_ptr_not_equal(c->limits[0].table, b->limits[0].table);
	config_put(b);
	config_put(c);
}

static void test_load_errors(void **state)
{
	char text[4096];
	struct config *c;
	char *errors = NULL;

	unsetenv("SLUICE_TEST_UNSET");
	write_file("short.key", "short\n");
	write_file("bad.json", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"d\":\"AQAB\"}]}");
	write_file("notpem.pem", "hello\n");
	snprintf(text, sizeof(text), BASE
		 "consumers:\n"
		 "  - name: alice\n"
		 "    bearer_tokens: ['%s', 'env:SLUICE_TEST_UNSET', 'file:missing.key',\n"
		 "                    'file:short.key']\n"
		 "  - name: bob\n"
		 "    bearer_tokens: ['%s']\n"
		 "jwt:\n"
		 "  jwks: [bad.json]\n"
		 "  keys: [{file: notpem.pem}, {secret: 'env:SLUICE_TEST_ALICE_KEY', alg: HS512}]\n",
		 alice_hash, alice_hash);
	setenv("SLUICE_TEST_ALICE_KEY", "alice-env-key-0123456789", 1);
	assert_int_equal(load(text, &c, &errors), -EINVAL);
	assert_null(c);
	assert_non_null(errors);
	static const char *want[] = {
		"consumers[alice].bearer_tokens[1]: environment variable 'SLUICE_TEST_UNSET' is not set or empty",
		"consumers[alice].bearer_tokens[2]: ", "missing.key: No such file or directory",
		"consumers[alice].bearer_tokens[3]: secret must be 16 to 8192 bytes long (got 5)",
		"consumers[bob].bearer_tokens[0]: the same secret is already given to a consumer",
		"jwt.keys[0]: ", "notpem.pem: no PEM public key",
		"jwt.keys[1]: HMAC secret must be",
		"jwt.jwks[0]: ", "private key material",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(errors, want[i]))
			fail_msg("missing '%s' in:\n%s", want[i], errors);
	/* every line names the config file */
	for (char *l = errors; *l; l = strchr(l, '\n') + 1)
		assert_int_equal(strncmp(l, dir, strlen(dir)), 0);
	free(errors);
}

static int setup(void **state)
{
	char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/test_config_auth.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	auth_hash_token("alice-token-0123456789", 22, alice_hash);
	auth_hash_token("bob-key-0123456789", 18, bob_hash);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_reload_adopt),
	};

	return cmocka_run_group_tests_name("config_auth", tests, setup, teardown);
}
