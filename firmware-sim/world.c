/*
 * world — the fleet's days. See world.h for the promises.
 *
 * Each vehicle is a small event machine on its own simulated time t:
 * parked, nothing happens between events (the next report, the next
 * departure, the next local midnight when its day is planned); driving, the
 * car advances in fixed 10 s physics steps and reports every
 * drive_interval_s. Events are taken strictly in time order per vehicle and
 * never split at `until`, so slicing time differently gives the same
 * output. Only the core of a trip is decided here (which road class, when
 * it arrives, the geofence, coverage); the physics is car.c's and the plan
 * life.c's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pw.h"
#include "world.h"

#define DAY_MS      86400000LL
#define STEP_MS     10000LL
#define BATCH_MAX   PW_BATCH_MAX
#define BUF_MAX     400 /* objects a device holds offline; the oldest go first */
#define SITE_SLOW_M 600.0
#define SITE_CALM_M 1200.0

struct wveh {
	struct car car;
	struct rng rng;
	struct life_profile prof;
	struct life_trip plan[LIFE_TRIPS_MAX];
	int n_plan, next_trip;
	int64_t day_midnight; /* the day `plan` is for */
	int64_t t_ms;
	int64_t next_park_msg_ms;
	int64_t drive_msg_due_ms;
	int64_t seq;
	int driving;
	struct life_trip cur;
	int stage; /* 0: to via1, 1: to via2, 2: to the destination */
	double trip_km;
	double origin_lat, origin_lon;
	int road;
	double road_left_km;
	int at_place;
	int in_fence;
	int offline;             /* no coverage: the device's connection is down */
	int64_t online_at_ms;    /* leaving the garage: coverage again at */
	int64_t tunnel_until_ms; /* brief loss, connection kept */
	int service_due;         /* at the dealership: repaired when leaving */
	struct pw_telemetry *buf;
	int n_buf, cap_buf;
	const int64_t *appts; /* into world.appts, sorted */
	int n_appts;
};

struct world {
	struct world_options o;
	struct wveh *v;
	struct world_appointment *appts;
	int64_t *appt_ms;
	struct pw_telemetry scratch;
	struct world_stats stats;
	int silent;
};

int64_t world_local_midnight(int64_t ms, int tz_offset_s)
{
	int64_t local = ms + (int64_t)tz_offset_s * 1000;
	int64_t day = local >= 0 ? local / DAY_MS : (local - DAY_MS + 1) / DAY_MS;

	return day * DAY_MS - (int64_t)tz_offset_s * 1000;
}

int world_weekday(int64_t ms, int tz_offset_s)
{
	int64_t day =
	    (world_local_midnight(ms, tz_offset_s) + (int64_t)tz_offset_s * 1000) / DAY_MS;

	/* 1970-01-01 was a Thursday (3 with Monday = 0). */
	return (int)(((day % 7) + 7 + 3) % 7);
}

/* Jinan in late November: about 3 °C before dawn, 13 °C mid-afternoon. */
static double ambient_c(const struct world *w, int64_t t)
{
	double h = (double)(t - world_local_midnight(t, w->o.tz_offset_s)) / 3600000.0;

	return 8.0 + 5.0 * sin(2.0 * M_PI * (h - 9.0) / 24.0);
}

static double local_hour(const struct world *w, int64_t t)
{
	return (double)(t - world_local_midnight(t, w->o.tz_offset_s)) / 3600000.0;
}

static int cmp_appt(const void *a, const void *b)
{
	const struct world_appointment *x = a, *y = b;

	if (x->vehicle != y->vehicle)
		return x->vehicle - y->vehicle;
	return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms;
}

static void emit_event(struct world *w, world_emit_fn emit, void *ctx, struct world_event *ev)
{
	if (!w->silent && emit)
		emit(ctx, ev);
}

static void flush_buffer(struct world *w, int vi, int64_t t, world_emit_fn emit, void *ctx)
{
	struct wveh *v = &w->v[vi];
	int off = 0;

	while (off < v->n_buf) {
		int n = v->n_buf - off > BATCH_MAX ? BATCH_MAX : v->n_buf - off;
		struct world_event ev = {WORLD_BATCH, vi, t, v->buf + off, n, NULL, 0, 0};

		emit_event(w, emit, ctx, &ev);
		w->stats.batches++;
		off += n;
	}
	v->n_buf = 0;
}

