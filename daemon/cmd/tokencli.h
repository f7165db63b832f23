/* SPDX-License-Identifier: MIT */
/*
 * `sluicectl hash-token`: print the "sha256:<hex>" reference of a
 * bearer token or API key for consumers: in the config, so the secret itself
 * is never written there.
 *
 *   sluicectl hash-token        read the token from stdin (one line)
 *   sluicectl hash-token new    make a random token (32 bytes, base64url)
 *                               and print it with its hash
 */
#ifndef SLUICE_TOKENCLI_H
#define SLUICE_TOKENCLI_H

#include <stdbool.h>

/* argv[0] is "hash-token". Returns the exit status (0 ok, 1 usage/input). */
int tokencli_hash(int argc, char **argv, bool json);

#endif
