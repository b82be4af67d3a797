/*
 * ingest — one MQTT message in, its effects committed, its verdicts out.
 *
 * For a telemetry message (one object or a batch) every object is judged
 * alone: rejected ones are reported, duplicates by (vin, seq) are skipped,
 * the rest are merged into a working copy of their vehicle and written to
 * SQLite. The message is committed either as its own transaction or, in
 * journal mode, by appending it to the journal while its writes join the
 * open group transaction (see ingest.h). Only once it is committed are the
 * working copies put into the in-memory state table and the metrics counted;
 * a failure leaves memory untouched and the message unacknowledged.
 *
 * A vehicle's vehicle_state row is written once per transaction, not once
 * per object: a changed vehicle is noted dirty (row_dirty in its copy, its
 * VIN in `dirty`), and the commit writes each noted row from the newest copy
 * just before it. A group of 1000 messages from 1000 cars writes each car's
 * row once; the journal holds every message since the last commit, so a
 * crash before it loses nothing. No other connection sees the difference:
 * it reads only what is committed, and committed rows are what they were.
 * Inside the transaction two readers want a row before the commit: the
 * maintenance hook is given the merged vehicle instead (alerts.h), and a
 * new visit's health brief has ingest write the row first (write_row_now,
 * arrival_store_set_row_hook).
 *
 * Thread: the core thread only. Everything per message lives in buffers of
 * struct ingest allocated once: no allocation on the hot path, but for a
 * DTC set no vehicle holds yet (interned, dtcset.h). After each message,
 * its working copies gone, the sets no vehicle holds any more are freed.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest.h"
#include "catchup.h"
#include "frames.h"
#include "log.h"

struct ingest {
	struct ingest_options opt;
	int64_t history_interval_ms;
	struct decode_batch batch;               /* decode output, reused */
	struct pw_vehicle pending[PW_BATCH_MAX]; /* working copies of this message's vehicles */
	int n_pending;
	struct log_limiter reject_log;
	int txn_open;            /* a transaction is open on the store */
	long txn_messages;       /* messages in the open group transaction */
	uint64_t txn_started_us; /* monotonic time it opened */
	uint64_t txn_last_us;    /* ... and its last message came */
	int batch_max_messages;
	uint64_t batch_max_us;
	uint64_t idle_us;               /* a pause this long commits the group (the tick) */
	int replaying;                  /* replaying the journal: no appends, no metrics */
	char frame[FRAMES_VEHICLE_MAX]; /* a vehicle frame being rendered */
	struct catchup *owe_all;        /* vehicles a frame is owed to everyone, by due time */
	struct catchup *owe_lists;      /* ... to the list consoles */
	int wrote;     /* this message wrote rows beyond its vehicles' (a plate read) */
	int flush_now; /* a visit was opened: commit the group at once (displays wait) */
	int urgent;    /* ... and it was: ingest_take_urgent tells the tick */
	/* vehicles whose vehicle_state row the open transaction still has to
	 * write (their copies' row_dirty is set); grows by doubling, kept */
	char (*dirty)[PW_VIN_LEN + 1];
	int n_dirty, dirty_cap;
};

static int write_row_now(void *ctx, const char *vin, const struct pw_vehicle *merged);

struct ingest *ingest_new(const struct ingest_options *opt)
{
	struct ingest *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->opt = *opt;
	in->history_interval_ms = (int64_t)opt->history_interval_s * 1000;
	if (in->history_interval_ms <= 0)
		in->history_interval_ms = 300 * 1000;
	in->batch_max_messages =
	    opt->batch_max_messages > 0 ? opt->batch_max_messages : INGEST_GROUP_MESSAGES;
	in->batch_max_us =
	    (uint64_t)(opt->batch_max_ms > 0 ? opt->batch_max_ms : INGEST_GROUP_MS) * 1000;
	in->idle_us =
	    (uint64_t)(opt->group_idle_ms > 0 ? opt->group_idle_ms : INGEST_IDLE_MS) * 1000;
	log_limiter_init(&in->reject_log, 20, 10 * 1000);
	in->owe_all = catchup_new();
	in->owe_lists = catchup_new();
	if (!in->owe_all || !in->owe_lists) {
		ingest_free(in);
		return NULL;
	}
	if (opt->arrivals)
		arrival_store_set_row_hook(opt->arrivals, write_row_now, in);
	return in;
}

