/*
 * test_rules — every rule of rules.h at its boundaries: dates (month ends,
 * 29 February, site-local midnight), maintenance (exactly at the lead
 * distance and lead days, whichever first both ways, overdue, prediction
 * with too few days of data), insurance stages, tyre pressure, tread and
 * slow leak, battery, faults, odometer rollback, one raise per episode, the
 * day accumulators, fuel, profile, lost customer and follow-up. Pure
 * functions: no database, no clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "rules.h"

#define TZ_SHANGHAI (8 * 3600)
#define HOUR_MS     3600000LL
#define DAY_MS      (24 * HOUR_MS)

static struct pw_rules_config R;

static int setup(void **state)
{
	struct pw_config c;

	(void)state;
	config_defaults(&c);
	R = c.rules;
	return 0;
}

static int32_t D(const char *s)
{
	int32_t d = 0;

	assert_int_equal(rules_parse_date(s, &d), 0);
	return d;
}

static const char *S(int32_t day)
{
	static char buf[4][16];
	static int i;

	i = (i + 1) % 4;
	rules_format_date(day, buf[i], sizeof(buf[i]));
	return buf[i];
}

/* ms of a site-local (UTC+8) time "YYYY-MM-DD" hh:mm */
static int64_t local_ms(const char *date, int hh, int mm)
{
	return rules_day_start_ms(D(date), TZ_SHANGHAI) + (hh * 60 + mm) * 60000LL;
}

/* ---- dates ------------------------------------------------------------------ */

static void test_civil_round_trip(void **state)
{
	int y, m, d;

	(void)state;
	assert_int_equal(rules_day_from_civil(1970, 1, 1), 0);
	assert_int_equal(rules_day_from_civil(2000, 3, 1), 11017);
	assert_int_equal(rules_day_from_civil(1969, 12, 31), -1);
	for (int32_t day = -800000; day < 800000; day += 37) {
		rules_civil_from_day(day, &y, &m, &d);
		assert_int_equal(rules_day_from_civil(y, m, d), day);
	}
	assert_string_equal(S(D("2026-11-23")), "2026-11-23");
}

