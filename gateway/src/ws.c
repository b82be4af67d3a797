/*
 * ws — /ws: the handshake's checks, the ring of frames, per-client cursors
 * and snapshots (see ws.h for the contract with http.c).
 *
 * Handshake (LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION): the path must be
 * /ws; the Origin must be http(s):// + the Host header or one of
 * http.allowed_origins; an advisor needs a live session from the
 * pw_session cookie (auth_session_lookup), a welcome display a known
 * ?display=TOKEN (auth_display_lookup). Anything else is answered 403.
 *
 * Frames: ws_service() drains the hub into `ring`, which numbers every
 * frame (seq) and keeps the newest WS_RING_FRAMES / WS_RING_BYTES of them,
 * each with LWS_PRE bytes in front for lws. A client is a cursor (the next
 * seq it reads). On WRITEABLE it is given the frames of its channel from
 * its cursor on, while the socket takes them (lws_send_pipe_choked): as
 * many as fit in BATCH_MAX bytes, each framed here (RFC 6455: FIN, text,
 * unmasked, its length) into one buffer that goes out in one raw write —
 * one syscall for a burst instead of one per frame, which is what lets a
 * couple of hundred consoles follow a busy store. A client the ring has overtaken (it read
 * too slowly, or the hub itself dropped frames) gets a fresh snapshot
 * instead, its cursor jumping to the head: nothing here ever waits for a
 * client, and a client that never reads costs one buffered write. Welcome
 * displays have no snapshot: an overtaken one just skips ahead.
 *
 * Watch: by default a console is sent every frame at the next wake (the
 * main loop's tick, 20 ms). A console may name the vehicles it shows in
 * full ({"type":"watch","vins":[...]}, docs/api.md): then only their
 * vehicle frames and arrivals (HUB_PROMPT) go at once; the others' minor
 * refreshes (HUB_MINOR: all but one per vehicle per FRAMES_LIST_MS) are not
 * sent to it at all; everything else waits for a batch — sent along with the next frame that goes
 * at once, or WS_BATCH_MS after the oldest waiting one (a per-connection lws timer), or when they
 * fill an eighth of the ring. Each write to a socket costs the kernel's whole send path (a loopback
 * client's receive path too), and a store's list consoles each getting a few writes a second
 * instead of one at every tick is most of what 200 of them cost; a quarter of a second is still "at
 * once" for a person reading a list.
 *
 * Snapshots (snapshot.c) are built from this thread's own connection
 * (read-write: each one writes its audit row; short busy timeout) and sent
 * in SNAP_CHUNK fragments, one per callback.
 */
#include "ws.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "auth.h"
#include "clock.h"
#include "decode.h"
#include "log.h"
#include "pw.h"
#include "snapshot.h"
#include "store.h"

#define BATCH_MAX     (64 * 1024) /* frame bytes written per WRITEABLE callback */
#define RING_CAP_KEEP 1024        /* a ring slot keeps a buffer this big: a vehicle frame fits */
#define SNAP_CHUNK    (16 * 1024) /* snapshot bytes per fragment */
#define DB_BUSY_MS    250         /* the lws thread never waits longer for SQLite */
#define DB_RETRY_S    1
#define CUSTOMERS_MAX (200 * 24) /* audit: the customer ids a snapshot shows */
#define HDR_MAX       512
#define COOKIE_MAX    4096 /* a Cookie header carries the site's other cookies too */
/* A snapshot reads SQLite, which the core's group commit fills a little
 * after a message's frame is pushed (at most INGEST_GROUP_MS, 200, later:
 * ingest.h): the vehicle frames of this last stretch are sent again after
 * a snapshot, so no vehicle's last change falls between the two. */
#define REPLAY_MS 500

struct slot {
	uint64_t seq;
	int64_t added_ms; /* monotonic */
	int vehicle;      /* a vehicle frame (it has a vin): replayed after a snapshot */
	int prompt;       /* HUB_PROMPT: at once even to a watching console */
	int minor;        /* HUB_MINOR: a watching console gets it only if it shows the vehicle */
	int channel;
	char vin[18];
	size_t len;
	unsigned char *buf; /* LWS_PRE + len used of cap: kept when the slot is
	                     * reused, so a steady stream allocates nothing */
	size_t cap;
};

