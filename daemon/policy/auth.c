// SPDX-License-Identifier: MIT
/* Consumers, credential lookup, RBAC and L7 address policy. See auth.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/auth.h"
#include "policy/ratelimit.h"
#include "http/http.h"
#include "lib/str.h"

/* ---- config time ------------------------------------------------------- */

_Static_assert(AUTH_DIGEST_LEN == CRYPTO_SHA256_LEN,
	       "a credential digest is a SHA-256");

void auth_store_init(struct auth_store *s)
{
	memset(s, 0, sizeof(*s));
	auth_jwt_provider_init(&s->jwt);
	strcpy(s->realm, "sluice");
}

void auth_store_free(struct auth_store *s)
{
	free(s->consumers);
	if (s->table)
		memset(s->table, 0, s->table_size * sizeof(*s->table));
	free(s->table);
	auth_jwt_provider_free(&s->jwt);
	s->consumers = NULL;
	s->table = NULL;
	s->n_consumers = s->table_size = s->n_creds = 0;
}

int auth_store_find_consumer(const struct auth_store *s, const char *name)
{
	for (size_t i = 0; i < s->n_consumers; i++)
		if (!strcmp(s->consumers[i].name, name))
			return (int)i;
	return -ENOENT;
}

int auth_store_add_consumer(struct auth_store *s, const char *name)
{
	struct auth_consumer *c;

	if (!auth_name_valid(name, strlen(name)) ||
	    auth_store_find_consumer(s, name) >= 0)
		return -EINVAL;
	c = realloc(s->consumers, (s->n_consumers + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	s->consumers = c;
	c = &c[s->n_consumers];
	memset(c, 0, sizeof(*c));
	strcpy(c->name, name);
	return (int)s->n_consumers++;
}

int auth_store_add_role(struct auth_store *s, size_t ci, const char *role)
{
	struct auth_consumer *c;

	if (ci >= s->n_consumers || !auth_name_valid(role, strlen(role)))
		return -EINVAL;
	c = &s->consumers[ci];
	if (c->n_roles >= AUTH_MAX_ROLES)
		return -EINVAL;
	strcpy(c->roles[c->n_roles++], role);
	return 0;
}

static size_t slot_of(const uint8_t hash[CRYPTO_SHA256_LEN], size_t mask)
{
	uint64_t h;

	/* the digest is uniform: its first bytes are a fine table index */
	memcpy(&h, hash, sizeof(h));
	return (size_t)h & mask;
}

static int table_insert(struct auth_cred *t, size_t size,
			const struct auth_cred *c)
{
	size_t mask = size - 1, i = slot_of(c->hash, mask);

	while (t[i].used) {
		if (crypto_memeq(t[i].hash, c->hash, CRYPTO_SHA256_LEN))
			return -EEXIST;
		i = (i + 1) & mask;
	}
	t[i] = *c;
	t[i].used = 1;
	return 0;
}

int auth_store_add_cred(struct auth_store *s, size_t ci,
			enum auth_cred_kind kind,
			const uint8_t hash[CRYPTO_SHA256_LEN])
{
	struct auth_cred c = { .kind = (uint8_t)kind, .consumer = (uint32_t)ci };

	if (ci >= s->n_consumers)
		return -EINVAL;
	memcpy(c.hash, hash, CRYPTO_SHA256_LEN);
	if ((s->n_creds + 1) * 2 > s->table_size) {
		size_t nsize = s->table_size ? s->table_size * 2 : 16;
		struct auth_cred *nt = calloc(nsize, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		for (size_t i = 0; i < s->table_size; i++)
			if (s->table[i].used)
				table_insert(nt, nsize, &s->table[i]);
		free(s->table);
		s->table = nt;
		s->table_size = nsize;
	}
	if (table_insert(s->table, s->table_size, &c))
		return -EEXIST;
	s->n_creds++;
	return 0;
}

void auth_hash_token(const char *token, size_t n,
		     char out[AUTH_HASH_TEXT_LEN])
{
	static const char hx[] = "0123456789abcdef";
	uint8_t h[CRYPTO_SHA256_LEN];

	crypto_sha256(token, n, h);
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < CRYPTO_SHA256_LEN; i++) {
		out[7 + 2 * i] = hx[h[i] >> 4];
		out[8 + 2 * i] = hx[h[i] & 15];
	}
	out[AUTH_HASH_TEXT_LEN - 1] = '\0';
}

/* ---- addresses --------------------------------------------------------- */

/* Address bytes of sa (IPv4-mapped IPv6 as IPv4). family 0 if neither. */
static int addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, &a->s6_addr[12], 4);
			return AF_INET;
		}
		memcpy(out, a->s6_addr, 16);
		return AF_INET6;
	}
	return 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));

		if ((a[full] & m) != (b[full] & m))
			return false;
	}
	return true;
}

