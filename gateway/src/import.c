/*
 * import — dealer data from the DMS: checks every field of every row, then
 * upserts it, all of a file in one transaction (see import.h for the API,
 * CONTRACT "Dealer data" for the format).
 *
 * Each kind is a table of columns and each column has a type; one switch
 * checks a field by its type, so a rule lives in one place and the error
 * names the column. Decisions beyond the contract's words:
 *  - VINs: 17 of [A-HJ-NPR-Z0-9] and a valid ISO 3779 check digit (9th
 *    character): China's GB 16735 requires it and every sample VIN has it.
 *  - Plates are stored upper-cased, as the plate camera reports them. A
 *    plate is 2-12 characters of [A-Z0-9-] and CJK, as the contract's plate
 *    read; one shaped like a mainland civil plate (province + letter + only
 *    letters and digits) must have 5 or 6 of [A-HJ-NP-Z0-9] after the letter.
 *  - An empty reference that the schema allows to be NULL (a customer's
 *    advisor, a vehicle's customer, an appointment's advisor) is stored as
 *    NULL; a non-empty one must exist. A vehicle's VIN must always exist.
 *  - Local times use a fixed offset per zone (import_tz_offset): no TZ, no
 *    mktime, so the API thread can call this too.
 *  - A plate moving to another car is a conflict unless the old car's row,
 *    earlier in the file or in an earlier import, has already given it up.
 * Thread: whoever owns the sqlite3 connection; the pure parts share nothing.
 */
#include "import.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "csv.h"
#include "decode.h"
#include "log.h"
#include "store.h"

#define EXIT_USAGE   2
#define EXIT_RUNTIME 1
#define SHOW_MAX     48 /* bytes of a bad value quoted in a message */

/* ---- kinds and their columns --------------------------------------------- */

enum ctype {
	T_ID,           /* the row's own id: 1-64 printable ASCII */
	T_VIN,          /* the row's own id for vehicles */
	T_REF_VIN,      /* a vehicle that must exist */
	T_REF_ADVISOR,  /* an advisor that must exist; empty = none */
	T_REF_CUSTOMER, /* a customer that must exist; empty = none */
	T_TEXT,         /* 1-128 characters, no control characters */
	T_DESK,
	T_GENDER,
	T_PHONE,
	T_TIER,
	T_CONSENT,
	T_PLATE,
	T_YEAR,
	T_DATE,
	T_KM,
	T_START, /* YYYY-MM-DDTHH:MM, site-local */
	T_POLICY_KIND,
	T_SERVICE_KIND,
};

struct column {
	const char *name;
	enum ctype type;
};

struct kind_spec {
	const char *name; /* "vehicles" */
	int ncols;
	struct column col[IMPORT_COLUMNS_MAX];
	const char *names[IMPORT_COLUMNS_MAX + 1]; /* col[].name, for import_kind_columns */
};

static const struct kind_spec kinds[IMPORT__KINDS] = {
    [IMPORT_ADVISORS] = {"advisors",
                         3,
                         {{"advisor_id", T_ID}, {"name", T_TEXT}, {"desk", T_DESK}},
                         {"advisor_id", "name", "desk", NULL}},
    [IMPORT_CUSTOMERS] = {"customers",
                          7,
                          {{"customer_id", T_ID},
                           {"name", T_TEXT},
                           {"gender", T_GENDER},
                           {"phone", T_PHONE},
                           {"tier", T_TIER},
                           {"advisor_id", T_REF_ADVISOR},
                           {"display_consent", T_CONSENT}},
                          {"customer_id", "name", "gender", "phone", "tier", "advisor_id",
                           "display_consent", NULL}},
    [IMPORT_VEHICLES] = {"vehicles",
                         8,
                         {{"vin", T_VIN},
                          {"plate", T_PLATE},
                          {"customer_id", T_REF_CUSTOMER},
                          {"brand", T_TEXT},
                          {"model", T_TEXT},
                          {"model_year", T_YEAR},
                          {"purchase_date", T_DATE},
                          {"purchase_odometer_km", T_KM}},
                         {"vin", "plate", "customer_id", "brand", "model", "model_year",
                          "purchase_date", "purchase_odometer_km", NULL}},
    [IMPORT_APPOINTMENTS] = {"appointments",
                             5,
                             {{"appointment_id", T_ID},
                              {"vin", T_REF_VIN},
                              {"start", T_START},
                              {"service", T_TEXT},
                              {"advisor_id", T_REF_ADVISOR}},
                             {"appointment_id", "vin", "start", "service", "advisor_id", NULL}},
    [IMPORT_POLICIES] = {"policies",
                         5,
                         {{"policy_id", T_ID},
                          {"vin", T_REF_VIN},
                          {"insurer", T_TEXT},
                          {"kind", T_POLICY_KIND},
                          {"expiry_date", T_DATE}},
                         {"policy_id", "vin", "insurer", "kind", "expiry_date", NULL}},
    [IMPORT_SERVICES] = {"services",
                         5,
                         {{"service_id", T_ID},
                          {"vin", T_REF_VIN},
                          {"date", T_DATE},
                          {"odometer_km", T_KM},
                          {"kind", T_SERVICE_KIND}},
                         {"service_id", "vin", "date", "odometer_km", "kind", NULL}},
};

static const char *const genders[] = {"M", "F", "-", NULL};
static const char *const tiers[] = {"regular", "platinum", "diamond", "vip", NULL};
static const char *const consents[] = {"yes", "no", NULL}; /* index 0 -> 1, 1 -> 0 */
static const char *const policy_kinds[] = {"compulsory", "commercial", NULL};
static const char *const service_kinds[] = {"first_service", "maintenance", "repair", "other",
                                            NULL};

int import_kind_parse(const char *name, enum import_kind *out)
{
	for (int k = 0; k < IMPORT__KINDS; k++) {
		if (name && strcmp(name, kinds[k].name) == 0) {
			*out = (enum import_kind)k;
			return PW_OK;
		}
	}
	return PW_EINVAL;
}

