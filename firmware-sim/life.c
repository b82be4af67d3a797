/*
 * life — profiles and day plans. See life.h. Pure.
 *
 * Distances are straight lines between points (the car model drives
 * straight at its target with small wobbles), chosen so a weekday totals
 * 20-80 km for most commuters: home 2-25 km from the dealership, work 4-18
 * km from home, errands 1-8 km.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "car.h"
#include "life.h"

#define H_MS   3600000LL
#define MIN_MS 60000LL

void life_offset(double lat, double lon, double dist_m, double bearing_deg, double *olat,
                 double *olon)
{
	double b = bearing_deg * M_PI / 180.0;

	*olat = lat + dist_m * cos(b) / 111320.0;
	*olon = lon + dist_m * sin(b) / (111320.0 * cos(lat * M_PI / 180.0));
}

int64_t life_travel_ms(double lat1, double lon1, double lat2, double lon2)
{
	double km = car_distance_m(lat1, lon1, lat2, lon2) / 1000.0;
	double kmh = km > 25 ? 75.0 : (km > 8 ? 40.0 : 30.0);

	return (int64_t)(km / kmh * 3600000.0) + 2 * MIN_MS;
}

void life_profile_init(struct life_profile *p, struct rng *r, const struct life_site *site)
{
	double d = 2000.0 + rng_exp(r, 6000.0);

	if (d > 25000.0)
		d = rng_range(r, 15000.0, 25000.0);
	memset(p, 0, sizeof(*p));
	life_offset(site->lat, site->lon, d, rng_range(r, 0, 360), &p->home_lat, &p->home_lon);
	life_offset(p->home_lat, p->home_lon, rng_range(r, 4000.0, 18000.0), rng_range(r, 0, 360),
	            &p->work_lat, &p->work_lon);
	p->commuter = rng_chance(r, 0.75);
	p->leave_h = rng_range(r, 7.0, 8.75);
	p->back_h = rng_range(r, 17.0, 18.75);
	p->errands_per_day = p->commuter ? rng_range(r, 0.2, 0.9) : rng_range(r, 0.8, 2.5);
	p->weekend_trip_p = rng_range(r, 0.05, 0.45);
	p->highway_affinity = rng_uniform(r);
	p->garage_offline = rng_chance(r, 0.3);
}

static void no_via(struct life_trip *t)
{
	t->via1_lat = t->via1_lon = t->via2_lat = t->via2_lon = NAN;
}

static int add(struct life_trip *trips, int n, int max, int64_t depart, enum life_place to,
               double lat, double lon)
{
	if (n >= max)
		return n;
	trips[n].depart_ms = depart;
	trips[n].arrive_ms = 0;
	trips[n].to = to;
	trips[n].lat = lat;
	trips[n].lon = lon;
	no_via(&trips[n]);
	return n + 1;
}

static void errand_point(const struct life_profile *p, struct rng *r, double near_lat,
                         double near_lon, double *lat, double *lon)
{
	(void)p;
	life_offset(near_lat, near_lon, rng_range(r, 1000.0, 8000.0), rng_range(r, 0, 360), lat,
	            lon);
}

static int cmp_trip(const void *a, const void *b)
{
	const struct life_trip *x = a, *y = b;

	return x->depart_ms < y->depart_ms ? -1 : x->depart_ms > y->depart_ms;
}

/* Routes some errands past the dealership: along a road 2-3 radii from its
 * centre, never inside the geofence. */
static void maybe_drive_past(struct life_trip *t, struct rng *r, const struct life_site *site)
{
	double side = rng_range(r, 0, 360), off = site->radius_m * rng_range(r, 2.2, 3.5);
	double mid_lat, mid_lon;

	if (t->to == LIFE_SITE || !rng_chance(r, 0.08))
		return;
	life_offset(site->lat, site->lon, off, side, &mid_lat, &mid_lon);
	life_offset(mid_lat, mid_lon, 700.0, side + 90.0, &t->via1_lat, &t->via1_lon);
	life_offset(mid_lat, mid_lon, 700.0, side - 90.0, &t->via2_lat, &t->via2_lon);
}

