/*
 * frames — the `vehicle` frame, live badges and the frame throttle (see
 * frames.h for the promises).
 *
 * Rendering appends to the caller's buffer through a small cursor (`struct
 * out`): fixed text with memcpy, numbers by put_num (10 significant digits
 * for the doubles, 7 for the floats decode stored, so 12.4 stays "12.4").
 * Decode has range-checked every value, so nothing here needs escaping:
 * VINs and DTC codes are [A-Z0-9] by contract.
 */
#include "frames.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "greet.h"
#include "hub.h"
#include "pw.h"

static int worse(int a, int b)
{
	return a > b ? a : b;
}

void frames_badges(const struct pw_rules_config *r, const struct pw_latest *t, int battery_else,
                   struct frames_badges *out)
{
	int tyres = PW_SEV_NONE, faults = PW_SEV_NONE, battery = battery_else;

	if (t->has & PW_F_TIRES) {
		for (int w = 0; w < PW_TIRE_COUNT; w++) {
			const struct pw_tire *tr = &t->tires[w];

			if (tr->has & PW_TIRE_KPA)
				tyres = worse(tyres, (int)rules_tyre_pressure_severity(r, tr->kpa));
			if (tr->has & PW_TIRE_TREAD)
				tyres =
				    worse(tyres, (int)rules_tyre_tread_severity(r, tr->tread_mm));
		}
	}
	if (t->has & PW_F_DTC)
		for (int i = 0; i < t->dtc_count && i < PW_DTC_MAX; i++)
			faults =
			    worse(faults, (int)rules_dtc_severity(t->dtc[i].status, t->dtc[i].mil));
	if ((t->has & PW_F_BATTERY) && (t->has & PW_F_IGNITION) && t->ignition == PW_IGN_OFF)
		battery = (int)rules_battery_severity(r, t->battery_v);
	out->tyres = (uint8_t)tyres;
	out->faults = (uint8_t)faults;
	out->battery = (uint8_t)(battery & 3);
}

void frames_vehicle_badges(const struct pw_rules_config *r, const struct pw_vehicle *v,
                           struct frames_badges *out)
{
	frames_badges(r, &v->latest, rules_memo_get(&v->rules, RULES_SLOT_BATTERY), out);
	/* a latched slow leak is a warning until the wheel is back at placard
	 * pressure, as the rules hold it */
	for (int w = 0; w < PW_TIRE_COUNT; w++)
		if (rules_memo_get(&v->rules, RULES_SLOT_LEAK(w)) && out->tyres < PW_SEV_WARNING)
			out->tyres = PW_SEV_WARNING;
}

const char *frames_badge_name(int severity)
{
	static const char *const names[] = {"ok", "info", "warning", "critical"};

	return severity >= 0 && severity < (int)PW_ARRAY_LEN(names) ? names[severity] : "ok";
}

#define SIG_IGNITION_SHIFT 6
#define SIG_IGNITION       (3u << SIG_IGNITION_SHIFT) /* the lists do not show it */

uint16_t frames_signature(const struct frames_badges *b, const struct pw_vehicle *v)
{
	unsigned ign = (v->latest.has & PW_F_IGNITION) ? v->latest.ignition & 3u : 0u;

	return (uint16_t)(0x8000u | (b->tyres & 3u) | (b->faults & 3u) << 2 |
	                  (b->battery & 3u) << 4 | ign << SIG_IGNITION_SHIFT |
	                  (v->online ? 1u : 0u) << 8);
}

int frames_due(const struct pw_vehicle *v, uint16_t sig, uint32_t now_ms, int interval_ms)
{
	if (v->frame_sig == 0 || v->frame_sig != sig)
		return 1;
	return interval_ms <= 0 || (uint32_t)(now_ms - v->frame_ms) >= (uint32_t)interval_ms;
}

void frames_mark_sent(struct pw_vehicle *v, uint16_t sig, uint32_t now_ms)
{
	v->frame_sig = sig;
	v->frame_ms = now_ms;
}

int frames_minor(const struct pw_vehicle *v, uint16_t sig, uint32_t now_ms)
{
	/* the same window as the last frame, which was for the lists or whose
	 * window already had one (a counter wrap costs one extra list frame) */
	return v->frame_sig != 0 && (v->frame_sig & ~SIG_IGNITION) == (sig & ~SIG_IGNITION) &&
	       now_ms / FRAMES_LIST_MS == v->frame_ms / FRAMES_LIST_MS;
}

/* ---- rendering -------------------------------------------------------------- */

