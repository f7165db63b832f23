// SPDX-License-Identifier: MIT
#include "lib/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int fd_read_all(int fd, size_t cap, size_t max, char **out, size_t *outlen)
{
	size_t len = 0;
	char *buf = NULL;
	int ret = 0;

	if (cap == 0)
		cap = 4096;
	for (;;) {
		ssize_t r;

		if (!buf || len == cap) {
			char *nb;

			if (buf)
				cap *= 2;
			nb = realloc(buf, cap + 1);	/* + the NUL */
			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			ret = -EFBIG;
			break;
		}
	}
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

int file_read_all(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		ret = -errno;
	else if (S_ISDIR(st.st_mode))
		ret = -EISDIR;
	else
		/* a regular file's size is known: usually one read, no
		 * regrowth */
		ret = fd_read_all(fd, S_ISREG(st.st_mode) && st.st_size > 0 &&
					      (size_t)st.st_size <= max ?
					      (size_t)st.st_size + 1 : 0,
				  max, out, outlen);
	close(fd);
	return ret;
}
