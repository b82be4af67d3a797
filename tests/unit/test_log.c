/*
 * test_log — level names and the level filter, the line format on stderr
 * (captured by pointing fd 2 at a temporary file), one intact line per call
 * even from many threads, and the limiter's windows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "pw.h"

/* ---- stderr capture ---------------------------------------------------- */

static int saved_fd = -1;
static FILE *cap;

static void capture_start(void)
{
	cap = tmpfile();
	assert_non_null(cap);
	fflush(stderr);
	saved_fd = dup(STDERR_FILENO);
	assert_true(saved_fd >= 0);
	assert_true(dup2(fileno(cap), STDERR_FILENO) >= 0);
}

/* Stops capturing; returns what was written (malloc'd, NUL-terminated). */
static char *capture_end(void)
{
	long n;
	char *buf;

	assert_true(dup2(saved_fd, STDERR_FILENO) >= 0);
	close(saved_fd);
	saved_fd = -1;
	fseek(cap, 0, SEEK_END);
	n = ftell(cap);
	rewind(cap);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, cap), (size_t)n);
	buf[n] = '\0';
	fclose(cap);
	cap = NULL;
	return buf;
}

static int count_char(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static int setup(void **state)
{
	(void)state;
	log_set_level(PW_LOG_INFO);
	return 0;
}

/* ---- tests ------------------------------------------------------------- */

static void test_parse_level(void **state)
{
	enum pw_log_level lv = PW_LOG_INFO;

	(void)state;
	assert_int_equal(log_parse_level("error", &lv), 0);
	assert_int_equal(lv, PW_LOG_ERROR);
	assert_int_equal(log_parse_level("warn", &lv), 0);
	assert_int_equal(lv, PW_LOG_WARN);
	assert_int_equal(log_parse_level("info", &lv), 0);
	assert_int_equal(lv, PW_LOG_INFO);
	assert_int_equal(log_parse_level("debug", &lv), 0);
	assert_int_equal(lv, PW_LOG_DEBUG);

	lv = PW_LOG_WARN;
	assert_int_equal(log_parse_level("warning", &lv), PW_EINVAL);
	assert_int_equal(log_parse_level("WARN", &lv), PW_EINVAL);
	assert_int_equal(log_parse_level("", &lv), PW_EINVAL);
	assert_int_equal(log_parse_level("info ", &lv), PW_EINVAL);
	assert_int_equal(log_parse_level("trace", &lv), PW_EINVAL);
	assert_int_equal(log_parse_level(NULL, &lv), PW_EINVAL);
	assert_int_equal(log_parse_level("info", NULL), PW_EINVAL);
	assert_int_equal(lv, PW_LOG_WARN); /* untouched on failure */
}

static void test_set_get_level(void **state)
{
	(void)state;
	log_set_level(PW_LOG_DEBUG);
	assert_int_equal(log_get_level(), PW_LOG_DEBUG);
	log_set_level(PW_LOG_ERROR);
	assert_int_equal(log_get_level(), PW_LOG_ERROR);
	log_set_level(PW_LOG_INFO);
	assert_int_equal(log_get_level(), PW_LOG_INFO);
}

static void test_line_format(void **state)
{
	char *out;
	int64_t before, at;

	(void)state;
	before = clock_real_ms();
	capture_start();
	log_warn("ingest", "rejected %d messages on %s", 3, "pitwall/v1/x");
	out = capture_end();

	/* "2026-11-23T08:30:15.123Z warn  ingest: rejected 3 messages on pitwall/v1/x\n" */
	assert_int_equal(strlen(out), 24 + 1 + 5 + 1 + strlen("ingest: ") +
	                                  strlen("rejected 3 messages on pitwall/v1/x") + 1);
	assert_int_equal(out[23], 'Z');
	out[24] = '\0';
	assert_int_equal(clock_parse_iso8601(out, &at), 0);
	assert_true(at >= before - 1 && at <= clock_real_ms());
	assert_string_equal(out + 25, "warn  ingest: rejected 3 messages on pitwall/v1/x\n");
	free(out);

	capture_start();
	log_error("store", "e");
	log_info("http", "i");
	out = capture_end();
	assert_non_null(strstr(out, "Z error store: e\n"));
	assert_non_null(strstr(out, "Z info  http: i\n"));
	assert_int_equal(count_char(out, '\n'), 2);
	free(out);
}

static void test_level_filter(void **state)
{
	char *out;

	(void)state;
	capture_start();
	log_set_level(PW_LOG_WARN);
	log_debug("t", "debug-1");
	log_info("t", "info-1");
	log_warn("t", "warn-1");
	log_error("t", "error-1");
	log_set_level(PW_LOG_DEBUG);
	log_debug("t", "debug-2");
	log_set_level(PW_LOG_ERROR);
	log_warn("t", "warn-2");
	log_error("t", "error-2");
	out = capture_end();
	log_set_level(PW_LOG_INFO);

	assert_null(strstr(out, "debug-1"));
	assert_null(strstr(out, "info-1"));
	assert_non_null(strstr(out, "warn-1"));
	assert_non_null(strstr(out, "error-1"));
	assert_non_null(strstr(out, "debug-2"));
	assert_null(strstr(out, "warn-2"));
	assert_non_null(strstr(out, "error-2"));
	assert_int_equal(count_char(out, '\n'), 4);
	free(out);
}

static void test_one_line_per_call(void **state)
{
	char big[5000];
	char *out;

	(void)state;
	/* control characters from outside never split a line */
	capture_start();
	log_info("csv", "bad cell \"a\nb\rc\033[31m\" tab\tkept");
	out = capture_end();
	assert_int_equal(count_char(out, '\n'), 1);
	assert_non_null(strstr(out, "bad cell \"a?b?c?[31m\" tab\tkept\n"));
	free(out);

	/* an over-long message is cut, marked, and still one line */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_start();
	log_info("big", "%s", big);
	out = capture_end();
	assert_int_equal(count_char(out, '\n'), 1);
	assert_true(strlen(out) < 2048);
	assert_true(strlen(out) > 2000);
	assert_memory_equal(out + strlen(out) - 4, "...\n", 4);
	free(out);

	/* a cut never splits a UTF-8 character */
	for (size_t i = 0; i + 3 < sizeof(big); i += 3)
		memcpy(big + i, "\xe5\xbc\xa0", 3); /* 张 */
	big[sizeof(big) - 1 - (sizeof(big) - 1) % 3] = '\0';
	for (int shift = 0; shift < 3; shift++) {
		const char *body;
		size_t n;

		capture_start();
		log_info(shift == 0 ? "m" : shift == 1 ? "mm" : "mmm", "%s", big);
		out = capture_end();
		body = strstr(out, ": ") + 2;
		n = strlen(body) - 4; /* before "...\n" */
		assert_int_equal(n % 3, 0);
		free(out);
	}
}

#define THREADS 8
#define LINES   500

static void *log_thread(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < LINES; i++)
		log_info("thr", "thread=%d line=%d payload=%0200d", id, i, 0);
	return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
	pthread_t th[THREADS];
	char *out, *line, *save = NULL;
	int seen[THREADS] = {0};

	(void)state;
	capture_start();
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, log_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	out = capture_end();

	assert_int_equal(count_char(out, '\n'), THREADS * LINES);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int id, n;
		char zeros[256];

		assert_int_equal(strlen(line), 24 + 1 + 6 + 5 + strlen("thread=0 line=") +
		                                   strlen(strstr(line, "line=") + 5));
		assert_int_equal(sscanf(strstr(line, "thr: "),
		                        "thr: thread=%d line=%d payload=%255s", &id, &n, zeros),
		                 3);
		assert_true(id >= 0 && id < THREADS);
		assert_int_equal(n, seen[id]); /* each thread's lines in its order */
		seen[id]++;
		assert_int_equal(strlen(zeros), 200);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(seen[i], LINES);
	free(out);
}

