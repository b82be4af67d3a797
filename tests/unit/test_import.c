/*
 * test_import — dealer data import on a :memory: database migrated like
 * the real one (foreign keys on): every kind's field checks at their
 * boundaries (ids, texts, enums, phone, VIN and its check digit, plates,
 * years, dates, local times, km), the sample dealership of ../shared/data
 * imported in order with the right counts, re-import as UPSERT, references
 * and the import order, duplicate ids and plates (in the file and against
 * the database), headers, one transaction (any bad row and nothing is
 * kept), the error cap and format, single rows through import_row(), and
 * the fixed-offset zone table against the host's tz database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "import.h"
#include "store_migrations.h"

#define VIN1 "LSVCA2114M4100000" /* the sample's first car, valid check digit */
#define VIN2 "LSVBE2313N2100001"
#define VIN3 "LSVDD2144S4100002"

struct fx {
	sqlite3 *db;
	struct import *im;
	struct import_settings set;
	struct import_report rep;
};

static const struct import_settings shanghai = {.tz_offset_s = 28800, .max_model_year = 2027};

/* ---- fixture: a migrated :memory: database ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || sqlite3_open(":memory:", &f->db) != SQLITE_OK)
		return -1;
	if (sqlite3_exec(f->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < store_migrations_count; i++)
		if (sqlite3_exec(f->db, store_migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK)
			return -1;
	f->set = shanghai;
	f->im = import_open(f->db, &f->set);
	if (!f->im)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	import_close(f->im);
	sqlite3_close(f->db);
	free(f);
	return 0;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* The first column of the first row as text ("" for none or NULL), into buf. */
static const char *query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s = NULL;

	buf[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return buf;
}

/* Every dealer table's content as one string (a new allocation). */
static char *dump(sqlite3 *db)
{
	static const char *const sql[] = {
	    "SELECT * FROM advisor ORDER BY 1", "SELECT * FROM customer ORDER BY 1",
	    "SELECT * FROM vehicle ORDER BY 1", "SELECT * FROM appointment ORDER BY 1",
	    "SELECT * FROM policy ORDER BY 1",  "SELECT * FROM service_visit ORDER BY 1",
	};
	size_t cap = 1 << 16, at = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	out[0] = '\0';
	for (size_t t = 0; t < PW_ARRAY_LEN(sql); t++) {
		sqlite3_stmt *s = NULL;

		assert_int_equal(sqlite3_prepare_v2(db, sql[t], -1, &s, NULL), SQLITE_OK);
		while (sqlite3_step(s) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(s); c++) {
				const char *v = (const char *)sqlite3_column_text(s, c);
				size_t need = (v ? strlen(v) : 4) + 2;

				if (at + need + 1 > cap) {
					cap = 2 * (at + need + 1);
					out = realloc(out, cap);
					assert_non_null(out);
				}
				at +=
				    (size_t)snprintf(out + at, cap - at, "%s%c", v ? v : "NULL",
				                     c + 1 < sqlite3_column_count(s) ? '|' : '\n');
			}
		}
		sqlite3_finalize(s);
	}
	return out;
}

static int run(struct fx *f, enum import_kind kind, const char *csv)
{
	return import_csv(f->im, kind, "t.csv", csv, strlen(csv), &f->rep);
}

/* Asserts that some kept error is at `line`, names `column` ("" for none)
 * and its text contains `part`. */
static void expect_error(const struct import_report *rep, long line, const char *column,
                         const char *part)
{
	char all[4096];
	size_t at = 0;

	for (int i = 0; i < rep->n_kept; i++) {
		const struct import_error *e = &rep->error[i];

		if (e->line == line && strcmp(e->column, column) == 0 && strstr(e->why, part))
			return;
	}
	all[0] = '\0';
	for (int i = 0; i < rep->n_kept && at < sizeof(all); i++) {
		char line_buf[512];

		import_error_format(rep, i, line_buf, sizeof(line_buf));
		at += (size_t)snprintf(all + at, sizeof(all) - at, "  %s\n", line_buf);
	}
	fail_msg("no error at line %ld, column '%s', with '%s'; got:\n%s", line, column, part, all);
}

