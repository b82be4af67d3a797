/*
 * snapshot — the `snapshot` frame from SQLite (see snapshot.h).
 *
 * Vehicles: the dealer's cars and the cars telemetry knows (a UNION of the
 * two tables), in vin order, merged in one pass with the open alerts that
 * set the fuel, service, insurance (and, when the ignition is not off, the
 * battery) badges, also in vin order. Each summary is a Jansson object kept
 * with its worst badge; they are sorted worst first, then by plate, and
 * the first `max_vehicles` make the frame. Alerts and arrivals are plain
 * SELECTs. One read transaction covers all three, so they agree.
 */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "frames.h"
#include "import.h"
#include "log.h"
#include "pw.h"
#include "rules.h"

enum stmt_id { S_VEHICLES, S_BADGE_ALERTS, S_ALERTS, S_ARRIVALS, S_BEGIN, S_END, S__COUNT };

static const char *const stmt_sql[S__COUNT] = {
    [S_VEHICLES] =
        "SELECT v.vin, d.plate, d.brand, d.model, c.customer_id, c.name, s.vin IS NOT NULL, "
        "s.odometer_km, s.fuel_pct, s.battery_v, s.ignition, s.online, s.ts_ms, s.seq_max, "
        "s.dtc, s.tire_fl_kpa, s.tire_fl_tread_mm, s.tire_fr_kpa, s.tire_fr_tread_mm, "
        "s.tire_rl_kpa, s.tire_rl_tread_mm, s.tire_rr_kpa, s.tire_rr_tread_mm "
        "FROM (SELECT vin FROM vehicle UNION SELECT vin FROM vehicle_state) v "
        "LEFT JOIN vehicle d ON d.vin = v.vin LEFT JOIN vehicle_state s ON s.vin = v.vin "
        "LEFT JOIN customer c ON c.customer_id = d.customer_id ORDER BY v.vin",
    [S_BADGE_ALERTS] = "SELECT vin, kind, type, severity FROM alert WHERE active = 1 AND "
                       "status NOT IN ('resolved', 'dismissed') AND kind IN ('fuel', "
                       "'maintenance', 'insurance', 'battery') ORDER BY vin",
    [S_ALERTS] = "SELECT a.id, a.vin, d.plate, c.name, a.kind, a.type, a.subject, a.severity, "
                 "a.status, a.active, a.opened_ms, a.updated_ms, a.detail, c.customer_id "
                 "FROM alert a LEFT JOIN vehicle d ON d.vin = a.vin "
                 "LEFT JOIN customer c ON c.customer_id = d.customer_id "
                 "WHERE a.status NOT IN ('resolved', 'dismissed') ORDER BY a.id DESC LIMIT ?1",
    [S_ARRIVALS] = "SELECT ar.id, ar.vin, ar.plate, c.customer_id, c.name, ar.appointment_id, "
                   "ar.advisor_id, adv.name, ar.desk, ar.match, ar.source, ar.arrived_ms, "
                   "ar.departed_ms, ar.vip, ar.brief FROM arrival ar "
                   "LEFT JOIN customer c ON c.customer_id = ar.customer_id "
                   "LEFT JOIN advisor adv ON adv.advisor_id = ar.advisor_id "
                   "WHERE ar.day = ?1 ORDER BY ar.arrived_ms, ar.id",
    [S_BEGIN] = "BEGIN",
    [S_END] = "COMMIT",
};

struct snapshot {
	sqlite3 *db;
	const struct pw_config *cfg;
	int tz_offset_s;
	sqlite3_stmt *stmt[S__COUNT];
};

struct snapshot *snapshot_open(sqlite3 *db, const struct pw_config *cfg)
{
	struct snapshot *sn = calloc(1, sizeof(*sn));

	if (!sn)
		return NULL;
	sn->db = db;
	sn->cfg = cfg;
	if (import_tz_offset(cfg->site.timezone, &sn->tz_offset_s) != PW_OK)
		sn->tz_offset_s = 0; /* config_validate has checked it already */
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &sn->stmt[i],
		                       NULL) != SQLITE_OK) {
			log_error("ws", "preparing the snapshot statements: %s",
			          sqlite3_errmsg(db));
			snapshot_close(sn);
			return NULL;
		}
	}
	return sn;
}

