// SPDX-License-Identifier: MIT
/* Unit tests for daemon/config*.c. YAML inputs end at a guard page. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "sluice/abi.h"
#include "unit/guard.h"

/* Lines 1-5 of most inputs: a valid minimum. */
#define BASE                                                                   \
	"listeners:\n"                                                         \
	"  - name: l\n"                                                        \
	"    address: 127.0.0.1:8080\n"                                        \
	"xdp:\n"                                                               \
	"  enabled: false\n"

static int parse_named(const char *name, const char *text, struct config **c,
		       char **errs)
{
	size_t len = strlen(text);

	return config_parse(name, guard_copy(text, len), len, c, errs);
}

static struct config *parse_ok(const char *text)
{
	struct config *c = NULL;
	char *errs = NULL;
	int r = parse_named("cfg.yaml", text, &c, &errs);

	if (r) {
		print_error("unexpected errors (%d):\n%s", r, errs ? errs : "");
		free(errs);
		fail();
	}
	assert_null(errs);
	assert_non_null(c);
	return c;
}

/* The input must fail with exactly `want` (all lines). */
static void expect_errors(const char *text, const char *want)
{
	struct config *c = (struct config *)1;
	char *errs = NULL;

	assert_int_equal(parse_named("cfg.yaml", text, &c, &errs), -EINVAL);
	assert_null(c);
	assert_non_null(errs);
	assert_string_equal(errs, want);
	free(errs);
}

static void test_full_example(void **state)
{
	static const char text[] =
		"# the config.h example\n"
		"listeners:\n"
		"  - name: public\n"
		"    address: 127.0.0.1:8080\n"
		"  - name: public6\n"
		"    address: \"[::1]:8081\"\n"
		"  - name: any\n"
		"    address: 0.0.0.0:8080\n"
		"admin:\n"
		"  address: 127.0.0.1:9901\n"
		"xdp:\n"
		"  enabled: true\n"
		"  interfaces: [lo, veth-srv]\n"
		"  mode: native\n"
		"  pin_path: /sys/fs/bpf/sluice-test-1\n"
		"  allowlist:\n"
		"    enabled: true\n"
		"    files: [allowlist.txt, /abs/more.txt, sub/x.txt]\n"
		"services:\n"
		"  - name: echo\n"
		"    targets: [127.0.0.1:9001, 'localhost:9002', \"[fd00:5c::2]:9003\"]\n"
		"    connect_timeout_ms: 1500\n"
		"  - name: other\n"
		"    targets:\n"
		"      - 198.18.0.2:80\n"
		"routes:\n"
		"  - name: api\n"
		"    path_prefix: /api/\n"
		"    service: other\n"
		"    methods: [GET, POST, OPTIONS]\n"
		"    host: API.Example.COM\n"
		"  - name: all\n"
		"    service: echo\n"
		"workers: 4\n"
		"logging:\n"
		"  level: warn\n";
	struct config *c = NULL;
	char *errs = NULL;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	assert_int_equal(parse_named("/etc/sluice/sluice.yaml", text, &c, &errs), 0);
	assert_null(errs);
	assert_string_equal(c->path, "/etc/sluice/sluice.yaml");
	assert_int_equal(c->refcount, 1);

	assert_int_equal(c->n_listeners, 3);
	assert_string_equal(c->listeners[0].name, "public");
	assert_string_equal(c->listeners[0].addr.text, "127.0.0.1:8080");
	assert_int_equal(c->listeners[0].addr.port, 8080);
	assert_int_equal(c->listeners[0].addr.salen, sizeof(struct sockaddr_in));
	sin = (const struct sockaddr_in *)&c->listeners[0].addr.sa;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 8080);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	sin6 = (const struct sockaddr_in6 *)&c->listeners[1].addr.sa;
	assert_int_equal(c->listeners[1].addr.salen, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 8081);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_string_equal(c->listeners[1].addr.text, "[::1]:8081");

	/* guarded ports: unique, sorted */
	assert_int_equal(c->xdp.n_ports, 2);
	assert_int_equal(c->xdp.ports[0], 8080);
	assert_int_equal(c->xdp.ports[1], 8081);

	assert_true(c->admin_enabled);
	assert_string_equal(c->admin.text, "127.0.0.1:9901");
	assert_int_equal(c->admin.port, 9901);

	assert_true(c->xdp.enabled);
	assert_int_equal(c->xdp.n_interfaces, 2);
	assert_string_equal(c->xdp.interfaces[0], "lo");
	assert_string_equal(c->xdp.interfaces[1], "veth-srv");
	assert_int_equal(c->xdp.mode, CFG_XDP_NATIVE);
	assert_string_equal(c->xdp.pin_path, "/sys/fs/bpf/sluice-test-1");
	assert_true(c->xdp.allowlist_enabled);
	assert_int_equal(c->xdp.n_allowlist_files, 3);
	assert_string_equal(c->xdp.allowlist_files[0], "/etc/sluice/allowlist.txt");
	assert_string_equal(c->xdp.allowlist_files[1], "/abs/more.txt");
	assert_string_equal(c->xdp.allowlist_files[2], "/etc/sluice/sub/x.txt");
	assert_int_equal(c->xdp.allow.n, 0);	/* config_parse loads no files */

	assert_int_equal(c->n_services, 2);
	assert_string_equal(c->services[0].name, "echo");
	assert_int_equal(c->services[0].n_targets, 3);
	assert_int_equal(c->services[0].connect_timeout_ms, 1500);
	assert_string_equal(c->services[0].targets[1].text, "localhost:9002");
	sin = (const struct sockaddr_in *)&c->services[0].targets[1].sa;
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(c->services[0].targets[1].port, 9002);
	sin6 = (const struct sockaddr_in6 *)&c->services[0].targets[2].sa;
	assert_int_equal(sin6->sin6_addr.s6_addr[0], 0xfd);
	assert_int_equal(sin6->sin6_addr.s6_addr[15], 2);
	assert_int_equal(c->services[1].n_targets, 1);
	assert_int_equal(c->services[1].connect_timeout_ms, 2000);

	assert_int_equal(c->n_routes, 2);
	assert_string_equal(c->routes[0].name, "api");
	assert_string_equal(c->routes[0].path_prefix, "/api/");
	assert_int_equal(c->routes[0].path_prefix_len, 5);
	assert_int_equal(c->routes[0].service, 1);
	assert_int_equal(c->routes[0].methods, CFG_M_GET | CFG_M_POST | CFG_M_OPTIONS);
	assert_string_equal(c->routes[0].host, "api.example.com");
	assert_string_equal(c->routes[1].path_prefix, "/");
	assert_int_equal(c->routes[1].path_prefix_len, 1);
	assert_int_equal(c->routes[1].service, 0);
	assert_int_equal(c->routes[1].methods, 0);
	assert_null(c->routes[1].host);

	assert_int_equal(c->workers, 4);
	assert_string_equal(c->log_level, "warn");
	config_put(c);
}

static void test_defaults(void **state)
{
	struct config *c = parse_ok("listeners:\n"
				    "  - {name: a, address: '127.0.0.1:80'}\n"
				    "xdp:\n"
				    "  interfaces: [lo]\n");

	assert_true(c->xdp.enabled);
	assert_int_equal(c->xdp.mode, CFG_XDP_AUTO);
	assert_string_equal(c->xdp.pin_path, SLUICE_PIN_ROOT);
	assert_false(c->xdp.allowlist_enabled);
	assert_int_equal(c->xdp.n_allowlist_files, 0);
	assert_false(c->admin_enabled);		/* no admin section */
	assert_string_equal(c->admin.text, "127.0.0.1:9900");
	assert_int_equal(c->admin.port, 9900);
	assert_int_equal(c->workers, 0);	/* one per CPU */
	assert_string_equal(c->log_level, "info");
	assert_int_equal(c->n_services, 0);
	assert_int_equal(c->n_routes, 0);
	assert_int_equal(c->xdp.n_ports, 1);
	assert_int_equal(c->xdp.ports[0], 80);
	config_put(c);

	/* empty sections and lists are fine */
	c = parse_ok(BASE "services: []\nroutes:\nlogging: {}\n");
	assert_int_equal(c->n_services, 0);
	assert_int_equal(c->n_routes, 0);
	assert_string_equal(c->log_level, "info");
	config_put(c);
}

static void test_admin_and_allowlist_defaults(void **state)
{
	struct config *c;

	c = parse_ok("listeners: [{name: a, address: '127.0.0.1:80'}]\n"
		     "admin:\n"
		     "xdp:\n"
		     "  interfaces: [lo]\n"
		     "  allowlist: {files: [a.txt]}\n");
	assert_true(c->admin_enabled);
	assert_string_equal(c->admin.text, "127.0.0.1:9900");
	assert_true(c->xdp.allowlist_enabled);
	assert_string_equal(c->xdp.allowlist_files[0], "a.txt");
	config_put(c);

	c = parse_ok("listeners: [{name: a, address: '127.0.0.1:80'}]\n"
		     "admin: {enabled: false}\n"
		     "xdp:\n"
		     "  enabled: false\n"
		     "  allowlist: {enabled: false, files: [a.txt]}\n");
	assert_false(c->admin_enabled);
	assert_false(c->xdp.enabled);
	assert_false(c->xdp.allowlist_enabled);
	assert_int_equal(c->xdp.n_allowlist_files, 1);
	config_put(c);
}

