// SPDX-License-Identifier: MIT
/* Target selection, connects and keep-alive pools. See upstream.h. */
#include "io/upstream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "io/conn.h"
#include "io/tls.h"
#include "lib/log.h"
#include "lib/buf.h"

int upstream_init(struct upstream *u, struct conn_table *t)
{
	memset(u, 0, sizeof(*u));
	u->conns = t;
	return 0;
}

void upstream_destroy(struct upstream *u)
{
	free(u->pools);
	memset(u, 0, sizeof(*u));
}

static bool addr_eq(const struct sockaddr_storage *a, socklen_t alen,
		    const struct sockaddr *b, socklen_t blen)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->ss_family != b->sa_family)
		return false;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return a6->sin6_port == b6->sin6_port &&
		       a6->sin6_scope_id == b6->sin6_scope_id &&
		       !memcmp(&a6->sin6_addr, &b6->sin6_addr,
			       sizeof(a6->sin6_addr));
	}
	return alen == blen && !memcmp(a, b, alen);
}

static struct upstream_pool *pool_find(struct upstream *u,
				       const struct sockaddr *sa,
				       socklen_t salen, const void *tls,
				       bool create)
{
	struct upstream_pool *p;

	for (size_t i = 0; i < u->n_pools; i++)
		if (u->pools[i].tls == tls &&
		    addr_eq(&u->pools[i].addr, u->pools[i].addrlen, sa, salen))
			return &u->pools[i];
	if (!create || u->n_pools >= UPSTREAM_MAX_POOLS ||
	    salen > sizeof(p->addr))
		return NULL;
	if (u->n_pools == u->cap_pools) {
		size_t cap = u->cap_pools ? u->cap_pools * 2 : 8;

		/* conns point at pools: fix the links after a move */
		p = realloc(u->pools, cap * sizeof(*p));
		if (!p)
			return NULL;
		for (size_t i = 0; i < u->n_pools; i++)
			for (struct conn *c = p[i].head; c; c = c->pool_next)
				c->pool = &p[i];
		u->pools = p;
		u->cap_pools = cap;
	}
	p = &u->pools[u->n_pools++];
	memset(p, 0, sizeof(*p));
	memcpy(&p->addr, sa, salen);
	p->addrlen = salen;
	p->tls = tls;
	return p;
}

static void pool_unlink(struct upstream_pool *p, struct conn *c)
{
	if (c->pool_prev)
		c->pool_prev->pool_next = c->pool_next;
	else
		p->head = c->pool_next;
	if (c->pool_next)
		c->pool_next->pool_prev = c->pool_prev;
	c->pool_prev = c->pool_next = NULL;
	c->pool = NULL;
	c->flags &= ~CONN_F_POOLED;
	p->n--;
}

struct conn *upstream_take(struct upstream *u, const struct sockaddr *sa,
			   socklen_t salen, const void *tls)
{
	struct upstream_pool *p = pool_find(u, sa, salen, tls, false);
	struct conn *c;

	if (!p || !p->head)
		return NULL;
	c = p->head;
	pool_unlink(p, c);
	c->deadline_ms = 0;
	u->reuses++;
	return c;
}

struct conn *upstream_connect(struct upstream *u, const struct config_addr *a,
			      unsigned int timeout_ms, uint64_t now_ms)
{
	int fd, one = 1, ret;
	struct conn *c;

	/* a Unix-domain target has no TCP: protocol 0 and no TCP options */
	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    config_addr_is_unix(a) ? 0 : IPPROTO_TCP);
	if (fd < 0)
		return NULL;
	if (!config_addr_is_unix(a))
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = conn_alloc(u->conns, CONN_UPSTREAM, fd);
	if (!c) {
		close(fd);
		errno = EMFILE;
		return NULL;
	}
	memcpy(&c->addr, &a->sa, a->salen);
	c->addrlen = a->salen;
	loop_ts_ms(&c->ts, timeout_ms ? timeout_ms : 2000);
	ret = loop_connect(u->conns->loop, fd, (struct sockaddr *)&c->addr,
			   c->addrlen, &c->ts, conn_ud(c, CONN_OP_CONNECT),
			   conn_ud(c, CONN_OP_CONNECT_TIMEOUT));
	if (ret) {
		conn_close(u->conns, c);
		errno = -ret;
		return NULL;
	}
	conn_op_start(c);
	conn_op_start(c);
	c->flags |= CONN_F_CONNECT;
	u->connects++;
	(void)now_ms;
	return c;
}

int upstream_put_ex(struct upstream *u, struct conn *c, uint64_t now_ms,
		    unsigned int max_idle, unsigned int idle_ms)
{
	struct upstream_pool *p;
	int ret;

	if (conn_closing(c) || (c->flags & (CONN_F_EOF | CONN_F_SEND)) ||
	    (c->in && buf_len(c->in)))
		return -EINVAL;
	p = pool_find(u, (struct sockaddr *)&c->addr, c->addrlen,
		      transport_tls_upstream(&c->tr), true);
	if (!p)
		return -ENOSPC;
	if (p->n >= max_idle)
		return -ENOSPC;
	conn_bufs_trim(u->conns, c);
	if (!(c->flags & CONN_F_RECV)) {
		ret = transport_read_ex(&c->tr,
					loop_buf_size_max(u->conns->loop),
					TRANSPORT_READ_IDLE,
					conn_ud(c, CONN_OP_RECV));
		if (ret)
			return ret;
		conn_op_start(c);
		c->flags |= CONN_F_RECV;
	}
	c->peer = NULL;
	c->pool = p;
	c->flags |= CONN_F_POOLED;
	c->pool_prev = NULL;
	c->pool_next = p->head;
	if (p->head)
		p->head->pool_prev = c;
	p->head = c;
	p->n++;
	c->deadline_ms = now_ms + idle_ms;
	return 0;
}

void upstream_remove(struct upstream *u, struct conn *c)
{
	if (c->flags & CONN_F_POOLED && c->pool)
		pool_unlink(c->pool, c);
}

void upstream_idle_event(struct upstream *u, struct conn *c, long res)
{
	if (res > 0)
		pr_debug("upstream conn %u: %ld unexpected bytes while idle, closing",
			 c->id, res);
	upstream_remove(u, c);
	conn_close(u->conns, c);
}

void upstream_close_idle(struct upstream *u)
{
	for (size_t i = 0; i < u->n_pools; i++) {
		struct upstream_pool *p = &u->pools[i];

		while (p->head) {
			struct conn *c = p->head;

			pool_unlink(p, c);
			conn_close(u->conns, c);
		}
	}
}
