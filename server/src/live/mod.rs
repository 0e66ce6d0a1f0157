//! Live trading: every day, the targets of the last complete day — computed by the same
//! `shared::portfolio::engine::TargetEngine::targets_at` the backtest calls — become a trade
//! plan a person approves, that a broker executes, and that the store records.
//!
//! # The cycle ([`LiveService::run_cycle`])
//! 1. Refresh market data ([`Refresh`], when one is configured; otherwise a logged notice).
//! 2. Refuse if the newest complete UTC day closed more than `max_data_age_hours` ago (the clock
//!    is the server's, [`Clock`]).
//! 3. The panel from the store, cut at the last complete day; `targets_at` with a fresh cache.
//! 4. The broker's account (the paper broker first marks to that day's closes and accrues
//!    funding), then the same [`shared::portfolio::rebalance::RebalancePolicy`] as the backtest,
//!    then a plan ([`plan::build`]): per symbol current/target weight, notional, size rounded to
//!    the venue's size decimals, limit price by its price rules, orders below the venue minimum
//!    dropped with the reason.
//! 5. Risk limits ([`risk::check`]); a violation or the kill switch blocks the plan.
//! 6. The plan is stored with its inputs (config JSON and hash, kernel version, data day,
//!    per-strategy targets and effective weights, inactive strategies and why): [`LiveService::replay`]
//!    recomputes it later.
//!
//! # Plan lifecycle
//! `proposed → approved | rejected | expired`, `approved → executing | expired`,
//! `executing → done | partially_failed | abandoned` ([`status::PlanStatus::can_move_to`], the one
//! table; every move is a compare-and-set in the store).
//! Approving needs a trader (the API's `RequireTrader`) and starts execution at once, in a task
//! the server owns; `auto_approve` (off by default) does it without a person. A proposed or
//! approved plan expires when a newer complete day is in the store, when a newer plan for the
//! same day supersedes it, or `plan_ttl_hours` after it was made. Execution
//! ([`execute`]) holds a lease ([`lease`]), writes every order before sending it and reconciles
//! by client order id first, so a retry, a crash, a second approval or a second process never
//! places an order twice; an interrupted plan is resumed only under the resume rules, otherwise
//! `abandoned`.
//!
//! # Files
//! `cycle` proposes and decides; `execute` sends, resumes and reconciles; `views` reads;
//! `replay` recomputes; `records` and `lease` own the tables; `status` names the words.

pub mod cycle;
pub mod events;
pub mod execute;
pub mod lease;
pub mod plan;
pub mod records;
pub mod replay;
pub mod risk;
pub mod scheduler;
pub mod settings;
pub mod status;
pub mod valuation;
pub mod views;

pub use cycle::{plan_listings, CycleOptions, CycleOutcome};
pub use replay::{plan_differences, recompute_plan, Recomputed, Replay};
pub use settings::LiveSettings;
pub use status::{OrderState, PlanAction, PlanStatus};

use crate::broker::hyperliquid::{HyperliquidBroker, HyperliquidConfig, HyperliquidSigner};
use crate::broker::paper::{PaperBroker, PaperConfig};
use crate::broker::{Broker, BrokerError};
use crate::store::{Store, StoreError};
use shared::config::Config;
use shared::portfolio::engine::TargetEngine;
use std::sync::Arc;

/// Why a live operation failed. `Stale`, `Conflict`, `Blocked`, `KillSwitch` and `NotFound` are
/// answers about the request; `Store`, `Broker` and `Refresh` may pass on retry.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no market data in the store")]
    NoData,
    #[error("market data is stale: the newest complete day {day} closed {age_hours:.1} h ago (limit {max_hours} h)")]
    Stale {
        day: shared::Day,
        age_hours: f64,
        max_hours: f64,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("plan {id} is blocked: {}", reasons.join("; "))]
    Blocked { id: String, reasons: Vec<String> },
    #[error("the kill switch is on: no new orders")]
    KillSwitch,
    #[error("config: {0}")]
    Config(String),
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("stored record is invalid: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for LiveError {
    fn from(e: sqlx::Error) -> Self {
        LiveError::Store(StoreError::Sqlx(e))
    }
}

impl LiveError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LiveError::Store(_)
                | LiveError::Broker(BrokerError::Retryable { .. } | BrokerError::Store(_))
        )
    }
}

