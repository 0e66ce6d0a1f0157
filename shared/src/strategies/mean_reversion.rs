//! `mean_reversion`: buy sharp drops that come on unusually high volume.
//!
//! With `p = period_days` (2) and `n = lookback_window` (30), at day `t`:
//! - the p-day returns `R_s = c_s / c_{s-p} - 1` (overlapping) for the `n` days `s` ending at
//!   and including `t`; `z_ret = (R_t - mean R) / std R` (ddof 1);
//! - the USD volumes `V_s = c_s · volume_s` over the same `n` days;
//!   `z_vol = (V_t - mean V) / std V` (ddof 1).
//!
//! Long when `z_ret < -zscore_threshold` and `z_vol > volume_threshold`. Unless `long_only`
//! (the default), also short the mirror image: `z_ret > zscore_threshold` with the same volume
//! condition. Every candidate is held (no top-n cut), weighted per `weighting_method`. A zero
//! standard deviation in either window makes the asset ineligible. With `long_only` the longs
//! sum to 1.0 by default (the issue's allocation rule for long-only strategies).

use super::common::{window, CrossSection, Defaults};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// The mean-reversion strategy's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct MeanReversion {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    /// `p`: horizon of the (overlapping) returns, default 2.
    pub period_days: usize,
    /// `n`: days in both z-score windows, default 30.
    pub lookback_window: usize,
    /// Return z-score beyond which a move counts as extreme, default 1.5.
    pub zscore_threshold: f64,
    /// Volume z-score the move needs, default 1.0.
    pub volume_threshold: f64,
    pub long_only: bool,
}

impl MeanReversion {
    /// Reads `period_days` (2), `lookback_window` (30), `zscore_threshold` (1.5),
    /// `volume_threshold` (1.0), `long_only` (true), `rebalance_days` and the weighting keys.
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<MeanReversion, ConfigError> {
        let long_only = p.bool("long_only", true)?;
        let defaults = if long_only {
            Defaults::LONG_ONLY
        } else {
            Defaults::LONG_SHORT
        };
        let mut xs = CrossSection::weighting_from_params(p, defaults)?;
        if long_only {
            // A long-only strategy has no short book. A positive short_allocation would be
            // silently ignored, which hides a mistake (someone meant to trade the mirror
            // short), so it is an error, like any key that would change nothing.
            super::common::reject_short_allocation(
                p,
                xs.short_allocation,
                "long_only is true (the default)",
            )?;
            xs.short_allocation = 0.0;
        }
        Ok(MeanReversion {
            xs,
            rebalance_days: p.rebalance_days()?,
            period_days: p.usize_min("period_days", 2, 1)?,
            lookback_window: p.window("lookback_window", 30)?,
            zscore_threshold: p.f64("zscore_threshold", 1.5)?,
            volume_threshold: p.f64("volume_threshold", 1.0)?,
            long_only,
        })
    }
}

/// `(x_last - mean) / std` (ddof 1) of `x`, or `None` if the std is zero or not finite.
fn last_zscore(x: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let mut sum = 0.0;
    for v in x {
        sum += v;
    }
    let mean = sum / n;
    let mut ss = 0.0;
    for v in x {
        let d = v - mean;
        ss += d * d;
    }
    let std = (ss / (n - 1.0)).sqrt();
    if !(std > 0.0 && std.is_finite()) {
        return None;
    }
    Some((x[x.len() - 1] - mean) / std)
}

