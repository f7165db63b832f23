/* SPDX-License-Identifier: MIT */
/*
 * Aligned text tables for operators (admin API ?format=text, sluicectl):
 * collect rows of cells, then render with every column as wide as its
 * widest cell, columns separated by two spaces. Allocates; not for the hot
 * path.
 */
#ifndef SLUICE_UTIL_TABLE_H
#define SLUICE_UTIL_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#define TABLE_MAX_COLS 12

struct table {
	size_t ncols;
	unsigned int right;	/* bit i: column i right-aligned (numbers) */
	char **cells;		/* rows * ncols, row-major */
	size_t rows, cap;
	bool oom;
};

/* header: ncols column titles. right: right-aligned column mask. */
void table_init(struct table *t, size_t ncols, unsigned int right,
		const char *const *header);
/* Append a row of t->ncols cells (NULL prints as "-"). */
void table_row(struct table *t, const char *const *cells);
/* Render into out (lib/str.h), then free the cells. 0 or -ENOMEM (out
 * overflowed, or a row could not be stored). */
struct sbuf;
int table_render(struct table *t, struct sbuf *out);
void table_free(struct table *t);

#endif
