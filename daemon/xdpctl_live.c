// SPDX-License-Identifier: MIT
/* Runtime allowlist edits on pinned maps. See xdpctl_live.h. */
#include "xdpctl_live.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sluice/abi.h>

static int open_rw(const char *dir, const char *name, __u32 key_size)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (info.type != BPF_MAP_TYPE_LPM_TRIE || info.key_size != key_size ||
	    info.value_size != sizeof(struct sluice_rule)) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

int xdpctl_live_open(const char *pin_path, struct xdpctl_live *l)
{
	l->allow4_fd = open_rw(pin_path, SLUICE_MAP_ALLOW4,
			       sizeof(struct sluice_lpm4_key));
	if (l->allow4_fd < 0) {
		int err = l->allow4_fd;

		l->allow6_fd = -1;
		return err;
	}
	l->allow6_fd = open_rw(pin_path, SLUICE_MAP_ALLOW6,
			       sizeof(struct sluice_lpm6_key));
	if (l->allow6_fd < 0) {
		int err = l->allow6_fd;

		close(l->allow4_fd);
		l->allow4_fd = -1;
		return err;
	}
	return 0;
}

void xdpctl_live_close(struct xdpctl_live *l)
{
	if (l->allow4_fd >= 0)
		close(l->allow4_fd);
	if (l->allow6_fd >= 0)
		close(l->allow6_fd);
	l->allow4_fd = l->allow6_fd = -1;
}

/* Build the LPM key for e in buf; returns the fd to use or -EINVAL. */
static int key_of(const struct xdpctl_live *l, const struct allowlist_entry *e,
		  struct sluice_lpm6_key *k6)
{
	memset(k6, 0, sizeof(*k6));
	if (e->family == AF_INET && e->prefixlen <= 32) {
		struct sluice_lpm4_key *k4 = (void *)k6;

		k4->prefixlen = e->prefixlen;
		memcpy(k4->addr, e->addr, 4);
		return l->allow4_fd;
	}
	if (e->family == AF_INET6 && e->prefixlen <= 128) {
		k6->prefixlen = e->prefixlen;
		memcpy(k6->addr, e->addr, 16);
		return l->allow6_fd;
	}
	return -EINVAL;
}

int xdpctl_live_allow(const struct xdpctl_live *l,
		      const struct allowlist_entry *e, bool add)
{
	struct sluice_rule rule = { 0 };
	struct sluice_lpm6_key k;
	int fd = key_of(l, e, &k);

	if (fd < 0)
		return fd;
	if (add) {
		if (bpf_map_update_elem(fd, &k, &rule, BPF_NOEXIST))
			return errno == E2BIG ? -ENOSPC : -errno;
		return 0;
	}
	if (bpf_map_delete_elem(fd, &k))
		return -errno;
	return 0;
}

int xdpctl_live_allow_has(const struct xdpctl_live *l,
			  const struct allowlist_entry *e)
{
	struct sluice_lpm6_key k, cur, prev;
	int fd = key_of(l, e, &k);
	size_t ksz = e->family == AF_INET ? sizeof(struct sluice_lpm4_key) :
					    sizeof(struct sluice_lpm6_key);
	void *p = NULL;

	if (fd < 0)
		return fd;
	/* a lookup is longest-match, not exact: walk the keys instead */
	while (bpf_map_get_next_key(fd, p, &cur) == 0) {
		if (!memcmp(&cur, &k, ksz))
			return 1;
		memcpy(&prev, &cur, sizeof(prev));
		p = &prev;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int walk(int fd, int family, xdpctl_live_cb cb, void *arg)
{
	struct sluice_lpm6_key cur, prev;
	struct allowlist_entry e;
	void *p = NULL;
	int r;

	while (bpf_map_get_next_key(fd, p, &cur) == 0) {
		memset(&e, 0, sizeof(e));
		e.family = (uint8_t)family;
		e.prefixlen = (uint8_t)cur.prefixlen;
		memcpy(e.addr, cur.addr, family == AF_INET ? 4 : 16);
		r = cb(&e, arg);
		if (r)
			return r;
		memcpy(&prev, &cur, sizeof(prev));
		p = &prev;
	}
	return errno == ENOENT ? 0 : -errno;
}

int xdpctl_live_allow_walk(const struct xdpctl_live *l, xdpctl_live_cb cb,
			   void *arg)
{
	int r = walk(l->allow4_fd, AF_INET, cb, arg);

	return r ? r : walk(l->allow6_fd, AF_INET6, cb, arg);
}
