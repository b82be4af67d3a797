/*
 * load — load mode. See load.h for the promises.
 *
 * The loop: pick vehicle i % V, advance its car (a 10 s driving step, or 30
 * min parked), snapshot it into a struct pw_telemetry, let the fault
 * injector act, render JSON, hand it to pub (which blocks when the window
 * is full), pace to --rate. Delayed copies (dup, reorder) wait in a small
 * holding list counted in messages. Per-vehicle acknowledgement counters
 * feed the manifest: "vin,count,max_seq" of the valid objects the broker
 * acknowledged, which an exactly-once test compares with the database.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "car.h"
#include "load.h"
#include "log.h"
#include "pub.h"
#include "pw.h"
#include "rng.h"
#include "seqstore.h"
#include "telem.h"

#define TOPIC_MAX      96
#define HOLD_MAX       256
#define TAG_INVALID    (1ULL << 63)
#define TAG_IDX_SHIFT  40
#define TAG_SEQ_MASK   ((1ULL << TAG_IDX_SHIFT) - 1)
#define MAX_VEHICLES   ((1 << 23) - 1)
#define TS_LEAD_MAX_MS 1000 /* ts runs ahead of the clock by at most this to keep increasing */

struct load_car {
	struct car car;
	struct rng rng;
	double dest_lat, dest_lon;
	int64_t next_seq;
	int64_t last_ts;
	int road;
	int road_left;  /* messages left on this road class */
	int phase_left; /* messages left driving (> 0) or parked (< 0) */
	/* Written on Paho's thread only, read after pub_wait. */
	int64_t acked;
	int64_t acked_max_seq;
};

struct held {
	int countdown;
	int vehicle;
	uint64_t tag;
	size_t len;
	char payload[PW_PAYLOAD_MAX];
};

