//! A first start that shows the product: `lockstep demo [--days 90]` and the Trades page's demo
//! button run **the live cycle itself** ([`LiveService::run_cycle`]) day by day over the last N
//! days of the stored data, on the paper broker, with auto-approval, so the Portfolio, Trades
//! and Parity pages have something true to show: real plans from real kernels on real closes,
//! filled by the paper venue's cost model.
//!
//! What it is not is real trading, and it says so everywhere it appears: each run is recorded
//! in `demo_runs` (`migrations/0111_demo_runs.sql`) with the simulated time of its last cycle,
//! and every paper plan made at or before that time is labelled simulated (plans, portfolio,
//! parity report, CLI). It never runs against a real broker (the broker is built here, always
//! paper), never over existing live history (a store with plans is refused), never while the
//! kill switch is on, and never sends notifications.

use crate::live::{paper_broker, CycleOptions, FixedClock, LiveError, LiveService, LiveSettings};
use crate::store::Store;
use app::api::DemoRun;
use shared::config::Config;
use shared::Day;
use sqlx::Row;
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

/// The default length of a demo history.
pub const DEFAULT_DAYS: u32 = 90;
/// The longest demo history.
pub const MAX_DAYS: u32 = 1000;

/// Why a demo did not run (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The store already holds live history; the demo would mix simulated days into it.
    #[error("the store already holds {0} live plan(s): the demo only fills an empty history (use a fresh database)")]
    NotEmpty(i64),
    #[error("the kill switch is on: turn it off before running the demo")]
    KillSwitch,
    #[error("no market data in the store: import or fetch data first")]
    NoData,
    #[error("{0}")]
    BadRequest(String),
    /// Another demo is running in this process.
    #[error("a demo is already running")]
    Running,
    #[error("the demo's cycle for {day} failed: {source}")]
    Cycle { day: Day, source: LiveError },
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("store: {0}")]
    StoreErr(#[from] crate::store::StoreError),
}

/// One demo at a time in a process (the cycle's own lock is per service); a background run
/// holds it (an owned guard) until it ends.
static RUNNING: std::sync::LazyLock<Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Mutex::new(())));

/// The demo's live trader: the given config, the settings with auto-approval on, no schedule,
/// no refresh, no notifications, always the paper broker, on `clock`.
fn demo_service(
    store: Arc<Store>,
    config: Config,
    settings: &LiveSettings,
    clock: Arc<FixedClock>,
) -> Result<LiveService, LiveError> {
    let mut s = settings.clone();
    s.auto_approve = true;
    s.scheduler = false;
    s.refresh = false;
    s.notify = Default::default();
    let broker = Arc::new(paper_broker(store.clone(), &s, &config));
    LiveService::new(store, s, config, broker, clock)
}

/// What a demo would cover: its first and last data day, checked against the store (`days`
/// is clamped to the stored days after the first).
///
/// # Errors
/// No data, a bad day count, live history present, the kill switch on.
pub async fn plan_run(
    store: &Store,
    config: &Config,
    days: u32,
) -> Result<(Day, Day, u32), DemoError> {
    if days == 0 || days > MAX_DAYS {
        return Err(DemoError::BadRequest(format!(
            "days: 1 to {MAX_DAYS}, got {days}"
        )));
    }
    let plans: i64 = sqlx::query("SELECT COUNT(*) FROM live_plans")
        .fetch_one(store.pool())
        .await?
        .try_get(0)?;
    if plans > 0 {
        return Err(DemoError::NotEmpty(plans));
    }
    let kill: Option<i64> =
        sqlx::query("SELECT active FROM live_switches WHERE name = 'kill_switch'")
            .fetch_optional(store.pool())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
    if kill.unwrap_or(0) != 0 {
        return Err(DemoError::KillSwitch);
    }
    let Some((_, panel)) = store.panel().await? else {
        return Err(DemoError::NoData);
    };
    // The strategies read what history there is before the first simulated day (the live
    // cycle does the same on a young store); at least one day must precede it.
    shared::portfolio::engine::TargetEngine::from_config(config)
        .map_err(|e| DemoError::BadRequest(format!("config: {e}")))?;
    let room = panel.n_days().saturating_sub(1) as u32;
    if room == 0 {
        return Err(DemoError::BadRequest(format!(
            "the store holds {} day(s) of data; the demo needs at least 2",
            panel.n_days()
        )));
    }
    let days = days.min(room);
    let last = panel.end();
    Ok((Day(last.0 - days as i32 + 1), last, days))
}

