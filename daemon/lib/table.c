// SPDX-License-Identifier: MIT
/* Aligned text tables. See table.h. */
#include "lib/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int table_render(struct table *t, char **out, size_t *len)
{
	size_t w[TABLE_MAX_COLS] = { 0 }, total = 0, o;
	char *p;

	if (t->oom) {
		table_free(t);
		return -ENOMEM;
	}
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	for (size_t c = 0; c < t->ncols; c++)
		total += w[c] + 2;
	total = total * t->rows + 1;
	p = realloc(*out, *len + total);
	if (!p) {
		table_free(t);
		return -ENOMEM;
	}
	o = *len;
	for (size_t r = 0; r < t->rows; r++) {
		size_t line_start = o;

		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = strlen(s), pad = w[c] - l;
			bool last = c + 1 == t->ncols;

			if ((t->right >> c) & 1) {
				memset(p + o, ' ', pad);
				o += pad;
				memcpy(p + o, s, l);
				o += l;
			} else {
				memcpy(p + o, s, l);
				o += l;
				if (!last) {
					memset(p + o, ' ', pad);
					o += pad;
				}
			}
			if (!last) {
				memcpy(p + o, "  ", 2);
				o += 2;
			}
		}
		while (o > line_start && p[o - 1] == ' ')
			o--;
		p[o++] = '\n';
	}
	p[o] = '\0';
	*out = p;
	*len = o;
	table_free(t);
	return 0;
}
