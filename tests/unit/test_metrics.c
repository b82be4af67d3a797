/*
 * test_metrics — the counters and the Prometheus text they render.
 *
 * The exposition is parsed line by line as a scraper would: every sample
 * must belong to a family announced by # HELP and # TYPE, counters must end
 * in _total, label values must be quoted and values must be numbers. The
 * label sets must be complete (every result, reason and event type, even at
 * 0), and concurrent writers must lose no increment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "metrics.h"
#include "pw.h"

static const char *const contract_events[] = {
    "maintenance_due",   "maintenance_overdue",
    "insurance_due",     "tyre_pressure",
    "tyre_tread",        "fault",
    "battery_low",       "fuel_anomaly",
    "odometer_rollback", "lost_customer",
    "arrival",           "greeting",
    "followup_due",
};

/* ---- a small exposition parser ----------------------------------------- */

#define MAX_SAMPLES  256
#define MAX_FAMILIES 64

struct sample {
	char name[96];
	char label_key[32];   /* "" when the sample has no label */
	char label_value[64]; /* unescaped */
	double value;
};

struct family {
	char name[96];
	char type[16];
	int has_help;
	int has_type;
	int samples;
};

struct exposition {
	struct sample samples[MAX_SAMPLES];
	int n_samples;
	struct family families[MAX_FAMILIES];
	int n_families;
};

static struct family *family_get(struct exposition *e, const char *name, int create)
{
	int i;

	for (i = 0; i < e->n_families; i++)
		if (strcmp(e->families[i].name, name) == 0)
			return &e->families[i];
	if (!create)
		return NULL;
	assert_true(e->n_families < MAX_FAMILIES);
	memset(&e->families[e->n_families], 0, sizeof(e->families[0]));
	snprintf(e->families[e->n_families].name, sizeof(e->families[0].name), "%s", name);
	return &e->families[e->n_families++];
}

static int name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* Copies a metric or label name from *p into out; fails the test if none. */
static void parse_name(const char **p, char *out, size_t cap)
{
	size_t n = 0;

	assert_true(name_char(**p, 1));
	while (name_char(**p, n == 0)) {
		assert_true(n + 1 < cap);
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
}

static double parse_value(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	assert_true(end != s);
	assert_string_equal(end, "");
	assert_true(isfinite(v));
	return v;
}

/* Parses the whole text; any malformed line fails the test. The families
 * seen must each have HELP and TYPE before their first sample. */
static void parse_exposition(const char *text, size_t len, struct exposition *e)
{
	char *copy = malloc(len + 1), *line, *save = NULL;

	assert_non_null(copy);
	memcpy(copy, text, len);
	copy[len] = '\0';
	assert_true(len > 0 && text[len - 1] == '\n'); /* the last line ends too */
	memset(e, 0, sizeof(*e));

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *p = line;
		char name[96];

		if (strncmp(p, "# HELP ", 7) == 0) {
			struct family *f;

			p += 7;
			parse_name(&p, name, sizeof(name));
			assert_int_equal(*p, ' ');
			assert_true(strlen(p + 1) > 0); /* some help text */
			f = family_get(e, name, 1);
			assert_false(f->has_help); /* once per family */
			assert_int_equal(f->samples, 0);
			f->has_help = 1;
		} else if (strncmp(p, "# TYPE ", 7) == 0) {
			struct family *f;

			p += 7;
			parse_name(&p, name, sizeof(name));
			assert_int_equal(*p, ' ');
			p++;
			assert_true(strcmp(p, "counter") == 0 || strcmp(p, "gauge") == 0);
			f = family_get(e, name, 1);
			assert_false(f->has_type);
			assert_int_equal(f->samples, 0);
			snprintf(f->type, sizeof(f->type), "%s", p);
			f->has_type = 1;
		} else {
			struct sample *s;
			struct family *f;

			assert_int_not_equal(p[0], '#'); /* no other comments */
			assert_true(e->n_samples < MAX_SAMPLES);
			s = &e->samples[e->n_samples++];
			memset(s, 0, sizeof(*s));
			parse_name(&p, s->name, sizeof(s->name));
			if (*p == '{') {
				size_t n = 0;

				p++;
				parse_name(&p, s->label_key, sizeof(s->label_key));
				assert_int_equal(*p, '=');
				p++;
				assert_int_equal(*p, '"');
				p++;
				while (*p && *p != '"') {
					char c = *p++;

					if (c == '\\') {
						c = *p++;
						assert_true(c == '\\' || c == '"' || c == 'n');
						if (c == 'n')
							c = '\n';
					}
					assert_true(n + 1 < sizeof(s->label_value));
					s->label_value[n++] = c;
				}
				s->label_value[n] = '\0';
				assert_int_equal(*p, '"');
				p++;
				assert_int_equal(*p, '}');
				p++;
				assert_true(n > 0);
			}
			assert_int_equal(*p, ' ');
			s->value = parse_value(p + 1);

			f = family_get(e, s->name, 0);
			assert_non_null(f); /* announced before its first sample */
			assert_true(f->has_help && f->has_type);
			if (strcmp(f->type, "counter") == 0) {
				size_t nl = strlen(s->name);

				assert_true(nl > 6 && strcmp(s->name + nl - 6, "_total") == 0);
				assert_true(s->value >= 0);
			}
			f->samples++;
		}
	}
	free(copy);

	/* every family announced has samples; no duplicate series */
	for (int i = 0; i < e->n_families; i++)
		assert_true(e->families[i].samples > 0);
	for (int i = 0; i < e->n_samples; i++)
		for (int j = i + 1; j < e->n_samples; j++)
			assert_false(
			    strcmp(e->samples[i].name, e->samples[j].name) == 0 &&
			    strcmp(e->samples[i].label_key, e->samples[j].label_key) == 0 &&
			    strcmp(e->samples[i].label_value, e->samples[j].label_value) == 0);
}