static char *read_shared(const char *name, size_t *len)
{
	const char *dir = getenv("PW_SHARED_DIR");
	char path[1024];
	FILE *fp;
	char *buf;
	long n;

	if (dir)
		snprintf(path, sizeof(path), "%s/data/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s/../shared/data/%s", PW_SOURCE_DIR, name);
	fp = fopen(path, "rb");
	if (!fp)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static int import_sample(struct fx *f, enum import_kind kind)
{
	char name[64];
	size_t len;
	char *buf;
	int rc;

	snprintf(name, sizeof(name), "%s.csv", import_kind_name(kind));
	buf = read_shared(name, &len);
	rc = import_csv(f->im, kind, name, buf, len, &f->rep);
	free(buf);
	return rc;
}

/* Lines of the sample file of `kind` after its header. */
static long sample_rows(enum import_kind kind)
{
	char name[64];
	size_t len;
	char *buf;
	long lines = 0;

	snprintf(name, sizeof(name), "%s.csv", import_kind_name(kind));
	buf = read_shared(name, &len);
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	if (len && buf[len - 1] != '\n')
		lines++;
	free(buf);
	return lines - 1;
}

/* ---- kinds, zones, settings ---- */

static void test_kinds(void **unused)
{
	enum import_kind k;
	int n = 0;
	const char *const *cols;

	(void)unused;
	assert_int_equal(import_kind_parse("vehicles", &k), PW_OK);
	assert_int_equal(k, IMPORT_VEHICLES);
	assert_int_equal(import_kind_parse("vehicle", &k), PW_EINVAL);
	assert_int_equal(import_kind_parse("", &k), PW_EINVAL);
	assert_int_equal(import_kind_parse(NULL, &k), PW_EINVAL);
	for (int i = 0; i < IMPORT__KINDS; i++) {
		assert_int_equal(import_kind_parse(import_kind_name((enum import_kind)i), &k),
		                 PW_OK);
		assert_int_equal(k, i);
	}
	assert_string_equal(import_kind_name(IMPORT__KINDS), "?");
	cols = import_kind_columns(IMPORT_CUSTOMERS, &n);
	assert_int_equal(n, 7);
	assert_string_equal(cols[4], "tier");
	assert_null(cols[7]);
	assert_null(import_kind_columns(IMPORT__KINDS, &n));
}

static void test_tz_table(void **unused)
{
	int off = 0;
	const char *name;

	(void)unused;
	assert_int_equal(import_tz_offset("Asia/Shanghai", &off), PW_OK);
	assert_int_equal(off, 8 * 3600);
	assert_int_equal(import_tz_offset("Asia/Kolkata", &off), PW_OK);
	assert_int_equal(off, 5 * 3600 + 1800);
	assert_int_equal(import_tz_offset("UTC", &off), PW_OK);
	assert_int_equal(off, 0);
	assert_int_equal(import_tz_offset("Etc/GMT-8", &off), PW_OK); /* POSIX sign */
	assert_int_equal(off, 8 * 3600);
	assert_int_equal(import_tz_offset("Etc/GMT+5", &off), PW_OK);
	assert_int_equal(off, -5 * 3600);
	assert_int_equal(import_tz_offset("Etc/GMT-14", &off), PW_OK);
	assert_int_equal(import_tz_offset("Etc/GMT-15", &off), PW_ENOTFOUND);
	assert_int_equal(import_tz_offset("Etc/GMT+13", &off), PW_ENOTFOUND);
	assert_int_equal(import_tz_offset("Etc/GMT+", &off), PW_ENOTFOUND);
	assert_int_equal(import_tz_offset("Etc/GMT+5x", &off), PW_ENOTFOUND);
	assert_int_equal(import_tz_offset("Europe/Berlin", &off), PW_ENOTFOUND); /* has DST */
	assert_int_equal(import_tz_offset("asia/shanghai", &off), PW_ENOTFOUND);
	assert_int_equal(import_tz_offset(NULL, &off), PW_ENOTFOUND);

	/* every zone of the table: the host's tz database agrees, in winter and
	 * in summer (no DST) of the current year */
	for (size_t i = 0; (name = import_tz_zone(i)) != NULL; i++) {
		char path[256];
		int64_t now_s = clock_real_ms() / 1000;

		snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
		if (access(path, R_OK) != 0) {
			print_message("skip %s: not in the host's tz database\n", name);
			continue;
		}
		assert_int_equal(import_tz_offset(name, &off), PW_OK);
		setenv("TZ", name, 1);
		tzset();
		for (int half = 0; half < 2; half++) {
			time_t t = (time_t)(now_s + half * 182LL * 86400);
			struct tm tm;

			localtime_r(&t, &tm);
			if (tm.tm_gmtoff != off)
				fail_msg("%s: table %d s, host %ld s", name, off, tm.tm_gmtoff);
		}
	}
	unsetenv("TZ");
	tzset();
}

static void test_settings(void **unused)
{
	struct import_settings s;
	int64_t ms;

	(void)unused;
	assert_int_equal(clock_parse_iso8601("2026-11-23T10:00:00Z", &ms), PW_OK);
	assert_int_equal(import_settings_init(&s, NULL, ms), PW_OK);
	assert_int_equal(s.tz_offset_s, 28800);
	assert_int_equal(s.max_model_year, 2027);
	assert_int_equal(clock_parse_iso8601("2024-12-31T23:59:59Z", &ms), PW_OK);
	assert_int_equal(import_settings_init(&s, "UTC", ms), PW_OK);
	assert_int_equal(s.max_model_year, 2025);
	assert_int_equal(import_settings_init(&s, "Asia/Tokyo", ms), PW_OK);
	assert_int_equal(s.tz_offset_s, 32400);
	assert_int_equal(s.max_model_year, 2026); /* already 2025 in Tokyo */
	assert_int_equal(clock_parse_iso8601("2025-01-01T00:00:00Z", &ms), PW_OK);
	assert_int_equal(import_settings_init(&s, "UTC", ms), PW_OK);
	assert_int_equal(s.max_model_year, 2026);
	assert_int_equal(import_settings_init(&s, "America/New_York", ms), PW_EINVAL);
}

/* ---- field checks at their boundaries ---- */

static const char *const good[IMPORT__KINDS][IMPORT_COLUMNS_MAX] = {
    [IMPORT_ADVISORS] = {"A01", "李娜", "1"},
    [IMPORT_CUSTOMERS] = {"C1", "张三", "M", "13800138000", "regular", "", "yes"},
    [IMPORT_VEHICLES] = {VIN1, "鲁A9QHFG", "", "大众", "朗逸", "2025", "2024-05-21", "17"},
    [IMPORT_APPOINTMENTS] = {"AP1", VIN1, "2026-11-23T16:00", "首保", ""},
    [IMPORT_POLICIES] = {"P1", VIN1, "中国人保", "compulsory", "2027-05-21"},
    [IMPORT_SERVICES] = {"S1", VIN1, "2024-10-30", "7720", "first_service"},
};

struct field_case {
	enum import_kind kind;
	int col;
	const char *value;
	int ok;
	const char *why; /* part of the message when not ok */
};

static char id64[65], id65[66], text128[3 * 128 + 1], text129[3 * 129 + 1];

static void fill_long_values(void)
{
	memset(id64, 'a', 64);
	memset(id65, 'a', 65);
	for (int i = 0; i < 129; i++) {
		if (i < 128)
			memcpy(text128 + 3 * i, "李", 3);
		memcpy(text129 + 3 * i, "李", 3);
	}
}

static int check_one(enum import_kind kind, int col, const char *value, struct import_values *v,
                     struct import_report *rep)
{
	const char *fields[IMPORT_COLUMNS_MAX];
	int n = 0;

	import_kind_columns(kind, &n);
	memcpy(fields, good[kind], sizeof(fields));
	if (col >= 0)
		fields[col] = value;
	import_report_init(rep, "t.csv");
	return import_check_row(&shanghai, kind, fields, n, 7, v, rep);
}

static void test_good_rows(void **unused)
{
	struct import_values v;
	struct import_report rep;

	(void)unused;
	for (int k = 0; k < IMPORT__KINDS; k++) {
		assert_int_equal(check_one((enum import_kind)k, -1, NULL, &v, &rep), PW_OK);
		assert_int_equal(rep.errors, 0);
	}
	/* typed values */
	check_one(IMPORT_CUSTOMERS, -1, NULL, &v, &rep);
	assert_null(v.text[5]); /* empty advisor -> NULL */
	assert_int_equal(v.num[6], 1);
	check_one(IMPORT_CUSTOMERS, 6, "no", &v, &rep);
	assert_int_equal(v.num[6], 0);
	check_one(IMPORT_VEHICLES, 1, "鲁a9qhfg", &v, &rep);
	assert_string_equal(v.text[1], "鲁A9QHFG"); /* plates upper-cased */
	assert_int_equal(v.num[5], 2025);
	assert_true(v.km[7] == 17.0);
	check_one(IMPORT_SERVICES, 3, "7720.5", &v, &rep);
	assert_true(v.km[3] == 7720.5);
	/* wrong field count */
	{
		const char *f[2] = {"A01", "x"};

		import_report_init(&rep, "t.csv");
		assert_int_equal(import_check_row(&shanghai, IMPORT_ADVISORS, f, 2, 3, &v, &rep),
		                 PW_EINVAL);
		assert_int_equal(rep.errors, 1);
		assert_string_equal(rep.error[0].why, "2 fields, expected 3");
	}
}

static void test_field_boundaries(void **unused)
{
	const struct field_case cases[] = {
	    /* ids: 1-64 printable ASCII without spaces */
	    {IMPORT_ADVISORS, 0, id64, 1, NULL},
	    {IMPORT_ADVISORS, 0, id65, 0, "printable ASCII"},
	    {IMPORT_ADVISORS, 0, "", 0, "printable ASCII"},
	    {IMPORT_ADVISORS, 0, "A 1", 0, "without spaces"},
	    {IMPORT_ADVISORS, 0, "顾问1", 0, "ASCII"},
	    {IMPORT_ADVISORS, 0, "A\t1", 0, "ASCII"},
	    {IMPORT_ADVISORS, 0, "P100000-J~!", 1, NULL},
	    /* text: 1-128 characters, no control characters */
	    {IMPORT_ADVISORS, 1, text128, 1, NULL},
	    {IMPORT_ADVISORS, 1, text129, 0, "longer than 128 characters"},
	    {IMPORT_ADVISORS, 1, "", 0, "empty"},
	    {IMPORT_ADVISORS, 1, "   ", 0, "empty"},
	    {IMPORT_ADVISORS, 1, "Li, Na", 1, NULL},
	    {IMPORT_ADVISORS, 1, "Li\nNa", 0, "control character"},
	    {IMPORT_ADVISORS, 1, "Li\x7FNa", 0, "control character"},
	    {IMPORT_ADVISORS, 1, "Li\xC2\x85Na", 0, "control character"}, /* U+0085 NEL */
	    {IMPORT_ADVISORS, 1, "Li\xC0Na", 0, "UTF-8"},
	    /* desk: 1-16 characters */
	    {IMPORT_ADVISORS, 2, "1234567890123456", 1, NULL},
	    {IMPORT_ADVISORS, 2, "12345678901234567", 0, "longer than 16"},
	    {IMPORT_ADVISORS, 2, "", 0, "empty"},
	    {IMPORT_ADVISORS, 2, "三号台", 1, NULL},
	    /* gender, phone, tier, consent, advisor reference */
	    {IMPORT_CUSTOMERS, 2, "F", 1, NULL},
	    {IMPORT_CUSTOMERS, 2, "-", 1, NULL},
	    {IMPORT_CUSTOMERS, 2, "m", 0, "M, F or -"},
	    {IMPORT_CUSTOMERS, 2, "", 0, "M, F or -"},
	    {IMPORT_CUSTOMERS, 3, "12345", 1, NULL},
	    {IMPORT_CUSTOMERS, 3, "1234", 0, "5-20 digits"},
	    {IMPORT_CUSTOMERS, 3, "12345678901234567890", 1, NULL},
	    {IMPORT_CUSTOMERS, 3, "123456789012345678901", 0, "5-20 digits"},
	    {IMPORT_CUSTOMERS, 3, "+8613800138000", 1, NULL},
	    {IMPORT_CUSTOMERS, 3, "+", 0, "5-20 digits"},
	    {IMPORT_CUSTOMERS, 3, "++8613800138000", 0, "5-20 digits"},
	    {IMPORT_CUSTOMERS, 3, "138-0013-8000", 0, "5-20 digits"},
	    {IMPORT_CUSTOMERS, 3, "138 0013 8000", 0, "5-20 digits"},
	    {IMPORT_CUSTOMERS, 3, "", 0, "5-20 digits"},
	    {IMPORT_CUSTOMERS, 4, "platinum", 1, NULL},
	    {IMPORT_CUSTOMERS, 4, "diamond", 1, NULL},
	    {IMPORT_CUSTOMERS, 4, "vip", 1, NULL},
	    {IMPORT_CUSTOMERS, 4, "VIP", 0, "regular, platinum, diamond, vip"},
	    {IMPORT_CUSTOMERS, 4, "gold", 0, "expected one of"},
	    {IMPORT_CUSTOMERS, 5, "A01", 1, NULL},
	    {IMPORT_CUSTOMERS, 5, "A 01", 0, "ASCII"},
	    {IMPORT_CUSTOMERS, 6, "Yes", 0, "yes or no"},
	    {IMPORT_CUSTOMERS, 6, "", 0, "yes or no"},
	    {IMPORT_CUSTOMERS, 6, "1", 0, "yes or no"},
	    /* VINs: characters, length, check digit */
	    {IMPORT_VEHICLES, 0, "LSVCA2114M410000", 0, "16 characters, a VIN has 17"},
	    {IMPORT_VEHICLES, 0, "LSVCA2114M41000000", 0, "18 characters"},
	    {IMPORT_VEHICLES, 0, "LSVCA2115M4100000", 0,
	     "check digit (9th character) is '5', "
	     "should be '4'"},
	    {IMPORT_VEHICLES, 0, "LSVCA2114M41O0000", 0, "'O'"},
	    {IMPORT_VEHICLES, 0, "LSVCA2114M4I00000", 0, "'I'"},
	    {IMPORT_VEHICLES, 0, "LSVCA2114M4Q00000", 0, "'Q'"},
	    {IMPORT_VEHICLES, 0, "lsvca2114m4100000", 0, "upper case"},
	    {IMPORT_VEHICLES, 0, "LSVCA2114M4-00000", 0, "character 12"},
	    {IMPORT_VEHICLES, 0, "", 0, "empty"},
	    {IMPORT_VEHICLES, 0, "1M8GDM9AXKP042788", 1, NULL}, /* check digit X */
	    /* plates */
	    {IMPORT_VEHICLES, 1, "鲁A12345", 1, NULL},
	    {IMPORT_VEHICLES, 1, "鲁AD12345", 1, NULL}, /* new-energy */
	    {IMPORT_VEHICLES, 1, "京B1234", 0, "5 characters after"},
	    {IMPORT_VEHICLES, 1, "京B1234567", 0, "5 characters after"},
	    {IMPORT_VEHICLES, 1, "粤B12I45", 0, "I and O"},
	    {IMPORT_VEHICLES, 1, "粤Z1234港", 1, NULL}, /* Hong Kong cross-border: "other" */
	    {IMPORT_VEHICLES, 1, "WJ01-12345", 1, NULL},
	    {IMPORT_VEHICLES, 1, "AB", 1, NULL},
	    {IMPORT_VEHICLES, 1, "A", 0, "fewer than 2"},
	    {IMPORT_VEHICLES, 1, "ABCDEFGHJKLM", 1, NULL},
	    {IMPORT_VEHICLES, 1, "ABCDEFGHJKLMN", 0, "more than 12"},
	    {IMPORT_VEHICLES, 1, "鲁A·12345", 0, "no spaces or dots"},
	    {IMPORT_VEHICLES, 1, "鲁A 12345", 0, "no spaces or dots"},
	    {IMPORT_VEHICLES, 1, "", 0, "empty"},
	    /* model year 1950 .. next year */
	    {IMPORT_VEHICLES, 5, "1950", 1, NULL},
	    {IMPORT_VEHICLES, 5, "1949", 0, "between 1950 and 2027"},
	    {IMPORT_VEHICLES, 5, "2027", 1, NULL},
	    {IMPORT_VEHICLES, 5, "2028", 0, "between 1950 and 2027"},
	    {IMPORT_VEHICLES, 5, "25", 0, "YYYY"},
	    {IMPORT_VEHICLES, 5, "2025.0", 0, "YYYY"},
	    /* dates: real, from 1950 */
	    {IMPORT_VEHICLES, 6, "1950-01-01", 1, NULL},
	    {IMPORT_VEHICLES, 6, "1949-12-31", 0, "before 1950"},
	    {IMPORT_VEHICLES, 6, "2024-02-29", 1, NULL},
	    {IMPORT_VEHICLES, 6, "2023-02-29", 0, "not a real date"},
	    {IMPORT_VEHICLES, 6, "2024-04-31", 0, "not a real date"},
	    {IMPORT_VEHICLES, 6, "2024-13-01", 0, "not a real date"},
	    {IMPORT_VEHICLES, 6, "2024-00-10", 0, "not a real date"},
	    {IMPORT_VEHICLES, 6, "2024/05/21", 0, "YYYY-MM-DD"},
	    {IMPORT_VEHICLES, 6, "2024-5-21", 0, "YYYY-MM-DD"},
	    {IMPORT_VEHICLES, 6, "2024-05-21T00:00", 0, "YYYY-MM-DD"},
	    {IMPORT_VEHICLES, 6, "", 0, "YYYY-MM-DD"},
	    /* km >= 0, at most 2,000,000 */
	    {IMPORT_VEHICLES, 7, "0", 1, NULL},
	    {IMPORT_VEHICLES, 7, "0.0", 1, NULL},
	    {IMPORT_VEHICLES, 7, "2000000", 1, NULL},
	    {IMPORT_VEHICLES, 7, "2000000.1", 0, "more than 2000000"},
	    {IMPORT_VEHICLES, 7, "99999999999999999999", 0, "more than 2000000"},
	    {IMPORT_VEHICLES, 7, "-1", 0, "0 or more"},
	    {IMPORT_VEHICLES, 7, "-0", 0, "0 or more"},
	    {IMPORT_VEHICLES, 7, "1e3", 0, "not a number"},
	    {IMPORT_VEHICLES, 7, "1.", 0, "not a number"},
	    {IMPORT_VEHICLES, 7, ".5", 0, "not a number"},
	    {IMPORT_VEHICLES, 7, "+5", 0, "not a number"},
	    {IMPORT_VEHICLES, 7, " 5", 0, "not a number"},
	    {IMPORT_VEHICLES, 7, "1,000", 0, "not a number"},
	    {IMPORT_VEHICLES, 7, "", 0, "not a number"},
	    {IMPORT_VEHICLES, 7, "nan", 0, "not a number"},
	    {IMPORT_VEHICLES, 2, "C00001", 1, NULL},
	    /* appointments: local times */
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23T00:00", 1, NULL},
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23T23:59", 1, NULL},
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23T24:00", 0, "not a real date and time"},
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23T08:60", 0, "not a real date and time"},
	    {IMPORT_APPOINTMENTS, 2, "2026-02-29T08:00", 0, "not a real date and time"},
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23 08:00", 0, "YYYY-MM-DDTHH:MM"},
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23T08:00:00", 0, "YYYY-MM-DDTHH:MM"},
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23T08:00Z", 0, "YYYY-MM-DDTHH:MM"},
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23T08:00+08:00", 0, "YYYY-MM-DDTHH:MM"},
	    {IMPORT_APPOINTMENTS, 2, "2026-11-23T8:00", 0, "YYYY-MM-DDTHH:MM"},
	    {IMPORT_APPOINTMENTS, 2, "1949-12-31T23:59", 0, "before 1950"},
	    {IMPORT_APPOINTMENTS, 3, "", 0, "empty"},
	    {IMPORT_APPOINTMENTS, 4, "A01", 1, NULL},
	    {IMPORT_APPOINTMENTS, 1, "LSVCA2114M410000", 0, "a VIN has 17"},
	    {IMPORT_APPOINTMENTS, 1, "", 0, "empty"},
	    /* policies and services: enums, dates, km */
	    {IMPORT_POLICIES, 3, "commercial", 1, NULL},
	    {IMPORT_POLICIES, 3, "liability", 0, "compulsory, commercial"},
	    {IMPORT_POLICIES, 4, "2027-02-29", 0, "not a real date"},
	    {IMPORT_POLICIES, 2, "", 0, "empty"},
	    {IMPORT_SERVICES, 4, "maintenance", 1, NULL},
	    {IMPORT_SERVICES, 4, "repair", 1, NULL},
	    {IMPORT_SERVICES, 4, "other", 1, NULL},
	    {IMPORT_SERVICES, 4, "first-service", 0, "first_service, maintenance, repair, other"},
	    {IMPORT_SERVICES, 3, "-100", 0, "0 or more"},
	    {IMPORT_SERVICES, 2, "2024-10-32", 0, "not a real date"},
	    {IMPORT_SERVICES, 1, "LSVCA2114M4100001", 0, "check digit"},
	};
	struct import_values v;
	struct import_report rep;

	(void)unused;
	fill_long_values();
	for (size_t i = 0; i < PW_ARRAY_LEN(cases); i++) {
		const struct field_case *c = &cases[i];
		const char *const *cols = import_kind_columns(c->kind, NULL);
		int rc = check_one(c->kind, c->col, c->value, &v, &rep);

		if (c->ok) {
			if (rc != PW_OK)
				fail_msg("case %zu (%s %s=%.20s): rejected: %s", i,
				         import_kind_name(c->kind), cols[c->col], c->value,
				         rep.error[0].why);
			continue;
		}
		if (rc != PW_EINVAL || rep.errors != 1)
			fail_msg("case %zu (%s %s=%.20s): accepted or %ld errors", i,
			         import_kind_name(c->kind), cols[c->col], c->value, rep.errors);
		assert_int_equal(rep.error[0].line, 7);
		assert_string_equal(rep.error[0].column, cols[c->col]);
		if (!strstr(rep.error[0].why, c->why))
			fail_msg("case %zu (%s): '%s' lacks '%s'", i, cols[c->col],
			         rep.error[0].why, c->why);
		assert_true(v.bad & (1u << c->col));
	}
}

static void test_start_ms(void **unused)
{
	struct import_settings tokyo = {.tz_offset_s = 32400, .max_model_year = 2027};
	const char *f[5] = {"AP1", VIN1, "2026-11-23T08:00", "首保", ""};
	struct import_values v;
	struct import_report rep;
	int64_t want;

	(void)unused;
	import_report_init(&rep, "t.csv");
	assert_int_equal(import_check_row(&shanghai, IMPORT_APPOINTMENTS, f, 5, 2, &v, &rep),
	                 PW_OK);
	assert_int_equal(clock_parse_iso8601("2026-11-23T00:00:00Z", &want), PW_OK);
	assert_int_equal(v.start_ms, want);
	assert_string_equal(v.text[2], "2026-11-23T08:00"); /* kept as written */
	assert_int_equal(import_check_row(&tokyo, IMPORT_APPOINTMENTS, f, 5, 2, &v, &rep), PW_OK);
	assert_int_equal(clock_parse_iso8601("2026-11-22T23:00:00Z", &want), PW_OK);
	assert_int_equal(v.start_ms, want);
	/* 00:01 local is the previous day in UTC */
	f[2] = "2026-01-01T00:01";
	assert_int_equal(import_check_row(&shanghai, IMPORT_APPOINTMENTS, f, 5, 2, &v, &rep),
	                 PW_OK);
	assert_int_equal(clock_parse_iso8601("2025-12-31T16:01:00Z", &want), PW_OK);
	assert_int_equal(v.start_ms, want);
}

static void test_every_bad_field_reported(void **unused)
{
	const char *f[8] = {"LSVCA2114M41000", "鲁A1234", "C 1", "", "x", "1949",
	                    "2024-02-30",      "-1"};
	struct import_values v;
	struct import_report rep;

	(void)unused;
	import_report_init(&rep, "v.csv");
	assert_int_equal(import_check_row(&shanghai, IMPORT_VEHICLES, f, 8, 4, &v, &rep),
	                 PW_EINVAL);
	assert_int_equal(rep.errors, 7); /* all but model */
	assert_int_equal(v.bad, 0xFFu & ~(1u << 4));
}

/* ---- whole files ---- */

static void test_sample_dealership(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *table;
		long rows;
	} counts[IMPORT__KINDS] = {{"advisor", 6},      {"customer", 400}, {"vehicle", 450},
	                           {"appointment", 50}, {"policy", 801},   {"service_visit", 2098}};
	char sql[128], buf[128], *before, *after;

	for (int k = 0; k < IMPORT__KINDS; k++) {
		long rows = sample_rows((enum import_kind)k);

		assert_int_equal(rows, counts[k].rows); /* the files are what the brief says */
		if (import_sample(f, (enum import_kind)k) != PW_OK)
			fail_msg("%s: %s", import_kind_name((enum import_kind)k),
			         f->rep.error[0].why);
		assert_int_equal(f->rep.rows, rows);
		assert_int_equal(f->rep.inserted, rows);
		assert_int_equal(f->rep.updated, 0);
		assert_int_equal(f->rep.errors, 0);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", counts[k].table);
		assert_int_equal(query_int(f->db, sql), rows);
	}
	/* spot checks */
	assert_string_equal(
	    query_text(f->db, "SELECT plate FROM vehicle WHERE vin = '" VIN1 "'", buf, sizeof(buf)),
	    "鲁A9QHFG");
	assert_int_equal(query_int(f->db, "SELECT start_ms FROM appointment "
	                                  "WHERE appointment_id = 'AP112301'"),
	                 1795420800000LL); /* 2026-11-23T16:00 +08:00 */
	assert_int_equal(
	    query_int(f->db, "SELECT count(*) FROM customer WHERE display_consent = 0"), 58);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM vehicle WHERE length(plate) = 8"),
	                 55); /* new-energy plates */

	/* re-import: every row updated, nothing changes */
	before = dump(f->db);
	for (int k = 0; k < IMPORT__KINDS; k++) {
		assert_int_equal(import_sample(f, (enum import_kind)k), PW_OK);
		assert_int_equal(f->rep.inserted, 0);
		assert_int_equal(f->rep.updated, counts[k].rows);
	}
	after = dump(f->db);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void test_upsert_updates(void **state)
{
	struct fx *f = *state;
	char buf[64];

	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,name,desk\nA01,李娜,1\nA02,王强,2\n"),
	                 PW_OK);
	assert_int_equal(f->rep.inserted, 2);
	assert_int_equal(run(f, IMPORT_CUSTOMERS,
	                     "customer_id,name,gender,phone,tier,advisor_id,display_consent\n"
	                     "C1,张三,M,13800138000,regular,A01,yes\n"),
	                 PW_OK);
	assert_int_equal(
	    run(f, IMPORT_ADVISORS, "advisor_id,name,desk\nA01,李娜娜,7\nA03,赵敏,3\n"), PW_OK);
	assert_int_equal(f->rep.inserted, 1);
	assert_int_equal(f->rep.updated, 1);
	assert_string_equal(
	    query_text(f->db, "SELECT name || '/' || desk FROM advisor WHERE advisor_id = 'A01'",
	               buf, sizeof(buf)),
	    "李娜娜/7");
	/* an update of a referenced advisor keeps its customers (no delete+insert) */
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM customer WHERE advisor_id = 'A01'"),
	                 1);
	/* a customer's advisor cleared with an empty field */
	assert_int_equal(run(f, IMPORT_CUSTOMERS,
	                     "customer_id,name,gender,phone,tier,advisor_id,display_consent\n"
	                     "C1,张三,M,13800138000,vip,,no\n"),
	                 PW_OK);
	assert_int_equal(f->rep.updated, 1);
	assert_int_equal(query_int(f->db,
	                           "SELECT count(*) FROM customer WHERE advisor_id IS NULL AND "
	                           "tier = 'vip' AND display_consent = 0"),
	                 1);
}

