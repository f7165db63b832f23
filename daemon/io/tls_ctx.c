// SPDX-License-Identifier: MIT
/*
 * TLS contexts of a config snapshot (see tls.h): built once per snapshot at
 * load time, never per connection (OpenSSL 3 takes locks on every
 * algorithm fetch, so nothing here runs on the request path except the
 * SNI, ALPN and ticket callbacks, which fetch nothing).
 */
#include "io/tls_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/str.h"
#include "policy/policy.h"

/* AEAD suites only, forward secret key exchange, server preference. */
#define TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
		      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
		      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES  "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
		      "TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS    "X25519:P-256"

/* Session ticket keys: derived from a per-process secret and the hour,
 * so every worker (and every snapshot) encrypts with the same key and a
 * client resumes on any of them; a ticket is accepted in its hour and the
 * next (renewed then), so it lives one to two hours. */
#define TLS_TICKET_PERIOD_S 3600

static unsigned char ticket_master[32];
static EVP_CIPHER *ticket_cipher;	/* AES-256-CBC, fetched once */
EVP_MD *tls_sha256;

int tls_global_init(void)
{
	if (ticket_cipher)
		return 0;
	if (getrandom(ticket_master, sizeof(ticket_master), 0) !=
	    (ssize_t)sizeof(ticket_master))
		return -EIO;
	ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	tls_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	return ticket_cipher && tls_sha256 ? 0 : -ENOSYS;
}

struct ticket_key {
	int64_t epoch;
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
};

/* Per thread: the keys of this period and the one before. */
static __thread struct ticket_key tk_cache[2];

static void ticket_derive(struct ticket_key *k, int64_t epoch)
{
	unsigned char in[16], out[32];
	unsigned int len = sizeof(out);

	memcpy(in, "sluicetk", 8);
	for (int i = 0; i < 8; i++)
		in[8 + i] = (unsigned char)((uint64_t)epoch >> (8 * i));
	k->epoch = epoch;
	in[0] = 'n';
	HMAC(EVP_sha256(), ticket_master, sizeof(ticket_master), in,
	     sizeof(in), out, &len);
	memcpy(k->name, out, sizeof(k->name));
	in[0] = 'a';
	HMAC(EVP_sha256(), ticket_master, sizeof(ticket_master), in,
	     sizeof(in), k->aes, &len);
	in[0] = 'h';
	HMAC(EVP_sha256(), ticket_master, sizeof(ticket_master), in,
	     sizeof(in), k->hmac, &len);
}

static const struct ticket_key *ticket_key(int64_t epoch)
{
	struct ticket_key *k = &tk_cache[epoch & 1];

	if (k->epoch != epoch)
		ticket_derive(k, epoch);
	return k;
}

static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv,
		     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	int64_t now = (int64_t)time(NULL) / TLS_TICKET_PERIOD_S;
	const struct ticket_key *k = NULL;
	OSSL_PARAM params[3];
	int ret = 1;

	(void)s;
	if (enc) {
		k = ticket_key(now);
		memcpy(name, k->name, 16);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(ticket_cipher)) <= 0)
			return -1;
		if (!EVP_EncryptInit_ex(cctx, ticket_cipher, NULL, k->aes, iv))
			return -1;
	} else {
		for (int64_t e = now; e >= now - 1 && !k; e--) {
			const struct ticket_key *c = ticket_key(e);

			if (!memcmp(c->name, name, 16)) {
				k = c;
				ret = e == now ? 1 : 2;	/* 2: issue a new one */
			}
		}
		if (!k)
			return 0;	/* unknown or too old: full handshake */
		if (!EVP_DecryptInit_ex(cctx, ticket_cipher, NULL, k->aes, iv))
			return -1;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
						      (void *)k->hmac, 32);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(hctx, params))
		return -1;
	return ret;
}

/* ---- errors ------------------------------------------------------------- */

void tls_acc_fail(struct tls_acc *a, const char *fmt, ...)
{
	char line[1024];
	unsigned long e;
	size_t n;
	va_list ap;
	char *nb;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* OpenSSL's own reason, when it left one */
	e = ERR_peek_last_error();
	n = strlen(line);
	if (e && n < sizeof(line) - 8)
		snprintf(line + n, sizeof(line) - n, " (%s)",
			 ERR_reason_error_string(e) ?
				 ERR_reason_error_string(e) : "openssl");
	ERR_clear_error();
	a->failed = true;
	n = strlen(line);
	nb = realloc(*a->buf, *a->len + n + 2);
	if (!nb) {
		a->oom = true;
		return;
	}
	memcpy(nb + *a->len, line, n);
	*a->len += n;
	nb[(*a->len)++] = '\n';
	nb[*a->len] = '\0';
	*a->buf = nb;
}

/* ---- certificates --------------------------------------------------------- */

