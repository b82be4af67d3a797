/*
 * catchup — a growable ring of (vin, due) entries; see catchup.h.
 */
#include "catchup.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	char vin[PW_VIN_LEN + 1];
	int64_t due_ms;
};

struct catchup {
	struct entry *ring;
	size_t cap; /* a power of two, or 0 */
	size_t head, count;
};

struct catchup *catchup_new(void)
{
	return calloc(1, sizeof(struct catchup));
}

void catchup_free(struct catchup *q)
{
	if (!q)
		return;
	free(q->ring);
	free(q);
}

static int grow(struct catchup *q)
{
	size_t cap = q->cap ? q->cap * 2 : 64;
	struct entry *ring = malloc(cap * sizeof(*ring));

	if (!ring)
		return PW_ENOMEM;
	for (size_t i = 0; i < q->count; i++)
		ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = ring;
	q->cap = cap;
	q->head = 0;
	return PW_OK;
}

int catchup_push(struct catchup *q, const char *vin, int64_t due_ms)
{
	struct entry *e;

	if (q->count == q->cap && grow(q) != PW_OK)
		return PW_ENOMEM;
	e = &q->ring[(q->head + q->count) & (q->cap - 1)];
	memcpy(e->vin, vin, PW_VIN_LEN);
	e->vin[PW_VIN_LEN] = '\0';
	e->due_ms = due_ms;
	q->count++;
	return PW_OK;
}

int catchup_pop_due(struct catchup *q, int64_t now_ms, char *vin)
{
	const struct entry *e;

	if (q->count == 0)
		return 0;
	e = &q->ring[q->head];
	if (e->due_ms > now_ms)
		return 0;
	memcpy(vin, e->vin, PW_VIN_LEN + 1);
	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
	return 1;
}

size_t catchup_count(const struct catchup *q)
{
	return q->count;
}
