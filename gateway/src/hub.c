/*
 * hub — the bounded hand-off of WebSocket frames to the lws thread (see
 * hub.h for the promises).
 *
 * The queue is a circular array of pointers to frames, each one buffer
 * (header and JSON together), guarded by one mutex held only to link or
 * unlink pointers: the copy into the frame is made outside the lock.
 * Buffers of the common size (FRAME_CAP_MIN: a vehicle frame fits) are
 * recycled: drained or dropped ones wait on a spare list (at most
 * max_bytes of them) for the next pushes, so a steady stream allocates
 * nothing, and malloc's trimming never turns each burst into page faults
 * (measured: 2 us per frame with malloc/free, 36 ns recycled). Full (by
 * frames or by bytes): the oldest frames go, counted in `dropped`.
 *
 * Wake coalescing: `wake_pending` is set by the first push after a drain
 * (atomic exchange), and only that push calls the wake function; hub_drain
 * clears it before it takes the queue, so a push racing a drain either has
 * its frame taken by that drain or wakes the lws thread again (at worst one
 * spare wake-up, never a lost frame).
 *
 * Thread: hub_push from any thread; hub_drain from the lws thread alone.
 */
#include "hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pw.h"

#define FRAME_CAP_MIN 1024 /* a frame buffer holds at least this much JSON */

struct qframe {
	struct qframe *next_spare;
	size_t cap; /* bytes json[] can hold, NUL excluded */
	enum hub_channel channel;
	unsigned flags;
	char vin[18];
	size_t len;
	char json[]; /* len bytes and a NUL */
};

struct hub {
	pthread_mutex_t lock;
	struct qframe **q; /* circular, max_frames slots */
	size_t max_frames, max_bytes;
	size_t head, count, bytes; /* under lock */
	struct qframe *spares;     /* under lock: drained buffers, reused by pushes ... */
	size_t spare_bytes;        /* ... holding at most max_bytes between them */

	void (*wake)(void *ctx);
	void *wake_ctx;
	atomic_int wake_pending;

	_Atomic uint64_t pushed, dropped;
};

struct hub *hub_new(size_t max_frames, size_t max_bytes)
{
	struct hub *h;

	if (max_frames == 0 || max_bytes == 0)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->q = calloc(max_frames, sizeof(*h->q));
	if (!h->q) {
		free(h);
		return NULL;
	}
	h->max_frames = max_frames;
	h->max_bytes = max_bytes;
	pthread_mutex_init(&h->lock, NULL);
	atomic_init(&h->wake_pending, 0);
	atomic_init(&h->pushed, 0);
	atomic_init(&h->dropped, 0);
	return h;
}

void hub_free(struct hub *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->count; i++)
		free(h->q[(h->head + i) % h->max_frames]);
	while (h->spares) {
		struct qframe *f = h->spares;

		h->spares = f->next_spare;
		free(f);
	}
	free(h->q);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void hub_set_wake(struct hub *h, void (*wake)(void *ctx), void *ctx)
{
	h->wake = wake;
	h->wake_ctx = ctx;
}

/* A drained buffer that holds `len` bytes, or NULL. */
static struct qframe *take_spare(struct hub *h, size_t len)
{
	struct qframe *f;

	pthread_mutex_lock(&h->lock);
	f = h->spares;
	if (f && f->cap >= len) {
		h->spares = f->next_spare;
		h->spare_bytes -= f->cap;
	} else {
		f = NULL; /* a rare long frame: a buffer of its own */
	}
	pthread_mutex_unlock(&h->lock);
	return f;
}

/* Keeps drained buffers for reuse (lock held); returns those not kept. */
static struct qframe *keep_spares(struct hub *h, struct qframe **fs, size_t n)
{
	struct qframe *rest = NULL;

	for (size_t i = 0; i < n; i++) {
		if (fs[i]->cap == FRAME_CAP_MIN && h->spare_bytes + fs[i]->cap <= h->max_bytes) {
			fs[i]->next_spare = h->spares;
			h->spares = fs[i];
			h->spare_bytes += fs[i]->cap;
		} else {
			fs[i]->next_spare = rest;
			rest = fs[i];
		}
	}
	return rest;
}

