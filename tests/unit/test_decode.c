/*
 * test_decode — the decoder against the contract: every reject reason, the
 * boundaries of every range and of the ts window, batches, topics, status,
 * plate reads, VINs; that decoding allocates nothing at all (the decoder
 * used to parse with Jansson, whose allocation failures this file once
 * injected, after Jansson's test_chaos.c); and agreement, on every verdict,
 * detail and decoded value, with that Jansson-based decoder
 * (tests/fuzz/decode_reference.c) over hand-picked payloads, the fuzz seeds
 * and deterministic mutations of them. tests/corpus and the schema
 * agreement runner cover the same rules from the outside; this file checks
 * the decoded values and the edges one by one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "pw.h"

#include "../fuzz/decode_reference.c" /* ref_decode_*, ref_diff: static, tests only */

#define VIN     "LSVAU2180N2183294"
#define VIN2    "LSVCA2114M4100000"
#define NOW     1767225600000LL /* 2026-01-01T00:00:00Z */
#define TS      "1767225540000" /* NOW - 60 s */
#define BASE    "\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS
#define OBJ(m)  "{" BASE m "}" /* OBJ(",\"speed_kmh\":1") */
#define MINUTES (60 * 1000LL)
#define DAYS    (24 * 3600 * 1000LL)

static struct decode_batch batch; /* large: one, reused */

static int tele_n(const char *topic_vin, const void *payload, size_t len, int64_t now_ms)
{
	return decode_telemetry(topic_vin, payload, len, now_ms, &batch);
}

/* The verdict on a payload holding one object: the whole message's reason
 * when it was unreadable, else the object's. */
static enum pw_reject verdict_at(const char *json, int64_t now_ms)
{
	int rc = tele_n(VIN, json, strlen(json), now_ms);

	if (rc != PW_OK) {
		assert_int_equal(batch.count, 0);
		assert_int_not_equal(batch.reason, PW_REJ_NONE);
		return batch.reason;
	}
	assert_int_equal(batch.reason, PW_REJ_NONE);
	assert_int_equal(batch.count, 1);
	assert_int_equal(batch.is_array, 0);
	return batch.items[0].reason;
}

static void expect_at(const char *json, int64_t now_ms, enum pw_reject want)
{
	enum pw_reject got = verdict_at(json, now_ms);

	if (got != want)
		fail_msg("%s\n  got %s (%s), want %s", json, decode_reason_name(got),
		         batch.count ? batch.items[0].detail : batch.detail,
		         decode_reason_name(want));
}

static void expect(const char *json, enum pw_reject want)
{
	expect_at(json, NOW, want);
}

/* ---- names and VINs ---------------------------------------------------- */

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(decode_reason_name(PW_REJ_NONE), "none");
	assert_string_equal(decode_reason_name(PW_REJ_BAD_JSON), "bad_json");
	assert_string_equal(decode_reason_name(PW_REJ_TS_TOO_OLD), "ts_too_old");
	assert_string_equal(decode_reason_name(PW_REJ__COUNT), "unknown");
	assert_string_equal(decode_reason_name((enum pw_reject) - 1), "unknown");
	for (int i = 1; i < PW_REJ__COUNT; i++) {
		const char *a = decode_reason_name((enum pw_reject)i);

		assert_string_not_equal(a, "unknown");
		for (const char *p = a; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_' ||
			            (*p >= '0' && *p <= '9'));
		for (int j = 1; j < i; j++)
			assert_string_not_equal(a, decode_reason_name((enum pw_reject)j));
	}
}

static void test_vin_valid(void **state)
{
	(void)state;
	assert_true(decode_vin_valid(VIN));
	assert_true(decode_vin_valid("12345678901234567"));
	assert_true(decode_vin_valid("ABCDEFGHJKLMNPRST"));
	assert_true(decode_vin_valid("UVWXYZ00000000000"));
	assert_false(decode_vin_valid(NULL));
	assert_false(decode_vin_valid(""));
	assert_false(decode_vin_valid("LSVAU2180N218329"));   /* 16 */
	assert_false(decode_vin_valid("LSVAU2180N21832940")); /* 18 */
	assert_false(decode_vin_valid("LSVAU2180I2183294"));  /* I */
	assert_false(decode_vin_valid("LSVAU2180O2183294"));  /* O */
	assert_false(decode_vin_valid("LSVAU2180Q2183294"));  /* Q */
	assert_false(decode_vin_valid("lsvau2180n2183294"));
	assert_false(decode_vin_valid("LSVAU2180N218329 "));
	assert_false(decode_vin_valid("LSVAU2180N218329-"));
}

/* ---- topics ---------------------------------------------------------------- */

static int topic(const char *s, struct pw_topic *out)
{
	return decode_topic(s, strlen(s), out);
}

static void test_topic_shapes(void **state)
{
	struct pw_topic t;

	(void)state;
	assert_int_equal(topic("pitwall/v1/vehicles/" VIN "/telemetry", &t), PW_OK);
	assert_int_equal(t.kind, PW_TOPIC_TELEMETRY);
	assert_string_equal(t.vin, VIN);
	assert_string_equal(t.site, "");

	assert_int_equal(topic("pitwall/v1/vehicles/" VIN2 "/status", &t), PW_OK);
	assert_int_equal(t.kind, PW_TOPIC_STATUS);
	assert_string_equal(t.vin, VIN2);

	assert_int_equal(topic("pitwall/v1/sites/jinan-west/anpr", &t), PW_OK);
	assert_int_equal(t.kind, PW_TOPIC_ANPR);
	assert_string_equal(t.site, "jinan-west");
	assert_string_equal(t.vin, "");

	assert_int_equal(topic("pitwall/v1/sites/A_z-09/anpr", &t), PW_OK);
	assert_string_equal(t.site, "A_z-09");
}

static void test_topic_vin_kept_for_later_check(void **state)
{
	struct pw_topic t;

	(void)state;
	/* a short or odd vin segment is passed on: the vin check rejects it */
	assert_int_equal(topic("pitwall/v1/vehicles/NOT-A-VIN/status", &t), PW_OK);
	assert_int_equal(t.kind, PW_TOPIC_STATUS);
	assert_string_equal(t.vin, "NOT-A-VIN");
	assert_false(decode_vin_valid(t.vin));
	/* too long for a VIN: never truncated into a valid-looking one */
	assert_int_equal(topic("pitwall/v1/vehicles/" VIN "X/telemetry", &t), PW_OK);
	assert_string_equal(t.vin, "");
	assert_false(decode_vin_valid(t.vin));
}

static void test_topic_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "pitwall",
	    "pitwall/v1/",
	    "pitwall/v1/vehicles/",
	    "pitwall/v1/vehicles/" VIN,
	    "pitwall/v1/vehicles/" VIN "/",
	    "pitwall/v1/vehicles/" VIN "/telemetry/",
	    "pitwall/v1/vehicles/" VIN "/telemetryx",
	    "pitwall/v1/vehicles/" VIN "/notify",
	    "pitwall/v1/vehicles//telemetry",
	    "pitwall/v1/vehicles/a/b/telemetry",
	    "pitwall/v2/vehicles/" VIN "/telemetry",
	    "/pitwall/v1/vehicles/" VIN "/telemetry",
	    "Pitwall/v1/vehicles/" VIN "/telemetry",
	    "pitwall/v1/sites/jinan-west/events",
	    "pitwall/v1/sites/jinan-west/rejected",
	    "pitwall/v1/sites/jinan-west/gateway",
	    "pitwall/v1/sites//anpr",
	    "pitwall/v1/sites/jinan.west/anpr",
	    "pitwall/v1/sites/jinan west/anpr",
	    "pitwall/v1/sites/+/anpr",
	    "pitwall/v1/sites/jinan-west/anpr/",
	    "pitwall/v1/sites/a/b/anpr",
	};
	struct pw_topic t;
	char site[128];

	(void)state;
	for (size_t i = 0; i < PW_ARRAY_LEN(bad); i++) {
		if (topic(bad[i], &t) != PW_EINVAL)
			fail_msg("accepted topic \"%s\"", bad[i]);
		assert_int_equal(t.kind, PW_TOPIC_UNKNOWN);
	}
	/* site ids: at most 63 characters */
	memset(site, 0, sizeof(site));
	memcpy(site, "pitwall/v1/sites/", 17);
	memset(site + 17, 's', 63);
	memcpy(site + 17 + 63, "/anpr", 5);
	assert_int_equal(topic(site, &t), PW_OK);
	assert_int_equal(strlen(t.site), 63);
	memset(site, 0, sizeof(site));
	memcpy(site, "pitwall/v1/sites/", 17);
	memset(site + 17, 's', 64);
	memcpy(site + 17 + 64, "/anpr", 5);
	assert_int_equal(topic(site, &t), PW_EINVAL);
	assert_int_equal(decode_topic(NULL, 5, &t), PW_EINVAL);
}

static void test_topic_length_bounded(void **state)
{
	static const char buf[] = "pitwall/v1/vehicles/" VIN "/statusXYZ";
	static const char nul[] = "pitwall/v1/vehicles/LSVAU2180N218329\0/status";
	struct pw_topic t;

	(void)state;
	/* not NUL-terminated: only `len` bytes count */
	assert_int_equal(decode_topic(buf, sizeof(buf) - 1 - 3, &t), PW_OK);
	assert_int_equal(t.kind, PW_TOPIC_STATUS);
	assert_int_equal(decode_topic(buf, sizeof(buf) - 1, &t), PW_EINVAL);
	assert_int_equal(decode_topic(buf, 10, &t), PW_EINVAL);
	/* a NUL inside is never part of a topic */
	assert_int_equal(decode_topic(nul, sizeof(nul) - 1, &t), PW_EINVAL);
}

/* ---- telemetry: accepted values ------------------------------------------------ */

static void test_minimal_object(void **state)
{
	const struct pw_telemetry *t = &batch.items[0].t;

	(void)state;
	expect(OBJ(""), PW_REJ_NONE);
	assert_string_equal(t->vin, VIN);
	assert_int_equal(t->seq, 42);
	assert_int_equal(t->ts_ms, 1767225540000LL);
	assert_int_equal(t->has, 0);
	assert_int_equal(t->unknown_fields, 0);
	assert_int_equal(t->dtc_count, 0);
	assert_string_equal(batch.items[0].detail, "");
}

