/*
 * pub_paho — the Paho MQTTAsync transport of pub (pub.h): TLS, automatic
 * reconnect, what a real device library does; about 15-30k msg/s here.
 *
 * Each in-flight message owns one slot of a fixed array (window entries):
 * the slot is the Paho response context, so the completion callback finds
 * both the pub and the caller's tag without allocating. Slots come from a
 * free list under `lock`; pub_send waits on `cond` when none is free.
 * Paho threads complete messages; the caller thread sends them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <MQTTAsync.h>

#include "log.h"
#include "pub.h"
#include "pub_impl.h"
#include "pw.h"

struct slot {
	struct pub_paho *p;
	uint64_t tag;
	int next_free;
};

struct pub_paho {
	MQTTAsync client;
	struct pub_options opt;
	char *uri, *client_id, *will_topic, *will_payload;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot *slots;
	int free_head;
	int in_use;     /* under lock */
	int max_in_use; /* under lock */
	int connect_rc; /* under lock: 1 pending, 0 ok, < 0 failed */
	int disconnected;
	atomic_uint_fast64_t sent, done, failed, reconnects;
	atomic_int ever_connected;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void release_slot(struct slot *s, int ok)
{
	struct pub_paho *p = s->p;
	uint64_t tag = s->tag;

	if (ok)
		atomic_fetch_add(&p->done, 1);
	else
		atomic_fetch_add(&p->failed, 1);
	if (p->opt.on_done)
		p->opt.on_done(p->opt.ctx, tag, ok);
	pthread_mutex_lock(&p->lock);
	s->next_free = p->free_head;
	p->free_head = (int)(s - p->slots);
	p->in_use--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Paho thread. */
static void on_send_ok(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	release_slot(ctx, 1);
}

/* Paho thread. */
static void on_send_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct slot *s = ctx;

	log_debug("pub", "%s: publish failed: %s", s->p->opt.client_id,
	          resp && resp->message ? resp->message
	                                : MQTTAsync_strerror(resp ? resp->code : -1));
	release_slot(s, 0);
}

static void set_connect_rc(struct pub_paho *p, int rc)
{
	pthread_mutex_lock(&p->lock);
	p->connect_rc = rc;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Paho thread. */
static void on_connect_ok(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	set_connect_rc(ctx, 0);
}

/* Paho thread. */
static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct pub_paho *p = ctx;

	log_error("pub", "%s: cannot connect to %s: %s", p->opt.client_id, p->opt.uri,
	          resp && resp->message ? resp->message
	                                : MQTTAsync_strerror(resp ? resp->code : -1));
	set_connect_rc(p, PW_EIO);
}

/* Paho thread: the first connect and every automatic reconnect. */
static void on_connected(void *ctx, char *cause)
{
	struct pub_paho *p = ctx;

	if (atomic_exchange(&p->ever_connected, 1)) {
		atomic_fetch_add(&p->reconnects, 1);
		log_info("pub", "%s: reconnected (%s)", p->opt.client_id, cause ? cause : "");
	}
}

/* Paho thread. */
static void on_connection_lost(void *ctx, char *cause)
{
	struct pub_paho *p = ctx;

	log_warn("pub", "%s: connection lost (%s); reconnecting", p->opt.client_id,
	         cause ? cause : "no cause");
}