static void test_parse_date_strict(void **state)
{
	int32_t d;

	(void)state;
	assert_int_equal(rules_parse_date("2024-02-29", &d), 0);
	assert_int_equal(rules_parse_date("2026-02-29", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date("1900-02-29", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date("2000-02-29", &d), 0);
	assert_int_equal(rules_parse_date("2026-04-31", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date("2026-13-01", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date("2026-00-10", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date("2026-1-01", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date("2026-01-01T", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date("2026/01/01", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date("", &d), PW_EINVAL);
	assert_int_equal(rules_parse_date(NULL, &d), PW_EINVAL);
}

static void test_add_months_clamps_to_month_end(void **state)
{
	(void)state;
	/* the 31st */
	assert_string_equal(S(rules_add_months(D("2026-01-31"), 1)), "2026-02-28");
	assert_string_equal(S(rules_add_months(D("2024-01-31"), 1)), "2024-02-29");
	assert_string_equal(S(rules_add_months(D("2026-03-31"), 1)), "2026-04-30");
	assert_string_equal(S(rules_add_months(D("2026-08-31"), 6)), "2027-02-28");
	assert_string_equal(S(rules_add_months(D("2025-08-31"), 6)), "2026-02-28");
	assert_string_equal(S(rules_add_months(D("2026-10-31"), 12)), "2027-10-31");
	assert_string_equal(S(rules_add_months(D("2026-12-31"), 2)), "2027-02-28");
	assert_string_equal(S(rules_add_months(D("2026-03-31"), -1)), "2026-02-28");
	assert_string_equal(S(rules_add_months(D("2026-01-15"), -13)), "2024-12-15");
	/* 29 February */
	assert_string_equal(S(rules_add_months(D("2024-02-29"), 12)), "2025-02-28");
	assert_string_equal(S(rules_add_months(D("2024-02-29"), 48)), "2028-02-29");
	assert_string_equal(S(rules_add_months(D("2024-02-29"), 6)), "2024-08-29");
	assert_string_equal(S(rules_add_months(D("2023-08-29"), 6)), "2024-02-29");
	assert_string_equal(S(rules_add_months(D("2023-08-30"), 6)), "2024-02-29");
	/* no change, and a clamped date does not drift back up */
	assert_string_equal(S(rules_add_months(D("2026-05-15"), 0)), "2026-05-15");
	assert_string_equal(S(rules_add_months(rules_add_months(D("2026-01-31"), 1), 1)),
	                    "2026-03-28");
}

static void test_site_local_midnight(void **state)
{
	int64_t t2359 = local_ms("2026-11-23", 23, 59);
	int64_t t0001 = local_ms("2026-11-24", 0, 1);

	(void)state;
	/* both are 2026-11-23 in UTC (15:59Z and 16:01Z) */
	assert_int_equal(rules_local_day(t2359, 0), D("2026-11-23"));
	assert_int_equal(rules_local_day(t0001, 0), D("2026-11-23"));
	/* but two different days at the site */
	assert_int_equal(rules_local_day(t2359, TZ_SHANGHAI), D("2026-11-23"));
	assert_int_equal(rules_local_day(t0001, TZ_SHANGHAI), D("2026-11-24"));
	assert_int_equal(
	    rules_local_day(rules_day_start_ms(D("2026-11-24"), TZ_SHANGHAI) - 1, TZ_SHANGHAI),
	    D("2026-11-23"));
	/* before 1970 floors too */
	assert_int_equal(rules_local_day(-1, 0), -1);
	assert_int_equal(rules_local_day(-DAY_MS, 0), -1);
	assert_int_equal(rules_local_day(-DAY_MS - 1, 0), -2);
}

static void test_names(void **state)
{
	enum pw_alert_kind k;
	enum pw_severity s;

	(void)state;
	for (int i = 0; i < PW_AK__COUNT; i++) {
		assert_int_equal(rules_kind_parse(rules_kind_name((enum pw_alert_kind)i), &k), 0);
		assert_int_equal(k, i);
	}
	assert_string_equal(rules_kind_type(PW_AK_MAINTENANCE, 1), "maintenance_due");
	assert_string_equal(rules_kind_type(PW_AK_MAINTENANCE, 2), "maintenance_overdue");
	assert_string_equal(rules_kind_type(PW_AK_ODOMETER, 1), "odometer_rollback");
	assert_string_equal(rules_kind_type(PW_AK_BATTERY, 1), "battery_low");
	assert_int_equal(rules_severity_parse("critical", &s), 0);
	assert_int_equal(s, PW_SEV_CRITICAL);
	assert_int_equal(rules_severity_parse("none", &s), PW_EINVAL);
	assert_int_equal(rules_kind_parse("bogus", &k), PW_EINVAL);
}

/* ---- maintenance ------------------------------------------------------------- */

static struct rules_maint_input maint_base(const char *today, const char *purchase)
{
	struct rules_maint_input in;

	memset(&in, 0, sizeof(in));
	in.today = D(today);
	in.purchase_day = D(purchase);
	in.purchase_odometer_km = 10;
	return in;
}

static void maint(const struct rules_maint_input *in, struct rules_maint_verdict *v)
{
	struct rules_plan plan;

	rules_default_plan(&R, &plan);
	rules_maintenance(&R, &plan, in, v);
}

static void with_telemetry(struct rules_maint_input *in, double km, double daily, int days)
{
	in->has_telemetry = 1;
	in->telemetry_day = in->today;
	in->telemetry_km = km;
	in->data_days = days;
	in->window_km = daily * days;
}

static void test_maintenance_first_service_at_lead_distance(void **state)
{
	struct rules_maint_input in = maint_base("2026-03-01", "2026-01-10");
	struct rules_maint_verdict v;

	(void)state;
	/* limit 10 + 5000 = 5010 km; 1,000 km remain exactly: due */
	with_telemetry(&in, 4010, 1, 30);
	maint(&in, &v);
	assert_int_equal(v.first_service, 1);
	assert_true(v.limit_km == 5010 && v.due_km == 4010);
	assert_true(v.remaining_km == 1000);
	assert_int_equal(v.state, RULES_MAINT_DUE);
	assert_int_equal(v.due_by_km, 1);
	assert_int_equal(v.odometer_estimated, 0);
	/* 1,000.5 km remain: not yet (date far, 1 km a day) */
	in.telemetry_km = 4009.5;
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_OK);
	/* at the limit itself: due, not overdue; one km past: overdue */
	in.telemetry_km = 5010;
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_DUE);
	in.telemetry_km = 5011;
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_OVERDUE);
	assert_int_equal(v.due_by_km, 1);
	assert_true(v.remaining_km == -1);
}

static void test_maintenance_first_service_at_lead_days(void **state)
{
	/* purchase 2026-01-10 + 6 months = 2026-07-10 */
	struct rules_maint_input in = maint_base("2026-07-03", "2026-01-10");
	struct rules_maint_verdict v;

	(void)state;
	with_telemetry(&in, 1000, 1, 30); /* km far away */
	maint(&in, &v);
	assert_string_equal(S(v.limit_day), "2026-07-10");
	assert_int_equal(v.days_remaining, 7);
	assert_int_equal(v.state, RULES_MAINT_DUE);
	assert_int_equal(v.due_by_km, 0);
	assert_string_equal(S(v.due_day), "2026-07-10");
	in.today = D("2026-07-02"); /* 8 days */
	in.telemetry_day = in.today;
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_OK);
	in.today = in.telemetry_day = D("2026-07-10"); /* the day itself: due */
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_DUE);
	in.today = in.telemetry_day = D("2026-07-11"); /* the day after: overdue */
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_OVERDUE);
	assert_int_equal(v.due_by_km, 0);
}

static void test_maintenance_whichever_first(void **state)
{
	/* last service 2026-05-15 at 34,442 km: limit 44,442 km or 2027-05-15 */
	struct rules_maint_input in = maint_base("2026-11-23", "2024-05-21");
	struct rules_maint_verdict v;

	(void)state;
	in.has_service = 1;
	in.service_day = D("2026-05-15");
	in.service_odometer_km = 34442;
	/* km first: 100 km a day, 2,000 km left -> the km limit in 20 days,
	 * long before the date; at 7 days left by km it is due */
	with_telemetry(&in, 42442, 100, 30);
	maint(&in, &v);
	assert_int_equal(v.first_service, 0);
	assert_string_equal(S(v.limit_day), "2027-05-15");
	assert_string_equal(S(v.km_day), "2026-12-13");
	assert_string_equal(S(v.due_day), "2026-12-13");
	assert_int_equal(v.state, RULES_MAINT_OK);
	assert_int_equal(v.due_by_km, 1);
	in.telemetry_km = 43742; /* 700 km left (also within the lead distance) */
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_DUE);
	in.telemetry_km = 43300; /* 1,142 km left, 11 days at 100/day: not yet */
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_OK);
	with_telemetry(&in, 43300, 160, 30); /* 1,142 km left at 160/day: day 7 */
	maint(&in, &v);
	assert_int_equal((int)(v.km_day - in.today), 7);
	assert_int_equal(v.state, RULES_MAINT_DUE);
	assert_int_equal(v.due_by_km, 1);
	/* date first: 5 km a day, the date comes long before the km */
	in.today = in.telemetry_day = D("2027-05-08");
	with_telemetry(&in, 36000, 5, 30);
	maint(&in, &v);
	assert_string_equal(S(v.due_day), "2027-05-15");
	assert_int_equal(v.state, RULES_MAINT_DUE);
	assert_int_equal(v.due_by_km, 0);
	in.today = in.telemetry_day = D("2027-05-16");
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_OVERDUE);
	assert_int_equal(v.due_by_km, 0);
}

