/* SPDX-License-Identifier: MIT */
/*
 * Internal to the xdpctl module: what its files share. Not for other
 * modules. Within the module calls point one way:
 *
 *   xdpctl_events.c (the sampler's ring-buffer consumer)
 *     v
 *   xdpctl.c (the loaded handle)      xdpctl_live.c (live edits, top)
 *     |  xdpctl_attach.c                |
 *     +---------------+-----------------+
 *                     v
 *   xdpctl_sync.c   xdpctl_ban.c   xdpctl_stats.c
 *                     v
 *               xdpctl_maps.c (the map table, pins, shared helpers)
 *
 * The lower files never call the upper ones.
 */
#ifndef SLUICE_XDPCTL_INT_H
#define SLUICE_XDPCTL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/abi.h>

struct allowlist_entry;
struct bpf_object;

/* ---- xdpctl.c ----------------------------------------------------------- */

/* New descriptors (close-on-exec) of the loaded program's events ring and
 * settings map: the consumer's own, valid for as long as it keeps them,
 * whatever becomes of the handle. 0 or -errno. */
struct xdpctl;
int xdpctl__dup_event_fds(const struct xdpctl *x, int *events_fd,
			  int *settings_fd);

/* ---- xdpctl_maps.c ------------------------------------------------------ */

/* The maps of the BPF object, one row each in xdpctl__maps[]: the name it
 * is pinned under (from abi.h) and the layout the daemon expects. A loaded
 * object is checked against the table (xdpctl__maps_check()), every pin
 * opened by name against its row (xdpctl__pins_get()). */
enum xdpctl_map {
	XDPCTL_MAP_PORTS,
	XDPCTL_MAP_ALLOW4,
	XDPCTL_MAP_ALLOW6,
	XDPCTL_MAP_STATS,
	XDPCTL_MAP_SETTINGS,
	XDPCTL_MAP_DENY4,
	XDPCTL_MAP_DENY6,
	XDPCTL_MAP_BAN4,
	XDPCTL_MAP_BAN6,
	XDPCTL_MAP_CLASSES,
	XDPCTL_MAP_SRC4,
	XDPCTL_MAP_SRC6,
	XDPCTL_MAP_EVENTS,
	XDPCTL_MAP_SYNFLOOD,
	XDPCTL_MAP_HALLOW4,
	XDPCTL_MAP_HALLOW6,
	XDPCTL_MAP_HDENY4,
	XDPCTL_MAP_HDENY6,
	XDPCTL_NMAPS,
};

struct xdpctl_map_spec {
	const char *name;	/* SLUICE_MAP_NAME(SLUICE_MAP_*) */
	uint32_t type;		/* enum bpf_map_type */
	uint32_t key_size, value_size;	/* per CPU for per-CPU maps */
};
extern const struct xdpctl_map_spec xdpctl__maps[XDPCTL_NMAPS];

/* Every row of the table is a map of the object with that layout, and every
 * map of the object has a row. 0, or -ENOENT/-EPROTO with a logged reason. */
int xdpctl__maps_check(const struct bpf_object *obj);

/* One map a handle opens by its pin, and where its fd goes. */
struct xdpctl_pin_want {
	enum xdpctl_map map;
	int *fd;
};
/* Open the pins of want[0..n) under dir, each checked against its row.
 * rdonly: with BPF_F_RDONLY. 0, or -errno (-ENOENT: nothing pinned there,
 * -EPROTO: another layout) with every fd of want set to -1. */
int xdpctl__pins_get(const char *dir, const struct xdpctl_pin_want *want,
		     size_t n, bool rdonly);
/* Close the fds of want[0..n) that are open and set them to -1. */
void xdpctl__pins_put(const struct xdpctl_pin_want *want, size_t n);

/* Exclusive flock on the pin directory; returns the fd or -errno. */
int xdpctl__pin_lock(const char *dir);
/* The same on a new open file description of the directory dir_fd (flock
 * excludes between descriptions, so threads of one process exclude each
 * other too); needs search permission on that directory only. */
int xdpctl__pin_lock_at(int dir_fd);
void xdpctl__pin_unlock(int fd);

/* Copy the first prefixlen bits of src, zero the rest. */
void xdpctl__mask_addr(uint8_t *dst, const uint8_t *src, size_t bytes,
		       unsigned int prefixlen);

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
uint64_t xdpctl__now_ns(void);

/* A new rules generation, nonzero and different from old. */
uint64_t xdpctl__next_gen(uint64_t old);

/* Write a new generation into the settings map (read-modify-write under the
 * caller's flock). 0 or -errno. */
int xdpctl__bump_gen(int settings_fd, uint64_t *gen);
/* OR flags (SLUICE_SET_HOSTS_*) into the settings, with a new generation,
 * unless all are set already. 0 or -errno. */
int xdpctl__set_flags(int settings_fd, __u32 flags);

/* Whether the n bytes at p are all zero (an unused array slot). */
bool xdpctl__all_zero(const unsigned char *p, size_t n);

/* All values of an array map of `slots` entries, indexed by key, in one
 * malloc'd buffer (*vals, freed by the caller); 0 or -errno. */
int xdpctl__array_read(int fd, uint32_t slots, size_t val_size,
		       unsigned char **vals);
/* Slots of such an array holding a nonzero value; -errno on failure. */
long xdpctl__array_count(int fd, uint32_t slots, size_t val_size);

/* The per-CPU counters of a stats map summed over CPUs. 0 or -errno. */
int xdpctl__read_counters(int fd, struct sluice_counter out[SLUICE_R_MAX]);

/* ---- xdpctl_diff.c ------------------------------------------------------ */

/* Records of a map sync: key_size key bytes then the value, ordered by the
 * key bytes as memcmp orders them. */

/* Sort the n records at *recs by key, stably (records with equal keys keep
 * their order); *recs may be replaced by another malloc'd buffer (the old
 * one is then freed). 0 or -ENOMEM (*recs untouched). */
int xdpctl__rec_sort(unsigned char **recs, size_t n, size_t rec_size,
		     size_t key_size);
/* Drop every record whose key equals the one before it (so of sorted
 * records, the first of each key stays); returns the new count. */
size_t xdpctl__rec_dedup(unsigned char *recs, size_t n, size_t rec_size,
			 size_t key_size);

/* What a sync must do, from the wanted and the present records. */
struct xdpctl_diff {
	/* indexes into want: idx[0..n_add) missing keys, idx[n_want-n_upd..
	 * n_want) keys present with another value (malloc'd) */
	size_t *idx;
	size_t n_add, n_upd, n_kept;
	/* the present keys not wanted, n_stale keys of key_size bytes, in
	 * live's buffer (compacted in place; live's records are gone) */
	unsigned char *stale;
	size_t n_stale;
};
/* Diff sorted, deduplicated want against sorted, deduplicated live (both
 * records of key_size + val_size bytes). 0 or -ENOMEM. */
int xdpctl__rec_diff(const unsigned char *want, size_t n_want,
		     unsigned char *live, size_t n_live, size_t key_size,
		     size_t val_size, struct xdpctl_diff *d);

/* ---- xdpctl_ban.c ------------------------------------------------------- */

/* Insert or refresh a ban in the v4/v6 ban trie, then bump the rules
 * generation. source SLUICE_BAN_DAEMON never shortens a ban in force. */
int xdpctl__ban(int ban4_fd, int ban6_fd, int settings_fd,
		const struct allowlist_entry *e, uint64_t for_ns,
		uint32_t source);

/* Unexpired entries of both ban tries, or -errno. */
long xdpctl__count_bans(int ban4_fd, int ban6_fd);

#endif
