/*
 * life — where a simulated car's owner lives, works and goes: a profile
 * drawn once per vehicle (home and workplace around the dealership,
 * commuter or not, habits), and a plan for each day: commutes on weekdays,
 * errands, weekend highway trips, a service appointment at the dealership
 * (arriving within +-15 min of its time) and now and then a trip that
 * passes the dealership on the road outside without stopping.
 *
 * Pure: times are UTC milliseconds; the caller gives the local midnight and
 * the weekday, so no time zone database is read here. A profile belongs to
 * its vehicle; plans are plain arrays.
 */
#ifndef PWSIM_LIFE_H
#define PWSIM_LIFE_H

#include <stdint.h>

#include "rng.h"

enum life_place { LIFE_HOME = 0, LIFE_WORK, LIFE_ERRAND, LIFE_FAR, LIFE_SITE };

struct life_site {
	double lat, lon;
	double radius_m;
};

struct life_profile {
	double home_lat, home_lon;
	double work_lat, work_lon;
	int commuter;
	double leave_h; /* local hour the commute starts */
	double back_h;
	double errands_per_day;
	double weekend_trip_p;   /* chance of a highway trip on a weekend day */
	double highway_affinity; /* 0-1: takes the ring road / expressway when it can */
	int garage_offline;      /* home garage underground: no coverage there */
};

#define LIFE_TRIPS_MAX 12

struct life_trip {
	int64_t depart_ms;
	int64_t arrive_ms; /* the planned arrival for an appointment, else 0 */
	enum life_place to;
	double lat, lon;
	/* A drive-past: first along the road from (via1) to (via2), outside the
	 * site's geofence, then on to the destination. NAN when none. */
	double via1_lat, via1_lon, via2_lat, via2_lon;
};

void life_profile_init(struct life_profile *p, struct rng *r, const struct life_site *site);

/* Plans the day starting at local midnight `midnight_ms` (UTC ms), weekday
 * 0 = Monday ... 6 = Sunday. `appointment_ms` > 0: a service appointment
 * that day (the car reaches the site within +-15 min of it and stays 1-3 h).
 * Trips come out sorted by departure; returns how many (<= max). */
int life_plan_day(const struct life_profile *p, struct rng *r, const struct life_site *site,
                  int64_t midnight_ms, int weekday, int64_t appointment_ms, struct life_trip *trips,
                  int max);

/* Straight-line travel time estimate used for planning, ms. */
int64_t life_travel_ms(double lat1, double lon1, double lat2, double lon2);

/* A point `dist_m` from (lat, lon) on bearing `bearing_deg`. */
void life_offset(double lat, double lon, double dist_m, double bearing_deg, double *olat,
                 double *olon);

#endif
