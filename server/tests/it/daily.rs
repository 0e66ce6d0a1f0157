//! The daily routine (issue 15) end to end on a synthetic store: the cycle, approval, execution
//! and the kill switch announce themselves (the event stream of `GET /api/events` and
//! notifications to a loopback webhook) without ever waiting for a delivery; the cycle's stale
//! data refusal notifies; and `lockstep demo`'s simulated paper history fills Portfolio, Trades
//! and Parity, labelled as simulated, and refuses to run over real history.

use crate::common::{
    cycle_ms, cycle_options, panel_records, paper_router, paper_service, propose, signed_in,
    store_synthetic, synth_panel,
};
use crate::notify::hook_receiver;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::live::{FixedClock, LiveError, LiveSettings};
use server::notify::{Deliveries, Notifier};
use server::store::testing::{Engine, TestStore};
use shared::config::Config;
use shared::Panel;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

async fn seeded(tag: &str) -> (TestStore, Panel) {
    let t = TestStore::new(Engine::Sqlite, tag).await.unwrap();
    let panel = synth_panel(11, 25, 320);
    store_synthetic(
        &t.store,
        "test panel",
        &panel_records(&panel, panel.n_days() - 1),
    )
    .await;
    (t, panel)
}

/// Risk limits that never block (these tests are about what is announced).
fn settings() -> LiveSettings {
    let mut s = LiveSettings::default();
    s.risk.max_gross_leverage = 100.0;
    s.risk.max_weight_per_symbol = 100.0;
    s.risk.max_order_notional = 1e12;
    s.risk.max_daily_turnover = 1e6;
    s
}

/// A webhook receiver that answers nothing until the test says so.
async fn held_receiver() -> (String, Arc<tokio::sync::Notify>) {
    let release = Arc::new(tokio::sync::Notify::new());
    let r = release.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let r = r.clone();
            async move {
                r.notified().await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, release)
}

