// SPDX-License-Identifier: MIT
#include "lib/clock.h"

#include <stdbool.h>
#include <time.h>

static __thread bool batched;		/* clock_batch_begin() was called */
static __thread bool mono_ok, wall_ok;	/* read in this turn */
static __thread uint64_t mono_ns;
static __thread int64_t wall_s;

uint64_t clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void clock_batch_begin(void)
{
	batched = true;
	mono_ok = wall_ok = false;
}

uint64_t clock_batch_ns(void)
{
	struct timespec ts;

	if (batched && mono_ok)
		return mono_ns;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	mono_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	mono_ok = batched;
	return mono_ns;
}

int64_t clock_batch_wall_s(void)
{
	struct timespec ts;

	if (batched && wall_ok)
		return wall_s;
	clock_gettime(CLOCK_REALTIME, &ts);
	wall_s = (int64_t)ts.tv_sec;
	wall_ok = batched;
	return wall_s;
}
