//! Kernel benchmarks on a synthetic market sized like the real panel (136 assets × 2,125 days,
//! `shared::synth`), so they run anywhere. The same cases on the real data live in
//! `server/benches/real_panel.rs`; figures and how to read them in `docs/benchmarks.md`.
//!
//! `cargo bench -p shared --bench kernels -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use shared::backtest::{self, BacktestSettings};
use shared::config::Config;
use shared::portfolio::engine::{TargetCache, TargetEngine};
use shared::sim::{self, FnSource, SimConfig};
use shared::synth::{generate, SynthConfig};
use shared::Panel;
use std::hint::black_box;

fn panel() -> Panel {
    generate(&SynthConfig {
        n_assets: 136,
        n_days: 2125,
        ..SynthConfig::default()
    })
    .expect("synthetic panel")
}

/// The default config with only `name` switched on (weight 1), as a sweep over one strategy runs.
fn only(name: &str) -> Config {
    let mut c = Config::lockstep_default().expect("default config");
    for s in c.strategy_names() {
        c.set_weight(&s, if s == name { 1.0 } else { 0.0 }).unwrap();
    }
    c
}

/// Every day's blended targets: the signal half of a backtest.
fn walk(engine: &TargetEngine, panel: &Panel) -> Vec<f64> {
    let n = panel.n_assets();
    let mut out = vec![0.0; panel.n_days() * n];
    let mut cache = TargetCache::new();
    for t in 0..panel.n_days() {
        engine.blend_into(panel, t, &mut cache, &mut out[t * n..(t + 1) * n]);
    }
    out
}

fn benches(c: &mut Criterion) {
    let p = panel();
    let default = Config::lockstep_default().unwrap();
    let settings = BacktestSettings::default();

    c.bench_function("synth/backtest/default", |b| {
        b.iter(|| backtest::run(&p, &default, &settings).unwrap())
    });

    let mut g = c.benchmark_group("synth/sweep_point/volatility");
    for w in [10, 30, 90] {
        let mut cfg = only("volatility");
        cfg.set_param("volatility", "volatility_window", w as f64)
            .unwrap();
        g.bench_function(format!("window_{w}"), |b| {
            b.iter(|| backtest::metrics_for_config(&p, &cfg, &settings).unwrap())
        });
    }
    g.finish();

    let engine = TargetEngine::from_config(&default).unwrap();
    let t = p.n_days() - 1;
    // Live: a fresh panel each time (its derived series are computed inside the timing, as a
    // server that just loaded its data would), and an empty cache.
    c.bench_function("synth/targets/live_one_date", |b| {
        b.iter_batched(
            || p.truncate_to(t).unwrap(),
            |q| black_box(engine.targets_at(&q, t, &mut TargetCache::new())),
            BatchSize::LargeInput,
        )
    });

    let mut g = c.benchmark_group("synth/split/default");
    g.bench_function("signals", |b| b.iter(|| walk(&engine, &p)));
    let targets = walk(&engine, &p);
    let n = p.n_assets();
    let sim_cfg = settings.sim_config(Some(&default.rebalance));
    for (label, detail) in [
        ("simulation_detail", true),
        ("simulation_metrics_only", false),
    ] {
        let cfg = SimConfig {
            record_detail: detail,
            ..sim_cfg
        };
        g.bench_function(label, |b| {
            b.iter(|| {
                let mut src = FnSource(|r: usize, w: &mut [f64]| {
                    w.copy_from_slice(&targets[r * n..(r + 1) * n]);
                    true
                });
                sim::simulate(&p, 0, p.n_days() - 1, &cfg, &mut src).unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("synth/signals_by_strategy");
    for s in &engine.strategies {
        let e = TargetEngine::from_config(&only(&s.name)).unwrap();
        g.bench_function(s.name.as_str(), |b| b.iter(|| walk(&e, &p)));
    }
    g.finish();
}

criterion_group! {
    name = kernels;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(kernels);
