/*
 * brief — a vehicle's health brief (see brief.h for the promises).
 *
 * A handful of prepared, indexed queries per vehicle: the dealer row with
 * its newest visit, the telemetry row, the alerts still being worked on,
 * the latest policy per kind; the maintenance verdict and the vehicle_day
 * windows come from a read-only struct sweep, the levels from rules.c.
 * Numbers are rounded for people (0.1 km, 0.01 l/100km, shares to 0.001).
 */
#include "brief.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "log.h"
#include "pw.h"
#include "rules.h"
#include "sweep.h"

enum stmt_id { S_DEALER, S_STATE, S_LAST_SERVICE, S_ALERTS, S_POLICIES, S__COUNT };

static const char *const stmt_sql[S__COUNT] = {
    [S_DEALER] = "SELECT plate, brand, model, model_year, customer_id FROM vehicle WHERE vin = ?1",
    [S_STATE] = "SELECT odometer_km, ts_ms, online, ignition, battery_v, fuel_pct, dtc, "
                "tire_fl_kpa, tire_fl_tread_mm, tire_fl_temp_c, "
                "tire_fr_kpa, tire_fr_tread_mm, tire_fr_temp_c, "
                "tire_rl_kpa, tire_rl_tread_mm, tire_rl_temp_c, "
                "tire_rr_kpa, tire_rr_tread_mm, tire_rr_temp_c "
                "FROM vehicle_state WHERE vin = ?1",
    [S_LAST_SERVICE] = "SELECT service_id, date, kind, odometer_km FROM service_visit "
                       "WHERE vin = ?1 AND date <= ?2 ORDER BY date DESC, odometer_km DESC LIMIT 1",
    [S_ALERTS] = "SELECT id, kind, type, subject, severity, status, active, opened_ms, detail "
                 "FROM alert WHERE vin = ?1 AND status NOT IN ('resolved', 'dismissed') "
                 "ORDER BY opened_ms DESC, id DESC LIMIT 50",
    [S_POLICIES] = "SELECT kind, policy_id, insurer, max(expiry_date) FROM policy "
                   "WHERE vin = ?1 GROUP BY kind ORDER BY kind",
};

struct brief {
	sqlite3 *db;
	sqlite3_stmt *stmt[S__COUNT];
	const struct pw_config *cfg;
	struct sweep *sw; /* read-only: maintenance verdicts and windows */
	int tz_offset_s;
};

struct brief *brief_open(sqlite3 *db, const struct pw_config *cfg)
{
	struct brief *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->db = db;
	b->cfg = cfg;
	if (import_tz_offset(cfg->site.timezone, &b->tz_offset_s) != PW_OK) {
		log_error("brief", "site.timezone %s: no fixed UTC offset known for it",
		          cfg->site.timezone);
		goto fail;
	}
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &b->stmt[i],
		                       NULL) != SQLITE_OK) {
			log_error("brief", "preparing the brief statements: %s",
			          sqlite3_errmsg(db));
			goto fail;
		}
	}
	b->sw = sweep_open(db, cfg, NULL);
	if (!b->sw)
		goto fail;
	return b;
fail:
	brief_close(b);
	return NULL;
}

void brief_close(struct brief *b)
{
	if (!b)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(b->stmt[i]);
	sweep_close(b->sw);
	free(b);
}

/* ---- JSON helpers ----------------------------------------------------------------------- */

static json_t *num(double v, double unit)
{
	return json_real(round(v / unit) * unit);
}

static json_t *col_num(sqlite3_stmt *s, int col, double unit)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return json_null();
	return num(sqlite3_column_double(s, col), unit);
}

static json_t *col_str(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? json_string((const char *)t) : json_null();
}

static json_t *day_str(int32_t day)
{
	char d[16];

	if (day == RULES_NO_DAY)
		return json_null();
	rules_format_date(day, d, sizeof(d));
	return json_string(d);
}

static const char *level_name(enum pw_severity s)
{
	return s == PW_SEV_NONE ? "ok" : rules_severity_name(s);
}

/* Sets k to v (taking the reference); records an allocation failure in *bad. */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, k, v))
		*bad = 1;
}

static sqlite3_stmt *bind_vin(struct brief *b, enum stmt_id id, const char *vin)
{
	sqlite3_stmt *s = b->stmt[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT);
	return s;
}

/* ---- the parts ------------------------------------------------------------------------------ */

