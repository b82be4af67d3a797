/*
 * config — built-in defaults, then a JSON file over them, then flags.
 *
 * One table, `keys[]`, describes every leaf key: its dotted path, its type,
 * its range (or its string check), where it lives in struct pw_config and
 * the words used when it is wrong. Everything else is derived from it: the
 * loader walks the JSON object and looks each key up by path (a path that
 * is a prefix of some table path is a section and must be an object; any
 * other key is unknown and an error), config_validate() re-checks every
 * field against the same table before the cross-field rules, config_set()
 * applies a flag by path, and docs/config.md lists the same rows.
 *
 * Loading is all or nothing: the file is applied to a copy, validated, and
 * only then copied over the caller's config. mqtt.client_id follows site.id
 * ("pitwall-gateway-<id>") as long as nobody set it explicitly.
 *
 * Runs on main's thread at start; the result is read-only afterwards.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pw.h"

#define CONFIG_FILE_MAX  (1024 * 1024) /* a config file larger than this is a mistake */
#define CLIENT_ID_PREFIX "pitwall-gateway-"
#define KEY_PATH_MAX     160
#define LEAD_DAYS_MAX    ((int)PW_ARRAY_LEN(((struct pw_rules_config *)0)->insurance_lead_days))

enum key_type {
	K_STR,     /* char[size]; min = minimum length in bytes */
	K_INT,     /* int; min..max */
	K_DBL,     /* double; min..max (JSON integers accepted) */
	K_LEVEL,   /* enum pw_log_level from "error" | "warn" | "info" | "debug" */
	K_ORIGINS, /* http.allowed_origins: array of origin strings */
	K_DAYS,    /* rules.insurance.lead_days: array of ints min..max */
	K_BOOL,    /* int 0/1 from JSON true/false */
	K_PLANS,   /* rules.maintenance.plans: array of plan objects */
};

/* A string check: 0 if `s` is acceptable. */
typedef int (*str_check_fn)(const char *s);

struct key {
	const char *path;
	enum key_type type;
	size_t off;  /* offsetof(struct pw_config, ...) */
	size_t size; /* K_STR: buffer size */
	double min, max;
	str_check_fn check; /* K_STR: optional */
	const char *expect; /* K_STR with check: what a good value looks like */
};

static int check_site_id(const char *s);
static int check_timezone(const char *s);
static int check_text(const char *s);
static int check_uri(const char *s);
static int check_listen(const char *s);
static int check_origin(const char *s);

#define OFF(m) offsetof(struct pw_config, m)
#define STR(p, m, minlen, chk, exp)                                                                \
	{                                                                                          \
		p, K_STR, OFF(m), sizeof(((struct pw_config *)0)->m), minlen, 0, chk, exp          \
	}
#define INT(p, m, lo, hi)                                                                          \
	{                                                                                          \
		p, K_INT, OFF(m), sizeof(int), lo, hi, NULL, NULL                                  \
	}
#define BOOL(p, m)                                                                                 \
	{                                                                                          \
		p, K_BOOL, OFF(m), sizeof(int), 0, 1, NULL, NULL                                   \
	}
#define DBL(p, m, lo, hi)                                                                          \
	{                                                                                          \
		p, K_DBL, OFF(m), sizeof(double), lo, hi, NULL, NULL                               \
	}