static void test_maintenance_prediction_sources(void **state)
{
	struct rules_maint_input in = maint_base("2026-11-23", "2026-01-23");
	struct rules_maint_verdict v;

	(void)state;
	in.has_service = 1;
	in.service_day = D("2026-07-20");
	in.service_odometer_km = 5000;
	/* six days of telemetry are too few: lifetime average from purchase
	 * (10 km) to the newest reading (today, 9,010 km) over 304 days */
	with_telemetry(&in, 9010, 500, 6);
	maint(&in, &v);
	assert_int_equal(v.daily_source, RULES_DAILY_LIFETIME);
	assert_true(fabs(v.daily_km - 9000.0 / 304) < 1e-9);
	/* seven are enough */
	with_telemetry(&in, 9010, 20, 7);
	maint(&in, &v);
	assert_int_equal(v.daily_source, RULES_DAILY_TELEMETRY);
	assert_true(v.daily_km == 20);
	/* no telemetry: the newest visit's reading, and the odometer today is
	 * predicted from it: 5,000 km at 2026-07-20 is 4,990 km in 178 days */
	in.has_telemetry = 0;
	in.data_days = 0;
	in.has_visit_reading = 1;
	in.visit_reading_day = D("2026-07-20");
	in.visit_reading_km = 5000;
	maint(&in, &v);
	assert_int_equal(v.daily_source, RULES_DAILY_LIFETIME);
	assert_true(fabs(v.daily_km - 4990.0 / 178) < 1e-9);
	assert_int_equal(v.odometer_estimated, 1);
	assert_true(fabs(v.odometer_km - (5000 + 4990.0 / 178 * 126)) < 1e-6);
	/* nothing after purchase: the configured default */
	in.has_service = 0;
	in.has_visit_reading = 0;
	maint(&in, &v);
	assert_int_equal(v.daily_source, RULES_DAILY_DEFAULT);
	assert_true(v.daily_km == R.default_daily_km);
	assert_true(v.odometer_km == 10 + 40.0 * 304);
	/* a car bought today has no lifetime yet */
	in = maint_base("2026-11-23", "2026-11-23");
	in.has_visit_reading = 1;
	in.visit_reading_day = in.today;
	in.visit_reading_km = 12;
	maint(&in, &v);
	assert_int_equal(v.daily_source, RULES_DAILY_DEFAULT);
	/* a visit newer than the last telemetry is the newer reading */
	in = maint_base("2026-11-23", "2026-01-23");
	with_telemetry(&in, 8000, 30, 30);
	in.telemetry_day = D("2026-11-01");
	in.has_visit_reading = 1;
	in.visit_reading_day = D("2026-11-20");
	in.visit_reading_km = 8600;
	maint(&in, &v);
	assert_true(v.odometer_km == 8600 + 30 * 3);
}

static void test_maintenance_month_ends(void **state)
{
	/* bought on 31 August: the first service by date is 28 February */
	struct rules_maint_input in = maint_base("2026-02-21", "2025-08-31");
	struct rules_maint_verdict v;

	(void)state;
	with_telemetry(&in, 100, 1, 30);
	maint(&in, &v);
	assert_string_equal(S(v.limit_day), "2026-02-28");
	assert_int_equal(v.state, RULES_MAINT_DUE); /* 7 days */
	in.today = in.telemetry_day = D("2026-02-20");
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_OK);
	in.today = in.telemetry_day = D("2026-03-01");
	maint(&in, &v);
	assert_int_equal(v.state, RULES_MAINT_OVERDUE);
	/* serviced on 29 February: due on 28 February next year */
	in = maint_base("2025-02-21", "2023-01-01");
	in.has_service = 1;
	in.service_day = D("2024-02-29");
	in.service_odometer_km = 20000;
	with_telemetry(&in, 21000, 1, 30);
	maint(&in, &v);
	assert_string_equal(S(v.limit_day), "2025-02-28");
	assert_int_equal(v.state, RULES_MAINT_DUE);
	assert_int_equal(v.days_remaining, 7);
}

static void test_maintenance_brand_plan(void **state)
{
	struct pw_rules_config r = R;
	struct rules_plan plan;
	struct rules_maint_input in = maint_base("2026-05-01", "2026-01-10");
	struct rules_maint_verdict v;

	(void)state;
	r.n_plans = 1;
	snprintf(r.plans[0].brand, sizeof(r.plans[0].brand), "斯柯达");
	r.plans[0].first_service_km = 7500;
	r.plans[0].first_service_months = 3;
	r.plans[0].interval_km = 15000;
	r.plans[0].interval_months = 24;
	assert_int_equal(rules_plan_for(&r, "斯柯达", &plan), 1);
	assert_true(plan.first_service_km == 7500 && plan.interval_months == 24);
	assert_int_equal(rules_plan_for(&r, "大众", &plan), 0);
	assert_true(plan.first_service_km == 5000 && plan.interval_months == 12);
	assert_int_equal(rules_plan_for(&r, NULL, &plan), 0);
	/* its own months: 2026-01-10 + 3 = 2026-04-10, already past */
	rules_plan_for(&r, "斯柯达", &plan);
	with_telemetry(&in, 1000, 10, 30);
	rules_maintenance(&r, &plan, &in, &v);
	assert_string_equal(S(v.limit_day), "2026-04-10");
	assert_true(v.limit_km == 7510);
	assert_int_equal(v.state, RULES_MAINT_OVERDUE);
}

/* ---- insurance ----------------------------------------------------------------- */

