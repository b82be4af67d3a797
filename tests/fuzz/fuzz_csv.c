/*
 * fuzz_csv — libFuzzer target over the CSV reader and the import row
 * checks. The first byte picks the kind (low bits) and whether the reader
 * runs with tiny limits (bit 3); the rest is the file.
 *
 * Beyond "no crash, no leak, no UB" it checks the promises: csv_next()
 * ends in at most one call per byte; records start on non-decreasing lines
 * that exist in the input; every field is NUL-terminated, of its stated
 * length, strict UTF-8 without NUL and within the limits; a bad record has
 * a reason and no fields. import_check_row() fails exactly when it reports
 * an error, names only the kind's columns and writes one-line messages.
 * import_csv() on a seeded :memory: database either commits or leaves
 * every table's row count as it was.
 *
 * Seeds: tests/fuzz/corpus/csv/. Build with -DPW_FUZZ=ON (clang).
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "import.h"
#include "log.h"
#include "pw.h"
#include "store_migrations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct import_settings settings = {.tz_offset_s = 28800, .max_model_year = 2027};

static const char *const seed_files[][2] = {
    {"advisors", "advisor_id,name,desk\nA01,李娜,1\nA02,王强,2\n"},
    {"customers", "customer_id,name,gender,phone,tier,advisor_id,display_consent\n"
                  "C1,张三,M,13800138000,regular,A01,yes\nC2,李四,F,13900139000,vip,,no\n"},
    {"vehicles", "vin,plate,customer_id,brand,model,model_year,purchase_date,"
                 "purchase_odometer_km\n"
                 "LSVCA2114M4100000,鲁A9QHFG,C1,大众,朗逸,2025,2024-05-21,17\n"
                 "LSVBE2313N2100001,鲁A8ZWDZ,C2,大众,速腾,2024,2024-02-20,8\n"},
};

static const char *const tables[] = {"advisor",     "customer", "vehicle",
                                     "appointment", "policy",   "service_visit"};

static sqlite3 *db;
static struct import *im;
static struct import_report rep;

static void seed(void)
{
	sqlite3_exec(db,
	             "DELETE FROM service_visit; DELETE FROM policy; DELETE FROM appointment; "
	             "DELETE FROM vehicle; DELETE FROM customer; DELETE FROM advisor;",
	             NULL, NULL, NULL);
	for (size_t i = 0; i < sizeof(seed_files) / sizeof(seed_files[0]); i++) {
		enum import_kind k;

		if (import_kind_parse(seed_files[i][0], &k) != PW_OK ||
		    import_csv(im, k, "seed", seed_files[i][1], strlen(seed_files[i][1]), &rep) !=
		        PW_OK)
			abort();
	}
}

static void setup_db(void)
{
	if (db)
		return;
	log_set_level(PW_LOG_ERROR);
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
		abort();
	for (size_t i = 0; i < store_migrations_count; i++)
		if (sqlite3_exec(db, store_migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK)
			abort();
	im = import_open(db, &settings);
	if (!im)
		abort();
	seed();
}

static void counts(long out[6])
{
	for (int t = 0; t < 6; t++) {
		char sql[64];
		sqlite3_stmt *s = NULL;

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[t]);
		if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_ROW)
			abort();
		out[t] = (long)sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
}

static void check_report(const struct import_report *r, enum import_kind kind)
{
	int ncols = 0;
	const char *const *cols = import_kind_columns(kind, &ncols);
	char line[512];

	if (r->n_kept > IMPORT_ERRORS_MAX || r->n_kept > r->errors ||
	    (r->errors <= IMPORT_ERRORS_MAX && r->n_kept != r->errors))
		abort();
	for (int i = 0; i < r->n_kept; i++) {
		const struct import_error *e = &r->error[i];
		int known = e->column[0] == '\0';

		for (int c = 0; c < ncols && !known; c++)
			known = strcmp(e->column, cols[c]) == 0;
		if (!known || !e->why[0])
			abort();
		import_error_format(r, i, line, sizeof(line));
		if (strchr(line, '\n') || strchr(line, '\r') ||
		    csv_utf8_valid_prefix(line, strlen(line)) != strlen(line))
			abort();
	}
}

/* Reads every record, checking the reader's promises; runs the row checks
 * on records of the kind's width. */
static void read_all(const char *buf, size_t len, const struct csv_limits *lim,
                     enum import_kind kind)
{
	struct csv_limits eff = {lim && lim->field_max ? lim->field_max : CSV_FIELD_MAX,
	                         lim && lim->record_max ? lim->record_max : CSV_RECORD_MAX,
	                         lim && lim->columns_max ? lim->columns_max : CSV_COLUMNS_MAX};
	struct csv *c = csv_new(buf, len, lim);
	struct csv_record r;
	long last_line = 0, lines = 1;
	size_t calls = 0;
	int ncols = 0;
	int rc;

	if (!c)
		abort();
	import_kind_columns(kind, &ncols);
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	while ((rc = csv_next(c, &r)) != PW_ENOTFOUND) {
		if (++calls > len + 1)
			abort(); /* every record consumes input */
		if (r.line < 1 || r.line > lines)
			abort();
		if (rc == PW_EINVAL) {
			if (!r.why[0] || r.count != 0 || strchr(r.why, '\n'))
				abort();
			continue;
		}
		if (rc != PW_OK || r.line < last_line || r.count < 1 || r.count > eff.columns_max)
			abort();
		last_line = r.line;
		for (int i = 0; i < r.count; i++) {
			size_t n = r.lens[i];

			if (r.fields[i][n] != '\0' || strlen(r.fields[i]) != n ||
			    n > eff.field_max || csv_utf8_valid_prefix(r.fields[i], n) != n)
				abort();
		}
		if (r.count == ncols) {
			struct import_values v;
			int ok;

			import_report_init(&rep, "fuzz");
			ok = import_check_row(&settings, kind, r.fields, r.count, r.line, &v,
			                      &rep) == PW_OK;
			if (ok != (rep.errors == 0) || ok != (v.bad == 0))
				abort();
			check_report(&rep, kind);
		}
	}
	if (csv_next(c, &r) != PW_ENOTFOUND) /* the end stays the end */
		abort();
	csv_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_limits tiny = {.field_max = 8, .record_max = 32, .columns_max = 4};
	enum import_kind kind;
	const char *buf;
	size_t len;
	long before[6], after[6];
	int rc;

	if (size < 1)
		return 0;
	setup_db();
	kind = (enum import_kind)(data[0] % IMPORT__KINDS);
	buf = (const char *)data + 1;
	len = size - 1;

	read_all(buf, len, (data[0] & 8) ? &tiny : NULL, kind);

	counts(before);
	rc = import_csv(im, kind, "fuzz.csv", buf, len, &rep);
	check_report(&rep, kind);
	if (rc == PW_OK) {
		if (rep.errors || rep.inserted + rep.updated != rep.rows)
			abort();
		seed(); /* back to the seed for the next input */
	} else {
		if (rc != PW_EINVAL || rep.errors == 0)
			abort();
		counts(after);
		if (memcmp(before, after, sizeof(before)) != 0)
			abort(); /* a failed import changed nothing */
	}
	if (!sqlite3_get_autocommit(db))
		abort();
	return 0;
}
