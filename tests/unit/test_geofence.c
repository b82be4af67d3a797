/*
 * test_geofence — the arrival detector alone: distances, the hysteresis
 * radius, an arrival by ignition off inside and by dwelling slowly, a
 * pass-by at 30 km/h straight through and on the road outside, a car
 * parked across the road (with and without GPS jitter creeping inside),
 * GPS jitter at the boundary after arriving (no flapping), a departure
 * closing the visit (and a single outlier not closing it), a visit the
 * camera opened closed by leaving, samples without a position keeping the
 * state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "geofence.h"

#define LAT           36.66860
#define LON           116.89050
#define T0            1795420800000LL
#define M_PER_DEG_LAT (6371008.8 * 3.14159265358979323846 / 180.0)

static const struct geofence_params P = {
    .lat = LAT, .lon = LON, .radius_m = 120, .dwell_s = 60, .max_speed_kmh = 5};

/* A sample `d` metres north (negative: south) of the centre. */
static struct geofence_sample at(int64_t ts, double d, double speed, int ign_off, int edge)
{
	return (struct geofence_sample){.ts_ms = ts,
	                                .has_position = 1,
	                                .lat = LAT + d / M_PER_DEG_LAT,
	                                .lon = LON,
	                                .has_speed = 1,
	                                .speed_kmh = speed,
	                                .ignition_off = ign_off,
	                                .ignition_off_edge = edge};
}

/* Deterministic jitter in [-amp, amp]. */
static double jitter(unsigned *s, double amp)
{
	*s = *s * 1103515245u + 12345u;
	return ((double)((*s >> 8) & 0xFFFF) / 65535.0 * 2.0 - 1.0) * amp;
}

static int feed(struct geofence_state *st, struct geofence_sample s, int64_t *at_ms)
{
	return (int)geofence_feed(&P, st, &s, at_ms);
}

static void test_distance_and_exit_radius(void **unused)
{
	struct geofence_params big = P;

	(void)unused;
	assert_true(fabs(geofence_distance_m(LAT, LON, LAT + 100.0 / M_PER_DEG_LAT, LON) - 100.0) <
	            0.01);
	/* one degree of longitude at this latitude: 111.195 km * cos(36.6686°) */
	assert_true(fabs(geofence_distance_m(LAT, LON, LAT, LON + 1.0) -
	                 111194.9 * cos(LAT * 3.14159265358979323846 / 180.0)) < 100.0);
	assert_true(geofence_distance_m(LAT, LON, LAT, LON) == 0.0);
	assert_true(fabs(geofence_exit_radius_m(&P) - 150.0) < 1e-9); /* 30 m floor */
	big.radius_m = 400;
	assert_true(fabs(geofence_exit_radius_m(&big) - 500.0) < 1e-9); /* 25 % */
}

