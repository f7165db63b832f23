// SPDX-License-Identifier: MIT
/*
 * A TLS 1.3 client that sends KeyUpdate messages, which Python's ssl and
 * curl cannot do (openssl s_client can, one per line typed).
 *
 *   tlsku flood   ADDR PORT SNI N
 *       handshake, one GET / answered, then up to N KeyUpdates that ask
 *       for ours, sent back to back without reading; then read until the
 *       server closes (5 s at most).
 *       Prints "sent=K closed=0|1".
 *   tlsku flood-h2 ADDR PORT SNI N
 *       the same over HTTP/2 (ALPN h2): the preface and SETTINGS instead
 *       of the request.
 *   tlsku between ADDR PORT SNI N K PATH
 *       N requests GET PATH-i on one connection, K KeyUpdates that ask for
 *       ours before each; every response read whole.
 *       Prints "ok=M" (M responses with status 200).
 *   tlsku download ADDR PORT SNI PATH EVERY NEXT
 *       GET PATH, reading its body 4 KiB at a time and sending a KeyUpdate
 *       that asks for ours after every EVERY bytes read; then GET NEXT on
 *       the same connection.
 *       Prints "status=S body=B updates=U next=S2" (-1: no answer).
 *
 * ADDR is an IPv4 literal. The server's certificate is not verified (the
 * tests check the gateway's answers, not its certificate). Exits 0 when it
 * printed its line, 2 on a usage error, 1 when it could not connect or
 * complete the handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static SSL *dial(const char *addr, const char *port, const char *sni,
		 bool h2)
{
	static const unsigned char h1[] = "\x08http/1.1", h2p[] = "\x02h2";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *s;
	int fd;

	if (!ctx || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	sa.sin_port = htons((unsigned short)atoi(port));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return NULL;
	}
	/* a server that stops answering ends the run, not the test's clock */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	SSL_set_tlsext_host_name(s, sni);
	if (h2)
		SSL_set_alpn_protos(s, h2p, sizeof(h2p) - 1);
	else
		SSL_set_alpn_protos(s, h1, sizeof(h1) - 1);
	if (SSL_connect(s) != 1) {
		ERR_print_errors_fp(stderr);
		return NULL;
	}
	return s;
}

