/*
 * decode — MQTT topics and payloads from outside, checked into C values.
 *
 * Per message: the size is checked first; json_scan then reads the payload
 * once, allocating nothing, straight into the result. Each object's members
 * are dispatched by key length + memcmp: the contract's scalars are kept as
 * they come (numbers converted, strings as spans of the payload), tires and
 * dtc entries are written into struct pw_telemetry as they are read, and
 * anything else is skipped, checked as strictly as the rest (syntax, UTF-8,
 * escapes, depth, duplicate keys). When an object closes its fields are
 * judged in the contract's table order and the first broken rule names the
 * reason; a fault in the JSON itself (bad_json, bad_utf8, too_deep,
 * number_overflow) is the whole message's verdict wherever it is, as when
 * Jansson parsed it first. Details are built only for rejects, from ASCII
 * field names, never from payload bytes. The decisions schemas/ repeats
 * (null, integers, dtc members) are in decode.h.
 *
 * Thread: any; no globals, no allocation, no clock of its own (callers pass
 * now_ms). Each call's reader (~21 KiB) lives on the caller's stack.
 */
#include "decode.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "json_scan.h"

/* ---- reasons and details ------------------------------------------------ */

static const char *const reason_names[PW_REJ__COUNT] = {
    [PW_REJ_NONE] = "none",
    [PW_REJ_TOO_LARGE] = "too_large",
    [PW_REJ_BAD_UTF8] = "bad_utf8",
    [PW_REJ_BAD_JSON] = "bad_json",
    [PW_REJ_TOO_DEEP] = "too_deep",
    [PW_REJ_NUMBER_OVERFLOW] = "number_overflow",
    [PW_REJ_NOT_OBJECT] = "not_object",
    [PW_REJ_BATCH_SIZE] = "batch_size",
    [PW_REJ_MISSING_FIELD] = "missing_field",
    [PW_REJ_BAD_TYPE] = "bad_type",
    [PW_REJ_OUT_OF_RANGE] = "out_of_range",
    [PW_REJ_BAD_VERSION] = "bad_version",
    [PW_REJ_BAD_VIN] = "bad_vin",
    [PW_REJ_VIN_MISMATCH] = "vin_mismatch",
    [PW_REJ_TS_FUTURE] = "ts_future",
    [PW_REJ_TS_TOO_OLD] = "ts_too_old",
    [PW_REJ_BAD_POSITION] = "bad_position",
    [PW_REJ_BAD_DTC] = "bad_dtc",
    [PW_REJ_BAD_TOPIC] = "bad_topic",
    [PW_REJ_NO_MEMORY] = "no_memory",
};

const char *decode_reason_name(enum pw_reject reason)
{
	unsigned i = (unsigned)reason;

	if (i >= PW_REJ__COUNT || !reason_names[i])
		return "unknown";
	return reason_names[i];
}

/* Where a checker writes its verdict's detail; cap may be 0. */
struct verdict {
	char *detail;
	size_t cap;
};

