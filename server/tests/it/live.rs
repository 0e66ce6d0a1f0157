//! The live cycle end to end on a synthetic store with the paper broker: plan sizes, the
//! threshold policy, approval and execution, persistence across restarts, idempotent execution,
//! risk limits, the kill switch, expiry on newer data, replay, funding, and the HTTP API.
//! SQLite always; PostgreSQL too when the local test server is reachable.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::broker::paper::{PaperBroker, PaperConfig};
use server::broker::Broker;
use server::live::{CycleOptions, FixedClock, LiveError, LiveSettings};
use server::store::testing::{Engine, TestStore};
use server::store::Store;
use shared::portfolio::rebalance::RebalancePolicy;
use shared::{Day, Field, Panel};
use std::sync::Arc;
use tower::ServiceExt;

use crate::common::{
    cycle_ms, cycle_options, paper_router, paper_service, propose, seed_panel, signed_in,
    synth_panel,
};

/// A clock one hour after `day` closed.
fn clock_after(day: Day) -> Arc<FixedClock> {
    Arc::new(FixedClock::new(cycle_ms(day)))
}

/// Seeds all but the last day; the service's clock sits an hour after the second-to-last day.
async fn setup(store: &Store) -> (Panel, Arc<FixedClock>) {
    let panel = synth_panel(7, 30, 400);
    let n = panel.n_days();
    seed_panel(store, &panel, 0..=n - 2).await;
    (panel.clone(), clock_after(panel.day(n - 2)))
}

#[tokio::test]
async fn full_cycle_on_the_paper_broker() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "live_full").await else {
            continue;
        };
        full_cycle(&t).await;
    }
}

