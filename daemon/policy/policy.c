// SPDX-License-Identifier: MIT
/*
 * The policy builder: turn a parsed config snapshot's consumers:, jwt:,
 * limits: and escalation: keys into what the request path uses -- the auth
 * store (credential digests, JWT keys) and the rate-limit tables -- reading
 * the files and environment variables that secrets and keys refer to, and
 * attach them to the snapshot. Like the allowlist files, this runs at load
 * time (sluiced -c, --check, SIGHUP), never per request. See policy.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"

#include "policy/auth.h"
#include "policy/balance.h"
#include "policy/crypto.h"
#include "policy/cluster_limit.h"
#include "policy/ratelimit.h"
#include "policy/router.h"

#define SECRET_FILE_MAX 65536
#define KEY_FILE_MAX (1u << 20)
#define MIN_TOKEN_LEN 16

struct acc {
	char **buf;
	size_t *len;
	const char *file;
	int oom;
};

__attribute__((format(printf, 3, 4)))
static void fail(struct acc *a, const char *key, const char *fmt, ...)
{
	char line[1024];
	size_t n;
	va_list ap;
	char *nb;

	n = (size_t)snprintf(line, sizeof(line), "%s: %s: ", a->file, key);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	nb = realloc(*a->buf, *a->len + n + 2);
	if (!nb) {
		a->oom = 1;
		return;
	}
	memcpy(nb + *a->len, line, n);
	*a->len += n;
	nb[(*a->len)++] = '\n';
	nb[*a->len] = '\0';
	*a->buf = nb;
}

static int slurp(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		int e = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;

		close(fd);
		return e;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

/*
 * Resolve "file:PATH" / "env:NAME" to the secret bytes (one trailing
 * newline of a file is dropped). Relative paths are relative to the config
 * file's directory. 0 and *out (malloc'd), or -1 with the error recorded.
 */
static int resolve_secret(struct acc *a, const char *key, const char *spec,
			  const char *cfgdir, char **out, size_t *len)
{
	if (!strncmp(spec, "env:", 4)) {
		const char *v = getenv(spec + 4);

		if (!v || !*v) {
			fail(a, key, "environment variable '%s' is not set or empty",
			     spec + 4);
			return -1;
		}
		*out = strdup(v);
		if (!*out) {
			a->oom = 1;
			return -1;
		}
		*len = strlen(v);
		return 0;
	}
	if (!strncmp(spec, "file:", 5)) {
		const char *path = spec + 5;
		char full[4096];
		int r;

		if (path[0] != '/' && cfgdir)
			snprintf(full, sizeof(full), "%s/%s", cfgdir, path);
		else
			snprintf(full, sizeof(full), "%s", path);
		r = slurp(full, SECRET_FILE_MAX, out, len);
		if (r) {
			fail(a, key, "%s: %s", full, strerror(-r));
			return -1;
		}
		if (*len && (*out)[*len - 1] == '\n')
			(*out)[--*len] = '\0';
		if (*len && (*out)[*len - 1] == '\r')
			(*out)[--*len] = '\0';
		if (!*len) {
			fail(a, key, "%s: file is empty", full);
			free(*out);
			return -1;
		}
		return 0;
	}
	fail(a, key, "not a 'file:' or 'env:' reference");
	return -1;
}

static void wipe_free(char *s, size_t n)
{
	if (!s)
		return;
	memset(s, 0, n);
	free(s);
}

static void add_creds(struct acc *a, struct config *c, size_t ci,
		      enum auth_cred_kind kind, char **specs, size_t n,
		      const char *cfgdir)
{
	const char *what = kind == AUTH_CRED_BEARER ? "bearer_tokens" : "api_keys";
	char key[160], msg[256];

	for (size_t i = 0; i < n; i++) {
		uint8_t h[CRYPTO_SHA256_LEN];
		char *raw = NULL;
		size_t len = 0;
		int r;

		snprintf(key, sizeof(key), "consumers[%s].%s[%zu]",
			 c->consumers[ci].name, what, i);
		if (!strncmp(specs[i], "sha256:", 7)) {
			if (auth_parse_hash(specs[i], h, msg, sizeof(msg))) {
				fail(a, key, "%s", msg);
				continue;
			}
		} else {
			if (resolve_secret(a, key, specs[i], cfgdir, &raw, &len))
				continue;
			if (len < MIN_TOKEN_LEN || len > AUTH_MAX_CREDENTIAL) {
				fail(a, key, "secret must be %d to %d bytes long (got %zu)",
				     MIN_TOKEN_LEN, AUTH_MAX_CREDENTIAL, len);
				wipe_free(raw, len);
				continue;
			}
			crypto_sha256(raw, len, h);
			wipe_free(raw, len);
		}
		r = auth_store_add_cred(c->auth, ci, kind, h);
		if (r == -EEXIST)
			fail(a, key, "the same secret is already given to a consumer");
		else if (r)
			a->oom = 1;
	}
}

