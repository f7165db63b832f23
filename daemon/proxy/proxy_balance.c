// SPDX-License-Identifier: MIT
/*
 * The balancing of an exchange: the service's limits, which target it
 * goes to (policy/balance.h picks; this worker's slot of the service's
 * state holds the round robin's weights and the requests in flight), a
 * retry to another target within the service's budget, and what the
 * outcome tells passive outlier detection. See proxy_int.h.
 */
#include "proxy/proxy.h"

#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "policy/balance.h"
#include "proxy/proxy_int.h"

static struct balance_worker *slot(struct proxy *p, struct balance_state *st)
{
	return &st->w[p->worker % st->n_workers];
}

/* The value of cookie `name` in the request's Cookie fields. */
static bool cookie_value(const struct http_request *r, const char *name,
			 const char **v, size_t *vlen)
{
	for (size_t i = 0; i < r->num_headers; i++) {
		const struct http_header *h = &r->headers[i];

		if (h->name_len == 6 && !strncasecmp(h->name, "cookie", 6) &&
		    balance_cookie(h->value, h->value_len, name, v, vlen))
			return true;
	}
	return false;
}

/* The hash key of the request (lb: hash); false: none (the key's header
 * or cookie is missing: round robin instead). */
static bool hash_key(struct proxy *p, struct exchange *x,
		     const struct config_service *svc, uint64_t *key)
{
	const struct http_request *r = &p->req;
	const char *v = NULL;
	size_t vlen = 0;

	switch (svc->hash_kind) {
	case CFG_HASH_IP:
		if (x->client_addr.sa.sa_family == AF_INET6) {
			v = (const char *)&x->client_addr.sin6.sin6_addr;
			vlen = 16;
		} else {
			v = (const char *)&x->client_addr.sin.sin_addr;
			vlen = 4;
		}
		break;
	case CFG_HASH_HEADER:
		for (size_t i = 0; i < r->num_headers; i++) {
			const struct http_header *h = &r->headers[i];

			if (h->name_len == strlen(svc->hash_name) &&
			    !strncasecmp(h->name, svc->hash_name,
					 h->name_len)) {
				v = h->value;
				vlen = h->value_len;
				break;
			}
		}
		break;
	case CFG_HASH_COOKIE:
		cookie_value(r, svc->hash_name, &v, &vlen);
		break;
	}
	if (!v)
		return false;
	*key = balance_hash(v, vlen);
	return true;
}

/* Pick a target not tried yet: x->target; false when none is left. */
static bool pick(struct proxy *p, struct exchange *x,
		 const struct config_service *svc)
{
	struct balance_state *st = x->st;
	struct balance_worker *w = slot(p, st);
	struct balance_set tried = {0}, ok;
	bool panic;
	int t = -1;

	for (unsigned int i = 0; i < x->n_tried; i++)
		balance_set_add(&tried, x->tried[i]);
	balance_candidates(st, p->now_ms, &tried, &ok, &panic);
	if (!balance_set_count(&ok))
		return false;
	if (panic) {
		atomic_fetch_add_explicit(&st->panics, 1, memory_order_relaxed);
		x->lb_panic = true;
	}
	if (svc->lb == CFG_LB_LEAST_REQUEST)
		t = balance_p2c(st->n_targets, st->weight, w->active, &ok,
				balance_rand(&w->rnd));
	else if (svc->lb == CFG_LB_HASH && x->hash_key)
		t = balance_ring_pick(&st->ring, x->hash_key, &ok);
	if (t < 0)
		t = balance_wrr(st->n_targets, st->weight, w->cur, &ok);
	if (t < 0)
		return false;
	if (x->lb_worker && w->active[x->target])
		w->active[x->target]--;
	x->target = (unsigned int)t;
	x->tried[x->n_tried++] = (uint8_t)t;
	w->active[t]++;
	x->lb_worker = true;
	return true;
}

/* A 503 for the service, with the service named and, at a limit, a
 * Retry-After. */
static void send_503(struct proxy *p, struct conn *c, const char *svc,
		     const char *msg, unsigned int retry_after)
{
	proxy__send_error_service(p, c, 503, msg, svc, retry_after);
}