static void test_insurance_stages(void **state)
{
	static const struct {
		int days_left, stage, lead;
		enum pw_severity sev;
	} cases[] = {
	    {91, 0, 0, PW_SEV_NONE},   {90, 1, 90, PW_SEV_INFO},   {31, 1, 90, PW_SEV_INFO},
	    {30, 2, 30, PW_SEV_INFO},  {8, 2, 30, PW_SEV_INFO},    {7, 3, 7, PW_SEV_WARNING},
	    {1, 3, 7, PW_SEV_WARNING}, {0, 4, 0, PW_SEV_CRITICAL}, {-20, 4, 0, PW_SEV_CRITICAL},
	};
	int32_t today = D("2026-11-23");
	struct rules_insurance_verdict v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rules_insurance(&R, today, today + cases[i].days_left, &v);
		assert_int_equal(v.days_left, cases[i].days_left);
		assert_int_equal(v.stage, cases[i].stage);
		assert_int_equal(v.lead_days, cases[i].lead);
		assert_int_equal(v.severity, cases[i].sev);
	}
	/* no lead days: only the expiry */
	{
		struct pw_rules_config r = R;

		r.n_insurance_lead_days = 0;
		rules_insurance(&r, today, today + 5, &v);
		assert_int_equal(v.stage, 0);
		rules_insurance(&r, today, today, &v);
		assert_int_equal(v.stage, 1);
		assert_int_equal(v.severity, PW_SEV_CRITICAL);
	}
}

/* ---- single readings ------------------------------------------------------------- */

static void test_tyre_and_battery_levels(void **state)
{
	(void)state;
	/* 0.9 x 230 = 207, 0.75 x 230 = 172.5: "below" is strict */
	assert_int_equal(rules_tyre_pressure_severity(&R, 230), PW_SEV_NONE);
	assert_int_equal(rules_tyre_pressure_severity(&R, 207), PW_SEV_NONE);
	assert_int_equal(rules_tyre_pressure_severity(&R, 206.9f), PW_SEV_WARNING);
	assert_int_equal(rules_tyre_pressure_severity(&R, 172.5), PW_SEV_WARNING);
	assert_int_equal(rules_tyre_pressure_severity(&R, 172.4f), PW_SEV_CRITICAL);
	assert_int_equal(rules_tyre_pressure_severity(&R, 0), PW_SEV_CRITICAL);
	assert_int_equal(rules_tyre_tread_severity(&R, 3.0), PW_SEV_NONE);
	assert_int_equal(rules_tyre_tread_severity(&R, 2.99f), PW_SEV_WARNING);
	assert_int_equal(rules_tyre_tread_severity(&R, 1.6f), PW_SEV_WARNING);
	assert_int_equal(rules_tyre_tread_severity(&R, 1.59f), PW_SEV_CRITICAL);
	assert_int_equal(rules_battery_severity(&R, 11.8f), PW_SEV_NONE);
	assert_int_equal(rules_battery_severity(&R, 11.79f), PW_SEV_WARNING);
	assert_int_equal(rules_battery_severity(&R, 11.0), PW_SEV_WARNING);
	assert_int_equal(rules_battery_severity(&R, 10.99f), PW_SEV_CRITICAL);
	assert_int_equal(rules_dtc_severity(PW_DTC_PENDING, 0), PW_SEV_INFO);
	assert_int_equal(rules_dtc_severity(PW_DTC_PENDING, 1), PW_SEV_INFO);
	assert_int_equal(rules_dtc_severity(PW_DTC_CONFIRMED, 0), PW_SEV_WARNING);
	assert_int_equal(rules_dtc_severity(PW_DTC_CONFIRMED, 1), PW_SEV_CRITICAL);
	assert_int_equal(rules_dtc_severity(PW_DTC_PERMANENT, 1), PW_SEV_CRITICAL);
	assert_int_equal(rules_dtc_severity(PW_DTC_PERMANENT, 0), PW_SEV_WARNING);
}

/* ---- per-message rules ------------------------------------------------------------- */

/* A tiny vehicle: latest state, memo and the last verdict. The latest DTC
 * set is in one of two buffers, so `before` keeps the other (as the real
 * state keeps the interned set a copy points at). */
struct car {
	struct pw_latest latest;
	struct pw_dtc dtc[2][PW_DTC_MAX];
	int known;
	struct rules_memo memo;
	struct rules_verdict v;
	int64_t ts_ms;
};

static void car_init(struct car *c)
{
	memset(c, 0, sizeof(*c));
	c->ts_ms = local_ms("2026-11-23", 8, 0);
}

/* Sends `obj` (ts set from the car's clock, advanced by dt_s first): a
 * simplified merge (every field the object has replaces the latest). */
static struct rules_verdict *car_send(struct car *c, struct pw_telemetry *obj, int dt_s,
                                      int history_due)
{
	struct pw_latest before = c->latest;
	struct rules_input in;
	int rollback = 0, dtc_changed = 0;

	c->ts_ms += dt_s * 1000LL;
	obj->ts_ms = c->ts_ms;
	if ((obj->has & PW_F_ODOMETER) && (c->latest.has & PW_F_ODOMETER) &&
	    obj->odometer_km < c->latest.odometer_km)
		rollback = 1;
	if ((obj->has & PW_F_ODOMETER) && !rollback)
		c->latest.odometer_km = obj->odometer_km;
	if (obj->has & PW_F_SPEED)
		c->latest.speed_kmh = obj->speed_kmh;
	if (obj->has & PW_F_BATTERY)
		c->latest.battery_v = obj->battery_v;
	if (obj->has & PW_F_IGNITION)
		c->latest.ignition = obj->ignition;
	if (obj->has & PW_F_TIRES)
		for (int w = 0; w < PW_TIRE_COUNT; w++) {
			struct pw_tire *t = &c->latest.tires[w];
			const struct pw_tire *o = &obj->tires[w];

			if (o->has & PW_TIRE_KPA)
				t->kpa = o->kpa;
			if (o->has & PW_TIRE_TREAD)
				t->tread_mm = o->tread_mm;
			if (o->has & PW_TIRE_TEMP)
				t->temp_c = o->temp_c;
			t->has |= o->has;
		}
	if (obj->has & PW_F_DTC) {
		struct pw_dtc *next = c->latest.dtc == c->dtc[0] ? c->dtc[1] : c->dtc[0];

		dtc_changed = obj->dtc_count != c->latest.dtc_count ||
		              (obj->dtc_count && memcmp(obj->dtc, c->latest.dtc,
		                                        sizeof(obj->dtc[0]) * obj->dtc_count));
		memcpy(next, obj->dtc, sizeof(obj->dtc));
		c->latest.dtc = next;
		c->latest.dtc_count = obj->dtc_count;
	}
	c->latest.has |= obj->has & ~(rollback ? PW_F_ODOMETER : 0u);
	c->latest.ts_ms = obj->ts_ms;
	in = (struct rules_input){.before = c->known ? &before : NULL,
	                          .after = &c->latest,
	                          .obj = obj,
	                          .rollback = rollback,
	                          .dtc_changed = dtc_changed,
	                          .history_due = history_due,
	                          .tz_offset_s = TZ_SHANGHAI};
	rules_eval(&R, &in, &c->memo, &c->v);
	c->known = 1;
	return &c->v;
}

