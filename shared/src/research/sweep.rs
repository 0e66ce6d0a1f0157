//! Parameter sweeps and searches: many configs over one base, one metrics row per point.
//!
//! A [`Sweep`] is a base [`Config`], its points and the backtest settings. The points are a
//! grid ([`Sweep::new`]: one [`Axis`] of values per swept key, row-major: with two axes
//! `i = i0 × len1 + i1`) or a seeded random search ([`Sweep::random`], see
//! [`crate::research::search`]). Point `i` writes its values into a copy of the base config (and
//! the settings' policy and cost overrides) and is backtested.
//!
//! Sweeps are embarrassingly parallel, but `shared` has no threads and no clock: callers split
//! the points into ranges ([`Sweep::chunks`]) and call [`Sweep::run_chunk_cached`] from native
//! worker threads or browser Web Workers, each with its own [`SignalCache`] (signals once per
//! strategy parameter set, blends many: see [`crate::portfolio::signals`]). Each call reports
//! progress after every point and polls a cancellation closure between points; nothing inside
//! measures time. Results do not depend on how the points were chunked or on what the cache
//! held: each point is a pure function of its index.
//!
//! # Out of sample
//! With an [`Evaluation`] split, a row's metrics are those of the in-sample days (equal bit for
//! bit to a backtest ending the day before the split: the simulator is causal, so the first
//! days of a longer run are the shorter run) and its [`TrialStats`] feed the deflated Sharpe
//! ratio, CSCV and walk-forward ([`crate::research::summary`]). The chosen point's
//! out-of-sample backtest ([`Sweep::out_of_sample`]) and the walk-forward's stitched curve
//! ([`Sweep::walk_forward_curve`]) run afterwards, on the few points chosen.

use std::ops::Range;
use std::sync::Arc;

use crate::backtest::{self, BacktestError, BacktestSettings, EquityPoint};
use crate::calendar::Day;
use crate::config::{Config, ConfigError, PolicyKind};
use crate::metrics::{self, Metrics};
use crate::panel::Panel;
use crate::portfolio::rebalance::RebalancePolicy;
use crate::portfolio::signals::SignalCache;
use crate::research::evaluation::{Evaluation, EvaluationError, Layout};
use crate::research::search::{RandomSearch, SearchError};
use crate::research::trials::TrialStats;
use crate::research::walk_forward::Step;
use crate::universe::Listings;

/// Largest grid or search accepted, to keep a typo from queueing a day of work.
pub const MAX_POINTS: usize = 100_000;
/// Most axes of a grid (13 strategy weights, leverage and the threshold fit).
pub const MAX_AXES: usize = 16;

/// Which config value an axis moves.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AxisTarget {
    /// `params.<strategy>.<param>`; integral values are written as JSON integers so window
    /// lengths parse.
    Param { strategy: String, param: String },
    /// `strategy_weights.<strategy>`: a blend axis.
    Weight { strategy: String },
    /// The blend's leverage.
    Leverage,
    /// `rebalance.threshold` (and the threshold policy).
    Threshold,
    /// `rebalance.fee_bps`.
    FeeBps,
    /// `rebalance.slippage_bps`.
    SlippageBps,
    /// `strategy_caps.<strategy>`.
    Cap { strategy: String },
}

fn non_negative(path: &str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            path: path.to_string(),
            message: format!("must be a finite number >= 0, got {value}"),
        })
    }
}

impl AxisTarget {
    /// The JSON path the axis writes to, as errors, tables and the CLI's `--axis` spell it.
    pub fn path(&self) -> String {
        match self {
            AxisTarget::Param { strategy, param } => format!("params.{strategy}.{param}"),
            AxisTarget::Weight { strategy } => format!("strategy_weights.{strategy}"),
            AxisTarget::Leverage => "leverage".to_string(),
            AxisTarget::Threshold => "rebalance.threshold".to_string(),
            AxisTarget::FeeBps => "rebalance.fee_bps".to_string(),
            AxisTarget::SlippageBps => "rebalance.slippage_bps".to_string(),
            AxisTarget::Cap { strategy } => format!("strategy_caps.{strategy}"),
        }
    }

    /// The target a path names ([`AxisTarget::path`] in reverse).
    ///
    /// # Errors
    /// [`ConfigError`] for a path that names no sweepable value (listing the forms), or an
    /// unknown strategy.
    pub fn parse(path: &str) -> Result<AxisTarget, ConfigError> {
        let known = |s: &str| -> Result<String, ConfigError> {
            if crate::strategies::STRATEGY_NAMES.contains(&s) {
                Ok(s.to_string())
            } else {
                Err(ConfigError::UnknownStrategy {
                    path: path.to_string(),
                    name: s.to_string(),
                    valid: crate::strategies::STRATEGY_NAMES
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                })
            }
        };
        let parts: Vec<&str> = path.split('.').collect();
        match parts.as_slice() {
            ["leverage"] => Ok(AxisTarget::Leverage),
            ["rebalance", "threshold"] => Ok(AxisTarget::Threshold),
            ["rebalance", "fee_bps"] => Ok(AxisTarget::FeeBps),
            ["rebalance", "slippage_bps"] => Ok(AxisTarget::SlippageBps),
            ["strategy_weights", s] => Ok(AxisTarget::Weight {
                strategy: known(s)?,
            }),
            ["strategy_caps", s] => Ok(AxisTarget::Cap {
                strategy: known(s)?,
            }),
            ["params", s, p] => Ok(AxisTarget::Param {
                strategy: known(s)?,
                param: p.to_string(),
            }),
            _ => Err(ConfigError::Invalid {
                path: path.to_string(),
                message: "not a sweepable value; use strategy_weights.NAME, params.NAME.KEY, \
                          strategy_caps.NAME, leverage, rebalance.threshold, \
                          rebalance.fee_bps or rebalance.slippage_bps"
                    .to_string(),
            }),
        }
    }

