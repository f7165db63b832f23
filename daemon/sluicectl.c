// SPDX-License-Identifier: MIT
/*
 * sluicectl: operator CLI. Talks to a running sluiced over its admin Unix
 * socket (default /run/sluice/admin.sock); `status --pin-path DIR` reads the
 * pinned XDP maps directly instead (read-only, works without the admin
 * socket).
 *
 * Exit codes: 0 ok; 1 usage error; 2 sluiced not running / not reachable
 * (or its maps cannot be read); 3 the request was refused or failed (bad
 * argument, invalid configuration on reload, entry not found, ...);
 * 4 permission denied (the admin socket is root-only).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/abi.h>

#include "admin.h"
#include "ctlclient.h"
#include "log.h"
#include "tokencli.h"
#include "xdpctl.h"

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_NO_DAEMON = 2,
	EXIT_FAILED = 3,
	EXIT_DENIED = 4,
};

struct opts {
	const char *sock;
	const char *pin_path;
	bool pin_path_set;
	bool json;
};

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

static int status_pins(const char *pin_path, int json)
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


/* ---- admin API calls ------------------------------------------------------------- */

static void print_err_line(const char *s, void *arg)
{
	(void)arg;
	fprintf(stderr, "  %s\n", s);
}

static int conn_error(const struct opts *o, int err)
{
	if (err == -ENOENT || err == -ECONNREFUSED) {
		fprintf(stderr,
			"sluicectl: sluiced is not running (no admin socket at %s)\n",
			o->sock);
		return EXIT_NO_DAEMON;
	}
	if (err == -EACCES || err == -EPERM) {
		fprintf(stderr,
			"sluicectl: permission denied on %s (the admin socket is root-only)\n",
			o->sock);
		return EXIT_DENIED;
	}
	fprintf(stderr, "sluicectl: %s: %s\n", o->sock, strerror(-err));
	return EXIT_NO_DAEMON;
}

/*
 * Do one request and print the outcome. ok_fmt (may be NULL) is printed on
 * success in human mode, with the reply body's JSON available through
 * ctlclient_json_str; text replies are printed as they are.
 */
static int call(const struct opts *o, const char *method, const char *target,
		const char *body, const char *ok_text)
{
	struct ctlclient_reply r;
	char msg[1024];
	int err = ctlclient_request(o->sock, method, target, body, &r);

	if (err)
		return conn_error(o, err);
	if (o->json || (r.status < 300 && !ok_text)) {
		fputs(r.body, stdout);
		if (r.len && r.body[r.len - 1] != '\n')
			putchar('\n');
	} else if (r.status < 300) {
		puts(ok_text);
	}
	if (r.status >= 300 && !o->json) {
		if (!ctlclient_json_str(r.body, "message", msg, sizeof(msg)))
			snprintf(msg, sizeof(msg), "HTTP %d", r.status);
		fprintf(stderr, "sluicectl: %s\n", msg);
		ctlclient_json_strs(r.body, "errors", print_err_line, NULL);
		if (r.status == 404 &&
		    ctlclient_json_str(r.body, "error", msg, sizeof(msg)) &&
		    !strcmp(msg, "not_found") && strstr(r.body, "no admin endpoint"))
			fprintf(stderr, "sluicectl: this sluiced does not support '%s'\n",
				target);
	}
	err = r.status < 300 ? EXIT_OK : r.status == 403 ? EXIT_DENIED : EXIT_FAILED;
	ctlclient_reply_free(&r);
	return err;
}

static const char *fmt_target(const struct opts *o, const char *path,
			      char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", path, o->json ? "" : "?format=text");
	return buf;
}

/* ---- commands -------------------------------------------------------------------- */

struct cmd {
	const char *name;
	int (*fn)(const struct opts *o, int argc, char **argv);
	const char *usage;
	const char *help;
	const char *path;	/* for plain GET commands */
};

