//! The market-regime filter: a strategy that only trades in bear (or bull) markets.
//!
//! The regime is read from the reference asset's closes: bear when its 50-day simple moving
//! average is below its 200-day one. A reference asset that is absent from the panel, or lacks a
//! close in the 200 days, makes the strategy inactive with a reason that says so. There is no
//! default regime: the predecessor silently assumed "bear" when its lookup failed and traded a
//! bear-only strategy in every market.

use super::params::Params;
use super::InactiveReason;
use crate::error::ConfigError;
use crate::panel::{Field, Panel};

/// Short moving-average window of the regime filter (days).
pub const REGIME_SHORT_WINDOW: usize = 50;
/// Long moving-average window of the regime filter (days).
pub const REGIME_LONG_WINDOW: usize = 200;

/// When a regime-filtered strategy may trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegimeMode {
    /// Only while SMA50 < SMA200 of the reference asset.
    BearOnly,
    /// Only while SMA50 >= SMA200 (the complement of bear).
    BullOnly,
}

/// A configured regime filter (`regime_filter` + `reference_symbol`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegimeFilter {
    pub mode: RegimeMode,
    /// Bare base of the reference asset (`BTC`; `BTC/USD` in a config resolves to it).
    pub reference: String,
}

impl RegimeFilter {
    /// Reads `regime_filter` (`bear_only`, `bull_only`, `none`; default `none`) and
    /// `reference_symbol` (default `BTC`). `None` when the filter is off.
    ///
    /// # Errors
    /// An unknown mode or a malformed symbol.
    pub fn from_params(p: &mut Params<'_>) -> Result<Option<RegimeFilter>, ConfigError> {
        let mode = p.choice("regime_filter", "none", &["bear_only", "bull_only", "none"])?;
        let reference = p.symbol("reference_symbol", "BTC")?;
        Ok(match mode {
            "bear_only" => Some(RegimeFilter {
                mode: RegimeMode::BearOnly,
                reference,
            }),
            "bull_only" => Some(RegimeFilter {
                mode: RegimeMode::BullOnly,
                reference,
            }),
            _ => None,
        })
    }

    /// Rows ending at `t` the filter reads.
    pub fn lookback(&self) -> usize {
        REGIME_LONG_WINDOW
    }

    /// `Ok` when the strategy may trade at row `t`, else why not.
    ///
    /// # Errors
    /// The regime is the wrong one, or the reference asset's closes are missing.
    pub fn check(&self, panel: &Panel, t: usize) -> Result<(), InactiveReason> {
        let Some(asset) = panel.asset_index(&self.reference) else {
            return Err(InactiveReason(format!(
                "regime filter: reference asset {} is not in the data",
                self.reference
            )));
        };
        let close = panel.series(Field::Close, asset);
        let Some(w) = super::common::window(close, t, REGIME_LONG_WINDOW) else {
            return Err(InactiveReason(format!(
                "regime filter: reference asset {} lacks {REGIME_LONG_WINDOW} days of closes",
                self.reference
            )));
        };
        let long = w.iter().sum::<f64>() / REGIME_LONG_WINDOW as f64;
        let short = w[REGIME_LONG_WINDOW - REGIME_SHORT_WINDOW..]
            .iter()
            .sum::<f64>()
            / REGIME_SHORT_WINDOW as f64;
        let bear = short < long;
        match (self.mode, bear) {
            (RegimeMode::BearOnly, true) | (RegimeMode::BullOnly, false) => Ok(()),
            (RegimeMode::BearOnly, false) => Err(InactiveReason(format!(
                "regime filter: bull market ({} 50-day average {short:.6} >= 200-day {long:.6}), strategy trades only in bear markets",
                self.reference
            ))),
            (RegimeMode::BullOnly, true) => Err(InactiveReason(format!(
                "regime filter: bear market ({} 50-day average {short:.6} < 200-day {long:.6}), strategy trades only in bull markets",
                self.reference
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::common::tests::panel_from_closes;

    fn filter(mode: RegimeMode) -> RegimeFilter {
        RegimeFilter {
            mode,
            reference: "BTC".into(),
        }
    }

    #[test]
    fn bear_when_short_average_below_long() {
        // 150 days at 100 then 50 days at 50: SMA50 = 50 < SMA200 = 87.5.
        let mut c = vec![100.0; 150];
        c.extend(vec![50.0; 50]);
        let p = panel_from_closes(&["BTC"], &[c]);
        assert!(filter(RegimeMode::BearOnly).check(&p, 199).is_ok());
        assert!(filter(RegimeMode::BullOnly).check(&p, 199).is_err());
    }

    #[test]
    fn bull_when_short_average_above_long() {
        let mut c = vec![50.0; 150];
        c.extend(vec![100.0; 50]);
        let p = panel_from_closes(&["BTC"], &[c]);
        let e = filter(RegimeMode::BearOnly).check(&p, 199).unwrap_err();
        assert!(e.0.contains("bull market"), "{e}");
        assert!(filter(RegimeMode::BullOnly).check(&p, 199).is_ok());
    }

    /// Regression: the predecessor looked up `BTC/USD` on a venue that named it differently and
    /// fell back to "bear", trading a bear-only strategy in every regime.
    #[test]
    fn missing_reference_asset_is_inactive_never_a_default() {
        let p = panel_from_closes(&["ETH"], &[vec![1.0; 250]]);
        for mode in [RegimeMode::BearOnly, RegimeMode::BullOnly] {
            let e = filter(mode).check(&p, 249).unwrap_err();
            assert!(
                e.0.contains("reference asset BTC is not in the data"),
                "{e}"
            );
        }
        let mut c = vec![1.0; 250];
        c[100] = f64::NAN;
        let p = panel_from_closes(&["BTC"], &[c]);
        let e = filter(RegimeMode::BearOnly).check(&p, 249).unwrap_err();
        assert!(e.0.contains("lacks 200 days"), "{e}");
        assert!(
            filter(RegimeMode::BearOnly).check(&p, 198).is_err(),
            "short history"
        );
    }
}
