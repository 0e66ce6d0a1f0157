//! The Sweep page and `lockstep sweep` give the same rows: the CLI's own argument parsing,
//! sweep building and threaded run ([`server::commands::sweep`]) against the function the
//! browser's workers call ([`app::worker::run_job`], on the panel as the worker receives it:
//! encoded as `/api/panel` sends it and decoded), for a blend grid and for a seeded random
//! search, in chunks and with per-worker caches as the page splits them.

use crate::common::synth_panel;
use app::share::{BacktestSpec, SearchDimSpec, SearchSpec, SweepAxisSpec, SweepSpec};
use app::worker::{finish_job, run_job, FinishJob, Job};
use clap::Parser;
use server::commands::sweep::{self, SweepArgs};
use shared::panel::Field;
use shared::portfolio::signals::SignalCache;
use shared::research::evaluation::{Evaluation, WalkForward};
use shared::research::summary::summarize;
use shared::sweep::SweepRow;
use shared::Panel;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    sweep: SweepArgs,
}

/// The panel as a worker holds it: the page's fields through the `/api/panel` codec.
fn as_browser(panel: &Panel) -> Panel {
    let fields: Vec<Field> = app::data::PANEL_FIELDS
        .split(',')
        .map(|f| Field::from_name(f).unwrap())
        .collect();
    let bytes = shared::panel_codec::encode(panel, &fields, 0..=panel.n_days() - 1).unwrap();
    shared::panel_codec::decode(&bytes).unwrap().panel
}

/// The CLI's rows for `args` (after `lockstep sweep`), on two threads.
fn cli_rows(args: &[&str], panel: &Panel) -> (shared::sweep::Sweep, Vec<SweepRow>) {
    let cli = Cli::try_parse_from(std::iter::once("sweep").chain(args.iter().copied())).unwrap();
    let base = server::commands::load_config(None).unwrap();
    let s = sweep::build(&cli.sweep, base).unwrap();
    let (rows, _) = sweep::run_points(&s, panel, 2, &|_| {}).unwrap();
    (s, rows)
}

/// The browser's rows: two workers taking chunks of `chunk` points in turn, each with its own
/// cache, rows merged and sorted as the page does.
fn browser_rows(
    panel: &Panel,
    backtest: &BacktestSpec,
    spec: &SweepSpec,
    n: usize,
    chunk: usize,
) -> Vec<SweepRow> {
    let mut caches = [SignalCache::default(), SignalCache::default()];
    let mut rows = Vec::new();
    for (k, start) in (0..n).step_by(chunk).enumerate() {
        let job = Job {
            backtest: backtest.clone(),
            sweep: spec.clone(),
            start,
            end: (start + chunk).min(n),
            universe: None,
        };
        // Through JSON both ways, as the worker's messages go.
        let job: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        let got = run_job(panel, &job, &mut caches[k % 2]).unwrap();
        let got: Vec<SweepRow> =
            serde_json::from_str(&serde_json::to_string(&got).unwrap()).unwrap();
        rows.extend(got);
    }
    rows.sort_by_key(|r| r.index);
    rows
}

/// The page's base backtest of the shipped config, time policy as the CLI's default run.
fn base_spec() -> BacktestSpec {
    app::spec::default_spec()
}

