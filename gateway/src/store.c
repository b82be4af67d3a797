/*
 * store — Pitwall's SQLite database (schema: gateway/sql/NNN_*.sql).
 *
 * One struct store is one connection, used by one thread at a time: the core
 * thread owns a read-write one and wraps each MQTT message in
 * store_begin()/store_commit(); HTTP reads and housekeeping open their own.
 * Open sets WAL, synchronous=NORMAL, a 5 s busy timeout, foreign keys, a
 * bounded page cache; read-write opens apply the missing migrations (one
 * transaction each, recorded in PRAGMA user_version) and refuse a database
 * newer than the binary. Every statement used after open is prepared there
 * once and reused: bind, step, reset.
 *
 * vehicle_state keeps one plain column per latest field (NULL: never set),
 * so SQL reads it without this code; what only the merge needs (when each
 * field was last set) is one compact blob (field_ts, below). The hot path,
 * store_put_vehicle(), allocates nothing: the DTC set's JSON text is built
 * into a buffer of the store and reused while the set stays the same.
 */
#include "store.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "store_migrations.h"

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_CACHE_KIB_RW    4096 /* page cache of a read-write connection */
#define STORE_CACHE_KIB_RO    2048
#define STORE_DTC_JSON_MAX    2048 /* 32 entries of at most 52 bytes, brackets, commas */
#define FIELD_TS_VERSION      1
#define FIELD_TS_SLOTS        (PW_STATE_GROUPS + PW_TIRE_COUNT + PW_TIRE_COUNT * PW_TIRE_MEMBERS)
#define FIELD_TS_MAX          (1 + 5 + FIELD_TS_SLOTS * 10)

/* vehicle_state columns between vin and updated_at, in table order. */
#define VS_FIELDS(X)                                                                               \
	X(odometer_km)                                                                             \
	X(speed_kmh)                                                                               \
	X(ignition)                                                                                \
	X(fuel_pct)                                                                                \
	X(fuel_l_per_100km)                                                                        \
	X(battery_v)                                                                               \
	X(engine_hours)                                                                            \
	X(lat)                                                                                     \
	X(lon)                                                                                     \
	X(heading_deg)                                                                             \
	TIRE_COLUMNS(X)                                                                            \
	X(dtc)                                                                                     \
	X(seq_max)                                                                                 \
	X(seq_window)                                                                              \
	X(msg_count)                                                                               \
	X(ts_ms)                                                                                   \
	X(field_ts)                                                                                \
	X(history_bucket)                                                                          \
	X(odometer_rollbacks)                                                                      \
	X(online)                                                                                  \
	X(status_ts_ms)

/* history columns between vin and the tires, in table order. */
#define HIST_FIELDS(X)                                                                             \
	X(bucket)                                                                                  \
	X(ts_ms)                                                                                   \
	X(odometer_km)                                                                             \
	X(speed_kmh)                                                                               \
	X(ignition)                                                                                \
	X(fuel_pct)                                                                                \
	X(fuel_l_per_100km)                                                                        \
	X(battery_v)                                                                               \
	X(engine_hours)                                                                            \
	X(lat)                                                                                     \
	X(lon)                                                                                     \
	X(heading_deg)                                                                             \
	TIRE_COLUMNS(X)

/* Wheel-major, member-minor: the column of wheel w, member m is base + 3w + m. */
#define TIRE_COLUMNS(X)                                                                            \
	X(tire_fl_kpa)                                                                             \
	X(tire_fl_tread_mm)                                                                        \
	X(tire_fl_temp_c)                                                                          \
	X(tire_fr_kpa)                                                                             \
	X(tire_fr_tread_mm)                                                                        \
	X(tire_fr_temp_c)                                                                          \
	X(tire_rl_kpa)                                                                             \
	X(tire_rl_tread_mm)                                                                        \
	X(tire_rl_temp_c)                                                                          \
	X(tire_rr_kpa)                                                                             \
	X(tire_rr_tread_mm)                                                                        \
	X(tire_rr_temp_c)

#define COMMA_NAME(n)   ", " #n
#define COMMA_PARAM(n)  ", ?"
#define SET_EXCLUDED(n) #n " = excluded." #n ", "
#define VS_ENUM(n)      VS_##n,
#define HIST_ENUM(n)    HIST_##n,

/* Column (SELECT) or parameter-1 (bind) numbers. */
enum { VS_vin = 0, VS_FIELDS(VS_ENUM) VS_updated_at, VS__COUNT };
enum { HIST_vin = 0, HIST_FIELDS(HIST_ENUM) HIST__COUNT };

_Static_assert(VS_tire_rr_temp_c == VS_tire_fl_kpa + 11, "tire columns are contiguous");
_Static_assert(HIST_tire_rr_temp_c == HIST_tire_fl_kpa + 11, "tire columns are contiguous");

/* clang-format off */
#define SQL_PUT_VEHICLE                                                                            \
	"INSERT INTO vehicle_state (vin" VS_FIELDS(COMMA_NAME) ", updated_at) "                    \
	"VALUES (?" VS_FIELDS(COMMA_PARAM) ", ?) "                                                 \
	"ON CONFLICT (vin) DO UPDATE SET "                                                         \
	VS_FIELDS(SET_EXCLUDED) "updated_at = excluded.updated_at"