static int kind_ok(enum import_kind kind)
{
	return (int)kind >= 0 && kind < IMPORT__KINDS;
}

const char *import_kind_name(enum import_kind kind)
{
	return kind_ok(kind) ? kinds[kind].name : "?";
}

const char *const *import_kind_columns(enum import_kind kind, int *n)
{
	if (!kind_ok(kind))
		return NULL;
	if (n)
		*n = kinds[kind].ncols;
	return kinds[kind].names;
}

/* ---- time zones ----------------------------------------------------------- */

/* Zones without daylight saving time today, and their offset in minutes.
 * tests/unit/test_import.c checks each against the host's tz database. */
static const struct {
	const char *name;
	int offset_min;
} zones[] = {
    {"UTC", 0},
    {"Etc/UTC", 0},
    {"GMT", 0},
    {"Etc/GMT", 0},
    {"Asia/Shanghai", 480},
    {"Asia/Chongqing", 480},
    {"Asia/Harbin", 480},
    {"PRC", 480},
    {"Asia/Hong_Kong", 480},
    {"Asia/Macau", 480},
    {"Asia/Taipei", 480},
    {"Asia/Singapore", 480},
    {"Asia/Kuala_Lumpur", 480},
    {"Asia/Manila", 480},
    {"Asia/Makassar", 480},
    {"Australia/Perth", 480},
    {"Asia/Urumqi", 360},
    {"Asia/Dhaka", 360},
    {"Asia/Tokyo", 540},
    {"Asia/Seoul", 540},
    {"Asia/Pyongyang", 540},
    {"Asia/Jayapura", 540},
    {"Asia/Bangkok", 420},
    {"Asia/Ho_Chi_Minh", 420},
    {"Asia/Jakarta", 420},
    {"Asia/Phnom_Penh", 420},
    {"Asia/Vientiane", 420},
    {"Asia/Yangon", 390},
    {"Asia/Kathmandu", 345},
    {"Asia/Kolkata", 330},
    {"Asia/Colombo", 330},
    {"Asia/Karachi", 300},
    {"Asia/Tashkent", 300},
    {"Asia/Dubai", 240},
    {"Asia/Riyadh", 180},
    {"Asia/Qatar", 180},
    {"Europe/Moscow", 180},
    {"Europe/Istanbul", 180},
    {"Africa/Nairobi", 180},
    {"Africa/Johannesburg", 120},
    {"Africa/Lagos", 60},
};

int import_tz_offset(const char *zone, int *offset_s)
{
	if (!zone)
		return PW_ENOTFOUND;
	for (size_t i = 0; i < PW_ARRAY_LEN(zones); i++) {
		if (strcmp(zone, zones[i].name) == 0) {
			*offset_s = zones[i].offset_min * 60;
			return PW_OK;
		}
	}
	/* Etc/GMT-8 is UTC+8 (POSIX sign), Etc/GMT-14 .. Etc/GMT+12 */
	if (strncmp(zone, "Etc/GMT", 7) == 0 && (zone[7] == '+' || zone[7] == '-')) {
		char *end;
		long h;

		if (zone[8] < '0' || zone[8] > '9')
			return PW_ENOTFOUND;
		errno = 0;
		h = strtol(zone + 8, &end, 10);
		if (errno || *end || (zone[7] == '-' ? h > 14 : h > 12))
			return PW_ENOTFOUND;
		*offset_s = (int)(zone[7] == '-' ? h : -h) * 3600;
		return PW_OK;
	}
	return PW_ENOTFOUND;
}

const char *import_tz_zone(size_t i)
{
	return i < PW_ARRAY_LEN(zones) ? zones[i].name : NULL;
}

int import_settings_init(struct import_settings *s, const char *timezone, int64_t now_ms)
{
	char iso[32];

	if (import_tz_offset(timezone ? timezone : "Asia/Shanghai", &s->tz_offset_s) != PW_OK)
		return PW_EINVAL;
	/* the site-local year of now, and one more */
	clock_format_iso8601(now_ms + (int64_t)s->tz_offset_s * 1000, iso, sizeof(iso));
	s->max_model_year = 1 + (int)strtol(iso, NULL, 10);
	return PW_OK;
}

/* ---- the report ----------------------------------------------------------- */

void import_report_init(struct import_report *rep, const char *name)
{
	memset(rep, 0, sizeof(*rep));
	rep->name = name;
}

__attribute__((format(printf, 4, 5))) static void
add_error(struct import_report *rep, long line, const char *column, const char *fmt, ...)
{
	struct import_error *e;
	va_list ap;

	rep->errors++;
	if (rep->n_kept >= IMPORT_ERRORS_MAX)
		return;
	e = &rep->error[rep->n_kept++];
	e->line = line;
	snprintf(e->column, sizeof(e->column), "%s", column ? column : "");
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
}

void import_error_format(const struct import_report *rep, int i, char *buf, size_t len)
{
	const struct import_error *e;
	int at = 0;

	if (!len)
		return;
	buf[0] = '\0';
	if (i < 0 || i >= rep->n_kept)
		return;
	e = &rep->error[i];
	if (e->line > 0)
		at = snprintf(buf, len, "%s:%ld: ", rep->name ? rep->name : "input", e->line);
	if (at < 0 || (size_t)at >= len)
		return;
	if (e->column[0])
		snprintf(buf + at, len - (size_t)at, "column %s: %s", e->column, e->why);
	else
		snprintf(buf + at, len - (size_t)at, "%s", e->why);
}

