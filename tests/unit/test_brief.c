/*
 * test_brief — the health brief of a dealer car with telemetry (service
 * history, maintenance prediction, open alerts, tyres with their levels,
 * DTCs with severities, fuel against baseline, driving profile, insurance),
 * of a car the dealer does not know, of an unknown vin, and on a read-only
 * connection as the HTTP thread has it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "brief.h"
#include "clock.h"
#include "config.h"
#include "rules.h"
#include "store.h"

#define VA  "LSVAB2354T7100113"
#define VB  "LSVBC2234P6100433"
#define NOW 1795392000000LL /* 2026-11-23 08:00 in Shanghai */

static struct pw_config cfg;

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static void fill(sqlite3 *db)
{
	char sql[512], d[16];
	int32_t today;

	exec(
	    db,
	    "INSERT INTO advisor VALUES ('A01', '李娜', '1');"
	    "INSERT INTO customer VALUES ('C1', '张三', 'M', '13800000000', 'vip', 'A01', 1);"
	    "INSERT INTO vehicle VALUES ('" VA "', '鲁A12345', 'C1', '大众', '朗逸', 2024, "
	    "'2024-05-21', 17);"
	    "INSERT INTO service_visit VALUES ('S1', '" VA "', '2026-05-15', 34442, 'maintenance');"
	    "INSERT INTO service_visit VALUES ('S2', '" VA "', '2026-06-01', 35000, 'repair');"
	    "INSERT INTO policy VALUES ('P1', '" VA "', '中国人保', 'compulsory', '2026-12-23');"
	    "INSERT INTO policy VALUES ('P0', '" VA "', '中国人保', 'compulsory', '2025-12-23');"
	    "INSERT INTO vehicle_state (vin, odometer_km, ts_ms, online, ignition, battery_v, "
	    "fuel_pct, dtc, tire_fl_kpa, tire_fl_tread_mm, tire_fl_temp_c, tire_rr_kpa, "
	    "updated_at) VALUES ('" VA "', 43123.46, 1795388400000, 1, 'off', 12.41, 55.5, "
	    "'[{\"code\":\"P0301\",\"status\":\"confirmed\",\"mil\":true}]', 200, 2.5, 21, 230, 0);"
	    "INSERT INTO alert (vin, kind, subject, type, severity, level, status, active, "
	    "opened_ms, updated_ms, events, detail) VALUES ('" VA "', 'fault', 'P0301', 'fault', "
	    "'critical', 3, 'acknowledged', 1, 1, 1, 1, '{\"code\":\"P0301\"}');"
	    "INSERT INTO alert (vin, kind, subject, type, severity, level, status, active, "
	    "opened_ms, updated_ms, events) VALUES ('" VA "', 'battery', '', 'battery_low', "
	    "'warning', 2, 'resolved', 0, 1, 1, 1);");
	assert_int_equal(rules_parse_date("2026-11-23", &today), 0);
	for (int i = 1; i <= 90; i++) {
		int recent = i <= 7;

		rules_format_date(today - i, d, sizeof(d));
		snprintf(sql, sizeof(sql),
		         "INSERT INTO vehicle_day VALUES ('%s', '%s', 40, %d, %d, %f, 40)", VA, d,
		         recent ? 0 : 20, recent ? 30 : 4, recent ? 3.2 : 2.4);
		exec(db, sql);
	}
	exec(db, "INSERT INTO vehicle_state (vin, odometer_km, ts_ms, updated_at) VALUES ('" VB
	         "', 100, 1795388400000, 0)");
}

static const char *str(json_t *o, const char *path)
{
	static char buf[256];
	char p[128], *save = NULL, *k;
	json_t *v = o;

	snprintf(p, sizeof(p), "%s", path);
	for (k = strtok_r(p, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k)) : json_object_get(v, k);
	if (!v)
		return "(missing)";
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_null(v))
		return "null";
	if (json_is_true(v))
		return "true";
	if (json_is_false(v))
		return "false";
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
	else
		snprintf(buf, sizeof(buf), "(%zu)",
		         json_is_array(v) ? json_array_size(v) : json_object_size(v));
	return buf;
}

