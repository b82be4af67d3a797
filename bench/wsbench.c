/*
 * wsbench — WebSocket clients for the benches (bench/ws drives it).
 *
 * Opens `--clients` WebSocket connections to the gateway's /ws with the
 * advisor subprotocol (session cookie) and reads everything they are sent,
 * discarding it, as 200 advisor consoles would. Client 0 also parses its
 * frames to measure latency:
 *
 *   --probe vehicle  publishes telemetry for `--probes` probe vehicles, one
 *                    message per probe every `--interval-ms`, and times each
 *                    from the publish call to the `vehicle` frame carrying
 *                    its seq (same process, CLOCK_MONOTONIC);
 *   --probe arrival  opens one more connection with the welcome subprotocol
 *                    (`--display TOKEN`) and publishes a plate read for each
 *                    plate of `--plates FILE` (one per line), one at a time,
 *                    timing each from the publish call to the `greeting`
 *                    frame (a read not greeted within 3 s counts as missed);
 *   --probe none     only holds the connections for `--duration` seconds.
 *
 * --watch: each advisor connection says which vehicles it shows, as the
 * console does ({"type":"watch"}, docs/api.md): client 0 with --probe
 * vehicle the probe vehicles (a console with their page open), every other
 * one none (a console on the vehicle list). Without it every connection
 * takes every frame at once, as a client that never says anything does.
 *
 * Prints "ready" once every connection is open and every advisor one has
 * its snapshot (so the measured run does not include building 200 of
 * them), then one JSON line at the
 * end: connections, frames and bytes received, latency p50/p90/p99/max in
 * ms and how many probes were missed. Raw sockets and epoll, no WebSocket
 * library: a bench client must cost little next to what it measures.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#define CLIENTS_MAX   4096
#define PROBES_MAX    64
#define SAMPLES_MAX   100000
#define PARSE_BUF     (4 << 20)
#define HANDSHAKE_MAX 4096
#define MISS_AFTER_MS 3000

enum probe_mode { PROBE_NONE, PROBE_VEHICLE, PROBE_ARRIVAL };

struct options {
	char host[64];
	int port;
	const char *cookie;
	const char *display;
	const char *broker;
	const char *site;
	const char *plates_file;
	int clients;
	int probes;
	int interval_ms;
	double duration_s;
	enum probe_mode mode;
	int watch;
};

/* One connection. Only the parsed ones keep a buffer. */
struct client {
	int fd;
	int parse; /* 1: frames are parsed (client 0 and the welcome one) */
	unsigned char *buf;
	size_t len;
	long frames; /* whole messages parsed */
	/* until its first whole message (the snapshot) came: frame boundaries */
	int synced;
	unsigned char hdr[14];
	size_t hlen;
	uint64_t skip; /* payload bytes of the current frame still to come */
	int fin;       /* the current frame ends a message */
};

static struct {
	uint64_t frames, bytes;
	double samples[SAMPLES_MAX];
	long n_samples, missed, sent;
	/* vehicle probes: publish time of each (probe, seq) still awaited */
	double sent_ms[PROBES_MAX][256];
	/* arrival probe: the outstanding plate read */
	double arrival_sent_ms;
	int arrival_waiting;
	atomic_int mqtt_connected;
} run;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
	fprintf(stderr, "wsbench: %s\n", what);
	exit(1);
}

/* ---- WebSocket client side ------------------------------------------------ */

