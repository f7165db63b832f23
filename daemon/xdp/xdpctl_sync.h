/* SPDX-License-Identifier: MIT */
/*
 * Map sync by diff (part of the xdpctl module, xdpctl_sync.c): make the
 * ports, allowlist, denylist, rate-class and settings maps equal to a
 * config snapshot, adding before deleting, on bare map fds. The loaded
 * handle (xdpctl_sync() in xdpctl.h) runs it under the pin lock; tests and
 * tools that loaded the program themselves call it directly.
 */
#ifndef SLUICE_XDPCTL_SYNC_H
#define SLUICE_XDPCTL_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/abi.h>

struct allowlist_entry;
struct config;
struct config_rate;

/*
 * The diff-sync on map fds (not owned), in the order the top of
 * xdpctl_sync.c gives: trie entries and ports added, host hashes swapped
 * (stale deleted, then new written), settings, stale trie entries and
 * ports deleted. An entry present in both the live map and cfg with the
 * right value is never touched. st (may be NULL) receives what was done per map.
 * 0 or -errno (-ENOSPC when a map is full).
 */
struct xdpctl_map_fds {
	int ports_fd, allow4_fd, allow6_fd, settings_fd;
	int deny4_fd, deny6_fd, classes_fd;
	/* the host hashes (/32, /128) beside each trie */
	int hallow4_fd, hallow6_fd, hdeny4_fd, hdeny6_fd;
};
struct xdpctl_sync_count {
	size_t added;		/* key was missing */
	size_t updated;		/* key present with another value: rewritten */
	size_t kept;		/* key present with the right value: untouched */
	size_t deleted;		/* stale key removed */
};
struct xdpctl_sync_stats {
	struct xdpctl_sync_count ports, allow4, allow6;
	struct xdpctl_sync_count deny4, deny6, classes;
	uint64_t gen;		/* rules generation written last */
};
int xdpctl_sync_maps(const struct xdpctl_map_fds *m, const struct config *cfg,
		     struct xdpctl_sync_stats *st);

/* The rate class for rate/burst/syn/syn_burst (0 = unlimited; 0 burst =
 * the rate's N). */
void xdpctl_class_make(struct sluice_class *c, uint32_t rate, uint32_t burst,
		       uint32_t syn, uint32_t syn_burst);
/* The class an allowlist entry gets: its options over the default. */
void xdpctl_class_of(struct sluice_class *c, const struct config_rate *def,
		     const struct allowlist_entry *e);

#endif
