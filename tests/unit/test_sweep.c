/*
 * test_sweep — the date-based sweep on a real store with dealer rows
 * written in SQL: maintenance predicted from vehicle_day (and the fallback
 * with too few days), a service visit closing the cycle, escalation to
 * overdue on a later day, thresholds handed to the daemon; insurance
 * stages over several days, once per stage, renewal clearing it, expiry
 * critical; follow-ups on the exact site-local day (15:59Z vs 16:01Z in
 * Shanghai), caught up after missed days, never twice; lost customers only
 * while driven; fuel anomaly with the driving profile and its clearing;
 * chunked runs equal to one run; the maintenance hook; in-car messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alerts.h"
#include "clock.h"
#include "config.h"
#include "events.h"
#include "rules.h"
#include "store.h"
#include "sweep.h"

#define VA "LSVAB2354T7100113"
#define VB "LSVBC2234P6100433"

struct fx {
	struct pw_config cfg;
	struct store *store;
	sqlite3 *db;
	struct events *ev;
	struct alerts *al;
	struct sweep *sw;
	char lines[64][1024];
	int n_lines;
	char th_vin[8][18];
	double th_due[8], th_limit[8];
	int n_th;
};

static void tap(void *ctx, const char *json)
{
	struct fx *f = ctx;

	if (f->n_lines < 64)
		snprintf(f->lines[f->n_lines], sizeof(f->lines[0]), "%s", json);
	f->n_lines++;
}

static void thresholds(void *ctx, const char *vin, double due, double limit)
{
	struct fx *f = ctx;

	if (f->n_th < 8) {
		snprintf(f->th_vin[f->n_th], sizeof(f->th_vin[0]), "%s", vin);
		f->th_due[f->n_th] = due;
		f->th_limit[f->n_th] = limit;
	}
	f->n_th++;
}

static void exec(struct fx *f, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(f->db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	config_defaults(&f->cfg);
	f->store = store_open(":memory:", STORE_READ_WRITE);
	assert_non_null(f->store);
	f->db = (sqlite3 *)store_sqlite(f->store);
	f->ev = events_open(f->db, "jinan-west");
	f->al = alerts_open(f->db, &f->cfg, f->ev);
	f->sw = sweep_open(f->db, &f->cfg, f->al);
	assert_non_null(f->sw);
	events_set_tap(f->ev, tap, f);
	sweep_set_thresholds_fn(f->sw, thresholds, f);
	exec(f,
	     "INSERT INTO advisor VALUES ('A01', '李娜', '1');"
	     "INSERT INTO customer VALUES ('C1', '张三', 'M', '13800000000', 'regular', 'A01', 1);"
	     "INSERT INTO customer VALUES ('C2', '李四', 'F', '13900000000', 'vip', 'A01', 1);");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sweep_close(f->sw);
	alerts_close(f->al);
	events_close(f->ev);
	store_close(f->store);
	free(f);
	return 0;
}

/* ms of "YYYY-MM-DDTHH:MM" in Shanghai */
static int64_t at(const char *local)
{
	char iso[40];
	int64_t ms;

	snprintf(iso, sizeof(iso), "%s+08:00", local);
	assert_int_equal(clock_parse_iso8601(iso, &ms), 0);
	return ms;
}

static struct sweep_stats run(struct fx *f, const char *local)
{
	struct sweep_stats st;

	f->n_lines = 0;
	f->n_th = 0;
	assert_int_equal(sweep_run(f->sw, at(local), &st), 0);
	return st;
}

