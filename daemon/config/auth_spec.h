/* SPDX-License-Identifier: MIT */
/*
 * What authentication is, as configured: the names, limits and per-route
 * settings that the config parser checks and fills (struct auth_policy),
 * and the small pure checks it needs to report a bad value at its line and
 * column (names, JWT algorithm names, "sha256:<hex>" digests).
 * policy/auth.h and policy/auth_jwt.h decide requests with them. Pure.
 */
#ifndef SLUICE_AUTH_SPEC_H
#define SLUICE_AUTH_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/allowlist.h"

#define AUTH_JWT_MAX_KID 128
#define AUTH_NAME_MAX 64		/* consumer and role names, with NUL */
#define AUTH_MAX_ROLES 16
#define AUTH_DIGEST_LEN 32		/* SHA-256 of a credential */
#define AUTH_DEFAULT_KEY_HEADER "X-API-Key"

enum auth_jwt_alg {
	AUTH_JWT_HS256 = 0,
	AUTH_JWT_HS384,
	AUTH_JWT_HS512,
	AUTH_JWT_RS256,
	AUTH_JWT_RS384,
	AUTH_JWT_RS512,
	AUTH_JWT_PS256,
	AUTH_JWT_PS384,
	AUTH_JWT_PS512,
	AUTH_JWT_ES256,
	AUTH_JWT_ES384,
	AUTH_JWT_EDDSA,
	AUTH_JWT_ALG_MAX,
};

#define AUTH_JWT_ALG_ALL ((1u << AUTH_JWT_ALG_MAX) - 1)

enum auth_method {
	AUTH_M_BEARER = 1u << 0,	/* Authorization: Bearer <opaque> */
	AUTH_M_KEY = 1u << 1,		/* API key: header or query parameter */
	AUTH_M_JWT = 1u << 2,		/* Authorization: Bearer <jwt> */
	AUTH_M_MTLS = 1u << 3,		/* a verified TLS client certificate */
};

enum auth_roles_mode {
	AUTH_ROLES_ANY = 0,		/* any one of the roles (default) */
	AUTH_ROLES_ALL = 1,		/* every role */
};

struct auth_policy {
	uint32_t methods;		/* AUTH_M_*; 0: no credentials needed */
	bool anonymous;			/* no credential: pass as anonymous */
	char **roles;			/* required roles */
	size_t n_roles;
	int roles_mode;			/* enum auth_roles_mode */
	char key_header[AUTH_NAME_MAX];	/* "" : not read from a header */
	char key_query[AUTH_NAME_MAX];	/* "" : not read from the query */
	bool strip;			/* remove the credential (default) */
	struct allowlist allow;		/* L7: if non-empty, client must match */
	struct allowlist deny;		/* L7: client must not match */
};

/* A consumer or role name safe to put in a header: 1..63 visible ASCII
 * characters, none of space, '"', '\\' or ','. */
bool auth_name_valid(const char *s, size_t n);

/* "HS256" -> AUTH_JWT_HS256; -1 if unknown (including "none"). */
int auth_jwt_alg_from_name(const char *name, size_t len);
const char *auth_jwt_alg_name(enum auth_jwt_alg a);

/*
 * Parse "sha256:<64 hex digits>" into hash. 0, or -EINVAL with a message
 * (uppercase hex is accepted). Plain-text secrets are refused: the message
 * says how to write them.
 */
int auth_parse_hash(const char *text, uint8_t hash[AUTH_DIGEST_LEN],
		    char *err, size_t errlen);
void auth_policy_init(struct auth_policy *p);
void auth_policy_free(struct auth_policy *p);

#endif
