// SPDX-License-Identifier: MIT
/*
 * Counters and read-only pins (part of the xdpctl module): what sluicectl
 * reads from the maps a running sluiced pinned, and the labels of the
 * verdict reasons (metrics, sluicectl).
 */
#include "xdp/xdpctl.h"

#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "xdp/xdpctl_int.h"

#define PINS_WANT(p)                                                           \
	{                                                                      \
		{XDPCTL_MAP_STATS, &(p)->stats_fd},                            \
		{XDPCTL_MAP_ALLOW4, &(p)->allow4_fd},                          \
		{XDPCTL_MAP_ALLOW6, &(p)->allow6_fd},                          \
		{XDPCTL_MAP_PORTS, &(p)->ports_fd},                            \
		{XDPCTL_MAP_DENY4, &(p)->deny4_fd},                            \
		{XDPCTL_MAP_DENY6, &(p)->deny6_fd},                            \
		{XDPCTL_MAP_BAN4, &(p)->ban4_fd},                              \
		{XDPCTL_MAP_BAN6, &(p)->ban6_fd},                              \
		{XDPCTL_MAP_HALLOW4, &(p)->hallow4_fd},                        \
		{XDPCTL_MAP_HALLOW6, &(p)->hallow6_fd},                        \
		{XDPCTL_MAP_HDENY4, &(p)->hdeny4_fd},                          \
		{XDPCTL_MAP_HDENY6, &(p)->hdeny6_fd},                          \
	}

int xdpctl_pins_open(const char *pin_path, struct xdpctl_pins *p)
{
	const struct xdpctl_pin_want want[] = PINS_WANT(p);

	return xdpctl__pins_get(pin_path, want, sizeof(want) / sizeof(want[0]),
				true);
}

void xdpctl_pins_close(struct xdpctl_pins *p)
{
	const struct xdpctl_pin_want want[] = PINS_WANT(p);

	xdpctl__pins_put(want, sizeof(want) / sizeof(want[0]));
}

int xdpctl_pins_read_stats(const struct xdpctl_pins *p,
			   struct sluice_counter out[SLUICE_R_MAX])
{
	return xdpctl__read_counters(p->stats_fd, out);
}

long xdpctl_pins_count(int map_fd)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	unsigned char key[64], next[64];
	const void *prev = NULL;
	long n = 0, limit;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len) < 0)
		return -errno;
	if (info.key_size > sizeof(key))
		return -EINVAL;
	if (info.type == BPF_MAP_TYPE_ARRAY) /* slots in use: nonzero */
		return xdpctl__array_count(map_fd, info.max_entries,
					   info.value_size);
	limit = 2L * info.max_entries + 16;
	while (n < limit) {
		if (bpf_map_get_next_key(map_fd, prev, next) < 0)
			return errno == ENOENT ? n : -errno;
		memcpy(key, next, info.key_size);
		prev = key;
		n++;
	}
	return n;
}

const char *xdpctl_reason_name(enum sluice_reason r)
{
	static const char *const names[SLUICE_R_MAX] = {
		[SLUICE_R_PASS_UNGUARDED] = "pass_unguarded",
		[SLUICE_R_PASS_ALLOWED] = "pass_allowed",
		[SLUICE_R_PASS_NOT_IP] = "pass_not_ip",
		[SLUICE_R_PASS_MALFORMED] = "pass_malformed",
		[SLUICE_R_DROP_NOT_ALLOWED] = "drop_not_allowed",
		[SLUICE_R_PASS_GUARDED] = "pass_guarded",
		[SLUICE_R_DROP_DENY] = "drop_deny",
		[SLUICE_R_DROP_BANNED] = "drop_banned",
		[SLUICE_R_DROP_RATE] = "drop_rate",
		[SLUICE_R_DROP_SYN_RATE] = "drop_syn_rate",
		[SLUICE_R_DROP_FRAG_TINY] = "drop_frag_tiny",
		[SLUICE_R_DROP_FRAG_OVERLAP] = "drop_frag_overlap",
		[SLUICE_R_DROP_EXT_DEPTH] = "drop_ext_depth",
		[SLUICE_R_TX_SYNCOOKIE] = "tx_syncookie",
		[SLUICE_R_PASS_SYNCOOKIE] = "pass_syncookie",
		[SLUICE_R_DROP_SYNCOOKIE] = "drop_syncookie",
	};

	if ((unsigned int)r >= SLUICE_R_MAX)
		return "unknown";
	return names[r];
}
