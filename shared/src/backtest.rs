//! The backtest driver: the target engine's blended weights, the rebalance policy and the
//! simulator, over a date range, into one serialisable [`BacktestResult`].
//!
//! Weights decided at the close of day `t` (from rows `≤ t` only, by the same engine function the
//! live trader calls) are traded at that close and earn close `t` → close `t + 1`; the simulator
//! dates each return on the day it is realised. See [`crate::sim`] for the exact accounting and
//! [`crate::metrics`] for the definitions of the headline numbers.

use crate::calendar::Day;
use crate::config::{Config, PolicyKind, RebalanceSettings};
use crate::metrics::{self, Metrics};
use crate::panel::Panel;
use crate::portfolio::engine::{Fresh, HeldSource, TargetCache, TargetEngine};
use crate::portfolio::rebalance::RebalancePolicy;
use crate::portfolio::signals::SignalCache;
use crate::sim::{self, Costs, Decision, SimConfig, SimOutput, TargetSource, TradeReason};
use crate::universe::{Listings, UniverseInfo};
use crate::venue::LotRules;
use std::sync::Arc;

/// What to backtest besides the strategy config: the date range, and overrides of the
/// config's `rebalance` section (the CLI's `--policy`, a what-if on costs).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BacktestSettings {
    /// First day traded; `None` = the panel's first day. Rows before it are still read by the
    /// strategies as history.
    pub start: Option<Day>,
    /// Last day; `None` = the panel's last day.
    pub end: Option<Day>,
    /// Overrides the config's `rebalance.policy` / `rebalance.threshold`.
    pub policy: Option<RebalancePolicy>,
    /// Overrides the config's `rebalance.fee_bps` / `rebalance.slippage_bps`.
    pub costs: Option<Costs>,
    /// Overrides the config's `rebalance.stale_days`.
    pub stale_days: Option<u32>,
    /// Starting NAV (default 1).
    pub initial_nav: f64,
    /// The venue's lots when the config's venue rules are on (`rebalance.venue_rules`);
    /// `None`: Hyperliquid-like defaults ([`LotRules::default`]) at `rebalance.capital`. The
    /// server passes the live venue's own (the paper venue's minimum and size decimals, the
    /// plan's slippage band, the account's equity).
    pub lots: Option<LotRules>,
}

impl Default for BacktestSettings {
    fn default() -> Self {
        BacktestSettings {
            start: None,
            end: None,
            policy: None,
            costs: None,
            stale_days: None,
            initial_nav: 1.0,
            lots: None,
        }
    }
}

impl BacktestSettings {
    /// The simulator config: the config's `rebalance` section (or Lockstep's defaults when there
    /// is no config) with this struct's overrides applied. Without the config's `venue`, venue
    /// rules are on only when `rebalance.venue_rules` says so: [`Self::sim_config_for`] is the
    /// run's.
    pub fn sim_config(&self, rebalance: Option<&RebalanceSettings>) -> SimConfig {
        self.sim_config_with(rebalance, false)
    }

    /// The simulator config of a run of `config`: [`Self::sim_config`], with venue rules on by
    /// default when the config's `venue` is a real venue (`rebalance.venue_rules` decides when
    /// written).
    pub fn sim_config_for(&self, config: &Config) -> SimConfig {
        self.sim_config_with(Some(&config.rebalance), config.venue().is_real())
    }

    fn sim_config_with(
        &self,
        rebalance: Option<&RebalanceSettings>,
        real_venue: bool,
    ) -> SimConfig {
        let r = rebalance.cloned().unwrap_or_default();
        let from_config = match r.policy {
            PolicyKind::Time => RebalancePolicy::Time,
            PolicyKind::Threshold => RebalancePolicy::Threshold {
                threshold: r.threshold,
            },
        };
        SimConfig {
            costs: self.costs.unwrap_or(Costs {
                fee_bps: r.fee_bps,
                slippage_bps: r.slippage_bps,
            }),
            policy: self.policy.unwrap_or(from_config),
            stale_days: self.stale_days.unwrap_or(r.stale_days),
            initial_nav: self.initial_nav,
            record_detail: true,
            venue: r.venue_rules_on(real_venue).then(|| {
                self.lots.unwrap_or(LotRules {
                    capital: r.capital,
                    ..LotRules::default()
                })
            }),
        }
    }
}

