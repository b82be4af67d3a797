/*
 * log — one line per event on stderr:
 *
 *     2026-11-23T08:30:15.123Z warn  ingest: rejected message on pitwall/v1/...
 *
 * Any thread may log. Each line is formatted into a stack buffer and handed
 * to the kernel with one write(2) under a mutex, so lines from different
 * threads never interleave (the mutex only matters if a write comes back
 * short). The level filter is a C11 atomic: log_set_level() may race with
 * loggers on other threads. Timestamps are real UTC wall-clock time, not the
 * virtual clock, so logs line up with the system's own.
 *
 * Control characters in a message (it may quote a topic or a CSV cell) are
 * written as '?' so one event is always exactly one line; an over-long line
 * is cut and ends in "...". A struct log_limiter belongs to one thread.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "pw.h"

#define LOG_LINE_MAX 2048

static atomic_int log_level = PW_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum pw_log_level level)
{
	if (level < PW_LOG_ERROR)
		level = PW_LOG_ERROR;
	if (level > PW_LOG_DEBUG)
		level = PW_LOG_DEBUG;
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum pw_log_level log_get_level(void)
{
	return (enum pw_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_parse_level(const char *name, enum pw_log_level *out)
{
	if (!name || !out)
		return PW_EINVAL;
	for (size_t i = 0; i < PW_ARRAY_LEN(level_names); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum pw_log_level)i;
			return PW_OK;
		}
	}
	return PW_EINVAL;
}

static void write_all(const char *buf, size_t len)
{
	pthread_mutex_lock(&log_lock);
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* nowhere left to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum pw_log_level level, const char *module, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char ts[32];
	size_t head, len;
	va_list ap;
	int n;

	if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	if (level < PW_LOG_ERROR || level > PW_LOG_DEBUG)
		level = PW_LOG_ERROR;
	clock_format_iso8601(clock_real_ms(), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s %-5s %s: ", ts, level_names[level],
	             module ? module : "-");
	if (n < 0)
		return;
	head = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;

	va_start(ap, fmt);
	n = vsnprintf(line + head, sizeof(line) - head, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	len = head + (size_t)n;
	if (len > sizeof(line) - 2) {
		/* cut: room for "...\n" and the terminating NUL */
		len = sizeof(line) - 5;
		while (len > head && ((unsigned char)line[len] & 0xC0) == 0x80)
			len--; /* do not split a UTF-8 sequence */
		memcpy(line + len, "...", 3);
		len += 3;
	}
	for (size_t i = head; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			line[i] = '?';
	}
	line[len++] = '\n';
	write_all(line, len);
}

void log_limiter_init(struct log_limiter *l, int per_window, int64_t window_ms)
{
	memset(l, 0, sizeof(*l));
	l->per_window = per_window < 0 ? 0 : per_window;
	l->window_ms = window_ms < 1 ? 1 : window_ms;
	l->window_start_ms = INT64_MIN; /* the first call opens a window */
}

/* True when now_ms lies outside [start, start + window). */
static int window_over(const struct log_limiter *l, int64_t now_ms)
{
	if (l->window_start_ms == INT64_MIN || now_ms < l->window_start_ms)
		return 1; /* first call, or the clock stepped back */
	/* unsigned: the difference of two int64 values may not fit in one */
	return (uint64_t)now_ms - (uint64_t)l->window_start_ms >= (uint64_t)l->window_ms;
}

int log_limiter_allow(struct log_limiter *l, const char *module, int64_t now_ms)
{
	if (window_over(l, now_ms)) {
		if (l->suppressed > 0)
			log_msg(PW_LOG_WARN, module, "%ld similar lines suppressed", l->suppressed);
		l->window_start_ms = now_ms;
		l->used = 0;
		l->suppressed = 0;
	}
	if (l->used < l->per_window) {
		l->used++;
		return 1;
	}
	l->suppressed++;
	return 0;
}
