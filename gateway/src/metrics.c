/*
 * metrics — the gateway's counters and gauges, rendered as Prometheus text
 * exposition (format 0.0.4) for GET /metrics.
 *
 * Every value is a C11 atomic in one struct metrics. Writers (the core
 * thread in ingest, the MQTT callbacks, the lws thread for WebSocket client
 * counts) update with relaxed atomics: no lock, no wait, no ordering
 * promised between two counters. The reader (the lws thread, in
 * metrics_render) loads each value once; a scrape is therefore a consistent
 * view of each counter, not a snapshot of all of them together.
 *
 * Label sets are fixed and always complete: every result, every reject
 * reason (names from decode_reason_name()) and every contract event type is
 * rendered even at 0, so a dashboard's rate() never sees a series appear
 * from nowhere. Process figures (resident memory, CPU time) are read from
 * /proc/self/statm and getrusage() at render time.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pw.h"

/* The contract's event types, in its order; "other" catches anything else. */
static const char *const event_types[] = {
    "maintenance_due",   "maintenance_overdue",
    "insurance_due",     "tyre_pressure",
    "tyre_tread",        "fault",
    "battery_low",       "fuel_anomaly",
    "odometer_rollback", "lost_customer",
    "arrival",           "greeting",
    "followup_due",
};
#define EVENT_TYPE_COUNT PW_ARRAY_LEN(event_types)
#define EVENT_OTHER      EVENT_TYPE_COUNT

static const char *const result_names[PW_MSG__COUNT] = {"accepted", "rejected", "duplicate"};

typedef _Atomic uint64_t counter_t;

struct metrics {
	counter_t messages[PW_MSG__COUNT];
	/* [0] (PW_REJ_NONE) holds rejects with an invalid reason: "unknown". */
	counter_t rejected[PW_REJ__COUNT];
	counter_t events[EVENT_TYPE_COUNT + 1];
	counter_t unknown_fields;
	counter_t late;
	counter_t odometer_rollbacks;
	counter_t status;
	counter_t anpr;
	counter_t mqtt_messages;
	counter_t commit_us;
	counter_t vehicles;   /* gauge */
	counter_t ws_clients; /* gauge */
	counter_t ws_dropped;
	counter_t ws_resyncs;
	atomic_int mqtt_connected;
};

