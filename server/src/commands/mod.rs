//! The offline subcommands: they read the predecessor's CSV files directly and run the same
//! kernels the server runs, so a user can check any number the dashboard shows.

pub mod backtest;
pub mod data;
pub mod demo;
pub mod fetch;
pub mod first_start;
pub mod import;
pub mod live;
pub mod parity;
pub mod sweep;
pub mod targets;
pub mod user;

use crate::market_data::csv;
use crate::store::layout::{layout_records, VenueOrder};
use anyhow::Context;
use shared::config::Config;
use shared::Panel;
use std::path::Path;

/// Loads a strategy config file, or Lockstep's shipped default when `path` is `None`.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config {}", p.display()))?;
            Config::from_json(&text).with_context(|| format!("config {}", p.display()))
        }
        None => Config::lockstep_default().context("the shipped default config"),
    }
}

/// The panel from `--data DIR` when given, else from the store at `database_url` (the panel the
/// server trades on and serves to the browser).
pub fn load_panel_from(data: Option<&Path>, database_url: &str) -> anyhow::Result<Panel> {
    load_panel_for(data, database_url, &VenueOrder::default())
}

/// [`load_panel_from`] with funding and open interest taken in `order` (a run on a venue takes
/// that venue's first; see `store::layout::VenueOrder`).
pub fn load_panel_for(
    data: Option<&Path>,
    database_url: &str,
    order: &VenueOrder,
) -> anyhow::Result<Panel> {
    if let Some(dir) = data {
        return load_panel_ordered(dir, order);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let store = crate::store::Store::connect(database_url)
            .await
            .with_context(|| {
                format!(
                    "opening the store at {}",
                    crate::store::redact(database_url)
                )
            })?;
        store.build_panel_for(order).await?.ok_or_else(|| {
            anyhow::anyhow!(
                "the store at {} holds no market data; pass --data DIR or import first",
                crate::store::redact(database_url)
            )
        })
    })
}

/// The universe a command-line run of `config` trades: for a real venue, its listing history
/// from the store at `database_url` (also with `--data DIR`: the CSV files hold no listings).
/// A store that cannot be opened, or holds no listings for the venue, is not an error: the run
/// trades every priced asset and the returned note says so.
pub fn venue_universe(
    config: &Config,
    database_url: &str,
) -> (
    Option<std::sync::Arc<shared::universe::Listings>>,
    shared::universe::UniverseInfo,
) {
    let venue = config.venue();
    if !venue.is_real() || venue == shared::config::VenueScope::Paper {
        return shared::universe::resolve(venue.name(), None);
    }
    let stored = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                let store = crate::store::Store::connect(database_url).await?;
                Ok::<_, anyhow::Error>(store.venue_universe(venue).await?)
            })
        });
    match stored {
        Ok(universe) => universe,
        Err(e) => {
            let (l, mut info) = shared::universe::resolve(venue.name(), None);
            info.note = format!(
                "{} (the store at {} could not be read: {e})",
                info.note,
                crate::store::redact(database_url)
            );
            (l, info)
        }
    }
}

/// Reads a directory of CSV files into a panel. Rejected rows are reported on stderr and
/// skipped: a backtest on the rows that are good is still useful, and the report says which are not.
pub fn load_panel(dir: &Path) -> anyhow::Result<Panel> {
    load_panel_ordered(dir, &VenueOrder::default())
}

/// [`load_panel`] with funding and open interest in `order`.
pub fn load_panel_ordered(dir: &Path, order: &VenueOrder) -> anyhow::Result<Panel> {
    let reads = csv::read_dir(dir)?;
    let rejected: usize = reads.iter().map(|r| r.rejected.len()).sum();
    if rejected > 0 {
        eprintln!(
            "warning: {rejected} row(s) rejected while reading {}:",
            dir.display()
        );
        for e in reads.iter().flat_map(|r| &r.rejected).take(20) {
            eprintln!("  {e}");
        }
        if rejected > 20 {
            eprintln!("  ... and {} more", rejected - 20);
        }
    }
    layout_records(reads.iter().flat_map(|r| &r.records), order)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))
}
