// SPDX-License-Identifier: MIT
/*
 * Setup of a worker's proxy: init, destroy, config reload, and the config
 * snapshots its exchanges hold, counted per worker. See proxy.h and
 * proxy_int.h.
 */
#include "proxy/proxy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "config/config.h"
#include "proxy/proxy_int.h"
#include "proxy/h2.h"

/* ---- config snapshots, counted per worker ----------------------------- */

struct config *proxy__cfg_hold(struct proxy *p)
{
	struct proxy_cfgref *r;

	for (size_t i = 0; i < p->n_refs; i++) {
		if (p->refs[i].cfg == p->cfg) {
			p->refs[i].refs++;
			return p->cfg;
		}
	}
	if (p->n_refs == p->cap_refs) {
		size_t cap = p->cap_refs ? p->cap_refs * 2 : 4;

		r = realloc(p->refs, cap * sizeof(*r));
		if (!r)
			return config_get(p->cfg);	/* shared count, rare */
		p->refs = r;
		p->cap_refs = cap;
	}
	r = &p->refs[p->n_refs++];
	r->cfg = config_get(p->cfg);
	r->refs = 1;
	return p->cfg;
}

void proxy__cfg_release(struct proxy *p, struct config *cfg)
{
	for (size_t i = 0; i < p->n_refs; i++) {
		struct proxy_cfgref *r = &p->refs[i];

		if (r->cfg != cfg)
			continue;
		if (--r->refs == 0) {
			config_put(r->cfg);
			*r = p->refs[--p->n_refs];
		}
		return;
	}
	config_put(cfg);	/* taken with config_get() */
}

/* ---- setup ------------------------------------------------------------- */

static void limits_from(struct proxy *p, const struct config *cfg)
{
	size_t max_head = p->bufs.block_size ?
				  p->bufs.block_size - PROXY_HEAD_SLACK :
				  cfg->http.max_header_bytes;

	http_limits_default(&p->limits);
	p->limits.max_head = cfg->http.max_header_bytes;
	/* buffers are sized once: a reload cannot grow the head limit */
	if (p->limits.max_head > max_head)
		p->limits.max_head = max_head;
	p->limits.max_target = cfg->http.max_uri_bytes;
	if (p->limits.max_target >= p->limits.max_head)
		p->limits.max_target = p->limits.max_head - 1;
}

/* A wrapped receive buffer goes back to the ring (buf_put). */
static void release_received(void *ctx, uint32_t tag)
{
	struct proxy *p = ctx;

	loop_buf_recycle(p->loop, (uint16_t)tag);
}

/* A client connection being freed: its exchange back to the pool. */
static void release_exchange(void *ctx, struct conn *c)
{
	struct proxy *p = ctx;

	h2_release(p, c);
	if (c->x)
		exchange_detach(&p->xpool, c);
}

int proxy_init(struct proxy *p, struct loop *l, struct config *cfg,
	       unsigned int max_conns, unsigned int worker)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->loop = l;
	p->cfg = cfg;
	p->worker = worker;
	p->max_clients = cfg->http.max_connections;
	if (!max_conns) {
		/* each client may have one upstream, plus the pools */
		uint64_t n = (uint64_t)p->max_clients * 2 + 1024;

		max_conns = n > LOOP_ID_MAX ? LOOP_ID_MAX : (unsigned int)n;
	}
	if (p->max_clients > max_conns)
		p->max_clients = max_conns;
	limits_from(p, cfg);
	buf_pool_init(&p->bufs, p->limits.max_head + PROXY_HEAD_SLACK,
		      PROXY_BUF_CACHE);
	p->bufs.release = release_received;
	p->bufs.release_ctx = p;
	if (getrandom(p->rng, sizeof(p->rng), 0) != sizeof(p->rng)) {
		p->rng[0] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
		p->rng[1] = (uint64_t)(uintptr_t)p ^ ((uint64_t)worker << 32);
	}
	if (!p->rng[0] && !p->rng[1])
		p->rng[1] = 1;
	ret = conn_table_init(&p->conns, max_conns, l, &p->bufs);
	if (ret)
		return ret;
	p->conns.release_x = release_exchange;
	p->conns.release_ctx = p;
	return upstream_init(&p->up, &p->conns);
}

void proxy_destroy(struct proxy *p)
{
	upstream_destroy(&p->up);
	for (uint32_t i = 0; i < p->conns.n_fresh; i++)
		if (p->conns.slots[i].kind == CONN_CLIENT)
			proxy__put_cfg(p, &p->conns.slots[i]);
	p->h2_gone = true;
	conn_table_destroy(&p->conns);
	proxy__h2_destroy(p);
	exchange_pool_destroy(&p->xpool);
	proxy__pipes_close(p);
	buf_pool_destroy(&p->bufs);
	for (size_t i = 0; i < p->n_refs; i++)
		config_put(p->refs[i].cfg);
	free(p->refs);
	p->refs = NULL;
	p->n_refs = p->cap_refs = 0;
	if (p->cfg)
		config_put(p->cfg);
	p->cfg = NULL;
}

void proxy_set_config(struct proxy *p, struct config *cfg)
{
	struct config *old = p->cfg;

	p->cfg = cfg;
	limits_from(p, cfg);
	if (old)
		config_put(old);
}
