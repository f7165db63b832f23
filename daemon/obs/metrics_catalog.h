/* SPDX-License-Identifier: MIT */
/*
 * The Sluice metric catalogue: every label dimension and every series the
 * gateway exports, declared once, here. metrics_catalog_new() builds a
 * registry (metrics.h) in which the id of each family and dimension is its
 * enum value below, so the update sites read
 *
 *	metrics_inc(shard, MF_RATELIMIT_REJECTIONS, (uint32_t[]){ route }, 1);
 *
 * Adding a series is one line in METRICS_FAMILIES (and its update call);
 * adding a label dimension is one line in METRICS_DIMS. Names follow the
 * Prometheus conventions: sluice_ prefix, base units (seconds, bytes),
 * counters end in _total. Label values are bounded: configured names,
 * fixed sets, or a dimension's fallback value -- never raw paths or client
 * addresses. See docs/OBSERVABILITY.md.
 */
#ifndef SLUICE_METRICS_CATALOG_H
#define SLUICE_METRICS_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "obs/metrics.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

/*
 * X(id, label, kind, cap, fallback)
 *   kind DYN: values interned at run time, at most cap of them, then the
 *   fallback; kind FIXED: values listed in metrics_catalog.c.
 */
#define METRICS_DIMS(X)                                                         \
	X(ROUTE, "route", DYN, 1024, "other")    /* route name, "none": unmatched */ \
	X(METHOD, "method", FIXED, 0, "OTHER")   /* GET..TRACE, OTHER */            \
	X(CODE, "code", FIXED, 0, "other")       /* exact if registered, else "5xx" */ \
	X(SERVICE, "service", DYN, 1024, "other")                                \
	X(TARGET, "target", DYN, 4096, "other")  /* a configured target address */ \
	X(AUTH_REASON, "reason", DYN, 32, "other")                               \
	X(XDP_VERDICT, "verdict", DYN, 8, "other")                               \
	X(XDP_REASON, "reason", DYN, 64, "other")                                \
	X(BAN_BY, "by", DYN, 4, "other")        /* sluiced, operator */           \
	X(BAN_WHERE, "where", DYN, 4, "other")  /* xdp, l7 */                     \
	X(RESULT, "result", FIXED, 0, NULL)      /* success, failure */         \
	X(H2_REASON, "reason", DYN, 16, "other") /* HTTP/2 abuse reasons */      \
	X(VERSION, "version", DYN, 4, NULL)                                      \
	X(ABI, "abi", DYN, 4, NULL)                                              \
	X(TLS_PROTO, "tls_version", DYN, 8, "other") /* TLSv1.2, TLSv1.3, none */ \
	X(TLS_CIPHER, "cipher", DYN, 32, "other")                                \
	X(TLS_VERIFY, "result", DYN, 8, "other") /* ok, failed, none */          \
	X(LISTENER, "listener", DYN, 256, "other")                               \
	X(UPTLS_RESULT, "result", DYN, 8, "other") /* ok, verify_failed... */  \
	X(UPTLS_RESUMED, "resumed", DYN, 4, "other") /* true, false */           \
	X(CERT_FILE, "file", DYN, 1024, "other")                                 \
	X(DNS_NAME, "name", DYN, 1024, "other")  /* a DNS-named target */       \
	X(DNS_RESULT, "result", DYN, 16, "other") /* obs_dns_results */        \
	X(GRPC_STATUS, "grpc_status", DYN, 20, "other") /* 0..16 */

/*
 * X(id, type, merge, name, buckets, (dims...), help)
 *   type: COUNTER, GAUGE, HISTOGRAM; merge (gauges): SUM, MIN, MAX;
 *   buckets: NOB, REQ (metrics.request_duration_buckets),
 *   UPS (metrics.upstream_duration_buckets); for a gauge, MILLI: the value
 *   is set in thousandths of the unit its name says (milliseconds for a
 *   _seconds gauge) and scraped as a decimal in that unit.
 */
