//! What a sweep worker runs: the grid or search definition shared with the page, the chunk and
//! finish jobs (the same `shared` functions `lockstep sweep` calls: [`Sweep::run_chunk_cached`]
//! and [`report::finish`]), a worker's kernel state (its panel and signal records), and the
//! WebAssembly exports `public/sweep-worker.js` calls. The pool that feeds the workers is
//! [`crate::pool`].
//!
//! Messages between the page and a worker (`public/sweep-worker.js`; every reply carries the
//! request's `id` and `gen` back, and `ms`, the worker's own time for it):
//!
//! | page → worker | worker → page |
//! |---|---|
//! | `{type: "init", module}`: instantiate this compiled `WebAssembly.Module` (the page's own) instead of fetching and compiling `/pkg/lockstep.wasm` | `{type: "init", ms}` |
//! | `{type: "columns", start, n_days, symbols, fields, columns}`: the decoded panel, one transferred `Float64Array` per field ([`panel_columns`]) | `{type: "ready", info, ms}` |
//! | `{type: "panel", url}`: download and decode the panel itself (the older way; still served) | `{type: "ready", info, ms}` |
//! | `{type: "chunk", id, gen, job}`: a [`Job`] as JSON | `{type: "rows", id, gen, rows, ms, computed, reused}` |
//! | `{type: "summarize", id: "summarize", gen, evaluation, chunks}`: the run's `rows` strings as the workers sent them and its [`Evaluation`] as JSON ([`summarize_chunks`]; needs no panel) | `{type: "summary", id, gen, result, ms}` |
//! | `{type: "finish", id: "finish", gen, job}`: a [`FinishJob`] as JSON | `{type: "finished", id, gen, result, ms}` |
//! | `{type: "profile", id, job}`: [`PointProfile`] of the job's first point | `{type: "profile", id, profile}` |
//! | | `{type: "error", id, gen, message}` for any request that failed |

use crate::share::{BacktestSpec, SweepSpec};
use crate::spec::compile;
use serde::{Deserialize, Serialize};
use shared::metrics::Metrics;
use shared::portfolio::signals::SignalCache;
use shared::research::evaluation::Evaluation;
use shared::research::report::{self, Finished};
use shared::research::search::{RandomSearch, SearchDim};
use shared::research::summary::{summarize, Summary};
use shared::research::walk_forward::Step;
use shared::sweep::{Axis, AxisTarget, Sweep, SweepRow};
use shared::universe::VenueUniverse;
use shared::{Day, Field, Panel};

/// One chunk of work for a worker: the sweep and the grid points `start..end`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// The base backtest; a job without one runs on the default ([`crate::spec::default_spec`]),
    /// as the benchmark's profile requests do.
    #[serde(default = "crate::spec::default_spec")]
    pub backtest: BacktestSpec,
    pub sweep: SweepSpec,
    pub start: usize,
    pub end: usize,
    /// The venue's universe `/api/panel?venue=` sent with the panel: the points trade in it,
    /// as the Backtest of the same config does ([`crate::spec::venue_listings`]). Absent for a
    /// config on `any` or `paper`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub universe: Option<VenueUniverse>,
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
    /// As [`Job::universe`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub universe: Option<VenueUniverse>,
}

/// Runs a chunk job's points with `cache` (signals once per strategy parameter set, kept
/// between chunks): the rows `lockstep sweep` computes for the same points, with their
/// statistics.
///
/// # Errors
/// An invalid sweep or evaluation, named.
pub fn run_job(panel: &Panel, job: &Job, cache: &mut SignalCache) -> Result<Vec<SweepRow>, String> {
    let sweep = build_venue_sweep(&job.backtest, &job.sweep, job.universe.as_ref())?;
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
    let sweep = build_venue_sweep(&job.backtest, &job.sweep, job.universe.as_ref())?;
    report::finish(&sweep, panel, job.chosen, job.in_sample, &job.steps, cache)
        .map_err(|e| e.to_string())
}

