// SPDX-License-Identifier: MIT
/*
 * Admin server: a poll(2) loop on its own thread. See admin.h.
 *
 * Each connection carries one request: read until the head and the
 * Content-Length body are complete (bounded by ADMIN_MAX_REQUEST and
 * ADMIN_IO_TIMEOUT_MS), dispatch by exact path, write the reply, close.
 * The slots are counted per listener, so that clients of the TCP listener
 * (anyone on the host) can never keep the Unix socket (sluicectl) waiting.
 */
#include "control/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "lib/log.h"
#include "lib/jw.h"
#include "lib/str.h"
#include "lib/table.h"

/* ---- registry --------------------------------------------------------------- */

struct admin_route {
	char *path;
	admin_handler_fn fn;
	void *arg;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct admin_route reg[ADMIN_MAX_PATHS];
static size_t n_reg;

int admin_register(const char *path, admin_handler_fn fn, void *arg)
{
	int ret = 0;
	size_t i;

	if (!path || path[0] != '/' || !fn)
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < n_reg; i++)
		if (!strcmp(reg[i].path, path))
			break;
	if (i == n_reg) {
		if (n_reg == ADMIN_MAX_PATHS) {
			ret = -ENOSPC;
			goto out;
		}
		reg[i].path = strdup(path);
		if (!reg[i].path) {
			ret = -ENOMEM;
			goto out;
		}
		n_reg++;
	}
	reg[i].fn = fn;
	reg[i].arg = arg;
out:
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

void admin_unregister_all(void)
{
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < n_reg; i++)
		free(reg[i].path);
	n_reg = 0;
	pthread_mutex_unlock(&reg_lock);
}

static bool lookup(const char *path, struct admin_route *out)
{
	bool found = false;

	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < n_reg; i++) {
		if (!strcmp(reg[i].path, path)) {
			*out = reg[i];
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

/* ---- reply helpers ---------------------------------------------------------- */

int admin_reply_set(struct admin_reply *out, int status,
		    const char *content_type, const char *body, size_t len)
{
	char *b = malloc(len + 1);

	if (!b)
		return -ENOMEM;
	memcpy(b, body, len);
	b[len] = '\0';
	free(out->body);
	out->body = b;
	out->len = len;
	out->status = status;
	out->content_type = content_type;
	return 0;
}

static int reply_verror(struct admin_reply *out, int status, const char *code,
			const char *fmt, va_list ap)
{
	char msg[1024];
	struct jw w;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	jw_init(&w);
	jw_obj(&w);
	jw_kstr(&w, "error", code);
	jw_ku64(&w, "status", (uint64_t)status);
	jw_kstr(&w, "message", msg);
	jw_obj_end(&w);
	return admin_reply_json(out, &w, status);
}

int admin_reply_error(struct admin_reply *out, int status, const char *code,
		      const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = reply_verror(out, status, code, fmt, ap);
	va_end(ap);
	return ret;
}

int admin_reply_bad_method(struct admin_reply *out, const char *allowed)
{
	return admin_reply_error(out, 405, "method_not_allowed",
				 "this endpoint accepts %s", allowed);
}

/* ---- handler helpers ---- */

/*
 * Find key in an application/x-www-form-urlencoded string ("a=1&b=x%2Fy")
 * and decode its value into out. 1 found, 0 absent, -EINVAL bad encoding or
 * too long.
 */
static int form_get(const char *s, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);

	while (s && *s) {
		const char *amp = strchr(s, '&');
		const char *end = amp ? amp : s + strlen(s);

		if ((size_t)(end - s) > kl && !strncmp(s, key, kl) && s[kl] == '=') {
			size_t o = 0;

			for (const char *p = s + kl + 1; p < end; p++) {
				char c = *p;

				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int h, l;

					if (end - p < 3)
						return -EINVAL;
					h = str_hexval(p[1]);
					l = str_hexval(p[2]);
					if (h < 0 || l < 0)
						return -EINVAL;
					c = (char)(h * 16 + l);
					p += 2;
				}
				if (c == '\0' || o + 1 >= outlen)
					return -EINVAL;
				out[o++] = c;
			}
			out[o] = '\0';
			return 1;
		}
		s = amp ? amp + 1 : NULL;
	}
	return 0;
}