#define SQL_LOAD_VEHICLES                                                                          \
	"SELECT vin" VS_FIELDS(COMMA_NAME) ", updated_at FROM vehicle_state"
#define SQL_PUT_HISTORY                                                                            \
	"INSERT OR IGNORE INTO history (vin" HIST_FIELDS(COMMA_NAME) ") "                          \
	"VALUES (?" HIST_FIELDS(COMMA_PARAM) ")"
/* clang-format on */

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_USER_VERSION,
	S_PING,
	S_PUT_VEHICLE,
	S_LOAD_VEHICLES,
	S_PUT_HISTORY,
	S_PUT_DTC,
	S_GAP_FIND,
	S_GAP_NEXT,
	S_GAP_INSERT,
	S_GAP_DELETE,
	S_GAP_SET_LO,
	S_GAP_SET_HI,
	S_PURGE,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE", /* read-only connections use a plain BEGIN */
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_USER_VERSION] = "PRAGMA user_version",
    [S_PING] = "SELECT 1",
    [S_PUT_VEHICLE] = SQL_PUT_VEHICLE,
    [S_LOAD_VEHICLES] = SQL_LOAD_VEHICLES,
    [S_PUT_HISTORY] = SQL_PUT_HISTORY,
    [S_PUT_DTC] = "INSERT INTO dtc_history (vin, ts_ms, dtc) VALUES (?1, ?2, ?3)",
    [S_GAP_FIND] = "SELECT lo, hi FROM seq_gap WHERE vin = ?1 AND lo <= ?2 "
                   "ORDER BY lo DESC LIMIT 1",
    [S_GAP_NEXT] = "SELECT lo, hi FROM seq_gap WHERE vin = ?1 AND lo > ?2 ORDER BY lo LIMIT 1",
    [S_GAP_INSERT] = "INSERT INTO seq_gap (vin, lo, hi) VALUES (?1, ?2, ?3)",
    [S_GAP_DELETE] = "DELETE FROM seq_gap WHERE vin = ?1 AND lo = ?2",
    [S_GAP_SET_LO] = "UPDATE seq_gap SET lo = ?3 WHERE vin = ?1 AND lo = ?2",
    [S_GAP_SET_HI] = "UPDATE seq_gap SET hi = ?3 WHERE vin = ?1 AND lo = ?2",
    [S_PURGE] = "UPDATE history SET lat = NULL, lon = NULL WHERE id IN "
                "(SELECT id FROM history WHERE lat IS NOT NULL AND ts_ms < ?1 "
                "ORDER BY ts_ms LIMIT ?2)",
};

struct store {
	sqlite3 *db;
	enum store_mode mode;
	sqlite3_stmt *stmt[S__COUNT];
	/* the JSON text of the last DTC set written, reused while it matches */
	int dtc_valid;
	int dtc_n;
	struct pw_dtc dtc_set[PW_DTC_MAX];
	int dtc_json_len;
	char dtc_json[STORE_DTC_JSON_MAX];
	uint8_t field_ts[FIELD_TS_MAX];
	char path[];
};

static const char *const ignition_names[] = {NULL, "off", "acc", "on"};
static const char *const dtc_status_names[] = {NULL, "pending", "confirmed", "permanent"};

/* Logs the failure of `what` with the path, the VIN when given, and SQLite's
 * message. Returns PW_EIO. */
static int db_fail(const struct store *st, const char *what, const char *vin)
{
	log_error("store", "%s: %s%s%s: %s", st->path, what, vin ? " for " : "", vin ? vin : "",
	          sqlite3_errmsg(st->db));
	return PW_EIO;
}

/* Steps a statement that returns no row, then resets it. */
static int step_done(struct store *st, enum stmt_id id, const char *what, const char *vin)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE) {
		db_fail(st, what, vin);
		sqlite3_reset(s);
		return PW_EIO;
	}
	sqlite3_reset(s);
	return PW_OK;
}

static int exec_sql(struct store *st, const char *sql, const char *what)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("store", "%s: %s: %s", st->path, what,
		          err ? err : sqlite3_errmsg(st->db));
		sqlite3_free(err);
		return PW_EIO;
	}
	return PW_OK;
}

/* ---- helpers: binding optional values, the DTC text, the field_ts blob ---- */

static int vin_len(const char *vin)
{
	return (int)strnlen(vin, PW_VIN_LEN);
}

static int bind_opt_double(sqlite3_stmt *s, int col, int has, double v)
{
	return has ? sqlite3_bind_double(s, col + 1, v) : sqlite3_bind_null(s, col + 1);
}

static int bind_opt_text(sqlite3_stmt *s, int col, const char *text)
{
	return text ? sqlite3_bind_text(s, col + 1, text, -1, SQLITE_STATIC)
	            : sqlite3_bind_null(s, col + 1);
}

static const char *ignition_text(uint32_t has, uint8_t ignition)
{
	if (!(has & PW_F_IGNITION) || ignition >= PW_ARRAY_LEN(ignition_names))
		return NULL;
	return ignition_names[ignition];
}

