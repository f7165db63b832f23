// SPDX-License-Identifier: MIT
/* Rate-limit definitions: key kinds and windows. See limit_spec.h. */
#include "config/limit_spec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NSEC 1000000000ull

/* ---- parsing ----------------------------------------------------------- */

static const char *const kind_names[] = {
	[RL_KEY_CONSUMER] = "consumer",
	[RL_KEY_IP] = "ip",
	[RL_KEY_ROUTE] = "route",
	[RL_KEY_GLOBAL] = "global",
};

int rl_key_kind_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcmp(kind_names[i], name))
			return (int)i;
	return -1;
}

const char *rl_key_kind_name(enum rl_key_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ?
		       kind_names[k] : "?";
}

/* Decimal 1..10^12 at *s; advances *s. 0 on error. */
static uint64_t num(const char **s)
{
	uint64_t v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > 1000000000000ull)
			return 0;
		p++;
	}
	*s = p;
	return v;
}

int rl_parse_window(const char *text, struct rl_window *w, char *err,
		    size_t errlen)
{
	const char *s = text;
	uint64_t n, k = 1, unit;

	memset(w, 0, sizeof(*w));
	n = num(&s);
	if (!n || *s != '/') {
		snprintf(err, errlen,
			 "rate '%s': expected N/PERIOD such as 10/s, 1000/h "
			 "or 100/10s (N from 1 to 10^12)", text);
		return -EINVAL;
	}
	s++;
	if (*s >= '0' && *s <= '9') {
		k = num(&s);
		if (!k) {
			snprintf(err, errlen, "rate '%s': bad period count",
				 text);
			return -EINVAL;
		}
	}
	switch (*s) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default:
		snprintf(err, errlen,
			 "rate '%s': period unit must be s, m, h or d", text);
		return -EINVAL;
	}
	s++;
	if (k > 366 * 86400 / unit) {
		snprintf(err, errlen, "rate '%s': period longer than a year",
			 text);
		return -EINVAL;
	}
	w->limit = n;
	w->period_ns = k * unit * NSEC;
	w->burst = n;
	if (!strncmp(s, " burst ", 7)) {
		s += 7;
		w->burst = num(&s);
		if (!w->burst) {
			snprintf(err, errlen,
				 "rate '%s': burst must be a number >= 1", text);
			return -EINVAL;
		}
	}
	if (*s) {
		snprintf(err, errlen, "rate '%s': unexpected '%s'", text, s);
		return -EINVAL;
	}
	return 0;
}