int admin_param(const struct admin_request *rq, const char *key, char *out,
		 size_t outlen)
{
	int r = form_get(rq->query, key, out, outlen);

	if (r == 0 && rq->body_len)
		r = form_get(rq->body, key, out, outlen);
	return r;
}

bool admin_want_text(const struct admin_request *rq)
{
	char f[16];

	return admin_param(rq, "format", f, sizeof(f)) == 1 && !strcmp(f, "text");
}

int admin_reply_json(struct admin_reply *out, struct jw *w, int status)
{
	char *body;
	size_t len;
	int ret;

	ret = jw_finish(w, &body, &len);
	if (ret)
		return ret;
	free(out->body);
	out->body = body;
	out->len = len;
	out->status = status;
	out->content_type = "application/json";
	return 0;
}

int admin_reply_text(struct admin_reply *out, char *text, size_t len)
{
	free(out->body);
	out->body = text;
	out->len = len;
	out->status = 200;
	out->content_type = "text/plain; charset=utf-8";
	return 0;
}

int admin_reply_sbuf(struct admin_reply *out, struct sbuf *b)
{
	size_t len;
	char *text = sbuf_take(b, &len);

	if (!text)
		return -ENOMEM;
	return admin_reply_text(out, text, len);
}

int admin_reply_table(struct admin_reply *out, struct table *t)
{
	struct sbuf b;

	sbuf_init_grow(&b, 1024);
	table_render(t, &b);
	return admin_reply_sbuf(out, &b);
}

int admin_need_method(const struct admin_request *rq, struct admin_reply *out,
		      const char *method)
{
	if (strcmp(rq->method, method))
		return admin_reply_bad_method(out, method) ? -ENOMEM : 1;
	return 0;
}

/* ---- server state ------------------------------------------------------------ */

struct aconn {
	int fd;			/* -1: free slot */
	bool via_unix;
	bool writing;
	bool sent_continue;
	char *buf;		/* ADMIN_MAX_REQUEST + 1 */
	size_t len;
	size_t head_len;	/* > 0 once the head parsed */
	size_t need;		/* head + body bytes */
	char *out;
	size_t out_len, out_off;
	int *fds;		/* sent with the first bytes of the reply */
	size_t n_fds;
	uint64_t deadline_ms;
};

static struct {
	bool listening;		/* admin_listen() done */
	bool running;		/* the thread runs */
	pthread_t thread;
	int unix_fd, tcp_fd, wake_fd;
	char *unix_path;
	dev_t unix_dev;
	ino_t unix_ino;
	unsigned int tcp_port;
	struct aconn conns[ADMIN_MAX_CONNS];
} srv = { .unix_fd = -1, .tcp_fd = -1, .wake_fd = -1 };

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_fds(struct aconn *c)
{
	for (size_t i = 0; i < c->n_fds; i++)
		close(c->fds[i]);
	free(c->fds);
	c->fds = NULL;
	c->n_fds = 0;
}

static void conn_close(struct aconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	close_fds(c);
	free(c->buf);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* ---- request handling -------------------------------------------------------- */

static void set_output(struct aconn *c, const struct admin_reply *r,
		       bool head_only)
{
	const char *ct = r->content_type ? r->content_type : "application/json";
	size_t blen = head_only ? 0 : r->len;
	char hdr[1536];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "Cache-Control: no-store\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "%s"
		     "Connection: close\r\n\r\n",
		     r->status, http_reason(r->status), ct, r->len,
		     r->headers ? r->headers : "");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		n = 0;
	c->out = malloc((size_t)n + blen);
	if (!c->out) {
		c->out_len = 0;
	} else {
		memcpy(c->out, hdr, (size_t)n);
		if (blen)
			memcpy(c->out + n, r->body, blen);
		c->out_len = (size_t)n + blen;
	}
	c->out_off = 0;
	c->writing = true;
}

static void reply_error_now(struct aconn *c, int status, const char *code,
			    const char *msg)
{
	struct admin_reply r = { 0 };

	if (admin_reply_error(&r, status, code, "%s", msg)) {
		r.status = status;
		r.body = NULL;
		r.len = 0;
	}
	set_output(c, &r, false);
	free(r.body);
}

