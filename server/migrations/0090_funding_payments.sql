-- Funding the live account paid, per symbol, so the consistency report can explain the funding
-- gap symbol by symbol and on Hyperliquid at all (server/src/broker). Days are days since
-- 1970-01-01, times Unix milliseconds; an amount is what the account paid (negative: received).

-- The paper account's funding per day and symbol, written in the transaction that charges it
-- (broker/paper.rs). `paper_funding` keeps the day's total (its idempotency key).
CREATE TABLE paper_funding_symbols (
    account TEXT NOT NULL,
    day BIGINT NOT NULL,
    symbol TEXT NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, day, symbol)
);

-- A Hyperliquid account's own funding payments as `userFunding` reports them (hourly), kept by
-- broker/hyperliquid/funding.rs. `usdc` is the venue's sign (negative = paid); `symbol` is
-- Lockstep's (kPEPE → PEPE). One row per (account, hour, coin): a second sync of the same hour
-- changes nothing.
CREATE TABLE hyperliquid_funding (
    account TEXT NOT NULL,
    time BIGINT NOT NULL,
    coin TEXT NOT NULL,
    symbol TEXT NOT NULL,
    usdc DOUBLE PRECISION NOT NULL,
    szi DOUBLE PRECISION NOT NULL,
    funding_rate DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, time, coin)
);
