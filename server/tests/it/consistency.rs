//! The consistency report's first half: the revision log (previous values kept per data
//! version, on SQLite and PostgreSQL), the panel as of a data version, signal parity (a revision
//! is `revised` with the right field, before and after; a tampered plan is a `mismatch` alarm),
//! the parameter audit, and `GET /api/parity` (400s that name the parameter; a body that parses
//! as `ParityReport`).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::live::{paper_broker, CycleOptions, FixedClock, LiveService, LiveSettings};
use server::parity::{self, ReportRequest};
use server::store::market::{Record, Series, SourceKind};
use server::store::testing::{Engine, TestStore};
use server::store::Store;
use shared::config::Config;
use shared::{Day, Field, Panel};
use std::sync::Arc;
use tower::ServiceExt;

use crate::common::{panel_records as records, records_of_day, DAY_MS};

fn bar(symbol: &str, day: i32, close: f64) -> Record {
    Record::Bar {
        symbol: symbol.into(),
        day: Day(day),
        open: close,
        high: close * 1.01,
        low: close * 0.99,
        close,
        volume: 1000.0,
    }
}

fn funding(symbol: &str, venue: &str, day: i32, rate: f64) -> Record {
    Record::Funding {
        symbol: symbol.into(),
        venue: venue.into(),
        day: Day(day),
        daily_rate: rate,
    }
}

fn same_bits(a: &Panel, b: &Panel) {
    assert_eq!(a.symbols(), b.symbols());
    assert_eq!((a.start(), a.n_days()), (b.start(), b.n_days()));
    for f in Field::ALL {
        let same = a
            .field(f)
            .iter()
            .zip(b.field(f))
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{f:?} differs");
    }
}

#[tokio::test]
async fn the_revision_log_keeps_previous_values_and_rebuilds_old_panels() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "consistency_log").await else {
            continue;
        };
        revision_log(&t.store).await;
    }
}

