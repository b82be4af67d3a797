/*
 * fleet — vehicles from a CSV export or generated. See fleet.h. Main thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "fleet.h"
#include "log.h"
#include "pw.h"
#include "rng.h"
#include "vin.h"

#define LINE_MAX_LEN 4096
#define FIELDS_MAX   32

int fleet_csv_split(char *line, char **fields, int max_fields)
{
	char *r = line, *w = line;
	int n = 0;

	for (;;) {
		if (n == max_fields)
			return PW_EINVAL;
		fields[n++] = w;
		if (*r == '"') {
			r++;
			for (;;) {
				if (*r == '\0')
					return PW_EINVAL;
				if (*r == '"' && r[1] == '"') {
					*w++ = '"';
					r += 2;
				} else if (*r == '"') {
					r++;
					break;
				} else {
					*w++ = *r++;
				}
			}
			if (*r != ',' && *r != '\0')
				return PW_EINVAL;
		} else {
			while (*r != ',' && *r != '\0')
				*w++ = *r++;
		}
		if (*r == '\0') {
			*w = '\0';
			return n;
		}
		*w++ = '\0';
		r++;
	}
}

static int find_col(char **fields, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i], name) == 0)
			return i;
	return -1;
}

int fleet_load_csv(const char *path, struct fleet_vehicle **out, int *n_out)
{
	FILE *f = fopen(path, "r");
	struct fleet_vehicle *arr = NULL;
	char line[LINE_MAX_LEN], *fields[FIELDS_MAX];
	int n = 0, cap = 0, lineno = 0, col_vin = -1, col_plate = -1, rc = PW_OK;

	*out = NULL;
	*n_out = 0;
	if (!f) {
		log_error("sim", "cannot read fleet %s: %s", path, strerror(errno));
		return PW_EIO;
	}
	while (fgets(line, sizeof(line), f)) {
		int nf;
		char *p = line;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (lineno == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
		    (unsigned char)p[2] == 0xBF)
			p += 3; /* UTF-8 byte order mark */
		if (*p == '\0')
			continue;
		nf = fleet_csv_split(p, fields, FIELDS_MAX);
		if (nf < 0) {
			log_error("sim", "%s:%d: bad CSV quoting", path, lineno);
			rc = PW_EINVAL;
			goto out;
		}
		if (col_vin < 0) {
			col_vin = find_col(fields, nf, "vin");
			col_plate = find_col(fields, nf, "plate");
			if (col_vin < 0) {
				log_error("sim", "%s:%d: no 'vin' column in the header", path,
				          lineno);
				rc = PW_EINVAL;
				goto out;
			}
			continue;
		}
		if (col_vin >= nf || strlen(fields[col_vin]) != 17 ||
		    !vin_is_valid(fields[col_vin])) {
			log_error("sim", "%s:%d: not a valid VIN", path, lineno);
			rc = PW_EINVAL;
			goto out;
		}
		if (n == cap) {
			int ncap = cap ? cap * 2 : 256;
			struct fleet_vehicle *na = realloc(arr, (size_t)ncap * sizeof(*arr));

			if (!na) {
				rc = PW_ENOMEM;
				goto out;
			}
			arr = na;
			cap = ncap;
		}
		memset(&arr[n], 0, sizeof(arr[n]));
		memcpy(arr[n].vin, fields[col_vin], 18);
		if (col_plate >= 0 && col_plate < nf)
			snprintf(arr[n].plate, sizeof(arr[n].plate), "%s", fields[col_plate]);
		n++;
	}
	if (n == 0) {
		log_error("sim", "%s: no vehicles", path);
		rc = PW_EINVAL;
		goto out;
	}
	*out = arr;
	*n_out = n;
	arr = NULL;
out:
	free(arr);
	fclose(f);
	return rc;
}

int fleet_generate(int n, uint64_t seed, const char *wmi, struct fleet_vehicle **out)
{
	static const char plate_chars[] = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"; /* no I, O */
	struct fleet_vehicle *arr;
	struct rng r;
	int i, k;

	*out = NULL;
	if (n < 1)
		return PW_EINVAL;
	arr = calloc((size_t)n, sizeof(*arr));
	if (!arr)
		return PW_ENOMEM;
	rng_seed_stream(&r, seed, 0x91a7eULL);
	for (i = 0; i < n; i++) {
		char tail[6];

		if (vin_make(wmi, seed, (uint32_t)i, arr[i].vin) != PW_OK) {
			free(arr);
			return PW_EINVAL;
		}
		for (k = 0; k < 5; k++)
			tail[k] = plate_chars[rng_below(&r, sizeof(plate_chars) - 1)];
		tail[5] = '\0';
		snprintf(arr[i].plate, sizeof(arr[i].plate), "鲁%c%s",
		         "ABCDEFGHJKLMNPQRSUVY"[rng_below(&r, 20)], tail);
	}
	*out = arr;
	return PW_OK;
}

