/*
 * test_clock — the virtual clock arithmetic (now = T + K * (real - anchor))
 * and the strict ISO 8601 parser and formatter. Calendar results are checked
 * against glibc's timegm()/gmtime_r(), an independent implementation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "pw.h"

static int64_t parse_ok(const char *s)
{
	int64_t ms = 0;
	int rc = clock_parse_iso8601(s, &ms);

	if (rc != 0)
		fail_msg("rejected valid \"%s\"", s);
	return ms;
}

static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {0};

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm) * 1000;
}

static void test_real_clock(void **state)
{
	struct pw_clock c;
	int64_t a, b, now;

	(void)state;
	clock_init_real(&c);
	assert_int_equal(c.is_virtual, 0);
	a = clock_real_ms();
	now = clock_now_ms(&c);
	b = clock_real_ms();
	assert_true(a <= now && now <= b);
	assert_true(a > 1700000000000LL); /* after 2023: CLOCK_REALTIME, in ms */
	/* NULL means real time too */
	now = clock_now_ms(NULL);
	assert_true(now >= b);
}

static void test_virtual_anchor_in_past(void **state)
{
	struct pw_clock c;
	int64_t t = parse_ok("2026-11-23T08:00:00Z");
	int64_t anchor_s = clock_real_ms() / 1000 - 100; /* 100 s ago */
	int64_t r1, r2, now;

	(void)state;
	assert_int_equal(clock_init_virtual(&c, t, 60.0, anchor_s), 0);
	assert_int_equal(c.is_virtual, 1);
	assert_int_equal(c.anchor_real_ms, anchor_s * 1000);
	r1 = clock_real_ms();
	now = clock_now_ms(&c);
	r2 = clock_real_ms();
	/* T + 60 * (real - anchor), real somewhere in [r1, r2] */
	assert_true(now >= t + 60 * (r1 - anchor_s * 1000));
	assert_true(now <= t + 60 * (r2 - anchor_s * 1000));
	/* about 100 s * 60 = 100 virtual minutes later */
	assert_true(now - t >= 6000 * 1000 && now - t < 6100 * 1000);
}

static void test_virtual_speedup_one_and_fraction(void **state)
{
	struct pw_clock c;
	int64_t t = parse_ok("2026-01-01"), r1, r2, now;

	(void)state;
	/* anchor "now": reads T at start, then runs at real speed */
	r1 = clock_real_ms();
	assert_int_equal(clock_init_virtual(&c, t, 1.0, -1), 0);
	now = clock_now_ms(&c);
	r2 = clock_real_ms();
	assert_true(now >= t && now <= t + (r2 - r1));

	/* K = 0.5, anchor 1000 s ago: 500 s later, floored to the ms */
	assert_int_equal(clock_init_virtual(&c, t, 0.5, clock_real_ms() / 1000 - 1000), 0);
	now = clock_now_ms(&c);
	assert_true(now - t >= 499 * 1000 && now - t <= 502 * 1000);

	/* anchor in the future: the clock reads before T */
	assert_int_equal(clock_init_virtual(&c, t, 2.0, clock_real_ms() / 1000 + 1000), 0);
	now = clock_now_ms(&c);
	assert_true(t - now > 1990 * 1000 && t - now <= 2002 * 1000);
}

static void test_virtual_two_clocks_agree(void **state)
{
	/* gateway and simulator given the same values read the same time */
	struct pw_clock a, b;
	int64_t anchor_s = clock_real_ms() / 1000 - 5;
	int64_t t = parse_ok("2026-11-23T08:30:00+08:00");

	(void)state;
	assert_int_equal(clock_init_virtual(&a, t, 1440.0, anchor_s), 0);
	assert_int_equal(clock_init_virtual(&b, t, 1440.0, anchor_s), 0);
	assert_int_equal(a.base_ms, b.base_ms);
	assert_int_equal(a.anchor_real_ms, b.anchor_real_ms);
	assert_true(a.speedup == b.speedup);
	int64_t x = clock_now_ms(&a), y = clock_now_ms(&b);
	assert_true(y >= x && y - x < 1440 * 50);
}

static void test_virtual_bad_args(void **state)
{
	struct pw_clock c;

	(void)state;
	assert_int_equal(clock_init_virtual(&c, 0, 0.0, -1), PW_ERANGE);
	assert_int_equal(clock_init_virtual(&c, 0, -1.0, -1), PW_ERANGE);
	assert_int_equal(clock_init_virtual(&c, 0, NAN, -1), PW_ERANGE);
	assert_int_equal(clock_init_virtual(&c, 0, INFINITY, -1), PW_ERANGE);
	assert_int_equal(clock_init_virtual(&c, 0, 1.0, INT64_MAX), PW_ERANGE);
	assert_int_equal(clock_init_virtual(&c, 0, 1.0, 0), 0); /* anchor at the epoch is fine */
}

