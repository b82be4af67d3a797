-- 002_dealer: the dealership's own records, imported from its DMS as CSV
-- (CONTRACT "Dealer data") or written through the API. One table per CSV
-- kind, keyed by the DMS's ids; re-importing a row with the same id updates
-- it. Dates are 'YYYY-MM-DD' and local times 'YYYY-MM-DDTHH:MM' in the
-- site's time zone, kept as the DMS wrote them; *_ms columns are the same
-- instant in ms since the epoch (UTC), for range queries.

CREATE TABLE advisor (
	advisor_id TEXT PRIMARY KEY NOT NULL,
	name TEXT NOT NULL,
	desk TEXT NOT NULL
);

CREATE TABLE customer (
	customer_id TEXT PRIMARY KEY NOT NULL,
	name TEXT NOT NULL,
	gender TEXT NOT NULL CHECK (gender IN ('M', 'F', '-')),
	phone TEXT NOT NULL,
	tier TEXT NOT NULL CHECK (tier IN ('regular', 'platinum', 'diamond', 'vip')),
	advisor_id TEXT REFERENCES advisor (advisor_id),
	display_consent INTEGER NOT NULL CHECK (display_consent IN (0, 1))
);

-- The dealer's view of a car; its live telemetry is vehicle_state (001),
-- which may also hold cars the dealer does not know.
CREATE TABLE vehicle (
	vin TEXT PRIMARY KEY NOT NULL,
	plate TEXT NOT NULL UNIQUE,
	customer_id TEXT REFERENCES customer (customer_id),
	brand TEXT NOT NULL,
	model TEXT NOT NULL,
	model_year INTEGER NOT NULL,
	purchase_date TEXT NOT NULL,
	purchase_odometer_km REAL NOT NULL
);
CREATE INDEX vehicle_customer ON vehicle (customer_id);

CREATE TABLE appointment (
	appointment_id TEXT PRIMARY KEY NOT NULL,
	vin TEXT NOT NULL REFERENCES vehicle (vin),
	start_local TEXT NOT NULL,
	start_ms INTEGER NOT NULL,
	service TEXT NOT NULL,
	advisor_id TEXT REFERENCES advisor (advisor_id)
);
CREATE INDEX appointment_start ON appointment (start_ms);
CREATE INDEX appointment_vin ON appointment (vin, start_ms);

CREATE TABLE policy (
	policy_id TEXT PRIMARY KEY NOT NULL,
	vin TEXT NOT NULL REFERENCES vehicle (vin),
	insurer TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('compulsory', 'commercial')),
	expiry_date TEXT NOT NULL
);
CREATE INDEX policy_vin ON policy (vin);
CREATE INDEX policy_expiry ON policy (expiry_date);

CREATE TABLE service_visit (
	service_id TEXT PRIMARY KEY NOT NULL,
	vin TEXT NOT NULL REFERENCES vehicle (vin),
	date TEXT NOT NULL,
	odometer_km REAL NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('first_service', 'maintenance', 'repair', 'other'))
);
CREATE INDEX service_visit_vin ON service_visit (vin, date);
