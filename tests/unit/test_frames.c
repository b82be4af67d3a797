/*
 * test_frames — the `vehicle` frame (parsed back with Jansson: valid JSON,
 * every member docs/api.md names, null for what was never reported), the
 * live badges at the rules' thresholds, the throttle, and the event frames
 * (alert / reminder / arrival / greeting).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "frames.h"
#include "hub.h"
#include "pw.h"
#include "state.h"

#define VIN "LSVAG2180E2100001"

static struct pw_config cfg;

static int setup(void **state)
{
	(void)state;
	config_defaults(&cfg);
	return 0;
}

static void vehicle_full(struct pw_vehicle *v)
{
	state_vehicle_init(v, VIN);
	v->seq_max = 42;
	v->ts_ms = 1795388400000;
	v->online = 1;
	v->latest.has = PW_F_ODOMETER | PW_F_SPEED | PW_F_FUEL_PCT | PW_F_BATTERY | PW_F_IGNITION |
	                PW_F_TIRES | PW_F_DTC;
	v->latest.odometer_km = 12345.6;
	v->latest.speed_kmh = 0;
	v->latest.fuel_pct = 40.5f;
	v->latest.battery_v = 12.4f;
	v->latest.ignition = PW_IGN_OFF;
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		v->latest.tires[w].kpa = 235;
		v->latest.tires[w].tread_mm = 7.2f;
		v->latest.tires[w].temp_c = 21.5f;
		v->latest.tires[w].has = PW_TIRE_KPA | PW_TIRE_TREAD | PW_TIRE_TEMP;
	}
}

static json_t *render(const struct pw_vehicle *v)
{
	char buf[FRAMES_VEHICLE_MAX];
	size_t len = 0;
	struct frames_badges b;
	json_error_t err;
	json_t *j;

	frames_vehicle_badges(&cfg.rules, v, &b);
	assert_int_equal(frames_render_vehicle(v, &b, buf, sizeof(buf), &len), PW_OK);
	assert_int_equal(len, strlen(buf));
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("not JSON: %s at %d: %s", err.text, err.position, buf);
	return j;
}

static const char *badge(json_t *j, const char *name)
{
	return json_string_value(json_object_get(json_object_get(j, "badges"), name));
}

static void test_render_full(void **state)
{
	struct pw_vehicle v;
	struct pw_dtc dtc[2] = {{"P0301", PW_DTC_PENDING, 0}, {"U0100", PW_DTC_CONFIRMED, 0}};
	json_t *j, *fl;

	(void)state;
	vehicle_full(&v);
	v.latest.dtc = dtc; /* the frames only read it: no pool needed */
	v.latest.dtc_count = 2;
	j = render(&v);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "vehicle");
	assert_string_equal(json_string_value(json_object_get(j, "vin")), VIN);
	assert_int_equal(json_integer_value(json_object_get(j, "ts")), 1795388400000);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 42);
	assert_true(json_number_value(json_object_get(j, "odometer_km")) == 12345.6);
	assert_true(json_number_value(json_object_get(j, "fuel_pct")) == 40.5);
	assert_true(json_number_value(json_object_get(j, "battery_v")) == 12.4); /* "12.4" */
	assert_true(json_number_value(json_object_get(j, "speed_kmh")) == 0);
	assert_string_equal(json_string_value(json_object_get(j, "ignition")), "off");
	assert_true(json_is_true(json_object_get(j, "online")));
	fl = json_object_get(json_object_get(j, "tires"), "fl");
	assert_true(json_number_value(json_object_get(fl, "kpa")) == 235);
	assert_true(json_number_value(json_object_get(fl, "tread_mm")) == 7.2);
	assert_true(json_number_value(json_object_get(fl, "temp_c")) == 21.5);
	assert_int_equal(json_object_size(json_object_get(j, "tires")), 4);
	assert_int_equal(json_array_size(json_object_get(j, "dtc")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "dtc"), 1)),
	                    "U0100");
	assert_string_equal(badge(j, "tyres"), "ok");
	assert_string_equal(badge(j, "faults"), "warning");
	assert_string_equal(badge(j, "battery"), "ok");
	assert_int_equal(json_object_size(json_object_get(j, "badges")), 3);
	json_decref(j);
}

