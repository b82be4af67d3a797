/*
 * fleet — the vehicles the simulator plays: read from a dealer export
 * (vehicles.csv: vin,plate,customer_id,...; RFC 4180 quoting) or generated
 * (valid VINs under a world manufacturer code, Shandong plates). Main
 * thread; the arrays are plain data afterwards.
 */
#ifndef PWSIM_FLEET_H
#define PWSIM_FLEET_H

#include <stdint.h>

struct fleet_vehicle {
	char vin[18];
	char plate[32]; /* UTF-8 */
};

/* Reads `path`; *out is a new array the caller frees. PW_EINVAL names the
 * file and line (bad VIN, missing column). */
int fleet_load_csv(const char *path, struct fleet_vehicle **out, int *n);
/* n generated vehicles from `seed`. */
int fleet_generate(int n, uint64_t seed, const char *wmi, struct fleet_vehicle **out);

/* Splits one CSV line (no line breaks inside fields) into at most max_fields
 * NUL-terminated fields, in place; returns the number of fields or
 * PW_EINVAL on a bad quote. */
int fleet_csv_split(char *line, char **fields, int max_fields);

#endif