/* Advisors A01, A02; customers C1, C2; vehicles VIN1 (鲁A11111), VIN2. */
static void seed(struct fx *f)
{
	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,name,desk\nA01,李娜,1\nA02,王强,2\n"),
	                 PW_OK);
	assert_int_equal(run(f, IMPORT_CUSTOMERS,
	                     "customer_id,name,gender,phone,tier,advisor_id,display_consent\n"
	                     "C1,张三,M,13800138000,regular,A01,yes\n"
	                     "C2,欧阳娜,F,+8613900139000,vip,A02,no\n"),
	                 PW_OK);
	assert_int_equal(run(f, IMPORT_VEHICLES,
	                     "vin,plate,customer_id,brand,model,model_year,purchase_date,"
	                     "purchase_odometer_km\n" VIN1
	                     ",鲁A11111,C1,大众,朗逸,2025,2024-05-21,17\n" VIN2
	                     ",鲁A22222,C2,大众,速腾,2024,2024-02-20,8\n"),
	                 PW_OK);
}

static void test_rollback_on_any_bad_row(void **state)
{
	struct fx *f = *state;
	char *before, *after;

	seed(f);
	before = dump(f->db);
	/* good rows first, one bad row last: nothing of the file is kept */
	assert_int_equal(run(f, IMPORT_SERVICES,
	                     "service_id,vin,date,odometer_km,kind\n"
	                     "S1," VIN1 ",2024-10-30,7720,first_service\n"
	                     "S2," VIN2 ",2024-11-30,5000,first_service\n"
	                     "S3," VIN2 ",2025-11-31,15000,maintenance\n"),
	                 PW_EINVAL);
	assert_int_equal(f->rep.errors, 1);
	assert_int_equal(f->rep.bad_lines, 1);
	expect_error(&f->rep, 4, "date", "not a real date");
	/* updates of existing rows are rolled back too */
	assert_int_equal(
	    run(f, IMPORT_ADVISORS, "advisor_id,name,desk\nA01,改名,9\nA09,新人,9\nA10,,9\n"),
	    PW_EINVAL);
	expect_error(&f->rep, 4, "name", "empty");
	after = dump(f->db);
	assert_string_equal(before, after);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM service_visit"), 0);
	assert_true(sqlite3_get_autocommit(f->db)); /* no transaction left open */
	free(before);
	free(after);
}

