// SPDX-License-Identifier: MIT
/*
 * Kernel adapter: loads the Sluice XDP program through its skeleton, pins the
 * maps by name under the configured pin directory, attaches through libxdp,
 * and keeps the maps in step with the config by diff. The only module that
 * includes libbpf, libxdp and the skeleton.
 */
#include "xdpctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "allowlist.h"
#include "config.h"
#include "log.h"
#include "sluice_xdp.skel.h"

#define BPFFS_ROOT "/sys/fs/bpf"

struct xdpctl_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	enum xdp_attach_mode mode;
};

struct xdpctl {
	struct sluice_xdp *skel;
	struct xdp_program *prog;
	char pin_path[sizeof(((struct config_xdp *)0)->pin_path)];
	struct xdpctl_iface *ifaces;
	size_t n_ifaces;
	struct xdpctl_map_fds fds;
	int stats_fd;
};

/* ---- logging ------------------------------------------------------------ */

/* libbpf and libxdp share the WARN < INFO < DEBUG ordering. Shift one level
 * quieter: WARN -> info, INFO -> debug, DEBUG -> dropped. */
static int quieter_vprint(int lib_level, int warn, int info, const char *fmt,
			  va_list ap)
{
	enum log_level lvl;

	if (lib_level == warn)
		lvl = LOG_LVL_INFO;
	else if (lib_level == info)
		lvl = LOG_LVL_DEBUG;
	else
		return 0;
	if (lvl <= log_current_level)
		log_vprintf(lvl, fmt, ap);
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	return quieter_vprint((int)level, LIBBPF_WARN, LIBBPF_INFO, fmt, ap);
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt,
			va_list ap)
{
	return quieter_vprint((int)level, LIBXDP_WARN, LIBXDP_INFO, fmt, ap);
}

void xdpctl_init_logging(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}

/* ---- bpffs, pin directory, lock ------------------------------------------ */

static int is_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st) < 0)
		return -errno;
	return (unsigned long)st.f_type == (unsigned long)BPF_FS_MAGIC;
}

int xdpctl_ensure_bpffs(void)
{
	int ret;

	ret = is_bpffs(BPFFS_ROOT);
	if (ret == 1)
		return 0;
	if (ret < 0 && ret != -ENOENT) {
		pr_err("xdp: cannot stat %s: %s", BPFFS_ROOT, strerror(-ret));
		return ret;
	}
	if (ret == -ENOENT && mkdir(BPFFS_ROOT, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		pr_err("xdp: cannot create %s: %s", BPFFS_ROOT, strerror(-ret));
		return ret;
	}
	if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700") < 0) {
		ret = -errno;
		pr_err("xdp: cannot mount bpffs at %s: %s", BPFFS_ROOT,
		       strerror(-ret));
		return ret;
	}
	pr_info("xdp: mounted bpffs at %s", BPFFS_ROOT);
	return 0;
}

