//! `lockstep targets`: the live path's blended target weights for one date.

use super::load_config;
use anyhow::{bail, Context};
use shared::portfolio::engine::{TargetCache, TargetEngine};
use shared::Day;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct TargetsArgs {
    /// Strategy config (the predecessor's format); default: Lockstep's shipped config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory of CSV files in the predecessor's formats; default: the store (`--database-url`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The close at which the decision is made (YYYY-MM-DD); default: the last day of the data.
    #[arg(long)]
    pub date: Option<Day>,
}

/// What `lockstep targets` prints.
#[derive(Debug, serde::Serialize)]
pub struct TargetsOutput {
    pub date: Day,
    /// Non-zero blended weights by symbol.
    pub weights: BTreeMap<String, f64>,
    /// Which universe the targets were chosen from (the config's `venue` and its listings).
    pub universe: shared::universe::UniverseInfo,
}

/// Computes the targets exactly as a live server holding data up to `date` would: the panel is
/// cut at `date` and the engine starts from an empty cache.
pub fn run(args: &TargetsArgs, database_url: &str) -> anyhow::Result<TargetsOutput> {
    let config = load_config(args.config.as_deref())?;
    let order = crate::store::layout::VenueOrder::for_venue(Some(config.venue().name()));
    let panel = super::load_panel_for(args.data.as_deref(), database_url, &order)?;
    let date = args.date.unwrap_or(panel.end());
    let Some(t) = panel.row_of(date) else {
        bail!(
            "--date {date} is outside the data ({} to {})",
            panel.start(),
            panel.end()
        );
    };
    let panel = panel
        .truncate_to(t)
        .context("cutting the panel at --date")?;
    let (listings, mut universe) = super::venue_universe(&config, database_url);
    universe.count_on(&panel, listings.as_deref(), date);
    let mut engine = TargetEngine::from_config(&config)?;
    engine.listings = listings;
    let day = engine.targets_at(&panel, t, &mut TargetCache::new());
    let weights = panel
        .symbols()
        .iter()
        .zip(&day.weights)
        .filter(|(_, w)| **w != 0.0)
        .map(|(s, w)| (s.clone(), *w))
        .collect();
    Ok(TargetsOutput {
        date,
        weights,
        universe,
    })
}