struct client {
	struct client *prev, *next;
	struct lws *wsi;
	int channel; /* HUB_ADVISOR or HUB_WELCOME */
	int linked;
	int need_snapshot;
	uint64_t cursor;
	uint64_t replay_end; /* below it, only vehicle frames (replayed after a snapshot) */
	unsigned char *snap; /* LWS_PRE + snap_len, being sent */
	size_t snap_len, snap_sent;
	size_t rx_len;                 /* bytes of the client message being received */
	char *rx;                      /* its text (WS_RX_MAX), while one comes in */
	char (*watch)[PW_VIN_LEN + 1]; /* sorted; the vehicles it shows */
	int n_watch;
	int watching;       /* it sent a watch: what it does not show is batched */
	int64_t bulk_since; /* monotonic ms its oldest unsent batched frame came; 0 none */
	char user_id[AUTH_DISPLAY_MAX + 16]; /* the user, or "display:<name>" (logs, audit) */
	char remote[64];
};
_Static_assert(sizeof(struct client) <= WS_SESSION_BYTES, "WS_SESSION_BYTES too small");

struct ws {
	struct ws_options opt;
	/* lws thread only */
	unsigned char *batch; /* LWS_PRE + BATCH_MAX: the frames of one raw write */
	struct store *db;
	struct snapshot *snap;
	time_t db_tried_s;
	struct slot ring[WS_RING_FRAMES];
	uint64_t head, tail; /* seqs: next to assign, oldest kept */
	size_t ring_bytes;
	uint64_t hub_dropped_seen;
	struct client *clients;
	long n_clients;
};

struct ws *ws_new(const struct ws_options *opt)
{
	struct ws *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->opt = *opt;
	return w;
}

/* Forgets the oldest frame; each client that had yet to read it has lost
 * it (counted now: a client that never reads never comes back to say). */
static void ring_evict(struct ws *w)
{
	struct slot *s = &w->ring[w->tail % WS_RING_FRAMES];
	uint64_t lost = 0;

	for (struct client *c = w->clients; c; c = c->next)
		if (c->cursor <= s->seq && c->channel == s->channel)
			lost++;
	if (lost && w->opt.metrics)
		metrics_count_ws_dropped(w->opt.metrics, lost);

	w->ring_bytes -= s->len;
	s->len = 0; /* the buffer stays for the slot's next frame */
	w->tail++;
}

void ws_free(struct ws *w)
{
	if (!w)
		return;
	w->clients = NULL; /* their memory went with the lws context */
	for (size_t i = 0; i < WS_RING_FRAMES; i++)
		free(w->ring[i].buf);
	free(w->batch);
	snapshot_close(w->snap);
	store_close(w->db);
	free(w);
}

/* ---- the lws thread's database ---------------------------------------------- */

static sqlite3 *db_get(struct ws *w)
{
	time_t now = time(NULL);

	if (w->snap)
		return (sqlite3 *)store_sqlite(w->db);
	if (!w->opt.db_path || (w->db_tried_s && now - w->db_tried_s < DB_RETRY_S))
		return NULL;
	w->db_tried_s = now;
	if (!w->db) {
		w->db = store_open(w->opt.db_path, STORE_READ_WRITE);
		if (!w->db)
			return NULL;
		sqlite3_busy_timeout((sqlite3 *)store_sqlite(w->db), DB_BUSY_MS);
	}
	w->snap = snapshot_open((sqlite3 *)store_sqlite(w->db), w->opt.cfg);
	return w->snap ? (sqlite3 *)store_sqlite(w->db) : NULL;
}

static void count_dropped(struct ws *w, uint64_t n)
{
	if (w->opt.metrics)
		metrics_count_ws_dropped(w->opt.metrics, n);
}

/* ---- the ring ------------------------------------------------------------------ */

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first frame a snapshot taken now may not reflect yet. */
static uint64_t replay_from(const struct ws *w)
{
	int64_t since = monotonic_ms() - REPLAY_MS;
	uint64_t seq = w->head;

	while (seq > w->tail && w->ring[(seq - 1) % WS_RING_FRAMES].added_ms >= since)
		seq--;
	return seq;
}

