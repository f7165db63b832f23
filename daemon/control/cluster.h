/* SPDX-License-Identifier: MIT */
/*
 * The cluster module (config "cluster:", docs/CLUSTER.md): several sluiced
 * hosts share their "scope: cluster" limits and their XDP bans through one
 * Redis. The only user of hiredis. All Redis I/O runs on two threads of
 * its own, never on a worker:
 *   - the sync thread: every cluster.sync_ms, writes each active cluster
 *     limit key's count of this host into Redis and reads the cluster's
 *     total back (one Lua call per key, pipelined), which sets the key's
 *     local allowance (policy/cluster_limit.h); once a second a heartbeat
 *     (the live hosts and this one's rank among them); and the bans queued
 *     by cluster_publish_ban(), XADDed to the stream.
 *   - the tail thread: a blocking XREAD on its own connection from the last
 *     stream ID seen, installing other hosts' bans and unbans into this
 *     host's XDP ban maps; at start (and after Redis lost its data) it
 *     loads the live bans from a hash first.
 * Both connect with timeouts and reconnect with back-off; while Redis is
 * down, cluster limits follow cluster.on_redis_down and bans wait in a
 * bounded queue.
 */
#ifndef SLUICE_CLUSTER_H
#define SLUICE_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

struct control;
struct jw;
struct allowlist_entry;

/* Before privileges are dropped: read the password, open the pinned ban
 * maps for unbans. No thread yet, no Redis I/O. 0 or -errno (logged).
 * A no-op when the config has no cluster section. */
int cluster_open(struct control *ctl);
/* Start the threads (after the privilege drop). 0 or -errno. */
int cluster_start(void);
/* Stop the threads and close everything (idempotent). */
void cluster_stop(void);

/* Queue a ban (seconds 0: until unbanned) or an unban decided on this
 * host for the other hosts. by: "sluiced" (escalation) or "operator".
 * Any thread; never blocks on Redis. No-op without a cluster. */
void cluster_publish_ban(const struct allowlist_entry *e, uint64_t seconds,
			 bool ban, const char *by);

/* The state as a JSON object value (for GET /cluster and /status). */
void cluster_status_json(struct jw *w);
/* One line for `sluicectl status` text: "up, 3 nodes, ..." */
void cluster_status_line(char *buf, unsigned long len);

/* Gauges and counters for the metrics (all 0 without a cluster). */
struct cluster_counts {
	bool enabled, up;
	uint64_t nodes;
	uint64_t reconnects;
	uint64_t bans_published, bans_applied, bans_queued;
	uint64_t stream_lag_ms;		/* last applied entry: ID time to now */
	uint64_t sync_age_ms;		/* since the last good limit sync */
};
void cluster_get_counts(struct cluster_counts *out);

#endif
