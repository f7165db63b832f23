// SPDX-License-Identifier: MIT
/* Admin API client for sluicectl. See ctlclient.h. */
#include "cmd/ctlclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/http.h"
#include "lib/file.h"

int ctlclient_request(const char *sock_path, const char *method,
		      const char *target, const char *body,
		      struct ctlclient_reply *r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTLCLIENT_TIMEOUT_MS / 1000 };
	struct http_response resp;
	size_t blen = body ? strlen(body) : 0, len = 0;
	char *req = NULL, *buf = NULL;
	int fd = -1, ret, n;

	memset(r, 0, sizeof(*r));
	if (strlen(sock_path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		goto out;
	}
	if (body)
		n = asprintf(&req,
			     "%s %s HTTP/1.1\r\nHost: sluice\r\nUser-Agent: sluicectl\r\n"
			     "Connection: close\r\n"
			     "Content-Type: application/x-www-form-urlencoded\r\n"
			     "Content-Length: %zu\r\n\r\n%s",
			     method, target, blen, body);
	else
		n = asprintf(&req,
			     "%s %s HTTP/1.1\r\nHost: sluice\r\nUser-Agent: sluicectl\r\n"
			     "Connection: close\r\n\r\n",
			     method, target);
	if (n < 0) {
		req = NULL;
		ret = -ENOMEM;
		goto out;
	}
	for (size_t o = 0; o < (size_t)n;) {
		ssize_t w = send(fd, req + o, (size_t)n - o, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		o += (size_t)w;
	}
	ret = fd_read_all(fd, 8192, CTLCLIENT_MAX_REPLY, &buf, &len);
	if (ret) {
		if (ret == -EAGAIN)
			ret = -ETIMEDOUT;
		goto out;
	}
	n = http_parse_response(buf, len, 0, false, &resp);
	if (n <= 0) {
		ret = -EPROTO;
		goto out;
	}
	r->status = resp.status;
	r->len = len - (size_t)n;
	if (resp.body == HTTP_BODY_LENGTH && resp.content_length < r->len)
		r->len = (size_t)resp.content_length;
	memmove(buf, buf + n, r->len);
	buf[r->len] = '\0';
	r->body = buf;
	buf = NULL;
	ret = 0;
out:
	free(req);
	free(buf);
	close(fd);
	return ret;
}

void ctlclient_reply_free(struct ctlclient_reply *r)
{
	free(r->body);
	r->body = NULL;
}

/* Unescape the JSON string starting after its opening quote. Returns the
 * position after the closing quote or NULL. */
static const char *unescape(const char *p, char *out, size_t outlen)
{
	size_t o = 0;

	while (*p && *p != '"') {
		char c = *p++;

		if (c == '\\') {
			c = *p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned int v = 0;

				for (int i = 0; i < 4; i++) {
					char h = *p++;

					v <<= 4;
					if (h >= '0' && h <= '9')
						v |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f')
						v |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						v |= (unsigned)(h - 'A' + 10);
					else
						return NULL;
				}
				c = v < 0x80 && v ? (char)v : '?';
				break;
			}
			case '\0':
				return NULL;
			default:
				break;	/* \" \\ \/ */
			}
		}
		if (o + 1 < outlen)
			out[o++] = c;
	}
	if (outlen)
		out[o] = '\0';
	return *p == '"' ? p + 1 : NULL;
}

static const char *find_key(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	return p ? p + strlen(pat) : NULL;
}

int ctlclient_json_str(const char *json, const char *key, char *out,
		       size_t outlen)
{
	const char *p = json ? find_key(json, key) : NULL;

	if (!p || *p != '"')
		return 0;
	return unescape(p + 1, out, outlen) ? 1 : 0;
}

int ctlclient_json_strs(const char *json, const char *key,
			void (*fn)(const char *s, void *arg), void *arg)
{
	const char *p = json ? find_key(json, key) : NULL;
	char item[4096];
	int n = 0;

	if (!p || *p != '[')
		return 0;
	p++;
	while (*p == '"') {
		p = unescape(p + 1, item, sizeof(item));
		if (!p)
			break;
		fn(item, arg);
		n++;
		if (*p == ',')
			p++;
	}
	return n;
}

void ctlclient_form_escape(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
		    c == ':') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}
