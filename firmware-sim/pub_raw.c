/*
 * pub_raw — the raw transport of pub (pub.h): MQTT 3.1.1 over one
 * non-blocking TCP socket, written by the caller thread alone.
 *
 * PUBLISH packets are appended to an output buffer and written in large
 * chunks; PUBACKs are read in bulk and complete messages by packet id. A
 * QoS 1 packet is kept (by packet id) until its PUBACK so that after a lost
 * connection it is resent with the DUP flag on the persistent session; QoS 0
 * messages complete once their last byte is written, and fail if the
 * connection drops first. No TLS: tcp:// and mqtt:// URIs only (pub picks
 * Paho for anything else). No thread, no lock: on_done runs inside
 * pub_raw_send/pub_raw_wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pub.h"
#include "pub_impl.h"
#include "pw.h"

#define IDS          65536
#define IN_CAP       (256 * 1024)
#define FLUSH_AT     (32 * 1024)       /* try a write once this much is queued */
#define OUT_HIGH     (4 * 1024 * 1024) /* block the sender above this */
#define RECONNECT_MS 60000             /* give up reconnecting after this */

struct inflight {
	uint64_t tag;
	unsigned char *pkt; /* NULL: slot free */
	uint32_t len;
	unsigned id;
};

struct q0_entry {
	uint64_t end; /* total bytes written when the message's last byte is out */
	uint64_t tag;
};

