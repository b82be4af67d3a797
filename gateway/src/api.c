/*
 * api — the REST API (docs/api.md), behind http.c's "/api/" route.
 *
 * A request goes: routes[] (method, path pattern, roles, handler) -> the
 * session from the pw_session cookie (auth_session_lookup) -> the role
 * check -> a small handler that reads SQLite and builds a Jansson tree.
 * Handlers never write lws objects: they fill a struct api_response and
 * http.c sends it. Everything but the login worker runs on the lws thread,
 * on the API's own read-write connection (busy_timeout: a write waits for
 * the core's group commit instead of failing). Writes (alert status,
 * appointments, service visits) are one BEGIN IMMEDIATE ... COMMIT each,
 * through alerts_set_status / import_row / sweep_vehicle, so the checks and
 * the outbox events are the CSV import's and the rules' own. New
 * maintenance thresholds from a service visit go to the core through the
 * control queue (ctlq) once committed.
 *
 * Logins: the user's hash is read here, the PBKDF2 check runs on the login
 * worker thread (an unknown user costs the same work: auth_password_verify
 * without a hash), and the answer comes back through api_take_done() after
 * the worker woke the loop. A user name with API_LOGIN_FAILS failures in
 * API_LOGIN_WINDOW_S is refused (429) for API_LOGIN_LOCK_S.
 *
 * Every response that shows a customer's name or phone writes one audit
 * row naming the customers shown. Sessions, back-off and audit times are
 * real time; "today", series windows and alert changes use the gateway's
 * (possibly virtual) clock, as the rules do.
 */
#include "api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alerts.h"
#include "auth.h"
#include "brief.h"
#include "events.h"
#include "import.h"
#include "log.h"
#include "pw.h"
#include "rules.h"
#include "store.h"
#include "sweep.h"

#define LOGIN_OUTSTANDING_MAX 16  /* logins being checked at once */
#define FAIL_SLOTS            256 /* user names whose failures are remembered */
#define LIST_LIMIT_MAX        200
#define LIST_LIMIT_DEFAULT    50
#define NOTE_MAX_CHARS        1000
#define SERIES_DAYS           90
#define SERIES_POINTS_MAX     500
#define LOG_NEWEST            100
#define AUDIT_IDS_MAX         200
#define THRESHOLDS_MAX        8
#define DAY_MS                (86400LL * 1000)

/* ---- statements ---------------------------------------------------------- */

enum stmt_id {
	S_SUMMARY,
	S_CUSTOMER,
	S_STATE,
	S_ALERTS,
	S_ALERTS_COUNT,
	S_ALERT_LOG,
	S_VIN_LOG,
	S_REMINDERS,
	S_SERVICES,
	S_APPOINTMENTS,
	S_SERIES,
	S_ARRIVALS,
	S_AUDIT,
	S_AUDIT_COUNT,
	S__COUNT
};

#define OPEN_STATUS "a.status NOT IN ('resolved', 'dismissed')"
#define SEV_LEVEL                                                                                  \
	"CASE a.severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 WHEN 'info' THEN 1 "         \
	"ELSE 0 END"
#define ALERT_WHERE                                                                                \
	" WHERE (CASE WHEN ?1 = 'active' THEN " OPEN_STATUS " WHEN ?1 = 'all' THEN 1 "             \
	"ELSE a.status = ?1 END) AND (?2 IS NULL OR a.kind = ?2 OR a.type = ?2) "                  \
	"AND (?3 IS NULL OR a.vin = ?3) AND (?4 IS NULL OR a.id = ?4)"
#define ALERT_FROM                                                                                 \
	" FROM alert a LEFT JOIN vehicle v ON v.vin = a.vin "                                      \
	"LEFT JOIN customer c ON c.customer_id = v.customer_id"

static const char *const stmt_sql[S__COUNT] = {
    /* 0 vin 1 plate 2 brand 3 model 4 customer_id 5 name 6 odometer 7 fuel_pct
     * 8 battery 9 ignition 10 online 11 ts 12 seq 13..20 tyres kpa/tread
     * 21 dtc 22 has_state 23 service 24 insurance 25 fuel */
    [S_SUMMARY] =
        "WITH ids(vin) AS (SELECT vin FROM vehicle UNION SELECT vin FROM vehicle_state) "
        "SELECT ids.vin, v.plate, v.brand, v.model, c.customer_id, c.name, s.odometer_km, "
        "s.fuel_pct, s.battery_v, s.ignition, s.online, s.ts_ms, s.seq_max, "
        "s.tire_fl_kpa, s.tire_fl_tread_mm, s.tire_fr_kpa, s.tire_fr_tread_mm, "
        "s.tire_rl_kpa, s.tire_rl_tread_mm, s.tire_rr_kpa, s.tire_rr_tread_mm, s.dtc, "
        "s.vin IS NOT NULL, "
        "(SELECT max(CASE WHEN a.type = 'maintenance_overdue' THEN 3 ELSE 2 END) FROM alert a "
        " WHERE a.vin = ids.vin AND a.kind = 'maintenance' AND " OPEN_STATUS "), "
        "(SELECT max(" SEV_LEVEL ") FROM alert a "
        " WHERE a.vin = ids.vin AND a.kind = 'insurance' AND " OPEN_STATUS "), "
        "(SELECT max(" SEV_LEVEL ") FROM alert a "
        " WHERE a.vin = ids.vin AND a.kind = 'fuel' AND " OPEN_STATUS ") "
        "FROM ids LEFT JOIN vehicle v ON v.vin = ids.vin "
        "LEFT JOIN vehicle_state s ON s.vin = ids.vin "
        "LEFT JOIN customer c ON c.customer_id = v.customer_id "
        "WHERE (?1 IS NULL OR instr(lower(ids.vin), lower(?1)) > 0 "
        " OR instr(lower(coalesce(v.plate, '')), lower(?1)) > 0 "
        " OR instr(lower(coalesce(c.name, '')), lower(?1)) > 0) "
        "AND (?2 IS NULL OR ids.vin = ?2)",
    [S_CUSTOMER] = "SELECT c.customer_id, c.name, c.gender, c.phone, c.tier, c.advisor_id, "
                   "c.display_consent, a.name FROM customer c "
                   "LEFT JOIN advisor a ON a.advisor_id = c.advisor_id WHERE c.customer_id = ?1",
    [S_STATE] = "SELECT odometer_km, speed_kmh, ignition, fuel_pct, fuel_l_per_100km, battery_v, "
                "engine_hours, lat, lon, heading_deg, "
                "tire_fl_kpa, tire_fl_tread_mm, tire_fl_temp_c, "
                "tire_fr_kpa, tire_fr_tread_mm, tire_fr_temp_c, "
                "tire_rl_kpa, tire_rl_tread_mm, tire_rl_temp_c, "
                "tire_rr_kpa, tire_rr_tread_mm, tire_rr_temp_c, "
                "dtc, ts_ms, seq_max, online FROM vehicle_state WHERE vin = ?1",
    /* 0 id 1 vin 2 plate 3 customer_id 4 name 5 kind 6 type 7 subject
     * 8 severity 9 status 10 active 11 opened 12 updated 13 detail */
    [S_ALERTS] =
        "SELECT a.id, a.vin, v.plate, c.customer_id, c.name, a.kind, a.type, a.subject, "
        "a.severity, a.status, a.active, a.opened_ms, a.updated_ms, a.detail" ALERT_FROM ALERT_WHERE
        " ORDER BY a.opened_ms DESC, a.id DESC LIMIT ?5 OFFSET ?6",
    [S_ALERTS_COUNT] = "SELECT count(*)" ALERT_FROM ALERT_WHERE,
    [S_ALERT_LOG] = "SELECT alert_id, ts_ms, actor, action, status, note FROM alert_log "
                    "WHERE alert_id = ?1 ORDER BY id",
    [S_VIN_LOG] = "SELECT l.alert_id, l.ts_ms, l.actor, l.action, l.status, l.note "
                  "FROM alert_log l JOIN alert a ON a.id = l.alert_id WHERE a.vin = ?1 "
                  "ORDER BY l.id DESC LIMIT 100", /* LOG_NEWEST */
    /* 0 id 1 type 2 vin 3 plate 4 customer_id 5 name 6 phone 7 severity
     * 8 status 9 detail 10 opened 11 kind */
    [S_REMINDERS] = "SELECT a.id, a.type, a.vin, v.plate, c.customer_id, c.name, c.phone, "
                    "a.severity, a.status, a.detail, a.opened_ms, a.kind" ALERT_FROM
                    " WHERE a.kind IN ('maintenance', 'insurance', 'lost_customer', 'followup') "
                    "AND " OPEN_STATUS " AND (?1 IS NULL OR a.vin = ?1)",
    [S_SERVICES] = "SELECT service_id, date, odometer_km, kind FROM service_visit WHERE vin = ?1 "
                   "ORDER BY date DESC, service_id DESC",
    [S_APPOINTMENTS] =
        "SELECT p.appointment_id, p.start_local, p.service, p.advisor_id, a.name "
        "FROM appointment p LEFT JOIN advisor a ON a.advisor_id = p.advisor_id "
        "WHERE p.vin = ?1 AND p.start_ms >= ?2 ORDER BY p.start_ms, p.appointment_id",
    [S_SERIES] = "SELECT ts_ms, odometer_km, fuel_l_per_100km, tire_fl_tread_mm, "
                 "tire_fr_tread_mm, tire_rl_tread_mm, tire_rr_tread_mm FROM history "
                 "WHERE vin = ?1 AND ts_ms >= ?2 ORDER BY bucket",
    /* 0 id 1 vin 2 plate 3 customer_id 4 name 5 appointment 6 advisor_id
     * 7 advisor 8 desk 9 match 10 source 11 arrived 12 departed 13 vip 14 brief */
    [S_ARRIVALS] = "SELECT r.id, r.vin, r.plate, r.customer_id, c.name, r.appointment_id, "
                   "r.advisor_id, ad.name, r.desk, r.match, r.source, r.arrived_ms, "
                   "r.departed_ms, r.vip, r.brief FROM arrival r "
                   "LEFT JOIN customer c ON c.customer_id = r.customer_id "
                   "LEFT JOIN advisor ad ON ad.advisor_id = r.advisor_id "
                   "WHERE r.day = ?1 ORDER BY r.arrived_ms, r.id",
    [S_AUDIT] = "SELECT id, ts_ms, user_id, remote, action, customers FROM audit "
                "ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    [S_AUDIT_COUNT] = "SELECT count(*) FROM audit",
};

