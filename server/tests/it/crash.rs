//! Crash injection: a child `lockstep live` process (paper broker, auto-approve) is stopped
//! dead (`LOCKSTEP_CRASH_AT=<point>:<n>`, `std::process::abort`: no destructors, no lease
//! release) at a seeded point of its batch — before the n-th send, after the n-th send and before
//! its record, mid-reconcile, before the final status — then `lockstep live reconcile PLAN` runs
//! as the recovery (sometimes itself crashed mid-reconcile first, then run again). After each:
//! every plan is final (`done`, `partially_failed` or `abandoned`) with no unsettled order, no
//! client order id reached the venue twice, no order the venue filled is recorded otherwise, and
//! the account equals the pre-plan state plus exactly the recorded fills (so, when `done`, the
//! plan's targets to the lot). Prints the table of outcomes.
//!
//! By default a sample of the points runs (every kind, first/middle/last order); set
//! `LOCKSTEP_CRASH_POINTS=all` for every point (≥ 100; docs/reliability.md has the table).

use server::broker::paper::{PaperBroker, PaperConfig};
use server::broker::Broker;
use server::store::testing::{Engine, TestStore};
use shared::synth::{generate, SynthConfig};
use shared::Day;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

fn today() -> i32 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    ms.div_euclid(DAY_MS) as i32
}

/// `lockstep --db URL live ARGS`, crashing at `crash` if given; whether it exited cleanly.
fn lockstep(db: &str, settings: &str, args: &[&str], crash: Option<&str>) -> (bool, String) {
    lockstep_on(None, db, settings, args, crash)
}

/// [`lockstep`] on the paper venue (`hyperliquid: None`) or with `--broker hyperliquid` against
/// the mock exchange at that URL (the SDK test key).
fn lockstep_on(
    hyperliquid: Option<&str>,
    db: &str,
    settings: &str,
    args: &[&str],
    crash: Option<&str>,
) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    cmd.args(["--db", db, "live", "--no-refresh", "--settings", settings]);
    if let Some(url) = hyperliquid {
        cmd.args(["--broker", "hyperliquid"])
            .env("HYPERLIQUID_PRIVATE_KEY", crate::exchange::SDK_TEST_KEY)
            .env("HYPERLIQUID_BASE_URL", url)
            .env("HYPERLIQUID_NETWORK", "testnet")
            .env_remove("HYPERLIQUID_KEY_FILE")
            .env_remove("HYPERLIQUID_ACCOUNT")
            .env_remove("HYPERLIQUID_VAULT_ADDRESS")
            .env_remove("HYPERLIQUID_MAX_SLIPPAGE");
    }
    cmd.args(args)
        .env_remove("LOCKSTEP_LIVE_SETTINGS")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    match crash {
        Some(c) => cmd.env("LOCKSTEP_CRASH_AT", c),
        None => cmd.env_remove("LOCKSTEP_CRASH_AT"),
    };
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Outcome {
    point: String,
    recovery_crash: bool,
    crashed: bool,
    status: String,
    filled: usize,
    orders: usize,
}

impl Outcome {
    /// The outcome of a point whose invariants held; a `done` plan must have filled every
    /// order. Removes the point's scratch directory.
    fn settled(
        point: &str,
        recovery_crash: bool,
        crashed: bool,
        status: String,
        filled: usize,
        orders: usize,
        dir: &std::path::Path,
    ) -> Outcome {
        if status == "done" {
            assert_eq!(filled, orders, "{point}: done with unfilled orders");
        }
        let _ = std::fs::remove_dir_all(dir);
        Outcome {
            point: point.to_string(),
            recovery_crash,
            crashed,
            status,
            filled,
            orders,
        }
    }
}

async fn scalar(store: &server::store::Store, sql: &str) -> i64 {
    sqlx::Row::get(&sqlx::query(sql).fetch_one(store.pool()).await.unwrap(), 0)
}

/// The market of every run: 60 synthetic assets, the last day yesterday.
fn crash_panel() -> shared::Panel {
    let n_days = 400;
    generate(&SynthConfig {
        seed: 11,
        n_assets: 60,
        n_days,
        start: Day(today() - n_days as i32),
    })
    .unwrap()
}