static int key_update(SSL *s)
{
	if (SSL_key_update(s, SSL_KEY_UPDATE_REQUESTED) != 1 ||
	    SSL_do_handshake(s) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static int send_get(SSL *s, const char *path, const char *sni)
{
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, sni);

	return n > 0 && (size_t)n < sizeof(req) && SSL_write(s, req, n) == n
		       ? 0 : -1;
}

/* A response's head: its status and Content-Length (-1: none). */
static int read_head(SSL *s, long *clen)
{
	char h[8192];
	size_t n = 0;
	char *p;
	int status;

	while (n < sizeof(h) - 1) {
		if (SSL_read(s, h + n, 1) != 1)
			return -1;
		n++;
		if (n >= 4 && !memcmp(h + n - 4, "\r\n\r\n", 4))
			break;
	}
	h[n] = '\0';
	if (sscanf(h, "HTTP/1.1 %d", &status) != 1)
		return -1;
	*clen = -1;
	for (p = h; (p = strchr(p, '\n')); p++)
		if (!strncasecmp(p + 1, "content-length:", 15))
			*clen = atol(p + 16);
	return status;
}

/* Reads n body bytes; every `every` bytes (0: never), a KeyUpdate. */
static long read_body(SSL *s, long n, long every, long *updates)
{
	char buf[4096];
	long got = 0, since = 0;

	while (got < n) {
		int want = n - got < (long)sizeof(buf) ? (int)(n - got)
						       : (int)sizeof(buf);
		int r = SSL_read(s, buf, want);

		if (r <= 0)
			break;
		got += r;
		since += r;
		if (every && since >= every && got < n) {
			since = 0;
			if (key_update(s))
				break;
			(*updates)++;
		}
	}
	return got;
}

int main(int argc, char **argv)
{
	long clen, updates = 0;
	SSL *s;
	int st;

	if (argc < 6)
		goto usage;
	signal(SIGPIPE, SIG_IGN);	/* a closed connection is a result */
	s = dial(argv[2], argv[3], argv[4], !strcmp(argv[1], "flood-h2"));
	if (!s)
		return 1;
	if (!strcmp(argv[1], "flood-h2") && argc == 6) {
		/* the preface and an empty SETTINGS; the server's SETTINGS and
		 * its ACK of ours are read (and not parsed) */
		static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
					  "\0\0\0\4\0\0\0\0\0";
		char buf[256];

		if (SSL_write(s, pre, sizeof(pre) - 1) != sizeof(pre) - 1 ||
		    SSL_read(s, buf, sizeof(buf)) <= 0) {
			fprintf(stderr, "tlsku: no HTTP/2 answer\n");
			return 1;
		}
		usleep(100 * 1000);
		while (SSL_pending(s) > 0 && SSL_read(s, buf, sizeof(buf)) > 0)
			;
		argv[1] = "flood";
	} else if (!strcmp(argv[1], "flood") && argc == 6) {
		if (send_get(s, "/", argv[4]) || read_head(s, &clen) != 200 ||
		    read_body(s, clen, 0, &updates) != clen) {
			fprintf(stderr, "tlsku: the first request failed\n");
			return 1;
		}
	}
	if (!strcmp(argv[1], "flood") && argc == 6) {
		long n = atol(argv[5]), i;
		char buf[4096];
		int closed = 0;

		for (i = 0; i < n; i++)
			if (key_update(s))
				break;
		for (;;) {
			int r = SSL_read(s, buf, sizeof(buf));

			if (r > 0)
				continue;
			/* EOF or an error: closed; a timeout: open */
			st = SSL_get_error(s, r);
			closed = !(st == SSL_ERROR_WANT_READ ||
				   (st == SSL_ERROR_SYSCALL &&
				    (errno == EAGAIN || errno == EWOULDBLOCK)));
			break;
		}
		printf("sent=%ld closed=%d\n", i, closed);
		return 0;
	}
	if (!strcmp(argv[1], "between") && argc == 8) {
		long n = atol(argv[5]), k = atol(argv[6]), ok = 0;

		for (long i = 0; i < n; i++) {
			char path[256];

			for (long j = 0; j < k; j++)
				if (key_update(s))
					goto out;
			snprintf(path, sizeof(path), "%s-%ld", argv[7], i);
			if (send_get(s, path, argv[4]))
				break;
			st = read_head(s, &clen);
			if (st < 0 || clen < 0 ||
			    read_body(s, clen, 0, &updates) != clen)
				break;
			ok += st == 200;
		}
out:
		printf("ok=%ld\n", ok);
		return 0;
	}
	if (!strcmp(argv[1], "download") && argc == 8) {
		long body = 0, nlen;
		int next = -1;

		if (send_get(s, argv[5], argv[4]))
			return 1;
		st = read_head(s, &clen);
		if (st > 0 && clen > 0)
			body = read_body(s, clen, atol(argv[6]), &updates);
		if (body == clen && !send_get(s, argv[7], argv[4])) {
			next = read_head(s, &nlen);
			if (next > 0 && nlen > 0 &&
			    read_body(s, nlen, 0, &updates) != nlen)
				next = -1;
		}
		printf("status=%d body=%ld updates=%ld next=%d\n", st, body,
		       updates, next);
		return 0;
	}
usage:
	fprintf(stderr, "usage: tlsku flood|flood-h2 ADDR PORT SNI N\n"
			"       tlsku between ADDR PORT SNI N K PATH\n"
			"       tlsku download ADDR PORT SNI PATH EVERY NEXT\n");
	return 2;
}
