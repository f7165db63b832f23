// SPDX-License-Identifier: MIT
/*
 * Kernel adapter: loads the Sluice XDP program through its skeleton, pins the
 * maps by name under the configured pin directory, attaches through libxdp
 * (or, taking over from a persisted instance, by atomic replacement), and
 * keeps the maps in step with the config by diff (xdpctl_sync.c). The only
 * module that includes libbpf, libxdp and the skeleton; live edits for
 * sluicectl are in xdpctl_live.c.
 */
#include "xdp/xdpctl.h"

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
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "config/allowlist.h"
#include "config/config.h"
#include "lib/log.h"
#include "sluice_xdp.skel.h"
#include "xdp/xdpctl_int.h"

#define BPFFS_ROOT "/sys/fs/bpf"

struct xdpctl_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	enum xdp_attach_mode mode;
	bool raw;	/* attached by bpf_xdp_attach (replace), not libxdp */
};

struct xdpctl {
	struct sluice_xdp *skel;
	struct xdp_program *prog;
	char pin_path[sizeof(((struct config_xdp *)0)->pin_path)];
	struct xdpctl_iface *ifaces;
	size_t n_ifaces;
	struct xdpctl_map_fds fds;
	int stats_fd, ban4_fd, ban6_fd;
	int dir_fd;	/* the pin directory, opened at load (see pin_lock()) */
	bool persist;
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
int xdpctl__pin_lock(const char *dir)
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

void xdpctl__pin_unlock(int fd)
{
	if (fd < 0)
		return;
	flock(fd, LOCK_UN);
	close(fd);
}

/*
 * The pin lock of a loaded instance: a new open file description of the pin
 * directory (flock excludes between descriptions, so threads of this
 * process exclude each other too), opened relative to the descriptor taken
 * at load. After a drop to `user:` the path may not resolve (systemd mounts
 * bpffs 0700: the user may not search its root); "." relative to the
 * descriptor needs search permission on the pin directory alone, which is
 * the user's.
 */
static int pin_lock(const struct xdpctl *x)
{
	int fd, err;

	if (x->dir_fd < 0)
		return xdpctl__pin_lock(x->pin_path);
	fd = openat(x->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
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

int xdpctl_sync(struct xdpctl *x, const struct config *cfg)
{
	int lock_fd, err;

	if (!x || !cfg)
		return -EINVAL;
	lock_fd = pin_lock(x);
	if (lock_fd < 0)
		pr_warn("xdp: cannot lock %s: %s; syncing anyway", x->pin_path,
			strerror(-lock_fd));
	err = xdpctl_sync_maps(&x->fds, cfg, NULL);
	xdpctl__pin_unlock(lock_fd);
	return err;
}

int xdpctl_ban(struct xdpctl *x, const struct allowlist_entry *e,
	       uint64_t for_ns)
{
	int lock_fd, err;

	if (!x || !e)
		return -EINVAL;
	lock_fd = pin_lock(x);
	err = xdpctl__ban(x->ban4_fd, x->ban6_fd, x->fds.settings_fd, e, for_ns,
			  SLUICE_BAN_DAEMON);
	xdpctl__pin_unlock(lock_fd);
	return err;
}

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

long xdpctl_count_bans(struct xdpctl *x)
{
	uint64_t now = xdpctl__now_ns();
	long n4, n6;

	if (!x)
		return -EINVAL;
	n4 = count_live(x->ban4_fd, sizeof(struct sluice_lpm4_key), now);
	if (n4 < 0)
		return n4;
	n6 = count_live(x->ban6_fd, sizeof(struct sluice_lpm6_key), now);
	return n6 < 0 ? n6 : n4 + n6;
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

/* What an interface runs before we attach. */
enum prior {
	PRIOR_NONE = 0,
	PRIOR_SLUICE,		/* a sluice_xdp attached directly (persisted) */
	PRIOR_DISPATCHER,	/* a libxdp dispatcher (may hold sluice_xdp) */
	PRIOR_OTHER,
};

struct prior_info {
	enum prior kind;
	__u32 id;
	enum xdp_attach_mode mode;
};

static int prog_name_by_id(__u32 id, char *name, size_t len)
{
	struct bpf_prog_info info = {0};
	__u32 ilen = sizeof(info);
	int fd, err = 0;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) < 0)
		err = -errno;
	else
		snprintf(name, len, "%s", info.name);
	close(fd);
	return err;
}

static int prior_query(int ifindex, struct prior_info *pi)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char name[BPF_OBJ_NAME_LEN] = "";

	memset(pi, 0, sizeof(*pi));
	if (bpf_xdp_query(ifindex, 0, &q) < 0)
		return -errno;
	if (q.drv_prog_id) {
		pi->id = q.drv_prog_id;
		pi->mode = XDP_MODE_NATIVE;
	} else if (q.skb_prog_id) {
		pi->id = q.skb_prog_id;
		pi->mode = XDP_MODE_SKB;
	} else if (q.hw_prog_id) {
		pi->id = q.hw_prog_id;
		pi->kind = PRIOR_OTHER;
		return 0;
	} else {
		return 0;
	}
	prog_name_by_id(pi->id, name, sizeof(name));
	if (strcmp(name, "sluice_xdp") == 0)
		pi->kind = PRIOR_SLUICE;
	else if (strcmp(name, "xdp_dispatcher") == 0)
		pi->kind = PRIOR_DISPATCHER;
	else
		pi->kind = PRIOR_OTHER;
	return 0;
}

static __u32 xdp_flags_of(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

static int ifc_init(struct xdpctl_iface *ifc, const char *ifname)
{
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
	return 0;
}

/* Take over from a sluice_xdp left attached by a persisted instance: swap
 * the program atomically (XDP_FLAGS_REPLACE), in the mode it runs in. The
 * old program shares the pinned maps, so no packet sees a gap. */
static int replace_one(struct xdpctl *x, struct xdpctl_iface *ifc,
		       const struct prior_info *pi, enum config_xdp_mode mode)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o);
	int old_fd, err;

