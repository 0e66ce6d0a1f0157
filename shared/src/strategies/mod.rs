//! The strategies: each turns panel history into target weights for one date.
//!
//! A strategy's [`Strategy::compute`] is the single implementation used by the backtest, the live
//! trader and the browser. It reads only panel rows `(t - lookback, t]`, so a live server that
//! holds `lookback` days of history computes exactly what the backtest computed for that date.

pub mod adf;
pub mod beta;
pub mod breakout;
pub mod carry;
pub mod common;
pub mod days_from_high;
pub mod dilution;
pub mod kurtosis;
pub mod leverage_inverted;
pub mod mean_reversion;
pub mod params;
pub mod regime;
pub mod size;
pub mod trendline_breakout;
pub mod turnover;
pub mod volatility;

use crate::error::ConfigError;
use crate::panel::Panel;
use crate::universe::AssetSpans;
use params::{ParamMap, Params};
use regime::RegimeFilter;

/// Why a strategy holds no position on a date. Shown to users verbatim, so it names the cause.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InactiveReason(pub String);

impl std::fmt::Display for InactiveReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a strategy produced targets at a date.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Activity {
    /// `out` holds the targets (longs sum to `long_allocation`, shorts to `-short_allocation`).
    Active,
    /// `out` is all zeros; the blend hands this strategy's capital to the others.
    Inactive(InactiveReason),
}

/// What every strategy sees besides the date: the panel and the assets it must never trade.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub panel: &'a Panel,
    /// `excluded[asset]` is true for stablecoins (and anything else configured out).
    pub excluded: &'a [bool],
    /// The configured venue's listings aligned to the panel's assets; `None`: every priced
    /// asset is tradable (`venue: any`, or a venue without listing data).
    pub tradable: Option<&'a AssetSpans>,
}

impl Input<'_> {
    /// Whether the venue lists `asset` on row `t` (always, without listings).
    #[inline]
    pub fn is_tradable(&self, asset: usize, t: usize) -> bool {
        self.tradable.is_none_or(|m| m.at(asset, self.panel.day(t)))
    }
}

/// One configured strategy.
pub trait Strategy: Send + Sync + std::fmt::Debug {
    /// The config key (`"size"`, `"adf"`, ...).
    fn name(&self) -> &'static str;

    /// How many rows ending at and including `t` [`Strategy::compute`] may read.
    fn lookback(&self) -> usize;

    /// Recompute on days where `days_since_1970 % rebalance_days == 0`; hold in between.
    fn rebalance_days(&self) -> u32;

    /// Fresh target weights at row `t`, reading only rows `(t - lookback, t]` of `input.panel`.
    /// `out` has one zeroed slot per asset.
    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity;

    /// The strategy's market-regime filter, if any. The target engine evaluates it every day
    /// (not only on rebalance days): the strategy goes inactive the day the regime turns off and
    /// computes fresh targets the day it turns back on.
    fn regime(&self) -> Option<&RegimeFilter> {
        None
    }
}

/// Every strategy name the registry knows, sorted.
pub const STRATEGY_NAMES: &[&str] = &[
    "adf",
    "beta",
    "breakout",
    "carry",
    "days_from_high",
    "dilution",
    "kurtosis",
    "leverage_inverted",
    "mean_reversion",
    "size",
    "trendline_breakout",
    "turnover",
    "volatility",
];

/// Builds the strategy `name` from its params (`params.<name>` of the config).
///
/// # Errors
/// An unknown name (listing the valid ones), an unknown key (listing the strategy's valid keys),
/// or an invalid value; every error carries its JSON path.
pub fn build(name: &str, params: &ParamMap) -> Result<Box<dyn Strategy>, ConfigError> {
    build_reporting(name, params).map(|(s, _)| s)
}

/// As [`build`], also returning the JSON paths of keys accepted but ignored (comments and
/// predecessor keys Lockstep does not use), so callers can show them.
///
/// # Errors
/// As [`build`].
pub fn build_reporting(
    name: &str,
    params: &ParamMap,
) -> Result<(Box<dyn Strategy>, Vec<String>), ConfigError> {
    let mut p = Params::new(name, params);
    let strategy = build_with(name, &mut p)?;
    let ignored = p.finish()?;
    Ok((strategy, ignored))
}

/// The param keys strategy `name` understands, sorted: what a config editor offers. Keys read
/// only under some setting (e.g. a regime filter's reference symbol) appear once `params` enables it.
///
/// # Errors
/// As [`build`].
pub fn param_keys(name: &str, params: &ParamMap) -> Result<Vec<String>, ConfigError> {
    let mut p = Params::new(name, params);
    build_with(name, &mut p)?;
    Ok(p.valid_keys())
}

