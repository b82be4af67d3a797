/*
 * test_state — the vehicle table and the merge: in order, out of order (many
 * random permutations of one set of objects, with duplicates, all reach the
 * same state, equal to a brute-force "latest by ts" reference), seq windows
 * and gaps (checked against a real store), odometer rollbacks, DTC change
 * detection, history buckets, status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "store.h"

#define VIN_A   "WVWZZZ1JZXW000001"
#define VIN_B   "LSVAU2180N2000002"
#define HOUR_MS (3600LL * 1000)
#define T0      1795000000000LL /* 2026-11-18 */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* The DTC pool of merges that no table keeps (a table's merges use its own). */
static struct dtcset_pool *sets;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int rnd_below(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

static void make_vin(char *vin, unsigned n)
{
	static const char alphabet[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

	memcpy(vin, "LPWTEST", 7);
	for (int i = 16; i >= 7; i--) {
		vin[i] = alphabet[n % 33];
		n /= 33;
	}
	vin[PW_VIN_LEN] = '\0';
}

static struct pw_telemetry obj(const char *vin, int64_t seq, int64_t ts_ms)
{
	struct pw_telemetry t;

	memset(&t, 0, sizeof(t));
	memcpy(t.vin, vin, PW_VIN_LEN + 1);
	t.seq = seq;
	t.ts_ms = ts_ms;
	return t;
}

static void set_dtc(struct pw_telemetry *t, int i, const char *code, int status, int mil)
{
	memset(&t->dtc[i], 0, sizeof(t->dtc[i]));
	memcpy(t->dtc[i].code, code, 5);
	t->dtc[i].status = (uint8_t)status;
	t->dtc[i].mil = (uint8_t)mil;
	if (t->dtc_count < i + 1)
		t->dtc_count = (uint8_t)(i + 1);
	t->has |= PW_F_DTC;
}

/* Field-by-field equality, vin optional; prints the first difference. */
static int vehicle_equal(const struct pw_vehicle *a, const struct pw_vehicle *b, int with_vin)
{
	const struct pw_latest *x = &a->latest, *y = &b->latest;

#define SAME(f)                                                                                    \
	do {                                                                                       \
		if ((a->f) != (b->f)) {                                                            \
			print_message("differs: %s\n", #f);                                        \
			return 0;                                                                  \
		}                                                                                  \
	} while (0)
	if (with_vin && strcmp(a->vin, b->vin) != 0)
		return 0;
	SAME(seq_max);
	SAME(seq_window);
	SAME(msg_count);
	SAME(ts_ms);
	for (int i = 0; i < PW_STATE_GROUPS; i++)
		SAME(group_ts_ms[i]);
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		if (state_tire_ts_ms(a, w) != state_tire_ts_ms(b, w))
			return 0;
		for (int m = 0; m < PW_TIRE_MEMBERS; m++)
			SAME(tire_member_ts_ms[w][m]);
		SAME(latest.tires[w].has);
		SAME(latest.tires[w].kpa);
		SAME(latest.tires[w].tread_mm);
		SAME(latest.tires[w].temp_c);
	}
	SAME(history_bucket);
	SAME(odometer_rollbacks);
	SAME(status_ts_ms);
	SAME(online);
	SAME(latest.has);
	SAME(latest.seq);
	SAME(latest.ts_ms);
	SAME(latest.odometer_km);
	SAME(latest.engine_hours);
	SAME(latest.lat);
	SAME(latest.lon);
	SAME(latest.speed_kmh);
	SAME(latest.fuel_pct);
	SAME(latest.fuel_l_per_100km);
	SAME(latest.battery_v);
	SAME(latest.heading_deg);
	SAME(latest.ignition);
	SAME(latest.dtc_count);
#undef SAME
	if (x->dtc_count && memcmp(x->dtc, y->dtc, (size_t)x->dtc_count * sizeof(x->dtc[0])) != 0) {
		print_message("differs: dtc\n");
		return 0;
	}
	return 1;
}

/* ---- the table ---- */

static void test_table_put_find_grow(void **unused)
{
	struct state *s = state_new(4);
	struct pw_vehicle v;
	char vin[PW_VIN_LEN + 1];
	const int n = 100000;
	size_t bytes;

	(void)unused;
	assert_non_null(s);
	for (int i = 0; i < n; i++) {
		make_vin(vin, (unsigned)i * 7919u);
		state_vehicle_init(&v, vin);
		v.msg_count = i;
		assert_int_equal(state_put(s, &v), PW_OK);
	}
	assert_int_equal(state_count(s), n);
	for (int i = 0; i < n; i++) {
		const struct pw_vehicle *f;

		make_vin(vin, (unsigned)i * 7919u);
		f = state_find(s, vin);
		assert_non_null(f);
		assert_string_equal(f->vin, vin);
		assert_int_equal(f->msg_count, i);
	}
	make_vin(vin, 1); /* 1 is not a multiple of 7919 */
	assert_null(state_find(s, vin));
	assert_null(state_find(s, "SHORT"));
	assert_null(state_find(s, VIN_A "X")); /* 18 characters */

	/* replacing keeps the count */
	make_vin(vin, 7919u * 5);
	state_vehicle_init(&v, vin);
	v.msg_count = -5;
	assert_int_equal(state_put(s, &v), PW_OK);
	assert_int_equal(state_count(s), n);
	assert_int_equal(state_find(s, vin)->msg_count, -5);

	state_vehicle_init(&v, "TOOSHORT");
	assert_int_equal(state_put(s, &v), PW_EINVAL);

	bytes = state_memory_bytes(s);
	print_message("sizeof(struct pw_vehicle) = %zu; table at %d vehicles: %zu bytes, "
	              "%.1f per vehicle (index %.1f)\n",
	              sizeof(struct pw_vehicle), n, bytes, (double)bytes / n,
	              (double)bytes / n - (double)sizeof(struct pw_vehicle));
	assert_true(bytes / (size_t)n < 1024);
	state_free(s);
	state_free(NULL);
}

static int count_cb(void *ctx, const struct pw_vehicle *v)
{
	long *sum = ctx;

	*sum += v->msg_count;
	return 0;
}

static int stop_cb(void *ctx, const struct pw_vehicle *v)
{
	int *calls = ctx;

	(void)v;
	return ++*calls == 3 ? 42 : 0;
}

static void test_table_foreach(void **unused)
{
	struct state *s = state_new(0);
	struct pw_vehicle v;
	char vin[PW_VIN_LEN + 1];
	long sum = 0;
	int calls = 0;

	(void)unused;
	for (int i = 1; i <= 1000; i++) {
		make_vin(vin, (unsigned)i);
		state_vehicle_init(&v, vin);
		v.msg_count = i;
		assert_int_equal(state_put(s, &v), PW_OK);
	}
	assert_int_equal(state_foreach(s, count_cb, &sum), 0);
	assert_int_equal(sum, 1000L * 1001 / 2);
	assert_int_equal(state_foreach(s, stop_cb, &calls), 42);
	assert_int_equal(calls, 3);
	state_free(s);
}

/* ---- seq classification and gaps ---- */

static struct pw_vehicle apply(const struct pw_vehicle *cur, int64_t seq, int64_t ts,
                               struct state_merge_result *res)
{
	struct pw_telemetry t = obj(VIN_A, seq, ts);
	struct pw_vehicle next;

	assert_int_equal(state_merge(sets, cur, &t, HOUR_MS, &next, res), PW_OK);
	return next;
}

static void test_seq_window(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v;

	(void)unused;
	assert_int_equal(state_classify_seq(NULL, 0), PW_SEQ_NEW);
	v = apply(NULL, 0, T0, &res);
	assert_int_equal(res.new_vehicle, 1);
	assert_int_equal(res.n_gaps, 0);
	assert_int_equal(state_classify_seq(&v, 0), PW_SEQ_DUPLICATE);
	assert_int_equal(state_classify_seq(&v, 1), PW_SEQ_NEW);
	for (int64_t s = 1; s < 10; s++) {
		if (s == 4)
			continue;
		v = apply(&v, s, T0 + s, &res);
		assert_int_equal(res.new_vehicle, 0);
		assert_int_equal(res.n_gaps, 0);
	}
	assert_int_equal(v.seq_max, 9);
	assert_int_equal(state_classify_seq(&v, 4), PW_SEQ_NEW);
	assert_int_equal(state_classify_seq(&v, 3), PW_SEQ_DUPLICATE);
	assert_int_equal(state_classify_seq(&v, 9), PW_SEQ_DUPLICATE);
	assert_int_equal(state_classify_seq(&v, 10), PW_SEQ_NEW);
	v = apply(&v, 4, T0 + 4, &res);
	assert_int_equal(state_classify_seq(&v, 4), PW_SEQ_DUPLICATE);
	assert_int_equal(v.seq_max, 9);
	assert_int_equal(v.msg_count, 10);

	/* the window edge: seq_max - 63 is in, seq_max - 64 below */
	v = apply(&v, 200, T0 + 200, &res);
	assert_int_equal(state_classify_seq(&v, 200 - 63), PW_SEQ_NEW);
	assert_int_equal(state_classify_seq(&v, 200 - 64), PW_SEQ_BELOW_WINDOW);
	assert_int_equal(state_classify_seq(&v, 0), PW_SEQ_BELOW_WINDOW);
	assert_int_equal(state_classify_seq(&v, 200), PW_SEQ_DUPLICATE);
}

static void test_gaps_jump(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v;

	(void)unused;
	v = apply(NULL, 0, T0, &res);
	for (int64_t s = 1; s <= 10; s++)
		v = apply(&v, s, T0 + s, &res);
	/* 0..10 all seen; a jump to 100 leaves 11..36 below the new window */
	v = apply(&v, 100, T0 + 100, &res);
	assert_int_equal(res.n_gaps, 1);
	assert_int_equal(res.gaps[0].lo, 11);
	assert_int_equal(res.gaps[0].hi, 36);
	assert_int_equal(state_classify_seq(&v, 36), PW_SEQ_BELOW_WINDOW);
	for (int64_t s = 37; s < 100; s++)
		assert_int_equal(state_classify_seq(&v, s), PW_SEQ_NEW);

	/* exactly 64 ahead: everything below slides out, nothing is jumped over */
	v = apply(&v, 164, T0 + 164, &res);
	assert_int_equal(res.n_gaps, 1);
	assert_int_equal(res.gaps[0].lo, 37); /* 37..99 unseen, 100 seen */
	assert_int_equal(res.gaps[0].hi, 99);
	/* 65 ahead: 101..164 slide out (only 164 seen), 165 jumped over */
	v = apply(&v, 229, T0 + 229, &res);
	assert_int_equal(res.n_gaps, 2);
	assert_int_equal(res.gaps[0].lo, 101);
	assert_int_equal(res.gaps[0].hi, 163);
	assert_int_equal(res.gaps[1].lo, 165);
	assert_int_equal(res.gaps[1].hi, 165);
}

static void test_gaps_holes(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v;
	static const int64_t seen[] = {0, 1, 3, 4, 7};

	(void)unused;
	v = apply(NULL, seen[0], T0, &res);
	for (size_t i = 1; i < PW_ARRAY_LEN(seen); i++)
		v = apply(&v, seen[i], T0 + seen[i], &res);
	assert_int_equal(res.n_gaps, 0);
	/* to 70: seqs 6 and below slide out; 2, 5, 6 were never seen */
	v = apply(&v, 70, T0 + 70, &res);
	assert_int_equal(res.n_gaps, 2);
	assert_int_equal(res.gaps[0].lo, 2);
	assert_int_equal(res.gaps[0].hi, 2);
	assert_int_equal(res.gaps[1].lo, 5);
	assert_int_equal(res.gaps[1].hi, 6);
	assert_int_equal(state_classify_seq(&v, 7), PW_SEQ_DUPLICATE);
	assert_int_equal(state_classify_seq(&v, 8), PW_SEQ_NEW);

	/* every other seq missing: 32 separate ranges plus the jump, merged where adjacent */
	v = apply(NULL, 1000, T0, &res);
	for (int64_t s = 1002; s <= 1126; s += 2)
		v = apply(&v, s, T0 + s, &res);
	v = apply(&v, 1126 + 200, T0 + 2000, &res);
	assert_true(res.n_gaps <= PW_GAPS_MAX);
	for (int i = 1; i < res.n_gaps; i++)
		assert_true(res.gaps[i].lo > res.gaps[i - 1].hi + 1);
	assert_int_equal(res.gaps[res.n_gaps - 1].hi, 1326 - 64);
}

static void test_gaps_first_seen(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v;

	(void)unused;
	/* first seq 10: 0..9 are still in the window (the device may send them) */
	v = apply(NULL, 10, T0, &res);
	assert_int_equal(res.n_gaps, 0);
	for (int64_t s = 0; s < 10; s++)
		assert_int_equal(state_classify_seq(&v, s), PW_SEQ_NEW);
	/* they become gaps when they slide out, never negative seqs */
	v = apply(&v, 5, T0 + 5, &res);
	v = apply(&v, 80, T0 + 80, &res); /* and 11..16 are jumped over */
	assert_int_equal(res.n_gaps, 3);
	assert_int_equal(res.gaps[0].lo, 0);
	assert_int_equal(res.gaps[0].hi, 4);
	assert_int_equal(res.gaps[1].lo, 6);
	assert_int_equal(res.gaps[1].hi, 9);
	assert_int_equal(res.gaps[2].lo, 11);
	assert_int_equal(res.gaps[2].hi, 16);

	/* first seq 100: 0..36 below the window at once, 37..99 in it */
	v = apply(NULL, 100, T0, &res);
	assert_int_equal(res.n_gaps, 1);
	assert_int_equal(res.gaps[0].lo, 0);
	assert_int_equal(res.gaps[0].hi, 36);
	assert_int_equal(state_classify_seq(&v, 37), PW_SEQ_NEW);
	assert_int_equal(state_classify_seq(&v, 36), PW_SEQ_BELOW_WINDOW);

	/* first seq 63 and 64: the boundary */
	v = apply(NULL, 63, T0, &res);
	assert_int_equal(res.n_gaps, 0);
	assert_int_equal(state_classify_seq(&v, 0), PW_SEQ_NEW);
	v = apply(NULL, 64, T0, &res);
	assert_int_equal(res.n_gaps, 1);
	assert_int_equal(res.gaps[0].lo, 0);
	assert_int_equal(res.gaps[0].hi, 0);
}

/* The ingest pipeline for one object: classify, ask the store below the
 * window, merge, keep the gaps. Returns 1 if applied, 0 if a duplicate. */
static int pipeline(struct store *st, struct state *s, const struct pw_telemetry *t,
                    struct state_merge_result *res)
{
	const struct pw_vehicle *cur = state_find(s, t->vin);
	struct pw_vehicle next;
	int was_gap = 0;

	switch (state_classify_seq(cur, t->seq)) {
	case PW_SEQ_DUPLICATE:
		return 0;
	case PW_SEQ_BELOW_WINDOW:
		assert_int_equal(store_take_seq_gap(st, t->vin, t->seq, &was_gap), PW_OK);
		if (!was_gap)
			return 0;
		break;
	case PW_SEQ_NEW:
		break;
	}
	assert_int_equal(state_merge(state_dtcsets(s), cur, t, HOUR_MS, &next, res), PW_OK);
	for (int i = 0; i < res->n_gaps; i++)
		assert_int_equal(store_add_seq_gap(st, t->vin, res->gaps[i].lo, res->gaps[i].hi),
		                 PW_OK);
	assert_int_equal(state_put(s, &next), PW_OK);
	dtcset_collect(state_dtcsets(s)); /* as ingest does after each message */
	return 1;
}

static void test_duplicates_below_window(void **unused)
{
	struct store *st = store_open(":memory:", STORE_READ_WRITE);
	struct state *s = state_new(8);
	struct state_merge_result res;
	struct pw_telemetry t;

	(void)unused;
	assert_non_null(st);
	for (int64_t q = 0; q <= 10; q++) {
		t = obj(VIN_B, q, T0 + q);
		assert_int_equal(pipeline(st, s, &t, &res), 1);
	}
	t = obj(VIN_B, 200, T0 + 200); /* 11..136 become a gap */
	assert_int_equal(pipeline(st, s, &t, &res), 1);
	t = obj(VIN_B, 50, T0 + 50); /* below the window, in the gap: new */
	assert_int_equal(pipeline(st, s, &t, &res), 1);
	assert_int_equal(pipeline(st, s, &t, &res), 0); /* again: a duplicate */
	t = obj(VIN_B, 5, T0 + 5);                      /* seen long ago */
	assert_int_equal(pipeline(st, s, &t, &res), 0);
	t = obj(VIN_B, 150, T0 + 150); /* in the window, unseen */
	assert_int_equal(pipeline(st, s, &t, &res), 1);
	assert_int_equal(pipeline(st, s, &t, &res), 0);
	assert_int_equal(state_find(s, VIN_B)->msg_count, 14);
	state_free(s);
	store_close(st);
}

/* ---- the merge ---- */

static void test_merge_in_order(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v;
	struct pw_telemetry t = obj(VIN_A, 0, T0);

	(void)unused;
	t.has = PW_F_ODOMETER | PW_F_SPEED | PW_F_IGNITION | PW_F_POSITION | PW_F_TIRES;
	t.odometer_km = 1000.5;
	t.speed_kmh = 50;
	t.ignition = PW_IGN_ON;
	t.lat = 36.65;
	t.lon = 117.12;
	t.tires[PW_TIRE_FL].has = PW_TIRE_KPA;
	t.tires[PW_TIRE_FL].kpa = 230;
	state_merge(sets, NULL, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.new_vehicle, 1);
	assert_int_equal(res.changed, 1);
	assert_int_equal(res.history_due, 1);
	assert_int_equal(res.late, 0);
	assert_string_equal(v.vin, VIN_A);
	assert_int_equal(v.msg_count, 1);
	assert_int_equal(v.ts_ms, T0);
	assert_int_equal(v.history_bucket, T0 / HOUR_MS);
	assert_int_equal(v.latest.has, t.has);
	assert_int_equal(v.group_ts_ms[0], T0);
	assert_int_equal(state_tire_ts_ms(&v, PW_TIRE_FL), T0);
	assert_int_equal(state_tire_ts_ms(&v, PW_TIRE_FR), 0);
	assert_int_equal(v.group_ts_ms[9], T0);

	t = obj(VIN_A, 1, T0 + 1000);
	t.has = PW_F_SPEED | PW_F_FUEL_PCT | PW_F_TIRES;
	t.speed_kmh = 60;
	t.fuel_pct = 40;
	t.tires[PW_TIRE_FL].has = PW_TIRE_TREAD;
	t.tires[PW_TIRE_FL].tread_mm = 6.5f;
	state_merge(sets, &v, &t, HOUR_MS, &v, &res); /* in place */
	assert_int_equal(res.new_vehicle, 0);
	assert_int_equal(res.changed, 1);
	assert_int_equal(res.history_due, 0); /* same hour */
	assert_true(v.latest.speed_kmh == 60);
	assert_true(v.latest.odometer_km == 1000.5);
	assert_true(v.latest.tires[PW_TIRE_FL].kpa == 230);
	assert_true(v.latest.tires[PW_TIRE_FL].tread_mm == 6.5f);
	assert_int_equal(v.latest.tires[PW_TIRE_FL].has, PW_TIRE_KPA | PW_TIRE_TREAD);
	assert_int_equal(v.tire_member_ts_ms[PW_TIRE_FL][0], T0);
	assert_int_equal(v.tire_member_ts_ms[PW_TIRE_FL][1], T0 + 1000);
	assert_int_equal(state_tire_ts_ms(&v, PW_TIRE_FL), T0 + 1000);
	assert_int_equal(v.msg_count, 2);
	assert_int_equal(v.latest.seq, 1);

	/* the same values again: applied (ts moves) but nothing changed */
	t = obj(VIN_A, 2, T0 + 2000);
	t.has = PW_F_SPEED;
	t.speed_kmh = 60;
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.changed, 0);
	assert_int_equal(v.group_ts_ms[1], T0 + 2000);
}

static void test_merge_late(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v;
	struct pw_telemetry t = obj(VIN_A, 10, T0 + 10000);

	(void)unused;
	t.has = PW_F_SPEED | PW_F_BATTERY;
	t.speed_kmh = 80;
	t.battery_v = 12.6f;
	state_merge(sets, NULL, &t, HOUR_MS, &v, &res);

	/* older: fills what nothing newer set, leaves the rest */
	t = obj(VIN_A, 9, T0 + 5000);
	t.has = PW_F_SPEED | PW_F_FUEL_PCT;
	t.speed_kmh = 20;
	t.fuel_pct = 55;
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.late, 1);
	assert_int_equal(res.changed, 1);
	assert_true(v.latest.speed_kmh == 80);
	assert_true(v.latest.fuel_pct == 55);
	assert_int_equal(v.group_ts_ms[3], T0 + 5000);
	assert_int_equal(v.ts_ms, T0 + 10000);
	assert_int_equal(v.latest.ts_ms, T0 + 10000);

	/* an old one that only carries older fields changes nothing */
	t = obj(VIN_A, 8, T0 + 4000);
	t.has = PW_F_SPEED | PW_F_FUEL_PCT;
	t.speed_kmh = 10;
	t.fuel_pct = 60;
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.late, 1);
	assert_int_equal(res.changed, 0);
	assert_true(v.latest.fuel_pct == 55);
	assert_int_equal(v.msg_count, 3);

	/* an equal ts: the greater value wins, whatever arrives first */
	t = obj(VIN_A, 11, T0 + 10000);
	t.has = PW_F_SPEED;
	t.speed_kmh = 70;
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_true(v.latest.speed_kmh == 80);
	t = obj(VIN_A, 12, T0 + 10000);
	t.has = PW_F_SPEED;
	t.speed_kmh = 90;
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_true(v.latest.speed_kmh == 90);
	assert_int_equal(res.late, 0);
}

