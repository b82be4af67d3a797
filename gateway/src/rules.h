/*
 * rules — DESIGN "Rules" as pure functions: values in, verdicts out. No I/O,
 * no clock, no globals, no allocation; every number comes from struct
 * pw_rules_config. alerts.c and sweep.c gather the inputs (memory, SQLite)
 * and act on the verdicts; tests/unit/test_rules.c pins every boundary.
 *
 * Two kinds of rule:
 *  - per message (rules_eval): tyres, battery, faults, odometer rollback,
 *    the maintenance km crossing, and the day accumulators (km, km at speed
 *    bands, fuel) that multi-day rules read later. O(1) per object, at most
 *    a compare per wheel; what must outlive the object sits in a small
 *    struct rules_memo inside each struct pw_vehicle (memory budget: tens of
 *    bytes, see the struct);
 *  - per day (sweep.c calls them): maintenance by months and predicted km,
 *    insurance, fuel anomaly and driving profile, lost customer, follow-up.
 *
 * Dates are civil day numbers (days since 1970-01-01) of the site's local
 * calendar: rules_local_day() turns an instant into one with the site's
 * fixed UTC offset. Thread: any; nothing is shared.
 */
#ifndef PW_RULES_H
#define PW_RULES_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "decode.h"

/* ---- dates ---------------------------------------------------------------- */

#define RULES_NO_DAY INT32_MAX /* "never": a prediction with no km per day */

/* Civil date <-> day number (proleptic Gregorian; any year of int range). */
int32_t rules_day_from_civil(int y, int m, int d);
void rules_civil_from_day(int32_t day, int *y, int *m, int *d);
/* "YYYY-MM-DD", strictly (real dates only). PW_OK or PW_EINVAL. */
int rules_parse_date(const char *s, int32_t *day);
/* "YYYY-MM-DD" into buf (>= 11 bytes). */
void rules_format_date(int32_t day, char *buf, size_t len);
/* The same day of the month `months` later (negative: earlier), clamped to
 * the end of a shorter month: Jan 31 + 1 = Feb 28/29, Feb 29 + 12 = Feb 28. */
int32_t rules_add_months(int32_t day, int months);
/* The site-local day of an instant: floor((ms + offset) / 1 day). */
int32_t rules_local_day(int64_t ms, int tz_offset_s);
/* The instant the site-local day `day` begins. */
int64_t rules_day_start_ms(int32_t day, int tz_offset_s);

/* ---- severities and alert kinds ------------------------------------------- */

enum pw_severity { PW_SEV_NONE = 0, PW_SEV_INFO, PW_SEV_WARNING, PW_SEV_CRITICAL };

/* "info", "warning", "critical" ("none" for PW_SEV_NONE). */
const char *rules_severity_name(enum pw_severity s);
/* The reverse; PW_EINVAL for anything else. */
int rules_severity_parse(const char *s, enum pw_severity *out);

/* What an alert is about: one open episode per (vin, kind, subject). The
 * contract's event type is rules_kind_type() except for maintenance, whose
 * type is maintenance_due or maintenance_overdue by level. */
enum pw_alert_kind {
	PW_AK_MAINTENANCE = 0, /* subject: the cycle's start date */
	PW_AK_INSURANCE,       /* subject: "<policy kind>:<expiry date>" */
	PW_AK_TYRE_PRESSURE,   /* subject: wheel ("fl") */
	PW_AK_TYRE_TREAD,      /* subject: wheel */
	PW_AK_FAULT,           /* subject: DTC code */
	PW_AK_BATTERY,         /* subject: "" */
	PW_AK_FUEL,            /* subject: "" */
	PW_AK_ODOMETER,        /* odometer_rollback; subject: "" */
	PW_AK_LOST_CUSTOMER,   /* subject: the last visit's date */
	PW_AK_FOLLOWUP,        /* subject: service id, or "purchase" */
	PW_AK__COUNT
};
/* Stable names stored in SQLite ("maintenance", "tyre_pressure", ...). */
const char *rules_kind_name(enum pw_alert_kind k);
int rules_kind_parse(const char *s, enum pw_alert_kind *out);
/* The event type for a kind at a level ("maintenance_overdue" at level 2). */
const char *rules_kind_type(enum pw_alert_kind k, int level);

