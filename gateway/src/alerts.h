/*
 * alerts — the alert lifecycle in SQLite, and the rules' hook into ingest.
 *
 * One alert per episode: an episode of (vin, kind, subject) begins when its
 * condition is raised and ends when the condition clears; while it goes on
 * (alert.active = 1) raising again does nothing, unless the level rises
 * (warning -> critical, insurance 90 -> 30 days, maintenance due ->
 * overdue): then the alert escalates, sends another event and, if a person
 * had closed it, opens again. Status is the customer-care work on it:
 * open -> acknowledged / contacted / booked -> resolved / dismissed, every
 * change logged in alert_log with who, when and a note. When the condition
 * clears the episode ends and the alert is resolved by "system" (an
 * odometer rollback stays open for a person to look at). Resolving or
 * dismissing an alert whose condition still holds closes the work item; the
 * episode raises nothing new until it clears.
 *
 * Every change runs in the caller's transaction and emits its event through
 * events.c's outbox in the same one. alerts_on_telemetry() is the per-object
 * hook: the pure rules_eval() on the vehicle's memo, then SQL only when a
 * verdict says so (a level changed, a day accumulator is due, a maintenance
 * threshold was crossed): the common object costs no SQL at all.
 *
 * Thread: a struct alerts belongs to the thread that owns its connection
 * (the core's, a sweep's, an API handler's).
 */
#ifndef PW_ALERTS_H
#define PW_ALERTS_H

#include <stdint.h>
#include <jansson.h>
#include <sqlite3.h>

#include "config.h"
#include "events.h"
#include "rules.h"
#include "state.h"

struct alerts;

/* Prepares the statements on `db` (borrowed, migrated to 003 or later).
 * `cfg` (rules, site id and time zone) and `ev` (an events on the same
 * connection) are borrowed for the life of the struct. NULL on failure
 * (logged; also for a time zone without a fixed offset). */
struct alerts *alerts_open(sqlite3 *db, const struct pw_config *cfg, struct events *ev);
void alerts_close(struct alerts *a);

/* The site's UTC offset in seconds, as the alerts use it. */
int alerts_tz_offset(const struct alerts *a);

/* One condition to raise. */
struct alerts_raise {
	const char *vin;
	enum pw_alert_kind kind;
	const char *subject; /* "" when the kind has one per vehicle */
	int level;           /* rises within an episode: severity, or stage */
	enum pw_severity severity;
	int64_t ts_ms;    /* when it was seen: the event's ts */
	json_t *fields;   /* borrowed: the event's own fields */
	const char *text; /* the in-car text, when events_notify_kind() has one */
};

/* Opens an episode, or escalates the open one when `level` is above its
 * level, or does nothing. *alert_id (may be NULL) = the alert; *emitted
 * (may be NULL) = 1 if an event was written. PW_EIO on a database error. */
int alerts_raise(struct alerts *a, const struct alerts_raise *r, int64_t *alert_id, int *emitted);

/* Ends the open episode of (vin, kind, subject), if any: active = 0, and
 * status resolved by "system" with `note` unless a person already closed it
 * (or the kind is odometer). *cleared (may be NULL) = 1 if one ended. */
int alerts_clear(struct alerts *a, const char *vin, enum pw_alert_kind kind, const char *subject,
                 int64_t ts_ms, const char *note, int *cleared);

/* Ends every open episode of (vin, kind) whose subject is not `keep` (NULL:
 * all of them): a renewed policy, a closed maintenance cycle. */
int alerts_clear_others(struct alerts *a, const char *vin, enum pw_alert_kind kind,
                        const char *keep, int64_t ts_ms, const char *note);

/* A person's change: status one of acknowledged, contacted, booked,
 * resolved, dismissed (open is never set by hand), logged with `actor` and
 * `note` (may be NULL). The same status again is logged too (a second call
 * to the customer). PW_ENOTFOUND: no such alert; PW_EINVAL: bad status or
 * actor; PW_EEXIST: the alert is already resolved or dismissed. In the
 * caller's transaction. */
int alerts_set_status(struct alerts *a, int64_t id, const char *status, const char *actor,
                      const char *note, int64_t now_ms);

/* The per-object rules hook for ingest, inside the core's open transaction,
 * after the object's own writes: evaluates `t` merged from `cur` (NULL: a
 * new vehicle) into `next`, updating next->rules, and writes what the
 * verdict asks. PW_EIO on a database error (the object must not commit). */
int alerts_on_telemetry(struct alerts *a, const struct pw_vehicle *cur, struct pw_vehicle *next,
                        const struct pw_telemetry *t, int late, int rollback, int dtc_changed,
                        int history_due);

/* Called by alerts_on_telemetry when the maintenance rule must run again
 * for `v` (a threshold crossed, or the vehicle's first odometer): it
 * evaluates and raises, and sets memo->maint_due_km. `v` is the vehicle
 * as merged (borrowed): its odometer is read from `v`, not from its
 * vehicle_state row, which ingest writes only at the commit.
 * sweep.c provides one (sweep_maintenance_hook). */
typedef int (*alerts_maintenance_fn)(void *ctx, const struct pw_vehicle *v, int64_t now_ms,
                                     struct rules_memo *memo);
void alerts_set_maintenance_hook(struct alerts *a, alerts_maintenance_fn fn, void *ctx);

/* Adds one day's driving to vehicle_day (upsert). */
int alerts_put_day(struct alerts *a, const char *vin, const struct rules_day *d);

/* At start: sets each vehicle's memo levels from the open alerts of the
 * per-message kinds (tyres, battery, odometer), so an episode that began
 * before a restart still clears. Vehicles not in `st` are skipped. */
int alerts_load_memos(struct alerts *a, struct state *st);

#endif
