/*
 * test_alerts — the alert lifecycle on a real store: one alert per episode,
 * escalation, clearing, status changes with their log (who, when, note),
 * a closed alert reopened by escalation, the odometer kind staying open;
 * and the ingest hook end to end (real decoder, merge, store, rules): a
 * tyre leak, a fault episode pending -> confirmed with MIL -> cleared, a
 * weak battery, an odometer rollback, each one alert per episode with its
 * events in the same transaction; day accumulators in vehicle_day; memos
 * reloaded from open alerts after a restart; nothing of it when rules are
 * off.
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
#include "ingest.h"
#include "metrics.h"
#include "state.h"
#include "store.h"

#define VIN   "LSVAB2354T7100113"
#define TOPIC "pitwall/v1/vehicles/" VIN "/telemetry"
#define NOW   1795420800000LL /* 2026-11-23T08:00:00Z = 16:00 in Shanghai */

struct fx {
	struct pw_config cfg;
	struct pw_clock clock;
	struct metrics *metrics;
	struct store *store;
	sqlite3 *db;
	struct state *state;
	struct events *ev;
	struct alerts *al;
	struct ingest *in;
	struct ingest_output out;
	int seq;
};

static void fx_open(struct fx *f, int rules)
{
	f->metrics = metrics_new();
	f->store = store_open(":memory:", STORE_READ_WRITE);
	assert_non_null(f->store);
	f->db = (sqlite3 *)store_sqlite(f->store);
	f->state = state_new(16);
	f->ev = events_open(f->db, "jinan-west");
	f->al = alerts_open(f->db, &f->cfg, f->ev);
	assert_non_null(f->al);
	f->in = ingest_new(&(struct ingest_options){.site_id = "jinan-west",
	                                            .clock = &f->clock,
	                                            .metrics = f->metrics,
	                                            .store = f->store,
	                                            .state = f->state,
	                                            .history_interval_s = 300,
	                                            .alerts = rules ? f->al : NULL});
	assert_non_null(f->in);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	config_defaults(&f->cfg);
	clock_init_virtual(&f->clock, NOW, 1e-6, -1);
	fx_open(f, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ingest_free(f->in);
	alerts_close(f->al);
	events_close(f->ev);
	state_free(f->state);
	store_close(f->store);
	metrics_free(f->metrics);
	free(f);
	return 0;
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
	static char buf[2048];
	sqlite3_stmt *s;

	buf[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(buf, sizeof(buf), "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return buf;
}

static int raise_(struct fx *f, enum pw_alert_kind k, const char *subject, int level,
                  enum pw_severity sev, int64_t *id)
{
	struct alerts_raise r = {.vin = VIN,
	                         .kind = k,
	                         .subject = subject,
	                         .level = level,
	                         .severity = sev,
	                         .ts_ms = NOW,
	                         .text = "x"};
	int emitted = -1;

	assert_int_equal(alerts_raise(f->al, &r, id, &emitted), 0);
	return emitted;
}

/* ---- lifecycle -------------------------------------------------------------------- */

static void test_one_alert_per_episode(void **state)
{
	struct fx *f = *state;
	int64_t id = 0, id2 = 0;
	int cleared = -1;

	assert_int_equal(raise_(f, PW_AK_BATTERY, "", 2, PW_SEV_WARNING, &id), 1);
	assert_true(id > 0);
	assert_int_equal(raise_(f, PW_AK_BATTERY, "", 2, PW_SEV_WARNING, &id2), 0);
	assert_true(id2 == id);
	assert_int_equal(raise_(f, PW_AK_BATTERY, "", 1, PW_SEV_INFO, NULL), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM alert"), 1);
	assert_int_equal(q(f, "SELECT count(*) FROM outbox"), 1);
	/* escalation: the same alert, a second event */
	assert_int_equal(raise_(f, PW_AK_BATTERY, "", 3, PW_SEV_CRITICAL, &id2), 1);
	assert_true(id2 == id);
	assert_int_equal(q(f, "SELECT events FROM alert"), 2);
	assert_string_equal(qs(f, "SELECT severity FROM alert"), "critical");
	assert_int_equal(q(f, "SELECT count(*) FROM outbox"), 2);
	assert_string_equal(qs(f, "SELECT payload FROM outbox ORDER BY id DESC"),
	                    "{\"id\":\"e1-2\",\"type\":\"battery_low\",\"vin\":\"" VIN
	                    "\",\"ts\":1795420800000,\"severity\":\"critical\",\"alert_id\":1}");
	/* cleared: resolved by the system, logged */
	assert_int_equal(
	    alerts_clear(f->al, VIN, PW_AK_BATTERY, "", NOW + 1000, "condition cleared", &cleared),
	    0);
	assert_int_equal(cleared, 1);
	assert_string_equal(qs(f, "SELECT status FROM alert"), "resolved");
	assert_int_equal(q(f, "SELECT active FROM alert"), 0);
	assert_int_equal(q(f, "SELECT cleared_ms FROM alert"), (long)(NOW + 1000));
	assert_string_equal(qs(f,
	                       "SELECT group_concat(action || ':' || actor || ':' || status, ' ') "
	                       "FROM (SELECT * FROM alert_log ORDER BY id)"),
	                    "opened:system:open escalated:system:open cleared:system:resolved");
	assert_int_equal(alerts_clear(f->al, VIN, PW_AK_BATTERY, "", NOW, "x", &cleared), 0);
	assert_int_equal(cleared, 0);
	/* a new episode is a new alert */
	assert_int_equal(raise_(f, PW_AK_BATTERY, "", 2, PW_SEV_WARNING, &id2), 1);
	assert_true(id2 != id);
	/* subjects are separate episodes */
	assert_int_equal(raise_(f, PW_AK_TYRE_PRESSURE, "fl", 2, PW_SEV_WARNING, NULL), 1);
	assert_int_equal(raise_(f, PW_AK_TYRE_PRESSURE, "fr", 2, PW_SEV_WARNING, NULL), 1);
	assert_int_equal(q(f, "SELECT count(*) FROM alert WHERE active = 1"), 3);
}

static void test_status_changes_are_logged(void **state)
{
	struct fx *f = *state;
	int64_t id = 0;

	raise_(f, PW_AK_MAINTENANCE, "2026-05-15", 1, PW_SEV_INFO, &id);
	assert_int_equal(alerts_set_status(f->al, id, "acknowledged", "li.na", NULL, NOW + 1), 0);
	assert_int_equal(alerts_set_status(f->al, id, "contacted", "li.na", "no answer", NOW + 2),
	                 0);
	assert_int_equal(
	    alerts_set_status(f->al, id, "contacted", "li.na", "will call back", NOW + 3), 0);
	assert_int_equal(alerts_set_status(f->al, id, "booked", "wang.q", "Tue 9:00", NOW + 4), 0);
	assert_int_equal(alerts_set_status(f->al, id, "resolved", "wang.q", "serviced", NOW + 5),
	                 0);
	assert_int_equal(alerts_set_status(f->al, id, "contacted", "li.na", NULL, NOW + 6),
	                 PW_EEXIST);
	assert_int_equal(alerts_set_status(f->al, id, "open", "li.na", NULL, NOW), PW_EINVAL);
	assert_int_equal(alerts_set_status(f->al, id, "bogus", "li.na", NULL, NOW), PW_EINVAL);
	assert_int_equal(alerts_set_status(f->al, id, "booked", "", NULL, NOW), PW_EINVAL);
	assert_int_equal(alerts_set_status(f->al, id, "booked", "system", NULL, NOW), PW_EINVAL);
	assert_int_equal(alerts_set_status(f->al, 999, "booked", "x", NULL, NOW), PW_ENOTFOUND);
	assert_string_equal(
	    qs(f, "SELECT group_concat(action || '/' || actor || '/' || ts_ms || '/' || note, '|') "
	          "FROM (SELECT * FROM alert_log ORDER BY id)"),
	    "opened/system/1795420800000/maintenance_due|"
	    "acknowledged/li.na/1795420800001/|contacted/li.na/1795420800002/no answer|"
	    "contacted/li.na/1795420800003/will call back|booked/wang.q/1795420800004/Tue 9:00|"
	    "resolved/wang.q/1795420800005/serviced");
	/* closed by a person while the condition holds: nothing new at the same
	 * level, but an escalation reopens it */
	assert_int_equal(raise_(f, PW_AK_MAINTENANCE, "2026-05-15", 1, PW_SEV_INFO, NULL), 0);
	assert_string_equal(qs(f, "SELECT status FROM alert"), "resolved");
	assert_int_equal(raise_(f, PW_AK_MAINTENANCE, "2026-05-15", 2, PW_SEV_WARNING, NULL), 1);
	assert_string_equal(qs(f, "SELECT status || ' ' || type FROM alert"),
	                    "open maintenance_overdue");
	/* a dismissed alert stays dismissed when its condition clears */
	assert_int_equal(alerts_set_status(f->al, id, "dismissed", "li.na", "sold the car", NOW),
	                 0);
	assert_int_equal(alerts_clear(f->al, VIN, PW_AK_MAINTENANCE, "2026-05-15", NOW, "x", NULL),
	                 0);
	assert_string_equal(qs(f, "SELECT status || ' ' || active FROM alert"), "dismissed 0");
}

static void test_odometer_stays_open_and_clear_others(void **state)
{
	struct fx *f = *state;

	raise_(f, PW_AK_ODOMETER, "", 2, PW_SEV_WARNING, NULL);
	alerts_clear(f->al, VIN, PW_AK_ODOMETER, "", NOW, "odometer consistent again", NULL);
	assert_string_equal(qs(f, "SELECT status || ' ' || active FROM alert"), "open 0");
	raise_(f, PW_AK_INSURANCE, "compulsory:2026-12-01", 1, PW_SEV_INFO, NULL);
	raise_(f, PW_AK_INSURANCE, "commercial:2026-12-01", 1, PW_SEV_INFO, NULL);
	raise_(f, PW_AK_INSURANCE, "compulsory:2025-12-01", 4, PW_SEV_CRITICAL, NULL);
	assert_int_equal(alerts_clear_others(f->al, VIN, PW_AK_INSURANCE, "compulsory:2026-12-01",
	                                     NOW, "renewed"),
	                 0);
	assert_string_equal(qs(f, "SELECT group_concat(subject) FROM alert "
	                          "WHERE kind = 'insurance' AND active = 1"),
	                    "compulsory:2026-12-01");
	assert_int_equal(alerts_clear_others(f->al, VIN, PW_AK_INSURANCE, NULL, NOW, "gone"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM alert WHERE kind = 'insurance' AND active"), 0);
}

/* ---- the ingest hook --------------------------------------------------------------- */

static void send(struct fx *f, int64_t ts_ms, const char *fields)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), "{\"v\":1,\"vin\":\"%s\",\"seq\":%d,\"ts\":%lld%s%s}", VIN,
	         f->seq++, (long long)ts_ms, *fields ? "," : "", fields);
	assert_int_equal(ingest_process(f->in, TOPIC, strlen(TOPIC), buf, strlen(buf), &f->out), 0);
	assert_int_equal(f->out.accepted, 1);
}

static long alerts_of(struct fx *f, const char *kind)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM alert WHERE kind = '%s'", kind);
	return q(f, sql);
}

static void tyre_msg(char *buf, size_t len, double kpa, double temp)
{
	snprintf(buf, len, "\"tires\":{\"fl\":{\"kpa\":%.1f,\"temp_c\":%.1f}}", kpa, temp);
}

static void test_tyre_leak_episode(void **state)
{
	struct fx *f = *state;
	int64_t t = NOW - 20 * 3600 * 1000LL;
	char m[128];

	for (int i = 0; i <= 10; i++) { /* 232 -> 192 kPa over 20 h at 18 °C */
		tyre_msg(m, sizeof(m), 232 - 4 * i, 18);
		send(f, t + i * 7200000LL, m);
	}
	/* the leak (20 kPa within 24 h at one temperature) opened it at 212;
	 * 192 is still a warning (critical is below 172.5): one alert, one event */
	assert_int_equal(alerts_of(f, "tyre_pressure"), 1);
	assert_string_equal(qs(f, "SELECT json_extract(detail, '$.reason') FROM alert"),
	                    "slow_leak");
	assert_int_equal(q(f, "SELECT count(*) FROM outbox WHERE event_type = 'tyre_pressure'"), 1);
	/* falling on to critical escalates the same alert and speaks to the car */
	tyre_msg(m, sizeof(m), 160, 18);
	send(f, NOW + 1000, m);
	assert_int_equal(alerts_of(f, "tyre_pressure"), 1);
	assert_string_equal(qs(f, "SELECT severity FROM alert"), "critical");
	assert_int_equal(q(f, "SELECT count(*) FROM outbox WHERE event_type = 'tyre_pressure'"), 2);
	assert_int_equal(q(f, "SELECT count(*) FROM outbox WHERE topic LIKE '%/notify'"), 1);
	/* inflated back to placard: cleared and resolved */
	tyre_msg(m, sizeof(m), 235, 18);
	send(f, NOW + 60000, m);
	assert_string_equal(qs(f, "SELECT status || ' ' || active FROM alert"), "resolved 0");
	assert_int_equal(q(f, "SELECT count(*) FROM outbox"), 3);
}

static void test_fault_episode_via_ingest(void **state)
{
	struct fx *f = *state;

	send(f, NOW - 3000, "\"dtc\":[{\"code\":\"P0301\",\"status\":\"pending\"}]");
	send(f, NOW - 2000, "\"dtc\":[{\"code\":\"P0301\",\"status\":\"pending\"}]");
	send(f, NOW - 1000, "\"dtc\":[{\"code\":\"P0301\",\"status\":\"confirmed\",\"mil\":true}]");
	assert_int_equal(alerts_of(f, "fault"), 1);
	assert_string_equal(qs(f, "SELECT subject || ' ' || severity || ' ' || events FROM alert"),
	                    "P0301 critical 2");
	assert_string_equal(
	    qs(f, "SELECT payload FROM outbox WHERE topic LIKE '%/notify'"),
	    "{\"v\":1,\"ts\":1795420799000,\"id\":\"n1-2\",\"kind\":\"fault\","
	    "\"text\":\"车辆检测到故障（P0301），故障灯已亮起，请尽快到店检修。\"}");
	{
		json_t *e =
		    json_loads(qs(f, "SELECT payload FROM outbox WHERE event_type = 'fault' "
		                     "ORDER BY id DESC"),
		               0, NULL);

		assert_non_null(e);
		assert_string_equal(json_string_value(json_object_get(e, "code")), "P0301");
		assert_string_equal(json_string_value(json_object_get(e, "status")), "confirmed");
		assert_true(json_is_true(json_object_get(e, "mil")));
		assert_string_equal(json_string_value(json_object_get(e, "severity")), "critical");
		json_decref(e);
	}
	send(f, NOW, "\"dtc\":[]");
	assert_string_equal(qs(f, "SELECT status || ' ' || active FROM alert"), "resolved 0");
	/* the code again later: a new episode */
	send(f, NOW + 1000, "\"dtc\":[{\"code\":\"P0301\",\"status\":\"pending\"}]");
	assert_int_equal(alerts_of(f, "fault"), 2);
}

static void test_battery_and_rollback_via_ingest(void **state)
{
	struct fx *f = *state;

	send(f, NOW - 5000, "\"ignition\":\"on\",\"battery_v\":10.2,\"odometer_km\":50000");
	assert_int_equal(alerts_of(f, "battery"), 0);
	send(f, NOW - 4000, "\"ignition\":\"off\",\"battery_v\":11.6");
	send(f, NOW - 3000, "\"battery_v\":11.5");
	assert_int_equal(alerts_of(f, "battery"), 1);
	send(f, NOW - 2500, "\"battery_v\":12.4");
	assert_string_equal(qs(f, "SELECT status FROM alert WHERE kind = 'battery'"), "resolved");
	send(f, NOW - 2000, "\"odometer_km\":4000");
	send(f, NOW - 1000, "\"odometer_km\":4001");
	assert_int_equal(alerts_of(f, "odometer"), 1);
	assert_string_equal(qs(f, "SELECT detail FROM alert WHERE kind = 'odometer'"),
	                    "{\"odometer_km\":50000.0,\"reported_km\":4000.0}");
	send(f, NOW, "\"odometer_km\":50010");
	assert_string_equal(
	    qs(f, "SELECT status || ' ' || active FROM alert WHERE kind = 'odometer'"), "open 0");
}

static void test_day_accumulators_in_vehicle_day(void **state)
{
	struct fx *f = *state;
	/* 2026-11-22 23:50 and 2026-11-23 00:10 in Shanghai */
	int64_t t = 1795362600000LL;

	send(f, t, "\"odometer_km\":1000,\"speed_kmh\":50");
	send(f, t + 60000, "\"odometer_km\":1001,\"speed_kmh\":100,\"fuel_l_per_100km\":8");
	send(f, t + 120000, "\"odometer_km\":1002,\"speed_kmh\":10");
	send(f, t + 1200000, "\"odometer_km\":1010,\"speed_kmh\":50");
	/* the history row of 23:50 handed out nothing (no km yet); 00:10 hands
	 * out the finished day and the new day's 8 km */
	assert_string_equal(
	    qs(f, "SELECT group_concat(day || '=' || km || '/' || km_highway || '/' "
	          "|| km_congestion || '/' || fuel_l || '/' || fuel_km, ' ') "
	          "FROM (SELECT * FROM vehicle_day ORDER BY day)"),
	    "2026-11-22=2.0/1.0/1.0/0.0799999982118607/1.0 2026-11-23=8.0/0.0/0.0/0.0/0.0");
}

static void test_memos_survive_restart(void **state)
{
	struct fx *f = *state;
	struct pw_vehicle v;
	char m[128];

	tyre_msg(m, sizeof(m), 190, 18);
	send(f, NOW - 1000, m);
	assert_int_equal(alerts_of(f, "tyre_pressure"), 1);
	/* a restart: state reloaded from the store, memos from the open alerts */
	v = *state_find(f->state, VIN);
	memset(&v.rules, 0, sizeof(v.rules));
	state_put(f->state, &v);
	assert_int_equal(alerts_load_memos(f->al, f->state), 0);
	assert_int_equal(rules_memo_get(&state_find(f->state, VIN)->rules, RULES_SLOT_PRESSURE(0)),
	                 PW_SEV_WARNING);
	/* so the same episode raises nothing and still clears */
	tyre_msg(m, sizeof(m), 195, 18);
	send(f, NOW, m);
	assert_int_equal(q(f, "SELECT count(*) FROM outbox"), 1);
	tyre_msg(m, sizeof(m), 231, 18);
	send(f, NOW + 1000, m);
	assert_string_equal(qs(f, "SELECT status FROM alert"), "resolved");
}

static void test_rules_off(void **state)
{
	struct fx *f = *state;

	ingest_free(f->in);
	f->in = ingest_new(&(struct ingest_options){.site_id = "jinan-west",
	                                            .clock = &f->clock,
	                                            .metrics = f->metrics,
	                                            .store = f->store,
	                                            .state = f->state,
	                                            .history_interval_s = 300});
	send(f, NOW - 1000, "\"tires\":{\"fl\":{\"kpa\":100}},\"odometer_km\":10");
	send(f, NOW, "\"tires\":{\"fl\":{\"kpa\":100}},\"odometer_km\":20");
	assert_int_equal(q(f, "SELECT count(*) FROM alert"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM vehicle_day"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_alert_per_episode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_changes_are_logged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_odometer_stays_open_and_clear_others, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_tyre_leak_episode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_episode_via_ingest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_battery_and_rollback_via_ingest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_day_accumulators_in_vehicle_day, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memos_survive_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rules_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