async fn revision_log(store: &Store) {
    store
        .register_source("test", SourceKind::Import, "hand-made rows")
        .await
        .unwrap();
    let first = vec![
        bar("AAA", 100, 10.0),
        bar("AAA", 101, 11.0),
        bar("BBB", 100, 20.0),
        bar("BBB", 101, 21.0),
        funding("AAA", "binance", 101, 0.001),
        funding("AAA", "bybit", 101, 0.002),
    ];
    store.upsert("test", &first).await.unwrap();
    let v1 = store.data_version().await.unwrap();
    let panel_v1 = store.build_panel().await.unwrap().unwrap();

    // Writing the same rows again changes nothing: no version, no log.
    let c = store.upsert("test", &first).await.unwrap();
    assert_eq!((c.inserted, c.updated, c.unchanged), (0, 0, 6));
    assert_eq!(store.data_version().await.unwrap(), v1);

    // A revised close, a revised Binance funding rate, a new day and a new asset.
    let second = vec![
        bar("AAA", 101, 12.5),
        funding("AAA", "binance", 101, 0.004),
        bar("AAA", 102, 13.0),
        bar("CCC", 101, 5.0),
    ];
    let c = store.upsert("test", &second).await.unwrap();
    assert_eq!((c.inserted, c.updated), (2, 2));
    let v2 = store.data_version().await.unwrap();
    assert_eq!(v2, v1 + 1);
    // And a second revision of the same close.
    store
        .upsert("test", &[bar("AAA", 101, 14.0)])
        .await
        .unwrap();
    let v3 = store.data_version().await.unwrap();

    let logged: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM market_revisions")
            .fetch_one(store.pool())
            .await
            .unwrap(),
        0,
    );
    assert_eq!(
        logged, 3,
        "two revisions at v2, one at v3; inserts are not logged"
    );

    // What changed after v1, inside days 100..=102: before = the value at v1, after = now.
    let revs = store.revisions_after(v1, Day(100), Day(102)).await.unwrap();
    let find = |symbol: &str, day: i32, field: &str| {
        revs.iter()
            .filter(|r| r.symbol == symbol && r.day == Day(day) && r.field == field)
            .collect::<Vec<_>>()
    };
    let close = find("AAA", 101, "close");
    assert_eq!(close.len(), 1, "{revs:?}");
    assert_eq!((close[0].before, close[0].after), (Some(11.0), Some(14.0)));
    assert_eq!(close[0].series, Series::Bars);
    // Only the columns that changed: open/high/low moved with the close in `bar`, volume did not.
    assert!(find("AAA", 101, "volume").is_empty());
    let rate = find("AAA", 101, "funding_rate");
    assert_eq!(rate.len(), 1);
    assert_eq!(rate[0].venue, "binance");
    assert_eq!((rate[0].before, rate[0].after), (Some(0.001), Some(0.004)));
    let new_day = find("AAA", 102, "close");
    assert_eq!((new_day[0].before, new_day[0].after), (None, Some(13.0)));
    let new_asset = find("CCC", 101, "close");
    assert_eq!((new_asset[0].before, new_asset[0].after), (None, Some(5.0)));
    // After v2 only the second close revision is left, starting from 12.5.
    let revs = store.revisions_after(v2, Day(100), Day(102)).await.unwrap();
    assert_eq!(revs.len(), 4, "open, high, low, close of AAA 101: {revs:?}");
    let close = revs.iter().find(|r| r.field == "close").unwrap();
    assert_eq!((close.before, close.after), (Some(12.5), Some(14.0)));
    // The window bounds are respected.
    assert!(store
        .revisions_after(v1, Day(102), Day(102))
        .await
        .unwrap()
        .iter()
        .all(|r| r.day == Day(102)));

    // The panel as of v1 is the panel built at v1, bit for bit; as of v3 it is today's.
    let as_of_v1 = store.build_panel_as_of(v1).await.unwrap().unwrap();
    same_bits(&as_of_v1, &panel_v1);
    let today = store.build_panel().await.unwrap().unwrap();
    same_bits(&store.build_panel_as_of(v3).await.unwrap().unwrap(), &today);
    let as_of_v2 = store.build_panel_as_of(v2).await.unwrap().unwrap();
    let a = as_of_v2.asset_index("AAA").unwrap();
    let t = as_of_v2.row_of(Day(101)).unwrap();
    assert_eq!(as_of_v2.get(Field::Close, a, t), 12.5);
    assert_eq!(as_of_v2.get(Field::FundingRate, a, t), 0.004);
    assert_eq!(as_of_v2.symbols().len(), 3);
    // Whether the old panel's rows through a day are today's: not through day 100 at v1 (CCC is
    // a new column), yes at v2 (only day 101 changed since), not through 101 at v2.
    assert!(!store.unchanged_through(v1, Day(100)).await.unwrap());
    assert!(store.unchanged_through(v2, Day(100)).await.unwrap());
    assert!(!store.unchanged_through(v2, Day(101)).await.unwrap());
    assert!(store.unchanged_through(v3, Day(102)).await.unwrap());
    // Before anything was stored there was no panel.
    assert!(store.build_panel_as_of(0).await.unwrap().is_none());
}

// --- signal parity on the live cycle -----------------------------------------------------------

fn synth() -> Panel {
    crate::common::synth_panel(11, 25, 320)
}

/// A store holding all but the synthetic panel's last day, a live trader whose clock sits an
/// hour after the last stored day closed, and one proposed plan.
async fn live_with_plan(store: &Store) -> (Arc<LiveService>, Panel, String) {
    let panel = synth();
    let last = panel.n_days() - 2;
    store
        .register_source("synthetic", SourceKind::Synthetic, "test panel")
        .await
        .unwrap();
    store
        .upsert("synthetic", &records(&panel, last))
        .await
        .unwrap();
    let clock = Arc::new(FixedClock::new(
        (panel.day(last).0 as i64 + 1) * DAY_MS + 3_600_000,
    ));
    let store = Arc::new(store.clone());
    let settings = LiveSettings::default();
    let config = Config::lockstep_default().unwrap();
    let broker = Arc::new(paper_broker(store.clone(), &settings, &config));
    let live = LiveService::new(store, settings, config, broker, clock).unwrap();
    let id = live
        .run_cycle(&CycleOptions {
            dry_run: false,
            actor: "test".into(),
        })
        .await
        .unwrap()
        .plan
        .summary
        .id;
    (Arc::new(live), panel, id)
}