/* mkdir -p with mode 0700 for every component created. */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Exclusive flock on the pin directory; returns the fd or -errno. */
static int pin_lock(const char *dir)
{
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void pin_unlock(int fd)
{
	if (fd < 0)
		return;
	flock(fd, LOCK_UN);
	close(fd);
}

/* ---- map diff-sync ------------------------------------------------------- */

/* The wanted contents of one map: records of key||value, sorted by key,
 * duplicate keys removed. */
struct sync_set {
	const char *name;
	int fd;
	size_t key_size, val_size, rec_size;
	unsigned char *recs;
	size_t n;
	struct xdpctl_sync_count *count;
};

static int cmp_key(const void *a, const void *b, void *key_size)
{
	return memcmp(a, b, *(size_t *)key_size);
}

static void sync_set_sort(struct sync_set *s)
{
	size_t out = 0;

	if (s->n == 0)
		return;
	qsort_r(s->recs, s->n, s->rec_size, cmp_key, &s->key_size);
	for (size_t i = 1; i < s->n; i++) {
		unsigned char *prev = s->recs + out * s->rec_size;
		unsigned char *cur = s->recs + i * s->rec_size;

		if (memcmp(prev, cur, s->key_size) == 0)
			continue;
		out++;
		if (out != i)
			memcpy(s->recs + out * s->rec_size, cur, s->rec_size);
	}
	s->n = out + 1;
}

static int sync_set_alloc(struct sync_set *s, const char *name, int fd,
			  size_t key_size, size_t val_size, size_t n,
			  struct xdpctl_sync_count *count)
{
	s->name = name;
	s->fd = fd;
	s->key_size = key_size;
	s->val_size = val_size;
	s->rec_size = key_size + val_size;
	s->n = 0;
	s->count = count;
	s->recs = calloc(n ? n : 1, s->rec_size);
	return s->recs ? 0 : -ENOMEM;
}

static void sync_set_push(struct sync_set *s, const void *key, const void *val)
{
	unsigned char *r = s->recs + s->n * s->rec_size;

	memcpy(r, key, s->key_size);
	memcpy(r + s->key_size, val, s->val_size);
	s->n++;
}

static int sync_set_contains(const struct sync_set *s, const void *key)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(key, s->recs + mid * s->rec_size, s->key_size);

		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* Copy the first prefixlen bits of addr, zero the rest. */
static void mask_addr(uint8_t *dst, const uint8_t *src, size_t bytes,
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

static int is_full_error(int err)
{
	return err == -ENOSPC || err == -E2BIG;
}

/* Phase 1: make every wanted entry present with its value. */
static int sync_add(struct sync_set *s)
{
	unsigned char cur[64];

	for (size_t i = 0; i < s->n; i++) {
		const unsigned char *key = s->recs + i * s->rec_size;
		const unsigned char *val = key + s->key_size;
		bool present;
		int err;

		if (bpf_map_lookup_elem(s->fd, key, cur) == 0) {
			if (memcmp(cur, val, s->val_size) == 0) {
				s->count->kept++;
				continue;
			}
			present = true;
		} else if (errno == ENOENT) {
			present = false;
		} else {
			err = -errno;
			pr_err("xdp: lookup in %s failed: %s", s->name,
			       strerror(-err));
			return err;
		}
		if (bpf_map_update_elem(s->fd, key, val, BPF_ANY) < 0) {
			err = -errno;
			if (is_full_error(err))
				return -ENOSPC; /* caller reports */
			pr_err("xdp: update of %s failed: %s", s->name,
			       strerror(-err));
			return err;
		}
		if (present)
			s->count->updated++;
		else
			s->count->added++;
	}
	return 0;
}

/* Phase 2: delete every live entry that is not wanted. The walk collects
 * first and deletes after, so deleting never disturbs the iteration. */
static int sync_delete(struct sync_set *s, size_t max_entries)
{
	size_t limit = 2 * max_entries + 16, n_stale = 0, cap = 0, walked = 0;
	unsigned char key[64], next[64], *stale = NULL;
	const void *prev = NULL;
	int err = 0;

	for (;;) {
		if (bpf_map_get_next_key(s->fd, prev, next) < 0) {
			if (errno == ENOENT)
				break; /* end of map */
			err = -errno;
			pr_err("xdp: walking %s failed: %s", s->name,
			       strerror(-err));
			goto out;
		}
		if (++walked > limit) {
			pr_warn("xdp: %s changed during sync; walk stopped",
				s->name);
			break;
		}
		memcpy(key, next, s->key_size);
		prev = key;
		if (sync_set_contains(s, key))
			continue;
		if (n_stale == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			unsigned char *p = realloc(stale, ncap * s->key_size);

			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			stale = p;
			cap = ncap;
		}
		memcpy(stale + n_stale * s->key_size, key, s->key_size);
		n_stale++;
	}
	for (size_t i = 0; i < n_stale; i++) {
		if (bpf_map_delete_elem(s->fd, stale + i * s->key_size) == 0) {
			s->count->deleted++;
		} else if (errno != ENOENT) {
			err = -errno;
			pr_err("xdp: delete from %s failed: %s", s->name,
			       strerror(-err));
			goto out;
		}
	}
out:
	free(stale);
	return err;
}

/*
 * Phase 1 with a way out when the map is full: a config near capacity that
 * swaps entries cannot add everything before deleting anything. Then delete
 * this map's stale entries first and add again. Only in that case can a
 * client covered solely by a changing entry see a brief gap; it is logged.
 */
static int sync_add_or_make_room(struct sync_set *s, size_t max_entries)
{
	struct xdpctl_sync_count first;
	int err;

	err = sync_add(s);
	if (err != -ENOSPC)
		return err;
	pr_warn("xdp: map %s is full (%zu entries max): removing stale "
		"entries before adding new ones",
		s->name, max_entries);
	first = *s->count;
	err = sync_delete(s, max_entries);
	if (err)
		return err;
	s->count->added = s->count->updated = s->count->kept = 0;
	err = sync_add(s);
	/* what the first pass wrote shows up as kept in the second */
	if (s->count->kept >= first.added + first.updated)
		s->count->kept -= first.added + first.updated;
	s->count->added += first.added;
	s->count->updated += first.updated;
	if (err == -ENOSPC)
		pr_err("xdp: map %s is full (%zu entries max): cannot hold "
		       "the %zu configured entries",
		       s->name, max_entries, s->n);
	return err;
}

static int build_sets(const struct xdpctl_map_fds *m, const struct config *cfg,
		      struct sync_set *ports, struct sync_set *a4,
		      struct sync_set *a6, struct xdpctl_sync_stats *st)
{
	const struct allowlist *al = &cfg->xdp.allow;
	const struct sluice_rule rule = {0};
	const struct sluice_port_val pv = {.flags = SLUICE_PORT_GUARDED};
	size_t n4 = 0, n6 = 0;
	int err;

	for (size_t i = 0; i < al->n; i++) {
		if (al->entries[i].family == AF_INET)
			n4++;
		else if (al->entries[i].family == AF_INET6)
			n6++;
		else {
			pr_err("xdp: allowlist entry from line %u has unknown "
			       "address family %u",
			       al->entries[i].line, al->entries[i].family);
			return -EAFNOSUPPORT;
		}
	}
	err = sync_set_alloc(ports, SLUICE_MAP_PORTS, m->ports_fd,
			     sizeof(struct sluice_port_key),
			     sizeof(struct sluice_port_val), cfg->xdp.n_ports,
			     &st->ports);
	if (err)
		return err;
	err = sync_set_alloc(a4, SLUICE_MAP_ALLOW4, m->allow4_fd,
			     sizeof(struct sluice_lpm4_key),
			     sizeof(struct sluice_rule), n4, &st->allow4);
	if (err)
		return err;
	err = sync_set_alloc(a6, SLUICE_MAP_ALLOW6, m->allow6_fd,
			     sizeof(struct sluice_lpm6_key),
			     sizeof(struct sluice_rule), n6, &st->allow6);
	if (err)
		return err;

	for (size_t i = 0; i < cfg->xdp.n_ports; i++) {
		struct sluice_port_key k = {.port = cfg->xdp.ports[i]};

		sync_set_push(ports, &k, &pv);
	}
	for (size_t i = 0; i < al->n; i++) {
		const struct allowlist_entry *e = &al->entries[i];

		if (e->family == AF_INET) {
			struct sluice_lpm4_key k = {0};

			if (e->prefixlen > 32) {
				pr_err("xdp: allowlist entry from line %u: "
				       "prefix /%u is too long for IPv4",
				       e->line, e->prefixlen);
				return -EINVAL;
			}
			k.prefixlen = e->prefixlen;
			mask_addr(k.addr, e->addr, 4, e->prefixlen);
			sync_set_push(a4, &k, &rule);
		} else {
			struct sluice_lpm6_key k = {0};

			if (e->prefixlen > 128) {
				pr_err("xdp: allowlist entry from line %u: "
				       "prefix /%u is too long for IPv6",
				       e->line, e->prefixlen);
				return -EINVAL;
			}
			k.prefixlen = e->prefixlen;
			mask_addr(k.addr, e->addr, 16, e->prefixlen);
			sync_set_push(a6, &k, &rule);
		}
	}
	sync_set_sort(ports);
	sync_set_sort(a4);
	sync_set_sort(a6);

	/* refuse a config that cannot fit before touching any map */
	if (ports->n > SLUICE_MAX_PORTS || a4->n > SLUICE_MAX_ALLOW4 ||
	    a6->n > SLUICE_MAX_ALLOW6) {
		const struct sync_set *big = ports->n > SLUICE_MAX_PORTS ? ports
					     : a4->n > SLUICE_MAX_ALLOW4 ? a4
									 : a6;
		size_t max = big == ports ? SLUICE_MAX_PORTS
			     : big == a4  ? SLUICE_MAX_ALLOW4
					  : SLUICE_MAX_ALLOW6;

		pr_err("xdp: map %s is full: %zu entries configured, %zu max",
		       big->name, big->n, max);
		return -ENOSPC;
	}
	return 0;
}

int xdpctl_sync_maps(const struct xdpctl_map_fds *m, const struct config *cfg,
		     struct xdpctl_sync_stats *st)
{
	struct sync_set ports = {0}, a4 = {0}, a6 = {0};
	struct xdpctl_sync_stats local;
	struct sluice_settings set = {
		.flags = cfg->xdp.allowlist_enabled ? SLUICE_SET_ALLOWLIST : 0,
		.abi_version = SLUICE_ABI_VERSION,
	};
	__u32 zero = 0;
	int err;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));

	err = build_sets(m, cfg, &ports, &a4, &a6, st);
	if (err) {
		if (err == -ENOMEM)
			pr_err("xdp: cannot prepare map sync: %s",
			       strerror(-err));
		goto out;
	}

	/* Loosening first (allowlist additions), then the tightening parts
	 * (guarded ports, enforcement flag), then stale deletions: a client
	 * allowed by both the old and the new config is never dropped. */
	err = sync_add_or_make_room(&a4, SLUICE_MAX_ALLOW4);
	if (err)
		goto out;
	err = sync_add_or_make_room(&a6, SLUICE_MAX_ALLOW6);
	if (err)
		goto out;
	err = sync_add_or_make_room(&ports, SLUICE_MAX_PORTS);
	if (err)
		goto out;
	if (bpf_map_update_elem(m->settings_fd, &zero, &set, BPF_ANY) < 0) {
		err = -errno;
		pr_err("xdp: writing %s failed: %s", SLUICE_MAP_SETTINGS,
		       strerror(-err));
		goto out;
	}
	err = sync_delete(&ports, SLUICE_MAX_PORTS);
	if (err)
		goto out;
	err = sync_delete(&a4, SLUICE_MAX_ALLOW4);
	if (err)
		goto out;
	err = sync_delete(&a6, SLUICE_MAX_ALLOW6);
	if (err)
		goto out;

	pr_debug(
		"xdp: sync: ports +%zu -%zu, allow4 +%zu ~%zu -%zu, "
		"allow6 +%zu ~%zu -%zu, allowlist %s",
		st->ports.added, st->ports.deleted, st->allow4.added,
		st->allow4.updated, st->allow4.deleted, st->allow6.added,
		st->allow6.updated, st->allow6.deleted,
		set.flags & SLUICE_SET_ALLOWLIST ? "enforced" : "off");
out:
	free(ports.recs);
	free(a4.recs);
	free(a6.recs);
	return err;
}

