-- Daily OHLCV bars, one row per asset and UTC day (days since 1970-01-01).
-- Portable SQL: the same file runs on SQLite and PostgreSQL.
CREATE TABLE daily_bars (
    symbol TEXT NOT NULL,
    day BIGINT NOT NULL,
    open DOUBLE PRECISION,
    high DOUBLE PRECISION,
    low DOUBLE PRECISION,
    close DOUBLE PRECISION,
    volume DOUBLE PRECISION,
    source TEXT NOT NULL,
    PRIMARY KEY (symbol, day)
);
CREATE INDEX daily_bars_day ON daily_bars (day);
