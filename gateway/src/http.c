/*
 * http — the gateway's one HTTP port: libwebsockets on a thread of its own.
 *
 * http_start() spawns the service thread, which creates the lws context and
 * vhost, binds the port, opens its own read-only store and reports back;
 * http_start() returns only once the port is bound (or binding failed). From
 * then on every lws object, the store connection and every struct conn
 * belong to that thread alone. Other threads reach it only through
 * http_wake() / http_stop(), which set an atomic flag and call
 * lws_cancel_service(), the one lws call that is safe from elsewhere (under
 * `lock`, so it never races the context's destruction).
 *
 * A request is routed through `routes[]` (exact paths or prefixes, each with
 * its allowed methods); what no route claims falls through to the static
 * dashboard files (http_static.c). "/api/" goes to api.c, which builds the
 * status, JSON body and extra headers (Set-Cookie, Allow, Retry-After) and
 * owns its read-write connection; this file only carries them. A login
 * answers later (its password check runs on api.c's worker): the
 * connection waits in PHASE_WAIT under a ticket in `pending[]`, and the
 * answer is collected in LWS_CALLBACK_EVENT_WAIT_CANCELLED after the
 * worker's http_wake(); a connection that closes meanwhile frees its slot,
 * so a late answer finds no ticket and is dropped. Request bodies (any
 * route) are collected up to 64 KiB; larger ones are drained and answered
 * 413. A response is built in memory (or is an open file) and written
 * from LWS_CALLBACK_HTTP_WRITEABLE: headers first, then the body in 16 KiB
 * chunks, one write per callback, so nothing ever blocks the loop.
 */
#include "http.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "api.h"
#include "http_static.h"
#include "log.h"
#include "pw.h"
#include "store.h"
#include "ws.h"

#define BODY_MAX          (64 * 1024)   /* contract: a larger request body is a 413 */
#define DRAIN_MAX         (1024 * 1024) /* a larger declared body is not read at all */
#define CHUNK             (16 * 1024)   /* body bytes per WRITEABLE callback */
#define METRICS_CAP_START (16 * 1024)
#define METRICS_CAP_MAX   (1024 * 1024)
#define PATH_MAX_REQ      2048 /* longest request path accepted */
#define DB_RETRY_S        1    /* reopen a missing read-only store at most this often */
#define PENDING_MAX       64   /* requests waiting for a worker's answer (logins) */
#define ARG_MAX           512  /* longest query argument ("q=...") taken */
#define COOKIE_MAX        4096 /* longest Cookie header read */

enum method {
	M_GET = 1u << 0,
	M_HEAD = 1u << 1,
	M_POST = 1u << 2,
	M_PUT = 1u << 3,
	M_PATCH = 1u << 4,
	M_DELETE = 1u << 5,
	M_OPTIONS = 1u << 6,
	M_OTHER = 1u << 7,
};

enum phase { PHASE_IDLE = 0, PHASE_BODY_IN, PHASE_WAIT, PHASE_HEADERS, PHASE_BODY_OUT };

struct conn;

/* A request whose answer comes later (api.c's login worker). */
struct pending {
	uint64_t ticket; /* 0: free */
	struct lws *wsi;
	struct conn *c;
};

struct http {
	char *listen;      /* as configured, for messages */
	char *iface;       /* NULL: all interfaces */
	int port_wanted;   /* 0: ephemeral */
	int ipv6;          /* listen address is IPv6 */
	char *db_path;     /* may be NULL */
	char *static_root; /* realpath of static_dir, or NULL */
	struct metrics *metrics;
	const struct pw_config *cfg; /* NULL: no API */
	const struct pw_clock *clock;
	struct ctlq *ctlq;
	struct wgate *gate;
	struct ws *ws; /* NULL: no /ws */

	pthread_t thread;
	atomic_int stop;
	atomic_int port;

	pthread_mutex_t lock; /* guards ctx (for lws_cancel_service) and start_state */
	pthread_cond_t started;
	int start_state; /* 0 starting, 1 running, -1 failed */
	struct lws_context *ctx;

	/* lws thread only */
	struct store *db;
	time_t db_tried_s;
	struct api *api; /* NULL: /api/ answers 503 */
	time_t api_tried_s;
	struct pending pending[PENDING_MAX];
	uint64_t next_ticket;
};

/* Per-connection (per-session) state, zeroed by lws, reused across the
 * requests of a keep-alive connection. lws thread only. */