#[tokio::test]
async fn a_revision_after_the_plan_is_revised_not_an_alarm() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "consistency_revised").await else {
            continue;
        };
        revised(&t.store).await;
    }
}

async fn revised(store: &Store) {
    let (live, panel, id) = live_with_plan(store).await;
    let report = parity::report(&live, &ReportRequest::default())
        .await
        .unwrap();
    assert_eq!(report.signals.len(), 1);
    assert_eq!(
        report.signals[0].status, "identical",
        "{:?}",
        report.signals[0]
    );
    assert_eq!(report.alarms, 0);

    // A newer day arrives: the plan's data is untouched, so it stays identical.
    store
        .upsert("synthetic", &records_of_day(&panel, panel.n_days() - 1))
        .await
        .unwrap();
    let report = parity::report(&live, &ReportRequest::default())
        .await
        .unwrap();
    assert_eq!(
        report.signals[0].status, "identical",
        "{:?}",
        report.signals[0]
    );
    assert!(report.signals[0].revisions.is_empty());

    // Revise the close of the plan's largest position on its data day (inside every window).
    let plan = live.plan(&id).await.unwrap();
    let (symbol, _) = plan
        .targets
        .iter()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap();
    let day = Day::parse(&plan.summary.data_day).unwrap();
    let (a, t) = (
        panel.asset_index(symbol).unwrap(),
        panel.row_of(day).unwrap(),
    );
    let old = panel.get(Field::Close, a, t);
    store
        .upsert(
            "synthetic",
            &[Record::Bar {
                symbol: symbol.clone(),
                day,
                open: panel.get(Field::Open, a, t),
                high: panel.get(Field::High, a, t).max(old * 3.0),
                low: panel.get(Field::Low, a, t),
                close: old * 3.0,
                volume: panel.get(Field::Volume, a, t),
            }],
        )
        .await
        .unwrap();

    let report = parity::report(&live, &ReportRequest::default())
        .await
        .unwrap();
    let s = &report.signals[0];
    assert_eq!(s.plan_id, id);
    assert_eq!(s.status, "revised", "{s:?}");
    assert_eq!(report.alarms, 0);
    assert!(!s.differences.is_empty());
    assert!(s.differences.iter().all(|d| d.cause == "revised"));
    assert!(s
        .differences
        .iter()
        .all(|d| d.planned.to_bits() == d.same_data.to_bits()));
    let close: Vec<_> = s.revisions.iter().filter(|r| r.field == "close").collect();
    assert_eq!(close.len(), 1, "{:?}", s.revisions);
    assert_eq!(close[0].symbol, *symbol);
    assert_eq!(close[0].day, day.to_string());
    assert_eq!(close[0].before, Some(old));
    assert_eq!(close[0].after, Some(old * 3.0));
    assert!((close[0].relative_change.unwrap() - 2.0).abs() < 1e-12);
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "signal_consistency")
        .unwrap();
    assert!(check.ok, "{check:?}");
    // Replay (today's data) sees the revision as a difference; parity says it is not an alarm.
    assert!(!live.replay(&id).await.unwrap().identical);
}

