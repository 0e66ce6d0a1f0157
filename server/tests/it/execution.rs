//! Execution you can trust with money (issue #10): the resume rules, approved-plan expiry, the
//! kill switch before every order, unknown outcomes reconciled rather than rejected, the
//! execution lease against a second executor, and a job that outlives its request. A broker
//! wrapper around the paper account injects the faults; the paper account counts orders per
//! client order id, so a duplicate would show.

use server::broker::paper::PaperConfig;
use server::broker::{
    Account, Broker, BrokerError, OrderReport, OrderRequest, Valuation, VenueRule,
};
use server::live::{paper_broker, Clock, FixedClock, LiveService, LiveSettings};
use server::store::testing::{Engine, TestStore};
use server::store::Store;
use shared::config::Config;
use shared::Panel;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{cycle_ms, cycle_options, propose, seed_panel, synth_panel, DAY_MS};

/// What the faulty venue does.
#[derive(Default)]
struct Faults {
    /// Sleep this long in every submit (a slow venue: the job outlives its request).
    delay: Duration,
    /// After this many submits, turn the kill switch on (as a trader would, mid-batch).
    kill_after: Option<usize>,
    /// Submits (1-based) whose order lands but whose answer is lost (timeout after landing).
    lost_answers: Vec<usize>,
}

/// The paper account behind a venue that misbehaves as told.
struct Faulty {
    inner: Arc<dyn Broker>,
    store: Store,
    faults: Faults,
    submits: AtomicUsize,
}

#[async_trait::async_trait]
impl Broker for Faulty {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn account(&self) -> Result<Account, BrokerError> {
        self.inner.account().await
    }
    async fn marks(&self, symbols: &[String]) -> Result<BTreeMap<String, f64>, BrokerError> {
        self.inner.marks(symbols).await
    }
    async fn rules(&self, symbols: &[String]) -> Result<BTreeMap<String, VenueRule>, BrokerError> {
        self.inner.rules(symbols).await
    }
    async fn submit(&self, orders: &[OrderRequest]) -> Result<Vec<OrderReport>, BrokerError> {
        let n = self.submits.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.faults.delay.is_zero() {
            tokio::time::sleep(self.faults.delay).await;
        }
        let reports = self.inner.submit(orders).await?;
        if self.faults.kill_after == Some(n) {
            sqlx::query(
                "INSERT INTO live_switches (name, active, reason, changed_by, changed_at) \
                 VALUES ('kill_switch', 1, 'test', 'test', 0) \
                 ON CONFLICT (name) DO UPDATE SET active = 1",
            )
            .execute(self.store.pool())
            .await
            .unwrap();
        }
        if self.faults.lost_answers.contains(&n) {
            return Err(BrokerError::Retryable {
                venue: "paper",
                message: "timed out after the order was sent".into(),
            });
        }
        Ok(reports)
    }
    async fn reconcile(&self, ids: &[String]) -> Result<Vec<OrderReport>, BrokerError> {
        self.inner.reconcile(ids).await
    }
    async fn account_marked(&self, panel: &Panel, t: usize) -> Result<Account, BrokerError> {
        self.inner.account_marked(panel, t).await
    }
    async fn current_marks(&self, symbols: &[String]) -> Result<Valuation, BrokerError> {
        self.inner.current_marks(symbols).await
    }
    async fn observe_close(
        &self,
        panel: &Panel,
        t: usize,
        persist: bool,
    ) -> Result<(), BrokerError> {
        self.inner.observe_close(panel, t, persist).await
    }
}

struct Rig {
    live: Arc<LiveService>,
    broker: Arc<Faulty>,
    clock: Arc<FixedClock>,
    panel: Panel,
}

/// A store with all but the last synthetic day, a clock an hour after that day closed, and a
/// live service on the faulty paper venue.
async fn rig(t: &TestStore, settings: LiveSettings, faults: Faults) -> Rig {
    let panel = synth_panel(7, 30, 400);
    let n = panel.n_days();
    seed_panel(&t.store, &panel, 0..=n - 2).await;
    let clock = Arc::new(FixedClock::new(cycle_ms(panel.day(n - 2))));
    let (live, broker) = service_on(&t.store, settings, faults, clock.clone());
    Rig {
        live,
        broker,
        clock,
        panel,
    }
}

