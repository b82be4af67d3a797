/*
 * rulesd — the rules inside the daemon (see rulesd.h for the promises).
 *
 * One struct events, alerts and sweep each, all on the core's connection:
 * ingest raises through the alerts (inside its group transaction), the
 * maintenance hook and the sweep judge with the same statements, and the
 * outbox is read and trimmed between group transactions. The sweep is due
 * at start and then at each site-local midnight of the (virtual) clock;
 * it walks every vehicle in chunks of RULESD_SWEEP_CHUNK, one per tick, so
 * ingest runs between chunks.
 */
#include "rulesd.h"

#include <stdlib.h>
#include <string.h>

#include "arrival_store.h"
#include "brief.h"
#include "events.h"
#include "frames.h"
#include "log.h"
#include "pw.h"
#include "sweep.h"

struct rulesd {
	struct rulesd_options opt;
	struct events *ev;
	struct alerts *al;
	struct sweep *sw;
	/* arrivals, inside ingest's transaction, with their health briefs */
	struct brief *br;
	struct arrival_store *as;
	int64_t next_sweep_ms; /* (virtual) clock time the next run is due */
	int sweeping;
	int collected; /* rows waiting for rulesd_publish */
	struct mqtt *mqtt;
	int64_t counted_upto; /* events counted in metrics up to this outbox id */
	struct log_limiter fail_log;
};

/* Sweep callback: the vehicle's maintenance thresholds into its memo. */
static void set_thresholds(void *ctx, const char *vin, double due_km, double limit_km)
{
	struct rulesd *rd = ctx;
	const struct pw_vehicle *cur = state_find(rd->opt.state, vin);
	struct pw_vehicle v;

	(void)limit_km; /* due_km + rules.maintenance.due_lead_km */
	if (!cur || cur->rules.maint_due_km == (float)due_km)
		return;
	v = *cur;
	v.rules.maint_due_km = (float)due_km;
	state_put(rd->opt.state, &v);
}

struct rulesd *rulesd_open(const struct rulesd_options *opt)
{
	struct rulesd *rd = calloc(1, sizeof(*rd));
	sqlite3 *db = (sqlite3 *)store_sqlite(opt->store);

	if (!rd)
		return NULL;
	rd->opt = *opt;
	log_limiter_init(&rd->fail_log, 5, 60 * 1000);
	rd->ev = events_open(db, opt->cfg->site.id);
	rd->al = rd->ev ? alerts_open(db, opt->cfg, rd->ev) : NULL;
	rd->sw = rd->al ? sweep_open(db, opt->cfg, rd->al) : NULL;
	if (!rd->sw)
		goto fail;
	alerts_set_maintenance_hook(rd->al, sweep_maintenance_hook, rd->sw);
	sweep_set_thresholds_fn(rd->sw, set_thresholds, rd);
	if (alerts_load_memos(rd->al, opt->state) != PW_OK)
		goto fail;
	rd->br = brief_open(db, opt->cfg);
	rd->as = rd->br ? arrival_store_open(db, opt->cfg, opt->clock, rd->ev, rd->br) : NULL;
	if (!rd->as || arrival_store_load_on_site(rd->as, opt->state) != PW_OK)
		goto fail;
	rd->next_sweep_ms = 0; /* at once */
	return rd;
fail:
	rulesd_close(rd);
	return NULL;
}

void rulesd_close(struct rulesd *rd)
{
	if (!rd)
		return;
	arrival_store_close(rd->as);
	brief_close(rd->br);
	sweep_close(rd->sw);
	alerts_close(rd->al);
	events_close(rd->ev);
	free(rd);
}

struct alerts *rulesd_alerts(struct rulesd *rd)
{
	return rd->al;
}

struct arrival_store *rulesd_arrivals(struct rulesd *rd)
{
	return rd ? rd->as : NULL;
}

static void sweep_tick(struct rulesd *rd, int64_t now_ms)
{
	int done = 0;

	if (!rd->sweeping) {
		if (now_ms < rd->next_sweep_ms)
			return;
		if (sweep_start(rd->sw, now_ms) != PW_OK)
			goto failed;
		rd->sweeping = 1;
	}
	if (sweep_step(rd->sw, RULESD_SWEEP_CHUNK, &done) != PW_OK)
		goto failed;
	if (done) {
		struct sweep_stats st;
		char day[16];
		int tz = alerts_tz_offset(rd->al);

		sweep_get_stats(rd->sw, &st);
		rules_format_date(st.day, day, sizeof(day));
		log_info("rules",
		         "sweep of %s: %ld vehicles, %ld events (maintenance %ld, insurance %ld, "
		         "fuel %ld, lost_customer %ld, followup %ld), %ld cleared",
		         day, st.vehicles, st.events, st.maintenance, st.insurance, st.fuel,
		         st.lost_customer, st.followup, st.cleared);
		rd->sweeping = 0;
		rd->next_sweep_ms = rules_day_start_ms(st.day + 1, tz);
	}
	return;
failed:
	rd->sweeping = 0;
	rd->next_sweep_ms = now_ms + RULESD_RETRY_MS;
	log_error("rules", "sweep failed; trying again in %d s", RULESD_RETRY_MS / 1000);
}

void rulesd_tick_locked(struct rulesd *rd, int connected)
{
	sweep_tick(rd, clock_now_ms(rd->opt.clock));
	rd->collected = 0;
	if (!connected)
		return;
	if (events_collect(rd->ev, clock_real_ms(), RULESD_RESEND_MS) != PW_OK) {
		if (log_limiter_allow(&rd->fail_log, "rules", clock_real_ms()))
			log_error("rules", "cannot read the outbox; events wait there");
		return;
	}
	rd->collected = 1;
}

/* Paho's thread: the broker has the row (or lost it). */
static void on_done(void *ctx, int64_t id, int ok)
{
	struct rulesd *rd = ctx;

	events_confirm(rd->ev, id, ok);
}

/* An event's first publish: its WebSocket frame to the hub (an arrival's
 * at once to every console: the advisor is walking out to meet the car). */
static void push_frame(struct rulesd *rd, const char *payload, size_t len, const char *event_type)
{
	char *frame = NULL;
	size_t n = 0;
	int channel = HUB_ADVISOR;

	if (frames_event(payload, len, &channel, &frame, &n) != PW_OK) {
		if (log_limiter_allow(&rd->fail_log, "rules", clock_real_ms()))
			log_warn("rules", "no WebSocket frame for an event: %.80s", payload);
		return;
	}
	hub_push(rd->opt.hub, (enum hub_channel)channel, NULL,
	         event_type && strcmp(event_type, "arrival") == 0 ? HUB_PROMPT : 0u, frame, n);
	free(frame);
}

static int publish_one(void *ctx, int64_t id, const char *topic, const char *payload, size_t len,
                       const char *event_type)
{
	struct rulesd *rd = ctx;

	if (mqtt_publish_confirmed(rd->mqtt, topic, payload, len, 1, on_done, rd, id) != PW_OK)
		return PW_EIO;
	if (event_type && id > rd->counted_upto) {
		metrics_count_event(rd->opt.metrics, event_type);
		rd->counted_upto = id;
		if (rd->opt.hub)
			push_frame(rd, payload, len, event_type);
	}
	return PW_OK;
}

void rulesd_publish(struct rulesd *rd, struct mqtt *m)
{
	int n = 0;

	if (!rd->collected)
		return;
	rd->collected = 0;
	rd->mqtt = m;
	events_publish_collected(rd->ev, publish_one, rd, clock_real_ms(), &n);
	if (n)
		log_debug("rules", "published %d events and in-car messages", n);
}
