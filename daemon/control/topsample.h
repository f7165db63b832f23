/* SPDX-License-Identifier: MIT */
/*
 * The daemon's top-talkers sampler: the one consumer of the XDP events ring
 * (sampled drops; xdp.drop_sample) in this process, on a thread of its own.
 * It counts each sampled drop against its source in per-second tables of
 * bounded size (policy/talkers.h: TOPSAMPLE_CAP sources a second, the
 * smallest making room for a new one), keeping the last TOPSAMPLE_MAX_S
 * complete seconds and the current one. GET /top reads them at once, on
 * either admin socket: a reader holds the lock only to copy the tables,
 * and the thread only to count one event, never while it waits.
 *
 * The thread waits on the ring for at most TOPSAMPLE_POLL_MS at a time, so
 * it stops that soon. The ring is read through descriptors of its own
 * (xdpctl_events_open()), which stay valid across reloads and re-attaches
 * (the same map). A successor process (upgrade) reads the same pinned ring:
 * the old process stops its sampler when it hands over, and the new one
 * starts its own only once it has taken over, so at most one reads at a
 * time but for the moments between the two.
 */
#ifndef SLUICE_TOPSAMPLE_H
#define SLUICE_TOPSAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPSAMPLE_MAX_S   10	/* complete seconds kept (and answered) */
#define TOPSAMPLE_CAP     1024	/* sources counted per second, at most */
#define TOPSAMPLE_POLL_MS 100	/* longest wait on the ring */

struct talkers_entry;
struct topsample;
struct xdpctl;

/* Open the ring of x and allocate the tables (before the privilege drop);
 * the thread starts with topsample_start(). NULL + errno on failure. */
struct topsample *topsample_new(const struct xdpctl *x);
/* Start the thread. 0 or -errno. */
int topsample_start(struct topsample *ts);
/* Stop reading the ring (join the thread, close the ring); what was
 * counted stays readable. NULL and a stopped sampler are no-ops. */
void topsample_stop(struct topsample *ts);
/* Stop and free. NULL is a no-op. */
void topsample_free(struct topsample *ts);

struct topsample_view {
	struct talkers_entry *e;	/* heaviest first; malloc'd */
	size_t n;
	uint32_t sample_every;		/* now; 0: sampling off */
	uint64_t samples;		/* sampled drops in the window */
	uint64_t evicted;		/* sources the tables lost meanwhile */
	uint64_t window_ns;		/* the time the window covers */
	bool running;			/* the thread is reading the ring */
};
/* The sources of the last `seconds` complete seconds (1..TOPSAMPLE_MAX_S)
 * and of the current one, merged and sorted. 0 or -errno. */
int topsample_read(struct topsample *ts, unsigned int seconds,
		   struct topsample_view *v);
void topsample_view_free(struct topsample_view *v);

#endif
