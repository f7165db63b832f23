// SPDX-License-Identifier: MIT
/* DNS-named targets: resolution and publication. See dns.h. */
#include "control/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "control/control.h"
#include "lib/log.h"
#include "obs/obs.h"
#include "policy/balance.h"
#include "proxy/worker.h"

#define DNS_MAX_ADDRS	32	/* addresses kept per name */

/* One DNS-named target of a service, as written ("api:9003"). */
struct dns_name {
	struct dns_name *next;
	struct dns *d;
	char service[CONFIG_MAX_NAME];
	char text[CONFIG_ADDR_TEXT];
	char host[CONFIG_ADDR_TEXT];
	uint16_t port;
	bool seen;			/* in the snapshot synced to */
	bool dead;			/* dropped while a query was out */
	bool in_flight;
	bool pending;			/* addrs not yet published */
	struct config_addr addrs[DNS_MAX_ADDRS];	/* last good, sorted */
	size_t n;
	uint64_t next_ms;		/* the next query */
	uint32_t fails;			/* in a row */
	uint64_t results[OBS_DNS__COUNT];
};

/* A replaced state, dropped once every worker passed turns[]. */
struct dns_retired {
	struct dns_retired *next;
	struct balance_state *st;
	uint64_t turns[];
};

struct dns {
	struct control *ctl;
	ares_channel ch;
	bool ch_ok;
	struct config *cfg;		/* the snapshot synced to (a ref) */
	pthread_mutex_t lock;		/* names, against the scrape */
	struct dns_name *names;
	struct dns_retired *retired;
	uint64_t now_ms;
};

/* The one resolver, for the metrics scrape (obs_set_dns_source()). */
static _Atomic(struct dns *) g_dns;

static int cmp_addr(const void *a, const void *b)
{
	return strcmp(((const struct config_addr *)a)->text,
		      ((const struct config_addr *)b)->text);
}

static enum obs_dns_result result_of(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return OBS_DNS_SUCCESS;
	case ARES_ENOTFOUND:
	case ARES_ENONAME:
		return OBS_DNS_NXDOMAIN;
	case ARES_ENODATA:
		return OBS_DNS_NODATA;
	case ARES_ESERVFAIL:
		return OBS_DNS_SERVFAIL;
	case ARES_EREFUSED:
	case ARES_ECONNREFUSED:
		return OBS_DNS_REFUSED;
	case ARES_ETIMEOUT:
		return OBS_DNS_TIMEOUT;
	default:
		return OBS_DNS_ERROR;
	}
}

/* The addresses of an answer, with the name's port, deduplicated and
 * sorted (so that the same set in another order is no change). */
static size_t answer_addrs(const struct dns_name *e,
			   const struct ares_addrinfo *ai,
			   struct config_addr *out, uint32_t *ttl_s)
{
	size_t n = 0;
	int ttl = -1;

	for (const struct ares_addrinfo_node *a = ai ? ai->nodes : NULL; a;
	     a = a->ai_next) {
		struct config_addr x;
		char ip[INET6_ADDRSTRLEN];
		bool dup = false;

		memset(&x, 0, sizeof(x));
		x.port = e->port;
		if (a->ai_family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&x.sa;

			memcpy(s, a->ai_addr, sizeof(*s));
			s->sin_port = htons(e->port);
			x.salen = sizeof(*s);
			inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
			snprintf(x.text, sizeof(x.text), "%s:%u", ip, e->port);
		} else if (a->ai_family == AF_INET6) {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&x.sa;

			memcpy(s, a->ai_addr, sizeof(*s));
			s->sin6_port = htons(e->port);
			x.salen = sizeof(*s);
			inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
			snprintf(x.text, sizeof(x.text), "[%s]:%u", ip,
				 e->port);
		} else {
			continue;
		}
		for (size_t i = 0; i < n; i++)
			dup |= !strcmp(out[i].text, x.text);
		if (dup)
			continue;
		if (ttl < 0 || a->ai_ttl < ttl)
			ttl = a->ai_ttl;
		if (n == DNS_MAX_ADDRS) {
			pr_warn("dns: %s (service %s): more than %d addresses; "
				"using the first %d",
				e->text, e->service, DNS_MAX_ADDRS,
				DNS_MAX_ADDRS);
			break;
		}
		out[n++] = x;
	}
	qsort(out, n, sizeof(*out), cmp_addr);
	*ttl_s = ttl > 0 ? (uint32_t)ttl : 0;
	return n;
}

static void free_name(struct dns_name *e)
{
	free(e);
}

/* c-ares' answer to e's query. */
static void on_answer(void *arg, int status, int timeouts,
		      struct ares_addrinfo *ai)
{
	struct dns_name *e = arg;
	struct dns *d = e->d;
	const struct config_dns *cd = &d->cfg->dns;
	struct config_addr addrs[DNS_MAX_ADDRS];
	enum obs_dns_result r;
	uint32_t ttl_s = 0;
	size_t n = 0;

