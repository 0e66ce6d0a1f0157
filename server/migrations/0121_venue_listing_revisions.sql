-- Listing history as of a data version (issue 13, part 7; server/src/store/listings.rs writes
-- and reads it). Portable SQL.
--
-- One row per change of a listing's tradable span (or symbol): what the `venue_listings` row
-- held *before* the write that produced data version `data_version` changed it, in the manner
-- of `market_revisions` (0030). `existed` = 0: the row did not exist before that write (it was
-- inserted then), the other columns are NULL. The listings as of version V are today's rows
-- with every change after V undone: for each market the earliest revision after V gives its
-- state at V. Rows stored before this migration have no revisions: they count as they are now
-- at every version.
CREATE TABLE venue_listing_revisions (
    venue TEXT NOT NULL,
    venue_symbol TEXT NOT NULL,
    data_version BIGINT NOT NULL,
    existed BIGINT NOT NULL,
    symbol TEXT,
    first_day BIGINT,
    last_day BIGINT,
    delisted BIGINT,
    PRIMARY KEY (venue, venue_symbol, data_version)
);
CREATE INDEX venue_listing_revisions_version ON venue_listing_revisions (data_version);
