//! The kernel benchmarks on the predecessor's real panel (136 assets, 2020-01-01..2025-10-25),
//! read from `../shared/data/original` (or `$LOCKSTEP_REAL_DATA`) with the same CSV reader as
//! `lockstep backtest`. Without the data it prints a notice and benches nothing. These are the
//! figures the issue's budgets are stated in; `docs/benchmarks.md` records them.
//!
//! `cargo bench -p server --bench real_panel -- --warm-up-time 1 --measurement-time 3`

#[path = "../../shared/benches/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::backtest::{self, BacktestSettings};
use shared::config::Config;
use shared::portfolio::signals::SignalCache;
use shared::research::summary;
use shared::sweep::{Axis, AxisTarget, Sweep, SweepRow};
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LOCKSTEP_REAL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/original")
        });
    dir.join("coinbase_top200_daily.csv")
        .exists()
        .then_some(dir)
}

/// 1,000 blend points on the default config: size and beta weights (10 × 10) × leverage (10).
fn blend_grid(base: &Config) -> Sweep {
    let axis = |path: &str, from: f64, to: f64| Axis {
        target: AxisTarget::parse(path).unwrap(),
        values: shared::sweep::axis_values(from, to, 10),
    };
    Sweep::new(
        base.clone(),
        vec![
            axis("strategy_weights.size", 0.0, 0.45),
            axis("strategy_weights.beta", 0.0, 0.45),
            axis("leverage", 0.5, 2.75),
        ],
        BacktestSettings::default(),
    )
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let Some(dir) = data_dir() else {
        eprintln!(
            "notice: real data not found (../shared/data/original or $LOCKSTEP_REAL_DATA); \
             nothing benchmarked"
        );
        return;
    };
    let p = server::commands::load_panel(&dir).expect("real panel loads");
    let default = Config::lockstep_default().unwrap();
    let seed_text = std::fs::read_to_string(dir.join("all_strategies_config_seed.json")).unwrap();
    let seed = Config::from_json(&seed_text).unwrap();
    let settings = BacktestSettings::default();

    c.bench_function("real/backtest/default", |b| {
        b.iter(|| backtest::run(&p, &default, &settings).unwrap())
    });
    c.bench_function("real/backtest/seed", |b| {
        b.iter(|| backtest::run(&p, &seed, &settings).unwrap())
    });

    // One sweep point: the default config's volatility params (rebalance every 3 days, quintile
    // selection, equal weight) at several windows; then the heaviest variant the strategy
    // allows (daily rebalance, risk parity on the same window).
    common::sweep_points(c, "real", &p, &[10, 30, 60, 90]);
    let mut g = c.benchmark_group("real/sweep_point/volatility");
    let heavy = Config::from_json(
        r#"{"strategy_weights": {"volatility": 1},
            "params": {"volatility": {"volatility_window": 30, "rebalance_days": 1,
                                      "weighting_method": "risk_parity"}}}"#,
    )
    .unwrap();
    g.bench_function("daily_risk_parity_window_30", |b| {
        b.iter(|| backtest::metrics_for_config(&p, &heavy, &settings).unwrap())
    });
    g.finish();

    common::live_targets(c, "real", &p, true);
    common::split_default(c, "real", &p);

    // Research (issue 14): a blend point with each strategy's signals recorded once, a
    // 1,000-point blend grid on one core from a cold cache (the signals computed inside the
    // timing), the records' memory, and PBO/DSR over 1,000 and 10,000 trials.
    let mut g = c.benchmark_group("real/research");
    let mut cache = SignalCache::default();
    backtest::metrics_with_signals(&p, &default, &settings, &mut cache).unwrap();
    eprintln!(
        "signal records of the default config: {} strategies, {:.2} MB",
        cache.len(),
        cache.bytes() as f64 / 1e6,
    );
    let mut k = 0u32;
    g.bench_function("blend_point_cached", |b| {
        b.iter(|| {
            // A different blend each time: size's weight and the leverage move.
            k = k.wrapping_add(1);
            let mut cfg = default.clone();
            cfg.set_weight("size", 0.05 + 0.01 * (k % 30) as f64)
                .unwrap();
            cfg.leverage = 1.0 + 0.01 * (k % 7) as f64;
            backtest::metrics_with_signals(&p, &cfg, &settings, &mut cache).unwrap()
        })
    });
    let grid = blend_grid(&default);
    assert_eq!(grid.n_points(), 1000);
    g.bench_function("blend_grid_1000_one_core_cold", |b| {
        b.iter(|| {
            let mut cache = SignalCache::default();
            grid.run_chunk_cached(&p, 0..1000, &mut cache, &mut |_, _| {}, &|| false)
                .unwrap()
        })
    });
    let mut cache = SignalCache::default();
    let rows = grid
        .run_chunk_cached(&p, 0..1000, &mut cache, &mut |_, _| {}, &|| false)
        .unwrap()
        .rows;
    let evaluation = grid.evaluation().clone();
    g.bench_function("summary_dsr_pbo_1000_trials_s16", |b| {
        b.iter(|| summary::summarize(&rows, &evaluation))
    });
    let many: Vec<SweepRow> = (0..10)
        .flat_map(|k| {
            rows.iter().map(move |r| SweepRow {
                index: r.index + 1000 * k,
                ..r.clone()
            })
        })
        .collect();
    g.bench_function("summary_dsr_pbo_10000_trials_s16", |b| {
        b.iter(|| summary::summarize(&many, &evaluation))
    });
    g.finish();

    common::signals_by_strategy(c, "real", &p);
}

criterion_group! {
    name = real_panel;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(real_panel);
