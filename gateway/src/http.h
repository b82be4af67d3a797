/*
 * http — the gateway's one HTTP port, served by libwebsockets on a thread of
 * its own: GET /healthz and GET /metrics now; the dashboard, REST API and
 * WebSocket grow here. Only the lws thread touches lws objects; other
 * threads reach it through http_wake() (lws_cancel_service) and queues.
 */
#ifndef PW_HTTP_H
#define PW_HTTP_H

#include "config.h"
#include "hub.h"
#include "metrics.h"

struct http;

struct http_options {
	const char *listen;      /* "127.0.0.1:8080"; "[::1]:8080" or ":8080" (all) */
	const char *db_path;     /* opened read-only for health checks and reads */
	const char *static_dir;  /* dashboard/ files; may be NULL for none */
	struct metrics *metrics; /* borrowed; outlives the server */

	/* /ws (ws.h): the frames' hub (NULL: no /ws) and the config it reads */
	struct hub *hub;
	const struct pw_config *cfg;
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
