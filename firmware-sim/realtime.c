/*
 * realtime — the fleet on a broker in (virtual) real time. See realtime.h.
 *
 * The loop: read the clock, let the world catch up to it (world_advance
 * calls on_event for every object, batch, coverage change and plate read),
 * write what the touched connections queued, sleep until the world's next
 * event or 100 ms real. Tags on published messages say which vehicle, how
 * many objects and the highest seq, so acknowledgements feed the manifest
 * like load mode's. Faults apply to single objects as in load mode (a
 * reordered object waits for its vehicle's next one; a duplicate follows
 * its original).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pw.h"
#include "realtime.h"
#include "rng.h"
#include "seqstore.h"
#include "telem.h"

#define DEV_WINDOW   32
#define TOPIC_MAX    128
#define TAG_INVALID  (1ULL << 63)
#define TAG_V_SHIFT  40
#define TAG_N_SHIFT  33
#define TAG_SEQ_MASK ((1ULL << TAG_N_SHIFT) - 1)

struct dev {
	struct pub *pub; /* NULL in shared mode */
	int dirty;
	int online;
	int64_t acked; /* objects, written by the completing thread only */
	int64_t acked_max_seq;
	char *held; /* a reordered object waiting for the next one */
	size_t held_len;
	uint64_t held_tag;
};

struct rt {
	const struct realtime_options *o;
	struct realtime_result *res;
	struct world *w;
	struct dev *dev;
	struct pub *shared;
	struct pub *camera;
	int *dirty;
	int n_dirty;
	int camera_dirty;
	char *buf;
	struct rng frng;
};

static uint64_t make_tag(int vehicle, int count, int64_t max_seq, int invalid)
{
	return (invalid ? TAG_INVALID : 0) | ((uint64_t)vehicle << TAG_V_SHIFT) |
	       ((uint64_t)(count - 1) << TAG_N_SHIFT) | ((uint64_t)max_seq & TAG_SEQ_MASK);
}

/* The completing thread: raw on the main thread, Paho on its own one. */
static void on_done(void *ctx, uint64_t tag, int ok)
{
	struct rt *rt = ctx;
	struct dev *d;
	int64_t seq;

	if (tag == UINT64_MAX) /* status and plate messages */
		return;
	if (!ok || (tag & TAG_INVALID))
		return;
	d = &rt->dev[(tag & ~TAG_INVALID) >> TAG_V_SHIFT];
	seq = (int64_t)(tag & TAG_SEQ_MASK);
	d->acked += (int64_t)((tag >> TAG_N_SHIFT) & 0x7f) + 1;
	if (seq > d->acked_max_seq)
		d->acked_max_seq = seq;
}

static void mark_dirty(struct rt *rt, int v)
{
	if (rt->o->shared_connection) {
		v = 0;
		if (rt->dev[0].dirty)
			return;
	}
	if (!rt->dev[v].dirty) {
		rt->dev[v].dirty = 1;
		rt->dirty[rt->n_dirty++] = v;
	}
}

static struct pub *dev_pub(struct rt *rt, int v)
{
	return rt->o->shared_connection ? rt->shared : rt->dev[v].pub;
}

static const char *vin_of(struct rt *rt, int v)
{
	return rt->o->world.vins[v];
}

static int publish(struct rt *rt, int v, const char *kind, const void *payload, size_t len,
                   int retained, uint64_t tag)
{
	char topic[TOPIC_MAX];
	struct pub *p = dev_pub(rt, v);
	int rc;

	if (!p)
		return PW_EIO;
	snprintf(topic, sizeof(topic), "pitwall/v1/vehicles/%s/%s", vin_of(rt, v), kind);
	rc = pub_send(p, topic, payload, len, rt->o->qos, retained, tag);
	if (rc == PW_OK) {
		rt->res->messages++;
		mark_dirty(rt, v);
	}
	return rc;
}

static void publish_status(struct rt *rt, int v, int online, int64_t ts)
{
	char buf[96];
	size_t len;

	if (rt->o->shared_connection)
		return;
	telem_format_status(online, ts, buf, sizeof(buf), &len);
	if (publish(rt, v, "status", buf, len, 1, UINT64_MAX) == PW_OK)
		rt->res->status_msgs++;
}

