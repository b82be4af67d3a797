/*
 * scenario — scripted messages at virtual times. See scenario.h.
 * Main thread; Jansson for the script and for the messages it builds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "pw.h"
#include "scenario.h"

#define EXIT_USAGE 2

struct step {
	int64_t at_ms;
	int index; /* in the file: ties keep file order */
	json_t *obj;
};

struct seqs {
	json_t *next; /* {"VIN": next seq} */
};

static int cmp_step(const void *a, const void *b)
{
	const struct step *x = a, *y = b;

	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return x->index - y->index;
}

/* Fills v, seq and ts of one telemetry object (a new reference). */
static json_t *fill_object(json_t *in, struct seqs *s, int64_t at_ms)
{
	json_t *o = json_deep_copy(in), *vin, *seq, *off;
	json_int_t next = 0;

	if (!o)
		return NULL;
	if (!json_is_object(o))
		return o; /* a deliberately broken batch element goes as it is */
	if (!json_object_get(o, "v"))
		json_object_set_new(o, "v", json_integer(1));
	vin = json_object_get(o, "vin");
	if (json_is_string(vin)) {
		json_t *n = json_object_get(s->next, json_string_value(vin));

		next = n ? json_integer_value(n) : 0;
		seq = json_object_get(o, "seq");
		if (!seq)
			json_object_set_new(o, "seq", json_integer(next));
		else if (json_is_integer(seq))
			next = json_integer_value(seq);
		json_object_set_new(s->next, json_string_value(vin),
		                    json_integer((seq && !json_is_integer(seq) ? next : next + 1)));
	}
	off = json_object_get(o, "ts_offset_s");
	if (!json_object_get(o, "ts"))
		json_object_set_new(
		    o, "ts",
		    json_integer(at_ms + (json_is_number(off)
		                              ? (json_int_t)(json_number_value(off) * 1000.0)
		                              : 0)));
	json_object_del(o, "ts_offset_s");
	return o;
}

static int bad(const char *path, int i, const char *what)
{
	fprintf(stderr, "pitwall-sim: %s: steps[%d]: %s\n", path, i, what);
	return EXIT_USAGE;
}

/* Topic and payload of one step; *payload is a new string (free()). */
static int render(const char *path, int i, json_t *st, const char *site, struct seqs *seqs,
                  int64_t at_ms, char *topic, size_t tcap, char **payload, size_t *len, int *retain)
{
	json_t *x, *msg = NULL;
	const char *vin = NULL;

	*retain = json_is_true(json_object_get(st, "retain"));
	if ((x = json_object_get(st, "telemetry")) != NULL) {
		if (!json_is_object(x))
			return bad(path, i, "telemetry: expected an object");
		msg = fill_object(x, seqs, at_ms);
		vin = json_string_value(json_object_get(x, "vin"));
	} else if ((x = json_object_get(st, "batch")) != NULL) {
		size_t k;
		json_t *e;

		if (!json_is_array(x))
			return bad(path, i, "batch: expected an array");
		msg = json_array();
		json_array_foreach(x, k, e)
		{
			json_array_append_new(msg, fill_object(e, seqs, at_ms));
			if (!vin)
				vin = json_string_value(json_object_get(e, "vin"));
		}
	} else if ((x = json_object_get(st, "status")) != NULL) {
		if (!json_is_object(x) || !json_is_string(json_object_get(x, "vin")))
			return bad(path, i, "status: expected {\"vin\":...,\"online\":...}");
		vin = json_string_value(json_object_get(x, "vin"));
		msg = json_pack("{s:i, s:b, s:I}", "v", 1, "online",
		                json_is_true(json_object_get(x, "online")), "ts",
		                (json_int_t)(json_is_integer(json_object_get(x, "ts"))
		                                 ? json_integer_value(json_object_get(x, "ts"))
		                                 : at_ms));
		*retain = 1;
		if (!snprintf(topic, tcap, "pitwall/v1/vehicles/%s/status", vin))
			return EXIT_USAGE;
	} else if ((x = json_object_get(st, "plate")) != NULL) {
		json_t *c = json_object_get(st, "confidence"), *cam = json_object_get(st, "camera"),
		       *s = json_object_get(st, "site");

		if (!json_is_string(x))
			return bad(path, i, "plate: expected a string");
		msg = json_pack("{s:i, s:I, s:O, s:s, s:f}", "v", 1, "ts", (json_int_t)at_ms,
		                "plate", x, "camera",
		                json_is_string(cam) ? json_string_value(cam) : "entrance-1",
		                "confidence", json_is_number(c) ? json_number_value(c) : 0.95);
		snprintf(topic, tcap, "pitwall/v1/sites/%s/anpr",
		         json_is_string(s) ? json_string_value(s) : site);
	} else if ((x = json_object_get(st, "raw")) != NULL) {
		if (!json_is_string(x) || !json_is_string(json_object_get(st, "topic")))
			return bad(path, i, "raw: expected a string and a \"topic\"");
		*len = json_string_length(x);
		*payload = malloc(*len + 1);
		if (!*payload)
			return 1;
		memcpy(*payload, json_string_value(x), *len);
	} else if ((x = json_object_get(st, "payload")) != NULL) {
		if (!json_is_string(json_object_get(st, "topic")))
			return bad(path, i, "payload: a \"topic\" is needed");
		msg = json_incref(x);
	} else {
		return bad(path, i, "one of telemetry, batch, status, plate, raw, payload needed");
	}
	if (json_is_string(json_object_get(st, "topic")))
		snprintf(topic, tcap, "%s", json_string_value(json_object_get(st, "topic")));
	else if (json_object_get(st, "telemetry") || json_object_get(st, "batch")) {
		if (json_is_string(json_object_get(st, "vin")))
			vin = json_string_value(json_object_get(st, "vin"));
		if (!vin) {
			json_decref(msg);
			return bad(path, i, "no vin for the topic");
		}
		snprintf(topic, tcap, "pitwall/v1/vehicles/%s/telemetry", vin);
	}
	if (msg) {
		*payload = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(msg);
		if (!*payload)
			return 1;
		*len = strlen(*payload);
	}
	return 0;
}

