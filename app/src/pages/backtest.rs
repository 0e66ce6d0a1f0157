//! The Backtest page: edit a config, run it in the browser on the server's panel with the same
//! kernels the live trader uses, look at the results, pin one run to compare, share a link.

use crate::api::costs::ResolvedCosts;
use crate::chart::{LineChart, Series, PALETTE};
use crate::data::{now_ms, use_panel, LoadedPanel};
use crate::format::{self, YFormat};
use crate::run_form::{
    calibration_now, costs_line, use_calibration, PanelStatus, PinnedNotice, VenueCostFields,
};
use crate::share::{self, BacktestSpec, SharedState, SHARE_VERSION};
use crate::spec::{compile, default_spec, needs_calibration, panel_request, with_costs};
use crate::team_links::{SaveTeamLink, TeamLinkResult};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::Value;
use shared::backtest::BacktestResult;
use shared::metrics::{self, Metrics};
use shared::portfolio::rebalance::RebalancePolicy;
use shared::strategies::{param_keys, STRATEGY_NAMES};
use shared::Day;
use std::collections::BTreeMap;

/// A finished run, reduced to what the page shows.
#[derive(Clone, Debug)]
pub struct Run {
    pub label: String,
    pub metrics: Metrics,
    pub equity: Vec<(Day, f64)>,
    pub drawdown: Vec<(Day, f64)>,
    pub contributions: Vec<Series>,
    pub turnover: Vec<(Day, f64)>,
    pub weights: Vec<Series>,
    pub elapsed_ms: f64,
    /// Which universe ran (the config's venue and its listings).
    pub universe: Option<shared::universe::UniverseInfo>,
    /// Which costs ran (`rebalance.cost_model`, resolved; `None` until set by the page).
    pub costs: Option<ResolvedCosts>,
}

impl Run {
    fn from_result(label: String, r: &BacktestResult, elapsed_ms: f64) -> Run {
        let equity: Vec<(Day, f64)> = r.equity.iter().map(|e| (e.date, e.nav)).collect();
        let drawdown = equity
            .iter()
            .map(|(d, _)| *d)
            .zip(metrics::drawdowns(equity.iter().map(|(_, v)| *v)))
            .collect();
        // Cumulative contribution per strategy (sum of daily shares of the return).
        type Cumulative = (f64, Vec<(Day, f64)>);
        let mut cum: BTreeMap<&str, Cumulative> = BTreeMap::new();
        for c in &r.contributions {
            let e = cum.entry(c.strategy.as_str()).or_insert((0.0, Vec::new()));
            e.0 += c.contribution;
            e.1.push((c.date, e.0));
        }
        let contributions = cum
            .into_iter()
            .enumerate()
            .map(|(i, (name, (_, points)))| Series {
                name: name.to_string(),
                color: PALETTE[i % PALETTE.len()],
                points,
            })
            .collect();
        // Rolling 30-day turnover, annualised, reads better than the spiky daily series.
        let daily: Vec<(Day, f64)> = r.exposures.iter().map(|x| (x.date, x.turnover)).collect();
        let mut sum = 0.0;
        let turnover = daily
            .iter()
            .enumerate()
            .map(|(i, (d, t))| {
                sum += t;
                if i >= 30 {
                    sum -= daily[i - 30].1;
                }
                (*d, sum / (i + 1).min(30) as f64 * 365.0)
            })
            .collect();
        // Weights over time for the symbols held most (by average |weight|).
        let mut by_symbol: BTreeMap<&str, Vec<(Day, f64)>> = BTreeMap::new();
        for h in &r.holdings {
            by_symbol
                .entry(h.symbol.as_str())
                .or_default()
                .push((h.date, h.weight));
        }
        let mut ranked: Vec<(&str, f64)> = by_symbol
            .iter()
            .map(|(s, v)| (*s, v.iter().map(|(_, w)| w.abs()).sum::<f64>()))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let weights = ranked
            .iter()
            .take(6)
            .enumerate()
            .map(|(i, (sym, _))| {
                // Fill days without a holding with 0 so lines drop to zero instead of bridging.
                let held: BTreeMap<Day, f64> = by_symbol[sym].iter().copied().collect();
                let points = equity
                    .iter()
                    .map(|(d, _)| (*d, held.get(d).copied().unwrap_or(0.0)))
                    .collect();
                Series {
                    name: sym.to_string(),
                    color: PALETTE[i % PALETTE.len()],
                    points,
                }
            })
            .collect();
        Run {
            label,
            metrics: r.metrics,
            equity,
            drawdown,
            contributions,
            turnover,
            weights,
            elapsed_ms,
            universe: r.universe.clone(),
            costs: None,
        }
    }
}