async fn full_cycle(t: &TestStore) {
    let store = &t.store;
    let (panel, clock) = setup(store).await;
    let n = panel.n_days();
    let live = paper_service(store, LiveSettings::default(), clock.clone());

    // --- a plan with correct sizes -----------------------------------------------------------
    let out = live.run_cycle(&cycle_options()).await.unwrap();
    let plan = out.plan;
    assert_eq!(plan.summary.status, "proposed");
    assert_eq!(plan.summary.data_day, panel.day(n - 2).to_string());
    assert_eq!(plan.summary.equity, 100_000.0);
    assert_eq!(plan.kernel_version, shared::KERNEL_VERSION);
    assert!(!plan.summary.blocked, "{:?}", plan.summary.block_reasons);
    assert!(plan.summary.orders > 5, "{} orders", plan.summary.orders);
    assert!(!plan.strategies.is_empty());
    for l in &plan.lines {
        // A flat account: every non-zero target is an entry and trades (threshold policy).
        assert_eq!(l.current_units, 0.0);
        assert_eq!(l.new_weight, l.target_weight);
        let close = panel.get(Field::Close, panel.asset_index(&l.symbol).unwrap(), n - 2);
        if !close.is_finite() {
            // Held targets of an asset without a price that day: cannot be sized.
            assert_eq!(
                l.dropped.as_deref(),
                Some(format!("no price for {}", l.symbol).as_str())
            );
            continue;
        }
        assert_eq!(l.mark_price, close);
        let d = server::broker::paper::size_decimals_for(close);
        // The nearest lot, half away from zero (Hyperliquid's `round(sz, szDecimals)`).
        let scale = 10f64.powi(d as i32);
        let units = (l.target_weight * 100_000.0 / close * scale).round() / scale;
        let value = (units * close).abs();
        if units == 0.0 || value < 10.0 {
            let why = l.dropped.as_deref().expect("a tiny order is dropped");
            assert!(
                why.contains("rounds to 0") || why.contains("below the venue minimum"),
                "{why}"
            );
            assert!(l.client_order_id.is_none());
        } else {
            assert_eq!(l.dropped, None, "{}", l.symbol);
            assert_eq!(l.size.parse::<f64>().unwrap(), units, "{}", l.symbol);
            assert!(l.client_order_id.is_some());
        }
    }
    assert_eq!(
        plan.summary.orders,
        plan.lines
            .iter()
            .filter(|l| l.client_order_id.is_some())
            .count()
    );

    // --- approve → executing → done ----------------------------------------------------------
    let done = live.approve(&plan.summary.id, "alice").await.unwrap();
    assert_eq!(done.summary.status, "done", "{:?}", done.note);
    assert_eq!(done.summary.decided_by.as_deref(), Some("alice"));
    assert_eq!(done.orders.len(), plan.summary.orders);
    assert!(done.orders.iter().all(|o| o.status == "filled"));
    let audit: Vec<String> = live
        .audit_log()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.2)
        .collect();
    assert_eq!(
        audit,
        ["plan.propose", "plan.approve", "plan.execute", "plan.done"]
    );

    // Cash moved by exactly the simulator's cost model: −units × close − |units × close| × 10 bps.
    let paper = PaperBroker::new(Arc::new(store.clone()), PaperConfig::default());
    let mut expected_cash = 100_000.0;
    for o in &done.orders {
        let close = panel.get(Field::Close, panel.asset_index(&o.symbol).unwrap(), n - 2);
        expected_cash -= o.filled_units * close + (o.filled_units * close).abs() * 0.001;
    }
    let cash = paper.cash().await.unwrap();
    assert!(
        (cash - expected_cash).abs() < 1e-6,
        "{cash} vs {expected_cash}"
    );

    // --- positions survive a restart (a new Store and a new broker) --------------------------
    let store2 = Store::connect(&t.url).await.unwrap();
    let paper2 = PaperBroker::new(Arc::new(store2.clone()), PaperConfig::default());
    let account = paper2.account().await.unwrap();
    assert_eq!(account.positions.len(), done.orders.len());
    for o in &done.orders {
        let p = account
            .positions
            .iter()
            .find(|p| p.symbol == o.symbol)
            .unwrap();
        assert_eq!(p.units, o.filled_units);
    }

    // --- a second execution of the same plan places nothing ----------------------------------
    let err = live.execute(&plan.summary.id, "alice").await.unwrap_err();
    assert!(matches!(err, LiveError::Conflict(_)), "{err}");
    // Even forced back to `executing` with every order `pending` (a crash before recording),
    // the resume reconciles by client order id and sends nothing new.
    sqlx::query("UPDATE live_plans SET status = 'executing' WHERE id = $1")
        .bind(plan.summary.id.clone())
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE live_orders SET status = 'pending' WHERE plan_id = $1")
        .bind(plan.summary.id.clone())
        .execute(store.pool())
        .await
        .unwrap();
    let again = live.execute(&plan.summary.id, "alice").await.unwrap();
    assert_eq!(again.summary.status, "done");
    let cash_after = paper2.cash().await.unwrap();
    assert_eq!(cash_after, cash, "no second fill");
    let account2 = paper2.account().await.unwrap();
    assert_eq!(
        account2
            .positions
            .iter()
            .map(|p| p.units)
            .collect::<Vec<_>>(),
        account
            .positions
            .iter()
            .map(|p| p.units)
            .collect::<Vec<_>>()
    );
    // Resubmitting the orders straight to the broker returns the recorded reports.
    let reqs: Vec<_> = live
        .plan(&plan.summary.id)
        .await
        .unwrap()
        .lines
        .iter()
        .filter_map(|l| {
            l.client_order_id.as_ref().map(|id| {
                server::broker::OrderRequest::new(
                    id.clone(),
                    l.symbol.clone(),
                    l.size.parse().unwrap(),
                    l.limit_price.parse().unwrap(),
                    l.reduce_only,
                )
            })
        })
        .collect();
    let reports = paper2.submit(&reqs).await.unwrap();
    assert_eq!(reports.len(), reqs.len());
    assert_eq!(paper2.cash().await.unwrap(), cash);
    let paper_orders: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM paper_orders")
            .fetch_one(store.pool())
            .await
            .unwrap(),
        0,
    );
    assert_eq!(paper_orders as usize, reqs.len());

    // --- replay: the stored inputs give identical targets ------------------------------------
    let replay = live.replay(&plan.summary.id).await.unwrap();
    assert!(replay.identical, "{:?}", replay.differences);
    assert!(replay.kernel_version_matches);

    // --- newer data: funding accrues, the threshold policy holds small drifts ----------------
    seed_panel(store, &panel, n - 1..=n - 1).await;
    clock.set(cycle_ms(panel.day(n - 1)));
    let out2 = live.run_cycle(&cycle_options()).await.unwrap();
    let funding = paper.funding_history().await.unwrap();
    assert_eq!(funding.len(), 1);
    assert_eq!(funding[0].0, panel.day(n - 1));
    let mut expected = 0.0;
    for p in &account.positions {
        let a = panel.asset_index(&p.symbol).unwrap();
        let (c, r) = (
            panel.get(Field::Close, a, n - 1),
            panel.get(Field::FundingRate, a, n - 1),
        );
        if c.is_finite() && r.is_finite() {
            expected += p.units * c * r;
        }
    }
    assert!(
        (funding[0].1 - expected).abs() < 1e-9,
        "{} vs {expected}",
        funding[0].1
    );

    let policy = RebalancePolicy::default();
    let mut held = 0;
    for l in &out2.plan.lines {
        let trade = policy.should_trade(false, l.current_weight, l.target_weight);
        if trade {
            assert_eq!(l.new_weight, l.target_weight, "{}", l.symbol);
            assert_ne!(l.action, "hold");
        } else {
            assert_eq!(l.action, "hold", "{}", l.symbol);
            assert_eq!(l.new_weight, l.current_weight);
            held += 1;
        }
    }
    assert!(held > 0, "some positions stay within the 3% band");
    let _ = store2;
}