static void test_relative_paths(void **state)
{
	static const char text[] = BASE "  allowlist:\n    files: [a.txt, ../b.txt, /c.txt]\n";
	struct config *c;
	char *errs;

	assert_int_equal(parse_named("conf.d/sluice.yaml", text, &c, &errs), 0);
	assert_string_equal(c->xdp.allowlist_files[0], "conf.d/a.txt");
	assert_string_equal(c->xdp.allowlist_files[1], "conf.d/../b.txt");
	assert_string_equal(c->xdp.allowlist_files[2], "/c.txt");
	config_put(c);

	assert_int_equal(parse_named("sluice.yaml", text, &c, &errs), 0);
	assert_string_equal(c->xdp.allowlist_files[0], "a.txt");
	config_put(c);

	assert_int_equal(parse_named("/sluice.yaml", text, &c, &errs), 0);
	assert_string_equal(c->xdp.allowlist_files[0], "/a.txt");
	config_put(c);
}

static void test_unknown_keys(void **state)
{
	expect_errors("listners:\n"
		      "  - name: l\n"
		      "xdp: {enabled: false}\n"
		      "Workers: 2\n"
		      "frobnicate: 1\n",
		      "cfg.yaml:1:1: unknown key 'listners' (did you mean 'listeners'?)\n"
		      "cfg.yaml:1:1: missing required key 'listeners'\n"
		      "cfg.yaml:4:1: unknown key 'Workers' (did you mean 'workers'?)\n"
		      "cfg.yaml:5:1: unknown key 'frobnicate'\n");
	expect_errors(BASE
		      "  pinpath: /x\n"
		      "  allowlist:\n"
		      "    file: [a]\n"
		      "services:\n"
		      "  - name: s\n"
		      "    target: [127.0.0.1:1]\n"
		      "    timeout: 5\n",
		      "cfg.yaml:6:3: xdp: unknown key 'pinpath' (did you mean 'pin_path'?)\n"
		      "cfg.yaml:8:5: xdp.allowlist: unknown key 'file' (did you mean 'files'?)\n"
		      "cfg.yaml:10:5: services[0]: missing required key 'targets'\n"
		      "cfg.yaml:11:5: services[0]: unknown key 'target' (did you mean 'targets'?)\n"
		      "cfg.yaml:12:5: services[0]: unknown key 'timeout'\n");
	/* keys must be strings */
	expect_errors(BASE "? [a]\n: 1\n~: 2\n",
		      "cfg.yaml:6:3: expected a string key, got a sequence\n"
		      "cfg.yaml:8:1: expected a string key, got null\n");
}

static void test_type_errors(void **state)
{
	expect_errors("listeners: {name: l}\n"
		      "xdp: [a]\n"
		      "services: x\n"
		      "routes:\n"
		      "  - just a string\n"
		      "workers: [1]\n"
		      "logging: debug\n",
		      "cfg.yaml:1:12: listeners: expected a sequence, got a mapping\n"
		      "cfg.yaml:2:6: xdp: expected a mapping, got a sequence\n"
		      "cfg.yaml:3:11: services: expected a sequence, got 'x'\n"
		      "cfg.yaml:5:5: routes[0]: expected a mapping, got 'just a string'\n"
		      "cfg.yaml:6:10: workers: expected an integer, got a sequence\n"
		      "cfg.yaml:7:10: logging: expected a mapping, got 'debug'\n");
	expect_errors(BASE
		      "  interfaces: [[lo]]\n"
		      "  mode: {a: b}\n"
		      "services:\n"
		      "  - name:\n"
		      "    targets: [127.0.0.1:1]\n"
		      "    connect_timeout_ms: \"2000\"\n"
		      "  - name: [x]\n"
		      "    targets: [127.0.0.1:1]\n"
		      "    connect_timeout_ms: 2.5\n"
		      "workers: yes\n"
		      "admin:\n"
		      "  enabled: 1\n"
		      "  address: 8080\n",
		      "cfg.yaml:6:16: xdp.interfaces[0]: expected a string, got a sequence\n"
		      "cfg.yaml:7:9: xdp.mode: expected a string, got a mapping\n"
		      "cfg.yaml:9:10: services[0].name: expected a string, got an empty value\n"
		      "cfg.yaml:11:25: services[0].connect_timeout_ms: expected an integer, got a quoted string '2000'\n"
		      "cfg.yaml:12:11: services[1].name: expected a string, got a sequence\n"
		      "cfg.yaml:14:25: services[1].connect_timeout_ms: expected an integer, got '2.5'\n"
		      "cfg.yaml:15:10: workers: expected an integer, got 'yes'\n"
		      "cfg.yaml:17:12: admin.enabled: expected a boolean (true or false), got '1'\n"
		      "cfg.yaml:18:12: admin.address: missing port in '8080' (expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)\n");
	/* octal/hex look-alikes and booleans spelled otherwise */
	expect_errors(BASE "workers: 010\n",
		      "cfg.yaml:6:10: workers: expected an integer, got '010'\n");
	expect_errors(BASE "workers: 0x10\n",
		      "cfg.yaml:6:10: workers: expected an integer, got '0x10'\n");
	expect_errors("listeners: [{name: l, address: '127.0.0.1:1'}]\nxdp: {enabled: 'false'}\n",
		      "cfg.yaml:2:16: xdp.enabled: expected a boolean (true or false), got a quoted string 'false'\n");
	expect_errors("listeners: [{name: l, address: '127.0.0.1:1'}]\nxdp: {enabled: no}\n",
		      "cfg.yaml:2:16: xdp.enabled: expected a boolean (true or false), got 'no'\n");
}

static void test_range_errors(void **state)
{
	expect_errors(BASE "workers: 257\n",
		      "cfg.yaml:6:10: workers: 257 is out of range (0-256)\n");
	expect_errors(BASE "workers: -1\n",
		      "cfg.yaml:6:10: workers: -1 is out of range (0-256)\n");
	expect_errors(BASE "workers: 99999999999999999999999\n",
		      "cfg.yaml:6:10: workers: 99999999999999999999999 is out of range (0-256)\n");
	expect_errors(BASE "services:\n  - name: s\n    targets: [127.0.0.1:1]\n"
		      "    connect_timeout_ms: 0\n",
		      "cfg.yaml:9:25: services[0].connect_timeout_ms: 0 is out of range (1-600000)\n");
	expect_errors(BASE "services:\n  - name: s\n    targets: [127.0.0.1:1]\n"
		      "    connect_timeout_ms: 600001\n",
		      "cfg.yaml:9:25: services[0].connect_timeout_ms: 600001 is out of range (1-600000)\n");

	struct config *c = parse_ok(BASE "workers: 256\n");

	assert_int_equal(c->workers, 256);
	config_put(c);
	c = parse_ok(BASE "workers: 0\n");
	assert_int_equal(c->workers, 0);
	config_put(c);
}

static void test_address_errors(void **state)
{
	expect_errors("listeners:\n"
		      "  - {name: a, address: \"127.0.0.1\"}\n"
		      "  - {name: b, address: 127.0.0.1:0}\n"
		      "  - {name: c, address: 127.0.0.1:65536}\n"
		      "  - {name: d, address: 127.0.0.1:080}\n"
		      "  - {name: e, address: \"::1:80\"}\n"
		      "  - {name: f, address: \"[::1]\"}\n"
		      "  - {name: g, address: \"[::1:80\"}\n"
		      "  - {name: h, address: example.com:80}\n"
		      "  - {name: i, address: \"[1.2.3.4]:80\"}\n"
		      "  - {name: j, address: 010.0.0.1:80}\n"
		      "  - {name: k, address: \"[fe80::1%lo]:80\"}\n"
		      "  - {name: l, address: \"1.2.3.4:\"}\n"
		      "  - {name: m, address: \"\"}\n"
		      "xdp: {enabled: false}\n",
		      "cfg.yaml:2:24: listeners[0].address: missing port in '127.0.0.1' (expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)\n"
		      "cfg.yaml:3:24: listeners[1].address: invalid port in '127.0.0.1:0' (expected 1-65535)\n"
		      "cfg.yaml:4:24: listeners[2].address: invalid port in '127.0.0.1:65536' (expected 1-65535)\n"
		      "cfg.yaml:5:24: listeners[3].address: invalid port in '127.0.0.1:080' (expected 1-65535)\n"
		      "cfg.yaml:6:24: listeners[4].address: IPv6 address must be in brackets: '::1:80' (e.g. [::1]:8080)\n"
		      "cfg.yaml:7:24: listeners[5].address: missing port in '[::1]' (expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)\n"
		      "cfg.yaml:8:24: listeners[6].address: invalid address '[::1:80' (missing ']')\n"
		      "cfg.yaml:9:24: listeners[7].address: invalid IP address in 'example.com:80' (IP literal or localhost; no DNS names)\n"
		      "cfg.yaml:10:24: listeners[8].address: invalid IP address in '[1.2.3.4]:80' (IP literal or localhost; no DNS names)\n"
		      "cfg.yaml:11:24: listeners[9].address: invalid IP address in '010.0.0.1:80' (IP literal or localhost; no DNS names)\n"
		      "cfg.yaml:12:24: listeners[10].address: invalid IP address in '[fe80::1%lo]:80' (IP literal or localhost; no DNS names)\n"
		      "cfg.yaml:13:24: listeners[11].address: invalid port in '1.2.3.4:' (expected 1-65535)\n"
		      "cfg.yaml:14:24: listeners[12].address: invalid address '' (expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)\n");
	/* targets: no unspecified address; listeners may use it */
	expect_errors(BASE "services:\n  - name: s\n    targets: [0.0.0.0:80, \"[::]:80\"]\n",
		      "cfg.yaml:8:15: services[0].targets[0]: unspecified address not allowed for a target: '0.0.0.0:80'\n"
		      "cfg.yaml:8:27: services[0].targets[1]: unspecified address not allowed for a target: '[::]:80'\n");
	expect_errors(BASE "services:\n  - name: s\n    targets: []\n",
		      "cfg.yaml:8:14: services[0].targets: at least 1 entry is required\n");
}

/* unix:/abs/path targets: an AF_UNIX address, mixed freely with IP ones;
 * only targets may be Unix sockets. */