/* Paho thread: the simulator subscribes to nothing. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	(void)ctx;
	(void)topic_len;
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

struct pub_paho *pub_paho_new(const struct pub_options *o)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	struct pub_paho *p;
	int i, rc;

	if (o->window < 1 || !o->uri || !o->client_id)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->opt = *o;
	p->uri = dup_or_null(o->uri);
	p->client_id = dup_or_null(o->client_id);
	p->will_topic = dup_or_null(o->will_topic);
	p->will_payload = dup_or_null(o->will_payload);
	p->opt.uri = p->uri;
	p->opt.client_id = p->client_id;
	p->opt.will_topic = p->will_topic;
	p->opt.will_payload = p->will_payload;
	p->slots = calloc((size_t)o->window, sizeof(*p->slots));
	if (!p->uri || !p->client_id || !p->slots || (o->will_topic && !p->will_topic) ||
	    (o->will_payload && !p->will_payload))
		goto out_free;
	for (i = 0; i < o->window; i++) {
		p->slots[i].p = p;
		p->slots[i].next_free = i + 1 < o->window ? i + 1 : -1;
	}
	p->free_head = 0;
	p->connect_rc = 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);

	co.sendWhileDisconnected = 1;
	co.maxBufferedMessages = o->window + 16;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.deleteOldestMessages = 0;
	co.restoreMessages = 0;
	co.persistQoS0 = 0;
	rc = MQTTAsync_createWithOptions(&p->client, p->uri, p->client_id,
	                                 MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		log_error("pub", "broker URI %s: %s", p->uri, MQTTAsync_strerror(rc));
		goto out_destroy_sync;
	}
	MQTTAsync_setCallbacks(p->client, p, on_connection_lost, on_message, NULL);
	MQTTAsync_setConnected(p->client, p, on_connected);
	return p;

out_destroy_sync:
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
out_free:
	free(p->slots);
	free(p->uri);
	free(p->client_id);
	free(p->will_topic);
	free(p->will_payload);
	free(p);
	return NULL;
}

int pub_paho_connect(struct pub_paho *p, int timeout_ms)
{
	MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	struct timespec deadline;
	int rc;

	conn.keepAliveInterval = p->opt.keepalive_s > 0 ? p->opt.keepalive_s : 30;
	conn.cleansession = p->opt.clean_session;
	conn.maxInflight = p->opt.window;
	conn.automaticReconnect = 1;
	conn.minRetryInterval = 1;
	conn.maxRetryInterval = 5;
	conn.connectTimeout = timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1;
	conn.onSuccess = on_connect_ok;
	conn.onFailure = on_connect_failed;
	conn.context = p;
	if (p->opt.will_topic && p->opt.will_payload) {
		will.topicName = p->opt.will_topic;
		will.message = p->opt.will_payload;
		will.qos = p->opt.will_qos;
		will.retained = p->opt.will_retained;
		conn.will = &will;
	}
	pthread_mutex_lock(&p->lock);
	p->connect_rc = 1;
	pthread_mutex_unlock(&p->lock);
	rc = MQTTAsync_connect(p->client, &conn);
	if (rc != MQTTASYNC_SUCCESS) {
		log_error("pub", "%s: connect to %s failed to start: %s", p->opt.client_id,
		          p->opt.uri, MQTTAsync_strerror(rc));
		return PW_EIO;
	}
	deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&p->lock);
	while (p->connect_rc == 1) {
		if (pthread_cond_timedwait(&p->cond, &p->lock, &deadline) == ETIMEDOUT)
			break;
	}
	rc = p->connect_rc;
	pthread_mutex_unlock(&p->lock);
	if (rc == 1) {
		log_error("pub", "%s: no answer from %s within %d ms", p->opt.client_id, p->opt.uri,
		          timeout_ms);
		return PW_EIO;
	}
	return rc;
}

int pub_paho_send(struct pub_paho *p, const char *topic, const void *payload, size_t len, int qos,
                  int retained, uint64_t tag)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	struct slot *s;
	int idx, rc;

	pthread_mutex_lock(&p->lock);
	while (p->free_head < 0) {
		struct timespec deadline;

		if (p->opt.stop && atomic_load(p->opt.stop)) {
			pthread_mutex_unlock(&p->lock);
			return PW_EBUSY;
		}
		deadline_after(&deadline, 200);
		pthread_cond_timedwait(&p->cond, &p->lock, &deadline);
	}
	idx = p->free_head;
	s = &p->slots[idx];
	p->free_head = s->next_free;
	p->in_use++;
	if (p->in_use > p->max_in_use)
		p->max_in_use = p->in_use;
	pthread_mutex_unlock(&p->lock);

	s->tag = tag;
	ro.onSuccess = on_send_ok;
	ro.onFailure = on_send_failed;
	ro.context = s;
	msg.payload = (void *)payload;
	msg.payloadlen = (int)len;
	msg.qos = qos;
	msg.retained = retained;
	atomic_fetch_add(&p->sent, 1);
	rc = MQTTAsync_sendMessage(p->client, topic, &msg, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		atomic_fetch_sub(&p->sent, 1);
		log_warn("pub", "%s: publish to %s refused: %s", p->opt.client_id, topic,
		         MQTTAsync_strerror(rc));
		pthread_mutex_lock(&p->lock);
		s->next_free = p->free_head;
		p->free_head = idx;
		p->in_use--;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		return PW_EIO;
	}
	return PW_OK;
}

int pub_paho_wait(struct pub_paho *p, int timeout_ms)
{
	struct timespec deadline;
	int busy;

	deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&p->lock);
	while (p->in_use > 0) {
		if (pthread_cond_timedwait(&p->cond, &p->lock, &deadline) == ETIMEDOUT)
			break;
	}
	busy = p->in_use;
	pthread_mutex_unlock(&p->lock);
	return busy ? PW_EBUSY : PW_OK;
}

int pub_paho_outstanding(struct pub_paho *p)
{
	int n;

	pthread_mutex_lock(&p->lock);
	n = p->in_use;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void pub_paho_get_stats(struct pub_paho *p, struct pub_stats *s)
{
	s->sent = atomic_load(&p->sent);
	s->done = atomic_load(&p->done);
	s->failed = atomic_load(&p->failed);
	s->reconnects = atomic_load(&p->reconnects);
	pthread_mutex_lock(&p->lock);
	s->max_window_used = p->max_in_use;
	pthread_mutex_unlock(&p->lock);
}

/* Paho thread. */
static void on_disconnect_ok(void *ctx, MQTTAsync_successData *resp)
{
	struct pub_paho *p = ctx;

	(void)resp;
	pthread_mutex_lock(&p->lock);
	p->disconnected = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Paho thread. */
static void on_disconnect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	on_disconnect_ok(ctx, NULL);
}