static void load_jwt(struct acc *a, struct config *c, const char *cfgdir)
{
	struct config_jwt *j = &c->jwt;
	struct auth_jwt_provider *p = &c->auth->jwt;
	char key[64], err[256];

	p->leeway_s = j->leeway_s;
	p->require_exp = j->require_exp;
	snprintf(p->consumer_claim, sizeof(p->consumer_claim), "%s",
		 j->consumer_claim);
	snprintf(p->roles_claim, sizeof(p->roles_claim), "%s", j->roles_claim);
	if (j->n_algorithms) {
		p->algs = 0;
		for (size_t i = 0; i < j->n_algorithms; i++) {
			int al = auth_jwt_alg_from_name(j->algorithms[i],
							strlen(j->algorithms[i]));

			if (al >= 0)
				p->algs |= 1u << al;
		}
	}
	if (j->issuer) {
		p->issuer = strdup(j->issuer);
		if (!p->issuer)
			a->oom = 1;
	}
	if (j->n_audiences) {
		p->audiences = calloc(j->n_audiences, sizeof(char *));
		if (!p->audiences) {
			a->oom = 1;
			return;
		}
		for (size_t i = 0; i < j->n_audiences; i++) {
			p->audiences[i] = strdup(j->audiences[i]);
			if (!p->audiences[i])
				a->oom = 1;
			p->n_audiences++;
		}
	}
	for (size_t i = 0; i < j->n_keys; i++) {
		const struct config_jwt_key *k = &j->keys[i];
		int al = k->alg[0] ? auth_jwt_alg_from_name(k->alg, strlen(k->alg)) : -1;
		char *buf = NULL;
		size_t len = 0;
		int r;

		snprintf(key, sizeof(key), "jwt.keys[%zu]", i);
		if (k->file) {
			r = slurp(k->file, KEY_FILE_MAX, &buf, &len);
			if (r) {
				fail(a, key, "%s: %s", k->file, strerror(-r));
				continue;
			}
			r = auth_jwt_add_pem(p, k->kid, al, buf, len, err, sizeof(err));
			free(buf);
			if (r)
				fail(a, key, "%s: %s", k->file, err);
		} else if (k->secret) {
			if (resolve_secret(a, key, k->secret, cfgdir, &buf, &len))
				continue;
			r = auth_jwt_add_secret(p, k->kid, al, buf, len, err,
						sizeof(err));
			wipe_free(buf, len);
			if (r)
				fail(a, key, "%s", err);
		}
	}
	for (size_t i = 0; i < j->n_jwks_files; i++) {
		char *buf = NULL;
		size_t len = 0;
		int r;

		snprintf(key, sizeof(key), "jwt.jwks[%zu]", i);
		r = slurp(j->jwks_files[i], KEY_FILE_MAX, &buf, &len);
		if (r) {
			fail(a, key, "%s: %s", j->jwks_files[i], strerror(-r));
			continue;
		}
		r = auth_jwt_add_jwks(p, buf, len, err, sizeof(err));
		free(buf);
		if (r < 0)
			fail(a, key, "%s: %s", j->jwks_files[i], err);
	}
}

static struct rl_table *new_table(struct acc *a, const struct rl_limit *l)
{
	uint8_t seed[16];
	struct rl_table *t;

	if (crypto_random(seed, sizeof(seed))) {
		a->oom = 1;
		return NULL;
	}
	t = rl_table_new(l, seed);
	if (!t)
		a->oom = 1;
	return t;
}

/* scope: cluster: a table named after where the limit is and what it
 * is, the same on every host with the same config */
static void make_cluster_table(struct acc *a, struct config_limit *l,
			       size_t i, const char *scope)
{
	uint8_t seed[16];

	snprintf(l->cluster_id, sizeof(l->cluster_id), "%.48s:%zu:%s:%llu/%llu",
		 scope, i, rl_key_kind_name(l->limit.key),
		 (unsigned long long)l->limit.windows[0].limit,
		 (unsigned long long)(l->limit.windows[0].period_ns /
				      1000000000ull));
	if (crypto_random(seed, sizeof(seed))) {
		a->oom = 1;
		return;
	}
	l->ctable = crl_table_new(&l->limit, l->cluster_id, seed);
	if (!l->ctable)
		a->oom = 1;
}