struct pub_raw {
	struct pub_options opt;
	char *client_id, *will_topic, *will_payload;
	char host[256];
	char port[16];
	int fd;
	int connected;
	int closing; /* pub_raw_disconnect: the broker closing is expected */
	unsigned char *out;
	size_t out_off, out_len, out_cap;
	uint64_t queued_total, written_total;
	unsigned char *in;
	size_t in_len, in_cap;
	struct inflight *ifl; /* ifl_cap slots, packet id `id` in slot id % ifl_cap */
	unsigned ifl_cap;
	int in_flight;
	unsigned next_id;
	struct q0_entry *q0;
	size_t q0_head, q0_count, q0_cap;
	int64_t last_send_ms;
	uint64_t sent, done, failed, reconnects;
	int max_in_flight;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int parse_uri(struct pub_raw *p, const char *uri)
{
	const char *hp = strstr(uri, "://"), *colon;
	size_t hlen;

	hp = hp ? hp + 3 : uri;
	colon = strrchr(hp, ':');
	hlen = colon ? (size_t)(colon - hp) : strlen(hp);
	if (hlen == 0 || hlen >= sizeof(p->host))
		return PW_EINVAL;
	memcpy(p->host, hp, hlen);
	p->host[hlen] = '\0';
	snprintf(p->port, sizeof(p->port), "%s", colon ? colon + 1 : "1883");
	return PW_OK;
}

static int reserve_out(struct pub_raw *p, size_t extra)
{
	size_t need;

	if (p->out_off > 0 && p->out_off == p->out_len)
		p->out_off = p->out_len = 0;
	if (p->out_off > 0 && p->out_len + extra > p->out_cap) {
		memmove(p->out, p->out + p->out_off, p->out_len - p->out_off);
		p->out_len -= p->out_off;
		p->out_off = 0;
	}
	need = p->out_len + extra;
	if (need > p->out_cap) {
		size_t cap = p->out_cap ? p->out_cap : 65536;
		unsigned char *n;

		while (cap < need)
			cap *= 2;
		n = realloc(p->out, cap);
		if (!n)
			return PW_ENOMEM;
		p->out = n;
		p->out_cap = cap;
	}
	return PW_OK;
}

static int append(struct pub_raw *p, const void *data, size_t len)
{
	if (reserve_out(p, len) != PW_OK)
		return PW_ENOMEM;
	memcpy(p->out + p->out_len, data, len);
	p->out_len += len;
	p->queued_total += len;
	p->last_send_ms = mono_ms();
	return PW_OK;
}

static size_t put_varlen(unsigned char *b, size_t v)
{
	size_t n = 0;

	do {
		unsigned char c = v % 128;

		v /= 128;
		if (v)
			c |= 0x80;
		b[n++] = c;
	} while (v);
	return n;
}

static size_t put_str(unsigned char *b, const char *s, size_t len)
{
	b[0] = (unsigned char)(len >> 8);
	b[1] = (unsigned char)(len & 0xff);
	memcpy(b + 2, s, len);
	return len + 2;
}

static void complete(struct pub_raw *p, uint64_t tag, int ok)
{
	if (ok)
		p->done++;
	else
		p->failed++;
	if (p->opt.on_done)
		p->opt.on_done(p->opt.ctx, tag, ok);
}

static void complete_written_q0(struct pub_raw *p)
{
	while (p->q0_count && p->q0[p->q0_head].end <= p->written_total) {
		complete(p, p->q0[p->q0_head].tag, 1);
		p->q0_head = (p->q0_head + 1) % p->q0_cap;
		p->q0_count--;
	}
}

static void drop_connection(struct pub_raw *p, const char *why)
{
	if (p->fd >= 0) {
		if (!p->closing)
			log_warn("pub", "%s: connection to %s:%s lost (%s)", p->opt.client_id,
			         p->host, p->port, why);
		close(p->fd);
	}
	p->fd = -1;
	p->connected = 0;
	/* What was queued but not written is gone; QoS 1 packets are kept. */
	while (p->q0_count) {
		complete(p, p->q0[p->q0_head].tag, 0);
		p->q0_head = (p->q0_head + 1) % p->q0_cap;
		p->q0_count--;
	}
	p->written_total += p->out_len - p->out_off;
	p->out_off = p->out_len = 0;
	p->in_len = 0;
}

/* Parses whole packets out of the input buffer. */
static int parse_input(struct pub_raw *p)
{
	size_t pos = 0;

	for (;;) {
		size_t rem = 0, mult = 1, hdr = 1;
		unsigned char type;

		if (p->in_len - pos < 2)
			break;
		type = p->in[pos] & 0xf0;
		for (;;) {
			unsigned char c;

			if (pos + hdr >= p->in_len)
				goto partial;
			c = p->in[pos + hdr++];
			rem += (size_t)(c & 0x7f) * mult;
			mult *= 128;
			if (!(c & 0x80))
				break;
			if (hdr > 4)
				return PW_EIO;
		}
		if (p->in_len - pos < hdr + rem)
			break;
		if (type == 0x40 && rem == 2) { /* PUBACK */
			unsigned id = (unsigned)p->in[pos + hdr] << 8 | p->in[pos + hdr + 1];
			struct inflight *f = &p->ifl[id % p->ifl_cap];

			if (f->pkt && f->id == id) {
				free(f->pkt);
				f->pkt = NULL;
				p->in_flight--;
				complete(p, f->tag, 1);
			}
		}
		pos += hdr + rem;
	}
partial:
	if (pos) {
		memmove(p->in, p->in + pos, p->in_len - pos);
		p->in_len -= pos;
	}
	return PW_OK;
}

/* Writes and reads what the socket takes now, without blocking. */
static int pump(struct pub_raw *p)
{
	while (p->out_off < p->out_len) {
		ssize_t n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			drop_connection(p, strerror(errno));
			return PW_EIO;
		}
		p->out_off += (size_t)n;
		p->written_total += (uint64_t)n;
	}
	if (p->out_off == p->out_len)
		p->out_off = p->out_len = 0;
	complete_written_q0(p);
	for (;;) {
		ssize_t n;

		if (p->in_len == p->in_cap)
			return PW_EIO;
		n = recv(p->fd, p->in + p->in_len, p->in_cap - p->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			drop_connection(p, n == 0 ? "closed by the broker" : strerror(errno));
			return PW_EIO;
		}
		p->in_len += (size_t)n;
		if (parse_input(p) != PW_OK) {
			drop_connection(p, "bad packet from the broker");
			return PW_EIO;
		}
	}
	return PW_OK;
}

