/*
 * pub — one MQTT publishing connection for the simulator (Paho MQTTAsync):
 * many messages in flight, a bounded window so memory stays flat, and a
 * completion callback per message (PUBACK at QoS 1, written to the socket
 * at QoS 0) carrying the caller's 64-bit tag.
 *
 * Two transports behind one API: Paho MQTTAsync (pub_paho.c), and a raw
 * MQTT 3.1.1 writer (pub_raw.c) that batches many PUBLISH packets per
 * write() and reads PUBACKs in bulk, because Paho's one-syscall-per-packet
 * design tops out near the rate the do-nothing subscriber consumes, and a
 * load generator must not be the bottleneck of a benchmark. Both keep
 * QoS 1 messages until PUBACKed and resend them after a reconnect
 * (persistent session).
 *
 * Threads: pub_send/pub_wait/pub_disconnect are called from one caller
 * thread. `on_done` runs on Paho's thread (paho) or inside pub_send/pub_wait
 * on the caller thread (raw).
 */
#ifndef PWSIM_PUB_H
#define PWSIM_PUB_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

enum pub_transport {
	PUB_AUTO = 0, /* raw for tcp:// and mqtt:// URIs, Paho otherwise */
	PUB_RAW,      /* our own MQTT 3.1.1 writer: batched writes, 1-2 us/msg */
	PUB_PAHO,     /* Paho MQTTAsync: TLS, what a device library does */
};

struct pub_options {
	enum pub_transport transport;
	const char *uri;
	const char *client_id;
	int clean_session;
	int window; /* messages in flight at most (>= 1); also Paho's maxInflight */
	int keepalive_s;
	const char *will_topic; /* NULL: no will */
	const char *will_payload;
	int will_qos;
	int will_retained;
	/* Paho thread: called once per message sent with pub_send; ok = 0 when
	 * Paho reports a failure. */
	void (*on_done)(void *ctx, uint64_t tag, int ok);
	void *ctx;
	/* Optional: pub_send gives up waiting for a free slot when it is set. */
	const atomic_int *stop;
};

struct pub_stats {
	uint64_t sent;   /* accepted by pub_send */
	uint64_t done;   /* completed successfully */
	uint64_t failed; /* completed with a failure */
	uint64_t reconnects;
	int max_window_used;
};

/* Creates the client (not yet connected). NULL on failure, logged. */
struct pub *pub_new(const struct pub_options *o);
/* Connects, waiting at most timeout_ms. Reconnects by itself afterwards. */
int pub_connect(struct pub *p, int timeout_ms);
/* Publishes a copy of payload. Blocks while the window is full (PW_EBUSY
 * if opt.stop gets set meanwhile). PW_EIO when Paho refuses the message (it
 * then counts as neither sent nor done). */
int pub_send(struct pub *p, const char *topic, const void *payload, size_t len, int qos,
             int retained, uint64_t tag);
/* Waits until every sent message completed, at most timeout_ms.
 * PW_OK when none is outstanding, PW_EBUSY on timeout. */
int pub_wait(struct pub *p, int timeout_ms);
/* Messages sent and not yet completed. */
int pub_outstanding(struct pub *p);
void pub_get_stats(struct pub *p, struct pub_stats *s);
/* Disconnects cleanly (MQTT DISCONNECT, so no will is published). */
int pub_disconnect(struct pub *p, int timeout_ms);
/* Writes what is queued and reads acknowledgements, without blocking (raw;
 * Paho writes by itself). PW_EIO when not connected. */
int pub_flush(struct pub *p);
/* Goes away without a DISCONNECT, as a device losing coverage does: the
 * broker publishes the will (raw; Paho disconnects cleanly). Unacknowledged
 * QoS 1 messages are resent after the next pub_connect. */
void pub_drop(struct pub *p);
int pub_is_connected(struct pub *p);
/* Replaces the will's payload for the next pub_connect (a device's will
 * carries the time it connected). */
int pub_set_will_payload(struct pub *p, const char *payload);
/* Accepts NULL. */
void pub_free(struct pub *p);

#endif
