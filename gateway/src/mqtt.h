/*
 * mqtt — the gateway's one broker connection (Paho MQTTAsync).
 *
 * A durable session (fixed client id, clean session off) subscribed at QoS 1
 * to every vehicle's telemetry and status and the site's plate camera.
 * Each message is handed to ingest on Paho's callback thread — the core
 * thread — and the callback returns only once its effects are committed:
 * Paho sends the PUBACK after the callback returns, so nothing acknowledged
 * is ever lost, and what was not acknowledged is redelivered and deduplicated
 * by (vin, seq). If a message cannot be committed the process exits without
 * acknowledging it, rather than acknowledge what it could not keep.
 *
 * Also: the retained gateway status with its will, automatic reconnect with
 * back-off, and publishing (rejections now; events in later issues) from
 * any thread.
 */
#ifndef PW_MQTT_H
#define PW_MQTT_H

#include <stddef.h>
#include <stdint.h>
#include "clock.h"
#include "config.h"
#include "ingest.h"
#include "journal.h"
#include "metrics.h"

struct mqtt;

struct mqtt_options {
	const struct pw_config *cfg;  /* borrowed: mqtt and site sections */
	const struct pw_clock *clock; /* borrowed */
	struct ingest *ingest;        /* borrowed; called on the core thread only */
	struct metrics *metrics;      /* borrowed */
	struct journal *journal;      /* borrowed, may be NULL: ingest's journal, whose
	                               * appends are deferred to the PUBACKs (QoS 1
	                               * over plain TCP; journal.h, pahoio.h) */
};

/* Creates the client and starts connecting (asynchronously). NULL on a bad
 * URI, unreadable password file or Paho failure (logged). */
struct mqtt *mqtt_start(const struct mqtt_options *opt);

/* Main thread, every ~100 ms: retries a failed first connect with back-off. */
void mqtt_tick(struct mqtt *m);

/* Publishes from any thread; copies the payload. PW_EIO if Paho refused it. */
int mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                 int retained);

/* Publishes like mqtt_publish, then calls done(ctx, tag, 1) once the
 * broker has the message (QoS 1: its PUBACK; QoS 0: once written) or
 * done(ctx, tag, 0) if it is lost on the way (including messages still
 * unconfirmed at mqtt_stop). `done` runs on Paho's thread (or in
 * mqtt_stop) and must not call into MQTT. When this returns an error,
 * `done` is never called. For the events outbox: a row goes only once the
 * broker has it. */
int mqtt_publish_confirmed(struct mqtt *m, const char *topic, const void *payload, size_t len,
                           int qos, void (*done)(void *ctx, int64_t tag, int ok), void *ctx,
                           int64_t tag);

/* Runs fn(ctx) holding the core lock, so it never overlaps a message being
 * processed (the main thread's idle group commit). Returns fn's result. */
int mqtt_run_locked(struct mqtt *m, int (*fn)(void *ctx), void *ctx);

/* The same as a pair, for wgate.c: between them no message is processed.
 * Never call Paho in between (Paho holds its own lock around on_message). */
void mqtt_lock_core(struct mqtt *m);
void mqtt_unlock_core(struct mqtt *m);

/* Stops taking messages: publishes the offline gateway status, disconnects
 * (waiting for the message in hand to commit), frees. Accepts NULL. */
void mqtt_stop(struct mqtt *m);

#endif