static void ring_add(void *ctx, const struct hub_frame *f)
{
	struct ws *w = ctx;
	size_t need = LWS_PRE + f->len;
	struct slot *s;

	while (w->tail < w->head &&
	       (w->head - w->tail >= WS_RING_FRAMES || w->ring_bytes + f->len > WS_RING_BYTES))
		ring_evict(w);
	s = &w->ring[w->head % WS_RING_FRAMES];
	if (s->cap < need || (s->cap > 4 * need && s->cap > RING_CAP_KEEP)) {
		/* too small, or a long frame's buffer not worth keeping */
		free(s->buf);
		s->cap = need > RING_CAP_KEEP ? need : RING_CAP_KEEP;
		s->buf = malloc(s->cap);
		if (!s->buf) {
			/* lost: every client behind it resyncs */
			s->cap = 0;
			count_dropped(w, 1);
			while (w->tail < w->head)
				ring_evict(w);
			return;
		}
	}
	memcpy(s->buf + LWS_PRE, f->json, f->len);
	s->seq = w->head++;
	s->added_ms = monotonic_ms();
	s->vehicle = f->vin[0] != '\0';
	s->prompt = (f->flags & HUB_PROMPT) != 0;
	s->minor = s->vehicle && (f->flags & HUB_MINOR);
	memcpy(s->vin, f->vin, sizeof(s->vin));
	s->channel = f->channel;
	s->len = f->len;
	w->ring_bytes += f->len;
}

static int cmp_vin(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int watches(const struct client *c, const char *vin)
{
	return c->n_watch > 0 &&
	       bsearch(vin, c->watch, (size_t)c->n_watch, sizeof(c->watch[0]), cmp_vin) != NULL;
}

/* Whether client `c` is sent frame `s` at all: its channel's, and for a
 * watching console no minor frame of a vehicle it does not show. */
static int sent_to(const struct client *c, const struct slot *s)
{
	return s->channel == c->channel && !(c->watching && s->minor && !watches(c, s->vin));
}

/* A watching client: 1 when a frame from `from` on must go at once; else
 * its batched frames wait for their deadline (the timer is set here). */
static int news_for(struct ws *w, struct client *c, uint64_t from)
{
	int batched = 0;

	/* the ring must never overtake its cursor, even over frames it is not
	 * sent (those a write only steps over): that would be a resync */
	if (w->head - c->cursor >= WS_RING_FRAMES / 8)
		return 1;
	if (from < c->cursor)
		from = c->cursor;
	for (uint64_t seq = from; seq < w->head; seq++) {
		const struct slot *s = &w->ring[seq % WS_RING_FRAMES];

		if (!sent_to(c, s))
			continue;
		if (s->prompt || (s->vehicle && watches(c, s->vin)))
			return 1;
		batched = 1;
	}
	if (!batched)
		return 0;
	if (!c->bulk_since) {
		c->bulk_since = monotonic_ms();
		lws_set_timer_usecs(c->wsi, (lws_usec_t)WS_BATCH_MS * 1000);
	}
	return monotonic_ms() - c->bulk_since >= WS_BATCH_MS;
}

void ws_service(struct ws *w)
{
	uint64_t dropped, before;

	if (!w || !w->opt.hub)
		return;
	before = w->head;
	dropped = hub_dropped(w->opt.hub);
	if (dropped != w->hub_dropped_seen) {
		/* frames were lost before they reached the ring: whoever has not
		 * read everything so far needs a snapshot */
		count_dropped(w, dropped - w->hub_dropped_seen);
		w->hub_dropped_seen = dropped;
		while (w->tail < w->head)
			ring_evict(w);
	}
	hub_drain(w->opt.hub, ring_add, w);
	if (w->head == before)
		return;
	for (struct client *c = w->clients; c; c = c->next)
		if (!c->watching || news_for(w, c, before))
			lws_callback_on_writable(c->wsi);
}

/* ---- the handshake ------------------------------------------------------------- */

static int hdr(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t len)
{
	int n = lws_hdr_total_length(wsi, t);

	if (n <= 0 || (size_t)n >= len)
		return -1;
	return lws_hdr_copy(wsi, buf, (int)len, t) < 0 ? -1 : 0;
}

static int origin_allowed(struct ws *w, struct lws *wsi)
{
	const struct pw_http_config *hc = &w->opt.cfg->http;
	char origin[HDR_MAX], host[HDR_MAX];
	size_t n;

	if (hdr(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)))
		return 0; /* browsers always send one: no Origin, no socket */
	for (int i = 0; i < hc->n_allowed_origins; i++)
		if (strcmp(origin, hc->allowed_origins[i]) == 0)
			return 1;
	if (hdr(wsi, WSI_TOKEN_HOST, host, sizeof(host)))
		return 0;
	if (strncmp(origin, "http://", 7) == 0)
		n = 7;
	else if (strncmp(origin, "https://", 8) == 0)
		n = 8;
	else
		return 0;
	return strcasecmp(origin + n, host) == 0;
}

