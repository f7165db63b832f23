// SPDX-License-Identifier: MIT
/* Access log writer thread: see logwriter.h. */
#include "obs/logwriter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http/accesslog.h"
#include "lib/log.h"

#define MAX_IOV 64

struct logwriter {
	char *path;
	bool to_stdout;
	int fd;
	int efd;			/* wake-ups: kicks, reopen, stop */
	pthread_t thread;
	bool started;
	atomic_bool stop;
	atomic_bool reopen;
	atomic_bool kicked;		/* an eventfd write is pending */
	_Atomic uint64_t written;
	_Atomic uint64_t write_dropped;
	_Atomic uint64_t drained_gen;	/* bumped after every drain pass */
	uint64_t last_warn;
	unsigned int n_rings;
	struct accesslog_ring *rings;
};

static int open_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	return fd < 0 ? -errno : fd;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake(struct logwriter *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;	/* the timed wake-up still comes */
}

static uint64_t count_lines(const struct iovec *iov, int n, size_t bytes)
{
	uint64_t lines = 0;

	for (int i = 0; i < n && bytes; i++) {
		size_t len = iov[i].iov_len < bytes ? iov[i].iov_len : bytes;
		const char *p = iov[i].iov_base, *end = p + len;

		while ((p = memchr(p, '\n', (size_t)(end - p)))) {
			lines++;
			p++;
		}
		bytes -= len;
	}
	return lines;
}

/* Write all `total` bytes of iov[0..n), continuing after short writes so
 * that a batch is never interleaved with the next one. 0, or -errno with
 * the bytes written before the error in *done. */
