/* SPDX-License-Identifier: MIT */
/*
 * Kernel adapter: the only module that includes libbpf/libxdp and the
 * skeleton. Loads the XDP program, pins its maps (BTF, by name) under a pin
 * directory (flock held while loading/unloading), attaches via libxdp to
 * interfaces, syncs the maps from a config snapshot by diff (add before
 * delete; xdpctl_sync.h), reads counters, and detaches/unpins on close.
 * The module's files and the direction of their calls: xdpctl_int.h.
 */
#ifndef SLUICE_XDPCTL_H
#define SLUICE_XDPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/abi.h>

#include "xdp/xdpctl_sync.h"

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

/* Diff-sync the maps to cfg (add before delete; xdpctl_sync_maps()) under
 * the pin directory's flock. 0 or -errno (-ENOSPC when a map is full). */
int xdpctl_sync(struct xdpctl *x, const struct config *cfg);

/* Detach from all interfaces, unpin and free. NULL is ignored. With
 * xdp.persist the program stays attached and the maps pinned (a later
 * xdpctl_open() takes them over without a gap); only the handle is freed. */
void xdpctl_close(struct xdpctl *x);
/* Override xdp.persist for the close (a takeover: the program attached
 * and the pins belong to the successor). */
void xdpctl_set_persist(struct xdpctl *x, bool on);
/* Check that the program is still attached to every interface; attach it
 * again where it was removed (ip link set dev X xdp off). The number
 * re-attached, or -errno. */
int xdpctl_check_attached(struct xdpctl *x);

/* Counters summed over CPUs, indexed by enum sluice_reason. */
int xdpctl_read_stats(struct xdpctl *x, struct sluice_counter out[SLUICE_R_MAX]);

/* Read-only access to pins left by a running sluiced (for sluicectl). */
struct xdpctl_pins {
	int stats_fd, allow4_fd, allow6_fd, ports_fd;
	int deny4_fd, deny6_fd, ban4_fd, ban6_fd;
	/* host hashes (/32, /128) beside the allow and deny tries */
	int hallow4_fd, hallow6_fd, hdeny4_fd, hdeny6_fd;
};
int xdpctl_pins_open(const char *pin_path, struct xdpctl_pins *p);
void xdpctl_pins_close(struct xdpctl_pins *p);
int xdpctl_pins_read_stats(const struct xdpctl_pins *p,
			   struct sluice_counter out[SLUICE_R_MAX]);
/* Entries in a pinned map (an array: its slots holding a nonzero value);
 * -errno on failure. */
long xdpctl_pins_count(int map_fd);

/* The interfaces the program is attached to and the mode each got
 * ("native", "generic"): at most max into out, the count returned. */
struct xdpctl_attach_info {
	char ifname[16];
	const char *mode;
};
size_t xdpctl_attached(const struct xdpctl *x, struct xdpctl_attach_info *out,
		       size_t max);

/* The libbpf and libxdp this process runs with ("1.1.2", "1.3.0"). */
const char *xdpctl_libbpf_version(void);
const char *xdpctl_libxdp_version(void);

/* Stable label for a reason ("pass_allowed", "drop_not_allowed", ...). */
const char *xdpctl_reason_name(enum sluice_reason r);

/* ---- bans, live edits, top talkers --------------------------------------- */

struct allowlist_entry;

/* Ban a source (prefix) for for_ns nanoseconds (0: until unbanned), from
 * the daemon (source SLUICE_BAN_DAEMON). Bans survive reloads. */
int xdpctl_ban(struct xdpctl *x, const struct allowlist_entry *e,
	       uint64_t for_ns);
/* Bans in force now (unexpired entries of both ban tries), or -errno. */
long xdpctl_count_bans(struct xdpctl *x);

/*
 * Live edits on the maps a running sluiced pinned (the admin API: sluiced's
 * admin socket, or sluicectl --pin-path in-process). They take effect at
 * once and are runtime only: the next reload re-syncs the allow and deny
 * tries from the files (removing live additions, restoring live deletions).
 * Bans live in their own tries, which a reload never touches. A handle keeps
 * the pin directory and the maps open (so one opened before a privilege drop
 * keeps working) and holds the directory's flock around every change, as
 * the daemon's sync does; never in between.
 */
enum xdpctl_list {
	XDPCTL_ALLOW = 0,
	XDPCTL_DENY = 1,
};
struct xdpctl_live;

