-- 003_alerts: what the rules find and say. Alerts (one per episode of a
-- condition) with their customer-care log; the outbox of events and in-car
-- messages, written in the same transaction as the alert and deleted once
-- the broker has them; the in-car message ledger (one per vehicle, kind and
-- day); each vehicle's driving per site-local day; the sweep's last day.
-- Times: ms since the epoch, UTC; days: 'YYYY-MM-DD' site-local.

CREATE TABLE alert (
	id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: event ids derive from it
	vin TEXT NOT NULL,
	-- rules_kind_name(): maintenance insurance tyre_pressure tyre_tread fault
	-- battery fuel odometer lost_customer followup
	kind TEXT NOT NULL,
	-- which one of the kind: a wheel, a DTC code, "<policy kind>:<expiry>",
	-- a maintenance cycle's start date, a service id; '' when only one
	subject TEXT NOT NULL DEFAULT '',
	type TEXT NOT NULL, -- the contract's event type of its latest event
	severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
	level INTEGER NOT NULL, -- the episode's highest level: severity, or stage
	status TEXT NOT NULL DEFAULT 'open'
		CHECK (status IN ('open', 'acknowledged', 'contacted', 'booked', 'resolved', 'dismissed')),
	-- 1 while the condition holds (the episode goes on): no second alert
	-- for the same vin, kind and subject until it clears
	active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
	opened_ms INTEGER NOT NULL,
	updated_ms INTEGER NOT NULL,
	cleared_ms INTEGER, -- when the condition cleared
	events INTEGER NOT NULL DEFAULT 0, -- events sent for it: ids "e<id>-1", "e<id>-2", ...
	detail TEXT NOT NULL DEFAULT '{}' -- its latest event's own fields (JSON object)
);
CREATE UNIQUE INDEX alert_episode ON alert (vin, kind, subject) WHERE active = 1;
CREATE INDEX alert_status ON alert (status, kind);
CREATE INDEX alert_vin ON alert (vin, opened_ms);

-- Every change of an alert: the customer-care log (who, when, why).
CREATE TABLE alert_log (
	id INTEGER PRIMARY KEY,
	alert_id INTEGER NOT NULL REFERENCES alert (id),
	ts_ms INTEGER NOT NULL,
	actor TEXT NOT NULL, -- 'system' or the user who changed it
	action TEXT NOT NULL CHECK (action IN ('opened', 'escalated', 'cleared', 'acknowledged',
		'contacted', 'booked', 'resolved', 'dismissed')),
	status TEXT NOT NULL, -- the alert's status after the change
	note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_log_alert ON alert_log (alert_id, id);

-- Messages to publish, in id order; a row goes once the broker acknowledged it.
CREATE TABLE outbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	created_ms INTEGER NOT NULL,
	topic TEXT NOT NULL,
	event_type TEXT, -- the event's type (for pitwall_events_total); NULL: an in-car message
	payload TEXT NOT NULL
);

-- In-car messages sent: at most one per vehicle, kind and site-local day.
CREATE TABLE notify_sent (
	vin TEXT NOT NULL,
	kind TEXT NOT NULL,
	day TEXT NOT NULL,
	PRIMARY KEY (vin, kind, day)
) WITHOUT ROWID;

-- Driving per vehicle and site-local day, added to as telemetry arrives:
-- km (odometer deltas), the km above rules.profile.highway_kmh and below
-- congestion_kmh, and litres burnt over fuel_km (the km that came with a
-- fuel_l_per_100km). The multi-day rules (daily km, fuel, profile) read it.
CREATE TABLE vehicle_day (
	vin TEXT NOT NULL,
	day TEXT NOT NULL,
	km REAL NOT NULL DEFAULT 0,
	km_highway REAL NOT NULL DEFAULT 0,
	km_congestion REAL NOT NULL DEFAULT 0,
	fuel_l REAL NOT NULL DEFAULT 0,
	fuel_km REAL NOT NULL DEFAULT 0,
	PRIMARY KEY (vin, day)
) WITHOUT ROWID;

-- The date-based sweep: the site-local day it last ran for.
CREATE TABLE sweep_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	last_day TEXT NOT NULL,
	ran_ms INTEGER NOT NULL
);
