// SPDX-License-Identifier: MIT
/*
 * The lowest file of the xdpctl module: the table of the BPF object's maps
 * (names from include/sluice/abi.h, expected layouts), opening pins against
 * it, the pin directory's lock, and small helpers the other files share
 * (address masks, the rules generation, whole-array reads). It calls no
 * other file of the module.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "xdp/xdpctl_int.h"

#define ROW(m, t, k, v)                                                        \
	{                                                                      \
		.name = SLUICE_MAP_NAME(m), .type = (t), .key_size = (k),      \
		.value_size = (v),                                             \
	}

const struct xdpctl_map_spec xdpctl__maps[XDPCTL_NMAPS] = {
	[XDPCTL_MAP_PORTS] = ROW(SLUICE_MAP_PORTS, BPF_MAP_TYPE_ARRAY,
				 sizeof(__u32), sizeof(struct sluice_port_val)),
	[XDPCTL_MAP_ALLOW4] = ROW(SLUICE_MAP_ALLOW4, BPF_MAP_TYPE_LPM_TRIE,
				  sizeof(struct sluice_lpm4_key),
				  sizeof(struct sluice_rule)),
	[XDPCTL_MAP_ALLOW6] = ROW(SLUICE_MAP_ALLOW6, BPF_MAP_TYPE_LPM_TRIE,
				  sizeof(struct sluice_lpm6_key),
				  sizeof(struct sluice_rule)),
	[XDPCTL_MAP_STATS] = ROW(SLUICE_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY,
				 sizeof(__u32), sizeof(struct sluice_counter)),
	[XDPCTL_MAP_SETTINGS] = ROW(SLUICE_MAP_SETTINGS, BPF_MAP_TYPE_ARRAY,
				    sizeof(__u32),
				    sizeof(struct sluice_settings)),
	[XDPCTL_MAP_DENY4] = ROW(SLUICE_MAP_DENY4, BPF_MAP_TYPE_LPM_TRIE,
				 sizeof(struct sluice_lpm4_key),
				 sizeof(struct sluice_rule)),
	[XDPCTL_MAP_DENY6] = ROW(SLUICE_MAP_DENY6, BPF_MAP_TYPE_LPM_TRIE,
				 sizeof(struct sluice_lpm6_key),
				 sizeof(struct sluice_rule)),
	[XDPCTL_MAP_BAN4] = ROW(SLUICE_MAP_BAN4, BPF_MAP_TYPE_LPM_TRIE,
				sizeof(struct sluice_lpm4_key),
				sizeof(struct sluice_ban)),
	[XDPCTL_MAP_BAN6] = ROW(SLUICE_MAP_BAN6, BPF_MAP_TYPE_LPM_TRIE,
				sizeof(struct sluice_lpm6_key),
				sizeof(struct sluice_ban)),
	[XDPCTL_MAP_CLASSES] = ROW(SLUICE_MAP_CLASSES, BPF_MAP_TYPE_ARRAY,
				   sizeof(__u32), sizeof(struct sluice_class)),
	[XDPCTL_MAP_SRC4] = ROW(SLUICE_MAP_SRC4, BPF_MAP_TYPE_LRU_HASH,
				sizeof(struct sluice_src4_key),
				sizeof(struct sluice_src)),
	[XDPCTL_MAP_SRC6] = ROW(SLUICE_MAP_SRC6, BPF_MAP_TYPE_LRU_HASH,
				sizeof(struct sluice_src6_key),
				sizeof(struct sluice_src)),
	[XDPCTL_MAP_EVENTS] = ROW(SLUICE_MAP_EVENTS, BPF_MAP_TYPE_RINGBUF, 0,
				  0),
	[XDPCTL_MAP_SYNFLOOD] = ROW(SLUICE_MAP_SYNFLOOD, BPF_MAP_TYPE_ARRAY,
				    sizeof(__u32),
				    sizeof(struct sluice_synflood)),
	[XDPCTL_MAP_HALLOW4] = ROW(SLUICE_MAP_HALLOW4, BPF_MAP_TYPE_HASH,
				   sizeof(struct sluice_lpm4_key),
				   sizeof(struct sluice_rule)),
	[XDPCTL_MAP_HALLOW6] = ROW(SLUICE_MAP_HALLOW6, BPF_MAP_TYPE_HASH,
				   sizeof(struct sluice_lpm6_key),
				   sizeof(struct sluice_rule)),
	[XDPCTL_MAP_HDENY4] = ROW(SLUICE_MAP_HDENY4, BPF_MAP_TYPE_HASH,
				  sizeof(struct sluice_lpm4_key),
				  sizeof(struct sluice_rule)),
	[XDPCTL_MAP_HDENY6] = ROW(SLUICE_MAP_HDENY6, BPF_MAP_TYPE_HASH,
				  sizeof(struct sluice_lpm6_key),
				  sizeof(struct sluice_rule)),
};

#undef ROW

static const struct xdpctl_map_spec *spec_by_name(const char *name)
{
	for (size_t i = 0; i < XDPCTL_NMAPS; i++)
		if (strcmp(xdpctl__maps[i].name, name) == 0)
			return &xdpctl__maps[i];
	return NULL;
}

int xdpctl__maps_check(const struct bpf_object *obj)
{
	const struct bpf_map *map;
	size_t n = 0;

	bpf_object__for_each_map(map, obj)
	{
		const char *name = bpf_map__name(map);
		const struct xdpctl_map_spec *s = spec_by_name(name);

		if (bpf_map__is_internal(map))
			continue; /* .rodata, .bss: not pinned */
		if (!s) {
			pr_err("xdp: the BPF object has a map %s the daemon "
			       "does not know",
			       name);
			return -EPROTO;
		}
		if (bpf_map__type(map) != (enum bpf_map_type)s->type ||
		    bpf_map__key_size(map) != s->key_size ||
		    bpf_map__value_size(map) != s->value_size) {
			pr_err("xdp: map %s in the BPF object has type %d key "
			       "%u value %u; the daemon expects %u, %u, %u",
			       name, (int)bpf_map__type(map),
			       bpf_map__key_size(map), bpf_map__value_size(map),
			       s->type, s->key_size, s->value_size);
			return -EPROTO;
		}
		n++;
	}
	if (n == XDPCTL_NMAPS)
		return 0;
	for (size_t i = 0; i < XDPCTL_NMAPS; i++)
		if (!bpf_object__find_map_by_name(obj, xdpctl__maps[i].name))
			pr_err("xdp: BPF object lacks map %s",
			       xdpctl__maps[i].name);
	return -ENOENT;
}

