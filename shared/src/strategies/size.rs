//! `size`: long the smallest market caps, short the largest.

use super::common::{CrossSection, Defaults, Orientation};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// The size factor. Signal: market cap at `t`.
#[derive(Clone, Debug, PartialEq)]
pub struct Size {
    pub xs: CrossSection,
    pub rebalance_days: u32,
}

impl Size {
    /// Reads the common cross-section keys and `rebalance_days`.
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<Size, ConfigError> {
        Ok(Size {
            xs: CrossSection::from_params(p, Defaults::LONG_SHORT)?,
            rebalance_days: p.rebalance_days()?,
        })
    }
}

impl Strategy for Size {
    fn name(&self) -> &'static str {
        "size"
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
                let cap = panel.get(Field::MarketCap, a, t);
                (cap > 0.0).then_some(cap)
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
    fn longs_smallest_shorts_largest_equal_weight() {
        // 5 assets, caps 50, 10, 40, 20, 30 -> 4 eligible needed for 2/side; top_n 2 bottom_n 2.
        let s = build(
            "size",
            r#"{"top_n": 2, "weighting_method": "equal_weight"}"#,
        );
        let caps = [50.0, 10.0, 40.0, 20.0, 30.0];
        let out = run_at(&*s, &["A", "B", "C", "D", "E"], 3, |p| {
            for (a, c) in caps.iter().enumerate() {
                for r in 0..3 {
                    p.set(Field::MarketCap, a, r, *c);
                    p.set(Field::Close, a, r, 1.0 + r as f64);
                }
            }
        });
        assert_eq!(out, vec![-0.25, 0.25, -0.25, 0.25, 0.0]);
    }
}