void snapshot_close(struct snapshot *sn)
{
	if (!sn)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(sn->stmt[i]);
	free(sn);
}

/* ---- helpers ------------------------------------------------------------------ */

static json_t *col_str(sqlite3_stmt *s, int c)
{
	const unsigned char *t = sqlite3_column_text(s, c);

	return t ? json_string((const char *)t) : json_null();
}

static json_t *col_num(sqlite3_stmt *s, int c)
{
	return sqlite3_column_type(s, c) == SQLITE_NULL ? json_null()
	                                                : json_real(sqlite3_column_double(s, c));
}

static json_t *col_int(sqlite3_stmt *s, int c)
{
	return sqlite3_column_type(s, c) == SQLITE_NULL ? json_null()
	                                                : json_integer(sqlite3_column_int64(s, c));
}

/* A JSON object column ('{}' text); null when absent or unreadable. */
static json_t *col_json(sqlite3_stmt *s, int c)
{
	const char *t = (const char *)sqlite3_column_text(s, c);
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;

	return j ? j : json_null();
}

/* Sets key to a new reference; *bad on failure (including a NULL value). */
static void put(json_t *o, const char *key, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, key, v))
		*bad = 1;
}

/* Appends a customer id to the audit list, if there is room for all of it. */
static void add_customer(char *list, size_t cap, const unsigned char *id)
{
	size_t used = strlen(list), n;

	if (!id || !*id)
		return;
	n = strlen((const char *)id);
	if (used + n + 2 > cap)
		return;
	if (used)
		list[used++] = ',';
	memcpy(list + used, id, n + 1);
}

static int sev_of(const unsigned char *name)
{
	enum pw_severity s = PW_SEV_NONE;

	if (name)
		rules_severity_parse((const char *)name, &s);
	return (int)s;
}

static int maxi(int a, int b)
{
	return a > b ? a : b;
}

/* The dtc column ([{"code","status","mil"}]) into t, its entries into d
 * (PW_DTC_MAX of them). */
static void parse_dtc(const unsigned char *text, struct pw_latest *t, struct pw_dtc *d_out)
{
	json_t *a = text ? json_loads((const char *)text, 0, NULL) : NULL;
	size_t i;
	json_t *e;

	if (!json_is_array(a)) {
		json_decref(a);
		return;
	}
	t->has |= PW_F_DTC;
	json_array_foreach(a, i, e)
	{
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *st = json_string_value(json_object_get(e, "status"));
		struct pw_dtc *d;

		if (!code || !st || t->dtc_count >= PW_DTC_MAX)
			continue;
		d = &d_out[t->dtc_count++];
		snprintf(d->code, sizeof(d->code), "%s", code);
		d->status = strcmp(st, "permanent") == 0   ? PW_DTC_PERMANENT
		            : strcmp(st, "confirmed") == 0 ? PW_DTC_CONFIRMED
		                                           : PW_DTC_PENDING;
		d->mil = json_is_true(json_object_get(e, "mil"));
	}
	json_decref(a);
}

/* ---- vehicles ------------------------------------------------------------------ */

struct row {
	json_t *obj;
	int worst;
	char *plate; /* borrowed from obj; NULL sorts last */
	char *vin;
};

static int row_cmp(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int c;

	if (a->worst != b->worst)
		return b->worst - a->worst;
	if (!a->plate != !b->plate)
		return a->plate ? -1 : 1;
	if (a->plate && (c = strcmp(a->plate, b->plate)) != 0)
		return c;
	return strcmp(a->vin, b->vin);
}

/* The alert badges of `vin`, reading S_BADGE_ALERTS forward (both in vin order). */
struct alert_badges {
	int fuel, service, insurance, battery;
};

