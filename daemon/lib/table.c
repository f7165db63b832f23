// SPDX-License-Identifier: MIT
/* Aligned text tables. See table.h. */
#include "lib/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"

void table_init(struct table *t, size_t ncols, unsigned int right,
		const char *const *header)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols > TABLE_MAX_COLS ? TABLE_MAX_COLS : ncols;
	t->right = right;
	table_row(t, header);
}

void table_row(struct table *t, const char *const *cells)
{
	if (t->oom)
		return;
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c) {
			t->oom = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] ? cells[i] : "-");

		if (!s) {
			for (size_t j = 0; j < i; j++)
				free(t->cells[t->rows * t->ncols + j]);
			t->oom = true;
			return;
		}
		t->cells[t->rows * t->ncols + i] = s;
	}
	t->rows++;
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->rows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->rows = t->cap = 0;
}

static void add_spaces(struct sbuf *out, size_t n)
{
	static const char spaces[] = "                                ";

	for (; n > sizeof(spaces) - 1; n -= sizeof(spaces) - 1)
		sbuf_add(out, spaces, sizeof(spaces) - 1);
	sbuf_add(out, spaces, n);
}

int table_render(struct table *t, struct sbuf *out)
{
	size_t w[TABLE_MAX_COLS] = { 0 };

	if (t->oom) {
		table_free(t);
		out->overflow = true;
		return -ENOMEM;
	}
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->rows; r++) {
		size_t line_start = out->len;

		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = strlen(s), pad = w[c] - l;
			bool last = c + 1 == t->ncols;
			bool right = (t->right >> c) & 1;

			if (right)
				add_spaces(out, pad);
			sbuf_add(out, s, l);
			if (!right && !last)
				add_spaces(out, pad);
			if (!last)
				sbuf_add(out, "  ", 2);
		}
		/* no trailing blanks */
		while (!out->overflow && out->len > line_start &&
		       out->p[out->len - 1] == ' ')
			out->len--;
		sbuf_add(out, "\n", 1);
	}
	table_free(t);
	return out->overflow ? -ENOMEM : 0;
}
