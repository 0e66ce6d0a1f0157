//! Types of the JSON API under `/api`, shared by the server (which produces them) and the
//! browser (which consumes them), so the two can never disagree on a field name.

use serde::{Deserialize, Serialize};

pub mod costs;
pub mod status;
pub use status::{OrderState, PlanAction, PlanStatus};

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
    /// Where the positions' marks come from: `last close` (paper), `allMids` (Hyperliquid), or
    /// `account` when the venue gave no current marks.
    #[serde(default)]
    pub marks_source: String,
    /// The newest equity snapshot (taken after each cycle and execution): when and its equity.
    #[serde(default)]
    pub snapshot_at: Option<i64>,
    #[serde(default)]
    pub snapshot_equity: Option<f64>,
    /// `equity − snapshot_equity`: today's P&L at the current marks since that snapshot.
    #[serde(default)]
    pub pnl_since_snapshot: Option<f64>,
    /// The account is a simulated paper history made by `lockstep demo`, not real trading.
    #[serde(default)]
    pub simulated: bool,
}

/// A strategy's part of a symbol's target weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StrategyContribution {
    pub strategy: String,
    /// leverage × the strategy's effective weight × its own target for the symbol.
    pub weight: f64,
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
    /// When `mark_price` was quoted (Unix ms; a paper mark is the close it is); `None` unknown.
    #[serde(default)]
    pub mark_as_of: Option<i64>,
    /// Why it is targeted: each strategy's part of `target_weight`, the largest first (empty
    /// when no strategy targets it).
    #[serde(default)]
    pub contributions: Vec<StrategyContribution>,
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
    /// `proposed`, `approved`, `rejected`, `expired`, `executing`, `done`, `partially_failed`,
    /// `abandoned`.
    pub status: PlanStatus,
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
    /// Made by `lockstep demo`: simulated paper history, not real trading.
    #[serde(default)]
    pub simulated: bool,
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
    pub action: PlanAction,
    /// Why no order is sent for a line that wanted one.
    pub dropped: Option<String>,
    /// What the trader should know about an order that is sent, e.g. the dust an exit leaves
    /// when the venue's size decimals cannot express the held units. Absent in older plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
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
    pub status: OrderState,
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

/// One notification delivery (`GET /api/notifications`): a message to one channel, and what
/// became of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NotificationRecord {
    pub id: String,
    pub created_at: i64,
    /// `plan.proposed`, `plan.approved`, `plan.done`, `plan.partially_failed`,
    /// `plan.abandoned`, `kill_switch`, `data.stale`.
    pub event: String,
    /// The plan it is about, if any.
    pub subject: Option<String>,
    pub title: String,
    /// `webhook` or `email`.
    pub channel: String,
    /// The channel's label (`webhook:<host>`, `email:<host>:<port>` or its configured name).
    pub destination: String,
    /// `pending` (being delivered or retried), `sent`, `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// One server-sent event of `GET /api/events` (the event's `data`, as JSON): something the
/// open pages show changed, so they fetch it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveEvent {
    /// `plan` (a plan appeared or changed: status, orders, fills), `kill_switch`, `portfolio`
    /// (the account changed), `demo` (a simulated history advanced).
    pub kind: String,
    pub plan_id: Option<String>,
    /// The plan's status, or the kill switch's `on` / `off`, or the demo's `running` / `done`.
    pub status: Option<String>,
    /// Server time, Unix ms.
    pub at: i64,
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
    /// Price series whose source changes between two stored days (a spliced series), by symbol
    /// and day.
    #[serde(default)]
    pub splices: Vec<SourceSplice>,
    /// Which source's bar the store keeps when several write the same day, preferred first
    /// (`lockstep data prefer`); empty: the newer write wins, the other bar is kept aside.
    #[serde(default)]
    pub bar_source_preference: Vec<String>,
    /// Bars the store keeps aside (another source holds their day), by source.
    #[serde(default)]
    pub alternate_bars: Vec<AlternateBars>,
    /// Per venue, which source's bar that venue's panel reads when several sources hold the
    /// day (`lockstep data prefer --venue VENUE`), by venue; a venue not listed (and `any`)
    /// reads the bars the store keeps by `bar_source_preference`.
    #[serde(default)]
    pub bar_venue_preferences: Vec<VenueBarPreference>,
}

/// One venue's bar source preference: its panel takes, per day, the bar of the first of
/// `sources` that holds one (kept or set aside), else the store's bar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VenueBarPreference {
    pub venue: String,
    /// Preferred first.
    pub sources: Vec<String>,
}