/// Seeds a synthetic panel whose last day is yesterday (fresh for the live cycle) and writes
/// the live settings the children run with; returns the settings path.
async fn prepare(t: &TestStore, tag: &str) -> (String, std::path::PathBuf) {
    let panel = crash_panel();
    let n_days = panel.n_days();
    crate::common::seed_panel(&t.store, &panel, 0..=n_days - 1).await;
    let dir = std::env::temp_dir().join(format!(
        "lockstep-crash-{}-{}",
        std::process::id(),
        tag.replace(':', "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = dir.join("settings.json");
    std::fs::write(
        &settings,
        r#"{"auto_approve": true, "execution_lease_seconds": 0.3, "scheduler": false,
            "risk": {"max_weight_per_symbol": 1.0, "max_order_notional": 1e9, "max_daily_turnover": 100.0}}"#,
    )
    .unwrap();
    (settings.to_str().unwrap().to_string(), dir)
}

/// The executing child stopped dead at `point`, then the recovery: after the dead executor's
/// lease lapsed, `reconcile` of its plan (itself crashed mid-reconcile once first when
/// `recovery_crash`). `run(args, crash)` runs one child and says whether it exited cleanly, with
/// its stderr. Asserts that the plan ended final with no unsettled order; returns whether the
/// first child crashed, the plan id and its final status.
async fn crash_then_recover<F, Fut>(
    t: &TestStore,
    point: &str,
    recovery_crash: bool,
    run: F,
) -> (bool, String, String)
where
    F: Fn(Vec<String>, Option<String>) -> Fut,
    Fut: std::future::Future<Output = (bool, String)>,
{
    let (clean, stderr) = run(vec![], Some(point.to_string())).await;
    let crashed = !clean;
    if crashed {
        assert!(
            stderr.contains("LOCKSTEP_CRASH_AT: stopping"),
            "{point}: the child failed for another reason:\n{stderr}"
        );
    }
    let plan_id: String = sqlx::Row::get(
        &sqlx::query("SELECT id FROM live_plans ORDER BY created_at DESC LIMIT 1")
            .fetch_one(t.store.pool())
            .await
            .unwrap(),
        0,
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let reconcile = vec!["reconcile".to_string(), plan_id.clone()];
    if recovery_crash {
        let _ = run(reconcile.clone(), Some("reconcile:1".into())).await;
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    let (ok, stderr) = run(reconcile, None).await;
    assert!(ok, "{point}: recovery failed:\n{stderr}");

    let status: String = sqlx::Row::get(
        &sqlx::query("SELECT status FROM live_plans WHERE id = $1")
            .bind(plan_id.clone())
            .fetch_one(t.store.pool())
            .await
            .unwrap(),
        0,
    );
    assert!(
        matches!(status.as_str(), "done" | "partially_failed" | "abandoned"),
        "{point}: plan ended {status}"
    );
    let unsettled = scalar(
        &t.store,
        "SELECT COUNT(*) FROM live_orders WHERE status IN ('pending', 'unknown', 'open')",
    )
    .await;
    assert_eq!(unsettled, 0, "{point}: unsettled orders left");
    (crashed, plan_id, status)
}

/// A child `lockstep live` run on a blocking thread, for [`crash_then_recover`].
fn child(
    hyperliquid: Option<String>,
    db: String,
    settings: String,
) -> impl Fn(Vec<String>, Option<String>) -> tokio::task::JoinHandle<(bool, String)> {
    move |args, crash| {
        let (url, db, settings) = (hyperliquid.clone(), db.clone(), settings.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            lockstep_on(url.as_deref(), &db, &settings, &args, crash.as_deref())
        })
    }
}

/// One seeded crash point, end to end on a fresh store.
async fn run_point(point: &str, recovery_crash: bool) -> Outcome {
    let t = TestStore::new(Engine::Sqlite, "crash").await.unwrap();
    let (settings, dir) = prepare(&t, point).await;
    let run = child(None, t.url.clone(), settings);
    let (crashed, _, status) = crash_then_recover(&t, point, recovery_crash, |a, c| {
        let job = run(a, c);
        async move { job.await.unwrap() }
    })
    .await;
    let dupes = scalar(
        &t.store,
        "SELECT COUNT(*) FROM (SELECT client_order_id FROM paper_orders GROUP BY client_order_id HAVING COUNT(*) > 1) d",
    )
    .await;
    assert_eq!(
        dupes, 0,
        "{point}: a client order id reached the venue twice"
    );
    // The venue's record and the plan's agree order by order.
    let rows = sqlx::query("SELECT client_order_id, symbol, status, filled_units FROM live_orders")
        .fetch_all(t.store.pool())
        .await
        .unwrap();
    let at_venue: BTreeMap<String, String> =
        sqlx::query("SELECT client_order_id, report FROM paper_orders")
            .fetch_all(t.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (sqlx::Row::get(r, 0), sqlx::Row::get(r, 1)))
            .collect();
    let mut filled_by_symbol: BTreeMap<String, f64> = BTreeMap::new();
    let mut filled = 0;
    for r in &rows {
        let (cloid, symbol, st, units): (String, String, String, f64) = (
            sqlx::Row::get(r, 0),
            sqlx::Row::get(r, 1),
            sqlx::Row::get(r, 2),
            sqlx::Row::get(r, 3),
        );
        let venue_filled = at_venue
            .get(&cloid)
            .is_some_and(|rep| rep.contains("\"filled\""));
        assert_eq!(
            st == "filled",
            venue_filled,
            "{point}: order {cloid} is {st} here, the venue says {:?}",
            at_venue.get(&cloid)
        );
        if st == "filled" {
            filled += 1;
            *filled_by_symbol.entry(symbol).or_default() += units;
        }
    }
    // The account is the pre-plan state (empty) plus exactly the recorded fills.
    let paper = PaperBroker::new(Arc::new(t.store.clone()), PaperConfig::default());
    let account = paper.account().await.unwrap();
    let held: BTreeMap<String, f64> = account
        .positions
        .iter()
        .map(|p| (p.symbol.clone(), p.units))
        .collect();
    for (s, u) in &filled_by_symbol {
        let h = held.get(s).copied().unwrap_or(0.0);
        assert!(
            (h - u).abs() <= 1e-9 * u.abs().max(1.0),
            "{point}: {s} holds {h}, fills say {u}"
        );
    }
    assert_eq!(
        held.len(),
        filled_by_symbol.len(),
        "{point}: positions without fills"
    );
    Outcome::settled(
        point,
        recovery_crash,
        crashed,
        status,
        filled,
        rows.len(),
        &dir,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_at_seeded_points_recover_without_duplicates() {
    harness(
        |p, rc| async move { run_point(&p, rc).await },
        |n| vec![1, n / 2, n],
    )
    .await;
}

/// One clean run tells how many orders the batch has (the same seed and data every time);
/// then every point (`LOCKSTEP_CRASH_POINTS=all`) or the sample's orders, each on a fresh
/// store through `run(point, recovery_crash)`; prints the table.
async fn harness<F, Fut>(run: F, sample: impl Fn(usize) -> Vec<usize>)
where
    F: Fn(String, bool) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let probe = run("none:0".into(), false).await;
    assert_eq!(probe.status, "done");
    let n = probe.orders;
    assert!(n >= 20, "the batch should be large, got {n} orders");
    let points = crash_points(n, all_points(), &sample(n));
    let mut outcomes = vec![probe];
    for (p, rc) in points {
        outcomes.push(run(p, rc).await);
    }
    print_table(&outcomes, n);
}

/// `LOCKSTEP_CRASH_POINTS=all`: every point instead of the sample.
fn all_points() -> bool {
    std::env::var("LOCKSTEP_CRASH_POINTS").is_ok_and(|v| v == "all")
}

/// The crash points of a batch of `n` orders — every order's before/after send when `all`,
/// else `sample` — plus the reconcile and finish points, then the same points (only the `:1`
/// ones for a sample) with the recovery itself crashed mid-reconcile once.
fn crash_points(n: usize, all: bool, sample: &[usize]) -> Vec<(String, bool)> {
    let indices: Vec<usize> = if all {
        (1..=n).collect()
    } else {
        sample.to_vec()
    };
    let mut points: Vec<(String, bool)> = Vec::new();
    for k in &indices {
        points.push((format!("before_send:{k}"), false));
        points.push((format!("after_send:{k}"), false));
    }
    for k in 1..=2 {
        points.push((format!("reconcile:{k}"), false));
    }
    points.push(("finish:1".into(), false));
    // The same points with the recovery itself crashing mid-reconcile once.
    let again: Vec<(String, bool)> = points
        .iter()
        .filter(|(p, _)| all || p.ends_with(":1"))
        .map(|(p, _)| (p.clone(), true))
        .collect();
    points.extend(again);
    points
}

/// The table of outcomes, printed (docs/reliability.md has it).
fn print_table(outcomes: &[Outcome], n: usize) {
    let mut table: BTreeMap<(String, bool, String), (usize, usize, usize)> = BTreeMap::new();
    for o in outcomes {
        let kind = o.point.split(':').next().unwrap().to_string();
        let e = table
            .entry((kind, o.recovery_crash, o.status.clone()))
            .or_insert((0, 0, 0));
        e.0 += 1;
        e.1 += usize::from(o.crashed);
        e.2 += o.filled;
    }
    println!("crash point | recovery crashed | plan ended | runs | crashed | orders filled (sum)");
    for ((kind, rc, st), (runs, crashed, filled)) in &table {
        println!("{kind} | {rc} | {st} | {runs} | {crashed} | {filled}");
    }
    println!(
        "{} runs, {} orders per batch, 0 duplicate client order ids, 0 unsettled orders",
        outcomes.len(),
        n
    );
}

/// Two processes told to execute the same interrupted plan at the same moment, on one
/// PostgreSQL schema (SQLite too): exactly one sends; the venue sees every order once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_execute_one_plan_once() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "two_exec").await else {
            continue;
        };
        let (settings, dir) = prepare(&t, &format!("two-{engine:?}")).await;
        // A plan, proposed but not executed (auto-approve off for this run).
        let manual = dir.join("manual.json");
        std::fs::write(
            &manual,
            std::fs::read_to_string(&settings)
                .unwrap()
                .replace("\"auto_approve\": true", "\"auto_approve\": false"),
        )
        .unwrap();
        let (ok, stderr) = lockstep(&t.url, manual.to_str().unwrap(), &[], None);
        assert!(ok, "{stderr}");
        let plan_id: String = sqlx::Row::get(
            &sqlx::query("SELECT id FROM live_plans")
                .fetch_one(t.store.pool())
                .await
                .unwrap(),
            0,
        );
        // As if approved and interrupted before its first order.
        sqlx::query("UPDATE live_plans SET status = 'executing' WHERE id = $1")
            .bind(plan_id.clone())
            .execute(t.store.pool())
            .await
            .unwrap();
        let spawn = |s: String, id: String, url: String| {
            std::thread::spawn(move || lockstep(&url, &s, &["reconcile", &id], None))
        };
        let a = spawn(settings.clone(), plan_id.clone(), t.url.clone());
        let b = spawn(settings.clone(), plan_id.clone(), t.url.clone());
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        let refusals = [&a, &b]
            .iter()
            .filter(|(ok, err)| !ok && err.contains("held by"))
            .count();
        assert!(
            a.0 || b.0,
            "at least one process executes:\n{}\n{}",
            a.1,
            b.1
        );
        let orders = scalar(&t.store, "SELECT COUNT(*) FROM live_orders").await;
        let at_venue = scalar(&t.store, "SELECT COUNT(*) FROM paper_orders").await;
        assert_eq!(
            at_venue, orders,
            "every order reached the venue exactly once"
        );
        let status: String = sqlx::Row::get(
            &sqlx::query("SELECT status FROM live_plans")
                .fetch_one(t.store.pool())
                .await
                .unwrap(),
            0,
        );
        assert_eq!(status, "done");
        println!("{engine:?}: {orders} orders sent once; refusals with the lease holder named: {refusals}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

// ================================================================================================
// The same harness on the loopback Hyperliquid exchange

/// Lot decimals for a coin priced `price`: a lot worth between $0.1 and $1 (5 at most, as BTC's).
fn sz_decimals(price: f64) -> u32 {
    (price.log10().floor() + 1.0).clamp(0.0, 5.0) as u32
}

/// A mock exchange that lists every asset of [`crash_panel`] (the fixture's coins at their
/// fixture marks, the others at their last close), so the plan trades a large batch there.
async fn venue_for_crash_panel() -> crate::exchange::Mock {
    use server::broker::hyperliquid::signing::HyperliquidSigner;
    let key = HyperliquidSigner::from_hex(crate::exchange::SDK_TEST_KEY)
        .unwrap()
        .address();
    let mock = crate::exchange::Mock::start(key, key).await;
    let panel = crash_panel();
    let t = panel.n_days() - 1;
    let listed = ["BTC", "ETH", "SOL", "LOOM", "PEPE", "kPEPE"];
    let extra: Vec<(String, u32, f64)> = panel
        .symbols()
        .iter()
        .enumerate()
        .filter(|(_, s)| !listed.contains(&s.as_str()))
        .filter_map(|(a, s)| {
            let close = panel.get(shared::Field::Close, a, t);
            (close.is_finite() && close > 0.0).then(|| (s.clone(), sz_decimals(close), close))
        })
        .collect();
    mock.with(|s| s.extra_assets = extra);
    mock
}

/// One seeded crash point on the Hyperliquid broker against a fresh mock exchange: a child
/// `lockstep live --broker hyperliquid` stopped dead at `point`, then `lockstep live --broker
/// hyperliquid reconcile PLAN` (sometimes itself stopped mid-reconcile first). Checks: the plan
/// is final with no unsettled order; no cloid reached the exchange twice; every order's record
/// agrees with the exchange (filled there ⇔ filled here, same units); the recorded fills per
/// symbol are the exchange's fills.
async fn run_point_hl(point: &str, recovery_crash: bool) -> Outcome {
    use server::broker::hyperliquid::symbol_of_coin;
    let t = TestStore::new(Engine::Sqlite, "crash_hl").await.unwrap();
    let (settings, dir) = prepare(&t, &format!("hl-{point}")).await;
    let mock = venue_for_crash_panel().await;
    let run = child(Some(mock.url.clone()), t.url.clone(), settings);
    let (crashed, _, status) = crash_then_recover(&t, point, recovery_crash, |a, c| {
        let job = run(a, c);
        async move { job.await.unwrap() }
    })
    .await;
    let venue = mock.orders();
    let mut per_cloid: BTreeMap<String, usize> = BTreeMap::new();
    for o in &venue {
        *per_cloid
            .entry(o.cloid.clone().expect("every order carries its cloid"))
            .or_default() += 1;
    }
    let dupes: Vec<_> = per_cloid.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "{point}: cloids sent twice: {dupes:?}");
    let rows = sqlx::query("SELECT client_order_id, symbol, status, filled_units FROM live_orders")
        .fetch_all(t.store.pool())
        .await
        .unwrap();
    let mut filled = 0;
    for r in &rows {
        let (cloid, symbol, st, units): (String, String, String, f64) = (
            sqlx::Row::get(r, 0),
            sqlx::Row::get(r, 1),
            sqlx::Row::get(r, 2),
            sqlx::Row::get(r, 3),
        );
        let at_venue = venue
            .iter()
            .find(|o| o.cloid.as_deref() == Some(cloid.to_ascii_lowercase().as_str()));
        match at_venue {
            Some(o) => {
                assert_eq!(
                    (st.as_str(), o.status),
                    ("filled", "filled"),
                    "{point}: {symbol} {cloid}"
                );
                let (s, unit) = symbol_of_coin(&o.coin);
                assert_eq!(s, symbol);
                let venue_units = if o.is_buy { o.filled } else { -o.filled } * unit;
                assert!(
                    (venue_units - units).abs() <= 1e-9 * units.abs().max(1.0),
                    "{point}: {symbol} recorded {units}, the venue filled {venue_units}"
                );
                filled += 1;
            }
            None => assert_ne!(
                st, "filled",
                "{point}: {symbol} recorded filled, the venue never had {cloid}"
            ),
        }
    }
    // The recorded fills are the venue's, symbol by symbol.
    let recorded: BTreeMap<String, f64> =
        sqlx::query("SELECT symbol, SUM(units) FROM live_fills GROUP BY symbol")
            .fetch_all(t.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (sqlx::Row::get(r, 0), sqlx::Row::get(r, 1)))
            .collect();
    let mut at_venue: BTreeMap<String, f64> = BTreeMap::new();
    for o in &venue {
        let (s, unit) = symbol_of_coin(&o.coin);
        *at_venue.entry(s).or_default() += if o.is_buy { o.filled } else { -o.filled } * unit;
    }
    assert_eq!(
        recorded.keys().collect::<Vec<_>>(),
        at_venue.keys().collect::<Vec<_>>(),
        "{point}"
    );
    for (s, u) in &at_venue {
        assert!(
            (recorded[s] - u).abs() <= 1e-9 * u.abs().max(1.0),
            "{point}: {s}"
        );
    }
    Outcome::settled(
        point,
        recovery_crash,
        crashed,
        status,
        filled,
        rows.len(),
        &dir,
    )
}

/// The crash harness on the mock Hyperliquid exchange: a sample by default (first and middle
/// order, reconcile, finish, and recovery crashes), every point with
/// `LOCKSTEP_CRASH_POINTS=all`. 0 duplicate cloids on the venue, every plan settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_on_the_hyperliquid_venue_recover_without_duplicates() {
    harness(
        |p, rc| async move { run_point_hl(&p, rc).await },
        |n| vec![1, n / 2],
    )
    .await;
}

// ================================================================================================
// Two `lockstep serve` binaries and a `lockstep live` on one PostgreSQL schema

/// A `lockstep serve` child on a free port, trading on the mock exchange at `venue`.
struct Served {
    child: std::process::Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &str, settings: &str, venue: &str, site: &std::path::Path) -> Served {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["--db", db, "serve", "--addr", "127.0.0.1:0"])
        .args(["--live-broker", "hyperliquid", "--live-settings", settings])
        .arg("--site-root")
        .arg(site)
        .env("LOCKSTEP_OFFLINE", "1")
        .env("RUST_LOG", "warn")
        .env("HYPERLIQUID_PRIVATE_KEY", crate::exchange::SDK_TEST_KEY)
        .env("HYPERLIQUID_BASE_URL", venue)
        .env("HYPERLIQUID_NETWORK", "testnet")
        .env_remove("HYPERLIQUID_KEY_FILE")
        .env_remove("HYPERLIQUID_ACCOUNT")
        .env_remove("HYPERLIQUID_VAULT_ADDRESS")
        .env_remove("HYPERLIQUID_MAX_SLIPPAGE")
        .env_remove("LOCKSTEP_LIVE_SETTINGS")
        .env_remove("LOCKSTEP_LIVE_BROKER")
        .env_remove("LEPTOS_SITE_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("lockstep serve exited before listening")
            .unwrap();
        if let Some(url) = line.strip_prefix("lockstep listening on ") {
            break url.trim().to_string();
        }
    };
    Served { child, url }
}

/// Signs `user` in at `base`; the cookie header and the CSRF token a POST carries.
async fn sign_in(http: &reqwest::Client, base: &str, user: &str, pw: &str) -> (String, String) {
    let r = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"username": user, "password": pw}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "sign-in at {base}: {}", r.status());
    let cookie = |name: &str| -> String {
        r.headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .unwrap_or_else(|| panic!("no {name} cookie"))
            .to_string()
    };
    let (session, csrf) = (cookie("lockstep_session"), cookie("lockstep_csrf"));
    (
        format!("lockstep_session={session}; lockstep_csrf={csrf}"),
        csrf,
    )
}

