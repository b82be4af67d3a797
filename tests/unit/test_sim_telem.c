/*
 * test_sim_telem — what the simulator puts on the wire is what the gateway
 * accepts: VINs with valid ISO 3779 check digits (the sample fleet's and
 * generated ones), telemetry objects, batches, status and plate reads
 * rendered by firmware-sim/telem.c and judged by the gateway's own decoder
 * (gateway/src/decode.c); and each injected fault draws exactly the verdict
 * the simulator reports for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "car.h"
#include "decode.h"
#include "faults.h"
#include "fleet.h"
#include "pw.h"
#include "rng.h"
#include "telem.h"
#include "vin.h"

#define NOW_MS 1795420800000LL /* 2026-11-23T00:00:00Z */

static struct decode_batch batch; /* large: one, reused */

static const char *shared_path(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("PW_SHARED_DIR");

	snprintf(buf, len, "%s/data/%s", dir ? dir : PW_SOURCE_DIR "/../shared", name);
	return buf;
}

static void test_vin_check_digit_known(void **state)
{
	char c;

	(void)state;
	/* The classic example from the North American standard. */
	assert_int_equal(vin_check_digit("1M8GDM9AXKP042788", &c), 0);
	assert_int_equal(c, 'X');
	assert_true(vin_is_valid("1M8GDM9AXKP042788"));
	assert_false(vin_is_valid("1M8GDM9A1KP042788"));
	assert_false(vin_is_valid("1M8GDM9AXKP04278"));
	assert_false(vin_is_valid("IM8GDM9AXKP042788")); /* I is not a VIN character */
}

static void test_sample_fleet_vins_valid(void **state)
{
	struct fleet_vehicle *f = NULL;
	char path[1024];
	int n = 0, i;

	(void)state;
	assert_int_equal(fleet_load_csv(shared_path("vehicles.csv", path, sizeof(path)), &f, &n),
	                 0);
	assert_int_equal(n, 450);
	for (i = 0; i < n; i++) {
		assert_true(vin_is_valid(f[i].vin));
		assert_true(decode_vin_valid(f[i].vin));
	}
	free(f);
}

static int cmp_vin(const void *a, const void *b)
{
	return strcmp(((const struct fleet_vehicle *)a)->vin,
	              ((const struct fleet_vehicle *)b)->vin);
}

static void test_generated_vins_valid_and_unique(void **state)
{
	struct fleet_vehicle *f = NULL;
	int n = 100000, i;

	(void)state;
	assert_int_equal(fleet_generate(n, 7, "LSV", &f), 0);
	for (i = 0; i < n; i++) {
		assert_true(vin_is_valid(f[i].vin));
		assert_true(decode_vin_valid(f[i].vin));
		assert_memory_equal(f[i].vin, "LSV", 3);
	}
	qsort(f, (size_t)n, sizeof(*f), cmp_vin);
	for (i = 1; i < n; i++)
		assert_true(strcmp(f[i - 1].vin, f[i].vin) != 0);
	free(f);
}

static void make_object(struct pw_telemetry *t, struct car *c, struct rng *r, int64_t seq)
{
	car_drive(c, r, (enum car_road)(seq % 3), 10.0, 5.0, NAN, NAN);
	car_snapshot(c, t, 1);
	snprintf(t->vin, sizeof(t->vin), "%s", "LSVCA2114M4100000");
	t->seq = seq;
	t->ts_ms = NOW_MS - 1000 + seq;
}