#[tokio::test]
async fn newer_data_expires_a_proposed_plan() {
    let t = TestStore::new(Engine::Sqlite, "live_expire").await.unwrap();
    let (panel, clock) = setup(&t.store).await;
    let n = panel.n_days();
    let live = paper_service(&t.store, LiveSettings::default(), clock.clone());
    let first = propose(&live).await;
    seed_panel(&t.store, &panel, n - 1..=n - 1).await;
    clock.set(cycle_ms(panel.day(n - 1)));
    // Approving after newer data arrived is refused, and the plan is expired.
    let err = live.approve(&first, "alice").await.unwrap_err();
    assert!(err.to_string().contains("newer data"), "{err}");
    assert_eq!(live.plan(&first).await.unwrap().summary.status, "expired");

    // A plan past its lifetime expires too.
    let second = propose(&live).await;
    clock.set(clock_now(&clock) + 13 * 3_600_000);
    // (still within the freshness limit: 1 h + 13 h < 36 h)
    let err = live.approve(&second, "alice").await.unwrap_err();
    assert!(err.to_string().contains("not approved within"), "{err}");
    assert_eq!(live.plan(&second).await.unwrap().summary.status, "expired");

    // A newer cycle supersedes a proposed plan of the same day.
    let third = propose(&live).await;
    let fourth = live.run_cycle(&cycle_options()).await.unwrap();
    assert_eq!(fourth.expired, vec![third.clone()]);
}

fn clock_now(c: &FixedClock) -> i64 {
    use server::live::Clock;
    c.now_ms()
}

#[tokio::test]
async fn stale_data_is_refused() {
    let t = TestStore::new(Engine::Sqlite, "live_stale").await.unwrap();
    let (panel, _) = setup(&t.store).await;
    let n = panel.n_days();
    let clock = Arc::new(FixedClock::new(
        cycle_ms(panel.day(n - 2)) + (37 - 1) * 3_600_000,
    ));
    let live = paper_service(&t.store, LiveSettings::default(), clock.clone());
    let err = live.run_cycle(&cycle_options()).await.unwrap_err();
    assert!(matches!(err, LiveError::Stale { .. }), "{err}");
    clock.set(cycle_ms(panel.day(n - 2)) + (35 - 1) * 3_600_000);
    live.run_cycle(&cycle_options()).await.unwrap();
}

#[tokio::test]
async fn risk_violations_and_the_kill_switch_block_plans() {
    let t = TestStore::new(Engine::Sqlite, "live_risk").await.unwrap();
    let (_, clock) = setup(&t.store).await;
    let mut settings = LiveSettings::default();
    settings.risk.max_weight_per_symbol = 0.001;
    let live = paper_service(&t.store, settings, clock.clone());
    let plan = live.run_cycle(&cycle_options()).await.unwrap().plan;
    assert!(plan.summary.blocked);
    assert!(
        plan.summary.block_reasons[0].starts_with("max_weight_per_symbol"),
        "{:?}",
        plan.summary.block_reasons
    );
    let err = live.approve(&plan.summary.id, "alice").await.unwrap_err();
    assert!(matches!(err, LiveError::Blocked { .. }), "{err}");
    assert_eq!(
        live.plan(&plan.summary.id).await.unwrap().summary.status,
        "proposed"
    );

    // Kill switch: a new plan is blocked, and approving it is refused; nothing was traded.
    let live = paper_service(&t.store, LiveSettings::default(), clock.clone());
    live.set_kill_switch(true, "bob", Some("exchange incident"))
        .await
        .unwrap();
    let plan = live.run_cycle(&cycle_options()).await.unwrap().plan;
    assert!(plan.summary.blocked);
    assert!(plan
        .summary
        .block_reasons
        .iter()
        .any(|r| r.contains("kill switch")));
    assert!(plan.risk.kill_switch);
    assert!(live.approve(&plan.summary.id, "alice").await.is_err());
    // Switched off, a fresh plan goes through.
    live.set_kill_switch(false, "bob", None).await.unwrap();
    let plan = live.run_cycle(&cycle_options()).await.unwrap().plan;
    assert!(!plan.summary.blocked);
    // ...unless the switch goes on between approval checks and execution.
    live.set_kill_switch(true, "bob", None).await.unwrap();
    let err = live.approve(&plan.summary.id, "alice").await.unwrap_err();
    assert!(matches!(err, LiveError::KillSwitch), "{err}");
    let paper = PaperBroker::new(Arc::new(t.store.clone()), PaperConfig::default());
    assert!(paper.account().await.unwrap().positions.is_empty());
}

