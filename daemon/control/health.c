// SPDX-License-Identifier: MIT
/* Active health checks on a thread of their own. See health.h. */
#include "control/health.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "control/control.h"
#include "control/dns.h"
#include "io/tls.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "policy/balance.h"

#define HEALTH_MAX_PROBES 1024 /* checks in flight at once */
#define HEALTH_TICK_MS	  50   /* how often due checks are looked for */

enum probe_phase { PH_CONNECT, PH_SEND, PH_READ };

struct probe {
	struct balance_state *st; /* a reference */
	unsigned int idx;
	int fd;
	int phase;
	uint64_t deadline_ms;
	struct config_health h; /* copy; expect strings not used */
	char service[CONFIG_MAX_NAME];
	char target[CONFIG_ADDR_TEXT];
	char req[512];
	size_t req_len, sent;
	char resp[256];
	size_t resp_len;
};

struct health {
	struct control *ctl;
	struct dns *dns;		/* DNS-named targets (dns.h) */
	pthread_t thread;
	atomic_bool stop;
	struct probe probes[HEALTH_MAX_PROBES];
	size_t n;
};

static bool in_flight(const struct health *hc, const struct balance_state *st,
		      unsigned int idx)
{
	for (size_t i = 0; i < hc->n; i++)
		if (hc->probes[i].st == st && hc->probes[i].idx == idx)
			return true;
	return false;
}

static void finish(struct health *hc, size_t i, bool pass, const char *why)
{
	struct probe *pr = &hc->probes[i];
	struct balance_target *t = &pr->st->t[pr->idx];
	int r;

	if (pr->fd >= 0)
		close(pr->fd);
	if (!pass)
		snprintf(t->last_error, sizeof(t->last_error), "%s", why);
	else
		t->last_error[0] = '\0';
	r = balance_health_result(pr->st, &pr->h, pr->idx, pass,
				  (uint64_t)time(NULL));
	if (r > 0)
		pr_info("upstream %s (service %s): healthy again after %u "
			"passing checks",
			pr->target, pr->service, pr->h.healthy);
	else if (r < 0)
		pr_warn("upstream %s (service %s): unhealthy after %u failed "
			"checks: %s",
			pr->target, pr->service, pr->h.unhealthy, why);
	balance_state_put(pr->st);
	hc->probes[i] = hc->probes[--hc->n];
}

/* The status line in pr->resp: does its code pass? */
static bool status_passes(const struct probe *pr, int *code);

/*
 * A check of a TLS service's target, start to end, on this thread: the
 * connect, the handshake (verified as the workers verify) and the
 * exchange block it for at most the check's timeout. TLS checks are few
 * (one per target and interval) and this keeps OpenSSL's non-blocking
 * state machine out of the poll loop.
 */
static void tls_probe(struct health *hc, const struct config *c, size_t s,
		      size_t i)
{
	struct probe *pr = &hc->probes[i];
	const struct config_addr *a = &pr->st->targets[pr->idx];
	uint64_t deadline = pr->deadline_ms;
	struct pollfd pfd = { .fd = pr->fd, .events = POLLOUT };
	int err = 0, code;
	socklen_t el = sizeof(err);
	char why[160];
	uint64_t now;
	long n;

	if (connect(pr->fd, (const struct sockaddr *)&a->sa, a->salen) &&
	    errno != EINPROGRESS) {
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		finish(hc, i, false, why);
		return;
	}
	now = clock_now_ms();
	if (poll(&pfd, 1, now < deadline ? (int)(deadline - now) : 0) != 1) {
		finish(hc, i, false, "timed out");
		return;
	}
	if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
		snprintf(why, sizeof(why), "connect: %s",
			 strerror(err ? err : errno));
		finish(hc, i, false, why);
		return;
	}
	now = clock_now_ms();
	n = tls_upstream_probe(c, s, pr->idx, pr->fd, pr->req, pr->req_len,
			       pr->resp, sizeof(pr->resp),
			       now < deadline ? (unsigned int)(deadline - now)
					      : 1,
			       why, sizeof(why));
	if (n < 0) {
		finish(hc, i, false, why);
		return;
	}
	pr->resp_len = (size_t)n;
	if (status_passes(pr, &code)) {
		finish(hc, i, true, "");
		return;
	}
	if (code)
		snprintf(why, sizeof(why), "status %d", code);
	else
		snprintf(why, sizeof(why), "%s",
			 n ? "not an HTTP response"
			   : "closed before a status line");
	finish(hc, i, false, why);
}

