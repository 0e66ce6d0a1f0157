//! The Parity page: the consistency report (`GET /api/parity`). Is live the backtest, and where
//! does every dollar of difference come from: the four automated checks, the gap attribution per
//! day (stacked by cause, with the cumulative total), the shadow backtest against live equity,
//! signal parity per plan, the parameter audit and the cost calibration.
//!
//! The form writes its inputs into the page's query string (`/parity?from=&to=&tolerance=&date=`)
//! and the report is fetched with the same parameters, so a report can be shared by URL.

use crate::api::{
    AttributionParts, CostCalibration, GapAttribution, ParameterAudit, ParameterRow, ParityCheck,
    ParityReport, ShadowComparison, SignalParity, SymbolAttribution,
};
use crate::chart::{LineChart, Series, StackDay, StackPart, StackedBarChart, StackedData, PALETTE};
use crate::fetch::get_json;
use crate::format::{fmt_time, pct, YFormat};
use crate::session::use_session;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::Day;

/// The report's parameters, as the page's and the API's query string carry them. Empty
/// fields are left to the server's defaults (the whole live period, 5%, the latest plan).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParityQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// A fraction (`0.05` = 5%).
    pub tolerance: Option<String>,
    /// The day of the signal-consistency check.
    pub date: Option<String>,
    /// Which backtest config the parameter audit compares against (passed through).
    pub backtest_config: Option<String>,
}

