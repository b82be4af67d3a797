/*
 * arrival_store — the SQL and outbox side of arrivals (see arrival_store.h
 * for the promises).
 *
 * Opening a visit reads, with prepared statements: the dealer's vehicle and
 * customer, the car's appointments within the window (with whether an
 * arrival already used each), and every advisor with today's open
 * arrivals; arrival_match() decides; then one INSERT, the brief, and three
 * outbox rows. Arrivals are rare (tens a day): Jansson and a few queries
 * are fine here; the common telemetry object costs one detector step and
 * no SQL at all.
 */
#include "arrival_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrival.h"
#include "geofence.h"
#include "greet.h"
#include "import.h"
#include "log.h"
#include "pw.h"
#include "rules.h"

#define APPTS_MAX    16
#define ADVISORS_MAX 64

enum stmt_id {
	S_OPEN,
	S_SET_SOURCE,
	S_CLOSE,
	S_VEHICLE,
	S_PLATE,
	S_APPTS,
	S_ADVISORS,
	S_INSERT,
	S_PLATE_READ,
	S_ON_SITE,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
    [S_OPEN] = "SELECT id, source FROM arrival WHERE vin = ?1 AND day = ?2 AND departed_ms IS NULL "
               "ORDER BY id DESC LIMIT 1",
    [S_SET_SOURCE] = "UPDATE arrival SET source = 'both' WHERE id = ?1",
    [S_CLOSE] = "UPDATE arrival SET departed_ms = max(?2, arrived_ms) "
                "WHERE vin = ?1 AND departed_ms IS NULL",
    [S_VEHICLE] = "SELECT v.plate, v.customer_id, c.name, c.gender, c.tier, c.advisor_id, "
                  "c.display_consent FROM vehicle v "
                  "LEFT JOIN customer c ON c.customer_id = v.customer_id WHERE v.vin = ?1",
    [S_PLATE] = "SELECT vin FROM vehicle WHERE plate = ?1",
    [S_APPTS] = "SELECT a.appointment_id, a.start_ms, a.advisor_id, a.service, "
                "EXISTS (SELECT 1 FROM arrival r WHERE r.appointment_id = a.appointment_id) "
                "FROM appointment a WHERE a.vin = ?1 AND a.start_ms BETWEEN ?2 AND ?3 "
                "ORDER BY a.start_ms LIMIT 16",
    [S_ADVISORS] = "SELECT ad.advisor_id, ad.name, ad.desk, (SELECT count(*) FROM arrival r "
                   "WHERE r.advisor_id = ad.advisor_id AND r.day = ?1 AND r.departed_ms IS NULL) "
                   "FROM advisor ad ORDER BY ad.advisor_id LIMIT 64",
    [S_INSERT] = "INSERT INTO arrival (vin, plate, customer_id, appointment_id, advisor_id, desk, "
                 "match, source, day, arrived_ms, vip, brief) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [S_PLATE_READ] = "INSERT INTO plate_read (ts_ms, plate, camera, confidence, outcome) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_ON_SITE] = "SELECT DISTINCT vin FROM arrival WHERE departed_ms IS NULL",
};

/* What a plate read led to: plate_read.outcome. */
enum outcome { O_ARRIVAL, O_MERGED, O_LOW_CONFIDENCE, O_UNKNOWN_PLATE, O_ON_SITE };
static const char *const outcome_name[] = {"arrival", "merged", "low_confidence", "unknown_plate",
                                           "on_site"};

/* The dealer's view of the car: all "" when unknown. */
struct car {
	int known, has_customer;
	char plate[64], customer_id[64], name[128], gender[4], tier[16], advisor_id[64];
	int consent;
};

struct appt {
	char id[64], advisor_id[64], service[128];
	int64_t start_ms;
	int used;
};

struct advisor {
	char id[64], name[128], desk[32];
	int load;
};

/* Everything one opening reads: large, so in the store, not on the stack. */
struct scratch {
	struct car car;
	struct appt appts[APPTS_MAX];
	struct advisor advisors[ADVISORS_MAX];
	struct arrival_appointment m_appts[APPTS_MAX];
	struct arrival_advisor m_advisors[ADVISORS_MAX];
	int n_appts, n_advisors;
};