static void test_parse_forms(void **state)
{
	int64_t base = utc_ms(2026, 11, 23, 0, 0, 0);

	(void)state;
	assert_int_equal(base, 1795392000000LL);
	assert_int_equal(parse_ok("2026-11-23"), base);
	assert_int_equal(parse_ok("2026-11-23T08:30"), base + (8 * 3600 + 30 * 60) * 1000LL);
	assert_int_equal(parse_ok("2026-11-23T08:30:15"),
	                 base + (8 * 3600 + 30 * 60 + 15) * 1000LL);
	assert_int_equal(parse_ok("2026-11-23T08:30:15Z"), parse_ok("2026-11-23T08:30:15"));
	assert_int_equal(parse_ok("2026-11-23T08:30:15.1Z") - parse_ok("2026-11-23T08:30:15Z"),
	                 100);
	assert_int_equal(parse_ok("2026-11-23T08:30:15.12Z") - parse_ok("2026-11-23T08:30:15Z"),
	                 120);
	assert_int_equal(parse_ok("2026-11-23T08:30:15.123Z") - parse_ok("2026-11-23T08:30:15Z"),
	                 123);
	assert_int_equal(parse_ok("2026-11-23T08:30:15.007"), parse_ok("2026-11-23T08:30:15") + 7);
	/* offsets: local time minus offset is UTC */
	assert_int_equal(parse_ok("2026-11-23T08:30+08:00"), base + 30 * 60 * 1000LL);
	assert_int_equal(parse_ok("2026-11-23T08:30+0800"), base + 30 * 60 * 1000LL);
	assert_int_equal(parse_ok("2026-11-22T19:30-05:00"), base + 30 * 60 * 1000LL);
	assert_int_equal(parse_ok("2026-11-22T19:30-0500"), base + 30 * 60 * 1000LL);
	assert_int_equal(parse_ok("2026-11-23T05:45:00+05:45"), base);
	assert_int_equal(parse_ok("2026-11-23T00:00-00:00"), base);
	/* edges of the calendar */
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("1969-12-31T23:59:59.999Z"), -1);
	assert_int_equal(parse_ok("2024-02-29"), utc_ms(2024, 2, 29, 0, 0, 0));
	assert_int_equal(parse_ok("2000-02-29"), utc_ms(2000, 2, 29, 0, 0, 0));
	assert_int_equal(parse_ok("2026-12-31T23:59:59.999Z"), utc_ms(2027, 1, 1, 0, 0, 0) - 1);
	assert_int_equal(parse_ok("2026-11-23T00:30+08:00"),
	                 base - 7 * 3600 * 1000LL - 30 * 60000LL);
}