int xdpctl_sync(struct xdpctl *x, const struct config *cfg)
{
	if (!x || !cfg)
		return -EINVAL;
	return xdpctl_sync_maps(&x->fds, cfg, NULL);
}

/* ---- load, attach, detach ------------------------------------------------ */

static const char *mode_name(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "generic";
	case XDP_MODE_HW:
		return "offload";
	default:
		return "unspecified";
	}
}

static void log_libxdp_error(const char *what, const char *ifname, int err)
{
	char buf[256];

	libxdp_strerror(err, buf, sizeof(buf));
	pr_err("xdp: %s on %s failed: %s", what, ifname, buf);
}

/* Say how libxdp attached us: through its multi-program dispatcher, or (when
 * the kernel refuses the dispatcher) as the interface's only program. */
static void log_attach_mode(const struct xdpctl_iface *ifc,
			    const struct xdp_program *prog)
{
	struct xdp_multiprog *mp;
	bool legacy = true;

	mp = xdp_multiprog__get_from_ifindex(ifc->ifindex);
	if (!libxdp_get_error(mp) && mp) {
		legacy = xdp_multiprog__is_legacy(mp);
		xdp_multiprog__close(mp);
	}
	if (legacy)
		pr_info("xdp: attached sluice_xdp to %s in %s mode as a single "
			"program (libxdp dispatcher not in use)",
			ifc->name, mode_name(ifc->mode));
	else
		pr_info("xdp: attached sluice_xdp to %s in %s mode through "
			"the libxdp dispatcher (priority %u)",
			ifc->name, mode_name(ifc->mode),
			xdp_program__run_prio(prog));
}

