/* SPDX-License-Identifier: MIT */
/*
 * Kernel adapter: the only module that includes libbpf/libxdp and the
 * skeleton. Loads the XDP program, pins its maps (BTF, by name) under a pin
 * directory (flock held while loading/unloading), attaches via libxdp to
 * interfaces, syncs the maps from a config snapshot by diff (add before
 * delete), reads counters, and detaches/unpins on close.
 */
#ifndef SLUICE_XDPCTL_H
#define SLUICE_XDPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/abi.h>

struct config;
struct xdpctl;

/* Route libbpf and libxdp messages into log.h, one level quieter. */
void xdpctl_init_logging(void);

/* Mount bpffs at /sys/fs/bpf if nothing is mounted there. 0 or -errno. */
int xdpctl_ensure_bpffs(void);

/*
 * Load the program, create/reuse pins under cfg->xdp.pin_path, attach to
 * every cfg->xdp.interfaces with cfg->xdp.mode (auto: native, then generic
 * with a warning), and sync maps from cfg. NULL + errno on failure (with a
 * logged reason); everything done so far is undone.
 */
struct xdpctl *xdpctl_open(const struct config *cfg);

/* Diff-sync ports, allowlist and settings maps to cfg (add before delete).
 * 0 or -errno (-ENOSPC when a map is full). */
int xdpctl_sync(struct xdpctl *x, const struct config *cfg);

/*
 * The same diff-sync on bare map fds (not owned), for callers that loaded the
 * program without attaching it (tests, tools). Order: add/update allow4,
 * allow6 and ports; write settings; then delete stale ports, allow4, allow6
 * entries. An entry present in both the live map and cfg with the right value
 * is never touched. st (may be NULL) receives what was done per map.
 */
struct xdpctl_map_fds {
	int ports_fd, allow4_fd, allow6_fd, settings_fd;
};
struct xdpctl_sync_count {
	size_t added;		/* key was missing */
	size_t updated;		/* key present with another value: rewritten */
	size_t kept;		/* key present with the right value: untouched */
	size_t deleted;		/* stale key removed */
};
struct xdpctl_sync_stats {
	struct xdpctl_sync_count ports, allow4, allow6;
};
int xdpctl_sync_maps(const struct xdpctl_map_fds *m, const struct config *cfg,
		     struct xdpctl_sync_stats *st);

/* Detach from all interfaces, unpin and free. NULL is ignored. */
void xdpctl_close(struct xdpctl *x);

/* Counters summed over CPUs, indexed by enum sluice_reason. */
int xdpctl_read_stats(struct xdpctl *x, struct sluice_counter out[SLUICE_R_MAX]);

/* Read-only access to pins left by a running sluiced (for sluicectl). */
struct xdpctl_pins {
	int stats_fd, allow4_fd, allow6_fd, ports_fd;
};
int xdpctl_pins_open(const char *pin_path, struct xdpctl_pins *p);
void xdpctl_pins_close(struct xdpctl_pins *p);
int xdpctl_pins_read_stats(const struct xdpctl_pins *p,
			   struct sluice_counter out[SLUICE_R_MAX]);
/* Number of entries in allow4/allow6; -errno on failure. */
long xdpctl_pins_count(int map_fd);

/* Stable label for a reason ("pass_allowed", "drop_not_allowed", ...). */
const char *xdpctl_reason_name(enum sluice_reason r);

#endif
