/*
 * test_ctlq — the control queue: pushes coalesce by vin, a full queue
 * refuses, ctlq_apply writes the thresholds into the vehicles' memos (and
 * skips vehicles the state does not hold), and pushes from several threads
 * at once lose nothing (run under TSan in CI).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ctlq.h"
#include "pw.h"
#include "state.h"

static void vin_of(int i, char vin[PW_VIN_LEN + 1])
{
	snprintf(vin, PW_VIN_LEN + 1, "LSVTEST0X%08d", i);
}

static void put_vehicle(struct state *st, const char *vin, float due_km)
{
	struct pw_vehicle v;

	state_vehicle_init(&v, vin);
	v.rules.maint_due_km = due_km;
	assert_int_equal(state_put(st, &v), PW_OK);
}

static void test_push_apply(void **unused)
{
	struct ctlq *q = ctlq_new(4);
	struct state *st = state_new(16);
	char a[PW_VIN_LEN + 1], b[PW_VIN_LEN + 1], c[PW_VIN_LEN + 1];

	(void)unused;
	assert_non_null(q);
	vin_of(1, a);
	vin_of(2, b);
	vin_of(3, c);
	put_vehicle(st, a, 14000);
	put_vehicle(st, b, 9000);
	assert_int_equal(ctlq_push_thresholds(q, a, 20000, 21000), PW_OK);
	assert_int_equal(ctlq_push_thresholds(q, a, 39440, 40440), PW_OK); /* replaces */
	assert_int_equal(ctlq_push_thresholds(q, b, 9000, 10000), PW_OK);  /* unchanged */
	assert_int_equal(ctlq_push_thresholds(q, c, 5000, 6000), PW_OK);   /* not in state */
	assert_int_equal(ctlq_pending(q), 3);
	assert_int_equal(ctlq_apply(q, st), 1);
	assert_int_equal(ctlq_pending(q), 0);
	assert_true(state_find(st, a)->rules.maint_due_km == 39440.0f);
	assert_true(state_find(st, b)->rules.maint_due_km == 9000.0f);
	assert_null(state_find(st, c));
	assert_int_equal(ctlq_apply(q, st), 0);
	state_free(st);
	ctlq_free(q);
}

static void test_full_and_bad(void **unused)
{
	struct ctlq *q = ctlq_new(2);
	char v[PW_VIN_LEN + 1];

	(void)unused;
	vin_of(1, v);
	assert_int_equal(ctlq_push_thresholds(q, v, 1, 2), PW_OK);
	vin_of(2, v);
	assert_int_equal(ctlq_push_thresholds(q, v, 1, 2), PW_OK);
	vin_of(3, v);
	assert_int_equal(ctlq_push_thresholds(q, v, 1, 2), PW_EBUSY);
	vin_of(2, v);
	assert_int_equal(ctlq_push_thresholds(q, v, 3, 4), PW_OK); /* coalesces when full */
	assert_int_equal(ctlq_push_thresholds(q, "SHORT", 1, 2), PW_EINVAL);
	assert_int_equal(ctlq_push_thresholds(q, NULL, 1, 2), PW_EINVAL);
	assert_int_equal(ctlq_push_thresholds(NULL, v, 1, 2), PW_EINVAL);
	assert_int_equal(ctlq_apply(q, NULL), 0); /* no state: dropped */
	assert_int_equal(ctlq_pending(q), 0);
	assert_int_equal(ctlq_apply(NULL, NULL), 0);
	ctlq_free(q);
	ctlq_free(NULL);
}

struct pusher {
	struct ctlq *q;
	int base;
};

static void *push_many(void *arg)
{
	struct pusher *p = arg;
	char v[PW_VIN_LEN + 1];

	for (int i = 0; i < 100; i++) {
		vin_of(p->base + i, v);
		while (ctlq_push_thresholds(p->q, v, 1000.0 + i, 2000.0 + i) == PW_EBUSY)
			; /* the consumer makes room */
	}
	return NULL;
}

static void test_threads(void **unused)
{
	struct ctlq *q = ctlq_new(16);
	struct state *st = state_new(512);
	struct pusher p[4];
	pthread_t t[4];
	int applied = 0;
	char v[PW_VIN_LEN + 1];

	(void)unused;
	for (int i = 0; i < 400; i++) {
		vin_of(i, v);
		put_vehicle(st, v, 0);
	}
	for (int i = 0; i < 4; i++) {
		p[i] = (struct pusher){.q = q, .base = i * 100};
		assert_int_equal(pthread_create(&t[i], NULL, push_many, &p[i]), 0);
	}
	while (applied < 400)
		applied += ctlq_apply(q, st);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(applied, 400);
	for (int i = 0; i < 400; i++) {
		vin_of(i, v);
		assert_true(state_find(st, v)->rules.maint_due_km == (float)(1000 + i % 100));
	}
	state_free(st);
	ctlq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_push_apply),
	    cmocka_unit_test(test_full_and_bad),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