static bool method_is(const struct http_request *rq, const char *m)
{
	return rq->method_len == strlen(m) &&
	       !memcmp(rq->method, m, rq->method_len);
}

static void dispatch(struct aconn *c, const struct http_request *hr)
{
	struct admin_reply r = { .status = 200 };
	struct admin_request rq = { .via_unix = c->via_unix };
	struct admin_route route;
	const char *q = memchr(hr->target, '?', hr->target_len);
	size_t plen = q ? (size_t)(q - hr->target) : hr->target_len;
	size_t qlen = q ? hr->target_len - plen - 1 : 0;
	bool head = method_is(hr, "HEAD");
	char *strs;
	int ret;

	/* one allocation: method, path, query, body, each NUL-terminated */
	strs = malloc(hr->method_len + plen + qlen + (c->need - c->head_len) + 4);
	if (!strs) {
		reply_error_now(c, 500, "internal_error", "out of memory");
		return;
	}
	memcpy(strs, hr->method, hr->method_len);
	strs[hr->method_len] = '\0';
	rq.method = strs;
	rq.path = strs + hr->method_len + 1;
	memcpy((char *)rq.path, hr->target, plen);
	((char *)rq.path)[plen] = '\0';
	rq.query = rq.path + plen + 1;
	memcpy((char *)rq.query, q ? q + 1 : "", qlen);
	((char *)rq.query)[qlen] = '\0';
	rq.body = rq.query + qlen + 1;
	rq.body_len = c->need - c->head_len;
	memcpy((char *)rq.body, c->buf + c->head_len, rq.body_len);
	((char *)rq.body)[rq.body_len] = '\0';

	if (rq.path[0] != '/') {
		ret = admin_reply_error(&r, 400, "bad_request",
					"request-target must be a path");
	} else if (!lookup(rq.path, &route)) {
		ret = admin_reply_error(&r, 404, "not_found",
					"no admin endpoint %.200s", rq.path);
	} else if (!c->via_unix && !method_is(hr, "GET") && !head) {
		ret = admin_reply_error(&r, 403, "forbidden",
					"%s %.200s is accepted only on the admin Unix socket",
					rq.method, rq.path);
	} else {
		if (head)
			rq.method = "GET";	/* handlers see GET; body dropped */
		ret = route.fn(&rq, &r, route.arg);
		if (ret) {
			pr_warn("admin: %s %s: handler failed: %s", rq.method,
				rq.path, strerror(-ret));
			ret = admin_reply_error(&r, 500, "internal_error",
						"handler failed: %s",
						strerror(-ret));
		} else if (!r.status) {
			r.status = 200;
		}
	}
	if (ret) {
		free(r.body);
		r.body = NULL;
		r.len = 0;
		r.status = 500;
	}
	set_output(c, &r, head);
	if (r.fds && c->via_unix) {
		c->fds = r.fds;
		c->n_fds = r.n_fds;
	} else if (r.fds) {
		for (size_t i = 0; i < r.n_fds; i++)
			close(r.fds[i]);
		free(r.fds);
	}
	free(r.body);
	free(strs);
}

/* Parse what arrived; dispatch once the request is complete. */
static void on_data(struct aconn *c)
{
	struct http_limits lim;
	struct http_request hr;
	int ret;

	http_limits_default(&lim);
	lim.max_head = ADMIN_MAX_REQUEST / 2;
	ret = http_parse_request(c->buf, c->len, 0, &lim, &hr);
	if (ret == -2) {
		if (c->len >= ADMIN_MAX_REQUEST)
			reply_error_now(c, 431, "headers_too_large",
					"request head too large");
		return;
	}
	if (ret < 0) {
		reply_error_now(c, hr.status ? hr.status : 400, "bad_request",
				hr.error ? hr.error : "malformed request");
		return;
	}
	if (hr.body == HTTP_BODY_CHUNKED) {
		reply_error_now(c, 411, "length_required",
				"send the body with Content-Length");
		return;
	}
	c->head_len = (size_t)ret;
	if (hr.body == HTTP_BODY_LENGTH &&
	    hr.content_length > ADMIN_MAX_REQUEST - c->head_len) {
		reply_error_now(c, 413, "payload_too_large",
				"admin requests are limited to 64 KiB");
		return;
	}
	c->need = c->head_len +
		  (hr.body == HTTP_BODY_LENGTH ? (size_t)hr.content_length : 0);
	if (c->len < c->need) {
		if (hr.expect_continue && !c->sent_continue) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			c->sent_continue = true;
			if (write(c->fd, cont, sizeof(cont) - 1) < 0)
				pr_debug("admin: 100-continue: %s",
					 strerror(errno));
		}
		return;
	}
	dispatch(c, &hr);
}