static int open_socket(struct pub_raw *p, int timeout_ms)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	int fd = -1, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(p->host, p->port, &hints, &res);
	if (rc != 0) {
		log_error("pub", "%s:%s: %s", p->host, p->port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		int err = 0;
		socklen_t elen = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout_ms) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* CONNECT, CONNACK, then every unacknowledged QoS 1 packet again (DUP). */
static int mqtt_connect(struct pub_raw *p, int timeout_ms, int quiet)
{
	unsigned char pkt[1024], *b = pkt + 5;
	size_t rem, cid = strlen(p->client_id), n;
	int64_t deadline = mono_ms() + timeout_ms;
	unsigned flags = p->opt.clean_session ? 0x02 : 0, id, k;

	if (cid > 256 || (p->will_topic && strlen(p->will_topic) + strlen(p->will_payload) > 600))
		return PW_EINVAL;
	p->closing = 0;
	p->fd = open_socket(p, timeout_ms);
	if (p->fd < 0) {
		if (!quiet)
			log_error("pub", "%s: cannot connect to %s:%s", p->client_id, p->host,
			          p->port);
		return PW_EIO;
	}
	if (p->will_topic)
		flags |=
		    0x04 | (unsigned)(p->opt.will_qos << 3) | (p->opt.will_retained ? 0x20 : 0);
	n = put_str(b, "MQTT", 4);
	b[n++] = 4;
	b[n++] = (unsigned char)flags;
	b[n++] = (unsigned char)(p->opt.keepalive_s >> 8);
	b[n++] = (unsigned char)(p->opt.keepalive_s & 0xff);
	n += put_str(b + n, p->client_id, cid);
	if (p->will_topic) {
		n += put_str(b + n, p->will_topic, strlen(p->will_topic));
		n += put_str(b + n, p->will_payload, strlen(p->will_payload));
	}
	rem = n;
	{
		unsigned char hdr[5];
		size_t h = 1;

		hdr[0] = 0x10;
		h += put_varlen(hdr + 1, rem);
		memcpy(b - h, hdr, h);
		p->out_off = p->out_len = 0;
		append(p, b - h, h + rem);
	}
	p->in_len = 0;
	while (mono_ms() < deadline) {
		struct pollfd pfd = {p->fd, POLLIN | (p->out_len ? POLLOUT : 0), 0};

		poll(&pfd, 1, 50);
		while (p->out_off < p->out_len) {
			ssize_t w =
			    send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);

			if (w <= 0)
				break;
			p->out_off += (size_t)w;
			p->written_total += (uint64_t)w;
		}
		if (p->out_off == p->out_len)
			p->out_off = p->out_len = 0;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(p->fd, p->in + p->in_len, p->in_cap - p->in_len, 0);

			if (r <= 0 && !(r < 0 && errno == EAGAIN))
				break;
			if (r > 0)
				p->in_len += (size_t)r;
		}
		if (p->in_len >= 4) {
			if (p->in[0] != 0x20 || p->in[1] != 2 || p->in[3] != 0) {
				log_error(
				    "pub", "%s: broker %s:%s refused the connection (code %d)",
				    p->client_id, p->host, p->port, p->in_len >= 4 ? p->in[3] : -1);
				close(p->fd);
				p->fd = -1;
				return PW_EIO;
			}
			memmove(p->in, p->in + 4, p->in_len - 4);
			p->in_len -= 4;
			p->connected = 1;
			/* Oldest first: ids were given out in order, next_id is the oldest
			 * possible one still held. */
			for (k = 0; k < IDS - 1; k++) {
				struct inflight *f;

				id = 1 + (p->next_id - 1 + k) % (IDS - 1);
				f = &p->ifl[id % p->ifl_cap];
				if (f->pkt && f->id == id) {
					f->pkt[0] |= 0x08; /* DUP */
					append(p, f->pkt, f->len);
				}
			}
			return parse_input(p);
		}
	}
	if (!quiet)
		log_error("pub", "%s: no CONNACK from %s:%s within %d ms", p->client_id, p->host,
		          p->port, timeout_ms);
	close(p->fd);
	p->fd = -1;
	return PW_EIO;
}

/* After a lost connection: retries every 500 ms for up to RECONNECT_MS. */
static int reconnect(struct pub_raw *p)
{
	int64_t deadline = mono_ms() + RECONNECT_MS;

	while (mono_ms() < deadline) {
		if (mqtt_connect(p, 2000, 1) == PW_OK) {
			p->reconnects++;
			log_info("pub", "%s: reconnected; resending %d unacknowledged",
			         p->client_id, p->in_flight);
			return PW_OK;
		}
		sleep_ms(500);
	}
	log_error("pub", "%s: could not reconnect to %s:%s within %d s", p->client_id, p->host,
	          p->port, RECONNECT_MS / 1000);
	return PW_EIO;
}

/* Waits up to timeout_ms for the socket, then pumps; reconnects if lost. */
static int step(struct pub_raw *p, int timeout_ms)
{
	struct pollfd pfd;

	if (!p->connected && reconnect(p) != PW_OK)
		return PW_EIO;
	if (p->opt.keepalive_s > 0 && mono_ms() - p->last_send_ms > p->opt.keepalive_s * 500) {
		static const unsigned char ping[2] = {0xC0, 0x00};

		append(p, ping, 2);
	}
	pfd.fd = p->fd;
	pfd.events = POLLIN | (p->out_off < p->out_len ? POLLOUT : 0);
	pfd.revents = 0;
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return PW_EIO;
	if (pump(p) != PW_OK)
		return p->connected ? PW_EIO : reconnect(p);
	return PW_OK;
}