/// A backtest that could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    #[error(
        "date range {start}..={end} is empty or outside the panel ({panel_start}..={panel_end})"
    )]
    Range {
        start: Day,
        end: Day,
        panel_start: Day,
        panel_end: Day,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("simulation failed: {0}")]
    Simulation(String),
}

/// NAV at one close (after that day's trades and fees).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EquityPoint {
    pub date: Day,
    pub nav: f64,
    /// The simple return realised on `date`.
    #[serde(rename = "return")]
    pub ret: f64,
}

/// A symbol's weight on a date (a target decided at that close, or a holding after trading).
/// Only non-zero weights are listed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WeightRow {
    pub date: Day,
    pub symbol: String,
    pub weight: f64,
}

/// One fill, with its symbol spelled out.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TradeRow {
    pub date: Day,
    pub symbol: String,
    /// Signed units (positive buys).
    pub units: f64,
    pub price: f64,
    pub notional: f64,
    pub fee: f64,
    pub reason: TradeReason,
}

/// One strategy's share of one day's return (see [`crate::sim`] for how P&L is attributed).
/// Days on which a strategy contributed exactly 0 are omitted.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContributionRow {
    pub date: Day,
    /// A strategy name, or `"unattributed"`.
    pub strategy: String,
    pub contribution: f64,
}

/// The book's exposure after a day's trades.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExposureRow {
    pub date: Day,
    pub gross: f64,
    pub net: f64,
    /// Traded notional / NAV before trading.
    pub turnover: f64,
}

/// Everything a backtest produced; the server writes it as JSON (dates `YYYY-MM-DD`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BacktestResult {
    pub kernel_version: String,
    /// First and last simulated day.
    pub start: Day,
    pub end: Day,
    /// The resolved simulator config (config `rebalance` section plus overrides).
    pub sim: SimConfig,
    pub metrics: Metrics,
    /// The strategies in the order of their contributions (config order).
    pub strategies: Vec<String>,
    pub equity: Vec<EquityPoint>,
    /// Blended target weights decided at each close: the numbers the live path prints.
    pub targets: Vec<WeightRow>,
    /// Weights held after each day's trades.
    pub holdings: Vec<WeightRow>,
    pub trades: Vec<TradeRow>,
    pub contributions: Vec<ContributionRow>,
    pub exposures: Vec<ExposureRow>,
    /// Which universe ran (the configured venue and its listings); absent in results written
    /// before venues existed and from runs that did not resolve one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub universe: Option<UniverseInfo>,
}

/// Panel rows of the settings' date range.
///
/// # Errors
/// [`BacktestError::Range`] when the range is empty or not inside the panel.
pub fn rows(panel: &Panel, settings: &BacktestSettings) -> Result<(usize, usize), BacktestError> {
    let start = settings.start.unwrap_or(panel.start());
    let end = settings.end.unwrap_or(panel.end());
    let err = || BacktestError::Range {
        start,
        end,
        panel_start: panel.start(),
        panel_end: panel.end(),
    };
    match (panel.row_of(start), panel.row_of(end)) {
        (Some(a), Some(b)) if a <= b => Ok((a, b)),
        _ => Err(err()),
    }
}

/// Records every target the source yields, so the result can list the targets decided at each
/// close without asking the engine twice.
struct Recording<'s, S> {
    inner: &'s mut S,
    first: usize,
    n_assets: usize,
    targets: Vec<f64>,
}

impl<S: TargetSource> TargetSource for Recording<'_, S> {
    type Error = S::Error;
    fn n_strategies(&self) -> usize {
        self.inner.n_strategies()
    }
    fn targets(&mut self, row: usize, w: &mut [f64], by: &mut [f64]) -> Result<Decision, S::Error> {
        // `w` holds the row's targets whatever the decision.
        let reb = self.inner.targets(row, w, by)?;
        let i = row - self.first;
        self.targets[i * self.n_assets..(i + 1) * self.n_assets].copy_from_slice(w);
        Ok(reb)
    }
}

