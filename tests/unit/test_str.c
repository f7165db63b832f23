// SPDX-License-Identifier: MIT
/* Unit tests for daemon/lib/str.c: bounded and growing string builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/str.h"

/* A bounded builder stops at the first append that does not fit: what was
 * there stays, nothing later is added, and overflow says so. */
static void test_bounded(void **state)
{
	char buf[8];
	struct sbuf s;

	(void)state;
	sbuf_init(&s, buf, sizeof(buf));
	sbuf_adds(&s, "abc");
	sbuf_addf(&s, "%d", 42);
	assert_false(s.overflow);
	assert_int_equal(s.len, 5);
	assert_memory_equal(buf, "abc42", 5);
	sbuf_adds(&s, "wxyz");		/* 9 > 8: refused whole */
	assert_true(s.overflow);
	assert_int_equal(s.len, 5);
	sbuf_add(&s, "z", 1);		/* would fit, but overflow sticks */
	assert_int_equal(s.len, 5);
	sbuf_free(&s);			/* no-op: the array is the caller's */

	sbuf_init(&s, buf, sizeof(buf));
	sbuf_addf(&s, "%s", "12345678");	/* needs 9 with the NUL */
	assert_true(s.overflow);
	assert_int_equal(s.len, 0);
}

/* A growing builder takes anything, through add and formatted appends
 * larger than its current room, and keeps the bytes in order. */
static void test_grow(void **state)
{
	char want[5000];
	struct sbuf s;
	size_t n = 0;

	(void)state;
	sbuf_init_grow(&s, 4);
	assert_false(s.overflow);
	for (int i = 0; i < 300; i++) {
		char piece[16];
		int k = snprintf(piece, sizeof(piece), "<%d>", i);

		if (i % 2)
			sbuf_add(&s, piece, (size_t)k);
		else
			sbuf_addf(&s, "<%d>", i);
		memcpy(want + n, piece, (size_t)k);
		n += (size_t)k;
	}
	sbuf_addf(&s, "%0200d", 7);		/* one append past the room */
	memset(want + n, '0', 199);
	want[n + 199] = '7';
	n += 200;
	assert_false(s.overflow);
	assert_int_equal(s.len, n);
	assert_true(s.cap >= s.len);
	assert_memory_equal(s.p, want, n);
	sbuf_free(&s);
	assert_null(s.p);
}

static void test_json(void **state)
{
	char buf[64];
	struct sbuf s;

	(void)state;
	sbuf_init(&s, buf, sizeof(buf));
	sbuf_add_json(&s, "a\"b\\c\n\x01", 7);
	assert_false(s.overflow);
	assert_int_equal(s.len, 19);
	assert_memory_equal(buf, "a\\\"b\\\\c\\u000a\\u0001", 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
