/*
 * realtime — runs the fleet's days (world.c) against a broker in (virtual)
 * real time: --realtime [--now T --speedup K --anchor S]. Each device has
 * its own MQTT connection (client id pwsim-{vin}) with a retained status
 * topic and a will, drops it when it loses coverage (the broker publishes
 * the will) and reconnects, status first, then its offline buffer as batch
 * arrays under 16 KiB; the entrance camera has its own connection and
 * publishes plate reads on pitwall/v1/sites/{site}/anpr. With
 * `shared_connection` all telemetry goes over one connection instead (no
 * status, no will): for fleets of tens of thousands.
 *
 * Thread: realtime_run on the main thread; the raw transport completes
 * messages on it too (Paho on its own thread: counters are one-writer).
 */
#ifndef PWSIM_REALTIME_H
#define PWSIM_REALTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include "clock.h"
#include "faults.h"
#include "pub.h"
#include "world.h"

struct realtime_options {
	const char *uri;
	enum pub_transport transport;
	const char *site_id;
	const char *camera_id;
	const struct pw_clock *clock; /* borrowed */
	struct world_options world;   /* vins, plates, appointments... borrowed */
	int qos;
	int shared_connection;
	int64_t count;          /* stop after this many telemetry objects; < 0: no limit */
	int64_t duration_ms;    /* stop after this much virtual time; <= 0: no limit */
	const atomic_int *stop; /* set by a signal */
	const char *manifest_path;
	const char *state_path;
	const struct faults_spec *faults; /* NULL: none */
	uint64_t fault_seed;
	int drain_timeout_ms;
};

struct realtime_result {
	int64_t start_ms, end_ms; /* virtual */
	double seconds;           /* real */
	uint64_t objects;         /* telemetry objects published (in singles and batches) */
	uint64_t messages;        /* MQTT messages published */
	uint64_t acked, failed;
	uint64_t status_msgs;
	uint64_t reconnects;
	struct world_stats world;
	struct faults_report faults;
};

int realtime_run(const struct realtime_options *o, struct realtime_result *res);

#endif