/// Feeds the simulator from the [`TargetEngine`]: the blended weights of
/// [`TargetEngine::blend_into`] (the code behind [`TargetEngine::targets_at`], which the live
/// path calls; here with a cache that persists across days and no allocation per day), each strategy's part `leverage × effective_weight × target`, and the
/// rebalance-date flag.
///
/// A day is a rebalance date of the blend when any strategy computed fresh targets on it (its
/// anchor is today) or when the blended weights differ from the previous day's (a strategy went
/// inactive and its capital moved). Between rebalance dates the blended targets are unchanged;
/// when the engine reports that nothing it blends changed, the source answers
/// [`Decision::Same`] and the simulator skips its scan of every asset.
///
/// The held targets come from `H`: computed on demand ([`Fresh`], every backtest) or read from
/// a sweep's signal records ([`crate::portfolio::signals`]); everything else is this code.
pub struct EngineSource<'a, H = Fresh> {
    engine: &'a TargetEngine,
    panel: &'a Panel,
    cache: TargetCache,
    prev: Vec<f64>,
    held: H,
}

impl<'a> EngineSource<'a> {
    /// A source over `panel` with an empty cache.
    pub fn new(engine: &'a TargetEngine, panel: &'a Panel) -> EngineSource<'a> {
        EngineSource::with_held(engine, panel, Fresh)
    }
}

impl<'a, H: HeldSource> EngineSource<'a, H> {
    /// A source over `panel` whose held targets come from `held`.
    pub fn with_held(engine: &'a TargetEngine, panel: &'a Panel, held: H) -> EngineSource<'a, H> {
        EngineSource {
            engine,
            panel,
            cache: TargetCache::new(),
            prev: vec![f64::NAN; panel.n_assets()],
            held,
        }
    }

    /// The engine's strategy names, in breakdown order.
    pub fn strategy_names(&self) -> Vec<String> {
        self.engine
            .strategies
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }
}

impl<H: HeldSource> TargetSource for EngineSource<'_, H> {
    type Error = std::convert::Infallible;

    fn n_strategies(&self) -> usize {
        self.engine.strategies.len()
    }

    fn targets(
        &mut self,
        row: usize,
        w: &mut [f64],
        by: &mut [f64],
    ) -> Result<Decision, Self::Error> {
        if !self
            .engine
            .blend_into_with(self.panel, row, &mut self.cache, w, &mut self.held)
        {
            // Every strategy holds the computation it held yesterday with the same effective
            // weight: the same blend (already copied into `w`), no fresh computation.
            return Ok(Decision::Same);
        }
        let n = w.len();
        let today = Some(self.panel.day(row));
        let mut fresh = false;
        for k in 0..self.engine.strategies.len() {
            fresh |= self.cache.computed_on(k) == today;
            // `by` is empty when the simulator records no attribution (sweeps).
            if by.is_empty() {
                continue;
            }
            let st = self.cache.strategy(k);
            let scale = self.engine.leverage * st.effective_weight;
            if scale != 0.0 {
                for (b, t) in by[k * n..(k + 1) * n].iter_mut().zip(st.targets) {
                    *b = scale * t;
                }
            }
        }
        let changed = self.prev.iter().zip(w.iter()).any(|(p, x)| p != x);
        self.prev.copy_from_slice(w);
        Ok(Decision::New {
            rebalance: fresh || changed,
        })
    }
}

/// Runs the backtest of `config` on `panel`.
///
/// # Errors
/// [`BacktestError`] for a config whose strategies do not build, a bad range or an invalid
/// simulation setting.
pub fn run(
    panel: &Panel,
    config: &Config,
    settings: &BacktestSettings,
) -> Result<BacktestResult, BacktestError> {
    run_on_venue(panel, config, settings, None)
}

/// [`run`] on the configured venue's universe: `listings` (the venue's listing history, `None`
/// for every priced asset) restricts eligibility day by day, exactly as in the live path.
///
/// # Errors
/// As [`run`].
pub fn run_on_venue(
    panel: &Panel,
    config: &Config,
    settings: &BacktestSettings,
    listings: Option<Arc<Listings>>,
) -> Result<BacktestResult, BacktestError> {
    let mut engine = TargetEngine::from_config(config)?;
    engine.listings = listings;
    let mut source = EngineSource::new(&engine, panel);
    let names = source.strategy_names();
    let sim_cfg = settings.sim_config_for(config);
    run_with_source(panel, &mut source, &names, settings, &sim_cfg)
}

/// The metrics of `config` on `panel` without holdings, trades or attribution: one sweep point.
///
/// # Errors
/// As [`run`].
pub fn metrics_for_config(
    panel: &Panel,
    config: &Config,
    settings: &BacktestSettings,
) -> Result<Metrics, BacktestError> {
    metrics_on_venue(panel, config, settings, None)
}

