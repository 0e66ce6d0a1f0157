//! The portfolio simulator: target weights in, NAV, holdings, trades and attribution out.
//!
//! # Semantics (what a re-implementation must reproduce)
//! The book holds **units** per asset plus cash, starting from `initial_nav` in cash. For each
//! day `t` of the range, at the close:
//!
//! 1. **Mark.** An asset with a finite, positive close is marked at it; a held asset whose close
//!    is missing is marked at its last close (its stale counter grows by one). Price P&L is
//!    `units × (mark_t − mark_{t−1})`.
//! 2. **Funding.** Day `t`'s `funding_rate` (a daily fraction) is charged on positions held over
//!    `(close t−1, close t]`, valued at the close-`t` mark: `cash −= units × mark_t × rate`. Longs
//!    pay positive funding, shorts receive it; a missing rate counts as 0. Nothing is held over
//!    the interval before the first day, so the first day pays no funding.
//! 3. **NAV before trading** `N = cash + Σ units × mark`. Trades are sized on it.
//! 4. **Stale close.** A held asset whose close has been missing `stale_days` days in a row
//!    (counting today) is closed today at its last close, with fees. No later row is read.
//! 5. **Targets.** The [`TargetSource`] yields the weights decided at close `t` and whether `t`
//!    is a rebalance date. The first day is always treated as a rebalance date: it trades to the
//!    targets in force.
//! 6. **Policy.** The current weight of each asset is `units × mark / N`; the
//!    [`RebalancePolicy`] says which assets move to target. An asset without a price today cannot
//!    trade (its weight stays), so a target on an unpriced asset is not entered. If `N ≤ 0` the
//!    book is ruined: every target is treated as 0 (the book is closed where it can be).
//! 7. **Trades.** A traded asset moves to `units = weight × N / close`; the traded notional
//!    `|Δunits| × close` pays `(fee_bps + slippage_bps) / 10 000` out of cash.
//!    Under venue rules ([`SimConfig::venue`]) the trade is first put on the venue's grid by
//!    the live plan's own rounding ([`crate::venue::round_order`]), with the book scaled to
//!    `capital` dollars: sizes to the venue's lots (an exit toward zero, never more than is
//!    held), and a trade that rounds to nothing, is worth less than the venue's minimum or has
//!    no limit price in the band is not made (the asset keeps its units). Stale closes are not
//!    rounded.
//! 8. **Outputs.** `NAV_t = cash + Σ units × mark`; the day's simple return is
//!    `NAV_t / NAV_{t−1} − 1` (with `NAV_{−1} = initial_nav`), dated `t`, the day it is realised:
//!    the weights decided at `t − 1` earn close `t − 1` → close `t` and the fees paid at `t` land
//!    on `t`. Holdings are post-trade weights `units × mark / NAV_t`; gross exposure is
//!    `Σ |w|`, net `Σ w`; turnover is `Σ notional / N`.
//!
//! # Per-strategy attribution
//! The source may also give, per strategy, its part of the blended target of each asset
//! (`leverage × effective_weight × strategy target`, strategy-major; the parts sum over
//! strategies to the blended target). With `NAV_{t−1}` the NAV at the previous close:
//!
//! - **Price and funding.** An asset held over `(close t−1, close t]` returns
//!   `r_a = P&L_a / (units × mark_{t−1})` (price move minus funding, on the value held at the
//!   previous close). Strategy `s` is credited `part_{t−1}[s][a] × r_a`: its own target weight
//!   decided at `t − 1` times the asset's return. A strategy netted against another keeps its
//!   own side of the P&L, and no part is ever divided by a netted target, so two strategies that
//!   nearly cancel cannot produce large offsetting lines (the previous split by
//!   `part / net target` did, because the held weight drifts away from a near-zero target).
//! - **Fees** paid at `t` on asset `a` are split in proportion to each strategy's
//!   `|part_t[s][a] − part_{t−1}[s][a]|` (who changed their target and so caused the trade);
//!   when no part changed (a `time` rebalance of drift, a stale close) by `|part_t[s][a]|`, else
//!   by `|part_{t−1}[s][a]|`. Each strategy's share lies between 0 and the fee.
//! - **Unattributed** is everything else: the held weight's distance from the target (drift
//!   inside the threshold band, positions that could not trade), and fees with no strategy
//!   behind them.
//!
//! Each amount is divided by `NAV_{t−1}`, so the strategies' contributions plus the unattributed
//! part add up to the day's return (a property test checks this every day, and checks each
//! strategy's price part against `Σ_a part × r_a` recomputed from the panel).

mod simulate;

pub use simulate::simulate;

use crate::calendar::Day;
use crate::portfolio::rebalance::{PolicyError, RebalancePolicy};
use crate::venue::LotRules;