static int attach_one(struct xdpctl *x, const char *ifname,
		      enum config_xdp_mode mode, struct xdpctl_iface *ifc)
{
	__u32 other = 0;
	int err;

	if (strlen(ifname) >= sizeof(ifc->name)) {
		pr_err("xdp: interface name '%s' is too long", ifname);
		return -ENAMETOOLONG;
	}
	snprintf(ifc->name, sizeof(ifc->name), "%s", ifname);
	ifc->ifindex = (int)if_nametoindex(ifname);
	if (ifc->ifindex == 0) {
		err = -errno;
		pr_err("xdp: interface '%s' not found: %s", ifname,
		       strerror(-err));
		return -ENODEV;
	}

	ifc->mode = mode == CFG_XDP_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	err = xdp_program__attach(x->prog, ifc->ifindex, ifc->mode, 0);
	/* fall back when native is unsupported, not when the slot is taken */
	if (err && err != -EBUSY && err != -EEXIST && mode == CFG_XDP_AUTO) {
		char buf[256];

		libxdp_strerror(err, buf, sizeof(buf));
		pr_warn("xdp: native mode on %s failed (%s); falling back to "
			"generic mode",
			ifname, buf);
		ifc->mode = XDP_MODE_SKB;
		err = xdp_program__attach(x->prog, ifc->ifindex, ifc->mode, 0);
	}
	if (err) {
		log_libxdp_error("attach", ifname, err);
		if (bpf_xdp_query_id(ifc->ifindex, 0, &other) == 0 && other)
			pr_err("xdp: %s already runs XDP program id %u; "
			       "remove it first (ip link set dev %s xdp off)",
			       ifname, other, ifname);
		return err;
	}
	log_attach_mode(ifc, x->prog);
	return 0;
}

