// SPDX-License-Identifier: MIT
/* Authentication as configured: names and digests. See auth_spec.h. */
#include "config/auth_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"

static const char *const alg_names[AUTH_JWT_ALG_MAX] = {
	[AUTH_JWT_HS256] = "HS256", [AUTH_JWT_HS384] = "HS384",
	[AUTH_JWT_HS512] = "HS512", [AUTH_JWT_RS256] = "RS256",
	[AUTH_JWT_RS384] = "RS384", [AUTH_JWT_RS512] = "RS512",
	[AUTH_JWT_PS256] = "PS256", [AUTH_JWT_PS384] = "PS384",
	[AUTH_JWT_PS512] = "PS512", [AUTH_JWT_ES256] = "ES256",
	[AUTH_JWT_ES384] = "ES384", [AUTH_JWT_EDDSA] = "EdDSA",
};

int auth_jwt_alg_from_name(const char *name, size_t len)
{
	for (int i = 0; i < AUTH_JWT_ALG_MAX; i++)
		if (strlen(alg_names[i]) == len &&
		    !memcmp(alg_names[i], name, len))
			return i;
	return -1;
}

const char *auth_jwt_alg_name(enum auth_jwt_alg a)
{
	return (unsigned)a < AUTH_JWT_ALG_MAX ? alg_names[a] : "?";
}

bool auth_name_valid(const char *s, size_t n)
{
	if (n == 0 || n >= AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' ||
		    c == ',')
			return false;
	}
	return true;
}

int auth_parse_hash(const char *text, uint8_t hash[AUTH_DIGEST_LEN],
		    char *err, size_t errlen)
{
	const char *hex;

	if (strncmp(text, "sha256:", 7)) {
		snprintf(err, errlen,
			 "secret must be written as 'sha256:<hex>' (see "
			 "'sluicectl hash-token'), 'file:PATH' or 'env:NAME', "
			 "never in plain text");
		return -EINVAL;
	}
	hex = text + 7;
	if (strlen(hex) != 2 * AUTH_DIGEST_LEN) {
		snprintf(err, errlen,
			 "sha256 digest must be 64 hex digits, got %zu",
			 strlen(hex));
		return -EINVAL;
	}
	for (size_t i = 0; i < AUTH_DIGEST_LEN; i++) {
		int hi = str_hexval(hex[2 * i]), lo = str_hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(err, errlen,
				 "sha256 digest has a non-hex character");
			return -EINVAL;
		}
		hash[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void auth_policy_init(struct auth_policy *p)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->key_header, AUTH_DEFAULT_KEY_HEADER);
	p->strip = true;
}

void auth_policy_free(struct auth_policy *p)
{
	for (size_t i = 0; i < p->n_roles; i++)
		free(p->roles[i]);
	free(p->roles);
	p->roles = NULL;
	p->n_roles = 0;
	allowlist_free(&p->allow);
	allowlist_free(&p->deny);
}
