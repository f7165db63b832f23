/* SPDX-License-Identifier: MIT */
/*
 * Kernel-only map definitions for the Sluice XDP program.
 *
 * Every map is BTF-defined (so `bpftool map dump` prints keys and values as
 * structs) and pinned by name (LIBBPF_PIN_BY_NAME) under the pin root the
 * loader chooses. The variable names ARE the map names and must match the
 * SLUICE_MAP_* strings in include/sluice/abi.h: the daemon looks each one up
 * by that string and refuses to start if one is missing.
 */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include <sluice/abi.h>

/* Guarded TCP destination ports (host byte order). Written by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_PORTS);
	__type(key, struct sluice_port_key);
	__type(value, struct sluice_port_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ports_v1 SEC(".maps");

/* IPv4 allowlist: longest-prefix match on the source address. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_MAX_ALLOW4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm4_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_allow4_v1 SEC(".maps");

/* IPv6 allowlist: longest-prefix match on the source address. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_MAX_ALLOW6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sluice_lpm6_key);
	__type(value, struct sluice_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_allow6_v1 SEC(".maps");

/* Packet and byte counters per verdict reason, per CPU (summed in userspace).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_R_MAX);
	__type(key, __u32);
	__type(value, struct sluice_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_stats_v1 SEC(".maps");

/* Global settings, one entry at index 0. All-zero (the state before the
 * daemon's first sync) means "allowlist not enforced": fail open. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_settings_v1 SEC(".maps");

#endif /* SLUICE_BPF_MAPS_H */