/* Bytes in the UTF-8 character that starts with byte c (1 for a stray byte). */
static size_t char_len(unsigned char c)
{
	return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* A value quoted for a message: at most SHOW_MAX bytes (cut on a character
 * boundary, then "..."), quotes and backslashes escaped, control characters
 * and invalid UTF-8 as \xNN. buf needs SHOW_MAX * 4 + 8 bytes. */
static const char *show(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0, in_len = strlen(s);

	buf[o++] = '"';
	while (i < in_len && o + 12 < len) {
		size_t n = char_len(p[i]);

		if (i >= SHOW_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (n > 1 && n <= in_len - i && csv_utf8_valid_prefix(s + i, n) == n) {
			memcpy(buf + o, p + i, n);
			o += n;
			i += n;
		} else if (p[i] >= 0x20 && p[i] < 0x7F) {
			if (p[i] == '"' || p[i] == '\\')
				buf[o++] = '\\';
			buf[o++] = (char)p[i++];
		} else {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02X", p[i++]);
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* ---- field checks (pure) -------------------------------------------------- */

/* s matches pattern: 'd' is a digit, anything else itself; same length. */
static int shape(const char *s, const char *pattern)
{
	for (; *pattern; s++, pattern++) {
		if (*pattern == 'd' ? !(*s >= '0' && *s <= '9') : *s != *pattern)
			return 0;
	}
	return *s == '\0';
}

/* Characters (code points) of valid UTF-8 text. */
static size_t chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* NULL if s is 1..max characters of text without control characters, else
 * why not (in buf when it needs a number). */
static const char *text_problem(const char *s, size_t max, char *buf, size_t buf_len)
{
	size_t len = strlen(s);
	int blank = 1;

	if (csv_utf8_valid_prefix(s, len) != len)
		return "not valid UTF-8";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F))
			return "contains a control character (a line break?)";
		if (*p != ' ')
			blank = 0;
	}
	if (blank)
		return "empty";
	if (chars(s) > max) {
		snprintf(buf, buf_len, "longer than %zu characters", max);
		return buf;
	}
	return NULL;
}

static int id_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7F)
			return 0;
	return n >= 1 && n <= IMPORT_ID_MAX;
}

static int one_of(const char *s, const char *const *set)
{
	for (int i = 0; set[i]; i++)
		if (strcmp(s, set[i]) == 0)
			return i;
	return -1;
}

static void list_set(const char *const *set, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; set[i] && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", set[i]);
}

/* ISO 3779 check digit of a VIN of valid characters: '0'-'9' or 'X'. */
static char vin_check_digit(const char *vin)
{
	static const int weight[PW_VIN_LEN] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
	/* A-Z transliteration; I, O, Q never occur */
	static const int letter[26] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4,
	                               5, 0, 7, 0, 9, 2, 3, 4, 5, 6, 7, 8, 9};
	int sum = 0;

	for (int i = 0; i < PW_VIN_LEN; i++) {
		char c = vin[i];
		int v = c >= '0' && c <= '9' ? c - '0' : letter[c - 'A'];

		sum += v * weight[i];
	}
	sum %= 11;
	return sum == 10 ? 'X' : (char)('0' + sum);
}

/* NULL if s is a valid VIN with a valid check digit, else why not (into buf). */
static const char *vin_problem(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);
	char want;

	if (decode_vin_valid(s)) {
		want = vin_check_digit(s);
		if (s[8] == want)
			return NULL;
		snprintf(buf, len, "check digit (9th character) is '%c', should be '%c'", s[8],
		         want);
		return buf;
	}
	if (n == 0)
		return "empty";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'a' && c <= 'z') {
			snprintf(buf, len, "lower-case '%c'; a VIN is upper case", c);
			return buf;
		}
		if (c == 'I' || c == 'O' || c == 'Q') {
			snprintf(buf, len, "contains '%c' (I, O and Q never appear in a VIN)", c);
			return buf;
		}
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) {
			snprintf(buf, len, "character %zu is not a letter or digit", i + 1);
			return buf;
		}
	}
	snprintf(buf, len, "%zu characters, a VIN has 17", chars(s));
	return buf;
}

/* The province abbreviations that start a mainland civil plate. */
static const char provinces[] = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/* Checks a plate and writes it upper-cased to out; NULL or why not. */
static const char *plate_problem(const char *s, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, len = strlen(s);
	int n = 0, cjk_first = 0, ascii_rest = 1;

	if (len == 0)
		return "empty";
	if (csv_utf8_valid_prefix(s, len) != len)
		return "not valid UTF-8";
	while (i < len) {
		unsigned char c = p[i];

		if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '-') {
			out[o++] = (char)c;
			i++;
		} else if (c >= 'a' && c <= 'z') {
			out[o++] = (char)(c - 'a' + 'A');
			i++;
		} else if ((c & 0xF0) == 0xE0) { /* valid UTF-8: two continuation bytes follow */
			unsigned cp = ((unsigned)(c & 0x0F) << 12) |
			              ((unsigned)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);

			if (cp < 0x4E00 || cp > 0x9FFF)
				return "only A-Z, 0-9, '-' and Chinese characters (no spaces or "
				       "dots)";
			if (n == 0)
				cjk_first = 1;
			else
				ascii_rest = 0;
			memcpy(out + o, p + i, 3);
			o += 3;
			i += 3;
		} else {
			return "only A-Z, 0-9, '-' and Chinese characters (no spaces or dots)";
		}
		if (n > 0 && out[o - 1] == '-')
			ascii_rest = 0;
		if (++n > 12 || o + 4 > cap)
			return "more than 12 characters";
	}
	out[o] = '\0';
	if (n < 2)
		return "fewer than 2 characters";
	/* a mainland civil plate: province, letter, 5 (6 new-energy) of [A-HJ-NP-Z0-9] */
	if (cjk_first && ascii_rest && out[3] >= 'A' && out[3] <= 'Z') {
		char prov[4];

		/* in valid UTF-8 a match can only start on a character */
		memcpy(prov, out, 3);
		prov[3] = '\0';
		if (strstr(provinces, prov)) {
			size_t rest = o - 4;

			if (rest != 5 && rest != 6)
				return "a mainland plate has 5 characters after the province and "
				       "letter (6 for new-energy cars)";
			if (strpbrk(out + 4, "IO"))
				return "I and O are not used on mainland plates";
		}
	}
	return NULL;
}

