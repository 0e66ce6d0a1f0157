-- Perpetual funding as a daily fraction (the sum of the day's period rates), per venue.
CREATE TABLE funding (
    symbol TEXT NOT NULL,
    venue TEXT NOT NULL,
    day BIGINT NOT NULL,
    daily_rate DOUBLE PRECISION,
    source TEXT NOT NULL,
    updated_at BIGINT,
    revisions BIGINT NOT NULL DEFAULT 0,
    revised_at BIGINT,
    PRIMARY KEY (symbol, venue, day)
);
-- Open interest in USD at the day's close, per venue.
CREATE TABLE open_interest (
    symbol TEXT NOT NULL,
    venue TEXT NOT NULL,
    day BIGINT NOT NULL,
    usd DOUBLE PRECISION,
    source TEXT NOT NULL,
    updated_at BIGINT,
    revisions BIGINT NOT NULL DEFAULT 0,
    revised_at BIGINT,
    PRIMARY KEY (symbol, venue, day)
);