struct conn {
	/* request */
	unsigned method;
	const struct route *route; /* NULL: static files */
	char path[PATH_MAX_REQ + 1];
	unsigned char *body; /* up to BODY_MAX, NUL-terminated; NULL when empty */
	size_t body_len;
	uint64_t body_seen;
	int body_too_large;

	/* response */
	enum phase phase;
	int status;
	const char *content_type; /* static strings */
	const char *cache_control;
	const char *allow;
	char set_cookie[API_COOKIE_MAX]; /* "" : none */
	int retry_after_s;               /* 0: none */
	uint64_t ticket;                 /* PHASE_WAIT: the answer's ticket */
	char etag[64];
	int head_only;   /* send headers (with the real Content-Length) only */
	int close_after; /* close the connection once the response is out */
	uint64_t content_length;
	unsigned char *out; /* LWS_PRE + body (memory response) or LWS_PRE + CHUNK (file) */
	size_t out_len;     /* memory response length */
	size_t out_sent;
	int file_open;
	int fd;
	uint64_t file_left;
};

typedef void (*route_fn)(struct http *h, struct lws *wsi, struct conn *c, const char *arg);

/* The routing table. Matched in order on the decoded path; `prefix` routes
 * match any path that starts with `path`. Later issues add here:
 *     {"/api/", 1, M_GET | M_HEAD | M_POST, "GET, HEAD, POST", route_api, NULL},
 * The WebSocket endpoint /ws is not an HTTP route: lws upgrades it before
 * LWS_CALLBACK_HTTP by the subprotocol named in the request, matched
 * against protocols[] below (pitwall.advisor.v1, pitwall.welcome.v1). */
struct route {
	const char *path;
	int prefix;
	unsigned methods;
	const char *allow; /* the Allow header of a 405 */
	route_fn handle;
	const char *arg; /* handler argument: the file for page routes */
};

static void route_healthz(struct http *h, struct lws *wsi, struct conn *c, const char *arg);
static void route_metrics(struct http *h, struct lws *wsi, struct conn *c, const char *arg);
static void route_page(struct http *h, struct lws *wsi, struct conn *c, const char *arg);
static void route_api(struct http *h, struct lws *wsi, struct conn *c, const char *arg);

#define M_ANY (M_GET | M_HEAD | M_POST | M_PUT | M_PATCH | M_DELETE | M_OPTIONS | M_OTHER)

static const struct route routes[] = {
    {"/api/", 1, M_ANY, NULL, route_api, NULL}, /* api.c answers 404 and 405 itself */
    {"/healthz", 0, M_GET | M_HEAD, "GET, HEAD", route_healthz, NULL},
    {"/metrics", 0, M_GET | M_HEAD, "GET, HEAD", route_metrics, NULL},
    {"/", 0, M_GET | M_HEAD, "GET, HEAD", route_page, "/index.html"},
    {"/welcome", 0, M_GET | M_HEAD, "GET, HEAD", route_page, "/welcome.html"},
};

static const char json_type[] = "application/json";
static const char no_store[] = "no-store";

/* ---- responses ---------------------------------------------------------- */

static void response_clear(struct conn *c)
{
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_sent = 0;
	if (c->file_open)
		close(c->fd);
	c->file_open = 0;
	c->fd = -1;
	c->file_left = 0;
	c->status = 0;
	c->content_type = c->cache_control = c->allow = NULL;
	c->set_cookie[0] = '\0';
	c->retry_after_s = 0;
	c->etag[0] = '\0';
	c->head_only = 0;
	c->content_length = 0;
	c->phase = PHASE_IDLE;
}

static void conn_clear(struct conn *c)
{
	response_clear(c);
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->body_seen = 0;
	c->body_too_large = 0;
	c->route = NULL;
	c->method = 0;
	c->path[0] = '\0';
	c->close_after = 0;
}

/* A response held in memory; copies `len` bytes of `data`. */
static void respond_buf(struct conn *c, int status, const char *type, const char *cache,
                        const void *data, size_t len)
{
	response_clear(c);
	c->out = malloc(LWS_PRE + len + 1);
	if (!c->out) {
		/* nothing left to say it with: drop the connection */
		c->status = 500;
		c->close_after = 1;
		c->content_type = json_type;
		c->cache_control = no_store;
		c->content_length = 0;
		return;
	}
	memcpy(c->out + LWS_PRE, data, len);
	c->out_len = len;
	c->status = status;
	c->content_type = type;
	c->cache_control = cache;
	c->content_length = len;
}

static void respond_json(struct conn *c, int status, const char *json)
{
	respond_buf(c, status, json_type, no_store, json, strlen(json));
}