/* A non-negative decimal of km: digits, optionally '.' and digits; up to
 * IMPORT_KM_MAX. */
static const char *km_problem(const char *s, double *out)
{
	const char *p = s;
	int int_digits = 0, frac_digits = 0;

	if (*p == '-')
		return "must be 0 or more";
	while (*p >= '0' && *p <= '9') {
		p++;
		int_digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			frac_digits++;
		}
		if (!frac_digits)
			int_digits = 0;
	}
	if (*p || !int_digits)
		return "not a number of km (like 12345 or 12345.6)";
	if (int_digits > 9)
		return "more than 2000000 km";
	*out = strtod(s, NULL);
	if (!(*out <= IMPORT_KM_MAX))
		return "more than 2000000 km";
	return NULL;
}

/* A real date YYYY-MM-DD from IMPORT_YEAR_MIN on; *ms = its UTC midnight. */
static const char *date_problem(const char *s, int64_t *ms)
{
	if (!shape(s, "dddd-dd-dd"))
		return "not a date YYYY-MM-DD";
	if (clock_parse_iso8601(s, ms) != PW_OK)
		return "not a real date";
	if (strncmp(s, "1950", 4) < 0)
		return "before 1950";
	return NULL;
}

/* Checks one field of type t; fills `out` for column i. NULL or why not
 * (written into buf when it needs the value). */
static const char *check_field(const struct import_settings *set, enum ctype t, const char *s,
                               int i, struct import_values *out, char *buf, size_t len)
{
	char list[96];
	int64_t ms;
	int k;

	out->text[i] = s;
	switch (t) {
	case T_ID:
		return id_ok(s) ? NULL : "not 1-64 printable ASCII characters without spaces";
	case T_REF_ADVISOR:
	case T_REF_CUSTOMER:
		if (!*s) {
			out->text[i] = NULL;
			return NULL;
		}
		return id_ok(s) ? NULL : "not 1-64 printable ASCII characters without spaces";
	case T_VIN:
	case T_REF_VIN:
		return vin_problem(s, buf, len);
	case T_TEXT:
		return text_problem(s, IMPORT_TEXT_MAX, buf, len);
	case T_DESK:
		return text_problem(s, IMPORT_DESK_MAX, buf, len);
	case T_GENDER:
		return one_of(s, genders) >= 0 ? NULL : "expected M, F or -";
	case T_PHONE: {
		const char *d = s + (*s == '+');
		size_t n = strspn(d, "0123456789");

		if (d[n] || n < 5 || n > 20)
			return "expected 5-20 digits, optionally after a leading +";
		return NULL;
	}
	case T_TIER:
	case T_POLICY_KIND:
	case T_SERVICE_KIND: {
		const char *const *names = t == T_TIER          ? tiers
		                           : t == T_POLICY_KIND ? policy_kinds
		                                                : service_kinds;

		if (one_of(s, names) >= 0)
			return NULL;
		list_set(names, list, sizeof(list));
		snprintf(buf, len, "expected one of %s", list);
		return buf;
	}
	case T_CONSENT:
		k = one_of(s, consents);
		if (k < 0)
			return "expected yes or no";
		out->num[i] = k == 0;
		return NULL;
	case T_PLATE:
		out->text[i] = out->plate;
		return plate_problem(s, out->plate, sizeof(out->plate));
	case T_YEAR: {
		int y;

		if (!shape(s, "dddd"))
			return "not a year YYYY";
		y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
		if (y < IMPORT_YEAR_MIN || y > set->max_model_year) {
			snprintf(buf, len, "not between %d and %d", IMPORT_YEAR_MIN,
			         set->max_model_year);
			return buf;
		}
		out->num[i] = y;
		return NULL;
	}
	case T_DATE:
		return date_problem(s, &ms);
	case T_KM:
		return km_problem(s, &out->km[i]);
	case T_START:
		if (!shape(s, "dddd-dd-ddTdd:dd"))
			return "not a local time YYYY-MM-DDTHH:MM";
		if (clock_parse_iso8601(s, &ms) != PW_OK)
			return "not a real date and time";
		if (strncmp(s, "1950", 4) < 0)
			return "before 1950";
		out->start_ms = ms - (int64_t)set->tz_offset_s * 1000;
		return NULL;
	}
	return "unknown column type";
}

int import_check_row(const struct import_settings *set, enum import_kind kind,
                     const char *const *fields, int n, long line, struct import_values *out,
                     struct import_report *rep)
{
	const struct kind_spec *k;
	char buf[160], val[SHOW_MAX * 4 + 8];

	memset(out, 0, sizeof(*out));
	out->kind = kind;
	if (!kind_ok(kind)) {
		add_error(rep, line, "", "unknown kind");
		return PW_EINVAL;
	}
	k = &kinds[kind];
	if (n != k->ncols) {
		add_error(rep, line, "", "%d fields, expected %d", n, k->ncols);
		return PW_EINVAL;
	}
	for (int i = 0; i < n; i++) {
		const char *why;

		if (!fields[i]) {
			add_error(rep, line, k->col[i].name, "missing");
			out->bad |= 1u << i;
			continue;
		}
		why = check_field(set, k->col[i].type, fields[i], i, out, buf, sizeof(buf));
		if (why) {
			add_error(rep, line, k->col[i].name, "%s: %s",
			          show(fields[i], val, sizeof(val)), why);
			out->bad |= 1u << i;
		}
	}
	return out->bad ? PW_EINVAL : PW_OK;
}

/* ---- the database --------------------------------------------------------- */

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_PLATE_OWNER,
	S_EXISTS_FIRST, /* S_EXISTS_FIRST + kind: does the kind's id exist */
	S_UPSERT_FIRST = S_EXISTS_FIRST + IMPORT__KINDS,
	S__COUNT = S_UPSERT_FIRST + IMPORT__KINDS
};

