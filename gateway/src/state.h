/*
 * state — every vehicle's live state as a fixed C struct, and the pure merge
 * of one telemetry object into it.
 *
 * The merge is the contract's "state is the merge of all messages in ts
 * order": each field group keeps the ts it was last set at, so an object
 * older than the newest one still fills what nothing newer has set, and never
 * rolls anything back. Duplicates are found by (vin, seq): a 64-bit window
 * below the highest seq, plus seq *gaps* (ranges that slid out of the window
 * unseen) kept by the store, so the answer is exact for any reordering.
 *
 * state_merge() is pure and works on a copy: the caller merges into `next`,
 * commits `next` to the store, and only then state_put()s it, so a failed
 * commit leaves memory as it was. The one thing a merge adds to is the
 * table's pool of DTC sets (dtcset.h): a changed set is interned there,
 * and the table holds the references; the caller collects the pool once
 * its working copies are put or dropped. Thread: the core (MQTT callback)
 * thread owns a struct state; nothing else touches it.
 */
#ifndef PW_STATE_H
#define PW_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "decode.h"
#include "dtcset.h"
#include "geofence.h"
#include "rules.h"

/* Field groups with their own last-set ts: the PW_F_* bits except tires,
 * which keep one ts per wheel. Index = bit position of the PW_F_* flag. */
#define PW_STATE_GROUPS 11
#define PW_SEQ_WINDOW   64
#define PW_TIRE_MEMBERS 3 /* kpa, tread_mm, temp_c */

struct pw_vehicle {
	char vin[PW_VIN_LEN + 1];
	/* in what was padding: ingest noted this vehicle's vehicle_state row as
	 * behind memory, to be written at the next group commit (ingest.c) */
	uint8_t row_dirty;
	int64_t seq_max;                      /* highest seq applied; -1 before the first object */
	uint64_t seq_window;                  /* bit i set: seq_max - i applied (bit 0 = seq_max) */
	int64_t msg_count;                    /* telemetry objects applied, duplicates excluded */
	int64_t ts_ms;                        /* newest ts applied */
	int64_t group_ts_ms[PW_STATE_GROUPS]; /* when each PW_F_* group was last set */
	/* when each tire member (PW_TIRE_KPA, _TREAD, _TEMP: index = bit number)
	 * was last set: members are optional one by one, so the merge is exact
	 * only per member. group_ts_ms[9] is their maximum; a wheel's own
	 * newest is state_tire_ts_ms() (not stored: 32 bytes a vehicle). */
	int64_t tire_member_ts_ms[PW_TIRE_COUNT][PW_TIRE_MEMBERS];
	int64_t history_bucket;     /* last history bucket written (ts / interval); -1 none */
	int64_t odometer_rollbacks; /* objects whose odometer went backwards */
	int64_t status_ts_ms;       /* from the status topic; 0 = never */
	uint8_t online;             /* last status: 1 online, 0 offline/unknown */
	uint8_t frame_owed;         /* FRAMES_OWED_* (frames.h): the frame it still owes, queued */
	/* the last WebSocket vehicle frame (frames.h), in what was padding */
	uint16_t frame_sig;      /* its badges, ignition and online; 0: none sent */
	uint32_t frame_ms;       /* when, monotonic ms (wraps; compared by difference) */
	struct pw_latest latest; /* latest.has = every group ever set; DTCs interned */
	struct rules_memo rules; /* what the per-message rules remember (rules.h) */
	/* the arrival detector (geofence.h); memory only */
	struct geofence_state fence;
};

enum pw_seq_class {
	PW_SEQ_NEW = 0,      /* above seq_max, or an unset bit in the window */
	PW_SEQ_DUPLICATE,    /* a set bit in the window */
	PW_SEQ_BELOW_WINDOW, /* older than the window: ask the store's gaps */
};

/* A range of seqs [lo, hi] that is known not to have been seen. */
struct pw_seq_gap {
	int64_t lo, hi;
};
#define PW_GAPS_MAX (PW_SEQ_WINDOW / 2 + 2)