static void buffer_push(struct wveh *v, const struct pw_telemetry *t)
{
	if (v->n_buf == v->cap_buf) {
		int cap = v->cap_buf ? v->cap_buf * 2 : 16;
		struct pw_telemetry *nb;

		if (cap > BUF_MAX)
			cap = BUF_MAX;
		if (v->n_buf == cap) { /* full: the oldest goes */
			memmove(v->buf, v->buf + 1, (size_t)(v->n_buf - 1) * sizeof(*v->buf));
			v->n_buf--;
		} else {
			nb = realloc(v->buf, (size_t)cap * sizeof(*nb));
			if (!nb)
				return; /* out of memory: the object is lost, as on a device */
			v->buf = nb;
			v->cap_buf = cap;
		}
	}
	v->buf[v->n_buf++] = *t;
}

/* One telemetry object from vehicle vi at time t: sent, or buffered
 * without coverage. */
static void report(struct world *w, int vi, int64_t t, world_emit_fn emit, void *ctx)
{
	struct wveh *v = &w->v[vi];
	struct pw_telemetry *m = &w->scratch;

	car_snapshot(&v->car, m, w->o.full);
	if (w->silent)
		return;
	memcpy(m->vin, w->o.vins[vi], PW_VIN_LEN + 1);
	m->seq = v->seq++;
	m->ts_ms = t;
	w->stats.telemetry++;
	if (v->offline || v->tunnel_until_ms > t) {
		buffer_push(v, m);
	} else {
		struct world_event ev = {WORLD_TELEMETRY, vi, t, m, 1, NULL, 0, 0};

		if (v->n_buf) /* coverage is back: the older ones first */
			flush_buffer(w, vi, t, emit, ctx);
		emit_event(w, emit, ctx, &ev);
	}
}

static void plan_day(struct world *w, int vi, int64_t midnight)
{
	struct wveh *v = &w->v[vi];
	int64_t appt = 0;
	int i;

	for (i = 0; i < v->n_appts; i++)
		if (v->appts[i] >= midnight && v->appts[i] < midnight + DAY_MS) {
			appt = v->appts[i];
			break;
		}
	v->day_midnight = midnight;
	v->n_plan =
	    life_plan_day(&v->prof, &v->rng, &w->o.site, midnight,
	                  world_weekday(midnight, w->o.tz_offset_s), appt, v->plan, LIFE_TRIPS_MAX);
	v->next_trip = 0;
}

static const char lookalike_from[] = "0D8B17523ZCGEFMNUVQ";
static const char lookalike_to[] = "D0B87152Z2GCFENMVU0";

static void plate_read(struct world *w, int vi, int64_t t, world_emit_fn emit, void *ctx)
{
	struct wveh *v = &w->v[vi];
	const char *plate = w->o.plates ? w->o.plates[vi] : NULL;
	char text[32];
	struct world_event ev = {WORLD_PLATE, vi, t, NULL, 0, text, 0, 0};
	size_t len;

	if (!plate || !*plate || (len = strlen(plate)) >= sizeof(text))
		return;
	memcpy(text, plate, len + 1);
	if (rng_chance(&v->rng, w->o.misread_p) && len >= 5) {
		/* One of the last characters read as its look-alike. */
		size_t pos = len - 1 - rng_below(&v->rng, 4);
		const char *p = strchr(lookalike_from, text[pos]);

		if (p && text[pos] != '\0') {
			text[pos] = lookalike_to[p - lookalike_from];
		} else {
			text[pos] = text[pos] == '8' ? 'B' : '8';
		}
		ev.misread = 1;
		ev.confidence = rng_range(&v->rng, 0.55, 0.86);
		w->stats.misreads++;
	} else if (rng_chance(&v->rng, 0.06)) {
		ev.confidence = rng_range(&v->rng, 0.6, 0.8); /* glare, dirt: a weak read */
	} else {
		ev.confidence = rng_range(&v->rng, 0.82, 0.995);
	}
	w->stats.plate_reads++;
	emit_event(w, emit, ctx, &ev);
}

static void start_trip(struct world *w, int vi, world_emit_fn emit, void *ctx)
{
	struct wveh *v = &w->v[vi];
	int was_driving = v->driving;

	v->cur = v->plan[v->next_trip++];
	v->stage = isnan(v->cur.via1_lat) ? 2 : 0;
	v->origin_lat = v->car.lat;
	v->origin_lon = v->car.lon;
	v->trip_km = car_distance_m(v->car.lat, v->car.lon, v->cur.lat, v->cur.lon) / 1000.0;
	v->road_left_km = 0;
	v->driving = 1;
	if (was_driving)
		return;
	if (v->service_due) {
		car_service(&v->car, &v->rng);
		v->service_due = 0;
	}
	car_ignition(&v->car, &v->rng, 1);
	if (v->offline)
		v->online_at_ms = v->t_ms + (int64_t)rng_range(&v->rng, 60000.0, 150000.0);
	report(w, vi, v->t_ms, emit, ctx);
	v->drive_msg_due_ms = v->t_ms + (int64_t)w->o.drive_interval_s * 1000;
}