static const struct cmd *find_cmd(const char *name);
static int cmd_usage_error(const char *name, const char *fmt, const char *arg);

static int cmd_status(const struct opts *o, int argc, char **argv)
{
	char t[64];
	int ret;

	if (argc > 1)
		return cmd_usage_error("status", "unexpected argument '%s'", argv[1]);
	if (o->pin_path_set)
		return status_pins(o->pin_path, o->json);
	ret = call(o, "GET", fmt_target(o, "/status", t, sizeof(t)), NULL, NULL);
	if (ret == EXIT_NO_DAEMON) {
		/* no admin socket (admin disabled?): the maps still tell */
		fprintf(stderr, "sluicectl: reading the pinned maps under %s instead\n",
			o->pin_path);
		return status_pins(o->pin_path, o->json);
	}
	return ret;
}

static int cmd_get(const struct opts *o, int argc, char **argv)
{
	const struct cmd *c = find_cmd(argv[0]);
	char t[64];

	if (argc > 1)
		return cmd_usage_error(argv[0], "unexpected argument '%s'", argv[1]);
	return call(o, "GET", fmt_target(o, c->path, t, sizeof(t)), NULL, NULL);
}

/* allow|deny add|del|list [CIDR] */
static int cmd_list_edit(const struct opts *o, int argc, char **argv)
{
	const char *what = argv[0];
	char path[64], body[256], esc[200], ok[320];

	if (argc < 2)
		return cmd_usage_error(what, "missing action (add, del or list)", NULL);
	if (!strcmp(argv[1], "list") || !strcmp(argv[1], "ls")) {
		if (argc > 2)
			return cmd_usage_error(what, "unexpected argument '%s'", argv[2]);
		snprintf(path, sizeof(path), "/%s", what);
		return call(o, "GET", fmt_target(o, path, esc, sizeof(esc)), NULL, NULL);
	}
	if (strcmp(argv[1], "add") && strcmp(argv[1], "del"))
		return cmd_usage_error(what, "unknown action '%s' (add, del or list)", argv[1]);
	if (argc != 3)
		return cmd_usage_error(what, argc < 3 ? "missing CIDR" :
					     "unexpected argument '%s'", argv[argc - 1]);
	snprintf(path, sizeof(path), "/%s/%s", what, argv[1]);
	ctlclient_form_escape(argv[2], esc, sizeof(esc));
	snprintf(body, sizeof(body), "cidr=%s", esc);
	snprintf(ok, sizeof(ok),
		 "%s %s %s: done (runtime only: not written to any file; the next reload restores the files' list)",
		 what, argv[1], argv[2]);
	return call(o, "POST", path, body, ok);
}

static int cmd_ban(const struct opts *o, int argc, char **argv)
{
	char body[256], esc[200], ok[256];
	size_t n;

	if (argc < 2)
		return cmd_usage_error("ban", "missing ADDRESS", NULL);
	if (argc > 3)
		return cmd_usage_error("ban", "unexpected argument '%s'", argv[3]);
	ctlclient_form_escape(argv[1], esc, sizeof(esc));
	n = (size_t)snprintf(body, sizeof(body), "addr=%s", esc);
	if (argc == 3) {
		ctlclient_form_escape(argv[2], esc, sizeof(esc));
		snprintf(body + n, sizeof(body) - n, "&seconds=%s", esc);
	}
	snprintf(ok, sizeof(ok), "banned %s (bans survive reloads; not written to files)",
		 argv[1]);
	return call(o, "POST", "/ban", body, ok);
}

static int cmd_unban(const struct opts *o, int argc, char **argv)
{
	char body[256], esc[200], ok[256];

	if (argc != 2)
		return cmd_usage_error("unban", argc < 2 ? "missing ADDRESS" :
					       "unexpected argument '%s'", argv[argc - 1]);
	ctlclient_form_escape(argv[1], esc, sizeof(esc));
	snprintf(body, sizeof(body), "addr=%s", esc);
	snprintf(ok, sizeof(ok), "unbanned %s", argv[1]);
	return call(o, "POST", "/unban", body, ok);
}