static int bind_tires(sqlite3_stmt *s, uint32_t has, const struct pw_tire *tires, int c_tire_base)
{
	int rc = 0;

	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		const struct pw_tire *ti = &tires[w];
		int on = (has & PW_F_TIRES) != 0;
		int c = c_tire_base + 3 * w;

		rc |= bind_opt_double(s, c + 0, on && (ti->has & PW_TIRE_KPA), ti->kpa);
		rc |= bind_opt_double(s, c + 1, on && (ti->has & PW_TIRE_TREAD), ti->tread_mm);
		rc |= bind_opt_double(s, c + 2, on && (ti->has & PW_TIRE_TEMP), ti->temp_c);
	}
	return rc;
}

/* Binds the fields of `t` that share column names in vehicle_state and
 * history (odometer_km .. heading_deg in the same order in both, then the
 * tires); the SQLite codes ORed. `t` is a struct pw_telemetry (history) or
 * a struct pw_latest (vehicle_state): the same members (decode.h's
 * PW_TELEMETRY_MEMBERS), hence a macro rather than a function. */
#define BIND_FIELDS(s, t, c_odometer, c_tire_base)                                                 \
	(bind_opt_double(s, (c_odometer) + 0, (t)->has & PW_F_ODOMETER, (t)->odometer_km) |        \
	 bind_opt_double(s, (c_odometer) + 1, (t)->has & PW_F_SPEED, (t)->speed_kmh) |             \
	 bind_opt_text(s, (c_odometer) + 2, ignition_text((t)->has, (t)->ignition)) |              \
	 bind_opt_double(s, (c_odometer) + 3, (t)->has & PW_F_FUEL_PCT, (t)->fuel_pct) |           \
	 bind_opt_double(s, (c_odometer) + 4, (t)->has & PW_F_FUEL_RATE, (t)->fuel_l_per_100km) |  \
	 bind_opt_double(s, (c_odometer) + 5, (t)->has & PW_F_BATTERY, (t)->battery_v) |           \
	 bind_opt_double(s, (c_odometer) + 6, (t)->has & PW_F_ENGINE_HOURS, (t)->engine_hours) |   \
	 bind_opt_double(s, (c_odometer) + 7, (t)->has & PW_F_POSITION, (t)->lat) |                \
	 bind_opt_double(s, (c_odometer) + 8, (t)->has & PW_F_POSITION, (t)->lon) |                \
	 bind_opt_double(s, (c_odometer) + 9, (t)->has & PW_F_HEADING, (t)->heading_deg) |         \
	 bind_tires(s, (t)->has, (t)->tires, c_tire_base))

_Static_assert(VS_heading_deg == VS_odometer_km + 9, "vehicle_state field order");
_Static_assert(HIST_heading_deg == HIST_odometer_km + 9, "history field order");

static int code_ok(const char *code)
{
	for (int i = 0; i < 5; i++)
		if (!((code[i] >= 'A' && code[i] <= 'Z') || (code[i] >= '0' && code[i] <= '9')))
			return 0;
	return code[5] == '\0';
}

static void put_str(char *buf, int *at, const char *s)
{
	size_t n = strlen(s);

	memcpy(buf + *at, s, n);
	*at += (int)n;
}

/* The JSON text of a DTC set, borrowed from the store until the next call:
 * reused while the set is the one last built. NULL if an entry is malformed. */
static const char *dtc_json(struct store *st, const struct pw_dtc *d, int n, int *len)
{
	int at = 0;

	if (n <= 0) {
		*len = 2;
		return "[]";
	}
	if (n > PW_DTC_MAX)
		return NULL;
	if (st->dtc_valid && st->dtc_n == n &&
	    memcmp(st->dtc_set, d, (size_t)n * sizeof(*d)) == 0) {
		*len = st->dtc_json_len;
		return st->dtc_json;
	}
	st->dtc_valid = 0;
	st->dtc_json[at++] = '[';
	for (int i = 0; i < n; i++) {
		if (!code_ok(d[i].code) || d[i].status < PW_DTC_PENDING ||
		    d[i].status > PW_DTC_PERMANENT)
			return NULL;
		if (i)
			st->dtc_json[at++] = ',';
		put_str(st->dtc_json, &at, "{\"code\":\"");
		put_str(st->dtc_json, &at, d[i].code);
		put_str(st->dtc_json, &at, "\",\"status\":\"");
		put_str(st->dtc_json, &at, dtc_status_names[d[i].status]);
		put_str(st->dtc_json, &at, d[i].mil ? "\",\"mil\":true}" : "\",\"mil\":false}");
	}
	st->dtc_json[at++] = ']';
	st->dtc_json[at] = '\0';
	memcpy(st->dtc_set, d, (size_t)n * sizeof(*d));
	st->dtc_n = n;
	st->dtc_json_len = at;
	st->dtc_valid = 1;
	*len = at;
	return st->dtc_json;
}

/* Parses vehicle_state.dtc back into d[] (PW_DTC_MAX entries), *n of them. */
static int dtc_parse(const char *text, size_t len, struct pw_dtc *d_out, int *n)
{
	json_error_t err;
	json_t *a = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	size_t i;
	json_t *e;
	int rc = PW_EINVAL;

	if (!a || !json_is_array(a) || json_array_size(a) > PW_DTC_MAX)
		goto out;
	json_array_foreach(a, i, e)
	{
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *status = json_string_value(json_object_get(e, "status"));
		json_t *mil = json_object_get(e, "mil");
		struct pw_dtc *d = &d_out[i];

		if (!code || strlen(code) != 5 || !status || !json_is_boolean(mil))
			goto out;
		memset(d, 0, sizeof(*d));
		memcpy(d->code, code, 5);
		if (!code_ok(d->code))
			goto out;
		for (uint8_t k = PW_DTC_PENDING; k <= PW_DTC_PERMANENT; k++)
			if (strcmp(status, dtc_status_names[k]) == 0)
				d->status = k;
		if (!d->status)
			goto out;
		d->mil = json_is_true(mil) ? 1 : 0;
	}
	*n = (int)json_array_size(a);
	rc = PW_OK;
out:
	json_decref(a);
	return rc;
}