fn service_on(
    store: &Store,
    settings: LiveSettings,
    faults: Faults,
    clock: Arc<FixedClock>,
) -> (Arc<LiveService>, Arc<Faulty>) {
    let shared_store = Arc::new(store.clone());
    let config = Config::lockstep_default().unwrap();
    let paper = Arc::new(paper_broker(shared_store.clone(), &settings, &config));
    let broker = Arc::new(Faulty {
        inner: paper,
        store: store.clone(),
        faults,
        submits: AtomicUsize::new(0),
    });
    let live = LiveService::new(shared_store, settings, config, broker.clone(), clock).unwrap();
    (Arc::new(live), broker)
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::Row::get(&sqlx::query(sql).fetch_one(store.pool()).await.unwrap(), 0)
}

/// Orders the paper venue holds more than once per client order id (must be 0).
async fn duplicates(store: &Store) -> i64 {
    count(
        store,
        "SELECT COUNT(*) FROM (SELECT client_order_id FROM paper_orders GROUP BY client_order_id HAVING COUNT(*) > 1) d",
    )
    .await
}

async fn force_executing(store: &Store, id: &str) {
    sqlx::query("UPDATE live_plans SET status = 'executing' WHERE id = $1")
        .bind(id.to_string())
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stale_executing_plan_is_abandoned_not_resumed() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "exec_stale").await else {
            continue;
        };
        let r = rig(&t, LiveSettings::default(), Faults::default()).await;
        let plan = r.live.run_cycle(&cycle_options()).await.unwrap().plan;
        assert!(plan.summary.orders > 1);
        // Approved, moved to executing, then the process died before sending anything.
        force_executing(&t.store, &plan.summary.id).await;
        // Two days later, the data day is far past max_data_age_hours: no resume.
        r.clock.set(r.clock.now_ms() + 2 * DAY_MS);
        let err = r.live.execute(&plan.summary.id, "alice").await.unwrap_err();
        assert!(
            err.to_string().contains("abandoned") && err.to_string().contains("closed"),
            "{err}"
        );
        let after = r.live.plan(&plan.summary.id).await.unwrap();
        assert_eq!(after.summary.status, "abandoned");
        assert!(after.note.unwrap().contains("data day"));
        assert_eq!(
            count(&t.store, "SELECT COUNT(*) FROM paper_orders").await,
            0
        );
        assert!(after
            .orders
            .iter()
            .all(|o| o.status == "rejected"
                && o.reason.as_deref().unwrap_or("").contains("abandoned")));
        let audit: Vec<String> = r
            .live
            .audit_log()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.2)
            .collect();
        assert!(audit.contains(&"plan.abandoned".to_string()), "{audit:?}");
    }
}

#[tokio::test]
async fn an_executing_plan_older_than_the_newest_is_abandoned() {
    let t = TestStore::new(Engine::Sqlite, "exec_newer").await.unwrap();
    let r = rig(&t, LiveSettings::default(), Faults::default()).await;
    let old = propose(&r.live).await;
    force_executing(&t.store, &old).await;
    // The next cycle (newer data) closes the interrupted plan instead of leaving it resumable.
    let n = r.panel.n_days();
    seed_panel(&t.store, &r.panel, n - 1..=n - 1).await;
    r.clock.set(cycle_ms(r.panel.day(n - 1)));
    let out = r.live.run_cycle(&cycle_options()).await.unwrap();
    assert!(
        out.notes.iter().any(|n| n.contains(&old)),
        "{:?}",
        out.notes
    );
    assert_eq!(r.live.plan(&old).await.unwrap().summary.status, "abandoned");
    assert!(r.live.execute(&old, "alice").await.is_err());
    assert_eq!(
        count(&t.store, "SELECT COUNT(*) FROM paper_orders").await,
        0
    );
}

