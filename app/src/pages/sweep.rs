//! The Sweep page: a grid over one or two values (strategy params, blend weights, leverage,
//! threshold, costs) or a seeded random search over any of them, run in Web Workers (one per
//! core) in chunks with progress, a time estimate and Cancel. Results: the best rows as they
//! arrive (each opens as a backtest and is a share link), a heat map for grids, the deflated
//! Sharpe ratio and PBO beside it with a plain-language reading, the chosen point in and out of
//! sample, and the walk-forward's stitched out-of-sample curve with the chosen values over time.
//!
//! The workers run `shared`'s sweep with a signal cache per worker (signals once, blends many);
//! after the last row one of them computes the statistics (`shared::research::summary::
//! summarize` over the run's rows, see [`crate::pool`]) and then the chosen point's
//! out-of-sample run and the walk-forward curve (`shared::research::report::finish`): the
//! functions `lockstep sweep` calls, so the page and the CLI agree, and this thread only
//! renders. The workers start as soon as the page has its panel, not at the first run.

use crate::api::costs::ResolvedCosts;
use crate::chart::{HeatCell, HeatMap, LineChart, Series, PALETTE};
use crate::data::PanelRequest;
use crate::data::{now_ms, use_panel};
use crate::format::{metric_format, metrics, YFormat};
use crate::pool::{self, RunTiming};
use crate::run_form::{
    calibration_now, costs_line, use_calibration, PanelStatus, PinnedNotice, VenueCostFields,
};
use crate::share::{
    self, BacktestSpec, SearchDimSpec, SearchSpec, SharedState, SweepAxisSpec, SweepResults,
    SweepSpec, SHARE_VERSION,
};
use crate::spec::{default_spec, needs_calibration, panel_request, with_costs};
use crate::team_links::{SaveTeamLink, TeamLinkResult};
use crate::worker::{build_sweep, sweep_universe, FinishJob};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::metrics::KEYS;
use shared::research::evaluation::{Evaluation, WalkForward};
use shared::research::report::Finished;
use shared::research::summary::Summary;
use shared::strategies::STRATEGY_NAMES;
use shared::sweep::SweepRow;

/// Rows the results table shows (the best by the sort key; the CSV has them all).
const TABLE_ROWS: usize = 50;
/// How often a running sweep's new rows reach the table and the heat map, in milliseconds (and
/// once at the end). The page's thread shares the cores with the workers: every redraw during a
/// run slows the kernels down (docs/benchmarks.md, "Session 6").
#[cfg(feature = "hydrate")]
const ROWS_REFRESH_MS: f64 = 1000.0;
/// How often the progress bar, the count and the time estimate move during a run, in
/// milliseconds (a chunk arrives every few tens of milliseconds; and at the end).
#[cfg(feature = "hydrate")]
const PROGRESS_MS: f64 = 250.0;

/// The metric `key` of a row (NaN for a failed point).
fn row_metric(r: &SweepRow, key: &str) -> f64 {
    r.metrics
        .as_ref()
        .and_then(|m| m.get(key))
        .unwrap_or(f64::NAN)
}

/// Where a sweep stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Idle,
    Running,
    Done,
    Cancelled,
    Failed(String),
}

fn default_sweep() -> SweepSpec {
    SweepSpec {
        scope: "volatility".into(),
        axes: vec![
            SweepAxisSpec {
                strategy: "volatility".into(),
                param: "volatility_window".into(),
                from: 10.0,
                to: 90.0,
                steps: 9,
            },
            SweepAxisSpec {
                strategy: "volatility".into(),
                param: "rebalance_days".into(),
                from: 1.0,
                to: 7.0,
                steps: 7,
            },
        ],
        metric: "sharpe".into(),
        ..Default::default()
    }
}

/// The default search: every weight the shipped config uses, 0 to 0.4, summing to 1, and
/// the leverage from 0.5 to 1.5; 1,000 points.
fn default_search() -> SearchSpec {
    let mut dims: Vec<SearchDimSpec> = [
        "adf",
        "beta",
        "breakout",
        "dilution",
        "kurtosis",
        "leverage_inverted",
        "mean_reversion",
        "size",
        "volatility",
    ]
    .iter()
    .map(|s| SearchDimSpec {
        path: format!("strategy_weights.{s}"),
        lo: 0.0,
        hi: 0.4,
    })
    .collect();
    dims.push(SearchDimSpec {
        path: "leverage".into(),
        lo: 0.5,
        hi: 1.5,
    });
    SearchSpec {
        dims,
        n: 1000,
        seed: 1,
        sum: Some(1.0),
    }
}

/// The search dimensions as the form shows them: one `PATH=LO:HI` per line, as
/// `lockstep sweep --axis` takes them.
fn dims_text(dims: &[SearchDimSpec]) -> String {
    dims.iter()
        .map(|d| format!("{}={}:{}", d.path, d.lo, d.hi))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses the form's dimensions (one `PATH=LO:HI` a line; blank lines skipped).
fn parse_dims(text: &str) -> Result<Vec<SearchDimSpec>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let bad = || format!("line {}: {line:?}: expected PATH=LO:HI", i + 1);
            let (path, bounds) = line.split_once('=').ok_or_else(bad)?;
            let (lo, hi) = bounds.split_once(':').ok_or_else(bad)?;
            let num = |s: &str| s.trim().parse::<f64>().map_err(|_| bad());
            shared::sweep::AxisTarget::parse(path.trim())
                .map_err(|e| format!("line {}: {e}", i + 1))?;
            Ok(SearchDimSpec {
                path: path.trim().to_string(),
                lo: num(lo)?,
                hi: num(hi)?,
            })
        })
        .collect()
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// The names of a row's values: `strategy.param` per grid axis, the path per search dimension.
fn value_names(sweep: &SweepSpec) -> Vec<String> {
    match &sweep.search {
        Some(s) => s.dims.iter().map(|d| d.path.clone()).collect(),
        None => sweep
            .axes
            .iter()
            .map(|a| format!("{}.{}", a.strategy, a.param))
            .collect(),
    }
}

/// The rows as CSV: one column per axis, then every metric.
pub fn to_csv(sweep: &SweepSpec, rows: &[SweepRow]) -> String {
    let mut out = vec!["index".to_string()];
    out.extend(value_names(sweep));
    out.extend(KEYS.iter().map(|k| k.to_string()));
    out.push("error".into());
    let mut csv = out.join(",") + "\n";
    for r in rows {
        let mut cells = vec![r.index.to_string()];
        cells.extend(r.values.iter().map(|v| v.to_string()));
        for k in KEYS {
            cells.push(
                r.metrics
                    .as_ref()
                    .and_then(|m| m.get(k))
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            );
        }
        cells.push(
            r.error
                .clone()
                .unwrap_or_default()
                .replace([',', '\n'], ";"),
        );
        csv += &cells.join(",");
        csv.push('\n');
    }
    csv
}

