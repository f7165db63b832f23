// SPDX-License-Identifier: MIT
/*
 * sluicectl: operator CLI. Talks to a running sluiced over its admin Unix
 * socket (default /run/sluice/admin.sock). With --pin-path DIR, `status`
 * reads the XDP maps pinned under DIR and the live XDP commands (allow,
 * deny, ban, unban, bans, top) run the admin API's own handlers (liveapi.c)
 * in-process on those maps: for when the admin socket is off, and for
 * emergencies. Either way the request, the handler and the output are the
 * same code.
 *
 * Exit codes: 0 ok; 1 usage error; 2 sluiced not running / not reachable
 * (or its maps cannot be read); 3 the request was refused or failed (bad
 * argument, invalid configuration on reload, entry not found, ...);
 * 4 permission denied (the admin socket is root-only).
 */
#include <errno.h>
#include <getopt.h>
#include <time.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/abi.h>

#include "control/admin.h"
#include "control/buildinfo.h"
#include "config/allowlist.h"
#include "cmd/ctlclient.h"
#include "cmd/kongimport.h"
#include "control/liveapi.h"
#include "lib/file.h"
#include "lib/jw.h"
#include "lib/log.h"
#include "lib/str.h"
#include "cmd/tokencli.h"
#include "cmd/upgradecli.h"
#include "xdp/xdpctl.h"

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
	const char *for_arg;		/* ban --for */
	unsigned int seconds, limit;	/* top --seconds, --limit */
	bool seconds_set, limit_set;
	const char *binary, *output;	/* upgrade --binary, --output */
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

/* Entries of one list in one family: its trie plus its host hash. */
static long count_list(int trie_fd, int host_fd)
{
	long t = xdpctl_pins_count(trie_fd);
	long h = xdpctl_pins_count(host_fd);

	return t < 0 ? t : h < 0 ? h : t + h;
}

static int status_pins(const char *pin_path, int json)
{
	struct sluice_counter cnt[SLUICE_R_MAX];
	struct xdpctl_pins pins;
	long n4, n6, nports, d4, d6, b4, b6;
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
	n4 = count_list(pins.allow4_fd, pins.hallow4_fd);
	n6 = count_list(pins.allow6_fd, pins.hallow6_fd);
	nports = xdpctl_pins_count(pins.ports_fd);
	d4 = count_list(pins.deny4_fd, pins.hdeny4_fd);
	d6 = count_list(pins.deny6_fd, pins.hdeny6_fd);
	b4 = xdpctl_pins_count(pins.ban4_fd);
	b6 = xdpctl_pins_count(pins.ban6_fd);
	xdpctl_pins_close(&pins);
	if (!err && (n4 < 0 || n6 < 0 || nports < 0))
		err = (int)(n4 < 0 ? n4 : n6 < 0 ? n6 : nports);
	if (!err && (d4 < 0 || d6 < 0 || b4 < 0 || b6 < 0))
		err = (int)(d4 < 0 ? d4 : d6 < 0 ? d6 : b4 < 0 ? b4 : b6);
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
		       "\"denylist\":{\"v4\":%ld,\"v6\":%ld},"
		       "\"bans\":{\"v4\":%ld,\"v6\":%ld},"
		       "\"guarded_ports\":%ld}\n",
		       n4, n6, d4, d6, b4, b6, nports);
		return EXIT_OK;
	}

	printf("%-18s %20s %20s\n", "REASON", "PACKETS", "BYTES");
	for (int r = 0; r < SLUICE_R_MAX; r++)
		printf("%-18s %20" PRIu64 " %20" PRIu64 "\n",
		       xdpctl_reason_name((enum sluice_reason)r),
		       (uint64_t)cnt[r].packets, (uint64_t)cnt[r].bytes);
	printf("\nallowlist entries: %ld IPv4, %ld IPv6\n", n4, n6);
	printf("denylist entries:  %ld IPv4, %ld IPv6\n", d4, d6);
	printf("bans (incl. expired): %ld IPv4, %ld IPv6\n", b4, b6);
	printf("guarded ports:     %ld\n", nports);
	return EXIT_OK;
}

