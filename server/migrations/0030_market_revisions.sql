-- Revision history of market data, so the consistency report can rebuild the panel exactly as a
-- live plan saw it (server/src/store/market.rs writes it, server/src/store/panel.rs reads it).
--
-- `first_version`: the store data version (store_meta 'data_version') whose write inserted the
-- row. NULL for rows written before this migration: they count as present at every version.
ALTER TABLE daily_bars ADD COLUMN first_version BIGINT;
ALTER TABLE market_caps ADD COLUMN first_version BIGINT;
ALTER TABLE supply_snapshots ADD COLUMN first_version BIGINT;
ALTER TABLE funding ADD COLUMN first_version BIGINT;
ALTER TABLE open_interest ADD COLUMN first_version BIGINT;

-- The values (and source) a row held before its latest revision, in value-column order. The
-- upsert sets them in the same UPDATE that changes the row and reads them back with RETURNING,
-- so logging a revision costs no extra read; NULL on rows never revised.
ALTER TABLE daily_bars ADD COLUMN prev_v1 DOUBLE PRECISION;
ALTER TABLE daily_bars ADD COLUMN prev_v2 DOUBLE PRECISION;
ALTER TABLE daily_bars ADD COLUMN prev_v3 DOUBLE PRECISION;
ALTER TABLE daily_bars ADD COLUMN prev_v4 DOUBLE PRECISION;
ALTER TABLE daily_bars ADD COLUMN prev_v5 DOUBLE PRECISION;
ALTER TABLE daily_bars ADD COLUMN prev_source TEXT;
ALTER TABLE market_caps ADD COLUMN prev_v1 DOUBLE PRECISION;
ALTER TABLE market_caps ADD COLUMN prev_source TEXT;
ALTER TABLE supply_snapshots ADD COLUMN prev_v1 DOUBLE PRECISION;
ALTER TABLE supply_snapshots ADD COLUMN prev_v2 DOUBLE PRECISION;
ALTER TABLE supply_snapshots ADD COLUMN prev_source TEXT;
ALTER TABLE funding ADD COLUMN prev_v1 DOUBLE PRECISION;
ALTER TABLE funding ADD COLUMN prev_source TEXT;
ALTER TABLE open_interest ADD COLUMN prev_v1 DOUBLE PRECISION;
ALTER TABLE open_interest ADD COLUMN prev_source TEXT;

-- One row per value change of a stored market-data row: the values the row held *before* the
-- write that produced data version `data_version` changed it. `series` is the table name;
-- `venue` is '' for series without one; v1..v5 are the series' value columns in their order
-- (daily_bars: open, high, low, close, volume; market_caps: usd; supply_snapshots:
-- circulating, market_cap; funding: daily_rate; open_interest: usd), NULL = missing.
-- `row_first_version` copies the row's first_version at the time (NULL: inserted before 0030).
CREATE TABLE market_revisions (
    series TEXT NOT NULL,
    symbol TEXT NOT NULL,
    venue TEXT NOT NULL,
    day BIGINT NOT NULL,
    data_version BIGINT NOT NULL,
    row_first_version BIGINT,
    v1 DOUBLE PRECISION,
    v2 DOUBLE PRECISION,
    v3 DOUBLE PRECISION,
    v4 DOUBLE PRECISION,
    v5 DOUBLE PRECISION,
    source TEXT NOT NULL,
    PRIMARY KEY (series, symbol, venue, day, data_version)
);
CREATE INDEX market_revisions_version ON market_revisions (data_version);
