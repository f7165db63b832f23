/* SPDX-License-Identifier: MIT */
/*
 * Allowlist files: pure parser, no I/O except allowlist_load_file().
 *
 * Format: one entry a line; '#' starts a comment (whole line or trailing);
 * blank lines ignored; an entry is an IPv4 or IPv6 address with an optional
 * /prefix (a bare address is a /32 or /128). Host bits set beyond the prefix
 * are an error (a typo more often than not). Options may follow the CIDR,
 * blank-separated, each at most once (allowlists only; a denylist takes
 * none):
 *   rate=N/s       packets per second from one source (IPv6: one /prefix)
 *   burst=N        packets admitted at once above the rate (default: N of
 *                  rate=, i.e. one second's worth)
 *   syn=N/s        new TCP connections (SYN) per second
 *   syn_burst=N    (default: N of syn=)
 * An option not given inherits the default class (xdp.rate_limit). Unknown
 * options are errors.
 */
#ifndef SLUICE_ALLOWLIST_H
#define SLUICE_ALLOWLIST_H

#include <stddef.h>
#include <stdint.h>

struct allowlist_entry {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t prefixlen;	/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network byte order; v4 uses addr[0..3] */
	uint32_t line;		/* 1-based source line */
	/* Rate options; 0: not given on the line (inherit the default) */
	uint32_t rate;		/* rate=N/s */
	uint32_t burst;		/* burst=N */
	uint32_t syn;		/* syn=N/s */
	uint32_t syn_burst;	/* syn_burst=N */
};

/* Largest N accepted by rate=N/s, burst=N, syn=N/s, syn_burst=N. */
#define ALLOWLIST_MAX_RATE 100000000u

struct allowlist {
	struct allowlist_entry *entries;
	size_t n, cap;
};

/*
 * Parse buf[0..len) named `name` (used in messages) and append entries to
 * `al`. Returns the number of entries added, or -EINVAL with
 * "name:line: message: 'text'" written to err (NUL-terminated, truncated to
 * errlen). -ENOMEM on allocation failure. On error `al` is unchanged.
 */
int allowlist_parse(const char *name, const char *buf, size_t len,
		    struct allowlist *al, char *err, size_t errlen);

/* allowlist_parse() with flags: ALLOWLIST_NO_OPTIONS refuses rate options
 * (a denylist) with "options are not allowed in a denylist". */
#define ALLOWLIST_NO_OPTIONS (1u << 0)
int allowlist_parse_flags(const char *name, const char *buf, size_t len,
			  struct allowlist *al, unsigned int flags, char *err,
			  size_t errlen);
int allowlist_load_file_flags(const char *path, struct allowlist *al,
			      unsigned int flags, char *err, size_t errlen);

/* Parse a rate "N/s" (text[0..n), N 1..ALLOWLIST_MAX_RATE, decimal, no
 * leading zero) into *out. 0 or -EINVAL. Used by config too. */
int allowlist_parse_rate(const char *text, size_t n, uint32_t *out);

/* Whether e carries any rate option. */
int allowlist_has_options(const struct allowlist_entry *e);

/* Read the file at path and allowlist_parse() it. -errno on I/O failure
 * (with "path: strerror" in err). */
int allowlist_load_file(const char *path, struct allowlist *al, char *err,
			size_t errlen);

/* Parse one CIDR ("198.18.0.0/15", "fd00:5c::1") into e (line unset).
 * Returns 0 or -EINVAL with a message in err. Used by sluicectl too. */
int allowlist_parse_cidr(const char *text, struct allowlist_entry *e,
			 char *err, size_t errlen);

/* Format e as "addr/prefix" into buf (INET6_ADDRSTRLEN + 4 is enough). */
void allowlist_format(const struct allowlist_entry *e, char *buf, size_t len);

/* Sort and remove exact duplicates (same family, prefix, addr). */
void allowlist_normalize(struct allowlist *al);

void allowlist_free(struct allowlist *al);

#endif
