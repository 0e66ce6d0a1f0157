-- Market capitalisation in USD, one value per asset and UTC day (days since 1970-01-01).
CREATE TABLE market_caps (
    symbol TEXT NOT NULL,
    day BIGINT NOT NULL,
    usd DOUBLE PRECISION,
    source TEXT NOT NULL,
    updated_at BIGINT,
    revisions BIGINT NOT NULL DEFAULT 0,
    revised_at BIGINT,
    PRIMARY KEY (symbol, day)
);
-- Circulating supply snapshots (base units), with the market cap the snapshot reported.
CREATE TABLE supply_snapshots (
    symbol TEXT NOT NULL,
    day BIGINT NOT NULL,
    circulating DOUBLE PRECISION,
    market_cap DOUBLE PRECISION,
    source TEXT NOT NULL,
    updated_at BIGINT,
    revisions BIGINT NOT NULL DEFAULT 0,
    revised_at BIGINT,
    PRIMARY KEY (symbol, day)
);