static int writev_all(int fd, struct iovec *iov, int n, size_t total,
		      size_t *done)
{
	*done = 0;
	while (*done < total) {
		ssize_t k = writev(fd, iov, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		*done += (size_t)k;
		while (n && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

/* One pass over the rings: gather what they hold and write it with as few
 * writev() calls as it takes. A failed write drops the batch (the disk is
 * full or gone; waiting would only fill the rings) and counts the lines. */
static void drain(struct logwriter *w)
{
	struct iovec iov[MAX_IOV], wv[MAX_IOV];
	size_t sizes[MAX_IOV / 2];
	unsigned int r = 0;

	while (r < w->n_rings) {
		unsigned int first = r, nr = 0;
		int n = 0;
		size_t total = 0, done;
		int err;

		for (; r < w->n_rings && n + 2 <= MAX_IOV; r++, nr++) {
			sizes[nr] = accesslog_ring_peek(&w->rings[r], iov + n);
			total += sizes[nr];
			n += 2;
		}
		if (!total)
			continue;
		memcpy(wv, iov, sizeof(iov[0]) * (size_t)n);
		err = writev_all(w->fd, wv, n, total, &done);
		if (err) {
			uint64_t lost = count_lines(iov, n, total) -
					count_lines(iov, n, done);

			atomic_fetch_add(&w->write_dropped, lost);
			if (now_ms() - w->last_warn > 10000) {
				pr_warn("access log %s: write failed: %s; %llu lines dropped",
					w->path, strerror(-err), (unsigned long long)lost);
				w->last_warn = now_ms();
			}
			if (done > 0)
				atomic_fetch_add(&w->written,
						 count_lines(iov, n, done));
			done = total;
		} else {
			atomic_fetch_add(&w->written,
					 count_lines(iov, n, done));
		}
		/* the batch is out (or given up): free the ring space */
		for (unsigned int i = 0; i < nr; i++) {
			size_t c = sizes[i] < done ? sizes[i] : done;

			accesslog_ring_consume(&w->rings[first + i], c);
			done -= c;
		}
	}
}

static void do_reopen(struct logwriter *w)
{
	int fd;

	if (w->to_stdout)
		return;
	fd = open_path(w->path);
	if (fd < 0) {
		pr_err("access log: reopening %s failed: %s; still writing to the old file",
		       w->path, strerror(-fd));
		return;
	}
	close(w->fd);
	w->fd = fd;
	pr_info("access log: reopened %s", w->path);
}

static void *writer_main(void *arg)
{
	struct logwriter *w = arg;
	struct pollfd pfd = { .fd = w->efd, .events = POLLIN };
	uint64_t v;

	for (;;) {
		if (poll(&pfd, 1, LOGWRITER_FLUSH_MS) > 0 &&
		    read(w->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
		atomic_store(&w->kicked, false);
		drain(w);
		if (atomic_exchange(&w->reopen, false)) {
			drain(w);
			do_reopen(w);
		}
		atomic_fetch_add(&w->drained_gen, 1);
		if (atomic_load(&w->stop)) {
			drain(w);
			break;
		}
	}
	return NULL;
}

struct logwriter *logwriter_open(const char *path, unsigned int n_rings,
				 size_t ring_bytes, char *err, size_t errlen)
{
	struct logwriter *w;
	int ret;

	if (!path || !*path || !n_rings) {
		snprintf(err, errlen, "access log: no path or no workers");
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto oom;
	w->fd = -1;
	w->efd = -1;
	w->path = strdup(path);
	w->rings = calloc(n_rings, sizeof(*w->rings));
	if (!w->path || !w->rings)
		goto oom;
	w->n_rings = n_rings;
	for (unsigned int i = 0; i < n_rings; i++) {
		ret = accesslog_ring_init(&w->rings[i], ring_bytes);
		if (ret) {
			snprintf(err, errlen, "access log: ring of %zu bytes: %s",
				 ring_bytes, strerror(-ret));
			goto fail;
		}
	}
	w->to_stdout = strcmp(path, "-") == 0 || strcmp(path, "stdout") == 0;
	if (w->to_stdout) {
		w->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		ret = w->fd < 0 ? -errno : 0;
	} else {
		ret = open_path(path);
		w->fd = ret;
	}
	if (ret < 0) {
		snprintf(err, errlen, "access log: %s: %s", path, strerror(-ret));
		goto fail;
	}
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		ret = -errno;
		snprintf(err, errlen, "access log: eventfd: %s", strerror(-ret));
		goto fail;
	}
	return w;
oom:
	ret = -ENOMEM;
	snprintf(err, errlen, "access log: out of memory");
fail:
	logwriter_close(w);
	errno = -ret;
	return NULL;
}

int logwriter_start(struct logwriter *w)
{
	int ret;

	if (w->started)
		return 0;
	ret = pthread_create(&w->thread, NULL, writer_main, w);
	if (ret)
		return -ret;
	w->started = true;
	return 0;
}

bool logwriter_submit(struct logwriter *w, unsigned int ring, const char *line,
		      size_t len)
{
	struct accesslog_ring *r;

	if (ring >= w->n_rings)
		return false;
	r = &w->rings[ring];
	if (!accesslog_ring_put(r, line, len))
		return false;
	if (accesslog_ring_used(r) > r->cap / 2 &&
	    !atomic_exchange_explicit(&w->kicked, true, memory_order_relaxed))
		wake(w);
	return true;
}

void logwriter_reopen(struct logwriter *w)
{
	if (!w)
		return;
	atomic_store(&w->reopen, true);
	wake(w);
}

bool logwriter_flush(struct logwriter *w, unsigned int timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		uint64_t gen = atomic_load(&w->drained_gen);
		bool empty = true;

		for (unsigned int i = 0; i < w->n_rings; i++)
			empty &= accesslog_ring_used(&w->rings[i]) == 0;
		if (empty)
			return true;
		wake(w);
		while (atomic_load(&w->drained_gen) == gen) {
			if (now_ms() >= deadline)
				return false;
			usleep(1000);
		}
	}
}

uint64_t logwriter_written(const struct logwriter *w)
{
	return w ? atomic_load(&w->written) : 0;
}

uint64_t logwriter_dropped(const struct logwriter *w)
{
	uint64_t n;

	if (!w)
		return 0;
	n = atomic_load(&w->write_dropped);
	for (unsigned int i = 0; i < w->n_rings; i++)
		n += atomic_load_explicit(&w->rings[i].dropped,
					  memory_order_relaxed);
	return n;
}

const char *logwriter_path(const struct logwriter *w)
{
	return w ? w->path : NULL;
}

void logwriter_close(struct logwriter *w)
{
	if (!w)
		return;
	if (w->started) {
		atomic_store(&w->stop, true);
		wake(w);
		pthread_join(w->thread, NULL);
	}
	if (w->fd >= 0)
		close(w->fd);
	if (w->efd >= 0)
		close(w->efd);
	if (w->rings)
		for (unsigned int i = 0; i < w->n_rings; i++)
			accesslog_ring_destroy(&w->rings[i]);
	free(w->rings);
	free(w->path);
	free(w);
}
