// SPDX-License-Identifier: MIT
/*
 * Upgraded connections: after a backend's 101 to a websocket handshake,
 * bytes flow both ways unchanged and half-closes are passed on. See
 * proxy_int.h.
 */
#include "proxy/proxy.h"

#include <errno.h>

#include "proxy/proxy_int.h"

/* ---- upgraded connections ---------------------------------------------- */

/* One direction of a tunnel: from->in is sent to `to`; EOF on `from` shuts
 * `to` for writing once everything was sent. */
static int tunnel_dir(struct proxy *p, struct conn *from, struct conn *to,
		      size_t *inflight)
{
	size_t n = from->in ? buf_len(from->in) : 0;

	if (!(to->flags & CONN_F_SEND)) {
		if (n) {
			*inflight = n;
			if (proxy__post_send(p, to, buf_head(from->in), n))
				return -EIO;
		} else if ((from->flags & CONN_F_EOF) && !to->tunnel_shut_up) {
			to->tunnel_shut_up = true;
			transport_shutdown(&to->tr);
		}
	}
	return proxy__post_recv(p, from);
}

void proxy__pump_tunnel(struct proxy *p, struct conn *c)
{
	struct conn *u = c->peer;

	if (!u) {
		proxy__close_client(p, c);
		return;
	}
	if (tunnel_dir(p, c, u, &c->x->req.inflight) ||
	    tunnel_dir(p, u, c, &c->x->res.inflight)) {
		proxy__close_client(p, c);
		return;
	}
	if (c->tunnel_shut_up && u->tunnel_shut_up &&
	    !((c->flags | u->flags) & CONN_F_SEND))
		proxy__close_client(p, c);	/* both directions finished */
}
