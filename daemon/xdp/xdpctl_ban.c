// SPDX-License-Identifier: MIT
/*
 * Bans (part of the xdpctl module): timed entries in the v4/v6 ban tries,
 * written by the daemon's L7 escalation (through the loaded handle,
 * xdpctl.c) and by operators (live edits, xdpctl_live.c). Callers hold the
 * pin directory's flock, as every writer of the ban maps does. A reload's
 * sync never touches these tries.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "config/allowlist.h"
#include "xdp/xdpctl_int.h"

/* Whether a ban expiring at a_exp ends no earlier than one expiring at
 * b_exp (0 is never; an expired ban ends at once). */
static bool ban_outlasts(uint64_t a_exp, uint64_t b_exp, uint64_t now)
{
	if (a_exp == 0)
		return true;
	if (a_exp <= now)
		return false;
	return b_exp != 0 && a_exp >= b_exp;
}

/*
 * An escalation ban must not shorten a ban already in force: neither the
 * entry with the same key (an operator's "ban --for 1d", or a permanent
 * one) nor a covering shorter prefix (an operator ban on 203.0.113.0/24: a
 * /32 entry that expires first would shadow it in the LPM trie, and the
 * client would pass once it expired). An LPM lookup finds the longest entry
 * no longer than the key's prefixlen, so key finds the same key or the best
 * cover, and shorter (prefixlen - 1) the best strict cover. Returns true
 * when one of them outlasts b (then b is not written). Callers hold the pin
 * lock, as every writer of the ban maps does.
 */
static bool ban_covered(int fd, const void *key, const void *shorter,
			const struct sluice_ban *b, uint64_t now)
{
	struct sluice_ban cur;

	if (bpf_map_lookup_elem(fd, key, &cur) == 0 &&
	    ban_outlasts(cur.expires_ns, b->expires_ns, now))
		return true;
	return shorter && bpf_map_lookup_elem(fd, shorter, &cur) == 0 &&
	       ban_outlasts(cur.expires_ns, b->expires_ns, now);
}

int xdpctl__ban(int ban4_fd, int ban6_fd, int settings_fd,
		const struct allowlist_entry *e, uint64_t for_ns,
		uint32_t source)
{
	struct sluice_ban b = {.source = source};
	uint64_t now = xdpctl__now_ns();
	/* an operator sets exactly what they asked (also a shorter ban);
	 * escalation only ever lengthens one */
	bool keep_later = source == SLUICE_BAN_DAEMON;
	int err;

	b.created_ns = now;
	b.expires_ns = for_ns ? now + for_ns : 0;
	if (e->family == AF_INET) {
		struct sluice_lpm4_key k = {.prefixlen = e->prefixlen};
		struct sluice_lpm4_key up;

		if (e->prefixlen > 32)
			return -EINVAL;
		xdpctl__mask_addr(k.addr, e->addr, 4, e->prefixlen);
		up = k;
		up.prefixlen = e->prefixlen ? e->prefixlen - 1u : 0;
		if (keep_later &&
		    ban_covered(ban4_fd, &k, e->prefixlen ? &up : NULL, &b, now))
			return 0;
		err = bpf_map_update_elem(ban4_fd, &k, &b, BPF_ANY);
	} else if (e->family == AF_INET6) {
		struct sluice_lpm6_key k = {.prefixlen = e->prefixlen};
		struct sluice_lpm6_key up;

		if (e->prefixlen > 128)
			return -EINVAL;
		xdpctl__mask_addr(k.addr, e->addr, 16, e->prefixlen);
		up = k;
		up.prefixlen = e->prefixlen ? e->prefixlen - 1u : 0;
		if (keep_later &&
		    ban_covered(ban6_fd, &k, e->prefixlen ? &up : NULL, &b, now))
			return 0;
		err = bpf_map_update_elem(ban6_fd, &k, &b, BPF_ANY);
	} else {
		return -EAFNOSUPPORT;
	}
	if (err < 0)
		return errno == E2BIG ? -ENOSPC : -errno;
	/* a ban can hit a source whose "allowed" verdict is cached */
	return xdpctl__bump_gen(settings_fd, NULL);
}

/* Unexpired entries of one ban trie. */
static long count_live(int fd, size_t key_size, uint64_t now)
{
	unsigned char key[sizeof(struct sluice_lpm6_key)];
	unsigned char next[sizeof(struct sluice_lpm6_key)];
	const void *prev = NULL;
	struct sluice_ban b;
	long n = 0;

	for (long guard = 0; guard < (1L << 24); guard++) {
		if (bpf_map_get_next_key(fd, prev, next) < 0)
			return errno == ENOENT ? n : -errno;
		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, &b) < 0)
			continue; /* removed meanwhile */
		if (!b.expires_ns || b.expires_ns > now)
			n++;
	}
	return -E2BIG;
}

long xdpctl__count_bans(int ban4_fd, int ban6_fd)
{
	uint64_t now = xdpctl__now_ns();
	long n4, n6;

	n4 = count_live(ban4_fd, sizeof(struct sluice_lpm4_key), now);
	if (n4 < 0)
		return n4;
	n6 = count_live(ban6_fd, sizeof(struct sluice_lpm6_key), now);
	return n6 < 0 ? n6 : n4 + n6;
}