/// The statistics of a finished run ([`summarize`]: DSR, PBO, the walk-forward's choices) from
/// its chunks' rows exactly as the workers sent them (JSON strings): what a worker computes so
/// that the page's thread stays free after the last row (CSCV over 1,000 trials takes ~0.3 s
/// native, 10,000 trials ~3.5 s). Same rows, same function as `lockstep sweep`: same summary.
///
/// # Errors
/// A chunk that is not rows, named by its position.
pub fn summarize_chunks<S: AsRef<str>>(
    evaluation: &Evaluation,
    chunks: &[S],
) -> Result<Summary, String> {
    let mut rows = Vec::new();
    for (k, chunk) in chunks.iter().enumerate() {
        let mut part: Vec<SweepRow> = serde_json::from_str(chunk.as_ref())
            .map_err(|e| format!("chunk {k} of the run's rows: {e}"))?;
        rows.append(&mut part);
    }
    Ok(summarize(&rows, evaluation))
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

/// [`build_sweep`] on the venue's universe: the listings of the base config's venue from
/// `universe` ([`crate::spec::venue_listings`], refusing a real venue whose universe is absent).
///
/// # Errors
/// As [`build_sweep`] and [`crate::spec::venue_listings`].
pub fn build_venue_sweep(
    backtest: &BacktestSpec,
    sweep: &SweepSpec,
    universe: Option<&VenueUniverse>,
) -> Result<Sweep, String> {
    let built = build_sweep(backtest, sweep)?;
    let (listings, _) = crate::spec::venue_listings(built.base(), universe)?;
    Ok(built.with_listings(listings))
}

/// Which universe a sweep's points trade (the base config's venue and its listings from
/// `universe`), counted on the last day of its range: the line `lockstep sweep` writes as
/// `universe` and the Sweep page shows.
///
/// # Errors
/// As [`build_venue_sweep`], or a range outside the panel.
pub fn sweep_universe(
    backtest: &BacktestSpec,
    sweep: &SweepSpec,
    panel: &Panel,
    universe: Option<&VenueUniverse>,
) -> Result<shared::universe::UniverseInfo, String> {
    let built = build_sweep(backtest, sweep)?;
    let (listings, mut info) = crate::spec::venue_listings(built.base(), universe)?;
    let (_, last) = shared::backtest::rows(panel, built.settings()).map_err(|e| e.to_string())?;
    info.count_on(panel, listings.as_deref(), panel.day(last));
    Ok(info)
}

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

/// The fields a panel hands to the workers: those the page downloads
/// ([`crate::data::PANEL_FIELDS`]); every other field is all missing in the page's panel too.
pub fn transferred_fields() -> Vec<Field> {
    crate::data::PANEL_FIELDS
        .split(',')
        .filter_map(Field::from_name)
        .collect()
}

/// Rebuilds a panel from its columns as [`Panel::field`] gives them (`asset * n_days + row`):
/// what a worker does with the buffers the page transfers instead of downloading and decoding
/// the panel again. The same bits as the page's panel (nothing is converted).
///
/// # Errors
/// A duplicate symbol, or a column whose length is not `n_days × symbols`, named.
pub fn panel_from_columns(
    start: Day,
    n_days: usize,
    symbols: Vec<String>,
    columns: Vec<(Field, Vec<f64>)>,
) -> Result<Panel, String> {
    let mut panel = Panel::new(start, n_days, symbols).map_err(|e| e.to_string())?;
    for (field, values) in columns {
        panel.set_field(field, values).map_err(|e| e.to_string())?;
    }
    Ok(panel)
}

/// What a worker's heap grows to over a long sweep: the signal cache's budget and some room for
/// the points themselves.
pub const WORKER_HEAP_RESERVE: usize =
    shared::portfolio::signals::DEFAULT_BUDGET_BYTES + (16 << 20);

/// A worker's kernel state: one panel and the signal records computed on it. The records stay
/// between chunks and between runs (the worker lives as long as the page's pool), so a second
/// sweep over the same strategy params reruns only the blend and the simulation. Rows are
/// [`Sweep::run_chunk_cached`]'s, the path `lockstep sweep` takes: the same bits.
pub struct Kernel {
    panel: Panel,
    cache: SignalCache,
}

/// What one chunk returned, with the signal records it computed and reused.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkRows {
    pub rows: Vec<SweepRow>,
    pub computed: u64,
    pub reused: u64,
}

impl Kernel {
    /// A kernel over `panel` with an empty cache; the panel's derived series (log returns,
    /// priced lists, the simulator's row-major closes) are computed here, once, not inside the
    /// first chunk.
    pub fn new(panel: Panel) -> Kernel {
        crate::data::reserve_heap(WORKER_HEAP_RESERVE);
        panel.derive_all();
        Kernel {
            panel,
            cache: SignalCache::default(),
        }
    }

    pub fn panel(&self) -> &Panel {
        &self.panel
    }