static void test_odometer_rollback(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v, w;
	struct pw_telemetry a = obj(VIN_A, 1, T0 + 1000), b = obj(VIN_A, 2, T0 + 2000);
	struct pw_telemetry c = obj(VIN_A, 3, T0 + 3000);

	(void)unused;
	a.has = b.has = c.has = PW_F_ODOMETER;
	a.odometer_km = 100;
	b.odometer_km = 90; /* went backwards */
	c.odometer_km = 101;

	/* in ts order: b is not applied, flagged and counted */
	state_merge(sets, NULL, &a, HOUR_MS, &v, &res);
	assert_int_equal(res.odometer_rollback, 0);
	state_merge(sets, &v, &b, HOUR_MS, &v, &res);
	assert_int_equal(res.odometer_rollback, 1);
	assert_int_equal(res.changed, 0);
	assert_true(v.latest.odometer_km == 100);
	assert_int_equal(v.group_ts_ms[0], T0 + 1000);
	assert_int_equal(v.odometer_rollbacks, 1);
	assert_int_equal(v.msg_count, 2);

	/* the other way round: a arrives late, above the newer reading b. The
	 * pair is just as inconsistent: flagged, counted, and the state becomes
	 * what the ts-order replay gives (the highest reading, its ts). */
	state_merge(sets, NULL, &b, HOUR_MS, &w, &res);
	state_merge(sets, &w, &a, HOUR_MS, &w, &res);
	assert_int_equal(res.odometer_rollback, 1);
	assert_int_equal(res.late, 1);
	assert_int_equal(res.changed, 1);
	assert_true(w.latest.odometer_km == 100);
	assert_int_equal(w.group_ts_ms[0], T0 + 1000);
	assert_int_equal(w.odometer_rollbacks, 1);
	assert_true(vehicle_equal(&v, &w, 1));

	/* then forward again: applied, no flag */
	state_merge(sets, &v, &c, HOUR_MS, &v, &res);
	assert_int_equal(res.odometer_rollback, 0);
	assert_true(v.latest.odometer_km == 101);

	/* a late reading below the newer one is consistent: ignored quietly */
	a = obj(VIN_A, 0, T0);
	a.has = PW_F_ODOMETER;
	a.odometer_km = 99;
	state_merge(sets, &v, &a, HOUR_MS, &v, &res);
	assert_int_equal(res.odometer_rollback, 0);
	assert_true(v.latest.odometer_km == 101);
	assert_int_equal(v.odometer_rollbacks, 1);

	/* equal ts, different readings: the higher one, no flag, either order */
	a = obj(VIN_A, 10, T0 + 9000);
	b = obj(VIN_A, 11, T0 + 9000);
	a.has = b.has = PW_F_ODOMETER;
	a.odometer_km = 200;
	b.odometer_km = 201;
	state_merge(sets, &v, &a, HOUR_MS, &w, &res);
	state_merge(sets, &w, &b, HOUR_MS, &w, &res);
	assert_int_equal(res.odometer_rollback, 0);
	assert_true(w.latest.odometer_km == 201);
	state_merge(sets, &v, &b, HOUR_MS, &w, &res);
	state_merge(sets, &w, &a, HOUR_MS, &w, &res);
	assert_int_equal(res.odometer_rollback, 0);
	assert_true(w.latest.odometer_km == 201);
}

