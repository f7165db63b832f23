// SPDX-License-Identifier: MIT
/* Observability wiring: see obs.h. */
#include "obs/obs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "http/http.h"
#include "lib/log.h"
#include "obs/logwriter.h"
#include "obs/metrics.h"
#include "obs/metrics_catalog.h"
#include "lib/clock.h"
#include "policy/balance.h"
#include "xdp/xdpctl.h"

/* Request fields kept for the access log from the head to the end of an
 * exchange (the parser's results point into a buffer that is reused). Raw
 * bytes, cut to these sizes; the formatter escapes them. */
#define CAP_METHOD 32
#define CAP_PATH 1024
#define CAP_HOST 255
#define CAP_UA 255
#define CAP_REFERER 255
#define CAP_SLAB 64		/* captures allocated at a time */

struct obs_capture {
	struct obs_capture *next;	/* free list */
	uint16_t method_len, path_len, host_len, ua_len, referer_len;
	char method[CAP_METHOD];
	char path[CAP_PATH];
	char host[CAP_HOST];
	char ua[CAP_UA];
	char referer[CAP_REFERER];
};

/* Captures come from slabs that live until obs_shutdown(): steady-state
 * traffic allocates nothing, and a capture that a connection torn down
 * some unforeseen way never gave back is not a leak, only slack. */
struct cap_slab {
	struct cap_slab *next;
	struct obs_capture caps[CAP_SLAB];
};

/*
 * Label indexes of route, service and target names, remembered per worker
 * by the name's address: the names live in the configuration snapshot, so
 * the same few addresses come back on every request, and a hit costs a
 * strcmp instead of a hash and a probe of the shared table. A hit is
 * confirmed against the interned value, so an address that holds another
 * name after a reload (or a value the table refused) misses instead of
 * mislabelling.
 */
#define LABEL_MEMO	64	/* entries per worker, a power of 2 */

struct label_memo {
	const char *key;
	uint32_t idx;
	uint32_t dim;
};

struct obs_worker {
	struct metrics_shard *shard;
	struct label_memo memo[LABEL_MEMO];
	struct obs_capture *free_caps;
	struct cap_slab *slabs;
	uint64_t rnd;
	uint64_t seq;
	char rid[48];
	char line[ACCESSLOG_LINE_MAX];
} __attribute__((aligned(64)));

struct obs {
	struct metrics *m;
	struct logwriter *log;
	struct obs_worker *workers;
	unsigned int n_workers;
	uint32_t boot;			/* request id prefix */
	pthread_mutex_t lock;		/* scrapes, xdp, cfg */
	struct xdpctl *xdp;
	struct config *cfg;		/* last applied snapshot (a reference) */
	/* reloadable access log settings */
	_Atomic int log_format;
	_Atomic uint64_t log_sample_bits;
	/* events from other threads, mirrored into the registry at scrape */
	_Atomic uint64_t reloads_ok, reloads_failed;
	atomic_bool last_reload_ok;
	_Atomic int64_t last_success_time;
	_Atomic uint64_t active_bans;	/* last counted in the ban maps */
	_Atomic uint64_t bans[2];	/* enum obs_ban_by */
	_Atomic uint64_t xdp_reattached, accept_pauses;
	_Atomic(obs_escalation_fn) escalation;
	_Atomic(obs_cluster_fn) cluster;
	_Atomic(obs_dns_fn) dns;
};

/*
 * sluice_upstream_up: the most recent outcome per target address, across
 * workers. Workers stamp (CLOCK_MONOTONIC ns, kept as a running maximum)
 * the last success and the last failure of each target, indexed by its
 * label index; the scrape reports, for the targets of the running config
 * only, up = 0 if the last failure is newer than the last success.
 */
#define OBS_UP_SLOTS 4097		/* the target dimension: 4096 + "other" */
static _Atomic uint64_t up_ok_ns[OBS_UP_SLOTS], up_fail_ns[OBS_UP_SLOTS];

