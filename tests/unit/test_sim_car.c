/*
 * test_sim_car — the simulator's driving model (firmware-sim/car.c) explains
 * its data: the odometer never goes back, fuel stays within 0-100 % and is
 * refilled near 10 %, tread only wears, the highway wears tyres faster,
 * congestion burns more fuel, pressure follows temperature; and the same
 * seed gives the same car.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "car.h"
#include "rng.h"

#define SITE_LAT 36.66860
#define SITE_LON 116.89050

static void new_car(struct car *c, struct rng *r, uint64_t seed)
{
	rng_seed(r, seed);
	car_init(c, r, SITE_LAT, SITE_LON);
}

/* A random life: drive and park in turns on every road class. */
static void test_odometer_never_decreases(void **state)
{
	struct car c;
	struct rng r;
	double last;
	int i;

	(void)state;
	new_car(&c, &r, 1);
	last = c.odometer_km;
	for (i = 0; i < 200000; i++) {
		if (i % 500 < 400)
			car_drive(&c, &r, (enum car_road)rng_below(&r, CAR_ROAD__COUNT), 10.0, 10.0,
			          NAN, NAN);
		else
			car_park(&c, &r, 600.0, 5.0);
		assert_true(c.odometer_km >= last);
		last = c.odometer_km;
	}
	assert_true(c.odometer_km > 1000.0);
}

static void test_fuel_in_range_and_refuels_near_ten_percent(void **state)
{
	struct car c;
	struct rng r;
	double low = 100.0;
	int i, refuels = 0;

	(void)state;
	new_car(&c, &r, 2);
	for (i = 0; i < 400000; i++) { /* about 7,000 km */
		double before = c.fuel_pct;

		car_drive(&c, &r, (enum car_road)(i / 300 % CAR_ROAD__COUNT), 10.0, 10.0, NAN, NAN);
		assert_true(c.fuel_pct >= 0.0 && c.fuel_pct <= 100.0);
		if (c.fuel_pct > before + 1.0) {
			refuels++;
			assert_true(before <= 15.0); /* refills only near empty */
		}
		if (c.fuel_pct < low)
			low = c.fuel_pct;
	}
	assert_int_equal(refuels, c.refuels);
	assert_true(refuels >= 5);
	assert_true(low >= 5.0); /* never runs dry */
}

static void test_tread_only_decreases(void **state)
{
	struct car c;
	struct rng r;
	double last[PW_TIRE_COUNT];
	int i, w;

	(void)state;
	new_car(&c, &r, 3);
	for (w = 0; w < PW_TIRE_COUNT; w++)
		last[w] = c.tire[w].tread_mm;
	for (i = 0; i < 300000; i++) {
		if (i % 1000 < 900)
			car_drive(&c, &r, (enum car_road)rng_below(&r, CAR_ROAD__COUNT), 10.0, 10.0,
			          NAN, NAN);
		else
			car_park(&c, &r, 1800.0, 10.0);
		for (w = 0; w < PW_TIRE_COUNT; w++) {
			assert_true(c.tire[w].tread_mm <= last[w]);
			last[w] = c.tire[w].tread_mm;
		}
	}
	assert_true(c.tread_worn_mm > 0.3);
}

/* Same car, same distance: one mostly on the highway, one in town. */
static double wear_per_1000km(double highway_share, uint64_t seed)
{
	struct car c;
	struct rng r;
	double start, km0;
	int i;

	new_car(&c, &r, seed);
	c.tire[0].tread_mm = 8.0;
	start = c.tire[0].tread_mm;
	km0 = c.odometer_km;
	for (i = 0; c.odometer_km - km0 < 3000.0; i++) {
		enum car_road road =
		    rng_uniform(&r) < highway_share ? CAR_ROAD_HIGHWAY : CAR_ROAD_ARTERIAL;

		car_drive(&c, &r, road, 10.0, 10.0, NAN, NAN);
	}
	return (start - c.tire[0].tread_mm) / (c.odometer_km - km0) * 1000.0;
}

static void test_highway_share_raises_wear(void **state)
{
	double town = wear_per_1000km(0.05, 4), mixed = wear_per_1000km(0.5, 4),
	       highway = wear_per_1000km(0.95, 4);

	(void)state;
	assert_true(mixed > town * 1.2);
	assert_true(highway > mixed * 1.2);
}

static double consumption(enum car_road road, uint64_t seed)
{
	struct car c;
	struct rng r;
	int i;

	new_car(&c, &r, seed);
	for (i = 0; i < 20000; i++)
		car_drive(&c, &r, road, 10.0, 10.0, NAN, NAN);
	return c.fuel_l_by_road[road] / c.km_by_road[road] * 100.0;
}

