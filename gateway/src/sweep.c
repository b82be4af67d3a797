/*
 * sweep — the date-based rules over every vehicle (see sweep.h).
 *
 * Per vehicle: the dealer row (purchase), its newest first_service or
 * maintenance visit, its newest visit of any kind, its telemetry odometer
 * (vehicle_state), sums over vehicle_day windows, its policies (the latest
 * expiry per policy kind). Each is one indexed, prepared query; the pure
 * rules decide; alerts.c raises and clears. An episode's subject carries
 * what makes it one episode: a maintenance cycle's start date, a policy
 * kind with its expiry, the last visit of a lost customer. So a service
 * visit, a renewed policy or a new visit ends the old episode (cleared
 * here) and the next one starts afresh.
 *
 * Windows (site-local days, today = the day of `now`):
 *   daily km: [today - daily_km_window_days, today - 1], complete days from
 *             the first day with a row: data_days = today - that day;
 *   fuel:     recent [today - recent_days, today - 1], baseline the
 *             baseline_days before it;
 *   profile:  [today - profile_window_days, today - 1];
 *   driven:   km in [today - daily_km_window_days, today] (lost customer).
 * Thread: the owner of the connection.
 */
#include "sweep.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "events.h"
#include "import.h"
#include "log.h"
#include "pw.h"
#include "store.h"

#define EXIT_USAGE       2
#define EXIT_RUNTIME     1
#define NOTIFY_KEEP_DAYS 7
#define CLI_CHUNK        200

enum stmt_id {
	S_VINS,
	S_DEALER,
	S_LAST_SERVICE,
	S_LAST_VISIT,
	S_TELEMETRY,
	S_WINDOW,
	S_POLICIES,
	S_ACTIVE_SUBJECTS,
	S_VISITS_BETWEEN,
	S_PURCHASES_BETWEEN,
	S_LAST_DAY,
	S_SET_DAY,
	S_NOTIFY_PRUNE,
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
    [S_VINS] = "SELECT vin FROM vehicle UNION SELECT vin FROM vehicle_state ORDER BY 1",
    [S_DEALER] = "SELECT purchase_date, purchase_odometer_km, customer_id, brand FROM vehicle "
                 "WHERE vin = ?1",
    [S_LAST_SERVICE] = "SELECT date, odometer_km FROM service_visit WHERE vin = ?1 "
                       "AND kind IN ('first_service', 'maintenance') AND date <= ?2 "
                       "ORDER BY date DESC, odometer_km DESC LIMIT 1",
    [S_LAST_VISIT] = "SELECT date, odometer_km FROM service_visit WHERE vin = ?1 AND date <= ?2 "
                     "ORDER BY date DESC, odometer_km DESC LIMIT 1",
    [S_TELEMETRY] = "SELECT odometer_km, ts_ms FROM vehicle_state "
                    "WHERE vin = ?1 AND odometer_km IS NOT NULL",
    [S_WINDOW] = "SELECT count(*), min(day), total(km), total(km_highway), total(km_congestion), "
                 "total(fuel_l), total(fuel_km) FROM vehicle_day "
                 "WHERE vin = ?1 AND day >= ?2 AND day <= ?3",
    /* one row per policy kind: the policy with the latest expiry (SQLite
     * takes the bare columns from the max() row) */
    [S_POLICIES] = "SELECT kind, policy_id, insurer, max(expiry_date) FROM policy "
                   "WHERE vin = ?1 GROUP BY kind ORDER BY kind",
    [S_ACTIVE_SUBJECTS] = "SELECT subject FROM alert WHERE vin = ?1 AND kind = ?2 AND active = 1",
    [S_VISITS_BETWEEN] = "SELECT service_id, vin, date, kind FROM service_visit "
                         "WHERE date > ?1 AND date <= ?2 ORDER BY date, service_id",
    [S_PURCHASES_BETWEEN] = "SELECT vin, purchase_date FROM vehicle "
                            "WHERE purchase_date > ?1 AND purchase_date <= ?2 "
                            "ORDER BY purchase_date, vin",
    [S_LAST_DAY] = "SELECT last_day FROM sweep_state WHERE id = 1",
    [S_SET_DAY] = "INSERT INTO sweep_state (id, last_day, ran_ms) VALUES (1, ?1, ?2) "
                  "ON CONFLICT (id) DO UPDATE SET last_day = max(last_day, excluded.last_day), "
                  "ran_ms = excluded.ran_ms",
    [S_NOTIFY_PRUNE] = "DELETE FROM notify_sent WHERE day < ?1",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

struct sweep {
	sqlite3 *db;
	sqlite3_stmt *stmt[S__COUNT];
	const struct pw_config *cfg;
	const struct pw_rules_config *r;
	struct alerts *al;
	int tz_offset_s;
	sweep_thresholds_fn thresholds;
	void *thresholds_ctx;
	/* the run */
	int64_t now_ms;
	int32_t today;
	char (*vins)[PW_VIN_LEN + 1];
	size_t n_vins, cap_vins, next;
	int running;
	struct sweep_stats stats;
};

static int db_fail(struct sweep *sw, const char *what, const char *vin)
{
	log_error("sweep", "%s%s%s: %s", what, vin ? " for " : "", vin ? vin : "",
	          sqlite3_errmsg(sw->db));
	return PW_EIO;
}

struct sweep *sweep_open(sqlite3 *db, const struct pw_config *cfg, struct alerts *al)
{
	struct sweep *sw = calloc(1, sizeof(*sw));