/// Trading costs in basis points of traded notional.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Costs {
    /// Exchange fee, default 10 bps.
    pub fee_bps: f64,
    /// Assumed slippage against the close, default 0 bps.
    pub slippage_bps: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            fee_bps: 10.0,
            slippage_bps: 0.0,
        }
    }
}

impl Costs {
    /// Fraction of traded notional paid per trade.
    pub fn rate(&self) -> f64 {
        (self.fee_bps + self.slippage_bps) / 10_000.0
    }

    /// A fill of `units` (signed, positive buys) against `close` under this cost model: the one
    /// formula the simulator trades with and the paper venue fills with. The book's cash moves
    /// by `cash_delta = −(units × close + cost)`, `cost = |units| × close × rate()`. A venue
    /// shows the same cost as a fill price `close × (1 ± slippage)` and a fee on the notional at
    /// the close; `units × price + fee` equals `−cash_delta` up to float rounding.
    #[inline]
    pub fn fill(&self, units: f64, close: f64) -> CostedFill {
        let notional = units.abs() * close;
        let cost = notional * self.rate();
        CostedFill {
            notional,
            cost,
            cash_delta: -(units * close + cost),
            price: close * (1.0 + units.signum() * self.slippage_bps / 10_000.0),
            fee: notional * self.fee_bps / 10_000.0,
        }
    }
}

/// What one fill costs under a [`Costs`] model ([`Costs::fill`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostedFill {
    /// `|units| × close`.
    pub notional: f64,
    /// Fee plus slippage: `notional × rate`. The simulator's `Trade::fee`.
    pub cost: f64,
    /// The change of cash.
    pub cash_delta: f64,
    /// The fill price a venue reports: the close moved against the trade by the slippage.
    pub price: f64,
    /// The fee a venue reports: `fee_bps` of the notional.
    pub fee: f64,
}

/// The default number of consecutive missing closes after which a held asset is closed.
pub const DEFAULT_STALE_DAYS: u32 = 7;

/// How to simulate.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SimConfig {
    pub costs: Costs,
    pub policy: RebalancePolicy,
    /// Close a held asset after this many missing closes in a row (≥ 1).
    pub stale_days: u32,
    /// Starting cash; NAV is reported in the same unit.
    pub initial_nav: f64,
    /// Record holdings, trades and attribution. Sweeps switch it off: metrics need only the
    /// per-day series, which are always recorded.
    pub record_detail: bool,
    /// The venue's lots and minimums (`rebalance.venue_rules`): every rebalance trade goes
    /// through [`crate::venue::round_order`], the live plan's rounding; `None` trades exact
    /// weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub venue: Option<LotRules>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            costs: Costs::default(),
            policy: RebalancePolicy::default(),
            stale_days: DEFAULT_STALE_DAYS,
            initial_nav: 1.0,
            record_detail: true,
            venue: None,
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError<E> {
    #[error("fee_bps and slippage_bps must be finite and >= 0, got {fee_bps} and {slippage_bps}")]
    BadCosts { fee_bps: f64, slippage_bps: f64 },
    #[error("stale_days must be at least 1")]
    BadStaleDays,
    #[error(
        "venue rules need min_notional >= 0, max_slippage in [0, 1) and capital > 0, got \
         {min_notional}, {max_slippage} and {capital}"
    )]
    BadVenueRules {
        min_notional: f64,
        max_slippage: f64,
        capital: f64,
    },
    #[error("initial_nav must be finite and > 0, got {0}")]
    BadInitialNav(f64),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("rows {first}..={last} are not a range inside the panel's {n_days} days")]
    BadRange {
        first: usize,
        last: usize,
        n_days: usize,
    },
    #[error("target for asset {asset} on {day} is not finite: {value}")]
    BadTarget { day: Day, asset: usize, value: f64 },
    #[error("target source failed on {day}: {source}")]
    Source { day: Day, source: E },
}

/// What a [`TargetSource`] decided at one close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `weights` (and `by_strategy`) hold the targets decided at this close; `rebalance` says
    /// whether the row is a rebalance date (targets were recomputed).
    New { rebalance: bool },
    /// Exactly the previous row's targets and breakdown: `weights` still holds them (the
    /// source may have rewritten the same values), `by_strategy` is left to the simulator, and
    /// the row is not a rebalance date. Lets the simulator skip its per-day scan of every asset
    /// on the days between rebalance dates. Never answered for a source's first row.
    Same,
}

/// Yields the target weights decided at each close. The backtest feeds it from the
/// `TargetEngine`; tests use [`FnSource`].
pub trait TargetSource {
    /// What [`TargetSource::targets`] can fail with.
    type Error: std::error::Error;

    /// How many strategies [`TargetSource::targets`] breaks the targets into (0 = no breakdown).
    fn n_strategies(&self) -> usize {
        0
    }