void ingest_free(struct ingest *in)
{
	if (!in)
		return;
	if (in->opt.arrivals)
		arrival_store_set_row_hook(in->opt.arrivals, NULL, NULL);
	catchup_free(in->owe_all);
	catchup_free(in->owe_lists);
	free(in->dirty);
	free(in);
}

static uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void add_reject(struct ingest *in, struct ingest_output *out, const char *topic,
                       size_t topic_len, enum pw_reject reason, int index, const char *detail)
{
	out->rejected++;
	if (out->n_rejects < (int)PW_ARRAY_LEN(out->rejects)) {
		struct ingest_reject *r = &out->rejects[out->n_rejects++];

		r->reason = reason;
		r->index = index;
		snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
	}
	if (log_limiter_allow(&in->reject_log, "ingest", clock_real_ms())) {
		char where[24] = "";

		if (index >= 0)
			snprintf(where, sizeof(where), " [%d]", index);
		log_info("ingest", "rejected %s on %.*s%s: %s", decode_reason_name(reason),
		         (int)(topic_len > 200 ? 200 : topic_len), topic, where,
		         detail && *detail ? detail : "-");
	}
}

/* The working copy for `vin` within this message, or NULL. */
static struct pw_vehicle *pending_find(struct ingest *in, const char *vin)
{
	for (int i = 0; i < in->n_pending; i++)
		if (strcmp(in->pending[i].vin, vin) == 0)
			return &in->pending[i];
	return NULL;
}

/* The vehicle as this message sees it: its working copy, else the table's. */
static const struct pw_vehicle *current_vehicle(struct ingest *in, const char *vin)
{
	const struct pw_vehicle *v = pending_find(in, vin);

	return v ? v : state_find(in->opt.state, vin);
}

/* arrival_store's row hook: a new visit's brief is about to read the row
 * of `vin`; writes it if it is behind (`merged`: this object's vehicle).
 * It stays noted: the commit writes it again, with what came after. */
static int write_row_now(void *ctx, const char *vin, const struct pw_vehicle *merged)
{
	struct ingest *in = ctx;
	const struct pw_vehicle *v = merged ? merged : current_vehicle(in, vin);

	if (!v || !v->row_dirty)
		return PW_OK;
	return store_put_vehicle(in->opt.store, v) == PW_OK ? PW_OK : PW_EIO;
}

/* Stores `next` as the working copy of its vehicle. */
static void pending_set(struct ingest *in, const struct pw_vehicle *next)
{
	struct pw_vehicle *slot = pending_find(in, next->vin);

	if (!slot) {
		/* at most PW_BATCH_MAX objects per message, so at most as many vehicles */
		slot = &in->pending[in->n_pending++];
	}
	if (slot != next)
		memcpy(slot, next, sizeof(*slot));
}

/* Notes that `next`'s vehicle_state row is to be written before the open
 * transaction commits: once per vehicle per transaction. With no memory to
 * note it in, writes the row now. */
static int note_row(struct ingest *in, struct pw_vehicle *next)
{
	if (next->row_dirty)
		return PW_OK; /* noted already */
	if (in->n_dirty == in->dirty_cap) {
		int cap = in->dirty_cap ? in->dirty_cap * 2 : 256;
		char(*grown)[PW_VIN_LEN + 1] = realloc(in->dirty, (size_t)cap * sizeof(*grown));

		if (!grown)
			return store_put_vehicle(in->opt.store, next) == PW_OK ? PW_OK : PW_EIO;
		in->dirty = grown;
		in->dirty_cap = cap;
	}
	memcpy(in->dirty[in->n_dirty++], next->vin, sizeof(next->vin));
	next->row_dirty = 1;
	return PW_OK;
}