/* field_ts: version byte, varint bitmap of the non-zero slots, then for each
 * one varint(zigzag(ts_ms - slot)): a few bytes per field, exact for any
 * int64. Slots: group_ts_ms[], each wheel's newest member ts (no longer
 * kept in memory: written as state_tire_ts_ms(), ignored when read, so rows
 * of either age decode the same), tire_member_ts_ms[][]. */
static int64_t *ts_slot(struct pw_vehicle *v, int i)
{
	if (i < PW_STATE_GROUPS)
		return &v->group_ts_ms[i];
	i -= PW_STATE_GROUPS;
	if (i < PW_TIRE_COUNT)
		return NULL;
	i -= PW_TIRE_COUNT;
	return &v->tire_member_ts_ms[i / PW_TIRE_MEMBERS][i % PW_TIRE_MEMBERS];
}

static size_t varint_put(uint8_t *p, uint64_t x)
{
	size_t n = 0;

	while (x >= 0x80) {
		p[n++] = (uint8_t)(x | 0x80);
		x >>= 7;
	}
	p[n++] = (uint8_t)x;
	return n;
}

static int varint_get(const uint8_t *p, size_t len, size_t *at, uint64_t *x)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && *at < len; shift += 7) {
		uint8_t b = p[(*at)++];

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*x = v;
			return PW_OK;
		}
	}
	return PW_EINVAL;
}

static int64_t ts_get(const struct pw_vehicle *v, int i)
{
	if (i < PW_STATE_GROUPS)
		return v->group_ts_ms[i];
	i -= PW_STATE_GROUPS;
	if (i < PW_TIRE_COUNT)
		return state_tire_ts_ms(v, i);
	i -= PW_TIRE_COUNT;
	return v->tire_member_ts_ms[i / PW_TIRE_MEMBERS][i % PW_TIRE_MEMBERS];
}

static size_t field_ts_encode(const struct pw_vehicle *v, uint8_t *out)
{
	uint64_t bitmap = 0;
	size_t n = 0;

	for (int i = 0; i < FIELD_TS_SLOTS; i++)
		if (ts_get(v, i))
			bitmap |= 1ull << i;
	out[n++] = FIELD_TS_VERSION;
	n += varint_put(out + n, bitmap);
	for (int i = 0; i < FIELD_TS_SLOTS; i++) {
		uint64_t d;

		if (!(bitmap & (1ull << i)))
			continue;
		d = (uint64_t)v->ts_ms - (uint64_t)ts_get(v, i);
		/* zigzag of d as a two's-complement int64 */
		n += varint_put(out + n, (d << 1) ^ (0 - (d >> 63)));
	}
	return n;
}

static int field_ts_decode(struct pw_vehicle *v, const uint8_t *p, size_t len)
{
	uint64_t bitmap, z;
	size_t at = 1;

	if (len < 2 || p[0] != FIELD_TS_VERSION || varint_get(p, len, &at, &bitmap) != PW_OK ||
	    bitmap >> FIELD_TS_SLOTS)
		return PW_EINVAL;
	for (int i = 0; i < FIELD_TS_SLOTS; i++) {
		uint64_t d;
		int64_t *slot;

		if (!(bitmap & (1ull << i)))
			continue;
		if (varint_get(p, len, &at, &z) != PW_OK)
			return PW_EINVAL;
		d = (z >> 1) ^ (0 - (z & 1));
		slot = ts_slot(v, i);
		if (slot)
			*slot = (int64_t)((uint64_t)v->ts_ms - d);
	}
	return at == len ? PW_OK : PW_EINVAL;
}

static int64_t u64_to_i64(uint64_t u)
{
	int64_t i;

	memcpy(&i, &u, sizeof(i));
	return i;
}

/* ---- open, migrate, close ---- */

static int read_user_version(struct store *st, int *version)
{
	sqlite3_stmt *s = st->stmt[S_USER_VERSION];
	int rc = sqlite3_step(s);

	if (rc != SQLITE_ROW) {
		db_fail(st, "reading user_version", NULL);
		sqlite3_reset(s);
		return PW_EIO;
	}
	*version = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	return PW_OK;
}

int store_latest_schema_version(void)
{
	return store_migrations_count ? store_migrations[store_migrations_count - 1].version : 0;
}

static int refuse_newer(const struct store *st, int version)
{
	log_error("store",
	          "%s: database schema version %d is newer than this pitwall understands (%d); "
	          "refusing to open it: run a newer pitwall",
	          st->path, version, store_latest_schema_version());
	return PW_EINVAL;
}

/* Applies every migration above the database's version, one transaction
 * each. Safe against another process migrating at the same time: the version
 * is read again inside the (immediate) transaction. */