int pub_paho_disconnect(struct pub_paho *p, int timeout_ms)
{
	MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
	struct timespec deadline;
	int done;

	if (!MQTTAsync_isConnected(p->client))
		return PW_OK;
	dopt.timeout = timeout_ms;
	dopt.onSuccess = on_disconnect_ok;
	dopt.onFailure = on_disconnect_failed;
	dopt.context = p;
	pthread_mutex_lock(&p->lock);
	p->disconnected = 0;
	pthread_mutex_unlock(&p->lock);
	if (MQTTAsync_disconnect(p->client, &dopt) != MQTTASYNC_SUCCESS)
		return PW_EIO;
	deadline_after(&deadline, timeout_ms + 1000);
	pthread_mutex_lock(&p->lock);
	while (!p->disconnected) {
		if (pthread_cond_timedwait(&p->cond, &p->lock, &deadline) == ETIMEDOUT)
			break;
	}
	done = p->disconnected;
	pthread_mutex_unlock(&p->lock);
	return done ? PW_OK : PW_EBUSY;
}

void pub_paho_free(struct pub_paho *p)
{
	if (!p)
		return;
	MQTTAsync_destroy(&p->client);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->slots);
	free(p->uri);
	free(p->client_id);
	free(p->will_topic);
	free(p->will_payload);
	free(p);
}

int pub_paho_is_connected(struct pub_paho *p)
{
	return MQTTAsync_isConnected(p->client);
}

int pub_paho_set_will_payload(struct pub_paho *p, const char *payload)
{
	char *copy = strdup(payload);

	if (!copy)
		return PW_ENOMEM;
	free(p->will_payload);
	p->will_payload = copy;
	p->opt.will_payload = copy;
	return PW_OK;
}