static void respond_error(struct conn *c, int status, const char *message)
{
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", message);

	if (n < 0 || (size_t)n >= sizeof(body))
		n = snprintf(body, sizeof(body), "{\"error\":\"error\"}");
	respond_buf(c, status, json_type, no_store, body, (size_t)n);
}

/* True when the request's If-None-Match names `etag` (or is "*"). */
static int etag_matches(struct lws *wsi, const char *etag)
{
	char inm[256];
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH);

	if (n <= 0 || n >= (int)sizeof(inm))
		return 0;
	if (lws_hdr_copy(wsi, inm, sizeof(inm), WSI_TOKEN_HTTP_IF_NONE_MATCH) < 0)
		return 0;
	return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
}

/* Serves the static file `path` ("/js/app.js") or answers 404. */
static void serve_file(struct http *h, struct conn *c, struct lws *wsi, const char *path)
{
	struct http_static_file f;

	if (!h->static_root || http_static_open(h->static_root, path, &f) != PW_OK) {
		respond_error(c, 404, "not found");
		return;
	}
	response_clear(c);
	c->status = 200;
	c->content_type = f.content_type;
	c->cache_control = "no-cache"; /* revalidate by ETag: a deploy shows at once */
	c->content_length = f.size;
	http_static_etag(&f, c->etag, sizeof(c->etag));
	if (etag_matches(wsi, c->etag)) {
		close(f.fd);
		c->status = 304;
		c->head_only = 1;
		return;
	}
	c->out = malloc(LWS_PRE + CHUNK);
	if (!c->out) {
		close(f.fd);
		respond_error(c, 500, "out of memory");
		return;
	}
	c->fd = f.fd;
	c->file_open = 1;
	c->file_left = f.size;
}

/* ---- routes (lws thread) ------------------------------------------------ */

/* The read-only store, opened lazily on the lws thread (and reopened, at
 * most once a second, if it could not be opened before). */
static struct store *health_db(struct http *h)
{
	time_t now = time(NULL);

	if (h->db || !h->db_path)
		return h->db;
	if (h->db_tried_s && now - h->db_tried_s < DB_RETRY_S)
		return NULL;
	h->db_tried_s = now;
	h->db = store_open(h->db_path, STORE_READ_ONLY);
	return h->db;
}

static void route_healthz(struct http *h, struct lws *wsi, struct conn *c, const char *arg)
{
	struct store *db = health_db(h);
	int db_ok = db && store_ping(db) == PW_OK;
	int mqtt = h->metrics && metrics_mqtt_connected(h->metrics);
	char body[96]; /* the longest is 48 bytes */

	(void)wsi;
	(void)arg;
	snprintf(body, sizeof(body), "{\"ok\":%s,\"mqtt\":\"%s\",\"db\":\"%s\"}",
	         db_ok ? "true" : "false", mqtt ? "connected" : "disconnected",
	         db_ok ? "ok" : "error");
	respond_json(c, db_ok ? 200 : 503, body);
}

static void route_metrics(struct http *h, struct lws *wsi, struct conn *c, const char *arg)
{
	size_t cap = METRICS_CAP_START, len = 0;
	int rc = PW_ERANGE;

	(void)wsi;
	(void)arg;
	response_clear(c);
	if (!h->metrics) {
		respond_error(c, 404, "not found");
		return;
	}
	while (cap <= METRICS_CAP_MAX) {
		c->out = malloc(LWS_PRE + cap);
		if (!c->out)
			break;
		rc = metrics_render(h->metrics, (char *)c->out + LWS_PRE, cap, &len);
		if (rc != PW_ERANGE)
			break;
		free(c->out);
		c->out = NULL;
		cap *= 2;
	}
	if (rc != PW_OK) {
		log_error("http", "cannot render metrics (%d)", rc);
		respond_error(c, 500, "internal error");
		return;
	}
	c->out_len = len;
	c->status = 200;
	c->content_type = "text/plain; version=0.0.4; charset=utf-8";
	c->cache_control = no_store;
	c->content_length = len;
}

static void route_page(struct http *h, struct lws *wsi, struct conn *c, const char *arg)
{
	serve_file(h, c, wsi, arg);
}

static const char *method_name(unsigned m);

static void wake_cb(void *ctx)
{
	http_wake(ctx);
}

/* The REST API, opened on the lws thread (and again, at most once a
 * second, if it could not be opened before). NULL: /api/ answers 503. */
static struct api *api_of(struct http *h)
{
	time_t now = time(NULL);