static void badges_for(sqlite3_stmt *s, int *rc, const char *vin, struct alert_badges *ab)
{
	memset(ab, 0, sizeof(*ab));
	while (*rc == SQLITE_ROW) {
		const char *avin = (const char *)sqlite3_column_text(s, 0);
		const char *kind = (const char *)sqlite3_column_text(s, 1);
		const char *type = (const char *)sqlite3_column_text(s, 2);
		int c = avin ? strcmp(avin, vin) : -1;
		int sev = sev_of(sqlite3_column_text(s, 3));

		if (c > 0)
			return;
		if (c == 0 && kind && type) {
			if (strcmp(kind, "fuel") == 0)
				ab->fuel = maxi(ab->fuel, PW_SEV_WARNING);
			else if (strcmp(kind, "maintenance") == 0)
				ab->service =
				    maxi(ab->service, strcmp(type, "maintenance_overdue") == 0
				                          ? PW_SEV_CRITICAL
				                          : PW_SEV_WARNING);
			else if (strcmp(kind, "insurance") == 0)
				ab->insurance = maxi(ab->insurance, sev);
			else if (strcmp(kind, "battery") == 0)
				ab->battery = maxi(ab->battery, sev);
		}
		*rc = sqlite3_step(s);
	}
}

static json_t *vehicle_summary(struct snapshot *sn, sqlite3_stmt *s, const struct alert_badges *ab,
                               int *worst, int *bad)
{
	json_t *o = json_object(), *badges = json_object(), *cust;
	int has_state = sqlite3_column_int(s, 6);
	struct pw_latest t;
	struct pw_dtc dtc[PW_DTC_MAX];
	struct frames_badges fb;
	const char *ign = (const char *)sqlite3_column_text(s, 10);

	if (!o || !badges) {
		json_decref(o);
		json_decref(badges);
		*bad = 1;
		return NULL;
	}
	memset(&t, 0, sizeof(t));
	if (has_state) {
		for (int w = 0; w < PW_TIRE_COUNT; w++) {
			if (sqlite3_column_type(s, 15 + 2 * w) != SQLITE_NULL) {
				t.tires[w].kpa = (float)sqlite3_column_double(s, 15 + 2 * w);
				t.tires[w].has |= PW_TIRE_KPA;
				t.has |= PW_F_TIRES;
			}
			if (sqlite3_column_type(s, 16 + 2 * w) != SQLITE_NULL) {
				t.tires[w].tread_mm = (float)sqlite3_column_double(s, 16 + 2 * w);
				t.tires[w].has |= PW_TIRE_TREAD;
				t.has |= PW_F_TIRES;
			}
		}
		parse_dtc(sqlite3_column_text(s, 14), &t, dtc);
		t.dtc = dtc;
		if (sqlite3_column_type(s, 9) != SQLITE_NULL) {
			t.battery_v = (float)sqlite3_column_double(s, 9);
			t.has |= PW_F_BATTERY;
		}
		if (ign) {
			t.has |= PW_F_IGNITION;
			t.ignition = strcmp(ign, "off") == 0   ? PW_IGN_OFF
			             : strcmp(ign, "acc") == 0 ? PW_IGN_ACC
			                                       : PW_IGN_ON;
		}
	}
	frames_badges(&sn->cfg->rules, &t, ab->battery, &fb);

	put(o, "vin", col_str(s, 0), bad);
	put(o, "plate", col_str(s, 1), bad);
	put(o, "brand", col_str(s, 2), bad);
	put(o, "model", col_str(s, 3), bad);
	if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
		cust = json_object();
		if (cust) {
			put(cust, "id", col_str(s, 4), bad);
			put(cust, "name", col_str(s, 5), bad);
		}
		put(o, "customer", cust, bad);
	} else {
		put(o, "customer", json_null(), bad);
	}
	put(o, "odometer_km", col_num(s, 7), bad);
	put(o, "fuel_pct", col_num(s, 8), bad);
	put(o, "battery_v", col_num(s, 9), bad);
	put(o, "ignition", col_str(s, 10), bad);
	put(o, "online", json_boolean(has_state && sqlite3_column_int(s, 11)), bad);
	put(o, "seen_ts",
	    has_state && sqlite3_column_int64(s, 12) > 0 ? json_integer(sqlite3_column_int64(s, 12))
	                                                 : json_null(),
	    bad);
	put(o, "seq",
	    has_state && sqlite3_column_int64(s, 13) >= 0
	        ? json_integer(sqlite3_column_int64(s, 13))
	        : json_null(),
	    bad);
	put(badges, "tyres", json_string(frames_badge_name(fb.tyres)), bad);
	put(badges, "faults", json_string(frames_badge_name(fb.faults)), bad);
	put(badges, "battery", json_string(frames_badge_name(fb.battery)), bad);
	put(badges, "fuel", json_string(frames_badge_name(ab->fuel)), bad);
	put(badges, "service", json_string(frames_badge_name(ab->service)), bad);
	put(badges, "insurance", json_string(frames_badge_name(ab->insurance)), bad);
	put(o, "badges", badges, bad);
	*worst = maxi(maxi(maxi(fb.tyres, fb.faults), maxi(fb.battery, ab->fuel)),
	              maxi(ab->service, ab->insurance));
	return o;
}

