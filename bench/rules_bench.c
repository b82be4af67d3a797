/*
 * rules_bench — what the per-message rules cost inside ingest, without a
 * broker: the same stream of full telemetry objects (every contract field,
 * tyres and a DTC set included) through ingest_process() on a real SQLite
 * file in journal (group commit) mode, as the daemon runs it, once with
 * rules on (ingest_options.alerts) and once off, alternating, several
 * rounds. Prints CPU µs per message for each and the rules' share.
 *
 *   build/rules_bench [MESSAGES [VEHICLES [ROUNDS]]]   (default 200000 1000 5)
 *
 * The stream drives a car every 10 s of virtual time with a slow tyre leak,
 * a DTC appearing and clearing and the odometer crossing maintenance
 * thresholds on some cars, so the rules find work now and then, as in life;
 * most objects change no alert. bench/ingest measures the same end to end
 * (--rules on|off), where broker and publisher noise is larger than this.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "clock.h"
#include "config.h"
#include "events.h"
#include "ingest.h"
#include "journal.h"
#include "metrics.h"
#include "state.h"
#include "store.h"
#include "sweep.h"

#define T0_MS 1795392000000LL /* 2026-11-23T00:00:00Z */

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A 17-character VIN for car i (i < 10^9). */
static void vin_of(int i, char *vin)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "LSVBENCH%09d", i % 1000000000);
	memcpy(vin, tmp, 17);
	vin[17] = '\0';
}

static int payload(char *buf, size_t cap, const char *vin, long seq, int64_t ts, int i, long k)
{
	double odo = 10000 + i * 37 + k * 0.25;
	double kpa = 235 - (i % 10 == 0 ? (double)(k % 400) * 0.1 : 0);
	const char *dtc = (i % 50 == 0 && k % 200 > 100)
	                      ? "[{\"code\":\"P0301\",\"status\":\"confirmed\",\"mil\":true}]"
	                      : "[]";

	return snprintf(buf, cap,
	                "{\"v\":1,\"vin\":\"%s\",\"seq\":%ld,\"ts\":%lld,\"odometer_km\":%.2f,"
	                "\"speed_kmh\":%.1f,\"ignition\":\"on\",\"fuel_pct\":%.1f,"
	                "\"fuel_l_per_100km\":%.1f,\"battery_v\":14.1,\"engine_hours\":%.2f,"
	                "\"lat\":36.6686,\"lon\":116.8905,\"heading_deg\":90,"
	                "\"tires\":{\"fl\":{\"kpa\":%.1f,\"tread_mm\":6.5,\"temp_c\":25},"
	                "\"fr\":{\"kpa\":236,\"tread_mm\":6.5,\"temp_c\":25},"
	                "\"rl\":{\"kpa\":234,\"tread_mm\":6.4,\"temp_c\":24},"
	                "\"rr\":{\"kpa\":235,\"tread_mm\":6.4,\"temp_c\":24}},"
	                "\"dtc\":%s}",
	                vin, seq, (long long)ts, odo, 30.0 + (double)(k % 90),
	                60.0 - (double)(k % 50), 6.0 + (double)(k % 30) / 10, 500.0 + k / 360.0,
	                kpa, dtc);
}

struct run {
	double cpu_us;
	double wall_s;
	long alerts;
};

