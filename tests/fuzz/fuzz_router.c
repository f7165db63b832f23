// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the router (daemon/policy/router*.c) and the
 * --explain request parser.
 *
 * Input: lines; the first is an --explain request ("METHOD URL"), the
 * others header lines ("Name: value"). The request is matched against a
 * fixed set of routes with every kind of condition: the index and the
 * linear scan must choose the same route, the verdicts of --explain must
 * name that route as the only winner, and nothing may read out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "policy/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char yaml[] =
	"listeners: [{name: l, address: '127.0.0.1:8080'}]\n"
	"xdp: {enabled: false}\n"
	"services: [{name: s, targets: ['127.0.0.1:9001']}]\n"
	"routes:\n"
	"  - {name: a, service: s, path_exact: /}\n"
	"  - {name: b, service: s, path_prefix: /api/}\n"
	"  - {name: c, service: s, path_prefix: /api/, methods: [GET, POST]}\n"
	"  - {name: d, service: s, path_regex: '/u/[0-9]+(/.*)?'}\n"
	"  - {name: e, service: s, hosts: [a.example.com, '[::1]', 10.0.0.1]}\n"
	"  - {name: f, service: s, hosts: ['*.example.com'], path_prefix: /api/}\n"
	"  - {name: g, service: s, hosts: ['*.b.example.com'], path_regex: '.*x.*'}\n"
	"  - {name: h, service: s, path_prefix: /api/, headers: {X-A: [1, 2], X-B: z}}\n"
	"  - {name: i, service: s, path_prefix: /api/, query: {q: 'a b', r: ''}}\n"
	"  - {name: j, service: s, path_prefix: /api/v, priority: 3}\n"
	"  - {name: k, service: s, path_prefix: /api/v, headers: {x-c: '1'}}\n"
	"  - {name: l, service: s, hosts: ['*.example.com'], path_exact: /api/x}\n";

static struct config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[8192];
	struct http_header hdrs[8];
	struct router_verdict v[16];
	const char *hl[8], *err;
	struct router_req q;
	size_t nh = 0;
	char *buf, *line, *nl;
	int a, b, w;

	if (!cfg) {
		char *errs = NULL;

		if (config_parse("f.yaml", yaml, sizeof(yaml) - 1, &cfg, &errs) ||
		    router_build(cfg))
			abort();
	}
	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (strlen(buf) != size) {	/* the CLI gets C strings */
		free(buf);
		return 0;
	}
	line = buf;
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	while (nl && nh < 8) {
		hl[nh++] = nl + 1;
		nl = strchr(nl + 1, '\n');
		if (nl)
			*nl = '\0';
	}
	if (router_parse_explain(line, hl, nh, 0, path, sizeof(path), hdrs, 8,
				 &q, &err) == 0) {
		a = router_lookup(cfg, &q);
		b = router_lookup_linear(cfg, &q);
		w = router_explain(cfg, &q, v);
		if (a != b || a != w || (a >= 0 && !v[a].match))
			abort();
		for (size_t i = 0; i < cfg->n_routes; i++) {
			char why[160];

			if (a >= 0 && v[i].match && (int)i != a)
				router_why_before(cfg, &q, (size_t)a, i, why,
						  sizeof(why));
		}
	}
	free(buf);
	return 0;
}