static void make_tables(struct acc *a, struct config_limit *l, size_t n,
			const char *scope)
{
	for (size_t i = 0; i < n; i++) {
		if (!l[i].limit.n_windows)
			continue;
		if (l[i].scope == CFG_SCOPE_CLUSTER) {
			if (!l[i].ctable && l[i].limit.n_windows == 1)
				make_cluster_table(a, &l[i], i, scope);
		} else if (!l[i].table) {
			l[i].table = new_table(a, &l[i].limit);
		}
	}
}

static void policy_release(struct config *c);

/* The workers the control thread will start for c (control.c's rule). */
static unsigned int n_workers(const struct config *c)
{
	long n;

	if (c->workers)
		return c->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned int)n : 1;
}

/* Each service's balancing and health state (policy/balance.h). */
static void make_states(struct acc *a, struct config *c)
{
	for (size_t i = 0; i < c->n_services; i++) {
		if (c->services[i].state)
			continue;
		c->services[i].state = balance_state_new(&c->services[i],
							 n_workers(c));
		if (!c->services[i].state)
			a->oom = 1;
	}
}

int policy_build(struct config *c, char **accbuf, size_t *acc_len)
{
	struct acc a = { .buf = accbuf, .len = acc_len, .file = c->path };
	char *cfgdir = NULL;
	const char *slash = strrchr(c->path, '/');

	policy_release(c);
	c->auth = malloc(sizeof(*c->auth));
	if (!c->auth)
		return -ENOMEM;
	auth_store_init(c->auth);
	c->release = policy_release;
	snprintf(c->auth->realm, sizeof(c->auth->realm), "%s",
		 c->auth_realm[0] ? c->auth_realm : "sluice");
	if (slash) {
		cfgdir = strndup(c->path, (size_t)(slash - c->path));
		if (!cfgdir)
			return -ENOMEM;
	}

	for (size_t i = 0; i < c->n_consumers; i++) {
		const struct config_consumer *cc = &c->consumers[i];
		int ci = auth_store_add_consumer(c->auth, cc->name);
		char key[96];

		snprintf(key, sizeof(key), "consumers[%s]", cc->name);
		if (ci == -ENOMEM) {
			a.oom = 1;
			break;
		}
		if (ci < 0) {
			fail(&a, key, "invalid or duplicate consumer name");
			continue;
		}
		for (size_t r = 0; r < cc->n_roles; r++)
			if (auth_store_add_role(c->auth, (size_t)ci, cc->roles[r]))
				fail(&a, key, "invalid role '%s'", cc->roles[r]);
		add_creds(&a, c, (size_t)ci, AUTH_CRED_BEARER, cc->bearer_tokens,
			  cc->n_bearer_tokens, cfgdir);
		add_creds(&a, c, (size_t)ci, AUTH_CRED_KEY, cc->api_keys,
			  cc->n_api_keys, cfgdir);
		for (size_t k = 0; k < cc->n_client_certs; k++) {
			char id[320], err[200];
			uint8_t hh[CRYPTO_SHA256_LEN];
			int r;

			if (auth_cert_id_parse(cc->client_certs[k], id,
					       sizeof(id), err, sizeof(err))) {
				fail(&a, key, "client_certs: %s", err);
				continue;
			}
			crypto_sha256(id, strlen(id), hh);
			r = auth_store_add_cred(c->auth, (size_t)ci,
						AUTH_CRED_CERT, hh);
			if (r == -EEXIST)
				fail(&a, key, "client_certs: '%s' is already another consumer's",
				     id);
			else if (r)
				a.oom = 1;
		}
	}
	if (c->jwt.enabled) {
		c->auth->jwt_enabled = true;
		load_jwt(&a, c, cfgdir);
	}
	make_states(&a, c);
	make_tables(&a, c->limits, c->n_limits, "*");
	for (size_t i = 0; i < c->n_routes; i++)
		make_tables(&a, c->routes[i].limits, c->routes[i].n_limits,
			    c->routes[i].name);
	if (c->escalation.enabled && !c->escalation.strikes) {
		struct rl_limit l = { .key = RL_KEY_IP, .n_windows = 1 };

		l.windows[0].limit = c->escalation.threshold;
		l.windows[0].burst = c->escalation.threshold;
		l.windows[0].period_ns = (uint64_t)c->escalation.window_s * 1000000000ull;
		c->escalation.strikes = new_table(&a, &l);
	}
	free(cfgdir);
	if (router_build(c))
		a.oom = 1;
	return a.oom ? -ENOMEM : 0;
}

static void free_tables(struct config_limit *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rl_table_free(l[i].table);
		l[i].table = NULL;
		crl_table_free(l[i].ctable);
		l[i].ctable = NULL;
	}
}