static void test_references_and_order(void **state)
{
	struct fx *f = *state;

	/* vehicles before customers: a clear error naming the order */
	assert_int_equal(run(f, IMPORT_VEHICLES,
	                     "vin,plate,customer_id,brand,model,model_year,purchase_date,"
	                     "purchase_odometer_km\n" VIN1
	                     ",鲁A11111,C1,大众,朗逸,2025,2024-05-21,17\n"),
	                 PW_EINVAL);
	expect_error(&f->rep, 2, "customer_id",
	             "no such customer (import customers before vehicles)");
	seed(f);
	assert_int_equal(run(f, IMPORT_APPOINTMENTS,
	                     "appointment_id,vin,start,service,advisor_id\n"
	                     "AP1," VIN1 ",2026-11-23T16:00,首保,A01\n"
	                     "AP2," VIN3 ",2026-11-23T16:00,首保,A09\n"
	                     "AP3," VIN2 ",2026-11-23T16:30,保养,\n"),
	                 PW_EINVAL);
	expect_error(&f->rep, 3, "vin", "no such vehicle (import vehicles before appointments)");
	expect_error(&f->rep, 3, "advisor_id", "no such advisor");
	assert_int_equal(f->rep.errors, 2);
	assert_int_equal(run(f, IMPORT_POLICIES,
	                     "policy_id,vin,insurer,kind,expiry_date\nP1," VIN3
	                     ",中国人保,compulsory,2027-01-01\n"),
	                 PW_EINVAL);
	expect_error(&f->rep, 2, "vin", "no such vehicle");
	assert_int_equal(run(f, IMPORT_CUSTOMERS,
	                     "customer_id,name,gender,phone,tier,advisor_id,display_consent\n"
	                     "C3,王五,M,13800138000,regular,A99,yes\n"),
	                 PW_EINVAL);
	expect_error(&f->rep, 2, "advisor_id", "\"A99\": no such advisor");
	/* and good references import */
	assert_int_equal(run(f, IMPORT_APPOINTMENTS,
	                     "appointment_id,vin,start,service,advisor_id\n"
	                     "AP1," VIN1 ",2026-11-23T16:00,首保,A01\n"
	                     "AP3," VIN2 ",2026-11-23T16:30,保养,\n"),
	                 PW_OK);
	assert_int_equal(
	    query_int(f->db, "SELECT count(*) FROM appointment WHERE advisor_id IS NULL"), 1);
}

