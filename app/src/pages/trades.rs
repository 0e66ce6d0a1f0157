//! The Trades page: today's plan (current vs target per symbol, order sizes, risk checks),
//! Approve / Reject for traders, live status while it executes (the server's event stream,
//! [`crate::live`]), the plan history, and on an empty history the button that simulates a
//! labelled paper history (`POST /api/demo`). `/plans/<id>` shows one plan.

use crate::api::{
    DemoRequest, DemoRun, LiveRunResult, OrderState, PlanDecision, PlanDetail, PlanStatus,
    PlanSummary,
};
use crate::fetch::{get_json, post_json};
use crate::format::{fmt_time, number, pct, precise, YFormat};
use crate::live::use_live_events;
use crate::session::use_session;
use leptos::prelude::*;

/// Whether a plan is still moving (the page polls while it is).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn in_flight(status: PlanStatus) -> bool {
    matches!(status, PlanStatus::Approved | PlanStatus::Executing)
}

/// Whether a plan offers Reconcile: it is executing (perhaps interrupted), or it closed with
/// orders whose outcome the store does not know for sure (pending, unknown, open).
fn can_reconcile(plan: &PlanDetail) -> bool {
    match plan.summary.status {
        PlanStatus::Executing => true,
        PlanStatus::PartiallyFailed | PlanStatus::Abandoned => plan.orders.iter().any(|o| {
            matches!(
                o.status,
                OrderState::Pending | OrderState::Unknown | OrderState::Open
            )
        }),
        _ => false,
    }
}

#[component]
pub fn TradesPage() -> impl IntoView {
    let session = use_session();
    let events = use_live_events();
    // Refetch on the server's events: a new plan, a status change, fills, a demo day.
    let changed = events.tick(&["plan", "demo", "kill_switch"]);
    let refresh = RwSignal::new(0u32);
    let plans = LocalResource::new(move || {
        refresh.get();
        changed.get();
        get_json::<Vec<PlanSummary>>("/api/plans?limit=50")
    });
    let current_id = Memo::new(move |_| match plans.get() {
        Some(Ok(p)) => p.first().map(|p| p.id.clone()),
        _ => None,
    });
    let demo = LocalResource::new(move || {
        refresh.get();
        changed.get();
        get_json::<Vec<DemoRun>>("/api/demo")
    });
    let busy = RwSignal::new(false);
    let action_error = RwSignal::new(None::<String>);
    let run_cycle = move |_| {
        busy.set(true);
        action_error.set(None);
        leptos::task::spawn_local(async move {
            match post_json::<(), LiveRunResult>("/api/live/run", None).await {
                Ok(r) if r.plan.is_none() => {
                    action_error.set(Some(format!("No plan: {}", r.notes.join("; "))))
                }
                Ok(_) => {}
                Err(e) => action_error.set(Some(e.message)),
            }
            busy.set(false);
            refresh.update(|n| *n += 1);
        });
    };
    let demo_days = RwSignal::new(90u32);
    let start_demo = move |_| {
        busy.set(true);
        action_error.set(None);
        leptos::task::spawn_local(async move {
            let body = DemoRequest {
                days: Some(demo_days.get_untracked()),
            };
            if let Err(e) = post_json::<DemoRequest, DemoRun>("/api/demo", Some(&body)).await {
                action_error.set(Some(e.message));
            }
            busy.set(false);
            refresh.update(|n| *n += 1);
        });
    };

    view! {
        <div class="page trades">
            <section class="card">
                <div class="card-head">
                    <h1>"Trades"</h1>
                    <div class="actions">
                        <button
                            class="secondary"
                            id="run-cycle"
                            disabled=move || busy.get() || session.trade_refusal().is_some()
                            on:click=run_cycle
                        >
                            "Run live cycle now"
                        </button>
                    </div>
                </div>
                {move || action_error.get().map(|e| view! { <p class="error" id="trade-error">{e}</p> })}
                {move || demo.get().and_then(|d| d.ok()).and_then(|runs| runs.first().cloned()).map(|r| view! {
                    <p class="simulated-banner" id="demo-status" data-status=r.status.clone()>
                        {match r.status.as_str() {
                            "running" => format!("Simulating paper history: day {} of {} ({} to {})…", r.days_done, r.days, r.first_day, r.last_day),
                            "failed" => format!("The simulated paper history stopped: {}", r.error.clone().unwrap_or_default()),
                            _ => format!("Simulated paper history: {} plans over {} to {}, made by the live cycle on past data with auto-approval on the paper broker — not real trading.", r.plans, r.first_day, r.last_day),
                        }}
                    </p>
                })}
                {move || match (current_id.get(), plans.get()) {
                    (Some(id), _) => view! { <PlanPanel id=id on_change=refresh/> }.into_any(),
                    (None, Some(Ok(_))) => view! {
                        <div class="empty-state" id="no-plan">
                            <p>"No plan yet. The scheduler proposes one after each day's close; a trader can also run the cycle now."</p>
                            <p>"To see the routine before real trading: simulate a paper history. The live cycle runs day by day over the last days of the stored data on the paper broker, approving every plan automatically. It is labelled as simulated wherever it appears and never touches a real broker."</p>
                            <div class="actions">
                                <label>
                                    "Days"
                                    <input
                                        type="number"
                                        class="num"
                                        id="demo-days"
                                        min="1"
                                        max="1000"
                                        prop:value=move || demo_days.get().to_string()
                                        on:input=move |e| {
                                            if let Ok(d) = event_target_value(&e).parse::<u32>() {
                                                demo_days.set(d);
                                            }
                                        }
                                    />
                                </label>
                                <button
                                    id="start-demo"
                                    disabled=move || busy.get() || session.trade_refusal().is_some()
                                    on:click=start_demo
                                >
                                    "Simulate paper history"
                                </button>
                            </div>
                        </div>
                    }
                    .into_any(),
                    (None, Some(Err(e))) => view! { <p class="error">{e}</p> }.into_any(),
                    (None, None) => view! { <p class="muted">"Loading the plan…"</p> }.into_any(),
                }}
            </section>
            <section class="card">
                <h2>"Plan history"</h2>
                <Suspense fallback=|| ()>
                    {move || plans.get().map(|p| match p {
                        Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                        Ok(list) => view! { <PlanHistory plans=list/> }.into_any(),
                    })}
                </Suspense>
            </section>
        </div>
    }
}