/* The value of one series; fails the test when it is absent. */
static double value_of(const struct exposition *e, const char *name, const char *key,
                       const char *label)
{
	for (int i = 0; i < e->n_samples; i++) {
		const struct sample *s = &e->samples[i];

		if (strcmp(s->name, name) != 0)
			continue;
		if (!key && s->label_key[0] == '\0')
			return s->value;
		if (key && strcmp(s->label_key, key) == 0 && strcmp(s->label_value, label) == 0)
			return s->value;
	}
	fail_msg("series %s{%s=\"%s\"} missing", name, key ? key : "", label ? label : "");
	return -1;
}

static int count_series(const struct exposition *e, const char *name)
{
	int n = 0;

	for (int i = 0; i < e->n_samples; i++)
		n += strcmp(e->samples[i].name, name) == 0;
	return n;
}

static void render(const struct metrics *m, struct exposition *e)
{
	static char buf[16384];
	size_t len = 0;

	assert_int_equal(metrics_render(m, buf, sizeof(buf), &len), PW_OK);
	assert_true(len > 0 && len < sizeof(buf));
	assert_int_equal(strlen(buf), len);
	parse_exposition(buf, len, e);
}

/* ---- tests ------------------------------------------------------------- */

static void test_new_free(void **state)
{
	struct metrics *m = metrics_new();

	(void)state;
	assert_non_null(m);
	assert_int_equal(metrics_messages(m, PW_MSG_ACCEPTED), 0);
	assert_int_equal(metrics_mqtt_connected(m), 0);
	metrics_free(m);
	metrics_free(NULL);
}