static void test_congestion_raises_consumption(void **state)
{
	double jam = consumption(CAR_ROAD_CONGESTION, 5), town = consumption(CAR_ROAD_ARTERIAL, 5),
	       hw = consumption(CAR_ROAD_HIGHWAY, 5);

	(void)state;
	assert_true(jam > town * 1.3);
	assert_true(jam > hw * 1.3);
	assert_true(town > 4.0 && town < 12.0); /* a plausible car */
}

static void test_speed_bands_per_road(void **state)
{
	struct car c;
	struct rng r;
	int i;

	(void)state;
	new_car(&c, &r, 6);
	for (i = 0; i < 5000; i++) {
		car_drive(&c, &r, CAR_ROAD_CONGESTION, 10.0, 10.0, NAN, NAN);
		assert_true(c.speed_kmh >= 0.0 && c.speed_kmh < 20.0);
	}
	for (i = 0; i < 5000; i++) {
		car_drive(&c, &r, CAR_ROAD_HIGHWAY, 10.0, 10.0, NAN, NAN);
		assert_true(c.speed_kmh > 90.0 && c.speed_kmh <= 130.0);
	}
}

static void test_pressure_follows_temperature(void **state)
{
	struct car c;
	struct rng r;
	struct pw_telemetry cold, hot;
	int i;

	(void)state;
	new_car(&c, &r, 7);
	car_park(&c, &r, 6 * 3600.0, 0.0);
	car_snapshot(&c, &cold, 1);
	for (i = 0; i < 180; i++) /* 30 min of highway */
		car_drive(&c, &r, CAR_ROAD_HIGHWAY, 10.0, 0.0, NAN, NAN);
	car_snapshot(&c, &hot, 1);
	assert_true(hot.tires[0].temp_c > cold.tires[0].temp_c + 15.0);
	assert_true(hot.tires[0].kpa > cold.tires[0].kpa + 10.0);
	/* gas law: p_abs / T_abs about constant */
	assert_true(fabs((cold.tires[0].kpa + 101.325) / (cold.tires[0].temp_c + 273.15) -
	                 (hot.tires[0].kpa + 101.325) / (hot.tires[0].temp_c + 273.15)) < 0.02);
}

static void test_service_clears_dtcs_and_restores_pressure(void **state)
{
	struct car c;
	struct rng r;
	int i, seen_dtc = 0;

	(void)state;
	new_car(&c, &r, 8);
	for (i = 0; i < 200000 && !seen_dtc; i++) {
		car_ignition(&c, &r, i % 2);
		seen_dtc = c.dtc_count > 0;
	}
	assert_true(seen_dtc);
	c.tire[1].cold_kpa = 180.0;
	car_service(&c, &r);
	assert_int_equal(c.dtc_count, 0);
	assert_true(c.tire[1].cold_kpa > 225.0);
}

static void test_dtc_episode_goes_pending_confirmed_mil(void **state)
{
	struct car c;
	struct rng r;
	int i, saw_pending = 0, saw_confirmed = 0, saw_mil = 0;

	(void)state;
	new_car(&c, &r, 9);
	for (i = 0; i < 2000000 && !saw_mil; i++) {
		car_ignition(&c, &r, i % 2);
		if (c.dtc_count) {
			saw_pending |= c.dtc[0].status == PW_DTC_PENDING;
			saw_confirmed |= c.dtc[0].status == PW_DTC_CONFIRMED;
			saw_mil |= c.dtc[0].mil && saw_confirmed;
		}
	}
	assert_true(saw_pending && saw_confirmed && saw_mil);
}

static void test_same_seed_same_car(void **state)
{
	struct car a, b;
	struct rng ra, rb;
	int i;

	(void)state;
	new_car(&a, &ra, 42);
	new_car(&b, &rb, 42);
	for (i = 0; i < 10000; i++) {
		car_drive(&a, &ra, (enum car_road)(i / 100 % 3), 10.0, 8.0, 36.7, 117.0);
		car_drive(&b, &rb, (enum car_road)(i / 100 % 3), 10.0, 8.0, 36.7, 117.0);
	}
	assert_memory_equal(&a, &b, sizeof(a));
	new_car(&b, &rb, 43);
	assert_true(a.odometer_km != b.odometer_km);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_odometer_never_decreases),
	    cmocka_unit_test(test_fuel_in_range_and_refuels_near_ten_percent),
	    cmocka_unit_test(test_tread_only_decreases),
	    cmocka_unit_test(test_highway_share_raises_wear),
	    cmocka_unit_test(test_congestion_raises_consumption),
	    cmocka_unit_test(test_speed_bands_per_road),
	    cmocka_unit_test(test_pressure_follows_temperature),
	    cmocka_unit_test(test_service_clears_dtcs_and_restores_pressure),
	    cmocka_unit_test(test_dtc_episode_goes_pending_confirmed_mil),
	    cmocka_unit_test(test_same_seed_same_car),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
