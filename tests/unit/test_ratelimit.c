// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/policy/ratelimit.c: window parsing, GCRA math at the exact
 * nanosecond edges, several windows at once, the RateLimit-* numbers,
 * exactness under concurrent threads, eviction, and SipHash against the
 * reference vector from the SipHash paper.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/ratelimit.h"

#define NS 1000000000ull
static const uint8_t seed[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
				  14, 15, 16 };
/* arbitrary monotonic origin, large enough to matter for overflow */
static const uint64_t T0 = 86400ull * 365 * NS;

static struct rl_table *table(enum rl_key_kind kind, const char *w1,
			      const char *w2, size_t max_keys)
{
	struct rl_limit l = { .key = kind, .max_keys = max_keys };
	char err[128];
	struct rl_table *t;

	assert_int_equal(rl_parse_window(w1, &l.windows[0], err, sizeof(err)), 0);
	l.n_windows = 1;
	if (w2) {
		assert_int_equal(rl_parse_window(w2, &l.windows[1], err,
						 sizeof(err)), 0);
		l.n_windows = 2;
	}
	t = rl_table_new(&l, seed);
	assert_non_null(t);
	return t;
}

static bool take(struct rl_table *t, const char *key, uint64_t now,
		 struct rl_result *r)
{
	struct rl_result tmp;

	if (!r)
		r = &tmp;
	assert_int_equal(rl_take(t, key, strlen(key), now, r), 0);
	return r->allowed;
}

static void test_parse_window(void **state)
{
	struct rl_window w;
	char err[160];

	assert_int_equal(rl_parse_window("10/s", &w, err, sizeof(err)), 0);
	assert_int_equal(w.limit, 10);
	assert_int_equal(w.period_ns, NS);
	assert_int_equal(w.burst, 10);
	assert_int_equal(rl_parse_window("1000/h", &w, err, sizeof(err)), 0);
	assert_int_equal(w.period_ns, 3600 * NS);
	assert_int_equal(rl_parse_window("100/10s burst 5", &w, err,
					 sizeof(err)), 0);
	assert_int_equal(w.limit, 100);
	assert_int_equal(w.period_ns, 10 * NS);
	assert_int_equal(w.burst, 5);
	assert_int_equal(rl_parse_window("5/m", &w, err, sizeof(err)), 0);
	assert_int_equal(w.period_ns, 60 * NS);
	assert_int_equal(rl_parse_window("1/d", &w, err, sizeof(err)), 0);
	assert_int_equal(w.period_ns, 86400 * NS);

	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "", "expected N/PERIOD" },
		{ "0/s", "expected N/PERIOD" },
		{ "10", "expected N/PERIOD" },
		{ "10/", "unit must be" },
		{ "10/x", "unit must be" },
		{ "10/0s", "bad period count" },
		{ "10/s ", "unexpected" },
		{ "10/sec", "unexpected" },
		{ "10/s burst", "unexpected" },
		{ "10/s burst 0", "burst must be" },
		{ "-1/s", "expected N/PERIOD" },
		{ "10/400d", "longer than a year" },
		{ "99999999999999/s", "expected N/PERIOD" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (rl_parse_window(bad[i].in, &w, err, sizeof(err)) != -EINVAL ||
		    !strstr(err, bad[i].msg))
			fail_msg("'%s': err '%s', want '%s'", bad[i].in, err,
				 bad[i].msg);
	}
	assert_int_equal(rl_key_kind_from_name("consumer"), RL_KEY_CONSUMER);
	assert_int_equal(rl_key_kind_from_name("ip"), RL_KEY_IP);
	assert_int_equal(rl_key_kind_from_name("route"), RL_KEY_ROUTE);
	assert_int_equal(rl_key_kind_from_name("global"), RL_KEY_GLOBAL);
	assert_int_equal(rl_key_kind_from_name("user"), -1);
	assert_string_equal(rl_key_kind_name(RL_KEY_IP), "ip");
}

