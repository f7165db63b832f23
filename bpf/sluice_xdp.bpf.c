// SPDX-License-Identifier: MIT
/*
 * Sluice XDP program: for TCP to guarded ports (or every IP packet with
 * xdp.scope: all) apply, in order, the denylist, timed bans, the allowlist
 * (when enforced) and per-source token buckets (packets/s, then SYN/s);
 * everything else passes untouched. Every packet is counted (packets,
 * bytes) under exactly one enum sluice_reason, recorded on one exit path;
 * sampled drops go to a ring buffer for sluicectl top.
 *
 * Common case, one hash lookup: an IPv4 source that passed the rules has an
 * entry in the per-source table (SLUICE_MAP_SRC4) holding both its token
 * buckets and the verdict's rate class, stamped with the rules generation
 * (settings.gen) it was taken at.
 * While the generation is unchanged the deny/ban/allow maps are skipped;
 * any change to those maps (tries and host hashes) writes a new generation
 * after it (userspace: change the maps, then write gen), so a stale verdict
 * is never used.
 * Dropped sources get no entry (a spoofed flood cannot churn the table).
 *
 * Policy for packets whose ports or flags cannot be seen
 * (docs/OPERATIONS.md). The SYN bucket only holds if every SYN the kernel
 * accepts was seen as one here, and the kernel reassembles fragments
 * before TCP sees them, so:
 *  - A first TCP fragment whose IP packet holds less than the 20-byte TCP
 *    header (RFC 1858 "tiny fragment": the flags come in a later fragment)
 *    is dropped as drop_frag_tiny, and a TCP fragment at offset 8 bytes
 *    (RFC 1858 overlap: it could rewrite the flags) as drop_frag_overlap,
 *    whatever the port and the source. No sound stack sends either.
 *  - An IPv6 extension chain longer than PARSE_MAX_IPV6_EXT headers hides
 *    the TCP header and its port: dropped as drop_ext_depth.
 *  - Non-first fragments (IPv4 offset != 0, IPv6 fragment header with
 *    offset != 0) carry no TCP header. When the datagram may be TCP they
 *    are judged as if they went to a guarded port: source rules and the
 *    client's packet bucket (never the SYN bucket: the first fragment,
 *    which holds the flags, was judged for that). Other protocols pass as
 *    pass_unguarded. With scope all, every fragment is judged.
 *  - Lengths come from the IP header, not the frame: the kernel trims a
 *    frame to its IP length, so a TCP header in the tail is never read.
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
#include "lib/syncookie.h"

/* libxdp run config: run early (low number first) among programs sharing the
 * interface through the libxdp dispatcher; on XDP_PASS continue the chain. */
#define SLUICE_XDP_PRIORITY 10

struct {
	__uint(priority, SLUICE_XDP_PRIORITY);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(sluice_xdp);

/* Atomic compare-and-swap attempts on a contended bucket before giving up
 * (the packet is then dropped as over the limit). */
#define GCRA_TRIES 4

static __always_inline __u64 mask_u64(__u64 v, __u32 bits)
{
	if (bits >= 64)
		return v;
	if (bits == 0)
		return 0;
	return v & (~0ULL << (64 - bits));
}

/*
 * Generic cell rate algorithm on one 64-bit theoretical arrival time, shared
 * by all CPUs: admit when tat is at most tol ahead of now, then advance it by
 * interval with a compare-and-swap so two CPUs never spend the same token.
 * Returns 1 to admit, 0 to drop.
 */
static __always_inline int gcra(__u64 *tat, __u64 now, __u64 interval,
				__u64 tol)
{
	__u64 old, t;
	int i;

	if (!interval)
		return 1;
#pragma unroll
	for (i = 0; i < GCRA_TRIES; i++) {
		old = *(volatile __u64 *)tat;
		t = old > now ? old : now;
		if (t - now > tol)
			return 0;
		if (__sync_val_compare_and_swap(tat, old, t + interval) == old)
			return 1;
	}
	return 0;
}

/* Token buckets of one source: SYN/s first (a refused SYN spends no packet
 * token), then packets/s. pass is the reason to report when admitted. */
static __always_inline enum sluice_reason
rate_check(struct sluice_src *src, __u32 class_id, const struct pkt_info *pi,
	   enum sluice_reason pass)
{
	struct sluice_class *cl;
	__u64 now;

