/* SPDX-License-Identifier: MIT */
/*
 * SYN cookies from XDP (xdp.syncookies; design in docs/SYNCOOKIES.md).
 *
 * A SYN is answered in place with a SYN-ACK whose sequence number is the
 * kernel's own SYN cookie (bpf_tcp_raw_gen_syncookie_ipv4/6: the same
 * secret and format as the stack's __cookie_v4/v6_init_sequence), sent back
 * out of the interface (XDP_TX); no state is kept. The returning ACK, when
 * no socket but the listener owns its 4-tuple, has its cookie checked
 * (bpf_tcp_raw_check_syncookie_ipv4/6): a bad one is dropped, a good one is
 * passed, and the stack's own cookie path (net.ipv4.tcp_syncookies = 2,
 * set by sluiced) turns it into a connection.
 *
 * The stack accepts a cookie ACK only on a listener that sent cookies
 * itself in the last two minutes (tcp_synq_no_recent_overflow()). Since
 * XDP now answers the SYNs, before passing a valid cookie ACK the program
 * marks the listener as such with bpf_tcp_gen_syncookie() on a copy of
 * the ACK's header turned into a SYN (its cookie is discarded).
 *
 * The SYN-ACK carries only the MSS option: the stack decodes window
 * scaling and SACK from the timestamp the ACK echoes, and subtracts a
 * per-connection offset from it that XDP cannot compute, so a connection
 * opened through an XDP cookie has no window scaling, SACK nor
 * timestamps (RFC 4987 section 3.6: the usual cookie trade-off).
 */
#ifndef SLUICE_BPF_SYNCOOKIE_H
#define SLUICE_BPF_SYNCOOKIE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include <sluice/abi.h>

#include "maps.h"
#include "parse.h"

/* bpf_tcp_raw_gen_syncookie_ipv4/6 and bpf_tcp_raw_check_syncookie_ipv4/6
 * are helpers (Linux 6.0), declared in bpf_helper_defs.h. */
#define TCPOPT_MSS  2
#define TCPOLEN_MSS 4

/* struct bpf_sock.state of a listener (the kernel's TCP_LISTEN). */
#define SC_TCP_LISTEN 10
#define SC_TTL	      64
#define SC_WINDOW     65535 /* unscaled: no window scaling (see above) */
/* Largest Ethernet + VLAN prefix parse_ethhdr() accepts. */
#define SC_L2_MAX (sizeof(struct ethhdr) + 2 * sizeof(struct vlan_tag))

/* The SYN-ACK's TCP header: 20 bytes and the MSS option. */
struct sc_tcp {
	struct tcphdr th;
	__u8 mss_kind, mss_len;
	__be16 mss;
};

struct sc_pseudo4 {
	__be32 saddr, daddr;
	__u8 zero, proto;
	__be16 len;
};

struct sc_pseudo6 {
	struct in6_addr saddr, daddr;
	__be32 len;
	__u8 zero[3], nexthdr;
};