static void test_render_never_reported(void **state)
{
	struct pw_vehicle v;
	json_t *j;
	const char *nulls[] = {"seq",      "odometer_km", "speed_kmh",
	                       "fuel_pct", "battery_v",   "ignition"};

	(void)state;
	state_vehicle_init(&v, VIN);
	v.status_ts_ms = 1795388400123; /* status only */
	j = render(&v);
	for (size_t i = 0; i < PW_ARRAY_LEN(nulls); i++)
		assert_true(json_is_null(json_object_get(j, nulls[i])));
	assert_int_equal(json_integer_value(json_object_get(j, "ts")), 1795388400123);
	assert_true(json_is_false(json_object_get(j, "online")));
	assert_true(json_is_null(
	    json_object_get(json_object_get(json_object_get(j, "tires"), "rr"), "kpa")));
	assert_int_equal(json_array_size(json_object_get(j, "dtc")), 0);
	json_decref(j);
}

static void test_render_longest_fits(void **state)
{
	struct pw_vehicle v;
	struct pw_dtc dtc[PW_DTC_MAX];
	char small[64];
	size_t len = 0;
	struct frames_badges b = {0};
	json_t *j;

	(void)state;
	vehicle_full(&v);
	v.latest.odometer_km = 1999999.123456;
	v.seq_max = INT64_MAX;
	for (int i = 0; i < PW_DTC_MAX; i++) {
		snprintf(dtc[i].code, sizeof(dtc[i].code), "B%04X", i);
		dtc[i].status = PW_DTC_PERMANENT;
		dtc[i].mil = 1;
	}
	v.latest.dtc = dtc;
	v.latest.dtc_count = PW_DTC_MAX;
	j = render(&v);
	assert_int_equal(json_array_size(json_object_get(j, "dtc")), PW_DTC_MAX);
	assert_string_equal(badge(j, "faults"), "critical");
	json_decref(j);
	assert_int_equal(frames_render_vehicle(&v, &b, small, sizeof(small), &len), PW_ERANGE);
	assert_int_equal(frames_render_vehicle(&v, &b, small, 0, &len), PW_ERANGE);
}

/* Numbers are printed by integer arithmetic, not snprintf: every value
 * reads back as the float (7 significant digits) or double (10) it was. */
static void test_numbers(void **state)
{
	struct pw_vehicle v;
	const float fixed[] = {0.0f,      -0.0f,   0.5f,       1.0f,   12.4f,  99.99f,
	                       100.0f,    -60.0f,  -12.5f,     -0.04f, 0.001f, 230.0f,
	                       999.9999f, 1000.0f, 0.0000012f, 7.2f};
	unsigned seed = 12345;

	(void)state;
	vehicle_full(&v);
	for (int i = 0; i < 20000; i++) {
		json_t *j, *fl;
		float f;
		double d, got;

		if (i < (int)PW_ARRAY_LEN(fixed)) {
			f = fixed[i];
			d = fixed[i] * 1000.0;
		} else {
			seed = seed * 1103515245u + 12345u;
			f = (float)((double)(seed % 2000001u) / 1000.0 - 1000.0); /* -1000..1000 */
			seed = seed * 1103515245u + 12345u;
			d = (double)seed / 4294967296.0 * 2000000.0;
			if (i % 7 == 0)
				f = (float)((int)f); /* integers too */
		}
		v.latest.tires[0].temp_c = f;
		v.latest.odometer_km = d;
		j = render(&v);
		fl = json_object_get(json_object_get(j, "tires"), "fl");
		got = json_number_value(json_object_get(fl, "temp_c"));
		if (fabs(got - (double)f) > 1e-6 * fabs((double)f) + 1e-9)
			fail_msg("float %.9g came back as %.9g", (double)f, got);
		got = json_number_value(json_object_get(j, "odometer_km"));
		if (fabs(got - d) > 1e-9 * fabs(d) + 1e-9)
			fail_msg("double %.17g came back as %.17g", d, got);
		json_decref(j);
	}
}