static int cmd_top(const struct opts *o, int argc, char **argv)
{
	char t[96], esc[32];

	if (argc > 2)
		return cmd_usage_error("top", "unexpected argument '%s'", argv[2]);
	if (argc == 2) {
		ctlclient_form_escape(argv[1], esc, sizeof(esc));
		snprintf(t, sizeof(t), "/top?n=%s%s", esc, o->json ? "" : "&format=text");
	} else {
		fmt_target(o, "/top", t, sizeof(t));
	}
	return call(o, "GET", t, NULL, NULL);
}

static int cmd_reload(const struct opts *o, int argc, char **argv)
{
	struct ctlclient_reply r;
	char gen[32];
	int err;

	if (argc > 1)
		return cmd_usage_error("reload", "unexpected argument '%s'", argv[1]);
	err = ctlclient_request(o->sock, "POST", "/reload", "", &r);
	if (err)
		return conn_error(o, err);
	if (o->json) {
		fputs(r.body, stdout);
		putchar('\n');
	} else if (r.status == 200) {
		const char *p = strstr(r.body, "\"generation\":");

		snprintf(gen, sizeof(gen), "%s", p ? p + 13 : "?");
		gen[strcspn(gen, ",}")] = '\0';
		printf("reloaded: configuration generation %s\n", gen);
	} else {
		char msg[512];

		if (!ctlclient_json_str(r.body, "message", msg, sizeof(msg)))
			snprintf(msg, sizeof(msg), "HTTP %d", r.status);
		fprintf(stderr, "sluicectl: reload refused: %s\n", msg);
		ctlclient_json_strs(r.body, "errors", print_err_line, NULL);
	}
	err = r.status == 200 ? EXIT_OK : r.status == 403 ? EXIT_DENIED : EXIT_FAILED;
	ctlclient_reply_free(&r);
	return err;
}

/* hash-token [new]: offline, no daemon needed (tokencli.c, docs/AUTH.md) */
static int cmd_hash_token(const struct opts *o, int argc, char **argv)
{
	return tokencli_hash(argc, argv, o->json);
}