/// `/plans/<id>`: one plan, where a notification's link leads. On a phone the summary, the
/// risk checks and Approve / Reject come first, the order table after.
#[component]
pub fn PlanPage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let refresh = RwSignal::new(0u32);
    view! {
        <div class="page trades plan-page">
            <section class="card">
                <div class="card-head">
                    <h1>"Plan"</h1>
                    <a href="/trades" class="button secondary">"All plans"</a>
                </div>
                {move || view! { <PlanPanel id=id.get() on_change=refresh/> }}
            </section>
        </div>
    }
}

/// One plan with its actions, refetched on the server's events for it.
#[component]
fn PlanPanel(id: String, on_change: RwSignal<u32>) -> impl IntoView {
    let session = use_session();
    let events = use_live_events();
    let changed = events.tick(&["plan", "kill_switch"]);
    let plan_id = id.clone();
    let detail = LocalResource::new(move || {
        on_change.get();
        changed.get();
        let id = plan_id.clone();
        async move { get_json::<PlanDetail>(&format!("/api/plans/{id}")).await }
    });
    let action_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let act = move |path: String| {
        busy.set(true);
        action_error.set(None);
        leptos::task::spawn_local(async move {
            let r =
                post_json::<PlanDecision, serde_json::Value>(&path, Some(&PlanDecision::default()))
                    .await;
            if let Err(e) = r {
                action_error.set(Some(e.message));
            }
            busy.set(false);
            on_change.update(|n| *n += 1);
        });
    };
    // Without the event stream (a proxy that buffers it), poll while a plan executes.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(Ok(d)) = detail.get() {
            if in_flight(d.summary.status) {
                leptos::task::spawn_local(async move {
                    gloo_timers_sleep(2000).await;
                    on_change.update(|n| *n += 1);
                });
            }
        }
    });
    view! {
        {move || action_error.get().map(|e| view! { <p class="error" id="trade-error">{e}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading the plan…"</p> }>
            {move || detail.get().map(|d| match d {
                Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                Ok(plan) => {
                    let id = plan.summary.id.clone();
                    let can_decide =
                        plan.summary.status == PlanStatus::Proposed && !plan.summary.blocked;
                    let (a_id, r_id, e_id, c_id) = (id.clone(), id.clone(), id.clone(), id);
                    let approved_not_run = plan.summary.status == PlanStatus::Approved;
                    // An interrupted execution, or a closed one whose orders may still be
                    // unsettled at the venue: ask the venue by client order id.
                    let reconcilable = can_reconcile(&plan);
                    let actions = view! {
                        <div class="actions plan-actions">
                            <button
                                id="approve-plan"
                                disabled=move || busy.get() || !can_decide || session.trade_refusal().is_some()
                                on:click=move |_| act(format!("/api/plans/{a_id}/approve"))
                            >
                                "Approve"
                            </button>
                            <button
                                class="danger"
                                id="reject-plan"
                                disabled=move || busy.get() || !can_decide || session.trade_refusal().is_some()
                                on:click=move |_| act(format!("/api/plans/{r_id}/reject"))
                            >
                                "Reject"
                            </button>
                            {approved_not_run.then(|| view! {
                                <button
                                    class="secondary"
                                    id="execute-plan"
                                    disabled=move || busy.get() || session.trade_refusal().is_some()
                                    on:click=move |_| act(format!("/api/plans/{e_id}/execute"))
                                >
                                    "Execute now"
                                </button>
                            })}
                            {reconcilable.then(|| view! {
                                <button
                                    class="secondary"
                                    id="reconcile-plan"
                                    title="Ask the venue about this plan's orders by client order id; an interrupted plan resumes if it still may, otherwise it is closed as abandoned. Nothing is sent twice."
                                    disabled=move || busy.get() || session.trade_refusal().is_some()
                                    on:click=move |_| act(format!("/api/plans/{c_id}/reconcile"))
                                >
                                    "Reconcile"
                                </button>
                            })}
                            <span class="muted" id="trade-refusal">
                                {move || session.trade_refusal().unwrap_or_default()}
                            </span>
                        </div>
                    };
                    view! { <PlanView plan=plan actions=actions.into_any()/> }.into_any()
                }
            })}
        </Suspense>
    }
}

#[cfg(feature = "hydrate")]
async fn gloo_timers_sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// A plan: the summary first, then the risk checks, then `actions` (Approve / Reject), then
/// the order table and the execution, so a phone shows what to decide on before the detail.
#[component]
fn PlanView(plan: PlanDetail, #[prop(optional)] actions: Option<AnyView>) -> impl IntoView {
    let s = plan.summary.clone();
    let lines = plan
        .lines
        .iter()
        .map(|l| {
            view! {
                <tr class:dropped=l.dropped.is_some()>
                    <td>{l.symbol.clone()}</td>
                    <td class="num">{pct(l.current_weight)}</td>
                    <td class="num">{pct(l.target_weight)}</td>
                    <td class="num">{pct(l.new_weight)}</td>
                    <td class="num">{YFormat::Usd.format(l.notional)}</td>
                    <td class="num">{l.size.clone()}</td>
                    <td class="num">{l.limit_price.clone()}</td>
                    <td>{l.action.as_str()}</td>
                    <td class="muted">{l.dropped.clone().unwrap_or_default()}</td>
                    // What to know before approving a line that is sent (e.g. the dust an
                    // exit leaves when the venue's size decimals cannot close it exactly).
                    <td class="muted">{l.note.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    let checks = plan
        .risk
        .checks
        .iter()
        .map(|c| {
            view! {
                <tr>
                    <td>{c.name.clone()}</td>
                    <td class="num">{number(c.value)}</td>
                    <td class="num">{number(c.limit)}</td>
                    <td class=if c.ok { "ok" } else { "error" }>{if c.ok { "ok" } else { "violated" }}</td>
                    <td class="muted">{c.detail.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let orders = plan
        .orders
        .iter()
        .map(|o| {
            view! {
                <tr>
                    <td>{o.symbol.clone()}</td>
                    <td class="num">{o.size.clone()}</td>
                    <td>{o.status.as_str()}</td>
                    <td class="num">{precise(o.filled_units)}</td>
                    <td class="num">{if o.avg_price > 0.0 { precise(o.avg_price) } else { "—".into() }}</td>
                    <td class="num">{YFormat::Usd.format(o.fee)}</td>
                    <td class="muted">{o.reason.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    let inactive = plan
        .strategies
        .iter()
        .filter(|s| !s.allocation.active)
        .map(|s| {
            format!(
                "{}: {}",
                s.allocation.name,
                s.allocation.inactive_reason.clone().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>();
    view! {
        <div class="plan" id="current-plan" data-status=s.status.as_str() data-plan-id=s.id.clone()>
            <dl class="facts">
                <dt>"Plan"</dt>
                <dd>{s.id.clone()}</dd>
                <dt>"Status"</dt>
                <dd id="plan-status" class=format!("status-{}", s.status)>{s.status.as_str()}</dd>
                <dt>"Data day"</dt>
                <dd>{s.data_day.clone()}</dd>
                <dt>"Broker"</dt>
                <dd>{s.broker.clone()}</dd>
                <dt>"Equity"</dt>
                <dd>{YFormat::Usd.format(s.equity)}</dd>
                <dt>"Decided"</dt>
                <dd id="plan-decided">
                    {match (&s.decided_by, s.decided_at) {
                        (Some(by), Some(at)) => format!("by {by} at {}", fmt_time(at)),
                        _ => format!("not yet (expires {})", fmt_time(s.expires_at)),
                    }}
                </dd>
                <dt>"Inputs"</dt>
                <dd class="muted">{format!("config {} · kernel {} · policy {}", plan.config_version, plan.kernel_version, plan.policy)}</dd>
            </dl>
            {s.simulated.then(|| view! {
                <p class="simulated-banner" id="plan-simulated">
                    "Simulated paper history (lockstep demo): made by the live cycle on past data, not real trading."
                </p>
            })}
            {s.blocked.then(|| view! { <p class="error" id="plan-blocked">{format!("Blocked: {}", s.block_reasons.join("; "))}</p> })}
            {(!inactive.is_empty()).then(|| view! { <p class="muted">{format!("Inactive strategies — {}", inactive.join(" · "))}</p> })}
            <h3>"Risk checks"</h3>
            <table class="risk">
                <thead>
                    <tr>
                        <th>"Check"</th>
                        <th>"Value"</th>
                        <th>"Limit"</th>
                        <th></th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>{checks}</tbody>
            </table>
            {actions}
            <h3>"Orders"</h3>
            <div class="table-scroll">
            <table class="lines" id="plan-lines">
                <thead>
                    <tr>
                        <th>"Symbol"</th>
                        <th>"Current"</th>
                        <th>"Target"</th>
                        <th>"After"</th>
                        <th>"Notional"</th>
                        <th>"Size"</th>
                        <th>"Limit"</th>
                        <th>"Action"</th>
                        <th>"Dropped"</th>
                        <th>"Note"</th>
                    </tr>
                </thead>
                <tbody>{lines}</tbody>
            </table>
            </div>
            {(!plan.orders.is_empty()).then(|| view! {
                <h3>"Execution"</h3>
                <table class="orders" id="plan-orders">
                    <thead>
                        <tr>
                            <th>"Symbol"</th>
                            <th>"Size"</th>
                            <th>"Status"</th>
                            <th>"Filled"</th>
                            <th>"Avg price"</th>
                            <th>"Fee"</th>
                            <th></th>
                        </tr>
                    </thead>
                    <tbody>{orders}</tbody>
                </table>
            })}
        </div>
    }
}

#[component]
fn PlanHistory(plans: Vec<PlanSummary>) -> impl IntoView {
    let rows = plans
        .into_iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{fmt_time(p.created_at)}</td>
                    <td>{p.data_day}</td>
                    <td>
                        {p.status.as_str()}
                        {p.simulated.then(|| view! { " " <span class="badge badge-sim">"simulated"</span> })}
                    </td>
                    <td class="num">{p.orders}</td>
                    <td>{p.decided_by.unwrap_or_default()}</td>
                    <td>{p.decided_at.map(fmt_time).unwrap_or_default()}</td>
                    <td><a href=format!("/plans/{}", p.id)>{p.id.clone()}</a></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
        <table class="history" id="plan-history">
            <thead>
                <tr>
                    <th>"Created"</th>
                    <th>"Data day"</th>
                    <th>"Status"</th>
                    <th>"Orders"</th>
                    <th>"Decided by"</th>
                    <th>"At"</th>
                    <th>"Id"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        </div>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn line(symbol: &str, dropped: Option<&str>, note: Option<&str>) -> crate::api::PlanLine {
        crate::api::PlanLine {
            symbol: symbol.into(),
            mark_price: 1.0,
            current_units: 1198.5,
            current_weight: 0.1,
            target_weight: 0.0,
            new_weight: 0.0,
            notional: -1198.5,
            size: "-1198".into(),
            limit_price: "0.99".into(),
            reduce_only: true,
            action: crate::api::PlanAction::Sell,
            dropped: dropped.map(str::to_string),
            note: note.map(str::to_string),
            client_order_id: None,
        }
    }

    // Rendering to HTML needs the server build (`ssr`, on in `cargo test --workspace`).
    #[test]
    fn the_plan_table_shows_each_lines_note_beside_its_dropped_reason() {
        let plan = PlanDetail {
            summary: PlanSummary {
                id: "p1".into(),
                status: crate::api::PlanStatus::Proposed,
                broker: "paper".into(),
                created_at: 0,
                data_day: "2026-01-01".into(),
                equity: 10_000.0,
                orders: 1,
                dropped: 1,
                blocked: false,
                block_reasons: vec![],
                decided_by: None,
                decided_at: None,
                expires_at: 0,
                simulated: false,
            },
            config_version: "c".into(),
            config: serde_json::Value::Null,
            kernel_version: "k".into(),
            policy: "time".into(),
            lines: vec![
                line(
                    "DOGE",
                    None,
                    Some("closes 1198 of them and leaves 0.5 as dust"),
                ),
                line("XYZ", Some("not listed on the venue"), None),
            ],
            targets: Default::default(),
            strategies: vec![],
            risk: crate::api::RiskReport {
                checks: vec![],
                kill_switch: false,
                blocked: false,
            },
            orders: vec![],
            note: None,
        };
        let html = view! { <PlanView plan=plan/> }.to_html();
        assert!(html.contains("<th>Dropped</th><th>Note</th>"), "{html}");
        // A row's last two cells, as (class, trimmed text) (an empty cell renders a space).
        let last_two = |symbol: &str| -> Vec<(String, String)> {
            let row = html
                .split("<tr")
                .find(|r| r.contains(&format!("<td>{symbol}</td>")))
                .unwrap_or_else(|| panic!("no {symbol} row in {html}"));
            let cells: Vec<(String, String)> = row
                .split("<td")
                .skip(1)
                .map(|c| {
                    let (attrs, rest) = c.split_once('>').unwrap();
                    let text = rest.split("</td>").next().unwrap();
                    (attrs.trim().to_string(), text.trim().to_string())
                })
                .collect();
            cells[cells.len() - 2..].to_vec()
        };
        let muted = r#"class="muted""#.to_string();
        // The sent line: no dropped reason, then its note, in the same muted style.
        assert_eq!(
            last_two("DOGE"),
            vec![
                (muted.clone(), String::new()),
                (
                    muted.clone(),
                    "closes 1198 of them and leaves 0.5 as dust".to_string()
                ),
            ]
        );
        // The dropped line: its reason, then no note.
        assert_eq!(
            last_two("XYZ"),
            vec![
                (muted.clone(), "not listed on the venue".to_string()),
                (muted, String::new()),
            ]
        );
    }
}
