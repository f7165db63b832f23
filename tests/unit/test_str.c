// SPDX-License-Identifier: MIT
/* Unit tests for daemon/lib/str.c (bounded and growing string builders,
 * case-insensitive equality) and daemon/lib/table.c (aligned text tables,
 * rendered into one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/str.h"
#include "lib/table.h"

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

/* sbuf_take hands a growing builder's text over, NUL-terminated, and
 * leaves the builder empty; an overflowed or bounded builder gives NULL. */
static void test_take(void **state)
{
	struct sbuf s;
	size_t len = 99;
	char buf[4], *p;

	(void)state;
	sbuf_init_grow(&s, 2);
	sbuf_addf(&s, "%s-%d", "abc", 12345);
	p = sbuf_take(&s, &len);
	assert_non_null(p);
	assert_int_equal(len, 9);
	assert_string_equal(p, "abc-12345");
	assert_null(s.p);
	assert_int_equal(s.len, 0);
	free(p);

	sbuf_init_grow(&s, 8);		/* nothing added: "" */
	p = sbuf_take(&s, &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	assert_string_equal(p, "");
	free(p);

	sbuf_init_grow(&s, 8);
	s.overflow = true;		/* as after a failed allocation */
	assert_null(sbuf_take(&s, &len));
	assert_null(s.p);

	sbuf_init(&s, buf, sizeof(buf));
	sbuf_adds(&s, "ab");
	assert_null(sbuf_take(&s, &len));
}

/* Columns as wide as their widest cell, two spaces apart, right-aligned
 * where asked, no trailing blanks, appended after what the builder holds. */
static void test_table(void **state)
{
	static const char *const hdr[] = { "NAME", "N", "NOTE" };
	const char *r1[] = { "a", "12345", "x" };
	const char *r2[] = { "longer", "7", "" };
	struct table t;
	struct sbuf s;
	char *p;

	(void)state;
	sbuf_init_grow(&s, 4);
	sbuf_adds(&s, "head\n");
	table_init(&t, 3, 2, hdr);
	table_row(&t, r1);
	table_row(&t, r2);
	assert_int_equal(table_render(&t, &s), 0);
	p = sbuf_take(&s, NULL);
	assert_non_null(p);
	assert_string_equal(p, "head\n"
			       "NAME        N  NOTE\n"
			       "a       12345  x\n"
			       "longer      7\n");
	free(p);

	/* a full bounded builder: -ENOMEM, cells freed all the same */
	{
		char small[8];

		sbuf_init(&s, small, sizeof(small));
		table_init(&t, 3, 2, hdr);
		table_row(&t, r1);
		assert_int_equal(table_render(&t, &s), -ENOMEM);
		assert_true(s.overflow);
		assert_null(t.cells);
	}
}

/* The reference: a byte loop with tolower's ASCII rule. */
static bool ref_ieq(const unsigned char *a, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* str_ieq folds eight bytes a step: it must agree with the byte loop for
 * every length (the short, overlapping and tail paths) and every byte,
 * the neighbours of 'A'..'Z' ('@', '[', '`', '{'), the upper half and
 * '_' against '-' included; and the lengths must match. */
static void test_ieq(void **state)
{
	static const char names[][24] = {
		"content-length", "Content-Length", "CONTENT-LENGTH",
		"content_length", "connection", "Connection", "keep-alive",
		"te", "TE", "t@", "t`", "[", "{", "@", "`", "x-request-id",
		"X-REQUEST-ID", "x-request-iD", "x-request-i\xc4",
		"x-request-i\xe4", "transfer-encoding", "Transfer-Encodinf",
	};
	const size_t nn = sizeof(names) / sizeof(names[0]);
	unsigned char a[40], b[40];
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (size_t i = 0; i < nn; i++)
		for (size_t j = 0; j < nn; j++) {
			size_t la = strlen(names[i]), lb = strlen(names[j]);
			bool want = la == lb &&
				    ref_ieq((const unsigned char *)names[i],
					    (const unsigned char *)names[j],
					    la);

			assert_int_equal(str_ieq(names[i], la, names[j], lb),
					 want);
		}
	assert_true(str_ieq("", 0, "", 0));
	assert_false(str_ieq("a", 1, "", 0));
	assert_false(str_ieq("connection", 10, "connectio", 9));
	/* every byte value at every position of every length up to 40,
	 * against its case-changed self and against a neighbour */
	for (size_t n = 1; n <= sizeof(a); n++)
		for (int c = 0; c < 256; c++) {
			size_t at = (size_t)c % n;

			for (size_t k = 0; k < n; k++) {
				seed = seed * 6364136223846793005ull +
				       1442695040888963407ull;
				a[k] = (unsigned char)('a' + (seed >> 33) % 26);
				b[k] = (seed >> 40) & 1 ?
					       (unsigned char)(a[k] - 32) :
					       a[k];
			}
			a[at] = (unsigned char)c;
			for (int d = c - 1; d <= c + 1; d++) {
				b[at] = (unsigned char)(d & 0xff);
				assert_int_equal(
					str_ieq((char *)a, n, (char *)b, n),
					ref_ieq(a, b, n));
			}
			b[at] = (unsigned char)(c ^ 0x20);
			assert_int_equal(str_ieq((char *)a, n, (char *)b, n),
					 ref_ieq(a, b, n));
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ieq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
