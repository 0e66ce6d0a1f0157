//! `lockstep sweep`: a grid or a seeded random search over a config, on every core, with the
//! out-of-sample statistics of `shared::research`, written as CSV or JSON.
//!
//! The points, their rows and the statistics are `shared`'s ([`Sweep`],
//! [`summary::summarize`]): the browser's Sweep page runs the same code in its workers, so a
//! grid or a seed gives the same rows here and there. Threads take chunks of points from a
//! shared counter; each keeps its own signal cache (signals once per strategy parameter set per
//! thread). Progress goes to stderr; with `--out -` stdout carries only the JSON.

use super::{load_config, load_panel_for};
use anyhow::{bail, Context};
use shared::backtest::BacktestSettings;
use shared::metrics::KEYS;
use shared::portfolio::rebalance::RebalancePolicy;
use shared::portfolio::signals::{CacheStats, SignalCache};
use shared::research::evaluation::{Evaluation, WalkForward, DEFAULT_CSCV_BLOCKS};
use shared::research::report::{self, Finished};
use shared::research::search::{RandomSearch, SearchDim};
use shared::research::summary::{self, Summary};
use shared::sweep::{axis_values, Axis, AxisTarget, Sweep, SweepRow, WalkForwardCurve};
use shared::{Day, Panel};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// Strategy config (the predecessor's format); default: Lockstep's shipped config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory of CSV files in the predecessor's formats; default: the store (`--database-url`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A swept value, repeatable: `PATH=FROM:TO:STEP` or `PATH=V1,V2,...` for a grid,
    /// `PATH=LO:HI` with `--random`. PATH is `strategy_weights.NAME`, `params.NAME.KEY`,
    /// `strategy_caps.NAME`, `leverage`, `rebalance.threshold`, `rebalance.fee_bps` or
    /// `rebalance.slippage_bps`.
    #[arg(long = "axis", value_name = "PATH=SPEC", required = true)]
    pub axes: Vec<String>,
    /// Random search with this many points instead of the grid.
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,
    /// Seed of the random search (the same seed gives the same points everywhere).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// With `--random`: the searched strategy weights sum to this.
    #[arg(long, value_name = "TOTAL")]
    pub sum: Option<f64>,
    /// First out-of-sample day: choose on the days before it, report the chosen point after it.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub split: Option<Day>,
    /// CSCV blocks for the probability of backtest overfitting (even; 0 = none).
    #[arg(long, default_value_t = DEFAULT_CSCV_BLOCKS)]
    pub cscv_blocks: usize,
    /// Walk-forward: `STEP_DAYS:TRAIN_STEPS` (rolling) or `STEP_DAYS:TRAIN_STEPS:anchored`,
    /// e.g. `182:4` re-chooses every 182 days on the past 4 × 182 days.
    #[arg(long, value_name = "STEP:TRAIN[:anchored]")]
    pub walk_forward: Option<String>,
    /// First day traded (earlier rows are still used as history).
    #[arg(long)]
    pub start: Option<Day>,
    /// Last day traded.
    #[arg(long)]
    pub end: Option<Day>,
    /// Override the config's rebalance policy.
    #[arg(long, value_enum)]
    pub policy: Option<super::backtest::PolicyArg>,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// `csv` or `json` (default: from the `--out` extension; JSON for `-`).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Where to write the results (`-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

/// The chosen (best in-sample Sharpe ratio) point in and out of sample (`shared`'s, which the
/// Sweep page's worker fills with the same function).
pub use shared::research::report::Chosen;

/// What `lockstep sweep` writes as JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SweepOutput {
    pub kernel_version: String,
    /// The swept paths, one per value of a row.
    pub axes: Vec<String>,
    pub points: usize,
    /// `grid` or `random`.
    pub mode: String,
    pub seed: Option<u64>,
    pub evaluation: Evaluation,
    pub rows: Vec<SweepRow>,
    pub summary: Summary,
    pub chosen: Option<Chosen>,
    pub walk_forward: Option<WalkForwardCurve>,
    /// Signal records computed / reused across all threads.
    pub cache: CacheStats,
    /// Which universe every point traded (the config's venue and its listings), counted on
    /// the last day of the swept range, as a Backtest of the same config reports it.
    #[serde(default)]
    pub universe: Option<shared::universe::UniverseInfo>,
    /// The costs every point traded with under `rebalance.cost_model` (a fee or slippage axis
    /// aside): `used` is `fixed` or `calibrated`, `note` the calibration's venue, fills and
    /// window, or why a calibrated model ran the fixed costs (the notice on stderr). Absent in
    /// output from before cost models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub costs: Option<crate::parity::calibration::ResolvedCosts>,
}

/// One `--axis` argument, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum AxisArg {
    Values(AxisTarget, Vec<f64>),
    Bounds(AxisTarget, f64, f64),
}

