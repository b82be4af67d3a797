/*
 * catchup — the vehicles that owe the consoles a frame, in the order it
 * falls due: the trailing edge of the frame throttle.
 *
 * A vehicle frame goes out at most once per http.ws_vehicle_interval_ms
 * (frames.h), and a list console gets only one of a vehicle's unchanged
 * frames per FRAMES_LIST_MS. Without a trailing edge, a car whose last
 * message fell inside such a gap would show its second-to-last readings
 * until it next reports — hours, for a parked car. So the core notes each
 * such vehicle here with the time its frame falls due, and sends what it
 * owes when that time comes (ingest_catch_up, once per main-loop tick): at
 * the end of the interval, or — for the lists — once the car has been quiet
 * for FRAMES_LIST_MS (a car still reporting gets its list frame from each
 * window's first frame, and a catch-up frame would hold its next real one
 * back for the interval).
 *
 * A FIFO of (vin, due): the caller keeps one queue per kind of debt, so
 * due times never go down within a queue, and a vehicle in a queue at most
 * once (a bit in its frame state, frames.h), so a queue holds at most one
 * entry per vehicle. It grows by doubling; no entry is ever dropped.
 * Thread: the core's (under the core lock).
 */
#ifndef PW_CATCHUP_H
#define PW_CATCHUP_H

#include <stddef.h>
#include <stdint.h>

#include "pw.h"

struct catchup;

/* NULL on allocation failure. */
struct catchup *catchup_new(void);
void catchup_free(struct catchup *q);

/* Appends `vin`, due at monotonic ms `due_ms`. PW_OK or PW_ENOMEM. */
int catchup_push(struct catchup *q, const char *vin, int64_t due_ms);

/* Takes the oldest entry if it is due at `now_ms`: 1 and its vin copied
 * into `vin` (PW_VIN_LEN + 1 bytes), else 0. */
int catchup_pop_due(struct catchup *q, int64_t now_ms, char *vin);

/* Entries waiting (metrics, tests). */
size_t catchup_count(const struct catchup *q);

#endif
