//! `lockstep live [--dry-run] [--broker paper|hyperliquid] [--config FILE]`: one live cycle, and
//! the wiring `lockstep serve` uses for its scheduled cycle. `lockstep live replay PLAN_ID` and
//! `lockstep live audit [--limit N] [--before X]` read the records (the CLI twins of
//! `GET /api/plans/{id}/replay` and `GET /api/audit`). `lockstep live kill-switch on|off
//! [--reason TEXT]`, `lockstep live reconcile PLAN_ID` and `lockstep live execute PLAN_ID` act
//! without a sign-in, audited.

use super::load_config;
use crate::broker::Broker;
use crate::commands::fetch::{FetchConfig, Fetcher, SourceArgs};
use crate::live::{paper_broker, CycleOptions, LiveService, LiveSettings, Refresh, SystemClock};
use crate::store::Store;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which broker the cycle trades on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BrokerKind {
    /// The simulated account in the store (the default).
    Paper,
    /// Real orders on Hyperliquid (key from the environment; see `broker::hyperliquid`).
    Hyperliquid,
}

/// `lockstep live` options.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveArgs {
    /// Compute and print the plan; store nothing, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value = "paper")]
    pub broker: BrokerKind,
    /// Strategy config (the predecessor's format); default: Lockstep's shipped config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Live settings (JSON: schedule, freshness, risk limits, paper account); default: built in.
    #[arg(long, env = "LOCKSTEP_LIVE_SETTINGS")]
    pub settings: Option<PathBuf>,
    /// Skip the data refresh (step 1) even if the settings ask for it.
    #[arg(long)]
    pub no_refresh: bool,
    /// Print the whole plan (or the replay, the audit page) as JSON instead of the table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Read the records instead of running a cycle.
    #[command(subcommand)]
    pub action: Option<LiveAction>,
}

/// `lockstep live replay|audit`: read-only, no broker is contacted.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum LiveAction {
    /// Recompute a stored plan's targets from its stored inputs and compare them bit for bit;
    /// exits non-zero when they differ.
    Replay {
        /// The plan's id (`lockstep live` prints it; `GET /api/plans` lists them).
        plan_id: String,
    },
    /// Turns the kill switch on (no new orders: an executing plan stops before its next order)
    /// or off. Works without signing in — directly on the database, for a trader locked out of
    /// the web — and is audited as `cli:<OS user>`.
    KillSwitch {
        #[arg(value_enum)]
        state: OnOff,
        /// Why (kept in the audit log and shown on the dashboard).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reconciles a plan by client order id: an interrupted `executing` plan is resumed under
    /// the resume rules or closed `abandoned`; a closed plan's unsettled orders are asked about
    /// and recorded. Contacts the broker given with `--broker`.
    Reconcile {
        /// The plan's id.
        plan_id: String,
    },
    /// Executes an approved plan (or resumes an interrupted `executing` one under the resume
    /// rules) on the broker given with `--broker`, under the execution lease: refused, naming
    /// the holder, while another process (`lockstep serve`, another `lockstep live`) executes.
    Execute {
        /// The plan's id.
        plan_id: String,
    },
    /// The audit log (who did what, when), newest first.
    Audit {
        /// Entries per page (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Only entries older than this: an entry id (the `next:` line of the previous page) or
        /// Unix milliseconds.
        #[arg(long)]
        before: Option<String>,
    },
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// `lockstep serve`'s live-trader options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeLiveArgs {
    /// Broker of the live trader.
    #[arg(
        long = "live-broker",
        env = "LOCKSTEP_LIVE_BROKER",
        value_enum,
        default_value = "paper"
    )]
    pub broker: BrokerKind,
    /// Strategy config of the live trader; default: Lockstep's shipped config.
    #[arg(long = "live-config", env = "LOCKSTEP_LIVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Live settings file (see `lockstep live --settings`).
    #[arg(long = "live-settings", env = "LOCKSTEP_LIVE_SETTINGS")]
    pub settings: Option<PathBuf>,
}