static int stopping(const struct pub_raw *p)
{
	return p->opt.stop && atomic_load(p->opt.stop);
}

struct pub_raw *pub_raw_new(const struct pub_options *o)
{
	struct pub_raw *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->opt = *o;
	p->fd = -1;
	p->next_id = 1;
	p->client_id = strdup(o->client_id);
	p->will_topic = o->will_topic && o->will_payload ? strdup(o->will_topic) : NULL;
	p->will_payload = o->will_topic && o->will_payload ? strdup(o->will_payload) : NULL;
	if (p->opt.window > IDS - 2)
		p->opt.window = IDS - 2;
	if (p->opt.window < 1)
		p->opt.window = 1;
	/* A device with a small window costs a few KiB, a load generator more. */
	p->in_cap = p->opt.window <= 64 ? 4096 : IN_CAP;
	p->ifl_cap = (unsigned)p->opt.window + 1;
	p->in = malloc(p->in_cap);
	p->ifl = calloc(p->ifl_cap, sizeof(*p->ifl));
	p->q0_cap = 4096;
	p->q0 = malloc(p->q0_cap * sizeof(*p->q0));
	if (!p->client_id || !p->in || !p->ifl || !p->q0 ||
	    (o->will_topic && o->will_payload && (!p->will_topic || !p->will_payload)) ||
	    parse_uri(p, o->uri) != PW_OK) {
		log_error("pub", "cannot use broker URI %s", o->uri);
		pub_raw_free(p);
		return NULL;
	}
	p->opt.client_id = p->client_id;
	return p;
}

int pub_raw_connect(struct pub_raw *p, int timeout_ms)
{
	return mqtt_connect(p, timeout_ms, 0);
}

static int push_q0(struct pub_raw *p, uint64_t tag)
{
	if (p->q0_count == p->q0_cap) {
		size_t cap = p->q0_cap * 2, i;
		struct q0_entry *n = malloc(cap * sizeof(*n));

		if (!n)
			return PW_ENOMEM;
		for (i = 0; i < p->q0_count; i++)
			n[i] = p->q0[(p->q0_head + i) % p->q0_cap];
		free(p->q0);
		p->q0 = n;
		p->q0_cap = cap;
		p->q0_head = 0;
	}
	p->q0[(p->q0_head + p->q0_count) % p->q0_cap].end = p->queued_total;
	p->q0[(p->q0_head + p->q0_count) % p->q0_cap].tag = tag;
	p->q0_count++;
	return PW_OK;
}

int pub_raw_send(struct pub_raw *p, const char *topic, const void *payload, size_t len, int qos,
                 int retained, uint64_t tag)
{
	size_t tlen = strlen(topic), rem = 2 + tlen + (qos ? 2 : 0) + len, h, total;
	unsigned char hdr[8], *pkt;
	unsigned id = 0;

	if (tlen > 65535 || len > 256 * 1024 * 1024)
		return PW_EINVAL;
	/* Room in the window and a free packet id, in the output buffer. A full
	 * window waits until a quarter of it is free again, so packets keep
	 * going out in batches rather than one per PUBACK. */
	if (qos && p->in_flight >= p->opt.window) {
		int low = p->opt.window - (p->opt.window + 3) / 4;

		while (p->connected && p->in_flight > low) {
			if (stopping(p))
				return PW_EBUSY;
			sleep_ms(1); /* let PUBACKs gather: one read takes many */
			if (step(p, 100) != PW_OK && !p->connected)
				break;
		}
	}
	while (!p->connected ||
	       (qos && (p->in_flight >= p->opt.window || p->ifl[p->next_id % p->ifl_cap].pkt)) ||
	       p->out_len - p->out_off > OUT_HIGH) {
		if (stopping(p))
			return PW_EBUSY;
		if (p->connected)
			sleep_ms(1);
		if (step(p, 100) != PW_OK && !p->connected)
			return PW_EIO;
	}
	hdr[0] = (unsigned char)(0x30 | (qos ? 0x02 : 0) | (retained ? 1 : 0));
	h = 1 + put_varlen(hdr + 1, rem);
	total = h + rem;
	if (qos) {
		pkt = malloc(total);
		if (!pkt)
			return PW_ENOMEM;
	} else {
		if (reserve_out(p, total) != PW_OK)
			return PW_ENOMEM;
		pkt = p->out + p->out_len;
	}
	memcpy(pkt, hdr, h);
	put_str(pkt + h, topic, tlen);
	if (qos) {
		id = p->next_id;
		p->next_id = p->next_id % (IDS - 1) + 1;
		pkt[h + 2 + tlen] = (unsigned char)(id >> 8);
		pkt[h + 3 + tlen] = (unsigned char)(id & 0xff);
	}
	memcpy(pkt + h + 2 + tlen + (qos ? 2 : 0), payload, len);
	p->sent++;
	if (qos) {
		struct inflight *f = &p->ifl[id % p->ifl_cap];

		f->pkt = pkt;
		f->len = (uint32_t)total;
		f->tag = tag;
		f->id = id;
		p->in_flight++;
		if (p->in_flight > p->max_in_flight)
			p->max_in_flight = p->in_flight;
		if (append(p, pkt, total) != PW_OK)
			return PW_ENOMEM;
	} else {
		p->out_len += total;
		p->queued_total += total;
		p->last_send_ms = mono_ms();
		if (push_q0(p, tag) != PW_OK)
			return PW_ENOMEM;
	}
	if (p->out_len - p->out_off >= FLUSH_AT || (qos && p->in_flight >= p->opt.window))
		pump(p); /* a lost connection is noticed (and mended) by the next step */
	return PW_OK;
}

