-- Price sources that change under a series (issue 13, part 5; server/src/store/market/writes.rs
-- writes these, server/src/store/splices.rs reads them). Portable SQL.
--
-- `daily_bars` keeps one bar per (symbol, day), with the `source` that wrote it. When a second
-- source writes a bar for a day another source already holds, the store never drops either:
-- the bar that is not used goes here, with why:
--   'displaced'     the stored bar, replaced by a preferred (or, with no preference, newer) source;
--   'not_preferred' the incoming bar, refused because the stored source is preferred.
CREATE TABLE bar_alternates (
    symbol TEXT NOT NULL,
    day BIGINT NOT NULL,
    source TEXT NOT NULL,
    open DOUBLE PRECISION,
    high DOUBLE PRECISION,
    low DOUBLE PRECISION,
    close DOUBLE PRECISION,
    volume DOUBLE PRECISION,
    reason TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (symbol, day, source)
);

-- Which source's bar the store keeps when several write the same day: lower `priority` first.
-- A source without a row ranks after every ranked one; between two unranked sources the newer
-- write wins (the displaced bar is kept in `bar_alternates`). Set with `lockstep data prefer`.
CREATE TABLE bar_source_preference (
    source TEXT PRIMARY KEY,
    priority BIGINT NOT NULL
);

-- What a run did to other sources' bars: `replaced` (their bar displaced by this run's, kept in
-- bar_alternates) and `set_aside` (this run's bar kept aside: a preferred source holds the day).
ALTER TABLE fetch_runs ADD COLUMN replaced BIGINT NOT NULL DEFAULT 0;
ALTER TABLE fetch_runs ADD COLUMN set_aside BIGINT NOT NULL DEFAULT 0;
