/*
 * ingest — the core: one MQTT message in, its effects committed, its
 * verdicts out. decode → dedupe by (vin, seq) → merge into the vehicle's
 * state → write SQLite → commit → only then update memory and count.
 *
 * "Commit" has two modes. Without a journal every message is its own SQLite
 * transaction. With a journal (the daemon) a message is committed when its
 * record is appended to the journal; its SQLite writes join an open
 * transaction that is committed for many messages at once (group commit:
 * every batch_max_messages, or batch_max_ms after it opened, or once the
 * stream pauses for group_idle_ms — main.c's tick calls ingest_flush_idle
 * — or whenever another writer needs SQLite: ingest_flush), and the journal
 * is emptied after each. A long group is what makes a backlog cheap: a car
 * whose messages it holds many of has its vehicle_state row written once.
 *
 * No MQTT here (mqtt.c feeds it and publishes what it returns), so it is
 * tested with a real store and no broker. With a hub, every vehicle a
 * committed message changed gets a WebSocket `vehicle` frame (frames.h),
 * throttled per vehicle. Thread: the core thread (Paho's
 * callback thread) alone calls ingest_process(); the struct ingest, the
 * state table and the read-write store belong to that thread.
 */
#ifndef PW_INGEST_H
#define PW_INGEST_H

#include <stddef.h>
#include <stdint.h>
#include "alerts.h"
#include "arrival_store.h"
#include "clock.h"
#include "decode.h"
#include "hub.h"
#include "journal.h"
#include "metrics.h"
#include "state.h"
#include "store.h"

/* One rejected object, for pitwall/v1/sites/{site}/rejected. */
struct ingest_reject {
	enum pw_reject reason;
	int index; /* position in a batch array; -1 for a single object or the whole message */
	char detail[PW_DETAIL_MAX];
};

struct ingest_output {
	int accepted;   /* objects committed (telemetry, status, plate reads) */
	int duplicates; /* objects already applied before */
	int rejected;   /* objects rejected; the first PW_BATCH_MAX are in rejects[] */
	int n_rejects;
	struct ingest_reject rejects[PW_BATCH_MAX];
};

#define INGEST_GROUP_MESSAGES 20000 /* a group commits at this many messages, */
#define INGEST_GROUP_MS       200   /* or this old (under ws.c's REPLAY_MS), */
#define INGEST_IDLE_MS        20    /* or when no message came for this long */

struct ingest_options {
	const char *site_id;          /* plate reads for other sites are rejected */
	const struct pw_clock *clock; /* borrowed */
	struct metrics *metrics;      /* borrowed */
	struct store *store;          /* borrowed, read-write, used by the core thread only */
	struct state *state;          /* borrowed, the core thread's */
	int history_interval_s;
	struct journal *journal; /* borrowed; NULL: one transaction per message */
	struct alerts *alerts;   /* borrowed, on `store`'s connection; NULL: no rules
	                          * (rules.enabled false) */
	int batch_max_messages;  /* group commit size (journal mode), default INGEST_GROUP_MESSAGES
	                          */
	int batch_max_ms;        /* group commit age (journal mode), default INGEST_GROUP_MS */
	int group_idle_ms;       /* a pause that commits the group (ingest_flush_idle),
	                          * default INGEST_IDLE_MS */

	/* WebSocket vehicle frames: the hub (NULL: none), the badges' thresholds,
	 * and at most one frame per vehicle per frame_interval_ms unless its
	 * badges, ignition or online changed (http.ws_vehicle_interval_ms) */
	struct hub *hub;
	const struct pw_rules_config *rules;
	int frame_interval_ms;
	/* borrowed, on `store`'s connection; NULL: no arrivals (plate reads counted) */
	struct arrival_store *arrivals;
};

struct ingest;

struct ingest *ingest_new(const struct ingest_options *opt);
void ingest_free(struct ingest *in);

/* Handles one MQTT message. PW_OK when every effect is committed (or the
 * message was deliberately rejected): the caller may acknowledge it.
 * PW_EIO when the database or the journal failed: the message is not
 * applied and must not be acknowledged; in journal mode the open group
 * transaction is lost with it, so the caller must exit and let the restart
 * replay the journal. Memory never runs ahead of what is committed. */
int ingest_process(struct ingest *in, const char *topic, size_t topic_len, const void *payload,
                   size_t len, struct ingest_output *out);

/* Commits the open group transaction, if any, and empties the journal.
 * PW_EIO is fatal as above. Core thread, or a thread holding the core lock. */
int ingest_flush(struct ingest *in);

/* The tick's commit: ingest_flush once the stream has paused for
 * group_idle_ms or the group is batch_max_ms old; else nothing. */
int ingest_flush_idle(struct ingest *in);

/* A group transaction is open (its writes not yet committed). */
int ingest_group_open(const struct ingest *in);

/* 1 once after a message opened a visit (and so committed its group at
 * once): what waits on it — the greeting — should not wait for the tick's
 * usual cadence. */
int ingest_take_urgent(struct ingest *in);

/* The throttle's trailing edge (catchup.h): sends the vehicle frames that
 * fell due — a car whose last message no frame carried, a list that has
 * not seen a car's last readings. Core lock held (main.c's tick). */
void ingest_catch_up(struct ingest *in);

/* At start, before MQTT: re-applies what the journal holds (a crash left it
 * uncommitted to SQLite), commits it and empties the journal. Records
 * already in SQLite are recognised as duplicates. *replayed = records read. */
int ingest_replay_journal(struct ingest *in, long *replayed);

#endif
