//! `beta`: betting against beta — long the lowest beta to the reference asset, short the highest.

use super::common::{window, CrossSection, Defaults, Orientation};
use super::params::Params;
use super::{Activity, InactiveReason, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// The beta factor. Signal: OLS slope of the asset's daily simple returns on the reference
/// asset's over the last `beta_window` returns (`cov / var`, both over the same days).
#[derive(Clone, Debug, PartialEq)]
pub struct Beta {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    /// Number of daily returns in the regression (default 90).
    pub beta_window: usize,
    /// Bare base of the reference asset (default `BTC`); it is never traded by this strategy.
    pub reference: String,
}

impl Beta {
    /// Reads the common keys, `rebalance_days`, `beta_window` (>= 2) and `reference_symbol`.
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<Beta, ConfigError> {
        Ok(Beta {
            xs: CrossSection::from_params(p, Defaults::LONG_SHORT)?,
            rebalance_days: p.rebalance_days()?,
            beta_window: p.window("beta_window", 90)?,
            reference: p.symbol("reference_symbol", "BTC")?,
        })
    }
}

impl Strategy for Beta {
    fn name(&self) -> &'static str {
        "beta"
    }

    fn lookback(&self) -> usize {
        (self.beta_window + 1).max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let n = self.beta_window;
        let Some(reference) = panel.asset_index(&self.reference) else {
            return Activity::Inactive(InactiveReason(format!(
                "reference asset {} is not in the data",
                self.reference
            )));
        };
        let Some(rc) = window(panel.series(Field::Close, reference), t, n + 1) else {
            return Activity::Inactive(InactiveReason(format!(
                "reference asset {} lacks {} days of closes",
                self.reference,
                n + 1
            )));
        };
        // Demeaned reference returns: beta = Σ r_i (x_i - x̄) / Σ (x_i - x̄)².
        let x: Vec<f64> = rc.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let mean = x.iter().sum::<f64>() / n as f64;
        let dx: Vec<f64> = x.iter().map(|v| v - mean).collect();
        let sxx: f64 = dx.iter().map(|d| d * d).sum();
        if !(sxx > 0.0 && sxx.is_finite()) {
            return Activity::Inactive(InactiveReason(format!(
                "reference asset {} has zero variance over {n} days",
                self.reference
            )));
        }
        self.xs.rank(
            input,
            t,
            Orientation::LongLow,
            |a| {
                if a == reference {
                    return None;
                }
                let c = window(panel.series(Field::Close, a), t, n + 1)?;
                let mut sxy = 0.0;
                for (w, d) in c.windows(2).zip(&dx) {
                    sxy += (w[1] / w[0] - 1.0) * d;
                }
                Some(sxy / sxx)
            },
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::testutil::{build, run_at};

    fn path(returns: &[f64]) -> Vec<f64> {
        let mut c = vec![100.0];
        for r in returns {
            let last = *c.last().unwrap();
            c.push(last * (1.0 + r));
        }
        c
    }

    #[test]
    fn longs_low_beta_shorts_high_beta_and_skips_the_reference() {
        // BTC returns x = [0.01, -0.02, 0.03]; asset returns = beta * x exactly.
        let x = [0.01, -0.02, 0.03];
        let betas = [("A", 2.0), ("B", 0.5), ("C", 1.5), ("D", -1.0)];
        let s = build(
            "beta",
            r#"{"beta_window": 3, "top_n": 2, "weighting_method": "equal_weight"}"#,
        );
        let mut symbols = vec!["BTC"];
        symbols.extend(betas.iter().map(|b| b.0));
        let out = run_at(&*s, &symbols, 4, |p| {
            p.series_mut(Field::Close, 0).copy_from_slice(&path(&x));
            for (i, (_, b)) in betas.iter().enumerate() {
                let r: Vec<f64> = x.iter().map(|v| v * b).collect();
                p.series_mut(Field::Close, i + 1).copy_from_slice(&path(&r));
            }
        });
        // 4 eligible (BTC excluded): longs D (-1), B (0.5); shorts A (2), C (1.5).
        assert_eq!(out, vec![0.0, -0.25, 0.25, -0.25, 0.25]);
    }

    #[test]
    fn missing_reference_is_inactive() {
        let s = build("beta", r#"{"beta_window": 3}"#);
        let p = crate::strategies::common::tests::panel_from_closes(
            &["ETH", "SOL"],
            &[vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 2.0, 3.0, 5.0]],
        );
        let excluded = vec![false; 2];
        let mut out = vec![0.0; 2];
        let act = s.compute(
            &Input {
                panel: &p,
                excluded: &excluded,
                tradable: None,
            },
            3,
            &mut out,
        );
        assert!(matches!(act, Activity::Inactive(r) if r.0.contains("BTC is not in the data")));
    }
}
