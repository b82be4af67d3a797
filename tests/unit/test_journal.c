/*
 * test_journal — the commit log on a real file: records replay in order,
 * a torn or corrupted tail is detected and cut off, reset empties it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"

struct seen {
	int n;
	char topics[16][64];
	char payloads[16][64];
};

static int collect(void *ctx, const char *topic, size_t tlen, const void *payload, size_t plen)
{
	struct seen *s = ctx;

	if (s->n >= 16)
		return -1;
	snprintf(s->topics[s->n], 64, "%.*s", (int)tlen, topic);
	snprintf(s->payloads[s->n], 64, "%.*s", (int)plen, (const char *)payload);
	s->n++;
	return 0;
}

static void temp_path(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/pw-journal-test-%d-XXXXXX", (int)getpid());
	close(mkstemp(buf));
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void append_three(struct journal *j)
{
	assert_int_equal(journal_append(j, "t/a", 3, "{\"x\":1}", 7), 0);
	assert_int_equal(journal_append(j, "t/b", 3, "", 0), 0);
	assert_int_equal(journal_append(j, "t/c", 3, "{\"x\":3}", 7), 0);
}

static void test_replay_in_order(void **state)
{
	char path[128];
	struct journal *j;
	struct seen s = {0};
	long n = 0;

	(void)state;
	temp_path(path, sizeof(path));
	j = journal_open(path);
	assert_non_null(j);
	append_three(j);
	assert_int_equal(journal_records(j), 3);
	journal_close(j);

	j = journal_open(path); /* as after a crash: a new process reads it */
	assert_int_equal(journal_replay(j, collect, &s, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(s.topics[0], "t/a");
	assert_string_equal(s.payloads[0], "{\"x\":1}");
	assert_string_equal(s.payloads[1], "");
	assert_string_equal(s.topics[2], "t/c");
	assert_int_equal(journal_reset(j), 0);
	assert_int_equal(file_size(path), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(journal_replay(j, collect, &s, &n), 0);
	assert_int_equal(n, 0);
	journal_close(j);
	unlink(path);
}

static void test_torn_tail_is_cut(void **state)
{
	char path[128];
	struct journal *j;
	struct seen s = {0};
	long n = 0;
	off_t full;

	(void)state;
	temp_path(path, sizeof(path));
	j = journal_open(path);
	append_three(j);
	journal_close(j);
	full = file_size(path);
	/* every cut inside the last record leaves exactly two records */
	for (off_t cut = full - 1; cut > full - 20; cut--) {
		assert_int_equal(truncate(path, cut), 0);
		j = journal_open(path);
		memset(&s, 0, sizeof(s));
		assert_int_equal(journal_replay(j, collect, &s, &n), 0);
		assert_int_equal(n, 2);
		journal_close(j);
		assert_true(file_size(path) < cut); /* the torn part is gone */
		j = journal_open(path);
		assert_int_equal(journal_append(j, "t/c", 3, "{\"x\":3}", 7), 0);
		journal_close(j);
		full = file_size(path);
	}
	unlink(path);
}

static void test_corrupt_record_stops_replay(void **state)
{
	char path[128];
	struct journal *j;
	struct seen s = {0};
	long n = 0;
	FILE *f;

	(void)state;
	temp_path(path, sizeof(path));
	j = journal_open(path);
	append_three(j);
	journal_close(j);
	/* flip one payload byte of the first record */
	f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 12 + 3 + 2, SEEK_SET);
	fputc('Z', f);
	fclose(f);
	j = journal_open(path);
	assert_int_equal(journal_replay(j, collect, &s, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(file_size(path), 0);
	journal_close(j);
	unlink(path);
}

static void test_checksum_sees_every_byte(void **state)
{
	unsigned char buf[37];
	uint32_t base;

	(void)state;
	memset(buf, 0x41, sizeof(buf));
	base = journal_checksum(0, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] ^= 1;
		assert_true(journal_checksum(0, buf, sizeof(buf)) != base);
		buf[i] ^= 1;
	}
	assert_true(journal_checksum(0, buf, sizeof(buf) - 1) != base);
}

/* Deferred: appends stay in memory (the file does not grow) until
 * journal_write_deferred writes them all; then they replay like any. A
 * reset drops what is held; turning deferral off writes it. */
static void test_deferred_appends(void **state)
{
	char path[128];
	struct journal *j;
	struct seen s = {0};
	long n = 0;
	off_t one;

	(void)state;
	temp_path(path, sizeof(path));
	j = journal_open(path);
	journal_set_deferred(j, 1);
	append_three(j);
	assert_int_equal(journal_records(j), 3);
	assert_int_equal(file_size(path), 0);
	assert_int_equal(journal_write_deferred(j), 0);
	one = file_size(path);
	assert_true(one > 0);
	assert_int_equal(journal_write_deferred(j), 0); /* nothing held: nothing written */
	assert_int_equal(file_size(path), one);

	/* held, then reset (their messages are in SQLite): never written */
	assert_int_equal(journal_append(j, "t/d", 3, "{}", 2), 0);
	assert_int_equal(journal_reset(j), 0);
	assert_int_equal(journal_write_deferred(j), 0);
	assert_int_equal(file_size(path), 0);

	/* held, then deferral off: written, in order */
	append_three(j);
	journal_set_deferred(j, 0);
	assert_int_equal(file_size(path), one);
	assert_int_equal(journal_append(j, "t/e", 3, "{}", 2), 0); /* at once now */
	assert_true(file_size(path) > one);
	journal_close(j);

	j = journal_open(path);
	assert_int_equal(journal_replay(j, collect, &s, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(s.topics[0], "t/a");
	assert_string_equal(s.topics[2], "t/c");
	assert_string_equal(s.topics[3], "t/e");
	journal_close(j);
	unlink(path);
}

/* Closing writes what is held: a clean stop loses no record. */
static void test_deferred_close_writes(void **state)
{
	char path[128];
	struct journal *j;
	struct seen s = {0};
	long n = 0;

	(void)state;
	temp_path(path, sizeof(path));
	j = journal_open(path);
	journal_set_deferred(j, 1);
	append_three(j);
	journal_close(j);
	j = journal_open(path);
	assert_int_equal(journal_replay(j, collect, &s, &n), 0);
	assert_int_equal(n, 3);
	journal_close(j);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_in_order),
	    cmocka_unit_test(test_torn_tail_is_cut),
	    cmocka_unit_test(test_corrupt_record_stops_replay),
	    cmocka_unit_test(test_checksum_sees_every_byte),
	    cmocka_unit_test(test_deferred_appends),
	    cmocka_unit_test(test_deferred_close_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
