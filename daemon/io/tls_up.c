// SPDX-License-Identifier: MIT
/*
 * TLS to upstreams (services[].tls, docs/TLS.md "Upstream TLS"): one
 * client SSL_CTX per service, built at load time like the listeners'
 * (nothing is fetched per connection), the newest session of each target
 * kept for resumption, and the blocking handshake of the health checks.
 * The transport itself is tls.c's, in connect state.
 */
#include "io/tls_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"

/* AEAD suites only, forward secret key exchange (as the listeners). */
#define UP_TLS12_CIPHERS                                                       \
	"ECDHE-ECDSA-AES128-GCM-SHA256:"                                       \
	"ECDHE-RSA-AES128-GCM-SHA256:"                                         \
	"ECDHE-ECDSA-AES256-GCM-SHA384:"                                       \
	"ECDHE-RSA-AES256-GCM-SHA384:"                                         \
	"ECDHE-ECDSA-CHACHA20-POLY1305:"                                       \
	"ECDHE-RSA-CHACHA20-POLY1305"
#define UP_TLS13_SUITES                                                        \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                       \
	"TLS_CHACHA20_POLY1305_SHA256"

static void upstream_free(struct tls_upstream *tu)
{
	if (!tu)
		return;
	for (size_t i = 0; i < tu->n_targets; i++) {
		if (tu->sess && tu->sess[i])
			SSL_SESSION_free(tu->sess[i]);
		if (tu->ips)
			free(tu->ips[i]);
	}
	free(tu->sess);
	free(tu->ips);
	free(tu->sni);
	SSL_CTX_free(tu->ctx);
	pthread_mutex_destroy(&tu->lock);
	free(tu);
}

void tls_upstream_get(struct tls_upstream *tu)
{
	atomic_fetch_add_explicit(&tu->refs, 1, memory_order_relaxed);
}

void tls_upstream_put(struct tls_upstream *tu)
{
	if (tu &&
	    atomic_fetch_sub_explicit(&tu->refs, 1, memory_order_acq_rel) == 1)
		upstream_free(tu);
}

/* The app data of an upstream SSL: 1 + its target index. */
static unsigned int ssl_target(SSL *ssl, bool *ok)
{
	uintptr_t v = (uintptr_t)SSL_get_app_data(ssl);

	*ok = v != 0;
	return v ? (unsigned int)(v - 1) : 0;
}

/* A session the server gave (after the handshake, or a TLS 1.3 ticket
 * later): it becomes the target's newest, the one the next connection
 * offers. At most one per target: the cache is bounded by the targets. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_upstream *tu = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	SSL_SESSION *old;
	unsigned int i;
	bool ok;

	i = ssl_target(ssl, &ok);
	if (!tu || !ok || i >= tu->n_targets || !SSL_SESSION_is_resumable(sess))
		return 0;
	pthread_mutex_lock(&tu->lock);
	old = tu->sess[i];
	tu->sess[i] = sess;
	pthread_mutex_unlock(&tu->lock);
	if (old)
		SSL_SESSION_free(old);
	return 1; /* the reference is ours */
}