/// A price series whose source changes: the day the new source's first close follows the old
/// source's last, and the size of the jump there next to the series' usual daily move.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SourceSplice {
    pub symbol: String,
    /// The first day of the new source.
    pub day: String,
    /// The stored day before it (the old source's last close).
    pub previous_day: String,
    pub from_source: String,
    pub to_source: String,
    pub previous_close: f64,
    pub close: f64,
    /// The close-to-close return across the splice: `close / previous_close - 1`.
    pub change: f64,
    /// The series' typical daily move: the median `|close / previous close - 1|` over
    /// consecutive days of one source; `None` with fewer than 2 such days.
    pub typical_move: Option<f64>,
    /// `|change| / typical_move`: how many typical moves the splice jumped.
    pub jump_ratio: Option<f64>,
}

/// How many bars of one source the store keeps aside, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlternateBars {
    pub source: String,
    /// `displaced` (replaced by another source's bar) or `not_preferred` (refused: a
    /// preferred source holds the day).
    pub reason: String,
    pub bars: u64,
    pub first_day: String,
    pub last_day: String,
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
    /// Bars of other sources this run's bars replaced (kept aside in the store).
    #[serde(default)]
    pub replaced: u64,
    /// Bars of this run kept aside because a preferred source holds their day.
    #[serde(default)]
    pub set_aside: u64,
}

impl FetchRunStatus {
    /// What the run did to the rows, in words: "12 read, 3 new, 4 updated, 5 unchanged, 0
    /// rejected", then the bars of other sources it replaced or set aside when there were any.
    /// The Data page and `lockstep data status` say it the same way.
    pub fn counts(&self) -> String {
        let mut out = format!(
            "{} read, {} new, {} updated, {} unchanged, {} rejected",
            self.rows_read, self.inserted, self.updated, self.unchanged, self.rejected
        );
        if self.replaced + self.set_aside > 0 {
            out.push_str(&format!(
                ", {} bars of other sources replaced, {} set aside",
                self.replaced, self.set_aside
            ));
        }
        out
    }
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

// ---------------------------------------------------------------------------------------------
// Consistency report (server/src/parity, `GET /api/parity`, `lockstep parity --json`). Days are
// `YYYY-MM-DD`; times are Unix milliseconds; money is USD; weights are fractions of equity.
// ---------------------------------------------------------------------------------------------

/// `GET /api/parity`: is live the backtest, and where does every dollar of difference come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ParityReport {
    /// When the report was computed.
    pub generated_at: i64,
    /// The live broker the report is about (`paper` or `hyperliquid`).
    pub broker: String,
    /// The data days covered (inclusive); `None` when there is no live history.
    pub from: Option<String>,
    pub to: Option<String>,
    pub kernel_version: String,
    /// Relative tolerance of the position check (default 0.05).
    pub tolerance: f64,
    /// Signal parity, one entry per plan in the period (oldest first).
    pub signals: Vec<SignalParity>,
    /// Plans whose targets differ from a recomputation on the same data: must be 0.
    pub alarms: usize,
    pub parameters: ParameterAudit,
    pub shadow: ShadowComparison,
    pub attribution: GapAttribution,
    pub costs: CostCalibration,
    /// The predecessor's four manual checks: `positions_vs_backtest`, `parameter_audit`,
    /// `signal_consistency`, `portfolio_value_30d`.
    pub checks: Vec<ParityCheck>,
    /// Price series whose source changes inside the period (`from..=to`): the backtest and the
    /// live plans read a spliced series there.
    #[serde(default)]
    pub splices: Vec<SourceSplice>,
    /// The demo runs whose simulated paper history is part of this report (empty: none).
    #[serde(default)]
    pub simulated: Vec<DemoRun>,
    /// Which universe the live config trades and the shadow backtest ran (its venue and
    /// listings, counted on the period's last day, else the panel's); absent in reports from
    /// before venues existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub universe: Option<shared::universe::UniverseInfo>,
}

/// A simulated paper history made by `lockstep demo` or the Trades page's demo button
/// (`GET/POST /api/demo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DemoRun {
    pub id: String,
    /// `running`, `done`, `failed`.
    pub status: String,
    /// Real time (Unix ms).
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub created_by: String,
    /// The paper account it filled.
    pub account: String,
    /// The simulated data days, inclusive.
    pub first_day: String,
    pub last_day: String,
    pub days: u32,
    pub days_done: u32,
    pub plans: u32,
    pub error: Option<String>,
    /// Paper records made at or before this (simulated Unix ms) are the demo's.
    pub cutoff_at: Option<i64>,
}