#[tokio::test]
async fn replay_detects_a_changed_plan() {
    let t = TestStore::new(Engine::Sqlite, "live_replay").await.unwrap();
    let (_, clock) = setup(&t.store).await;
    let live = paper_service(&t.store, LiveSettings::default(), clock);
    let id = propose(&live).await;
    assert!(live.replay(&id).await.unwrap().identical);
    // Tamper with one stored target: the replay must notice.
    let row = sqlx::query("SELECT body FROM live_plans WHERE id = $1")
        .bind(id.clone())
        .fetch_one(t.store.pool())
        .await
        .unwrap();
    let mut body: serde_json::Value =
        serde_json::from_str(&sqlx::Row::get::<String, _>(&row, 0)).unwrap();
    let targets = body["targets"].as_object_mut().unwrap();
    let k = targets.keys().next().unwrap().clone();
    let v = targets[&k].as_f64().unwrap();
    targets.insert(k.clone(), serde_json::json!(v * (1.0 + 1e-12)));
    sqlx::query("UPDATE live_plans SET body = $1 WHERE id = $2")
        .bind(body.to_string())
        .bind(id.clone())
        .execute(t.store.pool())
        .await
        .unwrap();
    let r = live.replay(&id).await.unwrap();
    assert!(!r.identical);
    assert!(r.differences[0].contains(&k), "{:?}", r.differences);
}

#[tokio::test]
async fn dry_run_stores_nothing_and_auto_approve_executes() {
    let t = TestStore::new(Engine::Sqlite, "live_dry").await.unwrap();
    let (_, clock) = setup(&t.store).await;
    let live = paper_service(&t.store, LiveSettings::default(), clock.clone());
    let dry = live
        .run_cycle(&CycleOptions {
            dry_run: true,
            actor: "test".into(),
        })
        .await
        .unwrap();
    assert!(dry.plan.summary.orders > 0);
    assert!(live.plans(10).await.unwrap().is_empty());

    let settings = LiveSettings {
        auto_approve: true,
        ..LiveSettings::default()
    };
    let live = paper_service(&t.store, settings, clock);
    let out = live.run_cycle(&cycle_options()).await.unwrap();
    assert_eq!(out.plan.summary.status, "done");
    assert_eq!(out.plan.summary.decided_by.as_deref(), Some("auto"));
    assert_eq!(out.plan.summary.orders, dry.plan.summary.orders);
}

// --- HTTP API --------------------------------------------------------------------------------

struct Client {
    app: axum::Router,
    cookie: String,
    csrf: String,
}

impl Client {
    /// The router over a paper live service, and three callers: the trader "tina", the viewer
    /// "vic" and an anonymous one.
    async fn api_clients(store: &Store, clock: Arc<FixedClock>) -> [Client; 3] {
        let (app, _) = paper_router(store, LiveSettings::default(), clock);
        let mut out = Vec::new();
        for (user, role) in [
            ("tina", app::api::Role::Trader),
            ("vic", app::api::Role::Viewer),
        ] {
            let (cookie, csrf) = signed_in(store, user, role).await;
            out.push(Client {
                app: app.clone(),
                cookie,
                csrf,
            });
        }
        out.push(Client {
            app,
            cookie: String::new(),
            csrf: String::new(),
        });
        out.try_into().unwrap_or_else(|_| unreachable!())
    }
    async fn call(&self, method: &str, uri: &str, csrf: bool) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", self.cookie.clone());
        if csrf {
            req = req.header("x-csrf-token", self.csrf.clone());
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }
}