struct arrival_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S__COUNT];
	const struct pw_config *cfg;
	struct events *ev;
	struct brief *br;
	int tz_offset_s;
	struct geofence_params fence;
	int64_t stale_ms;  /* an arrival seen later than this after it happened: no greeting */
	struct scratch sc; /* what one opening reads */
	/* brings a car's vehicle_state row up to date (ingest); NULL: it is */
	int (*row_fn)(void *ctx, const char *vin, const struct pw_vehicle *merged);
	void *row_ctx;
};

void arrival_store_set_row_hook(struct arrival_store *as,
                                int (*fn)(void *ctx, const char *vin,
                                          const struct pw_vehicle *merged),
                                void *ctx)
{
	as->row_fn = fn;
	as->row_ctx = ctx;
}

static int db_fail(struct arrival_store *as, const char *what, const char *vin)
{
	log_error("arrival", "%s%s%s: %s", vin ? vin : "", vin ? ": " : "", what,
	          sqlite3_errmsg(as->db));
	return PW_EIO;
}

static void reset(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static void col_copy(sqlite3_stmt *s, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(buf, len, "%s", t ? (const char *)t : "");
}

static int bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	return v && *v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

struct arrival_store *arrival_store_open(sqlite3 *db, const struct pw_config *cfg,
                                         const struct pw_clock *clock, struct events *ev,
                                         struct brief *br)
{
	struct arrival_store *as = calloc(1, sizeof(*as));

	if (!as)
		return NULL;
	as->db = db;
	as->cfg = cfg;
	as->stale_ms = ARRIVAL_STALE_MS;
	if (clock && clock->is_virtual && clock->speedup * ARRIVAL_LAG_REAL_MS > as->stale_ms)
		as->stale_ms = (int64_t)(clock->speedup * ARRIVAL_LAG_REAL_MS);
	as->ev = ev;
	as->br = br;
	if (import_tz_offset(cfg->site.timezone, &as->tz_offset_s) != PW_OK) {
		log_error("arrival", "site.timezone %s: no fixed UTC offset", cfg->site.timezone);
		goto fail;
	}
	as->fence = (struct geofence_params){.lat = cfg->site.lat,
	                                     .lon = cfg->site.lon,
	                                     .radius_m = cfg->site.radius_m,
	                                     .dwell_s = cfg->rules.arrival_dwell_s,
	                                     .max_speed_kmh = cfg->rules.arrival_max_speed_kmh};
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &as->stmt[i],
		                       NULL) != SQLITE_OK) {
			db_fail(as, "preparing the arrival statements", NULL);
			goto fail;
		}
	}
	return as;
fail:
	arrival_store_close(as);
	return NULL;
}

void arrival_store_close(struct arrival_store *as)
{
	if (!as)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(as->stmt[i]);
	free(as);
}

static void local_date(const struct arrival_store *as, int64_t ms, char *buf, size_t len)
{
	rules_format_date(rules_local_day(ms, as->tz_offset_s), buf, len);
}

/* The open visit of vin on day: *id (0: none) and whether it came from
 * `source` or both already (*same). */
static int find_open(struct arrival_store *as, const char *vin, const char *day, const char *source,
                     int64_t *id, int *same)
{
	sqlite3_stmt *s = as->stmt[S_OPEN];
	int rc;

	*id = 0;
	*same = 0;
	if (sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, day, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		reset(s);
		return db_fail(as, "binding the open visit", vin);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *src = (const char *)sqlite3_column_text(s, 1);

		*id = sqlite3_column_int64(s, 0);
		*same = src && (strcmp(src, source) == 0 || strcmp(src, "both") == 0);
	}
	reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(as, "reading the open visit", vin);
	return PW_OK;
}

static int step_done(struct arrival_store *as, enum stmt_id id, const char *what, const char *vin)
{
	int rc = sqlite3_step(as->stmt[id]);

	reset(as->stmt[id]);
	return rc == SQLITE_DONE ? PW_OK : db_fail(as, what, vin);
}

