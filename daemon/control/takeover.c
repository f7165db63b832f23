// SPDX-License-Identifier: MIT
/* Takeover of a running sluiced's sockets. See takeover.h. */
#include "control/takeover.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/admin.h"
#include "control/control.h"
#include "lib/jw.h"
#include "lib/log.h"
#include "proxy/worker.h"

#define TAKEOVER_IO_MS	5000
#define TAKEOVER_REPLY	4096

/* ---- new side ---------------------------------------------------------- */

static int connect_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Keep the descriptors of one SCM_RIGHTS message (the first; any later
 * one is closed: the server sends one). */
static void collect_fds(struct msghdr *mh, struct takeover *t)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			if (t->n_fds < TAKEOVER_MAX_FDS)
				t->fds[t->n_fds++] = fds[i];
			else
				close(fds[i]);
		}
	}
}

/* Read the whole reply (the server closes after it), with its fds. */
static ssize_t read_reply(int fd, char *buf, size_t cap, struct takeover *t)
{
	size_t len = 0;

	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int) * TAKEOVER_MAX_FDS)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { buf + len, cap - 1 - len };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
		};
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (len + 1 >= cap)
			return -EMSGSIZE;
		if (poll(&pfd, 1, TAKEOVER_IO_MS) == 0)
			return -ETIMEDOUT;
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		collect_fds(&mh, t);
		if (mh.msg_flags & MSG_CTRUNC)
			return -EMSGSIZE;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

int takeover_fetch(const char *sock_path, struct takeover *t)
{
	static const char rq[] = "POST /takeover HTTP/1.1\r\n"
				 "Host: sluiced\r\nContent-Length: 0\r\n\r\n";
	char buf[TAKEOVER_REPLY];
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	const char *body;
	ssize_t n;
	int fd, ret;

	memset(t, 0, sizeof(*t));
	t->admin_tcp_fd = -1;
	fd = connect_unix(sock_path);
	if (fd < 0) {
		pr_err("takeover: cannot connect to %s: %s", sock_path,
		       strerror(-fd));
		return fd;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl)) {
		ret = -errno;
		goto out;
	}
	t->pid = cr.pid;
	if (write(fd, rq, sizeof(rq) - 1) != (ssize_t)sizeof(rq) - 1) {
		ret = -EIO;
		goto out;
	}
	n = read_reply(fd, buf, sizeof(buf), t);
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.1 200 ", 13) || !body) {
		pr_err("takeover: %s refused: %.300s", sock_path,
		       body ? body + 4 : buf);
		ret = -EPROTO;
		goto out;
	}
	/* the admin TCP listener comes last when there is one */
	if (strstr(body, "\"admin_tcp\":true")) {
		if (!t->n_fds) {
			ret = -EPROTO;
			goto out;
		}
		t->admin_tcp_fd = t->fds[--t->n_fds];
	}
	pr_info("takeover: %zu listening socket(s)%s from pid %d", t->n_fds,
		t->admin_tcp_fd >= 0 ? " and the admin TCP listener" : "",
		(int)t->pid);
	ret = 0;
out:
	if (ret && ret != -EPROTO)
		pr_err("takeover: %s: %s", sock_path, strerror(-ret));
	if (ret)
		takeover_release(t);
	close(fd);
	return ret;
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	return false;
}

int takeover_take(struct takeover *t, const struct sockaddr *sa,
		  socklen_t salen)
{
	(void)salen;
	for (size_t i = 0; i < t->n_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = t->fds[i];

		if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl))
			continue;
		if (same_addr(&ss, sa)) {
			t->fds[i] = -1;
			return fd;
		}
	}
	return -1;
}

int takeover_take_any(struct takeover *t)
{
	for (size_t i = 0; i < t->n_fds; i++) {
		int fd = t->fds[i];

		if (fd >= 0) {
			t->fds[i] = -1;
			return fd;
		}
	}
	return -1;
}

void takeover_release(struct takeover *t)
{
	for (size_t i = 0; i < t->n_fds; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	t->n_fds = 0;
	if (t->admin_tcp_fd >= 0)
		close(t->admin_tcp_fd);
	t->admin_tcp_fd = -1;
}

int takeover_commit(const struct takeover *t)
{
	if (t->pid <= 0)
		return -ESRCH;
	if (kill(t->pid, SIGUSR2))
		return -errno;
	pr_info("takeover: pid %d told to drain and exit", (int)t->pid);
	return 0;
}

/* ---- old side ------------------------------------------------------------ */

/* POST /takeover: every worker's listening sockets, then the admin TCP
 * listener. The process keeps serving until SIGUSR2 (control.c). */
static int h_takeover(const struct admin_request *rq, struct admin_reply *out,
		      void *arg)
{
	struct control *ctl = arg;
	struct jw w;
	size_t n = 0;
	int *fds, ret, tcp = admin_tcp_fd();

	ret = admin_need_method(rq, out, "POST");
	if (ret)
		return ret < 0 ? ret : 0;
	fds = calloc(TAKEOVER_MAX_FDS, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (unsigned int i = 0; i < ctl->n_started; i++) {
		const struct worker *wk = &ctl->workers[i];

		for (size_t j = 0; j < wk->n_listeners; j++) {
			int fd = wk->listeners[j].fd;

			if (fd < 0)
				continue;
			if (n + 1 >= TAKEOVER_MAX_FDS) {
				ret = -E2BIG;
				goto fail;
			}
			fds[n] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			if (fds[n] < 0) {
				ret = -errno;
				goto fail;
			}
			n++;
		}
	}
	if (tcp >= 0) {
		fds[n] = fcntl(tcp, F_DUPFD_CLOEXEC, 0);
		if (fds[n] < 0) {
			ret = -errno;
			goto fail;
		}
		n++;
	}
	jw_init(&w);
	jw_obj(&w);
	jw_ki64(&w, "pid", getpid());
	jw_ku64(&w, "listeners", n - (tcp >= 0));
	jw_kbool(&w, "admin_tcp", tcp >= 0);
	jw_obj_end(&w);
	ret = admin_reply_json(out, &w, 200);
	if (ret)
		goto fail;
	out->fds = fds;
	out->n_fds = n;
	atomic_store(&ctl->takeover_served, true);
	pr_info("takeover: handed %zu socket(s) to a new process; serving "
		"until it is ready", n);
	return 0;
fail:
	while (n > 0)
		close(fds[--n]);
	free(fds);
	if (ret == -ENOMEM)
		return ret;
	return admin_reply_error(out, 500, "takeover_failed",
				 "cannot hand the sockets over: %s",
				 strerror(-ret));
}

int takeover_register(struct control *ctl)
{
	return admin_register("/takeover", h_takeover, ctl);
}
