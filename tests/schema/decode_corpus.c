/*
 * pw-decode-corpus — the gateway decoder's verdict on each corpus case, for
 * tests/schema/agreement.mjs (which builds the payload bytes from
 * tests/corpus/cases.json and compares the verdicts with ajv's).
 *
 * Input on stdin, one frame per case, bytes exactly as they go over MQTT:
 *
 *     NAME \t TOPIC \t NOW_MS \t LEN \n  then LEN payload bytes
 *
 * Output on stdout, one JSON line per case:
 *
 *     {"name":…,"kind":"telemetry"|"status"|"anpr"|"topic","reason":"ok"|<reason>,
 *      "detail":…,"is_array":bool,"items":[{"reason":…,"detail":…,"unknown_fields":N}]}
 *
 * `reason` is the whole message's verdict; for a readable telemetry message
 * it is "ok" and the objects' verdicts are in `items`. The topic is routed
 * as ingest does: decode_topic, then the decoder for its kind (a status
 * topic's vin is checked with decode_vin_valid first).
 *
 * `pw-decode-corpus --reasons` prints the reject reason names instead (one
 * JSON array), so the runner can check coverage and rejected.schema.json.
 *
 * Single-threaded; exits 0 when every frame was read, 2 on a malformed frame.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define HEADER_MAX  2048
#define PAYLOAD_CAP (64u * 1024 * 1024)

static struct decode_batch batch; /* large: one, reused */

static const char *verdict(enum pw_reject r)
{
	return r == PW_REJ_NONE ? "ok" : decode_reason_name(r);
}

static int parse_i64(const char *s, long long *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' ? 0 : -1;
}

/* Splits "NAME\tTOPIC\tNOW\tLEN" in place. */
static int split_header(char *line, char **name, char **topic, long long *now_ms, long long *len)
{
	char *f[4];
	char *p = line;

	for (int i = 0; i < 4; i++) {
		f[i] = p;
		p = strchr(p, i < 3 ? '\t' : '\n');
		if (!p)
			return -1;
		*p++ = '\0';
	}
	*name = f[0];
	*topic = f[1];
	if (parse_i64(f[2], now_ms) != 0 || parse_i64(f[3], len) != 0)
		return -1;
	return *len >= 0 && (unsigned long long)*len <= PAYLOAD_CAP ? 0 : -1;
}

static json_t *item_json(enum pw_reject r, const char *detail, unsigned unknown)
{
	return json_pack("{s:s, s:s, s:i}", "reason", verdict(r), "detail", detail,
	                 "unknown_fields", (int)unknown);
}

/* Decodes one case; returns its verdict line (a new reference). */
static json_t *judge(const char *name, const char *topic, long long now_ms, const char *payload,
                     size_t len)
{
	struct pw_topic tp;
	enum pw_reject r = PW_REJ_NONE;
	char detail[PW_DETAIL_MAX] = "";
	const char *kind = "topic";
	json_t *items = json_array();
	json_t *line;
	int is_array = 0;

	if (decode_topic(topic, strlen(topic), &tp) != PW_OK) {
		r = PW_REJ_BAD_TOPIC;
		snprintf(detail, sizeof(detail), "unknown topic");
	} else if (tp.kind == PW_TOPIC_TELEMETRY) {
		kind = "telemetry";
		decode_telemetry(tp.vin, payload, len, now_ms, &batch);
		r = batch.reason;
		snprintf(detail, sizeof(detail), "%s", batch.detail);
		is_array = batch.is_array;
		for (int i = 0; i < batch.count; i++)
			json_array_append_new(items, item_json(batch.items[i].reason,
			                                       batch.items[i].detail,
			                                       batch.items[i].t.unknown_fields));
	} else if (tp.kind == PW_TOPIC_STATUS) {
		struct pw_status st;

		kind = "status";
		if (!decode_vin_valid(tp.vin)) {
			r = PW_REJ_BAD_VIN;
			snprintf(detail, sizeof(detail), "topic vin");
		} else {
			decode_status(payload, len, &st, &r, detail, sizeof(detail));
		}
	} else {
		struct pw_plate_read pr;

		kind = "anpr";
		decode_anpr(payload, len, now_ms, &pr, &r, detail, sizeof(detail));
	}
	line = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "name", name, "kind", kind, "reason",
	                 verdict(r), "detail", detail, "is_array", is_array, "items", items);
	return line;
}

static int print_reasons(void)
{
	printf("[");
	for (int i = 1; i < PW_REJ__COUNT; i++)
		printf("%s\"%s\"", i > 1 ? "," : "", decode_reason_name((enum pw_reject)i));
	printf("]\n");
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	char header[HEADER_MAX];
	char *payload = NULL;
	int rc = 0;

	if (argc == 2 && strcmp(argv[1], "--reasons") == 0)
		return print_reasons();
	if (argc != 1) {
		fprintf(stderr, "usage: pw-decode-corpus [--reasons] < frames\n");
		return 2;
	}

	while (fgets(header, sizeof(header), stdin)) {
		char *name, *topic;
		long long now_ms, len;
		json_t *line;

		if (split_header(header, &name, &topic, &now_ms, &len) != 0) {
			fprintf(stderr, "pw-decode-corpus: malformed frame header\n");
			rc = 2;
			goto out;
		}
		payload = malloc(len > 0 ? (size_t)len : 1);
		if (!payload || fread(payload, 1, (size_t)len, stdin) != (size_t)len) {
			fprintf(stderr, "pw-decode-corpus: %s: short payload\n", name);
			rc = 2;
			goto out;
		}
		line = judge(name, topic, now_ms, payload, (size_t)len);
		free(payload);
		payload = NULL;
		if (!line) {
			fprintf(stderr, "pw-decode-corpus: %s: cannot print verdict\n", name);
			rc = 2;
			goto out;
		}
		json_dumpf(line, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
		fputc('\n', stdout);
		json_decref(line);
	}
out:
	free(payload);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
