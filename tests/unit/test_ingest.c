/*
 * test_ingest — the core's per-message logic against a real SQLite store
 * (":memory:") and the real decoder, state table and metrics: batches,
 * duplicates inside one batch and across messages, out-of-order objects,
 * status and plate-read topics, rejected objects not touching the database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "ingest.h"
#include "journal.h"
#include "metrics.h"
#include "state.h"
#include "store.h"

#define VIN_A "LSVAB2354T7100113"
#define VIN_B "LSVBC2234P6100433"

struct fixture {
	struct pw_clock clock;
	struct metrics *metrics;
	struct store *store;
	struct state *state;
	struct ingest *ingest;
	struct ingest_output out;
	int64_t now_ms;
};

static int setup(void **ctx)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.now_ms = 1795392000000LL; /* 2026-11-23T00:00:00Z */
	clock_init_virtual(&f.clock, f.now_ms, 1e-6, -1);
	f.metrics = metrics_new();
	f.store = store_open(":memory:", STORE_READ_WRITE);
	f.state = state_new(16);
	assert_non_null(f.metrics);
	assert_non_null(f.store);
	assert_non_null(f.state);
	f.ingest = ingest_new(&(struct ingest_options){.site_id = "jinan-west",
	                                               .clock = &f.clock,
	                                               .metrics = f.metrics,
	                                               .store = f.store,
	                                               .state = f.state,
	                                               .history_interval_s = 300});
	assert_non_null(f.ingest);
	*ctx = &f;
	return 0;
}

static int teardown(void **ctx)
{
	struct fixture *f = *ctx;

	ingest_free(f->ingest);
	state_free(f->state);
	store_close(f->store);
	metrics_free(f->metrics);
	return 0;
}

static int load_into(void *ctx, const struct pw_vehicle *v)
{
	return state_put(ctx, v);
}

static int process(struct fixture *f, const char *topic, const char *payload)
{
	return ingest_process(f->ingest, topic, strlen(topic), payload, strlen(payload), &f->out);
}

static const char *msg(char *buf, size_t cap, const char *vin, int seq, int64_t ts, double odo)
{
	snprintf(buf, cap, "{\"v\":1,\"vin\":\"%s\",\"seq\":%d,\"ts\":%lld,\"odometer_km\":%.1f}",
	         vin, seq, (long long)ts, odo);
	return buf;
}

static void test_single_object_committed(void **ctx)
{
	struct fixture *f = *ctx;
	char buf[256];
	const struct pw_vehicle *v;

	assert_int_equal(process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
	                         msg(buf, sizeof(buf), VIN_A, 1, f->now_ms - 1000, 120.5)),
	                 0);
	assert_int_equal(f->out.accepted, 1);
	assert_int_equal(f->out.rejected, 0);
	v = state_find(f->state, VIN_A);
	assert_non_null(v);
	assert_int_equal(v->msg_count, 1);
	assert_true(v->latest.odometer_km > 120.4 && v->latest.odometer_km < 120.6);
	assert_int_equal(metrics_messages(f->metrics, PW_MSG_ACCEPTED), 1);
}

static void test_duplicate_changes_nothing(void **ctx)
{
	struct fixture *f = *ctx;
	char buf[256];

	process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
	        msg(buf, sizeof(buf), VIN_A, 1, f->now_ms - 1000, 120.5));
	assert_int_equal(process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
	                         msg(buf, sizeof(buf), VIN_A, 1, f->now_ms - 500, 999)),
	                 0);
	assert_int_equal(f->out.duplicates, 1);
	assert_int_equal(f->out.accepted, 0);
	assert_int_equal(state_find(f->state, VIN_A)->msg_count, 1);
	assert_true(state_find(f->state, VIN_A)->latest.odometer_km < 121);
	assert_int_equal(metrics_messages(f->metrics, PW_MSG_DUPLICATE), 1);
}

