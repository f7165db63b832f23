/* SPDX-License-Identifier: MIT */
/*
 * Hand-built test frames: Ethernet (+ up to 3 VLAN tags), IPv4 (+ options,
 * fragment field), IPv6 (+ extension headers), TCP/UDP, ARP. Every field is
 * written byte by byte in network order, so the frames do not depend on the
 * code under test.
 */
#ifndef SLUICE_TEST_FRAMES_H
#define SLUICE_TEST_FRAMES_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#define FRAME_MAX 1024

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
};

struct frame_spec {
	uint8_t family;	 /* 4 or 6; 0 builds an ARP request */
	uint8_t l4;	 /* IPPROTO_TCP or IPPROTO_UDP */
	const char *src; /* source address (text) */
	const char *dst; /* destination address; NULL: a default */
	uint16_t dport;
	uint16_t vlan_tpid[3]; /* outermost first: 0x88a8 or 0x8100 */
	uint8_t n_vlan;
	uint8_t ip4_opt_words; /* IPv4 options in 32-bit words (IHL - 5) */
	uint8_t ip4_ihl;       /* override IHL (0: 5 + ip4_opt_words) */
	uint16_t ip4_frag;     /* IPv4 frag_off field: 0x2000 MF | offset */
	const uint8_t *ext;    /* IPv6 extension header types, in order */
	uint8_t n_ext;
	uint16_t frag6;	  /* fragment header field: offset << 3 | M */
	uint8_t l4_len;	  /* L4 bytes written; 0: full (TCP 20, UDP 8) */
	uint8_t l4_off;	  /* L4 header bytes skipped before those: the
			   * slice of the header a later fragment holds */
	uint16_t payload; /* payload bytes after the L4 header */
	uint8_t tcp_flags; /* TCP flags byte; 0: SYN */
	uint16_t sport;	   /* L4 source port; 0: 40000 */
};

static inline uint8_t *frame_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint16_t frame_csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Build the frame; returns its length, 0 if the spec is invalid. */
static inline size_t frame_build(const struct frame_spec *s, struct frame *f)
{
	static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01};
	static const uint8_t smac[6] = {0x02, 0, 0, 0, 0, 0x02};
	uint8_t *p = f->b, *ip, *l4;
	uint16_t ethertype;
	size_t l4_len, ip_len;

	memset(f, 0, sizeof(*f));
	memcpy(p, dmac, 6);
	memcpy(p + 6, smac, 6);
	p += 12;
	for (int i = 0; i < s->n_vlan; i++) {
		p = frame_put16(p, s->vlan_tpid[i]);
		p = frame_put16(p, (uint16_t)(100 + i)); /* TCI: VLAN id */
	}
	ethertype = s->family == 4 ? 0x0800 : s->family == 6 ? 0x86dd : 0x0806;
	p = frame_put16(p, ethertype);

	if (s->family == 0) { /* ARP request, Ethernet/IPv4 */
		p = frame_put16(p, 1);
		p = frame_put16(p, 0x0800);
		*p++ = 6;
		*p++ = 4;
		p = frame_put16(p, 1);
		memcpy(p, smac, 6);
		p += 6 + 4;
		memset(p, 0, 6);
		p += 6 + 4;
		f->len = (size_t)(p - f->b);
		return f->len;
	}

	l4_len = s->l4_len ? s->l4_len : s->l4 == IPPROTO_TCP ? 20 : 8;
	ip = p;
	if (s->family == 4) {
		size_t hl = 20 + 4u * s->ip4_opt_words;

		if (hl > 60)
			return 0;
		ip_len = hl + l4_len + s->payload;
		ip[0] = (uint8_t)(0x40 | (s->ip4_ihl ? s->ip4_ihl
						     : 5 + s->ip4_opt_words));
		frame_put16(ip + 2, (uint16_t)ip_len);
		frame_put16(ip + 4, 0x1234);
		frame_put16(ip + 6, s->ip4_frag);
		ip[8] = 64;
		ip[9] = s->l4;
		if (inet_pton(AF_INET, s->src, ip + 12) != 1 ||
		    inet_pton(AF_INET, s->dst ? s->dst : "198.18.1.1",
			      ip + 16) != 1)
			return 0;
		/* options: NOPs, then End of Option List */
		memset(ip + 20, 1, hl - 20);
		if (hl > 20)
			ip[hl - 1] = 0;
		frame_put16(ip + 10, frame_csum(ip, hl));
		p = ip + hl;
	} else {
		uint8_t *nh = ip + 6;

		ip[0] = 0x60;
		ip[7] = 64;
		if (inet_pton(AF_INET6, s->src, ip + 8) != 1 ||
		    inet_pton(AF_INET6, s->dst ? s->dst : "fd00:5c::1",
			      ip + 24) != 1)
			return 0;
		p = ip + 40;
		for (int i = 0; i < s->n_ext; i++) {
			*nh = s->ext[i];
			nh = p;
			switch (s->ext[i]) {
			case IPPROTO_HOPOPTS: /* 8 bytes: PadN(4) */
				p[1] = 0;
				p[2] = 1;
				p[3] = 4;
				p += 8;
				break;
			case IPPROTO_DSTOPTS: /* 16 bytes: PadN(12) */
				p[1] = 1;
				p[2] = 1;
				p[3] = 12;
				p += 16;
				break;
			case IPPROTO_ROUTING: /* 8 bytes, segments left 0 */
				p[1] = 0;
				p[2] = 253;
				p[3] = 0;
				p += 8;
				break;
			case IPPROTO_FRAGMENT: /* 8 bytes */
				frame_put16(p + 2, s->frag6);
				p[4] = 0xab;
				p += 8;
				break;
			default:
				return 0;
			}
		}
		*nh = s->l4;
		ip_len = (size_t)(p - ip) + l4_len + s->payload;
		frame_put16(ip + 4, (uint16_t)(ip_len - 40));
	}

	l4 = p;
	{
		uint8_t hdr[20] = {0};
		size_t n;

		frame_put16(hdr, s->sport ? s->sport : 40000);
		frame_put16(hdr + 2, s->dport);
		if (s->l4 == IPPROTO_TCP) {
			hdr[12] = 5 << 4; /* data offset */
			hdr[13] = s->tcp_flags ? s->tcp_flags : 0x02;
			frame_put16(hdr + 14, 65535);
		} else {
			frame_put16(hdr + 4, (uint16_t)(8 + s->payload));
		}
		if (s->l4_off >= sizeof(hdr))
			return 0;
		n = sizeof(hdr) - s->l4_off;
		memcpy(l4, hdr + s->l4_off, l4_len < n ? l4_len : n);
	}
	p = l4 + l4_len;
	memset(p, 0x5a, s->payload);
	p += s->payload;
	f->len = (size_t)(p - f->b);
	return f->len > FRAME_MAX ? 0 : f->len;
}

#endif
