/*
 * faults — what a misbehaving device or network does to telemetry, injected
 * on purpose at given rates (--faults SPEC) and counted, so a test can
 * check the gateway's counters against what was injected:
 *
 *   kind        what is sent                         the gateway's verdict
 *   dup         the same object again, a bit later   duplicate (accepted once)
 *   reorder     an object held back 1-20 messages    accepted (late)
 *   skew        ts 6-30 min in the future            rejected: ts_future
 *   rollback    odometer 5-500 km below the truth    accepted, odometer_rollback
 *   vin         payload VIN != topic VIN             rejected: vin_mismatch
 *   malformed   the JSON text cut short              rejected: bad_json
 *
 * At most one of skew/rollback/vin/malformed per object; dup and reorder
 * only touch objects that are otherwise valid, so the expected counts are
 * exact. SPEC: "dup=0.01,reorder=0.01,skew=0.001,rollback=0.001,vin=0.001,
 * malformed=0.001" (any subset; rates are probabilities per object).
 * Pure; the caller owns the rng and the holding of delayed copies.
 */
#ifndef PWSIM_FAULTS_H
#define PWSIM_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "rng.h"

enum faults_kind {
	FAULT_NONE = 0,
	FAULT_SKEW,
	FAULT_ROLLBACK,
	FAULT_VIN,
	FAULT_MALFORMED,
};

struct faults_spec {
	double dup, reorder, skew, rollback, vin, malformed;
};

struct faults_report {
	uint64_t dup, reorder, skew, rollback, vin, malformed;
};

/* Parses SPEC; PW_EINVAL (message on stderr naming the item) on anything
 * else, including rates outside 0..1. */
int faults_parse(const char *spec, struct faults_spec *out);
/* True when any rate is non-zero. */
int faults_any(const struct faults_spec *s);

/* Draws the content fault of one object (FAULT_NONE mostly). */
enum faults_kind faults_pick(const struct faults_spec *s, struct rng *r);
/* Applies a content fault chosen by faults_pick to t before formatting.
 * `other_vin` is a valid VIN that is not t->vin (for FAULT_VIN). */
void faults_mutate(enum faults_kind k, struct pw_telemetry *t, struct rng *r,
                   const char *other_vin);
/* FAULT_MALFORMED, after formatting: cuts the text so it is not JSON. */
void faults_corrupt(char *payload, size_t *len, struct rng *r);
/* After the content fault: should this (valid) object also be sent twice,
 * or held back? Each returns the delay in messages (0: no). */
int faults_dup_delay(const struct faults_spec *s, struct rng *r);
int faults_reorder_delay(const struct faults_spec *s, struct rng *r);

void faults_count(struct faults_report *rep, enum faults_kind k);
/* {"dup":..,"reorder":..,...,"expect_rejected":{"ts_future":..,"vin_mismatch":..,
 * "bad_json":..},"expect_duplicate":..,"expect_rollback":..} into buf. */
int faults_report_json(const struct faults_report *rep, char *buf, size_t cap);

#endif
