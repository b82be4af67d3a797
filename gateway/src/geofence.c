/*
 * geofence — the arrival detector's state machine (see geofence.h for the
 * promises). Distances by haversine on a sphere of the mean Earth radius:
 * at a 120 m radius its error is well under a millimetre.
 */
#include "geofence.h"

#include <math.h>

#define EARTH_RADIUS_M 6371008.8
#define DEG_TO_RAD     (3.14159265358979323846 / 180.0)

double geofence_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = lat1 * DEG_TO_RAD, p2 = lat2 * DEG_TO_RAD;
	double dp = (lat2 - lat1) * DEG_TO_RAD, dl = (lon2 - lon1) * DEG_TO_RAD;
	double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);

	if (a > 1.0)
		a = 1.0;
	return 2.0 * EARTH_RADIUS_M * atan2(sqrt(a), sqrt(1.0 - a));
}

double geofence_exit_radius_m(const struct geofence_params *p)
{
	double margin = p->radius_m * 0.25;

	return p->radius_m + (margin > 30.0 ? margin : 30.0);
}

static uint32_t to_s(int64_t ts_ms)
{
	int64_t s = ts_ms / 1000;

	if (s < 1)
		return 1; /* 0 means "none" */
	if (s > (int64_t)UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)s;
}

void geofence_mark_arrived(struct geofence_state *st)
{
	st->phase = GEOFENCE_ARRIVED;
	st->leaving = 0;
	st->since_s = 0;
	st->open = 1;
}

void geofence_mark_open(struct geofence_state *st, int64_t ts_ms)
{
	if (st->phase == GEOFENCE_OUT && !st->open) {
		st->leaving = 0;
		st->since_s = to_s(ts_ms);
	}
	st->open = 1;
}

enum geofence_verdict geofence_feed(const struct geofence_params *p, struct geofence_state *st,
                                    const struct geofence_sample *s, int64_t *at_ms)
{
	uint32_t now_s = to_s(s->ts_ms);
	int slow;

	if (s->has_position) {
		double d = geofence_distance_m(p->lat, p->lon, s->lat, s->lon);

		if (st->phase == GEOFENCE_OUT && d <= p->radius_m) {
			st->phase = GEOFENCE_IN;
			st->leaving = 0;
			st->since_s = 0;
		} else if (st->phase == GEOFENCE_OUT && !st->open) {
			return GEOFENCE_NONE;
		} else if (d > geofence_exit_radius_m(p)) {
			if (st->phase == GEOFENCE_OUT && !st->leaving && now_s < st->since_s)
				return GEOFENCE_NONE; /* from before the camera saw it */
			if (!st->leaving) {
				st->leaving = 1;
				st->since_s = now_s;
			}
			if (now_s - st->since_s >= (uint32_t)(p->dwell_s > 0 ? p->dwell_s : 0)) {
				*at_ms = (int64_t)st->since_s * 1000;
				*st = (struct geofence_state){0};
				return GEOFENCE_DEPARTURE;
			}
			return GEOFENCE_NONE;
		} else if (st->leaving) {
			st->leaving = 0; /* back within the exit radius: jitter, not a departure */
			st->since_s = 0;
		}
	}
	if (st->phase != GEOFENCE_IN || st->leaving)
		return GEOFENCE_NONE;

	if (s->ignition_off_edge) {
		*at_ms = s->ts_ms;
		geofence_mark_arrived(st);
		return GEOFENCE_ARRIVAL;
	}
	slow = !s->ignition_off && s->has_speed && s->speed_kmh <= p->max_speed_kmh;
	if (!slow) {
		st->since_s = 0;
		return GEOFENCE_NONE;
	}
	if (!st->since_s)
		st->since_s = now_s;
	if (now_s - st->since_s >= (uint32_t)(p->dwell_s > 0 ? p->dwell_s : 0)) {
		*at_ms = s->ts_ms;
		geofence_mark_arrived(st);
		return GEOFENCE_ARRIVAL;
	}
	return GEOFENCE_NONE;
}
