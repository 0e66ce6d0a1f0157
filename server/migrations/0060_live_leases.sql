-- Leases (server/src/live/lease.rs): who may act alone on something shared by every process on
-- this database. `name` is what is leased: `execute:<broker>` (one executor per account: the
-- plan being sent is `subject`) and `scheduler` (one process runs the daily cycle and refresh).
-- A lease is taken or renewed by compare-and-set (an upsert whose WHERE admits only an expired
-- lease or its own holder); `expires_at` is pushed forward by the holder's heartbeat while it
-- works, so a crashed holder's lease lapses on its own. Times are Unix milliseconds (UTC).
CREATE TABLE live_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    subject TEXT,
    acquired_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Why an interrupted plan was closed (`abandoned`) is its `note`; when it was closed, its
-- `finished_at`. Nothing else changes in live_plans: status words are checked by the code's one
-- transition table (server/src/live/status.rs).