static const struct key keys[] = {
    STR("site.id", site.id, 1, check_site_id, "MQTT topic level [A-Za-z0-9_-]{1,63}"),
    STR("site.name", site.name, 1, check_text, "non-empty text without control characters"),
    STR("site.timezone", site.timezone, 1, check_timezone, "IANA time zone name"),
    DBL("site.geofence.lat", site.lat, -90, 90),
    DBL("site.geofence.lon", site.lon, -180, 180),
    DBL("site.geofence.radius_m", site.radius_m, 1, 10000),

    STR("mqtt.uri", mqtt.uri, 1, check_uri, "tcp://, mqtt://, ssl:// or mqtts://HOST[:PORT]"),
    STR("mqtt.client_id", mqtt.client_id, 1, check_text,
        "non-empty text without control characters"),
    STR("mqtt.username", mqtt.username, 0, check_text, "text without control characters"),
    STR("mqtt.password_file", mqtt.password_file, 0, check_text, "path or \"\""),
    STR("mqtt.ca_file", mqtt.ca_file, 0, check_text, "path or \"\""),
    INT("mqtt.qos", mqtt.qos, 0, 1),
    INT("mqtt.keepalive_s", mqtt.keepalive_s, 5, 3600),
    INT("mqtt.reconnect_min_s", mqtt.reconnect_min_s, 1, 3600),
    INT("mqtt.reconnect_max_s", mqtt.reconnect_max_s, 1, 3600),

    STR("db.path", db.path, 1, check_text, "non-empty path"),
    INT("db.history_interval_s", db.history_interval_s, 10, 86400),
    INT("db.retention_days", db.retention_days, 1, 3650),

    STR("http.listen", http.listen, 1, check_listen, "HOST:PORT or [IPV6]:PORT, port 1..65535"),
    {"http.allowed_origins", K_ORIGINS, OFF(http.allowed_origins), 256, 0, PW_ORIGINS_MAX,
     check_origin, "origin http(s)://HOST[:PORT]"},
    STR("http.static_dir", http.static_dir, 0, check_text, "path or \"\""),
    INT("http.session_ttl_s", http.session_ttl_s, 60, 30 * 86400),
    INT("http.ws_snapshot_max", http.ws_snapshot_max, 1, 200000),
    INT("http.ws_vehicle_interval_ms", http.ws_vehicle_interval_ms, 0, 60000),

    BOOL("rules.enabled", rules.enabled),
    DBL("rules.maintenance.first_service_km", rules.first_service_km, 1, 100000),
    INT("rules.maintenance.first_service_months", rules.first_service_months, 1, 120),
    DBL("rules.maintenance.interval_km", rules.service_interval_km, 1, 100000),
    INT("rules.maintenance.interval_months", rules.service_interval_months, 1, 120),
    DBL("rules.maintenance.due_lead_km", rules.due_lead_km, 0, 100000),
    INT("rules.maintenance.due_lead_days", rules.due_lead_days, 0, 365),
    INT("rules.maintenance.daily_km_window_days", rules.daily_km_window_days, 1, 365),
    INT("rules.maintenance.min_data_days", rules.min_data_days, 1, 365),
    DBL("rules.maintenance.default_daily_km", rules.default_daily_km, 0, 2000),
    {"rules.maintenance.plans", K_PLANS, OFF(rules.plans), 64, 0, PW_PLANS_MAX, check_text,
     "brand"},

    {"rules.insurance.lead_days", K_DAYS, OFF(rules.insurance_lead_days), sizeof(int), 1, 365, NULL,
     NULL},

    DBL("rules.tyres.placard_kpa", rules.tyre_placard_kpa, 50, 1000),
    DBL("rules.tyres.warn_ratio", rules.tyre_warn_ratio, 0.01, 1),
    DBL("rules.tyres.critical_ratio", rules.tyre_critical_ratio, 0.01, 1),
    DBL("rules.tyres.tread_warn_mm", rules.tread_warn_mm, 0, 30),
    DBL("rules.tyres.tread_critical_mm", rules.tread_critical_mm, 0, 30),
    DBL("rules.tyres.slow_leak_kpa", rules.slow_leak_kpa, 1, 1000),
    INT("rules.tyres.slow_leak_window_h", rules.slow_leak_window_h, 1, 720),
    DBL("rules.tyres.slow_leak_temp_delta_c", rules.slow_leak_temp_delta_c, 0, 100),

    DBL("rules.battery.warn_v", rules.battery_warn_v, 0, 60),
    DBL("rules.battery.critical_v", rules.battery_critical_v, 0, 60),

    DBL("rules.fuel.anomaly_ratio", rules.fuel_anomaly_ratio, 1, 10),
    INT("rules.fuel.recent_days", rules.fuel_recent_days, 1, 365),
    INT("rules.fuel.baseline_days", rules.fuel_baseline_days, 2, 730),

    DBL("rules.profile.highway_kmh", rules.highway_kmh, 1, 400),
    DBL("rules.profile.congestion_kmh", rules.congestion_kmh, 1, 400),
    INT("rules.profile.window_days", rules.profile_window_days, 1, 365),

    INT("rules.customers.lost_days", rules.lost_customer_days, 1, 3650),
    INT("rules.customers.followup_after_visit_days", rules.followup_after_visit_days, 0, 365),
    INT("rules.customers.followup_after_purchase_days", rules.followup_after_purchase_days, 0, 365),

    INT("rules.arrival.dwell_s", rules.arrival_dwell_s, 0, 3600),
    DBL("rules.arrival.max_speed_kmh", rules.arrival_max_speed_kmh, 0, 100),
    DBL("rules.arrival.plate_min_confidence", rules.plate_min_confidence, 0, 1),
    INT("rules.arrival.appointment_window_min", rules.appointment_window_min, 0, 1440),
    INT("rules.arrival.greeting_ttl_s", rules.greeting_ttl_s, 5, 3600),

    {"log.level", K_LEVEL, OFF(log_level), sizeof(enum pw_log_level), 0, 0, NULL, NULL},
};