#[tokio::test]
async fn the_api_runs_approves_and_reports() {
    let t = TestStore::new(Engine::Sqlite, "live_api").await.unwrap();
    let (_, clock) = setup(&t.store).await;
    let [trader, viewer, anon] = Client::api_clients(&t.store, clock.clone()).await;

    assert_eq!(
        anon.call("GET", "/api/portfolio", false).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        viewer.call("POST", "/api/live/run", true).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        trader.call("POST", "/api/live/run", false).await.0,
        StatusCode::FORBIDDEN,
        "CSRF"
    );
    let (s, run) = trader.call("POST", "/api/live/run", true).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    let id = run["plan"]["id"].as_str().unwrap().to_string();
    clock.set(clock_now(&clock) + 60_000);

    let (s, list) = viewer.call("GET", "/api/plans", false).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list[0]["id"], id.as_str());
    let (s, detail) = viewer.call("GET", &format!("/api/plans/{id}"), false).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(detail["summary"]["status"], "proposed");
    assert!(detail["strategies"].as_array().unwrap().len() > 3);
    assert_eq!(
        viewer.call("GET", "/api/plans/nope", false).await.0,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        viewer
            .call("POST", &format!("/api/plans/{id}/approve"), true)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (s, done) = trader
        .call("POST", &format!("/api/plans/{id}/approve"), true)
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["summary"]["status"], "done");
    assert_eq!(done["summary"]["decided_by"], "tina");
    let (s, again) = trader
        .call("POST", &format!("/api/plans/{id}/approve"), true)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{again}");

    let (s, p) = viewer.call("GET", "/api/portfolio", false).await;
    assert_eq!(s, StatusCode::OK);
    let pf: app::api::Portfolio = serde_json::from_value(p).unwrap();
    assert_eq!(pf.broker, "paper");
    assert!(pf.positions.iter().filter(|p| p.units != 0.0).count() > 5);
    let planned_gross: f64 = detail["targets"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap().abs())
        .sum();
    assert!(
        (pf.gross_exposure - planned_gross).abs() < 0.02,
        "{} vs {planned_gross}",
        pf.gross_exposure
    );
    assert!(!pf.data.stale);
    assert!(pf.strategies.iter().any(|s| s.active));

    let (s, eq) = viewer.call("GET", "/api/equity", false).await;
    assert_eq!(s, StatusCode::OK);
    assert!(eq.as_array().unwrap().len() >= 2);

    assert_eq!(
        viewer.call("POST", "/api/kill-switch", true).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, ks) = trader.call("POST", "/api/kill-switch", true).await;
    assert_eq!((s, ks["active"].as_bool()), (StatusCode::OK, Some(true)));
    let (_, run) = trader.call("POST", "/api/live/run", true).await;
    assert_eq!(run["plan"]["blocked"], true);
    let (s, ks) = trader.call("DELETE", "/api/kill-switch", true).await;
    assert_eq!((s, ks["active"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(
        viewer.call("GET", "/api/kill-switch", false).await.1["changed_by"],
        "tina"
    );

    let (s, doc) = viewer.call("GET", "/api/openapi.json", false).await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/api/health",
        "/api/portfolio",
        "/api/plans",
        "/api/plans/{id}",
        "/api/plans/{id}/approve",
        "/api/plans/{id}/reject",
        "/api/kill-switch",
        "/api/equity",
        "/api/live/run",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("PlanDetail").is_some());
}

// --- The audit log is append-only in the database; replay and audit over HTTP ----------------

/// Every way to change or remove an audit entry is refused by the database itself (triggers of
/// migration 0040, one per engine), and the entries are unchanged afterwards.
#[tokio::test]
async fn the_database_refuses_to_change_the_audit_log() {
    use server::live::records::Records;
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "audit_append_only").await else {
            continue;
        };
        let rec = Records { store: &t.store };
        rec.audit("alice", "kill_switch.on", None, Some("test"), 1_000)
            .await
            .unwrap();
        rec.audit("bob", "plan.approve", Some("p-1"), None, 2_000)
            .await
            .unwrap();
        let before = rec.audit_log().await.unwrap();
        assert_eq!(before.len(), 2);
        let id: String = sqlx::query_scalar("SELECT id FROM audit_log ORDER BY id LIMIT 1")
            .fetch_one(t.store.pool())
            .await
            .unwrap();
        let mut attempts = vec![
            (
                "UPDATE",
                "UPDATE audit_log SET actor = 'mallory'".to_string(),
            ),
            ("DELETE", "DELETE FROM audit_log".to_string()),
            (
                "DELETE",
                format!("DELETE FROM audit_log WHERE id = '{id}'"),
            ),
            (
                "overwrit",
                format!(
                    "INSERT INTO audit_log (id, at, actor, action) VALUES ('{id}', 3000, 'mallory', 'x') \
                     ON CONFLICT (id) DO UPDATE SET actor = 'mallory'"
                ),
            ),
        ];
        match engine {
            Engine::Sqlite => attempts.push((
                "overwriting",
                format!(
                    "INSERT OR REPLACE INTO audit_log (id, at, actor, action) VALUES ('{id}', 3000, 'mallory', 'x')"
                ),
            )),
            Engine::Postgres => {
                attempts.push(("TRUNCATE", "TRUNCATE audit_log".to_string()))
            }
        }
        for (what, sql) in &attempts {
            let err = sqlx::query(sql)
                .execute(t.store.pool())
                .await
                .expect_err(sql);
            let msg = err.to_string();
            assert!(msg.contains("append-only"), "{engine:?} {sql}: {msg}");
            // The SQLite upsert is caught as an overwrite, PostgreSQL's as an UPDATE.
            if !(what == &"overwrit" && engine == Engine::Postgres) {
                assert!(msg.contains(what), "{engine:?} {sql}: {msg}");
            }
        }
        assert_eq!(rec.audit_log().await.unwrap(), before, "{engine:?}");
        // Appending still works.
        rec.audit("carol", "kill_switch.off", None, None, 4_000)
            .await
            .unwrap();
        assert_eq!(rec.audit_log().await.unwrap().len(), 3, "{engine:?}");
    }
}