	old_fd = bpf_prog_get_fd_by_id(pi->id);
	if (old_fd < 0) {
		err = -errno;
		pr_err("xdp: cannot open the program attached to %s: %s",
		       ifc->name, strerror(-err));
		return err;
	}
	o.old_prog_fd = old_fd;
	ifc->mode = pi->mode;
	ifc->raw = true;
	err = bpf_xdp_attach(ifc->ifindex,
			     bpf_program__fd(x->skel->progs.sluice_xdp),
			     xdp_flags_of(ifc->mode) | XDP_FLAGS_REPLACE, &o);
	err = err < 0 ? -errno : 0;
	close(old_fd);
	if (err) {
		pr_err("xdp: replacing sluice_xdp (id %u) on %s failed: %s",
		       pi->id, ifc->name, strerror(-err));
		return err;
	}
	if ((mode == CFG_XDP_NATIVE && ifc->mode != XDP_MODE_NATIVE) ||
	    (mode == CFG_XDP_GENERIC && ifc->mode != XDP_MODE_SKB))
		pr_warn("xdp: %s keeps the %s mode of the persisted program; "
			"restart with xdp.persist off to change modes",
			ifc->name, mode_name(ifc->mode));
	pr_info("xdp: took over %s from the persisted sluice_xdp (id %u) by "
		"atomic replacement, %s mode",
		ifc->name, pi->id, mode_name(ifc->mode));
	return 0;
}

/* Attach without libxdp (used when the program is already loaded because
 * other interfaces are being taken over by replacement). */
static int attach_raw(struct xdpctl *x, struct xdpctl_iface *ifc,
		      enum config_xdp_mode mode)
{
	int fd = bpf_program__fd(x->skel->progs.sluice_xdp), err;

	ifc->raw = true;
	ifc->mode = mode == CFG_XDP_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	err = bpf_xdp_attach(ifc->ifindex, fd,
			     xdp_flags_of(ifc->mode) | XDP_FLAGS_UPDATE_IF_NOEXIST,
			     NULL);
	if (err < 0 && errno != EBUSY && errno != EEXIST &&
	    mode == CFG_XDP_AUTO) {
		pr_warn("xdp: native mode on %s failed (%s); falling back to "
			"generic mode",
			ifc->name, strerror(errno));
		ifc->mode = XDP_MODE_SKB;
		err = bpf_xdp_attach(ifc->ifindex, fd,
				     XDP_FLAGS_SKB_MODE |
					     XDP_FLAGS_UPDATE_IF_NOEXIST,
				     NULL);
	}
	if (err < 0) {
		err = -errno;
		pr_err("xdp: attach on %s failed: %s", ifc->name,
		       strerror(-err));
		return err;
	}
	pr_info("xdp: attached sluice_xdp to %s in %s mode as a single program",
		ifc->name, mode_name(ifc->mode));
	return 0;
}