static void test_duplicates(void **state)
{
	struct fx *f = *state;
	static const char head[] = "vin,plate,customer_id,brand,model,model_year,purchase_date,"
	                           "purchase_odometer_km\n";
	char csv[1024];

	seed(f);
	/* a new car with a plate the database gives to another car */
	snprintf(csv, sizeof(csv), "%s%s,鲁A11111,C1,大众,探岳,2022,2022-11-27,11\n", head, VIN3);
	assert_int_equal(run(f, IMPORT_VEHICLES, csv), PW_EINVAL);
	expect_error(&f->rep, 2, "plate", "\"鲁A11111\": already the plate of vehicle " VIN1);
	/* the same, spelled in lower case: plates are compared upper-cased */
	snprintf(csv, sizeof(csv), "%s%s,鲁a11111,C1,大众,探岳,2022,2022-11-27,11\n", head, VIN3);
	assert_int_equal(run(f, IMPORT_VEHICLES, csv), PW_EINVAL);
	/* two cars with one plate in the file: said once, with the other line */
	snprintf(csv, sizeof(csv),
	         "%s%s,鲁A33333,C1,大众,探岳,2022,2022-11-27,11\n"
	         "%s,鲁A33333,C2,大众,速腾,2024,2024-02-20,8\n",
	         head, VIN3, VIN2);
	assert_int_equal(run(f, IMPORT_VEHICLES, csv), PW_EINVAL);
	expect_error(&f->rep, 3, "plate", "\"鲁A33333\": also on line 2");
	assert_int_equal(f->rep.errors, 1);
	/* an id twice in the file */
	assert_int_equal(run(f, IMPORT_SERVICES,
	                     "service_id,vin,date,odometer_km,kind\n"
	                     "S1," VIN1 ",2024-10-30,7720,first_service\n"
	                     "S1," VIN1 ",2025-10-30,17720,maintenance\n"),
	                 PW_EINVAL);
	expect_error(&f->rep, 3, "service_id", "\"S1\": also on line 2");
	/* a plate moving to another car, given up first in the same file: fine */
	snprintf(csv, sizeof(csv),
	         "%s%s,鲁A99999,C1,大众,朗逸,2025,2024-05-21,17\n"
	         "%s,鲁A11111,C1,大众,探岳,2022,2022-11-27,11\n",
	         head, VIN1, VIN3);
	assert_int_equal(run(f, IMPORT_VEHICLES, csv), PW_OK);
	assert_int_equal(f->rep.inserted, 1);
	assert_int_equal(f->rep.updated, 1);
	/* a car keeping its own plate is no conflict */
	snprintf(csv, sizeof(csv), "%s%s,鲁A11111,C2,大众,探岳,2023,2022-11-27,11\n", head, VIN3);
	assert_int_equal(run(f, IMPORT_VEHICLES, csv), PW_OK);
	/* the maps are per file: the same id in the next file is an update */
	assert_int_equal(run(f, IMPORT_VEHICLES, csv), PW_OK);
	assert_int_equal(f->rep.updated, 1);
}