/// Records a run starting; returns it.
async fn start_row(
    store: &Store,
    actor: &str,
    account: &str,
    first: Day,
    last: Day,
    days: u32,
) -> Result<DemoRun, DemoError> {
    let now = crate::live::Clock::now_ms(&crate::live::SystemClock);
    let id = crate::live::records::new_id("demo", now);
    sqlx::query(
        "INSERT INTO demo_runs (id, started_at, created_by, account, first_day, last_day, days, days_done, plans, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 'running')",
    )
    .bind(id.clone())
    .bind(now)
    .bind(actor.to_string())
    .bind(account.to_string())
    .bind(i64::from(first.0))
    .bind(i64::from(last.0))
    .bind(i64::from(days))
    .execute(store.pool())
    .await?;
    Ok(DemoRun {
        id,
        status: "running".into(),
        started_at: now,
        finished_at: None,
        created_by: actor.into(),
        account: account.into(),
        first_day: first.to_string(),
        last_day: last.to_string(),
        days,
        days_done: 0,
        plans: 0,
        error: None,
        cutoff_at: None,
    })
}

async fn update_row(store: &Store, run: &DemoRun) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE demo_runs SET days_done = $1, plans = $2, status = $3, error = $4, cutoff_at = $5, finished_at = $6 WHERE id = $7",
    )
    .bind(i64::from(run.days_done))
    .bind(i64::from(run.plans))
    .bind(run.status.clone())
    .bind(run.error.clone())
    .bind(run.cutoff_at)
    .bind(run.finished_at)
    .bind(run.id.clone())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Runs a demo of `days` days as `actor` with `config` and `settings` (the live trader's):
/// one live cycle per day, each at one hour after that day's close on a simulated clock,
/// auto-approved and filled on the paper account. `on_day(done, total)` is called after each.
///
/// # Errors
/// See [`DemoError`]; a cycle that fails ends the run `failed` with its error recorded (the
/// days before it stay, labelled).
pub async fn run(
    store: Arc<Store>,
    config: Config,
    settings: &LiveSettings,
    days: u32,
    actor: &str,
    on_day: &(dyn Fn(u32, u32) + Send + Sync),
) -> Result<DemoRun, DemoError> {
    let _one = RUNNING.try_lock().map_err(|_| DemoError::Running)?;
    let (first, last, days) = plan_run(&store, &config, days).await?;
    let run = start_row(&store, actor, &settings.paper.account, first, last, days).await?;
    continue_run(store, config, settings, run, on_day).await
}

/// Starts a demo in the background (the API's button); returns the run as recorded at its
/// start. Checks happen before it returns, so a refused demo is an answer, not a log line.
///
/// # Errors
/// As [`run`], before anything ran.
pub async fn spawn(
    store: Arc<Store>,
    config: Config,
    settings: LiveSettings,
    days: u32,
    actor: &str,
    on_day: Arc<dyn Fn(u32, u32) + Send + Sync>,
) -> Result<DemoRun, DemoError> {
    let guard = RUNNING
        .clone()
        .try_lock_owned()
        .map_err(|_| DemoError::Running)?;
    let (first, last, days) = plan_run(&store, &config, days).await?;
    let run = start_row(&store, actor, &settings.paper.account, first, last, days).await?;
    let started = run.clone();
    tokio::spawn(async move {
        let _one = guard;
        match continue_run(store, config, &settings, run, &*on_day).await {
            Ok(r) => tracing::info!(plans = r.plans, days = r.days_done, "demo history done"),
            Err(e) => tracing::error!(error = %e, "demo history failed"),
        }
    });
    Ok(started)
}

async fn continue_run(
    store: Arc<Store>,
    config: Config,
    settings: &LiveSettings,
    mut run: DemoRun,
    on_day: &(dyn Fn(u32, u32) + Send + Sync),
) -> Result<DemoRun, DemoError> {
    let first = Day::parse(&run.first_day).map_err(|e| DemoError::BadRequest(e.to_string()))?;
    let clock = Arc::new(FixedClock::new(0));
    let live = demo_service(store.clone(), config, settings, clock.clone())?;
    let opts = CycleOptions {
        dry_run: false,
        actor: "demo".into(),
    };
    for k in 0..run.days {
        let day = Day(first.0 + k as i32);
        let at = (i64::from(day.0) + 1) * DAY_MS + 3_600_000;
        clock.set(at);
        // The label must cover a day's plan before anyone can see it.
        run.cutoff_at = Some(at);
        update_row(&store, &run).await?;
        match live.run_cycle(&opts).await {
            Ok(_) => run.plans += 1,
            Err(e) => {
                run.status = "failed".into();
                run.error = Some(format!("{day}: {e}"));
                run.finished_at = Some(crate::live::Clock::now_ms(&crate::live::SystemClock));
                update_row(&store, &run).await?;
                return Err(DemoError::Cycle { day, source: e });
            }
        }
        run.days_done = k + 1;
        update_row(&store, &run).await?;
        on_day(run.days_done, run.days);
    }
    run.status = "done".into();
    run.finished_at = Some(crate::live::Clock::now_ms(&crate::live::SystemClock));
    update_row(&store, &run).await?;
    Ok(run)
}

/// Every demo run, newest first.
///
/// # Errors
/// Database failure.
pub async fn runs(store: &Store) -> Result<Vec<DemoRun>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, status, started_at, finished_at, created_by, account, first_day, last_day, days, days_done, plans, error, cutoff_at \
         FROM demo_runs ORDER BY started_at DESC, id DESC",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let day = |i: usize| -> Result<String, sqlx::Error> {
                Ok(Day(r.try_get::<i64, _>(i)? as i32).to_string())
            };
            Ok(DemoRun {
                id: r.try_get(0)?,
                status: r.try_get(1)?,
                started_at: r.try_get(2)?,
                finished_at: r.try_get(3)?,
                created_by: r.try_get(4)?,
                account: r.try_get(5)?,
                first_day: day(6)?,
                last_day: day(7)?,
                days: r.try_get::<i64, _>(8)? as u32,
                days_done: r.try_get::<i64, _>(9)? as u32,
                plans: r.try_get::<i64, _>(10)? as u32,
                error: r.try_get(11)?,
                cutoff_at: r.try_get(12)?,
            })
        })
        .collect()
}

