/*
 * fuzz_decode — libFuzzer target over the decoder: any bytes, as an MQTT
 * payload or topic. The first byte chooses what the rest is (its low two
 * bits: 0 telemetry, 1 status, 2 plate read, 3 topic), so the seeds read
 * "0{...}", "1{...}", "2{...}", "3pitwall/v1/...".
 *
 * Beyond "no crash, no leak, no UB" it checks the decoder's promises: a
 * verdict is always one of the reasons; an accepted object obeys every rule
 * of the contract (ranges, window, VIN equal to the topic's, flags only for
 * members it carried); a rejected one is zeroed and says why in printable
 * ASCII; decoding is deterministic.
 *
 * Differential: every telemetry, status and plate-read input also goes
 * through the Jansson-based decoder decode.c replaced
 * (tests/fuzz/decode_reference.c, compiled into this target only); any
 * difference in verdict, detail or decoded value aborts, naming it
 * (ref_diff documents the one allowed difference). PW_FUZZ_NO_REF=1 in the
 * environment turns that off.
 *
 * Seeds: tests/fuzz/corpus/decode/. Build with -DPW_FUZZ=ON (clang).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "pw.h"

#include "decode_reference.c" /* ref_diff and the old decoder: static, this target only */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VIN "LSVAU2180N2183294"
#define NOW 1767225600000LL

static struct decode_batch batch, again;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static int with_ref = -1; /* -1: not decided yet (PW_FUZZ_NO_REF) */

/* The old decoder must agree on the same bytes. */
static void check_reference(enum ref_kind kind, const uint8_t *p, size_t n)
{
	const char *why;

	if (with_ref < 0) {
		const char *off = getenv("PW_FUZZ_NO_REF");

		with_ref = !(off && *off && strcmp(off, "0") != 0);
	}
	if (!with_ref)
		return;
	why = ref_diff(kind, VIN, p, n, NOW);
	if (why) {
		fprintf(stderr, "fuzz_decode: differs from the reference decoder: %s\n", why);
		abort();
	}
}

static void check_detail(const char *d, size_t cap, int rejected)
{
	const char *end = memchr(d, '\0', cap);

	CHECK(end);
	CHECK(rejected ? end > d : end == d);
	for (; d < end; d++)
		CHECK(*d >= 0x20 && *d <= 0x7E);
}

static void check_reason(enum pw_reject r)
{
	CHECK((unsigned)r < PW_REJ__COUNT);
	CHECK(strcmp(decode_reason_name(r), "unknown") != 0);
}

static int in(double v, double lo, double hi)
{
	return v >= lo && v <= hi;
}

static int is_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

static void check_accepted(const struct pw_telemetry *t)
{
	CHECK(strcmp(t->vin, VIN) == 0);
	CHECK(t->seq >= 0);
	CHECK(t->ts_ms >= NOW - PW_TS_PAST_MS && t->ts_ms <= NOW + PW_TS_FUTURE_MS);
	CHECK((t->has & ~0x7FFu) == 0);
	CHECK(t->has & PW_F_ODOMETER ? in(t->odometer_km, 0, 2e6) : t->odometer_km == 0);
	CHECK(t->has & PW_F_SPEED ? in(t->speed_kmh, 0, 400) : t->speed_kmh == 0);
	CHECK(t->has & PW_F_FUEL_PCT ? in(t->fuel_pct, 0, 100) : t->fuel_pct == 0);
	CHECK(t->has & PW_F_FUEL_RATE ? in(t->fuel_l_per_100km, 0, 100) : t->fuel_l_per_100km == 0);
	CHECK(t->has & PW_F_BATTERY ? in(t->battery_v, 0, 60) : t->battery_v == 0);
	CHECK(t->has & PW_F_ENGINE_HOURS ? t->engine_hours >= 0 : t->engine_hours == 0);
	CHECK(t->has & PW_F_POSITION ? in(t->lat, -90, 90) && in(t->lon, -180, 180)
	                             : t->lat == 0 && t->lon == 0);
	CHECK(t->has & PW_F_HEADING ? in(t->heading_deg, 0, 360) : t->heading_deg == 0);
	CHECK(t->has & PW_F_IGNITION ? t->ignition >= PW_IGN_OFF && t->ignition <= PW_IGN_ON
	                             : t->ignition == PW_IGN_UNKNOWN);
	for (int i = 0; i < PW_TIRE_COUNT; i++) {
		const struct pw_tire *w = &t->tires[i];

		CHECK((w->has & ~7u) == 0);
		CHECK(!w->has || (t->has & PW_F_TIRES));
		CHECK(w->has & PW_TIRE_KPA ? in(w->kpa, 0, 1000) : w->kpa == 0);
		CHECK(w->has & PW_TIRE_TREAD ? in(w->tread_mm, 0, 30) : w->tread_mm == 0);
		CHECK(w->has & PW_TIRE_TEMP ? in(w->temp_c, -60, 200) : w->temp_c == 0);
	}
	CHECK(t->dtc_count <= PW_DTC_MAX);
	CHECK(t->dtc_count == 0 || (t->has & PW_F_DTC));
	for (int i = 0; i < t->dtc_count; i++) {
		const struct pw_dtc *d = &t->dtc[i];

		CHECK(strlen(d->code) == 5 && strchr("PCBU", d->code[0]));
		CHECK(d->code[1] >= '0' && d->code[1] <= '3');
		CHECK(d->status >= PW_DTC_PENDING && d->status <= PW_DTC_PERMANENT);
		CHECK(d->mil <= 1);
		for (int k = 0; k < i; k++)
			CHECK(strcmp(t->dtc[k].code, d->code) != 0);
	}
}