/// The team deployment: two `lockstep serve` processes on one PostgreSQL schema and a
/// `lockstep live execute` beside them, all told to execute the same approved plan at the same
/// moment, on the mock Hyperliquid exchange (slowed to 60 ms an order, so the executions
/// overlap). Exactly one executes; the other two are refused with the lease holder named; the
/// exchange receives each client order id once and the plan ends `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_and_the_cli_execute_one_approved_plan_once() {
    const PW: &str = "correct horse battery staple 42";
    let Some(t) = TestStore::new(Engine::Postgres, "replicas").await else {
        return;
    };
    let (_, dir) = prepare(&t, "replicas").await;
    let settings = dir.join("replicas.json");
    std::fs::write(
        &settings,
        r#"{"auto_approve": false, "execution_lease_seconds": 10, "scheduler": false,
            "risk": {"max_weight_per_symbol": 1.0, "max_order_notional": 1e9, "max_daily_turnover": 100.0}}"#,
    )
    .unwrap();
    let settings = settings.to_str().unwrap().to_string();
    let mock = venue_for_crash_panel().await;
    let run = |args: Vec<String>| {
        let (url, db, settings) = (mock.url.clone(), t.url.clone(), settings.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            lockstep_on(Some(&url), &db, &settings, &args, None)
        })
    };
    // The plan, proposed on the venue's account, then approved by a trader.
    let (ok, stderr) = run(vec![]).await.unwrap();
    assert!(ok, "{stderr}");
    let plan_id: String = sqlx::Row::get(
        &sqlx::query("SELECT id FROM live_plans")
            .fetch_one(t.store.pool())
            .await
            .unwrap(),
        0,
    );
    let orders = scalar(&t.store, "SELECT COUNT(*) FROM live_orders").await;
    assert_eq!(orders, 0, "nothing written before execution");
    sqlx::query("UPDATE live_plans SET status = 'approved', decided_by = 'alice' WHERE id = $1")
        .bind(plan_id.clone())
        .execute(t.store.pool())
        .await
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["--db", &t.url, "user", "add", "alice", "--role", "trader"])
        .env("LOCKSTEP_PASSWORD", PW)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    let (db, venue) = (t.url.clone(), mock.url.clone());
    let servers = tokio::task::spawn_blocking({
        let (settings, site) = (settings.clone(), site.clone());
        move || {
            [
                serve(&db, &settings, &venue, &site),
                serve(&db, &settings, &venue, &site),
            ]
        }
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let mut browsers = Vec::new();
    for s in &servers {
        browsers.push(sign_in(&http, &s.url, "alice", PW).await);
    }
    mock.with(|s| s.hang_after_record = Some(std::time::Duration::from_millis(60)));
    let posts_before = mock.with(|s| s.exchange_posts);
    assert_eq!(posts_before, 0);

    // All three at once.
    let cli = run(vec!["execute".into(), plan_id.clone()]);
    let requests = servers.iter().zip(&browsers).map(|(s, (cookie, csrf))| {
        http.post(format!("{}/api/plans/{plan_id}/execute", s.url))
            .header(reqwest::header::COOKIE, cookie)
            .header("x-csrf-token", csrf)
            .send()
    });
    let answers = futures_util::future::join_all(requests).await;
    let (cli_ok, cli_err) = cli.await.unwrap();
    let mut winners = 0;
    let mut refusals = Vec::new();
    for a in answers {
        let r = a.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        if status.is_success() {
            winners += 1;
        } else {
            assert_eq!(status, reqwest::StatusCode::CONFLICT, "{body}");
            refusals.push(body);
        }
    }
    if cli_ok {
        winners += 1;
    } else {
        refusals.push(cli_err);
    }
    assert_eq!(winners, 1, "exactly one executor: {refusals:?}");
    assert_eq!(refusals.len(), 2);
    for r in &refusals {
        assert!(
            r.contains("not executed") && r.contains("is held by") && r.contains(&plan_id),
            "a refusal names the lease and its holder: {r}"
        );
    }
    // The winner finishes in its own task; the plan ends done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        let status: String = sqlx::Row::get(
            &sqlx::query("SELECT status FROM live_plans WHERE id = $1")
                .bind(plan_id.clone())
                .fetch_one(t.store.pool())
                .await
                .unwrap(),
            0,
        );
        if status != "executing" && status != "approved" {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the plan never finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status, "done");
    let orders = scalar(&t.store, "SELECT COUNT(*) FROM live_orders").await;
    let venue = mock.orders();
    let cloids: std::collections::BTreeSet<_> = venue.iter().map(|o| o.cloid.clone()).collect();
    assert_eq!(
        cloids.len(),
        venue.len(),
        "a client order id reached the venue twice"
    );
    assert_eq!(
        venue.len() as i64,
        orders,
        "every order reached the venue once"
    );
    assert_eq!(
        mock.with(|s| s.exchange_posts) as i64,
        orders,
        "one request per order"
    );
    println!(
        "{orders} orders sent once; refused: {}",
        refusals
            .iter()
            .map(|r| r.lines().last().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
}
