/* SPDX-License-Identifier: MIT */
/*
 * Observability wiring: the process's metrics registry (metrics_catalog.h)
 * and access log writer (logwriter.h), with one small entry point per event.
 * Workers call the obs_*() hooks with their worker index; each touches only
 * that worker's metrics shard and log ring, so the hooks take no locks and
 * never block. Values that live elsewhere (XDP counters, reload results,
 * log writer counts, configured upstream targets) are pulled in at scrape
 * time by a collector, under a mutex that also serialises scrapes.
 *
 * Serves GET /metrics through the admin server's registry.
 *
 * Every hook is a no-op before obs_init() and after obs_shutdown(), so
 * tools and tests that do not set it up need not care.
 */
#ifndef SLUICE_OBS_H
#define SLUICE_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accesslog.h"

struct config;
struct metrics;
struct xdpctl;

/* One finished request (answered, rejected, or abandoned by the client). */
struct obs_request {
	/* The access log record. request_id NULL: obs makes one. Times:
	 * duration_us and upstream_us (-1: no upstream response). */
	struct accesslog_record log;
	const char *service;		/* service name, NULL: none chosen */
	/* outcome of the upstream attempt for sluice_upstream_up */
	enum {
		OBS_UPSTREAM_NONE = 0,	/* no upstream involved */
		OBS_UPSTREAM_OK,	/* a response head came back */
		OBS_UPSTREAM_FAILED,	/* connect failed / reset / bad response */
	} upstream_state;
};

/*
 * Build the registry (buckets from cfg->metrics), open the access log
 * (cfg->access_log) with one ring per worker, and register GET /metrics
 * with the admin server when cfg->metrics.enabled. 0 or -errno with a
 * message in err. Call before the workers start.
 */
int obs_init(const struct config *cfg, unsigned int n_workers, char *err,
	     size_t errlen);

/* XDP handle whose counters the scrape reads (NULL: none). Takes the scrape
 * lock, so it is safe against a scrape in progress. */
void obs_set_xdp(struct xdpctl *x);

/* A configuration load finished: ok with the new snapshot (reloadable
 * access log settings apply; its upstream targets are reported), or
 * !ok (cfg NULL) when a reload was refused. Counts reloads. */
void obs_config_applied(const struct config *cfg, bool ok);

/* Worker hooks. */
void obs_conn_open(unsigned int worker);
void obs_conn_close(unsigned int worker);
void obs_request_done(unsigned int worker, struct obs_request *r);
/* For the auth and rate-limit layers: one call where a request is refused
 * (the request's own completion is still reported by obs_request_done). */
void obs_auth_failure(unsigned int worker, const char *route,
		      const char *reason);
void obs_ratelimit_rejected(unsigned int worker, const char *route);
/* For the ban layer (any thread): the number of active bans now. */
void obs_set_active_bans(uint64_t n);

/* SIGUSR1: reopen the access log file (logrotate). */
void obs_reopen_logs(void);

/* The scrape: Prometheus text, malloc'd (caller frees). 0 or -errno. */
int obs_render(char **out, size_t *len);

/* The registry (NULL before obs_init). */
struct metrics *obs_metrics(void);

/* Flush and close the access log, free the registry. Workers must have
 * stopped. */
void obs_shutdown(void);

#endif
