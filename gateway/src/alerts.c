/*
 * alerts — the alert lifecycle (see alerts.h for the promises).
 *
 * The partial unique index alert_episode (vin, kind, subject) WHERE active
 * is the "one alert per episode" rule in the database itself; every change
 * here first looks the active row up, so a second raiser (the core and a
 * sweep both raise maintenance) finds it and only escalates or does nothing.
 *
 * alerts_on_telemetry() turns rules_eval()'s verdict into rows: the verdict
 * (struct rules_verdict, a few KiB) lives in the struct, not on the stack,
 * and is empty for almost every object. Event fields are built with Jansson
 * only when something is raised. Thread: the owner of the connection.
 */
#include "alerts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "log.h"
#include "pw.h"

#define SYSTEM "system"

enum stmt_id {
	S_FIND,
	S_INSERT,
	S_ESCALATE,
	S_CLEAR,
	S_LOG,
	S_GET,
	S_SET_STATUS,
	S_ACTIVE_OF_KIND,
	S_MEMO_LOAD,
	S_DAY_PUT,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
    [S_FIND] = "SELECT id, level, status, events FROM alert "
               "WHERE vin = ?1 AND kind = ?2 AND subject = ?3 AND active = 1",
    [S_INSERT] = "INSERT INTO alert (vin, kind, subject, type, severity, level, status, active, "
                 "opened_ms, updated_ms, events, detail) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', 1, ?7, ?7, 1, ?8)",
    [S_ESCALATE] = "UPDATE alert SET type = ?2, severity = ?3, level = ?4, status = ?5, "
                   "updated_ms = ?6, events = events + 1, detail = ?7 WHERE id = ?1",
    [S_CLEAR] = "UPDATE alert SET active = 0, cleared_ms = ?2, updated_ms = ?2, status = ?3 "
                "WHERE id = ?1",
    [S_LOG] = "INSERT INTO alert_log (alert_id, ts_ms, actor, action, status, note) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_GET] = "SELECT status FROM alert WHERE id = ?1",
    [S_SET_STATUS] = "UPDATE alert SET status = ?2, updated_ms = ?3 WHERE id = ?1",
    [S_ACTIVE_OF_KIND] = "SELECT subject FROM alert WHERE vin = ?1 AND kind = ?2 AND active = 1",
    [S_MEMO_LOAD] = "SELECT vin, kind, subject, level, json_extract(detail, '$.reason') "
                    "FROM alert WHERE active = 1 AND kind IN "
                    "('tyre_pressure', 'tyre_tread', 'battery', 'odometer')",
    [S_DAY_PUT] = "INSERT INTO vehicle_day (vin, day, km, km_highway, km_congestion, fuel_l, "
                  "fuel_km) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                  "ON CONFLICT (vin, day) DO UPDATE SET km = km + excluded.km, "
                  "km_highway = km_highway + excluded.km_highway, "
                  "km_congestion = km_congestion + excluded.km_congestion, "
                  "fuel_l = fuel_l + excluded.fuel_l, fuel_km = fuel_km + excluded.fuel_km",
};

struct alerts {
	sqlite3 *db;
	sqlite3_stmt *stmt[S__COUNT];
	const struct pw_config *cfg;
	struct events *ev;
	int tz_offset_s;
	alerts_maintenance_fn maint_fn;
	void *maint_ctx;
	struct rules_verdict verdict; /* per object, reused */
};

static int db_fail(struct alerts *a, const char *what, const char *vin)
{
	log_error("alerts", "%s%s%s: %s", what, vin ? " for " : "", vin ? vin : "",
	          sqlite3_errmsg(a->db));
	return PW_EIO;
}

struct alerts *alerts_open(sqlite3 *db, const struct pw_config *cfg, struct events *ev)
{
	struct alerts *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->db = db;
	a->cfg = cfg;
	a->ev = ev;
	if (import_tz_offset(cfg->site.timezone, &a->tz_offset_s) != PW_OK) {
		log_error("alerts", "site.timezone %s: no fixed UTC offset known for it",
		          cfg->site.timezone);
		free(a);
		return NULL;
	}
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &a->stmt[i],
		                       NULL) != SQLITE_OK) {
			db_fail(a, "preparing the alert statements", NULL);
			alerts_close(a);
			return NULL;
		}
	}
	return a;
}

void alerts_close(struct alerts *a)
{
	if (!a)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(a->stmt[i]);
	free(a);
}

int alerts_tz_offset(const struct alerts *a)
{
	return a->tz_offset_s;
}

void alerts_set_maintenance_hook(struct alerts *a, alerts_maintenance_fn fn, void *ctx)
{
	a->maint_fn = fn;
	a->maint_ctx = ctx;
}

