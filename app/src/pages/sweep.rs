//! The Sweep page: a grid over one or two params, run in Web Workers (one per core) in
//! chunks, with progress, a time estimate and Cancel; results as a heat map and a sortable
//! table; any cell opens as a backtest; CSV export.

use crate::chart::{HeatCell, HeatMap};
use crate::data::{now_ms, use_panel};
use crate::format::{metric_format, metrics};
use crate::pool::{self, RunTiming};
use crate::share::{self, BacktestSpec, SharedState, SweepAxisSpec, SweepSpec, SHARE_VERSION};
use crate::spec::default_spec;
use crate::team_links::{SaveTeamLink, TeamLinkResult};
use crate::worker::build_sweep;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::metrics::KEYS;
use shared::strategies::STRATEGY_NAMES;
use shared::sweep::SweepRow;

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
    }
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// The rows as CSV: one column per axis, then every metric.
pub fn to_csv(sweep: &SweepSpec, rows: &[SweepRow]) -> String {
    let mut out: Vec<String> = sweep
        .axes
        .iter()
        .map(|a| format!("{}.{}", a.strategy, a.param))
        .collect();
    out.extend(KEYS.iter().map(|k| k.to_string()));
    out.push("error".into());
    let mut csv = out.join(",") + "\n";
    for r in rows {
        let mut cells: Vec<String> = r.values.iter().map(|v| v.to_string()).collect();
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

/// The Sweep page.
#[component]
pub fn SweepPage() -> impl IntoView {
    let panel = use_panel();
    let query = use_query_map();
    let base = RwSignal::new(default_spec());
    let sweep = RwSignal::new(default_sweep());
    let link_error = RwSignal::new(None::<String>);
    // A shared link restores the base backtest and the grid (it does not start the sweep).
    Effect::new(move |_| {
        if let Some(s) = query.with(|q| q.get("s")) {
            match share::decode(&s) {
                Ok(state) => {
                    base.set(state.backtest);
                    if let Some(sw) = state.sweep {
                        sweep.set(sw);
                    }
                }
                Err(e) => link_error.set(Some(e.to_string())),
            }
        }
    });
    let rows = RwSignal::new(Vec::<SweepRow>::new());
    let status = RwSignal::new(Status::Idle);
    let done = RwSignal::new(0usize);
    let total = RwSignal::new(0usize);
    let started = RwSignal::new(0.0f64);
    let now = RwSignal::new(0.0f64);
    let sort = RwSignal::new(("sharpe".to_string(), true));
    let timing = RwSignal::new(None::<RunTiming>);
    // The pool outlives the page (its workers stay warm); a run must not outlive it.
    on_cleanup(pool::cancel_if_running);

    let grid = Memo::new(move |_| {
        let b = base.get();
        let s = sweep.get();
        build_sweep(&b, &s).map(|sw| sw.n_points())
    });

    let start = move |_| {
        let Ok(n) = grid.get_untracked() else { return };
        let Some(Ok(loaded)) = panel.0.get_untracked() else {
            return;
        };
        rows.set(Vec::new());
        timing.set(None);
        done.set(0);
        total.set(n);
        started.set(now_ms());
        status.set(Status::Running);
        let job_base = (base.get_untracked(), sweep.get_untracked());
        #[cfg(feature = "hydrate")]
        {
            let on_rows = move |mut new_rows: Vec<SweepRow>| {
                done.update(|d| *d += new_rows.len());
                now.set(now_ms());
                rows.update(|r| {
                    r.append(&mut new_rows);
                    r.sort_by_key(|x| x.index);
                });
                if done.get_untracked() >= total.get_untracked() {
                    status.set(Status::Done);
                }
            };
            let on_error = move |msg: String| status.set(Status::Failed(msg));
            let on_done = move |t: RunTiming| timing.set(Some(t));
            let started = pool::start_sweep(
                loaded.panel.clone(),
                job_base.0,
                job_base.1,
                n,
                on_rows,
                on_error,
                on_done,
            );
            if let Err(e) = started {
                status.set(Status::Failed(e));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (job_base, loaded, now);
    };
    let cancel = move |_| {
        pool::cancel(); // terminates the workers mid-chunk; fresh ones start in the background
        status.set(Status::Cancelled);
    };

    let progress_text = move || {
        let (d, t) = (done.get(), total.get());
        let elapsed = (now.get() - started.get()).max(0.0) / 1000.0;
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
        let Ok(sw) = build_sweep(&b, &s) else { return };
        let Ok(config) = sw.config_at(index) else {
            return;
        };
        let etag = match panel.0.get_untracked() {
            Some(Ok(p)) => p.etag.clone(),
            _ => None,
        };
        let state = SharedState {
            v: SHARE_VERSION,
            kernel: shared::KERNEL_VERSION.into(),
            data: etag,
            backtest: BacktestSpec {
                config: config.to_value(),
                ..b
            },
            sweep: None,
        };
        navigate(
            &format!("/backtest?s={}", share::encode(&state)),
            Default::default(),
        );
    });

    // Heat map: columns = first axis, rows = second axis (one row for a 1-D sweep).
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

    let csv_href = move || {
        let csv = to_csv(&sweep.get(), &rows.get());
        format!("data:text/csv;charset=utf-8,{}", urlencode(&csv))
    };
    // The page's state as a link carries it ("Copy link" and "Save team link").
    let encoded_state = Callback::new(move |_: ()| {
        let state = SharedState {
            v: SHARE_VERSION,
            kernel: shared::KERNEL_VERSION.into(),
            data: match panel.0.get_untracked() {
                Some(Ok(p)) => p.etag.clone(),
                _ => None,
            },
            backtest: base.get_untracked(),
            sweep: Some(sweep.get_untracked()),
        };
        share::encode(&state)
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

    view! {
        <div class="page sweep">
            <section class="card">
                <div class="card-head">
                    <h1>"Sweep"</h1>
                    <span class="muted">{move || match grid.get() {
                        Ok(n) => format!("{n} grid points"),
                        Err(e) => e,
                    }}</span>
                </div>
                {move || link_error.get().map(|e| view! { <p class="error" id="link-error">{e}</p> })}
                <SweepForm sweep=sweep/>
                <div class="actions">
                    <button
                        id="run-sweep"
                        disabled=move || grid.get().is_err() || status.get() == Status::Running || !matches!(panel.0.get(), Some(Ok(_)))
                        on:click=start
                    >
                        "Run sweep"
                    </button>
                    <button class="secondary" id="cancel-sweep" disabled=move || status.get() != Status::Running on:click=cancel>
                        "Cancel"
                    </button>
                    <button class="secondary" on:click=copy_link>"Copy link"</button>
                    <SaveTeamLink state=encoded_state saved=team_link/>
                    <a
                        class="button secondary"
                        id="export-csv"
                        download="lockstep-sweep.csv"
                        href=csv_href
                        class:hidden=move || rows.with(|r| r.is_empty())
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
            <section class="card">
                <HeatMap
                    id="sweep-heatmap"
                    title="Heat map of the chosen metric (click a cell to open it as a backtest)"
                    cols=heat_cols
                    rows=heat_rows
                    cells=heat_cells
                    y_format=metric_format()
                    on_click=on_cell
                />
                <ResultsTable sweep=sweep rows=rows sort=sort open=open_point/>
            </section>
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
    view! {
        <div class="sweep-form">
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
                        });
                    }
                />
                " Second axis"
            </label>
            {axis_editor(0)}
            {move || (sweep.with(|s| s.axes.len()) == 2).then(|| axis_editor(1))}
        </div>
    }
}

#[component]
fn ResultsTable(
    sweep: RwSignal<SweepSpec>,
    rows: RwSignal<Vec<SweepRow>>,
    sort: RwSignal<(String, bool)>,
    open: Callback<usize>,
) -> impl IntoView {
    let header = move || {
        let axes: Vec<String> = sweep.with(|s| s.axes.iter().map(|a| a.param.clone()).collect());
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
                {axes.into_iter().map(|a| view! { <th>{a}</th> }).collect_view()}
                {metric_heads.collect_view()}
            </tr>
        }
    };
    let body = move || {
        let (key, desc) = sort.get();
        let mut rs = rows.get();
        rs.sort_by(|a, b| {
            let (va, vb) = (row_metric(a, &key), row_metric(b, &key));
            // NaN (failed points) last, whatever the direction.
            match (va.is_nan(), vb.is_nan()) {
                (true, true) => a.index.cmp(&b.index),
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if desc => vb.total_cmp(&va),
                _ => va.total_cmp(&vb),
            }
        });
        rs.into_iter()
            .map(|r| {
                let index = r.index;
                let values = r.values.iter().map(|v| view! { <td class="num">{fmt_value(*v)}</td> }).collect_view();
                let cells = match (&r.metrics, &r.error) {
                    (Some(_), _) => metrics()
                        .map(|m| {
                            let v = row_metric(&r, m.key);
                            view! { <td class="num">{if v.is_nan() { "—".to_string() } else { m.format.format(v) }}</td> }
                        })
                        .collect_view()
                        .into_any(),
                    (None, e) => view! { <td class="error" colspan=KEYS.len().to_string()>{e.clone().unwrap_or_default()}</td> }.into_any(),
                };
                view! {
                    <tr class="clickable" on:click=move |_| open.run(index)>
                        {values}
                        {cells}
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <table class="sweep-table" id="sweep-table">
            <thead>{header}</thead>
            <tbody>{body}</tbody>
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
        assert!(lines[0]
            .starts_with("volatility.volatility_window,volatility.rebalance_days,total_return"));
        assert!(lines[1].ends_with("bad; value"), "{}", lines[1]);
    }

    #[test]
    fn the_default_grid_is_valid() {
        assert_eq!(
            build_sweep(&default_spec(), &default_sweep())
                .unwrap()
                .n_points(),
            63
        );
    }
}