	if (!sw)
		return NULL;
	sw->db = db;
	sw->cfg = cfg;
	sw->r = &cfg->rules;
	sw->al = al;
	if (al)
		sw->tz_offset_s = alerts_tz_offset(al);
	else if (import_tz_offset(cfg->site.timezone, &sw->tz_offset_s) != PW_OK) {
		log_error("sweep", "site.timezone %s: no fixed UTC offset known for it",
		          cfg->site.timezone);
		free(sw);
		return NULL;
	}
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &sw->stmt[i],
		                       NULL) != SQLITE_OK) {
			db_fail(sw, "preparing the sweep statements", NULL);
			sweep_close(sw);
			return NULL;
		}
	}
	return sw;
}

void sweep_close(struct sweep *sw)
{
	if (!sw)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(sw->stmt[i]);
	free(sw->vins);
	free(sw);
}

void sweep_set_thresholds_fn(struct sweep *sw, sweep_thresholds_fn fn, void *ctx)
{
	sw->thresholds = fn;
	sw->thresholds_ctx = ctx;
}

void sweep_get_stats(const struct sweep *sw, struct sweep_stats *out)
{
	*out = sw->stats;
}

/* ---- query helpers --------------------------------------------------------------- */

static sqlite3_stmt *prep(struct sweep *sw, enum stmt_id id)
{
	sqlite3_stmt *s = sw->stmt[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
	sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
}

static void bind_day(sqlite3_stmt *s, int i, int32_t day)
{
	char d[16];

	rules_format_date(day, d, sizeof(d));
	sqlite3_bind_text(s, i, d, -1, SQLITE_TRANSIENT);
}

/* A column that must be a date: its day number, or PW_EINVAL. */
static int col_day(sqlite3_stmt *s, int col, int32_t *day)
{
	return rules_parse_date((const char *)sqlite3_column_text(s, col), day);
}

static int exec_stmt(struct sweep *sw, enum stmt_id id, const char *what)
{
	sqlite3_stmt *s = prep(sw, id);
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? PW_OK : db_fail(sw, what, NULL);
}

/* Sums of vehicle_day over [from, to]. *first = the first day with a row. */
static int window(struct sweep *sw, const char *vin, int32_t from, int32_t to,
                  struct rules_window *w, int32_t *first)
{
	sqlite3_stmt *s = prep(sw, S_WINDOW);
	int rc;

	memset(w, 0, sizeof(*w));
	if (first)
		*first = RULES_NO_DAY;
	bind_text(s, 1, vin);
	bind_day(s, 2, from);
	bind_day(s, 3, to);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_fail(sw, "reading vehicle_day", vin);
	}
	w->days = sqlite3_column_int(s, 0);
	if (w->days > 0 && first && col_day(s, 1, first) != PW_OK)
		*first = RULES_NO_DAY;
	w->km = sqlite3_column_double(s, 2);
	w->km_highway = sqlite3_column_double(s, 3);
	w->km_congestion = sqlite3_column_double(s, 4);
	w->fuel_l = sqlite3_column_double(s, 5);
	w->fuel_km = sqlite3_column_double(s, 6);
	sqlite3_reset(s);
	return PW_OK;
}