impl ParityQuery {
    /// `from=…&to=…` with the set fields, percent-encoded; empty when none is set.
    pub fn to_query_string(&self) -> String {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("tolerance", &self.tolerance),
            ("date", &self.date),
            ("backtest_config", &self.backtest_config),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            let v = v.as_deref()?.trim();
            (!v.is_empty()).then(|| format!("{k}={}", encode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
    }

    /// The API path for these parameters.
    pub fn api_path(&self) -> String {
        match self.to_query_string() {
            q if q.is_empty() => "/api/parity".to_string(),
            q => format!("/api/parity?{q}"),
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The form's fields as typed (tolerance in percent), checked and turned into a query.
pub fn form_query(
    from: &str,
    to: &str,
    tolerance_pct: &str,
    date: &str,
    backtest_config: Option<String>,
) -> Result<ParityQuery, String> {
    let day = |name: &str, v: &str| -> Result<Option<String>, String> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        Day::parse(v)
            .map(|d| Some(d.to_string()))
            .map_err(|e| format!("{name}: {e}"))
    };
    let (from, to, date) = (day("From", from)?, day("To", to)?, day("Check date", date)?);
    if let (Some(f), Some(t)) = (&from, &to) {
        if f > t {
            return Err(format!("From ({f}) is after To ({t})."));
        }
    }
    let tolerance = match tolerance_pct.trim() {
        "" => None,
        t => match t.parse::<f64>() {
            Ok(p) if p.is_finite() && p > 0.0 && p <= 100.0 => Some(format!("{}", p / 100.0)),
            _ => {
                return Err(format!(
                    "Tolerance: \"{t}\" must be a percentage above 0 and at most 100."
                ))
            }
        },
    };
    Ok(ParityQuery {
        from,
        to,
        tolerance,
        date,
        backtest_config,
    })
}

/// The causes of the gap in stacking order, with their colours.
const PARTS: [(&str, (u8, u8, u8)); 6] = [
    ("skipped", PALETTE[6]),
    ("slippage", PALETTE[1]),
    ("fees", PALETTE[4]),
    ("funding", PALETTE[2]),
    ("other", PALETTE[3]),
    ("unexplained", PALETTE[7]),
];

fn part_values(p: &AttributionParts) -> [f64; 6] {
    [
        p.skipped,
        p.slippage,
        p.fees,
        p.funding,
        p.other,
        p.unexplained,
    ]
}

/// The attribution as a stacked chart: one bar per day split by cause, the cumulative total as
/// the line. Days that do not parse are left out (the server always sends `YYYY-MM-DD`).
pub fn attribution_chart(a: &GapAttribution) -> StackedData {
    StackedData {
        parts: PARTS
            .iter()
            .map(|(name, color)| StackPart {
                name: (*name).to_string(),
                color: *color,
            })
            .collect(),
        line_name: "cumulative gap".into(),
        line_color: (230, 237, 243),
        days: a
            .days
            .iter()
            .filter_map(|d| {
                Some(StackDay {
                    day: Day::parse(&d.day).ok()?,
                    values: part_values(&d.parts).to_vec(),
                    line: d.cumulative.total,
                })
            })
            .collect(),
    }
}

/// Live and shadow equity as two lines (days without a live snapshot are gaps in the live line).
pub fn shadow_series(s: &ShadowComparison) -> Vec<Series> {
    let days: Vec<(Day, &crate::api::ShadowDay)> = s
        .days
        .iter()
        .filter_map(|d| Some((Day::parse(&d.day).ok()?, d)))
        .collect();
    vec![
        Series {
            name: "Live".into(),
            color: PALETTE[0],
            points: days
                .iter()
                .filter_map(|(day, d)| Some((*day, d.live_equity?)))
                .collect(),
        },
        Series {
            name: format!("Shadow backtest ({})", s.policy),
            color: PALETTE[1],
            points: days
                .iter()
                .map(|(day, d)| (*day, d.shadow_equity))
                .collect(),
        },
    ]
}

/// Signal parity rows to show: alarms first, then newest first.
pub fn signal_order(signals: &[SignalParity]) -> Vec<SignalParity> {
    let mut v = signals.to_vec();
    v.sort_by(|a, b| {
        (b.status == "mismatch")
            .cmp(&(a.status == "mismatch"))
            .then_with(|| b.data_day.cmp(&a.data_day))
    });
    v
}

/// Parameter rows with the differing ones first, each group in the server's order.
pub fn parameter_order(rows: &[ParameterRow]) -> Vec<ParameterRow> {
    let mut v = rows.to_vec();
    v.sort_by_key(|r| r.same);
    v
}

fn check_label(name: &str) -> String {
    match name {
        "positions_vs_backtest" => "Positions vs backtest".into(),
        "parameter_audit" => "Parameter audit".into(),
        "signal_consistency" => "Signal consistency".into(),
        "portfolio_value_30d" => "Portfolio value, 30 days".into(),
        other => other.replace('_', " "),
    }
}

/// Check values: relative differences print as percentages, counts as integers.
fn check_value(name: &str, v: f64) -> String {
    if name == "positions_vs_backtest" || name.starts_with("portfolio_value") {
        format!("{:.2}%", v * 100.0)
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

fn usd(v: f64) -> String {
    YFormat::Usd.format(v)
}

fn json_cell(v: &Option<serde_json::Value>) -> String {
    match v {
        None => "—".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn opt_num(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "missing".into())
}

#[component]
pub fn ParityPage() -> impl IntoView {
    let session = use_session();
    let signed_in = Memo::new(move |_| session.user().is_some());
    let query = use_query_map();
    let params = Memo::new(move |_| {
        query.with(|q| ParityQuery {
            from: q.get("from"),
            to: q.get("to"),
            tolerance: q.get("tolerance"),
            date: q.get("date"),
            backtest_config: q.get("backtest_config"),
        })
    });
    let report = LocalResource::new(move || {
        let path = params.get().api_path();
        let ok = signed_in.get();
        async move {
            if ok {
                get_json::<ParityReport>(&path).await.map(Some)
            } else {
                Ok(None)
            }
        }
    });

    // The form mirrors the query string (tolerance shown in percent).
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let tolerance = RwSignal::new(String::new());
    let date = RwSignal::new(String::new());
    Effect::new(move |_| {
        let p = params.get();
        from.set(p.from.clone().unwrap_or_default());
        to.set(p.to.clone().unwrap_or_default());
        tolerance.set(
            p.tolerance
                .as_deref()
                .and_then(|t| t.parse::<f64>().ok())
                .map(|t| format!("{}", (t * 100.0 * 1e9).round() / 1e9))
                .unwrap_or_default(),
        );
        date.set(p.date.clone().unwrap_or_default());
    });
    let form_error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let nav = navigate.clone();
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let bc = params.get_untracked().backtest_config;
        match form_query(
            &from.get_untracked(),
            &to.get_untracked(),
            &tolerance.get_untracked(),
            &date.get_untracked(),
            bc,
        ) {
            Ok(q) => {
                form_error.set(None);
                let qs = q.to_query_string();
                let url = if qs.is_empty() {
                    "/parity".to_string()
                } else {
                    format!("/parity?{qs}")
                };
                nav(&url, Default::default());
            }
            Err(e) => form_error.set(Some(e)),
        }
    };
    let reset = move |_| {
        form_error.set(None);
        navigate("/parity", Default::default());
    };

    view! {
        <div class="page parity">
            <section class="card" id="parity-head">
                <div class="card-head">
                    <h1>"Consistency: live vs backtest"</h1>
                </div>
                <form class="parity-form" id="parity-form" on:submit=apply>
                    <label>
                        "From"
                        <input type="date" name="from" prop:value=move || from.get() on:input=move |ev| from.set(event_target_value(&ev))/>
                    </label>
                    <label>
                        "To"
                        <input type="date" name="to" prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev))/>
                    </label>
                    <label>
                        "Position tolerance (%)"
                        <input class="num" type="number" name="tolerance" step="any" min="0" placeholder="5" prop:value=move || tolerance.get() on:input=move |ev| tolerance.set(event_target_value(&ev))/>
                    </label>
                    <label>
                        "Signal check date"
                        <input type="date" name="date" prop:value=move || date.get() on:input=move |ev| date.set(event_target_value(&ev))/>
                    </label>
                    <button type="submit" id="parity-apply">"Apply"</button>
                    <button type="button" class="secondary" id="parity-reset" on:click=reset>"Reset"</button>
                </form>
                <p class="muted form-hint">"Empty fields use the defaults: the whole live period, a 5% tolerance, the latest plan's day."</p>
                {move || form_error.get().map(|e| view! { <p class="error" id="parity-form-error">{e}</p> })}
            </section>
            {move || match session.0.get() {
                None => view! { <p class="muted">"…"</p> }.into_any(),
                Some(None) => view! {
                    <section class="card"><p class="muted" id="parity-signed-out">"Sign in to see the consistency report."</p></section>
                }
                .into_any(),
                Some(Some(_)) => view! {
                    <Suspense fallback=|| view! { <section class="card"><p class="muted" id="parity-loading">"Computing the report…"</p></section> }>
                        {move || report.get().map(|r| match r {
                            Err(e) => view! {
                                <section class="card">
                                    <p class="error" id="parity-error">{format!("The consistency report failed: {e}")}</p>
                                </section>
                            }
                            .into_any(),
                            Ok(None) => view! { <section class="card"><p class="muted">"Sign in to see the consistency report."</p></section> }.into_any(),
                            Ok(Some(r)) => view! { <ReportView report=r/> }.into_any(),
                        })}
                    </Suspense>
                }
                .into_any(),
            }}
        </div>
    }
}

#[component]
fn ReportView(report: ParityReport) -> impl IntoView {
    let no_live = report.signals.is_empty() && report.from.is_none();
    let period = match (&report.from, &report.to) {
        (Some(f), Some(t)) => format!("{f} to {t}"),
        _ => "no live history".into(),
    };
    let alarms = report.alarms;
    let summary_line = format!(
        "{} · broker {} · kernel {} · tolerance {} · computed {}",
        period,
        report.broker,
        report.kernel_version,
        pct(report.tolerance),
        fmt_time(report.generated_at)
    );
    view! {
        <section class="card" id="parity-summary" data-alarms=alarms>
            <div class="card-head">
                <h2>"Summary"</h2>
                <span id="parity-alarms" class="alarm-badge" class:alarm={alarms > 0}>
                    {match alarms {
                        0 => "no alarms".to_string(),
                        1 => "1 alarm: a plan differs on the same data".to_string(),
                        n => format!("{n} alarms: plans differ on the same data"),
                    }}
                </span>
            </div>
            <p class="muted">{summary_line}</p>
            {report.universe.clone().map(|u| view! {
                <p class="muted" id="parity-universe" title=u.note.clone()>
                    {format!("Universe: {}", u.summary)}
                </p>
            })}
            {(!report.simulated.is_empty()).then(|| {
                let runs = report
                    .simulated
                    .iter()
                    .map(|r| format!("{} to {}", r.first_day, r.last_day))
                    .collect::<Vec<_>>()
                    .join(", ");
                view! {
                    <p class="simulated-banner" id="parity-simulated">
                        {format!("Simulated paper history (lockstep demo, {runs}): these plans and fills were made by the live cycle on past data, not by real trading.")}
                    </p>
                }
            })}
            {no_live.then(|| view! {
                <p class="empty-state" id="parity-empty">
                    "No live plans yet — the report starts with the first plan. The parameter audit below already compares the configs."
                </p>
            })}
            <Checks checks=report.checks.clone()/>
        </section>
        <section class="card" id="parity-attribution">
            <h2>"Where the gap comes from"</h2>
            <Attribution attribution=report.attribution.clone() period=period.clone()/>
        </section>
        <section class="card" id="parity-shadow">
            <h2>"Shadow backtest vs live"</h2>
            <Shadow shadow=report.shadow.clone() period=period.clone()/>
        </section>
        <section class="card" id="parity-signals">
            <h2>"Signal parity"</h2>
            <Signals signals=report.signals.clone()/>
        </section>
        <section class="card" id="parity-parameters">
            <h2>"Parameter audit"</h2>
            <Parameters audit=report.parameters.clone()/>
        </section>
        <section class="card" id="parity-costs">
            <h2>"Cost calibration"</h2>
            <Costs costs=report.costs.clone()/>
        </section>
    }
}

#[component]
fn Checks(checks: Vec<ParityCheck>) -> impl IntoView {
    if checks.is_empty() {
        return view! { <p class="muted" id="parity-checks">"No checks in this report."</p> }
            .into_any();
    }
    let cards = checks
        .into_iter()
        .map(|c| {
            let figures = match (c.value, c.limit) {
                (Some(v), Some(l)) => format!(
                    "{} (limit {})",
                    check_value(&c.name, v),
                    check_value(&c.name, l)
                ),
                (Some(v), None) => check_value(&c.name, v),
                (None, Some(l)) => format!("limit {}", check_value(&c.name, l)),
                (None, None) => "not measured".to_string(),
            };
            // A check that measured nothing is grey "not measured", never a green "ok".
            let measured = c.is_measured();
            let (good, bad) = (measured && c.ok, measured && !c.ok);
            view! {
                <div class="check" class:ok=good class:fail=bad class:unmeasured=!measured data-check=c.name.clone() data-ok=c.ok.to_string() data-status=c.status.clone()>
                    <div class="check-head">
                        <span class="check-name">{check_label(&c.name)}</span>
                        <span class="badge" class:badge-ok=good class:badge-bad=bad class:badge-muted=!measured>
                            {if !measured { "not measured" } else if c.ok { "ok" } else { "fail" }}
                        </span>
                    </div>
                    <div class="check-figures">{figures}</div>
                    <p class="muted">{c.detail}</p>
                </div>
            }
        })
        .collect_view();
    view! { <div class="checks" id="parity-checks">{cards}</div> }.into_any()
}

/// Why a period has no days to compare: a data day counts once the account has a snapshot from
/// the next UTC day (the close it traded on), which plans on old market data never get.
fn no_days_reason(what: &str, period: &str) -> String {
    format!(
        "{what}: a data day counts once the live account has a snapshot taken on the next UTC day, and the period ({period}) has none yet. This is expected when the stored market data is older than the live account's history."
    )
}

#[component]
fn Attribution(attribution: GapAttribution, period: String) -> impl IntoView {
    if attribution.days.is_empty() {
        return view! {
            <p class="empty-state" id="attribution-empty">
                {no_days_reason("No days to attribute yet", &period)}
            </p>
        }
        .into_any();
    }
    let total = attribution.total.clone();
    let (live_pnl, shadow_pnl) = attribution
        .days
        .iter()
        .fold((0.0, 0.0), |(l, s), d| (l + d.live_pnl, s + d.shadow_pnl));
    let chips = PARTS
        .iter()
        .zip(part_values(&total))
        .map(|((name, (r, g, b)), v)| {
            view! {
                <div class="part-total" data-part=*name>
                    <span class="swatch" style:background=format!("rgb({r},{g},{b})")></span>
                    <span class="part-name">{*name}</span>
                    <span class="num">{usd(v)}</span>
                </div>
            }
        })
        .collect_view();
    let data = attribution_chart(&attribution);
    view! {
        <p class="muted">
            {format!(
                "Live P&L {} − shadow P&L {} = gap {} over {} day(s). Each bar splits a day's gap by cause (above zero: live did better); the line is the running total (right axis).",
                usd(live_pnl),
                usd(shadow_pnl),
                usd(total.total),
                attribution.days.len()
            )}
        </p>
        <div class="part-totals" id="attribution-totals">
            {chips}
            <div class="part-total total" data-part="total">
                <span class="swatch line"></span>
                <span class="part-name">"cumulative gap (line, right axis)"</span>
                <span class="num">{usd(total.total)}</span>
            </div>
        </div>
        <StackedBarChart
            id="attribution-chart"
            title="Gap per day by cause (USD)"
            data=Signal::derive(move || data.clone())
            y_format=YFormat::Usd
            hide_legend=true
        />
        <SymbolGaps symbols=attribution.symbols.clone()/>
    }
    .into_any()
}

/// How many symbols the page lists (the JSON has them all).
const TOP_SYMBOLS: usize = 10;

/// The symbols that explain most of the period's gap, each split by cause.
#[component]
fn SymbolGaps(symbols: Vec<SymbolAttribution>) -> impl IntoView {
    if symbols.is_empty() {
        return ().into_any();
    }
    let more = symbols.len().saturating_sub(TOP_SYMBOLS);
    let rows = symbols
        .into_iter()
        .take(TOP_SYMBOLS)
        .map(|s| {
            let p = s.parts;
            view! {
                <tr data-symbol=s.symbol.clone()>
                    <td>{s.symbol.clone()}</td>
                    <td class="num total">{usd(p.total)}</td>
                    <td class="num">{usd(p.skipped)}</td>
                    <td class="num">{usd(p.slippage)}</td>
                    <td class="num">{usd(p.fees)}</td>
                    <td class="num">{usd(p.funding)}</td>
                    <td class="num">{usd(p.other)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3>"By symbol"</h3>
        <p class="muted">
            {format!(
                "The symbols that explain most of the gap over the period (largest |total| first){}.",
                if more > 0 { format!("; {more} more in `lockstep parity --json`") } else { String::new() }
            )}
        </p>
        <table class="data" id="attribution-symbols">
            <thead>
                <tr>
                    <th>"Symbol"</th>
                    <th class="num">"Total"</th>
                    <th class="num">"Skipped"</th>
                    <th class="num">"Slippage"</th>
                    <th class="num">"Fees"</th>
                    <th class="num">"Funding"</th>
                    <th class="num">"Other"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Shadow(shadow: ShadowComparison, period: String) -> impl IntoView {
    if shadow.days.is_empty() {
        return view! {
            <p class="empty-state" id="shadow-empty">
                {no_days_reason("No shadow backtest days yet", &period)}
            </p>
        }
        .into_any();
    }
    let series = shadow_series(&shadow);
    let live_days = series[0].points.len();
    view! {
        <dl class="facts">
            <dt>"Policy"</dt>
            <dd>{shadow.policy.clone()}</dd>
            <dt>"Start equity"</dt>
            <dd>{usd(shadow.start_equity)}</dd>
            <dt>"Return"</dt>
            <dd id="shadow-returns">
                {format!(
                    "live {} · shadow {} · difference {}",
                    pct(shadow.live_return),
                    pct(shadow.shadow_return),
                    pct(shadow.live_return - shadow.shadow_return)
                )}
            </dd>
        </dl>
        {(live_days < shadow.days.len()).then(|| view! {
            <p class="muted">{format!("{} of {} days have a live snapshot; the live line skips the others.", live_days, shadow.days.len())}</p>
        })}
        <LineChart
            id="shadow-chart"
            title="Equity: live vs the shadow backtest of the live config"
            series=Signal::derive(move || series.clone())
            y_format=YFormat::Usd
        />
    }
    .into_any()
}

#[component]
fn Signals(signals: Vec<SignalParity>) -> impl IntoView {
    if signals.is_empty() {
        return view! {
            <p class="empty-state" id="signals-empty">"No live plans yet — the report starts with the first plan."</p>
        }
        .into_any();
    }
    let counts = |status: &str| signals.iter().filter(|s| s.status == status).count();
    let summary = format!(
        "{} plan(s): {} identical, {} revised data, {} mismatch, {} not recomputable. Alarms first, then newest first; click a row for its details.",
        signals.len(),
        counts("identical"),
        counts("revised"),
        counts("mismatch"),
        counts("unavailable")
    );
    let rows = signal_order(&signals)
        .into_iter()
        .map(|s| view! { <SignalRow signal=s/> })
        .collect_view();
    view! {
        <p class="muted">{summary}</p>
        <table class="signals" id="signal-parity">
            <thead>
                <tr>
                    <th>"Data day"</th>
                    <th>"Plan"</th>
                    <th>"Plan status"</th>
                    <th>"Parity"</th>
                    <th class="num">"Differences"</th>
                    <th class="num">"Revisions"</th>
                    <th>"Kernel"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn SignalRow(signal: SignalParity) -> impl IntoView {
    let open = RwSignal::new(false);
    let s = signal;
    let expandable = !s.differences.is_empty() || !s.revisions.is_empty() || s.note.is_some();
    let badge = match s.status.as_str() {
        "identical" => "badge badge-ok",
        "revised" => "badge badge-warn",
        "mismatch" => "badge badge-bad",
        _ => "badge badge-muted",
    };
    let details = {
        let s = s.clone();
        move || {
            open.get().then(|| {
                let diffs = s
                    .differences
                    .iter()
                    .map(|d| {
                        view! {
                            <tr class:alarm-row={d.cause == "same_data"}>
                                <td>{d.symbol.clone()}</td>
                                <td class="num">{pct(d.planned)}</td>
                                <td class="num">{pct(d.same_data)}</td>
                                <td class="num">{pct(d.today)}</td>
                                <td>{if d.cause == "same_data" { "same data, different result".to_string() } else { "data revised since".to_string() }}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                let revs = s
                    .revisions
                    .iter()
                    .map(|r| {
                        view! {
                            <tr>
                                <td>{r.symbol.clone()}</td>
                                <td>{r.day.clone()}</td>
                                <td>{r.field.clone()}</td>
                                <td class="num">{opt_num(r.before, 6)}</td>
                                <td class="num">{opt_num(r.after, 6)}</td>
                                <td class="num">{r.relative_change.map(pct).unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <tr class="details">
                        <td colspan="8">
                            {s.note.clone().map(|n| view! { <p class="muted">{n}</p> })}
                            {(!s.differences.is_empty()).then(|| view! {
                                <h3>"Weights that differ"</h3>
                                <table class="inner">
                                    <thead>
                                        <tr>
                                            <th>"Symbol"</th>
                                            <th class="num">"Planned"</th>
                                            <th class="num">"Same data"</th>
                                            <th class="num">"Today's data"</th>
                                            <th>"Cause"</th>
                                        </tr>
                                    </thead>
                                    <tbody>{diffs}</tbody>
                                </table>
                            })}
                            {(!s.revisions.is_empty()).then(|| view! {
                                <h3>"Data revised since the plan"</h3>
                                <table class="inner">
                                    <thead>
                                        <tr>
                                            <th>"Symbol"</th>
                                            <th>"Day"</th>
                                            <th>"Field"</th>
                                            <th class="num">"Before"</th>
                                            <th class="num">"After"</th>
                                            <th class="num">"Change"</th>
                                        </tr>
                                    </thead>
                                    <tbody>{revs}</tbody>
                                </table>
                            })}
                        </td>
                    </tr>
                }
            })
        }
    };
    view! {
        <tr
            class="signal-row"
            class:clickable=expandable
            class:alarm-row={s.status == "mismatch"}
            data-status=s.status.clone()
            on:click=move |_| {
                if expandable {
                    open.update(|o| *o = !*o)
                }
            }
        >
            <td>{s.data_day.clone()}</td>
            <td class="muted mono">{s.plan_id.clone()}</td>
            <td>{s.plan_status.clone()}</td>
            <td><span class=badge>{s.status.clone()}</span></td>
            <td class="num">{s.differences.len()}</td>
            <td class="num">{s.revisions.len()}</td>
            <td class:error=!s.kernel_version_matches>{if s.kernel_version_matches { "same" } else { "changed" }}</td>
            <td class="muted">{move || if !expandable { "" } else if open.get() { "▾ hide" } else { "▸ details" }}</td>
        </tr>
        {details}
    }
}

#[component]
fn Parameters(audit: ParameterAudit) -> impl IntoView {
    let show_same = RwSignal::new(false);
    let total = audit.rows.len();
    let same = audit.rows.iter().filter(|r| r.same).count();
    let rows = parameter_order(&audit.rows);
    let header = format!(
        "Live config {} vs backtest config {} (from {}): {} of {} key(s) differ.",
        audit.live_config_version,
        audit.backtest_config_version,
        audit.backtest_config_source,
        audit.differing,
        total
    );
    let body = move || {
        let all = show_same.get();
        if !all && same == total {
            return view! {
                <tr>
                    <td colspan="5" class="ok" id="parameters-agree">
                        {format!("No differences: all {total} effective parameter(s) agree.")}
                    </td>
                </tr>
            }
            .into_any();
        }
        rows.iter()
            .filter(|r| all || !r.same)
            .map(|r| {
                view! {
                    <tr class:differs=!r.same>
                        <td>{if r.strategy.is_empty() { "(portfolio)".to_string() } else { r.strategy.clone() }}</td>
                        <td><code>{r.key.clone()}</code></td>
                        <td class="value">{json_cell(&r.live)}</td>
                        <td class="value">{json_cell(&r.backtest)}</td>
                        <td>{if r.same { "same" } else { "differs" }}</td>
                    </tr>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <p class:error={audit.differing > 0} class:muted={audit.differing == 0} id="parameter-summary">{header}</p>
        <table class="parameters" id="parameter-audit">
            <thead>
                <tr>
                    <th>"Strategy"</th>
                    <th>"Key"</th>
                    <th>"Live"</th>
                    <th>"Backtest"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>{body}</tbody>
        </table>
        {(same > 0).then(|| view! {
            <button class="link" id="parameter-toggle" on:click=move |_| show_same.update(|s| *s = !*s)>
                {move || if show_same.get() { format!("Hide the {same} matching key(s)") } else { format!("Show the {same} matching key(s)") }}
            </button>
        })}
    }
}

#[component]
fn Costs(costs: CostCalibration) -> impl IntoView {
    let bps = |v: Option<f64>| {
        v.map(|x| format!("{x:.2} bps"))
            .unwrap_or_else(|| "— (no fills)".into())
    };
    let verdict = match (&costs.suggestion, costs.fills) {
        (Some(s), _) => view! { <p class="suggestion" id="cost-suggestion">{s.clone()}</p> }.into_any(),
        (None, 0) => view! { <p class="muted" id="cost-suggestion">"No fills yet: the live costs are measured from the first executed order."</p> }.into_any(),
        (None, _) => view! { <p class="ok" id="cost-suggestion">"The fills agree with the configured costs: nothing to change."</p> }.into_any(),
    };
    view! {
        <table class="costs" id="cost-calibration">
            <thead>
                <tr>
                    <th></th>
                    <th class="num">"Configured (backtest)"</th>
                    <th class="num">"Implied by live fills"</th>
                </tr>
            </thead>
            <tbody>
                <tr>
                    <td>"Fee"</td>
                    <td class="num">{format!("{:.2} bps", costs.configured_fee_bps)}</td>
                    <td class="num">{bps(costs.implied_fee_bps)}</td>
                </tr>
                <tr>
                    <td>"Slippage"</td>
                    <td class="num">{format!("{:.2} bps", costs.configured_slippage_bps)}</td>
                    <td class="num">{bps(costs.implied_slippage_bps)}</td>
                </tr>
            </tbody>
        </table>
        <p class="muted">{format!("{} fill(s), {} traded.", costs.fills, usd(costs.traded_notional))}</p>
        {verdict}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AttributionDay, ShadowDay};

    #[test]
    fn the_query_string_skips_empty_fields_and_encodes_values() {
        assert_eq!(ParityQuery::default().api_path(), "/api/parity");
        let q = ParityQuery {
            from: Some("2026-01-01".into()),
            to: Some(" ".into()),
            tolerance: Some("0.05".into()),
            date: None,
            backtest_config: Some("configs/a b&c.json".into()),
        };
        assert_eq!(
            q.api_path(),
            "/api/parity?from=2026-01-01&tolerance=0.05&backtest_config=configs%2Fa%20b%26c.json"
        );
    }

    #[test]
    fn the_form_checks_dates_and_turns_percent_into_a_fraction() {
        let q = form_query("2026-01-01", "2026-02-01", "2.5", "", None).unwrap();
        assert_eq!(q.tolerance.as_deref(), Some("0.025"));
        assert_eq!(q.from.as_deref(), Some("2026-01-01"));
        assert_eq!(q.date, None);
        assert!(form_query("2026-02-01", "2026-01-01", "", "", None)
            .unwrap_err()
            .contains("after"));
        assert!(form_query("2026-13-01", "", "", "", None)
            .unwrap_err()
            .starts_with("From"));
        assert!(form_query("", "", "0", "", None)
            .unwrap_err()
            .starts_with("Tolerance"));
        assert!(form_query("", "", "abc", "", None).is_err());
        assert_eq!(
            form_query("", "", "", "", None).unwrap(),
            ParityQuery::default()
        );
    }

    fn parts(skipped: f64, slippage: f64, total: f64) -> AttributionParts {
        AttributionParts {
            skipped,
            slippage,
            total,
            ..Default::default()
        }
    }

    #[test]
    fn the_chart_stacks_every_cause_and_draws_the_cumulative_total() {
        let a = GapAttribution {
            days: vec![
                AttributionDay {
                    day: "2026-01-01".into(),
                    live_pnl: 10.0,
                    shadow_pnl: 12.0,
                    parts: parts(-1.5, -0.5, -2.0),
                    cumulative: parts(-1.5, -0.5, -2.0),
                },
                AttributionDay {
                    day: "2026-01-02".into(),
                    live_pnl: 5.0,
                    shadow_pnl: 4.0,
                    parts: parts(0.0, 1.0, 1.0),
                    cumulative: parts(-1.5, 0.5, -1.0),
                },
            ],
            total: parts(-1.5, 0.5, -1.0),
            symbols: Vec::new(),
        };
        let d = attribution_chart(&a);
        let names: Vec<&str> = d.parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "skipped",
                "slippage",
                "fees",
                "funding",
                "other",
                "unexplained"
            ]
        );
        assert_eq!(d.days.len(), 2);
        assert_eq!(d.days[0].day, Day::parse("2026-01-01").unwrap());
        assert_eq!(d.days[0].values, vec![-1.5, -0.5, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(d.days[1].line, -1.0);
    }

    #[test]
    fn live_gaps_are_left_out_of_the_live_line() {
        let s = ShadowComparison {
            policy: "time".into(),
            start_equity: 100.0,
            days: vec![
                ShadowDay {
                    day: "2026-01-01".into(),
                    live_equity: Some(100.0),
                    shadow_equity: 100.0,
                },
                ShadowDay {
                    day: "2026-01-02".into(),
                    live_equity: None,
                    shadow_equity: 101.0,
                },
            ],
            live_return: 0.0,
            shadow_return: 0.01,
        };
        let series = shadow_series(&s);
        assert_eq!(series[0].points.len(), 1);
        assert_eq!(series[1].points.len(), 2);
    }

    #[test]
    fn alarms_come_first_then_the_newest_plans() {
        let sig = |day: &str, status: &str| SignalParity {
            plan_id: day.into(),
            data_day: day.into(),
            plan_status: "done".into(),
            status: status.into(),
            kernel_version_matches: true,
            differences: vec![],
            revisions: vec![],
            note: None,
        };
        let order: Vec<String> = signal_order(&[
            sig("2026-01-01", "identical"),
            sig("2026-01-02", "mismatch"),
            sig("2026-01-03", "revised"),
        ])
        .into_iter()
        .map(|s| s.data_day)
        .collect();
        assert_eq!(order, ["2026-01-02", "2026-01-03", "2026-01-01"]);
    }

    #[test]
    fn differing_parameters_come_first() {
        let row = |key: &str, same: bool| ParameterRow {
            strategy: String::new(),
            key: key.into(),
            live: None,
            backtest: None,
            same,
        };
        let keys: Vec<String> = parameter_order(&[row("a", true), row("b", false), row("c", true)])
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(keys, ["b", "a", "c"]);
    }
}
