/*
 * state — the live state of every vehicle, and the pure merge of one
 * telemetry object into a vehicle.
 *
 * Table: vehicles live in fixed chunks of STATE_CHUNK_LEN structs (never
 * moved, at most one partly used chunk), found through an open-addressing
 * index of uint32 slots, linear probing, load factor <= 3/4. A slot holds
 * the vehicle number + 1 in its low 24 bits and 8 more bits of the VIN's
 * hash on top, so a probe compares a VIN only 1 time in 256 when it is not
 * the one; growing rehashes from the VINs. Nothing is ever removed, so there
 * are no tombstones. At most 16 million vehicles.
 *
 * Merge: the final state is a function of the *set* of objects, whatever
 * their arrival order. Each field (a PW_F_* group; each tire member on its
 * own) keeps the ts it was last set at, and an object's value wins when its
 * ts is newer. Ties (same ts, different values) go to the greater value
 * (numbers, then the ignition enum, lat before lon, the sorted DTC set
 * compared entry by entry), never to the arrival order, so a replay in any
 * order gives the same state. The odometer is the exception: it only goes
 * up. A reading below the one of a newer-or-equal ts is a rollback; the
 * state keeps the highest reading (with the newest ts that carried it),
 * which is exactly what replaying in ts order and skipping each backwards
 * reading gives. A *late* reading above a newer one is flagged and counted
 * as a rollback too (the newer reading went backwards) and is applied.
 *
 * DTC sets: a vehicle's set lives in the table's pool (dtcset.h), which the
 * table owns. Each vehicle in the table holds one reference to its set;
 * state_put() moves it from the replaced copy to the new one.
 *
 * Thread: a struct state belongs to the core thread; state_merge() and
 * friends are pure (but for interning into the pool they are given) and
 * run on the thread of that pool.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#define STATE_CHUNK_SHIFT 8
#define STATE_CHUNK_LEN   (1u << STATE_CHUNK_SHIFT)
#define STATE_MIN_SLOTS   16u
#define SLOT_IDX_BITS     24
#define SLOT_IDX_MASK     ((1u << SLOT_IDX_BITS) - 1)
#define STATE_MAX_COUNT   (SLOT_IDX_MASK - 1)

/* 100,000 vehicles within 1 KiB each (bench/ingest --mem-vehicles): a
 * vehicle that grows past this should be a decision, not an accident. */
_Static_assert(sizeof(struct pw_vehicle) <= 520, "struct pw_vehicle grew");

struct state {
	struct dtcset_pool *dtcs;
	struct pw_vehicle **chunks;
	size_t n_chunks, chunks_cap;
	size_t count;
	uint32_t *slots; /* 0 = empty; else tag << 24 | (vehicle number + 1) */
	size_t n_slots;  /* a power of two */
};

static uint32_t slot_tag(uint32_t hash)
{
	return hash & ~SLOT_IDX_MASK;
}