/* ---- small SQL helpers -------------------------------------------------------- */

static int finish(struct alerts *a, sqlite3_stmt *s, int rc, const char *what, const char *vin)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return db_fail(a, what, vin);
	return PW_OK;
}

static int bind_text(sqlite3_stmt *s, int i, const char *t)
{
	return sqlite3_bind_text(s, i, t ? t : "", -1, SQLITE_TRANSIENT);
}

static int add_log(struct alerts *a, int64_t id, int64_t ts_ms, const char *actor,
                   const char *action, const char *status, const char *note)
{
	sqlite3_stmt *s = a->stmt[S_LOG];
	int rc = 0;

	rc |= sqlite3_bind_int64(s, 1, id);
	rc |= sqlite3_bind_int64(s, 2, ts_ms);
	rc |= bind_text(s, 3, actor);
	rc |= bind_text(s, 4, action);
	rc |= bind_text(s, 5, status);
	rc |= bind_text(s, 6, note);
	if (rc != SQLITE_OK) {
		sqlite3_reset(s);
		return db_fail(a, "binding alert_log", NULL);
	}
	return finish(a, s, sqlite3_step(s), "writing alert_log", NULL);
}

struct found {
	int found;
	int64_t id;
	int level;
	char status[16];
	int events;
};

static int find_active(struct alerts *a, const char *vin, enum pw_alert_kind kind,
                       const char *subject, struct found *f)
{
	sqlite3_stmt *s = a->stmt[S_FIND];
	int rc = 0;

	memset(f, 0, sizeof(*f));
	rc |= bind_text(s, 1, vin);
	rc |= bind_text(s, 2, rules_kind_name(kind));
	rc |= bind_text(s, 3, subject);
	if (rc != SQLITE_OK) {
		sqlite3_reset(s);
		return db_fail(a, "binding an alert lookup", vin);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *st = (const char *)sqlite3_column_text(s, 2);

		f->found = 1;
		f->id = sqlite3_column_int64(s, 0);
		f->level = sqlite3_column_int(s, 1);
		snprintf(f->status, sizeof(f->status), "%s", st ? st : "open");
		f->events = sqlite3_column_int(s, 3);
		rc = SQLITE_DONE;
	}
	return finish(a, s, rc, "reading alert", vin);
}

static int is_closed(const char *status)
{
	return strcmp(status, "resolved") == 0 || strcmp(status, "dismissed") == 0;
}

/* ---- raise, clear, set_status -------------------------------------------------- */

int alerts_raise(struct alerts *a, const struct alerts_raise *r, int64_t *alert_id, int *emitted)
{
	struct found f;
	const char *type = rules_kind_type(r->kind, r->level);
	const char *sev = rules_severity_name(r->severity);
	char *detail = NULL;
	sqlite3_stmt *s;
	int64_t id;
	int seq, rc = 0;
	struct events_item item;

	if (emitted)
		*emitted = 0;
	if (find_active(a, r->vin, r->kind, r->subject, &f) != PW_OK)
		return PW_EIO;
	if (alert_id)
		*alert_id = f.found ? f.id : 0;
	if (f.found && r->level <= f.level)
		return PW_OK; /* the same episode, no higher: nothing new */
	detail = r->fields ? json_dumps(r->fields, JSON_COMPACT | JSON_PRESERVE_ORDER |
	                                               JSON_REAL_PRECISION(12))
	                   : NULL;
	if (f.found) {
		const char *status = is_closed(f.status) ? "open" : f.status;

		s = a->stmt[S_ESCALATE];
		rc |= sqlite3_bind_int64(s, 1, f.id);
		rc |= bind_text(s, 2, type);
		rc |= bind_text(s, 3, sev);
		rc |= sqlite3_bind_int(s, 4, r->level);
		rc |= bind_text(s, 5, status);
		rc |= sqlite3_bind_int64(s, 6, r->ts_ms);
		rc |= bind_text(s, 7, detail ? detail : "{}");
		if (rc != SQLITE_OK || finish(a, s, sqlite3_step(s), "escalating alert", r->vin))
			goto fail;
		id = f.id;
		seq = f.events + 1;
		if (add_log(a, id, r->ts_ms, SYSTEM, "escalated", status, type) != PW_OK)
			goto fail;
	} else {
		s = a->stmt[S_INSERT];
		rc |= bind_text(s, 1, r->vin);
		rc |= bind_text(s, 2, rules_kind_name(r->kind));
		rc |= bind_text(s, 3, r->subject);
		rc |= bind_text(s, 4, type);
		rc |= bind_text(s, 5, sev);
		rc |= sqlite3_bind_int(s, 6, r->level);
		rc |= sqlite3_bind_int64(s, 7, r->ts_ms);
		rc |= bind_text(s, 8, detail ? detail : "{}");
		if (rc != SQLITE_OK || finish(a, s, sqlite3_step(s), "opening alert", r->vin))
			goto fail;
		id = sqlite3_last_insert_rowid(a->db);
		seq = 1;
		if (add_log(a, id, r->ts_ms, SYSTEM, "opened", "open", type) != PW_OK)
			goto fail;
	}
	free(detail);
	detail = NULL;
	item = (struct events_item){
	    .vin = r->vin,
	    .type = type,
	    .severity = r->severity,
	    .ts_ms = r->ts_ms,
	    .alert_id = id,
	    .seq = seq,
	    .fields = r->fields,
	    .notify = events_notify_kind(r->kind, r->severity),
	    .text = r->text,
	    .notify_day = rules_local_day(r->ts_ms, a->tz_offset_s),
	};
	if (events_emit(a->ev, &item, NULL) != PW_OK)
		return PW_EIO;
	if (alert_id)
		*alert_id = id;
	if (emitted)
		*emitted = 1;
	return PW_OK;
fail:
	free(detail);
	return PW_EIO;
}

