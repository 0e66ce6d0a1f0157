-- Each venue's listing history (store/listings.rs): which market traded an asset, from when to
-- when. `symbol` is Lockstep's (after symbol_of_coin: kPEPE is PEPE with unit 1000),
-- `venue_symbol` the venue's coin. Days are days since 1970-01-01. `first_day`: the first day
-- the market was tradable, back-filled from the venue's first daily candle (NULL until known);
-- `last_day`: the last day a refresh saw it listed (for a delisted market seen only delisted:
-- the day before that refresh). A listed market stays tradable after `last_day`; a delisted one
-- (`delisted` = 1) was tradable up to `last_day`. `backfilled` = 1 once the first candle was read.
CREATE TABLE venue_listings (
    venue TEXT NOT NULL,
    venue_symbol TEXT NOT NULL,
    symbol TEXT NOT NULL,
    first_day BIGINT,
    last_day BIGINT,
    size_decimals BIGINT,
    unit DOUBLE PRECISION NOT NULL,
    max_leverage BIGINT,
    delisted BIGINT NOT NULL DEFAULT 0,
    backfilled BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (venue, venue_symbol)
);
CREATE INDEX venue_listings_symbol ON venue_listings (venue, symbol);
