/*
 * http — the gateway's one HTTP port, served by libwebsockets on a thread of
 * its own: GET /healthz, GET /metrics, the dashboard's static files and the
 * REST API under /api/ (api.c); the WebSocket grows here. Only the lws
 * thread touches lws objects; other threads reach it through http_wake()
 * (lws_cancel_service) and queues.
 */
#ifndef PW_HTTP_H
#define PW_HTTP_H

#include "clock.h"
#include "config.h"
#include "ctlq.h"
#include "hub.h"
#include "wgate.h"
#include "metrics.h"

struct http;

struct http_options {
	const char *listen;      /* "127.0.0.1:8080"; "[::1]:8080" or ":8080" (all) */
	const char *db_path;     /* opened read-only for health checks and reads */
	const char *static_dir;  /* dashboard/ files; may be NULL for none */
	struct metrics *metrics; /* borrowed; outlives the server */
	/* The REST API (api.c) runs when cfg is set; all borrowed, outlive it. */
	const struct pw_config *cfg;  /* http.session_ttl_s, site, rules */
	const struct pw_clock *clock; /* the gateway's (possibly virtual) clock */
	struct ctlq *ctlq;            /* API -> core: new maintenance thresholds */
	/* /ws (ws.h): the frames' hub (NULL: no /ws); it reads cfg too */
	struct hub *hub;
	struct wgate *gate; /* the lws thread's writes go through it (NULL: none) */
};

/* Binds the port and starts the service thread. NULL on failure (logged:
 * "http: cannot listen on 127.0.0.1:8080: Address in use"). */
struct http *http_start(const struct http_options *opt);
/* Wakes the service thread (lws_cancel_service): it then runs
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED, where queued work is drained. Any
 * thread; accepts NULL. */
void http_wake(struct http *h);
/* Stops the thread and frees everything; accepts NULL. */
void http_stop(struct http *h);
/* The port actually bound (useful with port 0). */
int http_port(const struct http *h);

#endif