static int64_t asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The certificate's DNS and IP subjectAltNames (DNS lower-cased), sorted:
 * what SNI matches against. 0, or -ENOENT when it has none. */
static int cert_names(X509 *x, char ***out, size_t *n_out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
					       NULL);
	char **v = NULL;
	size_t n = 0;
	int cnt = gens ? sk_GENERAL_NAME_num(gens) : 0;

	if (cnt > 0)
		v = calloc((size_t)cnt, sizeof(*v));
	for (int i = 0; v && i < cnt; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN];
		const unsigned char *d;
		int len;

		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			if (len <= 0 || len > 253 || memchr(d, 0, (size_t)len))
				continue;
			v[n] = strndup((const char *)d, (size_t)len);
			for (char *p = v[n]; p && *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
		} else if (g->type == GEN_IPADD) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if (!inet_ntop(len == 4 ? AF_INET : AF_INET6, d, ip,
				       sizeof(ip)) || (len != 4 && len != 16))
				continue;
			v[n] = strdup(ip);
		} else {
			continue;
		}
		if (v[n])
			n++;
	}
	GENERAL_NAMES_free(gens);
	if (!n) {
		free(v);
		return -ENOENT;
	}
	qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	*n_out = n;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool same_names(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* SNI: exact name first, then a wildcard for the first label. */
static bool group_matches(const struct tls_group *g, const char *host,
			  bool wild)
{
	const char *dot = strchr(host, '.');

	for (size_t i = 0; i < g->n_names; i++) {
		const char *n = g->names[i];

		if (!wild && !strcasecmp(n, host))
			return true;
		if (wild && n[0] == '*' && n[1] == '.' && dot && dot != host &&
		    !strcasecmp(n + 1, dot))
			return true;
	}
	return false;
}

static int sni_cb(SSL *s, int *al, void *arg)
{
	struct tls_listener *tl = arg;
	const char *host = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

	(void)al;
	if (!host)
		return SSL_TLSEXT_ERR_NOACK;
	for (int wild = 0; wild < 2; wild++) {
		for (size_t i = 0; i < tl->n_groups; i++) {
			if (!group_matches(&tl->groups[i], host, wild))
				continue;
			if (SSL_get_SSL_CTX(s) != tl->groups[i].ctx)
				SSL_set_SSL_CTX(s, tl->groups[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;	/* the default certificate */
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_listener *tl = arg;
	unsigned char *sel;

	(void)s;
	if (SSL_select_next_proto(&sel, outlen, tl->alpn,
				  (unsigned int)tl->alpn_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* optional client certificates: the handshake goes on whatever the
 * verification says; the result decides the mtls credential later */
static int verify_optional(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static SSL_CTX *ctx_new(struct tls_acc *a, const struct config_tls *t,
			struct tls_listener *tl, const char *lname)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int mode;

	if (!ctx) {
		tls_acc_fail(a, "listener %s: tls: cannot create a context",
			     lname);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, t->min_version == CFG_TLS_13 ?
					   TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_NO_COMPRESSION);
	/* a connection starts without buffers between records; a busy one
	 * keeps them (transport_tls_tick) */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) ||
	    !SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) ||
	    !SSL_CTX_set1_groups_list(ctx, TLS_GROUPS)) {
		tls_acc_fail(a, "listener %s: tls: cipher or group setup failed",
			     lname);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)lname,
				       (unsigned int)strlen(lname));
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, TLS_TICKET_PERIOD_S);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, tl);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, tl);
	if (t->client_ca) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->client_ca);

		if (!names ||
		    !SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL)) {
			tls_acc_fail(a, "%s: cannot read the client CA certificates",
			     t->client_ca);
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		mode = SSL_VERIFY_NONE;
		if (t->client_auth == CFG_CLIENT_AUTH_REQUIRED)
			mode = SSL_VERIFY_PEER |
			       SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		else if (t->client_auth == CFG_CLIENT_AUTH_OPTIONAL)
			mode = SSL_VERIFY_PEER;
		SSL_CTX_set_verify(ctx, mode,
				   t->client_auth == CFG_CLIENT_AUTH_OPTIONAL ?
					   verify_optional : NULL);
		SSL_CTX_set_verify_depth(ctx, 8);
	}
	return ctx;
}

/* Read cert file's leaf: its names and expiry. */
static X509 *read_leaf(struct tls_acc *a, const char *file)
{
	BIO *b = BIO_new_file(file, "r");
	X509 *x;

	if (!b) {
		tls_acc_fail(a, "%s: cannot open: %s", file, strerror(errno));
		return NULL;
	}
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!x)
		tls_acc_fail(a, "%s: not a PEM certificate", file);
	return x;
}