/* ---- messages ---------------------------------------------------------- */

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* Copies a key from the file into dst for a message: control characters
 * become '?' and an over-long key is cut, so the message stays one line. */
static void sanitize(char *dst, size_t dst_len, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < dst_len; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

/* "expected integer 0..1" and friends: what a good value of k looks like. */
static void describe(const struct key *k, char *buf, size_t len)
{
	switch (k->type) {
	case K_STR:
		if (k->check)
			snprintf(buf, len, "string: %s (at most %zu bytes)", k->expect,
			         k->size - 1);
		else
			snprintf(buf, len, "string of at most %zu bytes", k->size - 1);
		break;
	case K_INT:
		snprintf(buf, len, "integer %.0f..%.0f", k->min, k->max);
		break;
	case K_DBL:
		snprintf(buf, len, "number %g..%g", k->min, k->max);
		break;
	case K_LEVEL:
		snprintf(buf, len, "one of \"error\", \"warn\", \"info\", \"debug\"");
		break;
	case K_ORIGINS:
		snprintf(buf, len, "array of at most %.0f strings, each an %s", k->max, k->expect);
		break;
	case K_DAYS:
		snprintf(buf, len, "array of at most %d integers %.0f..%.0f, descending",
		         LEAD_DAYS_MAX, k->min, k->max);
		break;
	case K_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case K_PLANS:
		snprintf(buf, len,
		         "array of at most %.0f objects {brand, first_service_km, "
		         "first_service_months, interval_km, interval_months}, brands unique",
		         k->max);
		break;
	}
}

/* ---- string checks ----------------------------------------------------- */

static int check_site_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n >= PW_SITE_ID_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return -1;
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at s (shortest form, no surrogates,
 * at most U+10FFFF), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Valid UTF-8 without control characters: it ends up in log lines, paths,
 * JSON output and MQTT fields. (Jansson checks files; flags come raw.) */
static int check_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_len(p);

		if (n == 0 || *p < 0x20 || *p == 0x7f)
			return -1;
		p += n;
	}
	return 0;
}

/* IANA zone names: "UTC", "Asia/Shanghai", "America/Argentina/Buenos_Aires",
 * "Etc/GMT+8". Components of [A-Za-z0-9_+-], starting with a letter. Whether
 * the zone exists in the tz database is up to the host, not checked here. */
static int check_timezone(const char *s)
{
	int at_start = 1;

	if (!*s)
		return -1;
	for (; *s; s++) {
		char c = *s;

		if (at_start) {
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
				return -1;
			at_start = 0;
		} else if (c == '/') {
			at_start = 1;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-')) {
			return -1;
		}
	}
	return at_start ? -1 : 0; /* no trailing '/' */
}

/* Parses a decimal port 1..65535 that is the whole of s. */
static int check_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	return 0;
}

/* "host", "host:port", "[v6]", "[v6]:port" where host is a DNS name or an
 * IPv4 address. port_required: the port must be there. */
static int check_hostport(const char *s, int port_required)
{
	const char *colon;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close == s + 1)
			return -1;
		for (const char *p = s + 1; p < close; p++) {
			char c = *p;

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
				return -1;
		}
		if (close[1] == '\0')
			return port_required ? -1 : 0;
		if (close[1] != ':')
			return -1;
		return check_port(close + 2);
	}
	colon = strchr(s, ':');
	if (colon == s)
		return -1;
	for (const char *p = s; *p && p != colon; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return -1;
	}
	if (!colon)
		return port_required ? -1 : 0;
	return check_port(colon + 1);
}

static int check_uri(const char *s)
{
	static const char *const schemes[] = {"tcp://", "mqtt://", "ssl://", "mqtts://"};

	for (size_t i = 0; i < PW_ARRAY_LEN(schemes); i++) {
		size_t n = strlen(schemes[i]);

		if (strncmp(s, schemes[i], n) == 0)
			return s[n] ? check_hostport(s + n, 0) : -1;
	}
	return -1;
}

static int check_listen(const char *s)
{
	return check_hostport(s, 1);
}

static int check_origin(const char *s)
{
	if (strncmp(s, "http://", 7) == 0)
		s += 7;
	else if (strncmp(s, "https://", 8) == 0)
		s += 8;
	else
		return -1;
	return *s ? check_hostport(s, 0) : -1;
}

/* ---- table lookups ----------------------------------------------------- */