bool auth_cidr_match(const struct allowlist *al, const struct sockaddr *sa)
{
	uint8_t a[16];
	int fam = addr_bytes(sa, a);

	if (!fam)
		return false;
	for (size_t i = 0; i < al->n; i++) {
		const struct allowlist_entry *e = &al->entries[i];

		if (e->family == fam && prefix_eq(e->addr, a, e->prefixlen))
			return true;
	}
	return false;
}

static bool name_is(const struct http_header *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && !strncasecmp(h->name, name, n);
}

/* ---- credentials ------------------------------------------------------- */

/*
 * Per-thread memo of the digests of credentials that were found: a client
 * on a keep-alive connection presents the same token on every request, and
 * SHA-256 through OpenSSL (a context allocated and freed, the hash) was
 * most of what bearer auth cost a request. The memo maps a credential to
 * its digest only, never to a verdict or a consumer: every request is still
 * looked up in the current snapshot's table, so a reload that revoked a
 * token denies it on the next request (nothing to invalidate), and
 * requests with different credentials (on one connection or not) are each
 * judged on their own. An entry is named by a 128-bit tag of the
 * credential, SipHash-2-4-128 under a per-process random key: another
 * credential takes an entry's digest only if its tag is the same (about
 * 2^-128 without the key, which never leaves this process), and the memo
 * holds no credential bytes. Only credentials whose digest the table held
 * are memoized: one that failed is hashed again on every request.
 */
#define AUTH_MEMO_SLOTS 64		/* per thread, direct-mapped */

struct auth_memo {
	uint64_t tag[2];
	uint8_t digest[CRYPTO_SHA256_LEN];
	bool used;
};

static __thread struct auth_memo memo[AUTH_MEMO_SLOTS];
static uint8_t memo_key[16];
static bool memo_ok;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static void memo_init(void)
{
	/* no random keys: no memo (every credential is hashed) */
	memo_ok = !crypto_random(memo_key, sizeof(memo_key));
}

/* The memo entry for tok, with its tag in tag; NULL when there is no
 * memo. */
static struct auth_memo *memo_slot(const char *tok, size_t n, uint64_t tag[2])
{
	pthread_once(&memo_once, memo_init);
	if (!memo_ok)
		return NULL;
	rl_siphash128(memo_key, tok, n, tag);
	return &memo[tag[0] & (AUTH_MEMO_SLOTS - 1)];
}

/* Whether m holds tag (both words compared without an early exit). */
static bool memo_has(const struct auth_memo *m, const uint64_t tag[2])
{
	return m->used && !((m->tag[0] ^ tag[0]) | (m->tag[1] ^ tag[1]));
}

static const struct auth_cred *lookup(const struct auth_store *s,
				      enum auth_cred_kind kind,
				      const char *tok, size_t n)
{
	uint8_t h[CRYPTO_SHA256_LEN];
	const struct auth_cred *hit = NULL;
	struct auth_memo *m;
	uint64_t tag[2];
	bool memoized;
	size_t mask, i;

	if (!s->table_size)
		return NULL;
	m = memo_slot(tok, n, tag);
	memoized = m && memo_has(m, tag);
	if (memoized)
		memcpy(h, m->digest, CRYPTO_SHA256_LEN);
	else
		crypto_sha256(tok, n, h);
	mask = s->table_size - 1;
	/* probe to the first empty slot, comparing every digest in constant
	 * time; the load factor is at most 1/2 */
	for (i = slot_of(h, mask); s->table[i].used; i = (i + 1) & mask)
		if (crypto_memeq(s->table[i].hash, h, CRYPTO_SHA256_LEN) &&
		    s->table[i].kind == kind)
			hit = &s->table[i];
	if (memoized && !hit) {
		/* not found (revoked by a reload, or the bytes of another
		 * kind of credential): forget it */
		m->used = false;
	} else if (hit && m && !memoized) {
		m->tag[0] = tag[0];
		m->tag[1] = tag[1];
		memcpy(m->digest, h, CRYPTO_SHA256_LEN);
		m->used = true;
	}
	return hit;
}

