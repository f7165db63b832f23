// SPDX-License-Identifier: MIT
/*
 * The flood half of `make bench-flood` (bench/xdpbench.c `loop` and `sink`).
 *
 * floodgen_loop: a frame loop that emits copies. It runs on one end (x1) of
 * a veth pair whose other end (x0) sends every frame straight back
 * (XDP_TX); the template frames seeded into the loop (Ethernet + IPv4 or
 * IPv6 + TCP, UDP, ICMP or ICMPv6, valid checksums) circulate, and each
 * time one comes round the program gives it a new random source (the low
 * bits of the address chosen by src_mask and, for TCP and UDP, the source
 * port; checksums updated incrementally, RFC 1624) and, when the pacing
 * allows, redirects it to both ports of loop_ports with BPF_F_BROADCAST:
 * one copy goes on round the loop, the other to the target veth, whose
 * peer gets it in its ring as an xdp_frame, as from a NIC. Else the frame
 * only goes round (XDP_TX). Everything stops (XDP_DROP) once `stop` is set.
 * (BPF_PROG_TEST_RUN with live frames, what `xdpbench gen` uses, is refused
 * with EPERM on the VM this was written on; the loop needs nothing but
 * XDP on veth.)
 *
 * floodgen_sink: attached to the attacker's veth, which the gateway's
 * replies come back to (the attacker's namespace is also the client's
 * router). Frames for the legitimate client's network pass to the stack,
 * which forwards them; the rest (SYN-ACKs, RSTs, ICMP errors to spoofed
 * sources) are dropped at once, so answering a flood costs the harness's
 * attacker side next to nothing.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* set before load */
const volatile __u32 is_v6;	 /* the template is IPv6 */
const volatile __u32 l4_proto;	 /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
const volatile __u32 src_mask;	 /* random bits of the source's last 32 */
const volatile __u32 rand_port;	 /* random TCP/UDP source port */
const volatile __u32 sink_net4;	 /* sink: the client's IPv4 network... */
const volatile __u32 sink_mask4; /* ...and mask, network order */
const volatile __u8 sink_net6[16]; /* sink: the client's IPv6 /112 */

/* floodgen_loop: 0 the veth the loop runs on, 1 where the flood goes */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} loop_ports SEC(".maps");

__u64 interval_ns; /* floodgen_loop: one frame out per interval (0: all) */
__u32 burst;	   /* ...sent in bursts of this many frames */
__u32 left;	   /* frames left in the current burst */
__u64 next_ns;
__u32 stop;
__u64 sent;

/* One's complement sum update of a checksum field: a 32-bit word went from
 * `from` to `to` (both as stored in the packet). */
static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 s = (__u16)~*sum;

	s += (__u16)~from + (__u16)~(from >> 16);
	s += (__u16)to + (__u16)(to >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*sum = (__u16)~s;
}

static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	csum_replace4(sum, from, to);
}

/*
 * Give the frame a random source (address bits and port); 0, or -1 for a
 * frame that is not the template's kind (a few frames of a loop came back
 * with broken headers in the first runs; they are taken out of the loop
 * rather than sent).
 */
static __always_inline int randomize(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 r = bpf_get_prandom_u32(), *srcw, old, new;
	__u16 *l4sum = 0, *sport = 0;
	struct ethhdr *eth = data;
	void *l4;

	if ((void *)(eth + 1) > end)
		return -1;
	if (is_v6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end ||
		    eth->h_proto != bpf_htons(ETH_P_IPV6) ||
		    ip6->version != 6 || ip6->nexthdr != l4_proto)
			return -1;
		srcw = &ip6->saddr.in6_u.u6_addr32[3];
		l4 = ip6 + 1;
	} else {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end ||
		    eth->h_proto != bpf_htons(ETH_P_IP) || ip->version != 4 ||
		    ip->ihl != 5 || ip->protocol != l4_proto)
			return -1;
		srcw = &ip->saddr;
		l4 = ip + 1;
	}
	if (l4 + 20 > end)
		return -1;
	if (l4_proto == IPPROTO_TCP) {
		l4sum = l4 + 16;
		sport = l4;
	} else if (l4_proto == IPPROTO_UDP) {
		l4sum = l4 + 6;
		sport = l4;
	} else if (l4_proto == IPPROTO_ICMPV6) {
		l4sum = l4 + 2; /* ICMPv6 sums the pseudo-header, ICMP does not */
	}
	old = *srcw;
	new = bpf_htonl((bpf_ntohl(old) & ~src_mask) | (r & src_mask));
	*srcw = new;
	if (!is_v6) {
		struct iphdr *ip = data + sizeof(struct ethhdr);

		csum_replace4(&ip->check, old, new);
	}
	if (l4sum)
		csum_replace4(l4sum, old, new);
	if (rand_port && sport && l4sum) {
		__u16 op = *sport, np = (__u16)((r >> 16) | 0x400);

		*sport = np;
		csum_replace2(l4sum, op, np);
	}
	return 0;
}

/* The loop: see the top of the file. */
SEC("xdp")
int floodgen_loop(struct xdp_md *ctx)
{
	__u64 now;

	if (stop)
		return XDP_DROP;
	/* paced: `burst` frames back to back (they leave in one flush, one
	 * wake-up of the receiver, as with a NIC's interrupt coalescing),
	 * then nothing until burst x interval has passed */
	if (interval_ns) {
		if (!left) {
			now = bpf_ktime_get_ns();
			if (now < next_ns)
				return XDP_TX;
			/* no credit beyond 1 ms of catching up */
			if (next_ns + 1000000 < now)
				next_ns = now;
			next_ns += interval_ns * (burst ? burst : 1);
			left = burst ? burst : 1;
		}
		left--;
	}
	if (randomize(ctx))
		return XDP_DROP;
	sent++;
	return bpf_redirect_map(&loop_ports, 0, BPF_F_BROADCAST);
}

SEC("xdp")
int floodgen_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		return (ip->daddr & sink_mask4) == sink_net4 ? XDP_PASS
							     : XDP_DROP;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		const __u8 *d;

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		d = ip6->daddr.in6_u.u6_addr8;
		/* neighbour discovery and other link-local traffic pass */
		if (d[0] == 0xff || (d[0] == 0xfe && (d[1] & 0xc0) == 0x80))
			return XDP_PASS;
		for (int i = 0; i < 14; i++)
			if (d[i] != sink_net6[i])
				return XDP_DROP;
		return XDP_PASS;
	}
	return XDP_PASS;
}