static void check_brief(struct brief *b)
{
	json_t *o = NULL;

	assert_int_equal(brief_vehicle(b, VA, NOW, &o), 0);
	assert_string_equal(str(o, "plate"), "鲁A12345");
	assert_string_equal(str(o, "customer_id"), "C1");
	assert_string_equal(str(o, "odometer_km"), "43123.5");
	assert_string_equal(str(o, "battery_v"), "12.41");
	assert_string_equal(str(o, "last_service.service_id"), "S2");
	assert_string_equal(str(o, "days_since_service"), "175");
	assert_string_equal(str(o, "km_since_service"), "8123.5");
	/* the maintenance cycle runs from the last maintenance, not the repair */
	assert_string_equal(str(o, "maintenance.cycle"), "interval");
	assert_string_equal(str(o, "maintenance.limit_km"), "44442");
	assert_string_equal(str(o, "maintenance.limit_date"), "2027-05-15");
	assert_string_equal(str(o, "maintenance.daily_km_source"), "telemetry");
	assert_string_equal(str(o, "maintenance.daily_km"), "40");
	/* read today: 1,318.5 km left at 40 km a day is 32 days away */
	assert_string_equal(str(o, "maintenance.state"), "ok");
	assert_string_equal(str(o, "maintenance.remaining_km"), "1318.5");
	assert_string_equal(str(o, "maintenance.predicted_date"), "2026-12-25");
	/* alerts still being worked on, not the resolved one */
	assert_string_equal(str(o, "alerts"), "(1)");
	assert_string_equal(str(o, "alerts.0.type"), "fault");
	assert_string_equal(str(o, "alerts.0.status"), "acknowledged");
	assert_string_equal(str(o, "alerts.0.detail.code"), "P0301");
	/* tyres and codes with their levels */
	assert_string_equal(str(o, "tyres.fl.pressure"), "warning");
	assert_string_equal(str(o, "tyres.fl.tread"), "warning");
	assert_string_equal(str(o, "tyres.rr.pressure"), "ok");
	assert_string_equal(str(o, "tyres.rr.tread"), "null");
	assert_string_equal(str(o, "tyres.fr"), "(missing)");
	assert_string_equal(str(o, "dtc.0.severity"), "critical");
	/* fuel 8.0 against 6.0 l/100km, and the congestion that explains it */
	assert_string_equal(str(o, "fuel.recent_l_per_100km"), "8");
	assert_string_equal(str(o, "fuel.baseline_l_per_100km"), "6");
	assert_string_equal(str(o, "fuel.anomaly"), "true");
	assert_string_equal(str(o, "profile.km"), "1200");
	assert_string_equal(str(o, "profile.congestion_share"), "0.252"); /* (7x30+23x4)/1200 */
	assert_string_equal(str(o, "profile.highway_share"), "0.383");    /* 23x20/1200 */
	/* the latest policy of each kind */
	assert_string_equal(str(o, "insurance"), "(1)");
	assert_string_equal(str(o, "insurance.0.policy_id"), "P1");
	assert_string_equal(str(o, "insurance.0.days_left"), "30");
	json_decref(o);

	/* telemetry only: no dealer parts */
	assert_int_equal(brief_vehicle(b, VB, NOW, &o), 0);
	assert_string_equal(str(o, "plate"), "null");
	assert_string_equal(str(o, "maintenance"), "null");
	assert_string_equal(str(o, "last_service"), "null");
	assert_string_equal(str(o, "odometer_km"), "100");
	assert_string_equal(str(o, "fuel"), "null");
	json_decref(o);
	assert_int_equal(brief_vehicle(b, "LSVAB2354T7100999", NOW, &o), PW_ENOTFOUND);
	assert_null(o);
}

static void test_brief_memory(void **state)
{
	struct store *st = store_open(":memory:", STORE_READ_WRITE);
	struct brief *b;

	(void)state;
	assert_non_null(st);
	fill((sqlite3 *)store_sqlite(st));
	b = brief_open((sqlite3 *)store_sqlite(st), &cfg);
	assert_non_null(b);
	check_brief(b);
	brief_close(b);
	store_close(st);
}

static void test_brief_read_only_connection(void **state)
{
	char path[] = "/tmp/pw-test-brief-XXXXXX", extra[64];
	int fd = mkstemp(path);
	struct store *rw, *ro;
	struct brief *b;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	rw = store_open(path, STORE_READ_WRITE);
	assert_non_null(rw);
	fill((sqlite3 *)store_sqlite(rw));
	ro = store_open(path, STORE_READ_ONLY);
	assert_non_null(ro);
	b = brief_open((sqlite3 *)store_sqlite(ro), &cfg);
	assert_non_null(b);
	check_brief(b);
	brief_close(b);
	store_close(ro);
	store_close(rw);
	unlink(path);
	snprintf(extra, sizeof(extra), "%s-wal", path);
	unlink(extra);
	snprintf(extra, sizeof(extra), "%s-shm", path);
	unlink(extra);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_brief_memory),
	    cmocka_unit_test(test_brief_read_only_connection),
	};

	config_defaults(&cfg);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
