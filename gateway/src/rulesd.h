/*
 * rulesd — the rules inside the daemon: wires alerts, events, the sweep
 * and arrivals (arrival_store, with its health briefs) to the core's
 * connection and state, runs the sweep at start and at each site-local
 * midnight, and publishes the outbox.
 *
 * Everything that touches the core's connection or state runs with the
 * core lock held and the core's group transaction committed
 * (rulesd_tick_locked, from the main thread's periodic flush): a chunk of
 * a due sweep (its own short transaction; each vehicle's maintenance
 * thresholds go straight into the state table), and the outbox rows to
 * publish, copied out. Publishing itself (rulesd_publish) runs without the
 * core lock, because Paho takes its own lock around our message callback
 * and a publish under the core lock would invert that order. The broker's
 * acknowledgements come back on Paho's thread to events_confirm().
 *
 * Thread: the main thread, except as said.
 */
#ifndef PW_RULESD_H
#define PW_RULESD_H

#include "alerts.h"
#include "arrival_store.h"
#include "clock.h"
#include "config.h"
#include "hub.h"
#include "metrics.h"
#include "mqtt.h"
#include "state.h"
#include "store.h"

#define RULESD_SWEEP_CHUNK 200   /* vehicles per sweep transaction */
#define RULESD_RESEND_MS   30000 /* an event unacknowledged this long goes again */
#define RULESD_RETRY_MS    60000 /* a failed sweep is tried again after this */

struct rulesd_options {
	const struct pw_config *cfg;  /* borrowed */
	const struct pw_clock *clock; /* borrowed */
	struct store *store;          /* borrowed: the core's read-write store */
	struct state *state;          /* borrowed: the core's state table */
	struct metrics *metrics;      /* borrowed */
	struct hub *hub;              /* borrowed; NULL: no WebSocket event frames */
};

struct rulesd;

/* Opens alerts, events and the sweep on the core's connection, carries the
 * open alerts into the vehicles' memos, and makes a sweep due at once. At
 * start, before MQTT. NULL on failure (logged). */
struct rulesd *rulesd_open(const struct rulesd_options *opt);
/* After mqtt_stop (which reports the last acknowledgements). Accepts NULL. */
void rulesd_close(struct rulesd *rd);

/* The alerts for ingest_options.alerts. */
struct alerts *rulesd_alerts(struct rulesd *rd);

/* The arrivals for ingest_options.arrivals (on the core's connection);
 * NULL for a NULL rd. */
struct arrival_store *rulesd_arrivals(struct rulesd *rd);

/* Core lock held, no transaction open on the core's connection: runs one
 * chunk of a due sweep and, when `connected`, collects outbox rows to
 * publish. Failures are logged and retried later; never fatal. */
void rulesd_tick_locked(struct rulesd *rd, int connected);

/* Without the core lock, after rulesd_tick_locked: publishes what it
 * collected, counting each event once in pitwall_events_total and handing
 * it, on its first publish only (not a resend), to the hub as a WebSocket
 * frame (frames_event). */
void rulesd_publish(struct rulesd *rd, struct mqtt *m);

#endif