static void test_dtc_change(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v;
	struct pw_telemetry t = obj(VIN_A, 1, T0 + 1000);
	const struct pw_dtc *shared;
	size_t held;

	(void)unused;
	/* first report, empty: no change (no codes before either) */
	t.has = PW_F_DTC;
	state_merge(sets, NULL, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.dtc_changed, 0);
	assert_int_equal(res.changed, 1);
	assert_true(v.latest.has & PW_F_DTC);

	t = obj(VIN_A, 2, T0 + 2000);
	set_dtc(&t, 0, "P0301", PW_DTC_CONFIRMED, 1);
	set_dtc(&t, 1, "C0035", PW_DTC_PENDING, 0);
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.dtc_changed, 1);
	assert_int_equal(v.latest.dtc_count, 2);
	assert_string_equal(v.latest.dtc[0].code, "C0035"); /* kept sorted */
	assert_string_equal(v.latest.dtc[1].code, "P0301");

	/* the same set in another order, with an exact duplicate: no change,
	 * the same interned entries, nothing new in the pool */
	shared = v.latest.dtc;
	held = dtcset_count(sets);
	t = obj(VIN_A, 3, T0 + 3000);
	set_dtc(&t, 0, "C0035", PW_DTC_PENDING, 0);
	set_dtc(&t, 1, "P0301", PW_DTC_CONFIRMED, 1);
	set_dtc(&t, 2, "C0035", PW_DTC_PENDING, 0);
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.dtc_changed, 0);
	assert_int_equal(v.latest.dtc_count, 2);
	assert_ptr_equal(v.latest.dtc, shared);
	assert_int_equal(dtcset_count(sets), held);
	assert_int_equal(v.group_ts_ms[10], T0 + 3000);

	/* status changes */
	t = obj(VIN_A, 4, T0 + 4000);
	set_dtc(&t, 0, "C0035", PW_DTC_CONFIRMED, 0);
	set_dtc(&t, 1, "P0301", PW_DTC_CONFIRMED, 1);
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.dtc_changed, 1);

	/* mil changes */
	t = obj(VIN_A, 5, T0 + 5000);
	set_dtc(&t, 0, "C0035", PW_DTC_CONFIRMED, 1);
	set_dtc(&t, 1, "P0301", PW_DTC_CONFIRMED, 1);
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.dtc_changed, 1);

	/* an older set is history, not a change of the latest one */
	t = obj(VIN_A, 0, T0);
	set_dtc(&t, 0, "B1234", PW_DTC_PERMANENT, 1);
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.dtc_changed, 0);
	assert_int_equal(v.latest.dtc_count, 2);

	/* cleared */
	t = obj(VIN_A, 6, T0 + 6000);
	t.has = PW_F_DTC;
	state_merge(sets, &v, &t, HOUR_MS, &v, &res);
	assert_int_equal(res.dtc_changed, 1);
	assert_int_equal(v.latest.dtc_count, 0);
	assert_null(v.latest.dtc); /* the empty set costs nothing */
	assert_true(v.latest.has & PW_F_DTC);
}