static void up_note(uint32_t target, bool ok)
{
	_Atomic uint64_t *w;
	uint64_t now = obs_now_ns(), old;

	if (target >= OBS_UP_SLOTS)
		return;
	w = ok ? &up_ok_ns[target] : &up_fail_ns[target];
	old = atomic_load_explicit(w, memory_order_relaxed);
	while (old < now &&
	       !atomic_compare_exchange_weak_explicit(w, &old, now,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static struct obs g = { .lock = PTHREAD_MUTEX_INITIALIZER };

const char *const obs_dns_results[OBS_DNS__COUNT] = {
	"success", "nxdomain", "nodata", "servfail", "refused", "timeout",
	"error",
};

struct dns_scrape {
	struct metrics *m;
	struct metrics_shard *cs;
};

/* One DNS-named target's series (obs_dns_fn's row). */
static void dns_row(void *ctx, const char *service, const char *name,
		    const uint64_t *results, uint64_t addresses)
{
	struct dns_scrape *d = ctx;
	uint32_t l[3];

	l[0] = metrics_label_index(d->m, MD_SERVICE, service);
	l[1] = metrics_label_index(d->m, MD_DNS_NAME, name);
	metrics_set(d->cs, MF_DNS_ADDRESSES, l, (int64_t)addresses);
	for (int r = 0; r < OBS_DNS__COUNT; r++) {
		l[2] = metrics_label_index(d->m, MD_DNS_RESULT,
					   obs_dns_results[r]);
		metrics_set(d->cs, MF_DNS_RESOLUTIONS, l, (int64_t)results[r]);
	}
}
static atomic_bool g_ready;

static struct metrics *obs_metrics(void)
{
	return atomic_load(&g_ready) ? g.m : NULL;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_sample(double s)
{
	uint64_t bits;

	memcpy(&bits, &s, sizeof(bits));
	atomic_store_explicit(&g.log_sample_bits, bits, memory_order_relaxed);
}

static double get_sample(void)
{
	uint64_t bits = atomic_load_explicit(&g.log_sample_bits,
					     memory_order_relaxed);
	double s;

	memcpy(&s, &bits, sizeof(s));
	return s;
}

/* ---- scrape-time collector ------------------------------------------------- */

static void xdp_verdict(const char *reason, char *out, size_t len)
{
	const char *us = strchr(reason, '_');
	size_t n = us ? (size_t)(us - reason) : strlen(reason);

	snprintf(out, len, "%.*s", (int)n, reason);
}

/* Runs inside metrics_render(), under g.lock: the only writer of the
 * control shard. */
static void scrape_balance(struct metrics *m, struct metrics_shard *cs,
			   const struct config *cfg);

static void collect(struct metrics *m, void *arg)
{
	struct metrics_shard *cs = metrics_control_shard(m);

	(void)arg;
	metrics_set(cs, MF_CONFIG_RELOADS,
		    (uint32_t[]){ METRICS_RESULT_SUCCESS },
		    (int64_t)atomic_load(&g.reloads_ok));
	metrics_set(cs, MF_CONFIG_RELOADS,
		    (uint32_t[]){ METRICS_RESULT_FAILURE },
		    (int64_t)atomic_load(&g.reloads_failed));
	metrics_set(cs, MF_CONFIG_LAST_RELOAD_OK, NULL,
		    atomic_load(&g.last_reload_ok) ? 1 : 0);
	metrics_set(cs, MF_CONFIG_LAST_RELOAD_TIME, NULL,
		    atomic_load(&g.last_success_time));
	if (g.xdp) {
		long n = xdpctl_count_bans(g.xdp);

		if (n >= 0)
			atomic_store(&g.active_bans, (uint64_t)n);
	}
	metrics_set(cs, MF_XDP_ACTIVE_BANS, NULL,
		    (int64_t)atomic_load(&g.active_bans));
	metrics_set(cs, MF_XDP_REATTACHED, NULL,
		    (int64_t)atomic_load(&g.xdp_reattached));
	metrics_set(cs, MF_ACCEPT_PAUSES, NULL,
		    (int64_t)atomic_load(&g.accept_pauses));
	for (int b = 0; b < 2; b++) {
		static const char *const by[2] = { "sluiced", "operator" };
		uint32_t l = metrics_label_index(m, MD_BAN_BY, by[b]);

		metrics_set(cs, MF_XDP_BANS, &l,
			    (int64_t)atomic_load(&g.bans[b]));
	}
	{
		static const char *const where[2] = { "xdp", "l7" };
		obs_escalation_fn esc = atomic_load(&g.escalation);
		struct obs_escalation_counts ec = { 0 };

		if (esc)
			esc(&ec);
		for (int w = 0; w < 2; w++) {
			uint32_t l = metrics_label_index(m, MD_BAN_WHERE,
							 where[w]);

			metrics_set(cs, MF_ESCALATION_BANS, &l,
				    (int64_t)(w ? ec.bans_l7 : ec.bans_xdp));
		}
		metrics_set(cs, MF_L7_BANNED, NULL, (int64_t)ec.banned);
	}
	{
		obs_dns_fn dnsf = atomic_load(&g.dns);
		struct dns_scrape ds = { m, cs };

		metrics_clear(cs, MF_DNS_RESOLUTIONS);
		metrics_clear(cs, MF_DNS_ADDRESSES);
		if (dnsf)
			dnsf(dns_row, &ds);
	}
	{
		obs_cluster_fn clf = atomic_load(&g.cluster);
		struct obs_cluster_counts k = { 0 };

		if (clf)
			clf(&k);
		if (k.enabled) {
			metrics_set(cs, MF_CLUSTER_UP, NULL, k.up);
			metrics_set(cs, MF_CLUSTER_NODES, NULL,
				    (int64_t)k.nodes);
			metrics_set(cs, MF_CLUSTER_CONNECTS, NULL,
				    (int64_t)k.connects);
			metrics_set(cs, MF_CLUSTER_BANS_PUBLISHED, NULL,
				    (int64_t)k.published);
			metrics_set(cs, MF_CLUSTER_BANS_APPLIED, NULL,
				    (int64_t)k.applied);
			metrics_set(cs, MF_CLUSTER_BANS_QUEUED, NULL,
				    (int64_t)k.queued);
			metrics_set(cs, MF_CLUSTER_BAN_LAG, NULL,
				    (int64_t)k.lag_ms);
			metrics_set(cs, MF_CLUSTER_SYNC_AGE, NULL,
				    (int64_t)k.sync_age_ms);
		}
	}
	metrics_set(cs, MF_ACCESS_LOG_WRITTEN, NULL,
		    (int64_t)logwriter_written(g.log));
	metrics_set(cs, MF_ACCESS_LOG_DROPPED, NULL,
		    (int64_t)logwriter_dropped(g.log));
	metrics_set(cs, MF_METRICS_DROPPED, NULL, (int64_t)metrics_dropped(m));

	if (g.xdp) {
		struct sluice_counter c[SLUICE_R_MAX];

		if (xdpctl_read_stats(g.xdp, c) == 0) {
			for (int r = 0; r < SLUICE_R_MAX; r++) {
				const char *name = xdpctl_reason_name(r);
				char verdict[32];
				uint32_t l[2];

				if (!name)
					continue;
				xdp_verdict(name, verdict, sizeof(verdict));
				l[0] = metrics_label_index(m, MD_XDP_VERDICT, verdict);
				l[1] = metrics_label_index(m, MD_XDP_REASON, name);
				metrics_set(cs, MF_XDP_PACKETS, l,
					    (int64_t)c[r].packets);
				metrics_set(cs, MF_XDP_BYTES, l, (int64_t)c[r].bytes);
			}
		}
	}

	/* the running config's targets only (a reload drops removed ones);
	 * up until an attempt fails, then as the latest attempt went */
	metrics_clear(cs, MF_UPSTREAM_UP);
	if (g.cfg) {
		for (size_t s = 0; s < g.cfg->n_services; s++) {
			const struct config_service *sv = &g.cfg->services[s];
			uint32_t l[2];

			struct balance_state *st = balance_state_get(g.cfg, s);

			l[0] = metrics_label_index(m, MD_SERVICE, sv->name);
			for (size_t t = 0; st && t < st->n_targets; t++) {
				l[1] = metrics_label_index(m, MD_TARGET,
							   st->targets[t].text);
				metrics_set(cs, MF_UPSTREAM_UP, l,
					    l[1] >= OBS_UP_SLOTS ||
					    atomic_load(&up_fail_ns[l[1]]) <=
					    atomic_load(&up_ok_ns[l[1]]));
			}
			balance_state_put(st);
		}
		scrape_balance(m, cs, g.cfg);
	}
}

/* The services' balancing and health state (policy/balance.h). */
static void scrape_balance(struct metrics *m, struct metrics_shard *cs,
			   const struct config *cfg)
{
	uint64_t now = clock_now_ms();

	metrics_clear(cs, MF_UPSTREAM_HEALTHY);
	for (size_t s = 0; s < cfg->n_services; s++) {
		const struct config_service *sv = &cfg->services[s];
		struct balance_state *st = balance_state_get(cfg, s);
		uint32_t l[2];

		if (!st)
			continue;
		l[0] = metrics_label_index(m, MD_SERVICE, sv->name);
		metrics_set(cs, MF_UPSTREAM_ACTIVE, l,
			    (int64_t)atomic_load(&st->active));
		metrics_set(cs, MF_UPSTREAM_PANIC, l,
			    (int64_t)atomic_load(&st->panics));
		metrics_set(cs, MF_UPSTREAM_RETRIES, l,
			    (int64_t)atomic_load(&st->retries));
		metrics_set(cs, MF_UPSTREAM_RETRY_DENIED, l,
			    (int64_t)atomic_load(&st->budget_denied));
		metrics_set(cs, MF_UPSTREAM_OVERFLOW, l,
			    (int64_t)atomic_load(&st->overflows));
		metrics_set(cs, MF_UPSTREAM_UNAVAILABLE, l,
			    (int64_t)atomic_load(&st->unavailable));
		for (unsigned int t = 0; t < st->n_targets; t++) {
			l[1] = metrics_label_index(m, MD_TARGET,
						   st->targets[t].text);
			metrics_set(cs, MF_UPSTREAM_HEALTHY, l,
				    balance_target_ok(st, t, now));
			metrics_set(cs, MF_UPSTREAM_HEALTH_CHANGES, l,
				    (int64_t)atomic_load(
					    &st->t[t].health_changes));
			metrics_set(cs, MF_UPSTREAM_EJECTIONS, l,
				    (int64_t)atomic_load(
					    &st->t[t].ejections_total));
		}
		balance_state_put(st);
	}
}

const char *obs_upstream_health(const char *target)
{
	struct metrics *m = obs_metrics();
	uint64_t ok, fail;
	uint32_t l;

	if (!m)
		return "unknown";
	l = metrics_label_index(m, MD_TARGET, target);
	if (l >= OBS_UP_SLOTS)
		return "unknown";
	ok = atomic_load(&up_ok_ns[l]);
	fail = atomic_load(&up_fail_ns[l]);
	if (!ok && !fail)
		return "unknown";	/* no attempt yet */
	return fail > ok ? "down" : "up";
}

void obs_upstream_ages(const char *target, int64_t *ok_ago, int64_t *fail_ago)
{
	struct metrics *m = obs_metrics();
	uint64_t now = obs_now_ns(), ok, fail;
	uint32_t l;

	*ok_ago = *fail_ago = -1;
	if (!m)
		return;
	l = metrics_label_index(m, MD_TARGET, target);
	if (l >= OBS_UP_SLOTS)
		return;
	ok = atomic_load(&up_ok_ns[l]);
	fail = atomic_load(&up_fail_ns[l]);
	if (ok)
		*ok_ago = now > ok ? (int64_t)(now - ok) : 0;
	if (fail)
		*fail_ago = now > fail ? (int64_t)(now - fail) : 0;
}

int obs_render(char **out, size_t *len)
{
	int ret;

	pthread_mutex_lock(&g.lock);
	ret = g.m && atomic_load(&g_ready) ? metrics_render(g.m, out, len)
					   : -ENODEV;
	pthread_mutex_unlock(&g.lock);
	return ret;
}

/* ---- set-up ------------------------------------------------------------------ */

static void apply_log_settings(const struct config *cfg)
{
	atomic_store(&g.log_format, cfg->access_log.format == CFG_LOG_COMBINED ?
					    ACCESSLOG_COMBINED : ACCESSLOG_JSON);
	set_sample(cfg->access_log.sample);
}

int obs_init(const struct config *cfg, unsigned int n_workers, char *err,
	     size_t errlen)
{
	struct metrics_catalog_opts o = {
		.request_buckets = cfg->metrics.n_request_buckets ?
					   cfg->metrics.request_buckets : NULL,
		.n_request_buckets = cfg->metrics.n_request_buckets,
		.upstream_buckets = cfg->metrics.n_upstream_buckets ?
					    cfg->metrics.upstream_buckets : NULL,
		.n_upstream_buckets = cfg->metrics.n_upstream_buckets,
	};
	int ret;

	if (atomic_load(&g_ready) || !n_workers) {
		snprintf(err, errlen, "observability: %s",
			 n_workers ? "already initialised" : "no workers");
		return -EINVAL;
	}
	g.m = metrics_catalog_new(n_workers, &o, err, errlen);
	if (!g.m)
		return -errno;
	g.workers = aligned_alloc(64, sizeof(*g.workers) * n_workers);
	if (!g.workers) {
		snprintf(err, errlen, "observability: out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	memset(g.workers, 0, sizeof(*g.workers) * n_workers);
	g.n_workers = n_workers;
	if (getrandom(&g.boot, sizeof(g.boot), GRND_NONBLOCK) != sizeof(g.boot))
		g.boot = (uint32_t)realtime_ns() ^ (uint32_t)getpid();
	for (unsigned int i = 0; i < n_workers; i++) {
		g.workers[i].shard = metrics_shard(g.m, i);
		g.workers[i].rnd = ((uint64_t)g.boot << 32) ^ (i + 1) * 0x9e3779b97f4a7c15ull;
	}
	ret = metrics_collector_add(g.m, collect, NULL);
	if (ret) {
		snprintf(err, errlen, "observability: collector: %s", strerror(-ret));
		goto fail;
	}
	metrics_set(metrics_control_shard(g.m), MF_START_TIME, NULL,
		    realtime_ns() / 1000000000);
	atomic_store(&g.last_reload_ok, true);
	atomic_store(&g.last_success_time, realtime_ns() / 1000000000);
	apply_log_settings(cfg);
	if (cfg->access_log.path[0]) {
		g.log = logwriter_open(cfg->access_log.path, n_workers,
				       (size_t)cfg->access_log.buffer_kb * 1024,
				       err, errlen);
		if (!g.log) {
			ret = -errno;
			goto fail;
		}
	}
	g.cfg = config_get((struct config *)cfg);
	atomic_store(&g_ready, true);
	return 0;
fail:
	logwriter_close(g.log);
	g.log = NULL;
	free(g.workers);
	g.workers = NULL;
	metrics_free(g.m);
	g.m = NULL;
	return ret;
}

int obs_start(void)
{
	return g.log ? logwriter_start(g.log) : 0;
}

void obs_set_xdp(struct xdpctl *x)
{
	pthread_mutex_lock(&g.lock);
	g.xdp = x;
	pthread_mutex_unlock(&g.lock);
}

void obs_config_applied(const struct config *cfg, bool ok)
{
	struct config *old;

	if (!atomic_load(&g_ready))
		return;
	if (!ok || !cfg) {
		atomic_fetch_add(&g.reloads_failed, 1);
		atomic_store(&g.last_reload_ok, false);
		return;
	}
	atomic_fetch_add(&g.reloads_ok, 1);
	atomic_store(&g.last_reload_ok, true);
	atomic_store(&g.last_success_time, realtime_ns() / 1000000000);
	apply_log_settings(cfg);
	if (strcmp(cfg->access_log.path,
		   g.log ? logwriter_path(g.log) : "") != 0)
		pr_warn("reload: logging.access_log.path changed; restart sluiced to apply");
	pthread_mutex_lock(&g.lock);
	old = g.cfg;
	g.cfg = config_get((struct config *)cfg);
	pthread_mutex_unlock(&g.lock);
	if (old)
		config_put(old);
}

void obs_shutdown(void)
{
	if (!atomic_exchange(&g_ready, false))
		return;
	pthread_mutex_lock(&g.lock);
	logwriter_close(g.log);
	g.log = NULL;
	g.xdp = NULL;
	if (g.cfg)
		config_put(g.cfg);
	g.cfg = NULL;
	for (unsigned int i = 0; i < g.n_workers; i++) {
		while (g.workers[i].slabs) {
			struct cap_slab *sl = g.workers[i].slabs;

			g.workers[i].slabs = sl->next;
			free(sl);
		}
	}
	free(g.workers);
	g.workers = NULL;
	g.n_workers = 0;
	metrics_free(g.m);
	g.m = NULL;
	pthread_mutex_unlock(&g.lock);
}

void obs_reopen_logs(void)
{
	if (atomic_load(&g_ready))
		logwriter_reopen(g.log);
}

void obs_set_dns_source(obs_dns_fn fn)
{
	atomic_store(&g.dns, fn);
}

void obs_set_cluster_source(obs_cluster_fn fn)
{
	atomic_store(&g.cluster, fn);
}

void obs_set_escalation_source(obs_escalation_fn fn)
{
	atomic_store(&g.escalation, fn);
}

void obs_ban(enum obs_ban_by by)
{
	if ((unsigned int)by < 2)
		atomic_fetch_add(&g.bans[by], 1);
}

void obs_xdp_reattached(void)
{
	atomic_fetch_add(&g.xdp_reattached, 1);
}

void obs_accept_paused(void)
{
	atomic_fetch_add(&g.accept_pauses, 1);
}

/* ---- worker hooks ----------------------------------------------------------- */

static struct obs_worker *ready_worker(unsigned int i)
{
	if (!atomic_load_explicit(&g_ready, memory_order_acquire) ||
	    i >= g.n_workers)
		return NULL;
	return &g.workers[i];
}

void obs_conn_accepted(unsigned int i)
{
	struct obs_worker *w = ready_worker(i);

	if (w)
		metrics_inc(w->shard, MF_CONNECTIONS_ACCEPTED, NULL, 1);
}

void obs_tls_handshake(unsigned int i, const char *version,
		       const char *cipher, bool resumed)
{
	struct obs_worker *w = ready_worker(i);
	uint32_t l[3];

	if (!w)
		return;
	l[0] = metrics_label_index(g.m, MD_TLS_PROTO, version ? version : "none");
	l[1] = metrics_label_index(g.m, MD_TLS_CIPHER, cipher ? cipher : "none");
	l[2] = version ? METRICS_RESULT_SUCCESS : METRICS_RESULT_FAILURE;
	metrics_inc(w->shard, MF_TLS_HANDSHAKES, l, 1);
	if (version && resumed)
		metrics_inc(w->shard, MF_TLS_RESUMED, l, 1);
}

void obs_tls_client_cert(unsigned int i, const char *result)
{
	struct obs_worker *w = ready_worker(i);
	uint32_t l;

	if (!w)
		return;
	l = metrics_label_index(g.m, MD_TLS_VERIFY, result);
	metrics_inc(w->shard, MF_TLS_CLIENT_CERTS, &l, 1);
}

void obs_tls_answer_flood(unsigned int i)
{
	struct obs_worker *w = ready_worker(i);

	if (w)
		metrics_inc(w->shard, MF_TLS_ANSWER_FLOODS, NULL, 1);
}

void obs_tls_buffers_kept(unsigned int i, uint32_t n)
{
	struct obs_worker *w = ready_worker(i);

	if (w)
		metrics_set(w->shard, MF_TLS_BUFFERS_KEPT, NULL, n);
}

void obs_upstream_tls_handshake(unsigned int i, const char *service,
				const char *result, bool resumed)
{
	struct obs_worker *w = ready_worker(i);
	uint32_t l[3];

	if (!w)
		return;
	l[0] = metrics_label_index(g.m, MD_SERVICE, service);
	l[1] = metrics_label_index(g.m, MD_UPTLS_RESULT, result);
	l[2] = metrics_label_index(g.m, MD_UPTLS_RESUMED,
				   resumed ? "true" : "false");
	metrics_inc(w->shard, MF_UPSTREAM_TLS_HANDSHAKES, l, 1);
}

void obs_tls_cert_expiry(const char *listener, const char *file,
			 int64_t not_after)
{
	uint32_t l[2];

	if (!g.m)
		return;
	l[0] = metrics_label_index(g.m, MD_LISTENER, listener);
	l[1] = metrics_label_index(g.m, MD_CERT_FILE, file);
	metrics_set(metrics_control_shard(g.m), MF_TLS_CERT_NOT_AFTER, l,
		    not_after);
}

void obs_recv_buffers_exhausted(unsigned int i)
{
	struct obs_worker *w = ready_worker(i);

	if (w)
		metrics_inc(w->shard, MF_RECV_BUFFERS_EXHAUSTED, NULL, 1);
}

void obs_h2_event(unsigned int i, int what, const char *reason)
{
	struct obs_worker *w = ready_worker(i);
	uint32_t l[1];

	if (!w)
		return;
	if (what == OBS_H2_CONN) {
		metrics_inc(w->shard, MF_H2_CONNECTIONS, NULL, 1);
	} else if (what == OBS_H2_STREAM) {
		metrics_inc(w->shard, MF_H2_STREAMS, NULL, 1);
	} else if (what == OBS_H2_BRIDGE_NEW) {
		metrics_inc(w->shard, MF_H2_BRIDGES_OPENED, NULL, 1);
	} else if (what == OBS_H2_BRIDGE_REUSED) {
		metrics_inc(w->shard, MF_H2_BRIDGES_REUSED, NULL, 1);
	} else if (what == OBS_H2_OUTPUT_HELD) {
		metrics_inc(w->shard, MF_H2_OUTPUT_HELD, NULL, 1);
	} else {
		l[0] = metrics_label_index(g.m, MD_H2_REASON, reason);
		metrics_inc(w->shard, MF_H2_ABUSE, l, 1);
	}
}

void obs_spliced(unsigned int i, uint64_t bytes)
{
	struct obs_worker *w = ready_worker(i);

	if (w && bytes)
		metrics_inc(w->shard, MF_SPLICED_BYTES, NULL, bytes);
}

void obs_conn_active(unsigned int i, uint32_t n)
{
	struct obs_worker *w = ready_worker(i);

	if (w)
		metrics_set(w->shard, MF_CONNECTIONS_ACTIVE, NULL, n);
}

/* metrics_label_index() through w's memo */
static uint32_t label_memo(struct obs_worker *w, enum metrics_dim_id dim,
			   const char *value)
{
	uintptr_t h = ((uintptr_t)value >> 3) ^ ((uintptr_t)value >> 9) ^
		      (uintptr_t)dim;
	struct label_memo *e = &w->memo[h & (LABEL_MEMO - 1)];
	const char *v;

	if (!*value)	/* the fallback; nothing to remember */
		return metrics_label_index(g.m, dim, value);
	if (e->key == value && e->dim == (uint32_t)dim) {
		v = metrics_dim_value(g.m, (int)dim, e->idx);
		if (v && strcmp(v, value) == 0)
			return e->idx;
	}
	e->key = value;
	e->dim = (uint32_t)dim;
	e->idx = metrics_label_index(g.m, dim, value);
	return e->idx;
}

void obs_upstream_failed(unsigned int i, const char *service,
			 const char *target)
{
	struct obs_worker *w = ready_worker(i);
	uint32_t u[2];

	if (!w || !service || !target)
		return;
	u[0] = metrics_label_index(g.m, MD_SERVICE, service);
	u[1] = metrics_label_index(g.m, MD_TARGET, target);
	up_note(u[1], false);
	metrics_inc(w->shard, MF_UPSTREAM_FAILURES, u, 1);
}

void obs_auth_failure(unsigned int i, const char *route, const char *reason)
{
	struct obs_worker *w = ready_worker(i);
	uint32_t l[2];

	if (!w)
		return;
	l[0] = metrics_route_index(g.m, route);
	l[1] = metrics_label_index(g.m, MD_AUTH_REASON, reason);
	metrics_inc(w->shard, MF_AUTH_FAILURES, l, 1);
}

void obs_ratelimit_rejected(unsigned int i, const char *route)
{
	struct obs_worker *w = ready_worker(i);
	uint32_t r;

	if (!w)
		return;
	r = metrics_route_index(g.m, route);
	metrics_inc(w->shard, MF_RATELIMIT_REJECTIONS, &r, 1);
}

void obs_request_done(unsigned int i, struct obs_request *r)
{
	struct obs_worker *w = ready_worker(i);
	struct accesslog_record *lr = &r->log;
	uint32_t l[3];
	int n;

	if (!w)
		return;
	l[0] = lr->route && *lr->route ? label_memo(w, MD_ROUTE, lr->route)
				       : metrics_route_index(g.m, NULL);
	l[1] = r->method_index >= 0 ? (uint32_t)r->method_index
				   : metrics_method_index(g.m, lr->method,
							  lr->method_len);
	l[2] = metrics_code_index(lr->status);
	metrics_inc(w->shard, MF_HTTP_REQUESTS, l, 1);
	metrics_observe(w->shard, MF_HTTP_REQUEST_DURATION, l,
			(double)(lr->duration_us > 0 ? lr->duration_us : 0) / 1e6);
	if (lr->upstream_us >= 0)
		metrics_observe(w->shard, MF_UPSTREAM_DURATION, l,
				(double)lr->upstream_us / 1e6);
	if (lr->has_grpc_status) {
		/* static strings: the label memo keys on the pointer */
		static const char *const codes[] = {
			"0", "1", "2", "3", "4", "5", "6", "7", "8",
			"9", "10", "11", "12", "13", "14", "15", "16"
		};
		uint32_t gl[2];

		gl[0] = l[0];
		gl[1] = label_memo(w, MD_GRPC_STATUS,
				   lr->grpc_status >= 0 && lr->grpc_status <= 16 ?
					   codes[lr->grpc_status] : "");
		metrics_inc(w->shard, MF_GRPC_RESPONSES, gl, 1);
	}
	metrics_inc(w->shard, MF_HTTP_REQUEST_BYTES, l, lr->bytes_in);
	metrics_inc(w->shard, MF_HTTP_RESPONSE_BYTES, l, lr->bytes_out);
	if (r->upstream_state != OBS_UPSTREAM_NONE && r->service && lr->upstream) {
		uint32_t u[2];

		u[0] = label_memo(w, MD_SERVICE, r->service);
		u[1] = label_memo(w, MD_TARGET, lr->upstream);
		up_note(u[1], r->upstream_state == OBS_UPSTREAM_OK);
		if (r->upstream_state == OBS_UPSTREAM_FAILED)
			metrics_inc(w->shard, MF_UPSTREAM_FAILURES, u, 1);
	}

	if (!g.log || !accesslog_sampled(get_sample(), lr->status,
					 accesslog_rand(&w->rnd)))
		return;
	if (!lr->request_id) {
		snprintf(w->rid, sizeof(w->rid), "%08x-%u-%llu", g.boot, i,
			 (unsigned long long)++w->seq);
		lr->request_id = w->rid;
	}
	if (!lr->start_ns)
		lr->start_ns = realtime_ns() - (lr->duration_us > 0 ?
						lr->duration_us * 1000 : 0);
	n = accesslog_format(atomic_load_explicit(&g.log_format,
						  memory_order_relaxed),
			     lr, w->line, sizeof(w->line));
	if (n > 0)
		logwriter_submit(g.log, i, w->line, (size_t)n);
}

/* ---- exchanges (proxy hooks) ------------------------------------------------ */

uint64_t obs_now_ns(void)
{
	/* a worker's: once per batch of completions */
	return clock_batch_ns();
}

static uint16_t copy_cut(char *dst, size_t cap, const char *src, size_t len)
{
	if (!src)
		return 0;
	if (len > cap)
		len = cap;
	memcpy(dst, src, len);
	return (uint16_t)len;
}

static void cap_put(struct obs_worker *w, struct obs_capture *c)
{
	if (!c || !w)
		return;
	c->next = w->free_caps;
	w->free_caps = c;
}

static struct obs_capture *cap_get(struct obs_worker *w)
{
	struct obs_capture *c = w->free_caps;

	if (!c) {
		struct cap_slab *sl = malloc(sizeof(*sl));

		if (!sl)
			return NULL;
		sl->next = w->slabs;
		w->slabs = sl;
		for (int k = CAP_SLAB - 1; k >= 0; k--)
			cap_put(w, &sl->caps[k]);
		c = w->free_caps;
	}
	w->free_caps = c->next;
	return c;
}

void obs_exchange_begin(unsigned int i, struct obs_exchange *e,
			const struct http_request *r, size_t head_len)
{
	struct obs_worker *w = ready_worker(i);
	struct obs_capture *c;

	if (!w)
		return;
	if (!e->t_start_ns)
		e->t_start_ns = obs_now_ns();
	e->begun = true;
	e->bytes_in = head_len;
	e->method = (uint16_t)metrics_method_index(g.m, r->method, r->method_len);
	e->http_minor = (int8_t)r->minor_version;
	if (!g.log)
		return;
	c = cap_get(w);
	if (!c)
		return;	/* logged without the request fields */
	c->method_len = copy_cut(c->method, CAP_METHOD, r->method, r->method_len);
	c->path_len = copy_cut(c->path, CAP_PATH, r->path, r->path_len);
	c->host_len = copy_cut(c->host, CAP_HOST, r->host, r->host_len);
	c->ua_len = c->referer_len = 0;
	for (size_t h = 0; h < r->num_headers; h++) {
		const struct http_header *hd = &r->headers[h];

		if (http_token_eq(hd->name, hd->name_len, "user-agent"))
			c->ua_len = copy_cut(c->ua, CAP_UA, hd->value,
					     hd->value_len);
		else if (http_token_eq(hd->name, hd->name_len, "referer"))
			c->referer_len = copy_cut(c->referer, CAP_REFERER,
						  hd->value, hd->value_len);
	}
	if (e->cap)	/* an exchange that was never ended */
		cap_put(w, e->cap);
	e->cap = c;
}

/* A present-but-empty field stays "" (not absent): point at a literal. */
static const char *field(const char *s, uint16_t len)
{
	return len ? s : "";
}

void obs_exchange_end(unsigned int i, struct obs_exchange *e,
		      const struct obs_end *end)
{
	struct obs_worker *w = ready_worker(i);
	struct obs_request r = { 0 };
	struct accesslog_record *lr = &r.log;
	struct obs_capture *c = e->cap;
	uint64_t now;

	if (!w || !e->t_start_ns) {
		cap_put(w, c);
		memset(e, 0, sizeof(*e));
		return;
	}
	now = obs_now_ns();
	lr->client = end->client;
	lr->client_port = end->client_port;
	lr->request_id = end->request_id;
	lr->route = end->route;
	lr->upstream = end->upstream;
	lr->upstream_attempts = end->upstream_attempts;
	lr->has_grpc_status = end->grpc_status >= 0;
	lr->grpc_status = end->grpc_status;
	lr->status = end->status ? end->status : e->status;
	lr->error = end->error;
	lr->tls = end->tls;
	lr->sni = end->sni;
	lr->http_minor = e->begun ? e->http_minor : -1;
	lr->bytes_in = e->bytes_in + end->extra_bytes_in;
	lr->bytes_out = e->bytes_out + end->extra_bytes_out;
	lr->duration_us = (int64_t)(now - e->t_start_ns) / 1000;
	lr->upstream_us = e->t_up_ns && e->t_resp_ns >= e->t_up_ns ?
				  (int64_t)(e->t_resp_ns - e->t_up_ns) / 1000 : -1;
	if (c) {
		lr->method = c->method;
		lr->method_len = c->method_len;
		lr->path = field(c->path, c->path_len);
		lr->path_len = c->path_len;
		lr->host = c->host_len ? c->host : NULL;
		lr->host_len = c->host_len;
		lr->user_agent = c->ua_len ? c->ua : NULL;
		lr->user_agent_len = c->ua_len;
		lr->referer = c->referer_len ? c->referer : NULL;
		lr->referer_len = c->referer_len;
	}
	r.service = end->service;
	/* a connect failure was reported by obs_upstream_failed(); here only
	 * what went wrong after the request was sent */
	if (end->upstream && e->t_resp_ns)
		r.upstream_state = OBS_UPSTREAM_OK;
	else if (end->upstream && e->t_up_ns && lr->status >= 500)
		r.upstream_state = OBS_UPSTREAM_FAILED;
	r.method_index = e->begun ? e->method : -1;
	obs_request_done(i, &r);
	cap_put(w, c);
	memset(e, 0, sizeof(*e));
}
