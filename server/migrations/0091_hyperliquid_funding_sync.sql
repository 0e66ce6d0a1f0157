-- How far a Hyperliquid account's funding payments have been synced into `hyperliquid_funding`
-- (broker/hyperliquid/funding.rs): every payment in [synced_from, synced_through] (Unix ms) is
-- stored, so a day inside that span without rows paid nothing, and a day outside it is unknown.
CREATE TABLE hyperliquid_funding_sync (
    account TEXT PRIMARY KEY,
    synced_from BIGINT NOT NULL,
    synced_through BIGINT NOT NULL
);
