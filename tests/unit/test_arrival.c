/*
 * test_arrival — matching alone (appointment in the window, early, late,
 * outside it, two appointments, one already used, own advisor, least
 * loaded, no advisors, VIP), then arrivals end to end through ingest on a
 * real store (decoder, state, detector, SQL, outbox): a confident camera
 * read of a known plate opens a visit with its three outbox rows and the
 * geofence merges into it; a low-confidence read and an unknown plate are
 * logged only; a VIP without an appointment goes to the own advisor, the
 * display learns neither name nor plate without consent; a car with no
 * customer goes to the least loaded advisor; a pass-by is nothing; a
 * departure closes the visit and the next visit takes the second
 * appointment of the day; a visit the camera opened closes when the car
 * leaves without the detector having seen it park.
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

#include "arrival.h"
#include "arrival_store.h"
#include "brief.h"
#include "clock.h"
#include "config.h"
#include "events.h"
#include "greet.h"
#include "ingest.h"
#include "journal.h"
#include "metrics.h"
#include "state.h"
#include "store.h"

#define MIN           (60 * 1000LL)
#define NOW           1795420800000LL /* 2026-11-23T08:00:00Z = 16:00 in Shanghai */
#define LAT           36.66860
#define LON           116.89050
#define M_PER_DEG_LAT (6371008.8 * 3.14159265358979323846 / 180.0)

/* ---- matching ----------------------------------------------------------------- */

static const struct arrival_advisor ADVISORS[] = {{"A01", 2}, {"A02", 0}, {"A03", 1}, {"A04", 0}};

static struct arrival_match match(const struct arrival_appointment *ap, int n, const char *own,
                                  const char *tier, int64_t at)
{
	struct arrival_match m;

	arrival_match(&(struct arrival_input){.arrived_ms = at,
	                                      .window_min = 120,
	                                      .appointments = ap,
	                                      .n_appointments = n,
	                                      .own_advisor_id = own,
	                                      .advisors = ADVISORS,
	                                      .n_advisors = 4,
	                                      .tier = tier},
	              &m);
	return m;
}

static void test_match_window(void **unused)
{
	struct arrival_appointment ap[] = {{"AP1", NOW, "A03", 0}};
	struct arrival_match m;

	(void)unused;
	/* on time, early, late, at the window's edges */
	for (int64_t d = -120; d <= 120; d += 30) {
		m = match(ap, 1, "A01", "regular", NOW + d * MIN);
		assert_int_equal(m.kind, ARRIVAL_MATCH_APPOINTMENT);
		assert_int_equal(m.appointment, 0);
		assert_string_equal(ADVISORS[m.advisor].id, "A03");
	}
	/* outside the window: the customer's own advisor */
	m = match(ap, 1, "A01", "regular", NOW - 121 * MIN);
	assert_int_equal(m.kind, ARRIVAL_MATCH_OWN_ADVISOR);
	assert_int_equal(m.appointment, -1);
	assert_string_equal(ADVISORS[m.advisor].id, "A01");
	m = match(ap, 1, "A01", "regular", NOW + 3 * 60 * MIN);
	assert_int_equal(m.kind, ARRIVAL_MATCH_OWN_ADVISOR);
	assert_int_equal(m.vip, 0);
}

static void test_match_two_appointments(void **unused)
{
	struct arrival_appointment ap[] = {{"AP1", NOW, "A01", 0},
	                                   {"AP2", NOW + 75 * MIN, "A02", 0}};
	struct arrival_match m;

	(void)unused;
	m = match(ap, 2, NULL, NULL, NOW + 10 * MIN); /* nearer the first */
	assert_int_equal(m.appointment, 0);
	m = match(ap, 2, NULL, NULL, NOW + 50 * MIN); /* nearer the second */
	assert_int_equal(m.appointment, 1);
	assert_string_equal(ADVISORS[m.advisor].id, "A02");
	m = match(ap, 2, NULL, NULL, NOW + 37 * MIN + 30000); /* halfway: the earlier */
	assert_int_equal(m.appointment, 0);
	/* the first already used by this morning's arrival: the second */
	ap[0].used = 1;
	m = match(ap, 2, NULL, NULL, NOW + 5 * MIN);
	assert_int_equal(m.kind, ARRIVAL_MATCH_APPOINTMENT);
	assert_int_equal(m.appointment, 1);
	/* both used: nothing left to match, least loaded (A02, A04 at 0: A02) */
	ap[1].used = 1;
	m = match(ap, 2, NULL, NULL, NOW + 5 * MIN);
	assert_int_equal(m.kind, ARRIVAL_MATCH_LEAST_LOADED);
	assert_string_equal(ADVISORS[m.advisor].id, "A02");
}

