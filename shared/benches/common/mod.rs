//! The benchmark cases that run on any panel, shared by `kernels` (a synthetic market, here) and
//! `server/benches/real_panel.rs` (the predecessor's real data): the same cases on both panels,
//! so their figures compare. Each bench file names its groups with its own prefix (`synth/`,
//! `real/`).

use criterion::{BatchSize, Criterion};
use shared::backtest::{self, BacktestSettings};
use shared::config::Config;
use shared::portfolio::engine::{TargetCache, TargetEngine};
use shared::sim::{self, FnSource, SimConfig};
use shared::Panel;
use std::hint::black_box;

/// `base` with only `name` switched on (weight 1), as a sweep over one strategy runs.
pub fn only(base: &Config, name: &str) -> Config {
    let mut c = base.clone();
    for s in c.strategy_names() {
        c.set_weight(&s, if s == name { 1.0 } else { 0.0 }).unwrap();
    }
    c
}

/// Every day's blended targets: the signal half of a backtest.
pub fn walk(engine: &TargetEngine, panel: &Panel) -> Vec<f64> {
    let n = panel.n_assets();
    let mut out = vec![0.0; panel.n_days() * n];
    let mut cache = TargetCache::new();
    for t in 0..panel.n_days() {
        engine.blend_into(panel, t, &mut cache, &mut out[t * n..(t + 1) * n]);
    }
    out
}

/// `{prefix}/sweep_point/volatility/window_{w}`: one sweep point of the volatility strategy
/// alone at each window.
pub fn sweep_points(c: &mut Criterion, prefix: &str, p: &Panel, windows: &[usize]) {
    let settings = BacktestSettings::default();
    let vol = only(&Config::lockstep_default().unwrap(), "volatility");
    let mut g = c.benchmark_group(format!("{prefix}/sweep_point/volatility"));
    for &w in windows {
        let mut cfg = vol.clone();
        cfg.set_param("volatility", "volatility_window", w as f64)
            .unwrap();
        g.bench_function(format!("window_{w}"), |b| {
            b.iter(|| backtest::metrics_for_config(p, &cfg, &settings).unwrap())
        });
    }
    g.finish();
}

/// `{prefix}/targets/live_one_date/full_history`: `lockstep targets` for the last date of the
/// default config. The panel is cut fresh each time (its derived series are computed inside the
/// timing, as for a server that just loaded its data) and the cache is empty. With
/// `lookback_rows`, also `…/lookback_rows`: the same on only the rows a live server holds.
pub fn live_targets(c: &mut Criterion, prefix: &str, p: &Panel, lookback_rows: bool) {
    let engine = TargetEngine::from_config(&Config::lockstep_default().unwrap()).unwrap();
    let t = p.n_days() - 1;
    let mut g = c.benchmark_group(format!("{prefix}/targets/live_one_date"));
    g.bench_function("full_history", |b| {
        b.iter_batched(
            || p.truncate_to(t).unwrap(),
            |q| black_box(engine.targets_at(&q, t, &mut TargetCache::new())),
            BatchSize::LargeInput,
        )
    });
    if lookback_rows {
        let l = engine.lookback();
        g.bench_function("lookback_rows", |b| {
            b.iter_batched(
                || p.window(t + 1 - l, t).unwrap(),
                |q| black_box(engine.targets_at(&q, l - 1, &mut TargetCache::new())),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// `{prefix}/split/default/…`: the default backtest's two halves apart — the signals of every
/// day, then the simulation of those targets with and without the per-day detail.
pub fn split_default(c: &mut Criterion, prefix: &str, p: &Panel) {
    let default = Config::lockstep_default().unwrap();
    let engine = TargetEngine::from_config(&default).unwrap();
    let mut g = c.benchmark_group(format!("{prefix}/split/default"));
    g.bench_function("signals", |b| b.iter(|| walk(&engine, p)));
    let targets = walk(&engine, p);
    let n = p.n_assets();
    let sim_cfg = BacktestSettings::default().sim_config(Some(&default.rebalance));
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
                sim::simulate(p, 0, p.n_days() - 1, &cfg, &mut src).unwrap()
            })
        });
    }
    g.finish();
}

/// `{prefix}/signals_by_strategy/{name}`: each strategy's signals alone over every day.
pub fn signals_by_strategy(c: &mut Criterion, prefix: &str, p: &Panel) {
    let default = Config::lockstep_default().unwrap();
    let engine = TargetEngine::from_config(&default).unwrap();
    let mut g = c.benchmark_group(format!("{prefix}/signals_by_strategy"));
    for s in &engine.strategies {
        let e = TargetEngine::from_config(&only(&default, &s.name)).unwrap();
        g.bench_function(s.name.as_str(), |b| b.iter(|| walk(&e, p)));
    }
    g.finish();
}
