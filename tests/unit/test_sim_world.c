/*
 * test_sim_world — a simulated day of the sample dealership
 * (../shared/data: 450 vehicles, the appointments of 2026-11-23) run
 * in-process through firmware-sim/world.c:
 *   - every telemetry object and batch it emits is accepted by the
 *     gateway's decoder at its own time, seq strictly increases per vehicle;
 *   - daily distances are plausible (median and spread printed);
 *   - each car with an appointment enters the geofence within +-15 min of
 *     it, read by the camera; no other car is read;
 *   - drive-pasts happen and never enter the geofence;
 *   - the output depends on the seed, not on how time is sliced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "decode.h"
#include "fleet.h"
#include "pw.h"
#include "telem.h"
#include "world.h"

#define TZ_S   28800
#define DAY_MS 86400000LL

struct fixture {
	struct fleet_vehicle *fleet;
	int n;
	const char **vins, **plates;
	struct world_appointment *appts;
	int n_appts;
	struct life_site site;
	int64_t day_start; /* 2026-11-23T00:00+08:00 */
};

struct collect {
	struct fixture *fx;
	int64_t *next_seq;
	int64_t *plate_ms; /* first plate read per vehicle, 0 none */
	uint64_t *vhash;   /* per vehicle: vehicles are independent, so is their order */
	uint64_t hash;
	long telemetry, batches, objects_in_batches, plates, online, offline;
	int rejected;
	char buf[PW_PAYLOAD_MAX];
};

static struct decode_batch batch;