#[tokio::test]
async fn a_tampered_plan_is_a_mismatch_alarm() {
    let t = TestStore::new(Engine::Sqlite, "consistency_mismatch")
        .await
        .unwrap();
    let (live, _, id) = live_with_plan(&t.store).await;
    let row = sqlx::query("SELECT body FROM live_plans WHERE id = $1")
        .bind(id.clone())
        .fetch_one(t.store.pool())
        .await
        .unwrap();
    let mut body: serde_json::Value =
        serde_json::from_str(&sqlx::Row::get::<String, _>(&row, 0)).unwrap();
    assert!(
        body["data_version"].as_i64().is_some(),
        "the plan records its data version"
    );
    let targets = body["targets"].as_object_mut().unwrap();
    let k = targets.keys().next().unwrap().clone();
    let v = targets[&k].as_f64().unwrap();
    targets.insert(k.clone(), serde_json::json!(v * 1.5));
    sqlx::query("UPDATE live_plans SET body = $1 WHERE id = $2")
        .bind(body.to_string())
        .bind(id.clone())
        .execute(t.store.pool())
        .await
        .unwrap();

    let day = live.plan(&id).await.unwrap().summary.data_day;
    let report = parity::report(
        &live,
        &ReportRequest {
            date: Some(Day::parse(&day).unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.alarms, 1);
    let s = &report.signals[0];
    assert_eq!(s.status, "mismatch");
    assert_eq!(s.differences.len(), 1, "{:?}", s.differences);
    let d = &s.differences[0];
    assert_eq!(d.symbol, k);
    assert_eq!(d.cause, "same_data");
    assert_eq!(d.planned, v * 1.5);
    assert_eq!(d.same_data, v);
    assert_eq!(d.today, v);
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "signal_consistency")
        .unwrap();
    assert!(!check.ok);
    assert_eq!(check.value, Some(1.0));
    let text = server::commands::parity::render(&report);
    assert!(text.contains("ALARM"), "{text}");
    assert!(server::commands::parity::has_findings(&report));

    // A plan stored before data versions were recorded cannot be checked on its own data.
    let mut body: serde_json::Value = body;
    body.as_object_mut().unwrap().remove("data_version");
    sqlx::query("UPDATE live_plans SET body = $1 WHERE id = $2")
        .bind(body.to_string())
        .bind(id.clone())
        .execute(t.store.pool())
        .await
        .unwrap();
    let report = parity::report(&live, &ReportRequest::default())
        .await
        .unwrap();
    assert_eq!(report.signals[0].status, "unavailable");
    assert!(report.signals[0]
        .note
        .as_ref()
        .unwrap()
        .contains("data version"));
    assert_eq!(report.alarms, 0);
}

#[tokio::test]
async fn the_parameter_audit_finds_the_weighting_difference_and_nothing_else() {
    let t = TestStore::new(Engine::Sqlite, "consistency_params")
        .await
        .unwrap();
    let (live, _, _) = live_with_plan(&t.store).await;
    let mut v: serde_json::Value =
        serde_json::from_str(shared::config::DEFAULT_CONFIG_JSON).unwrap();
    v["params"]["size"]["weighting_method"] = "equal_weight".into();
    let backtest = Config::from_value(&v).unwrap();
    let report = parity::report(
        &live,
        &ReportRequest {
            backtest_config: Some((backtest, "test".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let a = &report.parameters;
    assert_eq!(a.differing, 1);
    let diff: Vec<_> = a.rows.iter().filter(|r| !r.same).collect();
    assert_eq!(
        (diff[0].strategy.as_str(), diff[0].key.as_str()),
        ("size", "weighting_method")
    );
    assert_eq!(diff[0].live, Some(serde_json::json!("risk_parity")));
    assert_eq!(diff[0].backtest, Some(serde_json::json!("equal_weight")));
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "parameter_audit")
        .unwrap();
    assert!(!check.ok);
    assert!(
        check.detail.contains("size.weighting_method"),
        "{}",
        check.detail
    );
    // The default backtest config is the live one here: nothing differs.
    let report = parity::report(&live, &ReportRequest::default())
        .await
        .unwrap();
    assert_eq!(report.parameters.differing, 0);
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "positions_vs_backtest",
            "parameter_audit",
            "signal_consistency",
            "portfolio_value_30d"
        ]
    );
}

// --- the API ------------------------------------------------------------------------------------

async fn get(app: &axum::Router, cookie: &str, uri: &str) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method("GET")
        .uri(uri)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_api_answers_400_on_bad_parameters_and_a_report_otherwise() {
    let t = TestStore::new(Engine::Sqlite, "consistency_api")
        .await
        .unwrap();
    let (live, _, _) = live_with_plan(&t.store).await;
    let state = server::AppState::new(
        t.store.clone(),
        std::path::Path::new("target/site"),
        "127.0.0.1:0".parse().unwrap(),
    )
    .with_live(live);
    let app = server::router(state);
    server::auth::users::add(
        &t.store,
        "vic",
        app::api::Role::Viewer,
        "correct horse battery",
    )
    .await
    .unwrap();
    let (token, _) =
        server::auth::session::create(&t.store, "vic", std::time::Duration::from_secs(3600))
            .await
            .unwrap();
    let cookie = format!("lockstep_session={token}");

    assert_eq!(
        get(&app, "", "/api/parity").await.0,
        StatusCode::UNAUTHORIZED
    );
    let bad_config = encode(r#"{"params": {"size": {"top_n": -1}}}"#);
    for (query, names) in [
        ("from=2024-13-01", "from"),
        ("to=yesterday", "to"),
        ("date=2024-02-30", "date"),
        ("tolerance=abc", "tolerance"),
        ("tolerance=-0.1", "tolerance"),
        ("from=2024-03-02&to=2024-03-01", "from"),
        ("backtest_config=%7Bnot%20json", "backtest_config"),
        (
            &format!("backtest_config={bad_config}"),
            "params.size.top_n",
        ),
        ("colour=red", "colour"),
    ] {
        let (s, body) = get(&app, &cookie, &format!("/api/parity?{query}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {body}");
        let msg = body["error"].as_str().unwrap_or_default();
        assert!(msg.contains(names), "{query}: {msg}");
    }

    let config = encode(shared::config::DEFAULT_CONFIG_JSON);
    let (s, body) = get(
        &app,
        &cookie,
        &format!("/api/parity?tolerance=0.1&backtest_config={config}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let report: app::api::ParityReport = serde_json::from_value(body).unwrap();
    assert_eq!(report.tolerance, 0.1);
    assert_eq!(report.signals.len(), 1);
    assert_eq!(
        report.parameters.backtest_config_source,
        "request (backtest_config)"
    );
    assert_eq!(report.checks.len(), 4);
}

// --- the revision log on the real files -------------------------------------------------------

/// The real files imported, imported again unchanged, then again with 1% of the closes
/// revised: the log holds exactly the revised rows, and the panel as of the first import is
/// that import's panel bit for bit. Prints the cost of each step (debug build).
#[tokio::test]
async fn real_files_revisions_round_trip() {
    let Some(dir) = crate::common::real_data_dir("real-data revision test skipped") else {
        return;
    };
    let t = TestStore::new(Engine::Sqlite, "consistency_real")
        .await
        .unwrap();
    let store = &t.store;
    let reads = server::market_data::csv::read_dir(&dir).unwrap();
    let timed = |label: &'static str| {
        let started = std::time::Instant::now();
        move || {
            eprintln!(
                "real data, {label}: {:.2} s",
                started.elapsed().as_secs_f64()
            )
        }
    };
    let done = timed("first import (upserts)");
    for r in &reads {
        store.upsert("import", &r.records).await.unwrap();
    }
    done();
    let v1 = store.data_version().await.unwrap();
    let panel_v1 = store.build_panel().await.unwrap().unwrap();

    let done = timed("unchanged re-import");
    for r in &reads {
        let c = store.upsert("import", &r.records).await.unwrap();
        assert_eq!(c.inserted + c.updated, 0);
    }
    done();
    assert_eq!(store.data_version().await.unwrap(), v1);

    let mut revised = 0usize;
    let mut changed_reads = reads.clone();
    for r in &mut changed_reads {
        for (i, rec) in r.records.iter_mut().enumerate() {
            if let Record::Bar { close, .. } = rec {
                if i % 100 == 0 && close.is_finite() && *close != 0.0 {
                    *close *= 1.01;
                    revised += 1;
                }
            }
        }
    }
    let done = timed("re-import with 1% of the closes revised");
    for r in &changed_reads {
        store.upsert("import", &r.records).await.unwrap();
    }
    done();
    let logged: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM market_revisions")
            .fetch_one(store.pool())
            .await
            .unwrap(),
        0,
    );
    assert_eq!(logged as usize, revised);
    let done = timed("panel as of the first import");
    let as_of = store.build_panel_as_of(v1).await.unwrap().unwrap();
    done();
    same_bits(&as_of, &panel_v1);
    let (first, last) = (panel_v1.start(), panel_v1.end());
    let done = timed("revisions after the first import, all days");
    let revs = store.revisions_after(v1, first, last).await.unwrap();
    done();
    assert_eq!(revs.len(), revised);
    assert!(revs
        .iter()
        .all(|r| r.field == "close" && r.after.unwrap() == r.before.unwrap() * 1.01));
}

fn day_of(r: &Record) -> Day {
    match r {
        Record::Bar { day, .. }
        | Record::MarketCap { day, .. }
        | Record::Supply { day, .. }
        | Record::Funding { day, .. }
        | Record::OpenInterest { day, .. } => *day,
    }
}

/// A week of auto-approved paper plans on the real panel, one revised close, then the report:
/// plans made before the revised day stay `identical` (today's panel serves them), no alarm.
/// Prints what the report costs (debug build).
#[tokio::test]
async fn real_panel_week_of_plans_report() {
    let Some(dir) = crate::common::real_data_dir("real-data revision test skipped") else {
        return;
    };
    let t = TestStore::new(Engine::Sqlite, "consistency_real_week")
        .await
        .unwrap();
    let store = &t.store;
    let reads = server::market_data::csv::read_dir(&dir).unwrap();
    let all: Vec<Record> = reads.into_iter().flat_map(|r| r.records).collect();
    let last = all.iter().map(day_of).max().unwrap();
    let first_plan = Day(last.0 - 7);
    let upto = |d: Day| -> Vec<Record> { all.iter().filter(|r| day_of(r) <= d).cloned().collect() };
    let on = |d: Day| -> Vec<Record> { all.iter().filter(|r| day_of(r) == d).cloned().collect() };
    store.upsert("import", &upto(first_plan)).await.unwrap();
    let clock = Arc::new(FixedClock::new(
        (first_plan.0 as i64 + 1) * DAY_MS + 3_600_000,
    ));
    let arc = Arc::new(store.clone());
    let settings = LiveSettings {
        auto_approve: true,
        ..LiveSettings::default()
    };
    let config = Config::lockstep_default().unwrap();
    let broker = Arc::new(paper_broker(arc.clone(), &settings, &config));
    let live = LiveService::new(arc, settings, config, broker, clock.clone()).unwrap();
    let opts = CycleOptions {
        dry_run: false,
        actor: "test".into(),
    };
    for k in 0..7 {
        live.run_cycle(&opts).await.unwrap();
        let next = Day(first_plan.0 + k + 1);
        store.upsert("import", &on(next)).await.unwrap();
        clock.set((next.0 as i64 + 1) * DAY_MS + 3_600_000);
    }
    let started = std::time::Instant::now();
    let report = parity::report(&live, &ReportRequest::default())
        .await
        .unwrap();
    eprintln!(
        "real panel, report over {} plans (nothing revised): {:.2} s",
        report.signals.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(report.signals.len(), 7);
    assert!(
        report.signals.iter().all(|s| s.status == "identical"),
        "{:?}",
        report.signals
    );

    // Revise BTC's close three days before the end: the later plans see it in their window.
    let revised_day = Day(last.0 - 3);
    let mut rec = on(revised_day)
        .into_iter()
        .find(|r| matches!(r, Record::Bar { symbol, .. } if symbol == "BTC"))
        .unwrap();
    if let Record::Bar { close, high, .. } = &mut rec {
        *close *= 1.02;
        *high = high.max(*close);
    }
    store.upsert("import", &[rec]).await.unwrap();
    let started = std::time::Instant::now();
    let report = parity::report(&live, &ReportRequest::default())
        .await
        .unwrap();
    eprintln!(
        "real panel, report over {} plans (one close revised): {:.2} s",
        report.signals.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(report.alarms, 0, "{:?}", report.signals);
    for s in &report.signals {
        let day = Day::parse(&s.data_day).unwrap();
        if day < revised_day {
            assert_eq!(s.status, "identical", "{s:?}");
            assert!(s.revisions.is_empty());
        } else {
            assert!(s.status == "identical" || s.status == "revised", "{s:?}");
            let close = s
                .revisions
                .iter()
                .find(|r| r.symbol == "BTC" && r.field == "close")
                .unwrap_or_else(|| panic!("{s:?}"));
            assert!((close.relative_change.unwrap() - 0.02).abs() < 1e-9);
        }
    }
    let text = server::commands::parity::render(&report);
    eprintln!("{}", text.lines().take(12).collect::<Vec<_>>().join("\n"));
    // The gap per symbol: in the JSON, and the largest in the text.
    if !report.attribution.days.is_empty() {
        let top = &report.attribution.symbols[0];
        assert!(text.contains("by symbol"), "{text}");
        assert!(text.contains(&format!("    {:<10} {:>12.2}", top.symbol, top.parts.total)));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["attribution"]["symbols"][0]["symbol"],
            top.symbol.as_str()
        );
    }
}