/// The data refresh of step 1: `lockstep fetch` over every configured source.
struct FetchRefresh(Fetcher);

#[async_trait::async_trait]
impl Refresh for FetchRefresh {
    async fn refresh(&self, store: &Store) -> Result<String, String> {
        let today = crate::market_data::source::today_utc();
        let summaries = self.0.run(store, None, today).await?;
        Ok(summaries
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "))
    }
}

fn load_settings(path: Option<&Path>) -> anyhow::Result<LiveSettings> {
    match path {
        Some(p) => Ok(LiveSettings::from_file(p)?),
        None => Ok(LiveSettings::default()),
    }
}

/// Builds the live trader for `store`.
///
/// # Errors
/// Unreadable config or settings; a Hyperliquid broker without its key.
pub fn build(
    store: Arc<Store>,
    broker: BrokerKind,
    config: Option<&Path>,
    settings: Option<&Path>,
    sources: Option<&SourceArgs>,
) -> anyhow::Result<LiveService> {
    let config = load_config(config)?;
    let settings = load_settings(settings)?;
    let broker: Arc<dyn Broker> = match broker {
        BrokerKind::Paper => Arc::new(paper_broker(store.clone(), &settings, &config)),
        BrokerKind::Hyperliquid => {
            use crate::broker::hyperliquid::{HyperliquidConfig, HyperliquidSigner};
            let venue = HyperliquidConfig::from_env().context("the Hyperliquid broker")?;
            // One slippage setting: the plan's limit prices and the broker's cap must agree.
            let env_cap = std::env::var("HYPERLIQUID_MAX_SLIPPAGE").unwrap_or_default();
            if !env_cap.trim().is_empty() && venue.max_slippage != settings.max_slippage {
                anyhow::bail!(
                    "HYPERLIQUID_MAX_SLIPPAGE={} differs from the live settings' max_slippage {}: \
                     the plan's limit prices would not be the prices sent; set max_slippage in \
                     the live settings only",
                    env_cap.trim(),
                    settings.max_slippage
                );
            }
            let signer = HyperliquidSigner::from_env().context("the Hyperliquid broker")?;
            Arc::new(
                crate::live::hyperliquid_broker(&settings, venue, signer)?
                    .with_funding_store(store.clone()),
            )
        }
    };
    let refresh = settings.refresh;
    let mut live = LiveService::new(store, settings, config, broker, Arc::new(SystemClock))?;
    if let (true, Some(args)) = (refresh, sources) {
        live = live.with_refresher(Arc::new(FetchRefresh(Fetcher::new(
            FetchConfig::from_args(args),
        ))));
    }
    Ok(live)
}

/// The notifier of the settings' `notify` section, its secrets from the environment.
///
/// # Errors
/// A configured channel whose environment variable is missing, or invalid settings.
pub fn notifier(
    store: Arc<Store>,
    settings: &LiveSettings,
    default_public_url: Option<&str>,
) -> anyhow::Result<Arc<crate::notify::Notifier>> {
    let n = crate::notify::Notifier::new(store, &settings.notify, default_public_url, &|k| {
        std::env::var(k).ok()
    })
    .map_err(|e| anyhow::anyhow!("live settings: {e}"))?;
    if n.is_enabled() {
        tracing::info!(channels = ?n.channels(), "notifications on");
    }
    Ok(Arc::new(n))
}

/// Runs one cycle and prints the plan.
///
/// # Errors
/// Stale or missing data, broker or store failures.
pub async fn run(store: Store, args: &LiveArgs) -> anyhow::Result<()> {
    let store = Arc::new(store);
    if let Some(LiveAction::KillSwitch { state, reason }) = &args.action {
        let live = build(
            store.clone(),
            BrokerKind::Paper,
            args.config.as_deref(),
            args.settings.as_deref(),
            None,
        )?;
        let notify = notifier(store.clone(), &live.settings, None)?;
        let live = live.with_notifier(notify.clone());
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let k = live
            .set_kill_switch(
                *state == OnOff::On,
                &format!("cli:{user}"),
                reason.as_deref(),
            )
            .await?;
        if notify.is_enabled() && !notify.flush(std::time::Duration::from_secs(60)).await {
            eprintln!("note: some notifications were still being retried when the command ended");
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&k)?);
        } else {
            println!(
                "kill switch {}{}",
                if k.active { "ON: no new orders" } else { "off" },
                k.reason.map(|r| format!(" ({r})")).unwrap_or_default()
            );
        }
        return Ok(());
    }
    if let Some(LiveAction::Reconcile { plan_id } | LiveAction::Execute { plan_id }) = &args.action
    {
        let live = build(
            store.clone(),
            args.broker,
            args.config.as_deref(),
            args.settings.as_deref(),
            None,
        )?;
        let mut p = match &args.action {
            Some(LiveAction::Execute { .. }) => live.execute(plan_id, "cli").await?,
            _ => live.reconcile(plan_id, "cli").await?,
        };
        // A plan `lockstep demo` made says so, here as on the dashboard.
        crate::demo::label_plans(&store, &live.settings.paper.account, &mut [&mut p.summary])
            .await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&p)?);
        } else {
            print!("{}", render_plan(&p));
        }
        return Ok(());
    }
    if let Some(action) = &args.action {
        // Reading records needs no venue: the paper broker is only constructed, never asked.
        let live = build(
            store,
            BrokerKind::Paper,
            args.config.as_deref(),
            args.settings.as_deref(),
            None,
        )?;
        return read_records(&live, action, args.json).await;
    }
    let live = build(
        store.clone(),
        args.broker,
        args.config.as_deref(),
        args.settings.as_deref(),
        (!args.no_refresh).then_some(&args.sources),
    )?;
    let notify = notifier(store.clone(), &live.settings, None)?;
    let live = live.with_notifier(notify.clone());
    let out = live
        .run_cycle(&CycleOptions {
            dry_run: args.dry_run,
            actor: "cli".into(),
        })
        .await;
    // A one-shot command waits for its messages (sent or failed, each recorded) before it exits.
    if notify.is_enabled() && !notify.flush(std::time::Duration::from_secs(180)).await {
        eprintln!("note: some notifications were still being retried when the command ended");
    }
    let out = out?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out.plan)?);
    } else {
        print!("{}", render_plan(&out.plan));
    }
    for n in &out.notes {
        eprintln!("note: {n}");
    }
    for id in &out.expired {
        eprintln!("expired: {id}");
    }
    let total: f64 = out.timings.iter().map(|(_, t)| t).sum();
    let steps: Vec<String> = out
        .timings
        .iter()
        .map(|(s, t)| format!("{s} {t:.1} ms"))
        .collect();
    eprintln!("cycle: {total:.1} ms ({})", steps.join(", "));
    Ok(())
}