/* -ENOENT when nothing is pinned there (no sluiced), -EPROTO on an ABI
 * mismatch. */
int xdpctl_live_open(const char *pin_path, struct xdpctl_live **out);
void xdpctl_live_close(struct xdpctl_live *l);

/* Add an entry; an allow entry with rate options gets a rate class (shared
 * with any entry of the same limits). An entry already there with the same
 * limits is -EEXIST; with other limits it is updated. -ENOSPC when full. */
int xdpctl_live_add(struct xdpctl_live *l, enum xdpctl_list which,
		    const struct allowlist_entry *e);
/* Remove the exact entry; -ENOENT if it is not there. */
int xdpctl_live_del(struct xdpctl_live *l, enum xdpctl_list which,
		    const struct allowlist_entry *e);

struct xdpctl_rule_info {
	uint8_t family, prefixlen;
	uint8_t addr[16];
	uint32_t class_id;
	uint32_t flags;			/* SLUICE_RULE_* */
	struct sluice_class cls;	/* allow entries: their class */
};
/* All entries of a list, sorted; *out malloc'd (caller frees). */
int xdpctl_live_list(struct xdpctl_live *l, enum xdpctl_list which,
		     struct xdpctl_rule_info **out, size_t *n);

int xdpctl_live_ban(struct xdpctl_live *l, const struct allowlist_entry *e,
		    uint64_t for_ns);
int xdpctl_live_unban(struct xdpctl_live *l, const struct allowlist_entry *e);

struct xdpctl_ban_info {
	uint8_t family, prefixlen;
	uint8_t addr[16];
	struct sluice_ban ban;
};
/* Unexpired bans (expired ones are removed on the way); *now_ns is the
 * CLOCK_MONOTONIC time the expiries compare against. */
int xdpctl_live_bans(struct xdpctl_live *l, struct xdpctl_ban_info **out,
		     size_t *n, uint64_t *now_ns);

/* Top talkers for sluicectl --pin-path (sluiced has its sampler,
 * control/topsample.h): sampled drops read from the ring buffer for ms
 * milliseconds, aggregated per source in a bounded table (the 16384
 * heaviest, policy/talkers.h), heaviest first. While a sluiced runs, its
 * sampler reads the same ring: each gets part of the records. */
struct xdpctl_talker {
	uint8_t family;
	uint8_t addr[16];
	uint64_t samples;		/* sampled drops */
	uint64_t by_reason[SLUICE_R_MAX];
	uint64_t bytes;			/* sampled bytes */
};
struct xdpctl_top {
	struct xdpctl_talker *talkers;
	size_t n;
	uint32_t sample_every;		/* 1 sample stands for this many */
	uint64_t events;		/* events read in the window */
};
int xdpctl_live_top(struct xdpctl_live *l, unsigned int ms,
		     struct xdpctl_top *out);
void xdpctl_top_free(struct xdpctl_top *t);

/*
 * The daemon's consumer of the events ring (its top-talkers sampler). A BPF
 * ring buffer has one consumer position, shared by every reader: two
 * readers take records from each other, so a process holds one of these at
 * most. It reads the ring of the loaded program x through descriptors of
 * its own (the same map object for the process's life: a reload syncs the
 * maps, a re-attach reuses the program), so closing x never leaves it with
 * a closed descriptor. Not thread-safe: one thread polls it.
 */
struct xdpctl_events;
typedef void (*xdpctl_event_fn)(void *ctx, const struct sluice_event *ev);
/* NULL + errno on failure. */
struct xdpctl_events *xdpctl_events_open(const struct xdpctl *x,
					 xdpctl_event_fn fn, void *ctx);
/* Wait up to timeout_ms for records and pass each to fn; the number
 * handled, or -errno (-EINTR is 0). */
int xdpctl_events_poll(struct xdpctl_events *e, int timeout_ms);
/* 1 sample stands for this many drops now (0: sampling off), or -errno. */
long xdpctl_events_sample_every(struct xdpctl_events *e);
void xdpctl_events_close(struct xdpctl_events *e);

/* Entries in the allow, deny and ban tries (bans: expired ones included). */
struct xdpctl_live_sizes {
	long allow4, allow6, deny4, deny6, ban4, ban6;
};
int xdpctl_live_sizes(struct xdpctl_live *l, struct xdpctl_live_sizes *s);

#endif