static void test_full_object(void **state)
{
	const char *json =
	    OBJ(",\"odometer_km\":48213.7,\"speed_kmh\":62.5,\"ignition\":\"acc\","
	        "\"fuel_pct\":41.25,\"fuel_l_per_100km\":7.75,\"battery_v\":14.5,"
	        "\"engine_hours\":1532.25,\"lat\":36.6686,\"lon\":-116.8905,"
	        "\"heading_deg\":271.5,"
	        "\"tires\":{\"fl\":{\"kpa\":231,\"tread_mm\":6.5,\"temp_c\":-31},"
	        "\"rr\":{\"kpa\":229.5}},"
	        "\"dtc\":[{\"code\":\"P0301\",\"status\":\"confirmed\",\"mil\":true},"
	        "{\"code\":\"U3FFF\",\"status\":\"permanent\"},"
	        "{\"code\":\"B0A1C\",\"status\":\"pending\",\"mil\":false}]");
	const struct pw_telemetry *t = &batch.items[0].t;

	(void)state;
	expect(json, PW_REJ_NONE);
	assert_int_equal(t->has, PW_F_ODOMETER | PW_F_SPEED | PW_F_IGNITION | PW_F_FUEL_PCT |
	                             PW_F_FUEL_RATE | PW_F_BATTERY | PW_F_ENGINE_HOURS |
	                             PW_F_POSITION | PW_F_HEADING | PW_F_TIRES | PW_F_DTC);
	assert_true(t->odometer_km == 48213.7);
	assert_true(t->speed_kmh == 62.5f);
	assert_int_equal(t->ignition, PW_IGN_ACC);
	assert_true(t->fuel_pct == 41.25f);
	assert_true(t->fuel_l_per_100km == 7.75f);
	assert_true(t->battery_v == 14.5f);
	assert_true(t->engine_hours == 1532.25);
	assert_true(t->lat == 36.6686 && t->lon == -116.8905);
	assert_true(t->heading_deg == 271.5f);

	assert_int_equal(t->tires[PW_TIRE_FL].has, PW_TIRE_KPA | PW_TIRE_TREAD | PW_TIRE_TEMP);
	assert_true(t->tires[PW_TIRE_FL].kpa == 231.0f);
	assert_true(t->tires[PW_TIRE_FL].tread_mm == 6.5f);
	assert_true(t->tires[PW_TIRE_FL].temp_c == -31.0f);
	assert_int_equal(t->tires[PW_TIRE_FR].has, 0);
	assert_int_equal(t->tires[PW_TIRE_RL].has, 0);
	assert_int_equal(t->tires[PW_TIRE_RR].has, PW_TIRE_KPA);
	assert_true(t->tires[PW_TIRE_RR].kpa == 229.5f);

	assert_int_equal(t->dtc_count, 3);
	assert_string_equal(t->dtc[0].code, "P0301");
	assert_int_equal(t->dtc[0].status, PW_DTC_CONFIRMED);
	assert_int_equal(t->dtc[0].mil, 1);
	assert_string_equal(t->dtc[1].code, "U3FFF");
	assert_int_equal(t->dtc[1].status, PW_DTC_PERMANENT);
	assert_int_equal(t->dtc[1].mil, 0); /* absent: false */
	assert_string_equal(t->dtc[2].code, "B0A1C");
	assert_int_equal(t->dtc[2].status, PW_DTC_PENDING);
	assert_int_equal(t->dtc[2].mil, 0);
	assert_int_equal(t->unknown_fields, 0);
}

static void test_ignition_values(void **state)
{
	(void)state;
	expect(OBJ(",\"ignition\":\"off\""), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.ignition, PW_IGN_OFF);
	expect(OBJ(",\"ignition\":\"on\""), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.ignition, PW_IGN_ON);
	expect(OBJ(",\"ignition\":\"acc\""), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.ignition, PW_IGN_ACC);
	expect(OBJ(",\"ignition\":\"ON\""), PW_REJ_OUT_OF_RANGE);
	expect(OBJ(",\"ignition\":\"o\""), PW_REJ_OUT_OF_RANGE);
	expect(OBJ(",\"ignition\":\"\""), PW_REJ_OUT_OF_RANGE);
	expect(OBJ(",\"ignition\":\"on\\u0000\""), PW_REJ_OUT_OF_RANGE);
	expect(OBJ(",\"ignition\":1"), PW_REJ_BAD_TYPE);
	expect(OBJ(",\"ignition\":null"), PW_REJ_BAD_TYPE);
}

static void test_unknown_fields_counted(void **state)
{
	(void)state;
	expect(OBJ(",\"note\":\"hi\",\"x\":null,\"nested\":{\"a\":[1,{\"b\":2}]},\"Speed_kmh\":3"),
	       PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.unknown_fields, 4);
	assert_int_equal(batch.items[0].t.has, 0);
	/* inside a tire and a dtc entry too */
	expect(OBJ(",\"tires\":{\"fl\":{\"kpa\":230,\"psi\":33}},"
	           "\"dtc\":[{\"code\":\"P0301\",\"status\":\"pending\",\"desc\":\"misfire\"}]"),
	       PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.unknown_fields, 2);
	/* a key that only shares a prefix or length with a known one */
	expect(OBJ(",\"vi\":1,\"vinx\":1,\"tss\":1,\"lat_\":1,\"dtcs\":[]"), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.unknown_fields, 5);
}

static void test_integers_as_json_schema_sees_them(void **state)
{
	(void)state;
	/* 1.0 and 1e3 are integers in JSON Schema, 1.5 is not */
	expect("{\"v\":1.0,\"vin\":\"" VIN "\",\"seq\":1e3,\"ts\":1.76722554e12}", PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.seq, 1000);
	assert_int_equal(batch.items[0].t.ts_ms, 1767225540000LL);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":1.5,\"ts\":" TS "}", PW_REJ_BAD_TYPE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":1767225540000.5}", PW_REJ_BAD_TYPE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":0,\"ts\":" TS "}", PW_REJ_NONE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":9223372036854775807,\"ts\":" TS "}",
	       PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.seq, INT64_MAX);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":-1,\"ts\":" TS "}", PW_REJ_OUT_OF_RANGE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":-0.0,\"ts\":" TS "}", PW_REJ_NONE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":1e19,\"ts\":" TS "}", PW_REJ_OUT_OF_RANGE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":-1e19,\"ts\":" TS "}", PW_REJ_OUT_OF_RANGE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":9223372036854775808,\"ts\":" TS "}",
	       PW_REJ_NUMBER_OVERFLOW);
}

/* ---- telemetry: required fields -------------------------------------------------- */

static void test_required_fields(void **state)
{
	(void)state;
	expect("{\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS "}", PW_REJ_MISSING_FIELD);
	expect("{\"v\":1,\"seq\":42,\"ts\":" TS "}", PW_REJ_MISSING_FIELD);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"ts\":" TS "}", PW_REJ_MISSING_FIELD);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42}", PW_REJ_MISSING_FIELD);
	assert_string_equal(batch.items[0].detail, "ts: missing");
	expect("{}", PW_REJ_MISSING_FIELD);

	expect("{\"v\":\"1\",\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS "}", PW_REJ_BAD_TYPE);
	expect("{\"v\":null,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS "}", PW_REJ_BAD_TYPE);
	expect("{\"v\":true,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS "}", PW_REJ_BAD_TYPE);
	expect("{\"v\":2,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS "}", PW_REJ_BAD_VERSION);
	expect("{\"v\":0,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS "}", PW_REJ_BAD_VERSION);
	expect("{\"v\":1.5,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS "}", PW_REJ_BAD_VERSION);
	expect("{\"v\":1,\"vin\":17,\"seq\":42,\"ts\":" TS "}", PW_REJ_BAD_TYPE);
	expect("{\"v\":1,\"vin\":null,\"seq\":42,\"ts\":" TS "}", PW_REJ_BAD_TYPE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":\"42\",\"ts\":" TS "}", PW_REJ_BAD_TYPE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":null,\"ts\":" TS "}", PW_REJ_BAD_TYPE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":\"" TS "\"}", PW_REJ_BAD_TYPE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":[1]}", PW_REJ_BAD_TYPE);
}

static void test_vin_rules(void **state)
{
	char buf[256];

	(void)state;
	expect("{\"v\":1,\"vin\":\"lsvau2180n2183294\",\"seq\":1,\"ts\":" TS "}", PW_REJ_BAD_VIN);
	expect("{\"v\":1,\"vin\":\"LSVAU2180N218329\",\"seq\":1,\"ts\":" TS "}", PW_REJ_BAD_VIN);
	expect("{\"v\":1,\"vin\":\"LSVAU2180N21832944\",\"seq\":1,\"ts\":" TS "}", PW_REJ_BAD_VIN);
	expect("{\"v\":1,\"vin\":\"LSVAU2180I2183294\",\"seq\":1,\"ts\":" TS "}", PW_REJ_BAD_VIN);
	expect("{\"v\":1,\"vin\":\"LSVAU2180N218329\\u0000\",\"seq\":1,\"ts\":" TS "}",
	       PW_REJ_BAD_VIN);
	expect("{\"v\":1,\"vin\":\"" VIN2 "\",\"seq\":1,\"ts\":" TS "}", PW_REJ_VIN_MISMATCH);
	/* the escaped spelling of the same VIN is the same VIN */
	expect("{\"v\":1,\"vin\":\"\\u004CSVAU2180N2183294\",\"seq\":1,\"ts\":" TS "}",
	       PW_REJ_NONE);

	/* the topic's VIN is checked first, for the whole message */
	snprintf(buf, sizeof(buf), "%s", OBJ(""));
	assert_int_equal(tele_n("LSVAU2180N218329", buf, strlen(buf), NOW), PW_EINVAL);
	assert_int_equal(batch.reason, PW_REJ_BAD_VIN);
	assert_int_equal(batch.count, 0);
	assert_int_equal(tele_n("", buf, strlen(buf), NOW), PW_EINVAL);
	assert_int_equal(batch.reason, PW_REJ_BAD_VIN);
	assert_int_equal(tele_n(NULL, buf, strlen(buf), NOW), PW_EINVAL);
	assert_int_equal(batch.reason, PW_REJ_BAD_VIN);
}