/// Runs `spec` on the loaded panel in this thread (WebAssembly in the browser), in its
/// config's venue universe ([`crate::spec::run_on`], the path the tests hold equal to
/// `lockstep backtest`).
pub fn run_spec(spec: &BacktestSpec, panel: &LoadedPanel, label: String) -> Result<Run, String> {
    let t0 = now_ms();
    let result: BacktestResult = crate::spec::run_on(spec, &panel.panel, panel.universe.as_ref())?;
    Ok(Run::from_result(label, &result, now_ms() - t0))
}

/// The Backtest page.
#[component]
pub fn BacktestPage() -> impl IntoView {
    let panel = use_panel();
    let query = use_query_map();
    // A link's state, or why it could not be read.
    let from_link = Memo::new(move |_| query.with(|q| q.get("s").map(|s| share::decode(&s))));
    let spec = RwSignal::new(default_spec());
    let link_error = RwSignal::new(None::<String>);
    let link_warning = RwSignal::new(None::<String>);
    let result = RwSignal::new(None::<Result<Run, String>>);
    let pinned = RwSignal::new(None::<Run>);
    let share_url = RwSignal::new(None::<String>);
    let log_scale = RwSignal::new(false);
    let runs = StoredValue::new(0usize);
    // The data version a link pinned (`None`: today's data).
    let as_of = RwSignal::new(None::<i64>);
    // Which universe the link's author ran (shown beside the link's run).
    let link_universe = RwSignal::new(None::<String>);
    // The panel this config runs on: its venue's (listings and funding) or the default one,
    // as of the link's data version when a link pinned one.
    let wanted = Memo::new(move |_| crate::data::PanelRequest {
        as_of: as_of.get(),
        ..spec.with(panel_request)
    });
    Effect::new(move |_| panel.want(wanted.get()));
    // A run asked for before its panel arrived, and the link it came from (if any).
    let pending = RwSignal::new(false);
    let opened_link = StoredValue::new(None::<SharedState>);
    // Under `rebalance.cost_model: "calibrated"`: the account's measured costs (`/api/costs`).
    let need_costs = Memo::new(move |_| spec.with(needs_calibration));
    let calibration = use_calibration(need_costs);
    // The costs a link that pins its data version ran with (until "Re-run on today's data").
    let link_costs = RwSignal::new(None::<ResolvedCosts>);

    let run_now = move || {
        let p = match untrack(|| panel.ready_for(wanted.get())) {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                result.set(Some(Err(e)));
                return;
            }
            None => {
                pending.set(true);
                return;
            }
        };
        let pinned_costs = link_costs.get_untracked();
        let calibrated = if pinned_costs.is_some() {
            Err("pinned by the link".to_string())
        } else {
            match untrack(|| calibration_now(need_costs.get(), calibration)) {
                Some(c) => c,
                None => {
                    pending.set(true);
                    return;
                }
            }
        };
        if let Some(state) = opened_link.get_value() {
            opened_link.set_value(None);
            link_warning.set(share::reproducibility_warning(&state, p.etag.as_deref()));
        }
        let n = runs.get_value() + 1;
        runs.set_value(n);
        let (run, costs) = with_costs(
            &spec.get_untracked(),
            calibrated.as_ref().map_err(Clone::clone),
            pinned_costs.as_ref(),
        );
        result.set(Some(run_spec(&run, &p, format!("Run {n}")).map(|mut r| {
            r.costs = Some(costs);
            r
        })));
    };
    // The panel (and the calibrated costs) a pending run waited for have arrived.
    Effect::new(move |_| {
        if pending.get()
            && panel.ready_for(wanted.get()).is_some()
            && (link_costs.with(Option::is_some)
                || calibration_now(need_costs.get(), calibration).is_some())
        {
            pending.set(false);
            run_now();
        }
    });

    // Warming the engine: the browser compiles WebAssembly lazily, each function first with a
    // quick baseline compiler, and swaps in optimised code only on a later call, once the
    // function has run for a while (no on-stack replacement: a function called once per
    // backtest, like the simulator's day loop, runs that whole call on baseline code). The
    // first full backtest on a new page took ~2× the second (docs/benchmarks.md, session 5),
    // and a 365-day warm-up left the first click at ~1.8× native. So once the panel is in and
    // the page is idle, the page runs the form's config once over the whole panel, and reduces
    // it as a click would (`Run::from_result`), dropping both: every function of a run has then
    // been called through a full-length loop and the user's first Run finds optimised code.
    // Skipped when a run came first (e.g. a link's); a click during it waits for it. Its time
    // is in `#panel-status[data-warm-up-ms]`.
    let warm_up_ms = RwSignal::new(None::<f64>);
    Effect::new(move |warmed: Option<bool>| {
        if warmed == Some(true) {
            return true;
        }
        let Some(Ok(p)) = panel.ready_for(wanted.get()) else {
            return false;
        };
        #[cfg(feature = "hydrate")]
        request_idle_callback(move || {
            if runs.get_value() > 0
                || pending.get_untracked()
                || warm_up_ms.get_untracked().is_some()
            {
                return;
            }
            let t0 = now_ms();
            if let Ok(r) = crate::spec::run_on(&spec.get_untracked(), &p.panel, p.universe.as_ref())
            {
                let _ = Run::from_result(String::new(), &r, 0.0);
            }
            warm_up_ms.set(Some(now_ms() - t0));
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = p;
        true
    });

    // Opening a link: load its state, say if it cannot be reproduced here, and run it (once
    // the panel of its venue is in).
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let link = from_link.get();
        let Some(link) = link else { return true };
        match link {
            Err(e) => {
                link_error.set(Some(e.to_string()));
                true
            }
            Ok(state) => {
                spec.set(state.backtest.clone());
                as_of.set(state.data_version);
                link_costs.set(state.data_version.and(state.costs.clone()));
                link_universe.set(state.universe.clone());
                opened_link.set_value(Some(state));
                run_now();
                true
            }
        }
    });

    let validation = Memo::new(move |_| spec.with(compile).err());
    // The page's state as a link carries it ("Copy link" and "Save team link").
    let encoded_state = Callback::new(move |_: ()| {
        let (etag, data_version) = match panel.ready_for_untracked(wanted.get_untracked()) {
            Some(Ok(p)) => (p.etag.clone(), p.data_version),
            _ => (None, None),
        };
        let (universe, costs) = match result.get_untracked() {
            Some(Ok(r)) => (r.universe.map(|u| u.summary), r.costs),
            _ => (None, None),
        };
        let state = SharedState {
            v: SHARE_VERSION,
            kernel: shared::KERNEL_VERSION.to_string(),
            data: etag,
            backtest: spec.get_untracked(),
            sweep: None,
            data_version,
            universe,
            costs,
        };
        share::encode(&state)
    });
    let team_link: crate::team_links::Saved = RwSignal::new(None);
    let copy_link = move |_| {
        let url = set_url_state("/backtest", &encoded_state.run(()));
        share_url.set(Some(url));
    };

    // Leaves the link's pinned data for today's and runs the same backtest again.
    let rerun_today = Callback::new(move |_: ()| {
        as_of.set(None);
        link_costs.set(None);
        result.set(None);
        pending.set(true);
    });

    view! {
        <div class="page backtest">
            <section class="card">
                <div class="card-head">
                    <h1>"Backtest"</h1>
                    <PanelStatus panel=panel wanted=wanted warm_up_ms=warm_up_ms/>
                </div>
                {move || link_error.get().map(|e| view! { <p class="error" id="link-error">{e}</p> })}
                {move || link_warning.get().map(|w| view! { <p class="warning" id="link-warning">{w}</p> })}
                <PinnedNotice as_of=as_of rerun=rerun_today/>
                {move || link_universe.get().map(|u| view! {
                    <p class="muted" id="link-universe">{format!("The link's run traded: {u}")}</p>
                })}
                <ConfigForm spec=spec/>
                <div class="actions">
                    <button
                        id="run-backtest"
                        disabled=move || validation.get().is_some() || !matches!(panel.ready_for(wanted.get()), Some(Ok(_)))
                        on:click=move |_| run_now()
                    >
                        "Run"
                    </button>
                    <button
                        class="secondary"
                        id="pin-run"
                        disabled=move || !matches!(result.get(), Some(Ok(_)))
                        on:click=move |_| {
                            if let Some(Ok(r)) = result.get_untracked() {
                                pinned.set(Some(r));
                            }
                        }
                    >
                        "Pin for comparison"
                    </button>
                    <button class="secondary" id="copy-link" on:click=copy_link>
                        "Copy link"
                    </button>
                    <SaveTeamLink state=encoded_state saved=team_link/>
                    <button class="secondary" on:click=move |_| spec.set(default_spec())>
                        "Reset"
                    </button>
                </div>
                {move || validation.get().map(|e| view! { <p class="error" id="config-error">{e}</p> })}
                {move || {
                    share_url
                        .get()
                        .map(|u| {
                            view! {
                                <p class="share">
                                    "Link copied: " <input id="share-url" readonly prop:value=u/>
                                </p>
                            }
                        })
                }}
                <TeamLinkResult saved=team_link/>
            </section>
            {move || match result.get() {
                None if pending.get() => view! { <p class="muted" id="run-pending">"Loading the market data of this config's venue…"</p> }.into_any(),
                None => view! { <p class="muted">"Press Run to backtest in your browser."</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" id="run-error">{e}</p> }.into_any(),
                Some(Ok(run)) => view! { <RunView run=run pinned=pinned log_scale=log_scale/> }.into_any(),
            }}
        </div>
    }
}