static struct pw_telemetry tyre(int wheel, double kpa, double temp_c)
{
	struct pw_telemetry t;

	memset(&t, 0, sizeof(t));
	t.has = PW_F_TIRES;
	t.tires[wheel].kpa = (float)kpa;
	t.tires[wheel].has = PW_TIRE_KPA;
	if (!isnan(temp_c)) {
		t.tires[wheel].temp_c = (float)temp_c;
		t.tires[wheel].has |= PW_TIRE_TEMP;
	}
	return t;
}

/* One action of kind k (a macro, so a failure names the caller's line). */
#define expect_one(v, op_, k, sev)                                                                 \
	do {                                                                                       \
		const struct rules_verdict *v_ = (v);                                              \
		assert_int_equal(v_->n, 1);                                                        \
		assert_int_equal(v_->act[0].op, (op_));                                            \
		assert_int_equal(v_->act[0].kind, (k));                                            \
		if ((op_) == RULES_RAISE)                                                          \
			assert_int_equal(v_->act[0].severity, (sev));                              \
	} while (0)

static void test_tyre_pressure_episode(void **state)
{
	struct car c;
	struct pw_telemetry t;

	(void)state;
	car_init(&c);
	t = tyre(PW_TIRE_FL, 230, NAN);
	assert_int_equal(car_send(&c, &t, 0, 0)->n, 0);
	t = tyre(PW_TIRE_FL, 207, NAN); /* exactly 0.9 x placard: fine */
	assert_int_equal(car_send(&c, &t, 3600 * 30, 0)->n, 0);
	t = tyre(PW_TIRE_FL, 206, NAN);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE, PW_SEV_WARNING);
	assert_int_equal(c.v.act[0].wheel, PW_TIRE_FL);
	assert_int_equal(c.v.act[0].reason, RULES_TYRE_LOW);
	/* the same episode: lower but still warning raises nothing */
	t = tyre(PW_TIRE_FL, 190, NAN);
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	/* escalation */
	t = tyre(PW_TIRE_FL, 170, NAN);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE, PW_SEV_CRITICAL);
	/* back to warning: the episode's level stays critical, nothing new */
	t = tyre(PW_TIRE_FL, 200, NAN);
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	t = tyre(PW_TIRE_FL, 171, NAN);
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	/* 207 -> 170 within minutes was also a leak (37 kPa): it holds below
	 * placard, so 207 does not clear it; placard does */
	t = tyre(PW_TIRE_FL, 207, NAN);
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	t = tyre(PW_TIRE_FL, 230, NAN);
	expect_one(car_send(&c, &t, 60, 0), RULES_CLEAR, PW_AK_TYRE_PRESSURE, 0);
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	/* without a leak, 0.9 x placard clears: readings a day apart */
	t = tyre(PW_TIRE_FL, 200, NAN);
	expect_one(car_send(&c, &t, 2 * 86400, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE,
	           PW_SEV_WARNING);
	assert_int_equal(c.v.act[0].reason, RULES_TYRE_LOW);
	t = tyre(PW_TIRE_FL, 207, NAN);
	expect_one(car_send(&c, &t, 2 * 86400, 0), RULES_CLEAR, PW_AK_TYRE_PRESSURE, 0);
	/* a new episode raises again */
	t = tyre(PW_TIRE_FL, 150, NAN);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE, PW_SEV_CRITICAL);
	/* another wheel is its own episode */
	t = tyre(PW_TIRE_RR, 200, NAN);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE, PW_SEV_WARNING);
	assert_int_equal(c.v.act[0].wheel, PW_TIRE_RR);
}

static void test_tyre_tread(void **state)
{
	struct car c;
	struct pw_telemetry t;

	(void)state;
	car_init(&c);
	memset(&t, 0, sizeof(t));
	t.has = PW_F_TIRES;
	t.tires[PW_TIRE_RL].has = PW_TIRE_TREAD;
	t.tires[PW_TIRE_RL].tread_mm = 3.0f;
	assert_int_equal(car_send(&c, &t, 0, 0)->n, 0);
	t.tires[PW_TIRE_RL].tread_mm = 2.9f;
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_TYRE_TREAD, PW_SEV_WARNING);
	t.tires[PW_TIRE_RL].tread_mm = 1.6f;
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	t.tires[PW_TIRE_RL].tread_mm = 1.5f;
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_TYRE_TREAD, PW_SEV_CRITICAL);
	t.tires[PW_TIRE_RL].tread_mm = 8.0f; /* new tyre */
	expect_one(car_send(&c, &t, 60, 0), RULES_CLEAR, PW_AK_TYRE_TREAD, 0);
}