#[tokio::test]
async fn the_routine_announces_every_change_and_never_waits_for_a_delivery() {
    let (t, panel) = seeded("daily_announce").await;
    let last = panel.day(panel.n_days() - 1);
    let clock = Arc::new(FixedClock::new(cycle_ms(last)));
    let hook = hook_receiver(0, 200).await;
    let (held, release) = held_receiver().await;
    let notifier = Arc::new(
        Notifier::new(
            Arc::new(t.store.clone()),
            &serde_json::from_value(serde_json::json!({
                "public_url": "https://ls.test",
                "webhooks": [{"url_env": "HOOK", "name": "desk"}, {"url_env": "HELD", "name": "held", "timeout_secs": 60}],
                "retry": {"attempts": 2, "initial_backoff_ms": 10, "max_backoff_ms": 20}
            }))
            .unwrap(),
            None,
            &|k: &str| match k {
                "HOOK" => Some(hook.url.clone()),
                "HELD" => Some(held.clone()),
                _ => None,
            },
        )
        .unwrap(),
    );
    let live = paper_service(&t.store, settings(), clock.clone()).with_notifier(notifier.clone());
    let mut events = live.hub.subscribe();

    let out = live.run_cycle(&cycle_options()).await.unwrap();
    let id = out.plan.summary.id.clone();
    // The cycle returned while the held receiver still holds its message: it did not wait.
    let store = &t.store;
    let held_status = || async {
        Deliveries { store }
            .recent(10)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.destination == "held")
            .map(|r| r.status)
    };
    let mut status = None;
    for _ in 0..200 {
        status = held_status().await;
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        status.as_deref(),
        Some("pending"),
        "the cycle waited for a delivery"
    );

    live.approve(&id, "tina").await.unwrap();
    live.set_kill_switch(true, "tina", Some("venue outage"))
        .await
        .unwrap();
    // Stale data: a clock three days later.
    clock.set(cycle_ms(last) + 3 * 86_400_000);
    assert!(matches!(
        live.run_cycle(&cycle_options()).await,
        Err(LiveError::Stale { .. })
    ));

    // The open pages heard every step, in order.
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((e.kind, e.status.unwrap_or_default()));
    }
    let seen: Vec<(&str, &str)> = seen.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
    let plan_steps: Vec<&str> = seen
        .iter()
        .filter(|(k, _)| *k == "plan")
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(plan_steps.first(), Some(&"proposed"), "{seen:?}");
    assert!(plan_steps.contains(&"approved"), "{seen:?}");
    assert!(plan_steps.contains(&"executing"), "{seen:?}");
    assert_eq!(plan_steps.last(), Some(&"done"), "{seen:?}");
    assert!(seen.contains(&("kill_switch", "on")), "{seen:?}");
    assert!(seen.contains(&("portfolio", "")), "{seen:?}");

    release.notify_waiters();
    // Each waiting handler is released once; release the later ones as they arrive.
    let releaser = tokio::spawn(async move {
        loop {
            release.notify_waiters();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(notifier.flush(Duration::from_secs(10)).await);
    releaser.abort();
    let bodies = hook.bodies.lock().unwrap().clone();
    let events: Vec<&str> = bodies
        .iter()
        .map(|b| b["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        vec![
            "plan.proposed",
            "plan.approved",
            "plan.done",
            "kill_switch",
            "data.stale"
        ]
    );
    assert_eq!(bodies[0]["link"], format!("https://ls.test/plans/{id}"));
    assert_eq!(bodies[0]["plan"]["id"], id.as_str());
    assert!(bodies[0]["plan"]["orders"].as_u64().unwrap() > 0);
    assert_eq!(bodies[2]["plan"]["status"], "done");
    assert!(
        bodies[4]["text"].as_str().unwrap().contains("closed"),
        "{}",
        bodies[4]
    );
    let recs = Deliveries { store }.recent(100).await.unwrap();
    assert_eq!(recs.len(), 10, "5 messages × 2 channels");
    assert!(recs.iter().all(|r| r.status == "sent"), "{recs:?}");
}

/// `GET /api/events` streams the kill switch flipping to every open page (SSE), and needs a
/// signed-in user.
#[tokio::test]
async fn the_event_stream_carries_the_kill_switch() {
    let (t, panel) = seeded("daily_sse").await;
    let clock = Arc::new(FixedClock::new(cycle_ms(panel.day(panel.n_days() - 1))));
    let (app, live) = paper_router(&t.store, settings(), clock);
    let anon = app
        .clone()
        .oneshot(Request::get("/api/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);

    let (cookie, _) = signed_in(&t.store, "vic", app::api::Role::Viewer).await;
    let resp = app
        .oneshot(
            Request::get("/api/events")
                .header("cookie", cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    live.set_kill_switch(true, "tina", None).await.unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("an event within 5 s")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no data line in {text:?}"));
    let e: app::api::LiveEvent = serde_json::from_str(data).unwrap();
    assert_eq!(
        (e.kind.as_str(), e.status.as_deref()),
        ("kill_switch", Some("on"))
    );
}

/// `lockstep demo`'s history: one auto-approved paper plan per day over the last N stored days
/// by the live cycle itself, labelled simulated in plans, portfolio and parity; never over real
/// history, never with the kill switch on.
#[tokio::test]
async fn the_demo_fills_an_empty_history_and_labels_it_simulated() {
    let (t, panel) = seeded("daily_demo").await;
    let store = Arc::new(t.store.clone());
    let config = Config::lockstep_default().unwrap();
    let ticks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tk = ticks.clone();
    let run = server::demo::run(
        store.clone(),
        config.clone(),
        &settings(),
        12,
        "cli",
        &move |done, total| tk.lock().unwrap().push((done, total)),
    )
    .await
    .unwrap();
    assert_eq!(
        (run.status.as_str(), run.days_done, run.plans),
        ("done", 12, 12)
    );
    let last = panel.day(panel.n_days() - 1);
    assert_eq!(run.last_day, last.to_string());
    assert_eq!(run.first_day, shared::Day(last.0 - 11).to_string());
    assert_eq!(run.cutoff_at, Some(cycle_ms(last)));
    assert_eq!(ticks.lock().unwrap().last(), Some(&(12, 12)));

    // Seen through the server: every plan simulated, the portfolio too, parity measured on it.
    let clock = Arc::new(FixedClock::new(cycle_ms(last) + 3_600_000));
    let (app, live) = paper_router(&t.store, settings(), clock);
    let (cookie, _) = signed_in(&t.store, "vic", app::api::Role::Viewer).await;
    let get = |uri: &'static str| {
        let (app, cookie) = (app.clone(), cookie.clone());
        async move {
            let resp = app
                .oneshot(
                    Request::get(uri)
                        .header("cookie", cookie)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{uri}");
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        }
    };
    let plans = get("/api/plans?limit=100").await;
    let plans = plans.as_array().unwrap();
    assert_eq!(plans.len(), 12);
    assert!(plans.iter().all(|p| p["simulated"] == true), "{plans:?}");
    assert!(plans.iter().all(|p| p["status"] == "done"), "{plans:?}");
    let one = get("/api/plans?limit=1").await;
    let id = one[0]["id"].as_str().unwrap().to_string();
    let detail = app
        .clone()
        .oneshot(
            Request::get(format!("/api/plans/{id}"))
                .header("cookie", cookie.clone())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let detail: serde_json::Value =
        serde_json::from_slice(&detail.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(detail["summary"]["simulated"], true);
    // The CLI's print of the plan (`lockstep live execute|reconcile`) says so too.
    let label = server::commands::live::SIMULATED_LABEL;
    let text =
        server::commands::live::render_plan(&serde_json::from_value(detail.clone()).unwrap());
    assert!(text.contains(label), "{text}");
    let portfolio = get("/api/portfolio").await;
    assert_eq!(portfolio["simulated"], true);
    assert!(!portfolio["positions"].as_array().unwrap().is_empty());
    assert_eq!(get("/api/equity").await.as_array().unwrap().len(), 12);
    let runs = get("/api/demo").await;
    assert_eq!(runs[0]["id"], run.id.as_str());

    let report = server::parity::report(&live, &Default::default())
        .await
        .unwrap();
    assert_eq!(report.simulated.len(), 1);
    let text = server::commands::parity::render(&report);
    let labelled = text.lines().find(|l| l.contains(label));
    assert!(
        labelled.is_some_and(|l| l.contains(run.id.as_str())),
        "`lockstep parity` names the demo run: {text}"
    );
    assert_eq!(report.signals.len(), 12);
    assert!(
        report.checks.iter().all(|c| c.status == "ok"),
        "{:?}",
        report.checks
    );

    // A real plan after the demo is not simulated.
    let real = live.run_cycle(&cycle_options()).await.unwrap().plan;
    let text = server::commands::live::render_plan(&real);
    assert!(!text.contains(label), "{text}");
    let real = real.summary.id;
    let plans = get("/api/plans?limit=1").await;
    assert_eq!(plans[0]["id"], real.as_str());
    assert_eq!(plans[0]["simulated"], false);

    // Never over existing history.
    let again = server::demo::run(store, config.clone(), &settings(), 5, "cli", &|_, _| {}).await;
    assert!(
        matches!(again, Err(server::demo::DemoError::NotEmpty(13))),
        "{again:?}"
    );

    // Never with the kill switch on; a day count beyond the data is clamped.
    let (t2, _) = seeded("daily_demo_kill").await;
    let s2 = Arc::new(t2.store.clone());
    let l2 = paper_service(&t2.store, settings(), Arc::new(FixedClock::new(0)));
    l2.set_kill_switch(true, "tina", None).await.unwrap();
    let refused = server::demo::run(
        s2.clone(),
        config.clone(),
        &settings(),
        5,
        "cli",
        &|_, _| {},
    )
    .await;
    assert!(
        matches!(refused, Err(server::demo::DemoError::KillSwitch)),
        "{refused:?}"
    );
    l2.set_kill_switch(false, "tina", None).await.unwrap();
    let (_, _, days) = server::demo::plan_run(&s2, &config, 1000).await.unwrap();
    assert_eq!(days, 319);
}

/// Before any plan, the Portfolio's "why" column is there: every symbol the strategies target
/// lists each strategy's part of its target, and the parts add up to it.
#[tokio::test]
async fn the_portfolio_says_why_each_symbol_is_targeted_before_any_plan() {
    let (t, panel) = seeded("daily_why").await;
    let clock = Arc::new(FixedClock::new(cycle_ms(panel.day(panel.n_days() - 1))));
    let (app, live) = paper_router(&t.store, settings(), clock);
    let (cookie, _) = signed_in(&t.store, "vic", app::api::Role::Viewer).await;
    let resp = app
        .oneshot(
            Request::get("/api/portfolio")
                .header("cookie", cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let p: app::api::Portfolio = serde_json::from_slice(&bytes).unwrap();
    assert!(live.plans(10).await.unwrap().is_empty(), "no plan yet");
    let targeted: Vec<&app::api::PortfolioPosition> = p
        .positions
        .iter()
        .filter(|x| x.target_weight != 0.0)
        .collect();
    assert!(targeted.len() >= 2, "{:?}", p.positions);
    for x in &targeted {
        assert_eq!(x.units, 0.0, "nothing held before the first plan: {x:?}");
        assert!(!x.contributions.is_empty(), "no why for {x:?}");
        assert!(
            x.contributions.iter().all(
                |c| !c.strategy.is_empty() && p.strategies.iter().any(|s| s.name == c.strategy)
            ),
            "{x:?}"
        );
        let sum: f64 = x.contributions.iter().map(|c| c.weight).sum();
        assert!(
            (sum - x.target_weight).abs() <= 1e-9 * x.target_weight.abs().max(1.0),
            "the parts add up to the target: {sum} vs {x:?}"
        );
        // Largest part first.
        let sizes: Vec<f64> = x.contributions.iter().map(|c| c.weight.abs()).collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{x:?}");
    }
}

/// The paper account, except that the first order ever sent is refused by the venue.
struct RejectFirst {
    inner: server::broker::paper::PaperBroker,
    rejected: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl server::broker::Broker for RejectFirst {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn account(&self) -> Result<server::broker::Account, server::broker::BrokerError> {
        self.inner.account().await
    }
    async fn account_marked(
        &self,
        panel: &Panel,
        t: usize,
    ) -> Result<server::broker::Account, server::broker::BrokerError> {
        self.inner.account_marked(panel, t).await
    }
    async fn marks(
        &self,
        symbols: &[String],
    ) -> Result<std::collections::BTreeMap<String, f64>, server::broker::BrokerError> {
        self.inner.marks(symbols).await
    }
    async fn current_marks(
        &self,
        symbols: &[String],
    ) -> Result<server::broker::Valuation, server::broker::BrokerError> {
        self.inner.current_marks(symbols).await
    }
    async fn rules(
        &self,
        symbols: &[String],
    ) -> Result<
        std::collections::BTreeMap<String, server::broker::VenueRule>,
        server::broker::BrokerError,
    > {
        self.inner.rules(symbols).await
    }
    async fn submit(
        &self,
        orders: &[server::broker::OrderRequest],
    ) -> Result<Vec<server::broker::OrderReport>, server::broker::BrokerError> {
        let mut out = Vec::new();
        for o in orders {
            if !self
                .rejected
                .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                out.push(server::broker::OrderReport {
                    client_order_id: o.client_order_id.clone(),
                    symbol: o.symbol.clone(),
                    status: server::broker::OrderStatus::Rejected {
                        reason: "Insufficient margin to place order (injected)".into(),
                    },
                    filled_units: 0.0,
                    avg_price: 0.0,
                    fee: 0.0,
                });
            } else {
                out.extend(self.inner.submit(std::slice::from_ref(o)).await?);
            }
        }
        Ok(out)
    }
    async fn reconcile(
        &self,
        ids: &[String],
    ) -> Result<Vec<server::broker::OrderReport>, server::broker::BrokerError> {
        self.inner.reconcile(ids).await
    }
    async fn observe_close(
        &self,
        panel: &Panel,
        t: usize,
        persist: bool,
    ) -> Result<(), server::broker::BrokerError> {
        self.inner.observe_close(panel, t, persist).await
    }
    async fn funding_paid(
        &self,
        from: shared::Day,
        to: shared::Day,
    ) -> Result<
        Option<std::collections::BTreeMap<shared::Day, server::broker::FundingPaid>>,
        server::broker::BrokerError,
    > {
        self.inner.funding_paid(from, to).await
    }
}

/// The two bad endings of a plan reach the trader's webhook: a plan the venue refused an order
/// of (`plan.partially_failed`), and an interrupted one the resume rules closed
/// (`plan.abandoned`).
#[tokio::test]
async fn partial_failures_and_abandoned_plans_reach_the_webhook() {
    let (t, panel) = seeded("daily_bad_endings").await;
    let last = panel.day(panel.n_days() - 1);
    let clock = Arc::new(FixedClock::new(cycle_ms(last)));
    let hook = hook_receiver(0, 200).await;
    let store = Arc::new(t.store.clone());
    let notifier = Arc::new(
        Notifier::new(
            store.clone(),
            &serde_json::from_value(serde_json::json!({
                "webhooks": [{"url_env": "HOOK", "name": "desk"}],
                "retry": {"attempts": 2, "initial_backoff_ms": 10, "max_backoff_ms": 20}
            }))
            .unwrap(),
            None,
            &|k: &str| (k == "HOOK").then(|| hook.url.clone()),
        )
        .unwrap(),
    );
    let config = Config::lockstep_default().unwrap();
    let broker = Arc::new(RejectFirst {
        inner: server::live::paper_broker(store.clone(), &settings(), &config),
        rejected: Default::default(),
    });
    let live = server::live::LiveService::new(store, settings(), config, broker, clock.clone())
        .unwrap()
        .with_notifier(notifier.clone());

    // One order refused: the plan ends partially failed.
    let first = live.run_cycle(&cycle_options()).await.unwrap().plan;
    assert!(first.summary.orders > 1, "{}", first.summary.orders);
    let done = live.approve(&first.summary.id, "tina").await.unwrap();
    assert_eq!(done.summary.status, "partially_failed");
    assert_eq!(
        done.orders
            .iter()
            .filter(|o| o.status == "rejected")
            .count(),
        1,
        "{:?}",
        done.orders
    );

    // A second plan for the day, interrupted while executing (the process died before sending
    // anything), then asked to resume two days later: the resume rules close it.
    let second = propose(&live).await;
    sqlx::query("UPDATE live_plans SET status = 'executing' WHERE id = $1")
        .bind(second.clone())
        .execute(t.store.pool())
        .await
        .unwrap();
    clock.set(cycle_ms(last) + 2 * 86_400_000);
    let err = live.execute(&second, "tina").await.unwrap_err();
    assert!(err.to_string().contains("abandoned"), "{err}");
    assert_eq!(
        live.plan(&second).await.unwrap().summary.status,
        "abandoned"
    );

    assert!(notifier.flush(Duration::from_secs(10)).await);
    let bodies = hook.bodies.lock().unwrap().clone();
    let find = |event: &str| {
        bodies
            .iter()
            .find(|b| b["event"] == event)
            .unwrap_or_else(|| panic!("no {event} in {bodies:?}"))
            .clone()
    };
    let partial = find("plan.partially_failed");
    assert_eq!(partial["plan"]["id"], first.summary.id.as_str());
    assert_eq!(partial["plan"]["status"], "partially_failed");
    let title = partial["title"].as_str().unwrap();
    assert!(title.contains("PARTIALLY FAILED"), "{title}");
    let text = partial["text"].as_str().unwrap();
    assert!(text.contains("1 rejected"), "{text}");
    assert!(text.contains("(injected)"), "the venue's reason: {text}");
    let abandoned = find("plan.abandoned");
    assert_eq!(abandoned["plan"]["id"], second.as_str());
    assert_eq!(abandoned["plan"]["status"], "abandoned");
    assert!(
        abandoned["title"].as_str().unwrap().contains("ABANDONED"),
        "{abandoned}"
    );
    let recs = Deliveries { store: &t.store }.recent(100).await.unwrap();
    assert!(recs.iter().all(|r| r.status == "sent"), "{recs:?}");
}