/* After libxdp added us to a dispatcher that already held a persisted
 * sluice_xdp, take the old one out (both ran for a moment: no gap). */
static void remove_old_from_dispatcher(struct xdpctl *x,
				       const struct xdpctl_iface *ifc)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p = NULL;
	__u32 mine = xdp_program__id(x->prog);

	mp = xdp_multiprog__get_from_ifindex(ifc->ifindex);
	if (libxdp_get_error(mp) || !mp || xdp_multiprog__is_legacy(mp))
		goto out;
	while ((p = xdp_multiprog__next_prog(p, mp))) {
		struct xdp_program *old;
		int err;

		if (strcmp(xdp_program__name(p), "sluice_xdp") ||
		    xdp_program__id(p) == mine)
			continue;
		old = xdp_program__from_id(xdp_program__id(p));
		if (libxdp_get_error(old))
			continue;
		err = xdp_program__detach(old, ifc->ifindex, ifc->mode, 0);
		if (err)
			log_libxdp_error("removing the persisted sluice_xdp",
					 ifc->name, err);
		xdp_program__close(old);
		break;
	}
out:
	if (!libxdp_get_error(mp))
		xdp_multiprog__close(mp);
}

static int attach_one(struct xdpctl *x, enum config_xdp_mode mode,
		      struct xdpctl_iface *ifc, const struct prior_info *pi)
{
	__u32 other = 0;
	int err;

	ifc->raw = false;
	ifc->mode = mode == CFG_XDP_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	if (pi->kind == PRIOR_DISPATCHER)
		ifc->mode = pi->mode; /* join the dispatcher where it runs */
	err = xdp_program__attach(x->prog, ifc->ifindex, ifc->mode, 0);
	/* fall back when native is unsupported, not when the slot is taken */
	if (err && err != -EBUSY && err != -EEXIST && mode == CFG_XDP_AUTO &&
	    ifc->mode == XDP_MODE_NATIVE) {
		char buf[256];

		libxdp_strerror(err, buf, sizeof(buf));
		pr_warn("xdp: native mode on %s failed (%s); falling back to "
			"generic mode",
			ifc->name, buf);
		ifc->mode = XDP_MODE_SKB;
		err = xdp_program__attach(x->prog, ifc->ifindex, ifc->mode, 0);
	}
	if (err) {
		log_libxdp_error("attach", ifc->name, err);
		if (bpf_xdp_query_id(ifc->ifindex, 0, &other) == 0 && other)
			pr_err("xdp: %s already runs XDP program id %u; "
			       "remove it first (ip link set dev %s xdp off)",
			       ifc->name, other, ifc->name);
		return err;
	}
	log_attach_mode(ifc, x->prog);
	if (pi->kind == PRIOR_DISPATCHER)
		remove_old_from_dispatcher(x, ifc);
	return 0;
}

