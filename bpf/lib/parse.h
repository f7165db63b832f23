/* SPDX-License-Identifier: MIT */
/*
 * Header-cursor packet parsing for the Sluice XDP program.
 *
 * A struct hdr_cursor points at the next unparsed byte. Each parse_*()
 * checks that its whole header lies inside the packet, advances the cursor
 * past it and returns the next protocol (>= 0), or a negative PARSE_ERR_*.
 * No helper ever reads a byte it has not bounds-checked against data_end.
 */
#ifndef SLUICE_BPF_PARSE_H
#define SLUICE_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Parse errors (negative, so they never collide with a protocol number). */
enum {
	PARSE_ERR_TRUNC = -1, /* header runs past the end of the frame */
	PARSE_ERR_BAD = -2,   /* impossible field (IHL < 5, wrong version) */
	PARSE_ERR_DEPTH = -3, /* IPv6 extension chain longer than we walk */
};

/* 802.1Q / 802.1ad tags skipped; a third tag leaves the frame to the stack. */
#define PARSE_MAX_VLAN 2
/* IPv6 extension headers walked before giving up (PARSE_ERR_DEPTH). */
#define PARSE_MAX_IPV6_EXT 8

/* Fragment status of the IP packet being parsed. */
enum {
	FRAG_NONE = 0, /* not a fragment (or an atomic IPv6 fragment) */
	FRAG_FIRST, /* offset 0, more fragments follow: carries the L4 header */
	FRAG_LATER, /* offset != 0: no L4 header */
};

struct hdr_cursor {
	void *pos;
	void *end;
};

/* Bytes of a full TCP header without options: what a first fragment must
 * hold for the flags (and the data offset) to be read (RFC 1858). */
#define TCP_HDR_MIN 20
/* pkt_info.l4_len when the IP header gives no length (IPv6 payload length
 * 0, a jumbogram): only the frame bounds the L4 header then. */
#define L4_LEN_UNKNOWN 0x10000

struct pkt_info {
	__u8 family;	/* 4 or 6 */
	__u8 frag;	/* FRAG_* */
	__u8 syn;	/* TCP SYN without ACK: a new connection */
	__u8 pad;
	__u16 dport;	/* TCP destination port (host order), 0 if unknown */
	__u16 frag_off;	/* fragment offset, 8-byte units (FRAG_LATER) */
	/* Bytes after the IP headers as the IP header counts them (IPv4
	 * total length, IPv6 payload length, minus the headers walked); the
	 * kernel trims the frame to that length, so bytes past it (a padded
	 * or forged tail) are never TCP. Negative: headers past the end. */
	__s32 l4_len;
	__u8 saddr[16]; /* source address, network order; v4 in [0..3] */
};

struct vlan_tag {
	__be16 tci;
	__be16 encap_proto;
};

/* Fragment extension header (struct frag_hdr is not in the UAPI headers). */
struct ipv6_frag_ext {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M flag */
	__be32 identification;
};

static __always_inline int proto_is_vlan(__u16 h_proto)
{
	return h_proto == bpf_htons(ETH_P_8021Q) ||
	       h_proto == bpf_htons(ETH_P_8021AD);
}

/* Ethernet plus up to PARSE_MAX_VLAN VLAN tags. Returns the EtherType (host
 * order) of what follows. */
static __always_inline int parse_ethhdr(struct hdr_cursor *c)
{
	struct ethhdr *eth = c->pos;
	struct vlan_tag *vlh;
	__u16 h_proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return PARSE_ERR_TRUNC;
	c->pos = eth + 1;
	h_proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < PARSE_MAX_VLAN; i++) {
		if (!proto_is_vlan(h_proto))
			break;
		vlh = c->pos;
		if ((void *)(vlh + 1) > c->end)
			return PARSE_ERR_TRUNC;
		h_proto = vlh->encap_proto;
		c->pos = vlh + 1;
	}
	return bpf_ntohs(h_proto);
}