static void test_headers(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,name\nA01,李娜\n"), PW_EINVAL);
	expect_error(&f->rep, 1, "desk", "missing from the header");
	expect_error(&f->rep, 1, "", "header: expected advisor_id,name,desk");
	assert_int_equal(f->rep.rows, 0); /* rows are not read under a bad header */
	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,name,desk,floor\n"), PW_EINVAL);
	expect_error(&f->rep, 1, "", "header: unexpected column \"floor\"");
	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,desk,name\n"), PW_EINVAL);
	expect_error(&f->rep, 1, "", "columns out of order, expected advisor_id,name,desk");
	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,name,name\n"), PW_EINVAL);
	expect_error(&f->rep, 1, "desk", "missing");
	expect_error(&f->rep, 1, "name", "twice");
	assert_int_equal(run(f, IMPORT_ADVISORS, "Advisor_ID,name,desk\n"), PW_EINVAL);
	expect_error(&f->rep, 1, "", "unexpected column \"Advisor_ID\"");
	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,name,desk \n"), PW_EINVAL);
	expect_error(&f->rep, 1, "", "unexpected column \"desk \"");
	/* another kind's file */
	assert_int_equal(run(f, IMPORT_VEHICLES, "advisor_id,name,desk\nA01,李娜,1\n"), PW_EINVAL);
	expect_error(&f->rep, 1, "vin", "missing");
	/* empty files */
	assert_int_equal(run(f, IMPORT_ADVISORS, ""), PW_EINVAL);
	expect_error(&f->rep, 1, "", "empty file: expected the header row advisor_id,name,desk");
	assert_int_equal(run(f, IMPORT_ADVISORS, "\xEF\xBB\xBF\r\n"), PW_EINVAL);
	expect_error(&f->rep, 1, "", "empty file");
	/* a bad header line */
	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,\"name,desk\n"), PW_EINVAL);
	expect_error(&f->rep, 1, "", "header: quote opened here is never closed");
	/* BOM, CRLF, header only: fine, nothing to import */
	assert_int_equal(run(f, IMPORT_ADVISORS,
	                     "\xEF\xBB\xBF"
	                     "advisor_id,name,desk\r\n"),
	                 PW_OK);
	assert_int_equal(f->rep.rows, 0);
}

