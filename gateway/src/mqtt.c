/*
 * mqtt — the gateway's broker connection: see mqtt.h for the promises.
 *
 * Threads: Paho's receive thread calls on_message (the core thread: it owns
 * ingest, the state table and the read-write store) and the connect/
 * subscribe callbacks; the main thread calls mqtt_start/tick/stop; any
 * thread may call mqtt_publish. `core_lock` is held while a message is
 * processed so mqtt_stop can wait for the message in hand. Shared flags are
 * C11 atomics.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <jansson.h>

#include "pahoio.h"
#include "log.h"
#include "mqtt.h"
#include "pw.h"

#define TOPIC_MAX 256

struct mqtt {
	MQTTAsync client;
	struct mqtt_options opt;
	char password[256];
	char topic_telemetry[TOPIC_MAX];
	char topic_status[TOPIC_MAX];
	char topic_anpr[TOPIC_MAX];
	char topic_rejected[TOPIC_MAX];
	char topic_gateway[TOPIC_MAX];
	char gateway_online[128];
	char gateway_offline[64];
	MQTTAsync_willOptions will;
	MQTTAsync_SSLOptions ssl;
	MQTTAsync_connectOptions conn;
	pthread_mutex_t core_lock;
	pthread_mutex_t confirm_lock;
	struct confirm *confirms; /* confirmed publishes not yet reported, under confirm_lock */
	struct ingest_output out; /* core thread only */
	atomic_int connected;
	atomic_int stopping;
	atomic_int connect_failed; /* the first connect failed: main thread retries */
	atomic_int ever_connected;
	atomic_int disconnect_done;
	int64_t next_connect_ms; /* main thread only */
	int backoff_s;           /* main thread only */
};

static int read_password_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		log_error("mqtt", "cannot read mqtt.password_file %s: %s", path, strerror(errno));
		return PW_EIO;
	}
	if (!fgets(buf, (int)cap, f)) {
		log_error("mqtt", "mqtt.password_file %s is empty", path);
		fclose(f);
		return PW_EINVAL;
	}
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return PW_OK;
}

/* Publishes one rejection notice: {"topic","reason","ts"} plus the batch
 * index and the checker's detail. Never echoes the payload. */
static void publish_reject(struct mqtt *m, const char *topic, size_t topic_len,
                           const struct ingest_reject *r)
{
	json_t *topic_str = json_stringn(topic, topic_len);
	json_t *obj;
	char *text;

	if (!topic_str)
		topic_str = json_string("(not UTF-8)");
	obj = json_pack("{s:o, s:s, s:I, s:s}", "topic", topic_str, "reason",
	                decode_reason_name(r->reason), "ts", (json_int_t)clock_now_ms(m->opt.clock),
	                "detail", r->detail);
	if (!obj)
		return;
	if (r->index >= 0)
		json_object_set_new(obj, "index", json_integer(r->index));
	text = json_dumps(obj, JSON_COMPACT);
	if (text) {
		mqtt_publish(m, m->topic_rejected, text, strlen(text), 0, 0);
		free(text);
	}
	json_decref(obj);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Paho receive thread (the core thread). Returns 1 only once the message
 * is applied and its journal record appended: Paho acknowledges it after we
 * return (1.3.12, MQTTProtocol_handlePublishes: the callback, then the
 * PUBACK; Paho would acknowledge before the callback only a message it had
 * to queue because an earlier callback returned 0, which this one never
 * does). Over plain TCP at QoS 1, pahoio.h holds that PUBACK and the
 * journal holds the record in memory; before held PUBACKs go out,
 * write_journal_before_acks writes the held records — so either way the
 * record is on file (or the group is in SQLite) before the broker forgets
 * the message. If the message cannot be applied the process exits without
 * acknowledging: the broker redelivers it and the restart replays the
 * journal. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct mqtt *m = ctx;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);

	pthread_mutex_lock(&m->core_lock);
	if (ingest_process(m->opt.ingest, topic, tlen, msg->payload, (size_t)msg->payloadlen,
	                   &m->out) != PW_OK) {
		log_error("mqtt", "cannot commit %.*s; exiting without acknowledging it", (int)tlen,
		          topic);
		_exit(1);
	}
	for (int i = 0; i < m->out.n_rejects; i++)
		publish_reject(m, topic, tlen, &m->out.rejects[i]);
	pthread_mutex_unlock(&m->core_lock);
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

/* pahoio's before_acks (any thread that flushes PUBACKs, holding no lock
 * of Paho's): the deferred journal records are written before any PUBACK
 * goes out. If they cannot be, nothing more is acknowledged: exit, as when
 * a message cannot be committed. */