/* "fl" "fr" "rl" "rr"; Chinese names for in-car text ("左前"). */
const char *rules_wheel_name(int wheel);
const char *rules_wheel_name_zh(int wheel);

/* ---- per-message state ---------------------------------------------------- */

/* Two bits per slot in rules_memo.levels: the highest severity of the open
 * episode (0: none). Tyres per wheel, then battery, then flags. */
#define RULES_SLOT_PRESSURE(w) (w)
#define RULES_SLOT_TREAD(w)    (4 + (w))
#define RULES_SLOT_BATTERY     8
#define RULES_SLOT_ROLLBACK    9          /* 1: an odometer_rollback episode is open */
#define RULES_SLOT_LEAK(w)     (10 + (w)) /* 1: slow leak latched on wheel w */

/* A reading a slow leak is measured from: kPa and °C in tenths, seconds. */
struct rules_leak_ref {
	uint32_t ts_s; /* 0: none */
	uint16_t kpa_x10;
	int16_t temp_x10;
};

/* What the per-message rules remember per vehicle (64 bytes; lives in
 * struct pw_vehicle). Not persisted as such: levels are reloaded from the
 * open alerts at start (alerts_load_memos), maintenance thresholds by the
 * sweep, leak references start afresh, and the day accumulators hold only
 * what was not yet written to vehicle_day (at most one history interval). */
struct rules_memo {
	uint32_t levels;
	int32_t day;             /* site-local day the accumulators belong to; 0: none */
	float day_km;            /* km driven (odometer deltas) not yet written */
	float day_km_highway;    /* ... of which above rules.profile.highway_kmh */
	float day_km_congestion; /* ... of which below rules.profile.congestion_kmh */
	float day_fuel_l;        /* litres burnt over day_fuel_km */
	float day_fuel_km;       /* km that came with a fuel_l_per_100km */
	float maint_due_km;      /* odometer at which maintenance is due; 0: unknown;
	                          * overdue beyond maint_due_km + due_lead_km */
	struct rules_leak_ref leak[PW_TIRE_COUNT];
};

static inline int rules_memo_get(const struct rules_memo *m, int slot)
{
	return (int)((m->levels >> (2 * slot)) & 3u);
}

static inline void rules_memo_set(struct rules_memo *m, int slot, int level)
{
	m->levels = (m->levels & ~(3u << (2 * slot))) | ((uint32_t)(level & 3) << (2 * slot));
}

/* One day's accumulated driving, to be added to the vehicle_day row. */
struct rules_day {
	int32_t day;
	float km, km_highway, km_congestion, fuel_l, fuel_km;
};

enum rules_op { RULES_RAISE = 1, RULES_CLEAR };

/* Why a tyre_pressure alert fires. */
enum rules_tyre_reason { RULES_TYRE_LOW = 0, RULES_TYRE_SLOW_LEAK };

/* One thing to do about one alert. RULES_RAISE: make sure an episode of
 * (kind, subject) is open at least at `severity` (alerts.c opens or
 * escalates it, or does nothing); RULES_CLEAR: its condition cleared. */
struct rules_action {
	uint8_t op;       /* enum rules_op */
	uint8_t kind;     /* enum pw_alert_kind */
	uint8_t severity; /* enum pw_severity (RAISE) */
	uint8_t wheel;    /* tyres */
	uint8_t reason;   /* tyre_pressure: enum rules_tyre_reason */
	uint8_t status;   /* fault: enum pw_dtc_status */
	uint8_t mil;      /* fault */
	uint8_t ignition; /* battery: enum pw_ignition */
	char code[6];     /* fault: DTC code */
	float value;      /* kPa, tread mm, volts, reported odometer km */
	float ref;        /* slow leak: kPa it dropped from; rollback: odometer kept */
	float temp_c;     /* tyre temperature with the reading (NaN: unknown) */
	float window_h;   /* slow leak: hours between the two readings */
};

#define RULES_ACTIONS_MAX (3 * PW_TIRE_COUNT + 4 + 2 * PW_DTC_MAX)

struct rules_verdict {
	int n;
	struct rules_action act[RULES_ACTIONS_MAX];
	int n_days; /* day accumulators to write: a finished day, then the current one */
	struct rules_day days[2];
	int maint_check; /* the odometer crossed a maintenance threshold, or the
	                  * thresholds are unknown for a new vehicle: re-run the
	                  * maintenance rule for this vehicle */
};