/* The active subjects of (vin, kind), for clearing those no longer true. */
static int active_subjects(struct sweep *sw, const char *vin, enum pw_alert_kind kind,
                           char subj[][64], int cap, int *n)
{
	sqlite3_stmt *s = prep(sw, S_ACTIVE_SUBJECTS);
	int rc;

	*n = 0;
	bind_text(s, 1, vin);
	bind_text(s, 2, rules_kind_name(kind));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (*n < cap)
			snprintf(subj[(*n)++], 64, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? PW_OK : db_fail(sw, "reading alerts", vin);
}

static int raise_alert(struct sweep *sw, const char *vin, enum pw_alert_kind kind,
                       const char *subject, int level, enum pw_severity sev, json_t *fields,
                       const char *text, long *counter)
{
	struct alerts_raise r = {.vin = vin,
	                         .kind = kind,
	                         .subject = subject,
	                         .level = level,
	                         .severity = sev,
	                         .ts_ms = sw->now_ms,
	                         .fields = fields,
	                         .text = text};
	int emitted = 0;
	int rc = alerts_raise(sw->al, &r, NULL, &emitted);

	if (rc == PW_OK && emitted) {
		sw->stats.events++;
		if (counter)
			(*counter)++;
	}
	return rc;
}

static int clear_except(struct sweep *sw, const char *vin, enum pw_alert_kind kind,
                        const char *keep, const char *note)
{
	char subj[8][64];
	int n, cleared;

	if (active_subjects(sw, vin, kind, subj, 8, &n) != PW_OK)
		return PW_EIO;
	for (int i = 0; i < n; i++) {
		if (keep && strcmp(subj[i], keep) == 0)
			continue;
		if (alerts_clear(sw->al, vin, kind, subj[i], sw->now_ms, note, &cleared) != PW_OK)
			return PW_EIO;
		sw->stats.cleared += cleared;
	}
	return PW_OK;
}

static int set_num(json_t *o, const char *k, double v, double unit)
{
	return json_object_set_new(o, k, json_real(round(v / unit) * unit));
}

static int set_day(json_t *o, const char *k, int32_t day)
{
	char d[16];

	if (day == RULES_NO_DAY)
		return json_object_set_new(o, k, json_null());
	rules_format_date(day, d, sizeof(d));
	return json_object_set_new(o, k, json_string(d));
}

/* ---- one vehicle --------------------------------------------------------------------- */

struct dealer {
	int known;
	int32_t purchase_day;
	double purchase_km;
	char customer_id[64];
	char brand[64];
	int has_visit;
	int32_t visit_day;
	double visit_km;
};

static int read_dealer(struct sweep *sw, const char *vin, struct dealer *d)
{
	sqlite3_stmt *s = prep(sw, S_DEALER);
	int rc;

	memset(d, 0, sizeof(*d));
	bind_text(s, 1, vin);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && col_day(s, 0, &d->purchase_day) == PW_OK) {
		d->known = 1;
		d->purchase_km = sqlite3_column_double(s, 1);
		if (sqlite3_column_text(s, 2))
			snprintf(d->customer_id, sizeof(d->customer_id), "%s",
			         (const char *)sqlite3_column_text(s, 2));
		if (sqlite3_column_text(s, 3))
			snprintf(d->brand, sizeof(d->brand), "%s",
			         (const char *)sqlite3_column_text(s, 3));
	} else if (rc == SQLITE_ROW) {
		log_warn("sweep", "vehicle %s: purchase_date is not a date; skipped", vin);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(sw, "reading vehicle", vin);
	if (!d->known)
		return PW_OK;
	s = prep(sw, S_LAST_VISIT);
	bind_text(s, 1, vin);
	bind_day(s, 2, sw->today);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && col_day(s, 0, &d->visit_day) == PW_OK) {
		d->has_visit = 1;
		d->visit_km = sqlite3_column_double(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? PW_OK
	                                             : db_fail(sw, "reading service_visit", vin);
}

static const char *const daily_source_names[] = {"telemetry", "lifetime", "default"};

/* Gathers the maintenance inputs for `vin` and judges them; the latest
 * odometer is `merged`'s (ingest's vehicle, ahead of its row), or else
 * vehicle_state's (merged NULL). */
static int maintenance_inputs(struct sweep *sw, const char *vin, const struct pw_vehicle *merged,
                              const struct dealer *d, struct rules_maint_verdict *v)
{
	struct rules_maint_input in;
	struct rules_plan plan;
	struct rules_window w;
	sqlite3_stmt *s;
	int32_t first;
	int rc;

	memset(&in, 0, sizeof(in));
	in.today = sw->today;
	in.purchase_day = d->purchase_day;
	in.purchase_odometer_km = d->purchase_km;
	in.has_visit_reading = d->has_visit;
	in.visit_reading_day = d->visit_day;
	in.visit_reading_km = d->visit_km;
	s = prep(sw, S_LAST_SERVICE);
	bind_text(s, 1, vin);
	bind_day(s, 2, sw->today);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && col_day(s, 0, &in.service_day) == PW_OK) {
		in.has_service = 1;
		in.service_odometer_km = sqlite3_column_double(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(sw, "reading service_visit", vin);
	if (merged) {
		/* as S_TELEMETRY would read it once the row is written */
		if (merged->latest.has & PW_F_ODOMETER) {
			in.has_telemetry = 1;
			in.telemetry_km = merged->latest.odometer_km;
			in.telemetry_day = rules_local_day(merged->ts_ms, sw->tz_offset_s);
		}
	} else {
		s = prep(sw, S_TELEMETRY);
		bind_text(s, 1, vin);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			in.has_telemetry = 1;
			in.telemetry_km = sqlite3_column_double(s, 0);
			in.telemetry_day =
			    rules_local_day(sqlite3_column_int64(s, 1), sw->tz_offset_s);
		}
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return db_fail(sw, "reading vehicle_state", vin);
	}
	if (window(sw, vin, sw->today - sw->r->daily_km_window_days, sw->today - 1, &w, &first) !=
	    PW_OK)
		return PW_EIO;
	if (w.days > 0 && first != RULES_NO_DAY) {
		in.data_days = sw->today - first;
		in.window_km = w.km;
	}
	rules_plan_for(sw->r, d->brand, &plan);
	rules_maintenance(sw->r, &plan, &in, v);
	return PW_OK;
}

static int judge_maintenance(struct sweep *sw, const char *vin, const struct pw_vehicle *merged,
                             const struct dealer *d, double *due_km, double *limit_km)
{
	struct rules_maint_verdict v;
	char subject[16], text[EVENTS_TEXT_MAX];
	json_t *f;
	int rc = 0;

	if (maintenance_inputs(sw, vin, merged, d, &v) != PW_OK)
		return PW_EIO;
	*due_km = v.due_km;
	*limit_km = v.limit_km;
	rules_format_date(v.cycle_day, subject, sizeof(subject));
	if (v.state == RULES_MAINT_OK)
		return clear_except(sw, vin, PW_AK_MAINTENANCE, NULL, "not due");
	f = json_object();
	if (!f)
		return PW_ENOMEM;
	rc |= json_object_set_new(f, "cycle",
	                          json_string(v.first_service ? "first_service" : "interval"));
	rc |= json_object_set_new(
	    f, "plan",
	    json_string(rules_plan_for(sw->r, d->brand, &(struct rules_plan){0}) ? d->brand
	                                                                         : "default"));
	rc |= set_day(f, "since", v.cycle_day);
	rc |= json_object_set_new(f, "due_by", json_string(v.due_by_km ? "km" : "date"));
	rc |= set_num(f, "odometer_km", v.odometer_km, 0.1);
	rc |= json_object_set_new(f, "odometer_estimated", json_boolean(v.odometer_estimated));
	rc |= set_num(f, "limit_km", v.limit_km, 0.1);
	rc |= set_num(f, "remaining_km", v.remaining_km, 0.1);
	rc |= set_day(f, "limit_date", v.limit_day);
	rc |= json_object_set_new(f, "days_remaining", json_integer(v.days_remaining));
	rc |= set_day(f, "predicted_date", v.due_day);
	rc |= set_num(f, "daily_km", v.daily_km, 0.1);
	rc |= json_object_set_new(f, "daily_km_source",
	                          json_string(daily_source_names[v.daily_source]));
	if (rc) {
		json_decref(f);
		return PW_ENOMEM;
	}
	events_text_maintenance(
	    text, sizeof(text), v.state == RULES_MAINT_OVERDUE, v.due_by_km, v.remaining_km,
	    v.due_day == RULES_NO_DAY ? v.days_remaining : (int)(v.due_day - sw->today));
	rc = raise_alert(sw, vin, PW_AK_MAINTENANCE, subject, (int)v.state,
	                 v.state == RULES_MAINT_OVERDUE ? PW_SEV_WARNING : PW_SEV_INFO, f, text,
	                 &sw->stats.maintenance);
	json_decref(f);
	if (rc != PW_OK)
		return rc;
	/* an older cycle still open was closed by a service visit */
	return clear_except(sw, vin, PW_AK_MAINTENANCE, subject, "cycle closed by a service visit");
}

static int judge_insurance(struct sweep *sw, const char *vin)
{
	sqlite3_stmt *s = prep(sw, S_POLICIES);
	struct {
		char subject[64], policy_id[64], insurer[128], kind[16], expiry[16];
		struct rules_insurance_verdict v;
	} p[4];
	char keep[4][64];
	char subj[8][64];
	int n = 0, n_keep = 0, n_subj, rc;

	bind_text(s, 1, vin);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < 4) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		const char *id = (const char *)sqlite3_column_text(s, 1);
		const char *insurer = (const char *)sqlite3_column_text(s, 2);
		const char *expiry = (const char *)sqlite3_column_text(s, 3);
		int32_t day;

		if (!kind || !expiry || rules_parse_date(expiry, &day) != PW_OK)
			continue;
		snprintf(p[n].kind, sizeof(p[n].kind), "%s", kind);
		snprintf(p[n].policy_id, sizeof(p[n].policy_id), "%s", id ? id : "");
		snprintf(p[n].insurer, sizeof(p[n].insurer), "%s", insurer ? insurer : "");
		snprintf(p[n].expiry, sizeof(p[n].expiry), "%s", expiry);
		snprintf(p[n].subject, sizeof(p[n].subject), "%s:%s", kind, expiry);
		rules_insurance(sw->r, sw->today, day, &p[n].v);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(sw, "reading policy", vin);
	for (int i = 0; i < n; i++) {
		char text[EVENTS_TEXT_MAX];
		json_t *f;

		if (p[i].v.stage == 0)
			continue;
		memcpy(keep[n_keep++], p[i].subject, sizeof(keep[0]));
		f = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "policy_id", p[i].policy_id,
		              "policy_kind", p[i].kind, "insurer", p[i].insurer, "expiry_date",
		              p[i].expiry, "days_left", p[i].v.days_left, "lead_days",
		              p[i].v.lead_days);
		if (!f)
			return PW_ENOMEM;
		events_text_insurance(text, sizeof(text), p[i].kind, p[i].expiry, p[i].v.days_left);
		rc = raise_alert(sw, vin, PW_AK_INSURANCE, p[i].subject, p[i].v.stage,
		                 p[i].v.severity, f, text, &sw->stats.insurance);
		json_decref(f);
		if (rc != PW_OK)
			return rc;
	}
	/* renewed (a later expiry), or no longer due */
	if (active_subjects(sw, vin, PW_AK_INSURANCE, subj, 8, &n_subj) != PW_OK)
		return PW_EIO;
	for (int i = 0; i < n_subj; i++) {
		int kept = 0, cleared = 0;

		for (int j = 0; j < n_keep; j++)
			kept |= strcmp(subj[i], keep[j]) == 0;
		if (kept)
			continue;
		if (alerts_clear(sw->al, vin, PW_AK_INSURANCE, subj[i], sw->now_ms, "renewed",
		                 &cleared) != PW_OK)
			return PW_EIO;
		sw->stats.cleared += cleared;
	}
	return PW_OK;
}

