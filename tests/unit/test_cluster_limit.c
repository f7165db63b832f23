// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/policy/cluster_limit.c: the local side of cluster
 * limits. A table of cases (Redis state, hosts, rank, when a key is first
 * seen, what a reconcile granted) with the requests admitted out of a
 * flood; hostile keys (too long, empty where a key is needed); windows
 * rolling over; an allowance below what was admitted never revokes; the
 * shares add up to N for any host count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/cluster_limit.h"

#define NS 1000000000ull
#define MS 1000000ull
static const uint8_t seed[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };
/* a wall clock at the start of a minute */
static const uint64_t W0 = 1800000000ull * NS;

static struct crl_table *table(enum rl_key_kind kind, const char *rate)
{
	struct rl_limit l = { .key = kind, .n_windows = 1 };
	char err[128];
	struct crl_table *t;

	assert_int_equal(rl_parse_window(rate, &l.windows[0], err,
					 sizeof(err)), 0);
	t = crl_table_new(&l, "*:0:consumer:60/60", seed);
	assert_non_null(t);
	return t;
}

static unsigned int flood(struct crl_table *t, const char *key, uint64_t at,
			  unsigned int n)
{
	unsigned int ok = 0;
	struct rl_result r;

	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(crl_take(t, key, strlen(key), at + i, &r), 0);
		ok += r.allowed;
	}
	return ok;
}

struct crl_case {
	const char *name;
	enum crl_state st;
	unsigned int nodes, rank;
	uint64_t first_at_ns;	/* into the window, first request */
	long long grant;	/* >= 0: a reconcile grants this after it */
	unsigned int want;	/* admitted out of 200 */
};

