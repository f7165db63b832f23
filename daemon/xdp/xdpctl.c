// SPDX-License-Identifier: MIT
/*
 * Kernel adapter: loads the Sluice XDP program through its skeleton, pins the
 * maps by name under the configured pin directory, attaches through libxdp
 * (or, taking over from a persisted instance, by atomic replacement), and
 * keeps the maps in step with the config by diff (xdpctl_sync.c). The only
 * module that includes libbpf, libxdp and the skeleton; this file holds the
 * loaded handle and calls the module's other files (xdpctl_int.h), never
 * the reverse. Live edits for sluicectl are in xdpctl_live.c.
 */
#include "xdp/xdpctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "config/allowlist.h"
#include "config/config.h"
#include "lib/log.h"
#include "lib/sofile.h"
#include "sluice_xdp.skel.h"
#include "xdp/xdpctl_attach.h"
#include "xdp/xdpctl_int.h"

#define BPFFS_ROOT "/sys/fs/bpf"

struct xdpctl {
	struct sluice_xdp *skel;
	struct xdpctl_prog prog;
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
	if (x->dir_fd < 0)
		return xdpctl__pin_lock(x->pin_path);
	return xdpctl__pin_lock_at(x->dir_fd);
}

/* ---- SYN cookies: the stack's side ---------------------------------------- */

#define SYNCOOKIES_SYSCTL "/proc/sys/net/ipv4/tcp_syncookies"

/*
 * With xdp.syncookies on (true or auto), the stack must take the ACK of an
 * XDP cookie without a stored request: net.ipv4.tcp_syncookies = 2 (in
 * sluiced's network namespace). Set it when it is not (logged; never set
 * back: other values only differ in when the stack itself sends cookies,
 * docs/SYNCOOKIES.md). 0 or -errno, logged: a start or reload that cannot
 * set it fails rather than answer SYNs with cookies the stack refuses.
 */
static int syncookies_sysctl(const struct config *cfg)
{
	char buf[16] = "";
	ssize_t n;
	int fd, err;

	if (cfg->xdp.cookies == CFG_XDP_COOKIES_OFF)
		return 0;
	fd = open(SYNCOOKIES_SYSCTL, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0 && buf[0] == '2') {
		close(fd);
		return 0;
	}
	if (lseek(fd, 0, SEEK_SET) < 0 || write(fd, "2\n", 2) != 2) {
		err = -errno;
		close(fd);
		goto fail;
	}
	close(fd);
	pr_info("xdp: xdp.syncookies: net.ipv4.tcp_syncookies set from %.1s "
		"to 2 (the stack accepts the ACK of an XDP SYN cookie)",
		n > 0 ? buf : "?");
	return 0;
fail:
	pr_err("xdp: xdp.syncookies needs net.ipv4.tcp_syncookies = 2 and "
	       "cannot set it (%s: %s); set it, or turn xdp.syncookies off",
	       SYNCOOKIES_SYSCTL, strerror(-err));
	return err;
}

/* ---- the loaded handle: sync, bans, counters ----------------------------- */

int xdpctl_sync(struct xdpctl *x, const struct config *cfg)
{
	int lock_fd, err;

	if (!x || !cfg)
		return -EINVAL;
	err = syncookies_sysctl(cfg);
	if (err)
		return err;
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

long xdpctl_count_bans(struct xdpctl *x)
{
	if (!x)
		return -EINVAL;
	return xdpctl__count_bans(x->ban4_fd, x->ban6_fd);
}

int xdpctl_read_stats(struct xdpctl *x, struct sluice_counter out[SLUICE_R_MAX])
{
	if (!x)
		return -EINVAL;
	return xdpctl__read_counters(x->stats_fd, out);
}

int xdpctl__dup_event_fds(const struct xdpctl *x, int *events_fd,
			  int *settings_fd)
{
	const struct sluice_xdp *s = x->skel;

	*events_fd = fcntl(bpf_map__fd(s->maps.SLUICE_MAP_EVENTS),
			   F_DUPFD_CLOEXEC, 0);
	if (*events_fd < 0)
		return -errno;
	*settings_fd = fcntl(x->fds.settings_fd, F_DUPFD_CLOEXEC, 0);
	if (*settings_fd < 0) {
		int err = -errno;

		close(*events_fd);
		*events_fd = -1;
		return err;
	}
	return 0;
}

/* ---- load, pin, attach --------------------------------------------------- */

static void detach_all(struct xdpctl *x)
{
	while (x->n_ifaces > 0)
		xdpctl__detach(&x->prog, &x->ifaces[--x->n_ifaces]);
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

/* Set the size of maps[0..n) to entries (their flags set already). A
 * pinned map of another size, or preallocated where the map is not to be
 * or the other way round (xdp.list_prealloc changed, or the pin is from a
 * daemon before it), cannot be reused: drop its pin (what it held is
 * lost: `lost`). */
static void size_maps(struct bpf_map **maps, size_t n, __u32 entries,
		      const char *lost)
{
	for (size_t i = 0; i < n; i++) {
		const char *path = bpf_map__pin_path(maps[i]);
		__u32 flags = bpf_map__map_flags(maps[i]);
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
				"for %u: replacing it (%s)",
				path, info.max_entries, entries, lost);
			unlink(path);
		} else if ((info.map_flags ^ flags) & BPF_F_NO_PREALLOC) {
			pr_warn("xdp: %s is %spreallocated, the config asks "
				"otherwise: replacing it (%s)",
				path,
				info.map_flags & BPF_F_NO_PREALLOC ? "not " : "",
				lost);
			unlink(path);
		}
		close(fd);
	}
}