static uint32_t vin_hash(const char *vin)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < PW_VIN_LEN; i++) {
		h ^= (unsigned char)vin[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static int vin_ok(const char *vin)
{
	return vin && strnlen(vin, PW_VIN_LEN + 1) == PW_VIN_LEN;
}

static struct pw_vehicle *vehicle_at(const struct state *s, uint32_t n)
{
	return &s->chunks[n >> STATE_CHUNK_SHIFT][n & (STATE_CHUNK_LEN - 1)];
}

static size_t slots_for(size_t count)
{
	size_t n = STATE_MIN_SLOTS;

	while (n / 4 * 3 < count)
		n *= 2;
	return n;
}

struct state *state_new(size_t expected)
{
	struct state *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (expected > STATE_MAX_COUNT)
		expected = STATE_MAX_COUNT;
	s->n_slots = slots_for(expected);
	s->slots = calloc(s->n_slots, sizeof(*s->slots));
	s->dtcs = dtcset_pool_new(0);
	if (!s->slots || !s->dtcs) {
		free(s->slots);
		dtcset_pool_free(s->dtcs);
		free(s);
		return NULL;
	}
	return s;
}

void state_free(struct state *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_chunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	free(s->slots);
	dtcset_pool_free(s->dtcs);
	free(s);
}

struct dtcset_pool *state_dtcsets(struct state *s)
{
	return s->dtcs;
}

/* The slot holding `vin`, or the empty slot where it would go. */
static uint32_t *slot_lookup(const struct state *s, const char *vin, uint32_t hash)
{
	size_t mask = s->n_slots - 1;
	uint32_t tag = slot_tag(hash);

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		uint32_t *sl = &s->slots[i];

		if (*sl == 0)
			return sl;
		if (slot_tag(*sl) == tag &&
		    memcmp(vehicle_at(s, (*sl & SLOT_IDX_MASK) - 1)->vin, vin, PW_VIN_LEN) == 0)
			return sl;
	}
}

static int slots_grow(struct state *s)
{
	size_t n = s->n_slots * 2;
	uint32_t *fresh = calloc(n, sizeof(*fresh));

	if (!fresh)
		return PW_ENOMEM;
	for (size_t i = 0; i < s->n_slots; i++) {
		uint32_t old = s->slots[i];
		uint32_t hash;

		if (old == 0)
			continue;
		hash = vin_hash(vehicle_at(s, (old & SLOT_IDX_MASK) - 1)->vin);
		for (size_t j = hash & (n - 1);; j = (j + 1) & (n - 1)) {
			if (fresh[j] == 0) {
				fresh[j] = old;
				break;
			}
		}
	}
	free(s->slots);
	s->slots = fresh;
	s->n_slots = n;
	return PW_OK;
}

/* Makes room for vehicle number s->count. */
static int chunk_reserve(struct state *s)
{
	size_t need = (s->count >> STATE_CHUNK_SHIFT) + 1;

	if (need <= s->n_chunks)
		return PW_OK;
	if (s->n_chunks == s->chunks_cap) {
		size_t cap = s->chunks_cap ? s->chunks_cap * 2 : 16;
		struct pw_vehicle **c = realloc(s->chunks, cap * sizeof(*c));

		if (!c)
			return PW_ENOMEM;
		s->chunks = c;
		s->chunks_cap = cap;
	}
	s->chunks[s->n_chunks] = malloc(STATE_CHUNK_LEN * sizeof(struct pw_vehicle));
	if (!s->chunks[s->n_chunks])
		return PW_ENOMEM;
	s->n_chunks++;
	return PW_OK;
}

const struct pw_vehicle *state_find(const struct state *s, const char *vin)
{
	const uint32_t *sl;

	if (!vin_ok(vin))
		return NULL;
	sl = slot_lookup(s, vin, vin_hash(vin));
	return *sl ? vehicle_at(s, (*sl & SLOT_IDX_MASK) - 1) : NULL;
}

int state_put(struct state *s, const struct pw_vehicle *v)
{
	uint32_t hash;
	uint32_t *sl;
	struct pw_vehicle *dst;

	if (!vin_ok(v->vin))
		return PW_EINVAL;
	hash = vin_hash(v->vin);
	sl = slot_lookup(s, v->vin, hash);
	if (*sl) {
		dst = vehicle_at(s, (*sl & SLOT_IDX_MASK) - 1);
		if (dst != v) {
			dtcset_ref(s->dtcs, v->latest.dtc);
			dtcset_unref(s->dtcs, dst->latest.dtc);
			memcpy(dst, v, sizeof(*dst));
		}
		return PW_OK;
	}
	if (s->count >= STATE_MAX_COUNT)
		return PW_ENOMEM;
	if (chunk_reserve(s) != PW_OK)
		return PW_ENOMEM;
	if ((s->count + 1) > s->n_slots / 4 * 3) {
		if (slots_grow(s) != PW_OK)
			return PW_ENOMEM;
		sl = slot_lookup(s, v->vin, hash);
	}
	dst = vehicle_at(s, (uint32_t)s->count);
	dtcset_ref(s->dtcs, v->latest.dtc);
	memcpy(dst, v, sizeof(*dst));
	*sl = slot_tag(hash) | ((uint32_t)s->count + 1);
	s->count++;
	return PW_OK;
}

void state_clear_row_dirty(struct state *s, const char *vin)
{
	const uint32_t *sl;

	if (!vin_ok(vin))
		return;
	sl = slot_lookup(s, vin, vin_hash(vin));
	if (*sl)
		vehicle_at(s, (*sl & SLOT_IDX_MASK) - 1)->row_dirty = 0;
}

size_t state_count(const struct state *s)
{
	return s->count;
}

int state_foreach(const struct state *s, int (*fn)(void *ctx, const struct pw_vehicle *v),
                  void *ctx)
{
	for (size_t i = 0; i < s->count; i++) {
		int rc = fn(ctx, vehicle_at(s, (uint32_t)i));

		if (rc)
			return rc;
	}
	return PW_OK;
}

size_t state_memory_bytes(const struct state *s)
{
	return sizeof(*s) + s->chunks_cap * sizeof(*s->chunks) +
	       s->n_chunks * STATE_CHUNK_LEN * sizeof(struct pw_vehicle) +
	       s->n_slots * sizeof(*s->slots) + dtcset_memory_bytes(s->dtcs);
}

enum pw_seq_class state_classify_seq(const struct pw_vehicle *v, int64_t seq)
{
	uint64_t d;

	if (!v || v->seq_max < 0 || seq > v->seq_max)
		return PW_SEQ_NEW;
	d = (uint64_t)v->seq_max - (uint64_t)seq;
	if (d >= PW_SEQ_WINDOW)
		return PW_SEQ_BELOW_WINDOW;
	return (v->seq_window >> d) & 1u ? PW_SEQ_DUPLICATE : PW_SEQ_NEW;
}

void state_vehicle_init(struct pw_vehicle *v, const char *vin)
{
	memset(v, 0, sizeof(*v));
	if (vin) {
		memcpy(v->vin, vin, strnlen(vin, PW_VIN_LEN));
		memcpy(v->latest.vin, v->vin, sizeof(v->vin));
	}
	v->seq_max = -1;
	v->history_bucket = -1;
	v->latest.seq = -1;
}

/* Appends [lo, hi] to res->gaps, merging with the previous range when adjacent.
 * Callers add ranges in increasing order. */
static void gap_add(struct state_merge_result *res, int64_t lo, int64_t hi)
{
	if (res->n_gaps > 0 && res->gaps[res->n_gaps - 1].hi + 1 == lo) {
		res->gaps[res->n_gaps - 1].hi = hi;
		return;
	}
	/* at most 32 ranges from the window plus one jump: PW_GAPS_MAX holds them */
	res->gaps[res->n_gaps].lo = lo;
	res->gaps[res->n_gaps].hi = hi;
	res->n_gaps++;
}

/* Records `seq` as applied. Seqs that slide out of the window unseen, and
 * everything jumped over, become gaps; only seqs below the window are ever
 * reported, so a gap and the window never overlap. */
static void seq_apply(struct pw_vehicle *v, int64_t seq, struct state_merge_result *res)
{
	uint64_t k;

	if (v->seq_max < 0) {
		v->seq_max = seq;
		v->seq_window = 1;
		/* window positions below seq 0 are not seqs: mark them seen */
		if (seq < PW_SEQ_WINDOW - 1)
			v->seq_window |= ~0ull << (seq + 1);
		if (seq >= PW_SEQ_WINDOW)
			gap_add(res, 0, seq - PW_SEQ_WINDOW);
		return;
	}
	if (seq <= v->seq_max) {
		k = (uint64_t)v->seq_max - (uint64_t)seq;
		if (k < PW_SEQ_WINDOW)
			v->seq_window |= 1ull << k;
		return; /* below the window: the caller took it out of the store's gaps */
	}
	k = (uint64_t)seq - (uint64_t)v->seq_max;
	/* bits 63 .. 64-k slide out, oldest seq first */
	for (int i = PW_SEQ_WINDOW - 1; i >= 0 && (uint64_t)i + k >= PW_SEQ_WINDOW; i--)
		if (!((v->seq_window >> i) & 1u))
			gap_add(res, v->seq_max - i, v->seq_max - i);
	if (k > PW_SEQ_WINDOW)
		gap_add(res, v->seq_max + 1, seq - PW_SEQ_WINDOW);
	v->seq_window = k >= PW_SEQ_WINDOW ? 0 : v->seq_window << k;
	v->seq_window |= 1u;
	v->seq_max = seq;
}

static int cmp_num(double a, double b)
{
	return (a > b) - (a < b);
}

/* Does a value of ts `ts` replace the current one (set at `cur_ts`, `has`
 * set)? `cmp` orders the new value against the current one for ties. */
static int wins(int has, int64_t cur_ts, int64_t ts, int cmp)
{
	return !has || ts > cur_ts || (ts == cur_ts && cmp > 0);
}

static int dtc_cmp_entry(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct pw_dtc));
}