static void test_unix_targets(void **state)
{
	const struct sockaddr_un *sun;
	const struct config_addr *t;
	struct config *c;
	char yaml[512], path[108];

	c = parse_ok(BASE "services:\n  - name: s\n"
		     "    targets: [\"unix:/run/app.sock\", 127.0.0.1:9001,\n"
		     "              {address: \"unix:/run/b c.sock\", weight: 3}]\n");
	assert_int_equal(c->services[0].n_targets, 3);
	t = &c->services[0].targets[0];
	sun = (const struct sockaddr_un *)&t->sa;
	assert_true(config_addr_is_unix(t));
	assert_string_equal(sun->sun_path, "/run/app.sock");
	assert_int_equal(t->salen, offsetof(struct sockaddr_un, sun_path) +
				   sizeof("/run/app.sock"));
	assert_string_equal(t->text, "unix:/run/app.sock");
	assert_int_equal(t->port, 0);
	assert_int_equal(t->weight, 1);
	assert_false(config_addr_is_unix(&c->services[0].targets[1]));
	t = &c->services[0].targets[2];
	assert_true(config_addr_is_unix(t));
	assert_string_equal(t->text, "unix:/run/b c.sock");
	assert_int_equal(t->weight, 3);
	config_put(c);

	/* the longest path sun_path holds: 107 bytes and the NUL */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	snprintf(yaml, sizeof(yaml), BASE "services:\n  - name: s\n"
		 "    targets: [\"unix:%s\"]\n", path);
	c = parse_ok(yaml);
	assert_int_equal(strlen(c->services[0].targets[0].text), 112);
	sun = (const struct sockaddr_un *)&c->services[0].targets[0].sa;
	assert_string_equal(sun->sun_path, path);
	config_put(c);

	snprintf(yaml, sizeof(yaml), BASE "services:\n  - name: s\n"
		 "    targets:\n"
		 "      - \"unix:\"\n"
		 "      - \"unix:run/app.sock\"\n"
		 "      - \"unix:/run/\"\n"
		 "      - \"unix:%sb\"\n"
		 "      - \"unix:/a\\0b\"\n"
		 "      - \"unix:/run/a.sock\"\n"
		 "      - {address: \"unix:./x.sock\"}\n", path);
	expect_errors(yaml,
		      "cfg.yaml:9:9: services[0].targets[0]: empty Unix socket path in 'unix:' (expected unix:/absolute/path.sock)\n"
		      "cfg.yaml:10:9: services[0].targets[1]: Unix socket path must be absolute: 'unix:run/app.sock' (expected unix:/absolute/path.sock)\n"
		      "cfg.yaml:11:9: services[0].targets[2]: Unix socket path names a directory: 'unix:/run/' (expected unix:/absolute/path.sock)\n"
		      "cfg.yaml:12:9: services[0].targets[3]: Unix socket path too long in 'unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' (108 bytes; at most 107)\n"
		      "cfg.yaml:13:9: services[0].targets[4]: must not contain a NUL byte\n"
		      "cfg.yaml:15:19: services[0].targets[6].address: Unix socket path must be absolute: 'unix:./x.sock' (expected unix:/absolute/path.sock)\n");

	/* listeners and the admin listener are TCP */
	expect_errors("listeners:\n"
		      "  - {name: a, address: \"unix:/run/gw.sock\"}\n"
		      "xdp: {enabled: false}\n",
		      "cfg.yaml:2:24: listeners[0].address: a Unix socket is not allowed here: 'unix:/run/gw.sock' (only services' targets may be unix:/path)\n");
}

static void test_duplicates(void **state)
{
	expect_errors("listeners:\n"
		      "  - name: a\n"
		      "    address: 127.0.0.1:8080\n"
		      "  - name: a\n"
		      "    address: 127.0.0.2:8080\n"
		      "  - name: b\n"
		      "    address: \"127.0.0.1:8080\"\n"
		      "xdp: {enabled: false}\n"
		      "services:\n"
		      "  - {name: s, targets: ['127.0.0.1:1']}\n"
		      "  - {name: s, targets: ['127.0.0.1:1']}\n"
		      "routes:\n"
		      "  - {name: r, service: s}\n"
		      "  - {name: r, service: s}\n"
		      "  - {name: r, service: s}\n"
		      "workers: 1\n"
		      "workers: 2\n",
		      "cfg.yaml:4:11: listeners[1].name: duplicate listener name 'a' (first at line 2)\n"
		      "cfg.yaml:7:14: listeners[2].address: duplicate listener address '127.0.0.1:8080' (first at line 3)\n"
		      "cfg.yaml:11:12: services[1].name: duplicate service name 's' (first at line 10)\n"
		      "cfg.yaml:14:12: routes[1].name: duplicate route name 'r' (first at line 13)\n"
		      "cfg.yaml:15:12: routes[2].name: duplicate route name 'r' (first at line 13)\n"
		      "cfg.yaml:17:1: duplicate key 'workers' (first at line 16)\n");
	/* the same address spelled differently is the same address */
	expect_errors("listeners:\n"
		      "  - {name: a, address: \"[::1]:80\"}\n"
		      "  - {name: b, address: \"[0:0::1]:80\"}\n"
		      "  - {name: c, address: \"localhost:81\"}\n"
		      "  - {name: d, address: \"127.0.0.1:81\"}\n"
		      "xdp:\n  enabled: false\n  enabled: true\n",
		      "cfg.yaml:3:24: listeners[1].address: duplicate listener address '[0:0::1]:80' (first at line 2)\n"
		      "cfg.yaml:5:24: listeners[3].address: duplicate listener address '127.0.0.1:81' (first at line 4)\n"
		      "cfg.yaml:8:3: xdp: duplicate key 'enabled' (first at line 7)\n");
	expect_errors(BASE "admin:\n  address: 127.0.0.1:8080\n",
		      "cfg.yaml:7:12: admin.address: address '127.0.0.1:8080' is also used by listeners[0]\n");
	expect_errors(BASE "  interfaces: [lo, eth0, lo]\n",
		      "cfg.yaml:6:26: xdp.interfaces[2]: duplicate interface 'lo'\n");
}

static void test_routes(void **state)
{
	expect_errors(BASE
		      "routes:\n"
		      "  - name: r1\n"
		      "    path_prefix: api\n"
		      "    service: foo\n"
		      "    methods: [get, FETCH]\n"
		      "    host: a.com:80\n"
		      "  - name: r2\n"
		      "    service: s\n"
		      "    path_prefix: \"/a b\"\n"
		      "    methods: []\n"
		      "    host: \"a/b\"\n"
		      "  - name: r3\n"
		      "    service: s\n"
		      "    path_prefix: /x?y\n"
		      "    host: \"\"\n"
		      "services:\n"
		      "  - {name: s, targets: ['127.0.0.1:1']}\n",
		      "cfg.yaml:8:18: routes[0].path_prefix: must start with '/': 'api'\n"
		      "cfg.yaml:9:14: routes[0].service: unknown service 'foo'\n"
		      "cfg.yaml:10:15: routes[0].methods[0]: unknown method 'get' (expected GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS)\n"
		      "cfg.yaml:10:20: routes[0].methods[1]: unknown method 'FETCH' (expected GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS)\n"
		      "cfg.yaml:11:11: routes[0].host: must not include a port: 'a.com:80'\n"
		      "cfg.yaml:14:18: routes[1].path_prefix: invalid character in path prefix '/a b' (no spaces, controls, '?' or '#')\n"
		      "cfg.yaml:15:14: routes[1].methods: must not be empty (omit it to allow any method)\n"
		      "cfg.yaml:16:11: routes[1].host: invalid host 'a/b' (a DNS name or IP literal, no port)\n"
		      "cfg.yaml:19:18: routes[2].path_prefix: invalid character in path prefix '/x?y' (no spaces, controls, '?' or '#')\n"
		      "cfg.yaml:20:11: routes[2].host: must not be empty\n");
	expect_errors(BASE "routes:\n  - name: r\n",
		      "cfg.yaml:7:5: routes[0]: missing required key 'service'\n");
	/* requests are routed on their normal form: a prefix spelled any
	 * other way could never match, so it is an error */
	{
		static const char *const bad[] = {
			"/admin//", "/a/../b/", "/./a", "/a/.", "/%61dmin/",
			"/a%2fb", "/a;b/", "/a\\b", "/a/..",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char y[512], want[512];
			const char *v = bad[i];
			char shown[64];

			/* cfg_qv() quotes the value, a backslash shown as x5c escaped */
			if (strchr(v, '\\'))
				snprintf(shown, sizeof(shown), "'/a\\x5cb'");
			else
				snprintf(shown, sizeof(shown), "'%s'", v);
			snprintf(y, sizeof(y), BASE "routes:\n  - name: r\n"
				 "    service: s\n    path_prefix: %s\n"
				 "services: [{name: s, targets: ['127.0.0.1:1']}]\n",
				 v);
			snprintf(want, sizeof(want),
				 "cfg.yaml:9:18: routes[0].path_prefix: path prefix %s is not in normal form (no '//', '.' or '..' segments, ';', '\\', encoded unreserved characters or lowercase hex: see docs/HTTP.md)\n",
				 shown);
			expect_errors(y, want);
		}
	}
	{
		struct config *ok = parse_ok(BASE "routes:\n  - name: r\n"
			"    service: s\n    path_prefix: /a%2Fb/.well-known/..x/\n"
			"services: [{name: s, targets: ['127.0.0.1:1']}]\n");

		config_put(ok);
	}

	/* services may come after routes in the file */
	struct config *c = parse_ok(BASE
				    "routes:\n"
				    "  - {name: r, service: b, host: \"[FD00::1]\"}\n"
				    "services:\n"
				    "  - {name: a, targets: ['127.0.0.1:1']}\n"
				    "  - {name: b, targets: ['127.0.0.1:2']}\n");
	assert_int_equal(c->routes[0].service, 1);
	assert_string_equal(c->routes[0].host, "[fd00::1]");
	config_put(c);
}

