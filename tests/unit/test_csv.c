/*
 * test_csv — the RFC 4180 reader: plain and quoted fields, "" escapes,
 * commas and line breaks inside quotes, CRLF and LF, a BOM, blank lines,
 * physical line numbers, strict UTF-8 (GBK bytes, overlongs, surrogates,
 * truncated sequences), NUL bytes, stray quotes and carriage returns,
 * unterminated quotes, the field, record and column limits, ragged rows,
 * and that reading goes on after a bad record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

/* A reader over the string s (its strlen) or s[0..len). */
static struct csv *open_str(const char *s)
{
	struct csv *c = csv_new(s, strlen(s), NULL);

	assert_non_null(c);
	return c;
}

static void expect_record(struct csv *c, long line, int count, ...)
{
	struct csv_record r;
	va_list ap;

	assert_int_equal(csv_next(c, &r), PW_OK);
	assert_int_equal(r.line, line);
	assert_int_equal(r.count, count);
	va_start(ap, count);
	for (int i = 0; i < count; i++) {
		const char *want = va_arg(ap, const char *);

		assert_string_equal(r.fields[i], want);
		assert_int_equal(r.lens[i], strlen(want));
	}
	va_end(ap);
}

static void expect_bad(struct csv *c, long line, const char *why_part)
{
	struct csv_record r;

	assert_int_equal(csv_next(c, &r), PW_EINVAL);
	assert_int_equal(r.line, line);
	assert_int_equal(r.count, 0);
	if (!strstr(r.why, why_part))
		fail_msg("why \"%s\" lacks \"%s\"", r.why, why_part);
}

static void expect_end(struct csv *c)
{
	struct csv_record r;

	assert_int_equal(csv_next(c, &r), PW_ENOTFOUND);
	assert_int_equal(csv_next(c, &r), PW_ENOTFOUND); /* and stays there */
}

static void test_plain_lf(void **unused)
{
	struct csv *c = open_str("a,b,c\n1,2,3\nx,,\n");

	(void)unused;
	expect_record(c, 1, 3, "a", "b", "c");
	expect_record(c, 2, 3, "1", "2", "3");
	expect_record(c, 3, 3, "x", "", "");
	expect_end(c);
	csv_free(c);
}

static void test_crlf_and_no_final_break(void **unused)
{
	struct csv *c = open_str("a,b\r\n1,2\r\n3,4");

	(void)unused;
	expect_record(c, 1, 2, "a", "b");
	expect_record(c, 2, 2, "1", "2");
	expect_record(c, 3, 2, "3", "4");
	expect_end(c);
	csv_free(c);
}

static void test_quotes(void **unused)
{
	struct csv *c = open_str("\"a\",\"b,c\",\"say \"\"hi\"\"\"\n"
	                         "\"\",\"\"\"\",x\n"
	                         "\"line\nbreak\",\"crlf\r\ninside\",\"end\"\r\n"
	                         "after,\"李娜\",3\n");

	(void)unused;
	expect_record(c, 1, 3, "a", "b,c", "say \"hi\"");
	expect_record(c, 2, 3, "", "\"", "x");
	expect_record(c, 3, 3, "line\nbreak", "crlf\r\ninside", "end");
	expect_record(c, 6, 3, "after", "李娜", "3"); /* physical line 6 */
	expect_end(c);
	csv_free(c);
}

static void test_bom_and_blank_lines(void **unused)
{
	struct csv *c = open_str("\xEF\xBB\xBF"
	                         "id,name\r\n\r\n1,a\n\n\n2,b\n\n");

	(void)unused;
	expect_record(c, 1, 2, "id", "name"); /* the BOM is not part of "id" */
	expect_record(c, 3, 2, "1", "a");
	expect_record(c, 6, 2, "2", "b");
	expect_end(c);
	csv_free(c);
	/* a BOM later on is text (U+FEFF), not skipped */
	c = open_str("a\n\xEF\xBB\xBF"
	             "b\n");
	expect_record(c, 1, 1, "a");
	expect_record(c, 2, 1,
	              "\xEF\xBB\xBF"
	              "b");
	csv_free(c);
}

static void test_empty_inputs(void **unused)
{
	static const char *const empties[] = {"", "\xEF\xBB\xBF", "\n", "\r\n\r\n", "\n\n\n"};
	struct csv_record r;
	struct csv *c;

	(void)unused;
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		c = open_str(empties[i]);
		assert_int_equal(csv_next(c, &r), PW_ENOTFOUND);
		csv_free(c);
	}
	c = csv_new(NULL, 0, NULL);
	assert_non_null(c);
	assert_int_equal(csv_next(c, &r), PW_ENOTFOUND);
	csv_free(c);
	csv_free(NULL);
	/* one empty quoted field is a record */
	c = open_str("\"\"\n");
	expect_record(c, 1, 1, "");
	expect_end(c);
	csv_free(c);
}