/// The `(z_ret, z_vol)` pair for one asset: `closes` holds the last `n + p` closes and
/// `volumes` the last `n` base volumes, both ending at `t`. `buf` needs `n` slots.
/// `None` when a value is missing or non-positive, or a window has zero spread.
pub fn zscores(closes: &[f64], volumes: &[f64], p: usize, buf: &mut [f64]) -> Option<(f64, f64)> {
    let n = volumes.len();
    debug_assert_eq!(closes.len(), n + p);
    debug_assert!(buf.len() >= n);
    for (i, slot) in buf[..n].iter_mut().enumerate() {
        let (c0, c1) = (closes[i], closes[i + p]);
        if !(c0 > 0.0 && c1 > 0.0) {
            return None;
        }
        *slot = c1 / c0 - 1.0;
    }
    let z_ret = last_zscore(&buf[..n])?;
    for (i, slot) in buf[..n].iter_mut().enumerate() {
        // Finite (the caller's window checked); a negative volume is bad data.
        let v = volumes[i];
        if v < 0.0 {
            return None;
        }
        *slot = closes[i + p] * v;
    }
    let z_vol = last_zscore(&buf[..n])?;
    Some((z_ret, z_vol))
}

impl Strategy for MeanReversion {
    fn name(&self) -> &'static str {
        "mean_reversion"
    }

    fn lookback(&self) -> usize {
        (self.lookback_window + self.period_days).max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let (n, p) = (self.lookback_window, self.period_days);
        let mut buf = vec![0.0; n];
        let cands = self.xs.eligible(input, t, |a| {
            let closes = window(panel.series(Field::Close, a), t, n + p)?;
            let volumes = window(panel.series(Field::Volume, a), t, n)?;
            let (z_ret, z_vol) = zscores(closes, volumes, p, &mut buf)?;
            let side = if z_vol > self.volume_threshold && z_ret < -self.zscore_threshold {
                1.0
            } else if !self.long_only
                && z_vol > self.volume_threshold
                && z_ret > self.zscore_threshold
            {
                -1.0
            } else {
                0.0
            };
            Some(side)
        });
        self.xs
            .write_signed(&cands, "no extreme move on high volume", out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::breakout::tests::{assert_window_parity, random_panel};
    use crate::strategies::testutil::{build, run_at};
    use proptest::prelude::{proptest, ProptestConfig};

    #[test]
    fn zscores_by_hand() {
        // p = 1, n = 4. Closes 100, 100, 100, 100, 90: returns 0, 0, 0, -0.1;
        // mean -0.025, deviations .025 .025 .025 -.075, ss = 0.0075, std = sqrt(0.0025) = 0.05,
        // z = -0.075 / 0.05 = -1.5. Volumes 1, 1, 1, 3 (USD: 100, 100, 100, 270):
        // mean 142.5, dev -42.5 x3, 127.5: ss = 5418.75 + 16256.25 = 21675, std = 85,
        // z = 127.5 / 85 = 1.5.
        let mut buf = [0.0; 4];
        let (zr, zv) = zscores(
            &[100.0, 100.0, 100.0, 100.0, 90.0],
            &[1.0, 1.0, 1.0, 3.0],
            1,
            &mut buf,
        )
        .unwrap();
        assert!((zr + 1.5).abs() < 1e-12, "{zr}");
        assert!((zv - 1.5).abs() < 1e-12, "{zv}");
        // Zero spread in the returns: ineligible.
        assert!(zscores(&[1.0; 5], &[1.0, 2.0, 3.0, 4.0], 1, &mut buf).is_none());
    }

    #[test]
    fn overlapping_two_day_returns() {
        // p = 2, n = 3: returns c2/c0, c3/c1, c4/c2 - 1 = 0.1, 0.1, -0.5 -> z < 0.
        let mut buf = [0.0; 3];
        let c = [1.0, 2.0, 1.1, 2.2, 0.55];
        let (zr, _) = zscores(&c, &[1.0, 1.0, 2.0], 2, &mut buf).unwrap();
        // mean -0.1, deviations .2 .2 -.4, ss .24, std sqrt(.12), z = -0.4 / 0.34641 = -1.1547.
        assert!((zr - (-0.4 / 0.12f64.sqrt())).abs() < 1e-12, "{zr}");
    }

    fn fill_tiny(p: &mut crate::panel::Panel) {
        // 5 rows; n = 4, p = 1 (window rows 0..=4 for closes, 1..=4 for volume).
        let closes: [[f64; 5]; 3] = [
            [100.0, 100.0, 100.0, 100.0, 90.0], // z_ret -1.5, volume spike -> long
            [100.0, 100.0, 100.0, 100.0, 110.0], // z_ret +1.5, volume spike -> short unless long_only
            [100.0, 100.0, 100.0, 100.0, 90.0],  // drop without volume: nothing
        ];
        let volumes: [[f64; 5]; 3] = [
            [1.0, 1.0, 1.0, 1.0, 3.0],
            [1.0, 1.0, 1.0, 1.0, 3.0],
            [1.0, 1.0, 1.0, 1.2, 1.0],
        ];
        for a in 0..3 {
            p.series_mut(Field::Close, a).copy_from_slice(&closes[a]);
            p.series_mut(Field::Volume, a).copy_from_slice(&volumes[a]);
        }
    }

    #[test]
    fn long_only_by_default_with_full_allocation() {
        let s = build(
            "mean_reversion",
            r#"{"lookback_window": 4, "period_days": 1, "zscore_threshold": 1.4,
                "volume_threshold": 1.0, "weighting_method": "equal_weight"}"#,
        );
        assert_eq!(s.lookback(), 5);
        let out = run_at(&*s, &["A", "B", "C"], 5, fill_tiny);
        // B's USD volume z: 100 100 100 330 -> mean 157.5, z = 172.5/115 = 1.5 > 1.
        assert_eq!(out, vec![1.0, 0.0, 0.0]);
    }

    #[test]
    fn long_short_mirrors_with_half_allocations() {
        let s = build(
            "mean_reversion",
            r#"{"lookback_window": 4, "period_days": 1, "zscore_threshold": 1.4,
                "long_only": false, "weighting_method": "equal_weight"}"#,
        );
        let out = run_at(&*s, &["A", "B", "C"], 5, fill_tiny);
        assert_eq!(out, vec![0.5, -0.5, 0.0]);
        // Threshold above |z| = 1.5: nothing qualifies -> inactive.
        let s = build(
            "mean_reversion",
            r#"{"lookback_window": 4, "period_days": 1, "zscore_threshold": 1.6,
                "long_only": false, "weighting_method": "equal_weight"}"#,
        );
        let out = run_at(&*s, &["A", "B", "C"], 5, fill_tiny);
        assert_eq!(out, vec![0.0, 0.0, 0.0]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn window_parity(seed in 0u64..10_000, t in 40usize..200) {
            let p = random_panel(seed, 200, 12);
            for json in [
                r#"{"zscore_threshold": 0.5, "volume_threshold": 0.0, "long_only": false}"#,
                r#"{"limit": 5, "zscore_threshold": 0.8, "volume_threshold": -0.5}"#,
            ] {
                let s = build("mean_reversion", json);
                assert_window_parity(&*s, &p, t);
            }
        }
    }

    #[test]
    fn long_only_with_a_short_allocation_is_an_error_naming_its_path() {
        let parse = |json: &str| {
            let map: crate::strategies::params::ParamMap = serde_json::from_str(json).unwrap();
            crate::strategies::build("mean_reversion", &map)
        };
        let e = parse(r#"{"short_allocation": 0.5}"#).unwrap_err();
        assert_eq!(e.path(), "params.mean_reversion.short_allocation");
        assert!(e.to_string().contains("long_only"), "{e}");
        let e = parse(r#"{"long_only": true, "short_allocation": 0.25}"#).unwrap_err();
        assert_eq!(e.path(), "params.mean_reversion.short_allocation");
        // Zero says the same as long_only, and with long_only false the key is used.
        assert!(parse(r#"{"short_allocation": 0}"#).is_ok());
        assert!(parse(r#"{"long_only": false, "short_allocation": 0.25}"#).is_ok());
        let map: crate::strategies::params::ParamMap =
            serde_json::from_str(r#"{"short_allocation": 0.5}"#).unwrap();
        let e = crate::strategies::build("days_from_high", &map).unwrap_err();
        assert_eq!(e.path(), "params.days_from_high.short_allocation");
    }
}