#[tokio::test]
async fn approved_plans_expire_with_the_plan_ttl() {
    let t = TestStore::new(Engine::Sqlite, "exec_ttl").await.unwrap();
    let r = rig(&t, LiveSettings::default(), Faults::default()).await;
    let id = propose(&r.live).await;
    // Approved, but its execution never started (the request died first).
    sqlx::query("UPDATE live_plans SET status = 'approved' WHERE id = $1")
        .bind(id.clone())
        .execute(t.store.pool())
        .await
        .unwrap();
    r.clock.set(r.clock.now_ms() + 13 * 3_600_000);
    let err = r.live.execute(&id, "alice").await.unwrap_err();
    assert!(err.to_string().contains("not executed within 12"), "{err}");
    assert_eq!(r.live.plan(&id).await.unwrap().summary.status, "expired");
    assert_eq!(
        count(&t.store, "SELECT COUNT(*) FROM paper_orders").await,
        0
    );
}

#[tokio::test]
async fn the_kill_switch_stops_a_batch_before_its_next_order() {
    let t = TestStore::new(Engine::Sqlite, "exec_kill").await.unwrap();
    let faults = Faults {
        kill_after: Some(2),
        ..Faults::default()
    };
    let r = rig(&t, LiveSettings::default(), faults).await;
    let plan = r.live.run_cycle(&cycle_options()).await.unwrap().plan;
    assert!(plan.summary.orders > 3, "{}", plan.summary.orders);
    let done = r.live.approve(&plan.summary.id, "alice").await.unwrap();
    assert_eq!(done.summary.status, "partially_failed");
    let filled = done.orders.iter().filter(|o| o.status == "filled").count();
    assert_eq!(filled, 2, "exactly the two orders before the switch");
    assert_eq!(
        count(&t.store, "SELECT COUNT(*) FROM paper_orders").await,
        2
    );
    assert!(done
        .orders
        .iter()
        .filter(|o| o.status != "filled")
        .all(|o| o.status == "rejected" && o.reason.as_deref().unwrap().contains("kill switch")));
    assert!(done.note.unwrap().contains("kill switch"));
}

#[tokio::test]
async fn a_lost_answer_is_unknown_then_reconciled_never_rejected_or_resent() {
    let t = TestStore::new(Engine::Sqlite, "exec_unknown")
        .await
        .unwrap();
    let faults = Faults {
        lost_answers: vec![2],
        ..Faults::default()
    };
    let r = rig(&t, LiveSettings::default(), faults).await;
    let plan = r.live.run_cycle(&cycle_options()).await.unwrap().plan;
    let err = r.live.approve(&plan.summary.id, "alice").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let mid = r.live.plan(&plan.summary.id).await.unwrap();
    assert_eq!(mid.summary.status, "executing");
    // The order whose answer was lost landed: the reconciliation after the error found it.
    assert_eq!(
        mid.orders.iter().filter(|o| o.status == "rejected").count(),
        0
    );
    assert_eq!(
        mid.orders.iter().filter(|o| o.status == "filled").count(),
        2,
        "{:?}",
        mid.orders.iter().map(|o| &o.status).collect::<Vec<_>>()
    );
    // The trader's Reconcile resumes it (newest, fresh, within limits): the rest is sent once.
    let done = r.live.reconcile(&plan.summary.id, "alice").await.unwrap();
    assert_eq!(done.summary.status, "done", "{:?}", done.note);
    assert_eq!(duplicates(&t.store).await, 0);
    assert_eq!(
        count(&t.store, "SELECT COUNT(*) FROM paper_orders").await,
        plan.summary.orders as i64
    );
}

