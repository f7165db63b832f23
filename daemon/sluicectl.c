// SPDX-License-Identifier: MIT
/*
 * sluicectl: operator CLI. Reads (and, for live edits, writes) the maps a
 * running sluiced pinned.
 *
 *   sluicectl [--pin-path DIR] [--json] status
 *   sluicectl allow add CIDR [rate=N/s] [burst=N] [syn=N/s] [syn_burst=N]
 *   sluicectl allow del CIDR | allow list
 *   sluicectl deny add CIDR | deny del CIDR | deny list
 *   sluicectl ban ADDR[/PREFIX] [--for DURATION] | unban ADDR[/PREFIX] | bans
 *   sluicectl top [--seconds N] [--limit N]
 *
 * Live allow/deny edits are runtime only: the next reload (SIGHUP) re-syncs
 * those lists from the files. Bans survive reloads (and restarts with
 * xdp.persist).
 *
 * Exit codes: 0 ok, 1 usage error or invalid argument, 2 no sluiced running
 * (pins missing) or the pins cannot be read, 3 the change was refused (entry
 * not found, map full).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <sluice/abi.h>

#include "allowlist.h"
#include "log.h"
#include "xdpctl.h"

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_NO_DAEMON = 2,
	EXIT_REFUSED = 3,
};

static void usage_hint(void)
{
	fprintf(stderr,
		"usage: sluicectl [--pin-path DIR] [--json] COMMAND [ARGS]\n"
		"Try 'sluicectl --help' for more information.\n");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluicectl [--pin-path DIR] [--json] COMMAND\n"
		"\n"
		"commands:\n"
		"  status                    XDP verdict counters (packets, bytes),\n"
		"                            list and ban sizes\n"
		"  allow add CIDR [OPTS]     allow a source now (OPTS: rate=N/s\n"
		"                            burst=N syn=N/s syn_burst=N)\n"
		"  allow del CIDR            remove an allowlist entry now\n"
		"  allow list                the live allowlist with its limits\n"
		"  deny add|del CIDR         drop a source now / stop dropping it\n"
		"  deny list                 the live denylist\n"
		"  ban ADDR[/LEN] [--for D]  drop a source until unbanned, or for\n"
		"                            D (30s, 10m, 2h, 1d)\n"
		"  unban ADDR[/LEN]          lift a ban\n"
		"  bans                      active bans and their expiry\n"
		"  top [--seconds N] [--limit N]\n"
		"                            heaviest dropped sources, sampled for\n"
		"                            N seconds (default 3)\n"
		"\n"
		"allow/deny edits are runtime only: the next reload (SIGHUP)\n"
		"re-syncs both lists from the files. Bans survive reloads.\n"
		"\n"
		"options:\n"
		"  --pin-path DIR directory where sluiced pinned its maps\n"
		"                 (default %s)\n"
		"  --json         machine-readable output\n"
		"  -h, --help     show this help\n"
		"\n"
		"exit status: 0 ok, 1 usage error or invalid argument, 2 sluiced\n"
		"not running, 3 change refused (not found, map full)\n",
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
	n4 = xdpctl_pins_count(pins.allow4_fd);
	n6 = xdpctl_pins_count(pins.allow6_fd);
	nports = xdpctl_pins_count(pins.ports_fd);
	d4 = xdpctl_pins_count(pins.deny4_fd);
	d6 = xdpctl_pins_count(pins.deny6_fd);
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


/* ---- live edits ---------------------------------------------------------- */

static int open_live(const char *pin_path, struct xdpctl_live **l)
{
	int err = xdpctl_live_open(pin_path, l);

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
	return EXIT_OK;
}

/* Parse "CIDR [OPTS...]" with the allowlist parser, so the syntax and the
 * messages are exactly those of the files. */
