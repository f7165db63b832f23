/* SPDX-License-Identifier: MIT */
/*
 * Observability wiring: the process's metrics registry (metrics_catalog.h)
 * and access log writer (logwriter.h), with one small entry point per event.
 * Workers call the obs_*() hooks with their worker index; each touches only
 * that worker's metrics shard and log ring, so the hooks take no locks and
 * never block. Values that live elsewhere (XDP counters, reload results,
 * log writer counts, configured upstream targets, the request gate's
 * escalation counters) are pulled in at scrape time by a collector, under
 * a mutex that also serialises scrapes.
 *
 * obs_render() produces the Prometheus text; the admin API (control/)
 * serves it as GET /metrics. Counters kept by a layer above this one reach
 * the scrape through a source the wiring sets (obs_set_escalation_source),
 * so nothing here reaches up.
 *
 * Every hook is a no-op before obs_init() and after obs_shutdown(), so
 * tools and tests that do not set it up need not care.
 */
#ifndef SLUICE_OBS_H
#define SLUICE_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/accesslog.h"

struct config;
struct http_request;
struct metrics;
struct obs_capture;
struct xdpctl;

/*
 * Per-exchange state the proxy keeps inside its connection (conn.h) and
 * updates with one-line hooks; obs_exchange_end() reports it once and
 * zeroes it. All zero: no request in progress.
 */
struct obs_exchange {
	uint64_t t_start_ns;		/* first byte of the request head seen */
	uint64_t t_up_ns;		/* request head handed to the upstream */
	uint64_t t_resp_ns;		/* final response head received */
	uint64_t bytes_in, bytes_out;
	struct obs_capture *cap;	/* request fields for the access log */
	int status;			/* final response status sent */
	uint16_t method;		/* metrics label index */
	int8_t http_minor;
	bool begun;			/* obs_exchange_begin() ran */
};

/* Monotonic clock for the hooks (ns). */
uint64_t obs_now_ns(void);

/* Request head parsed (head_len bytes): capture method, path, host, user
 * agent and referer for the access log (copied, bounded, from a per-worker
 * pool) and the method's label. */
void obs_exchange_begin(unsigned int worker, struct obs_exchange *e,
			const struct http_request *r, size_t head_len);

/* What the proxy knows when the exchange ends. */
struct obs_end {
	const char *client;
	uint16_t client_port;
	const char *route;		/* NULL: no route matched / none yet */
	const char *service;
	const char *upstream;		/* target text, NULL: none picked */
	int status;			/* 0: e->status (the response sent) */
	const char *error;		/* gateway error code or NULL */
	uint64_t extra_bytes_in;	/* unparsed request bytes (errors) */
	uint64_t extra_bytes_out;	/* the gateway's error response */
	const char *request_id;		/* X-Request-Id (NULL: obs makes one) */
	const char *tls;		/* TLS version ("TLSv1.3"); NULL: plain */
	const char *sni;		/* TLS server name; NULL: none */
	unsigned int upstream_attempts;	/* targets tried */
	int grpc_status;		/* from an HTTP/2 upstream; -1: none */
};

/* Report the exchange (metrics + access log) and reset e. No-op when e
 * holds no request (t_start_ns == 0). */
void obs_exchange_end(unsigned int worker, struct obs_exchange *e,
		      const struct obs_end *end);

/* A connect attempt to a target failed (before any retry elsewhere). */
void obs_upstream_failed(unsigned int worker, const char *service,
			 const char *target);

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
		OBS_UPSTREAM_FAILED,	/* reset / bad response / timeout */
	} upstream_state;
	int method_index;		/* >= 0: metrics label; -1: from log.method */
};

/*
 * Build the registry (buckets from cfg->metrics) and open the access log
 * (cfg->access_log) with one ring per worker. 0 or -errno with a message
 * in err. Call before the workers start.
 */
int obs_init(const struct config *cfg, unsigned int n_workers, char *err,
	     size_t errlen);

/* Start the access-log writer thread (after obs_init(), after the privilege
 * drop, before the workers start). 0 or -errno. */
int obs_start(void);

/* XDP handle whose counters the scrape reads (NULL: none). Takes the scrape
 * lock, so it is safe against a scrape in progress. */
void obs_set_xdp(struct xdpctl *x);

/* A configuration load finished: ok with the new snapshot (reloadable
 * access log settings apply; its upstream targets are reported), or
 * !ok (cfg NULL) when a reload was refused. Counts reloads. */
void obs_config_applied(const struct config *cfg, bool ok);

/* Worker hooks. */
void obs_conn_accepted(unsigned int worker);
/* A TLS handshake ended: version and cipher NULL when it failed. */
void obs_tls_handshake(unsigned int worker, const char *version,
		       const char *cipher, bool resumed);
/* A client certificate verification result: "ok", "failed", "none". */
void obs_tls_client_cert(unsigned int worker, const char *result);
/* A TLS connection closed: its peer made OpenSSL queue too many answers
 * (KeyUpdate, renegotiation refusals) without our sending anything. */
void obs_tls_answer_flood(unsigned int worker);
/* TLS client connections keeping record buffers, as of the last tick */
void obs_tls_buffers_kept(unsigned int worker, uint32_t n);
/* A TLS handshake with an upstream ended: result "ok", "verify_failed"
 * or "failed"; resumed: a cached session was accepted. */