static void test_required(void **state)
{
	expect_errors("workers: 1\n",
		      "cfg.yaml:1:1: missing required key 'listeners'\n"
		      "cfg.yaml:1:1: missing required key 'xdp' (xdp is enabled by default and needs 'interfaces'; set xdp.enabled: false to run without it)\n");
	expect_errors("listeners: []\nxdp: {enabled: false}\n",
		      "cfg.yaml:1:12: listeners: at least 1 entry is required\n");
	expect_errors("listeners:\nxdp: {enabled: false}\n",
		      "cfg.yaml:1:11: listeners: at least 1 entry is required\n");
	expect_errors("listeners:\n  - {}\n  - name: x\nxdp: {enabled: false}\n",
		      "cfg.yaml:2:5: listeners[0]: missing required key 'name'\n"
		      "cfg.yaml:2:5: listeners[0]: missing required key 'address'\n"
		      "cfg.yaml:3:5: listeners[1]: missing required key 'address'\n");
	expect_errors("listeners: [{name: l, address: '127.0.0.1:1'}]\nxdp:\n  mode: generic\n",
		      "cfg.yaml:3:3: xdp: missing required key 'interfaces' (required when xdp is enabled)\n");
	expect_errors("listeners: [{name: l, address: '127.0.0.1:1'}]\nxdp:\n  interfaces: []\n",
		      "cfg.yaml:3:15: xdp.interfaces: at least 1 entry is required when xdp is enabled\n");
	expect_errors(BASE "  allowlist:\n    enabled: true\n",
		      "cfg.yaml:7:14: xdp.allowlist: enabled but no 'files' given (to drop all traffic to the guarded ports, list an empty file)\n");
}

static void test_strings(void **state)
{
	char text[1024], want[300];

	expect_errors("listeners:\n"
		      "  - {name: \"bad name\", address: '127.0.0.1:1'}\n"
		      "  - {name: \"a\\0b\", address: '127.0.0.1:2'}\n"
		      "  - {name: \"\", address: '127.0.0.1:3'}\n"
		      "  - {name: 0123456789012345678901234567890123456789012345678901234567890123, address: '127.0.0.1:4'}\n"
		      "xdp:\n"
		      "  interfaces: [\"a b\", \"0123456789abcdef\"]\n"
		      "  mode: fast\n"
		      "  pin_path: sys/fs/bpf\n"
		      "logging:\n"
		      "  level: DEBUG\n",
		      "cfg.yaml:2:12: listeners[0].name: invalid name 'bad name' (use A-Z a-z 0-9 _ . -)\n"
		      "cfg.yaml:3:12: listeners[1].name: must not contain a NUL byte\n"
		      "cfg.yaml:4:12: listeners[2].name: must not be empty\n"
		      "cfg.yaml:5:12: listeners[3].name: too long (64 characters, max 63)\n"
		      "cfg.yaml:7:16: xdp.interfaces[0]: invalid interface name 'a b' (1-15 characters, no '/' or spaces)\n"
		      "cfg.yaml:7:23: xdp.interfaces[1]: invalid interface name '0123456789abcdef' (1-15 characters, no '/' or spaces)\n"
		      "cfg.yaml:8:9: xdp.mode: invalid value 'fast' (expected auto, native or generic)\n"
		      "cfg.yaml:9:13: xdp.pin_path: must be an absolute path: 'sys/fs/bpf'\n"
		      "cfg.yaml:11:10: logging.level: invalid value 'DEBUG' (expected error, warn, info or debug)\n");

	/* pin_path: 255 characters fit, 256 do not */
	memset(want, 'p', 256);
	want[0] = '/';
	want[256] = '\0';
	snprintf(text, sizeof(text), BASE "  pin_path: %s\n", want);
	expect_errors(text, "cfg.yaml:6:13: xdp.pin_path: too long (256 characters, max 255)\n");
	want[255] = '\0';
	snprintf(text, sizeof(text), BASE "  pin_path: %s\n", want);
	struct config *c = parse_ok(text);
	assert_string_equal(c->xdp.pin_path, want);
	config_put(c);

	for (int i = 0; i < 4; i++) {
		static const char *const lv[] = { "error", "warn", "info", "debug" };

		snprintf(text, sizeof(text), BASE "logging: {level: %s}\n", lv[i]);
		c = parse_ok(text);
		assert_string_equal(c->log_level, lv[i]);
		config_put(c);
	}
}

static void test_yaml_errors(void **state)
{
	struct config *c;
	char *errs;
	static const char bad_utf8[] = "listeners: \xff\n";

	expect_errors("", "cfg.yaml:1:1: empty configuration file\n");
	expect_errors("# nothing\n\n", "cfg.yaml:1:1: empty configuration file\n");
	expect_errors("---\n", "cfg.yaml:1:1: empty configuration file\n");
	expect_errors("~\n", "cfg.yaml:1:1: expected a mapping at the top level, got null\n");
	expect_errors("- a\n", "cfg.yaml:1:1: expected a mapping at the top level, got a sequence\n");
	expect_errors("listeners: [\n",
		      "cfg.yaml:2:1: syntax error: did not find expected node content (while parsing a flow node at 2:1)\n");
	expect_errors("a: 1\n b: 2\n",
		      "cfg.yaml:2:3: syntax error: mapping values are not allowed in this context\n");
	expect_errors("a:\n\t- b\n",
		      "cfg.yaml:2:1: syntax error: found character that cannot start any token (while scanning for the next token at 2:1)\n");
	expect_errors("a: *nope\n",
		      "cfg.yaml:1:4: syntax error: found undefined alias\n");

	/* a NUL byte inside the buffer (strlen above stopped before it) */
	assert_int_equal(config_parse("cfg.yaml", guard_copy("a: 1\n\0b: 2\n", 11), 11, &c, &errs), -EINVAL);
	assert_string_equal(errs, "cfg.yaml:2:1: invalid input: control characters are not allowed (byte 0x00)\n");
	free(errs);
	assert_int_equal(config_parse("cfg.yaml", guard_copy(bad_utf8, sizeof(bad_utf8) - 1),
				      sizeof(bad_utf8) - 1, &c, &errs), -EINVAL);
	assert_string_equal(errs, "cfg.yaml:1:12: invalid input: invalid leading UTF-8 octet (byte 0xff)\n");
	free(errs);

	/* a second document after a valid first one */
	expect_errors(BASE "---\nworkers: 2\n",
		      "cfg.yaml:7:1: only one YAML document is allowed\n");
	expect_errors(BASE "---\n[\n",
		      "cfg.yaml:8:1: syntax error: did not find expected node content (while parsing a flow node at 8:1)\n");
}

static void test_multiple_errors_sorted(void **state)
{
	/* routes are checked after services, but errors come out in file
	 * order */
	expect_errors("routes:\n"
		      "  - {name: r, service: nope}\n"
		      "listeners:\n"
		      "  - {name: l, address: 127.0.0.1}\n"
		      "xdp: {enabled: maybe}\n"
		      "services:\n"
		      "  - {name: s, targets: [foo]}\n",
		      "cfg.yaml:2:24: routes[0].service: unknown service 'nope'\n"
		      "cfg.yaml:4:24: listeners[0].address: missing port in '127.0.0.1' (expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)\n"
		      "cfg.yaml:5:16: xdp.enabled: expected a boolean (true or false), got 'maybe'\n"
		      "cfg.yaml:7:25: services[0].targets[0]: missing port in 'foo' (expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)\n");
}

static void test_too_many_errors(void **state)
{
	size_t cap = 300 * 16 + 64, o = 0, lines = 0;
	char *text = malloc(cap), *errs;
	struct config *c;
	const char *last;

	assert_non_null(text);
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(text + o, cap - o, "k%03d: 1\n", i);
	assert_int_equal(parse_named("cfg.yaml", text, &c, &errs), -EINVAL);
	for (const char *p = errs; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 201);
	assert_non_null(strstr(errs, "cfg.yaml:1:1: unknown key 'k000'\n"));
	assert_non_null(strstr(errs, "cfg.yaml:200:1: unknown key 'k199'\n"));
	assert_null(strstr(errs, "'k200'"));
	last = errs + strlen(errs) - 1;
	while (last > errs && last[-1] != '\n')
		last--;
	/* 100 more keys + missing listeners + missing xdp */
	assert_string_equal(last, "cfg.yaml: 102 more error(s) not shown\n");
	free(errs);
	free(text);
}

static void test_aliases(void **state)
{
	struct config *c = parse_ok(BASE
				    "services:\n"
				    "  - name: a\n"
				    "    targets: &t [127.0.0.1:1, 127.0.0.1:2]\n"
				    "  - name: b\n"
				    "    targets: *t\n");

	assert_int_equal(c->services[1].n_targets, 2);
	assert_int_equal(c->services[1].targets[1].port, 2);
	config_put(c);
	/* a self-referencing alias (libyaml allows it) does not loop */
	expect_errors(BASE "services: &s [*s]\n",
		      "cfg.yaml:6:11: services[0]: expected a mapping, got a sequence\n");
}

