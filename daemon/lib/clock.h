/* SPDX-License-Identifier: MIT */
/*
 * Monotonic clock in milliseconds, and an event loop's cached clock.
 *
 * A worker reads the clock at most once per batch of completions (as NGINX
 * caches its time once per event-loop turn): clock_batch_begin() at the top
 * of each turn marks the cached values stale, the first clock_batch_*()
 * call of the turn reads the clock. Threads that never call
 * clock_batch_begin() get a fresh reading on every call.
 */
#ifndef SLUICE_UTIL_CLOCK_H
#define SLUICE_UTIL_CLOCK_H

#include <stdint.h>

uint64_t clock_now_ms(void);

/* A new turn of this thread's event loop: the cached values go stale. */
void clock_batch_begin(void);
/* CLOCK_MONOTONIC in ns, read once per turn. */
uint64_t clock_batch_ns(void);
/* CLOCK_REALTIME in seconds, read once per turn. */
int64_t clock_batch_wall_s(void);

#endif