static void test_limiter_windows(void **state)
{
	struct log_limiter l;
	char *out;

	(void)state;
	log_limiter_init(&l, 3, 1000);
	capture_start();
	/* window [10000, 11000): three lines, then silence */
	assert_true(log_limiter_allow(&l, "ingest", 10000));
	assert_true(log_limiter_allow(&l, "ingest", 10001));
	assert_true(log_limiter_allow(&l, "ingest", 10500));
	assert_false(log_limiter_allow(&l, "ingest", 10500));
	assert_false(log_limiter_allow(&l, "ingest", 10998));
	assert_false(log_limiter_allow(&l, "ingest", 10999));
	assert_int_equal(l.suppressed, 3);
	out = capture_end();
	assert_string_equal(out, ""); /* nothing reported until the window rolls */
	free(out);

	/* the next window opens at 11000 and reports what was dropped, once */
	capture_start();
	assert_true(log_limiter_allow(&l, "ingest", 11000));
	assert_int_equal(l.suppressed, 0);
	assert_true(log_limiter_allow(&l, "ingest", 11001));
	out = capture_end();
	assert_int_equal(count_char(out, '\n'), 1);
	assert_non_null(strstr(out, " warn  ingest: 3 similar lines suppressed\n"));
	free(out);

	/* a window with nothing dropped rolls over silently */
	capture_start();
	assert_true(log_limiter_allow(&l, "ingest", 13000));
	out = capture_end();
	assert_string_equal(out, "");
	free(out);

	/* a quiet gap longer than a window starts fresh */
	assert_true(log_limiter_allow(&l, "ingest", 13001));
	assert_true(log_limiter_allow(&l, "ingest", 13002));
	assert_false(log_limiter_allow(&l, "ingest", 13003));
	capture_start();
	assert_true(log_limiter_allow(&l, "ingest", 50000));
	out = capture_end();
	assert_non_null(strstr(out, "ingest: 1 similar lines suppressed\n"));
	free(out);

	/* a clock that steps back opens a new window instead of staying shut */
	assert_true(log_limiter_allow(&l, "ingest", 50001));
	assert_true(log_limiter_allow(&l, "ingest", 50002));
	assert_false(log_limiter_allow(&l, "ingest", 50003));
	capture_start();
	assert_true(log_limiter_allow(&l, "ingest", 1000));
	out = capture_end();
	assert_non_null(strstr(out, "1 similar lines suppressed"));
	free(out);
}