#[test]
fn cli_rows_equal_browser_rows_for_a_blend_grid_and_a_seeded_search() {
    let native = synth_panel(14, 24, 420);
    let browser = as_browser(&native);
    let split = shared::Day(19_000 + 300);
    let evaluation = Evaluation {
        split: Some(split),
        cscv_blocks: 8,
        walk_forward: Some(WalkForward {
            step_days: 60,
            train_steps: 2,
            anchored: false,
        }),
    };
    let backtest = base_spec();
    // The page's default backtest is the CLI's default run (tested in app::spec).
    let split_arg = split.to_string();

    // A blend grid: size's weight × leverage.
    let (cli_sweep, cli) = cli_rows(
        &[
            "--axis",
            "strategy_weights.size=0:0.3:0.1",
            "--axis",
            "leverage=0.5:1.5:0.5",
            "--split",
            &split_arg,
            "--cscv-blocks",
            "8",
            "--walk-forward",
            "60:2",
            "--out",
            "-",
        ],
        &native,
    );
    let grid = SweepSpec {
        scope: "blend".into(),
        axes: vec![
            SweepAxisSpec {
                strategy: "size".into(),
                param: "weight".into(),
                from: 0.0,
                to: 0.3,
                steps: 4,
            },
            SweepAxisSpec {
                strategy: String::new(),
                param: "leverage".into(),
                from: 0.5,
                to: 1.5,
                steps: 3,
            },
        ],
        metric: "sharpe".into(),
        evaluation: Some(evaluation.clone()),
        ..Default::default()
    };
    let ours = browser_rows(&browser, &backtest, &grid, 12, 5);
    assert_eq!(cli.len(), 12);
    assert!(cli.iter().all(|r| r.metrics.is_some()), "{cli:?}");
    assert_eq!(ours, cli, "grid rows differ");
    // The statistics and the finish (out of sample, walk-forward curve) agree too.
    let s_cli = summarize(&cli, cli_sweep.evaluation());
    let s_ours = summarize(&ours, &evaluation);
    assert_eq!(s_ours, s_cli);
    assert!(!s_cli.walk_forward.is_empty());
    let out = sweep::evaluate(
        &cli_sweep,
        &native,
        cli.clone(),
        Default::default(),
        "grid",
        None,
    )
    .unwrap();
    let finished = finish_job(
        &browser,
        &FinishJob {
            backtest: backtest.clone(),
            sweep: grid,
            chosen: s_ours.chosen,
            in_sample: ours
                .iter()
                .find(|r| Some(r.index) == s_ours.chosen)
                .and_then(|r| r.metrics),
            steps: s_ours.walk_forward.clone(),
            universe: None,
        },
        &mut SignalCache::default(),
    )
    .unwrap();
    assert_eq!(finished.chosen, out.chosen);
    assert!(finished.chosen.as_ref().unwrap().out_of_sample.is_some());
    assert_eq!(finished.walk_forward, out.walk_forward);

    // A seeded random search over three weights and the leverage, weights summing to 1.
    let (_, cli) = cli_rows(
        &[
            "--random",
            "40",
            "--seed",
            "7",
            "--sum",
            "1",
            "--axis",
            "strategy_weights.size=0:0.6",
            "--axis",
            "strategy_weights.volatility=0:0.6",
            "--axis",
            "strategy_weights.beta=0:0.6",
            "--axis",
            "leverage=0.5:2",
            "--out",
            "-",
        ],
        &native,
    );
    let dim = |path: &str, lo: f64, hi: f64| SearchDimSpec {
        path: path.into(),
        lo,
        hi,
    };
    let search = SweepSpec {
        scope: "blend".into(),
        metric: "sharpe".into(),
        search: Some(SearchSpec {
            dims: vec![
                dim("strategy_weights.size", 0.0, 0.6),
                dim("strategy_weights.volatility", 0.0, 0.6),
                dim("strategy_weights.beta", 0.0, 0.6),
                dim("leverage", 0.5, 2.0),
            ],
            n: 40,
            seed: 7,
            sum: Some(1.0),
        }),
        ..Default::default()
    };
    let ours = browser_rows(&browser, &backtest, &search, 40, 7);
    assert_eq!(ours.len(), 40);
    assert!(cli.iter().all(|r| r.metrics.is_some()));
    assert_eq!(ours, cli, "search rows differ");
    // Another seed draws other points: the comparison is not vacuous.
    let mut other = search.clone();
    other.search.as_mut().unwrap().seed = 8;
    let other_rows = browser_rows(&browser, &backtest, &other, 40, 40);
    assert_ne!(other_rows[0].values, ours[0].values);
}
