// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for credential extraction and policy decisions
 * (auth_evaluate) and X-Forwarded-For walking (realip_resolve, the one
 * resolver of the client address, and realip_xff_value).
 *
 * Input: byte 0 picks the policy bits; then lines: the first is the
 * request-target, the rest are "Name: value" headers (up to 16). Checks:
 * verdicts consistent with the result (an allowed authenticated request has
 * a header-safe consumer; denials carry a message and no identity), strip
 * bits only name existing headers, the query strip span lies inside the
 * target, the client address is the peer or parsed from the input, and the
 * X-Forwarded-For sent on starts with that client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/auth.h"
#include "http/http.h"
#include "policy/realip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_store store;
static struct allowlist trusted;
static int ready;

static void init(void)
{
	char txt[AUTH_HASH_TEXT_LEN], err[128];
	struct allowlist_entry e;
	uint8_t h[32];

	auth_store_init(&store);
	if (auth_store_add_consumer(&store, "alice") != 0 ||
	    auth_store_add_role(&store, 0, "admin"))
		abort();
	auth_hash_token("tok", 3, txt);
	if (auth_parse_hash(txt, h, err, sizeof(err)) ||
	    auth_store_add_cred(&store, 0, AUTH_CRED_BEARER, h))
		abort();
	auth_hash_token("key", 3, txt);
	if (auth_parse_hash(txt, h, err, sizeof(err)) ||
	    auth_store_add_cred(&store, 0, AUTH_CRED_KEY, h))
		abort();
	if (auth_jwt_add_secret(&store.jwt, NULL, -1,
				"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", 32, err,
				sizeof(err)))
		abort();
	store.jwt_enabled = true;
	if (allowlist_parse_cidr("127.0.0.0/8", &e, err, sizeof(err)))
		abort();
	trusted.entries = malloc(sizeof(e));
	if (!trusted.entries)
		abort();
	trusted.entries[0] = e;
	trusted.n = trusted.cap = 1;
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_header hs[16];
	struct auth_policy p;
	struct auth_result res;
	struct sockaddr_in peer = { .sin_family = AF_INET };
	struct sockaddr_storage client;
	char *roles[1] = { "admin" };
	const char *target = NULL;
	size_t target_len = 0, nh = 0, i, len;
	char *buf;

	if (!ready)
		init();
	if (size < 1)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);

	/* split into lines */
	for (i = 0; i < len;) {
		char *nl = memchr(buf + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (buf + i)) : len - i;

		if (!target) {
			target = buf + i;
			target_len = l;
		} else if (nh < 16) {
			char *colon = memchr(buf + i, ':', l);

			if (colon) {
				size_t vo = (size_t)(colon - (buf + i)) + 1;

				while (vo < l && buf[i + vo] == ' ')
					vo++;
				hs[nh].name = buf + i;
				hs[nh].name_len = (size_t)(colon - (buf + i));
				hs[nh].value = buf + i + vo;
				hs[nh].value_len = l - vo;
				nh++;
			}
		}
		i += l + 1;
	}

	peer.sin_addr.s_addr = htonl(data[0] & 1 ? 0x7f000001 : 0xc6120001);
	{
		static struct http_request req;
		struct sockaddr_storage ps;
		struct realip_result rip;
		char xff[REALIP_XFF_MAX], cip[INET6_ADDRSTRLEN];
		int err;

		memset(&ps, 0, sizeof(ps));
		memcpy(&ps, &peer, sizeof(peer));
		req.num_headers = nh;
		memcpy(req.headers, hs, nh * sizeof(hs[0]));
		err = realip_resolve(trusted.entries, trusted.n, &ps, &req,
				     &rip);
		if (err && (err != -EINVAL && err != -E2BIG))
			abort();
		client = rip.client;
		if (client.ss_family != AF_INET && client.ss_family != AF_INET6)
			abort();
		if (err && memcmp(&((struct sockaddr_in *)&client)->sin_addr,
				  &peer.sin_addr, 4))
			abort();
		if (!err) {
			if (realip_xff_value(&rip, &ps, xff, sizeof(xff)) <= 0)
				abort();
			realip_format(&client, cip, sizeof(cip));
			if (strncmp(xff, cip, strlen(cip)))
				abort();
		}
	}

	auth_policy_init(&p);
	p.methods = (data[0] >> 1) & 7;
	p.anonymous = data[0] & 16;
	p.strip = data[0] & 32;
	p.roles_mode = data[0] & 64 ? AUTH_ROLES_ALL : AUTH_ROLES_ANY;
	if (data[0] & 128) {
		p.roles = roles;
		p.n_roles = 1;
	}
	strcpy(p.key_query, "api_key");
	{
		struct auth_request ar = {
			.headers = hs, .n_headers = nh, .target = target,
			.target_len = target_len,
			.client = (struct sockaddr *)&client,
		};
		enum auth_verdict v = auth_evaluate(&store, &p, &ar, 1700000000,
						    &res);
		char www[512], rh[1200];

		if (v != res.verdict)
			abort();
		if (v != AUTH_ALLOW && (!res.message || res.consumer[0] ||
					res.authenticated))
			abort();
		if (v == AUTH_ALLOW && res.authenticated &&
		    !auth_name_valid(res.consumer, strlen(res.consumer)))
			abort();
		if (nh < 64 && (res.strip_headers >> nh))
			abort();
		if (res.strip_query_len &&
		    (!target || res.strip_query_off + res.strip_query_len >
					target_len))
			abort();
		if (auth_www_authenticate(&store, &p, &res, www, sizeof(www)) >=
		    sizeof(www))
			abort();
		if (auth_roles_header(&res, rh, sizeof(rh)) >= sizeof(rh))
			abort();
	}
	p.roles = NULL;
	p.n_roles = 0;
	auth_policy_free(&p);
	free(buf);
	return 0;
}