static void test_zero_render_is_complete(void **state)
{
	struct metrics *m = metrics_new();
	static struct exposition e;
	int i;

	(void)state;
	render(m, &e);

	assert_int_equal(count_series(&e, "pitwall_messages_total"), 3);
	assert_true(value_of(&e, "pitwall_messages_total", "result", "accepted") == 0);
	assert_true(value_of(&e, "pitwall_messages_total", "result", "rejected") == 0);
	assert_true(value_of(&e, "pitwall_messages_total", "result", "duplicate") == 0);

	for (i = 1; i < PW_REJ__COUNT; i++)
		assert_true(value_of(&e, "pitwall_rejected_total", "reason",
		                     decode_reason_name((enum pw_reject)i)) == 0);
	assert_true(value_of(&e, "pitwall_rejected_total", "reason", "unknown") == 0);
	assert_int_equal(count_series(&e, "pitwall_rejected_total"), PW_REJ__COUNT);

	for (i = 0; i < (int)PW_ARRAY_LEN(contract_events); i++)
		assert_true(value_of(&e, "pitwall_events_total", "type", contract_events[i]) == 0);
	assert_true(value_of(&e, "pitwall_events_total", "type", "other") == 0);
	assert_int_equal(count_series(&e, "pitwall_events_total"), 14);

	assert_true(value_of(&e, "pitwall_vehicles", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_ws_clients", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_mqtt_connected", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_unknown_fields_total", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_late_messages_total", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_odometer_rollbacks_total", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_status_messages_total", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_anpr_reads_total", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_mqtt_messages_total", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_commit_seconds_total", NULL, NULL) == 0);
	assert_true(value_of(&e, "pitwall_process_resident_bytes", NULL, NULL) > 0);
	assert_true(value_of(&e, "pitwall_process_cpu_seconds_total", NULL, NULL) >= 0);
	assert_true(value_of(&e, "pitwall_build_info", "version", PW_VERSION) == 1);

	/* gauges and counters are typed as such */
	assert_string_equal(family_get(&e, "pitwall_vehicles", 0)->type, "gauge");
	assert_string_equal(family_get(&e, "pitwall_ws_clients", 0)->type, "gauge");
	assert_string_equal(family_get(&e, "pitwall_mqtt_connected", 0)->type, "gauge");
	assert_string_equal(family_get(&e, "pitwall_process_resident_bytes", 0)->type, "gauge");
	assert_string_equal(family_get(&e, "pitwall_messages_total", 0)->type, "counter");
	assert_string_equal(family_get(&e, "pitwall_commit_seconds_total", 0)->type, "counter");
	metrics_free(m);
}

static void test_counts_render(void **state)
{
	struct metrics *m = metrics_new();
	static struct exposition e;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		metrics_count_message(m, PW_MSG_ACCEPTED);
	metrics_count_message(m, PW_MSG_REJECTED);
	metrics_count_message(m, PW_MSG_REJECTED);
	metrics_count_message(m, PW_MSG_DUPLICATE);
	metrics_count_message(m, PW_MSG__COUNT);            /* out of range: ignored */
	metrics_count_message(m, (enum pw_msg_result) - 1); /* likewise */
	metrics_count_reject(m, PW_REJ_BAD_JSON);
	metrics_count_reject(m, PW_REJ_BAD_JSON);
	metrics_count_reject(m, PW_REJ_TS_FUTURE);
	metrics_count_reject(m, PW_REJ__COUNT); /* invalid: "unknown" */
	metrics_count_reject(m, PW_REJ_NONE);   /* not a reason: "unknown" */
	metrics_count_unknown_fields(m, 3);
	metrics_count_unknown_fields(m, 0);
	metrics_count_late(m);
	metrics_count_odometer_rollback(m);
	metrics_count_odometer_rollback(m);
	metrics_count_status(m);
	metrics_count_anpr(m);
	for (i = 0; i < 7; i++)
		metrics_count_mqtt_message(m);
	metrics_add_commit_us(m, 1000000);
	metrics_add_commit_us(m, 500250);
	metrics_count_event(m, "fault");
	metrics_count_event(m, "fault");
	metrics_count_event(m, "greeting");
	metrics_count_event(m, "followup_due");
	metrics_count_event(m, "no_such_type");
	metrics_count_event(m, NULL);
	metrics_set_vehicles(m, 1234);
	metrics_set_vehicles(m, 1200); /* a gauge: the last value counts */
	metrics_set_ws_clients(m, 4);
	metrics_set_mqtt_connected(m, 7); /* any true value reads as 1 */

	assert_int_equal(metrics_messages(m, PW_MSG_ACCEPTED), 5);
	assert_int_equal(metrics_messages(m, PW_MSG_REJECTED), 2);
	assert_int_equal(metrics_messages(m, PW_MSG_DUPLICATE), 1);
	assert_int_equal(metrics_messages(m, PW_MSG__COUNT), 0);
	assert_int_equal(metrics_mqtt_connected(m), 1);

	render(m, &e);
	assert_true(value_of(&e, "pitwall_messages_total", "result", "accepted") == 5);
	assert_true(value_of(&e, "pitwall_messages_total", "result", "rejected") == 2);
	assert_true(value_of(&e, "pitwall_messages_total", "result", "duplicate") == 1);
	assert_true(value_of(&e, "pitwall_rejected_total", "reason",
	                     decode_reason_name(PW_REJ_BAD_JSON)) == 2);
	assert_true(value_of(&e, "pitwall_rejected_total", "reason",
	                     decode_reason_name(PW_REJ_TS_FUTURE)) == 1);
	assert_true(value_of(&e, "pitwall_rejected_total", "reason",
	                     decode_reason_name(PW_REJ_BAD_VIN)) == 0);
	assert_true(value_of(&e, "pitwall_rejected_total", "reason", "unknown") == 2);
	assert_true(value_of(&e, "pitwall_unknown_fields_total", NULL, NULL) == 3);
	assert_true(value_of(&e, "pitwall_late_messages_total", NULL, NULL) == 1);
	assert_true(value_of(&e, "pitwall_odometer_rollbacks_total", NULL, NULL) == 2);
	assert_true(value_of(&e, "pitwall_status_messages_total", NULL, NULL) == 1);
	assert_true(value_of(&e, "pitwall_anpr_reads_total", NULL, NULL) == 1);
	assert_true(value_of(&e, "pitwall_mqtt_messages_total", NULL, NULL) == 7);
	assert_true(fabs(value_of(&e, "pitwall_commit_seconds_total", NULL, NULL) - 1.50025) <
	            1e-9);
	assert_true(value_of(&e, "pitwall_events_total", "type", "fault") == 2);
	assert_true(value_of(&e, "pitwall_events_total", "type", "greeting") == 1);
	assert_true(value_of(&e, "pitwall_events_total", "type", "followup_due") == 1);
	assert_true(value_of(&e, "pitwall_events_total", "type", "arrival") == 0);
	assert_true(value_of(&e, "pitwall_events_total", "type", "other") == 2);
	assert_true(value_of(&e, "pitwall_vehicles", NULL, NULL) == 1200);
	assert_true(value_of(&e, "pitwall_ws_clients", NULL, NULL) == 4);
	assert_true(value_of(&e, "pitwall_mqtt_connected", NULL, NULL) == 1);

	metrics_set_mqtt_connected(m, 0);
	render(m, &e);
	assert_true(value_of(&e, "pitwall_mqtt_connected", NULL, NULL) == 0);
	metrics_free(m);
}

static void test_every_event_type_has_its_own_series(void **state)
{
	struct metrics *m = metrics_new();
	static struct exposition e;
	size_t i;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(contract_events); i++)
		for (size_t k = 0; k <= i; k++)
			metrics_count_event(m, contract_events[i]);
	render(m, &e);
	for (i = 0; i < PW_ARRAY_LEN(contract_events); i++)
		assert_true(value_of(&e, "pitwall_events_total", "type", contract_events[i]) ==
		            (double)(i + 1));
	assert_true(value_of(&e, "pitwall_events_total", "type", "other") == 0);
	metrics_free(m);
}

static void test_render_buffer_limits(void **state)
{
	struct metrics *m = metrics_new();
	char small[100], *big = malloc(8192);
	size_t len = 99;

	(void)state;
	assert_non_null(big);
	assert_int_equal(metrics_render(m, small, sizeof(small), &len), PW_ERANGE);
	assert_int_equal(len, 0);
	assert_string_equal(small, "");
	assert_int_equal(metrics_render(m, small, 0, &len), PW_ERANGE);
	/* the header promises 8 KiB is enough, even with large counters */
	for (int i = 0; i < PW_REJ__COUNT; i++)
		metrics_count_reject(m, (enum pw_reject)i);
	metrics_add_commit_us(m, UINT64_MAX / 2);
	metrics_set_vehicles(m, UINT64_MAX);
	assert_int_equal(metrics_render(m, big, 8192, &len), PW_OK);
	assert_int_equal(strlen(big), len);
	free(big);
	metrics_free(m);
}

#define THREADS    4
#define PER_THREAD 50000

static void *hammer(void *arg)
{
	struct metrics *m = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		metrics_count_message(m, PW_MSG_ACCEPTED);
		metrics_count_reject(m, PW_REJ_BAD_VIN);
		metrics_count_event(m, "arrival");
		metrics_add_commit_us(m, 2);
		metrics_set_ws_clients(m, (uint64_t)i);
	}
	return NULL;
}