static void test_match_fallbacks(void **unused)
{
	struct arrival_appointment ap[] = {{"AP1", NOW, NULL, 0}, {"AP2", NOW, "A99", 0}};
	struct arrival_match m;

	(void)unused;
	/* an appointment without an advisor (or one not on file): own, then least loaded */
	m = match(ap, 1, "A03", NULL, NOW);
	assert_int_equal(m.kind, ARRIVAL_MATCH_APPOINTMENT);
	assert_string_equal(ADVISORS[m.advisor].id, "A03");
	m = match(ap + 1, 1, NULL, NULL, NOW);
	assert_int_equal(m.kind, ARRIVAL_MATCH_APPOINTMENT);
	assert_string_equal(ADVISORS[m.advisor].id, "A02");
	/* no appointment, own advisor not on file: least loaded */
	m = match(NULL, 0, "A99", "platinum", NOW);
	assert_int_equal(m.kind, ARRIVAL_MATCH_LEAST_LOADED);
	assert_int_equal(m.vip, 0);
	/* VIP */
	m = match(NULL, 0, "A01", "vip", NOW);
	assert_int_equal(m.kind, ARRIVAL_MATCH_OWN_ADVISOR);
	assert_int_equal(m.vip, 1);
	/* nobody on file */
	arrival_match(&(struct arrival_input){.arrived_ms = NOW, .window_min = 120}, &m);
	assert_int_equal(m.kind, ARRIVAL_MATCH_NONE);
	assert_int_equal(m.advisor, -1);
	assert_string_equal(arrival_match_name(m.kind), "none");
}

/* ---- end to end ------------------------------------------------------------------ */

#define V1                                                                                         \
	"LSVAB2354T7100113" /* 张伟 (M, regular, A02), 鲁A12345, AP1 16:30 A01, AP2 17:30 A03   \
	                     */
#define V2 "LSVEB2312N1100440" /* 欧阳娜娜 (F, vip, A03, no consent), 鲁AD12345 */
#define V3 "LSVBC2234P6100433" /* no customer, 鲁B99999 */
#define V4 "LSVCD2289S1100320" /* a car the dealer does not know */

struct fx {
	struct pw_config cfg;
	struct pw_clock clock;
	struct metrics *metrics;
	struct store *store;
	sqlite3 *db;
	struct state *state;
	struct events *ev;
	struct brief *br;
	struct arrival_store *as;
	struct ingest *in;
	int seq[4];
};

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	config_defaults(&f->cfg);
	snprintf(f->cfg.site.id, sizeof(f->cfg.site.id), "jinan-west");
	f->cfg.site.lat = LAT;
	f->cfg.site.lon = LON;
	clock_init_virtual(&f->clock, NOW, 1e-6, -1);
	f->metrics = metrics_new();
	f->store = store_open(":memory:", STORE_READ_WRITE);
	assert_non_null(f->store);
	f->db = (sqlite3 *)store_sqlite(f->store);
	exec(f->db,
	     "INSERT INTO advisor VALUES ('A01','李娜','1'),('A02','王强','2'),('A03','赵敏','3');"
	     "INSERT INTO customer VALUES ('C1','张伟','M','13500000001','regular','A02',1),"
	     " ('C2','欧阳娜娜','F','13500000002','vip','A03',0);"
	     "INSERT INTO vehicle VALUES ('" V1
	     "','鲁A12345','C1','大众','朗逸',2022,'2022-05-01',0),"
	     " ('" V2 "','鲁AD12345','C2','大众','ID.4',2023,'2023-01-01',0),"
	     " ('" V3 "','鲁B99999',NULL,'大众','宝来',2020,'2020-01-01',0);"
	     "INSERT INTO appointment VALUES ('AP1','" V1
	     "','2026-11-23T16:30',1795422600000,'首保','A01'),"
	     " ('AP2','" V1 "','2026-11-23T17:30',1795426200000,'更换轮胎','A03');");
	f->state = state_new(16);
	f->ev = events_open(f->db, "jinan-west");
	f->br = brief_open(f->db, &f->cfg);
	f->as = arrival_store_open(f->db, &f->cfg, &f->clock, f->ev, f->br);
	assert_non_null(f->as);
	f->in = ingest_new(&(struct ingest_options){.site_id = "jinan-west",
	                                            .clock = &f->clock,
	                                            .metrics = f->metrics,
	                                            .store = f->store,
	                                            .state = f->state,
	                                            .history_interval_s = 300,
	                                            .arrivals = f->as});
	assert_non_null(f->in);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ingest_free(f->in);
	arrival_store_close(f->as);
	brief_close(f->br);
	events_close(f->ev);
	state_free(f->state);
	store_close(f->store);
	metrics_free(f->metrics);
	free(f);
	return 0;
}

