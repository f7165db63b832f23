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

/* 6: host hashes (SLUICE_MAP_H*) beside the allow/deny tries */
#define SLUICE_ABI_VERSION 6

/* Default pin directory; one subdirectory per daemon instance is allowed. */
#define SLUICE_PIN_ROOT "/sys/fs/bpf/sluice"

/*
 * Map names, spelled once (as xdp-tools' MAP_NAME_* with textify()). Each
 * is a bare identifier: the map's variable in bpf/lib/maps.h, and so also
 * the skeleton's field (skel->maps.SLUICE_MAP_PORTS). SLUICE_MAP_NAME()
 * turns one into the string userspace looks the map up by and pins it
 * under (<= 15 chars, BPF_OBJ_NAME_LEN). The suffix is the layout version
 * of that one map; operators see these names in bpftool.
 */
#define SLUICE_MAP_PORTS    sl_ports_v2	/* v2: array by port (v1: hash) */
#define SLUICE_MAP_ALLOW4   sl_allow4_v1
#define SLUICE_MAP_ALLOW6   sl_allow6_v1
#define SLUICE_MAP_STATS    sl_stats_v4	/* v4: 16 reasons (v3 13, v2 10) */
#define SLUICE_MAP_SETTINGS sl_settings_v3 /* v3: SYN cookies (v2: gen,
					    * v6 prefix, sampling) */
#define SLUICE_MAP_DENY4    sl_deny4_v1
#define SLUICE_MAP_DENY6    sl_deny6_v1
#define SLUICE_MAP_BAN4     sl_ban4_v1
#define SLUICE_MAP_BAN6     sl_ban6_v1
#define SLUICE_MAP_CLASSES  sl_classes_v1
#define SLUICE_MAP_SRC4     sl_src4_v1
#define SLUICE_MAP_SRC6     sl_src6_v1
#define SLUICE_MAP_EVENTS   sl_events_v1
#define SLUICE_MAP_SYNFLOOD sl_synflood_v1
/* Host entries (/32, /128) of the allow and deny lists: hashes looked up
 * before the tries, which keep only the shorter prefixes. */
#define SLUICE_MAP_HALLOW4  sl_hallow4_v1
#define SLUICE_MAP_HALLOW6  sl_hallow6_v1
#define SLUICE_MAP_HDENY4   sl_hdeny4_v1
#define SLUICE_MAP_HDENY6   sl_hdeny6_v1

#define SLUICE_TEXTIFY_(x) #x
/* "sl_ports_v2" for SLUICE_MAP_PORTS (expanded before it is quoted). */
#define SLUICE_MAP_NAME(map) SLUICE_TEXTIFY_(map)

/* Capacities (max_entries). */
#define SLUICE_MAX_PORTS  1024	/* guarded ports a config may list */
#define SLUICE_PORT_SLOTS 65536	/* SLUICE_MAP_PORTS entries: one per port */
#define SLUICE_MAX_ALLOW4 65536
#define SLUICE_MAX_ALLOW6 65536
#define SLUICE_MAX_DENY4  65536
#define SLUICE_MAX_DENY6  65536
#define SLUICE_MAX_BAN4   65536
#define SLUICE_MAX_BAN6   65536
#define SLUICE_MAX_CLASSES 1024	/* class 0 is the default class */
/* Rate-limit state tables (LRU): the default; xdp.rate_limit.table_size
 * overrides it at load time. */
#define SLUICE_DEF_SRC_ENTRIES 65536
#define SLUICE_EVENTS_BYTES (256 * 1024) /* SLUICE_MAP_EVENTS ring size */

/*
 * Verdict/reason index into the per-CPU stats array. Names double as metric
 * labels (see xdpctl_reason_name() in the daemon). Rules are applied in the
 * order deny > ban > allow > rate; the first that drops names the reason.
 * SLUICE_R_DROP_NOT_ALLOWED, SLUICE_R_DROP_DENY..SLUICE_R_DROP_EXT_DEPTH and
 * SLUICE_R_DROP_SYNCOOKIE are drops (sluice_reason_is_drop()),
 * SLUICE_R_TX_SYNCOOKIE is answered (XDP_TX); the others pass.
 */
