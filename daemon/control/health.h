/* SPDX-License-Identifier: MIT */
/*
 * Active health checks: one thread of their own, off the workers' path.
 * Every interval_ms it sends each target of a service with a health:
 * section an HTTP/1.1 GET of health.path (Connection: close) and reads
 * the status line; a status in health.expect within timeout_ms passes,
 * anything else (refused, timed out, reset, another status) fails. The
 * results go into the service's shared state (policy/balance.h), where
 * `unhealthy` failures in a row take the target out and `healthy` passes
 * in a row bring it back; workers read that state with atomics. A change
 * is logged with its reason and counted (sluice_upstream_health_changes_
 * total), and its time is shown by `sluicectl upstreams`.
 *
 * Checks are plain HTTP. TLS to targets is a transport of its own: a
 * probe's socket is handed to health_probe_start_tls() (health.c) once
 * connected, which is where a TLS client handshake goes.
 */
#ifndef SLUICE_HEALTH_H
#define SLUICE_HEALTH_H

struct control;
struct health;

/* Start the checker over ctl's current snapshot (control_config()).
 * NULL + errno on failure. */
struct health *health_start(struct control *ctl);

/* Stop the thread and free everything (NULL: no-op). */
void health_stop(struct health *h);

#endif