static int ws_connect(const struct options *o, const char *protocol, const char *query,
                      unsigned char *rest, size_t *rest_len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	struct timeval tv = {.tv_sec = 5};
	char req[1024], resp[HANDSHAKE_MAX + 1];
	size_t got = 0;
	int fd, one = 1;
	char *end;

	if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1)
		die("--http: expected IPV4:PORT");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("wsbench: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req),
	         "GET /ws%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
	         "Connection: Upgrade\r\nSec-WebSocket-Key: cGl0d2FsbC1iZW5jaC1rZXk=\r\n"
	         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
	         "Origin: http://%s:%d\r\n%s%s%s\r\n",
	         query, o->host, o->port, protocol, o->host, o->port,
	         o->cookie ? "Cookie: pw_session=" : "", o->cookie ? o->cookie : "",
	         o->cookie ? "\r\n" : "");
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		die("cannot send the handshake");
	for (;;) {
		ssize_t n = read(fd, resp + got, HANDSHAKE_MAX - got);

		if (n <= 0)
			die("no handshake answer (refused? wrong cookie or token?)");
		got += (size_t)n;
		resp[got] = '\0';
		end = strstr(resp, "\r\n\r\n");
		if (end)
			break;
		if (got == HANDSHAKE_MAX)
			die("handshake answer too long");
	}
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "wsbench: handshake refused: %.*s\n", (int)strcspn(resp, "\r"),
		        resp);
		exit(1);
	}
	end += 4;
	*rest_len = got - (size_t)(end - resp);
	memcpy(rest, end, *rest_len);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Sends one masked text frame (RFC 6455 5.3: a client masks what it sends). */
static void ws_send_text(int fd, const char *text)
{
	unsigned char frame[4096 + 8];
	const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
	size_t len = strlen(text), h = 0;

	if (len > 4096)
		die("message too long");
	frame[h++] = 0x81;
	if (len < 126) {
		frame[h++] = (unsigned char)(0x80 | len);
	} else {
		frame[h++] = 0x80 | 126;
		frame[h++] = (unsigned char)(len >> 8);
		frame[h++] = (unsigned char)len;
	}
	memcpy(frame + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		frame[h + i] = (unsigned char)text[i] ^ mask[i % 4];
	if (write(fd, frame, h + len) != (ssize_t)(h + len))
		die("cannot send a watch message");
}

/* The watch message of advisor connection `i`. */
static void send_watch(const struct options *o, int fd, int i)
{
	char msg[4096];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "{\"type\":\"watch\",\"vins\":[");

	if (i == 0 && o->mode == PROBE_VEHICLE)
		for (int p = 0; p < o->probes; p++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s\"PWBENCH%010d\"",
			                      p ? "," : "", p);
	snprintf(msg + n, sizeof(msg) - n, "]}");
	ws_send_text(fd, msg);
}

/* Finds `"key":` in json[0..len) and returns what follows, or NULL. */
static const char *json_after(const char *json, size_t len, const char *key)
{
	char pat[64];
	size_t pl = (size_t)snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *hit = memmem(json, len, pat, pl);

	return hit ? hit + pl : NULL;
}

static void sample(double ms)
{
	if (run.n_samples < SAMPLES_MAX)
		run.samples[run.n_samples++] = ms;
}

static void on_text(const char *json, size_t len, double t)
{
	const char *type = json_after(json, len, "type");

	if (!type)
		return;
	if (strncmp(type, "\"vehicle\"", 9) == 0) {
		const char *vin = json_after(json, len, "vin");
		const char *seq = json_after(json, len, "seq");
		int probe;
		long s;

		if (!vin || !seq || strncmp(vin, "\"PWBENCH", 8) != 0)
			return;
		probe = atoi(vin + 8);
		s = strtol(seq, NULL, 10);
		if (probe < 0 || probe >= PROBES_MAX || s <= 0)
			return;
		if (run.sent_ms[probe][s % 256] > 0) {
			sample(t - run.sent_ms[probe][s % 256]);
			run.sent_ms[probe][s % 256] = 0;
		}
	} else if (strncmp(type, "\"greeting\"", 10) == 0 && run.arrival_waiting) {
		sample(t - run.arrival_sent_ms);
		run.arrival_waiting = 0;
	}
}

