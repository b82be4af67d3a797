/*
 * decode_reference — the Jansson-based decoder Pitwall shipped before the
 * zero-allocation reader (gateway/src/decode.c as of commit 6a83cd5), kept
 * verbatim but for names (ref_decode_*, ref_fail) and for the functions
 * that did not change (topics, VIN check, reason names: pwcore's are used).
 *
 * Built only into tests: tests/fuzz/fuzz_decode.c (differential mode) and
 * tests/unit/test_decode.c #include this file; it is never part of pwcore.
 * Both compare its verdicts and decoded values with decode.c's on the same
 * bytes. The one intended difference: Jansson drops a NUL byte that directly
 * follows a number or a literal (its lexer's unget loses it), so it accepts
 * `{"v":1\0,...}`; decode.c rejects that as bad_json (RFC 8259).
 *
 * Thread: any (Jansson's allocator hooks are process-wide, as before).
 */
#include "decode.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- reasons and details ------------------------------------------------ */

/* Where a checker writes its verdict's detail; cap may be 0. */
struct verdict {
	char *detail;
	size_t cap;
};

static enum pw_reject ref_fail(struct verdict *vd, enum pw_reject r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum pw_reject ref_fail(struct verdict *vd, enum pw_reject r, const char *fmt, ...)
{
	va_list ap;

	if (vd->cap == 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(vd->detail, vd->cap, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- parsing ------------------------------------------------------------- */

#define PARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* A string of 24 characters: Jansson's token buffer doubles from 16 to 32
 * bytes while lexing it, mid-string, where a failed growth is harmless.
 * 32 bytes hold every int64 and every double in shortest or %.17g form. */
static const char wrap_head[] = "[\"........................\",";
static const char wrap_tail[] = "]";
#define WRAP_HEAD_LEN (sizeof(wrap_head) - 1)
_Static_assert(WRAP_HEAD_LEN == 28, "the wrapper string must stay 24 characters");

struct feed {
	const char *part[3];
	size_t len[3];
	int i;
	size_t pos;
};

static size_t feed_read(void *buf, size_t cap, void *arg)
{
	struct feed *f = arg;
	size_t n;

	while (f->i < 3 && f->pos == f->len[f->i]) {
		f->i++;
		f->pos = 0;
	}
	if (f->i == 3)
		return 0;
	n = f->len[f->i] - f->pos;
	if (n > cap)
		n = cap;
	memcpy(buf, f->part[f->i] + f->pos, n);
	f->pos += n;
	return n;
}

/* Jansson's error position, as an offset into the payload. */
static long payload_pos(const json_error_t *err, size_t len)
{
	long pos = (long)err->position - (long)WRAP_HEAD_LEN;

	if (pos < 0)
		return 0;
	return (size_t)pos > len ? (long)len : pos;
}

/* Parses one payload. On success *root is a new reference and the wrapper
 * `*wrapper` must be released by the caller (root is borrowed from it).
 * Otherwise returns the reason (PW_REJ_NO_MEMORY when Jansson ran out). */
static enum pw_reject parse(const void *payload, size_t len, json_t **wrapper, json_t **root,
                            struct verdict *vd)
{
	struct feed f = {.part = {wrap_head, payload ? payload : "", wrap_tail},
	                 .len = {WRAP_HEAD_LEN, payload ? len : 0, sizeof(wrap_tail) - 1}};
	json_error_t err;
	json_t *w;

	*wrapper = NULL;
	*root = NULL;
	if (len > PW_PAYLOAD_MAX)
		return ref_fail(vd, PW_REJ_TOO_LARGE, "payload of %zu bytes (limit %d)", len,
		                PW_PAYLOAD_MAX);
	w = json_load_callback(feed_read, &f, PARSE_FLAGS, &err);
	if (!w) {
		/* Jansson sets no error text when an allocation failed. */
		if (err.text[0] == '\0')
			return ref_fail(vd, PW_REJ_NO_MEMORY, "out of memory");
		switch (json_error_code(&err)) {
		case json_error_out_of_memory:
			return ref_fail(vd, PW_REJ_NO_MEMORY, "out of memory");
		case json_error_stack_overflow:
			return ref_fail(vd, PW_REJ_TOO_DEEP, "nested too deep at byte %ld",
			                payload_pos(&err, len));
		case json_error_invalid_utf8:
			return ref_fail(vd, PW_REJ_BAD_UTF8, "invalid UTF-8 at byte %ld",
			                payload_pos(&err, len));
		case json_error_numeric_overflow:
			return ref_fail(vd, PW_REJ_NUMBER_OVERFLOW, "number overflow at byte %ld",
			                payload_pos(&err, len));
		case json_error_duplicate_key:
			return ref_fail(vd, PW_REJ_BAD_JSON, "duplicate key at byte %ld",
			                payload_pos(&err, len));
		case json_error_null_byte_in_key:
			return ref_fail(vd, PW_REJ_BAD_JSON, "NUL in a key at byte %ld",
			                payload_pos(&err, len));
		default:
			return ref_fail(vd, PW_REJ_BAD_JSON, "syntax error at byte %ld",
			                payload_pos(&err, len));
		}
	}
	/* ["...", P] has exactly two elements only when P is one JSON value. */
	if (!json_is_array(w) || json_array_size(w) != 2) {
		json_decref(w);
		return ref_fail(vd, PW_REJ_BAD_JSON, "not a single JSON value");
	}
	*wrapper = w;
	*root = json_array_get(w, 1);
	return PW_REJ_NONE;
}

/* ---- values ---------------------------------------------------------------- */

enum int_res { INT_OK = 0, INT_NOT_NUMBER, INT_NOT_INTEGER, INT_TOO_LOW, INT_TOO_HIGH };

/* Any integral JSON number, as JSON Schema's "integer" (1, 1.0, 1e3). */
static enum int_res get_int64(const json_t *j, int64_t *out)
{
	double r;

	if (json_is_integer(j)) {
		*out = (int64_t)json_integer_value(j);
		return INT_OK;
	}
	if (!json_is_real(j))
		return INT_NOT_NUMBER;
	r = json_real_value(j);
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
static enum pw_reject check_version(const json_t *v, struct verdict *vd)
{
	if (!v)
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "v: missing");
	if (!json_is_number(v))
		return ref_fail(vd, PW_REJ_BAD_TYPE, "v: not a number");
	if (json_number_value(v) != 1.0)
		return ref_fail(vd, PW_REJ_BAD_VERSION, "v: must be 1");
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
static enum pw_reject check_ts_window(const json_t *j, int64_t now_ms, int64_t *ts_ms,
                                      struct verdict *vd)
{
	int64_t ts = 0;

	if (!j)
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "ts: missing");
	switch (get_int64(j, &ts)) {
	case INT_NOT_NUMBER:
	case INT_NOT_INTEGER:
		return ref_fail(vd, PW_REJ_BAD_TYPE, "ts: not an integer");
	case INT_TOO_HIGH:
		return ref_fail(vd, PW_REJ_TS_FUTURE, "ts: more than 5 min ahead");
	case INT_TOO_LOW:
		return ref_fail(vd, PW_REJ_TS_TOO_OLD, "ts: more than 30 days old");
	case INT_OK:
		break;
	}
	if (ts > add_sat(now_ms, PW_TS_FUTURE_MS))
		return ref_fail(vd, PW_REJ_TS_FUTURE, "ts: more than 5 min ahead");
	if (ts < add_sat(now_ms, -PW_TS_PAST_MS))
		return ref_fail(vd, PW_REJ_TS_TOO_OLD, "ts: more than 30 days old");
	*ts_ms = ts;
	return PW_REJ_NONE;
}

/* A JSON number (integer or real) within [min, max]. */
static enum pw_reject check_number(const json_t *j, double min, double max, double *out,
                                   struct verdict *vd, const char *name)
{
	double d;

	if (!json_is_number(j))
		return ref_fail(vd, PW_REJ_BAD_TYPE, "%s: not a number", name);
	d = json_number_value(j);
	if (!(d >= min && d <= max))
		return ref_fail(vd, PW_REJ_OUT_OF_RANGE, "%s: out of range", name);
	*out = d;
	return PW_REJ_NONE;
}

static int str_is(const json_t *j, const char *lit)
{
	size_t n = strlen(lit);

	return json_string_length(j) == n && memcmp(json_string_value(j), lit, n) == 0;
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

static const char *const tire_names[PW_TIRE_COUNT] = {"fl", "fr", "rl", "rr"};

static int tire_pos(const char *key, size_t len)
{
	if (len != 2)
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

static const struct tire_rule *tire_rule(const char *key, size_t len)
{
	for (size_t i = 0; i < PW_ARRAY_LEN(tire_rules); i++)
		if (tire_rules[i].len == len && memcmp(tire_rules[i].name, key, len) == 0)
			return &tire_rules[i];
	return NULL;
}

static enum pw_reject check_tires(const json_t *j, struct pw_telemetry *t, struct verdict *vd)
{
	const char *key;
	size_t klen;
	json_t *tire;

	if (!json_is_object(j))
		return ref_fail(vd, PW_REJ_BAD_TYPE, "tires: not an object");
	json_object_keylen_foreach((json_t *)j, key, klen, tire)
	{
		int pos = tire_pos(key, klen);
		struct pw_tire *out;
		const char *mkey;
		size_t mlen;
		json_t *m;

		if (pos < 0)
			return ref_fail(vd, PW_REJ_OUT_OF_RANGE,
			                "tires: keys are fl fr rl rr only");
		if (!json_is_object(tire))
			return ref_fail(vd, PW_REJ_BAD_TYPE, "tires.%s: not an object",
			                tire_names[pos]);
		out = &t->tires[pos];
		json_object_keylen_foreach(tire, mkey, mlen, m)
		{
			const struct tire_rule *r = tire_rule(mkey, mlen);
			double d;

			if (!r) {
				t->unknown_fields++;
				continue;
			}
			if (!json_is_number(m))
				return ref_fail(vd, PW_REJ_BAD_TYPE, "tires.%s.%s: not a number",
				                tire_names[pos], r->name);
			d = json_number_value(m);
			if (!(d >= r->min && d <= r->max))
				return ref_fail(vd, PW_REJ_OUT_OF_RANGE,
				                "tires.%s.%s: out of range", tire_names[pos],
				                r->name);
			*(float *)((char *)out + r->offset) = (float)d;
			out->has |= r->bit;
		}
		if (out->has)
			t->has |= PW_F_TIRES;
	}
	return PW_REJ_NONE;
}

/* ^[PCBU][0-3][0-9A-F]{3}$ */
static int dtc_code_ok(const json_t *j)
{
	const char *s = json_string_value(j);

	if (json_string_length(j) != 5)
		return 0;
	if (s[0] != 'P' && s[0] != 'C' && s[0] != 'B' && s[0] != 'U')
		return 0;
	if (s[1] < '0' || s[1] > '3')
		return 0;
	for (int i = 2; i < 5; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static enum pw_reject check_dtc(const json_t *j, struct pw_telemetry *t, struct verdict *vd)
{
	size_t n, i;

	if (!json_is_array(j))
		return ref_fail(vd, PW_REJ_BAD_TYPE, "dtc: not an array");
	n = json_array_size(j);
	if (n > PW_DTC_MAX)
		return ref_fail(vd, PW_REJ_BAD_DTC, "dtc: more than %d codes", PW_DTC_MAX);
	for (i = 0; i < n; i++) {
		const json_t *e = json_array_get(j, i);
		const json_t *code = NULL, *status = NULL, *mil = NULL;
		struct pw_dtc *d = &t->dtc[i];
		const char *key;
		size_t klen;
		json_t *m;

		if (!json_is_object(e))
			return ref_fail(vd, PW_REJ_BAD_DTC, "dtc[%zu]: not an object", i);
		json_object_keylen_foreach((json_t *)e, key, klen, m)
		{
			if (klen == 4 && KEY_IS("code"))
				code = m;
			else if (klen == 6 && KEY_IS("status"))
				status = m;
			else if (klen == 3 && KEY_IS("mil"))
				mil = m;
			else
				t->unknown_fields++;
		}
		if (!code)
			return ref_fail(vd, PW_REJ_BAD_DTC, "dtc[%zu].code: missing", i);
		if (!json_is_string(code) || !dtc_code_ok(code))
			return ref_fail(vd, PW_REJ_BAD_DTC,
			                "dtc[%zu].code: not [PCBU][0-3][0-9A-F]{3}", i);
		if (!status)
			return ref_fail(vd, PW_REJ_BAD_DTC, "dtc[%zu].status: missing", i);
		if (str_is(status, "pending"))
			d->status = PW_DTC_PENDING;
		else if (str_is(status, "confirmed"))
			d->status = PW_DTC_CONFIRMED;
		else if (str_is(status, "permanent"))
			d->status = PW_DTC_PERMANENT;
		else
			return ref_fail(vd, PW_REJ_BAD_DTC,
			                "dtc[%zu].status: not pending|confirmed|permanent", i);
		if (mil && !json_is_boolean(mil))
			return ref_fail(vd, PW_REJ_BAD_DTC, "dtc[%zu].mil: not a boolean", i);
		d->mil = mil && json_is_true(mil);
		memcpy(d->code, json_string_value(code), 5);
		d->code[5] = '\0';
		for (size_t k = 0; k < i; k++)
			if (memcmp(t->dtc[k].code, d->code, 5) == 0)
				return ref_fail(vd, PW_REJ_BAD_DTC,
				                "dtc[%zu].code: repeats dtc[%zu]", i, k);
	}
	t->dtc_count = (uint8_t)n;
	t->has |= PW_F_DTC;
	return PW_REJ_NONE;
}

/* Judges one telemetry object; `t` must be zeroed by the caller. */
static enum pw_reject check_object(const json_t *obj, const char *topic_vin, int64_t now_ms,
                                   struct pw_telemetry *t, struct verdict *vd)
{
	const json_t *f[F__COUNT] = {0};
	const char *key;
	size_t klen;
	json_t *val;
	enum pw_reject r;
	int64_t seq = 0;

	if (!json_is_object(obj))
		return ref_fail(vd, PW_REJ_NOT_OBJECT, "not an object");
	json_object_keylen_foreach((json_t *)obj, key, klen, val)
	{
		int id = field_id(key, klen);

		if (id < 0)
			t->unknown_fields++;
		else
			f[id] = val;
	}

	if ((r = check_version(f[F_V], vd)) != PW_REJ_NONE)
		return r;

	if (!f[F_VIN])
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "vin: missing");
	if (!json_is_string(f[F_VIN]))
		return ref_fail(vd, PW_REJ_BAD_TYPE, "vin: not a string");
	if (!vin_bytes_ok(json_string_value(f[F_VIN]), json_string_length(f[F_VIN])))
		return ref_fail(vd, PW_REJ_BAD_VIN, "vin: not 17 of [A-HJ-NPR-Z0-9]");
	if (memcmp(json_string_value(f[F_VIN]), topic_vin, PW_VIN_LEN) != 0)
		return ref_fail(vd, PW_REJ_VIN_MISMATCH, "vin: differs from the topic's");
	memcpy(t->vin, topic_vin, PW_VIN_LEN);
	t->vin[PW_VIN_LEN] = '\0';

	if (!f[F_SEQ])
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "seq: missing");
	switch (get_int64(f[F_SEQ], &seq)) {
	case INT_NOT_NUMBER:
	case INT_NOT_INTEGER:
		return ref_fail(vd, PW_REJ_BAD_TYPE, "seq: not an integer");
	case INT_TOO_LOW:
	case INT_TOO_HIGH:
		return ref_fail(vd, PW_REJ_OUT_OF_RANGE, "seq: out of range");
	case INT_OK:
		break;
	}
	if (seq < 0)
		return ref_fail(vd, PW_REJ_OUT_OF_RANGE, "seq: below 0");
	t->seq = seq;

	if ((r = check_ts_window(f[F_TS], now_ms, &t->ts_ms, vd)) != PW_REJ_NONE)
		return r;

	for (size_t i = 0; i < PW_ARRAY_LEN(num_rules); i++) {
		const struct num_rule *nr = &num_rules[i];
		double d = 0;

		if (!f[nr->id])
			continue;
		r = check_number(f[nr->id], nr->min, nr->max, &d, vd, nr->name);
		if (r != PW_REJ_NONE)
			return r;
		store_number(t, nr->id, d);
		t->has |= nr->flag;
	}
	if (!f[F_LAT] != !f[F_LON])
		return ref_fail(vd, PW_REJ_BAD_POSITION,
		                f[F_LAT] ? "lat: without lon" : "lon: without lat");
	if (f[F_LAT])
		t->has |= PW_F_POSITION;

	if (f[F_IGNITION]) {
		const json_t *ig = f[F_IGNITION];

		if (!json_is_string(ig))
			return ref_fail(vd, PW_REJ_BAD_TYPE, "ignition: not a string");
		if (str_is(ig, "off"))
			t->ignition = PW_IGN_OFF;
		else if (str_is(ig, "acc"))
			t->ignition = PW_IGN_ACC;
		else if (str_is(ig, "on"))
			t->ignition = PW_IGN_ON;
		else
			return ref_fail(vd, PW_REJ_OUT_OF_RANGE, "ignition: not off|acc|on");
		t->has |= PW_F_IGNITION;
	}
	if (f[F_TIRES] && (r = check_tires(f[F_TIRES], t, vd)) != PW_REJ_NONE)
		return r;
	if (f[F_DTC] && (r = check_dtc(f[F_DTC], t, vd)) != PW_REJ_NONE)
		return r;
	return PW_REJ_NONE;
}

static void judge_item(const json_t *obj, const char *topic_vin, int64_t now_ms,
                       struct decode_item *it)
{
	struct verdict vd = {it->detail, sizeof(it->detail)};

	memset(&it->t, 0, sizeof(it->t));
	it->detail[0] = '\0';
	it->reason = check_object(obj, topic_vin, now_ms, &it->t, &vd);
	if (it->reason != PW_REJ_NONE)
		memset(&it->t, 0, sizeof(it->t));
}

static int ref_decode_telemetry(const char *topic_vin, const void *payload, size_t len,
                                int64_t now_ms, struct decode_batch *out)
{
	struct verdict vd = {out->detail, sizeof(out->detail)};
	json_t *wrapper = NULL, *root = NULL;
	int rc = PW_EINVAL;

	out->reason = PW_REJ_NONE;
	out->detail[0] = '\0';
	out->is_array = 0;
	out->count = 0;

	if (!decode_vin_valid(topic_vin)) {
		out->reason = ref_fail(&vd, PW_REJ_BAD_VIN, "topic vin: not 17 of [A-HJ-NPR-Z0-9]");
		goto out;
	}
	out->reason = parse(payload, len, &wrapper, &root, &vd);
	if (out->reason != PW_REJ_NONE) {
		if (out->reason == PW_REJ_NO_MEMORY)
			rc = PW_ENOMEM;
		goto out;
	}
	if (json_is_object(root)) {
		out->count = 1;
		judge_item(root, topic_vin, now_ms, &out->items[0]);
	} else if (json_is_array(root)) {
		size_t n = json_array_size(root);

		if (n == 0 || n > PW_BATCH_MAX) {
			out->reason = ref_fail(&vd, PW_REJ_BATCH_SIZE, "batch of %zu (1..%d)", n,
			                       PW_BATCH_MAX);
			goto out;
		}
		out->is_array = 1;
		out->count = (int)n;
		for (size_t i = 0; i < n; i++)
			judge_item(json_array_get(root, i), topic_vin, now_ms, &out->items[i]);
	} else {
		out->reason = ref_fail(&vd, PW_REJ_NOT_OBJECT, "not an object or array");
		goto out;
	}
	rc = PW_OK;
out:
	json_decref(wrapper);
	return rc;
}

/* ---- status and plate reads ---------------------------------------------- */

/* Borrows the members named `names` into vals[] (left NULL when absent). */
static void lookup(const json_t *obj, const char *const *names, const json_t **vals, size_t n)
{
	const char *key;
	size_t klen;
	json_t *val;

	json_object_keylen_foreach((json_t *)obj, key, klen, val)
	{
		for (size_t i = 0; i < n; i++)
			if (strlen(names[i]) == klen && memcmp(names[i], key, klen) == 0) {
				vals[i] = val;
				break;
			}
	}
}

static int finish(enum pw_reject r, enum pw_reject *reason)
{
	if (reason)
		*reason = r;
	if (r == PW_REJ_NONE)
		return PW_OK;
	return r == PW_REJ_NO_MEMORY ? PW_ENOMEM : PW_EINVAL;
}

static enum pw_reject check_status(const json_t *root, struct pw_status *out, struct verdict *vd)
{
	static const char *const names[] = {"v", "online", "ts"};
	const json_t *f[3] = {0};
	enum pw_reject r;
	int64_t ts = 0;

	if (!json_is_object(root))
		return ref_fail(vd, PW_REJ_NOT_OBJECT, "not an object");
	lookup(root, names, f, 3);
	if ((r = check_version(f[0], vd)) != PW_REJ_NONE)
		return r;
	if (!f[1])
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "online: missing");
	if (!json_is_boolean(f[1]))
		return ref_fail(vd, PW_REJ_BAD_TYPE, "online: not a boolean");
	if (!f[2])
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "ts: missing");
	switch (get_int64(f[2], &ts)) {
	case INT_NOT_NUMBER:
	case INT_NOT_INTEGER:
		return ref_fail(vd, PW_REJ_BAD_TYPE, "ts: not an integer");
	case INT_TOO_LOW:
	case INT_TOO_HIGH:
		return ref_fail(vd, PW_REJ_OUT_OF_RANGE, "ts: out of range");
	case INT_OK:
		break;
	}
	if (ts < 0)
		return ref_fail(vd, PW_REJ_OUT_OF_RANGE, "ts: below 0");
	out->online = json_is_true(f[1]);
	out->ts_ms = ts;
	return PW_REJ_NONE;
}

static int ref_decode_status(const void *payload, size_t len, struct pw_status *out,
                             enum pw_reject *reason, char *detail, size_t detail_len)
{
	struct verdict vd = {detail, detail ? detail_len : 0};
	json_t *wrapper = NULL, *root = NULL;
	enum pw_reject r;

	memset(out, 0, sizeof(*out));
	if (vd.cap)
		detail[0] = '\0';
	r = parse(payload, len, &wrapper, &root, &vd);
	if (r == PW_REJ_NONE)
		r = check_status(root, out, &vd);
	if (r != PW_REJ_NONE)
		memset(out, 0, sizeof(*out));
	json_decref(wrapper);
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
			/* Jansson strings are valid UTF-8: three bytes, 1110xxxx 10xxxxxx 10xxxxxx
			 */
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

static enum pw_reject check_anpr(const json_t *root, int64_t now_ms, struct pw_plate_read *out,
                                 struct verdict *vd)
{
	static const char *const names[] = {"v", "ts", "plate", "camera", "confidence"};
	const json_t *f[5] = {0};
	enum pw_reject r;
	const char *cam;
	size_t cam_len;

	if (!json_is_object(root))
		return ref_fail(vd, PW_REJ_NOT_OBJECT, "not an object");
	lookup(root, names, f, 5);
	if ((r = check_version(f[0], vd)) != PW_REJ_NONE)
		return r;
	if ((r = check_ts_window(f[1], now_ms, &out->ts_ms, vd)) != PW_REJ_NONE)
		return r;
	if (!f[2])
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "plate: missing");
	if (!json_is_string(f[2]))
		return ref_fail(vd, PW_REJ_BAD_TYPE, "plate: not a string");
	if (!plate_copy(json_string_value(f[2]), json_string_length(f[2]), out->plate,
	                sizeof(out->plate)))
		return ref_fail(vd, PW_REJ_OUT_OF_RANGE, "plate: not 2-12 of [A-Z0-9-] or CJK");
	if (!f[3])
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "camera: missing");
	if (!json_is_string(f[3]))
		return ref_fail(vd, PW_REJ_BAD_TYPE, "camera: not a string");
	cam = json_string_value(f[3]);
	cam_len = json_string_length(f[3]);
	if (cam_len < 1 || cam_len > sizeof(out->camera) - 1)
		return ref_fail(vd, PW_REJ_OUT_OF_RANGE, "camera: not 1-64 printable ASCII");
	for (size_t i = 0; i < cam_len; i++)
		if ((unsigned char)cam[i] < 0x20 || (unsigned char)cam[i] > 0x7E)
			return ref_fail(vd, PW_REJ_OUT_OF_RANGE,
			                "camera: not 1-64 printable ASCII");
	memcpy(out->camera, cam, cam_len);
	out->camera[cam_len] = '\0';
	if (!f[4])
		return ref_fail(vd, PW_REJ_MISSING_FIELD, "confidence: missing");
	return check_number(f[4], 0, 1, &out->confidence, vd, "confidence");
}

static int ref_decode_anpr(const void *payload, size_t len, int64_t now_ms,
                           struct pw_plate_read *out, enum pw_reject *reason, char *detail,
                           size_t detail_len)
{
	struct verdict vd = {detail, detail ? detail_len : 0};
	json_t *wrapper = NULL, *root = NULL;
	enum pw_reject r;

	memset(out, 0, sizeof(*out));
	if (vd.cap)
		detail[0] = '\0';
	r = parse(payload, len, &wrapper, &root, &vd);
	if (r == PW_REJ_NONE)
		r = check_anpr(root, now_ms, out, &vd);
	if (r != PW_REJ_NONE)
		memset(out, 0, sizeof(*out));
	json_decref(wrapper);
	return finish(r, reason);
}

/* ---- the differential check ---------------------------------------------------- */

enum ref_kind { REF_TELEMETRY, REF_STATUS, REF_ANPR };

static struct decode_batch ref_new_batch, ref_old_batch; /* large */
static char ref_diff_text[512];

/* Faults in the JSON itself: their details name a byte position, which the
 * two readers count differently; every other detail must be identical. */
static int ref_json_fault(enum pw_reject r)
{
	return r == PW_REJ_BAD_JSON || r == PW_REJ_BAD_UTF8 || r == PW_REJ_TOO_DEEP ||
	       r == PW_REJ_NUMBER_OVERFLOW;
}

/* A NUL byte right after a letter or digit: where Jansson may have lost it. */
static int ref_lost_nul(const unsigned char *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p[i] == 0 && ((p[i - 1] >= '0' && p[i - 1] <= '9') ||
		                  ((p[i - 1] | 0x20) >= 'a' && (p[i - 1] | 0x20) <= 'z')))
			return 1;
	return 0;
}

static const char *ref_differs(const char *what, enum pw_reject now, enum pw_reject then)
{
	snprintf(ref_diff_text, sizeof(ref_diff_text), "%s: decode says %s, reference %s", what,
	         decode_reason_name(now), decode_reason_name(then));
	return ref_diff_text;
}

static const char *ref_diff_telemetry(const char *topic_vin, const void *p, size_t n,
                                      int64_t now_ms)
{
	struct decode_batch *a = &ref_new_batch, *b = &ref_old_batch;
	int rca = decode_telemetry(topic_vin, p, n, now_ms, a);
	int rcb = ref_decode_telemetry(topic_vin, p, n, now_ms, b);

	if (a->reason != b->reason) {
		if (a->reason == PW_REJ_BAD_JSON && ref_lost_nul(p, n))
			return NULL;
		return ref_differs("message", a->reason, b->reason);
	}
	if (rca != rcb || a->count != b->count || a->is_array != b->is_array)
		return ref_differs("message shape", a->reason, b->reason);
	if (!ref_json_fault(a->reason) && strcmp(a->detail, b->detail) != 0) {
		snprintf(ref_diff_text, sizeof(ref_diff_text),
		         "message detail \"%.96s\" vs \"%.96s\"", a->detail, b->detail);
		return ref_diff_text;
	}
	for (int i = 0; i < a->count; i++) {
		const struct decode_item *x = &a->items[i], *y = &b->items[i];

		if (x->reason != y->reason)
			return ref_differs("object", x->reason, y->reason);
		if (strcmp(x->detail, y->detail) != 0) {
			snprintf(ref_diff_text, sizeof(ref_diff_text),
			         "object %d detail \"%.96s\" vs \"%.96s\"", i, x->detail,
			         y->detail);
			return ref_diff_text;
		}
		if (memcmp(&x->t, &y->t, sizeof(x->t)) != 0) {
			snprintf(ref_diff_text, sizeof(ref_diff_text), "object %d: values differ",
			         i);
			return ref_diff_text;
		}
	}
	return NULL;
}

static const char *ref_diff_status(const void *p, size_t n)
{
	struct pw_status a, b;
	enum pw_reject ra = PW_REJ__COUNT, rb = PW_REJ__COUNT;
	char da[PW_DETAIL_MAX], db[PW_DETAIL_MAX];
	int rca = decode_status(p, n, &a, &ra, da, sizeof(da));
	int rcb = ref_decode_status(p, n, &b, &rb, db, sizeof(db));

	if (ra != rb) {
		if (ra == PW_REJ_BAD_JSON && ref_lost_nul(p, n))
			return NULL;
		return ref_differs("status", ra, rb);
	}
	if (rca != rcb || memcmp(&a, &b, sizeof(a)) != 0 ||
	    (!ref_json_fault(ra) && strcmp(da, db) != 0))
		return ref_differs("status values or detail", ra, rb);
	return NULL;
}

static const char *ref_diff_anpr(const void *p, size_t n, int64_t now_ms)
{
	struct pw_plate_read a, b;
	enum pw_reject ra = PW_REJ__COUNT, rb = PW_REJ__COUNT;
	char da[PW_DETAIL_MAX], db[PW_DETAIL_MAX];
	int rca = decode_anpr(p, n, now_ms, &a, &ra, da, sizeof(da));
	int rcb = ref_decode_anpr(p, n, now_ms, &b, &rb, db, sizeof(db));

	if (ra != rb) {
		if (ra == PW_REJ_BAD_JSON && ref_lost_nul(p, n))
			return NULL;
		return ref_differs("plate read", ra, rb);
	}
	if (rca != rcb || memcmp(&a, &b, sizeof(a)) != 0 ||
	    (!ref_json_fault(ra) && strcmp(da, db) != 0))
		return ref_differs("plate read values or detail", ra, rb);
	return NULL;
}

/* Both decoders on the same bytes: NULL when they agree on every verdict,
 * detail and decoded value, else what differs (static text). */
static const char *ref_diff(enum ref_kind kind, const char *topic_vin, const void *p, size_t n,
                            int64_t now_ms)
{
	switch (kind) {
	case REF_TELEMETRY:
		return ref_diff_telemetry(topic_vin, p, n, now_ms);
	case REF_STATUS:
		return ref_diff_status(p, n);
	default:
		return ref_diff_anpr(p, n, now_ms);
	}
}
