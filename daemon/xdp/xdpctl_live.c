// SPDX-License-Identifier: MIT
/*
 * Live edits and top talkers (part of the xdpctl module), for the admin API
 * (liveapi.c), which sluiced serves on its admin socket and sluicectl
 * --pin-path runs in-process on the pinned maps.
 *
 * The pinned maps are the kernel's source of truth. A handle keeps the pin
 * directory open and takes its flock around every change, exactly as the
 * daemon does while it syncs (so a handle opened before a privilege drop
 * keeps working, and a long-lived one never blocks a reload). Allow/deny
 * edits are runtime only (the next reload re-syncs those tries from the
 * files); bans live in their own tries, which a reload never touches. Every
 * change to the deny/ban/allow tries is followed by a new rules generation
 * so cached per-source verdicts are retaken.
 */
#include "xdp/xdpctl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config/allowlist.h"
#include "config/config.h"
#include "policy/talkers.h"
#include "xdp/xdpctl_int.h"

struct xdpctl_live {
	int dir_fd;		/* the pin directory, flock'd per change */
	int allow4, allow6, deny4, deny6, ban4, ban6, classes, settings;
	int events;
	/* host hashes (/32, /128) beside the allow and deny tries */
	int hallow4, hallow6, hdeny4, hdeny6;
};

#define LIVE_NPINS 13

/* The maps a handle opens, and where each fd goes. */
static void live_want(struct xdpctl_live *l,
		      struct xdpctl_pin_want want[LIVE_NPINS])
{
	const struct xdpctl_pin_want w[LIVE_NPINS] = {
		{XDPCTL_MAP_ALLOW4, &l->allow4},
		{XDPCTL_MAP_ALLOW6, &l->allow6},
		{XDPCTL_MAP_DENY4, &l->deny4},
		{XDPCTL_MAP_DENY6, &l->deny6},
		{XDPCTL_MAP_BAN4, &l->ban4},
		{XDPCTL_MAP_BAN6, &l->ban6},
		{XDPCTL_MAP_CLASSES, &l->classes},
		{XDPCTL_MAP_SETTINGS, &l->settings},
		{XDPCTL_MAP_EVENTS, &l->events},
		{XDPCTL_MAP_HALLOW4, &l->hallow4},
		{XDPCTL_MAP_HALLOW6, &l->hallow6},
		{XDPCTL_MAP_HDENY4, &l->hdeny4},
		{XDPCTL_MAP_HDENY6, &l->hdeny6},
	};

	memcpy(want, w, sizeof(w));
}

/* The pin directory's flock around one change (as the daemon's sync). */
static int live_lock(struct xdpctl_live *l)
{
	return flock(l->dir_fd, LOCK_EX) < 0 ? -errno : 0;
}

static void live_unlock(struct xdpctl_live *l)
{
	flock(l->dir_fd, LOCK_UN);
}

void xdpctl_live_close(struct xdpctl_live *l)
{
	struct xdpctl_pin_want want[LIVE_NPINS];

	if (!l)
		return;
	live_want(l, want);
	xdpctl__pins_put(want, LIVE_NPINS);
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	free(l);
}