static void on_readable(struct aconn *c)
{
	ssize_t n;

	if (!c->buf) {
		c->buf = malloc(ADMIN_MAX_REQUEST + 1);
		if (!c->buf) {
			conn_close(c);
			return;
		}
	}
	n = read(c->fd, c->buf + c->len, ADMIN_MAX_REQUEST - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	on_data(c);
}

/* The first bytes of the reply, with c->fds as SCM_RIGHTS. */
static ssize_t send_with_fds(struct aconn *c)
{
	struct iovec iov = {
		.iov_base = c->out + c->out_off,
		.iov_len = c->out_len - c->out_off,
	};
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t clen = CMSG_SPACE(sizeof(int) * c->n_fds);
	struct cmsghdr *cm;
	ssize_t n;

	mh.msg_control = calloc(1, clen);
	if (!mh.msg_control) {
		errno = ENOMEM;
		return -1;
	}
	mh.msg_controllen = clen;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * c->n_fds);
	memcpy(CMSG_DATA(cm), c->fds, sizeof(int) * c->n_fds);
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	free(mh.msg_control);
	return n;
}

static void on_writable(struct aconn *c)
{
	ssize_t n;

	if (c->out_off < c->out_len && c->n_fds) {
		n = send_with_fds(c);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			conn_close(c);
			return;
		}
		close_fds(c);	/* the peer holds its own copies now */
		c->out_off += (size_t)n;
	}
	if (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off >= c->out_len)
		conn_close(c);
}

/* SO_PEERCRED: root and our own uid only (the socket mode is the first
 * line of defence; this is the second). */
static bool peer_allowed(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l))
		return false;
	*uid = cr.uid;
	return cr.uid == 0 || cr.uid == geteuid();
}

/*
 * Every TCP slot is taken: answer 503 at once and close, so that a scraper
 * learns why instead of waiting. Best effort (one non-blocking send of a
 * short reply); what the client sent already is read first so that the
 * close does not become a reset that could discard the reply.
 */
