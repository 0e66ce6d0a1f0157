//! `carry`: long the most negative funding, short the most positive.

use super::common::{window, CrossSection, Defaults, Orientation};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// The carry factor. Signal: mean daily funding rate over the last `funding_window` days.
#[derive(Clone, Debug, PartialEq)]
pub struct Carry {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    /// Days of funding averaged (default 1: today's rate).
    pub funding_window: usize,
}

impl Carry {
    /// Reads the common keys, `rebalance_days` and `funding_window` (>= 1, default 1).
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<Carry, ConfigError> {
        Ok(Carry {
            xs: CrossSection::from_params(p, Defaults::LONG_SHORT)?,
            rebalance_days: p.rebalance_days()?,
            funding_window: p.usize_min("funding_window", 1, 1)?,
        })
    }
}

impl Strategy for Carry {
    fn name(&self) -> &'static str {
        "carry"
    }

    fn lookback(&self) -> usize {
        self.funding_window.max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let n = self.funding_window;
        self.xs.rank(
            input,
            t,
            Orientation::LongLow,
            |a| {
                let w = window(panel.series(Field::FundingRate, a), t, n)?;
                Some(w.iter().sum::<f64>() / n as f64)
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
    fn longs_negative_funding_shorts_positive_with_symbol_ties() {
        // funding at t: A 0.0003, B 0.0001, C 0.0001, D -0.0002, E 0.0001 (ties are common).
        // top_n = bottom_n = 2, equal weight: shorts = A, then tie B/C/E -> B; longs = D, then
        // the tie at the low end -> B is taken, so C.
        let s = build(
            "carry",
            r#"{"top_n": 2, "weighting_method": "equal_weight"}"#,
        );
        let f = [0.0003, 0.0001, 0.0001, -0.0002, 0.0001];
        let out = run_at(&*s, &["A", "B", "C", "D", "E"], 2, |p| {
            for (a, x) in f.iter().enumerate() {
                p.set(Field::FundingRate, a, 1, *x);
                p.set(Field::Close, a, 1, 1.0);
            }
        });
        assert_eq!(out, vec![-0.25, -0.25, 0.25, 0.25, 0.0]);
    }

    #[test]
    fn funding_window_averages_and_needs_every_day() {
        let s = build(
            "carry",
            r#"{"top_n": 2, "funding_window": 2, "weighting_method": "equal_weight"}"#,
        );
        // means over 2 days: A 2, B 0 (NaN yesterday -> ineligible), C 1, D 3, E -1
        let rows = [
            [1.0, 3.0],
            [f64::NAN, 0.0],
            [1.0, 1.0],
            [3.0, 3.0],
            [-1.0, -1.0],
        ];
        let out = run_at(&*s, &["A", "B", "C", "D", "E"], 2, |p| {
            for (a, r) in rows.iter().enumerate() {
                p.set(Field::FundingRate, a, 0, r[0]);
                p.set(Field::FundingRate, a, 1, r[1]);
                p.set(Field::Close, a, 1, 1.0);
            }
        });
        assert_eq!(out, vec![-0.25, 0.0, 0.25, -0.25, 0.25]);
    }
}