static int refuse(struct lws *wsi, const char *why, const char *remote)
{
	log_info("ws", "refused a WebSocket from %s: %s", remote, why);
	lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
	return -1;
}

static int on_filter(struct ws *w, struct lws *wsi, struct client *c, int channel)
{
	char path[64], buf[HDR_MAX];
	sqlite3 *db;

	memset(c, 0, sizeof(*c));
	c->channel = channel;
	lws_get_peer_simple(wsi, c->remote, sizeof(c->remote));
	if (hdr(wsi, WSI_TOKEN_GET_URI, path, sizeof(path)) || strcmp(path, "/ws") != 0)
		return refuse(wsi, "not /ws", c->remote);
	if (!origin_allowed(w, wsi))
		return refuse(wsi, "foreign or missing Origin", c->remote);
	db = db_get(w);
	if (!db)
		return refuse(wsi, "database unavailable", c->remote);
	if (channel == HUB_ADVISOR) {
		char token[AUTH_TOKEN_HEX + 1], cookie[COOKIE_MAX];
		struct auth_user u;

		if (hdr(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie)) ||
		    auth_cookie_token(cookie, token) != PW_OK)
			return refuse(wsi, "no session cookie", c->remote);
		if (auth_session_lookup(db, token, clock_real_ms(), &u) != PW_OK)
			return refuse(wsi, "no live session", c->remote);
		snprintf(c->user_id, sizeof(c->user_id), "%s", u.user_id);
	} else {
		char name[AUTH_DISPLAY_MAX + 1];
		const char *token = lws_get_urlarg_by_name(wsi, "display=", buf, (int)sizeof(buf));

		if (!token || strlen(token) != AUTH_TOKEN_HEX)
			return refuse(wsi, "no display token", c->remote);
		if (auth_display_lookup(db, token, name, sizeof(name)) != PW_OK)
			return refuse(wsi, "unknown display token", c->remote);
		snprintf(c->user_id, sizeof(c->user_id), "display:%s", name);
	}
	return 0;
}

/* ---- clients ---------------------------------------------------------------------- */

static void set_client_gauge(struct ws *w)
{
	if (w->opt.metrics)
		metrics_set_ws_clients(w->opt.metrics, (uint64_t)w->n_clients);
}

static void on_established(struct ws *w, struct lws *wsi, struct client *c)
{
	c->wsi = wsi;
	c->cursor = w->head;
	c->need_snapshot = c->channel == HUB_ADVISOR;
	c->next = w->clients;
	if (w->clients)
		w->clients->prev = c;
	w->clients = c;
	c->linked = 1;
	w->n_clients++;
	set_client_gauge(w);
	log_info("ws", "%s connected from %s (%s)", c->user_id, c->remote,
	         c->channel == HUB_ADVISOR ? WS_PROTOCOL_ADVISOR : WS_PROTOCOL_WELCOME);
	lws_callback_on_writable(wsi);
}

static void on_closed(struct ws *w, struct client *c)
{
	free(c->snap);
	c->snap = NULL;
	free(c->rx);
	c->rx = NULL;
	free(c->watch);
	c->watch = NULL;
	if (!c->linked)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->linked = 0;
	w->n_clients--;
	set_client_gauge(w);
	log_info("ws", "%s from %s disconnected", c->user_id, c->remote);
}

/* Closes with `status` and a reason naming what was wrong. */
static int refuse_message(struct lws *wsi, struct client *c, enum lws_close_status status,
                          const char *why)
{
	log_info("ws", "%s from %s sent a bad message (%s): closing", c->user_id, c->remote, why);
	lws_close_reason(wsi, status, (unsigned char *)why, strlen(why));
	return -1;
}

/* {"type":"watch","vins":[VIN, ...]} (at most WS_WATCH_MAX) or "vins":null
 * (every frame at once again). 0: taken; 1: not a watch message (not a
 * JSON object, or another type: ignored, as every client message was before
 * watch existed); -1: a broken watch message. `why` says what it was. */