async fn read_records(live: &LiveService, action: &LiveAction, json: bool) -> anyhow::Result<()> {
    match action {
        LiveAction::Replay { plan_id } => {
            let r = live
                .replay(plan_id)
                .await
                .with_context(|| format!("replaying plan {plan_id}"))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "plan_id": r.plan_id,
                        "identical": r.identical,
                        "kernel_version_matches": r.kernel_version_matches,
                        "kernel_version": shared::KERNEL_VERSION,
                        "differences": r.differences,
                    })
                );
            } else {
                for d in &r.differences {
                    println!("  {d}");
                }
                if !r.kernel_version_matches {
                    println!(
                        "  note: the plan was made by another kernel version (this is {})",
                        shared::KERNEL_VERSION
                    );
                }
            }
            anyhow::ensure!(
                r.identical,
                "plan {plan_id} does not replay identically: {} difference(s)",
                r.differences.len()
            );
            if !json {
                println!(
                    "plan {plan_id} replays identically (kernel {})",
                    shared::KERNEL_VERSION
                );
            }
        }
        LiveAction::KillSwitch { .. }
        | LiveAction::Reconcile { .. }
        | LiveAction::Execute { .. } => {
            unreachable!("handled before the records are read")
        }
        LiveAction::Audit { limit, before } => {
            let page = live.audit_page(*limit, before.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
                return Ok(());
            }
            for e in &page.entries {
                let at = shared::Day(e.at.div_euclid(86_400_000) as i32);
                let ms = e.at.rem_euclid(86_400_000);
                println!(
                    "{at} {:02}:{:02}:{:02}Z  {:<12} {:<18} {:<28} {}",
                    ms / 3_600_000,
                    ms / 60_000 % 60,
                    ms / 1000 % 60,
                    e.actor,
                    e.action,
                    e.subject.as_deref().unwrap_or("-"),
                    e.detail.as_deref().unwrap_or("")
                );
            }
            if let Some(next) = &page.next_before {
                println!("next: --before {next}");
            }
        }
    }
    Ok(())
}