/* ---- the struct ---------------------------------------------------------- */

struct login_job {
	struct login_job *next;
	uint64_t ticket;
	int known; /* the user exists (and is enabled) */
	int ok;    /* result: the password matched */
	struct auth_user user;
	char typed[AUTH_USER_MAX + 1];
	char hash[AUTH_HASH_MAX];
	char password[AUTH_PASSWORD_MAX + 1];
};

struct fail_slot {
	char user[AUTH_USER_MAX + 1];
	int count;
	int64_t first_ms;  /* first failure of the window */
	int64_t locked_ms; /* refused until then */
};

struct threshold {
	char vin[PW_VIN_LEN + 1];
	double due_km, limit_km;
};

struct api {
	struct api_options opt;
	struct store *st;
	sqlite3 *db;
	struct events *ev;
	struct alerts *al;
	struct sweep *sw;
	struct brief *br;
	struct import *im;
	sqlite3_stmt *stmt[S__COUNT];
	int tz_offset_s;
	struct fail_slot fails[FAIL_SLOTS];
	struct threshold thr[THRESHOLDS_MAX]; /* collected inside a service-visit transaction */
	int n_thr;
	int outstanding; /* logins handed to the worker, not yet taken back */

	/* the login worker; jobs and done under `lock` */
	pthread_t worker;
	int worker_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	struct login_job *jobs, *jobs_tail;
	struct login_job *done, *done_tail;
};

/* One request being handled. */
struct call {
	struct api *a;
	const struct api_request *rq;
	struct api_response *out;
	struct auth_user user;
	int has_user;
	char seg[128]; /* the path's "*" segment */
	int64_t now_ms;
	char customers[AUDIT_IDS_MAX * 12]; /* ids shown, comma-separated */
	int n_customers;
};

/* ---- pure helpers ------------------------------------------------------------ */

const char *api_arg(const char *const *args, int n, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < n; i++) {
		const char *kv = args[i];

		if (kv && strncmp(kv, name, len) == 0 && (kv[len] == '=' || kv[len] == '\0'))
			return kv[len] == '=' ? kv + len + 1 : kv + len;
	}
	return NULL;
}

int api_arg_int(const char *const *args, int n, const char *name, long min, long max, long def,
                long *out)
{
	const char *v = api_arg(args, n, name);
	char *end;
	long x;

	if (!v || !*v) {
		*out = def;
		return PW_OK;
	}
	if (!((*v >= '0' && *v <= '9') || (*v == '-' && v[1] >= '0' && v[1] <= '9')))
		return PW_EINVAL;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return PW_EINVAL;
	*out = x;
	return PW_OK;
}

int api_path_match(const char *pattern, const char *path, const char **seg, size_t *seg_len)
{
	const char *p = pattern, *s = path;
	int got = 0;

	while (*p) {
		if (*p == '*') {
			const char *start = s;

			while (*s && *s != '/')
				s++;
			if (s == start)
				return 0;
			if (!got && seg) {
				*seg = start;
				*seg_len = (size_t)(s - start);
			}
			got = 1;
			p++;
		} else if (*p++ != *s++) {
			return 0;
		}
	}
	return *s == '\0';
}

int api_vin_valid(const char *s, size_t len)
{
	if (len != PW_VIN_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) || c == 'I' || c == 'O' ||
		    c == 'Q')
			return 0;
	}
	return 1;
}

long api_utf8_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;

	while (*p) {
		int more;

		if (*p < 0x80)
			more = 0;
		else if ((*p & 0xE0) == 0xC0 && *p >= 0xC2)
			more = 1;
		else if ((*p & 0xF0) == 0xE0)
			more = 2;
		else if ((*p & 0xF8) == 0xF0 && *p <= 0xF4)
			more = 3;
		else
			return -1;
		p++;
		for (int i = 0; i < more; i++, p++)
			if ((*p & 0xC0) != 0x80)
				return -1;
		n++;
	}
	return n;
}

/* ---- responses --------------------------------------------------------------- */

/* Takes the reference to `root`. */
static void reply_json(struct call *k, int status, json_t *root)
{
	char *text = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;

	json_decref(root);
	free(k->out->body);
	k->out->body = NULL;
	k->out->body_len = 0;
	if (!text) {
		k->out->status = 500;
		text = strdup("{\"error\":\"internal error\"}");
		if (!text)
			return;
	} else {
		k->out->status = status;
	}
	k->out->body = text;
	k->out->body_len = strlen(text);
}

static void reply_error(struct call *k, int status, const char *message)
{
	reply_json(k, status, json_pack("{s:s}", "error", message));
}

static void reply_none(struct call *k, int status)
{
	free(k->out->body);
	k->out->body = NULL;
	k->out->body_len = 0;
	k->out->status = status;
}

/* ---- JSON from columns --------------------------------------------------------- */

static json_t *jstr(const char *s)
{
	json_t *j = s ? json_string(s) : NULL;

	return j ? j : json_null();
}

static json_t *col_text(sqlite3_stmt *s, int i)
{
	return jstr((const char *)sqlite3_column_text(s, i));
}

static json_t *col_real(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? json_null()
	                                                : json_real(sqlite3_column_double(s, i));
}

static json_t *col_int(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? json_null()
	                                                : json_integer(sqlite3_column_int64(s, i));
}

/* A JSON text column parsed; null when NULL or not JSON. */
static json_t *col_json(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;

	return j ? j : json_null();
}

static void set(json_t *obj, const char *key, json_t *v)
{
	json_object_set_new(obj, key, v ? v : json_null());
}

/* ---- statements, transactions -------------------------------------------------- */

