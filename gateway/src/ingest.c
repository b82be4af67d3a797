/*
 * ingest — one MQTT message in, its effects committed, its verdicts out.
 *
 * For a telemetry message (one object or a batch) every object is judged
 * alone: rejected ones are reported, duplicates by (vin, seq) are skipped,
 * the rest are merged into a working copy of their vehicle. All writes of
 * one message go into one SQLite transaction; only after it commits are the
 * working copies put into the in-memory state table and the metrics counted.
 * A failed commit leaves memory untouched, so the redelivered message is
 * applied exactly once.
 *
 * Thread: the core thread only. Everything per message lives in buffers of
 * struct ingest allocated once: no allocation on the hot path beyond
 * Jansson's parse tree inside decode.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest.h"
#include "log.h"

struct pending {
	struct pw_vehicle v;
};

struct ingest {
	struct ingest_options opt;
	int64_t history_interval_ms;
	struct decode_batch batch;            /* decode output, reused */
	struct pending pending[PW_BATCH_MAX]; /* working copies of this message's vehicles */
	int n_pending;
	struct log_limiter reject_log;
};

struct ingest *ingest_new(const struct ingest_options *opt)
{
	struct ingest *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->opt = *opt;
	in->history_interval_ms = (int64_t)opt->history_interval_s * 1000;
	if (in->history_interval_ms <= 0)
		in->history_interval_ms = 300 * 1000;
	log_limiter_init(&in->reject_log, 20, 10 * 1000);
	return in;
}

void ingest_free(struct ingest *in)
{
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
		if (strcmp(in->pending[i].v.vin, vin) == 0)
			return &in->pending[i].v;
	return NULL;
}

/* The vehicle as this message sees it: its working copy, else the table's. */
static const struct pw_vehicle *current_vehicle(struct ingest *in, const char *vin)
{
	const struct pw_vehicle *v = pending_find(in, vin);

	return v ? v : state_find(in->opt.state, vin);
}

/* Stores `next` as the working copy of its vehicle. */
static void pending_set(struct ingest *in, const struct pw_vehicle *next)
{
	struct pw_vehicle *slot = pending_find(in, next->vin);

	if (!slot) {
		/* at most PW_BATCH_MAX objects per message, so at most as many vehicles */
		slot = &in->pending[in->n_pending++].v;
	}
	if (slot != next)
		memcpy(slot, next, sizeof(*slot));
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

	state_merge(cur, t, in->history_interval_ms, &next, &res);
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
	if (store_put_vehicle(in->opt.store, &next) != PW_OK)
		return PW_EIO;
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
	if (store_put_vehicle(in->opt.store, &next) != PW_OK)
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
	/* Arrival matching takes plate reads in a later issue; for now they are
	 * checked, counted and logged. */
	log_debug("ingest", "plate read %s by %s (%.2f)", pr.plate, pr.camera, pr.confidence);
	tally->accepted++;
	return PW_OK;
}

int ingest_process(struct ingest *in, const char *topic, size_t topic_len, const void *payload,
                   size_t len, struct ingest_output *out)
{
	struct pw_topic tp;
	struct tally tally = {0};
	int rc;
	int is_telemetry;

	memset(out, 0, offsetof(struct ingest_output, rejects));
	in->n_pending = 0;
	metrics_count_mqtt_message(in->opt.metrics);

	if (decode_topic(topic, topic_len, &tp) != PW_OK) {
		add_reject(in, out, topic, topic_len, PW_REJ_BAD_TOPIC, -1, "unknown topic");
		goto count;
	}
	is_telemetry = tp.kind == PW_TOPIC_TELEMETRY;
	if (tp.kind == PW_TOPIC_ANPR) {
		rc = process_anpr(in, &tp, topic, topic_len, payload, len, out, &tally);
		goto done;
	}
	if (store_begin(in->opt.store) != PW_OK)
		return PW_EIO;
	if (is_telemetry)
		rc = process_telemetry(in, &tp, topic, topic_len, payload, len, out, &tally);
	else
		rc = process_status(in, &tp, topic, topic_len, payload, len, out, &tally);
	if (rc == PW_OK) {
		uint64_t t0 = monotonic_us();

		rc = store_commit(in->opt.store) == PW_OK ? PW_OK : PW_EIO;
		metrics_add_commit_us(in->opt.metrics, monotonic_us() - t0);
	}
	if (rc != PW_OK) {
		store_rollback(in->opt.store);
		in->n_pending = 0;
		return PW_EIO;
	}
	for (int i = 0; i < in->n_pending; i++)
		if (state_put(in->opt.state, &in->pending[i].v) != PW_OK) {
			/* the row is committed; memory catches up at the next restart */
			log_error("ingest", "out of memory keeping %s in memory",
			          in->pending[i].v.vin);
		}
	metrics_set_vehicles(in->opt.metrics, state_count(in->opt.state));
	if (!is_telemetry)
		metrics_count_status(in->opt.metrics);
done:
	if (rc != PW_OK)
		return PW_EIO;
	if (tp.kind == PW_TOPIC_ANPR && tally.accepted)
		metrics_count_anpr(in->opt.metrics);
count:
	out->accepted = tally.accepted;
	out->duplicates = tally.duplicates;
	for (int i = 0; i < tally.accepted; i++)
		metrics_count_message(in->opt.metrics, PW_MSG_ACCEPTED);
	for (int i = 0; i < tally.duplicates; i++)
		metrics_count_message(in->opt.metrics, PW_MSG_DUPLICATE);
	for (int i = 0; i < out->rejected; i++)
		metrics_count_message(in->opt.metrics, PW_MSG_REJECTED);
	for (int i = 0; i < out->n_rejects; i++)
		metrics_count_reject(in->opt.metrics, out->rejects[i].reason);
	for (int i = 0; i < tally.rollbacks; i++)
		metrics_count_odometer_rollback(in->opt.metrics);
	for (int i = 0; i < tally.late; i++)
		metrics_count_late(in->opt.metrics);
	if (tally.unknown_fields)
		metrics_count_unknown_fields(in->opt.metrics, tally.unknown_fields);
	return PW_OK;
}
