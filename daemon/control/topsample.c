// SPDX-License-Identifier: MIT
/* The top-talkers sampler (topsample.h). */
#include "control/topsample.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/log.h"
#include "policy/talkers.h"
#include "xdp/xdpctl.h"

#define NS_PER_S 1000000000ull

struct topsample {
	struct xdpctl_events *ev;	/* NULL once stopped */
	pthread_t thread;
	bool started;			/* the control thread's own */
	atomic_bool running;		/* for readers: the thread reads */
	atomic_bool stop;
	atomic_uint sample_every;	/* as last read from the settings map */
	_Atomic uint64_t started_ns;	/* when the thread began reading */
	pthread_mutex_t lock;		/* guards w */
	struct talkers_window w;
};

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * NS_PER_S + (uint64_t)t.tv_nsec;
}

/* One sampled drop: count it in the table of its second. */
static void on_event(void *arg, const struct sluice_event *ev)
{
	struct topsample *ts = arg;
	uint32_t every = atomic_load_explicit(&ts->sample_every,
					      memory_order_relaxed);
	uint8_t addr[16] = { 0 };
	uint8_t family;

	if (ev->family == 4)
		family = AF_INET;
	else if (ev->family == 6)
		family = AF_INET6;
	else
		return;
	memcpy(addr, ev->addr, family == AF_INET ? 4 : 16);
	pthread_mutex_lock(&ts->lock);
	talkers_window_add(&ts->w, ev->ts_ns / NS_PER_S, family, addr,
			   ev->reason, every ? every : 1, ev->len);
	pthread_mutex_unlock(&ts->lock);
}

static void *sample_main(void *arg)
{
	struct topsample *ts = arg;
	bool warned = false;

	while (!atomic_load(&ts->stop)) {
		long every = xdpctl_events_sample_every(ts->ev);
		int r;

		if (every >= 0)
			atomic_store(&ts->sample_every, (unsigned int)every);
		r = xdpctl_events_poll(ts->ev, TOPSAMPLE_POLL_MS);
		if (r < 0) {
			struct timespec pause = {
				.tv_nsec = TOPSAMPLE_POLL_MS * 1000000l
			};

			if (!warned)
				pr_warn("top sampler: reading the ring: %s",
					strerror(-r));
			warned = true;
			nanosleep(&pause, NULL);	/* no busy loop */
		}
	}
	return NULL;
}

struct topsample *topsample_new(const struct xdpctl *x)
{
	struct topsample *ts = calloc(1, sizeof(*ts));
	uint8_t seed[16];
	int err;

	if (!ts)
		return NULL;
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		err = -errno;
		goto err_free;
	}
	err = talkers_window_init(&ts->w, TOPSAMPLE_MAX_S + 2, TOPSAMPLE_CAP,
				  seed);
	if (err)
		goto err_free;
	ts->ev = xdpctl_events_open(x, on_event, ts);
	if (!ts->ev) {
		err = -errno;
		goto err_window;
	}
	pthread_mutex_init(&ts->lock, NULL);
	return ts;

err_window:
	talkers_window_free(&ts->w);
err_free:
	free(ts);
	errno = -err;
	return NULL;
}

int topsample_start(struct topsample *ts)
{
	int ret;

	if (!ts || ts->started || !ts->ev)
		return -EINVAL;
	ts->started_ns = mono_ns();
	ret = -pthread_create(&ts->thread, NULL, sample_main, ts);
	if (!ret) {
		ts->started = true;
		atomic_store(&ts->running, true);
	}
	return ret;
}

void topsample_stop(struct topsample *ts)
{
	if (!ts)
		return;
	atomic_store(&ts->running, false);
	if (ts->started) {
		atomic_store(&ts->stop, true);
		pthread_join(ts->thread, NULL);
		ts->started = false;
	}
	xdpctl_events_close(ts->ev);
	ts->ev = NULL;
}

void topsample_free(struct topsample *ts)
{
	if (!ts)
		return;
	topsample_stop(ts);
	pthread_mutex_destroy(&ts->lock);
	talkers_window_free(&ts->w);
	free(ts);
}

int topsample_read(struct topsample *ts, unsigned int seconds,
		   struct topsample_view *v)
{
	size_t max = ((size_t)seconds + 1) * TOPSAMPLE_CAP;
	uint64_t now, from, began;

	memset(v, 0, sizeof(*v));
	if (!seconds || seconds > TOPSAMPLE_MAX_S)
		return -EINVAL;
	v->e = malloc(max * sizeof(*v->e));
	if (!v->e)
		return -ENOMEM;
	now = mono_ns();
	pthread_mutex_lock(&ts->lock);
	v->n = talkers_window_copy(&ts->w, now / NS_PER_S, seconds, v->e, max,
				   &v->samples);
	v->evicted = talkers_window_evicted(&ts->w, now / NS_PER_S, seconds);
	pthread_mutex_unlock(&ts->lock);
	v->n = talkers_merge(v->e, v->n);
	v->sample_every = atomic_load(&ts->sample_every);
	v->running = atomic_load(&ts->running);
	/* the window: from the start of its oldest second, or from when the
	 * sampler began if that is later */
	from = now / NS_PER_S > seconds ? (now / NS_PER_S - seconds) * NS_PER_S
					: 0;
	began = atomic_load(&ts->started_ns);
	if (began > from)
		from = began;
	v->window_ns = now > from ? now - from : 1;
	return 0;
}

void topsample_view_free(struct topsample_view *v)
{
	free(v->e);
	v->e = NULL;
	v->n = 0;
}