static int migrate(struct store *st)
{
	int version;

	if (read_user_version(st, &version) != PW_OK)
		return PW_EIO;
	if (version > store_latest_schema_version())
		return refuse_newer(st, version);
	for (size_t i = 0; i < store_migrations_count; i++) {
		const struct store_migration *m = &store_migrations[i];
		char pragma[48];

		if (m->version <= version)
			continue;
		if (exec_sql(st, "BEGIN IMMEDIATE", "starting a migration") != PW_OK)
			return PW_EIO;
		if (read_user_version(st, &version) != PW_OK)
			goto fail;
		if (version > store_latest_schema_version()) {
			exec_sql(st, "ROLLBACK", "rollback");
			return refuse_newer(st, version);
		}
		if (m->version <= version) {
			exec_sql(st, "ROLLBACK", "rollback");
			continue;
		}
		/* PRAGMA takes no parameters; the number is our own compiled-in one */
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
		if (exec_sql(st, m->sql, m->name) != PW_OK ||
		    exec_sql(st, pragma, "setting user_version") != PW_OK ||
		    exec_sql(st, "COMMIT", "committing a migration") != PW_OK)
			goto fail;
		log_info("store", "%s: applied migration %s", st->path, m->name);
		version = m->version;
	}
	return PW_OK;
fail:
	log_error("store", "%s: migration to version %d failed; the database is unchanged",
	          st->path, version + 1);
	if (!sqlite3_get_autocommit(st->db))
		exec_sql(st, "ROLLBACK", "rollback");
	return PW_EIO;
}

static int set_wal(struct store *st)
{
	sqlite3_stmt *s = NULL;
	const char *mode = NULL;
	int rc = PW_EIO;

	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK) {
		db_fail(st, "PRAGMA journal_mode", NULL);
		goto out;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		mode = (const char *)sqlite3_column_text(s, 0);
	/* an in-memory database stays "memory": nothing to survive a crash anyway */
	if (mode && (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0))
		rc = PW_OK;
	else
		log_error("store", "%s: cannot switch to WAL mode (journal_mode is %s)", st->path,
		          mode ? mode : "unknown");
out:
	sqlite3_finalize(s);
	return rc;
}

static int configure(struct store *st)
{
	char sql[64];
	int cache_kib = st->mode == STORE_READ_ONLY ? STORE_CACHE_KIB_RO : STORE_CACHE_KIB_RW;

	sqlite3_extended_result_codes(st->db, 1);
	if (sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK)
		return db_fail(st, "setting the busy timeout", NULL);
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", cache_kib);
	if (exec_sql(st, sql, "PRAGMA cache_size") != PW_OK ||
	    exec_sql(st, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys") != PW_OK ||
	    exec_sql(st, "PRAGMA temp_store = MEMORY", "PRAGMA temp_store") != PW_OK)
		return PW_EIO;
	if (st->mode == STORE_READ_ONLY)
		return exec_sql(st, "PRAGMA query_only = ON", "PRAGMA query_only");
	/* page_size takes effect on a new database, before WAL is switched on */
	if (exec_sql(st, "PRAGMA page_size = 4096", "PRAGMA page_size") != PW_OK)
		return PW_EIO;
	if (set_wal(st) != PW_OK ||
	    exec_sql(st, "PRAGMA synchronous = NORMAL", "PRAGMA synchronous") != PW_OK ||
	    exec_sql(st, "PRAGMA journal_size_limit = 67108864", "PRAGMA journal_size_limit") !=
	        PW_OK)
		return PW_EIO;
	return PW_OK;
}

static int prepare(struct store *st, enum stmt_id id)
{
	const char *sql = stmt_sql[id];

	if (id == S_BEGIN && st->mode == STORE_READ_ONLY)
		sql = "BEGIN";
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL) !=
	    SQLITE_OK)
		return db_fail(st, "preparing a statement", NULL);
	return PW_OK;
}

static pthread_once_t sqlite_config_once = PTHREAD_ONCE_INIT;

/* Process-wide SQLite settings, before SQLite initialises: no memory
 * statistics (they take a global mutex on every allocation, measurably on
 * the ingest path). */