void obs_upstream_tls_handshake(unsigned int worker, const char *service,
				const char *result, bool resumed);
/* A served certificate's expiry (control thread, on each load). */
void obs_tls_cert_expiry(const char *listener, const char *file,
			 int64_t not_after);
/* A receive found every provided buffer of its class in use (ENOBUFS)
 * and is posted again. */
void obs_recv_buffers_exhausted(unsigned int worker);
/* HTTP/2: a connection, a stream, a bridge opened or reused, output held
 * back to coalesce, or abuse seen (reason: a static label, docs/HTTP2.md). */
enum {
	OBS_H2_CONN,
	OBS_H2_STREAM,
	OBS_H2_ABUSE,
	OBS_H2_BRIDGE_NEW,
	OBS_H2_BRIDGE_REUSED,
	OBS_H2_OUTPUT_HELD,
};
void obs_h2_event(unsigned int worker, int what, const char *reason);
/* Response body bytes a finished (or torn down) splice moved. */
void obs_spliced(unsigned int worker, uint64_t bytes);
/* The worker's open client connections now (sampled on its timer). */
void obs_conn_active(unsigned int worker, uint32_t n);
/* A finished request described directly (obs_exchange_end builds one). */
void obs_request_done(unsigned int worker, struct obs_request *r);
/* For the auth and rate-limit layers: one call where a request is refused
 * (the request's own completion is still reported by obs_request_done). */
void obs_auth_failure(unsigned int worker, const char *route,
		      const char *reason);
void obs_ratelimit_rejected(unsigned int worker, const char *route);
/* A ban was put into the XDP ban map (any thread). sluice_xdp_active_bans
 * itself is counted from the ban maps at every scrape. */
enum obs_ban_by {
	OBS_BAN_SLUICED = 0,	/* L7 escalation */
	OBS_BAN_OPERATOR = 1,	/* admin API: sluicectl ban */
};
void obs_ban(enum obs_ban_by by);
/* The XDP program was attached again after it was removed behind our back. */
void obs_xdp_reattached(void);
/* A worker paused accepting (accept failed: EMFILE, ENFILE, ...). */
void obs_accept_paused(void);

/*
 * Escalation counters since start, as the request gate keeps them:
 * sluice_escalation_bans_total{where="xdp"|"l7"} and
 * sluice_l7_banned_requests_total. The scrape reads them through fn (set
 * by the control thread; NULL: reported as 0).
 */
struct obs_escalation_counts {
	uint64_t bans_xdp;		/* escalations banned in XDP */
	uint64_t bans_l7;		/* escalations banned in L7 */
	uint64_t banned;		/* requests refused by an L7 ban */
};
typedef void (*obs_escalation_fn)(struct obs_escalation_counts *out);
void obs_set_escalation_source(obs_escalation_fn fn);

/* The cluster module's state (sluice_cluster_*), read at each scrape
 * through fn (set by the control thread; NULL: no cluster, no series
 * values but 0). */
struct obs_cluster_counts {
	bool enabled, up;
	uint64_t nodes, connects, published, applied, queued;
	uint64_t lag_ms, sync_age_ms;
};
typedef void (*obs_cluster_fn)(struct obs_cluster_counts *out);
void obs_set_cluster_source(obs_cluster_fn fn);

/* DNS-named targets (control/dns.c; sluice_dns_*), read at each scrape:
 * fn calls row() once per name it resolves, with its resolutions by
 * result (indexed by enum obs_dns_result) and its addresses now. */
enum obs_dns_result {
	OBS_DNS_SUCCESS = 0,
	OBS_DNS_NXDOMAIN,		/* the name does not exist */
	OBS_DNS_NODATA,			/* it has no A or AAAA record */
	OBS_DNS_SERVFAIL,
	OBS_DNS_REFUSED,		/* refused, or the server unreachable */
	OBS_DNS_TIMEOUT,
	OBS_DNS_ERROR,			/* anything else */
	OBS_DNS__COUNT
};
extern const char *const obs_dns_results[OBS_DNS__COUNT];
typedef void (*obs_dns_row_fn)(void *ctx, const char *service,
			       const char *name, const uint64_t *results,
			       uint64_t addresses);
typedef void (*obs_dns_fn)(obs_dns_row_fn row, void *ctx);
void obs_set_dns_source(obs_dns_fn fn);

/* SIGUSR1: reopen the access log file (logrotate). */
void obs_reopen_logs(void);

/* The scrape: Prometheus text, malloc'd (caller frees). 0 or -errno
 * (-ENODEV before obs_init()). */
int obs_render(char **out, size_t *len);

/* Flush and close the access log, free the registry. Workers must have
 * stopped. */
void obs_shutdown(void);

/*
 * Passive health of an upstream target, as sluice_upstream_up reports it:
 * "up" or "down" by the most recent attempt any worker made, "unknown"
 * before the first attempt (or without metrics). For the admin API.
 */
const char *obs_upstream_health(const char *target);

/* How long ago (ns) the last successful and the last failed attempt on
 * target were; -1 for never (or without metrics). */
void obs_upstream_ages(const char *target, int64_t *ok_ago, int64_t *fail_ago);

#endif