enum sluice_reason {
	SLUICE_R_PASS_UNGUARDED = 0,	/* not judged: not TCP to a guarded port */
	SLUICE_R_PASS_ALLOWED = 1,	/* judged, source in the allowlist */
	SLUICE_R_PASS_NOT_IP = 2,	/* not IPv4/IPv6: ARP, LLDP, ... */
	SLUICE_R_PASS_MALFORMED = 3,	/* truncated/unparseable: left to the stack */
	SLUICE_R_DROP_NOT_ALLOWED = 4,	/* judged, source not in allowlist */
	SLUICE_R_PASS_GUARDED = 5,	/* judged, passed; allowlist not enforced */
	SLUICE_R_DROP_DENY = 6,		/* source in the denylist */
	SLUICE_R_DROP_BANNED = 7,	/* source under an unexpired ban */
	SLUICE_R_DROP_RATE = 8,		/* over its packets-per-second bucket */
	SLUICE_R_DROP_SYN_RATE = 9,	/* TCP SYN over its SYN-per-second bucket */
	/* Packets whose TCP header cannot be judged; never sent by a sound
	 * stack, dropped whatever the port and the source (RFC 1858):
	 * a first TCP fragment whose IP packet holds fewer than the 20 bytes
	 * of the TCP header (the flags hide in a later fragment), */
	SLUICE_R_DROP_FRAG_TINY = 10,
	/* a TCP fragment at offset 8 bytes, which could only overwrite the
	 * header of the first fragment (ports, flags), */
	SLUICE_R_DROP_FRAG_OVERLAP = 11,
	/* an IPv6 extension header chain longer than the program walks
	 * (the TCP header, and the port, lie beyond it). */
	SLUICE_R_DROP_EXT_DEPTH = 12,
	/* SYN cookies (xdp.syncookies, docs/SYNCOOKIES.md): a SYN answered
	 * from XDP with a cookie SYN-ACK (XDP_TX), */
	SLUICE_R_TX_SYNCOOKIE = 13,
	/* the handshake's ACK, its cookie valid, passed to the stack, */
	SLUICE_R_PASS_SYNCOOKIE = 14,
	/* an ACK for no connection whose cookie is not valid (forged). */
	SLUICE_R_DROP_SYNCOOKIE = 15,
	SLUICE_R_MAX = 16,
};

static inline int sluice_reason_is_drop(enum sluice_reason r)
{
	return r == SLUICE_R_DROP_NOT_ALLOWED || r == SLUICE_R_DROP_SYNCOOKIE ||
	       (r >= SLUICE_R_DROP_DENY && r <= SLUICE_R_DROP_EXT_DEPTH);
}

/* One counter slot: packets and bytes, per CPU. */
struct sluice_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct sluice_counter) == 16, "sluice_counter size");

#define SLUICE_PORT_GUARDED (1u << 0)

/* Value of SLUICE_MAP_PORTS[port] (an array: the __u32 key is the TCP
 * destination port, host byte order); 0: not guarded (an unused slot). */
struct sluice_port_val {
	__u32 flags;	/* SLUICE_PORT_* */
};
_Static_assert(sizeof(struct sluice_port_val) == 4, "sluice_port_val size");

/* LPM trie keys: prefixlen first, then the address in network byte order.
 * The host hashes (SLUICE_MAP_HALLOW4/6, SLUICE_MAP_HDENY4/6) use the same
 * keys with prefixlen always 32 or 128: the program looks both up with the
 * one key it builds, and userspace handles an entry the same way whichever
 * map holds it. */
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