/* 10/s: ten at once, then exactly one per 100 ms. */
static void test_burst_then_refill_edges(void **state)
{
	struct rl_table *t = table(RL_KEY_IP, "10/s", NULL, 0);
	struct rl_result r;

	for (int i = 0; i < 10; i++) {
		assert_true(take(t, "a", T0, &r));
		assert_int_equal(r.limit, 10);
		assert_int_equal(r.remaining, 9 - i);
	}
	assert_false(take(t, "a", T0, &r));
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.retry_after_s, 1);	/* 100 ms, rounded up */
	/* one nanosecond before the emission interval: still no */
	assert_false(take(t, "a", T0 + 100000000 - 1, &r));
	assert_true(take(t, "a", T0 + 100000000, &r));
	assert_int_equal(r.remaining, 0);
	assert_false(take(t, "a", T0 + 100000000, &r));
	/* other keys are independent */
	assert_true(take(t, "b", T0, &r));
	assert_int_equal(r.remaining, 9);
	/* after a full period everything is back */
	assert_true(take(t, "a", T0 + 100000000 + NS, &r));
	assert_int_equal(r.remaining, 9);
	rl_table_free(t);
}

/* 3/s is 333333333.33 ns apart: the math must not round it. */
static void test_exact_fractional_interval(void **state)
{
	struct rl_table *t = table(RL_KEY_IP, "3/s", NULL, 0);

	for (int i = 0; i < 3; i++)
		assert_true(take(t, "k", T0, NULL));
	assert_false(take(t, "k", T0 + 333333333, NULL));
	assert_true(take(t, "k", T0 + 333333334, NULL));
	/* the next one is due at T0 + 666666666.67 */
	assert_false(take(t, "k", T0 + 666666666, NULL));
	assert_true(take(t, "k", T0 + 666666667, NULL));
	/* and the third at exactly T0 + 1 s */
	assert_false(take(t, "k", T0 + NS - 1, NULL));
	assert_true(take(t, "k", T0 + NS, NULL));
	rl_table_free(t);
}

/* Spread evenly, N per period passes forever; one more never does. */
static void test_steady_rate(void **state)
{
	struct rl_table *t = table(RL_KEY_IP, "7/s", NULL, 0);
	unsigned int ok = 0;

	/* 70 requests per second offered for 10 s, uniformly */
	for (uint64_t i = 0; i < 700; i++)
		ok += take(t, "k", T0 + i * (NS / 70), NULL);
	/* the initial burst of 7 plus 7/s over the 10 s minus one tick */
	assert_in_range(ok, 7 + 69, 7 + 70);
	rl_table_free(t);
}

static void test_burst_option(void **state)
{
	struct rl_table *t = table(RL_KEY_IP, "10/s burst 2", NULL, 0);
	struct rl_result r;

	assert_true(take(t, "k", T0, &r));
	assert_int_equal(r.limit, 2);
	assert_int_equal(r.remaining, 1);
	assert_true(take(t, "k", T0, &r));
	assert_false(take(t, "k", T0, &r));
	assert_true(take(t, "k", T0 + NS / 10, &r));
	rl_table_free(t);
}

/* 5/s and 8/m at once: the minute window bites after 8. */
static void test_several_windows(void **state)
{
	struct rl_table *t = table(RL_KEY_CONSUMER, "5/s", "8/m", 0);
	struct rl_result r;

	for (int i = 0; i < 5; i++)
		assert_true(take(t, "c", T0, &r));
	assert_false(take(t, "c", T0, &r));
	/* second window did not count the refused request */
	assert_true(take(t, "c", T0 + NS, &r));
	assert_true(take(t, "c", T0 + NS, &r));
	assert_true(take(t, "c", T0 + NS, &r));
	/* 8 spent: the minute window reports itself */
	assert_int_equal(r.limit, 8);
	assert_int_equal(r.remaining, 0);
	assert_false(take(t, "c", T0 + 2 * NS, &r));
	assert_int_equal(r.limit, 8);
	/* 8/m refills one per 7.5 s from the first request at T0 */
	assert_int_equal(r.retry_after_s, 6);	/* 7.5 - 2 = 5.5 -> 6 */
	assert_false(take(t, "c", T0 + 7500000000ull - 1, &r));
	assert_true(take(t, "c", T0 + 7500000000ull, &r));
	rl_table_free(t);
}