static void test_ts_window_boundaries(void **state)
{
	char buf[256];
	static const struct {
		int64_t offset_ms;
		enum pw_reject want;
	} cases[] = {
	    {0, PW_REJ_NONE},
	    {5 * MINUTES, PW_REJ_NONE},
	    {5 * MINUTES + 1, PW_REJ_TS_FUTURE},
	    {365 * DAYS, PW_REJ_TS_FUTURE},
	    {-30 * DAYS, PW_REJ_NONE},
	    {-30 * DAYS - 1, PW_REJ_TS_TOO_OLD},
	    {-NOW, PW_REJ_TS_TOO_OLD},     /* ts 0 */
	    {-NOW - 1, PW_REJ_TS_TOO_OLD}, /* ts -1 */
	};

	(void)state;
	assert_int_equal(PW_TS_FUTURE_MS, 5 * MINUTES);
	assert_int_equal(PW_TS_PAST_MS, 30 * DAYS);
	for (size_t i = 0; i < PW_ARRAY_LEN(cases); i++) {
		snprintf(buf, sizeof(buf), "{\"v\":1,\"vin\":\"%s\",\"seq\":1,\"ts\":%lld}", VIN,
		         (long long)(NOW + cases[i].offset_ms));
		expect(buf, cases[i].want);
	}
	/* beyond int64 as a real: as far in the future or past as it gets */
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":1,\"ts\":1e19}", PW_REJ_TS_FUTURE);
	expect("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":1,\"ts\":-1e19}", PW_REJ_TS_TOO_OLD);
	/* extreme clocks never overflow the window arithmetic */
	expect_at("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":1,\"ts\":9223372036854775807}", INT64_MAX,
	          PW_REJ_NONE);
	expect_at("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":1,\"ts\":-9223372036854775807}", INT64_MIN,
	          PW_REJ_NONE);
	expect_at("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":1,\"ts\":0}", INT64_MAX, PW_REJ_TS_TOO_OLD);
	expect_at("{\"v\":1,\"vin\":\"" VIN "\",\"seq\":1,\"ts\":0}", INT64_MIN, PW_REJ_TS_FUTURE);
}

/* ---- telemetry: optional fields ---------------------------------------------------- */

struct range_case {
	const char *member; /* JSON text before the value */
	const char *after;  /* JSON text after it */
	const char *min_ok, *max_ok, *below, *above;
	const char *name; /* what the detail must name */
};

static const struct range_case ranges[] = {
    {"\"odometer_km\":", "", "0", "2000000", "-0.001", "2000000.001", "odometer_km"},
    {"\"speed_kmh\":", "", "0", "400", "-1e-9", "400.0001", "speed_kmh"},
    {"\"fuel_pct\":", "", "0", "100", "-0.5", "100.5", "fuel_pct"},
    {"\"fuel_l_per_100km\":", "", "0", "100", "-1", "101", "fuel_l_per_100km"},
    {"\"battery_v\":", "", "0", "60", "-12", "60.01", "battery_v"},
    {"\"engine_hours\":", "", "0", "1e300", "-0.01", NULL, "engine_hours"},
    {"\"lat\":", ",\"lon\":0", "-90", "90", "-90.0001", "90.0001", "lat"},
    {"\"lon\":", ",\"lat\":0", "-180", "180", "-180.5", "180.5", "lon"},
    {"\"heading_deg\":", "", "0", "360", "-0.001", "360.5", "heading_deg"},
    {"\"tires\":{\"fl\":{\"kpa\":", "}}", "0", "1000", "-1", "1000.1", "tires.fl.kpa"},
    {"\"tires\":{\"fr\":{\"tread_mm\":", "}}", "0", "30", "-0.1", "30.5", "tires.fr.tread_mm"},
    {"\"tires\":{\"rl\":{\"temp_c\":", "}}", "-60", "200", "-60.5", "200.5", "tires.rl.temp_c"},
    {"\"tires\":{\"rr\":{\"temp_c\":", "}}", "-60", "200", "-61", "201", "tires.rr.temp_c"},
};

static void expect_member(const struct range_case *rc, const char *value, enum pw_reject want)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "{%s,%s%s%s}", BASE, rc->member, value, rc->after);
	expect(buf, want);
	/* an object's verdict names the field; a fault in the JSON (1e999) is
	 * the whole message's, and items[] is not read then (count is 0) */
	if (want != PW_REJ_NONE && batch.count > 0 && !strstr(batch.items[0].detail, rc->name))
		fail_msg("%s: detail \"%s\" does not name %s", buf, batch.items[0].detail,
		         rc->name);
}

static void test_number_ranges(void **state)
{
	(void)state;
	for (size_t i = 0; i < PW_ARRAY_LEN(ranges); i++) {
		const struct range_case *rc = &ranges[i];

		expect_member(rc, rc->min_ok, PW_REJ_NONE);
		expect_member(rc, rc->max_ok, PW_REJ_NONE);
		expect_member(rc, rc->below, PW_REJ_OUT_OF_RANGE);
		if (rc->above)
			expect_member(rc, rc->above, PW_REJ_OUT_OF_RANGE);
		expect_member(rc, "\"1\"", PW_REJ_BAD_TYPE);
		expect_member(rc, "null", PW_REJ_BAD_TYPE);
		expect_member(rc, "true", PW_REJ_BAD_TYPE);
		expect_member(rc, "[1]", PW_REJ_BAD_TYPE);
		expect_member(rc, "1e999", PW_REJ_NUMBER_OVERFLOW);
	}
}

static void test_position_pairing(void **state)
{
	(void)state;
	expect(OBJ(",\"lat\":36.6"), PW_REJ_BAD_POSITION);
	assert_string_equal(batch.items[0].detail, "lat: without lon");
	expect(OBJ(",\"lon\":116.9"), PW_REJ_BAD_POSITION);
	expect(OBJ(",\"lat\":0,\"lon\":0"), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.has, PW_F_POSITION);
	/* a wrong value is reported before the missing partner */
	expect(OBJ(",\"lat\":91"), PW_REJ_OUT_OF_RANGE);
}

static void test_tires(void **state)
{
	(void)state;
	expect(OBJ(",\"tires\":{}"), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.has, 0); /* no member: nothing changed */
	expect(OBJ(",\"tires\":{\"fl\":{}}"), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.has, 0);
	expect(OBJ(",\"tires\":{\"rl\":{\"tread_mm\":3}}"), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.has, PW_F_TIRES);
	assert_int_equal(batch.items[0].t.tires[PW_TIRE_RL].has, PW_TIRE_TREAD);
	expect(OBJ(",\"tires\":{\"fl\":{\"kpa\":230},\"sp\":{\"kpa\":200}}"), PW_REJ_OUT_OF_RANGE);
	expect(OBJ(",\"tires\":{\"FL\":{\"kpa\":230}}"), PW_REJ_OUT_OF_RANGE);
	expect(OBJ(",\"tires\":{\"f\":{}}"), PW_REJ_OUT_OF_RANGE);
	expect(OBJ(",\"tires\":{\"fl\":230}"), PW_REJ_BAD_TYPE);
	expect(OBJ(",\"tires\":{\"fl\":null}"), PW_REJ_BAD_TYPE);
	expect(OBJ(",\"tires\":[]"), PW_REJ_BAD_TYPE);
	expect(OBJ(",\"tires\":null"), PW_REJ_BAD_TYPE);
	expect(OBJ(",\"tires\":{\"fl\":{\"kpa\":1001}}"), PW_REJ_OUT_OF_RANGE);
	assert_string_equal(batch.items[0].detail, "tires.fl.kpa: out of range");
}

static void test_dtc(void **state)
{
	char buf[4096];
	size_t off;

	(void)state;
	expect(OBJ(",\"dtc\":[]"), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.has, PW_F_DTC); /* all cleared */
	assert_int_equal(batch.items[0].t.dtc_count, 0);
	expect(OBJ(",\"dtc\":{}"), PW_REJ_BAD_TYPE);
	expect(OBJ(",\"dtc\":null"), PW_REJ_BAD_TYPE);
	expect(OBJ(",\"dtc\":\"P0301\""), PW_REJ_BAD_TYPE);

	static const char *const bad_entries[] = {
	    "\"P0301\"",
	    "null",
	    "[]",
	    "{\"status\":\"pending\"}",
	    "{\"code\":\"P0301\"}",
	    "{\"code\":null,\"status\":\"pending\"}",
	    "{\"code\":301,\"status\":\"pending\"}",
	    "{\"code\":\"p0301\",\"status\":\"pending\"}",
	    "{\"code\":\"P4301\",\"status\":\"pending\"}",
	    "{\"code\":\"X0301\",\"status\":\"pending\"}",
	    "{\"code\":\"P03G1\",\"status\":\"pending\"}",
	    "{\"code\":\"P03a1\",\"status\":\"pending\"}",
	    "{\"code\":\"P030\",\"status\":\"pending\"}",
	    "{\"code\":\"P03011\",\"status\":\"pending\"}",
	    "{\"code\":\"P0301\\u0000\",\"status\":\"pending\"}",
	    "{\"code\":\"P0301\",\"status\":\"active\"}",
	    "{\"code\":\"P0301\",\"status\":\"Pending\"}",
	    "{\"code\":\"P0301\",\"status\":1}",
	    "{\"code\":\"P0301\",\"status\":null}",
	    "{\"code\":\"P0301\",\"status\":\"pending\",\"mil\":\"yes\"}",
	    "{\"code\":\"P0301\",\"status\":\"pending\",\"mil\":1}",
	    "{\"code\":\"P0301\",\"status\":\"pending\",\"mil\":null}",
	};
	for (size_t i = 0; i < PW_ARRAY_LEN(bad_entries); i++) {
		snprintf(buf, sizeof(buf),
		         "{%s,\"dtc\":[{\"code\":\"C0000\",\"status\":\"pending\"},%s]}", BASE,
		         bad_entries[i]);
		expect(buf, PW_REJ_BAD_DTC);
		assert_non_null(strstr(batch.items[0].detail, "dtc[1]"));
	}

	/* duplicate codes, whatever their status */
	expect(OBJ(",\"dtc\":[{\"code\":\"P0301\",\"status\":\"pending\"},"
	           "{\"code\":\"P0420\",\"status\":\"pending\"},"
	           "{\"code\":\"P0301\",\"status\":\"confirmed\",\"mil\":true}]"),
	       PW_REJ_BAD_DTC);
	assert_string_equal(batch.items[0].detail, "dtc[2].code: repeats dtc[0]");

	/* PW_DTC_MAX codes fit, one more does not */
	for (int n = PW_DTC_MAX; n <= PW_DTC_MAX + 1; n++) {
		off = (size_t)snprintf(buf, sizeof(buf), "{%s,\"dtc\":[", BASE);
		for (int i = 0; i < n; i++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			                        "%s{\"code\":\"B1%03X\",\"status\":\"permanent\"}",
			                        i ? "," : "", (unsigned)i);
		snprintf(buf + off, sizeof(buf) - off, "]}");
		expect(buf, n <= PW_DTC_MAX ? PW_REJ_NONE : PW_REJ_BAD_DTC);
	}
}

