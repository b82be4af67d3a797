/*
 * test_catchup — the catch-up FIFO: order, due times, growth past its first
 * allocation with the ring wrapped, and an empty queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "catchup.h"

static void vin_of(int i, char *vin)
{
	snprintf(vin, PW_VIN_LEN + 1, "LSVTEST%010d", i);
}

static void test_due_in_order(void **state)
{
	struct catchup *q = catchup_new();
	char vin[PW_VIN_LEN + 1], want[PW_VIN_LEN + 1];

	(void)state;
	assert_non_null(q);
	assert_int_equal(catchup_pop_due(q, 1000, vin), 0); /* empty */
	for (int i = 0; i < 3; i++) {
		vin_of(i, want);
		assert_int_equal(catchup_push(q, want, 100 + i * 10), PW_OK);
	}
	assert_int_equal(catchup_count(q), 3);
	assert_int_equal(catchup_pop_due(q, 99, vin), 0); /* none due yet */
	assert_int_equal(catchup_pop_due(q, 110, vin), 1);
	vin_of(0, want);
	assert_string_equal(vin, want);
	assert_int_equal(catchup_pop_due(q, 110, vin), 1);
	vin_of(1, want);
	assert_string_equal(vin, want);
	assert_int_equal(catchup_pop_due(q, 110, vin), 0); /* the third is due at 120 */
	assert_int_equal(catchup_count(q), 1);
	catchup_free(q);
	catchup_free(NULL);
}

/* Pushes and pops interleaved so the ring wraps, then grows: order kept. */
static void test_grows_wrapped(void **state)
{
	struct catchup *q = catchup_new();
	char vin[PW_VIN_LEN + 1], want[PW_VIN_LEN + 1];
	int next_in = 0, next_out = 0;

	(void)state;
	for (int round = 0; round < 50; round++) {
		for (int k = 0; k < 7; k++) {
			vin_of(next_in, want);
			assert_int_equal(catchup_push(q, want, next_in), PW_OK);
			next_in++;
		}
		for (int k = 0; k < 5; k++) {
			assert_int_equal(catchup_pop_due(q, next_in, vin), 1);
			vin_of(next_out++, want);
			assert_string_equal(vin, want);
		}
	}
	assert_int_equal(catchup_count(q), (size_t)(next_in - next_out));
	while (catchup_pop_due(q, next_in, vin)) {
		vin_of(next_out++, want);
		assert_string_equal(vin, want);
	}
	assert_int_equal(next_out, next_in);
	catchup_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_due_in_order),
	    cmocka_unit_test(test_grows_wrapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