/* Copies `n` entries canonically: codes NUL-padded, sorted, exact duplicates dropped. */
static int dtc_canonical(const struct pw_dtc *in, int n, struct pw_dtc *out)
{
	int m = 0;

	for (int i = 0; i < n && i < PW_DTC_MAX; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		memcpy(out[i].code, in[i].code, strnlen(in[i].code, sizeof(in[i].code) - 1));
		out[i].status = in[i].status;
		out[i].mil = in[i].mil ? 1 : 0;
	}
	if (n > PW_DTC_MAX)
		n = PW_DTC_MAX;
	qsort(out, (size_t)n, sizeof(*out), dtc_cmp_entry);
	for (int i = 0; i < n; i++)
		if (m == 0 || dtc_cmp_entry(&out[m - 1], &out[i]) != 0)
			out[m++] = out[i];
	return m;
}

static int dtc_cmp_set(const struct pw_dtc *a, int na, const struct pw_dtc *b, int nb)
{
	if (na != nb)
		return na < nb ? -1 : 1;
	return na ? memcmp(a, b, (size_t)na * sizeof(*a)) : 0;
}

static void merge_odometer(struct pw_vehicle *v, const struct pw_telemetry *t,
                           struct state_merge_result *res)
{
	const int g = 0; /* PW_F_ODOMETER */
	int has = (v->latest.has & PW_F_ODOMETER) != 0;
	int64_t cur_ts = v->group_ts_ms[g];
	double cur = v->latest.odometer_km;