static void start_probe(struct health *hc, const struct config *c, size_t si,
			struct balance_state *st, unsigned int idx,
			uint64_t now)
{
	const struct config_service *s = &c->services[si];
	const struct config_addr *a = &st->targets[idx];
	struct probe *pr;
	int fd, n;

	if (hc->n >= HEALTH_MAX_PROBES)
		return;
	pr = &hc->probes[hc->n];
	memset(pr, 0, sizeof(*pr));
	pr->st = balance_state_ref(st);
	pr->idx = idx;
	pr->h = s->health;
	pr->h.expect = NULL;
	pr->deadline_ms = now + s->health.timeout_ms;
	snprintf(pr->service, sizeof(pr->service), "%s", s->name);
	snprintf(pr->target, sizeof(pr->target), "%s", a->text);
	n = snprintf(pr->req, sizeof(pr->req),
		     "GET %s HTTP/1.1\r\nHost: %s\r\n"
		     "User-Agent: sluice-health-check\r\n"
		     "Connection: close\r\n\r\n",
		     s->health.path,
		     config_addr_is_unix(a) ? "localhost" : a->text);
	pr->req_len = n > 0 && (size_t)n < sizeof(pr->req) ? (size_t)n : 0;
	pr->fd = -1;
	hc->n++;
	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		finish(hc, hc->n - 1, false, strerror(errno));
		return;
	}
	pr->fd = fd;
	pr->phase = PH_CONNECT;
	if (tls_upstream_of(c, si)) {
		tls_probe(hc, c, si, hc->n - 1);
		return;
	}
	/* a Unix-domain connect completes at once or fails (EAGAIN: the
	 * listener's backlog is full, a failed check like any other) */
	if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) == 0) {
		pr->phase = PH_SEND;
	} else if (errno != EINPROGRESS) {
		char why[96];

		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		finish(hc, hc->n - 1, false, why);
	}
}

/* The status line in pr->resp: does its code pass? */
static bool status_passes(const struct probe *pr, int *code)
{
	size_t n = pr->h.n_expect ? pr->h.n_expect : 1;
	unsigned int c;

	if (sscanf(pr->resp, "HTTP/1.%*1[01] %3u", &c) != 1)
		return *code = 0, false;
	*code = (int)c;
	for (size_t i = 0; i < n && i < CONFIG_MAX_EXPECT; i++)
		if (c >= pr->h.expect_lo[i] && c <= pr->h.expect_hi[i])
			return true;
	return false;
}

/* Progress probe i after poll() said revents; false when it finished. */
static void step(struct health *hc, size_t i, short revents)
{
	struct probe *pr = &hc->probes[i];
	char why[96];
	ssize_t n;
	int err = 0, code;
	socklen_t el = sizeof(err);

	if (pr->phase == PH_CONNECT) {
		if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &el) ||
		    err) {
			snprintf(why, sizeof(why), "connect: %s",
				 strerror(err ? err : errno));
			finish(hc, i, false, why);
			return;
		}
		pr->phase = PH_SEND;
	}
	if (pr->phase == PH_SEND) {
		n = send(pr->fd, pr->req + pr->sent, pr->req_len - pr->sent,
			 MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			snprintf(why, sizeof(why), "send: %s", strerror(errno));
			finish(hc, i, false, why);
			return;
		}
		if (n > 0)
			pr->sent += (size_t)n;
		if (pr->sent == pr->req_len)
			pr->phase = PH_READ;
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = recv(pr->fd, pr->resp + pr->resp_len,
		 sizeof(pr->resp) - 1 - pr->resp_len, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		finish(hc, i, false,
		       n == 0 ? "closed before a status line"
			      : "receive failed");
		return;
	}
	pr->resp_len += (size_t)n;
	pr->resp[pr->resp_len] = '\0';
	if (!strstr(pr->resp, "\r\n") && pr->resp_len < sizeof(pr->resp) - 1)
		return;
	if (status_passes(pr, &code)) {
		finish(hc, i, true, "");
		return;
	}
	if (code)
		snprintf(why, sizeof(why), "status %d", code);
	else
		snprintf(why, sizeof(why), "not an HTTP response");
	finish(hc, i, false, why);
}

