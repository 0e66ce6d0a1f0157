//! `leverage_inverted`: long the least leveraged assets, short the most.

use super::common::{CrossSection, Defaults, Orientation};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// The leverage factor, inverted. Signal: open interest / market cap at `t`.
#[derive(Clone, Debug, PartialEq)]
pub struct LeverageInverted {
    pub xs: CrossSection,
    pub rebalance_days: u32,
}

impl LeverageInverted {
    /// Reads the common keys and `rebalance_days`.
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<LeverageInverted, ConfigError> {
        Ok(LeverageInverted {
            xs: CrossSection::from_params(p, Defaults::LONG_SHORT)?,
            rebalance_days: p.rebalance_days()?,
        })
    }
}

impl Strategy for LeverageInverted {
    fn name(&self) -> &'static str {
        "leverage_inverted"
    }

    fn lookback(&self) -> usize {
        self.xs.lookback()
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        self.xs.rank(
            input,
            t,
            Orientation::LongLow,
            |a| {
                let oi = panel.get(Field::OpenInterest, a, t);
                let cap = panel.get(Field::MarketCap, a, t);
                (cap > 0.0 && oi >= 0.0).then(|| oi / cap)
            },
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::testutil::{build, run_at};

    #[test]
    fn longs_low_oi_to_cap_shorts_high() {
        let s = build(
            "leverage_inverted",
            r#"{"top_n": 2, "weighting_method": "equal_weight"}"#,
        );
        // OI / cap: A 0.5, B 0.1, C NaN OI (ineligible), D 0.3, E 0.05
        let data = [
            (50.0, 100.0),
            (10.0, 100.0),
            (f64::NAN, 100.0),
            (30.0, 100.0),
            (5.0, 100.0),
        ];
        let out = run_at(&*s, &["A", "B", "C", "D", "E"], 1, |p| {
            for (a, (oi, cap)) in data.iter().enumerate() {
                p.set(Field::OpenInterest, a, 0, *oi);
                p.set(Field::MarketCap, a, 0, *cap);
                p.set(Field::Close, a, 0, 1.0);
            }
        });
        assert_eq!(out, vec![-0.25, 0.25, 0.0, -0.25, 0.25]);
    }
}