/// Writes `?s=<state>` into the address bar without reloading; returns the full URL.
fn set_url_state(path: &str, encoded: &str) -> String {
    let rel = format!("{path}?s={encoded}");
    #[cfg(feature = "hydrate")]
    {
        if let Some(w) = web_sys::window() {
            if let Ok(h) = w.history() {
                let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&rel));
            }
            let origin = w.location().origin().unwrap_or_default();
            let full = format!("{origin}{rel}");
            let _ = w.navigator().clipboard().write_text(&full);
            return full;
        }
    }
    rel
}

#[component]
fn RunView(run: Run, pinned: RwSignal<Option<Run>>, log_scale: RwSignal<bool>) -> impl IntoView {
    let m = run.metrics;
    let label = run.label.clone();
    let rows = format::metrics()
        .map(
            |format::MetricLabel {
                 key,
                 label,
                 format: fmt,
             }| {
                let v = metric(&m, key);
                let attr = key.to_string();
                view! {
                    <tr data-metric=attr>
                        <td>{label}</td>
                        <td class="num" data-exact=v.to_string()>{fmt_metric(fmt, v)}</td>
                        {move || {
                            pinned
                                .get()
                                .map(|p| {
                                    let pv = metric(&p.metrics, key);
                                    view! { <td class="num pinned">{fmt_metric(fmt, pv)}</td> }
                                })
                        }}
                    </tr>
                }
            },
        )
        .collect_view();
    let with_pinned = move |mine: Vec<Series>, pick: fn(&Run) -> Vec<(Day, f64)>| {
        let mut s = mine;
        if let Some(p) = pinned.get() {
            s.push(Series {
                name: p.label.clone(),
                color: PALETTE[1],
                points: pick(&p),
            });
        }
        s
    };
    let eq = run.equity.clone();
    let dd = run.drawdown.clone();
    let lbl = label.clone();
    let lbl2 = label.clone();
    let equity = Signal::derive(move || {
        with_pinned(
            vec![Series {
                name: lbl.clone(),
                color: PALETTE[0],
                points: eq.clone(),
            }],
            |p| p.equity.clone(),
        )
    });
    let drawdown = Signal::derive(move || {
        with_pinned(
            vec![Series {
                name: lbl2.clone(),
                color: PALETTE[0],
                points: dd.clone(),
            }],
            |p| p.drawdown.clone(),
        )
    });
    let contributions = run.contributions.clone();
    let turnover = vec![Series {
        name: "Turnover (30-day, annualised)".into(),
        color: PALETTE[2],
        points: run.turnover.clone(),
    }];
    let weights = run.weights.clone();
    view! {
        <section class="card">
            <div class="card-head">
                <h2>"Results"</h2>
                <span class="muted" id="run-time" data-ms=run.elapsed_ms.to_string()>
                    {format!("{} · computed in your browser in {:.0} ms", label, run.elapsed_ms)}
                </span>
            </div>
            {run.costs.as_ref().map(|c| costs_line("run-costs", c))}
            {run.universe.clone().map(|u| view! {
                <p class="muted" id="run-universe" data-restricted=u.restricted.to_string() title=u.note.clone()>
                    {format!("Universe: {}", u.summary)}
                </p>
            })}
            <table class="metrics" id="metrics">
                <thead>
                    <tr>
                        <th>"Metric"</th>
                        <th>{label.clone()}</th>
                        {move || pinned.get().map(|p| view! { <th class="pinned">{format!("{} (pinned)", p.label)}</th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            <label class="toggle">
                <input
                    type="checkbox"
                    id="log-scale"
                    prop:checked=move || log_scale.get()
                    on:change=move |ev| log_scale.set(event_target_checked(&ev))
                />
                " Log scale"
            </label>
            <LineChart id="equity-chart" title="Equity (NAV)" series=equity log_scale=log_scale/>
            <LineChart id="drawdown-chart" title="Drawdown" series=drawdown y_format=YFormat::Percent height=200/>
            <LineChart
                id="contribution-chart"
                title="Cumulative contribution by strategy"
                series=Signal::derive(move || contributions.clone())
                y_format=YFormat::Percent
            />
            <LineChart
                id="turnover-chart"
                title="Turnover"
                series=Signal::derive(move || turnover.clone())
                height=200
            />
            <LineChart
                id="weights-chart"
                title="Weights over time (most-held symbols)"
                series=Signal::derive(move || weights.clone())
                y_format=YFormat::Percent
            />
        </section>
    }
}

/// A metric by key (NaN for a key that is not one: the cell prints "—").
fn metric(m: &Metrics, key: &str) -> f64 {
    m.get(key).unwrap_or(f64::NAN)
}

fn fmt_metric(fmt: YFormat, v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else {
        match fmt {
            YFormat::Percent => format!("{:.2}%", v * 100.0),
            YFormat::Number => crate::format::number(v),
            YFormat::Usd => fmt.format(v),
        }
    }
}

/// Parses what a user typed into a JSON value: a number, a boolean, or text.
fn parse_input(raw: &str) -> Option<Value> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(n) = raw.parse::<f64>() {
        if let Some(n) = serde_json::Number::from_f64(n) {
            return Some(Value::Number(n));
        }
    }
    match raw {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        _ => Some(Value::String(raw.to_string())),
    }
}

fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// The config editor: one row per strategy (weight, and its params on demand), the date
/// range, the rebalance policy and costs. Every field is checked by the kernel's own config
/// parser, so the messages name the exact JSON path.
#[component]
fn ConfigForm(spec: RwSignal<BacktestSpec>) -> impl IntoView {
    let open = RwSignal::new(None::<&'static str>);
    let strategy_rows = STRATEGY_NAMES
        .iter()
        .map(|&name| {
            let weight = move || spec.with(|s| value_text(s.config.get("strategy_weights").and_then(|w| w.get(name))));
            let set_weight = move |ev| {
                let raw = event_target_value(&ev);
                spec.update(|s| {
                    let w = s.config.as_object_mut().and_then(|o| {
                        o.entry("strategy_weights").or_insert_with(|| Value::Object(Default::default())).as_object_mut()
                    });
                    if let Some(w) = w {
                        match parse_input(&raw) {
                            Some(v) => {
                                w.insert(name.to_string(), v);
                            }
                            None => {
                                w.remove(name);
                            }
                        }
                    }
                });
            };
            view! {
                <tr>
                    <td>{name}</td>
                    <td>
                        <input
                            class="num"
                            name=format!("weight-{name}")
                            prop:value=weight
                            on:change=set_weight
                            placeholder="0"
                        />
                    </td>
                    <td>
                        <button
                            class="link"
                            on:click=move |_| open.update(|o| *o = if *o == Some(name) { None } else { Some(name) })
                        >
                            {move || if open.get() == Some(name) { "hide params" } else { "params" }}
                        </button>
                    </td>
                </tr>
                {move || (open.get() == Some(name)).then(|| view! { <tr class="params-row"><td colspan="3"><ParamsEditor spec=spec name=name/></td></tr> })}
            }
        })
        .collect_view();
    let policy_kind = move || {
        spec.with(|s| {
            if matches!(s.policy, RebalancePolicy::Time) {
                "time"
            } else {
                "threshold"
            }
        })
    };
    let threshold = move || {
        spec.with(|s| match s.policy {
            RebalancePolicy::Threshold { threshold } => threshold.to_string(),
            RebalancePolicy::Time => String::new(),
        })
    };
    let date_input = move |label: &'static str,
                           get: fn(&BacktestSpec) -> Option<Day>,
                           set: fn(&mut BacktestSpec, Option<Day>)| {
        view! {
            <label>
                {label}
                <input
                    type="date"
                    name=label.to_lowercase()
                    prop:value=move || spec.with(|s| get(s).map(|d| d.to_string()).unwrap_or_default())
                    on:change=move |ev| {
                        let raw = event_target_value(&ev);
                        spec.update(|s| set(s, Day::parse(&raw).ok()));
                    }
                />
            </label>
        }
    };
    view! {
        <div class="config-form">
            <table class="strategies">
                <thead>
                    <tr>
                        <th>"Strategy"</th>
                        <th>"Weight"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>{strategy_rows}</tbody>
            </table>
            <div class="settings">
                {date_input("Start", |s| s.start, |s, d| s.start = d)}
                {date_input("End", |s| s.end, |s, d| s.end = d)}
                <label>
                    "Rebalance policy"
                    <select
                        name="policy"
                        prop:value=policy_kind
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            spec.update(|s| {
                                s.policy = if v == "time" {
                                    RebalancePolicy::Time
                                } else {
                                    RebalancePolicy::Threshold { threshold: 0.03 }
                                };
                            });
                        }
                    >
                        <option value="threshold">"threshold"</option>
                        <option value="time">"time"</option>
                    </select>
                </label>
                <label>
                    "Threshold (fraction of NAV)"
                    <input
                        class="num"
                        name="threshold"
                        prop:value=threshold
                        disabled=move || policy_kind() == "time"
                        on:change=move |ev| {
                            let t = event_target_value(&ev).trim().parse::<f64>().unwrap_or(f64::NAN);
                            spec.update(|s| s.policy = RebalancePolicy::Threshold { threshold: t });
                        }
                    />
                </label>
                <VenueCostFields spec=spec/>
                <label>
                    "Fee (bps)"
                    <input
                        class="num"
                        name="fee_bps"
                        prop:value=move || spec.with(|s| s.fee_bps.to_string())
                        on:change=move |ev| {
                            let v = event_target_value(&ev).trim().parse::<f64>().unwrap_or(f64::NAN);
                            spec.update(|s| s.fee_bps = v);
                        }
                    />
                </label>
                <label>
                    "Slippage (bps)"
                    <input
                        class="num"
                        name="slippage_bps"
                        prop:value=move || spec.with(|s| s.slippage_bps.to_string())
                        on:change=move |ev| {
                            let v = event_target_value(&ev).trim().parse::<f64>().unwrap_or(f64::NAN);
                            spec.update(|s| s.slippage_bps = v);
                        }
                    />
                </label>
            </div>
        </div>
    }
}

/// The params of one strategy: every key its constructor understands, blank = default.
#[component]
fn ParamsEditor(spec: RwSignal<BacktestSpec>, name: &'static str) -> impl IntoView {
    let params = move || {
        spec.with(|s| {
            s.config
                .get("params")
                .and_then(|p| p.get(name))
                .and_then(|p| {
                    serde_json::from_value::<shared::strategies::params::ParamMap>(p.clone()).ok()
                })
                .unwrap_or_default()
        })
    };
    let keys =
        move || param_keys(name, &params()).unwrap_or_else(|_| params().keys().cloned().collect());
    view! {
        <div class="params">
            {move || {
                keys()
                    .into_iter()
                    .map(|key| {
                        let k = key.clone();
                        let value = move || spec.with(|s| value_text(s.config.get("params").and_then(|p| p.get(name)).and_then(|p| p.get(&k))));
                        let k2 = key.clone();
                        view! {
                            <label>
                                {key.clone()}
                                <input
                                    name=format!("{name}.{key}")
                                    prop:value=value
                                    placeholder="default"
                                    on:change=move |ev| {
                                        let raw = event_target_value(&ev);
                                        spec.update(|s| {
                                            let Some(o) = s.config.as_object_mut() else { return };
                                            let params = o.entry("params").or_insert_with(|| Value::Object(Default::default()));
                                            let Some(params) = params.as_object_mut() else { return };
                                            let p = params.entry(name).or_insert_with(|| Value::Object(Default::default()));
                                            let Some(p) = p.as_object_mut() else { return };
                                            match parse_input(&raw) {
                                                Some(v) => {
                                                    p.insert(k2.clone(), v);
                                                }
                                                None => {
                                                    p.remove(&k2);
                                                }
                                            }
                                        });
                                    }
                                />
                            </label>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_parse_as_json() {
        assert_eq!(parse_input(" 30 "), Some(Value::from(30.0)));
        assert_eq!(parse_input("true"), Some(Value::Bool(true)));
        assert_eq!(
            parse_input("bear_only"),
            Some(Value::String("bear_only".into()))
        );
        assert_eq!(parse_input(""), None);
    }
}