/* Open one pinned map and check it has the layout of its row. */
static int pin_get(const char *dir, const struct xdpctl_map_spec *s,
		   bool rdonly)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts,
		    .file_flags = rdonly ? BPF_F_RDONLY : 0);
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, s->name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (info.type != s->type || info.key_size != s->key_size ||
	    info.value_size != s->value_size) {
		pr_err("%s: not a sluice ABI v%d map (type %u key %u value %u)",
		       path, SLUICE_ABI_VERSION, info.type, info.key_size,
		       info.value_size);
		close(fd);
		return -EPROTO;
	}
	return fd;
}

void xdpctl__pins_put(const struct xdpctl_pin_want *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (*want[i].fd >= 0)
			close(*want[i].fd);
		*want[i].fd = -1;
	}
}

int xdpctl__pins_get(const char *dir, const struct xdpctl_pin_want *want,
		     size_t n, bool rdonly)
{
	for (size_t i = 0; i < n; i++)
		*want[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		int fd = pin_get(dir, &xdpctl__maps[want[i].map], rdonly);

		if (fd < 0) {
			xdpctl__pins_put(want, n);
			return fd;
		}
		*want[i].fd = fd;
	}
	return 0;
}

static int lock_fd(int fd)
{
	int err;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int xdpctl__pin_lock(const char *dir)
{
	return lock_fd(open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

int xdpctl__pin_lock_at(int dir_fd)
{
	return lock_fd(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

void xdpctl__pin_unlock(int fd)
{
	if (fd < 0)
		return;
	flock(fd, LOCK_UN);
	close(fd);
}

void xdpctl__mask_addr(uint8_t *dst, const uint8_t *src, size_t bytes,
		       unsigned int prefixlen)
{
	for (size_t i = 0; i < bytes; i++) {
		unsigned int bits = prefixlen > i * 8 ? prefixlen - i * 8 : 0;

		if (bits >= 8)
			dst[i] = src[i];
		else
			dst[i] = src[i] & (uint8_t)(0xff00u >> bits);
	}
}

uint64_t xdpctl__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t xdpctl__next_gen(uint64_t old)
{
	uint64_t g = xdpctl__now_ns();

	if (g <= old)
		g = old + 1;
	return g ? g : 1;
}

int xdpctl__bump_gen(int settings_fd, uint64_t *gen)
{
	struct sluice_settings cur;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(settings_fd, &zero, &cur) < 0)
		return -errno;
	cur.gen = xdpctl__next_gen(cur.gen);
	if (bpf_map_update_elem(settings_fd, &zero, &cur, BPF_ANY) < 0)
		return -errno;
	if (gen)
		*gen = cur.gen;
	return 0;
}

int xdpctl__set_flags(int settings_fd, __u32 flags)
{
	struct sluice_settings cur;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(settings_fd, &zero, &cur) < 0)
		return -errno;
	if ((cur.flags & flags) == flags)
		return 0;
	cur.flags |= flags;
	cur.gen = xdpctl__next_gen(cur.gen);
	if (bpf_map_update_elem(settings_fd, &zero, &cur, BPF_ANY) < 0)
		return -errno;
	return 0;
}

bool xdpctl__all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int xdpctl__array_read(int fd, uint32_t slots, size_t val_size,
		       unsigned char **vals)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	uint32_t *keys, count = slots, token;
	unsigned char *v, *buf;
	int err = 0;

	*vals = NULL;
	keys = calloc(slots, sizeof(*keys));
	buf = calloc(slots, val_size);
	v = calloc(slots, val_size);
	if (!keys || !buf || !v) {
		err = -ENOMEM;
		goto out;
	}
	/* one call: the whole array fits in the buffers */
	if (bpf_map_lookup_batch(fd, NULL, &token, keys, buf, &count, &o) < 0 &&
	    errno != ENOENT) {
		err = -errno;
		goto out;
	}
	for (uint32_t i = 0; i < count && i < slots; i++)
		if (keys[i] < slots)
			memcpy(v + (size_t)keys[i] * val_size,
			       buf + (size_t)i * val_size, val_size);
	*vals = v;
	v = NULL;
out:
	free(keys);
	free(buf);
	free(v);
	return err;
}

long xdpctl__array_count(int fd, uint32_t slots, size_t val_size)
{
	unsigned char *vals;
	long n = 0;
	int err;

	err = xdpctl__array_read(fd, slots, val_size, &vals);
	if (err)
		return err;
	for (uint32_t i = 0; i < slots; i++)
		n += !xdpctl__all_zero(vals + (size_t)i * val_size, val_size);
	free(vals);
	return n;
}

int xdpctl__read_counters(int fd, struct sluice_counter out[SLUICE_R_MAX])
{
	struct sluice_counter *percpu;
	int ncpu = libbpf_num_possible_cpus();
	int err = 0;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	memset(out, 0, sizeof(out[0]) * SLUICE_R_MAX);
	for (__u32 r = 0; r < SLUICE_R_MAX; r++) {
		if (bpf_map_lookup_elem(fd, &r, percpu) < 0) {
			err = -errno;
			break;
		}
		for (int c = 0; c < ncpu; c++) {
			out[r].packets += percpu[c].packets;
			out[r].bytes += percpu[c].bytes;
		}
	}
	free(percpu);
	return err;
}
