// SPDX-License-Identifier: MIT
/*
 * Unit tests for the provided-buffer rings of daemon/io/loop.c, on a real
 * io_uring loop and real sockets: how many receives of one turn find a
 * buffer in the large class's ring.
 *
 * Many small arrivals in one turn (responses of a few hundred bytes to an
 * HTTP/2 client's many streams) grow the ring until all of them find a
 * buffer; arrivals that fill their buffers keep it at its least (the rest
 * wait a turn), and it shrinks back to that when small arrivals turn into
 * large ones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "io/loop.h"

#define NSOCK 64
#define SMALL_BUF 4096
#define LARGE_BUF 32768
#define LARGE_BUFS 128
/* a turn's bytes past which the large ring stops growing (half of it) or
 * shrinks, and its least size */
#define BUDGET (256u << 10)
#define RING_LEAST 16
#define ROUNDS 8

struct fx {
	struct loop *l;
	int sv[NSOCK][2];
	unsigned nsock;		/* sockets used */
	size_t maxlen;		/* per receive: which class */
	size_t got[NSOCK];
	unsigned nobufs;	/* -ENOBUFS completions this round */
	unsigned first_nobufs;	/* of them in the round's first turn */
	unsigned posted;	/* receives in flight */
	/* a turn ended with loop_bufs_exhausted(): never right here, where
	 * fewer receives than buffers come in any turn */
	bool exhausted_seen;
};

static char payload[LARGE_BUF];

static void on_cqe(void *ctx, const struct loop_cqe *c)
{
	struct fx *f = ctx;
	uint32_t i = loop_ud_id(c->ud);

	assert_true(i < NSOCK);
	assert_true(f->posted > 0);
	f->posted--;
	if (c->has_buf)
		loop_buf_recycle(f->l, c->bid);
	if (c->res == -ENOBUFS) {
		f->nobufs++;
		return;
	}
	assert_true(c->res > 0);
	assert_true(c->has_buf);
	f->got[i] += (size_t)c->res;
}

static void post(struct fx *f, unsigned i)
{
	assert_int_equal(loop_recv(f->l, f->sv[i][0], f->maxlen,
				   loop_ud(1, i, 0)), 0);
	f->posted++;
}

/* One round: every socket receives len bytes; the receives that found no
 * buffer are posted again until all arrived. */
static void round_of(struct fx *f, size_t len)
{
	unsigned turns = 0;

	f->nobufs = 0;
	memset(f->got, 0, sizeof(f->got));
	for (unsigned i = 0; i < f->nsock; i++) {
		assert_int_equal(write(f->sv[i][1], payload, len), (ssize_t)len);
		post(f, i);
	}
	for (;;) {
		unsigned left = 0;

		while (f->posted) {
			assert_true(loop_run_once(f->l, true, on_cqe, f) >= 0);
			f->exhausted_seen |= loop_bufs_exhausted(f->l);
		}
		if (turns++ == 0)
			f->first_nobufs = f->nobufs;
		for (unsigned i = 0; i < f->nsock; i++) {
			assert_true(f->got[i] <= len);
			if (f->got[i] < len) {
				post(f, i);
				left++;
			}
		}
		if (!left)
			break;
		assert_true(turns < 64);
	}
}

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	memset(payload, 'x', sizeof(payload));
	f.nsock = NSOCK;
	f.maxlen = LARGE_BUF;
	f.l = loop_new(256, 64, SMALL_BUF);
	if (!f.l || loop_add_bufs(f.l, LARGE_BUFS, LARGE_BUF))
		return -1;
	for (unsigned i = 0; i < NSOCK; i++) {
		int sz = 4 * LARGE_BUF;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			       f.sv[i]))
			return -1;
		setsockopt(f.sv[i][1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < NSOCK; i++) {
		close(f->sv[i][0]);
		close(f->sv[i][1]);
	}
	loop_free(f->l);
	return 0;
}

/* 64 responses of 300 bytes in one turn: at first only part of them find
 * a buffer, after a few rounds all of them do (64 x 300 bytes is far under
 * the budget, however many buffers that takes). */
static void test_small_arrivals_grow_the_large_ring(void **state)
{
	struct fx *f = *state;
	unsigned start = loop_buf_ring_target(f->l, 1);

	assert_true(start < NSOCK);
	round_of(f, 300);
	assert_true(f->first_nobufs > 0);
	for (int r = 0; r < ROUNDS; r++)
		round_of(f, 300);
	assert_int_equal(f->first_nobufs, 0);
	assert_true(loop_buf_ring_target(f->l, 1) >= NSOCK);
	assert_true(loop_buf_ring_target(f->l, 1) <= LARGE_BUFS);
}