#define METRICS_FAMILIES(X)                                                     \
	X(HTTP_REQUESTS, COUNTER, SUM, "sluice_http_requests_total", NOB,        \
	  (MD_ROUTE, MD_METHOD, MD_CODE),                                        \
	  "HTTP requests answered, by route, method and status code.")           \
	X(HTTP_REQUEST_DURATION, HISTOGRAM, SUM,                                 \
	  "sluice_http_request_duration_seconds", REQ, (MD_ROUTE),               \
	  "Time from the request's first byte to the response's last byte.")     \
	X(UPSTREAM_DURATION, HISTOGRAM, SUM, "sluice_upstream_duration_seconds", \
	  UPS, (MD_ROUTE),                                                       \
	  "Time from handing the request to an upstream connection to the "      \
	  "response head.")                                                      \
	X(HTTP_REQUEST_BYTES, COUNTER, SUM, "sluice_http_request_bytes_total",   \
	  NOB, (MD_ROUTE), "Bytes received from clients (heads and bodies).")    \
	X(HTTP_RESPONSE_BYTES, COUNTER, SUM, "sluice_http_response_bytes_total", \
	  NOB, (MD_ROUTE), "Bytes sent to clients (heads and bodies).")          \
	X(CONNECTIONS_ACCEPTED, COUNTER, SUM,                                    \
	  "sluice_connections_accepted_total", NOB, (),                          \
	  "Client connections accepted.")                                        \
	X(CONNECTIONS_ACTIVE, GAUGE, SUM, "sluice_connections_active", NOB, (),  \
	  "Client connections open now.")                                        \
	X(RECV_BUFFERS_EXHAUSTED, COUNTER, SUM,                                  \
	  "sluice_receive_buffers_exhausted_total", NOB, (),                     \
	  "Receives that found every receive buffer in use (posted again).")     \
	X(SPLICED_BYTES, COUNTER, SUM, "sluice_spliced_response_bytes_total",    \
	  NOB, (), "Response body bytes moved from upstream to client by the "  \
	  "kernel (splice), never copied through the gateway.")                 \
	X(UPSTREAM_UP, GAUGE, MIN, "sluice_upstream_up", NOB,                    \
	  (MD_SERVICE, MD_TARGET),                                               \
	  "0 if the most recent attempt (by any worker) to reach the target "    \
	  "failed, else 1.")                                                     \
	X(UPSTREAM_FAILURES, COUNTER, SUM,                                       \
	  "sluice_upstream_failures_total", NOB, (MD_SERVICE, MD_TARGET),         \
	  "Failed attempts to reach an upstream target (connect error, reset, "  \
	  "invalid response).")                                                  \
	X(UPSTREAM_HEALTHY, GAUGE, MIN, "sluice_upstream_healthy", NOB,          \
	  (MD_SERVICE, MD_TARGET),                                               \
	  "1 if the target is in rotation (health checks pass, not ejected), "   \
	  "else 0.")                                                             \
	X(UPSTREAM_HEALTH_CHANGES, COUNTER, SUM,                                 \
	  "sluice_upstream_health_changes_total", NOB, (MD_SERVICE, MD_TARGET),  \
	  "Times active health checks took the target out or brought it back.") \
	X(UPSTREAM_EJECTIONS, COUNTER, SUM, "sluice_upstream_ejections_total",   \
	  NOB, (MD_SERVICE, MD_TARGET),                                          \
	  "Times outlier detection ejected the target.")                        \
	X(UPSTREAM_ACTIVE, GAUGE, SUM, "sluice_upstream_active_requests", NOB,   \
	  (MD_SERVICE), "Requests in flight to the service, all workers.")      \
	X(UPSTREAM_PANIC, COUNTER, SUM, "sluice_upstream_panic_total", NOB,      \
	  (MD_SERVICE), "Picks that found every target out and used all of "    \
	  "them (panic mode).")                                                  \
	X(UPSTREAM_RETRIES, COUNTER, SUM, "sluice_upstream_retries_total", NOB,  \
	  (MD_SERVICE), "Requests sent again to another target.")               \
	X(UPSTREAM_RETRY_DENIED, COUNTER, SUM,                                   \
	  "sluice_upstream_retry_budget_exhausted_total", NOB, (MD_SERVICE),     \
	  "Retries not made because the service's retry budget was spent.")     \
	X(UPSTREAM_OVERFLOW, COUNTER, SUM, "sluice_upstream_overflow_total",     \
	  NOB, (MD_SERVICE), "Requests answered 503 at the service's "          \
	  "max_connections or max_pending.")                                     \
	X(DNS_RESOLUTIONS, COUNTER, SUM, "sluice_dns_resolutions_total", NOB,   \
	  (MD_SERVICE, MD_DNS_NAME, MD_DNS_RESULT),                              \
	  "Resolutions of a DNS-named target (name:port as written), by "       \
	  "result: success, nxdomain, nodata, servfail, refused, timeout, "     \
	  "error.")                                                              \
	X(DNS_ADDRESSES, GAUGE, SUM, "sluice_dns_addresses", NOB,                \
	  (MD_SERVICE, MD_DNS_NAME),                                             \
	  "Addresses a DNS-named target has now (the last good answer; 0: "     \
	  "none yet).")                                                          \
	X(UPSTREAM_UNAVAILABLE, COUNTER, SUM,                                    \
	  "sluice_upstream_unavailable_total", NOB, (MD_SERVICE),                \
	  "Requests answered 503 because every target was out and none could "  \
	  "be reached.")                                                         \
	X(AUTH_FAILURES, COUNTER, SUM, "sluice_auth_failures_total", NOB,        \
	  (MD_ROUTE, MD_AUTH_REASON),                                            \
	  "Requests refused by authentication or authorisation, by reason.")     \
	X(RATELIMIT_REJECTIONS, COUNTER, SUM,                                    \
	  "sluice_ratelimit_rejections_total", NOB, (MD_ROUTE),                  \
	  "Requests refused by an L7 rate limit.")                               \
	X(XDP_PACKETS, COUNTER, SUM, "sluice_xdp_packets_total", NOB,            \
	  (MD_XDP_VERDICT, MD_XDP_REASON),                                       \
	  "Packets seen by the XDP program, by verdict and reason.")             \
	X(XDP_BYTES, COUNTER, SUM, "sluice_xdp_bytes_total", NOB,                \
	  (MD_XDP_VERDICT, MD_XDP_REASON),                                       \
	  "Bytes seen by the XDP program, by verdict and reason.")               \
	X(XDP_ACTIVE_BANS, GAUGE, SUM, "sluice_xdp_active_bans", NOB, (),        \
	  "Client addresses banned now.")                                        \
	X(XDP_BANS, COUNTER, SUM, "sluice_xdp_bans_total", NOB, (MD_BAN_BY),     \
	  "Bans put into the XDP ban map, by sluiced (L7 escalation) or by "     \
	  "an operator (admin API).")                                            \
	X(ESCALATION_BANS, COUNTER, SUM, "sluice_escalation_bans_total", NOB,    \
	  (MD_BAN_WHERE), "Escalation bans, by where they are enforced: xdp "   \
	  "(the client is the TCP peer) or l7 (behind a PROXY header or a "     \
	  "trusted X-Forwarded-For, or XDP unavailable).")                      \
	X(XDP_REATTACHED, COUNTER, SUM, "sluice_xdp_reattached_total", NOB, (),  \
	  "Times the XDP program was found detached from an interface (e.g. "   \
	  "ip link set dev X xdp off) and attached again.")                     \
	X(ACCEPT_PAUSES, COUNTER, SUM, "sluice_accept_pauses_total", NOB, (),    \
	  "Times a worker paused accepting because accept failed for lack of "  \
	  "descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM).")           \
	X(L7_BANNED, COUNTER, SUM, "sluice_l7_banned_requests_total", NOB, (),   \
	  "Requests refused (403) because their client is under an L7 ban.")   \
	X(TLS_HANDSHAKES, COUNTER, SUM, "sluice_tls_handshakes_total", NOB,      \
	  (MD_TLS_PROTO, MD_TLS_CIPHER, MD_RESULT),                              \
	  "TLS handshakes ended, by version, cipher and result (a failure has "  \
	  "version and cipher none).")                                           \
	X(TLS_RESUMED, COUNTER, SUM, "sluice_tls_resumed_handshakes_total", NOB, \
	  (MD_TLS_PROTO), "TLS handshakes that resumed a session (ticket or "   \
	  "TLS 1.3 PSK).")                                                       \
	X(TLS_CLIENT_CERTS, COUNTER, SUM,                                        \
	  "sluice_tls_client_certificates_total", NOB, (MD_TLS_VERIFY),          \
	  "Client certificates on listeners with client_ca, by verification "   \
	  "result (ok, failed; none: the client sent none).")                    \
	X(TLS_ANSWER_FLOODS, COUNTER, SUM, "sluice_tls_answer_floods_total",   \
	  NOB, (), "TLS connections closed because the peer (a client, or an "  \
	  "upstream under tls:) made OpenSSL queue over 2 KiB of answers "      \
	  "(KeyUpdate requests, renegotiation attempts) without our sending.") \
	X(TLS_BUFFERS_KEPT, GAUGE, SUM,                                          \
	  "sluice_tls_connections_keeping_buffers", NOB, (),                     \
	  "TLS client connections keeping their record buffers between "        \
	  "records (a response ended on them in the last half second).")       \
	X(UPSTREAM_TLS_HANDSHAKES, COUNTER, SUM,                                 \
	  "sluice_upstream_tls_handshakes_total", NOB,                           \
	  (MD_SERVICE, MD_UPTLS_RESULT, MD_UPTLS_RESUMED),                       \
	  "TLS handshakes with upstream targets (services with tls:), by "      \
	  "service, result (ok, verify_failed, failed) and whether a cached "   \
	  "session was resumed.")                                                \
	X(TLS_CERT_NOT_AFTER, GAUGE, MAX,                                        \
	  "sluice_tls_certificate_not_after_seconds", NOB,                       \
	  (MD_LISTENER, MD_CERT_FILE),                                           \
	  "Unix time a served certificate expires, by listener and file.")      \
	X(CONFIG_RELOADS, COUNTER, SUM, "sluice_config_reloads_total", NOB,      \
	  (MD_RESULT), "Configuration reloads, by result.")                      \
	X(CONFIG_LAST_RELOAD_OK, GAUGE, SUM,                                     \
	  "sluice_config_last_reload_successful", NOB, (),                       \
	  "1 if the last configuration reload succeeded (or none was tried).")   \
	X(CONFIG_LAST_RELOAD_TIME, GAUGE, SUM,                                   \
	  "sluice_config_last_reload_success_timestamp_seconds", NOB, (),        \
	  "Unix time of the last configuration load that succeeded.")            \
	X(ACCESS_LOG_WRITTEN, COUNTER, SUM, "sluice_access_log_lines_total",     \
	  NOB, (), "Access log lines written.")                                  \
	X(ACCESS_LOG_DROPPED, COUNTER, SUM,                                      \
	  "sluice_access_log_dropped_total", NOB, (),                            \
	  "Access log lines dropped because a worker's buffer was full or a "    \
	  "write failed.")                                                       \
	X(METRICS_DROPPED, COUNTER, SUM, "sluice_metrics_dropped_updates_total", \
	  NOB, (), "Metric updates not applied (a series table was full).")     \
	X(H2_CONNECTIONS, COUNTER, SUM, "sluice_h2_connections_total", NOB, (),  \
	  "Client connections that spoke HTTP/2 (h2c or ALPN h2).")             \
	X(H2_STREAMS, COUNTER, SUM, "sluice_h2_streams_total", NOB, (),          \
	  "HTTP/2 streams that became requests.")                               \
	X(H2_BRIDGES_OPENED, COUNTER, SUM, "sluice_h2_bridges_opened_total",    \
	  NOB, (), "HTTP/2 streams that opened a new bridge to the HTTP/1.1 "    \
	  "request path (docs/HTTP2.md).")                                       \
	X(H2_BRIDGES_REUSED, COUNTER, SUM, "sluice_h2_bridges_reused_total",    \
	  NOB, (), "HTTP/2 streams that took a bridge an earlier stream of "     \
	  "their connection parked.")                                            \
	X(H2_OUTPUT_HELD, COUNTER, SUM, "sluice_h2_output_held_total", NOB,     \
	  (), "Times output to an HTTP/2 client was held back to go out "       \
	  "together with more (h2_coalesce_us).")                               \
	X(GRPC_RESPONSES, COUNTER, SUM, "sluice_grpc_responses_total", NOB,      \
	  (MD_ROUTE, MD_GRPC_STATUS),                                            \
	  "Responses of HTTP/2 upstreams (protocol: h2) that carried a "        \
	  "grpc-status, by route and that status (0 OK .. 16).")                \
	X(H2_ABUSE, COUNTER, SUM, "sluice_h2_abuse_total", NOB, (MD_H2_REASON),  \
	  "HTTP/2 connections closed (GOAWAY) for protocol abuse or errors, "  \
	  "by reason (docs/HTTP2.md).")                                         \
	X(CLUSTER_UP, GAUGE, SUM, "sluice_cluster_redis_up", NOB, (),            \
	  "1 while both cluster connections to Redis work (cluster: only).")   \
	X(CLUSTER_NODES, GAUGE, SUM, "sluice_cluster_nodes", NOB, (),            \
	  "Cluster nodes that sent a heartbeat in the last 3 s.")               \
	X(CLUSTER_CONNECTS, COUNTER, SUM, "sluice_cluster_redis_connects_total", \
	  NOB, (), "Connections of the limit sync thread to Redis made.")      \
	X(CLUSTER_BANS_PUBLISHED, COUNTER, SUM,                                  \
	  "sluice_cluster_bans_published_total", NOB, (),                        \
	  "Bans and unbans of this host written to the Redis stream.")          \
	X(CLUSTER_BANS_APPLIED, COUNTER, SUM,                                    \
	  "sluice_cluster_bans_applied_total", NOB, (),                          \
	  "Bans and unbans of other hosts read from the stream and applied.")   \
	X(CLUSTER_BANS_QUEUED, GAUGE, SUM, "sluice_cluster_bans_queued", NOB,    \
	  (), "Bans of this host waiting for Redis.")                           \
	X(CLUSTER_BAN_LAG, GAUGE, SUM, "sluice_cluster_ban_lag_seconds",         \
	  MILLI, (), "Last applied stream entry: from its ID time to now.")     \
	X(CLUSTER_SYNC_AGE, GAUGE, SUM,                                          \
	  "sluice_cluster_limit_sync_age_seconds", MILLI, (),                    \
	  "Since the last cluster limit sync that reached Redis.")             \
	X(START_TIME, GAUGE, SUM, "sluice_start_time_seconds", NOB, (),          \
	  "Unix time sluiced started.")                                          \
	X(BUILD_INFO, GAUGE, SUM, "sluice_build_info", NOB,                      \
	  (MD_VERSION, MD_ABI), "Always 1; labels name the build.")