int xdpctl_live_open(const char *pin_path, struct xdpctl_live **out)
{
	struct xdpctl_pin_want want[LIVE_NPINS];
	struct xdpctl_live *l;
	int err;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	live_want(l, want);
	l->dir_fd = open(pin_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = l->dir_fd < 0 ? -errno : 0;
	if (!err)
		err = xdpctl__pins_get(pin_path, want, LIVE_NPINS, false);
	if (err) {
		if (l->dir_fd >= 0)
			close(l->dir_fd);
		free(l);
		return err;
	}
	*out = l;
	return 0;
}

/* Key of e for a v4 or v6 list; returns the map fd that holds it (the
 * family's host hash h4/h6 for a /32 or /128, else its trie fd4/fd6) or
 * -EAFNOSUPPORT. */
static int trie_key(const struct allowlist_entry *e, int fd4, int fd6,
		    int h4, int h6, struct sluice_lpm6_key *k6,
		    struct sluice_lpm4_key *k4, void **key)
{
	if (e->family == AF_INET && e->prefixlen <= 32) {
		memset(k4, 0, sizeof(*k4));
		k4->prefixlen = e->prefixlen;
		xdpctl__mask_addr(k4->addr, e->addr, 4, e->prefixlen);
		*key = k4;
		return e->prefixlen == 32 ? h4 : fd4;
	}
	if (e->family == AF_INET6 && e->prefixlen <= 128) {
		memset(k6, 0, sizeof(*k6));
		k6->prefixlen = e->prefixlen;
		xdpctl__mask_addr(k6->addr, e->addr, 16, e->prefixlen);
		*key = k6;
		return e->prefixlen == 128 ? h6 : fd6;
	}
	return -EAFNOSUPPORT;
}

/* Key of e in the allow or deny trie of its family; returns that fd. */
static int list_key(struct xdpctl_live *l, enum xdpctl_list which,
		    const struct allowlist_entry *e, struct sluice_lpm6_key *k6,
		    struct sluice_lpm4_key *k4, void **key)
{
	return which == XDPCTL_ALLOW
		       ? trie_key(e, l->allow4, l->allow6, l->hallow4,
				  l->hallow6, k6, k4, key)
		       : trie_key(e, l->deny4, l->deny6, l->hdeny4, l->hdeny6,
				  k6, k4, key);
}

/* The class id for an allow entry with options: an existing slot with the
 * same limits, else a free one. */
static int live_class(struct xdpctl_live *l, const struct allowlist_entry *e,
		      __u32 *id)
{
	struct sluice_class def, want, cur;
	struct config_rate dr;
	__u32 zero = 0, free_slot = 0;

	if (!allowlist_has_options(e)) {
		*id = 0;
		return 0;
	}
	if (bpf_map_lookup_elem(l->classes, &zero, &def) < 0)
		return -errno;
	dr.rate = def.pkt_rate;
	dr.burst = def.pkt_burst;
	dr.syn = def.syn_rate;
	dr.syn_burst = def.syn_burst;
	xdpctl_class_of(&want, &dr, e);
	if (!memcmp(&want, &def, sizeof(def))) {
		*id = 0;
		return 0;
	}
	for (__u32 i = 1; i < SLUICE_MAX_CLASSES; i++) {
		static const struct sluice_class z;

		if (bpf_map_lookup_elem(l->classes, &i, &cur) < 0)
			return -errno;
		if (!memcmp(&cur, &want, sizeof(cur))) {
			*id = i;
			return 0;
		}
		if (!free_slot && !memcmp(&cur, &z, sizeof(z)))
			free_slot = i;
	}
	if (!free_slot)
		return -ENOSPC;
	if (bpf_map_update_elem(l->classes, &free_slot, &want, BPF_ANY) < 0)
		return -errno;
	*id = free_slot;
	return 0;
}

/* Insert rule at key; an entry already there with the same class is
 * -EEXIST, one with another class is updated (its limits change). */
static int put_rule(int fd, const void *key, const struct sluice_rule *rule)
{
	struct sluice_rule cur;

	if (bpf_map_update_elem(fd, key, rule, BPF_NOEXIST) == 0)
		return 0;
	if (errno != EEXIST)
		return errno == E2BIG ? -ENOSPC : -errno;
	/* the exact key exists, so the longest match is that entry */
	if (bpf_map_lookup_elem(fd, key, &cur) < 0)
		return -errno;
	if (cur.class_id == rule->class_id)
		return -EEXIST;
	cur.class_id = rule->class_id;
	if (bpf_map_update_elem(fd, key, &cur, BPF_EXIST) < 0)
		return -errno;
	return 0;
}

/* The SLUICE_SET_HOSTS_* flag of the map behind fd; 0 for a trie. */
static __u32 host_flag(const struct xdpctl_live *l, int fd)
{
	if (fd == l->hdeny4)
		return SLUICE_SET_HOSTS_DENY4;
	if (fd == l->hdeny6)
		return SLUICE_SET_HOSTS_DENY6;
	if (fd == l->hallow4)
		return SLUICE_SET_HOSTS_ALLOW4;
	if (fd == l->hallow6)
		return SLUICE_SET_HOSTS_ALLOW6;
	return 0;
}

int xdpctl_live_add(struct xdpctl_live *l, enum xdpctl_list which,
		    const struct allowlist_entry *e)
{
	struct sluice_rule rule = {.flags = SLUICE_RULE_RUNTIME};
	struct sluice_lpm4_key k4;
	struct sluice_lpm6_key k6;
	void *key;
	int fd, err;

	if (which == XDPCTL_DENY && allowlist_has_options(e))
		return -EINVAL;
	fd = list_key(l, which, e, &k6, &k4, &key);
	if (fd < 0)
		return fd;
	err = live_lock(l);
	if (err)
		return err;
	if (which == XDPCTL_ALLOW)
		err = live_class(l, e, &rule.class_id);
	/* a host hash is looked up only with its flag set: set it before the
	 * entry goes in (a delete leaves it set; the next reload clears it
	 * once the hash is empty) */
	if (!err)
		err = xdpctl__set_flags(l->settings, host_flag(l, fd));
	if (!err)
		err = put_rule(fd, key, &rule);
	if (!err)
		err = xdpctl__bump_gen(l->settings, NULL);
	live_unlock(l);
	return err;
}

int xdpctl_live_del(struct xdpctl_live *l, enum xdpctl_list which,
		    const struct allowlist_entry *e)
{
	struct sluice_lpm4_key k4;
	struct sluice_lpm6_key k6;
	void *key;
	int fd, err;

	fd = list_key(l, which, e, &k6, &k4, &key);
	if (fd < 0)
		return fd;
	err = live_lock(l);
	if (err)
		return err;
	if (bpf_map_delete_elem(fd, key) < 0)
		err = -errno;
	else
		err = xdpctl__bump_gen(l->settings, NULL);
	live_unlock(l);
	return err;
}

/* Walk one trie, calling fn for each key with its value. */
static int walk_trie(int fd, size_t key_size, void *val,
		     int (*fn)(const void *key, const void *val, void *ctx),
		     void *ctx)
{
	unsigned char key[32], next[32];
	const void *prev = NULL;
	long guard = 4L * 1024 * 1024;
	int err;

	while (guard-- > 0) {
		if (bpf_map_get_next_key(fd, prev, next) < 0)
			return errno == ENOENT ? 0 : -errno;
		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val) < 0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile */
			return -errno;
		}
		err = fn(key, val, ctx);
		if (err)
			return err;
	}
	return -E2BIG;
}

