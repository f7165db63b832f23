// SPDX-License-Identifier: MIT
/* Observability wiring: see obs.h. */
#include "obs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "logwriter.h"
#include "metrics.h"
#include "metrics_catalog.h"
#include "xdpctl.h"

struct obs_worker {
	struct metrics_shard *shard;
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
	_Atomic uint64_t active_bans;
};

static struct obs g = { .lock = PTHREAD_MUTEX_INITIALIZER };
static atomic_bool g_ready;

struct metrics *obs_metrics(void)
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
	metrics_set(cs, MF_XDP_ACTIVE_BANS, NULL,
		    (int64_t)atomic_load(&g.active_bans));
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

	/* configured targets count as up until a worker sees them fail
	 * (sluice_upstream_up merges with min) */
	if (g.cfg) {
		for (size_t s = 0; s < g.cfg->n_services; s++) {
			const struct config_service *sv = &g.cfg->services[s];
			uint32_t l[2];

			l[0] = metrics_label_index(m, MD_SERVICE, sv->name);
			for (size_t t = 0; t < sv->n_targets; t++) {
				l[1] = metrics_label_index(m, MD_TARGET,
							   sv->targets[t].text);
				metrics_set(cs, MF_UPSTREAM_UP, l, 1);
			}
		}
	}
}

int obs_render(char **out, size_t *len)
{
	int ret;

	if (!atomic_load(&g_ready))
		return -ENODEV;
	pthread_mutex_lock(&g.lock);
	ret = metrics_render(g.m, out, len);
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

int obs_admin_register(void);

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
	if (cfg->metrics.enabled) {
		ret = obs_admin_register();
		if (ret) {
			snprintf(err, errlen, "observability: registering /metrics: %s",
				 strerror(-ret));
			goto fail;
		}
	}
	atomic_store(&g_ready, true);
	return 0;
fail:
	logwriter_close(g.log);
	g.log = NULL;
	if (g.cfg)
		config_put(g.cfg);
	g.cfg = NULL;
	free(g.workers);
	g.workers = NULL;
	metrics_free(g.m);
	g.m = NULL;
	return ret;
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

void obs_set_active_bans(uint64_t n)
{
	atomic_store(&g.active_bans, n);
}

/* ---- worker hooks ----------------------------------------------------------- */

static struct obs_worker *worker(unsigned int i)
{
	if (!atomic_load_explicit(&g_ready, memory_order_acquire) ||
	    i >= g.n_workers)
		return NULL;
	return &g.workers[i];
}

void obs_conn_open(unsigned int i)
{
	struct obs_worker *w = worker(i);

	if (!w)
		return;
	metrics_inc(w->shard, MF_CONNECTIONS_ACCEPTED, NULL, 1);
	metrics_gauge_add(w->shard, MF_CONNECTIONS_ACTIVE, NULL, 1);
}

void obs_conn_close(unsigned int i)
{
	struct obs_worker *w = worker(i);

	if (w)
		metrics_gauge_add(w->shard, MF_CONNECTIONS_ACTIVE, NULL, -1);
}

void obs_auth_failure(unsigned int i, const char *route, const char *reason)
{
	struct obs_worker *w = worker(i);
	uint32_t l[2];

	if (!w)
		return;
	l[0] = metrics_route_index(g.m, route);
	l[1] = metrics_label_index(g.m, MD_AUTH_REASON, reason);
	metrics_inc(w->shard, MF_AUTH_FAILURES, l, 1);
}

void obs_ratelimit_rejected(unsigned int i, const char *route)
{
	struct obs_worker *w = worker(i);
	uint32_t r;

	if (!w)
		return;
	r = metrics_route_index(g.m, route);
	metrics_inc(w->shard, MF_RATELIMIT_REJECTIONS, &r, 1);
}

void obs_request_done(unsigned int i, struct obs_request *r)
{
	struct obs_worker *w = worker(i);
	struct accesslog_record *lr = &r->log;
	uint32_t l[3];
	int n;

	if (!w)
		return;
	l[0] = metrics_route_index(g.m, lr->route);
	l[1] = metrics_method_index(g.m, lr->method, lr->method_len);
	l[2] = metrics_code_index(lr->status);
	metrics_inc(w->shard, MF_HTTP_REQUESTS, l, 1);
	metrics_observe(w->shard, MF_HTTP_REQUEST_DURATION, l,
			(double)(lr->duration_us > 0 ? lr->duration_us : 0) / 1e6);
	if (lr->upstream_us >= 0)
		metrics_observe(w->shard, MF_UPSTREAM_DURATION, l,
				(double)lr->upstream_us / 1e6);
	metrics_inc(w->shard, MF_HTTP_REQUEST_BYTES, l, lr->bytes_in);
	metrics_inc(w->shard, MF_HTTP_RESPONSE_BYTES, l, lr->bytes_out);
	if (r->upstream_state != OBS_UPSTREAM_NONE && r->service && lr->upstream) {
		uint32_t u[2];

		u[0] = metrics_label_index(g.m, MD_SERVICE, r->service);
		u[1] = metrics_label_index(g.m, MD_TARGET, lr->upstream);
		metrics_set(w->shard, MF_UPSTREAM_UP, u,
			    r->upstream_state == OBS_UPSTREAM_OK);
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