    /// `"N assets × M days"`, what the worker reports when it is ready.
    pub fn describe(&self) -> String {
        format!(
            "{} assets × {} days",
            self.panel.n_assets(),
            self.panel.n_days()
        )
    }

    /// Runs one chunk ([`run_job`] with this worker's records).
    ///
    /// # Errors
    /// A grid that does not build or a range outside it.
    pub fn run(&mut self, job: &Job) -> Result<ChunkRows, String> {
        let before = self.cache.stats();
        let rows = run_job(&self.panel, job, &mut self.cache)?;
        let after = self.cache.stats();
        Ok(ChunkRows {
            rows,
            computed: after.computed - before.computed,
            reused: after.hits - before.hits,
        })
    }

    /// Runs a finish job ([`finish_job`] with this worker's records).
    ///
    /// # Errors
    /// As [`finish_job`].
    pub fn finish(&mut self, job: &FinishJob) -> Result<Finished, String> {
        finish_job(&self.panel, job, &mut self.cache)
    }
}

/// Where one sweep point's time goes, in milliseconds of `now`'s clock: the point from a cold
/// signal cache (`cold`), again from the records it left (`warm`: the blend, the rebalance
/// policy, the simulation and the metrics), so the strategies' signals took `cold - warm`;
/// and the point through [`shared::backtest::metrics_for_config`] (`direct`: no records at
/// all, the engine walking each day). `runs` repetitions each, the fastest kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PointProfile {
    pub cold_ms: f64,
    pub warm_ms: f64,
    pub signals_ms: f64,
    pub direct_ms: f64,
    pub runs: usize,
}

/// Profiles point `index` of the job's grid on `panel` (see [`PointProfile`]). The clock is
/// the caller's (`performance.now()` in a worker, `Instant` natively): the kernels read none.
///
/// # Errors
/// A grid that does not build, a point outside it, or a failing point.
pub fn profile_point(
    panel: &Panel,
    job: &Job,
    runs: usize,
    now: &dyn Fn() -> f64,
) -> Result<PointProfile, String> {
    use shared::backtest;
    let sweep = build_sweep(&job.backtest, &job.sweep)?;
    let (config, settings) = sweep.point_at(job.start).map_err(|e| e.to_string())?;
    let runs = runs.max(1);
    let best = |f: &mut dyn FnMut() -> Result<(), String>| -> Result<f64, String> {
        let mut best = f64::INFINITY;
        for _ in 0..runs {
            let t0 = now();
            f()?;
            best = best.min(now() - t0);
        }
        Ok(best)
    };
    let err = |e: shared::backtest::BacktestError| e.to_string();
    let cold_ms = best(&mut || {
        let mut cache = SignalCache::default();
        backtest::metrics_with_signals(panel, &config, &settings, &mut cache).map_err(err)?;
        Ok(())
    })?;
    let mut cache = SignalCache::default();
    backtest::metrics_with_signals(panel, &config, &settings, &mut cache).map_err(err)?;
    let warm_ms = best(&mut || {
        backtest::metrics_with_signals(panel, &config, &settings, &mut cache).map_err(err)?;
        Ok(())
    })?;
    let direct_ms = best(&mut || {
        backtest::metrics_for_config(panel, &config, &settings).map_err(err)?;
        Ok(())
    })?;
    Ok(PointProfile {
        cold_ms,
        warm_ms,
        signals_ms: (cold_ms - warm_ms).max(0.0),
        direct_ms,
        runs,
    })
}

/// The page's side of the transfer: the panel's columns as `Float64Array`s (copies out of the
/// WebAssembly memory, so they can be transferred) and what the worker needs to rebuild it.
#[cfg(feature = "hydrate")]
pub fn panel_columns(panel: &Panel) -> (js_sys::Object, js_sys::Array) {
    use wasm_bindgen::JsValue;
    let fields = transferred_fields();
    let msg = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&msg, &k.into(), &v);
    };
    set("type", "columns".into());
    set("start", JsValue::from_f64(panel.start().0 as f64));
    set("n_days", JsValue::from_f64(panel.n_days() as f64));
    set(
        "symbols",
        serde_json::to_string(panel.symbols())
            .unwrap_or_default()
            .into(),
    );
    set(
        "fields",
        fields
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(",")
            .into(),
    );
    let columns = js_sys::Array::new();
    let buffers = js_sys::Array::new();
    for f in fields {
        let column = js_sys::Float64Array::from(panel.field(f));
        buffers.push(&column.buffer());
        columns.push(&column);
    }
    set("columns", columns.into());
    (msg, buffers)
}

