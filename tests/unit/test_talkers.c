// SPDX-License-Identifier: MIT
/* Unit tests for daemon/policy/talkers.c: the bounded top-talkers tables of
 * the daemon's sampler (GET /top). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "policy/talkers.h"

static const uint8_t SEED[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static void v4(uint8_t a[16], uint32_t x)
{
	memset(a, 0, 16);
	a[0] = 198;
	a[1] = (uint8_t)(x >> 16);
	a[2] = (uint8_t)(x >> 8);
	a[3] = (uint8_t)x;
}

/* Every entry is reachable through the index, and the heap is ordered. */
static void check_table(const struct talkers *t)
{
	for (uint32_t i = 0; i < t->n; i++) {
		const struct talkers_entry *e = &t->e[i];

		assert_ptr_equal(talkers_find(t, e->family, e->addr), e);
		assert_int_equal(t->heap[e->heap], i);
		if (e->heap)
			assert_true(t->e[t->heap[(e->heap - 1) / 2]].rank <=
				    e->rank);
		assert_int_equal(e->rank, e->samples + e->inherited);
	}
}

/* Counts per source and reason, weights and bytes summed. */
static void test_counts(void **state)
{
	struct talkers t;
	uint8_t a[16], b[16];
	const struct talkers_entry *e;

	(void)state;
	assert_int_equal(talkers_init(&t, 8, SEED), 0);
	v4(a, 1);
	v4(b, 2);
	for (int i = 0; i < 5; i++)
		talkers_add(&t, AF_INET, a, SLUICE_R_DROP_BANNED, 64, 60);
	talkers_add(&t, AF_INET, a, SLUICE_R_DROP_DENY, 64, 60);
	talkers_add(&t, AF_INET, b, SLUICE_R_DROP_DENY, 1, 100);
	talkers_add(&t, AF_INET6, a, SLUICE_R_DROP_DENY, 1, 100);
	assert_int_equal(t.n, 3);	/* v4 and v6 of the same bytes differ */
	e = talkers_find(&t, AF_INET, a);
	assert_non_null(e);
	assert_int_equal(e->samples, 6);
	assert_int_equal(e->est, 6 * 64);
	assert_int_equal(e->bytes, 360);
	assert_int_equal(e->by_reason[SLUICE_R_DROP_BANNED], 5);
	assert_int_equal(e->by_reason[SLUICE_R_DROP_DENY], 1);
	assert_int_equal(e->inherited, 0);
	assert_int_equal(t.samples, 8);
	check_table(&t);
	talkers_clear(&t);
	assert_int_equal(t.n, 0);
	assert_null(talkers_find(&t, AF_INET, a));
	talkers_free(&t);
}

/* A flood of distinct sources stays within the table's capacity, and a
 * source sampled more often than samples/capacity is never pushed out. */
static void test_bounded_flood(void **state)
{
	enum { CAP = 64, FLOOD = 200000 };
	struct talkers t;
	uint8_t heavy[16], a[16];
	const struct talkers_entry *e;

	(void)state;
	assert_int_equal(talkers_init(&t, CAP, SEED), 0);
	v4(heavy, 0xffffff);
	for (uint32_t i = 0; i < FLOOD; i++) {
		v4(a, i);
		talkers_add(&t, AF_INET, a, SLUICE_R_DROP_NOT_ALLOWED, 1, 60);
		if (i % 16 == 0)	/* 1/17 of all samples */
			talkers_add(&t, AF_INET, heavy, SLUICE_R_DROP_BANNED,
				    1, 60);
		assert_true(t.n <= CAP);
	}
	assert_int_equal(t.n, CAP);
	assert_true(t.evicted > FLOOD - CAP);
	check_table(&t);
	e = talkers_find(&t, AF_INET, heavy);
	assert_non_null(e);
	/* it entered early and was never evicted: every sample counted */
	assert_int_equal(e->samples, FLOOD / 16);
	assert_int_equal(e->by_reason[SLUICE_R_DROP_BANNED], FLOOD / 16);
	talkers_free(&t);
}

/* Eviction takes the smallest, and the newcomer inherits its count as
 * rank only (its samples are its own). */