/// Point `index` of the sweep as a backtest: its config and its settings' policy and costs
/// (a threshold or cost axis moves those).
fn point_spec(base: &BacktestSpec, sweep: &SweepSpec, index: usize) -> Option<BacktestSpec> {
    let sw = build_sweep(base, sweep).ok()?;
    let (config, settings) = sw.point_at(index).ok()?;
    let costs = settings.costs;
    Some(BacktestSpec {
        config: config.to_value(),
        policy: settings.policy.unwrap_or(base.policy),
        fee_bps: costs.map_or(base.fee_bps, |c| c.fee_bps),
        slippage_bps: costs.map_or(base.slippage_bps, |c| c.slippage_bps),
        ..base.clone()
    })
}

/// Where a sweep's points ran: the panel's ETag and data version, and the costs (so that a
/// point opened as a backtest runs on the same data and costs as its row).
#[derive(Clone, Debug, Default, PartialEq)]
struct RanOn {
    data: Option<String>,
    data_version: Option<i64>,
    costs: Option<ResolvedCosts>,
}

/// The Backtest page's link for point `index` (a share link: it carries the whole backtest).
fn point_link(base: &BacktestSpec, sweep: &SweepSpec, index: usize, ran: RanOn) -> Option<String> {
    let backtest = point_spec(base, sweep, index)?;
    let state = SharedState {
        v: SHARE_VERSION,
        kernel: shared::KERNEL_VERSION.into(),
        data: ran.data,
        backtest,
        data_version: ran.data_version,
        universe: None,
        costs: ran.costs,
        sweep: None,
    };
    Some(format!("/backtest?s={}", share::encode(&state)))
}

