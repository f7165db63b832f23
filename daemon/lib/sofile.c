// SPDX-License-Identifier: MIT
/*
 * Shared-library versions from the names of the files the dynamic linker
 * mapped (sofile.h).
 */
#include "lib/sofile.h"

#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sofile_find {
	const char *stem;
	char path[PATH_MAX];
	int found;
};

static int on_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct sofile_find *f = arg;
	const char *base;

	(void)size;
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 0;
	base = strrchr(info->dlpi_name, '/');
	base = base ? base + 1 : info->dlpi_name;
	if (strncmp(base, f->stem, strlen(f->stem)))
		return 0;
	snprintf(f->path, sizeof(f->path), "%s", info->dlpi_name);
	f->found = 1;
	return 1;
}

int sofile_version(const char *stem, char *buf, size_t len)
{
	struct sofile_find f = { .stem = stem };
	char real[PATH_MAX];
	const char *base, *v;

	dl_iterate_phdr(on_object, &f);
	if (!f.found)
		return -ENOENT;
	/* the link's target names the full version; the link itself (kept
	 * when it cannot be resolved) at least the major one */
	base = realpath(f.path, real) ? real : f.path;
	v = strrchr(base, '/');
	v = strstr(v ? v : base, stem);
	if (!v)
		return -ENOENT;
	v += strlen(stem);
	if (*v != '.' || !v[1])
		return -ENOENT;
	snprintf(buf, len, "%s", v + 1);
	return 0;
}
