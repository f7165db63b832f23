/* SPDX-License-Identifier: MIT */
/*
 * Allowlist files: pure parser, no I/O except allowlist_load_file().
 *
 * Format: one entry a line; '#' starts a comment (whole line or trailing);
 * blank lines ignored; an entry is an IPv4 or IPv6 address with an optional
 * /prefix (a bare address is a /32 or /128). Host bits set beyond the prefix
 * are an error (a typo more often than not). Later issues add options after
 * the CIDR (rate=N/s burst=N syn=N/s); unknown options are errors.
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
};

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