	if (h->api || !h->cfg || !h->db_path)
		return h->api;
	if (h->api_tried_s && now - h->api_tried_s < DB_RETRY_S)
		return NULL;
	h->api_tried_s = now;
	h->api = api_open(&(struct api_options){.cfg = h->cfg,
	                                        .clock = h->clock,
	                                        .db_path = h->db_path,
	                                        .ctlq = h->ctlq,
	                                        .gate = h->gate,
	                                        .wake = wake_cb,
	                                        .wake_ctx = h});
	if (!h->api)
		log_error("http", "the REST API is unavailable (see above); /api/ answers 503");
	return h->api;
}

/* Carries api.c's answer into the connection's response. */
static void take_api_response(struct conn *c, struct api_response *r)
{
	if (r->status == 0 || (!r->body && r->status != 204)) {
		respond_error(c, 500, "internal error");
	} else {
		respond_buf(c, r->status, json_type, no_store, r->body ? r->body : "",
		            r->body ? r->body_len : 0);
		c->allow = r->allow;
		snprintf(c->set_cookie, sizeof(c->set_cookie), "%s", r->set_cookie);
		c->retry_after_s = r->retry_after_s;
	}
	free(r->body);
	r->body = NULL;
}

static struct pending *pending_slot(struct http *h, uint64_t ticket)
{
	for (int i = 0; i < PENDING_MAX; i++)
		if (h->pending[i].ticket == ticket)
			return &h->pending[i];
	return NULL;
}

/* The connection is going away (or starting over): forget its ticket. */
static void pending_drop(struct http *h, struct conn *c)
{
	struct pending *p;

	if (!c || !c->ticket)
		return;
	p = pending_slot(h, c->ticket);
	if (p && p->c == c)
		memset(p, 0, sizeof(*p));
	c->ticket = 0;
}

static void route_api(struct http *h, struct lws *wsi, struct conn *c, const char *arg)
{
	char *args[API_ARGS_MAX], cookie[COOKIE_MAX], remote[64];
	struct api_request rq;
	struct api_response r;
	int n_args = 0, n;

	(void)arg;
	if (!h->cfg) {
		respond_error(c, 404, "not found"); /* a server without the API */
		return;
	}
	/* lws hands the query string decoded, one "k=v" fragment per '&' */
	while (n_args < API_ARGS_MAX &&
	       (n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, n_args)) > 0) {
		if (n >= ARG_MAX) {
			for (int i = 0; i < n_args; i++)
				free(args[i]);
			respond_error(c, 400, "query argument too long");
			return;
		}
		args[n_args] = malloc((size_t)n + 1);
		if (!args[n_args] || lws_hdr_copy_fragment(wsi, args[n_args], n + 1,
		                                           WSI_TOKEN_HTTP_URI_ARGS, n_args) < 0) {
			free(args[n_args]);
			break;
		}
		n_args++;
	}
	n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE);
	if (n <= 0 || n >= (int)sizeof(cookie) ||
	    lws_hdr_copy(wsi, cookie, sizeof(cookie), WSI_TOKEN_HTTP_COOKIE) < 0)
		cookie[0] = '\0';
	remote[0] = '\0';
	lws_get_peer_simple(wsi, remote, sizeof(remote));

	memset(&rq, 0, sizeof(rq));
	rq.method = method_name(c->method);
	rq.path = c->path;
	rq.args = (const char *const *)args;
	rq.n_args = n_args;
	rq.cookie = cookie[0] ? cookie : NULL;
	rq.remote = remote;
	rq.body = (const char *)c->body;
	rq.body_len = c->body_len;
	rq.ticket = ++h->next_ticket;
	api_handle(api_of(h), &rq, &r);
	for (int i = 0; i < n_args; i++)
		free(args[i]);

	if (r.pending) {
		struct pending *p = pending_slot(h, 0);

		if (p) {
			*p = (struct pending){.ticket = rq.ticket, .wsi = wsi, .c = c};
			response_clear(c);
			c->ticket = rq.ticket;
			c->phase = PHASE_WAIT;
			return;
		}
		/* no slot: the late answer finds no ticket and is dropped */
		respond_error(c, 503, "busy");
		return;
	}
	take_api_response(c, &r);
}