static enum car_road choose_road(struct world *w, struct wveh *v)
{
	double d_site = car_distance_m(v->car.lat, v->car.lon, w->o.site.lat, w->o.site.lon);
	double d_dest = car_distance_m(v->car.lat, v->car.lon, v->cur.lat, v->cur.lon);
	double d_orig = car_distance_m(v->car.lat, v->car.lon, v->origin_lat, v->origin_lon);
	double h = local_hour(w, v->t_ms);
	int rush = (h >= 7.0 && h < 9.5) || (h >= 17.0 && h < 19.5);

	if (v->cur.to == LIFE_SITE && d_site < SITE_SLOW_M)
		return CAR_ROAD_CONGESTION; /* into the dealership's yard */
	if (v->cur.to == LIFE_SITE && v->cur.arrive_ms > 0) {
		/* Paced to the appointment: ahead of time, the slow way (traffic,
		 * a detour); behind, the quick one. Estimate: the rest at 45 km/h
		 * and the yard at walking pace. */
		double rest_ms = (d_dest - SITE_SLOW_M) / 45000.0 * 3600000.0 + 4.0 * 60000.0;
		double slack_ms = (double)(v->cur.arrive_ms - v->t_ms) - rest_ms;

		v->road_left_km = 0;
		v->road = slack_ms > 60000.0 ? CAR_ROAD_CONGESTION : CAR_ROAD_ARTERIAL;
		return (enum car_road)v->road;
	}
	if (d_site < SITE_CALM_M)
		return CAR_ROAD_ARTERIAL; /* passing traffic never crawls by the gate */
	if (v->road_left_km > 0 && d_dest > 1000.0 && d_orig > 1000.0)
		return (enum car_road)v->road;
	v->road_left_km = rng_range(&v->rng, 1.0, 3.0);
	if (d_dest < 1000.0 || d_orig < 1000.0)
		v->road =
		    rush && rng_chance(&v->rng, 0.5) ? CAR_ROAD_CONGESTION : CAR_ROAD_ARTERIAL;
	else if (v->trip_km > 25.0 && rng_chance(&v->rng, 0.85))
		v->road = CAR_ROAD_HIGHWAY;
	else if (v->trip_km > 8.0 && rng_chance(&v->rng, 0.6 * v->prof.highway_affinity))
		v->road = CAR_ROAD_HIGHWAY;
	else if (rng_chance(&v->rng, rush ? 0.45 : 0.1))
		v->road = CAR_ROAD_CONGESTION;
	else
		v->road = CAR_ROAD_ARTERIAL;
	return (enum car_road)v->road;
}

static void arrive(struct world *w, int vi, world_emit_fn emit, void *ctx)
{
	struct wveh *v = &w->v[vi];

	v->car.lat = v->cur.lat;
	v->car.lon = v->cur.lon;
	v->car.speed_kmh = 0;
	v->driving = 0;
	v->tunnel_until_ms = 0; /* nobody parks in a tunnel */
	v->at_place = v->cur.to;
	car_ignition(&v->car, &v->rng, 0);
	report(w, vi, v->t_ms, emit, ctx);
	v->next_park_msg_ms = v->t_ms + (int64_t)w->o.park_interval_s * 1000;
	if (v->cur.to == LIFE_SITE)
		v->service_due = 1;
	if (v->cur.to == LIFE_HOME && v->prof.garage_offline && !v->offline) {
		struct world_event ev = {WORLD_OFFLINE, vi, v->t_ms, NULL, 0, NULL, 0, 0};

		v->offline = 1;
		w->stats.offline_episodes++;
		emit_event(w, emit, ctx, &ev);
	}
}

