/*
 * csv — a streaming RFC 4180 reader over a buffer in memory: the dealer
 * data files of CONTRACT "Dealer data" (a DMS export).
 *
 * Pure: no I/O, no globals, no clock, so it is unit-tested and fuzzed alone.
 * Comma separated; fields optionally in double quotes, where "" is a quote
 * and commas and line breaks are data; records end in CRLF or LF (the last
 * one may end at the end of the buffer); a UTF-8 byte order mark at the very
 * start is skipped; every byte must be strict UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and no field may hold a NUL. Lines
 * with nothing on them are skipped, as Python's csv.DictReader does. Each
 * record carries the physical line (1-based) it starts on, and an error the
 * physical line its fault is on, so messages can point into the file.
 *
 * A record that breaks a rule is reported and skipped: reading goes on with
 * the next record, so one pass finds every bad line. An unterminated quote
 * swallows the rest of the input; it is reported once, then the input ends.
 *
 * Thread: any; a struct csv belongs to one caller. The buffer is borrowed
 * for the reader's life; records are copies (unquoted) held by the reader.
 */
#ifndef PW_CSV_H
#define PW_CSV_H

#include <stddef.h>
#include "pw.h"

#define CSV_FIELD_MAX   1024 /* default bytes in one field, after unquoting */
#define CSV_RECORD_MAX  8192 /* default bytes of one record as written */
#define CSV_COLUMNS_MAX 64   /* default fields in one record */
#define CSV_WHY_MAX     128

struct csv;

struct csv_limits {
	size_t field_max;  /* 0: CSV_FIELD_MAX */
	size_t record_max; /* 0: CSV_RECORD_MAX */
	int columns_max;   /* 0: CSV_COLUMNS_MAX */
};

/* One record, borrowed from the reader until the next csv_next() or
 * csv_free(). fields[i] is NUL-terminated (a field cannot hold a NUL) and
 * lens[i] its length in bytes. */
struct csv_record {
	long line; /* physical line the record starts on; for an error: the faulty line */
	int count; /* fields; 0 when the record was bad */
	const char *const *fields;
	const size_t *lens;
	char why[CSV_WHY_MAX]; /* on PW_EINVAL: "invalid UTF-8 (byte 0xC4)" */
};

/* A reader over buf[0..len) (borrowed; it need not be NUL-terminated).
 * `limits` may be NULL for the defaults. NULL when out of memory. */
struct csv *csv_new(const char *buf, size_t len, const struct csv_limits *limits);
void csv_free(struct csv *c);

/* Reads the next record into `rec`.
 *   PW_OK        a record: rec->line, rec->count, rec->fields
 *   PW_ENOTFOUND no records left
 *   PW_EINVAL    the record at rec->line breaks a rule, rec->why says which;
 *                it is skipped and the next call reads on after it
 *   PW_ENOMEM    out of memory (the reader can be freed, not used)
 * The first record of a file is its header: a buffer holding no record at
 * all (empty, only a BOM, only blank lines) gives PW_ENOTFOUND at once. */
int csv_next(struct csv *c, struct csv_record *rec);

/* Checks that buf[0..len) is strict UTF-8; returns the length of the valid
 * prefix (len when all of it is valid). */
size_t csv_utf8_valid_prefix(const char *buf, size_t len);

#endif
