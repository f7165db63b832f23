// SPDX-License-Identifier: MIT
/*
 * Sluice XDP program: drop TCP to guarded ports from sources outside the
 * allowlist, before the kernel spends anything on them. Everything else
 * passes untouched. Every packet is counted (packets, bytes) under exactly
 * one enum sluice_reason, recorded on one exit path.
 *
 * Policy for packets whose ports cannot be seen (docs/OPERATIONS.md):
 *  - Non-first IP fragments (IPv4 offset != 0, IPv6 fragment header with
 *    offset != 0) carry no TCP header. They pass as pass_unguarded: a TCP
 *    segment cannot be reassembled without its first fragment, and the first
 *    fragment does carry the ports and is judged like any other packet (the
 *    kernel discards overlapping fragments, so a later fragment cannot
 *    rewrite the ports of an accepted first one).
 *  - A first TCP fragment too short to hold the TCP header (the RFC 1858
 *    "tiny fragment" trick) and an IPv6 extension chain longer than
 *    PARSE_MAX_IPV6_EXT headers are treated as going to a guarded port: when
 *    the allowlist is enforced, the source must be allowed.
 *  - A frame truncated anywhere else (Ethernet, VLAN, IP header, IP options,
 *    extension header, TCP header of an unfragmented packet) or with an
 *    impossible field passes as pass_malformed: the stack sees the same bytes
 *    and discards it.
 *  - Up to two VLAN tags (802.1Q, 802.1ad) are skipped; a third tag makes the
 *    frame pass_not_ip.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include <sluice/abi.h>

#include "lib/maps.h"
#include "lib/parse.h"

/* libxdp run config: run early (low number first) among programs sharing the
 * interface through the libxdp dispatcher; on XDP_PASS continue the chain. */
#define SLUICE_XDP_PRIORITY 10

struct {
	__uint(priority, SLUICE_XDP_PRIORITY);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(sluice_xdp);

static __always_inline int source_allowed(const struct pkt_info *pi)
{
	struct sluice_lpm4_key k4 = {.prefixlen = 32};
	struct sluice_lpm6_key k6 = {.prefixlen = 128};

	if (pi->family == 4) {
		__builtin_memcpy(k4.addr, pi->saddr, 4);
		return bpf_map_lookup_elem(&sl_allow4_v1, &k4) != NULL;
	}
	__builtin_memcpy(k6.addr, pi->saddr, 16);
	return bpf_map_lookup_elem(&sl_allow6_v1, &k6) != NULL;
}

/* Verdict for a packet to a guarded port (or one that might be). */
static __always_inline enum sluice_reason guard(const struct pkt_info *pi)
{
	struct sluice_settings *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&sl_settings_v1, &zero);
	if (!s || !(s->flags & SLUICE_SET_ALLOWLIST))
		return SLUICE_R_PASS_UNGUARDED;
	return source_allowed(pi) ? SLUICE_R_PASS_ALLOWED
				  : SLUICE_R_DROP_NOT_ALLOWED;
}

static __always_inline int port_guarded(int port)
{
	struct sluice_port_key k = {.port = (__u16)port};
	struct sluice_port_val *v;

	v = bpf_map_lookup_elem(&sl_ports_v1, &k);
	return v && (v->flags & SLUICE_PORT_GUARDED);
}

/* l4: what parse_ipv4/parse_ipv6 returned; the cursor is past the IP
 * headers. */
static __always_inline enum sluice_reason
classify(struct hdr_cursor *c, const struct pkt_info *pi, int l4)
{
	int dport;

	if (l4 == PARSE_ERR_DEPTH)
		return guard(pi); /* could be TCP to a guarded port */
	if (l4 < 0)
		return SLUICE_R_PASS_MALFORMED;
	if (pi->frag == FRAG_LATER)
		return SLUICE_R_PASS_UNGUARDED;
	if (l4 != IPPROTO_TCP)
		return SLUICE_R_PASS_UNGUARDED;

	dport = parse_tcphdr(c);
	if (dport < 0)
		return pi->frag == FRAG_FIRST ? guard(pi)
					      : SLUICE_R_PASS_MALFORMED;
	if (!port_guarded(dport))
		return SLUICE_R_PASS_UNGUARDED;
	return guard(pi);
}

/* The one exit: count the packet under its reason, map reason to action. */
static __always_inline int record(struct xdp_md *ctx, enum sluice_reason r)
{
	struct sluice_counter *cnt;
	__u32 key = r;

	cnt = bpf_map_lookup_elem(&sl_stats_v1, &key);
	if (cnt) {
		cnt->packets++;
		cnt->bytes += ctx->data_end - ctx->data;
	}
	return r == SLUICE_R_DROP_NOT_ALLOWED ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	struct hdr_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct pkt_info pi = {};
	enum sluice_reason r;
	int proto;

	proto = parse_ethhdr(&c);
	if (proto < 0) {
		r = SLUICE_R_PASS_MALFORMED;
		goto out;
	}

	if (proto == ETH_P_IP) {
		proto = parse_ipv4(&c, &pi);
	} else if (proto == ETH_P_IPV6) {
		proto = parse_ipv6(&c, &pi);
	} else {
		r = SLUICE_R_PASS_NOT_IP;
		goto out;
	}
	r = classify(&c, &pi, proto);
out:
	return record(ctx, r);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