/* One object of `vin` with the codes in `codes` ("P0301 C0035"), confirmed
 * with the MIL on, merged into the table's vehicle; *next is the result. */
static int merge_codes(struct state *s, const char *vin, int64_t seq, const char *codes,
                       struct pw_vehicle *next)
{
	struct pw_telemetry t = obj(vin, seq, T0 + seq * 1000);
	struct state_merge_result res;
	int i = 0;

	t.has = PW_F_DTC;
	for (const char *c = codes; *c; c += c[5] ? 6 : 5)
		set_dtc(&t, i++, c, PW_DTC_CONFIRMED, 1);
	return state_merge(state_dtcsets(s), state_find(s, vin), &t, HOUR_MS, next, &res);
}

/* The table holds the references: equal sets are one, a set nobody in the
 * table holds is freed at the next collect, a working copy never put too. */
static void test_dtc_sets_in_table(void **unused)
{
	struct state *s = state_new(4);
	struct dtcset_pool *p;
	struct pw_vehicle a, b, c;

	(void)unused;
	assert_non_null(s);
	p = state_dtcsets(s);
	assert_int_equal(merge_codes(s, VIN_A, 1, "P0301 C0035", &a), PW_OK);
	assert_int_equal(merge_codes(s, VIN_B, 1, "C0035 P0301", &b), PW_OK);
	assert_ptr_equal(a.latest.dtc, b.latest.dtc); /* shared */
	assert_int_equal(dtcset_count(p), 1);
	assert_int_equal(state_put(s, &a), PW_OK);
	assert_int_equal(state_put(s, &b), PW_OK);
	assert_int_equal(dtcset_collect(p), 0);
	assert_int_equal(dtcset_idle(p), 0);

	/* A moves on; B still holds the old set */
	assert_int_equal(merge_codes(s, VIN_A, 2, "U0100", &a), PW_OK);
	assert_int_equal(state_put(s, &a), PW_OK);
	assert_int_equal(dtcset_collect(p), 0);
	assert_int_equal(dtcset_count(p), 2);
	/* B clears: its old set is held by nobody and goes */
	assert_int_equal(merge_codes(s, VIN_B, 2, "", &b), PW_OK);
	assert_null(b.latest.dtc);
	assert_int_equal(state_put(s, &b), PW_OK);
	assert_int_equal(dtcset_idle(p), 1);
	assert_int_equal(dtcset_collect(p), 1);
	assert_int_equal(dtcset_count(p), 1);
	assert_string_equal(state_find(s, VIN_A)->latest.dtc[0].code, "U0100");

	/* copies made freely (as rules and sweeps do) put back: no change */
	c = *state_find(s, VIN_A);
	c.msg_count++;
	assert_int_equal(state_put(s, &c), PW_OK);
	assert_int_equal(dtcset_collect(p), 0);
	assert_int_equal(dtcset_count(p), 1);

	/* a working copy never put (a failed message): collected */
	assert_int_equal(merge_codes(s, VIN_A, 3, "B1234", &c), PW_OK);
	assert_int_equal(dtcset_count(p), 2);
	assert_int_equal(dtcset_collect(p), 1);
	assert_int_equal(dtcset_count(p), 1);
	assert_string_equal(state_find(s, VIN_A)->latest.dtc[0].code, "U0100");
	state_free(s); /* frees the sets still held (ASan: no leak) */
}

