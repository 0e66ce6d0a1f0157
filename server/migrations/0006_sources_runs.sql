-- Where data comes from. `synthetic` = 1 marks generated demo data, shown as such everywhere.
CREATE TABLE data_sources (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    synthetic BIGINT NOT NULL DEFAULT 0,
    description TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
-- One import or fetch: what it touched and how it ended. Times in unix milliseconds.
-- status: running | ok | partial (some rows rejected) | error.
CREATE TABLE fetch_runs (
    id BIGINT PRIMARY KEY,
    source TEXT NOT NULL,
    target TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    status TEXT NOT NULL,
    rows_read BIGINT NOT NULL DEFAULT 0,
    inserted BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX fetch_runs_source ON fetch_runs (source, started_at);
-- Bumped by every write that changed market data: caches (the panel, /api/panel's ETag) key on it.
CREATE TABLE store_meta (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO store_meta (name, value) VALUES ('data_version', 0);