/* ---- telemetry: whole messages ------------------------------------------------------ */

static void expect_whole(const void *payload, size_t len, enum pw_reject want)
{
	int rc = tele_n(VIN, payload, len, NOW);

	if (batch.reason != want)
		fail_msg("%.60s: got %s (%s), want %s", (const char *)payload,
		         decode_reason_name(batch.reason), batch.detail, decode_reason_name(want));
	assert_int_equal(rc, PW_EINVAL);
	assert_int_equal(batch.count, 0);
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *json;
		enum pw_reject want;
	} cases[] = {
	    {"", PW_REJ_BAD_JSON},
	    {" ", PW_REJ_BAD_JSON},
	    {"{", PW_REJ_BAD_JSON},
	    {"{\"v\":1,", PW_REJ_BAD_JSON},
	    {"{\"v\":1,}", PW_REJ_BAD_JSON},
	    {"{'v':1}", PW_REJ_BAD_JSON},
	    {"{\"v\":NaN}", PW_REJ_BAD_JSON},
	    {"{\"v\":Infinity}", PW_REJ_BAD_JSON},
	    {"{\"v\":-Infinity}", PW_REJ_BAD_JSON},
	    {"{\"v\":01}", PW_REJ_BAD_JSON},
	    {"{\"v\":+1}", PW_REJ_BAD_JSON},
	    {"{\"v\":.5}", PW_REJ_BAD_JSON},
	    {"{\"v\":1} x", PW_REJ_BAD_JSON},
	    {"{\"v\":1}{}", PW_REJ_BAD_JSON},
	    {"{\"v\":1},{}", PW_REJ_BAD_JSON},
	    {"{\"v\":1}]", PW_REJ_BAD_JSON},
	    {"1,2", PW_REJ_BAD_JSON},
	    {"\"a\",\"b\"", PW_REJ_BAD_JSON},
	    {"{\"v\":1,\"v\":1}", PW_REJ_BAD_JSON},
	    {"{\"t\":{\"a\":1,\"a\":2}}", PW_REJ_BAD_JSON},
	    {"{\"a\\u0000b\":1}", PW_REJ_BAD_JSON},
	    {"{\"n\":\"\\ud800\"}", PW_REJ_BAD_JSON},
	    {"{\"n\":\"a\tb\"}", PW_REJ_BAD_JSON},
	    {"{\"n\":\"\\x\"}", PW_REJ_BAD_JSON},
	    {"\xef\xbb\xbf{}", PW_REJ_BAD_JSON},
	    {"{\"n\":1e999}", PW_REJ_NUMBER_OVERFLOW},
	    {"{\"n\":-1e999}", PW_REJ_NUMBER_OVERFLOW},
	    {"{\"n\":99999999999999999999}", PW_REJ_NUMBER_OVERFLOW},
	    {"{\"n\":-9223372036854775809}", PW_REJ_NUMBER_OVERFLOW},
	    {"{\"n\":\"\xff\"}", PW_REJ_BAD_UTF8},
	    {"{\"n\":\"\xc0\xaf\"}", PW_REJ_BAD_UTF8},
	    {"{\"n\":\"\xed\xa0\x80\"}", PW_REJ_BAD_UTF8},
	    {"{\"n\":\"\xf4\x90\x80\x80\"}", PW_REJ_BAD_UTF8},
	    {"{\"n\":\"\xe9\xb2\"}", PW_REJ_BAD_UTF8},
	    {"{\"n\":\"\xe9\xb2", PW_REJ_BAD_UTF8},
	    {"{\"\x80\":1}", PW_REJ_BAD_UTF8},
	    {"\"hello\"", PW_REJ_NOT_OBJECT},
	    {"42", PW_REJ_NOT_OBJECT},
	    {"null", PW_REJ_NOT_OBJECT},
	    {"false", PW_REJ_NOT_OBJECT},
	    {"[]", PW_REJ_BATCH_SIZE},
	};

	(void)state;
	for (size_t i = 0; i < PW_ARRAY_LEN(cases); i++)
		expect_whole(cases[i].json, strlen(cases[i].json), cases[i].want);
	/* a NULL payload is an empty one */
	expect_whole(NULL, 0, PW_REJ_BAD_JSON);
}

static void test_payload_length_is_honoured(void **state)
{
	const char *json = OBJ("") "garbage that is not part of the payload";

	(void)state;
	assert_int_equal(tele_n(VIN, json, strlen(OBJ("")), NOW), PW_OK);
	assert_int_equal(batch.items[0].reason, PW_REJ_NONE);
	assert_int_equal(tele_n(VIN, json, strlen(OBJ("")) + 1, NOW), PW_EINVAL);
	assert_int_equal(batch.reason, PW_REJ_BAD_JSON);
}

/* `size` bytes: a valid object padded with an unknown string member */
static char *padded(size_t size)
{
	static const char head[] = "{" BASE ",\"pad\":\"";
	char *p = malloc(size + 1);

	assert_non_null(p);
	assert_true(size >= sizeof(head) + 1);
	memcpy(p, head, sizeof(head) - 1);
	memset(p + sizeof(head) - 1, 'x', size - (sizeof(head) - 1) - 2);
	memcpy(p + size - 2, "\"}", 2);
	p[size] = '\0';
	return p;
}

static void test_size_limit(void **state)
{
	char *p;

	(void)state;
	p = padded(PW_PAYLOAD_MAX);
	assert_int_equal(tele_n(VIN, p, PW_PAYLOAD_MAX, NOW), PW_OK);
	assert_int_equal(batch.items[0].reason, PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.unknown_fields, 1);
	free(p);

	p = padded(PW_PAYLOAD_MAX + 1);
	expect_whole(p, PW_PAYLOAD_MAX + 1, PW_REJ_TOO_LARGE);
	free(p);

	/* checked before parsing: 1 MiB of anything */
	p = malloc(1u << 20);
	assert_non_null(p);
	memset(p, '[', 1u << 20);
	expect_whole(p, 1u << 20, PW_REJ_TOO_LARGE);
	free(p);
}

static void test_nesting(void **state)
{
	char *p = malloc(20000);

	(void)state;
	assert_non_null(p);
	memset(p, '[', 10000);
	expect_whole(p, 10000, PW_REJ_TOO_DEEP);
	memset(p + 10000, ']', 10000);
	expect_whole(p, 20000, PW_REJ_TOO_LARGE);
	/* deep inside an unknown member, within the size limit */
	{
		char *q = p;
		size_t depth = 3000, off = 0;

		off += (size_t)snprintf(q, 20000, "{%s,\"deep\":", BASE);
		memset(q + off, '[', depth);
		memset(q + off + depth, ']', depth);
		memcpy(q + off + 2 * depth, "}", 1);
		expect_whole(q, off + 2 * depth + 1, PW_REJ_TOO_DEEP);
		/* 100 levels are fine */
		off = (size_t)snprintf(q, 20000, "{%s,\"deep\":", BASE);
		memset(q + off, '[', 100);
		memset(q + off + 100, ']', 100);
		memcpy(q + off + 200, "}", 1);
		assert_int_equal(tele_n(VIN, q, off + 201, NOW), PW_OK);
		assert_int_equal(batch.items[0].reason, PW_REJ_NONE);
	}
	free(p);
}

/* ---- batches ---------------------------------------------------------------------- */

static char *batch_of(int n)
{
	size_t cap = (size_t)n * 128 + 16, off = 0;
	char *p = malloc(cap);

	assert_non_null(p);
	off += (size_t)snprintf(p + off, cap - off, "[");
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(p + off, cap - off,
		                        "%s{\"v\":1,\"vin\":\"%s\",\"seq\":%d,\"ts\":%s}",
		                        i ? "," : "", VIN, i, TS);
	snprintf(p + off, cap - off, "]");
	return p;
}

static void test_batch_sizes(void **state)
{
	char *p;

	(void)state;
	expect_whole("[]", 2, PW_REJ_BATCH_SIZE);

	p = batch_of(1);
	assert_int_equal(tele_n(VIN, p, strlen(p), NOW), PW_OK);
	assert_int_equal(batch.is_array, 1);
	assert_int_equal(batch.count, 1);
	free(p);

	p = batch_of(PW_BATCH_MAX);
	assert_int_equal(tele_n(VIN, p, strlen(p), NOW), PW_OK);
	assert_int_equal(batch.count, PW_BATCH_MAX);
	for (int i = 0; i < PW_BATCH_MAX; i++) {
		assert_int_equal(batch.items[i].reason, PW_REJ_NONE);
		assert_int_equal(batch.items[i].t.seq, i);
	}
	free(p);

	p = batch_of(PW_BATCH_MAX + 1);
	assert_true(strlen(p) <= PW_PAYLOAD_MAX); /* the count, not the size, is wrong */
	expect_whole(p, strlen(p), PW_REJ_BATCH_SIZE);
	free(p);
}

