/*
 * csv — RFC 4180 records out of a buffer, with strict UTF-8 and size limits
 * (see csv.h for the rules). Pure: no I/O, no globals; any thread.
 *
 * One pass, one byte at a time, no backtracking: the reader keeps a cursor
 * and a physical line count into the borrowed buffer. A record's fields are
 * unquoted into one arena allocated once by csv_new() (record_max bytes plus
 * a NUL per field), so csv_next() never allocates and a record can never
 * outgrow it: bytes past a limit are not copied, they only make the record
 * bad. The first fault of a record is the one reported; the cursor still
 * runs to the record's end, so the next call starts cleanly on the next one.
 */
#include "csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csv {
	const unsigned char *p;
	size_t len;
	size_t pos;
	long line;
	struct csv_limits lim;
	/* the record being read */
	char *arena; /* lim.record_max + lim.columns_max + 1 bytes */
	size_t arena_cap;
	size_t used;
	size_t field_start; /* arena offset of the current field */
	int count;
	int bad; /* a fault was found in this record */
	long bad_line;
	char why[CSV_WHY_MAX];
	const char **fields;
	size_t *lens;
};

/* Length of the UTF-8 sequence at p (n bytes left), 0 if it is not valid.
 * Table 3-7 of the Unicode standard: no overlongs, no surrogates, nothing
 * above U+10FFFF, no truncated sequence. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return need;
}

size_t csv_utf8_valid_prefix(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_seq(p + i, len - i);

		if (!n)
			break;
		i += n;
	}
	return i;
}

struct csv *csv_new(const char *buf, size_t len, const struct csv_limits *limits)
{
	struct csv *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (limits)
		c->lim = *limits;
	if (!c->lim.field_max)
		c->lim.field_max = CSV_FIELD_MAX;
	if (!c->lim.record_max)
		c->lim.record_max = CSV_RECORD_MAX;
	if (c->lim.columns_max <= 0)
		c->lim.columns_max = CSV_COLUMNS_MAX;
	c->p = (const unsigned char *)buf;
	c->len = buf ? len : 0;
	c->line = 1;
	if (c->len >= 3 && c->p[0] == 0xEF && c->p[1] == 0xBB && c->p[2] == 0xBF)
		c->pos = 3;
	c->arena_cap = c->lim.record_max + (size_t)c->lim.columns_max + 1;
	c->arena = malloc(c->arena_cap);
	c->fields = calloc((size_t)c->lim.columns_max, sizeof(*c->fields));
	c->lens = calloc((size_t)c->lim.columns_max, sizeof(*c->lens));
	if (!c->arena || !c->fields || !c->lens) {
		csv_free(c);
		return NULL;
	}
	return c;
}

void csv_free(struct csv *c)
{
	if (!c)
		return;
	free(c->arena);
	free(c->fields);
	free(c->lens);
	free(c);
}

/* Marks the record bad (the first fault wins) at physical line `line`. */
__attribute__((format(printf, 3, 4))) static void fault(struct csv *c, long line, const char *fmt,
                                                        ...)
{
	va_list ap;

	if (c->bad)
		return;
	c->bad = 1;
	c->bad_line = line;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/* Appends n bytes to the current field, within the field and arena limits. */
static void append(struct csv *c, const unsigned char *s, size_t n)
{
	size_t field_len = c->used - c->field_start;

	if (c->bad)
		return; /* a bad record's fields are never handed out */
	if (field_len + n > c->lim.field_max) {
		fault(c, c->line, "field %d longer than %zu bytes", c->count + 1, c->lim.field_max);
		return;
	}
	if (c->used + n + 1 > c->arena_cap) {
		fault(c, c->line, "record longer than %zu bytes", c->lim.record_max);
		return;
	}
	memcpy(c->arena + c->used, s, n);
	c->used += n;
}

/* Copies one character of field data at the cursor (checking its UTF-8)
 * and moves past it. */
static void take_char(struct csv *c)
{
	const unsigned char *s = c->p + c->pos;
	size_t n;

	if (*s == '\0') {
		fault(c, c->line, "NUL byte in field %d", c->count + 1);
		c->pos++;
		return;
	}
	n = utf8_seq(s, c->len - c->pos);
	if (!n) {
		fault(c, c->line, "invalid UTF-8 (byte 0x%02X) in field %d; is the file UTF-8?", *s,
		      c->count + 1);
		c->pos++;
		return;
	}
	append(c, s, n);
	c->pos += n;
}

/* Ends the current field: NUL-terminates it and records where it is. */
static void end_field(struct csv *c)
{
	if (c->count >= c->lim.columns_max) {
		fault(c, c->line, "more than %d fields", c->lim.columns_max);
		c->count++;
		return;
	}
	if (!c->bad) {
		c->arena[c->used] = '\0';
		c->lens[c->count] = c->used - c->field_start;
		c->used++;
		c->field_start = c->used;
	}
	c->count++;
}

/* At a line break (LF or CRLF) at the cursor? Returns its length, 0 if not. */
static size_t line_break(const struct csv *c)
{
	if (c->pos >= c->len)
		return 0;
	if (c->p[c->pos] == '\n')
		return 1;
	if (c->p[c->pos] == '\r' && c->pos + 1 < c->len && c->p[c->pos + 1] == '\n')
		return 2;
	return 0;
}

/* Reads a quoted field from the opening quote at the cursor. Returns 0, or
 * -1 when the input ends inside the quotes. */
static int quoted_field(struct csv *c)
{
	long open_line = c->line;

	c->pos++; /* the opening quote */
	for (;;) {
		unsigned char ch;

		if (c->pos >= c->len) {
			fault(c, open_line, "quote opened here is never closed");
			return -1;
		}
		ch = c->p[c->pos];
		if (ch == '"') {
			if (c->pos + 1 < c->len && c->p[c->pos + 1] == '"') {
				append(c, (const unsigned char *)"\"", 1);
				c->pos += 2;
				continue;
			}
			c->pos++;
			break;
		}
		if (ch == '\n') {
			append(c, &ch, 1);
			c->pos++;
			c->line++;
			continue;
		}
		take_char(c);
	}
	/* after the closing quote: a comma, a line break or the end */
	if (c->pos < c->len && c->p[c->pos] != ',' && !line_break(c)) {
		fault(c, c->line, "text after the closing quote of field %d", c->count + 1);
		/* resynchronise: read the rest as unquoted text */
		while (c->pos < c->len && c->p[c->pos] != ',' && !line_break(c))
			c->pos++;
	}
	return 0;
}

/* Reads an unquoted field up to a comma, a line break or the end. */
static void plain_field(struct csv *c)
{
	while (c->pos < c->len) {
		unsigned char ch = c->p[c->pos];

		if (ch == ',' || ch == '\n')
			return;
		if (ch == '\r') {
			if (line_break(c))
				return;
			fault(c, c->line, "carriage return without a line feed");
			c->pos++;
			continue;
		}
		if (ch == '"') {
			fault(c, c->line,
			      "quote inside unquoted field %d (quote the whole field, double "
			      "the quote)",
			      c->count + 1);
			c->pos++;
			continue;
		}
		take_char(c);
	}
}

int csv_next(struct csv *c, struct csv_record *rec)
{
	size_t start_pos, brk;
	int unterminated = 0;

	rec->line = 0;
	rec->count = 0;
	rec->fields = c->fields;
	rec->lens = c->lens;
	rec->why[0] = '\0';
	/* skip blank lines */
	while ((brk = line_break(c)) != 0) {
		c->pos += brk;
		c->line++;
	}
	if (c->pos >= c->len)
		return PW_ENOTFOUND;

	start_pos = c->pos;
	rec->line = c->line;
	c->used = 0;
	c->field_start = 0;
	c->count = 0;
	c->bad = 0;
	c->bad_line = 0;
	c->why[0] = '\0';
	for (;;) {
		if (c->pos < c->len && c->p[c->pos] == '"') {
			if (quoted_field(c) != 0)
				unterminated = 1;
		} else {
			plain_field(c);
		}
		end_field(c);
		if (c->pos - start_pos > c->lim.record_max)
			fault(c, rec->line, "record longer than %zu bytes", c->lim.record_max);
		if (unterminated || c->pos >= c->len)
			break;
		if (c->p[c->pos] == ',') {
			c->pos++;
			continue;
		}
		brk = line_break(c);
		c->pos += brk ? brk : 1;
		c->line++;
		break;
	}
	if (c->bad) {
		rec->line = c->bad_line;
		snprintf(rec->why, sizeof(rec->why), "%s", c->why);
		return PW_EINVAL;
	}
	for (size_t i = 0, off = 0; i < (size_t)c->count; i++) {
		c->fields[i] = c->arena + off;
		off += c->lens[i] + 1;
	}
	rec->count = c->count;
	return PW_OK;
}
