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

/* Blocks given back beyond max_free are kept while the pool holds no more
 * than it handed out at once lately; a trim after an interval that needed
 * fewer unmaps the rest. */
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
	/* 4 were out at once in this interval: all 4 kept */
	assert_int_equal(p.n_free, 4);
	for (int i = 0; i < 4; i++)
		assert_true(mapped(b[i], 1));
	/* the interval needed 4: the next one keeps them */
	buf_pool_trim(&p);
	assert_int_equal(p.n_free, 4);
	/* an interval that needed none: down to max_free, keeping the two
	 * given back last (still in the cache, handed out next) */
	buf_pool_trim(&p);
	assert_int_equal(p.n_free, 2);
	assert_true(mapped(b[3], 1));
	assert_true(mapped(b[2], 1));
	assert_false(mapped(b[1], 1));
	assert_false(mapped(b[0], 1));
	buf_pool_destroy(&p);
	for (int i = 0; i < 4; i++)
		assert_false(mapped(b[i], 1));
}

/* Traffic that swings between few and many buffers out reuses the same
 * blocks: no block is unmapped and mapped again on each swing, and a
 * swing past the recent peak maps only what is new. */
static void test_pool_swings_reuse_blocks(void **state)
{
	struct buf_pool p;
	struct buf *b[8];
	void *first[8];

	(void)state;
	buf_pool_init(&p, 4096, 2);
	for (int i = 0; i < 8; i++) {
		assert_non_null(b[i] = buf_get(&p));
		first[i] = b[i];
	}
	for (int round = 0; round < 4; round++) {
		/* down to 2 out, then up to 8 again */
		for (int i = 2; i < 8; i++)
			buf_put(&p, b[i]);
		assert_int_equal(p.n_free, 6);
		for (int i = 2; i < 8; i++) {
			bool known = false;

			assert_non_null(b[i] = buf_get(&p));
			for (int k = 2; k < 8; k++)
				known |= b[i] == first[k];
			assert_true(known);
		}
		assert_int_equal(p.n_free, 0);
		buf_pool_trim(&p);
	}
	for (int i = 0; i < 8; i++)
		buf_put(&p, b[i]);
	assert_int_equal(p.n_free, 8);
	buf_pool_trim(&p);	/* the interval had 8 out */
	assert_int_equal(p.n_free, 8);
	buf_pool_trim(&p);	/* and the next none */
	assert_int_equal(p.n_free, 2);
	buf_pool_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_colors),
		cmocka_unit_test(test_pool_max_free),
		cmocka_unit_test(test_pool_swings_reuse_blocks),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
