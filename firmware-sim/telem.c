/*
 * telem — JSON rendering of the contract's payloads. See telem.h.
 * Pure; any thread.
 */
#include <math.h>
#include <string.h>

#include "pw.h"
#include "telem.h"

static const char *const tire_keys[PW_TIRE_COUNT] = {"fl", "fr", "rl", "rr"};

void telem_buf_init(struct telem_buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->len = 0;
	b->cap = cap;
	b->overflow = 0;
}

static void put_mem(struct telem_buf *b, const char *s, size_t n)
{
	if (b->overflow || b->len + n > b->cap) {
		b->overflow = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void telem_buf_puts(struct telem_buf *b, const char *s)
{
	put_mem(b, s, strlen(s));
}

void telem_buf_putc(struct telem_buf *b, char c)
{
	put_mem(b, &c, 1);
}

static void put_uint(struct telem_buf *b, uint64_t v, int min_digits)
{
	char tmp[24];
	int i = (int)sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
		min_digits--;
	} while (v || min_digits > 0);
	put_mem(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void telem_buf_int(struct telem_buf *b, int64_t v)
{
	if (v < 0) {
		telem_buf_putc(b, '-');
		put_uint(b, (uint64_t)0 - (uint64_t)v, 1);
	} else {
		put_uint(b, (uint64_t)v, 1);
	}
}

void telem_buf_fixed(struct telem_buf *b, double v, int decimals)
{
	static const double scale[] = {1, 10, 100, 1000, 1e4, 1e5, 1e6};
	double s;
	uint64_t whole, frac, units;

	if (decimals < 0)
		decimals = 0;
	if (decimals > 6)
		decimals = 6;
	if (!isfinite(v))
		v = 0;
	s = fabs(v) * scale[decimals] + 0.5;
	if (s >= 9e15)
		s = 9e15;
	units = (uint64_t)s;
	if (v < 0 && units != 0)
		telem_buf_putc(b, '-');
	whole = units / (uint64_t)scale[decimals];
	frac = units % (uint64_t)scale[decimals];
	put_uint(b, whole, 1);
	if (decimals > 0) {
		telem_buf_putc(b, '.');
		put_uint(b, frac, decimals);
	}
}

static double clampd(double v, double lo, double hi)
{
	if (!(v >= lo)) /* also NaN */
		return lo;
	return v > hi ? hi : v;
}

static void put_key(struct telem_buf *b, const char *key)
{
	telem_buf_puts(b, ",\"");
	telem_buf_puts(b, key);
	telem_buf_puts(b, "\":");
}

static void put_num(struct telem_buf *b, const char *key, double v, double lo, double hi, int dec)
{
	put_key(b, key);
	telem_buf_fixed(b, clampd(v, lo, hi), dec);
}

const char *telem_ignition_name(int ignition)
{
	switch (ignition) {
	case PW_IGN_ACC:
		return "acc";
	case PW_IGN_ON:
		return "on";
	default:
		return "off";
	}
}

const char *telem_dtc_status_name(int status)
{
	switch (status) {
	case PW_DTC_CONFIRMED:
		return "confirmed";
	case PW_DTC_PERMANENT:
		return "permanent";
	default:
		return "pending";
	}
}

static void put_tires(struct telem_buf *b, const struct pw_tire *tires)
{
	int w, first = 1;

	put_key(b, "tires");
	telem_buf_putc(b, '{');
	for (w = 0; w < PW_TIRE_COUNT; w++) {
		const struct pw_tire *t = &tires[w];
		int firstm = 1;

		if (!t->has)
			continue;
		if (!first)
			telem_buf_putc(b, ',');
		first = 0;
		telem_buf_putc(b, '"');
		telem_buf_puts(b, tire_keys[w]);
		telem_buf_puts(b, "\":{");
		if (t->has & PW_TIRE_KPA) {
			telem_buf_puts(b, "\"kpa\":");
			telem_buf_fixed(b, clampd(t->kpa, 0, 1000), 1);
			firstm = 0;
		}
		if (t->has & PW_TIRE_TREAD) {
			telem_buf_puts(b, firstm ? "\"tread_mm\":" : ",\"tread_mm\":");
			telem_buf_fixed(b, clampd(t->tread_mm, 0, 30), 2);
			firstm = 0;
		}
		if (t->has & PW_TIRE_TEMP) {
			telem_buf_puts(b, firstm ? "\"temp_c\":" : ",\"temp_c\":");
			telem_buf_fixed(b, clampd(t->temp_c, -60, 200), 1);
		}
		telem_buf_putc(b, '}');
	}
	telem_buf_putc(b, '}');
}

static void put_dtc(struct telem_buf *b, const struct pw_telemetry *t)
{
	int i, n = t->dtc_count > PW_DTC_MAX ? PW_DTC_MAX : t->dtc_count;

	put_key(b, "dtc");
	telem_buf_putc(b, '[');
	for (i = 0; i < n; i++) {
		if (i)
			telem_buf_putc(b, ',');
		telem_buf_puts(b, "{\"code\":\"");
		telem_buf_puts(b, t->dtc[i].code);
		telem_buf_puts(b, "\",\"status\":\"");
		telem_buf_puts(b, telem_dtc_status_name(t->dtc[i].status));
		telem_buf_puts(b, t->dtc[i].mil ? "\",\"mil\":true}" : "\",\"mil\":false}");
	}
	telem_buf_putc(b, ']');
}

static void put_object(struct telem_buf *b, const struct pw_telemetry *t)
{
	telem_buf_puts(b, "{\"v\":1,\"vin\":\"");
	telem_buf_puts(b, t->vin);
	telem_buf_puts(b, "\",\"seq\":");
	telem_buf_int(b, t->seq);
	telem_buf_puts(b, ",\"ts\":");
	telem_buf_int(b, t->ts_ms);
	if (t->has & PW_F_ODOMETER)
		put_num(b, "odometer_km", t->odometer_km, 0, 2000000, 1);
	if (t->has & PW_F_SPEED)
		put_num(b, "speed_kmh", t->speed_kmh, 0, 400, 1);
	if (t->has & PW_F_IGNITION) {
		put_key(b, "ignition");
		telem_buf_putc(b, '"');
		telem_buf_puts(b, telem_ignition_name(t->ignition));
		telem_buf_putc(b, '"');
	}
	if (t->has & PW_F_FUEL_PCT)
		put_num(b, "fuel_pct", t->fuel_pct, 0, 100, 1);
	if (t->has & PW_F_FUEL_RATE)
		put_num(b, "fuel_l_per_100km", t->fuel_l_per_100km, 0, 100, 1);
	if (t->has & PW_F_BATTERY)
		put_num(b, "battery_v", t->battery_v, 0, 60, 2);
	if (t->has & PW_F_ENGINE_HOURS)
		put_num(b, "engine_hours", t->engine_hours, 0, 1e9, 2);
	if (t->has & PW_F_POSITION) {
		put_num(b, "lat", t->lat, -90, 90, 6);
		put_num(b, "lon", t->lon, -180, 180, 6);
	}
	if (t->has & PW_F_HEADING)
		put_num(b, "heading_deg", t->heading_deg, 0, 360, 1);
	if (t->has & PW_F_TIRES)
		put_tires(b, t->tires);
	if (t->has & PW_F_DTC)
		put_dtc(b, t);
	telem_buf_putc(b, '}');
}

int telem_format(const struct pw_telemetry *t, char *buf, size_t cap, size_t *len_out)
{
	struct telem_buf b;

	telem_buf_init(&b, buf, cap);
	put_object(&b, t);
	*len_out = b.len;
	return b.overflow ? PW_ERANGE : PW_OK;
}

int telem_format_batch(const struct pw_telemetry *t, int n, char *buf, size_t cap, size_t *len_out)
{
	struct telem_buf b;
	int i;

	telem_buf_init(&b, buf, cap);
	telem_buf_putc(&b, '[');
	for (i = 0; i < n; i++) {
		if (i)
			telem_buf_putc(&b, ',');
		put_object(&b, &t[i]);
	}
	telem_buf_putc(&b, ']');
	*len_out = b.len;
	return b.overflow ? PW_ERANGE : PW_OK;
}

int telem_format_batch_fit(const struct pw_telemetry *t, int n, char *buf, size_t cap,
                           size_t *len_out, int *used)
{
	struct telem_buf b;
	int i;

	*used = 0;
	telem_buf_init(&b, buf, cap);
	telem_buf_putc(&b, '[');
	for (i = 0; i < n && i < PW_BATCH_MAX; i++) {
		size_t mark = b.len;

		if (i)
			telem_buf_putc(&b, ',');
		put_object(&b, &t[i]);
		/* room for the closing bracket */
		if (b.overflow || b.len + 1 > cap) {
			b.overflow = 0;
			b.len = mark;
			break;
		}
	}
	if (i == 0)
		return PW_ERANGE;
	telem_buf_putc(&b, ']');
	*used = i;
	*len_out = b.len;
	return b.overflow ? PW_ERANGE : PW_OK;
}

int telem_format_status(int online, int64_t ts_ms, char *buf, size_t cap, size_t *len_out)
{
	struct telem_buf b;

	telem_buf_init(&b, buf, cap);
	telem_buf_puts(&b, online ? "{\"v\":1,\"online\":true,\"ts\":"
	                          : "{\"v\":1,\"online\":false,\"ts\":");
	telem_buf_int(&b, ts_ms);
	telem_buf_putc(&b, '}');
	*len_out = b.len;
	return b.overflow ? PW_ERANGE : PW_OK;
}

int telem_format_plate(int64_t ts_ms, const char *plate, const char *camera, double confidence,
                       char *buf, size_t cap, size_t *len_out)
{
	struct telem_buf b;

	telem_buf_init(&b, buf, cap);
	telem_buf_puts(&b, "{\"v\":1,\"ts\":");
	telem_buf_int(&b, ts_ms);
	telem_buf_puts(&b, ",\"plate\":\"");
	telem_buf_puts(&b, plate);
	telem_buf_puts(&b, "\",\"camera\":\"");
	telem_buf_puts(&b, camera);
	telem_buf_puts(&b, "\",\"confidence\":");
	telem_buf_fixed(&b, clampd(confidence, 0, 1), 2);
	telem_buf_putc(&b, '}');
	*len_out = b.len;
	return b.overflow ? PW_ERANGE : PW_OK;
}