/// [`metrics_for_config`] on the venue's universe (`listings` as in [`run_on_venue`]): one
/// sweep point of a venue config, equal to [`run_on_venue`]'s metrics bit for bit.
///
/// # Errors
/// As [`run`].
pub fn metrics_on_venue(
    panel: &Panel,
    config: &Config,
    settings: &BacktestSettings,
    listings: Option<Arc<Listings>>,
) -> Result<Metrics, BacktestError> {
    let mut engine = TargetEngine::from_config(config)?;
    engine.listings = listings;
    let mut source = EngineSource::new(&engine, panel);
    let sim_cfg = settings.sim_config_for(config);
    metrics_with_source(panel, &mut source, settings, &sim_cfg)
}

/// [`metrics_for_config`] with each strategy's held targets read from `signals` (computed there
/// once per strategy parameter set): a sweep point that differs from others only in blend or
/// execution parameters re-runs just the blend, the policy and the simulator. Equal to
/// [`metrics_for_config`] bit for bit.
///
/// # Errors
/// As [`run`].
pub fn metrics_with_signals(
    panel: &Panel,
    config: &Config,
    settings: &BacktestSettings,
    signals: &mut SignalCache,
) -> Result<Metrics, BacktestError> {
    Ok(metrics::from_sim(&simulate_with_signals(
        panel, config, settings, signals,
    )?))
}

/// The simulation behind [`metrics_with_signals`] (daily series, no holdings, trades or
/// attribution), for callers that need more than the headline metrics of the whole range.
///
/// # Errors
/// As [`run`].
pub fn simulate_with_signals(
    panel: &Panel,
    config: &Config,
    settings: &BacktestSettings,
    signals: &mut SignalCache,
) -> Result<SimOutput, BacktestError> {
    simulate_on_venue(panel, config, settings, signals, None)
}

/// [`simulate_with_signals`] on the venue's universe (`listings` as in [`run_on_venue`]; the
/// cache keys its records by the aligned listings too).
///
/// # Errors
/// As [`run`].
pub fn simulate_on_venue(
    panel: &Panel,
    config: &Config,
    settings: &BacktestSettings,
    signals: &mut SignalCache,
    listings: Option<Arc<Listings>>,
) -> Result<SimOutput, BacktestError> {
    let (first, last) = rows(panel, settings)?;
    let mut engine = TargetEngine::from_config(config)?;
    engine.listings = listings;
    let held = signals.source(panel, config, &engine, first..last + 1)?;
    let mut source = EngineSource::with_held(&engine, panel, held);
    let mut sim_cfg = settings.sim_config_for(config);
    sim_cfg.record_detail = false;
    sim::simulate(panel, first, last, &sim_cfg, &mut source)
        .map_err(|e| BacktestError::Simulation(e.to_string()))
}

/// Runs a backtest over `settings`' range with targets from any [`TargetSource`] and an explicit
/// simulator config; `strategies` names the source's per-strategy breakdown.
///
/// # Errors
/// [`BacktestError`] for a bad range, an invalid simulation config or a failing source.
pub fn run_with_source<S: TargetSource>(
    panel: &Panel,
    source: &mut S,
    strategies: &[String],
    settings: &BacktestSettings,
    sim_cfg: &SimConfig,
) -> Result<BacktestResult, BacktestError> {
    let (first, last) = rows(panel, settings)?;
    let n_assets = panel.n_assets();
    let mut sim_cfg = *sim_cfg;
    sim_cfg.record_detail = true;
    let mut rec = Recording {
        inner: source,
        first,
        n_assets,
        targets: vec![0.0; (last - first + 1) * n_assets],
    };
    let out = sim::simulate(panel, first, last, &sim_cfg, &mut rec)
        .map_err(|e| BacktestError::Simulation(e.to_string()))?;
    let targets = std::mem::take(&mut rec.targets);
    Ok(assemble(panel, &out, &targets, strategies, &sim_cfg))
}

/// The metrics only, without holdings, trades or attribution.
///
/// # Errors
/// As [`run_with_source`].
pub fn metrics_with_source<S: TargetSource>(
    panel: &Panel,
    source: &mut S,
    settings: &BacktestSettings,
    sim_cfg: &SimConfig,
) -> Result<Metrics, BacktestError> {
    let (first, last) = rows(panel, settings)?;
    let mut sim_cfg = *sim_cfg;
    sim_cfg.record_detail = false;
    let out = sim::simulate(panel, first, last, &sim_cfg, source)
        .map_err(|e| BacktestError::Simulation(e.to_string()))?;
    Ok(metrics::from_sim(&out))
}

