/*
 * world — the whole simulated fleet living its days: each car follows its
 * owner's plan (life.c) through the physics of car.c, and its telematics
 * device reports what a real one would: a telemetry object every 10 s while
 * driving and every 30 min parked (both configurable), one at every
 * ignition change; no coverage in an underground home garage (the device
 * goes offline, its connection drops, it buffers) or briefly in tunnels
 * (it buffers); on coverage again the buffer goes out as batch arrays of up
 * to 100. The entrance camera reads a plate when a car enters the site's
 * geofence, with a confidence below 1 and occasional misreads.
 *
 * Pure: no I/O, no clock. world_advance(until) runs every vehicle up to a
 * time and reports what happened through a callback, in each vehicle's time
 * order; the output depends only on the seed and the start time, not on how
 * the caller slices time. A struct world belongs to one thread.
 */
#ifndef PWSIM_WORLD_H
#define PWSIM_WORLD_H

#include <stdint.h>

#include "car.h"
#include "decode.h"
#include "life.h"

enum world_event_kind {
	WORLD_TELEMETRY = 1, /* t: one object */
	WORLD_BATCH,         /* t[0..n): the offline buffer, oldest first */
	WORLD_ONLINE,        /* the device has coverage again: connect, status online */
	WORLD_OFFLINE,       /* the device lost coverage: its connection drops (the will) */
	WORLD_PLATE,         /* the entrance camera read `plate` */
};

struct world_event {
	enum world_event_kind kind;
	int vehicle;
	int64_t ts_ms;
	const struct pw_telemetry *t; /* borrowed for the callback's duration */
	int n;
	const char *plate;
	double confidence;
	int misread; /* the plate text is wrong on purpose */
};

typedef void (*world_emit_fn)(void *ctx, const struct world_event *ev);

struct world_appointment {
	int vehicle;
	int64_t start_ms; /* UTC */
};

struct world_options {
	struct life_site site;
	int tz_offset_s; /* local time = UTC + this (Asia/Shanghai: 28800) */
	uint64_t seed;
	int vehicles;
	const char *const *vins;   /* borrowed */
	const char *const *plates; /* borrowed; NULL or "" entries: no plate reads */
	const int64_t *first_seq;  /* per vehicle, NULL: all 0 */
	int drive_interval_s;      /* default 10 */
	int park_interval_s;       /* default 1800 */
	double misread_p;          /* default 0.04 */
	const struct world_appointment *appointments; /* borrowed, any order */
	int n_appointments;
	int full; /* every field, or only v/vin/seq/ts */
};

struct world_stats {
	uint64_t telemetry; /* objects created */
	uint64_t batches;
	uint64_t plate_reads;
	uint64_t misreads;
	uint64_t site_visits;
	uint64_t drive_pasts;
	uint64_t offline_episodes;
};

/* Creates the fleet and lives it silently from local midnight up to
 * start_ms (where everyone is at start_ms follows from their morning).
 * NULL on allocation failure. */
struct world *world_new(const struct world_options *o, int64_t start_ms);
void world_free(struct world *w);

/* Runs every vehicle up to until_ms, calling emit for everything that
 * happens (emit may be NULL). */
void world_advance(struct world *w, int64_t until_ms, world_emit_fn emit, void *ctx);
/* The earliest time anything will happen. */
int64_t world_next_event_ms(const struct world *w);

const struct car *world_car(const struct world *w, int vehicle);
int world_is_online(const struct world *w, int vehicle);
int64_t world_next_seq(const struct world *w, int vehicle);
void world_get_stats(const struct world *w, struct world_stats *s);

/* Local weekday (0 = Monday) and local midnight (UTC ms) of `ms`. */
int world_weekday(int64_t ms, int tz_offset_s);
int64_t world_local_midnight(int64_t ms, int tz_offset_s);

#endif