static void test_objects_decode_and_round_trip(void **state)
{
	struct pw_telemetry t;
	struct car c;
	struct rng r;
	char buf[PW_PAYLOAD_MAX];
	size_t len;
	int i, w;

	(void)state;
	rng_seed(&r, 11);
	car_init(&c, &r, 36.6686, 116.8905);
	for (i = 0; i < 2000; i++) {
		const struct pw_telemetry *d;

		memset(&t, 0, sizeof(t));
		make_object(&t, &c, &r, i);
		if (i % 50 == 0) { /* DTCs too */
			t.dtc_count = 2;
			memcpy(t.dtc[0].code, "P0301", 6);
			t.dtc[0].status = PW_DTC_CONFIRMED;
			t.dtc[0].mil = 1;
			memcpy(t.dtc[1].code, "U0100", 6);
			t.dtc[1].status = PW_DTC_PENDING;
		}
		assert_int_equal(telem_format(&t, buf, sizeof(buf), &len), 0);
		assert_int_equal(decode_telemetry(t.vin, buf, len, NOW_MS, &batch), 0);
		assert_int_equal(batch.count, 1);
		if (batch.items[0].reason != PW_REJ_NONE)
			fail_msg("rejected %s: %.*s", batch.items[0].detail, (int)len, buf);
		d = &batch.items[0].t;
		assert_int_equal(d->seq, i);
		assert_int_equal(d->unknown_fields, 0);
		assert_true((d->has & t.has) == t.has);
		assert_true(fabs(d->odometer_km - t.odometer_km) <= 0.051);
		assert_true(fabs(d->fuel_pct - t.fuel_pct) <= 0.051);
		assert_true(fabs(d->lat - t.lat) <= 1e-6);
		assert_int_equal(d->ignition, t.ignition);
		for (w = 0; w < PW_TIRE_COUNT; w++)
			assert_true(fabs(d->tires[w].kpa - t.tires[w].kpa) <= 0.051);
		assert_int_equal(d->dtc_count, t.dtc_count);
	}
}

static void test_minimal_and_batch_decode(void **state)
{
	struct pw_telemetry t[PW_BATCH_MAX];
	struct car c;
	struct rng r;
	static char buf[PW_PAYLOAD_MAX * 4];
	size_t len;
	int i;

	(void)state;
	rng_seed(&r, 12);
	car_init(&c, &r, 36.6686, 116.8905);
	memset(t, 0, sizeof(t));
	car_snapshot(&c, &t[0], 0);
	snprintf(t[0].vin, sizeof(t[0].vin), "%s", "LSVCA2114M4100000");
	t[0].ts_ms = NOW_MS;
	assert_int_equal(telem_format(&t[0], buf, sizeof(buf), &len), 0);
	assert_int_equal((int)len, (int)strlen("{\"v\":1,\"vin\":\"LSVCA2114M4100000\",\"seq\":0,"
	                                       "\"ts\":1795420800000}"));
	/* A device's offline buffer: up to 100 objects per array and 16 KiB per
	 * message, so full objects (~450 bytes) go about 35 to an array. */
	for (i = 0; i < PW_BATCH_MAX; i++)
		make_object(&t[i], &c, &r, i);
	{
		int used = 0, done = 0;

		while (done < PW_BATCH_MAX) {
			assert_int_equal(telem_format_batch_fit(t + done, PW_BATCH_MAX - done, buf,
			                                        PW_PAYLOAD_MAX, &len, &used),
			                 0);
			assert_true(len <= PW_PAYLOAD_MAX && used > 20);
			assert_int_equal(decode_telemetry(t[0].vin, buf, len, NOW_MS, &batch), 0);
			assert_int_equal(batch.count, used);
			for (i = 0; i < used; i++)
				assert_int_equal(batch.items[i].reason, PW_REJ_NONE);
			done += used;
		}
	}
	assert_int_equal(telem_format_batch(t, 30, buf, sizeof(buf), &len), 0);
	assert_int_equal(decode_telemetry(t[0].vin, buf, len, NOW_MS, &batch), 0);
	assert_int_equal(batch.count, 30);
	for (i = 0; i < 30; i++)
		assert_int_equal(batch.items[i].reason, PW_REJ_NONE);
}

static void test_status_and_plate_decode(void **state)
{
	char buf[512], detail[PW_DETAIL_MAX];
	struct pw_status st;
	struct pw_plate_read pr;
	enum pw_reject why;
	size_t len;

	(void)state;
	assert_int_equal(telem_format_status(1, NOW_MS, buf, sizeof(buf), &len), 0);
	assert_int_equal(decode_status(buf, len, &st, &why, detail, sizeof(detail)), 0);
	assert_int_equal(st.online, 1);
	assert_int_equal(telem_format_status(0, NOW_MS, buf, sizeof(buf), &len), 0);
	assert_int_equal(decode_status(buf, len, &st, &why, detail, sizeof(detail)), 0);
	assert_int_equal(st.online, 0);
	assert_int_equal(
	    telem_format_plate(NOW_MS, "鲁A9QHFG", "entrance-1", 0.934, buf, sizeof(buf), &len), 0);
	assert_int_equal(decode_anpr(buf, len, NOW_MS, &pr, &why, detail, sizeof(detail)), 0);
	assert_string_equal(pr.plate, "鲁A9QHFG");
	assert_true(fabs(pr.confidence - 0.93) < 1e-9);
}

