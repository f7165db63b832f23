// SPDX-License-Identifier: MIT
/*
 * sluiced: wiring, command line, exit codes. No logic lives here.
 *
 *   sluiced -c FILE [--check] [--log-level error|warn|info|debug]
 *           [--takeover ADMIN_SOCKET]
 *   sluiced -c FILE --check --explain "METHOD URL" [-H "Name: value"]...
 *
 * Exit codes: 0 clean shutdown (or --check ok), 1 invalid configuration or
 * usage, 2 runtime setup failure (bind, XDP, bpffs, io_uring).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config/config.h"
#include "control/admin_api.h"
#include "control/buildinfo.h"
#include "lib/str.h"
#include "policy/policy.h"
#include "policy/router.h"
#include "control/control.h"
#include "lib/log.h"
#include "control/privdrop.h"
#include "io/tls.h"

enum {
	EXIT_OK = 0,
	EXIT_CONFIG = 1,
	EXIT_RUNTIME = 2,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluiced -c FILE [--check] [--log-level error|warn|info|debug]\n"
		"               [--takeover ADMIN_SOCKET]\n"
		"       sluiced --version\n"
		"  -c, --config FILE   configuration file (YAML)\n"
		"      --check         validate the configuration and exit\n"
		"      --explain REQ   with --check: which route \"METHOD URL\"\n"
		"                      matches, and why the others do not\n"
		"  -H, --header H      with --explain: a request header \"Name: value\"\n"
		"      --log-level L   override logging.level\n"
		"      --takeover S    take the listening sockets and XDP over from\n"
		"                      the sluiced serving admin socket S, then tell\n"
		"                      it to drain and exit (upgrade, restart)\n"
		"  -V, --version       version, git revision, library versions\n"
		"  -h, --help          this text\n");
}

/* The admin API's endpoints, served by the control thread's admin server. */
static const struct control_admin admin_api = {
	.open = admin_api_register,
	.close = admin_api_close,
};

/* --version: what this binary is and the libraries it runs with. */
static int print_version(void)
{
	struct sbuf b;
	char *text;
	size_t len;

	sbuf_init_grow(&b, 256);
	buildinfo_text(&b, "sluiced");
	text = sbuf_take(&b, &len);
	if (!text)
		return EXIT_RUNTIME;
	fputs(text, stdout);
	free(text);
	return EXIT_OK;
}

/* Connections need descriptors: use the hard limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			pr_warn("cannot raise RLIMIT_NOFILE: %s", strerror(errno));
	}
}

static void print_route(const struct config *c, size_t i, const char *tag)
{
	const struct config_route *r = &c->routes[i];

	printf("%s '%s' (%s:%u:%u)", tag, r->name, c->path, r->line, r->col);
}

/*
 * --check --explain: the route a request would take, then every other
 * route with why it lost (it matched but ranks lower: the rule) or why it
 * was rejected (the first condition that failed). 0 when a route matches,
 * 1 when none does or the request cannot be read.
 */
