// SPDX-License-Identifier: MIT
/*
 * Attaching sluice_xdp to interfaces (part of the xdpctl module): through
 * libxdp with an XDP_RUN_CONFIG priority, so its dispatcher can chain other
 * programs; or, taking over from an instance that left its program
 * attached (xdp.persist), by atomic replacement (XDP_FLAGS_REPLACE), so no
 * packet sees a gap. Detaching removes only our own program.
 */
#include "xdp/xdpctl_attach.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"

const char *xdpctl__mode_name(enum xdp_attach_mode m)
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
			ifc->name, xdpctl__mode_name(ifc->mode));
	else
		pr_info("xdp: attached sluice_xdp to %s in %s mode through "
			"the libxdp dispatcher (priority %u)",
			ifc->name, xdpctl__mode_name(ifc->mode),
			xdp_program__run_prio(prog));
}

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

static int prior_query(struct xdpctl_iface *ifc)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char name[BPF_OBJ_NAME_LEN] = "";
	__typeof__(ifc->prior) *pi = &ifc->prior;

	memset(pi, 0, sizeof(*pi));
	if (bpf_xdp_query(ifc->ifindex, 0, &q) < 0)
		return -errno;
	if (q.drv_prog_id) {
		pi->id = q.drv_prog_id;
		pi->mode = XDP_MODE_NATIVE;
	} else if (q.skb_prog_id) {
		pi->id = q.skb_prog_id;
		pi->mode = XDP_MODE_SKB;
	} else if (q.hw_prog_id) {
		pi->id = q.hw_prog_id;
		pi->kind = XDPCTL_PRIOR_OTHER;
		return 0;
	} else {
		return 0;
	}
	prog_name_by_id(pi->id, name, sizeof(name));
	if (strcmp(name, "sluice_xdp") == 0)
		pi->kind = XDPCTL_PRIOR_SLUICE;
	else if (strcmp(name, "xdp_dispatcher") == 0)
		pi->kind = XDPCTL_PRIOR_DISPATCHER;
	else
		pi->kind = XDPCTL_PRIOR_OTHER;
	return 0;
}

static __u32 xdp_flags_of(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

/* Take over from a sluice_xdp left attached by a persisted instance: swap
 * the program atomically (XDP_FLAGS_REPLACE), in the mode it runs in. The
 * old program shares the pinned maps, so no packet sees a gap. */
static int replace_one(const struct xdpctl_prog *p, struct xdpctl_iface *ifc,
		       enum config_xdp_mode mode)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o);
	const __typeof__(ifc->prior) *pi = &ifc->prior;
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
			     bpf_program__fd(p->bpf),
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
			ifc->name, xdpctl__mode_name(ifc->mode));
	pr_info("xdp: took over %s from the persisted sluice_xdp (id %u) by "
		"atomic replacement, %s mode",
		ifc->name, pi->id, xdpctl__mode_name(ifc->mode));
	return 0;
}

/* Attach without libxdp (used when the program is already loaded because
 * other interfaces are being taken over by replacement). */
static int attach_raw(const struct xdpctl_prog *p, struct xdpctl_iface *ifc,
		      enum config_xdp_mode mode)
{
	int fd = bpf_program__fd(p->bpf), err;

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
		ifc->name, xdpctl__mode_name(ifc->mode));
	return 0;
}

/* After libxdp added us to a dispatcher that already held a persisted
 * sluice_xdp, take the old one out (both ran for a moment: no gap). */