/* lws thread, after http_wake(): the answers that came back. */
static void drain_api(struct http *h)
{
	struct api_response r;
	struct lws *wsi;
	uint64_t ticket;

	while (api_take_done(h->api, &ticket, &r)) {
		struct pending *p = pending_slot(h, ticket);
		struct conn *c;

		if (!ticket || !p) {
			free(r.body); /* the client left meanwhile */
			continue;
		}
		c = p->c;
		wsi = p->wsi;
		memset(p, 0, sizeof(*p));
		c->ticket = 0;
		if (c->phase != PHASE_WAIT) {
			free(r.body);
			continue;
		}
		take_api_response(c, &r);
		log_debug("http", "%s %s -> %d", method_name(c->method), c->path, c->status);
		c->phase = PHASE_HEADERS;
		lws_callback_on_writable(wsi);
	}
}

/* ---- request handling (lws thread) ------------------------------------- */

static const struct route *route_find(const char *path)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(routes); i++) {
		const struct route *r = &routes[i];

		if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0
		              : strcmp(path, r->path) == 0)
			return r;
	}
	return NULL;
}

static unsigned method_of(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes token;
		unsigned method;
	} tokens[] = {
	    {WSI_TOKEN_GET_URI, M_GET},         {WSI_TOKEN_HEAD_URI, M_HEAD},
	    {WSI_TOKEN_POST_URI, M_POST},       {WSI_TOKEN_PUT_URI, M_PUT},
	    {WSI_TOKEN_PATCH_URI, M_PATCH},     {WSI_TOKEN_DELETE_URI, M_DELETE},
	    {WSI_TOKEN_OPTIONS_URI, M_OPTIONS},
	};
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(tokens); i++)
		if (lws_hdr_total_length(wsi, tokens[i].token) > 0)
			return tokens[i].method;
	return M_OTHER;
}

static const char *method_name(unsigned m)
{
	switch (m) {
	case M_GET:
		return "GET";
	case M_HEAD:
		return "HEAD";
	case M_POST:
		return "POST";
	case M_PUT:
		return "PUT";
	case M_PATCH:
		return "PATCH";
	case M_DELETE:
		return "DELETE";
	case M_OPTIONS:
		return "OPTIONS";
	default:
		return "?";
	}
}

/* Builds the response for a complete request (headers and body in). */
static void dispatch(struct http *h, struct lws *wsi, struct conn *c)
{
	const struct route *r = c->route;
	unsigned m = c->method == M_HEAD ? (M_GET | M_HEAD) : c->method;

	if (r) {
		if (!(r->methods & m)) {
			respond_error(c, 405, "method not allowed");
			c->allow = r->allow;
		} else {
			r->handle(h, wsi, c, r->arg);
		}
	} else if (m & M_GET) {
		serve_file(h, c, wsi, c->path);
	} else {
		struct http_static_file f;

		/* a file that exists but was not asked for with GET: 405 */
		if (h->static_root && http_static_open(h->static_root, c->path, &f) == PW_OK) {
			close(f.fd);
			respond_error(c, 405, "method not allowed");
			c->allow = "GET, HEAD";
		} else {
			respond_error(c, 404, "not found");
		}
	}
	if (c->method == M_HEAD)
		c->head_only = 1;
}