static void detach_all(struct xdpctl *x)
{
	while (x->n_ifaces > 0) {
		struct xdpctl_iface *ifc = &x->ifaces[--x->n_ifaces];
		int err;

		err = xdp_program__detach(x->prog, ifc->ifindex, ifc->mode, 0);
		if (err && ifc->mode != XDP_MODE_HW) {
			/* libxdp looks the attached program up by id, which
			 * needs CAP_SYS_ADMIN; after a drop to `user:` only
			 * CAP_NET_ADMIN is left. Detach over netlink instead,
			 * only if our program is still the one attached. */
			LIBBPF_OPTS(bpf_xdp_attach_opts, o,
				    .old_prog_fd = xdp_program__fd(x->prog));
			__u32 fl = ifc->mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE :
							       XDP_FLAGS_DRV_MODE;

			if (bpf_xdp_detach(ifc->ifindex, fl, &o) == 0)
				err = 0;
		}
		if (err)
			log_libxdp_error("detach", ifc->name, err);
		else
			pr_info("xdp: detached from %s", ifc->name);
	}
}

/* Fail early with a clear message if a map the daemon relies on is missing
 * from the object (a rename in bpf/lib/maps.h without abi.h). */
static int check_map_names(struct bpf_object *obj)
{
	static const char *const names[] = {
		SLUICE_MAP_PORTS, SLUICE_MAP_ALLOW4,   SLUICE_MAP_ALLOW6,
		SLUICE_MAP_STATS, SLUICE_MAP_SETTINGS,
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!bpf_object__find_map_by_name(obj, names[i])) {
			pr_err("xdp: BPF object lacks map %s", names[i]);
			return -ENOENT;
		}
	}
	return 0;
}

/* Which of the object's maps already have a pin (left by an earlier run that
 * did not clean up: libbpf reuses those). Bit i = i-th map of the object. */
static unsigned int existing_pins(struct bpf_object *obj)
{
	struct bpf_map *map;
	unsigned int bits = 0, i = 0;

	bpf_object__for_each_map(map, obj)
	{
		const char *path = bpf_map__pin_path(map);

		if (path && access(path, F_OK) == 0)
			bits |= 1u << i;
		i++;
	}
	return bits;
}

/* Error path: remove only the pins this attempt created. */
static void unpin_created(struct bpf_object *obj, unsigned int existed)
{
	struct bpf_map *map;
	unsigned int i = 0;

	bpf_object__for_each_map(map, obj)
	{
		const char *path = bpf_map__pin_path(map);

		if (path && !(existed & (1u << i)))
			unlink(path);
		i++;
	}
}