static void test_parse_had_offset(void **state)
{
	int64_t ms;
	int off = -1;

	(void)state;
	assert_int_equal(clock_parse_iso8601_ex("2026-11-23T08:30", &ms, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(clock_parse_iso8601_ex("2026-11-23", &ms, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(clock_parse_iso8601_ex("2026-11-23T08:30Z", &ms, &off), 0);
	assert_int_equal(off, 1);
	assert_int_equal(clock_parse_iso8601_ex("2026-11-23T08:30+08:00", &ms, &off), 0);
	assert_int_equal(off, 1);
	assert_int_equal(clock_parse_iso8601_ex("2026-11-23T08:30", &ms, NULL), 0);
}

static void test_parse_every_day_against_timegm(void **state)
{
	(void)state;
	/* every day from 1899 to 2101 (leap rules at 1900, 2000, 2100) */
	for (int y = 1899; y <= 2101; y++) {
		for (int m = 1; m <= 12; m++) {
			for (int d = 1; d <= 31; d++) {
				char s[64];
				int64_t ms;
				struct tm tm = {0};
				time_t t;
				int valid;

				snprintf(s, sizeof(s), "%04d-%02d-%02dT13:07:59", y, m, d);
				tm.tm_year = y - 1900;
				tm.tm_mon = m - 1;
				tm.tm_mday = d;
				tm.tm_hour = 13;
				tm.tm_min = 7;
				tm.tm_sec = 59;
				t = timegm(&tm);
				/* timegm normalises Feb 30 to Mar 2: a real day keeps its mday */
				valid = tm.tm_mday == d && tm.tm_mon == m - 1;
				if (valid) {
					assert_int_equal(clock_parse_iso8601(s, &ms), 0);
					assert_int_equal(ms, (int64_t)t * 1000);
				} else {
					assert_int_equal(clock_parse_iso8601(s, &ms), PW_EINVAL);
				}
			}
		}
	}
}

static void test_format(void **state)
{
	char buf[32];

	(void)state;
	clock_format_iso8601(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	clock_format_iso8601(1795422615123LL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23T08:30:15.123Z");
	clock_format_iso8601(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
	clock_format_iso8601(utc_ms(2024, 2, 29, 23, 59, 59) + 5, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T23:59:59.005Z");
	/* exactly 25 bytes are enough; fewer truncate safely */
	clock_format_iso8601(1795422615123LL, buf, 25);
	assert_int_equal(strlen(buf), 24);
	clock_format_iso8601(1795422615123LL, buf, 11);
	assert_string_equal(buf, "2026-11-23");
	clock_format_iso8601(1795422615123LL, buf, 0); /* no write, no crash */
}

static void test_round_trip(void **state)
{
	char buf[32];
	int64_t back;

	(void)state;
	/* format then parse: identity over a sweep of instants, both sides of 1970 */
	for (int64_t ms = -5000000000000LL; ms < 5000000000000LL; ms += 987654321987LL / 100) {
		clock_format_iso8601(ms, buf, sizeof(buf));
		assert_int_equal(clock_parse_iso8601(buf, &back), 0);
		assert_int_equal(back, ms);
	}
	/* parse then format: canonical text comes back */
	const char *canon[] = {"2026-11-23T08:30:15.123Z", "2000-02-29T00:00:00.000Z",
	                       "1999-12-31T23:59:59.999Z", "2100-03-01T12:00:00.500Z"};
	for (size_t i = 0; i < PW_ARRAY_LEN(canon); i++) {
		assert_int_equal(clock_parse_iso8601(canon[i], &back), 0);
		clock_format_iso8601(back, buf, sizeof(buf));
		assert_string_equal(buf, canon[i]);
	}
	assert_int_equal(clock_parse_iso8601("2026-11-23T16:30:15.123+08:00", &back), 0);
	clock_format_iso8601(back, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23T08:30:15.123Z");
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2026",
	    "2026-11",
	    "2026-1-23",
	    "26-11-23",
	    "2026/11/23",
	    "20261123",
	    "2026-00-10",
	    "2026-13-01",
	    "2026-11-00",
	    "2026-11-31",
	    "2026-02-29", /* not a leap year */
	    "2100-02-29", /* century, not a leap year */
	    "2026-02-30",
	    "2026-04-31",
	    "2026-11-23T",
	    "2026-11-23T8:30",
	    "2026-11-23T08",
	    "2026-11-23T08:3",
	    "2026-11-23T24:00",
	    "2026-11-23T23:60",
	    "2026-11-23T23:59:60",
	    "2026-11-23T08:30:1",
	    "2026-11-23T08:30:15.",
	    "2026-11-23T08:30:15.1234",
	    "2026-11-23T08:30:15.12a",
	    "2026-11-23t08:30",
	    "2026-11-23 08:30",
	    "2026-11-23T08:30z",
	    "2026-11-23T08:30ZZ",
	    "2026-11-23T08:30+8",
	    "2026-11-23T08:30+08",
	    "2026-11-23T08:30+08:0",
	    "2026-11-23T08:30+24:00",
	    "2026-11-23T08:30+08:60",
	    "2026-11-23T08:30+08:00 ",
	    "2026-11-23Z",
	    "2026-11-23+08:00",
	    " 2026-11-23",
	    "2026-11-23\n",
	    "2026-11-23x",
	    "+2026-11-23",
	    "-026-11-23",
	    "2026-11-23T08:30:15Zjunk",
	    "２026-11-23",
	};
	int64_t ms = 42;

	(void)state;
	for (size_t i = 0; i < PW_ARRAY_LEN(bad); i++) {
		if (clock_parse_iso8601(bad[i], &ms) != PW_EINVAL)
			fail_msg("accepted bad \"%s\"", bad[i]);
	}
	assert_int_equal(ms, 42); /* never written on failure */
	assert_int_equal(clock_parse_iso8601(NULL, &ms), PW_EINVAL);
	assert_int_equal(clock_parse_iso8601("2026-11-23", NULL), PW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_clock),
	    cmocka_unit_test(test_virtual_anchor_in_past),
	    cmocka_unit_test(test_virtual_speedup_one_and_fraction),
	    cmocka_unit_test(test_virtual_two_clocks_agree),
	    cmocka_unit_test(test_virtual_bad_args),
	    cmocka_unit_test(test_parse_forms),
	    cmocka_unit_test(test_parse_had_offset),
	    cmocka_unit_test(test_parse_every_day_against_timegm),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_parse_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
