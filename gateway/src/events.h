/*
 * events — what the gateway says about alerts and reminders: the event JSON
 * of the contract (id, type, vin, ts, severity and the type's own fields)
 * on pitwall/v1/sites/{site}/events, the Chinese in-car message on
 * pitwall/v1/vehicles/{vin}/notify (maintenance, insurance, critical tyre,
 * critical fault; at most one per vehicle, kind and site-local day), and
 * the outbox that carries both.
 *
 * Outbox: events_emit() only INSERTs rows, inside the caller's transaction
 * (the one that opens or escalates the alert), so an event exists exactly
 * when its alert change is committed. events_drain(), on its own connection
 * and outside any lock the MQTT library may take, hands committed rows to a
 * publish function in id order; a row is deleted only once the broker
 * acknowledged it (events_confirm). A crash between publish and delete
 * publishes it again: delivery is at least once, and ids make duplicates
 * recognisable.
 *
 * Thread: a struct events belongs to the thread using its connection;
 * events_confirm() may be called from any thread (the MQTT library's).
 */
#ifndef PW_EVENTS_H
#define PW_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <sqlite3.h>

#include "rules.h"

#define EVENTS_INFLIGHT_MAX 1024 /* rows handed to MQTT and not yet acknowledged */
#define EVENTS_TEXT_MAX     256  /* an in-car message's text, bytes */

struct events;

/* Prepares the statements on `db` (borrowed, migrated to 003 or later) for
 * site `site_id` (copied). NULL on failure, logged. */
struct events *events_open(sqlite3 *db, const char *site_id);
void events_close(struct events *ev);

/* One event to send. */
struct events_item {
	const char *vin;
	const char *type; /* the contract's event type */
	enum pw_severity severity;
	int64_t ts_ms;      /* when the condition was seen */
	int64_t alert_id;   /* the alert it belongs to ... */
	int seq;            /* ... and its number within that alert (1, 2, ...) */
	json_t *fields;     /* borrowed: the type's own fields, or NULL */
	const char *notify; /* in-car message kind ("tyre"), or NULL for none */
	const char *text;   /* its text */
	int32_t notify_day; /* site-local day, for the one-per-day rule */
};

/* Writes the event (and the in-car message, unless one of that kind went to
 * that vehicle that day) to the outbox, in the caller's transaction. Event
 * ids are "e<alert_id>-<seq>", message ids "n<alert_id>-<seq>". *notified
 * (may be NULL) = 1 if a message was queued. PW_EIO on a database error. */
int events_emit(struct events *ev, const struct events_item *item, int *notified);

/* Writes an event that belongs to no alert (arrival, greeting): `obj`
 * (borrowed) must hold its "type" and "id"; it goes to …/events as is, in
 * the caller's transaction. PW_EIO on a database error, PW_ENOMEM. */
int events_emit_object(struct events *ev, int64_t ts_ms, const json_t *obj);

/* Writes an in-car message to pitwall/v1/vehicles/{vin}/notify without the
 * one-per-day ledger (a welcome goes once per visit): id, kind and text as
 * in the contract. In the caller's transaction. */
int events_emit_message(struct events *ev, const char *vin, const char *id, const char *kind,
                        const char *text, int64_t ts_ms);

/* Called with every event's JSON text as events_emit writes it (the sweep
 * command prints them). The text is borrowed for the call. NULL: none. */
void events_set_tap(struct events *ev, void (*fn)(void *ctx, const char *json), void *ctx);

/* The in-car message kind for an alert of `kind` at `severity`, or NULL:
 * maintenance (due or overdue) "maintenance_due", insurance
 * "insurance_due", tyres at critical "tyre", faults at critical "fault". */
const char *events_notify_kind(enum pw_alert_kind kind, enum pw_severity severity);

/* In-car texts (UTF-8, Chinese), into buf (EVENTS_TEXT_MAX is enough). */
void events_text_maintenance(char *buf, size_t len, int overdue, int due_by_km, double remaining_km,
                             int days_remaining);
void events_text_insurance(char *buf, size_t len, const char *policy_kind, const char *expiry_date,
                           int days_left);
void events_text_tyre_pressure(char *buf, size_t len, int wheel, double kpa, int slow_leak);
void events_text_tyre_tread(char *buf, size_t len, int wheel, double tread_mm);
void events_text_fault(char *buf, size_t len, const char *code, int mil);

/* Publishes one outbox row: PW_OK if handed to MQTT (its acknowledgement
 * comes later through events_confirm(ev, id, ...)), else an error. */
typedef int (*events_publish_fn)(void *ctx, int64_t id, const char *topic, const char *payload,
                                 size_t len, const char *event_type);

/* Deletes the rows acknowledged since the last call, then publishes rows
 * not handed out yet, in id order, up to EVENTS_INFLIGHT_MAX unacknowledged
 * at a time. A row whose publish failed, or whose acknowledgement has not
 * come within `resend_ms`, is published again (from the oldest such row
 * on). Runs its own short transactions: never call it inside one.
 * *published (may be NULL) = rows handed out. PW_EIO on a database error. */
int events_drain(struct events *ev, events_publish_fn publish, void *ctx, int64_t now_ms,
                 int64_t resend_ms, int *published);

/* The same in two halves, for a caller that must not publish while holding
 * the lock its connection is used under: events_collect() deletes what was
 * acknowledged and copies the rows to publish into the struct (the SQL
 * half); events_publish_collected() hands them out (the MQTT half), with
 * the same bookkeeping as events_drain(). Same thread, in this order. */
int events_collect(struct events *ev, int64_t now_ms, int64_t resend_ms);
int events_publish_collected(struct events *ev, events_publish_fn publish, void *ctx,
                             int64_t now_ms, int *published);

/* The broker acknowledged (ok = 1) or refused (ok = 0) row `id`. Any thread. */
void events_confirm(struct events *ev, int64_t id, int ok);

/* Rows in the outbox (tests, metrics). */
int events_outbox_count(struct events *ev, long *count);

#endif