static void test_batch_mixed(void **state)
{
	static const char json[] =
	    "[" OBJ("") ","                                                          /* ok */
	                "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":\"x\",\"ts\":" TS "}," /* bad_type */
	                "5,"             /* not_object */
	                "[" OBJ("") "]," /* not_object */
	                            "{\"v\":1,\"vin\":\"" VIN2 "\",\"seq\":1,\"ts\":" TS
	                            "}," /* vin_mismatch */
	                            "{\"v\":1,\"vin\":\"" VIN
	                            "\",\"seq\":7,\"ts\":1}," /* ts_too_old */
	                            "null,"                   /* not_object */
	                            "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":8,\"ts\":" TS
	                            ",\"lat\":1}," /* bad_position */
	                            "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":9,\"ts\":" TS
	                            ",\"speed_kmh\":99}" /* ok */
	                            "]";
	static const enum pw_reject want[] = {
	    PW_REJ_NONE,       PW_REJ_BAD_TYPE,     PW_REJ_NOT_OBJECT,
	    PW_REJ_NOT_OBJECT, PW_REJ_VIN_MISMATCH, PW_REJ_TS_TOO_OLD,
	    PW_REJ_NOT_OBJECT, PW_REJ_BAD_POSITION, PW_REJ_NONE,
	};

	(void)state;
	assert_int_equal(tele_n(VIN, json, strlen(json), NOW), PW_OK);
	assert_int_equal(batch.reason, PW_REJ_NONE);
	assert_int_equal(batch.is_array, 1);
	assert_int_equal(batch.count, (int)PW_ARRAY_LEN(want));
	for (size_t i = 0; i < PW_ARRAY_LEN(want); i++) {
		if (batch.items[i].reason != want[i])
			fail_msg("item %zu: got %s (%s), want %s", i,
			         decode_reason_name(batch.items[i].reason), batch.items[i].detail,
			         decode_reason_name(want[i]));
		if (want[i] != PW_REJ_NONE) {
			/* a rejected object carries nothing */
			assert_int_equal(batch.items[i].t.has, 0);
			assert_int_equal(batch.items[i].t.seq, 0);
			assert_string_equal(batch.items[i].t.vin, "");
			assert_true(batch.items[i].detail[0] != '\0');
		}
	}
	assert_int_equal(batch.items[8].t.seq, 9);
	assert_int_equal(batch.items[8].t.has, PW_F_SPEED);
}

static void test_batch_reuse_clears_state(void **state)
{
	(void)state;
	expect(OBJ(",\"speed_kmh\":10,\"dtc\":[{\"code\":\"P0301\",\"status\":\"pending\"}]"),
	       PW_REJ_NONE);
	expect(OBJ(""), PW_REJ_NONE);
	assert_int_equal(batch.items[0].t.has, 0);
	assert_int_equal(batch.items[0].t.dtc_count, 0);
	assert_true(batch.items[0].t.speed_kmh == 0.0f);
	expect_whole("{", 1, PW_REJ_BAD_JSON);
	assert_int_equal(batch.is_array, 0);
}

/* ---- status ------------------------------------------------------------------------- */

static enum pw_reject status(const char *json, struct pw_status *st)
{
	enum pw_reject r = PW_REJ__COUNT;
	char detail[PW_DETAIL_MAX] = "x";
	int rc = decode_status(json, strlen(json), st, &r, detail, sizeof(detail));

	assert_int_equal(rc, r == PW_REJ_NONE ? PW_OK : PW_EINVAL);
	assert_true(r == PW_REJ_NONE ? detail[0] == '\0' : detail[0] != '\0');
	return r;
}

static void test_status(void **state)
{
	struct pw_status st;
	enum pw_reject r;
	char small[8];

	(void)state;
	assert_int_equal(status("{\"v\":1,\"online\":true,\"ts\":" TS "}", &st), PW_REJ_NONE);
	assert_int_equal(st.online, 1);
	assert_int_equal(st.ts_ms, 1767225540000LL);
	assert_int_equal(status("{\"ts\":5,\"online\":false,\"v\":1,\"fw\":\"2\"}", &st),
	                 PW_REJ_NONE);
	assert_int_equal(st.online, 0);
	assert_int_equal(st.ts_ms, 5);
	assert_int_equal(status("{\"v\":1,\"online\":true,\"ts\":0}", &st), PW_REJ_NONE);

	assert_int_equal(status("{\"online\":true,\"ts\":1}", &st), PW_REJ_MISSING_FIELD);
	assert_int_equal(status("{\"v\":1,\"ts\":1}", &st), PW_REJ_MISSING_FIELD);
	assert_int_equal(status("{\"v\":1,\"online\":true}", &st), PW_REJ_MISSING_FIELD);
	assert_int_equal(status("{\"v\":2,\"online\":true,\"ts\":1}", &st), PW_REJ_BAD_VERSION);
	assert_int_equal(status("{\"v\":1,\"online\":\"true\",\"ts\":1}", &st), PW_REJ_BAD_TYPE);
	assert_int_equal(status("{\"v\":1,\"online\":1,\"ts\":1}", &st), PW_REJ_BAD_TYPE);
	assert_int_equal(status("{\"v\":1,\"online\":null,\"ts\":1}", &st), PW_REJ_BAD_TYPE);
	assert_int_equal(status("{\"v\":1,\"online\":true,\"ts\":1.5}", &st), PW_REJ_BAD_TYPE);
	assert_int_equal(status("{\"v\":1,\"online\":true,\"ts\":\"1\"}", &st), PW_REJ_BAD_TYPE);
	assert_int_equal(status("{\"v\":1,\"online\":true,\"ts\":-1}", &st), PW_REJ_OUT_OF_RANGE);
	assert_int_equal(status("{\"v\":1,\"online\":true,\"ts\":1e19}", &st), PW_REJ_OUT_OF_RANGE);
	assert_int_equal(status("[{\"v\":1,\"online\":true,\"ts\":1}]", &st), PW_REJ_NOT_OBJECT);
	assert_int_equal(status("{\"v\":1,\"online\":tru}", &st), PW_REJ_BAD_JSON);
	assert_int_equal(status("{\"v\":1,\"v\":1,\"online\":true,\"ts\":1}", &st),
	                 PW_REJ_BAD_JSON);
	assert_int_equal(st.online, 0); /* cleared on reject */

	/* too large before parsing; detail and reason are optional, detail bounded */
	{
		char *p = padded(PW_PAYLOAD_MAX + 1);

		assert_int_equal(
		    decode_status(p, PW_PAYLOAD_MAX + 1, &st, &r, small, sizeof(small)), PW_EINVAL);
		assert_int_equal(r, PW_REJ_TOO_LARGE);
		assert_int_equal(strlen(small), sizeof(small) - 1);
		free(p);
	}
	assert_int_equal(decode_status("{}", 2, &st, NULL, NULL, 0), PW_EINVAL);
	{
		const char *ok = "{\"v\":1,\"online\":true,\"ts\":1}";

		assert_int_equal(decode_status(ok, strlen(ok), &st, NULL, NULL, 0), PW_OK);
	}
}

/* ---- plate reads -------------------------------------------------------------------- */

static enum pw_reject anpr(const char *json, struct pw_plate_read *pr)
{
	enum pw_reject r = PW_REJ__COUNT;
	char detail[PW_DETAIL_MAX] = "x";
	int rc = decode_anpr(json, strlen(json), NOW, pr, &r, detail, sizeof(detail));

	assert_int_equal(rc, r == PW_REJ_NONE ? PW_OK : PW_EINVAL);
	assert_true(r == PW_REJ_NONE ? detail[0] == '\0' : detail[0] != '\0');
	return r;
}

static void expect_plate(const char *plate_json, const char *want_plate, enum pw_reject want)
{
	struct pw_plate_read pr;
	char buf[512];
	enum pw_reject got;

	snprintf(buf, sizeof(buf),
	         "{\"v\":1,\"ts\":%s,\"plate\":%s,\"camera\":\"entrance-1\",\"confidence\":0.97}",
	         TS, plate_json);
	got = anpr(buf, &pr);
	if (got != want)
		fail_msg("plate %s: got %s, want %s", plate_json, decode_reason_name(got),
		         decode_reason_name(want));
	if (want_plate)
		assert_string_equal(pr.plate, want_plate);
}

static void test_anpr_plates(void **state)
{
	(void)state;
	expect_plate("\"鲁A12345\"", "鲁A12345", PW_REJ_NONE);
	expect_plate("\"鲁AD12345\"", "鲁AD12345",
	             PW_REJ_NONE); /* new-energy: 6 after the letter */
	expect_plate("\"鲁A9QHFG\"", "鲁A9QHFG", PW_REJ_NONE);
	expect_plate("\"京A1234学\"", "京A1234学", PW_REJ_NONE);
	expect_plate("\"\\u9c81A12345\"", "鲁A12345", PW_REJ_NONE);    /* escaped 鲁 */
	expect_plate("\"ab-12c\"", "AB-12C", PW_REJ_NONE);             /* upper-cased */
	expect_plate("\"X1\"", "X1", PW_REJ_NONE);                     /* 2 characters */
	expect_plate("\"ABCDEFGHJK12\"", "ABCDEFGHJK12", PW_REJ_NONE); /* 12 */
	expect_plate("\"使馆领事馆港澳粤鲁京沪学\"", "使馆领事馆港澳粤鲁京沪学", PW_REJ_NONE);
	expect_plate("\"一\"", NULL, PW_REJ_OUT_OF_RANGE); /* U+4E00, alone: 1 char */
	expect_plate("\"一龥\"", "一龥", PW_REJ_NONE);     /* U+4E00..U+9FA5 */
	expect_plate("\"A\"", NULL, PW_REJ_OUT_OF_RANGE);
	expect_plate("\"\"", NULL, PW_REJ_OUT_OF_RANGE);
	expect_plate("\"ABCDEFGHJK123\"", NULL, PW_REJ_OUT_OF_RANGE); /* 13 */
	expect_plate("\"使馆领事馆港澳粤鲁京沪学京\"", NULL, PW_REJ_OUT_OF_RANGE);
	expect_plate("\"鲁A 12345\"", NULL, PW_REJ_OUT_OF_RANGE);
	expect_plate("\"鲁A·12345\"", NULL, PW_REJ_OUT_OF_RANGE); /* U+00B7 */
	expect_plate("\"鲁A１2345\"", NULL, PW_REJ_OUT_OF_RANGE); /* fullwidth digit */
	expect_plate("\"AB🚗12\"", NULL, PW_REJ_OUT_OF_RANGE);
	expect_plate("\"AB\\u000012\"", NULL, PW_REJ_OUT_OF_RANGE);
	expect_plate("\"ＡＢ\"", NULL, PW_REJ_OUT_OF_RANGE); /* U+FF21: outside CJK ideographs */
	expect_plate("\"㐀A\"", NULL, PW_REJ_OUT_OF_RANGE);  /* U+3400: extension A, not allowed */
	expect_plate("12345", NULL, PW_REJ_BAD_TYPE);
	expect_plate("null", NULL, PW_REJ_BAD_TYPE);
}