static void test_reader_errors_in_rows(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, IMPORT_ADVISORS,
	                     "advisor_id,name,desk\n"
	                     "A01,\xC0\xEE\xC4\xC8,1\n" /* 李娜 in GBK */
	                     "A02,\"王\nstrong\",2\n"   /* a line break in a name */
	                     "A03,赵敏\n"               /* a column short */
	                     "A04,孙浩,4,extra\n"       /* one too many */
	                     "A05,\"周\"静,5\n"         /* text after a quote */
	                     "A06,吴涛,6\n"),
	                 PW_EINVAL);
	expect_error(&f->rep, 2, "", "invalid UTF-8 (byte 0xC0) in field 2");
	expect_error(&f->rep, 3, "name", "control character");
	expect_error(&f->rep, 5, "", "2 fields, expected 3");
	expect_error(&f->rep, 6, "", "4 fields, expected 3");
	expect_error(&f->rep, 7, "", "text after the closing quote");
	assert_int_equal(f->rep.rows, 6);
	assert_int_equal(f->rep.bad_lines, 5);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM advisor"), 0);
}

static void test_error_cap_and_format(void **state)
{
	struct fx *f = *state;
	size_t cap = 8192, at = 0;
	char *csv = malloc(cap), line[512];

	assert_non_null(csv);
	at += (size_t)snprintf(csv, cap, "advisor_id,name,desk\n");
	for (int i = 0; i < 60; i++)
		at += (size_t)snprintf(csv + at, cap - at, "A%02d,名字,\n", i);
	assert_int_equal(run(f, IMPORT_ADVISORS, csv), PW_EINVAL);
	assert_int_equal(f->rep.errors, 60);
	assert_int_equal(f->rep.bad_lines, 60);
	assert_int_equal(f->rep.n_kept, IMPORT_ERRORS_MAX);
	import_error_format(&f->rep, 0, line, sizeof(line));
	assert_string_equal(line, "t.csv:2: column desk: \"\": empty");
	import_error_format(&f->rep, 49, line, sizeof(line));
	assert_string_equal(line, "t.csv:51: column desk: \"\": empty");
	import_error_format(&f->rep, 50, line, sizeof(line)); /* not kept */
	assert_string_equal(line, "");
	/* messages quote values safely and briefly */
	assert_int_equal(run(f, IMPORT_ADVISORS,
	                     "advisor_id,name,desk\n"
	                     "\"A \"\"1\",x,1\n"
	                     "A2,x,\"1234567890123456789012345678901234567890123456789012345\"\n"),
	                 PW_EINVAL);
	import_error_format(&f->rep, 0, line, sizeof(line));
	assert_string_equal(line, "t.csv:2: column advisor_id: \"A \\\"1\": not 1-64 printable "
	                          "ASCII characters without spaces");
	import_error_format(&f->rep, 1, line, sizeof(line));
	assert_string_equal(line, "t.csv:3: column desk: "
	                          "\"123456789012345678901234567890123456789012345678...\": "
	                          "longer than 16 characters");
	/* a truncated buffer stays terminated */
	import_error_format(&f->rep, 1, line, 10);
	assert_string_equal(line, "t.csv:3: ");
	free(csv);
}