static void grant_consumer(const struct auth_store *s, size_t ci,
			   struct auth_result *res)
{
	const struct auth_consumer *c = &s->consumers[ci];

	strcpy(res->consumer, c->name);
	for (unsigned int i = 0; i < c->n_roles; i++)
		strcpy(res->roles[i], c->roles[i]);
	res->n_roles = c->n_roles;
}

static bool has_role(const struct auth_result *res, const char *role)
{
	for (unsigned int i = 0; i < res->n_roles; i++)
		if (!strcmp(res->roles[i], role))
			return true;
	return false;
}

/*
 * A JWT identity is the token's alone: its name and the roles its claims
 * carry. A configured consumer that happens to have the same name adds
 * nothing (an issuer that can mint sub=alice must not get alice's roles),
 * and the gate keys its per-consumer limits apart by method.
 */
static void grant_jwt(const struct auth_jwt_claims *cl,
		      struct auth_result *res)
{
	strcpy(res->consumer, cl->consumer);
	res->n_roles = 0;
	for (unsigned int i = 0; i < cl->n_roles; i++)
		if (!has_role(res, cl->roles[i]) &&
		    res->n_roles < AUTH_MAX_ROLES)
			strcpy(res->roles[res->n_roles++], cl->roles[i]);
}

/* The token68 characters before the '=' padding (RFC 7235): a table, one
 * load a byte on every bearer request. */
#define T68_RANGE(a, b) [a ... b] = 1
static const uint8_t t68_char[256] = {
	T68_RANGE('A', 'Z'), T68_RANGE('a', 'z'), T68_RANGE('0', '9'),
	['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['+'] = 1, ['/'] = 1,
};
#undef T68_RANGE

static bool token68(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	while (i < n && t68_char[(unsigned char)s[i]])
		i++;
	while (i < n && s[i] == '=')
		i++;
	return i == n;
}

/* An API key value: visible ASCII, no spaces. */
static bool key_chars(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool looks_like_jwt(const char *s, size_t n)
{
	const char *d1 = memchr(s, '.', n), *d2;

	if (!d1)
		return false;
	d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - s));
	return d2 && !memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - s));
}

static enum auth_verdict deny(struct auth_result *res, enum auth_verdict v,
			      bool invalid, const char *msg)
{
	res->verdict = v;
	res->invalid_token = invalid;
	res->message = msg;
	res->authenticated = false;
	res->consumer[0] = '\0';
	res->n_roles = 0;
	return v;
}

static const char *jwt_message(enum auth_jwt_status st)
{
	switch (st) {
	case AUTH_JWT_E_EXPIRED:
		return "invalid token: expired";
	case AUTH_JWT_E_NOT_YET_VALID:
		return "invalid token: not yet valid";
	case AUTH_JWT_E_ISSUER:
		return "invalid token: wrong issuer";
	case AUTH_JWT_E_AUDIENCE:
		return "invalid token: wrong audience";
	case AUTH_JWT_E_SIGNATURE:
	case AUTH_JWT_E_KID:
		return "invalid token: signature not verified";
	case AUTH_JWT_E_ALG:
		return "invalid token: algorithm not accepted";
	default:
		return "invalid token";
	}
}

/* Authorization: Bearer <token>. 1 handled (res set), 0 absent. */
static int try_authorization(const struct auth_store *s,
			     const struct auth_policy *p,
			     const struct auth_request *req, int64_t now,
			     struct auth_result *res)
{
	const struct http_header *h = NULL;
	size_t idx = 0, n, i;
	const char *v;