bool proxy__lb_first_pick(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	const struct config_service *svc = &x->cfg->services[x->service];
	struct balance_state *st;
	uint64_t active;

	x->n_tried = 0;
	x->lb_panic = false;
	x->hash_key = 0;
	/* loaded and referenced in the same turn of the worker's loop: a
	 * state replaced meanwhile (a DNS change, control/dns.c) is freed
	 * only after every worker finished the turn it was in. Sequentially
	 * consistent, as the swap and the turn counts are, so that a load
	 * that still saw the old state is ordered before the end of its
	 * turn for the thread that swapped (a plain load on x86-64) */
	st = atomic_load(&svc->state);
	if (!st) { /* not built (cannot happen once loaded) */
		send_503(p, c, svc->name, "the service has no target", 0);
		return false;
	}
	x->st = balance_state_ref(st);
	if (svc->limits.max_pending &&
	    atomic_load_explicit(&st->pending, memory_order_relaxed) >=
		    svc->limits.max_pending) {
		atomic_fetch_add_explicit(&st->overflows, 1,
					  memory_order_relaxed);
		send_503(p, c, svc->name,
			 "the service has too many requests "
			 "waiting for an upstream connection",
			 1);
		return false;
	}
	active =
		atomic_fetch_add_explicit(&st->active, 1, memory_order_relaxed);
	x->lb_active = true;
	if (svc->limits.max_connections &&
	    active >= svc->limits.max_connections) {
		atomic_fetch_add_explicit(&st->overflows, 1,
					  memory_order_relaxed);
		send_503(p, c, svc->name,
			 "the service is at its connection "
			 "limit",
			 1);
		return false;
	}
	if (svc->lb == CFG_LB_HASH && !hash_key(p, x, svc, &x->hash_key))
		x->hash_key = 0;
	if (!st->n_targets && svc->n_names) {
		send_503(p, c, svc->name,
			 "the service's DNS names have not resolved to any "
			 "address yet",
			 1);
		return false;
	}
	if (!pick(p, x, svc)) {
		send_503(p, c, svc->name, "the service has no target", 0);
		return false;
	}
	return true;
}

bool proxy__lb_retry(struct proxy *p, struct conn *c)
{
	struct exchange *x = c->x;
	const struct config_service *svc = &x->cfg->services[x->service];
	struct balance_state *st = x->st;

	if (!st || x->n_tried >= svc->retries.attempts ||
	    x->n_tried >= PROXY_MAX_ATTEMPTS || x->n_tried >= st->n_targets)
		return false;
	if (!x->lb_retrying) {
		if (!balance_retry_allowed(st, svc->retries.budget_percent)) {
			atomic_fetch_add_explicit(&st->budget_denied, 1,
						  memory_order_relaxed);
			return false;
		}
		atomic_fetch_add_explicit(&st->retrying, 1,
					  memory_order_relaxed);
		x->lb_retrying = true;
	}
	if (!pick(p, x, svc))
		return false;
	atomic_fetch_add_explicit(&st->retries, 1, memory_order_relaxed);
	return true;
}

void proxy__lb_pending(struct proxy *p, struct exchange *x, bool on)
{
	struct balance_state *st = x->st;

	(void)p;
	if (!st || x->lb_pending == on)
		return;
	if (on)
		atomic_fetch_add_explicit(&st->pending, 1,
					  memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&st->pending, 1,
					  memory_order_relaxed);
	x->lb_pending = on;
}

void proxy__lb_outcome(struct proxy *p, struct exchange *x, bool connect_failed,
		       int status)
{
	const struct config_service *svc = &x->cfg->services[x->service];
	struct balance_state *st = x->st;
	static const char *const why[] = {"", "health checks",
					  "consecutive 5xx or resets",
					  "consecutive connect failures"};
	uint32_t r;

	if (!st || !svc->outlier.enabled)
		return;
	if (!balance_report(st, &svc->outlier, x->target, connect_failed,
			    status, p->now_ms, (uint64_t)clock_batch_wall_s()))
		return;
	r = atomic_load(&st->t[x->target].out_reason);
	pr_warn("upstream %s (service %s): ejected for %llu ms: %s",
		x->st->targets[x->target].text, svc->name,
		(unsigned long long)(atomic_load(
					     &st->t[x->target].eject_until_ms) -
				     p->now_ms),
		r < sizeof(why) / sizeof(why[0]) ? why[r] : "");
}

void proxy__lb_end(struct proxy *p, struct exchange *x)
{
	struct balance_state *st;

	if (!x->cfg || x->service < 0) {
		x->n_tried = 0;
		return;
	}
	st = x->st;
	if (!st)
		return;
	proxy__lb_pending(p, x, false);
	if (x->lb_active)
		atomic_fetch_sub_explicit(&st->active, 1, memory_order_relaxed);
	if (x->lb_retrying)
		atomic_fetch_sub_explicit(&st->retrying, 1,
					  memory_order_relaxed);
	if (x->lb_worker && x->target < st->n_targets &&
	    slot(p, st)->active[x->target])
		slot(p, st)->active[x->target]--;
	x->lb_active = x->lb_retrying = x->lb_worker = false;
	x->n_tried = 0;
	x->st = NULL;
	balance_state_put(st);
}
