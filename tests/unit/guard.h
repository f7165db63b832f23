/* SPDX-License-Identifier: MIT */
/*
 * Guard-page buffers for parser tests: guard_copy() places a copy of the
 * input so that its last byte is the last byte of a readable page and the
 * next page is PROT_NONE. Reading even one byte past the input crashes
 * (SIGSEGV), which ASan reports with a stack trace.
 *
 *	const char *buf = guard_copy(text, strlen(text));
 *	parse(buf, strlen(text));
 *	...
 *	guard_free();		(optional: the next guard_copy() frees too)
 *
 * The returned pointer stays valid until the next guard_copy() or
 * guard_free(). Not thread-safe (one buffer per process). Aborts the test
 * program if mmap fails.
 */
#ifndef SLUICE_TEST_GUARD_H
#define SLUICE_TEST_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *guard_map_;
static size_t guard_map_len_;

static inline void guard_free(void)
{
	if (guard_map_)
		munmap(guard_map_, guard_map_len_);
	guard_map_ = NULL;
	guard_map_len_ = 0;
}

static inline const char *guard_copy(const void *data, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data_pages = (len + page - 1) / page;
	char *base;

	guard_free();
	if (data_pages == 0)
		data_pages = 1;
	guard_map_len_ = (data_pages + 1) * page;
	base = mmap(NULL, guard_map_len_, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("guard_copy: mmap");
		abort();
	}
	if (mprotect(base + data_pages * page, page, PROT_NONE)) {
		perror("guard_copy: mprotect");
		abort();
	}
	guard_map_ = base;
	base += data_pages * page - len;
	if (len)
		memcpy(base, data, len);
	return base;
}

#endif