static void sleep_real_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	if (ms > 100)
		ms = 100;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(ms * 1e6);
	nanosleep(&ts, NULL);
}

int scenario_run_file(const char *path, const char *uri, enum pub_transport transport,
                      const char *client_id, int qos, const struct pw_clock *clock,
                      const atomic_int *stop)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err), *steps, *st;
	struct step *arr = NULL;
	struct seqs seqs = {json_object()};
	struct pub_options po = {0};
	struct pub *p = NULL;
	struct pub_stats ps;
	const char *site = "default";
	double speedup = clock->is_virtual ? clock->speedup : 1.0;
	int64_t start = clock_now_ms(clock);
	struct timespec t0, t1;
	size_t i, n;
	int status = 0, published = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!root) {
		fprintf(stderr, "pitwall-sim: %s:%d:%d: %s\n", path, err.line, err.column,
		        err.text);
		status = EXIT_USAGE;
		goto out;
	}
	if (json_is_string(json_object_get(root, "site")))
		site = json_string_value(json_object_get(root, "site"));
	steps = json_object_get(root, "steps");
	if (!json_is_array(steps)) {
		fprintf(stderr, "pitwall-sim: %s: \"steps\": expected an array\n", path);
		status = EXIT_USAGE;
		goto out;
	}
	n = json_array_size(steps);
	arr = calloc(n ? n : 1, sizeof(*arr));
	if (!arr) {
		status = 1;
		goto out;
	}
	json_array_foreach(steps, i, st)
	{
		json_t *at_s = json_object_get(st, "at_s"), *at = json_object_get(st, "at");
		int64_t ms;

		if (!json_is_object(st)) {
			status = bad(path, (int)i, "expected an object");
			goto out;
		}
		if (json_is_number(at_s)) {
			ms = start + (int64_t)(json_number_value(at_s) * 1000.0);
		} else if (json_is_string(at) &&
		           clock_parse_iso8601(json_string_value(at), &ms) == PW_OK) {
		} else {
			status =
			    bad(path, (int)i, "\"at_s\" (seconds) or \"at\" (ISO 8601) needed");
			goto out;
		}
		arr[i].at_ms = ms;
		arr[i].index = (int)i;
		arr[i].obj = st;
	}
	qsort(arr, n, sizeof(*arr), cmp_step);

	po.transport = transport;
	po.uri = uri;
	po.client_id = client_id;
	po.clean_session = 0;
	po.window = 256;
	po.stop = stop;
	p = pub_new(&po);
	if (!p || pub_connect(p, 10000) != PW_OK) {
		status = 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char topic[256] = "", *payload = NULL;
		size_t len = 0;
		int retain = 0, q = qos, rc;
		json_t *jq = json_object_get(arr[i].obj, "qos");

		while (clock_now_ms(clock) < arr[i].at_ms && !(stop && atomic_load(stop))) {
			pub_flush(p);
			sleep_real_ms((double)(arr[i].at_ms - clock_now_ms(clock)) / speedup);
		}
		if (stop && atomic_load(stop))
			break;
		rc = render(path, arr[i].index, arr[i].obj, site, &seqs, arr[i].at_ms, topic,
		            sizeof(topic), &payload, &len, &retain);
		if (rc != 0) {
			free(payload);
			status = rc;
			goto out;
		}
		if (json_is_integer(jq))
			q = (int)json_integer_value(jq) ? 1 : 0;
		if (pub_send(p, topic, payload, len, q, retain, (uint64_t)arr[i].index) == PW_OK)
			published++;
		free(payload);
		pub_flush(p);
	}
	if (pub_wait(p, 30000) != PW_OK)
		status = 1;
	pub_get_stats(p, &ps);
	pub_disconnect(p, 2000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("{\"mode\":\"scenario\",\"steps\":%zu,\"published\":%d,\"acked\":%llu,"
	       "\"failed\":%llu,\"seconds\":%.3f,\"ok\":%s}\n",
	       n, published, (unsigned long long)ps.done, (unsigned long long)ps.failed,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       status == 0 && ps.failed == 0 ? "true" : "false");
	fflush(stdout);
	if (ps.failed)
		status = 1;
out:
	pub_free(p);
	free(arr);
	json_decref(seqs.next);
	json_decref(root);
	return status;
}
