/* SPDX-License-Identifier: MIT */
/*
 * Internal to the xdpctl module: attaching the program to interfaces and
 * detaching it (xdpctl_attach.c), for the loaded handle (xdpctl.c). Through
 * libxdp (its dispatcher lets other XDP programs share an interface), or,
 * taking over from a persisted sluice_xdp, by atomic replacement.
 */
#ifndef SLUICE_XDPCTL_ATTACH_H
#define SLUICE_XDPCTL_ATTACH_H

#include <net/if.h>
#include <stdbool.h>

#include <xdp/libxdp.h>

#include "config/config.h"

/* What an interface runs before we attach. */
enum xdpctl_prior_kind {
	XDPCTL_PRIOR_NONE = 0,
	/* a sluice_xdp attached directly (persisted) */
	XDPCTL_PRIOR_SLUICE,
	/* a libxdp dispatcher (may hold a sluice_xdp) */
	XDPCTL_PRIOR_DISPATCHER,
	XDPCTL_PRIOR_OTHER,
};

struct xdpctl_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	enum xdp_attach_mode mode;
	bool raw;	/* attached by bpf_xdp_attach (replace), not libxdp */
	struct {
		enum xdpctl_prior_kind kind;
		__u32 id;
		enum xdp_attach_mode mode;
	} prior;	/* what ran there before */
	__u32 seen_id;	/* attached program id at the first check */
	bool foreign;	/* another program replaced ours (reported once) */
};

/* The program to attach: libxdp's handle on it, and the skeleton's program
 * (its fd, once loaded, for the paths that bypass libxdp). */
struct xdpctl_prog {
	struct xdp_program *xdp;
	const struct bpf_program *bpf;
};

/* Resolve ifname and learn what runs on it (ifc->prior). 0 or -errno, with
 * a logged reason. */
int xdpctl__iface_init(struct xdpctl_iface *ifc, const char *ifname);

/*
 * Attach p to ifc in mode (auto: native, then generic with a warning).
 * takeover: some interface runs a persisted sluice_xdp and p is loaded;
 * then a persisted one is replaced atomically, a free interface gets p
 * directly, and any other program is an error (-EBUSY). Otherwise through
 * libxdp, which loads p on its first attach. 0 or -errno, logged.
 */
int xdpctl__attach(const struct xdpctl_prog *p, struct xdpctl_iface *ifc,
		   enum config_xdp_mode mode, bool takeover);

/* "native", "generic" (skb), "offload" (hw) or "unspecified". */
const char *xdpctl__mode_name(enum xdp_attach_mode m);

/* Detach p from ifc, only if it is still the program attached there. */
void xdpctl__detach(const struct xdpctl_prog *p, struct xdpctl_iface *ifc);
/* Is our program still attached to ifc? Nothing attached (detached behind
 * our back): attach it again, return 1. Another program there: report it
 * once and leave it, return 0. 0 when ours is there; -errno. */
int xdpctl__check(const struct xdpctl_prog *p, struct xdpctl_iface *ifc);

#endif