/* Starts sending whatever response `c` holds. */
static int respond_now(struct lws *wsi, struct conn *c)
{
	if (c->phase == PHASE_WAIT)
		return 0; /* answered later (drain_api) */
	log_debug("http", "%s %s -> %d", method_name(c->method), c->path, c->status);
	c->phase = PHASE_HEADERS;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Reads Content-Length: 0 none, 1 present (*out set), -1 malformed. */
static int content_length(struct lws *wsi, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long v;
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);

	if (n <= 0)
		return 0;
	if (n >= (int)sizeof(buf) ||
	    lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0)
		return -1;
	if (buf[0] < '0' || buf[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 1;
}

static int on_request(struct http *h, struct lws *wsi, struct conn *c, const char *uri, size_t len)
{
	uint64_t cl = 0;
	int has_cl;

	pending_drop(h, c);
	conn_clear(c);
	c->method = method_of(wsi);

	/* lws has percent-decoded the path and collapsed "//", "/./", "/../";
	 * a decoded NUL would hide the rest of it from C string functions. */
	if (!uri || len == 0 || len > PATH_MAX_REQ || memchr(uri, '\0', len) || uri[0] != '/') {
		snprintf(c->path, sizeof(c->path), "(invalid)");
		c->close_after = 1;
		respond_error(c, 400, "bad request");
		return respond_now(wsi, c);
	}
	memcpy(c->path, uri, len);
	c->path[len] = '\0';
	c->route = route_find(c->path);

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		/* chunked request bodies are not taken: say so, then hang up */
		c->close_after = 1;
		respond_error(c, 411, "length required");
		return respond_now(wsi, c);
	}
	has_cl = content_length(wsi, &cl);
	if (has_cl < 0) {
		c->close_after = 1;
		respond_error(c, 400, "bad content-length");
		return respond_now(wsi, c);
	}
	if (!has_cl && (c->method & (M_POST | M_PUT | M_PATCH))) {
		c->close_after = 1;
		respond_error(c, 411, "length required");
		return respond_now(wsi, c);
	}
	if (cl > DRAIN_MAX) {
		/* not worth reading: answer and close without the body */
		c->close_after = 1;
		respond_error(c, 413, "request body too large");
		return respond_now(wsi, c);
	}
	if (cl > 0) {
		c->body_too_large = cl > BODY_MAX;
		c->phase = PHASE_BODY_IN; /* lws delivers it via HTTP_BODY */
		return 0;
	}
	dispatch(h, wsi, c);
	return respond_now(wsi, c);
}

static int on_body(struct conn *c, const void *in, size_t len)
{
	if (c->phase != PHASE_BODY_IN || !in || !len)
		return 0; /* a body after an early answer is dropped with the connection */
	c->body_seen += len;
	if (c->body_seen > BODY_MAX)
		c->body_too_large = 1;
	if (c->body_too_large) {
		free(c->body); /* drained, not kept */
		c->body = NULL;
		c->body_len = 0;
		return 0;
	}
	if (!c->body) {
		c->body = malloc(BODY_MAX + 1);
		if (!c->body)
			return -1;
	}
	memcpy(c->body + c->body_len, in, len);
	c->body_len += len;
	c->body[c->body_len] = '\0';
	return 0;
}

static int on_body_done(struct http *h, struct lws *wsi, struct conn *c)
{
	if (c->phase != PHASE_BODY_IN)
		return 0;
	if (c->body_too_large)
		respond_error(c, 413, "request body too large");
	else
		dispatch(h, wsi, c);
	return respond_now(wsi, c);
}

static int write_headers(struct lws *wsi, struct conn *c)
{
	unsigned char buf[LWS_PRE + 1024];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;

	if (lws_add_http_common_headers(wsi, (unsigned)c->status, c->content_type,
	                                (lws_filepos_t)c->content_length, &p, end))
		return -1;
	if (c->cache_control &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (const unsigned char *)c->cache_control,
	                                 (int)strlen(c->cache_control), &p, end))
		return -1;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
	                                (const unsigned char *)"nosniff", 7, &p, end))
		return -1;
	if (c->etag[0] &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ETAG, (const unsigned char *)c->etag,
	                                 (int)strlen(c->etag), &p, end))
		return -1;
	if (c->allow && lws_add_http_header_by_name(
	                    wsi, (const unsigned char *)"allow:", (const unsigned char *)c->allow,
	                    (int)strlen(c->allow), &p, end))
		return -1;
	if (c->set_cookie[0] &&
	    lws_add_http_header_by_name(
	        wsi, (const unsigned char *)"set-cookie:", (const unsigned char *)c->set_cookie,
	        (int)strlen(c->set_cookie), &p, end))
		return -1;
	if (c->retry_after_s > 0) {
		char ra[16];
		int n = snprintf(ra, sizeof(ra), "%d", c->retry_after_s);

		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
		                                (const unsigned char *)ra, n, &p, end))
			return -1;
	}
	if (c->close_after &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
	                                 5, &p, end))
		return -1;
	return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* The response is out: keep the connection for the next request, or not. */
