/*
 * dtcset — the DTC sets vehicles hold, interned: immutable, shared, out of line.
 *
 * Nearly every car's latest DTC set is empty or one of a few the fleet
 * shares, so a vehicle (struct pw_latest, decode.h) keeps a pointer to its
 * entries instead of PW_DTC_MAX of them inline: NULL for the empty set,
 * which costs nothing, and one copy for every set of equal entries.
 *
 * Lifetime: vehicles are copied freely by value (working copies, `v = *cur`),
 * so copies cannot count references. Only the state table does: state_put()
 * takes a reference to the set it stores and drops the one it replaces. A
 * set nobody references is "idle" and is freed by dtcset_collect(), called
 * at a quiescent point, when no working copy that may point at an idle set
 * is alive (ingest, once a message's vehicles are put). A set interned for
 * a copy that is never put (a failed message) is collected the same way.
 *
 * Bound: referenced sets are at most one per vehicle; idle ones at most
 * `idle_max`, beyond which dtcset_intern() fails rather than grow, so a
 * device sending a new set in every object cannot grow the pool past that.
 *
 * Thread: the thread that owns the pool (the core thread, with the state
 * table); no locking.
 */
#ifndef PW_DTCSET_H
#define PW_DTCSET_H

#include <stddef.h>
#include "decode.h"

#define DTCSET_IDLE_MAX 4096 /* default bound on idle sets between collects */

struct dtcset_pool;

/* An empty pool holding at most `idle_max` idle sets (0: DTCSET_IDLE_MAX).
 * NULL on ENOMEM. */
struct dtcset_pool *dtcset_pool_new(size_t idle_max);

/* Frees every set, referenced or not: no pointer into the pool survives. */
void dtcset_pool_free(struct dtcset_pool *p);

/* The pool's copy of the `n` entries at `d` (1..PW_DTC_MAX, compared and
 * kept byte for byte: pass a canonical set so that equal sets are shared).
 * *out is borrowed: valid while a reference is held (dtcset_ref) or, for an
 * idle set, until the next dtcset_collect(). Allocates only for a set not
 * in the pool. PW_EINVAL for a bad `n`; PW_ENOMEM when out of memory or
 * when the set is new and `idle_max` sets are idle already. */
int dtcset_intern(struct dtcset_pool *p, const struct pw_dtc *d, int n, const struct pw_dtc **out);

/* Takes / drops a reference to an interned set (NULL, the empty set: nothing).
 * A set whose last reference is dropped becomes idle. */
void dtcset_ref(struct dtcset_pool *p, const struct pw_dtc *set);
void dtcset_unref(struct dtcset_pool *p, const struct pw_dtc *set);

/* Frees the idle sets. Only when no copy pointing at one will be used
 * again. Costs nothing when no set went idle since the last call; returns
 * how many were freed. */
size_t dtcset_collect(struct dtcset_pool *p);

/* Sets held (referenced and idle), idle ones, and bytes in all (index,
 * sets, bookkeeping). */
size_t dtcset_count(const struct dtcset_pool *p);
size_t dtcset_idle(const struct dtcset_pool *p);
size_t dtcset_memory_bytes(const struct dtcset_pool *p);

#endif