#[cfg(feature = "hydrate")]
mod exports {
    use super::{panel_from_columns, profile_point, summarize_chunks, FinishJob, Job, Kernel};
    use shared::research::evaluation::Evaluation;
    use shared::{Day, Field};
    use std::cell::RefCell;
    use wasm_bindgen::prelude::*;

    thread_local! {
        static KERNEL: RefCell<Option<Kernel>> = const { RefCell::new(None) };
    }

    #[wasm_bindgen]
    extern "C" {
        /// `performance.now()` of whichever global runs this (window or worker).
        #[wasm_bindgen(js_namespace = performance, js_name = now)]
        fn perf_now() -> f64;
    }

    fn keep(kernel: Kernel) -> String {
        let info = kernel.describe();
        KERNEL.with(|k| *k.borrow_mut() = Some(kernel));
        info
    }

    /// Decodes the panel bytes (the `/api/panel` body) and keeps them for the chunks to come.
    #[wasm_bindgen]
    pub fn lockstep_worker_load_panel(bytes: &[u8]) -> Result<String, JsValue> {
        let panel = shared::panel_codec::decode(bytes)
            .map_err(|e| JsValue::from_str(&format!("decoding the panel: {e}")))?
            .panel;
        Ok(keep(Kernel::new(panel)))
    }

    /// Rebuilds the page's decoded panel from its transferred columns (see
    /// [`super::panel_columns`]) and keeps it for the chunks to come.
    #[wasm_bindgen]
    pub fn lockstep_worker_set_panel(
        start: i32,
        n_days: u32,
        symbols: &str,
        fields: &str,
        columns: js_sys::Array,
    ) -> Result<String, JsValue> {
        let err = |e: String| JsValue::from_str(&format!("receiving the panel: {e}"));
        let symbols: Vec<String> =
            serde_json::from_str(symbols).map_err(|e| err(format!("symbols: {e}")))?;
        let names: Vec<&str> = fields.split(',').filter(|s| !s.is_empty()).collect();
        if names.len() != columns.length() as usize {
            return Err(err(format!(
                "{} field names for {} columns",
                names.len(),
                columns.length()
            )));
        }
        let mut cols = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let field = Field::from_name(name).ok_or_else(|| err(format!("field {name:?}")))?;
            let array: js_sys::Float64Array = columns
                .get(i as u32)
                .dyn_into()
                .map_err(|_| err(format!("column {name} is not a Float64Array")))?;
            cols.push((field, array.to_vec()));
        }
        let panel = panel_from_columns(Day(start), n_days as usize, symbols, cols).map_err(err)?;
        Ok(keep(Kernel::new(panel)))
    }

    fn with_kernel<T>(f: impl FnOnce(&mut Kernel) -> Result<T, String>) -> Result<T, JsValue> {
        KERNEL
            .with(|k| {
                let mut k = k.borrow_mut();
                let kernel = k
                    .as_mut()
                    .ok_or_else(|| "no panel loaded in this worker".to_string())?;
                f(kernel)
            })
            .map_err(|e| JsValue::from_str(&e))
    }

    /// Runs one chunk ([`Job`] as JSON): `{rows, computed, reused}` with the rows as a JSON
    /// string (as the page reads them) and the signal records computed and reused.
    #[wasm_bindgen]
    pub fn lockstep_worker_run_chunk(job: &str) -> Result<js_sys::Object, JsValue> {
        let job: Job =
            serde_json::from_str(job).map_err(|e| JsValue::from_str(&format!("bad job: {e}")))?;
        with_kernel(|k| {
            let out = k.run(&job)?;
            let rows = serde_json::to_string(&out.rows).map_err(|e| e.to_string())?;
            let o = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&o, &"rows".into(), &rows.into());
            let _ = js_sys::Reflect::set(&o, &"computed".into(), &(out.computed as f64).into());
            let _ = js_sys::Reflect::set(&o, &"reused".into(), &(out.reused as f64).into());
            Ok(o)
        })
    }

    /// Runs a [`FinishJob`] (JSON) and returns its [`shared::research::report::Finished`] as
    /// JSON.
    #[wasm_bindgen]
    pub fn lockstep_worker_finish(job: &str) -> Result<String, JsValue> {
        let job: FinishJob = serde_json::from_str(job)
            .map_err(|e| JsValue::from_str(&format!("bad finish job: {e}")))?;
        with_kernel(|k| {
            let done = k.finish(&job)?;
            serde_json::to_string(&done).map_err(|e| e.to_string())
        })
    }

    /// [`super::summarize_chunks`]: `evaluation` is an [`Evaluation`] as JSON, `chunks` the
    /// run's `rows` strings; the [`shared::research::summary::Summary`] as JSON. Needs no
    /// panel.
    #[wasm_bindgen]
    pub fn lockstep_worker_summarize(
        evaluation: &str,
        chunks: js_sys::Array,
    ) -> Result<String, JsValue> {
        let err = |e: String| JsValue::from_str(&format!("summarizing the run: {e}"));
        let evaluation: Evaluation =
            serde_json::from_str(evaluation).map_err(|e| err(format!("evaluation: {e}")))?;
        let chunks: Vec<String> = chunks.iter().filter_map(|c| c.as_string()).collect();
        let summary = summarize_chunks(&evaluation, &chunks).map_err(err)?;
        serde_json::to_string(&summary).map_err(|e| err(e.to_string()))
    }

    /// [`super::PointProfile`] of the job's first point, as JSON.
    #[wasm_bindgen]
    pub fn lockstep_worker_profile(job: &str, runs: u32) -> Result<String, JsValue> {
        let job: Job =
            serde_json::from_str(job).map_err(|e| JsValue::from_str(&format!("bad job: {e}")))?;
        with_kernel(|k| {
            let p = profile_point(k.panel(), &job, runs as usize, &perf_now)?;
            serde_json::to_string(&p).map_err(|e| e.to_string())
        })
    }
}