    /// Writes `value` into `config`.
    ///
    /// # Errors
    /// Whatever the config rejects (unknown strategy or param, value out of range).
    pub fn apply(&self, config: &mut Config, value: f64) -> Result<(), ConfigError> {
        match self {
            AxisTarget::Param { strategy, param } => config.set_param(strategy, param, value),
            AxisTarget::Weight { strategy } => config.set_weight(strategy, value),
            AxisTarget::Leverage => {
                if value.is_finite() && value > 0.0 {
                    config.leverage = value;
                    Ok(())
                } else {
                    Err(ConfigError::Invalid {
                        path: "leverage".to_string(),
                        message: format!("must be a finite number > 0, got {value}"),
                    })
                }
            }
            AxisTarget::Threshold => {
                config.rebalance.threshold = non_negative(&self.path(), value)?;
                config.rebalance.policy = PolicyKind::Threshold;
                Ok(())
            }
            AxisTarget::FeeBps => {
                config.rebalance.fee_bps = non_negative(&self.path(), value)?;
                Ok(())
            }
            AxisTarget::SlippageBps => {
                config.rebalance.slippage_bps = non_negative(&self.path(), value)?;
                Ok(())
            }
            AxisTarget::Cap { strategy } => {
                let path = self.path();
                if !crate::strategies::STRATEGY_NAMES.contains(&strategy.as_str()) {
                    return Err(ConfigError::Invalid {
                        path,
                        message: format!("unknown strategy {strategy:?}"),
                    });
                }
                let cap = non_negative(&path, value)?;
                config.strategy_caps.insert(strategy.clone(), cap);
                Ok(())
            }
        }
    }

