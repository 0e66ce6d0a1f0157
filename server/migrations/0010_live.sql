-- Live trading records (server/src/live). Times are Unix milliseconds (UTC), days are days since
-- 1970-01-01. Ids are explicit text keys, never engine-generated.

-- A trade plan and the inputs that made it. status: proposed | approved | rejected | expired |
-- executing | done | partially_failed. `body` is the plan as JSON (lines, targets, per-strategy
-- targets, risk report): with config_json, kernel_version and data_day it replays exactly.
CREATE TABLE live_plans (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    broker TEXT NOT NULL,
    data_day BIGINT NOT NULL,
    config_hash TEXT NOT NULL,
    config_json TEXT NOT NULL,
    kernel_version TEXT NOT NULL,
    policy TEXT NOT NULL,
    equity DOUBLE PRECISION NOT NULL,
    blocked BIGINT NOT NULL,
    body TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    started_at BIGINT,
    finished_at BIGINT,
    note TEXT
);
CREATE INDEX live_plans_created ON live_plans (created_at);
CREATE INDEX live_plans_status ON live_plans (status);

-- One order of a plan, written before it is sent (so a crash between sending and recording is
-- reconciled by client order id). status: pending | filled | partially_filled | rejected | open |
-- unknown.
CREATE TABLE live_orders (
    client_order_id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    broker TEXT NOT NULL,
    symbol TEXT NOT NULL,
    units DOUBLE PRECISION NOT NULL,
    size TEXT NOT NULL,
    limit_price TEXT NOT NULL,
    reduce_only BIGINT NOT NULL,
    status TEXT NOT NULL,
    filled_units DOUBLE PRECISION NOT NULL,
    avg_price DOUBLE PRECISION NOT NULL,
    fee DOUBLE PRECISION NOT NULL,
    notional DOUBLE PRECISION NOT NULL,
    reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX live_orders_plan ON live_orders (plan_id);
CREATE INDEX live_orders_updated ON live_orders (updated_at);

-- Fills as reported by the broker (one per order report with a non-zero fill).
CREATE TABLE live_fills (
    id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    broker TEXT NOT NULL,
    symbol TEXT NOT NULL,
    units DOUBLE PRECISION NOT NULL,
    price DOUBLE PRECISION NOT NULL,
    fee DOUBLE PRECISION NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX live_fills_plan ON live_fills (plan_id);

-- The account as the broker reported it, after every cycle and every execution.
CREATE TABLE equity_snapshots (
    at BIGINT NOT NULL,
    broker TEXT NOT NULL,
    equity DOUBLE PRECISION NOT NULL,
    gross DOUBLE PRECISION NOT NULL,
    net DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (broker, at)
);
CREATE TABLE position_snapshots (
    at BIGINT NOT NULL,
    broker TEXT NOT NULL,
    symbol TEXT NOT NULL,
    units DOUBLE PRECISION NOT NULL,
    mark_price DOUBLE PRECISION NOT NULL,
    weight DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (broker, at, symbol)
);

-- Append-only: who did what, when. The code only ever inserts into it.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    detail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Switches that gate trading. name 'kill_switch': active = 1 blocks every new order.
CREATE TABLE live_switches (
    name TEXT PRIMARY KEY,
    active BIGINT NOT NULL,
    reason TEXT,
    changed_by TEXT,
    changed_at BIGINT
);

-- The paper broker's persistent account: cash, positions, and every order it has seen (the
-- idempotency record: an id seen before is answered from here, never filled twice).
CREATE TABLE paper_accounts (
    name TEXT PRIMARY KEY,
    cash DOUBLE PRECISION NOT NULL,
    initial_cash DOUBLE PRECISION NOT NULL,
    funding_through BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE paper_positions (
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    units DOUBLE PRECISION NOT NULL,
    last_price DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, symbol)
);
CREATE TABLE paper_orders (
    account TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    report TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (account, client_order_id)
);
CREATE TABLE paper_funding (
    account TEXT NOT NULL,
    day BIGINT NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, day)
);