static int add_vehicles(struct snapshot *sn, json_t *frame, int max_vehicles, char *customers,
                        size_t customers_len, int *bad)
{
	sqlite3_stmt *sv = sn->stmt[S_VEHICLES], *sa = sn->stmt[S_BADGE_ALERTS];
	struct row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc, arc, result = PW_EIO;
	json_t *list = json_array();

	if (!list) {
		*bad = 1;
		return PW_ENOMEM;
	}
	arc = sqlite3_step(sa);
	while ((rc = sqlite3_step(sv)) == SQLITE_ROW) {
		struct alert_badges ab;
		struct row r;
		const char *vin = (const char *)sqlite3_column_text(sv, 0);

		if (!vin)
			continue;
		badges_for(sa, &arc, vin, &ab);
		r.obj = vehicle_summary(sn, sv, &ab, &r.worst, bad);
		if (!r.obj || *bad)
			goto out;
		r.plate = (char *)json_string_value(json_object_get(r.obj, "plate"));
		r.vin = (char *)json_string_value(json_object_get(r.obj, "vin"));
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct row *nr = realloc(rows, ncap * sizeof(*rows));

			if (!nr) {
				json_decref(r.obj);
				*bad = 1;
				goto out;
			}
			rows = nr;
			cap = ncap;
		}
		rows[n++] = r;
	}
	if (rc != SQLITE_DONE || (arc != SQLITE_ROW && arc != SQLITE_DONE)) {
		log_error("ws", "reading vehicles for a snapshot: %s", sqlite3_errmsg(sn->db));
		goto out;
	}
	if (n)
		qsort(rows, n, sizeof(*rows), row_cmp);
	for (size_t i = 0; i < n && (int)i < max_vehicles; i++) {
		json_t *cust = json_object_get(rows[i].obj, "customer");

		add_customer(customers, customers_len,
		             (const unsigned char *)json_string_value(json_object_get(cust, "id")));
		if (json_array_append(list, rows[i].obj))
			*bad = 1;
	}
	result = PW_OK;
out:
	sqlite3_reset(sv);
	sqlite3_reset(sa);
	for (size_t i = 0; i < n; i++)
		json_decref(rows[i].obj);
	free(rows);
	put(frame, "vehicles", list, bad);
	return result;
}

/* ---- alerts and arrivals ----------------------------------------------------- */

static int add_alerts(struct snapshot *sn, json_t *frame, char *customers, size_t customers_len,
                      int *bad)
{
	sqlite3_stmt *s = sn->stmt[S_ALERTS];
	json_t *list = json_array();
	int rc;

	sqlite3_bind_int(s, 1, SNAPSHOT_ALERTS_MAX);
	while (list && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *a = json_object();

		if (!a) {
			*bad = 1;
			break;
		}
		put(a, "id", col_int(s, 0), bad);
		put(a, "vin", col_str(s, 1), bad);
		put(a, "plate", col_str(s, 2), bad);
		put(a, "customer_name", col_str(s, 3), bad);
		put(a, "kind", col_str(s, 4), bad);
		put(a, "type", col_str(s, 5), bad);
		put(a, "subject", col_str(s, 6), bad);
		put(a, "severity", col_str(s, 7), bad);
		put(a, "status", col_str(s, 8), bad);
		put(a, "active", json_boolean(sqlite3_column_int(s, 9)), bad);
		put(a, "opened_ts", col_int(s, 10), bad);
		put(a, "updated_ts", col_int(s, 11), bad);
		put(a, "detail", col_json(s, 12), bad);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			add_customer(customers, customers_len, sqlite3_column_text(s, 13));
		if (json_array_append_new(list, a))
			*bad = 1;
	}
	if (!list)
		*bad = 1;
	else if (rc != SQLITE_DONE && !*bad)
		log_error("ws", "reading alerts for a snapshot: %s", sqlite3_errmsg(sn->db));
	sqlite3_reset(s);
	put(frame, "alerts", list, bad);
	return rc == SQLITE_DONE || *bad ? PW_OK : PW_EIO;
}