static void test_ignition_off_inside(void **unused)
{
	struct geofence_state st = {0};
	int64_t t = T0, when = 0;

	(void)unused;
	for (double d = 600; d > 130; d -= 60, t += 10000)
		assert_int_equal(feed(&st, at(t, d, 25, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(st.phase, GEOFENCE_OUT);
	assert_int_equal(feed(&st, at(t, 100, 12, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(st.phase, GEOFENCE_IN);
	t += 10000;
	assert_int_equal(feed(&st, at(t, 40, 8, 0, 0), &when), GEOFENCE_NONE);
	t += 10000;
	assert_int_equal(feed(&st, at(t, 30, 0, 1, 1), &when), GEOFENCE_ARRIVAL);
	assert_true(when == t);
	assert_int_equal(st.phase, GEOFENCE_ARRIVED);
	/* parked: the half-hourly reports change nothing */
	for (int i = 0; i < 6; i++) {
		t += 1800 * 1000;
		assert_int_equal(feed(&st, at(t, 30, 0, 1, 0), &when), GEOFENCE_NONE);
	}
	assert_true(sizeof(struct geofence_state) <= 8);
}

static void test_dwell_slowly_inside(void **unused)
{
	struct geofence_state st = {0};
	int64_t t = T0, when = 0;

	(void)unused;
	/* in at 3 km/h for 50 s, a 20 km/h stretch restarts the count */
	for (int i = 0; i <= 5; i++, t += 10000)
		assert_int_equal(feed(&st, at(t, 80, 3, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t, 60, 20, 0, 0), &when), GEOFENCE_NONE);
	t += 10000;
	int64_t start = t;

	for (; t < start + 60000; t += 10000)
		assert_int_equal(feed(&st, at(t, 50, 4, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t, 50, 5, 0, 0), &when), GEOFENCE_ARRIVAL);
	assert_true(when == start + 60000);
	/* once arrived, no second arrival however long it dwells */
	for (int i = 0; i < 20; i++)
		assert_int_equal(feed(&st, at(t += 10000, 50, 0, 0, 0), &when), GEOFENCE_NONE);
}

static void test_pass_by_at_30_kmh(void **unused)
{
	struct geofence_state st = {0};
	int64_t t = T0, when = 0;

	(void)unused;
	/* straight through the centre at 30 km/h (83 m per 10 s) */
	for (double d = -800; d <= 800; d += 83.3, t += 10000)
		assert_int_equal(feed(&st, at(t, d, 30, 0, 0), &when) == GEOFENCE_ARRIVAL, 0);
	/* on the road outside, 200 m off, slowing to 10 km/h at a light */
	st = (struct geofence_state){0};
	for (int i = 0; i < 30; i++, t += 10000)
		assert_int_equal(feed(&st, at(t, 200, i % 10 < 3 ? 0 : 30, 0, 0), &when),
		                 GEOFENCE_NONE);
	assert_int_equal(st.phase, GEOFENCE_OUT);
	/* stuck in traffic 90 m in for a little under the dwell, then on */
	st = (struct geofence_state){0};
	for (int i = 0; i < 5; i++, t += 10000)
		assert_int_equal(feed(&st, at(t, 90, 2, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t, 90, 30, 0, 0), &when), GEOFENCE_NONE);
}

static void test_parked_across_the_road(void **unused)
{
	struct geofence_state st = {0};
	int64_t t = T0, when = 0;
	unsigned seed = 7;

	(void)unused;
	/* drives up and parks 170 m away; GPS wanders ±15 m for hours */
	for (double d = 500; d > 170; d -= 60, t += 10000)
		feed(&st, at(t, d, 30, 0, 0), &when);
	assert_int_equal(feed(&st, at(t, 170, 0, 1, 1), &when), GEOFENCE_NONE);
	for (int i = 0; i < 48; i++) {
		t += 1800 * 1000;
		assert_int_equal(feed(&st, at(t, 170 + jitter(&seed, 15), 0, 1, 0), &when),
		                 GEOFENCE_NONE);
	}
	assert_int_equal(st.phase, GEOFENCE_OUT);
	/* parked just outside (130 m), engine off, jitter ±25 m creeping inside:
	 * a parked car never dwells, and its ignition went off outside */
	st = (struct geofence_state){0};
	assert_int_equal(feed(&st, at(t, 130, 0, 1, 1), &when), GEOFENCE_NONE);
	for (int i = 0; i < 200; i++) {
		t += 60 * 1000;
		assert_int_equal(feed(&st, at(t, 130 + jitter(&seed, 25), 0, 1, 0), &when),
		                 GEOFENCE_NONE);
	}
}

static void test_boundary_jitter_does_not_flap(void **unused)
{
	struct geofence_state st = {0};
	int64_t t = T0, when = 0;
	unsigned seed = 11;
	int arrivals = 0, departures = 0;

	(void)unused;
	/* parks at 112 m, just inside; GPS wanders ±35 m (up to 147 m) for 3 h */
	feed(&st, at(t, 112, 6, 0, 0), &when);
	t += 10000;
	arrivals += feed(&st, at(t, 112, 0, 1, 1), &when) == GEOFENCE_ARRIVAL;
	for (int i = 0; i < 3 * 360; i++) {
		int v;

		t += 10000;
		v = feed(&st, at(t, 112 + jitter(&seed, 35), 0, 1, 0), &when);
		arrivals += v == GEOFENCE_ARRIVAL;
		departures += v == GEOFENCE_DEPARTURE;
	}
	assert_int_equal(arrivals, 1);
	assert_int_equal(departures, 0);
	/* one wild outlier beyond the exit radius, then back: still on site */
	assert_int_equal(feed(&st, at(t += 10000, 400, 0, 1, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 30000, 110, 0, 1, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 60000, 400, 0, 1, 0), &when), GEOFENCE_NONE);
	assert_int_equal(st.phase, GEOFENCE_ARRIVED);
	/* it drives off: beyond the exit radius for the dwell time closes it */
	assert_int_equal(feed(&st, at(t += 10000, 110, 0, 1, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 10000, 90, 15, 0, 0), &when), GEOFENCE_NONE);
	int64_t out = t += 10000;

	assert_int_equal(feed(&st, at(out, 160, 30, 0, 0), &when), GEOFENCE_NONE);
	for (int i = 1; i < 6; i++)
		assert_int_equal(feed(&st, at(t += 10000, 160 + 80 * i, 40, 0, 0), &when),
		                 GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 10000, 700, 40, 0, 0), &when), GEOFENCE_DEPARTURE);
	assert_true(when == out);
	assert_int_equal(st.phase, GEOFENCE_OUT);
	/* and a new visit later is a new arrival */
	assert_int_equal(feed(&st, at(t += 3600000, 50, 5, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 10000, 40, 0, 1, 1), &when), GEOFENCE_ARRIVAL);
}

static void test_camera_opened_visit(void **unused)
{
	struct geofence_state st = {0};
	int64_t t = T0, when = 0;

	(void)unused;
	/* read at the gate (130 m, between radius and exit radius), turns away */
	feed(&st, at(t, 200, 20, 0, 0), &when);
	geofence_mark_open(&st, t);
	assert_int_equal(feed(&st, at(t += 10000, 130, 5, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 10000, 160, 20, 0, 0), &when), GEOFENCE_NONE);
	int64_t out = t;

	assert_int_equal(feed(&st, at(t += 30000, 400, 30, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 30000, 700, 30, 0, 0), &when), GEOFENCE_DEPARTURE);
	assert_true(when == out);
	assert_int_equal(st.open, 0);
	/* read at the gate, then parks inside: the detector's arrival merges */
	geofence_mark_open(&st, t);
	assert_int_equal(feed(&st, at(t += 600000, 100, 8, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 10000, 50, 0, 1, 1), &when), GEOFENCE_ARRIVAL);
	/* the camera's read overtakes the device's last minutes of approach:
	 * those older positions beyond the exit radius end nothing */
	st = (struct geofence_state){0};
	t += 3600000;
	geofence_mark_open(&st, t);
	for (int i = 9; i >= 1; i--)
		assert_int_equal(feed(&st, at(t - i * 10000, 150 + 30 * i, 10, 0, 0), &when),
		                 GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 10000, 110, 8, 0, 0), &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 10000, 50, 0, 1, 1), &when), GEOFENCE_ARRIVAL);
	/* no camera: out and far never "departs" */
	st = (struct geofence_state){0};
	for (int i = 0; i < 20; i++)
		assert_int_equal(feed(&st, at(t += 10000, 300 + 50 * i, 30, 0, 0), &when),
		                 GEOFENCE_NONE);
}

static void test_missing_position_keeps_state(void **unused)
{
	struct geofence_state st = {0};
	struct geofence_sample s;
	int64_t t = T0, when = 0;

	(void)unused;
	/* out: slow samples without a position do nothing */
	for (int i = 0; i < 10; i++) {
		s = at(t += 10000, 0, 0, 0, 0);
		s.has_position = 0;
		assert_int_equal(geofence_feed(&P, &st, &s, &when), GEOFENCE_NONE);
	}
	assert_int_equal(st.phase, GEOFENCE_OUT);
	/* in: the ignition goes off in a message without a position */
	assert_int_equal(feed(&st, at(t += 10000, 60, 10, 0, 0), &when), GEOFENCE_NONE);
	s = at(t += 10000, 0, 0, 1, 1);
	s.has_position = 0;
	assert_int_equal(geofence_feed(&P, &st, &s, &when), GEOFENCE_ARRIVAL);
	/* leaving: position-less samples neither cancel nor complete it */
	assert_int_equal(feed(&st, at(t += 10000, 300, 30, 0, 0), &when), GEOFENCE_NONE);
	s = at(t += 90000, 0, 30, 0, 0);
	s.has_position = 0;
	assert_int_equal(geofence_feed(&P, &st, &s, &when), GEOFENCE_NONE);
	assert_int_equal(feed(&st, at(t += 10000, 900, 30, 0, 0), &when), GEOFENCE_DEPARTURE);
	/* no speed known: no dwell */
	st = (struct geofence_state){0};
	for (int i = 0; i < 20; i++) {
		s = at(t += 10000, 50, 0, 0, 0);
		s.has_speed = 0;
		assert_int_equal(geofence_feed(&P, &st, &s, &when), GEOFENCE_NONE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_distance_and_exit_radius),
	    cmocka_unit_test(test_ignition_off_inside),
	    cmocka_unit_test(test_dwell_slowly_inside),
	    cmocka_unit_test(test_pass_by_at_30_kmh),
	    cmocka_unit_test(test_parked_across_the_road),
	    cmocka_unit_test(test_boundary_jitter_does_not_flap),
	    cmocka_unit_test(test_camera_opened_visit),
	    cmocka_unit_test(test_missing_position_keeps_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