/* The rate-limit tables (xdp.rate_limit.table_size) and the allow and
 * deny tries and host hashes (xdp.list_size) are sized from the config.
 * A trie is never preallocated (the kernel does not offer it): its size is
 * a limit, not memory. The host hashes are preallocated when
 * xdp.list_prealloc says so: list_size entries each taken at load, against
 * writes and deletes that cost about half as much (a whole-list reload of
 * 10^6 host entries: docs/BENCHMARKS.md). */
static void size_from_config(struct xdpctl *x, const struct config *cfg)
{
	struct bpf_map *src[] = {x->skel->maps.SLUICE_MAP_SRC4,
				 x->skel->maps.SLUICE_MAP_SRC6};
	struct bpf_map *lists[] = {x->skel->maps.SLUICE_MAP_ALLOW4,
				   x->skel->maps.SLUICE_MAP_ALLOW6,
				   x->skel->maps.SLUICE_MAP_DENY4,
				   x->skel->maps.SLUICE_MAP_DENY6,
				   x->skel->maps.SLUICE_MAP_HALLOW4,
				   x->skel->maps.SLUICE_MAP_HALLOW6,
				   x->skel->maps.SLUICE_MAP_HDENY4,
				   x->skel->maps.SLUICE_MAP_HDENY6};

	size_maps(src, 2,
		  cfg->xdp.rate_table_size ? cfg->xdp.rate_table_size
					   : SLUICE_DEF_SRC_ENTRIES,
		  "rate-limit state resets");
	for (size_t i = 4; i < 8; i++) /* the host hashes */
		bpf_map__set_map_flags(lists[i], cfg->xdp.list_prealloc
							 ? 0
							 : BPF_F_NO_PREALLOC);
	size_maps(lists, 8,
		  cfg->xdp.list_size ? cfg->xdp.list_size : SLUICE_MAX_ALLOW4,
		  "live sluicectl edits are lost; the files are synced again");
}

static struct xdpctl *handle_new(const struct config *cfg)
{
	struct xdpctl *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	snprintf(x->pin_path, sizeof(x->pin_path), "%s", cfg->xdp.pin_path);
	x->dir_fd = -1;
	x->persist = cfg->xdp.persist;
	x->ifaces = calloc(cfg->xdp.n_interfaces ? cfg->xdp.n_interfaces : 1,
			   sizeof(*x->ifaces));
	if (!x->ifaces) {
		free(x);
		return NULL;
	}
	return x;
}

static void handle_free(struct xdpctl *x)
{
	if (x->dir_fd >= 0)
		close(x->dir_fd);
	free(x->ifaces);
	free(x);
}

/* What runs on the interfaces now: a persisted sluice_xdp is taken over by
 * atomic replacement (*takeover); anything else is left to libxdp. */
static int ifaces_init(struct xdpctl *x, const struct config_xdp *c,
		       bool *takeover)
{
	*takeover = false;
	for (size_t i = 0; i < c->n_interfaces; i++) {
		int err = xdpctl__iface_init(&x->ifaces[i], c->interfaces[i]);

		if (err)
			return err;
		if (x->ifaces[i].prior.kind == XDPCTL_PRIOR_SLUICE)
			*takeover = true;
	}
	return 0;
}