/* Decides whether object `t` was applied before. PW_OK and *dup set, or PW_EIO. */
static int is_duplicate(struct ingest *in, const struct pw_telemetry *t, int *dup)
{
	const struct pw_vehicle *cur = current_vehicle(in, t->vin);
	int was_gap = 0;

	switch (state_classify_seq(cur, t->seq)) {
	case PW_SEQ_NEW:
		*dup = 0;
		return PW_OK;
	case PW_SEQ_DUPLICATE:
		*dup = 1;
		return PW_OK;
	case PW_SEQ_BELOW_WINDOW:
		if (store_take_seq_gap(in->opt.store, t->vin, t->seq, &was_gap) != PW_OK)
			return PW_EIO;
		*dup = !was_gap;
		return PW_OK;
	}
	return PW_EIO;
}

/* Merges one accepted, non-duplicate object and writes its rows. */
static int apply_telemetry(struct ingest *in, const struct pw_telemetry *t, int *rollback,
                           int *late)
{
	const struct pw_vehicle *cur = current_vehicle(in, t->vin);
	struct pw_vehicle next;
	struct state_merge_result res;

	if (state_merge(state_dtcsets(in->opt.state), cur, t, in->history_interval_ms, &next,
	                &res) != PW_OK) {
		log_error("ingest", "out of memory for the DTC set of %s", t->vin);
		return PW_EIO;
	}
	for (int i = 0; i < res.n_gaps; i++)
		if (store_add_seq_gap(in->opt.store, t->vin, res.gaps[i].lo, res.gaps[i].hi) !=
		    PW_OK)
			return PW_EIO;
	if (res.history_due &&
	    store_put_history(in->opt.store, t, t->ts_ms / in->history_interval_ms) != PW_OK)
		return PW_EIO;
	if (res.dtc_changed &&
	    store_put_dtc_change(in->opt.store, t->vin, t->ts_ms, next.latest.dtc,
	                         next.latest.dtc_count) != PW_OK)
		return PW_EIO;
	if (note_row(in, &next) != PW_OK)
		return PW_EIO;
	/* the rules: pure unless a verdict needs a row, in this same transaction */
	if (in->opt.alerts &&
	    alerts_on_telemetry(in->opt.alerts, cur, &next, t, res.late, res.odometer_rollback,
	                        res.dtc_changed, res.history_due) != PW_OK)
		return PW_EIO;
	if (in->opt.arrivals) {
		int opened = 0;

		if (arrival_store_on_telemetry(in->opt.arrivals, cur, &next, t, res.late,
		                               clock_now_ms(in->opt.clock), &opened) != PW_OK)
			return PW_EIO;
		in->flush_now |= opened;
	}
	pending_set(in, &next);
	*rollback += res.odometer_rollback;
	*late += res.late;
	return PW_OK;
}

struct tally {
	int accepted, duplicates, rollbacks, late;
	unsigned unknown_fields;
};

static int process_telemetry(struct ingest *in, const struct pw_topic *tp, const char *topic,
                             size_t topic_len, const void *payload, size_t len,
                             struct ingest_output *out, struct tally *tally)
{
	struct decode_batch *b = &in->batch;
	int64_t now_ms = clock_now_ms(in->opt.clock);

	if (decode_telemetry(tp->vin, payload, len, now_ms, b) != PW_OK) {
		add_reject(in, out, topic, topic_len, b->reason, -1, b->detail);
		return PW_OK;
	}
	for (int i = 0; i < b->count; i++) {
		const struct decode_item *it = &b->items[i];
		int dup = 0;

		if (it->reason != PW_REJ_NONE) {
			add_reject(in, out, topic, topic_len, it->reason, b->is_array ? i : -1,
			           it->detail);
			continue;
		}
		if (is_duplicate(in, &it->t, &dup) != PW_OK)
			return PW_EIO;
		if (dup) {
			tally->duplicates++;
			continue;
		}
		if (apply_telemetry(in, &it->t, &tally->rollbacks, &tally->late) != PW_OK)
			return PW_EIO;
		tally->accepted++;
		tally->unknown_fields += it->t.unknown_fields;
	}
	return PW_OK;
}

static int process_status(struct ingest *in, const struct pw_topic *tp, const char *topic,
                          size_t topic_len, const void *payload, size_t len,
                          struct ingest_output *out, struct tally *tally)
{
	struct pw_status st;
	enum pw_reject reason = PW_REJ_NONE;
	char detail[PW_DETAIL_MAX] = "";
	struct pw_vehicle next;

