//! `lockstep demo [--days 90]`: a simulated paper history for a first start (see
//! [`crate::demo`]): the live cycle day by day over the last N stored days on the paper
//! broker with auto-approval. Prints a summary, or the run as JSON with `--json`.

use crate::commands::live::{build, BrokerKind};
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;

/// `lockstep demo` options. The config and settings are the live trader's (give the same ones
/// `lockstep serve` uses); the broker is always paper.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Days of history to simulate (the last N days of the stored data).
    #[arg(long, default_value_t = crate::demo::DEFAULT_DAYS)]
    pub days: u32,
    /// The live trader's strategy config; default: Lockstep's shipped config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The live trader's settings file (the paper account, risk limits; see `lockstep live`).
    #[arg(long, env = "LOCKSTEP_LIVE_SETTINGS")]
    pub settings: Option<PathBuf>,
    /// Print the run as JSON (the `GET /api/demo` item) instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs the demo and prints what it made.
///
/// # Errors
/// The store has plans already, no data, the kill switch is on, a cycle failed.
pub async fn run(store: Store, args: &DemoArgs) -> anyhow::Result<()> {
    let store = Arc::new(store);
    // Built like the live trader, on paper whatever the settings say, for its config and settings.
    let live = build(
        store.clone(),
        BrokerKind::Paper,
        args.config.as_deref(),
        args.settings.as_deref(),
        None,
    )?;
    let bar = crate::progress::bar(0, "demo");
    let tick = bar.clone();
    let run = crate::demo::run(
        store.clone(),
        live.config().clone(),
        &live.settings,
        args.days,
        "cli",
        &move |done, total| {
            tick.set_length(u64::from(total));
            tick.set_position(u64::from(done));
        },
    )
    .await;
    bar.finish_and_clear();
    let run = run?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(());
    }
    let equity = crate::live::records::Records { store: &store }
        .equity(Some("paper"))
        .await?;
    println!(
        "SIMULATED paper history (not real trading): {} day(s) {} to {}, {} plan(s) on paper account {:?}",
        run.days_done, run.first_day, run.last_day, run.plans, run.account
    );
    if let (Some(first), Some(last)) = (equity.first(), equity.last()) {
        println!(
            "equity {} → {} ({:+.2}%)",
            crate::notify::message::usd(first.equity),
            crate::notify::message::usd(last.equity),
            (last.equity / first.equity - 1.0) * 100.0
        );
    }
    println!(
        "The dashboard labels this history as simulated; `lockstep parity` compares it with the backtest."
    );
    Ok(())
}