static void test_batch_judged_object_by_object(void **ctx)
{
	struct fixture *f = *ctx;
	char payload[1024];
	long long t = (long long)f->now_ms - 60000;

	/* seq 5 twice in one batch: the second is a duplicate; seq "x" is rejected */
	snprintf(payload, sizeof(payload),
	         "[{\"v\":1,\"vin\":\"%s\",\"seq\":5,\"ts\":%lld,\"odometer_km\":10},"
	         "{\"v\":1,\"vin\":\"%s\",\"seq\":\"x\",\"ts\":%lld},"
	         "{\"v\":1,\"vin\":\"%s\",\"seq\":5,\"ts\":%lld,\"odometer_km\":10},"
	         "{\"v\":1,\"vin\":\"%s\",\"seq\":3,\"ts\":%lld,\"odometer_km\":9}]",
	         VIN_B, t, VIN_B, t, VIN_B, t, VIN_B, t - 1000);
	assert_int_equal(process(f, "pitwall/v1/vehicles/" VIN_B "/telemetry", payload), 0);
	assert_int_equal(f->out.accepted, 2);
	assert_int_equal(f->out.duplicates, 1);
	assert_int_equal(f->out.rejected, 1);
	assert_int_equal(f->out.rejects[0].index, 1);
	assert_int_equal(f->out.rejects[0].reason, PW_REJ_BAD_TYPE);
	assert_int_equal(state_find(f->state, VIN_B)->msg_count, 2);
	assert_int_equal(state_find(f->state, VIN_B)->seq_max, 5);
	/* the older object did not roll the odometer back */
	assert_true(state_find(f->state, VIN_B)->latest.odometer_km > 9.5);
}

static void test_whole_message_rejects(void **ctx)
{
	struct fixture *f = *ctx;

	assert_int_equal(process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry", "{not json"), 0);
	assert_int_equal(f->out.rejected, 1);
	assert_int_equal(f->out.rejects[0].reason, PW_REJ_BAD_JSON);
	assert_null(state_find(f->state, VIN_A));
	assert_int_equal(process(f, "pitwall/v1/elsewhere", "{}"), 0);
	assert_int_equal(f->out.rejects[0].reason, PW_REJ_BAD_TOPIC);
	assert_int_equal(metrics_messages(f->metrics, PW_MSG_REJECTED), 2);
}

static void test_status_and_anpr(void **ctx)
{
	struct fixture *f = *ctx;
	char payload[256];

	snprintf(payload, sizeof(payload), "{\"v\":1,\"online\":true,\"ts\":%lld}",
	         (long long)f->now_ms);
	assert_int_equal(process(f, "pitwall/v1/vehicles/" VIN_A "/status", payload), 0);
	assert_int_equal(f->out.accepted, 1);
	assert_int_equal(state_find(f->state, VIN_A)->online, 1);
	snprintf(payload, sizeof(payload),
	         "{\"v\":1,\"ts\":%lld,\"plate\":\"鲁A12345\",\"camera\":\"entrance-1\","
	         "\"confidence\":0.97}",
	         (long long)f->now_ms);
	assert_int_equal(process(f, "pitwall/v1/sites/jinan-west/anpr", payload), 0);
	assert_int_equal(f->out.accepted, 1);
	assert_int_equal(process(f, "pitwall/v1/sites/another-site/anpr", payload), 0);
	assert_int_equal(f->out.rejected, 1);
}

static void test_out_of_window_duplicate_found_through_gaps(void **ctx)
{
	struct fixture *f = *ctx;
	char buf[256];

	/* seq 0, then a jump to 200 leaves 1..199 as a gap; 100 arrives late (new),
	 * then 100 again (duplicate), then 0 again (duplicate, below the window) */
	process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
	        msg(buf, sizeof(buf), VIN_A, 0, f->now_ms - 9000, 1));
	process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
	        msg(buf, sizeof(buf), VIN_A, 200, f->now_ms - 1000, 3));
	process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
	        msg(buf, sizeof(buf), VIN_A, 100, f->now_ms - 5000, 2));
	assert_int_equal(f->out.accepted, 1);
	process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
	        msg(buf, sizeof(buf), VIN_A, 100, f->now_ms - 5000, 2));
	assert_int_equal(f->out.duplicates, 1);
	process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
	        msg(buf, sizeof(buf), VIN_A, 0, f->now_ms - 9000, 1));
	assert_int_equal(f->out.duplicates, 1);
	assert_int_equal(state_find(f->state, VIN_A)->msg_count, 3);
}