static void test_limiter_first_call_and_limits(void **state)
{
	struct log_limiter l;
	char *out;

	(void)state;
	/* the first call opens a window whatever the time, even 0 or negative */
	log_limiter_init(&l, 1, 100);
	assert_true(log_limiter_allow(&l, "m", -5));
	assert_false(log_limiter_allow(&l, "m", 0));
	assert_false(log_limiter_allow(&l, "m", 94));
	capture_start();
	assert_true(log_limiter_allow(&l, "m", 95));
	out = capture_end();
	assert_non_null(strstr(out, "m: 2 similar lines suppressed"));
	free(out);

	/* per_window 0: nothing passes, drops are still counted and reported */
	log_limiter_init(&l, 0, 1000);
	assert_false(log_limiter_allow(&l, "z", 0));
	assert_false(log_limiter_allow(&l, "z", 1));
	capture_start();
	assert_false(log_limiter_allow(&l, "z", 1000));
	out = capture_end();
	assert_non_null(strstr(out, "z: 2 similar lines suppressed"));
	free(out);

	/* nonsense arguments are clamped, never divide or loop */
	log_limiter_init(&l, -3, -1);
	assert_int_equal(l.per_window, 0);
	assert_int_equal(l.window_ms, 1);
	/* extreme times do not overflow */
	log_limiter_init(&l, 1, 1000);
	assert_true(log_limiter_allow(&l, "x", INT64_MIN + 1));
	assert_false(log_limiter_allow(&l, "x", INT64_MIN + 2));
	capture_start();
	assert_true(log_limiter_allow(&l, "x", INT64_MAX));
	out = capture_end();
	assert_non_null(strstr(out, "x: 1 similar lines suppressed"));
	free(out);

	/* the report respects the level filter like any warn line */
	log_limiter_init(&l, 1, 10);
	assert_true(log_limiter_allow(&l, "q", 0));
	assert_false(log_limiter_allow(&l, "q", 1));
	log_set_level(PW_LOG_ERROR);
	capture_start();
	assert_true(log_limiter_allow(&l, "q", 10));
	out = capture_end();
	log_set_level(PW_LOG_INFO);
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_parse_level, setup),
	    cmocka_unit_test_setup(test_set_get_level, setup),
	    cmocka_unit_test_setup(test_line_format, setup),
	    cmocka_unit_test_setup(test_level_filter, setup),
	    cmocka_unit_test_setup(test_one_line_per_call, setup),
	    cmocka_unit_test_setup(test_threads_do_not_interleave, setup),
	    cmocka_unit_test_setup(test_limiter_windows, setup),
	    cmocka_unit_test_setup(test_limiter_first_call_and_limits, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
