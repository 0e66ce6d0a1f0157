-- A bar source preference per venue (issue 13, part 5; server/src/store/market/sources.rs
-- writes it, server/src/store/panel.rs and history.rs read it). Portable SQL.
--
-- `bar_source_preference` (0081) stays the store's one order: it decides which bar `daily_bars`
-- keeps, and every panel without a venue preference (`any`, or a venue with no row here) reads
-- that bar. A venue with rows here gets, per (symbol, day), the bar of its best-ranked source
-- among `daily_bars` and `bar_alternates` (lower `priority` first); a day none of its sources
-- holds keeps the `daily_bars` bar. Set with `lockstep data prefer --venue VENUE SOURCE...`.
CREATE TABLE bar_venue_preference (
    venue TEXT NOT NULL,
    source TEXT NOT NULL,
    priority BIGINT NOT NULL,
    PRIMARY KEY (venue, source)
);

-- The data version whose write put an alternate bar aside (NULL: before this migration, present
-- at every version), so a panel pinned to an earlier version (`/api/panel?as_of=`) does not
-- take a venue's bar that was set aside only later.
ALTER TABLE bar_alternates ADD COLUMN first_version BIGINT;
