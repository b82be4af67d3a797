-- 001_init: the telemetry core: each vehicle's latest state, downsampled
-- history, DTC changes, seq gaps. Later migrations (dealer data, alerts)
-- refer to vehicles by vin. Times: ms since the Unix epoch, UTC. NULL: never
-- reported.

-- One row per vehicle, upserted for every accepted message.
CREATE TABLE vehicle_state (
	vin TEXT PRIMARY KEY NOT NULL,
	odometer_km REAL,
	speed_kmh REAL,
	ignition TEXT CHECK (ignition IN ('off', 'acc', 'on')),
	fuel_pct REAL,
	fuel_l_per_100km REAL,
	battery_v REAL,
	engine_hours REAL,
	lat REAL,
	lon REAL,
	heading_deg REAL,
	tire_fl_kpa REAL, tire_fl_tread_mm REAL, tire_fl_temp_c REAL,
	tire_fr_kpa REAL, tire_fr_tread_mm REAL, tire_fr_temp_c REAL,
	tire_rl_kpa REAL, tire_rl_tread_mm REAL, tire_rl_temp_c REAL,
	tire_rr_kpa REAL, tire_rr_tread_mm REAL, tire_rr_temp_c REAL,
	dtc TEXT, -- JSON [{"code","status","mil"}], sorted by code
	seq_max INTEGER NOT NULL DEFAULT -1, -- highest seq applied, -1 none
	seq_window INTEGER NOT NULL DEFAULT 0, -- bit i: seq_max-i seen (uint64 bits)
	msg_count INTEGER NOT NULL DEFAULT 0,
	ts_ms INTEGER NOT NULL DEFAULT 0, -- newest telemetry ts applied
	field_ts BLOB, -- when each field was last set: see store.c
	history_bucket INTEGER NOT NULL DEFAULT -1, -- newest bucket written
	odometer_rollbacks INTEGER NOT NULL DEFAULT 0,
	online INTEGER NOT NULL DEFAULT 0, -- from the status topic
	status_ts_ms INTEGER NOT NULL DEFAULT 0, -- 0: no status yet
	updated_at INTEGER NOT NULL -- wall-clock ms of the last write
);

-- One row per vehicle and bucket (ts_ms / history_interval): the fields of
-- the first object written for it. Positions go after retention_days.
CREATE TABLE history (
	id INTEGER PRIMARY KEY,
	vin TEXT NOT NULL,
	bucket INTEGER NOT NULL,
	ts_ms INTEGER NOT NULL,
	odometer_km REAL,
	speed_kmh REAL,
	ignition TEXT CHECK (ignition IN ('off', 'acc', 'on')),
	fuel_pct REAL,
	fuel_l_per_100km REAL,
	battery_v REAL,
	engine_hours REAL,
	lat REAL,
	lon REAL,
	heading_deg REAL,
	tire_fl_kpa REAL, tire_fl_tread_mm REAL, tire_fl_temp_c REAL,
	tire_fr_kpa REAL, tire_fr_tread_mm REAL, tire_fr_temp_c REAL,
	tire_rl_kpa REAL, tire_rl_tread_mm REAL, tire_rl_temp_c REAL,
	tire_rr_kpa REAL, tire_rr_tread_mm REAL, tire_rr_temp_c REAL,
	UNIQUE (vin, bucket) -- also "a vehicle over time": buckets are in ts order
);
-- rows whose position is still to be purged, oldest first
CREATE INDEX history_position_ts ON history (ts_ms) WHERE lat IS NOT NULL;

-- Every change of a vehicle's DTC set: the whole new set.
CREATE TABLE dtc_history (
	id INTEGER PRIMARY KEY,
	vin TEXT NOT NULL,
	ts_ms INTEGER NOT NULL,
	dtc TEXT NOT NULL
);
CREATE INDEX dtc_history_vin_ts ON dtc_history (vin, ts_ms);

-- Seq ranges that slid below the dedupe window unseen. Disjoint, so the one
-- holding a seq is the greatest lo <= seq: one primary-key search.
CREATE TABLE seq_gap (
	vin TEXT NOT NULL,
	lo INTEGER NOT NULL,
	hi INTEGER NOT NULL CHECK (hi >= lo),
	PRIMARY KEY (vin, lo)
) WITHOUT ROWID;
