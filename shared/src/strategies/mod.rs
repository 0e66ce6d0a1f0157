//! The strategies: each turns panel history into target weights for one date.
//!
//! A strategy's [`Strategy::compute`] is the single implementation used by the backtest, the live
//! trader and the browser. It reads only panel rows `(t - lookback, t]`, so a live server that
//! holds `lookback` days of history computes exactly what the backtest computed for that date.

use crate::panel::Panel;

/// Why a strategy holds no position on a date. Shown to users verbatim, so it names the cause.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InactiveReason(pub String);

impl std::fmt::Display for InactiveReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a strategy produced targets at a date.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Activity {
    /// `out` holds the targets (longs sum to `long_allocation`, shorts to `-short_allocation`).
    Active,
    /// `out` is all zeros; the blend hands this strategy's capital to the others.
    Inactive(InactiveReason),
}

/// What every strategy sees besides the date: the panel and the assets it must never trade.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub panel: &'a Panel,
    /// `excluded[asset]` is true for stablecoins (and anything else configured out).
    pub excluded: &'a [bool],
}

/// One configured strategy.
pub trait Strategy: Send + Sync + std::fmt::Debug {
    /// The config key (`"size"`, `"adf"`, ...).
    fn name(&self) -> &'static str;

    /// How many rows ending at and including `t` [`Strategy::compute`] may read.
    fn lookback(&self) -> usize;

    /// Recompute on days where `days_since_1970 % rebalance_days == 0`; hold in between.
    fn rebalance_days(&self) -> u32;

    /// Fresh target weights at row `t`, reading only rows `(t - lookback, t]` of `input.panel`.
    /// `out` has one zeroed slot per asset.
    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity;
}