static void set_clock(struct fx *f, int64_t ms)
{
	clock_init_virtual(&f->clock, ms, 1e-6, -1);
}

static void process(struct fx *f, const char *topic, const char *payload)
{
	struct ingest_output out;

	assert_int_equal(
	    ingest_process(f->in, topic, strlen(topic), payload, strlen(payload), &out), PW_OK);
	assert_int_equal(out.rejected, 0);
}

static void plate(struct fx *f, int64_t ts, const char *p, double conf)
{
	char buf[256];

	snprintf(
	    buf, sizeof(buf),
	    "{\"v\":1,\"ts\":%lld,\"plate\":\"%s\",\"camera\":\"entrance-1\",\"confidence\":%g}",
	    (long long)ts, p, conf);
	process(f, "pitwall/v1/sites/jinan-west/anpr", buf);
}

/* Telemetry `d_m` metres north of the site's centre. */
static void drive(struct fx *f, const char *vin, int64_t ts, double d_m, double speed,
                  const char *ignition)
{
	int k = vin[3] == 'A' ? 0 : vin[3] == 'E' ? 1 : vin[3] == 'B' ? 2 : 3;
	char topic[80], buf[320];

	snprintf(topic, sizeof(topic), "pitwall/v1/vehicles/%s/telemetry", vin);
	snprintf(buf, sizeof(buf),
	         "{\"v\":1,\"vin\":\"%s\",\"seq\":%d,\"ts\":%lld,\"lat\":%.7f,\"lon\":%.7f,"
	         "\"speed_kmh\":%g,\"ignition\":\"%s\"}",
	         vin, f->seq[k]++, (long long)ts, LAT + d_m / M_PER_DEG_LAT, LON, speed, ignition);
	process(f, topic, buf);
}

/* Drives in from 400 m and switches off `d_m` from the centre at ts. */
static void pull_in(struct fx *f, const char *vin, int64_t ts)
{
	drive(f, vin, ts - 40000, 400, 30, "on");
	drive(f, vin, ts - 30000, 250, 25, "on");
	drive(f, vin, ts - 20000, 110, 10, "on");
	drive(f, vin, ts - 10000, 60, 4, "on");
	drive(f, vin, ts, 40, 0, "off");
}

static void drive_off(struct fx *f, const char *vin, int64_t ts)
{
	drive(f, vin, ts, 40, 5, "on");
	for (int i = 1; i <= 8; i++)
		drive(f, vin, ts + i * 10000, 40 + 90.0 * i, 35, "on");
}