static void drive_step(struct world *w, int vi, world_emit_fn emit, void *ctx)
{
	struct wveh *v = &w->v[vi];
	double tlat, tlon, d, step_m, d_site;
	enum car_road road;

	if (v->stage == 0) {
		tlat = v->cur.via1_lat;
		tlon = v->cur.via1_lon;
	} else if (v->stage == 1) {
		tlat = v->cur.via2_lat;
		tlon = v->cur.via2_lon;
	} else {
		tlat = v->cur.lat;
		tlon = v->cur.lon;
	}
	road = choose_road(w, v);
	car_drive(&v->car, &v->rng, road, (double)STEP_MS / 1000.0, ambient_c(w, v->t_ms), tlat,
	          tlon);
	v->t_ms += STEP_MS;
	v->road_left_km -= v->car.speed_kmh * (double)STEP_MS / 3600000.0;

	if (road == CAR_ROAD_HIGHWAY && v->tunnel_until_ms <= v->t_ms && rng_chance(&v->rng, 0.004))
		v->tunnel_until_ms = v->t_ms + (int64_t)rng_range(&v->rng, 40000.0, 180000.0);
	if (v->offline && v->t_ms >= v->online_at_ms) {
		struct world_event ev = {WORLD_ONLINE, vi, v->t_ms, NULL, 0, NULL, 0, 0};

		v->offline = 0;
		emit_event(w, emit, ctx, &ev);
		flush_buffer(w, vi, v->t_ms, emit, ctx);
	} else if (!v->offline && v->n_buf && v->tunnel_until_ms <= v->t_ms) {
		flush_buffer(w, vi, v->t_ms, emit, ctx);
	}

	d_site = car_distance_m(v->car.lat, v->car.lon, w->o.site.lat, w->o.site.lon);
	if (!v->in_fence && d_site <= w->o.site.radius_m) {
		v->in_fence = 1;
		if (v->cur.to == LIFE_SITE) {
			w->stats.site_visits++;
			plate_read(w, vi, v->t_ms, emit, ctx);
		}
	} else if (v->in_fence && d_site > w->o.site.radius_m + 30.0) {
		v->in_fence = 0;
	}

	d = car_distance_m(v->car.lat, v->car.lon, tlat, tlon);
	step_m = v->car.speed_kmh * (double)STEP_MS / 3600.0;
	if (d < (step_m > 30.0 ? step_m : 30.0)) {
		if (v->stage < 2) {
			if (++v->stage == 2)
				w->stats.drive_pasts++;
		} else {
			arrive(w, vi, emit, ctx);
			return;
		}
	}
	if (v->t_ms >= v->drive_msg_due_ms) {
		report(w, vi, v->t_ms, emit, ctx);
		v->drive_msg_due_ms += (int64_t)w->o.drive_interval_s * 1000;
	}
}

static int64_t parked_next(const struct wveh *v)
{
	int64_t next = v->next_park_msg_ms, mid = v->day_midnight + DAY_MS;

	if (v->next_trip < v->n_plan && v->plan[v->next_trip].depart_ms < next)
		next = v->plan[v->next_trip].depart_ms;
	if (mid < next)
		next = mid;
	return next < v->t_ms ? v->t_ms : next;
}

/* Leaving for an appointment from closer than planned (work, an errand):
 * the driver waits rather than arrives an hour early. */
static int postpone_for_appointment(const struct world *w, struct wveh *v)
{
	struct life_trip *t = &v->plan[v->next_trip];
	double d = car_distance_m(v->car.lat, v->car.lon, w->o.site.lat, w->o.site.lon);
	int64_t est = (int64_t)(d / 45000.0 * 3600000.0) + 8 * 60000;

	if (t->to != LIFE_SITE || t->arrive_ms <= 0 || t->arrive_ms - v->t_ms <= est + 5 * 60000)
		return 0;
	t->depart_ms = t->arrive_ms - est;
	return 1;
}

static void run_vehicle(struct world *w, int vi, int64_t until, world_emit_fn emit, void *ctx)
{
	struct wveh *v = &w->v[vi];

	for (;;) {
		int64_t next;

		if (v->driving) {
			if (v->t_ms + STEP_MS > until)
				return;
			if (v->next_trip < v->n_plan && v->plan[v->next_trip].depart_ms <= v->t_ms)
				start_trip(w, vi, emit, ctx); /* running late: straight on */
			drive_step(w, vi, emit, ctx);
			continue;
		}
		next = parked_next(v);
		if (next > until)
			return;
		if (next > v->t_ms) {
			car_park(&v->car, &v->rng, (double)(next - v->t_ms) / 1000.0,
			         ambient_c(w, next));
			v->t_ms = next;
		}
		if (v->t_ms >= v->day_midnight + DAY_MS) {
			plan_day(w, vi, v->day_midnight + DAY_MS);
		} else if (v->next_trip < v->n_plan && v->plan[v->next_trip].depart_ms <= v->t_ms) {
			if (postpone_for_appointment(w, v))
				continue;
			start_trip(w, vi, emit, ctx);
		} else {
			report(w, vi, v->t_ms, emit, ctx);
			v->next_park_msg_ms += (int64_t)w->o.park_interval_s * 1000;
		}
	}
}