static int parse_entry(const char *what, char **args, int n,
		       unsigned int flags, struct allowlist_entry *e)
{
	struct allowlist al = {0};
	char line[1024], err[512];
	size_t len = 0;
	int r;

	for (int i = 0; i < n; i++) {
		int w = snprintf(line + len, sizeof(line) - len, "%s%s",
				 i ? " " : "", args[i]);

		if (w < 0 || (size_t)w >= sizeof(line) - len) {
			fprintf(stderr, "sluicectl: %s: arguments too long\n",
				what);
			return EXIT_USAGE;
		}
		len += (size_t)w;
		if (strpbrk(args[i], "#\n")) {
			fprintf(stderr,
				"sluicectl: %s: unexpected character in '%s'\n",
				what, args[i]);
			return EXIT_USAGE;
		}
	}
	r = allowlist_parse_flags("arg", line, len, &al, flags, err,
				  sizeof(err));
	if (r == 1) {
		*e = al.entries[0];
		allowlist_free(&al);
		return EXIT_OK;
	}
	allowlist_free(&al);
	if (r == 0)
		fprintf(stderr, "sluicectl: %s: missing CIDR\n", what);
	else /* "arg:1: message: 'text'" -> "message: 'text'" */
		fprintf(stderr, "sluicectl: %s: %s\n", what,
			strncmp(err, "arg:1: ", 7) == 0 ? err + 7 : err);
	return EXIT_USAGE;
}

static void fmt_entry(uint8_t family, uint8_t plen, const uint8_t *addr,
		      char *buf, size_t len)
{
	struct allowlist_entry e = {.family = family, .prefixlen = plen};

	memcpy(e.addr, addr, 16);
	allowlist_format(&e, buf, len);
}

static int refused(const char *what, const char *text, int err)
{
	if (err == -ENOENT)
		fprintf(stderr, "sluicectl: %s: %s is not in the live list\n",
			what, text);
	else if (err == -ENOSPC)
		fprintf(stderr, "sluicectl: %s: map full, %s not added\n", what,
			text);
	else
		fprintf(stderr, "sluicectl: %s: %s: %s\n", what, text,
			strerror(-err));
	return err == -ENOENT || err == -ENOSPC ? EXIT_REFUSED
						: EXIT_NO_DAEMON;
}

static void print_limits(const struct sluice_class *c, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	if (c->pkt_rate)
		o += (size_t)snprintf(buf + o, len - o, "rate=%u/s burst=%u",
				      c->pkt_rate, c->pkt_burst);
	if (c->syn_rate && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%ssyn=%u/s syn_burst=%u",
				      o ? " " : "", c->syn_rate, c->syn_burst);
	if (!o)
		snprintf(buf, len, "unlimited");
}

static int cmd_list(const char *pin_path, enum xdpctl_list which, int json)
{
	struct xdpctl_rule_info *ri = NULL;
	struct xdpctl_live *l;
	size_t n = 0;
	int rc, err;

	rc = open_live(pin_path, &l);
	if (rc)
		return rc;
	err = xdpctl_live_list(l, which, &ri, &n);
	xdpctl_live_close(l);
	if (err)
		return refused("list", "the maps", err);
	if (json)
		printf("[");
	else if (which == XDPCTL_ALLOW)
		printf("%-44s %-7s %-6s %s\n", "CIDR", "ORIGIN", "CLASS",
		       "LIMITS");
	else
		printf("%-44s %s\n", "CIDR", "ORIGIN");
	for (size_t i = 0; i < n; i++) {
		char cidr[INET6_ADDRSTRLEN + 8], lim[96];
		const char *origin =
			ri[i].flags & SLUICE_RULE_RUNTIME ? "runtime" : "file";

		fmt_entry(ri[i].family, ri[i].prefixlen, ri[i].addr, cidr,
			  sizeof(cidr));
		print_limits(&ri[i].cls, lim, sizeof(lim));
		if (json) {
			printf("%s{\"cidr\":\"%s\",\"origin\":\"%s\"", i ? "," : "",
			       cidr, origin);
			if (which == XDPCTL_ALLOW)
				printf(",\"class\":%u,\"rate\":%u,\"burst\":%u,"
				       "\"syn\":%u,\"syn_burst\":%u",
				       ri[i].class_id, ri[i].cls.pkt_rate,
				       ri[i].cls.pkt_burst, ri[i].cls.syn_rate,
				       ri[i].cls.syn_burst);
			printf("}");
		} else if (which == XDPCTL_ALLOW) {
			printf("%-44s %-7s %-6u %s\n", cidr, origin,
			       ri[i].class_id, lim);
		} else {
			printf("%-44s %s\n", cidr, origin);
		}
	}
	if (json)
		printf("]\n");
	free(ri);
	return EXIT_OK;
}

