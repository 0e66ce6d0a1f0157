//! The Portfolio page: equity and drawdown, positions with why they are held, exposure,
//! per-strategy allocation (inactive strategies with the reason), data freshness, and the live
//! book against a backtest of the same config over the same period.

use crate::api::{
    EquityPoint, KillSwitch, KillSwitchRequest, PlanDetail, PlanSummary, Portfolio, Role,
};
use crate::chart::{BarChart, BarGroup, LineChart, Series, PALETTE};
use crate::data::use_panel;
use crate::fetch::{delete_json, get_json, post_json};
use crate::format::{fmt_time, pct, precise, YFormat};
use crate::session::use_session;
use crate::share::BacktestSpec;
use crate::spec::{compile, spec_of};
use leptos::prelude::*;
use shared::Day;
use std::collections::BTreeMap;

fn day_of_ms(ms: i64) -> Day {
    Day(ms.div_euclid(86_400_000) as i32)
}

/// One point per UTC day: the equity of the day's last snapshot of `broker` (the account is
/// snapshotted several times a day; the backtest has one close per day).
pub fn daily_equity(points: &[EquityPoint], broker: &str) -> Vec<(Day, f64)> {
    let mut by_day: BTreeMap<Day, (i64, f64)> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.broker == broker && p.equity.is_finite())
    {
        let e = by_day.entry(day_of_ms(p.at)).or_insert((p.at, p.equity));
        if p.at >= e.0 {
            *e = (p.at, p.equity);
        }
    }
    by_day.into_iter().map(|(d, (_, v))| (d, v)).collect()
}

/// Which days the backtest can cover: the live days up to the last day of market data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// No live equity yet.
    NoLive,
    /// The live history starts after the market data ends.
    None { live_first: Day, data_end: Day },
    /// The backtest covers `from..=to`; `live_last > to` when live continues past the data.
    Some { from: Day, to: Day, live_last: Day },
}

pub fn overlap(live: &[(Day, f64)], data_end: Day) -> Overlap {
    match (live.first(), live.last()) {
        (Some(&(first, _)), Some(_)) if first > data_end => Overlap::None {
            live_first: first,
            data_end,
        },
        (Some(&(first, _)), Some(&(last, _))) => Overlap::Some {
            from: first,
            to: last.min(data_end),
            live_last: last,
        },
        _ => Overlap::NoLive,
    }
}

/// What the book's latest plan says each strategy contributes to each symbol's target:
/// leverage × effective strategy weight × the strategy's target.
pub fn contributions(plan: &PlanDetail) -> BTreeMap<String, Vec<(String, f64)>> {
    let leverage = plan
        .config
        .get("leverage")
        .and_then(|v| v.as_f64())
        .unwrap_or(1.0);
    let mut out: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for s in &plan.strategies {
        for (sym, t) in &s.targets {
            let c = leverage * s.allocation.effective_weight * t;
            if c != 0.0 {
                out.entry(sym.clone())
                    .or_default()
                    .push((s.allocation.name.clone(), c));
            }
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    }
    out
}

/// How old a mark is, from milliseconds: `42 s`, `5 min`, `3.2 h`, `2 d`.
pub fn mark_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 120 {
        format!("{s} s")
    } else if s < 2 * 3600 {
        format!("{} min", s / 60)
    } else if s < 48 * 3600 {
        format!("{:.1} h", s as f64 / 3600.0)
    } else {
        format!("{} d", s / 86_400)
    }
}

