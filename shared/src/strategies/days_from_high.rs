//! `days_from_high`: long-only, the assets trading at or near their recent high.

use super::common::{window, CrossSection, Defaults};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// Days of closes searched for the high.
pub const DEFAULT_HIGH_WINDOW: usize = 200;

/// Long every eligible asset whose highest close of the last `high_window` days (default 200) is
/// at most `max_days` days old (0 = today; the most recent day wins a tie for the high). Weighted
/// by the configured weighting (inverse volatility by default); longs sum to `long_allocation`
/// (default 1.0).
#[derive(Clone, Debug, PartialEq)]
pub struct DaysFromHigh {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    pub max_days: usize,
    pub high_window: usize,
}

impl DaysFromHigh {
    /// Reads `max_days` (default 20), `high_window` (default 200), the weighting keys and
    /// `rebalance_days`.
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<DaysFromHigh, ConfigError> {
        let xs = CrossSection::weighting_from_params(p, Defaults::LONG_ONLY)?;
        // Long-only by definition: a positive short_allocation would change nothing.
        super::common::reject_short_allocation(
            p,
            xs.short_allocation,
            "days_from_high is long-only",
        )?;
        Ok(DaysFromHigh {
            xs,
            rebalance_days: p.rebalance_days()?,
            max_days: p.usize_min("max_days", 20, 0)?,
            high_window: p.usize_min("high_window", DEFAULT_HIGH_WINDOW, 1)?,
        })
    }
}

/// Days since the highest value of `w` (the last element is today); ties go to the latest day.
pub fn days_since_high(w: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in w.iter().enumerate() {
        if *v >= w[best] {
            best = i;
        }
    }
    w.len() - 1 - best
}

impl Strategy for DaysFromHigh {
    fn name(&self) -> &'static str {
        "days_from_high"
    }

    fn lookback(&self) -> usize {
        self.high_window.max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let n = self.high_window;
        let cands = self.xs.eligible(input, t, |a| {
            let w = window(panel.series(Field::Close, a), t, n)?;
            Some(days_since_high(w) as f64)
        });
        let longs: Vec<_> = cands
            .into_iter()
            .filter(|c| c.signal <= self.max_days as f64)
            .collect();
        if longs.is_empty() {
            return Activity::Inactive(super::InactiveReason(format!(
                "no eligible asset within {} days of its {n}-day high",
                self.max_days
            )));
        }
        self.xs.write_weights(&longs, &[], out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::testutil::{build, run_at};

    #[test]
    fn most_recent_day_wins_a_tie() {
        assert_eq!(days_since_high(&[5.0, 1.0, 5.0, 2.0]), 1);
        assert_eq!(days_since_high(&[1.0, 2.0, 3.0]), 0);
        assert_eq!(days_since_high(&[3.0, 2.0, 1.0]), 2);
    }

    #[test]
    fn long_only_within_max_days_equal_weight_sums_to_one() {
        let s = build(
            "days_from_high",
            r#"{"max_days": 1, "high_window": 4, "weighting_method": "equal_weight"}"#,
        );
        let closes = [
            [1.0, 2.0, 3.0, 4.0],      // 0 days: in
            [4.0, 3.0, 2.0, 1.0],      // 3 days: out
            [1.0, 5.0, 5.0, 4.0],      // tie -> latest -> 1 day: in
            [f64::NAN, 1.0, 2.0, 3.0], // incomplete window
        ];
        let out = run_at(&*s, &["A", "B", "C", "D"], 4, |p| {
            for (a, c) in closes.iter().enumerate() {
                p.series_mut(Field::Close, a).copy_from_slice(c);
            }
        });
        assert_eq!(out, vec![0.5, 0.0, 0.5, 0.0]);
    }
}