static int cmd_rule(const char *pin_path, enum xdpctl_list which, bool add,
		    char **args, int n)
{
	const char *what = which == XDPCTL_ALLOW ? (add ? "allow add"
							: "allow del")
						 : (add ? "deny add"
							: "deny del");
	struct allowlist_entry e;
	struct xdpctl_live *l;
	char text[INET6_ADDRSTRLEN + 8];
	int rc, err;

	if (n < 1) {
		fprintf(stderr, "sluicectl: %s: missing CIDR\n", what);
		return EXIT_USAGE;
	}
	if (!add && n > 1) {
		fprintf(stderr, "sluicectl: %s: unexpected argument '%s'\n",
			what, args[1]);
		return EXIT_USAGE;
	}
	rc = parse_entry(what, args, n,
			 which == XDPCTL_DENY ? ALLOWLIST_NO_OPTIONS : 0, &e);
	if (rc)
		return rc;
	allowlist_format(&e, text, sizeof(text));
	rc = open_live(pin_path, &l);
	if (rc)
		return rc;
	err = add ? xdpctl_live_add(l, which, &e)
		  : xdpctl_live_del(l, which, &e);
	xdpctl_live_close(l);
	if (err)
		return refused(what, text, err);
	printf("%s %s %s the %s (runtime only: the next reload re-syncs it "
	       "from the files)\n",
	       add ? "added" : "removed", text, add ? "to" : "from",
	       which == XDPCTL_ALLOW ? "allowlist" : "denylist");
	return EXIT_OK;
}

/* "90s", "10m", "2h", "1d", "45" (seconds) -> ns. 0 on error. */
static uint64_t parse_duration(const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (!s[0] || s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v == 0)
		return 0;
	if (*end) {
		if (end[1])
			return 0;
		switch (*end) {
		case 's':
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return 0;
		}
	}
	if (v > 366ull * 86400 / mult)
		return 0; /* at most a year */
	return v * mult * 1000000000ull;
}

static void fmt_remaining(uint64_t ns, char *buf, size_t len)
{
	uint64_t s = (ns + 999999999ull) / 1000000000ull;

	if (s >= 86400)
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)s);
}

static int cmd_ban(const char *pin_path, bool ban, char **args, int n,
		   const char *for_arg)
{
	const char *what = ban ? "ban" : "unban";
	struct allowlist_entry e;
	struct xdpctl_live *l;
	char text[INET6_ADDRSTRLEN + 8], dur[32];
	uint64_t for_ns = 0;
	int rc, err;

	if (n != 1) {
		fprintf(stderr,
			n ? "sluicectl: %s: unexpected argument '%s'\n"
			  : "sluicectl: %s: missing address%s\n",
			what, n ? args[1] : "");
		return EXIT_USAGE;
	}
	if (for_arg) {
		if (!ban) {
			fprintf(stderr, "sluicectl: unban: --for applies to "
					"ban only\n");
			return EXIT_USAGE;
		}
		for_ns = parse_duration(for_arg);
		if (!for_ns) {
			fprintf(stderr,
				"sluicectl: ban: invalid duration '%s' (use "
				"N, Ns, Nm, Nh or Nd; at most a year)\n",
				for_arg);
			return EXIT_USAGE;
		}
	}
	rc = parse_entry(what, args, 1, ALLOWLIST_NO_OPTIONS, &e);
	if (rc)
		return rc;
	allowlist_format(&e, text, sizeof(text));
	rc = open_live(pin_path, &l);
	if (rc)
		return rc;
	err = ban ? xdpctl_live_ban(l, &e, for_ns) : xdpctl_live_unban(l, &e);
	xdpctl_live_close(l);
	if (err == -ENOENT && !ban) {
		fprintf(stderr, "sluicectl: unban: %s is not banned\n", text);
		return EXIT_REFUSED;
	}
	if (err)
		return refused(what, text, err);
	if (!ban) {
		printf("unbanned %s\n", text);
		return EXIT_OK;
	}
	if (for_ns) {
		fmt_remaining(for_ns, dur, sizeof(dur));
		printf("banned %s for %s\n", text, dur);
	} else {
		printf("banned %s until unbanned\n", text);
	}
	return EXIT_OK;
}