static void test_slow_leak(void **state)
{
	struct car c;
	struct pw_telemetry t;

	(void)state;
	/* exactly 20 kPa lost in exactly 24 h at the same temperature: a leak,
	 * a warning although 210 kPa is above 0.9 x placard */
	car_init(&c);
	t = tyre(PW_TIRE_FR, 230, 20);
	car_send(&c, &t, 0, 0);
	t = tyre(PW_TIRE_FR, 215, 20);
	assert_int_equal(car_send(&c, &t, 12 * 3600, 0)->n, 0);
	t = tyre(PW_TIRE_FR, 210, 20);
	expect_one(car_send(&c, &t, 12 * 3600, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE,
	           PW_SEV_WARNING);
	assert_int_equal(c.v.act[0].reason, RULES_TYRE_SLOW_LEAK);
	assert_true(c.v.act[0].ref == 230);
	assert_true(c.v.act[0].window_h == 24);
	/* it holds while the pressure stays below placard ... */
	t = tyre(PW_TIRE_FR, 215, 20);
	assert_int_equal(car_send(&c, &t, 3600, 0)->n, 0);
	/* ... escalates by pressure ... */
	t = tyre(PW_TIRE_FR, 170, 20);
	expect_one(car_send(&c, &t, 3600, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE, PW_SEV_CRITICAL);
	assert_int_equal(c.v.act[0].reason, RULES_TYRE_LOW);
	/* ... and clears when inflated back to placard */
	t = tyre(PW_TIRE_FR, 229, 20);
	assert_int_equal(car_send(&c, &t, 3600, 0)->n, 0);
	t = tyre(PW_TIRE_FR, 230, 20);
	expect_one(car_send(&c, &t, 3600, 0), RULES_CLEAR, PW_AK_TYRE_PRESSURE, 0);

	/* 19.9 kPa is not a leak */
	car_init(&c);
	t = tyre(PW_TIRE_FR, 230, 20);
	car_send(&c, &t, 0, 0);
	t = tyre(PW_TIRE_FR, 210.1, 20);
	assert_int_equal(car_send(&c, &t, 3600, 0)->n, 0);

	/* 24 h and 1 s is outside the window: the reference starts again */
	car_init(&c);
	t = tyre(PW_TIRE_FR, 230, 20);
	car_send(&c, &t, 0, 0);
	t = tyre(PW_TIRE_FR, 210, 20);
	assert_int_equal(car_send(&c, &t, 24 * 3600 + 1, 0)->n, 0);
	t = tyre(PW_TIRE_FR, 195, 20);                     /* 15 below the new reference */
	assert_int_equal(car_send(&c, &t, 3600, 0)->n, 1); /* but low: warning by ratio */
	assert_int_equal(c.v.act[0].reason, RULES_TYRE_LOW);

	/* a different temperature is not comparable: 5 °C is similar, 5.1 is not */
	car_init(&c);
	t = tyre(PW_TIRE_RL, 240, 40);
	car_send(&c, &t, 0, 0);
	t = tyre(PW_TIRE_RL, 220, 34.9);
	assert_int_equal(car_send(&c, &t, 3600, 0)->n, 0);
	t = tyre(PW_TIRE_RL, 220, 35);
	expect_one(car_send(&c, &t, 3600, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE, PW_SEV_WARNING);
	assert_int_equal(c.v.act[0].reason, RULES_TYRE_SLOW_LEAK);

	/* an inflation moves the reference up: the drop counts from there */
	car_init(&c);
	t = tyre(PW_TIRE_RL, 215, 20);
	car_send(&c, &t, 0, 0);
	t = tyre(PW_TIRE_RL, 235, 20);
	car_send(&c, &t, 3600, 0);
	t = tyre(PW_TIRE_RL, 215, 20);
	expect_one(car_send(&c, &t, 3600, 0), RULES_RAISE, PW_AK_TYRE_PRESSURE, PW_SEV_WARNING);
	assert_true(c.v.act[0].ref == 235);
}

static void test_battery(void **state)
{
	struct car c;
	struct pw_telemetry t;

	(void)state;
	car_init(&c);
	memset(&t, 0, sizeof(t));
	t.has = PW_F_BATTERY | PW_F_IGNITION;
	t.ignition = PW_IGN_ON;
	t.battery_v = 10.0f; /* cranking: ignition on neither raises nor clears */
	assert_int_equal(car_send(&c, &t, 0, 0)->n, 0);
	t.ignition = PW_IGN_OFF;
	t.battery_v = 11.8f;
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	t.battery_v = 11.7f;
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_BATTERY, PW_SEV_WARNING);
	t.battery_v = 11.0f;
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	t.battery_v = 10.9f;
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_BATTERY, PW_SEV_CRITICAL);
	/* driving: the alternator says nothing about the battery */
	t.ignition = PW_IGN_ON;
	t.battery_v = 14.2f;
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	/* a voltage without the ignition in the same object uses the latest ignition */
	t.has = PW_F_BATTERY;
	t.battery_v = 12.6f;
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	t.has = PW_F_BATTERY | PW_F_IGNITION;
	t.ignition = PW_IGN_OFF;
	expect_one(car_send(&c, &t, 60, 0), RULES_CLEAR, PW_AK_BATTERY, 0);
}

static struct pw_telemetry dtcs(int n, ...)
{
	struct pw_telemetry t;
	va_list ap;

	memset(&t, 0, sizeof(t));
	t.has = PW_F_DTC;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *code = va_arg(ap, const char *);

		memcpy(t.dtc[i].code, code, 5);
		t.dtc[i].status = (uint8_t)va_arg(ap, int);
		t.dtc[i].mil = (uint8_t)va_arg(ap, int);
	}
	va_end(ap);
	t.dtc_count = (uint8_t)n;
	return t;
}