/* The large ring never holds more than this many buffers of LARGE_BUF
 * bytes once arrivals fill them. */
static size_t least_large(void)
{
	return BUDGET / LARGE_BUF > RING_LEAST ? BUDGET / LARGE_BUF
					       : RING_LEAST;
}

/* 64 responses that fill their 32 KiB buffers: the ring stays at its
 * least, and what does not fit waits for the next turn. */
static void test_full_buffers_keep_the_ring_at_its_least(void **state)
{
	struct fx *f = *state;

	for (int r = 0; r < ROUNDS; r++) {
		round_of(f, LARGE_BUF);
		assert_true(loop_buf_ring_target(f->l, 1) <= least_large());
	}
	assert_true(f->first_nobufs >= NSOCK - least_large());
}

/* Grown by small arrivals, the ring halves back once they fill their
 * buffers, as the buffers it holds are used. */
static void test_the_ring_shrinks_when_arrivals_grow(void **state)
{
	struct fx *f = *state;

	for (int r = 0; r < ROUNDS; r++)
		round_of(f, 300);
	assert_true(loop_buf_ring_target(f->l, 1) >= NSOCK);
	for (int r = 0; r < ROUNDS; r++)
		round_of(f, LARGE_BUF);
	assert_true(loop_buf_ring_target(f->l, 1) <= least_large());
	/* and the ring itself holds no more than that: the rest waited */
	assert_true(f->first_nobufs >= NSOCK - least_large());
	/* none of those -ENOBUFS meant every buffer was in use (the ring,
	 * grown to all 128, held them all before it was halved) */
	assert_false(f->exhausted_seen);
}

/* A target that is no power of two (the calm shrink takes a quarter)
 * still comes down to the least, not to the last value above it. */
static void test_the_ring_shrinks_to_its_least_from_any_size(void **state)
{
	struct fx *f = *state;
	unsigned t;

	for (int r = 0; r < ROUNDS; r++)
		round_of(f, 300);
	t = loop_buf_ring_target(f->l, 1);
	assert_true(t >= NSOCK);
	/* turns without a shortage: a quarter off */
	for (int i = 0; i < 4096 + 1; i++)
		assert_true(loop_run_once(f->l, false, on_cqe, f) >= 0);
	assert_int_equal(loop_buf_ring_target(f->l, 1), t - t / 4);
	for (int r = 0; r < ROUNDS; r++)
		round_of(f, LARGE_BUF);
	assert_int_equal(loop_buf_ring_target(f->l, 1), least_large());
	assert_false(f->exhausted_seen);
}

/* 8 KiB arrivals (16 x 8 KiB: half the budget) do not grow it. */
static void test_half_the_budget_does_not_grow_it(void **state)
{
	struct fx *f = *state;

	for (int r = 0; r < ROUNDS; r++)
		round_of(f, BUDGET / 2 / RING_LEAST);
	assert_int_equal(loop_buf_ring_target(f->l, 1), RING_LEAST);
	assert_true(f->first_nobufs >= NSOCK - RING_LEAST);
}

/* The first class (client receives) has no byte budget: 48 arrivals that
 * fill their buffers in one turn all find one after a few rounds. */
static void test_the_first_class_grows_to_what_a_turn_needs(void **state)
{
	struct fx *f = *state;

	assert_int_equal(loop_buf_ring_target(f->l, 0), 16);
	assert_int_equal(loop_buf_ring_target(f->l, 2), 0);
	f->nsock = 48;
	f->maxlen = SMALL_BUF;
	round_of(f, SMALL_BUF);
	assert_true(f->first_nobufs > 0);
	for (int r = 0; r < ROUNDS; r++)
		round_of(f, SMALL_BUF);
	assert_int_equal(f->first_nobufs, 0);
	assert_true(loop_buf_ring_target(f->l, 0) >= 48);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_small_arrivals_grow_the_large_ring, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_full_buffers_keep_the_ring_at_its_least, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_half_the_budget_does_not_grow_it, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_the_ring_shrinks_when_arrivals_grow, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_the_ring_shrinks_to_its_least_from_any_size, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_the_first_class_grows_to_what_a_turn_needs, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