static bool is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static bool ctx_setup(struct tls_acc *a, struct tls_upstream *tu,
		      const struct config_service *s)
{
	const struct config_upstream_tls *t = &s->tls;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		tls_acc_fail(a, "service %s: tls: cannot create a context",
			     s->name);
		return false;
	}
	tu->ctx = ctx;
	SSL_CTX_set_app_data(ctx, tu);
	SSL_CTX_set_min_proto_version(ctx, t->min_version == CFG_TLS_13
						   ? TLS1_3_VERSION
						   : TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx,
			    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_cipher_list(ctx, UP_TLS12_CIPHERS) ||
	    !SSL_CTX_set_ciphersuites(ctx, UP_TLS13_SUITES)) {
		tls_acc_fail(a, "service %s: tls: cipher setup failed",
			     s->name);
		return false;
	}
	/* sessions go to the per-target slots, not OpenSSL's cache */
	SSL_CTX_set_session_cache_mode(
		ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	if (t->ca) {
		if (!SSL_CTX_load_verify_locations(ctx, t->ca, NULL)) {
			tls_acc_fail(a, "%s: cannot read the CA certificates",
				     t->ca);
			return false;
		}
	} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
		tls_acc_fail(a,
			     "service %s: tls: cannot load the system CA store",
			     s->name);
		return false;
	}
	SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
			   NULL);
	SSL_CTX_set_verify_depth(ctx, 8);
	/* protocol: h2 is offered by ALPN and nothing else: the connection
	 * is refused (502) unless the server selects h2 */
	if (s->protocol == CFG_PROTO_H2 &&
	    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3)) {
		tls_acc_fail(a, "service %s: tls: cannot set ALPN", s->name);
		return false;
	}
	if (t->cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
			tls_acc_fail(a, "%s: cannot load the certificate chain",
				     t->cert);
			return false;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, t->key,
						SSL_FILETYPE_PEM) != 1) {
			if (ERR_GET_REASON(ERR_peek_last_error()) ==
			    X509_R_KEY_VALUES_MISMATCH)
				tls_acc_fail(a,
					     "%s: private key does not match "
					     "the certificate %s",
					     t->key, t->cert);
			else
				tls_acc_fail(a,
					     "%s: cannot load the private key",
					     t->key);
			return false;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			tls_acc_fail(a,
				     "%s: private key does not match the "
				     "certificate %s",
				     t->key, t->cert);
			return false;
		}
	}
	return true;
}

struct tls_upstream *tls_upstream_build(struct tls_acc *a,
					const struct config_service *s)
{
	const struct config_upstream_tls *t = &s->tls;
	struct tls_upstream *tu = calloc(1, sizeof(*tu));
	char host[CONFIG_ADDR_TEXT];

	if (!tu) {
		a->oom = true;
		return NULL;
	}
	atomic_init(&tu->refs, 1);
	pthread_mutex_init(&tu->lock, NULL);
	snprintf(tu->service, sizeof(tu->service), "%s", s->name);
	tu->verify = t->verify;
	tu->n_targets = s->n_targets;
	tu->sess = calloc(s->n_targets + 1, sizeof(*tu->sess));
	tu->ips = calloc(s->n_targets + 1, sizeof(*tu->ips));
	if (!tu->sess || !tu->ips || (t->sni && !(tu->sni = strdup(t->sni)))) {
		a->oom = true;
		upstream_free(tu);
		return NULL;
	}
	tu->sni_is_ip = tu->sni && is_ip(tu->sni);
	for (size_t i = 0; i < s->n_targets; i++) {
		const struct config_addr *ad = &s->targets[i];

		if (config_addr_is_unix(ad))
			continue;
		if (ad->sa.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)&ad->sa)
					   ->sin6_addr,
				  host, sizeof(host));
		else
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)&ad->sa)
					   ->sin_addr,
				  host, sizeof(host));
		tu->ips[i] = strdup(host);
		if (!tu->ips[i]) {
			a->oom = true;
			upstream_free(tu);
			return NULL;
		}
	}
	if (!ctx_setup(a, tu, s)) {
		upstream_free(tu);
		return NULL;
	}
	if (!t->verify)
		pr_warn("service %s: tls.verify is false: the upstream's "
			"certificate is not checked (anyone on the path can "
			"pose as it)",
			s->name);
	return tu;
}

