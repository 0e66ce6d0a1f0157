//! The predecessor's four manual checks as tests of `lockstep parity` (issue 7): on a store with
//! weeks of auto-approved paper trading on the synthetic market, each check holds on the clean
//! history and fails once the thing it guards is broken — positions changed by hand, a backtest
//! config with another parameter, a tampered plan, cash taken out of the account — and the
//! binary's exit status and JSON say the same.

use crate::common::{cycle_on, panel_records, synth_panel};
use app::api::{ParityCheck, ParityReport};
use server::live::{paper_broker, FixedClock, LiveService, LiveSettings};
use server::parity::{self, ReportRequest};
use server::store::market::SourceKind;
use server::store::testing::{Engine, TestStore};
use shared::config::Config;
use shared::Day;
use std::sync::Arc;

/// A SQLite store with the synthetic market (all days stored) and a paper trader whose cycles
/// auto-approve; `days` of them are run, ending on the panel's last day.
struct History {
    t: TestStore,
    live: Arc<LiveService>,
    clock: Arc<FixedClock>,
    /// The data days with a plan, oldest first.
    days: Vec<Day>,
}

/// The trader of [`history`]: auto-approve, and risk limits that never block a plan (these
/// tests are about parity, not risk).
fn settings() -> LiveSettings {
    let mut s = LiveSettings {
        auto_approve: true,
        ..LiveSettings::default()
    };
    s.risk.max_gross_leverage = 100.0;
    s.risk.max_weight_per_symbol = 100.0;
    s.risk.max_order_notional = 1e12;
    s.risk.max_daily_turnover = 1e6;
    s
}

/// `days` data days ending on the panel's last, the first `run` of them traded.
async fn history_with(tag: &str, days: i32, run: usize) -> History {
    let t = TestStore::new(Engine::Sqlite, tag).await.unwrap();
    let panel = synth_panel(11, 25, 320);
    t.store
        .register_source("synthetic", SourceKind::Synthetic, "test panel")
        .await
        .unwrap();
    t.store
        .upsert("synthetic", &panel_records(&panel, panel.n_days() - 1))
        .await
        .unwrap();
    let end = panel.day(panel.n_days() - 1);
    let store = Arc::new(t.store.clone());
    let settings = settings();
    let config = Config::lockstep_default().unwrap();
    let broker = Arc::new(paper_broker(store.clone(), &settings, &config));
    let clock = Arc::new(FixedClock::new(0));
    let live = Arc::new(LiveService::new(store, settings, config, broker, clock.clone()).unwrap());
    let mut h = History {
        t,
        live,
        clock,
        days: (0..days).map(|i| Day(end.0 - days + 1 + i)).collect(),
    };
    for k in 0..run {
        let day = h.days[k];
        cycle_on(&h.live, &h.clock, day, 0).await;
    }
    h.days.truncate(run);
    h
}

async fn history(tag: &str, days: i32) -> History {
    history_with(tag, days, days as usize).await
}

impl History {
    async fn report(&self, req: ReportRequest) -> ParityReport {
        parity::report(&self.live, &req).await.unwrap()
    }

    async fn paper_account(&self) -> String {
        let row = sqlx::query("SELECT name FROM paper_accounts")
            .fetch_one(self.t.store.pool())
            .await
            .unwrap();
        sqlx::Row::get(&row, 0)
    }

    /// The id of the newest plan of data day `day`.
    async fn plan_of(&self, day: Day) -> String {
        let row = sqlx::query(
            "SELECT id FROM live_plans WHERE data_day = $1 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(i64::from(day.0))
        .fetch_one(self.t.store.pool())
        .await
        .unwrap();
        sqlx::Row::get(&row, 0)
    }

    /// Multiplies the stored target of one symbol of plan `id` by 1.5 (what the plan says it
    /// computed is no longer what its inputs give); returns the symbol.
    async fn tamper(&self, id: &str) -> String {
        let pool = self.t.store.pool();
        let row = sqlx::query("SELECT body FROM live_plans WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
        let mut body: serde_json::Value =
            serde_json::from_str(&sqlx::Row::get::<String, _>(&row, 0)).unwrap();
        let targets = body["targets"].as_object_mut().unwrap();
        let k = targets.keys().next().unwrap().clone();
        let v = targets[&k].as_f64().unwrap();
        targets.insert(k.clone(), serde_json::json!(v * 1.5));
        sqlx::query("UPDATE live_plans SET body = $1 WHERE id = $2")
            .bind(body.to_string())
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
        k
    }
}

fn check<'a>(r: &'a ParityReport, name: &str) -> &'a ParityCheck {
    r.checks.iter().find(|c| c.name == name).unwrap()
}

// --- 1. positions_vs_backtest --------------------------------------------------------------------

