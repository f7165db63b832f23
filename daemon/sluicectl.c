// SPDX-License-Identifier: MIT
/*
 * sluicectl: operator CLI. Reads the maps a running sluiced pinned, read-only.
 *
 *   sluicectl [--pin-path DIR] [--json] status
 *
 * Exit codes: 0 ok, 1 usage error, 2 no sluiced running (pins missing) or
 * the pins cannot be read.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sluice/abi.h>

#include "log.h"
#include "tokencli.h"
#include "xdpctl.h"

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_NO_DAEMON = 2,
};

static void usage_hint(void)
{
	fprintf(stderr,
		"usage: sluicectl [--pin-path DIR] [--json] status\n"
		"Try 'sluicectl --help' for more information.\n");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluicectl [--pin-path DIR] [--json] COMMAND\n"
		"\n"
		"commands:\n"
		"  status         XDP verdict counters (packets, bytes) and\n"
		"                 allowlist sizes\n"
		"  hash-token [new]  sha256 reference of a token read from stdin\n"
		"                 for consumers: in the config ('new': make one)\n"
		"\n"
		"options:\n"
		"  --pin-path DIR directory where sluiced pinned its maps\n"
		"                 (default %s)\n"
		"  --json         machine-readable output\n"
		"  -h, --help     show this help\n"
		"\n"
		"exit status: 0 ok, 1 usage error, 2 sluiced not running\n",
		SLUICE_PIN_ROOT);
}

/* Print a string as a JSON string literal. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int cmd_status(const char *pin_path, int json)
{
	struct sluice_counter cnt[SLUICE_R_MAX];
	struct xdpctl_pins pins;
	long n4, n6, nports;
	int err;

	err = xdpctl_pins_open(pin_path, &pins);
	if (err == -ENOENT) {
		fprintf(stderr,
			"sluicectl: sluiced is not running: no maps pinned "
			"under %s\n",
			pin_path);
		return EXIT_NO_DAEMON;
	}
	if (err) {
		fprintf(stderr,
			"sluicectl: cannot open the maps under %s: %s\n",
			pin_path, strerror(-err));
		return EXIT_NO_DAEMON;
	}

	err = xdpctl_pins_read_stats(&pins, cnt);
	n4 = xdpctl_pins_count(pins.allow4_fd);
	n6 = xdpctl_pins_count(pins.allow6_fd);
	nports = xdpctl_pins_count(pins.ports_fd);
	xdpctl_pins_close(&pins);
	if (!err && (n4 < 0 || n6 < 0 || nports < 0))
		err = (int)(n4 < 0 ? n4 : n6 < 0 ? n6 : nports);
	if (err) {
		fprintf(stderr, "sluicectl: reading the maps under %s: %s\n",
			pin_path, strerror(-err));
		return EXIT_NO_DAEMON;
	}

	if (json) {
		printf("{\"pin_path\":");
		json_str(pin_path);
		printf(",\"counters\":{");
		for (int r = 0; r < SLUICE_R_MAX; r++)
			printf("%s\"%s\":{\"packets\":%" PRIu64
			       ",\"bytes\":%" PRIu64 "}",
			       r ? "," : "",
			       xdpctl_reason_name((enum sluice_reason)r),
			       (uint64_t)cnt[r].packets,
			       (uint64_t)cnt[r].bytes);
		printf("},\"allowlist\":{\"v4\":%ld,\"v6\":%ld},"
		       "\"guarded_ports\":%ld}\n",
		       n4, n6, nports);
		return EXIT_OK;
	}

	printf("%-18s %20s %20s\n", "REASON", "PACKETS", "BYTES");
	for (int r = 0; r < SLUICE_R_MAX; r++)
		printf("%-18s %20" PRIu64 " %20" PRIu64 "\n",
		       xdpctl_reason_name((enum sluice_reason)r),
		       (uint64_t)cnt[r].packets, (uint64_t)cnt[r].bytes);
	printf("\nallowlist entries: %ld IPv4, %ld IPv6\n", n4, n6);
	printf("guarded ports:     %ld\n", nports);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pin-path", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *pin_path = SLUICE_PIN_ROOT;
	int json = 0, c;

	log_set_level(LOG_LVL_WARN);
	xdpctl_init_logging();

	/* getopt_long prints "unrecognized option" itself; options may also
	 * follow the command ("sluicectl status --json"). */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!optarg[0]) {
				fprintf(stderr,
					"sluicectl: --pin-path needs "
					"a directory\n");
				return EXIT_USAGE;
			}
			pin_path = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage_hint();
			return EXIT_USAGE;
		}
	}

	if (optind >= argc) {
		fprintf(stderr, "sluicectl: no command given\n");
		usage_hint();
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "hash-token") == 0)	/* issue 5 */
		return tokencli_hash(argc - optind, argv + optind, json);
	if (strcmp(argv[optind], "status") == 0) {
		if (optind + 1 < argc) {
			fprintf(stderr,
				"sluicectl: status: unexpected "
				"argument '%s'\n",
				argv[optind + 1]);
			usage_hint();
			return EXIT_USAGE;
		}
		return cmd_status(pin_path, json);
	}
	fprintf(stderr, "sluicectl: unknown command '%s'\n", argv[optind]);
	usage_hint();
	return EXIT_USAGE;
}
