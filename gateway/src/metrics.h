/*
 * metrics — the counters behind GET /metrics (Prometheus text format).
 *
 * Writers are the core thread (ingest) and a few others; the reader is the
 * lws thread. Every counter is a C11 atomic, so updates never lock and never
 * wait. A message counts once it is committed (or rejected).
 */
#ifndef PW_METRICS_H
#define PW_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "decode.h"

enum pw_msg_result { PW_MSG_ACCEPTED = 0, PW_MSG_REJECTED, PW_MSG_DUPLICATE, PW_MSG__COUNT };

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

void metrics_count_message(struct metrics *m, enum pw_msg_result result);
void metrics_count_reject(struct metrics *m, enum pw_reject reason);
void metrics_count_unknown_fields(struct metrics *m, unsigned n);
void metrics_count_late(struct metrics *m); /* accepted, older than latest */
void metrics_count_odometer_rollback(struct metrics *m);
void metrics_count_status(struct metrics *m);               /* status messages applied */
void metrics_count_anpr(struct metrics *m);                 /* plate reads accepted */
void metrics_count_mqtt_message(struct metrics *m);         /* MQTT messages received (any) */
void metrics_add_commit_us(struct metrics *m, uint64_t us); /* time spent in store_commit */
/* Event types are the contract's strings ("maintenance_due", ...). Unknown
 * names are counted under "other". */
void metrics_count_event(struct metrics *m, const char *type);
void metrics_set_vehicles(struct metrics *m, uint64_t n);
void metrics_set_ws_clients(struct metrics *m, uint64_t n);
/* WebSocket frames a client or the hub never got (queue or ring overran),
 * and the fresh snapshots sent instead. */
void metrics_count_ws_dropped(struct metrics *m, uint64_t n);
void metrics_count_ws_resync(struct metrics *m);
void metrics_set_mqtt_connected(struct metrics *m, int connected);
int metrics_mqtt_connected(const struct metrics *m);
uint64_t metrics_messages(const struct metrics *m, enum pw_msg_result result);

/* Writes the whole exposition into buf; PW_ERANGE if cap is too small
 * (8 KiB is enough). *len_out = bytes written, no NUL counted. */
int metrics_render(const struct metrics *m, char *buf, size_t cap, size_t *len_out);

#endif