static sqlite3_stmt *stmt(struct api *a, enum stmt_id id)
{
	sqlite3_stmt *s = a->stmt[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int exec(struct api *a, const char *sql)
{
	if (sqlite3_exec(a->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_error("api", "%s: %s", sql, sqlite3_errmsg(a->db));
		return PW_EIO;
	}
	return PW_OK;
}

static void rollback(struct api *a)
{
	if (!sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static int db_fail(struct call *k, const char *what)
{
	log_error("api", "%s %s: %s: %s", k->rq->method, k->rq->path, what,
	          sqlite3_errmsg(k->a->db));
	rollback(k->a);
	reply_error(k, 500, "internal error");
	return PW_EIO;
}

/* ---- audit ----------------------------------------------------------------------- */

/* Remembers that customer `id` was shown (first AUDIT_IDS_MAX, once each). */
static void shown(struct call *k, const char *id)
{
	size_t len, have = strlen(k->customers);

	if (!id || !*id || k->n_customers >= AUDIT_IDS_MAX)
		return;
	len = strlen(id);
	for (const char *p = k->customers; (p = strstr(p, id)) != NULL; p += len)
		if ((p == k->customers || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return;
	if (have + len + 2 > sizeof(k->customers))
		return;
	if (have)
		k->customers[have++] = ',';
	memcpy(k->customers + have, id, len + 1);
	k->n_customers++;
}

/* One audit row for a response that showed customers. */
static int audit_write(struct call *k)
{
	char action[512];
	int n = snprintf(action, sizeof(action), "%s %s", k->rq->method, k->rq->path), rc;

	if (!k->n_customers || !k->has_user)
		return PW_OK;
	for (int i = 0; i < k->rq->n_args && n > 0 && (size_t)n < sizeof(action); i++)
		n += snprintf(action + n, sizeof(action) - (size_t)n, "%c%s", i ? '&' : '?',
		              k->rq->args[i]);
	wgate_enter(k->a->opt.gate);
	rc = auth_audit(k->a->db, clock_real_ms(), k->user.user_id,
	                k->rq->remote ? k->rq->remote : "", action, k->customers);
	wgate_leave(k->a->opt.gate);
	if (rc != PW_OK) {
		log_error("api", "cannot write the audit row for %s %s", k->rq->method,
		          k->rq->path);
		return PW_EIO;
	}
	return PW_OK;
}

/* ---- vehicles ------------------------------------------------------------------- */

static const char *const level_names[] = {"ok", "info", "warning", "critical"};

static int dtc_status_of(const char *s)
{
	if (!s)
		return 0;
	if (strcmp(s, "pending") == 0)
		return PW_DTC_PENDING;
	if (strcmp(s, "confirmed") == 0)
		return PW_DTC_CONFIRMED;
	if (strcmp(s, "permanent") == 0)
		return PW_DTC_PERMANENT;
	return 0;
}

struct summary {
	json_t *obj;
	int worst;
	char sort_plate[64]; /* "" sorts last */
	char vin[PW_VIN_LEN + 1];
};

static int max_i(int a, int b)
{
	return a > b ? a : b;
}

/* A vehicle summary from a row of S_SUMMARY; *worst = its worst badge. */
static json_t *summary_from_row(struct api *a, struct call *k, sqlite3_stmt *s, int *worst)
{
	const struct pw_rules_config *r = &a->opt.cfg->rules;
	int tyres = 0, faults = 0, battery = 0, service, insurance, fuel;
	json_t *o = json_object(), *badges = json_object(), *cust = json_null();
	const char *ign = (const char *)sqlite3_column_text(s, 9);
	json_t *dtc;

	for (int w = 0; w < 4; w++) {
		if (sqlite3_column_type(s, 13 + 2 * w) != SQLITE_NULL)
			tyres = max_i(tyres, (int)rules_tyre_pressure_severity(
			                         r, sqlite3_column_double(s, 13 + 2 * w)));
		if (sqlite3_column_type(s, 14 + 2 * w) != SQLITE_NULL)
			tyres = max_i(tyres, (int)rules_tyre_tread_severity(
			                         r, sqlite3_column_double(s, 14 + 2 * w)));
	}
	dtc = col_json(s, 21);
	if (json_is_array(dtc)) {
		size_t i;
		json_t *d;

		json_array_foreach(dtc, i, d)
		{
			int st = dtc_status_of(json_string_value(json_object_get(d, "status")));

			if (st)
				faults =
				    max_i(faults, (int)rules_dtc_severity(
				                      st, json_is_true(json_object_get(d, "mil"))));
		}
	}
	json_decref(dtc);
	if (sqlite3_column_type(s, 8) != SQLITE_NULL && !(ign && strcmp(ign, "off") != 0))
		battery = (int)rules_battery_severity(r, sqlite3_column_double(s, 8));
	service = sqlite3_column_int(s, 23);
	insurance = sqlite3_column_int(s, 24);
	fuel = sqlite3_column_int(s, 25) ? 2 : 0; /* fuel_anomaly: warning */
	tyres = tyres > 3 ? 3 : tyres;
	faults = faults > 3 ? 3 : faults;
	battery = battery > 3 ? 3 : battery;
	service = service > 3 ? 3 : service;
	insurance = insurance > 3 ? 3 : insurance;

	if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
		cust = json_object();
		set(cust, "id", col_text(s, 4));
		set(cust, "name", col_text(s, 5));
		shown(k, (const char *)sqlite3_column_text(s, 4));
	}
	set(o, "vin", col_text(s, 0));
	set(o, "plate", col_text(s, 1));
	set(o, "brand", col_text(s, 2));
	set(o, "model", col_text(s, 3));
	set(o, "customer", cust);
	set(o, "odometer_km", col_real(s, 6));
	set(o, "fuel_pct", col_real(s, 7));
	set(o, "battery_v", col_real(s, 8));
	set(o, "ignition", col_text(s, 9));
	set(o, "online", json_boolean(sqlite3_column_int(s, 10)));
	set(o, "seen_ts", sqlite3_column_int64(s, 11) > 0 ? col_int(s, 11) : json_null());
	set(o, "seq",
	    sqlite3_column_type(s, 12) != SQLITE_NULL && sqlite3_column_int64(s, 12) >= 0
	        ? col_int(s, 12)
	        : json_null());
	set(badges, "tyres", json_string(level_names[tyres]));
	set(badges, "faults", json_string(level_names[faults]));
	set(badges, "battery", json_string(level_names[battery]));
	set(badges, "fuel", json_string(level_names[fuel]));
	set(badges, "service", json_string(level_names[service]));
	set(badges, "insurance", json_string(level_names[insurance]));
	set(o, "badges", badges);
	*worst =
	    max_i(max_i(max_i(tyres, faults), max_i(battery, fuel)), max_i(service, insurance));
	return o;
}

static int summary_cmp(const void *pa, const void *pb)
{
	const struct summary *x = pa, *y = pb;
	int c;

	if (x->worst != y->worst)
		return y->worst - x->worst;
	if (!x->sort_plate[0] != !y->sort_plate[0])
		return x->sort_plate[0] ? -1 : 1;
	c = strcmp(x->sort_plate, y->sort_plate);
	return c ? c : strcmp(x->vin, y->vin);
}

static void h_vehicles(struct call *k)
{
	struct api *a = k->a;
	const char *q = api_arg(k->rq->args, k->rq->n_args, "q");
	long limit, offset;
	struct summary *rows = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	json_t *items;
	int rc;

	if (api_arg_int(k->rq->args, k->rq->n_args, "limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT,
	                &limit) ||
	    api_arg_int(k->rq->args, k->rq->n_args, "offset", 0, 100000000, 0, &offset)) {
		reply_error(k, 400, "limit must be 1-200 and offset 0 or more");
		return;
	}
	if (q && strlen(q) > 128) {
		reply_error(k, 400, "q is too long");
		return;
	}
	s = stmt(a, S_SUMMARY);
	bind_text_or_null(s, 1, q);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct summary *sm;
		const char *plate = (const char *)sqlite3_column_text(s, 1);

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct summary *nr = realloc(rows, ncap * sizeof(*rows));

			if (!nr)
				break;
			rows = nr;
			cap = ncap;
		}
		sm = &rows[n++];
		memset(sm, 0, sizeof(*sm));
		sm->obj = summary_from_row(a, k, s, &sm->worst);
		snprintf(sm->sort_plate, sizeof(sm->sort_plate), "%s", plate ? plate : "");
		snprintf(sm->vin, sizeof(sm->vin), "%s", (const char *)sqlite3_column_text(s, 0));
	}
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < n; i++)
			json_decref(rows[i].obj);
		free(rows);
		db_fail(k, "listing vehicles");
		return;
	}
	sqlite3_reset(s);
	if (n)
		qsort(rows, n, sizeof(*rows), summary_cmp);
	/* only the page's customers count as shown */
	k->customers[0] = '\0';
	k->n_customers = 0;
	items = json_array();
	for (size_t i = 0; i < n; i++) {
		if (i >= (size_t)offset && i < (size_t)offset + (size_t)limit) {
			json_t *c = json_object_get(rows[i].obj, "customer");

			shown(k, json_string_value(json_object_get(c, "id")));
			json_array_append(items, rows[i].obj);
		}
		json_decref(rows[i].obj);
	}
	free(rows);
	reply_json(k, 200,
	           json_pack("{s:I,s:I,s:I,s:o}", "total", (json_int_t)n, "limit",
	                     (json_int_t)limit, "offset", (json_int_t)offset, "items", items));
}

/* ---- alerts (shared) ---------------------------------------------------------- */

static json_t *alert_from_row(struct call *k, sqlite3_stmt *s)
{
	json_t *o = json_object();

	shown(k, (const char *)sqlite3_column_text(s, 3));
	set(o, "id", col_int(s, 0));
	set(o, "vin", col_text(s, 1));
	set(o, "plate", col_text(s, 2));
	set(o, "customer_name", col_text(s, 4));
	set(o, "kind", col_text(s, 5));
	set(o, "type", col_text(s, 6));
	set(o, "subject", col_text(s, 7));
	set(o, "severity", col_text(s, 8));
	set(o, "status", col_text(s, 9));
	set(o, "active", json_boolean(sqlite3_column_int(s, 10)));
	set(o, "opened_ts", col_int(s, 11));
	set(o, "updated_ts", col_int(s, 12));
	set(o, "detail", col_json(s, 13));
	return o;
}

static json_t *log_from_row(sqlite3_stmt *s)
{
	json_t *o = json_object();

	set(o, "alert_id", col_int(s, 0));
	set(o, "ts", col_int(s, 1));
	set(o, "actor", col_text(s, 2));
	set(o, "action", col_text(s, 3));
	set(o, "status", col_text(s, 4));
	set(o, "note", col_text(s, 5));
	return o;
}

struct alert_filter {
	const char *status; /* "active", "all" or one status */
	const char *kind;   /* NULL: any */
	const char *vin;    /* NULL: any */
	int64_t id;         /* 0: any */
	long limit, offset;
};

static void bind_alert_filter(sqlite3_stmt *s, const struct alert_filter *f)
{
	sqlite3_bind_text(s, 1, f->status, -1, SQLITE_TRANSIENT);
	bind_text_or_null(s, 2, f->kind);
	bind_text_or_null(s, 3, f->vin);
	if (f->id)
		sqlite3_bind_int64(s, 4, f->id);
	else
		sqlite3_bind_null(s, 4);
}

/* The alerts matching `f` into a new array *out. */
static int alerts_query(struct call *k, const struct alert_filter *f, json_t **out)
{
	sqlite3_stmt *s = stmt(k->a, S_ALERTS);
	json_t *arr = json_array();
	int rc;

	bind_alert_filter(s, f);
	sqlite3_bind_int64(s, 5, f->limit);
	sqlite3_bind_int64(s, 6, f->offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, alert_from_row(k, s));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return PW_EIO;
	}
	*out = arr;
	return PW_OK;
}

static int log_query(struct call *k, enum stmt_id id, const char *vin, int64_t alert_id,
                     json_t **out)
{
	sqlite3_stmt *s = stmt(k->a, id);
	json_t *arr = json_array();
	int rc;

	if (vin)
		sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(s, 1, alert_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, log_from_row(s));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return PW_EIO;
	}
	*out = arr;
	return PW_OK;
}