/* Value of the allowlist and deny tries and host hashes. class_id selects
 * a rate class (0: default; always 0 in the deny maps). */
struct sluice_rule {
	__u32 class_id;
	__u32 flags;	/* SLUICE_RULE_* */
};
_Static_assert(sizeof(struct sluice_rule) == 8, "sluice_rule size");

/* Single-entry array SLUICE_MAP_SETTINGS, written by the daemon at load/reload
 * (and its gen by sluicectl after a live edit), always under the pin
 * directory's flock. */
#define SLUICE_SET_ALLOWLIST (1u << 0)	/* enforce the allowlist */
#define SLUICE_SET_SCOPE_ALL (1u << 1)	/* judge every IP packet, not only
					 * TCP to guarded ports */
#define SLUICE_SET_RATE      (1u << 2)	/* some class has a limit: keep
					 * per-source state in sl_src4/6 */
#define SLUICE_SET_EVENTS    (1u << 3)	/* sample drops into the ring
					 * SLUICE_MAP_EVENTS */
#define SLUICE_SET_COOKIE_ON (1u << 4)	/* answer SYNs to guarded ports
					 * with SYN cookies, always */
#define SLUICE_SET_COOKIE_AUTO (1u << 5) /* ... while the global SYN rate
					  * is over cookie_syn_window */
/* The host hashes looked up: a hash whose flag is off is skipped (an
 * empty hash costs no lookup). Gapless rule for every writer: the flag is
 * set before the first entry goes in, and cleared only after the hash is
 * empty again. */
#define SLUICE_SET_HOSTS_DENY4  (1u << 6)	/* SLUICE_MAP_HDENY4 */
#define SLUICE_SET_HOSTS_DENY6  (1u << 7)	/* SLUICE_MAP_HDENY6 */
#define SLUICE_SET_HOSTS_ALLOW4 (1u << 8)	/* SLUICE_MAP_HALLOW4 */
#define SLUICE_SET_HOSTS_ALLOW6 (1u << 9)	/* SLUICE_MAP_HALLOW6 */
#define SLUICE_SET_HOSTS_ALL                                                  \
	(SLUICE_SET_HOSTS_DENY4 | SLUICE_SET_HOSTS_DENY6 |                    \
	 SLUICE_SET_HOSTS_ALLOW4 | SLUICE_SET_HOSTS_ALLOW6)

#define SLUICE_DEF_V6_PREFIX 64
#define SLUICE_DEF_SAMPLE_SHIFT 6	/* 1 drop in 64 is sampled */

struct sluice_settings {
	__u32 flags;		/* SLUICE_SET_* */
	__u32 abi_version;
	/* Rules generation: rewritten with a new nonzero value after every
	 * change to the deny/ban/allow tries, so per-source cached verdicts
	 * (sluice_src.gen) taken before the change are not used after it. */
	__u64 gen;
	__u8 v6_prefix;		/* IPv6 sources share state per /v6_prefix */
	__u8 sample_shift;	/* sample 1 in 2^n drops (SLUICE_SET_EVENTS) */
	__u8 pad[2];
	/* SLUICE_SET_COOKIE_AUTO: SYNs (to guarded ports, from sources the
	 * rules pass) per SLUICE_SYNFLOOD_WINDOW_SHIFT window above which
	 * SYNs are answered with cookies (xdp.syncookies.syn_rate scaled to
	 * the window). */
	__u32 cookie_syn_window;
};
_Static_assert(sizeof(struct sluice_settings) == 24, "sluice_settings size");

/* sluice_rule.flags */
#define SLUICE_RULE_RUNTIME (1u << 0)	/* added by sluicectl, not from a file */

/* Bans: LPM tries SLUICE_MAP_BAN4/SLUICE_MAP_BAN6 (keys as the allowlist,
 * so a ban can cover a prefix). Never touched by a reload's sync. */
#define SLUICE_BAN_OPERATOR 1	/* sluicectl ban */
#define SLUICE_BAN_DAEMON   2	/* sluiced (L7 abuse escalation) */

