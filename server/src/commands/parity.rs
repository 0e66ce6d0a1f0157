//! `lockstep parity`: the consistency report (see [`crate::parity`]) as tables or JSON.

use crate::commands::live::{build, BrokerKind};
use crate::parity::{self, ReportRequest};
use crate::store::Store;
use anyhow::Context;
use app::api::ParityReport;
use shared::Day;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// `lockstep parity` options. The live side is the trader `lockstep serve` runs: give the same
/// `--broker`, `--config` and `--settings` it was started with.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit status: 0 when every check holds and no plan raised an alarm; 3 when a \
    plan recomputed on the data it saw gives other targets (a signal alarm) or one of the four \
    checks failed; 1 on an error (no data, an unreadable or invalid config, a store failure); 2 \
    on a malformed command line."
)]
pub struct ParityArgs {
    /// First data day of the period (YYYY-MM-DD); default: the first live plan's.
    #[arg(long)]
    pub from: Option<Day>,
    /// Last data day of the period (YYYY-MM-DD); default: the last live plan's.
    #[arg(long)]
    pub to: Option<Day>,
    /// Relative tolerance of the position check and the 30-day value check (0.05 = 5%).
    #[arg(long, default_value_t = parity::DEFAULT_TOLERANCE)]
    pub tolerance: f64,
    /// Data day of the signal-consistency check; default: the newest plan's.
    #[arg(long)]
    pub date: Option<Day>,
    /// The backtest config to audit the live config against; default: the shipped config, as
    /// `lockstep backtest` without `--config`.
    #[arg(long)]
    pub backtest_config: Option<PathBuf>,
    /// Print the report as JSON (the `GET /api/parity` body).
    #[arg(long)]
    pub json: bool,
    /// The live trader's broker.
    #[arg(long, value_enum, default_value = "paper")]
    pub broker: BrokerKind,
    /// The live trader's strategy config; default: Lockstep's shipped config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The live trader's settings file (see `lockstep live --settings`).
    #[arg(long, env = "LOCKSTEP_LIVE_SETTINGS")]
    pub settings: Option<PathBuf>,
}

/// The exit status of a report that found something (1 is an error, 2 a malformed command
/// line: clap's).
pub const FINDINGS_EXIT_CODE: i32 = 3;

/// Whether a report found something: a signal alarm or a failed check.
pub fn has_findings(r: &ParityReport) -> bool {
    r.alarms > 0 || r.checks.iter().any(|c| !c.ok)
}

/// Builds the report and prints it; returns it.
///
/// # Errors
/// Unreadable files, an invalid config (with its JSON path), no data, store failures.
pub async fn run(store: Store, args: &ParityArgs) -> anyhow::Result<ParityReport> {
    let backtest_config = match &args.backtest_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --backtest-config {}", path.display()))?;
            let what = format!("--backtest-config {}", path.display());
            let config = parity::params::parse_backtest_config(&text, &what)?;
            Some((config, path.display().to_string()))
        }
        None => None,
    };
    let live = build(
        Arc::new(store),
        args.broker,
        args.config.as_deref(),
        args.settings.as_deref(),
        None,
    )?;
    let req = ReportRequest {
        from: args.from,
        to: args.to,
        tolerance: Some(args.tolerance),
        date: args.date,
        backtest_config,
        progress: Some(crate::progress::bar(0, "parity")),
    };
    let report = parity::report(&live, &req).await;
    if let Some(bar) = &req.progress {
        bar.finish_and_clear();
    }
    let report = report?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render(&report))?;
    }
    out.flush()?;
    Ok(report)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// How many symbols the text report lists under the gap attribution.
const TOP_SYMBOLS: usize = 10;

