/*
 * clock — the one clock every time-dependent rule reads: real time, or the
 * contract's virtual clock  now = T + K * (real - anchor)  set by
 * --now T --speedup K --anchor UNIX_S. The gateway and pitwall-sim given the
 * same three values read the same time. Immutable once set: any thread.
 */
#ifndef PW_CLOCK_H
#define PW_CLOCK_H

#include <stddef.h>
#include <stdint.h>

struct pw_clock {
	int is_virtual;
	int64_t base_ms;        /* T */
	double speedup;         /* K */
	int64_t anchor_real_ms; /* anchor, real ms since epoch */
};

/* Real wall-clock time. */
void clock_init_real(struct pw_clock *c);
/* Virtual clock; anchor_unix_s < 0 means "now" (process start). speedup > 0
 * (PW_ERANGE otherwise). */
int clock_init_virtual(struct pw_clock *c, int64_t base_ms, double speedup, int64_t anchor_unix_s);

/* Milliseconds since the Unix epoch (UTC), virtual if set. */
int64_t clock_now_ms(const struct pw_clock *c);
/* Real wall-clock ms since epoch, ignoring any virtual setting. */
int64_t clock_real_ms(void);

/* Parses ISO 8601: "2026-11-23", "2026-11-23T08:30", "2026-11-23T08:30:15",
 * optional ".sss", optional "Z" or "+08:00"/"-0500". Without an offset the
 * time is UTC. PW_EINVAL on anything else (month 13, Feb 30, trailing junk). */
int clock_parse_iso8601(const char *s, int64_t *ms_out);
/* Same, and tells whether the text carried an offset ("Z" or "+08:00"):
 * *had_offset = 0 means the caller may treat the time as local (for example
 * CSV times in the site's time zone) and correct *ms_out itself.
 * had_offset may be NULL. */
int clock_parse_iso8601_ex(const char *s, int64_t *ms_out, int *had_offset);

/* Formats ms since epoch as "2026-11-23T08:30:15.000Z" into buf (>= 25 bytes). */
void clock_format_iso8601(int64_t ms, char *buf, size_t len);

#endif
