// SPDX-License-Identifier: MIT
/* Unit tests for daemon/config/allowlist.c. Inputs end at a guard page. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/allowlist.h"
#include "unit/guard.h"

static char err[4096];

/* Parse text (exactly len bytes, guard page after) into al. */
static int parse_n(const char *text, size_t len, struct allowlist *al)
{
	const char *buf = guard_copy(text, len);

	memset(err, 0, sizeof(err));
	return allowlist_parse("allow.txt", buf, len, al, err, sizeof(err));
}

static int parse(const char *text, struct allowlist *al)
{
	return parse_n(text, strlen(text), al);
}

/* Expect the single-line input to fail with exactly `want`. */
static void expect_err(const char *text, const char *want)
{
	struct allowlist al = { 0 };

	assert_int_equal(parse(text, &al), -EINVAL);
	assert_string_equal(err, want);
	assert_int_equal(al.n, 0);
	allowlist_free(&al);
}

static void fmt_entry(const struct allowlist_entry *e, char *buf)
{
	allowlist_format(e, buf, INET6_ADDRSTRLEN + 4);
}

static void test_good_file(void **state)
{
	static const char text[] =
		"# office and lab\r\n"
		"\r\n"
		"10.0.0.0/8  # office\r\n"
		"\t192.168.1.7\t\n"
		"   \n"
		"fd00:5c::/64\n"
		"2001:DB8::1\n"
		"0.0.0.0/0\n"
		"::/0\n"
		"198.18.0.0/15";	/* no final newline */
	struct allowlist al = { 0 };
	char b[64];

	assert_int_equal(parse(text, &al), 7);
	assert_int_equal(al.n, 7);

	assert_int_equal(al.entries[0].family, AF_INET);
	assert_int_equal(al.entries[0].prefixlen, 8);
	assert_int_equal(al.entries[0].line, 3);
	fmt_entry(&al.entries[0], b);
	assert_string_equal(b, "10.0.0.0/8");

	assert_int_equal(al.entries[1].prefixlen, 32);
	assert_int_equal(al.entries[1].line, 4);
	fmt_entry(&al.entries[1], b);
	assert_string_equal(b, "192.168.1.7/32");

	assert_int_equal(al.entries[2].family, AF_INET6);
	assert_int_equal(al.entries[2].line, 6);
	fmt_entry(&al.entries[2], b);
	assert_string_equal(b, "fd00:5c::/64");

	fmt_entry(&al.entries[3], b);
	assert_string_equal(b, "2001:db8::1/128");
	fmt_entry(&al.entries[4], b);
	assert_string_equal(b, "0.0.0.0/0");
	fmt_entry(&al.entries[5], b);
	assert_string_equal(b, "::/0");
	fmt_entry(&al.entries[6], b);
	assert_string_equal(b, "198.18.0.0/15");
	assert_int_equal(al.entries[6].line, 10);
	allowlist_free(&al);
}

static void test_appends(void **state)
{
	struct allowlist al = { 0 };

	assert_int_equal(parse("10.0.0.0/8\n", &al), 1);
	assert_int_equal(parse("10.1.0.0/16\n# x\n11.0.0.0/8\n", &al), 2);
	assert_int_equal(al.n, 3);
	assert_int_equal(al.entries[2].line, 3);
	allowlist_free(&al);
	assert_null(al.entries);
	assert_int_equal(al.n, 0);
}

static void test_empty_and_comments(void **state)
{
	struct allowlist al = { 0 };

	assert_int_equal(parse_n("", 0, &al), 0);
	assert_int_equal(parse("\n\n# only comments\n   # indented\n\t\n", &al), 0);
	assert_int_equal(parse("\r\n", &al), 0);
	assert_int_equal(al.n, 0);
	allowlist_free(&al);
}

