-- Assets by their bare base (`BTC`), and the spellings each source uses for them
-- (`BTC/USD` on Coinbase, `BTCUSDT_PERP.A` on Coinalyze, `kPEPE` on Hyperliquid...).
CREATE TABLE assets (
    symbol TEXT PRIMARY KEY,
    name TEXT,
    first_seen BIGINT NOT NULL
);
CREATE TABLE symbol_aliases (
    source TEXT NOT NULL,
    alias TEXT NOT NULL,
    symbol TEXT NOT NULL,
    venue TEXT,
    PRIMARY KEY (source, alias)
);