/// The Sweep page.
#[component]
pub fn SweepPage() -> impl IntoView {
    let panel = use_panel();
    let query = use_query_map();
    let base = RwSignal::new(default_spec());
    // The data version a link pinned (`None`: today's data).
    let as_of = RwSignal::new(None::<i64>);
    // Sweeps run on the base config's venue's panel and listings, as its Backtest and
    // `lockstep sweep` do (the default panel for `any` and `paper`), as of a link's version.
    let wanted = Memo::new(move |_| PanelRequest {
        as_of: as_of.get(),
        ..base.with(panel_request)
    });
    Effect::new(move |_| panel.want(wanted.get()));
    let sweep = RwSignal::new(default_sweep());
    let link_error = RwSignal::new(None::<String>);
    // Under `rebalance.cost_model: "calibrated"`: the account's measured costs (`/api/costs`),
    // or the costs a link that pins its data version ran with.
    let need_costs = Memo::new(move |_| base.with(needs_calibration));
    let calibration = use_calibration(need_costs);
    let link_costs = RwSignal::new(None::<ResolvedCosts>);
    // The costs the last run traded with, and the spec its workers ran (the base with them).
    let run_costs = RwSignal::new(None::<ResolvedCosts>);
    let run_base = StoredValue::new(None::<BacktestSpec>);
    // A shared link restores the base backtest, the sweep and its data version (it does not
    // start it); a team link's stored results are shown below.
    Effect::new(move |_| {
        if let Some(s) = query.with(|q| q.get("s")) {
            match share::decode(&s) {
                Ok(state) => {
                    base.set(state.backtest);
                    as_of.set(state.data_version);
                    link_costs.set(state.data_version.and(state.costs));
                    if let Some(sw) = state.sweep {
                        sweep.set(sw);
                    }
                }
                Err(e) => link_error.set(Some(e.to_string())),
            }
        }
    });
    let rows = RwSignal::new(Vec::<SweepRow>::new());
    // A running sweep's rows not in `rows` yet: the table and the heat map take new rows at
    // most every `ROWS_REFRESH_MS` (and at the end), not on every chunk, so that the page's
    // thread leaves the two cores to the workers.
    let pending = StoredValue::new(Vec::<SweepRow>::new());
    let last_flush = StoredValue::new(f64::NEG_INFINITY);
    let flush = move || {
        let mut new_rows = Vec::new();
        pending.update_value(|p| std::mem::swap(p, &mut new_rows));
        last_flush.set_value(now_ms());
        if !new_rows.is_empty() {
            rows.update(|r| {
                r.append(&mut new_rows);
                r.sort_by_key(|x| x.index);
            });
        }
    };
    let status = RwSignal::new(Status::Idle);
    // `done` is what the page shows; `received` counts the rows as they arrive (shown at most
    // every `PROGRESS_MS`, at the end, on cancel and on failure).
    let done = RwSignal::new(0usize);
    let received = StoredValue::new(0usize);
    let last_progress = StoredValue::new(f64::NEG_INFINITY);
    // Bumped whenever the rows are replaced by another run's: the table's rows are keyed by it
    // and their index (a row's cells and link are built once).
    let rows_epoch = StoredValue::new(0u64);
    let total = RwSignal::new(0usize);
    let started = RwSignal::new(0.0f64);
    let now = RwSignal::new(0.0f64);
    // The rows received so far to the progress bar and text, as of `t`.
    let show_progress = move |t: f64| {
        last_progress.set_value(t);
        done.set(received.get_value());
        now.set(t);
    };
    let sort = RwSignal::new(("sharpe".to_string(), true));
    let summary = RwSignal::new(None::<Summary>);
    let finished = RwSignal::new(None::<Result<Finished, String>>);
    // Set when the table came from a team link rather than from running here.
    let stored_note = RwSignal::new(None::<String>);
    let timing = RwSignal::new(None::<RunTiming>);
    // The pool outlives the page (its workers stay warm); a run must not outlive it.
    on_cleanup(pool::cancel_if_running);
    // The workers start once the panel is in, so the first run does not wait for them.
    let workers_ready = RwSignal::new(0usize);
    Effect::new(move |_| {
        if let Some(Ok(loaded)) = panel.0.get() {
            pool::warm(loaded.panel.clone(), move |n| workers_ready.set(n));
        }
    });

    let grid = Memo::new(move |_| {
        let b = base.get();
        let s = sweep.get();
        build_sweep(&b, &s).map(|sw| sw.n_points())
    });
    let etag = move || match panel.ready_for_untracked(wanted.get_untracked()) {
        Some(Ok(p)) => p.etag.clone(),
        _ => None,
    };
    // The data and costs the rows ran on (the panel's ETag and version, the run's costs).
    let ran_on = move || match panel.ready_for_untracked(wanted.get_untracked()) {
        Some(Ok(p)) => RanOn {
            data: p.etag.clone(),
            data_version: p.data_version,
            costs: run_costs.get_untracked(),
        },
        _ => RanOn::default(),
    };

    // Once the statistics are in (computed in a worker after the last row): the chosen point
    // (the user's, or the best in sample) and the walk-forward, in a worker too.
    let finish = move || {
        let Some(sum) = summary.get_untracked() else {
            return;
        };
        let s = sweep.get_untracked();
        let chosen = s
            .chosen
            .filter(|&i| i < total.get_untracked())
            .or(sum.chosen);
        let in_sample = rows.with_untracked(|r| {
            r.iter()
                .find(|r| Some(r.index) == chosen)
                .and_then(|r| r.metrics)
        });
        let job = FinishJob {
            backtest: run_base.get_value().unwrap_or_else(|| base.get_untracked()),
            sweep: s,
            chosen,
            in_sample,
            steps: sum.walk_forward,
            universe: match panel.ready_for_untracked(wanted.get_untracked()) {
                Some(Ok(p)) => p.universe.clone(),
                _ => None,
            },
        };
        finished.set(None);
        pool::finish(&job, move |r| finished.set(Some(r)));
    };
    // Set when the statistics failed in the worker.
    let summary_error = RwSignal::new(None::<String>);

    let start = Callback::new(move |_: ()| {
        let Ok(n) = grid.get_untracked() else { return };
        let Some(Ok(loaded)) = panel.ready_for_untracked(wanted.get_untracked()) else {
            return;
        };
        let pinned_costs = link_costs.get_untracked();
        let calibrated = if pinned_costs.is_some() {
            Err("pinned by the link".to_string())
        } else {
            match calibration_now(need_costs.get_untracked(), calibration) {
                Some(c) => c,
                None => return, // the Run button waits for them
            }
        };
        let (job_spec, costs) = with_costs(
            &base.get_untracked(),
            calibrated.as_ref().map_err(Clone::clone),
            pinned_costs.as_ref(),
        );
        run_base.set_value(Some(job_spec.clone()));
        run_costs.set(Some(costs));
        rows_epoch.update_value(|e| *e += 1);
        rows.set(Vec::new());
        pending.set_value(Vec::new());
        last_flush.set_value(f64::NEG_INFINITY);
        received.set_value(0);
        last_progress.set_value(f64::NEG_INFINITY);
        timing.set(None);
        summary.set(None);
        summary_error.set(None);
        finished.set(None);
        stored_note.set(None);
        done.set(0);
        total.set(n);
        started.set(now_ms());
        status.set(Status::Running);
        let job_base = (job_spec, sweep.get_untracked());
        #[cfg(feature = "hydrate")]
        {
            let on_rows = move |mut new_rows: Vec<SweepRow>| {
                received.update_value(|d| *d += new_rows.len());
                let t = now_ms();
                pending.update_value(|p| p.append(&mut new_rows));
                let last = received.get_value() >= total.get_untracked();
                if last || t - last_flush.get_value() >= ROWS_REFRESH_MS {
                    flush();
                }
                if last {
                    show_progress(now_ms());
                    status.set(Status::Done);
                } else if t - last_progress.get_value() >= PROGRESS_MS {
                    show_progress(t);
                }
            };
            let on_summary = move |r: Result<Summary, String>, t: RunTiming| {
                timing.set(Some(t));
                match r {
                    Ok(sum) => {
                        summary.set(Some(sum));
                        finish();
                    }
                    Err(e) => summary_error.set(Some(e)),
                }
            };
            let callbacks = pool::RunCallbacks {
                on_rows: Box::new(on_rows),
                on_error: Box::new(move |msg: String| {
                    flush();
                    show_progress(now_ms());
                    status.set(Status::Failed(msg))
                }),
                on_done: Box::new(move |t: RunTiming| timing.set(Some(t))),
                on_summary: Box::new(on_summary),
            };
            let started = pool::start_sweep(
                loaded.panel.clone(),
                job_base.0,
                job_base.1,
                loaded.universe.clone(),
                n,
                callbacks,
            );
            if let Err(e) = started {
                status.set(Status::Failed(e));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (job_base, loaded, finish, last_progress);
    });
    let cancel = move |_| {
        pool::cancel(); // terminates the workers mid-chunk; fresh ones start in the background
        flush(); // the rows finished so far
        show_progress(now_ms());
        status.set(Status::Cancelled);
    };
    // Choosing a point (a row's "Choose"): its out-of-sample run and the share link follow.
    let choose = Callback::new(move |index: usize| {
        sweep.update(|s| s.chosen = Some(index));
        if status.get_untracked() == Status::Done && stored_note.get_untracked().is_none() {
            finish(); // the statistics stay: they are the run's, whichever point is chosen
        }
    });

    // A team link with stored results (`?link=<id>`): shown as stored when they were computed
    // on this data and kernel, re-run otherwise.
    let stored =
        LocalResource::new(move || {
            let id = query.with(|q| q.get("link"));
            async move {
                match id {
                    Some(id) => {
                        let r: Result<crate::api::TeamLinkResults, String> =
                            crate::fetch::get_json(&format!("/api/links/{id}/results")).await;
                        Some(r.and_then(|r| {
                            share::decode_results(&r.results).map_err(|e| e.to_string())
                        }))
                    }
                    None => None,
                }
            }
        });
    Effect::new(move |applied: Option<bool>| {
        if applied == Some(true) {
            return true;
        }
        let Some(Some(result)) = stored.get() else {
            return false;
        };
        let Some(Ok(loaded)) = panel.ready_for(wanted.get()) else {
            return false;
        };
        match result {
            Ok(r) if r.kernel == shared::KERNEL_VERSION && r.data == loaded.etag => {
                total.set(r.points);
                done.set(r.points);
                started.set(0.0);
                now.set(0.0);
                stored_note.set(Some(format!(
                    "Shown from the team link: {} points computed on this data version ({}), not re-run{}.",
                    r.points,
                    r.data.clone().unwrap_or_default(),
                    if r.rows.len() < r.points {
                        format!("; the best {} rows were stored", r.rows.len())
                    } else {
                        String::new()
                    }
                )));
                rows_epoch.update_value(|e| *e += 1);
                rows.set(r.rows);
                summary.set(Some(r.summary));
                finished.set(Some(Ok(r.finished)));
                status.set(Status::Done);
            }
            Ok(r) => {
                link_error.set(Some(format!(
                    "The team link's results were computed on data {} with kernel {}; this server has data {} and kernel {}: re-running.",
                    r.data.unwrap_or_default(),
                    r.kernel,
                    loaded.etag.clone().unwrap_or_default(),
                    shared::KERNEL_VERSION
                )));
                start.run(());
            }
            Err(e) => link_error.set(Some(format!("The team link's results: {e}"))),
        }
        true
    });

    let progress_text = move || {
        let (d, t) = (done.get(), total.get());
        let elapsed = (now.get() - started.get()).max(0.0) / 1000.0;
        if let Some(note) = stored_note.get() {
            return note;
        }
        match status.get() {
            Status::Idle => String::new(),
            Status::Running if d == 0 => format!("0 / {t} points · starting workers…"),
            Status::Running => {
                let eta = elapsed / d as f64 * (t - d) as f64;
                format!("{d} / {t} points · {elapsed:.1} s elapsed · about {eta:.1} s left")
            }
            Status::Done => format!("{t} points in {elapsed:.2} s"),
            Status::Cancelled => format!("Cancelled after {d} of {t} points"),
            Status::Failed(e) => format!("Failed: {e}"),
        }
    };

    let navigate = use_navigate();
    let open_point = Callback::new(move |index: usize| {
        let b = base.get_untracked();
        let s = sweep.get_untracked();
        if let Some(url) = point_link(&b, &s, index, ran_on()) {
            navigate(&url, Default::default());
        }
    });

    // Heat map (grids): columns = first axis, rows = second axis (one row for a 1-D sweep).
    let heat_cols = Signal::derive(move || {
        sweep.with(|s| {
            s.axes
                .first()
                .map(|a| {
                    crate::worker::axis_values(a.from, a.to, a.steps)
                        .into_iter()
                        .map(fmt_value)
                        .collect()
                })
                .unwrap_or_default()
        })
    });
    let heat_rows = Signal::derive(move || {
        sweep.with(|s| match s.axes.get(1) {
            Some(a) => crate::worker::axis_values(a.from, a.to, a.steps)
                .into_iter()
                .map(fmt_value)
                .collect(),
            None => vec![String::new()],
        })
    });
    let heat_cells = Signal::derive(move || {
        let key = sweep.with(|s| s.metric.clone());
        let n_cols = sweep
            .with(|s| s.axes.first().map(|a| a.steps).unwrap_or(0))
            .max(1);
        rows.with(|rs| {
            rs.iter()
                .map(|r| HeatCell {
                    col: r.index % n_cols,
                    row: r.index / n_cols,
                    value: row_metric(r, &key),
                })
                .collect()
        })
    });
    let metric_format = move || sweep.with(|s| metric_format(&s.metric));
    let on_cell = Callback::new(move |(c, r): (usize, usize)| {
        let n_cols = sweep
            .with_untracked(|s| s.axes.first().map(|a| a.steps).unwrap_or(1))
            .max(1);
        open_point.run(r * n_cols + c);
    });
    let is_search = move || sweep.with(|s| s.search.is_some());

    // Built once the run is over, not for every chunk (10,000 rows are megabytes of CSV).
    let csv_href = move || {
        if status.get() == Status::Running {
            return String::new();
        }
        let csv = rows.with(|r| to_csv(&sweep.get(), r));
        format!("data:text/csv;charset=utf-8,{}", urlencode(&csv))
    };
    // The page's state as a link carries it ("Copy link" and "Save team link").
    let encoded_state = Callback::new(move |_: ()| {
        let ran = ran_on();
        let universe = panel
            .ready_for_untracked(wanted.get_untracked())
            .and_then(Result::ok)
            .and_then(|p| {
                let (b, s) = (base.get_untracked(), sweep.get_untracked());
                sweep_universe(&b, &s, &p.panel, p.universe.as_ref()).ok()
            })
            .map(|u| u.summary);
        let state = SharedState {
            v: SHARE_VERSION,
            kernel: shared::KERNEL_VERSION.into(),
            data: ran.data,
            backtest: base.get_untracked(),
            data_version: ran.data_version,
            universe,
            costs: ran.costs,
            sweep: Some(sweep.get_untracked()),
        };
        share::encode(&state)
    });
    // A team link stores the finished results beside the state.
    let encoded_results = Callback::new(move |_: ()| {
        if status.get_untracked() != Status::Done {
            return None;
        }
        let (Some(sum), Some(Ok(fin))) = (summary.get_untracked(), finished.get_untracked()) else {
            return None;
        };
        let s = sweep.get_untracked();
        let base = SweepResults {
            kernel: shared::KERNEL_VERSION.into(),
            data: etag(),
            rows: Vec::new(),
            points: 0,
            summary: sum,
            finished: fin.clone(),
        };
        let keep = fin.chosen.as_ref().map(|c| c.index);
        rows.with_untracked(|r| share::results_for_link(base, r, &s.metric, keep))
    });
    let team_link: crate::team_links::Saved = RwSignal::new(None);
    let copy_link = move |_| {
        let url = format!("/sweep?s={}", encoded_state.run(()));
        #[cfg(feature = "hydrate")]
        if let Some(w) = web_sys::window() {
            if let Ok(h) = w.history() {
                let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
            }
            let origin = w.location().origin().unwrap_or_default();
            let _ = w
                .navigator()
                .clipboard()
                .write_text(&format!("{origin}{url}"));
        }
        let _ = url;
    };

    // Leaves the link's pinned data for today's and runs the sweep again once that panel is in.
    let rerun_pending = RwSignal::new(false);
    let rerun_today = Callback::new(move |_: ()| {
        as_of.set(None);
        link_costs.set(None);
        rerun_pending.set(true);
    });
    Effect::new(move |_| {
        if rerun_pending.get()
            && matches!(panel.ready_for(wanted.get()), Some(Ok(_)))
            && calibration_now(need_costs.get(), calibration).is_some()
            && status.get_untracked() != Status::Running
        {
            rerun_pending.set(false);
            start.run(());
        }
    });

    view! {
        <div class="page sweep">
            <section class="card">
                <div class="card-head">
                    <h1>"Sweep"</h1>
                    <span class="muted" id="sweep-size">{move || match grid.get() {
                        Ok(n) if is_search() => format!("{n} search points"),
                        Ok(n) => format!("{n} grid points"),
                        Err(e) => e,
                    }}</span>
                </div>
                <PanelStatus panel=panel wanted=wanted/>
                {move || link_error.get().map(|e| view! { <p class="error" id="link-error">{e}</p> })}
                <PinnedNotice as_of=as_of rerun=rerun_today/>
                <div class="settings">
                    <VenueCostFields spec=base/>
                </div>
                {move || run_costs.get().map(|c| costs_line("sweep-costs", &c))}
                // Which universe the points trade: the base config's venue's, as its Backtest.
                {move || {
                    let Some(Ok(loaded)) = panel.ready_for(wanted.get()) else { return None };
                    let line = base.with(|b| sweep.with(|s| {
                        sweep_universe(b, s, &loaded.panel, loaded.universe.as_ref())
                    }));
                    line.ok().map(|u| view! {
                        <p class="muted" id="sweep-universe">{format!("Universe: {}", u.summary)}</p>
                    })
                }}
                <SweepForm sweep=sweep/>
                <EvaluationForm sweep=sweep/>
                <div class="actions">
                    <button
                        id="run-sweep"
                        disabled=move || grid.get().is_err() || status.get() == Status::Running || !matches!(panel.ready_for(wanted.get()), Some(Ok(_)))
                            || (link_costs.with(Option::is_none) && calibration_now(need_costs.get(), calibration).is_none())
                        on:click=move |_| start.run(())
                    >
                        {move || if is_search() { "Run search" } else { "Run sweep" }}
                    </button>
                    <button class="secondary" id="cancel-sweep" disabled=move || status.get() != Status::Running on:click=cancel>
                        "Cancel"
                    </button>
                    <button class="secondary" id="copy-link" on:click=copy_link>"Copy link"</button>
                    <SaveTeamLink state=encoded_state saved=team_link results=encoded_results/>
                    <a
                        class="button secondary"
                        id="export-csv"
                        download="lockstep-sweep.csv"
                        href=csv_href
                        class:hidden=move || rows.with(|r| r.is_empty()) || status.get() == Status::Running
                    >
                        "Export CSV"
                    </a>
                </div>
                // A <progress> element, not a div sized by a style attribute: the page's CSP allows
                // no inline styles (docs/security.md).
                <progress
                    class="progress"
                    id="sweep-progress"
                    class:hidden=move || status.get() == Status::Idle
                    max=move || total.get().max(1)
                    value=move || done.get()
                ></progress>
                <p class="muted" id="sweep-pool" data-ready=move || (workers_ready.get() > 0).to_string()>
                    {move || match workers_ready.get() {
                        0 => "Starting the workers…".to_string(),
                        n => format!("{n} workers ready"),
                    }}
                </p>
                <p class="muted" id="sweep-status" data-status=move || format!("{:?}", status.get()).to_lowercase()>
                    {progress_text}
                </p>
                // The run's timing counters (crate::pool::RunTiming), also as JSON for the
                // browser benchmark.
                <p
                    class="muted"
                    id="sweep-timing"
                    class:hidden=move || timing.with(|t| t.is_none())
                    data-timing=move || timing.with(|t| t.as_ref().and_then(|t| serde_json::to_string(t).ok()).unwrap_or_default())
                >
                    {move || timing.with(|t| t.as_ref().map(RunTiming::summary).unwrap_or_default())}
                </p>
                <TeamLinkResult saved=team_link/>
            </section>
            <section class="card sweep-results">
                <div class="heat-and-readouts">
                    {move || (!is_search()).then(|| view! {
                        <HeatMap
                            id="sweep-heatmap"
                            title="Heat map of the chosen metric (click a cell to open it as a backtest)"
                            cols=heat_cols
                            rows=heat_rows
                            cells=heat_cells
                            y_format=metric_format()
                            on_click=on_cell
                        />
                    })}
                    <Readouts summary=summary pending=Signal::derive(move || status.get() == Status::Done && stored_note.with(Option::is_none)) error=summary_error/>
                </div>
                <ResultsTable sweep=sweep base=base rows=rows epoch=rows_epoch sort=sort open=open_point choose=choose ran_on=Callback::new(move |_: ()| ran_on())/>
            </section>
            <ChosenPoint sweep=sweep finished=finished/>
            <WalkForwardView sweep=sweep finished=finished/>
        </div>
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The deflated Sharpe ratio and PBO of the tried points, with the one-line reading.
#[component]
fn Readouts(
    summary: RwSignal<Option<Summary>>,
    /// The rows are all in (the statistics are being computed while there is no summary).
    pending: Signal<bool>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let ann = shared::metrics::DAYS_PER_YEAR.sqrt();
    move || {
        if let Some(e) = error.get() {
            return Some(view! { <p class="error" id="summary-error">{e}</p> }.into_any());
        }
        if summary.with(Option::is_none) && pending.get() {
            return Some(
                view! { <p class="muted" id="summary-pending">"Computing the deflated Sharpe ratio and PBO in a worker…"</p> }
                    .into_any(),
            );
        }
        summary.get().map(|s| {
            let dsr = s.deflated.as_ref().map(|d| {
                view! {
                    <p id="dsr" data-dsr=d.dsr.to_string()>
                        <strong>"Deflated Sharpe ratio: " {format!("{:.3}", d.dsr)}</strong>
                        {format!(
                            " — best Sharpe {:.2} of {} tries; skill-less tries reach about {:.2}",
                            d.sharpe * ann,
                            s.n_trials,
                            d.expected_max * ann
                        )}
                    </p>
                }
            });
            let pbo = s.overfitting.as_ref().map(|o| {
                view! {
                    <p id="pbo" data-pbo=o.pbo.to_string()>
                        <strong>"Probability of backtest overfitting: " {format!("{:.3}", o.pbo)}</strong>
                        {format!(" — CSCV over {} splits", o.n_splits)}
                    </p>
                }
            });
            let notes = s.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view();
            view! {
                <div class="readouts" id="readouts">
                    {dsr}
                    {pbo}
                    <p id="reading" class="reading">{s.reading.clone()}</p>
                    <ul class="muted notes">{notes}</ul>
                </div>
            }
            .into_any()
        })
    }
}

/// The chosen point's metrics in and out of sample, side by side.
#[component]
fn ChosenPoint(
    sweep: RwSignal<SweepSpec>,
    finished: RwSignal<Option<Result<Finished, String>>>,
) -> impl IntoView {
    move || {
        let f = finished.get()?;
        let f = match f {
            Ok(f) => f,
            Err(e) => return Some(view! { <section class="card"><p class="error" id="finish-error">{e}</p></section> }.into_any()),
        };
        let c = f.chosen?;
        let names = sweep.with(value_names);
        let values = names
            .iter()
            .zip(&c.values)
            .map(|(n, v)| format!("{n} = {}", fmt_value(*v)))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = metrics()
            .map(|m| {
                let is = c.in_sample.and_then(|x| x.get(m.key));
                let oos = c.out_of_sample.and_then(|x| x.get(m.key));
                let cell = |v: Option<f64>| match v {
                    Some(v) if !v.is_nan() => m.format.format(v),
                    _ => "—".to_string(),
                };
                view! {
                    <tr data-metric=m.key>
                        <td>{m.label}</td>
                        <td class="num" data-exact=is.map(|v| v.to_string()).unwrap_or_default()>{cell(is)}</td>
                        <td class="num" data-exact=oos.map(|v| v.to_string()).unwrap_or_default()>{cell(oos)}</td>
                    </tr>
                }
            })
            .collect_view();
        Some(
            view! {
                <section class="card" id="chosen-point" data-index=c.index.to_string()>
                    <h2>"Chosen point: #" {c.index}</h2>
                    <p class="muted">{values}</p>
                    {c.out_of_sample.is_none().then(|| view! {
                        <p class="muted">"No split: set a first out-of-sample day to see this point after the days it was chosen on."</p>
                    })}
                    <table class="metrics-table" id="chosen-metrics">
                        <thead><tr><th>"Metric"</th><th>"In sample"</th><th>"Out of sample"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </section>
            }
            .into_any(),
        )
    }
}

/// The walk-forward's stitched out-of-sample equity and the chosen values over time.
#[component]
fn WalkForwardView(
    sweep: RwSignal<SweepSpec>,
    finished: RwSignal<Option<Result<Finished, String>>>,
) -> impl IntoView {
    let curve = Memo::new(move |_| {
        finished
            .get()
            .and_then(|f| f.ok())
            .and_then(|f| f.walk_forward)
    });
    let equity = Signal::derive(move || {
        curve
            .get()
            .map(|c| {
                vec![Series {
                    name: "Walk-forward NAV (out of sample)".into(),
                    color: PALETTE[0],
                    points: c.equity.iter().map(|p| (p.date, p.nav)).collect(),
                }]
            })
            .unwrap_or_default()
    });
    let chosen = Signal::derive(move || {
        let Some(c) = curve.get() else {
            return Vec::new();
        };
        let names = sweep.with(value_names);
        names
            .iter()
            .enumerate()
            .map(|(k, name)| Series {
                name: name.clone(),
                color: PALETTE[k % PALETTE.len()],
                points: c
                    .segments
                    .iter()
                    .filter_map(|s| s.values.get(k).map(|v| (s, *v)))
                    .flat_map(|(s, v)| [(s.start, v), (s.end, v)])
                    .collect(),
            })
            .collect()
    });
    move || {
        curve.get().map(|c| {
            let m = c.metrics;
            view! {
                <section class="card" id="walk-forward" data-segments=c.segments.len().to_string()>
                    <h2>"Walk-forward (out of sample)"</h2>
                    <p id="wf-metrics" data-sharpe=m.sharpe.to_string()>
                        {format!(
                            "{} re-choices · stitched out-of-sample Sharpe {:.2} · total return {} · max drawdown {}",
                            c.segments.len(),
                            m.sharpe,
                            YFormat::Percent.format(m.total_return),
                            YFormat::Percent.format(m.max_drawdown)
                        )}
                    </p>
                    <LineChart id="wf-equity" title="Stitched out-of-sample equity (NAV)" series=equity/>
                    <LineChart id="wf-chosen" title="Chosen values over time" series=chosen height=240/>
                </section>
            }
        })
    }
}

#[component]
fn SweepForm(sweep: RwSignal<SweepSpec>) -> impl IntoView {
    let scope_options = std::iter::once("blend")
        .chain(STRATEGY_NAMES.iter().copied())
        .map(|s| view! { <option value=s>{s}</option> })
        .collect_view();
    let axis_editor = move |i: usize| {
        let field = move |label: &'static str,
                          get: fn(&SweepAxisSpec) -> String,
                          set: fn(&mut SweepAxisSpec, &str)| {
            view! {
                <label>
                    {label}
                    <input
                        name=format!("axis{i}-{}", label.to_lowercase())
                        prop:value=move || sweep.with(|s| s.axes.get(i).map(get).unwrap_or_default())
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            sweep.update(|s| {
                                if let Some(a) = s.axes.get_mut(i) {
                                    set(a, v.trim());
                                }
                                s.chosen = None;
                            });
                        }
                    />
                </label>
            }
        };
        view! {
            <fieldset class="axis">
                <legend>{format!("Axis {}", i + 1)}</legend>
                {field("Strategy", |a| a.strategy.clone(), |a, v| a.strategy = v.to_string())}
                {field("Param", |a| a.param.clone(), |a, v| a.param = v.to_string())}
                {field("From", |a| a.from.to_string(), |a, v| a.from = v.parse().unwrap_or(f64::NAN))}
                {field("To", |a| a.to.to_string(), |a, v| a.to = v.parse().unwrap_or(f64::NAN))}
                {field("Steps", |a| a.steps.to_string(), |a, v| a.steps = v.parse().unwrap_or(0))}
            </fieldset>
        }
    };
    let metric_options = metrics()
        .map(|m| view! { <option value=m.key>{m.label}</option> })
        .collect_view();
    let dims_error = RwSignal::new(None::<String>);
    let search_editor = move || {
        let text = sweep.with_untracked(|s| {
            s.search
                .as_ref()
                .map(|x| dims_text(&x.dims))
                .unwrap_or_default()
        });
        let num_field = move |label: &'static str,
                              name: &'static str,
                              get: fn(&SearchSpec) -> String,
                              set: fn(&mut SearchSpec, &str)| {
            view! {
                <label>
                    {label}
                    <input
                        name=name
                        prop:value=move || sweep.with(|s| s.search.as_ref().map(get).unwrap_or_default())
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            sweep.update(|s| {
                                if let Some(x) = s.search.as_mut() {
                                    set(x, v.trim());
                                }
                                s.chosen = None;
                            });
                        }
                    />
                </label>
            }
        };
        view! {
            <fieldset class="search">
                <legend>"Random search"</legend>
                <label class="wide">
                    "Dimensions (one PATH=LO:HI a line: strategy_weights.NAME, leverage, rebalance.threshold, rebalance.fee_bps, params.NAME.KEY …)"
                    <textarea
                        name="search-dims"
                        rows="8"
                        prop:value=text
                        on:change=move |ev| {
                            match parse_dims(&event_target_value(&ev)) {
                                Ok(dims) => {
                                    dims_error.set(None);
                                    sweep.update(|s| {
                                        if let Some(x) = s.search.as_mut() {
                                            x.dims = dims;
                                        }
                                        s.chosen = None;
                                    });
                                }
                                Err(e) => dims_error.set(Some(e)),
                            }
                        }
                    ></textarea>
                </label>
                {move || dims_error.get().map(|e| view! { <p class="error" id="dims-error">{e}</p> })}
                {num_field("Points", "search-n", |x| x.n.to_string(), |x, v| x.n = v.parse().unwrap_or(0))}
                {num_field("Seed", "search-seed", |x| x.seed.to_string(), |x, v| x.seed = v.parse().unwrap_or(0))}
                {num_field("Weights sum to (blank: free)", "search-sum", |x| x.sum.map(|v| v.to_string()).unwrap_or_default(), |x, v| x.sum = if v.is_empty() { None } else { v.parse().ok() })}
            </fieldset>
        }
    };
    view! {
        <div class="sweep-form">
            <label>
                "Mode"
                <select
                    name="mode"
                    prop:value=move || sweep.with(|s| if s.search.is_some() { "search" } else { "grid" })
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        sweep.update(|s| {
                            s.chosen = None;
                            if v == "search" {
                                s.search = Some(default_search());
                                s.scope = "blend".into();
                            } else {
                                s.search = None;
                            }
                        });
                    }
                >
                    <option value="grid">"Grid"</option>
                    <option value="search">"Random search"</option>
                </select>
            </label>
            <label>
                "Scope"
                <select
                    name="scope"
                    prop:value=move || sweep.with(|s| s.scope.clone())
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        sweep.update(|s| {
                            if v != "blend" {
                                for a in &mut s.axes {
                                    a.strategy = v.clone();
                                }
                            }
                            s.scope = v;
                            s.chosen = None;
                        });
                    }
                >
                    {scope_options}
                </select>
            </label>
            <label>
                "Metric"
                <select
                    name="metric"
                    prop:value=move || sweep.with(|s| s.metric.clone())
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        sweep.update(|s| s.metric = v);
                    }
                >
                    {metric_options}
                </select>
            </label>
            {move || sweep.with(|s| s.search.is_some()).then(search_editor)}
            {move || sweep.with(|s| s.search.is_none()).then(|| view! {
                <label class="toggle">
                    <input
                        type="checkbox"
                        name="two-axes"
                        prop:checked=move || sweep.with(|s| s.axes.len() == 2)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            sweep.update(|s| {
                                if on && s.axes.len() == 1 {
                                    s.axes.push(default_sweep().axes[1].clone());
                                } else if !on {
                                    s.axes.truncate(1);
                                }
                                s.chosen = None;
                            });
                        }
                    />
                    " Second axis"
                </label>
                <p class="muted hint">"Param: a strategy parameter, or weight / cap (of the strategy), leverage, threshold, fee_bps, slippage_bps (blend scope)."</p>
                {axis_editor(0)}
                {move || (sweep.with(|s| s.axes.len()) == 2).then(|| axis_editor(1))}
            })}
        </div>
    }
}