static void detach_one(struct xdpctl *x, struct xdpctl_iface *ifc)
{
	int err;

	if (ifc->raw) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, o,
			    .old_prog_fd =
				    bpf_program__fd(x->skel->progs.sluice_xdp));

		/* only if it is still ours */
		err = bpf_xdp_detach(ifc->ifindex,
				     xdp_flags_of(ifc->mode) | XDP_FLAGS_REPLACE,
				     &o);
		if (err < 0)
			pr_err("xdp: detach on %s failed: %s", ifc->name,
			       strerror(errno));
		else
			pr_info("xdp: detached from %s", ifc->name);
		return;
	}
	err = xdp_program__detach(x->prog, ifc->ifindex, ifc->mode, 0);
	if (err && ifc->mode != XDP_MODE_HW) {
		/* libxdp looks the attached program up by id, which needs
		 * CAP_SYS_ADMIN; after a drop to `user:` only CAP_NET_ADMIN is
		 * left. Detach over netlink instead, only if our program is
		 * still the one attached. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, o,
			    .old_prog_fd = xdp_program__fd(x->prog));

		if (bpf_xdp_detach(ifc->ifindex,
				   xdp_flags_of(ifc->mode) | XDP_FLAGS_REPLACE,
				   &o) == 0)
			err = 0;
	}
	if (err)
		log_libxdp_error("detach", ifc->name, err);
	else
		pr_info("xdp: detached from %s", ifc->name);
}

static void detach_all(struct xdpctl *x)
{
	while (x->n_ifaces > 0)
		detach_one(x, &x->ifaces[--x->n_ifaces]);
}

/* Fail early with a clear message if a map the daemon relies on is missing
 * from the object (a rename in bpf/lib/maps.h without abi.h). */
static int check_map_names(struct bpf_object *obj)
{
	static const char *const names[] = {
		SLUICE_MAP_PORTS,   SLUICE_MAP_ALLOW4,	SLUICE_MAP_ALLOW6,
		SLUICE_MAP_STATS,   SLUICE_MAP_SETTINGS, SLUICE_MAP_DENY4,
		SLUICE_MAP_DENY6,   SLUICE_MAP_BAN4,	SLUICE_MAP_BAN6,
		SLUICE_MAP_CLASSES, SLUICE_MAP_SRC4,	SLUICE_MAP_SRC6,
		SLUICE_MAP_EVENTS,
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
 * did not clean up, or persisted: libbpf reuses those). Bit i = i-th map. */
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

/*
 * Unpin by name relative to the pin directory's descriptor (see pin_lock()):
 * after a drop to `user:` that needs write and search permission on the pin
 * directory only, which the user is given. Removing the directory itself
 * needs write permission on its parent: under a bpffs root the user may not
 * write to (0700, as systemd mounts it) the empty directory stays, and the
 * next start reuses it.
 */
static void unpin_and_rmdir(struct xdpctl *x)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, x->skel->obj)
	{
		const char *path = bpf_map__pin_path(map);
		const char *name = path ? strrchr(path, '/') : NULL;
		int r;

		if (!name)
			continue;
		r = x->dir_fd >= 0 ? unlinkat(x->dir_fd, name + 1, 0)
				   : unlink(path);
		if (r < 0 && errno != ENOENT)
			pr_warn("xdp: unpinning %s: %s", path, strerror(errno));
	}
	if (rmdir(x->pin_path) == 0 || errno == ENOTEMPTY || errno == EEXIST ||
	    errno == ENOENT)
		return;
	if (errno == EACCES || errno == EPERM)
		pr_info("xdp: pins removed; %s stays, empty (its parent is "
			"not writable by this user)", x->pin_path);
	else
		pr_warn("xdp: removing %s: %s", x->pin_path, strerror(errno));
}

/* The rate-limit tables are sized from the config. A pinned table of
 * another size cannot be reused: drop its pin (its buckets reset). */
static void size_src_maps(struct xdpctl *x, __u32 entries)
{
	struct bpf_map *maps[] = {x->skel->maps.sl_src4_v1,
				  x->skel->maps.sl_src6_v1};

	for (size_t i = 0; i < 2; i++) {
		const char *path = bpf_map__pin_path(maps[i]);
		struct bpf_map_info info = {0};
		__u32 len = sizeof(info);
		int fd;

		bpf_map__set_max_entries(maps[i], entries);
		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.max_entries != entries) {
			pr_warn("xdp: %s holds %u entries, the config asks "
				"for %u: replacing it (rate-limit state resets)",
				path, info.max_entries, entries);
			unlink(path);
		}
		close(fd);
	}
}