/* One applied telemetry object. */
struct rules_input {
	const struct pw_latest *before; /* latest state before it; NULL: a new vehicle */
	const struct pw_latest *after;  /* latest state after the merge */
	const struct pw_telemetry *obj; /* the object itself */
	int late;                       /* older than the vehicle's newest */
	int rollback;                   /* its odometer went backwards (not applied) */
	int dtc_changed;                /* the latest DTC set changed */
	int history_due;                /* a history row is written for it */
	int tz_offset_s;                /* the site's UTC offset */
};

/* The per-message rules: updates `memo` and fills `out` (cleared first).
 * Evaluates what the object touched, on the merged latest state:
 *  - tyre pressure below critical_ratio x placard critical, below warn_ratio
 *    x placard warning; a slow leak (a drop of slow_leak_kpa or more from a
 *    reading at most slow_leak_window_h old, at a temperature within
 *    slow_leak_temp_delta_c) is a warning that holds until the wheel is
 *    back at placard pressure; tread below tread_critical_mm critical,
 *    below tread_warn_mm warning. An episode is raised when the level rises
 *    above the episode's highest and cleared when the level is none;
 *  - battery, only from a voltage read while the ignition is off: below
 *    critical_v critical, below warn_v warning; readings with the ignition
 *    on or unknown neither raise nor clear;
 *  - faults, when the DTC set changed: a code new or at a higher level
 *    (rules_dtc_severity) is raised, a code gone is cleared;
 *  - odometer rollback raises; the next in-order odometer that applies
 *    clears (ends) the episode;
 *  - km driven (odometer delta of in-order objects), split by the speed
 *    band of the object, and fuel (fuel_l_per_100km x km) accumulate per
 *    site-local day and are handed out at each history row and day change.
 * Late objects never raise or clear from their own readings (the merged
 * state decides) and accumulate nothing. */
void rules_eval(const struct pw_rules_config *r, const struct rules_input *in,
                struct rules_memo *memo, struct rules_verdict *out);

/* Single-reading levels (PW_SEV_NONE when fine). */
enum pw_severity rules_tyre_pressure_severity(const struct pw_rules_config *r, double kpa);
enum pw_severity rules_tyre_tread_severity(const struct pw_rules_config *r, double tread_mm);
/* Battery: PW_SEV_NONE..CRITICAL for a reading with the ignition off. */
enum pw_severity rules_battery_severity(const struct pw_rules_config *r, double volts);
/* Faults: confirmed/permanent with MIL critical, confirmed/permanent without
 * MIL warning, pending info. */
enum pw_severity rules_dtc_severity(int status, int mil);

/* ---- maintenance ---------------------------------------------------------- */

/* A maintenance plan: first service, then every interval, whichever of km
 * and months comes first. The config's, or a brand's. */
struct rules_plan {
	double first_service_km;
	int first_service_months;
	double interval_km;
	int interval_months;
};
/* The plan of rules.maintenance. */
void rules_default_plan(const struct pw_rules_config *r, struct rules_plan *plan);
/* The plan for a car of `brand`: its rules.maintenance.plans entry (exact
 * match), else the default. Returns 1 if a brand's own plan applies. */
int rules_plan_for(const struct pw_rules_config *r, const char *brand, struct rules_plan *plan);

enum rules_daily_source {
	RULES_DAILY_TELEMETRY = 0, /* km per day over the window of telemetry */
	RULES_DAILY_LIFETIME,      /* (newest odometer - purchase odometer) / days owned */
	RULES_DAILY_DEFAULT,       /* rules.maintenance.default_daily_km */
};

struct rules_maint_input {
	int32_t today;
	int32_t purchase_day;
	double purchase_odometer_km;
	/* the newest first_service or maintenance visit on or before today */
	int has_service;
	int32_t service_day;
	double service_odometer_km;
	/* the newest odometer reading besides telemetry: any visit (any kind) */
	int has_visit_reading;
	int32_t visit_reading_day;
	double visit_reading_km;
	/* telemetry: the latest odometer, and the day it was read */
	int has_telemetry;
	int32_t telemetry_day;
	double telemetry_km;
	/* telemetry km over complete days of the last daily_km_window_days */
	int data_days; /* days from the first day with data in the window to yesterday */
	double window_km;
};