/// `POST /api/demo` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DemoRequest {
    /// Days of history to simulate (default 90).
    #[serde(default)]
    pub days: Option<u32>,
}

/// One plan's targets recomputed from the inputs it saw and from today's store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignalParity {
    pub plan_id: String,
    pub data_day: String,
    pub plan_status: String,
    /// `identical` (both recomputations equal the plan), `revised` (equal on the data the plan
    /// saw, different on today's data), `mismatch` (different on the same data: a red alarm),
    /// `unavailable` (cannot be recomputed; `note` says why).
    pub status: String,
    pub kernel_version_matches: bool,
    /// Symbols whose weight differs in either recomputation.
    pub differences: Vec<WeightDifference>,
    /// Stored values changed since the plan was made, within its lookback window.
    pub revisions: Vec<DataRevision>,
    pub note: Option<String>,
}

/// A symbol's blended target weight: as planned and as recomputed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WeightDifference {
    pub symbol: String,
    /// In the stored plan.
    pub planned: f64,
    /// Recomputed from the data as it was when the plan was made.
    pub same_data: f64,
    /// Recomputed from today's store.
    pub today: f64,
    /// `same_data` (alarm) or `revised`.
    pub cause: String,
}

/// A stored value that changed after a plan was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DataRevision {
    pub symbol: String,
    pub day: String,
    /// Panel field: `open`, `high`, `low`, `close`, `volume`, `market_cap`, `funding_rate`,
    /// `open_interest`, ...
    pub field: String,
    /// `None`: missing then.
    pub before: Option<f64>,
    /// `None`: missing now.
    pub after: Option<f64>,
    /// (after − before) / |before| when both exist.
    pub relative_change: Option<f64>,
}

/// The effective parameters of the live config against the backtest config, key by key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ParameterAudit {
    pub live_config_version: String,
    pub backtest_config_version: String,
    /// Where the backtest config came from (`live config`, a file path, `request`).
    pub backtest_config_source: String,
    /// Every key of either side, differing ones included (strategy `""` = portfolio level).
    pub rows: Vec<ParameterRow>,
    pub differing: usize,
}

/// One effective parameter on both sides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ParameterRow {
    pub strategy: String,
    pub key: String,
    /// `None`: the side does not have the key (or the strategy).
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub live: Option<serde_json::Value>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub backtest: Option<serde_json::Value>,
    pub same: bool,
}

/// The live config backtested over the live period with the live rebalance policy, next to the
/// realised equity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ShadowComparison {
    /// `threshold(0.03)` or `time`.
    pub policy: String,
    pub start_equity: f64,
    pub days: Vec<ShadowDay>,
    /// Total return over the period, live and shadow.
    pub live_return: f64,
    pub shadow_return: f64,
}

/// One day of the shadow comparison (end-of-day values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ShadowDay {
    pub day: String,
    /// `None` when the account has no snapshot for the day.
    pub live_equity: Option<f64>,
    pub shadow_equity: f64,
}

/// Realised live P&L minus shadow-backtest P&L, split into causes, per day and cumulative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GapAttribution {
    pub days: Vec<AttributionDay>,
    /// Sum over the period.
    pub total: AttributionParts,
    /// The period's gap per symbol, the symbols that explain most of it first (by `|total|`);
    /// every symbol with a non-zero part is listed. For each of skipped, slippage, fees,
    /// funding and other, the symbols' amounts add up to the period's; `unexplained` stays
    /// mostly in the period total (cash no symbol explains).
    #[serde(default)]
    pub symbols: Vec<SymbolAttribution>,
}

/// One symbol's share of the period's gap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SymbolAttribution {
    pub symbol: String,
    /// Its parts over the period; `total` is their sum.
    pub parts: AttributionParts,
}

/// One day's gap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AttributionDay {
    pub day: String,
    pub live_pnl: f64,
    pub shadow_pnl: f64,
    pub parts: AttributionParts,
    /// Running sum of `parts` up to and including this day.
    pub cumulative: AttributionParts,
}

/// The gap (live − shadow, USD) by cause. `skipped + slippage + fees + funding + other +
/// unexplained == total` exactly (up to float rounding); `unexplained` is what no cause accounts
/// for and should stay near zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AttributionParts {
    /// Trades the threshold skipped or the venue minimum / size rounding dropped.
    pub skipped: f64,
    /// Execution price vs the close the backtest used.
    pub slippage: f64,
    /// Fees modelled minus fees actually paid.
    pub fees: f64,
    /// Funding modelled minus funding actually paid.
    pub funding: f64,
    /// Positions that differ for other reasons: failed or partial orders, manual changes.
    pub other: f64,
    pub unexplained: f64,
    pub total: f64,
}

