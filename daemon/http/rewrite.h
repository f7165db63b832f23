/* SPDX-License-Identifier: MIT */
/*
 * Head rewriting for the proxy: pure (no I/O, no allocation). Builds the
 * request head sent to a backend, the response head sent to a client, and
 * the gateway's own JSON error responses, into caller buffers.
 *
 * The request line is forwarded as parsed (method, target, HTTP/1.0 or 1.1);
 * the proxy first puts the target in its normal form (origin-form,
 * http_request_normalize_target()). A request without a Host field gets
 * one: the absolute-form authority, else default_host.
 * Hop-by-hop fields removed in both directions: Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Upgrade, and every field named in a
 * Connection header (Host excepted). Requests: Transfer-Encoding and
 * Content-Length are re-emitted from the parsed framing; client-supplied
 * X-Forwarded-Proto/-Host are replaced, X-Forwarded-For and Via appended to
 * (X-Forwarded-For replaced when the peer is not a trusted proxy),
 * X-Request-Id kept or replaced; any other X-Forwarded-*, X-Real-IP and
 * Forwarded are removed, and so is every field spelled like one of these
 * with '_' for '-' (rewrite_name_like). Responses keep Transfer-Encoding
 * as sent (the body is relayed after validation) and get Via and
 * X-Request-Id.
 */
#ifndef SLUICE_REWRITE_H
#define SLUICE_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

struct rewrite_req {
	const char *client_ip;		/* appended to X-Forwarded-For */
	const char *proto;		/* X-Forwarded-Proto: "http" */
	const char *default_host;	/* Host to send when the client sent none */
	/* true: the client's X-Forwarded-For is dropped and replaced by
	 * client_ip alone (the peer is not a trusted proxy); false: appended */
	bool xff_replace;
	/* X-Request-Id to send (client's fields are dropped); NULL: keep
	 * whatever the client sent */
	const char *request_id;
	/* forward "Upgrade: websocket" + "Connection: upgrade" instead of
	 * Connection: keep-alive (the proxy checked it is a websocket
	 * handshake) */
	bool upgrade_websocket;
	/* the route's rewrite (strip_prefix, rewrite_prefix): the first
	 * path_strip bytes of the path are replaced by path_prefix (a '/'
	 * doubled where the two meet is sent once; an empty result is "/");
	 * path_prefix NULL: the target as it is */
	const char *path_prefix;
	size_t path_prefix_len;
	size_t path_strip;
	/* Host to send instead of the client's (preserve_host: false);
	 * NULL: the client's. X-Forwarded-Host keeps the client's. */
	const char *host;
};

/* Response options; NULL means none of them. */
struct rewrite_resp {
	const char *request_id;		/* X-Request-Id added (replacing any) */
	bool via;			/* append "1.x sluice" to Via */
	/* drop Transfer-Encoding (an HTTP/1.0 client gets the body
	 * de-chunked and close-delimited) */
	bool drop_transfer_encoding;
	/* Strict-Transport-Security value to send (the upstream's field is
	 * replaced); NULL: the upstream's passes */
	const char *hsts;
};

enum rewrite_conn {
	REWRITE_CONN_NONE = 0,		/* interim (1xx): no Connection field */
	REWRITE_CONN_KEEP_ALIVE,
	REWRITE_CONN_CLOSE,
	REWRITE_CONN_UPGRADE,		/* 101: Upgrade: websocket +
					 * Connection: upgrade */
};

/*
 * Is a field name spelled like lit, reading it as CGI-style backends do
 * (ASCII case-insensitive, '_' the same as '-')? prefix: does it start
 * so? lit: lowercase, with '-'. X_Consumer_name is like "x-consumer-name"
 * and like the prefix "x-consumer-".
 */
bool rewrite_name_like(const char *name, size_t len, const char *lit,
		       bool prefix);

/* A request id a client may set: 1-64 bytes of A-Z a-z 0-9 and
 * - _ . : + / = @ */
bool rewrite_request_id_valid(const char *v, size_t n);

/* Returns the head length, or -ENOSPC if it does not fit in cap. */
long rewrite_request(char *dst, size_t cap, const struct http_request *req,
		     const struct rewrite_req *rw);
long rewrite_response(char *dst, size_t cap, const struct http_response *resp,
		      enum rewrite_conn conn);
long rewrite_response_ex(char *dst, size_t cap,
			 const struct http_response *resp,
			 enum rewrite_conn conn, const struct rewrite_resp *o);
/* Error code for a gateway status ("no_route" for 404, ...). */
const char *rewrite_error_code(int status);
/* A complete error response (head + JSON body, no body for HEAD requests),
 * with Connection: close. Returns its length or -ENOSPC. */
long rewrite_error(char *dst, size_t cap, int status, const char *message,
		   bool head_method);
/* Same, with an X-Request-Id field when request_id is not NULL. */
long rewrite_error_ex(char *dst, size_t cap, int status, const char *message,
		      bool head_method, const char *request_id);
/* Same, with a "service" member in the JSON body (service not NULL) and a
 * Retry-After field (retry_after_s > 0): a service's limits or targets. */
long rewrite_error_service(char *dst, size_t cap, int status,
			   const char *message, bool head_method,
			   const char *request_id, const char *service,
			   unsigned int retry_after_s);

#endif