static const char *const stmt_sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_PLATE_OWNER] = "SELECT vin FROM vehicle WHERE plate = ?1",
    [S_EXISTS_FIRST + IMPORT_ADVISORS] = "SELECT 1 FROM advisor WHERE advisor_id = ?1",
    [S_EXISTS_FIRST + IMPORT_CUSTOMERS] = "SELECT 1 FROM customer WHERE customer_id = ?1",
    [S_EXISTS_FIRST + IMPORT_VEHICLES] = "SELECT 1 FROM vehicle WHERE vin = ?1",
    [S_EXISTS_FIRST + IMPORT_APPOINTMENTS] = "SELECT 1 FROM appointment WHERE appointment_id = ?1",
    [S_EXISTS_FIRST + IMPORT_POLICIES] = "SELECT 1 FROM policy WHERE policy_id = ?1",
    [S_EXISTS_FIRST + IMPORT_SERVICES] = "SELECT 1 FROM service_visit WHERE service_id = ?1",
    [S_UPSERT_FIRST + IMPORT_ADVISORS] =
        "INSERT INTO advisor (advisor_id, name, desk) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (advisor_id) DO UPDATE SET name = excluded.name, desk = excluded.desk",
    [S_UPSERT_FIRST + IMPORT_CUSTOMERS] =
        "INSERT INTO customer (customer_id, name, gender, phone, tier, advisor_id, "
        "display_consent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
        "ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name, "
        "gender = excluded.gender, phone = excluded.phone, tier = excluded.tier, "
        "advisor_id = excluded.advisor_id, display_consent = excluded.display_consent",
    [S_UPSERT_FIRST + IMPORT_VEHICLES] =
        "INSERT INTO vehicle (vin, plate, customer_id, brand, model, model_year, "
        "purchase_date, purchase_odometer_km) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT (vin) DO UPDATE SET plate = excluded.plate, "
        "customer_id = excluded.customer_id, brand = excluded.brand, "
        "model = excluded.model, model_year = excluded.model_year, "
        "purchase_date = excluded.purchase_date, "
        "purchase_odometer_km = excluded.purchase_odometer_km",
    [S_UPSERT_FIRST + IMPORT_APPOINTMENTS] =
        "INSERT INTO appointment (appointment_id, vin, start_local, service, advisor_id, "
        "start_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT (appointment_id) DO UPDATE SET vin = excluded.vin, "
        "start_local = excluded.start_local, service = excluded.service, "
        "advisor_id = excluded.advisor_id, start_ms = excluded.start_ms",
    [S_UPSERT_FIRST + IMPORT_POLICIES] =
        "INSERT INTO policy (policy_id, vin, insurer, kind, expiry_date) "
        "VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (policy_id) DO UPDATE SET vin = excluded.vin, "
        "insurer = excluded.insurer, kind = excluded.kind, "
        "expiry_date = excluded.expiry_date",
    [S_UPSERT_FIRST + IMPORT_SERVICES] =
        "INSERT INTO service_visit (service_id, vin, date, odometer_km, kind) "
        "VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (service_id) DO UPDATE SET vin = excluded.vin, "
        "date = excluded.date, odometer_km = excluded.odometer_km, kind = excluded.kind",
};

/* Keys seen earlier in one file (ids, plates) and their line: open
 * addressing, grown at half full. */
struct seen_slot {
	char *key;
	long line;
};
struct seen {
	size_t cap, n;
	struct seen_slot *slot;
};

struct import {
	sqlite3 *db;
	struct import_settings set;
	sqlite3_stmt *stmt[S__COUNT];
	int in_file;     /* import_csv is running: track ids and plates */
	struct seen ids; /* this file's ids -> line */
	struct seen plates;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void seen_clear(struct seen *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slot[i].key);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static struct seen_slot *seen_find(struct seen *t, const char *key)
{
	size_t i = (size_t)hash_str(key) & (t->cap - 1);

	while (t->slot[i].key && strcmp(t->slot[i].key, key) != 0)
		i = (i + 1) & (t->cap - 1);
	return &t->slot[i];
}

/* Records key at `line`; *prev = the line it was seen on before, or 0. */
static int seen_put(struct seen *t, const char *key, long line, long *prev)
{
	struct seen_slot *s;

	*prev = 0;
	if (2 * (t->n + 1) > t->cap) {
		struct seen bigger = {t->cap ? 2 * t->cap : 256, t->n, NULL};

		bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
		if (!bigger.slot)
			return PW_ENOMEM;
		for (size_t i = 0; i < t->cap; i++)
			if (t->slot[i].key)
				*seen_find(&bigger, t->slot[i].key) = t->slot[i];
		free(t->slot);
		*t = bigger;
	}
	s = seen_find(t, key);
	if (s->key) {
		*prev = s->line;
		return PW_OK;
	}
	s->key = strdup(key);
	if (!s->key)
		return PW_ENOMEM;
	s->line = line;
	t->n++;
	return PW_OK;
}

static int db_fail(struct import *im, const char *what)
{
	log_error("import", "%s: %s", what, sqlite3_errmsg(im->db));
	return PW_EIO;
}

static int exec_stmt(struct import *im, enum stmt_id id, const char *what)
{
	int rc = sqlite3_step(im->stmt[id]);

	sqlite3_reset(im->stmt[id]);
	return rc == SQLITE_DONE ? PW_OK : db_fail(im, what);
}

/* *found = whether the SELECT `id` with text ?1 = key returns a row; when
 * it does and `col0` is given, its first column is copied there. */
static int lookup(struct import *im, enum stmt_id id, const char *key, int *found, char *col0,
                  size_t col0_len)
{
	sqlite3_stmt *s = im->stmt[id];
	int rc;

	*found = 0;
	if (sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		return db_fail(im, "binding a lookup");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*found = 1;
		if (col0) {
			const unsigned char *t = sqlite3_column_text(s, 0);

			snprintf(col0, col0_len, "%s", t ? (const char *)t : "");
		}
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(im, "looking up an id");
	return PW_OK;
}

struct import *import_open(sqlite3 *db, const struct import_settings *set)
{
	struct import *im = calloc(1, sizeof(*im));

	if (!im) {
		log_error("import", "out of memory");
		return NULL;
	}
	im->db = db;
	im->set = *set;
	for (int i = 0; i < S__COUNT; i++) {
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &im->stmt[i],
		                       NULL) != SQLITE_OK) {
			log_error("import",
			          "preparing \"%.40s...\": %s (is the database migrated?)",
			          stmt_sql[i], sqlite3_errmsg(db));
			import_close(im);
			return NULL;
		}
	}
	return im;
}

