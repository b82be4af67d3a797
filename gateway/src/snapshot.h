/*
 * snapshot — the WebSocket `snapshot` frame (docs/api.md): every vehicle's
 * summary with its six badges (worst first, capped), the newest active
 * alerts and today's arrivals, read from SQLite in one read transaction.
 *
 * Live badges (tyres, faults, battery) come from vehicle_state by the same
 * code as the `vehicle` frames (frames.h); fuel, service and insurance from
 * the vehicle's open alerts. Reads only committed rows; works on any
 * connection migrated to 005. Thread: the owner of the connection (the lws
 * thread's, in ws.c).
 */
#ifndef PW_SNAPSHOT_H
#define PW_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "config.h"

#define SNAPSHOT_ALERTS_MAX 200 /* newest active alerts in a snapshot */

struct snapshot;

/* Prepares the statements on `db` (borrowed). `cfg` borrowed. NULL on
 * failure, logged. */
struct snapshot *snapshot_open(sqlite3 *db, const struct pw_config *cfg);
void snapshot_close(struct snapshot *sn);

/* The snapshot as of `now_ms`, at most `max_vehicles` vehicles. *json is a
 * new malloc'd string of *len bytes (free it). `customers` receives the ids
 * of the customers whose names it shows, comma-separated (for the audit
 * row; cut at a whole id when full). PW_EIO, PW_ENOMEM. */
int snapshot_build(struct snapshot *sn, int64_t now_ms, int max_vehicles, char **json, size_t *len,
                   char *customers, size_t customers_len);

#endif
