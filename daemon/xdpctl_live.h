/* SPDX-License-Identifier: MIT */
/*
 * Live (runtime-only) edits of the allowlist maps a running sluiced pinned,
 * for the admin API. Part of the xdpctl layer (the only one that includes
 * libbpf). Edits go straight into the kernel maps and are not written back
 * to any file: the next reload re-syncs the maps from the configuration
 * files, which removes runtime additions and restores runtime deletions.
 */
#ifndef SLUICE_XDPCTL_LIVE_H
#define SLUICE_XDPCTL_LIVE_H

#include <stdbool.h>

#include "allowlist.h"

struct xdpctl_live {
	int allow4_fd, allow6_fd;	/* read-write */
};

/* Open the allow maps under pin_path read-write (checked against the ABI).
 * 0 or -errno (-ENOENT: not pinned, -EPROTO: not our layout). */
int xdpctl_live_open(const char *pin_path, struct xdpctl_live *l);
void xdpctl_live_close(struct xdpctl_live *l);

/* Add (class 0) or delete one prefix. add: -EEXIST when present, -ENOSPC
 * when the map is full. delete: -ENOENT when absent. */
int xdpctl_live_allow(const struct xdpctl_live *l,
		      const struct allowlist_entry *e, bool add);

/* Is exactly this prefix in the map? 1, 0 or -errno. */
int xdpctl_live_allow_has(const struct xdpctl_live *l,
			  const struct allowlist_entry *e);

/* Call cb for every prefix in the maps (IPv4 first, then IPv6; kernel
 * order within each). Stops when cb returns non-zero and returns that. */
typedef int (*xdpctl_live_cb)(const struct allowlist_entry *e, void *arg);
int xdpctl_live_allow_walk(const struct xdpctl_live *l, xdpctl_live_cb cb,
			   void *arg);

#endif