/// `audit_page`: newest first, `limit` entries, `before` as a cursor (entry id) or as Unix ms.
#[tokio::test]
async fn audit_pages_walk_the_log_newest_first() {
    use server::live::records::Records;
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "audit_pages").await else {
            continue;
        };
        let rec = Records { store: &t.store };
        for i in 0..5 {
            rec.audit(
                "alice",
                &format!("step.{i}"),
                None,
                None,
                10_000 + i * 1_000,
            )
            .await
            .unwrap();
        }
        let p1 = rec.audit_page(2, None).await.unwrap();
        let actions = |p: &app::api::AuditPage| -> Vec<String> {
            p.entries.iter().map(|e| e.action.clone()).collect()
        };
        assert_eq!(actions(&p1), ["step.4", "step.3"], "{engine:?}");
        assert_eq!(p1.entries[0].at, 14_000);
        let p2 = rec.audit_page(2, p1.next_before.as_deref()).await.unwrap();
        assert_eq!(actions(&p2), ["step.2", "step.1"], "{engine:?}");
        let p3 = rec.audit_page(2, p2.next_before.as_deref()).await.unwrap();
        assert_eq!(actions(&p3), ["step.0"], "{engine:?}");
        assert_eq!(p3.next_before, None, "the last page says so");
        // Milliseconds: everything written before 12.5 s.
        let by_time = rec.audit_page(10, Some("12500")).await.unwrap();
        assert_eq!(actions(&by_time), ["step.2", "step.1", "step.0"]);
        assert_eq!(by_time.next_before, None);
    }
}

