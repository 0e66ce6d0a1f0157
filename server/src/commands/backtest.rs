//! `lockstep backtest`: the native backtest of a config over CSV data, written as JSON.

use super::load_config;
use anyhow::Context;
use shared::backtest::{self, BacktestSettings};
use shared::portfolio::rebalance::RebalancePolicy;
use shared::Day;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct BacktestArgs {
    /// Strategy config (the predecessor's format); default: Lockstep's shipped config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory of CSV files in the predecessor's formats; default: the store (`--database-url`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// First day traded (earlier rows are still used as history).
    #[arg(long)]
    pub start: Option<Day>,
    /// Last day traded.
    #[arg(long)]
    pub end: Option<Day>,
    /// Override the config's rebalance policy.
    #[arg(long, value_enum)]
    pub policy: Option<PolicyArg>,
    /// Where to write the result JSON (`-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PolicyArg {
    Time,
    Threshold,
}

/// A target source that ticks a progress bar once per day asked; the targets are the inner
/// source's, untouched.
struct Counting<S> {
    inner: S,
    bar: indicatif::ProgressBar,
}

impl<S: shared::sim::TargetSource> shared::sim::TargetSource for Counting<S> {
    type Error = S::Error;
    fn n_strategies(&self) -> usize {
        self.inner.n_strategies()
    }
    fn targets(
        &mut self,
        row: usize,
        w: &mut [f64],
        by: &mut [f64],
    ) -> Result<shared::sim::Decision, S::Error> {
        self.bar.inc(1);
        self.inner.targets(row, w, by)
    }
}

/// Runs the backtest and writes the result; returns the result for the caller to summarise.
pub fn run(args: &BacktestArgs, database_url: &str) -> anyhow::Result<backtest::BacktestResult> {
    let config = load_config(args.config.as_deref())?;
    let loading = crate::progress::spinner("backtest");
    loading.set_message("loading the panel");
    let order = crate::store::layout::VenueOrder::for_venue(Some(config.venue().name()));
    let panel = super::load_panel_for(args.data.as_deref(), database_url, &order)?;
    loading.finish_and_clear();
    let policy = args.policy.map(|p| match p {
        PolicyArg::Time => RebalancePolicy::Time,
        PolicyArg::Threshold => RebalancePolicy::Threshold {
            threshold: config.rebalance.threshold,
        },
    });
    let settings = BacktestSettings {
        start: args.start,
        end: args.end,
        policy,
        ..BacktestSettings::default()
    };
    let (listings, universe) = super::venue_universe(&config, database_url);
    eprintln!("universe: {}", universe.note);
    for f in &universe.funding_fallbacks {
        eprintln!("  {f}");
    }
    // `backtest::run_on_venue`, with a bar that counts the simulated days (see `Counting`).
    let mut engine = shared::portfolio::engine::TargetEngine::from_config(&config)
        .map_err(backtest::BacktestError::from)?;
    engine.listings = listings;
    let (first, last) = backtest::rows(&panel, &settings)?;
    let mut source = Counting {
        inner: backtest::EngineSource::new(&engine, &panel),
        bar: crate::progress::bar((last - first + 1) as u64, "backtest"),
    };
    let names = source.inner.strategy_names();
    let sim_cfg = settings.sim_config(Some(&config.rebalance));
    let mut result = backtest::run_with_source(&panel, &mut source, &names, &settings, &sim_cfg)?;
    result.universe = Some(universe);
    source.bar.finish_and_clear();
    let json = serde_json::to_vec(&result)?;
    if args.out.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().write_all(&json)?;
    } else {
        std::fs::write(&args.out, json)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    Ok(result)
}
