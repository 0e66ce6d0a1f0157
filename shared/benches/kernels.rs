//! Kernel benchmarks on a synthetic market sized like the real panel (136 assets × 2,125 days,
//! `shared::synth`), so they run anywhere. The same cases on the real data live in
//! `server/benches/real_panel.rs` (both use `common/`); figures and how to read them in
//! `docs/benchmarks.md`.
//!
//! `cargo bench -p shared --bench kernels -- --warm-up-time 1 --measurement-time 3`

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::backtest::{self, BacktestSettings};
use shared::config::Config;
use shared::synth::{generate, SynthConfig};
use shared::Panel;

fn panel() -> Panel {
    generate(&SynthConfig {
        n_assets: 136,
        n_days: 2125,
        ..SynthConfig::default()
    })
    .expect("synthetic panel")
}

fn benches(c: &mut Criterion) {
    let p = panel();
    let default = Config::lockstep_default().unwrap();
    let settings = BacktestSettings::default();

    c.bench_function("synth/backtest/default", |b| {
        b.iter(|| backtest::run(&p, &default, &settings).unwrap())
    });
    common::sweep_points(c, "synth", &p, &[10, 30, 90]);
    common::live_targets(c, "synth", &p, false);
    common::split_default(c, "synth", &p);
    common::signals_by_strategy(c, "synth", &p);
}

criterion_group! {
    name = kernels;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(kernels);