static inline void add(counter_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t get(const counter_t *c)
{
	return atomic_load_explicit((counter_t *)c, memory_order_relaxed);
}

struct metrics *metrics_new(void)
{
	struct metrics *m = malloc(sizeof(*m));
	size_t i;

	if (!m)
		return NULL;
	for (i = 0; i < PW_MSG__COUNT; i++)
		atomic_init(&m->messages[i], 0);
	for (i = 0; i < PW_REJ__COUNT; i++)
		atomic_init(&m->rejected[i], 0);
	for (i = 0; i < EVENT_TYPE_COUNT + 1; i++)
		atomic_init(&m->events[i], 0);
	atomic_init(&m->unknown_fields, 0);
	atomic_init(&m->late, 0);
	atomic_init(&m->odometer_rollbacks, 0);
	atomic_init(&m->status, 0);
	atomic_init(&m->anpr, 0);
	atomic_init(&m->mqtt_messages, 0);
	atomic_init(&m->commit_us, 0);
	atomic_init(&m->vehicles, 0);
	atomic_init(&m->ws_clients, 0);
	atomic_init(&m->ws_dropped, 0);
	atomic_init(&m->ws_resyncs, 0);
	atomic_init(&m->mqtt_connected, 0);
	return m;
}

void metrics_free(struct metrics *m)
{
	free(m);
}

void metrics_count_message(struct metrics *m, enum pw_msg_result result)
{
	if ((unsigned)result >= PW_MSG__COUNT)
		return; /* a caller bug; never let it write out of bounds */
	add(&m->messages[result], 1);
}

void metrics_count_reject(struct metrics *m, enum pw_reject reason)
{
	unsigned i = (unsigned)reason;

	if (i >= PW_REJ__COUNT)
		i = PW_REJ_NONE;
	add(&m->rejected[i], 1);
}

void metrics_count_unknown_fields(struct metrics *m, unsigned n)
{
	if (n)
		add(&m->unknown_fields, n);
}

void metrics_count_late(struct metrics *m)
{
	add(&m->late, 1);
}

void metrics_count_odometer_rollback(struct metrics *m)
{
	add(&m->odometer_rollbacks, 1);
}

void metrics_count_status(struct metrics *m)
{
	add(&m->status, 1);
}

void metrics_count_anpr(struct metrics *m)
{
	add(&m->anpr, 1);
}

void metrics_count_mqtt_message(struct metrics *m)
{
	add(&m->mqtt_messages, 1);
}

void metrics_add_commit_us(struct metrics *m, uint64_t us)
{
	add(&m->commit_us, us);
}

void metrics_count_event(struct metrics *m, const char *type)
{
	size_t i = EVENT_OTHER;

	if (type) {
		for (i = 0; i < EVENT_TYPE_COUNT; i++)
			if (strcmp(type, event_types[i]) == 0)
				break;
	}
	add(&m->events[i], 1);
}

void metrics_set_vehicles(struct metrics *m, uint64_t n)
{
	atomic_store_explicit(&m->vehicles, n, memory_order_relaxed);
}

void metrics_set_ws_clients(struct metrics *m, uint64_t n)
{
	atomic_store_explicit(&m->ws_clients, n, memory_order_relaxed);
}

void metrics_count_ws_dropped(struct metrics *m, uint64_t n)
{
	if (n)
		add(&m->ws_dropped, n);
}

void metrics_count_ws_resync(struct metrics *m)
{
	add(&m->ws_resyncs, 1);
}

void metrics_set_mqtt_connected(struct metrics *m, int connected)
{
	atomic_store_explicit(&m->mqtt_connected, connected ? 1 : 0, memory_order_relaxed);
}

int metrics_mqtt_connected(const struct metrics *m)
{
	return atomic_load_explicit((atomic_int *)&m->mqtt_connected, memory_order_relaxed);
}

uint64_t metrics_messages(const struct metrics *m, enum pw_msg_result result)
{
	if ((unsigned)result >= PW_MSG__COUNT)
		return 0;
	return get(&m->messages[result]);
}

/* ---- rendering ---------------------------------------------------------- */

struct out {
	char *buf;
	size_t cap;
	size_t len;
	int overflow;
};

__attribute__((format(printf, 2, 3))) static void emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}

/* A label value in the exposition format: backslash, quote and newline
 * escaped. Values here are our own snake_case names, but the escaping keeps
 * the output valid whatever a name table might one day hold. */
static void emit_label_value(struct out *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			emit(o, "\\\\");
		else if (*s == '"')
			emit(o, "\\\"");
		else if (*s == '\n')
			emit(o, "\\n");
		else
			emit(o, "%c", *s);
	}
}

