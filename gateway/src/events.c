/*
 * events — event and in-car message JSON, the outbox and its drain (see
 * events.h for the promises).
 *
 * The writer side (events_emit) runs inside whoever's transaction raises an
 * alert: the core's group transaction, or a sweep chunk. It builds the JSON
 * with Jansson (events are rare: allocation here is not on the per-message
 * path), claims the (vin, kind, day) row of notify_sent for an in-car
 * message, and INSERTs outbox rows.
 *
 * The drain side keeps, in memory, the ids handed to MQTT and not yet
 * acknowledged (`inflight`, in id order) and the highest id handed out
 * (`sent_upto`). Acknowledgements arrive on the MQTT library's thread into
 * a small mutex-protected list; the next drain deletes those rows. A
 * refusal or a missing acknowledgement rewinds `sent_upto` to just before
 * the oldest unacknowledged row, so everything from there goes out again.
 */
#include "events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pw.h"

#define TOPIC_MAX 160

enum stmt_id {
	S_OUTBOX_INSERT,
	S_NOTIFY_CLAIM,
	S_OUTBOX_NEXT,
	S_OUTBOX_DELETE,
	S_OUTBOX_COUNT,
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
    [S_OUTBOX_INSERT] = "INSERT INTO outbox (created_ms, topic, event_type, payload) "
                        "VALUES (?1, ?2, ?3, ?4)",
    [S_NOTIFY_CLAIM] = "INSERT OR IGNORE INTO notify_sent (vin, kind, day) VALUES (?1, ?2, ?3)",
    [S_OUTBOX_NEXT] = "SELECT id, topic, event_type, payload FROM outbox WHERE id > ?1 "
                      "ORDER BY id LIMIT ?2",
    [S_OUTBOX_DELETE] = "DELETE FROM outbox WHERE id = ?1",
    [S_OUTBOX_COUNT] = "SELECT count(*) FROM outbox",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

struct inflight {
	int64_t id;
	int64_t sent_ms;
};

struct events {
	sqlite3 *db;
	sqlite3_stmt *stmt[S__COUNT];
	char site_id[64];
	char topic_events[TOPIC_MAX];
	void (*tap)(void *ctx, const char *json);
	void *tap_ctx;
	/* drain side: the drain's thread */
	int64_t sent_upto;
	int n_inflight;
	struct inflight inflight[EVENTS_INFLIGHT_MAX];
	int n_delete;
	int64_t to_delete[2 * EVENTS_INFLIGHT_MAX];
	/* acknowledgements: any thread, under `lock` */
	pthread_mutex_t lock;
	int n_acked;
	int64_t acked[2 * EVENTS_INFLIGHT_MAX];
	int refused; /* some publish was refused: resend from the oldest in flight */
	/* rows collected, to publish */
	int n_batch;
	struct batch_row {
		int64_t id;
		char *topic, *payload, *type;
		size_t len;
	} batch[EVENTS_INFLIGHT_MAX];
};

static void batch_clear(struct events *ev);

static int db_fail(struct events *ev, const char *what)
{
	log_error("events", "%s: %s", what, sqlite3_errmsg(ev->db));
	return PW_EIO;
}

struct events *events_open(sqlite3 *db, const char *site_id)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return NULL;
	ev->db = db;
	snprintf(ev->site_id, sizeof(ev->site_id), "%s", site_id ? site_id : "default");
	snprintf(ev->topic_events, sizeof(ev->topic_events), "pitwall/v1/sites/%s/events",
	         ev->site_id);
	pthread_mutex_init(&ev->lock, NULL);
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ev->stmt[i],
		                       NULL) != SQLITE_OK) {
			db_fail(ev, "preparing the outbox statements");
			events_close(ev);
			return NULL;
		}
	}
	return ev;
}