static void configure_sqlite(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *store_open(const char *path, enum store_mode mode)
{
	size_t len = strlen(path);
	struct store *st = calloc(1, sizeof(*st) + len + 1);
	int flags = mode == STORE_READ_ONLY ? SQLITE_OPEN_READONLY
	                                    : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int version;

	if (!st) {
		log_error("store", "%s: out of memory", path);
		return NULL;
	}
	memcpy(st->path, path, len + 1);
	st->mode = mode;
	pthread_once(&sqlite_config_once, configure_sqlite);
	/* one thread at a time per connection: no per-connection mutex needed */
	if (sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("store", "%s: cannot open: %s", path,
		          st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	if (configure(st) != PW_OK || prepare(st, S_USER_VERSION) != PW_OK)
		goto fail;
	if (mode == STORE_READ_WRITE) {
		if (migrate(st) != PW_OK)
			goto fail;
	} else {
		if (read_user_version(st, &version) != PW_OK)
			goto fail;
		if (version > store_latest_schema_version()) {
			refuse_newer(st, version);
			goto fail;
		}
		if (version < store_latest_schema_version()) {
			log_error("store",
			          "%s: database schema version %d, this pitwall needs %d: "
			          "open it read-write once (start the gateway) to migrate it",
			          path, version, store_latest_schema_version());
			goto fail;
		}
	}
	for (int id = 0; id < S__COUNT; id++)
		if (id != S_USER_VERSION && prepare(st, (enum stmt_id)id) != PW_OK)
			goto fail;
	return st;
fail:
	store_close(st);
	return NULL;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		db_fail(st, "closing", NULL);
	free(st);
}

int store_schema_version(struct store *st, int *version)
{
	return read_user_version(st, version);
}

int store_begin(struct store *st)
{
	return step_done(st, S_BEGIN, "BEGIN", NULL);
}

int store_commit(struct store *st)
{
	return step_done(st, S_COMMIT, "COMMIT", NULL);
}

int store_rollback(struct store *st)
{
	if (sqlite3_get_autocommit(st->db))
		return PW_OK; /* nothing open (SQLite may have rolled back itself) */
	return step_done(st, S_ROLLBACK, "ROLLBACK", NULL);
}

int store_ping(struct store *st)
{
	sqlite3_stmt *s = st->stmt[S_PING];
	int rc = sqlite3_step(s);

	if (rc != SQLITE_ROW)
		db_fail(st, "ping", NULL);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? PW_OK : PW_EIO;
}

struct sqlite3 *store_sqlite(struct store *st)
{
	return st->db;
}

/* ---- vehicles ---- */

int store_put_vehicle(struct store *st, const struct pw_vehicle *v)
{
	sqlite3_stmt *s = st->stmt[S_PUT_VEHICLE];
	const struct pw_latest *l = &v->latest;
	const char *dtc = NULL;
	int dtc_len = 0, rc = 0;
	size_t blob_len;

	if (l->has & PW_F_DTC) {
		dtc = dtc_json(st, l->dtc, l->dtc_count, &dtc_len);
		if (!dtc) {
			log_error("store", "%s: malformed DTC set for %.17s", st->path, v->vin);
			return PW_EINVAL;
		}
	}
	blob_len = field_ts_encode(v, st->field_ts);
	rc |= sqlite3_bind_text(s, VS_vin + 1, v->vin, vin_len(v->vin), SQLITE_STATIC);
	rc |= BIND_FIELDS(s, l, VS_odometer_km, VS_tire_fl_kpa);
	rc |= dtc ? sqlite3_bind_text(s, VS_dtc + 1, dtc, dtc_len, SQLITE_STATIC)
	          : sqlite3_bind_null(s, VS_dtc + 1);
	rc |= sqlite3_bind_int64(s, VS_seq_max + 1, v->seq_max);
	rc |= sqlite3_bind_int64(s, VS_seq_window + 1, u64_to_i64(v->seq_window));
	rc |= sqlite3_bind_int64(s, VS_msg_count + 1, v->msg_count);
	rc |= sqlite3_bind_int64(s, VS_ts_ms + 1, v->ts_ms);
	rc |= sqlite3_bind_blob(s, VS_field_ts + 1, st->field_ts, (int)blob_len, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(s, VS_history_bucket + 1, v->history_bucket);
	rc |= sqlite3_bind_int64(s, VS_odometer_rollbacks + 1, v->odometer_rollbacks);
	rc |= sqlite3_bind_int(s, VS_online + 1, v->online ? 1 : 0);
	rc |= sqlite3_bind_int64(s, VS_status_ts_ms + 1, v->status_ts_ms);
	rc |= sqlite3_bind_int64(s, VS_updated_at + 1, clock_real_ms());
	if (rc != SQLITE_OK)
		return db_fail(st, "binding vehicle_state", v->vin);
	return step_done(st, S_PUT_VEHICLE, "writing vehicle_state", v->vin);
}

static double col_double(sqlite3_stmt *s, int col, uint32_t *has, uint32_t flag)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return 0;
	*has |= flag;
	return sqlite3_column_double(s, col);
}

/* One vehicle_state row back into a struct pw_vehicle, its DTC set interned
 * in `sets`. */
static int row_to_vehicle(struct store *st, sqlite3_stmt *s, struct dtcset_pool *sets,
                          struct pw_vehicle *v)
{
	const char *vin = (const char *)sqlite3_column_text(s, VS_vin);
	struct pw_latest *l;
	const char *ign;

	if (!vin || strlen(vin) != PW_VIN_LEN) {
		log_error("store", "%s: vehicle_state row with a bad vin", st->path);
		return PW_EINVAL;
	}
	state_vehicle_init(v, vin);
	l = &v->latest;
	l->odometer_km = col_double(s, VS_odometer_km, &l->has, PW_F_ODOMETER);
	l->speed_kmh = (float)col_double(s, VS_speed_kmh, &l->has, PW_F_SPEED);
	l->fuel_pct = (float)col_double(s, VS_fuel_pct, &l->has, PW_F_FUEL_PCT);
	l->fuel_l_per_100km = (float)col_double(s, VS_fuel_l_per_100km, &l->has, PW_F_FUEL_RATE);
	l->battery_v = (float)col_double(s, VS_battery_v, &l->has, PW_F_BATTERY);
	l->engine_hours = col_double(s, VS_engine_hours, &l->has, PW_F_ENGINE_HOURS);
	l->heading_deg = (float)col_double(s, VS_heading_deg, &l->has, PW_F_HEADING);
	if (sqlite3_column_type(s, VS_lat) != SQLITE_NULL &&
	    sqlite3_column_type(s, VS_lon) != SQLITE_NULL) {
		l->lat = sqlite3_column_double(s, VS_lat);
		l->lon = sqlite3_column_double(s, VS_lon);
		l->has |= PW_F_POSITION;
	}
	ign = (const char *)sqlite3_column_text(s, VS_ignition);
	if (ign) {
		for (uint8_t k = PW_IGN_OFF; k <= PW_IGN_ON; k++)
			if (strcmp(ign, ignition_names[k]) == 0)
				l->ignition = k;
		if (l->ignition == PW_IGN_UNKNOWN)
			goto bad;
		l->has |= PW_F_IGNITION;
	}
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		struct pw_tire *t = &l->tires[w];
		uint32_t th = 0;
		int c = VS_tire_fl_kpa + 3 * w;

		t->kpa = (float)col_double(s, c + 0, &th, PW_TIRE_KPA);
		t->tread_mm = (float)col_double(s, c + 1, &th, PW_TIRE_TREAD);
		t->temp_c = (float)col_double(s, c + 2, &th, PW_TIRE_TEMP);
		t->has = (uint8_t)th;
		if (th)
			l->has |= PW_F_TIRES;
	}
	if (sqlite3_column_type(s, VS_dtc) != SQLITE_NULL) {
		struct pw_dtc d[PW_DTC_MAX];
		int n = 0;

		if (dtc_parse((const char *)sqlite3_column_text(s, VS_dtc),
		              (size_t)sqlite3_column_bytes(s, VS_dtc), d, &n) != PW_OK)
			goto bad;
		if (n > 0 && dtcset_intern(sets, d, n, &l->dtc) != PW_OK) {
			log_error("store", "%s: out of memory for the DTC set of %s", st->path,
			          vin);
			return PW_ENOMEM;
		}
		l->dtc_count = (uint8_t)n;
		l->has |= PW_F_DTC;
	}
	v->seq_max = sqlite3_column_int64(s, VS_seq_max);
	v->seq_window = (uint64_t)sqlite3_column_int64(s, VS_seq_window);
	v->msg_count = sqlite3_column_int64(s, VS_msg_count);
	v->ts_ms = sqlite3_column_int64(s, VS_ts_ms);
	v->history_bucket = sqlite3_column_int64(s, VS_history_bucket);
	v->odometer_rollbacks = sqlite3_column_int64(s, VS_odometer_rollbacks);
	v->online = sqlite3_column_int(s, VS_online) ? 1 : 0;
	v->status_ts_ms = sqlite3_column_int64(s, VS_status_ts_ms);
	if (sqlite3_column_type(s, VS_field_ts) != SQLITE_NULL &&
	    field_ts_decode(v, sqlite3_column_blob(s, VS_field_ts),
	                    (size_t)sqlite3_column_bytes(s, VS_field_ts)) != PW_OK)
		goto bad;
	l->seq = v->seq_max;
	l->ts_ms = v->ts_ms;
	return PW_OK;
bad:
	log_error("store", "%s: vehicle_state row for %s is malformed", st->path, vin);
	return PW_EINVAL;
}

int store_load_vehicles(struct store *st, struct dtcset_pool *sets,
                        int (*fn)(void *ctx, const struct pw_vehicle *v), void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_LOAD_VEHICLES];
	struct pw_vehicle v;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r = row_to_vehicle(st, s, sets, &v);

		if (r == PW_OK)
			r = fn(ctx, &v);
		if (r != PW_OK) {
			sqlite3_reset(s);
			return r;
		}
	}
	if (rc != SQLITE_DONE)
		db_fail(st, "reading vehicle_state", NULL);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? PW_OK : PW_EIO;
}