/* The pin directory (created already) must be on bpffs; open it (kept for
 * pin_lock()) and lock it. Returns the lock's fd or -errno, logged. */
static int pin_dir_lock(struct xdpctl *x)
{
	int err = is_bpffs(x->pin_path);

	if (err != 1) {
		pr_err("xdp: pin directory %s is not on a bpffs mount",
		       x->pin_path);
		return err < 0 ? err : -EINVAL;
	}
	x->dir_fd = open(x->pin_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = x->dir_fd < 0 ? -errno : pin_lock(x);
	if (err < 0)
		pr_err("xdp: cannot lock %s: %s", x->pin_path, strerror(-err));
	return err;
}

/* Open the BPF object (not loaded yet: no pin is created), check its maps
 * against the daemon's table, size the rate-limit tables, and note which
 * pins exist already (*existed). 0 or -errno, logged; on error nothing is
 * left open. */
static int object_open(struct xdpctl *x, const struct config *cfg,
		       unsigned int *existed)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	int err;

	opts.pin_root_path = x->pin_path;
	x->skel = sluice_xdp__open_opts(&opts);
	if (!x->skel) {
		err = -errno;
		pr_err("xdp: opening the BPF object failed: %s",
		       strerror(-err));
		return err;
	}
	err = xdpctl__maps_check(x->skel->obj);
	if (err)
		goto err_destroy_skel;
	size_from_config(x, cfg);
	*existed = existing_pins(x->skel->obj);
	if (*existed)
		pr_info("xdp: reusing maps pinned under %s by an earlier run",
			x->pin_path);

	x->prog.bpf = x->skel->progs.sluice_xdp;
	x->prog.xdp = xdp_program__from_bpf_obj(x->skel->obj, "xdp");
	err = (int)libxdp_get_error(x->prog.xdp);
	if (err) {
		x->prog.xdp = NULL;
		pr_err("xdp: wrapping the BPF object for libxdp failed: %s",
		       strerror(-err));
		goto err_destroy_skel;
	}
	return 0;

err_destroy_skel:
	sluice_xdp__destroy(x->skel);
	x->skel = NULL;
	return err;
}

/* Load (libxdp loads the object, and so creates or reuses the pins, on the
 * first attach; with no interface, or when taking over, load it here and
 * attach directly), then attach to every interface. On error, the caller
 * detaches what x->n_ifaces counts. */
static int load_and_attach(struct xdpctl *x, const struct config *cfg,
			   bool takeover)
{
	int err;

	if (takeover || cfg->xdp.n_interfaces == 0) {
		err = sluice_xdp__load(x->skel);
		if (err) {
			pr_err("xdp: loading the BPF program failed: %s",
			       strerror(-err));
			return err;
		}
	}
	for (size_t i = 0; i < cfg->xdp.n_interfaces; i++) {
		err = xdpctl__attach(&x->prog, &x->ifaces[i], cfg->xdp.mode,
				     takeover);
		if (err)
			return err;
		x->n_ifaces++;
	}
	return 0;
}

static void take_fds(struct xdpctl *x)
{
	const struct sluice_xdp *s = x->skel;

	x->fds.ports_fd = bpf_map__fd(s->maps.SLUICE_MAP_PORTS);
	x->fds.allow4_fd = bpf_map__fd(s->maps.SLUICE_MAP_ALLOW4);
	x->fds.allow6_fd = bpf_map__fd(s->maps.SLUICE_MAP_ALLOW6);
	x->fds.settings_fd = bpf_map__fd(s->maps.SLUICE_MAP_SETTINGS);
	x->fds.deny4_fd = bpf_map__fd(s->maps.SLUICE_MAP_DENY4);
	x->fds.deny6_fd = bpf_map__fd(s->maps.SLUICE_MAP_DENY6);
	x->fds.hallow4_fd = bpf_map__fd(s->maps.SLUICE_MAP_HALLOW4);
	x->fds.hallow6_fd = bpf_map__fd(s->maps.SLUICE_MAP_HALLOW6);
	x->fds.hdeny4_fd = bpf_map__fd(s->maps.SLUICE_MAP_HDENY4);
	x->fds.hdeny6_fd = bpf_map__fd(s->maps.SLUICE_MAP_HDENY6);
	x->fds.classes_fd = bpf_map__fd(s->maps.SLUICE_MAP_CLASSES);
	x->stats_fd = bpf_map__fd(s->maps.SLUICE_MAP_STATS);
	x->ban4_fd = bpf_map__fd(s->maps.SLUICE_MAP_BAN4);
	x->ban6_fd = bpf_map__fd(s->maps.SLUICE_MAP_BAN6);
}