/* A journal-mode core on its own database file and journal, as the daemon
 * runs it: what the journal tests open, "crash" and open again. */
struct jcore {
	char db[128], jpath[160];
	struct ingest_options opt;
	struct store *st;
	struct state *state;
	struct journal *j;
	struct ingest *in;
};

/* Fresh files /tmp/pw-ingest-NAME-PID.db and .journal; groups commit at
 * `group_messages` (never by age unless the test says so). */
static void jcore_init(struct jcore *c, struct fixture *f, const char *name, int group_messages)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->db, sizeof(c->db), "/tmp/pw-ingest-%s-%d.db", name, (int)getpid());
	snprintf(c->jpath, sizeof(c->jpath), "%s.journal", c->db);
	unlink(c->db);
	unlink(c->jpath);
	c->opt = (struct ingest_options){.site_id = "s",
	                                 .clock = &f->clock,
	                                 .metrics = f->metrics,
	                                 .history_interval_s = 300,
	                                 .batch_max_messages = group_messages,
	                                 .batch_max_ms = 60000};
}

/* Opens the store, a state table, the journal and ingest on them. */
static void jcore_open(struct jcore *c)
{
	c->st = store_open(c->db, STORE_READ_WRITE);
	c->state = state_new(16);
	c->j = journal_open(c->jpath);
	assert_non_null(c->st);
	assert_non_null(c->j);
	c->opt.store = c->st;
	c->opt.state = c->state;
	c->opt.journal = c->j;
	c->in = ingest_new(&c->opt);
	assert_non_null(c->in);
}

/* Killed: the open group never commits; everything is let go. */
static void jcore_crash(struct jcore *c)
{
	store_rollback(c->st);
	ingest_free(c->in);
	journal_close(c->j);
	state_free(c->state);
	store_close(c->st);
}

/* Stopped in order (no commit: the caller flushes if it wants one). */
static void jcore_close(struct jcore *c)
{
	ingest_free(c->in);
	journal_close(c->j);
	state_free(c->state);
	store_close(c->st);
}

static void jcore_remove(struct jcore *c)
{
	unlink(c->db);
	unlink(c->jpath);
}

/* One message on `topic` through the core. */
static void jcore_process(struct jcore *c, struct fixture *f, const char *topic, const char *buf)
{
	assert_int_equal(ingest_process(c->in, topic, strlen(topic), buf, strlen(buf), &f->out), 0);
}

/* Journal mode: acknowledged messages live in the journal until the group
 * commit; a crash before it (the open transaction lost) is repaired by the
 * replay at the next start, and replaying twice applies nothing twice. */
static void test_journal_replay_after_crash(void **ctx)
{
	struct fixture *f = *ctx;
	const char *topic = "pitwall/v1/vehicles/" VIN_A "/telemetry";
	struct jcore c;
	char buf[256];
	long replayed = 0;

	jcore_init(&c, f, "journal", 1000);
	jcore_open(&c);
	for (int seq = 0; seq < 5; seq++)
		jcore_process(&c, f, topic,
		              msg(buf, sizeof(buf), VIN_A, seq, f->now_ms - 5000 + seq, 100 + seq));
	assert_int_equal(journal_records(c.j), 5);
	jcore_crash(&c);

	for (int start = 0; start < 2; start++) {
		jcore_open(&c);
		assert_int_equal(
		    store_load_vehicles(c.st, state_dtcsets(c.state), load_into, c.state), 0);
		assert_int_equal(ingest_replay_journal(c.in, &replayed), 0);
		assert_int_equal(replayed, start == 0 ? 5 : 0);
		assert_int_equal(state_find(c.state, VIN_A)->msg_count, 5);
		assert_int_equal(state_find(c.state, VIN_A)->seq_max, 4);
		assert_int_equal(journal_records(c.j), 0);
		jcore_close(&c);
	}
	jcore_remove(&c);
}

/* A replay longer than one group (here 10 messages) commits in one go and
 * only then empties the journal: a group commit in the middle of it used to
 * empty the journal under the replay, losing every record after the group
 * (seen as a burst of messages missing after a SIGKILL under ASan, whose
 * slow replay crossed the 50 ms group limit). */
