/* SPDX-License-Identifier: MIT */
/*
 * Head rewriting for the proxy: pure (no I/O, no allocation). Builds the
 * request head sent to a backend, the response head sent to a client, and
 * the gateway's own JSON error responses, into caller buffers.
 *
 * The request line is forwarded as parsed (method, target, HTTP/1.0 or 1.1).
 * Hop-by-hop fields removed in both directions: Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Upgrade, and every field named in a
 * Connection header (Host excepted). Requests: Transfer-Encoding and
 * Content-Length are re-emitted from the parsed framing; client-supplied
 * X-Forwarded-Proto/-Host are replaced, X-Forwarded-For and Via appended to.
 * Responses keep Transfer-Encoding as sent (the body is relayed verbatim).
 */
#ifndef SLUICE_REWRITE_H
#define SLUICE_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

struct rewrite_req {
	const char *client_ip;		/* appended to X-Forwarded-For */
	const char *proto;		/* X-Forwarded-Proto: "http" */
	const char *default_host;	/* Host to send when the client sent none */
};

enum rewrite_conn {
	REWRITE_CONN_NONE = 0,		/* interim (1xx): no Connection field */
	REWRITE_CONN_KEEP_ALIVE,
	REWRITE_CONN_CLOSE,
};

/* Returns the head length, or -ENOSPC if it does not fit in cap. */
long rewrite_request(char *dst, size_t cap, const struct http_request *req,
		     const struct rewrite_req *rw);
long rewrite_response(char *dst, size_t cap, const struct http_response *resp,
		      enum rewrite_conn conn);
/* Error code for a gateway status ("no_route" for 404, ...). */
const char *rewrite_error_code(int status);
/* A complete error response (head + JSON body, no body for HEAD requests),
 * with Connection: close. Returns its length or -ENOSPC. */
long rewrite_error(char *dst, size_t cap, int status, const char *message,
		   bool head_method);

#endif