static int run_once(int rules, long n, int vehicles, struct run *out)
{
	char dir[] = "/tmp/pw-rules-bench-XXXXXX", path[128], jpath[128], buf[2048], vin[18];
	struct pw_config cfg;
	struct pw_clock clk;
	struct metrics *m = metrics_new();
	struct store *st;
	struct state *s = state_new((size_t)vehicles);
	struct journal *j;
	struct events *ev = NULL;
	struct alerts *al = NULL;
	struct sweep *sw = NULL;
	struct ingest *in;
	struct ingest_output *o = malloc(sizeof(*o));
	double c0, c1;
	struct timespec w0, w1;
	char sql[256];

	if (!mkdtemp(dir) || !m || !s || !o)
		return -1;
	snprintf(path, sizeof(path), "%s/bench.db", dir);
	snprintf(jpath, sizeof(jpath), "%s/bench.db.journal", dir);
	config_defaults(&cfg);
	clock_init_virtual(&clk, T0_MS + (int64_t)(n / vehicles + 2) * 10000, 1e-9, -1);
	st = store_open(path, STORE_READ_WRITE);
	j = journal_open(jpath);
	if (!st || !j)
		return -1;
	store_set_autocheckpoint(st, 0);
	if (rules) {
		sqlite3 *db = (sqlite3 *)store_sqlite(st);

		/* dealer rows for a tenth of the cars, so maintenance thresholds matter */
		sqlite3_exec(db,
		             "INSERT INTO advisor VALUES ('A1','a','1');"
		             "INSERT INTO customer VALUES ('C1','c','M','1','regular','A1',1)",
		             NULL, NULL, NULL);
		for (int i = 0; i < vehicles; i += 10) {
			vin_of(i, vin);
			snprintf(sql, sizeof(sql),
			         "INSERT INTO vehicle VALUES ('%s', 'P%d', 'C1', 'b', 'm', 2024, "
			         "'2026-01-01', %d)",
			         vin, i, 10000 + i * 37 - 4500);
			sqlite3_exec(db, sql, NULL, NULL, NULL);
		}
		ev = events_open(db, "bench");
		al = ev ? alerts_open(db, &cfg, ev) : NULL;
		sw = al ? sweep_open(db, &cfg, al) : NULL;
		if (!sw)
			return -1;
		alerts_set_maintenance_hook(al, sweep_maintenance_hook, sw);
	}
	in = ingest_new(&(struct ingest_options){.site_id = "bench",
	                                         .clock = &clk,
	                                         .metrics = m,
	                                         .store = st,
	                                         .state = s,
	                                         .history_interval_s = 300,
	                                         .journal = j,
	                                         .alerts = al});
	c0 = cpu_s();
	clock_gettime(CLOCK_MONOTONIC, &w0);
	for (long k = 0; k < n; k++) {
		int i = (int)(k % vehicles);
		long seq = k / vehicles;
		char topic[64];
		int len;

		vin_of(i, vin);
		snprintf(topic, sizeof(topic), "pitwall/v1/vehicles/%s/telemetry", vin);
		len = payload(buf, sizeof(buf), vin, seq, T0_MS + seq * 10000 + i, i, seq);
		if (ingest_process(in, topic, strlen(topic), buf, (size_t)len, o) != PW_OK ||
		    o->accepted != 1) {
			fprintf(stderr, "rules_bench: message %ld not accepted\n", k);
			return -1;
		}
	}
	ingest_flush(in);
	c1 = cpu_s();
	clock_gettime(CLOCK_MONOTONIC, &w1);
	out->cpu_us = (c1 - c0) * 1e6 / (double)n;
	out->wall_s = (double)(w1.tv_sec - w0.tv_sec) + (w1.tv_nsec - w0.tv_nsec) / 1e9;
	out->alerts = 0;
	if (rules) {
		sqlite3_stmt *q;

		if (sqlite3_prepare_v2((sqlite3 *)store_sqlite(st), "SELECT count(*) FROM alert",
		                       -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			out->alerts = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	ingest_free(in);
	sweep_close(sw);
	alerts_close(al);
	events_close(ev);
	journal_close(j);
	store_close(st);
	state_free(s);
	metrics_free(m);
	free(o);
	snprintf(sql, sizeof(sql), "rm -rf '%s'", dir);
	if (system(sql) != 0)
		fprintf(stderr, "rules_bench: could not remove %s\n", dir);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	int vehicles = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 1000;
	int rounds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
	double on[32], off[32];
	long alerts = 0;

	if (n <= 0 || vehicles <= 0 || rounds <= 0 || rounds > 32) {
		fprintf(stderr, "usage: rules_bench [MESSAGES [VEHICLES [ROUNDS<=32]]]\n");
		return 2;
	}
	log_set_level(PW_LOG_ERROR);
	for (int r = 0; r < rounds; r++) {
		struct run a, b;

		if (run_once(1, n, vehicles, &a) || run_once(0, n, vehicles, &b))
			return 1;
		on[r] = a.cpu_us;
		off[r] = b.cpu_us;
		alerts = a.alerts;
		printf(
		    "round %d: rules on %.2f µs/msg (%.0f msg/s), off %.2f µs/msg (%.0f msg/s)\n",
		    r + 1, a.cpu_us, (double)n / a.wall_s, b.cpu_us, (double)n / b.wall_s);
		fflush(stdout);
	}
	qsort(on, (size_t)rounds, sizeof(double), cmp);
	qsort(off, (size_t)rounds, sizeof(double), cmp);
	printf("median over %d rounds of %ld messages, %d vehicles (%ld alerts raised): "
	       "rules on %.2f µs/msg, off %.2f µs/msg: the rules cost %.1f %% of ingest CPU\n",
	       rounds, n, vehicles, alerts, on[rounds / 2], off[rounds / 2],
	       (on[rounds / 2] - off[rounds / 2]) / off[rounds / 2] * 100);
	return 0;
}
