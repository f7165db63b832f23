/* SPDX-License-Identifier: MIT */
/*
 * The admin API's endpoints, registered on the admin server:
 *
 *   GET  /status     daemon, config generation, reloads, listeners, XDP
 *   GET  /config     config path, generation, last reload result + errors
 *   GET  /routes     routes of the running snapshot
 *   GET  /upstreams  services and their targets (health: "unknown" for now)
 *   GET  /xdp        XDP verdict counters, allowlist sizes, guarded ports
 *   POST /reload     reload the config file; 422 + errors when refused
 *   /allow, /allow/add, /allow/del, /deny, /deny/add, /deny/del, /ban,
 *   /unban, /bans, /top: the live XDP endpoints of liveapi.h (logged; bans
 *   counted; /top on the Unix socket only)
 *   GET  /metrics    Prometheus text from the observability module (obs.h),
 *                    when metrics.enabled
 *
 * GET endpoints also answer aligned text with ?format=text. Parameters come
 * from the query string or an application/x-www-form-urlencoded body. POST
 * endpoints are served on the Unix socket only (admin.c).
 *
 * Live edits are runtime-only: nothing is written back to files, and the
 * next reload re-syncs the allow and deny maps from the files. Bans survive
 * reloads.
 */
#ifndef SLUICE_ADMIN_API_H
#define SLUICE_ADMIN_API_H

struct control;

/* Register the endpoints for ctl (call once listeners/XDP are up and before
 * privileges are dropped: it opens the pinned XDP maps). 0 or -errno.
 * The pair is the control thread's struct control_admin (cmd/main.c). */
int admin_api_register(struct control *ctl);
void admin_api_close(void);

#endif