static int judge_lost_customer(struct sweep *sw, const char *vin, const struct dealer *d)
{
	struct rules_window w;
	int32_t last = d->purchase_day;
	char subject[16];
	json_t *f;
	int rc;

	if (d->has_visit && d->visit_day > last)
		last = d->visit_day;
	if (window(sw, vin, sw->today - sw->r->daily_km_window_days, sw->today, &w, NULL) != PW_OK)
		return PW_EIO;
	if (!rules_lost_customer(sw->r, sw->today, last, w.km))
		return clear_except(sw, vin, PW_AK_LOST_CUSTOMER, NULL,
		                    d->has_visit && d->visit_day == last ? "visited"
		                                                         : "not driven");
	rules_format_date(last, subject, sizeof(subject));
	f = json_object();
	if (!f)
		return PW_ENOMEM;
	rc = 0;
	rc |= d->has_visit ? set_day(f, "last_visit_date", d->visit_day)
	                   : json_object_set_new(f, "last_visit_date", json_null());
	rc |= set_day(f, "purchase_date", d->purchase_day);
	rc |= json_object_set_new(f, "days_since", json_integer(sw->today - last));
	rc |= set_num(f, "recent_km", w.km, 0.1);
	rc |= json_object_set_new(f, "window_days", json_integer(sw->r->daily_km_window_days));
	if (*d->customer_id)
		rc |= json_object_set_new(f, "customer_id", json_string(d->customer_id));
	if (rc) {
		json_decref(f);
		return PW_ENOMEM;
	}
	rc = raise_alert(sw, vin, PW_AK_LOST_CUSTOMER, subject, 1, PW_SEV_INFO, f, NULL,
	                 &sw->stats.lost_customer);
	json_decref(f);
	if (rc != PW_OK)
		return rc;
	return clear_except(sw, vin, PW_AK_LOST_CUSTOMER, subject, "visited");
}