static int connect_device(struct rt *rt, int v, int64_t ts)
{
	const struct realtime_options *o = rt->o;
	struct dev *d = &rt->dev[v];
	char will[96], topic[TOPIC_MAX], client_id[64];
	size_t len;

	telem_format_status(0, ts, will, sizeof(will) - 1, &len);
	will[len] = '\0';
	if (!d->pub) {
		struct pub_options po = {0};

		snprintf(topic, sizeof(topic), "pitwall/v1/vehicles/%s/status", vin_of(rt, v));
		snprintf(client_id, sizeof(client_id), "pwsim-%s", vin_of(rt, v));
		po.transport = o->transport;
		po.uri = o->uri;
		po.client_id = client_id;
		po.clean_session = 0;
		po.window = DEV_WINDOW;
		po.keepalive_s = 0;
		po.will_topic = topic;
		po.will_payload = will;
		po.will_qos = 1;
		po.will_retained = 1;
		po.on_done = on_done;
		po.ctx = rt;
		po.stop = o->stop;
		d->pub = pub_new(&po);
		if (!d->pub)
			return PW_EIO;
	} else {
		pub_set_will_payload(d->pub, will);
	}
	if (pub_connect(d->pub, 5000) != PW_OK)
		return PW_EIO;
	d->online = 1;
	publish_status(rt, v, 1, ts);
	return PW_OK;
}

static void send_object(struct rt *rt, int v, const struct pw_telemetry *src, int64_t ts)
{
	const struct realtime_options *o = rt->o;
	struct dev *d = &rt->dev[v];
	struct pw_telemetry t = *src;
	enum faults_kind kind = FAULT_NONE;
	uint64_t tag;
	size_t len;
	int delay;

	(void)ts;
	if (o->faults) {
		kind = faults_pick(o->faults, &rt->frng);
		if (kind == FAULT_ROLLBACK && (t.seq == 0 || !(t.has & PW_F_ODOMETER)))
			kind = FAULT_NONE;
		if (kind == FAULT_VIN && o->world.vehicles < 2)
			kind = FAULT_NONE;
		faults_mutate(kind, &t, &rt->frng, vin_of(rt, (v + 1) % o->world.vehicles));
		faults_count(&rt->res->faults, kind);
	}
	if (telem_format(&t, rt->buf, PW_PAYLOAD_MAX, &len) != PW_OK)
		return;
	if (kind == FAULT_MALFORMED)
		faults_corrupt(rt->buf, &len, &rt->frng);
	tag = make_tag(v, 1, t.seq,
	               kind == FAULT_SKEW || kind == FAULT_VIN || kind == FAULT_MALFORMED);
	if (o->faults && kind == FAULT_NONE && !d->held &&
	    (delay = faults_reorder_delay(o->faults, &rt->frng)) != 0) {
		d->held = malloc(len);
		if (d->held) {
			memcpy(d->held, rt->buf, len);
			d->held_len = len;
			d->held_tag = tag;
			rt->res->faults.reorder++;
			return;
		}
	}
	if (publish(rt, v, "telemetry", rt->buf, len, 0, tag) == PW_OK)
		rt->res->objects++;
	if (d->held) { /* after a newer one: out of order */
		if (publish(rt, v, "telemetry", d->held, d->held_len, 0, d->held_tag) == PW_OK)
			rt->res->objects++;
		free(d->held);
		d->held = NULL;
	}
	if (o->faults && kind == FAULT_NONE && faults_dup_delay(o->faults, &rt->frng)) {
		rt->res->faults.dup++;
		publish(rt, v, "telemetry", rt->buf, len, 0, tag | TAG_INVALID);
	}
}

static void send_batch(struct rt *rt, int v, const struct pw_telemetry *t, int n)
{
	int done = 0, used;
	size_t len;

	while (done < n) {
		if (telem_format_batch_fit(t + done, n - done, rt->buf, PW_PAYLOAD_MAX, &len,
		                           &used) != PW_OK)
			return;
		if (publish(rt, v, "telemetry", rt->buf, len, 0,
		            make_tag(v, used, t[done + used - 1].seq, 0)) == PW_OK)
			rt->res->objects += (uint64_t)used;
		done += used;
	}
}

static void send_plate(struct rt *rt, const struct world_event *ev)
{
	char topic[TOPIC_MAX];
	size_t len;

	if (!rt->camera)
		return;
	if (telem_format_plate(ev->ts_ms, ev->plate, rt->o->camera_id, ev->confidence, rt->buf,
	                       PW_PAYLOAD_MAX, &len) != PW_OK)
		return;
	snprintf(topic, sizeof(topic), "pitwall/v1/sites/%s/anpr", rt->o->site_id);
	if (pub_send(rt->camera, topic, rt->buf, len, rt->o->qos, 0, UINT64_MAX) == PW_OK) {
		rt->res->messages++;
		rt->camera_dirty = 1;
	}
}

