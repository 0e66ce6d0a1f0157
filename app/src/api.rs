//! Types of the JSON API under `/api`, shared by the server (which produces them) and the
//! browser (which consumes them), so the two can never disagree on a field name.

use serde::{Deserialize, Serialize};

/// `GET /api/health`: is the server up, is its database reachable, and what data does it hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Health {
    /// The `lockstep` binary's version.
    pub version: String,
    /// The strategy-kernel version the server computes targets with.
    pub kernel_version: String,
    pub database: DatabaseHealth,
    pub data: DataSummary,
}

/// Whether the store answered a trivial query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatabaseHealth {
    /// `"ok"` or `"error"`.
    pub status: String,
    /// `"sqlite"` or `"postgres"`.
    pub backend: String,
    /// What went wrong, when `status` is `"error"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the store holds. An empty store has `symbols == 0` and no dates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DataSummary {
    /// Distinct assets with at least one daily bar.
    pub symbols: u64,
    /// Number of stored daily bars.
    pub bars: u64,
    /// First and last day with a bar, `YYYY-MM-DD`.
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    /// The sources holding stored market data (`csv`, `hyperliquid`, ..., `synthetic`).
    #[serde(default)]
    pub sources: Vec<String>,
    /// True when any of it is generated demo data (source `synthetic`): show it as such.
    #[serde(default)]
    pub synthetic: bool,
}

/// The error body every `/api` endpoint returns on failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    pub error: String,
}

/// A user's role. Viewers see everything; only traders may approve or reject plans and use the
/// kill switch.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Trader,
}

impl Role {
    /// `"viewer"` or `"trader"`, as stored and as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Trader => "trader",
        }
    }

    /// Parses `"viewer"` or `"trader"` (exactly; lowercase).
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "trader" => Some(Role::Trader),
            _ => None,
        }
    }
}

/// `POST /api/auth/login` request body.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The signed-in user: the answer of `POST /api/auth/login` and `GET /api/auth/me`.
///
/// `csrf_token` is the value to send in the `X-CSRF-Token` header of every POST/PUT/PATCH/DELETE
/// under `/api` (the same value is in the JS-readable `lockstep_csrf` cookie).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub username: String,
    pub role: Role,
    pub csrf_token: String,
    /// When the session ends (sign in again after that), Unix time in seconds.
    pub expires_at: i64,
}

// ---------------------------------------------------------------------------------------------
// Live trading: portfolio, trade plans, kill switch, equity history (server/src/api/{portfolio,
// plans}.rs). Times are Unix milliseconds (UTC); days are `YYYY-MM-DD`.
// ---------------------------------------------------------------------------------------------

/// `GET /api/portfolio`: what the account holds now and what the strategies want.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Portfolio {
    /// `"paper"` or `"hyperliquid"`.
    pub broker: String,
    /// When the account was read (Unix ms).
    pub as_of: i64,
    /// Account value in USD.
    pub equity: f64,
    /// Σ |position value| / equity.
    pub gross_exposure: f64,
    /// Σ position value / equity.
    pub net_exposure: f64,
    pub positions: Vec<PortfolioPosition>,
    /// Per-strategy allocation on the last complete day, inactive ones included with the reason.
    pub strategies: Vec<StrategyAllocation>,
    pub data: DataFreshness,
    /// Whether the kill switch blocks new orders.
    pub kill_switch: bool,
}

/// One held (or targeted) symbol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PortfolioPosition {
    pub symbol: String,
    /// Signed units (negative = short).
    pub units: f64,
    pub mark_price: f64,
    /// units × mark (USD).
    pub value: f64,
    /// value / equity.
    pub weight: f64,
    /// The blended target weight on the last complete day (0 when not targeted).
    pub target_weight: f64,
}

/// A strategy's share of capital on a day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StrategyAllocation {
    pub name: String,
    /// The weight in the config.
    pub configured_weight: f64,
    /// After handing inactive strategies' capital to the active flexible ones, and caps.
    pub effective_weight: f64,
    pub active: bool,
    /// Why the strategy holds nothing (regime filter off, nothing eligible, ...).
    pub inactive_reason: Option<String>,
    /// The day its targets were computed (its last rebalance date), when active.
    pub computed_on: Option<String>,
}

/// How fresh the stored market data is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DataFreshness {
    /// The newest complete UTC day in the store.
    pub last_complete_day: Option<String>,
    /// Hours since that day's close (its end, 24:00 UTC).
    pub age_hours: Option<f64>,
    /// Older than `max_age_hours`: the live cycle refuses to trade on it.
    pub stale: bool,
    pub max_age_hours: f64,
}