static void test_refcount(void **state)
{
	struct config *c = parse_ok(BASE);

	assert_ptr_equal(config_get(c), c);
	assert_int_equal(c->refcount, 2);
	config_put(c);
	assert_int_equal(c->refcount, 1);
	config_put(c);		/* freed: ASan reports a leak otherwise */
	config_put(NULL);
	assert_null(config_get(NULL));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/sluice-cfg-XXXXXX", cfg[256], al1[256], al2[256];
	char want[1024];
	struct config *c;
	char *errs;

	assert_non_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/sluice.yaml", dir);
	snprintf(al1, sizeof(al1), "%s/a.txt", dir);
	snprintf(al2, sizeof(al2), "%s/b.txt", dir);

	/* missing config file */
	assert_int_equal(config_load_file(cfg, &c, &errs), -ENOENT);
	assert_null(c);
	snprintf(want, sizeof(want), "%s: No such file or directory\n", cfg);
	assert_string_equal(errs, want);
	free(errs);
	assert_int_equal(config_load_file(dir, &c, &errs), -EISDIR);
	free(errs);

	write_file(cfg, "listeners: [{name: l, address: '127.0.0.1:8080'}]\n"
			"xdp:\n"
			"  interfaces: [lo]\n"
			"  allowlist:\n"
			"    files: [a.txt, b.txt]\n");
	write_file(al1, "198.18.0.0/24\n10.0.0.0/8\n");
	write_file(al2, "10.0.0.0/8  # again\nfd00:5c::/64\r\n");
	assert_int_equal(config_load_file(cfg, &c, &errs), 0);
	assert_null(errs);
	assert_string_equal(c->path, cfg);
	assert_string_equal(c->xdp.allowlist_files[0], al1);
	/* merged, sorted, duplicates removed */
	assert_int_equal(c->xdp.allow.n, 3);
	assert_int_equal(c->xdp.allow.entries[0].addr[0], 10);
	assert_int_equal(c->xdp.allow.entries[1].addr[0], 198);
	assert_int_equal(c->xdp.allow.entries[2].family, AF_INET6);
	config_put(c);

	/* errors from every allowlist file, after one another */
	write_file(al1, "198.18.0.1/24\nbad\n");
	unlink(al2);
	assert_int_equal(config_load_file(cfg, &c, &errs), -EINVAL);
	assert_null(c);
	snprintf(want, sizeof(want),
		 "%s:1: host bits set (did you mean 198.18.0.0/24?): '198.18.0.1/24'\n"
		 "%s:2: invalid address: 'bad'\n"
		 "%s: No such file or directory\n", al1, al1, al2);
	assert_string_equal(errs, want);
	free(errs);

	/* YAML errors come first; allowlists are not read then */
	write_file(cfg, "listeners: [{name: l, address: '127.0.0.1:8080'}]\n"
			"xdp:\n"
			"  interfaces: [lo]\n"
			"  allowlist: {files: [b.txt]}\n"
			"workers: many\n");
	assert_int_equal(config_load_file(cfg, &c, &errs), -EINVAL);
	snprintf(want, sizeof(want), "%s:5:10: workers: expected an integer, got 'many'\n", cfg);
	assert_string_equal(errs, want);
	free(errs);

	/* a disabled allowlist is not read */
	write_file(cfg, "listeners: [{name: l, address: '127.0.0.1:8080'}]\n"
			"xdp:\n"
			"  interfaces: [lo]\n"
			"  allowlist: {enabled: false, files: [b.txt]}\n");
	assert_int_equal(config_load_file(cfg, &c, &errs), 0);
	assert_int_equal(c->xdp.allow.n, 0);
	config_put(c);

	unlink(al1);
	unlink(cfg);
	assert_int_equal(rmdir(dir), 0);
}

/* Issue 4: the http section, pools, body limits, PROXY protocol. */
static void test_http_section(void **state)
{
	struct config *c = parse_ok(BASE);

	assert_int_equal(c->http.header_timeout_ms, 10000);
	assert_int_equal(c->http.body_timeout_ms, 30000);
	assert_int_equal(c->http.keepalive_timeout_ms, 60000);
	assert_int_equal(c->http.response_timeout_ms, 60000);
	assert_int_equal(c->http.tunnel_timeout_ms, 600000);
	assert_int_equal(c->http.drain_timeout_ms, 10000);
	assert_int_equal(c->http.max_header_bytes, 32768);
	assert_int_equal(c->http.max_uri_bytes, 8192);
	assert_true(c->http.max_body_bytes == 0);
	assert_int_equal(c->http.max_connections, 10000);
	assert_int_equal(c->http.receive_buffers, 512);
	assert_int_equal(c->http.upstream_buffers, 128);
	assert_int_equal(c->http.splice_min_bytes, 8192);
	/* paths: the safe choices unless asked otherwise */
	assert_int_equal(c->http.path_params, CFG_PATH_PARAMS_REJECT);
	assert_int_equal(c->http.escaped_slashes, CFG_ESCAPED_SLASHES_REJECT);
	assert_false(c->listeners[0].proxy_protocol);
	assert_true(c->listeners[0].defer_accept);
	/* HTTP/2 */
	assert_false(c->listeners[0].h2c);
	assert_int_equal(c->http.h2_max_streams, 100);
	assert_int_equal(c->http.h2_max_header_list, 16384);
	assert_int_equal(c->http.h2_initial_window, 65535);
	assert_int_equal(c->http.h2_max_frame_size, 16384);
	assert_int_equal(c->http.h2_max_glitches, 100);
	assert_int_equal(c->http.h2_stall_timeout_ms, 30000);
	assert_int_equal(c->http.h2_coalesce_us, 200);
	config_put(c);

	c = parse_ok("listeners:\n"
		     "  - name: l\n"
		     "    address: 127.0.0.1:8080\n"
		     "    proxy_protocol: true\n"
		     "    defer_accept: false\n"
		     "xdp:\n"
		     "  enabled: false\n"
		     "services:\n"
		     "  - name: s\n"
		     "    targets: [127.0.0.1:1]\n"
		     "    max_idle: 0\n"
		     "    idle_timeout_ms: 500\n"
		     "routes:\n"
		     "  - name: small\n"
		     "    path_prefix: /small/\n"
		     "    service: s\n"
		     "    max_body_bytes: 10\n"
		     "  - name: inherit\n"
		     "    service: s\n"
		     "http:\n"
		     "  header_timeout_ms: 1000\n"
		     "  max_body_bytes: 1073741824\n"
		     "  max_connections: 20000\n"
		     "  receive_buffers: 4096\n"
		     "  upstream_buffers: 16\n"
		     "  splice_min_bytes: 0\n"
		     "  path_params: strip\n"
		     "  escaped_slashes: keep\n");
	assert_int_equal(c->http.path_params, CFG_PATH_PARAMS_STRIP);
	assert_int_equal(c->http.escaped_slashes, CFG_ESCAPED_SLASHES_KEEP);
	assert_true(c->listeners[0].proxy_protocol);
	assert_false(c->listeners[0].defer_accept);
	assert_int_equal(c->services[0].max_idle, 0);
	assert_int_equal(c->services[0].idle_timeout_ms, 500);
	assert_int_equal(c->services[0].connect_timeout_ms, 2000);
	assert_true(c->routes[0].max_body_bytes == 10);
	assert_true(c->routes[1].max_body_bytes == 1073741824ull);
	assert_int_equal(c->http.header_timeout_ms, 1000);
	assert_int_equal(c->http.max_connections, 20000);
	assert_int_equal(c->http.receive_buffers, 4096);
	assert_int_equal(c->http.upstream_buffers, 16);
	assert_int_equal(c->http.splice_min_bytes, 0);
	config_put(c);

	/* a route that sets no limit while http has none: unlimited */
	c = parse_ok(BASE "services: [{name: s, targets: [127.0.0.1:1]}]\n"
		     "routes: [{name: r, service: s}]\n");
	assert_true(c->routes[0].max_body_bytes == 0);
	config_put(c);
}

static void test_http_errors(void **state)
{
	expect_errors(BASE "http:\n  header_timeout_ms: 5\n",
		      "cfg.yaml:7:22: http.header_timeout_ms: 5 is out of range (100-3600000)\n");
	expect_errors(BASE "http:\n  max_uri_bytes: 40000\n",
		      "cfg.yaml:7:18: http.max_uri_bytes: must be smaller than http.max_header_bytes (32768)\n");
	expect_errors(BASE "http:\n  max_body_bytes: -1\n",
		      "cfg.yaml:7:19: http.max_body_bytes: -1 is out of range (0-4611686018427387904)\n");
	expect_errors(BASE "http:\n  receive_buffers: 1000\n",
		      "cfg.yaml:7:20: http.receive_buffers: must be a power of two (16, 32, 64, ...), got 1000\n");
	expect_errors(BASE "http:\n  upstream_buffers: 8\n",
		      "cfg.yaml:7:21: http.upstream_buffers: 8 is out of range (16-16384)\n");
	expect_errors(BASE "http:\n  receive_buffers: 65536\n",
		      "cfg.yaml:7:20: http.receive_buffers: 65536 is out of range (16-32768)\n");
	expect_errors(BASE "http:\n  splice_min_bytes: 2147483648\n",
		      "cfg.yaml:7:21: http.splice_min_bytes: 2147483648 is out of range (0-1073741824)\n");
	expect_errors(BASE "http:\n  splice_min_bytes: -1\n",
		      "cfg.yaml:7:21: http.splice_min_bytes: -1 is out of range (0-1073741824)\n");
	expect_errors(BASE "http:\n  path_params: allow\n",
		      "cfg.yaml:7:16: http.path_params: invalid value 'allow' (expected reject or strip)\n");
	expect_errors(BASE "http:\n  escaped_slashes: decode\n",
		      "cfg.yaml:7:20: http.escaped_slashes: invalid value 'decode' (expected reject or keep)\n");
	expect_errors(BASE "http:\n  max_conections: 5\n",
		      "cfg.yaml:7:3: http: unknown key 'max_conections' (did you mean 'max_connections'?)\n");
	expect_errors("listeners:\n  - name: l\n    address: 127.0.0.1:8080\n"
		      "    proxy_protocol: yes\n" "xdp:\n  enabled: false\n",
		      "cfg.yaml:4:21: listeners[0].proxy_protocol: expected a boolean (true or false), got 'yes'\n");
	expect_errors("listeners:\n  - name: l\n    address: 127.0.0.1:8080\n"
		      "    defer_accept: 1\n" "xdp:\n  enabled: false\n",
		      "cfg.yaml:4:19: listeners[0].defer_accept: expected a boolean (true or false), got '1'\n");
	expect_errors(BASE "http:\n  h2_max_frame_size: 16383\n",
		      "cfg.yaml:7:22: http.h2_max_frame_size: 16383 is out of range (16384-16777215)\n");
	expect_errors(BASE "http:\n  h2_max_concurrent_streams: 0\n",
		      "cfg.yaml:7:30: http.h2_max_concurrent_streams: 0 is out of range (1-1000)\n");
	expect_errors(BASE "http:\n  h2_coalesce_us: 1001\n",
		      "cfg.yaml:7:19: http.h2_coalesce_us: 1001 is out of range (0-1000)\n");
	expect_errors(BASE "http:\n  h2_coalesce_us: -1\n",
		      "cfg.yaml:7:19: http.h2_coalesce_us: -1 is out of range (0-1000)\n");
	expect_errors("listeners:\n  - name: l\n    address: 127.0.0.1:8080\n"
		      "    h2c: yes\n" "xdp:\n  enabled: false\n",
		      "cfg.yaml:4:10: listeners[0].h2c: expected a boolean (true or false), got 'yes'\n");
}

