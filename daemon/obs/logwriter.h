/* SPDX-License-Identifier: MIT */
/*
 * Access log writer: one thread that drains the workers' line rings
 * (accesslog.h) into a file or stdout with batched writev() calls, so that
 * no worker ever waits on the disk. A worker submits a whole line into its
 * own ring; a full ring drops the line and counts it. The writer wakes
 * every LOGWRITER_FLUSH_MS, or sooner when a ring passes half full.
 *
 * Rotation: logwriter_reopen() (on SIGUSR1) makes the writer finish what
 * is buffered into the old file, then reopen the path: with logrotate's
 * "rename, then signal", every line lands in the old or the new file.
 */
#ifndef SLUICE_LOGWRITER_H
#define SLUICE_LOGWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGWRITER_FLUSH_MS 50

struct logwriter;

/*
 * Open path ("-" or "stdout": standard output) for appending (created 0640)
 * with n_rings rings of ring_bytes each (one per worker). NULL + errno, with
 * a message in err. The writer thread starts with logwriter_start(), so the
 * file can be opened before a privilege drop and the thread started after.
 */
struct logwriter *logwriter_open(const char *path, unsigned int n_rings,
				 size_t ring_bytes, char *err, size_t errlen);

/* Start the writer thread (once; again is a no-op). 0 or -errno. */
int logwriter_start(struct logwriter *w);

/* From worker `ring`'s thread only: queue one whole line. false when it was
 * dropped (ring full). Never blocks. */
bool logwriter_submit(struct logwriter *w, unsigned int ring, const char *line,
		      size_t len);

/* Any thread: reopen the file at the next wake-up (async-signal-unsafe;
 * call it from the control thread's signal handling). */
void logwriter_reopen(struct logwriter *w);

/* Write out everything queued so far, then return (bounded by timeout_ms).
 * true when every ring was empty before the timeout. */
bool logwriter_flush(struct logwriter *w, unsigned int timeout_ms);

/* Lines written; lines dropped (full rings and failed writes). */
uint64_t logwriter_written(const struct logwriter *w);
uint64_t logwriter_dropped(const struct logwriter *w);

const char *logwriter_path(const struct logwriter *w);

/* Drain what is queued, stop the thread, close the file. NULL is ignored. */
void logwriter_close(struct logwriter *w);

#endif