/// One entry of `GET /api/plans`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanSummary {
    pub id: String,
    /// `proposed`, `approved`, `rejected`, `expired`, `executing`, `done`, `partially_failed`.
    pub status: String,
    pub broker: String,
    pub created_at: i64,
    /// The last complete data day the targets were computed for.
    pub data_day: String,
    /// Account equity when the plan was made (USD).
    pub equity: f64,
    /// Orders to send (lines not dropped).
    pub orders: usize,
    /// Lines dropped (below the venue minimum, not listed, no price).
    pub dropped: usize,
    /// Risk limits or the kill switch forbid executing it.
    pub blocked: bool,
    pub block_reasons: Vec<String>,
    /// Who approved or rejected it ("auto" for auto-approval), and when (Unix ms).
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// After this (Unix ms) a proposed plan expires.
    pub expires_at: i64,
}

/// `GET /api/plans/{id}`: a plan, the inputs that made it, its risk checks and orders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanDetail {
    pub summary: PlanSummary,
    /// Hash of the config JSON (its version).
    pub config_version: String,
    /// The strategy config, as the predecessor's JSON format.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub config: serde_json::Value,
    pub kernel_version: String,
    /// `threshold(0.03)` or `time`.
    pub policy: String,
    pub lines: Vec<PlanLine>,
    /// Blended target weights by symbol (non-zero only).
    pub targets: std::collections::BTreeMap<String, f64>,
    pub strategies: Vec<PlanStrategy>,
    pub risk: RiskReport,
    /// Orders sent and what became of them (empty before execution).
    pub orders: Vec<PlanOrder>,
    /// Why it ended the way it did (execution errors, expiry cause).
    pub note: Option<String>,
}

/// One symbol of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanLine {
    pub symbol: String,
    /// Price the plan was sized at (USD).
    pub mark_price: f64,
    pub current_units: f64,
    pub current_weight: f64,
    pub target_weight: f64,
    /// The weight after the rebalance policy (the target, or the current weight when the policy
    /// does not trade this symbol).
    pub new_weight: f64,
    /// Signed USD to trade (before rounding).
    pub notional: f64,
    /// Signed units to trade, rounded to the venue's size decimals, as a decimal string.
    pub size: String,
    /// Worst accepted price (mark ± max slippage), venue-rounded, as a decimal string.
    pub limit_price: String,
    pub reduce_only: bool,
    /// `buy`, `sell` or `hold`.
    pub action: String,
    /// Why no order is sent for a line that wanted one.
    pub dropped: Option<String>,
    /// The idempotency key of this line's order.
    pub client_order_id: Option<String>,
}

/// A strategy's part in a plan: exactly what `targets_at` returned for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanStrategy {
    pub allocation: StrategyAllocation,
    /// The strategy's own target weights by symbol (non-zero only).
    pub targets: std::collections::BTreeMap<String, f64>,
}

/// The risk limits checked before submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RiskReport {
    pub checks: Vec<RiskCheck>,
    pub kill_switch: bool,
    /// Any check failed or the kill switch is on.
    pub blocked: bool,
}

/// One limit against the plan's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RiskCheck {
    /// `max_gross_leverage`, `max_weight_per_symbol`, `max_order_notional`, `max_daily_turnover`.
    pub name: String,
    pub limit: f64,
    /// The worst value in the plan.
    pub value: f64,
    pub ok: bool,
    /// What breaks the limit (e.g. the symbol).
    pub detail: String,
}

/// An order of an executed plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanOrder {
    pub client_order_id: String,
    pub symbol: String,
    /// Signed units ordered (decimal string).
    pub size: String,
    pub limit_price: String,
    /// `pending`, `filled`, `partially_filled`, `rejected`, `open`, `unknown`.
    pub status: String,
    pub filled_units: f64,
    pub avg_price: f64,
    pub fee: f64,
    pub reason: Option<String>,
    pub updated_at: i64,
}