/// What of a broker's records is simulated: everything made at or before `cutoff_at` on the
/// paper broker, when a demo ran on its account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    pub cutoff_at: Option<i64>,
    pub runs: Vec<DemoRun>,
}

impl Labels {
    /// The labels for `broker` (`paper` with account `account`; nothing for a real venue).
    ///
    /// # Errors
    /// Database failure.
    pub async fn load(store: &Store, broker: &str, account: &str) -> Result<Labels, sqlx::Error> {
        if broker != "paper" {
            return Ok(Labels::default());
        }
        let runs: Vec<DemoRun> = runs(store)
            .await?
            .into_iter()
            .filter(|r| r.account == account)
            .collect();
        Ok(Labels {
            cutoff_at: runs.iter().filter_map(|r| r.cutoff_at).max(),
            runs,
        })
    }

    /// Whether a record of this broker made at `at` (Unix ms) is simulated.
    pub fn is_simulated(&self, at: i64) -> bool {
        self.cutoff_at.is_some_and(|c| at <= c)
    }

    /// Whether any of this broker's history is simulated.
    pub fn any(&self) -> bool {
        self.cutoff_at.is_some()
    }
}

/// Labels `plans` of the server's paper account as simulated where a demo made them.
///
/// # Errors
/// Database failure.
pub async fn label_plans(
    store: &Store,
    paper_account: &str,
    plans: &mut [&mut app::api::PlanSummary],
) -> Result<(), sqlx::Error> {
    let labels = Labels::load(store, "paper", paper_account).await?;
    for p in plans.iter_mut() {
        p.simulated = p.broker == "paper" && labels.is_simulated(p.created_at);
    }
    Ok(())
}