/* ---- admin API calls ------------------------------------------------------------- */

static void print_err_line(const char *s, void *arg)
{
	(void)arg;
	fprintf(stderr, "  %s\n", s);
}

static int conn_error(const struct opts *o, int err, bool local)
{
	if (local && err == -ENOENT) {
		fprintf(stderr,
			"sluicectl: sluiced is not running: no maps pinned under %s\n",
			o->pin_path);
		return EXIT_NO_DAEMON;
	}
	if (local) {
		fprintf(stderr, "sluicectl: cannot open the maps under %s: %s\n",
			o->pin_path, strerror(-err));
		return err == -EACCES || err == -EPERM ? EXIT_DENIED :
							 EXIT_NO_DAEMON;
	}
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

/* Is target one of the live XDP endpoints (liveapi.c)? */
static bool live_target(const char *target)
{
	size_t n = strcspn(target, "?");

	for (size_t i = 0; liveapi_paths[i]; i++)
		if (strlen(liveapi_paths[i]) == n &&
		    !strncmp(liveapi_paths[i], target, n))
			return true;
	return false;
}

/*
 * --pin-path: serve the request in-process with the admin API's handler on
 * the maps pinned under o->pin_path, exactly as sluiced would.
 */
static int local_request(const struct opts *o, const char *method,
			 const char *target, const char *body,
			 struct ctlclient_reply *r)
{
	struct admin_request rq = { .method = method, .via_unix = true };
	struct admin_reply out = { .status = 200 };
	struct xdpctl_live *l;
	char path[64];
	const char *q = strchr(target, '?');
	size_t n = q ? (size_t)(q - target) : strlen(target);
	int err;

	if (n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, target, n);
	path[n] = '\0';
	rq.path = path;
	rq.query = q ? q + 1 : "";
	rq.body = body ? body : "";
	rq.body_len = strlen(rq.body);
	err = xdpctl_live_open(o->pin_path, &l);
	if (err)
		return err;
	err = liveapi_handle(l, NULL, &rq, &out, NULL);
	xdpctl_live_close(l);
	if (!err) {
		r->status = out.status;
		r->len = out.len;
		r->body = malloc(out.len + 1);
		if (r->body) {
			memcpy(r->body, out.body, out.len);
			r->body[out.len] = '\0';
		} else {
			err = -ENOMEM;
		}
	}
	free(out.body);
	return err;
}

/* One request to the admin socket, or, with --pin-path, a live XDP request
 * served in-process. On failure the cause is printed and the exit status
 * returned (with *r untouched); EXIT_OK otherwise. */
static int transact(const struct opts *o, const char *method,
		    const char *target, const char *body,
		    struct ctlclient_reply *r)
{
	bool local = o->pin_path_set && live_target(target);
	int err = local ? local_request(o, method, target, body, r) :
			  ctlclient_request(o->sock, method, target, body, r);

	return err ? conn_error(o, err, local) : EXIT_OK;
}

/*
 * Do one request and print the outcome: with --json the reply as it is;
 * else text replies as they are, and for a JSON reply (a change) its
 * "message". Errors go to stderr with the reply's message.
 */
static int call(const struct opts *o, const char *method, const char *target,
		const char *body)
{
	struct ctlclient_reply r;
	char msg[1024];
	int err = transact(o, method, target, body, &r);

	if (err)
		return err;
	if (o->json || (r.status < 300 &&
			!ctlclient_json_str(r.body, "message", msg, sizeof(msg)))) {
		fputs(r.body, stdout);
		if (r.len && r.body[r.len - 1] != '\n')
			putchar('\n');
	} else if (r.status < 300) {
		puts(msg);
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
	ret = call(o, "GET", fmt_target(o, "/status", t, sizeof(t)), NULL);
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
	return call(o, "GET", fmt_target(o, c->path, t, sizeof(t)), NULL);
}

/* Join args[0..n) with spaces into buf: the entry text ("CIDR [OPTS]"). */
static int join_args(const char *what, char **args, int n, char *buf,
		     size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i ? " " : "", args[i]);

		if (w < 0 || (size_t)w >= len - o) {
			fprintf(stderr, "sluicectl: %s: arguments too long\n", what);
			return EXIT_USAGE;
		}
		o += (size_t)w;
	}
	return EXIT_OK;
}

