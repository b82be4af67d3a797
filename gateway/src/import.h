/*
 * import — dealer data from the DMS (CONTRACT "Dealer data: CSV import"):
 * `pitwall import --db FILE KIND FILE.csv`, and the same row checks and
 * upserts for the API (POST /api/appointments, /api/service-visits).
 *
 * Three layers, each usable alone:
 *   import_check_row()  pure: one row's fields in the contract's column order
 *                       -> checked, typed values or errors naming the column;
 *   import_row()        that, plus the database checks (referenced ids exist,
 *                       a plate belongs to no other car) and the UPSERT, inside
 *                       the caller's transaction;
 *   import_csv()        a whole file: header, every row, one transaction,
 *                       committed only if no row is bad.
 * Errors are collected in a struct import_report (every one counted, the
 * first IMPORT_ERRORS_MAX kept) and read "FILE:LINE: column NAME: why".
 *
 * Thread: a struct import belongs to the thread that uses its connection;
 * the pure functions share nothing. Nothing reads TZ or the locale: local
 * times are converted with a fixed UTC offset per zone (import_tz_offset).
 */
#ifndef PW_IMPORT_H
#define PW_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "pw.h"

#define IMPORT_ERRORS_MAX  50         /* errors kept (and printed) per import */
#define IMPORT_COLUMNS_MAX 8          /* the widest kind (vehicles) */
#define IMPORT_FILE_MAX    (64 << 20) /* largest CSV file import_main reads */
#define IMPORT_ID_MAX      64         /* characters in an id */
#define IMPORT_TEXT_MAX    128        /* characters in a name, model, service ... */
#define IMPORT_DESK_MAX    16
#define IMPORT_YEAR_MIN    1950      /* earliest date, time or model year accepted */
#define IMPORT_KM_MAX      2000000.0 /* as the contract's odometer_km */

enum import_kind {
	IMPORT_ADVISORS = 0,
	IMPORT_CUSTOMERS,
	IMPORT_VEHICLES,
	IMPORT_APPOINTMENTS,
	IMPORT_POLICIES,
	IMPORT_SERVICES,
	IMPORT__KINDS
};

/* "advisors" ... "services" -> kind; PW_EINVAL for anything else. */
int import_kind_parse(const char *name, enum import_kind *out);
/* The kind's name as on the command line ("vehicles"); "?" if out of range. */
const char *import_kind_name(enum import_kind kind);
/* The kind's CSV columns in the contract's order (static strings);
 * *n = their number. NULL for a bad kind. */
const char *const *import_kind_columns(enum import_kind kind, int *n);

/* The UTC offset (seconds east) of an IANA zone without daylight saving
 * time, from a table in import.c ("Asia/Shanghai" -> 28800; "UTC",
 * "Etc/GMT-8" work too). PW_ENOTFOUND for a zone not in the table (zones
 * with DST are not supported: their offset depends on the date). The
 * current offset is used for every date: historical changes (China's DST of
 * 1986-1991, for one) are ignored. */
int import_tz_offset(const char *zone, int *offset_s);
/* The i-th zone of that table (tests compare it with the host's tz
 * database); NULL past the end. */
const char *import_tz_zone(size_t i);

/* What the checks depend on besides the row. */
struct import_settings {
	int tz_offset_s;    /* local times ("2026-11-23T08:30") are UTC + this */
	int max_model_year; /* newest model_year accepted */
};
/* Settings for the site zone `timezone` (NULL: "Asia/Shanghai") on the day
 * `now_ms`: model years up to next year. PW_EINVAL for an unsupported zone. */
int import_settings_init(struct import_settings *s, const char *timezone, int64_t now_ms);

struct import_error {
	long line;       /* 0: not from a file (an API request) */
	char column[32]; /* "" when the fault is not one column's (a ragged row) */
	char why[224];
};

struct import_report {
	const char *name; /* borrowed: the file name in messages ("vehicles.csv") */
	long rows;        /* data rows read, good and bad */
	long inserted;    /* rows whose id was new */
	long updated;     /* rows whose id existed: updated */
	long errors;      /* every error found, kept or not */
	long bad_lines;   /* rows (or the header) with at least one error */
	int n_kept;       /* error[0..n_kept) */
	struct import_error error[IMPORT_ERRORS_MAX];
};

/* Empties `rep`; `name` (borrowed) prefixes its messages. */
void import_report_init(struct import_report *rep, const char *name);
/* Error i as one line, "vehicles.csv:12: column vin: ..." (without the
 * "FILE:LINE: " part when the error has no line), into buf. */
void import_error_format(const struct import_report *rep, int i, char *buf, size_t len);

/* One row, checked and typed. Strings are borrowed from the fields given to
 * import_check_row (the plate is normalised into `plate`), so the fields
 * must outlive it; NULL text is SQL NULL (an empty optional reference). */
struct import_values {
	enum import_kind kind;
	const char *text[IMPORT_COLUMNS_MAX];
	int64_t num[IMPORT_COLUMNS_MAX]; /* model_year, display_consent (1/0) */
	double km[IMPORT_COLUMNS_MAX];   /* purchase_odometer_km, odometer_km */
	int64_t start_ms;                /* appointments: start in UTC ms */
	char plate[64];                  /* vehicles: upper-cased */
	unsigned bad;                    /* bit i: column i failed its check */
};

/* Checks one row of `kind`: fields[0..n) in the kind's column order (n must
 * be the kind's column count), NUL-terminated UTF-8. Every field is checked
 * and each bad one adds an error at `line` to `rep`. Pure: whether
 * referenced ids exist is import_row's job. PW_OK and `out` filled, or
 * PW_EINVAL. */
int import_check_row(const struct import_settings *s, enum import_kind kind,
                     const char *const *fields, int n, long line, struct import_values *out,
                     struct import_report *rep);

struct import;

/* An importer on `db` (borrowed; foreign_keys ON, migrated to 002 or
 * later): prepares its statements once. NULL on failure, logged. */
struct import *import_open(sqlite3 *db, const struct import_settings *s);
void import_close(struct import *im);

/* Checks one row (import_check_row), then that the ids it refers to exist
 * (an advisor, customer or vehicle, in the database as it is inside the
 * caller's transaction) and, for vehicles, that no other car has the plate;
 * then upserts it and counts it in rep->inserted or rep->updated. Does not
 * begin or commit: the caller's transaction decides. PW_EINVAL with errors
 * in `rep`, PW_EIO when the database fails (logged). */
int import_row(struct import *im, enum import_kind kind, const char *const *fields, int n,
               long line, struct import_report *rep);

/* Imports the CSV file buf[0..len) of `kind` named `name` in one
 * transaction: the header must be the kind's columns exactly; every row is
 * checked (also: an id or a plate twice in the file); if any error was
 * found nothing is kept. Resets `rep` first. PW_OK: committed; PW_EINVAL:
 * bad input, rolled back, see `rep`; PW_EBUSY: the connection is already
 * in a transaction; PW_EIO / PW_ENOMEM: rolled back, logged. */
int import_csv(struct import *im, enum import_kind kind, const char *name, const char *buf,
               size_t len, struct import_report *rep);

/* `pitwall import [--config FILE] [--db FILE] KIND FILE.csv`; argv[0] is
 * "import". Prints errors on stderr and a summary on stdout; returns the
 * exit status: 0 imported, 2 bad usage, config or input, 1 runtime failure. */
int import_main(int argc, char **argv);

#endif