static void listener_free(struct tls_listener *tl)
{
	if (!tl)
		return;
	for (size_t i = 0; i < tl->n_groups; i++) {
		SSL_CTX_free(tl->groups[i].ctx);
		free_names(tl->groups[i].names, tl->groups[i].n_names);
	}
	free(tl->groups);
	for (size_t i = 0; i < tl->n_certs; i++) {
		free(tl->certs[i].file);
		free(tl->certs[i].names);
	}
	free(tl->certs);
	free(tl);
}

void tls_listener_get(struct tls_listener *tl)
{
	atomic_fetch_add_explicit(&tl->refs, 1, memory_order_relaxed);
}

void tls_listener_put(struct tls_listener *tl)
{
	if (tl && atomic_fetch_sub_explicit(&tl->refs, 1,
					    memory_order_acq_rel) == 1)
		listener_free(tl);
}

static char *join_names(char **v, size_t n)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	s = calloc(1, len);
	for (size_t i = 0; s && i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, v[i]);
	}
	return s;
}

/* One certificate (cert + key) into its group. */
static void add_cert(struct tls_acc *a, struct tls_listener *tl,
		     const struct config_tls *t,
		     const struct config_tls_cert *cc, const char *lname)
{
	struct tls_certinfo *ci = &tl->certs[tl->n_certs];
	struct tls_group *g = NULL;
	char **names = NULL;
	size_t n_names = 0;
	X509 *x = read_leaf(a, cc->cert);

	if (!x)
		return;
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		char when[64] = "";
		BIO *m = BIO_new(BIO_s_mem());

		if (m && ASN1_TIME_print(m, X509_get0_notAfter(x)))
			BIO_read(m, when, sizeof(when) - 1);
		BIO_free(m);
		tls_acc_fail(a, "%s: certificate expired (not after %s)",
			     cc->cert,
		     when);
		goto out;
	}
	if (cert_names(x, &names, &n_names)) {
		tls_acc_fail(a, "%s: certificate has no DNS or IP subjectAltName (SNI could never select it)",
		     cc->cert);
		goto out;
	}
	for (size_t i = 0; i < tl->n_groups; i++)
		if (same_names(tl->groups[i].names, tl->groups[i].n_names,
			       names, n_names))
			g = &tl->groups[i];
	if (!g) {
		g = &tl->groups[tl->n_groups];
		g->ctx = ctx_new(a, t, tl, lname);
		if (!g->ctx)
			goto out;
		g->names = names;
		g->n_names = n_names;
		names = NULL;
		n_names = 0;
		tl->n_groups++;
	}
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(g->ctx, cc->cert) != 1) {
		tls_acc_fail(a, "%s: cannot load the certificate chain",
			     cc->cert);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(g->ctx, cc->key, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			tls_acc_fail(a, "%s: private key does not match the certificate %s",
			     cc->key, cc->cert);
		else
			tls_acc_fail(a, "%s: cannot load the private key",
				     cc->key);
		goto out;
	}
	if (SSL_CTX_check_private_key(g->ctx) != 1) {
		tls_acc_fail(a, "%s: private key does not match the certificate %s",
		     cc->key, cc->cert);
		goto out;
	}
	ci->file = strdup(cc->cert);
	ci->names = join_names(g->names, g->n_names);
	ci->not_after = asn1_time_unix(X509_get0_notAfter(x));
	if (!ci->file || !ci->names)
		a->oom = true;
	tl->n_certs++;
out:
	free_names(names, n_names);
	X509_free(x);
}

static struct tls_listener *listener_build(struct tls_acc *a,
					   const struct config_listener *l)
{
	const struct config_tls *t = &l->tls;
	struct tls_listener *tl = calloc(1, sizeof(*tl));

	if (!tl) {
		a->oom = true;
		return NULL;
	}
	atomic_init(&tl->refs, 1);
	snprintf(tl->name, sizeof(tl->name), "%s", l->name);
	tl->client_auth = t->client_ca ? t->client_auth : CFG_CLIENT_AUTH_NONE;
	tl->handshake_timeout_ms = t->handshake_timeout_ms;
	if (!t->n_alpn) {
		memcpy(tl->alpn, "\x08http/1.1", 9);
		tl->alpn_len = 9;
	}
	for (size_t i = 0; i < t->n_alpn; i++) {
		size_t n = strlen(t->alpn[i]);

		if (!n || n > 255 || tl->alpn_len + 1 + n > sizeof(tl->alpn)) {
			tls_acc_fail(a, "listener %s: tls.alpn: '%s' is not a usable protocol id",
			     l->name, t->alpn[i]);
			continue;
		}
		tl->alpn[tl->alpn_len++] = (unsigned char)n;
		memcpy(tl->alpn + tl->alpn_len, t->alpn[i], n);
		tl->alpn_len += n;
	}
	tl->groups = calloc(t->n_certs, sizeof(*tl->groups));
	tl->certs = calloc(t->n_certs, sizeof(*tl->certs));
	if (!tl->groups || !tl->certs) {
		a->oom = true;
		return tl;
	}
	for (size_t i = 0; i < t->n_certs; i++)
		add_cert(a, tl, t, &t->certs[i], l->name);
	return tl;
}