static int read_car(struct arrival_store *as, const char *vin, struct car *car)
{
	sqlite3_stmt *s = as->stmt[S_VEHICLE];
	int rc;

	memset(car, 0, sizeof(*car));
	if (sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		reset(s);
		return db_fail(as, "binding the vehicle", vin);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		car->known = 1;
		col_copy(s, 0, car->plate, sizeof(car->plate));
		col_copy(s, 1, car->customer_id, sizeof(car->customer_id));
		car->has_customer = sqlite3_column_type(s, 2) != SQLITE_NULL;
		col_copy(s, 2, car->name, sizeof(car->name));
		col_copy(s, 3, car->gender, sizeof(car->gender));
		col_copy(s, 4, car->tier, sizeof(car->tier));
		col_copy(s, 5, car->advisor_id, sizeof(car->advisor_id));
		car->consent = sqlite3_column_int(s, 6) == 1;
	}
	reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(as, "reading the vehicle", vin);
	return PW_OK;
}

static int read_appointments(struct arrival_store *as, const char *vin, int64_t at_ms,
                             struct scratch *sc)
{
	sqlite3_stmt *s = as->stmt[S_APPTS];
	int64_t w = (int64_t)as->cfg->rules.appointment_window_min * 60 * 1000;
	int rc;

	sc->n_appts = 0;
	if (sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, at_ms - w) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, at_ms + w) != SQLITE_OK) {
		reset(s);
		return db_fail(as, "binding the appointments", vin);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && sc->n_appts < APPTS_MAX) {
		struct appt *a = &sc->appts[sc->n_appts];

		col_copy(s, 0, a->id, sizeof(a->id));
		a->start_ms = sqlite3_column_int64(s, 1);
		col_copy(s, 2, a->advisor_id, sizeof(a->advisor_id));
		col_copy(s, 3, a->service, sizeof(a->service));
		a->used = sqlite3_column_int(s, 4);
		sc->m_appts[sc->n_appts] = (struct arrival_appointment){.id = a->id,
		                                                        .start_ms = a->start_ms,
		                                                        .advisor_id = a->advisor_id,
		                                                        .used = a->used};
		sc->n_appts++;
	}
	reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(as, "reading the appointments", vin);
	return PW_OK;
}