static void test_result_numbers(void **state)
{
	struct rl_table *t = table(RL_KEY_IP, "4/m", NULL, 0);
	struct rl_result r;

	assert_true(take(t, "k", T0, &r));
	assert_int_equal(r.limit, 4);
	assert_int_equal(r.remaining, 3);
	assert_int_equal(r.reset_s, 15);	/* one slot refills in 15 s */
	assert_int_equal(r.period_s, 60);
	assert_true(take(t, "k", T0, &r));
	assert_true(take(t, "k", T0, &r));
	assert_true(take(t, "k", T0, &r));
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.reset_s, 60);
	assert_false(take(t, "k", T0 + 10 * NS, &r));
	assert_int_equal(r.retry_after_s, 5);
	assert_int_equal(r.reset_s, 50);
	rl_table_free(t);
}

static void test_route_and_global_keys(void **state)
{
	struct rl_table *t = table(RL_KEY_GLOBAL, "2/s", NULL, 0);
	struct rl_result r;

	assert_int_equal(rl_take(t, "", 0, T0, &r), 0);
	assert_true(r.allowed);
	assert_int_equal(rl_take(t, "", 0, T0, &r), 0);
	assert_int_equal(rl_take(t, "", 0, T0, &r), 0);
	assert_false(r.allowed);
	rl_table_free(t);
	/* empty keys are refused for per-client limits, long keys always */
	t = table(RL_KEY_IP, "2/s", NULL, 0);
	assert_int_equal(rl_take(t, "", 0, T0, &r), -EINVAL);
	{
		char big[RL_MAX_KEY + 1];

		memset(big, 'x', sizeof(big));
		assert_int_equal(rl_take(t, big, sizeof(big), T0, &r), -EINVAL);
		assert_int_equal(rl_take(t, big, RL_MAX_KEY, T0, &r), 0);
	}
	rl_table_free(t);
}

/* A table of one bucket: the 9th live key evicts the one closest to idle. */
static void test_eviction(void **state)
{
	struct rl_table *t = table(RL_KEY_IP, "1/m", NULL, 8);
	char k[16];

	for (int i = 0; i < 8; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		/* k0 is oldest: idle first */
		assert_true(take(t, k, T0 + (uint64_t)i * NS, NULL));
	}
	for (int i = 0; i < 8; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		assert_false(take(t, k, T0 + 8 * NS, NULL));
	}
	assert_true(take(t, "new", T0 + 9 * NS, NULL));
	/* k0 lost its history; the others kept theirs */
	assert_true(take(t, "k0", T0 + 9 * NS, NULL));
	/* ...which in turn evicted k1 (now the closest to idle) */
	assert_true(take(t, "k1", T0 + 9 * NS, NULL));
	assert_false(take(t, "k7", T0 + 9 * NS, NULL));
	/* expired entries are reused without losing live ones */
	assert_true(take(t, "k5", T0 + 200 * NS, NULL));
	rl_table_free(t);
}

struct worker {
	struct rl_table *t;
	unsigned int allowed;
	int id;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	struct rl_result r;
	char key[16];

	for (int i = 0; i < 20000; i++) {
		/* two shared keys, same instant: only the burst may pass */
		snprintf(key, sizeof(key), "shared%d", i & 1);
		if (rl_take(w->t, key, strlen(key), T0, &r) == 0 && r.allowed)
			w->allowed++;
	}
	return NULL;
}

static void test_exact_across_threads(void **state)
{
	struct rl_table *t = table(RL_KEY_IP, "1000/h", NULL, 0);
	struct worker w[4];
	pthread_t th[4];
	unsigned int total = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .t = t, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += w[i].allowed;
	}
	assert_int_equal(total, 2000);
	rl_table_free(t);
}