static void set_release(struct tls_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		tls_listener_put(s->l[i]);
	free(s->l);
	for (size_t i = 0; i < s->n_u; i++)
		tls_upstream_put(s->u[i]);
	free(s->u);
	free_names(s->files, s->n_files);
	free(s);
}

static void add_file(struct tls_acc *a, struct tls_set *s, const char *f)
{
	char **v;

	if (!f)
		return;
	v = realloc(s->files, (s->n_files + 1) * sizeof(*v));
	if (!v || !(v[s->n_files] = strdup(f))) {
		if (v)
			s->files = v;
		a->oom = true;
		return;
	}
	s->files = v;
	s->n_files++;
}

int tls_build(struct config *c, char **accbuf, size_t *acc_len)
{
	struct tls_acc a = { .buf = accbuf, .len = acc_len };
	struct tls_set *s;
	bool any = false;

	if (c->tls && c->tls_release)
		c->tls_release(c->tls);
	c->tls = NULL;
	for (size_t i = 0; i < c->n_listeners; i++)
		any |= c->listeners[i].tls.enabled;
	for (size_t i = 0; i < c->n_services; i++)
		any |= c->services[i].tls.enabled;
	if (!any)
		return 0;
	if (tls_global_init())
		return -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->l = calloc(c->n_listeners + 1, sizeof(*s->l))) ||
	    !(s->u = calloc(c->n_services + 1, sizeof(*s->u)))) {
		if (s)
			free(s->l);
		free(s);
		return -ENOMEM;
	}
	s->n = c->n_listeners;
	s->n_u = c->n_services;
	c->tls = s;
	c->tls_release = set_release;
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct config_tls *t = &c->listeners[i].tls;

		if (!t->enabled)
			continue;
		s->l[i] = listener_build(&a, &c->listeners[i]);
		for (size_t j = 0; j < t->n_certs; j++) {
			add_file(&a, s, t->certs[j].cert);
			add_file(&a, s, t->certs[j].key);
		}
		add_file(&a, s, t->client_ca);
	}
	for (size_t i = 0; i < c->n_services; i++) {
		const struct config_upstream_tls *t = &c->services[i].tls;

		if (!t->enabled)
			continue;
		s->u[i] = tls_upstream_build(&a, &c->services[i]);
		add_file(&a, s, t->ca);
		add_file(&a, s, t->cert);
		add_file(&a, s, t->key);
	}
	return a.oom ? -ENOMEM : 0;
}

static int build_all(struct config *c, char **acc, size_t *acc_len)
{
	int ret = policy_build(c, acc, acc_len);

	if (ret)
		return ret;
	return tls_build(c, acc, acc_len);
}

int tls_load_file(const char *path, struct config **out, char **errors)
{
	return config_load_file_with(path, build_all, out, errors);
}

struct tls_listener *tls_listener_of(const struct config *c, size_t i)
{
	if (!c->tls || i >= c->tls->n)
		return NULL;
	return c->tls->l[i];
}

struct tls_upstream *tls_upstream_of(const struct config *c, size_t i)
{
	if (!c->tls || i >= c->tls->n_u)
		return NULL;
	return c->tls->u[i];
}

uint32_t tls_handshake_timeout_ms(const struct tls_listener *tl)
{
	return tl->handshake_timeout_ms;
}

void tls_each_cert(const struct config *c,
		   void (*fn)(void *ctx, const char *listener,
			      const char *file, const char *names,
			      int64_t not_after),
		   void *ctx)
{
	if (!c->tls)
		return;
	for (size_t i = 0; i < c->tls->n; i++) {
		const struct tls_listener *tl = c->tls->l[i];

		for (size_t j = 0; tl && j < tl->n_certs; j++)
			fn(ctx, tl->name, tl->certs[j].file,
			   tl->certs[j].names, tl->certs[j].not_after);
	}
}

int64_t tls_files_mtime(const struct config *c)
{
	int64_t newest = 0;
	struct stat st;

	if (!c->tls)
		return 0;
	for (size_t i = 0; i < c->tls->n_files; i++) {
		if (stat(c->tls->files[i], &st))
			continue;
		int64_t t = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			    st.st_mtim.tv_nsec;
		if (t > newest)
			newest = t;
		t = (int64_t)st.st_ctim.tv_sec * 1000000000 +
		    st.st_ctim.tv_nsec;
		if (t > newest)
			newest = t;
	}
	return newest;
}
