/* SPDX-License-Identifier: MIT */
/*
 * Whole-file reads for the files sluiced loads (config, allowlists).
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

#endif
