/*
 * hub — the bounded hand-off of WebSocket frames to the lws thread (see
 * hub.h for the promises).
 *
 * The queue is a circular array of pointers to frames, each one allocation
 * (header and JSON together), guarded by one mutex held only to link or
 * unlink pointers: the copy into the new frame is made before the lock is
 * taken and the frames dropped to make room are freed after it is released.
 * Full (by frames or by bytes): the oldest frames go, counted in `dropped`.
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

struct qframe {
	enum hub_channel channel;
	char vin[18];
	size_t len;
	char json[]; /* len bytes and a NUL */
};

struct hub {
	pthread_mutex_t lock;
	struct qframe **q; /* circular, max_frames slots */
	size_t max_frames, max_bytes;
	size_t head, count, bytes; /* under lock */

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
	free(h->q);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void hub_set_wake(struct hub *h, void (*wake)(void *ctx), void *ctx)
{
	h->wake = wake;
	h->wake_ctx = ctx;
}

int hub_push(struct hub *h, enum hub_channel channel, const char *vin, const char *json, size_t len)
{
	struct qframe *f, *gone[8];
	size_t n_gone = 0;
	uint64_t dropped = 0;

	if (len > HUB_FRAME_MAX || len > h->max_bytes) {
		atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
		return PW_ERANGE;
	}
	f = malloc(sizeof(*f) + len + 1);
	if (!f) {
		atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
		return PW_ENOMEM;
	}
	f->channel = channel;
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
		/* a large frame needs more room than `gone` holds: free what
		 * was unlinked outside the lock, then go on */
		pthread_mutex_unlock(&h->lock);
		for (size_t i = 0; i < n_gone; i++)
			free(gone[i]);
		dropped += n_gone;
		n_gone = 0;
		pthread_mutex_lock(&h->lock);
	}
	h->q[(h->head + h->count) % h->max_frames] = f;
	h->count++;
	h->bytes += len;
	pthread_mutex_unlock(&h->lock);

	for (size_t i = 0; i < n_gone; i++)
		free(gone[i]);
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
		struct qframe *batch[64];
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
			                       .len = batch[i]->len,
			                       .json = batch[i]->json};

			memcpy(hf.vin, batch[i]->vin, sizeof(hf.vin));
			fn(ctx, &hf);
			free(batch[i]);
		}
		handed += n;
	}
	return handed;
}