static int finish(struct lws *wsi, struct conn *c)
{
	int close_it = c->close_after;

	conn_clear(c);
	if (close_it)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int on_writeable(struct lws *wsi, struct conn *c)
{
	unsigned char *data;
	size_t n;
	int last;

	switch (c->phase) {
	case PHASE_HEADERS:
		if (write_headers(wsi, c))
			return -1;
		if (c->head_only || c->content_length == 0)
			return finish(wsi, c);
		c->phase = PHASE_BODY_OUT;
		lws_callback_on_writable(wsi);
		return 0;
	case PHASE_BODY_OUT:
		break;
	default:
		return 0; /* a spurious callback: nothing to write yet */
	}

	if (c->file_open) {
		ssize_t got;

		n = c->file_left < CHUNK ? (size_t)c->file_left : CHUNK;
		got = read(c->fd, c->out + LWS_PRE, n);
		if (got <= 0)
			return -1; /* the file shrank under us: cut the connection */
		n = (size_t)got;
		c->file_left -= n;
		last = c->file_left == 0;
		data = c->out + LWS_PRE;
	} else {
		n = c->out_len - c->out_sent;
		if (n > CHUNK)
			n = CHUNK;
		/* lws may use the LWS_PRE bytes in front: those are sent already */
		data = c->out + LWS_PRE + c->out_sent;
		c->out_sent += n;
		last = c->out_sent == c->out_len;
	}
	if (lws_write(wsi, data, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	if (last)
		return finish(wsi, c);
	lws_callback_on_writable(wsi);
	return 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
	struct http *h = lws_context_user(lws_get_context(wsi));
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_request(h, wsi, c, in, len);
	case LWS_CALLBACK_HTTP_BODY:
		return on_body(c, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return on_body_done(h, wsi, c);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return c ? on_writeable(wsi, c) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c) {
			pending_drop(h, c);
			conn_clear(c);
		}
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return -1; /* no WebSocket without one of our subprotocols */
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* http_wake(): answers from api.c's login worker, frames for /ws */
		if (h) {
			drain_api(h);
			ws_service(h->ws);
		}
		return 0;
	default:
		return 0;
	}
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
	struct http *h = lws_context_user(lws_get_context(wsi));

	return ws_callback(h->ws, wsi, reason, user, in, len);
}

/* protocols[0] takes plain HTTP; then the /ws subprotocols (ws.c). */
static const struct lws_protocols protocols[] = {
    {"http", callback_http, sizeof(struct conn), 0, 0, NULL, 0},
    {WS_PROTOCOL_ADVISOR, callback_ws, WS_SESSION_BYTES, WS_RX_MAX, WS_ID_ADVISOR, NULL, 0},
    {WS_PROTOCOL_WELCOME, callback_ws, WS_SESSION_BYTES, WS_RX_MAX, WS_ID_WELCOME, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the service thread ------------------------------------------------- */

static void lws_log_to_ours(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_warn("lws", "%.*s", (int)n, line);
	else
		log_debug("lws", "%.*s", (int)n, line);
}

static void set_start_state(struct http *h, int state, struct lws_context *ctx)
{
	pthread_mutex_lock(&h->lock);
	h->start_state = state;
	h->ctx = ctx;
	pthread_cond_signal(&h->started);
	pthread_mutex_unlock(&h->lock);
}

/* Creates the context and its one listening vhost; NULL on failure, with
 * *err the errno lws left behind (0 if none). */
static struct lws_context *create_context(struct http *h, uint64_t ipv6_opts, int *port, int *err)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct lws_vhost *vh;

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | ipv6_opts;
	info.user = h;
	*err = 0;
	ctx = lws_create_context(&info);
	if (!ctx)
		return NULL;

	memset(&info, 0, sizeof(info));
	info.options = ipv6_opts;
	info.vhost_name = "pitwall";
	info.server_string = "pitwall";
	info.iface = h->iface;
	info.port = h->port_wanted;
	info.protocols = protocols;
	info.keepalive_timeout = 5;
	info.timeout_secs = 10;
	errno = 0;
	vh = lws_create_vhost(ctx, &info);
	*err = errno;
	*port = vh ? lws_get_vhost_listen_port(vh) : -1;
	if (!vh || *port <= 0) {
		lws_context_destroy(ctx);
		return NULL;
	}
	return ctx;
}

static void *service_main(void *arg)
{
	struct http *h = arg;
	struct lws_context *ctx;
	int err = 0, port = -1;

	if (h->ipv6) {
		ctx = create_context(
		    h, LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE,
		    &port, &err);
	} else if (h->iface) {
		ctx = create_context(h, LWS_SERVER_OPTION_DISABLE_IPV6, &port, &err);
	} else {
		/* all interfaces: dual-stack [::], or 0.0.0.0 where IPv6 is off */
		ctx = create_context(h, LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY, &port, &err);
		if (!ctx && err != EADDRINUSE)
			ctx = create_context(h, LWS_SERVER_OPTION_DISABLE_IPV6, &port, &err);
	}
	if (!ctx) {
		log_error("http", "cannot listen on %s: %s", h->listen,
		          err ? strerror(err) : "bind failed");
		set_start_state(h, -1, NULL);
		return NULL;
	}
	atomic_store(&h->port, port);
	(void)health_db(h); /* open now if we can; /healthz retries */
	(void)api_of(h);    /* the same for the API */
	log_info("http", "listening on %s (port %d)%s%s", h->listen, port,
	         h->static_root ? ", dashboard from " : "", h->static_root ? h->static_root : "");
	set_start_state(h, 1, ctx);

	while (!atomic_load(&h->stop))
		if (lws_service(ctx, 0) < 0)
			break;

	pthread_mutex_lock(&h->lock);
	h->ctx = NULL; /* no lws_cancel_service() from now on */
	pthread_mutex_unlock(&h->lock);
	lws_context_destroy(ctx);
	api_close(h->api); /* after the connections: none waits on its worker now */
	h->api = NULL;
	store_close(h->db);
	h->db = NULL;
	return NULL;
}

/* ---- public ------------------------------------------------------------- */

/* Splits "host:port", "[v6]:port", ":port" (all interfaces). */
static int parse_listen(struct http *h, const char *listen)
{
	const char *colon, *host = listen, *host_end;
	char *end;
	long port;

	if (!listen || !*listen)
		return PW_EINVAL;
	if (listen[0] == '[') {
		host = listen + 1;
		host_end = strchr(host, ']');
		if (!host_end || host_end[1] != ':' || host_end == host)
			return PW_EINVAL;
		colon = host_end + 1;
		h->ipv6 = 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || memchr(listen, ':', (size_t)(colon - listen)))
			return PW_EINVAL; /* bare IPv6 must be bracketed */
		host_end = colon;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
		return PW_EINVAL;
	h->port_wanted = (int)port;
	if (host_end > host) {
		size_t n = (size_t)(host_end - host);

		if (n == 9 && strncmp(host, "localhost", 9) == 0)
			h->iface = strdup("127.0.0.1");
		else
			h->iface = strndup(host, n);
		if (!h->iface)
			return PW_ENOMEM;
		if (!h->ipv6 && strchr(h->iface, ':'))
			h->ipv6 = 1;
	}
	return PW_OK;
}

static void http_free(struct http *h)
{
	if (!h)
		return;
	pthread_cond_destroy(&h->started);
	pthread_mutex_destroy(&h->lock);
	free(h->listen);
	free(h->iface);
	free(h->db_path);
	free(h->static_root);
	ws_free(h->ws);
	free(h);
}

struct http *http_start(const struct http_options *opt)
{
	struct http *h;
	int state;

	if (!opt || !opt->listen)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->started, NULL);
	atomic_init(&h->stop, 0);
	atomic_init(&h->port, 0);
	h->metrics = opt->metrics;
	h->cfg = opt->cfg;
	h->clock = opt->clock;
	h->ctlq = opt->ctlq;
	h->gate = opt->gate;
	h->listen = strdup(opt->listen);
	if (!h->listen)
		goto fail;
	if (parse_listen(h, opt->listen) != PW_OK) {
		log_error("http", "cannot listen on %s: not ADDR:PORT, [IPv6]:PORT or :PORT",
		          opt->listen);
		goto fail;
	}
	if (opt->db_path && !(h->db_path = strdup(opt->db_path)))
		goto fail;
	if (opt->hub && opt->cfg &&
	    !(h->ws = ws_new(&(struct ws_options){.cfg = opt->cfg,
	                                          .db_path = opt->db_path,
	                                          .hub = opt->hub,
	                                          .clock = opt->clock,
	                                          .gate = opt->gate,
	                                          .metrics = opt->metrics})))
		goto fail;
	if (opt->static_dir) {
		h->static_root = realpath(opt->static_dir, NULL);
		if (!h->static_root)
			log_warn("http", "static directory %s: %s; serving no dashboard",
			         opt->static_dir, strerror(errno));
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
	if (pthread_create(&h->thread, NULL, service_main, h) != 0) {
		log_error("http", "cannot start the HTTP thread");
		goto fail;
	}
	pthread_mutex_lock(&h->lock);
	while (h->start_state == 0)
		pthread_cond_wait(&h->started, &h->lock);
	state = h->start_state;
	pthread_mutex_unlock(&h->lock);
	if (state < 0) {
		pthread_join(h->thread, NULL);
		goto fail;
	}
	return h;
fail:
	http_free(h);
	return NULL;
}

void http_wake(struct http *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	if (h->ctx)
		lws_cancel_service(h->ctx);
	pthread_mutex_unlock(&h->lock);
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	atomic_store(&h->stop, 1);
	http_wake(h);
	pthread_join(h->thread, NULL);
	log_info("http", "stopped");
	http_free(h);
}

int http_port(const struct http *h)
{
	return h ? atomic_load(&((struct http *)h)->port) : 0;
}