static int cmd_bans(const char *pin_path, int json)
{
	struct xdpctl_ban_info *bi = NULL;
	struct xdpctl_live *l;
	uint64_t now = 0;
	size_t n = 0;
	int rc, err;

	rc = open_live(pin_path, &l);
	if (rc)
		return rc;
	err = xdpctl_live_bans(l, &bi, &n, &now);
	xdpctl_live_close(l);
	if (err)
		return refused("bans", "the maps", err);
	if (json)
		printf("[");
	else
		printf("%-44s %-12s %s\n", "CIDR", "EXPIRES IN", "BY");
	for (size_t i = 0; i < n; i++) {
		char cidr[INET6_ADDRSTRLEN + 8], rem[32];
		const char *by = bi[i].ban.source == SLUICE_BAN_DAEMON
					 ? "sluiced"
					 : "operator";
		uint64_t left = bi[i].ban.expires_ns ? bi[i].ban.expires_ns - now
						     : 0;

		fmt_entry(bi[i].family, bi[i].prefixlen, bi[i].addr, cidr,
			  sizeof(cidr));
		if (json) {
			printf("%s{\"cidr\":\"%s\",\"expires_in_s\":", i ? "," : "",
			       cidr);
			if (bi[i].ban.expires_ns)
				printf("%.3f", (double)left / 1e9);
			else
				printf("null");
			printf(",\"by\":\"%s\"}", by);
			continue;
		}
		if (bi[i].ban.expires_ns)
			fmt_remaining(left, rem, sizeof(rem));
		else
			snprintf(rem, sizeof(rem), "never");
		printf("%-44s %-12s %s\n", cidr, rem, by);
	}
	if (json)
		printf("]\n");
	free(bi);
	return EXIT_OK;
}

static int cmd_top(const char *pin_path, unsigned int seconds,
		   unsigned int limit, int json)
{
	struct xdpctl_top t;
	int err;

	err = xdpctl_top_collect(pin_path, seconds * 1000, &t);
	if (err == -ENOENT) {
		fprintf(stderr,
			"sluicectl: sluiced is not running: no maps pinned "
			"under %s\n",
			pin_path);
		return EXIT_NO_DAEMON;
	}
	if (err) {
		fprintf(stderr, "sluicectl: top: %s\n", strerror(-err));
		return EXIT_NO_DAEMON;
	}
	if (!t.sample_every && !json)
		fprintf(stderr, "sluicectl: top: drop sampling is off "
				"(xdp.drop_sample: 0); nothing to show\n");
	if (json) {
		printf("{\"seconds\":%u,\"sample_every\":%u,\"events\":%llu,"
		       "\"talkers\":[",
		       seconds, t.sample_every, (unsigned long long)t.events);
	} else {
		printf("heaviest dropped sources over %u s (1 in %u drops "
		       "sampled, %llu samples)\n",
		       seconds, t.sample_every, (unsigned long long)t.events);
		printf("%-40s %12s %10s %9s  %s\n", "SOURCE", "EST.PACKETS",
		       "EST.PPS", "SAMPLES", "REASON");
	}
	for (size_t i = 0; i < t.n && i < limit; i++) {
		const struct xdpctl_talker *k = &t.talkers[i];
		char a[INET6_ADDRSTRLEN];
		uint64_t est = k->samples * (t.sample_every ? t.sample_every : 1);
		int top = 0;

		for (int r = 0; r < SLUICE_R_MAX; r++)
			if (k->by_reason[r] > k->by_reason[top])
				top = r;
		inet_ntop(k->family, k->addr, a, sizeof(a));
		if (json) {
			printf("%s{\"source\":\"%s\",\"samples\":%llu,"
			       "\"est_packets\":%llu,\"reasons\":{",
			       i ? "," : "", a, (unsigned long long)k->samples,
			       (unsigned long long)est);
			for (int r = 0, first = 1; r < SLUICE_R_MAX; r++) {
				if (!k->by_reason[r])
					continue;
				printf("%s\"%s\":%llu", first ? "" : ",",
				       xdpctl_reason_name((enum sluice_reason)r),
				       (unsigned long long)k->by_reason[r]);
				first = 0;
			}
			printf("}}");
		} else {
			printf("%-40s %12llu %10llu %9llu  %s\n", a,
			       (unsigned long long)est,
			       (unsigned long long)(est / seconds),
			       (unsigned long long)k->samples,
			       xdpctl_reason_name((enum sluice_reason)top));
		}
	}
	if (json)
		printf("]}\n");
	xdpctl_top_free(&t);
	return EXIT_OK;
}

