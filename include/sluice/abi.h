/* SPDX-License-Identifier: MIT */
/*
 * Sluice kernel/user ABI: everything both the XDP program and the daemon see.
 *
 * Fixed-width types only, explicit padding, a size assertion on every struct.
 * A layout change bumps SLUICE_ABI_VERSION and the _vN suffix of the map
 * names, so a new daemon never silently reuses an old pin.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

#define SLUICE_ABI_VERSION 1

/* Default pin directory; one subdirectory per daemon instance is allowed. */
#define SLUICE_PIN_ROOT "/sys/fs/bpf/sluice"

/* Map names (<= 15 chars, BPF_OBJ_NAME_LEN). Pinned by name under the pin dir. */
#define SLUICE_MAP_PORTS  "sl_ports_v1"
#define SLUICE_MAP_ALLOW4 "sl_allow4_v1"
#define SLUICE_MAP_ALLOW6 "sl_allow6_v1"
#define SLUICE_MAP_STATS  "sl_stats_v1"
#define SLUICE_MAP_SETTINGS "sl_settings_v1"

/* Capacities (max_entries). */
#define SLUICE_MAX_PORTS  1024
#define SLUICE_MAX_ALLOW4 65536
#define SLUICE_MAX_ALLOW6 65536

/*
 * Verdict/reason index into the per-CPU stats array. Names double as metric
 * labels (see sluice_reason_names in the daemon).
 */
enum sluice_reason {
	SLUICE_R_PASS_UNGUARDED = 0,	/* not TCP to a guarded port */
	SLUICE_R_PASS_ALLOWED = 1,	/* guarded, source in allowlist */
	SLUICE_R_PASS_NOT_IP = 2,	/* not IPv4/IPv6: ARP, LLDP, ... */
	SLUICE_R_PASS_MALFORMED = 3,	/* truncated/unparseable: left to the stack */
	SLUICE_R_DROP_NOT_ALLOWED = 4,	/* guarded, source not in allowlist */
	SLUICE_R_MAX = 5,
};

/* One counter slot: packets and bytes, per CPU. */
struct sluice_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct sluice_counter) == 16, "sluice_counter size");

/* Key of sl_ports_v1 (hash): a TCP destination port, host byte order. */
struct sluice_port_key {
	__u16 port;
	__u16 pad;
};
_Static_assert(sizeof(struct sluice_port_key) == 4, "sluice_port_key size");

#define SLUICE_PORT_GUARDED (1u << 0)

struct sluice_port_val {
	__u32 flags;	/* SLUICE_PORT_* */
};
_Static_assert(sizeof(struct sluice_port_val) == 4, "sluice_port_val size");

/* LPM trie keys: prefixlen first, then the address in network byte order. */
struct sluice_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};
_Static_assert(sizeof(struct sluice_lpm4_key) == 8, "sluice_lpm4_key size");

struct sluice_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct sluice_lpm6_key) == 20, "sluice_lpm6_key size");

/* Value of the allowlist tries. class_id selects a rate class (0: default). */
struct sluice_rule {
	__u32 class_id;
	__u32 flags;	/* reserved, 0 */
};
_Static_assert(sizeof(struct sluice_rule) == 8, "sluice_rule size");

/* Single-entry array sl_settings_v1, written by the daemon at load/reload. */
#define SLUICE_SET_ALLOWLIST (1u << 0)	/* enforce the allowlist */

struct sluice_settings {
	__u32 flags;	/* SLUICE_SET_* */
	__u32 abi_version;
};
_Static_assert(sizeof(struct sluice_settings) == 8, "sluice_settings size");

#endif /* SLUICE_ABI_H */
