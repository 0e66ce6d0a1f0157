//! `adf`: rank assets by how trending (unit-root-like) or stationary their log price is.
//!
//! Signal: the augmented Dickey-Fuller t statistic of the last `adf_window` (60) log closes,
//! computed exactly as statsmodels' `adfuller(x, regression, autolag="AIC")` (see
//! [`crate::stats::adf`]); `regression` is `c` (default), `ct` or `n`, and a fixed `adf_lags`
//! replaces the AIC search. A high statistic means "looks like a random walk / trend", a very
//! negative one "mean-reverting". `trend_following_premium` (default) longs the highest
//! statistics and shorts the lowest; `mean_reversion` the reverse. Selection and weighting are
//! the common cross-sectional ones (`top_n`/`bottom_n` or percentiles, risk parity by default).
//! An asset whose window is incomplete, constant or makes the regression degenerate is
//! ineligible.

use super::common::{window, CrossSection, Defaults, Orientation};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::stats::adf::{adf_lags_cap, default_max_lag, AdfLags, AdfRegression, AdfWorkspace};

/// The ADF strategy's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Adf {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    /// Log closes per test, default 60.
    pub adf_window: usize,
    pub regression: AdfRegression,
    pub lags: AdfLags,
    pub orientation: Orientation,
}

impl Adf {
    /// Reads `adf_window` (60), `regression` (`c`), `adf_lags` (absent = AIC search),
    /// `strategy_type` (`trend_following_premium` or `mean_reversion`), `rebalance_days` and
    /// the common selection/weighting keys.
    ///
    /// # Errors
    /// Invalid values with their JSON path; `adf_window` too short for the regression, or
    /// `adf_lags` above statsmodels' limit `adf_window/2 - ntrend - 1`.
    pub fn from_params(p: &mut Params<'_>) -> Result<Adf, ConfigError> {
        let xs = CrossSection::from_params(p, Defaults::LONG_SHORT)?;
        let kind = p.choice(
            "strategy_type",
            "trend_following_premium",
            &["trend_following_premium", "mean_reversion"],
        )?;
        let regression = match p.choice("regression", "c", &["c", "ct", "n", "nc"])? {
            "ct" => AdfRegression::ConstantTrend,
            "n" | "nc" => AdfRegression::NoConstant,
            _ => AdfRegression::Constant,
        };
        let adf_window = p.usize_min("adf_window", 60, 6)?;
        if default_max_lag(adf_window, regression) < 0 {
            return Err(ConfigError::Invalid {
                path: p.key_path("adf_window"),
                message: format!(
                    "{adf_window} values are too few for regression {:?}",
                    regression.name()
                ),
            });
        }
        let lags = match p.usize_opt("adf_lags", 0)? {
            None => AdfLags::Aic,
            Some(l) => {
                let cap = adf_lags_cap(adf_window, regression);
                // The fixed-lag regression also needs a residual degree of freedom.
                if l as i64 > cap || adf_window < 2 * l + regression.ntrend() + 3 {
                    return Err(ConfigError::Invalid {
                        path: p.key_path("adf_lags"),
                        message: format!(
                            "must be at most {cap} for adf_window {adf_window} and regression {:?}, got {l}",
                            regression.name()
                        ),
                    });
                }
                AdfLags::Fixed(l)
            }
        };
        Ok(Adf {
            xs,
            rebalance_days: p.rebalance_days()?,
            adf_window,
            regression,
            lags,
            orientation: if kind == "mean_reversion" {
                Orientation::LongLow
            } else {
                Orientation::LongHigh
            },
        })
    }
}

