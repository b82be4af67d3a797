/*
 * rules — the pure rule functions of rules.h.
 *
 * Dates use Howard Hinnant's days_from_civil / civil_from_days (exact for
 * the proleptic Gregorian calendar, no tables, no libc time functions).
 * Tyre and battery levels are compared with the episode's highest level
 * kept in rules_memo.levels, so one episode raises once and escalates only
 * upwards; a level of none ends it. Slow-leak references are kept in
 * integer tenths so every boundary ("a drop of 20 kPa or more", "within
 * 5 °C") is exact rather than a float accident.
 *
 * Thread: any. Nothing here allocates or blocks; rules_eval() is on the
 * ingest hot path and costs a few compares per object.
 */
#include "rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw.h"

#define DAY_MS       86400000LL
#define TEMP_UNKNOWN INT16_MIN

/* ---- dates ---------------------------------------------------------------- */

int32_t rules_day_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int32_t)(era * 146097 + doe - 719468);
}

void rules_civil_from_day(int32_t day, int *y, int *m, int *d)
{
	int64_t z = (int64_t)day + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t dd = doy - (153 * mp + 2) / 5 + 1;
	int64_t mm = mp < 10 ? mp + 3 : mp - 9;

	*y = (int)(yoe + era * 400 + (mm <= 2));
	*m = (int)mm;
	*d = (int)dd;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int rules_parse_date(const char *s, int32_t *day)
{
	int y, m, d;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) ||
	    digits(s + 5, 2, &m) || digits(s + 8, 2, &d))
		return PW_EINVAL;
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return PW_EINVAL;
	*day = rules_day_from_civil(y, m, d);
	return PW_OK;
}

