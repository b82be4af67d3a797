/*
 * test_events — event and in-car message JSON against the contract (ids,
 * required members, own fields, topics), the Chinese texts, one in-car
 * message per vehicle, kind and site-local day, and the outbox drain:
 * id order, deletion only once acknowledged, resend after a refusal or a
 * silence, the in-flight window, a publish that fails, rows written by
 * another connection, a rolled-back transaction leaving nothing.
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

#include "events.h"
#include "rules.h"
#include "store.h"

#define VIN "LSVAB2354T7100113"
#define T0  1795392000000LL /* 2026-11-23T00:00:00Z, 08:00 in Shanghai */

struct fx {
	struct store *store;
	sqlite3 *db;
	struct events *ev;
	char taps[8][1024];
	int n_taps;
	/* publish recorder */
	int64_t pub_ids[4096];
	char pub_topics[16][128];
	char pub_payloads[16][1024];
	int n_pub;
	int fail_after; /* publish fails from this call on; -1 never */
};

static void tap(void *ctx, const char *json)
{
	struct fx *f = ctx;

	if (f->n_taps < 8)
		snprintf(f->taps[f->n_taps], sizeof(f->taps[0]), "%s", json);
	f->n_taps++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->store = store_open(":memory:", STORE_READ_WRITE);
	assert_non_null(f->store);
	f->db = (sqlite3 *)store_sqlite(f->store);
	f->ev = events_open(f->db, "jinan-west");
	assert_non_null(f->ev);
	events_set_tap(f->ev, tap, f);
	f->fail_after = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	events_close(f->ev);
	store_close(f->store);
	free(f);
	return 0;
}

static int publish(void *ctx, int64_t id, const char *topic, const char *payload, size_t len,
                   const char *type)
{
	struct fx *f = ctx;

	(void)type;
	if (f->fail_after >= 0 && f->n_pub >= f->fail_after)
		return PW_EIO;
	assert_int_equal(strlen(payload), len);
	if (f->n_pub < 16) {
		snprintf(f->pub_topics[f->n_pub], sizeof(f->pub_topics[0]), "%s", topic);
		snprintf(f->pub_payloads[f->n_pub], sizeof(f->pub_payloads[0]), "%s", payload);
	}
	if (f->n_pub < 4096)
		f->pub_ids[f->n_pub] = id;
	f->n_pub++;
	return PW_OK;
}

static long outbox(struct fx *f)
{
	long n = -1;

	assert_int_equal(events_outbox_count(f->ev, &n), 0);
	return n;
}

static int64_t day(const char *s)
{
	int32_t d;

	assert_int_equal(rules_parse_date(s, &d), 0);
	return d;
}

static void emit(struct fx *f, int64_t alert_id, int seq, const char *notify, const char *text,
                 const char *date, int *notified)
{
	json_t *fields = json_pack("{s:s, s:f}", "wheel", "fl", "kpa", 170.5);
	struct events_item it = {.vin = VIN,
	                         .type = "tyre_pressure",
	                         .severity = PW_SEV_CRITICAL,
	                         .ts_ms = T0,
	                         .alert_id = alert_id,
	                         .seq = seq,
	                         .fields = fields,
	                         .notify = notify,
	                         .text = text,
	                         .notify_day = (int32_t)day(date)};

	assert_int_equal(events_emit(f->ev, &it, notified), 0);
	json_decref(fields);
}

static void test_event_json(void **state)
{
	struct fx *f = *state;
	json_t *o;
	json_error_t err;
	int notified = -1;

	emit(f, 17, 2, NULL, NULL, "2026-11-23", &notified);
	assert_int_equal(notified, 0);
	assert_int_equal(f->n_taps, 1);
	o = json_loads(f->taps[0], 0, &err);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "id")), "e17-2");
	assert_string_equal(json_string_value(json_object_get(o, "type")), "tyre_pressure");
	assert_string_equal(json_string_value(json_object_get(o, "vin")), VIN);
	assert_true(json_integer_value(json_object_get(o, "ts")) == T0);
	assert_string_equal(json_string_value(json_object_get(o, "severity")), "critical");
	assert_int_equal(json_integer_value(json_object_get(o, "alert_id")), 17);
	assert_string_equal(json_string_value(json_object_get(o, "wheel")), "fl");
	assert_true(json_real_value(json_object_get(o, "kpa")) == 170.5);
	json_decref(o);
	/* the common members come first, as in the contract */
	assert_int_equal(strncmp(f->taps[0], "{\"id\":\"e17-2\",\"type\":\"tyre_pressure\",", 37),
	                 0);
	assert_int_equal(outbox(f), 1);
	events_drain(f->ev, publish, f, T0, 60000, NULL);
	assert_int_equal(f->n_pub, 1);
	assert_string_equal(f->pub_topics[0], "pitwall/v1/sites/jinan-west/events");
	assert_string_equal(f->pub_payloads[0], f->taps[0]);
}

