/*
 * hub — the hand-off of pre-rendered WebSocket frames from the threads that
 * make them (the core: vehicle and arrival frames; the main thread: alert,
 * reminder and greeting frames from the outbox) to the lws thread, which
 * fans them out to the browsers (ws.c).
 *
 * Producers call hub_push(): a short mutex-protected copy into a bounded
 * queue, never a wait for a browser. When the queue is full the oldest
 * frames are dropped (and counted): a browser that misses frames is sent a
 * fresh snapshot, ingest never slows down for it. The first push after the
 * lws thread last drained calls the wake function, so a burst of frames
 * costs one wake-up, not one per frame (main.c's wake only sets a flag that
 * its loop turns into http_wake at the next tick).
 *
 * The lws thread calls hub_drain() when woken: every queued frame is moved
 * into its own ring (hub_ring_*), from which each client reads at its own
 * pace by sequence number; a client whose cursor the ring has overtaken is
 * resynchronised with a snapshot.
 */
#ifndef PW_HUB_H
#define PW_HUB_H

#include <stddef.h>
#include <stdint.h>

/* Who a frame is for. */
enum hub_channel {
	HUB_ADVISOR = 0, /* pitwall.advisor.v1: vehicle, alert, reminder, arrival */
	HUB_WELCOME = 1, /* pitwall.welcome.v1: greeting */
};

#define HUB_FRAME_MAX (16 * 1024) /* longest frame pushed; longer ones are refused */

struct hub;

/* A hub whose queue holds up to `max_frames` frames and `max_bytes` bytes.
 * NULL on allocation failure. */
struct hub *hub_new(size_t max_frames, size_t max_bytes);
void hub_free(struct hub *h);

/* Called (from the pushing thread) when the queue goes from empty to not
 * empty. Set once, before any push. */
void hub_set_wake(struct hub *h, void (*wake)(void *ctx), void *ctx);

/* A frame's flags. */
enum hub_flags {
	/* at once to every console, even one that asked for batches of what
	 * it does not show (ws.c "watch"): arrivals */
	HUB_PROMPT = 1u << 0,
	/* a vehicle refresh a list does not need (frames.h frames_minor): a
	 * watching console gets it only for a vehicle it shows in full */
	HUB_MINOR = 1u << 1,
};

/* Queues one frame (JSON text, `len` bytes, no NUL needed) for `channel`.
 * `vin` (may be NULL) names the vehicle a frame is about; `flags` are
 * enum hub_flags. Any thread. PW_OK, or PW_ERANGE for a frame over
 * HUB_FRAME_MAX (dropped). */
int hub_push(struct hub *h, enum hub_channel channel, const char *vin, unsigned flags,
             const char *json, size_t len);

/* Frames pushed, and frames dropped because the queue was full (metrics). */
uint64_t hub_pushed(const struct hub *h);
uint64_t hub_dropped(const struct hub *h);

/* One frame as the lws thread receives it. */
struct hub_frame {
	enum hub_channel channel;
	unsigned flags; /* enum hub_flags */
	char vin[18];   /* "" when none */
	size_t len;
	const char *json; /* valid during the callback only */
};

/* lws thread: hands every queued frame, oldest first, to `fn`. Returns the
 * number handed. */
size_t hub_drain(struct hub *h, void (*fn)(void *ctx, const struct hub_frame *f), void *ctx);

#endif