static void test_journal_replay_longer_than_a_group(void **ctx)
{
	struct fixture *f = *ctx;
	const char *topic = "pitwall/v1/vehicles/" VIN_A "/telemetry";
	struct jcore c;
	struct journal *j;
	struct state *state;
	struct store *st;
	char buf[256];
	long replayed = 0;

	jcore_init(&c, f, "replay", 10);
	/* 50 messages journaled, as if acknowledged before a crash */
	j = journal_open(c.jpath);
	for (int seq = 0; seq < 50; seq++) {
		msg(buf, sizeof(buf), VIN_A, seq, f->now_ms - 50000 + seq * 100, 100 + seq);
		assert_int_equal(journal_append(j, topic, strlen(topic), buf, strlen(buf)), 0);
	}
	journal_close(j);

	jcore_open(&c);
	assert_int_equal(ingest_replay_journal(c.in, &replayed), 0);
	assert_int_equal(replayed, 50);
	assert_int_equal(state_find(c.state, VIN_A)->msg_count, 50);
	assert_int_equal(state_find(c.state, VIN_A)->seq_max, 49);
	assert_int_equal(journal_records(c.j), 0);
	jcore_close(&c);

	/* and SQLite holds all 50 */
	st = store_open(c.db, STORE_READ_WRITE);
	state = state_new(16);
	assert_int_equal(store_load_vehicles(st, state_dtcsets(state), load_into, state), 0);
	assert_int_equal(state_find(state, VIN_A)->msg_count, 50);
	state_free(state);
	store_close(st);
	jcore_remove(&c);
}

/* The vehicle_state row of `vin` as `st` reads it (its own transaction
 * included), in a fresh table `rows`; NULL if it has none. */
static const struct pw_vehicle *row_of(struct store *st, struct state *rows, const char *vin)
{
	assert_int_equal(store_load_vehicles(st, state_dtcsets(rows), load_into, rows), 0);
	return state_find(rows, vin);
}

static void assert_row_is(const struct pw_vehicle *row, const struct pw_vehicle *v)
{
	assert_non_null(row);
	assert_non_null(v);
	assert_int_equal(row->msg_count, v->msg_count);
	assert_int_equal(row->seq_max, v->seq_max);
	assert_true(row->seq_window == v->seq_window);
	assert_int_equal(row->ts_ms, v->ts_ms);
	assert_true(row->latest.odometer_km == v->latest.odometer_km);
	assert_int_equal(row->online, v->online);
	assert_int_equal(row->status_ts_ms, v->status_ts_ms);
	assert_int_equal(row->history_bucket, v->history_bucket);
}

/* Without a journal each message is its own transaction: its vehicle's
 * row is in SQLite as soon as ingest_process returns. */
static void test_rows_written_per_message_without_journal(void **ctx)
{
	struct fixture *f = *ctx;
	char buf[256];
	struct state *rows;

	for (int seq = 0; seq < 3; seq++) {
		assert_int_equal(
		    process(f, "pitwall/v1/vehicles/" VIN_A "/telemetry",
		            msg(buf, sizeof(buf), VIN_A, seq, f->now_ms - 5000 + seq, 100 + seq)),
		    0);
		rows = state_new(16);
		assert_row_is(row_of(f->store, rows, VIN_A), state_find(f->state, VIN_A));
		assert_int_equal(row_of(f->store, rows, VIN_A)->msg_count, seq + 1);
		state_free(rows);
	}
	assert_int_equal(state_find(f->state, VIN_A)->row_dirty, 0);
}

/* Journal mode: a vehicle's row is written once per group, at its commit,
 * from the newest state (telemetry and status alike); a vehicle with no
 * message in a group keeps its row. */
