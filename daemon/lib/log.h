/* SPDX-License-Identifier: MIT */
/* Logging: one sink (stderr), levels, printf-checked, level tested first. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

extern enum log_level log_current_level;

void log_set_level(enum log_level lvl);
/* Parse "error|warn|info|debug"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
void log_printf(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vprintf(enum log_level lvl, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* (xdpctl_init_logging() routes libbpf/libxdp output here, a level quieter.) */

#define pr_at(lvl, ...)                                                        \
	do {                                                                   \
		if ((lvl) <= log_current_level)                                \
			log_printf((lvl), __VA_ARGS__);                        \
	} while (0)
#define pr_err(...)   pr_at(LOG_LVL_ERROR, __VA_ARGS__)
#define pr_warn(...)  pr_at(LOG_LVL_WARN, __VA_ARGS__)
#define pr_info(...)  pr_at(LOG_LVL_INFO, __VA_ARGS__)
#define pr_debug(...) pr_at(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
