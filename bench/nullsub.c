/*
 * nullsub — the do-nothing subscriber: the ceiling bench/ingest holds the
 * gateway against. A Paho MQTTAsync client (the library the gateway uses)
 * subscribes to pitwall/v1/vehicles/+/telemetry at the given QoS, counts
 * each message, frees it and returns 1 (so Paho acknowledges it), nothing
 * more.
 *
 * Prints "ready" on stdout once the subscription is acknowledged, then at
 * the end one JSON line: {"msgs":N,"seconds":S,"rate":R,"cpu_s":C,
 * "cpu_us_per_msg":U} — seconds from the first to the last message, CPU
 * time (user + system, getrusage) from start to the last message. Ends
 * after --count messages, or --idle S seconds without one (after the first),
 * or SIGINT/SIGTERM. --persistent keeps the session (clean session off) so
 * the broker queues for it while it is away; --subscribe-only subscribes,
 * prints "ready" and leaves (bench/ingest's backlog-drain runs).
 *
 * Threads: Paho's callback thread counts (C11 atomics); the main thread
 * waits and reports.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#define TOPIC "pitwall/v1/vehicles/+/telemetry"

static atomic_int stop_requested; /* the one global: set by the signal handler */

struct nullsub {
	MQTTAsync client;
	int qos;
	atomic_llong msgs;
	atomic_llong first_ns;
	atomic_llong last_ns;
	atomic_int subscribed; /* 1 ok, -1 failed */
	double cpu_at_last;    /* written by the callback thread at the last message */
	long long count;
	atomic_int done;
};

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

/* Paho callback thread: the whole per-message work of a do-nothing consumer. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct nullsub *s = ctx;
	long long now = mono_ns(), n;

	(void)topic_len;
	n = atomic_fetch_add(&s->msgs, 1) + 1;
	if (n == 1)
		atomic_store(&s->first_ns, now);
	atomic_store(&s->last_ns, now);
	if (s->count > 0 && n == s->count) {
		s->cpu_at_last = cpu_s();
		atomic_store(&s->done, 1);
	}
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_lost(void *ctx, char *cause)
{
	(void)ctx;
	fprintf(stderr, "nullsub: connection lost: %s\n", cause ? cause : "no cause");
}

static void on_subscribed(void *ctx, MQTTAsync_successData *resp)
{
	struct nullsub *s = ctx;

	(void)resp;
	atomic_store(&s->subscribed, 1);
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct nullsub *s = ctx;

	(void)resp;
	atomic_store(&s->subscribed, -1);
}

static void on_connected(void *ctx, MQTTAsync_successData *resp)
{
	struct nullsub *s = ctx;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	(void)resp;
	ro.onSuccess = on_subscribed;
	ro.onFailure = on_subscribe_failed;
	ro.context = s;
	if (MQTTAsync_subscribe(s->client, TOPIC, s->qos, &ro) != MQTTASYNC_SUCCESS)
		atomic_store(&s->subscribed, -1);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct nullsub *s = ctx;

	fprintf(stderr, "nullsub: cannot connect: %s\n",
	        resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1));
	atomic_store(&s->subscribed, -1);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static const char usage_text[] =
    "usage: nullsub --broker URI [--qos 0|1] [--count N] [--idle S] [--client-id ID]\n"
    "               [--persistent] [--subscribe-only]\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"broker", required_argument, NULL, 'b'},
	                                     {"qos", required_argument, NULL, 'q'},
	                                     {"count", required_argument, NULL, 'n'},
	                                     {"idle", required_argument, NULL, 'i'},
	                                     {"client-id", required_argument, NULL, 'c'},
	                                     {"persistent", no_argument, NULL, 'p'},
	                                     {"subscribe-only", no_argument, NULL, 's'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
	struct nullsub s;
	const char *uri = "tcp://127.0.0.1:1883", *client_id = "pitwall-nullsub";
	double idle_s = 5.0, cpu0, cpu1, secs;
	long long n, last_seen = 0, idle_since;
	char *end;
	struct sigaction sa;
	int c, rc, persistent = 0, subscribe_only = 0;

	memset(&s, 0, sizeof(s));
	s.qos = 1;
	cpu0 = cpu_s(); /* a persistent session's backlog may arrive before "ready" */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			uri = optarg;
			break;
		case 'q':
			if (strcmp(optarg, "0") != 0 && strcmp(optarg, "1") != 0) {
				fputs("nullsub: --qos 0 or 1\n", stderr);
				return 2;
			}
			s.qos = optarg[0] - '0';
			break;
		case 'n':
			errno = 0;
			s.count = strtoll(optarg, &end, 10);
			if (errno || *end || s.count < 0) {
				fputs("nullsub: --count: integer >= 0\n", stderr);
				return 2;
			}
			break;
		case 'i':
			idle_s = strtod(optarg, &end);
			if (*end || !(idle_s > 0)) {
				fputs("nullsub: --idle: seconds > 0\n", stderr);
				return 2;
			}
			break;
		case 'c':
			client_id = optarg;
			break;
		case 'p':
			persistent = 1;
			break;
		case 's':
			subscribe_only = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = MQTTAsync_create(&s.client, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
	if (rc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "nullsub: %s: %s\n", uri, MQTTAsync_strerror(rc));
		return 2;
	}
	MQTTAsync_setCallbacks(s.client, &s, on_lost, on_message, NULL);
	conn.keepAliveInterval = 30;
	conn.cleansession = !persistent;
	conn.onSuccess = on_connected;
	conn.onFailure = on_connect_failed;
	conn.context = &s;
	if (MQTTAsync_connect(s.client, &conn) != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "nullsub: connect to %s failed to start\n", uri);
		return 1;
	}
	while (atomic_load(&s.subscribed) == 0 && !atomic_load(&stop_requested))
		sleep_ms(5);
	if (atomic_load(&s.subscribed) < 0) {
		MQTTAsync_destroy(&s.client);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (subscribe_only)
		goto out;

	idle_since = mono_ns();
	while (!atomic_load(&stop_requested) && !atomic_load(&s.done)) {
		sleep_ms(20);
		n = atomic_load(&s.msgs);
		if (n != last_seen) {
			last_seen = n;
			idle_since = mono_ns();
		} else if (n > 0 && (double)(mono_ns() - idle_since) / 1e9 > idle_s) {
			break;
		}
	}
	n = atomic_load(&s.msgs);
	cpu1 = atomic_load(&s.done) ? s.cpu_at_last : cpu_s();
	secs = n > 1 ? (double)(atomic_load(&s.last_ns) - atomic_load(&s.first_ns)) / 1e9 : 0.0;
	printf("{\"msgs\":%lld,\"seconds\":%.3f,\"rate\":%.0f,\"cpu_s\":%.3f,"
	       "\"cpu_us_per_msg\":%.2f,\"qos\":%d}\n",
	       n, secs, secs > 0 ? (double)(n - 1) / secs : 0.0, cpu1 - cpu0,
	       n > 0 ? (cpu1 - cpu0) * 1e6 / (double)n : 0.0, s.qos);
	fflush(stdout);
out : {
	MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;

	dopt.timeout = 1000;
	MQTTAsync_disconnect(s.client, &dopt);
	sleep_ms(100);
}
	MQTTAsync_destroy(&s.client);
	return 0;
}