static const struct key *find_key(const char *path)
{
	for (size_t i = 0; i < PW_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

/* A section is a path that some key path continues with a '.'. */
static int is_section(const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < PW_ARRAY_LEN(keys); i++)
		if (strncmp(keys[i].path, path, n) == 0 && keys[i].path[n] == '.')
			return 1;
	return 0;
}

static void *field(struct pw_config *cfg, const struct key *k)
{
	return (char *)cfg + k->off;
}

static const void *cfield(const struct pw_config *cfg, const struct key *k)
{
	return (const char *)cfg + k->off;
}

/* ---- checking values already in a struct ------------------------------- */

static int str_ok(const struct key *k, const char *s, size_t len)
{
	if (len >= k->size || len < (size_t)k->min || memchr(s, '\0', len))
		return 0;
	return !k->check || k->check(s) == 0;
}

static int num_ok(const struct key *k, double v)
{
	return isfinite(v) && v >= k->min && v <= k->max;
}

/* The members of a maintenance plan, with the ranges of the general keys. */
static const struct plan_member {
	const char *name;
	int is_int;
	size_t off;
	double min, max;
} plan_members[] = {
    {"first_service_km", 0, offsetof(struct pw_maint_plan, first_service_km), 1, 100000},
    {"first_service_months", 1, offsetof(struct pw_maint_plan, first_service_months), 1, 120},
    {"interval_km", 0, offsetof(struct pw_maint_plan, interval_km), 1, 100000},
    {"interval_months", 1, offsetof(struct pw_maint_plan, interval_months), 1, 120},
};

static double plan_get(const struct pw_maint_plan *p, const struct plan_member *m)
{
	const char *base = (const char *)p + m->off;

	return m->is_int ? *(const int *)(const void *)base : *(const double *)(const void *)base;
}

/* 1 if every plan is in range, has a brand, and no brand comes twice. */
static int plans_ok(const struct key *k, const struct pw_rules_config *r)
{
	if (r->n_plans < 0 || r->n_plans > PW_PLANS_MAX)
		return 0;
	for (int i = 0; i < r->n_plans; i++) {
		const struct pw_maint_plan *p = &r->plans[i];

		if (!p->brand[0] || !str_ok(k, p->brand, strnlen(p->brand, sizeof(p->brand))))
			return 0;
		for (size_t j = 0; j < PW_ARRAY_LEN(plan_members); j++) {
			double v = plan_get(p, &plan_members[j]);

			if (!isfinite(v) || v < plan_members[j].min || v > plan_members[j].max)
				return 0;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(r->plans[j].brand, p->brand) == 0)
				return 0;
	}
	return 1;
}

/* 0 if the field of cfg described by k is in range; else names it in err. */
static int check_field(const struct pw_config *cfg, const struct key *k, char *err, size_t err_len)
{
	char what[160];
	const struct pw_http_config *h = &cfg->http;
	const struct pw_rules_config *r = &cfg->rules;
	int ok = 1;

	switch (k->type) {
	case K_STR: {
		const char *s = cfield(cfg, k);

		ok = str_ok(k, s, strnlen(s, k->size));
		break;
	}
	case K_INT:
	case K_BOOL:
		ok = num_ok(k, *(const int *)cfield(cfg, k));
		break;
	case K_DBL:
		ok = num_ok(k, *(const double *)cfield(cfg, k));
		break;
	case K_LEVEL: {
		enum pw_log_level lv = *(const enum pw_log_level *)cfield(cfg, k);

		ok = lv >= PW_LOG_ERROR && lv <= PW_LOG_DEBUG;
		break;
	}
	case K_ORIGINS:
		ok = h->n_allowed_origins >= 0 && h->n_allowed_origins <= PW_ORIGINS_MAX;
		for (int i = 0; ok && i < h->n_allowed_origins; i++) {
			const char *o = h->allowed_origins[i];

			ok = str_ok(k, o, strnlen(o, k->size));
		}
		break;
	case K_PLANS:
		ok = plans_ok(k, r);
		break;
	case K_DAYS:
		ok = r->n_insurance_lead_days >= 0 && r->n_insurance_lead_days <= LEAD_DAYS_MAX;
		for (int i = 0; ok && i < r->n_insurance_lead_days; i++) {
			ok = num_ok(k, r->insurance_lead_days[i]) &&
			     (i == 0 || r->insurance_lead_days[i] < r->insurance_lead_days[i - 1]);
		}
		break;
	}
	if (ok)
		return PW_OK;
	describe(k, what, sizeof(what));
	set_err(err, err_len, "%s: expected %s", k->path, what);
	return PW_EINVAL;
}

/* ---- applying JSON values ---------------------------------------------- */

/* One member of plan i from JSON object e into p; PW_EINVAL naming it. */
static int apply_plan_member(const struct key *k, size_t i, json_t *e, const struct plan_member *pm,
                             struct pw_maint_plan *p, char *err, size_t err_len)
{
	json_t *m = json_object_get(e, pm->name);
	char *dst = (char *)p + pm->off;

	if (pm->is_int && json_is_integer(m) && json_integer_value(m) >= (json_int_t)pm->min &&
	    json_integer_value(m) <= (json_int_t)pm->max) {
		*(int *)(void *)dst = (int)json_integer_value(m);
		return PW_OK;
	}
	if (!pm->is_int && json_is_number(m) && isfinite(json_number_value(m)) &&
	    json_number_value(m) >= pm->min && json_number_value(m) <= pm->max) {
		*(double *)(void *)dst = json_number_value(m);
		return PW_OK;
	}
	set_err(err, err_len, "%s[%zu].%s: expected %s %g..%g", k->path, i, pm->name,
	        pm->is_int ? "integer" : "number", pm->min, pm->max);
	return PW_EINVAL;
}

/* rules.maintenance.plans: every member of every plan is required and
 * checked, unknown members are errors; a message names the element and the
 * member ("rules.maintenance.plans[1].interval_km: expected number 1..100000"). */
static int apply_plans(struct pw_config *cfg, const struct key *k, json_t *v, char *err,
                       size_t err_len)
{
	struct pw_rules_config *r = &cfg->rules;
	size_t i, n = json_array_size(v);
	json_t *e;
	char what[200];

	if (!json_is_array(v) || n > PW_PLANS_MAX) {
		describe(k, what, sizeof(what));
		set_err(err, err_len, "%s: expected %s", k->path, what);
		return PW_EINVAL;
	}
	json_array_foreach(v, i, e)
	{
		struct pw_maint_plan *p = &r->plans[i];
		const char *name;
		json_t *m;

		if (!json_is_object(e)) {
			set_err(err, err_len, "%s[%zu]: expected object", k->path, i);
			return PW_EINVAL;
		}
		json_object_foreach(e, name, m)
		{
			int known = strcmp(name, "brand") == 0;

			for (size_t j = 0; j < PW_ARRAY_LEN(plan_members); j++)
				known |= strcmp(name, plan_members[j].name) == 0;
			if (!known) {
				char shown[64];

				sanitize(shown, sizeof(shown), name);
				set_err(err, err_len, "%s[%zu].%s: unknown key", k->path, i, shown);
				return PW_EINVAL;
			}
		}
		m = json_object_get(e, "brand");
		if (!json_is_string(m) || !json_string_length(m) ||
		    !str_ok(k, json_string_value(m), json_string_length(m))) {
			set_err(err, err_len,
			        "%s[%zu].brand: expected string of 1..%zu bytes without control "
			        "characters",
			        k->path, i, k->size - 1);
			return PW_EINVAL;
		}
		memset(p, 0, sizeof(*p));
		memcpy(p->brand, json_string_value(m), json_string_length(m) + 1);
		for (size_t j = 0; j < PW_ARRAY_LEN(plan_members); j++)
			if (apply_plan_member(k, i, e, &plan_members[j], p, err, err_len) != PW_OK)
				return PW_EINVAL;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(r->plans[j].brand, p->brand) == 0) {
				set_err(err, err_len,
				        "%s[%zu].brand: that brand has a plan already", k->path, i);
				return PW_EINVAL;
			}
		}
	}
	r->n_plans = (int)n;
	return PW_OK;
}