#[component]
pub fn PortfolioSection() -> impl IntoView {
    let session = use_session();
    let signed_in = Memo::new(move |_| session.user().is_some());
    // The book refetches when the account, a plan or the kill switch changes on the server.
    let changed =
        crate::live::use_live_events().tick(&["plan", "portfolio", "kill_switch", "demo"]);
    let portfolio = LocalResource::new(move || {
        changed.get();
        let ok = signed_in.get();
        async move {
            if ok {
                get_json::<Portfolio>("/api/portfolio").await.map(Some)
            } else {
                Ok(None)
            }
        }
    });
    let equity = LocalResource::new(move || {
        changed.get();
        let ok = signed_in.get();
        async move {
            if ok {
                get_json::<Vec<EquityPoint>>("/api/equity").await
            } else {
                Ok(Vec::new())
            }
        }
    });
    let plan = LocalResource::new(move || {
        changed.get();
        let ok = signed_in.get();
        async move {
            if !ok {
                return Ok(None);
            }
            let list = get_json::<Vec<PlanSummary>>("/api/plans?limit=1").await?;
            match list.first() {
                Some(p) => get_json::<PlanDetail>(&format!("/api/plans/{}", p.id))
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
    });
    view! {
        <section class="card" id="portfolio">
            <div class="card-head">
                <h1>"Portfolio"</h1>
            </div>
            {move || match session.0.get() {
                None => view! { <p class="muted">"…"</p> }.into_any(),
                Some(None) => view! { <p class="muted" id="portfolio-signed-out">"Sign in to see the book."</p> }.into_any(),
                Some(Some(_)) => view! {
                    <Suspense fallback=|| view! { <p class="muted">"Loading the book…"</p> }>
                        {move || {
                            let (p, e, pl) = (portfolio.get()?, equity.get()?, plan.get()?);
                            Some(match (p, e, pl) {
                                (Ok(Some(p)), Ok(e), Ok(pl)) => view! { <Book portfolio=p equity=e plan=pl/> }.into_any(),
                                (Err(x), _, _) | (_, Err(x), _) | (_, _, Err(x)) => view! { <p class="error">{x}</p> }.into_any(),
                                (Ok(None), _, _) => view! { <p class="muted">"Sign in to see the book."</p> }.into_any(),
                            })
                        }}
                    </Suspense>
                }
                .into_any(),
            }}
        </section>
    }
}

#[component]
fn Book(portfolio: Portfolio, equity: Vec<EquityPoint>, plan: Option<PlanDetail>) -> impl IntoView {
    let why = plan.as_ref().map(contributions).unwrap_or_default();
    let positions = portfolio
        .positions
        .iter()
        .map(|p| {
            // The server's split of today's target (there before any plan), else the latest
            // plan's.
            let reasons = if !p.contributions.is_empty() {
                Some(
                    p.contributions
                        .iter()
                        .map(|c| format!("{} {}", c.strategy, pct(c.weight)))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            } else {
                why.get(&p.symbol).map(|v| {
                    v.iter()
                        .map(|(s, c)| format!("{s} {}", pct(*c)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
            }
            .unwrap_or_else(|| "no strategy targets it".into());
            let age = p
                .mark_as_of
                .map(|at| mark_age(portfolio.as_of - at))
                .unwrap_or_else(|| "—".into());
            view! {
                <tr>
                    <td>{p.symbol.clone()}</td>
                    <td class="num">{precise(p.units)}</td>
                    <td class="num">{if p.mark_price > 0.0 { precise(p.mark_price) } else { "—".into() }}</td>
                    <td class="num muted">{age}</td>
                    <td class="num">{YFormat::Usd.format(p.value)}</td>
                    <td class="num">{pct(p.weight)}</td>
                    <td class="num">{pct(p.target_weight)}</td>
                    <td class="muted">{reasons}</td>
                </tr>
            }
        })
        .collect_view();
    let strategies = portfolio
        .strategies
        .iter()
        .map(|s| {
            view! {
                <tr class:inactive=!s.active>
                    <td>{s.name.clone()}</td>
                    <td class="num">{pct(s.configured_weight)}</td>
                    <td class="num">{pct(s.effective_weight)}</td>
                    <td>
                        {if s.active {
                            format!("active (computed {})", s.computed_on.clone().unwrap_or_default())
                        } else {
                            format!("inactive: {}", s.inactive_reason.clone().unwrap_or_default())
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let fresh = &portfolio.data;
    let freshness = match (&fresh.last_complete_day, fresh.age_hours) {
        (Some(d), Some(h)) => format!(
            "last complete day {d}, {h:.0} h old{}",
            if fresh.stale {
                format!(
                    " — STALE (limit {:.0} h): the live cycle will not trade",
                    fresh.max_age_hours
                )
            } else {
                String::new()
            }
        ),
        _ => "no market data".into(),
    };
    let live_series = daily_equity(&equity, &portfolio.broker);
    let dd: Vec<(Day, f64)> = live_series
        .iter()
        .map(|(d, _)| *d)
        .zip(shared::metrics::drawdowns(
            live_series.iter().map(|(_, v)| *v),
        ))
        .collect();
    let live_for_cmp = live_series.clone();
    let panel = use_panel();
    let config = plan.as_ref().map(|p| p.config.clone());
    // The live config's venue panel (its listings and funding), as the live plans were chosen.
    let request = config
        .as_ref()
        .map(|c| crate::spec::panel_request(&spec_of(c.clone())))
        .unwrap_or_default();
    Effect::new(move |_| panel.want(request));
    let positions_now: Vec<(String, f64)> = portfolio
        .positions
        .iter()
        .map(|p| (p.symbol.clone(), p.weight))
        .collect();
    // The backtest of the live config (its own rebalance policy and costs) over the live
    // period, from the same kernels, in the browser; `Err` says why there is none.
    let shadow = Memo::new(move |_| {
        let p = match panel.ready_for(request) {
            None => return Err("Loading market data for the backtest…".to_string()),
            Some(Err(e)) => return Err(format!("No backtest: the market data did not load: {e}")),
            Some(Ok(p)) => p,
        };
        let Some(config) = config.clone() else {
            return Err("No backtest yet: there is no plan, so no live config to run.".into());
        };
        let (from, to) = match overlap(&live_for_cmp, p.panel.end()) {
            Overlap::NoLive => {
                return Err("No live equity yet: the comparison starts with the first account snapshot.".into())
            }
            Overlap::None { live_first, data_end } => {
                return Err(format!(
                    "No overlap: the live history starts on {live_first}, after the last day of market data ({data_end}). The backtest cannot cover it until newer data is imported; only live equity is shown."
                ))
            }
            Overlap::Some { from, to, .. } => (from, to),
        };
        backtest_config(&p, config, from, to)
    });
    // The backtest's book on the last day of data, for the per-symbol bars: the shadow's last
    // day when it covers the live period, else a backtest started on that day alone (what the
    // latest plan was computed from), so the bars compare something even without overlap.
    let config_for_bars = plan.as_ref().map(|p| p.config.clone());
    let bars_backtest = Memo::new(move |_| {
        if let Ok(r) = shadow.get() {
            return Some(r);
        }
        let Some(Ok(p)) = panel.ready_for(request) else {
            return None;
        };
        let end = p.panel.end();
        backtest_config(&p, config_for_bars.clone()?, end, end).ok()
    });
    let live_span = live_series
        .first()
        .zip(live_series.last())
        .map(|(a, b)| (a.0, b.0));
    let compare_note = move || -> Option<String> {
        match shadow.get() {
            Err(e) => Some(e),
            Ok(r) => {
                let (_, live_last) = live_span?;
                (live_last > r.end).then(|| {
                    format!(
                        "The backtest ends on {} (the last day of market data); live continues to {live_last}.",
                        r.end
                    )
                })
            }
        }
    };
    let compare = Signal::derive(move || {
        let mut out = vec![Series {
            name: "Live (last snapshot of each day)".into(),
            color: PALETTE[0],
            points: live_series.clone(),
        }];
        if let (Ok(r), Some((_, v0))) = (shadow.get(), live_series.first()) {
            out.push(Series {
                name: "Backtest (same config)".into(),
                color: PALETTE[1],
                points: r.equity.iter().map(|e| (e.date, e.nav * v0)).collect(),
            });
        }
        out
    });
    let bars = Signal::derive(move || {
        let mut by: BTreeMap<String, [f64; 2]> = BTreeMap::new();
        for (s, w) in &positions_now {
            by.entry(s.clone()).or_default()[0] = *w;
        }
        if let Some(r) = bars_backtest.get() {
            let last = r.holdings.last().map(|h| h.date);
            for h in r.holdings.iter().filter(|h| Some(h.date) == last) {
                by.entry(h.symbol.clone()).or_default()[1] = h.weight;
            }
        }
        by.into_iter()
            .map(|(label, v)| BarGroup {
                label,
                values: v.to_vec(),
            })
            .collect::<Vec<_>>()
    });
    view! {
        {portfolio.simulated.then(|| view! {
            <p class="simulated-banner" id="portfolio-simulated">
                "Simulated paper history (lockstep demo): this account's plans, fills and equity were made by the live cycle on past data with auto-approval — not real trading."
            </p>
        })}
        <dl class="facts" id="book-facts">
            <dt>"Broker"</dt>
            <dd>{portfolio.broker.clone()}</dd>
            <dt>"Equity"</dt>
            <dd id="equity">
                {YFormat::Usd.format(portfolio.equity)}
                <span class="muted">{format!(" at {}", if portfolio.marks_source.is_empty() { "the venue's marks".to_string() } else { portfolio.marks_source.clone() })}</span>
            </dd>
            <dt>"Since last snapshot"</dt>
            <dd id="pnl-since-snapshot">
                {match (portfolio.pnl_since_snapshot, portfolio.snapshot_at) {
                    (Some(pnl), Some(at)) => format!(
                        "{}{} since {}",
                        if pnl > 0.0 { "+" } else { "" },
                        YFormat::Usd.format(pnl),
                        fmt_time(at)
                    ),
                    _ => "no snapshot yet".to_string(),
                }}
            </dd>
            <dt>"Exposure"</dt>
            <dd>{format!("gross {} · net {}", pct(portfolio.gross_exposure), pct(portfolio.net_exposure))}</dd>
            <dt>"Data"</dt>
            <dd class:error=fresh.stale>{freshness}</dd>
            <dt>"Kill switch"</dt>
            <dd><KillSwitchControl active=portfolio.kill_switch/></dd>
        </dl>
        <h2>"Positions"</h2>
        <table class="positions" id="positions">
            <thead>
                <tr>
                    <th>"Symbol"</th>
                    <th>"Units"</th>
                    <th>"Mark"</th>
                    <th>"Mark age"</th>
                    <th>"Value (USD)"</th>
                    <th>"Weight"</th>
                    <th>"Target"</th>
                    <th>"Why (strategy contributions to the target)"</th>
                </tr>
            </thead>
            <tbody>{positions}</tbody>
        </table>
        <h2>"Strategies"</h2>
        <table class="strategies" id="allocation">
            <thead>
                <tr>
                    <th>"Strategy"</th>
                    <th>"Configured"</th>
                    <th>"Effective"</th>
                    <th>"State"</th>
                </tr>
            </thead>
            <tbody>{strategies}</tbody>
        </table>
        <LineChart id="live-vs-backtest" title="Live equity vs the backtest of the same config" series=compare y_format=YFormat::Usd/>
        <p class="muted chart-note" id="live-vs-backtest-note">{compare_note}</p>
        <LineChart
            id="live-drawdown"
            title="Drawdown (live)"
            series=Signal::derive(move || vec![Series { name: "Live".into(), color: PALETTE[3], points: dd.clone() }])
            y_format=YFormat::Percent
            height=200
        />
        <BarChart
            id="positions-vs-backtest"
            title="Weights: live now vs the backtest on the last day of data"
            series_names=Signal::derive(|| vec!["Live".to_string(), "Backtest".to_string()])
            groups=bars
            y_format=YFormat::Percent
        />
        <p class="muted chart-note" id="positions-vs-backtest-note">
            {move || match bars_backtest.get().and_then(|r| r.holdings.last().map(|h| h.date)) {
                Some(d) => format!("Backtest: the live config's holdings after trading on {d}; live: the account now."),
                None => "No backtest holdings to compare yet.".to_string(),
            }}
        </p>
    }
}

/// Backtests the live `config` (with its own rebalance policy and costs) on `panel` over
/// `from..=to`, in the browser, with the same kernels as the server.
fn backtest_config(
    panel: &crate::data::LoadedPanel,
    config: serde_json::Value,
    from: Day,
    to: Day,
) -> Result<shared::backtest::BacktestResult, String> {
    let spec = BacktestSpec {
        start: Some(from),
        end: Some(to),
        ..spec_of(config)
    };
    compile(&spec).map_err(|e| format!("The live config does not run: {e}"))?;
    crate::spec::run_on(&spec, &panel.panel, panel.universe.as_ref())
        .map_err(|e| format!("The backtest of the live config failed: {e}"))
}

/// Why the visitor may not switch the kill switch, or `None` for a trader.
fn kill_switch_refusal(session: crate::session::Session) -> Option<String> {
    match session.0.get() {
        None => Some("Checking who is signed in…".into()),
        Some(None) => Some("Sign in as a trader to use the kill switch.".into()),
        Some(Some(u)) if u.role != Role::Trader => Some(format!(
            "{} is a viewer: only traders can switch the kill switch.",
            u.username
        )),
        Some(Some(_)) => None,
    }
}

/// Asks the user to confirm in a browser dialog (never on the server).
fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(question).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}

/// The kill switch's state (who turned it on, when, why) and, for traders, the button that
/// turns it on (with an optional reason) or off, after a confirmation.
#[component]
fn KillSwitchControl(active: bool) -> impl IntoView {
    let session = use_session();
    let state = RwSignal::new(KillSwitch {
        active,
        reason: None,
        changed_by: None,
        changed_at: None,
    });
    // Every open tab follows the switch: refetched on the server's kill-switch events.
    let flipped = crate::live::use_live_events().tick(&["kill_switch"]);
    let current = LocalResource::new(move || {
        flipped.get();
        get_json::<KillSwitch>("/api/kill-switch")
    });
    Effect::new(move |_| {
        if let Some(Ok(k)) = current.get() {
            state.set(k);
        }
    });
    let reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let toggle = move |_| {
        let turn_on = !state.get_untracked().active;
        let question = if turn_on {
            "Turn the kill switch ON? No new orders are sent until a trader turns it off."
        } else {
            "Turn the kill switch OFF? Approved plans can execute again."
        };
        if !confirm(question) {
            return;
        }
        busy.set(true);
        error.set(None);
        let why = reason.get_untracked().trim().to_string();
        leptos::task::spawn_local(async move {
            let r = if turn_on {
                let body = KillSwitchRequest {
                    reason: (!why.is_empty()).then_some(why),
                };
                post_json::<KillSwitchRequest, KillSwitch>("/api/kill-switch", Some(&body)).await
            } else {
                delete_json::<KillSwitch>("/api/kill-switch").await
            };
            match r {
                Ok(k) => {
                    state.set(k);
                    reason.set(String::new());
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let describe = move || {
        let k = state.get();
        let who = match (&k.changed_by, k.changed_at) {
            (Some(by), Some(at)) => format!(" (by {by}, {})", fmt_time(at)),
            (Some(by), None) => format!(" (by {by})"),
            _ => String::new(),
        };
        if k.active {
            let why = k.reason.map(|r| format!(": {r}")).unwrap_or_default();
            format!("ON — new orders are blocked{why}{who}")
        } else {
            format!("off{who}")
        }
    };
    view! {
        <div class="kill-switch" id="kill-switch" data-active=move || state.get().active.to_string()>
            <span id="kill-switch-state" class:error=move || state.get().active>{describe}</span>
            {move || (!state.get().active).then(|| view! {
                <input
                    id="kill-switch-reason"
                    type="text"
                    placeholder="reason (optional)"
                    prop:value=move || reason.get()
                    on:input=move |ev| reason.set(event_target_value(&ev))
                    disabled=move || busy.get() || kill_switch_refusal(session).is_some()
                />
            })}
            <button
                id="kill-switch-toggle"
                class=move || if state.get().active { "secondary" } else { "danger" }
                disabled=move || busy.get() || kill_switch_refusal(session).is_some()
                on:click=toggle
            >
                {move || if state.get().active { "Turn off" } else { "Turn on" }}
            </button>
            <span class="muted" id="kill-switch-refusal">{move || kill_switch_refusal(session).unwrap_or_default()}</span>
            {move || error.get().map(|e| view! { <span class="error" id="kill-switch-error">{e}</span> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(at: i64, broker: &str, equity: f64) -> EquityPoint {
        EquityPoint {
            at,
            broker: broker.into(),
            equity,
            gross_exposure: 0.0,
            net_exposure: 0.0,
        }
    }

    #[test]
    fn one_point_per_day_the_last_snapshot_of_the_broker() {
        const DAY: i64 = 86_400_000;
        let pts = [
            snap(20_000 * DAY + 5, "paper", 100.0),
            snap(20_000 * DAY + 9_000, "paper", 101.0),
            snap(20_000 * DAY + 7_000, "paper", 99.0), // out of order, older than the 101
            snap(20_000 * DAY + 9_500, "hyperliquid", 5.0),
            snap(20_002 * DAY, "paper", 103.0),
        ];
        assert_eq!(
            daily_equity(&pts, "paper"),
            vec![(Day(20_000), 101.0), (Day(20_002), 103.0)]
        );
        assert_eq!(daily_equity(&pts, "hyperliquid"), vec![(Day(20_000), 5.0)]);
    }

    #[test]
    fn the_backtest_covers_live_days_up_to_the_data() {
        let live = [(Day(10), 1.0), (Day(12), 1.0), (Day(15), 1.0)];
        assert_eq!(overlap(&[], Day(5)), Overlap::NoLive);
        assert_eq!(
            overlap(&live, Day(9)),
            Overlap::None {
                live_first: Day(10),
                data_end: Day(9)
            }
        );
        assert_eq!(
            overlap(&live, Day(13)),
            Overlap::Some {
                from: Day(10),
                to: Day(13),
                live_last: Day(15)
            }
        );
        assert_eq!(
            overlap(&live, Day(20)),
            Overlap::Some {
                from: Day(10),
                to: Day(15),
                live_last: Day(15)
            }
        );
    }
}

#[cfg(test)]
mod daily_tests {
    #[test]
    fn mark_ages_read_at_a_glance() {
        assert_eq!(super::mark_age(42_000), "42 s");
        assert_eq!(super::mark_age(-5), "0 s");
        assert_eq!(super::mark_age(5 * 60_000), "5 min");
        assert_eq!(super::mark_age(3 * 3_600_000 + 720_000), "3.2 h");
        assert_eq!(super::mark_age(5 * 86_400_000), "5 d");
    }
}