/* ---- reminders (shared) -------------------------------------------------------- */

/* The day a reminder is due (docs/api.md "Reminder"). */
static int32_t reminder_due_day(struct api *a, const char *kind, json_t *detail, int64_t opened_ms)
{
	int32_t d1 = INT32_MAX, d2 = INT32_MAX;
	const char *s1 = NULL, *s2 = NULL;

	if (strcmp(kind, "maintenance") == 0) {
		s1 = json_string_value(json_object_get(detail, "limit_date"));
		s2 = json_string_value(json_object_get(detail, "predicted_date"));
	} else if (strcmp(kind, "insurance") == 0) {
		s1 = json_string_value(json_object_get(detail, "expiry_date"));
	} else if (strcmp(kind, "followup") == 0) {
		s1 = json_string_value(json_object_get(detail, "due_date"));
	}
	if (s1 && rules_parse_date(s1, &d1) != PW_OK)
		d1 = INT32_MAX;
	if (s2 && rules_parse_date(s2, &d2) != PW_OK)
		d2 = INT32_MAX;
	if (d2 < d1)
		d1 = d2;
	if (d1 == INT32_MAX) /* lost customers, or a detail without dates: due when raised */
		d1 = rules_local_day(opened_ms, a->tz_offset_s);
	return d1;
}

/* Why to call, in Chinese, from the event's fields. */
static void reminder_reason(const char *type, json_t *d, char *buf, size_t len)
{
	const char *kind_zh;
	json_t *v;

	if (strcmp(type, "maintenance_overdue") == 0 || strcmp(type, "maintenance_due") == 0) {
		int overdue = type[12] == 'o';
		double km = json_number_value(json_object_get(d, "remaining_km"));
		json_int_t days = json_integer_value(json_object_get(d, "days_remaining"));

		if (overdue)
			snprintf(buf, len,
			         "保养已逾期（保养期限 %s / %.0f 公里），请联系客户尽快回厂保养",
			         json_string_value(json_object_get(d, "limit_date"))
			             ? json_string_value(json_object_get(d, "limit_date"))
			             : "-",
			         json_number_value(json_object_get(d, "limit_km")));
		else
			snprintf(buf, len, "保养即将到期：剩余约 %.0f 公里或 %lld 天，请预约保养",
			         km, (long long)days);
	} else if (strcmp(type, "insurance_due") == 0) {
		const char *pk = json_string_value(json_object_get(d, "policy_kind"));

		kind_zh = pk && strcmp(pk, "compulsory") == 0 ? "交强险" : "商业险";
		v = json_object_get(d, "insurer");
		snprintf(buf, len, "%s%s将于 %s 到期（剩余 %lld 天），请联系续保",
		         json_string_value(v) ? json_string_value(v) : "", kind_zh,
		         json_string_value(json_object_get(d, "expiry_date"))
		             ? json_string_value(json_object_get(d, "expiry_date"))
		             : "-",
		         (long long)json_integer_value(json_object_get(d, "days_left")));
	} else if (strcmp(type, "lost_customer") == 0) {
		snprintf(buf, len, "已 %lld 天未到店，但车辆仍在使用，请回访客户",
		         (long long)json_integer_value(json_object_get(d, "days_since")));
	} else if (strcmp(type, "followup_due") == 0) {
		const char *reason = json_string_value(json_object_get(d, "reason"));

		if (reason && strcmp(reason, "purchase") == 0)
			snprintf(buf, len, "购车（%s）后回访",
			         json_string_value(json_object_get(d, "purchase_date"))
			             ? json_string_value(json_object_get(d, "purchase_date"))
			             : "-");
		else
			snprintf(buf, len, "到店服务（%s）后回访",
			         json_string_value(json_object_get(d, "visit_date"))
			             ? json_string_value(json_object_get(d, "visit_date"))
			             : "-");
	} else {
		snprintf(buf, len, "请联系客户");
	}
}

struct reminder {
	json_t *obj;
	int32_t due;
	int64_t id;
};

static int reminder_cmp(const void *pa, const void *pb)
{
	const struct reminder *x = pa, *y = pb;

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Reminders (of `type`, NULL: any; of `vin`, NULL: any) due on or before
 * `until` (INT32_MAX: all), soonest first, into a new array. */
static int reminders_query(struct call *k, const char *vin, const char *type, int32_t until,
                           json_t **out)
{
	struct api *a = k->a;
	sqlite3_stmt *s = stmt(a, S_REMINDERS);
	struct reminder *rows = NULL;
	size_t n = 0, cap = 0;
	json_t *arr;
	int rc;

	bind_text_or_null(s, 1, vin);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 1);
		const char *kind = (const char *)sqlite3_column_text(s, 11);
		json_t *detail, *o, *cust = json_null();
		char date[16], reason[512];
		int32_t due;

		if (!t || !kind || (type && strcmp(type, t) != 0))
			continue;
		detail = col_json(s, 9);
		due = reminder_due_day(a, kind, detail, sqlite3_column_int64(s, 10));
		if (due > until) {
			json_decref(detail);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct reminder *nr = realloc(rows, ncap * sizeof(*rows));

			if (!nr) {
				json_decref(detail);
				break;
			}
			rows = nr;
			cap = ncap;
		}
		rules_format_date(due, date, sizeof(date));
		reminder_reason(t, detail, reason, sizeof(reason));
		json_decref(detail);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
			cust = json_object();
			set(cust, "id", col_text(s, 4));
			set(cust, "name", col_text(s, 5));
			set(cust, "phone", col_text(s, 6));
			shown(k, (const char *)sqlite3_column_text(s, 4));
		}
		o = json_object();
		set(o, "alert_id", col_int(s, 0));
		set(o, "type", col_text(s, 1));
		set(o, "vin", col_text(s, 2));
		set(o, "plate", col_text(s, 3));
		set(o, "customer", cust);
		set(o, "due_date", json_string(date));
		set(o, "severity", col_text(s, 7));
		set(o, "status", col_text(s, 8));
		set(o, "reason", jstr(reason));
		rows[n].obj = o;
		rows[n].due = due;
		rows[n].id = sqlite3_column_int64(s, 0);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		for (size_t i = 0; i < n; i++)
			json_decref(rows[i].obj);
		free(rows);
		return PW_EIO;
	}
	if (n)
		qsort(rows, n, sizeof(*rows), reminder_cmp);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, rows[i].obj);
	free(rows);
	*out = arr;
	return PW_OK;
}

static int32_t today(struct call *k)
{
	return rules_local_day(k->now_ms, k->a->tz_offset_s);
}

static const char *const reminder_types[] = {"maintenance_due", "maintenance_overdue",
                                             "insurance_due", "lost_customer", "followup_due"};

static void h_reminders(struct call *k)
{
	const char *type = api_arg(k->rq->args, k->rq->n_args, "type");
	long within;
	json_t *items;

	if (api_arg_int(k->rq->args, k->rq->n_args, "within_days", 0, 365, 7, &within)) {
		reply_error(k, 400, "within_days must be 0-365");
		return;
	}
	if (type && !*type)
		type = NULL;
	if (type) {
		size_t i;

		for (i = 0; i < PW_ARRAY_LEN(reminder_types); i++)
			if (strcmp(type, reminder_types[i]) == 0)
				break;
		if (i == PW_ARRAY_LEN(reminder_types)) {
			reply_error(k, 400, "unknown reminder type");
			return;
		}
	}
	if (reminders_query(k, NULL, type, today(k) + (int32_t)within, &items) != PW_OK) {
		db_fail(k, "listing reminders");
		return;
	}
	reply_json(
	    k, 200,
	    json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(items), "items", items));
}

/* A `date` argument (default today) as a day number; PW_EINVAL if malformed. */
static int date_arg(struct call *k, const char *name, int32_t *day)
{
	const char *v = api_arg(k->rq->args, k->rq->n_args, name);

	if (!v || !*v) {
		*day = today(k);
		return PW_OK;
	}
	if (strlen(v) != 10 || rules_parse_date(v, day) != PW_OK)
		return PW_EINVAL;
	return PW_OK;
}

static void h_followups(struct call *k)
{
	int32_t due;
	json_t *items;

	if (date_arg(k, "due", &due) != PW_OK) {
		reply_error(k, 400, "due must be a date YYYY-MM-DD");
		return;
	}
	if (reminders_query(k, NULL, "followup_due", due, &items) != PW_OK) {
		db_fail(k, "listing follow-ups");
		return;
	}
	reply_json(
	    k, 200,
	    json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(items), "items", items));
}

/* ---- the vehicle page ---------------------------------------------------------- */