struct load {
	const struct load_options *o;
	struct load_car *cars;
	struct pub *pub;
	struct held *hold;
	int n_held;
	uint64_t bytes;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Paho thread: one writer per counter. */
static void on_done(void *ctx, uint64_t tag, int ok)
{
	struct load *l = ctx;
	struct load_car *c;
	int64_t seq;

	if (!ok || (tag & TAG_INVALID))
		return;
	c = &l->cars[(tag & ~TAG_INVALID) >> TAG_IDX_SHIFT];
	seq = (int64_t)(tag & TAG_SEQ_MASK);
	c->acked++;
	if (seq > c->acked_max_seq)
		c->acked_max_seq = seq;
}

static void random_point(struct rng *r, double lat, double lon, double radius_km, double *olat,
                         double *olon)
{
	double d = radius_km * sqrt(rng_uniform(r)), a = rng_range(r, 0, 2 * M_PI);

	*olat = lat + d * cos(a) / 111.32;
	*olon = lon + d * sin(a) / (111.32 * cos(lat * M_PI / 180.0));
}

static void init_cars(struct load *l, const struct seqstore_entry *st, int n_st)
{
	const struct load_options *o = l->o;
	int i;

	for (i = 0; i < o->vehicles; i++) {
		struct load_car *c = &l->cars[i];
		double lat, lon;
		int64_t seq = seqstore_find(st, n_st, o->vins[i]);

		rng_seed_stream(&c->rng, o->seed, (uint64_t)i);
		random_point(&c->rng, o->site_lat, o->site_lon, 15.0, &lat, &lon);
		car_init(&c->car, &c->rng, lat, lon);
		random_point(&c->rng, o->site_lat, o->site_lon, 15.0, &c->dest_lat, &c->dest_lon);
		c->next_seq = seq > 0 ? seq : 0;
		c->last_ts = INT64_MIN;
		c->acked_max_seq = -1;
		c->phase_left = rng_chance(&c->rng, 0.5) ? 1 + (int)rng_below(&c->rng, 120)
		                                         : -1 - (int)rng_below(&c->rng, 8);
	}
}

/* Advances one car by one message's worth of life. */
static void step_car(struct load_car *c)
{
	struct rng *r = &c->rng;

	if (c->phase_left == 0)
		c->phase_left = c->car.ignition == PW_IGN_ON ? -1 - (int)rng_below(r, 16)
		                                             : 20 + (int)rng_below(r, 160);
	if (c->phase_left < 0) {
		c->phase_left++;
		car_park(&c->car, r, 1800.0, 12.0);
		return;
	}
	c->phase_left--;
	if (c->road_left <= 0) {
		double u = rng_uniform(r);

		c->road = u < 0.25 ? CAR_ROAD_CONGESTION
		                   : (u < 0.8 ? CAR_ROAD_ARTERIAL : CAR_ROAD_HIGHWAY);
		c->road_left = 6 + (int)rng_below(r, 54);
	}
	c->road_left--;
	if (car_distance_m(c->car.lat, c->car.lon, c->dest_lat, c->dest_lon) < 300.0)
		random_point(r, c->dest_lat, c->dest_lon, 15.0, &c->dest_lat, &c->dest_lon);
	car_drive(&c->car, r, (enum car_road)c->road, 10.0, 12.0, c->dest_lat, c->dest_lon);
}

static int send_payload(struct load *l, int vehicle, const char *payload, size_t len, uint64_t tag)
{
	char topic[TOPIC_MAX];

	snprintf(topic, sizeof(topic), "pitwall/v1/vehicles/%s/telemetry", l->o->vins[vehicle]);
	l->bytes += len;
	return pub_send(l->pub, topic, payload, len, l->o->qos, 0, tag);
}

/* Counts every held copy down by one message and sends those due. */
static int release_held(struct load *l, int all)
{
	int i = 0, rc = PW_OK;

	while (i < l->n_held) {
		struct held *h = &l->hold[i];

		if (all || --h->countdown <= 0) {
			rc = send_payload(l, h->vehicle, h->payload, h->len, h->tag);
			l->hold[i] = l->hold[--l->n_held];
			if (rc != PW_OK)
				return rc;
			continue;
		}
		i++;
	}
	return rc;
}

static void hold_copy(struct load *l, int vehicle, const char *payload, size_t len, uint64_t tag,
                      int delay)
{
	struct held *h;

	if (l->n_held >= HOLD_MAX) {
		release_held(l, 1);
	}
	h = &l->hold[l->n_held++];
	h->countdown = delay;
	h->vehicle = vehicle;
	h->tag = tag;
	h->len = len;
	memcpy(h->payload, payload, len);
}

static int64_t next_ts(struct load_car *c, int64_t now)
{
	int64_t ts = now;

	if (c->last_ts != INT64_MIN && ts <= c->last_ts)
		ts = c->last_ts + 1 <= now + TS_LEAD_MAX_MS ? c->last_ts + 1 : c->last_ts;
	c->last_ts = ts;
	return ts;
}

static int publish_one(struct load *l, int v, struct rng *frng, struct faults_report *rep,
                       char *buf, struct pw_telemetry *t)
{
	const struct load_options *o = l->o;
	struct load_car *c = &l->cars[v];
	enum faults_kind kind = FAULT_NONE;
	uint64_t tag;
	size_t len;
	int rc, delay;

	step_car(c);
	car_snapshot(&c->car, t, o->full);
	memcpy(t->vin, o->vins[v], PW_VIN_LEN + 1);
	t->seq = c->next_seq++;
	t->ts_ms = next_ts(c, clock_now_ms(o->clock));
	if (o->faults) {
		kind = faults_pick(o->faults, frng);
		if (kind == FAULT_ROLLBACK && (t->seq == 0 || !o->full || t->odometer_km < 10))
			kind = FAULT_NONE;
		if (kind == FAULT_VIN && o->vehicles < 2)
			kind = FAULT_NONE;
		faults_mutate(kind, t, frng, o->vins[(v + 1) % o->vehicles]);
		faults_count(rep, kind);
	}
	if (telem_format(t, buf, PW_PAYLOAD_MAX, &len) != PW_OK) {
		log_error("sim", "%s: telemetry object does not fit in %d bytes", t->vin,
		          PW_PAYLOAD_MAX);
		return PW_ERANGE;
	}
	if (kind == FAULT_MALFORMED)
		faults_corrupt(buf, &len, frng);
	tag = ((uint64_t)v << TAG_IDX_SHIFT) | ((uint64_t)t->seq & TAG_SEQ_MASK);
	if (kind == FAULT_SKEW || kind == FAULT_VIN || kind == FAULT_MALFORMED)
		tag |= TAG_INVALID;
	if (o->faults && kind == FAULT_NONE) {
		delay = faults_reorder_delay(o->faults, frng);
		if (delay) {
			rep->reorder++;
			hold_copy(l, v, buf, len, tag, delay);
			return PW_OK;
		}
		delay = faults_dup_delay(o->faults, frng);
		if (delay) {
			rep->dup++;
			hold_copy(l, v, buf, len, tag | TAG_INVALID, delay);
		}
	}
	rc = send_payload(l, v, buf, len, tag);
	return rc;
}

static int write_manifest(const struct load *l)
{
	const struct load_options *o = l->o;
	FILE *f = fopen(o->manifest_path, "w");
	int i;

	if (!f) {
		log_error("sim", "cannot write manifest %s: %s", o->manifest_path, strerror(errno));
		return PW_EIO;
	}
	for (i = 0; i < o->vehicles; i++)
		fprintf(f, "%s,%lld,%lld\n", o->vins[i], (long long)l->cars[i].acked,
		        (long long)l->cars[i].acked_max_seq);
	if (fclose(f) != 0) {
		log_error("sim", "cannot write manifest %s: %s", o->manifest_path, strerror(errno));
		return PW_EIO;
	}
	return PW_OK;
}

static int write_state(const struct load *l)
{
	const struct load_options *o = l->o;
	struct seqstore_entry *e = calloc((size_t)o->vehicles, sizeof(*e));
	int i, rc;

	if (!e)
		return PW_ENOMEM;
	for (i = 0; i < o->vehicles; i++) {
		memcpy(e[i].vin, o->vins[i], PW_VIN_LEN + 1);
		e[i].next_seq = l->cars[i].next_seq;
	}
	rc = seqstore_save(o->state_path, e, o->vehicles);
	free(e);
	return rc;
}

static void pace(double start, uint64_t i, double rate)
{
	double due = start + (double)i / rate, ahead = due - now_s();

	if (ahead > 0.001) {
		struct timespec ts = {(time_t)ahead, (long)((ahead - floor(ahead)) * 1e9)};

		nanosleep(&ts, NULL);
	}
}

int load_run(const struct load_options *o, struct load_result *res)
{
	struct pub_options po = {0};
	struct load l = {0};
	struct seqstore_entry *st = NULL;
	struct pw_telemetry *t = NULL;
	struct pub_stats ps;
	struct rng frng;
	char *buf = NULL;
	double t0 = 0, t_last_pub = 0, cpu0;
	uint64_t i = 0;
	int n_st = 0, rc, wait_rc;

	memset(res, 0, sizeof(*res));
	if (o->vehicles < 1 || o->vehicles > MAX_VEHICLES) {
		log_error("sim", "--vehicles must be 1..%d", MAX_VEHICLES);
		return PW_EINVAL;
	}
	l.o = o;
	if (o->state_path && (rc = seqstore_load(o->state_path, &st, &n_st)) != PW_OK)
		return rc;
	l.cars = calloc((size_t)o->vehicles, sizeof(*l.cars));
	l.hold = malloc(HOLD_MAX * sizeof(*l.hold));
	buf = malloc(PW_PAYLOAD_MAX);
	t = calloc(1, sizeof(*t));
	if (!l.cars || !l.hold || !buf || !t) {
		rc = PW_ENOMEM;
		goto out;
	}
	init_cars(&l, st, n_st);
	rng_seed_stream(&frng, o->seed, 0xfa017ULL);

	po.transport = o->transport;
	po.uri = o->uri;
	po.client_id = o->client_id;
	po.clean_session = 0; /* in-flight messages survive a broker restart */
	po.window = o->window;
	po.on_done = on_done;
	po.ctx = &l;
	po.stop = o->stop;
	l.pub = pub_new(&po);
	if (!l.pub) {
		rc = PW_EIO;
		goto out;
	}
	rc = pub_connect(l.pub, 10000);
	if (rc != PW_OK)
		goto out;

	cpu0 = cpu_s();
	t0 = now_s();
	for (i = 0; o->count < 0 || i < (uint64_t)o->count; i++) {
		if (o->stop && atomic_load(o->stop))
			break;
		if (o->rate > 0)
			pace(t0, i, o->rate);
		if (l.n_held && (rc = release_held(&l, 0)) != PW_OK)
			break;
		rc = publish_one(&l, (int)(i % (uint64_t)o->vehicles), &frng, &res->faults, buf, t);
		if (rc != PW_OK)
			break;
	}
	if (rc == PW_OK || rc == PW_EBUSY)
		rc = release_held(&l, 1);
	t_last_pub = now_s();
	wait_rc = pub_wait(l.pub, o->drain_timeout_ms);
	res->seconds = now_s() - t0;
	res->publish_seconds = t_last_pub - t0;
	res->cpu_s = cpu_s() - cpu0;
	if (rc == PW_OK && wait_rc != PW_OK) {
		log_error("sim", "%d messages still unacknowledged after %d ms",
		          pub_outstanding(l.pub), o->drain_timeout_ms);
		rc = PW_EBUSY;
	}
	pub_disconnect(l.pub, 2000);
	pub_get_stats(l.pub, &ps);
	res->published = ps.sent;
	res->acked = ps.done;
	res->failed = ps.failed;
	res->reconnects = ps.reconnects;
	res->max_in_flight = ps.max_window_used;
	res->bytes = l.bytes;
	if (rc == PW_OK && ps.failed)
		rc = PW_EBUSY;
	pub_free(l.pub); /* no callbacks after this: counters are final */
	l.pub = NULL;
	if (o->manifest_path && write_manifest(&l) != PW_OK && rc == PW_OK)
		rc = PW_EIO;
	if (o->state_path && write_state(&l) != PW_OK && rc == PW_OK)
		rc = PW_EIO;
out:
	pub_free(l.pub);
	free(t);
	free(buf);
	free(l.hold);
	free(l.cars);
	free(st);
	return rc;
}
