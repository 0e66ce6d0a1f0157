//! What a sweep worker runs: the grid or search definition shared with the page, the chunk and
//! finish jobs (the same `shared` functions `lockstep sweep` calls: [`Sweep::run_chunk_cached`]
//! and [`report::finish`]), and the WebAssembly exports `public/sweep-worker.js` calls.

use crate::share::{BacktestSpec, SweepSpec};
use crate::spec::compile;
use serde::{Deserialize, Serialize};
use shared::metrics::Metrics;
use shared::portfolio::signals::SignalCache;
use shared::research::report::{self, Finished};
use shared::research::search::{RandomSearch, SearchDim};
use shared::research::walk_forward::Step;
use shared::sweep::{Axis, AxisTarget, Sweep, SweepRow};
use shared::Panel;

/// One chunk of work for a worker: the sweep and the grid points `start..end`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub backtest: BacktestSpec,
    pub sweep: SweepSpec,
    pub start: usize,
    pub end: usize,
}

/// After the rows: the chosen point's out-of-sample run and the walk-forward curve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinishJob {
    pub backtest: BacktestSpec,
    pub sweep: SweepSpec,
    pub chosen: Option<usize>,
    /// The chosen point's row metrics (in sample).
    pub in_sample: Option<Metrics>,
    /// The walk-forward's re-choices (`shared::research::summary::summarize`).
    pub steps: Vec<Step>,
}

/// Runs a chunk job's points with `cache` (signals once per strategy parameter set, kept
/// between chunks): the rows `lockstep sweep` computes for the same points, with their
/// statistics.
///
/// # Errors
/// An invalid sweep or evaluation, named.
pub fn run_job(panel: &Panel, job: &Job, cache: &mut SignalCache) -> Result<Vec<SweepRow>, String> {
    let sweep = build_sweep(&job.backtest, &job.sweep)?;
    let result = sweep
        .run_chunk_cached(panel, job.start..job.end, cache, &mut |_, _| {}, &|| false)
        .map_err(|e| e.to_string())?;
    Ok(result.rows)
}

/// Runs a finish job: [`report::finish`] as `lockstep sweep` runs it.
///
/// # Errors
/// An invalid sweep, a chosen point whose config fails, or a backtest error.
pub fn finish_job(
    panel: &Panel,
    job: &FinishJob,
    cache: &mut SignalCache,
) -> Result<Finished, String> {
    let sweep = build_sweep(&job.backtest, &job.sweep)?;
    report::finish(&sweep, panel, job.chosen, job.in_sample, &job.steps, cache)
        .map_err(|e| e.to_string())
}

/// Which config value a grid axis of the form moves: `param` is a strategy parameter, or
/// `weight`, `cap` (of `strategy`), `leverage`, `threshold`, `fee_bps`, `slippage_bps`.
pub fn axis_target(strategy: &str, param: &str) -> AxisTarget {
    match param {
        "weight" => AxisTarget::Weight {
            strategy: strategy.to_string(),
        },
        "cap" => AxisTarget::Cap {
            strategy: strategy.to_string(),
        },
        "leverage" => AxisTarget::Leverage,
        "threshold" => AxisTarget::Threshold,
        "fee_bps" => AxisTarget::FeeBps,
        "slippage_bps" => AxisTarget::SlippageBps,
        p => AxisTarget::Param {
            strategy: strategy.to_string(),
            param: p.to_string(),
        },
    }
}

/// The values of one axis: `steps` points from `from` to `to` inclusive (the CLI's
/// `--axis` uses the same function, so both grids have the same bits).
pub use shared::sweep::axis_values;