/* ---- history and DTC changes ---- */

int store_put_history(struct store *st, const struct pw_telemetry *t, int64_t bucket)
{
	sqlite3_stmt *s = st->stmt[S_PUT_HISTORY];
	int rc = 0;

	rc |= sqlite3_bind_text(s, HIST_vin + 1, t->vin, vin_len(t->vin), SQLITE_STATIC);
	rc |= sqlite3_bind_int64(s, HIST_bucket + 1, bucket);
	rc |= sqlite3_bind_int64(s, HIST_ts_ms + 1, t->ts_ms);
	rc |= BIND_FIELDS(s, t, HIST_odometer_km, HIST_tire_fl_kpa);
	if (rc != SQLITE_OK)
		return db_fail(st, "binding history", t->vin);
	return step_done(st, S_PUT_HISTORY, "writing history", t->vin);
}

int store_put_dtc_change(struct store *st, const char *vin, int64_t ts_ms, const struct pw_dtc *dtc,
                         int count)
{
	sqlite3_stmt *s = st->stmt[S_PUT_DTC];
	int len = 0, rc = 0;
	const char *json = dtc_json(st, dtc, count, &len);

	if (!json) {
		log_error("store", "%s: malformed DTC set for %.17s", st->path, vin);
		return PW_EINVAL;
	}
	rc |= sqlite3_bind_text(s, 1, vin, vin_len(vin), SQLITE_STATIC);
	rc |= sqlite3_bind_int64(s, 2, ts_ms);
	rc |= sqlite3_bind_text(s, 3, json, len, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return db_fail(st, "binding dtc_history", vin);
	return step_done(st, S_PUT_DTC, "writing dtc_history", vin);
}

/* ---- seq gaps ---- */

/* The gap row selected by S_GAP_FIND or S_GAP_NEXT: *found = 1 and its range. */
static int gap_query(struct store *st, enum stmt_id id, const char *vin, int64_t key, int *found,
                     int64_t *lo, int64_t *hi)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc;

	if (sqlite3_bind_text(s, 1, vin, vin_len(vin), SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, key) != SQLITE_OK)
		return db_fail(st, "binding seq_gap", vin);
	rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW) {
		*lo = sqlite3_column_int64(s, 0);
		*hi = sqlite3_column_int64(s, 1);
	} else if (rc != SQLITE_DONE) {
		db_fail(st, "reading seq_gap", vin);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? PW_OK : PW_EIO;
}