static int clear_one(struct alerts *a, const struct found *f, enum pw_alert_kind kind,
                     int64_t ts_ms, const char *note)
{
	sqlite3_stmt *s = a->stmt[S_CLEAR];
	const char *status = f->status;
	int rc = 0;

	if (!is_closed(status) && kind != PW_AK_ODOMETER)
		status = "resolved";
	rc |= sqlite3_bind_int64(s, 1, f->id);
	rc |= sqlite3_bind_int64(s, 2, ts_ms);
	rc |= bind_text(s, 3, status);
	if (rc != SQLITE_OK || finish(a, s, sqlite3_step(s), "clearing alert", NULL))
		return PW_EIO;
	return add_log(a, f->id, ts_ms, SYSTEM, "cleared", status, note);
}

int alerts_clear(struct alerts *a, const char *vin, enum pw_alert_kind kind, const char *subject,
                 int64_t ts_ms, const char *note, int *cleared)
{
	struct found f;

	if (cleared)
		*cleared = 0;
	if (find_active(a, vin, kind, subject, &f) != PW_OK)
		return PW_EIO;
	if (!f.found)
		return PW_OK;
	if (clear_one(a, &f, kind, ts_ms, note) != PW_OK)
		return PW_EIO;
	if (cleared)
		*cleared = 1;
	return PW_OK;
}

int alerts_clear_others(struct alerts *a, const char *vin, enum pw_alert_kind kind,
                        const char *keep, int64_t ts_ms, const char *note)
{
	sqlite3_stmt *s = a->stmt[S_ACTIVE_OF_KIND];
	char subjects[8][64];
	int n = 0, rc;

	/* few per vehicle: collect, then clear (no writes while the read is open) */
	if (bind_text(s, 1, vin) != SQLITE_OK ||
	    bind_text(s, 2, rules_kind_name(kind)) != SQLITE_OK) {
		sqlite3_reset(s);
		return db_fail(a, "binding an alert lookup", vin);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *subj = (const char *)sqlite3_column_text(s, 0);

		if (!subj || (keep && strcmp(subj, keep) == 0))
			continue;
		if (n < (int)PW_ARRAY_LEN(subjects))
			snprintf(subjects[n++], sizeof(subjects[0]), "%s", subj);
	}
	if (finish(a, s, rc, "reading alerts", vin) != PW_OK)
		return PW_EIO;
	for (int i = 0; i < n; i++)
		if (alerts_clear(a, vin, kind, subjects[i], ts_ms, note, NULL) != PW_OK)
			return PW_EIO;
	return PW_OK;
}

int alerts_set_status(struct alerts *a, int64_t id, const char *status, const char *actor,
                      const char *note, int64_t now_ms)
{
	static const char *const allowed[] = {"acknowledged", "contacted", "booked", "resolved",
	                                      "dismissed"};
	sqlite3_stmt *s = a->stmt[S_GET];
	char current[16] = "";
	int ok = 0, rc;

	for (size_t i = 0; i < PW_ARRAY_LEN(allowed); i++)
		ok |= status && strcmp(status, allowed[i]) == 0;
	if (!ok || !actor || !*actor || strcmp(actor, SYSTEM) == 0)
		return PW_EINVAL;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(current, sizeof(current), "%s", (const char *)sqlite3_column_text(s, 0));
		rc = SQLITE_DONE;
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return PW_ENOTFOUND;
	}
	if (finish(a, s, rc, "reading alert", NULL) != PW_OK)
		return PW_EIO;
	if (is_closed(current))
		return PW_EEXIST;
	s = a->stmt[S_SET_STATUS];
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK || bind_text(s, 2, status) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, now_ms) != SQLITE_OK ||
	    finish(a, s, sqlite3_step(s), "updating alert", NULL) != PW_OK)
		return PW_EIO;
	return add_log(a, id, now_ms, actor, status, status, note);
}

