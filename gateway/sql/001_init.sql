-- placeholder: replaced by the store module's first migration
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
