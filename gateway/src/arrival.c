/*
 * arrival — matching an arrival to an appointment and an advisor (see
 * arrival.h for the rules). A handful of candidates at most: linear scans.
 */
#include "arrival.h"

#include <string.h>

static int advisor_index(const struct arrival_input *in, const char *id)
{
	if (!id || !*id)
		return -1;
	for (int i = 0; i < in->n_advisors; i++)
		if (in->advisors[i].id && strcmp(in->advisors[i].id, id) == 0)
			return i;
	return -1;
}

static int64_t distance_ms(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

static int least_loaded(const struct arrival_input *in)
{
	int best = -1;

	for (int i = 0; i < in->n_advisors; i++) {
		const struct arrival_advisor *a = &in->advisors[i];

		if (!a->id)
			continue;
		if (best < 0 || a->open_arrivals < in->advisors[best].open_arrivals ||
		    (a->open_arrivals == in->advisors[best].open_arrivals &&
		     strcmp(a->id, in->advisors[best].id) < 0))
			best = i;
	}
	return best;
}

void arrival_match(const struct arrival_input *in, struct arrival_match *out)
{
	int64_t window_ms = (int64_t)(in->window_min > 0 ? in->window_min : 0) * 60 * 1000;
	int best = -1;

	out->kind = ARRIVAL_MATCH_NONE;
	out->appointment = -1;
	out->advisor = -1;
	out->vip = in->tier && strcmp(in->tier, "vip") == 0;

	for (int i = 0; i < in->n_appointments; i++) {
		const struct arrival_appointment *ap = &in->appointments[i];
		int64_t d = distance_ms(ap->start_ms, in->arrived_ms);

		if (ap->used || d > window_ms)
			continue;
		if (best < 0) {
			best = i;
			continue;
		}
		int64_t bd = distance_ms(in->appointments[best].start_ms, in->arrived_ms);

		if (d < bd || (d == bd && ap->start_ms < in->appointments[best].start_ms))
			best = i;
	}
	if (best >= 0) {
		out->kind = ARRIVAL_MATCH_APPOINTMENT;
		out->appointment = best;
		out->advisor = advisor_index(in, in->appointments[best].advisor_id);
		if (out->advisor < 0)
			out->advisor = advisor_index(in, in->own_advisor_id);
		if (out->advisor < 0)
			out->advisor = least_loaded(in);
		return;
	}
	out->advisor = advisor_index(in, in->own_advisor_id);
	if (out->advisor >= 0) {
		out->kind = ARRIVAL_MATCH_OWN_ADVISOR;
		return;
	}
	out->advisor = least_loaded(in);
	if (out->advisor >= 0)
		out->kind = ARRIVAL_MATCH_LEAST_LOADED;
}

const char *arrival_match_name(enum arrival_match_kind kind)
{
	switch (kind) {
	case ARRIVAL_MATCH_APPOINTMENT:
		return "appointment";
	case ARRIVAL_MATCH_OWN_ADVISOR:
		return "own_advisor";
	case ARRIVAL_MATCH_LEAST_LOADED:
		return "least_loaded";
	default:
		return "none";
	}
}