enum metrics_dim_id {
#define MD_ENUM(id, label, kind, cap, fb) MD_##id,
	METRICS_DIMS(MD_ENUM)
#undef MD_ENUM
	MD__COUNT
};

enum metrics_family_id {
#define MF_ENUM(id, type, merge, name, bk, dims, help) MF_##id,
	METRICS_FAMILIES(MF_ENUM)
#undef MF_ENUM
	MF__COUNT
};

/* Values of fixed dimensions */
enum { METRICS_RESULT_SUCCESS = 0, METRICS_RESULT_FAILURE = 1 };

/* Default histogram buckets (seconds), used when the config names none. */
extern const double metrics_default_buckets[];
extern const size_t metrics_n_default_buckets;

struct metrics_catalog_opts {
	const double *request_buckets;	/* NULL: the default */
	size_t n_request_buckets;
	const double *upstream_buckets;
	size_t n_upstream_buckets;
	uint32_t max_series;		/* per family per shard; 0: default */
};

/*
 * A registry holding every catalogue family, with n_workers worker shards.
 * Interns the "none" route, sets build info and seeds the unlabelled
 * series so that they render from the first scrape. NULL + errno and a
 * message in err (bad buckets: EINVAL).
 */
struct metrics *metrics_catalog_new(unsigned int n_workers,
				    const struct metrics_catalog_opts *o,
				    char *err, size_t errlen);

/* Label index helpers for the hot path (lock-free). */
uint32_t metrics_method_index(const struct metrics *m, const char *method,
			      size_t len);
uint32_t metrics_code_index(int status);
/* The index of route name (NULL or "": "none"); interned on first use. */
uint32_t metrics_route_index(struct metrics *m, const char *route);
/* Index in a dynamic dimension, interning on first use (fallback when
 * full or invalid). */
uint32_t metrics_label_index(struct metrics *m, enum metrics_dim_id dim,
			     const char *value);

#endif