static void emit_head(struct out *o, const char *name, const char *type, const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void emit_labelled(struct out *o, const char *name, const char *label, const char *value,
                          uint64_t n)
{
	emit(o, "%s{%s=\"", name, label);
	emit_label_value(o, value);
	emit(o, "\"} %" PRIu64 "\n", n);
}

static void emit_scalar(struct out *o, const char *name, const char *type, const char *help,
                        uint64_t n)
{
	emit_head(o, name, type, help);
	emit(o, "%s %" PRIu64 "\n", name, n);
}

/* Resident set size from /proc/self/statm (second field, in pages). */
static uint64_t resident_bytes(void)
{
	unsigned long long size_pages = 0, resident_pages = 0;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size_pages, &resident_pages);
	fclose(f);
	if (n != 2 || page <= 0)
		return 0;
	return (uint64_t)resident_pages * (uint64_t)page;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0.0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int metrics_render(const struct metrics *m, char *buf, size_t cap, size_t *len_out)
{
	struct out o = {.buf = buf, .cap = cap, .len = 0, .overflow = 0};
	uint64_t commit_us;
	size_t i;

	if (!buf || cap == 0)
		return PW_ERANGE;
	buf[0] = '\0';

	emit_head(&o, "pitwall_messages_total", "counter",
	          "Telemetry objects by outcome, counted once committed or rejected.");
	for (i = 0; i < PW_MSG__COUNT; i++)
		emit_labelled(&o, "pitwall_messages_total", "result", result_names[i],
		              get(&m->messages[i]));

	emit_head(&o, "pitwall_rejected_total", "counter", "Rejected objects by reason.");
	for (i = 1; i < PW_REJ__COUNT; i++)
		emit_labelled(&o, "pitwall_rejected_total", "reason",
		              decode_reason_name((enum pw_reject)i), get(&m->rejected[i]));
	emit_labelled(&o, "pitwall_rejected_total", "reason", "unknown",
	              get(&m->rejected[PW_REJ_NONE]));

	emit_head(&o, "pitwall_events_total", "counter",
	          "Alerts, reminders, arrivals and greetings raised, by type.");
	for (i = 0; i < EVENT_TYPE_COUNT; i++)
		emit_labelled(&o, "pitwall_events_total", "type", event_types[i],
		              get(&m->events[i]));
	emit_labelled(&o, "pitwall_events_total", "type", "other", get(&m->events[EVENT_OTHER]));

	emit_scalar(&o, "pitwall_vehicles", "gauge", "Vehicles held in memory.", get(&m->vehicles));
	emit_scalar(&o, "pitwall_ws_clients", "gauge", "Connected WebSocket clients.",
	            get(&m->ws_clients));
	emit_scalar(&o, "pitwall_ws_frames_dropped_total", "counter",
	            "WebSocket frames dropped for a slow client or a full queue.",
	            get(&m->ws_dropped));
	emit_scalar(&o, "pitwall_ws_resyncs_total", "counter",
	            "Fresh snapshots sent to WebSocket clients that missed frames.",
	            get(&m->ws_resyncs));
	emit_scalar(&o, "pitwall_mqtt_connected", "gauge",
	            "1 while the gateway is connected to the MQTT broker, else 0.",
	            (uint64_t)metrics_mqtt_connected(m));
	emit_scalar(&o, "pitwall_mqtt_messages_total", "counter",
	            "MQTT messages received on any topic.", get(&m->mqtt_messages));
	emit_scalar(&o, "pitwall_unknown_fields_total", "counter",
	            "Telemetry members the contract does not name (ignored).",
	            get(&m->unknown_fields));
	emit_scalar(&o, "pitwall_late_messages_total", "counter",
	            "Accepted telemetry older than the vehicle's latest state.", get(&m->late));
	emit_scalar(&o, "pitwall_odometer_rollbacks_total", "counter",
	            "Odometer readings that went backwards (not applied).",
	            get(&m->odometer_rollbacks));
	emit_scalar(&o, "pitwall_status_messages_total", "counter",
	            "Device status messages applied.", get(&m->status));
	emit_scalar(&o, "pitwall_anpr_reads_total", "counter", "Plate reads accepted.",
	            get(&m->anpr));

	commit_us = get(&m->commit_us);
	emit_head(&o, "pitwall_commit_seconds_total", "counter",
	          "Time spent committing SQLite transactions.");
	emit(&o, "pitwall_commit_seconds_total %" PRIu64 ".%06" PRIu64 "\n", commit_us / 1000000,
	     commit_us % 1000000);

	emit_scalar(&o, "pitwall_process_resident_bytes", "gauge", "Resident memory size in bytes.",
	            resident_bytes());
	emit_head(&o, "pitwall_process_cpu_seconds_total", "counter",
	          "User and system CPU time spent, in seconds.");
	emit(&o, "pitwall_process_cpu_seconds_total %.6f\n", cpu_seconds());

	emit_head(&o, "pitwall_build_info", "gauge", "Build information; the value is always 1.");
	emit_labelled(&o, "pitwall_build_info", "version", PW_VERSION, 1);

	if (o.overflow) {
		buf[0] = '\0';
		if (len_out)
			*len_out = 0;
		return PW_ERANGE;
	}
	if (len_out)
		*len_out = o.len;
	return PW_OK;
}