static void test_errors(void **state)
{
	expect_err("10.0.0.0/8\n10.0.0.1/32\n10.0.0.300/8\n",
		   "allow.txt:3: invalid address: '10.0.0.300/8'");
	expect_err("\n\n\n10.0.0.0/33\n",
		   "allow.txt:4: prefix length out of range (0-32): '10.0.0.0/33'");
	expect_err("a\n", "allow.txt:1: invalid address: 'a'");
	expect_err("1\n\n\n\n10.0.0.1/8\n",
		   "allow.txt:1: invalid address: '1'\n"
		   "allow.txt:5: host bits set (did you mean 10.0.0.0/8?): '10.0.0.1/8'");
	expect_err("fd00::1/64", "allow.txt:1: host bits set (did you mean fd00::/64?): 'fd00::1/64'");
}

/* 10.0.0.0/23 is fine; keep an explicit positive twin of each negative. */
static void test_host_bits_boundaries(void **state)
{
	struct allowlist al = { 0 };

	assert_int_equal(parse("10.0.0.0/23\n10.0.2.0/23\n10.255.255.255/32\n"
			       "128.0.0.0/1\nfd00:5c::/63\nfd00:5c:0:2::/63\n", &al), 6);
	allowlist_free(&al);
	expect_err("10.0.1.0/23",
		   "allow.txt:1: host bits set (did you mean 10.0.0.0/23?): '10.0.1.0/23'");
	expect_err("192.0.0.0/1",
		   "allow.txt:1: host bits set (did you mean 128.0.0.0/1?): '192.0.0.0/1'");
	expect_err("fd00:5c:0:1::/63",
		   "allow.txt:1: host bits set (did you mean fd00:5c::/63?): 'fd00:5c:0:1::/63'");
	expect_err("::1/0", "allow.txt:1: host bits set (did you mean ::/0?): '::1/0'");
}

static void test_strict_addresses(void **state)
{
	static const char *const bad[] = {
		"010.0.0.1",	 "10.0.0.01",  "10.0.0",     "10.0.0.0.0",
		"10.0.0.256",	 "1.2.3.4.",   ".1.2.3.4",   "0x0a.0.0.1",
		"10..0.1",	 "1.2.3.-4",   "+1.2.3.4",   "1.2.3.4a",
		"1.2.3.0001",	 "fe80::1%eth0", "[::1]",    ":::",
		"1::2::3",	 "12345::",    "::ffff:01.2.3.4", "g::1",
		"10.0.0.1:80",	 "1.2.3.4 5",
	};
	char want[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *t = bad[i];

		if (!strcmp(t, "1.2.3.4 5")) {
			expect_err(t, "allow.txt:1: unknown option: '5'");
			continue;
		}
		snprintf(want, sizeof(want), "allow.txt:1: invalid address: '%s'", t);
		expect_err(t, want);
	}
}

static void test_prefix_errors(void **state)
{
	expect_err("10.0.0.0/", "allow.txt:1: missing prefix length: '10.0.0.0/'");
	expect_err("10.0.0.0/08", "allow.txt:1: invalid prefix length: '10.0.0.0/08'");
	expect_err("10.0.0.0/+8", "allow.txt:1: invalid prefix length: '10.0.0.0/+8'");
	expect_err("10.0.0.0/-1", "allow.txt:1: invalid prefix length: '10.0.0.0/-1'");
	expect_err("10.0.0.0/8/8", "allow.txt:1: invalid prefix length: '10.0.0.0/8/8'");
	expect_err("10.0.0.0/0008", "allow.txt:1: invalid prefix length: '10.0.0.0/0008'");
	expect_err("::/129", "allow.txt:1: prefix length out of range (0-128): '::/129'");
	expect_err("::/1000", "allow.txt:1: invalid prefix length: '::/1000'");
	expect_err("/8", "allow.txt:1: invalid address: '/8'");
}

