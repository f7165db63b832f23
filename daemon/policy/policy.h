/* SPDX-License-Identifier: MIT */
/*
 * The policy builder: what the request path needs, built from a parsed
 * config snapshot (config/config.h) and attached to it. The snapshot stays
 * plain data from the parser; this adds
 *   - c->auth: the auth store (consumers, roles, credential digests read
 *     from "sha256:", "file:" and "env:" references, JWT keys from PEM and
 *     JWKS files);
 *   - the rate-limit tables of every limit (c->limits[i].table,
 *     c->routes[r].limits[i].table) and the escalation strike table;
 *   - c->release, so that the last config_put() frees them.
 * The request path reaches each of them through the snapshot it already
 * holds: no lookup, at most one pointer more than data kept inline.
 *
 * Called where a config is loaded: control/ (start and SIGHUP reload) and
 * cmd/main.c (--check). Runs at load time, never per request.
 */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <stddef.h>

#include "config/config.h"

/*
 * config_load_file() then policy_build(): the whole snapshot, ready for the
 * workers. 0 and *out (refcount 1); -EINVAL with every error, one a line,
 * in a malloc'd *errors (caller frees): the parser's "file:line:col: ...",
 * the list files' "file:line: ...", and the builder's "FILE: key: ...";
 * -ENOMEM; or the file's -errno.
 */
int policy_load_file(const char *path, struct config **out, char **errors);

/*
 * Build the auth store and the rate-limit tables of c (replacing any built
 * before). Errors, one per line "FILE: key: message", are appended to *acc.
 * 0 or -ENOMEM (c keeps what was built; config_put() frees it).
 */
int policy_build(struct config *c, char **acc, size_t *acc_len);

/*
 * Reload: let the new snapshot nc carry on the rate-limit state of the
 * running one, old. Every limit of nc whose definition is unchanged -- same
 * scope (global, or the route of the same name), key kind, rates and
 * capacity -- drops its fresh table and takes a reference to old's, so
 * clients keep their counts across the reload while requests still running
 * on old stay safe; a changed or new limit keeps its fresh table. The same
 * for the escalation strike table (threshold and window unchanged). Call
 * before nc is published to the workers. Returns the number of tables
 * adopted.
 */
int policy_adopt(struct config *nc, const struct config *old);

#endif