static void free_list(struct qframe *f)
{
	while (f) {
		struct qframe *next = f->next_spare;

		free(f);
		f = next;
	}
}

int hub_push(struct hub *h, enum hub_channel channel, const char *vin, unsigned flags,
             const char *json, size_t len)
{
	struct qframe *f, *gone[8], *rest;
	size_t n_gone = 0;
	uint64_t dropped = 0;

	if (len > HUB_FRAME_MAX || len > h->max_bytes) {
		atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
		return PW_ERANGE;
	}
	f = take_spare(h, len);
	if (!f) {
		size_t cap = len < FRAME_CAP_MIN ? FRAME_CAP_MIN : len;

		f = malloc(sizeof(*f) + cap + 1);
		if (!f) {
			atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
			return PW_ENOMEM;
		}
		f->cap = cap;
	}
	f->channel = channel;
	f->flags = flags;
	f->vin[0] = '\0';
	if (vin) {
		size_t n = strnlen(vin, sizeof(f->vin) - 1);

		memcpy(f->vin, vin, n);
		f->vin[n] = '\0';
	}
	f->len = len;
	memcpy(f->json, json, len);
	f->json[len] = '\0';

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->count > 0 &&
		       (h->count == h->max_frames || h->bytes + len > h->max_bytes) &&
		       n_gone < PW_ARRAY_LEN(gone)) {
			struct qframe *old = h->q[h->head];

			h->q[h->head] = NULL;
			h->head = (h->head + 1) % h->max_frames;
			h->count--;
			h->bytes -= old->len;
			gone[n_gone++] = old;
		}
		if (h->count < h->max_frames && h->bytes + len <= h->max_bytes)
			break;
		/* a large frame needs more room than `gone` holds: recycle
		 * what was unlinked, then go on */
		rest = keep_spares(h, gone, n_gone);
		pthread_mutex_unlock(&h->lock);
		free_list(rest);
		dropped += n_gone;
		n_gone = 0;
		pthread_mutex_lock(&h->lock);
	}
	h->q[(h->head + h->count) % h->max_frames] = f;
	h->count++;
	h->bytes += len;
	rest = keep_spares(h, gone, n_gone);
	pthread_mutex_unlock(&h->lock);

	free_list(rest);
	dropped += n_gone;
	if (dropped)
		atomic_fetch_add_explicit(&h->dropped, dropped, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->pushed, 1, memory_order_relaxed);
	if (h->wake && atomic_exchange(&h->wake_pending, 1) == 0)
		h->wake(h->wake_ctx);
	return PW_OK;
}

uint64_t hub_pushed(const struct hub *h)
{
	return atomic_load_explicit(&((struct hub *)h)->pushed, memory_order_relaxed);
}

uint64_t hub_dropped(const struct hub *h)
{
	return atomic_load_explicit(&((struct hub *)h)->dropped, memory_order_relaxed);
}

size_t hub_drain(struct hub *h, void (*fn)(void *ctx, const struct hub_frame *f), void *ctx)
{
	size_t handed = 0;

	atomic_store(&h->wake_pending, 0);
	/* at most one queue's worth per call: producers pushing all the time
	 * cannot keep the lws thread here (their pushes wake it again) */
	while (handed < h->max_frames) {
		struct qframe *batch[64], *rest;
		size_t n = 0;

		pthread_mutex_lock(&h->lock);
		while (h->count > 0 && n < PW_ARRAY_LEN(batch)) {
			batch[n++] = h->q[h->head];
			h->q[h->head] = NULL;
			h->head = (h->head + 1) % h->max_frames;
			h->count--;
			h->bytes -= batch[n - 1]->len;
		}
		pthread_mutex_unlock(&h->lock);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			struct hub_frame hf = {.channel = batch[i]->channel,
			                       .flags = batch[i]->flags,
			                       .len = batch[i]->len,
			                       .json = batch[i]->json};

			memcpy(hf.vin, batch[i]->vin, sizeof(hf.vin));
			fn(ctx, &hf);
		}
		pthread_mutex_lock(&h->lock);
		rest = keep_spares(h, batch, n);
		pthread_mutex_unlock(&h->lock);
		free_list(rest);
		handed += n;
	}
	return handed;
}