static void write_journal_before_acks(void *ctx)
{
	struct mqtt *m = ctx;
	int rc;

	pthread_mutex_lock(&m->core_lock);
	rc = journal_write_deferred(m->opt.journal);
	pthread_mutex_unlock(&m->core_lock);
	if (rc != PW_OK) {
		log_error("mqtt", "cannot write the journal; exiting without acknowledging");
		_exit(1);
	}
}

void mqtt_lock_core(struct mqtt *m)
{
	pthread_mutex_lock(&m->core_lock);
}

void mqtt_unlock_core(struct mqtt *m)
{
	pthread_mutex_unlock(&m->core_lock);
}

int mqtt_run_locked(struct mqtt *m, int (*fn)(void *ctx), void *ctx)
{
	int rc;

	pthread_mutex_lock(&m->core_lock);
	rc = fn(ctx);
	pthread_mutex_unlock(&m->core_lock);
	return rc;
}

/* Paho thread. Only now is the gateway "connected" for /healthz: before the
 * subscription stands, a device's message could find no session to queue in. */
static void on_subscribe_ok(void *ctx, MQTTAsync_successData *resp)
{
	struct mqtt *m = ctx;

	(void)resp;
	metrics_set_mqtt_connected(m->opt.metrics, 1);
	log_info("mqtt", "subscribed to vehicles and site %s", m->opt.cfg->site.id);
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)ctx;
	log_error("mqtt", "subscribe failed: %d %s", resp ? resp->code : -1,
	          resp && resp->message ? resp->message : "");
}