    /// The target weights decided at the close of panel row `row` (rows are asked in order).
    ///
    /// `weights` has one slot per asset and holds the previous row's targets (zeros on the
    /// first row): a source answering [`Decision::New`] writes every slot. `by_strategy`
    /// (zeroed, `n_strategies × n_assets`, strategy-major; empty when there is no breakdown or
    /// the simulator records no detail) receives each strategy's contribution to them.
    ///
    /// # Errors
    /// Whatever the source fails with; the simulation stops with [`SimError::Source`].
    fn targets(
        &mut self,
        row: usize,
        weights: &mut [f64],
        by_strategy: &mut [f64],
    ) -> Result<Decision, Self::Error>;
}

/// A [`TargetSource`] from a closure `(row, weights) -> is_rebalance_date`, without breakdown.
/// The closure gets zeroed weights every row.
pub struct FnSource<F>(pub F);

impl<F: FnMut(usize, &mut [f64]) -> bool> TargetSource for FnSource<F> {
    type Error = std::convert::Infallible;
    fn targets(
        &mut self,
        row: usize,
        w: &mut [f64],
        _: &mut [f64],
    ) -> Result<Decision, Self::Error> {
        w.fill(0.0);
        Ok(Decision::New {
            rebalance: (self.0)(row, w),
        })
    }
}

/// Why a trade happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeReason {
    /// The policy moved the asset to its target.
    Rebalance,
    /// The asset's price was missing `stale_days` days in a row.
    StaleClose,
}

/// One fill at the close.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trade {
    pub day: Day,
    /// Index into the panel's symbols.
    pub asset: usize,
    /// Signed change in units (positive buys).
    pub units: f64,
    /// Fill price: the close (the last close for a stale close).
    pub price: f64,
    /// `|units| × price`.
    pub notional: f64,
    /// Fee paid out of cash.
    pub fee: f64,
    pub reason: TradeReason,
}

/// What a simulation produced; per-day vectors have one entry per day of the range.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOutput {
    /// First day of the range.
    pub start: Day,
    pub n_assets: usize,
    pub n_strategies: usize,
    pub initial_nav: f64,
    /// NAV after the day's trades.
    pub nav: Vec<f64>,
    /// Simple return realised on the day.
    pub returns: Vec<f64>,
    /// `Σ |w|` after trading.
    pub gross: Vec<f64>,
    /// `Σ w` after trading.
    pub net: Vec<f64>,
    /// Traded notional / NAV before trading.
    pub turnover: Vec<f64>,
    /// Fees paid, in NAV units.
    pub fees: Vec<f64>,
    /// Funding paid (negative = received), in NAV units.
    pub funding: Vec<f64>,
    /// Post-trade weights, day-major (`day × n_assets + asset`); empty without `record_detail`.
    pub holdings: Vec<f64>,
    /// Every fill in order; empty without `record_detail`.
    pub trades: Vec<Trade>,
    /// Return contribution per day and strategy (`day × n_strategies + s`); empty without
    /// `record_detail`.
    pub contributions: Vec<f64>,
    /// Return not attributable to any strategy, per day; empty without `record_detail`.
    pub unattributed: Vec<f64>,
}

impl SimOutput {
    /// Number of simulated days.
    pub fn n_days(&self) -> usize {
        self.nav.len()
    }

    /// The calendar day of the `i`-th simulated day.
    pub fn day(&self, i: usize) -> Day {
        Day(self.start.0 + i as i32)
    }

    /// Post-trade weights on the `i`-th day (needs `record_detail`).
    pub fn holdings_on(&self, i: usize) -> &[f64] {
        &self.holdings[i * self.n_assets..(i + 1) * self.n_assets]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_costs_fee_plus_slippage_of_its_notional() {
        let c = Costs {
            fee_bps: 6.0,
            slippage_bps: 15.0,
        };
        // Buy 2 at 100: notional 200, cost 21 bps of it = 0.42; a venue shows 100.15 and 0.12.
        let f = c.fill(2.0, 100.0);
        assert_eq!(f.notional, 200.0);
        assert!((f.cost - 0.42).abs() < 1e-12);
        assert!((f.cash_delta + 200.42).abs() < 1e-12);
        assert!((f.price - 100.15).abs() < 1e-12);
        assert!((f.fee - 0.12).abs() < 1e-12);
        assert!((2.0 * f.price + f.fee + f.cash_delta).abs() < 1e-9);
        // A sell fills below the close and receives the notional minus the cost.
        let s = c.fill(-2.0, 100.0);
        assert!((s.price - 99.85).abs() < 1e-12);
        assert!((s.cash_delta - 199.58).abs() < 1e-12);
        assert!((-2.0 * s.price + s.fee + s.cash_delta).abs() < 1e-9);
    }
}