struct xdpctl *xdpctl_open(const struct config *cfg)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct prior_info *prior = NULL;
	unsigned int existed = 0;
	bool takeover = false;
	struct xdpctl *x;
	int lock_fd = -1, err;

	if (!cfg || !cfg->xdp.pin_path[0]) {
		errno = EINVAL;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	snprintf(x->pin_path, sizeof(x->pin_path), "%s", cfg->xdp.pin_path);
	x->dir_fd = -1;
	x->persist = cfg->xdp.persist;
	x->ifaces = calloc(cfg->xdp.n_interfaces ? cfg->xdp.n_interfaces : 1,
			   sizeof(*x->ifaces));
	prior = calloc(cfg->xdp.n_interfaces ? cfg->xdp.n_interfaces : 1,
		       sizeof(*prior));
	if (!x->ifaces || !prior) {
		err = -ENOMEM;
		goto err_free;
	}

	/* what runs on the interfaces now: a persisted sluice_xdp is taken
	 * over by atomic replacement; anything else is left to libxdp */
	for (size_t i = 0; i < cfg->xdp.n_interfaces; i++) {
		err = ifc_init(&x->ifaces[i], cfg->xdp.interfaces[i]);
		if (err)
			goto err_free;
		err = prior_query(x->ifaces[i].ifindex, &prior[i]);
		if (err) {
			pr_err("xdp: querying XDP on %s failed: %s",
			       x->ifaces[i].name, strerror(-err));
			goto err_free;
		}
		if (prior[i].kind == PRIOR_SLUICE)
			takeover = true;
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
	x->dir_fd = open(x->pin_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	lock_fd = x->dir_fd < 0 ? -errno : pin_lock(x);
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
	size_src_maps(x, cfg->xdp.rate_table_size ? cfg->xdp.rate_table_size
						  : SLUICE_DEF_SRC_ENTRIES);

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
	 * first attach; with no interface, or when taking over, load it here
	 * and attach directly. */
	if (takeover || cfg->xdp.n_interfaces == 0) {
		err = sluice_xdp__load(x->skel);
		if (err) {
			pr_err("xdp: loading the BPF program failed: %s",
			       strerror(-err));
			goto err_close_prog;
		}
	}
	for (size_t i = 0; i < cfg->xdp.n_interfaces; i++) {
		struct xdpctl_iface *ifc = &x->ifaces[i];

		if (takeover && prior[i].kind == PRIOR_SLUICE)
			err = replace_one(x, ifc, &prior[i], cfg->xdp.mode);
		else if (takeover && prior[i].kind == PRIOR_NONE)
			err = attach_raw(x, ifc, cfg->xdp.mode);
		else if (takeover) {
			pr_err("xdp: %s runs XDP program id %u while other "
			       "interfaces run a persisted sluice_xdp; remove "
			       "it first (ip link set dev %s xdp off)",
			       ifc->name, prior[i].id, ifc->name);
			err = -EBUSY;
		} else
			err = attach_one(x, cfg->xdp.mode, ifc, &prior[i]);
		if (err)
			goto err_detach;
		x->n_ifaces++;
	}

	x->fds.ports_fd = bpf_map__fd(x->skel->maps.sl_ports_v2);
	x->fds.allow4_fd = bpf_map__fd(x->skel->maps.sl_allow4_v1);
	x->fds.allow6_fd = bpf_map__fd(x->skel->maps.sl_allow6_v1);
	x->fds.settings_fd = bpf_map__fd(x->skel->maps.sl_settings_v2);
	x->fds.deny4_fd = bpf_map__fd(x->skel->maps.sl_deny4_v1);
	x->fds.deny6_fd = bpf_map__fd(x->skel->maps.sl_deny6_v1);
	x->fds.classes_fd = bpf_map__fd(x->skel->maps.sl_classes_v1);
	x->stats_fd = bpf_map__fd(x->skel->maps.sl_stats_v3);
	x->ban4_fd = bpf_map__fd(x->skel->maps.sl_ban4_v1);
	x->ban6_fd = bpf_map__fd(x->skel->maps.sl_ban6_v1);

	err = xdpctl_sync_maps(&x->fds, cfg, NULL);
	if (err)
		goto err_detach;

	xdpctl__pin_unlock(lock_fd);
	free(prior);
	pr_debug("xdp: maps pinned under %s%s", x->pin_path,
		 x->persist ? " (persistent)" : "");
	return x;

err_detach:
	detach_all(x);
err_close_prog:
	xdp_program__close(x->prog);
err_destroy_skel:
	unpin_created(x->skel->obj, existed);
	sluice_xdp__destroy(x->skel);
err_unlock:
	xdpctl__pin_unlock(lock_fd);
err_rmdir:
	rmdir(x->pin_path); /* only succeeds if we left it empty */
err_free:
	if (x->dir_fd >= 0)
		close(x->dir_fd);
	free(prior);
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
	lock_fd = pin_lock(x);
	if (lock_fd < 0)
		pr_warn("xdp: cannot lock %s: %s; unloading anyway",
			x->pin_path, strerror(-lock_fd));
	if (x->persist) {
		pr_info("xdp: xdp.persist: leaving sluice_xdp attached to %zu "
			"interface(s) and its maps pinned under %s",
			x->n_ifaces, x->pin_path);
		x->n_ifaces = 0;
	} else {
		detach_all(x);
	}
	xdp_program__close(x->prog);
	if (!x->persist)
		unpin_and_rmdir(x);
	sluice_xdp__destroy(x->skel);
	xdpctl__pin_unlock(lock_fd);
	if (x->dir_fd >= 0)
		close(x->dir_fd);
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

int xdpctl__pin_get(const char *dir, const char *name, uint32_t type,
		    uint32_t key_size, uint32_t value_size, bool rdonly)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts,
		    .file_flags = rdonly ? BPF_F_RDONLY : 0);
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
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
	if (info.type != type || info.key_size != key_size ||
	    info.value_size != value_size) {
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
	const struct {
		const char *name;
		__u32 type, key_size, value_size;
		int *fd;
	} specs[] = {
		{SLUICE_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
		 sizeof(struct sluice_counter), &p->stats_fd},
		{SLUICE_MAP_ALLOW4, BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct sluice_lpm4_key), sizeof(struct sluice_rule),
		 &p->allow4_fd},
		{SLUICE_MAP_ALLOW6, BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct sluice_lpm6_key), sizeof(struct sluice_rule),
		 &p->allow6_fd},
		{SLUICE_MAP_PORTS, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
		 sizeof(struct sluice_port_val),
		 &p->ports_fd},
		{SLUICE_MAP_DENY4, BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct sluice_lpm4_key), sizeof(struct sluice_rule),
		 &p->deny4_fd},
		{SLUICE_MAP_DENY6, BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct sluice_lpm6_key), sizeof(struct sluice_rule),
		 &p->deny6_fd},
		{SLUICE_MAP_BAN4, BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct sluice_lpm4_key), sizeof(struct sluice_ban),
		 &p->ban4_fd},
		{SLUICE_MAP_BAN6, BPF_MAP_TYPE_LPM_TRIE,
		 sizeof(struct sluice_lpm6_key), sizeof(struct sluice_ban),
		 &p->ban6_fd},
	};
	int fd;

	p->stats_fd = p->allow4_fd = p->allow6_fd = p->ports_fd = -1;
	p->deny4_fd = p->deny6_fd = p->ban4_fd = p->ban6_fd = -1;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		fd = xdpctl__pin_get(pin_path, specs[i].name, specs[i].type,
				     specs[i].key_size, specs[i].value_size,
				     true);
		if (fd < 0) {
			xdpctl_pins_close(p);
			return fd;
		}
		*specs[i].fd = fd;
	}
	return 0;
}

void xdpctl_pins_close(struct xdpctl_pins *p)
{
	int *fds[] = {&p->stats_fd, &p->allow4_fd, &p->allow6_fd,
		      &p->ports_fd, &p->deny4_fd,  &p->deny6_fd,
		      &p->ban4_fd,  &p->ban6_fd};

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
	if (info.type == BPF_MAP_TYPE_ARRAY) /* slots in use: nonzero */
		return xdpctl__array_count(map_fd, info.max_entries,
					   info.value_size);
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
		[SLUICE_R_PASS_GUARDED] = "pass_guarded",
		[SLUICE_R_DROP_DENY] = "drop_deny",
		[SLUICE_R_DROP_BANNED] = "drop_banned",
		[SLUICE_R_DROP_RATE] = "drop_rate",
		[SLUICE_R_DROP_SYN_RATE] = "drop_syn_rate",
		[SLUICE_R_DROP_FRAG_TINY] = "drop_frag_tiny",
		[SLUICE_R_DROP_FRAG_OVERLAP] = "drop_frag_overlap",
		[SLUICE_R_DROP_EXT_DEPTH] = "drop_ext_depth",
	};

	if ((unsigned int)r >= SLUICE_R_MAX)
		return "unknown";
	return names[r];
}
