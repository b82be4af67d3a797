/*
 * arrival — who takes a car that just pulled in: the pure matching of an
 * arrival to an appointment and an advisor (DESIGN "Arrival").
 *
 * In order:
 * 1. "appointment": an appointment of the car's within ±window_min of the
 *    arrival and not already used by an earlier arrival; the nearest in time
 *    (a tie: the earlier). Its advisor (or, if it names none or one not on
 *    file, the next rule's) and desk.
 * 2. "own_advisor": the customer's own advisor, if on file.
 * 3. "least_loaded": the advisor with the fewest open arrivals today (ties:
 *    the smaller id). Every advisor on file counts as on duty: the DMS
 *    export has no roster.
 * 4. "none": no advisor on file at all.
 * A customer of tier "vip" makes a VIP arrival (the service manager is
 * alerted); platinum and diamond do not.
 *
 * Pure: the caller (arrival_store.c) reads the candidates from SQLite.
 * Thread: any.
 */
#ifndef PW_ARRIVAL_H
#define PW_ARRIVAL_H

#include <stdint.h>

enum arrival_match_kind {
	ARRIVAL_MATCH_NONE = 0,
	ARRIVAL_MATCH_APPOINTMENT,
	ARRIVAL_MATCH_OWN_ADVISOR,
	ARRIVAL_MATCH_LEAST_LOADED,
};

/* One of the car's appointments near the arrival. Strings borrowed. */
struct arrival_appointment {
	const char *id;
	int64_t start_ms;
	const char *advisor_id; /* NULL or "": none named */
	int used;               /* an earlier arrival already matched it */
};

/* One advisor on file. Strings borrowed. */
struct arrival_advisor {
	const char *id;
	int open_arrivals; /* today's arrivals with this advisor not yet departed */
};

struct arrival_input {
	int64_t arrived_ms;
	int window_min; /* rules.appointment_window_min */
	const struct arrival_appointment *appointments;
	int n_appointments;
	const char *own_advisor_id; /* the customer's advisor; NULL: none or no customer */
	const struct arrival_advisor *advisors;
	int n_advisors;
	const char *tier; /* the customer's tier; NULL: no customer */
};

struct arrival_match {
	enum arrival_match_kind kind;
	int appointment; /* index into appointments, or -1 */
	int advisor;     /* index into advisors, or -1 */
	int vip;
};

/* Matches `in` into *out. */
void arrival_match(const struct arrival_input *in, struct arrival_match *out);

/* "appointment", "own_advisor", "least_loaded", "none" (arrival.match). */
const char *arrival_match_name(enum arrival_match_kind kind);

#endif
