// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/io/pair.c, the in-process transport pair, on a
 * real io_uring loop (daemon/io/loop.c): completions come through
 * loop_run_once() as user-space ones (loop_post), never inside the call
 * that submits; bytes arrive in order; a full queue gives short writes and
 * then holds a write until the reader makes room; shutdown and close read
 * as EOF; writes to a closed end fail; a cancel completes what waits.
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

#include "io/loop.h"
#include "io/pair.h"
#include "lib/buf.h"

#define BLOCK 4096
/* more than a direction's queue holds (a few blocks, each at most two
 * pages with its header) */
#define BIG (16 * BLOCK)
#define MAXC 16

struct seen {
	struct loop_cqe c[MAXC];
	unsigned int n;
};

static void collect(void *ctx, const struct loop_cqe *cqe)
{
	struct seen *s = ctx;

	assert_true(s->n < MAXC);
	s->c[s->n++] = *cqe;
}

struct fx {
	struct loop *l;
	struct buf_pool bufs;
	struct transport a, b;
	struct seen seen;
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	f.l = loop_new(64, 0, 0);
	if (!f.l)
		return -1;
	buf_pool_init(&f.bufs, BLOCK, 8);
	if (transport_pair_init(&f.a, &f.b, f.l, &f.bufs))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->a.priv)
		transport_close(&f->a);
	if (f->b.priv)
		transport_close(&f->b);
	/* nothing of the pair's is still out of the pool */
	assert_int_equal(f->bufs.n_out, 0);
	buf_pool_destroy(&f->bufs);
	loop_free(f->l);
	return 0;
}

/* Run the loop until something completed (bounded). */
static void turn(struct fx *f)
{
	f->seen.n = 0;
	for (int i = 0; i < 4 && !f->seen.n; i++)
		assert_true(loop_run_once(f->l, false, collect, &f->seen) >= 0);
}

static const struct loop_cqe *find(struct fx *f, uint64_t ud)
{
	for (unsigned int i = 0; i < f->seen.n; i++)
		if (f->seen.c[i].ud == ud)
			return &f->seen.c[i];
	return NULL;
}

/* Read what b has: the bytes, consumed. */
static long read_all(struct fx *f, struct transport *t, char *out,
		     size_t max, uint64_t ud)
{
	const struct loop_cqe *c;
	const char *data;
	long n;

	assert_int_equal(transport_read(t, max, ud), 0);
	turn(f);
	c = find(f, ud);
	assert_non_null(c);
	n = transport_read_done(t, c, &data);
	if (n > 0)
		memcpy(out, data, (size_t)n);
	transport_read_release(t, c);
	return n;
}

static void test_bytes_cross_in_order(void **state)
{
	struct fx *f = *state;
	char got[64] = { 0 };
	const struct loop_cqe *c;

	assert_int_equal(transport_write(&f->a, "GET / HTTP/1.1\r\n", 16, 1),
			 0);
	/* never completed inside the call */
	assert_int_equal(f->seen.n, 0);
	turn(f);
	c = find(f, 1);
	assert_non_null(c);
	assert_int_equal(transport_write_done(&f->a, c), 16);
	assert_int_equal(transport_write(&f->a, "host: x\r\n\r\n", 11, 2), 0);
	turn(f);
	assert_int_equal(read_all(f, &f->b, got, sizeof(got), 3), 27);
	assert_memory_equal(got, "GET / HTTP/1.1\r\nhost: x\r\n\r\n", 27);
	/* and the other way */
	assert_int_equal(transport_write(&f->b, "HTTP/1.1 200 OK\r\n", 17, 4),
			 0);
	turn(f);
	memset(got, 0, sizeof(got));
	assert_int_equal(read_all(f, &f->a, got, sizeof(got), 5), 17);
	assert_memory_equal(got, "HTTP/1.1 200 OK\r\n", 17);
}

/* A read that waits completes when the bytes come; a read of fewer
 * bytes than are queued leaves the rest for the next. */
static void test_read_waits_and_partial(void **state)
{
	struct fx *f = *state;
	const struct loop_cqe *c;
	const char *data;
	char got[8];

	assert_int_equal(transport_read(&f->b, 4, 7), 0);
	turn(f);
	assert_null(find(f, 7));	/* nothing written yet */
	assert_int_equal(transport_write(&f->a, "abcdefgh", 8, 8), 0);
	turn(f);
	c = find(f, 7);
	assert_non_null(c);
	assert_int_equal(transport_read_done(&f->b, c, &data), 4);
	assert_memory_equal(data, "abcd", 4);
	transport_read_release(&f->b, c);
	assert_int_equal(read_all(f, &f->b, got, sizeof(got), 9), 4);
	assert_memory_equal(got, "efgh", 4);
}

