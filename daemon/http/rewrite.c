// SPDX-License-Identifier: MIT
/* Head rewriting. See rewrite.h. */
#include "http/rewrite.h"

#include <errno.h>
#include <string.h>

#include "lib/str.h"

/* lit: a string literal (its length is known at compile time) */
#define name_is(h, lit) str_ieq((h)->name, (h)->name_len, "" lit, sizeof(lit) - 1)

/* Is `name` listed as a token in any Connection header? */
static bool named_in_connection(const struct http_header *hs, size_t n,
				const char *name, size_t name_len)
{
	for (size_t i = 0; i < n; i++) {
		const char *v, *end, *tok, *tend;

		if (!name_is(&hs[i], "connection"))
			continue;
		v = hs[i].value;
		end = v + hs[i].value_len;
		while (http_list_next(&v, end, &tok, &tend))
			if (str_ieq(tok, (size_t)(tend - tok), name, name_len))
				return true;
	}
	return false;
}

/* Does any Connection field list a token other than close, keep-alive
 * and upgrade (a field name made hop-by-hop)? Usually not: then no other
 * field needs the per-name check. */
static bool connection_names_fields(const struct http_header *hs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v, *end, *tok, *tend;

		if (!name_is(&hs[i], "connection"))
			continue;
		v = hs[i].value;
		end = v + hs[i].value_len;
		while (http_list_next(&v, end, &tok, &tend)) {
			size_t l = (size_t)(tend - tok);

			if (!str_ieq(tok, l, "close", 5) &&
			    !str_ieq(tok, l, "keep-alive", 10) &&
			    !str_ieq(tok, l, "upgrade", 7))
				return true;
		}
	}
	return false;
}

static bool hop_by_hop(const struct http_header *hs, size_t n,
		       const struct http_header *h, bool named)
{
	switch (h->name_len) {
	case 2:
		return name_is(h, "te");
	case 7:
		return name_is(h, "trailer") || name_is(h, "upgrade");
	case 10:
		if (name_is(h, "connection") || name_is(h, "keep-alive"))
			return true;
		break;
	case 16:
		if (name_is(h, "proxy-connection"))
			return true;
		break;
	case 4:
		if (name_is(h, "host"))
			return false;
		break;
	default:
		break;
	}
	return named && named_in_connection(hs, n, h->name, h->name_len);
}

/* A name byte as CGI-style backends see it: ASCII lowercase, '_' as '-'. */
static unsigned char name_fold(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c + 32);
	return c == '_' ? '-' : c;
}