static void test_badges(void **state)
{
	struct pw_vehicle v;
	struct pw_dtc dtc[3];
	struct frames_badges b;

	(void)state;
	vehicle_full(&v);
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.tyres, PW_SEV_NONE);
	/* pressure: below 0.9 x 230 = 207 warning, below 0.75 x 230 = 172.5 critical */
	v.latest.tires[PW_TIRE_RL].kpa = 206;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.tyres, PW_SEV_WARNING);
	v.latest.tires[PW_TIRE_FR].kpa = 172;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.tyres, PW_SEV_CRITICAL);
	/* tread alone: 2.9 warning, 1.5 critical */
	vehicle_full(&v);
	v.latest.tires[PW_TIRE_FL].tread_mm = 2.9f;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.tyres, PW_SEV_WARNING);
	v.latest.tires[PW_TIRE_FL].tread_mm = 1.5f;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.tyres, PW_SEV_CRITICAL);
	/* a member never reported does not count (kpa 0 without its bit) */
	vehicle_full(&v);
	v.latest.tires[PW_TIRE_RR].kpa = 0;
	v.latest.tires[PW_TIRE_RR].has = PW_TIRE_TREAD;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.tyres, PW_SEV_NONE);
	/* a latched slow leak is a warning */
	rules_memo_set(&v.rules, RULES_SLOT_LEAK(2), 1);
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.tyres, PW_SEV_WARNING);

	/* faults: the worst code */
	vehicle_full(&v);
	memset(dtc, 0, sizeof(dtc));
	v.latest.dtc = dtc;
	v.latest.dtc_count = 3;
	dtc[0].status = PW_DTC_PENDING;
	dtc[1].status = PW_DTC_CONFIRMED;
	dtc[2].status = PW_DTC_PENDING;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.faults, PW_SEV_WARNING);
	dtc[2].status = PW_DTC_PERMANENT;
	dtc[2].mil = 1;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.faults, PW_SEV_CRITICAL);
	v.latest.dtc_count = 0;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.faults, PW_SEV_NONE);

	/* battery: with the ignition off by voltage (11.8 / 11.0) ... */
	vehicle_full(&v);
	v.latest.battery_v = 11.7f;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.battery, PW_SEV_WARNING);
	v.latest.battery_v = 10.9f;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.battery, PW_SEV_CRITICAL);
	/* ... with it on, the open episode's level the rules keep */
	v.latest.ignition = PW_IGN_ON;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.battery, PW_SEV_NONE);
	rules_memo_set(&v.rules, RULES_SLOT_BATTERY, PW_SEV_WARNING);
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_equal(b.battery, PW_SEV_WARNING);

	assert_string_equal(frames_badge_name(PW_SEV_NONE), "ok");
	assert_string_equal(frames_badge_name(PW_SEV_INFO), "info");
	assert_string_equal(frames_badge_name(PW_SEV_CRITICAL), "critical");
	assert_string_equal(frames_badge_name(9), "ok");
}