/* Applies one JSON value to the field k describes; path is the value's own
 * path (with an index for array elements). */
static int apply(struct pw_config *cfg, const struct key *k, json_t *v, char *err, size_t err_len)
{
	char what[160];
	const char *where = k->path;
	char idx_path[KEY_PATH_MAX];

	switch (k->type) {
	case K_STR:
		if (!json_is_string(v) || !str_ok(k, json_string_value(v), json_string_length(v)))
			goto bad;
		memcpy(field(cfg, k), json_string_value(v), json_string_length(v) + 1);
		return PW_OK;
	case K_INT: {
		json_int_t n;

		if (!json_is_integer(v))
			goto bad;
		n = json_integer_value(v);
		if (n < (json_int_t)k->min || n > (json_int_t)k->max)
			goto bad;
		*(int *)field(cfg, k) = (int)n;
		return PW_OK;
	}
	case K_DBL:
		if (!json_is_number(v) || !num_ok(k, json_number_value(v)))
			goto bad;
		*(double *)field(cfg, k) = json_number_value(v);
		return PW_OK;
	case K_LEVEL:
		if (!json_is_string(v) ||
		    log_parse_level(json_string_value(v), (enum pw_log_level *)field(cfg, k)) != 0)
			goto bad;
		return PW_OK;
	case K_BOOL:
		if (!json_is_boolean(v))
			goto bad;
		*(int *)field(cfg, k) = json_is_true(v) ? 1 : 0;
		return PW_OK;
	case K_PLANS:
		return apply_plans(cfg, k, v, err, err_len);
	case K_ORIGINS: {
		size_t i, n = json_array_size(v);
		json_t *e;

		if (!json_is_array(v) || n > PW_ORIGINS_MAX)
			goto bad;
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e) ||
			    !str_ok(k, json_string_value(e), json_string_length(e))) {
				snprintf(idx_path, sizeof(idx_path), "%s[%zu]", k->path, i);
				where = idx_path;
				snprintf(what, sizeof(what), "string: %s (at most %zu bytes)",
				         k->expect, k->size - 1);
				goto bad_what;
			}
			memcpy(cfg->http.allowed_origins[i], json_string_value(e),
			       json_string_length(e) + 1);
		}
		cfg->http.n_allowed_origins = (int)n;
		return PW_OK;
	}
	case K_DAYS: {
		size_t i, n = json_array_size(v);
		json_t *e;

		if (!json_is_array(v) || n > (size_t)LEAD_DAYS_MAX)
			goto bad;
		json_array_foreach(v, i, e)
		{
			if (!json_is_integer(e) || json_integer_value(e) < (json_int_t)k->min ||
			    json_integer_value(e) > (json_int_t)k->max) {
				snprintf(idx_path, sizeof(idx_path), "%s[%zu]", k->path, i);
				where = idx_path;
				snprintf(what, sizeof(what), "integer %.0f..%.0f", k->min, k->max);
				goto bad_what;
			}
			cfg->rules.insurance_lead_days[i] = (int)json_integer_value(e);
		}
		cfg->rules.n_insurance_lead_days = (int)n;
		return PW_OK;
	}
	}
