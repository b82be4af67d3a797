/*
 * test_dtcset — interned DTC sets: equal sets are one copy, the empty set
 * is never interned, references keep a set, collect frees the idle ones
 * (and only them), the bound on idle sets holds, and the index grows and
 * empties again without a leak (ASan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dtcset.h"

/* A canonical entry: code NUL-padded. */
static struct pw_dtc entry(const char *code, int status, int mil)
{
	struct pw_dtc d;

	memset(&d, 0, sizeof(d));
	memcpy(d.code, code, 5);
	d.status = (uint8_t)status;
	d.mil = (uint8_t)mil;
	return d;
}

static const struct pw_dtc *intern_ok(struct dtcset_pool *p, const struct pw_dtc *d, int n)
{
	const struct pw_dtc *out = NULL;

	assert_int_equal(dtcset_intern(p, d, n, &out), PW_OK);
	assert_non_null(out);
	return out;
}

static void test_bad_and_empty(void **unused)
{
	struct dtcset_pool *p = dtcset_pool_new(0);
	struct pw_dtc d[PW_DTC_MAX + 1];
	const struct pw_dtc *out = NULL;

	(void)unused;
	assert_non_null(p);
	memset(d, 0, sizeof(d));
	/* the empty set is NULL, never interned */
	assert_int_equal(dtcset_intern(p, d, 0, &out), PW_EINVAL);
	assert_int_equal(dtcset_intern(p, d, PW_DTC_MAX + 1, &out), PW_EINVAL);
	assert_null(out);
	dtcset_ref(p, NULL);
	dtcset_unref(p, NULL);
	assert_int_equal(dtcset_count(p), 0);
	assert_int_equal(dtcset_idle(p), 0);
	assert_int_equal(dtcset_collect(p), 0);
	assert_true(dtcset_memory_bytes(p) > 0);
	dtcset_pool_free(p);
	dtcset_pool_free(NULL);
}

static void test_equal_sets_shared(void **unused)
{
	struct dtcset_pool *p = dtcset_pool_new(0);
	struct pw_dtc a[2] = {entry("C0035", PW_DTC_PENDING, 0),
	                      entry("P0301", PW_DTC_CONFIRMED, 1)};
	struct pw_dtc b[2];
	const struct pw_dtc *x, *y, *z;
	size_t bytes;

	(void)unused;
	memcpy(b, a, sizeof(a));
	x = intern_ok(p, a, 2);
	bytes = dtcset_memory_bytes(p);
	y = intern_ok(p, b, 2);
	assert_ptr_equal(x, y); /* one copy */
	assert_int_equal(dtcset_count(p), 1);
	assert_int_equal(dtcset_memory_bytes(p), bytes); /* nothing allocated */
	assert_ptr_not_equal(x, a);                      /* the pool's own copy */
	assert_memory_equal(x, a, sizeof(a));
	a[1].code[0] = 'U'; /* the caller's array is not the set */
	assert_string_equal(x[1].code, "P0301");

	/* a prefix, another status, the MIL: all other sets */
	z = intern_ok(p, b, 1);
	assert_ptr_not_equal(z, x);
	b[1].status = PW_DTC_PERMANENT;
	assert_ptr_not_equal(intern_ok(p, b, 2), x);
	b[1].status = PW_DTC_CONFIRMED;
	b[1].mil = 0;
	assert_ptr_not_equal(intern_ok(p, b, 2), x);
	assert_int_equal(dtcset_count(p), 4);
	dtcset_pool_free(p);
}