/* Parses the complete server frames in c->buf; keeps a partial tail. */
static void parse_frames(struct client *c)
{
	size_t off = 0;
	double t = now_ms();

	for (;;) {
		unsigned char *p = c->buf + off;
		size_t avail = c->len - off, hdr = 2;
		uint64_t plen;

		if (avail < 2)
			break;
		plen = p[1] & 0x7f;
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = ((uint64_t)p[2] << 8) | p[3];
			hdr = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = (plen << 8) | p[2 + i];
			hdr = 10;
		}
		if (plen > PARSE_BUF - 16)
			die("a frame larger than the parse buffer");
		if (avail < hdr + plen)
			break;
		if ((p[0] & 0x0f) == 1 || (p[0] & 0x0f) == 0)
			on_text((const char *)p + hdr, (size_t)plen, t);
		else if ((p[0] & 0x0f) == 8)
			die("the server closed a parsed connection");
		run.frames++;
		if (p[0] & 0x80)
			c->frames++; /* a whole message */
		off += hdr + (size_t)plen;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
}

/* One read per readiness: epoll is level-triggered, so what a short read
 * left comes with the next epoll_wait — reading on to EAGAIN would double
 * this process's syscalls, CPU the gateway it measures shares two cores with. */
static void client_read(struct client *c)
{
	static unsigned char scratch[1 << 16];

	for (;;) {
		ssize_t n;

		if (c->parse) {
			if (c->len == PARSE_BUF)
				die("parse buffer full");
			n = read(c->fd, c->buf + c->len, PARSE_BUF - c->len);
		} else {
			n = read(c->fd, scratch, sizeof(scratch));
		}
		if (n > 0) {
			run.bytes += (uint64_t)n;
			if (c->parse) {
				c->len += (size_t)n;
				parse_frames(c);
			}
			return;
		}
		if (n == 0)
			die("the server closed a connection");
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno != EINTR)
			die("read failed");
	}
}

/* Follows frame boundaries in bytes an unparsed client read, until its
 * first whole message. */
static void track_first_message(struct client *c, const unsigned char *p, size_t n)
{
	while (n > 0 && !c->synced) {
		size_t need;

		if (c->skip > 0) {
			size_t k = c->skip < n ? (size_t)c->skip : n;

			c->skip -= k;
			p += k;
			n -= k;
			if (c->skip == 0 && c->fin)
				c->synced = 1;
			continue;
		}
		c->hdr[c->hlen++] = *p++;
		n--;
		if (c->hlen < 2)
			continue;
		need = (c->hdr[1] & 0x7f) == 126 ? 4 : (c->hdr[1] & 0x7f) == 127 ? 10 : 2;
		if (c->hlen < need)
			continue;
		c->fin = (c->hdr[0] & 0x80) != 0;
		c->skip = c->hdr[1] & 0x7f;
		if (need == 4)
			c->skip = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
		else if (need == 10)
			for (int i = 0; i < 8; i++)
				c->skip = c->skip << 8 | c->hdr[2 + i];
		c->hlen = 0;
		if (c->skip == 0 && c->fin)
			c->synced = 1;
	}
}

/* Reads every connection until each has its first whole message (an
 * advisor's snapshot): the measured run must not include 200 snapshots. */
static void wait_synced(int ep, struct client *cl, int n_conn)
{
	struct epoll_event evs[256];
	double deadline = now_ms() + 120000;
	int left = n_conn;

	for (int i = 0; i < n_conn; i++)
		if (!cl[i].parse && cl[i].synced)
			left--;
	while (left > 0) {
		int n = epoll_wait(ep, evs, 256, 1000);

		if (now_ms() > deadline)
			die("no snapshot within 120 s");
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			unsigned char scratch[1 << 16];
			ssize_t r;

			if (c->parse) {
				int was = c->frames > 0;

				client_read(c);
				if (!was && c->frames > 0)
					left--;
				continue;
			}
			r = read(c->fd, scratch, sizeof(scratch));
			if (r == 0)
				die("the server closed a connection");
			if (r < 0)
				continue;
			if (!c->synced) {
				track_first_message(c, scratch, (size_t)r);
				if (c->synced)
					left--;
			}
		}
	}
}