#[tokio::test]
async fn the_api_replays_plans_and_pages_the_audit_log() {
    let t = TestStore::new(Engine::Sqlite, "live_api_replay")
        .await
        .unwrap();
    let (_, clock) = setup(&t.store).await;
    let [trader, viewer, anon] = Client::api_clients(&t.store, clock.clone()).await;
    let (s, run) = trader.call("POST", "/api/live/run", true).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    let id = run["plan"]["id"].as_str().unwrap().to_string();
    let (s, _) = trader
        .call("POST", &format!("/api/plans/{id}/reject"), true)
        .await;
    assert_eq!(s, StatusCode::OK);

    // Replay: any signed-in user; the stored plan recomputes bit for bit.
    let replay_uri = format!("/api/plans/{id}/replay");
    assert_eq!(
        anon.call("GET", &replay_uri, false).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, r) = viewer.call("GET", &replay_uri, false).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let r: app::api::PlanReplay = serde_json::from_value(r).unwrap();
    assert_eq!(r.plan_id, id);
    assert!(r.identical, "{:?}", r.differences);
    assert!(r.kernel_version_matches);
    assert_eq!(r.kernel_version, shared::KERNEL_VERSION);
    assert_eq!(
        viewer.call("GET", "/api/plans/nope/replay", false).await.0,
        StatusCode::NOT_FOUND
    );

    // Audit: newest first, paged with `before`.
    assert_eq!(
        anon.call("GET", "/api/audit", false).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, all) = viewer.call("GET", "/api/audit", false).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let all: app::api::AuditPage = serde_json::from_value(all).unwrap();
    let actions: Vec<&str> = all.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["plan.reject", "plan.propose"]);
    assert_eq!(all.entries[0].actor, "tina");
    assert_eq!(all.entries[0].subject.as_deref(), Some(id.as_str()));
    assert_eq!(all.next_before, None);
    let (s, first) = viewer.call("GET", "/api/audit?limit=1", false).await;
    assert_eq!(s, StatusCode::OK);
    let first: app::api::AuditPage = serde_json::from_value(first).unwrap();
    assert_eq!(first.entries, all.entries[..1]);
    let next = first.next_before.expect("an older page");
    let (_, second) = viewer
        .call("GET", &format!("/api/audit?limit=1&before={next}"), false)
        .await;
    let second: app::api::AuditPage = serde_json::from_value(second).unwrap();
    assert_eq!(second.entries, all.entries[1..]);
    assert_eq!(second.next_before, None);

    let (_, doc) = viewer.call("GET", "/api/openapi.json", false).await;
    for path in ["/api/plans/{id}/replay", "/api/audit"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    for schema in ["PlanReplay", "AuditPage", "AuditEntry"] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema} missing"
        );
    }
}

/// Venue rounding on the paper broker (fills at the close with no slippage, lots worth ≤ $1,
/// prices with 5 significant figures and 6 − size decimals decimals):
/// - BONK at $0.00002105 has price ticks of $0.000001. With a 1 % cap no tick lies between the
///   close and the cap, so the buy is dropped with the reason — sent at 0.000021 it would be
///   refused; with 5 % it goes out at 0.000022 and fills.
/// - A short of 1198.5 bought at $1.50 (lots of 0.1) exits at $0.90 (whole lots) with 1198
///   reduce-only (1199 is refused) and leaves 0.5 of dust; a long of 250.3 bought at $2 closes
///   exactly at $12 (lots of 0.01).
/// - Two snapshots at the same millisecond: the second replaces the first, closed positions
///   included.
#[tokio::test]
async fn venue_rounding_on_the_paper_broker() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "live_rounding").await else {
            continue;
        };
        venue_rounding(&t.store).await;
    }
}