/* Runs S_GAP_INSERT (vin, a, b), S_GAP_DELETE (vin, a) or S_GAP_SET_* (vin, a, b). */
static int gap_write(struct store *st, enum stmt_id id, const char *vin, int64_t a, int64_t b)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc = 0;

	rc |= sqlite3_bind_text(s, 1, vin, vin_len(vin), SQLITE_STATIC);
	rc |= sqlite3_bind_int64(s, 2, a);
	if (id != S_GAP_DELETE)
		rc |= sqlite3_bind_int64(s, 3, b);
	if (rc != SQLITE_OK)
		return db_fail(st, "binding seq_gap", vin);
	return step_done(st, id, "writing seq_gap", vin);
}

int store_add_seq_gap(struct store *st, const char *vin, int64_t lo, int64_t hi)
{
	int found, merged = 0;
	int64_t plo, phi, nlo, nhi;

	if (lo < 0 || hi < lo || hi == INT64_MAX)
		return PW_EINVAL;
	/* coalesce with a range ending at lo - 1 or overlapping, then with the
	 * ranges after it that touch: the gaps stay disjoint and few */
	if (gap_query(st, S_GAP_FIND, vin, lo, &found, &plo, &phi) != PW_OK)
		return PW_EIO;
	if (found && phi >= lo - 1) {
		merged = 1;
		lo = plo;
		if (phi > hi)
			hi = phi;
	}
	for (;;) {
		if (gap_query(st, S_GAP_NEXT, vin, lo, &found, &nlo, &nhi) != PW_OK)
			return PW_EIO;
		if (!found || nlo > hi + 1)
			break;
		if (nhi > hi)
			hi = nhi;
		if (gap_write(st, S_GAP_DELETE, vin, nlo, 0) != PW_OK)
			return PW_EIO;
	}
	if (merged)
		return gap_write(st, S_GAP_SET_HI, vin, lo, hi);
	return gap_write(st, S_GAP_INSERT, vin, lo, hi);
}

int store_take_seq_gap(struct store *st, const char *vin, int64_t seq, int *was_gap)
{
	int found;
	int64_t lo, hi;

	*was_gap = 0;
	if (gap_query(st, S_GAP_FIND, vin, seq, &found, &lo, &hi) != PW_OK)
		return PW_EIO;
	if (!found || hi < seq)
		return PW_OK;
	*was_gap = 1;
	if (lo == hi)
		return gap_write(st, S_GAP_DELETE, vin, lo, 0);
	if (seq == lo)
		return gap_write(st, S_GAP_SET_LO, vin, lo, seq + 1);
	if (gap_write(st, S_GAP_SET_HI, vin, lo, seq - 1) != PW_OK)
		return PW_EIO;
	if (seq == hi)
		return PW_OK;
	return gap_write(st, S_GAP_INSERT, vin, seq + 1, hi);
}

/* ---- retention ---- */

int store_purge_positions(struct store *st, int64_t before_ms, int max_rows, int *cleared)
{
	sqlite3_stmt *s = st->stmt[S_PURGE];

	*cleared = 0;
	if (max_rows <= 0)
		return PW_EINVAL;
	if (!sqlite3_get_autocommit(st->db)) {
		log_error("store", "%s: purge called inside a transaction", st->path);
		return PW_EBUSY;
	}
	if (store_begin(st) != PW_OK)
		return PW_EIO;
	if (sqlite3_bind_int64(s, 1, before_ms) != SQLITE_OK ||
	    sqlite3_bind_int(s, 2, max_rows) != SQLITE_OK) {
		db_fail(st, "binding the position purge", NULL);
		goto fail;
	}
	if (step_done(st, S_PURGE, "purging positions", NULL) != PW_OK)
		goto fail;
	*cleared = sqlite3_changes(st->db);
	if (store_commit(st) != PW_OK)
		goto fail;
	return PW_OK;
fail:
	*cleared = 0;
	store_rollback(st);
	return PW_EIO;
}

int store_set_autocheckpoint(struct store *st, int pages)
{
	return sqlite3_wal_autocheckpoint(st->db, pages) == SQLITE_OK ? PW_OK : PW_EIO;
}

int store_checkpoint(struct store *st, int *wal_pages)
{
	int log = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);

	if (wal_pages)
		*wal_pages = log;
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_error("store", "%s: checkpoint: %s", st->path, sqlite3_errmsg(st->db));
		return PW_EIO;
	}
	return PW_OK;
}