static void test_notify_once_per_vehicle_kind_day(void **state)
{
	struct fx *f = *state;
	int notified = -1;
	json_t *o;

	emit(f, 1, 1, "tyre", "左前轮胎压过低（170 kPa），请尽快检查轮胎。", "2026-11-23",
	     &notified);
	assert_int_equal(notified, 1);
	assert_int_equal(outbox(f), 2);
	/* the same kind the same day: the event, no second message */
	emit(f, 2, 1, "tyre", "右后轮胎压过低（160 kPa），请尽快检查轮胎。", "2026-11-23",
	     &notified);
	assert_int_equal(notified, 0);
	assert_int_equal(outbox(f), 3);
	/* another kind that day, and the same kind the next day: yes */
	emit(f, 3, 1, "fault", "车辆检测到故障（P0301），故障灯已亮起，请尽快到店检修。",
	     "2026-11-23", &notified);
	assert_int_equal(notified, 1);
	emit(f, 4, 1, "tyre", "x", "2026-11-24", &notified);
	assert_int_equal(notified, 1);
	assert_int_equal(outbox(f), 7);
	events_drain(f->ev, publish, f, T0, 60000, NULL);
	assert_int_equal(f->n_pub, 7);
	assert_string_equal(f->pub_topics[1], "pitwall/v1/vehicles/" VIN "/notify");
	o = json_loads(f->pub_payloads[1], 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "v")), 1);
	assert_true(json_integer_value(json_object_get(o, "ts")) == T0);
	assert_string_equal(json_string_value(json_object_get(o, "id")), "n1-1");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "tyre");
	assert_string_equal(json_string_value(json_object_get(o, "text")),
	                    "左前轮胎压过低（170 kPa），请尽快检查轮胎。");
	assert_int_equal(json_object_size(o), 5);
	json_decref(o);
}

static void test_texts_and_kinds(void **state)
{
	char b[EVENTS_TEXT_MAX];

	(void)state;
	events_text_maintenance(b, sizeof(b), 0, 1, 812.4, 20);
	assert_string_equal(b, "您的爱车距离下次保养还有 812 公里，请及时预约保养。");
	events_text_maintenance(b, sizeof(b), 0, 0, 3000, 5);
	assert_string_equal(b, "您的爱车距离下次保养还有 5 天，请及时预约保养。");
	events_text_maintenance(b, sizeof(b), 0, 0, 3000, 0);
	assert_string_equal(b, "您的爱车今天到了保养时间，请及时预约保养。");
	events_text_maintenance(b, sizeof(b), 1, 1, -20, -3);
	assert_string_equal(b, "您的爱车已超过保养里程，请尽快预约保养。");
	events_text_maintenance(b, sizeof(b), 1, 0, 200, -3);
	assert_string_equal(b, "您的爱车已超过保养时间，请尽快预约保养。");
	events_text_insurance(b, sizeof(b), "compulsory", "2026-12-23", 30);
	assert_string_equal(b, "您的车辆交强险将于 2026-12-23 到期（还有 30 天），请及时续保。");
	events_text_insurance(b, sizeof(b), "commercial", "2026-11-20", -3);
	assert_string_equal(b, "您的车辆商业险已于 2026-11-20 到期，请尽快续保。");
	events_text_tyre_pressure(b, sizeof(b), PW_TIRE_RR, 160.2, 0);
	assert_string_equal(b, "右后轮胎压过低（160 kPa），请尽快检查轮胎。");
	events_text_tyre_pressure(b, sizeof(b), PW_TIRE_FR, 205, 1);
	assert_string_equal(b, "右前轮胎疑似慢漏气（205 kPa），请尽快检查轮胎。");
	events_text_tyre_tread(b, sizeof(b), PW_TIRE_RL, 1.5);
	assert_string_equal(b, "左后轮胎花纹深度仅 1.5 毫米，低于安全标准，请尽快更换轮胎。");
	events_text_fault(b, sizeof(b), "P0301", 0);
	assert_string_equal(b, "车辆检测到故障（P0301），请尽快到店检修。");
	/* which alerts speak to the car */
	assert_string_equal(events_notify_kind(PW_AK_MAINTENANCE, PW_SEV_INFO), "maintenance_due");
	assert_string_equal(events_notify_kind(PW_AK_INSURANCE, PW_SEV_INFO), "insurance_due");
	assert_string_equal(events_notify_kind(PW_AK_TYRE_PRESSURE, PW_SEV_CRITICAL), "tyre");
	assert_string_equal(events_notify_kind(PW_AK_TYRE_TREAD, PW_SEV_CRITICAL), "tyre");
	assert_null(events_notify_kind(PW_AK_TYRE_PRESSURE, PW_SEV_WARNING));
	assert_string_equal(events_notify_kind(PW_AK_FAULT, PW_SEV_CRITICAL), "fault");
	assert_null(events_notify_kind(PW_AK_FAULT, PW_SEV_WARNING));
	assert_null(events_notify_kind(PW_AK_BATTERY, PW_SEV_CRITICAL));
	assert_null(events_notify_kind(PW_AK_LOST_CUSTOMER, PW_SEV_INFO));
}