bad:
	describe(k, what, sizeof(what));
bad_what:
	set_err(err, err_len, "%s: expected %s", where, what);
	return PW_EINVAL;
}

/* Walks one JSON object whose path is `prefix` ("" for the top level). */
static int walk(struct pw_config *cfg, json_t *obj, const char *prefix, char *err, size_t err_len)
{
	const char *name;
	json_t *v;
	int rc;

	json_object_foreach(obj, name, v)
	{
		char path[KEY_PATH_MAX];
		const struct key *k;
		int n;

		n = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
		if (n < 0 || (size_t)n >= sizeof(path) || strchr(name, '.')) {
			char shown[64];

			sanitize(shown, sizeof(shown), name);
			set_err(err, err_len, "%s%s%s%s: unknown key", prefix, *prefix ? "." : "",
			        shown, strlen(name) >= sizeof(shown) ? "..." : "");
			return PW_EINVAL;
		}
		k = find_key(path);
		if (k) {
			rc = apply(cfg, k, v, err, err_len);
			if (rc)
				return rc;
		} else if (is_section(path)) {
			if (!json_is_object(v)) {
				set_err(err, err_len, "%s: expected object", path);
				return PW_EINVAL;
			}
			rc = walk(cfg, v, path, err, err_len);
			if (rc)
				return rc;
		} else {
			char shown[KEY_PATH_MAX];

			sanitize(shown, sizeof(shown), path);
			set_err(err, err_len, "%s: unknown key", shown);
			return PW_EINVAL;
		}
	}
	return PW_OK;
}

static void derive_client_id(const char *site_id, char *buf, size_t len)
{
	snprintf(buf, len, CLIENT_ID_PREFIX "%s", site_id);
}

/* True if cfg's client_id is still the one derived from its site id. */
static int client_id_derived(const struct pw_config *cfg)
{
	char d[sizeof(cfg->mqtt.client_id)];

	derive_client_id(cfg->site.id, d, sizeof(d));
	return strcmp(d, cfg->mqtt.client_id) == 0;
}

/* ---- public ------------------------------------------------------------ */