/* Main thread, inside world_advance. */
static void on_event(void *ctx, const struct world_event *ev)
{
	struct rt *rt = ctx;
	struct dev *d = &rt->dev[ev->vehicle];

	switch (ev->kind) {
	case WORLD_TELEMETRY:
		send_object(rt, ev->vehicle, ev->t, ev->ts_ms);
		break;
	case WORLD_BATCH:
		send_batch(rt, ev->vehicle, ev->t, ev->n);
		break;
	case WORLD_ONLINE:
		if (!rt->o->shared_connection &&
		    connect_device(rt, ev->vehicle, ev->ts_ms) != PW_OK)
			log_warn("sim", "%s: could not reconnect", vin_of(rt, ev->vehicle));
		break;
	case WORLD_OFFLINE:
		if (!rt->o->shared_connection && d->pub && d->online) {
			if (rt->o->transport == PUB_PAHO) /* Paho cannot vanish: say it */
				publish_status(rt, ev->vehicle, 0, ev->ts_ms);
			/* What it sent on the way in (the parking report) gets through
			 * before the garage swallows the signal. */
			pub_flush(d->pub);
			pub_wait(d->pub, 2000);
			pub_drop(d->pub);
			d->online = 0;
		}
		break;
	case WORLD_PLATE:
		send_plate(rt, ev);
		break;
	}
}

static void flush_dirty(struct rt *rt)
{
	int i;

	for (i = 0; i < rt->n_dirty; i++) {
		struct pub *p = dev_pub(rt, rt->dirty[i]);

		rt->dev[rt->dirty[i]].dirty = 0;
		if (p && pub_is_connected(p))
			pub_flush(p);
	}
	rt->n_dirty = 0;
	if (rt->camera_dirty && rt->camera) {
		pub_flush(rt->camera);
		rt->camera_dirty = 0;
	}
}

