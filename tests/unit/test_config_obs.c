// SPDX-License-Identifier: MIT
/* Unit tests for the observability keys of daemon/config/config_keys.c:
 * metrics.* and logging.access_log.* */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"

#define HEAD                                                                   \
	"listeners: [{name: l, address: '127.0.0.1:8080'}]\n"                  \
	"xdp: {enabled: false}\n"

static struct config *ok(const char *tail)
{
	char text[4096];
	struct config *c = NULL;
	char *errs = NULL;

	snprintf(text, sizeof(text), HEAD "%s", tail);
	if (config_parse("o.yaml", text, strlen(text), &c, &errs)) {
		print_error("unexpected errors:\n%s", errs ? errs : "");
		free(errs);
		fail();
	}
	return c;
}

/* Parse must fail with exactly one error line equal to `want`. */
static void bad(const char *tail, const char *want)
{
	char text[4096];
	struct config *c = NULL;
	char *errs = NULL;

	snprintf(text, sizeof(text), HEAD "%s", tail);
	assert_int_equal(config_parse("o.yaml", text, strlen(text), &c, &errs),
			 -EINVAL);
	assert_null(c);
	assert_non_null(errs);
	if (strcmp(errs, want) != 0) {
		print_error("want: %s\ngot:  %s\n", want, errs);
		fail();
	}
	free(errs);
}

static void test_defaults(void **state)
{
	struct config *c = ok("");

	(void)state;
	assert_true(c->metrics.enabled);
	assert_int_equal(c->metrics.n_request_buckets, 0);
	assert_int_equal(c->metrics.n_upstream_buckets, 0);
	assert_string_equal(c->access_log.path, "");
	assert_int_equal(c->access_log.format, CFG_LOG_JSON);
	assert_true(c->access_log.sample == 1.0);
	assert_int_equal(c->access_log.buffer_kb, 256);
	config_put(c);
}

static void test_values(void **state)
{
	struct config *c = ok(
		"metrics:\n"
		"  enabled: false\n"
		"  request_duration_buckets: [0.001, .5, 2, 1e1]\n"
		"  upstream_duration_buckets: [1]\n"
		"logging:\n"
		"  level: warn\n"
		"  access_log:\n"
		"    path: /var/log/sluice/access.log\n"
		"    format: combined\n"
		"    sample: 0.25\n"
		"    buffer_kb: 1024\n");

	(void)state;
	assert_false(c->metrics.enabled);
	assert_int_equal(c->metrics.n_request_buckets, 4);
	assert_true(c->metrics.request_buckets[0] == 0.001);
	assert_true(c->metrics.request_buckets[1] == 0.5);
	assert_true(c->metrics.request_buckets[3] == 10);
	assert_int_equal(c->metrics.n_upstream_buckets, 1);
	assert_string_equal(c->access_log.path, "/var/log/sluice/access.log");
	assert_int_equal(c->access_log.format, CFG_LOG_COMBINED);
	assert_true(c->access_log.sample == 0.25);
	assert_int_equal(c->access_log.buffer_kb, 1024);
	config_put(c);
	c = ok("logging: {access_log: {path: '-', sample: 0}}\n");
	assert_string_equal(c->access_log.path, "-");
	assert_true(c->access_log.sample == 0);
	config_put(c);
	c = ok("logging: {access_log: {path: stdout, sample: 1}}\n");
	config_put(c);
}

static void test_errors(void **state)
{
	(void)state;
	bad("metrics: {request_duration_buckets: [0.1, 0.05]}\n",
	    "o.yaml:3:43: metrics.request_duration_buckets[1]: buckets must be "
	    "strictly increasing (0.05 after 0.1)\n");
	bad("metrics: {request_duration_buckets: [0.1, 0.1]}\n",
	    "o.yaml:3:43: metrics.request_duration_buckets[1]: buckets must be "
	    "strictly increasing (0.1 after 0.1)\n");
	bad("metrics: {request_duration_buckets: [0, 1]}\n",
	    "o.yaml:3:38: metrics.request_duration_buckets[0]: a bucket bound "
	    "must be greater than 0\n");
	bad("metrics: {request_duration_buckets: [1, inf]}\n",
	    "o.yaml:3:41: metrics.request_duration_buckets[1]: expected a number, "
	    "got 'inf'\n");
	bad("metrics: {upstream_duration_buckets: [0x10]}\n",
	    "o.yaml:3:39: metrics.upstream_duration_buckets[0]: expected a number, "
	    "got '0x10'\n");
	bad("metrics: {upstream_duration_buckets: []}\n",
	    "o.yaml:3:38: metrics.upstream_duration_buckets: 0 buckets; 1 to 32 "
	    "are allowed\n");
	bad("metrics: {upstream_duration_buckets: 0.5}\n",
	    "o.yaml:3:38: metrics.upstream_duration_buckets: expected a sequence, "
	    "got '0.5'\n");
	bad("metrics: {bukets: [1]}\n",
	    "o.yaml:3:11: metrics: unknown key 'bukets'\n");
	bad("logging: {access_log: {sample: 1.5}}\n",
	    "o.yaml:3:32: logging.access_log.sample: 1.5 is out of range (0-1)\n");
	bad("logging: {access_log: {sample: '0.5'}}\n",
	    "o.yaml:3:32: logging.access_log.sample: expected a number, got a quoted "
	    "string '0.5'\n");
	bad("logging: {access_log: {format: xml}}\n",
	    "o.yaml:3:32: logging.access_log.format: invalid value 'xml' "
	    "(expected json or combined)\n");
	bad("logging: {access_log: {path: logs/access.log}}\n",
	    "o.yaml:3:30: logging.access_log.path: must be an absolute path, '-' "
	    "or 'stdout': 'logs/access.log'\n");
	bad("logging: {access_log: {buffer_kb: 8}}\n",
	    "o.yaml:3:35: logging.access_log.buffer_kb: 8 is out of range "
	    "(16-65536)\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
