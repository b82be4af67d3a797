/*
 * frames_bench — what the WebSocket vehicle frame costs the core per
 * message: the badges and throttle check every committed vehicle pays, and
 * the render + hub_push a due frame adds (the drain, on the lws thread, is
 * timed apart). CPU time of one thread over many iterations, on a vehicle
 * with every field set, four tyres and 4 DTCs.
 *
 *     build/frames_bench [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "frames.h"
#include "hub.h"
#include "pw.h"
#include "state.h"

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void discard(void *ctx, const struct hub_frame *f)
{
	*(size_t *)ctx += f->len;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	struct pw_config cfg;
	struct pw_vehicle v;
	struct pw_dtc dtc[4] = {{"", 0, 0}};
	struct frames_badges b;
	char buf[FRAMES_VEHICLE_MAX];
	size_t len = 0, sink = 0;
	struct hub *h = hub_new(4096, 8 << 20);
	double t0, t_check, t_render, t_push, t_drain;
	long due = 0;

	if (n <= 0 || !h)
		return 2;
	config_defaults(&cfg);
	state_vehicle_init(&v, "LSVAG2180E2100001");
	v.seq_max = 123456;
	v.ts_ms = 1795388400000;
	v.online = 1;
	v.latest.has = PW_F_ODOMETER | PW_F_SPEED | PW_F_FUEL_PCT | PW_F_BATTERY | PW_F_IGNITION |
	               PW_F_TIRES | PW_F_DTC;
	v.latest.odometer_km = 12345.6;
	v.latest.speed_kmh = 63.5f;
	v.latest.fuel_pct = 40.5f;
	v.latest.battery_v = 12.4f;
	v.latest.ignition = PW_IGN_ON;
	for (int w = 0; w < PW_TIRE_COUNT; w++)
		v.latest.tires[w] = (struct pw_tire){231.5f, 6.4f, 24.5f, 7};
	for (int i = 0; i < 4; i++) {
		snprintf(dtc[i].code, sizeof(dtc[i].code), "P030%d", i);
		dtc[i].status = PW_DTC_CONFIRMED;
	}
	v.latest.dtc = dtc; /* the frames only read it: no pool needed */
	v.latest.dtc_count = 4;

	/* every message: badges, signature, throttle (1000 ms; the clock stands
	 * still, so after the first all are throttled) */
	t0 = cpu_ns();
	for (long i = 0; i < n; i++) {
		uint16_t sig;

		v.latest.odometer_km += 0.01;
		frames_vehicle_badges(&cfg.rules, &v, &b);
		sig = frames_signature(&b, &v);
		if (frames_due(&v, sig, 1000, 1000)) {
			frames_mark_sent(&v, sig, 1000);
			due++;
		}
	}
	t_check = (cpu_ns() - t0) / (double)n;

	/* a due frame: render */
	t0 = cpu_ns();
	for (long i = 0; i < n; i++) {
		v.latest.odometer_km += 0.01;
		frames_render_vehicle(&v, &b, buf, sizeof(buf), &len);
	}
	t_render = (cpu_ns() - t0) / (double)n;

	/* ... and push (a drain every 1000 pushes, timed apart) */
	t_push = t_drain = 0;
	for (long i = 0; i < n; i += 1000) {
		t0 = cpu_ns();
		for (long k = 0; k < 1000; k++)
			hub_push(h, HUB_ADVISOR, v.vin, 0u, buf, len);
		t_push += cpu_ns() - t0;
		t0 = cpu_ns();
		hub_drain(h, discard, &sink);
		t_drain += cpu_ns() - t0;
	}
	t_push /= (double)n;
	t_drain /= (double)n;

	printf("vehicle frame, %zu bytes, %ld iterations (%ld due in the check loop)\n", len, n,
	       due);
	printf("  every message: badges + throttle check   %7.1f ns\n", t_check);
	printf("  a due frame:   render                    %7.1f ns\n", t_render);
	printf("                 hub_push (copy, lock)     %7.1f ns\n", t_push);
	printf("  lws thread:    hub_drain, per frame      %7.1f ns\n", t_drain);
	printf("  core, a due frame in all:                %7.1f ns\n",
	       t_check + t_render + t_push);
	hub_free(h);
	return sink ? 0 : 1;
}