static void sleep_ms(double ms)
{
	struct timespec ts;

	if (ms < 1)
		ms = 1;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
	nanosleep(&ts, NULL);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct pub *open_pub(const struct realtime_options *o, struct rt *rt, const char *client_id,
                            int window)
{
	struct pub_options po = {0};
	struct pub *p;

	po.transport = o->transport;
	po.uri = o->uri;
	po.client_id = client_id;
	po.clean_session = 0;
	po.window = window;
	po.on_done = on_done;
	po.ctx = rt;
	po.stop = o->stop;
	p = pub_new(&po);
	if (p && pub_connect(p, 10000) != PW_OK) {
		pub_free(p);
		return NULL;
	}
	return p;
}

static void drain_and_close(struct rt *rt, int timeout_ms)
{
	double deadline = mono_s() + timeout_ms / 1000.0;
	int v, n = rt->o->world.vehicles;

	for (v = 0; v < n; v++) {
		struct dev *d = &rt->dev[v];
		int left = (int)((deadline - mono_s()) * 1000);

		if (!d->pub || !d->online)
			continue;
		/* A device switched off by the simulator says so: no stale "online". */
		publish_status(rt, v, 0, clock_now_ms(rt->o->clock));
		pub_wait(d->pub, left > 0 ? left : 1);
		pub_disconnect(d->pub, 1000);
	}
	if (rt->shared) {
		int left = (int)((deadline - mono_s()) * 1000);

		pub_wait(rt->shared, left > 0 ? left : 1);
		pub_disconnect(rt->shared, 1000);
	}
	if (rt->camera) {
		pub_wait(rt->camera, 5000);
		pub_disconnect(rt->camera, 1000);
	}
}

static void collect_stats(struct rt *rt)
{
	struct pub_stats s;
	int v;

	for (v = 0; v < rt->o->world.vehicles; v++)
		if (rt->dev[v].pub) {
			pub_get_stats(rt->dev[v].pub, &s);
			rt->res->acked += s.done;
			rt->res->failed += s.failed;
			rt->res->reconnects += s.reconnects;
		}
	if (rt->shared) {
		pub_get_stats(rt->shared, &s);
		rt->res->acked += s.done;
		rt->res->failed += s.failed;
	}
	if (rt->camera) {
		pub_get_stats(rt->camera, &s);
		rt->res->acked += s.done;
		rt->res->failed += s.failed;
	}
}

static int write_outputs(struct rt *rt)
{
	const struct realtime_options *o = rt->o;
	int v, n = o->world.vehicles, rc = PW_OK;

	if (o->manifest_path) {
		FILE *f = fopen(o->manifest_path, "w");

		if (!f) {
			log_error("sim", "cannot write manifest %s: %s", o->manifest_path,
			          strerror(errno));
			rc = PW_EIO;
		} else {
			for (v = 0; v < n; v++)
				fprintf(f, "%s,%lld,%lld\n", vin_of(rt, v),
				        (long long)rt->dev[v].acked,
				        (long long)rt->dev[v].acked_max_seq);
			if (fclose(f) != 0)
				rc = PW_EIO;
		}
	}
	if (o->state_path) {
		struct seqstore_entry *e = calloc((size_t)n, sizeof(*e));

		if (!e)
			return PW_ENOMEM;
		for (v = 0; v < n; v++) {
			snprintf(e[v].vin, sizeof(e[v].vin), "%s", vin_of(rt, v));
			e[v].next_seq = world_next_seq(rt->w, v);
		}
		if (seqstore_save(o->state_path, e, n) != PW_OK)
			rc = PW_EIO;
		free(e);
	}
	return rc;
}

int realtime_run(const struct realtime_options *o, struct realtime_result *res)
{
	struct rt rt = {0};
	struct seqstore_entry *st = NULL;
	struct world_options wo = o->world;
	int64_t *first_seq = NULL, now, start, end;
	double speedup = o->clock->is_virtual ? o->clock->speedup : 1.0, t0;
	char client_id[96];
	int n = o->world.vehicles, n_st = 0, v, rc = PW_OK;

	memset(res, 0, sizeof(*res));
	rt.o = o;
	rt.res = res;
	rng_seed_stream(&rt.frng, o->fault_seed, 0xfa017ULL);
	rt.dev = calloc((size_t)n, sizeof(*rt.dev));
	rt.dirty = calloc((size_t)n, sizeof(*rt.dirty));
	rt.buf = malloc(PW_PAYLOAD_MAX);
	first_seq = calloc((size_t)n, sizeof(*first_seq));
	if (!rt.dev || !rt.dirty || !rt.buf || !first_seq) {
		rc = PW_ENOMEM;
		goto out;
	}
	if (o->state_path && (rc = seqstore_load(o->state_path, &st, &n_st)) != PW_OK)
		goto out;
	for (v = 0; v < n; v++) {
		int64_t s = seqstore_find(st, n_st, o->world.vins[v]);

		first_seq[v] = s > 0 ? s : 0;
		rt.dev[v].acked_max_seq = -1;
	}
	wo.first_seq = first_seq;

	start = clock_now_ms(o->clock);
	rt.w = world_new(&wo, start);
	if (!rt.w) {
		rc = PW_ENOMEM;
		goto out;
	}
	snprintf(client_id, sizeof(client_id), "pwsim-camera-%s", o->site_id);
	rt.camera = open_pub(o, &rt, client_id, 256);
	if (!rt.camera) {
		rc = PW_EIO;
		goto out;
	}
	if (o->shared_connection) {
		snprintf(client_id, sizeof(client_id), "pwsim-fleet-%s", o->site_id);
		rt.shared = open_pub(o, &rt, client_id, 4096);
		if (!rt.shared) {
			rc = PW_EIO;
			goto out;
		}
	} else {
		for (v = 0; v < n; v++) {
			if (o->stop && atomic_load(o->stop))
				break;
			if (world_is_online(rt.w, v) && connect_device(&rt, v, start) != PW_OK) {
				log_error("sim", "%s: cannot connect", vin_of(&rt, v));
				rc = PW_EIO;
				goto out;
			}
			if (v % 64 == 63)
				flush_dirty(&rt);
		}
	}
	flush_dirty(&rt);
	log_info("sim", "%d devices connected; running from %lld", n, (long long)start);

	t0 = mono_s();
	end = o->duration_ms > 0 ? start + o->duration_ms : INT64_MAX;
	res->start_ms = start;
	for (;;) {
		int64_t next;
		double wait_ms;

		now = clock_now_ms(o->clock);
		if (now > end)
			now = end;
		world_advance(rt.w, now, on_event, &rt);
		flush_dirty(&rt);
		res->end_ms = now;
		if (now >= end || (o->stop && atomic_load(o->stop)) ||
		    (o->count >= 0 && res->objects >= (uint64_t)o->count))
			break;
		next = world_next_event_ms(rt.w);
		wait_ms = (double)(next - now) / speedup;
		sleep_ms(wait_ms > 100 ? 100 : wait_ms);
	}
	for (v = 0; v < n; v++) /* anything still held back goes out now */
		if (rt.dev[v].held) {
			publish(&rt, v, "telemetry", rt.dev[v].held, rt.dev[v].held_len, 0,
			        rt.dev[v].held_tag);
			res->objects++;
			free(rt.dev[v].held);
			rt.dev[v].held = NULL;
		}
	flush_dirty(&rt);
	drain_and_close(&rt, o->drain_timeout_ms);
	res->seconds = mono_s() - t0;
	collect_stats(&rt);
	world_get_stats(rt.w, &res->world);
	if (res->failed)
		rc = PW_EBUSY;
	if (write_outputs(&rt) != PW_OK && rc == PW_OK)
		rc = PW_EIO;
out:
	if (rt.dev)
		for (v = 0; v < n; v++) {
			pub_free(rt.dev[v].pub);
			free(rt.dev[v].held);
		}
	pub_free(rt.shared);
	pub_free(rt.camera);
	world_free(rt.w);
	free(rt.dev);
	free(rt.dirty);
	free(rt.buf);
	free(first_seq);
	free(st);
	return rc;
}