struct sluice_ban {
	__u64 expires_ns;	/* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0: never */
	__u64 created_ns;	/* CLOCK_MONOTONIC when set */
	__u32 source;		/* SLUICE_BAN_* */
	__u32 pad;
};
_Static_assert(sizeof(struct sluice_ban) == 24, "sluice_ban size");

/*
 * Rate class (array SLUICE_MAP_CLASSES, index = sluice_rule.class_id; 0 is the
 * default class from the config). Generic cell rate algorithm: a packet is
 * admitted when the bucket's theoretical arrival time is at most
 * tolerance_ns ahead of now, and then moves it interval_ns further.
 * interval_ns = 1e9 / rate, tolerance_ns = interval_ns * (burst - 1).
 * interval_ns 0 means unlimited. The rate/burst fields are informational.
 */
struct sluice_class {
	__u64 pkt_interval_ns;
	__u64 pkt_tolerance_ns;
	__u64 syn_interval_ns;
	__u64 syn_tolerance_ns;
	__u32 pkt_rate, pkt_burst;	/* per second, packets */
	__u32 syn_rate, syn_burst;
};
_Static_assert(sizeof(struct sluice_class) == 48, "sluice_class size");

/* Per-source state, LRU hashes SLUICE_MAP_SRC4 (key: IPv4 address) and
 * SLUICE_MAP_SRC6 (key: IPv6 address masked to settings.v6_prefix). */
struct sluice_src4_key {
	__u8 addr[4];		/* network order */
};
_Static_assert(sizeof(struct sluice_src4_key) == 4, "sluice_src4_key size");

struct sluice_src6_key {
	__u8 addr[16];		/* network order, host bits zero */
};
_Static_assert(sizeof(struct sluice_src6_key) == 16, "sluice_src6_key size");

struct sluice_src {
	__u64 pkt_tat;		/* GCRA theoretical arrival time, ns */
	__u64 syn_tat;
	__u64 gen;		/* IPv4 only: settings.gen of the cached verdict */
	__u32 class_id;		/* IPv4 only: cached rate class */
	__u32 pad;
};
_Static_assert(sizeof(struct sluice_src) == 32, "sluice_src size");

/* One sampled drop, in the SLUICE_MAP_EVENTS ring (for sluicectl top). */
struct sluice_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u8 addr[16];		/* source, network order; IPv4 in addr[0..3] */
	__u8 family;		/* 4 or 6 */
	__u8 reason;		/* enum sluice_reason */
	__u16 dport;		/* TCP/UDP destination port, 0 if unknown */
	__u32 len;		/* frame length */
};
_Static_assert(sizeof(struct sluice_event) == 32, "sluice_event size");

/*
 * Global SYN-flood detector (SLUICE_SET_COOKIE_AUTO): array
 * SLUICE_MAP_SYNFLOOD, one entry, written by the XDP program only. SYNs are
 * counted per window of 2^SLUICE_SYNFLOOD_WINDOW_SHIFT ns (~1.07 s); when
 * a window's count passes settings.cookie_syn_window, SYNs are answered
 * with cookies until active_until_ns (SLUICE_SYNFLOOD_HOLD_NS later).
 */
#define SLUICE_SYNFLOOD_WINDOW_SHIFT 30
#define SLUICE_SYNFLOOD_HOLD_NS (2ull << SLUICE_SYNFLOOD_WINDOW_SHIFT)

struct sluice_synflood {
	__u64 window;		/* bpf_ktime_get_coarse_ns() >> WINDOW_SHIFT */
	__u64 syns;		/* SYNs counted in that window */
	__u64 active_until_ns;	/* cookie mode on while now < this */
	__u64 pad;
};
_Static_assert(sizeof(struct sluice_synflood) == 32, "sluice_synflood size");

#endif /* SLUICE_ABI_H */
