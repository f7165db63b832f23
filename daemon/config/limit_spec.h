/* SPDX-License-Identifier: MIT */
/*
 * What an L7 rate limit is, as configured: the key it counts by and up to
 * RL_MAX_WINDOWS windows ("10/s", "1000/h", "100/10s burst 5"). The config
 * parser fills struct rl_limit from a limit's "rates:" and reports a bad
 * window at its line and column; policy/ratelimit.h enforces it (GCRA
 * tables). Pure, no allocation.
 */
#ifndef SLUICE_LIMIT_SPEC_H
#define SLUICE_LIMIT_SPEC_H

#include <stddef.h>
#include <stdint.h>

#define RL_MAX_WINDOWS 4
#define RL_DEFAULT_MAX_KEYS 16384

enum rl_key_kind {
	RL_KEY_CONSUMER = 0,	/* consumer name; anonymous: client IP */
	RL_KEY_IP,		/* client address */
	RL_KEY_ROUTE,		/* the route, all clients together */
	RL_KEY_GLOBAL,		/* every request the limit applies to */
};

struct rl_window {
	uint64_t limit;		/* N requests ... */
	uint64_t period_ns;	/* ... per P */
	uint64_t burst;		/* B (default N) */
};

struct rl_limit {
	enum rl_key_kind key;
	struct rl_window windows[RL_MAX_WINDOWS];
	unsigned int n_windows;
	size_t max_keys;	/* table capacity (consumer/ip keys) */
};

/*
 * Parse "N/UNIT", "N/<k>UNIT" (UNIT: s, m, h, d; e.g. "100/10s") with an
 * optional " burst B" suffix. 0 or -EINVAL with a message in err.
 */
int rl_parse_window(const char *text, struct rl_window *w, char *err,
		    size_t errlen);

/* "consumer", "ip", "route", "global" -> kind; -1 if unknown. */
int rl_key_kind_from_name(const char *name);
const char *rl_key_kind_name(enum rl_key_kind k);

#endif