static void test_policy_header(void **state)
{
	struct rl_limit l = { .key = RL_KEY_IP };
	char err[64], buf[64];

	rl_parse_window("10/s", &l.windows[0], err, sizeof(err));
	rl_parse_window("1000/h", &l.windows[1], err, sizeof(err));
	l.n_windows = 2;
	assert_int_equal(rl_policy_header(&l, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "10;w=1, 1000;w=3600");
	/* truncation stays NUL-terminated */
	rl_policy_header(&l, buf, 8);
	assert_string_equal(buf, "10;w=1,");
}

/* Limit identity for reloads, shared tables, and the result's policy. */
static void test_same_and_refs(void **state)
{
	struct rl_table *t = table(RL_KEY_IP, "2/s", "100/h", 0);
	struct rl_limit l = *rl_table_limit(t), m;
	struct rl_result r;

	m = l;
	assert_true(rl_limit_same(&l, &m));
	m.max_keys = RL_DEFAULT_MAX_KEYS;	/* 0 means the default */
	assert_true(rl_limit_same(&l, &m));
	m.max_keys = 64;
	assert_false(rl_limit_same(&l, &m));
	m = l;
	m.windows[1].burst = 101;
	assert_false(rl_limit_same(&l, &m));
	m = l;
	m.windows[0].period_ns++;
	assert_false(rl_limit_same(&l, &m));
	m = l;
	m.n_windows = 1;
	assert_false(rl_limit_same(&l, &m));
	m = l;
	m.key = RL_KEY_CONSUMER;
	assert_false(rl_limit_same(&l, &m));
	/* capacity does not matter for a route or global limit */
	l.key = m.key = RL_KEY_ROUTE;
	m.max_keys = 64;
	assert_true(rl_limit_same(&l, &m));

	/* two references: the first free leaves a working table */
	assert_ptr_equal(rl_table_ref(t), t);
	assert_true(take(t, "a", T0, &r));
	assert_ptr_equal(r.policy, rl_table_limit(t));
	rl_table_free(t);
	assert_true(take(t, "a", T0, &r));
	assert_false(take(t, "a", T0, &r));	/* history kept */
	assert_ptr_equal(r.policy, rl_table_limit(t));
	rl_table_free(t);			/* ASan: freed exactly once */
	rl_table_free(NULL);
}

static void test_bad_table(void **state)
{
	struct rl_limit l = { .key = RL_KEY_IP };

	assert_null(rl_table_new(&l, seed));
	assert_int_equal(errno, EINVAL);
	l.n_windows = 1;
	l.windows[0] = (struct rl_window){ .limit = 1, .period_ns = 0,
					   .burst = 1 };
	assert_null(rl_table_new(&l, seed));
}

/* Reference vector from the SipHash paper, Appendix A. */
static void test_siphash_vector(void **state)
{
	uint8_t key[16], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(rl_siphash(key, msg, 15) == 0xa129ca6149be45e5ull);
	assert_true(rl_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ull);
	assert_true(rl_siphash(key, msg, 8) == 0x93f5f5799a932462ull);
}

/* The 128-bit variant against the reference's vectors_sip128 (lengths 0,
 * 1 and 2; the block loop is the 64-bit one's, checked above). */
static void test_siphash128_vector(void **state)
{
	static const uint64_t want[3][2] = {
		{ 0xe6a825ba047f81a3ull, 0x930255c71472f66dull },
		{ 0x44af996bd8c187daull, 0x45fc229b11597634ull },
		{ 0xc75da4a48d227781ull, 0xe4ff0af6de8ba3fcull },
	};
	uint8_t key[16], msg[2] = { 0, 1 };
	uint64_t out[2];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (size_t n = 0; n < 3; n++) {
		rl_siphash128(key, msg, n, out);
		assert_true(out[0] == want[n][0]);
		assert_true(out[1] == want[n][1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_window),
		cmocka_unit_test(test_burst_then_refill_edges),
		cmocka_unit_test(test_exact_fractional_interval),
		cmocka_unit_test(test_steady_rate),
		cmocka_unit_test(test_burst_option),
		cmocka_unit_test(test_several_windows),
		cmocka_unit_test(test_same_and_refs),
		cmocka_unit_test(test_result_numbers),
		cmocka_unit_test(test_route_and_global_keys),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_exact_across_threads),
		cmocka_unit_test(test_policy_header),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_siphash_vector),
		cmocka_unit_test(test_siphash128_vector),
	};

	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
