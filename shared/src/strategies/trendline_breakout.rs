//! `trendline_breakout`: trade closes that break away from a clean recent trend line.
//!
//! With `w = trendline_window` (30): OLS of log close on `x = 0..w-1` over the `w` days
//! `t-w..t-1` (today is not in the fit), extrapolated to `x = w` (today). Then
//! `z = (ln c_t - fitted_t) / s` with the residual standard deviation `s = sqrt(SSR / (w-2))`.
//! An asset is a candidate when the fit is good (`R² >= min_r2`) and its slope significant
//! (two-sided t-test p-value with `w-2` degrees of freedom `<= max_pvalue`). Long when
//! `z > breakout_threshold` and the slope is rising (`> 0`); short when `z < -threshold` and the
//! slope is falling. At most `max_positions` per side, the largest `|z|` first (ties: the
//! alphabetically earlier symbol). Weighted per `weighting_method`.

use std::cmp::Ordering;

use super::common::{split_signed, window, Candidate, CrossSection, Defaults};
use super::params::Params;
use super::{Activity, InactiveReason, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;
use crate::stats::ols::simple_regression;

/// The trendline-breakout strategy's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendlineBreakout {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    /// Days in the trend fit, default 30.
    pub trendline_window: usize,
    /// |z| a close needs to count as a breakout, default 1.5.
    pub breakout_threshold: f64,
    /// Minimum R² of the fit, default 0.5.
    pub min_r2: f64,
    /// Maximum p-value of the slope, default 0.05.
    pub max_pvalue: f64,
    /// Positions per side, default 10.
    pub max_positions: usize,
}

impl TrendlineBreakout {
    /// Reads `trendline_window` (30, at least 3), `breakout_threshold` (1.5), `min_r2` (0.5),
    /// `max_pvalue` (0.05), `max_positions` (10), `rebalance_days` and the weighting keys.
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<TrendlineBreakout, ConfigError> {
        let xs = CrossSection::weighting_from_params(p, Defaults::LONG_SHORT)?;
        Ok(TrendlineBreakout {
            xs,
            rebalance_days: p.rebalance_days()?,
            trendline_window: p.usize_min("trendline_window", 30, 3)?,
            breakout_threshold: p.f64("breakout_threshold", 1.5)?,
            min_r2: p.f64("min_r2", 0.5)?,
            max_pvalue: p.f64("max_pvalue", 0.05)?,
            max_positions: p.usize_min("max_positions", 10, 1)?,
        })
    }
}

/// The breakout z of one asset and its fit's slope, or `None` if the fit fails the R² or
/// p-value screen or is degenerate. `closes` holds `w + 1` positive closes ending at `t`;
/// `xs` is `0, 1, ..., w-1` and `logs` has `w + 1` slots.
pub fn trendline_z(
    closes: &[f64],
    xs: &[f64],
    logs: &mut [f64],
    min_r2: f64,
    max_pvalue: f64,
) -> Option<(f64, f64)> {
    let w = xs.len();
    for (slot, &c) in logs.iter_mut().zip(closes) {
        if c <= 0.0 || c.is_nan() {
            return None;
        }
        *slot = crate::math::ln(c);
    }
    let fit = simple_regression(xs, &logs[..w])?;
    // Written so that a NaN R² or p-value (constant input) fails the screen.
    let passes = fit.r2 >= min_r2 && fit.slope_p_value() <= max_pvalue;
    if !passes {
        return None;
    }
    let s = fit.residual_std();
    let z = (logs[w] - fit.predict(w as f64)) / s;
    z.is_finite().then_some((z, fit.slope))
}