static void test_fault_episode(void **state)
{
	struct car c;
	struct pw_telemetry t;

	(void)state;
	car_init(&c);
	t = dtcs(0);
	assert_int_equal(car_send(&c, &t, 0, 0)->n, 0);
	t = dtcs(1, "P0301", PW_DTC_PENDING, 0);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_FAULT, PW_SEV_INFO);
	assert_string_equal(c.v.act[0].code, "P0301");
	/* the same set again: nothing */
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	/* confirmed with MIL: escalation */
	t = dtcs(1, "P0301", PW_DTC_CONFIRMED, 1);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_FAULT, PW_SEV_CRITICAL);
	assert_int_equal(c.v.act[0].mil, 1);
	assert_int_equal(c.v.act[0].status, PW_DTC_CONFIRMED);
	/* a second code confirmed without MIL: warning; the first unchanged */
	t = dtcs(2, "P0171", PW_DTC_CONFIRMED, 0, "P0301", PW_DTC_CONFIRMED, 1);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_FAULT, PW_SEV_WARNING);
	assert_string_equal(c.v.act[0].code, "P0171");
	/* the first leaves the set: cleared */
	t = dtcs(1, "P0171", PW_DTC_CONFIRMED, 0);
	expect_one(car_send(&c, &t, 60, 0), RULES_CLEAR, PW_AK_FAULT, 0);
	assert_string_equal(c.v.act[0].code, "P0301");
	/* all cleared */
	t = dtcs(0);
	expect_one(car_send(&c, &t, 60, 0), RULES_CLEAR, PW_AK_FAULT, 0);
	assert_string_equal(c.v.act[0].code, "P0171");
}

static struct pw_telemetry odo(double km, double speed)
{
	struct pw_telemetry t;

	memset(&t, 0, sizeof(t));
	t.has = PW_F_ODOMETER;
	t.odometer_km = km;
	if (speed >= 0) {
		t.has |= PW_F_SPEED;
		t.speed_kmh = (float)speed;
	}
	return t;
}

static void test_odometer_rollback_episode(void **state)
{
	struct car c;
	struct pw_telemetry t;

	(void)state;
	car_init(&c);
	t = odo(50000, -1);
	car_send(&c, &t, 0, 0);
	t = odo(4000, -1);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_ODOMETER, PW_SEV_WARNING);
	assert_true(c.v.act[0].value == 4000 && c.v.act[0].ref == 50000);
	t = odo(4001, -1); /* still behind: the same episode */
	assert_int_equal(car_send(&c, &t, 60, 0)->n, 0);
	t = odo(50001, -1);
	expect_one(car_send(&c, &t, 60, 0), RULES_CLEAR, PW_AK_ODOMETER, 0);
	t = odo(100, -1);
	expect_one(car_send(&c, &t, 60, 0), RULES_RAISE, PW_AK_ODOMETER, PW_SEV_WARNING);
}

static void test_maintenance_crossing(void **state)
{
	struct car c;
	struct pw_telemetry t;

	(void)state;
	car_init(&c);
	t = odo(3000, -1);
	assert_int_equal(car_send(&c, &t, 0, 0)->maint_check, 1); /* first odometer */
	c.memo.maint_due_km = 4010;                               /* overdue beyond 4,010 + 1,000 */
	t = odo(4009.9, -1);
	assert_int_equal(car_send(&c, &t, 60, 0)->maint_check, 0);
	t = odo(4010, -1);
	assert_int_equal(car_send(&c, &t, 60, 0)->maint_check, 1);
	t = odo(4500, -1);
	assert_int_equal(car_send(&c, &t, 60, 0)->maint_check, 0);
	t = odo(5010, -1);
	assert_int_equal(car_send(&c, &t, 60, 0)->maint_check, 0);
	t = odo(5010.1, -1);
	assert_int_equal(car_send(&c, &t, 60, 0)->maint_check, 1);
	t = odo(6000, -1);
	assert_int_equal(car_send(&c, &t, 60, 0)->maint_check, 0);
}

static void test_day_accumulators(void **state)
{
	struct car c;
	struct pw_telemetry t;
	struct rules_verdict *v;

	(void)state;
	car_init(&c);
	c.ts_ms = local_ms("2026-11-23", 23, 50);
	t = odo(1000, 50);
	v = car_send(&c, &t, 0, 1);
	assert_int_equal(v->n_days, 0); /* nothing driven yet */
	t = odo(1010, 100);             /* 10 km at highway speed */
	t.has |= PW_F_FUEL_RATE;
	t.fuel_l_per_100km = 6;
	car_send(&c, &t, 240, 0);
	t = odo(1012, 10); /* 2 km in congestion, at 23:58 */
	car_send(&c, &t, 240, 0);
	t = odo(1015, 50); /* 00:01 the next day: 3 km, the finished day goes out */
	v = car_send(&c, &t, 180, 0);
	assert_int_equal(v->n_days, 1);
	assert_string_equal(S(v->days[0].day), "2026-11-23");
	assert_true(fabsf(v->days[0].km - 12) < 1e-4f);
	assert_true(fabsf(v->days[0].km_highway - 10) < 1e-4f);
	assert_true(fabsf(v->days[0].km_congestion - 2) < 1e-4f);
	assert_true(fabsf(v->days[0].fuel_l - 0.6f) < 1e-4f);
	assert_true(fabsf(v->days[0].fuel_km - 10) < 1e-4f);
	/* a history row hands out the day so far */
	t = odo(1020, 90); /* 90 is not above 90 */
	v = car_send(&c, &t, 60, 1);
	assert_int_equal(v->n_days, 1);
	assert_string_equal(S(v->days[0].day), "2026-11-24");
	assert_true(fabsf(v->days[0].km - 8) < 1e-4f);
	assert_true(v->days[0].km_highway == 0 && v->days[0].km_congestion == 0);
	/* and starts from zero again; a rollback adds nothing */
	t = odo(900, 50);
	car_send(&c, &t, 60, 0);
	t = odo(1021, 50);
	v = car_send(&c, &t, 60, 1);
	assert_int_equal(v->n_days, 1);
	assert_true(fabsf(v->days[0].km - 1) < 1e-4f);
}

/* The latest state the object `t` alone makes (no DTCs). */
static struct pw_latest latest_of(const struct pw_telemetry *t)
{
	struct pw_latest l;

	memset(&l, 0, sizeof(l));
	l.has = t->has & ~(uint32_t)PW_F_DTC;
	l.odometer_km = t->odometer_km;
	l.speed_kmh = t->speed_kmh;
	return l;
}