async fn venue_rounding(store: &Store) {
    use server::broker::{OrderRequest, OrderStatus};
    use server::live::plan::{build, PlanInputs};
    use shared::portfolio::engine::DayTargets;

    let symbols: Vec<String> = ["BONK", "X", "Y"].map(String::from).to_vec();
    let mut panel = Panel::new(Day(20_000), 2, symbols.clone()).unwrap();
    for (a, closes) in [[0.000_021_05, 0.000_021_05], [1.5, 0.9], [2.0, 12.0]]
        .iter()
        .enumerate()
    {
        for (t, c) in closes.iter().enumerate() {
            panel.set(Field::Close, a, t, *c);
        }
    }
    let paper = PaperBroker::new(Arc::new(store.clone()), PaperConfig::default());
    let (paper_ref, panel_ref, symbols_ref) = (&paper, &panel, &symbols);
    let plan =
        move |id: &'static str, weights: Vec<f64>, policy: RebalancePolicy, slip: f64, t: usize| {
            let (paper, panel, symbols) = (paper_ref, panel_ref, symbols_ref);
            async move {
                paper.observe_close(panel, t, true).await.unwrap();
                let account = paper.account().await.unwrap();
                let marks = paper.marks(symbols).await.unwrap();
                let rules = paper.rules(symbols).await.unwrap();
                let targets = DayTargets {
                    day: panel.day(t),
                    weights,
                    strategies: Vec::new(),
                };
                build(&PlanInputs {
                    plan_id: id,
                    panel,
                    targets: &targets,
                    account: &account,
                    marks: &marks,
                    rules: &rules,
                    policy,
                    max_slippage: slip,
                })
            }
        };
    let zero = RebalancePolicy::Threshold { threshold: 0.0 };

    // --- day 0: BONK cannot be priced within 1 %; X short 1198.5, Y long 250.3 ---------------
    // −0.017977 × $100,000 / $1.50 = −1198.47 → −1198.5; 0.005006 × $100,000 / $2 = 250.3.
    let day0 = plan("p0", vec![0.01, -0.017_977, 0.005_006], zero, 0.01, 0).await;
    let bonk = &day0.lines[0];
    let why = bonk.dropped.as_deref().expect("BONK dropped");
    assert!(why.contains("no buy limit price"), "{why}");
    assert!(bonk.client_order_id.is_none());
    // Sent at the rounded-down 0.000021, the venue refuses it even with no slippage.
    let old = paper
        .submit(&[OrderRequest::new(
            "0xbonk-old",
            "BONK",
            "47505938".parse().unwrap(),
            "0.000021".parse().unwrap(),
            false,
        )])
        .await
        .unwrap();
    assert!(matches!(old[0].status, OrderStatus::Rejected { .. }));
    let units: Vec<f64> = day0.orders.iter().map(|o| o.units).collect();
    assert_eq!(units, [-1198.5, 250.3]);
    let reports = paper.submit(&day0.orders).await.unwrap();
    assert!(
        reports.iter().all(|r| r.status == OrderStatus::Filled),
        "{reports:?}"
    );

    // With 5 % the cap 0.0000221025 rounds down to 0.000022, above the close: it fills.
    let keep = RebalancePolicy::Threshold { threshold: 0.03 };
    let bonk_buy = plan("p1", vec![0.01, -0.017_977, 0.005_006], keep, 0.05, 0).await;
    assert_eq!(bonk_buy.orders.len(), 1, "{:?}", bonk_buy.lines);
    let o = &bonk_buy.orders[0];
    assert_eq!((o.symbol.as_str(), o.limit_price), ("BONK", 0.000022));
    let r = paper.submit(&bonk_buy.orders).await.unwrap();
    assert_eq!(r[0].status, OrderStatus::Filled);
    assert_eq!(r[0].avg_price, 0.000_021_05);

    // --- day 1: X falls to $0.90 (whole lots), Y rises to $12; both exit ---------------------
    let day1 = plan("p2", vec![0.01, 0.0, 0.0], keep, 0.02, 1).await;
    let before = paper.account().await.unwrap();
    let x = day1.orders.iter().find(|o| o.symbol == "X").unwrap();
    assert_eq!((x.units, x.reduce_only), (1198.0, true));
    let x_line = day1.lines.iter().find(|l| l.symbol == "X").unwrap();
    let note = x_line.note.as_deref().expect("the dust is reported");
    assert!(note.contains("leaves 0.5 as dust"), "{note}");
    let y = day1.orders.iter().find(|o| o.symbol == "Y").unwrap();
    assert_eq!((y.units, y.reduce_only), (-250.3, true));
    // What rounding to the nearest lot sent: more than is held, refused.
    let old = paper
        .submit(&[OrderRequest::new(
            "0xx-old",
            "X",
            "1199".parse().unwrap(),
            "0.918".parse().unwrap(),
            true,
        )])
        .await
        .unwrap();
    let OrderStatus::Rejected { reason } = &old[0].status else {
        panic!("{old:?}")
    };
    assert!(reason.contains("would not reduce"), "{reason}");
    let reports = paper.submit(&day1.orders).await.unwrap();
    assert_eq!(reports.len(), 2);
    assert!(
        reports.iter().all(|r| r.status == OrderStatus::Filled),
        "{reports:?}"
    );
    let after = paper.account().await.unwrap();
    let held: Vec<(&str, f64)> = after
        .positions
        .iter()
        .map(|p| (p.symbol.as_str(), p.units))
        .collect();
    assert_eq!(held, [("BONK", o.units), ("X", -0.5)]);

    // --- snapshots at one instant: the latest account wins, Y's row goes ---------------------
    let records = server::live::records::Records { store };
    let at = 1_700_000_000_000;
    records.snapshot("paper", &before, at).await.unwrap();
    records.snapshot("paper", &after, at).await.unwrap();
    let rows = sqlx::query(
        "SELECT symbol, units FROM position_snapshots WHERE broker = 'paper' AND at = $1 \
         ORDER BY symbol",
    )
    .bind(at)
    .fetch_all(store.pool())
    .await
    .unwrap();
    let rows: Vec<(String, f64)> = rows
        .iter()
        .map(|r| (sqlx::Row::get(r, 0), sqlx::Row::get(r, 1)))
        .collect();
    assert_eq!(
        rows,
        [("BONK".to_string(), o.units), ("X".to_string(), -0.5)]
    );
    let equity = records.equity(Some("paper")).await.unwrap();
    assert_eq!(equity.len(), 1);
    assert_eq!(equity[0].equity, after.equity);
}
