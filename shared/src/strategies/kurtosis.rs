//! `kurtosis`: rank assets by the fat-tailedness of their recent log returns.

use super::common::{window, CrossSection, Defaults, Orientation};
use super::params::Params;
use super::regime::RegimeFilter;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;

/// The kurtosis factor. Signal: excess kurtosis (Fisher, biased moments — scipy's default) of
/// the last `kurtosis_window` daily log returns. `mean_reversion` longs low kurtosis and shorts
/// high; `momentum` the reverse. An optional regime filter gates it on the reference asset.
#[derive(Clone, Debug, PartialEq)]
pub struct Kurtosis {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    pub kurtosis_window: usize,
    pub orientation: Orientation,
    pub regime: Option<RegimeFilter>,
}

impl Kurtosis {
    /// Reads the common keys, `rebalance_days`, `kurtosis_window` (default 30), `strategy_type`
    /// (`mean_reversion` default, `momentum`), `regime_filter` and `reference_symbol`.
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<Kurtosis, ConfigError> {
        let xs = CrossSection::from_params(p, Defaults::LONG_SHORT)?;
        let kind = p.choice(
            "strategy_type",
            "mean_reversion",
            &["mean_reversion", "momentum"],
        )?;
        Ok(Kurtosis {
            xs,
            rebalance_days: p.rebalance_days()?,
            kurtosis_window: p.window("kurtosis_window", 30)?,
            orientation: if kind == "momentum" {
                Orientation::LongHigh
            } else {
                Orientation::LongLow
            },
            regime: RegimeFilter::from_params(p)?,
        })
    }
}

/// Fisher excess kurtosis with biased moments: `m4 / m2² - 3`. `None` if `m2` is zero.
pub fn excess_kurtosis(x: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let (mut m2, mut m4) = (0.0, 0.0);
    for v in x {
        let d = v - mean;
        let d2 = d * d;
        m2 += d2;
        m4 += d2 * d2;
    }
    m2 /= n;
    m4 /= n;
    (m2 > 0.0).then(|| m4 / (m2 * m2) - 3.0)
}

impl Strategy for Kurtosis {
    fn name(&self) -> &'static str {
        "kurtosis"
    }

    fn lookback(&self) -> usize {
        let own = (self.kurtosis_window + 1).max(self.xs.lookback());
        own.max(self.regime.as_ref().map_or(0, |r| r.lookback()))
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn regime(&self) -> Option<&RegimeFilter> {
        self.regime.as_ref()
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        if let Some(r) = &self.regime {
            if let Err(reason) = r.check(panel, t) {
                return Activity::Inactive(reason);
            }
        }
        let n = self.kurtosis_window;
        self.xs.rank(
            input,
            t,
            self.orientation,
            |a| {
                // All finite: the n + 1 closes exist and are positive.
                excess_kurtosis(window(panel.log_returns(a), t, n)?)
            },
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::Field;
    use crate::strategies::testutil::{build, run_at};
    use crate::strategies::InactiveReason;

    #[test]
    fn excess_kurtosis_matches_scipy() {
        // scipy.stats.kurtosis([1, 2, 3, 4, 10]) = 0.0 + ... hand: mean 4, d = -3 -2 -1 0 6,
        // m2 = 50/5 = 10, m4 = (81+16+1+0+1296)/5 = 278.8, 278.8/100 - 3 = -0.212
        let k = excess_kurtosis(&[1.0, 2.0, 3.0, 4.0, 10.0]).unwrap();
        assert!((k - (-0.212)).abs() < 1e-12, "{k}");
        assert!(excess_kurtosis(&[1.0, 1.0]).is_none());
    }

    fn closes_from_log_returns(r: &[f64]) -> Vec<f64> {
        let mut c = vec![1.0];
        for x in r {
            c.push(c.last().unwrap() * crate::math::exp(*x));
        }
        c
    }

    #[test]
    fn mean_reversion_longs_low_kurtosis_and_momentum_reverses() {
        // Four assets with 4 log returns each; kurtosis is scale-free so shapes decide.
        let shapes: [[f64; 4]; 4] = [
            [1.0, -1.0, 1.0, -1.0], // k = -2 (lowest)
            [0.0, 0.0, 0.0, 1.0],   // spike: k = -2/3 + ... highest
            [1.0, 2.0, 3.0, 4.0],   // k = -1.36
            [0.0, 0.0, 1.0, 1.0],   // k = -2
        ];
        let ks: Vec<f64> = shapes.iter().map(|s| excess_kurtosis(s).unwrap()).collect();
        assert!(ks[1] > ks[2] && ks[2] > ks[0] && (ks[0] - ks[3]).abs() < 1e-12);
        let fill = |p: &mut crate::panel::Panel| {
            for (a, s) in shapes.iter().enumerate() {
                let r: Vec<f64> = s.iter().map(|x| x * 0.01).collect();
                p.series_mut(Field::Close, a)
                    .copy_from_slice(&closes_from_log_returns(&r));
            }
        };
        let mr = build(
            "kurtosis",
            r#"{"kurtosis_window": 4, "top_n": 2, "weighting_method": "equal_weight"}"#,
        );
        // Low end: A and D tie at -2 -> both; high end: B, C.
        let out = run_at(&*mr, &["A", "B", "C", "D"], 5, fill);
        assert_eq!(out, vec![0.25, -0.25, -0.25, 0.25]);
        let mo = build(
            "kurtosis",
            r#"{"kurtosis_window": 4, "top_n": 2, "weighting_method": "equal_weight", "strategy_type": "momentum"}"#,
        );
        let out = run_at(&*mo, &["A", "B", "C", "D"], 5, fill);
        assert_eq!(out, vec![-0.25, 0.25, 0.25, -0.25]);
    }

    #[test]
    fn bear_only_without_reference_asset_is_inactive_with_reason() {
        let s = build(
            "kurtosis",
            r#"{"kurtosis_window": 4, "regime_filter": "bear_only", "reference_symbol": "BTC/USD"}"#,
        );
        assert_eq!(s.lookback(), 200);
        let p = crate::strategies::common::tests::panel_from_closes(&["ETH"], &[vec![1.0; 300]]);
        let mut out = vec![0.0];
        let act = s.compute(
            &Input {
                panel: &p,
                excluded: &[false],
                tradable: None,
            },
            299,
            &mut out,
        );
        assert_eq!(
            act,
            Activity::Inactive(InactiveReason(
                "regime filter: reference asset BTC is not in the data".into()
            ))
        );
        assert_eq!(out, vec![0.0]);
    }
}