static int judge_fuel(struct sweep *sw, const char *vin)
{
	const struct pw_rules_config *r = sw->r;
	struct rules_window recent, base, prof;
	struct rules_fuel_verdict fv;
	struct rules_profile p;
	int32_t t = sw->today;
	json_t *f;
	int rc;

	if (window(sw, vin, t - r->fuel_recent_days, t - 1, &recent, NULL) != PW_OK ||
	    window(sw, vin, t - r->fuel_recent_days - r->fuel_baseline_days,
	           t - r->fuel_recent_days - 1, &base, NULL) != PW_OK)
		return PW_EIO;
	rules_fuel(r, &recent, &base, &fv);
	if (!fv.judged)
		return PW_OK; /* too little data to say either way */
	if (!fv.anomaly)
		return clear_except(sw, vin, PW_AK_FUEL, NULL, "consumption back to normal");
	if (window(sw, vin, t - r->profile_window_days, t - 1, &prof, NULL) != PW_OK)
		return PW_EIO;
	rules_profile(&prof, &p);
	f = json_object();
	if (!f)
		return PW_ENOMEM;
	rc = 0;
	rc |= set_num(f, "recent_l_per_100km", fv.recent_l_per_100km, 0.01);
	rc |= set_num(f, "baseline_l_per_100km", fv.baseline_l_per_100km, 0.01);
	rc |= set_num(f, "ratio", fv.ratio, 0.001);
	rc |= json_object_set_new(f, "recent_days", json_integer(r->fuel_recent_days));
	rc |= json_object_set_new(f, "baseline_days", json_integer(r->fuel_baseline_days));
	rc |= json_object_set_new(
	    f, "profile",
	    json_pack("{s:i, s:f, s:f, s:f}", "window_days", r->profile_window_days, "km",
	              round(p.km * 10) / 10, "highway_share", round(p.highway_share * 1000) / 1000,
	              "congestion_share", round(p.congestion_share * 1000) / 1000));
	if (rc) {
		json_decref(f);
		return PW_ENOMEM;
	}
	rc = raise_alert(sw, vin, PW_AK_FUEL, "", 1, PW_SEV_WARNING, f, NULL, &sw->stats.fuel);
	json_decref(f);
	return rc;
}