/* cluster: and limits[].scope -- defaults, and a table of bad values */
static void test_cluster_section(void **state)
{
	static const char *const HOW =
		" (HOST:PORT such as 127.0.0.1:6379, [::1]:6379, or an absolute Unix socket path)\n";
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{ "cluster:\n  redis: 127.0.0.1:99999\n",
		  "cfg.yaml:7:10: cluster.redis: bad Redis address '127.0.0.1:99999'" },
		{ "cluster:\n  redis: \"[::1:6379\"\n",
		  "cfg.yaml:7:10: cluster.redis: bad Redis address '[::1:6379'" },
		{ "cluster:\n  redis: \"host name:6379\"\n",
		  "cfg.yaml:7:10: cluster.redis: bad Redis address 'host name:6379'" },
		{ "cluster:\n  redis: \":6379\"\n",
		  "cfg.yaml:7:10: cluster.redis: bad Redis address ':6379'" },
		{ "cluster:\n  redis: redis.local\n",
		  "cfg.yaml:7:10: cluster.redis: bad Redis address 'redis.local'" },
		{ "cluster:\n  redis: \"10.0.0.1:6379x\"\n",
		  "cfg.yaml:7:10: cluster.redis: bad Redis address '10.0.0.1:6379x'" },
		{ "cluster:\n  redis: 127.0.0.1:6379\n  on_redis_down: maybe\n",
		  "cfg.yaml:8:18: cluster.on_redis_down: invalid value 'maybe' (expected local, open or closed)\n" },
		{ "cluster:\n  redis: 127.0.0.1:6379\n  password: env:1X\n",
		  "cfg.yaml:8:13: cluster.password: must be 'env:NAME' or 'file:PATH' (the password itself is not written in the config)\n" },
		{ "cluster:\n  redis: 127.0.0.1:6379\n  password: hunter2\n",
		  "cfg.yaml:8:13: cluster.password: must be 'env:NAME' or 'file:PATH' (the password itself is not written in the config)\n" },
		{ "cluster:\n  redis: 127.0.0.1:6379\n  node: \"gw 1\"\n",
		  "cfg.yaml:8:9: cluster.node: node name 'gw 1': use letters, digits, '.', '-' and '_'\n" },
		{ "cluster:\n  redis: 127.0.0.1:6379\n  sync_ms: 5\n",
		  "cfg.yaml:8:12: cluster.sync_ms: 5 is out of range (10-1000)\n" },
		{ "cluster:\n  node: gw-1\n",
		  "cfg.yaml:7:3: cluster: missing required key 'redis'\n" },
		{ "limits:\n  - key: ip\n    rates: [10/m]\n    scope: region\n",
		  "cfg.yaml:9:12: limits[0].scope: invalid value 'region' (expected local or cluster)\n" },
		{ "limits:\n  - key: ip\n    rates: [10/m]\n    scope: cluster\n",
		  "cfg.yaml:9:12: limits[0].scope: scope 'cluster' needs a top-level 'cluster' section (redis, node, ...)\n" },
		{ "cluster:\n  redis: 127.0.0.1:6379\nlimits:\n  - key: ip\n    rates: [10/m burst 5]\n    scope: cluster\n",
		  "cfg.yaml:11:12: limits[0].scope: a cluster limit takes exactly one rate, without 'burst' (a fixed window of N per period shared by all hosts)\n" },
	};
	struct config *c;
	char text[512], want[512];

	(void)state;
	c = parse_ok(BASE);
	assert_false(c->cluster.enabled);
	config_put(c);
	c = parse_ok(BASE "cluster:\n  redis: \"[::1]:6379\"\n"
		     "limits:\n  - key: consumer\n    rates: [100/m]\n"
		     "    scope: cluster\n  - key: ip\n    rates: [5/s]\n");
	assert_true(c->cluster.enabled);
	assert_string_equal(c->cluster.redis, "[::1]:6379");
	assert_int_equal(c->cluster.on_redis_down, CFG_REDIS_DOWN_LOCAL);
	assert_int_equal(c->cluster.sync_ms, 50);
	assert_int_equal(c->cluster.timeout_ms, 200);
	assert_string_equal(c->cluster.node, "");
	assert_int_equal(c->limits[0].scope, CFG_SCOPE_CLUSTER);
	assert_int_equal(c->limits[1].scope, CFG_SCOPE_LOCAL);
	config_put(c);
	c = parse_ok(BASE "cluster:\n  redis: /run/redis/redis.sock\n"
		     "  password: file:redis.pw\n  node: gw-1.eu_2\n"
		     "  on_redis_down: closed\n");
	assert_int_equal(c->cluster.on_redis_down, CFG_REDIS_DOWN_CLOSED);
	config_put(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", BASE, bad[i].yaml);
		snprintf(want, sizeof(want), "%s%s", bad[i].want,
			 strchr(bad[i].want, '\n') ? "" : HOW);
		expect_errors(text, want);
	}
}

/* xdp keys: scope, persist, denylist, rate_limit, drop_sample */
static void test_xdp_limits_keys(void **state)
{
	struct config *c;

	c = parse_ok(BASE);
	assert_int_equal(c->xdp.scope, CFG_XDP_SCOPE_GUARDED);
	assert_false(c->xdp.persist);
	assert_int_equal(c->xdp.rate.rate, 0);
	assert_int_equal(c->xdp.rate.syn, 0);
	assert_int_equal(c->xdp.rate_v6_prefix, SLUICE_DEF_V6_PREFIX);
	assert_int_equal(c->xdp.rate_table_size, SLUICE_DEF_SRC_ENTRIES);
	assert_int_equal(c->xdp.drop_sample, 64);
	assert_int_equal(c->xdp.n_deny_files, 0);
	config_put(c);

	c = parse_ok(BASE "  scope: all\n"
			  "  persist: true\n"
			  "  denylist: {files: [deny.txt]}\n"
			  "  rate_limit:\n"
			  "    rate: 1000/s\n"
			  "    burst: 2000\n"
			  "    syn: 50/s\n"
			  "    syn_burst: 100\n"
			  "    ipv6_prefix: 56\n"
			  "    table_size: 4096\n"
			  "  drop_sample: 0\n");
	assert_int_equal(c->xdp.scope, CFG_XDP_SCOPE_ALL);
	assert_true(c->xdp.persist);
	assert_int_equal(c->xdp.n_deny_files, 1);
	assert_string_equal(c->xdp.deny_files[0], "deny.txt");
	assert_int_equal(c->xdp.rate.rate, 1000);
	assert_int_equal(c->xdp.rate.burst, 2000);
	assert_int_equal(c->xdp.rate.syn, 50);
	assert_int_equal(c->xdp.rate.syn_burst, 100);
	assert_int_equal(c->xdp.rate_v6_prefix, 56);
	assert_int_equal(c->xdp.rate_table_size, 4096);
	assert_int_equal(c->xdp.drop_sample, 0);
	config_put(c);

	expect_errors(BASE "  rate_limit: {rate: 1000}\n",
		      "cfg.yaml:6:22: xdp.rate_limit.rate: expected a rate N/s with N from 1 to 100000000, got '1000'\n");
	expect_errors(BASE "  rate_limit: {syn: 0/s}\n",
		      "cfg.yaml:6:21: xdp.rate_limit.syn: expected a rate N/s with N from 1 to 100000000, got '0/s'\n");
	expect_errors(BASE "  rate_limit: {burst: 5}\n",
		      "cfg.yaml:6:23: xdp.rate_limit.burst: burst needs a rate (add rate: N/s)\n");
	expect_errors(BASE "  rate_limit: {syn_burst: 5}\n",
		      "cfg.yaml:6:27: xdp.rate_limit.syn_burst: syn_burst needs a syn rate (add syn: N/s)\n");
	expect_errors(BASE "  rate_limit: {ipv6_prefix: 129}\n",
		      "cfg.yaml:6:29: xdp.rate_limit.ipv6_prefix: 129 is out of range (1-128)\n");
	expect_errors(BASE "  rate_limit: {table_size: 10}\n",
		      "cfg.yaml:6:28: xdp.rate_limit.table_size: 10 is out of range (1024-16777216)\n");
	expect_errors(BASE "  drop_sample: 3\n",
		      "cfg.yaml:6:16: xdp.drop_sample: must be 0 (off) or a power of two (1, 2, 4, ... 1073741824), got 3\n");
	expect_errors(BASE "  scope: everything\n",
		      "cfg.yaml:6:10: xdp.scope: invalid value 'everything' (expected guarded or all)\n");
}

