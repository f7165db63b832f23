/* SPDX-License-Identifier: MIT */
/*
 * sluicectl's side of the admin API: one HTTP/1.1 request over the admin
 * Unix socket, the whole reply read into memory, plus a minimal reader for
 * the flat JSON objects the admin API answers with.
 */
#ifndef SLUICE_CTLCLIENT_H
#define SLUICE_CTLCLIENT_H

#include <stddef.h>

#define CTLCLIENT_TIMEOUT_MS 30000
#define CTLCLIENT_MAX_REPLY  (16u << 20)

struct ctlclient_reply {
	int status;
	char *body;		/* malloc'd, NUL-terminated */
	size_t len;
};

/*
 * method + target ("/allow/add"), optional form body. 0 and *r filled, or
 * -errno: -ENOENT/-ECONNREFUSED (no sluiced there), -EACCES (permission),
 * -ETIMEDOUT, -EPROTO (not an HTTP reply).
 */
int ctlclient_request(const char *sock_path, const char *method,
		      const char *target, const char *body,
		      struct ctlclient_reply *r);
void ctlclient_reply_free(struct ctlclient_reply *r);

/*
 * The string value of the first "key": "..." in json, unescaped into out
 * (\uXXXX below 0x80 only; others become '?'). 1 found, 0 not.
 */
int ctlclient_json_str(const char *json, const char *key, char *out,
		       size_t outlen);

/* Call fn for each string in the array value of the first "key": [...]. */
int ctlclient_json_strs(const char *json, const char *key,
			void (*fn)(const char *s, void *arg), void *arg);

/* Percent-encode s for a form value into out. */
void ctlclient_form_escape(const char *s, char *out, size_t outlen);

#endif
