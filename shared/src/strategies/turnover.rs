//! `turnover`: long the most traded assets relative to their size, short the least.

use super::common::{window, CrossSection, Defaults, Orientation};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// The turnover factor. Signal: mean over `turnover_window` days (default 30) of the daily ratio
/// `close × volume / market_cap` (USD volume over market cap).
#[derive(Clone, Debug, PartialEq)]
pub struct Turnover {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    pub turnover_window: usize,
}

impl Turnover {
    /// Reads the common keys, `rebalance_days` and `turnover_window` (>= 1, default 30).
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<Turnover, ConfigError> {
        Ok(Turnover {
            xs: CrossSection::from_params(p, Defaults::LONG_SHORT)?,
            rebalance_days: p.rebalance_days()?,
            turnover_window: p.usize_min("turnover_window", 30, 1)?,
        })
    }
}

impl Strategy for Turnover {
    fn name(&self) -> &'static str {
        "turnover"
    }

    fn lookback(&self) -> usize {
        self.turnover_window.max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let n = self.turnover_window;
        self.xs.rank(
            input,
            t,
            Orientation::LongHigh,
            |a| {
                let c = window(panel.series(Field::Close, a), t, n)?;
                let v = window(panel.series(Field::Volume, a), t, n)?;
                let m = window(panel.series(Field::MarketCap, a), t, n)?;
                let mut sum = 0.0;
                for ((c, v), m) in c.iter().zip(v).zip(m) {
                    // A cap of zero (or negative) has no meaningful turnover.
                    if m.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                        return None;
                    }
                    sum += c * v / m;
                }
                Some(sum / n as f64)
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
    fn longs_high_turnover_shorts_low() {
        let s = build(
            "turnover",
            r#"{"top_n": 2, "turnover_window": 2, "weighting_method": "equal_weight"}"#,
        );
        // (close, volume, cap) on both days -> ratio c*v/m; mean of the two days.
        // A: 0.1 & 0.3 -> 0.2 ; B: 0.05 ; C: 0.5 ; D: 0.01 ; E: volume missing yesterday.
        let days: [[(f64, f64, f64); 2]; 5] = [
            [(1.0, 10.0, 100.0), (1.0, 30.0, 100.0)],
            [(2.0, 2.5, 100.0), (2.0, 2.5, 100.0)],
            [(1.0, 50.0, 100.0), (1.0, 50.0, 100.0)],
            [(1.0, 1.0, 100.0), (1.0, 1.0, 100.0)],
            [(1.0, f64::NAN, 100.0), (1.0, 90.0, 100.0)],
        ];
        let out = run_at(&*s, &["A", "B", "C", "D", "E"], 2, |p| {
            for (a, d) in days.iter().enumerate() {
                for (r, (c, v, m)) in d.iter().enumerate() {
                    p.set(Field::Close, a, r, *c);
                    p.set(Field::Volume, a, r, *v);
                    p.set(Field::MarketCap, a, r, *m);
                }
            }
        });
        assert_eq!(out, vec![0.25, -0.25, 0.25, -0.25, 0.0]);
    }
}
