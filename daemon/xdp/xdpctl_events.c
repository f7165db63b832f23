// SPDX-License-Identifier: MIT
/*
 * The daemon's consumer of the sampled-drop events ring (part of the xdpctl
 * module; xdpctl.h). One ring_buffer on descriptors of its own, so the
 * sampler thread polling it never races a close elsewhere.
 */
#include "xdp/xdpctl.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp/xdpctl_int.h"

struct xdpctl_events {
	struct ring_buffer *rb;
	int events_fd, settings_fd;
	xdpctl_event_fn fn;
	void *ctx;
};

static int on_record(void *vctx, void *data, size_t size)
{
	struct xdpctl_events *e = vctx;

	if (size >= sizeof(struct sluice_event))
		e->fn(e->ctx, data);
	return 0;
}

struct xdpctl_events *xdpctl_events_open(const struct xdpctl *x,
					 xdpctl_event_fn fn, void *ctx)
{
	struct xdpctl_events *e;
	int err;

	if (!x || !fn) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fn = fn;
	e->ctx = ctx;
	err = xdpctl__dup_event_fds(x, &e->events_fd, &e->settings_fd);
	if (err)
		goto err_free;
	e->rb = ring_buffer__new(e->events_fd, on_record, e, NULL);
	if (!e->rb) {
		err = -errno;
		goto err_fds;
	}
	return e;

err_fds:
	close(e->events_fd);
	close(e->settings_fd);
err_free:
	free(e);
	errno = -err;
	return NULL;
}

int xdpctl_events_poll(struct xdpctl_events *e, int timeout_ms)
{
	int r = ring_buffer__poll(e->rb, timeout_ms);

	return r == -EINTR ? 0 : r;
}

long xdpctl_events_sample_every(struct xdpctl_events *e)
{
	struct sluice_settings set;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(e->settings_fd, &zero, &set) < 0)
		return -errno;
	return set.flags & SLUICE_SET_EVENTS ? 1l << (set.sample_shift & 31)
					     : 0;
}

void xdpctl_events_close(struct xdpctl_events *e)
{
	if (!e)
		return;
	ring_buffer__free(e->rb);
	close(e->events_fd);
	close(e->settings_fd);
	free(e);
}