	if (!decode_vin_valid(tp->vin)) {
		add_reject(in, out, topic, topic_len, PW_REJ_BAD_VIN, -1, "topic vin");
		return PW_OK;
	}
	if (decode_status(payload, len, &st, &reason, detail, sizeof(detail)) != PW_OK) {
		add_reject(in, out, topic, topic_len, reason, -1, detail);
		return PW_OK;
	}
	state_merge_status(current_vehicle(in, tp->vin), tp->vin, st.online, st.ts_ms, &next);
	if (note_row(in, &next) != PW_OK)
		return PW_EIO;
	pending_set(in, &next);
	tally->accepted++;
	return PW_OK;
}

static int process_anpr(struct ingest *in, const struct pw_topic *tp, const char *topic,
                        size_t topic_len, const void *payload, size_t len,
                        struct ingest_output *out, struct tally *tally)
{
	struct pw_plate_read pr;
	enum pw_reject reason = PW_REJ_NONE;
	char detail[PW_DETAIL_MAX] = "";

	if (strcmp(tp->site, in->opt.site_id) != 0) {
		add_reject(in, out, topic, topic_len, PW_REJ_BAD_TOPIC, -1, "another site");
		return PW_OK;
	}
	if (decode_anpr(payload, len, clock_now_ms(in->opt.clock), &pr, &reason, detail,
	                sizeof(detail)) != PW_OK) {
		add_reject(in, out, topic, topic_len, reason, -1, detail);
		return PW_OK;
	}
	log_debug("ingest", "plate read %s by %s (%.2f)", pr.plate, pr.camera, pr.confidence);
	if (in->opt.arrivals) {
		char vin[PW_VIN_LEN + 1];
		const struct pw_vehicle *cur;
		int opened = 0;

		if (arrival_store_on_plate(in->opt.arrivals, &pr, clock_now_ms(in->opt.clock),
		                           &opened, vin) != PW_OK)
			return PW_EIO;
		in->wrote = 1;
		in->flush_now |= opened;
		if (vin[0] && (cur = current_vehicle(in, vin)) != NULL && !cur->fence.open) {
			struct pw_vehicle next = *cur;

			/* its departure closes the visit */
			geofence_mark_open(&next.fence, pr.ts_ms);
			pending_set(in, &next);
		}
	}
	tally->accepted++;
	return PW_OK;
}

/* Notes in `v` that it owes a frame (`owed`: FRAMES_OWED_ALL or _LISTS),
 * queued once, due `in_ms` from monotonic ms `now`. A queue that cannot
 * grow leaves the debt to the vehicle's next message. */
static void owe(struct ingest *in, struct pw_vehicle *v, unsigned owed, int64_t now, int64_t in_ms)
{
	unsigned queued = owed == FRAMES_OWED_ALL ? FRAMES_QUEUED_ALL : FRAMES_QUEUED_LISTS;
	struct catchup *q = owed == FRAMES_OWED_ALL ? in->owe_all : in->owe_lists;

	v->frame_owed |= (uint8_t)owed;
	if (!(v->frame_owed & queued) && catchup_push(q, v->vin, now + in_ms) == PW_OK)
		v->frame_owed |= (uint8_t)queued;
}

/* Renders and pushes `v`'s frame now and records it in `v`. */
static void send_frame(struct ingest *in, struct pw_vehicle *v, const struct frames_badges *b,
                       uint16_t sig, int64_t now)
{
	uint32_t now_ms = (uint32_t)now;
	int minor = frames_minor(v, sig, now_ms);
	size_t len;

	if (frames_render_vehicle(v, b, in->frame, sizeof(in->frame), &len) != PW_OK)
		return; /* cannot happen: the buffer fits the longest frame */
	hub_push(in->opt.hub, HUB_ADVISOR, v->vin, minor ? HUB_MINOR : 0u, in->frame, len);
	frames_mark_sent(v, sig, now_ms);
	v->frame_owed &= (uint8_t) ~(FRAMES_OWED_ALL | FRAMES_OWED_LISTS);
	if (minor) /* the lists see it at the next window's first frame, or when
	            * the car has been quiet for FRAMES_LIST_MS */
		owe(in, v, FRAMES_OWED_LISTS, now, FRAMES_LIST_MS);
}