static json_t *state_from_row(sqlite3_stmt *s)
{
	static const char *const fields[] = {
	    "odometer_km", "speed_kmh",    "ignition", "fuel_pct", "fuel_l_per_100km",
	    "battery_v",   "engine_hours", "lat",      "lon",      "heading_deg"};
	static const char *const wheels[] = {"fl", "fr", "rl", "rr"};
	json_t *o = json_object(), *tires = json_object(), *dtc = col_json(s, 22), *list;

	for (int i = 0; i < (int)PW_ARRAY_LEN(fields); i++)
		set(o, fields[i], i == 2 ? col_text(s, i) : col_real(s, i));
	for (int w = 0; w < 4; w++) {
		int c = 10 + 3 * w;

		if (sqlite3_column_type(s, c) == SQLITE_NULL &&
		    sqlite3_column_type(s, c + 1) == SQLITE_NULL &&
		    sqlite3_column_type(s, c + 2) == SQLITE_NULL)
			continue;
		set(tires, wheels[w],
		    json_pack("{s:o,s:o,s:o}", "kpa", col_real(s, c), "tread_mm",
		              col_real(s, c + 1), "temp_c", col_real(s, c + 2)));
	}
	set(o, "tires", tires);
	list = json_array();
	if (json_is_array(dtc)) {
		size_t i;
		json_t *d;

		json_array_foreach(dtc, i, d)
		{
			json_t *e = json_object();

			set(e, "code", json_incref(json_object_get(d, "code")));
			set(e, "status", json_incref(json_object_get(d, "status")));
			set(e, "mil", json_boolean(json_is_true(json_object_get(d, "mil"))));
			set(e, "description", json_null());
			json_array_append_new(list, e);
		}
	}
	json_decref(dtc);
	set(o, "dtc", list);
	set(o, "ts", sqlite3_column_int64(s, 23) > 0 ? col_int(s, 23) : json_null());
	set(o, "seq", sqlite3_column_int64(s, 24) >= 0 ? col_int(s, 24) : json_null());
	set(o, "online", json_boolean(sqlite3_column_int(s, 25)));
	return o;
}

/* Thins `pts` (an array) to at most SERIES_POINTS_MAX, keeping the last. */
static json_t *thin(json_t *pts)
{
	size_t n = json_array_size(pts), stride;
	json_t *out;

	if (n <= SERIES_POINTS_MAX)
		return pts;
	stride = (n + SERIES_POINTS_MAX - 1) / SERIES_POINTS_MAX;
	out = json_array();
	for (size_t i = (n - 1) % stride; i < n; i += stride)
		json_array_append(out, json_array_get(pts, i));
	json_decref(pts);
	return out;
}

static int series_query(struct call *k, const char *vin, json_t **out)
{
	sqlite3_stmt *s = stmt(k->a, S_SERIES);
	json_t *odo = json_array(), *fuel = json_array(), *tread = json_array();
	int rc;

	sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, k->now_ms - SERIES_DAYS * DAY_MS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_int_t ts = sqlite3_column_int64(s, 0);
		int any = 0;

		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			json_array_append_new(odo,
			                      json_pack("[I,f]", ts, sqlite3_column_double(s, 1)));
		if (sqlite3_column_type(s, 2) != SQLITE_NULL)
			json_array_append_new(fuel,
			                      json_pack("[I,f]", ts, sqlite3_column_double(s, 2)));
		for (int w = 0; w < 4; w++)
			any |= sqlite3_column_type(s, 3 + w) != SQLITE_NULL;
		if (any)
			json_array_append_new(tread, json_pack("[I,o,o,o,o]", ts, col_real(s, 3),
			                                       col_real(s, 4), col_real(s, 5),
			                                       col_real(s, 6)));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(odo);
		json_decref(fuel);
		json_decref(tread);
		return PW_EIO;
	}
	*out = json_pack("{s:o,s:o,s:o}", "odometer_km", thin(odo), "fuel_l_per_100km", thin(fuel),
	                 "tread_mm", thin(tread));
	return *out ? PW_OK : PW_ENOMEM;
}

static int rows_query(struct call *k, enum stmt_id id, const char *vin, int64_t since, json_t **out)
{
	sqlite3_stmt *s = stmt(k->a, id);
	json_t *arr = json_array();
	int rc;

	sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT);
	if (id == S_APPOINTMENTS)
		sqlite3_bind_int64(s, 2, since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object();

		if (id == S_SERVICES) {
			set(o, "service_id", col_text(s, 0));
			set(o, "date", col_text(s, 1));
			set(o, "odometer_km", col_real(s, 2));
			set(o, "kind", col_text(s, 3));
		} else {
			set(o, "appointment_id", col_text(s, 0));
			set(o, "start", col_text(s, 1));
			set(o, "service", col_text(s, 2));
			set(o, "advisor_id", col_text(s, 3));
			set(o, "advisor", col_text(s, 4));
		}
		json_array_append_new(arr, o);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return PW_EIO;
	}
	*out = arr;
	return PW_OK;
}

static int customer_query(struct call *k, const char *id, json_t **out)
{
	sqlite3_stmt *s = stmt(k->a, S_CUSTOMER);
	int rc;

	*out = json_null();
	if (!id)
		return PW_OK;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		json_decref(*out);
		*out = json_object();
		set(*out, "id", col_text(s, 0));
		set(*out, "name", col_text(s, 1));
		set(*out, "gender", col_text(s, 2));
		set(*out, "phone", col_text(s, 3));
		set(*out, "tier", col_text(s, 4));
		set(*out, "advisor_id", col_text(s, 5));
		set(*out, "display_consent", json_boolean(sqlite3_column_int(s, 6)));
		set(*out, "advisor", col_text(s, 7));
		shown(k, id);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? PW_OK : PW_EIO;
}

static void h_vehicle(struct call *k)
{
	struct api *a = k->a;
	const char *vin = k->seg;
	struct alert_filter f = {.status = "active", .vin = vin, .limit = 1000};
	json_t *root = NULL, *summary = NULL, *cust = NULL, *state = json_null(), *alerts = NULL,
	       *history = NULL, *reminders = NULL, *services = NULL, *appts = NULL, *brief = NULL,
	       *series = NULL;
	char customer_id[IMPORT_ID_MAX + 1] = "";
	sqlite3_stmt *s;
	int worst, rc;

	if (!api_vin_valid(vin, strlen(vin))) {
		reply_error(k, 400, "malformed vin");
		return;
	}
	if (exec(a, "BEGIN") != PW_OK) { /* one consistent read */
		reply_error(k, 500, "internal error");
		return;
	}
	s = stmt(a, S_SUMMARY);
	sqlite3_bind_null(s, 1);
	sqlite3_bind_text(s, 2, vin, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		summary = summary_from_row(a, k, s, &worst);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL)
			snprintf(customer_id, sizeof(customer_id), "%s",
			         (const char *)sqlite3_column_text(s, 4));
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE) {
		rollback(a);
		reply_error(k, 404, "no such vehicle");
		return;
	}
	if (rc != SQLITE_ROW)
		goto fail;

	s = stmt(a, S_STATE);
	sqlite3_bind_text(s, 1, vin, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		json_decref(state);
		state = state_from_row(s);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;

	if (customer_query(k, customer_id[0] ? customer_id : NULL, &cust) != PW_OK ||
	    alerts_query(k, &f, &alerts) != PW_OK ||
	    log_query(k, S_VIN_LOG, vin, 0, &history) != PW_OK ||
	    reminders_query(k, vin, NULL, INT32_MAX, &reminders) != PW_OK ||
	    rows_query(k, S_SERVICES, vin, 0, &services) != PW_OK ||
	    rows_query(k, S_APPOINTMENTS, vin, rules_day_start_ms(today(k), a->tz_offset_s),
	               &appts) != PW_OK ||
	    series_query(k, vin, &series) != PW_OK)
		goto fail;
	rc = brief_vehicle(a->br, vin, k->now_ms, &brief);
	if (rc == PW_ENOTFOUND)
		brief = json_null();
	else if (rc != PW_OK)
		goto fail;
	exec(a, "COMMIT");

	root = json_object();
	set(root, "vehicle", summary);
	set(root, "customer", cust);
	set(root, "state", state);
	set(root, "alerts", alerts);
	set(root, "alert_history", history);
	set(root, "reminders", reminders);
	set(root, "services", services);
	set(root, "appointments", appts);
	set(root, "brief", brief);
	set(root, "series", series);
	reply_json(k, 200, root);
	return;
fail:
	json_decref(summary);
	json_decref(cust);
	json_decref(state);
	json_decref(alerts);
	json_decref(history);
	json_decref(reminders);
	json_decref(services);
	json_decref(appts);
	json_decref(brief);
	json_decref(series);
	db_fail(k, "reading the vehicle page");
}

/* ---- alerts -------------------------------------------------------------------- */

static const char *const statuses[] = {"open",   "acknowledged", "contacted",
                                       "booked", "resolved",     "dismissed"};

static int status_known(const char *s)
{
	for (size_t i = 0; i < PW_ARRAY_LEN(statuses); i++)
		if (strcmp(s, statuses[i]) == 0)
			return 1;
	return 0;
}