/* Every date rule but follow-ups for one vehicle, as of sw->today. */
static int judge_vehicle(struct sweep *sw, const char *vin)
{
	struct dealer d;
	double due_km = 0, limit_km = 0;
	int rc;

	if (read_dealer(sw, vin, &d) != PW_OK)
		return PW_EIO;
	if (d.known) {
		if ((rc = judge_maintenance(sw, vin, NULL, &d, &due_km, &limit_km)) != PW_OK ||
		    (rc = judge_insurance(sw, vin)) != PW_OK ||
		    (rc = judge_lost_customer(sw, vin, &d)) != PW_OK)
			return rc;
	}
	if ((rc = judge_fuel(sw, vin)) != PW_OK)
		return rc;
	if (sw->thresholds)
		sw->thresholds(sw->thresholds_ctx, vin, due_km, limit_km);
	return PW_OK;
}

static void set_clock(struct sweep *sw, int64_t now_ms)
{
	sw->now_ms = now_ms;
	sw->today = rules_local_day(now_ms, sw->tz_offset_s);
}

int sweep_vehicle(struct sweep *sw, const char *vin, int64_t now_ms)
{
	if (!sw->al)
		return PW_EINVAL;
	set_clock(sw, now_ms);
	return judge_vehicle(sw, vin);
}

int sweep_maintenance_hook(void *ctx, const struct pw_vehicle *v, int64_t now_ms,
                           struct rules_memo *memo)
{
	struct sweep *sw = ctx;
	const char *vin = v->vin;
	struct dealer d;
	double due_km = 0, limit_km = 0;

	if (!sw->al)
		return PW_EINVAL;
	set_clock(sw, now_ms);
	if (read_dealer(sw, vin, &d) != PW_OK)
		return PW_EIO;
	if (d.known && judge_maintenance(sw, vin, v, &d, &due_km, &limit_km) != PW_OK)
		return PW_EIO;
	(void)limit_km; /* the memo derives it: due_km + due_lead_km */
	memo->maint_due_km = (float)due_km;
	return PW_OK;
}

/* ---- follow-ups ------------------------------------------------------------------------ */

static int followups(struct sweep *sw, int32_t last_day)
{
	const struct pw_rules_config *r = sw->r;
	int n_visit = r->followup_after_visit_days, n_buy = r->followup_after_purchase_days;
	struct fu {
		char id[64], vin[PW_VIN_LEN + 1], date[16], kind[16];
	} *list = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc = PW_OK, step;

	/* visits dated (last - N, today - N], then purchases likewise */
	for (int pass = 0; pass < 2; pass++) {
		int after = pass == 0 ? n_visit : n_buy;

		s = prep(sw, pass == 0 ? S_VISITS_BETWEEN : S_PURCHASES_BETWEEN);
		bind_day(s, 1, last_day - after);
		bind_day(s, 2, sw->today - after);
		while ((step = sqlite3_step(s)) == SQLITE_ROW) {
			struct fu *e;

			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct fu *nl = realloc(list, nc * sizeof(*nl));

				if (!nl) {
					rc = PW_ENOMEM;
					break;
				}
				list = nl;
				cap = nc;
			}
			e = &list[n++];
			memset(e, 0, sizeof(*e));
			if (pass == 0) {
				snprintf(e->id, sizeof(e->id), "%s",
				         (const char *)sqlite3_column_text(s, 0));
				snprintf(e->vin, sizeof(e->vin), "%s",
				         (const char *)sqlite3_column_text(s, 1));
				snprintf(e->date, sizeof(e->date), "%s",
				         (const char *)sqlite3_column_text(s, 2));
				snprintf(e->kind, sizeof(e->kind), "%s",
				         (const char *)sqlite3_column_text(s, 3));
			} else {
				snprintf(e->id, sizeof(e->id), "purchase");
				snprintf(e->vin, sizeof(e->vin), "%s",
				         (const char *)sqlite3_column_text(s, 0));
				snprintf(e->date, sizeof(e->date), "%s",
				         (const char *)sqlite3_column_text(s, 1));
			}
		}
		sqlite3_reset(s);
		if (rc != PW_OK)
			goto out;
		if (step != SQLITE_DONE) {
			rc = db_fail(sw, "reading follow-ups", NULL);
			goto out;
		}
	}
	for (size_t i = 0; i < n && rc == PW_OK; i++) {
		struct fu *e = &list[i];
		int purchase = strcmp(e->id, "purchase") == 0 && !*e->kind;
		int32_t day;
		json_t *f;

		if (rules_parse_date(e->date, &day) != PW_OK ||
		    !rules_followup_due(day, purchase ? n_buy : n_visit, last_day, sw->today))
			continue;
		if (purchase)
			f = json_pack("{s:s, s:s}", "reason", "purchase", "purchase_date", e->date);
		else
			f = json_pack("{s:s, s:s, s:s, s:s}", "reason", "service_visit",
			              "service_id", e->id, "visit_date", e->date, "visit_kind",
			              e->kind);
		if (!f) {
			rc = PW_ENOMEM;
			break;
		}
		set_day(f, "due_date", day + (purchase ? n_buy : n_visit));
		rc = raise_alert(sw, e->vin, PW_AK_FOLLOWUP, e->id, 1, PW_SEV_INFO, f, NULL,
		                 &sw->stats.followup);
		json_decref(f);
	}