static void test_cases(void **state)
{
	static const struct crl_case cases[] = {
		{ "down local: the share", CRL_DOWN_LOCAL, 3, 0, 0, -1, 20 },
		{ "down local: rank 0 gets the remainder", CRL_DOWN_LOCAL, 7, 0,
		  0, -1, 9 },
		{ "down local: last rank", CRL_DOWN_LOCAL, 7, 6, 0, -1, 8 },
		{ "down open: no limit", CRL_DOWN_OPEN, 3, 0, 0, -1, 200 },
		{ "down closed: all refused", CRL_DOWN_CLOSED, 3, 0, 0, -1, 0 },
		{ "up, young window: the share", CRL_UP, 3, 1, 0, -1, 20 },
		{ "up, key first seen late: 1 until a reconcile", CRL_UP, 3, 1,
		  10 * NS, -1, 1 },
		{ "up, reconcile grants 35", CRL_UP, 3, 1, 0, 35, 35 },
		{ "up, reconcile grants 0: keeps what it admitted", CRL_UP, 3,
		  1, 0, 0, 20 },
		{ "one host: all of N", CRL_UP, 1, 0, 0, -1, 60 },
		{ "zero hosts read as one", CRL_DOWN_LOCAL, 0, 0, 0, -1, 60 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct crl_case *c = &cases[i];
		struct crl_table *t = table(RL_KEY_CONSUMER, "60/m");
		uint64_t at = W0 + c->first_at_ns;
		unsigned int ok;

		crl_set_env(t, c->nodes, c->rank, c->st, 50 * MS);
		ok = flood(t, "acme", at, c->grant >= 0 ? 100 : 200);
		if (c->grant >= 0) {
			struct crl_sync s[4];
			size_t cur = 0, n = crl_collect(t, at + 200, s, 4, &cur);

			if (n != 1)
				fail_msg("%s: collected %zu entries", c->name, n);
			crl_apply(t, &s[0], (uint64_t)c->grant);
			ok += flood(t, "acme", at + 300, 100);
		}
		if (ok != c->want)
			fail_msg("%s: admitted %u, want %u", c->name, ok,
				 c->want);
		crl_table_free(t);
	}
}

static void test_hostile_keys(void **state)
{
	struct crl_table *t = table(RL_KEY_CONSUMER, "10/s");
	struct crl_table *g = table(RL_KEY_GLOBAL, "10/s");
	char big[RL_MAX_KEY + 2];
	struct rl_result r;

	(void)state;
	memset(big, 'k', sizeof(big));
	assert_int_equal(crl_take(t, big, RL_MAX_KEY + 1, W0, &r), -EINVAL);
	assert_int_equal(crl_take(t, big, RL_MAX_KEY, W0, &r), 0);
	assert_int_equal(crl_take(t, "", 0, W0, &r), -EINVAL);
	assert_int_equal(crl_take(g, "", 0, W0, &r), 0);
	/* keys differing in a byte past a NUL are different keys */
	crl_set_env(t, 1, 0, CRL_DOWN_LOCAL, 50 * MS);
	for (int i = 0; i < 11; i++)
		assert_int_equal(crl_take(t, "a\0b", 3, W0, &r), 0);
	assert_false(r.allowed);
	assert_int_equal(crl_take(t, "a\0c", 3, W0, &r), 0);
	assert_true(r.allowed);
	crl_table_free(t);
	crl_table_free(g);
}

static void test_window_rollover(void **state)
{
	struct crl_table *t = table(RL_KEY_IP, "5/10s");
	struct rl_result r;

	(void)state;
	crl_set_env(t, 1, 0, CRL_UP, 50 * MS);
	assert_int_equal(flood(t, "k", W0, 10), 5);
	assert_int_equal(crl_take(t, "k", 1, W0 + 3 * NS, &r), 0);
	assert_false(r.allowed);
	assert_int_equal(r.limit, 5);
	assert_int_equal(r.reset_s, 7);
	/* the next window: a key active in the one before gets its share */
	assert_int_equal(flood(t, "k", W0 + 10 * NS + 5 * NS, 10), 5);
	/* a window skipped: first seen late again, 1 until a reconcile */
	assert_int_equal(flood(t, "k", W0 + 30 * NS + 5 * NS, 10), 1);
	crl_table_free(t);
}

static void test_collect_only_active(void **state)
{
	struct crl_table *t = table(RL_KEY_IP, "100/m");
	struct crl_sync s[8];
	size_t cur = 0;

	(void)state;
	crl_set_env(t, 2, 0, CRL_UP, 50 * MS);
	flood(t, "a", W0, 3);
	flood(t, "b", W0, 1);
	assert_int_equal(crl_collect(t, W0 + MS, s, 8, &cur), 2);
	assert_int_equal(cur, 0);
	/* the next window: nothing admitted in it yet */
	assert_int_equal(crl_collect(t, W0 + 60 * NS, s, 8, &cur), 0);
	/* a grant for an old window is ignored */
	flood(t, "a", W0 + 60 * NS, 1);
	s[0].win = W0 / (60 * NS);
	s[0].klen = 1;
	s[0].key[0] = 'a';
	s[0].count = 0;
	crl_apply(t, &s[0], 1000);
	assert_int_equal(flood(t, "a", W0 + 61 * NS, 100), 49);
	crl_table_free(t);
}

static void test_shares_add_up(void **state)
{
	(void)state;
	for (uint64_t n = 1; n < 200; n += 7)
		for (unsigned int h = 1; h <= 17; h++) {
			uint64_t sum = 0;

			for (unsigned int r = 0; r < h; r++)
				sum += crl_share(n, h, r);
			assert_int_equal(sum, n);
		}
}

static void test_bad_limits(void **state)
{
	struct rl_limit l = { .key = RL_KEY_IP, .n_windows = 2 };

	(void)state;
	l.windows[0] = (struct rl_window){ 10, NS, 10 };
	l.windows[1] = (struct rl_window){ 100, 60 * NS, 100 };
	assert_null(crl_table_new(&l, "x", seed));
	l.n_windows = 1;
	l.windows[0].limit = 0;
	assert_null(crl_table_new(&l, "x", seed));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_hostile_keys),
		cmocka_unit_test(test_window_rollover),
		cmocka_unit_test(test_collect_only_active),
		cmocka_unit_test(test_shares_add_up),
		cmocka_unit_test(test_bad_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