struct state_merge_result {
	int new_vehicle;       /* `cur` was NULL */
	int late;              /* ts older than the vehicle's newest */
	int changed;           /* some latest field changed */
	int odometer_rollback; /* the odometer went backwards and was not applied */
	int dtc_changed;       /* the DTC set differs from the one before */
	int history_due;       /* write a history row: a new bucket, or late into one */
	int n_gaps;            /* seq ranges left behind unseen; the store keeps them */
	struct pw_seq_gap gaps[PW_GAPS_MAX];
};

struct state;

/* A table sized for about `expected` vehicles (it grows), with its own pool
 * of DTC sets. NULL on ENOMEM. */
struct state *state_new(size_t expected);
/* Frees the table and its pool: every DTC set pointer of its vehicles, and
 * of copies of them, dangles after. */
void state_free(struct state *s);

/* The table's pool of DTC sets, borrowed: merges for this table intern into
 * it, its store reloads too, and its owner dtcset_collect()s it whenever no
 * working copy is alive (see dtcset.h). */
struct dtcset_pool *state_dtcsets(struct state *s);

/* Borrowed; valid until the next state_put() or state_free(). NULL if unknown. */
const struct pw_vehicle *state_find(const struct state *s, const char *vin);

/* Stores a copy of `v` under v->vin, adding or replacing. The table takes a
 * reference to v->latest.dtc (interned in state_dtcsets(s), or NULL) and
 * drops the one of the copy it replaces. */
int state_put(struct state *s, const struct pw_vehicle *v);

size_t state_count(const struct state *s);

/* Clears row_dirty in the table's copy of `vin`, if it has one (ingest,
 * once the row is written and committed). */
void state_clear_row_dirty(struct state *s, const char *vin);

/* Calls fn for each vehicle, in no particular order; stops at a non-zero return. */
int state_foreach(const struct state *s, int (*fn)(void *ctx, const struct pw_vehicle *v),
                  void *ctx);

/* Bytes the table holds (index, chunks of vehicles, bookkeeping, DTC sets). */
size_t state_memory_bytes(const struct state *s);

/* A vehicle never seen: zeroed, `vin` copied (NULL: left empty), seq_max and
 * history_bucket -1. For code that builds a struct pw_vehicle (store reload). */
/* The newest ts of any member of wheel `w` that the vehicle has (0: none). */
int64_t state_tire_ts_ms(const struct pw_vehicle *v, int w);

void state_vehicle_init(struct pw_vehicle *v, const char *vin);

/* Where `seq` stands for vehicle `v` (NULL: never seen, so PW_SEQ_NEW). */
enum pw_seq_class state_classify_seq(const struct pw_vehicle *v, int64_t seq);

/* Merges `t` (not a duplicate: the caller classified it) into a copy of
 * `cur` (NULL for a vehicle never seen) and writes the result to `next`
 * (`next` may be `cur`). `history_interval_ms` buckets history. Pure but
 * for interning a changed DTC set in `sets` (the pool of the table `next`
 * goes into; a set that did not change allocates nothing). PW_OK, or
 * PW_ENOMEM when the set cannot be interned: `next` is then half merged,
 * to be dropped.
 *
 * The result depends only on the set of objects merged, not their order:
 * - a field (group; tire member) takes the value of the newest ts; at an
 *   equal ts the greater value wins (never the arrival order);
 * - the odometer keeps the highest reading. A reading below one of a newer
 *   ts, or a late reading above a newer one, sets odometer_rollback and
 *   counts in odometer_rollbacks (the late, higher one is applied: it is
 *   what replaying in ts order keeps);
 * - res->gaps only ever holds seqs below the new window, so the store's gaps
 *   and the window never overlap: a first seq s reports [0, s-64] at once and
 *   the rest as it slides out; a jump from m to s reports the unseen seqs
 *   leaving the window and [m+1, s-64];
 * - a DTC set is kept sorted; dtc_changed when the latest set changed
 *   (a late, older set changes nothing); history_due for every object whose
 *   bucket differs from history_bucket, which only moves forward. */
int state_merge(struct dtcset_pool *sets, const struct pw_vehicle *cur,
                const struct pw_telemetry *t, int64_t history_interval_ms, struct pw_vehicle *next,
                struct state_merge_result *res);

/* Applies a status message to a copy: newer status_ts wins; at an equal ts
 * offline wins (a will message carries the ts of its connect). */
void state_merge_status(const struct pw_vehicle *cur, const char *vin, int online, int64_t ts_ms,
                        struct pw_vehicle *next);

#endif
