//! `lockstep data status`: the data-quality report of the store, as text or JSON;
//! `lockstep data prefer`: which price source the store keeps when several have the same day.

use crate::store::quality::{self, DEFAULT_STALE_DAYS};
use crate::store::Store;
use anyhow::Context;
use app::api::DataStatus;
use shared::config::VenueScope;
use shared::Day;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DataCommand {
    /// Coverage, gaps, stale series, suspicious jumps and collection artifacts per source and field.
    Status(StatusArgs),
    /// Which source's daily bar the store keeps when several sources write the same day,
    /// preferred first (e.g. `lockstep data prefer hyperliquid csv`). Without sources: prints
    /// the preference; `--clear` removes it (the newer write wins). The bar not kept is never
    /// dropped: it stays in the store's alternates, and the series is listed as spliced.
    /// With `--venue VENUE` (e.g. `lockstep data prefer --venue hyperliquid hyperliquid csv`):
    /// which source's bar that venue's panel reads, among the bar kept and those set aside;
    /// a venue without one (and `any`) reads the store's bars.
    Prefer(PreferArgs),
}

#[derive(Debug, Clone, clap::Parser)]
pub struct PreferArgs {
    /// Source names (`csv`, `hyperliquid`, `synthetic`...), preferred first.
    pub sources: Vec<String>,
    /// Remove the preference.
    #[arg(long, conflicts_with = "sources")]
    pub clear: bool,
    /// The venue whose panel the preference is for (`hyperliquid`, `paper`); `any` (or no
    /// `--venue`) is the store's own preference.
    #[arg(long)]
    pub venue: Option<String>,
}

#[derive(Debug, Clone, clap::Parser)]
pub struct StatusArgs {
    /// The day staleness is measured against: `YYYY-MM-DD`, `today` (UTC) or `latest` (the last
    /// stored day of any field).
    #[arg(long, default_value = "today")]
    pub as_of: String,
    /// A series is stale after this many days without a value.
    #[arg(long, default_value_t = DEFAULT_STALE_DAYS)]
    pub stale_days: u32,
    /// Print the report as JSON (the same document `GET /api/data/status` returns).
    #[arg(long)]
    pub json: bool,
}

/// Resolves `today`, `latest` or a `YYYY-MM-DD` day.
pub async fn resolve_as_of(store: &Store, as_of: &str) -> anyhow::Result<Day> {
    match as_of {
        "today" => Ok(quality::today()),
        "latest" => {
            let mut last = None;
            for (series, _, _, _) in quality::FIELDS {
                for d in store.last_days(series, None).await?.into_values() {
                    last = last.max(Some(d));
                }
            }
            last.context("the store holds no data: `latest` has no day")
        }
        s => Day::parse(s)
            .with_context(|| format!("--as-of {s:?}: expected YYYY-MM-DD, today or latest")),
    }
}

pub async fn run(store: &Store, cmd: &DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Status(args) => {
            let as_of = resolve_as_of(store, &args.as_of).await?;
            let status = store.data_status(as_of, args.stale_days).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", render(&status));
            }
            Ok(())
        }
        DataCommand::Prefer(args) if args.venue.as_deref().is_some_and(|v| v != "any") => {
            let name = args.venue.as_deref().expect("checked");
            let venue = VenueScope::parse(name).with_context(|| {
                format!(
                    "--venue {name:?}: expected one of {}",
                    VenueScope::NAMES.join(", ")
                )
            })?;
            if args.clear || !args.sources.is_empty() {
                store
                    .set_bar_venue_preference(venue.name(), &args.sources)
                    .await?;
            }
            let now = store.bar_venue_preference(venue.name()).await?;
            if now.is_empty() {
                println!(
                    "bar source preference for {venue}: none (its panel reads the store's bars)"
                );
            } else {
                println!("bar source preference for {venue}: {}", now.join(" > "));
            }
            Ok(())
        }
        DataCommand::Prefer(args) => {
            if args.clear || !args.sources.is_empty() {
                store.set_bar_source_preference(&args.sources).await?;
            }
            let now = store.bar_source_preference().await?;
            if now.is_empty() {
                println!("bar source preference: none (the newer write wins; the other bar is kept aside)");
            } else {
                println!("bar source preference: {}", now.join(" > "));
            }
            Ok(())
        }
    }
}