struct out {
	char *p, *end; /* end: one past the last byte usable for text (NUL room kept) */
	int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || (size_t)(o->end - o->p) < n) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void put_fmt(struct out *o, const char *fmt, ...);

static void put_fmt(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t room;

	if (o->overflow)
		return;
	room = (size_t)(o->end - o->p) + 1; /* snprintf writes a NUL: the reserved byte */
	va_start(ap, fmt);
	n = vsnprintf(o->p, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		o->overflow = 1;
		return;
	}
	o->p += n;
}

/* A number with `sig` significant digits (trailing zeros dropped), as
 * %.*g would print it, by integer arithmetic: snprintf's float formatting
 * is most of a frame's cost. Telemetry stays below 1e9 in magnitude
 * (decode's ranges); 0 < |x| < 0.1 is rare and goes to snprintf. */
static void put_num(struct out *o, double x, int sig)
{
	static const uint64_t pow10[] = {1,         10,         100,           1000,
	                                 10000,     100000,     1000000,       10000000,
	                                 100000000, 1000000000, 10000000000ULL};
	char tmp[32], *p = tmp + sizeof(tmp);
	double ax = fabs(x);
	int ip_digits = 1, decimals;
	uint64_t scaled, ip, frac;

	if (!(ax < 1e9) || (ax != 0 && ax < 0.1) || sig > 10) {
		put_fmt(o, "%.*g", sig, x);
		return;
	}
	if (ax < 1)
		ip_digits = 0; /* 0.1 .. 1: the first decimal is significant */
	while (ip_digits < 9 && ax >= (double)pow10[ip_digits])
		ip_digits++;
	decimals = sig - ip_digits;
	if (decimals < 0)
		decimals = 0;
	scaled = (uint64_t)(ax * (double)pow10[decimals] + 0.5);
	ip = scaled / pow10[decimals];
	frac = scaled % pow10[decimals];
	if (frac) {
		int d = decimals;

		while (frac % 10 == 0) {
			frac /= 10;
			d--;
		}
		while (d-- > 0) {
			*--p = (char)('0' + frac % 10);
			frac /= 10;
		}
		*--p = '.';
	}
	do {
		*--p = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip);
	if (x < 0 && scaled)
		*--p = '-';
	put(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void put_double(struct out *o, int has, double x)
{
	if (!has || !isfinite(x))
		PUT_LIT(o, "null");
	else
		put_num(o, x, 10);
}

static void put_float(struct out *o, int has, float x)
{
	if (!has || !isfinite(x))
		PUT_LIT(o, "null");
	else
		put_num(o, (double)x, 7);
}

static const char *ignition_name(int ign)
{
	switch (ign) {
	case PW_IGN_OFF:
		return "\"off\"";
	case PW_IGN_ACC:
		return "\"acc\"";
	case PW_IGN_ON:
		return "\"on\"";
	default:
		return "null";
	}
}

int frames_render_vehicle(const struct pw_vehicle *v, const struct frames_badges *b, char *buf,
                          size_t cap, size_t *len)
{
	const struct pw_latest *t = &v->latest;
	struct out o = {.p = buf, .end = buf + (cap ? cap - 1 : 0), .overflow = cap == 0};
	int64_t ts = v->ts_ms > v->status_ts_ms ? v->ts_ms : v->status_ts_ms;

	PUT_LIT(&o, "{\"type\":\"vehicle\",\"vin\":\"");
	put(&o, v->vin, strnlen(v->vin, PW_VIN_LEN));
	PUT_LIT(&o, "\",\"ts\":");
	put_fmt(&o, "%" PRId64, ts);
	PUT_LIT(&o, ",\"seq\":");
	if (v->seq_max >= 0)
		put_fmt(&o, "%" PRId64, v->seq_max);
	else
		PUT_LIT(&o, "null");
	PUT_LIT(&o, ",\"odometer_km\":");
	put_double(&o, t->has & PW_F_ODOMETER, t->odometer_km);
	PUT_LIT(&o, ",\"speed_kmh\":");
	put_float(&o, t->has & PW_F_SPEED, t->speed_kmh);
	PUT_LIT(&o, ",\"fuel_pct\":");
	put_float(&o, t->has & PW_F_FUEL_PCT, t->fuel_pct);
	PUT_LIT(&o, ",\"battery_v\":");
	put_float(&o, t->has & PW_F_BATTERY, t->battery_v);
	PUT_LIT(&o, ",\"ignition\":");
	put_str(&o, ignition_name((t->has & PW_F_IGNITION) ? t->ignition : PW_IGN_UNKNOWN));
	PUT_LIT(&o, ",\"online\":");
	put_str(&o, v->online ? "true" : "false");
	PUT_LIT(&o, ",\"tires\":{");
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		const struct pw_tire *tr = &t->tires[w];
		unsigned has = (t->has & PW_F_TIRES) ? tr->has : 0u;

		if (w)
			PUT_LIT(&o, ",");
		PUT_LIT(&o, "\"");
		put_str(&o, rules_wheel_name(w));
		PUT_LIT(&o, "\":{\"kpa\":");
		put_float(&o, has & PW_TIRE_KPA, tr->kpa);
		PUT_LIT(&o, ",\"tread_mm\":");
		put_float(&o, has & PW_TIRE_TREAD, tr->tread_mm);
		PUT_LIT(&o, ",\"temp_c\":");
		put_float(&o, has & PW_TIRE_TEMP, tr->temp_c);
		PUT_LIT(&o, "}");
	}
	PUT_LIT(&o, "},\"dtc\":[");
	if (t->has & PW_F_DTC) {
		for (int i = 0; i < t->dtc_count && i < PW_DTC_MAX; i++) {
			if (i)
				PUT_LIT(&o, ",");
			PUT_LIT(&o, "\"");
			put(&o, t->dtc[i].code, strnlen(t->dtc[i].code, sizeof(t->dtc[i].code)));
			PUT_LIT(&o, "\"");
		}
	}
	PUT_LIT(&o, "],\"badges\":{\"tyres\":\"");
	put_str(&o, frames_badge_name(b->tyres));
	PUT_LIT(&o, "\",\"faults\":\"");
	put_str(&o, frames_badge_name(b->faults));
	PUT_LIT(&o, "\",\"battery\":\"");
	put_str(&o, frames_badge_name(b->battery));
	PUT_LIT(&o, "\"}}");
	if (o.overflow) {
		if (cap)
			buf[0] = '\0';
		return PW_ERANGE;
	}
	*o.p = '\0';
	*len = (size_t)(o.p - buf);
	return PW_OK;
}

/* ---- events ----------------------------------------------------------------- */

static int is_reminder(const char *type)
{
	static const char *const reminders[] = {"maintenance_due", "maintenance_overdue",
	                                        "insurance_due", "lost_customer", "followup_due"};

	for (size_t i = 0; i < PW_ARRAY_LEN(reminders); i++)
		if (strcmp(type, reminders[i]) == 0)
			return 1;
	return 0;
}

/* "e<alert_id>-<n>" -> alert_id; 0 when the id has another shape. */
static json_int_t alert_id_of(const char *id)
{
	json_int_t v = 0;
	const char *p;

	if (!id || id[0] != 'e' || id[1] < '0' || id[1] > '9')
		return 0;
	for (p = id + 1; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (*p - '0');
	}
	return *p == '-' ? v : 0;
}

int frames_event(const char *payload, size_t len, int *channel, char **out, size_t *out_len)
{
	json_t *obj = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type = obj ? json_string_value(json_object_get(obj, "type")) : NULL;
	int rc = PW_EINVAL;
	json_t *event;

	*out = NULL;
	*out_len = 0;
	if (!json_is_object(obj) || !type)
		goto out;
	if (strcmp(type, "greeting") == 0) {
		/* the display gets the contract's members only: no vin, no ts */
		json_t *frame = greet_frame(obj);

		*channel = HUB_WELCOME;
		rc = PW_ENOMEM;
		*out = frame ? json_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(frame);
		if (*out) {
			*out_len = strlen(*out);
			rc = PW_OK;
		}
		goto out;
	}
	if (strcmp(type, "arrival") == 0) {
		*channel = HUB_ADVISOR;
		*out = malloc(len + 1);
		if (!*out) {
			rc = PW_ENOMEM;
			goto out;
		}
		memcpy(*out, payload, len);
		(*out)[len] = '\0';
		*out_len = len;
		rc = PW_OK;
		goto out;
	}
	*channel = HUB_ADVISOR;
	rc = PW_ENOMEM;
	event = json_string(type); /* `type` dies with the old value below */
	if (!event || json_object_set_new(obj, "event", event) ||
	    json_object_set_new(obj, "type", json_string(is_reminder(type) ? "reminder" : "alert")))
		goto out;
	if (!json_object_get(obj, "alert_id")) {
		json_int_t id = alert_id_of(json_string_value(json_object_get(obj, "id")));

		if (id > 0 && json_object_set_new(obj, "alert_id", json_integer(id)))
			goto out;
	}
	*out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
	if (!*out)
		goto out;
	*out_len = strlen(*out);
	rc = PW_OK;
out:
	json_decref(obj);
	return rc;
}