static void test_drain_deletes_only_acknowledged(void **state)
{
	struct fx *f = *state;
	int n = 0;

	for (int i = 1; i <= 5; i++)
		emit(f, i, 1, NULL, NULL, "2026-11-23", NULL);
	assert_int_equal(events_drain(f->ev, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, 5);
	for (int i = 1; i < 5; i++)
		assert_true(f->pub_ids[i] > f->pub_ids[i - 1]); /* id order */
	/* nothing acknowledged: nothing deleted, nothing sent twice */
	assert_int_equal(events_drain(f->ev, publish, f, T0 + 1000, 60000, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(outbox(f), 5);
	events_confirm(f->ev, f->pub_ids[0], 1);
	events_confirm(f->ev, f->pub_ids[2], 1);
	assert_int_equal(events_drain(f->ev, publish, f, T0 + 2000, 60000, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(outbox(f), 3);
	/* silence for the resend time: the unacknowledged go again, oldest first */
	assert_int_equal(events_drain(f->ev, publish, f, T0 + 60000, 60000, &n), 0);
	assert_int_equal(n, 3);
	assert_true(f->pub_ids[5] == f->pub_ids[1] && f->pub_ids[6] == f->pub_ids[3] &&
	            f->pub_ids[7] == f->pub_ids[4]);
	/* a refusal: again from the oldest in flight */
	events_confirm(f->ev, f->pub_ids[1], 1);
	events_confirm(f->ev, f->pub_ids[3], 0);
	assert_int_equal(events_drain(f->ev, publish, f, T0 + 61000, 60000, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(outbox(f), 2);
	events_confirm(f->ev, f->pub_ids[3], 1);
	events_confirm(f->ev, f->pub_ids[4], 1);
	assert_int_equal(events_drain(f->ev, publish, f, T0 + 62000, 60000, &n), 0);
	assert_int_equal(outbox(f), 0);
	/* a late acknowledgement of a row already gone is harmless */
	events_confirm(f->ev, f->pub_ids[4], 1);
	assert_int_equal(events_drain(f->ev, publish, f, T0 + 63000, 60000, &n), 0);
}

static void test_drain_window_and_failing_publish(void **state)
{
	struct fx *f = *state;
	int n = 0;

	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 1; i <= EVENTS_INFLIGHT_MAX + 10; i++)
		emit(f, i, 1, NULL, NULL, "2026-11-23", NULL);
	assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(events_drain(f->ev, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, EVENTS_INFLIGHT_MAX);
	assert_int_equal(events_drain(f->ev, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, 0); /* the window is full */
	for (int i = 0; i < 10; i++)
		events_confirm(f->ev, f->pub_ids[i], 1);
	assert_int_equal(events_drain(f->ev, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, 10);
	/* the broker connection fails: publishing stops there and resumes */
	f->fail_after = f->n_pub;
	for (int i = 0; i < EVENTS_INFLIGHT_MAX + 10; i++)
		events_confirm(f->ev, f->pub_ids[i], 1);
	emit(f, 9999, 1, NULL, NULL, "2026-11-23", NULL);
	assert_int_equal(events_drain(f->ev, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(outbox(f), 1);
	f->fail_after = -1;
	assert_int_equal(events_drain(f->ev, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, 1);
}

static void test_rollback_leaves_nothing_and_other_connections(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/pw-test-events-XXXXXX";
	int fd = mkstemp(path);
	struct store *a, *b;
	struct events *ea, *eb;
	int n = 0;

	/* an event written in a transaction that rolls back never existed */
	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	emit(f, 1, 1, "tyre", "x", "2026-11-23", NULL);
	assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(outbox(f), 0);
	assert_int_equal(events_drain(f->ev, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, 0);

	/* the drain sees what another connection committed, and only that */
	assert_true(fd >= 0);
	close(fd);
	a = store_open(path, STORE_READ_WRITE);
	b = store_open(path, STORE_READ_WRITE);
	assert_non_null(a);
	assert_non_null(b);
	ea = events_open((sqlite3 *)store_sqlite(a), "s");
	eb = events_open((sqlite3 *)store_sqlite(b), "s");
	assert_int_equal(store_begin(a), 0);
	{
		struct events_item it = {.vin = VIN,
		                         .type = "battery_low",
		                         .severity = PW_SEV_WARNING,
		                         .ts_ms = T0,
		                         .alert_id = 5,
		                         .seq = 1};

		assert_int_equal(events_emit(ea, &it, NULL), 0);
	}
	assert_int_equal(events_drain(eb, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, 0); /* not committed yet */
	assert_int_equal(store_commit(a), 0);
	assert_int_equal(events_drain(eb, publish, f, T0, 60000, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f->pub_topics[0], "pitwall/v1/sites/s/events");
	events_close(ea);
	events_close(eb);
	store_close(a);
	store_close(b);
	unlink(path);
	{
		char p2[64];

		snprintf(p2, sizeof(p2), "%s-wal", path);
		unlink(p2);
		snprintf(p2, sizeof(p2), "%s-shm", path);
		unlink(p2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_event_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_once_per_vehicle_kind_day, setup, teardown),
	    cmocka_unit_test(test_texts_and_kinds),
	    cmocka_unit_test_setup_teardown(test_drain_deletes_only_acknowledged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drain_window_and_failing_publish, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing_and_other_connections,
	                                    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
