/*
 * test_api — the API's pure helpers: query arguments (lookup, integers with
 * ranges), path patterns with a one-segment wildcard, VIN shape and UTF-8
 * character counts (the note limit). The endpoints themselves are tested
 * against the real gateway in tests/integration/test_api.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api.h"
#include "pw.h"

static void test_arg_lookup(void **state)
{
	const char *args[] = {"q=鲁A", "limit=10", "flag", "limit=20", "empty="};
	int n = (int)PW_ARRAY_LEN(args);

	(void)state;
	assert_string_equal(api_arg(args, n, "q"), "鲁A");
	assert_string_equal(api_arg(args, n, "limit"), "10"); /* the first wins */
	assert_string_equal(api_arg(args, n, "flag"), "");
	assert_string_equal(api_arg(args, n, "empty"), "");
	assert_null(api_arg(args, n, "lim"));    /* a prefix is not the name */
	assert_null(api_arg(args, n, "limit1")); /* nor a longer one */
	assert_null(api_arg(args, n, "offset"));
	assert_null(api_arg(NULL, 0, "q"));
}

static void test_arg_int(void **state)
{
	const char *args[] = {"a=7",  "b=",   "c=-3", "d=12x", "e=1.5", "f=999999999999999999999",
	                      "g=+4", "h= 5", "i=0",  "j=-"};
	int n = (int)PW_ARRAY_LEN(args);
	long v = -1;

	(void)state;
	assert_int_equal(api_arg_int(args, n, "a", 1, 200, 50, &v), PW_OK);
	assert_int_equal(v, 7);
	assert_int_equal(api_arg_int(args, n, "b", 1, 200, 50, &v), PW_OK);
	assert_int_equal(v, 50); /* empty: the default */
	assert_int_equal(api_arg_int(args, n, "zz", 1, 200, 50, &v), PW_OK);
	assert_int_equal(v, 50); /* absent: the default */
	assert_int_equal(api_arg_int(args, n, "c", -5, 5, 0, &v), PW_OK);
	assert_int_equal(v, -3);
	assert_int_equal(api_arg_int(args, n, "c", 0, 5, 0, &v), PW_EINVAL); /* below min */
	assert_int_equal(api_arg_int(args, n, "a", 1, 6, 0, &v), PW_EINVAL); /* above max */
	assert_int_equal(api_arg_int(args, n, "d", 0, 100, 0, &v), PW_EINVAL);
	assert_int_equal(api_arg_int(args, n, "e", 0, 100, 0, &v), PW_EINVAL);
	assert_int_equal(api_arg_int(args, n, "f", 0, 100, 0, &v), PW_EINVAL);
	assert_int_equal(api_arg_int(args, n, "g", 0, 100, 0, &v), PW_EINVAL);
	assert_int_equal(api_arg_int(args, n, "h", 0, 100, 0, &v), PW_EINVAL);
	assert_int_equal(api_arg_int(args, n, "j", -100, 100, 0, &v), PW_EINVAL);
	assert_int_equal(api_arg_int(args, n, "i", 0, 100, 9, &v), PW_OK);
	assert_int_equal(v, 0);
}

static void test_path_match(void **state)
{
	const char *seg = NULL;
	size_t len = 0;

	(void)state;
	assert_true(api_path_match("/api/vehicles", "/api/vehicles", NULL, NULL));
	assert_false(api_path_match("/api/vehicles", "/api/vehicles/", NULL, NULL));
	assert_false(api_path_match("/api/vehicles", "/api/vehicle", NULL, NULL));
	assert_false(api_path_match("/api/vehicles", "/api/vehiclesX", NULL, NULL));
	assert_true(api_path_match("/api/vehicles/*", "/api/vehicles/LSV123", &seg, &len));
	assert_int_equal(len, 6);
	assert_memory_equal(seg, "LSV123", 6);
	assert_false(api_path_match("/api/vehicles/*", "/api/vehicles/", NULL, NULL));
	assert_false(api_path_match("/api/vehicles/*", "/api/vehicles/a/b", NULL, NULL));
	assert_false(api_path_match("/api/vehicles/*", "/api/vehicles", NULL, NULL));
	assert_true(api_path_match("/api/alerts/*", "/api/alerts/..", &seg, &len));
	assert_int_equal(len, 2); /* a handler still checks what it got */
	assert_true(api_path_match("/api/*/log", "/api/7/log", &seg, &len));
	assert_memory_equal(seg, "7", 1);
}

static void test_vin(void **state)
{
	(void)state;
	assert_true(api_vin_valid("LSVCA2280N4100248", 17));
	assert_false(api_vin_valid("LSVCA2280N410024", 16));
	assert_false(api_vin_valid("LSVCA2280N41002489", 18));
	assert_false(api_vin_valid("lsvca2280n4100248", 17)); /* upper case only */
	assert_false(api_vin_valid("LSVCA2280N410024I", 17)); /* no I, O, Q */
	assert_false(api_vin_valid("LSVCA2280N410024O", 17));
	assert_false(api_vin_valid("LSVCA2280N410024Q", 17));
	assert_false(api_vin_valid("LSVCA2280N41002-8", 17));
	assert_false(api_vin_valid("LSVCA2280N41002\0"
	                           "8",
	                           17));
}

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(api_utf8_len(""), 0);
	assert_int_equal(api_utf8_len("abc"), 3);
	assert_int_equal(api_utf8_len("客户说下周续保"), 7);
	assert_int_equal(api_utf8_len("a\xF0\x9F\x9A\x97"
	                              "b"),
	                 3);                                    /* a car emoji */
	assert_int_equal(api_utf8_len("\xC0\xAF"), -1);         /* overlong '/' */
	assert_int_equal(api_utf8_len("\xE5\xAE"), -1);         /* cut short */
	assert_int_equal(api_utf8_len("\x80"), -1);             /* lone continuation */
	assert_int_equal(api_utf8_len("\xF5\x80\x80\x80"), -1); /* beyond U+10FFFF */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arg_lookup), cmocka_unit_test(test_arg_int),
	    cmocka_unit_test(test_path_match), cmocka_unit_test(test_vin),
	    cmocka_unit_test(test_utf8_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