static int read_advisors(struct arrival_store *as, const char *day, struct scratch *sc)
{
	sqlite3_stmt *s = as->stmt[S_ADVISORS];
	int rc;

	sc->n_advisors = 0;
	if (sqlite3_bind_text(s, 1, day, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		reset(s);
		return db_fail(as, "binding the advisors", NULL);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && sc->n_advisors < ADVISORS_MAX) {
		struct advisor *a = &sc->advisors[sc->n_advisors];

		col_copy(s, 0, a->id, sizeof(a->id));
		col_copy(s, 1, a->name, sizeof(a->name));
		col_copy(s, 2, a->desk, sizeof(a->desk));
		a->load = sqlite3_column_int(s, 3);
		sc->m_advisors[sc->n_advisors] =
		    (struct arrival_advisor){.id = a->id, .open_arrivals = a->load};
		sc->n_advisors++;
	}
	reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(as, "reading the advisors", NULL);
	return PW_OK;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* The three outbox rows of a new visit. */
static int emit(struct arrival_store *as, int64_t id, const char *vin, const char *source,
                int64_t at_ms, int64_t now_ms, const struct scratch *sc,
                const struct arrival_match *m, json_t *brief)
{
	const struct car *car = &sc->car;
	const struct advisor *adv = m->advisor >= 0 ? &sc->advisors[m->advisor] : NULL;
	const struct appt *ap = m->appointment >= 0 ? &sc->appts[m->appointment] : NULL;
	char aid[32], gid[32], wid[32], name[GREET_NAME_MAX], text[GREET_TEXT_MAX];
	json_t *arr = NULL, *greeting = NULL, *customer;
	int rc = PW_ENOMEM;

	snprintf(aid, sizeof(aid), "a%lld", (long long)id);
	snprintf(gid, sizeof(gid), "g%lld", (long long)id);
	snprintf(wid, sizeof(wid), "w%lld", (long long)id);
	customer = car->has_customer
	               ? json_pack("{s:s, s:s}", "id", car->customer_id, "name", car->name)
	               : json_null();
	arr = json_object();
	if (!arr || !customer || json_object_set_new(arr, "id", json_string(aid)) ||
	    json_object_set_new(arr, "type", json_string("arrival")) ||
	    json_object_set_new(arr, "vin", json_string(vin)) ||
	    json_object_set_new(arr, "ts", json_integer(at_ms)) ||
	    json_object_set_new(arr, "severity", json_string(m->vip ? "warning" : "info")) ||
	    json_object_set_new(arr, "arrival_id", json_integer(id)) ||
	    json_object_set_new(arr, "plate", str_or_null(car->plate)) ||
	    json_object_set_new(arr, "customer", customer) ||
	    json_object_set_new(arr, "appointment_id", str_or_null(ap ? ap->id : NULL)) ||
	    json_object_set_new(arr, "service", str_or_null(ap ? ap->service : NULL)) ||
	    json_object_set_new(arr, "advisor_id", str_or_null(adv ? adv->id : NULL)) ||
	    json_object_set_new(arr, "advisor", str_or_null(adv ? adv->name : NULL)) ||
	    json_object_set_new(arr, "desk", str_or_null(adv ? adv->desk : NULL)) ||
	    json_object_set_new(arr, "match", json_string(arrival_match_name(m->kind))) ||
	    json_object_set_new(arr, "source", json_string(source)) ||
	    json_object_set_new(arr, "vip", json_boolean(m->vip)) ||
	    json_object_set(arr, "brief", brief)) {
		if (!arr)
			json_decref(customer);
		goto out;
	}
	if ((rc = events_emit_object(as->ev, at_ms, arr)) != PW_OK)
		goto out;
	if (now_ms - at_ms > as->stale_ms) {
		log_info("arrival", "%s: arrival %lld seen %lld s late: no greeting", vin,
		         (long long)id, (long long)((now_ms - at_ms) / 1000));
		rc = PW_OK;
		goto out;
	}
	greeting = greet_greeting(
	    &(struct greet_input){.id = gid,
	                          .name = car->has_customer ? car->name : NULL,
	                          .gender = car->gender[0] ? car->gender[0] : '-',
	                          .display_consent = car->has_customer && car->consent,
	                          .plate = car->plate,
	                          .desk = adv ? adv->desk : NULL,
	                          .advisor = adv ? adv->name : NULL,
	                          .service = ap ? ap->service : NULL,
	                          .ttl_s = as->cfg->rules.greeting_ttl_s});
	rc = PW_ENOMEM;
	if (!greeting || json_object_set_new(greeting, "vin", json_string(vin)) ||
	    json_object_set_new(greeting, "ts", json_integer(at_ms)) ||
	    json_object_set_new(greeting, "severity", json_string("info")) ||
	    json_object_set_new(greeting, "arrival_id", json_integer(id)))
		goto out;
	if ((rc = events_emit_object(as->ev, at_ms, greeting)) != PW_OK)
		goto out;
	if (car->has_customer)
		greet_display_name(car->name, car->gender[0], name, sizeof(name));
	greet_welcome_text(text, sizeof(text), car->has_customer ? name : NULL,
	                   adv ? adv->desk : NULL, adv ? adv->name : NULL);
	rc = events_emit_message(as->ev, vin, wid, "welcome", text, at_ms);
out:
	json_decref(arr);
	json_decref(greeting);
	if (rc != PW_OK)
		log_error("arrival", "%s: writing the events of arrival %lld failed", vin,
		          (long long)id);
	return rc == PW_ENOMEM ? PW_EIO : rc;
}

/* Opens a visit for vin seen by `source` at at_ms, or merges into the open
 * one. `plate_read` (may be NULL): what the camera read; `merged` (may be
 * NULL): the vehicle as the object being applied left it. */
static int record(struct arrival_store *as, const char *vin, const struct pw_vehicle *merged,
                  const char *source, int64_t at_ms, int64_t now_ms, const char *plate_read,
                  enum outcome *outcome)
{
	struct scratch *sc = &as->sc;
	struct arrival_match m;
	char day[16];
	int64_t open_id, id;
	int same, rc;
	json_t *brief = NULL;
	char *brief_text = NULL;
	sqlite3_stmt *s;

	local_date(as, at_ms, day, sizeof(day));
	if (find_open(as, vin, day, source, &open_id, &same) != PW_OK)
		return PW_EIO;
	if (open_id) {
		*outcome = same ? O_ON_SITE : O_MERGED;
		if (same)
			return PW_OK;
		if (sqlite3_bind_int64(as->stmt[S_SET_SOURCE], 1, open_id) != SQLITE_OK)
			return db_fail(as, "binding the merge", vin);
		if (step_done(as, S_SET_SOURCE, "merging the visit", vin) != PW_OK)
			return PW_EIO;
		log_info("arrival", "%s: %s merged into arrival %lld", vin, source,
		         (long long)open_id);
		return PW_OK;
	}
	if (read_car(as, vin, &sc->car) != PW_OK ||
	    read_appointments(as, vin, at_ms, sc) != PW_OK || read_advisors(as, day, sc) != PW_OK)
		return PW_EIO;
	if (!sc->car.plate[0] && plate_read)
		snprintf(sc->car.plate, sizeof(sc->car.plate), "%s", plate_read);
	arrival_match(&(struct arrival_input){.arrived_ms = at_ms,
	                                      .window_min = as->cfg->rules.appointment_window_min,
	                                      .appointments = sc->m_appts,
	                                      .n_appointments = sc->n_appts,
	                                      .own_advisor_id = sc->car.advisor_id,
	                                      .advisors = sc->m_advisors,
	                                      .n_advisors = sc->n_advisors,
	                                      .tier = sc->car.has_customer ? sc->car.tier : NULL},
	              &m);

	/* the brief reads the car's row: as of this object, not the last commit */
	if (as->br && as->row_fn && as->row_fn(as->row_ctx, vin, merged) != PW_OK)
		return PW_EIO;
	rc = as->br ? brief_vehicle(as->br, vin, now_ms, &brief) : PW_ENOTFOUND;
	if (rc == PW_EIO)
		return PW_EIO;
	if (!brief)
		brief = json_object();
	brief_text = brief ? json_dumps(brief, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (!brief_text) {
		rc = PW_EIO;
		goto out;
	}

	s = as->stmt[S_INSERT];
	if (sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    bind_text_or_null(s, 2, sc->car.plate) != SQLITE_OK ||
	    bind_text_or_null(s, 3, sc->car.has_customer ? sc->car.customer_id : NULL) !=
	        SQLITE_OK ||
	    bind_text_or_null(s, 4, m.appointment >= 0 ? sc->appts[m.appointment].id : NULL) !=
	        SQLITE_OK ||
	    bind_text_or_null(s, 5, m.advisor >= 0 ? sc->advisors[m.advisor].id : NULL) !=
	        SQLITE_OK ||
	    bind_text_or_null(s, 6, m.advisor >= 0 ? sc->advisors[m.advisor].desk : NULL) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(s, 7, arrival_match_name(m.kind), -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 8, source, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 9, day, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 10, at_ms) != SQLITE_OK ||
	    sqlite3_bind_int(s, 11, m.vip) != SQLITE_OK ||
	    sqlite3_bind_text(s, 12, brief_text, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		reset(s);
		rc = db_fail(as, "binding the arrival", vin);
		goto out;
	}
	if ((rc = step_done(as, S_INSERT, "writing the arrival", vin)) != PW_OK)
		goto out;
	id = sqlite3_last_insert_rowid(as->db);
	log_info("arrival", "%s arrived (%s, arrival %lld): %s%s%s, advisor %s, desk %s%s", vin,
	         source, (long long)id, arrival_match_name(m.kind), m.appointment >= 0 ? " " : "",
	         m.appointment >= 0 ? sc->appts[m.appointment].id : "",
	         m.advisor >= 0 ? sc->advisors[m.advisor].id : "-",
	         m.advisor >= 0 ? sc->advisors[m.advisor].desk : "-", m.vip ? ", VIP" : "");
	rc = emit(as, id, vin, source, at_ms, now_ms, sc, &m, brief);
	if (rc == PW_OK)
		*outcome = O_ARRIVAL;
out:
	free(brief_text);
	json_decref(brief);
	return rc;
}

static int close_visit(struct arrival_store *as, const char *vin, int64_t at_ms)
{
	sqlite3_stmt *s = as->stmt[S_CLOSE];

	if (sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, at_ms) != SQLITE_OK) {
		reset(s);
		return db_fail(as, "binding the departure", vin);
	}
	if (step_done(as, S_CLOSE, "closing the visit", vin) != PW_OK)
		return PW_EIO;
	if (sqlite3_changes(as->db) > 0)
		log_info("arrival", "%s departed", vin);
	return PW_OK;
}

int arrival_store_on_telemetry(struct arrival_store *as, const struct pw_vehicle *cur,
                               struct pw_vehicle *next, const struct pw_telemetry *t, int late,
                               int64_t now_ms, int *opened)
{
	const struct pw_latest *l = &next->latest;
	struct geofence_sample smp;
	enum geofence_verdict v;
	enum outcome oc = O_ON_SITE;
	int64_t at_ms = 0;

	*opened = 0;
	if (late)
		return PW_OK;
	smp = (struct geofence_sample){
	    .ts_ms = t->ts_ms,
	    .has_position = (t->has & PW_F_POSITION) != 0,
	    .lat = t->lat,
	    .lon = t->lon,
	    .has_speed = (l->has & PW_F_SPEED) != 0,
	    .speed_kmh = l->speed_kmh,
	    .ignition_off = (l->has & PW_F_IGNITION) && l->ignition == PW_IGN_OFF,
	    /* on/acc -> off; a device's first word (a new install) is no edge */
	    .ignition_off_edge = (t->has & PW_F_IGNITION) && t->ignition == PW_IGN_OFF && cur &&
	                         (cur->latest.has & PW_F_IGNITION) &&
	                         cur->latest.ignition != PW_IGN_OFF};
	v = geofence_feed(&as->fence, &next->fence, &smp, &at_ms);
	if (v == GEOFENCE_DEPARTURE)
		return close_visit(as, next->vin, at_ms);
	if (v != GEOFENCE_ARRIVAL)
		return PW_OK;
	if (record(as, next->vin, next, "geofence", at_ms, now_ms, NULL, &oc) != PW_OK)
		return PW_EIO;
	*opened = oc == O_ARRIVAL;
	return PW_OK;
}

int arrival_store_on_plate(struct arrival_store *as, const struct pw_plate_read *pr, int64_t now_ms,
                           int *opened, char *vin)
{
	sqlite3_stmt *s = as->stmt[S_PLATE];
	enum outcome oc;
	int rc;

	*opened = 0;
	vin[0] = '\0';
	if (pr->confidence < as->cfg->rules.plate_min_confidence) {
		oc = O_LOW_CONFIDENCE;
	} else {
		if (sqlite3_bind_text(s, 1, pr->plate, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
			reset(s);
			return db_fail(as, "binding the plate", NULL);
		}
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			col_copy(s, 0, vin, PW_VIN_LEN + 1);
		reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return db_fail(as, "looking up the plate", NULL);
		oc = O_UNKNOWN_PLATE;
		if (vin[0] &&
		    record(as, vin, NULL, "camera", pr->ts_ms, now_ms, pr->plate, &oc) != PW_OK)
			return PW_EIO;
	}
	if (oc != O_ARRIVAL && oc != O_MERGED)
		log_info("arrival", "plate read %s by %s (%.2f): %s", pr->plate, pr->camera,
		         pr->confidence, outcome_name[oc]);
	s = as->stmt[S_PLATE_READ];
	if (sqlite3_bind_int64(s, 1, pr->ts_ms) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, pr->plate, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, pr->camera, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_double(s, 4, pr->confidence) != SQLITE_OK ||
	    sqlite3_bind_text(s, 5, outcome_name[oc], -1, SQLITE_STATIC) != SQLITE_OK) {
		reset(s);
		return db_fail(as, "binding the plate read", NULL);
	}
	if (step_done(as, S_PLATE_READ, "writing the plate read", vin[0] ? vin : NULL) != PW_OK)
		return PW_EIO;
	*opened = oc == O_ARRIVAL;
	if (oc != O_ARRIVAL && oc != O_MERGED && oc != O_ON_SITE)
		vin[0] = '\0';
	return PW_OK;
}

int arrival_store_load_on_site(struct arrival_store *as, struct state *st)
{
	sqlite3_stmt *s = as->stmt[S_ON_SITE];
	int rc, n = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *vin = (const char *)sqlite3_column_text(s, 0);
		const struct pw_vehicle *cur = vin ? state_find(st, vin) : NULL;
		struct pw_vehicle v;

		if (!cur)
			continue;
		v = *cur;
		geofence_mark_arrived(&v.fence);
		if (state_put(st, &v) != PW_OK)
			break;
		n++;
	}
	reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(as, "reading the open visits", NULL);
	if (n)
		log_info("arrival", "%d vehicles on site with an open visit", n);
	return PW_OK;
}
