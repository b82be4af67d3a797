/*
 * dtcset — interned DTC sets (see dtcset.h for the promises).
 *
 * Each set is one allocation: a small header, then the entries that
 * vehicles point at (the header is found back from an entries pointer by
 * its offset). Sets are found by content through a chained hash index,
 * one bucket per set at most (it doubles as sets are added, never shrinks:
 * its size follows the most sets ever held at once). A set that goes idle
 * (no reference: new, or its last one dropped) is pushed once on an
 * intrusive list; dtcset_collect() walks only that list, freeing what is
 * still idle, so a quiet pool costs nothing to collect.
 */
#include "dtcset.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS 64u

struct set {
	struct set *next;      /* hash chain */
	struct set *next_idle; /* idle list, while `listed` */
	uint32_t refs;
	uint32_t hash;
	uint8_t n;
	uint8_t listed;
	struct pw_dtc d[]; /* what vehicles point at */
};

struct dtcset_pool {
	struct set **buckets;
	size_t n_buckets; /* a power of two */
	size_t count;     /* sets held */
	size_t idle;      /* of which with no reference */
	size_t idle_max;
	size_t set_bytes; /* allocated for the sets */
	struct set *idle_list;
};

static size_t set_size(int n)
{
	return sizeof(struct set) + (size_t)n * sizeof(struct pw_dtc);
}

static struct set *set_of(const struct pw_dtc *d)
{
	/* (uintptr_t): the header is ours to write; readers only see const entries */
	return (struct set *)(void *)((char *)(uintptr_t)d - offsetof(struct set, d));
}

static uint32_t hash_entries(const struct pw_dtc *d, int n)
{
	const unsigned char *b = (const unsigned char *)d;
	uint32_t h = 2166136261u ^ (uint32_t)n;

	for (size_t i = 0; i < (size_t)n * sizeof(*d); i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h ^ (h >> 16);
}

struct dtcset_pool *dtcset_pool_new(size_t idle_max)
{
	struct dtcset_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->n_buckets = MIN_BUCKETS;
	p->buckets = calloc(p->n_buckets, sizeof(*p->buckets));
	if (!p->buckets) {
		free(p);
		return NULL;
	}
	p->idle_max = idle_max ? idle_max : DTCSET_IDLE_MAX;
	return p;
}

void dtcset_pool_free(struct dtcset_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_buckets; i++) {
		struct set *s = p->buckets[i];

		while (s) {
			struct set *next = s->next;

			free(s);
			s = next;
		}
	}
	free(p->buckets);
	free(p);
}

static struct set **bucket(const struct dtcset_pool *p, uint32_t hash)
{
	return &p->buckets[hash & (p->n_buckets - 1)];
}

static struct set *find(const struct dtcset_pool *p, const struct pw_dtc *d, int n, uint32_t hash)
{
	for (struct set *s = *bucket(p, hash); s; s = s->next)
		if (s->hash == hash && s->n == n && memcmp(s->d, d, (size_t)n * sizeof(*d)) == 0)
			return s;
	return NULL;
}

/* Doubles the index. On ENOMEM it stays as it is: chains only get longer. */
static void grow(struct dtcset_pool *p)
{
	size_t n = p->n_buckets * 2;
	struct set **fresh = calloc(n, sizeof(*fresh));

	if (!fresh)
		return;
	for (size_t i = 0; i < p->n_buckets; i++) {
		struct set *s = p->buckets[i];

		while (s) {
			struct set *next = s->next;
			struct set **b = &fresh[s->hash & (n - 1)];

			s->next = *b;
			*b = s;
			s = next;
		}
	}
	free(p->buckets);
	p->buckets = fresh;
	p->n_buckets = n;
}

static void list_idle(struct dtcset_pool *p, struct set *s)
{
	if (s->listed)
		return;
	s->listed = 1;
	s->next_idle = p->idle_list;
	p->idle_list = s;
}

int dtcset_intern(struct dtcset_pool *p, const struct pw_dtc *d, int n, const struct pw_dtc **out)
{
	uint32_t hash;
	struct set *s, **b;

	if (n < 1 || n > PW_DTC_MAX)
		return PW_EINVAL;
	hash = hash_entries(d, n);
	s = find(p, d, n, hash);
	if (s) {
		*out = s->d;
		return PW_OK;
	}
	if (p->idle >= p->idle_max)
		return PW_ENOMEM;
	if (p->count >= p->n_buckets)
		grow(p);
	s = malloc(set_size(n));
	if (!s)
		return PW_ENOMEM;
	s->refs = 0;
	s->hash = hash;
	s->n = (uint8_t)n;
	s->listed = 0;
	memcpy(s->d, d, (size_t)n * sizeof(*d));
	b = bucket(p, hash);
	s->next = *b;
	*b = s;
	p->count++;
	p->idle++;
	p->set_bytes += set_size(n);
	list_idle(p, s);
	*out = s->d;
	return PW_OK;
}

#ifndef NDEBUG
/* For assert(): `s` is one of the pool's sets (not another pool's, not a
 * vehicle's own array). */
static int owns(const struct dtcset_pool *p, const struct set *s)
{
	for (const struct set *x = *bucket(p, s->hash); x; x = x->next)
		if (x == s)
			return 1;
	return 0;
}
#endif

void dtcset_ref(struct dtcset_pool *p, const struct pw_dtc *set)
{
	struct set *s;

	if (!set)
		return;
	s = set_of(set);
	assert(owns(p, s));
	if (s->refs++ == 0)
		p->idle--;
}

void dtcset_unref(struct dtcset_pool *p, const struct pw_dtc *set)
{
	struct set *s;

	if (!set)
		return;
	s = set_of(set);
	assert(owns(p, s) && s->refs > 0);
	if (--s->refs == 0) {
		p->idle++;
		list_idle(p, s);
	}
}

static void unlink_set(struct dtcset_pool *p, struct set *s)
{
	struct set **at = bucket(p, s->hash);

	while (*at != s)
		at = &(*at)->next;
	*at = s->next;
}

size_t dtcset_collect(struct dtcset_pool *p)
{
	size_t freed = 0;

	while (p->idle_list) {
		struct set *s = p->idle_list;

		p->idle_list = s->next_idle;
		s->listed = 0;
		if (s->refs)
			continue; /* referenced again since it went idle */
		unlink_set(p, s);
		p->count--;
		p->idle--;
		p->set_bytes -= set_size(s->n);
		free(s);
		freed++;
	}
	return freed;
}

size_t dtcset_count(const struct dtcset_pool *p)
{
	return p->count;
}

size_t dtcset_idle(const struct dtcset_pool *p)
{
	return p->idle;
}

size_t dtcset_memory_bytes(const struct dtcset_pool *p)
{
	return sizeof(*p) + p->n_buckets * sizeof(*p->buckets) + p->set_bytes;
}
