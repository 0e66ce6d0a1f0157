//! What a sweep worker runs: the grid definition shared with the page, and the WebAssembly
//! exports `public/sweep-worker.js` calls.

use crate::share::{BacktestSpec, SweepSpec};
use crate::spec::compile;
use serde::{Deserialize, Serialize};
use shared::sweep::{Axis, AxisTarget, Sweep};

/// One chunk of work for a worker: the sweep and the grid points `start..end`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub backtest: BacktestSpec,
    pub sweep: SweepSpec,
    pub start: usize,
    pub end: usize,
}

/// The values of one axis: `steps` points from `from` to `to` inclusive.
pub fn axis_values(from: f64, to: f64, steps: usize) -> Vec<f64> {
    match steps {
        0 => Vec::new(),
        1 => vec![from],
        n => (0..n)
            .map(|i| from + (to - from) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

/// Builds the grid exactly as the page and every worker see it.
///
/// # Errors
/// An invalid base config, an unknown scope, or an axis the config rejects, named.
pub fn build_sweep(backtest: &BacktestSpec, sweep: &SweepSpec) -> Result<Sweep, String> {
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
    let axes = sweep
        .axes
        .iter()
        .map(|a| {
            let target = match a.param.as_str() {
                "weight" => AxisTarget::Weight {
                    strategy: a.strategy.clone(),
                },
                "leverage" => AxisTarget::Leverage,
                p => AxisTarget::Param {
                    strategy: a.strategy.clone(),
                    param: p.to_string(),
                },
            };
            Axis {
                target,
                values: axis_values(a.from, a.to, a.steps),
            }
        })
        .collect();
    Sweep::new(config, axes, settings).map_err(|e| e.to_string())
}

#[cfg(feature = "hydrate")]
mod exports {
    use super::{build_sweep, Job};
    use shared::Panel;
    use std::cell::RefCell;
    use wasm_bindgen::prelude::*;

    thread_local! {
        static PANEL: RefCell<Option<Panel>> = const { RefCell::new(None) };
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
        let sweep = build_sweep(&job.backtest, &job.sweep).map_err(err)?;
        PANEL.with(|p| {
            let p = p.borrow();
            let panel = p
                .as_ref()
                .ok_or_else(|| err("no panel loaded in this worker".into()))?;
            let result = sweep
                .run_chunk(panel, job.start..job.end, &mut |_, _| {}, &|| false)
                .map_err(|e| err(e.to_string()))?;
            serde_json::to_string(&result.rows).map_err(|e| err(e.to_string()))
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