/// The params strategy `name` runs with: every key it reads and the value that takes effect (the
/// config's, else the strategy's default; `null` for an optional key left unset). Two configs
/// that spell the same behaviour differently (a default written out or left implicit) give the
/// same map, so the consistency report's parameter audit compares behaviour, not spelling.
///
/// # Errors
/// As [`build`].
pub fn effective_params(
    name: &str,
    params: &ParamMap,
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, ConfigError> {
    let mut p = Params::new(name, params);
    build_with(name, &mut p)?;
    Ok(p.effective().clone())
}

fn build_with(name: &str, p: &mut Params<'_>) -> Result<Box<dyn Strategy>, ConfigError> {
    Ok(match name {
        "adf" => Box::new(adf::Adf::from_params(p)?),
        "beta" => Box::new(beta::Beta::from_params(p)?),
        "breakout" => Box::new(breakout::Breakout::from_params(p)?),
        "carry" => Box::new(carry::Carry::from_params(p)?),
        "days_from_high" => Box::new(days_from_high::DaysFromHigh::from_params(p)?),
        "dilution" => Box::new(dilution::Dilution::from_params(p)?),
        "kurtosis" => Box::new(kurtosis::Kurtosis::from_params(p)?),
        "leverage_inverted" => Box::new(leverage_inverted::LeverageInverted::from_params(p)?),
        "mean_reversion" => Box::new(mean_reversion::MeanReversion::from_params(p)?),
        "size" => Box::new(size::Size::from_params(p)?),
        "turnover" => Box::new(turnover::Turnover::from_params(p)?),
        "volatility" => Box::new(volatility::Volatility::from_params(p)?),
        "trendline_breakout" => Box::new(trendline_breakout::TrendlineBreakout::from_params(p)?),
        _ => {
            return Err(ConfigError::UnknownStrategy {
                path: format!("params.{name}"),
                name: name.to_string(),
                valid: STRATEGY_NAMES.iter().map(|s| s.to_string()).collect(),
            })
        }
    })
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Tiny hand-filled panels for strategy tests.
    use super::*;
    use crate::calendar::Day;

    /// Builds `name` from a JSON params object; panics on error (tests only).
    pub(crate) fn build(name: &str, json: &str) -> Box<dyn Strategy> {
        let map: ParamMap = serde_json::from_str(json).unwrap();
        super::build(name, &map).unwrap()
    }

    /// Runs `s` at the last row of an all-missing `n_days` panel that `fill` populates.
    pub(crate) fn run_at(
        s: &dyn Strategy,
        symbols: &[&str],
        n_days: usize,
        fill: impl FnOnce(&mut Panel),
    ) -> Vec<f64> {
        let mut p = Panel::new(
            Day(0),
            n_days,
            symbols.iter().map(|s| s.to_string()).collect(),
        )
        .unwrap();
        fill(&mut p);
        let excluded = vec![false; symbols.len()];
        let mut out = vec![0.0; symbols.len()];
        let act = s.compute(
            &Input {
                panel: &p,
                excluded: &excluded,
                tradable: None,
            },
            n_days - 1,
            &mut out,
        );
        if let Activity::Inactive(r) = act {
            assert!(out.iter().all(|w| *w == 0.0), "inactive with weights: {r}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::panel::Field;
    use crate::synth::{generate, SynthConfig};
    use proptest::prelude::*;

    /// Param sets exercised by the window-parity property, per strategy (defaults plus variants
    /// that switch weighting and selection paths).
    fn variants(name: &str) -> Vec<&'static str> {
        let mut v = vec!["{}", r#"{"weighting_method": "equal_weight"}"#];
        match name {
            "beta" | "volatility" | "turnover" | "size" | "leverage_inverted" | "carry" => {
                v.push(r#"{"long_percentile": 20, "short_percentile": 80, "limit": 8}"#);
                v.push(r#"{"num_quintiles": 5, "top_n": 3}"#);
            }
            "kurtosis" => {
                v.push(r#"{"regime_filter": "bear_only", "strategy_type": "momentum"}"#);
                v.push(r#"{"regime_filter": "bull_only", "num_quintiles": 4}"#);
            }
            "dilution" => v.push(r#"{"lookback_months": 3, "top_n": 3}"#),
            _ => {}
        }
        v
    }

    fn synth(seed: u64) -> Panel {
        generate(&SynthConfig {
            seed,
            n_assets: 24,
            n_days: 460,
            start: crate::calendar::Day(19_000),
        })
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        /// No look-ahead and no reads before the window: compute on the window
        /// `(t - lookback, t]` equals compute on the full panel bit for bit, and scrambling every
        /// row after `t` changes nothing. Also: each side sums to its allocation.
        #[test]
        fn every_strategy_reads_only_its_window(seed in 0u64..1_000, back in 0usize..60) {
            let panel = synth(seed);
            let t = panel.n_days() - 1 - back;
            let excluded: Vec<bool> = panel
                .symbols()
                .iter()
                .map(|s| crate::synth::STABLECOINS.contains(&s.as_str()))
                .collect();
            let mut scrambled = panel.clone();
            for f in Field::ALL {
                for a in 0..panel.n_assets() {
                    for r in t + 1..panel.n_days() {
                        let v = scrambled.get(f, a, r);
                        scrambled.set(f, a, r, if r % 3 == 0 { f64::NAN } else { v * 7.0 + 1.0 });
                    }
                }
            }
            for name in STRATEGY_NAMES {
                for json in variants(name) {
                    let s = testutil::build(name, json);
                    let lb = s.lookback();
                    prop_assert!(lb <= t + 1, "{name} lookback {lb} too long for the test panel");
                    let run = |p: &Panel, row: usize| {
                        let mut out = vec![0.0; p.n_assets()];
                        let act = s.compute(&Input { panel: p, excluded: &excluded, tradable: None }, row, &mut out);
                        (act, out)
                    };
                    let (act, full) = run(&panel, t);
                    let win = panel.window(t + 1 - lb, t).unwrap();
                    let (act_w, w) = run(&win, lb - 1);
                    prop_assert_eq!(&act, &act_w, "{} {}", name, json);
                    prop_assert!(full.iter().zip(&w).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{name} {json}: window differs");
                    let (act_s, sc) = run(&scrambled, t);
                    prop_assert_eq!(&act, &act_s);
                    prop_assert!(full.iter().zip(&sc).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{name} {json}: rows after t changed the result");
                    for (a, x) in full.iter().enumerate() {
                        prop_assert!(*x == 0.0 || !excluded[a], "{name} trades a stablecoin");
                    }
                    if act == Activity::Active {
                        let longs: f64 = full.iter().filter(|x| **x > 0.0).sum();
                        let shorts: f64 = full.iter().filter(|x| **x < 0.0).sum();
                        let ok_long = [0.0, 0.5, 1.0].iter().any(|v| (longs - v).abs() < 1e-9);
                        let ok_short = [0.0, -0.5].iter().any(|v| (shorts - v).abs() < 1e-9);
                        prop_assert!(ok_long && ok_short, "{name} {json}: sides {longs} {shorts}");
                    } else {
                        prop_assert!(full.iter().all(|x| *x == 0.0));
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_strategy_lists_valid_names() {
        let e = build("sizee", &ParamMap::new()).unwrap_err();
        assert!(
            matches!(&e, ConfigError::UnknownStrategy { valid, .. } if valid.len() == STRATEGY_NAMES.len())
        );
        assert!(e.to_string().contains("size, trendline_breakout"), "{e}");
    }

    #[test]
    fn effective_params_fill_in_defaults_for_every_key() {
        let empty = ParamMap::new();
        for name in STRATEGY_NAMES {
            let effective = effective_params(name, &empty).unwrap();
            let keys: Vec<String> = effective.keys().cloned().collect();
            assert_eq!(keys, param_keys(name, &empty).unwrap(), "{name}");
        }
        // Writing the default out changes nothing; changing it shows.
        let beta = effective_params("beta", &empty).unwrap();
        assert_eq!(beta["beta_window"], serde_json::json!(90));
        let explicit: ParamMap = serde_json::from_str(r#"{"beta_window": 90}"#).unwrap();
        assert_eq!(effective_params("beta", &explicit).unwrap(), beta);
        let other: ParamMap = serde_json::from_str(r#"{"beta_window": 60}"#).unwrap();
        assert_eq!(
            effective_params("beta", &other).unwrap()["beta_window"],
            serde_json::json!(60)
        );
    }

    #[test]
    fn unknown_param_names_its_path_and_valid_keys() {
        let map: ParamMap = serde_json::from_str(r#"{"beta_windw": 30}"#).unwrap();
        let e = build("beta", &map).unwrap_err();
        assert_eq!(e.path(), "params.beta.beta_windw");
        assert!(e.to_string().contains("beta_window"), "{e}");
    }
}
