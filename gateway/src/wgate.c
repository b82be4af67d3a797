/*
 * wgate — see wgate.h. A mutex for the gate's users and the pointer to the
 * MQTT client; the core lock itself belongs to mqtt.c.
 */
#include "wgate.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "ingest.h"
#include "log.h"
#include "mqtt.h"
#include "pw.h"

struct wgate {
	pthread_mutex_t lock; /* held from enter to leave; guards mqtt */
	struct mqtt *mqtt;    /* NULL: no core running */
	struct ingest *ingest;
};

struct wgate *wgate_new(void)
{
	struct wgate *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

void wgate_free(struct wgate *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void wgate_set_core(struct wgate *g, struct mqtt *m, struct ingest *in)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->mqtt = m;
	g->ingest = in;
	pthread_mutex_unlock(&g->lock);
}

void wgate_enter(struct wgate *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	if (!g->mqtt)
		return;
	mqtt_lock_core(g->mqtt);
	if (g->ingest && ingest_flush(g->ingest) != PW_OK) {
		/* as everywhere: what was acknowledged is in the journal */
		log_error("wgate", "cannot commit the core's messages; exiting");
		_exit(1);
	}
}

void wgate_leave(struct wgate *g)
{
	if (!g)
		return;
	if (g->mqtt)
		mqtt_unlock_core(g->mqtt);
	pthread_mutex_unlock(&g->lock);
}
