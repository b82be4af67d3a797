/*
 * test_hub — the hand-off of frames to the lws thread: order, drop-oldest
 * when full (by frames and by bytes) with its counters, oversize refused,
 * one wake per burst (and again after a drain), and several producer
 * threads against a draining consumer losing nothing they were not told
 * about (run under TSan in CI).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "pw.h"

struct seen {
	int n;
	char json[64][32];
	int channel[64];
	unsigned flags[64];
	char vin[64][18];
};

static void collect(void *ctx, const struct hub_frame *f)
{
	struct seen *s = ctx;

	if (s->n < 64) {
		snprintf(s->json[s->n], sizeof(s->json[0]), "%.*s", (int)f->len, f->json);
		s->channel[s->n] = f->channel;
		s->flags[s->n] = f->flags;
		memcpy(s->vin[s->n], f->vin, sizeof(f->vin));
	}
	s->n++;
}

static int wakes;
static void count_wake(void *ctx)
{
	(void)ctx;
	wakes++;
}

static void push_str(struct hub *h, enum hub_channel ch, const char *vin, const char *s)
{
	assert_int_equal(hub_push(h, ch, vin, 0u, s, strlen(s)), PW_OK);
}

static void test_order_and_fields(void **state)
{
	struct hub *h = hub_new(8, 1024);
	struct seen s = {0};

	(void)state;
	push_str(h, HUB_ADVISOR, "LSVAG2180E2100001", "{\"a\":1}");
	push_str(h, HUB_WELCOME, NULL, "{\"b\":2}");
	assert_int_equal(hub_push(h, HUB_ADVISOR, "", HUB_PROMPT | HUB_MINOR, "{\"c\":3}", 7),
	                 PW_OK);
	assert_int_equal(hub_drain(h, collect, &s), 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.flags[0], 0);
	assert_int_equal(s.flags[2], HUB_PROMPT | HUB_MINOR);
	assert_string_equal(s.json[0], "{\"a\":1}");
	assert_string_equal(s.json[1], "{\"b\":2}");
	assert_string_equal(s.json[2], "{\"c\":3}");
	assert_int_equal(s.channel[0], HUB_ADVISOR);
	assert_int_equal(s.channel[1], HUB_WELCOME);
	assert_string_equal(s.vin[0], "LSVAG2180E2100001");
	assert_string_equal(s.vin[1], "");
	assert_int_equal(hub_pushed(h), 3);
	assert_int_equal(hub_dropped(h), 0);
	assert_int_equal(hub_drain(h, collect, &s), 0);
	hub_free(h);
	hub_free(NULL);
}

static void test_drop_oldest_by_frames(void **state)
{
	struct hub *h = hub_new(4, 1024);
	struct seen s = {0};
	char buf[16];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		push_str(h, HUB_ADVISOR, NULL, buf);
	}
	assert_int_equal(hub_pushed(h), 10);
	assert_int_equal(hub_dropped(h), 6);
	assert_int_equal(hub_drain(h, collect, &s), 4);
	assert_string_equal(s.json[0], "6");
	assert_string_equal(s.json[3], "9");
	hub_free(h);
}

static void test_drop_oldest_by_bytes(void **state)
{
	struct hub *h = hub_new(100, 30);
	struct seen s = {0};

	(void)state;
	push_str(h, HUB_ADVISOR, NULL, "aaaaaaaaaa");           /* 10 */
	push_str(h, HUB_ADVISOR, NULL, "bbbbbbbbbb");           /* 20 */
	push_str(h, HUB_ADVISOR, NULL, "cccccccccc");           /* 30: full */
	push_str(h, HUB_ADVISOR, NULL, "dddddddddddddddddddd"); /* 20: a and b go */
	assert_int_equal(hub_dropped(h), 2);
	assert_int_equal(hub_drain(h, collect, &s), 2);
	assert_string_equal(s.json[0], "cccccccccc");
	assert_string_equal(s.json[1], "dddddddddddddddddddd");
	hub_free(h);
}

static void test_large_frame_drops_many(void **state)
{
	/* more frames to drop than the push's batch of unlinked ones */
	struct hub *h = hub_new(1000, 100);
	struct seen s = {0};
	char big[101];

	(void)state;
	for (int i = 0; i < 50; i++)
		push_str(h, HUB_ADVISOR, NULL, "xx");
	memset(big, 'y', 100);
	big[100] = '\0';
	push_str(h, HUB_ADVISOR, NULL, big);
	assert_int_equal(hub_dropped(h), 50);
	assert_int_equal(hub_drain(h, collect, &s), 1);
	hub_free(h);
}