static void h_alerts(struct call *k)
{
	const char *const *args = k->rq->args;
	int n = k->rq->n_args;
	struct alert_filter f = {.status = api_arg(args, n, "status"),
	                         .kind = api_arg(args, n, "kind"),
	                         .vin = api_arg(args, n, "vin")};
	sqlite3_stmt *s;
	json_int_t total;
	json_t *items;

	if (!f.status || !*f.status)
		f.status = "active";
	if (strcmp(f.status, "active") != 0 && strcmp(f.status, "all") != 0 &&
	    !status_known(f.status)) {
		reply_error(k, 400, "status must be active, all or an alert status");
		return;
	}
	if (f.vin && *f.vin && !api_vin_valid(f.vin, strlen(f.vin))) {
		reply_error(k, 400, "malformed vin");
		return;
	}
	if (api_arg_int(args, n, "limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT, &f.limit) ||
	    api_arg_int(args, n, "offset", 0, 100000000, 0, &f.offset)) {
		reply_error(k, 400, "limit must be 1-200 and offset 0 or more");
		return;
	}
	s = stmt(k->a, S_ALERTS_COUNT);
	bind_alert_filter(s, &f);
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_fail(k, "counting alerts");
		return;
	}
	total = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (alerts_query(k, &f, &items) != PW_OK) {
		db_fail(k, "listing alerts");
		return;
	}
	reply_json(k, 200,
	           json_pack("{s:I,s:I,s:I,s:o}", "total", total, "limit", (json_int_t)f.limit,
	                     "offset", (json_int_t)f.offset, "items", items));
}

/* The alert id of the path; 0 if malformed. */
static int64_t alert_id_of(struct call *k)
{
	char *end;
	long long id;

	if (k->seg[0] < '1' || k->seg[0] > '9')
		return 0;
	errno = 0;
	id = strtoll(k->seg, &end, 10);
	return errno || *end ? 0 : (int64_t)id;
}

/* Answers the alert `id` with its log (200), or 404. */
static void reply_alert(struct call *k, int64_t id)
{
	struct alert_filter f = {.status = "all", .id = id, .limit = 1};
	json_t *arr, *log, *alert;

	if (alerts_query(k, &f, &arr) != PW_OK) {
		db_fail(k, "reading an alert");
		return;
	}
	alert = json_array_get(arr, 0);
	if (!alert) {
		json_decref(arr);
		reply_error(k, 404, "no such alert");
		return;
	}
	json_incref(alert);
	json_decref(arr);
	if (log_query(k, S_ALERT_LOG, NULL, id, &log) != PW_OK) {
		json_decref(alert);
		db_fail(k, "reading an alert's log");
		return;
	}
	set(alert, "log", log);
	reply_json(k, 200, alert);
}

static void h_alert_get(struct call *k)
{
	int64_t id = alert_id_of(k);

	if (!id) {
		reply_error(k, 400, "malformed alert id");
		return;
	}
	reply_alert(k, id);
}

/* The request body as a JSON object (a new reference), or NULL with a 400. */
static json_t *body_object(struct call *k)
{
	json_error_t err;
	json_t *o;

	if (!k->rq->body || !k->rq->body_len) {
		reply_error(k, 400, "expected a JSON object");
		return NULL;
	}
	o = json_loadb(k->rq->body, k->rq->body_len, JSON_REJECT_DUPLICATES, &err);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		reply_error(k, 400, "expected a JSON object");
		return NULL;
	}
	return o;
}

static void h_alert_post(struct call *k)
{
	struct api *a = k->a;
	int64_t id = alert_id_of(k);
	json_t *body, *jstatus, *jnote;
	const char *status, *note = NULL;
	int rc;

	if (!id) {
		reply_error(k, 400, "malformed alert id");
		return;
	}
	body = body_object(k);
	if (!body)
		return;
	jstatus = json_object_get(body, "status");
	jnote = json_object_get(body, "note");
	status = json_string_value(jstatus);
	if (!status || !status_known(status) || strcmp(status, "open") == 0) {
		json_decref(body);
		reply_error(
		    k, 400,
		    "status must be acknowledged, contacted, booked, dismissed or resolved");
		return;
	}
	if (jnote && !json_is_null(jnote)) {
		note = json_string_value(jnote);
		if (!note || strlen(note) != json_string_length(jnote) ||
		    api_utf8_len(note) > NOTE_MAX_CHARS) {
			json_decref(body);
			reply_error(k, 400, "note must be a string of at most 1000 characters");
			return;
		}
	}
	wgate_enter(a->opt.gate);
	if (exec(a, "BEGIN IMMEDIATE") != PW_OK) {
		wgate_leave(a->opt.gate);
		json_decref(body);
		reply_error(k, 500, "internal error");
		return;
	}
	rc = alerts_set_status(a->al, id, status, k->user.user_id, note, k->now_ms);
	json_decref(body);
	if (rc == PW_OK && exec(a, "COMMIT") == PW_OK) {
		wgate_leave(a->opt.gate);
		reply_alert(k, id);
		return;
	}
	rollback(a);
	wgate_leave(a->opt.gate);
	if (rc == PW_ENOTFOUND)
		reply_error(k, 404, "no such alert");
	else if (rc == PW_EEXIST)
		reply_error(k, 409, "the alert is already resolved or dismissed");
	else if (rc == PW_EINVAL)
		reply_error(k, 400, "bad status");
	else
		reply_error(k, 500, "internal error");
}

/* ---- arrivals ------------------------------------------------------------------ */

static void h_arrivals(struct call *k)
{
	sqlite3_stmt *s;
	char date[16];
	int32_t day;
	json_t *items;
	int rc;

	if (date_arg(k, "date", &day) != PW_OK) {
		reply_error(k, 400, "date must be YYYY-MM-DD");
		return;
	}
	rules_format_date(day, date, sizeof(date));
	s = stmt(k->a, S_ARRIVALS);
	sqlite3_bind_text(s, 1, date, -1, SQLITE_TRANSIENT);
	items = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object(), *cust = json_null();

		if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
			cust = json_pack("{s:o,s:o}", "id", col_text(s, 3), "name", col_text(s, 4));
			shown(k, (const char *)sqlite3_column_text(s, 3));
		}
		set(o, "id", col_int(s, 0));
		set(o, "vin", col_text(s, 1));
		set(o, "plate", col_text(s, 2));
		set(o, "customer", cust);
		set(o, "appointment_id", col_text(s, 5));
		set(o, "advisor_id", col_text(s, 6));
		set(o, "advisor", col_text(s, 7));
		set(o, "desk", col_text(s, 8));
		set(o, "match", col_text(s, 9));
		set(o, "source", col_text(s, 10));
		set(o, "arrived_ts", col_int(s, 11));
		set(o, "departed_ts", col_int(s, 12));
		set(o, "vip", json_boolean(sqlite3_column_int(s, 13)));
		set(o, "brief", col_json(s, 14));
		json_array_append_new(items, o);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		db_fail(k, "listing arrivals");
		return;
	}
	reply_json(k, 200, json_pack("{s:s,s:o}", "date", date, "items", items));
}

/* ---- appointments, service visits ------------------------------------------------ */

static void on_thresholds(void *ctx, const char *vin, double due_km, double limit_km)
{
	struct api *a = ctx;

	if (a->n_thr < THRESHOLDS_MAX) {
		snprintf(a->thr[a->n_thr].vin, sizeof(a->thr[0].vin), "%s", vin);
		a->thr[a->n_thr].due_km = due_km;
		a->thr[a->n_thr].limit_km = limit_km;
		a->n_thr++;
	}
}

/* The import_row error report as a 400 with "fields". */
static void reply_fields(struct call *k, const struct import_report *rep)
{
	json_t *fields = json_array();
	char first[320] = "bad input";

	for (int i = 0; i < rep->n_kept; i++)
		json_array_append_new(fields, json_pack("{s:s,s:s}", "column", rep->error[i].column,
		                                        "why", rep->error[i].why));
	if (rep->n_kept)
		import_error_format(rep, 0, first, sizeof(first));
	reply_json(k, 400, json_pack("{s:s,s:o}", "error", first, "fields", fields));
}

/* POST /api/appointments and /api/service-visits: one CSV row from a JSON
 * object, through import_row in a transaction of its own. */
