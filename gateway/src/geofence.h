/*
 * geofence — is this car pulling into the dealership? A per-vehicle state
 * machine fed with the vehicle's telemetry in ts order: it says "arrived"
 * once per visit and "departed" when the visit ends.
 *
 * - A car *enters* with a position at or inside the site's radius, and
 *   stays in until a position beyond radius + margin (margin = max(30 m,
 *   25 % of the radius)): hysteresis, so GPS jitter at the boundary does
 *   not flap.
 * - While in and not arrived: it arrives when it has been in, with the
 *   ignition not off and at <= max speed, continuously for dwell_s (a
 *   faster sample restarts the count), or when its ignition goes off (the
 *   edge from on/acc/unknown to off) while in. A car parked with its engine
 *   off, just outside and jittering in, never counts; traffic passing
 *   through at 30 km/h never does either.
 * - In (arrived or not), or out with a visit the camera opened, positions
 *   beyond radius + margin for dwell_s in a row end it: "departed" (ts =
 *   the first such sample), back to out.
 * - A sample without a position keeps the in/out state; speed and ignition
 *   still count.
 *
 * Pure: no I/O, no clock; the state is 8 bytes and lives in each struct
 * pw_vehicle (memory only: after a restart a car starts "out", and
 * arrival_store marks those with an open visit as arrived). Thread: any.
 */
#ifndef PW_GEOFENCE_H
#define PW_GEOFENCE_H

#include <stdint.h>

enum geofence_phase {
	GEOFENCE_OUT = 0, /* not at the site */
	GEOFENCE_IN,      /* inside, not (yet) an arrival */
	GEOFENCE_ARRIVED, /* on site: the visit is open */
};

/* Per vehicle; zeroed = out. */
struct geofence_state {
	uint32_t since_s; /* in, not leaving: when slow dwell began (0: not dwelling);
	                   * leaving: the first sample beyond the exit radius;
	                   * out with a visit open: when the camera opened it */
	uint8_t phase;    /* enum geofence_phase */
	uint8_t leaving;  /* 1: the latest position was beyond the exit radius */
	uint8_t open;     /* a visit is open (the camera saw it first): its departure counts */
	uint8_t pad;
};

struct geofence_params {
	double lat, lon;      /* the site's centre, WGS-84 */
	double radius_m;      /* entering: at or inside */
	int dwell_s;          /* rules.arrival_dwell_s */
	double max_speed_kmh; /* rules.arrival_max_speed_kmh */
};

/* One sample: an accepted, in-order telemetry object merged into the
 * vehicle's state. */
struct geofence_sample {
	int64_t ts_ms;
	int has_position; /* the object carried lat/lon */
	double lat, lon;
	int has_speed; /* a speed is known (the object's or the latest) */
	double speed_kmh;
	int ignition_off;      /* the vehicle's ignition is off now */
	int ignition_off_edge; /* this object turned the ignition off */
};

enum geofence_verdict {
	GEOFENCE_NONE = 0,
	GEOFENCE_ARRIVAL,   /* *at_ms: when */
	GEOFENCE_DEPARTURE, /* *at_ms: when it first went beyond the exit radius */
};

/* Great-circle distance in metres (haversine, mean Earth radius). */
double geofence_distance_m(double lat1, double lon1, double lat2, double lon2);

/* The exit radius: radius + max(30 m, 25 %). */
double geofence_exit_radius_m(const struct geofence_params *p);

/* Advances `st` by one sample and says what happened; *at_ms is set for an
 * arrival or a departure. */
enum geofence_verdict geofence_feed(const struct geofence_params *p, struct geofence_state *st,
                                    const struct geofence_sample *s, int64_t *at_ms);

/* A restart found the car's visit open: on site, as if it had arrived. */
void geofence_mark_arrived(struct geofence_state *st);

/* The camera opened the car's visit at ts_ms: whatever the detector
 * thinks, leaving (beyond the exit radius for dwell_s, from samples not
 * older than ts_ms: the device's messages may still be on their way) now
 * ends it. An arrival the detector still sees afterwards merges into it. */
void geofence_mark_open(struct geofence_state *st, int64_t ts_ms);

#endif