struct grow {
	void *items;
	size_t n, cap, size;
};

static void *grow_push(struct grow *g)
{
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 64;
		void *p = realloc(g->items, ncap * g->size);

		if (!p)
			return NULL;
		g->items = p;
		g->cap = ncap;
	}
	return memset((char *)g->items + g->n++ * g->size, 0, g->size);
}

struct list_ctx {
	struct grow g;
	uint8_t family;
	int classes_fd;
};

static void key_to(uint8_t family, const void *key, uint8_t *fam_out,
		   uint8_t *plen, uint8_t *addr)
{
	*fam_out = family;
	if (family == AF_INET) {
		const struct sluice_lpm4_key *k = key;

		*plen = (uint8_t)k->prefixlen;
		memcpy(addr, k->addr, 4);
	} else {
		const struct sluice_lpm6_key *k = key;

		*plen = (uint8_t)k->prefixlen;
		memcpy(addr, k->addr, 16);
	}
}

static int list_one(const void *key, const void *val, void *vctx)
{
	struct list_ctx *c = vctx;
	const struct sluice_rule *r = val;
	struct xdpctl_rule_info *ri = grow_push(&c->g);

	if (!ri)
		return -ENOMEM;
	key_to(c->family, key, &ri->family, &ri->prefixlen, ri->addr);
	ri->class_id = r->class_id;
	ri->flags = r->flags;
	if (c->classes_fd >= 0 &&
	    bpf_map_lookup_elem(c->classes_fd, &ri->class_id, &ri->cls) < 0)
		memset(&ri->cls, 0, sizeof(ri->cls));
	return 0;
}