static const char *shared_path(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("PW_SHARED_DIR");

	snprintf(buf, len, "%s/data/%s", dir ? dir : PW_SOURCE_DIR "/../shared", name);
	return buf;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char path[1024], id[64];
	int i, skipped;

	assert_non_null(fx);
	assert_int_equal(
	    fleet_load_csv(shared_path("vehicles.csv", path, sizeof(path)), &fx->fleet, &fx->n), 0);
	assert_int_equal(fleet_load_site(shared_path("site.json", path, sizeof(path)), &fx->site,
	                                 id, sizeof(id), NULL, 0),
	                 0);
	assert_int_equal(
	    fleet_load_appointments(shared_path("appointments.csv", path, sizeof(path)), fx->fleet,
	                            fx->n, TZ_S, &fx->appts, &fx->n_appts, &skipped),
	    0);
	assert_int_equal(fx->n_appts, 50);
	fx->vins = calloc((size_t)fx->n, sizeof(char *));
	fx->plates = calloc((size_t)fx->n, sizeof(char *));
	for (i = 0; i < fx->n; i++) {
		fx->vins[i] = fx->fleet[i].vin;
		fx->plates[i] = fx->fleet[i].plate;
	}
	assert_int_equal(clock_parse_iso8601("2026-11-23T00:00:00+08:00", &fx->day_start), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	free(fx->vins);
	free(fx->plates);
	free(fx->appts);
	free(fx->fleet);
	free(fx);
	return 0;
}

static void options(struct fixture *fx, struct world_options *o, uint64_t seed)
{
	memset(o, 0, sizeof(*o));
	o->site = fx->site;
	o->tz_offset_s = TZ_S;
	o->seed = seed;
	o->vehicles = fx->n;
	o->vins = fx->vins;
	o->plates = fx->plates;
	o->appointments = fx->appts;
	o->n_appointments = fx->n_appts;
	o->misread_p = 0.04;
	o->full = 1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static void check_object(struct collect *c, const struct pw_telemetry *t, int vehicle)
{
	assert_string_equal(t->vin, c->fx->vins[vehicle]);
	if (t->seq != c->next_seq[vehicle])
		fail_msg("%s: seq %lld, expected %lld", t->vin, (long long)t->seq,
		         (long long)c->next_seq[vehicle]);
	c->next_seq[vehicle] = t->seq + 1;
}

static void on_event(void *ctx, const struct world_event *ev)
{
	struct collect *c = ctx;
	size_t len = 0;
	int i, used;

	uint64_t *h = &c->vhash[ev->vehicle];

	*h = fnv(*h, &ev->kind, sizeof(ev->kind));
	*h = fnv(*h, &ev->ts_ms, sizeof(ev->ts_ms));
	switch (ev->kind) {
	case WORLD_TELEMETRY:
		c->telemetry++;
		check_object(c, ev->t, ev->vehicle);
		assert_int_equal(telem_format(ev->t, c->buf, sizeof(c->buf), &len), 0);
		break;
	case WORLD_BATCH:
		c->batches++;
		c->objects_in_batches += ev->n;
		for (i = 0; i < ev->n; i++)
			check_object(c, &ev->t[i], ev->vehicle);
		/* what the runner does: as many as fit in 16 KiB; check the first */
		assert_int_equal(
		    telem_format_batch_fit(ev->t, ev->n, c->buf, PW_PAYLOAD_MAX, &len, &used), 0);
		break;
	case WORLD_PLATE:
		c->plates++;
		if (!c->plate_ms[ev->vehicle])
			c->plate_ms[ev->vehicle] = ev->ts_ms;
		*h = fnv(*h, ev->plate, strlen(ev->plate));
		assert_true(ev->confidence > 0.0 && ev->confidence < 1.0);
		return;
	case WORLD_ONLINE:
		c->online++;
		return;
	case WORLD_OFFLINE:
		c->offline++;
		return;
	}
	*h = fnv(*h, c->buf, len);
	assert_int_equal(decode_telemetry(c->fx->vins[ev->vehicle], c->buf, len, ev->ts_ms, &batch),
	                 0);
	for (i = 0; i < batch.count; i++)
		if (batch.items[i].reason != PW_REJ_NONE) {
			c->rejected++;
			fail_msg("rejected: %s", batch.items[i].detail);
		}
}

static struct collect *run_day(struct fixture *fx, uint64_t seed, int64_t slice_ms, double *km_out)
{
	struct world_options o;
	struct world *w;
	struct collect *c = calloc(1, sizeof(*c));
	double *odo0 = calloc((size_t)fx->n, sizeof(double));
	int64_t t;
	int i;

	assert_non_null(c);
	c->fx = fx;
	c->next_seq = calloc((size_t)fx->n, sizeof(int64_t));
	c->plate_ms = calloc((size_t)fx->n, sizeof(int64_t));
	c->hash = 0xcbf29ce484222325ULL;
	c->vhash = calloc((size_t)fx->n, sizeof(uint64_t));
	for (i = 0; i < fx->n; i++)
		c->vhash[i] = 0xcbf29ce484222325ULL;
	options(fx, &o, seed);
	w = world_new(&o, fx->day_start);
	assert_non_null(w);
	for (i = 0; i < fx->n; i++)
		odo0[i] = world_car(w, i)->odometer_km;
	for (t = fx->day_start; t < fx->day_start + DAY_MS; t += slice_ms)
		world_advance(w, t + slice_ms, on_event, c);
	for (i = 0; i < fx->n; i++)
		c->hash = fnv(c->hash, &c->vhash[i], sizeof(c->vhash[i]));
	if (km_out)
		for (i = 0; i < fx->n; i++)
			km_out[i] = world_car(w, i)->odometer_km - odo0[i];
	world_free(w);
	free(odo0);
	return c;
}

static void free_collect(struct collect *c)
{
	free(c->next_seq);
	free(c->plate_ms);
	free(c->vhash);
	free(c);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The first appointment of its car that day (a few cars are booked twice;
 * the simulator brings a car in once a day). */
static int first_of_day(const struct fixture *fx, int k)
{
	int j;

	for (j = 0; j < fx->n_appts; j++)
		if (j != k && fx->appts[j].vehicle == fx->appts[k].vehicle &&
		    fx->appts[j].start_ms < fx->appts[k].start_ms &&
		    fx->appts[j].start_ms >= fx->day_start)
			return 0;
	return 1;
}

static void test_day_of_the_sample_fleet(void **state)
{
	struct fixture *fx = *state;
	double *km = calloc((size_t)fx->n, sizeof(double));
	double sorted_km[1024];
	struct collect *c = run_day(fx, 1, 60000, km);
	int i, k, in_range = 0, driven = 0, on_time = 0, expected = 0;

	/* every object accepted (checked in on_event), devices behaved */
	assert_int_equal(c->rejected, 0);
	assert_true(c->telemetry > 450 * 48);
	assert_true(c->batches > 20 && c->online > 20 && c->offline > 20);

	memcpy(sorted_km, km, (size_t)fx->n * sizeof(double));
	qsort(sorted_km, (size_t)fx->n, sizeof(double), cmp_double);
	for (i = 0; i < fx->n; i++) {
		in_range += km[i] >= 20.0 && km[i] <= 80.0;
		driven += km[i] > 0.5;
	}
	print_message("daily km (Monday 2026-11-23, %d cars): p10 %.1f, p25 %.1f, median %.1f, "
	              "p75 %.1f, p90 %.1f, max %.1f; %d%% within 20-80 km, %d%% drove\n",
	              fx->n, sorted_km[fx->n / 10], sorted_km[fx->n / 4], sorted_km[fx->n / 2],
	              sorted_km[fx->n * 3 / 4], sorted_km[fx->n * 9 / 10], sorted_km[fx->n - 1],
	              in_range * 100 / fx->n, driven * 100 / fx->n);
	assert_true(sorted_km[fx->n / 2] >= 20.0 && sorted_km[fx->n / 2] <= 80.0);
	assert_true(in_range * 100 / fx->n >= 50);
	assert_true(sorted_km[fx->n - 1] < 400.0);

	/* appointments of the day: into the geofence within +-15 min, read */
	for (k = 0; k < fx->n_appts; k++) {
		const struct world_appointment *a = &fx->appts[k];
		int64_t d;

		if (a->start_ms >= fx->day_start + DAY_MS || !first_of_day(fx, k))
			continue;
		expected++;
		d = c->plate_ms[a->vehicle] - a->start_ms;
		if (getenv("PW_SIM_VERBOSE"))
			print_message("%s appt %lld plate %+.1f min\n", fx->vins[a->vehicle],
			              (long long)a->start_ms, (double)d / 60000.0);
		on_time += c->plate_ms[a->vehicle] && d >= -16 * 60000LL && d <= 16 * 60000LL;
	}
	print_message("appointments today: %d, camera read within +-15 min: %d; plate reads %ld\n",
	              expected, on_time, c->plates);
	assert_int_equal(expected, 27); /* 30 appointments, 3 cars booked twice */
	assert_true(on_time >= expected * 9 / 10);
	for (i = 0; i < fx->n; i++) {
		int has_appt = 0;

		for (k = 0; k < fx->n_appts; k++)
			has_appt |= fx->appts[k].vehicle == i &&
			            fx->appts[k].start_ms < fx->day_start + DAY_MS;
		if (!has_appt && c->plate_ms[i])
			fail_msg("%s entered the site without an appointment", fx->vins[i]);
	}
	free_collect(c);
	free(km);
}

static void test_same_seed_same_day_any_slicing(void **state)
{
	struct fixture *fx = *state;
	struct collect *a = run_day(fx, 5, 1000, NULL), *b = run_day(fx, 5, 3600000, NULL),
	               *c = run_day(fx, 6, 60000, NULL);

	assert_true(a->hash == b->hash);
	assert_int_equal(a->telemetry, b->telemetry);
	assert_true(a->hash != c->hash);
	free_collect(a);
	free_collect(b);
	free_collect(c);
}

static void test_local_calendar(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(clock_parse_iso8601("2026-11-23T23:59:00+08:00", &ms), 0);
	assert_int_equal(world_weekday(ms, TZ_S), 0); /* Monday */
	assert_int_equal(clock_parse_iso8601("2026-11-23T00:30:00+08:00", &ms), 0);
	assert_int_equal(world_weekday(ms, TZ_S), 0);
	assert_int_equal(clock_parse_iso8601("2026-11-29T12:00:00+08:00", &ms), 0);
	assert_int_equal(world_weekday(ms, TZ_S), 6);
	assert_int_equal(world_local_midnight(ms, TZ_S) % 1000, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_local_calendar),
	    cmocka_unit_test(test_day_of_the_sample_fleet),
	    cmocka_unit_test(test_same_seed_same_day_any_slicing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
