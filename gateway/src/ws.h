/*
 * ws — the WebSocket side of the HTTP port: /ws with the subprotocols
 * pitwall.advisor.v1 (needs a live console session, the pw_session cookie)
 * and pitwall.welcome.v1 (?display=TOKEN), fanning out the frames the hub
 * brings (docs/api.md "WebSocket /ws").
 *
 * http.c owns the lws context: it lists the two subprotocols in its
 * protocols[] with ws_callback() behind them, and calls ws_service() in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED (the hub's wake). Everything here runs
 * on the lws thread, except ws_new/ws_free (before it starts, after it
 * ended).
 */
#ifndef PW_WS_H
#define PW_WS_H

#include <stddef.h>
#include <libwebsockets.h>

#include "clock.h"
#include "config.h"
#include "hub.h"
#include "metrics.h"
#include "wgate.h"

#define WS_PROTOCOL_ADVISOR "pitwall.advisor.v1"
#define WS_PROTOCOL_WELCOME "pitwall.welcome.v1"
#define WS_ID_ADVISOR       1 /* lws_protocols.id of each */
#define WS_ID_WELCOME       2
#define WS_SESSION_BYTES    512               /* lws_protocols.per_session_data_size of both */
#define WS_RX_MAX           4096              /* a longer client message closes with 1009 */
#define WS_WATCH_MAX        200               /* vehicles a console may watch */
#define WS_BATCH_MS         250               /* a watching console's batched frames wait at most */
#define WS_RING_FRAMES      2048              /* frames the lws thread keeps for slow clients ... */
#define WS_RING_BYTES       (8 * 1024 * 1024) /* ... and bytes */

struct ws_options {
	const struct pw_config *cfg;  /* borrowed: origins, snapshot size, rules, site */
	const char *db_path;          /* opened on the lws thread: session and display
	                               * lookups, snapshots, their audit rows */
	struct hub *hub;              /* borrowed; drained by ws_service() */
	struct metrics *metrics;      /* borrowed; may be NULL */
	struct wgate *gate;           /* the audit row's write passes it; NULL: none */
	const struct pw_clock *clock; /* borrowed: the snapshot's "now" and "today";
	                               * NULL: real time */
};

struct ws;

/* NULL on allocation failure. Before the lws thread uses it. */
struct ws *ws_new(const struct ws_options *opt);
/* After the lws context is destroyed (its CLOSED callbacks come here).
 * Accepts NULL. */
void ws_free(struct ws *w);

/* The callback of both subprotocols (http.c forwards to it). lws thread. */
int ws_callback(struct ws *w, struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len);

/* lws thread, on LWS_CALLBACK_EVENT_WAIT_CANCELLED: moves the hub's frames
 * into the ring and asks to write to the clients that have some to read. */
void ws_service(struct ws *w);

#endif
