-- Simulated paper history made by `lockstep demo` / the Trades page's demo button
-- (server/src/demo.rs): the live cycle run day by day over the last N stored days on the paper
-- broker with auto-approval. Every plan, order and snapshot of the paper `account` made at or
-- before `cutoff_at` (the simulated time of the last day's cycle, Unix ms) belongs to a run,
-- and the dashboard, the API and the CLI label it as simulated. `started_at`/`finished_at` are
-- real time.
CREATE TABLE demo_runs (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    created_by TEXT NOT NULL,
    account TEXT NOT NULL,
    first_day INTEGER NOT NULL,
    last_day INTEGER NOT NULL,
    days INTEGER NOT NULL,
    days_done INTEGER NOT NULL DEFAULT 0,
    plans INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    error TEXT,
    cutoff_at BIGINT
);