static void post_row(struct call *k, enum import_kind kind)
{
	struct api *a = k->a;
	struct import_report *rep;
	const char *const *cols;
	const char *fields[IMPORT_COLUMNS_MAX];
	char numbuf[IMPORT_COLUMNS_MAX][48];
	json_t *body, *bad;
	int n = 0, rc;

	cols = import_kind_columns(kind, &n);
	body = body_object(k);
	if (!body)
		return;
	bad = json_array();
	for (int i = 0; i < n; i++) {
		json_t *v = json_object_get(body, cols[i]);

		fields[i] = "";
		if (!v || json_is_null(v))
			continue;
		if (json_is_string(v)) {
			fields[i] = json_string_value(v);
			if (strlen(fields[i]) != json_string_length(v))
				json_array_append_new(bad,
				                      json_pack("{s:s,s:s}", "column", cols[i],
				                                "why", "contains a NUL character"));
		} else if (json_is_number(v) && strcmp(cols[i], "odometer_km") == 0) {
			snprintf(numbuf[i], sizeof(numbuf[i]), "%.15g", json_number_value(v));
			fields[i] = numbuf[i];
		} else {
			json_array_append_new(bad, json_pack("{s:s,s:s}", "column", cols[i], "why",
			                                     strcmp(cols[i], "odometer_km") == 0
			                                         ? "expected a number"
			                                         : "expected a string"));
		}
	}
	if (json_array_size(bad)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "column %s: %s",
		         json_string_value(json_object_get(json_array_get(bad, 0), "column")),
		         json_string_value(json_object_get(json_array_get(bad, 0), "why")));
		reply_json(k, 400, json_pack("{s:s,s:o}", "error", msg, "fields", bad));
		json_decref(body);
		return;
	}
	json_decref(bad);
	rep = malloc(sizeof(*rep));
	if (!rep) {
		json_decref(body);
		reply_error(k, 500, "out of memory");
		return;
	}
	import_report_init(rep, "request");
	a->n_thr = 0;
	wgate_enter(a->opt.gate);
	if (exec(a, "BEGIN IMMEDIATE") != PW_OK) {
		wgate_leave(a->opt.gate);
		reply_error(k, 500, "internal error");
		goto out;
	}
	rc = import_row(a->im, kind, fields, n, 0, rep);
	if (rc == PW_OK && kind == IMPORT_SERVICES)
		rc = sweep_vehicle(a->sw, fields[1], k->now_ms);
	if (rc == PW_OK && exec(a, "COMMIT") == PW_OK) {
		wgate_leave(a->opt.gate);
		for (int i = 0; i < a->n_thr; i++)
			if (ctlq_push_thresholds(a->opt.ctlq, a->thr[i].vin, a->thr[i].due_km,
			                         a->thr[i].limit_km) == PW_EBUSY)
				log_warn("api",
				         "%s: control queue full; the core learns the new "
				         "maintenance threshold at the next sweep",
				         a->thr[i].vin);
		reply_json(k, rep->inserted ? 201 : 200, json_pack("{s:s}", cols[0], fields[0]));
		goto out;
	}
	rollback(a);
	wgate_leave(a->opt.gate);
	if (rc == PW_EINVAL)
		reply_fields(k, rep);
	else
		reply_error(k, 500, "internal error");
out:
	a->n_thr = 0;
	free(rep);
	json_decref(body);
}

static void h_appointments(struct call *k)
{
	post_row(k, IMPORT_APPOINTMENTS);
}

static void h_service_visits(struct call *k)
{
	post_row(k, IMPORT_SERVICES);
}

/* ---- audit --------------------------------------------------------------------- */

static void h_audit(struct call *k)
{
	long limit, offset;
	sqlite3_stmt *s;
	json_int_t total;
	json_t *items;
	int rc;

	if (api_arg_int(k->rq->args, k->rq->n_args, "limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT,
	                &limit) ||
	    api_arg_int(k->rq->args, k->rq->n_args, "offset", 0, 100000000, 0, &offset)) {
		reply_error(k, 400, "limit must be 1-200 and offset 0 or more");
		return;
	}
	s = stmt(k->a, S_AUDIT_COUNT);
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_fail(k, "counting audit rows");
		return;
	}
	total = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	s = stmt(k->a, S_AUDIT);
	sqlite3_bind_int64(s, 1, limit);
	sqlite3_bind_int64(s, 2, offset);
	items = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(items,
		                      json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "id", col_int(s, 0),
		                                "ts", col_int(s, 1), "user", col_text(s, 2),
		                                "remote", col_text(s, 3), "action", col_text(s, 4),
		                                "customers", col_text(s, 5)));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		db_fail(k, "listing audit rows");
		return;
	}
	reply_json(k, 200,
	           json_pack("{s:I,s:I,s:I,s:o}", "total", total, "limit", (json_int_t)limit,
	                     "offset", (json_int_t)offset, "items", items));
}

/* ---- sessions ------------------------------------------------------------------ */

/* Who is signed in, and the site the console shows: its time zone (times
 * on the page are the store's) and the gateway's clock (virtual in demos,
 * so "3 min ago" counts from the gateway's now, not the desk PC's). */
static json_t *user_json(struct api *a, const struct auth_user *u)
{
	const struct pw_site_config *site = &a->opt.cfg->site;

	return json_pack("{s:s,s:s,s:s,s:o,s:{s:s,s:s,s:s},s:I}", "user", u->user_id, "name",
	                 u->name, "role", auth_role_name(u->role), "advisor_id",
	                 u->advisor_id[0] ? json_string(u->advisor_id) : json_null(), "site", "id",
	                 site->id, "name", site->name, "timezone", site->timezone, "now",
	                 (json_int_t)clock_now_ms(a->opt.clock));
}

static void h_me(struct call *k)
{
	reply_json(k, 200, user_json(k->a, &k->user));
}