bool rewrite_name_like(const char *name, size_t len, const char *lit,
		       bool prefix)
{
	size_t n = strlen(lit);

	if (prefix ? len < n : len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name_fold((unsigned char)name[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

/*
 * Fields the gateway sets on a request, or whose meaning it owns: a
 * client's field spelled like one of them (any case, '_' for '-') never
 * reaches the backend. Backends behind CGI, WSGI, PHP or FastCGI read
 * X_Forwarded_For and X-Forwarded-For alike (both become
 * HTTP_X_FORWARDED_FOR), so a look-alike would let a client forge what
 * the gateway vouches for. X-Consumer-* is the gate's (gate.c removes the
 * client's before adding its own). X-Forwarded-For and Via from the
 * client are re-emitted, joined, under their exact names.
 */
static bool gateway_owned(const struct http_header *h,
			  const struct rewrite_req *rw)
{
	/* most fields (and the gate's X-Consumer-*) are none of these: told
	 * apart by their first characters before the seven comparisons */
	if (h->name_len < 3)
		return false;
	switch (name_fold((unsigned char)h->name[0])) {
	case 'x':
		if (name_fold((unsigned char)h->name[1]) != '-' ||
		    (name_fold((unsigned char)h->name[2]) != 'f' &&
		     name_fold((unsigned char)h->name[2]) != 'r'))
			return false;
		break;
	case 'f':
	case 'v':
	case 'c':
	case 't':
		break;
	default:
		return false;
	}
	return rewrite_name_like(h->name, h->name_len, "x-forwarded-", true) ||
	       rewrite_name_like(h->name, h->name_len, "x-real-ip", false) ||
	       rewrite_name_like(h->name, h->name_len, "forwarded", false) ||
	       rewrite_name_like(h->name, h->name_len, "via", false) ||
	       rewrite_name_like(h->name, h->name_len, "content-length",
				 false) ||
	       rewrite_name_like(h->name, h->name_len, "transfer-encoding",
				 false) ||
	       (rw->request_id &&
		rewrite_name_like(h->name, h->name_len, "x-request-id", false));
}

/* Decimal digits of v into out (at least 21 bytes); returns the length. */
static size_t u64_dec(char *out, unsigned long long v)
{
	char tmp[21];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void add_header(struct sbuf *s, const struct http_header *h)
{
	sbuf_add(s, h->name, h->name_len);
	sbuf_add(s, ": ", 2);
	sbuf_add(s, h->value, h->value_len);
	sbuf_add(s, "\r\n", 2);
}

/* Emit "Name: v1, v2, extra" joining every header called `name`. */
static void add_joined_n(struct sbuf *s, const struct http_header *hs,
			 size_t n, const char *name, size_t name_len,
			 const char *extra, size_t extra_len)
{
	bool first = true;

	sbuf_add(s, name, name_len);
	sbuf_add(s, ": ", 2);
	for (size_t i = 0; i < n; i++) {
		if (!str_ieq(hs[i].name, hs[i].name_len, name, name_len) ||
		    hs[i].value_len == 0)
			continue;
		if (!first)
			sbuf_add(s, ", ", 2);
		sbuf_add(s, hs[i].value, hs[i].value_len);
		first = false;
	}
	if (!first)
		sbuf_add(s, ", ", 2);
	sbuf_add(s, extra, extra_len);
	sbuf_add(s, "\r\n", 2);
}

/* lit: a string literal; extra: any string */
#define add_joined(s, hs, n, lit, extra)                                     \
	add_joined_n(s, hs, n, "" lit, sizeof(lit) - 1, extra, strlen(extra))

long rewrite_request(char *dst, size_t cap, const struct http_request *req,
		     const struct rewrite_req *rw)
{
	const struct http_header *hs = req->headers;
	size_t n = req->num_headers;
	bool named = connection_names_fields(hs, n);
	bool host_field = false;
	char num[24];
	struct sbuf s;

	sbuf_init(&s, dst, cap);
	sbuf_add(&s, req->method, req->method_len);
	sbuf_add(&s, " ", 1);
	/* the normal form of the target (origin-form, also for an
	 * absolute-form request: http_request_normalize_target()) */
	if (rw->path_prefix && rw->path_strip <= req->path_len) {
		const char *rest = req->path + rw->path_strip;
		size_t rl = req->target_len - (size_t)(rest - req->target);

		sbuf_add(&s, rw->path_prefix, rw->path_prefix_len);
		if (rl && rest[0] == '/' && rw->path_prefix_len &&
		    rw->path_prefix[rw->path_prefix_len - 1] == '/') {
			rest++;
			rl--;
		}
		if (!rw->path_prefix_len && (!rl || rest[0] != '/'))
			sbuf_add(&s, "/", 1);
		sbuf_add(&s, rest, rl);
	} else {
		sbuf_add(&s, req->target, req->target_len);
	}
	/* the client's version: a backend must not answer a 1.0 request
	 * with chunked framing, which a 1.0 client could not read */
	if (req->minor_version == 0)
		sbuf_add(&s, " HTTP/1.0\r\n", 11);
	else
		sbuf_add(&s, " HTTP/1.1\r\n", 11);
	for (size_t i = 0; i < n; i++) {
		const struct http_header *h = &hs[i];

		if (hop_by_hop(hs, n, h, named) || gateway_owned(h, rw))
			continue;
		if (h->name_len == 4 && name_is(h, "host")) {
			host_field = true;
			if (rw->host)
				continue;
		}
		add_header(&s, h);
	}
	if (rw->host) {
		sbuf_adds(&s, "Host: ");
		sbuf_adds(&s, rw->host);
		sbuf_add(&s, "\r\n", 2);
		host_field = true;
	}
	/* no Host field: the absolute-form target's authority (an HTTP/1.0
	 * request), else the target's address */
	if (!host_field && (req->host || rw->default_host)) {
		sbuf_adds(&s, "Host: ");
		if (req->host)
			sbuf_add(&s, req->host, req->host_len);
		else
			sbuf_adds(&s, rw->default_host);
		sbuf_add(&s, "\r\n", 2);
	}
	if (req->body == HTTP_BODY_LENGTH) {
		sbuf_add(&s, "Content-Length: ", 16);
		sbuf_add(&s, num, u64_dec(num, req->content_length));
		sbuf_add(&s, "\r\n", 2);
	}
	else if (req->body == HTTP_BODY_CHUNKED)
		sbuf_adds(&s, "Transfer-Encoding: chunked\r\n");
	add_joined(&s, hs, rw->xff_replace ? 0 : n, "X-Forwarded-For",
		   rw->client_ip ? rw->client_ip : "unknown");
	sbuf_adds(&s, "X-Forwarded-Proto: ");
	sbuf_adds(&s, rw->proto ? rw->proto : "http");
	sbuf_add(&s, "\r\n", 2);
	if (req->host) {
		sbuf_adds(&s, "X-Forwarded-Host: ");
		sbuf_add(&s, req->host, req->host_len);
		sbuf_add(&s, "\r\n", 2);
	}
	if (rw->request_id) {
		sbuf_adds(&s, "X-Request-Id: ");
		sbuf_adds(&s, rw->request_id);
		sbuf_add(&s, "\r\n", 2);
	}
	add_joined(&s, hs, n, "Via",
		   req->minor_version == 0 ? "1.0 sluice" : "1.1 sluice");
	if (rw->upgrade_websocket)
		sbuf_adds(&s, "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n");
	else
		sbuf_adds(&s, "Connection: keep-alive\r\n\r\n");
	return s.overflow ? -ENOSPC : (long)s.len;
}

long rewrite_response(char *dst, size_t cap, const struct http_response *resp,
		      enum rewrite_conn conn)
{
	return rewrite_response_ex(dst, cap, resp, conn, NULL);
}

long rewrite_response_ex(char *dst, size_t cap,
			 const struct http_response *resp,
			 enum rewrite_conn conn, const struct rewrite_resp *o)
{
	const struct http_header *hs = resp->headers;
	size_t n = resp->num_headers;
	bool named = connection_names_fields(hs, n);
	char line[13] = "HTTP/1.1 000 ";
	struct sbuf s;

	sbuf_init(&s, dst, cap);
	line[9] = (char)('0' + resp->status / 100 % 10);
	line[10] = (char)('0' + resp->status / 10 % 10);
	line[11] = (char)('0' + resp->status % 10);
	sbuf_add(&s, line, sizeof(line));
	sbuf_add(&s, resp->reason, resp->reason_len);
	sbuf_add(&s, "\r\n", 2);
	for (size_t i = 0; i < n; i++) {
		if (hop_by_hop(hs, n, &hs[i], named) ||
		    (o && o->via && name_is(&hs[i], "via")) ||
		    (o && o->request_id && name_is(&hs[i], "x-request-id")) ||
		    (o && o->drop_transfer_encoding &&
		     name_is(&hs[i], "transfer-encoding")) ||
		    (o && o->hsts &&
		     name_is(&hs[i], "strict-transport-security")))
			continue;
		add_header(&s, &hs[i]);
	}
	if (o && o->request_id) {
		sbuf_adds(&s, "X-Request-Id: ");
		sbuf_adds(&s, o->request_id);
		sbuf_add(&s, "\r\n", 2);
	}
	if (o && o->hsts) {
		sbuf_adds(&s, "Strict-Transport-Security: ");
		sbuf_adds(&s, o->hsts);
		sbuf_add(&s, "\r\n", 2);
	}
	if (o && o->via)
		add_joined(&s, hs, n, "Via", resp->minor_version == 0 ?
				     "1.0 sluice" : "1.1 sluice");
	if (conn == REWRITE_CONN_KEEP_ALIVE)
		sbuf_adds(&s, "Connection: keep-alive\r\n");
	else if (conn == REWRITE_CONN_CLOSE)
		sbuf_adds(&s, "Connection: close\r\n");
	else if (conn == REWRITE_CONN_UPGRADE)
		sbuf_adds(&s, "Upgrade: websocket\r\nConnection: upgrade\r\n");
	sbuf_add(&s, "\r\n", 2);
	return s.overflow ? -ENOSPC : (long)s.len;
}

bool rewrite_request_id_valid(const char *v, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':' || c == '+' || c == '/' ||
		      c == '=' || c == '@'))
			return false;
	}
	return true;
}

const char *rewrite_error_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 404: return "no_route";
	case 408: return "request_timeout";
	case 413: return "payload_too_large";
	case 414: return "uri_too_long";
	case 417: return "expectation_failed";
	case 431: return "headers_too_large";
	case 501: return "not_implemented";
	case 502: return "bad_gateway";
	case 503: return "service_unavailable";
	case 504: return "gateway_timeout";
	case 505: return "http_version_not_supported";
	default: return "internal_error";
	}
}