#[tokio::test]
async fn a_second_executor_finds_the_lease_and_refuses() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "exec_lease").await else {
            continue;
        };
        let faults = Faults {
            delay: Duration::from_millis(30),
            ..Faults::default()
        };
        let r = rig(&t, LiveSettings::default(), faults).await;
        let plan = r.live.run_cycle(&cycle_options()).await.unwrap().plan;
        // A second process (its own service, its own lease holder) on the same database.
        let (other, _) = service_on(
            &t.store,
            LiveSettings::default(),
            Faults::default(),
            r.clock.clone(),
        );
        sqlx::query("UPDATE live_plans SET status = 'approved' WHERE id = $1")
            .bind(plan.summary.id.clone())
            .execute(t.store.pool())
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            r.live.execute(&plan.summary.id, "alice"),
            other.execute(&plan.summary.id, "bob")
        );
        let (ok, refused) = match (a, b) {
            (Ok(d), Err(e)) | (Err(e), Ok(d)) => (d, e),
            (a, b) => panic!("exactly one executor must win: {a:?} / {b:?}"),
        };
        assert_eq!(ok.summary.status, "done");
        let msg = refused.to_string();
        assert!(
            msg.contains("held by") || msg.contains("is done") || msg.contains("is executing"),
            "{msg}"
        );
        assert_eq!(duplicates(&t.store).await, 0);
        assert_eq!(
            count(&t.store, "SELECT COUNT(*) FROM paper_orders").await,
            plan.summary.orders as i64
        );

        // A live lease held elsewhere (another replica mid-batch) refuses a resume outright.
        force_executing(&t.store, &plan.summary.id).await;
        sqlx::query(
            "INSERT INTO live_leases (name, holder, subject, acquired_at, heartbeat_at, expires_at) \
             VALUES ('execute:paper', 'replica-b', $1, 0, 0, $2)",
        )
        .bind(plan.summary.id.clone())
        .bind(r.clock.now_ms() + 30_000)
        .execute(t.store.pool())
        .await
        .unwrap();
        let err = r.live.execute(&plan.summary.id, "alice").await.unwrap_err();
        assert!(err.to_string().contains("held by replica-b"), "{err}");
        // Once it lapses (the replica crashed), recovery reconciles and sends nothing new.
        r.clock.set(r.clock.now_ms() + 31_000);
        let lines = r.live.recover_interrupted("recovery").await.unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].ends_with("done"), "{lines:?}");
        assert_eq!(duplicates(&t.store).await, 0);
        assert_eq!(
            count(&t.store, "SELECT COUNT(*) FROM paper_orders").await,
            plan.summary.orders as i64
        );
    }
}

#[tokio::test]
async fn the_job_outlives_a_dropped_request() {
    let t = TestStore::new(Engine::Sqlite, "exec_dropped")
        .await
        .unwrap();
    let faults = Faults {
        delay: Duration::from_millis(20),
        ..Faults::default()
    };
    let r = rig(&t, LiveSettings::default(), faults).await;
    let plan = r.live.run_cycle(&cycle_options()).await.unwrap().plan;
    // The request gives up (a proxy timeout) almost at once: the answer is the executing plan.
    let answer = r
        .live
        .approve_in_background(&plan.summary.id, "alice", Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(answer.summary.status, "executing");
    // A request future dropped mid-way does not stop it either.
    let mut status = app::api::PlanStatus::Executing;
    for _ in 0..500 {
        status = r.live.plan(&plan.summary.id).await.unwrap().summary.status;
        if status != app::api::PlanStatus::Executing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "done");
    assert_eq!(
        r.broker.submits.load(Ordering::SeqCst),
        plan.summary.orders,
        "one submit per order"
    );
    assert_eq!(duplicates(&t.store).await, 0);
    let _ = PaperConfig::default();
}

#[tokio::test]
async fn two_schedulers_run_one_cycle_per_day() {
    use server::live::scheduler::claim_cycle;
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "exec_sched").await else {
            continue;
        };
        let r = rig(&t, LiveSettings::default(), Faults::default()).await;
        let (other, _) = service_on(
            &t.store,
            LiveSettings::default(),
            Faults::default(),
            r.clock.clone(),
        );
        // Both replicas wake at run_at_utc on the same day.
        let (a, b) = tokio::join!(
            claim_cycle(&r.live, "replica-a/day1"),
            claim_cycle(&other, "replica-b/day1")
        );
        assert_eq!(
            u8::from(a.unwrap()) + u8::from(b.unwrap()),
            1,
            "exactly one runs the day's cycle"
        );
        // Later the same day (a late clock) the claim still stands.
        r.clock.set(r.clock.now_ms() + 3_600_000);
        assert!(!claim_cycle(&other, "replica-b/day1-late").await.unwrap());
        // The next day the race starts again, and one wins.
        r.clock.set(r.clock.now_ms() + DAY_MS);
        assert!(claim_cycle(&other, "replica-b/day2").await.unwrap());
        assert!(!claim_cycle(&r.live, "replica-a/day2").await.unwrap());
    }
}
