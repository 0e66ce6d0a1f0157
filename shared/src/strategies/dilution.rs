//! `dilution`: long the assets whose circulating supply grew least, short those that grew most.

use super::common::{CrossSection, Defaults, Orientation};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// Days per "month" in `lookback_months`.
pub const DAYS_PER_MONTH: usize = 30;
/// How many days a supply snapshot stays valid (supply arrives in monthly snapshots).
pub const SUPPLY_FFILL_DAYS: usize = 31;

/// The dilution factor. Signal: `supply(t) / supply(t - 30 × lookback_months) - 1`, where
/// `supply(d)` is the latest circulating supply observed in `[d - 31, d]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dilution {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    /// Months of supply growth (default 12 = 360 days).
    pub lookback_months: usize,
}

impl Dilution {
    /// Reads the common keys (`volatility_window` defaults to 90 here), `rebalance_days` and
    /// `lookback_months` (>= 1, default 12).
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<Dilution, ConfigError> {
        // This strategy's weighting window defaults to 90 days, not 30.
        let default_window = if p.has("volatility_window") {
            None
        } else {
            Some(90)
        };
        let mut xs = CrossSection::from_params(p, Defaults::LONG_SHORT)?;
        if let (Some(w), super::common::Weighting::InverseVol { window }) =
            (default_window, &mut xs.weighting)
        {
            *window = w;
            p.note("volatility_window", serde_json::Value::from(w as u64));
        }
        Ok(Dilution {
            xs,
            rebalance_days: p.rebalance_days()?,
            lookback_months: p.usize_min("lookback_months", 12, 1)?,
        })
    }

    fn horizon(&self) -> usize {
        self.lookback_months * DAYS_PER_MONTH
    }
}

/// The latest finite, positive value in rows `[d - 31, d]` (forward fill of at most 31 days).
fn supply_at(series: &[f64], d: usize) -> Option<f64> {
    let first = d.saturating_sub(SUPPLY_FFILL_DAYS);
    series[first..=d]
        .iter()
        .rev()
        .copied()
        .find(|v| v.is_finite() && *v > 0.0)
}

impl Strategy for Dilution {
    fn name(&self) -> &'static str {
        "dilution"
    }

    fn lookback(&self) -> usize {
        (self.horizon() + SUPPLY_FFILL_DAYS + 1).max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let h = self.horizon();
        self.xs.rank(
            input,
            t,
            Orientation::LongLow,
            |a| {
                // Rows before the data are missing rows like any other: `supply(t - h)` is
                // defined when a snapshot lies in `[t - h - 31, t - h]`, even when that window
                // starts before row 0. A day `t - h` before row 0 has no row in its window at
                // all. (The lookback covers the whole window, so a live server's shorter panel
                // sees the same rows.)
                let s = panel.series(Field::CirculatingSupply, a);
                let now = supply_at(s, t)?;
                let then = supply_at(s, t.checked_sub(h)?)?;
                Some(now / then - 1.0)
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
    fn growth_over_one_month_with_forward_fill() {
        // lookback_months 1 => horizon 30, lookback 62 rows; t = 61, old date = row 31.
        let s = build(
            "dilution",
            r#"{"lookback_months": 1, "top_n": 2, "weighting_method": "equal_weight"}"#,
        );
        assert_eq!(s.lookback(), 62);
        // (old snapshot row, old, new snapshot row, new) per asset.
        let data = [
            (31, 100.0, 61, 110.0), // +10%
            (0, 100.0, 40, 150.0),  // old snapshot 31 days before row 31: still valid; +50%
            (20, 100.0, 61, 101.0), // +1%
            (0, 100.0, 29, 200.0),  // newest snapshot is 32 days old at t: ineligible
            (31, 100.0, 61, 90.0),  // -10%
        ];
        let out = run_at(&*s, &["A", "B", "C", "D", "E"], 62, |p| {
            for (a, (r0, v0, r1, v1)) in data.iter().enumerate() {
                p.set(Field::CirculatingSupply, a, *r0, *v0);
                p.set(Field::CirculatingSupply, a, *r1, *v1);
                p.set(Field::Close, a, 61, 1.0);
            }
        });
        // Eligible A +10%, B +50%, C +1%, E -10%: longs E, C; shorts B, A.
        assert_eq!(out, vec![-0.25, -0.25, 0.25, 0.0, 0.25]);
    }

    #[test]
    fn a_window_that_starts_before_the_data_uses_the_rows_it_has() {
        // Horizon 30: at t = 40 the old day is row 10, its window [-21, 10] starts before the
        // data. A snapshot at row 0 is inside it, so the value is defined, exactly as a gap
        // inside the data would be treated.
        let s = build(
            "dilution",
            r#"{"lookback_months": 1, "top_n": 1, "weighting_method": "equal_weight"}"#,
        );
        let data = [(0, 100.0, 40, 120.0), (5, 100.0, 39, 90.0)];
        let run = |t: usize| {
            run_at(&*s, &["A", "B"], t + 1, |p| {
                for (a, (r0, v0, r1, v1)) in data.iter().enumerate() {
                    p.set(Field::CirculatingSupply, a, *r0, *v0);
                    if *r1 <= t {
                        p.set(Field::CirculatingSupply, a, *r1, *v1);
                    }
                    p.set(Field::Close, a, t, 1.0);
                }
            })
        };
        // A +20%, B -10%: long B, short A.
        assert_eq!(run(40), vec![-0.5, 0.5]);
        // t = 29: the old day t - 30 is before row 0, no row in its window: no target.
        assert_eq!(run(29), vec![0.0, 0.0]);
    }

    #[test]
    fn default_horizon_is_360_days_and_window_90() {
        let s = build("dilution", "{}");
        assert_eq!(s.lookback(), 360 + 31 + 1);
        let d = Dilution::from_params(&mut Params::new("dilution", &Default::default())).unwrap();
        assert_eq!(
            d.xs.weighting,
            crate::strategies::common::Weighting::InverseVol { window: 90 }
        );
    }
}
