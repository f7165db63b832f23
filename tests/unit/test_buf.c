// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/lib/buf.c: the buffer pool (mmap'd blocks, reuse
 * last in first out, headers placed on different cache lines of the first
 * page) and the byte-range operations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/buf.h"

#define N 80

/* Is any page of [p, p + len) mapped? mincore() fails with ENOMEM for an
 * unmapped range. */
static bool mapped(const void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
	unsigned char vec[16];

	return mincore((void *)a, page < len ? page : len, vec) == 0 ||
	       errno != ENOMEM;
}

/* Every block has room for block_size bytes whatever its header's place,
 * the headers of 80 blocks take many different offsets within a page (at
 * most 64, as far as the slack allows), every byte is writable, and
 * destroying the pool unmaps every block. */
static void test_pool_colors(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* the daemon's default: a 32 KiB head limit + 4 KiB slack */
	static const size_t sizes[] = { 36864, 16384, 4096 - 56, 100 };

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct buf_pool p;
		struct buf *b[N];
		bool seen[64] = { false };
		unsigned int colors = 0;

		buf_pool_init(&p, sizes[k], N);
		for (int i = 0; i < N; i++) {
			size_t off;

			b[i] = buf_get(&p);
			assert_non_null(b[i]);
			off = (uintptr_t)b[i] & (page - 1);
			assert_true(off % 64 == 0);
			assert_true(off / 64 < 64);
			if (!seen[off / 64]) {
				seen[off / 64] = true;
				colors++;
			}
			assert_true(b[i]->cap >= sizes[k]);
			assert_ptr_equal(b[i]->data, (char *)(b[i] + 1));
			memset(b[i]->data, 0x5a, b[i]->cap);
			assert_int_equal(buf_len(b[i]), 0);
		}
		if (sizes[k] == 36864)
			assert_int_equal(colors, 64);
		else if (sizes[k] == 4096 - 56)
			assert_int_equal(colors, 1);	/* no slack at all */
		else
			assert_true(colors > 1);
		for (int i = 0; i < N; i++)
			buf_put(&p, b[i]);
		assert_int_equal(p.n_free, N);
		/* last in, first out */
		assert_ptr_equal(buf_get(&p), b[N - 1]);
		buf_put(&p, b[N - 1]);
		buf_pool_destroy(&p);
		for (int i = 0; i < N; i++)
			if (mapped(b[i], 1))
				fail_msg("size %zu: block %d still mapped",
					 sizes[k], i);
	}
}

/* Blocks given back beyond max_free are unmapped at once. */
static void test_pool_max_free(void **state)
{
	struct buf_pool p;
	struct buf *b[4];

	(void)state;
	buf_pool_init(&p, 36864, 2);
	for (int i = 0; i < 4; i++)
		assert_non_null(b[i] = buf_get(&p));
	for (int i = 0; i < 4; i++)
		buf_put(&p, b[i]);
	assert_int_equal(p.n_free, 2);
	assert_false(mapped(b[2], 1));
	assert_false(mapped(b[3], 1));
	assert_true(mapped(b[0], 1));
	buf_pool_destroy(&p);
	assert_false(mapped(b[0], 1));
	assert_false(mapped(b[1], 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_colors),
		cmocka_unit_test(test_pool_max_free),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