static void test_import_row_alone(void **state)
{
	struct fx *f = *state;
	struct import_report rep;
	const char *row[5] = {"AP9", VIN1, "2026-11-24T09:00", "常规保养", "A02"};
	char line[512];

	seed(f);
	import_report_init(&rep, "POST /api/appointments");
	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(import_row(f->im, IMPORT_APPOINTMENTS, row, 5, 0, &rep), PW_OK);
	assert_int_equal(rep.inserted, 1);
	row[2] = "2026-11-24T10:30";
	assert_int_equal(import_row(f->im, IMPORT_APPOINTMENTS, row, 5, 0, &rep), PW_OK);
	assert_int_equal(rep.updated, 1); /* no "also on line": single rows are not a file */
	assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(query_int(f->db, "SELECT start_ms FROM appointment "
	                                  "WHERE appointment_id = 'AP9'"),
	                 1795487400000LL); /* 2026-11-24T02:30Z */
	row[1] = VIN3;
	assert_int_equal(import_row(f->im, IMPORT_APPOINTMENTS, row, 5, 0, &rep), PW_EINVAL);
	import_error_format(&rep, 0, line, sizeof(line));
	assert_string_equal(line, "column vin: \"" VIN3 "\": no such vehicle (import vehicles "
	                          "before appointments)");
	/* a service visit, as POST /api/service-visits would */
	{
		const char *visit[5] = {"SV1", VIN2, "2026-11-23", "12345.5", "maintenance"};

		import_report_init(&rep, "POST /api/service-visits");
		assert_int_equal(import_row(f->im, IMPORT_SERVICES, visit, 5, 0, &rep), PW_OK);
		assert_int_equal(query_int(f->db, "SELECT count(*) FROM service_visit WHERE "
		                                  "odometer_km = 12345.5"),
		                 1);
		assert_int_equal(import_row(f->im, IMPORT_SERVICES, visit, 4, 0, &rep), PW_EINVAL);
		assert_int_equal(import_row(f->im, IMPORT__KINDS, visit, 5, 0, &rep), PW_EINVAL);
	}
}

static void test_busy_and_bad_kind(void **state)
{
	struct fx *f = *state;

	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,name,desk\nA01,李娜,1\n"), PW_EBUSY);
	assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(run(f, IMPORT__KINDS, "advisor_id,name,desk\n"), PW_EINVAL);
	assert_int_equal(run(f, IMPORT_ADVISORS, "advisor_id,name,desk\nA01,李娜,1\n"), PW_OK);
}

static void test_open_unmigrated(void **unused)
{
	sqlite3 *db = NULL;

	(void)unused;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_null(import_open(db, &shanghai)); /* no dealer tables: refused, logged */
	sqlite3_close(db);
	import_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kinds),
	    cmocka_unit_test(test_tz_table),
	    cmocka_unit_test(test_settings),
	    cmocka_unit_test(test_good_rows),
	    cmocka_unit_test(test_field_boundaries),
	    cmocka_unit_test(test_start_ms),
	    cmocka_unit_test(test_every_bad_field_reported),
	    cmocka_unit_test_setup_teardown(test_sample_dealership, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upsert_updates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_on_any_bad_row, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_references_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_errors_in_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_cap_and_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_row_alone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_busy_and_bad_kind, setup, teardown),
	    cmocka_unit_test(test_open_unmigrated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