static void test_rows_written_at_group_commit(void **ctx)
{
	struct fixture *f = *ctx;
	const char *ta = "pitwall/v1/vehicles/" VIN_A "/telemetry";
	const char *tb = "pitwall/v1/vehicles/" VIN_B "/telemetry";
	const char *sa = "pitwall/v1/vehicles/" VIN_A "/status";
	struct jcore c;
	struct state *rows;
	char buf[256];

	jcore_init(&c, f, "rows", 1000);
	jcore_open(&c);
	for (int seq = 0; seq < 5; seq++) {
		jcore_process(
		    &c, f, ta,
		    msg(buf, sizeof(buf), VIN_A, seq, f->now_ms - 5000 + seq * 10, 100 + seq));
		if (seq < 3)
			jcore_process(
			    &c, f, tb,
			    msg(buf, sizeof(buf), VIN_B, seq, f->now_ms - 4000 + seq, 50 + seq));
	}
	snprintf(buf, sizeof(buf), "{\"v\":1,\"online\":true,\"ts\":%lld}", (long long)f->now_ms);
	jcore_process(&c, f, sa, buf);
	assert_int_equal(journal_records(c.j), 9);
	assert_int_equal(state_find(c.state, VIN_A)->row_dirty, 1);
	/* not written yet, not even inside the open group */
	rows = state_new(16);
	assert_null(row_of(c.st, rows, VIN_A));
	assert_null(row_of(c.st, rows, VIN_B));
	state_free(rows);

	assert_int_equal(ingest_flush(c.in), 0);
	assert_int_equal(journal_records(c.j), 0);
	assert_int_equal(state_find(c.state, VIN_A)->row_dirty, 0);
	assert_int_equal(state_find(c.state, VIN_B)->row_dirty, 0);
	rows = state_new(16);
	assert_row_is(row_of(c.st, rows, VIN_A), state_find(c.state, VIN_A));
	assert_row_is(row_of(c.st, rows, VIN_B), state_find(c.state, VIN_B));
	assert_int_equal(row_of(c.st, rows, VIN_A)->msg_count, 5);
	assert_int_equal(row_of(c.st, rows, VIN_A)->online, 1);
	state_free(rows);

	/* the next group: only VIN_A changes, and its row follows */
	jcore_process(&c, f, ta, msg(buf, sizeof(buf), VIN_A, 5, f->now_ms - 1000, 200));
	assert_int_equal(ingest_flush(c.in), 0);
	rows = state_new(16);
	assert_row_is(row_of(c.st, rows, VIN_A), state_find(c.state, VIN_A));
	assert_row_is(row_of(c.st, rows, VIN_B), state_find(c.state, VIN_B));
	assert_int_equal(row_of(c.st, rows, VIN_A)->msg_count, 6);
	assert_int_equal(row_of(c.st, rows, VIN_B)->msg_count, 3);
	state_free(rows);
	jcore_close(&c);
	jcore_remove(&c);
}

/* A group cut by its size mid-stream commits the rows of the message that
 * filled it too (its copy not yet in the table), and the next group notes
 * that vehicle again. */
static void test_rows_of_the_message_that_fills_a_group(void **ctx)
{
	struct fixture *f = *ctx;
	const char *ta = "pitwall/v1/vehicles/" VIN_A "/telemetry";
	struct jcore c;
	struct state *rows;
	char buf[256];

	jcore_init(&c, f, "fill", 3);
	jcore_open(&c);
	for (int seq = 0; seq < 7; seq++) {
		jcore_process(
		    &c, f, ta,
		    msg(buf, sizeof(buf), VIN_A, seq, f->now_ms - 5000 + seq * 10, 100 + seq));
		rows = state_new(16);
		/* groups of 3: committed after seq 2 and seq 5 */
		if (seq < 2)
			assert_null(row_of(c.st, rows, VIN_A));
		else
			assert_int_equal(row_of(c.st, rows, VIN_A)->msg_count, seq < 5 ? 3 : 6);
		state_free(rows);
		assert_int_equal(state_find(c.state, VIN_A)->row_dirty,
		                 seq == 2 || seq == 5 ? 0 : 1);
	}
	assert_int_equal(ingest_flush(c.in), 0);
	rows = state_new(16);
	assert_row_is(row_of(c.st, rows, VIN_A), state_find(c.state, VIN_A));
	assert_int_equal(row_of(c.st, rows, VIN_A)->msg_count, 7);
	state_free(rows);
	jcore_close(&c);
	jcore_remove(&c);
}

/* A message applied and journaled but whose group never committed (killed
 * before it) leaves its vehicle's row as the last commit wrote it; the
 * replay at the next start brings the row up to date. */