/* A pool at its bound of idle sets: the merge fails, nothing grows. */
static void test_dtc_pool_full(void **unused)
{
	struct dtcset_pool *p = dtcset_pool_new(1);
	struct state_merge_result res;
	struct pw_vehicle v;
	struct pw_telemetry t = obj(VIN_A, 1, T0 + 1000);

	(void)unused;
	assert_non_null(p);
	set_dtc(&t, 0, "P0301", PW_DTC_PENDING, 0);
	assert_int_equal(state_merge(p, NULL, &t, HOUR_MS, &v, &res), PW_OK);
	t = obj(VIN_A, 2, T0 + 2000);
	set_dtc(&t, 0, "P0302", PW_DTC_PENDING, 0);
	assert_int_equal(state_merge(p, &v, &t, HOUR_MS, &v, &res), PW_ENOMEM);
	assert_int_equal(dtcset_count(p), 1);
	assert_int_equal(dtcset_collect(p), 1); /* nothing was put */
	v = (struct pw_vehicle){0};
	t = obj(VIN_A, 3, T0 + 3000);
	set_dtc(&t, 0, "P0302", PW_DTC_PENDING, 0);
	assert_int_equal(state_merge(p, NULL, &t, HOUR_MS, &v, &res), PW_OK);
	dtcset_pool_free(p);
}

