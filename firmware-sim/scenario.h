/*
 * scenario — a JSON script of exact messages and plate reads at given
 * virtual times, for tests (--scenario FILE). The format:
 *
 *   {"site": "jinan-west",                      default site of plate steps
 *    "steps": [
 *      {"at_s": 0,   "telemetry": {"vin": "...", "odometer_km": 100}},
 *      {"at_s": 10,  "batch": [{"vin": "...", ...}, ...]},
 *      {"at_s": 12,  "status": {"vin": "...", "online": true}},
 *      {"at_s": 20,  "plate": "鲁A12345", "confidence": 0.93, "camera": "entrance-1"},
 *      {"at_s": 30,  "topic": "pitwall/v1/...", "raw": "{not json"},
 *      {"at": "2026-11-23T09:00:00+08:00", "topic": "...", "payload": {...},
 *       "retain": false, "qos": 1}]}
 *
 * `at_s` counts virtual seconds from the start (the clock when the run
 * begins); `at` is an absolute time. Steps go out in time order (file order
 * for equal times), each when the (virtual) clock reaches it. Telemetry
 * objects get "v":1, a per-VIN "seq" counting from 0 (or on from the last
 * one given) and "ts" = the step's time unless they carry them;
 * "ts_offset_s" shifts the filled-in ts (a device with a skewed clock).
 * Status gets "v" and "ts" the same way, retained. Prints a JSON summary.
 */
#ifndef PWSIM_SCENARIO_H
#define PWSIM_SCENARIO_H

#include <stdatomic.h>
#include <stdint.h>

#include "clock.h"
#include "pub.h"

/* Parses the script and plays it. Returns the process exit status: 0 ok,
 * 2 bad script (the message names the step and key), 1 runtime failure. */
int scenario_run_file(const char *path, const char *uri, enum pub_transport transport,
                      const char *client_id, int qos, const struct pw_clock *clock,
                      const atomic_int *stop);

#endif