static void remove_old_from_dispatcher(const struct xdpctl_prog *p,
				       const struct xdpctl_iface *ifc)
{
	struct xdp_multiprog *mp;
	struct xdp_program *q = NULL;
	__u32 mine = xdp_program__id(p->xdp);

	mp = xdp_multiprog__get_from_ifindex(ifc->ifindex);
	if (libxdp_get_error(mp) || !mp || xdp_multiprog__is_legacy(mp))
		goto out;
	while ((q = xdp_multiprog__next_prog(q, mp))) {
		struct xdp_program *old;
		int err;

		if (strcmp(xdp_program__name(q), "sluice_xdp") ||
		    xdp_program__id(q) == mine)
			continue;
		old = xdp_program__from_id(xdp_program__id(q));
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

static int attach_one(const struct xdpctl_prog *p, enum config_xdp_mode mode,
		      struct xdpctl_iface *ifc)
{
	const __typeof__(ifc->prior) *pi = &ifc->prior;
	__u32 other = 0;
	int err;

	ifc->raw = false;
	ifc->mode = mode == CFG_XDP_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	if (pi->kind == XDPCTL_PRIOR_DISPATCHER)
		ifc->mode = pi->mode; /* join the dispatcher where it runs */
	err = xdp_program__attach(p->xdp, ifc->ifindex, ifc->mode, 0);
	/* fall back when native is unsupported, not when the slot is taken */
	if (err && err != -EBUSY && err != -EEXIST && mode == CFG_XDP_AUTO &&
	    ifc->mode == XDP_MODE_NATIVE) {
		char buf[256];

		libxdp_strerror(err, buf, sizeof(buf));
		pr_warn("xdp: native mode on %s failed (%s); falling back to "
			"generic mode",
			ifc->name, buf);
		ifc->mode = XDP_MODE_SKB;
		err = xdp_program__attach(p->xdp, ifc->ifindex, ifc->mode, 0);
	}
	if (err) {
		log_libxdp_error("attach", ifc->name, err);
		if (bpf_xdp_query_id(ifc->ifindex, 0, &other) == 0 && other)
			pr_err("xdp: %s already runs XDP program id %u; "
			       "remove it first (ip link set dev %s xdp off)",
			       ifc->name, other, ifc->name);
		return err;
	}
	log_attach_mode(ifc, p->xdp);
	if (pi->kind == XDPCTL_PRIOR_DISPATCHER)
		remove_old_from_dispatcher(p, ifc);
	return 0;
}

void xdpctl__detach(const struct xdpctl_prog *p, struct xdpctl_iface *ifc)
{
	int err;

	if (ifc->raw) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, o,
			    .old_prog_fd =
				    bpf_program__fd(p->bpf));

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
	err = xdp_program__detach(p->xdp, ifc->ifindex, ifc->mode, 0);
	if (err && ifc->mode != XDP_MODE_HW) {
		/* libxdp looks the attached program up by id, which needs
		 * CAP_SYS_ADMIN; after a drop to `user:` only CAP_NET_ADMIN is
		 * left. Detach over netlink instead, only if our program is
		 * still the one attached. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, o,
			    .old_prog_fd = xdp_program__fd(p->xdp));

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

int xdpctl__iface_init(struct xdpctl_iface *ifc, const char *ifname)
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
	err = prior_query(ifc);
	if (err)
		pr_err("xdp: querying XDP on %s failed: %s", ifc->name,
		       strerror(-err));
	return err;
}

int xdpctl__attach(const struct xdpctl_prog *p, struct xdpctl_iface *ifc,
		   enum config_xdp_mode mode, bool takeover)
{
	if (!takeover)
		return attach_one(p, mode, ifc);
	if (ifc->prior.kind == XDPCTL_PRIOR_SLUICE)
		return replace_one(p, ifc, mode);
	if (ifc->prior.kind == XDPCTL_PRIOR_NONE)
		return attach_raw(p, ifc, mode);
	pr_err("xdp: %s runs XDP program id %u while other interfaces run a "
	       "persisted sluice_xdp; remove it first (ip link set dev %s xdp "
	       "off)",
	       ifc->name, ifc->prior.id, ifc->name);
	return -EBUSY;
}

int xdpctl__check(const struct xdpctl_prog *p, struct xdpctl_iface *ifc)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	__u32 id;
	int fd;

	if (bpf_xdp_query(ifc->ifindex, 0, &q) < 0)
		return -errno;
	id = ifc->mode == XDP_MODE_SKB ? q.skb_prog_id : q.drv_prog_id;
	if (!id)
		id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	if (id) {
		if (!ifc->seen_id)
			ifc->seen_id = id;
		if (id != ifc->seen_id && !ifc->foreign) {
			ifc->foreign = true;
			pr_warn("xdp: %s runs XDP program id %u now, not ours "
				"(id %u); leaving it", ifc->name, id,
				ifc->seen_id);
		}
		return 0;
	}
	/* nothing attached: put ours back, in the mode it ran in */
	fd = bpf_program__fd(p->bpf);
	if (fd < 0)
		fd = xdp_program__fd(p->xdp);
	if (bpf_xdp_attach(ifc->ifindex, fd,
			   xdp_flags_of(ifc->mode) | XDP_FLAGS_UPDATE_IF_NOEXIST,
			   NULL) < 0) {
		int err = -errno;

		pr_err("xdp: sluice_xdp was detached from %s; attaching it "
		       "again failed: %s", ifc->name, strerror(-err));
		return err;
	}
	ifc->raw = true;
	ifc->seen_id = 0;
	ifc->foreign = false;
	pr_warn("xdp: sluice_xdp was detached from %s behind our back; "
		"attached again (%s mode)", ifc->name, xdpctl__mode_name(ifc->mode));
	return 1;
}