static int add_arrivals(struct snapshot *sn, json_t *frame, int64_t now_ms, char *customers,
                        size_t customers_len, int *bad)
{
	sqlite3_stmt *s = sn->stmt[S_ARRIVALS];
	json_t *list = json_array();
	char day[16];
	int rc = SQLITE_DONE;

	rules_format_date(rules_local_day(now_ms, sn->tz_offset_s), day, sizeof(day));
	sqlite3_bind_text(s, 1, day, -1, SQLITE_TRANSIENT);
	while (list && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *a = json_object(), *cust;

		if (!a) {
			*bad = 1;
			break;
		}
		put(a, "id", col_int(s, 0), bad);
		put(a, "vin", col_str(s, 1), bad);
		put(a, "plate", col_str(s, 2), bad);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL && (cust = json_object())) {
			put(cust, "id", col_str(s, 3), bad);
			put(cust, "name", col_str(s, 4), bad);
			put(a, "customer", cust, bad);
			add_customer(customers, customers_len, sqlite3_column_text(s, 3));
		} else {
			put(a, "customer", json_null(), bad);
		}
		put(a, "appointment_id", col_str(s, 5), bad);
		put(a, "advisor_id", col_str(s, 6), bad);
		put(a, "advisor", col_str(s, 7), bad);
		put(a, "desk", col_str(s, 8), bad);
		put(a, "match", col_str(s, 9), bad);
		put(a, "source", col_str(s, 10), bad);
		put(a, "arrived_ts", col_int(s, 11), bad);
		put(a, "departed_ts", col_int(s, 12), bad);
		put(a, "vip", json_boolean(sqlite3_column_int(s, 13)), bad);
		put(a, "brief", col_json(s, 14), bad);
		if (json_array_append_new(list, a))
			*bad = 1;
	}
	if (!list)
		*bad = 1;
	else if (rc != SQLITE_DONE && !*bad)
		log_error("ws", "reading arrivals for a snapshot: %s", sqlite3_errmsg(sn->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	put(frame, "arrivals", list, bad);
	return rc == SQLITE_DONE || *bad ? PW_OK : PW_EIO;
}

int snapshot_build(struct snapshot *sn, int64_t now_ms, int max_vehicles, char **json, size_t *len,
                   char *customers, size_t customers_len)
{
	json_t *frame = json_object();
	int bad = 0, rc = PW_EIO, began = 0;

	*json = NULL;
	*len = 0;
	if (customers_len)
		customers[0] = '\0';
	if (!frame)
		return PW_ENOMEM;
	put(frame, "type", json_string("snapshot"), &bad);
	put(frame, "ts", json_integer(now_ms), &bad);
	if (sqlite3_step(sn->stmt[S_BEGIN]) != SQLITE_DONE) {
		log_error("ws", "snapshot: BEGIN: %s", sqlite3_errmsg(sn->db));
		sqlite3_reset(sn->stmt[S_BEGIN]);
		goto out;
	}
	sqlite3_reset(sn->stmt[S_BEGIN]);
	began = 1;
	if (add_vehicles(sn, frame, max_vehicles, customers, customers_len, &bad) != PW_OK ||
	    add_alerts(sn, frame, customers, customers_len, &bad) != PW_OK ||
	    add_arrivals(sn, frame, now_ms, customers, customers_len, &bad) != PW_OK)
		goto out;
	if (bad) {
		rc = PW_ENOMEM;
		goto out;
	}
	*json = json_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	if (!*json) {
		rc = PW_ENOMEM;
		goto out;
	}
	*len = strlen(*json);
	rc = PW_OK;
out:
	if (began) {
		sqlite3_step(sn->stmt[S_END]);
		sqlite3_reset(sn->stmt[S_END]);
	}
	json_decref(frame);
	return rc;
}
