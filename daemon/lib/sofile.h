/* SPDX-License-Identifier: MIT */
/*
 * The version of a shared library this process has loaded, from the file
 * the dynamic linker mapped: libxdp.so.1 is a link to libxdp.so.1.3.0, so
 * the runtime version is "1.3.0" even when the library has no function
 * that says so (libxdp, liburing before 2.4). For `sluiced --version`.
 */
#ifndef SLUICE_LIB_SOFILE_H
#define SLUICE_LIB_SOFILE_H

#include <stddef.h>

/*
 * Find the loaded object whose file name starts with stem ("libxdp.so")
 * and write what follows "stem." in its real (link-resolved) name into buf:
 * "1.3.0". 0, or -ENOENT when no such object is loaded (a static build) or
 * its name carries no version.
 */
int sofile_version(const char *stem, char *buf, size_t len);

#endif
