// SPDX-License-Identifier: MIT
/* GET /metrics on the admin server (admin.h, issue 6's contract). */
#include <errno.h>
#include <string.h>

#include "lib/log.h"
#include "obs/obs.h"

int obs_admin_register(void);

#if __has_include("admin.h")
#include "control/admin.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static int metrics_handler(const struct admin_request *rq,
			   struct admin_reply *out, void *arg)
{
	static const char msg[] =
		"{\"error\":\"method_not_allowed\",\"status\":405,"
		"\"message\":\"use GET\"}";
	char *body;
	size_t len;
	int ret;

	(void)arg;
	if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
		out->status = 405;
		out->content_type = "application/json";
		out->body = strdup(msg);
		if (!out->body)
			return -ENOMEM;
		out->len = sizeof(msg) - 1;
		return 0;
	}
	ret = obs_render(&body, &len);
	if (ret)
		return ret;
	out->status = 200;
	out->content_type = METRICS_CONTENT_TYPE;
	out->body = body;
	out->len = len;
	return 0;
}

int obs_admin_register(void)
{
	return admin_register("/metrics", metrics_handler, NULL);
}
#else
int obs_admin_register(void)
{
	pr_warn("metrics: this build has no admin server; /metrics is not served");
	return 0;
}
#endif