static void test_anpr_fields(void **state)
{
	struct pw_plate_read pr;
	char buf[512];
	const char *cam64 = "c123456789012345678901234567890123456789012345678901234567890123";

	(void)state;
	assert_int_equal(anpr("{\"v\":1,\"ts\":" TS
	                      ",\"plate\":\"鲁A12345\",\"camera\":\"entrance-1\","
	                      "\"confidence\":0.97,\"lane\":2}",
	                      &pr),
	                 PW_REJ_NONE);
	assert_int_equal(pr.ts_ms, 1767225540000LL);
	assert_string_equal(pr.camera, "entrance-1");
	assert_true(pr.confidence == 0.97);

	assert_int_equal(strlen(cam64), 64);
	snprintf(buf, sizeof(buf),
	         "{\"v\":1,\"ts\":%s,\"plate\":\"AB\",\"camera\":\"%s\",\"confidence\":1}", TS,
	         cam64);
	assert_int_equal(anpr(buf, &pr), PW_REJ_NONE);
	assert_string_equal(pr.camera, cam64);
	snprintf(buf, sizeof(buf),
	         "{\"v\":1,\"ts\":%s,\"plate\":\"AB\",\"camera\":\"%sX\",\"confidence\":1}", TS,
	         cam64);
	assert_int_equal(anpr(buf, &pr), PW_REJ_OUT_OF_RANGE);

#define ANPR(fields) "{\"v\":1,\"ts\":" TS ",\"plate\":\"AB1\"" fields "}"
	assert_int_equal(anpr(ANPR(",\"camera\":\"c\",\"confidence\":0"), &pr), PW_REJ_NONE);
	assert_int_equal(anpr(ANPR(",\"camera\":\"c\",\"confidence\":1"), &pr), PW_REJ_NONE);
	assert_int_equal(anpr(ANPR(",\"camera\":\"c\",\"confidence\":1.0001"), &pr),
	                 PW_REJ_OUT_OF_RANGE);
	assert_int_equal(anpr(ANPR(",\"camera\":\"c\",\"confidence\":-0.01"), &pr),
	                 PW_REJ_OUT_OF_RANGE);
	assert_int_equal(anpr(ANPR(",\"camera\":\"c\",\"confidence\":\"0.9\""), &pr),
	                 PW_REJ_BAD_TYPE);
	assert_int_equal(anpr(ANPR(",\"camera\":\"c\""), &pr), PW_REJ_MISSING_FIELD);
	assert_int_equal(anpr(ANPR(",\"confidence\":1"), &pr), PW_REJ_MISSING_FIELD);
	assert_int_equal(anpr(ANPR(",\"camera\":\"\",\"confidence\":1"), &pr), PW_REJ_OUT_OF_RANGE);
	assert_int_equal(anpr(ANPR(",\"camera\":\"a\\nb\",\"confidence\":1"), &pr),
	                 PW_REJ_OUT_OF_RANGE);
	assert_int_equal(anpr(ANPR(",\"camera\":\"入口\",\"confidence\":1"), &pr),
	                 PW_REJ_OUT_OF_RANGE);
	assert_int_equal(anpr(ANPR(",\"camera\":7,\"confidence\":1"), &pr), PW_REJ_BAD_TYPE);
#undef ANPR
	assert_int_equal(anpr("{\"v\":1,\"plate\":\"AB\",\"camera\":\"c\",\"confidence\":1}", &pr),
	                 PW_REJ_MISSING_FIELD);
	assert_int_equal(anpr("{\"v\":1,\"ts\":" TS ",\"camera\":\"c\",\"confidence\":1}", &pr),
	                 PW_REJ_MISSING_FIELD);
	assert_int_equal(anpr("{\"v\":3,\"ts\":" TS ",\"plate\":\"AB\",\"camera\":\"c\","
	                      "\"confidence\":1}",
	                      &pr),
	                 PW_REJ_BAD_VERSION);
	assert_int_equal(anpr("\"鲁A12345\"", &pr), PW_REJ_NOT_OBJECT);
	assert_int_equal(anpr("{\"v\":1,\"plate\":\"\xe9\xb2\"}", &pr), PW_REJ_BAD_UTF8);
	assert_string_equal(pr.plate, ""); /* cleared on reject */

	/* the ts window, as for telemetry */
	snprintf(buf, sizeof(buf),
	         "{\"v\":1,\"ts\":%lld,\"plate\":\"AB\",\"camera\":\"c\",\"confidence\":1}",
	         NOW + 5 * MINUTES);
	assert_int_equal(anpr(buf, &pr), PW_REJ_NONE);
	snprintf(buf, sizeof(buf),
	         "{\"v\":1,\"ts\":%lld,\"plate\":\"AB\",\"camera\":\"c\",\"confidence\":1}",
	         NOW + 5 * MINUTES + 1);
	assert_int_equal(anpr(buf, &pr), PW_REJ_TS_FUTURE);
	snprintf(buf, sizeof(buf),
	         "{\"v\":1,\"ts\":%lld,\"plate\":\"AB\",\"camera\":\"c\",\"confidence\":1}",
	         NOW - 30 * DAYS);
	assert_int_equal(anpr(buf, &pr), PW_REJ_NONE);
	snprintf(buf, sizeof(buf),
	         "{\"v\":1,\"ts\":%lld,\"plate\":\"AB\",\"camera\":\"c\",\"confidence\":1}",
	         NOW - 30 * DAYS - 1);
	assert_int_equal(anpr(buf, &pr), PW_REJ_TS_TOO_OLD);
}

/* ---- no allocation ------------------------------------------------------------------- */

/*
 * Decoding allocates nothing, so allocation failure cannot change a verdict
 * (this file used to fail each of Jansson's allocations in turn). Two
 * witnesses: Jansson's allocator counts and refuses (any use of Jansson
 * would show), and where a program may replace malloc (glibc, without a
 * sanitizer runtime owning the heap) malloc, calloc and realloc count too.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define PW_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PW_SANITIZED 1
#endif

static int heap_watch; /* 1 while decoding under watch */
static long heap_calls;

#if defined(__GLIBC__) && !defined(PW_SANITIZED)
#define HEAP_COUNTED 1
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

void *malloc(size_t size)
{
	heap_calls += heap_watch;
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	heap_calls += heap_watch;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	heap_calls += heap_watch;
	return __libc_realloc(p, size);
}

void free(void *p)
{
	__libc_free(p);
}
#else
#define HEAP_COUNTED 0
#endif

static long jansson_calls;

static void *jansson_refuses(size_t size)
{
	(void)size;
	jansson_calls++;
	return NULL;
}

static void test_no_allocation(void **state)
{
	static const struct {
		int kind; /* 0 telemetry, 1 status, 2 plate read */
		const char *json;
		enum pw_reject want; /* the whole message's, or the (first) object's */
	} cases[] = {
	    {0, OBJ(""), PW_REJ_NONE},
	    {0,
	     OBJ(",\"odometer_km\":48213.7,\"ignition\":\"on\",\"lat\":36.668601234567894,"
	         "\"lon\":116.89050000000001,\"tires\":{\"fl\":{\"kpa\":231,\"temp_c\":30}},"
	         "\"dtc\":[{\"code\":\"P0301\",\"status\":\"confirmed\",\"mil\":true}],"
	         "\"note\":\"鲁A12345\""),
	     PW_REJ_NONE},
	    /* reals off the fast path: strtod on a copy; escapes; unknown keys */
	    {0,
	     "{\"lat\":-2.2250738585072014e-308,\"lon\":116.89050000000001,"
	     "\"x\":1234567890123456789,\"y\":0.1000000000000000055511151231257827021181583,"
	     "\"\\u0076\":1,\"vin\":\"\\u004CSVAU2180N2183294\",\"seq\":42,\"ts\":" TS "}",
	     PW_REJ_NONE},
	    {0, "[" OBJ("") "," OBJ(",\"speed_kmh\":5") ",7]", PW_REJ_NONE},
	    {0, "{\"v\":1,\"vin\":\"" VIN2 "\",\"seq\":1,\"ts\":" TS "}", PW_REJ_VIN_MISMATCH},
	    {0,
	     OBJ(",\"dtc\":[{\"code\":\"P0301\",\"status\":\"pending\"},{\"code\":\"P0301\","
	         "\"status\":\"pending\"}]"),
	     PW_REJ_BAD_DTC},
	    {0, "{\"v\":1,\"v\":1}", PW_REJ_BAD_JSON},
	    {0, "{\"a\":1,\"\\u0061\":2}", PW_REJ_BAD_JSON},
	    {0, "{\"n\":1e999}", PW_REJ_NUMBER_OVERFLOW},
	    {0, "{\"n\":\"\xe9\xb2\"}", PW_REJ_BAD_UTF8},
	    {0, "[[[[[[[[[[[[[[[[", PW_REJ_BAD_JSON},
	    {1, "{\"v\":1,\"online\":true,\"ts\":1767225540000}", PW_REJ_NONE},
	    {1, "{\"v\":1,\"online\":tru}", PW_REJ_BAD_JSON},
	    {2,
	     "{\"v\":1,\"ts\":" TS ",\"plate\":\"鲁AD12345\",\"camera\":\"entrance-1\","
	     "\"confidence\":0.97}",
	     PW_REJ_NONE},
	    {2, "{\"v\":1,\"ts\":" TS ",\"plate\":\"\\u9c81A12345\",\"camera\":7}",
	     PW_REJ_BAD_TYPE},
	};
	enum pw_reject got[PW_ARRAY_LEN(cases)];
	char *deep = padded(PW_PAYLOAD_MAX);

	(void)state;
	/* the witnesses see an allocation when there is one */
	heap_calls = 0;
	heap_watch = 1;
	free(malloc(16));
	heap_watch = 0;
	assert_int_equal(heap_calls, HEAP_COUNTED ? 1 : 0);

	json_set_alloc_funcs(jansson_refuses, free);
	jansson_calls = heap_calls = 0;
	heap_watch = 1;
	for (size_t i = 0; i < PW_ARRAY_LEN(cases); i++) {
		const char *j = cases[i].json;
		struct pw_status st;
		struct pw_plate_read pr;

		switch (cases[i].kind) {
		case 0:
			decode_telemetry(VIN, j, strlen(j), NOW, &batch);
			got[i] = batch.reason != PW_REJ_NONE ? batch.reason : batch.items[0].reason;
			break;
		case 1:
			decode_status(j, strlen(j), &st, &got[i], NULL, 0);
			break;
		default:
			decode_anpr(j, strlen(j), NOW, &pr, &got[i], NULL, 0);
			break;
		}
	}
	decode_telemetry(VIN, deep, PW_PAYLOAD_MAX, NOW, &batch);
	heap_watch = 0;
	json_set_alloc_funcs(malloc, free);
	free(deep);

	for (size_t i = 0; i < PW_ARRAY_LEN(cases); i++)
		if (got[i] != cases[i].want)
			fail_msg("%s: got %s, want %s", cases[i].json, decode_reason_name(got[i]),
			         decode_reason_name(cases[i].want));
	assert_int_equal(batch.items[0].reason, PW_REJ_NONE); /* the 16 KiB one */
	assert_int_equal(jansson_calls, 0);
	assert_int_equal(heap_calls, 0);
	if (!HEAP_COUNTED)
		print_message("    (malloc not counted in this build: sanitizer or not glibc)\n");
}