static void refuse_busy(int fd)
{
	char body[192], reply[512], sink[2048];
	int bl, n;

	for (int i = 0; i < 4; i++)
		if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
			break;
	bl = snprintf(body, sizeof(body),
		      "{\"error\":\"too_many_connections\",\"status\":503,"
		      "\"message\":\"the admin TCP listener serves at most %d "
		      "connections at a time; try again\"}",
		      ADMIN_MAX_TCP_CONNS);
	n = snprintf(reply, sizeof(reply),
		     "HTTP/1.1 503 %s\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %d\r\n"
		     "Retry-After: 1\r\n"
		     "Cache-Control: no-store\r\n"
		     "Connection: close\r\n\r\n%s",
		     http_reason(503), bl, body);
	if (n > 0 && (size_t)n < sizeof(reply) &&
	    send(fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		pr_debug("admin: refusing a TCP client: %s", strerror(errno));
	shutdown(fd, SHUT_WR);
	close(fd);
}

/* full: the listener's slots are all taken (only the TCP listener is polled
 * then; its client is refused). */
static void on_accept(int lfd, bool via_unix, bool full)
{
	struct aconn *c = NULL;
	uid_t uid = 0;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			pr_warn("admin: accept: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; !full && i < ADMIN_MAX_CONNS; i++) {
		if (srv.conns[i].fd < 0) {
			c = &srv.conns[i];
			break;
		}
	}
	if (!c) {	/* the TCP listener is full (the caps add up to the
			 * slots, and a full Unix socket is not polled) */
		if (via_unix)
			close(fd);
		else
			refuse_busy(fd);
		return;
	}
	c->fd = fd;
	c->via_unix = via_unix;
	c->deadline_ms = now_ms() + ADMIN_IO_TIMEOUT_MS;
	if (via_unix && !peer_allowed(fd, &uid)) {
		char msg[96];

		pr_warn("admin: refused a connection from uid %u", (unsigned)uid);
		snprintf(msg, sizeof(msg),
			 "uid %u may not use the admin socket", (unsigned)uid);
		reply_error_now(c, 403, "forbidden", msg);
	}
}

static void *admin_thread(void *arg)
{
	struct pollfd pfd[3 + ADMIN_MAX_CONNS];
	struct aconn *who[3 + ADMIN_MAX_CONNS];

	(void)arg;
	for (;;) {
		uint64_t now = now_ms(), next = UINT64_MAX;
		size_t n = 0, used_tcp = 0, used_unix = 0;
		bool tcp_full;
		int timeout, r;

		pfd[n] = (struct pollfd){ .fd = srv.wake_fd, .events = POLLIN };
		who[n++] = NULL;
		for (size_t i = 0; i < ADMIN_MAX_CONNS; i++) {
			struct aconn *c = &srv.conns[i];

			if (c->fd < 0)
				continue;
			if (now >= c->deadline_ms) {
				conn_close(c);
				continue;
			}
			if (c->via_unix)
				used_unix++;
			else
				used_tcp++;
			if (c->deadline_ms < next)
				next = c->deadline_ms;
			pfd[n] = (struct pollfd){
				.fd = c->fd,
				.events = c->writing ? POLLOUT : POLLIN,
			};
			who[n++] = c;
		}
		/* a full Unix socket keeps its clients in the backlog (root
		 * only: they wait); the TCP listener is always polled, and
		 * refuses when full (anyone: they are told at once) */
		if (srv.unix_fd >= 0 && used_unix < ADMIN_MAX_UNIX_CONNS) {
			pfd[n] = (struct pollfd){ .fd = srv.unix_fd,
						  .events = POLLIN };
			who[n++] = NULL;
		}
		if (srv.tcp_fd >= 0) {
			pfd[n] = (struct pollfd){ .fd = srv.tcp_fd,
						  .events = POLLIN };
			who[n++] = NULL;
		}
		tcp_full = used_tcp >= ADMIN_MAX_TCP_CONNS;
		timeout = next == UINT64_MAX ? -1 : (int)(next - now);
		r = poll(pfd, (nfds_t)n, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			pr_err("admin: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;	/* admin_stop() */
		for (size_t i = 1; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (!who[i]) {
				bool via_unix = pfd[i].fd == srv.unix_fd;

				on_accept(pfd[i].fd, via_unix,
					  !via_unix && tcp_full);
				continue;
			}
			if (who[i]->fd != pfd[i].fd)
				continue;
			if (who[i]->writing)
				on_writable(who[i]);
			else
				on_readable(who[i]);
			/* a reply produced by on_readable goes out at once */
			if (who[i]->fd >= 0 && who[i]->writing)
				on_writable(who[i]);
		}
	}
	return NULL;
}

/* ---- listeners --------------------------------------------------------------- */

/* Is something listening on the Unix socket at path? */
static bool unix_live(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_unix(const char *path, unsigned int mode, bool replace_live)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		pr_err("admin: socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	ret = mkdir_parent(path);
	if (ret) {
		pr_err("admin: cannot create the directory of %s: %s", path,
		       strerror(-ret));
		return ret;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			pr_err("admin: %s exists and is not a socket", path);
			return -EEXIST;
		}
		if (!replace_live && unix_live(&sun)) {
			pr_err("admin: %s is in use (is another sluiced running?)",
			       path);
			return -EADDRINUSE;
		}
		/* stale, left by a process that died; or, taking over, the
		 * socket of the process we replace (it keeps serving the
		 * connections it has, and leaves the new file alone) */
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* no window with a wider mode: create the file 0600 already */
	old = umask(0177);
	ret = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret || chmod(path, mode) || listen(fd, 16) || lstat(path, &st)) {
		ret = -errno;
		pr_err("admin: %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	srv.unix_dev = st.st_dev;
	srv.unix_ino = st.st_ino;
	return fd;
}

static int open_tcp(const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, one = 1, ret;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, sa, len) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	srv.tcp_port = ss.ss_family == AF_INET6 ?
			       ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
			       ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A listener handed over by the process we replace. */
static int adopt_tcp(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl))
		return -errno;
	srv.tcp_port = ss.ss_family == AF_INET6 ?
			       ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
			       ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static void close_listeners(void)
{
	struct stat st;

	if (srv.unix_fd >= 0) {
		close(srv.unix_fd);
		/* remove the file only if it is still ours */
		if (srv.unix_path && lstat(srv.unix_path, &st) == 0 &&
		    st.st_dev == srv.unix_dev && st.st_ino == srv.unix_ino)
			unlink(srv.unix_path);
	}
	if (srv.tcp_fd >= 0)
		close(srv.tcp_fd);
	if (srv.wake_fd >= 0)
		close(srv.wake_fd);
	free(srv.unix_path);
	srv.unix_path = NULL;
	srv.unix_fd = srv.tcp_fd = srv.wake_fd = -1;
	srv.tcp_port = 0;
}

int admin_listen(const struct admin_opts *o)
{
	int ret;

	if (srv.listening)
		return -EALREADY;
	for (size_t i = 0; i < ADMIN_MAX_CONNS; i++) {
		memset(&srv.conns[i], 0, sizeof(srv.conns[i]));
		srv.conns[i].fd = -1;
	}
	srv.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv.wake_fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (o->unix_path) {
		srv.unix_path = strdup(o->unix_path);
		if (!srv.unix_path) {
			ret = -ENOMEM;
			goto fail;
		}
		ret = open_unix(o->unix_path, o->unix_mode ? o->unix_mode : 0600,
				o->replace_live);
		if (ret < 0)
			goto fail;
		srv.unix_fd = ret;
	}
	if (o->tcp && o->tcp_adopt) {
		ret = adopt_tcp(o->tcp_fd);
		if (ret < 0) {
			pr_err("admin: TCP listener taken over: %s",
			       strerror(-ret));
			goto fail;
		}
		srv.tcp_fd = ret;
	} else if (o->tcp) {
		ret = open_tcp(o->tcp, o->tcp_len);
		if (ret < 0) {
			pr_err("admin: TCP listener: %s", strerror(-ret));
			goto fail;
		}
		srv.tcp_fd = ret;
	}
	srv.listening = true;
	if (srv.unix_fd >= 0)
		pr_info("admin: listening on unix:%s", o->unix_path);
	if (srv.tcp_fd >= 0)
		pr_info("admin: listening on tcp port %u (read-only)",
			srv.tcp_port);
	return 0;
fail:
	close_listeners();
	return ret;
}

int admin_serve(void)
{
	int ret;

	if (!srv.listening)
		return -EINVAL;
	if (srv.running)
		return -EALREADY;
	ret = -pthread_create(&srv.thread, NULL, admin_thread, NULL);
	if (ret) {
		pr_err("admin: thread: %s", strerror(-ret));
		return ret;
	}
	pthread_setname_np(srv.thread, "sluice-admin");
	srv.running = true;
	return 0;
}

int admin_start(const struct admin_opts *o)
{
	int ret;

	ret = admin_listen(o);
	if (ret)
		return ret;
	ret = admin_serve();
	if (ret)
		admin_stop();
	return ret;
}

void admin_stop(void)
{
	uint64_t one = 1;

	if (!srv.listening)
		return;
	if (srv.running) {
		if (write(srv.wake_fd, &one, sizeof(one)) < 0)
			pr_warn("admin: wake: %s", strerror(errno));
		pthread_join(srv.thread, NULL);
		srv.running = false;
	}
	srv.listening = false;
	for (size_t i = 0; i < ADMIN_MAX_CONNS; i++)
		if (srv.conns[i].fd >= 0)
			conn_close(&srv.conns[i]);
	close_listeners();
}

unsigned int admin_tcp_port(void)
{
	return srv.tcp_port;
}

int admin_tcp_fd(void)
{
	return srv.tcp_fd;
}