impl Strategy for Adf {
    fn name(&self) -> &'static str {
        "adf"
    }

    fn lookback(&self) -> usize {
        self.adf_window.max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let n = self.adf_window;
        let mut ws = AdfWorkspace::new();
        self.xs.rank(
            input,
            t,
            self.orientation,
            |a| {
                // All finite: the n closes exist and are positive.
                let logs = window(panel.log_closes(a), t, n)?;
                ws.adf(logs, self.regression, self.lags)
                    .ok()
                    .map(|r| r.statistic)
            },
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::Field;
    use crate::strategies::breakout::tests::{assert_window_parity, random_panel};
    use crate::strategies::params::ParamMap;
    use crate::strategies::testutil::{build, run_at};
    use proptest::prelude::{proptest, ProptestConfig};

    /// Deterministic log-price paths: 0 white noise (stationary: a very negative statistic),
    /// 1 and 3 random walks, 2 a trend with noise.
    fn paths(n: usize) -> [Vec<f64>; 4] {
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / 9007199254740992.0 - 0.5
        };
        let mut walk = vec![0.0];
        let mut walk2 = vec![0.3];
        for _ in 1..n {
            walk.push(walk.last().unwrap() + 0.05 * next());
            walk2.push(walk2.last().unwrap() + 0.05 * next());
        }
        let noise = (0..n).map(|_| 0.05 * next()).collect();
        let trend = (0..n).map(|i| 0.02 * i as f64 + 0.01 * next()).collect();
        [noise, walk, trend, walk2]
    }

    #[test]
    fn signal_is_the_statsmodels_statistic_and_orientation_picks_sides() {
        let logs = paths(60);
        let fill = |p: &mut crate::panel::Panel| {
            for (a, l) in logs.iter().enumerate() {
                let c: Vec<f64> = l.iter().map(|v| crate::math::exp(*v)).collect();
                p.series_mut(Field::Close, a).copy_from_slice(&c);
            }
        };
        let mut ws = AdfWorkspace::new();
        let stats: Vec<f64> = logs
            .iter()
            .map(|l| {
                // The strategy takes ln of exp(l): recompute from the same closes.
                let x: Vec<f64> = l
                    .iter()
                    .map(|v| crate::math::ln(crate::math::exp(*v)))
                    .collect();
                ws.adf(&x, AdfRegression::Constant, AdfLags::Aic)
                    .unwrap()
                    .statistic
            })
            .collect();
        let mut order: Vec<usize> = (0..4).collect();
        order.sort_by(|a, b| stats[*a].total_cmp(&stats[*b]));
        let s = build(
            "adf",
            r#"{"top_n": 1, "bottom_n": 1, "weighting_method": "equal_weight"}"#,
        );
        assert_eq!(s.lookback(), 60);
        let out = run_at(&*s, &["A", "B", "C", "D"], 60, fill);
        let mut want = vec![0.0; 4];
        want[order[3]] = 0.5; // highest statistic long
        want[order[0]] = -0.5; // lowest short
        assert_eq!(out, want, "stats {stats:?}");
        // White noise is the most stationary.
        assert_eq!(order[0], 0, "stats {stats:?}");
        let mr = build(
            "adf",
            r#"{"top_n": 1, "weighting_method": "equal_weight", "strategy_type": "mean_reversion"}"#,
        );
        let out = run_at(&*mr, &["A", "B", "C", "D"], 60, fill);
        assert_eq!(out, want.iter().map(|w| -w).collect::<Vec<_>>());
    }

    #[test]
    fn config_is_validated() {
        let parse = |json: &str| {
            let map: ParamMap = serde_json::from_str(json).unwrap();
            Adf::from_params(&mut Params::new("adf", &map))
        };
        let a = parse(r#"{"regression": "ct", "adf_lags": 2}"#).unwrap();
        assert_eq!(a.regression, AdfRegression::ConstantTrend);
        assert_eq!(a.lags, AdfLags::Fixed(2));
        assert_eq!(parse("{}").unwrap().lags, AdfLags::Aic);
        // 60 / 2 - 2 - 1 = 27.
        let e = parse(r#"{"regression": "ct", "adf_lags": 28}"#).unwrap_err();
        assert_eq!(e.path(), "params.adf.adf_lags");
        let e = parse(r#"{"regression": "ctt"}"#).unwrap_err();
        assert_eq!(e.path(), "params.adf.regression");
        assert!(e.to_string().contains("c, ct, n"), "{e}");
        assert!(parse(r#"{"adf_window": 5}"#).is_err());
    }

    #[test]
    fn predecessor_config_builds() {
        let s = build(
            "adf",
            r#"{"_status": "x", "adf_window": 60, "regression": "ct", "volatility_window": 30,
                "rebalance_days": 7, "long_percentile": 20, "short_percentile": 80,
                "strategy_type": "trend_following_premium", "weighting_method": "risk_parity",
                "long_allocation": 0.5, "short_allocation": 0.5}"#,
        );
        assert_eq!(s.rebalance_days(), 7);
        assert_eq!(s.lookback(), 60);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn window_parity(seed in 0u64..10_000, t in 60usize..200) {
            let p = random_panel(seed, 200, 12);
            for json in [
                r#"{"regression": "ct", "long_percentile": 20, "short_percentile": 80}"#,
                r#"{"top_n": 3, "adf_window": 40, "adf_lags": 2, "weighting_method": "equal_weight"}"#,
            ] {
                let s = build("adf", json);
                assert_window_parity(&*s, &p, t);
            }
        }
    }
}
