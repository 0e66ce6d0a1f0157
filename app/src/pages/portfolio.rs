//! The Portfolio page: equity and drawdown, positions with why they are held, exposure,
//! per-strategy allocation (inactive strategies with the reason), data freshness, and the live
//! book against a backtest of the same config over the same period.

use crate::api::{EquityPoint, PlanDetail, PlanSummary, Portfolio};
use crate::chart::{BarChart, BarGroup, LineChart, Series, YFormat, PALETTE};
use crate::data::use_panel;
use crate::fetch::get_json;
use crate::pages::backtest::{compile, default_spec};
use crate::session::use_session;
use leptos::prelude::*;
use shared::Day;
use std::collections::BTreeMap;

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn day_of_ms(ms: i64) -> Day {
    Day(ms.div_euclid(86_400_000) as i32)
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

#[component]
pub fn PortfolioSection() -> impl IntoView {
    let session = use_session();
    let signed_in = Memo::new(move |_| session.user().is_some());
    let portfolio = LocalResource::new(move || {
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
            let reasons = why
                .get(&p.symbol)
                .map(|v| {
                    v.iter()
                        .map(|(s, c)| format!("{s} {}", pct(*c)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|| "no strategy targets it".into());
            view! {
                <tr>
                    <td>{p.symbol.clone()}</td>
                    <td class="num">{format!("{}", p.units)}</td>
                    <td class="num">{format!("{:.2}", p.value)}</td>
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
    let live_series: Vec<(Day, f64)> = equity.iter().map(|e| (day_of_ms(e.at), e.equity)).collect();
    let mut peak = f64::MIN;
    let dd: Vec<(Day, f64)> = live_series
        .iter()
        .map(|(d, v)| {
            peak = peak.max(*v);
            (*d, v / peak - 1.0)
        })
        .collect();
    let live_for_cmp = live_series.clone();
    let panel = use_panel();
    let config = plan.as_ref().map(|p| p.config.clone());
    let positions_now: Vec<(String, f64)> = portfolio
        .positions
        .iter()
        .map(|p| (p.symbol.clone(), p.weight))
        .collect();
    // The backtest of the live config over the live period, from the same kernels, in the browser.
    let shadow = Memo::new(move |_| {
        let Some(Ok(p)) = panel.0.get() else {
            return None;
        };
        let config = config.clone()?;
        let first = live_for_cmp.first()?.0;
        let last = live_for_cmp.last()?.0.min(p.panel.end());
        let spec = crate::share::BacktestSpec {
            config,
            start: Some(first),
            end: Some(last),
            ..default_spec()
        };
        let (c, s) = compile(&spec).ok()?;
        shared::backtest::run(&p.panel, &c, &s).ok()
    });
    let compare = Signal::derive(move || {
        let mut out = vec![Series {
            name: "Live".into(),
            color: PALETTE[0],
            points: live_series.clone(),
        }];
        if let (Some(r), Some((_, v0))) = (shadow.get(), live_series.first()) {
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
        if let Some(r) = shadow.get() {
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
        <dl class="facts" id="book-facts">
            <dt>"Broker"</dt>
            <dd>{portfolio.broker.clone()}</dd>
            <dt>"Equity"</dt>
            <dd id="equity">{format!("{:.2} USD", portfolio.equity)}</dd>
            <dt>"Exposure"</dt>
            <dd>{format!("gross {} · net {}", pct(portfolio.gross_exposure), pct(portfolio.net_exposure))}</dd>
            <dt>"Data"</dt>
            <dd class:error=fresh.stale>{freshness}</dd>
            <dt>"Kill switch"</dt>
            <dd class:error=portfolio.kill_switch>{if portfolio.kill_switch { "ON: new orders are blocked" } else { "off" }}</dd>
        </dl>
        <h2>"Positions"</h2>
        <table class="positions" id="positions">
            <thead>
                <tr>
                    <th>"Symbol"</th>
                    <th>"Units"</th>
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
        <LineChart id="live-vs-backtest" title="Live equity vs the backtest of the same config" series=compare/>
        <LineChart
            id="live-drawdown"
            title="Drawdown (live)"
            series=Signal::derive(move || vec![Series { name: "Live".into(), color: PALETTE[3], points: dd.clone() }])
            y_format=YFormat::Percent
            height=200
        />
        <BarChart
            id="positions-vs-backtest"
            title="Weights today: live vs backtest"
            series_names=Signal::derive(|| vec!["Live".to_string(), "Backtest".to_string()])
            groups=bars
            y_format=YFormat::Percent
        />
    }
}