/// Clean: the live book is the backtest's. Then positions are changed by hand (bought with cash
/// at the mark, so equity stays) by 0.02 of equity each in enough symbols to move the book by
/// ~8% of its gross, and the day's cycle is run again: 0.02 is inside the 0.03 threshold, so
/// the plan holds the changed weights, and the check fails by the hand-computed distance;
/// with the tolerance raised above it the check holds.
#[tokio::test]
async fn positions_vs_backtest_holds_then_fails_after_a_manual_change() {
    let h = history("parity_positions", 12).await;
    let clean = h.report(ReportRequest::default()).await;
    let c = check(&clean, "positions_vs_backtest");
    let v0 = c.value.unwrap();
    eprintln!("clean positions check: {c:?}");
    assert!(c.ok && v0 <= 0.05, "{c:?}");
    assert_eq!(c.limit, Some(0.05));

    let last = *h.days.last().unwrap();
    let plan = h.live.plan(&h.plan_of(last).await).await.unwrap();
    // Regression: the last plan flips a long the paper venue cannot short; its line is dropped
    // and the account keeps the long, as the backtest does. The check once counted the plan's
    // intended short and failed this clean history (0.053).
    let dropped = plan
        .lines
        .iter()
        .find(|l| l.dropped.is_some() && l.new_weight != l.current_weight);
    assert!(
        dropped.is_some(),
        "the synthetic history has a dropped flip"
    );
    let gross: f64 = plan.lines.iter().map(|l| l.new_weight.abs()).sum();
    assert!(gross > 0.1, "a book to compare: gross {gross}");
    // Held positions the day's plan traded to their target (or already held there): +0.02
    // keeps them 0.02 from the target, inside the threshold, on the same side.
    let mut candidates: Vec<_> = plan
        .lines
        .iter()
        .filter(|l| l.dropped.is_none() && l.new_weight != 0.0)
        .filter(|l| (l.new_weight - l.target_weight).abs() < 0.005)
        .collect();
    candidates.sort_by(|a, b| b.new_weight.abs().total_cmp(&a.new_weight.abs()));
    let step = 0.02;
    let k = ((0.08 * gross / step).ceil() as usize).max(3);
    assert!(
        candidates.len() >= k,
        "{} candidates, {k} needed (gross {gross})",
        candidates.len()
    );
    let account = h.paper_account().await;
    let equity = h.live.broker().account().await.unwrap().equity;
    let pool = h.t.store.pool();
    let mut changed = Vec::new();
    for l in candidates.iter().take(k) {
        let du = l.new_weight.signum() * step * equity / l.mark_price;
        sqlx::query(
            "UPDATE paper_positions SET units = units + $1 WHERE account = $2 AND symbol = $3",
        )
        .bind(du)
        .bind(&account)
        .bind(&l.symbol)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("UPDATE paper_accounts SET cash = cash - $1 WHERE name = $2")
            .bind(du * l.mark_price)
            .bind(&account)
            .execute(pool)
            .await
            .unwrap();
        changed.push(l.symbol.clone());
    }
    let after = h.live.broker().account().await.unwrap().equity;
    assert!(
        (after - equity).abs() < 1e-6 * equity,
        "a trade at the mark keeps equity"
    );
    // The day's cycle again, two minutes later: the same data, the changed account.
    let id = cycle_on(&h.live, &h.clock, last, 120_000).await;
    let replan = h.live.plan(&id).await.unwrap();
    for s in &changed {
        let l = replan.lines.iter().find(|l| &l.symbol == s).unwrap();
        assert_eq!(l.action, "hold", "{l:?}");
        let before = plan.lines.iter().find(|x| &x.symbol == s).unwrap();
        assert_eq!(l.new_weight, l.current_weight);
        assert!(
            (l.new_weight.abs() - before.new_weight.abs() - step).abs() < 2e-3,
            "{s}: {} -> {}",
            before.new_weight,
            l.new_weight
        );
    }

    let r = h.report(ReportRequest::default()).await;
    let c = check(&r, "positions_vs_backtest");
    let v = c.value.unwrap();
    // Each changed weight moved 0.02 away from a live weight within v0 of the backtest's:
    // the distance grew by k × 0.02 / gross, give or take the clean distance.
    let moved = k as f64 * step / gross;
    eprintln!("after the manual change of {k} symbols: {c:?} (expected {v0:.4} + {moved:.4})");
    assert!(!c.ok, "{c:?}");
    assert!(
        (v - v0 - moved).abs() <= 2.0 * v0 + 5e-3,
        "{v} vs {v0} + {moved}"
    );
    assert!(v > 0.05);
    assert!(c.detail.contains(&replan.summary.id), "{}", c.detail);
    assert!(server::commands::parity::has_findings(&r));

    // The user's tolerance is the limit.
    let r = h
        .report(ReportRequest {
            tolerance: Some(v + 0.01),
            ..Default::default()
        })
        .await;
    let c = check(&r, "positions_vs_backtest");
    assert!(c.ok, "{c:?}");
    assert_eq!(c.limit, Some(v + 0.01));
    assert_eq!(c.value, Some(v));
}

