/*
 * faults — deliberate misbehaviour at given rates. See faults.h. Pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "pw.h"

struct fault_key {
	const char *name;
	size_t offset;
};

static const struct fault_key keys[] = {
    {"dup", offsetof(struct faults_spec, dup)},
    {"reorder", offsetof(struct faults_spec, reorder)},
    {"skew", offsetof(struct faults_spec, skew)},
    {"rollback", offsetof(struct faults_spec, rollback)},
    {"vin", offsetof(struct faults_spec, vin)},
    {"malformed", offsetof(struct faults_spec, malformed)},
};

int faults_parse(const char *spec, struct faults_spec *out)
{
	char buf[512], *item, *save = NULL;

	memset(out, 0, sizeof(*out));
	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) {
		fprintf(stderr, "pitwall-sim: --faults: too long\n");
		return PW_EINVAL;
	}
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *end;
		double v;
		size_t i;

		if (!eq) {
			fprintf(stderr, "pitwall-sim: --faults: '%s' is not KIND=RATE\n", item);
			return PW_EINVAL;
		}
		*eq = '\0';
		v = strtod(eq + 1, &end);
		if (end == eq + 1 || *end != '\0' || !(v >= 0.0 && v <= 1.0)) {
			fprintf(stderr, "pitwall-sim: --faults: %s: rate must be 0..1\n", item);
			return PW_EINVAL;
		}
		for (i = 0; i < PW_ARRAY_LEN(keys); i++)
			if (strcmp(item, keys[i].name) == 0)
				break;
		if (i == PW_ARRAY_LEN(keys)) {
			fprintf(stderr,
			        "pitwall-sim: --faults: unknown kind '%s' (dup, reorder, skew, "
			        "rollback, vin, malformed)\n",
			        item);
			return PW_EINVAL;
		}
		*(double *)((char *)out + keys[i].offset) = v;
	}
	return PW_OK;
}

int faults_any(const struct faults_spec *s)
{
	return s->dup > 0 || s->reorder > 0 || s->skew > 0 || s->rollback > 0 || s->vin > 0 ||
	       s->malformed > 0;
}

enum faults_kind faults_pick(const struct faults_spec *s, struct rng *r)
{
	double u = rng_uniform(r);

	if (u < s->skew)
		return FAULT_SKEW;
	u -= s->skew;
	if (u < s->rollback)
		return FAULT_ROLLBACK;
	u -= s->rollback;
	if (u < s->vin)
		return FAULT_VIN;
	u -= s->vin;
	if (u < s->malformed)
		return FAULT_MALFORMED;
	return FAULT_NONE;
}

void faults_mutate(enum faults_kind k, struct pw_telemetry *t, struct rng *r, const char *other_vin)
{
	switch (k) {
	case FAULT_SKEW:
		t->ts_ms += (int64_t)rng_range(r, 6 * 60000.0, 30 * 60000.0);
		break;
	case FAULT_ROLLBACK:
		t->has |= PW_F_ODOMETER;
		t->odometer_km -= rng_range(r, 5.0, 500.0);
		if (t->odometer_km < 0)
			t->odometer_km = 0;
		break;
	case FAULT_VIN:
		snprintf(t->vin, sizeof(t->vin), "%s", other_vin);
		break;
	default:
		break;
	}
}

void faults_corrupt(char *payload, size_t *len, struct rng *r)
{
	if (*len < 2)
		return;
	/* An object cut anywhere before its closing brace is never JSON. */
	*len = 1 + rng_below(r, (uint32_t)(*len - 1));
	(void)payload;
}

int faults_dup_delay(const struct faults_spec *s, struct rng *r)
{
	return s->dup > 0 && rng_chance(r, s->dup) ? 1 + (int)rng_below(r, 20) : 0;
}

int faults_reorder_delay(const struct faults_spec *s, struct rng *r)
{
	return s->reorder > 0 && rng_chance(r, s->reorder) ? 1 + (int)rng_below(r, 20) : 0;
}

void faults_count(struct faults_report *rep, enum faults_kind k)
{
	switch (k) {
	case FAULT_SKEW:
		rep->skew++;
		break;
	case FAULT_ROLLBACK:
		rep->rollback++;
		break;
	case FAULT_VIN:
		rep->vin++;
		break;
	case FAULT_MALFORMED:
		rep->malformed++;
		break;
	default:
		break;
	}
}

int faults_report_json(const struct faults_report *rep, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
	                 "{\"dup\":%llu,\"reorder\":%llu,\"skew\":%llu,\"rollback\":%llu,"
	                 "\"vin\":%llu,\"malformed\":%llu,\"expect_rejected\":{\"ts_future\":%llu,"
	                 "\"vin_mismatch\":%llu,\"bad_json\":%llu},\"expect_duplicate\":%llu,"
	                 "\"expect_rollback\":%llu}",
	                 (unsigned long long)rep->dup, (unsigned long long)rep->reorder,
	                 (unsigned long long)rep->skew, (unsigned long long)rep->rollback,
	                 (unsigned long long)rep->vin, (unsigned long long)rep->malformed,
	                 (unsigned long long)rep->skew, (unsigned long long)rep->vin,
	                 (unsigned long long)rep->malformed, (unsigned long long)rep->dup,
	                 (unsigned long long)rep->rollback);
	return n < 0 || (size_t)n >= cap ? PW_ERANGE : PW_OK;
}
