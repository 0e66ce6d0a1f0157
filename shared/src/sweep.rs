//! Parameter sweeps: a grid over numeric config values, one metrics row per point.
//!
//! A [`Sweep`] is a base [`Config`], one or two [`Axis`] values lists and the backtest settings.
//! Point `i` of the grid sets every axis to its value (row-major: with two axes,
//! `i = i0 × len1 + i1`) on a copy of the base config and runs a metrics-only backtest.
//!
//! Sweeps are embarrassingly parallel, but `shared` has no threads and no clock: callers split
//! the points into ranges ([`Sweep::chunks`]) and call [`Sweep::run_chunk`] from native worker
//! threads or browser Web Workers. Each call reports progress after every point and polls a
//! cancellation closure between points; nothing inside measures time. Results do not depend on
//! how the points were chunked: each point is a pure function of its index.

use std::ops::Range;

use crate::backtest::{self, BacktestError, BacktestSettings};
use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::panel::Panel;

/// Largest grid accepted, to keep a typo from queueing a day of work.
pub const MAX_POINTS: usize = 100_000;

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
}

impl AxisTarget {
    /// The JSON path the axis writes to, as errors and tables show it.
    pub fn path(&self) -> String {
        match self {
            AxisTarget::Param { strategy, param } => format!("params.{strategy}.{param}"),
            AxisTarget::Weight { strategy } => format!("strategy_weights.{strategy}"),
            AxisTarget::Leverage => "leverage".to_string(),
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
        }
    }
}

/// One dimension of the grid.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axis {
    pub target: AxisTarget,
    pub values: Vec<f64>,
}

/// A sweep that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SweepError {
    #[error("a sweep needs 1 or 2 axes, got {0}")]
    AxisCount(usize),
    #[error("axis {path} has no values")]
    EmptyAxis { path: String },
    #[error("axis {path}: value {value} is not finite")]
    BadValue { path: String, value: f64 },
    #[error("the grid has {0} points; at most {MAX_POINTS} are allowed")]
    TooManyPoints(usize),
    #[error("axis {path}: {source}")]
    Axis { path: String, source: ConfigError },
    #[error("points {start}..{end} are outside the grid of {n_points}")]
    Range {
        start: usize,
        end: usize,
        n_points: usize,
    },
}

/// The result of one grid point: its axis values and metrics, or why it failed (a point can be
/// invalid, e.g. a window below its minimum, without failing the sweep).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepRow {
    pub index: usize,
    /// One value per axis, in axis order.
    pub values: Vec<f64>,
    pub metrics: Option<Metrics>,
    pub error: Option<String>,
}

/// What one [`Sweep::run_chunk`] call produced.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChunkResult {
    /// Rows for the points finished, in index order.
    pub rows: Vec<SweepRow>,
    /// True when the cancel closure stopped the chunk early.
    pub cancelled: bool,
}

/// A validated grid over a base config.
#[derive(Clone, Debug)]
pub struct Sweep {
    base: Config,
    axes: Vec<Axis>,
    settings: BacktestSettings,
    n_points: usize,
}

impl Sweep {
    /// Checks the axes (count, values, and that every axis target accepts its first value) and
    /// sizes the grid.
    ///
    /// # Errors
    /// [`SweepError`] naming the offending axis.
    pub fn new(
        base: Config,
        axes: Vec<Axis>,
        settings: BacktestSettings,
    ) -> Result<Sweep, SweepError> {
        if axes.is_empty() || axes.len() > 2 {
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
        Ok(Sweep {
            base,
            axes,
            settings,
            n_points,
        })
    }

    /// Number of grid points.
    pub fn n_points(&self) -> usize {
        self.n_points
    }

    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// The axis values of point `index` (row-major).
    pub fn values(&self, index: usize) -> Vec<f64> {
        let mut rest = index;
        let mut out = vec![0.0; self.axes.len()];
        for (k, axis) in self.axes.iter().enumerate().rev() {
            let n = axis.values.len();
            out[k] = axis.values[rest % n];
            rest /= n;
        }
        out
    }

    /// The base config with point `index`'s values written in.
    ///
    /// # Errors
    /// The config's error for an invalid value, prefixed by nothing: its path names the key.
    pub fn config_at(&self, index: usize) -> Result<Config, ConfigError> {
        let mut c = self.base.clone();
        for (axis, v) in self.axes.iter().zip(self.values(index)) {
            axis.target.apply(&mut c, v)?;
        }
        Ok(c)
    }

    /// Splits the grid into at most `n` contiguous ranges of near-equal size (for workers).
    pub fn chunks(&self, n: usize) -> Vec<Range<usize>> {
        let n = n.clamp(1, self.n_points.max(1));
        (0..n)
            .map(|k| k * self.n_points / n..(k + 1) * self.n_points / n)
            .filter(|r| !r.is_empty())
            .collect()
    }

    /// Runs the points in `range` on `panel`, calling `progress(done, range.len())` after each
    /// point and stopping early (with `cancelled = true`) when `cancel()` returns true; it is
    /// polled before every point.
    ///
    /// # Errors
    /// [`SweepError::Range`] if `range` is not inside the grid. Failing points are rows with an
    /// `error`, not errors.
    pub fn run_chunk(
        &self,
        panel: &Panel,
        range: Range<usize>,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &dyn Fn() -> bool,
    ) -> Result<ChunkResult, SweepError> {
        self.run_chunk_with(range, progress, cancel, &mut |config: &Config| {
            backtest::metrics_for_config(panel, config, &self.settings)
        })
    }

    /// [`Sweep::run_chunk`] with the per-point evaluation supplied by the caller (tests, or a
    /// caller that caches signals across points).
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
                .config_at(index)
                .map_err(|e| e.to_string())
                .and_then(|c| eval(&c).map_err(|e| e.to_string()));
            let (metrics, error) = match result {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(e)),
            };
            rows.push(SweepRow {
                index,
                values: self.values(index),
                metrics,
                error,
            });
            progress(rows.len(), total);
        }
        Ok(ChunkResult {
            rows,
            cancelled: false,
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
}