/// `POST /api/plans/{id}/reject` (and optionally approve) body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanDecision {
    /// A note for the audit log.
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /api/kill-switch` and the answer of `POST`/`DELETE`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KillSwitch {
    pub active: bool,
    pub reason: Option<String>,
    pub changed_by: Option<String>,
    pub changed_at: Option<i64>,
}

/// `POST /api/kill-switch` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KillSwitchRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// One point of `GET /api/equity`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EquityPoint {
    pub at: i64,
    pub broker: String,
    pub equity: f64,
    pub gross_exposure: f64,
    pub net_exposure: f64,
}

/// `POST /api/live/run`: what one live cycle did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveRunResult {
    /// The plan made (absent when the cycle refused, e.g. stale data).
    pub plan: Option<PlanSummary>,
    /// Plans expired by this cycle (newer data arrived).
    pub expired: Vec<String>,
    /// Notices (refresh skipped, auto-approved, ...).
    pub notes: Vec<String>,
    /// Milliseconds the cycle took.
    pub elapsed_ms: f64,
}

// ---------------------------------------------------------------------------------------------
// Market data quality (server/src/store/quality.rs, `GET /api/data/status`, `lockstep data
// status`). Days are `YYYY-MM-DD`; times are Unix milliseconds.
// ---------------------------------------------------------------------------------------------

/// `GET /api/data/status`: how complete and how fresh the stored market data is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DataStatus {
    /// The day staleness is measured against (today, unless the request named one).
    pub as_of: String,
    /// A series is stale when its last value is more than this many days before `as_of`.
    pub stale_after_days: u32,
    /// True when any stored value comes from a synthetic (generated) source: the data is a demo.
    pub synthetic: bool,
    /// The sources holding data, with their latest run.
    pub sources: Vec<DataSourceStatus>,
    /// One entry per source and field.
    pub series: Vec<SeriesStatus>,
    /// Patterns across series that point at how the data was collected, not at the market.
    pub artifacts: Vec<DataArtifact>,
}

/// A data source: `csv` (imports), `hyperliquid`, `coinmarketcap`, `coinalyze`, `synthetic`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DataSourceStatus {
    pub name: String,
    /// `import`, `live` or `synthetic`.
    pub kind: String,
    pub synthetic: bool,
    pub description: String,
    pub last_run: Option<FetchRunStatus>,
}

/// One import or fetch run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FetchRunStatus {
    /// What it read: a file, an endpoint, a symbol list.
    pub target: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// `running`, `ok`, `partial` (some rows rejected) or `error`.
    pub status: String,
    pub rows_read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub error: Option<String>,
}

/// Coverage and quality of one field from one source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesStatus {
    pub source: String,
    /// A panel field name: `close` (daily bars), `market_cap`, `circulating_supply`,
    /// `funding_rate`, `open_interest`.
    pub field: String,
    /// Venues of per-venue fields (funding, open interest); empty otherwise.
    pub venues: Vec<String>,
    /// Expected spacing of values in days: 1 (daily) or 31 (monthly snapshots).
    pub cadence_days: u32,
    /// Distinct assets.
    pub symbols: u64,
    /// Stored values.
    pub values: u64,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    /// Breaks inside a series (a step longer than the cadence).
    pub gaps: u64,
    /// Days missing inside those breaks (beyond the cadence).
    pub missing_days: u64,
    /// The largest gaps, biggest first (at most 10).
    pub largest_gaps: Vec<SeriesGap>,
    /// Series (symbol, or `symbol@venue`) with no value in the last `stale_after_days` days
    /// before `as_of`; `stale_count` counts all of them, this list holds at most 20.
    pub stale: Vec<String>,
    pub stale_count: u64,
    /// The rule a jump breaks, in words.
    pub jump_rule: String,
    /// Suspicious jumps, largest first (at most 10); `jump_count` counts all.
    pub jumps: Vec<SeriesJump>,
    pub jump_count: u64,
    /// Stored values that were overwritten with a different value at least once, and the total
    /// number of such revisions.
    pub revised_values: u64,
    pub revisions: u64,
}

/// A break in one series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesGap {
    pub series: String,
    /// The last day with a value before the break and the first one after it.
    pub from: String,
    pub to: String,
    pub missing_days: u64,
}

/// A value that moved implausibly far from the previous one of its series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesJump {
    pub series: String,
    pub day: String,
    /// The previous value of the series (none for rules on the value alone, like funding's).
    pub previous: Option<f64>,
    pub value: f64,
}

/// A collection artifact: e.g. many series ending on the same day, or an alphabetically
/// truncated symbol list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DataArtifact {
    /// `series_end_cluster` or `alphabetical_truncation`.
    pub kind: String,
    pub source: String,
    pub field: String,
    /// What was found, in one sentence.
    pub message: String,
    /// The days involved (end days, most series first).
    pub days: Vec<String>,
    /// How many series are involved.
    pub series: u64,
}
