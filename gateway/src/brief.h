/*
 * brief — a vehicle's health brief, the page an advisor reads before
 * walking out to the car: km and days since the last service and the
 * predicted next one, open alerts, tyres, fault codes, battery, fuel
 * consumption against the car's own baseline with the driving profile that
 * explains it, insurance expiry. One JSON object for the dashboard
 * (GET /api/vehicles/{vin}) and the arrival event.
 *
 * Reads committed rows only (vehicle_state, vehicle_day, the dealer tables,
 * alerts), through the same judgement the sweep uses (sweep_judge_
 * maintenance), so the brief and the reminders never disagree. Works on a
 * read-only connection. Thread: the owner of the connection (the HTTP
 * thread's read-only store, for one).
 */
#ifndef PW_BRIEF_H
#define PW_BRIEF_H

#include <stdint.h>
#include <jansson.h>
#include <sqlite3.h>

#include "config.h"

struct brief;

/* Prepares the statements on `db` (borrowed; migrated to 003 or later;
 * read-only is fine). `cfg` is borrowed. NULL on failure, logged. */
struct brief *brief_open(sqlite3 *db, const struct pw_config *cfg);
void brief_close(struct brief *b);

/* The brief of `vin` as of `now_ms` into *out (a new reference). Members:
 *   vin, plate, brand, model, model_year, customer_id (null when the
 *   dealer does not know the car);
 *   odometer_km, seen_ts (latest telemetry; null without), online,
 *   ignition, battery_v, fuel_pct;
 *   last_service {service_id, date, kind, odometer_km} or null,
 *   km_since_service, days_since_service;
 *   maintenance {state: ok|due|overdue, cycle, limit_km, limit_date,
 *     remaining_km, days_remaining, predicted_date, daily_km,
 *     daily_km_source} or null;
 *   alerts [{id, kind, type, subject, severity, status, active, opened_ts,
 *     detail}] — every alert not resolved or dismissed, newest first;
 *   tyres {fl: {kpa, tread_mm, temp_c, pressure, tread}, ...} with levels
 *     ok|warning|critical by the rules;
 *   dtc [{code, status, mil, severity}];
 *   fuel {recent_l_per_100km, baseline_l_per_100km, ratio} or null;
 *   profile {window_days, km, highway_share, congestion_share};
 *   insurance [{policy_kind, policy_id, insurer, expiry_date, days_left}].
 * PW_ENOTFOUND when neither the dealer nor telemetry knows the vin;
 * PW_EIO on a database error; PW_ENOMEM. */
int brief_vehicle(struct brief *b, const char *vin, int64_t now_ms, json_t **out);

#endif
