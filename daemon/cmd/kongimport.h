/* SPDX-License-Identifier: MIT */
/*
 * `sluicectl import kong FILE`: a Kong declarative configuration (YAML,
 * _format_version 1.1 to 3.x) turned into a Sluice configuration.
 *
 * Converted: services (url or protocol/host/port, connect_timeout; a host
 * naming one of the file's upstreams takes that upstream's targets), routes
 * (paths, hosts, methods; one Sluice route per path and host), the plugins
 * key-auth, jwt, rate-limiting, ip-restriction and acl (on a route, a
 * service or globally), and consumers with keyauth_credentials (stored as
 * sha256: hashes, never in plain text), jwt_secrets (HMAC secrets become
 * env: references to set; RSA and EC public keys must be written to files)
 * and acls (roles).
 *
 * Anything else, and any part whose meaning Sluice does not have
 * (strip_path, regex paths, https upstreams, rate limits per month,
 * acl deny lists, ...), is listed as "FILE:LINE: what" in the report,
 * never dropped silently.
 *
 * Pure: text in, text out; no I/O. The caller reads the file.
 */
#ifndef SLUICE_KONGIMPORT_H
#define SLUICE_KONGIMPORT_H

#include <stddef.h>

struct kong_result {
	char *yaml;		/* the Sluice configuration (malloc'd) */
	char *report;		/* one "FILE:LINE: ..." line per item left out
				 * or needing action (malloc'd, may be "") */
	size_t n_left_out;	/* items not converted */
	size_t n_actions;	/* items converted that need the operator
				 * (secrets to provide) */
};

/*
 * Convert text (len bytes of Kong YAML, named file in the report). 0, or
 * -EINVAL when the text is not a Kong declarative config (out->report says
 * why, with the line), or -ENOMEM. On 0 the caller frees with
 * kong_result_free().
 */
int kong_import(const char *file, const char *text, size_t len,
		struct kong_result *out);
void kong_result_free(struct kong_result *r);

#endif