/* Paho thread: after the first connect and after every reconnect. */
static void on_connected(void *ctx, char *cause)
{
	struct mqtt *m = ctx;
	char *topics[3] = {m->topic_telemetry, m->topic_status, m->topic_anpr};
	int qos[3];
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc;

	(void)cause;
	/* Paho's receive thread, which writes the PUBACKs: batch them */
	pahoio_bind_receiver();
	atomic_store(&m->connected, 1);
	atomic_store(&m->ever_connected, 1);
	atomic_store(&m->connect_failed, 0);
	log_info("mqtt", "connected to %s as %s", m->opt.cfg->mqtt.uri, m->opt.cfg->mqtt.client_id);
	for (int i = 0; i < 3; i++)
		qos[i] = m->opt.cfg->mqtt.qos;
	ro.onSuccess = on_subscribe_ok;
	ro.onFailure = on_subscribe_failed;
	ro.context = m;
	rc = MQTTAsync_subscribeMany(m->client, 3, topics, qos, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		log_error("mqtt", "subscribe failed to start: %s", MQTTAsync_strerror(rc));
	mqtt_publish(m, m->topic_gateway, m->gateway_online, strlen(m->gateway_online), 1, 1);
}

static void on_connect_ok(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	(void)ctx; /* on_connected (set with MQTTAsync_setConnected) does the work */
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct mqtt *m = ctx;

	log_warn("mqtt", "cannot connect to %s: %s", m->opt.cfg->mqtt.uri,
	         resp && resp->message ? resp->message
	                               : MQTTAsync_strerror(resp ? resp->code : -1));
	metrics_set_mqtt_connected(m->opt.metrics, 0);
	if (!atomic_load(&m->ever_connected))
		atomic_store(&m->connect_failed, 1);
}

static void on_connection_lost(void *ctx, char *cause)
{
	struct mqtt *m = ctx;

	atomic_store(&m->connected, 0);
	metrics_set_mqtt_connected(m->opt.metrics, 0);
	if (!atomic_load(&m->stopping))
		log_warn("mqtt", "connection lost (%s); reconnecting", cause ? cause : "no reason");
}

static void build_topics(struct mqtt *m)
{
	const char *site = m->opt.cfg->site.id;

	snprintf(m->topic_telemetry, TOPIC_MAX, "pitwall/v1/vehicles/+/telemetry");
	snprintf(m->topic_status, TOPIC_MAX, "pitwall/v1/vehicles/+/status");
	snprintf(m->topic_anpr, TOPIC_MAX, "pitwall/v1/sites/%s/anpr", site);
	snprintf(m->topic_rejected, TOPIC_MAX, "pitwall/v1/sites/%s/rejected", site);
	snprintf(m->topic_gateway, TOPIC_MAX, "pitwall/v1/sites/%s/gateway", site);
	snprintf(m->gateway_online, sizeof(m->gateway_online),
	         "{\"online\":true,\"version\":\"%s\"}", PW_VERSION);
	snprintf(m->gateway_offline, sizeof(m->gateway_offline), "{\"online\":false}");
}

static int start_connect(struct mqtt *m)
{
	int rc = MQTTAsync_connect(m->client, &m->conn);

	if (rc != MQTTASYNC_SUCCESS) {
		log_warn("mqtt", "connect to %s did not start: %s", m->opt.cfg->mqtt.uri,
		         MQTTAsync_strerror(rc));
		atomic_store(&m->connect_failed, 1);
		return PW_EIO;
	}
	return PW_OK;
}

struct mqtt *mqtt_start(const struct mqtt_options *opt)
{
	const struct pw_mqtt_config *mc = &opt->cfg->mqtt;
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
	struct mqtt *m = calloc(1, sizeof(*m));
	int rc;

	if (!m)
		return NULL;
	m->opt = *opt;
	pthread_mutex_init(&m->core_lock, NULL);
	pthread_mutex_init(&m->confirm_lock, NULL);
	build_topics(m);
	if (mc->password_file[0] &&
	    read_password_file(mc->password_file, m->password, sizeof(m->password)) != PW_OK)
		goto out_free;

	co.sendWhileDisconnected = 1;
	co.maxBufferedMessages = 10000;
	rc = MQTTAsync_createWithOptions(&m->client, mc->uri, mc->client_id,
	                                 MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		log_error("mqtt", "mqtt.uri %s: %s", mc->uri, MQTTAsync_strerror(rc));
		goto out_free;
	}
	MQTTAsync_setCallbacks(m->client, m, on_connection_lost, on_message, NULL);
	MQTTAsync_setConnected(m->client, m, on_connected);

	m->will = will;
	m->will.topicName = m->topic_gateway;
	m->will.message = m->gateway_offline;
	m->will.retained = 1;
	m->will.qos = 1;
	m->ssl = ssl;
	if (mc->ca_file[0])
		m->ssl.trustStore = mc->ca_file;
	m->ssl.enableServerCertAuth = 1;

	m->conn = conn;
	m->conn.keepAliveInterval = mc->keepalive_s;
	m->conn.cleansession = 0; /* durable: what devices publish while we are down waits */
	m->conn.automaticReconnect = 1;
	m->conn.minRetryInterval = mc->reconnect_min_s;
	m->conn.maxRetryInterval = mc->reconnect_max_s;
	m->conn.will = &m->will;
	m->conn.onSuccess = on_connect_ok;
	m->conn.onFailure = on_connect_failed;
	m->conn.context = m;
	if (mc->username[0])
		m->conn.username = mc->username;
	if (m->password[0])
		m->conn.password = m->password;
	if (strncmp(mc->uri, "ssl://", 6) == 0 || strncmp(mc->uri, "mqtts://", 8) == 0)
		m->conn.ssl = &m->ssl;

	/* QoS 1 over plain TCP: pahoio holds every PUBACK, so the journal may
	 * hold its records until one is about to go (one write per batch) */
	if (m->opt.journal && mc->qos == 1 && !m->conn.ssl) {
		pahoio_set_before_acks(write_journal_before_acks, m);
		pthread_mutex_lock(&m->core_lock);
		journal_set_deferred(m->opt.journal, 1);
		pthread_mutex_unlock(&m->core_lock);
	}
	m->backoff_s = mc->reconnect_min_s > 0 ? mc->reconnect_min_s : 1;
	log_info("mqtt", "connecting to %s as %s", mc->uri, mc->client_id);
	if (start_connect(m) != PW_OK)
		m->next_connect_ms = clock_real_ms() + (int64_t)m->backoff_s * 1000;
	return m;

out_free:
	pthread_mutex_destroy(&m->confirm_lock);
	pthread_mutex_destroy(&m->core_lock);
	free(m);
	return NULL;
}

void mqtt_tick(struct mqtt *m)
{
	int64_t now = clock_real_ms();

	pahoio_flush(); /* PUBACKs the receive thread still holds */
	if (!m || atomic_load(&m->stopping) || !atomic_load(&m->connect_failed))
		return;
	if (m->next_connect_ms == 0) {
		m->next_connect_ms = now + (int64_t)m->backoff_s * 1000;
		return;
	}
	if (now < m->next_connect_ms)
		return;
	atomic_store(&m->connect_failed, 0);
	m->next_connect_ms = 0;
	m->backoff_s *= 2;
	if (m->backoff_s > m->opt.cfg->mqtt.reconnect_max_s)
		m->backoff_s = m->opt.cfg->mqtt.reconnect_max_s;
	start_connect(m);
}

int mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                 int retained)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	int rc;

	msg.payload = (void *)payload;
	msg.payloadlen = (int)len;
	msg.qos = qos;
	msg.retained = retained;
	rc = MQTTAsync_sendMessage(m->client, topic, &msg, NULL);
	if (rc != MQTTASYNC_SUCCESS) {
		log_debug("mqtt", "publish to %s failed: %s", topic, MQTTAsync_strerror(rc));
		return PW_EIO;
	}
	return PW_OK;
}

