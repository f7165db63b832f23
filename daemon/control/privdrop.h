/* SPDX-License-Identifier: MIT */
/*
 * Dropping root: switch the process to an unprivileged user after the
 * privileged setup (BPF loaded and attached, ports and sockets bound),
 * keeping only the capabilities the calling thread still needs. Direct
 * prctl(2)/capset(2) system calls; no libcap.
 *
 * Threads: the bounding set, the capability sets and no_new_privs are
 * attributes of each thread, and only glibc's set*id() calls are applied to
 * every thread. So the drop is done while the process has one thread, and
 * every thread is created after it and inherits exactly its credentials;
 * priv_drop() refuses (-EBUSY) when /proc/self/status counts more threads.
 */
#ifndef SLUICE_PRIVDROP_H
#define SLUICE_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

/* Resolve a user name or numeric uid to uid/gid. 0, -ENOENT or -errno. */
int priv_lookup(const char *user, uid_t *uid, gid_t *gid);

/*
 * Become uid/gid (supplementary groups: gid only), with permitted and
 * effective capabilities exactly caps[0..n) (CAP_* numbers), nothing
 * inheritable or ambient, the bounding set reduced to caps, and
 * no_new_privs set. The process must have one thread (-EBUSY otherwise,
 * before anything changed). 0 or -errno; on other failures the process may
 * be half-way: the caller must exit.
 */
int priv_drop(uid_t uid, gid_t gid, const int *caps, size_t n);

/* Effective capability mask of the calling thread (bits by CAP_* number),
 * or 0 on failure. For logs and tests. */
unsigned long long priv_effective_caps(void);

#endif
