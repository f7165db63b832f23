/* SPDX-License-Identifier: MIT */
/*
 * Kernel-only map definitions for the Sluice XDP program.
 *
 * Every map is BTF-defined (so `bpftool map dump` prints keys and values as
 * structs) and pinned by name (LIBBPF_PIN_BY_NAME) under the pin root the
 * loader chooses. Each variable is named by its SLUICE_MAP_* macro from
 * include/sluice/abi.h, so the map name is spelled once for the program, the
 * skeleton and the daemon (which checks at load that every map it expects is
 * in the object with the layout it expects, and refuses to start if not).
 */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include <sluice/abi.h>

/* Guarded TCP destination ports: one slot per port (index = port, host
 * byte order), flags 0 when not guarded. An array, not a hash: the verifier
 * inlines an array lookup into a bounds check and an address computation,
 * where a hash lookup is a helper call hashing the key (~9 ns a packet on
 * the drop path). 256 KiB. Written by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_PORT_SLOTS);
	__type(key, __u32);
	__type(value, struct sluice_port_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_PORTS SEC(".maps");

/* IPv4 allowlist: longest-prefix match on the source address. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_MAX_ALLOW4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm4_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_ALLOW4 SEC(".maps");

/* IPv6 allowlist: longest-prefix match on the source address. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_MAX_ALLOW6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm6_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_ALLOW6 SEC(".maps");

/* Denylist: longest-prefix match on the source address; checked first. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_MAX_DENY4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm4_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_DENY4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_MAX_DENY6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm6_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_DENY6 SEC(".maps");

/*
 * Host entries (/32, /128) of the allow and deny lists, beside the tries
 * (Cilium's prefilter layout): one hash of the address per packet instead
 * of a trie walk through intermediate nodes, which grows with the number
 * of entries. A host entry is always the longest match, so the program
 * looks here first and the tries hold only the shorter prefixes. Keys are
 * the trie keys with prefixlen 32/128. Not preallocated, like the tries:
 * max_entries (xdp.list_size) is a limit, not memory taken at load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_ALLOW4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm4_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_HALLOW4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_ALLOW6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm6_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_HALLOW6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_DENY4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm4_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_HDENY4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_DENY6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm6_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_HDENY6 SEC(".maps");

/* Timed bans (runtime state: a reload never touches them). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_MAX_BAN4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm4_key);
	__type(value, struct sluice_ban);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_BAN4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_MAX_BAN6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm6_key);
	__type(value, struct sluice_ban);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_BAN6 SEC(".maps");

/* Rate classes, indexed by sluice_rule.class_id (0: the default class). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct sluice_class);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_CLASSES SEC(".maps");

/* Per-source token buckets (and, for IPv4, the cached verdict). Shared by
 * all CPUs, so a client's limit holds whichever CPU its packets land on.
 * max_entries is set by the loader from xdp.rate_limit.table_size. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_DEF_SRC_ENTRIES);
	__type(key, struct sluice_src4_key);
	__type(value, struct sluice_src);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_SRC4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_DEF_SRC_ENTRIES);
	__type(key, struct sluice_src6_key);
	__type(value, struct sluice_src);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_SRC6 SEC(".maps");

/* Packet and byte counters per verdict reason, per CPU (summed in userspace).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_R_MAX);
	__type(key, __u32);
	__type(value, struct sluice_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_STATS SEC(".maps");

/* Global settings, one entry at index 0. All-zero (the state before the
 * daemon's first sync) means: allowlist not enforced (fail open), guarded
 * ports only, no rate limits, no sampling; deny and ban still apply. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_SETTINGS SEC(".maps");

/* Sampled drop events for sluicectl top. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SLUICE_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_EVENTS SEC(".maps");

/* Global SYN-flood detector for xdp.syncookies: auto (runtime state,
 * written by the program only; userspace may read it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_synflood);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} SLUICE_MAP_SYNFLOOD SEC(".maps");

#endif /* SLUICE_BPF_MAPS_H */