/// What live fills imply about costs, against the backtest's assumptions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CostCalibration {
    pub fills: usize,
    /// Σ |units × reference close| of the fills.
    pub traded_notional: f64,
    pub configured_fee_bps: f64,
    pub configured_slippage_bps: f64,
    /// Fees paid / traded notional (None without fills).
    pub implied_fee_bps: Option<f64>,
    /// Notional-weighted adverse distance of fill prices from the reference close.
    pub implied_slippage_bps: Option<f64>,
    /// A suggested change of the backtest's cost assumptions, when they differ materially.
    pub suggestion: Option<String>,
}

/// One of the predecessor's manual checks, automated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ParityCheck {
    pub name: String,
    /// False only for an alarm; a check that measured nothing is `ok` (for existing scripts)
    /// with `status` `not_measured`.
    pub ok: bool,
    /// `ok` (measured and within its limit), `alarm` (measured and outside it, or the thing to
    /// measure is missing), `not_measured` (nothing to compare yet: no plan, no live equity).
    #[serde(default = "ParityCheck::default_status")]
    pub status: String,
    /// The measured value and the limit it is held to, when the check has one.
    pub value: Option<f64>,
    pub limit: Option<f64>,
    /// What was compared and what was found, in one or two sentences.
    pub detail: String,
}

impl ParityCheck {
    pub const OK: &'static str = "ok";
    pub const ALARM: &'static str = "alarm";
    pub const NOT_MEASURED: &'static str = "not_measured";

    /// The status of a measured check.
    pub fn measured(ok: bool) -> String {
        if ok { Self::OK } else { Self::ALARM }.to_string()
    }

    /// Reports written before `status` existed: their `ok` was all there was.
    fn default_status() -> String {
        Self::OK.to_string()
    }

    pub fn is_measured(&self) -> bool {
        self.status != Self::NOT_MEASURED
    }
}

// ---------------------------------------------------------------------------------------------
// Named team links (server/src/links.rs, server/src/api/links.rs): a share state stored under a
// short id and opened as `/s/<id>`.
// ---------------------------------------------------------------------------------------------

/// `POST /api/links` request body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateTeamLink {
    /// What the team calls it, 1 to 100 characters.
    pub name: String,
    /// The encoded share state, exactly what "Copy link" puts after `?s=` (`app::share`).
    pub state: String,
    /// A sweep's finished results (`app::share::encode_results`), shown by the link without
    /// re-running while the data version matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
}

/// `GET /api/links/{id}/results`: a sweep link's stored results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TeamLinkResults {
    /// `app::share::encode_results` of the results.
    pub results: String,
}

/// A stored team link: the answer of `POST /api/links` and the items of `GET /api/links`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TeamLink {
    /// 12 characters from `[0-9A-Za-z]`.
    pub id: String,
    /// `"backtest"` or `"sweep"`: the page the link opens.
    pub kind: String,
    pub name: String,
    /// `/s/<id>`.
    pub path: String,
    /// The full address to send (`scheme://host/s/<id>` from the request's `Host`), or `path`
    /// when the request named no host.
    pub url: String,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

// --- Plan replay and the audit log (`GET /api/plans/{id}/replay`, `GET /api/audit`) ---------

/// `GET /api/plans/{id}/replay`: a stored plan's targets recomputed from its stored inputs
/// (config, data day, the store's data) with a fresh cache, compared bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanReplay {
    pub plan_id: String,
    /// Blended targets, per-strategy targets, effective weights and activity all equal.
    pub identical: bool,
    /// The plan was made by the kernel version this server runs (`kernel_version`). When not,
    /// differences may come from the kernel rather than from the data.
    pub kernel_version_matches: bool,
    /// The kernel version the replay ran with.
    pub kernel_version: String,
    /// What differs, one line per symbol or strategy; empty when `identical`.
    pub differences: Vec<String>,
}

/// One entry of the append-only audit log: who did what, when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Sorts like the log: by time, then by order of writing within one server process.
    pub id: String,
    /// Unix milliseconds.
    pub at: i64,
    /// A user name, `cli`, `system` (expiry) or the scheduler.
    pub actor: String,
    /// E.g. `plan.approve`, `plan.reject`, `plan.expire`, `kill_switch.on`.
    pub action: String,
    /// What it was done to (a plan id), if anything.
    pub subject: Option<String>,
    pub detail: Option<String>,
}

/// `GET /api/audit?limit=&before=`: one page of the audit log, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next_before: Option<String>,
}