/* The WebSocket frame of a committed vehicle, when one is due; records it
 * in `v` (about to be put into the state table). `now`: monotonic ms. */
static void vehicle_frame(struct ingest *in, struct pw_vehicle *v, int64_t now)
{
	struct frames_badges b;
	uint16_t sig;
	uint32_t now_ms = (uint32_t)now;

	frames_vehicle_badges(in->opt.rules, v, &b);
	sig = frames_signature(&b, v);
	if (!frames_due(v, sig, now_ms, in->opt.frame_interval_ms)) {
		/* not due means less than the interval since the last frame */
		owe(in, v, FRAMES_OWED_ALL, now,
		    in->opt.frame_interval_ms - (int64_t)(uint32_t)(now_ms - v->frame_ms));
		return;
	}
	send_frame(in, v, &b, sig, now);
}

/* Settles what vehicle `vin` owes of kind `owed` (its queue entry just
 * fell due): the frame, if still owed and due; else a new entry. */
static void catch_up_one(struct ingest *in, const char *vin, unsigned owed, int64_t now)
{
	const struct pw_vehicle *cur = state_find(in->opt.state, vin);
	uint32_t now_ms = (uint32_t)now;
	struct pw_vehicle next;
	struct frames_badges b;
	uint16_t sig;
	uint32_t since;

	if (!cur)
		return;
	next = *cur;
	next.frame_owed &=
	    (uint8_t) ~(owed == FRAMES_OWED_ALL ? FRAMES_QUEUED_ALL : FRAMES_QUEUED_LISTS);
	if (!(next.frame_owed & owed))
		goto put; /* a frame went out meanwhile */
	frames_vehicle_badges(in->opt.rules, &next, &b);
	sig = frames_signature(&b, &next);
	since = now_ms - next.frame_ms;
	if (owed == FRAMES_OWED_ALL && !frames_due(&next, sig, now_ms, in->opt.frame_interval_ms))
		/* a frame went out since, and a later message owes again */
		owe(in, &next, owed, now, in->opt.frame_interval_ms - (int64_t)since);
	else if (owed == FRAMES_OWED_LISTS && since < FRAMES_LIST_MS)
		/* still reporting: each window's first frame reaches the lists
		 * anyway, and a frame now would hold back its next real one for
		 * the interval; look again once it is quiet */
		owe(in, &next, owed, now, FRAMES_LIST_MS - since);
	else
		send_frame(in, &next, &b, sig, now);
put:
	if (state_put(in->opt.state, &next) != PW_OK)
		log_error("ingest", "out of memory keeping %s; it reloads at restart", vin);
}

void ingest_catch_up(struct ingest *in)
{
	char vin[PW_VIN_LEN + 1];
	int64_t now = (int64_t)(monotonic_us() / 1000);

	if (!in->opt.hub || !in->opt.rules)
		return;
	while (catchup_pop_due(in->owe_all, now, vin))
		catch_up_one(in, vin, FRAMES_OWED_ALL, now);
	while (catchup_pop_due(in->owe_lists, now, vin))
		catch_up_one(in, vin, FRAMES_OWED_LISTS, now);
}

/* Opens the transaction this message's writes go into: its own, or the
 * group's (journal mode) if one is open already. */
static int open_transaction(struct ingest *in)
{
	if (in->txn_open)
		return PW_OK;
	if (store_begin(in->opt.store) != PW_OK)
		return PW_EIO;
	in->txn_open = 1;
	in->txn_messages = 0;
	in->txn_started_us = monotonic_us();
	in->txn_last_us = in->txn_started_us;
	return PW_OK;
}

/* Writes the row of every vehicle noted since the transaction opened, from
 * its newest copy: this message's working copy, else the table's. */
static int write_rows(struct ingest *in)
{
	for (int i = 0; i < in->n_dirty; i++) {
		const struct pw_vehicle *v = current_vehicle(in, in->dirty[i]);

		if (v && store_put_vehicle(in->opt.store, v) != PW_OK)
			return PW_EIO;
	}
	return PW_OK;
}