static int parse_watch(struct client *c, const char *text, size_t len, char *why, size_t cap)
{
	json_error_t err;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err), *vins;
	char(*set)[PW_VIN_LEN + 1] = NULL;
	size_t n = 0, i;
	json_t *it;

	if (!root || !json_is_object(root) || !json_is_string(json_object_get(root, "type")) ||
	    strcmp(json_string_value(json_object_get(root, "type")), "watch") != 0) {
		snprintf(why, cap, "not a watch message");
		json_decref(root);
		return 1;
	}
	vins = json_object_get(root, "vins");
	if (json_is_null(vins)) {
		c->watching = 0;
		c->n_watch = 0;
		goto done;
	}
	if (!json_is_array(vins) || json_array_size(vins) > WS_WATCH_MAX) {
		snprintf(why, cap, "vins: expected an array of at most %d VINs or null",
		         WS_WATCH_MAX);
		goto fail;
	}
	set = malloc((json_array_size(vins) ? json_array_size(vins) : 1) * sizeof(*set));
	if (!set) {
		snprintf(why, cap, "out of memory");
		goto fail;
	}
	json_array_foreach(vins, i, it)
	{
		const char *vin = json_string_value(it);

		if (!vin || strlen(vin) != PW_VIN_LEN || !decode_vin_valid(vin)) {
			snprintf(why, cap, "vins[%zu]: not a VIN", i);
			goto fail;
		}
		memcpy(set[n++], vin, PW_VIN_LEN + 1);
	}
	qsort(set, n, sizeof(*set), cmp_vin);
	free(c->watch);
	c->watch = set;
	c->n_watch = (int)n;
	c->watching = 1;
done:
	json_decref(root);
	return 0;
fail:
	free(set);
	json_decref(root);
	return -1;
}

static int on_receive(struct lws *wsi, struct client *c, const void *in, size_t len)
{
	char why[96];

	if (c->rx_len + len > WS_RX_MAX) {
		log_info("ws", "%s from %s sent a message over %d bytes: closing", c->user_id,
		         c->remote, WS_RX_MAX);
		free(c->rx);
		c->rx = NULL;
		return refuse_message(wsi, c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		                      "message too large");
	}
	if (c->channel == HUB_ADVISOR && len) {
		if (!c->rx && !(c->rx = malloc(WS_RX_MAX)))
			return -1;
		memcpy(c->rx + c->rx_len, in, len);
	}
	c->rx_len += len;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
		return 0;
	/* a whole message: a display's are ignored, a console's may be a watch */
	if (c->channel == HUB_ADVISOR) {
		int rc = parse_watch(c, c->rx ? c->rx : "", c->rx_len, why, sizeof(why));

		if (rc < 0)
			return refuse_message(wsi, c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, why);
		if (rc > 0)
			log_debug("ws", "%s from %s: ignored a message (%s)", c->user_id, c->remote,
			          why);
	}
	c->rx_len = 0;
	free(c->rx);
	c->rx = NULL;
	return 0;
}

/* Builds the snapshot for `c` (its audit row first) and starts sending it. */
static int start_snapshot(struct ws *w, struct lws *wsi, struct client *c)
{
	char *json = NULL, customers[CUSTOMERS_MAX];
	size_t len = 0;
	sqlite3 *db = db_get(w);
	int64_t now = clock_real_ms();
	int64_t today = w->opt.clock ? clock_now_ms(w->opt.clock) : now;
	int rc;

	if (!db || snapshot_build(w->snap, today, w->opt.cfg->http.ws_snapshot_max, &json, &len,
	                          customers, sizeof(customers)) != PW_OK) {
		log_error("ws", "cannot build a snapshot for %s; closing", c->user_id);
		goto fail;
	}
	wgate_enter(w->opt.gate);
	rc = auth_audit(db, now, c->user_id, c->remote, "ws snapshot", customers);
	wgate_leave(w->opt.gate);
	if (rc != PW_OK) {
		log_error("ws", "cannot write the audit row of a snapshot for %s: %s; closing",
		          c->user_id, sqlite3_errmsg(db));
		goto fail;
	}
	c->snap = malloc(LWS_PRE + len);
	if (!c->snap)
		goto fail;
	memcpy(c->snap + LWS_PRE, json, len);
	free(json);
	c->snap_len = len;
	c->snap_sent = 0;
	c->cursor = replay_from(w);
	c->replay_end = w->head;
	c->need_snapshot = 0;
	return 0;
fail:
	free(json);
	lws_close_reason(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, NULL, 0);
	return -1;
}