/* xdp.syncookies: enabled false|true|auto, syn_rate N/s; xdp.list_size,
 * xdp.list_prealloc */
static void test_xdp_syncookie_keys(void **state)
{
	struct config *c;

	c = parse_ok(BASE);
	assert_int_equal(c->xdp.cookies, CFG_XDP_COOKIES_OFF);
	assert_int_equal(c->xdp.list_size, SLUICE_MAX_ALLOW4);
	config_put(c);
	c = parse_ok(BASE "  syncookies: {enabled: true}\n");
	assert_int_equal(c->xdp.cookies, CFG_XDP_COOKIES_ON);
	assert_int_equal(c->xdp.cookie_syn_rate, CFG_DEF_COOKIE_SYN_RATE);
	config_put(c);
	c = parse_ok(BASE "  syncookies:\n"
			  "    enabled: auto\n"
			  "    syn_rate: 20000/s\n");
	assert_int_equal(c->xdp.cookies, CFG_XDP_COOKIES_AUTO);
	assert_int_equal(c->xdp.cookie_syn_rate, 20000);
	config_put(c);

	expect_errors(BASE "  syncookies: {enabled: maybe}\n",
		      "cfg.yaml:6:25: xdp.syncookies.enabled: invalid value 'maybe' (expected false, true or auto)\n");
	expect_errors(BASE "  syncookies: {enabled: auto, syn_rate: 0/s}\n",
		      "cfg.yaml:6:41: xdp.syncookies.syn_rate: expected a rate N/s with N from 1 to 100000000, got '0/s'\n");
	expect_errors(BASE "  syncookies: {enabled: auto, syn_rate: 500}\n",
		      "cfg.yaml:6:41: xdp.syncookies.syn_rate: expected a rate N/s with N from 1 to 100000000, got '500'\n");
	expect_errors(BASE "  syncookies: {enable: true}\n",
		      "cfg.yaml:6:16: xdp.syncookies: unknown key 'enable' (did you mean 'enabled'?)\n");
	c = parse_ok(BASE "  list_size: 2000000\n");
	assert_int_equal(c->xdp.list_size, 2000000);
	assert_false(c->xdp.list_prealloc);
	config_put(c);
	c = parse_ok(BASE "  list_prealloc: true\n");
	assert_true(c->xdp.list_prealloc);
	config_put(c);
	expect_errors(BASE "  list_prealloc: 1M\n",
		      "cfg.yaml:6:18: xdp.list_prealloc: expected a boolean (true or false), got '1M'\n");
	expect_errors(BASE "  list_size: 100\n",
		      "cfg.yaml:6:14: xdp.list_size: 100 is out of range (1024-16777216)\n");
	expect_errors(BASE "  syncookies: true\n",
		      "cfg.yaml:6:15: xdp.syncookies: expected a mapping, got 'true'\n");
}

static void test_load_denylist_and_classes(void **state)
{
	char dir[] = "/tmp/sluice-cfg-XXXXXX", cfg[256], al[256], dl[256];
	char want[1024];
	struct config *c;
	char *errs;

	assert_non_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/sluice.yaml", dir);
	snprintf(al, sizeof(al), "%s/a.txt", dir);
	snprintf(dl, sizeof(dl), "%s/d.txt", dir);
	write_file(cfg, "listeners: [{name: l, address: '127.0.0.1:8080'}]\n"
			"xdp:\n"
			"  interfaces: [lo]\n"
			"  allowlist: {files: [a.txt]}\n"
			"  denylist: {files: [d.txt]}\n");
	write_file(al, "198.51.100.0/24 rate=500/s burst=1000 syn=20/s\n"
		       "10.0.0.0/8\n");
	write_file(dl, "192.0.2.0/24\n2001:db8::/32\n");
	assert_int_equal(config_load_file(cfg, &c, &errs), 0);
	assert_int_equal(c->xdp.deny.n, 2);
	assert_int_equal(c->xdp.allow.n, 2);
	assert_int_equal(c->xdp.allow.entries[1].rate, 500);
	assert_int_equal(c->xdp.allow.entries[1].syn, 20);
	config_put(c);

	/* options in a denylist are refused with file:line */
	write_file(dl, "192.0.2.0/24\n198.18.0.0/15 rate=5/s\n");
	assert_int_equal(config_load_file(cfg, &c, &errs), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: options are not allowed in a denylist: 'rate=5/s'\n",
		 dl);
	assert_string_equal(errs, want);
	free(errs);
	/* a bad option in an allowlist names its file and line */
	write_file(dl, "192.0.2.0/24\n");
	write_file(al, "10.0.0.0/8\n198.51.100.0/24 rate=500\n");
	assert_int_equal(config_load_file(cfg, &c, &errs), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: invalid rate (want N/s with N from 1 to 100000000): 'rate=500'\n",
		 al);
	assert_string_equal(errs, want);
	free(errs);
	unlink(al);
	unlink(dl);
	unlink(cfg);
	assert_int_equal(rmdir(dir), 0);
}

static void test_no_trailing_newline(void **state)
{
	/* the last byte sits right before the guard page */
	struct config *c = parse_ok(BASE "workers: 3");

	assert_int_equal(c->workers, 3);
	config_put(c);
	expect_errors(BASE "workers: 3x", "cfg.yaml:6:10: workers: expected an integer, got '3x'\n");
	expect_errors(BASE "workers: \"3", "cfg.yaml:6:12: syntax error: found unexpected end of stream (while scanning a quoted scalar at 6:10)\n");
}

/* Operations keys: admin.socket and user. */
static void test_ops_keys(void **state)
{
	struct config *c;

	c = parse_ok(BASE "admin: {socket: /run/x/a.sock}\nuser: sluice\n");
	assert_true(c->admin_enabled);
	assert_string_equal(c->admin_socket, "/run/x/a.sock");
	assert_string_equal(c->user, "sluice");
	config_put(c);
	c = parse_ok(BASE "admin:\nuser: \"65534\"\n");
	assert_string_equal(c->admin_socket, "/run/sluice/admin.sock");
	assert_string_equal(c->user, "65534");
	config_put(c);
	c = parse_ok(BASE);
	assert_string_equal(c->user, "");
	config_put(c);

	expect_errors(BASE "admin: {socket: run/a.sock}\n",
		      "cfg.yaml:6:17: admin.socket: must be an absolute path: 'run/a.sock'\n");
	expect_errors(BASE "admin:\n  socket: /" 
		      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		      "cfg.yaml:7:11: admin.socket: too long (112 characters, max 107)\n");
	expect_errors(BASE "admin: {sockt: /a}\n",
		      "cfg.yaml:6:9: admin: unknown key 'sockt' (did you mean 'socket'?)\n");
	expect_errors(BASE "user: -root\n",
		      "cfg.yaml:6:7: user: invalid user name '-root' (letters, digits, '_', '.', '-'; not starting with '-')\n");
	expect_errors(BASE "user: a b\n",
		      "cfg.yaml:6:7: user: invalid user name 'a b' (letters, digits, '_', '.', '-'; not starting with '-')\n");
	expect_errors(BASE "user: [a]\n",
		      "cfg.yaml:6:7: user: expected a string, got a sequence\n");
	expect_errors(BASE "usr: a\n",
		      "cfg.yaml:6:1: unknown key 'usr' (did you mean 'user'?)\n");
}

static void test_upstream_tls(void **state)
{
	const struct config_upstream_tls *t;
	struct config *c;
	char *errs;

	/* the section's presence turns TLS on; paths are relative to the
	 * config file */
	assert_int_equal(parse_named("conf.d/sluice.yaml",
				     BASE "services:\n  - name: s\n"
				     "    targets: [10.0.0.5:8443]\n"
				     "    tls:\n"
				     "      ca: tls/ca.pem\n"
				     "      sni: api.internal\n"
				     "      cert: tls/c.pem\n"
				     "      key: /k.key\n"
				     "      min_version: \"1.3\"\n"
				     "  - name: plain\n"
				     "    targets: [10.0.0.6:80]\n"
				     "  - name: off\n"
				     "    targets: [10.0.0.7:80]\n"
				     "    tls: {enabled: false, verify: false}\n"
				     "  - name: bare\n"
				     "    targets: [\"unix:/run/a.sock\"]\n"
				     "    tls: {verify: false}\n",
				     &c, &errs),
			 0);
	t = &c->services[0].tls;
	assert_true(t->enabled);
	assert_true(t->verify);
	assert_string_equal(t->ca, "conf.d/tls/ca.pem");
	assert_string_equal(t->sni, "api.internal");
	assert_string_equal(t->cert, "conf.d/tls/c.pem");
	assert_string_equal(t->key, "/k.key");
	assert_int_equal(t->min_version, CFG_TLS_13);
	assert_false(c->services[1].tls.enabled);
	assert_false(c->services[2].tls.enabled);
	t = &c->services[3].tls;
	assert_true(t->enabled);
	assert_false(t->verify);
	assert_null(t->ca);
	assert_null(t->sni);
	assert_int_equal(t->min_version, CFG_TLS_12);
	config_put(c);

	expect_errors(BASE "services:\n  - name: s\n"
		      "    targets: [\"unix:/run/a.sock\"]\n"
		      "    tls:\n"
		      "      cert: c.pem\n"
		      "      min_version: \"1.1\"\n",
		      "cfg.yaml:10:7: services[0].tls: cert and key go together (a client certificate needs its key)\n"
		      "cfg.yaml:10:7: services[0].tls: a unix: target has no address to verify: set sni (the name its certificate carries) or verify: false\n"
		      "cfg.yaml:11:20: services[0].tls.min_version: invalid value '1.1' (expected 1.2 or 1.3)\n");
	(void)state;
}