static void test_evicts_smallest(void **state)
{
	struct talkers t;
	uint8_t a[16];
	const struct talkers_entry *e;

	(void)state;
	assert_int_equal(talkers_init(&t, 4, SEED), 0);
	for (uint32_t s = 0; s < 4; s++) {
		v4(a, s);
		for (uint32_t k = 0; k <= s * 2; k++)	/* 1, 3, 5, 7 */
			talkers_add(&t, AF_INET, a, 0, 1, 1);
	}
	v4(a, 100);
	talkers_add(&t, AF_INET, a, 0, 1, 1);
	v4(a, 0);
	assert_null(talkers_find(&t, AF_INET, a));	/* had 1: gone */
	v4(a, 100);
	e = talkers_find(&t, AF_INET, a);
	assert_non_null(e);
	assert_int_equal(e->samples, 1);
	assert_int_equal(e->inherited, 1);
	assert_int_equal(e->rank, 2);
	for (uint32_t s = 1; s < 4; s++) {
		v4(a, s);
		assert_non_null(talkers_find(&t, AF_INET, a));
	}
	check_table(&t);
	talkers_free(&t);
}

/* The window: seconds in their own tables, old seconds recycled, a read
 * covers [now - seconds, now] and merges a source across them. */
static void test_window(void **state)
{
	struct talkers_window w;
	struct talkers_entry out[64];
	uint8_t a[16], b[16];
	uint64_t samples;
	size_t n;

	(void)state;
	assert_int_equal(talkers_window_init(&w, 4, 8, SEED), 0);
	v4(a, 1);
	v4(b, 2);
	talkers_window_add(&w, 100, AF_INET, a, SLUICE_R_DROP_DENY, 2, 10);
	talkers_window_add(&w, 101, AF_INET, a, SLUICE_R_DROP_DENY, 2, 10);
	talkers_window_add(&w, 101, AF_INET, b, SLUICE_R_DROP_BANNED, 2, 10);
	talkers_window_add(&w, 102, AF_INET, a, SLUICE_R_DROP_BANNED, 2, 10);
	n = talkers_window_copy(&w, 102, 2, out, 64, &samples);
	assert_int_equal(samples, 4);
	n = talkers_merge(out, n);
	assert_int_equal(n, 2);
	assert_memory_equal(out[0].addr, a, 16);	/* heaviest first */
	assert_int_equal(out[0].samples, 3);
	assert_int_equal(out[0].est, 6);
	assert_int_equal(out[0].by_reason[SLUICE_R_DROP_DENY], 2);
	assert_int_equal(out[0].by_reason[SLUICE_R_DROP_BANNED], 1);
	assert_int_equal(out[1].samples, 1);
	/* the last second only */
	n = talkers_merge(out, talkers_window_copy(&w, 102, 0, out, 64, NULL));
	assert_int_equal(n, 1);
	assert_int_equal(out[0].samples, 1);
	/* second 104 takes the slot of 100 (4 buckets): 100 is gone */
	talkers_window_add(&w, 104, AF_INET, b, SLUICE_R_DROP_DENY, 2, 10);
	n = talkers_window_copy(&w, 104, 3, out, 64, &samples);
	assert_int_equal(samples, 4);
	/* an event of a second whose slot moved on is dropped */
	talkers_window_add(&w, 100, AF_INET, b, SLUICE_R_DROP_DENY, 2, 10);
	assert_int_equal(w.stale, 1);
	/* the room given is respected */
	n = talkers_window_copy(&w, 104, 3, out, 1, NULL);
	assert_int_equal(n, 1);
	talkers_window_free(&w);
}

static void test_bad_args(void **state)
{
	struct talkers t;
	struct talkers_window w;

	(void)state;
	assert_int_equal(talkers_init(&t, 0, SEED), -EINVAL);
	assert_int_equal(talkers_init(&t, TALKERS_MAX_CAP + 1, SEED), -EINVAL);
	assert_int_equal(talkers_window_init(&w, 1, 8, SEED), -EINVAL);
	assert_int_equal(talkers_merge(NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_bounded_flood),
		cmocka_unit_test(test_evicts_smallest),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