struct xdpctl *xdpctl_open(const struct config *cfg)
{
	unsigned int existed = 0;
	bool takeover = false;
	struct xdpctl *x;
	int lock_fd, err;

	if (!cfg || !cfg->xdp.pin_path[0]) {
		errno = EINVAL;
		return NULL;
	}
	err = syncookies_sysctl(cfg);
	if (err) {
		errno = -err;
		return NULL;
	}
	x = handle_new(cfg);
	if (!x)
		return NULL;
	err = ifaces_init(x, &cfg->xdp, &takeover);
	if (err)
		goto err_free;
	err = mkdir_p(x->pin_path);
	if (err) {
		pr_err("xdp: cannot create pin directory %s: %s", x->pin_path,
		       strerror(-err));
		goto err_free;
	}
	lock_fd = pin_dir_lock(x);
	if (lock_fd < 0) {
		err = lock_fd;
		goto err_rmdir;
	}
	err = object_open(x, cfg, &existed);
	if (err)
		goto err_unlock;
	err = load_and_attach(x, cfg, takeover);
	if (err)
		goto err_unload;
	take_fds(x);
	err = xdpctl_sync_maps(&x->fds, cfg, NULL);
	if (err)
		goto err_unload;

	xdpctl__pin_unlock(lock_fd);
	pr_debug("xdp: maps pinned under %s%s", x->pin_path,
		 x->persist ? " (persistent)" : "");
	return x;

err_unload:
	detach_all(x);
	xdp_program__close(x->prog.xdp);
	unpin_created(x->skel->obj, existed);
	sluice_xdp__destroy(x->skel);
err_unlock:
	xdpctl__pin_unlock(lock_fd);
err_rmdir:
	rmdir(x->pin_path); /* only succeeds if we left it empty */
err_free:
	handle_free(x);
	errno = -err;
	return NULL;
}

int xdpctl_check_attached(struct xdpctl *x)
{
	int n = 0, err = 0;

	if (!x)
		return 0;
	for (size_t i = 0; i < x->n_ifaces; i++) {
		int r = xdpctl__check(&x->prog, &x->ifaces[i]);

		if (r < 0)
			err = r;
		else
			n += r;
	}
	return err ? err : n;
}

void xdpctl_set_persist(struct xdpctl *x, bool on)
{
	if (x)
		x->persist = on;
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
	xdp_program__close(x->prog.xdp);
	if (!x->persist)
		unpin_and_rmdir(x);
	sluice_xdp__destroy(x->skel);
	xdpctl__pin_unlock(lock_fd);
	if (x->dir_fd >= 0)
		close(x->dir_fd);
	free(x->ifaces);
	free(x);
}

/* ---- what runs where, with which libraries ------------------------------ */

size_t xdpctl_attached(const struct xdpctl *x, struct xdpctl_attach_info *out,
		       size_t max)
{
	size_t n = 0;

	for (size_t i = 0; x && i < x->n_ifaces && n < max; i++, n++) {
		snprintf(out[n].ifname, sizeof(out[n].ifname), "%s",
			 x->ifaces[i].name);
		out[n].mode = xdpctl__mode_name(x->ifaces[i].mode);
	}
	return n;
}

const char *xdpctl_libbpf_version(void)
{
	static char v[32];
	char so[32], mm[16];

	if (v[0])
		return v;
	/* the library's own major.minor; the file's name adds the patch
	 * level when it agrees */
	snprintf(mm, sizeof(mm), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	if (!sofile_version("libbpf.so", so, sizeof(so)) &&
	    !strncmp(so, mm, strlen(mm)) &&
	    (so[strlen(mm)] == '.' || !so[strlen(mm)]))
		snprintf(v, sizeof(v), "%s", so);
	else
		snprintf(v, sizeof(v), "%s", mm);
	return v;
}

const char *xdpctl_libxdp_version(void)
{
	static char v[32];

	/* libxdp has no version function: the loaded file's name says it */
	if (!v[0] && sofile_version("libxdp.so", v, sizeof(v)))
		snprintf(v, sizeof(v), "unknown");
	return v;
}