impl Strategy for TrendlineBreakout {
    fn name(&self) -> &'static str {
        "trendline_breakout"
    }

    fn lookback(&self) -> usize {
        (self.trendline_window + 1).max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let w = self.trendline_window;
        let xs: Vec<f64> = (0..w).map(|i| i as f64).collect();
        let mut logs = vec![0.0; w + 1];
        let th = self.breakout_threshold;
        let cands = self.xs.eligible(input, t, |a| {
            let c = window(panel.series(Field::Close, a), t, w + 1)?;
            let (z, slope) = trendline_z(c, &xs, &mut logs, self.min_r2, self.max_pvalue)?;
            // Only breakouts in the trend's direction are candidates; others are dropped.
            ((z > th && slope > 0.0) || (z < -th && slope < 0.0)).then_some(z)
        });
        if cands.is_empty() {
            return Activity::Inactive(InactiveReason(
                "no trendline breakout among the eligible assets".into(),
            ));
        }
        let symbols = panel.symbols();
        let by_abs_z = |a: &Candidate, b: &Candidate| -> Ordering {
            b.signal
                .abs()
                .total_cmp(&a.signal.abs())
                .then_with(|| symbols[a.asset].cmp(&symbols[b.asset]))
        };
        let (mut longs, mut shorts) = split_signed(&cands);
        longs.sort_by(by_abs_z);
        shorts.sort_by(by_abs_z);
        longs.truncate(self.max_positions);
        shorts.truncate(self.max_positions);
        self.xs.write_weights(&longs, &shorts, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::breakout::tests::{assert_window_parity, random_panel};
    use crate::strategies::testutil::{build, run_at};
    use proptest::prelude::{proptest, ProptestConfig};

    /// Log prices 0.1·x + a fixed ±0.01 wiggle over x = 0..4, then today's value.
    fn closes(slope: f64, today: f64) -> Vec<f64> {
        let wiggle = [0.01, -0.01, -0.01, 0.01, 0.0];
        let mut v: Vec<f64> = (0..5)
            .map(|i| crate::math::exp(slope * i as f64 + wiggle[i]))
            .collect();
        v.push(crate::math::exp(today));
        v
    }

    #[test]
    fn z_by_hand() {
        // y = 0.01, 0.09, 0.19, 0.31, 0.4 on x = 0..4: x̄ = 2, ȳ = 0.2,
        // Sxy = (-2)(-0.19) + (-1)(-0.11) + 0 + 1(0.11) + 2(0.2) = 0.38 + 0.11 + 0.11 + 0.4 = 1.0,
        // Sxx = 10 -> slope 0.1, intercept 0. Residuals .01 -.01 -.01 .01 0: SSR = 4e-4,
        // s = sqrt(4e-4 / 3). Fitted at x = 5: 0.5. Today ln c = 0.6 -> z = 0.1 / s = 8.66.
        let c = closes(0.1, 0.6);
        let xs: Vec<f64> = (0..5).map(|i| i as f64).collect();
        let mut logs = vec![0.0; 6];
        let (z, slope) = trendline_z(&c, &xs, &mut logs, 0.5, 0.05).unwrap();
        assert!((slope - 0.1).abs() < 1e-12);
        assert!((z - 0.1 / (4e-4f64 / 3.0).sqrt()).abs() < 1e-9, "{z}");
        // A flat noisy series fails the R² screen.
        let flat = closes(0.0, 0.6);
        assert!(trendline_z(&flat, &xs, &mut logs, 0.5, 0.05).is_none());
        // With the R² screen off, the slope (zero) is not significant.
        assert!(trendline_z(&flat, &xs, &mut logs, -1.0, 0.05).is_none());
        assert!(trendline_z(&flat, &xs, &mut logs, -1.0, 1.0).is_some());
    }

    #[test]
    fn sides_follow_slope_and_max_positions_by_abs_z() {
        let s = build(
            "trendline_breakout",
            r#"{"trendline_window": 5, "max_positions": 1, "weighting_method": "equal_weight"}"#,
        );
        assert_eq!(s.lookback(), 6);
        let series = [
            closes(0.1, 0.6),   // up trend, z = +8.66: long
            closes(0.1, 0.7),   // up trend, z = +17.3: long, larger |z|
            closes(-0.1, -0.6), // down trend, z = -8.66: short
            closes(0.1, 0.3),   // up trend broken downwards: z < 0 with rising slope -> nothing
            closes(0.1, 0.5),   // on the line: z = 0
        ];
        let out = run_at(&*s, &["A", "B", "C", "D", "E"], 6, |p| {
            for (a, c) in series.iter().enumerate() {
                p.series_mut(Field::Close, a).copy_from_slice(c);
            }
        });
        assert_eq!(out, vec![0.0, 0.5, -0.5, 0.0, 0.0]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn window_parity(seed in 0u64..10_000, t in 31usize..200) {
            let p = random_panel(seed, 200, 12);
            for json in [
                r#"{"min_r2": 0.1, "max_pvalue": 0.5, "breakout_threshold": 0.5, "max_positions": 2}"#,
                r#"{"trendline_window": 10, "weighting_method": "equal_weight", "min_r2": 0.0, "max_pvalue": 1.0, "breakout_threshold": 0.0}"#,
            ] {
                let s = build("trendline_breakout", json);
                assert_window_parity(&*s, &p, t);
            }
        }
    }
}