static void test_options(void **state)
{
	struct allowlist al = { 0 };
	char e2[512];
	static const char text[] =
		"198.51.100.0/24 rate=500/s burst=1000 syn=20/s\n"
		"10.0.0.0/8\tsyn_burst=7 syn=3/s # trailing comment\n"
		"fd00:5c::/64 rate=1/s\n"
		"192.0.2.1\n";

	assert_int_equal(allowlist_parse("a", text, strlen(text), &al, e2,
					 sizeof(e2)), 4);
	assert_int_equal(al.entries[0].rate, 500);
	assert_int_equal(al.entries[0].burst, 1000);
	assert_int_equal(al.entries[0].syn, 20);
	assert_int_equal(al.entries[0].syn_burst, 0);
	assert_true(allowlist_has_options(&al.entries[0]));
	assert_int_equal(al.entries[1].rate, 0);
	assert_int_equal(al.entries[1].syn, 3);
	assert_int_equal(al.entries[1].syn_burst, 7);
	assert_int_equal(al.entries[2].rate, 1);
	assert_int_equal(al.entries[2].family, AF_INET6);
	assert_false(allowlist_has_options(&al.entries[3]));
	allowlist_free(&al);
}

static void test_option_errors(void **state)
{
	expect_err("10.0.0.0/8 rate=100", "allow.txt:1: invalid rate (want N/s with N from 1 to 100000000): 'rate=100'");
	expect_err("10.0.0.0/8 rate=0/s", "allow.txt:1: invalid rate (want N/s with N from 1 to 100000000): 'rate=0/s'");
	expect_err("10.0.0.0/8 rate=010/s", "allow.txt:1: invalid rate (want N/s with N from 1 to 100000000): 'rate=010/s'");
	expect_err("10.0.0.0/8 rate=100000001/s", "allow.txt:1: invalid rate (want N/s with N from 1 to 100000000): 'rate=100000001/s'");
	expect_err("10.0.0.0/8 rate=5/m", "allow.txt:1: invalid rate (want N/s with N from 1 to 100000000): 'rate=5/m'");
	expect_err("10.0.0.0/8 rate=-5/s", "allow.txt:1: invalid rate (want N/s with N from 1 to 100000000): 'rate=-5/s'");
	expect_err("10.0.0.0/8\tburst=5/s # c\n", "allow.txt:1: invalid burst (want N with N from 1 to 100000000): 'burst=5/s'");
	expect_err("10.0.0.0/8 burst=", "allow.txt:1: invalid burst (want N with N from 1 to 100000000): 'burst='");
	expect_err("10.0.0.0/8 syn", "allow.txt:1: option syn needs a value (syn=N/s): 'syn'");
	expect_err("10.0.0.0/8 syn=1/s syn=2/s", "allow.txt:1: option syn given twice: 'syn=2/s'");
	expect_err("10.0.0.0/8 syn_burst=99999999999", "allow.txt:1: invalid syn_burst (want N with N from 1 to 100000000): 'syn_burst=99999999999'");
	expect_err("10.0.0.0/8 Rate=1/s", "allow.txt:1: unknown option: 'Rate=1/s'");
	expect_err("10.0.0.0/8 rate =1/s", "allow.txt:1: option rate needs a value (rate=N/s): 'rate'");
	expect_err("10.0.0.0/8 foo", "allow.txt:1: unknown option: 'foo'");
	expect_err("10.0.0.0/8 10.1.0.0/16", "allow.txt:1: unknown option: '10.1.0.0/16'");
}

static void test_denylist_refuses_options(void **state)
{
	struct allowlist al = { 0 };
	char e2[256];
	static const char ok[] = "10.0.0.0/8\n";
	static const char bad[] = "10.0.0.0/8\n10.1.0.0/16 rate=5/s\n";

	assert_int_equal(allowlist_parse_flags("deny.txt", ok, strlen(ok), &al,
					       ALLOWLIST_NO_OPTIONS, e2,
					       sizeof(e2)), 1);
	assert_int_equal(allowlist_parse_flags("deny.txt", bad, strlen(bad),
					       &al, ALLOWLIST_NO_OPTIONS, e2,
					       sizeof(e2)), -EINVAL);
	assert_string_equal(e2, "deny.txt:2: options are not allowed in a denylist: 'rate=5/s'");
	assert_int_equal(al.n, 1);
	allowlist_free(&al);
}