static void test_history_due(void **unused)
{
	struct state_merge_result res;
	struct pw_vehicle v;
	const int64_t b0 = T0 / HOUR_MS;

	(void)unused;
	v = apply(NULL, 1, b0 * HOUR_MS + 10, &res);
	assert_int_equal(res.history_due, 1);
	assert_int_equal(v.history_bucket, b0);
	v = apply(&v, 2, b0 * HOUR_MS + 20, &res);
	assert_int_equal(res.history_due, 0);
	v = apply(&v, 3, (b0 + 2) * HOUR_MS, &res);
	assert_int_equal(res.history_due, 1);
	assert_int_equal(v.history_bucket, b0 + 2);
	/* late, into an older bucket: due (the store keeps an existing row), and
	 * history_bucket only moves forward */
	v = apply(&v, 4, (b0 + 1) * HOUR_MS + 5, &res);
	assert_int_equal(res.history_due, 1);
	assert_int_equal(res.late, 1);
	assert_int_equal(v.history_bucket, b0 + 2);
	v = apply(&v, 5, b0 * HOUR_MS + 30, &res);
	assert_int_equal(res.history_due, 1);
	assert_int_equal(v.history_bucket, b0 + 2);
}

static void test_status(void **unused)
{
	struct pw_vehicle v;
	struct state_merge_result res;

	(void)unused;
	state_merge_status(NULL, VIN_A, 1, T0, &v);
	assert_string_equal(v.vin, VIN_A);
	assert_int_equal(v.online, 1);
	assert_int_equal(v.status_ts_ms, T0);
	assert_int_equal(v.seq_max, -1);
	assert_int_equal(v.msg_count, 0);
	state_merge_status(&v, VIN_A, 0, T0 - 1, &v); /* older: ignored */
	assert_int_equal(v.online, 1);
	state_merge_status(&v, VIN_A, 0, T0, &v); /* the will of that connect */
	assert_int_equal(v.online, 0);
	state_merge_status(&v, VIN_A, 1, T0, &v); /* same ts: offline stays */
	assert_int_equal(v.online, 0);
	state_merge_status(&v, VIN_A, 1, T0 + 1, &v);
	assert_int_equal(v.online, 1);
	assert_int_equal(v.status_ts_ms, T0 + 1);

	/* telemetry after a status-only start is the vehicle's first object */
	v = apply(&v, 100, T0 + 5, &res);
	assert_int_equal(res.new_vehicle, 0);
	assert_int_equal(res.history_due, 1);
	assert_int_equal(res.n_gaps, 1);
	assert_int_equal(res.gaps[0].hi, 36);
	assert_int_equal(v.online, 1);
	assert_int_equal(v.msg_count, 1);
}