/* The gather write of a head in two pieces arrives as one run. */
static void test_writev_gathers(void **state)
{
	struct fx *f = *state;
	struct iovec iov[2] = { { "HTTP/1.1 204 ", 13 },
				{ "No Content\r\n\r\n", 14 } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	char got[64];

	assert_int_equal(transport_writev(&f->a, &m, 0, 1), 0);
	turn(f);
	assert_int_equal(transport_write_done(&f->a, find(f, 1)), 27);
	assert_int_equal(read_all(f, &f->b, got, sizeof(got), 2), 27);
	assert_memory_equal(got, "HTTP/1.1 204 No Content\r\n\r\n", 27);
}

/* A queue holds a few blocks: a larger write is short, the next one
 * waits for the reader, and completes with what then fits. */
static void test_full_queue_holds_the_writer(void **state)
{
	struct fx *f = *state;
	static char big[BIG], got[BIG];
	const struct loop_cqe *c;
	size_t have = 0;
	long n, w2;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(transport_write(&f->a, big, sizeof(big), 1), 0);
	turn(f);
	c = find(f, 1);
	assert_non_null(c);
	n = transport_write_done(&f->a, c);
	/* short, as with a full socket buffer */
	assert_true(n >= BLOCK && n < (long)sizeof(big) - 1000);
	assert_int_equal(transport_write(&f->a, big + n, sizeof(big) - n, 2),
			 0);
	turn(f);
	assert_null(find(f, 2));	/* no room: it waits */
	/* the reader drains the queue a buffer at a time; the waiting write
	 * goes in once one is drained, before all was read */
	for (;;) {
		long r = read_all(f, &f->b, got + have, sizeof(got) - have, 3);

		assert_true(r > 0);
		have += (size_t)r;
		turn(f);
		c = find(f, 2);
		if (c)
			break;
		assert_true(have < (size_t)n);
	}
	w2 = transport_write_done(&f->a, c);
	assert_true(w2 > 0 && w2 <= (long)sizeof(big) - n);
	while (have < (size_t)(n + w2)) {
		long r = read_all(f, &f->b, got + have, sizeof(got) - have, 4);

		assert_true(r > 0);
		have += (size_t)r;
	}
	/* every byte once, in order */
	assert_int_equal(have, (size_t)(n + w2));
	assert_memory_equal(got, big, have);
}

/* Shutdown: the bytes before it, then EOF. */
static void test_shutdown_reads_as_eof_after_the_bytes(void **state)
{
	struct fx *f = *state;
	char got[16];

	assert_int_equal(transport_write(&f->a, "last", 4, 1), 0);
	assert_int_equal(transport_shutdown(&f->a), 0);
	turn(f);
	assert_int_equal(read_all(f, &f->b, got, sizeof(got), 2), 4);
	assert_int_equal(read_all(f, &f->b, got, sizeof(got), 3), 0);
	/* a write after shutting down fails */
	assert_int_equal(transport_write(&f->a, "x", 1, 4), 0);
	turn(f);
	assert_int_equal(transport_write_done(&f->a, find(f, 4)), -EPIPE);
}

/* Close: a waiting read sees EOF, a waiting write and later writes fail
 * with EPIPE. */
static void test_close_is_seen_by_the_other_end(void **state)
{
	struct fx *f = *state;
	static char big[BIG];
	const struct loop_cqe *c;
	const char *data;

	assert_int_equal(transport_read(&f->b, 100, 1), 0);
	/* fill a's queue so that b's write waits */
	assert_int_equal(transport_write(&f->b, big, sizeof(big), 2), 0);
	turn(f);
	assert_true(transport_write_done(&f->b, find(f, 2)) >= BLOCK);
	assert_int_equal(transport_write(&f->b, big, 10, 3), 0);
	turn(f);
	assert_null(find(f, 3));
	assert_false(transport_pair_peer_gone(&f->b));
	transport_close(&f->a);
	assert_true(transport_pair_peer_gone(&f->b));
	turn(f);
	c = find(f, 1);
	assert_non_null(c);
	assert_int_equal(transport_read_done(&f->b, c, &data), 0);
	transport_read_release(&f->b, c);
	c = find(f, 3);
	assert_non_null(c);
	assert_int_equal(transport_write_done(&f->b, c), -EPIPE);
	assert_int_equal(transport_write(&f->b, "x", 1, 4), 0);
	turn(f);
	assert_int_equal(transport_write_done(&f->b, find(f, 4)), -EPIPE);
}

/* A cancel completes the waiting read with -ECANCELED, and only the
 * operations it names. */
static void test_cancel_completes_what_waits(void **state)
{
	struct fx *f = *state;
	uint64_t other = 99, mine = 1;
	const struct loop_cqe *c;
	const char *data;

	assert_int_equal(transport_read(&f->b, 100, mine), 0);
	assert_int_equal(transport_cancel(&f->b, &other, 1, 50), 0);
	turn(f);
	assert_null(find(f, mine));
	assert_int_equal(transport_cancel(&f->b, &mine, 1, 50), 0);
	turn(f);
	c = find(f, mine);
	assert_non_null(c);
	assert_int_equal(transport_read_done(&f->b, c, &data), -ECANCELED);
	transport_read_release(&f->b, c);
}

/* A posted completion keeps loop_run_once() from blocking: with wait
 * set it returns at once with it. Posts are delivered in order; a node
 * still queued cannot be posted again; one taken back is not
 * delivered. */
static void test_posted_completions(void **state)
{
	struct fx *f = *state;
	struct loop_post p1 = { 0 }, p2 = { 0 }, p3 = { 0 };

	assert_int_equal(loop_post(f->l, &p1, 42, -EIO), 0);
	assert_int_equal(loop_post(f->l, &p1, 43, 0), -EBUSY);
	assert_int_equal(loop_post(f->l, &p2, 44, 7), 0);
	assert_int_equal(loop_post(f->l, &p3, 45, 8), 0);
	loop_unpost(f->l, &p3);
	f->seen.n = 0;
	assert_int_equal(loop_run_once(f->l, true, collect, &f->seen), 2);
	assert_int_equal(f->seen.n, 2);
	assert_int_equal(f->seen.c[0].ud, 42);
	assert_int_equal(f->seen.c[0].res, -EIO);
	assert_false(f->seen.c[0].has_buf);
	assert_int_equal(f->seen.c[1].ud, 44);
	assert_int_equal(f->seen.c[1].res, 7);
	/* delivered: the nodes may be posted again */
	assert_int_equal(loop_post(f->l, &p1, 46, 0), 0);
	loop_unpost(f->l, &p1);
	assert_int_equal(loop_run_once(f->l, false, collect, &f->seen), 0);
}

/* A waiting write that is cancelled completes with -ECANCELED, and its
 * bytes (the caller's memory, which it may free then) are never taken
 * in later: the reader sees only what was written before. */
static void test_cancelled_write_is_never_taken(void **state)
{
	struct fx *f = *state;
	static char big[BIG], got[BIG];
	char *late = strdup("LATE BYTES");
	uint64_t wud = 2;
	const struct loop_cqe *c;
	size_t have = 0;
	long n;

	memset(big, 'a', sizeof(big));
	assert_int_equal(transport_write(&f->a, big, sizeof(big), 1), 0);
	turn(f);
	n = transport_write_done(&f->a, find(f, 1));
	assert_true(n > 0 && n < (long)sizeof(big));
	assert_int_equal(transport_write(&f->a, late, 10, wud), 0);
	turn(f);
	assert_null(find(f, wud));		/* waits: no room */
	assert_int_equal(transport_cancel(&f->a, &wud, 1, 50), 0);
	turn(f);
	c = find(f, wud);
	assert_non_null(c);
	assert_int_equal(transport_write_done(&f->a, c), -ECANCELED);
	free(late);	/* the caller's to free once it completed */
	while (have < (size_t)n) {
		long r = read_all(f, &f->b, got + have, sizeof(got) - have, 3);

		assert_true(r > 0);
		have += (size_t)r;
	}
	assert_int_equal(have, (size_t)n);
	assert_memory_equal(got, big, n);
	/* nothing more: the cancelled bytes were not taken in */
	assert_int_equal(transport_read(&f->b, 100, 4), 0);
	turn(f);
	assert_null(find(f, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bytes_cross_in_order,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_waits_and_partial,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_writev_gathers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_full_queue_holds_the_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_shutdown_reads_as_eof_after_the_bytes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_close_is_seen_by_the_other_end, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cancel_completes_what_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cancelled_write_is_never_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_posted_completions,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