static void clear_cookie(struct api_response *out)
{
	snprintf(out->set_cookie, sizeof(out->set_cookie),
	         AUTH_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

static void h_logout(struct call *k)
{
	char token[AUTH_TOKEN_HEX + 1];

	if (k->rq->cookie && auth_cookie_token(k->rq->cookie, token) == PW_OK) {
		wgate_enter(k->a->opt.gate);
		if (auth_session_delete(k->a->db, token) != PW_OK)
			log_warn("api", "cannot delete a session");
		wgate_leave(k->a->opt.gate);
	}
	clear_cookie(k->out);
	reply_none(k, 204);
}

/* A new session, written through the gate. */
static int session_create_gated(struct api *a, const char *user_id, int64_t now,
                                char token[AUTH_TOKEN_HEX + 1])
{
	int rc;

	wgate_enter(a->opt.gate);
	rc = auth_session_create(a->db, user_id, now, a->opt.cfg->http.session_ttl_s, token);
	wgate_leave(a->opt.gate);
	return rc;
}

static struct fail_slot *fail_find(struct api *a, const char *user, int create, int64_t now)
{
	struct fail_slot *oldest = &a->fails[0];

	for (int i = 0; i < FAIL_SLOTS; i++) {
		struct fail_slot *f = &a->fails[i];

		if (f->user[0] && strcmp(f->user, user) == 0)
			return f;
		if (!f->user[0] || f->first_ms < oldest->first_ms)
			oldest = !oldest->user[0] ? oldest : f;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->user, sizeof(oldest->user), "%s", user);
	oldest->first_ms = now;
	return oldest;
}

static void fail_note(struct api *a, const char *user, int64_t now)
{
	struct fail_slot *f = fail_find(a, user, 1, now);

	if (now - f->first_ms > API_LOGIN_WINDOW_S * 1000LL) {
		f->count = 0;
		f->first_ms = now;
	}
	if (++f->count >= API_LOGIN_FAILS) {
		f->locked_ms = now + API_LOGIN_LOCK_S * 1000LL;
		f->count = 0;
		f->first_ms = now;
		log_warn("api", "login for '%s' refused for %d s after %d failures", user,
		         API_LOGIN_LOCK_S, API_LOGIN_FAILS);
	}
}

static void h_login(struct call *k)
{
	struct api *a = k->a;
	json_t *body = body_object(k);
	const char *user, *password;
	struct login_job *job;
	struct fail_slot *f;
	int64_t now = clock_real_ms();
	int rc;

	if (!body)
		return;
	user = json_string_value(json_object_get(body, "user"));
	password = json_string_value(json_object_get(body, "password"));
	if (!user || !password || !*user || strlen(user) > AUTH_USER_MAX ||
	    strlen(password) > AUTH_PASSWORD_MAX ||
	    strlen(password) != json_string_length(json_object_get(body, "password"))) {
		json_decref(body);
		reply_error(k, 400, "expected {\"user\": string, \"password\": string}");
		return;
	}
	f = fail_find(a, user, 0, now);
	if (f && f->locked_ms > now) {
		json_decref(body);
		k->out->retry_after_s = (int)((f->locked_ms - now + 999) / 1000);
		reply_error(k, 429, "too many failed logins; try again later");
		return;
	}
	if (a->outstanding >= LOGIN_OUTSTANDING_MAX) {
		json_decref(body);
		k->out->retry_after_s = 1;
		reply_error(k, 429, "too many logins at once; try again");
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		json_decref(body);
		reply_error(k, 500, "out of memory");
		return;
	}
	job->ticket = k->rq->ticket;
	snprintf(job->typed, sizeof(job->typed), "%s", user);
	snprintf(job->password, sizeof(job->password), "%s", password);
	json_decref(body); /* the password now lives only in the job */
	rc = auth_user_get(a->db, job->typed, &job->user, job->hash, sizeof(job->hash));
	if (rc == PW_OK) {
		job->known = 1;
	} else if (rc != PW_ENOTFOUND) {
		free(job);
		reply_error(k, 500, "internal error");
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (a->jobs_tail)
		a->jobs_tail->next = job;
	else
		a->jobs = job;
	a->jobs_tail = job;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	a->outstanding++;
	k->out->pending = 1;
}

/* Login worker thread: checks passwords, one job at a time. */
static void *login_worker(void *arg)
{
	struct api *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct login_job *job;

		while (!a->stop && !a->jobs)
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->stop)
			break;
		job = a->jobs;
		a->jobs = job->next;
		if (!a->jobs)
			a->jobs_tail = NULL;
		job->next = NULL;
		pthread_mutex_unlock(&a->lock);

		/* NULL for an unknown user: the same work, then PW_EPERM */
		job->ok =
		    auth_password_verify(job->known ? job->hash : NULL, job->password) == PW_OK;
		memset(job->password, 0, sizeof(job->password));

		pthread_mutex_lock(&a->lock);
		if (a->done_tail)
			a->done_tail->next = job;
		else
			a->done = job;
		a->done_tail = job;
		pthread_mutex_unlock(&a->lock);
		if (a->opt.wake)
			a->opt.wake(a->opt.wake_ctx);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int api_take_done(struct api *a, uint64_t *ticket, struct api_response *out)
{
	struct login_job *job;
	struct call k = {.a = a, .out = out};
	struct api_request rq = {.method = "POST", .path = "/api/login"};
	char token[AUTH_TOKEN_HEX + 1];
	int64_t now = clock_real_ms();
	int rc;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	job = a->done;
	if (job) {
		a->done = job->next;
		if (!a->done)
			a->done_tail = NULL;
	}
	pthread_mutex_unlock(&a->lock);
	if (!job)
		return 0;
	a->outstanding--;
	memset(out, 0, sizeof(*out));
	k.rq = &rq;
	*ticket = job->ticket;
	if (!job->ok) {
		fail_note(a, job->typed, now);
		log_info("api", "failed login for '%s'", job->typed);
		reply_error(&k, 401, "wrong user or password");
	} else if ((rc = session_create_gated(a, job->user.user_id, now, token)) != PW_OK) {
		/* disabled while its password was being checked: as a wrong one */
		reply_error(&k, rc == PW_ENOTFOUND ? 401 : 500,
		            rc == PW_ENOTFOUND ? "wrong user or password" : "internal error");
	} else {
		struct fail_slot *f = fail_find(a, job->typed, 0, now);

		if (f)
			f->count = 0;
		snprintf(out->set_cookie, sizeof(out->set_cookie),
		         AUTH_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d", token,
		         a->opt.cfg->http.session_ttl_s);
		memset(token, 0, sizeof(token));
		log_info("api", "%s signed in", job->user.user_id);
		wgate_enter(a->opt.gate);
		if (auth_session_purge(a->db, now, NULL) != PW_OK) /* expired ones, now and then */
			log_warn("api", "cannot purge expired sessions");
		wgate_leave(a->opt.gate);
		reply_json(&k, 200, user_json(a, &job->user));
	}
	free(job);
	return 1;
}

/* ---- routing --------------------------------------------------------------------- */

typedef void (*handler_fn)(struct call *k);

enum { R_GET = 1, R_POST = 2 };

struct api_route {
	unsigned method;
	const char *pattern; /* "*": one path segment */
	unsigned roles;      /* 0: no session needed */
	handler_fn handle;
};

static const struct api_route routes[] = {
    {R_POST, "/api/login", 0, h_login},
    {R_POST, "/api/logout", 0, h_logout},
    {R_GET, "/api/me", AUTH_ANY_ROLE, h_me},
    {R_GET, "/api/vehicles", AUTH_ANY_ROLE, h_vehicles},
    {R_GET, "/api/vehicles/*", AUTH_ANY_ROLE, h_vehicle},
    {R_GET, "/api/alerts", AUTH_ANY_ROLE, h_alerts},
    {R_GET, "/api/alerts/*", AUTH_ANY_ROLE, h_alert_get},
    {R_POST, "/api/alerts/*", AUTH_ANY_ROLE, h_alert_post},
    {R_GET, "/api/reminders", AUTH_ANY_ROLE, h_reminders},
    {R_GET, "/api/followups", AUTH_ANY_ROLE, h_followups},
    {R_GET, "/api/arrivals", AUTH_ANY_ROLE, h_arrivals},
    {R_POST, "/api/appointments", AUTH_ANY_ROLE, h_appointments},
    {R_POST, "/api/service-visits", AUTH_ADVISOR | AUTH_MANAGER, h_service_visits},
    {R_GET, "/api/audit", AUTH_MANAGER, h_audit},
};

void api_handle(struct api *a, const struct api_request *rq, struct api_response *out)
{
	struct call *k;
	const struct api_route *r = NULL;
	unsigned method, seen = 0;
	char token[AUTH_TOKEN_HEX + 1];

	memset(out, 0, sizeof(*out));
	k = calloc(1, sizeof(*k));
	if (!k) {
		out->status = 500;
		return;
	}
	k->a = a;
	k->rq = rq;
	k->out = out;
	if (!a) {
		reply_error(k, 503, "the API is not available");
		goto out;
	}
	method = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0 ? R_GET
	         : strcmp(rq->method, "POST") == 0                                 ? R_POST
	                                                                           : 0;
	for (size_t i = 0; i < PW_ARRAY_LEN(routes); i++) {
		const char *seg = NULL;
		size_t seg_len = 0;

		if (!api_path_match(routes[i].pattern, rq->path, &seg, &seg_len))
			continue;
		seen |= routes[i].method;
		if (routes[i].method != method || r)
			continue;
		r = &routes[i];
		if (seg) {
			if (seg_len >= sizeof(k->seg)) {
				reply_error(k, 404, "not found");
				goto out;
			}
			memcpy(k->seg, seg, seg_len);
			k->seg[seg_len] = '\0';
		}
	}
	if (!seen) {
		reply_error(k, 404, "not found");
		goto out;
	}
	if (!r) {
		out->allow = seen == (R_GET | R_POST) ? "GET, HEAD, POST"
		             : seen == R_GET          ? "GET, HEAD"
		                                      : "POST";
		reply_error(k, 405, "method not allowed");
		goto out;
	}
	k->now_ms = clock_now_ms(a->opt.clock);
	if (r->roles) {
		int rc = PW_ENOTFOUND;

		if (rq->cookie && auth_cookie_token(rq->cookie, token) == PW_OK)
			rc = auth_session_lookup(a->db, token, clock_real_ms(), &k->user);
		if (rc == PW_ENOTFOUND) {
			reply_error(k, 401, "not signed in");
			goto out;
		}
		if (rc != PW_OK) {
			reply_error(k, 500, "internal error");
			goto out;
		}
		k->has_user = 1;
		if (!(r->roles & (unsigned)k->user.role)) {
			reply_error(k, 403, "your role may not do this");
			goto out;
		}
	}
	r->handle(k);
	/* HEAD sends no body: nothing was shown */
	if (out->status >= 200 && out->status < 300 && method == R_GET &&
	    strcmp(rq->method, "HEAD") == 0)
		goto out;
	if (out->status >= 200 && out->status < 300 && audit_write(k) != PW_OK) {
		/* personal data may not leave without its audit row */
		reply_error(k, 500, "internal error");
		clear_cookie(out);
		out->set_cookie[0] = '\0';
	}
out:
	free(k);
}

/* ---- open, close ----------------------------------------------------------------- */

struct api *api_open(const struct api_options *opt)
{
	struct api *a = calloc(1, sizeof(*a));
	struct import_settings is;
	int64_t now = clock_now_ms(opt->clock);

	if (!a)
		return NULL;
	a->opt = *opt;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	if (import_tz_offset(opt->cfg->site.timezone, &a->tz_offset_s) != PW_OK ||
	    import_settings_init(&is, opt->cfg->site.timezone, now) != PW_OK) {
		log_error("api", "time zone %s has no fixed offset", opt->cfg->site.timezone);
		goto fail;
	}
	a->st = store_open(opt->db_path, STORE_READ_WRITE);
	if (!a->st)
		goto fail;
	a->db = (sqlite3 *)store_sqlite(a->st);
	for (int i = 0; i < S__COUNT; i++)
		if (sqlite3_prepare_v3(a->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &a->stmt[i], NULL) != SQLITE_OK) {
			log_error("api", "cannot prepare statement %d: %s", i,
			          sqlite3_errmsg(a->db));
			goto fail;
		}
	a->ev = events_open(a->db, opt->cfg->site.id);
	a->al = a->ev ? alerts_open(a->db, opt->cfg, a->ev) : NULL;
	a->sw = a->al ? sweep_open(a->db, opt->cfg, a->al) : NULL;
	a->br = a->sw ? brief_open(a->db, opt->cfg) : NULL;
	a->im = a->br ? import_open(a->db, &is) : NULL;
	if (!a->im)
		goto fail;
	sweep_set_thresholds_fn(a->sw, on_thresholds, a);
	if (pthread_create(&a->worker, NULL, login_worker, a) != 0) {
		log_error("api", "cannot start the login worker");
		goto fail;
	}
	a->worker_started = 1;
	return a;
fail:
	api_close(a);
	return NULL;
}

static void free_jobs(struct login_job *j)
{
	while (j) {
		struct login_job *next = j->next;

		memset(j, 0, sizeof(*j));
		free(j);
		j = next;
	}
}

void api_close(struct api *a)
{
	if (!a)
		return;
	if (a->worker_started) {
		pthread_mutex_lock(&a->lock);
		a->stop = 1;
		pthread_cond_signal(&a->cond);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->worker, NULL);
	}
	free_jobs(a->jobs);
	free_jobs(a->done);
	import_close(a->im);
	brief_close(a->br);
	sweep_close(a->sw);
	alerts_close(a->al);
	events_close(a->ev);
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(a->stmt[i]);
	store_close(a->st);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
