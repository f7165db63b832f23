// SPDX-License-Identifier: MIT
/*
 * Configuration: error collection. Every parser of the config module
 * reports through cfg_err_at() (a node's line and column) or cfg_err_pos();
 * errors are kept with their position and handed to the caller at the end,
 * sorted by position, one per line: "name:line:col: path: message". The
 * lowest file of the module: it calls nothing else of it.
 */
#include "config/config_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct perr {
	size_t line, col, seq;
	char *msg;
};

static void verr_at(struct pctx *p, size_t line, size_t col, const char *path,
		    const char *fmt, va_list ap)
{
	char msg[1024];
	struct perr *e;
	int n;

	if (p->n_errs >= CFG_MAX_ERRORS) {
		p->dropped++;
		return;
	}
	if (p->n_errs == p->cap_errs) {
		size_t cap = p->cap_errs ? p->cap_errs * 2 : 16;

		e = realloc(p->errs, cap * sizeof(*e));
		if (!e) {
			p->oom = true;
			return;
		}
		p->errs = e;
		p->cap_errs = cap;
	}
	n = snprintf(msg, sizeof(msg), "%s:%zu:%zu: %s%s", p->name, line, col,
		     path ? path : "", path && *path ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	e = &p->errs[p->n_errs];
	e->msg = strdup(msg);
	if (!e->msg) {
		p->oom = true;
		return;
	}
	e->line = line;
	e->col = col;
	e->seq = p->n_errs++;
}

__attribute__((format(printf, 4, 5)))
void cfg_err_at(struct pctx *p, const yaml_node_t *node, const char *path,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(p, node ? node->start_mark.line + 1 : 1,
		node ? node->start_mark.column + 1 : 1, path, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 5, 6)))
void cfg_err_pos(struct pctx *p, size_t line, size_t col, const char *path,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(p, line, col, path, fmt, ap);
	va_end(ap);
}

static int perr_cmp(const void *a, const void *b)
{
	const struct perr *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorted, one per line, each '\n'-terminated. NULL on OOM. */
static char *join_errors(struct pctx *p)
{
	size_t total = 1, o = 0;
	char tail[96] = "";
	char *out;

	qsort(p->errs, p->n_errs, sizeof(p->errs[0]), perr_cmp);
	if (p->dropped)
		snprintf(tail, sizeof(tail), ": %zu more error(s) not shown\n",
			 p->dropped);
	for (size_t i = 0; i < p->n_errs; i++)
		total += strlen(p->errs[i].msg) + 1;
	total += strlen(p->name) + strlen(tail);
	out = malloc(total);
	if (!out)
		return NULL;
	for (size_t i = 0; i < p->n_errs; i++) {
		size_t l = strlen(p->errs[i].msg);

		memcpy(out + o, p->errs[i].msg, l);
		o += l;
		out[o++] = '\n';
	}
	if (p->dropped)
		o += (size_t)sprintf(out + o, "%s%s", p->name, tail);
	out[o] = '\0';
	return out;
}

int cfg_errors_finish(struct pctx *p, int ret, char **errors)
{
	if (!ret && p->oom)
		ret = -ENOMEM;
	if (!ret && (p->n_errs || p->dropped))
		ret = -EINVAL;
	if (ret == -EINVAL && errors) {
		*errors = join_errors(p);
		if (!*errors)
			ret = -ENOMEM;
	}
	for (size_t i = 0; i < p->n_errs; i++)
		free(p->errs[i].msg);
	free(p->errs);
	p->errs = NULL;
	p->n_errs = p->cap_errs = p->dropped = 0;
	return ret;
}