void import_close(struct import *im)
{
	if (!im)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(im->stmt[i]);
	seen_clear(&im->ids);
	seen_clear(&im->plates);
	free(im);
}

/* The database checks of the fields of a row that passed their own checks:
 * referenced ids exist, the plate is no other car's. Adds errors to rep. */
static int check_refs(struct import *im, const struct kind_spec *k, const struct import_values *v,
                      long line, struct import_report *rep)
{
	static const struct {
		enum ctype type;
		enum import_kind kind;
		const char *noun;
	} refs[] = {{T_REF_ADVISOR, IMPORT_ADVISORS, "advisor"},
	            {T_REF_CUSTOMER, IMPORT_CUSTOMERS, "customer"},
	            {T_REF_VIN, IMPORT_VEHICLES, "vehicle"}};
	char owner[64], val[SHOW_MAX * 4 + 8];
	int found;

	for (int i = 0; i < k->ncols; i++) {
		if (v->bad & (1u << i))
			continue;
		for (size_t r = 0; r < PW_ARRAY_LEN(refs); r++) {
			if (k->col[i].type != refs[r].type || !v->text[i])
				continue;
			if (lookup(im, S_EXISTS_FIRST + refs[r].kind, v->text[i], &found, NULL,
			           0) != PW_OK)
				return PW_EIO;
			if (!found)
				add_error(rep, line, k->col[i].name,
				          "%s: no such %s (import %s before %s)",
				          show(v->text[i], val, sizeof(val)), refs[r].noun,
				          kinds[refs[r].kind].name, k->name);
		}
		if (k->col[i].type == T_PLATE) {
			if (lookup(im, S_PLATE_OWNER, v->plate, &found, owner, sizeof(owner)) !=
			    PW_OK)
				return PW_EIO;
			if (found && (v->bad & 1u) == 0 && strcmp(owner, v->text[0]) != 0)
				add_error(rep, line, k->col[i].name,
				          "%s: already the plate of vehicle %s",
				          show(v->plate, val, sizeof(val)), owner);
		}
	}
	return PW_OK;
}

/* Binds v to the kind's upsert and runs it. */
static int upsert(struct import *im, const struct kind_spec *k, enum import_kind kind,
                  const struct import_values *v)
{
	sqlite3_stmt *s = im->stmt[S_UPSERT_FIRST + kind];
	int rc = SQLITE_OK;

	for (int i = 0; i < k->ncols; i++) {
		switch (k->col[i].type) {
		case T_CONSENT:
		case T_YEAR:
			rc |= sqlite3_bind_int64(s, i + 1, v->num[i]);
			break;
		case T_KM:
			rc |= sqlite3_bind_double(s, i + 1, v->km[i]);
			break;
		default:
			rc |= v->text[i]
			          ? sqlite3_bind_text(s, i + 1, v->text[i], -1, SQLITE_STATIC)
			          : sqlite3_bind_null(s, i + 1);
			break;
		}
	}
	if (kind == IMPORT_APPOINTMENTS)
		rc |= sqlite3_bind_int64(s, k->ncols + 1, v->start_ms);
	if (rc != SQLITE_OK) {
		sqlite3_clear_bindings(s);
		return db_fail(im, "binding a row");
	}
	rc = exec_stmt(im, S_UPSERT_FIRST + kind, "writing a row");
	sqlite3_clear_bindings(s);
	return rc;
}

/* One row: checks, in-file duplicates (when importing a file), database
 * checks, upsert. PW_OK, PW_EINVAL (errors in rep), PW_EIO, PW_ENOMEM. */
static int put_row(struct import *im, enum import_kind kind, const char *const *fields, int n,
                   long line, struct import_report *rep)
{
	const struct kind_spec *k;
	struct import_values v;
	char val[SHOW_MAX * 4 + 8];
	long errors_before = rep->errors, prev = 0;
	int fields_ok, found, rc;

	if (!kind_ok(kind)) {
		add_error(rep, line, "", "unknown kind");
		return PW_EINVAL;
	}
	k = &kinds[kind];
	fields_ok = import_check_row(&im->set, kind, fields, n, line, &v, rep) == PW_OK;
	if (im->in_file && n == k->ncols && fields[0] && fields[0][0]) {
		if (seen_put(&im->ids, fields[0], line, &prev) != PW_OK)
			return PW_ENOMEM;
		if (prev) {
			add_error(rep, line, k->col[0].name, "%s: also on line %ld",
			          show(fields[0], val, sizeof(val)), prev);
			v.bad |= 1u; /* no more checks that depend on the id */
		}
		if (fields_ok && !prev && kind == IMPORT_VEHICLES) {
			if (seen_put(&im->plates, v.plate, line, &prev) != PW_OK)
				return PW_ENOMEM;
			if (prev) {
				add_error(rep, line, k->col[1].name, "%s: also on line %ld",
				          show(v.plate, val, sizeof(val)), prev);
				v.bad |= 1u << 1; /* said once is enough */
			}
		}
	}
	if (n != k->ncols)
		return PW_EINVAL;
	if (check_refs(im, k, &v, line, rep) != PW_OK)
		return PW_EIO;
	if (!fields_ok || rep->errors != errors_before)
		return PW_EINVAL;
	if (lookup(im, S_EXISTS_FIRST + kind, v.text[0], &found, NULL, 0) != PW_OK)
		return PW_EIO;
	rc = upsert(im, k, kind, &v);
	if (rc != PW_OK)
		return rc;
	if (found)
		rep->updated++;
	else
		rep->inserted++;
	return PW_OK;
}

