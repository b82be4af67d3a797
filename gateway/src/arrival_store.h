/*
 * arrival_store — arrivals in SQLite and on the outbox: the shell around
 * the pure geofence detector (geofence.c), matching (arrival.c) and
 * greeting (greet.c).
 *
 * A visit is one `arrival` row (005_arrival.sql), opened by whichever of
 * the geofence detector and the entrance camera sees the car first; an open
 * arrival (departed_ms NULL) of the same vin and site-local day is the same
 * visit, and the later source only turns its source into 'both'. Opening a
 * visit matches it (appointment, own advisor, least loaded), stores the
 * health brief, and writes to the outbox, in the caller's transaction:
 * - the `arrival` event "a<id>" (severity info, warning for a VIP: that is
 *   the service manager's alert), with the brief;
 * - the `greeting` event "g<id>" (the contract's greeting plus vin, ts and
 *   severity for dealer systems; greet_frame() strips it for displays);
 * - the in-car `welcome` message "w<id>" naming the desk.
 * Greeting and welcome are left out for an arrival seen more than
 * ARRIVAL_STALE_MS after it happened (a device's late buffer, a backlog
 * after an outage): nobody is at the entrance any more. On a sped-up
 * virtual clock the allowance is at least ARRIVAL_LAG_REAL_MS of real
 * time, so that processing lag under load does not look like staleness. The geofence's departure
 * closes the open visit. Every plate read is logged in `plate_read` with its outcome.
 *
 * Thread: the core (its connection, inside its open transaction).
 */
#ifndef PW_ARRIVAL_STORE_H
#define PW_ARRIVAL_STORE_H

#include <stdint.h>
#include <sqlite3.h>

#include "brief.h"
#include "clock.h"
#include "config.h"
#include "decode.h"
#include "events.h"
#include "state.h"

#define ARRIVAL_STALE_MS    (10 * 60 * 1000)
#define ARRIVAL_LAG_REAL_MS (10 * 1000)

struct arrival_store;

/* Prepares the statements on `db` (borrowed, migrated to 005 or later).
 * `cfg`, `clock`, `ev` and `br` (the last two on the same connection) are
 * borrowed for the life of the struct. NULL on failure, logged. */
struct arrival_store *arrival_store_open(sqlite3 *db, const struct pw_config *cfg,
                                         const struct pw_clock *clock, struct events *ev,
                                         struct brief *br);
void arrival_store_close(struct arrival_store *as);

/* Before a new visit's health brief reads the car's vehicle_state row, `fn`
 * brings the row up to date: ingest writes rows only at its commit. It is
 * passed the car's VIN and, for telemetry, the vehicle as this object
 * merged it (`merged`; NULL for a plate read). Core thread; set once. */
void arrival_store_set_row_hook(struct arrival_store *as,
                                int (*fn)(void *ctx, const char *vin,
                                          const struct pw_vehicle *merged),
                                void *ctx);

/* The per-object hook, in the core's open transaction, after the object's
 * own writes: feeds the detector in next->fence with `t` merged from `cur`
 * (NULL: a new vehicle) into `next`; a late object (older than the
 * vehicle's newest) is skipped. On an arrival opens or merges the visit;
 * on a departure closes it. *opened = 1 when a new visit was opened (its
 * events wait in the outbox: commit soon). PW_EIO on a database error. */
int arrival_store_on_telemetry(struct arrival_store *as, const struct pw_vehicle *cur,
                               struct pw_vehicle *next, const struct pw_telemetry *t, int late,
                               int64_t now_ms, int *opened);

/* A plate read from the entrance camera, in the caller's transaction: a
 * known plate with confidence >= rules.plate_min_confidence opens (or
 * merges into) the car's visit, and `vin` (PW_VIN_LEN + 1 bytes) is set to
 * the car's (else ""): the caller marks its detector (geofence_mark_open)
 * so that its departure closes the visit. Anything else is only logged.
 * *opened as above. PW_EIO on a database error. */
int arrival_store_on_plate(struct arrival_store *as, const struct pw_plate_read *pr, int64_t now_ms,
                           int *opened, char *vin);

/* At start: marks the vehicles of `st` with an open visit as on site, so
 * their departure closes it. */
int arrival_store_load_on_site(struct arrival_store *as, struct state *st);

#endif