void config_defaults(struct pw_config *cfg)
{
	struct pw_rules_config *r = &cfg->rules;
	static const int lead_days[] = {90, 30, 7};

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->site.id, sizeof(cfg->site.id), "default");
	snprintf(cfg->site.name, sizeof(cfg->site.name), "Pitwall");
	snprintf(cfg->site.timezone, sizeof(cfg->site.timezone), "Asia/Shanghai");
	cfg->site.lat = 0.0; /* no site location known: set site.geofence */
	cfg->site.lon = 0.0;
	cfg->site.radius_m = 120.0;

	snprintf(cfg->mqtt.uri, sizeof(cfg->mqtt.uri), "tcp://127.0.0.1:1883");
	derive_client_id(cfg->site.id, cfg->mqtt.client_id, sizeof(cfg->mqtt.client_id));
	cfg->mqtt.qos = 1;
	cfg->mqtt.keepalive_s = 30;
	cfg->mqtt.reconnect_min_s = 1;
	cfg->mqtt.reconnect_max_s = 30;

	snprintf(cfg->db.path, sizeof(cfg->db.path), "./pitwall.db");
	cfg->db.history_interval_s = 300;
	cfg->db.retention_days = 30;

	snprintf(cfg->http.listen, sizeof(cfg->http.listen), "127.0.0.1:8080");
	cfg->http.n_allowed_origins = 0;
	cfg->http.session_ttl_s = 28800;
	cfg->http.ws_snapshot_max = 2000;
	cfg->http.ws_vehicle_interval_ms = 5000;

	r->enabled = 1;
	r->first_service_km = 5000;
	r->first_service_months = 6;
	r->service_interval_km = 10000;
	r->service_interval_months = 12;
	r->due_lead_km = 1000;
	r->due_lead_days = 7;
	r->daily_km_window_days = 30;
	r->min_data_days = 7;
	r->default_daily_km = 40;
	r->n_insurance_lead_days = (int)PW_ARRAY_LEN(lead_days);
	memcpy(r->insurance_lead_days, lead_days, sizeof(lead_days));
	r->tyre_placard_kpa = 230;
	r->tyre_warn_ratio = 0.9;
	r->tyre_critical_ratio = 0.75;
	r->tread_warn_mm = 3.0;
	r->tread_critical_mm = 1.6;
	r->slow_leak_kpa = 20;
	r->slow_leak_window_h = 24;
	r->slow_leak_temp_delta_c = 5;
	r->battery_warn_v = 11.8;
	r->battery_critical_v = 11.0;
	r->fuel_anomaly_ratio = 1.2;
	r->fuel_recent_days = 7;
	r->fuel_baseline_days = 90;
	r->highway_kmh = 90;
	r->congestion_kmh = 20;
	r->profile_window_days = 30;
	r->lost_customer_days = 365;
	r->followup_after_visit_days = 3;
	r->followup_after_purchase_days = 7;
	r->arrival_dwell_s = 60;
	r->greeting_ttl_s = 120;
	r->arrival_max_speed_kmh = 5;
	r->plate_min_confidence = 0.8;
	r->appointment_window_min = 120;

	cfg->log_level = PW_LOG_INFO;
}

int config_load_string(struct pw_config *cfg, const char *name, const char *json, size_t len,
                       char *err, size_t err_len)
{
	struct pw_config tmp;
	char msg[PW_CONFIG_ERR_MAX];
	json_error_t jerr;
	json_t *root = NULL;
	int derived, rc;

	if (!name)
		name = "config";
	if (!cfg || (!json && len > 0)) {
		set_err(err, err_len, "%s: no configuration given", name);
		return PW_EINVAL;
	}
	root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* Jansson sets no text when an allocation fails inside the parser
		 * (a real syntax error always has one). A failed allocation in its
		 * lexer it reports as a syntax error; that we cannot tell apart. */
		if (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0') {
			set_err(err, err_len, "%s: out of memory", name);
			return PW_ENOMEM;
		}
		sanitize(msg, sizeof(msg), jerr.text); /* it may quote raw input */
		set_err(err, err_len, "%s:%d:%d: %s", name, jerr.line, jerr.column, msg);
		return PW_EINVAL;
	}
	if (!json_is_object(root)) {
		set_err(err, err_len, "%s: expected one JSON object at the top level", name);
		rc = PW_EINVAL;
		goto out;
	}

	tmp = *cfg;
	derived = client_id_derived(&tmp);
	rc = walk(&tmp, root, "", msg, sizeof(msg));
	if (rc == 0 && derived && !json_object_get(json_object_get(root, "mqtt"), "client_id"))
		derive_client_id(tmp.site.id, tmp.mqtt.client_id, sizeof(tmp.mqtt.client_id));
	if (rc == 0)
		rc = config_validate(&tmp, msg, sizeof(msg));
	if (rc) {
		set_err(err, err_len, "%s: %s", name, msg);
		goto out;
	}
	*cfg = tmp;
out:
	json_decref(root);
	return rc;
}

int config_load_file(struct pw_config *cfg, const char *path, char *err, size_t err_len)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n;
	int rc;

	if (!path) {
		set_err(err, err_len, "config: no file name");
		return PW_EINVAL;
	}
	f = fopen(path, "rb");
	if (!f) {
		set_err(err, err_len, "%s: %s", path, strerror(errno));
		return PW_EIO;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		set_err(err, err_len, "%s: out of memory", path);
		rc = PW_ENOMEM;
		goto out_close;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		set_err(err, err_len, "%s: read error: %s", path, strerror(errno));
		rc = PW_EIO;
		goto out_free;
	}
	if (n > CONFIG_FILE_MAX) {
		set_err(err, err_len, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		rc = PW_EINVAL;
		goto out_free;
	}
	rc = config_load_string(cfg, path, buf, n, err, err_len);
out_free:
	free(buf);
out_close:
	fclose(f);
	return rc;
}