static int rule_cmp(const void *a, const void *b)
{
	const struct xdpctl_rule_info *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

int xdpctl_live_list(struct xdpctl_live *l, enum xdpctl_list which,
		     struct xdpctl_rule_info **out, size_t *n)
{
	struct list_ctx c = {.g.size = sizeof(struct xdpctl_rule_info)};
	struct sluice_rule r;
	int err;

	c.classes_fd = which == XDPCTL_ALLOW ? l->classes : -1;
	c.family = AF_INET;
	err = walk_trie(which == XDPCTL_ALLOW ? l->allow4 : l->deny4,
			sizeof(struct sluice_lpm4_key), &r, list_one, &c);
	if (!err) /* the host entries: same keys, in their hash */
		err = walk_trie(which == XDPCTL_ALLOW ? l->hallow4 : l->hdeny4,
				sizeof(struct sluice_lpm4_key), &r, list_one,
				&c);
	if (!err) {
		c.family = AF_INET6;
		err = walk_trie(which == XDPCTL_ALLOW ? l->allow6 : l->deny6,
				sizeof(struct sluice_lpm6_key), &r, list_one,
				&c);
	}
	if (!err)
		err = walk_trie(which == XDPCTL_ALLOW ? l->hallow6 : l->hdeny6,
				sizeof(struct sluice_lpm6_key), &r, list_one,
				&c);
	if (err) {
		free(c.g.items);
		return err;
	}
	if (c.g.n) /* items is NULL for an empty list */
		qsort(c.g.items, c.g.n, c.g.size, rule_cmp);
	*out = c.g.items;
	*n = c.g.n;
	return 0;
}

int xdpctl_live_ban(struct xdpctl_live *l, const struct allowlist_entry *e,
		    uint64_t for_ns)
{
	int err = live_lock(l);

	if (err)
		return err;
	err = xdpctl__ban(l->ban4, l->ban6, l->settings, e, for_ns,
			  SLUICE_BAN_OPERATOR);
	live_unlock(l);
	return err;
}

int xdpctl_live_unban(struct xdpctl_live *l, const struct allowlist_entry *e)
{
	struct sluice_lpm4_key k4;
	struct sluice_lpm6_key k6;
	void *key;
	int fd, err;

	/* bans have no host hash: their trie holds every length */
	fd = trie_key(e, l->ban4, l->ban6, l->ban4, l->ban6, &k6, &k4, &key);
	if (fd < 0)
		return fd;
	err = live_lock(l);
	if (err)
		return err;
	err = bpf_map_delete_elem(fd, key) < 0 ? -errno : 0;
	live_unlock(l);
	return err;
}

struct ban_ctx {
	struct grow g;
	struct grow expired;	/* keys (struct sluice_lpm6_key-sized) */
	uint8_t family;
	uint64_t now;
};

static int ban_one(const void *key, const void *val, void *vctx)
{
	struct ban_ctx *c = vctx;
	const struct sluice_ban *b = val;
	struct xdpctl_ban_info *bi;

	if (b->expires_ns && b->expires_ns <= c->now) {
		void *k = grow_push(&c->expired);

		if (!k)
			return -ENOMEM;
		memcpy(k, key,
		       c->family == AF_INET ? sizeof(struct sluice_lpm4_key)
					    : sizeof(struct sluice_lpm6_key));
		return 0;
	}
	bi = grow_push(&c->g);
	if (!bi)
		return -ENOMEM;
	key_to(c->family, key, &bi->family, &bi->prefixlen, bi->addr);
	bi->ban = *b;
	return 0;
}

int xdpctl_live_bans(struct xdpctl_live *l, struct xdpctl_ban_info **out,
		     size_t *n, uint64_t *now_ns)
{
	struct ban_ctx c = {.g.size = sizeof(struct xdpctl_ban_info)};
	struct sluice_ban b;
	int err = 0;

	c.now = xdpctl__now_ns();
	for (int fam = 0; fam < 2 && !err; fam++) {
		int fd = fam ? l->ban6 : l->ban4;

		c.family = fam ? AF_INET6 : AF_INET;
		c.expired.size = sizeof(struct sluice_lpm6_key);
		c.expired.n = 0;
		err = walk_trie(fd,
				fam ? sizeof(struct sluice_lpm6_key)
				    : sizeof(struct sluice_lpm4_key),
				&b, ban_one, &c);
		/* expired bans are inert; tidy them away (a delete of a
		 * key refreshed meanwhile would lift a new ban: recheck) */
		if (!err && c.expired.n && !live_lock(l)) {
			for (size_t i = 0; i < c.expired.n; i++) {
				void *k = (char *)c.expired.items +
					  i * c.expired.size;

				if (!bpf_map_lookup_elem(fd, k, &b) &&
				    b.expires_ns && b.expires_ns <= c.now)
					bpf_map_delete_elem(fd, k);
			}
			live_unlock(l);
		}
	}
	free(c.expired.items);
	if (err) {
		free(c.g.items);
		return err;
	}
	*out = c.g.items;
	*n = c.g.n;
	if (now_ns)
		*now_ns = c.now;
	return 0;
}

/* ---- top talkers -------------------------------------------------------- */

/* sluicectl --pin-path top, in its own process: the ring read for the
 * window, counted in one bounded table (policy/talkers.h), so a flood of
 * spoofed sources cannot grow it. */
#define LIVE_TOP_CAP 16384

struct top_ctx {
	struct talkers t;
	uint64_t start_ns, events;
};

static int top_event(void *vctx, void *data, size_t size)
{
	struct top_ctx *c = vctx;
	const struct sluice_event *ev = data;
	uint8_t addr[16] = {0};

	if (size < sizeof(*ev) || ev->ts_ns < c->start_ns)
		return 0; /* from before this window */
	if (ev->family != 4 && ev->family != 6)
		return 0;
	memcpy(addr, ev->addr, ev->family == 4 ? 4 : 16);
	talkers_add(&c->t, ev->family == 4 ? AF_INET : AF_INET6, addr,
		    ev->reason, 1, ev->len);
	c->events++;
	return 0;
}

int xdpctl_live_top(struct xdpctl_live *l, unsigned int ms,
		     struct xdpctl_top *out)
{
	struct top_ctx c = {0};
	struct ring_buffer *rb = NULL;
	struct sluice_settings set = {0};
	uint8_t seed[16];
	uint64_t deadline;
	__u32 zero = 0;
	int ev_fd = l->events, err = 0;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(l->settings, &zero, &set) < 0)
		return -errno;
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		return -errno;
	err = talkers_init(&c.t, LIVE_TOP_CAP, seed);
	if (err)
		return err;

	c.start_ns = xdpctl__now_ns();
	rb = ring_buffer__new(ev_fd, top_event, &c, NULL);
	if (!rb) {
		err = -errno;
		goto out;
	}
	/* what sat in the ring is older than this window: skip it */
	ring_buffer__consume(rb);
	deadline = c.start_ns + (uint64_t)ms * 1000000ull;
	for (;;) {
		uint64_t now = xdpctl__now_ns();
		int r;

		if (now >= deadline)
			break;
		r = ring_buffer__poll(
			rb, (int)((deadline - now) / 1000000ull) + 1);
		if (r < 0 && r != -EINTR) {
			err = r;
			goto out;
		}
	}
	ring_buffer__consume(rb);
	n = talkers_merge(c.t.e, c.t.n);	/* sorts, heaviest first */
	out->talkers = calloc(n ? n : 1, sizeof(*out->talkers));
	if (!out->talkers) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct talkers_entry *e = &c.t.e[i];
		struct xdpctl_talker *k = &out->talkers[i];

		k->family = e->family;
		memcpy(k->addr, e->addr, 16);
		k->samples = e->samples;
		k->bytes = e->bytes;
		for (int r = 0; r < SLUICE_R_MAX; r++)
			k->by_reason[r] = e->by_reason[r];
	}
	out->n = n;
	out->events = c.events;
	out->sample_every = set.flags & SLUICE_SET_EVENTS
				    ? 1u << (set.sample_shift & 31)
				    : 0;
out:
	ring_buffer__free(rb);
	talkers_free(&c.t);
	return err;
}

int xdpctl_live_sizes(struct xdpctl_live *l, struct xdpctl_live_sizes *s)
{
	long v[6], h;
	int fds[6] = {l->allow4, l->allow6, l->deny4,
		      l->deny6,	 l->ban4,   l->ban6};
	/* each list's host hash, counted with its trie */
	int hosts[6] = {l->hallow4, l->hallow6, l->hdeny4, l->hdeny6, -1, -1};

	for (int i = 0; i < 6; i++) {
		v[i] = xdpctl_pins_count(fds[i]);
		if (v[i] < 0)
			return (int)v[i];
		if (hosts[i] < 0)
			continue;
		h = xdpctl_pins_count(hosts[i]);
		if (h < 0)
			return (int)h;
		v[i] += h;
	}
	s->allow4 = v[0];
	s->allow6 = v[1];
	s->deny4 = v[2];
	s->deny6 = v[3];
	s->ban4 = v[4];
	s->ban6 = v[5];
	return 0;
}

void xdpctl_top_free(struct xdpctl_top *t)
{
	free(t->talkers);
	t->talkers = NULL;
	t->n = 0;
}