/* ---- agreement with the Jansson-based decoder ---------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL; /* fixed: the same run every time */

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

static long diff_runs;

static void agree(enum ref_kind kind, const void *p, size_t n)
{
	const char *why = ref_diff(kind, VIN, p, n, NOW);
	char shown[400];
	size_t o = 0;

	diff_runs++;
	if (!why)
		return;
	for (size_t i = 0; i < n && o + 8 < sizeof(shown); i++) {
		unsigned char c = ((const unsigned char *)p)[i];

		if (c >= 0x20 && c < 0x7F && c != '\\')
			shown[o++] = (char)c;
		else
			o += (size_t)snprintf(shown + o, sizeof(shown) - o, "\\x%02x", c);
	}
	shown[o] = '\0';
	fail_msg("kind %d, %zu bytes: %s\n  payload: %s", (int)kind, n, why, shown);
}

static void agree_str(enum ref_kind kind, const char *s)
{
	agree(kind, s, strlen(s));
}

/* `frame` with its first "%s" replaced by a and its second by b; the length. */
static size_t splice(char *buf, size_t cap, const char *frame, const char *a, const char *b)
{
	size_t o = 0;
	int k = 0;

	for (const char *f = frame; *f && o + 1 < cap; f++) {
		if (f[0] == '%' && f[1] == 's') {
			const char *x = k++ ? b : a;
			size_t xl = strlen(x);

			if (o + xl + 1 >= cap)
				break;
			memcpy(buf + o, x, xl);
			o += xl;
			f++;
			continue;
		}
		buf[o++] = *f;
	}
	buf[o] = '\0';
	return o;
}

/* Numbers, valid and not, as every kind of member and alone. */
static void agree_numbers(void)
{
	static const char *const numbers[] = {
	    "0",
	    "-0",
	    "1",
	    "-1",
	    "0.0",
	    "-0.0",
	    "1.5",
	    "1e3",
	    "1E3",
	    "1e+3",
	    "1e-3",
	    "1.0e0",
	    "123456789012345678",
	    "9223372036854775807",
	    "-9223372036854775808",
	    "9223372036854775808",
	    "-9223372036854775809",
	    "99999999999999999999",
	    "1e308",
	    "1.7976931348623157e308",
	    "1.7976931348623158e308",
	    "1.7976931348623159e308",
	    "1e309",
	    "-1e309",
	    "1e-400",
	    "-1e-400",
	    "4.9e-324",
	    "2.4703282292062327e-324",
	    "2.4703282292062328e-324",
	    "0.1",
	    "0.30000000000000004",
	    "9007199254740993",
	    "9007199254740993.0",
	    "90071992547409930e-1",
	    "9007199254740992e1",
	    "1e22",
	    "1e23",
	    "123456789012345.6",
	    "1234567890123456.7",
	    "1e99999999999999999999",
	    "1e-99999999999999999999",
	    "0e99999999999",
	    "-0e-99999",
	    "1767225540000.0",
	    "1.76722554e12",
	    "176722554e4",
	    "2000000",
	    "2000000.0000000001",
	    "400.00000000000006",
	    "-",
	    "01",
	    "-01",
	    "1.",
	    ".5",
	    "1e",
	    "1e+",
	    "+1",
	    "1.e3",
	    "0x10",
	    "Infinity",
	    "NaN",
	    "1 2",
	    "--1",
	    "1.5.5",
	    "1ee3",
	    "1e3.5",
	    "00",
	    "-.5",
	    "1e-",
	    "tru",
	    "nul",
	    "falsey",
	};
	static const char *const frames[] = {
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"speed_kmh\":%s}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":%s,\"ts\":" TS "}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":%s}",
	    "{\"v\":%s,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS "}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"odometer_km\":%s}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"x\":[%s]}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS
	    ",\"tires\":{\"fl\":{\"temp_c\":%s}}}",
	    "[%s]",
	    "%s",
	};
	char buf[2048];

	for (size_t i = 0; i < PW_ARRAY_LEN(numbers); i++)
		for (size_t f = 0; f < PW_ARRAY_LEN(frames); f++) {
			size_t n = splice(buf, sizeof(buf), frames[f], numbers[i], "");

			agree(REF_TELEMETRY, buf, n);
			if (f == 3) {
				n = (size_t)snprintf(buf, sizeof(buf),
				                     "{\"v\":1,\"online\":true,\"ts\":%s}",
				                     numbers[i]);
				agree(REF_STATUS, buf, n);
				n = (size_t)snprintf(buf, sizeof(buf),
				                     "{\"v\":1,\"ts\":" TS ",\"plate\":\"AB\","
				                     "\"camera\":\"c\",\"confidence\":%s}",
				                     numbers[i]);
				agree(REF_ANPR, buf, n);
			}
		}
	/* random decimal spellings: the fast path against strtod */
	for (int k = 0; k < 20000; k++) {
		size_t o = 0, digits = 1 + rng_below(k % 4 == 0 ? 40 : 20);

		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "[%s", rng() & 1 ? "-" : "");
		buf[o++] = (char)('1' + rng_below(9));
		for (size_t d = 1; d < digits; d++) {
			if (rng_below(digits) == 0 && !memchr(buf, '.', o))
				buf[o++] = '.';
			buf[o++] = (char)('0' + rng_below(10));
		}
		if (rng() & 1)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "e%d",
			                      (int)rng_below(700) - 350);
		buf[o++] = ']';
		agree(REF_TELEMETRY, buf, o);
	}
	/* long spellings: more digits than any double needs */
	{
		size_t o = 0;

		buf[o++] = '[';
		memcpy(buf + o, "0.", 2);
		o += 2;
		for (int d = 0; d < 900; d++)
			buf[o++] = (char)('0' + (d * 7 + 3) % 10);
		buf[o++] = ']';
		agree(REF_TELEMETRY, buf, o);
		buf[1] = '7';
		agree(REF_TELEMETRY, buf, o);
		memcpy(buf + o - 1, "e-320]", 6);
		agree(REF_TELEMETRY, buf, o + 5);
	}
}

/* Strings and keys: escapes, surrogates, UTF-8, controls, in every role. */
static void agree_strings(void)
{
	static const char *const strings[] = {
	    "LSVAU2180N2183294",
	    "\\u004CSVAU2180N2183294",
	    "LSVAU2180N218329\\u0034",
	    "LSVAU2180N2183294\\u0000",
	    "on",
	    "o\\u006e",
	    "acc",
	    "off",
	    "P0301",
	    "P030\\u0031",
	    "pending",
	    "pend\\u0069ng",
	    "\\u00e9",
	    "\\ud83d\\ude00",
	    "\\ud800",
	    "\\udc00",
	    "\\ud800\\u0041",
	    "\\ud800\\ud800",
	    "\\ud800x",
	    "\\/\\b\\f\\n\\r\\t\\\"\\\\",
	    "\\x",
	    "\\u12",
	    "\\u12G4",
	    "\\U0041",
	    "a\tb",
	    "a\x01",
	    "a\x7f",
	    "\xc3\xa9",
	    "\xe9\xb2\x81",
	    "\xf0\x9f\x9a\x97",
	    "\xff",
	    "\xc0\xaf",
	    "\xe0\x80\x80",
	    "\xf0\x80\x80\x80",
	    "\xed\xa0\x80",
	    "\xf4\x90\x80\x80",
	    "\xf5\x80\x80\x80",
	    "\xe9\xb2",
	    "\x80",
	    "\xc3",
	    "鲁A12345",
	    "\\u9c81A12345",
	    "",
	};
	static const char *const frames[] = {
	    "{\"v\":1,\"vin\":\"%s\",\"seq\":42,\"ts\":" TS "}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"ignition\":\"%s\"}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"note\":\"%s\"}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"%s\":1}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"%s\":1,\"x\":2,\"%s\":3}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS
	    ",\"dtc\":[{\"code\":\"%s\",\"status\":\"pending\"}]}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS
	    ",\"dtc\":[{\"code\":\"P0301\",\"status\":\"%s\"}]}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"tires\":{\"%s\":{}}}",
	    "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":42,\"ts\":" TS ",\"x\":{\"%s\":1,\"%s\":2}}",
	    "\"%s\"",
	};
	char buf[1024];

	for (size_t i = 0; i < PW_ARRAY_LEN(strings); i++)
		for (size_t j = 0; j < PW_ARRAY_LEN(strings); j += i % 5 == 0 ? 1 : 7)
			for (size_t f = 0; f < PW_ARRAY_LEN(frames); f++) {
				size_t n =
				    splice(buf, sizeof(buf), frames[f], strings[i], strings[j]);

				agree(REF_TELEMETRY, buf, n);
			}
	for (size_t i = 0; i < PW_ARRAY_LEN(strings); i++) {
		int n = snprintf(buf, sizeof(buf),
		                 "{\"v\":1,\"ts\":" TS ",\"plate\":\"%s\",\"camera\":\"%s\","
		                 "\"confidence\":1}",
		                 strings[i], strings[(i * 7) % PW_ARRAY_LEN(strings)]);

		agree(REF_ANPR, buf, (size_t)n);
		n = snprintf(buf, sizeof(buf), "{\"v\":1,\"online\":true,\"ts\":1,\"%s\":1}",
		             strings[i]);
		agree(REF_STATUS, buf, (size_t)n);
	}
}