	for (i = 0; i < req->n_headers; i++) {
		if (!name_is(&req->headers[i], "authorization"))
			continue;
		if (h) {
			deny(res, AUTH_DENY_401, true,
			     "more than one Authorization header");
			return 1;
		}
		h = &req->headers[i];
		idx = i;
	}
	if (!h)
		return 0;
	v = h->value;
	n = h->value_len;
	if (n < 7 || strncasecmp(v, "bearer", 6) || (v[6] != ' ')) {
		deny(res, AUTH_DENY_401, true,
		     "unsupported Authorization scheme (expected Bearer)");
		return 1;
	}
	for (i = 6; i < n && v[i] == ' '; i++)
		;
	v += i;
	n -= i;
	if (n > AUTH_MAX_CREDENTIAL || !token68(v, n)) {
		deny(res, AUTH_DENY_401, true, "malformed bearer token");
		return 1;
	}
	if (p->strip && idx < 64)
		res->strip_headers |= 1ull << idx;
	if ((p->methods & AUTH_M_JWT) && s->jwt_enabled &&
	    looks_like_jwt(v, n)) {
		struct auth_jwt_claims cl;
		enum auth_jwt_status st = auth_jwt_verify(&s->jwt, v, n, now,
							  &cl);

		if (st == AUTH_JWT_OK) {
			grant_jwt(&cl, res);
			res->method = AUTH_M_JWT;
			res->authenticated = true;
			return 1;
		}
		if (p->methods & AUTH_M_BEARER) {
			const struct auth_cred *c =
				lookup(s, AUTH_CRED_BEARER, v, n);

			if (c) {
				grant_consumer(s, c->consumer, res);
				res->method = AUTH_M_BEARER;
				res->authenticated = true;
				return 1;
			}
		}
		deny(res, AUTH_DENY_401, true, jwt_message(st));
		return 1;
	}
	if (p->methods & AUTH_M_BEARER) {
		const struct auth_cred *c = lookup(s, AUTH_CRED_BEARER, v, n);

		if (c) {
			grant_consumer(s, c->consumer, res);
			res->method = AUTH_M_BEARER;
			res->authenticated = true;
			return 1;
		}
	}
	deny(res, AUTH_DENY_401, true, "invalid bearer token");
	return 1;
}

static int hexdig(char c)
{
	return str_hexval(c);
}

/* ?name=value in the query of target: 1 handled, 0 absent. */
static int try_query_key(const struct auth_store *s,
			 const struct auth_policy *p,
			 const struct auth_request *req,
			 struct auth_result *res)
{
	const char *t = req->target, *q, *end = t + req->target_len;
	size_t klen = strlen(p->key_query);
	const char *found = NULL, *fend = NULL, *vstart = NULL;
	char val[512];
	size_t vn = 0;
	const struct auth_cred *c;

	q = memchr(t, '?', req->target_len);
	if (!q)
		return 0;
	q++;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp ? amp : end;

		if ((size_t)(pe - q) > klen && !memcmp(q, p->key_query, klen) &&
		    q[klen] == '=') {
			if (found) {
				deny(res, AUTH_DENY_401, true,
				     "API key given more than once");
				return 1;
			}
			found = q;
			fend = pe;
			vstart = q + klen + 1;
		} else if ((size_t)(pe - q) == klen &&
			   !memcmp(q, p->key_query, klen)) {
			deny(res, AUTH_DENY_401, true, "empty API key");
			return 1;
		}
		q = amp ? amp + 1 : end;
	}
	if (!found)
		return 0;
	/* percent-decode the value */
	for (const char *v = vstart; v < fend; v++) {
		char ch = *v;

		if (ch == '%') {
			if (fend - v < 3 || hexdig(v[1]) < 0 || hexdig(v[2]) < 0)
				goto bad;
			ch = (char)(hexdig(v[1]) << 4 | hexdig(v[2]));
			v += 2;
		} else if (ch == '+') {
			ch = ' ';
		}
		if (vn >= sizeof(val))
			goto bad;
		val[vn++] = ch;
	}
	if (!key_chars(val, vn))
		goto bad;
	if (p->strip) {
		/* drop "name=value" and one adjacent '&' (or the '?') */
		size_t off = (size_t)(found - t), len = (size_t)(fend - found);

		if (fend < end) {
			len++;			/* trailing '&' */
		} else {
			off--;			/* leading '&' or '?' */
			len++;
		}
		res->strip_query_off = off;
		res->strip_query_len = len;
	}
	c = lookup(s, AUTH_CRED_KEY, val, vn);
	if (!c) {
		deny(res, AUTH_DENY_401, true, "invalid API key");
		return 1;
	}
	grant_consumer(s, c->consumer, res);
	res->method = AUTH_M_KEY;
	res->authenticated = true;
	return 1;