out:
	free(list);
	return rc;
}

/* ---- runs ------------------------------------------------------------------------------- */

int sweep_judge_maintenance(struct sweep *sw, const char *vin, int64_t now_ms,
                            struct rules_maint_verdict *v, int *known)
{
	struct dealer d;

	set_clock(sw, now_ms);
	*known = 0;
	if (read_dealer(sw, vin, &d) != PW_OK)
		return PW_EIO;
	if (!d.known)
		return PW_OK;
	*known = 1;
	return maintenance_inputs(sw, vin, NULL, &d, v);
}

int sweep_window(struct sweep *sw, const char *vin, int32_t from, int32_t to,
                 struct rules_window *w)
{
	return window(sw, vin, from, to, w, NULL);
}

int sweep_start(struct sweep *sw, int64_t now_ms)
{
	sqlite3_stmt *s;
	int rc;

	if (!sw->al)
		return PW_EINVAL;
	if (!sqlite3_get_autocommit(sw->db))
		return PW_EBUSY;
	set_clock(sw, now_ms);
	memset(&sw->stats, 0, sizeof(sw->stats));
	sw->stats.day = sw->today;
	sw->n_vins = sw->next = 0;
	s = prep(sw, S_VINS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *vin = (const char *)sqlite3_column_text(s, 0);

		if (!vin || strlen(vin) != PW_VIN_LEN)
			continue;
		if (sw->n_vins == sw->cap_vins) {
			size_t nc = sw->cap_vins ? sw->cap_vins * 2 : 1024;
			void *nv = realloc(sw->vins, nc * sizeof(*sw->vins));

			if (!nv) {
				sqlite3_reset(s);
				return PW_ENOMEM;
			}
			sw->vins = nv;
			sw->cap_vins = nc;
		}
		memcpy(sw->vins[sw->n_vins++], vin, PW_VIN_LEN + 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(sw, "listing vehicles", NULL);
	sw->running = 1;
	return PW_OK;
}

/* The day the previous run covered; today - 1 for the first run ever. */
static int last_day(struct sweep *sw, int32_t *day)
{
	sqlite3_stmt *s = prep(sw, S_LAST_DAY);
	int rc = sqlite3_step(s);

	*day = sw->today - 1;
	if (rc == SQLITE_ROW && col_day(s, 0, day) != PW_OK)
		*day = sw->today - 1;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? PW_OK
	                                             : db_fail(sw, "reading sweep_state", NULL);
}

static int finish_run(struct sweep *sw)
{
	sqlite3_stmt *s = prep(sw, S_SET_DAY);

	bind_day(s, 1, sw->today);
	sqlite3_bind_int64(s, 2, sw->now_ms);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_reset(s);
		return db_fail(sw, "writing sweep_state", NULL);
	}
	sqlite3_reset(s);
	s = prep(sw, S_NOTIFY_PRUNE);
	bind_day(s, 1, sw->today - NOTIFY_KEEP_DAYS);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_reset(s);
		return db_fail(sw, "pruning notify_sent", NULL);
	}
	sqlite3_reset(s);
	return PW_OK;
}

/* The snapshot goes with the run: 18 bytes a vehicle not kept all day. */
static void end_run(struct sweep *sw)
{
	sw->running = 0;
	free(sw->vins);
	sw->vins = NULL;
	sw->n_vins = sw->cap_vins = sw->next = 0;
}

int sweep_step(struct sweep *sw, int max_vehicles, int *done)
{
	int rc = PW_OK;
	int32_t last;

	*done = 0;
	if (!sw->running) {
		*done = 1;
		return PW_OK;
	}
	if (exec_stmt(sw, S_BEGIN, "BEGIN (sweep)") != PW_OK)
		return PW_EIO;
	if (sw->next == 0) {
		rc = last_day(sw, &last);
		if (rc == PW_OK && last < sw->today)
			rc = followups(sw, last);
	}
	for (int i = 0; rc == PW_OK && i < max_vehicles && sw->next < sw->n_vins; i++) {
		rc = judge_vehicle(sw, sw->vins[sw->next]);
		if (rc == PW_OK) {
			sw->next++;
			sw->stats.vehicles++;
		}
	}
	if (rc == PW_OK && sw->next >= sw->n_vins)
		rc = finish_run(sw);
	if (rc == PW_OK && exec_stmt(sw, S_COMMIT, "COMMIT (sweep)") == PW_OK) {
		if (sw->next >= sw->n_vins) {
			end_run(sw);
			*done = 1;
		}
		return PW_OK;
	}
	if (!sqlite3_get_autocommit(sw->db))
		exec_stmt(sw, S_ROLLBACK, "ROLLBACK (sweep)");
	end_run(sw);
	*done = 1;
	return rc == PW_OK ? PW_EIO : rc;
}

int sweep_run(struct sweep *sw, int64_t now_ms, struct sweep_stats *stats)
{
	int done = 0, rc = sweep_start(sw, now_ms);

	while (rc == PW_OK && !done)
		rc = sweep_step(sw, CLI_CHUNK, &done);
	if (stats)
		*stats = sw->stats;
	return rc;
}