int pub_raw_wait(struct pub_raw *p, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	while (p->in_flight > 0 || p->q0_count > 0 || p->out_off < p->out_len) {
		int64_t left = deadline - mono_ms();

		if (left <= 0)
			return PW_EBUSY;
		if (step(p, left > 100 ? 100 : (int)left) != PW_OK && !p->connected)
			return PW_EIO;
	}
	return PW_OK;
}

int pub_raw_outstanding(struct pub_raw *p)
{
	return p->in_flight + (int)p->q0_count;
}

void pub_raw_get_stats(struct pub_raw *p, struct pub_stats *s)
{
	s->sent = p->sent;
	s->done = p->done;
	s->failed = p->failed;
	s->reconnects = p->reconnects;
	s->max_window_used = p->max_in_flight;
}

int pub_raw_disconnect(struct pub_raw *p, int timeout_ms)
{
	static const unsigned char disc[2] = {0xE0, 0x00};
	int64_t deadline = mono_ms() + timeout_ms;

	if (!p->connected)
		return PW_OK;
	p->closing = 1;
	append(p, disc, 2);
	while (p->out_off < p->out_len && mono_ms() < deadline) {
		struct pollfd pfd = {p->fd, POLLOUT, 0};

		poll(&pfd, 1, 50);
		if (pump(p) != PW_OK)
			break;
	}
	if (p->fd >= 0) {
		shutdown(p->fd, SHUT_WR);
		close(p->fd);
	}
	p->fd = -1;
	p->connected = 0;
	return PW_OK;
}

void pub_raw_free(struct pub_raw *p)
{
	unsigned i;

	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	if (p->ifl)
		for (i = 0; i < p->ifl_cap; i++)
			free(p->ifl[i].pkt);
	free(p->ifl);
	free(p->q0);
	free(p->in);
	free(p->out);
	free(p->client_id);
	free(p->will_topic);
	free(p->will_payload);
	free(p);
}

int pub_raw_flush(struct pub_raw *p)
{
	if (!p->connected)
		return PW_EIO;
	return pump(p);
}

void pub_raw_drop(struct pub_raw *p)
{
	if (p->fd >= 0) {
		/* No DISCONNECT: the broker publishes the will. */
		close(p->fd);
		p->fd = -1;
	}
	p->connected = 0;
	while (p->q0_count) {
		complete(p, p->q0[p->q0_head].tag, 0);
		p->q0_head = (p->q0_head + 1) % p->q0_cap;
		p->q0_count--;
	}
	p->written_total += p->out_len - p->out_off;
	p->out_off = p->out_len = 0;
	p->in_len = 0;
}

int pub_raw_is_connected(struct pub_raw *p)
{
	return p->connected;
}

int pub_raw_set_will_payload(struct pub_raw *p, const char *payload)
{
	char *copy = strdup(payload);

	if (!copy)
		return PW_ENOMEM;
	free(p->will_payload);
	p->will_payload = copy;
	p->opt.will_payload = copy;
	return PW_OK;
}
