// SPDX-License-Identifier: MIT
/* Config and list files watched with inotify. See watch.h. */
#include "control/watch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/log.h"

#define WATCH_MAX 64 /* files; past that, not watched */

struct watch_file {
	int wd;			 /* its directory's watch */
	char name[NAME_MAX + 1]; /* base name */
};

struct watch {
	int fd;
	struct watch_file f[WATCH_MAX];
	size_t n;
};

struct watch *watch_new(void)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		free(w);
		return NULL;
	}
	return w;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w);
}

int watch_fd(const struct watch *w)
{
	return w->fd;
}

static void add(struct watch *w, const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int wd;

	if (w->n >= WATCH_MAX)
		return;
	if (slash) {
		size_t len = (size_t)(slash - path);

		if (len >= sizeof(dir))
			return;
		memcpy(dir, path, len);
		dir[len ? len : 1] = '\0';
		if (!len)
			dir[0] = '/';
	} else {
		strcpy(dir, ".");
	}
	wd = inotify_add_watch(w->fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO);
	if (wd < 0) {
		pr_warn("watch_files: %s: %s", dir, strerror(errno));
		return;
	}
	w->f[w->n].wd = wd;
	strncpy(w->f[w->n].name, slash ? slash + 1 : path, NAME_MAX);
	w->n++;
}

int watch_set(struct watch *w, const struct config *cfg)
{
	/* directories stay watched (inotify_add_watch() on a watched one
	 * returns its descriptor): only the file set changes */
	w->n = 0;
	if (!cfg->watch_files)
		return 0;
	add(w, cfg->path);
	for (size_t i = 0; i < cfg->xdp.n_allowlist_files; i++)
		add(w, cfg->xdp.allowlist_files[i]);
	for (size_t i = 0; i < cfg->xdp.n_deny_files; i++)
		add(w, cfg->xdp.deny_files[i]);
	return 0;
}

bool watch_hit(const struct watch *w, const void *buf, size_t n)
{
	const char *p = buf;

	while (n >= sizeof(struct inotify_event)) {
		const struct inotify_event *e = (const void *)p;
		size_t len = sizeof(*e) + e->len;

		if (len > n)
			break;
		for (size_t i = 0; e->len && i < w->n; i++)
			if (w->f[i].wd == e->wd &&
			    !strcmp(w->f[i].name, e->name))
				return true;
		p += len;
		n -= len;
	}
	return false;
}
