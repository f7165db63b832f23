// SPDX-License-Identifier: MIT
/*
 * Logging sink: stderr, one line per message: "TIMESTAMP LEVEL message".
 * When stderr is connected to the journal (systemd sets JOURNAL_STREAM to
 * its device:inode), lines carry a "<N>" syslog priority prefix instead of
 * the timestamp (sd-daemon(3)), so journalctl -p filters by level.
 */
#include "lib/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum log_level log_current_level = LOG_LVL_INFO;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level lvl)
{
	log_current_level = lvl;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Is stderr the journal? Decided once (JOURNAL_STREAM does not change). */
static bool to_journal(void)
{
	static int cached = -1;	/* racy but idempotent */
	const char *js;
	unsigned long long dev, ino;
	struct stat st;

	if (cached >= 0)
		return cached;
	js = getenv("JOURNAL_STREAM");
	cached = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		 fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
		 (unsigned long long)st.st_ino == ino;
	return cached;
}

void log_vprintf(enum log_level lvl, const char *fmt, va_list ap)
{
	static const int prio[] = {
		[LOG_LVL_ERROR] = 3, [LOG_LVL_WARN] = 4,
		[LOG_LVL_INFO] = 6, [LOG_LVL_DEBUG] = 7,
	};
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n;

	if (to_journal()) {
		n = snprintf(line, sizeof(line), "<%d>%s ", prio[lvl],
			     level_names[lvl]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
			     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec,
			     ts.tv_nsec / 1000000, level_names[lvl]);
	}
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* one write per line so concurrent threads do not interleave */
	n = (int)strlen(line);
	if (n > 0 && line[n - 1] != '\n' && (size_t)n < sizeof(line) - 1) {
		line[n++] = '\n';
		line[n] = '\0';
	}
	fputs(line, stderr);
}

void log_printf(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_current_level)
		return;
	va_start(ap, fmt);
	log_vprintf(lvl, fmt, ap);
	va_end(ap);
}
