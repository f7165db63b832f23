// SPDX-License-Identifier: MIT
#include "lib/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Blocks are mmap'd, not malloc'd: pages a buffer never touched cost no
 * memory (a 36 KiB head buffer holding a 300-byte request is one page), and
 * a block the pool no longer keeps (buf_pool_trim()) goes back to the
 * kernel instead of staying in a malloc arena.
 */
static size_t block_bytes(const struct buf_pool *p)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = sizeof(struct buf) + p->block_size;

	return (n + page - 1) / page * page;
}

/*
 * Where a new block's header goes: a different cache line of its first
 * page in turn, as far as the block's slack allows (64 lines with the
 * default head limit). Headers at the start of page-aligned blocks would
 * all fall in the same few cache sets, and so would the first bytes of
 * every buffer (where heads are parsed and written), evicting each other.
 */
#define BUF_COLOR_LINE	64

static size_t block_color(struct buf_pool *p)
{
	size_t slack = block_bytes(p) - sizeof(struct buf) - p->block_size;
	size_t colors = slack / BUF_COLOR_LINE + 1;

	if (colors > 64)
		colors = 64;
	return (p->color++ % colors) * BUF_COLOR_LINE;
}

static void block_free(const struct buf_pool *p, struct buf *b)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	/* the header sits inside the block's first page */
	munmap((void *)((uintptr_t)b & ~(uintptr_t)(page - 1)), block_bytes(p));
}

void buf_pool_init(struct buf_pool *p, size_t block_size, size_t max_free)
{
	memset(p, 0, sizeof(*p));
	p->block_size = block_size;
	p->max_free = max_free;
}

void buf_pool_destroy(struct buf_pool *p)
{
	struct buf *b;

	while ((b = p->free)) {
		p->free = b->next_free;
		block_free(p, b);
	}
	p->n_free = 0;
	while ((b = p->free_wraps)) {
		p->free_wraps = b->next_free;
		free(b);
	}
}

struct buf *buf_get(struct buf_pool *p)
{
	struct buf *b = p->free;

	if (b) {
		p->free = b->next_free;
		p->n_free--;
	} else {
		size_t off = block_color(p);
		char *base = mmap(NULL, block_bytes(p), PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (base == MAP_FAILED) {
			errno = ENOMEM;
			return NULL;
		}
		b = (struct buf *)(void *)(base + off);
		b->cap = block_bytes(p) - off - sizeof(*b);
		b->data = (char *)(b + 1);
	}
	b->start = 0;
	b->end = 0;
	b->next_free = NULL;
	if (++p->n_out > p->peak)
		p->peak = p->n_out;
	return b;
}

struct buf *buf_wrap(struct buf_pool *p, char *data, size_t cap, size_t len,
		     uint32_t tag)
{
	struct buf *b = p->free_wraps;

	if (b)
		p->free_wraps = b->next_free;
	else if (!(b = malloc(sizeof(*b))))
		return NULL;
	b->start = 0;
	b->end = len < cap ? len : cap;
	b->cap = cap;
	b->next_free = NULL;
	b->data = data;
	b->tag = tag;
	b->wrapped = true;
	p->n_wrapped++;
	return b;
}

void buf_put(struct buf_pool *p, struct buf *b)
{
	if (!b)
		return;
	if (b->wrapped) {
		p->n_wrapped--;
		if (p->release)
			p->release(p->release_ctx, b->tag);
		b->next_free = p->free_wraps;
		p->free_wraps = b;	/* headers are small: all kept */
		return;
	}
	p->n_out--;
	if (p->n_free >= p->max_free &&
	    p->n_out + p->n_free >= (p->hold > p->peak ? p->hold : p->peak)) {
		block_free(p, b);
		return;
	}
	b->next_free = p->free;
	p->free = b;
	p->n_free++;
}

void buf_pool_trim(struct buf_pool *p)
{
	size_t keep = p->peak > p->n_out ? p->peak - p->n_out : 0;
	struct buf **link = &p->free, *b;

	p->hold = p->peak;
	p->peak = p->n_out;
	if (keep < p->max_free)
		keep = p->max_free;
	if (p->n_free <= keep)
		return;
	/* the list's head holds the blocks given back last (still in the
	 * cache, handed out next): the ones past keep go */
	for (size_t i = 0; i < keep; i++)
		link = &(*link)->next_free;
	while ((b = *link)) {
		*link = b->next_free;
		p->n_free--;
		block_free(p, b);
	}
}

void buf_consume(struct buf *b, size_t n)
{
	if (n > buf_len(b))
		n = buf_len(b);
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

void buf_compact(struct buf *b)
{
	size_t n = buf_len(b);

	if (b->start == 0)
		return;
	memmove(b->data, b->data + b->start, n);
	b->start = 0;
	b->end = n;
}

size_t buf_append(struct buf *b, const void *src, size_t len)
{
	if (len > buf_room(b))
		len = buf_room(b);
	memcpy(b->data + b->end, src, len);
	b->end += len;
	return len;
}