struct vin_index {
	const char *vin;
	int idx;
};

static int cmp_vin_index(const void *a, const void *b)
{
	return strcmp(((const struct vin_index *)a)->vin, ((const struct vin_index *)b)->vin);
}

int fleet_load_appointments(const char *path, const struct fleet_vehicle *fleet, int n_fleet,
                            int tz_offset_s, struct world_appointment **out, int *n_out,
                            int *skipped)
{
	FILE *f = fopen(path, "r");
	struct vin_index *index = NULL;
	struct world_appointment *arr = NULL;
	char line[LINE_MAX_LEN], *fields[FIELDS_MAX];
	int n = 0, cap = 0, lineno = 0, col_vin = -1, col_start = -1, rc = PW_OK, i;

	*out = NULL;
	*n_out = 0;
	*skipped = 0;
	if (!f) {
		log_error("sim", "cannot read appointments %s: %s", path, strerror(errno));
		return PW_EIO;
	}
	index = malloc((size_t)(n_fleet > 0 ? n_fleet : 1) * sizeof(*index));
	if (!index) {
		rc = PW_ENOMEM;
		goto out;
	}
	for (i = 0; i < n_fleet; i++) {
		index[i].vin = fleet[i].vin;
		index[i].idx = i;
	}
	qsort(index, (size_t)n_fleet, sizeof(*index), cmp_vin_index);
	while (fgets(line, sizeof(line), f)) {
		struct vin_index key, *hit;
		int64_t ms;
		int nf, had_offset = 0;
		char *p = line;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (lineno == 1 && (unsigned char)p[0] == 0xEF)
			p += 3;
		if (*p == '\0')
			continue;
		nf = fleet_csv_split(p, fields, FIELDS_MAX);
		if (nf < 0) {
			log_error("sim", "%s:%d: bad CSV quoting", path, lineno);
			rc = PW_EINVAL;
			goto out;
		}
		if (col_vin < 0) {
			col_vin = find_col(fields, nf, "vin");
			col_start = find_col(fields, nf, "start");
			if (col_vin < 0 || col_start < 0) {
				log_error("sim", "%s:%d: header needs 'vin' and 'start'", path,
				          lineno);
				rc = PW_EINVAL;
				goto out;
			}
			continue;
		}
		if (col_vin >= nf || col_start >= nf ||
		    clock_parse_iso8601_ex(fields[col_start], &ms, &had_offset) != PW_OK) {
			log_error("sim", "%s:%d: bad start time", path, lineno);
			rc = PW_EINVAL;
			goto out;
		}
		if (!had_offset)
			ms -= (int64_t)tz_offset_s * 1000;
		key.vin = fields[col_vin];
		hit = bsearch(&key, index, (size_t)n_fleet, sizeof(*index), cmp_vin_index);
		if (!hit) {
			(*skipped)++;
			continue;
		}
		if (n == cap) {
			int ncap = cap ? cap * 2 : 64;
			struct world_appointment *na = realloc(arr, (size_t)ncap * sizeof(*arr));

			if (!na) {
				rc = PW_ENOMEM;
				goto out;
			}
			arr = na;
			cap = ncap;
		}
		arr[n].vehicle = hit->idx;
		arr[n].start_ms = ms;
		n++;
	}
	*out = arr;
	*n_out = n;
	arr = NULL;
out:
	free(arr);
	free(index);
	fclose(f);
	return rc;
}

int fleet_load_site(const char *path, struct life_site *site, char *id, size_t id_len,
                    char *timezone, size_t tz_len)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err), *g;
	const char *s;
	int rc = PW_EINVAL;

	if (!root) {
		log_error("sim", "%s:%d: %s", path, err.line, err.text);
		return PW_EINVAL;
	}
	g = json_object_get(root, "geofence");
	if (!json_is_object(g) || !json_is_number(json_object_get(g, "lat")) ||
	    !json_is_number(json_object_get(g, "lon"))) {
		log_error("sim", "%s: geofence.lat and geofence.lon are needed", path);
		goto out;
	}
	site->lat = json_number_value(json_object_get(g, "lat"));
	site->lon = json_number_value(json_object_get(g, "lon"));
	site->radius_m = json_is_number(json_object_get(g, "radius_m"))
	                     ? json_number_value(json_object_get(g, "radius_m"))
	                     : 120.0;
	if (id && (s = json_string_value(json_object_get(root, "id"))) != NULL)
		snprintf(id, id_len, "%s", s);
	if (timezone && (s = json_string_value(json_object_get(root, "timezone"))) != NULL)
		snprintf(timezone, tz_len, "%s", s);
	rc = PW_OK;
out:
	json_decref(root);
	return rc;
}