void events_close(struct events *ev)
{
	if (!ev)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(ev->stmt[i]);
	batch_clear(ev);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

void events_set_tap(struct events *ev, void (*fn)(void *ctx, const char *json), void *ctx)
{
	ev->tap = fn;
	ev->tap_ctx = ctx;
}

static int step_done(struct events *ev, enum stmt_id id, const char *what)
{
	sqlite3_stmt *s = ev->stmt[id];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return db_fail(ev, what);
	return PW_OK;
}

static int outbox_insert(struct events *ev, int64_t now_ms, const char *topic,
                         const char *event_type, const char *payload)
{
	sqlite3_stmt *s = ev->stmt[S_OUTBOX_INSERT];

	if (sqlite3_bind_int64(s, 1, now_ms) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, topic, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (event_type ? sqlite3_bind_text(s, 3, event_type, -1, SQLITE_STATIC)
	                : sqlite3_bind_null(s, 3)) != SQLITE_OK ||
	    sqlite3_bind_text(s, 4, payload, -1, SQLITE_STATIC) != SQLITE_OK) {
		sqlite3_reset(s);
		return db_fail(ev, "binding an outbox row");
	}
	return step_done(ev, S_OUTBOX_INSERT, "writing the outbox");
}

/* 1 if no message of `kind` went to `vin` on `day` (and claims it), 0 if one
 * did, or PW_EIO. */
static int notify_claim(struct events *ev, const char *vin, const char *kind, int32_t day)
{
	sqlite3_stmt *s = ev->stmt[S_NOTIFY_CLAIM];
	char date[16];

	rules_format_date(day, date, sizeof(date));
	if (sqlite3_bind_text(s, 1, vin, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, date, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		sqlite3_reset(s);
		return db_fail(ev, "binding notify_sent");
	}
	if (step_done(ev, S_NOTIFY_CLAIM, "writing notify_sent") != PW_OK)
		return PW_EIO;
	return sqlite3_changes(ev->db) > 0;
}

static char *dump(json_t *obj)
{
	return json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
}

int events_emit(struct events *ev, const struct events_item *it, int *notified)
{
	char id[48], topic[TOPIC_MAX];
	json_t *obj = json_object();
	char *text = NULL;
	int rc = PW_EIO, claimed;

	if (notified)
		*notified = 0;
	if (!obj)
		return PW_ENOMEM;
	snprintf(id, sizeof(id), "e%lld-%d", (long long)it->alert_id, it->seq);
	if (json_object_set_new(obj, "id", json_string(id)) ||
	    json_object_set_new(obj, "type", json_string(it->type)) ||
	    json_object_set_new(obj, "vin", json_string(it->vin)) ||
	    json_object_set_new(obj, "ts", json_integer(it->ts_ms)) ||
	    json_object_set_new(obj, "severity", json_string(rules_severity_name(it->severity))) ||
	    json_object_set_new(obj, "alert_id", json_integer(it->alert_id)) ||
	    (it->fields && json_object_update(obj, it->fields))) {
		rc = PW_ENOMEM;
		goto out;
	}
	text = dump(obj);
	if (!text) {
		rc = PW_ENOMEM;
		goto out;
	}
	if (outbox_insert(ev, it->ts_ms, ev->topic_events, it->type, text) != PW_OK)
		goto out;
	if (ev->tap)
		ev->tap(ev->tap_ctx, text);
	free(text);
	text = NULL;
	json_decref(obj);
	obj = NULL;

	if (!it->notify || !it->text || !*it->text) {
		rc = PW_OK;
		goto out;
	}
	claimed = notify_claim(ev, it->vin, it->notify, it->notify_day);
	if (claimed < 0)
		goto out;
	if (!claimed) {
		rc = PW_OK;
		goto out;
	}
	snprintf(id, sizeof(id), "n%lld-%d", (long long)it->alert_id, it->seq);
	obj = json_pack("{s:i, s:I, s:s, s:s, s:s}", "v", 1, "ts", (json_int_t)it->ts_ms, "id", id,
	                "kind", it->notify, "text", it->text);
	text = obj ? dump(obj) : NULL;
	if (!text) {
		rc = PW_ENOMEM;
		goto out;
	}
	snprintf(topic, sizeof(topic), "pitwall/v1/vehicles/%s/notify", it->vin);
	if (outbox_insert(ev, it->ts_ms, topic, NULL, text) != PW_OK)
		goto out;
	if (notified)
		*notified = 1;
	rc = PW_OK;
out:
	free(text);
	json_decref(obj);
	return rc;
}

int events_emit_object(struct events *ev, int64_t ts_ms, const json_t *obj)
{
	const char *type = json_string_value(json_object_get(obj, "type"));
	char *text;
	int rc;

	if (!type)
		return PW_EINVAL;
	text = dump((json_t *)obj);
	if (!text)
		return PW_ENOMEM;
	rc = outbox_insert(ev, ts_ms, ev->topic_events, type, text);
	if (rc == PW_OK && ev->tap)
		ev->tap(ev->tap_ctx, text);
	free(text);
	return rc;
}

int events_emit_message(struct events *ev, const char *vin, const char *id, const char *kind,
                        const char *text, int64_t ts_ms)
{
	char topic[TOPIC_MAX], *payload;
	json_t *obj = json_pack("{s:i, s:I, s:s, s:s, s:s}", "v", 1, "ts", (json_int_t)ts_ms, "id",
	                        id, "kind", kind, "text", text);
	int rc;

	payload = obj ? dump(obj) : NULL;
	json_decref(obj);
	if (!payload)
		return PW_ENOMEM;
	snprintf(topic, sizeof(topic), "pitwall/v1/vehicles/%s/notify", vin);
	rc = outbox_insert(ev, ts_ms, topic, NULL, payload);
	free(payload);
	return rc;
}

/* ---- in-car texts ------------------------------------------------------------ */

const char *events_notify_kind(enum pw_alert_kind kind, enum pw_severity severity)
{
	switch (kind) {
	case PW_AK_MAINTENANCE:
		return "maintenance_due";
	case PW_AK_INSURANCE:
		return "insurance_due";
	case PW_AK_TYRE_PRESSURE:
	case PW_AK_TYRE_TREAD:
		return severity >= PW_SEV_CRITICAL ? "tyre" : NULL;
	case PW_AK_FAULT:
		return severity >= PW_SEV_CRITICAL ? "fault" : NULL;
	default:
		return NULL;
	}
}

void events_text_maintenance(char *buf, size_t len, int overdue, int due_by_km, double remaining_km,
                             int days_remaining)
{
	if (overdue)
		snprintf(buf, len, "您的爱车已超过保养%s，请尽快预约保养。",
		         due_by_km ? "里程" : "时间");
	else if (due_by_km)
		snprintf(buf, len, "您的爱车距离下次保养还有 %.0f 公里，请及时预约保养。",
		         remaining_km > 0 ? remaining_km : 0);
	else if (days_remaining > 0)
		snprintf(buf, len, "您的爱车距离下次保养还有 %d 天，请及时预约保养。",
		         days_remaining);
	else
		snprintf(buf, len, "您的爱车今天到了保养时间，请及时预约保养。");
}

void events_text_insurance(char *buf, size_t len, const char *policy_kind, const char *expiry_date,
                           int days_left)
{
	const char *what = "保险";

	if (policy_kind && strcmp(policy_kind, "compulsory") == 0)
		what = "交强险";
	else if (policy_kind && strcmp(policy_kind, "commercial") == 0)
		what = "商业险";
	if (days_left > 0)
		snprintf(buf, len, "您的车辆%s将于 %s 到期（还有 %d 天），请及时续保。", what,
		         expiry_date, days_left);
	else
		snprintf(buf, len, "您的车辆%s已于 %s 到期，请尽快续保。", what, expiry_date);
}

void events_text_tyre_pressure(char *buf, size_t len, int wheel, double kpa, int slow_leak)
{
	if (slow_leak)
		snprintf(buf, len, "%s轮胎疑似慢漏气（%.0f kPa），请尽快检查轮胎。",
		         rules_wheel_name_zh(wheel), kpa);
	else
		snprintf(buf, len, "%s轮胎压过低（%.0f kPa），请尽快检查轮胎。",
		         rules_wheel_name_zh(wheel), kpa);
}

void events_text_tyre_tread(char *buf, size_t len, int wheel, double tread_mm)
{
	snprintf(buf, len, "%s轮胎花纹深度仅 %.1f 毫米，低于安全标准，请尽快更换轮胎。",
	         rules_wheel_name_zh(wheel), tread_mm);
}

void events_text_fault(char *buf, size_t len, const char *code, int mil)
{
	if (mil)
		snprintf(buf, len, "车辆检测到故障（%s），故障灯已亮起，请尽快到店检修。", code);
	else
		snprintf(buf, len, "车辆检测到故障（%s），请尽快到店检修。", code);
}

/* ---- the drain ------------------------------------------------------------------- */

void events_confirm(struct events *ev, int64_t id, int ok)
{
	pthread_mutex_lock(&ev->lock);
	if (!ok)
		ev->refused = 1;
	else if (ev->n_acked < (int)PW_ARRAY_LEN(ev->acked))
		ev->acked[ev->n_acked++] = id;
	else
		ev->refused = 1; /* cannot keep it: resend, the duplicate is harmless */
	pthread_mutex_unlock(&ev->lock);
}

static void inflight_remove(struct events *ev, int64_t id)
{
	for (int i = 0; i < ev->n_inflight; i++) {
		if (ev->inflight[i].id == id) {
			memmove(&ev->inflight[i], &ev->inflight[i + 1],
			        (size_t)(ev->n_inflight - i - 1) * sizeof(ev->inflight[0]));
			ev->n_inflight--;
			return;
		}
	}
}

/* Deletes the acknowledged rows in one transaction; keeps them for the next
 * call if the database is busy. */
static int delete_acked(struct events *ev)
{
	int rc = PW_OK;

	if (!ev->n_delete)
		return PW_OK;
	if (step_done(ev, S_BEGIN, "BEGIN (outbox)") != PW_OK)
		return PW_EIO;
	for (int i = 0; i < ev->n_delete && rc == PW_OK; i++) {
		if (sqlite3_bind_int64(ev->stmt[S_OUTBOX_DELETE], 1, ev->to_delete[i]) != SQLITE_OK)
			rc = db_fail(ev, "binding an outbox delete");
		else
			rc = step_done(ev, S_OUTBOX_DELETE, "deleting from the outbox");
	}
	if (rc == PW_OK && step_done(ev, S_COMMIT, "COMMIT (outbox)") == PW_OK) {
		ev->n_delete = 0;
		return PW_OK;
	}
	if (!sqlite3_get_autocommit(ev->db))
		step_done(ev, S_ROLLBACK, "ROLLBACK (outbox)");
	return PW_EIO;
}

static void batch_clear(struct events *ev)
{
	for (int i = 0; i < ev->n_batch; i++) {
		free(ev->batch[i].topic);
		free(ev->batch[i].payload);
		free(ev->batch[i].type);
	}
	ev->n_batch = 0;
}

static char *dup_text(const unsigned char *t)
{
	return t ? strdup((const char *)t) : NULL;
}

int events_collect(struct events *ev, int64_t now_ms, int64_t resend_ms)
{
	sqlite3_stmt *s = ev->stmt[S_OUTBOX_NEXT];
	int refused, budget, rc;

	batch_clear(ev);
	/* what the broker acknowledged: forget and delete */
	pthread_mutex_lock(&ev->lock);
	for (int i = 0; i < ev->n_acked; i++) {
		inflight_remove(ev, ev->acked[i]);
		if (ev->n_delete < (int)PW_ARRAY_LEN(ev->to_delete))
			ev->to_delete[ev->n_delete++] = ev->acked[i];
	}
	ev->n_acked = 0;
	refused = ev->refused;
	ev->refused = 0;
	pthread_mutex_unlock(&ev->lock);
	if (delete_acked(ev) != PW_OK)
		return PW_EIO;

	/* refused or silent for too long: everything from the oldest again */
	if (ev->n_inflight && (refused || now_ms - ev->inflight[0].sent_ms >= resend_ms)) {
		log_warn("events", "resending %d unacknowledged messages from id %lld",
		         ev->n_inflight, (long long)ev->inflight[0].id);
		ev->sent_upto = ev->inflight[0].id - 1;
		ev->n_inflight = 0;
	}
	budget = EVENTS_INFLIGHT_MAX - ev->n_inflight;
	if (budget <= 0)
		return PW_OK;
	if (sqlite3_bind_int64(s, 1, ev->sent_upto) != SQLITE_OK ||
	    sqlite3_bind_int(s, 2, budget) != SQLITE_OK) {
		sqlite3_reset(s);
		return db_fail(ev, "binding the outbox read");
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct batch_row *b = &ev->batch[ev->n_batch];

		b->id = sqlite3_column_int64(s, 0);
		b->topic = dup_text(sqlite3_column_text(s, 1));
		b->type = dup_text(sqlite3_column_text(s, 2));
		b->payload = dup_text(sqlite3_column_text(s, 3));
		b->len = (size_t)sqlite3_column_bytes(s, 3);
		ev->n_batch++;
		if (!b->topic || !b->payload) {
			/* out of memory (or a NULL column): stop here, retry later */
			free(b->topic);
			free(b->payload);
			free(b->type);
			ev->n_batch--;
			break;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(ev, "reading the outbox");
	return PW_OK;
}

int events_publish_collected(struct events *ev, events_publish_fn publish, void *ctx,
                             int64_t now_ms, int *published)
{
	int n = 0;

	for (int i = 0; i < ev->n_batch; i++) {
		struct batch_row *b = &ev->batch[i];

		if (b->id <= ev->sent_upto)
			continue; /* cannot happen: collected after sent_upto */
		if (publish(ctx, b->id, b->topic, b->payload, b->len, b->type) != PW_OK)
			break; /* try again from here next time */
		ev->inflight[ev->n_inflight].id = b->id;
		ev->inflight[ev->n_inflight].sent_ms = now_ms;
		ev->n_inflight++;
		ev->sent_upto = b->id;
		n++;
	}
	batch_clear(ev);
	if (published)
		*published = n;
	return PW_OK;
}

int events_drain(struct events *ev, events_publish_fn publish, void *ctx, int64_t now_ms,
                 int64_t resend_ms, int *published)
{
	if (published)
		*published = 0;
	if (events_collect(ev, now_ms, resend_ms) != PW_OK)
		return PW_EIO;
	return events_publish_collected(ev, publish, ctx, now_ms, published);
}

int events_outbox_count(struct events *ev, long *count)
{
	sqlite3_stmt *s = ev->stmt[S_OUTBOX_COUNT];
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		*count = (long)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? PW_OK : db_fail(ev, "counting the outbox");
}