static void test_nul_and_control_bytes(void **state)
{
	static const char nul[] = "10.0.0.0/8\n10.1.0.0/16\0 # x\n";
	static const char bin[] = "\x7f" "ELF\x01\n";
	struct allowlist al = { 0 };

	assert_int_equal(parse_n(nul, sizeof(nul) - 1, &al), -EINVAL);
	assert_string_equal(err, "allow.txt:2: NUL byte in line: '10.1.0.0/16\\x00 # x'");
	assert_int_equal(al.n, 0);
	expect_err("10.0.0.0/8\r\r\n", "allow.txt:1: invalid prefix length: '10.0.0.0/8\\x0d'");
	expect_err("10.0.0.1\r\r\n", "allow.txt:1: invalid address: '10.0.0.1\\x0d'");
	expect_err(bin, "allow.txt:1: invalid address: '\\x7fELF\\x01'");
	/* an old-Mac file (CR only) is one long bad line */
	expect_err("10.0.0.0/8\r10.1.0.0/16\r",
		   "allow.txt:1: invalid prefix length: '10.0.0.0/8\\x0d10.1.0.0/16'");
	allowlist_free(&al);
}

static void test_long_line(void **state)
{
	size_t n = 100000;
	char *big = malloc(n + 1), want[256];
	struct allowlist al = { 0 };

	assert_non_null(big);
	memset(big, '1', n);
	big[n] = '\0';
	assert_int_equal(parse(big, &al), -EINVAL);
	snprintf(want, sizeof(want), "allow.txt:1: invalid address: '%.80s...'", big);
	assert_string_equal(err, want);

	/* a long comment is fine */
	big[0] = '#';
	memcpy(big + n - 12, "\n10.0.0.0/8\n", 12);
	assert_int_equal(parse(big, &al), 1);
	assert_int_equal(al.entries[0].line, 2);
	/* a long run of blanks before the address too */
	memset(big, ' ', n - 12);
	assert_int_equal(parse(big, &al), 1);
	allowlist_free(&al);
	free(big);
}

static void test_mapped_v6_stored_as_v6(void **state)
{
	struct allowlist_entry e;
	char b[64];

	assert_int_equal(allowlist_parse_cidr("::ffff:192.0.2.1", &e, err, sizeof(err)), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.prefixlen, 128);
	fmt_entry(&e, b);
	assert_string_equal(b, "::ffff:192.0.2.1/128");
	assert_int_equal(allowlist_parse_cidr("::ffff:192.0.2.0/120", &e, err, sizeof(err)), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.prefixlen, 120);
}

