/* SPDX-License-Identifier: MIT */
/*
 * Inside the cluster module (cluster.c: connections, limit sync, heartbeat,
 * start/stop/status; cluster_bans.c: ban queue, publishing and the stream
 * reader). One state, guarded by cl.lock where noted.
 */
#ifndef SLUICE_CLUSTER_INT_H
#define SLUICE_CLUSTER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"

#define NODE_TTL_MS	3000		/* a node is live this long after a beat */
#define BEAT_MS		1000
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define STREAM_MAXLEN	10000		/* entries kept, about (MAXLEN ~) */
#define QUEUE_MAX	4096		/* bans waiting for Redis */
#define SYNC_BATCH	1024		/* keys per table per reconcile */
#define XREAD_BLOCK_MS	1000
#define MAX_NODES	64

struct ban_msg {
	bool ban;
	char cidr[64];
	uint64_t seconds;
	char by[12];
	uint64_t at_ms;			/* when it was decided (wall) */
};

struct cluster_state {
	bool enabled;
	struct control *ctl;
	struct config_cluster cfg;	/* copy: the section is not reloadable */
	char node[64];
	char password[256];
	struct xdpctl_live *live;	/* pinned ban maps (unbans) */
	pthread_t sync_tid, tail_tid;
	bool sync_started, tail_started;
	atomic_bool stop;

	pthread_mutex_t lock;		/* guards everything below */
	pthread_cond_t wake;		/* a ban queued: publish it now */
	struct ban_msg *queue;		/* ring of QUEUE_MAX */
	size_t q_head, q_len;
	uint64_t q_dropped;
	char nodes[MAX_NODES][64];	/* live, sorted */
	unsigned int n_nodes, rank;
	bool up_sync, up_tail;
	char last_error[128];
	char run_id[48];		/* of the Redis the tail thread reads */
	char last_id[48];		/* last stream ID applied */
	uint64_t reconnects, published, applied, lag_ms, last_sync_ms;
};
/* The one state of the module; "cl" inside it. */
extern struct cluster_state cluster__state;
#define cl cluster__state

uint64_t cluster__wall_ms(void);
uint64_t cluster__mono_ms(void);
/* Sleep up to ms, waking early when stopping. */
void cluster__nap(uint64_t ms);
void cluster__set_error(const char *what, const char *detail);
/* A connection with timeouts and AUTH done, or NULL (cause recorded). */
redisContext *cluster__connect(uint32_t timeout_ms, const char *who);
/* The next pipelined reply, or NULL: the connection is broken. */
redisReply *cluster__reply(redisContext *c);

/* cluster_bans.c: XADD the queued bans (0 or -EIO); the tail thread. */
int cluster__publish_bans(redisContext *c);
void *cluster__tail_main(void *arg);

#endif