static void test_concurrent_writers_lose_nothing(void **state)
{
	struct metrics *m = metrics_new();
	pthread_t t[THREADS];
	static struct exposition e;
	char *buf = malloc(16384);
	size_t len;
	int i;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
	/* a reader rendering while the writers run (as the lws thread does) */
	for (i = 0; i < 20; i++)
		assert_int_equal(metrics_render(m, buf, 16384, &len), PW_OK);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	assert_int_equal(metrics_messages(m, PW_MSG_ACCEPTED), THREADS * PER_THREAD);
	render(m, &e);
	assert_true(value_of(&e, "pitwall_rejected_total", "reason",
	                     decode_reason_name(PW_REJ_BAD_VIN)) == THREADS * PER_THREAD);
	assert_true(value_of(&e, "pitwall_events_total", "type", "arrival") ==
	            THREADS * PER_THREAD);
	assert_true(fabs(value_of(&e, "pitwall_commit_seconds_total", NULL, NULL) -
	                 THREADS * PER_THREAD * 2e-6) < 1e-9);
	free(buf);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_free),
	    cmocka_unit_test(test_zero_render_is_complete),
	    cmocka_unit_test(test_counts_render),
	    cmocka_unit_test(test_every_event_type_has_its_own_series),
	    cmocka_unit_test(test_render_buffer_limits),
	    cmocka_unit_test(test_concurrent_writers_lose_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