void rules_format_date(int32_t day, char *buf, size_t len)
{
	int y, m, d;

	rules_civil_from_day(day, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

int32_t rules_add_months(int32_t day, int months)
{
	int y, m, d;
	int64_t idx;

	rules_civil_from_day(day, &y, &m, &d);
	idx = (int64_t)y * 12 + (m - 1) + months;
	y = (int)(idx >= 0 ? idx / 12 : (idx - 11) / 12);
	m = (int)(idx - (int64_t)y * 12) + 1;
	if (d > days_in_month(y, m))
		d = days_in_month(y, m);
	return rules_day_from_civil(y, m, d);
}

int32_t rules_local_day(int64_t ms, int tz_offset_s)
{
	int64_t t = ms + (int64_t)tz_offset_s * 1000;

	return (int32_t)(t >= 0 ? t / DAY_MS : -((-t + DAY_MS - 1) / DAY_MS));
}

int64_t rules_day_start_ms(int32_t day, int tz_offset_s)
{
	return (int64_t)day * DAY_MS - (int64_t)tz_offset_s * 1000;
}

/* ---- names ------------------------------------------------------------------ */

static const char *const severity_names[] = {"none", "info", "warning", "critical"};

const char *rules_severity_name(enum pw_severity s)
{
	return (unsigned)s < PW_ARRAY_LEN(severity_names) ? severity_names[s] : "none";
}

int rules_severity_parse(const char *s, enum pw_severity *out)
{
	for (int i = PW_SEV_INFO; i <= PW_SEV_CRITICAL; i++)
		if (s && strcmp(s, severity_names[i]) == 0) {
			*out = (enum pw_severity)i;
			return PW_OK;
		}
	return PW_EINVAL;
}

static const char *const kind_names[PW_AK__COUNT] = {
    [PW_AK_MAINTENANCE] = "maintenance",
    [PW_AK_INSURANCE] = "insurance",
    [PW_AK_TYRE_PRESSURE] = "tyre_pressure",
    [PW_AK_TYRE_TREAD] = "tyre_tread",
    [PW_AK_FAULT] = "fault",
    [PW_AK_BATTERY] = "battery",
    [PW_AK_FUEL] = "fuel",
    [PW_AK_ODOMETER] = "odometer",
    [PW_AK_LOST_CUSTOMER] = "lost_customer",
    [PW_AK_FOLLOWUP] = "followup",
};

static const char *const kind_types[PW_AK__COUNT] = {
    [PW_AK_MAINTENANCE] = "maintenance_due",
    [PW_AK_INSURANCE] = "insurance_due",
    [PW_AK_TYRE_PRESSURE] = "tyre_pressure",
    [PW_AK_TYRE_TREAD] = "tyre_tread",
    [PW_AK_FAULT] = "fault",
    [PW_AK_BATTERY] = "battery_low",
    [PW_AK_FUEL] = "fuel_anomaly",
    [PW_AK_ODOMETER] = "odometer_rollback",
    [PW_AK_LOST_CUSTOMER] = "lost_customer",
    [PW_AK_FOLLOWUP] = "followup_due",
};

const char *rules_kind_name(enum pw_alert_kind k)
{
	return (unsigned)k < PW_AK__COUNT ? kind_names[k] : "unknown";
}

int rules_kind_parse(const char *s, enum pw_alert_kind *out)
{
	for (int i = 0; i < PW_AK__COUNT; i++)
		if (s && strcmp(s, kind_names[i]) == 0) {
			*out = (enum pw_alert_kind)i;
			return PW_OK;
		}
	return PW_EINVAL;
}

const char *rules_kind_type(enum pw_alert_kind k, int level)
{
	if (k == PW_AK_MAINTENANCE && level >= RULES_MAINT_OVERDUE)
		return "maintenance_overdue";
	return (unsigned)k < PW_AK__COUNT ? kind_types[k] : "unknown";
}

const char *rules_wheel_name(int wheel)
{
	static const char *const n[PW_TIRE_COUNT] = {"fl", "fr", "rl", "rr"};

	return wheel >= 0 && wheel < PW_TIRE_COUNT ? n[wheel] : "?";
}

const char *rules_wheel_name_zh(int wheel)
{
	static const char *const n[PW_TIRE_COUNT] = {"左前", "右前", "左后", "右后"};

	return wheel >= 0 && wheel < PW_TIRE_COUNT ? n[wheel] : "";
}

/* ---- single readings -------------------------------------------------------- */

enum pw_severity rules_tyre_pressure_severity(const struct pw_rules_config *r, double kpa)
{
	if (kpa < r->tyre_critical_ratio * r->tyre_placard_kpa)
		return PW_SEV_CRITICAL;
	if (kpa < r->tyre_warn_ratio * r->tyre_placard_kpa)
		return PW_SEV_WARNING;
	return PW_SEV_NONE;
}

enum pw_severity rules_tyre_tread_severity(const struct pw_rules_config *r, double tread_mm)
{
	if (tread_mm < r->tread_critical_mm)
		return PW_SEV_CRITICAL;
	if (tread_mm < r->tread_warn_mm)
		return PW_SEV_WARNING;
	return PW_SEV_NONE;
}

enum pw_severity rules_battery_severity(const struct pw_rules_config *r, double volts)
{
	if (volts < r->battery_critical_v)
		return PW_SEV_CRITICAL;
	if (volts < r->battery_warn_v)
		return PW_SEV_WARNING;
	return PW_SEV_NONE;
}

enum pw_severity rules_dtc_severity(int status, int mil)
{
	if (status == PW_DTC_CONFIRMED || status == PW_DTC_PERMANENT)
		return mil ? PW_SEV_CRITICAL : PW_SEV_WARNING;
	if (status == PW_DTC_PENDING)
		return PW_SEV_INFO;
	return PW_SEV_NONE;
}

/* ---- the per-message rules ---------------------------------------------------- */

static struct rules_action *add_action(struct rules_verdict *out, enum rules_op op,
                                       enum pw_alert_kind kind)
{
	struct rules_action *a;

	if (out->n >= RULES_ACTIONS_MAX)
		return NULL; /* cannot happen: the maximum is counted in rules.h */
	a = &out->act[out->n++];
	memset(a, 0, sizeof(*a));
	a->op = (uint8_t)op;
	a->kind = (uint8_t)kind;
	a->temp_c = NAN;
	return a;
}

static int32_t x10(double v)
{
	return (int32_t)lround(v * 10.0);
}

/* A slow leak on wheel w by the object's reading: updates the reference and
 * returns 1 with the drop's start pressure and hours when it is one. */
static int slow_leak(const struct pw_rules_config *r, struct rules_leak_ref *ref,
                     const struct pw_tire *t, int64_t ts_ms, double *from_kpa, double *hours)
{
	uint32_t ts_s = ts_ms <= 0 ? 0 : (uint32_t)(ts_ms / 1000);
	int32_t kpa = x10(t->kpa);
	int16_t temp = (t->has & PW_TIRE_TEMP) ? (int16_t)x10(t->temp_c) : TEMP_UNKNOWN;
	int64_t window_s = (int64_t)r->slow_leak_window_h * 3600;
	int fresh = ref->ts_s && ts_s >= ref->ts_s && (int64_t)(ts_s - ref->ts_s) <= window_s;

	if (fresh) {
		int similar;

		if (temp == TEMP_UNKNOWN || ref->temp_x10 == TEMP_UNKNOWN)
			similar =
			    temp == ref->temp_x10; /* both unknown: nothing tells them apart */
		else
			similar = abs(temp - ref->temp_x10) <= x10(r->slow_leak_temp_delta_c);
		if (!similar)
			return 0;
		if ((int32_t)ref->kpa_x10 - kpa >= x10(r->slow_leak_kpa)) {
			*from_kpa = ref->kpa_x10 / 10.0;
			*hours = (double)(ts_s - ref->ts_s) / 3600.0;
			return 1;
		}
		if (kpa <= (int32_t)ref->kpa_x10)
			return 0;
		/* higher at a similar temperature (inflated): measure from here */
	}
	ref->ts_s = ts_s;
	ref->kpa_x10 = (uint16_t)(kpa < 0 ? 0 : kpa > UINT16_MAX ? UINT16_MAX : kpa);
	ref->temp_x10 = temp;
	return 0;
}

static void eval_tyres(const struct pw_rules_config *r, const struct rules_input *in,
                       struct rules_memo *memo, struct rules_verdict *out)
{
	const struct pw_telemetry *obj = in->obj;
	const struct pw_latest *after = in->after;

	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		const struct pw_tire *ot = &obj->tires[w], *lt = &after->tires[w];
		int leak_now = 0;
		double from = 0, hours = 0;

		if (!(ot->has & (PW_TIRE_KPA | PW_TIRE_TREAD)))
			continue;
		if (ot->has & PW_TIRE_KPA) {
			if (!in->late &&
			    slow_leak(r, &memo->leak[w], ot, obj->ts_ms, &from, &hours)) {
				leak_now = !rules_memo_get(memo, RULES_SLOT_LEAK(w));
				rules_memo_set(memo, RULES_SLOT_LEAK(w), 1);
			}
			if ((lt->has & PW_TIRE_KPA) && lt->kpa >= r->tyre_placard_kpa)
				rules_memo_set(memo, RULES_SLOT_LEAK(w), 0); /* back to placard */
		}
		if ((ot->has & PW_TIRE_KPA) && (lt->has & PW_TIRE_KPA)) {
			enum pw_severity low = rules_tyre_pressure_severity(r, lt->kpa);
			int leak = rules_memo_get(memo, RULES_SLOT_LEAK(w));
			int level = leak && low < PW_SEV_WARNING ? (int)PW_SEV_WARNING : (int)low;
			int had = rules_memo_get(memo, RULES_SLOT_PRESSURE(w));
			struct rules_action *a;

			if (level > had &&
			    (a = add_action(out, RULES_RAISE, PW_AK_TYRE_PRESSURE))) {
				a->severity = (uint8_t)level;
				a->wheel = (uint8_t)w;
				a->reason =
				    (int)low >= level ? RULES_TYRE_LOW : RULES_TYRE_SLOW_LEAK;
				a->value = lt->kpa;
				a->temp_c = (lt->has & PW_TIRE_TEMP) ? lt->temp_c : NAN;
				if (leak_now || a->reason == RULES_TYRE_SLOW_LEAK) {
					a->ref = (float)from;
					a->window_h = (float)hours;
				}
				rules_memo_set(memo, RULES_SLOT_PRESSURE(w), level);
			} else if (level == PW_SEV_NONE && had &&
			           (a = add_action(out, RULES_CLEAR, PW_AK_TYRE_PRESSURE))) {
				a->wheel = (uint8_t)w;
				a->value = lt->kpa;
				rules_memo_set(memo, RULES_SLOT_PRESSURE(w), 0);
			}
		}
		if ((ot->has & PW_TIRE_TREAD) && (lt->has & PW_TIRE_TREAD)) {
			int level = rules_tyre_tread_severity(r, lt->tread_mm);
			int had = rules_memo_get(memo, RULES_SLOT_TREAD(w));
			struct rules_action *a;

			if (level > had && (a = add_action(out, RULES_RAISE, PW_AK_TYRE_TREAD))) {
				a->severity = (uint8_t)level;
				a->wheel = (uint8_t)w;
				a->value = lt->tread_mm;
				rules_memo_set(memo, RULES_SLOT_TREAD(w), level);
			} else if (level == PW_SEV_NONE && had &&
			           (a = add_action(out, RULES_CLEAR, PW_AK_TYRE_TREAD))) {
				a->wheel = (uint8_t)w;
				a->value = lt->tread_mm;
				rules_memo_set(memo, RULES_SLOT_TREAD(w), 0);
			}
		}
	}
}

static void eval_battery(const struct pw_rules_config *r, const struct rules_input *in,
                         struct rules_memo *memo, struct rules_verdict *out)
{
	const struct pw_latest *after = in->after;
	int level, had;
	struct rules_action *a;

	if (in->late || !(in->obj->has & PW_F_BATTERY) || !(after->has & PW_F_IGNITION) ||
	    after->ignition != PW_IGN_OFF)
		return;
	level = rules_battery_severity(r, after->battery_v);
	had = rules_memo_get(memo, RULES_SLOT_BATTERY);
	if (level > had && (a = add_action(out, RULES_RAISE, PW_AK_BATTERY))) {
		a->severity = (uint8_t)level;
		a->value = after->battery_v;
		a->ignition = after->ignition;
		rules_memo_set(memo, RULES_SLOT_BATTERY, level);
	} else if (level == PW_SEV_NONE && had &&
	           (a = add_action(out, RULES_CLEAR, PW_AK_BATTERY))) {
		a->value = after->battery_v;
		a->ignition = after->ignition;
		rules_memo_set(memo, RULES_SLOT_BATTERY, 0);
	}
}

static void fault_action(struct rules_verdict *out, enum rules_op op, const struct pw_dtc *d)
{
	struct rules_action *a = add_action(out, op, PW_AK_FAULT);

	if (!a)
		return;
	memcpy(a->code, d->code, sizeof(a->code));
	a->code[5] = '\0';
	a->status = d->status;
	a->mil = d->mil;
	a->severity = (uint8_t)rules_dtc_severity(d->status, d->mil);
}

/* Both sets are sorted by code (state.c keeps them so): one merge walk. */
static void eval_faults(const struct rules_input *in, struct rules_verdict *out)
{
	const struct pw_latest *b = in->before, *a = in->after;
	int nb = b && (b->has & PW_F_DTC) ? b->dtc_count : 0;
	int na = (a->has & PW_F_DTC) ? a->dtc_count : 0;
	int i = 0, j = 0;

	while (i < nb || j < na) {
		int c = i >= nb ? 1 : j >= na ? -1 : strncmp(b->dtc[i].code, a->dtc[j].code, 5);

		if (c < 0) { /* gone */
			fault_action(out, RULES_CLEAR, &b->dtc[i++]);
		} else if (c > 0) { /* new */
			fault_action(out, RULES_RAISE, &a->dtc[j++]);
		} else {
			if (rules_dtc_severity(a->dtc[j].status, a->dtc[j].mil) >
			    rules_dtc_severity(b->dtc[i].status, b->dtc[i].mil))
				fault_action(out, RULES_RAISE, &a->dtc[j]);
			i++;
			j++;
		}
	}
}

static void eval_odometer(const struct pw_rules_config *r, const struct rules_input *in,
                          struct rules_memo *memo, struct rules_verdict *out)
{
	const struct pw_telemetry *obj = in->obj;
	const struct pw_latest *b = in->before, *a = in->after;
	struct rules_action *act;
	double before_km, limit_km;

	if (!(obj->has & PW_F_ODOMETER))
		return;
	if (in->rollback) {
		if (!rules_memo_get(memo, RULES_SLOT_ROLLBACK) &&
		    (act = add_action(out, RULES_RAISE, PW_AK_ODOMETER))) {
			act->severity = PW_SEV_WARNING;
			act->value = (float)obj->odometer_km;
			act->ref = (float)a->odometer_km;
			rules_memo_set(memo, RULES_SLOT_ROLLBACK, 1);
		}
		return;
	}
	if (!in->late && rules_memo_get(memo, RULES_SLOT_ROLLBACK) &&
	    (act = add_action(out, RULES_CLEAR, PW_AK_ODOMETER))) {
		act->value = (float)obj->odometer_km;
		rules_memo_set(memo, RULES_SLOT_ROLLBACK, 0);
	}
	/* the maintenance thresholds, crossed by this object */
	before_km = b && (b->has & PW_F_ODOMETER) ? b->odometer_km : -1.0;
	limit_km = (double)memo->maint_due_km + r->due_lead_km;
	if (before_km < 0 && (a->has & PW_F_ODOMETER)) {
		out->maint_check = 1; /* its first odometer: the thresholds are not known yet */
		return;
	}
	if (memo->maint_due_km > 0 &&
	    ((before_km < memo->maint_due_km && a->odometer_km >= memo->maint_due_km) ||
	     (before_km <= limit_km && a->odometer_km > limit_km)))
		out->maint_check = 1;
}

static int day_has_data(const struct rules_memo *m)
{
	return m->day_km > 0 || m->day_fuel_km > 0;
}

static void hand_out_day(struct rules_memo *m, struct rules_verdict *out)
{
	struct rules_day *d;

	if (!day_has_data(m) || out->n_days >= (int)PW_ARRAY_LEN(out->days))
		return;
	d = &out->days[out->n_days++];
	d->day = m->day;
	d->km = m->day_km;
	d->km_highway = m->day_km_highway;
	d->km_congestion = m->day_km_congestion;
	d->fuel_l = m->day_fuel_l;
	d->fuel_km = m->day_fuel_km;
	m->day_km = m->day_km_highway = m->day_km_congestion = 0;
	m->day_fuel_l = m->day_fuel_km = 0;
}

static void accumulate(const struct pw_rules_config *r, const struct rules_input *in,
                       struct rules_memo *memo, struct rules_verdict *out)
{
	const struct pw_telemetry *obj = in->obj;
	const struct pw_latest *b = in->before, *a = in->after;
	int32_t day = rules_local_day(obj->ts_ms, in->tz_offset_s);
	double km, speed = -1;

	if (in->late)
		return;
	if (memo->day != day) {
		hand_out_day(memo, out); /* the day that ended */
		memo->day = day;
	}
	if ((obj->has & PW_F_ODOMETER) && !in->rollback && b && (b->has & PW_F_ODOMETER) &&
	    a->odometer_km > b->odometer_km) {
		km = a->odometer_km - b->odometer_km;
		if (obj->has & PW_F_SPEED)
			speed = obj->speed_kmh;
		else if (a->has & PW_F_SPEED)
			speed = a->speed_kmh;
		memo->day_km += (float)km;
		if (speed > r->highway_kmh)
			memo->day_km_highway += (float)km;
		else if (speed >= 0 && speed < r->congestion_kmh)
			memo->day_km_congestion += (float)km;
		if (obj->has & PW_F_FUEL_RATE) {
			memo->day_fuel_l += (float)(obj->fuel_l_per_100km * km / 100.0);
			memo->day_fuel_km += (float)km;
		}
	}
	if (in->history_due)
		hand_out_day(memo, out);
}

void rules_eval(const struct pw_rules_config *r, const struct rules_input *in,
                struct rules_memo *memo, struct rules_verdict *out)
{
	out->n = 0;
	out->n_days = 0;
	out->maint_check = 0;
	if (in->obj->has & PW_F_TIRES)
		eval_tyres(r, in, memo, out);
	if (in->obj->has & PW_F_BATTERY)
		eval_battery(r, in, memo, out);
	if (in->dtc_changed)
		eval_faults(in, out);
	eval_odometer(r, in, memo, out);
	accumulate(r, in, memo, out);
}

/* ---- maintenance ---------------------------------------------------------------- */

void rules_default_plan(const struct pw_rules_config *r, struct rules_plan *plan)
{
	plan->first_service_km = r->first_service_km;
	plan->first_service_months = r->first_service_months;
	plan->interval_km = r->service_interval_km;
	plan->interval_months = r->service_interval_months;
}

int rules_plan_for(const struct pw_rules_config *r, const char *brand, struct rules_plan *plan)
{
	for (int i = 0; brand && i < r->n_plans && i < PW_PLANS_MAX; i++) {
		const struct pw_maint_plan *p = &r->plans[i];

		if (strcmp(p->brand, brand) == 0) {
			plan->first_service_km = p->first_service_km;
			plan->first_service_months = p->first_service_months;
			plan->interval_km = p->interval_km;
			plan->interval_months = p->interval_months;
			return 1;
		}
	}
	rules_default_plan(r, plan);
	return 0;
}

void rules_maintenance(const struct pw_rules_config *r, const struct rules_plan *plan,
                       const struct rules_maint_input *in, struct rules_maint_verdict *out)
{
	int32_t reading_day = in->purchase_day;
	double reading_km = in->purchase_odometer_km;
	int32_t days_since;

	memset(out, 0, sizeof(*out));
	/* the newest odometer reading: the later day, then the higher km */
	if (in->has_visit_reading &&
	    (in->visit_reading_day > reading_day ||
	     (in->visit_reading_day == reading_day && in->visit_reading_km > reading_km))) {
		reading_day = in->visit_reading_day;
		reading_km = in->visit_reading_km;
	}
	if (in->has_telemetry &&
	    (in->telemetry_day > reading_day ||
	     (in->telemetry_day == reading_day && in->telemetry_km >= reading_km))) {
		reading_day = in->telemetry_day;
		reading_km = in->telemetry_km;
	}
	/* km per day */
	if (in->data_days >= r->min_data_days && in->data_days > 0) {
		out->daily_km = in->window_km / in->data_days;
		out->daily_source = RULES_DAILY_TELEMETRY;
	} else if (reading_day - in->purchase_day >= 1 && reading_km >= in->purchase_odometer_km) {
		out->daily_km = (reading_km - in->purchase_odometer_km) /
		                (double)(reading_day - in->purchase_day);
		out->daily_source = RULES_DAILY_LIFETIME;
	} else {
		out->daily_km = r->default_daily_km;
		out->daily_source = RULES_DAILY_DEFAULT;
	}
	if (out->daily_km < 0)
		out->daily_km = 0;
	days_since = in->today > reading_day ? in->today - reading_day : 0;
	out->odometer_km = reading_km + out->daily_km * days_since;
	out->odometer_estimated = days_since > 0;

	/* the cycle */
	if (in->has_service) {
		out->cycle_day = in->service_day;
		out->limit_km = in->service_odometer_km + plan->interval_km;
		out->limit_day = rules_add_months(in->service_day, plan->interval_months);
	} else {
		out->first_service = 1;
		out->cycle_day = in->purchase_day;
		out->limit_km = in->purchase_odometer_km + plan->first_service_km;
		out->limit_day = rules_add_months(in->purchase_day, plan->first_service_months);
	}
	out->due_km = out->limit_km - r->due_lead_km;
	out->remaining_km = out->limit_km - out->odometer_km;
	out->days_remaining = out->limit_day - in->today;
	if (out->remaining_km <= 0)
		out->km_day = in->today;
	else if (out->daily_km > 0) {
		double d = floor(out->remaining_km / out->daily_km);

		out->km_day = d > (double)(RULES_NO_DAY - 1 - in->today) ? RULES_NO_DAY
		                                                         : in->today + (int32_t)d;
	} else
		out->km_day = RULES_NO_DAY;
	out->due_day = out->km_day < out->limit_day ? out->km_day : out->limit_day;

	if (out->remaining_km < 0 || in->today > out->limit_day) {
		out->state = RULES_MAINT_OVERDUE;
		out->due_by_km = out->remaining_km < 0;
	} else if (out->remaining_km <= r->due_lead_km ||
	           (int64_t)out->due_day - in->today <= r->due_lead_days) {
		out->state = RULES_MAINT_DUE;
		out->due_by_km =
		    out->remaining_km <= r->due_lead_km || out->km_day < out->limit_day;
	} else {
		out->state = RULES_MAINT_OK;
		out->due_by_km = out->km_day < out->limit_day;
	}
}

/* ---- insurance -------------------------------------------------------------------- */

void rules_insurance(const struct pw_rules_config *r, int32_t today, int32_t expiry_day,
                     struct rules_insurance_verdict *out)
{
	int n = r->n_insurance_lead_days;

	memset(out, 0, sizeof(*out));
	out->days_left = expiry_day - today;
	if (out->days_left <= 0) {
		out->stage = n + 1;
		out->severity = PW_SEV_CRITICAL;
		return;
	}
	for (int i = n - 1; i >= 0; i--) {
		if (out->days_left <= r->insurance_lead_days[i]) {
			out->stage = i + 1;
			out->lead_days = r->insurance_lead_days[i];
			out->severity = i == n - 1 ? PW_SEV_WARNING : PW_SEV_INFO;
			return;
		}
	}
}

/* ---- fuel and profile --------------------------------------------------------------- */

void rules_profile(const struct rules_window *w, struct rules_profile *out)
{
	out->km = w->km;
	out->highway_share = w->km > 0 ? w->km_highway / w->km : 0;
	out->congestion_share = w->km > 0 ? w->km_congestion / w->km : 0;
}

void rules_fuel(const struct pw_rules_config *r, const struct rules_window *recent,
                const struct rules_window *baseline, struct rules_fuel_verdict *out)
{
	memset(out, 0, sizeof(*out));
	if (recent->fuel_km <= 0 || recent->days < 1 || baseline->fuel_km <= 0 ||
	    baseline->days < r->fuel_recent_days)
		return;
	out->recent_l_per_100km = recent->fuel_l / recent->fuel_km * 100.0;
	out->baseline_l_per_100km = baseline->fuel_l / baseline->fuel_km * 100.0;
	if (out->baseline_l_per_100km <= 0)
		return;
	out->judged = 1;
	out->ratio = out->recent_l_per_100km / out->baseline_l_per_100km;
	out->anomaly = out->ratio > r->fuel_anomaly_ratio;
}

/* ---- customers ------------------------------------------------------------------------ */

int rules_lost_customer(const struct pw_rules_config *r, int32_t today, int32_t last_contact_day,
                        double recent_km)
{
	return recent_km > 0 && (int64_t)today - last_contact_day >= r->lost_customer_days;
}

int rules_followup_due(int32_t event_day, int after_days, int32_t last_day, int32_t today)
{
	int64_t due = (int64_t)event_day + after_days;

	return due > last_day && due <= today;
}