/* Nesting around Jansson's limit, open and closed, with odd innermost
 * tokens, at the top and inside an unknown member. */
static void agree_depths(void)
{
	static const char *const inner[] = {
	    "",      "1",           "tru", "\xff", "\"\xff\"",  "01",    "-", ",", "]",  "}",
	    "1e999", "\"\\ud800\"", "{}",  "[]",   "{\"a\":1}", "\"a\"", ":", "x", "1,", "{\"a\":",
	};
	size_t cap = 6 * 2100 + 256; /* {"a": is 5 bytes a level */
	char *buf = malloc(cap);

	assert_non_null(buf);
	for (size_t depth = 2040; depth <= 2052; depth++)
		for (size_t k = 0; k < PW_ARRAY_LEN(inner); k++)
			for (int shape = 0; shape < 4; shape++) {
				size_t o = 0, il = strlen(inner[k]);

				if (shape >= 2)
					o += (size_t)snprintf(buf, cap, "{%s,\"deep\":", BASE);
				for (size_t d = 0; d < depth - (shape >= 2 ? 1 : 0); d++)
					buf[o++] = '[';
				memcpy(buf + o, inner[k], il);
				o += il;
				if (shape & 1) /* closed */
					for (size_t d = 0; d < depth - (shape >= 2 ? 1 : 0); d++)
						buf[o++] = ']';
				if (shape == 3)
					buf[o++] = '}';
				agree(REF_TELEMETRY, buf, o);
			}
	/* objects: {"a":{"a":... */
	for (size_t depth = 2042; depth <= 2050; depth++)
		for (int closed = 0; closed < 2; closed++) {
			size_t o = 0;

			for (size_t d = 0; d < depth; d++) {
				memcpy(buf + o, "{\"a\":", 5);
				o += 5;
			}
			buf[o++] = '1';
			for (size_t d = 0; closed && d < depth; d++)
				buf[o++] = '}';
			agree(REF_TELEMETRY, buf, o);
		}
	free(buf);
}

static size_t read_seed(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* Token-shaped pieces the mutations splice in. */
static const char *const pieces[] = {
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u",
    "d800",
    "\\udc00",
    "\\ud800",
    "1e999",
    "-",
    "0",
    ".",
    "e",
    "true",
    "null",
    "false",
    "\xff",
    "\xc0",
    "\xed\xa0\x80",
    "\x00",
    "  ",
    "\"v\":1",
    "\"vin\":",
    "\"seq\":",
    "\"ts\":",
    "\"tires\":",
    "\"dtc\":",
    "\"fl\":",
    "\"kpa\":",
    "\"code\":",
    "\"status\":",
    "\"mil\":",
    "1.5",
    "9223372036854775808",
    "1e19",
    "-0.0",
    "\"x\":",
    "\"\\u0000\":",
    "[[[[",
    "]]]]",
    "{\"a\":",
    "\xe9\xb2",
    "\"" VIN "\"",
    "\"P0301\"",
    "\"pending\"",
    "\t",
};

static void agree_mutations(const unsigned char *const *seeds, const size_t *lens,
                            const enum ref_kind *kinds, size_t nseeds, long rounds)
{
	static unsigned char buf[4096];

	for (long r = 0; r < rounds; r++) {
		size_t s = rng_below(nseeds), n = lens[s];
		int edits = 1 + (int)rng_below(4);

		if (n > sizeof(buf))
			n = sizeof(buf);
		memcpy(buf, seeds[s], n);
		while (edits--) {
			size_t at = rng_below(n + 1);

			switch (rng_below(5)) {
			case 0: /* a byte changed */
				if (n)
					buf[rng_below(n)] = (unsigned char)rng();
				break;
			case 1: { /* a piece inserted */
				const char *pc = pieces[rng_below(PW_ARRAY_LEN(pieces))];
				size_t pl = strlen(pc) ? strlen(pc) : 1; /* "\x00" is one NUL */

				if (n + pl > sizeof(buf))
					break;
				memmove(buf + at + pl, buf + at, n - at);
				memcpy(buf + at, pc, pl);
				n += pl;
				break;
			}
			case 2: { /* a range deleted */
				size_t len = rng_below(n - at + 1) % 8;

				memmove(buf + at, buf + at + len, n - at - len);
				n -= len;
				break;
			}
			case 3: { /* a range repeated */
				size_t len = rng_below(n - at + 1) % 24;

				if (n + len > sizeof(buf))
					break;
				memmove(buf + at + len, buf + at, n - at);
				n += len;
				break;
			}
			default: /* cut short */
				n = at;
				break;
			}
		}
		agree(kinds[s], buf, n);
	}
}

static void test_agrees_with_reference(void **state)
{
	static const char *const files[] = {
	    "telemetry-full.json",       "telemetry-minimal.json",     "telemetry-batch-mixed.json",
	    "telemetry-duplicates.json", "telemetry-overflow.json",    "telemetry-spellings.json",
	    "telemetry-bad-utf8.bin",    "status-online.json",         "status-will.json",
	    "anpr-chinese.json",         "anpr-new-energy-lower.json",
	};
	static const char *const extra[] = {
	    OBJ(",\"odometer_km\":48213.7,\"speed_kmh\":62.5,\"ignition\":\"acc\","
	        "\"fuel_pct\":41.25,\"fuel_l_per_100km\":7.75,\"battery_v\":14.5,"
	        "\"engine_hours\":1532.25,\"lat\":36.6686,\"lon\":-116.8905,"
	        "\"heading_deg\":271.5,"
	        "\"tires\":{\"fl\":{\"kpa\":231,\"tread_mm\":6.5,\"temp_c\":-31},"
	        "\"rr\":{\"kpa\":229.5,\"psi\":3}},"
	        "\"dtc\":[{\"code\":\"P0301\",\"status\":\"confirmed\",\"mil\":true},"
	        "{\"code\":\"U3FFF\",\"status\":\"permanent\"},"
	        "{\"code\":\"B0A1C\",\"status\":\"pending\",\"mil\":false,\"x\":[]}]"),
	    "[" OBJ("") "," OBJ(",\"speed_kmh\":5") ",7,null,[" OBJ("") "]]",
	    OBJ(",\"note\":\"hi\",\"x\":null,\"nested\":{\"a\":[1,{\"b\":2,\"c\":{}}]}"),
	};
	const char *dir = getenv("PW_SOURCE_DIR");
	const unsigned char *seeds[PW_ARRAY_LEN(files) + PW_ARRAY_LEN(extra)];
	size_t lens[PW_ARRAY_LEN(seeds)];
	enum ref_kind kinds[PW_ARRAY_LEN(seeds)];
	static unsigned char store[PW_ARRAY_LEN(files)][4096];
	size_t nseeds = 0;
	char path[1024];

	(void)state;
	if (!dir)
		dir = PW_SOURCE_DIR;
	for (size_t i = 0; i < PW_ARRAY_LEN(files); i++) {
		size_t n;

		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/decode/%s", dir, files[i]);
		n = read_seed(path, store[i], sizeof(store[i]));
		if (n < 2)
			fail_msg("seed %s missing", path);
		/* the fuzz seeds' first byte picks the decoder */
		kinds[nseeds] = (enum ref_kind)(store[i][0] & 3);
		seeds[nseeds] = store[i] + 1;
		lens[nseeds++] = n - 1;
	}
	for (size_t i = 0; i < PW_ARRAY_LEN(extra); i++) {
		kinds[nseeds] = REF_TELEMETRY;
		seeds[nseeds] = (const unsigned char *)extra[i];
		lens[nseeds++] = strlen(extra[i]);
	}
	for (size_t i = 0; i < nseeds; i++)
		agree(kinds[i], seeds[i], lens[i]);

	agree_str(REF_TELEMETRY, "{\"v\":1}\xff");
	agree_str(REF_TELEMETRY, "{\"v\":1} \xc3\xa9");
	agree_str(REF_TELEMETRY, "{\"v\":1}]1e999");
	agree_str(REF_TELEMETRY, "{\"v\":1},1e999");
	agree_str(REF_TELEMETRY, "{\"v\":1},");
	agree_str(REF_TELEMETRY, "1,[1,{\"a\":1,\"a\":2}]");
	agree_str(REF_TELEMETRY, "{\"v\":1\x01}");
	agree(REF_TELEMETRY, "{\"v\":1\0}", 8); /* Jansson loses that NUL: allowed to differ */
	agree_numbers();
	agree_strings();
	agree_depths();
	agree_mutations(seeds, lens, kinds, nseeds, 100000);
	print_message("    %ld payloads, both decoders agree\n", diff_runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reason_names),
	    cmocka_unit_test(test_vin_valid),
	    cmocka_unit_test(test_topic_shapes),
	    cmocka_unit_test(test_topic_vin_kept_for_later_check),
	    cmocka_unit_test(test_topic_rejects),
	    cmocka_unit_test(test_topic_length_bounded),
	    cmocka_unit_test(test_minimal_object),
	    cmocka_unit_test(test_full_object),
	    cmocka_unit_test(test_ignition_values),
	    cmocka_unit_test(test_unknown_fields_counted),
	    cmocka_unit_test(test_integers_as_json_schema_sees_them),
	    cmocka_unit_test(test_required_fields),
	    cmocka_unit_test(test_vin_rules),
	    cmocka_unit_test(test_ts_window_boundaries),
	    cmocka_unit_test(test_number_ranges),
	    cmocka_unit_test(test_position_pairing),
	    cmocka_unit_test(test_tires),
	    cmocka_unit_test(test_dtc),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_payload_length_is_honoured),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_nesting),
	    cmocka_unit_test(test_batch_sizes),
	    cmocka_unit_test(test_batch_mixed),
	    cmocka_unit_test(test_batch_reuse_clears_state),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_anpr_plates),
	    cmocka_unit_test(test_anpr_fields),
	    cmocka_unit_test(test_no_allocation),
	    cmocka_unit_test(test_agrees_with_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
