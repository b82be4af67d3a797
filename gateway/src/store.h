/*
 * store — Pitwall's SQLite database: schema migrations, each vehicle's latest
 * state, downsampled history, DTC changes, seq gaps, and position retention.
 *
 * One struct store is one connection. The core thread owns the read-write
 * one and wraps each MQTT message in store_begin()/store_commit(); other
 * threads (HTTP reads, sweeps, retention) open their own. WAL mode,
 * synchronous=NORMAL: a commit survives a killed process, costs no fsync.
 * Every statement is prepared once at open and reused. Migrations are the
 * numbered files of gateway/sql/, compiled into the binary, applied in order
 * inside one transaction each, recorded in PRAGMA user_version.
 */
#ifndef PW_STORE_H
#define PW_STORE_H

#include <stdint.h>
#include "state.h"

struct store;

enum store_mode { STORE_READ_WRITE = 0, STORE_READ_ONLY = 1 };

/* Opens (creating and migrating when read-write) the database at `path`
 * (":memory:" works). NULL on failure, logged with the path and SQLite's
 * message. */
struct store *store_open(const char *path, enum store_mode mode);
void store_close(struct store *st);

/* The schema version the database is at (PRAGMA user_version). */
int store_schema_version(struct store *st, int *version);
/* The newest migration compiled into this binary. */
int store_latest_schema_version(void);

int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);

/* Upserts the vehicle's row (latest state, seq window, counts). */
int store_put_vehicle(struct store *st, const struct pw_vehicle *v);

/* One history row for the bucket of t->ts_ms (INSERT OR IGNORE on
 * (vin, bucket)): odometer, speed, fuel, battery, position, tires. */
int store_put_history(struct store *st, const struct pw_telemetry *t, int64_t bucket);

/* A change of a vehicle's DTC set (the whole new set). */
int store_put_dtc_change(struct store *st, const char *vin, int64_t ts_ms, const struct pw_dtc *dtc,
                         int count);

/* Seq gaps: ranges of a vehicle's seqs not seen yet (see state.h). */
int store_add_seq_gap(struct store *st, const char *vin, int64_t lo, int64_t hi);
/* If `seq` lies in a gap, removes it from the gap (splitting the range) and
 * sets *was_gap = 1; otherwise *was_gap = 0 (the seq was seen: a duplicate). */
int store_take_seq_gap(struct store *st, const char *vin, int64_t seq, int *was_gap);

/* Calls fn for every stored vehicle (state reload at start). Their DTC sets
 * are interned in `sets`, the pool of the table fn puts them into (state.h);
 * the caller collects it afterwards (what fn did not keep). */
int store_load_vehicles(struct store *st, struct dtcset_pool *sets,
                        int (*fn)(void *ctx, const struct pw_vehicle *v), void *ctx);

/* Clears lat/lon of history rows older than `before_ms`, at most `max_rows`
 * in one transaction of its own; *cleared = rows changed. */
int store_purge_positions(struct store *st, int64_t before_ms, int max_rows, int *cleared);

/* WAL checkpoints. The core connection turns automatic checkpoints off
 * (pages = 0), so its commits never stall on a checkpoint's fsync; the
 * housekeeping connection runs store_checkpoint() (PASSIVE: never blocks
 * the writer) every second. *wal_pages = frames in the WAL. */
int store_set_autocheckpoint(struct store *st, int pages);
int store_checkpoint(struct store *st, int *wal_pages);

/* SELECT 1 on this connection (health check). */
int store_ping(struct store *st);

/* The connection itself, borrowed, for modules whose writes must join this
 * connection's transactions (alerts and events in the core's group
 * transaction). Same thread rules as the store. */
struct sqlite3 *store_sqlite(struct store *st);

#endif