bad:
	deny(res, AUTH_DENY_401, true, "malformed API key");
	return 1;
}

static int try_header_key(const struct auth_store *s,
			  const struct auth_policy *p,
			  const struct auth_request *req,
			  struct auth_result *res)
{
	const struct http_header *h = NULL;
	const struct auth_cred *c;
	size_t idx = 0;

	for (size_t i = 0; i < req->n_headers; i++) {
		if (!name_is(&req->headers[i], p->key_header))
			continue;
		if (h) {
			deny(res, AUTH_DENY_401, true,
			     "API key given more than once");
			return 1;
		}
		h = &req->headers[i];
		idx = i;
	}
	if (!h)
		return 0;
	if (p->strip && idx < 64)
		res->strip_headers |= 1ull << idx;
	if (h->value_len > AUTH_MAX_CREDENTIAL ||
	    !key_chars(h->value, h->value_len)) {
		deny(res, AUTH_DENY_401, true, "malformed API key");
		return 1;
	}
	c = lookup(s, AUTH_CRED_KEY, h->value, h->value_len);
	if (!c) {
		deny(res, AUTH_DENY_401, true, "invalid API key");
		return 1;
	}
	grant_consumer(s, c->consumer, res);
	res->method = AUTH_M_KEY;
	res->authenticated = true;
	return 1;
}

static bool roles_ok(const struct auth_policy *p,
		     const struct auth_result *res)
{
	if (!p->n_roles)
		return true;
	for (size_t i = 0; i < p->n_roles; i++) {
		bool have = has_role(res, p->roles[i]);

		if (p->roles_mode == AUTH_ROLES_ALL && !have)
			return false;
		if (p->roles_mode != AUTH_ROLES_ALL && have)
			return true;
	}
	return p->roles_mode == AUTH_ROLES_ALL;
}

/* A verified client certificate (auth: [mtls]): 1 handled, 0 none. */
static int try_mtls(const struct auth_store *s, const struct auth_request *req,
		    struct auth_result *res)
{
	if (!req->n_cert_ids)
		return 0;
	for (size_t i = 0; i < req->n_cert_ids; i++) {
		const char *id = req->cert_ids[i];
		const struct auth_cred *c = lookup(s, AUTH_CRED_CERT, id,
						   strlen(id));

		if (c) {
			grant_consumer(s, c->consumer, res);
			res->method = AUTH_M_MTLS;
			res->authenticated = true;
			return 1;
		}
	}
	deny(res, AUTH_DENY_401, true,
	     "client certificate not registered to any consumer");
	return 1;
}

