/*
 * load — load mode: telemetry for V vehicles round-robin, as fast as the
 * broker takes it (or at --rate), many messages in flight on one
 * connection. Each vehicle is a struct car driven 10 s (or parked 30 min)
 * per message, so payloads are realistic and every field of the contract
 * is present (--fields full). `seq` per vehicle starts at 0 or where the
 * --state file left it; `ts` reads the (virtual) clock and never goes back
 * for a vehicle. The payload sequence depends only on the seed.
 *
 * Thread: load_run on the main thread; acknowledgements are counted per
 * vehicle on Paho's thread (each counter has one writer) and read after
 * pub_wait has seen them all.
 */
#ifndef PWSIM_LOAD_H
#define PWSIM_LOAD_H

#include <stdatomic.h>
#include <stdint.h>

#include "clock.h"
#include "faults.h"
#include "pub.h"

struct load_options {
	const char *uri;
	const char *client_id;
	enum pub_transport transport;
	const char *const *vins; /* borrowed: `vehicles` VINs */
	int vehicles;
	uint64_t seed;
	int64_t count; /* messages in all; < 0: until stopped */
	double rate;   /* messages per second; 0: as fast as possible */
	int qos;
	int window; /* messages in flight at most */
	int full;   /* every field (1) or only v, vin, seq, ts (0) */
	double site_lat, site_lon;
	const struct pw_clock *clock;     /* borrowed */
	const char *manifest_path;        /* NULL: none */
	const char *state_path;           /* NULL: none */
	const atomic_int *stop;           /* set by a signal */
	int drain_timeout_ms;             /* waiting for the last acknowledgements */
	const struct faults_spec *faults; /* NULL: none */
};

struct load_result {
	uint64_t published; /* handed to the broker connection */
	uint64_t acked;     /* PUBACKed (QoS 1) or written (QoS 0) */
	uint64_t failed;
	uint64_t bytes;
	uint64_t reconnects;
	double seconds;         /* first publish to last acknowledgement */
	double publish_seconds; /* first to last publish call */
	double cpu_s;           /* user + system of this process */
	int max_in_flight;
	struct faults_report faults;
};

/* Runs to completion (count reached or *stop set). PW_OK when every
 * published message was acknowledged; PW_EIO when the broker could not be
 * reached; PW_EBUSY when some were still unacknowledged at the end.
 * The manifest and state file are written in every case after connecting. */
int load_run(const struct load_options *o, struct load_result *res);

#endif