static long count(struct fx *f, const char *sql)
{
	sqlite3_stmt *s;
	long n = -1;

	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static char *text(struct fx *f, const char *sql)
{
	sqlite3_stmt *s;
	char *r = NULL;

	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		r = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	assert_non_null(r);
	return r;
}

static json_t *outbox_json(struct fx *f, const char *type)
{
	char sql[160];
	char *t;
	json_t *j;

	snprintf(sql, sizeof(sql),
	         "SELECT payload FROM outbox WHERE event_type = '%s' ORDER BY id DESC LIMIT 1",
	         type);
	t = text(f, sql);
	j = json_loads(t, 0, NULL);
	free(t);
	assert_non_null(j);
	return j;
}

static void str_is(json_t *o, const char *key, const char *want)
{
	json_t *v = json_object_get(o, key);

	if (!want) {
		if (!json_is_null(v))
			fail_msg("%s: expected null", key);
		return;
	}
	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
		fail_msg("%s: got %s, want %s", key, json_is_string(v) ? json_string_value(v) : "?",
		         want);
}

static void test_camera_then_geofence_merge(void **state)
{
	struct fx *f = *state;
	json_t *a, *g, *c;
	char *s;

	plate(f, NOW, "鲁A12345", 0.93);
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 1);
	s = text(f,
	         "SELECT vin || '|' || appointment_id || '|' || advisor_id || '|' || desk || '|' "
	         "|| match || '|' || source || '|' || day || '|' || vip FROM arrival");
	assert_string_equal(s, V1 "|AP1|A01|1|appointment|camera|2026-11-23|0");
	free(s);
	assert_int_equal(count(f, "SELECT count(*) FROM plate_read WHERE outcome = 'arrival'"), 1);
	/* committed at once, three outbox rows */
	assert_int_equal(count(f, "SELECT count(*) FROM outbox"), 3);
	a = outbox_json(f, "arrival");
	str_is(a, "id", "a1");
	str_is(a, "type", "arrival");
	str_is(a, "vin", V1);
	str_is(a, "severity", "info");
	str_is(a, "plate", "鲁A12345");
	str_is(a, "appointment_id", "AP1");
	str_is(a, "advisor_id", "A01");
	str_is(a, "advisor", "李娜");
	str_is(a, "desk", "1");
	str_is(a, "match", "appointment");
	str_is(a, "source", "camera");
	str_is(json_object_get(a, "customer"), "name", "张伟");
	assert_true(json_integer_value(json_object_get(a, "ts")) == NOW);
	assert_true(json_is_object(json_object_get(a, "brief")));
	str_is(json_object_get(a, "brief"), "plate", "鲁A12345");
	json_decref(a);
	g = outbox_json(f, "greeting");
	str_is(g, "id", "g1");
	str_is(g, "display_name", "张先生");
	str_is(g, "plate_masked", "鲁A·***45");
	str_is(g, "desk", "1");
	str_is(g, "advisor", "李娜");
	str_is(g, "service", "首保");
	s = json_dumps(g, 0);
	assert_null(strstr(s, "张伟"));
	assert_null(strstr(s, "鲁A12345"));
	assert_null(strstr(s, "1350000"));
	free(s);
	c = greet_frame(g);
	assert_null(json_object_get(c, "vin"));
	json_decref(c);
	json_decref(g);
	s = text(f, "SELECT topic || ' ' || payload FROM outbox WHERE event_type IS NULL");
	assert_non_null(strstr(s, "pitwall/v1/vehicles/" V1 "/notify "));
	assert_non_null(strstr(s, "\"kind\":\"welcome\""));
	assert_non_null(strstr(s, "\"id\":\"w1\""));
	assert_non_null(strstr(s, "请到 1 号前台"));
	free(s);

	/* the geofence sees it park: the same visit */
	set_clock(f, NOW + 2 * MIN);
	pull_in(f, V1, NOW + 2 * MIN);
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 1);
	s = text(f, "SELECT source FROM arrival");
	assert_string_equal(s, "both");
	free(s);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox"), 3);
	/* another read at the gate: on site */
	plate(f, NOW + 3 * MIN, "鲁A12345", 0.97);
	assert_int_equal(count(f, "SELECT count(*) FROM plate_read WHERE outcome = 'on_site'"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox"), 3);
}

static void test_low_confidence_and_unknown_plate(void **state)
{
	struct fx *f = *state;

	plate(f, NOW, "鲁A12345", 0.79); /* a weak read of a known plate */
	plate(f, NOW, "鲁A12B45", 0.85); /* a misread: nobody's */
	plate(f, NOW, "鲁C77777", 0.99); /* a stranger */
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox"), 0);
	assert_int_equal(
	    count(f, "SELECT count(*) FROM plate_read WHERE outcome = 'low_confidence'"), 1);
	assert_int_equal(
	    count(f, "SELECT count(*) FROM plate_read WHERE outcome = 'unknown_plate'"), 2);
	/* the weakly read car is still greeted when the geofence sees it */
	pull_in(f, V1, NOW + 30000);
	assert_int_equal(count(f, "SELECT count(*) FROM arrival WHERE source = 'geofence'"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE event_type = 'greeting'"), 1);
}

static void test_vip_without_consent(void **state)
{
	struct fx *f = *state;
	json_t *a, *g;
	char *s;

	plate(f, NOW, "鲁AD12345", 0.9);
	a = outbox_json(f, "arrival");
	str_is(a, "severity", "warning");
	assert_true(json_is_true(json_object_get(a, "vip")));
	str_is(a, "match", "own_advisor");
	str_is(a, "advisor_id", "A03");
	str_is(a, "desk", "3");
	str_is(a, "appointment_id", NULL);
	json_decref(a);
	g = outbox_json(f, "greeting");
	assert_null(json_object_get(g, "display_name"));
	assert_null(json_object_get(g, "plate_masked"));
	str_is(g, "desk", "3");
	s = json_dumps(g, 0);
	assert_null(strstr(s, "欧阳"));
	assert_null(strstr(s, "12345"));
	free(s);
	json_decref(g);
	assert_int_equal(count(f, "SELECT vip FROM arrival"), 1);
}

static void test_no_customer_least_loaded(void **state)
{
	struct fx *f = *state;
	json_t *a;

	/* A01 and A02 each have a car on site today, A03 none */
	exec(f->db, "INSERT INTO arrival (vin, advisor_id, match, source, day, arrived_ms) VALUES "
	            "('X1','A01','least_loaded','camera','2026-11-23',1795419000000),"
	            "('X2','A02','least_loaded','camera','2026-11-23',1795419000000),"
	            "('X3','A03','least_loaded','camera','2026-11-22',1795329000000)");
	plate(f, NOW, "鲁B99999", 0.9);
	a = outbox_json(f, "arrival");
	str_is(a, "match", "least_loaded");
	str_is(a, "advisor_id", "A03");
	assert_true(json_is_null(json_object_get(a, "customer")));
	json_decref(a);
	/* a car the dealer does not know at all, by the geofence: next least loaded */
	pull_in(f, V4, NOW + MIN);
	a = outbox_json(f, "arrival");
	str_is(a, "vin", V4);
	str_is(a, "match", "least_loaded");
	str_is(a, "advisor_id", "A01");
	str_is(a, "plate", NULL);
	json_decref(a);
	a = outbox_json(f, "greeting");
	assert_null(json_object_get(a, "display_name"));
	json_decref(a);
}

static void test_pass_by_and_two_visits(void **state)
{
	struct fx *f = *state;
	char *s;

	/* V3 drives straight past (through the fence) at 30 km/h: nothing */
	for (int i = 0; i < 12; i++)
		drive(f, V3, NOW - 3 * MIN + i * 10000, -500 + 83.3 * i, 30, "on");
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 0);
	/* V1 comes at 16:25 for AP1, leaves at 17:00 */
	set_clock(f, NOW + 25 * MIN);
	pull_in(f, V1, NOW + 25 * MIN);
	set_clock(f, NOW + 60 * MIN);
	drive_off(f, V1, NOW + 60 * MIN);
	s = text(f, "SELECT appointment_id || ' ' || (departed_ms - arrived_ms) FROM arrival");
	assert_string_equal(s, "AP1 2120000"); /* first beyond 150 m at 17:00:20 */
	free(s);
	/* back at 17:20: a new visit, for AP2 (AP1 is used), desk 3 */
	set_clock(f, NOW + 80 * MIN);
	pull_in(f, V1, NOW + 80 * MIN);
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 2);
	s = text(f, "SELECT appointment_id || ' ' || desk || ' ' || source FROM arrival "
	            "WHERE departed_ms IS NULL");
	assert_string_equal(s, "AP2 3 geofence");
	free(s);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE event_type = 'greeting'"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE topic LIKE '%/notify'"), 2);
}