static int parse_uint(const char *opt, const char *s, unsigned int max,
		      unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !s[0] || s[0] == '-' || v == 0 || v > max) {
		fprintf(stderr, "sluicectl: %s: want a number from 1 to %u, "
				"got '%s'\n",
			opt, max, s);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pin-path", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"for", required_argument, NULL, 'f'},
		{"seconds", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'l'},
		{NULL, 0, NULL, 0},
	};
	const char *pin_path = SLUICE_PIN_ROOT, *for_arg = NULL, *cmd;
	unsigned int seconds = 3, limit = 20;
	bool seconds_set = false, limit_set = false;
	int json = 0, c, n;
	char **args;

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
		case 'f':
			for_arg = optarg;
			break;
		case 's':
			if (parse_uint("--seconds", optarg, 3600, &seconds))
				return EXIT_USAGE;
			seconds_set = true;
			break;
		case 'l':
			if (parse_uint("--limit", optarg, 100000, &limit))
				return EXIT_USAGE;
			limit_set = true;
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
	cmd = argv[optind];
	args = argv + optind + 1;
	n = argc - optind - 1;
	if (for_arg && strcmp(cmd, "ban") && strcmp(cmd, "unban")) {
		fprintf(stderr, "sluicectl: --for applies to ban only\n");
		return EXIT_USAGE;
	}
	if ((seconds_set || limit_set) && strcmp(cmd, "top")) {
		fprintf(stderr,
			"sluicectl: --seconds and --limit apply to top only\n");
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "status") || !strcmp(cmd, "bans") ||
	    !strcmp(cmd, "top")) {
		if (n) {
			fprintf(stderr,
				"sluicectl: %s: unexpected argument '%s'\n",
				cmd, args[0]);
			usage_hint();
			return EXIT_USAGE;
		}
		if (!strcmp(cmd, "status"))
			return cmd_status(pin_path, json);
		if (!strcmp(cmd, "bans"))
			return cmd_bans(pin_path, json);
		return cmd_top(pin_path, seconds, limit, json);
	}
	if (!strcmp(cmd, "allow") || !strcmp(cmd, "deny")) {
		enum xdpctl_list which =
			!strcmp(cmd, "allow") ? XDPCTL_ALLOW : XDPCTL_DENY;

		if (n >= 1 && !strcmp(args[0], "list")) {
			if (n > 1) {
				fprintf(stderr,
					"sluicectl: %s list: unexpected "
					"argument '%s'\n",
					cmd, args[1]);
				return EXIT_USAGE;
			}
			return cmd_list(pin_path, which, json);
		}
		if (n >= 1 && (!strcmp(args[0], "add") || !strcmp(args[0], "del")))
			return cmd_rule(pin_path, which, !strcmp(args[0], "add"),
					args + 1, n - 1);
		fprintf(stderr,
			"sluicectl: %s: expected add, del or list%s%s%s\n", cmd,
			n ? " (got '" : "", n ? args[0] : "", n ? "')" : "");
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "ban") || !strcmp(cmd, "unban"))
		return cmd_ban(pin_path, !strcmp(cmd, "ban"), args, n, for_arg);

	fprintf(stderr, "sluicectl: unknown command '%s'\n", cmd);
	usage_hint();
	return EXIT_USAGE;
}