/* The noted rows are committed: no copy is dirty any more. */
static void rows_committed(struct ingest *in)
{
	for (int i = 0; i < in->n_dirty; i++) {
		struct pw_vehicle *p = pending_find(in, in->dirty[i]);

		if (p)
			p->row_dirty = 0;
		state_clear_row_dirty(in->opt.state, in->dirty[i]);
	}
	in->n_dirty = 0;
}

int ingest_flush(struct ingest *in)
{
	uint64_t t0;

	if (!in->txn_open)
		return PW_OK;
	t0 = monotonic_us();
	in->txn_open = 0;
	if (write_rows(in) != PW_OK || store_commit(in->opt.store) != PW_OK) {
		store_rollback(in->opt.store);
		return PW_EIO;
	}
	rows_committed(in);
	metrics_add_commit_us(in->opt.metrics, monotonic_us() - t0);
	/* a group filled during a replay must not empty the journal under it:
	 * the records after the group would never be replayed (lost, though
	 * acknowledged); ingest_replay_journal empties it once all are in */
	if (in->opt.journal && !in->replaying && journal_reset(in->opt.journal) != PW_OK)
		return PW_EIO;
	return PW_OK;
}

/* Journal mode: the message is committed once its record is written. */
static int commit_message(struct ingest *in, const char *topic, size_t topic_len,
                          const void *payload, size_t len)
{
	if (!in->opt.journal)
		return ingest_flush(in);
	if (!in->replaying && journal_append(in->opt.journal, topic, topic_len, payload, len))
		return PW_EIO;
	in->txn_messages++;
	in->txn_last_us = monotonic_us();
	if (in->txn_messages >= in->batch_max_messages ||
	    in->txn_last_us - in->txn_started_us >= in->batch_max_us)
		return ingest_flush(in);
	return PW_OK;
}

int ingest_group_open(const struct ingest *in)
{
	return in->txn_open;
}

int ingest_take_urgent(struct ingest *in)
{
	int urgent = in->urgent;

	in->urgent = 0;
	return urgent;
}

int ingest_flush_idle(struct ingest *in)
{
	uint64_t now = monotonic_us();

	if (!in->txn_open ||
	    (now - in->txn_last_us < in->idle_us && now - in->txn_started_us < in->batch_max_us))
		return PW_OK;
	return ingest_flush(in);
}

static void count_outcome(struct ingest *in, const struct ingest_output *out,
                          const struct tally *tally, enum pw_topic_kind kind)
{
	struct metrics *m = in->opt.metrics;

	if (in->replaying)
		return;
	for (int i = 0; i < tally->accepted; i++)
		metrics_count_message(m, PW_MSG_ACCEPTED);
	for (int i = 0; i < tally->duplicates; i++)
		metrics_count_message(m, PW_MSG_DUPLICATE);
	for (int i = 0; i < out->rejected; i++)
		metrics_count_message(m, PW_MSG_REJECTED);
	for (int i = 0; i < out->n_rejects; i++)
		metrics_count_reject(m, out->rejects[i].reason);
	for (int i = 0; i < tally->rollbacks; i++)
		metrics_count_odometer_rollback(m);
	for (int i = 0; i < tally->late; i++)
		metrics_count_late(m);
	if (tally->unknown_fields)
		metrics_count_unknown_fields(m, tally->unknown_fields);
	if (kind == PW_TOPIC_STATUS && tally->accepted)
		metrics_count_status(m);
	if (kind == PW_TOPIC_ANPR && tally->accepted)
		metrics_count_anpr(m);
	metrics_set_vehicles(m, state_count(in->opt.state));
}