/* An ejection ends by itself (workers compare its end with the time):
 * log and date its end here, once. */
static void note_returns(const struct config_service *sv,
			 struct balance_state *st, uint64_t now)
{
	for (unsigned int i = 0; i < st->n_targets; i++) {
		struct balance_target *t = &st->t[i];
		uint64_t until = atomic_load(&t->eject_until_ms);

		if (!until || until > now || t->return_seen_ms == until)
			continue;
		t->return_seen_ms = until;
		if (atomic_load(&t->hc_up))
			atomic_store(&t->out_reason, BALANCE_R_NONE);
		atomic_store(&t->last_change_s, (uint64_t)time(NULL));
		pr_info("upstream %s (service %s): back in rotation after its "
			"ejection",
			st->targets[i].text, sv->name);
	}
}

/* Start the checks that are due in the current snapshot. */
static void schedule(struct health *hc, uint64_t now)
{
	struct config *c = control_config(hc->ctl, NULL);

	if (!c)
		return;
	for (size_t s = 0; s < c->n_services; s++) {
		const struct config_service *sv = &c->services[s];
		/* this thread is the one that replaces a service's state
		 * (dns.c): the pointer it loads stays valid here */
		struct balance_state *st = sv->state;

		if (sv->outlier.enabled && st)
			note_returns(sv, st, now);

		if (!sv->health.enabled || !st)
			continue;
		for (unsigned int i = 0; i < st->n_targets; i++) {
			struct balance_target *t = &st->t[i];

			if (now < t->next_check_ms || in_flight(hc, st, i))
				continue;
			t->next_check_ms = now + sv->health.interval_ms;
			start_probe(hc, c, s, st, i, now);
		}
	}
	config_put(c);
}

static void *health_main(void *arg)
{
	struct health *hc = arg;
	struct pollfd pfd[HEALTH_MAX_PROBES + DNS_MAX_SOCKETS];

	while (!atomic_load(&hc->stop)) {
		uint64_t now = clock_now_ms();
		size_t nd = 0;
		int n;

		if (hc->dns)
			dns_step(hc->dns, now);
		schedule(hc, now);
		for (size_t i = 0; i < hc->n; i++) {
			pfd[i].fd = hc->probes[i].fd;
			pfd[i].events = hc->probes[i].phase == PH_READ
						? POLLIN
						: POLLOUT;
			pfd[i].revents = 0;
		}
		if (hc->dns)
			nd = dns_pollfds(hc->dns, pfd + hc->n, DNS_MAX_SOCKETS);
		n = poll(pfd, hc->n + nd, HEALTH_TICK_MS);
		now = clock_now_ms();
		if (n > 0 && nd)
			dns_events(hc->dns, pfd + hc->n, nd);
		/* backwards: finish() moves the last probe into slot i */
		for (size_t i = hc->n; i-- > 0;) {
			if (n > 0 && pfd[i].revents) {
				step(hc, i, pfd[i].revents);
				continue;
			}
			if (now >= hc->probes[i].deadline_ms)
				finish(hc, i, false, "timed out");
		}
	}
	while (hc->n) { /* unfinished: no result */
		struct probe *pr = &hc->probes[--hc->n];

		if (pr->fd >= 0)
			close(pr->fd);
		balance_state_put(pr->st);
	}
	return NULL;
}

struct health *health_start(struct control *ctl)
{
	struct health *hc = calloc(1, sizeof(*hc));
	int ret;

	if (!hc)
		return NULL;
	hc->ctl = ctl;
	hc->dns = dns_new(ctl);	/* NULL: names stay unresolved */
	ret = pthread_create(&hc->thread, NULL, health_main, hc);
	if (ret) {
		dns_free(hc->dns);
		free(hc);
		errno = ret;
		return NULL;
	}
	return hc;
}

void health_stop(struct health *hc)
{
	if (!hc)
		return;
	atomic_store(&hc->stop, true);
	pthread_join(hc->thread, NULL);
	dns_free(hc->dns);
	free(hc);
}
