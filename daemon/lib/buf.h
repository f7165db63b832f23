/* SPDX-License-Identifier: MIT */
/*
 * Byte buffers and a per-owner pool of fixed-size blocks. No locking: a pool
 * belongs to one thread (one worker). Blocks are mapped on first use and
 * then recycled through a free list, so steady-state traffic allocates
 * nothing.
 */
#ifndef SLUICE_UTIL_BUF_H
#define SLUICE_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Data lives in data[start, end); free space is data[end, cap). */
struct buf {
	size_t start;
	size_t end;
	size_t cap;
	struct buf *next_free;	/* pool link while free */
	char *data;		/* right behind the header, or wrapped memory */
	uint32_t tag;		/* wrapped: the owner's id for the memory */
	bool wrapped;		/* buf_wrap(): data is not the pool's */
};

struct buf_pool {
	struct buf *free;
	size_t block_size;	/* usable bytes per buffer */
	size_t n_free;
	size_t max_free;	/* blocks kept for reuse at least (see below) */
	size_t n_out;		/* buffers handed out */
	size_t peak;		/* most handed out since buf_pool_trim() */
	size_t hold;		/* the peak before it: blocks kept in all */
	/* wrapped memory goes back to its owner through release() */
	void (*release)(void *ctx, uint32_t tag);
	void *release_ctx;
	struct buf *free_wraps;	/* spare headers for buf_wrap() */
	size_t n_wrapped;	/* wrapped buffers handed out */
	unsigned int color;	/* the next new block's header offset (buf.c) */
};

void buf_pool_init(struct buf_pool *p, size_t block_size, size_t max_free);
/* Free every cached block. Buffers still handed out stay valid. */
void buf_pool_destroy(struct buf_pool *p);
/* An empty buffer, or NULL with errno = ENOMEM. */
struct buf *buf_get(struct buf_pool *p);
/* A buffer over memory someone else owns (data[0, len) filled, cap bytes
 * in all), e.g. a receive buffer handed over instead of copied; buf_put()
 * gives it back with p->release(p->release_ctx, tag). NULL with errno =
 * ENOMEM (the memory is then still the caller's). */
struct buf *buf_wrap(struct buf_pool *p, char *data, size_t cap, size_t len,
		     uint32_t tag);
/* Return b (may be NULL) to the pool. The pool keeps it for reuse while
 * it has fewer than max_free free blocks, or fewer blocks in all (handed
 * out and free) than were handed out at once since the last trim or in
 * the interval before: traffic that swings between 300 and 700 buffers
 * out does not unmap 400 and map them again on every swing. */
void buf_put(struct buf_pool *p, struct buf *b);
/* Called periodically (the worker's tick): free cached blocks past what
 * the interval that just ended needed at most, and start a new interval.
 * A burst's blocks go back to the kernel within two intervals of its end. */
void buf_pool_trim(struct buf_pool *p);

static inline size_t buf_len(const struct buf *b)
{
	return b->end - b->start;
}

static inline size_t buf_room(const struct buf *b)
{
	return b->cap - b->end;
}

static inline char *buf_head(struct buf *b)
{
	return b->data + b->start;
}

static inline char *buf_tail(struct buf *b)
{
	return b->data + b->end;
}

/* Drop n bytes from the front; an emptied buffer restarts at offset 0. */
void buf_consume(struct buf *b, size_t n);
/* Move the data to the front so that buf_room() is as large as possible. */
void buf_compact(struct buf *b);
/* Append up to len bytes; returns bytes appended. */
size_t buf_append(struct buf *b, const void *src, size_t len);

#endif