static void test_throttle(void **state)
{
	struct pw_vehicle v;
	struct frames_badges b;
	uint16_t sig, sig2;
	const int iv = 1000;

	(void)state;
	vehicle_full(&v);
	frames_vehicle_badges(&cfg.rules, &v, &b);
	sig = frames_signature(&b, &v);
	assert_true(sig != 0);
	assert_true(frames_due(&v, sig, 5000, iv)); /* none sent yet */
	frames_mark_sent(&v, sig, 5000);
	assert_false(frames_due(&v, sig, 5000, iv));
	assert_false(frames_due(&v, sig, 5999, iv));
	assert_true(frames_due(&v, sig, 6000, iv));
	/* a change of badge, ignition or online is due at once */
	v.latest.tires[0].kpa = 150;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	sig2 = frames_signature(&b, &v);
	assert_true(sig2 != sig && frames_due(&v, sig2, 5001, iv));
	vehicle_full(&v);
	frames_mark_sent(&v, sig, 5000);
	v.latest.ignition = PW_IGN_ON;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_true(frames_due(&v, frames_signature(&b, &v), 5001, iv));
	vehicle_full(&v);
	frames_mark_sent(&v, sig, 5000);
	v.online = 0;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_true(frames_due(&v, frames_signature(&b, &v), 5001, iv));
	/* other fields alone wait for the interval */
	vehicle_full(&v);
	frames_mark_sent(&v, sig, 5000);
	v.latest.odometer_km += 10;
	v.latest.fuel_pct = 10;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_false(frames_due(&v, frames_signature(&b, &v), 5500, iv));
	/* the monotonic ms counter wraps */
	frames_mark_sent(&v, sig, UINT32_MAX - 100);
	assert_false(frames_due(&v, sig, 500, iv));
	assert_true(frames_due(&v, sig, 1000, iv));
	/* interval 0: every time */
	assert_true(frames_due(&v, sig, UINT32_MAX - 100, 0));
}

/* Lists get one of a vehicle's unchanged frames per FRAMES_LIST_MS window;
 * an ignition change alone is minor too, a badge or online change never. */
static void test_minor_for_lists(void **state)
{
	struct pw_vehicle v;
	struct frames_badges b;
	uint16_t sig;
	const uint32_t w = FRAMES_LIST_MS;

	(void)state;
	vehicle_full(&v);
	frames_vehicle_badges(&cfg.rules, &v, &b);
	sig = frames_signature(&b, &v);
	assert_false(frames_minor(&v, sig, 10 * w)); /* the first frame ever */
	frames_mark_sent(&v, sig, 10 * w);
	assert_true(frames_minor(&v, sig, 10 * w + 5000));
	assert_true(frames_minor(&v, sig, 11 * w - 1));
	assert_false(frames_minor(&v, sig, 11 * w)); /* a new window */
	/* the ignition alone (no voltage: no battery badge to move with it):
	 * the list does not show it */
	v.latest.has &= ~(uint32_t)PW_F_BATTERY;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	sig = frames_signature(&b, &v);
	frames_mark_sent(&v, sig, 11 * w + 5);
	v.latest.ignition = PW_IGN_ON;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_int_not_equal(frames_signature(&b, &v), sig);
	assert_true(frames_minor(&v, frames_signature(&b, &v), 11 * w + 10));
	/* online changes: for the lists at once */
	vehicle_full(&v);
	frames_vehicle_badges(&cfg.rules, &v, &b);
	frames_mark_sent(&v, frames_signature(&b, &v), 11 * w + 5);
	v.online = 0;
	assert_false(frames_minor(&v, frames_signature(&b, &v), 11 * w + 10));
	/* a badge change too */
	vehicle_full(&v);
	frames_vehicle_badges(&cfg.rules, &v, &b);
	frames_mark_sent(&v, frames_signature(&b, &v), 11 * w + 5);
	v.latest.tires[0].kpa = 150;
	frames_vehicle_badges(&cfg.rules, &v, &b);
	assert_false(frames_minor(&v, frames_signature(&b, &v), 11 * w + 10));
}

static json_t *event(const char *in, int *channel)
{
	char *out = NULL;
	size_t len = 0;
	json_t *j;

	assert_int_equal(frames_event(in, strlen(in), channel, &out, &len), PW_OK);
	assert_int_equal(len, strlen(out));
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	free(out);
	return j;
}

