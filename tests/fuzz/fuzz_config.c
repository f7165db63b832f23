// SPDX-License-Identifier: MIT
/* libFuzzer target: config_parse() on arbitrary bytes, then route a few
 * requests through the snapshot. Everything is freed (leak detection on). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "policy/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *host, *method, *path;
	} reqs[] = {
		{ NULL, "GET", "/" },
		{ "api.example.com", "POST", "/api/v1/x" },
		{ "API.EXAMPLE.COM:8080", "DELETE", "/api/" },
		{ "[::1]:80", "BREW", "/coffee" },
	};
	struct config *c = NULL;
	char *errs = NULL;
	int r;

	r = config_parse("fuzz/sluice.yaml", (const char *)data, size, &c, &errs);
	if (r == 0) {
		if (!c || errs || c->refcount != 1 || !c->n_listeners)
			abort();
		for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
			int m = router_match(c, reqs[i].host,
					     reqs[i].host ? strlen(reqs[i].host) : 0,
					     reqs[i].method, strlen(reqs[i].method),
					     reqs[i].path, strlen(reqs[i].path));

			if (m < -1 || (m >= 0 && ((size_t)m >= c->n_routes ||
				       c->routes[m].service >= c->n_services)))
				abort();
		}
		config_get(c);
		config_put(c);
		config_put(c);
	} else if (r == -EINVAL) {
		if (c || !errs || !errs[0])
			abort();
	} else if (r != -ENOMEM) {
		abort();
	}
	free(errs);
	return 0;
}
