/*
 * frames — the WebSocket `vehicle` frame (docs/api.md) of one vehicle's live
 * state, its live badges, and the throttle that decides when one is due.
 *
 * Pure: values in, text out. No I/O, no clock, no allocation: the caller
 * (ingest, on the core thread) passes the time and a buffer, so rendering
 * costs a few snprintf calls and nothing on the heap. Badges use the
 * rules' own single-reading levels (rules.h), so a badge and an alert
 * never disagree about a threshold. Thread: any; nothing is shared.
 */
#ifndef PW_FRAMES_H
#define PW_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "rules.h"
#include "state.h"

#define FRAMES_VEHICLE_MAX 2048 /* a vehicle frame is shorter than this */

/* The live badges: enum pw_severity each (PW_SEV_NONE is "ok"). */
struct frames_badges {
	uint8_t tyres;   /* worst wheel: pressure or tread, by the rules' thresholds */
	uint8_t faults;  /* worst DTC by rules_dtc_severity */
	uint8_t battery; /* battery_v with the ignition off; else `battery_else` */
};

/* The badges of a latest state. `battery_else` is the battery level when
 * the reading cannot judge (ignition not off, or no voltage): the open
 * battery episode's level, which the rules keep. */
void frames_badges(const struct pw_rules_config *r, const struct pw_latest *t, int battery_else,
                   struct frames_badges *out);

/* The badges of a vehicle in memory (battery_else from its rules memo). */
void frames_vehicle_badges(const struct pw_rules_config *r, const struct pw_vehicle *v,
                           struct frames_badges *out);

/* "ok", "info", "warning", "critical". */
const char *frames_badge_name(int severity);

/* What a frame must be sent for at once when it changes: badges, ignition
 * and online, packed; never 0. */
uint16_t frames_signature(const struct frames_badges *b, const struct pw_vehicle *v);

/* 1 when vehicle `v` should get a frame now: none sent yet, its signature
 * changed since the last one, or `interval_ms` passed since it (monotonic
 * ms `now_ms`, compared by difference so the counter may wrap). */
int frames_due(const struct pw_vehicle *v, uint16_t sig, uint32_t now_ms, int interval_ms);

/* Records a frame sent at `now_ms` with signature `sig`. */
void frames_mark_sent(struct pw_vehicle *v, uint16_t sig, uint32_t now_ms);

/* A vehicle list keeps each row's readings fresh to FRAMES_LIST_MS: of a
 * vehicle's frames in which no badge and online changed (an ignition
 * change alone: the list does not show it), the first in each
 * FRAMES_LIST_MS window of the monotonic clock is for the lists too; the
 * others are *minor* (HUB_MINOR): only a console showing that vehicle in
 * full gets them (docs/api.md "watch"). */
#define FRAMES_LIST_MS 30000
int frames_minor(const struct pw_vehicle *v, uint16_t sig, uint32_t now_ms);

/* pw_vehicle.frame_owed: what the consoles have not seen of a vehicle yet,
 * and in which catch-up queue it waits (catchup.h, ingest_catch_up). */
enum frames_owed {
	FRAMES_OWED_ALL = 1u << 0,     /* a message no frame carried (the throttle) */
	FRAMES_OWED_LISTS = 1u << 1,   /* a minor frame: the lists have not seen it */
	FRAMES_QUEUED_ALL = 1u << 2,   /* in the queue of the first kind */
	FRAMES_QUEUED_LISTS = 1u << 3, /* in the queue of the second */
};

/* Renders the `vehicle` frame of `v` into buf (NUL-terminated); *len = its
 * length. Fields never reported are null. PW_ERANGE if `cap` is too small
 * (FRAMES_VEHICLE_MAX never is). */
int frames_render_vehicle(const struct pw_vehicle *v, const struct frames_badges *b, char *buf,
                          size_t cap, size_t *len);

/* The frame of an event as published on .../events (docs/api.md): a
 * `greeting` goes to the welcome displays unchanged, an `arrival` to the
 * advisors unchanged; any other event to the advisors with its type moved
 * to `event`, `type` "reminder" (maintenance_due, maintenance_overdue,
 * insurance_due, lost_customer, followup_due) or "alert", and `alert_id`
 * (parsed from the id "e<alert_id>-<n>" when the event lacks one).
 * *out is a new malloc'd string (free it) of *out_len bytes. Events are
 * rare: this one allocates (Jansson). PW_EINVAL for a payload that is not
 * a JSON object with a string type, PW_ENOMEM. Thread: any. */
int frames_event(const char *payload, size_t len, int *channel, char **out, size_t *out_len);

#endif