int life_plan_day(const struct life_profile *p, struct rng *r, const struct life_site *site,
                  int64_t midnight_ms, int weekday, int64_t appointment_ms, struct life_trip *trips,
                  int max)
{
	struct life_trip tmp[LIFE_TRIPS_MAX + 4];
	int n = 0, i, k, cap = LIFE_TRIPS_MAX;
	int weekend = weekday >= 5;
	double lat, lon;
	int64_t t;

	if (p->commuter && !weekend && !rng_chance(r, 0.05)) {
		int64_t leave =
		    midnight_ms + (int64_t)((p->leave_h + rng_normal(r, 0, 0.2)) * H_MS);
		int64_t back = midnight_ms + (int64_t)((p->back_h + rng_normal(r, 0, 0.3)) * H_MS);

		n = add(tmp, n, cap, leave, LIFE_WORK, p->work_lat, p->work_lon);
		if (rng_chance(r, 0.25)) {
			t = midnight_ms + (int64_t)(rng_range(r, 11.8, 12.6) * H_MS);
			errand_point(p, r, p->work_lat, p->work_lon, &lat, &lon);
			n = add(tmp, n, cap, t, LIFE_ERRAND, lat, lon);
			n = add(tmp, n, cap, t + (int64_t)rng_range(r, 30, 60) * MIN_MS, LIFE_WORK,
			        p->work_lat, p->work_lon);
		}
		if (rng_chance(r, 0.3)) {
			errand_point(p, r, p->home_lat, p->home_lon, &lat, &lon);
			n = add(tmp, n, cap, back, LIFE_ERRAND, lat, lon);
			back += (int64_t)rng_range(r, 50, 90) * MIN_MS;
		}
		n = add(tmp, n, cap, back, LIFE_HOME, p->home_lat, p->home_lon);
		if (rng_chance(r, 0.15)) {
			t = midnight_ms + (int64_t)(rng_range(r, 19.5, 21.0) * H_MS);
			errand_point(p, r, p->home_lat, p->home_lon, &lat, &lon);
			n = add(tmp, n, cap, t, LIFE_ERRAND, lat, lon);
			n = add(tmp, n, cap, t + (int64_t)rng_range(r, 40, 90) * MIN_MS, LIFE_HOME,
			        p->home_lat, p->home_lon);
		}
	} else if (weekend && rng_chance(r, p->weekend_trip_p)) {
		t = midnight_ms + (int64_t)(rng_range(r, 8.0, 10.0) * H_MS);
		life_offset(p->home_lat, p->home_lon, rng_range(r, 40000.0, 120000.0),
		            rng_range(r, 0, 360), &lat, &lon);
		n = add(tmp, n, cap, t, LIFE_FAR, lat, lon);
		t = midnight_ms + (int64_t)(rng_range(r, 15.0, 18.0) * H_MS);
		n = add(tmp, n, cap, t, LIFE_HOME, p->home_lat, p->home_lon);
	} else {
		int errands =
		    (int)floor(p->errands_per_day * (weekend ? 1.3 : 1.0) + rng_uniform(r));

		for (i = 0; i < errands && n + 2 <= cap; i++) {
			t = midnight_ms +
			    (int64_t)(rng_range(r, 9.0 + 3.0 * i, 11.0 + 3.0 * i) * H_MS);
			errand_point(p, r, p->home_lat, p->home_lon, &lat, &lon);
			n = add(tmp, n, cap, t, LIFE_ERRAND, lat, lon);
			n = add(tmp, n, cap, t + (int64_t)rng_range(r, 30, 120) * MIN_MS, LIFE_HOME,
			        p->home_lat, p->home_lon);
		}
	}

	if (appointment_ms > 0) {
		/* Reaches the site within +-15 min of the appointment, stays 1-3 h. */
		int64_t arrive =
		    appointment_ms + (int64_t)(rng_range(r, -8.0, 8.0) * (double)MIN_MS);
		int64_t from_home = life_travel_ms(p->home_lat, p->home_lon, site->lat, site->lon);
		/* Leaves with time to spare; world.c paces the drive to `arrive`. */
		int64_t depart = arrive - from_home * 3 / 2 - 10 * MIN_MS, leave;
		double at_lat, at_lon;

		/* Drops what would overlap: the car is parked when the visit's trip
		 * starts, and the visit takes it for the slot. */
		leave = arrive + (int64_t)rng_range(r, 60, 180) * MIN_MS;
		for (i = k = 0; i < n; i++)
			if (tmp[i].depart_ms < depart - 120 * MIN_MS || tmp[i].depart_ms > leave)
				tmp[k++] = tmp[i];
		n = k;
		life_offset(site->lat, site->lon, site->radius_m * rng_range(r, 0.0, 0.4),
		            rng_range(r, 0, 360), &at_lat, &at_lon);
		n = add(tmp, n, cap + 2, depart, LIFE_SITE, at_lat, at_lon);
		tmp[n - 1].arrive_ms = arrive;
		n = add(tmp, n, cap + 2, leave, LIFE_HOME, p->home_lat, p->home_lon);
	}
	qsort(tmp, (size_t)n, sizeof(tmp[0]), cmp_trip);
	for (i = 0; i < n; i++)
		maybe_drive_past(&tmp[i], r, site);
	if (n > max)
		n = max;
	memcpy(trips, tmp, (size_t)n * sizeof(tmp[0]));
	return n;
}