static __always_inline __u16 sc_fold(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Whether SYNs are answered with cookies now. count: this is a SYN that
 * passed the rules, to be counted by the flood detector. */
static __always_inline int sc_active(const struct sluice_settings *s, int count)
{
	struct sluice_synflood *st;
	__u32 zero = 0;
	__u64 now, w, old;

	if (s->flags & SLUICE_SET_COOKIE_ON)
		return 1;
	if (!(s->flags & SLUICE_SET_COOKIE_AUTO))
		return 0;
	st = bpf_map_lookup_elem(&SLUICE_MAP_SYNFLOOD, &zero);
	if (!st)
		return 0;
	now = bpf_ktime_get_coarse_ns();
	if (count) {
		w = now >> SLUICE_SYNFLOOD_WINDOW_SHIFT;
		old = st->window;
		/* the CPU that moves the window resets the count (a SYN
		 * another CPU counts meanwhile may be lost: harmless) */
		if (old != w &&
		    __sync_val_compare_and_swap(&st->window, old, w) == old)
			st->syns = 0;
		if (__sync_fetch_and_add(&st->syns, 1) >= s->cookie_syn_window)
			st->active_until_ns = now + SLUICE_SYNFLOOD_HOLD_NS;
	}
	return now < st->active_until_ns;
}

/* Swap the Ethernet addresses (the frame goes back where it came from). */
static __always_inline int sc_swap_mac(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return 0;
}

/* The SYN-ACK's TCP header for a SYN th with cookie and mss. */
static __always_inline void
sc_tcp_fill(struct sc_tcp *t, const struct tcphdr *th, __u32 cookie, __u16 mss)
{
	__builtin_memset(t, 0, sizeof(*t));
	t->th.source = th->dest;
	t->th.dest = th->source;
	t->th.seq = bpf_htonl(cookie);
	t->th.ack_seq = bpf_htonl(bpf_ntohl(th->seq) + 1);
	t->th.doff = sizeof(*t) / 4;
	t->th.syn = 1;
	t->th.ack = 1;
	t->th.window = bpf_htons(SC_WINDOW);
	t->mss_kind = TCPOPT_MSS;
	t->mss_len = TCPOLEN_MSS;
	t->mss = bpf_htons(mss);
}

/* The SYN's TCP header, options included, copied where the cookie helper
 * may read th_len bytes of it (the verifier cannot prove a header of
 * variable length inside the frame). */
struct sc_syn {
	union {
		struct tcphdr th;
		__u8 b[60];
	};
};

static __always_inline int sc_syn_load(struct xdp_md *ctx,
				       const struct tcphdr *th, __u32 th_len,
				       struct sc_syn *out)
{
	__u32 off = (void *)th - (void *)(long)ctx->data;

	__builtin_memset(out, 0, sizeof(*out));
	if (th_len < sizeof(*th) || th_len > sizeof(out->b))
		return -1;
	return bpf_xdp_load_bytes(ctx, off, out->b, th_len) ? -1 : 0;
}

/* l3off (checked <= SC_L2_MAX already) bounded in a way the verifier
 * sees: the compiler would drop a plain mask it can prove useless. */
static __always_inline __u64 sc_bound(__u64 l3off)
{
	asm volatile("%0 &= 0x1f" : "+r"(l3off));
	return l3off;
}

/* Resize the frame to l3off + len bytes; 0 or -1. */
static __always_inline int sc_resize(struct xdp_md *ctx, __u32 l3off, __u32 len)
{
	long old = (long)bpf_xdp_get_buff_len(ctx);

	return bpf_xdp_adjust_tail(ctx, (int)((long)(l3off + len) - old)) ? -1
									  : 0;
}

/*
 * Turn the IPv4 SYN (ip at l3off, TCP header th of th_len bytes, all
 * inside the frame) into a cookie SYN-ACK. 0, or -1 when the kernel gives
 * no cookie (the SYN then takes the ordinary path).
 */
static __always_inline int sc_synack4(struct xdp_md *ctx, __u32 l3off,
				      struct iphdr *iph, struct tcphdr *th,
				      __u32 th_len)
{
	struct {
		struct iphdr ip;
		struct sc_tcp tcp;
	} h;
	struct sc_pseudo4 ph;
	struct sc_syn syn;
	void *data, *end;
	__s64 r;

	if (l3off > SC_L2_MAX || sc_syn_load(ctx, th, th_len, &syn))
		return -1;
	r = bpf_tcp_raw_gen_syncookie_ipv4(iph, &syn.th, th_len);
	if (r < 0)
		return -1;
	__builtin_memset(&h.ip, 0, sizeof(h.ip));
	h.ip.version = 4;
	h.ip.ihl = 5;
	h.ip.tot_len = bpf_htons(sizeof(h));
	h.ip.frag_off = bpf_htons(0x4000); /* DF */
	h.ip.ttl = SC_TTL;
	h.ip.protocol = IPPROTO_TCP;
	h.ip.saddr = iph->daddr;
	h.ip.daddr = iph->saddr;
	sc_tcp_fill(&h.tcp, th, (__u32)r, (__u16)(r >> 32));
	h.ip.check =
		sc_fold(bpf_csum_diff(0, 0, (void *)&h.ip, sizeof(h.ip), 0));
	ph.saddr = h.ip.saddr;
	ph.daddr = h.ip.daddr;
	ph.zero = 0;
	ph.proto = IPPROTO_TCP;
	ph.len = bpf_htons(sizeof(h.tcp));
	r = bpf_csum_diff(0, 0, (void *)&ph, sizeof(ph), 0);
	h.tcp.th.check = sc_fold(
		bpf_csum_diff(0, 0, (void *)&h.tcp, sizeof(h.tcp), (__u32)r));

	/* iph and th are not used past this point: the frame changes */
	if (sc_resize(ctx, l3off, sizeof(h)) || sc_swap_mac(ctx))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	data += sc_bound(l3off);
	if (data + sizeof(h) > end)
		return -1;
	__builtin_memcpy(data, &h, sizeof(h));
	return 0;
}

static __always_inline int sc_synack6(struct xdp_md *ctx, __u32 l3off,
				      struct ipv6hdr *ip6h, struct tcphdr *th,
				      __u32 th_len)
{
	struct {
		struct ipv6hdr ip;
		struct sc_tcp tcp;
	} h;
	struct sc_pseudo6 ph;
	struct sc_syn syn;
	void *data, *end;
	__s64 r;

	if (l3off > SC_L2_MAX || sc_syn_load(ctx, th, th_len, &syn))
		return -1;
	r = bpf_tcp_raw_gen_syncookie_ipv6(ip6h, &syn.th, th_len);
	if (r < 0)
		return -1;
	__builtin_memset(&h.ip, 0, sizeof(h.ip));
	h.ip.version = 6;
	h.ip.payload_len = bpf_htons(sizeof(h.tcp));
	h.ip.nexthdr = IPPROTO_TCP;
	h.ip.hop_limit = SC_TTL;
	h.ip.saddr = ip6h->daddr;
	h.ip.daddr = ip6h->saddr;
	sc_tcp_fill(&h.tcp, th, (__u32)r, (__u16)(r >> 32));
	__builtin_memset(&ph, 0, sizeof(ph));
	ph.saddr = h.ip.saddr;
	ph.daddr = h.ip.daddr;
	ph.len = bpf_htonl(sizeof(h.tcp));
	ph.nexthdr = IPPROTO_TCP;
	r = bpf_csum_diff(0, 0, (void *)&ph, sizeof(ph), 0);
	h.tcp.th.check = sc_fold(
		bpf_csum_diff(0, 0, (void *)&h.tcp, sizeof(h.tcp), (__u32)r));

	if (sc_resize(ctx, l3off, sizeof(h)) || sc_swap_mac(ctx))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	data += sc_bound(l3off);
	if (data + sizeof(h) > end)
		return -1;
	__builtin_memcpy(data, &h, sizeof(h));
	return 0;
}

/* Mark the listener sk as sending cookies (see the top comment): the
 * kernel does so when it issues a cookie for a SYN; th is the ACK, its
 * copy is made a SYN. Best effort: with tcp_syncookies != 2 it fails and
 * the stack will refuse the ACK, as it would without XDP. */
static __always_inline void sc_mark_listener(struct bpf_sock *sk, void *iph,
					     __u32 iph_len,
					     const struct tcphdr *th)
{
	struct tcphdr syn;

	__builtin_memcpy(&syn, th, sizeof(syn));
	syn.doff = sizeof(syn) / 4;
	syn.ack = 0;
	syn.psh = 0;
	syn.fin = 0;
	syn.urg = 0;
	syn.ece = 0;
	syn.cwr = 0;
	syn.syn = 1;
	syn.seq = bpf_htonl(bpf_ntohl(th->seq) - 1);
	bpf_tcp_gen_syncookie(sk, iph, iph_len, &syn, sizeof(syn));
}

/* Result of sc_ack(). */
enum {
	SC_ACK_OTHER = 0, /* belongs to a connection (or to nothing) */
	SC_ACK_VALID = 1, /* a handshake ACK, its cookie valid */
	SC_ACK_BAD = 2,	  /* for the listener only, cookie invalid */
};

/* An ACK (no SYN, no RST) to a guarded port while cookies are on: is it
 * the end of a cookie handshake? l3 is the IP header. */
static __always_inline int sc_ack(struct xdp_md *ctx, const struct pkt_info *pi,
				  void *l3, struct tcphdr *th)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u32 tlen;
	int ok;

	if (pi->family == 4) {
		struct iphdr *iph = l3;

		t.ipv4.saddr = iph->saddr;
		t.ipv4.daddr = iph->daddr;
		t.ipv4.sport = th->source;
		t.ipv4.dport = th->dest;
		tlen = sizeof(t.ipv4);
	} else {
		struct ipv6hdr *ip6h = l3;

		__builtin_memcpy(t.ipv6.saddr, &ip6h->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, &ip6h->daddr, 16);
		t.ipv6.sport = th->source;
		t.ipv6.dport = th->dest;
		tlen = sizeof(t.ipv6);
	}
	sk = bpf_skc_lookup_tcp(ctx, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return SC_ACK_OTHER;
	if (sk->state != SC_TCP_LISTEN) {
		bpf_sk_release(sk);
		return SC_ACK_OTHER;
	}
	if (pi->family == 4)
		ok = bpf_tcp_raw_check_syncookie_ipv4(l3, th) == 0;
	else
		ok = bpf_tcp_raw_check_syncookie_ipv6(l3, th) == 0;
	if (ok) {
		if (pi->family == 4)
			sc_mark_listener(sk, l3, sizeof(struct iphdr), th);
		else
			sc_mark_listener(sk, l3, sizeof(struct ipv6hdr), th);
	}
	bpf_sk_release(sk);
	return ok ? SC_ACK_VALID : SC_ACK_BAD;
}

#endif /* SLUICE_BPF_SYNCOOKIE_H */