static void test_event_frames(void **state)
{
	int ch = -1;
	json_t *j;
	char *out = (char *)"x";
	size_t len = 1;
	const char *greeting = "{\"type\":\"greeting\",\"id\":\"g7\",\"display_name\":\"张先生\","
	                       "\"plate_masked\":\"鲁A·***45\",\"desk\":\"3\",\"ttl_s\":120}";

	(void)state;
	j = event("{\"id\":\"e12-2\",\"type\":\"tyre_pressure\",\"vin\":\"" VIN "\",\"ts\":5,"
	          "\"severity\":\"critical\",\"alert_id\":12,\"wheel\":\"fl\",\"kpa\":150}",
	          &ch);
	assert_int_equal(ch, HUB_ADVISOR);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "alert");
	assert_string_equal(json_string_value(json_object_get(j, "event")), "tyre_pressure");
	assert_int_equal(json_integer_value(json_object_get(j, "alert_id")), 12);
	assert_string_equal(json_string_value(json_object_get(j, "wheel")), "fl");
	assert_string_equal(json_string_value(json_object_get(j, "id")), "e12-2");
	json_decref(j);

	/* a reminder, its alert_id from the id */
	j = event("{\"id\":\"e305-1\",\"type\":\"maintenance_overdue\",\"vin\":\"" VIN "\","
	          "\"ts\":5,\"severity\":\"critical\"}",
	          &ch);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "reminder");
	assert_string_equal(json_string_value(json_object_get(j, "event")), "maintenance_overdue");
	assert_int_equal(json_integer_value(json_object_get(j, "alert_id")), 305);
	json_decref(j);
	for (const char *const *t = (const char *const[]){"maintenance_due", "insurance_due",
	                                                  "lost_customer", "followup_due", NULL};
	     *t; t++) {
		char in[128];

		snprintf(in, sizeof(in), "{\"id\":\"e1-1\",\"type\":\"%s\"}", *t);
		j = event(in, &ch);
		assert_string_equal(json_string_value(json_object_get(j, "type")), "reminder");
		json_decref(j);
	}
	/* an id of another shape: no alert_id invented */
	j = event("{\"id\":\"x9\",\"type\":\"fault\"}", &ch);
	assert_null(json_object_get(j, "alert_id"));
	json_decref(j);

	/* arrival: to the advisors as it is */
	j = event("{\"id\":\"a3\",\"type\":\"arrival\",\"vin\":\"" VIN "\",\"brief\":{}}", &ch);
	assert_int_equal(ch, HUB_ADVISOR);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "arrival");
	assert_null(json_object_get(j, "event"));
	json_decref(j);

	/* greeting: to the displays, the contract's members only */
	assert_int_equal(frames_event(greeting, strlen(greeting), &ch, &out, &len), PW_OK);
	assert_int_equal(ch, HUB_WELCOME);
	assert_int_equal(len, strlen(greeting));
	assert_string_equal(out, greeting);
	free(out);
	{
		/* as events.c writes it: with vin, ts and severity for dealer systems */
		const char *full = "{\"type\":\"greeting\",\"id\":\"g7\",\"vin\":\"" VIN "\","
		                   "\"ts\":5,\"severity\":\"info\",\"display_name\":\"张先生\","
		                   "\"plate_masked\":\"鲁A·***45\",\"desk\":\"3\",\"ttl_s\":120}";

		assert_int_equal(frames_event(full, strlen(full), &ch, &out, &len), PW_OK);
		assert_int_equal(ch, HUB_WELCOME);
		assert_null(strstr(out, VIN));
		assert_null(strstr(out, "\"ts\""));
		assert_non_null(strstr(out, "\"desk\":\"3\""));
		free(out);
	}

	/* not an event */
	assert_int_equal(frames_event("[1]", 3, &ch, &out, &len), PW_EINVAL);
	assert_null(out);
	assert_int_equal(frames_event("{\"type\":1}", 10, &ch, &out, &len), PW_EINVAL);
	assert_int_equal(frames_event("{", 1, &ch, &out, &len), PW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_full),
	    cmocka_unit_test(test_render_never_reported),
	    cmocka_unit_test(test_render_longest_fits),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_badges),
	    cmocka_unit_test(test_throttle),
	    cmocka_unit_test(test_minor_for_lists),
	    cmocka_unit_test(test_event_frames),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