static void test_upstream_protocol(void **state)
{
	struct config *c;
	char *errs;

	assert_int_equal(parse_named("cfg.yaml", BASE "services:\n  - name: g\n"
			       "    targets: [127.0.0.1:50051]\n"
			       "    protocol: h2\n"
			       "  - name: t\n"
			       "    targets: [127.0.0.1:50052]\n"
			       "    protocol: h2\n"
			       "    tls: {verify: false}\n"
			       "  - name: plain\n"
			       "    targets: [127.0.0.1:80]\n"
			       "  - name: one\n"
			       "    targets: [127.0.0.1:81]\n"
			       "    protocol: http1\n",
			       &c, &errs),
			 0);
	assert_int_equal(c->services[0].protocol, CFG_PROTO_H2);
	assert_false(c->services[0].tls.enabled);
	assert_int_equal(c->services[1].protocol, CFG_PROTO_H2);
	assert_true(c->services[1].tls.enabled);
	assert_int_equal(c->services[2].protocol, CFG_PROTO_HTTP1);
	assert_int_equal(c->services[3].protocol, CFG_PROTO_HTTP1);
	config_put(c);

	expect_errors(BASE "services:\n  - name: g\n"
		      "    targets: [127.0.0.1:50051]\n"
		      "    protocol: h3\n",
		      "cfg.yaml:9:15: services[0].protocol: invalid value 'h3' (expected http1 or h2)\n");
	expect_errors(BASE "services:\n  - name: g\n"
		      "    targets: [127.0.0.1:50051]\n"
		      "    protocol: [h2]\n",
		      "cfg.yaml:9:15: services[0].protocol: expected a string, got a sequence\n");
	expect_errors(BASE "services:\n  - name: g\n"
		      "    targets: [127.0.0.1:50051]\n"
		      "    protocol: h2\n"
		      "    health: {path: /}\n",
		      "cfg.yaml:10:13: services[0].health: active health checks speak HTTP/1.1, which a service with protocol: h2 does not (use outlier: for passive ejection)\n");
	(void)state;
}

static int teardown_guard(void **state)
{
	guard_free();
	return 0;
}

/* services[].targets as DNS names, the dns: section and its pure helpers. */
static void test_dns_targets(void **state)
{
	static const char text[] = BASE
		"services:\n"
		"  - name: api\n"
		"    targets:\n"
		"      - api-3.internal:9003\n"
		"      - \"[::1]:9004\"\n"
		"      - {address: db.example.:5432, weight: 3}\n"
		"      - 127.0.0.1:9001\n"
		"      - localhost:9002\n"
		"dns:\n"
		"  servers: [127.0.0.1:5353, \"[::1]:53\"]\n"
		"  min_ttl_ms: 200\n"
		"  max_ttl_ms: 1000\n"
		"  timeout_ms: 300\n";
	struct config *c;
	const struct config_service *s;

	(void)state;
	c = parse_ok(text);
	s = &c->services[0];
	assert_int_equal(s->n_targets, 5);
	assert_int_equal(s->n_names, 2);
	assert_true(config_addr_is_name(&s->targets[0]));
	assert_int_equal(s->targets[0].port, 9003);
	assert_int_equal(s->targets[0].salen, 0);
	assert_string_equal(s->targets[0].text, "api-3.internal:9003");
	assert_int_equal(config_addr_host_len(&s->targets[0]), 14);
	assert_false(config_addr_is_name(&s->targets[1]));
	assert_int_equal(s->targets[1].sa.ss_family, AF_INET6);
	assert_int_equal(s->targets[1].port, 9004);
	assert_true(config_addr_is_name(&s->targets[2]));
	assert_int_equal(s->targets[2].weight, 3);
	assert_int_equal(config_addr_host_len(&s->targets[2]), 11);
	assert_false(config_addr_is_name(&s->targets[3]));
	/* localhost stays the literal 127.0.0.1, resolved by no one */
	assert_false(config_addr_is_name(&s->targets[4]));
	assert_int_equal(s->targets[4].sa.ss_family, AF_INET);
	assert_int_equal(c->dns.n_servers, 2);
	assert_string_equal(c->dns.servers[1].text, "[::1]:53");
	assert_int_equal(c->dns.min_ttl_ms, 200);
	assert_int_equal(c->dns.max_ttl_ms, 1000);
	assert_int_equal(c->dns.timeout_ms, 300);
	/* the TTL clamped; the back-off doubles from min_ttl_ms */
	assert_int_equal(config_dns_ttl_ms(&c->dns, 0), 200);
	assert_int_equal(config_dns_ttl_ms(&c->dns, 1), 1000);
	assert_int_equal(config_dns_ttl_ms(&c->dns, 86400), 1000);
	assert_int_equal(config_dns_ttl_ms(&c->dns, UINT32_MAX), 1000);
	assert_int_equal(config_dns_backoff_ms(&c->dns, 1), 200);
	assert_int_equal(config_dns_backoff_ms(&c->dns, 2), 400);
	assert_int_equal(config_dns_backoff_ms(&c->dns, 3), 800);
	assert_int_equal(config_dns_backoff_ms(&c->dns, 4), 1000);
	assert_int_equal(config_dns_backoff_ms(&c->dns, 1000), 1000);
	config_put(c);

	/* defaults: the system's resolver */
	c = parse_ok(BASE "services:\n  - name: a\n    targets: [a.b:1]\n");
	assert_int_equal(c->dns.n_servers, 0);
	assert_int_equal(c->dns.min_ttl_ms, 1000);
	assert_int_equal(c->dns.max_ttl_ms, 300000);
	assert_int_equal(c->dns.timeout_ms, 2000);
	assert_int_equal(config_dns_ttl_ms(&c->dns, 30), 30000);
	config_put(c);

	expect_errors(BASE
		      "services:\n"
		      "  - name: api\n"
		      "    targets:\n"
		      "      - bad_name:1\n"
		      "      - -lead.example:1\n"
		      "      - api.example\n"
		      "      - 1.2.3.999:1\n"
		      "      - a..b:1\n"
		      "    tls: {sni: x}\n"
		      "  - name: tls\n"
		      "    targets: [a.example:443]\n"
		      "    tls: {sni: a.example}\n"
		      "dns:\n"
		      "  servers: [ns.example:53]\n"
		      "  min_ttl_ms: 5000\n"
		      "  max_ttl_ms: 1000\n"
		      "  timeout: 1\n",
		      "cfg.yaml:9:9: services[0].targets[0]: invalid address in 'bad_name:1' (an IP literal, localhost or a host name of letters, digits, '-' and '.')\n"
		      "cfg.yaml:10:9: services[0].targets[1]: invalid address in '-lead.example:1' (an IP literal, localhost or a host name of letters, digits, '-' and '.')\n"
		      "cfg.yaml:11:9: services[0].targets[2]: missing port in 'api.example' (expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)\n"
		      "cfg.yaml:12:9: services[0].targets[3]: invalid address in '1.2.3.999:1' (an IP literal, localhost or a host name of letters, digits, '-' and '.')\n"
		      "cfg.yaml:13:9: services[0].targets[4]: invalid address in 'a..b:1' (an IP literal, localhost or a host name of letters, digits, '-' and '.')\n"
		      "cfg.yaml:17:10: services[1].tls: tls is not supported yet for a service with DNS-named targets\n"
		      "cfg.yaml:19:13: dns.servers[0]: invalid IP address in 'ns.example:53' (IP literal or localhost; no DNS names)\n"
		      "cfg.yaml:21:15: dns.max_ttl_ms: max_ttl_ms (1000) is below min_ttl_ms (5000)\n"
		      "cfg.yaml:22:3: dns: unknown key 'timeout' (did you mean 'timeout_ms'?)\n");
}

/* Which host names a target may carry (config_hostname_ok). */
static void test_hostname_ok(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "a", true },
		{ "api-3.internal", true },
		{ "xn--d1acpjx3f.xn--p1ai", true },
		{ "a.b.", true },		/* absolute */
		{ "3com.example", true },
		{ "", false },
		{ ".", false },
		{ "-a", false },
		{ "a-", false },
		{ "a-.b", false },
		{ "a..b", false },
		{ ".a", false },
		{ "a_b", false },
		{ "a b", false },
		{ "a:b", false },
		{ "1.2.3.4", false },		/* digits: an IPv4 literal */
		{ "123", false },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", true },	/* 63 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", false },	/* 64 */
	};
	char big[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *g = guard_copy(cases[i].s, strlen(cases[i].s));

		if (config_hostname_ok(g, strlen(cases[i].s)) != cases[i].ok) {
			print_error("case %zu '%s': want %d\n", i, cases[i].s,
				    cases[i].ok);
			fail();
		}
	}
	/* 253 bytes in all at most: labels of 9 and dots */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = i % 10 == 9 ? '.' : 'a';
	assert_true(config_hostname_ok(big, 249));
	assert_true(config_hostname_ok(big, 253 - 4));
	assert_false(config_hostname_ok(big, 259));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_admin_and_allowlist_defaults),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_range_errors),
		cmocka_unit_test(test_address_errors),
		cmocka_unit_test(test_unix_targets),
		cmocka_unit_test(test_upstream_tls),
		cmocka_unit_test(test_upstream_protocol),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_multiple_errors_sorted),
		cmocka_unit_test(test_too_many_errors),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_no_trailing_newline),
		cmocka_unit_test(test_http_section),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_ops_keys),
		cmocka_unit_test(test_cluster_section),
		cmocka_unit_test(test_xdp_limits_keys),
		cmocka_unit_test(test_xdp_syncookie_keys),
		cmocka_unit_test(test_load_denylist_and_classes),
		cmocka_unit_test(test_dns_targets),
		cmocka_unit_test(test_hostname_ok),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_guard);
}
