/* SPDX-License-Identifier: MIT */
/* Monotonic clock in milliseconds. */
#ifndef SLUICE_UTIL_CLOCK_H
#define SLUICE_UTIL_CLOCK_H

#include <stdint.h>

uint64_t clock_now_ms(void);

#endif