static void test_fixed_formatting(void **state)
{
	char mem[64];
	struct telem_buf b;

	(void)state;
	telem_buf_init(&b, mem, sizeof(mem));
	telem_buf_fixed(&b, -0.04, 1);
	telem_buf_putc(&b, ' ');
	telem_buf_fixed(&b, 12.345678, 6);
	telem_buf_putc(&b, ' ');
	telem_buf_fixed(&b, 0.05, 1);
	telem_buf_putc(&b, ' ');
	telem_buf_fixed(&b, -116.5, 2);
	telem_buf_putc(&b, ' ');
	telem_buf_int(&b, INT64_MIN);
	telem_buf_putc(&b, '\0');
	assert_string_equal(mem, "0.0 12.345678 0.1 -116.50 -9223372036854775808");
	telem_buf_init(&b, mem, 4);
	telem_buf_puts(&b, "abcde");
	assert_true(b.overflow);
}

static void test_faults_draw_the_reported_verdict(void **state)
{
	struct faults_spec spec;
	struct faults_report rep;
	struct pw_telemetry t;
	struct car c;
	struct rng r;
	char buf[PW_PAYLOAD_MAX], json[512];
	size_t len;
	int i, got[PW_REJ__COUNT] = {0}, kinds[FAULT_MALFORMED + 1] = {0};

	(void)state;
	assert_int_equal(faults_parse("skew=0.1,rollback=0.1,vin=0.1,malformed=0.1,dup=0", &spec),
	                 0);
	assert_int_not_equal(faults_parse("skew=2", &spec), 0);
	assert_int_not_equal(faults_parse("bogus=0.1", &spec), 0);
	assert_int_not_equal(faults_parse("skew", &spec), 0);
	assert_int_equal(faults_parse("skew=0.1,rollback=0.1,vin=0.1,malformed=0.1", &spec), 0);
	memset(&rep, 0, sizeof(rep));
	rng_seed(&r, 13);
	car_init(&c, &r, 36.6686, 116.8905);
	for (i = 0; i < 4000; i++) {
		enum faults_kind k;

		memset(&t, 0, sizeof(t));
		make_object(&t, &c, &r, i + 1);
		k = faults_pick(&spec, &r);
		faults_mutate(k, &t, &r, "LSVBE2313N2100001");
		faults_count(&rep, k);
		kinds[k]++;
		assert_int_equal(telem_format(&t, buf, sizeof(buf), &len), 0);
		if (k == FAULT_MALFORMED)
			faults_corrupt(buf, &len, &r);
		decode_telemetry("LSVCA2114M4100000", buf, len, NOW_MS, &batch);
		got[batch.count ? batch.items[0].reason : batch.reason]++;
	}
	assert_int_equal(got[PW_REJ_TS_FUTURE], rep.skew);
	assert_int_equal(got[PW_REJ_VIN_MISMATCH], rep.vin);
	assert_int_equal(got[PW_REJ_BAD_JSON], rep.malformed);
	assert_int_equal(got[PW_REJ_NONE], 4000 - rep.skew - rep.vin - rep.malformed);
	assert_true(rep.skew > 300 && rep.rollback > 300 && rep.vin > 300 && rep.malformed > 300);
	assert_int_equal(faults_report_json(&rep, json, sizeof(json)), 0);
	assert_non_null(strstr(json, "\"expect_rejected\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vin_check_digit_known),
	    cmocka_unit_test(test_sample_fleet_vins_valid),
	    cmocka_unit_test(test_generated_vins_valid_and_unique),
	    cmocka_unit_test(test_objects_decode_and_round_trip),
	    cmocka_unit_test(test_minimal_and_batch_decode),
	    cmocka_unit_test(test_status_and_plate_decode),
	    cmocka_unit_test(test_fixed_formatting),
	    cmocka_unit_test(test_faults_draw_the_reported_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