/* ---- permutations ---- */

#define PERM_OBJECTS    90
#define PERM_DUPLICATES 30
#define PERM_ROUNDS     300

static void random_object(struct pw_telemetry *t, int64_t seq, int64_t ts)
{
	static const char *const codes[] = {"P0301", "P0420", "C0035", "U0100", "B1234"};

	*t = obj(VIN_A, seq, ts);
	/* a real odometer: a function of time, so no order ever rolls it back */
	if (rnd_below(3) == 0) {
		t->has |= PW_F_ODOMETER;
		t->odometer_km = 12000.0 + (double)(ts - T0) / 1000.0 * 0.02;
	}
	if (rnd_below(2)) {
		t->has |= PW_F_SPEED;
		t->speed_kmh = (float)rnd_below(1200) / 10.0f;
	}
	if (rnd_below(3) == 0) {
		t->has |= PW_F_IGNITION;
		t->ignition = (uint8_t)(1 + rnd_below(3));
	}
	if (rnd_below(3) == 0) {
		t->has |= PW_F_FUEL_PCT;
		t->fuel_pct = (float)rnd_below(100);
	}
	if (rnd_below(4) == 0) {
		t->has |= PW_F_FUEL_RATE;
		t->fuel_l_per_100km = (float)rnd_below(200) / 10.0f;
	}
	if (rnd_below(4) == 0) {
		t->has |= PW_F_BATTERY;
		t->battery_v = 11.0f + (float)rnd_below(30) / 10.0f;
	}
	if (rnd_below(4) == 0) {
		t->has |= PW_F_ENGINE_HOURS;
		t->engine_hours = (double)rnd_below(5000) / 4.0;
	}
	if (rnd_below(2)) {
		t->has |= PW_F_POSITION;
		t->lat = 36.0 + (double)rnd_below(10000) / 1e4;
		t->lon = 117.0 + (double)rnd_below(3) / 1e4; /* ties in lat happen */
	}
	if (rnd_below(3) == 0) {
		t->has |= PW_F_HEADING;
		t->heading_deg = (float)rnd_below(360);
	}
	if (rnd_below(2)) {
		for (int w = 0; w < PW_TIRE_COUNT; w++) {
			struct pw_tire *ti = &t->tires[w];

			if (rnd_below(2)) {
				ti->has |= PW_TIRE_KPA;
				ti->kpa = 200.0f + (float)rnd_below(60);
			}
			if (rnd_below(3) == 0) {
				ti->has |= PW_TIRE_TREAD;
				ti->tread_mm = (float)rnd_below(90) / 10.0f;
			}
			if (rnd_below(3) == 0) {
				ti->has |= PW_TIRE_TEMP;
				ti->temp_c = (float)(rnd_below(80) - 20);
			}
		}
		if (t->tires[0].has | t->tires[1].has | t->tires[2].has | t->tires[3].has)
			t->has |= PW_F_TIRES;
	}
	if (rnd_below(4) == 0) {
		int n = rnd_below(4);

		t->has |= PW_F_DTC;
		for (int i = 0; i < n; i++)
			set_dtc(t, i, codes[rnd_below(5)], 1 + rnd_below(3), rnd_below(2));
	}
}

static void shuffle(int *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = rnd_below(i + 1), x = a[i];

		a[i] = a[j];
		a[j] = x;
	}
}

/* Brute force: for each simple field, the value of the object with the
 * greatest (ts, value). */