static void test_oversize_refused(void **state)
{
	struct hub *h = hub_new(4, 2 * HUB_FRAME_MAX);
	char *big = malloc(HUB_FRAME_MAX + 1);
	struct seen s = {0};

	(void)state;
	memset(big, 'x', HUB_FRAME_MAX + 1);
	push_str(h, HUB_ADVISOR, NULL, "keep");
	assert_int_equal(hub_push(h, HUB_ADVISOR, NULL, 0u, big, HUB_FRAME_MAX + 1), PW_ERANGE);
	assert_int_equal(hub_push(h, HUB_ADVISOR, NULL, 0u, big, HUB_FRAME_MAX), PW_OK);
	assert_int_equal(hub_dropped(h), 1);
	assert_int_equal(hub_drain(h, collect, &s), 2);
	assert_string_equal(s.json[0], "keep");
	free(big);
	hub_free(h);
}

static void test_wake_once_per_burst(void **state)
{
	struct hub *h = hub_new(100, 10000);
	struct seen s = {0};

	(void)state;
	wakes = 0;
	hub_set_wake(h, count_wake, NULL);
	for (int i = 0; i < 20; i++)
		push_str(h, HUB_ADVISOR, NULL, "x");
	assert_int_equal(wakes, 1);
	hub_drain(h, collect, &s);
	assert_int_equal(wakes, 1);
	push_str(h, HUB_ADVISOR, NULL, "y");
	push_str(h, HUB_ADVISOR, NULL, "z");
	assert_int_equal(wakes, 2);
	hub_drain(h, collect, &s);
	hub_drain(h, collect, &s); /* nothing new: no wake either */
	assert_int_equal(wakes, 2);
	assert_int_equal(s.n, 22);
	hub_free(h);
}

/* ---- threads ---------------------------------------------------------------- */

#define PRODUCERS    4
#define PER_PRODUCER 20000

struct mt {
	struct hub *h;
	int id;
	atomic_int *done;
	atomic_int *wakes;
	long got[PRODUCERS];
	long last[PRODUCERS]; /* last number seen from each producer */
	int out_of_order;
};

static void mt_wake(void *ctx)
{
	atomic_fetch_add((atomic_int *)ctx, 1);
}

static void *producer(void *arg)
{
	struct mt *m = arg;
	char buf[32];

	for (int i = 0; i < PER_PRODUCER; i++) {
		int n = snprintf(buf, sizeof(buf), "%d %d", m->id, i);

		hub_push(m->h, HUB_ADVISOR, NULL, 0u, buf, (size_t)n);
	}
	atomic_fetch_add(m->done, 1);
	return NULL;
}

static void mt_collect(void *ctx, const struct hub_frame *f)
{
	struct mt *m = ctx;
	int p = -1, i = -1;

	if (sscanf(f->json, "%d %d", &p, &i) != 2 || p < 0 || p >= PRODUCERS) {
		m->out_of_order++;
		return;
	}
	if (i <= m->last[p])
		m->out_of_order++;
	m->last[p] = i;
	m->got[p]++;
}

static void test_many_producers(void **state)
{
	atomic_int done = 0, wk = 0;
	struct hub *h = hub_new(256, 1 << 20);
	struct mt args[PRODUCERS], cons = {0};
	pthread_t t[PRODUCERS];
	long total = 0;

	(void)state;
	hub_set_wake(h, mt_wake, &wk);
	for (int p = 0; p < PRODUCERS; p++)
		cons.last[p] = -1;
	for (int p = 0; p < PRODUCERS; p++) {
		args[p] = (struct mt){.h = h, .id = p, .done = &done};
		assert_int_equal(pthread_create(&t[p], NULL, producer, &args[p]), 0);
	}
	while (atomic_load(&done) < PRODUCERS)
		hub_drain(h, mt_collect, &cons);
	for (int p = 0; p < PRODUCERS; p++)
		pthread_join(t[p], NULL);
	hub_drain(h, mt_collect, &cons);
	for (int p = 0; p < PRODUCERS; p++)
		total += cons.got[p];
	/* each producer's frames arrive in its order; every frame is either
	 * received or counted as dropped */
	assert_int_equal(cons.out_of_order, 0);
	assert_int_equal(hub_pushed(h), PRODUCERS * PER_PRODUCER);
	assert_int_equal((uint64_t)total + hub_dropped(h), PRODUCERS * PER_PRODUCER);
	assert_true(atomic_load(&wk) >= 1);
	assert_true(atomic_load(&wk) <= PRODUCERS * PER_PRODUCER);
	hub_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_fields),
	    cmocka_unit_test(test_drop_oldest_by_frames),
	    cmocka_unit_test(test_drop_oldest_by_bytes),
	    cmocka_unit_test(test_large_frame_drops_many),
	    cmocka_unit_test(test_oversize_refused),
	    cmocka_unit_test(test_wake_once_per_burst),
	    cmocka_unit_test(test_many_producers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