    /// [`AxisTarget::apply`], and the same value into `settings`' override of the config's
    /// rebalance section when it has one (a settings override would otherwise hide the axis).
    ///
    /// # Errors
    /// As [`AxisTarget::apply`].
    pub fn apply_point(
        &self,
        config: &mut Config,
        settings: &mut BacktestSettings,
        value: f64,
    ) -> Result<(), ConfigError> {
        self.apply(config, value)?;
        match self {
            AxisTarget::Threshold if settings.policy.is_some() => {
                settings.policy = Some(RebalancePolicy::Threshold { threshold: value });
            }
            AxisTarget::FeeBps => {
                if let Some(c) = &mut settings.costs {
                    c.fee_bps = value;
                }
            }
            AxisTarget::SlippageBps => {
                if let Some(c) = &mut settings.costs {
                    c.slippage_bps = value;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One dimension of the grid.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axis {
    pub target: AxisTarget,
    pub values: Vec<f64>,
}

/// The values of an axis from `from` to `to` inclusive in `steps` evenly spaced points:
/// `from + (to − from) × i / (steps − 1)`. The browser's form (a count) and the CLI's
/// `from:to:step` (a step, turned into a count) both come here, so they give the same bits.
pub fn axis_values(from: f64, to: f64, steps: usize) -> Vec<f64> {
    // Never more than `MAX_POINTS + 1` values (a grid that large is refused by `Sweep::new` with
    // its size), so a typed or linked step count cannot make the page allocate without bound.
    match steps.min(MAX_POINTS + 1) {
        0 => Vec::new(),
        1 => vec![from],
        n => (0..n)
            .map(|i| from + (to - from) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

/// A sweep that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SweepError {
    #[error("a sweep needs 1 to {MAX_AXES} axes, got {0}")]
    AxisCount(usize),
    #[error("axis {path} has no values")]
    EmptyAxis { path: String },
    #[error("axis {path}: value {value} is not finite")]
    BadValue { path: String, value: f64 },
    #[error("the grid has {0} points; at most {MAX_POINTS} are allowed")]
    TooManyPoints(usize),
    #[error("axis {path} appears twice")]
    DuplicateAxis { path: String },
    #[error("axis {path}: {source}")]
    Axis { path: String, source: ConfigError },
    #[error("points {start}..{end} are outside the grid of {n_points}")]
    Range {
        start: usize,
        end: usize,
        n_points: usize,
    },
    #[error("search: {0}")]
    Search(#[from] SearchError),
    #[error(transparent)]
    Evaluation(#[from] EvaluationError),
    #[error(transparent)]
    Backtest(#[from] BacktestError),
}

/// The result of one point: its values and metrics, or why it failed (a point can be
/// invalid, e.g. a window below its minimum, without failing the sweep).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepRow {
    pub index: usize,
    /// One value per axis (or search dimension), in order.
    pub values: Vec<f64>,
    /// Metrics of the in-sample days (all days without a split).
    pub metrics: Option<Metrics>,
    pub error: Option<String>,
    /// What the selection statistics need (rows of [`Sweep::run_chunk_cached`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<TrialStats>,
}

/// What one [`Sweep::run_chunk`] call produced.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChunkResult {
    /// Rows for the points finished, in index order.
    pub rows: Vec<SweepRow>,
    /// True when the cancel closure stopped the chunk early.
    pub cancelled: bool,
}

/// How [`Sweep::run_points`] evaluates one point: metrics and, when kept, statistics.
type PointEval<'a> =
    dyn FnMut(&Config, &BacktestSettings) -> Result<(Metrics, Option<TrialStats>), String> + 'a;

/// Where the points come from.
#[derive(Clone, Debug)]
enum Points {
    Grid(Vec<Axis>),
    Random(RandomSearch),
}

/// One segment of a walk-forward's out-of-sample curve.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WalkForwardSegment {
    pub start: Day,
    pub end: Day,
    /// The point traded (`None`: no point had a Sharpe ratio in training; the segment is cash).
    pub index: Option<usize>,
    /// Its values, one per axis.
    pub values: Vec<f64>,
    /// Its per-period Sharpe ratio over the training folds.
    pub train_sharpe: f64,
    /// Its metrics on this segment alone.
    pub metrics: Option<Metrics>,
}

/// The stitched out-of-sample result of a walk-forward.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WalkForwardCurve {
    pub segments: Vec<WalkForwardSegment>,
    /// NAV at each out-of-sample close, starting from 1.
    pub equity: Vec<EquityPoint>,
    /// Metrics of the stitched returns.
    pub metrics: Metrics,
}

/// A validated grid or search over a base config.
#[derive(Clone, Debug)]
pub struct Sweep {
    base: Config,
    points: Points,
    settings: BacktestSettings,
    evaluation: Evaluation,
    n_points: usize,
    /// The configured venue's listing history: every point trades that universe, as the
    /// Backtest of the same config does (`None`: every priced asset).
    listings: Option<Arc<Listings>>,
}

impl Sweep {
    /// A grid: checks the axes (count, values, duplicates, and that every axis target accepts
    /// its first value) and sizes it.
    ///
    /// # Errors
    /// [`SweepError`] naming the offending axis.
    pub fn new(
        base: Config,
        axes: Vec<Axis>,
        settings: BacktestSettings,
    ) -> Result<Sweep, SweepError> {
        if axes.is_empty() || axes.len() > MAX_AXES {
            return Err(SweepError::AxisCount(axes.len()));
        }
        let mut n_points = 1usize;
        for axis in &axes {
            let path = axis.target.path();
            if axis.values.is_empty() {
                return Err(SweepError::EmptyAxis { path });
            }
            if let Some(&value) = axis.values.iter().find(|v| !v.is_finite()) {
                return Err(SweepError::BadValue { path, value });
            }
            let mut probe = base.clone();
            axis.target
                .apply(&mut probe, axis.values[0])
                .map_err(|source| SweepError::Axis { path, source })?;
            n_points = n_points.saturating_mul(axis.values.len());
        }
        if n_points > MAX_POINTS {
            return Err(SweepError::TooManyPoints(n_points));
        }
        for (k, axis) in axes.iter().enumerate() {
            if axes[..k].iter().any(|a| a.target == axis.target) {
                return Err(SweepError::DuplicateAxis {
                    path: axis.target.path(),
                });
            }
        }
        Ok(Sweep {
            base,
            points: Points::Grid(axes),
            settings,
            evaluation: Evaluation::default(),
            n_points,
            listings: None,
        })
    }

    /// A seeded random search (see [`crate::research::search`]).
    ///
    /// # Errors
    /// [`SweepError::Search`] for bad bounds or an infeasible sum, [`SweepError::Axis`] for a
    /// dimension the config rejects, [`SweepError::TooManyPoints`].
    pub fn random(
        base: Config,
        search: RandomSearch,
        settings: BacktestSettings,
    ) -> Result<Sweep, SweepError> {
        search.validate()?;
        if search.n > MAX_POINTS {
            return Err(SweepError::TooManyPoints(search.n));
        }
        for d in &search.dims {
            let mut probe = base.clone();
            d.target
                .apply(&mut probe, d.lo)
                .map_err(|source| SweepError::Axis {
                    path: d.target.path(),
                    source,
                })?;
        }
        Ok(Sweep {
            base,
            n_points: search.n,
            points: Points::Random(search),
            settings,
            evaluation: Evaluation::default(),
            listings: None,
        })
    }

    /// The same points judged with `evaluation` (checked against the panel when run).
    #[must_use]
    pub fn with_evaluation(mut self, evaluation: Evaluation) -> Sweep {
        self.evaluation = evaluation;
        self
    }

    /// The same points on the venue's universe: `listings` as `backtest::run_on_venue` takes
    /// them (the venue's listing history resolved by `shared::universe`).
    #[must_use]
    pub fn with_listings(mut self, listings: Option<Arc<Listings>>) -> Sweep {
        self.listings = listings;
        self
    }

    /// The venue's listings the points trade in, if any.
    pub fn listings(&self) -> Option<&Arc<Listings>> {
        self.listings.as_ref()
    }

    pub fn evaluation(&self) -> &Evaluation {
        &self.evaluation
    }

    pub fn settings(&self) -> &BacktestSettings {
        &self.settings
    }

    pub fn base(&self) -> &Config {
        &self.base
    }

    /// Number of points.
    pub fn n_points(&self) -> usize {
        self.n_points
    }

    /// The grid's axes (empty for a search).
    pub fn axes(&self) -> &[Axis] {
        match &self.points {
            Points::Grid(axes) => axes,
            Points::Random(_) => &[],
        }
    }

    /// What each value of a row sets, in order.
    pub fn targets(&self) -> Vec<AxisTarget> {
        match &self.points {
            Points::Grid(axes) => axes.iter().map(|a| a.target.clone()).collect(),
            Points::Random(s) => s.dims.iter().map(|d| d.target.clone()).collect(),
        }
    }

    /// The values of point `index`: row-major on a grid, drawn for a search.
    pub fn values(&self, index: usize) -> Vec<f64> {
        match &self.points {
            Points::Grid(axes) => {
                let mut rest = index;
                let mut out = vec![0.0; axes.len()];
                for (k, axis) in axes.iter().enumerate().rev() {
                    let n = axis.values.len();
                    out[k] = axis.values[rest % n];
                    rest /= n;
                }
                out
            }
            Points::Random(s) => s.point(index),
        }
    }

    /// The base config with point `index`'s values written in.
    ///
    /// # Errors
    /// The config's error for an invalid value; its path names the key.
    pub fn config_at(&self, index: usize) -> Result<Config, ConfigError> {
        Ok(self.point_at(index)?.0)
    }

    /// Point `index`'s config and backtest settings (the settings' policy and cost overrides
    /// follow threshold and cost axes).
    ///
    /// # Errors
    /// As [`Sweep::config_at`].
    pub fn point_at(&self, index: usize) -> Result<(Config, BacktestSettings), ConfigError> {
        let mut c = self.base.clone();
        let mut s = self.settings;
        for (target, v) in self.targets().iter().zip(self.values(index)) {
            target.apply_point(&mut c, &mut s, v)?;
        }
        Ok((c, s))
    }

    /// Splits the points into at most `n` contiguous ranges of near-equal size (for workers).
    pub fn chunks(&self, n: usize) -> Vec<Range<usize>> {
        let n = n.clamp(1, self.n_points.max(1));
        (0..n)
            .map(|k| k * self.n_points / n..(k + 1) * self.n_points / n)
            .filter(|r| !r.is_empty())
            .collect()
    }

    /// The first simulated day and the evaluation's day offsets on `panel`.
    ///
    /// # Errors
    /// A date range outside the panel or evaluation settings that do not fit it.
    pub fn layout(&self, panel: &Panel) -> Result<(Day, Layout), SweepError> {
        let (first, last) = backtest::rows(panel, &self.settings)?;
        let start = panel.day(first);
        Ok((start, self.evaluation.layout(start, last - first + 1)?))
    }

    /// `settings` cut to the in-sample days.
    fn in_sample(settings: &BacktestSettings, start: Day, layout: &Layout) -> BacktestSettings {
        BacktestSettings {
            end: Some(Day(start.0 + layout.is_days as i32 - 1)),
            ..*settings
        }
    }

    /// Runs the points in `range` without a signal cache: each point is
    /// [`backtest::metrics_for_config`] over the in-sample days, rows without statistics. The
    /// reference the cached path is tested against; `progress(done, range.len())` after each
    /// point, `cancel()` polled before each.
    ///
    /// # Errors
    /// [`SweepError::Range`] if `range` is not inside the grid, or a layout error. Failing
    /// points are rows with an `error`, not errors.
    pub fn run_chunk(
        &self,
        panel: &Panel,
        range: Range<usize>,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &dyn Fn() -> bool,
    ) -> Result<ChunkResult, SweepError> {
        let (start, layout) = self.layout(panel)?;
        self.run_points(range, progress, cancel, &mut |c, s| {
            let m = backtest::metrics_on_venue(
                panel,
                c,
                &Self::in_sample(s, start, &layout),
                self.listings.clone(),
            )
            .map_err(|e| e.to_string())?;
            Ok((m, None))
        })
    }

    /// Runs the points in `range` with each strategy's signals from `cache` (computed there
    /// once per strategy parameter set), the rows' metrics equal to [`Sweep::run_chunk`]'s bit
    /// for bit, plus their [`TrialStats`]. Progress and cancellation as [`Sweep::run_chunk`].
    ///
    /// # Errors
    /// As [`Sweep::run_chunk`].
    pub fn run_chunk_cached(
        &self,
        panel: &Panel,
        range: Range<usize>,
        cache: &mut SignalCache,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &dyn Fn() -> bool,
    ) -> Result<ChunkResult, SweepError> {
        let (start, layout) = self.layout(panel)?;
        // The folds need every day; otherwise only the in-sample days are simulated.
        let full = !layout.folds.is_empty();
        self.run_points(range, progress, cancel, &mut |c, s| {
            let s = if full {
                *s
            } else {
                Self::in_sample(s, start, &layout)
            };
            let out = backtest::simulate_on_venue(panel, c, &s, cache, self.listings.clone())
                .map_err(|e| e.to_string())?;
            let k = layout.is_days;
            let m = metrics::compute(
                out.start,
                &out.returns[..k],
                &out.turnover[..k],
                &out.gross[..k],
                &out.net[..k],
            );
            Ok((m, Some(TrialStats::from_returns(&out.returns, &layout))))
        })
    }

    /// [`Sweep::run_chunk`] with the per-point evaluation supplied by the caller (tests).
    ///
    /// # Errors
    /// As [`Sweep::run_chunk`].
    pub fn run_chunk_with(
        &self,
        range: Range<usize>,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &dyn Fn() -> bool,
        eval: &mut dyn FnMut(&Config) -> Result<Metrics, BacktestError>,
    ) -> Result<ChunkResult, SweepError> {
        self.run_points(range, progress, cancel, &mut |c, _| {
            eval(c).map(|m| (m, None)).map_err(|e| e.to_string())
        })
    }

    fn run_points(
        &self,
        range: Range<usize>,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &dyn Fn() -> bool,
        eval: &mut PointEval<'_>,
    ) -> Result<ChunkResult, SweepError> {
        if range.start > range.end || range.end > self.n_points {
            return Err(SweepError::Range {
                start: range.start,
                end: range.end,
                n_points: self.n_points,
            });
        }
        let total = range.len();
        let mut rows = Vec::with_capacity(total);
        for index in range {
            if cancel() {
                return Ok(ChunkResult {
                    rows,
                    cancelled: true,
                });
            }
            let result = self
                .point_at(index)
                .map_err(|e| e.to_string())
                .and_then(|(c, s)| eval(&c, &s));
            let (metrics, stats, error) = match result {
                Ok((m, st)) => (Some(m), st, None),
                Err(e) => (None, None, Some(e)),
            };
            rows.push(SweepRow {
                index,
                values: self.values(index),
                metrics,
                error,
                stats,
            });
            progress(rows.len(), total);
        }
        Ok(ChunkResult {
            rows,
            cancelled: false,
        })
    }

    /// The out-of-sample backtest of point `index`: from the split to the end. `None` without
    /// a split.
    ///
    /// # Errors
    /// The point's config error or a backtest error.
    pub fn out_of_sample(
        &self,
        panel: &Panel,
        index: usize,
        cache: &mut SignalCache,
    ) -> Result<Option<Metrics>, SweepError> {
        let Some(split) = self.evaluation.split else {
            return Ok(None);
        };
        let (config, settings) = self.point_at(index).map_err(|source| SweepError::Axis {
            path: format!("point {index}"),
            source,
        })?;
        let s = BacktestSettings {
            start: Some(split),
            ..settings
        };
        Ok(Some(metrics::from_sim(&backtest::simulate_on_venue(
            panel,
            &config,
            &s,
            cache,
            self.listings.clone(),
        )?)))
    }

    /// The walk-forward's out-of-sample curve: each step's chosen point backtested on its fold
    /// alone (starting flat, so entry and switching costs are paid at every re-choice, with the
    /// NAV carried over), the segments stitched into one curve.
    ///
    /// # Errors
    /// A layout without folds, a chosen point whose config fails, or a backtest error.
    pub fn walk_forward_curve(
        &self,
        panel: &Panel,
        steps: &[Step],
        cache: &mut SignalCache,
    ) -> Result<WalkForwardCurve, SweepError> {
        let (start, layout) = self.layout(panel)?;
        let mut segments = Vec::with_capacity(steps.len());
        let mut equity = Vec::new();
        let (mut returns, mut turnover, mut gross, mut net) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut nav = 1.0;
        let first_day = steps
            .first()
            .and_then(|s| layout.folds.get(s.test_fold))
            .map_or(start, |f| Day(start.0 + f.start as i32));
        for step in steps {
            let Some(fold) = layout.folds.get(step.test_fold) else {
                continue;
            };
            let (a, b) = (
                Day(start.0 + fold.start as i32),
                Day(start.0 + fold.end as i32 - 1),
            );
            let mut segment = WalkForwardSegment {
                start: a,
                end: b,
                index: step.chosen,
                values: Vec::new(),
                train_sharpe: step.train_sharpe,
                metrics: None,
            };
            match step.chosen {
                Some(index) => {
                    let (config, settings) =
                        self.point_at(index).map_err(|source| SweepError::Axis {
                            path: format!("point {index}"),
                            source,
                        })?;
                    let s = BacktestSettings {
                        start: Some(a),
                        end: Some(b),
                        initial_nav: nav,
                        ..settings
                    };
                    let out = backtest::simulate_on_venue(
                        panel,
                        &config,
                        &s,
                        cache,
                        self.listings.clone(),
                    )?;
                    for i in 0..out.n_days() {
                        equity.push(EquityPoint {
                            date: out.day(i),
                            nav: out.nav[i],
                            ret: out.returns[i],
                        });
                    }
                    nav = out.nav.last().copied().unwrap_or(nav);
                    returns.extend_from_slice(&out.returns);
                    turnover.extend_from_slice(&out.turnover);
                    gross.extend_from_slice(&out.gross);
                    net.extend_from_slice(&out.net);
                    segment.values = self.values(index);
                    segment.metrics = Some(metrics::from_sim(&out));
                }
                None => {
                    for d in a.0..=b.0 {
                        equity.push(EquityPoint {
                            date: Day(d),
                            nav,
                            ret: 0.0,
                        });
                        returns.push(0.0);
                        turnover.push(0.0);
                        gross.push(0.0);
                        net.push(0.0);
                    }
                }
            }
            segments.push(segment);
        }
        Ok(WalkForwardCurve {
            segments,
            equity,
            metrics: metrics::compute(first_day, &returns, &turnover, &gross, &net),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn base() -> Config {
        Config::from_json(r#"{"strategy_weights": {"volatility": 1.0}, "params": {"volatility": {"volatility_window": 30}}}"#)
            .unwrap()
    }

    fn axis_window(values: Vec<f64>) -> Axis {
        Axis {
            target: AxisTarget::Param {
                strategy: "volatility".into(),
                param: "volatility_window".into(),
            },
            values,
        }
    }

    /// A fake evaluation that encodes the config into the metrics, so tests can see what ran.
    fn fake(config: &Config) -> Result<Metrics, BacktestError> {
        let m = crate::metrics::compute(crate::Day(0), &[], &[], &[], &[]);
        let w = config.params["volatility"]["volatility_window"]
            .as_f64()
            .unwrap();
        Ok(Metrics {
            total_return: w + config.leverage * 1000.0,
            ..m
        })
    }

    #[test]
    fn grid_is_row_major_and_chunking_does_not_change_results() {
        let axes = vec![
            axis_window(vec![10.0, 20.0, 30.0]),
            Axis {
                target: AxisTarget::Leverage,
                values: vec![1.0, 2.0],
            },
        ];
        let s = Sweep::new(base(), axes, BacktestSettings::default()).unwrap();
        assert_eq!(s.n_points(), 6);
        assert_eq!(s.values(0), vec![10.0, 1.0]);
        assert_eq!(s.values(1), vec![10.0, 2.0]);
        assert_eq!(s.values(5), vec![30.0, 2.0]);
        let whole = s
            .run_chunk_with(0..6, &mut |_, _| {}, &|| false, &mut fake)
            .unwrap();
        let mut pieces = Vec::new();
        for r in s.chunks(4) {
            pieces.extend(
                s.run_chunk_with(r, &mut |_, _| {}, &|| false, &mut fake)
                    .unwrap()
                    .rows,
            );
        }
        let json = |rows: &[SweepRow]| serde_json::to_string(rows).unwrap();
        assert_eq!(json(&whole.rows), json(&pieces));
        assert_eq!(whole.rows[3].metrics.unwrap().total_return, 20.0 + 2000.0);
        // Integral values are written as integers so the window parses.
        let c = s.config_at(2).unwrap();
        assert!(c.params["volatility"]["volatility_window"].is_u64());
    }

    #[test]
    fn progress_and_cancellation() {
        let s = Sweep::new(
            base(),
            vec![axis_window(vec![5.0, 6.0, 7.0, 8.0, 9.0])],
            BacktestSettings::default(),
        )
        .unwrap();
        let mut seen = Vec::new();
        let done = Cell::new(0);
        let r = s
            .run_chunk_with(
                0..5,
                &mut |d, t| {
                    seen.push((d, t));
                    done.set(d);
                },
                &|| done.get() >= 2,
                &mut fake,
            )
            .unwrap();
        assert!(r.cancelled);
        assert_eq!(r.rows.len(), 2);
        assert_eq!(seen, vec![(1, 5), (2, 5)]);
    }

    #[test]
    fn invalid_points_are_rows_and_bad_axes_are_errors() {
        let s = Sweep::new(
            base(),
            vec![axis_window(vec![30.0, 1.0])],
            BacktestSettings::default(),
        )
        .unwrap();
        let r = s
            .run_chunk_with(0..2, &mut |_, _| {}, &|| false, &mut fake)
            .unwrap();
        assert!(r.rows[0].metrics.is_some());
        assert!(r.rows[1]
            .error
            .as_deref()
            .unwrap()
            .contains("volatility_window"));

        let bad = |axes| Sweep::new(base(), axes, BacktestSettings::default()).unwrap_err();
        assert_eq!(bad(vec![]), SweepError::AxisCount(0));
        assert!(matches!(
            bad(vec![axis_window(vec![])]),
            SweepError::EmptyAxis { .. }
        ));
        assert!(matches!(
            bad(vec![axis_window(vec![f64::NAN])]),
            SweepError::BadValue { .. }
        ));
        let unknown = bad(vec![Axis {
            target: AxisTarget::Param {
                strategy: "volatility".into(),
                param: "windoww".into(),
            },
            values: vec![3.0],
        }]);
        assert!(
            unknown.to_string().contains("params.volatility.windoww"),
            "{unknown}"
        );
        assert!(matches!(
            bad(vec![Axis {
                target: AxisTarget::Weight {
                    strategy: "nope".into()
                },
                values: vec![0.5],
            }]),
            SweepError::Axis { .. }
        ));
        assert!(matches!(
            bad(vec![
                axis_window(vec![2.0; 1000]),
                axis_window(vec![2.0; 1000])
            ]),
            SweepError::TooManyPoints(1_000_000)
        ));
        let s = Sweep::new(
            base(),
            vec![axis_window(vec![5.0])],
            BacktestSettings::default(),
        )
        .unwrap();
        assert!(s
            .run_chunk_with(0..2, &mut |_, _| {}, &|| false, &mut fake)
            .is_err());
    }

    #[test]
    fn real_points_match_a_direct_backtest() {
        let p = crate::synth::generate(&crate::synth::SynthConfig {
            n_assets: 30,
            n_days: 150,
            ..Default::default()
        })
        .unwrap();
        let settings = BacktestSettings {
            start: Some(p.day(40)),
            ..BacktestSettings::default()
        };
        let s = Sweep::new(base(), vec![axis_window(vec![10.0, 25.0])], settings).unwrap();
        let r = s.run_chunk(&p, 0..2, &mut |_, _| {}, &|| false).unwrap();
        assert!(!r.cancelled);
        for row in &r.rows {
            let direct =
                backtest::metrics_for_config(&p, &s.config_at(row.index).unwrap(), &settings)
                    .unwrap();
            let m = row.metrics.unwrap();
            assert_eq!(m.total_return.to_bits(), direct.total_return.to_bits());
            assert!(m.n_days == 110 && m.annual_turnover > 0.0);
        }
        let (a, b) = (r.rows[0].metrics.unwrap(), r.rows[1].metrics.unwrap());
        assert_ne!(a.total_return, b.total_return);
    }

    fn synth(n_days: usize, seed: u64) -> Panel {
        crate::synth::generate(&crate::synth::SynthConfig {
            seed,
            n_assets: 24,
            n_days,
            ..Default::default()
        })
        .unwrap()
    }

    fn blend_base() -> Config {
        Config::from_json(
            r#"{"strategy_weights": {"volatility": 0.4, "size": 0.3, "carry": 0.2, "beta": 0.1},
                "params": {"volatility": {"volatility_window": 20, "rebalance_days": 3},
                           "size": {"top_n": 4, "rebalance_days": 7},
                           "carry": {"top_n": 3}, "beta": {"beta_window": 30}}}"#,
        )
        .unwrap()
    }

    fn json<T: serde::Serialize>(x: &T) -> String {
        serde_json::to_string(x).unwrap()
    }

    #[test]
    fn axis_paths_parse_back_and_threshold_moves_the_policy_override() {
        for path in [
            "strategy_weights.size",
            "params.volatility.volatility_window",
            "strategy_caps.beta",
            "leverage",
            "rebalance.threshold",
            "rebalance.fee_bps",
            "rebalance.slippage_bps",
        ] {
            assert_eq!(AxisTarget::parse(path).unwrap().path(), path);
        }
        assert!(AxisTarget::parse("strategy_weights.nope")
            .unwrap_err()
            .to_string()
            .contains("unknown strategy"));
        assert!(AxisTarget::parse("rebalance.nope")
            .unwrap_err()
            .to_string()
            .contains("not a sweepable value"));
        let mut c = blend_base();
        c.rebalance.policy = PolicyKind::Time;
        let mut s = BacktestSettings {
            policy: Some(RebalancePolicy::Time),
            costs: Some(crate::sim::Costs::default()),
            ..BacktestSettings::default()
        };
        AxisTarget::Threshold
            .apply_point(&mut c, &mut s, 0.07)
            .unwrap();
        AxisTarget::FeeBps.apply_point(&mut c, &mut s, 4.0).unwrap();
        assert_eq!(c.rebalance.policy, PolicyKind::Threshold);
        assert_eq!(
            s.policy,
            Some(RebalancePolicy::Threshold { threshold: 0.07 })
        );
        assert_eq!(s.costs.unwrap().fee_bps, 4.0);
        assert_eq!(c.rebalance.fee_bps, 4.0);
        assert!(AxisTarget::Threshold.apply(&mut c, -1.0).is_err());
        assert_eq!(axis_values(0.0, 0.5, 11)[3], 0.5 * 3.0 / 10.0);
    }

    /// Points of a random search do not depend on the chunking, and the cached rows' metrics
    /// equal the uncached ones.
    #[test]
    fn search_rows_are_the_same_whatever_the_chunks() {
        let p = synth(220, 5);
        let search = RandomSearch {
            dims: vec![
                crate::research::search::SearchDim {
                    target: AxisTarget::Weight {
                        strategy: "volatility".into(),
                    },
                    lo: 0.0,
                    hi: 0.6,
                },
                crate::research::search::SearchDim {
                    target: AxisTarget::Weight {
                        strategy: "size".into(),
                    },
                    lo: 0.1,
                    hi: 0.6,
                },
                crate::research::search::SearchDim {
                    target: AxisTarget::Leverage,
                    lo: 0.5,
                    hi: 2.0,
                },
            ],
            weight_sum: Some(0.7),
            n: 9,
            seed: 11,
        };
        let settings = BacktestSettings {
            start: Some(p.day(60)),
            ..BacktestSettings::default()
        };
        let s = Sweep::random(blend_base(), search, settings).unwrap();
        let mut one = SignalCache::default();
        let whole = s
            .run_chunk_cached(&p, 0..9, &mut one, &mut |_, _| {}, &|| false)
            .unwrap();
        let mut pieces = Vec::new();
        for r in s.chunks(4) {
            let mut fresh = SignalCache::default();
            pieces.extend(
                s.run_chunk_cached(&p, r, &mut fresh, &mut |_, _| {}, &|| false)
                    .unwrap()
                    .rows,
            );
        }
        assert_eq!(json(&whole.rows), json(&pieces));
        let plain = s.run_chunk(&p, 0..9, &mut |_, _| {}, &|| false).unwrap();
        for (a, b) in whole.rows.iter().zip(&plain.rows) {
            assert_eq!(json(&a.metrics), json(&b.metrics));
            assert_eq!(a.values, b.values);
            let w = a.values[0] + a.values[1];
            assert!((w - 0.7).abs() < 1e-12);
        }
        // Four strategies, one parameter set each: computed once for the whole search.
        assert_eq!(one.stats().computed, 4);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..Default::default() })]

        /// Signals once, blends many: over random grids of blend and execution parameters
        /// (weights, caps, leverage, threshold, costs) and a random split, every cached row's
        /// metrics equal `metrics_for_config` of its config over the in-sample days, bit for bit.
        #[test]
        fn cached_points_equal_uncached_metrics_for_config(
            seed in 0u64..50,
            picks in proptest::collection::vec(0usize..7, 1..4),
            values in proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 4),
            split_at in proptest::option::of(120usize..200),
        ) {
            let p = synth(230, seed);
            let mut axes: Vec<Axis> = Vec::new();
            for (k, &pick) in picks.iter().enumerate() {
                let (a, b) = values[k];
                let (target, vals) = match pick {
                    0 => (AxisTarget::Weight { strategy: "volatility".into() }, vec![a, b]),
                    1 => (AxisTarget::Weight { strategy: "carry".into() }, vec![0.0, a]),
                    2 => (AxisTarget::Leverage, vec![0.5 + a, 1.0 + b]),
                    3 => (AxisTarget::Threshold, vec![0.0, 0.1 * a]),
                    4 => (AxisTarget::FeeBps, vec![30.0 * a]),
                    5 => (AxisTarget::Cap { strategy: "size".into() }, vec![0.05 + 0.3 * b]),
                    _ => (AxisTarget::SlippageBps, vec![0.0, 20.0 * b]),
                };
                if axes.iter().all(|x| x.target != target) {
                    axes.push(Axis { target, values: vals });
                }
            }
            let settings = BacktestSettings {
                start: Some(p.day(50)),
                policy: Some(RebalancePolicy::Threshold { threshold: 0.02 }),
                costs: Some(crate::sim::Costs { fee_bps: 5.0, slippage_bps: 1.0 }),
                ..BacktestSettings::default()
            };
            let evaluation = Evaluation {
                split: split_at.map(|r| p.day(r)),
                ..Evaluation::default()
            };
            let s = Sweep::new(blend_base(), axes, settings).unwrap().with_evaluation(evaluation);
            let mut cache = SignalCache::default();
            let rows = s
                .run_chunk_cached(&p, 0..s.n_points(), &mut cache, &mut |_, _| {}, &|| false)
                .unwrap()
                .rows;
            for row in &rows {
                let (config, st) = s.point_at(row.index).unwrap();
                let st = BacktestSettings {
                    end: split_at.map(|r| p.day(r - 1)),
                    ..st
                };
                let want = backtest::metrics_for_config(&p, &config, &st).unwrap();
                let got = row.metrics.unwrap();
                proptest::prop_assert_eq!(json(&want), json(&got));
                proptest::prop_assert_eq!(want.sharpe.to_bits(), got.sharpe.to_bits());
                proptest::prop_assert_eq!(want.total_return.to_bits(), got.total_return.to_bits());
            }
            proptest::prop_assert_eq!(cache.stats().computed, 4);
        }
    }

    /// Perturbs every close from row `from` on (as if the future had been different).
    fn perturbed(p: &Panel, from: usize) -> Panel {
        let mut q = p.clone();
        for a in 0..q.n_assets() {
            let s = q.series_mut(crate::panel::Field::Close, a);
            for (k, x) in s.iter_mut().enumerate().skip(from) {
                *x *= 1.0 + 0.2 * (((k * 31 + a * 17) % 13) as f64 / 13.0 - 0.5);
            }
        }
        q
    }

    fn blend_grid(settings: BacktestSettings) -> Sweep {
        Sweep::new(
            blend_base(),
            vec![
                Axis {
                    target: AxisTarget::Weight {
                        strategy: "volatility".into(),
                    },
                    values: vec![0.0, 0.3, 0.8],
                },
                Axis {
                    target: AxisTarget::Weight {
                        strategy: "carry".into(),
                    },
                    values: vec![0.0, 0.4, 1.0],
                },
            ],
            settings,
        )
        .unwrap()
    }

    /// Look-ahead: changing the data after the split changes nothing the choice is made from
    /// (every in-sample row, bit for bit) and so never the chosen point; it does change the
    /// out-of-sample result. Likewise each walk-forward re-choice only sees its training folds.
    #[test]
    fn perturbing_out_of_sample_data_never_changes_the_choice() {
        let p = synth(330, 21);
        let settings = BacktestSettings {
            start: Some(p.day(40)),
            ..BacktestSettings::default()
        };
        let split = 220;
        let sweep = blend_grid(settings).with_evaluation(Evaluation {
            split: Some(p.day(split)),
            cscv_blocks: 4,
            walk_forward: Some(crate::research::evaluation::WalkForward {
                step_days: 40,
                train_steps: 2,
                anchored: false,
            }),
        });
        let run = |panel: &Panel| {
            let mut cache = SignalCache::default();
            let rows = sweep
                .run_chunk_cached(panel, 0..9, &mut cache, &mut |_, _| {}, &|| false)
                .unwrap()
                .rows;
            let summary = crate::research::summary::summarize(&rows, sweep.evaluation());
            let oos = sweep
                .out_of_sample(panel, summary.chosen.unwrap(), &mut cache)
                .unwrap()
                .unwrap();
            (rows, summary, oos)
        };
        let (rows, summary, oos) = run(&p);
        let (rows2, summary2, oos2) = run(&perturbed(&p, split));
        for (a, b) in rows.iter().zip(&rows2) {
            assert_eq!(json(&a.metrics), json(&b.metrics));
            let (sa, sb) = (a.stats.as_ref().unwrap(), b.stats.as_ref().unwrap());
            assert_eq!(json(&sa.blocks), json(&sb.blocks));
            assert_eq!(sa.sharpe.to_bits(), sb.sharpe.to_bits());
        }
        assert_eq!(summary.chosen, summary2.chosen);
        assert_eq!(json(&summary.deflated), json(&summary2.deflated));
        assert_eq!(json(&summary.overfitting), json(&summary2.overfitting));
        assert_ne!(oos.total_return, oos2.total_return, "the future did change");

        // Walk-forward: perturb from the start of each test fold; that step and every earlier
        // one keep their choice.
        let (start, layout) = sweep.layout(&p).unwrap();
        assert_eq!(start, p.day(40));
        let steps = &summary.walk_forward;
        assert!(steps.len() >= 4);
        for step in steps.iter() {
            let from = 40 + layout.folds[step.test_fold].start;
            let (_, later, _) = run(&perturbed(&p, from));
            for (a, b) in steps.iter().zip(&later.walk_forward) {
                if a.test_fold <= step.test_fold {
                    assert_eq!(a.chosen, b.chosen, "fold {}", a.test_fold);
                    assert_eq!(a.train_sharpe.to_bits(), b.train_sharpe.to_bits());
                }
            }
        }
    }

    #[test]
    fn walk_forward_curve_is_the_chosen_points_backtested_fold_by_fold() {
        let p = synth(300, 8);
        let settings = BacktestSettings {
            start: Some(p.day(30)),
            ..BacktestSettings::default()
        };
        let sweep = blend_grid(settings).with_evaluation(Evaluation {
            walk_forward: Some(crate::research::evaluation::WalkForward {
                step_days: 45,
                train_steps: 2,
                anchored: true,
            }),
            ..Evaluation::default()
        });
        let mut cache = SignalCache::default();
        let rows = sweep
            .run_chunk_cached(&p, 0..9, &mut cache, &mut |_, _| {}, &|| false)
            .unwrap()
            .rows;
        let summary = crate::research::summary::summarize(&rows, sweep.evaluation());
        let curve = sweep
            .walk_forward_curve(&p, &summary.walk_forward, &mut cache)
            .unwrap();
        // 270 days in folds of 45: 6 folds, 4 traded after training on 2.
        assert_eq!(curve.segments.len(), 4);
        assert_eq!(curve.equity.len(), 4 * 45);
        assert_eq!(curve.equity[0].date, p.day(30 + 90));
        let mut nav = 1.0;
        for seg in &curve.segments {
            let index = seg.index.unwrap();
            let (config, st) = sweep.point_at(index).unwrap();
            let direct = backtest::run(
                &p,
                &config,
                &BacktestSettings {
                    start: Some(seg.start),
                    end: Some(seg.end),
                    initial_nav: nav,
                    ..st
                },
            )
            .unwrap();
            assert_eq!(json(&direct.metrics), json(&seg.metrics.unwrap()));
            let from_curve: Vec<f64> = curve
                .equity
                .iter()
                .filter(|e| e.date >= seg.start && e.date <= seg.end)
                .map(|e| e.nav)
                .collect();
            let from_run: Vec<f64> = direct.equity.iter().map(|e| e.nav).collect();
            assert_eq!(from_curve, from_run);
            nav = *from_run.last().unwrap();
            assert_eq!(seg.values, sweep.values(index));
        }
        assert_eq!(curve.metrics.n_days, 180);
        assert!((curve.metrics.total_return - (nav - 1.0)).abs() < 1e-12);
    }
}