/* IPv4 header including options (IHL). Returns the L4 protocol. */
static __always_inline int parse_ipv4(struct hdr_cursor *c, struct pkt_info *pi)
{
	struct iphdr *iph = c->pos;
	__u32 hdrsize;
	__u16 frag;

	if ((void *)(iph + 1) > c->end)
		return PARSE_ERR_TRUNC;
	if (iph->version != 4 || iph->ihl < 5)
		return PARSE_ERR_BAD;
	hdrsize = iph->ihl * 4; /* 20..60 */
	if (c->pos + hdrsize > c->end)
		return PARSE_ERR_TRUNC;
	c->pos += hdrsize;
	if (bpf_ntohs(iph->tot_len) < hdrsize)
		return PARSE_ERR_BAD;

	pi->family = 4;
	__builtin_memcpy(pi->saddr, &iph->saddr, 4);
	pi->l4_len = (__s32)bpf_ntohs(iph->tot_len) - (__s32)hdrsize;
	frag = bpf_ntohs(iph->frag_off);
	pi->frag_off = frag & 0x1fff;
	if (frag & 0x1fff)
		pi->frag = FRAG_LATER;
	else if (frag & 0x2000) /* IP_MF */
		pi->frag = FRAG_FIRST;
	return iph->protocol;
}

static __always_inline int ipv6_is_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
	       nh == IPPROTO_FRAGMENT || nh == IPPROTO_DSTOPTS;
}

/*
 * IPv6 header, then up to PARSE_MAX_IPV6_EXT extension headers (hop-by-hop,
 * routing, fragment, destination options). Returns the upper-layer protocol.
 * A non-first fragment stops the walk (what follows is payload) and is
 * flagged FRAG_LATER. A chain still going after PARSE_MAX_IPV6_EXT headers is
 * PARSE_ERR_DEPTH: the stack would go on and might find TCP, so the caller
 * must not treat it as harmless. pi->l4_len is set on every non-error
 * return (and for PARSE_ERR_DEPTH).
 */
static __always_inline int parse_ipv6(struct hdr_cursor *c, struct pkt_info *pi)
{
	struct ipv6hdr *ip6h = c->pos;
	struct ipv6_opt_hdr *opt;
	struct ipv6_frag_ext *fh;
	__s32 left; /* payload bytes after the headers walked so far */
	__u32 hl;
	__u16 frag;
	__u8 nh;
	int i;

	if ((void *)(ip6h + 1) > c->end)
		return PARSE_ERR_TRUNC;
	if (ip6h->version != 6)
		return PARSE_ERR_BAD;
	c->pos = ip6h + 1;
	pi->family = 6;
	__builtin_memcpy(pi->saddr, &ip6h->saddr, 16);
	nh = ip6h->nexthdr;
	left = bpf_ntohs(ip6h->payload_len);
	if (!left)
		left = L4_LEN_UNKNOWN;
	pi->l4_len = left;

#pragma unroll
	for (i = 0; i < PARSE_MAX_IPV6_EXT; i++) {
		if (!ipv6_is_ext(nh))
			return nh;
		if (nh == IPPROTO_FRAGMENT) {
			fh = c->pos;
			if ((void *)(fh + 1) > c->end)
				return PARSE_ERR_TRUNC;
			c->pos = fh + 1;
			left -= sizeof(*fh);
			pi->l4_len = left;
			nh = fh->nexthdr;
			frag = bpf_ntohs(fh->frag_off);
			if (frag & 0xfff8) {
				pi->frag = FRAG_LATER;
				pi->frag_off = frag >> 3;
				return nh;
			}
			if (frag & 1)
				pi->frag = FRAG_FIRST;
			continue;
		}
		/* hop-by-hop, routing, dest-opts: (hdrlen + 1) * 8 bytes */
		opt = c->pos;
		if ((void *)(opt + 1) > c->end)
			return PARSE_ERR_TRUNC;
		hl = (opt->hdrlen + 1) * 8;
		if (c->pos + hl > c->end)
			return PARSE_ERR_TRUNC;
		nh = opt->nexthdr;
		c->pos += hl;
		left -= hl;
		pi->l4_len = left;
	}
	return ipv6_is_ext(nh) ? PARSE_ERR_DEPTH : nh;
}

/* TCP header (the fixed 20 bytes; options are not needed). Returns the
 * destination port in host order; records it and the SYN flag in pi. */
static __always_inline int parse_tcphdr(struct hdr_cursor *c,
					struct pkt_info *pi)
{
	struct tcphdr *th = c->pos;

	if ((void *)(th + 1) > c->end)
		return PARSE_ERR_TRUNC;
	if (th->doff < 5)
		return PARSE_ERR_BAD;
	c->pos = th + 1;
	pi->dport = bpf_ntohs(th->dest);
	pi->syn = th->syn && !th->ack;
	return pi->dport;
}

#endif /* SLUICE_BPF_PARSE_H */