static void test_camera_visit_closes_on_leaving(void **state)
{
	struct fx *f = *state;
	char *s;

	/* V1 reports from the road, is read at the gate, turns round */
	drive(f, V1, NOW - 20000, 300, 20, "on");
	drive(f, V1, NOW - 10000, 135, 10, "on");
	plate(f, NOW, "鲁A12345", 0.9);
	assert_int_equal(state_find(f->state, V1)->fence.open, 1);
	for (int i = 1; i <= 8; i++) /* never inside the radius */
		drive(f, V1, NOW + i * 10000, 135 + 80.0 * i, 30, "on");
	s = text(f, "SELECT source || ' ' || (departed_ms - arrived_ms) FROM arrival");
	assert_string_equal(s, "camera 10000");
	free(s);
	assert_int_equal(state_find(f->state, V1)->fence.open, 0);
}

static void test_first_report_is_no_edge(void **state)
{
	struct fx *f = *state;

	/* a device installed in the workshop first reports parked, engine off */
	drive(f, V3, NOW, 30, 0, "off");
	set_clock(f, NOW + 30 * MIN);
	drive(f, V3, NOW + 30 * MIN, 30, 0, "off");
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 0);
	/* driven out and back in later: an arrival */
	set_clock(f, NOW + 40 * MIN);
	drive(f, V3, NOW + 40 * MIN, 35, 3, "on");
	drive(f, V3, NOW + 40 * MIN + 10000, 40, 0, "off");
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 1);
}

