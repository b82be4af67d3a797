-- 004_auth: who may use the console and the welcome screens, and what they
-- read. Users with slow salted password hashes (auth.c: PBKDF2-HMAC-SHA256
-- from OpenSSL, encoded "pbkdf2-sha256$ITER$SALT_B64$HASH_B64"); sessions
-- and display tokens stored as SHA-256 of the token, never the token; the
-- audit log of every read of a customer's personal data through the API.
-- Times: ms since the epoch, UTC.

CREATE TABLE user (
	user_id TEXT PRIMARY KEY NOT NULL, -- the login name, [A-Za-z0-9._-]{1,64}
	name TEXT NOT NULL,                -- shown in the console and in alert logs
	role TEXT NOT NULL CHECK (role IN ('advisor', 'customer-care', 'manager')),
	advisor_id TEXT REFERENCES advisor (advisor_id), -- an advisor's own desk, or NULL
	password_hash TEXT NOT NULL,
	created_ms INTEGER NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
);

CREATE TABLE session (
	token_sha256 TEXT PRIMARY KEY NOT NULL, -- hex
	user_id TEXT NOT NULL REFERENCES user (user_id),
	created_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX session_expiry ON session (expires_ms);

CREATE TABLE display (
	name TEXT PRIMARY KEY NOT NULL, -- "entrance-1"
	token_sha256 TEXT NOT NULL UNIQUE,
	created_ms INTEGER NOT NULL
);

-- One row per API request that returned a customer's personal data (name,
-- phone): who, when, what was asked and which customers it showed.
CREATE TABLE audit (
	id INTEGER PRIMARY KEY,
	ts_ms INTEGER NOT NULL,
	user_id TEXT NOT NULL,
	remote TEXT NOT NULL DEFAULT '', -- the client's address
	action TEXT NOT NULL,            -- "GET /api/vehicles/LSV...", "ws snapshot"
	customers TEXT NOT NULL DEFAULT '' -- customer ids shown, comma-separated (first 200)
);
CREATE INDEX audit_ts ON audit (ts_ms);
CREATE INDEX audit_user ON audit (user_id, ts_ms);
