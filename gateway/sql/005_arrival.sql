-- 005_arrival: cars pulling in. One row per visit: opened by the geofence
-- detector or the entrance camera (whichever comes first; the other merges
-- into it), matched to an appointment and an advisor, closed on departure.
-- Times: ms since the epoch, UTC; day: 'YYYY-MM-DD' site-local.

CREATE TABLE arrival (
	id INTEGER PRIMARY KEY AUTOINCREMENT, -- event ids "a<id>" (arrival), "g<id>" (greeting)
	vin TEXT NOT NULL,
	plate TEXT,                 -- as the dealer knows it (or as the camera read it)
	customer_id TEXT,           -- NULL: the car has no customer on file
	appointment_id TEXT,        -- the appointment it matched, or NULL
	advisor_id TEXT,            -- who takes it
	desk TEXT,                  -- where the customer is sent
	match TEXT NOT NULL CHECK (match IN ('appointment', 'own_advisor', 'least_loaded', 'none')),
	source TEXT NOT NULL CHECK (source IN ('geofence', 'camera', 'both')),
	day TEXT NOT NULL,
	arrived_ms INTEGER NOT NULL,
	departed_ms INTEGER,        -- NULL while the car is on site
	vip INTEGER NOT NULL DEFAULT 0 CHECK (vip IN (0, 1)),
	brief TEXT NOT NULL DEFAULT '{}' -- the health brief at arrival (JSON object)
);
CREATE INDEX arrival_day ON arrival (day, arrived_ms);
CREATE INDEX arrival_vin ON arrival (vin, arrived_ms);

-- Plate reads that greeted nobody: too unsure, or a plate we do not know.
CREATE TABLE plate_read (
	id INTEGER PRIMARY KEY,
	ts_ms INTEGER NOT NULL,
	plate TEXT NOT NULL,
	camera TEXT NOT NULL,
	confidence REAL NOT NULL,
	outcome TEXT NOT NULL CHECK (outcome IN ('arrival', 'merged', 'low_confidence', 'unknown_plate', 'on_site'))
);
CREATE INDEX plate_read_ts ON plate_read (ts_ms);