/* ---- the per-object hook ---------------------------------------------------------- */

static double round_to(double v, double unit)
{
	return round(v / unit) * unit;
}

static int set_num(json_t *o, const char *k, double v, double unit)
{
	return json_object_set_new(o, k, json_real(round_to(v, unit)));
}

/* Raises or clears what one action says, with its event fields and text. */
static int act(struct alerts *a, const char *vin, int64_t ts_ms, const struct rules_action *x)
{
	const struct pw_rules_config *r = &a->cfg->rules;
	char subject[8] = "", text[EVENTS_TEXT_MAX] = "";
	json_t *f;
	int rc;
	struct alerts_raise rr;

	if (x->kind == PW_AK_TYRE_PRESSURE || x->kind == PW_AK_TYRE_TREAD)
		snprintf(subject, sizeof(subject), "%s", rules_wheel_name(x->wheel));
	else if (x->kind == PW_AK_FAULT)
		snprintf(subject, sizeof(subject), "%s", x->code);
	if (x->op == RULES_CLEAR)
		return alerts_clear(a, vin, (enum pw_alert_kind)x->kind, subject, ts_ms,
		                    "condition cleared", NULL);
	f = json_object();
	if (!f)
		return PW_ENOMEM;
	rc = 0;
	switch (x->kind) {
	case PW_AK_TYRE_PRESSURE:
		rc |= json_object_set_new(f, "wheel", json_string(subject));
		rc |= json_object_set_new(
		    f, "reason",
		    json_string(x->reason == RULES_TYRE_SLOW_LEAK ? "slow_leak" : "low"));
		rc |= set_num(f, "kpa", x->value, 0.1);
		rc |= set_num(f, "placard_kpa", r->tyre_placard_kpa, 0.1);
		if (!isnan(x->temp_c))
			rc |= set_num(f, "temp_c", x->temp_c, 0.1);
		if (x->ref > 0) {
			rc |= set_num(f, "from_kpa", x->ref, 0.1);
			rc |= set_num(f, "drop_kpa", x->ref - x->value, 0.1);
			rc |= set_num(f, "within_h", x->window_h, 0.01);
		}
		events_text_tyre_pressure(text, sizeof(text), x->wheel, x->value,
		                          x->reason == RULES_TYRE_SLOW_LEAK);
		break;
	case PW_AK_TYRE_TREAD:
		rc |= json_object_set_new(f, "wheel", json_string(subject));
		rc |= set_num(f, "tread_mm", x->value, 0.01);
		rc |= set_num(f, "warn_mm", r->tread_warn_mm, 0.01);
		rc |= set_num(f, "critical_mm", r->tread_critical_mm, 0.01);
		events_text_tyre_tread(text, sizeof(text), x->wheel, x->value);
		break;
	case PW_AK_BATTERY:
		rc |= set_num(f, "battery_v", x->value, 0.01);
		rc |= json_object_set_new(f, "ignition", json_string("off"));
		break;
	case PW_AK_FAULT: {
		static const char *const st[] = {"", "pending", "confirmed", "permanent"};

		rc |= json_object_set_new(f, "code", json_string(subject));
		rc |= json_object_set_new(f, "status",
		                          json_string(x->status <= 3 ? st[x->status] : ""));
		rc |= json_object_set_new(f, "mil", json_boolean(x->mil));
		events_text_fault(text, sizeof(text), subject, x->mil);
		break;
	}
	case PW_AK_ODOMETER:
		rc |= set_num(f, "odometer_km", x->ref, 0.1);
		rc |= set_num(f, "reported_km", x->value, 0.1);
		break;
	default:
		break;
	}
	if (rc) {
		json_decref(f);
		return PW_ENOMEM;
	}
	rr = (struct alerts_raise){.vin = vin,
	                           .kind = (enum pw_alert_kind)x->kind,
	                           .subject = subject,
	                           .level = x->severity,
	                           .severity = (enum pw_severity)x->severity,
	                           .ts_ms = ts_ms,
	                           .fields = f,
	                           .text = text};
	rc = alerts_raise(a, &rr, NULL, NULL);
	json_decref(f);
	return rc;
}