static void test_references_and_collect(void **unused)
{
	struct dtcset_pool *p = dtcset_pool_new(0);
	struct pw_dtc a = entry("P0420", PW_DTC_PENDING, 0),
	              b = entry("U0100", PW_DTC_CONFIRMED, 1);
	const struct pw_dtc *x, *y;

	(void)unused;
	/* new sets are idle until referenced */
	x = intern_ok(p, &a, 1);
	y = intern_ok(p, &b, 1);
	assert_int_equal(dtcset_idle(p), 2);
	assert_ptr_not_equal(x, y);
	dtcset_ref(p, x);
	dtcset_ref(p, x);
	assert_int_equal(dtcset_idle(p), 1);
	assert_int_equal(dtcset_collect(p), 1); /* y: nobody holds it */
	assert_int_equal(dtcset_count(p), 1);
	assert_int_equal(dtcset_collect(p), 0); /* nothing idle: nothing to do */

	/* one of two references dropped: kept */
	dtcset_unref(p, x);
	assert_int_equal(dtcset_idle(p), 0);
	assert_int_equal(dtcset_collect(p), 0);
	assert_string_equal(x[0].code, "P0420");

	/* the last dropped, then taken again before the collect: kept */
	dtcset_unref(p, x);
	assert_int_equal(dtcset_idle(p), 1);
	dtcset_ref(p, x);
	assert_int_equal(dtcset_idle(p), 0);
	assert_int_equal(dtcset_collect(p), 0);
	assert_int_equal(dtcset_count(p), 1);
	assert_ptr_equal(intern_ok(p, &a, 1), x);

	/* ... and dropped again after that collect: idle once more, freed */
	dtcset_unref(p, x);
	assert_int_equal(dtcset_collect(p), 1);
	assert_int_equal(dtcset_count(p), 0);
	assert_int_equal(dtcset_idle(p), 0);
	dtcset_pool_free(p);
}

/* At most idle_max idle sets: a new one beyond fails, known ones do not. */
static void test_idle_bound(void **unused)
{
	struct dtcset_pool *p = dtcset_pool_new(2);
	struct pw_dtc a = entry("P0001", 1, 0), b = entry("P0002", 1, 0), c = entry("P0003", 1, 0);
	const struct pw_dtc *x, *out = NULL;

	(void)unused;
	x = intern_ok(p, &a, 1);
	intern_ok(p, &b, 1);
	assert_int_equal(dtcset_intern(p, &c, 1, &out), PW_ENOMEM);
	assert_null(out);
	assert_int_equal(dtcset_count(p), 2);
	assert_ptr_equal(intern_ok(p, &a, 1), x); /* known: no new set needed */
	dtcset_ref(p, x);                         /* held: no longer idle */
	intern_ok(p, &c, 1);
	assert_int_equal(dtcset_intern(p, &(struct pw_dtc){"P0004", 1, 0}, 1, &out), PW_ENOMEM);
	assert_int_equal(dtcset_collect(p), 2);
	assert_int_equal(dtcset_count(p), 1);
	intern_ok(p, &(struct pw_dtc){"P0004", 1, 0}, 1);
	dtcset_pool_free(p);
}

/* Many distinct sets: the index grows, every set is found again, and once
 * nobody holds them all go (ASan checks nothing leaks). */
static void test_many(void **unused)
{
	enum { N = 20000 };
	static const struct pw_dtc *held[N];
	struct dtcset_pool *p = dtcset_pool_new(N);
	size_t empty = dtcset_memory_bytes(p);
	char code[8];

	(void)unused;
	for (int i = 0; i < N; i++) {
		struct pw_dtc d[3];
		int n = 1 + i % 3;

		for (int k = 0; k < n; k++) {
			snprintf(code, sizeof(code), "B%04X", (i + k * 7) & 0xffff);
			d[k] = entry(code, 1 + k, i & 1);
		}
		held[i] = intern_ok(p, d, n);
		dtcset_ref(p, held[i]);
	}
	assert_int_equal(dtcset_count(p), N);
	assert_int_equal(dtcset_idle(p), 0);
	assert_int_equal(dtcset_collect(p), 0);
	print_message("%d sets of 1-3 codes: %zu bytes, %.1f per set\n", N, dtcset_memory_bytes(p),
	              (double)(dtcset_memory_bytes(p) - empty) / N);
	for (int i = 0; i < N; i++) {
		struct pw_dtc d[3];
		int n = 1 + i % 3;

		for (int k = 0; k < n; k++) {
			snprintf(code, sizeof(code), "B%04X", (i + k * 7) & 0xffff);
			d[k] = entry(code, 1 + k, i & 1);
		}
		assert_ptr_equal(intern_ok(p, d, n), held[i]);
	}
	for (int i = 0; i < N; i++)
		dtcset_unref(p, held[i]);
	assert_int_equal(dtcset_idle(p), N);
	assert_int_equal(dtcset_collect(p), N);
	assert_int_equal(dtcset_count(p), 0);
	dtcset_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_and_empty),
	    cmocka_unit_test(test_equal_sets_shared),
	    cmocka_unit_test(test_references_and_collect),
	    cmocka_unit_test(test_idle_bound),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