int config_validate(const struct pw_config *cfg, char *err, size_t err_len)
{
	const struct pw_rules_config *r = &cfg->rules;
	int rc;

	for (size_t i = 0; i < PW_ARRAY_LEN(keys); i++) {
		rc = check_field(cfg, &keys[i], err, err_len);
		if (rc)
			return rc;
	}
	if (cfg->mqtt.reconnect_min_s > cfg->mqtt.reconnect_max_s) {
		set_err(err, err_len,
		        "mqtt.reconnect_min_s: expected at most mqtt.reconnect_max_s");
		return PW_EINVAL;
	}
	if (r->tyre_critical_ratio >= r->tyre_warn_ratio) {
		set_err(err, err_len,
		        "rules.tyres.critical_ratio: expected less than rules.tyres.warn_ratio");
		return PW_EINVAL;
	}
	if (r->tread_critical_mm >= r->tread_warn_mm) {
		set_err(
		    err, err_len,
		    "rules.tyres.tread_critical_mm: expected less than rules.tyres.tread_warn_mm");
		return PW_EINVAL;
	}
	if (r->battery_critical_v >= r->battery_warn_v) {
		set_err(err, err_len,
		        "rules.battery.critical_v: expected less than rules.battery.warn_v");
		return PW_EINVAL;
	}
	if (r->fuel_recent_days >= r->fuel_baseline_days) {
		set_err(err, err_len,
		        "rules.fuel.recent_days: expected less than rules.fuel.baseline_days");
		return PW_EINVAL;
	}
	if (r->congestion_kmh >= r->highway_kmh) {
		set_err(
		    err, err_len,
		    "rules.profile.congestion_kmh: expected less than rules.profile.highway_kmh");
		return PW_EINVAL;
	}
	if (r->due_lead_km >= r->first_service_km || r->due_lead_km >= r->service_interval_km) {
		set_err(err, err_len,
		        "rules.maintenance.due_lead_km: expected less than "
		        "rules.maintenance.first_service_km and rules.maintenance.interval_km");
		return PW_EINVAL;
	}
	for (int i = 0; i < r->n_plans; i++) {
		if (r->due_lead_km >= r->plans[i].first_service_km ||
		    r->due_lead_km >= r->plans[i].interval_km) {
			set_err(
			    err, err_len,
			    "rules.maintenance.plans[%d]: first_service_km and interval_km must be "
			    "more than rules.maintenance.due_lead_km",
			    i);
			return PW_EINVAL;
		}
	}
	return PW_OK;
}

int config_set(struct pw_config *cfg, const char *path, const char *value, char *err,
               size_t err_len)
{
	const struct key *k = path ? find_key(path) : NULL;
	char what[160];
	int derived;

	if (!k) {
		set_err(err, err_len, "%s: unknown key", path ? path : "(null)");
		return PW_ENOTFOUND;
	}
	if (!value)
		goto bad;
	derived = client_id_derived(cfg);
	switch (k->type) {
	case K_STR:
		if (!str_ok(k, value, strlen(value)))
			goto bad;
		memcpy(field(cfg, k), value, strlen(value) + 1);
		if (derived && strcmp(k->path, "site.id") == 0)
			derive_client_id(cfg->site.id, cfg->mqtt.client_id,
			                 sizeof(cfg->mqtt.client_id));
		return PW_OK;
	case K_INT: {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < (long)k->min || v > (long)k->max)
			goto bad;
		*(int *)field(cfg, k) = (int)v;
		return PW_OK;
	}
	case K_DBL: {
		char *end;
		double v;

		errno = 0;
		v = strtod(value, &end);
		if (errno || end == value || *end || !num_ok(k, v))
			goto bad;
		*(double *)field(cfg, k) = v;
		return PW_OK;
	}
	case K_LEVEL:
		if (log_parse_level(value, (enum pw_log_level *)field(cfg, k)) != 0)
			goto bad;
		return PW_OK;
	case K_BOOL:
		if (strcmp(value, "true") == 0)
			*(int *)field(cfg, k) = 1;
		else if (strcmp(value, "false") == 0)
			*(int *)field(cfg, k) = 0;
		else
			goto bad;
		return PW_OK;
	case K_ORIGINS:
	case K_DAYS:
	case K_PLANS:
		set_err(err, err_len, "%s: an array, set it in the config file", k->path);
		return PW_EINVAL;
	}
bad:
	describe(k, what, sizeof(what));
	set_err(err, err_len, "%s: expected %s", k->path, what);
	return PW_EINVAL;
}