static void test_late_object_accumulates_nothing(void **state)
{
	struct pw_telemetry obj, t;
	struct pw_latest before, after;
	struct rules_memo memo;
	struct rules_verdict v;
	struct rules_input in;

	(void)state;
	memset(&memo, 0, sizeof(memo));
	t = odo(1000, 50);
	before = latest_of(&t);
	after = latest_of(&t);
	obj = odo(990, 50);
	obj.ts_ms = local_ms("2026-11-23", 9, 0);
	in = (struct rules_input){.before = &before,
	                          .after = &after,
	                          .obj = &obj,
	                          .late = 1,
	                          .history_due = 1,
	                          .tz_offset_s = TZ_SHANGHAI};
	rules_eval(&R, &in, &memo, &v);
	assert_int_equal(v.n, 0);
	assert_int_equal(v.n_days, 0);
	assert_true(memo.day_km == 0);
}

/* ---- fuel, profile, customers ------------------------------------------------------ */

static void test_fuel_and_profile(void **state)
{
	struct rules_window recent = {.days = 7, .km = 700, .fuel_l = 50.4, .fuel_km = 700};
	struct rules_window base = {.days = 83, .km = 8300, .fuel_l = 498, .fuel_km = 8300};
	struct rules_fuel_verdict f;
	struct rules_profile p;

	(void)state;
	/* 7.2 vs 6.0 l/100km: exactly 1.2, not above */
	rules_fuel(&R, &recent, &base, &f);
	assert_int_equal(f.judged, 1);
	assert_true(fabs(f.ratio - 1.2) < 1e-9);
	assert_int_equal(f.anomaly, 0);
	recent.fuel_l = 50.5;
	rules_fuel(&R, &recent, &base, &f);
	assert_int_equal(f.anomaly, 1);
	assert_true(fabs(f.recent_l_per_100km - 50.5 / 7) < 1e-9);
	assert_true(fabs(f.baseline_l_per_100km - 6.0) < 1e-9);
	/* a baseline shorter than the recent window is not judged */
	base.days = 6;
	rules_fuel(&R, &recent, &base, &f);
	assert_int_equal(f.judged, 0);
	assert_int_equal(f.anomaly, 0);
	base.days = 7;
	recent.fuel_km = 0;
	rules_fuel(&R, &recent, &base, &f);
	assert_int_equal(f.judged, 0);

	struct rules_window w = {.days = 30, .km = 1000, .km_highway = 250, .km_congestion = 100};

	rules_profile(&w, &p);
	assert_true(p.highway_share == 0.25 && p.congestion_share == 0.1);
	w.km = 0;
	rules_profile(&w, &p);
	assert_true(p.highway_share == 0 && p.congestion_share == 0);
}

static void test_lost_customer(void **state)
{
	int32_t today = D("2026-11-23");

	(void)state;
	assert_int_equal(rules_lost_customer(&R, today, today - 365, 120), 1);
	assert_int_equal(rules_lost_customer(&R, today, today - 364, 120), 0);
	assert_int_equal(rules_lost_customer(&R, today, today - 900, 0), 0); /* not driven */
}

static void test_followup_and_site_local_visit_times(void **state)
{
	int32_t visit = D("2026-11-20");
	/* the sweep at 23:59 and at 00:01 site time on either side of midnight */
	int32_t at_2359 = rules_local_day(local_ms("2026-11-22", 23, 59), TZ_SHANGHAI);
	int32_t at_0001 = rules_local_day(local_ms("2026-11-23", 0, 1), TZ_SHANGHAI);

	(void)state;
	assert_int_equal(rules_followup_due(visit, 3, at_2359 - 1, at_2359), 0);
	assert_int_equal(rules_followup_due(visit, 3, at_0001 - 1, at_0001), 1);
	/* once only: the next day's sweep does not see it again */
	assert_int_equal(rules_followup_due(visit, 3, at_0001, at_0001 + 1), 0);
	/* a sweep that missed days catches up */
	assert_int_equal(rules_followup_due(visit, 3, D("2026-11-21"), D("2026-11-25")), 1);
	/* a visit recorded at 23:59 site time (15:59Z) is on its local day,
	 * one at 00:01 (16:01Z the UTC day before) on the next */
	assert_int_equal(rules_local_day(local_ms("2026-11-20", 23, 59), TZ_SHANGHAI), visit);
	assert_int_equal(rules_local_day(local_ms("2026-11-21", 0, 1), TZ_SHANGHAI), visit + 1);
	/* 0 days after: the same day */
	assert_int_equal(rules_followup_due(visit, 0, visit - 1, visit), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_civil_round_trip),
	    cmocka_unit_test(test_parse_date_strict),
	    cmocka_unit_test(test_add_months_clamps_to_month_end),
	    cmocka_unit_test(test_site_local_midnight),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_maintenance_first_service_at_lead_distance),
	    cmocka_unit_test(test_maintenance_first_service_at_lead_days),
	    cmocka_unit_test(test_maintenance_whichever_first),
	    cmocka_unit_test(test_maintenance_prediction_sources),
	    cmocka_unit_test(test_maintenance_month_ends),
	    cmocka_unit_test(test_maintenance_brand_plan),
	    cmocka_unit_test(test_insurance_stages),
	    cmocka_unit_test(test_tyre_and_battery_levels),
	    cmocka_unit_test(test_tyre_pressure_episode),
	    cmocka_unit_test(test_tyre_tread),
	    cmocka_unit_test(test_slow_leak),
	    cmocka_unit_test(test_battery),
	    cmocka_unit_test(test_fault_episode),
	    cmocka_unit_test(test_odometer_rollback_episode),
	    cmocka_unit_test(test_maintenance_crossing),
	    cmocka_unit_test(test_day_accumulators),
	    cmocka_unit_test(test_late_object_accumulates_nothing),
	    cmocka_unit_test(test_fuel_and_profile),
	    cmocka_unit_test(test_lost_customer),
	    cmocka_unit_test(test_followup_and_site_local_visit_times),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