int alerts_put_day(struct alerts *a, const char *vin, const struct rules_day *d)
{
	sqlite3_stmt *s = a->stmt[S_DAY_PUT];
	char date[16];
	int rc = 0;

	rules_format_date(d->day, date, sizeof(date));
	rc |= bind_text(s, 1, vin);
	rc |= bind_text(s, 2, date);
	rc |= sqlite3_bind_double(s, 3, d->km);
	rc |= sqlite3_bind_double(s, 4, d->km_highway);
	rc |= sqlite3_bind_double(s, 5, d->km_congestion);
	rc |= sqlite3_bind_double(s, 6, d->fuel_l);
	rc |= sqlite3_bind_double(s, 7, d->fuel_km);
	if (rc != SQLITE_OK) {
		sqlite3_reset(s);
		return db_fail(a, "binding vehicle_day", vin);
	}
	return finish(a, s, sqlite3_step(s), "writing vehicle_day", vin);
}

int alerts_on_telemetry(struct alerts *a, const struct pw_vehicle *cur, struct pw_vehicle *next,
                        const struct pw_telemetry *t, int late, int rollback, int dtc_changed,
                        int history_due)
{
	struct rules_verdict *v = &a->verdict;
	struct rules_input in = {.before = cur ? &cur->latest : NULL,
	                         .after = &next->latest,
	                         .obj = t,
	                         .late = late,
	                         .rollback = rollback,
	                         .dtc_changed = dtc_changed,
	                         .history_due = history_due,
	                         .tz_offset_s = a->tz_offset_s};

	rules_eval(&a->cfg->rules, &in, &next->rules, v);
	if (!v->n && !v->n_days && !v->maint_check)
		return PW_OK; /* the common case */
	for (int i = 0; i < v->n_days; i++)
		if (alerts_put_day(a, next->vin, &v->days[i]) != PW_OK)
			return PW_EIO;
	for (int i = 0; i < v->n; i++) {
		int rc = act(a, next->vin, t->ts_ms, &v->act[i]);

		if (rc != PW_OK)
			return rc == PW_ENOMEM ? PW_EIO : rc;
	}
	if (v->maint_check && a->maint_fn &&
	    a->maint_fn(a->maint_ctx, next, t->ts_ms, &next->rules) != PW_OK)
		return PW_EIO;
	return PW_OK;
}

/* ---- memo reload -------------------------------------------------------------------- */

static int wheel_index(const char *name)
{
	for (int w = 0; w < PW_TIRE_COUNT; w++)
		if (name && strcmp(name, rules_wheel_name(w)) == 0)
			return w;
	return -1;
}

int alerts_load_memos(struct alerts *a, struct state *st)
{
	sqlite3_stmt *s = a->stmt[S_MEMO_LOAD];
	int rc, n = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *vin = (const char *)sqlite3_column_text(s, 0);
		const char *kind_name = (const char *)sqlite3_column_text(s, 1);
		const char *subject = (const char *)sqlite3_column_text(s, 2);
		int level = sqlite3_column_int(s, 3);
		const char *reason = (const char *)sqlite3_column_text(s, 4);
		const struct pw_vehicle *cur = vin ? state_find(st, vin) : NULL;
		enum pw_alert_kind kind;
		struct pw_vehicle v;
		int w = wheel_index(subject);

		if (!cur || rules_kind_parse(kind_name, &kind) != PW_OK)
			continue;
		v = *cur;
		if (level > PW_SEV_CRITICAL)
			level = PW_SEV_CRITICAL;
		switch (kind) {
		case PW_AK_TYRE_PRESSURE:
			if (w < 0)
				continue;
			rules_memo_set(&v.rules, RULES_SLOT_PRESSURE(w), level);
			if (reason && strcmp(reason, "slow_leak") == 0)
				rules_memo_set(&v.rules, RULES_SLOT_LEAK(w), 1);
			break;
		case PW_AK_TYRE_TREAD:
			if (w < 0)
				continue;
			rules_memo_set(&v.rules, RULES_SLOT_TREAD(w), level);
			break;
		case PW_AK_BATTERY:
			rules_memo_set(&v.rules, RULES_SLOT_BATTERY, level);
			break;
		case PW_AK_ODOMETER:
			rules_memo_set(&v.rules, RULES_SLOT_ROLLBACK, 1);
			break;
		default:
			continue;
		}
		if (state_put(st, &v) != PW_OK)
			break;
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(a, "reading open alerts", NULL);
	if (n)
		log_info("alerts", "%d open alerts carried over into vehicle state", n);
	return PW_OK;
}