/* One fragment of the snapshot in flight. */
static int send_snapshot_chunk(struct lws *wsi, struct client *c)
{
	size_t n = c->snap_len - c->snap_sent;
	int first = c->snap_sent == 0, more;
	enum lws_write_protocol mode;

	if (n > SNAP_CHUNK)
		n = SNAP_CHUNK;
	more = c->snap_sent + n < c->snap_len;
	mode = first ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION;
	if (more)
		mode |= LWS_WRITE_NO_FIN;
	/* the LWS_PRE bytes in front of this fragment are sent already: lws may
	 * use them */
	if (lws_write(wsi, c->snap + LWS_PRE + c->snap_sent, n, mode) < (int)n)
		return -1;
	c->snap_sent += n;
	if (!more) {
		free(c->snap);
		c->snap = NULL;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

/* The header of an unmasked, final text frame of `len` bytes (RFC 6455
 * 5.2): its length, and written into `p` (at most 10 bytes). */
static size_t ws_frame_header_len(size_t len)
{
	return len < 126 ? 2 : len <= 0xffff ? 4 : 10;
}

static size_t ws_frame_header(unsigned char *p, size_t len)
{
	size_t n = ws_frame_header_len(len);

	p[0] = 0x81; /* FIN, text */
	if (n == 2) {
		p[1] = (unsigned char)len;
	} else if (n == 4) {
		p[1] = 126;
		p[2] = (unsigned char)(len >> 8);
		p[3] = (unsigned char)len;
	} else {
		p[1] = 127;
		for (int i = 0; i < 8; i++)
			p[2 + i] = (unsigned char)((uint64_t)len >> (8 * (7 - i)));
	}
	return n;
}

static int on_writeable(struct ws *w, struct lws *wsi, struct client *c)
{
	size_t used = 0;

	if (c->snap)
		return send_snapshot_chunk(wsi, c);
	if (c->cursor < w->tail) {
		/* overtaken: what it missed is gone (counted by ring_evict) */
		if (c->channel == HUB_ADVISOR) {
			if (w->opt.metrics)
				metrics_count_ws_resync(w->opt.metrics);
			c->need_snapshot = 1;
		}
		c->cursor = w->tail;
	}
	if (c->need_snapshot) {
		if (start_snapshot(w, wsi, c))
			return -1;
		return send_snapshot_chunk(wsi, c);
	}
	if (!w->batch && !(w->batch = malloc(LWS_PRE + BATCH_MAX)))
		return -1;
	while (c->cursor < w->head) {
		struct slot *s = &w->ring[c->cursor % WS_RING_FRAMES];

		if (!sent_to(c, s) || (c->cursor < c->replay_end && !s->vehicle)) {
			c->cursor++;
			continue;
		}
		if (used + ws_frame_header_len(s->len) + s->len > BATCH_MAX)
			break; /* never for the first: frames are at most HUB_FRAME_MAX */
		used += ws_frame_header(w->batch + LWS_PRE + used, s->len);
		memcpy(w->batch + LWS_PRE + used, s->buf + LWS_PRE, s->len);
		used += s->len;
		c->cursor++;
	}
	/* raw: the bytes are whole WebSocket frames already; what the socket
	 * does not take lws keeps, and reports the pipe choked until it is out */
	if (used && lws_write(wsi, w->batch + LWS_PRE, used, LWS_WRITE_RAW) < (int)used)
		return -1;
	if (c->cursor < w->head) {
		lws_callback_on_writable(wsi);
	} else if (c->bulk_since) {
		c->bulk_since = 0; /* its batch went with this write */
		lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
	}
	return 0;
}

int ws_callback(struct ws *w, struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
	struct client *c = user;
	const struct lws_protocols *p = lws_get_protocol(wsi);
	int channel = p && p->id == WS_ID_WELCOME ? HUB_WELCOME : HUB_ADVISOR;

	if (!w)
		return reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION ? -1 : 0;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return c ? on_filter(w, wsi, c, channel) : -1;
	case LWS_CALLBACK_ESTABLISHED:
		if (c)
			on_established(w, wsi, c);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return c ? on_receive(wsi, c, in, len) : 0;
	case LWS_CALLBACK_TIMER:
		/* a watching console's batch is due */
		if (c && c->linked && c->cursor < w->head)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c && c->linked ? on_writeable(w, wsi, c) : 0;
	case LWS_CALLBACK_CLOSED:
		if (c)
			on_closed(w, c);
		return 0;
	default:
		return 0;
	}
}