/// The report as text: the verdict first, then one section per part.
pub fn render(r: &ParityReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let period = match (&r.from, &r.to) {
        (Some(f), Some(t)) => format!("{f} to {t}"),
        _ => "no live plans yet".into(),
    };
    let _ = writeln!(
        s,
        "Consistency report — broker {}, {period}, kernel {}",
        r.broker, r.kernel_version
    );
    for d in &r.simulated {
        let _ = writeln!(
            s,
            "{}: demo {} on paper account {:?}, {} to {} ({} plan(s))",
            super::live::SIMULATED_LABEL,
            d.id,
            d.account,
            d.first_day,
            d.last_day,
            d.plans
        );
    }
    if let Some(u) = &r.universe {
        let _ = writeln!(s, "Universe: {} ({})", u.summary, u.note);
    }
    for sp in &r.splices {
        let _ = writeln!(
            s,
            "Spliced price series in the period: {} on {} ({} -> {}), close {:+.2} %{}",
            sp.symbol,
            sp.day,
            sp.from_source,
            sp.to_source,
            sp.change * 100.0,
            sp.jump_ratio
                .map(|x| format!(", {x:.1}x its typical daily move"))
                .unwrap_or_default()
        );
    }
    let failed: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    if r.alarms > 0 {
        let _ = writeln!(
            s,
            "ALARM: {} plan(s) recomputed on the data they saw give other targets. The live path \
             and the backtest disagree on the same inputs; this must never happen.",
            r.alarms
        );
    }
    let not_measured: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| !c.is_measured())
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() && r.alarms == 0 && not_measured.is_empty() {
        let _ = writeln!(s, "All four checks hold; no signal alarm.");
    } else if failed.is_empty() && r.alarms == 0 {
        let _ = writeln!(
            s,
            "{} of {} checks hold; not measured yet: {} (nothing to compare). No signal alarm.",
            r.checks.len() - not_measured.len(),
            r.checks.len(),
            not_measured.join(", ")
        );
    } else if !failed.is_empty() {
        let _ = writeln!(s, "Failed checks: {}.", failed.join(", "));
    }

    let _ = writeln!(s, "\nChecks");
    for c in &r.checks {
        let _ = writeln!(
            s,
            "  {:<12} {:<22} {:>10} / {:<8} {}",
            if !c.is_measured() {
                "not measured"
            } else if c.ok {
                "ok"
            } else {
                "FAIL"
            },
            c.name,
            opt(c.value, 4),
            opt(c.limit, 4),
            c.detail
        );
    }

    let _ = writeln!(s, "\nSignal parity ({} plan(s))", r.signals.len());
    if !r.signals.is_empty() {
        let _ = writeln!(
            s,
            "  {:<10} {:<12} {:<12} {:>6} {:>9}  plan",
            "day", "status", "plan status", "diffs", "revisions"
        );
    }
    for p in &r.signals {
        let _ = writeln!(
            s,
            "  {:<10} {:<12} {:<12} {:>6} {:>9}  {}{}",
            p.data_day,
            if p.status == "mismatch" {
                "MISMATCH"
            } else {
                p.status.as_str()
            },
            p.plan_status,
            p.differences.len(),
            p.revisions.len(),
            p.plan_id,
            p.note
                .as_ref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        );
        for d in p.differences.iter().take(10) {
            let _ = writeln!(
                s,
                "      {:<10} planned {:>9.5}  same data {:>9.5}  today {:>9.5}  ({})",
                d.symbol, d.planned, d.same_data, d.today, d.cause
            );
        }
        for v in p.revisions.iter().take(5) {
            let _ = writeln!(
                s,
                "      revised {} {} {}: {} → {} ({})",
                v.symbol,
                v.day,
                v.field,
                opt(v.before, 6),
                opt(v.after, 6),
                v.relative_change
                    .map_or("-".into(), |x| format!("{:+.2}%", x * 100.0))
            );
        }
        if p.revisions.len() > 5 {
            let _ = writeln!(
                s,
                "      ... {} more revised value(s)",
                p.revisions.len() - 5
            );
        }
    }

    let a = &r.parameters;
    let _ = writeln!(
        s,
        "\nParameter audit: live config {} vs backtest config {} ({}): {} of {} differ",
        a.live_config_version,
        a.backtest_config_version,
        a.backtest_config_source,
        a.differing,
        a.rows.len()
    );
    for row in a.rows.iter().filter(|r| !r.same) {
        let show = |v: &Option<serde_json::Value>| {
            v.as_ref().map_or("(absent)".to_string(), |v| v.to_string())
        };
        let _ = writeln!(
            s,
            "  {:<20} {:<24} live {:<16} backtest {}",
            if row.strategy.is_empty() {
                "(portfolio)"
            } else {
                row.strategy.as_str()
            },
            row.key,
            show(&row.live),
            show(&row.backtest)
        );
    }

    let sh = &r.shadow;
    let _ = writeln!(
        s,
        "\nShadow backtest ({}, {} day(s)): live {:+.2}%, shadow {:+.2}%",
        sh.policy,
        sh.days.len(),
        sh.live_return * 100.0,
        sh.shadow_return * 100.0
    );
    let t = &r.attribution.total;
    let _ = writeln!(
        s,
        "Gap attribution (live − shadow, USD): total {:.2} = skipped {:.2} + slippage {:.2} + fees {:.2} + funding {:.2} + other {:.2} + unexplained {:.2}",
        t.total, t.skipped, t.slippage, t.fees, t.funding, t.other, t.unexplained
    );
    if !r.attribution.symbols.is_empty() {
        let _ = writeln!(
            s,
            "  by symbol (the {} that explain most of it; all {} in --json):",
            r.attribution.symbols.len().min(TOP_SYMBOLS),
            r.attribution.symbols.len()
        );
        for g in r.attribution.symbols.iter().take(TOP_SYMBOLS) {
            let p = &g.parts;
            let _ = writeln!(
                s,
                "    {:<10} {:>12.2} = skipped {:.2} + slippage {:.2} + fees {:.2} + funding {:.2} + other {:.2}",
                g.symbol, p.total, p.skipped, p.slippage, p.fees, p.funding, p.other
            );
        }
    }
    let c = &r.costs;
    let _ = writeln!(
        s,
        "Costs: {} fill(s), ${:.2} traded; fee {} bps implied vs {} configured; slippage {} bps implied vs {} configured",
        c.fills,
        c.traded_notional,
        opt(c.implied_fee_bps, 2),
        c.configured_fee_bps,
        opt(c.implied_slippage_bps, 2),
        c.configured_slippage_bps
    );
    if let Some(sug) = &c.suggestion {
        let _ = writeln!(s, "  suggestion: {sug}");
    }
    s
}