int import_row(struct import *im, enum import_kind kind, const char *const *fields, int n,
               long line, struct import_report *rep)
{
	return put_row(im, kind, fields, n, line, rep);
}

/* "advisor_id,name,desk" */
static void column_list(const struct kind_spec *k, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; i < k->ncols && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? "," : "", k->col[i].name);
}

/* Compares the header with the kind's columns; adds errors for what is
 * missing, unexpected, repeated or out of order. */
static void check_header(const struct kind_spec *k, const struct csv_record *h,
                         struct import_report *rep)
{
	char val[SHOW_MAX * 4 + 8], want[256];
	long before = rep->errors;
	int same = h->count == k->ncols;

	for (int i = 0; same && i < k->ncols; i++)
		same = strcmp(h->fields[i], k->col[i].name) == 0;
	if (same)
		return;
	for (int i = 0; i < k->ncols; i++) {
		int found = 0;

		for (int j = 0; j < h->count && !found; j++)
			found = strcmp(h->fields[j], k->col[i].name) == 0;
		if (!found)
			add_error(rep, h->line, k->col[i].name, "missing from the header");
	}
	for (int j = 0; j < h->count; j++) {
		int known = 0, twice = 0;

		for (int i = 0; i < k->ncols && !known; i++)
			known = strcmp(h->fields[j], k->col[i].name) == 0;
		for (int i = 0; i < j && !twice; i++)
			twice = strcmp(h->fields[i], h->fields[j]) == 0;
		if (!known)
			add_error(rep, h->line, "", "header: unexpected column %s",
			          show(h->fields[j], val, sizeof(val)));
		else if (twice)
			add_error(rep, h->line, h->fields[j], "twice in the header");
	}
	column_list(k, want, sizeof(want));
	if (rep->errors == before)
		add_error(rep, h->line, "", "header: columns out of order, expected %s", want);
	else
		add_error(rep, h->line, "", "header: expected %s", want);
	rep->bad_lines++;
}

/* The rows after the header, inside the open transaction. */
static int import_rows(struct import *im, enum import_kind kind, struct csv *csv,
                       struct import_report *rep)
{
	struct csv_record rec;
	int rc;

	for (;;) {
		long before = rep->errors;

		rc = csv_next(csv, &rec);
		if (rc == PW_ENOTFOUND)
			return PW_OK;
		if (rc == PW_ENOMEM)
			return rc;
		rep->rows++;
		if (rc == PW_EINVAL) {
			add_error(rep, rec.line, "", "%s", rec.why);
		} else {
			rc = put_row(im, kind, rec.fields, rec.count, rec.line, rep);
			if (rc == PW_EIO || rc == PW_ENOMEM)
				return rc;
		}
		if (rep->errors != before)
			rep->bad_lines++;
	}
}

int import_csv(struct import *im, enum import_kind kind, const char *name, const char *buf,
               size_t len, struct import_report *rep)
{
	struct csv *csv = NULL;
	struct csv_record head;
	char want[256];
	int rc;

	import_report_init(rep, name);
	if (!kind_ok(kind))
		return PW_EINVAL;
	if (!sqlite3_get_autocommit(im->db)) {
		log_error("import", "%s: the connection is already in a transaction", name);
		return PW_EBUSY;
	}
	csv = csv_new(buf, len, NULL);
	if (!csv) {
		log_error("import", "%s: out of memory", name);
		return PW_ENOMEM;
	}
	rc = csv_next(csv, &head);
	if (rc == PW_ENOTFOUND) {
		column_list(&kinds[kind], want, sizeof(want));
		add_error(rep, 1, "", "empty file: expected the header row %s", want);
		rep->bad_lines++;
		rc = PW_EINVAL;
		goto out_free;
	}
	if (rc != PW_OK) {
		if (rc == PW_EINVAL) {
			add_error(rep, head.line, "", "header: %s", head.why);
			rep->bad_lines++;
		}
		goto out_free;
	}
	check_header(&kinds[kind], &head, rep);
	if (rep->errors) {
		rc = PW_EINVAL;
		goto out_free;
	}
	rc = exec_stmt(im, S_BEGIN, "BEGIN");
	if (rc != PW_OK)
		goto out_free;
	im->in_file = 1;
	rc = import_rows(im, kind, csv, rep);
	im->in_file = 0;
	seen_clear(&im->ids);
	seen_clear(&im->plates);
	if (rc == PW_OK && rep->errors)
		rc = PW_EINVAL;
	if (rc != PW_OK)
		goto out_rollback;
	rc = exec_stmt(im, S_COMMIT, "COMMIT");
	if (rc != PW_OK)
		goto out_rollback;
	goto out_free;
out_rollback:
	if (!sqlite3_get_autocommit(im->db))
		exec_stmt(im, S_ROLLBACK, "ROLLBACK");
out_free:
	csv_free(csv);
	return rc;
}

/* ---- pitwall import ------------------------------------------------------- */

static const char import_usage[] =
    "usage: pitwall import [--config FILE] [--db FILE] KIND FILE.csv\n"
    "  KIND: advisors | customers | vehicles | appointments | policies | services\n"
    "\n"
    "Imports a DMS export (CONTRACT \"Dealer data\") in one transaction: if any row\n"
    "is bad nothing is imported, and every bad line is named on stderr as\n"
    "FILE:LINE: column NAME: why. A row whose id exists updates it. Import in\n"
    "this order: advisors, customers, vehicles, then appointments, policies,\n"
    "services.\n"
    "\n"
    "  --config FILE  JSON config: site.timezone (appointment times are local to\n"
    "                 it; default Asia/Shanghai) and db.path\n"
    "  --db FILE      SQLite database (default: the config's db.path, ./pitwall.db)\n"
    "\n"
    "Exit status: 0 imported, 2 bad usage, config or input file, 1 runtime failure.\n";