static enum pw_reject fail(struct verdict *vd, enum pw_reject r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum pw_reject fail(struct verdict *vd, enum pw_reject r, const char *fmt, ...)
{
	va_list ap;

	if (vd->cap == 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(vd->detail, vd->cap, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- values ---------------------------------------------------------------- */

/* What a member held, kept until its object closes. */
enum vtype {
	VT_NONE = 0,
	VT_STRING,
	VT_INT,
	VT_REAL,
	VT_TRUE,
	VT_FALSE,
	VT_NULL,
	VT_OBJECT,
	VT_ARRAY
};

struct val {
	uint8_t type; /* enum vtype; VT_NONE: absent */
	union {
		int64_t i;
		double d;
		struct jscan_str s; /* borrowed from the payload */
	} u;
};

/* Keeps the value whose first token is current, at `depth`: a scalar is its
 * token; of an object or array only the type is kept, the rest skipped. */
static int take(struct jscan *s, unsigned depth, struct val *v)
{
	switch (s->tok) {
	case JSCAN_STRING:
		v->type = VT_STRING;
		v->u.s = s->str;
		return 0;
	case JSCAN_INT:
		v->type = VT_INT;
		v->u.i = s->i;
		return 0;
	case JSCAN_REAL:
		v->type = VT_REAL;
		v->u.d = s->d;
		return 0;
	case JSCAN_TRUE:
		v->type = VT_TRUE;
		return 0;
	case JSCAN_FALSE:
		v->type = VT_FALSE;
		return 0;
	case JSCAN_NULL:
		v->type = VT_NULL;
		return 0;
	case JSCAN_LBRACE:
		v->type = VT_OBJECT;
		break;
	case JSCAN_LBRACKET:
		v->type = VT_ARRAY;
		break;
	default:
		break;
	}
	return jscan_skip(s, depth);
}

static int is_number(const struct val *v)
{
	return v->type == VT_INT || v->type == VT_REAL;
}

/* As Jansson's json_number_value: integers converted to double. */
static double number_value(const struct val *v)
{
	return v->type == VT_INT ? (double)v->u.i : v->u.d;
}

/* A string value equal to `lit` once decoded. */
static int str_is(const struct jscan *s, const struct val *v, const char *lit)
{
	size_t n = strlen(lit);
	char buf[16];

	if (v->type != VT_STRING)
		return 0;
	if (!v->u.s.escaped)
		return v->u.s.len == n && memcmp(s->buf + v->u.s.off, lit, n) == 0;
	return n < sizeof(buf) && jscan_str_copy(s, &v->u.s, buf, sizeof(buf)) == (long)n &&
	       memcmp(buf, lit, n) == 0;
}

enum int_res { INT_OK = 0, INT_NOT_NUMBER, INT_NOT_INTEGER, INT_TOO_LOW, INT_TOO_HIGH };

/* Any integral JSON number, as JSON Schema's "integer" (1, 1.0, 1e3). */
static enum int_res get_int64(const struct val *v, int64_t *out)
{
	double r;

	if (v->type == VT_INT) {
		*out = v->u.i;
		return INT_OK;
	}
	if (v->type != VT_REAL)
		return INT_NOT_NUMBER;
	r = v->u.d;
	if (r != floor(r))
		return INT_NOT_INTEGER;
	if (r >= 9223372036854775808.0)
		return INT_TOO_HIGH;
	if (r < -9223372036854775808.0)
		return INT_TOO_LOW;
	*out = (int64_t)r;
	return INT_OK;
}

/* v must be the number 1 (1.0 counts). */
static enum pw_reject check_version(const struct val *v, struct verdict *vd)
{
	if (v->type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "v: missing");
	if (!is_number(v))
		return fail(vd, PW_REJ_BAD_TYPE, "v: not a number");
	if (number_value(v) != 1.0)
		return fail(vd, PW_REJ_BAD_VERSION, "v: must be 1");
	return PW_REJ_NONE;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* A timestamp within [now - 30 days, now + 5 min]. */
static enum pw_reject check_ts_window(const struct val *v, int64_t now_ms, int64_t *ts_ms,
                                      struct verdict *vd)
{
	int64_t ts = 0;

	if (v->type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "ts: missing");
	switch (get_int64(v, &ts)) {
	case INT_NOT_NUMBER:
	case INT_NOT_INTEGER:
		return fail(vd, PW_REJ_BAD_TYPE, "ts: not an integer");
	case INT_TOO_HIGH:
		return fail(vd, PW_REJ_TS_FUTURE, "ts: more than 5 min ahead");
	case INT_TOO_LOW:
		return fail(vd, PW_REJ_TS_TOO_OLD, "ts: more than 30 days old");
	case INT_OK:
		break;
	}
	if (ts > add_sat(now_ms, PW_TS_FUTURE_MS))
		return fail(vd, PW_REJ_TS_FUTURE, "ts: more than 5 min ahead");
	if (ts < add_sat(now_ms, -PW_TS_PAST_MS))
		return fail(vd, PW_REJ_TS_TOO_OLD, "ts: more than 30 days old");
	*ts_ms = ts;
	return PW_REJ_NONE;
}

/* A JSON number (integer or real) within [min, max]. */
static enum pw_reject check_number(const struct val *v, double min, double max, double *out,
                                   struct verdict *vd, const char *name)
{
	double d;

	if (!is_number(v))
		return fail(vd, PW_REJ_BAD_TYPE, "%s: not a number", name);
	d = number_value(v);
	if (!(d >= min && d <= max))
		return fail(vd, PW_REJ_OUT_OF_RANGE, "%s: out of range", name);
	*out = d;
	return PW_REJ_NONE;
}

static int vin_char_ok(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return 1;
	return c >= 'A' && c <= 'Z' && c != 'I' && c != 'O' && c != 'Q';
}

static int vin_bytes_ok(const char *s, size_t len)
{
	if (len != PW_VIN_LEN)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!vin_char_ok((unsigned char)s[i]))
			return 0;
	return 1;
}

int decode_vin_valid(const char *vin)
{
	if (!vin)
		return 0;
	return vin_bytes_ok(vin, strnlen(vin, PW_VIN_LEN + 1));
}

/* The fault json_scan found, as the whole message's reason. */
static enum pw_reject scan_fault(const struct jscan *s, struct verdict *vd)
{
	switch (s->err) {
	case JSCAN_EUTF8:
		return fail(vd, PW_REJ_BAD_UTF8, "invalid UTF-8 at byte %zu", s->err_pos);
	case JSCAN_EDEPTH:
		return fail(vd, PW_REJ_TOO_DEEP, "nested too deep at byte %zu", s->err_pos);
	case JSCAN_EOVERFLOW:
		return fail(vd, PW_REJ_NUMBER_OVERFLOW, "number overflow at byte %zu", s->err_pos);
	case JSCAN_EDUPKEY:
		return fail(vd, PW_REJ_BAD_JSON, "duplicate key at byte %zu", s->err_pos);
	case JSCAN_ENULKEY:
		return fail(vd, PW_REJ_BAD_JSON, "NUL in a key at byte %zu", s->err_pos);
	case JSCAN_EEXTRA:
		return fail(vd, PW_REJ_BAD_JSON, "not a single JSON value");
	default:
		return fail(vd, PW_REJ_BAD_JSON, "syntax error at byte %zu", s->err_pos);
	}
}

/* ---- telemetry object ------------------------------------------------------ */

enum fid {
	F_V,
	F_VIN,
	F_SEQ,
	F_TS,
	F_ODOMETER,
	F_SPEED,
	F_IGNITION,
	F_FUEL_PCT,
	F_FUEL_RATE,
	F_BATTERY,
	F_ENGINE_HOURS,
	F_LAT,
	F_LON,
	F_HEADING,
	F_TIRES,
	F_DTC,
	F__COUNT
};

#define KEY_IS(lit) (memcmp(key, lit, sizeof(lit) - 1) == 0)

/* The contract's name for a member, or -1 when unknown. */
static int field_id(const char *key, size_t len)
{
	switch (len) {
	case 1:
		return key[0] == 'v' ? F_V : -1;
	case 2:
		return KEY_IS("ts") ? F_TS : -1;
	case 3:
		if (KEY_IS("vin"))
			return F_VIN;
		if (KEY_IS("seq"))
			return F_SEQ;
		if (KEY_IS("lat"))
			return F_LAT;
		if (KEY_IS("lon"))
			return F_LON;
		if (KEY_IS("dtc"))
			return F_DTC;
		return -1;
	case 5:
		return KEY_IS("tires") ? F_TIRES : -1;
	case 8:
		if (KEY_IS("ignition"))
			return F_IGNITION;
		if (KEY_IS("fuel_pct"))
			return F_FUEL_PCT;
		return -1;
	case 9:
		if (KEY_IS("speed_kmh"))
			return F_SPEED;
		if (KEY_IS("battery_v"))
			return F_BATTERY;
		return -1;
	case 11:
		if (KEY_IS("odometer_km"))
			return F_ODOMETER;
		if (KEY_IS("heading_deg"))
			return F_HEADING;
		return -1;
	case 12:
		return KEY_IS("engine_hours") ? F_ENGINE_HOURS : -1;
	case 16:
		return KEY_IS("fuel_l_per_100km") ? F_FUEL_RATE : -1;
	default:
		return -1;
	}
}

/* The optional numbers, in the contract's table order. */
static const struct num_rule {
	uint8_t id;
	const char *name;
	double min, max;
	uint32_t flag; /* 0: lat/lon, flagged together as PW_F_POSITION */
} num_rules[] = {
    {F_ODOMETER, "odometer_km", 0, 2e6, PW_F_ODOMETER},
    {F_SPEED, "speed_kmh", 0, 400, PW_F_SPEED},
    {F_FUEL_PCT, "fuel_pct", 0, 100, PW_F_FUEL_PCT},
    {F_FUEL_RATE, "fuel_l_per_100km", 0, 100, PW_F_FUEL_RATE},
    {F_BATTERY, "battery_v", 0, 60, PW_F_BATTERY},
    {F_ENGINE_HOURS, "engine_hours", 0, HUGE_VAL, PW_F_ENGINE_HOURS},
    {F_LAT, "lat", -90, 90, 0},
    {F_LON, "lon", -180, 180, 0},
    {F_HEADING, "heading_deg", 0, 360, PW_F_HEADING},
};

static void store_number(struct pw_telemetry *t, int id, double d)
{
	switch (id) {
	case F_ODOMETER:
		t->odometer_km = d;
		break;
	case F_SPEED:
		t->speed_kmh = (float)d;
		break;
	case F_FUEL_PCT:
		t->fuel_pct = (float)d;
		break;
	case F_FUEL_RATE:
		t->fuel_l_per_100km = (float)d;
		break;
	case F_BATTERY:
		t->battery_v = (float)d;
		break;
	case F_ENGINE_HOURS:
		t->engine_hours = d;
		break;
	case F_LAT:
		t->lat = d;
		break;
	case F_LON:
		t->lon = d;
		break;
	case F_HEADING:
		t->heading_deg = (float)d;
		break;
	default:
		break;
	}
}

/* One object while it is read. tires and dtc are judged as they are read
 * (their first broken rule kept, its detail already in the item's); the
 * other members wait in f[] for the object's end. */
struct tele {
	struct jscan *s;
	struct pw_telemetry *t;
	struct verdict vd; /* the item's detail */
	enum pw_reject tires_r, dtc_r;
	size_t dtc_n;
	struct val f[F__COUNT];
};

/* Records the first broken rule inside tires; it outranks one inside dtc. */
static void tires_fail(struct tele *tc, enum pw_reject r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tires_fail(struct tele *tc, enum pw_reject r, const char *fmt, ...)
{
	va_list ap;

	if (tc->tires_r != PW_REJ_NONE)
		return;
	tc->tires_r = r;
	va_start(ap, fmt);
	vsnprintf(tc->vd.detail, tc->vd.cap, fmt, ap);
	va_end(ap);
}

/* Records the first broken rule inside dtc (always bad_dtc); `force`: this
 * one replaces it (too many codes outranks any code). */
static void dtc_fail(struct tele *tc, int force, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void dtc_fail(struct tele *tc, int force, const char *fmt, ...)
{
	va_list ap;

	if (tc->dtc_r != PW_REJ_NONE && !force)
		return;
	tc->dtc_r = PW_REJ_BAD_DTC;
	if (tc->tires_r != PW_REJ_NONE)
		return; /* tires comes first: its detail stays */
	va_start(ap, fmt);
	vsnprintf(tc->vd.detail, tc->vd.cap, fmt, ap);
	va_end(ap);
}

static const char *const tire_names[PW_TIRE_COUNT] = {"fl", "fr", "rl", "rr"};

static int tire_pos(const char *key, size_t len)
{
	if (!key || len != 2)
		return -1;
	for (int i = 0; i < PW_TIRE_COUNT; i++)
		if (key[0] == tire_names[i][0] && key[1] == tire_names[i][1])
			return i;
	return -1;
}

/* The members of one tire. */
static const struct tire_rule {
	const char *name;
	size_t len;
	double min, max;
	uint8_t bit;
	size_t offset; /* of the float in struct pw_tire */
} tire_rules[] = {
    {"kpa", 3, 0, 1000, PW_TIRE_KPA, offsetof(struct pw_tire, kpa)},
    {"tread_mm", 8, 0, 30, PW_TIRE_TREAD, offsetof(struct pw_tire, tread_mm)},
    {"temp_c", 6, -60, 200, PW_TIRE_TEMP, offsetof(struct pw_tire, temp_c)},
};

static int tire_rule(const char *key, size_t len)
{
	if (!key)
		return -1;
	for (size_t i = 0; i < PW_ARRAY_LEN(tire_rules); i++)
		if (tire_rules[i].len == len && memcmp(tire_rules[i].name, key, len) == 0)
			return (int)i;
	return -1;
}

/* tires.<pos>: an object at `depth` (current token '{'). */
static int read_tire(struct tele *tc, unsigned depth, int pos)
{
	struct jscan *s = tc->s;
	struct pw_tire *w = &tc->t->tires[pos];
	struct jscan_obj o;
	int r;

	for (r = jscan_obj_first(s, &o, depth); r == 1; r = jscan_obj_next(s, &o)) {
		size_t klen;
		const char *key = jscan_key(s, &klen);
		int i = tire_rule(key, klen);
		const struct tire_rule *tr;
		double d;

		if (jscan_member(s, &o, i) < 0)
			return -1;
		if (i < 0) {
			tc->t->unknown_fields++;
			if (jscan_skip(s, depth + 1) < 0)
				return -1;
			continue;
		}
		tr = &tire_rules[i];
		if (s->tok != JSCAN_INT && s->tok != JSCAN_REAL) {
			tires_fail(tc, PW_REJ_BAD_TYPE, "tires.%s.%s: not a number",
			           tire_names[pos], tr->name);
			if (jscan_skip(s, depth + 1) < 0)
				return -1;
			continue;
		}
		d = s->tok == JSCAN_INT ? (double)s->i : s->d;
		if (!(d >= tr->min && d <= tr->max)) {
			tires_fail(tc, PW_REJ_OUT_OF_RANGE, "tires.%s.%s: out of range",
			           tire_names[pos], tr->name);
			continue;
		}
		*(float *)((char *)w + tr->offset) = (float)d;
		w->has |= tr->bit;
	}
	if (w->has)
		tc->t->has |= PW_F_TIRES;
	return r;
}

/* tires: an object at `depth` (current token '{'). */
static int read_tires(struct tele *tc, unsigned depth)
{
	struct jscan *s = tc->s;
	struct jscan_obj o;
	int r;

	for (r = jscan_obj_first(s, &o, depth); r == 1; r = jscan_obj_next(s, &o)) {
		size_t klen;
		const char *key = jscan_key(s, &klen);
		int pos = tire_pos(key, klen);

		if (jscan_member(s, &o, pos) < 0)
			return -1;
		if (pos >= 0 && s->tok == JSCAN_LBRACE) {
			if (read_tire(tc, depth + 1, pos) < 0)
				return -1;
			continue;
		}
		if (pos < 0)
			tires_fail(tc, PW_REJ_OUT_OF_RANGE, "tires: keys are fl fr rl rr only");
		else
			tires_fail(tc, PW_REJ_BAD_TYPE, "tires.%s: not an object", tire_names[pos]);
		if (jscan_skip(s, depth + 1) < 0)
			return -1;
	}
	return r;
}

/* ^[PCBU][0-3][0-9A-F]{3}$, decoded into code[0..5) */
static int dtc_code_ok(const struct jscan *s, const struct val *v, char code[6])
{
	if (v->type != VT_STRING || jscan_str_copy(s, &v->u.s, code, 6) != 5)
		return 0;
	if (code[0] != 'P' && code[0] != 'C' && code[0] != 'B' && code[0] != 'U')
		return 0;
	if (code[1] < '0' || code[1] > '3')
		return 0;
	for (int i = 2; i < 5; i++)
		if (!((code[i] >= '0' && code[i] <= '9') || (code[i] >= 'A' && code[i] <= 'F')))
			return 0;
	return 1;
}

/* dtc[i], its members read: code, status, mil (VT_NONE when absent). */
static void judge_dtc_entry(struct tele *tc, const struct val m[3], size_t i)
{
	struct pw_dtc *d = &tc->t->dtc[i];

	if (m[0].type == VT_NONE) {
		dtc_fail(tc, 0, "dtc[%zu].code: missing", i);
		return;
	}
	if (!dtc_code_ok(tc->s, &m[0], d->code)) {
		dtc_fail(tc, 0, "dtc[%zu].code: not [PCBU][0-3][0-9A-F]{3}", i);
		return;
	}
	d->code[5] = '\0';
	if (m[1].type == VT_NONE) {
		dtc_fail(tc, 0, "dtc[%zu].status: missing", i);
		return;
	}
	if (str_is(tc->s, &m[1], "pending")) {
		d->status = PW_DTC_PENDING;
	} else if (str_is(tc->s, &m[1], "confirmed")) {
		d->status = PW_DTC_CONFIRMED;
	} else if (str_is(tc->s, &m[1], "permanent")) {
		d->status = PW_DTC_PERMANENT;
	} else {
		dtc_fail(tc, 0, "dtc[%zu].status: not pending|confirmed|permanent", i);
		return;
	}
	if (m[2].type != VT_NONE && m[2].type != VT_TRUE && m[2].type != VT_FALSE) {
		dtc_fail(tc, 0, "dtc[%zu].mil: not a boolean", i);
		return;
	}
	d->mil = m[2].type == VT_TRUE;
	for (size_t k = 0; k < i; k++)
		if (memcmp(tc->t->dtc[k].code, d->code, 5) == 0) {
			dtc_fail(tc, 0, "dtc[%zu].code: repeats dtc[%zu]", i, k);
			return;
		}
}

/* dtc[i]: an object at `depth` (current token '{'), i < PW_DTC_MAX. */
static int read_dtc_entry(struct tele *tc, unsigned depth, size_t i)
{
	struct jscan *s = tc->s;
	struct val m[3] = {{0}}; /* code, status, mil */
	struct jscan_obj o;
	int r;

	for (r = jscan_obj_first(s, &o, depth); r == 1; r = jscan_obj_next(s, &o)) {
		size_t klen;
		const char *key = jscan_key(s, &klen);
		int id = -1;

		if (key && klen == 4 && KEY_IS("code"))
			id = 0;
		else if (key && klen == 6 && KEY_IS("status"))
			id = 1;
		else if (key && klen == 3 && KEY_IS("mil"))
			id = 2;
		if (jscan_member(s, &o, id) < 0)
			return -1;
		if (id < 0) {
			tc->t->unknown_fields++;
			r = jscan_skip(s, depth + 1);
		} else {
			r = take(s, depth + 1, &m[id]);
		}
		if (r < 0)
			return -1;
	}
	if (r == 0 && tc->dtc_r == PW_REJ_NONE) /* after the first broken entry, only read */
		judge_dtc_entry(tc, m, i);
	return r;
}

/* dtc: an array at `depth` (current token '['). */
static int read_dtc(struct tele *tc, unsigned depth)
{
	struct jscan *s = tc->s;
	size_t n = 0;
	int r;

	for (r = jscan_arr_first(s, depth); r == 1; r = jscan_arr_next(s), n++) {
		if (n < PW_DTC_MAX && s->tok == JSCAN_LBRACE) {
			if (read_dtc_entry(tc, depth + 1, n) < 0)
				return -1;
			continue;
		}
		if (n < PW_DTC_MAX)
			dtc_fail(tc, 0, "dtc[%zu]: not an object", n);
		if (jscan_skip(s, depth + 1) < 0)
			return -1;
	}
	if (n > PW_DTC_MAX)
		dtc_fail(tc, 1, "dtc: more than %d codes", PW_DTC_MAX);
	tc->dtc_n = n;
	return r;
}

/* The object's verdict, its rules in the contract's table order. */
static enum pw_reject judge(struct tele *tc, const char *topic_vin, int64_t now_ms)
{
	const struct val *f = tc->f;
	struct pw_telemetry *t = tc->t;
	struct verdict *vd = &tc->vd;
	char vin[PW_VIN_LEN + 1];
	enum pw_reject r;
	int64_t seq = 0;
	long n;

	if ((r = check_version(&f[F_V], vd)) != PW_REJ_NONE)
		return r;

	if (f[F_VIN].type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "vin: missing");
	if (f[F_VIN].type != VT_STRING)
		return fail(vd, PW_REJ_BAD_TYPE, "vin: not a string");
	n = jscan_str_copy(tc->s, &f[F_VIN].u.s, vin, sizeof(vin));
	if (n < 0 || !vin_bytes_ok(vin, (size_t)n))
		return fail(vd, PW_REJ_BAD_VIN, "vin: not 17 of [A-HJ-NPR-Z0-9]");
	if (memcmp(vin, topic_vin, PW_VIN_LEN) != 0)
		return fail(vd, PW_REJ_VIN_MISMATCH, "vin: differs from the topic's");
	memcpy(t->vin, topic_vin, PW_VIN_LEN);
	t->vin[PW_VIN_LEN] = '\0';

	if (f[F_SEQ].type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "seq: missing");
	switch (get_int64(&f[F_SEQ], &seq)) {
	case INT_NOT_NUMBER:
	case INT_NOT_INTEGER:
		return fail(vd, PW_REJ_BAD_TYPE, "seq: not an integer");
	case INT_TOO_LOW:
	case INT_TOO_HIGH:
		return fail(vd, PW_REJ_OUT_OF_RANGE, "seq: out of range");
	case INT_OK:
		break;
	}
	if (seq < 0)
		return fail(vd, PW_REJ_OUT_OF_RANGE, "seq: below 0");
	t->seq = seq;

	if ((r = check_ts_window(&f[F_TS], now_ms, &t->ts_ms, vd)) != PW_REJ_NONE)
		return r;

	for (size_t i = 0; i < PW_ARRAY_LEN(num_rules); i++) {
		const struct num_rule *nr = &num_rules[i];
		double d = 0;

		if (f[nr->id].type == VT_NONE)
			continue;
		r = check_number(&f[nr->id], nr->min, nr->max, &d, vd, nr->name);
		if (r != PW_REJ_NONE)
			return r;
		store_number(t, nr->id, d);
		t->has |= nr->flag;
	}
	if ((f[F_LAT].type == VT_NONE) != (f[F_LON].type == VT_NONE))
		return fail(vd, PW_REJ_BAD_POSITION,
		            f[F_LAT].type != VT_NONE ? "lat: without lon" : "lon: without lat");
	if (f[F_LAT].type != VT_NONE)
		t->has |= PW_F_POSITION;

	if (f[F_IGNITION].type != VT_NONE) {
		const struct val *ig = &f[F_IGNITION];

		if (ig->type != VT_STRING)
			return fail(vd, PW_REJ_BAD_TYPE, "ignition: not a string");
		if (str_is(tc->s, ig, "off"))
			t->ignition = PW_IGN_OFF;
		else if (str_is(tc->s, ig, "acc"))
			t->ignition = PW_IGN_ACC;
		else if (str_is(tc->s, ig, "on"))
			t->ignition = PW_IGN_ON;
		else
			return fail(vd, PW_REJ_OUT_OF_RANGE, "ignition: not off|acc|on");
		t->has |= PW_F_IGNITION;
	}
	if (f[F_TIRES].type != VT_NONE) {
		if (f[F_TIRES].type != VT_OBJECT)
			return fail(vd, PW_REJ_BAD_TYPE, "tires: not an object");
		if (tc->tires_r != PW_REJ_NONE)
			return tc->tires_r; /* its detail is written */
	}
	if (f[F_DTC].type != VT_NONE) {
		if (f[F_DTC].type != VT_ARRAY)
			return fail(vd, PW_REJ_BAD_TYPE, "dtc: not an array");
		if (tc->dtc_r != PW_REJ_NONE)
			return tc->dtc_r;
		t->dtc_count = (uint8_t)tc->dtc_n;
		t->has |= PW_F_DTC;
	}
	return PW_REJ_NONE;
}

/* One telemetry object at `depth` (current token '{') into `it`. 0, or -1
 * when the JSON is at fault (then `it` is garbage and s->err says why). */
static int read_object(struct jscan *s, unsigned depth, const char *topic_vin, int64_t now_ms,
                       struct decode_item *it)
{
	struct tele tc;
	struct jscan_obj o;
	int r;

	memset(&it->t, 0, sizeof(it->t));
	it->detail[0] = '\0';
	memset(&tc, 0, sizeof(tc));
	tc.s = s;
	tc.t = &it->t;
	tc.vd.detail = it->detail;
	tc.vd.cap = sizeof(it->detail);

	for (r = jscan_obj_first(s, &o, depth); r == 1; r = jscan_obj_next(s, &o)) {
		size_t klen;
		const char *key = jscan_key(s, &klen);
		int id = key ? field_id(key, klen) : -1;

		if (jscan_member(s, &o, id) < 0)
			return -1;
		if (id < 0) {
			it->t.unknown_fields++;
			r = jscan_skip(s, depth + 1);
		} else if (id == F_TIRES && s->tok == JSCAN_LBRACE) {
			tc.f[id].type = VT_OBJECT;
			r = read_tires(&tc, depth + 1);
		} else if (id == F_DTC && s->tok == JSCAN_LBRACKET) {
			tc.f[id].type = VT_ARRAY;
			r = read_dtc(&tc, depth + 1);
		} else {
			r = take(s, depth + 1, &tc.f[id]);
		}
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	it->reason = judge(&tc, topic_vin, now_ms);
	if (it->reason != PW_REJ_NONE)
		memset(&it->t, 0, sizeof(it->t));
	return 0;
}

static void not_object(struct decode_item *it)
{
	struct verdict vd = {it->detail, sizeof(it->detail)};

	memset(&it->t, 0, sizeof(it->t));
	it->reason = fail(&vd, PW_REJ_NOT_OBJECT, "not an object");
}

/* The top-level array (current token '[' at depth 2): the batch. Elements
 * beyond PW_BATCH_MAX are only checked and counted. */
static int read_batch(struct jscan *s, const char *topic_vin, int64_t now_ms,
                      struct decode_batch *out, size_t *count)
{
	size_t n = 0;
	int r;

	for (r = jscan_arr_first(s, 2); r == 1; r = jscan_arr_next(s), n++) {
		if (n < PW_BATCH_MAX && s->tok == JSCAN_LBRACE) {
			if (read_object(s, 3, topic_vin, now_ms, &out->items[n]) < 0)
				return -1;
			continue;
		}
		if (n < PW_BATCH_MAX)
			not_object(&out->items[n]);
		if (jscan_skip(s, 3) < 0)
			return -1;
	}
	*count = n;
	return r;
}

int decode_telemetry(const char *topic_vin, const void *payload, size_t len, int64_t now_ms,
                     struct decode_batch *out)
{
	struct verdict vd = {out->detail, sizeof(out->detail)};
	struct jscan s;
	enum jscan_tok top;
	size_t n = 1;
	int r;

	out->reason = PW_REJ_NONE;
	out->detail[0] = '\0';
	out->is_array = 0;
	out->count = 0;

	if (!decode_vin_valid(topic_vin)) {
		out->reason = fail(&vd, PW_REJ_BAD_VIN, "topic vin: not 17 of [A-HJ-NPR-Z0-9]");
		return PW_EINVAL;
	}
	if (len > PW_PAYLOAD_MAX || jscan_open(&s, payload, len) != PW_OK) {
		out->reason = fail(&vd, PW_REJ_TOO_LARGE, "payload of %zu bytes (limit %d)", len,
		                   PW_PAYLOAD_MAX);
		return PW_EINVAL;
	}
	top = s.tok;
	if (top == JSCAN_LBRACE)
		r = read_object(&s, 2, topic_vin, now_ms, &out->items[0]);
	else if (top == JSCAN_LBRACKET)
		r = read_batch(&s, topic_vin, now_ms, out, &n);
	else
		r = jscan_skip(&s, 2);
	if (r < 0 || jscan_close(&s) < 0) {
		out->reason = scan_fault(&s, &vd);
		return PW_EINVAL;
	}
	if (top == JSCAN_LBRACE) {
		out->count = 1;
		return PW_OK;
	}
	if (top != JSCAN_LBRACKET) {
		out->reason = fail(&vd, PW_REJ_NOT_OBJECT, "not an object or array");
		return PW_EINVAL;
	}
	if (n == 0 || n > PW_BATCH_MAX) {
		out->reason = fail(&vd, PW_REJ_BATCH_SIZE, "batch of %zu (1..%d)", n, PW_BATCH_MAX);
		return PW_EINVAL;
	}
	out->is_array = 1;
	out->count = (int)n;
	return PW_OK;
}

/* ---- status and plate reads ---------------------------------------------- */

/* Reads a payload that must be one object: the members named `names` into
 * vals[] (VT_NONE when absent, strings borrowed from the payload), others
 * skipped. Faults in the JSON come first, then not_object. */
static enum pw_reject read_fields(struct jscan *s, const void *payload, size_t len,
                                  const char *const *names, size_t n, struct val *vals,
                                  struct verdict *vd)
{
	struct jscan_obj o;
	enum jscan_tok top;
	int r;

	if (len > PW_PAYLOAD_MAX || jscan_open(s, payload, len) != PW_OK)
		return fail(vd, PW_REJ_TOO_LARGE, "payload of %zu bytes (limit %d)", len,
		            PW_PAYLOAD_MAX);
	top = s->tok;
	if (top != JSCAN_LBRACE)
		r = jscan_skip(s, 2);
	else
		for (r = jscan_obj_first(s, &o, 2); r == 1; r = jscan_obj_next(s, &o)) {
			size_t klen;
			const char *key = jscan_key(s, &klen);
			int id = -1;

			for (size_t i = 0; key && i < n && id < 0; i++)
				if (strlen(names[i]) == klen && memcmp(names[i], key, klen) == 0)
					id = (int)i;
			if (jscan_member(s, &o, id) < 0)
				return scan_fault(s, vd);
			r = id < 0 ? jscan_skip(s, 3) : take(s, 3, &vals[id]);
			if (r < 0)
				break;
		}
	if (r < 0 || jscan_close(s) < 0)
		return scan_fault(s, vd);
	if (top != JSCAN_LBRACE)
		return fail(vd, PW_REJ_NOT_OBJECT, "not an object");
	return PW_REJ_NONE;
}

static int finish(enum pw_reject r, enum pw_reject *reason)
{
	if (reason)
		*reason = r;
	return r == PW_REJ_NONE ? PW_OK : PW_EINVAL;
}

static enum pw_reject check_status(const struct val *f, struct pw_status *out, struct verdict *vd)
{
	enum pw_reject r;
	int64_t ts = 0;

	if ((r = check_version(&f[0], vd)) != PW_REJ_NONE)
		return r;
	if (f[1].type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "online: missing");
	if (f[1].type != VT_TRUE && f[1].type != VT_FALSE)
		return fail(vd, PW_REJ_BAD_TYPE, "online: not a boolean");
	if (f[2].type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "ts: missing");
	switch (get_int64(&f[2], &ts)) {
	case INT_NOT_NUMBER:
	case INT_NOT_INTEGER:
		return fail(vd, PW_REJ_BAD_TYPE, "ts: not an integer");
	case INT_TOO_LOW:
	case INT_TOO_HIGH:
		return fail(vd, PW_REJ_OUT_OF_RANGE, "ts: out of range");
	case INT_OK:
		break;
	}
	if (ts < 0)
		return fail(vd, PW_REJ_OUT_OF_RANGE, "ts: below 0");
	out->online = f[1].type == VT_TRUE;
	out->ts_ms = ts;
	return PW_REJ_NONE;
}

int decode_status(const void *payload, size_t len, struct pw_status *out, enum pw_reject *reason,
                  char *detail, size_t detail_len)
{
	static const char *const names[] = {"v", "online", "ts"};
	struct verdict vd = {detail, detail ? detail_len : 0};
	struct val f[3] = {{0}};
	struct jscan s;
	enum pw_reject r;

	memset(out, 0, sizeof(*out));
	if (vd.cap)
		detail[0] = '\0';
	r = read_fields(&s, payload, len, names, 3, f, &vd);
	if (r == PW_REJ_NONE)
		r = check_status(f, out, &vd);
	if (r != PW_REJ_NONE)
		memset(out, 0, sizeof(*out));
	return finish(r, reason);
}

/* A plate: 2-12 characters of [A-Za-z0-9-] and CJK ideographs (U+4E00 to
 * U+9FFF), copied with ASCII letters upper-cased. The Chinese formats
 * (province + letter + 5 or 6) are a subset of this. 0 when it is not. */
static int plate_copy(const char *s, size_t len, char *dst, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	int chars = 0;

	while (i < len) {
		unsigned char c = p[i];

		if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '-') {
			dst[o++] = (char)c;
			i++;
		} else if (c >= 'a' && c <= 'z') {
			dst[o++] = (char)(c - 'a' + 'A');
			i++;
		} else if ((c & 0xF0) == 0xE0 && i + 2 < len) {
			/* strings are valid UTF-8: three bytes, 1110xxxx 10xxxxxx 10xxxxxx */
			unsigned cp = ((unsigned)(c & 0x0F) << 12) |
			              ((unsigned)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);

			if (cp < 0x4E00 || cp > 0x9FFF || (p[i + 1] & 0xC0) != 0x80 ||
			    (p[i + 2] & 0xC0) != 0x80)
				return 0;
			memcpy(dst + o, p + i, 3);
			o += 3;
			i += 3;
		} else {
			return 0;
		}
		if (++chars > 12 || o + 4 > cap)
			return 0;
	}
	dst[o] = '\0';
	return chars >= 2;
}

static enum pw_reject check_anpr(const struct jscan *s, const struct val *f, int64_t now_ms,
                                 struct pw_plate_read *out, struct verdict *vd)
{
	char plate[64], cam[sizeof(out->camera) - 1];
	enum pw_reject r;
	long n;

	if ((r = check_version(&f[0], vd)) != PW_REJ_NONE)
		return r;
	if ((r = check_ts_window(&f[1], now_ms, &out->ts_ms, vd)) != PW_REJ_NONE)
		return r;
	if (f[2].type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "plate: missing");
	if (f[2].type != VT_STRING)
		return fail(vd, PW_REJ_BAD_TYPE, "plate: not a string");
	/* 12 characters take at most 36 bytes: a longer string is no plate */
	n = jscan_str_copy(s, &f[2].u.s, plate, sizeof(plate));
	if (n < 0 || !plate_copy(plate, (size_t)n, out->plate, sizeof(out->plate)))
		return fail(vd, PW_REJ_OUT_OF_RANGE, "plate: not 2-12 of [A-Z0-9-] or CJK");
	if (f[3].type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "camera: missing");
	if (f[3].type != VT_STRING)
		return fail(vd, PW_REJ_BAD_TYPE, "camera: not a string");
	n = jscan_str_copy(s, &f[3].u.s, cam, sizeof(cam));
	if (n < 1)
		return fail(vd, PW_REJ_OUT_OF_RANGE, "camera: not 1-64 printable ASCII");
	for (long i = 0; i < n; i++)
		if ((unsigned char)cam[i] < 0x20 || (unsigned char)cam[i] > 0x7E)
			return fail(vd, PW_REJ_OUT_OF_RANGE, "camera: not 1-64 printable ASCII");
	memcpy(out->camera, cam, (size_t)n);
	out->camera[n] = '\0';
	if (f[4].type == VT_NONE)
		return fail(vd, PW_REJ_MISSING_FIELD, "confidence: missing");
	return check_number(&f[4], 0, 1, &out->confidence, vd, "confidence");
}

int decode_anpr(const void *payload, size_t len, int64_t now_ms, struct pw_plate_read *out,
                enum pw_reject *reason, char *detail, size_t detail_len)
{
	static const char *const names[] = {"v", "ts", "plate", "camera", "confidence"};
	struct verdict vd = {detail, detail ? detail_len : 0};
	struct val f[5] = {{0}};
	struct jscan s;
	enum pw_reject r;

	memset(out, 0, sizeof(*out));
	if (vd.cap)
		detail[0] = '\0';
	r = read_fields(&s, payload, len, names, 5, f, &vd);
	if (r == PW_REJ_NONE)
		r = check_anpr(&s, f, now_ms, out, &vd);
	if (r != PW_REJ_NONE)
		memset(out, 0, sizeof(*out));
	return finish(r, reason);
}

/* ---- topics ---------------------------------------------------------------- */

#define TOPIC_PREFIX "pitwall/v1/"

static int starts(const char *s, size_t len, const char *lit, size_t *rest)
{
	size_t n = strlen(lit);

	if (len < n || memcmp(s, lit, n) != 0)
		return 0;
	*rest = n;
	return 1;
}

static int site_char_ok(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       c == '_' || c == '-';
}

int decode_topic(const char *topic, size_t len, struct pw_topic *out)
{
	const char *seg, *slash, *tail;
	size_t off = 0, seg_len, tail_len;

	memset(out, 0, sizeof(*out));
	if (!topic || memchr(topic, '\0', len))
		return PW_EINVAL;
	if (!starts(topic, len, TOPIC_PREFIX, &off))
		return PW_EINVAL;
	topic += off;
	len -= off;

	if (starts(topic, len, "vehicles/", &off)) {
		seg = topic + off;
		slash = memchr(seg, '/', len - off);
		if (!slash || slash == seg)
			return PW_EINVAL;
		seg_len = (size_t)(slash - seg);
		tail = slash + 1;
		tail_len = len - off - seg_len - 1;
		if (tail_len == 9 && memcmp(tail, "telemetry", 9) == 0)
			out->kind = PW_TOPIC_TELEMETRY;
		else if (tail_len == 6 && memcmp(tail, "status", 6) == 0)
			out->kind = PW_TOPIC_STATUS;
		else
			return PW_EINVAL;
		/* Too long to be a VIN: left empty, which no VIN check accepts. */
		if (seg_len <= PW_VIN_LEN)
			memcpy(out->vin, seg, seg_len);
		return PW_OK;
	}
	if (starts(topic, len, "sites/", &off)) {
		seg = topic + off;
		slash = memchr(seg, '/', len - off);
		if (!slash || slash == seg)
			return PW_EINVAL;
		seg_len = (size_t)(slash - seg);
		tail = slash + 1;
		tail_len = len - off - seg_len - 1;
		if (seg_len >= PW_SITE_ID_MAX || tail_len != 4 || memcmp(tail, "anpr", 4) != 0)
			return PW_EINVAL;
		for (size_t i = 0; i < seg_len; i++)
			if (!site_char_ok((unsigned char)seg[i]))
				return PW_EINVAL;
		memcpy(out->site, seg, seg_len);
		out->kind = PW_TOPIC_ANPR;
		return PW_OK;
	}
	return PW_EINVAL;
}
