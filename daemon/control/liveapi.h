/* SPDX-License-Identifier: MIT */
/*
 * The admin API's live XDP endpoints: allow and deny lists, bans, top
 * talkers. One implementation serves both sides: sluiced registers these
 * handlers on its admin socket (admin_api.c), and `sluicectl --pin-path DIR`
 * runs the very same handlers in-process on the maps pinned under DIR (when
 * the admin socket is off, or in an emergency).
 *
 *   GET  /allow      {"entries":[{"cidr","source":"file"|"runtime","class",
 *                     "rate","burst","syn","syn_burst"}]}
 *   POST /allow/add  cidr=CIDR [rate=N/s] [burst=N] [syn=N/s] [syn_burst=N]
 *                    (the allowlist file syntax, in one value)
 *   POST /allow/del  cidr=CIDR
 *   GET  /deny       {"entries":[{"cidr","source"}]}
 *   POST /deny/add   cidr=CIDR
 *   POST /deny/del   cidr=CIDR
 *   POST /ban        addr=ADDR[/LEN] [seconds=N|10m|2h|1d] (none: until
 *                    unbanned)
 *   POST /unban      addr=ADDR[/LEN]
 *   GET  /bans       {"bans":[{"cidr","expires_in_s" (null: never),
 *                     "by":"sluiced"|"operator"}]}
 *   GET  /top        seconds=N (1..LIVEAPI_TOP_MAX_S, default 3), n=M
 *                    (default 20): the heaviest dropped sources, sampled,
 *                    of the last N complete seconds and the current one
 *                    {"seconds","window_s","sampler","sample_every",
 *                     "events","sources_evicted","talkers":[{"source",
 *                     "samples","est_packets","est_pps","reason",
 *                     "reasons":{}}]}
 *
 * POST replies carry {"ok":true,...,"message":"<human text>"}; errors the
 * admin error object (400 bad_request, 404 not_found, 409 exists or
 * xdp_disabled, 507 map_full). GET endpoints answer aligned text with
 * ?format=text. Allow/deny edits are runtime only (the next reload re-syncs
 * them from the files); bans survive reloads.
 */
#ifndef SLUICE_LIVEAPI_H
#define SLUICE_LIVEAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct admin_request;
struct admin_reply;
struct allowlist_entry;
struct topsample;
struct xdpctl_live;

#define LIVEAPI_TOP_DEFAULT_S 3
#define LIVEAPI_TOP_MAX_S     10	/* the sampler keeps this much */
#define LIVEAPI_TOP_DEFAULT_N 20
#define LIVEAPI_TOP_MAX_N     100000
#define LIVEAPI_BAN_MAX_S     (366u * 86400)

/* The paths above, NULL-terminated. */
extern const char *const liveapi_paths[];

/* What a successful change did (for the daemon's log and counters). */
struct liveapi_event {
	const char *action;	/* "allow add", "ban", ...; NULL: no change */
	char cidr[64];
	uint64_t seconds;	/* ban: its duration (0: until unbanned) */
};

/*
 * Serve rq on the maps of l (NULL: XDP is off, every path answers 409
 * xdp_disabled). /top answers from the sampler ts at once (sluiced); with
 * ts NULL (sluicectl --pin-path, in its own process) it reads the events
 * ring itself for the `seconds` asked, which a running sluiced's sampler
 * then shares (each sees part of the records). 0 with out filled, or
 * -errno (-ENOENT: not one of liveapi_paths). ev (may be NULL) receives
 * what changed.
 */
int liveapi_handle(struct xdpctl_live *l, struct topsample *ts,
		   const struct admin_request *rq, struct admin_reply *out,
		   struct liveapi_event *ev);

/*
 * Argument checks, shared with sluicectl so that a bad argument is a usage
 * error before any socket or map is touched. An entry is "CIDR" or, with
 * options, "CIDR rate=N/s ..." in the allowlist file syntax; the messages
 * are the allowlist parser's. 0 or -EINVAL with err filled.
 */
int liveapi_parse_entry(const char *text, bool options,
			struct allowlist_entry *e, char *err, size_t errlen);
/* "45", "45s", "10m", "2h", "1d" -> seconds (1..LIVEAPI_BAN_MAX_S); 0 or
 * -EINVAL. */
int liveapi_parse_duration(const char *s, uint64_t *seconds);

#endif