/* Reads a whole file (at most IMPORT_FILE_MAX bytes) into a new buffer. */
static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = PW_EIO;

	*out = NULL;
	*len = 0;
	if (!f) {
		fprintf(stderr, "pitwall import: %s: %s\n", path, strerror(errno));
		return PW_EIO;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			char *bigger;

			if (cap >= IMPORT_FILE_MAX) {
				fprintf(stderr, "pitwall import: %s: larger than %d MiB\n", path,
				        IMPORT_FILE_MAX >> 20);
				rc = PW_ERANGE;
				goto out;
			}
			cap = cap ? 2 * cap : 65536;
			if (cap > IMPORT_FILE_MAX)
				cap = IMPORT_FILE_MAX;
			bigger = realloc(buf, cap + 1); /* + 1: room to detect "too large" */
			if (!bigger) {
				fprintf(stderr, "pitwall import: %s: out of memory\n", path);
				rc = PW_ENOMEM;
				goto out;
			}
			buf = bigger;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				fprintf(stderr, "pitwall import: %s: %s\n", path, strerror(errno));
				goto out;
			}
			break;
		}
	}
	*out = buf;
	*len = n;
	buf = NULL;
	rc = PW_OK;
out:
	free(buf);
	fclose(f);
	return rc;
}

/* Opens (creating and migrating) the database, and a connection of our own
 * with foreign keys on. NULL on failure, logged. */
static sqlite3 *open_db(const char *path)
{
	struct store *st = store_open(path, STORE_READ_WRITE); /* migrations */
	sqlite3 *db = NULL;

	if (!st)
		return NULL;
	store_close(st);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
		log_error("import", "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static void print_errors(const struct import_report *rep)
{
	char line[512];

	for (int i = 0; i < rep->n_kept; i++) {
		import_error_format(rep, i, line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	if (rep->errors > rep->n_kept)
		fprintf(stderr, "%s: %ld more errors not shown\n", rep->name,
		        rep->errors - rep->n_kept);
	fprintf(stderr, "%s: nothing imported: %ld %s on %ld %s\n", rep->name, rep->errors,
	        rep->errors == 1 ? "error" : "errors", rep->bad_lines,
	        rep->bad_lines == 1 ? "line" : "lines");
}

int import_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"db", required_argument, NULL, 'd'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *config_path = NULL, *db_path = NULL, *csv_path;
	struct import_settings set;
	struct import_report *rep = NULL;
	struct import *im = NULL;
	enum import_kind kind;
	struct pw_config *cfg = NULL;
	sqlite3 *db = NULL;
	char *buf = NULL, err[PW_CONFIG_ERR_MAX];
	size_t len = 0;
	int c, rc, status = EXIT_USAGE;

	log_set_level(PW_LOG_WARN); /* stderr is for the file's errors; no chatter */
	/* SQLite's statement journal mallocs and frees 64 KiB per UPSERT that
	 * updates; with glibc's default trim threshold each free gives the heap
	 * top back to the kernel and the next row asks for it again (a brk pair
	 * per row: re-importing the sample took 8 times as long as importing it) */
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			db_path = optarg;
			break;
		case 'h':
			fputs(import_usage, stdout);
			return 0;
		default:
			fputs(import_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "pitwall import: expected KIND and FILE.csv\n%s", import_usage);
		return EXIT_USAGE;
	}
	if (import_kind_parse(argv[optind], &kind) != PW_OK) {
		fprintf(stderr,
		        "pitwall import: unknown kind '%s' (advisors, customers, vehicles, "
		        "appointments, policies, services)\n",
		        argv[optind]);
		return EXIT_USAGE;
	}
	csv_path = argv[optind + 1];

	cfg = malloc(sizeof(*cfg));
	rep = malloc(sizeof(*rep));
	if (!cfg || !rep) {
		fprintf(stderr, "pitwall import: out of memory\n");
		status = EXIT_RUNTIME;
		goto out;
	}
	config_defaults(cfg);
	if (config_path && config_load_file(cfg, config_path, err, sizeof(err)) != PW_OK) {
		fprintf(stderr, "pitwall import: %s\n", err);
		goto out;
	}
	if (!db_path)
		db_path = cfg->db.path;
	if (import_settings_init(&set, cfg->site.timezone, clock_real_ms()) != PW_OK) {
		fprintf(stderr,
		        "pitwall import: %s%ssite.timezone: '%s' is not supported (only zones "
		        "without daylight saving time, such as Asia/Shanghai or Etc/GMT-8)\n",
		        config_path ? config_path : "", config_path ? ": " : "",
		        cfg->site.timezone);
		goto out;
	}
	rc = read_file(csv_path, &buf, &len);
	if (rc != PW_OK) {
		status = rc == PW_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
		goto out;
	}
	status = EXIT_RUNTIME;
	db = open_db(db_path);
	if (!db)
		goto out;
	im = import_open(db, &set);
	if (!im)
		goto out;
	rc = import_csv(im, kind, csv_path, buf, len, rep);
	if (rc == PW_OK) {
		printf("imported %ld %s (%ld new, %ld updated) from %s\n", rep->rows,
		       import_kind_name(kind), rep->inserted, rep->updated, csv_path);
		status = 0;
	} else if (rc == PW_EINVAL) {
		print_errors(rep);
		status = EXIT_USAGE;
	} else {
		fprintf(stderr, "pitwall import: %s: import failed; nothing imported\n", csv_path);
	}
out:
	import_close(im);
	sqlite3_close(db);
	free(buf);
	free(rep);
	free(cfg);
	return status;
}