static void unpin_and_rmdir(struct xdpctl *x)
{
	int err;

	err = bpf_object__unpin_maps(x->skel->obj, NULL);
	if (err)
		pr_warn("xdp: unpinning maps under %s: %s", x->pin_path,
			strerror(-err));
	if (rmdir(x->pin_path) < 0 && errno != ENOTEMPTY && errno != EEXIST &&
	    errno != ENOENT)
		pr_warn("xdp: removing %s: %s", x->pin_path, strerror(errno));
}

struct xdpctl *xdpctl_open(const struct config *cfg)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	unsigned int existed = 0;
	struct xdpctl *x;
	int lock_fd, err;

	if (!cfg || !cfg->xdp.pin_path[0]) {
		errno = EINVAL;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	snprintf(x->pin_path, sizeof(x->pin_path), "%s", cfg->xdp.pin_path);
	x->ifaces = calloc(cfg->xdp.n_interfaces ? cfg->xdp.n_interfaces : 1,
			   sizeof(*x->ifaces));
	if (!x->ifaces) {
		err = -ENOMEM;
		goto err_free;
	}

	err = mkdir_p(x->pin_path);
	if (err) {
		pr_err("xdp: cannot create pin directory %s: %s", x->pin_path,
		       strerror(-err));
		goto err_free;
	}
	err = is_bpffs(x->pin_path);
	if (err != 1) {
		err = err < 0 ? err : -EINVAL;
		pr_err("xdp: pin directory %s is not on a bpffs mount",
		       x->pin_path);
		goto err_rmdir;
	}
	lock_fd = pin_lock(x->pin_path);
	if (lock_fd < 0) {
		err = lock_fd;
		pr_err("xdp: cannot lock %s: %s", x->pin_path, strerror(-err));
		goto err_rmdir;
	}

	opts.pin_root_path = x->pin_path;
	x->skel = sluice_xdp__open_opts(&opts);
	if (!x->skel) {
		err = -errno;
		pr_err("xdp: opening the BPF object failed: %s",
		       strerror(-err));
		goto err_unlock;
	}
	err = check_map_names(x->skel->obj);
	if (err)
		goto err_destroy_skel;

	existed = existing_pins(x->skel->obj);
	if (existed)
		pr_info("xdp: reusing maps pinned under %s by an earlier run",
			x->pin_path);

	x->prog = xdp_program__from_bpf_obj(x->skel->obj, "xdp");
	err = (int)libxdp_get_error(x->prog);
	if (err) {
		x->prog = NULL;
		pr_err("xdp: wrapping the BPF object for libxdp failed: %s",
		       strerror(-err));
		goto err_destroy_skel;
	}

	/* libxdp loads the object (and so creates or reuses the pins) on the
	 * first attach; with no interface at all load it here. */
	for (size_t i = 0; i < cfg->xdp.n_interfaces; i++) {
		err = attach_one(x, cfg->xdp.interfaces[i], cfg->xdp.mode,
				 &x->ifaces[x->n_ifaces]);
		if (err)
			goto err_detach;
		x->n_ifaces++;
	}
	if (cfg->xdp.n_interfaces == 0) {
		err = sluice_xdp__load(x->skel);
		if (err) {
			pr_err("xdp: loading the BPF program failed: %s",
			       strerror(-err));
			goto err_close_prog;
		}
	}

	x->fds.ports_fd = bpf_map__fd(x->skel->maps.sl_ports_v1);
	x->fds.allow4_fd = bpf_map__fd(x->skel->maps.sl_allow4_v1);
	x->fds.allow6_fd = bpf_map__fd(x->skel->maps.sl_allow6_v1);
	x->fds.settings_fd = bpf_map__fd(x->skel->maps.sl_settings_v1);
	x->stats_fd = bpf_map__fd(x->skel->maps.sl_stats_v1);

	err = xdpctl_sync(x, cfg);
	if (err)
		goto err_detach;

	pin_unlock(lock_fd);
	pr_debug("xdp: maps pinned under %s", x->pin_path);
	return x;

err_detach:
	detach_all(x);
err_close_prog:
	xdp_program__close(x->prog);
err_destroy_skel:
	unpin_created(x->skel->obj, existed);
	sluice_xdp__destroy(x->skel);
err_unlock:
	pin_unlock(lock_fd);
err_rmdir:
	rmdir(x->pin_path); /* only succeeds if we left it empty */
err_free:
	free(x->ifaces);
	free(x);
	errno = -err;
	return NULL;
}