enum rules_maint_state { RULES_MAINT_OK = 0, RULES_MAINT_DUE = 1, RULES_MAINT_OVERDUE = 2 };

struct rules_maint_verdict {
	enum rules_maint_state state; /* also the alert level */
	int first_service;            /* the cycle is the first service after purchase */
	int32_t cycle_day;            /* the cycle's start: last service or purchase */
	double limit_km;              /* odometer at which the service is due */
	int32_t limit_day;            /* date on which it is due */
	double due_km;                /* limit_km - due_lead_km: "due" from here on */
	double odometer_km;           /* today's odometer, estimated when not read today */
	int odometer_estimated;       /* odometer_km is a prediction */
	double remaining_km;          /* limit_km - odometer_km (negative: past it) */
	int days_remaining;           /* limit_day - today (negative: past it) */
	double daily_km;
	enum rules_daily_source daily_source;
	int32_t km_day;  /* predicted day the km limit is reached; RULES_NO_DAY */
	int32_t due_day; /* the earlier of km_day and limit_day: next service date */
	int due_by_km;   /* the km limit is what makes it due/overdue (else the date) */
};

/* Maintenance due or overdue, whichever of km and months comes first.
 * The odometer today is the newest reading (telemetry or a visit; the later
 * day wins, then the higher km; else the purchase odometer) plus daily_km x
 * the days since it was read. daily_km: telemetry's window_km / data_days
 * when data_days >= rules.maintenance.min_data_days; else the lifetime
 * average from purchase to the newest reading when that is at least a day
 * later; else rules.maintenance.default_daily_km. The km limit is predicted
 * to be reached on today + floor(remaining / daily_km).
 * Overdue: remaining_km < 0 or today > limit_day. Due: remaining_km <=
 * due_lead_km, or due_day - today <= due_lead_days. */
void rules_maintenance(const struct pw_rules_config *r, const struct rules_plan *plan,
                       const struct rules_maint_input *in, struct rules_maint_verdict *out);

/* ---- insurance ------------------------------------------------------------ */

/* The reminder stage of a policy expiring on `expiry_day`: 0 none (more than
 * the first lead day away), i (1..n) once days_left <= lead_days[i-1], n + 1
 * from the expiry day on (days_left <= 0). Severity: critical from the
 * expiry day, warning at the last (smallest) lead, info before. */
struct rules_insurance_verdict {
	int stage;
	int days_left;
	int lead_days; /* the lead reached (0 once expired) */
	enum pw_severity severity;
};
void rules_insurance(const struct pw_rules_config *r, int32_t today, int32_t expiry_day,
                     struct rules_insurance_verdict *out);

/* ---- fuel and driving profile --------------------------------------------- */

/* Sums over a window of vehicle_day rows. */
struct rules_window {
	int days; /* days with a row */
	double km, km_highway, km_congestion, fuel_l, fuel_km;
};

struct rules_profile {
	double km;
	double highway_share;    /* 0..1 of km above highway_kmh; 0 without km */
	double congestion_share; /* 0..1 of km below congestion_kmh */
};
void rules_profile(const struct rules_window *w, struct rules_profile *out);

/* Fuel anomaly: recent l/100km (fuel_l / fuel_km x 100 over recent_days)
 * above anomaly_ratio x the baseline's (the baseline_days before the recent
 * window). Judged only with fuel data on at least one recent day and on at
 * least recent_days baseline days; otherwise `judged` is 0. */
struct rules_fuel_verdict {
	int judged;
	int anomaly;
	double recent_l_per_100km, baseline_l_per_100km, ratio;
};
void rules_fuel(const struct pw_rules_config *r, const struct rules_window *recent,
                const struct rules_window *baseline, struct rules_fuel_verdict *out);

/* ---- customers ------------------------------------------------------------ */

/* Lost customer: no visit (or purchase) for lost_days or more, while
 * telemetry shows the car driven (km > 0) over the recent window. */
int rules_lost_customer(const struct pw_rules_config *r, int32_t today, int32_t last_contact_day,
                        double recent_km);

/* Follow-up: `event_day` + after_days falls in (last_day, today]: the sweep
 * that last ran on `last_day` did not see it yet (last_day < today; a first
 * sweep passes today - 1). */
int rules_followup_due(int32_t event_day, int after_days, int32_t last_day, int32_t today);

#endif