static void test_parse_cidr(void **state)
{
	struct allowlist_entry e;
	static const uint8_t v4[4] = { 198, 18, 0, 0 };

	memset(&e, 0xaa, sizeof(e));
	assert_int_equal(allowlist_parse_cidr("198.18.0.0/15", &e, err, sizeof(err)), 0);
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.prefixlen, 15);
	assert_memory_equal(e.addr, v4, 4);
	for (int i = 4; i < 16; i++)
		assert_int_equal(e.addr[i], 0);

	assert_int_equal(allowlist_parse_cidr("fd00:5c::1", &e, err, sizeof(err)), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.prefixlen, 128);
	assert_int_equal(e.addr[0], 0xfd);
	assert_int_equal(e.addr[3], 0x5c);
	assert_int_equal(e.addr[15], 1);

	assert_int_equal(allowlist_parse_cidr("1.2.3.4/33", &e, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "prefix length out of range (0-32): '1.2.3.4/33'");
	assert_int_equal(allowlist_parse_cidr("", &e, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid address: ''");
	/* a short buffer truncates, never overflows */
	assert_int_equal(allowlist_parse_cidr("nope", &e, err, 8), -EINVAL);
	assert_string_equal(err, "invalid");
	assert_int_equal(allowlist_parse_cidr("nope", &e, NULL, 0), -EINVAL);
}

static void test_format(void **state)
{
	struct allowlist_entry e = { .family = AF_INET, .prefixlen = 24,
				     .addr = { 192, 0, 2, 0 } };
	char b[INET6_ADDRSTRLEN + 4];

	allowlist_format(&e, b, sizeof(b));
	assert_string_equal(b, "192.0.2.0/24");
	allowlist_format(&e, b, 5);
	assert_string_equal(b, "192.");
	e.family = 99;
	allowlist_format(&e, b, sizeof(b));
	assert_string_equal(b, "?");
}

static void test_normalize(void **state)
{
	struct allowlist al = { 0 };
	char b[64];

	assert_int_equal(parse("fd00::/16\n10.0.0.0/8\n10.0.0.0/16\n10.0.0.0/8\n"
			       "9.0.0.0/8\nfd00::/16\n10.0.0.0/8\n", &al), 7);
	allowlist_normalize(&al);
	assert_int_equal(al.n, 4);
	fmt_entry(&al.entries[0], b);
	assert_string_equal(b, "9.0.0.0/8");
	fmt_entry(&al.entries[1], b);
	assert_string_equal(b, "10.0.0.0/8");
	assert_int_equal(al.entries[1].line, 2);	/* first occurrence kept */
	fmt_entry(&al.entries[2], b);
	assert_string_equal(b, "10.0.0.0/16");
	fmt_entry(&al.entries[3], b);
	assert_string_equal(b, "fd00::/16");
	allowlist_normalize(&al);
	assert_int_equal(al.n, 4);
	allowlist_free(&al);
	allowlist_normalize(&al);	/* empty: no-op */
	assert_int_equal(al.n, 0);
}

static void test_error_keeps_list(void **state)
{
	struct allowlist al = { 0 };

	assert_int_equal(parse("10.0.0.0/8\n", &al), 1);
	assert_int_equal(parse("11.0.0.0/8\n12.0.0.0/8\nbad\n13.0.0.0/8\n", &al), -EINVAL);
	assert_string_equal(err, "allow.txt:3: invalid address: 'bad'");
	assert_int_equal(al.n, 1);
	assert_int_equal(al.entries[0].addr[0], 10);
	allowlist_free(&al);
}

static void test_many_errors_truncated(void **state)
{
	struct allowlist al = { 0 };
	char small[100];
	const char *text = "a\nb\nc\nd\ne\nf\n";
	const char *buf = guard_copy(text, strlen(text));

	assert_int_equal(allowlist_parse("x", buf, strlen(text), &al, small,
					 sizeof(small)), -EINVAL);
	/* whole lines only, then a count of the rest */
	assert_string_equal(small,
			    "x:1: invalid address: 'a'\n"
			    "x:2: invalid address: 'b'\n"
			    "x: 4 more error(s) not shown");
	assert_int_equal(allowlist_parse("x", buf, strlen(text), &al, NULL, 0),
			 -EINVAL);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/sluice-al-XXXXXX", path[256], want[512];
	struct allowlist al = { 0 };
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/allow.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("198.18.0.0/24\nfd00:5c::/64\n", f);
	fclose(f);
	assert_int_equal(allowlist_load_file(path, &al, err, sizeof(err)), 2);
	assert_int_equal(al.n, 2);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("198.18.0.0/24\n198.18.0.1/24\n", f);
	fclose(f);
	assert_int_equal(allowlist_load_file(path, &al, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: host bits set (did you mean 198.18.0.0/24?): '198.18.0.1/24'", path);
	assert_string_equal(err, want);
	assert_int_equal(al.n, 2);
	unlink(path);

	assert_int_equal(allowlist_load_file(path, &al, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(allowlist_load_file(dir, &al, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", dir);
	assert_string_equal(err, want);
	/* /dev/null: empty, not a regular file */
	assert_int_equal(allowlist_load_file("/dev/null", &al, err, sizeof(err)), 0);
	rmdir(dir);
	allowlist_free(&al);
}

static int teardown_guard(void **state)
{
	guard_free();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_empty_and_comments),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_host_bits_boundaries),
		cmocka_unit_test(test_strict_addresses),
		cmocka_unit_test(test_prefix_errors),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_denylist_refuses_options),
		cmocka_unit_test(test_nul_and_control_bytes),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_mapped_v6_stored_as_v6),
		cmocka_unit_test(test_parse_cidr),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_error_keeps_list),
		cmocka_unit_test(test_many_errors_truncated),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_guard);
}