	cl = bpf_map_lookup_elem(&SLUICE_MAP_CLASSES, &class_id);
	if (!cl)
		return pass; /* unknown class: unlimited */
	if (!cl->pkt_interval_ns && !(pi->syn && cl->syn_interval_ns))
		return pass;
	/* The coarse clock (CLOCK_MONOTONIC_COARSE, tick resolution) costs
	 * a few ns where bpf_ktime_get_ns() costs ~20: the rate stays exact
	 * over time (tat moves by exactly one interval per admitted packet);
	 * only the instantaneous burst can exceed `burst` by one tick's
	 * worth of tokens. */
	now = bpf_ktime_get_coarse_ns();
	if (pi->syn && !gcra(&src->syn_tat, now, cl->syn_interval_ns,
			     cl->syn_tolerance_ns))
		return SLUICE_R_DROP_SYN_RATE;
	if (!gcra(&src->pkt_tat, now, cl->pkt_interval_ns,
		  cl->pkt_tolerance_ns))
		return SLUICE_R_DROP_RATE;
	return pass;
}

static __always_inline int ban_active(const struct sluice_ban *b)
{
	return b && (b->expires_ns == 0 || b->expires_ns > bpf_ktime_get_ns());
}

static __always_inline enum sluice_reason
pass_reason(const struct sluice_settings *s)
{
	return s && (s->flags & SLUICE_SET_ALLOWLIST) ? SLUICE_R_PASS_ALLOWED
						      : SLUICE_R_PASS_GUARDED;
}

/* deny > ban > allow for an IPv4 source; *class_id for the rate stage.
 * Each list is its host hash, then its trie: a host entry is the longest
 * match there is, so its class wins over any covering prefix's. A host
 * hash is looked up only while its SLUICE_SET_HOSTS_* flag is set (the
 * writers set it before the hash gets an entry), so small lists without
 * host entries pay for the tries alone. */
static __always_inline enum sluice_reason
rules4(const struct pkt_info *pi, const struct sluice_settings *s,
       __u32 *class_id)
{
	struct sluice_lpm4_key k = {.prefixlen = 32};
	struct sluice_rule *rule;
	__u32 hosts = s ? s->flags : 0;

	__builtin_memcpy(k.addr, pi->saddr, 4);
	if ((hosts & SLUICE_SET_HOSTS_DENY4 &&
	     bpf_map_lookup_elem(&SLUICE_MAP_HDENY4, &k)) ||
	    bpf_map_lookup_elem(&SLUICE_MAP_DENY4, &k))
		return SLUICE_R_DROP_DENY;
	if (ban_active(bpf_map_lookup_elem(&SLUICE_MAP_BAN4, &k)))
		return SLUICE_R_DROP_BANNED;
	*class_id = 0;
	if (!s || !(s->flags & SLUICE_SET_ALLOWLIST))
		return SLUICE_R_PASS_GUARDED;
	rule = hosts & SLUICE_SET_HOSTS_ALLOW4
		       ? bpf_map_lookup_elem(&SLUICE_MAP_HALLOW4, &k)
		       : NULL;
	if (!rule)
		rule = bpf_map_lookup_elem(&SLUICE_MAP_ALLOW4, &k);
	if (!rule)
		return SLUICE_R_DROP_NOT_ALLOWED;
	*class_id = rule->class_id;
	return SLUICE_R_PASS_ALLOWED;
}

static __always_inline enum sluice_reason
rules6(const struct pkt_info *pi, const struct sluice_settings *s,
       __u32 *class_id)
{
	struct sluice_lpm6_key k = {.prefixlen = 128};
	struct sluice_rule *rule;
	__u32 hosts = s ? s->flags : 0;

	__builtin_memcpy(k.addr, pi->saddr, 16);
	if ((hosts & SLUICE_SET_HOSTS_DENY6 &&
	     bpf_map_lookup_elem(&SLUICE_MAP_HDENY6, &k)) ||
	    bpf_map_lookup_elem(&SLUICE_MAP_DENY6, &k))
		return SLUICE_R_DROP_DENY;
	if (ban_active(bpf_map_lookup_elem(&SLUICE_MAP_BAN6, &k)))
		return SLUICE_R_DROP_BANNED;
	*class_id = 0;
	if (!s || !(s->flags & SLUICE_SET_ALLOWLIST))
		return SLUICE_R_PASS_GUARDED;
	rule = hosts & SLUICE_SET_HOSTS_ALLOW6
		       ? bpf_map_lookup_elem(&SLUICE_MAP_HALLOW6, &k)
		       : NULL;
	if (!rule)
		rule = bpf_map_lookup_elem(&SLUICE_MAP_ALLOW6, &k);
	if (!rule)
		return SLUICE_R_DROP_NOT_ALLOWED;
	*class_id = rule->class_id;
	return SLUICE_R_PASS_ALLOWED;
}

static __always_inline int is_drop(enum sluice_reason r)
{
	return sluice_reason_is_drop(r);
}

/* Find or create the per-source state. NULL only if the table refuses. */
static __always_inline struct sluice_src *src_get(void *map, const void *key)
{
	struct sluice_src fresh = {};
	struct sluice_src *src;

	src = bpf_map_lookup_elem(map, key);
	if (src)
		return src;
	bpf_map_update_elem(map, key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/* The rate stage's input: the source's state (NULL: no limits apply) and
 * its rate class. */
struct rate_in {
	struct sluice_src *src;
	__u32 class_id;
};

/* Rules for an IPv4 source. The per-source cache is consulted first: a
 * source whose entry carries the current rules generation skips the tries
 * (one lookup); otherwise the tries decide and a passing source gets (or
 * refreshes) its entry. */
static __always_inline enum sluice_reason
judge4(const struct pkt_info *pi, const struct sluice_settings *s,
       struct rate_in *ri)
{
	struct sluice_src4_key key;
	struct sluice_src *src = NULL;
	enum sluice_reason r;
	__u32 class_id = 0;
	__u64 gen = 0;
	int rate = s && (s->flags & SLUICE_SET_RATE);

	if (rate) {
		gen = s->gen; /* read before the tries: see the top comment */
		__builtin_memcpy(key.addr, pi->saddr, 4);
		src = bpf_map_lookup_elem(&SLUICE_MAP_SRC4, &key);
		if (src && gen && src->gen == gen) {
			ri->src = src;
			ri->class_id = src->class_id;
			return pass_reason(s);
		}
	}

	r = rules4(pi, s, &class_id);
	if (!rate || is_drop(r))
		return r;
	if (!src)
		src = src_get(&SLUICE_MAP_SRC4, &key);
	if (!src)
		return r; /* table refused an entry: fail open */
	src->class_id = class_id;
	src->gen = gen;
	ri->src = src;
	ri->class_id = class_id;
	return r;
}

static __always_inline enum sluice_reason
judge6(const struct pkt_info *pi, const struct sluice_settings *s,
       struct rate_in *ri)
{
	struct sluice_src6_key key;
	enum sluice_reason r;
	__u32 class_id = 0;
	__u64 hi, lo;
	__u32 plen;

	r = rules6(pi, s, &class_id);
	if (is_drop(r) || !s || !(s->flags & SLUICE_SET_RATE))
		return r;

	/* one bucket per /v6_prefix: rotating addresses inside it is futile */
	plen = s->v6_prefix;
	__builtin_memcpy(&hi, pi->saddr, 8);
	__builtin_memcpy(&lo, pi->saddr + 8, 8);
	hi = bpf_cpu_to_be64(mask_u64(bpf_be64_to_cpu(hi), plen));
	lo = bpf_cpu_to_be64(
		mask_u64(bpf_be64_to_cpu(lo), plen > 64 ? plen - 64 : 0));
	__builtin_memcpy(key.addr, &hi, 8);
	__builtin_memcpy(key.addr + 8, &lo, 8);
	ri->src = src_get(&SLUICE_MAP_SRC6, &key);
	ri->class_id = class_id;
	return r;
}

/* Verdict for a packet that is in scope: the rules, then (for a source
 * that passed them and has state) the rate stage. One call site, so the
 * whole judging path is emitted once. */
static __always_inline enum sluice_reason
judge(const struct pkt_info *pi, const struct sluice_settings *s)
{
	struct rate_in ri = {};
	enum sluice_reason r;

	if (pi->family == 4)
		r = judge4(pi, s, &ri);
	else
		r = judge6(pi, s, &ri);
	if (!ri.src)
		return r;
	return rate_check(ri.src, ri.class_id, pi, r);
}

static __always_inline int port_guarded(int port)
{
	__u32 k = (__u16)port;
	struct sluice_port_val *v;

	v = bpf_map_lookup_elem(&SLUICE_MAP_PORTS, &k);
	return v && (v->flags & SLUICE_PORT_GUARDED);
}

/* A non-first fragment whose reassembled datagram may be TCP: IPv4
 * protocol TCP; after an IPv6 fragment header, TCP or an extension header
 * of the fragmentable part, which TCP may follow. */
static __always_inline int later_frag_may_be_tcp(const struct pkt_info *pi,
						 int l4)
{
	if (l4 == IPPROTO_TCP)
		return 1;
	return pi->family == 6 && ipv6_is_ext(l4);
}

/* Rules alone (deny, ban, allow; no per-source state) for a SYN about to
 * be answered with a cookie: a spoofed flood leaves no state behind. */
static __always_inline enum sluice_reason
rules(const struct pkt_info *pi, const struct sluice_settings *s)
{
	__u32 class_id;

	if (pi->family == 4)
		return rules4(pi, s, &class_id);
	return rules6(pi, s, &class_id);
}

/*
 * SYN cookies (lib/syncookie.h) for TCP to a guarded port while they are
 * on: a SYN the rules pass is answered (SLUICE_R_TX_SYNCOOKIE, the frame
 * rewritten), an ACK for the listener alone with a bad cookie is dropped.
 * Returns SLUICE_R_MAX to judge the packet as usual; *valid_ack tells
 * that it is a handshake ACK with a valid cookie.
 */
static __always_inline enum sluice_reason
cookie_stage(struct xdp_md *ctx, struct pkt_info *pi,
	     const struct sluice_settings *s, void *l3, struct tcphdr *th,
	     void *end, int *valid_ack)
{
	enum sluice_reason r;
	__u32 th_len, l3off;
	int ret;

	if (th->rst || pi->frag != FRAG_NONE)
		return SLUICE_R_MAX;
	if (pi->syn) {
		th_len = th->doff * 4;
		if ((void *)th + th_len > end || (__s32)th_len > pi->l4_len)
			return SLUICE_R_MAX;
		r = rules(pi, s);
		if (is_drop(r))
			return r;
		if (!sc_active(s, 1))
			return SLUICE_R_MAX;
		l3off = l3 - (void *)(long)ctx->data;
		if (pi->family == 4)
			ret = sc_synack4(ctx, l3off, l3, th, th_len);
		else
			ret = sc_synack6(ctx, l3off, l3, th, th_len);
		/* on failure the SYN takes the ordinary path: the helpers
		 * refused it (frame untouched), or the resize did (frame
		 * untouched); the checks after a resize only convince the
		 * verifier and cannot fail */
		return ret ? SLUICE_R_MAX : SLUICE_R_TX_SYNCOOKIE;
	}
	if (!th->ack || th->syn || !sc_active(s, 0))
		return SLUICE_R_MAX;
	ret = sc_ack(ctx, pi, l3, th);
	if (ret == SC_ACK_BAD)
		return SLUICE_R_DROP_SYNCOOKIE;
	*valid_ack = ret == SC_ACK_VALID;
	return SLUICE_R_MAX;
}

/* l4: what parse_ipv4/parse_ipv6 returned; the cursor is past the IP
 * headers, which start at l3. */
static __always_inline enum sluice_reason
classify(struct xdp_md *ctx, struct hdr_cursor *c, struct pkt_info *pi,
	 int l4, const struct sluice_settings *s, void *l3)
{
	int all = s && (s->flags & SLUICE_SET_SCOPE_ALL);
	int dport, guarded, valid_ack = 0;
	struct tcphdr *th;
	enum sluice_reason r;

	if (l4 == PARSE_ERR_DEPTH)
		return SLUICE_R_DROP_EXT_DEPTH; /* TCP and port out of sight */
	if (l4 < 0)
		return SLUICE_R_PASS_MALFORMED;
	if (pi->frag == FRAG_LATER) {
		/* RFC 1858: at offset 8 bytes a TCP fragment can only
		 * rewrite the first fragment's header (flags, data offset) */
		if (l4 == IPPROTO_TCP && pi->frag_off == 1)
			return SLUICE_R_DROP_FRAG_OVERLAP;
		/* no ports: a later fragment of TCP is judged as if it went
		 * to a guarded port (source rules and the packet bucket) */
		if (all || later_frag_may_be_tcp(pi, l4))
			goto judge;
		return SLUICE_R_PASS_UNGUARDED;
	}
	if (l4 != IPPROTO_TCP) {
		if (!all)
			return SLUICE_R_PASS_UNGUARDED;
		goto judge;
	}

	/* The TCP header must lie inside the IP packet, not in a tail the
	 * kernel trims; a first fragment too short for it hides its flags
	 * in the next one (RFC 1858 tiny fragment). */
	if (pi->l4_len < TCP_HDR_MIN)
		return pi->frag == FRAG_FIRST ? SLUICE_R_DROP_FRAG_TINY
					      : SLUICE_R_PASS_MALFORMED;
	th = c->pos;
	dport = parse_tcphdr(c, pi);
	if (dport == PARSE_ERR_TRUNC && pi->frag == FRAG_FIRST)
		return SLUICE_R_DROP_FRAG_TINY; /* the frame lacks its flags */
	if (dport < 0)
		return SLUICE_R_PASS_MALFORMED;
	guarded = port_guarded(dport);
	if (!all && !guarded)
		return SLUICE_R_PASS_UNGUARDED;
	if (guarded && s &&
	    (s->flags & (SLUICE_SET_COOKIE_ON | SLUICE_SET_COOKIE_AUTO)) &&
	    (void *)(th + 1) <= c->end) {
		r = cookie_stage(ctx, pi, s, l3, th, c->end, &valid_ack);
		if (r != SLUICE_R_MAX)
			return r;
	}
	r = judge(pi, s);
	if (valid_ack && !is_drop(r))
		return SLUICE_R_PASS_SYNCOOKIE;
	return r;
judge:
	return judge(pi, s);
}

/*
 * Report 1 in 2^sample_shift drops to the ring buffer: the drops whose
 * per-CPU count under their reason (n, just incremented) is a multiple of
 * 2^shift. Systematic sampling off a counter the packet already updated
 * costs nothing on the 2^shift - 1 drops that are not sampled, where a
 * bpf_get_prandom_u32() call per drop cost ~5 ns.
 */
static __always_inline void sample_drop(__u32 len,
					const struct sluice_settings *s,
					const struct pkt_info *pi,
					enum sluice_reason r, __u64 n)
{
	struct sluice_event *ev;
	__u32 shift = s->sample_shift;

	if (shift > 31)
		return;
	if (n & ((1ull << shift) - 1))
		return;
	ev = bpf_ringbuf_reserve(&SLUICE_MAP_EVENTS, sizeof(*ev), 0);
	if (!ev)
		return; /* nobody reading and the ring is full */
	ev->ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(ev->addr, pi->saddr, 16);
	ev->family = pi->family;
	ev->reason = (__u8)r;
	ev->dport = pi->dport;
	ev->len = len;
	bpf_ringbuf_submit(ev, 0);
}

/* The one exit: count the packet (len: its bytes as received, before a
 * SYN cookie rewrite) under its reason, map reason to action. */
static __always_inline int record(__u32 len, enum sluice_reason r,
				  const struct sluice_settings *s,
				  const struct pkt_info *pi)
{
	struct sluice_counter *cnt;
	__u32 key = r;
	__u64 n = 0;

	cnt = bpf_map_lookup_elem(&SLUICE_MAP_STATS, &key);
	if (cnt) {
		n = ++cnt->packets;
		cnt->bytes += len;
	}
	if (r == SLUICE_R_TX_SYNCOOKIE)
		return XDP_TX;
	if (!is_drop(r))
		return XDP_PASS;
	if (s && (s->flags & SLUICE_SET_EVENTS))
		sample_drop(len, s, pi, r, n);
	return XDP_DROP;
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	struct hdr_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct sluice_settings *s = NULL;
	struct pkt_info pi = {};
	enum sluice_reason r;
	__u32 zero = 0;
	__u32 len = ctx->data_end - ctx->data;
	void *l3;
	int proto;

	proto = parse_ethhdr(&c);
	l3 = c.pos;
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
	s = bpf_map_lookup_elem(&SLUICE_MAP_SETTINGS, &zero);
	r = classify(ctx, &c, &pi, proto, s, l3);
out:
	return record(len, r, s, &pi);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