// --- 2. parameter_audit ----------------------------------------------------------------------------

#[tokio::test]
async fn parameter_audit_names_the_one_differing_parameter() {
    let h = history("parity_params", 3).await;
    let mut v: serde_json::Value =
        serde_json::from_str(shared::config::DEFAULT_CONFIG_JSON).unwrap();
    assert_eq!(v["params"]["adf"]["adf_window"], 60);
    v["params"]["adf"]["adf_window"] = 45.into();
    let differing = Config::from_value(&v).unwrap();
    let r = h
        .report(ReportRequest {
            backtest_config: Some((differing, "adf45.json".into())),
            ..Default::default()
        })
        .await;
    let c = check(&r, "parameter_audit");
    assert!(!c.ok, "{c:?}");
    assert_eq!(c.value, Some(1.0));
    assert!(
        c.detail.contains("adf.adf_window: live 60, backtest 45"),
        "{}",
        c.detail
    );
    assert!(c.detail.contains("adf45.json"), "{}", c.detail);
    assert!(server::commands::parity::has_findings(&r));

    let same = Config::lockstep_default().unwrap();
    let r = h
        .report(ReportRequest {
            backtest_config: Some((same, "same.json".into())),
            ..Default::default()
        })
        .await;
    let c = check(&r, "parameter_audit");
    assert!(c.ok, "{c:?}");
    assert_eq!(c.value, Some(0.0));
    assert!(c.detail.contains("agree on all"), "{}", c.detail);
}

// --- 3. signal_consistency -------------------------------------------------------------------------

#[tokio::test]
async fn signal_consistency_checks_the_chosen_date() {
    let h = history("parity_signals", 4).await;
    let day = h.days[1];
    let id = h.plan_of(day).await;
    let req = |d: Day| ReportRequest {
        date: Some(d),
        ..Default::default()
    };
    let r = h.report(req(day)).await;
    let c = check(&r, "signal_consistency");
    assert!(c.ok, "{c:?}");
    assert_eq!(c.value, Some(0.0));
    assert!(
        c.detail.starts_with(&format!("plan {id} ({day})")),
        "{}",
        c.detail
    );
    assert_eq!(r.alarms, 0);

    // A day without a plan (the day before the first).
    let before = Day(h.days[0].0 - 1);
    let r = h.report(req(before)).await;
    let c = check(&r, "signal_consistency");
    assert!(!c.ok, "{c:?}");
    assert_eq!(
        c.detail,
        format!("no live plan has data day {before}: nothing to check")
    );

    // The chosen day's plan tampered: an alarm; other days are still checked clean.
    let symbol = h.tamper(&id).await;
    let r = h.report(req(day)).await;
    assert_eq!(r.alarms, 1);
    let c = check(&r, "signal_consistency");
    assert!(!c.ok, "{c:?}");
    assert_eq!(c.value, Some(1.0));
    assert!(c.detail.contains("ALARM"), "{}", c.detail);
    let s = r.signals.iter().find(|s| s.plan_id == id).unwrap();
    assert_eq!(s.differences.len(), 1);
    assert_eq!(s.differences[0].symbol, symbol);
    let r = h.report(req(h.days[2])).await;
    assert!(check(&r, "signal_consistency").ok);
    assert_eq!(r.alarms, 1, "the alarm stays in the report");
}

// --- 4. portfolio_value_30d ------------------------------------------------------------------------