/* Undo policy_build() (idempotent); the snapshot's release hook. */
static void policy_release(struct config *c)
{
	if (c->auth) {
		auth_store_free(c->auth);
		free(c->auth);
		c->auth = NULL;
	}
	free_tables(c->limits, c->n_limits);
	for (size_t i = 0; i < c->n_routes; i++)
		free_tables(c->routes[i].limits, c->routes[i].n_limits);
	rl_table_free(c->escalation.strikes);
	c->escalation.strikes = NULL;
	router_free(c);
	for (size_t i = 0; i < c->n_services; i++) {
		balance_state_put(c->services[i].state);
		c->services[i].state = NULL;
	}
	c->release = NULL;
}

/* ---- reload: carry limiter state over ---------------------------------- */

/* Adopt into nl[] the tables of old[] whose definition is the same. Equal
 * definitions within one scope pair up in order (the k-th with the k-th). */
static int adopt_tables(struct config_limit *nl, size_t nn,
			const struct config_limit *ol, size_t on)
{
	int adopted = 0;

	/* cluster limits: by name (it says where and what the limit is) */
	for (size_t i = 0; i < nn; i++)
		for (size_t j = 0; nl[i].ctable && j < on; j++) {
			if (!ol[j].ctable ||
			    strcmp(crl_table_id(ol[j].ctable),
				   crl_table_id(nl[i].ctable)))
				continue;
			if (ol[j].ctable != nl[i].ctable) {
				crl_table_free(nl[i].ctable);
				nl[i].ctable = crl_table_ref(ol[j].ctable);
				adopted++;
			}
			break;
		}
	for (size_t i = 0; i < nn; i++) {
		size_t k = 0;

		if (!nl[i].table)
			continue;
		for (size_t j = 0; j < i; j++)
			if (nl[j].table && rl_limit_same(&nl[j].limit, &nl[i].limit))
				k++;
		for (size_t j = 0; j < on; j++) {
			if (!ol[j].table ||
			    !rl_limit_same(rl_table_limit(ol[j].table),
					   &nl[i].limit))
				continue;
			if (k--)
				continue;
			if (ol[j].table != nl[i].table) {
				rl_table_free(nl[i].table);
				nl[i].table = rl_table_ref(ol[j].table);
				adopted++;
			}
			break;
		}
	}
	return adopted;
}

int policy_adopt(struct config *nc, const struct config *old)
{
	int n = 0;

	if (!nc || !old)
		return 0;
	n += adopt_tables(nc->limits, nc->n_limits, old->limits, old->n_limits);
	for (size_t i = 0; i < nc->n_routes; i++) {
		struct config_route *nr = &nc->routes[i];

		for (size_t j = 0; j < old->n_routes; j++) {
			if (strcmp(nr->name, old->routes[j].name))
				continue;
			n += adopt_tables(nr->limits, nr->n_limits,
					  old->routes[j].limits,
					  old->routes[j].n_limits);
			break;
		}
	}
	/* a service with the same targets keeps its balancing and health
	 * state; one whose targets changed carries over what its remaining
	 * targets had (a target out stays out until it recovers) */
	for (size_t i = 0; i < nc->n_services; i++) {
		struct config_service *ns = &nc->services[i];

		for (size_t j = 0; j < old->n_services; j++) {
			struct balance_state *os = old->services[j].state;

			if (strcmp(ns->name, old->services[j].name) || !os ||
			    !ns->state)
				continue;
			if (ns->n_names) {
				/* the names' addresses as last resolved, so
				 * that a reload does not wait for DNS */
				struct balance_state *cur, *nst;

				cur = balance_state_get(old, j);
				nst = balance_state_rebase(ns, cur,
							   ns->state->n_workers);
				balance_state_put(cur);
				if (nst) {
					balance_state_put(ns->state);
					ns->state = nst;
				}
				break;
			}
			if (balance_state_fits(os, ns) &&
			    os->n_workers == ns->state->n_workers) {
				balance_state_put(ns->state);
				ns->state = balance_state_ref(os);
			} else {
				balance_state_carry(ns->state, os);
			}
			break;
		}
	}
	if (nc->escalation.strikes && old->escalation.strikes &&
	    nc->escalation.strikes != old->escalation.strikes &&
	    rl_limit_same(rl_table_limit(nc->escalation.strikes),
			  rl_table_limit(old->escalation.strikes))) {
		rl_table_free(nc->escalation.strikes);
		nc->escalation.strikes = rl_table_ref(old->escalation.strikes);
		n++;
	}
	return n;
}

int policy_load_file(const char *path, struct config **out, char **errors)
{
	return config_load_file_with(path, policy_build, out, errors);
}