int auth_cert_id_parse(const char *text, char *out, size_t outlen,
		       char *err, size_t errlen)
{
	size_t n = strlen(text);

	if (!strncmp(text, "sha256:", 7)) {
		if (n != 7 + 64 || outlen <= n) {
			snprintf(err, errlen, "'%s': sha256: wants the 64 hex digits of the certificate's SHA-256 fingerprint", text);
			return -EINVAL;
		}
		memcpy(out, "sha256:", 7);
		for (size_t i = 7; i < n; i++) {
			char c = text[i];

			if (str_hexval(c) < 0) {
				snprintf(err, errlen, "'%s': not a hex digit at %zu", text, i);
				return -EINVAL;
			}
			out[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
		}
		out[n] = '\0';
		return 0;
	}
	if ((!strncmp(text, "cn:", 3) && n > 3) ||
	    (!strncmp(text, "san:", 4) && n > 4)) {
		if (n >= outlen) {
			snprintf(err, errlen, "'%.40s...': too long", text);
			return -EINVAL;
		}
		memcpy(out, text, n + 1);
		return 0;
	}
	snprintf(err, errlen, "'%s': want sha256:<fingerprint>, cn:<name> or san:<DNS name>", text);
	return -EINVAL;
}

enum auth_verdict auth_evaluate(const struct auth_store *s,
				const struct auth_policy *p,
				const struct auth_request *req, int64_t now,
				struct auth_result *res)
{
	int handled = 0;

	/* every field but the name arrays, which are read only up to
	 * consumer's NUL and n_roles (no memset of the whole 1 KiB per
	 * request) */
	res->verdict = AUTH_ALLOW;
	res->authenticated = false;
	res->method = 0;
	res->invalid_token = false;
	res->message = NULL;
	res->consumer[0] = '\0';
	res->n_roles = 0;
	res->strip_headers = 0;
	res->strip_query_off = 0;
	res->strip_query_len = 0;

	if (p->deny.n && auth_cidr_match(&p->deny, req->client))
		return deny(res, AUTH_DENY_403, false,
			    "client address is denied on this route");
	if (p->allow.n && !auth_cidr_match(&p->allow, req->client))
		return deny(res, AUTH_DENY_403, false,
			    "client address is not allowed on this route");
	if (!p->methods)
		return AUTH_ALLOW;

	if (p->methods & (AUTH_M_BEARER | AUTH_M_JWT))
		handled = try_authorization(s, p, req, now, res);
	if (!handled && (p->methods & AUTH_M_KEY) && p->key_header[0])
		handled = try_header_key(s, p, req, res);
	if (!handled && (p->methods & AUTH_M_KEY) && p->key_query[0] &&
	    req->target)
		handled = try_query_key(s, p, req, res);
	if (!handled && (p->methods & AUTH_M_MTLS))
		handled = try_mtls(s, req, res);
	if (handled && res->verdict != AUTH_ALLOW)
		return res->verdict;
	if (!handled) {
		if (!p->anonymous)
			return deny(res, AUTH_DENY_401, false,
				    "credentials required");
		/* anonymous: a role requirement still needs credentials */
		if (p->n_roles)
			return deny(res, AUTH_DENY_401, false,
				    "credentials required for this role");
		return AUTH_ALLOW;
	}
	if (!roles_ok(p, res))
		return deny(res, AUTH_DENY_403, false,
			    p->roles_mode == AUTH_ROLES_ALL ? "consumer lacks a required role" :
					   "consumer has none of the required roles");
	return AUTH_ALLOW;
}

static size_t append(char *buf, size_t len, size_t at, const char *s)
{
	size_t n = strlen(s);

	if (at < len) {
		size_t room = len - at - 1;

		memcpy(buf + at, s, n < room ? n : room);
		buf[at + (n < room ? n : room)] = '\0';
	}
	return at + n;
}

size_t auth_www_authenticate(const struct auth_store *s,
			     const struct auth_policy *p,
			     const struct auth_result *res, char *buf,
			     size_t len)
{
	size_t at = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	if (p->methods & (AUTH_M_BEARER | AUTH_M_JWT)) {
		at = append(buf, len, at, "Bearer realm=\"");
		at = append(buf, len, at, s->realm);
		at = append(buf, len, at, "\"");
		if (res->invalid_token)
			at = append(buf, len, at, ", error=\"invalid_token\"");
	}
	if ((p->methods & AUTH_M_KEY) && (p->key_header[0] || p->key_query[0])) {
		if (at)
			at = append(buf, len, at, ", ");
		at = append(buf, len, at, "ApiKey realm=\"");
		at = append(buf, len, at, s->realm);
		at = append(buf, len, at, "\"");
		if (p->key_header[0]) {
			at = append(buf, len, at, ", header=\"");
			at = append(buf, len, at, p->key_header);
			at = append(buf, len, at, "\"");
		}
		if (p->key_query[0]) {
			at = append(buf, len, at, ", query=\"");
			at = append(buf, len, at, p->key_query);
			at = append(buf, len, at, "\"");
		}
	}
	return at < len ? at : len - 1;
}

size_t auth_roles_header(const struct auth_result *res, char *buf, size_t len)
{
	size_t at = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	for (unsigned int i = 0; i < res->n_roles; i++) {
		if (i)
			at = append(buf, len, at, ", ");
		at = append(buf, len, at, res->roles[i]);
	}
	return at < len ? at : len - 1;
}
