//! `volatility`: the low-volatility anomaly — long the calmest assets, short the wildest.

use super::common::{annualized_vol, CrossSection, Defaults, Orientation, Weighting};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;

/// The volatility factor. Signal: annualised volatility over `volatility_window` log returns
/// (the same window as the inverse-vol weighting).
#[derive(Clone, Debug, PartialEq)]
pub struct Volatility {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    pub volatility_window: usize,
}

impl Volatility {
    /// Reads the common keys (including `volatility_window`, default 30) and `rebalance_days`.
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<Volatility, ConfigError> {
        let xs = CrossSection::from_params(p, Defaults::LONG_SHORT)?;
        let volatility_window = p.window("volatility_window", super::common::DEFAULT_VOL_WINDOW)?;
        Ok(Volatility {
            xs,
            rebalance_days: p.rebalance_days()?,
            volatility_window,
        })
    }
}

impl Strategy for Volatility {
    fn name(&self) -> &'static str {
        "volatility"
    }

    fn lookback(&self) -> usize {
        (self.volatility_window + 1).max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let w = self.volatility_window;
        if self.xs.weighting == (Weighting::InverseVol { window: w }) {
            // The weighting volatility is the signal: compute it once per asset, not twice.
            let mut cands = self.xs.eligible(input, t, |_| Some(0.0));
            for c in &mut cands {
                c.signal = c.vol;
            }
            return self
                .xs
                .rank_candidates(input, &cands, Orientation::LongLow, out);
        }
        self.xs.rank(
            input,
            t,
            Orientation::LongLow,
            |a| annualized_vol(panel.log_returns(a), t, w),
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::Field;
    use crate::strategies::testutil::{build, run_at};

    #[test]
    fn longs_low_vol_shorts_high_vol_inverse_vol_weighted() {
        // Alternating ±k moves: the log-return magnitudes make vols proportional (to first
        // order) to k; with risk parity the weights are ∝ 1/vol within each side.
        let ks = [("A", 0.01), ("B", 0.04), ("C", 0.02), ("D", 0.08)];
        let s = build("volatility", r#"{"volatility_window": 4, "top_n": 2}"#);
        let mut vols = Vec::new();
        let out = run_at(&*s, &["A", "B", "C", "D"], 5, |p| {
            for (a, (_, k)) in ks.iter().enumerate() {
                let c: Vec<f64> = (0..5)
                    .map(|i| if i % 2 == 0 { 100.0 } else { 100.0 * (1.0 + k) })
                    .collect();
                p.series_mut(Field::Close, a).copy_from_slice(&c);
                vols.push(
                    annualized_vol(&crate::strategies::common::tests::log_returns(&c), 4, 4)
                        .unwrap(),
                );
            }
        });
        let long_a = 0.5 * (1.0 / vols[0]) / (1.0 / vols[0] + 1.0 / vols[2]);
        let short_d = -0.5 * (1.0 / vols[3]) / (1.0 / vols[1] + 1.0 / vols[3]);
        assert!((out[0] - long_a).abs() < 1e-15);
        assert!((out[3] - short_d).abs() < 1e-15);
        assert!(out[0] > out[2] && out[2] > 0.0 && out[1] < out[3] && out[3] < 0.0);
        assert!((out[0] + out[2] - 0.5).abs() < 1e-15 && (out[1] + out[3] + 0.5).abs() < 1e-15);
    }
}