/// Split, CSCV blocks and walk-forward.
#[component]
fn EvaluationForm(sweep: RwSignal<SweepSpec>) -> impl IntoView {
    let get = move |f: fn(&Evaluation) -> String| {
        move || sweep.with(|s| f(&s.evaluation.clone().unwrap_or_default()))
    };
    let set = move |f: fn(&mut Evaluation, &str)| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            sweep.update(|s| {
                let mut e = s.evaluation.clone().unwrap_or_default();
                f(&mut e, v.trim());
                s.evaluation = (e != Evaluation::default()).then_some(e);
                s.chosen = None;
            });
        }
    };
    fn wf(e: &mut Evaluation) -> &mut WalkForward {
        e.walk_forward.get_or_insert(WalkForward {
            step_days: 182,
            train_steps: 4,
            anchored: false,
        })
    }
    view! {
        <fieldset class="evaluation">
            <legend>"Out of sample"</legend>
            <label>
                "First out-of-sample day (blank: none)"
                <input
                    name="split"
                    placeholder="YYYY-MM-DD"
                    prop:value=get(|e| e.split.map(|d| d.to_string()).unwrap_or_default())
                    on:change=set(|e, v| e.split = v.parse().ok())
                />
            </label>
            <label>
                "CSCV blocks (PBO; 0 = off)"
                <input
                    name="cscv-blocks"
                    prop:value=get(|e| e.cscv_blocks.to_string())
                    on:change=set(|e, v| e.cscv_blocks = v.parse().unwrap_or(16))
                />
            </label>
            <label>
                "Walk-forward: re-choose every N days (blank: off)"
                <input
                    name="wf-step"
                    prop:value=get(|e| e.walk_forward.map(|w| w.step_days.to_string()).unwrap_or_default())
                    on:change=set(|e, v| match v.parse::<u32>() {
                        Ok(n) if n > 0 => wf(e).step_days = n,
                        _ => e.walk_forward = None,
                    })
                />
            </label>
            <label>
                "on the past K steps"
                <input
                    name="wf-train"
                    prop:value=get(|e| e.walk_forward.map(|w| w.train_steps.to_string()).unwrap_or_default())
                    on:change=set(|e, v| if let Ok(n) = v.parse::<u32>() {
                        wf(e).train_steps = n;
                    })
                />
            </label>
            <label>
                "Windows"
                <select
                    name="wf-mode"
                    prop:value=get(|e| if e.walk_forward.is_some_and(|w| w.anchored) { "anchored".into() } else { "rolling".into() })
                    on:change=set(|e, v| if let Some(w) = e.walk_forward.as_mut() {
                        w.anchored = v == "anchored";
                    })
                >
                    <option value="rolling">"rolling"</option>
                    <option value="anchored">"anchored"</option>
                </select>
            </label>
        </fieldset>
    }
}

