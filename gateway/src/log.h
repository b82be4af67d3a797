/*
 * log — one line per event on stderr: "2026-11-23T08:30:15.123Z warn ingest: ...".
 * Thread-safe (one locked write per line). A log_limiter caps a noisy source
 * (say, rejected messages) to N lines per window and reports what it dropped.
 */
#ifndef PW_LOG_H
#define PW_LOG_H

#include <stdint.h>

enum pw_log_level { PW_LOG_ERROR = 0, PW_LOG_WARN, PW_LOG_INFO, PW_LOG_DEBUG };

void log_set_level(enum pw_log_level level);
enum pw_log_level log_get_level(void);
/* "error" | "warn" | "info" | "debug" -> level; PW_EINVAL otherwise. */
int log_parse_level(const char *name, enum pw_log_level *out);

void log_msg(enum pw_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_msg(PW_LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(PW_LOG_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_msg(PW_LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(PW_LOG_DEBUG, mod, __VA_ARGS__)

/* Allows at most `per_window` lines per `window_ms`; owned by one thread. */
struct log_limiter {
	int64_t window_ms;
	int per_window;
	int64_t window_start_ms;
	int used;
	long suppressed; /* dropped in the current window, reported when it rolls over */
};
void log_limiter_init(struct log_limiter *l, int per_window, int64_t window_ms);
/* True if a line may be written now. When a window rolls over with lines
 * suppressed, logs "N similar lines suppressed" under `module` first. */
int log_limiter_allow(struct log_limiter *l, const char *module, int64_t now_ms);

#endif