static void test_ragged_rows(void **unused)
{
	struct csv *c = open_str("a,b,c\n1,2\n1,2,3,4\n1,2,3,\n");

	(void)unused;
	expect_record(c, 1, 3, "a", "b", "c");
	expect_record(c, 2, 2, "1", "2");
	expect_record(c, 3, 4, "1", "2", "3", "4");
	expect_record(c, 4, 4, "1", "2", "3", ""); /* a trailing comma is one more field */
	expect_end(c);
	csv_free(c);
}

static void test_bad_utf8(void **unused)
{
	static const struct {
		const char *bytes;
		const char *why;
	} cases[] = {
	    {"\xC0\xAF", "0xC0"},         /* overlong '/' */
	    {"\xE0\x80\x80", "0xE0"},     /* overlong NUL */
	    {"\xED\xA0\x80", "0xED"},     /* surrogate U+D800 */
	    {"\xF4\x90\x80\x80", "0xF4"}, /* above U+10FFFF */
	    {"\xF5\x80\x80\x80", "0xF5"},
	    {"\xFF", "0xFF"},
	    {"\x80", "0x80"},             /* continuation without a lead */
	    {"\xE4\xB8", "0xE4"},         /* truncated 中 (before the comma) */
	    {"\xC0\xEE\xC4\xC8", "0xC0"}, /* 李娜 in GBK */
	};
	char buf[128];

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct csv *c;

		snprintf(buf, sizeof(buf), "h1,h2\nok,fine\nx,%s,y\nnext,row\n", cases[i].bytes);
		c = open_str(buf);
		expect_record(c, 1, 2, "h1", "h2");
		expect_record(c, 2, 2, "ok", "fine");
		expect_bad(c, 3, cases[i].why);
		expect_record(c, 4, 2, "next", "row"); /* reading goes on */
		expect_end(c);
		csv_free(c);
	}
	/* truncated at the very end of the buffer */
	{
		struct csv *c = open_str("a\n\xE4\xB8");

		expect_record(c, 1, 1, "a");
		expect_bad(c, 2, "UTF-8");
		expect_end(c);
		csv_free(c);
	}
	/* the faulty line inside a multi-line quoted field */
	{
		struct csv *c = open_str("a\n\"one\ntwo\xFF\",x\nb\n");

		expect_record(c, 1, 1, "a");
		expect_bad(c, 3, "0xFF");
		expect_record(c, 4, 1, "b");
		csv_free(c);
	}
}

static void test_utf8_prefix(void **unused)
{
	(void)unused;
	assert_int_equal(csv_utf8_valid_prefix("abc", 3), 3);
	assert_int_equal(csv_utf8_valid_prefix("鲁A", strlen("鲁A")), 4);
	assert_int_equal(csv_utf8_valid_prefix("ab\xC0", 3), 2);
	assert_int_equal(csv_utf8_valid_prefix("\xF0\x9F\x9A\x97", 4), 4); /* U+1F697 */
	assert_int_equal(csv_utf8_valid_prefix("\xF0\x9F\x9A", 3), 0);
	assert_int_equal(csv_utf8_valid_prefix("\xEF\xBF\xBF", 3), 3); /* U+FFFF is allowed */
	assert_int_equal(csv_utf8_valid_prefix("", 0), 0);
}

static void test_nul_byte(void **unused)
{
	static const char data[] = "a,b\nx\0y,z\nok,1\n";
	struct csv *c = csv_new(data, sizeof(data) - 1, NULL);

	(void)unused;
	assert_non_null(c);
	expect_record(c, 1, 2, "a", "b");
	expect_bad(c, 2, "NUL");
	expect_record(c, 3, 2, "ok", "1");
	expect_end(c);
	csv_free(c);
}

static void test_stray_quotes_and_cr(void **unused)
{
	struct csv *c = open_str("a,b\n"
	                         "x\"y,1\n"     /* quote inside an unquoted field */
	                         "\"x\"y,1\n"   /* text after a closing quote */
	                         "\"x\" ,1\n"   /* even a space */
	                         "x\ry,1\n"     /* CR without LF */
	                         "good,\"2\"\n" /* and then a good one */
	);

	(void)unused;
	expect_record(c, 1, 2, "a", "b");
	expect_bad(c, 2, "quote inside unquoted field 1");
	expect_bad(c, 3, "after the closing quote of field 1");
	expect_bad(c, 4, "after the closing quote");
	expect_bad(c, 5, "carriage return");
	expect_record(c, 6, 2, "good", "2");
	expect_end(c);
	csv_free(c);
}