	if (has && ((t->ts_ms > cur_ts && t->odometer_km < cur) ||
	            (t->ts_ms < cur_ts && t->odometer_km > cur))) {
		res->odometer_rollback = 1;
		v->odometer_rollbacks++;
	}
	if (has && !(t->odometer_km > cur || (t->odometer_km == cur && t->ts_ms > cur_ts)))
		return;
	if (!has || t->odometer_km != cur)
		res->changed = 1;
	v->latest.odometer_km = t->odometer_km;
	v->group_ts_ms[g] = t->ts_ms;
	v->latest.has |= PW_F_ODOMETER;
}

/* A float field of one group: applies it when it wins. */
static void merge_float(struct pw_vehicle *v, const struct pw_telemetry *t, uint32_t flag, int g,
                        float *cur, float val, struct state_merge_result *res)
{
	int has = (v->latest.has & flag) != 0;

	if (!(t->has & flag) || !wins(has, v->group_ts_ms[g], t->ts_ms, cmp_num(val, *cur)))
		return;
	if (!has || *cur != val)
		res->changed = 1;
	*cur = val;
	v->group_ts_ms[g] = t->ts_ms;
	v->latest.has |= flag;
}

static void merge_tires(struct pw_vehicle *v, const struct pw_telemetry *t,
                        struct state_merge_result *res)
{
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		const struct pw_tire *in = &t->tires[w];
		struct pw_tire *cur = &v->latest.tires[w];