/* ---- MQTT probes ----------------------------------------------------------- */

static void on_connected(void *ctx, MQTTAsync_successData *d)
{
	(void)ctx;
	(void)d;
	atomic_store(&run.mqtt_connected, 1);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *d)
{
	(void)ctx;
	(void)d;
	atomic_store(&run.mqtt_connected, -1);
}

static MQTTAsync mqtt_open(const char *uri)
{
	MQTTAsync m;
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	char id[64];

	snprintf(id, sizeof(id), "wsbench-%d", (int)getpid());
	if (MQTTAsync_create(&m, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS)
		die("MQTTAsync_create failed");
	co.cleansession = 1;
	co.keepAliveInterval = 30;
	co.onSuccess = on_connected;
	co.onFailure = on_connect_failed;
	co.maxInflight = 1000;
	if (MQTTAsync_connect(m, &co) != MQTTASYNC_SUCCESS)
		die("MQTTAsync_connect failed");
	for (int i = 0; i < 500 && atomic_load(&run.mqtt_connected) == 0; i++)
		usleep(10000);
	if (atomic_load(&run.mqtt_connected) != 1)
		die("cannot connect to the broker");
	return m;
}

static void publish(MQTTAsync m, const char *topic, const char *payload)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;

	msg.payload = (void *)payload;
	msg.payloadlen = (int)strlen(payload);
	msg.qos = 1;
	if (MQTTAsync_sendMessage(m, topic, &msg, NULL) != MQTTASYNC_SUCCESS)
		die("publish failed");
	run.sent++;
}

static void probe_vehicle(MQTTAsync m, int probe, long seq)
{
	char vin[18], topic[96], payload[256];

	snprintf(vin, sizeof(vin), "PWBENCH%010d", probe);
	snprintf(topic, sizeof(topic), "pitwall/v1/vehicles/%s/telemetry", vin);
	snprintf(payload, sizeof(payload),
	         "{\"v\":1,\"vin\":\"%s\",\"seq\":%ld,\"ts\":%lld,\"odometer_km\":%.1f,"
	         "\"speed_kmh\":%.1f,\"ignition\":\"on\"}",
	         vin, seq, (long long)wall_ms(), 1000.0 + seq * 0.5, 40.0 + (seq % 20));
	run.sent_ms[probe][seq % 256] = now_ms(); /* an unanswered older one is lost: missed */
	publish(m, topic, payload);
}

static void probe_plate(MQTTAsync m, const char *site, const char *plate)
{
	char topic[128], payload[256];

	snprintf(topic, sizeof(topic), "pitwall/v1/sites/%s/anpr", site);
	snprintf(
	    payload, sizeof(payload),
	    "{\"v\":1,\"ts\":%lld,\"plate\":\"%s\",\"camera\":\"entrance-1\",\"confidence\":0.97}",
	    (long long)wall_ms(), plate);
	run.arrival_sent_ms = now_ms();
	run.arrival_waiting = 1;
	publish(m, topic, payload);
}

