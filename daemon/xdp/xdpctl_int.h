/* SPDX-License-Identifier: MIT */
/*
 * Internal to the xdpctl module (xdpctl.c, xdpctl_sync.c, xdpctl_live.c):
 * helpers the three files share. Not for other modules.
 */
#ifndef SLUICE_XDPCTL_INT_H
#define SLUICE_XDPCTL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/abi.h>

/* Exclusive flock on the pin directory; returns the fd or -errno. */
int xdpctl__pin_lock(const char *dir);
void xdpctl__pin_unlock(int fd);

/* Open one pinned map and check it is what this ABI expects. rdonly: open
 * with BPF_F_RDONLY. Returns the fd or -errno (-EPROTO: layout mismatch). */
int xdpctl__pin_get(const char *dir, const char *name, uint32_t type,
		    uint32_t key_size, uint32_t value_size, bool rdonly);

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

/* Insert or refresh a ban in the v4/v6 ban trie. */
int xdpctl__ban(int ban4_fd, int ban6_fd, int settings_fd,
		const struct allowlist_entry *e, uint64_t for_ns,
		uint32_t source);

/* All values of an array map of `slots` entries, indexed by key, in one
 * malloc'd buffer (*vals, freed by the caller); 0 or -errno. */
int xdpctl__array_read(int fd, uint32_t slots, size_t val_size,
		       unsigned char **vals);
/* Slots of such an array holding a nonzero value; -errno on failure. */
long xdpctl__array_count(int fd, uint32_t slots, size_t val_size);

#endif