/// The line every text output prints above a simulated paper history (`lockstep demo`'s).
pub const SIMULATED_LABEL: &str = "SIMULATED paper history (lockstep demo), not real trading";

/// The plan as `lockstep live` prints it: header, strategies, one row per line that trades, the
/// count of lines held, risk checks and block reasons. A row's last column says why the line
/// was dropped and what the trader should know about its order (e.g. the dust an exit leaves):
/// both matter before approving.
pub fn render_plan(p: &app::api::PlanDetail) -> String {
    use std::fmt::Write;
    let s = &p.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan {} [{}] on {} for {} — equity ${:.2}, config {}, kernel {}, policy {}",
        s.id,
        s.status,
        s.broker,
        s.data_day,
        s.equity,
        p.config_version,
        p.kernel_version,
        p.policy
    );
    if s.simulated {
        let _ = writeln!(out, "  {SIMULATED_LABEL}");
    }
    for st in &p.strategies {
        let a = &st.allocation;
        let _ = match &a.inactive_reason {
            None => writeln!(
                out,
                "  strategy {:<20} weight {:.4} → {:.4}",
                a.name, a.configured_weight, a.effective_weight
            ),
            Some(r) => writeln!(
                out,
                "  strategy {:<20} weight {:.4} → inactive: {r}",
                a.name, a.configured_weight
            ),
        };
    }
    let _ = writeln!(
        out,
        "  {:<10} {:>9} {:>9} {:>9} {:>14} {:>16} {:>12}  note",
        "symbol", "current", "target", "new", "notional", "size", "limit"
    );
    for l in p.lines.iter().filter(|l| l.action != "hold") {
        let remarks: Vec<&str> = [l.dropped.as_deref(), l.note.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let _ = writeln!(
            out,
            "  {:<10} {:>9.4} {:>9.4} {:>9.4} {:>14.2} {:>16} {:>12}  {}",
            l.symbol,
            l.current_weight,
            l.target_weight,
            l.new_weight,
            l.notional,
            l.size,
            l.limit_price,
            remarks.join("; ")
        );
    }
    let held = p
        .lines
        .iter()
        .filter(|l| l.action == app::api::PlanAction::Hold)
        .count();
    let _ = writeln!(
        out,
        "  {held} symbol(s) within the rebalance band: no trade"
    );
    for c in &p.risk.checks {
        let _ = writeln!(
            out,
            "  risk {:<22} {:>12.4} / {:<12.4} {} {}",
            c.name,
            c.value,
            c.limit,
            if c.ok { "ok" } else { "BLOCKS" },
            c.detail
        );
    }
    for r in &s.block_reasons {
        let _ = writeln!(out, "  BLOCKED: {r}");
    }
    out
}