		for (int m = 0; m < PW_TIRE_MEMBERS; m++) {
			uint8_t bit = (uint8_t)(1u << m);
			float *curv = m == 0 ? &cur->kpa : m == 1 ? &cur->tread_mm : &cur->temp_c;
			float val = m == 0 ? in->kpa : m == 1 ? in->tread_mm : in->temp_c;
			int has = (cur->has & bit) != 0;
			int64_t *ts = &v->tire_member_ts_ms[w][m];

			if (!(in->has & bit) || !wins(has, *ts, t->ts_ms, cmp_num(val, *curv)))
				continue;
			if (!has || *curv != val)
				res->changed = 1;
			*curv = val;
			*ts = t->ts_ms;
			cur->has |= bit;
			v->latest.has |= PW_F_TIRES;
		}
	}
	/* wheel and group ts: the newest member ts (members only move forward in
	 * (ts, value) order, but a member's ts may go back; recompute) */
	v->group_ts_ms[9] = 0;
	for (int w = 0; w < PW_TIRE_COUNT; w++) {
		int64_t newest = state_tire_ts_ms(v, w);

		if (newest > v->group_ts_ms[9])
			v->group_ts_ms[9] = newest;
	}
}

int64_t state_tire_ts_ms(const struct pw_vehicle *v, int w)
{
	int64_t newest = 0;

	for (int m = 0; m < PW_TIRE_MEMBERS; m++)
		if ((v->latest.tires[w].has & (1u << m)) && v->tire_member_ts_ms[w][m] > newest)
			newest = v->tire_member_ts_ms[w][m];
	return newest;
}

/* Only a set that changed is interned: the same set again costs a sort and
 * a compare, no allocation. */
static int merge_dtc(struct dtcset_pool *sets, struct pw_vehicle *v, const struct pw_telemetry *t,
                     struct state_merge_result *res)
{
	const int g = 10; /* PW_F_DTC */
	struct pw_dtc set[PW_DTC_MAX];
	int n = dtc_canonical(t->dtc, t->dtc_count, set);
	int has = (v->latest.has & PW_F_DTC) != 0;
	int cur_n = has ? v->latest.dtc_count : 0;
	int cmp = dtc_cmp_set(set, n, v->latest.dtc, cur_n);

	if (!wins(has, v->group_ts_ms[g], t->ts_ms, cmp))
		return PW_OK;
	if (cmp != 0) {
		const struct pw_dtc *shared = NULL;

		if (n > 0 && dtcset_intern(sets, set, n, &shared) != PW_OK)
			return PW_ENOMEM;
		v->latest.dtc = shared;
		v->latest.dtc_count = (uint8_t)n;
		res->dtc_changed = 1;
		res->changed = 1;
	}
	if (!has)
		res->changed = 1;
	v->group_ts_ms[g] = t->ts_ms;
	v->latest.has |= PW_F_DTC;
	return PW_OK;
}

static int cmp_position(const struct pw_telemetry *t, const struct pw_latest *cur)
{
	int c = cmp_num(t->lat, cur->lat);

	return c ? c : cmp_num(t->lon, cur->lon);
}

int state_merge(struct dtcset_pool *sets, const struct pw_vehicle *cur,
                const struct pw_telemetry *t, int64_t history_interval_ms, struct pw_vehicle *next,
                struct state_merge_result *res)
{
	struct pw_latest *l = &next->latest;
	int first;
	int64_t bucket;