fn weight_rows(panel: &Panel, out: &SimOutput, weights: &[f64]) -> Vec<WeightRow> {
    let n = out.n_assets;
    let mut rows = Vec::new();
    for i in 0..out.n_days() {
        for (a, &w) in weights[i * n..(i + 1) * n].iter().enumerate() {
            if w != 0.0 {
                rows.push(WeightRow {
                    date: out.day(i),
                    symbol: panel.symbols()[a].clone(),
                    weight: w,
                });
            }
        }
    }
    rows
}

fn assemble(
    panel: &Panel,
    out: &SimOutput,
    targets: &[f64],
    strategies: &[String],
    sim_cfg: &SimConfig,
) -> BacktestResult {
    let days = 0..out.n_days();
    let equity = days
        .clone()
        .map(|i| EquityPoint {
            date: out.day(i),
            nav: out.nav[i],
            ret: out.returns[i],
        })
        .collect();
    let exposures = days
        .clone()
        .map(|i| ExposureRow {
            date: out.day(i),
            gross: out.gross[i],
            net: out.net[i],
            turnover: out.turnover[i],
        })
        .collect();
    let trades = out
        .trades
        .iter()
        .map(|t| TradeRow {
            date: t.day,
            symbol: panel.symbols()[t.asset].clone(),
            units: t.units,
            price: t.price,
            notional: t.notional,
            fee: t.fee,
            reason: t.reason,
        })
        .collect();
    let ns = out.n_strategies;
    let mut contributions = Vec::new();
    for i in days {
        for (s, &c) in out.contributions[i * ns..(i + 1) * ns].iter().enumerate() {
            if c != 0.0 {
                contributions.push(ContributionRow {
                    date: out.day(i),
                    strategy: strategies
                        .get(s)
                        .cloned()
                        .unwrap_or_else(|| format!("strategy_{s}")),
                    contribution: c,
                });
            }
        }
        if out.unattributed[i] != 0.0 {
            contributions.push(ContributionRow {
                date: out.day(i),
                strategy: "unattributed".to_string(),
                contribution: out.unattributed[i],
            });
        }
    }
    BacktestResult {
        kernel_version: crate::KERNEL_VERSION.to_string(),
        start: out.start,
        end: out.day(out.n_days() - 1),
        sim: *sim_cfg,
        metrics: metrics::from_sim(out),
        strategies: strategies.to_vec(),
        equity,
        targets: weight_rows(panel, out, targets),
        holdings: weight_rows(panel, out, &out.holdings),
        trades,
        contributions,
        exposures,
        universe: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::Field;
    use crate::sim::FnSource;

    fn tiny() -> Panel {
        let mut p = Panel::new(
            Day::parse("2024-01-01").unwrap(),
            4,
            vec!["BTC".into(), "ETH".into()],
        )
        .unwrap();
        p.series_mut(Field::Close, 0)
            .copy_from_slice(&[100.0, 110.0, 121.0, 121.0]);
        p.series_mut(Field::Close, 1)
            .copy_from_slice(&[10.0, 10.0, 10.0, 10.0]);
        p
    }

    #[test]
    fn weights_decided_at_t_earn_t_to_t_plus_one_and_json_has_dates() {
        let p = tiny();
        let settings = BacktestSettings {
            start: Some(Day::parse("2024-01-02").unwrap()),
            costs: Some(Costs {
                fee_bps: 0.0,
                slippage_bps: 0.0,
            }),
            ..BacktestSettings::default()
        };
        // Long BTC fully from 2024-01-02's close: the +10 % of 01-02 (decided before) is not
        // earned, the +10 % of 01-03 is.
        let mut src = FnSource(|_, w: &mut [f64]| {
            w[0] = 1.0;
            true
        });
        let r = run_with_source(&p, &mut src, &[], &settings, &settings.sim_config(None)).unwrap();
        assert_eq!(r.equity.len(), 3);
        assert_eq!(r.equity[0].nav, 1.0);
        assert!((r.equity[1].nav - 1.1).abs() < 1e-12);
        assert!((r.equity[2].nav - 1.1).abs() < 1e-12);
        assert_eq!(r.targets.len(), 3);
        assert_eq!(r.targets[0].symbol, "BTC");
        assert_eq!(r.trades.len(), 1);
        assert!((r.metrics.total_return - 0.1).abs() < 1e-12);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["equity"][0]["date"], "2024-01-02");
        assert_eq!(json["targets"][0]["date"], "2024-01-02");
        assert_eq!(json["trades"][0]["reason"], "rebalance");
        assert_eq!(json["sim"]["policy"]["policy"], "threshold");
        assert_eq!(json["start"], "2024-01-02");
        // Round trip: the app can read what the server writes.
        let back: BacktestResult = serde_json::from_value(json).unwrap();
        assert_eq!(back.equity, r.equity);
    }

    #[test]
    fn bad_range_is_an_error() {
        let p = tiny();
        let s = BacktestSettings {
            start: Some(Day::parse("2023-01-01").unwrap()),
            ..BacktestSettings::default()
        };
        let mut src = FnSource(|_, _: &mut [f64]| true);
        assert!(matches!(
            run_with_source(&p, &mut src, &[], &s, &SimConfig::default()),
            Err(BacktestError::Range { .. })
        ));
        let s = BacktestSettings {
            start: Some(p.day(3)),
            end: Some(p.day(2)),
            ..BacktestSettings::default()
        };
        assert!(rows(&p, &s).is_err());
    }

    #[test]
    fn lean_metrics_equal_full_metrics() {
        let p = crate::synth::generate(&crate::synth::SynthConfig {
            n_assets: 10,
            n_days: 90,
            ..Default::default()
        })
        .unwrap();
        let make = || {
            FnSource(|row: usize, w: &mut [f64]| {
                for (a, x) in w.iter_mut().enumerate() {
                    *x = if (a + row / 7).is_multiple_of(3) {
                        0.1
                    } else {
                        -0.05
                    };
                }
                row.is_multiple_of(7)
            })
        };
        let s = BacktestSettings::default();
        let c = SimConfig::default();
        let full = run_with_source(&p, &mut make(), &[], &s, &c).unwrap();
        let lean = metrics_with_source(&p, &mut make(), &s, &c).unwrap();
        assert_eq!(
            serde_json::to_string(&full.metrics).unwrap(),
            serde_json::to_string(&lean).unwrap()
        );
    }

    fn synth_panel() -> Panel {
        crate::synth::generate(&crate::synth::SynthConfig {
            n_assets: 40,
            n_days: 260,
            ..Default::default()
        })
        .unwrap()
    }

    fn config() -> Config {
        Config::from_json(
            r#"{"strategy_weights": {"volatility": 0.5, "size": 0.3, "carry": 0.2},
                "params": {"volatility": {"volatility_window": 20, "rebalance_days": 3,
                                          "top_n": 5},
                           "size": {"top_n": 4, "rebalance_days": 7},
                           "carry": {"top_n": 3}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn engine_backtest_targets_equal_the_live_path_bit_for_bit() {
        let p = synth_panel();
        let cfg = config();
        let s = BacktestSettings {
            start: Some(p.day(60)),
            ..BacktestSettings::default()
        };
        let r = run(&p, &cfg, &s).unwrap();
        assert_eq!(r.strategies, vec!["carry", "size", "volatility"]);
        assert!(!r.trades.is_empty());
        let engine = TargetEngine::from_config(&cfg).unwrap();
        for t in [60, 61, 100, 183, 259] {
            let live = engine.targets_at(&p.truncate_to(t).unwrap(), t, &mut TargetCache::new());
            let day = p.day(t);
            let from_backtest: Vec<(String, u64)> = r
                .targets
                .iter()
                .filter(|w| w.date == day)
                .map(|w| (w.symbol.clone(), w.weight.to_bits()))
                .collect();
            let from_live: Vec<(String, u64)> = live
                .weights
                .iter()
                .enumerate()
                .filter(|(_, w)| **w != 0.0)
                .map(|(a, w)| (p.symbols()[a].clone(), w.to_bits()))
                .collect();
            assert!(!from_live.is_empty());
            assert_eq!(from_backtest, from_live, "day {day}");
        }
    }

    #[test]
    fn engine_backtest_is_deterministic_and_attribution_adds_up() {
        let p = synth_panel();
        let s = BacktestSettings {
            start: Some(p.day(30)),
            policy: Some(RebalancePolicy::Time),
            ..BacktestSettings::default()
        };
        let a = run(&p, &config(), &s).unwrap();
        let b = run(&p, &config(), &s).unwrap();
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let lean = metrics_for_config(&p, &config(), &s).unwrap();
        assert_eq!(
            lean.total_return.to_bits(),
            a.metrics.total_return.to_bits()
        );
        for e in &a.equity {
            let sum: f64 = a
                .contributions
                .iter()
                .filter(|c| c.date == e.date)
                .map(|c| c.contribution)
                .sum();
            assert!(
                (sum - e.ret).abs() < 1e-12,
                "{}: {sum} vs {}",
                e.date,
                e.ret
            );
        }
        assert!(a.contributions.iter().any(|c| c.strategy == "size"));
        // A config override through the settings reaches the simulator.
        assert_eq!(a.sim.policy, RebalancePolicy::Time);
        let mut cfg = config();
        cfg.rebalance.fee_bps = 25.0;
        let r = run(&p, &cfg, &BacktestSettings::default()).unwrap();
        assert_eq!(r.sim.costs.fee_bps, 25.0);
    }

    /// Venue rules default to on for a real venue, off for `any`; the key decides when written.
    #[test]
    fn venue_rules_follow_the_venue_unless_written() {
        use crate::config::VenueScope;
        let s = BacktestSettings::default();
        let mut cfg = config();
        assert_eq!(s.sim_config_for(&cfg).venue, None);
        cfg.venue_setting = Some(VenueScope::Hyperliquid);
        let lots = s.sim_config_for(&cfg).venue.expect("on for a real venue");
        assert_eq!(lots, LotRules::default());
        cfg.rebalance.capital = 5_000.0;
        assert_eq!(s.sim_config_for(&cfg).venue.unwrap().capital, 5_000.0);
        cfg.rebalance.venue_rules = Some(false);
        assert_eq!(s.sim_config_for(&cfg).venue, None);
        cfg.venue_setting = Some(VenueScope::Any);
        cfg.rebalance.venue_rules = Some(true);
        assert!(s.sim_config_for(&cfg).venue.is_some());
        // The run trades under them: fewer, rounded trades than the exact weights.
        let p = synth_panel();
        let exact = run(&p, &config(), &s).unwrap();
        let rounded = run(&p, &cfg, &s).unwrap();
        assert!(rounded.sim.venue.is_some());
        assert_ne!(exact.trades.len(), rounded.trades.len());
    }

    /// One cache serves points that differ in weights, caps, leverage, policy, costs and range;
    /// every point equals the uncached backtest bit for bit.
    #[test]
    fn metrics_with_signals_equal_metrics_for_config() {
        let p = synth_panel();
        let mut cache = SignalCache::default();
        let mut cfg = config();
        let s = BacktestSettings {
            start: Some(p.day(40)),
            ..BacktestSettings::default()
        };
        let json = |m: &Metrics| serde_json::to_string(m).unwrap();
        let check = |cfg: &Config, s: &BacktestSettings, cache: &mut SignalCache| {
            let want = metrics_for_config(&p, cfg, s).unwrap();
            let got = metrics_with_signals(&p, cfg, s, cache).unwrap();
            assert_eq!(json(&want), json(&got));
            assert_eq!(want.sharpe.to_bits(), got.sharpe.to_bits());
        };
        check(&cfg, &s, &mut cache);
        cfg.set_weight("size", 0.9).unwrap();
        cfg.leverage = 1.7;
        cfg.strategy_caps.insert("volatility".into(), 0.2);
        cfg.fixed_strategies = vec!["carry".into()];
        check(&cfg, &s, &mut cache);
        let s2 = BacktestSettings {
            start: Some(p.day(100)),
            end: Some(p.day(200)),
            policy: Some(RebalancePolicy::Time),
            costs: Some(Costs {
                fee_bps: 3.0,
                slippage_bps: 7.0,
            }),
            ..BacktestSettings::default()
        };
        check(&cfg, &s2, &mut cache);
        assert_eq!(cache.stats().computed, 3);
        // A range the records do not cover is recomputed over the union, still equal.
        check(&cfg, &BacktestSettings::default(), &mut cache);
        assert_eq!(cache.stats().computed, 6);
    }
}
