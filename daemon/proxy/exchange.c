// SPDX-License-Identifier: MIT
/* The per-worker pool of exchanges. See exchange.h. */
#include "proxy/exchange.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int exchange_attach(struct exchange_pool *xp, struct conn *c)
{
	struct exchange *x = c->x;

	if (x)
		return 0;
	if ((x = xp->free)) {
		xp->free = x->next_free;
		xp->n_free--;
		memset(x, 0, sizeof(*x));
	} else if (!(x = calloc(1, sizeof(*x)))) {
		return -ENOMEM;
	}
	c->x = x;
	return 0;
}

void exchange_detach(struct exchange_pool *xp, struct conn *c)
{
	struct exchange *x = c->x;

	if (!x)
		return;
	c->x = NULL;
	if (xp->n_free >= EXCHANGE_CACHE) {
		free(x);
		return;
	}
	x->next_free = xp->free;
	xp->free = x;
	xp->n_free++;
}

void exchange_pool_destroy(struct exchange_pool *xp)
{
	while (xp->free) {
		struct exchange *x = xp->free;

		xp->free = x->next_free;
		free(x);
	}
	xp->n_free = 0;
}
