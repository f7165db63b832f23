// SPDX-License-Identifier: MIT
/* Privilege drop with prctl/capset. See privdrop.h. */
#include "control/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int priv_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long v;
	int r;

	r = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (r)
		return -r;
	if (!res) {
		errno = 0;
		v = strtoul(user, &end, 10);
		if (!*user || *end || errno || v >= (unsigned long)(uid_t)-1)
			return -ENOENT;
		r = getpwuid_r((uid_t)v, &pw, buf, sizeof(buf), &res);
		if (r)
			return -r;
		if (!res) {	/* a bare uid without a passwd entry */
			*uid = (uid_t)v;
			*gid = (gid_t)v;
			return 0;
		}
	}
	*uid = res->pw_uid;
	*gid = res->pw_gid;
	return 0;
}

static int cap_set(const int *caps, size_t n)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	for (size_t i = 0; i < n; i++) {
		if (caps[i] < 0 || caps[i] >= 32 * _LINUX_CAPABILITY_U32S_3)
			return -EINVAL;
		d[caps[i] / 32].effective |= 1u << (caps[i] % 32);
		d[caps[i] / 32].permitted |= 1u << (caps[i] % 32);
	}
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

static bool kept(const int *caps, size_t n, int c)
{
	for (size_t i = 0; i < n; i++)
		if (caps[i] == c)
			return true;
	return false;
}

/* Threads of this process (io_uring workers included), from
 * /proc/self/status; 0 when it cannot be read. */
static long thread_count(void)
{
	char line[256];
	long n = 0;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

int priv_drop(uid_t uid, gid_t gid, const int *caps, size_t n)
{
	int last = 63, r;	/* beyond the running kernel: EINVAL, ignored */

	/* the bounding set, the capability sets, keepcaps and no_new_privs
	 * below belong to the calling thread alone: with another thread
	 * running, it would keep what it has */
	if (thread_count() > 1)
		return -EBUSY;

	/* bounding set first: needs CAP_SETPCAP, which goes with root */
	for (int c = 0; c <= last; c++) {
		if (kept(caps, n, c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) &&
	    errno != EINVAL)
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return -errno;
	if (setgroups(1, &gid) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
		return -errno;
	/* setresuid cleared the effective set; restore exactly `caps` */
	r = cap_set(caps, n);
	if (r)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	/* paranoia: getting root back must fail */
	if (uid != 0 && setresuid(0, 0, 0) == 0)
		return -EPERM;
	return 0;
}

unsigned long long priv_effective_caps(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return 0;
	return (unsigned long long)d[0].effective |
	       (unsigned long long)d[1].effective << 32;
}
