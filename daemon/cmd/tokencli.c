// SPDX-License-Identifier: MIT
/* sluicectl hash-token. See tokencli.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "policy/auth.h"
#include "policy/crypto.h"
#include "cmd/tokencli.h"

static void b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16 | in[i + 1] << 8 |
				  in[i + 2];

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		out[o++] = a[in[i] >> 2];
		out[o++] = a[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = a[in[i] >> 2];
		out[o++] = a[((in[i] & 3) << 4) | in[i + 1] >> 4];
		out[o++] = a[(in[i + 1] & 15) << 2];
	}
	out[o] = '\0';
}

static void print(const char *token, bool show_token, bool json)
{
	char hash[AUTH_HASH_TEXT_LEN];

	auth_hash_token(token, strlen(token), hash);
	if (json) {
		/* tokens hold no '"' or '\\' (checked) */
		if (show_token)
			printf("{\"token\":\"%s\",\"hash\":\"%s\"}\n", token, hash);
		else
			printf("{\"hash\":\"%s\"}\n", hash);
	} else if (show_token) {
		printf("token: %s\nhash:  %s\n", token, hash);
	} else {
		printf("%s\n", hash);
	}
}

int tokencli_hash(int argc, char **argv, bool json)
{
	char buf[AUTH_MAX_CREDENTIAL + 2];
	size_t n;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "new"))) {
		fprintf(stderr, "usage: sluicectl hash-token [new]\n"
				"  (without 'new': reads the token from stdin)\n");
		return 1;
	}
	if (argc == 2) {
		unsigned char raw[32];
		char tok[64];

		if (crypto_random(raw, sizeof(raw))) {
			fprintf(stderr, "sluicectl: hash-token: no randomness\n");
			return 1;
		}
		b64url(raw, sizeof(raw), tok);
		print(tok, true, json);
		return 0;
	}
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "token (then Enter): ");
	if (!fgets(buf, sizeof(buf), stdin)) {
		fprintf(stderr, "sluicectl: hash-token: no token on stdin\n");
		return 1;
	}
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(stdin)) {
		fprintf(stderr, "sluicectl: hash-token: token longer than %d bytes\n",
			AUTH_MAX_CREDENTIAL);
		return 1;
	}
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (n < 16) {
		fprintf(stderr,
			"sluicectl: hash-token: token too short (%zu bytes, at least 16)\n",
			n);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			fprintf(stderr,
				"sluicectl: hash-token: token has a space, quote, backslash or "
				"non-ASCII/control byte at offset %zu (it could not be sent "
				"in a header)\n", i);
			return 1;
		}
	}
	print(buf, false, json);
	return 0;
}
