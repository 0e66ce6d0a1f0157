//! `lockstep demo [--days 90]`: a simulated paper history for a first start (see
//! [`crate::demo`]): the live cycle day by day over the last N stored days on the paper
//! broker with auto-approval. Prints a summary, or the run as JSON with `--json`.

use crate::commands::live::{build, BrokerKind};
use crate::store::Store;
use app::api::{PlanStatus, PlanSummary};
use std::collections::BTreeMap;
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
    let plans = live.plans(i64::from(run.plans)).await?;
    for line in outcome(&plans) {
        println!("{line}");
    }
    println!(
        "The dashboard labels this history as simulated; `lockstep parity` compares it with the backtest."
    );
    Ok(())
}

/// What the demo's plans came to: a count per status and, when none of them traded, why (the
/// risk checks that blocked them, and which setting loosens them). Without that line a demo
/// under tight limits looks like a strategy that never trades: a flat history, no fills.
fn outcome(plans: &[PlanSummary]) -> Vec<String> {
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for p in plans {
        *by_status.entry(p.status.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let mut lines = vec![format!("plans: {}", counts.join(", "))];
    let traded = plans
        .iter()
        .any(|p| matches!(p.status, PlanStatus::Done | PlanStatus::PartiallyFailed));
    let blocked: Vec<&PlanSummary> = plans.iter().filter(|p| p.blocked).collect();
    if !traded && !plans.is_empty() {
        // Reasons read "check: value exceeds the limit …": count plans per check.
        let mut checks: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &blocked {
            let mut names: Vec<&str> = p
                .block_reasons
                .iter()
                .map(|r| r.split(':').next().unwrap_or(r))
                .collect();
            names.dedup();
            for n in names {
                *checks.entry(n).or_default() += 1;
            }
        }
        let why: Vec<String> = checks.iter().map(|(c, n)| format!("{c} in {n}")).collect();
        lines.push(if blocked.is_empty() {
            "No plan executed, so the book stayed flat.".to_string()
        } else {
            format!(
                "No plan executed, so the book stayed flat: {} of {} plan(s) were blocked by the risk limits ({}). \
                 Loosen `risk` in the live settings file (--settings), then run the demo on an empty store.",
                blocked.len(),
                plans.len(),
                why.join(", ")
            )
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(status: PlanStatus, reasons: &[&str]) -> PlanSummary {
        PlanSummary {
            id: "p".into(),
            status,
            broker: "paper".into(),
            created_at: 0,
            data_day: "2025-01-01".into(),
            equity: 100_000.0,
            orders: 3,
            dropped: 0,
            blocked: !reasons.is_empty(),
            block_reasons: reasons.iter().map(|r| r.to_string()).collect(),
            decided_by: None,
            decided_at: None,
            expires_at: 0,
            simulated: true,
        }
    }

    #[test]
    fn a_demo_that_traded_gets_its_counts_only() {
        let plans = [
            plan(PlanStatus::Done, &[]),
            plan(PlanStatus::Done, &[]),
            plan(
                PlanStatus::Expired,
                &["max_daily_turnover: 1.2 exceeds the limit 1.0 (x)"],
            ),
        ];
        assert_eq!(
            outcome(&plans),
            vec!["plans: 2 done, 1 expired".to_string()]
        );
    }

    #[test]
    fn a_demo_where_every_plan_was_blocked_says_which_limits() {
        let gross = "max_gross_leverage: 1.6000 exceeds the limit 1.5000 (gross exposure after trading 1.6000)";
        let weight =
            "max_weight_per_symbol: 0.2500 exceeds the limit 0.2000 (largest: BTC at 0.2500)";
        let plans = [
            plan(PlanStatus::Expired, &[gross, weight]),
            plan(PlanStatus::Expired, &[weight]),
            plan(PlanStatus::Rejected, &[]),
        ];
        let lines = outcome(&plans);
        assert_eq!(lines[0], "plans: 2 expired, 1 rejected");
        assert_eq!(
            lines[1],
            "No plan executed, so the book stayed flat: 2 of 3 plan(s) were blocked by the risk limits \
             (max_gross_leverage in 1, max_weight_per_symbol in 2). Loosen `risk` in the live settings \
             file (--settings), then run the demo on an empty store."
        );
    }
}