static int part_dealer(struct brief *b, const char *vin, json_t *o, int *known, int *bad)
{
	sqlite3_stmt *s = bind_vin(b, S_DEALER, vin);
	int rc = sqlite3_step(s);

	*known = rc == SQLITE_ROW;
	put(o, "plate", *known ? col_str(s, 0) : json_null(), bad);
	put(o, "brand", *known ? col_str(s, 1) : json_null(), bad);
	put(o, "model", *known ? col_str(s, 2) : json_null(), bad);
	put(o, "model_year", *known ? json_integer(sqlite3_column_int(s, 3)) : json_null(), bad);
	put(o, "customer_id", *known ? col_str(s, 4) : json_null(), bad);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? PW_OK : PW_EIO;
}

static void tyres_and_dtc(struct brief *b, sqlite3_stmt *s, json_t *o, int *bad)
{
	const struct pw_rules_config *r = &b->cfg->rules;
	json_t *tyres = json_object();
	json_t *dtc = json_array();
	const char *text = (const char *)sqlite3_column_text(s, 6);

	for (int w = 0; w < PW_TIRE_COUNT && tyres; w++) {
		int c = 7 + 3 * w;
		json_t *t;

		if (sqlite3_column_type(s, c) == SQLITE_NULL &&
		    sqlite3_column_type(s, c + 1) == SQLITE_NULL &&
		    sqlite3_column_type(s, c + 2) == SQLITE_NULL)
			continue;
		t = json_object();
		if (!t) {
			*bad = 1;
			break;
		}
		put(t, "kpa", col_num(s, c, 0.1), bad);
		put(t, "tread_mm", col_num(s, c + 1, 0.01), bad);
		put(t, "temp_c", col_num(s, c + 2, 0.1), bad);
		put(t, "pressure",
		    sqlite3_column_type(s, c) == SQLITE_NULL
		        ? json_null()
		        : json_string(level_name(
		              rules_tyre_pressure_severity(r, sqlite3_column_double(s, c)))),
		    bad);
		put(t, "tread",
		    sqlite3_column_type(s, c + 1) == SQLITE_NULL
		        ? json_null()
		        : json_string(level_name(
		              rules_tyre_tread_severity(r, sqlite3_column_double(s, c + 1)))),
		    bad);
		put(tyres, rules_wheel_name(w), t, bad);
	}
	put(o, "tyres", tyres, bad);
	/* the stored set is [{"code","status","mil"}]: add each code's level */
	if (text && dtc) {
		json_t *set = json_loads(text, 0, NULL);
		size_t i;
		json_t *e;

		json_array_foreach(set, i, e)
		{
			const char *st = json_string_value(json_object_get(e, "status"));
			int status = !st                            ? 0
			             : strcmp(st, "pending") == 0   ? PW_DTC_PENDING
			             : strcmp(st, "confirmed") == 0 ? PW_DTC_CONFIRMED
			                                            : PW_DTC_PERMANENT;
			json_t *copy = json_deep_copy(e);

			if (!copy || json_object_set_new(
			                 copy, "severity",
			                 json_string(rules_severity_name(rules_dtc_severity(
			                     status, json_is_true(json_object_get(e, "mil"))))))) {
				json_decref(copy);
				*bad = 1;
				continue;
			}
			json_array_append_new(dtc, copy);
		}
		json_decref(set);
	}
	put(o, "dtc", dtc, bad);
}

static int part_state(struct brief *b, const char *vin, json_t *o, int *seen, double *odo,
                      int32_t *odo_day, int *bad)
{
	sqlite3_stmt *s = bind_vin(b, S_STATE, vin);
	int rc = sqlite3_step(s);

	*seen = rc == SQLITE_ROW;
	*odo = -1;
	if (!*seen) {
		static const char *const none[] = {"odometer_km", "seen_ts",  "online", "ignition",
		                                   "battery_v",   "fuel_pct", "tyres"};

		for (size_t i = 0; i < PW_ARRAY_LEN(none); i++)
			put(o, none[i], json_null(), bad);
		put(o, "dtc", json_array(), bad);
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? PW_OK : PW_EIO;
	}
	if (sqlite3_column_type(s, 0) != SQLITE_NULL) {
		*odo = sqlite3_column_double(s, 0);
		*odo_day = rules_local_day(sqlite3_column_int64(s, 1), b->tz_offset_s);
	}
	put(o, "odometer_km", col_num(s, 0, 0.1), bad);
	put(o, "seen_ts",
	    sqlite3_column_int64(s, 1) ? json_integer(sqlite3_column_int64(s, 1)) : json_null(),
	    bad);
	put(o, "online", json_boolean(sqlite3_column_int(s, 2)), bad);
	put(o, "ignition", col_str(s, 3), bad);
	put(o, "battery_v", col_num(s, 4, 0.01), bad);
	put(o, "fuel_pct", col_num(s, 5, 0.1), bad);
	tyres_and_dtc(b, s, o, bad);
	sqlite3_reset(s);
	return PW_OK;
}

