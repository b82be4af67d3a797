/*
 * test_store — the SQLite store: migrations (fresh, idempotent re-open, a
 * newer database refused, read-only opens), the vehicle row round trip of
 * every field (a reloaded vehicle merges exactly like the saved one), seq
 * gaps, history INSERT OR IGNORE, DTC changes, position purge, reload of a
 * file database, and a micro-measurement of the per-message commit.
 *
 * Plain SQL on a second connection checks what other readers will see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "store.h"
#include "store_migrations.h"

#define VIN_A   "WVWZZZ1JZXW000001"
#define VIN_B   "LSVAU2180N2000002"
#define HOUR_MS (3600LL * 1000)
#define T0      1795000000000LL

static char tmp_dir[256];

static void db_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmp_dir, name);
}

static void remove_db(const char *path)
{
	char p[600];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

/* The DTC pool of vehicles that no table keeps (the ones put into a table
 * are merged in its own pool). Never collected: room for every set. */
static struct dtcset_pool *sets;

static int setup_dir(void **unused)
{
	const char *base = getenv("TMPDIR");

	(void)unused;
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/pw_test_store.XXXXXX", base ? base : "/tmp");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown_dir(void **unused)
{
	(void)unused;
	return rmdir(tmp_dir);
}

static int setup(void **state)
{
	sets = dtcset_pool_new(1u << 20);
	return sets ? setup_dir(state) : -1;
}

static int teardown(void **state)
{
	dtcset_pool_free(sets);
	return teardown_dir(state);
}

/* ---- plain SQL on a separate connection ---- */

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql, const char *vin)
{
	sqlite3_stmt *s = NULL;
	int64_t v;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (vin)
		sqlite3_bind_text(s, 1, vin, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("no row: %s", sql);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void raw_text(sqlite3 *db, const char *sql, const char *vin, char *out, size_t len)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *t;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (vin)
		sqlite3_bind_text(s, 1, vin, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("no row: %s", sql);
	t = sqlite3_column_text(s, sqlite3_column_count(s) - 1); /* EXPLAIN: the detail */
	snprintf(out, len, "%s", t ? (const char *)t : "(null)");
	sqlite3_finalize(s);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
}

/* ---- vehicles to store ---- */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static int rnd_below(int n)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (int)(x % (uint64_t)n);
}

static struct pw_telemetry obj(const char *vin, int64_t seq, int64_t ts_ms)
{
	struct pw_telemetry t;

	memset(&t, 0, sizeof(t));
	memcpy(t.vin, vin, PW_VIN_LEN + 1);
	t.seq = seq;
	t.ts_ms = ts_ms;
	return t;
}

static void set_dtc(struct pw_telemetry *t, int i, const char *code, int status, int mil)
{
	memset(&t->dtc[i], 0, sizeof(t->dtc[i]));
	memcpy(t->dtc[i].code, code, 5);
	t->dtc[i].status = (uint8_t)status;
	t->dtc[i].mil = (uint8_t)mil;
	if (t->dtc_count < i + 1)
		t->dtc_count = (uint8_t)(i + 1);
	t->has |= PW_F_DTC;
}

static void make_vin(char *vin, unsigned n)
{
	static const char alphabet[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

	memcpy(vin, "LPWSTORE", 8);
	for (int i = 16; i >= 8; i--) {
		vin[i] = alphabet[n % 33];
		n /= 33;
	}
	vin[PW_VIN_LEN] = '\0';
}

/* An object with a random subset of every field. */
static struct pw_telemetry random_object(const char *vin, int64_t seq, int64_t ts)
{
	static const char *const codes[] = {"P0301", "P0420", "C0035", "U0100", "B1234"};
	struct pw_telemetry t = obj(vin, seq, ts);

	if (rnd_below(2)) {
		t.has |= PW_F_ODOMETER;
		t.odometer_km = 10000.0 + (double)(ts - T0) / 1000.0 * 0.0213;
	}
	if (rnd_below(2)) {
		t.has |= PW_F_SPEED;
		t.speed_kmh = (float)rnd_below(1200) / 7.0f;
	}
	if (rnd_below(2)) {
		t.has |= PW_F_IGNITION;
		t.ignition = (uint8_t)(1 + rnd_below(3));
	}
	if (rnd_below(2)) {
		t.has |= PW_F_FUEL_PCT;
		t.fuel_pct = (float)rnd_below(1000) / 10.0f;
	}
	if (rnd_below(2)) {
		t.has |= PW_F_FUEL_RATE;
		t.fuel_l_per_100km = (float)rnd_below(200) / 3.0f;
	}
	if (rnd_below(2)) {
		t.has |= PW_F_BATTERY;
		t.battery_v = 11.0f + (float)rnd_below(30) / 9.0f;
	}
	if (rnd_below(2)) {
		t.has |= PW_F_ENGINE_HOURS;
		t.engine_hours = (double)rnd_below(50000) / 3.0;
	}
	if (rnd_below(2)) {
		t.has |= PW_F_POSITION;
		t.lat = 36.0 + (double)rnd_below(1000000) / 1e6 / 3.0;
		t.lon = 117.0 - (double)rnd_below(1000000) / 1e6 / 7.0;
	}
	if (rnd_below(2)) {
		t.has |= PW_F_HEADING;
		t.heading_deg = (float)rnd_below(3600) / 10.0f;
	}
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		struct pw_tire *ti = &t.tires[w];

		if (rnd_below(2)) {
			ti->has |= PW_TIRE_KPA;
			ti->kpa = 200.0f + (float)rnd_below(600) / 7.0f;
		}
		if (rnd_below(3) == 0) {
			ti->has |= PW_TIRE_TREAD;
			ti->tread_mm = (float)rnd_below(90) / 9.0f;
		}
		if (rnd_below(3) == 0) {
			ti->has |= PW_TIRE_TEMP;
			ti->temp_c = (float)(rnd_below(800) - 200) / 10.0f;
		}
		if (ti->has)
			t.has |= PW_F_TIRES;
	}
	if (rnd_below(3) == 0) {
		int n = rnd_below(4);

		t.has |= PW_F_DTC;
		for (int i = 0; i < n; i++)
			set_dtc(&t, i, codes[rnd_below(5)], 1 + rnd_below(3), rnd_below(2));
	}
	return t;
}

/* A vehicle after `n` random objects (seqs with holes, ts out of order),
 * its DTC sets interned in `p`. */
static struct pw_vehicle random_vehicle(struct dtcset_pool *p, const char *vin, int n)
{
	struct pw_vehicle v;
	struct state_merge_result res;
	int64_t seq = rnd_below(100);

	for (int i = 0; i < n; i++) {
		struct pw_telemetry t =
		    random_object(vin, seq, T0 + (int64_t)rnd_below(1000) * 1000 + i * 500);

		assert_int_equal(state_merge(p, i ? &v : NULL, &t, HOUR_MS, &v, &res), PW_OK);
		seq += 1 + (rnd_below(5) == 0 ? rnd_below(100) : 0);
	}
	if (rnd_below(2))
		state_merge_status(&v, vin, rnd_below(2), T0 + rnd_below(100000), &v);
	return v;
}

static int vehicle_equal(const struct pw_vehicle *a, const struct pw_vehicle *b)
{
#define SAME(f)                                                                                    \
	do {                                                                                       \
		if ((a->f) != (b->f)) {                                                            \
			print_message("%s differs: %s\n", a->vin, #f);                             \
			return 0;                                                                  \
		}                                                                                  \
	} while (0)
	if (strcmp(a->vin, b->vin) != 0 || strcmp(a->latest.vin, b->latest.vin) != 0)
		return 0;
	SAME(seq_max);
	SAME(seq_window);
	SAME(msg_count);
	SAME(ts_ms);
	for (int i = 0; i < PW_STATE_GROUPS; i++)
		SAME(group_ts_ms[i]);
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		if (state_tire_ts_ms(a, w) != state_tire_ts_ms(b, w))
			return 0;
		for (int m = 0; m < PW_TIRE_MEMBERS; m++)
			SAME(tire_member_ts_ms[w][m]);
		SAME(latest.tires[w].has);
		SAME(latest.tires[w].kpa);
		SAME(latest.tires[w].tread_mm);
		SAME(latest.tires[w].temp_c);
	}
	SAME(history_bucket);
	SAME(odometer_rollbacks);
	SAME(status_ts_ms);
	SAME(online);
	SAME(latest.has);
	SAME(latest.seq);
	SAME(latest.ts_ms);
	SAME(latest.unknown_fields);
	SAME(latest.odometer_km);
	SAME(latest.engine_hours);
	SAME(latest.lat);
	SAME(latest.lon);
	SAME(latest.speed_kmh);
	SAME(latest.fuel_pct);
	SAME(latest.fuel_l_per_100km);
	SAME(latest.battery_v);
	SAME(latest.heading_deg);
	SAME(latest.ignition);
	SAME(latest.dtc_count);
#undef SAME
	if (a->latest.dtc_count &&
	    memcmp(a->latest.dtc, b->latest.dtc, (size_t)a->latest.dtc_count * 8) != 0) {
		print_message("%s differs: dtc\n", a->vin);
		return 0;
	}
	return 1;
}

static int load_into_state(void *ctx, const struct pw_vehicle *v)
{
	return state_put(ctx, v);
}

/* ---- migrations and opening ---- */

static void test_migrate_fresh(void **unused)
{
	char path[512];
	struct store *st;
	sqlite3 *db;
	int version = -1;
	char mode[32], plan[256];

	(void)unused;
	assert_true(store_migrations_count >= 1);
	assert_int_equal(store_latest_schema_version(), (int)store_migrations_count);
	for (size_t i = 0; i < store_migrations_count; i++)
		assert_int_equal(store_migrations[i].version, (int)i + 1);

	st = store_open(":memory:", STORE_READ_WRITE);
	assert_non_null(st);
	assert_int_equal(store_schema_version(st, &version), PW_OK);
	assert_int_equal(version, store_latest_schema_version());
	assert_int_equal(store_ping(st), PW_OK);
	store_close(st);
	store_close(NULL);

	db_path(path, sizeof(path), "fresh.db");
	st = store_open(path, STORE_READ_WRITE);
	assert_non_null(st);
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version", NULL), store_latest_schema_version());
	assert_int_equal(raw_int(db, "PRAGMA page_size", NULL), 4096);
	raw_text(db, "PRAGMA journal_mode", NULL, mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	assert_int_equal(raw_int(db,
	                         "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
	                         "name IN ('vehicle_state', 'history', 'dtc_history', 'seq_gap')",
	                         NULL),
	                 4);
	/* the gap lookup is one primary-key search */
	raw_text(db,
	         "EXPLAIN QUERY PLAN SELECT lo, hi FROM seq_gap WHERE vin = 'X' AND lo <= 5 "
	         "ORDER BY lo DESC LIMIT 1",
	         NULL, plan, sizeof(plan));
	assert_non_null(strstr(plan, "USING PRIMARY KEY (vin=? AND lo<?)"));
	/* the purge walks the partial index of rows that still have a position */
	raw_text(db,
	         "EXPLAIN QUERY PLAN SELECT id FROM history WHERE lat IS NOT NULL AND "
	         "ts_ms < 5 ORDER BY ts_ms LIMIT 10",
	         NULL, plan, sizeof(plan));
	assert_non_null(strstr(plan, "history_position_ts"));
	sqlite3_close(db);
	store_close(st);
	remove_db(path);
}

static void test_reopen_idempotent(void **unused)
{
	char path[512];
	struct store *st, *st2;
	struct pw_vehicle v = random_vehicle(sets, VIN_A, 5);
	struct state *s = state_new(4);
	int version = 0;

	(void)unused;
	db_path(path, sizeof(path), "reopen.db");
	st = store_open(path, STORE_READ_WRITE);
	assert_non_null(st);
	/* a second read-write connection on the same file: nothing to migrate */
	st2 = store_open(path, STORE_READ_WRITE);
	assert_non_null(st2);
	assert_int_equal(store_begin(st), PW_OK);
	assert_int_equal(store_put_vehicle(st, &v), PW_OK);
	assert_int_equal(store_commit(st), PW_OK);
	store_close(st2);
	store_close(st);

	for (int i = 0; i < 3; i++) {
		st = store_open(path, STORE_READ_WRITE);
		assert_non_null(st);
		assert_int_equal(store_schema_version(st, &version), PW_OK);
		assert_int_equal(version, store_latest_schema_version());
		store_close(st);
	}
	st = store_open(path, STORE_READ_WRITE);
	assert_int_equal(store_load_vehicles(st, state_dtcsets(s), load_into_state, s), PW_OK);
	assert_int_equal(state_count(s), 1);
	assert_true(vehicle_equal(state_find(s, VIN_A), &v));
	store_close(st);
	state_free(s);
	remove_db(path);
}

static void test_newer_refused(void **unused)
{
	char path[512], sql[64];
	struct store *st;
	sqlite3 *db;
	int newer = store_latest_schema_version() + 1;

	(void)unused;
	db_path(path, sizeof(path), "newer.db");
	st = store_open(path, STORE_READ_WRITE);
	assert_non_null(st);
	store_close(st);
	db = raw_open(path);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", newer);
	raw_exec(db, sql);
	sqlite3_close(db);

	assert_null(store_open(path, STORE_READ_WRITE));
	assert_null(store_open(path, STORE_READ_ONLY));
	db = raw_open(path);
	assert_int_equal(raw_int(db, "PRAGMA user_version", NULL), newer); /* untouched */
	sqlite3_close(db);
	remove_db(path);
}

static void test_read_only(void **unused)
{
	char path[512];
	struct store *rw, *ro;
	struct pw_vehicle v = random_vehicle(sets, VIN_B, 4);
	struct state *s = state_new(4);
	sqlite3 *db;

	(void)unused;
	/* a database not migrated yet is refused read-only */
	db_path(path, sizeof(path), "empty.db");
	db = raw_open(path);
	raw_exec(db, "CREATE TABLE x (y)");
	sqlite3_close(db);
	assert_null(store_open(path, STORE_READ_ONLY));
	remove_db(path);
	/* a missing file too (read-only does not create) */
	db_path(path, sizeof(path), "missing.db");
	assert_null(store_open(path, STORE_READ_ONLY));

	db_path(path, sizeof(path), "ro.db");
	rw = store_open(path, STORE_READ_WRITE);
	assert_non_null(rw);
	assert_int_equal(store_put_vehicle(rw, &v), PW_OK); /* autocommit */
	ro = store_open(path, STORE_READ_ONLY);
	assert_non_null(ro);
	assert_int_equal(store_ping(ro), PW_OK);
	assert_int_equal(store_begin(ro), PW_OK);
	assert_int_equal(store_load_vehicles(ro, state_dtcsets(s), load_into_state, s), PW_OK);
	assert_int_equal(store_commit(ro), PW_OK);
	assert_true(vehicle_equal(state_find(s, VIN_B), &v));
	assert_int_equal(store_put_vehicle(ro, &v), PW_EIO);
	store_close(ro);
	store_close(rw);
	state_free(s);
	remove_db(path);
}

/* ---- vehicles ---- */

static void test_round_trip_every_field(void **unused)
{
	struct store *st = store_open(":memory:", STORE_READ_WRITE);
	struct state *s = state_new(16);
	struct pw_vehicle v, w;
	struct pw_telemetry t = obj(VIN_A, 100, T0);
	struct state_merge_result res;

	(void)unused;
	assert_non_null(st);
	/* every field, a partial tire, three DTCs, a rollback, a status, and a
	 * seq window with bit 63 set (a negative int64 in SQLite) */
	t.has = PW_F_ODOMETER | PW_F_SPEED | PW_F_IGNITION | PW_F_FUEL_PCT | PW_F_FUEL_RATE |
	        PW_F_BATTERY | PW_F_ENGINE_HOURS | PW_F_POSITION | PW_F_HEADING | PW_F_TIRES;
	t.odometer_km = 12345.678;
	t.speed_kmh = 88.8f;
	t.ignition = PW_IGN_ACC;
	t.fuel_pct = 43.21f;
	t.fuel_l_per_100km = 7.77f;
	t.battery_v = 12.34f;
	t.engine_hours = 1234.5;
	t.lat = 36.651234567;
	t.lon = 117.120987654;
	t.heading_deg = 359.9f;
	for (int w_ = 0; w_ < PW_TIRE_COUNT; w_++) {
		t.tires[w_].has = PW_TIRE_KPA | PW_TIRE_TREAD | PW_TIRE_TEMP;
		t.tires[w_].kpa = 230.5f + (float)w_;
		t.tires[w_].tread_mm = 6.1f - (float)w_;
		t.tires[w_].temp_c = -3.3f + (float)w_;
	}
	t.tires[PW_TIRE_RR].has = PW_TIRE_KPA; /* the others never reported */
	set_dtc(&t, 0, "P0301", PW_DTC_CONFIRMED, 1);
	set_dtc(&t, 1, "U0100", PW_DTC_PERMANENT, 0);
	set_dtc(&t, 2, "C0035", PW_DTC_PENDING, 0);
	state_merge(sets, NULL, &t, HOUR_MS, &v, &res);
	t = obj(VIN_A, 101, T0 + 1000);
	t.has = PW_F_ODOMETER;
	t.odometer_km = 12000; /* backwards */
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(v.odometer_rollbacks, 1);
	t = obj(VIN_A, 164, T0 + 500); /* late: the groups keep different ts */
	t.has = PW_F_SPEED | PW_F_TIRES;
	t.speed_kmh = 1;
	t.tires[PW_TIRE_FL].has = PW_TIRE_TEMP;
	t.tires[PW_TIRE_FL].temp_c = 5;
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	state_merge_status(&v, VIN_A, 1, T0 + 7, &v);
	assert_true(v.seq_window >> 63); /* seq 101 sits at bit 63 */

	assert_int_equal(store_put_vehicle(st, &v), PW_OK);
	assert_int_equal(store_load_vehicles(st, state_dtcsets(s), load_into_state, s), PW_OK);
	assert_int_equal(state_count(s), 1);
	assert_true(vehicle_equal(state_find(s, VIN_A), &v));

	/* and they keep merging alike */
	w = *state_find(s, VIN_A);
	for (int i = 0; i < 50; i++) {
		struct state_merge_result r1, r2;

		t = random_object(VIN_A, 165 + i, T0 + (int64_t)rnd_below(4000) * 100);
		state_merge(sets, &v, &t, HOUR_MS, &v, &r1);
		state_merge(state_dtcsets(s), &w, &t, HOUR_MS, &w, &r2);
		assert_memory_equal(&r1, &r2, sizeof(r1));
	}
	assert_true(vehicle_equal(&v, &w));

	/* a status-only vehicle */
	state_merge_status(NULL, VIN_B, 0, T0, &v);
	assert_int_equal(store_put_vehicle(st, &v), PW_OK);
	state_free(s);
	s = state_new(4);
	assert_int_equal(store_load_vehicles(st, state_dtcsets(s), load_into_state, s), PW_OK);
	assert_int_equal(state_count(s), 2);
	assert_true(vehicle_equal(state_find(s, VIN_B), &v));
	state_free(s);
	store_close(st);
}

static void test_round_trip_random(void **unused)
{
	struct store *st = store_open(":memory:", STORE_READ_WRITE);
	struct state *s = state_new(16), *back = state_new(16);
	char vin[PW_VIN_LEN + 1];
	const int n = 500;

	(void)unused;
	assert_int_equal(store_begin(st), PW_OK);
	for (int i = 0; i < n; i++) {
		struct pw_vehicle v;

		make_vin(vin, (unsigned)i);
		v = random_vehicle(state_dtcsets(s), vin, 1 + rnd_below(40));
		assert_int_equal(store_put_vehicle(st, &v), PW_OK);
		/* and once more: the UPSERT replaces */
		v = random_vehicle(state_dtcsets(s), vin, 1 + rnd_below(40));
		assert_int_equal(store_put_vehicle(st, &v), PW_OK);
		assert_int_equal(state_put(s, &v), PW_OK);
		dtcset_collect(state_dtcsets(s));
	}
	assert_int_equal(store_commit(st), PW_OK);
	assert_int_equal(store_load_vehicles(st, state_dtcsets(back), load_into_state, back),
	                 PW_OK);
	assert_int_equal(state_count(back), n);
	for (int i = 0; i < n; i++) {
		make_vin(vin, (unsigned)i);
		assert_true(vehicle_equal(state_find(back, vin), state_find(s, vin)));
	}
	state_free(s);
	state_free(back);
	store_close(st);
}

static void test_columns_plain_sql(void **unused)
{
	char path[512], text[512];
	struct store *st;
	struct pw_vehicle v;
	struct pw_telemetry t = obj(VIN_A, 7, T0);
	struct state_merge_result res;
	sqlite3 *db;

	(void)unused;
	db_path(path, sizeof(path), "columns.db");
	st = store_open(path, STORE_READ_WRITE);
	t.has = PW_F_ODOMETER | PW_F_IGNITION | PW_F_TIRES;
	t.odometer_km = 4321.5;
	t.ignition = PW_IGN_ON;
	t.tires[PW_TIRE_FR].has = PW_TIRE_KPA;
	t.tires[PW_TIRE_FR].kpa = 180;
	set_dtc(&t, 0, "P0420", PW_DTC_PENDING, 0);
	set_dtc(&t, 1, "B1234", PW_DTC_CONFIRMED, 1);
	state_merge(sets, NULL, &t, HOUR_MS, &v, &res);
	assert_int_equal(store_put_vehicle(st, &v), PW_OK);

	db = raw_open(path);
	assert_int_equal(
	    raw_int(db, "SELECT odometer_km * 10 FROM vehicle_state WHERE vin = ?", VIN_A), 43215);
	raw_text(db, "SELECT ignition FROM vehicle_state WHERE vin = ?", VIN_A, text, sizeof(text));
	assert_string_equal(text, "on");
	assert_int_equal(raw_int(db, "SELECT tire_fr_kpa FROM vehicle_state WHERE vin = ?", VIN_A),
	                 180);
	assert_int_equal(raw_int(db,
	                         "SELECT speed_kmh IS NULL AND fuel_pct IS NULL AND lat IS NULL "
	                         "AND lon IS NULL AND tire_fr_tread_mm IS NULL AND tire_fl_kpa IS "
	                         "NULL AND engine_hours IS NULL FROM vehicle_state WHERE vin = ?",
	                         VIN_A),
	                 1);
	raw_text(db, "SELECT dtc FROM vehicle_state WHERE vin = ?", VIN_A, text, sizeof(text));
	assert_string_equal(text, "[{\"code\":\"B1234\",\"status\":\"confirmed\",\"mil\":true},"
	                          "{\"code\":\"P0420\",\"status\":\"pending\",\"mil\":false}]");
	assert_int_equal(
	    raw_int(db, "SELECT json_array_length(dtc) FROM vehicle_state WHERE vin = ?", VIN_A),
	    2);
	assert_int_equal(raw_int(db, "SELECT seq_max FROM vehicle_state WHERE vin = ?", VIN_A), 7);
	/* first seq 7: bits above 7 stand for negative seqs, marked seen */
	assert_int_equal(raw_int(db, "SELECT seq_window FROM vehicle_state WHERE vin = ?", VIN_A),
	                 (int64_t)~0xfeull);
	assert_int_equal(raw_int(db, "SELECT msg_count FROM vehicle_state WHERE vin = ?", VIN_A),
	                 1);
	assert_int_equal(raw_int(db, "SELECT ts_ms FROM vehicle_state WHERE vin = ?", VIN_A), T0);
	assert_int_equal(
	    raw_int(db, "SELECT history_bucket FROM vehicle_state WHERE vin = ?", VIN_A),
	    T0 / HOUR_MS);
	assert_true(raw_int(db, "SELECT length(field_ts) FROM vehicle_state WHERE vin = ?", VIN_A) <
	            40);
	assert_true(raw_int(db, "SELECT updated_at FROM vehicle_state WHERE vin = ?", VIN_A) >
	            1700000000000LL);
	sqlite3_close(db);
	store_close(st);
	remove_db(path);
}

static void test_rollback(void **unused)
{
	struct store *st = store_open(":memory:", STORE_READ_WRITE);
	struct state *s = state_new(4);
	struct pw_vehicle v = random_vehicle(sets, VIN_A, 3);
	int was_gap = 1;

	(void)unused;
	assert_int_equal(store_rollback(st), PW_OK); /* nothing open: fine */
	assert_int_equal(store_begin(st), PW_OK);
	assert_int_equal(store_put_vehicle(st, &v), PW_OK);
	assert_int_equal(store_add_seq_gap(st, VIN_A, 1, 5), PW_OK);
	assert_int_equal(store_rollback(st), PW_OK);
	assert_int_equal(store_load_vehicles(st, state_dtcsets(s), load_into_state, s), PW_OK);
	assert_int_equal(state_count(s), 0);
	assert_int_equal(store_take_seq_gap(st, VIN_A, 3, &was_gap), PW_OK);
	assert_int_equal(was_gap, 0);
	state_free(s);
	store_close(st);
}

/* ---- seq gaps ---- */

static int take(struct store *st, const char *vin, int64_t seq)
{
	int was_gap = -1;

	assert_int_equal(store_take_seq_gap(st, vin, seq, &was_gap), PW_OK);
	return was_gap;
}

static void test_seq_gaps(void **unused)
{
	char path[512], text[256];
	struct store *st;
	sqlite3 *db;

	(void)unused;
	db_path(path, sizeof(path), "gaps.db");
	st = store_open(path, STORE_READ_WRITE);
	db = raw_open(path);
	assert_int_equal(store_add_seq_gap(st, VIN_A, 10, 20), PW_OK);
	assert_int_equal(store_add_seq_gap(st, VIN_B, 0, 1000), PW_OK);
	assert_int_equal(take(st, VIN_A, 9), 0);
	assert_int_equal(take(st, VIN_A, 21), 0);
	assert_int_equal(take(st, VIN_A, 15), 1); /* split */
	assert_int_equal(take(st, VIN_A, 15), 0);
	raw_text(db,
	         "SELECT group_concat(lo || '-' || hi, ' ') FROM (SELECT lo, hi FROM seq_gap "
	         "WHERE vin = ? ORDER BY lo)",
	         VIN_A, text, sizeof(text));
	assert_string_equal(text, "10-14 16-20");
	assert_int_equal(take(st, VIN_A, 10), 1); /* the low end */
	assert_int_equal(take(st, VIN_A, 20), 1); /* the high end */
	assert_int_equal(take(st, VIN_A, 12), 1);
	raw_text(db,
	         "SELECT group_concat(lo || '-' || hi, ' ') FROM (SELECT lo, hi FROM seq_gap "
	         "WHERE vin = ? ORDER BY lo)",
	         VIN_A, text, sizeof(text));
	assert_string_equal(text, "11-11 13-14 16-19");
	assert_int_equal(take(st, VIN_A, 11), 1); /* a single seq: the row goes */
	assert_int_equal(take(st, VIN_A, 11), 0);
	/* adding coalesces with touching ranges on both sides */
	assert_int_equal(store_add_seq_gap(st, VIN_A, 15, 15), PW_OK);
	assert_int_equal(store_add_seq_gap(st, VIN_A, 20, 30), PW_OK);
	assert_int_equal(store_add_seq_gap(st, VIN_A, 40, 40), PW_OK);
	raw_text(db,
	         "SELECT group_concat(lo || '-' || hi, ' ') FROM (SELECT lo, hi FROM seq_gap "
	         "WHERE vin = ? ORDER BY lo)",
	         VIN_A, text, sizeof(text));
	assert_string_equal(text, "13-30 40-40");
	assert_int_equal(store_add_seq_gap(st, VIN_A, 31, 39), PW_OK);
	raw_text(db,
	         "SELECT group_concat(lo || '-' || hi, ' ') FROM (SELECT lo, hi FROM seq_gap "
	         "WHERE vin = ? ORDER BY lo)",
	         VIN_A, text, sizeof(text));
	assert_string_equal(text, "13-40");
	/* the other vehicle is untouched */
	assert_int_equal(take(st, VIN_B, 11), 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM seq_gap WHERE vin = ?", VIN_B), 2);
	/* bad ranges */
	assert_int_equal(store_add_seq_gap(st, VIN_A, 5, 4), PW_EINVAL);
	assert_int_equal(store_add_seq_gap(st, VIN_A, -1, 4), PW_EINVAL);
	sqlite3_close(db);
	store_close(st);
	remove_db(path);
}

/* ---- history, DTC changes, retention ---- */

static void test_history(void **unused)
{
	char path[512], text[64];
	struct store *st;
	struct pw_telemetry t = obj(VIN_A, 1, T0 + 10);
	sqlite3 *db;

	(void)unused;
	db_path(path, sizeof(path), "history.db");
	st = store_open(path, STORE_READ_WRITE);
	t.has = PW_F_ODOMETER | PW_F_POSITION | PW_F_IGNITION | PW_F_TIRES;
	t.odometer_km = 100;
	t.lat = 36.5;
	t.lon = 117.5;
	t.ignition = PW_IGN_OFF;
	t.tires[PW_TIRE_RL].has = PW_TIRE_TREAD;
	t.tires[PW_TIRE_RL].tread_mm = 2.5f;
	assert_int_equal(store_put_history(st, &t, T0 / HOUR_MS), PW_OK);
	t.ts_ms = T0 + 20;
	t.odometer_km = 101;
	assert_int_equal(store_put_history(st, &t, T0 / HOUR_MS), PW_OK); /* ignored */
	t.ts_ms = T0 + HOUR_MS;
	t.odometer_km = 150;
	t.has = PW_F_ODOMETER;
	assert_int_equal(store_put_history(st, &t, T0 / HOUR_MS + 1), PW_OK);

	db = raw_open(path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM history WHERE vin = ?", VIN_A), 2);
	assert_int_equal(raw_int(db,
	                         "SELECT odometer_km FROM history WHERE vin = ? ORDER BY bucket "
	                         "LIMIT 1",
	                         VIN_A),
	                 100);
	assert_int_equal(
	    raw_int(db, "SELECT ts_ms FROM history WHERE vin = ? ORDER BY bucket", VIN_A), T0 + 10);
	assert_int_equal(raw_int(db,
	                         "SELECT tire_rl_tread_mm * 10 FROM history WHERE vin = ? ORDER "
	                         "BY bucket",
	                         VIN_A),
	                 25);
	raw_text(db, "SELECT ignition FROM history WHERE vin = ? ORDER BY bucket", VIN_A, text,
	         sizeof(text));
	assert_string_equal(text, "off");
	assert_int_equal(raw_int(db,
	                         "SELECT lat IS NULL AND speed_kmh IS NULL AND tire_rl_kpa IS NULL "
	                         "FROM history WHERE vin = ? ORDER BY bucket DESC",
	                         VIN_A),
	                 1);
	sqlite3_close(db);
	store_close(st);
	remove_db(path);
}

static void test_dtc_changes(void **unused)
{
	char path[512], text[256];
	struct store *st;
	struct pw_dtc d[2];
	sqlite3 *db;

	(void)unused;
	db_path(path, sizeof(path), "dtc.db");
	st = store_open(path, STORE_READ_WRITE);
	memset(d, 0, sizeof(d));
	memcpy(d[0].code, "P0301", 5);
	d[0].status = PW_DTC_PERMANENT;
	d[0].mil = 1;
	memcpy(d[1].code, "U0100", 5);
	d[1].status = PW_DTC_PENDING;
	assert_int_equal(store_put_dtc_change(st, VIN_A, T0, d, 2), PW_OK);
	assert_int_equal(store_put_dtc_change(st, VIN_A, T0 + 1, d, 0), PW_OK);
	memcpy(d[0].code, "p03x1", 5); /* never from decode; refused, not written */
	assert_int_equal(store_put_dtc_change(st, VIN_A, T0 + 2, d, 1), PW_EINVAL);

	db = raw_open(path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM dtc_history WHERE vin = ?", VIN_A), 2);
	raw_text(db, "SELECT dtc FROM dtc_history WHERE vin = ? ORDER BY ts_ms", VIN_A, text,
	         sizeof(text));
	assert_string_equal(text, "[{\"code\":\"P0301\",\"status\":\"permanent\",\"mil\":true},"
	                          "{\"code\":\"U0100\",\"status\":\"pending\",\"mil\":false}]");
	raw_text(db, "SELECT dtc FROM dtc_history WHERE vin = ? ORDER BY ts_ms DESC", VIN_A, text,
	         sizeof(text));
	assert_string_equal(text, "[]");
	sqlite3_close(db);
	store_close(st);
	remove_db(path);
}

static void test_purge_positions(void **unused)
{
	char path[512];
	struct store *st;
	sqlite3 *db;
	int cleared = -1, total = 0, batches = 0;
	const int n = 100;

	(void)unused;
	db_path(path, sizeof(path), "purge.db");
	st = store_open(path, STORE_READ_WRITE);
	assert_int_equal(store_begin(st), PW_OK);
	for (int i = 0; i < n; i++) {
		struct pw_telemetry t = obj(i % 2 ? VIN_A : VIN_B, i, T0 + (int64_t)i * HOUR_MS);

		t.has = PW_F_POSITION | PW_F_SPEED;
		t.lat = 36 + i / 1000.0;
		t.lon = 117;
		t.speed_kmh = (float)i;
		assert_int_equal(store_put_history(st, &t, t.ts_ms / HOUR_MS), PW_OK);
	}
	/* not inside a transaction: it runs its own */
	assert_int_equal(store_purge_positions(st, T0, 10, &cleared), PW_EBUSY);
	assert_int_equal(store_commit(st), PW_OK);
	assert_int_equal(store_purge_positions(st, T0, 10, &cleared), PW_OK);
	assert_int_equal(cleared, 0);
	do {
		assert_int_equal(store_purge_positions(st, T0 + 60 * HOUR_MS, 7, &cleared), PW_OK);
		assert_true(cleared <= 7);
		total += cleared;
		batches++;
	} while (cleared > 0);
	assert_int_equal(total, 60);
	assert_int_equal(batches, 10); /* 8 full batches of 7, one of 4, one empty */

	db = raw_open(path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM history WHERE lat IS NULL", NULL), 60);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM history WHERE lon IS NULL", NULL), 60);
	assert_int_equal(raw_int(db, "SELECT max(ts_ms) FROM history WHERE lat IS NULL", NULL),
	                 T0 + 59 * HOUR_MS);
	assert_int_equal(raw_int(db, "SELECT min(ts_ms) FROM history WHERE lat IS NOT NULL", NULL),
	                 T0 + 60 * HOUR_MS);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM history WHERE speed_kmh IS NULL", NULL),
	                 0);
	sqlite3_close(db);
	assert_int_equal(store_purge_positions(st, T0, 0, &cleared), PW_EINVAL);
	store_close(st);
	remove_db(path);
}

/* ---- reload and the commit cost ---- */

static void test_reload_file(void **unused)
{
	char path[512], vin[PW_VIN_LEN + 1];
	struct store *st;
	struct state *s = state_new(16), *back = state_new(16);
	const int n = 2000;

	(void)unused;
	db_path(path, sizeof(path), "reload.db");
	st = store_open(path, STORE_READ_WRITE);
	assert_non_null(st);
	for (int i = 0; i < n; i++) {
		struct pw_vehicle v;

		make_vin(vin, (unsigned)i * 31u);
		v = random_vehicle(state_dtcsets(s), vin, 1 + rnd_below(10));
		if (i % 100 == 0)
			assert_int_equal(store_begin(st), PW_OK);
		assert_int_equal(store_put_vehicle(st, &v), PW_OK);
		if (i % 100 == 99)
			assert_int_equal(store_commit(st), PW_OK);
		assert_int_equal(state_put(s, &v), PW_OK);
		dtcset_collect(state_dtcsets(s));
	}
	store_close(st);

	st = store_open(path, STORE_READ_WRITE);
	assert_non_null(st);
	assert_int_equal(store_load_vehicles(st, state_dtcsets(back), load_into_state, back),
	                 PW_OK);
	assert_int_equal(state_count(back), n);
	for (int i = 0; i < n; i++) {
		make_vin(vin, (unsigned)i * 31u);
		assert_true(vehicle_equal(state_find(back, vin), state_find(s, vin)));
	}
	store_close(st);
	state_free(s);
	state_free(back);
	remove_db(path);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define BENCH_MSGS 20000

/* Not a pass/fail test: what one message's transaction costs on a file
 * database in WAL mode, synchronous=NORMAL (automatic checkpoints, with
 * their fsyncs, included). */
static void test_commit_cost(void **unused)
{
	char path[512], vin[PW_VIN_LEN + 1];
	struct store *st;
	static struct pw_vehicle fleet[1000];
	static struct pw_telemetry objs[1000]; /* their history rows */
	static double us[BENCH_MSGS];
	const int n_vehicles = 1000;

	(void)unused;
	db_path(path, sizeof(path), "bench.db");
	st = store_open(path, STORE_READ_WRITE);
	assert_non_null(st);
	assert_int_equal(store_begin(st), PW_OK);
	for (int i = 0; i < n_vehicles; i++) {
		make_vin(vin, (unsigned)i);
		fleet[i] = random_vehicle(sets, vin, 5);
		objs[i] = random_object(vin, 0, T0);
		assert_int_equal(store_put_vehicle(st, &fleet[i]), PW_OK);
	}
	assert_int_equal(store_commit(st), PW_OK);

	for (int with_history = 0; with_history < 2; with_history++) {
		double sum = 0;

		for (int i = 0; i < BENCH_MSGS; i++) {
			struct pw_vehicle *v = &fleet[i % n_vehicles];
			double t0;

			v->msg_count++;
			v->ts_ms += 1000;
			v->latest.ts_ms = v->ts_ms;
			t0 = now_us();
			assert_int_equal(store_begin(st), PW_OK);
			objs[i % n_vehicles].ts_ms = v->ts_ms;
			if (with_history)
				assert_int_equal(
				    store_put_history(st, &objs[i % n_vehicles], v->ts_ms / 1000),
				    PW_OK);
			assert_int_equal(store_put_vehicle(st, v), PW_OK);
			assert_int_equal(store_commit(st), PW_OK);
			us[i] = now_us() - t0;
			sum += us[i];
		}
		qsort(us, BENCH_MSGS, sizeof(us[0]), cmp_double);
		print_message("commit cost, file db, WAL, synchronous=NORMAL, %d vehicles, %s: "
		              "mean %.1f us, p50 %.1f us, p99 %.1f us, max %.0f us per message\n",
		              n_vehicles,
		              with_history ? "begin+history+put_vehicle+commit"
		                           : "begin+put_vehicle+commit",
		              sum / BENCH_MSGS, us[BENCH_MSGS / 2], us[BENCH_MSGS * 99 / 100],
		              us[BENCH_MSGS - 1]);
	}
	store_close(st);
	remove_db(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migrate_fresh),
	    cmocka_unit_test(test_reopen_idempotent),
	    cmocka_unit_test(test_newer_refused),
	    cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_round_trip_every_field),
	    cmocka_unit_test(test_round_trip_random),
	    cmocka_unit_test(test_columns_plain_sql),
	    cmocka_unit_test(test_rollback),
	    cmocka_unit_test(test_seq_gaps),
	    cmocka_unit_test(test_history),
	    cmocka_unit_test(test_dtc_changes),
	    cmocka_unit_test(test_purge_positions),
	    cmocka_unit_test(test_reload_file),
	    cmocka_unit_test(test_commit_cost),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