static void fuzz_telemetry(const uint8_t *p, size_t n)
{
	int rc = decode_telemetry(VIN, p, n, NOW, &batch);

	check_reason(batch.reason);
	check_detail(batch.detail, sizeof(batch.detail), batch.reason != PW_REJ_NONE);
	CHECK((rc == PW_OK) == (batch.reason == PW_REJ_NONE));
	CHECK(rc == PW_OK || rc == PW_EINVAL || rc == PW_ENOMEM);
	CHECK(batch.count >= 0 && batch.count <= PW_BATCH_MAX);
	CHECK(rc == PW_OK ? batch.count >= 1 : batch.count == 0);
	CHECK(batch.is_array || batch.count <= 1);
	CHECK(n <= PW_PAYLOAD_MAX || batch.reason == PW_REJ_TOO_LARGE);
	for (int i = 0; i < batch.count; i++) {
		const struct decode_item *it = &batch.items[i];

		check_reason(it->reason);
		check_detail(it->detail, sizeof(it->detail), it->reason != PW_REJ_NONE);
		if (it->reason == PW_REJ_NONE)
			check_accepted(&it->t);
		else
			CHECK(is_zero(&it->t, sizeof(it->t)));
	}

	/* the same bytes, the same verdicts */
	decode_telemetry(VIN, p, n, NOW, &again);
	CHECK(again.reason == batch.reason && again.count == batch.count &&
	      again.is_array == batch.is_array);
	for (int i = 0; i < batch.count; i++)
		CHECK(memcmp(&again.items[i], &batch.items[i], sizeof(batch.items[i])) == 0);
	check_reference(REF_TELEMETRY, p, n);
}

static void fuzz_status(const uint8_t *p, size_t n)
{
	struct pw_status st;
	enum pw_reject r = PW_REJ__COUNT;
	char detail[PW_DETAIL_MAX];
	int rc = decode_status(p, n, &st, &r, detail, sizeof(detail));

	check_reason(r);
	check_detail(detail, sizeof(detail), r != PW_REJ_NONE);
	CHECK((rc == PW_OK) == (r == PW_REJ_NONE));
	if (rc == PW_OK)
		CHECK(st.ts_ms >= 0 && (st.online == 0 || st.online == 1));
	else
		CHECK(is_zero(&st, sizeof(st)));
	check_reference(REF_STATUS, p, n);
}

static void fuzz_anpr(const uint8_t *p, size_t n)
{
	struct pw_plate_read pr;
	enum pw_reject r = PW_REJ__COUNT;
	char detail[PW_DETAIL_MAX];
	int rc = decode_anpr(p, n, NOW, &pr, &r, detail, sizeof(detail));
	size_t len;

	check_reason(r);
	check_detail(detail, sizeof(detail), r != PW_REJ_NONE);
	CHECK((rc == PW_OK) == (r == PW_REJ_NONE));
	check_reference(REF_ANPR, p, n);
	if (rc != PW_OK) {
		CHECK(is_zero(&pr, sizeof(pr)));
		return;
	}
	CHECK(pr.ts_ms >= NOW - PW_TS_PAST_MS && pr.ts_ms <= NOW + PW_TS_FUTURE_MS);
	CHECK(in(pr.confidence, 0, 1));
	len = strlen(pr.plate);
	CHECK(len >= 2 && len <= 36);
	for (size_t i = 0; i < len; i++)
		CHECK(!(pr.plate[i] >= 'a' && pr.plate[i] <= 'z') && pr.plate[i] != ' ');
	len = strlen(pr.camera);
	CHECK(len >= 1 && len <= 64);
	for (size_t i = 0; i < len; i++)
		CHECK(pr.camera[i] >= 0x20 && pr.camera[i] <= 0x7E);
}

static void fuzz_topic(const uint8_t *p, size_t n)
{
	struct pw_topic t;
	int rc = decode_topic((const char *)p, n, &t);

	CHECK(memchr(t.vin, '\0', sizeof(t.vin)) && memchr(t.site, '\0', sizeof(t.site)));
	if (rc != PW_OK) {
		CHECK(rc == PW_EINVAL && t.kind == PW_TOPIC_UNKNOWN);
		return;
	}
	CHECK(n > 11 && memcmp(p, "pitwall/v1/", 11) == 0);
	if (t.kind == PW_TOPIC_ANPR) {
		CHECK(t.site[0] != '\0' && t.vin[0] == '\0');
		CHECK(strspn(t.site,
		             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
		      strlen(t.site));
	} else {
		CHECK(t.kind == PW_TOPIC_TELEMETRY || t.kind == PW_TOPIC_STATUS);
		CHECK(t.site[0] == '\0');
		/* a VIN is exactly the topic's segment after "pitwall/v1/vehicles/" */
		if (decode_vin_valid(t.vin))
			CHECK(n > 20 + PW_VIN_LEN && memcmp(p + 20, t.vin, PW_VIN_LEN) == 0 &&
			      p[20 + PW_VIN_LEN] == '/');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] & 3) {
	case 0:
		fuzz_telemetry(data + 1, size - 1);
		break;
	case 1:
		fuzz_status(data + 1, size - 1);
		break;
	case 2:
		fuzz_anpr(data + 1, size - 1);
		break;
	default:
		fuzz_topic(data + 1, size - 1);
		break;
	}
	return 0;
}