static int part_service(struct brief *b, const char *vin, int64_t now_ms, double odo,
                        int32_t odo_day, json_t *o, int *bad)
{
	int32_t today = rules_local_day(now_ms, b->tz_offset_s);
	sqlite3_stmt *s = bind_vin(b, S_LAST_SERVICE, vin);
	char d[16];
	struct rules_maint_verdict v;
	int rc, known = 0;

	rules_format_date(today, d, sizeof(d));
	sqlite3_bind_text(s, 2, d, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		json_t *ls = json_object();
		int32_t day = today;
		double km = sqlite3_column_double(s, 3);

		if (!ls)
			*bad = 1;
		else {
			put(ls, "service_id", col_str(s, 0), bad);
			put(ls, "date", col_str(s, 1), bad);
			put(ls, "kind", col_str(s, 2), bad);
			put(ls, "odometer_km", num(km, 0.1), bad);
			put(o, "last_service", ls, bad);
		}
		rules_parse_date((const char *)sqlite3_column_text(s, 1), &day);
		put(o, "days_since_service", json_integer(today - day), bad);
		put(o, "km_since_service",
		    odo >= 0 && odo_day >= day ? num(odo - km, 0.1) : json_null(), bad);
	} else {
		put(o, "last_service", json_null(), bad);
		put(o, "days_since_service", json_null(), bad);
		put(o, "km_since_service", json_null(), bad);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return PW_EIO;
	if (sweep_judge_maintenance(b->sw, vin, now_ms, &v, &known) != PW_OK)
		return PW_EIO;
	if (!known) {
		put(o, "maintenance", json_null(), bad);
		return PW_OK;
	}
	{
		static const char *const states[] = {"ok", "due", "overdue"};
		static const char *const sources[] = {"telemetry", "lifetime", "default"};
		json_t *m = json_object();

		if (!m) {
			*bad = 1;
			return PW_OK;
		}
		put(m, "state", json_string(states[v.state]), bad);
		put(m, "cycle", json_string(v.first_service ? "first_service" : "interval"), bad);
		put(m, "limit_km", num(v.limit_km, 0.1), bad);
		put(m, "limit_date", day_str(v.limit_day), bad);
		put(m, "remaining_km", num(v.remaining_km, 0.1), bad);
		put(m, "days_remaining", json_integer(v.days_remaining), bad);
		put(m, "predicted_date", day_str(v.due_day), bad);
		put(m, "odometer_km", num(v.odometer_km, 0.1), bad);
		put(m, "odometer_estimated", json_boolean(v.odometer_estimated), bad);
		put(m, "daily_km", num(v.daily_km, 0.1), bad);
		put(m, "daily_km_source", json_string(sources[v.daily_source]), bad);
		put(o, "maintenance", m, bad);
	}
	return PW_OK;
}

static int part_alerts(struct brief *b, const char *vin, json_t *o, int *bad)
{
	sqlite3_stmt *s = bind_vin(b, S_ALERTS, vin);
	json_t *arr = json_array();
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW && arr) {
		json_t *a = json_object();
		const char *detail = (const char *)sqlite3_column_text(s, 8);
		json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;

		if (!a) {
			json_decref(d);
			*bad = 1;
			break;
		}
		put(a, "id", json_integer(sqlite3_column_int64(s, 0)), bad);
		put(a, "kind", col_str(s, 1), bad);
		put(a, "type", col_str(s, 2), bad);
		put(a, "subject", col_str(s, 3), bad);
		put(a, "severity", col_str(s, 4), bad);
		put(a, "status", col_str(s, 5), bad);
		put(a, "active", json_boolean(sqlite3_column_int(s, 6)), bad);
		put(a, "opened_ts", json_integer(sqlite3_column_int64(s, 7)), bad);
		put(a, "detail", d ? d : json_object(), bad);
		if (json_array_append_new(arr, a))
			*bad = 1;
	}
	sqlite3_reset(s);
	put(o, "alerts", arr, bad);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? PW_OK : PW_EIO;
}

