/*
 * ctlq — the control queue: what other threads tell the core about its
 * in-memory vehicle state. Today one message: a vehicle's maintenance
 * thresholds changed (an API service visit re-judged the cycle), so ingest
 * must notice the next crossing at the new odometer reading.
 *
 * Bounded and mutex-protected, one owner on each side: the HTTP thread
 * pushes (after its transaction committed), the main thread drains under
 * the core lock (ctlq_apply), where it may touch struct state. A full queue
 * refuses the push (PW_EBUSY, the caller logs): the midnight sweep sets the
 * same thresholds again, so nothing is lost for longer than a day.
 */
#ifndef PW_CTLQ_H
#define PW_CTLQ_H

#include <stddef.h>

#include "state.h"

#define CTLQ_DEFAULT_CAP 256

struct ctlq;

/* A queue of at most `cap` messages (0: CTLQ_DEFAULT_CAP). NULL on ENOMEM. */
struct ctlq *ctlq_new(size_t cap);
/* Frees the queue and what is still in it; accepts NULL. */
void ctlq_free(struct ctlq *q);

/* Any thread: queues "vin's maintenance is due at due_km, overdue at
 * limit_km" (0, 0: no plan applies). A later message for the same vin
 * replaces a queued one. PW_EINVAL for a bad vin, PW_EBUSY when full. */
int ctlq_push_thresholds(struct ctlq *q, const char *vin, double due_km, double limit_km);

/* Main thread, core lock held: writes every queued message into `st` (the
 * vehicle's memo, as the daemon's sweep does); vehicles `st` does not hold
 * are skipped (their first telemetry runs the maintenance rule anyway).
 * Returns how many were applied. Accepts q NULL (0). */
int ctlq_apply(struct ctlq *q, struct state *st);

/* Messages waiting (tests). */
size_t ctlq_pending(struct ctlq *q);

#endif