	(void)timeouts;
	e->in_flight = false;
	if (e->dead) {
		ares_freeaddrinfo(ai);
		free_name(e);
		return;
	}
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		/* the channel is being replaced: ask again on the next one */
		ares_freeaddrinfo(ai);
		e->next_ms = 0;
		return;
	}
	if (status == ARES_SUCCESS) {
		n = answer_addrs(e, ai, addrs, &ttl_s);
		if (!n)
			status = ARES_ENODATA;
	}
	ares_freeaddrinfo(ai);
	r = result_of(status);
	pthread_mutex_lock(&d->lock);
	e->results[r]++;
	if (status != ARES_SUCCESS) {
		uint32_t wait;

		e->fails++;
		wait = config_dns_backoff_ms(cd, e->fails);
		e->next_ms = d->now_ms + wait;
		pthread_mutex_unlock(&d->lock);
		pr_warn("dns: %s (service %s): resolution failed: %s; "
			"keeping %zu address(es), next try in %u ms",
			e->text, e->service, ares_strerror(status), e->n, wait);
		return;
	}
	e->fails = 0;
	e->next_ms = d->now_ms + config_dns_ttl_ms(cd, ttl_s);
	if (n == e->n && !memcmp(addrs, e->addrs, n * sizeof(addrs[0]))) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	memcpy(e->addrs, addrs, n * sizeof(addrs[0]));
	e->n = n;
	e->pending = true;
	pthread_mutex_unlock(&d->lock);
	{
		char list[512];
		size_t off = 0;

		list[0] = '\0';
		for (size_t i = 0; i < n && off < sizeof(list); i++) {
			int w = snprintf(list + off, sizeof(list) - off,
					 "%s%s", i ? " " : "", addrs[i].text);

			off += w > 0 ? (size_t)w : 0;
		}
		pr_info("dns: %s (service %s): %zu address(es): %s (ttl %u s)",
			e->text, e->service, n, list, ttl_s);
	}
}

