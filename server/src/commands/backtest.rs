//! `lockstep backtest`: the native backtest of a config over CSV data, written as JSON.

use super::load_config;
use crate::parity::calibration::ResolvedCosts;
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

/// The costs a command-line run of `config` on `panel` trades with under
/// `rebalance.cost_model` (`lockstep backtest` and `lockstep sweep` both call it): under
/// `calibrated`, the fee and slippage the account's fills on the config's venue
/// ([`app::api::costs::calibration_venue`]) show over the last
/// [`crate::parity::calibration::CALIBRATION_WINDOW_DAYS`] days of the panel (read from the
/// store), resolved to numbers here by [`app::api::costs::resolve`] so the simulator stays pure;
/// the source, sample size and window (or why the fixed costs ran) go to stderr as a notice.
/// Under `fixed`: the config's own numbers, without a note.
///
/// # Errors
/// The store at `database_url` cannot be opened or read (only under `calibrated`).
pub fn run_costs(
    config: &shared::config::Config,
    panel: &shared::Panel,
    database_url: &str,
) -> anyhow::Result<ResolvedCosts> {
    use crate::parity::calibration::{account_costs, resolve_costs};
    let r = &config.rebalance;
    let fixed = shared::sim::Costs {
        fee_bps: r.fee_bps,
        slippage_bps: r.slippage_bps,
    };
    if r.cost_model == shared::config::CostModel::Fixed || panel.n_days() == 0 {
        return Ok(app::api::costs::resolve(
            shared::config::CostModel::Fixed,
            fixed,
            Err("no data"),
        ));
    }
    let venue = app::api::costs::calibration_venue(config.venue());
    let (from, to) = app::api::costs::window(panel.end());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let measured = rt.block_on(async {
        let store = crate::store::Store::connect(database_url)
            .await
            .with_context(|| {
                format!(
                    "opening the store at {} for the calibrated cost model",
                    crate::store::redact(database_url)
                )
            })?;
        account_costs(&store, venue, panel, from, to, r.fee_bps, r.slippage_bps)
            .await
            .map_err(anyhow::Error::from)
    })?;
    let resolved = resolve_costs(r, &measured, venue, from, to);
    if let Some(note) = &resolved.note {
        eprintln!("notice: {note}");
    }
    Ok(resolved)
}

/// The settings' cost override for `resolved`: `None` under `fixed` (the config's own numbers,
/// as before cost models existed), the resolved numbers under `calibrated`.
pub fn cost_override(
    config: &shared::config::Config,
    resolved: &ResolvedCosts,
) -> Option<shared::sim::Costs> {
    (config.rebalance.cost_model == shared::config::CostModel::Calibrated).then_some(resolved.costs)
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
        costs: cost_override(&config, &run_costs(&config, &panel, database_url)?),
        ..BacktestSettings::default()
    };
    let (listings, mut universe) = super::venue_universe(&config, database_url);
    // `backtest::run_on_venue`, with a bar that counts the simulated days (see `Counting`).
    let mut engine = shared::portfolio::engine::TargetEngine::from_config(&config)
        .map_err(backtest::BacktestError::from)?;
    engine.listings = listings.clone();
    let (first, last) = backtest::rows(&panel, &settings)?;
    let mut source = Counting {
        inner: backtest::EngineSource::new(&engine, &panel),
        bar: crate::progress::bar((last - first + 1) as u64, "backtest"),
    };
    let names = source.inner.strategy_names();
    let sim_cfg = settings.sim_config_for(&config);
    let mut result = backtest::run_with_source(&panel, &mut source, &names, &settings, &sim_cfg)?;
    source.bar.finish_and_clear();
    universe.count_on(&panel, listings.as_deref(), result.end);
    eprintln!("universe: {} ({})", universe.summary, universe.note);
    for f in &universe.funding_fallbacks {
        eprintln!("  {f}");
    }
    result.universe = Some(universe);
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