static int explain_route(const struct config *c, const char *line,
			 const char *const *hdrs, size_t n_hdrs)
{
	static char pathbuf[65536];
	struct http_header h[HTTP_MAX_HEADERS];
	struct router_verdict *v;
	struct router_req q;
	const char *err = NULL;
	unsigned int flags = 0;
	int win, fast;
	char why[160];

	if (c->http.path_params == CFG_PATH_PARAMS_STRIP)
		flags |= HTTP_PATH_STRIP_PARAMS;
	if (c->http.escaped_slashes == CFG_ESCAPED_SLASHES_KEEP)
		flags |= HTTP_PATH_KEEP_ESCAPED_SLASH;
	if (router_parse_explain(line, hdrs, n_hdrs, flags, pathbuf,
				 sizeof(pathbuf), h, HTTP_MAX_HEADERS, &q,
				 &err)) {
		fprintf(stderr, "sluiced: --explain: %s\n", err);
		return EXIT_CONFIG;
	}
	v = calloc(c->n_routes + 1, sizeof(*v));
	if (!v) {
		fprintf(stderr, "sluiced: out of memory\n");
		return EXIT_RUNTIME;
	}
	win = router_explain(c, &q, v);
	fast = router_lookup(c, &q);
	printf("request: %.*s host=%.*s path=%.*s query=%.*s\n",
	       (int)q.method_len, q.method, (int)q.host_len,
	       q.host ? q.host : "", (int)q.path_len, q.path,
	       (int)q.query_len, q.query ? q.query : "");
	if (win < 0) {
		printf("no route matches (the gateway answers 404)\n");
	} else {
		print_route(c, (size_t)win, "route");
		printf(" -> service '%s': %s\n",
		       c->services[c->routes[win].service].name, v[win].why);
	}
	for (size_t i = 0; i < c->n_routes; i++) {
		if ((int)i == win)
			continue;
		print_route(c, i, "  not");
		if (v[i].match) {
			router_why_before(c, &q, (size_t)win, i, why, sizeof(why));
			printf(": matches, but loses (%s)\n", why);
		} else {
			printf(": %s\n", v[i].why);
		}
	}
	free(v);
	if (fast != win) {	/* the index and the scan must agree */
		fprintf(stderr, "sluiced: internal error: the route index chose %d, the scan %d\n",
			fast, win);
		return EXIT_RUNTIME;
	}
	return win < 0 ? EXIT_CONFIG : EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "explain", required_argument, NULL, 'E' },
		{ "header", required_argument, NULL, 'H' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "takeover", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *level = NULL, *explain = NULL;
	const char *takeover = NULL;
	const char *hdrs[HTTP_MAX_HEADERS];
	size_t n_hdrs = 0;
	struct control ctl;
	struct config *cfg = NULL;
	char *errors = NULL;
	bool check = false;
	enum log_level lvl;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "c:hH:V", opts, NULL)) != -1) {
		switch (opt) {
		case 'E':
			explain = optarg;
			break;
		case 'H':
			if (n_hdrs == HTTP_MAX_HEADERS) {
				fprintf(stderr, "sluiced: too many -H\n");
				return EXIT_CONFIG;
			}
			hdrs[n_hdrs++] = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'l':
			level = optarg;
			break;
		case 'T':
			takeover = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			return print_version();
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	if ((explain || n_hdrs) && !check) {
		fprintf(stderr, "sluiced: --explain and -H need --check\n");
		return EXIT_CONFIG;
	}
	if (!path || optind != argc) {
		fprintf(stderr, "sluiced: %s\n", path ? "unexpected argument"
						     : "-c FILE is required");
		usage(stderr);
		return EXIT_CONFIG;
	}
	if (level) {
		if (log_level_parse(level, &lvl)) {
			fprintf(stderr, "sluiced: invalid --log-level '%s' "
					"(error|warn|info|debug)\n", level);
			return EXIT_CONFIG;
		}
		log_set_level(lvl);
	}

	ret = tls_load_file(path, &cfg, &errors);
	if (ret) {
		fprintf(stderr, "sluiced: invalid configuration:\n");
		if (errors && *errors)
			fprintf(stderr, "%s%s", errors,
				errors[strlen(errors) - 1] == '\n' ? "" : "\n");
		else
			fprintf(stderr, "%s: %s\n", path, strerror(-ret));
		free(errors);
		return EXIT_CONFIG;
	}
	free(errors);
	if (cfg->user[0]) {	/* a file cannot say whether the user exists */
		uid_t uid;
		gid_t gid;

		ret = priv_lookup(cfg->user, &uid, &gid);
		if (ret) {
			fprintf(stderr, "sluiced: invalid configuration:\n"
					"%s: user '%s': %s\n", path, cfg->user,
				ret == -ENOENT ? "no such user" : strerror(-ret));
			config_put(cfg);
			return EXIT_CONFIG;
		}
	}
	if (check && explain) {
		ret = explain_route(cfg, explain, hdrs, n_hdrs);
		config_put(cfg);
		return ret;
	}
	if (check) {
		printf("sluiced: %s: configuration ok\n", path);
		config_put(cfg);
		return EXIT_OK;
	}
	if (!level && log_level_parse(cfg->log_level, &lvl) == 0)
		log_set_level(lvl);

	raise_nofile();
	ret = control_block_signals();
	if (ret) {
		pr_err("cannot block signals: %s", strerror(-ret));
		config_put(cfg);
		return EXIT_RUNTIME;
	}
	ret = control_start(&ctl, path, cfg, level != NULL, &admin_api,
			    takeover);
	if (ret) {
		control_destroy(&ctl);
		return EXIT_RUNTIME;
	}
	ret = control_run(&ctl);
	control_destroy(&ctl);
	return ret ? EXIT_RUNTIME : EXIT_OK;
}