/* Check an entry as the admin API will (usage error, exit 1, before any
 * socket or map is touched) and form-encode it as key=... into body. */
static int entry_body(const char *what, const char *key, char **args, int n,
		      bool options, char *body, size_t len)
{
	struct allowlist_entry e;
	char text[1024], err[512], esc[3 * sizeof(text)];
	int rc = join_args(what, args, n, text, sizeof(text));

	if (rc)
		return rc;
	if (liveapi_parse_entry(text, options, &e, err, sizeof(err))) {
		fprintf(stderr, "sluicectl: %s: %s\n", what, err);
		return EXIT_USAGE;
	}
	ctlclient_form_escape(text, esc, sizeof(esc));
	if ((size_t)snprintf(body, len, "%s=%s", key, esc) >= len) {
		fprintf(stderr, "sluicectl: %s: arguments too long\n", what);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* allow|deny add|del|list [CIDR [OPTS]] */
static int cmd_list_edit(const struct opts *o, int argc, char **argv)
{
	const char *what = argv[0];
	bool allow = !strcmp(what, "allow");
	char path[64], body[4096], label[32];
	int rc;

	if (argc < 2)
		return cmd_usage_error(what, "missing action (add, del or list)", NULL);
	if (!strcmp(argv[1], "list") || !strcmp(argv[1], "ls")) {
		if (argc > 2)
			return cmd_usage_error(what, "unexpected argument '%s'", argv[2]);
		snprintf(label, sizeof(label), "/%s", what);
		return call(o, "GET", fmt_target(o, label, path, sizeof(path)), NULL);
	}
	if (strcmp(argv[1], "add") && strcmp(argv[1], "del"))
		return cmd_usage_error(what, "unknown action '%s' (add, del or list)", argv[1]);
	if (argc < 3)
		return cmd_usage_error(what, "missing CIDR", NULL);
	if (strcmp(argv[1], "add") && argc > 3)
		return cmd_usage_error(what, "unexpected argument '%s'", argv[3]);
	snprintf(label, sizeof(label), "%s %s", what, argv[1]);
	/* only allow add takes rate options (allowlist file syntax) */
	rc = entry_body(label, "cidr", argv + 2, argc - 2,
			allow && !strcmp(argv[1], "add"), body, sizeof(body));
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/%s/%s", what, argv[1]);
	return call(o, "POST", path, body);
}

/* ban ADDR[/LEN] [--for D] | unban ADDR[/LEN] */
static int cmd_ban(const struct opts *o, int argc, char **argv)
{
	bool ban = !strcmp(argv[0], "ban");
	char body[512];
	uint64_t seconds = 0;
	size_t n;
	int rc;

	if (argc < 2)
		return cmd_usage_error(argv[0], "missing address", NULL);
	if (argc > 2)
		return cmd_usage_error(argv[0], "unexpected argument '%s'", argv[2]);
	if (o->for_arg && liveapi_parse_duration(o->for_arg, &seconds)) {
		fprintf(stderr,
			"sluicectl: ban: invalid duration '%s' (use N, Ns, Nm, Nh or Nd; at most a year)\n",
			o->for_arg);
		return EXIT_USAGE;
	}
	rc = entry_body(argv[0], "addr", argv + 1, 1, false, body, sizeof(body));
	if (rc)
		return rc;
	n = strlen(body);
	if (seconds)
		snprintf(body + n, sizeof(body) - n, "&seconds=%llu",
			 (unsigned long long)seconds);
	return call(o, "POST", ban ? "/ban" : "/unban", body);
}

/*
 * top [--seconds N] [--limit N]: the drops of the next N seconds. sluiced
 * samples all the time and answers the last N seconds at once, so wait
 * them out first; with --pin-path the handler reads the ring itself for N
 * seconds.
 */
static int cmd_top(const struct opts *o, int argc, char **argv)
{
	char t[96];

	if (argc > 1)
		return cmd_usage_error("top", "unexpected argument '%s'", argv[1]);
	snprintf(t, sizeof(t), "/top?seconds=%u&n=%u%s", o->seconds, o->limit,
		 o->json ? "" : "&format=text");
	if (!o->pin_path_set) {
		struct timespec left = { .tv_sec = o->seconds };
		struct ctlclient_reply r;
		bool ok;

		/* an unreachable daemon or an error is said at once */
		if (ctlclient_request(o->sock, "GET", "/top?seconds=1&n=1", NULL,
				      &r))
			return call(o, "GET", t, NULL);
		ok = r.status < 300;
		ctlclient_reply_free(&r);
		while (ok && nanosleep(&left, &left) && errno == EINTR)
			;
	}
	return call(o, "GET", t, NULL);
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
		return conn_error(o, err, false);
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

static int cmd_upgrade(const struct opts *o, int argc, char **argv)
{
	if (argc > 1)
		return cmd_usage_error("upgrade", "unexpected argument '%s'",
				       argv[1]);
	return upgradecli_run(o->sock, o->binary, o->output, o->json);
}

/* version: this binary's build and libraries, then the daemon's (with the
 * kernel features it found) when it answers. */
static int cmd_version(const struct opts *o, int argc, char **argv)
{
	struct ctlclient_reply r;
	bool up;
	int err;

	if (argc > 1)
		return cmd_usage_error("version", "unexpected argument '%s'", argv[1]);
	err = ctlclient_request(o->sock, "GET",
				o->json ? "/version" : "/version?format=text",
				NULL, &r);
	up = !err && r.status == 200;
	if (o->json) {
		struct jw w;
		char *text;
		size_t len;

		jw_init(&w);
		jw_obj(&w);
		jw_key(&w, "sluicectl");
		jw_obj(&w);
		buildinfo_json_build(&w);
		jw_obj_end(&w);
		jw_key(&w, "sluiced");
		if (up)
			jw_raw(&w, r.body);
		else
			jw_null(&w);
		jw_obj_end(&w);
		if (jw_finish(&w, &text, &len) == 0) {
			puts(text);
			free(text);
		}
	} else {
		struct sbuf b;
		char *text;
		size_t len;

		sbuf_init_grow(&b, 256);
		buildinfo_text(&b, "sluicectl");
		text = sbuf_take(&b, &len);
		if (text)
			fputs(text, stdout);
		free(text);
		if (up)
			printf("\n%s", r.body);
		else
			printf("\nsluiced: not reachable on %s%s%s\n", o->sock,
			       err ? ": " : "", err ? strerror(-err) : "");
	}
	if (!err)
		ctlclient_reply_free(&r);
	return EXIT_OK;
}

/* import kong FILE: offline, prints a Sluice config (kongimport.h) */
static int cmd_import(const struct opts *o, int argc, char **argv)
{
	struct kong_result r;
	char *text;
	size_t len;
	int err;

	(void)o;
	if (argc < 2 || strcmp(argv[1], "kong"))
		return cmd_usage_error("import", argc < 2 ? "missing format%s" :
				       "unknown format '%s' (kong)",
				       argc < 2 ? "" : argv[1]);
	if (argc != 3)
		return cmd_usage_error("import", argc < 3 ? "missing FILE%s" :
				       "unexpected argument '%s'",
				       argc < 3 ? "" : argv[3]);
	err = file_read_all(argv[2], 16u << 20, &text, &len);
	if (err) {
		fprintf(stderr, "sluicectl: import kong: %s: %s\n", argv[2],
			strerror(-err));
		return EXIT_USAGE;
	}
	err = kong_import(argv[2], text, len, &r);
	free(text);
	if (err == -ENOMEM) {
		fprintf(stderr, "sluicectl: import kong: out of memory\n");
		return EXIT_FAILED;
	}
	fputs(r.report, stderr);
	if (!err) {
		fputs(r.yaml, stdout);
		if (r.n_left_out || r.n_actions)
			fprintf(stderr, "sluicectl: import kong: %zu item(s) not "
				"converted, %zu to do (listed above)\n",
				r.n_left_out, r.n_actions);
	}
	err = err || r.n_left_out ? EXIT_FAILED : EXIT_OK;
	kong_result_free(&r);
	return err;
}

static int cmd_completion(const struct opts *o, int argc, char **argv);

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
	  "Services and their targets: weight, balancing, state (healthy,\n"
	  "unhealthy, ejected) with the time and reason of its last change,\n"
	  "and the outcome of the latest attempt.\n",
	  "/upstreams" },
	{ "certs", cmd_get, "certs",
	  "TLS certificates served: listener, names (DNS and IP SANs), expiry,\n"
	  "days left and the file each was read from.\n", "/certs" },
	{ "allow", cmd_list_edit,
	  "allow add CIDR [rate=N/s] [burst=N] [syn=N/s] [syn_burst=N]\n"
	  "  allow del CIDR | allow list",
	  "Add or remove an allowlist prefix in the running XDP maps (with the\n"
	  "allowlist file's rate options: a per-source class), or list the live\n"
	  "entries (source: file or runtime, class, limits). Adding an entry that\n"
	  "is there with other limits changes them; with the same ones, exit 3.\n"
	  "Live edits are RUNTIME ONLY: they are not written to any file, and\n"
	  "the next reload (SIGHUP, sluicectl reload) re-syncs the maps from the\n"
	  "allowlist files, dropping runtime additions and restoring deletions.\n"
	  "Edit the files and reload to make a change permanent.\n", NULL },
	{ "deny", cmd_list_edit, "deny add|del CIDR | deny list",
	  "Add or remove a denylist prefix at runtime (dropped before any other\n"
	  "rule), or list the live entries. Runtime only, like allow.\n", NULL },
	{ "ban", cmd_ban, "ban ADDR[/LEN] [--for DURATION]",
	  "Ban a source (dropped by XDP) until unbanned, or for DURATION (N\n"
	  "seconds, or 30s, 10m, 2h, 1d; at most a year). Bans are not written\n"
	  "to files; they survive reloads (and restarts with xdp.persist) and\n"
	  "expire on their own.\n", NULL },
	{ "unban", cmd_ban, "unban ADDR[/LEN]", "Lift a ban (exit 3 if there is none).\n", NULL },
	{ "bans", cmd_get, "bans",
	  "Active bans: prefix, time left, and who banned it (sluiced: L7\n"
	  "escalation; operator: sluicectl ban).\n", "/bans" },
	{ "cluster", cmd_get, "cluster",
	  "The cluster (config cluster:): this node, Redis state, the nodes\n"
	  "seen in the last 3 s, the ban stream's last ID and lag, bans queued\n"
	  "while Redis is down.\n", "/cluster" },
	{ "top", cmd_top, "top [--seconds N] [--limit N]",
	  "The heaviest dropped sources: XDP samples drops (xdp.drop_sample)\n"
	  "into a ring buffer that sluiced reads all the time; top waits N\n"
	  "seconds (default 3, at most 10), then shows the drops of those\n"
	  "seconds summed per source (at 1 s granularity), with estimated\n"
	  "packets and the main drop reason. --limit: rows shown (default 20).\n", NULL },
	{ "hash-token", cmd_hash_token, "hash-token [new]",
	  "Read a token on stdin and print its sha256: reference for a\n"
	  "consumer's bearer_tokens/api_keys; 'new' makes a random token too.\n",
	  NULL },
	{ "reload", cmd_reload, "reload",
	  "Reload the configuration file now, like SIGHUP, and wait for the\n"
	  "result. A refused configuration is printed with every error\n"
	  "(FILE:LINE:COL: message); the running configuration keeps serving.\n"
	  "Exit status 3 when refused.\n", NULL },
	{ "upgrade", cmd_upgrade, "upgrade [--binary PATH] [--output FILE]",
	  "Replace the running sluiced by a new process (sluiced --takeover)\n"
	  "without refusing a connection: its configuration is checked with\n"
	  "the new binary (default: the running one's file as it is on disk\n"
	  "now), the new process takes the listening sockets and XDP over,\n"
	  "the old one drains and exits. --output: the new daemon's log file\n"
	  "(default: this terminal). Exit 3 when it failed (the old one keeps\n"
	  "serving).\n", NULL },
	{ "version", cmd_version, "version",
	  "sluicectl's version, git revision and the libbpf, libxdp, liburing\n"
	  "and OpenSSL it runs with; then the same of the running sluiced and\n"
	  "the kernel features it found (XDP mode per interface, io_uring\n"
	  "setup and features), or that it is not reachable (exit 0 anyway).\n",
	  NULL },
	{ "import", cmd_import, "import kong FILE",
	  "Convert a Kong declarative config (services, routes, consumers;\n"
	  "plugins key-auth, jwt, rate-limiting, ip-restriction, acl) into a\n"
	  "Sluice config on stdout. Everything that was not converted, or needs\n"
	  "you (JWT secrets go in env: variables), is listed on stderr as\n"
	  "FILE:LINE. Exit 3 when something was not converted. Offline.\n",
	  NULL },
	{ "completion", cmd_completion, "completion bash",
	  "Print the bash completion script, generated from this command table\n"
	  "(installed as /usr/share/bash-completion/completions/sluicectl).\n",
	  NULL },
};

/*
 * What shell completion offers for a command's arguments, one ';'-separated
 * field per position: words, or "@file" for a file name. Commands not
 * listed complete their name only.
 */
static const struct {
	const char *cmd, *args;
} cmd_args[] = {
	{ "allow", "add del list" },
	{ "deny", "add del list" },
	{ "hash-token", "new" },
	{ "completion", "bash" },
	{ "import", "kong;@file" },
};

static int parse_uint(const char *opt, const char *s, unsigned int max,
		      unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || s[0] < '0' || s[0] > '9' || v == 0 || v > max) {
		fprintf(stderr, "sluicectl: %s: want a number from 1 to %u, got '%s'\n",
			opt, max, s);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

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
		"  --pin-path DIR   status, allow, deny, ban, unban, bans, top: act\n"
		"                   on the XDP maps pinned under DIR directly, without\n"
		"                   the admin socket (status default %s)\n"
		"  --for D          ban: duration (45, 30s, 10m, 2h, 1d)\n"
		"  --seconds N      top: sampling window (default 3, at most 10)\n"
		"  --limit N        top: rows (default 20)\n"
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

static const struct option longopts[] = {
	{"pin-path", required_argument, NULL, 'p'},
	{"socket", required_argument, NULL, 's'},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{"for", required_argument, NULL, 'f'},
	{"seconds", required_argument, NULL, 'S'},
	{"limit", required_argument, NULL, 'l'},
	{"binary", required_argument, NULL, 'B'},
	{"output", required_argument, NULL, 'O'},
	{NULL, 0, NULL, 0},
};

/* completion bash: the script, from cmds[] and longopts[] (so it cannot
 * drift from them). */
static void complete_words(const char *field, size_t n)
{
	printf("%.*s", (int)n, field);
}

static int cmd_completion(const struct opts *o, int argc, char **argv)
{
	const size_t ncmds = sizeof(cmds) / sizeof(cmds[0]);

	if (argc != 2 || strcmp(argv[1], "bash"))
		return cmd_usage_error("completion",
				       argc < 2 ? "missing shell%s" :
						  "unsupported shell '%s' (bash)",
				       argc < 2 ? "" : argv[1]);
	printf("# bash completion for sluicectl; generated by "
	       "'sluicectl completion bash'\n"
	       "_sluicectl()\n{\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	       "\tlocal cmds='");
	for (size_t i = 0; i < ncmds; i++)
		printf("%s ", cmds[i].name);
	printf("help'\n\tlocal opts='");
	for (const struct option *l = longopts; l->name; l++)
		printf("%s--%s", l == longopts ? "" : " ", l->name);
	printf("'\n\tlocal valopts='");
	for (const struct option *l = longopts; l->name; l++)
		if (l->has_arg == required_argument)
			printf("|--%s", l->name);
	printf("|'\n"
	       "\tif [[ $valopts == *\"|$prev|\"* ]]; then\n"
	       "\t\tcase $prev in\n"
	       "\t\t--socket) COMPREPLY=($(compgen -f -- \"$cur\"));;\n"
	       "\t\t--pin-path) COMPREPLY=($(compgen -d -- \"$cur\"));;\n"
	       "\t\t*) COMPREPLY=();;\n"
	       "\t\tesac\n\t\treturn\n\tfi\n"
	       "\tlocal i w cmd= n=0\n"
	       "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	       "\t\tw=${COMP_WORDS[i]}\n"
	       "\t\tif [[ $valopts == *\"|$w|\"* ]]; then ((i++)); continue; fi\n"
	       "\t\t[[ $w == -* ]] && continue\n"
	       "\t\tif [[ -z $cmd ]]; then cmd=$w; else ((n++)); fi\n"
	       "\tdone\n"
	       "\tif [[ $cur == -* ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\")); return\n"
	       "\tfi\n"
	       "\tif [[ -z $cmd ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$cmds\" -- \"$cur\")); return\n"
	       "\tfi\n"
	       "\tlocal words=\n"
	       "\tcase $cmd/$n in\n"
	       "\thelp/0) words=$cmds;;\n");
	for (size_t i = 0; i < sizeof(cmd_args) / sizeof(cmd_args[0]); i++) {
		const char *f = cmd_args[i].args;

		for (unsigned int pos = 0; f && *f; pos++) {
			size_t len = strcspn(f, ";");

			if (len == 5 && !strncmp(f, "@file", 5))
				printf("\t%s/%u) COMPREPLY=($(compgen -f -- \"$cur\"));"
				       " return;;\n", cmd_args[i].cmd, pos);
			else if (len) {
				printf("\t%s/%u) words='", cmd_args[i].cmd, pos);
				complete_words(f, len);
				printf("';;\n");
			}
			f += len;
			if (*f == ';')
				f++;
		}
	}
	printf("\tesac\n"
	       "\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	       "}\n"
	       "complete -F _sluicectl sluicectl\n");
	(void)o;
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct opts o = { .sock = getenv("SLUICE_ADMIN_SOCKET"),
			  .pin_path = SLUICE_PIN_ROOT,
			  .seconds = LIVEAPI_TOP_DEFAULT_S,
			  .limit = LIVEAPI_TOP_DEFAULT_N };
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
		case 'f':
			o.for_arg = optarg;
			break;
		case 'S':
			if (parse_uint("--seconds", optarg, LIVEAPI_TOP_MAX_S,
				       &o.seconds))
				return EXIT_USAGE;
			o.seconds_set = true;
			break;
		case 'l':
			if (parse_uint("--limit", optarg, LIVEAPI_TOP_MAX_N,
				       &o.limit))
				return EXIT_USAGE;
			o.limit_set = true;
			break;
		case 'B':
			o.binary = optarg;
			break;
		case 'O':
			o.output = optarg;
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
	if (o.for_arg && strcmp(cmd->name, "ban")) {
		fprintf(stderr, "sluicectl: --for applies to ban only\n");
		return EXIT_USAGE;
	}
	if ((o.seconds_set || o.limit_set) && strcmp(cmd->name, "top")) {
		fprintf(stderr, "sluicectl: --seconds and --limit apply to top only\n");
		return EXIT_USAGE;
	}
	return cmd->fn(&o, argc - optind, argv + optind);
}