static void test_stale_arrival_not_greeted(void **state)
{
	struct fx *f = *state;

	/* a read from a backlog, 20 min after it happened: the advisor hears of
	 * it, the entrance display and the car do not */
	set_clock(f, NOW + 20 * MIN);
	plate(f, NOW, "鲁A12345", 0.9);
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE event_type = 'arrival'"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox"), 1);
}

static void test_restart_knows_who_is_on_site(void **state)
{
	struct fx *f = *state;
	struct state *st2 = state_new(4);
	struct pw_vehicle v;

	pull_in(f, V1, NOW);
	assert_int_equal(count(f, "SELECT count(*) FROM arrival WHERE departed_ms IS NULL"), 1);
	state_vehicle_init(&v, V1);
	assert_int_equal(state_put(st2, &v), PW_OK);
	assert_int_equal(arrival_store_load_on_site(f->as, st2), PW_OK);
	assert_int_equal(state_find(st2, V1)->fence.phase, GEOFENCE_ARRIVED);
	state_free(st2);
}

/* A journaled core writes vehicle_state rows only at its group commit; a
 * new visit's health brief still shows the car as of the message that
 * opened it (geofence: that very message; camera: the car's last one). */
static void test_brief_sees_the_uncommitted_row(void **state)
{
	struct fx *f = *state;
	char jpath[128];
	struct journal *j;
	json_t *a, *b;

	snprintf(jpath, sizeof(jpath), "/tmp/pw-arrival-journal-%d", (int)getpid());
	unlink(jpath);
	j = journal_open(jpath);
	assert_non_null(j);
	ingest_free(f->in);
	f->in = ingest_new(&(struct ingest_options){.site_id = "jinan-west",
	                                            .clock = &f->clock,
	                                            .metrics = f->metrics,
	                                            .store = f->store,
	                                            .state = f->state,
	                                            .history_interval_s = 300,
	                                            .journal = j,
	                                            .batch_max_messages = 1000,
	                                            .batch_max_ms = 600000,
	                                            .arrivals = f->as});
	assert_non_null(f->in);

	/* geofence: the brief has the arriving message itself (ignition off) */
	pull_in(f, V1, NOW);
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 1);
	a = outbox_json(f, "arrival");
	b = json_object_get(a, "brief");
	assert_true(json_integer_value(json_object_get(b, "seen_ts")) == NOW);
	str_is(b, "ignition", "off");
	json_decref(a);

	/* camera: V2 drove by (not in), its rows wait for the commit */
	drive(f, V2, NOW + MIN, 3000, 50, "on");
	drive(f, V2, NOW + 2 * MIN, 2500, 40, "acc");
	plate(f, NOW + 3 * MIN, "鲁AD12345", 0.95);
	assert_int_equal(count(f, "SELECT count(*) FROM arrival"), 2);
	a = outbox_json(f, "arrival");
	str_is(a, "vin", V2);
	b = json_object_get(a, "brief");
	assert_true(json_integer_value(json_object_get(b, "seen_ts")) == NOW + 2 * MIN);
	str_is(b, "ignition", "acc");
	json_decref(a);

	assert_int_equal(ingest_flush(f->in), PW_OK);
	journal_close(j);
	unlink(jpath);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_window),
	    cmocka_unit_test(test_match_two_appointments),
	    cmocka_unit_test(test_match_fallbacks),
	    cmocka_unit_test_setup_teardown(test_camera_then_geofence_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_low_confidence_and_unknown_plate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vip_without_consent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_customer_least_loaded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pass_by_and_two_visits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_camera_visit_closes_on_leaving, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_first_report_is_no_edge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_arrival_not_greeted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_knows_who_is_on_site, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_brief_sees_the_uncommitted_row, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
