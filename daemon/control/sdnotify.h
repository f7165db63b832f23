/* SPDX-License-Identifier: MIT */
/*
 * systemd readiness protocol (sd_notify(3)), implemented directly: one
 * datagram of "KEY=VALUE\n..." to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Without
 * $NOTIFY_SOCKET every call is a no-op that returns 0, so sluiced behaves the
 * same under systemd and outside it. No libsystemd.
 */
#ifndef SLUICE_SDNOTIFY_H
#define SLUICE_SDNOTIFY_H

/* Send state (e.g. "READY=1\nSTATUS=serving"). 0 or -errno. */
int sdnotify(const char *state);
int sdnotifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