/* One confirmed publish in flight: on m->confirms until Paho reports it. */
struct confirm {
	struct mqtt *m;
	void (*done)(void *ctx, int64_t tag, int ok);
	void *ctx;
	int64_t tag;
	struct confirm *prev, *next;
};

static void confirm_finish(struct confirm *c, int ok)
{
	struct mqtt *m = c->m;

	pthread_mutex_lock(&m->confirm_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		m->confirms = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&m->confirm_lock);
	c->done(c->ctx, c->tag, ok);
	free(c);
}

static void on_publish_ok(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	confirm_finish(ctx, 1);
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	confirm_finish(ctx, 0);
}

int mqtt_publish_confirmed(struct mqtt *m, const char *topic, const void *payload, size_t len,
                           int qos, void (*done)(void *ctx, int64_t tag, int ok), void *ctx,
                           int64_t tag)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	struct confirm *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return PW_ENOMEM;
	c->m = m;
	c->done = done;
	c->ctx = ctx;
	c->tag = tag;
	pthread_mutex_lock(&m->confirm_lock);
	c->next = m->confirms;
	if (m->confirms)
		m->confirms->prev = c;
	m->confirms = c;
	pthread_mutex_unlock(&m->confirm_lock);
	msg.payload = (void *)payload;
	msg.payloadlen = (int)len;
	msg.qos = qos;
	ro.onSuccess = on_publish_ok;
	ro.onFailure = on_publish_failed;
	ro.context = c;
	rc = MQTTAsync_sendMessage(m->client, topic, &msg, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		pthread_mutex_lock(&m->confirm_lock);
		if (c->prev)
			c->prev->next = c->next;
		else
			m->confirms = c->next;
		if (c->next)
			c->next->prev = c->prev;
		pthread_mutex_unlock(&m->confirm_lock);
		free(c);
		log_debug("mqtt", "publish to %s failed: %s", topic, MQTTAsync_strerror(rc));
		return PW_EIO;
	}
	return PW_OK;
}

static void on_disconnected(void *ctx, MQTTAsync_successData *resp)
{
	struct mqtt *m = ctx;

	(void)resp;
	atomic_store(&m->disconnect_done, 1);
}

static void on_disconnect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct mqtt *m = ctx;

	(void)resp;
	atomic_store(&m->disconnect_done, 1);
}

void mqtt_stop(struct mqtt *m)
{
	MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;

	if (!m)
		return;
	atomic_store(&m->stopping, 1);
	pahoio_flush(); /* what is committed, the broker need not redeliver */
	if (atomic_load(&m->connected)) {
		mqtt_publish(m, m->topic_gateway, m->gateway_offline, strlen(m->gateway_offline), 1,
		             1);
		dopt.timeout = 2000;
		dopt.onSuccess = on_disconnected;
		dopt.onFailure = on_disconnect_failed;
		dopt.context = m;
		if (MQTTAsync_disconnect(m->client, &dopt) == MQTTASYNC_SUCCESS)
			for (int i = 0; i < 300 && !atomic_load(&m->disconnect_done); i++)
				sleep_ms(10);
	}
	/* wait for a message still being committed; no Paho call under the core
	 * lock, since Paho holds its own lock while it calls on_message */
	pthread_mutex_lock(&m->core_lock);
	pthread_mutex_unlock(&m->core_lock);
	MQTTAsync_destroy(&m->client);
	/* no PUBACK goes out any more: the journal writes as it did */
	pahoio_set_before_acks(NULL, NULL);
	if (m->opt.journal) {
		pthread_mutex_lock(&m->core_lock);
		journal_set_deferred(m->opt.journal, 0);
		pthread_mutex_unlock(&m->core_lock);
	}
	/* Paho calls nothing any more: what it never confirmed is lost to us */
	while (m->confirms)
		confirm_finish(m->confirms, 0);
	metrics_set_mqtt_connected(m->opt.metrics, 0);
	pthread_mutex_destroy(&m->confirm_lock);
	pthread_mutex_destroy(&m->core_lock);
	free(m);
}
