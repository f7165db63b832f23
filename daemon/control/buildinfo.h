/* SPDX-License-Identifier: MIT */
/*
 * What this process is and runs with: the version, the git revision it was
 * built from, the libbpf, libxdp, liburing and OpenSSL it loaded (each
 * asked of the layer that owns the library), and the kernel features found
 * at start-up (XDP mode per interface, io_uring setup and features). For
 * `sluiced --version`, `sluicectl version`, the start-up log and
 * GET /status, /version.
 */
#ifndef SLUICE_BUILDINFO_H
#define SLUICE_BUILDINFO_H

struct jw;
struct sbuf;
struct xdpctl;

/* The git revision sluice was built from ("0fb98bc1a2b3", "-dirty" when
 * the tree had changes), or "unknown". */
const char *buildinfo_git_rev(void);

/* "PROG VERSION (git REV)\nlibbpf X, libxdp X, liburing X, OpenSSL X\n" */
void buildinfo_text(struct sbuf *b, const char *prog);

/* The kernel lines: release, XDP mode per interface (xdp may be NULL:
 * "xdp: not attached"), io_uring setup, features and multishot limit. */
void buildinfo_kernel_text(struct sbuf *b, const struct xdpctl *xdp);

/* "build": {version, git, libbpf, libxdp, liburing, openssl} and
 * "kernel": {release, xdp: [{interface, mode}], io_uring: {...}}, as keys
 * of the object being written. */
void buildinfo_json(struct jw *w, const struct xdpctl *xdp);

/* Only "build": {...}. */
void buildinfo_json_build(struct jw *w);

/* The kernel lines, to the log at info level (start-up). */
void buildinfo_log_kernel(const struct xdpctl *xdp);

#endif
