-- 001_init: the telemetry core. Each vehicle's latest state, downsampled
-- history, DTC changes and seq gaps. Dealer data, alerts and the like come
-- in later migrations (002_*.sql ...) and refer to vehicles by vin.
--
-- Times are ms since the Unix epoch (UTC). A column that is NULL was never
-- reported. Applied in one transaction by store.c, which then sets
-- PRAGMA user_version = 1.

-- One row per vehicle, upserted for every accepted message.
CREATE TABLE vehicle_state (
	vin                TEXT PRIMARY KEY NOT NULL,
	odometer_km        REAL,
	speed_kmh          REAL,
	ignition           TEXT CHECK (ignition IN ('off', 'acc', 'on')),
	fuel_pct           REAL,
	fuel_l_per_100km   REAL,
	battery_v          REAL,
	engine_hours       REAL,
	lat                REAL,
	lon                REAL,
	heading_deg        REAL,
	tire_fl_kpa        REAL,
	tire_fl_tread_mm   REAL,
	tire_fl_temp_c     REAL,
	tire_fr_kpa        REAL,
	tire_fr_tread_mm   REAL,
	tire_fr_temp_c     REAL,
	tire_rl_kpa        REAL,
	tire_rl_tread_mm   REAL,
	tire_rl_temp_c     REAL,
	tire_rr_kpa        REAL,
	tire_rr_tread_mm   REAL,
	tire_rr_temp_c     REAL,
	-- the current DTC set as a JSON array of {"code","status","mil"}, sorted by code
	dtc                TEXT,
	-- seq dedupe: highest seq applied (-1: none yet) and the 64-bit window
	-- below it (bit i = seq_max - i seen), stored as its two's-complement int64
	seq_max            INTEGER NOT NULL DEFAULT -1,
	seq_window         INTEGER NOT NULL DEFAULT 0,
	msg_count          INTEGER NOT NULL DEFAULT 0,
	ts_ms              INTEGER NOT NULL DEFAULT 0, -- newest telemetry ts applied
	-- when each field was last set (the merge needs them), store.c's format:
	-- version byte 1, varint presence bitmap, varint zigzag(ts_ms - field ts)
	field_ts           BLOB,
	history_bucket     INTEGER NOT NULL DEFAULT -1, -- newest history bucket written
	odometer_rollbacks INTEGER NOT NULL DEFAULT 0,
	online             INTEGER NOT NULL DEFAULT 0,  -- from the status topic
	status_ts_ms       INTEGER NOT NULL DEFAULT 0,  -- 0: no status yet
	updated_at         INTEGER NOT NULL             -- wall-clock ms of the last write
);

-- One row per vehicle and history bucket (ts_ms / history_interval): the
-- fields the first object of the bucket carried. Positions are cleared after
-- retention_days (store_purge_positions).
CREATE TABLE history (
	id                 INTEGER PRIMARY KEY,
	vin                TEXT NOT NULL,
	bucket             INTEGER NOT NULL,
	ts_ms              INTEGER NOT NULL,
	odometer_km        REAL,
	speed_kmh          REAL,
	ignition           TEXT CHECK (ignition IN ('off', 'acc', 'on')),
	fuel_pct           REAL,
	fuel_l_per_100km   REAL,
	battery_v          REAL,
	engine_hours       REAL,
	lat                REAL,
	lon                REAL,
	heading_deg        REAL,
	tire_fl_kpa        REAL,
	tire_fl_tread_mm   REAL,
	tire_fl_temp_c     REAL,
	tire_fr_kpa        REAL,
	tire_fr_tread_mm   REAL,
	tire_fr_temp_c     REAL,
	tire_rl_kpa        REAL,
	tire_rl_tread_mm   REAL,
	tire_rl_temp_c     REAL,
	tire_rr_kpa        REAL,
	tire_rr_tread_mm   REAL,
	tire_rr_temp_c     REAL,
	UNIQUE (vin, bucket)
);
-- the rows whose position still has to be purged, oldest first
CREATE INDEX history_position_ts ON history (ts_ms) WHERE lat IS NOT NULL;
CREATE INDEX history_vin_ts ON history (vin, ts_ms);

-- Every change of a vehicle's DTC set: the whole new set.
CREATE TABLE dtc_history (
	id                 INTEGER PRIMARY KEY,
	vin                TEXT NOT NULL,
	ts_ms              INTEGER NOT NULL,
	dtc                TEXT NOT NULL
);
CREATE INDEX dtc_history_vin_ts ON dtc_history (vin, ts_ms);

-- Ranges of a vehicle's seqs that slid below the dedupe window unseen; they
-- never overlap, so the range holding a seq is the one with the greatest
-- lo <= seq: one primary-key lookup.
CREATE TABLE seq_gap (
	vin                TEXT NOT NULL,
	lo                 INTEGER NOT NULL,
	hi                 INTEGER NOT NULL,
	PRIMARY KEY (vin, lo),
	CHECK (lo <= hi)
) WITHOUT ROWID;
