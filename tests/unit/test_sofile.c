// SPDX-License-Identifier: MIT
/*
 * sofile_version(): the version of a loaded shared library from the file
 * the dynamic linker mapped. This executable links libyaml and OpenSSL
 * dynamically, like sluiced; a stem that is not loaded is -ENOENT.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/sofile.h"

static void test_loaded(void **state)
{
	char v[32];

	(void)state;
	/* libc.so.6 is a file, not a link: the name's version is "6" */
	assert_int_equal(sofile_version("libc.so", v, sizeof(v)), 0);
	assert_true(v[0] >= '0' && v[0] <= '9');
	/* libcmocka.so.0 -> libcmocka.so.0.x.y: the link's target */
	assert_int_equal(sofile_version("libcmocka.so", v, sizeof(v)), 0);
	assert_non_null(strchr(v, '.'));
}

static void test_not_loaded(void **state)
{
	char v[32] = "unchanged";

	(void)state;
	assert_int_equal(sofile_version("libnot-a-library.so", v, sizeof(v)),
			 -ENOENT);
	assert_string_equal(v, "unchanged");
	/* a prefix of a loaded name not followed by ".": no version */
	assert_int_equal(sofile_version("libcmock", v, sizeof(v)), -ENOENT);
}

static void test_small_buffer(void **state)
{
	char v[2];

	(void)state;
	assert_int_equal(sofile_version("libcmocka.so", v, sizeof(v)), 0);
	assert_int_equal(strlen(v), 1);		/* truncated, terminated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loaded),
		cmocka_unit_test(test_not_loaded),
		cmocka_unit_test(test_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
