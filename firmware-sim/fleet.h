/*
 * fleet — the vehicles the simulator plays: read from a dealer export
 * (vehicles.csv: vin,plate,customer_id,...; RFC 4180 quoting) or generated
 * (valid VINs under a world manufacturer code, Shandong plates). Main
 * thread; the arrays are plain data afterwards.
 */
#ifndef PWSIM_FLEET_H
#define PWSIM_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "life.h"
#include "world.h"

struct fleet_vehicle {
	char vin[18];
	char plate[32]; /* UTF-8 */
};

/* Reads `path`; *out is a new array the caller frees. PW_EINVAL names the
 * file and line (bad VIN, missing column). */
int fleet_load_csv(const char *path, struct fleet_vehicle **out, int *n);
/* n generated vehicles from `seed`. */
int fleet_generate(int n, uint64_t seed, const char *wmi, struct fleet_vehicle **out);

/* Reads appointments.csv (appointment_id,vin,start,service,advisor_id;
 * start "YYYY-MM-DDTHH:MM" in the site's time zone, tz_offset_s east of
 * UTC) for the vehicles of `fleet`; rows for other VINs are skipped and
 * counted in *skipped. *out is a new array the caller frees. */
int fleet_load_appointments(const char *path, const struct fleet_vehicle *fleet, int n_fleet,
                            int tz_offset_s, struct world_appointment **out, int *n, int *skipped);

/* Reads site.json ({"id","name","timezone","geofence":{"lat","lon","radius_m"}}).
 * id and timezone may be NULL when not wanted. */
int fleet_load_site(const char *path, struct life_site *site, char *id, size_t id_len,
                    char *timezone, size_t tz_len);

/* Splits one CSV line (no line breaks inside fields) into at most max_fields
 * NUL-terminated fields, in place; returns the number of fields or
 * PW_EINVAL on a bad quote. */
int fleet_csv_split(char *line, char **fields, int max_fields);

#endif