/// The server's clock. Tests pass a fixed one; `shared` never reads a clock.
pub trait Clock: Send + Sync {
    /// Unix milliseconds, UTC.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that says what it is told (tests, replays).
#[derive(Debug, Default)]
pub struct FixedClock(pub std::sync::atomic::AtomicI64);

impl FixedClock {
    pub fn new(ms: i64) -> FixedClock {
        FixedClock(std::sync::atomic::AtomicI64::new(ms))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Brings the store's market data up to date (the data refresh, `lockstep fetch`).
#[async_trait::async_trait]
pub trait Refresh: Send + Sync {
    /// Refreshes; returns a one-line summary, or what failed.
    async fn refresh(&self, store: &Store) -> Result<String, String>;
}

/// The live trader: settings, strategy config, broker, clock, and the store it records into.
pub struct LiveService {
    pub store: Arc<Store>,
    pub settings: LiveSettings,
    config: Config,
    config_json: String,
    config_hash: String,
    engine: TargetEngine,
    broker: Arc<dyn Broker>,
    clock: Arc<dyn Clock>,
    refresher: Option<Arc<dyn Refresh>>,
    /// One cycle or execution at a time in this process (across processes: [`lease`]).
    run_lock: Arc<tokio::sync::Mutex<()>>,
    /// This process's name in lease rows ([`lease::process_holder`]).
    holder: String,
    /// Announcements of every state change: the dashboards' event stream and notifications.
    pub hub: Arc<events::Hub>,
}

/// The config's canonical JSON (the predecessor's format, keys sorted) and its version hash.
pub fn config_identity(config: &Config) -> (String, String) {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_string(&config.to_value()).expect("a config serialises");
    let digest = Sha256::digest(json.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    (json, hash)
}

/// The paper broker configured by `settings`, with the config's costs unless overridden.
pub fn paper_broker(store: Arc<Store>, settings: &LiveSettings, config: &Config) -> PaperBroker {
    let p = &settings.paper;
    PaperBroker::new(
        store,
        PaperConfig {
            account: p.account.clone(),
            initial_cash: p.initial_cash,
            costs: shared::sim::Costs {
                fee_bps: p.fee_bps.unwrap_or(config.rebalance.fee_bps),
                slippage_bps: p.slippage_bps.unwrap_or(config.rebalance.slippage_bps),
            },
            min_notional: p.min_notional,
            size_decimals: p.size_decimals,
        },
    )
}

/// The Hyperliquid broker for the live cycle: `venue` (network, host, account, timeouts) signing
/// with `signer`, its send-time slippage cap set to the settings' `max_slippage`, the fraction the
/// plan's limit prices are made with. The broker keeps an order's own limit when it is inside
/// its cap, so the order sent is the order approved and recorded (unless the mark moved since
/// the plan was made: then the tighter of the two). With the broker's own default cap (1 %)
/// under the settings' (2 %), every order went out at a price the plan did not show.
///
/// # Errors
/// [`LiveError::Config`] when the venue configuration is invalid with that cap.
pub fn hyperliquid_broker(
    settings: &LiveSettings,
    mut venue: HyperliquidConfig,
    signer: HyperliquidSigner,
) -> Result<HyperliquidBroker, LiveError> {
    venue.max_slippage = settings.max_slippage;
    HyperliquidBroker::new(venue, signer)
        .map_err(|e| LiveError::Config(format!("the Hyperliquid broker: {e}")))
}

impl LiveService {
    /// A live trader.
    ///
    /// # Errors
    /// The config's strategies do not build, or the settings are invalid.
    pub fn new(
        store: Arc<Store>,
        settings: LiveSettings,
        config: Config,
        broker: Arc<dyn Broker>,
        clock: Arc<dyn Clock>,
    ) -> Result<LiveService, LiveError> {
        settings
            .validate()
            .map_err(|e| LiveError::Config(e.to_string()))?;
        let engine =
            TargetEngine::from_config(&config).map_err(|e| LiveError::Config(e.to_string()))?;
        let (config_json, config_hash) = config_identity(&config);
        Ok(LiveService {
            store,
            settings,
            config,
            config_json,
            config_hash,
            engine,
            broker,
            clock,
            refresher: None,
            run_lock: Arc::new(tokio::sync::Mutex::new(())),
            holder: lease::process_holder(),
            hub: Arc::new(events::Hub::default()),
        })
    }

    /// The default live trader of `lockstep serve`: paper broker, shipped config, system clock.
    ///
    /// # Errors
    /// The shipped config does not build (a bug).
    pub fn paper_default(store: Arc<Store>) -> Result<LiveService, LiveError> {
        let config = Config::lockstep_default().map_err(|e| LiveError::Config(e.to_string()))?;
        let settings = LiveSettings::default();
        let broker = Arc::new(paper_broker(store.clone(), &settings, &config));
        LiveService::new(store, settings, config, broker, Arc::new(SystemClock))
    }

    /// Sends notifications through `notifier` (plans, kill switch, stale data).
    pub fn with_notifier(self, notifier: Arc<crate::notify::Notifier>) -> LiveService {
        self.hub.set_notifier(notifier);
        self
    }

    /// A demo history ([`crate::demo`]) made `done` of `total` days: open pages refresh.
    pub fn demo_progress(&self, done: u32, total: u32) {
        self.hub.demo(done, total, self.clock.now_ms());
        self.hub.portfolio(self.clock.now_ms());
    }

    /// Uses `refresher` as step 1 of every cycle.
    pub fn with_refresher(mut self, refresher: Arc<dyn Refresh>) -> LiveService {
        self.refresher = Some(refresher);
        self
    }

    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The config's version (hash of its canonical JSON).
    pub fn config_version(&self) -> &str {
        &self.config_hash
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// This process's name in lease rows.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn records(&self) -> records::Records<'_> {
        records::Records { store: &self.store }
    }
}
