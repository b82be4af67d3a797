/*
 * sweep — the date-based rules, run once a day over every vehicle:
 * maintenance due/overdue (months, and km predicted from the car's real
 * daily distance), insurance renewal (90/30/7 days, critical from the
 * expiry day), fuel anomaly with the driving profile, lost customers, and
 * follow-up calls 3 days after a visit and 7 after purchase.
 *
 * It reads SQLite (the dealer tables of 002, vehicle_state, vehicle_day,
 * open alerts), feeds the pure functions of rules.c and raises or clears
 * alerts through alerts.c, whose events go to the outbox in the same
 * transaction. One run is a snapshot of the vehicles taken by
 * sweep_start() and walked by sweep_step() in chunks, each its own
 * transaction, so a daemon can let ingest run between chunks. Follow-ups
 * fire for the days since the last run (sweep_state.last_day), so a missed
 * midnight is caught up and nothing fires twice.
 *
 * `pitwall sweep --db FILE [--now ISO8601] [--config FILE]` runs it once
 * and prints every event it raised as one JSON line; the daemon runs it at
 * start and at each site-local midnight (main.c).
 *
 * Thread: a struct sweep belongs to the thread that owns its connection.
 */
#ifndef PW_SWEEP_H
#define PW_SWEEP_H

#include <stdint.h>
#include <sqlite3.h>

#include "alerts.h"
#include "config.h"
#include "rules.h"

struct sweep;

/* Prepares the statements on `db` (borrowed, migrated to 003 or later);
 * `cfg` and `al` (an alerts on the same connection) are borrowed. With `al`
 * NULL the sweep only reads (sweep_judge_maintenance, sweep_window: the
 * health brief on a read-only connection); runs need alerts. NULL on
 * failure, logged. */
struct sweep *sweep_open(sqlite3 *db, const struct pw_config *cfg, struct alerts *al);
void sweep_close(struct sweep *sw);

/* Called for every vehicle the maintenance rule ran for, with the odometer
 * readings at which it becomes due and overdue (0, 0: no plan applies: the
 * dealer does not know the car). The daemon puts them into the vehicle's
 * memo so ingest notices the crossing. */
typedef void (*sweep_thresholds_fn)(void *ctx, const char *vin, double due_km, double limit_km);
void sweep_set_thresholds_fn(struct sweep *sw, sweep_thresholds_fn fn, void *ctx);

struct sweep_stats {
	int32_t day; /* the site-local day swept */
	long vehicles;
	long events;  /* events raised (opened or escalated) */
	long cleared; /* episodes ended */
	long maintenance, insurance, fuel, lost_customer, followup; /* events by kind */
};

/* Takes the snapshot of vehicles (every dealer vehicle and every vehicle
 * with telemetry) for a run as of `now_ms`. PW_EBUSY if the connection is
 * inside a transaction. */
int sweep_start(struct sweep *sw, int64_t now_ms);
/* Sweeps the next `max_vehicles` of the snapshot in one transaction (the
 * first step also raises the follow-ups and the last one records the day);
 * *done = 1 when the run is complete. On PW_EIO the step is rolled back and
 * the run abandoned. */
int sweep_step(struct sweep *sw, int max_vehicles, int *done);
/* sweep_start and every step. */
int sweep_run(struct sweep *sw, int64_t now_ms, struct sweep_stats *stats);
/* The counts of the current or last run. */
void sweep_get_stats(const struct sweep *sw, struct sweep_stats *out);

/* Every date rule but follow-ups for one vehicle, in the caller's
 * transaction (after a service visit is recorded: the maintenance cycle it
 * closes is cleared and the next one judged). */
int sweep_vehicle(struct sweep *sw, const char *vin, int64_t now_ms);

/* The maintenance rule's verdict for `vin` as of `now_ms`, raising
 * nothing. *known = 0 (and `v` untouched) when the dealer has no such car. */
int sweep_judge_maintenance(struct sweep *sw, const char *vin, int64_t now_ms,
                            struct rules_maint_verdict *v, int *known);
/* Sums of the vehicle's vehicle_day rows over the site-local days [from, to]. */
int sweep_window(struct sweep *sw, const char *vin, int32_t from, int32_t to,
                 struct rules_window *w);

/* The alerts_maintenance_fn for ingest (ctx: a struct sweep on the core's
 * connection): the maintenance rule for vehicle `v` in the caller's
 * transaction, with v's odometer and ts (not its vehicle_state row's), its
 * thresholds written into `memo`. */
int sweep_maintenance_hook(void *ctx, const struct pw_vehicle *v, int64_t now_ms,
                           struct rules_memo *memo);

/* `pitwall sweep [--config FILE] [--db FILE] [--now ISO8601]`; argv[0] is
 * "sweep". Prints the events as JSON lines on stdout and a summary on
 * stderr. Returns the exit status: 0 ok, 2 bad usage or config, 1 runtime
 * failure. */
int sweep_main(int argc, char **argv);

#endif
