/*
 * decode_bench — how long decode_telemetry takes per object, on the
 * payloads the gateway sees most: a full object (every field, four tires,
 * a DTC; 516 bytes, as pitwall-sim renders it), a minimal one (the four
 * required fields) and a 20-object batch (a device's offline buffer). Two
 * adversarial payloads follow for the record: a 16 KiB object of distinct
 * unknown keys (the duplicate-key check's worst case) and a 16 KiB string.
 *
 *     decode_bench [ITERATIONS]   per round (default 50000; batch 1/10, 16 KiB ones 1/100)
 *
 * Prints one line per payload: bytes, objects, ns per decode and per
 * object, the best of ROUNDS timed rounds (the machine may be shared, and
 * noise only ever adds time). No thresholds: this is a measurement, not a
 * test. Each payload's verdict is checked once before timing, so a broken
 * decoder cannot look fast. Single-threaded; the batch struct is static
 * (it is large).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "pw.h"

#define VIN    "LSVAU2180N2183294"
#define ROUNDS 7
#define NOW    1767225600000LL

static struct decode_batch batch;

#define FULL_OBJECT(seq)                                                                           \
	"{\"v\":1,\"vin\":\"" VIN "\",\"seq\":" seq ",\"ts\":1767225540000,"                       \
	"\"odometer_km\":48213.7,\"speed_kmh\":62.5,\"ignition\":\"on\",\"fuel_pct\":41.2,"        \
	"\"fuel_l_per_100km\":7.9,\"battery_v\":14.12,\"engine_hours\":1532.25,"                   \
	"\"lat\":36.668612,\"lon\":116.890534,\"heading_deg\":271.5,"                              \
	"\"tires\":{\"fl\":{\"kpa\":231.0,\"tread_mm\":6.10,\"temp_c\":31.0},"                     \
	"\"fr\":{\"kpa\":229.5,\"tread_mm\":6.05,\"temp_c\":31.5},"                                \
	"\"rl\":{\"kpa\":236.0,\"tread_mm\":6.80,\"temp_c\":29.0},"                                \
	"\"rr\":{\"kpa\":234.5,\"tread_mm\":6.75,\"temp_c\":29.5}},"                               \
	"\"dtc\":[{\"code\":\"P0301\",\"status\":\"confirmed\",\"mil\":true}]}"

#define MEDIUM_OBJECT(seq)                                                                         \
	"{\"v\":1,\"vin\":\"" VIN "\",\"seq\":" seq ",\"ts\":1767225540000,"                       \
	"\"odometer_km\":48213.7,\"speed_kmh\":62.5,\"ignition\":\"on\",\"fuel_pct\":41.2,"        \
	"\"battery_v\":14.12,\"lat\":36.668612,\"lon\":116.890534,\"heading_deg\":271.5}"

static const char full[] = FULL_OBJECT("123456");
static const char minimal[] = "{\"v\":1,\"vin\":\"" VIN "\",\"seq\":123456,\"ts\":1767225540000}";
#define FIVE(tens)                                                                                 \
	MEDIUM_OBJECT(tens "1")                                                                    \
	"," MEDIUM_OBJECT(tens "2") "," MEDIUM_OBJECT(tens "3") "," MEDIUM_OBJECT(                 \
	    tens "4") "," MEDIUM_OBJECT(tens "5")
static const char batch20[] = "[" FIVE("1") "," FIVE("2") "," FIVE("3") "," FIVE("4") "]";

/* 16 KiB at most: the required fields, then distinct unknown keys k0, k1, ... */
static size_t many_keys(char *buf, size_t cap)
{
	size_t off = (size_t)snprintf(buf, cap, "{\"v\":1,\"vin\":\"%s\",\"seq\":1,\"ts\":%lld",
	                              VIN, NOW - 1000);

	for (unsigned i = 0;; i++) {
		char m[32];
		int n = snprintf(m, sizeof(m), ",\"k%x\":0", i);

		if (off + (size_t)n + 1 > cap)
			break;
		memcpy(buf + off, m, (size_t)n);
		off += (size_t)n;
	}
	buf[off++] = '}';
	return off;
}

/* 16 KiB exactly: the required fields and one long unknown string */
static size_t long_string(char *buf, size_t cap)
{
	size_t off = (size_t)snprintf(
	    buf, cap, "{\"v\":1,\"vin\":\"%s\",\"seq\":1,\"ts\":%lld,\"s\":\"", VIN, NOW - 1000);

	memset(buf + off, 'x', cap - off - 2);
	memcpy(buf + cap - 2, "\"}", 2);
	return cap;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void run(const char *name, const char *payload, size_t len, int objects, long iterations)
{
	double best = 0;

	if (decode_telemetry(VIN, payload, len, NOW, &batch) != PW_OK || batch.count != objects) {
		fprintf(stderr, "decode_bench: %s: %s (%s)\n", name,
		        decode_reason_name(batch.reason), batch.detail);
		exit(1);
	}
	for (int i = 0; i < batch.count; i++)
		if (batch.items[i].reason != PW_REJ_NONE) {
			fprintf(stderr, "decode_bench: %s: object %d: %s (%s)\n", name, i,
			        decode_reason_name(batch.items[i].reason), batch.items[i].detail);
			exit(1);
		}
	for (long i = 0; i < iterations / 10; i++) /* warm up */
		decode_telemetry(VIN, payload, len, NOW, &batch);
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns(), ns;

		for (long i = 0; i < iterations; i++)
			decode_telemetry(VIN, payload, len, NOW, &batch);
		ns = (now_ns() - t0) / (double)iterations;
		if (r == 0 || ns < best)
			best = ns;
	}
	printf("%-24s %6zu bytes %4d objects %10.1f ns/decode %10.1f ns/object\n", name, len,
	       objects, best, best / objects);
}

int main(int argc, char **argv)
{
	static char big[PW_PAYLOAD_MAX];
	long iterations = 50000;
	size_t n;

	if (argc > 1) {
		char *end = NULL;

		iterations = strtol(argv[1], &end, 10);
		if (!end || *end || iterations < 100) {
			fprintf(stderr, "usage: decode_bench [ITERATIONS >= 100]\n");
			return 2;
		}
	}
	run("full", full, sizeof(full) - 1, 1, iterations);
	run("minimal", minimal, sizeof(minimal) - 1, 1, iterations);
	run("batch of 20", batch20, sizeof(batch20) - 1, 20, iterations / 10);
	n = many_keys(big, sizeof(big));
	run("16 KiB of unknown keys", big, n, 1, iterations / 100);
	n = long_string(big, sizeof(big));
	run("16 KiB string", big, n, 1, iterations / 100);
	return 0;
}
