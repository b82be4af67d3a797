/*
 * clock — real time, or the contract's virtual clock
 *
 *     now = T + K * (real - anchor)
 *
 * set by --now T --speedup K --anchor UNIX_S. The gateway and pitwall-sim
 * both read time through clock_now_ms(), so given the same three values they
 * agree to the millisecond (the product is floored, never rounded, so both
 * sides step at the same real instant).
 *
 * A struct pw_clock is set once at start and then only read: any thread may
 * call clock_now_ms() on it. The ISO 8601 parser and formatter are pure and
 * do their own proleptic-Gregorian arithmetic (days_from_civil and
 * civil_from_days, after H. Hinnant), so they never touch TZ or locale.
 */
#include "clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pw.h"

#define MS_PER_DAY 86400000LL

int64_t clock_real_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_init_real(struct pw_clock *c)
{
	memset(c, 0, sizeof(*c));
	c->is_virtual = 0;
	c->speedup = 1.0;
}

int clock_init_virtual(struct pw_clock *c, int64_t base_ms, double speedup, int64_t anchor_unix_s)
{
	int64_t anchor_ms;

	if (!(speedup > 0.0) || !isfinite(speedup))
		return PW_ERANGE;
	if (anchor_unix_s < 0) {
		anchor_ms = clock_real_ms();
	} else {
		if (anchor_unix_s > INT64_MAX / 1000)
			return PW_ERANGE;
		anchor_ms = anchor_unix_s * 1000;
	}
	memset(c, 0, sizeof(*c));
	c->is_virtual = 1;
	c->base_ms = base_ms;
	c->speedup = speedup;
	c->anchor_real_ms = anchor_ms;
	return PW_OK;
}

int64_t clock_now_ms(const struct pw_clock *c)
{
	int64_t real = clock_real_ms();
	double step;

	if (!c || !c->is_virtual)
		return real;
	/* real - anchor in double: exact for any |difference| below 2^53 ms. */
	step = floor(c->speedup * ((double)real - (double)c->anchor_real_ms));
	if (step > 4e18)
		step = 4e18; /* centuries of virtual time: clamp, never overflow */
	else if (step < -4e18)
		step = -4e18;
	return c->base_ms + (int64_t)step;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n decimal digits at *p (no sign, no spaces); advances *p. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char ch = (*p)[i];

		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (ch - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int clock_parse_iso8601_ex(const char *s, int64_t *ms_out, int *had_offset)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off_min = 0, has_off = 0;
	int64_t ms;

	if (!s || !ms_out)
		return PW_EINVAL;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return PW_EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return PW_EINVAL;
	if (*p == 'T') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return PW_EINVAL;
		if (h > 23 || mi > 59)
			return PW_EINVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec) || sec > 59) /* no leap seconds */
				return PW_EINVAL;
			if (*p == '.') {
				int n = 0;

				p++;
				while (p[n] >= '0' && p[n] <= '9')
					n++;
				if (n < 1 || n > 3 || digits(&p, n, &frac))
					return PW_EINVAL;
				for (int i = n; i < 3; i++)
					frac *= 10;
			}
		}
		if (*p == 'Z') {
			p++;
			has_off = 1;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;

			if (digits(&p, 2, &oh))
				return PW_EINVAL;
			if (*p == ':')
				p++;
			if (digits(&p, 2, &om) || oh > 23 || om > 59)
				return PW_EINVAL;
			off_min = sign * (oh * 60 + om);
			has_off = 1;
		}
	}
	if (*p != '\0')
		return PW_EINVAL;

	ms = days_from_civil(y, mo, d) * MS_PER_DAY;
	ms += ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac;
	ms -= (int64_t)off_min * 60000;
	*ms_out = ms;
	if (had_offset)
		*had_offset = has_off;
	return PW_OK;
}

int clock_parse_iso8601(const char *s, int64_t *ms_out)
{
	return clock_parse_iso8601_ex(s, ms_out, NULL);
}

void clock_format_iso8601(int64_t ms, char *buf, size_t len)
{
	int64_t days, rem, y;
	int m, d;

	if (!buf || len == 0)
		return;
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
	         (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	         (int)(rem % 1000));
}
