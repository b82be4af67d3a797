/*
 * ctlq — the control queue (see ctlq.h). A fixed array of messages under
 * one mutex; pushes coalesce by vin so a burst of service visits for one
 * car costs one slot. Drained whole by ctlq_apply: the lock is held only
 * while the messages are copied out, never while state is written.
 */
#include "ctlq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pw.h"

struct ctlq_msg {
	char vin[PW_VIN_LEN + 1];
	double due_km;
	double limit_km;
};

struct ctlq {
	pthread_mutex_t lock;
	size_t cap, n;
	struct ctlq_msg *msg; /* [0, n) in push order */
};

struct ctlq *ctlq_new(size_t cap)
{
	struct ctlq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->cap = cap ? cap : CTLQ_DEFAULT_CAP;
	q->msg = calloc(q->cap, sizeof(*q->msg));
	if (!q->msg) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	return q;
}

void ctlq_free(struct ctlq *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q->msg);
	free(q);
}

int ctlq_push_thresholds(struct ctlq *q, const char *vin, double due_km, double limit_km)
{
	size_t i;
	int rc = PW_EBUSY;

	if (!q || !vin || strlen(vin) != PW_VIN_LEN)
		return PW_EINVAL;
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->n; i++)
		if (strcmp(q->msg[i].vin, vin) == 0)
			break;
	if (i < q->n || q->n < q->cap) {
		struct ctlq_msg *m = &q->msg[i];

		memcpy(m->vin, vin, PW_VIN_LEN + 1);
		m->due_km = due_km;
		m->limit_km = limit_km;
		if (i == q->n)
			q->n++;
		rc = PW_OK;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int ctlq_apply(struct ctlq *q, struct state *st)
{
	struct ctlq_msg *batch;
	size_t n, i;
	int applied = 0;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	n = q->n;
	batch = n ? malloc(n * sizeof(*batch)) : NULL;
	if (batch) {
		memcpy(batch, q->msg, n * sizeof(*batch));
		q->n = 0;
	}
	pthread_mutex_unlock(&q->lock);
	if (!batch)
		return 0; /* empty, or no memory now: try again next tick */
	for (i = 0; i < n; i++) {
		const struct pw_vehicle *cur = st ? state_find(st, batch[i].vin) : NULL;
		struct pw_vehicle v;

		/* as rulesd's sweep callback: limit_km is due_km + due_lead_km */
		if (!cur || cur->rules.maint_due_km == (float)batch[i].due_km)
			continue;
		v = *cur;
		v.rules.maint_due_km = (float)batch[i].due_km;
		if (state_put(st, &v) == PW_OK)
			applied++;
	}
	free(batch);
	return applied;
}

size_t ctlq_pending(struct ctlq *q)
{
	size_t n;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	n = q->n;
	pthread_mutex_unlock(&q->lock);
	return n;
}