/* ---- pitwall sweep ------------------------------------------------------------------------ */

struct lines {
	char **v;
	size_t n, cap;
	int failed;
};

static void collect(void *ctx, const char *json)
{
	struct lines *l = ctx;
	char *copy;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;
		char **nv = realloc(l->v, nc * sizeof(*nv));

		if (!nv) {
			l->failed = 1;
			return;
		}
		l->v = nv;
		l->cap = nc;
	}
	copy = strdup(json);
	if (!copy) {
		l->failed = 1;
		return;
	}
	l->v[l->n++] = copy;
}

static void lines_drop(struct lines *l, int print)
{
	for (size_t i = 0; i < l->n; i++) {
		if (print)
			puts(l->v[i]);
		free(l->v[i]);
	}
	l->n = 0;
	if (print)
		fflush(stdout);
}

static const char sweep_usage[] =
    "usage: pitwall sweep [--config FILE] [--db FILE] [--now ISO8601]\n"
    "Runs the date-based reminder sweep once (maintenance, insurance, fuel, lost\n"
    "customers, follow-ups) as of --now (default: the clock) and prints every\n"
    "event it raised as one JSON line. Events also wait in the database's outbox\n"
    "for the gateway to publish.\n";

int sweep_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"db", required_argument, NULL, 'd'},
	                                     {"now", required_argument, NULL, 'n'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *config_path = NULL, *db = NULL, *now = NULL;
	char err[PW_CONFIG_ERR_MAX];
	struct pw_config *cfg = NULL;
	struct store *st = NULL;
	struct events *ev = NULL;
	struct alerts *al = NULL;
	struct sweep *sw = NULL;
	struct lines lines = {0};
	struct sweep_stats stats;
	int64_t now_ms;
	int c, done = 0, rc = EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'n':
			now = optarg;
			break;
		case 'h':
			fputs(sweep_usage, stdout);
			return 0;
		default:
			fputs(sweep_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pitwall sweep: unexpected argument '%s'\n%s", argv[optind],
		        sweep_usage);
		return EXIT_USAGE;
	}
	cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		fprintf(stderr, "pitwall sweep: out of memory\n");
		return EXIT_RUNTIME;
	}
	config_defaults(cfg);
	if (config_path && config_load_file(cfg, config_path, err, sizeof(err)) != PW_OK) {
		fprintf(stderr, "pitwall sweep: %s\n", err);
		goto out;
	}
	if (db && config_set(cfg, "db.path", db, err, sizeof(err)) != PW_OK) {
		fprintf(stderr, "pitwall sweep: --db: %s\n", err);
		goto out;
	}
	if (config_validate(cfg, err, sizeof(err)) != PW_OK) {
		fprintf(stderr, "pitwall sweep: %s\n", err);
		goto out;
	}
	now_ms = clock_real_ms();
	if (now && clock_parse_iso8601(now, &now_ms) != PW_OK) {
		fprintf(stderr,
		        "pitwall sweep: --now: expected ISO 8601 like 2026-11-23, got '%s'\n", now);
		goto out;
	}
	rc = EXIT_RUNTIME;
	st = store_open(cfg->db.path, STORE_READ_WRITE);
	if (!st)
		goto out;
	ev = events_open((sqlite3 *)store_sqlite(st), cfg->site.id);
	al = ev ? alerts_open((sqlite3 *)store_sqlite(st), cfg, ev) : NULL;
	sw = al ? sweep_open((sqlite3 *)store_sqlite(st), cfg, al) : NULL;
	if (!sw) {
		if (ev && !al)
			rc = EXIT_USAGE; /* the site's time zone */
		goto out;
	}
	events_set_tap(ev, collect, &lines);
	if (sweep_start(sw, now_ms) != PW_OK)
		goto out;
	while (!done) {
		if (sweep_step(sw, CLI_CHUNK, &done) != PW_OK || lines.failed) {
			lines_drop(&lines, 0);
			fprintf(stderr,
			        "pitwall sweep: failed on %s; what was printed is committed\n",
			        cfg->db.path);
			goto out;
		}
		lines_drop(&lines, 1); /* committed: now they may be printed */
	}
	sweep_get_stats(sw, &stats);
	{
		char day[16];

		rules_format_date(stats.day, day, sizeof(day));
		fprintf(
		    stderr,
		    "pitwall sweep: %s: %ld vehicles, %ld events (maintenance %ld, insurance %ld, "
		    "fuel %ld, lost_customer %ld, followup %ld), %ld cleared\n",
		    day, stats.vehicles, stats.events, stats.maintenance, stats.insurance,
		    stats.fuel, stats.lost_customer, stats.followup, stats.cleared);
	}
	rc = 0;
out:
	lines_drop(&lines, 0);
	free(lines.v);
	sweep_close(sw);
	alerts_close(al);
	events_close(ev);
	store_close(st);
	free(cfg);
	return rc;
}
