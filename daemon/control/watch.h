/* SPDX-License-Identifier: MIT */
/*
 * Config files watched with inotify (watch_files: true): the config file
 * and its allowlist and denylist files. The directories holding them are
 * watched for IN_CLOSE_WRITE and IN_MOVED_TO, so both an editor that
 * writes in place and one that renames a new file over the old one are
 * seen. The control thread reads the inotify fd on its ring and reloads
 * when an event names a watched file; a file that does not parse is
 * logged and ignored like any refused reload.
 */
#ifndef SLUICE_WATCH_H
#define SLUICE_WATCH_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct watch;

/* A watcher (its inotify fd: watch_fd()). NULL + errno. */
struct watch *watch_new(void);
void watch_free(struct watch *w);
int watch_fd(const struct watch *w);

/* Watch cfg's files (its path, allowlist and denylist files), replacing
 * the set watched before. 0 or -errno. */
int watch_set(struct watch *w, const struct config *cfg);

/* Do the inotify events in buf[0..n) name a watched file? */
bool watch_hit(const struct watch *w, const void *buf, size_t n);

#endif