/// A row as the page reads it: the worker's [`SweepRow`] without `stats` (the inputs of the
/// run's statistics, most of a row's numbers: they reach the summarizing worker in the chunks'
/// strings, and the page never reads them), skipped by the parser rather than built.
#[derive(Deserialize)]
struct PageRow {
    index: usize,
    values: Vec<f64>,
    metrics: Option<shared::metrics::Metrics>,
    error: Option<String>,
}

/// A chunk's rows (the worker's JSON) as the page keeps them: every field but `stats`, with
/// the same parser and the same bits.
///
/// # Errors
/// The text is not a JSON array of rows.
pub fn page_rows(json: &str) -> Result<Vec<shared::sweep::SweepRow>, serde_json::Error> {
    let rows: Vec<PageRow> = serde_json::from_str(json)?;
    Ok(rows
        .into_iter()
        .map(|r| shared::sweep::SweepRow {
            index: r.index,
            values: r.values,
            metrics: r.metrics,
            error: r.error,
            stats: None,
        })
        .collect())
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

    fn vol_sweep(steps: usize) -> SweepSpec {
        SweepSpec {
            scope: "volatility".into(),
            axes: vec![SweepAxisSpec {
                strategy: "volatility".into(),
                param: "volatility_window".into(),
                from: 10.0,
                to: 40.0,
                steps,
            }],
            metric: "sharpe".into(),
            ..Default::default()
        }
    }

    #[test]
    fn single_strategy_scope_and_bad_scopes() {
        let sweep = vol_sweep(4);
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

    fn synth_panel() -> Panel {
        shared::synth::generate(&shared::synth::SynthConfig {
            n_assets: 24,
            n_days: 400,
            ..Default::default()
        })
        .unwrap()
    }

    /// The transfer's round trip: the fields the page downloads, rebuilt in a worker, are the
    /// page's panel bit for bit (the other fields are missing on both sides).
    #[test]
    fn columns_rebuild_the_same_panel() {
        let full = synth_panel();
        let mut page = Panel::new(full.start(), full.n_days(), full.symbols().to_vec()).unwrap();
        for f in transferred_fields() {
            page.set_field(f, full.field(f).to_vec()).unwrap();
        }
        let cols = transferred_fields()
            .into_iter()
            .map(|f| (f, page.field(f).to_vec()))
            .collect();
        let worker =
            panel_from_columns(page.start(), page.n_days(), page.symbols().to_vec(), cols).unwrap();
        let bits = |p: &Panel| -> Vec<u64> {
            Field::ALL
                .iter()
                .flat_map(|&f| p.field(f).iter().map(|v| v.to_bits()).collect::<Vec<_>>())
                .collect()
        };
        assert_eq!(
            (worker.start(), worker.n_days(), worker.symbols()),
            (page.start(), page.n_days(), page.symbols())
        );
        assert_eq!(bits(&worker), bits(&page));
        let short = vec![(Field::Close, vec![1.0; 3])];
        let e = panel_from_columns(page.start(), page.n_days(), page.symbols().to_vec(), short)
            .unwrap_err();
        assert!(e.contains("close"), "{e}");
    }

    /// A worker's rows (cached signals, kept between chunks) equal the uncached reference
    /// path bit for bit, and a second run over the same params computes no signals again.
    #[test]
    fn kernel_rows_equal_the_reference_and_reuse_signals() {
        let panel = synth_panel();
        let sweep = vol_sweep(3);
        let job = Job {
            backtest: default_spec(),
            sweep: sweep.clone(),
            start: 0,
            end: 3,
            universe: None,
        };
        let mut kernel = Kernel::new(panel.clone());
        let first = kernel.run(&job).unwrap();
        assert_eq!(first.computed, 3);
        let reference = build_sweep(&job.backtest, &sweep)
            .unwrap()
            .run_chunk(&panel, 0..3, &mut |_, _| {}, &|| false)
            .unwrap();
        for (a, b) in first.rows.iter().zip(&reference.rows) {
            assert_eq!(a.index, b.index);
            assert_eq!(
                serde_json::to_string(&a.metrics).unwrap(),
                serde_json::to_string(&b.metrics).unwrap()
            );
        }
        let again = kernel.run(&job).unwrap();
        assert_eq!((again.computed, again.reused), (0, 3));
        assert_eq!(
            serde_json::to_string(&again.rows).unwrap(),
            serde_json::to_string(&first.rows).unwrap()
        );
    }

    /// The page reads a chunk's rows without their statistics' inputs: every other field as
    /// the worker sent it, bit for bit.
    #[test]
    fn the_page_reads_every_field_of_a_row_but_its_stats() {
        let job = Job {
            backtest: default_spec(),
            sweep: vol_sweep(4),
            start: 0,
            end: 4,
            universe: None,
        };
        let rows = Kernel::new(synth_panel()).run(&job).unwrap().rows;
        assert!(rows
            .iter()
            .all(|r| r.stats.is_some() && r.metrics.is_some()));
        let sent = serde_json::to_string(&rows).unwrap();
        let read = page_rows(&sent).unwrap();
        let want: Vec<SweepRow> = rows
            .into_iter()
            .map(|r| SweepRow { stats: None, ..r })
            .collect();
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
    }

    /// What the worker summarizes from the chunks' strings (in any order) is the summary of
    /// the rows themselves: the page's read-outs do not depend on where they were computed.
    #[test]
    fn a_summary_of_the_chunks_equals_the_summary_of_the_rows() {
        let panel = synth_panel();
        let sweep = vol_sweep(6);
        let mut kernel = Kernel::new(panel);
        let (mut chunks, mut rows) = (Vec::new(), Vec::new());
        for (start, end) in [(0, 2), (2, 5), (5, 6)] {
            let job = Job {
                backtest: default_spec(),
                sweep: sweep.clone(),
                start,
                end,
                universe: None,
            };
            let out = kernel.run(&job).unwrap();
            chunks.push(serde_json::to_string(&out.rows).unwrap());
            rows.extend(out.rows);
        }
        chunks.reverse();
        let evaluation = Evaluation::default();
        let from_chunks = summarize_chunks(&evaluation, &chunks).unwrap();
        assert_eq!(from_chunks, summarize(&rows, &evaluation));
        assert_eq!(from_chunks.n_trials, 6);
        assert!(from_chunks.deflated.is_some() && from_chunks.overfitting.is_some());
        let bad = [chunks[0].clone(), "not rows".to_string()];
        let e = summarize_chunks(&evaluation, &bad).unwrap_err();
        assert!(e.contains("chunk 1"), "{e}");
    }

    #[test]
    fn a_profile_splits_signals_from_simulation() {
        let panel = synth_panel();
        let job = Job {
            backtest: default_spec(),
            sweep: vol_sweep(3),
            start: 1,
            end: 2,
            universe: None,
        };
        let t0 = std::time::Instant::now();
        let now = move || t0.elapsed().as_secs_f64() * 1000.0;
        let p = profile_point(&panel, &job, 2, &now).unwrap();
        assert_eq!(p.runs, 2);
        assert!(
            p.cold_ms > 0.0 && p.warm_ms > 0.0 && p.direct_ms > 0.0,
            "{p:?}"
        );
        assert_eq!(p.signals_ms, (p.cold_ms - p.warm_ms).max(0.0));
    }
}