/// Parses `PATH=FROM:TO:STEP`, `PATH=V1,V2,...` or `PATH=LO:HI`.
///
/// # Errors
/// The argument and what is wrong with it.
pub fn parse_axis(arg: &str) -> anyhow::Result<AxisArg> {
    let (path, spec) = arg.split_once('=').with_context(|| {
        format!("--axis {arg}: expected PATH=FROM:TO:STEP, PATH=V1,V2 or PATH=LO:HI")
    })?;
    let target = AxisTarget::parse(path.trim()).with_context(|| format!("--axis {arg}"))?;
    let num = |s: &str| -> anyhow::Result<f64> {
        let v: f64 = s
            .trim()
            .parse()
            .with_context(|| format!("--axis {arg}: {s:?} is not a number"))?;
        if !v.is_finite() {
            bail!("--axis {arg}: {s:?} is not a finite number");
        }
        Ok(v)
    };
    if spec.contains(',') || !spec.contains(':') {
        let values = spec
            .split(',')
            .map(num)
            .collect::<anyhow::Result<Vec<_>>>()?;
        return Ok(AxisArg::Values(target, values));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [lo, hi] => Ok(AxisArg::Bounds(target, num(lo)?, num(hi)?)),
        [from, to, step] => {
            let (from, to, step) = (num(from)?, num(to)?, num(step)?);
            if step <= 0.0 || to < from {
                bail!("--axis {arg}: needs FROM <= TO and a STEP > 0");
            }
            let n = (to - from) / step;
            if (n - n.round()).abs() > 1e-9 * n.max(1.0) {
                bail!("--axis {arg}: ({to} - {from}) / {step} is not a whole number of steps");
            }
            if n.round() >= shared::sweep::MAX_POINTS as f64 {
                bail!("--axis {arg}: too many steps");
            }
            Ok(AxisArg::Values(
                target,
                axis_values(from, to, n.round() as usize + 1),
            ))
        }
        _ => bail!("--axis {arg}: expected FROM:TO:STEP or LO:HI after '='"),
    }
}

/// Parses `STEP:TRAIN` or `STEP:TRAIN:anchored`.
fn parse_walk_forward(s: &str) -> anyhow::Result<WalkForward> {
    let parts: Vec<&str> = s.split(':').collect();
    let int = |x: &str| -> anyhow::Result<u32> {
        x.trim()
            .parse()
            .with_context(|| format!("--walk-forward {s}: {x:?} is not a whole number"))
    };
    match parts.as_slice() {
        [step, train] => Ok(WalkForward {
            step_days: int(step)?,
            train_steps: int(train)?,
            anchored: false,
        }),
        [step, train, "anchored"] => Ok(WalkForward {
            step_days: int(step)?,
            train_steps: int(train)?,
            anchored: true,
        }),
        [_, _, "rolling"] => parse_walk_forward(&format!("{}:{}", parts[0], parts[1])),
        _ => bail!("--walk-forward {s}: expected STEP_DAYS:TRAIN_STEPS[:anchored]"),
    }
}

/// The sweep the arguments describe.
///
/// # Errors
/// Bad axes, a grid mixed with bounds, or what [`Sweep`] rejects.
pub fn build(args: &SweepArgs, base: shared::config::Config) -> anyhow::Result<Sweep> {
    build_with_costs(args, base, None)
}