void xdpctl_close(struct xdpctl *x)
{
	int lock_fd;

	if (!x)
		return;
	lock_fd = pin_lock(x->pin_path);
	if (lock_fd < 0)
		pr_warn("xdp: cannot lock %s: %s; unloading anyway",
			x->pin_path, strerror(-lock_fd));
	detach_all(x);
	xdp_program__close(x->prog);
	unpin_and_rmdir(x);
	sluice_xdp__destroy(x->skel);
	pin_unlock(lock_fd);
	free(x->ifaces);
	free(x);
}

/* ---- counters and read-only pins ---------------------------------------- */

static int read_stats_fd(int fd, struct sluice_counter out[SLUICE_R_MAX])
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

int xdpctl_read_stats(struct xdpctl *x, struct sluice_counter out[SLUICE_R_MAX])
{
	if (!x)
		return -EINVAL;
	return read_stats_fd(x->stats_fd, out);
}

struct pin_spec {
	const char *name;
	__u32 type, key_size, value_size;
};

/* Open one pinned map read-only and check it is what this ABI expects. */
static int pin_get(const char *dir, const struct pin_spec *ps)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, ps->name) >=
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
	if (info.type != ps->type || info.key_size != ps->key_size ||
	    info.value_size != ps->value_size) {
		pr_err("%s: not a sluice ABI v%d map (type %u key %u value %u)",
		       path, SLUICE_ABI_VERSION, info.type, info.key_size,
		       info.value_size);
		close(fd);
		return -EPROTO;
	}
	return fd;
}

int xdpctl_pins_open(const char *pin_path, struct xdpctl_pins *p)
{
	const struct pin_spec specs[] = {
		{SLUICE_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
		 sizeof(struct sluice_counter)},
		{SLUICE_MAP_ALLOW4, BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct sluice_lpm4_key), sizeof(struct sluice_rule)},
		{SLUICE_MAP_ALLOW6, BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct sluice_lpm6_key), sizeof(struct sluice_rule)},
		{SLUICE_MAP_PORTS, BPF_MAP_TYPE_HASH,
		 sizeof(struct sluice_port_key),
		 sizeof(struct sluice_port_val)},
	};
	int *fds[] = {&p->stats_fd, &p->allow4_fd, &p->allow6_fd, &p->ports_fd};
	int fd;

	p->stats_fd = p->allow4_fd = p->allow6_fd = p->ports_fd = -1;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		fd = pin_get(pin_path, &specs[i]);
		if (fd < 0) {
			xdpctl_pins_close(p);
			return fd;
		}
		*fds[i] = fd;
	}
	return 0;
}

void xdpctl_pins_close(struct xdpctl_pins *p)
{
	int *fds[] = {&p->stats_fd, &p->allow4_fd, &p->allow6_fd, &p->ports_fd};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int xdpctl_pins_read_stats(const struct xdpctl_pins *p,
			   struct sluice_counter out[SLUICE_R_MAX])
{
	return read_stats_fd(p->stats_fd, out);
}

long xdpctl_pins_count(int map_fd)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	unsigned char key[64], next[64];
	const void *prev = NULL;
	long n = 0, limit;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len) < 0)
		return -errno;
	if (info.key_size > sizeof(key))
		return -EINVAL;
	limit = 2L * info.max_entries + 16;
	while (n < limit) {
		if (bpf_map_get_next_key(map_fd, prev, next) < 0)
			return errno == ENOENT ? n : -errno;
		memcpy(key, next, info.key_size);
		prev = key;
		n++;
	}
	return n;
}

const char *xdpctl_reason_name(enum sluice_reason r)
{
	static const char *const names[SLUICE_R_MAX] = {
		[SLUICE_R_PASS_UNGUARDED] = "pass_unguarded",
		[SLUICE_R_PASS_ALLOWED] = "pass_allowed",
		[SLUICE_R_PASS_NOT_IP] = "pass_not_ip",
		[SLUICE_R_PASS_MALFORMED] = "pass_malformed",
		[SLUICE_R_DROP_NOT_ALLOWED] = "drop_not_allowed",
	};

	if ((unsigned int)r >= SLUICE_R_MAX)
		return "unknown";
	return names[r];
}