static void test_unflushed_row_replayed_after_crash(void **ctx)
{
	struct fixture *f = *ctx;
	const char *ta = "pitwall/v1/vehicles/" VIN_A "/telemetry";
	struct jcore c;
	struct state *rows, *state;
	struct store *st;
	char buf[256];
	long replayed = 0;

	jcore_init(&c, f, "unflushed", 1000);
	jcore_open(&c);
	for (int seq = 0; seq < 5; seq++) {
		jcore_process(
		    &c, f, ta,
		    msg(buf, sizeof(buf), VIN_A, seq, f->now_ms - 5000 + seq * 10, 100 + seq));
		if (seq == 2)
			assert_int_equal(ingest_flush(c.in), 0); /* 0..2 committed */
	}
	jcore_crash(&c); /* 3 and 4 are only in the journal */

	st = store_open(c.db, STORE_READ_WRITE);
	rows = state_new(16);
	assert_int_equal(row_of(st, rows, VIN_A)->msg_count, 3);
	assert_int_equal(row_of(st, rows, VIN_A)->seq_max, 2);
	state_free(rows);
	store_close(st);

	jcore_open(&c);
	assert_int_equal(store_load_vehicles(c.st, state_dtcsets(c.state), load_into, c.state), 0);
	assert_int_equal(ingest_replay_journal(c.in, &replayed), 0);
	assert_int_equal(replayed, 2);
	assert_int_equal(state_find(c.state, VIN_A)->msg_count, 5);
	state = c.state;
	c.state = state_new(16); /* keep the replayed table to compare with */
	jcore_close(&c);

	st = store_open(c.db, STORE_READ_WRITE);
	rows = state_new(16);
	assert_row_is(row_of(st, rows, VIN_A), state_find(state, VIN_A));
	assert_int_equal(row_of(st, rows, VIN_A)->seq_max, 4);
	assert_true(row_of(st, rows, VIN_A)->latest.odometer_km > 103.9);
	state_free(rows);
	state_free(state);
	store_close(st);
	jcore_remove(&c);
}

/* The tick's commit (ingest_flush_idle) leaves a group open while messages
 * keep coming and commits it once the stream pauses, or once it is old. */
static void test_group_commits_when_the_stream_pauses(void **ctx)
{
	struct fixture *f = *ctx;
	const char *ta = "pitwall/v1/vehicles/" VIN_A "/telemetry";
	struct jcore c;
	char buf[256];

	jcore_init(&c, f, "idle", 1000);
	c.opt.group_idle_ms = 60000; /* "still streaming", however slow the machine */
	jcore_open(&c);
	jcore_process(&c, f, ta, msg(buf, sizeof(buf), VIN_A, 0, f->now_ms - 5000, 100));
	assert_int_equal(ingest_flush_idle(c.in), 0);
	assert_true(ingest_group_open(c.in));
	assert_int_equal(journal_records(c.j), 1);
	jcore_close(&c);

	c.opt.group_idle_ms = 1; /* paused as soon as a millisecond passes */
	jcore_open(&c);
	jcore_process(&c, f, ta, msg(buf, sizeof(buf), VIN_A, 1, f->now_ms - 4000, 101));
	assert_true(ingest_group_open(c.in));
	usleep(5000);
	assert_int_equal(ingest_flush_idle(c.in), 0);
	assert_false(ingest_group_open(c.in));
	assert_int_equal(journal_records(c.j), 0);
	jcore_close(&c);

	c.opt.group_idle_ms = 60000;
	c.opt.batch_max_ms = 1; /* streaming, but the group is old */
	jcore_open(&c);
	jcore_process(&c, f, ta, msg(buf, sizeof(buf), VIN_A, 2, f->now_ms - 3000, 102));
	usleep(5000);
	assert_int_equal(ingest_flush_idle(c.in), 0);
	assert_false(ingest_group_open(c.in));
	jcore_close(&c);
	jcore_remove(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_single_object_committed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_judged_object_by_object, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_whole_message_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_and_anpr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_window_duplicate_found_through_gaps, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_journal_replay_after_crash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_replay_longer_than_a_group, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_rows_written_per_message_without_journal, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_rows_written_at_group_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rows_of_the_message_that_fills_a_group, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_unflushed_row_replayed_after_crash, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_group_commits_when_the_stream_pauses, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