/// The report as text.
pub fn render(s: &DataStatus) -> String {
    let mut out = String::new();
    if s.synthetic {
        out.push_str("SYNTHETIC DATA: the store holds generated demo data, not market data.\n");
    }
    out.push_str(&format!(
        "as of {}, stale after {} days\n\nsources:\n",
        s.as_of, s.stale_after_days
    ));
    if s.sources.is_empty() {
        out.push_str("  (none: the store holds no market data)\n");
    }
    for src in &s.sources {
        out.push_str(&format!(
            "  {:<14} {:<10} {}{}\n",
            src.name,
            src.kind,
            src.description,
            if src.synthetic { " [SYNTHETIC]" } else { "" }
        ));
        if let Some(r) = &src.last_run {
            out.push_str(&format!(
                "  {:<14} last run: {} {}: {}{}\n",
                "",
                r.status,
                r.target.as_deref().unwrap_or(""),
                r.counts(),
                r.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
    }
    out.push_str(&format!(
        "\n{:<10} {:<19} {:>7} {:>8} {:<10} {:<10} {:>5} {:>8} {:>6} {:>6} {:>9}\n",
        "source",
        "field",
        "symbols",
        "values",
        "first",
        "last",
        "gaps",
        "missing",
        "stale",
        "jumps",
        "revisions"
    ));
    for st in &s.series {
        out.push_str(&format!(
            "{:<10} {:<19} {:>7} {:>8} {:<10} {:<10} {:>5} {:>8} {:>6} {:>6} {:>9}\n",
            st.source,
            st.field,
            st.symbols,
            st.values,
            st.first_day.as_deref().unwrap_or("-"),
            st.last_day.as_deref().unwrap_or("-"),
            st.gaps,
            st.missing_days,
            st.stale_count,
            st.jump_count,
            st.revisions
        ));
    }
    for st in s.series.iter().filter(|st| !st.jumps.is_empty()) {
        out.push_str(&format!(
            "\njumps in {} {} ({}):\n",
            st.source, st.field, st.jump_rule
        ));
        for j in st.jumps.iter().take(5) {
            match j.previous {
                Some(p) => out.push_str(&format!("  {} {}: {p} -> {}\n", j.series, j.day, j.value)),
                None => out.push_str(&format!("  {} {}: {}\n", j.series, j.day, j.value)),
            }
        }
    }
    if !s.splices.is_empty() {
        out.push_str(&format!(
            "\nspliced price series ({}: the source changes between two stored days; jump = the \
             close-to-close change across the splice in typical daily moves of the series):\n",
            s.splices.len()
        ));
        for sp in &s.splices {
            out.push_str(&format!(
                "  {} {}: {} -> {}, close {} -> {} ({:+.2} %){}\n",
                sp.symbol,
                sp.day,
                sp.from_source,
                sp.to_source,
                sp.previous_close,
                sp.close,
                sp.change * 100.0,
                match (sp.typical_move, sp.jump_ratio) {
                    (Some(t), Some(r)) => format!(", {r:.1}x the typical move {:.2} %", t * 100.0),
                    _ => ", typical move unknown".to_string(),
                }
            ));
        }
    }
    if !s.bar_source_preference.is_empty() {
        out.push_str(&format!(
            "\nbar source preference: {}\n",
            s.bar_source_preference.join(" > ")
        ));
    }
    for p in &s.bar_venue_preferences {
        out.push_str(&format!(
            "bar source preference for {}: {}\n",
            p.venue,
            p.sources.join(" > ")
        ));
    }
    for a in &s.alternate_bars {
        out.push_str(&format!(
            "bars kept aside: {} from {} ({}, {}..{})\n",
            a.bars, a.source, a.reason, a.first_day, a.last_day
        ));
    }
    if !s.artifacts.is_empty() {
        out.push_str("\ncollection artifacts:\n");
        for a in &s.artifacts {
            out.push_str(&format!("  [{}] {}\n", a.kind, a.message));
        }
    }
    out
}