/// Builds the grid exactly as the page and every worker see it.
///
/// # Errors
/// An invalid base config, an unknown scope, or an axis the config rejects, named.
pub fn build_sweep(backtest: &BacktestSpec, sweep: &SweepSpec) -> Result<Sweep, String> {
    sweep.check().map_err(|e| e.to_string())?;
    let (mut config, settings) = compile(backtest)?;
    if sweep.scope != "blend" {
        if !shared::strategies::STRATEGY_NAMES.contains(&sweep.scope.as_str()) {
            return Err(format!(
                "unknown sweep scope {:?}: \"blend\" or a strategy name",
                sweep.scope
            ));
        }
        // The strategy alone: its weight 1, every other 0.
        let names: Vec<String> = config.strategy_weights.keys().cloned().collect();
        for name in names {
            config.set_weight(&name, 0.0).map_err(|e| e.to_string())?;
        }
        config
            .set_weight(&sweep.scope, 1.0)
            .map_err(|e| e.to_string())?;
    }
    let built = match &sweep.search {
        Some(search) => {
            let dims = search
                .dims
                .iter()
                .map(|d| {
                    AxisTarget::parse(d.path.trim())
                        .map(|target| SearchDim {
                            target,
                            lo: d.lo,
                            hi: d.hi,
                        })
                        .map_err(|e| format!("search dimension {}: {e}", d.path))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let search = RandomSearch {
                dims,
                weight_sum: search.sum,
                n: search.n,
                seed: search.seed,
            };
            Sweep::random(config, search, settings)
        }
        None => {
            let axes = sweep
                .axes
                .iter()
                .map(|a| Axis {
                    target: axis_target(&a.strategy, &a.param),
                    values: axis_values(a.from, a.to, a.steps),
                })
                .collect();
            Sweep::new(config, axes, settings)
        }
    };
    Ok(built
        .map_err(|e| e.to_string())?
        .with_evaluation(sweep.evaluation.clone().unwrap_or_default()))
}

#[cfg(feature = "hydrate")]
mod exports {
    use super::{finish_job, run_job, FinishJob, Job};
    use shared::portfolio::signals::SignalCache;
    use shared::Panel;
    use std::cell::RefCell;
    use wasm_bindgen::prelude::*;

    thread_local! {
        static PANEL: RefCell<Option<Panel>> = const { RefCell::new(None) };
        /// This worker's signals, kept between chunks of one sweep (each worker is one thread,
        /// as each of the CLI's threads keeps its own).
        static CACHE: RefCell<SignalCache> = RefCell::new(SignalCache::default());
    }

    /// Decodes the panel bytes (the `/api/panel` body) and keeps them for the chunks to come.
    #[wasm_bindgen]
    pub fn lockstep_worker_load_panel(bytes: &[u8]) -> Result<String, JsValue> {
        let panel = shared::panel_codec::decode(bytes)
            .map_err(|e| JsValue::from_str(&format!("decoding the panel: {e}")))?
            .panel;
        let info = format!("{} assets × {} days", panel.n_assets(), panel.n_days());
        PANEL.with(|p| *p.borrow_mut() = Some(panel));
        Ok(info)
    }

    /// Runs one chunk ([`Job`] as JSON) and returns its rows as JSON.
    #[wasm_bindgen]
    pub fn lockstep_worker_run_chunk(job: &str) -> Result<String, JsValue> {
        let err = |e: String| JsValue::from_str(&e);
        let job: Job = serde_json::from_str(job).map_err(|e| err(format!("bad job: {e}")))?;
        PANEL.with(|p| {
            let p = p.borrow();
            let panel = p
                .as_ref()
                .ok_or_else(|| err("no panel loaded in this worker".into()))?;
            let rows = CACHE
                .with(|c| run_job(panel, &job, &mut c.borrow_mut()))
                .map_err(err)?;
            serde_json::to_string(&rows).map_err(|e| err(e.to_string()))
        })
    }

    /// Runs a [`FinishJob`] (JSON) and returns its [`shared::research::report::Finished`] as
    /// JSON.
    #[wasm_bindgen]
    pub fn lockstep_worker_finish(job: &str) -> Result<String, JsValue> {
        let err = |e: String| JsValue::from_str(&e);
        let job: FinishJob =
            serde_json::from_str(job).map_err(|e| err(format!("bad finish job: {e}")))?;
        PANEL.with(|p| {
            let p = p.borrow();
            let panel = p
                .as_ref()
                .ok_or_else(|| err("no panel loaded in this worker".into()))?;
            let done = CACHE
                .with(|c| finish_job(panel, &job, &mut c.borrow_mut()))
                .map_err(err)?;
            serde_json::to_string(&done).map_err(|e| err(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::SweepAxisSpec;
    use crate::spec::default_spec;

    #[test]
    fn axis_values_include_both_ends() {
        assert_eq!(axis_values(10.0, 30.0, 3), vec![10.0, 20.0, 30.0]);
        assert_eq!(axis_values(5.0, 9.0, 1), vec![5.0]);
        assert!(axis_values(1.0, 2.0, 0).is_empty());
    }

    #[test]
    fn single_strategy_scope_and_bad_scopes() {
        let sweep = SweepSpec {
            scope: "volatility".into(),
            axes: vec![SweepAxisSpec {
                strategy: "volatility".into(),
                param: "volatility_window".into(),
                from: 10.0,
                to: 40.0,
                steps: 4,
            }],
            metric: "sharpe".into(),
            ..Default::default()
        };
        let s = build_sweep(&default_spec(), &sweep).unwrap();
        assert_eq!(s.n_points(), 4);
        let c = s.config_at(0).unwrap();
        assert_eq!(c.weight("volatility"), 1.0);
        assert_eq!(c.weight("size"), 0.0);
        let bad = SweepSpec {
            scope: "nope".into(),
            ..sweep
        };
        assert!(build_sweep(&default_spec(), &bad)
            .unwrap_err()
            .contains("unknown sweep scope"));
    }
}