/// 36 days: the first 24 traded clean (check holds); then 10% of the equity leaves the paper
/// account as cash and the last 12 days trade: the live return over the last 30 days falls
/// behind the shadow backtest's by about the removed cash over the window's starting equity,
/// and the check fails; with the tolerance above the gap it holds.
#[tokio::test]
async fn portfolio_value_30d_fails_when_equity_leaves_the_account() {
    let mut h = history_with("parity_value", 36, 24).await;
    let all: Vec<Day> = (0..36).map(|i| Day(h.days[0].0 + i)).collect();
    let r = h.report(ReportRequest::default()).await;
    let c = check(&r, "portfolio_value_30d");
    eprintln!("clean value check: {c:?}");
    assert!(c.ok && c.value.unwrap() <= 0.05, "{c:?}");
    let clean = c.value.unwrap();

    let account = h.paper_account().await;
    let equity = h.live.broker().account().await.unwrap().equity;
    let removed = 0.1 * equity;
    sqlx::query("UPDATE paper_accounts SET cash = cash - $1 WHERE name = $2")
        .bind(removed)
        .bind(&account)
        .execute(h.t.store.pool())
        .await
        .unwrap();
    for &day in &all[24..] {
        cycle_on(&h.live, &h.clock, day, 0).await;
        h.days.push(day);
    }
    let r = h.report(ReportRequest::default()).await;
    let c = check(&r, "portfolio_value_30d");
    let v = c.value.unwrap();
    // The window: the first day with live equity from (last − 30) on.
    let live: Vec<(Day, f64)> = r
        .shadow
        .days
        .iter()
        .filter_map(|d| Some((Day::parse(&d.day).ok()?, d.live_equity?)))
        .collect();
    let (last_day, end_equity) = *live.last().unwrap();
    let (first_day, start_equity) = *live.iter().find(|(d, _)| d.0 >= last_day.0 - 30).unwrap();
    let shadow_start = r
        .shadow
        .days
        .iter()
        .find(|d| d.day == first_day.to_string())
        .unwrap()
        .shadow_equity;
    let shadow_end = r.shadow.days.last().unwrap().shadow_equity;
    // The check is the two returns over the window, from the report's own series.
    let by_hand = (end_equity / start_equity - shadow_end / shadow_start).abs();
    assert!((v - by_hand).abs() < 1e-12, "{v} vs {by_hand}");
    // The removed cash is X / S of the window's starting equity S. It does not carry over
    // exactly: the book earned on its full size until the next close, and the threshold
    // policy then keeps the held lines at their old units while the traded ones are sized on
    // the smaller equity. So the gap is X / S give or take the window's growth (here within
    // 20%), and the dollars missing at the end are at most the X taken.
    let share = removed / start_equity;
    eprintln!(
        "after removing {removed:.2} ({:.4} of {start_equity:.2}): {c:?}; missing at the end {:.2}",
        share,
        shadow_end - end_equity
    );
    assert!(!c.ok, "{c:?}");
    assert!((v - share).abs() <= 0.2 * share, "{v} vs {share}");
    assert!(shadow_end - end_equity <= removed * (1.0 + 2.0 * clean) + 1.0);
    assert!(shadow_end - end_equity >= 0.8 * removed);
    let r = h
        .report(ReportRequest {
            tolerance: Some(v + 0.01),
            ..Default::default()
        })
        .await;
    assert!(check(&r, "portfolio_value_30d").ok);
}

// --- the binary --------------------------------------------------------------------------------

fn run_parity(url: &str) -> (i32, ParityReport, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["--database-url", url, "parity", "--json"])
        .env("RUST_LOG", "error")
        .env_remove("LOCKSTEP_LIVE_SETTINGS")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: ParityReport = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), report, stderr)
}

#[tokio::test]
async fn the_binary_exits_0_on_a_clean_store_and_3_after_tampering() {
    let h = history("parity_cli", 5).await;
    let (code, report, stderr) = run_parity(&h.t.url);
    assert_eq!(code, 0, "{:?}\n{stderr}", report.checks);
    assert_eq!(report.checks.len(), 4);
    assert!(report.checks.iter().all(|c| c.ok), "{:?}", report.checks);
    assert_eq!(report.signals.len(), 5);
    assert_eq!(report.from, Some(h.days[0].to_string()));

    let id = h.plan_of(*h.days.last().unwrap()).await;
    h.tamper(&id).await;
    let (code, report, stderr) = run_parity(&h.t.url);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(report.alarms, 1);
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, vec!["signal_consistency"]);
}

/// Regression: before any plan, three of the four checks measured nothing and still said `ok`
/// (a green badge). They are `not_measured` now, in the report and in the binary's JSON, and
/// `ok` stays true for scripts that read only it (exit status 0: nothing was found).
#[tokio::test]
async fn checks_that_measured_nothing_say_not_measured() {
    let h = history("parity_unmeasured", 0).await;
    let r = h.report(ReportRequest::default()).await;
    let statuses: Vec<(&str, &str, bool)> = r
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.status.as_str(), c.ok))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("positions_vs_backtest", "not_measured", true),
            ("parameter_audit", "ok", true),
            ("signal_consistency", "not_measured", true),
            ("portfolio_value_30d", "not_measured", true),
        ]
    );
    let (code, report, stderr) = run_parity(&h.t.url);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report.checks, r.checks);
    // The text report says so too.
    let text = server::commands::parity::render(&r);
    assert!(
        text.contains("1 of 4 checks hold; not measured yet"),
        "{text}"
    );
    assert!(
        text.contains("  not measured positions_vs_backtest"),
        "{text}"
    );
    // With plans every check is measured.
    let h = history("parity_measured", 3).await;
    let r = h.report(ReportRequest::default()).await;
    assert!(r.checks.iter().all(|c| c.status == "ok"), "{:?}", r.checks);
}