#[component]
fn ResultsTable(
    sweep: RwSignal<SweepSpec>,
    base: RwSignal<BacktestSpec>,
    rows: RwSignal<Vec<SweepRow>>,
    /// Which run the rows are from (see the table's keys).
    epoch: StoredValue<u64>,
    sort: RwSignal<(String, bool)>,
    open: Callback<usize>,
    choose: Callback<usize>,
    /// The data and costs the rows ran on (their point links carry them).
    ran_on: Callback<(), RanOn>,
) -> impl IntoView {
    let header = move || {
        let names = sweep.with(value_names);
        let metric_heads = metrics().map(|m| {
            let k = m.key.to_string();
            let k2 = k.clone();
            view! {
                <th class="sortable" on:click=move |_| sort.update(|(key, desc)| {
                    if *key == k {
                        *desc = !*desc;
                    } else {
                        *key = k.clone();
                        *desc = true;
                    }
                })>
                    {m.label}
                    {move || sort.with(|(key, desc)| if *key == k2 { if *desc { " ▼" } else { " ▲" } } else { "" })}
                </th>
            }
        });
        view! {
            <tr>
                <th>"#"</th>
                {names.into_iter().map(|a| view! { <th>{a}</th> }).collect_view()}
                {metric_heads.collect_view()}
                <th></th>
            </tr>
        }
    };
    // The best TABLE_ROWS by the sort key (NaN, failed points, last whatever the direction);
    // only those are copied out of the rows.
    let top = move || {
        let (key, desc) = sort.get();
        rows.with(|all| {
            let mut refs: Vec<(f64, &SweepRow)> =
                all.iter().map(|r| (row_metric(r, &key), r)).collect();
            let order = |(va, a): &(f64, &SweepRow), (vb, b): &(f64, &SweepRow)| match (
                va.is_nan(),
                vb.is_nan(),
            ) {
                (true, true) => a.index.cmp(&b.index),
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if desc => vb.total_cmp(va).then(a.index.cmp(&b.index)),
                _ => va.total_cmp(vb).then(a.index.cmp(&b.index)),
            };
            if refs.len() > TABLE_ROWS {
                refs.select_nth_unstable_by(TABLE_ROWS - 1, order);
                refs.truncate(TABLE_ROWS);
            }
            refs.sort_by(order);
            refs.into_iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()
        })
    };
    // A row's cells and link are built when it enters the table and kept while it stays (a
    // row never changes; the rows of another run have another epoch), so a refresh during a
    // run builds only the rows new to the best 50, and a sort only moves them.
    let row = move |r: SweepRow| {
        let index = r.index;
        let link = point_link(
            &base.get_untracked(),
            &sweep.get_untracked(),
            index,
            ran_on.run(()),
        )
        .unwrap_or_default();
        let values = r
            .values
            .iter()
            .map(|v| view! { <td class="num">{fmt_value(*v)}</td> })
            .collect_view();
        let cells = match (&r.metrics, &r.error) {
            (Some(_), _) => metrics()
                .map(|m| {
                    let v = row_metric(&r, m.key);
                    view! { <td class="num" data-metric=m.key data-exact=v.to_string()>{if v.is_nan() { "—".to_string() } else { m.format.format(v) }}</td> }
                })
                .collect_view()
                .into_any(),
            (None, e) => view! { <td class="error" colspan=KEYS.len().to_string()>{e.clone().unwrap_or_default()}</td> }.into_any(),
        };
        view! {
            <tr
                class="clickable"
                class:chosen=move || sweep.with(|s| s.chosen) == Some(index)
                data-index=index.to_string()
                data-values=serde_json::to_string(&r.values).unwrap_or_default()
                on:click=move |_| open.run(index)
            >
                <td class="num">{index}</td>
                {values}
                {cells}
                <td class="row-actions">
                    <a class="point-link" href=link title="Open as a backtest (a share link)" on:click=|ev| ev.stop_propagation()>"Backtest"</a>
                    " "
                    <button class="secondary choose" on:click=move |ev| {
                        ev.stop_propagation();
                        choose.run(index);
                    }>"Choose"</button>
                </td>
            </tr>
        }
    };
    view! {
        <p class="muted">{move || {
            let n = rows.with(Vec::len);
            if n > TABLE_ROWS { format!("The best {TABLE_ROWS} of {n} rows by the sorted column (Export CSV has them all).") } else { String::new() }
        }}</p>
        <table class="sweep-table" id="sweep-table">
            <thead>{header}</thead>
            <tbody>
                <For each=top key=move |r: &SweepRow| (epoch.get_value(), r.index) children=row/>
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let s = default_sweep();
        let rows = vec![SweepRow {
            index: 0,
            values: vec![10.0, 1.0],
            metrics: None,
            error: Some("bad, value".into()),
            stats: None,
        }];
        let csv = to_csv(&s, &rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(
            "index,volatility.volatility_window,volatility.rebalance_days,total_return"
        ));
        assert!(lines[1].ends_with("bad; value"), "{}", lines[1]);
    }

    #[test]
    fn the_default_grid_and_search_are_valid() {
        assert_eq!(
            build_sweep(&default_spec(), &default_sweep())
                .unwrap()
                .n_points(),
            63
        );
        let search = SweepSpec {
            scope: "blend".into(),
            search: Some(default_search()),
            ..default_sweep()
        };
        assert_eq!(
            build_sweep(&default_spec(), &search).unwrap().n_points(),
            1000
        );
    }

    #[test]
    fn search_dimensions_round_trip_through_the_form_and_bad_lines_are_named() {
        let dims = default_search().dims;
        assert_eq!(parse_dims(&dims_text(&dims)).unwrap(), dims);
        let e = parse_dims("leverage=0.5:2\nstrategy_weights.nope=0:1").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
        assert!(parse_dims("leverage=0.5")
            .unwrap_err()
            .contains("PATH=LO:HI"));
    }

    #[test]
    fn a_point_opens_with_its_costs_and_threshold() {
        let sweep = SweepSpec {
            scope: "blend".into(),
            axes: vec![SweepAxisSpec {
                strategy: String::new(),
                param: "fee_bps".into(),
                from: 0.0,
                to: 20.0,
                steps: 3,
            }],
            ..default_sweep()
        };
        let spec = point_spec(&default_spec(), &sweep, 2).unwrap();
        assert_eq!(spec.fee_bps, 20.0);
        let ran = RanOn {
            data: Some("\"e\"".into()),
            data_version: Some(7),
            costs: None,
        };
        let link = point_link(&default_spec(), &sweep, 1, ran).unwrap();
        let state = share::decode(link.strip_prefix("/backtest?s=").unwrap()).unwrap();
        assert_eq!(state.backtest.fee_bps, 10.0);
        // The point opens on the data its row ran on.
        assert_eq!(state.data_version, Some(7));
        assert_eq!(state.data.as_deref(), Some("\"e\""));
    }
}