int ingest_process(struct ingest *in, const char *topic, size_t topic_len, const void *payload,
                   size_t len, struct ingest_output *out)
{
	struct pw_topic tp;
	struct tally tally = {0};
	int rc = PW_OK;
	int n_dirty = in->n_dirty; /* rows noted before this message */

	memset(out, 0, offsetof(struct ingest_output, rejects));
	in->n_pending = 0;
	if (!in->replaying)
		metrics_count_mqtt_message(in->opt.metrics);

	if (decode_topic(topic, topic_len, &tp) != PW_OK) {
		add_reject(in, out, topic, topic_len, PW_REJ_BAD_TOPIC, -1, "unknown topic");
		goto count;
	}
	if (tp.kind == PW_TOPIC_ANPR && !in->opt.arrivals) {
		/* no arrivals: plate reads are checked, counted and logged */
		process_anpr(in, &tp, topic, topic_len, payload, len, out, &tally);
		goto count;
	}
	in->wrote = 0;
	in->flush_now = 0;
	if (open_transaction(in) != PW_OK)
		return PW_EIO;
	if (tp.kind == PW_TOPIC_TELEMETRY)
		rc = process_telemetry(in, &tp, topic, topic_len, payload, len, out, &tally);
	else if (tp.kind == PW_TOPIC_ANPR)
		rc = process_anpr(in, &tp, topic, topic_len, payload, len, out, &tally);
	else
		rc = process_status(in, &tp, topic, topic_len, payload, len, out, &tally);
	if (rc == PW_OK && (in->n_pending > 0 || in->wrote)) {
		rc = commit_message(in, topic, topic_len, payload, len);
		/* a visit opened: to the displays without waiting for the group */
		if (rc == PW_OK && in->flush_now && in->txn_open && !in->replaying) {
			rc = ingest_flush(in);
			in->urgent = 1;
		}
	} else if (rc == PW_OK && !in->opt.journal)
		rc = ingest_flush(in); /* nothing written: ends the empty transaction */
	if (rc != PW_OK) {
		if (in->txn_open)
			store_rollback(in->opt.store);
		in->txn_open = 0;
		in->n_pending = 0;
		/* what this message noted went with its copies (journal mode: the
		 * group with it; the caller exits and the replay redoes it) */
		if (in->n_dirty > n_dirty)
			in->n_dirty = n_dirty;
		dtcset_collect(state_dtcsets(in->opt.state)); /* what the copies interned */
		return PW_EIO;
	}
	/* committed: memory may follow now (and the browsers) */
	if (in->opt.hub && in->opt.rules && !in->replaying) {
		int64_t now = (int64_t)(monotonic_us() / 1000);

		for (int i = 0; i < in->n_pending; i++)
			vehicle_frame(in, &in->pending[i], now);
	}
	for (int i = 0; i < in->n_pending; i++) {
		struct pw_vehicle *p = &in->pending[i];

		if (state_put(in->opt.state, p) == PW_OK)
			continue;
		log_error("ingest", "out of memory keeping %s; it reloads at restart", p->vin);
		/* the commit cannot write its row from the table: now, then */
		if (p->row_dirty && store_put_vehicle(in->opt.store, p) != PW_OK)
			rc =
			    PW_EIO; /* the journal has it: the caller exits, the replay redoes it */
	}
	/* the working copies are done with: DTC sets no vehicle holds can go */
	in->n_pending = 0;
	dtcset_collect(state_dtcsets(in->opt.state));
	if (rc != PW_OK)
		return rc;
count:
	out->accepted = tally.accepted;
	out->duplicates = tally.duplicates;
	count_outcome(in, out, &tally, tp.kind);
	return PW_OK;
}

struct replay_ctx {
	struct ingest *in;
	struct ingest_output out;
};

static int replay_one(void *ctx, const char *topic, size_t topic_len, const void *payload,
                      size_t len)
{
	struct replay_ctx *rc = ctx;

	return ingest_process(rc->in, topic, topic_len, payload, len, &rc->out) == PW_OK ? 0 : -1;
}

int ingest_replay_journal(struct ingest *in, long *replayed)
{
	struct replay_ctx *ctx;
	int rc;

	*replayed = 0;
	if (!in->opt.journal)
		return PW_OK;
	ctx = malloc(sizeof(*ctx));
	if (!ctx)
		return PW_ENOMEM;
	ctx->in = in;
	in->replaying = 1;
	rc = journal_replay(in->opt.journal, replay_one, ctx, replayed);
	in->replaying = 0;
	free(ctx);
	if (rc != PW_OK)
		return rc;
	/* commit what was replayed, and only then forget the records */
	if (open_transaction(in) != PW_OK || ingest_flush(in) != PW_OK)
		return PW_EIO;
	return PW_OK;
}