static void check_reference(const struct pw_telemetry *objs, int n, const struct pw_vehicle *v)
{
	int64_t best_ts = INT64_MIN;
	float best = 0;
	double best_odo = -1;

	for (int i = 0; i < n; i++) {
		const struct pw_telemetry *t = &objs[i];

		if (!(t->has & PW_F_SPEED))
			continue;
		if (t->ts_ms > best_ts || (t->ts_ms == best_ts && t->speed_kmh > best)) {
			best_ts = t->ts_ms;
			best = t->speed_kmh;
		}
	}
	assert_true(v->latest.speed_kmh == best);
	assert_int_equal(v->group_ts_ms[1], best_ts);
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		best_ts = INT64_MIN;
		best = 0;
		for (int i = 0; i < n; i++) {
			const struct pw_tire *ti = &objs[i].tires[w];

			if (!(ti->has & PW_TIRE_KPA))
				continue;
			if (objs[i].ts_ms > best_ts ||
			    (objs[i].ts_ms == best_ts && ti->kpa > best)) {
				best_ts = objs[i].ts_ms;
				best = ti->kpa;
			}
		}
		if (best_ts != INT64_MIN) {
			assert_true(v->latest.tires[w].kpa == best);
			assert_int_equal(v->tire_member_ts_ms[w][0], best_ts);
		}
	}
	for (int i = 0; i < n; i++)
		if ((objs[i].has & PW_F_ODOMETER) && objs[i].odometer_km > best_odo)
			best_odo = objs[i].odometer_km;
	assert_true(v->latest.odometer_km == best_odo);
	assert_int_equal(v->odometer_rollbacks, 0);
}

static void test_permutations(void **unused)
{
	static struct pw_telemetry objs[PERM_OBJECTS];
	int order[PERM_OBJECTS + PERM_DUPLICATES];
	const int n_arrivals = PERM_OBJECTS + PERM_DUPLICATES;
	static uint8_t present[4096];
	struct store *st = store_open(":memory:", STORE_READ_WRITE);
	struct state *s = state_new(16);
	struct pw_vehicle baseline;
	int64_t seq = 0, max_seq = 0;

	(void)unused;
	assert_non_null(st);
	assert_non_null(s);
	/* seqs with holes and jumps past the window; ts with many ties and not
	 * in seq order (a device's clock may step) */
	memset(present, 0, sizeof(present));
	for (int i = 0; i < PERM_OBJECTS; i++) {
		seq += 1 + (rnd_below(6) == 0 ? rnd_below(90) : rnd_below(3));
		random_object(&objs[i], seq, T0 + (int64_t)rnd_below(40) * 60000);
		present[seq] = 1;
		max_seq = seq;
	}
	assert_true(max_seq < (int64_t)sizeof(present));
	for (int i = 0; i < n_arrivals; i++)
		order[i] = i < PERM_OBJECTS ? i : rnd_below(PERM_OBJECTS);

	for (int round = 0; round < PERM_ROUNDS; round++) {
		char vin[PW_VIN_LEN + 1];
		const struct pw_vehicle *v;
		struct state_merge_result res;
		int applied = 0, dups = 0;

		make_vin(vin, (unsigned)round);
		if (round > 0)
			shuffle(order, n_arrivals);
		for (int i = 0; i < n_arrivals; i++) {
			struct pw_telemetry t = objs[order[i]];

			memcpy(t.vin, vin, sizeof(t.vin));
			if (pipeline(st, s, &t, &res))
				applied++;
			else
				dups++;
		}
		/* every object applied once, every repeat found */
		assert_int_equal(applied, PERM_OBJECTS);
		assert_int_equal(dups, PERM_DUPLICATES);
		v = state_find(s, vin);
		assert_non_null(v);
		assert_int_equal(v->msg_count, PERM_OBJECTS);
		assert_int_equal(v->seq_max, max_seq);
		check_reference(objs, PERM_OBJECTS, v);
		if (round == 0)
			baseline = *v;
		else if (!vehicle_equal(&baseline, v, 0))
			fail_msg("permutation %d reached another state", round);
		/* the window and the gaps left in the store are exactly the unseen seqs */
		for (int64_t q = 0; q <= max_seq; q++) {
			int was_gap = 0;

			if (max_seq - q < PW_SEQ_WINDOW) {
				assert_int_equal(state_classify_seq(v, q),
				                 present[q] ? PW_SEQ_DUPLICATE : PW_SEQ_NEW);
				continue;
			}
			assert_int_equal(state_classify_seq(v, q), PW_SEQ_BELOW_WINDOW);
			assert_int_equal(store_take_seq_gap(st, vin, q, &was_gap), PW_OK);
			assert_int_equal(was_gap, !present[q]);
		}
	}
	print_message("%d permutations of %d objects + %d repeats: one state\n", PERM_ROUNDS,
	              PERM_OBJECTS, PERM_DUPLICATES);
	state_free(s);
	store_close(st);
}

static int setup(void **unused)
{
	(void)unused;
	sets = dtcset_pool_new(0);
	return sets ? 0 : -1;
}

static int teardown(void **unused)
{
	(void)unused;
	dtcset_pool_free(sets);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_put_find_grow),
	    cmocka_unit_test(test_table_foreach),
	    cmocka_unit_test(test_seq_window),
	    cmocka_unit_test(test_gaps_jump),
	    cmocka_unit_test(test_gaps_holes),
	    cmocka_unit_test(test_gaps_first_seen),
	    cmocka_unit_test(test_duplicates_below_window),
	    cmocka_unit_test(test_merge_in_order),
	    cmocka_unit_test(test_merge_late),
	    cmocka_unit_test(test_odometer_rollback),
	    cmocka_unit_test(test_dtc_change),
	    cmocka_unit_test(test_dtc_sets_in_table),
	    cmocka_unit_test(test_dtc_pool_full),
	    cmocka_unit_test(test_history_due),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_permutations),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