struct world *world_new(const struct world_options *o, int64_t start_ms)
{
	struct world *w = calloc(1, sizeof(*w));
	int64_t midnight;
	int i, k;

	if (!w)
		return NULL;
	w->o = *o;
	if (w->o.drive_interval_s <= 0)
		w->o.drive_interval_s = 10;
	if (w->o.park_interval_s <= 0)
		w->o.park_interval_s = 1800;
	if (w->o.misread_p < 0)
		w->o.misread_p = 0;
	w->v = calloc((size_t)o->vehicles, sizeof(*w->v));
	w->appts = calloc((size_t)(o->n_appointments + 1), sizeof(*w->appts));
	w->appt_ms = calloc((size_t)(o->n_appointments + 1), sizeof(*w->appt_ms));
	if (!w->v || !w->appts || !w->appt_ms) {
		world_free(w);
		return NULL;
	}
	if (o->n_appointments > 0)
		memcpy(w->appts, o->appointments, (size_t)o->n_appointments * sizeof(*w->appts));
	qsort(w->appts, (size_t)o->n_appointments, sizeof(*w->appts), cmp_appt);
	for (k = 0; k < o->n_appointments; k++)
		w->appt_ms[k] = w->appts[k].start_ms;

	midnight = world_local_midnight(start_ms, o->tz_offset_s);
	w->silent = 1;
	for (i = 0, k = 0; i < o->vehicles; i++) {
		struct wveh *v = &w->v[i];

		while (k < o->n_appointments && w->appts[k].vehicle < i)
			k++;
		v->appts = &w->appt_ms[k];
		while (k < o->n_appointments && w->appts[k].vehicle == i) {
			k++;
			v->n_appts++;
		}
		rng_seed_stream(&v->rng, o->seed, (uint64_t)i);
		life_profile_init(&v->prof, &v->rng, &o->site);
		car_init(&v->car, &v->rng, v->prof.home_lat, v->prof.home_lon);
		v->seq = o->first_seq && o->first_seq[i] > 0 ? o->first_seq[i] : 0;
		v->at_place = LIFE_HOME;
		v->offline = v->prof.garage_offline;
		v->t_ms = midnight;
		v->next_park_msg_ms = INT64_MAX;
		plan_day(w, i, midnight);
		run_vehicle(w, i, start_ms, NULL, NULL);
		/* Reports resume at start, spread over one interval. */
		v->next_park_msg_ms =
		    start_ms + (int64_t)rng_below(&v->rng, (uint32_t)w->o.park_interval_s) * 1000;
		if (v->driving)
			v->drive_msg_due_ms = v->t_ms + (int64_t)w->o.drive_interval_s * 1000;
	}
	w->silent = 0;
	return w;
}

void world_free(struct world *w)
{
	int i;

	if (!w)
		return;
	if (w->v)
		for (i = 0; i < w->o.vehicles; i++)
			free(w->v[i].buf);
	free(w->v);
	free(w->appts);
	free(w->appt_ms);
	free(w);
}

void world_advance(struct world *w, int64_t until_ms, world_emit_fn emit, void *ctx)
{
	int i;

	for (i = 0; i < w->o.vehicles; i++)
		run_vehicle(w, i, until_ms, emit, ctx);
}

int64_t world_next_event_ms(const struct world *w)
{
	int64_t best = INT64_MAX;
	int i;

	for (i = 0; i < w->o.vehicles; i++) {
		const struct wveh *v = &w->v[i];
		int64_t n = v->driving ? v->t_ms + STEP_MS : parked_next(v);

		if (n < best)
			best = n;
	}
	return best;
}

const struct car *world_car(const struct world *w, int vehicle)
{
	return &w->v[vehicle].car;
}

int world_is_online(const struct world *w, int vehicle)
{
	return !w->v[vehicle].offline;
}

int64_t world_next_seq(const struct world *w, int vehicle)
{
	return w->v[vehicle].seq;
}

void world_get_stats(const struct world *w, struct world_stats *s)
{
	*s = w->stats;
}