static int part_driving(struct brief *b, const char *vin, int64_t now_ms, json_t *o, int *bad)
{
	const struct pw_rules_config *r = &b->cfg->rules;
	int32_t t = rules_local_day(now_ms, b->tz_offset_s);
	struct rules_window recent, base, prof;
	struct rules_fuel_verdict fv;
	struct rules_profile p;
	json_t *j;

	if (sweep_window(b->sw, vin, t - r->fuel_recent_days, t - 1, &recent) != PW_OK ||
	    sweep_window(b->sw, vin, t - r->fuel_recent_days - r->fuel_baseline_days,
	                 t - r->fuel_recent_days - 1, &base) != PW_OK ||
	    sweep_window(b->sw, vin, t - r->profile_window_days, t - 1, &prof) != PW_OK)
		return PW_EIO;
	rules_fuel(r, &recent, &base, &fv);
	if (fv.judged) {
		j = json_object();
		if (j) {
			put(j, "recent_l_per_100km", num(fv.recent_l_per_100km, 0.01), bad);
			put(j, "baseline_l_per_100km", num(fv.baseline_l_per_100km, 0.01), bad);
			put(j, "ratio", num(fv.ratio, 0.001), bad);
			put(j, "anomaly", json_boolean(fv.anomaly), bad);
		}
		put(o, "fuel", j, bad);
	} else {
		put(o, "fuel", json_null(), bad);
	}
	rules_profile(&prof, &p);
	j = json_object();
	if (j) {
		put(j, "window_days", json_integer(r->profile_window_days), bad);
		put(j, "km", num(p.km, 0.1), bad);
		put(j, "highway_share", num(p.highway_share, 0.001), bad);
		put(j, "congestion_share", num(p.congestion_share, 0.001), bad);
	}
	put(o, "profile", j, bad);
	return PW_OK;
}

static int part_insurance(struct brief *b, const char *vin, int64_t now_ms, json_t *o, int *bad)
{
	int32_t today = rules_local_day(now_ms, b->tz_offset_s);
	sqlite3_stmt *s = bind_vin(b, S_POLICIES, vin);
	json_t *arr = json_array();
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW && arr) {
		json_t *p = json_object();
		int32_t day;

		if (!p) {
			*bad = 1;
			break;
		}
		put(p, "policy_kind", col_str(s, 0), bad);
		put(p, "policy_id", col_str(s, 1), bad);
		put(p, "insurer", col_str(s, 2), bad);
		put(p, "expiry_date", col_str(s, 3), bad);
		put(p, "days_left",
		    rules_parse_date((const char *)sqlite3_column_text(s, 3), &day) == PW_OK
		        ? json_integer(day - today)
		        : json_null(),
		    bad);
		if (json_array_append_new(arr, p))
			*bad = 1;
	}
	sqlite3_reset(s);
	put(o, "insurance", arr, bad);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? PW_OK : PW_EIO;
}

int brief_vehicle(struct brief *b, const char *vin, int64_t now_ms, json_t **out)
{
	json_t *o = json_object();
	int known = 0, seen = 0, bad = 0, rc;
	double odo = -1;
	int32_t odo_day = 0;

	*out = NULL;
	if (!o)
		return PW_ENOMEM;
	put(o, "vin", json_string(vin), &bad);
	if ((rc = part_dealer(b, vin, o, &known, &bad)) != PW_OK ||
	    (rc = part_state(b, vin, o, &seen, &odo, &odo_day, &bad)) != PW_OK)
		goto fail;
	if (!known && !seen) {
		json_decref(o);
		return PW_ENOTFOUND;
	}
	if ((rc = part_service(b, vin, now_ms, odo, odo_day, o, &bad)) != PW_OK ||
	    (rc = part_alerts(b, vin, o, &bad)) != PW_OK ||
	    (rc = part_driving(b, vin, now_ms, o, &bad)) != PW_OK ||
	    (rc = part_insurance(b, vin, now_ms, o, &bad)) != PW_OK)
		goto fail;
	if (bad) {
		json_decref(o);
		return PW_ENOMEM;
	}
	*out = o;
	return PW_OK;
fail:
	log_error("brief", "%s: reading the brief: %s", vin, sqlite3_errmsg(b->db));
	json_decref(o);
	return PW_EIO;
}