/// [`build`] with the base settings' cost override (`None`: the config's `fee_bps` and
/// `slippage_bps`): the calibrated costs [`super::backtest::run_costs`] resolved. A fee or
/// slippage axis still sets its own value at each point.
///
/// # Errors
/// As [`build`].
pub fn build_with_costs(
    args: &SweepArgs,
    base: shared::config::Config,
    costs: Option<shared::sim::Costs>,
) -> anyhow::Result<Sweep> {
    let axes = args
        .axes
        .iter()
        .map(|a| parse_axis(a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let policy = args.policy.map(|p| match p {
        super::backtest::PolicyArg::Time => RebalancePolicy::Time,
        super::backtest::PolicyArg::Threshold => RebalancePolicy::Threshold {
            threshold: base.rebalance.threshold,
        },
    });
    let settings = BacktestSettings {
        start: args.start,
        end: args.end,
        policy,
        costs,
        ..BacktestSettings::default()
    };
    let sweep = match args.random {
        Some(n) => {
            let dims = axes
                .into_iter()
                .map(|a| match a {
                    AxisArg::Bounds(target, lo, hi) => Ok(SearchDim { target, lo, hi }),
                    AxisArg::Values(t, _) => bail!(
                        "--axis {}: a random search draws from bounds; write {}=LO:HI",
                        t.path(),
                        t.path()
                    ),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let search = RandomSearch {
                dims,
                weight_sum: args.sum,
                n,
                seed: args.seed,
            };
            Sweep::random(base, search, settings)?
        }
        None => {
            if args.sum.is_some() {
                bail!("--sum applies to a random search (--random N)");
            }
            let axes = axes
                .into_iter()
                .map(|a| match a {
                    AxisArg::Values(target, values) => Ok(Axis { target, values }),
                    AxisArg::Bounds(t, _, _) => bail!(
                        "--axis {}: a grid needs FROM:TO:STEP or a list (bounds LO:HI are for --random)",
                        t.path()
                    ),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Sweep::new(base, axes, settings)?
        }
    };
    let evaluation = Evaluation {
        split: args.split,
        cscv_blocks: args.cscv_blocks,
        walk_forward: args
            .walk_forward
            .as_deref()
            .map(parse_walk_forward)
            .transpose()?,
    };
    Ok(sweep.with_evaluation(evaluation))
}

/// Runs every point on `threads` threads (each with its own signal cache), calling
/// `progress(done)` as points finish; rows in index order and the caches' summed counters.
///
/// # Errors
/// A layout error (split or walk-forward outside the range).
pub fn run_points(
    sweep: &Sweep,
    panel: &Panel,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> anyhow::Result<(Vec<SweepRow>, CacheStats)> {
    sweep.layout(panel)?;
    let n = sweep.n_points();
    let threads = threads.clamp(1, n.max(1));
    // Small chunks keep every thread busy to the end; big enough that the counter is cold.
    let chunk = (n / (threads * 16)).clamp(1, 64);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::with_capacity(n));
    let stats = Mutex::new(CacheStats::default());
    let failure = Mutex::new(None::<anyhow::Error>);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut cache = SignalCache::default();
                loop {
                    let start = next.fetch_add(chunk, Ordering::Relaxed);
                    if start >= n {
                        break;
                    }
                    let end = (start + chunk).min(n);
                    let result = sweep.run_chunk_cached(
                        panel,
                        start..end,
                        &mut cache,
                        &mut |_, _| {
                            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                        },
                        &|| false,
                    );
                    match result {
                        Ok(r) => rows.lock().expect("rows lock").extend(r.rows),
                        Err(e) => {
                            *failure.lock().expect("failure lock") = Some(e.into());
                            next.store(n, Ordering::Relaxed);
                            break;
                        }
                    }
                }
                let s = cache.stats();
                let mut total = stats.lock().expect("stats lock");
                total.hits += s.hits;
                total.computed += s.computed;
                total.evicted += s.evicted;
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("failure lock") {
        return Err(e);
    }
    let mut rows = rows.into_inner().expect("rows lock");
    rows.sort_by_key(|r| r.index);
    Ok((rows, stats.into_inner().expect("stats lock")))
}

/// The summary, the chosen point's out-of-sample run and the walk-forward curve.
///
/// # Errors
/// A backtest of a chosen point that fails.
pub fn evaluate(
    sweep: &Sweep,
    panel: &Panel,
    rows: Vec<SweepRow>,
    cache_stats: CacheStats,
    mode: &str,
    seed: Option<u64>,
) -> anyhow::Result<SweepOutput> {
    let summary = summary::summarize(&rows, sweep.evaluation());
    let in_sample = summary
        .chosen
        .and_then(|i| rows.iter().find(|r| r.index == i))
        .and_then(|r| r.metrics);
    let mut cache = SignalCache::default();
    let Finished {
        chosen,
        walk_forward,
    } = report::finish(
        sweep,
        panel,
        summary.chosen,
        in_sample,
        &summary.walk_forward,
        &mut cache,
    )?;
    Ok(SweepOutput {
        kernel_version: shared::KERNEL_VERSION.to_string(),
        axes: sweep.targets().iter().map(AxisTarget::path).collect(),
        points: sweep.n_points(),
        mode: mode.to_string(),
        seed,
        evaluation: sweep.evaluation().clone(),
        rows,
        summary,
        chosen,
        walk_forward,
        cache: cache_stats,
        universe: None,
        costs: None,
    })
}

/// The rows as CSV: `index`, one column per axis, the in-sample metrics, `error`.
pub fn to_csv(out: &SweepOutput) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["index".to_string()];
    header.extend(out.axes.iter().cloned());
    header.extend(KEYS.iter().map(|s| s.to_string()));
    header.push("error".to_string());
    w.write_record(&header)?;
    for r in &out.rows {
        let mut rec = vec![r.index.to_string()];
        rec.extend(r.values.iter().map(|v| v.to_string()));
        match &r.metrics {
            // Every name in KEYS is a metric; an undefined one (NaN) is an empty cell.
            Some(m) => rec.extend(KEYS.iter().map(|k| match m.get(k) {
                Some(v) if !v.is_nan() => v.to_string(),
                _ => String::new(),
            })),
            None => rec.extend(KEYS.iter().map(|_| String::new())),
        }
        rec.push(r.error.clone().unwrap_or_default());
        w.write_record(&rec)?;
    }
    w.into_inner().context("finishing the CSV")
}

/// Runs the command: builds, runs on every core with a progress bar on stderr, writes the
/// output, and returns it for the caller's summary line.
pub fn run(args: &SweepArgs, database_url: &str) -> anyhow::Result<SweepOutput> {
    let base = load_config(args.config.as_deref())?;
    // The config's venue's panel (its funding first) and listings, as `lockstep backtest`
    // loads them: every point trades the universe a Backtest of it trades.
    let order = crate::store::layout::VenueOrder::for_venue(Some(base.venue().name()));
    let (listings, mut universe) = super::venue_universe(&base, database_url);
    // The axes are checked before the panel loads; the costs need the panel (their window
    // ends on its last day): under `cost_model: calibrated` those `lockstep backtest` resolves,
    // by the same function.
    build(args, base.clone())?;
    let panel = load_panel_for(args.data.as_deref(), database_url, &order)?;
    let costs = super::backtest::run_costs(&base, &panel, database_url)?;
    let sweep = build_with_costs(
        args,
        base.clone(),
        super::backtest::cost_override(&base, &costs),
    )?
    .with_listings(listings.clone());
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let format = match (args.format, args.out.extension().and_then(|e| e.to_str())) {
        (Some(f), _) => f,
        (None, Some("csv")) => Format::Csv,
        (None, Some("json")) => Format::Json,
        (None, _) if args.out.as_os_str() == "-" => Format::Json,
        (None, ext) => bail!(
            "--out {}: cannot tell the format from {:?}; name it .csv or .json or pass --format",
            args.out.display(),
            ext.unwrap_or("")
        ),
    };
    let n = sweep.n_points();
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(n as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} points · {elapsed_precise} elapsed · ~{eta} left",
        )
        .expect("a valid template"),
    );
    let started = Instant::now();
    let (rows, cache_stats) = run_points(&sweep, &panel, threads, &|d| bar.set_position(d as u64))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let (mode, seed) = match args.random {
        Some(_) => ("random", Some(args.seed)),
        None => ("grid", None),
    };
    let mut out = evaluate(&sweep, &panel, rows, cache_stats, mode, seed)?;
    let (_, last) = shared::backtest::rows(&panel, sweep.settings())?;
    universe.count_on(&panel, listings.as_deref(), panel.day(last));
    eprintln!("universe: {} ({})", universe.summary, universe.note);
    out.universe = Some(universe);
    out.costs = Some(costs);
    eprintln!(
        "{n} points in {:.2} s on {threads} thread(s) ({:.2} ms a point per thread); {} signal \
         record(s) computed, {} reused",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 * threads.min(n.max(1)) as f64 / n.max(1) as f64,
        out.cache.computed,
        out.cache.hits
    );
    let bytes = match format {
        Format::Json => serde_json::to_vec(&out)?,
        Format::Csv => to_csv(&out)?,
    };
    if args.out.as_os_str() == "-" {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&bytes)?;
        stdout.flush()?;
    } else {
        std::fs::write(&args.out, bytes)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_arguments() {
        let size = AxisTarget::Weight {
            strategy: "size".into(),
        };
        match parse_axis("strategy_weights.size=0:0.5:0.05").unwrap() {
            AxisArg::Values(t, v) => {
                assert_eq!(t, size);
                assert_eq!(v, axis_values(0.0, 0.5, 11));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_axis("leverage=1,1.5,2").unwrap(),
            AxisArg::Values(AxisTarget::Leverage, vec![1.0, 1.5, 2.0])
        );
        assert_eq!(
            parse_axis("rebalance.threshold=0:0.1").unwrap(),
            AxisArg::Bounds(AxisTarget::Threshold, 0.0, 0.1)
        );
        assert_eq!(
            parse_axis("leverage=2").unwrap(),
            AxisArg::Values(AxisTarget::Leverage, vec![2.0])
        );
        for (bad, says) in [
            ("leverage", "expected PATH="),
            ("strategy_weights.nope=0:1:0.1", "unknown strategy"),
            ("leverage=0:1:0.3", "whole number of steps"),
            ("leverage=1:0:0.1", "FROM <= TO"),
            ("leverage=a:b", "not a number"),
            ("leverage=1:2:3:4", "expected FROM:TO:STEP"),
        ] {
            let e = format!("{:#}", parse_axis(bad).unwrap_err());
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!(
            parse_walk_forward("182:4").unwrap(),
            WalkForward {
                step_days: 182,
                train_steps: 4,
                anchored: false
            }
        );
        assert!(parse_walk_forward("182:4:anchored").unwrap().anchored);
        assert!(parse_walk_forward("182").is_err());
    }
}
