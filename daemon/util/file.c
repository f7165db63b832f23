// SPDX-License-Identifier: MIT
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max, char **out, size_t *outlen)
{
	size_t len = 0, cap;
	char *buf = NULL;
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		goto out;
	}
	/* a regular file's size is known: usually one read, no regrowth */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 &&
			      (size_t)st.st_size <= max ?
		      (size_t)st.st_size + 1 : 4096;
	for (;;) {
		ssize_t r;

		if (!buf || len == cap) {
			char *nb;

			if (buf)
				cap *= 2;
			nb = realloc(buf, cap + 1);	/* + the NUL */
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			ret = -EFBIG;
			goto out;
		}
	}
out:
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}