SSL *tls_upstream_ssl(struct tls_upstream *tu, unsigned int i)
{
	SSL *ssl = SSL_new(tu->ctx);
	X509_VERIFY_PARAM *vp;
	const char *ip = NULL;
	bool ok = true;

	if (!ssl)
		return NULL;
	SSL_set_app_data(ssl, (void *)(uintptr_t)(i + 1));
	if (tu->sni && !tu->sni_is_ip)
		ok = SSL_set_tlsext_host_name(ssl, tu->sni) == 1;
	if (ok && tu->verify) {
		vp = SSL_get0_param(ssl);
		if (tu->sni && !tu->sni_is_ip) {
			X509_VERIFY_PARAM_set_hostflags(
				vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			ok = X509_VERIFY_PARAM_set1_host(vp, tu->sni, 0) == 1;
		} else {
			ip = tu->sni		 ? tu->sni
			     : i < tu->n_targets ? tu->ips[i]
						 : NULL;
			ok = ip && X509_VERIFY_PARAM_set1_ip_asc(vp, ip) == 1;
		}
	}
	if (ok && i < tu->n_targets) {
		pthread_mutex_lock(&tu->lock);
		if (tu->sess[i])
			SSL_set_session(ssl, tu->sess[i]);
		pthread_mutex_unlock(&tu->lock);
	}
	if (!ok) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

bool tls_upstream_why(SSL *ssl, unsigned long err, char *why, size_t len)
{
	long v = SSL_get_verify_result(ssl);
	const char *r;

	if (v != X509_V_OK) {
		snprintf(why, len, "certificate verify failed: %s",
			 X509_verify_cert_error_string(v));
		return true;
	}
	r = err ? ERR_reason_error_string(err) : NULL;
	snprintf(why, len, "%s", r ? r : "handshake failed");
	return false;
}

/* ---- health checks --------------------------------------------------- */

/* Wait until fd is ready for what SSL wants, before the deadline. */
static bool wait_io(int fd, int err, uint64_t deadline_ms)
{
	struct pollfd pfd = {.fd = fd};
	uint64_t now = clock_now_ms();

	if (now >= deadline_ms)
		return false;
	pfd.events = err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
	return poll(&pfd, 1, (int)(deadline_ms - now)) == 1;
}

long tls_upstream_probe(const struct config *c, size_t s, unsigned int target,
			int fd, const char *req, size_t req_len, char *resp,
			size_t cap, unsigned int timeout_ms, char *why,
			size_t why_len)
{
	struct tls_upstream *tu = tls_upstream_of(c, s);
	uint64_t deadline = clock_now_ms() + timeout_ms;
	size_t got = 0, sent = 0, n;
	SSL *ssl;
	int r, err;

	if (!tu) {
		snprintf(why, why_len, "TLS context missing");
		return -1;
	}
	ssl = tls_upstream_ssl(tu, target);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		SSL_free(ssl);
		snprintf(why, why_len, "TLS: out of memory");
		return -1;
	}
	while ((r = SSL_connect(ssl)) != 1) {
		err = SSL_get_error(ssl, r);
		if ((err != SSL_ERROR_WANT_READ &&
		     err != SSL_ERROR_WANT_WRITE) ||
		    !wait_io(fd, err, deadline)) {
			char reason[160];

			if (err == SSL_ERROR_WANT_READ ||
			    err == SSL_ERROR_WANT_WRITE)
				snprintf(reason, sizeof(reason), "timed out");
			else
				tls_upstream_why(ssl, ERR_peek_last_error(),
						 reason, sizeof(reason));
			snprintf(why, why_len, "TLS: %s", reason);
			goto fail;
		}
	}
	while (sent < req_len) {
		r = SSL_write_ex(ssl, req + sent, req_len - sent, &n);
		if (r == 1) {
			sent += n;
			continue;
		}
		err = SSL_get_error(ssl, r);
		if ((err != SSL_ERROR_WANT_READ &&
		     err != SSL_ERROR_WANT_WRITE) ||
		    !wait_io(fd, err, deadline)) {
			snprintf(why, why_len, "TLS send failed");
			goto fail;
		}
	}
	while (got < cap - 1 && !memmem(resp, got, "\r\n", 2)) {
		r = SSL_read_ex(ssl, resp + got, cap - 1 - got, &n);
		if (r == 1) {
			got += n;
			continue;
		}
		err = SSL_get_error(ssl, r);
		if (err == SSL_ERROR_ZERO_RETURN ||
		    (err == SSL_ERROR_SYSCALL && !ERR_peek_error()))
			break; /* closed: what came is the answer */
		if ((err != SSL_ERROR_WANT_READ &&
		     err != SSL_ERROR_WANT_WRITE) ||
		    !wait_io(fd, err, deadline)) {
			snprintf(why, why_len,
				 err == SSL_ERROR_WANT_READ
					 ? "timed out"
					 : "TLS receive failed");
			goto fail;
		}
	}
	resp[got] = '\0';
	/* the session stays resumable (see tls.c, tls_close()) */
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(ssl);
	ERR_clear_error();
	return (long)got;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return -1;
}
