// SPDX-License-Identifier: MIT
/*
 * sluiced: wiring, command line, exit codes. No logic lives here.
 *
 *   sluiced -c FILE [--check] [--log-level error|warn|info|debug]
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
#include "control/control.h"
#include "lib/log.h"
#include "control/privdrop.h"

enum {
	EXIT_OK = 0,
	EXIT_CONFIG = 1,
	EXIT_RUNTIME = 2,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluiced -c FILE [--check] [--log-level error|warn|info|debug]\n"
		"       sluiced --version\n"
		"  -c, --config FILE   configuration file (YAML)\n"
		"      --check         validate the configuration and exit\n"
		"      --log-level L   override logging.level\n"
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *level = NULL;
	struct control ctl;
	struct config *cfg = NULL;
	char *errors = NULL;
	bool check = false;
	enum log_level lvl;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'l':
			level = optarg;
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

	ret = policy_load_file(path, &cfg, &errors);
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
	ret = control_start(&ctl, path, cfg, level != NULL, &admin_api);
	if (ret) {
		control_destroy(&ctl);
		return EXIT_RUNTIME;
	}
	ret = control_run(&ctl);
	control_destroy(&ctl);
	return ret ? EXIT_RUNTIME : EXIT_OK;
}