long rewrite_error(char *dst, size_t cap, int status, const char *message,
		   bool head_method)
{
	return rewrite_error_ex(dst, cap, status, message, head_method, NULL);
}

long rewrite_error_ex(char *dst, size_t cap, int status, const char *message,
		      bool head_method, const char *request_id)
{
	return rewrite_error_service(dst, cap, status, message, head_method,
				     request_id, NULL, 0);
}

long rewrite_error_service(char *dst, size_t cap, int status,
			   const char *message, bool head_method,
			   const char *request_id, const char *service,
			   unsigned int retry_after_s)
{
	const char *code = rewrite_error_code(status);
	char body[512];
	struct sbuf b, s;

	if (!strcmp(code, "internal_error"))
		status = 500;
	sbuf_init(&b, body, sizeof(body));
	sbuf_adds(&b, "{\"error\":\"");
	sbuf_adds(&b, code);
	sbuf_addf(&b, "\",\"status\":%d,\"message\":\"", status);
	sbuf_add_json(&b, message, strlen(message));
	if (service) {
		sbuf_adds(&b, "\",\"service\":\"");
		sbuf_add_json(&b, service, strlen(service));
	}
	sbuf_adds(&b, "\"}");
	if (b.overflow)
		return -ENOSPC;
	sbuf_init(&s, dst, cap);
	sbuf_addf(&s,
		  "HTTP/1.1 %d %s\r\n"
		  "Content-Type: application/json\r\n"
		  "Content-Length: %zu\r\n"
		  "Connection: close\r\n",
		  status, http_reason(status), b.len);
	if (request_id)
		sbuf_addf(&s, "X-Request-Id: %s\r\n", request_id);
	if (retry_after_s)
		sbuf_addf(&s, "Retry-After: %u\r\n", retry_after_s);
	sbuf_add(&s, "\r\n", 2);
	if (!head_method)
		sbuf_add(&s, body, b.len);
	return s.overflow ? -ENOSPC : (long)s.len;
}