static long q(struct fx *f, const char *sql)
{
	sqlite3_stmt *s;
	long v = -1;

	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static const char *qs(struct fx *f, const char *sql)
{
	static char buf[4096];
	sqlite3_stmt *s;

	buf[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(buf, sizeof(buf), "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return buf;
}

/* Member `key` of event line i as text ("" when absent). */
static const char *member(struct fx *f, int i, const char *key)
{
	static char buf[256];
	json_t *o = json_loads(f->lines[i], 0, NULL);
	json_t *v;

	assert_non_null(o);
	v = json_object_get(o, key);
	buf[0] = '\0';
	if (json_is_string(v))
		snprintf(buf, sizeof(buf), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
	json_decref(o);
	return buf;
}

/* The index of the first event line of `type`. */
static int line_of(struct fx *f, const char *type)
{
	for (int i = 0; i < f->n_lines && i < 64; i++)
		if (strcmp(member(f, i, "type"), type) == 0)
			return i;
	fail_msg("no %s event among %d", type, f->n_lines);
	return -1;
}

/* vehicle_day rows of `km` a day for the `days` days before `today` */
static void drive(struct fx *f, const char *vin, const char *today, int days, double km, double hi,
                  double lo, double fuel_l_per_100km)
{
	int32_t t;
	char sql[512], d[16];

	assert_int_equal(rules_parse_date(today, &t), 0);
	for (int i = 1; i <= days; i++) {
		rules_format_date(t - i, d, sizeof(d));
		snprintf(
		    sql, sizeof(sql),
		    "INSERT OR REPLACE INTO vehicle_day VALUES ('%s', '%s', %f, %f, %f, %f, %f)",
		    vin, d, km, hi, lo, km * fuel_l_per_100km / 100, km);
		exec(f, sql);
	}
}

/* ---- maintenance --------------------------------------------------------------------- */

static void test_maintenance_predicted_and_cycle_closed(void **state)
{
	struct fx *f = *state;
	struct sweep_stats st;

	/* last service 2026-05-15 at 34,442 km: due at 44,442 km or 2027-05-15 */
	exec(f,
	     "INSERT INTO vehicle VALUES ('" VA "', '鲁A12345', 'C1', '大众', '朗逸', 2024, "
	     "'2024-05-21', 17);"
	     "INSERT INTO service_visit VALUES ('S1', '" VA "', '2025-09-20', 23173, "
	     "'maintenance');"
	     "INSERT INTO service_visit VALUES ('S2', '" VA "', '2026-05-15', 34442, "
	     "'maintenance');"
	     "INSERT INTO service_visit VALUES ('S3', '" VA "', '2026-06-01', 35000, 'repair');");
	/* 60 km a day for 30 days: 35,000 + 60 x 175 days = 45,500 > 44,442: overdue */
	drive(f, VA, "2026-11-23", 30, 60, 0, 0, 0);
	st = run(f, "2026-11-23T09:00");
	assert_int_equal(st.maintenance, 1);
	assert_int_equal(f->n_lines, 1);
	assert_string_equal(member(f, 0, "type"), "maintenance_overdue");
	assert_string_equal(member(f, 0, "daily_km_source"), "telemetry");
	assert_string_equal(member(f, 0, "since"), "2026-05-15");
	assert_string_equal(member(f, 0, "due_by"), "km");
	assert_string_equal(member(f, 0, "odometer_km"), "45500");
	assert_string_equal(member(f, 0, "limit_date"), "2027-05-15");
	assert_int_equal(f->n_th, 1);
	assert_true(f->th_due[0] == 43442 && f->th_limit[0] == 44442);
	/* the in-car message went out with it */
	assert_int_equal(q(f, "SELECT count(*) FROM outbox WHERE topic LIKE '%/notify'"), 1);
	assert_string_equal(qs(f, "SELECT json_extract(payload, '$.text') FROM outbox "
	                          "WHERE topic LIKE '%/notify'"),
	                    "您的爱车已超过保养里程，请尽快预约保养。");
	/* the next day: the same episode, nothing new */
	st = run(f, "2026-11-24T09:00");
	assert_int_equal(st.events, 0);
	/* a service visit closes the cycle */
	exec(f, "INSERT INTO service_visit VALUES ('S4', '" VA "', '2026-11-24', 45400, "
	        "'maintenance')");
	st = run(f, "2026-11-25T09:00");
	assert_int_equal(st.events, 0);
	assert_int_equal(st.cleared, 1);
	assert_string_equal(qs(f, "SELECT status || ' ' || active FROM alert"), "resolved 0");
	assert_string_equal(qs(f, "SELECT note FROM alert_log ORDER BY id DESC"), "not due");
	assert_true(f->th_due[0] == 54400 && f->th_limit[0] == 55400);
}

static void test_maintenance_due_then_overdue_by_date(void **state)
{
	struct fx *f = *state;
	struct sweep_stats st;

	/* bought 2025-08-31: first service by 2026-02-28 (or 5,000 km) */
	exec(f, "INSERT INTO vehicle VALUES ('" VB "', '鲁A12346', 'C2', '大众', '速腾', 2025, "
	        "'2025-08-31', 10)");
	drive(f, VB, "2026-02-20", 10, 5, 0, 0, 0); /* 5 km a day: the date comes first */
	st = run(f, "2026-02-19T12:00");            /* 9 days before, 9 days of data: too few */
	assert_int_equal(st.events, 0);
	assert_true(f->th_due[0] == 4010);
	st = run(f, "2026-02-20T12:00"); /* 8 days before */
	assert_int_equal(st.events, 0);
	st = run(f, "2026-02-21T12:00"); /* 7 days before: due */
	assert_int_equal(st.maintenance, 1);
	assert_string_equal(member(f, 0, "type"), "maintenance_due");
	assert_string_equal(member(f, 0, "due_by"), "date");
	assert_string_equal(member(f, 0, "limit_date"), "2026-02-28");
	assert_string_equal(member(f, 0, "days_remaining"), "7");
	assert_string_equal(member(f, 0, "severity"), "info");
	st = run(f, "2026-02-28T12:00"); /* the day itself: still due */
	assert_int_equal(st.events, 0);
	st = run(f, "2026-03-01T12:00"); /* overdue: the same alert escalates */
	assert_int_equal(st.events, 1);
	assert_string_equal(member(f, 0, "type"), "maintenance_overdue");
	assert_string_equal(member(f, 0, "id"), "e1-2");
	assert_int_equal(q(f, "SELECT count(*) FROM alert"), 1);
	/* 19 days since telemetry began, 10 of them driven 5 km: 50 / 19 a day
	 * (a day without a row is a day the car did not move) */
	assert_string_equal(member(f, 0, "daily_km_source"), "telemetry");
	assert_string_equal(member(f, 0, "daily_km"), "2.6");
}

static void test_brand_plan(void **state)
{
	struct fx *f = *state;
	struct sweep_stats st;

	/* 斯柯达 cars get a first service at 7,500 km or 3 months */
	f->cfg.rules.n_plans = 1;
	snprintf(f->cfg.rules.plans[0].brand, sizeof(f->cfg.rules.plans[0].brand), "斯柯达");
	f->cfg.rules.plans[0].first_service_km = 7500;
	f->cfg.rules.plans[0].first_service_months = 3;
	f->cfg.rules.plans[0].interval_km = 15000;
	f->cfg.rules.plans[0].interval_months = 24;
	exec(f, "INSERT INTO vehicle VALUES ('" VA "', '鲁A12345', 'C1', '斯柯达', '明锐', 2026, "
	        "'2026-08-25', 10);"
	        "INSERT INTO vehicle VALUES ('" VB "', '鲁A12346', 'C2', '大众', '速腾', 2026, "
	        "'2026-08-25', 10);");
	st = run(f, "2026-11-20T09:00"); /* 5 days before 2026-11-25 */
	assert_int_equal(st.maintenance, 1);
	assert_string_equal(member(f, 0, "vin"), VA);
	assert_string_equal(member(f, 0, "plan"), "斯柯达");
	assert_string_equal(member(f, 0, "limit_date"), "2026-11-25");
	assert_string_equal(member(f, 0, "limit_km"), "7510");
	f->cfg.rules.n_plans = 0;
}

static void test_maintenance_hook_sets_thresholds(void **state)
{
	struct fx *f = *state;
	struct rules_memo memo;
	struct pw_vehicle va, vb;

	memset(&memo, 0, sizeof(memo));
	exec(f, "INSERT INTO vehicle VALUES ('" VA "', '鲁A12345', 'C1', '大众', '朗逸', 2026, "
	        "'2026-10-01', 8)");
	/* the row is behind the merged vehicle (ingest writes it at the commit):
	 * the hook judges the vehicle's 4,100 km, not the row's 1,000 */
	exec(f, "INSERT INTO vehicle_state (vin, odometer_km, ts_ms, updated_at) VALUES ('" VA
	        "', 1000, 1795300000000, 0)");
	state_vehicle_init(&va, VA);
	va.latest.has = PW_F_ODOMETER;
	va.latest.odometer_km = 4100;
	va.ts_ms = 1795392000000LL;
	assert_int_equal(sweep_maintenance_hook(f->sw, &va, 1795392000000LL, &memo), 0);
	assert_true(memo.maint_due_km == 4008);
	/* 4,100 km read today: 908 km left, due */
	assert_int_equal(q(f, "SELECT count(*) FROM alert WHERE type = 'maintenance_due'"), 1);
	/* unknown to the dealer: no plan */
	memo.maint_due_km = 1;
	state_vehicle_init(&vb, VB);
	assert_int_equal(sweep_maintenance_hook(f->sw, &vb, 1795392000000LL, &memo), 0);
	assert_true(memo.maint_due_km == 0);
}

/* ---- insurance ------------------------------------------------------------------------ */

static void test_insurance_stages_and_renewal(void **state)
{
	struct fx *f = *state;
	struct sweep_stats st;

	exec(f,
	     "INSERT INTO vehicle VALUES ('" VA "', '鲁A12345', 'C1', '大众', '朗逸', 2024, "
	     "'2024-05-21', 17);"
	     "INSERT INTO policy VALUES ('P1-J', '" VA "', '中国人保', 'compulsory', '2026-12-23');"
	     "INSERT INTO policy VALUES ('P0-J', '" VA "', '中国人保', 'compulsory', '2025-12-23');"
	     "INSERT INTO service_visit VALUES ('S1', '" VA "', '2026-11-01', 9000, "
	     "'first_service');");
	st = run(f, "2026-09-23T09:00"); /* 91 days: nothing (the old policy is superseded) */
	assert_int_equal(st.insurance, 0);
	st = run(f, "2026-09-24T09:00"); /* 90 */
	assert_int_equal(st.insurance, 1);
	assert_string_equal(member(f, line_of(f, "insurance_due"), "policy_id"), "P1-J");
	assert_string_equal(member(f, line_of(f, "insurance_due"), "lead_days"), "90");
	assert_string_equal(member(f, line_of(f, "insurance_due"), "severity"), "info");
	st = run(f, "2026-10-01T09:00"); /* 83: the same stage */
	assert_int_equal(st.insurance, 0);
	st = run(f, "2026-11-23T09:00"); /* 30 */
	assert_int_equal(st.insurance, 1);
	assert_string_equal(member(f, line_of(f, "insurance_due"), "days_left"), "30");
	assert_int_equal(q(f, "SELECT events FROM alert WHERE kind = 'insurance'"), 2);
	st = run(f, "2026-12-16T09:00"); /* 7: warning */
	assert_int_equal(st.insurance, 1);
	assert_string_equal(member(f, line_of(f, "insurance_due"), "severity"), "warning");
	st = run(f, "2026-12-23T09:00"); /* the expiry day: critical */
	assert_int_equal(st.insurance, 1);
	assert_string_equal(member(f, line_of(f, "insurance_due"), "severity"), "critical");
	assert_string_equal(qs(f, "SELECT json_extract(payload, '$.text') FROM outbox WHERE topic "
	                          "LIKE '%/notify' ORDER BY id DESC"),
	                    "您的车辆交强险已于 2026-12-23 到期，请尽快续保。");
	assert_int_equal(q(f, "SELECT count(*) FROM alert WHERE kind = 'insurance'"), 1);
	/* renewed: the episode ends */
	exec(f, "INSERT INTO policy VALUES ('P2-J', '" VA "', '中国人保', 'compulsory', "
	        "'2027-12-23')");
	st = run(f, "2026-12-24T09:00");
	assert_int_equal(st.insurance, 0);
	assert_int_equal(st.cleared, 1);
	assert_string_equal(qs(f, "SELECT status || ' ' || active FROM alert WHERE kind = "
	                          "'insurance'"),
	                    "resolved 0");
}

/* ---- follow-ups ------------------------------------------------------------------------- */

static void test_followups_site_local_days(void **state)
{
	struct fx *f = *state;
	struct sweep_stats st;

	exec(f,
	     "INSERT INTO vehicle VALUES ('" VA "', '鲁A12345', 'C1', '大众', '朗逸', 2026, "
	     "'2026-11-16', 8);"
	     "INSERT INTO vehicle VALUES ('" VB "', '鲁A12346', 'C2', '大众', '速腾', 2020, "
	     "'2020-01-01', 8);"
	     "INSERT INTO service_visit VALUES ('S9', '" VB "', '2026-11-20', 60000, 'repair');");
	/* 2026-11-22 23:59 in Shanghai (15:59Z): the 22nd, nothing is due yet */
	st = run(f, "2026-11-22T23:59");
	assert_int_equal(st.followup, 0);
	/* 2026-11-23 00:01 (16:01Z, the same UTC date): 3 days after the visit,
	 * 7 after the purchase */
	st = run(f, "2026-11-23T00:01");
	assert_int_equal(st.followup, 2);
	assert_string_equal(member(f, 0, "reason"), "service_visit");
	assert_string_equal(member(f, 0, "service_id"), "S9");
	assert_string_equal(member(f, 0, "due_date"), "2026-11-23");
	assert_string_equal(member(f, 1, "reason"), "purchase");
	assert_string_equal(member(f, 1, "vin"), VA);
	/* again the same day: nothing twice */
	st = run(f, "2026-11-23T18:00");
	assert_int_equal(st.followup, 0);
	/* missed days are caught up, once */
	exec(f,
	     "INSERT INTO service_visit VALUES ('S10', '" VB "', '2026-11-21', 60100, 'other');"
	     "INSERT INTO service_visit VALUES ('S11', '" VB "', '2026-11-22', 60200, 'other');");
	st = run(f, "2026-11-26T08:00");
	assert_int_equal(st.followup, 2);
	st = run(f, "2026-11-27T08:00");
	assert_int_equal(st.followup, 0);
	assert_int_equal(q(f, "SELECT count(*) FROM alert WHERE kind = 'followup'"), 4);
	/* a run with a clock behind the last one raises nothing */
	st = run(f, "2026-11-20T08:00");
	assert_int_equal(st.followup, 0);
}

/* ---- lost customers and fuel -------------------------------------------------------------- */

static void test_lost_customer_only_while_driven(void **state)
{
	struct fx *f = *state;
	struct sweep_stats st;

	exec(f,
	     "INSERT INTO vehicle VALUES ('" VA "', '鲁A12345', 'C1', '大众', '朗逸', 2020, "
	     "'2020-01-01', 8);"
	     "INSERT INTO service_visit VALUES ('S1', '" VA "', '2025-11-23', 60000, 'repair');");
	st = run(f, "2026-11-23T09:00"); /* 365 days, but no telemetry says it is driven */
	assert_int_equal(st.lost_customer, 0);
	drive(f, VA, "2026-11-23", 3, 30, 0, 0, 0);
	st = run(f, "2026-11-23T10:00");
	assert_int_equal(st.lost_customer, 1);
	assert_string_equal(member(f, line_of(f, "lost_customer"), "type"), "lost_customer");
	assert_string_equal(member(f, line_of(f, "lost_customer"), "days_since"), "365");
	assert_string_equal(member(f, line_of(f, "lost_customer"), "customer_id"), "C1");
	/* a lost customer is for customer care, not for the car */
	assert_int_equal(q(f, "SELECT count(*) FROM outbox WHERE topic LIKE '%/notify' AND "
	                      "json_extract(payload, '$.kind') != 'maintenance_due'"),
	                 0);
	/* the customer comes back */
	exec(f, "INSERT INTO service_visit VALUES ('S2', '" VA "', '2026-11-24', 61000, 'other')");
	st = run(f, "2026-11-24T10:00");
	assert_int_equal(st.lost_customer, 0);
	assert_string_equal(qs(f, "SELECT status FROM alert WHERE kind = 'lost_customer'"),
	                    "resolved");
}

static void test_fuel_anomaly_with_profile(void **state)
{
	struct fx *f = *state;
	struct sweep_stats st;

	exec(f, "INSERT INTO vehicle_state (vin, ts_ms, updated_at) VALUES ('" VB "', 0, 0)");
	/* 83 baseline days at 6.0 l/100km, then 7 days at 7.5 in congestion */
	drive(f, VB, "2026-11-16", 83, 50, 10, 5, 6.0);
	drive(f, VB, "2026-11-23", 7, 40, 0, 30, 7.5);
	st = run(f, "2026-11-23T09:00");
	assert_int_equal(st.fuel, 1);
	assert_string_equal(member(f, 0, "type"), "fuel_anomaly");
	assert_string_equal(member(f, 0, "ratio"), "1.25");
	assert_string_equal(member(f, 0, "recent_l_per_100km"), "7.5");
	assert_string_equal(member(f, 0, "baseline_l_per_100km"), "6");
	assert_string_equal(qs(f, "SELECT json_extract(detail, '$.profile.congestion_share') "
	                          "FROM alert"),
	                    "0.227"); /* (7 x 30 + 23 x 5) / (7 x 40 + 23 x 50) km */
	/* a week later at 6.0 again: cleared */
	drive(f, VB, "2026-11-30", 7, 50, 10, 5, 6.0);
	st = run(f, "2026-11-30T09:00");
	assert_int_equal(st.fuel, 0);
	assert_int_equal(st.cleared, 1);
}

static void test_chunked_run_equals_one_run(void **state)
{
	struct fx *f = *state;
	char sql[256];
	int done = 0, steps = 0;
	struct sweep_stats one, chunked;

	for (int i = 0; i < 25; i++) {
		snprintf(sql, sizeof(sql),
		         "INSERT INTO vehicle VALUES ('LSVAB2354T71%05d', 'P%d', 'C1', 'x', 'y', "
		         "2020, '2026-0%d-15', 10)",
		         i, i, 1 + i % 9);
		exec(f, sql);
	}
	one = run(f, "2026-11-23T09:00");
	exec(f, "DELETE FROM alert_log; DELETE FROM alert; DELETE FROM outbox; "
	        "DELETE FROM sweep_state; DELETE FROM notify_sent");
	f->n_lines = 0;
	assert_int_equal(sweep_start(f->sw, at("2026-11-23T09:00")), 0);
	while (!done) {
		assert_int_equal(sweep_step(f->sw, 4, &done), 0);
		steps++;
	}
	sweep_get_stats(f->sw, &chunked);
	assert_int_equal(steps, 7);
	assert_int_equal(chunked.vehicles, 25);
	assert_int_equal(chunked.events, one.events);
	assert_int_equal(chunked.maintenance, one.maintenance);
	assert_true(one.events > 0);
	/* inside a transaction a run cannot start */
	exec(f, "BEGIN");
	assert_int_equal(sweep_start(f->sw, at("2026-11-23T09:00")), PW_EBUSY);
	exec(f, "ROLLBACK");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_maintenance_predicted_and_cycle_closed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_maintenance_due_then_overdue_by_date, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_brand_plan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maintenance_hook_sets_thresholds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_insurance_stages_and_renewal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_followups_site_local_days, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_customer_only_while_driven, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fuel_anomaly_with_profile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunked_run_equals_one_run, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