/* ---- main -------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double p)
{
	long i;

	if (run.n_samples == 0)
		return 0;
	i = (long)(p * (double)(run.n_samples - 1) + 0.5);
	return run.samples[i];
}

static const char usage[] =
    "usage: wsbench --http IPV4:PORT --cookie TOKEN [--clients N]\n"
    "               [--probe none|vehicle|arrival] [--broker URI] [--site ID]\n"
    "               [--probes P] [--interval-ms MS] [--duration S]\n"
    "               [--display TOKEN --plates FILE] [--watch]\n";

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
	    {"http", 1, NULL, 'h'},     {"cookie", 1, NULL, 'c'},
	    {"clients", 1, NULL, 'n'},  {"probe", 1, NULL, 'p'},
	    {"broker", 1, NULL, 'b'},   {"site", 1, NULL, 's'},
	    {"probes", 1, NULL, 'P'},   {"interval-ms", 1, NULL, 'i'},
	    {"duration", 1, NULL, 'd'}, {"display", 1, NULL, 'D'},
	    {"plates", 1, NULL, 'f'},   {"help", 0, NULL, 'H'},
	    {"watch", 0, NULL, 'w'},    {NULL, 0, NULL, 0},
	};
	int ch;
	char *colon;

	memset(o, 0, sizeof(*o));
	o->clients = 200;
	o->probes = 10;
	o->interval_ms = 1500;
	o->duration_s = 30;
	o->site = "default";
	o->broker = "tcp://127.0.0.1:1883";
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'h':
			colon = strrchr(optarg, ':');
			if (!colon || colon - optarg >= (long)sizeof(o->host))
				die("--http: expected IPV4:PORT");
			memcpy(o->host, optarg, (size_t)(colon - optarg));
			o->port = atoi(colon + 1);
			break;
		case 'c':
			o->cookie = optarg;
			break;
		case 'n':
			o->clients = atoi(optarg);
			break;
		case 'p':
			o->mode = strcmp(optarg, "vehicle") == 0   ? PROBE_VEHICLE
			          : strcmp(optarg, "arrival") == 0 ? PROBE_ARRIVAL
			                                           : PROBE_NONE;
			break;
		case 'b':
			o->broker = optarg;
			break;
		case 's':
			o->site = optarg;
			break;
		case 'P':
			o->probes = atoi(optarg);
			break;
		case 'i':
			o->interval_ms = atoi(optarg);
			break;
		case 'd':
			o->duration_s = atof(optarg);
			break;
		case 'D':
			o->display = optarg;
			break;
		case 'f':
			o->plates_file = optarg;
			break;
		case 'w':
			o->watch = 1;
			break;
		case 'H':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			exit(2);
		}
	}
	if (!o->port || !o->cookie || o->clients < 1 || o->clients > CLIENTS_MAX || o->probes < 1 ||
	    o->probes > PROBES_MAX || o->interval_ms < 1 ||
	    (o->mode == PROBE_ARRIVAL && (!o->display || !o->plates_file))) {
		fputs(usage, stderr);
		exit(2);
	}
}

static char **read_plates(const char *path, int *n)
{
	FILE *f = fopen(path, "r");
	char line[128], **v = NULL;

	*n = 0;
	if (!f)
		die("cannot open --plates");
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		v = realloc(v, sizeof(*v) * (size_t)(*n + 1));
		if (!v || !(v[*n] = strdup(line)))
			die("out of memory");
		(*n)++;
	}
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	struct options o;
	struct client *cl;
	struct epoll_event ev, evs[256];
	int ep, n_conn, n_plates = 0, next_plate = 0;
	char **plates = NULL;
	long seq[PROBES_MAX] = {0};
	double start, next_probe, deadline;
	MQTTAsync m = NULL;

	parse_args(argc, argv, &o);
	n_conn = o.clients + (o.mode == PROBE_ARRIVAL);
	cl = calloc((size_t)n_conn, sizeof(*cl));
	ep = epoll_create1(0);
	if (!cl || ep < 0)
		die("out of memory");
	for (int i = 0; i < n_conn; i++) {
		int welcome = o.mode == PROBE_ARRIVAL && i == o.clients;
		char query[128] = "";
		unsigned char rest[HANDSHAKE_MAX];
		size_t rest_len = 0;

		if (welcome)
			snprintf(query, sizeof(query), "?display=%s", o.display);
		cl[i].fd = ws_connect(&o, welcome ? "pitwall.welcome.v1" : "pitwall.advisor.v1",
		                      query, rest, &rest_len);
		cl[i].parse = i == 0 || welcome;
		if (o.watch && !welcome)
			send_watch(&o, cl[i].fd, i);
		if (cl[i].parse) {
			cl[i].buf = malloc(PARSE_BUF);
			if (!cl[i].buf)
				die("out of memory");
			memcpy(cl[i].buf, rest, rest_len);
			cl[i].len = rest_len;
			parse_frames(&cl[i]);
		}
		ev.events = EPOLLIN;
		ev.data.ptr = &cl[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) < 0)
			die("epoll_ctl failed");
	}
	/* a welcome display gets no first message: it is ready as it is */
	for (int i = 0; i < n_conn; i++)
		if (o.mode == PROBE_ARRIVAL && i == o.clients)
			cl[i].synced = 1, cl[i].parse = 0;
	wait_synced(ep, cl, n_conn);
	if (o.mode == PROBE_ARRIVAL)
		cl[o.clients].parse = 1;
	if (o.mode == PROBE_ARRIVAL)
		plates = read_plates(o.plates_file, &n_plates);
	if (o.mode != PROBE_NONE)
		m = mqtt_open(o.broker);
	printf("ready\n");
	fflush(stdout);

	start = now_ms();
	next_probe = start + 500;
	deadline = start + o.duration_s * 1000;
	while (now_ms() < deadline) {
		double t = now_ms();
		int timeout = (int)(next_probe - t), n;

		if (o.mode == PROBE_NONE)
			timeout = (int)(deadline - t);
		if (timeout < 0)
			timeout = 0;
		n = epoll_wait(ep, evs, 256, timeout);
		for (int i = 0; i < n; i++)
			client_read(evs[i].data.ptr);
		t = now_ms();
		if (o.mode == PROBE_VEHICLE && t >= next_probe) {
			for (int p = 0; p < o.probes; p++)
				probe_vehicle(m, p, ++seq[p]);
			next_probe += o.interval_ms;
		} else if (o.mode == PROBE_ARRIVAL && t >= next_probe) {
			if (run.arrival_waiting && t - run.arrival_sent_ms < MISS_AFTER_MS) {
				next_probe = t + 5; /* still waiting for the greeting */
				continue;
			}
			if (run.arrival_waiting) {
				run.missed++;
				run.arrival_waiting = 0;
			}
			if (next_plate == n_plates)
				break;
			probe_plate(m, o.site, plates[next_plate++]);
			next_probe = t + o.interval_ms;
		}
	}
	if (o.mode == PROBE_VEHICLE) {
		/* probes still awaited at the end are missed, except the last round */
		for (int p = 0; p < o.probes; p++)
			for (int s = 0; s < 256; s++)
				if (run.sent_ms[p][s] > 0 &&
				    now_ms() - run.sent_ms[p][s] > MISS_AFTER_MS)
					run.missed++;
	} else if (o.mode == PROBE_ARRIVAL && run.arrival_waiting) {
		run.missed++;
	}
	qsort(run.samples, (size_t)run.n_samples, sizeof(double), cmp_double);
	printf("{\"clients\":%d,\"seconds\":%.1f,\"frames_parsed\":%llu,\"bytes\":%llu,"
	       "\"probes_sent\":%ld,\"latency_ms\":{\"n\":%ld,\"p50\":%.2f,\"p90\":%.2f,"
	       "\"p99\":%.2f,\"max\":%.2f},\"missed\":%ld}\n",
	       o.clients, (now_ms() - start) / 1000, (unsigned long long)run.frames,
	       (unsigned long long)run.bytes, run.sent, run.n_samples, pct(0.5), pct(0.9),
	       pct(0.99), run.n_samples ? run.samples[run.n_samples - 1] : 0.0, run.missed);
	if (m) {
		MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;

		MQTTAsync_disconnect(m, &d);
		MQTTAsync_destroy(&m);
	}
	for (int i = 0; i < n_conn; i++) {
		close(cl[i].fd);
		free(cl[i].buf);
	}
	for (int i = 0; i < n_plates; i++)
		free(plates[i]);
	free(plates);
	free(cl);
	return 0;
}