static const struct cmd cmds[] = {
	{ "status", cmd_status, "status",
	  "Daemon status: version, uptime, config generation, reload counts,\n"
	  "listeners, XDP verdict counters (packets, bytes) and allowlist sizes.\n"
	  "With --pin-path DIR, read the pinned XDP maps directly (read-only;\n"
	  "no admin socket needed). Without an admin socket, falls back to the\n"
	  "maps under the default pin path.\n", NULL },
	{ "config", cmd_get, "config",
	  "The running configuration: file, generation, reload counts and the\n"
	  "last reload's outcome with its errors.\n", "/config" },
	{ "routes", cmd_get, "routes",
	  "Routes of the running configuration: name, host, path prefix,\n"
	  "methods and service.\n", "/routes" },
	{ "upstreams", cmd_get, "upstreams",
	  "Services and their targets, with connect timeouts and health.\n",
	  "/upstreams" },
	{ "allow", cmd_list_edit, "allow add|del CIDR | allow list",
	  "Add or remove an allowlist prefix in the running XDP maps, or list\n"
	  "the live entries (source: file or runtime).\n"
	  "Live edits are RUNTIME ONLY: they are not written to any file, and\n"
	  "the next reload (SIGHUP, sluicectl reload) re-syncs the maps from the\n"
	  "allowlist files, dropping runtime additions and restoring deletions.\n"
	  "Edit the files and reload to make a change permanent.\n", NULL },
	{ "deny", cmd_list_edit, "deny add|del CIDR | deny list",
	  "Add or remove a denylist prefix at runtime, or list the live entries.\n"
	  "Runtime only, like allow.\n", NULL },
	{ "ban", cmd_ban, "ban ADDRESS [SECONDS]",
	  "Ban a client address (dropped by XDP) for SECONDS (default: the\n"
	  "daemon's ban duration). Bans survive reloads and expire on their own.\n",
	  NULL },
	{ "unban", cmd_unban, "unban ADDRESS", "Lift a ban.\n", NULL },
	{ "bans", cmd_get, "bans", "List active bans with their expiry.\n", "/bans" },
	{ "top", cmd_top, "top [N]",
	  "Top talkers seen by XDP (packets and bytes per source address).\n",
	  NULL },
	{ "hash-token", cmd_hash_token, "hash-token [new]",
	  "Read a token on stdin and print its sha256: reference for a\n"
	  "consumer's bearer_tokens/api_keys; 'new' makes a random token too.\n",
	  NULL },
	{ "reload", cmd_reload, "reload",
	  "Reload the configuration file now, like SIGHUP, and wait for the\n"
	  "result. A refused configuration is printed with every error\n"
	  "(FILE:LINE:COL: message); the running configuration keeps serving.\n"
	  "Exit status 3 when refused.\n", NULL },
};

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluicectl [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].usage);
	fprintf(f,
		"\n"
		"options:\n"
		"  --socket PATH    admin socket (default $SLUICE_ADMIN_SOCKET or %s)\n"
		"  --pin-path DIR   status: read the XDP maps pinned under DIR\n"
		"                   (default %s)\n"
		"  --json           machine-readable output (the admin API's JSON)\n"
		"  -h, --help       this help; 'sluicectl COMMAND --help' for a command\n"
		"\n"
		"exit status: 0 ok, 1 usage error, 2 sluiced not running,\n"
		"3 request refused or failed, 4 permission denied\n",
		ADMIN_SOCKET_DEFAULT, SLUICE_PIN_ROOT);
}

static void cmd_help(const struct cmd *c)
{
	printf("usage: sluicectl [--socket PATH] [--json] %s\n\n%s", c->usage, c->help);
}

static int cmd_usage_error(const char *name, const char *fmt, const char *arg)
{
	const struct cmd *c = find_cmd(name);

	fprintf(stderr, "sluicectl: %s: ", name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: sluicectl %s\n", c ? c->usage : name);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pin-path", required_argument, NULL, 'p'},
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = { .sock = getenv("SLUICE_ADMIN_SOCKET"),
			  .pin_path = SLUICE_PIN_ROOT };
	const struct cmd *cmd;
	bool help = false;
	int c;

	if (!o.sock || !*o.sock)
		o.sock = ADMIN_SOCKET_DEFAULT;
	log_set_level(LOG_LVL_WARN);
	xdpctl_init_logging();

	/* getopt_long prints "unrecognized option" itself; options may also
	 * follow the command ("sluicectl status --json"). */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!optarg[0]) {
				fprintf(stderr,
					"sluicectl: --pin-path needs a directory\n");
				return EXIT_USAGE;
			}
			o.pin_path = optarg;
			o.pin_path_set = true;
			break;
		case 's':
			if (!optarg[0]) {
				fprintf(stderr, "sluicectl: --socket needs a path\n");
				return EXIT_USAGE;
			}
			o.sock = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			help = true;
			break;
		default:
			fprintf(stderr, "Try 'sluicectl --help' for more information.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "help")) {
		optind++;
		help = true;
	}
	if (optind >= argc) {
		if (help) {
			usage(stdout);
			return EXIT_OK;
		}
		fprintf(stderr, "sluicectl: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = find_cmd(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "sluicectl: unknown command '%s'\n", argv[optind]);
		fprintf(stderr, "Try 'sluicectl --help' for more information.\n");
		return EXIT_USAGE;
	}
	if (help) {
		cmd_help(cmd);
		return EXIT_OK;
	}
	return cmd->fn(&o, argc - optind, argv + optind);
}