static void test_unterminated_quote(void **unused)
{
	struct csv *c = open_str("a,b\n1,2\n3,\"never\nclosed\n4,5\n");

	(void)unused;
	expect_record(c, 1, 2, "a", "b");
	expect_record(c, 2, 2, "1", "2");
	expect_bad(c, 3, "never closed"); /* where the quote opened */
	expect_end(c);
	csv_free(c);
}

static void test_limits(void **unused)
{
	struct csv_limits lim = {.field_max = 4, .record_max = 64, .columns_max = 3};
	static const char data[] = "abcd,1\n"        /* field at the limit */
	                           "abcde,1\n"       /* one byte over */
	                           "\"ab\"\"c\",1\n" /* 4 bytes after unquoting: fine */
	                           "a,b,c\n"         /* 3 columns: fine */
	                           "a,b,c,d\n"       /* 4: too many */
	                           "aaa,bbb,ccc,\n"  /* 4 again, by a trailing comma */
	                           "end,1\n";
	struct csv *c = csv_new(data, sizeof(data) - 1, &lim);

	(void)unused;
	assert_non_null(c);
	expect_record(c, 1, 2, "abcd", "1");
	expect_bad(c, 2, "field 1 longer than 4 bytes");
	expect_record(c, 3, 2, "ab\"c", "1");
	expect_record(c, 4, 3, "a", "b", "c");
	expect_bad(c, 5, "more than 3 fields");
	expect_bad(c, 6, "more than 3 fields");
	expect_record(c, 7, 2, "end", "1");
	expect_end(c);
	csv_free(c);
}

static void test_record_limit(void **unused)
{
	struct csv_limits lim = {.field_max = 100, .record_max = 16, .columns_max = 10};
	static const char data[] = "0123456789,12345\n" /* 16 bytes: fine */
	                           "0123456789,123456\n"
	                           "\"a\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\"\n" /* 19 bytes */
	                           "a,b,c,d,e,f,g,h,i\n"                   /* 17 bytes */
	                           "end,1\n";
	struct csv *c = csv_new(data, sizeof(data) - 1, &lim);

	(void)unused;
	assert_non_null(c);
	expect_record(c, 1, 2, "0123456789", "12345");
	expect_bad(c, 2, "record longer than 16 bytes");
	expect_bad(c, 3, "record longer than 16 bytes"); /* where the record starts */
	expect_bad(c, 19, "record longer than 16 bytes");
	expect_record(c, 20, 2, "end", "1");
	expect_end(c);
	csv_free(c);
}

static void test_default_limits(void **unused)
{
	size_t n = 11 * (CSV_FIELD_MAX + 1) + 64;
	char *big = malloc(n), *p = big;
	struct csv_record r;
	struct csv *c;

	(void)unused;
	assert_non_null(big);
	memset(p, 'x', CSV_FIELD_MAX); /* a field at the limit */
	p += CSV_FIELD_MAX;
	*p++ = '\n';
	memset(p, 'y', CSV_FIELD_MAX + 1); /* one over */
	p += CSV_FIELD_MAX + 1;
	*p++ = '\n';
	for (int i = 0; i < 8; i++) { /* 8 full fields: 8199 bytes > CSV_RECORD_MAX */
		memset(p, 'z', CSV_FIELD_MAX);
		p += CSV_FIELD_MAX;
		*p++ = i < 7 ? ',' : '\n';
	}
	memcpy(p, "end\n", 4);
	p += 4;
	c = csv_new(big, (size_t)(p - big), NULL);
	assert_non_null(c);
	assert_int_equal(csv_next(c, &r), PW_OK);
	assert_int_equal(r.lens[0], CSV_FIELD_MAX);
	expect_bad(c, 2, "longer than 1024 bytes");
	expect_bad(c, 3, "record longer than 8192 bytes");
	expect_record(c, 4, 1, "end");
	csv_free(c);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_lf),
	    cmocka_unit_test(test_crlf_and_no_final_break),
	    cmocka_unit_test(test_quotes),
	    cmocka_unit_test(test_bom_and_blank_lines),
	    cmocka_unit_test(test_empty_inputs),
	    cmocka_unit_test(test_ragged_rows),
	    cmocka_unit_test(test_bad_utf8),
	    cmocka_unit_test(test_utf8_prefix),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_stray_quotes_and_cr),
	    cmocka_unit_test(test_unterminated_quote),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_record_limit),
	    cmocka_unit_test(test_default_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