	memset(res, 0, sizeof(*res));
	if (cur) {
		if (cur != next)
			memcpy(next, cur, sizeof(*next));
	} else {
		state_vehicle_init(next, t->vin);
		res->new_vehicle = 1;
	}
	first = next->msg_count == 0 && next->seq_max < 0;
	res->late = !first && t->ts_ms < next->ts_ms;

	seq_apply(next, t->seq, res);

	if (t->has & PW_F_ODOMETER)
		merge_odometer(next, t, res);
	merge_float(next, t, PW_F_SPEED, 1, &l->speed_kmh, t->speed_kmh, res);
	if ((t->has & PW_F_IGNITION) && wins((l->has & PW_F_IGNITION) != 0, next->group_ts_ms[2],
	                                     t->ts_ms, cmp_num(t->ignition, l->ignition))) {
		if (!(l->has & PW_F_IGNITION) || l->ignition != t->ignition)
			res->changed = 1;
		l->ignition = t->ignition;
		next->group_ts_ms[2] = t->ts_ms;
		l->has |= PW_F_IGNITION;
	}
	merge_float(next, t, PW_F_FUEL_PCT, 3, &l->fuel_pct, t->fuel_pct, res);
	merge_float(next, t, PW_F_FUEL_RATE, 4, &l->fuel_l_per_100km, t->fuel_l_per_100km, res);
	merge_float(next, t, PW_F_BATTERY, 5, &l->battery_v, t->battery_v, res);
	if ((t->has & PW_F_ENGINE_HOURS) &&
	    wins((l->has & PW_F_ENGINE_HOURS) != 0, next->group_ts_ms[6], t->ts_ms,
	         cmp_num(t->engine_hours, l->engine_hours))) {
		if (!(l->has & PW_F_ENGINE_HOURS) || l->engine_hours != t->engine_hours)
			res->changed = 1;
		l->engine_hours = t->engine_hours;
		next->group_ts_ms[6] = t->ts_ms;
		l->has |= PW_F_ENGINE_HOURS;
	}
	if ((t->has & PW_F_POSITION) && wins((l->has & PW_F_POSITION) != 0, next->group_ts_ms[7],
	                                     t->ts_ms, cmp_position(t, l))) {
		if (!(l->has & PW_F_POSITION) || cmp_position(t, l) != 0)
			res->changed = 1;
		l->lat = t->lat;
		l->lon = t->lon;
		next->group_ts_ms[7] = t->ts_ms;
		l->has |= PW_F_POSITION;
	}
	merge_float(next, t, PW_F_HEADING, 8, &l->heading_deg, t->heading_deg, res);
	if (t->has & PW_F_TIRES)
		merge_tires(next, t, res);
	if ((t->has & PW_F_DTC) && merge_dtc(sets, next, t, res) != PW_OK)
		return PW_ENOMEM;

	next->msg_count++;
	if (first || t->ts_ms > next->ts_ms)
		next->ts_ms = t->ts_ms;
	l->seq = next->seq_max;
	l->ts_ms = next->ts_ms;
	l->unknown_fields = 0;

	bucket = history_interval_ms > 0 ? t->ts_ms / history_interval_ms : t->ts_ms;
	if (first || next->history_bucket < 0 || bucket != next->history_bucket)
		res->history_due = 1;
	if (bucket > next->history_bucket)
		next->history_bucket = bucket;
	return PW_OK;
}

void state_merge_status(const struct pw_vehicle *cur, const char *vin, int online, int64_t ts_ms,
                        struct pw_vehicle *next)
{
	online = online ? 1 : 0;
	if (cur) {
		if (cur != next)
			memcpy(next, cur, sizeof(*next));
	} else {
		state_vehicle_init(next, vin);
	}
	/* newer wins; at an equal ts "offline" wins: a device's will message
	 * carries the ts of the connect whose "online" it ends */
	if (ts_ms > next->status_ts_ms || (ts_ms == next->status_ts_ms && !online)) {
		next->status_ts_ms = ts_ms;
		next->online = (uint8_t)online;
	}
}