/* A channel for the snapshot's dns: settings. */
static int channel_open(struct dns *d, const struct config_dns *cd)
{
	struct ares_options o;
	int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES, ret;
	char csv[8 * (CONFIG_ADDR_TEXT + 1)];
	size_t off = 0;

	memset(&o, 0, sizeof(o));
	o.timeout = (int)cd->timeout_ms;
	o.tries = 2;
	if (cd->n_servers) {
		/* servers named: DNS only, not /etc/hosts */
		o.lookups = (char *)"b";
		mask |= ARES_OPT_LOOKUPS;
	}
	ret = ares_init_options(&d->ch, &o, mask);
	if (ret != ARES_SUCCESS) {
		pr_err("dns: cannot set up the resolver: %s",
		       ares_strerror(ret));
		return -EIO;
	}
	d->ch_ok = true;
	csv[0] = '\0';
	for (size_t i = 0; i < cd->n_servers; i++) {
		int w = snprintf(csv + off, sizeof(csv) - off, "%s%s",
				 i ? "," : "", cd->servers[i].text);

		off += w > 0 ? (size_t)w : 0;
	}
	if (cd->n_servers &&
	    (ret = ares_set_servers_ports_csv(d->ch, csv)) != ARES_SUCCESS) {
		pr_err("dns: servers %s: %s", csv, ares_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

static void channel_close(struct dns *d)
{
	if (!d->ch_ok)
		return;
	d->ch_ok = false;
	ares_destroy(d->ch);	/* queries out: ARES_EDESTRUCTION */
}

static bool same_dns(const struct config_dns *a, const struct config_dns *b)
{
	if (a->n_servers != b->n_servers || a->timeout_ms != b->timeout_ms)
		return false;
	for (size_t i = 0; i < a->n_servers; i++)
		if (strcmp(a->servers[i].text, b->servers[i].text))
			return false;
	return true;
}

static struct dns_name *find(struct dns *d, const char *service,
			     const char *text)
{
	for (struct dns_name *e = d->names; e; e = e->next)
		if (!strcmp(e->service, service) && !strcmp(e->text, text))
			return e;
	return NULL;
}

/* Follow snapshot c: a name kept keeps its addresses and schedule; a new
 * one is asked at once; one no longer there is dropped. */
static void sync_names(struct dns *d, struct config *c)
{
	struct dns_name **pp;
	bool reopen = !d->cfg || !same_dns(&d->cfg->dns, &c->dns);

	pthread_mutex_lock(&d->lock);
	for (struct dns_name *e = d->names; e; e = e->next)
		e->seen = false;
	for (size_t s = 0; s < c->n_services; s++) {
		const struct config_service *sv = &c->services[s];

		for (size_t i = 0; i < sv->n_targets; i++) {
			const struct config_addr *a = &sv->targets[i];
			struct dns_name *e;

			if (!config_addr_is_name(a))
				continue;
			e = find(d, sv->name, a->text);
			if (!e) {
				e = calloc(1, sizeof(*e));
				if (!e) {
					pr_err("dns: %s: out of memory",
					       a->text);
					continue;
				}
				e->d = d;
				snprintf(e->service, sizeof(e->service), "%s",
					 sv->name);
				snprintf(e->text, sizeof(e->text), "%s",
					 a->text);
				snprintf(e->host, sizeof(e->host), "%.*s",
					 (int)config_addr_host_len(a), a->text);
				e->port = a->port;
				e->next = d->names;
				d->names = e;
			}
			e->seen = true;
		}
	}
	for (pp = &d->names; *pp;) {
		struct dns_name *e = *pp;

		if (e->seen) {
			pp = &e->next;
			continue;
		}
		*pp = e->next;
		if (e->in_flight)
			e->dead = true;	/* on_answer() frees it */
		else
			free_name(e);
	}
	pthread_mutex_unlock(&d->lock);
	config_put(d->cfg);
	d->cfg = config_get(c);
	if (reopen) {
		channel_close(d);
		if (channel_open(d, &c->dns))
			channel_close(d);
	}
}

static void retire(struct dns *d, struct balance_state *old)
{
	struct control *ctl = d->ctl;
	struct dns_retired *r;

	if (!old)
		return;
	r = malloc(sizeof(*r) + ctl->n_started * sizeof(r->turns[0]));
	if (!r) {
		/* cannot wait without memory: keeping it is the safe way */
		pr_err("dns: out of memory; a replaced service state is kept");
		return;
	}
	r->st = old;
	for (unsigned int i = 0; i < ctl->n_started; i++)
		r->turns[i] = atomic_load(&ctl->workers[i].turns);
	r->next = d->retired;
	d->retired = r;
}

/* Drop the replaced states that every worker has passed. */
static void reap(struct dns *d)
{
	struct control *ctl = d->ctl;

	for (struct dns_retired **pp = &d->retired; *pp;) {
		struct dns_retired *r = *pp;
		bool passed = true;

		for (unsigned int i = 0; i < ctl->n_started && passed; i++) {
			uint64_t t = atomic_load(&ctl->workers[i].turns);

			passed = t == WORKER_TURNS_GONE || t > r->turns[i];
		}
		if (!passed) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		balance_state_put(r->st);
		free(r);
	}
}

/* A new state for service si of c from its literal targets and its
 * names' current addresses; the health and ejection state of addresses
 * that stay is carried from the running one. */
static struct balance_state *build(struct dns *d, struct config *c, size_t si)
{
	const struct config_service *s = &c->services[si];
	struct balance_state *cur = s->state, *st;
	struct config_addr *addrs;
	unsigned int *from, n = 0;

	/* every service has a state from the policy build (it sizes the
	 * per-worker part): without one there is nothing to size from */
	if (!cur)
		return NULL;
	addrs = calloc(BALANCE_MAX_TARGETS, sizeof(*addrs));
	from = calloc(BALANCE_MAX_TARGETS, sizeof(*from));
	if (!addrs || !from) {
		free(addrs);
		free(from);
		return NULL;
	}
	for (unsigned int i = 0; i < s->n_targets; i++) {
		const struct config_addr *w = &s->targets[i];
		const struct dns_name *e;

		if (!config_addr_is_name(w)) {
			if (n < BALANCE_MAX_TARGETS) {
				addrs[n] = *w;
				from[n++] = i;
			}
			continue;
		}
		e = find(d, s->name, w->text);
		for (size_t k = 0; e && k < e->n; k++) {
			if (n == BALANCE_MAX_TARGETS) {
				pr_warn("dns: service %s: more than %d "
					"targets; the rest are left out",
					s->name, BALANCE_MAX_TARGETS);
				break;
			}
			addrs[n] = e->addrs[k];
			from[n++] = i;
		}
	}
	st = balance_state_build(s, addrs, from, n, cur->n_workers);
	if (st)
		balance_state_carry(st, cur);
	free(addrs);
	free(from);
	return st;
}

/* Publish the services whose names have addresses not yet published. */
static void publish(struct dns *d)
{
	struct config *c = d->cfg;
	struct control *ctl = d->ctl;

	for (size_t si = 0; si < c->n_services; si++) {
		const struct config_service *s = &c->services[si];
		struct balance_state *st, *old;
		bool due = false;

		for (struct dns_name *e = d->names; e; e = e->next)
			due |= e->pending && !strcmp(e->service, s->name);
		if (!due)
			continue;
		st = build(d, c, si);
		if (!st) {
			pr_err("dns: service %s: no new state (out of memory, "
			       "or none to build on); its targets stay as "
			       "they were", s->name);
			continue;
		}
		/* under the control lock: a reload copies the running
		 * snapshot's states into the new one under it too */
		pthread_mutex_lock(&ctl->lock);
		if (ctl->cfg != c) {
			pthread_mutex_unlock(&ctl->lock);
			balance_state_put(st);
			return;	/* the next step syncs to the new one */
		}
		old = balance_state_publish(c, si, st);
		pthread_mutex_unlock(&ctl->lock);
		retire(d, old);
		pthread_mutex_lock(&d->lock);
		for (struct dns_name *e = d->names; e; e = e->next)
			if (!strcmp(e->service, s->name))
				e->pending = false;
		pthread_mutex_unlock(&d->lock);
		pr_info("dns: service %s: %u target(s) published", s->name,
			st->n_targets);
	}
}

void dns_step(struct dns *d, uint64_t now_ms)
{
	struct config *c = control_config(d->ctl, NULL);

	d->now_ms = now_ms;
	if (c && c != d->cfg)
		sync_names(d, c);
	config_put(c);
	if (d->ch_ok) {
		ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		for (struct dns_name *e = d->names; e; e = e->next) {
			struct ares_addrinfo_hints h;

			if (e->in_flight || now_ms < e->next_ms)
				continue;
			memset(&h, 0, sizeof(h));
			h.ai_family = AF_UNSPEC;
			h.ai_flags = ARES_AI_NOSORT;
			e->in_flight = true;
			/* may answer at once (on_answer() runs inside) */
			ares_getaddrinfo(d->ch, e->host, NULL, &h, on_answer,
					 e);
		}
	}
	if (d->cfg)
		publish(d);
	reap(d);
}

size_t dns_pollfds(struct dns *d, struct pollfd *pfd, size_t max)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];

	_Static_assert(ARES_GETSOCK_MAXNUM <= DNS_MAX_SOCKETS,
		       "DNS_MAX_SOCKETS is below c-ares' maximum");
	size_t n = 0;
	unsigned int bits;

	if (!d->ch_ok)
		return 0;
	bits = (unsigned int)ares_getsock(d->ch, socks, ARES_GETSOCK_MAXNUM);
	for (int i = 0; i < ARES_GETSOCK_MAXNUM && n < max; i++) {
		short ev = 0;

		/* the bits by hand: ARES_GETSOCK_WRITABLE() shifts a signed
		 * 1 into the sign bit for the last socket */
		if (bits >> i & 1)
			ev |= POLLIN;
		if (bits >> (i + ARES_GETSOCK_MAXNUM) & 1)
			ev |= POLLOUT;
		if (!ev)
			continue;
		pfd[n].fd = socks[i];
		pfd[n].events = ev;
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

void dns_events(struct dns *d, const struct pollfd *pfd, size_t n)
{
	for (size_t i = 0; d->ch_ok && i < n; i++) {
		if (!pfd[i].revents)
			continue;
		ares_process_fd(d->ch,
				pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ?
					pfd[i].fd : ARES_SOCKET_BAD,
				pfd[i].revents & POLLOUT ? pfd[i].fd :
							   ARES_SOCKET_BAD);
	}
}

/* obs_dns_fn: one row per name. */
static void scrape(obs_dns_row_fn row, void *ctx)
{
	struct dns *d = atomic_load(&g_dns);

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	for (struct dns_name *e = d->names; e; e = e->next)
		row(ctx, e->service, e->text, e->results, e->n);
	pthread_mutex_unlock(&d->lock);
}

struct dns *dns_new(struct control *ctl)
{
	struct dns *d;
	int ret = ares_library_init(ARES_LIB_INIT_ALL);

	if (ret != ARES_SUCCESS) {
		pr_err("dns: c-ares: %s", ares_strerror(ret));
		errno = EIO;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		ares_library_cleanup();
		return NULL;
	}
	d->ctl = ctl;
	pthread_mutex_init(&d->lock, NULL);
	atomic_store(&g_dns, d);
	obs_set_dns_source(scrape);
	return d;
}

void dns_free(struct dns *d)
{
	if (!d)
		return;
	obs_set_dns_source(NULL);
	atomic_store(&g_dns, NULL);
	/* a scrape that loaded d holds d->lock until it is done */
	pthread_mutex_lock(&d->lock);
	pthread_mutex_unlock(&d->lock);
	channel_close(d);	/* dead names are freed by their answer */
	while (d->names) {
		struct dns_name *e = d->names;

		d->names = e->next;
		free_name(e);
	}
	while (d->retired) {
		struct dns_retired *r = d->retired;

		d->retired = r->next;
		balance_state_put(r->st);
		free(r);
	}
	config_put(d->cfg);
	pthread_mutex_destroy(&d->lock);
	free(d);
	ares_library_cleanup();
}
