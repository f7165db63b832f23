/* SPDX-License-Identifier: MIT */
/*
 * Whole-file reads for the files sluiced loads (config, allowlists), and
 * reading a stream to its end (sluicectl's admin replies).
 */
#ifndef SLUICE_UTIL_FILE_H
#define SLUICE_UTIL_FILE_H

#include <stddef.h>

/*
 * Read all of path (not a directory) into a malloc'd buffer, with a NUL
 * after the data (not counted in *len). 0, or -errno: -EISDIR, -EFBIG
 * when it holds more than max bytes, -ENOMEM, or what open/read said.
 */
int file_read_all(const char *path, size_t max, char **out, size_t *len);

/*
 * Read fd to end of file the same way (cap: the first buffer's size, 0
 * for a default). -EFBIG past max bytes; a read's error as -errno (-EAGAIN
 * when a socket's receive timeout expired).
 */
int fd_read_all(int fd, size_t cap, size_t max, char **out, size_t *len);

#endif
