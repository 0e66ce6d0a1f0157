//! The native side of the browser benchmark (issue 16): the Sweep page's 1,000-point grid
//! (volatility alone, window 10..59 × rebalance every 1..20 days) on the very panel the browser
//! gets (the `/api/panel` body, decoded with the same codec), run as the page's workers run it
//! (`Sweep::run_chunk_cached`, one signal cache per worker), on one thread and on two.
//! `end2end/bench` runs it right after the browser's sweep and prints both figures side by
//! side; by hand:
//!
//! ```sh
//! curl -o /tmp/panel.bin 'http://127.0.0.1:PORT/api/panel?fields=close,volume,market_cap,circulating_supply,funding_rate,open_interest'
//! cargo bench -p shared --bench browser_grid -- /tmp/panel.bin
//! ```
//!
//! Also issue 14's 1,000-point blend grid (`strategy_weights.size` × `strategy_weights.beta` ×
//! `leverage`, 10 values each, the default config: `real/research/blend_grid_1000_one_core_cold`
//! of `server/benches/real_panel.rs`) on one thread from a cold signal cache, best of three.
//! `--blend-only` runs that grid once and nothing else, for a profiler; `--synth` takes the
//! synthetic market of `benches/kernels.rs` (136 × 2,125, every asset priced every day: harsher
//! than the real panel) instead of a panel file:
//!
//! ```sh
//! valgrind --tool=callgrind target/release/deps/browser_grid-HASH --blend-only /tmp/panel.bin
//! ```
//!
//! Prints one JSON object on stdout. A bench binary rather than criterion: the figure wanted
//! is one pass over the grid, as in the page, not a per-iteration estimate.

use shared::backtest::{self, BacktestSettings};
use shared::config::Config;
use shared::portfolio::signals::SignalCache;
use shared::sweep::{axis_values, Axis, AxisTarget, Sweep};
use shared::Panel;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn grid() -> Sweep {
    let mut config = Config::lockstep_default().expect("the shipped config");
    for s in config.strategy_names() {
        let w = if s == "volatility" { 1.0 } else { 0.0 };
        config.set_weight(&s, w).expect("a known strategy");
    }
    let param = |p: &str, from: f64, to: f64, steps: usize| Axis {
        target: AxisTarget::Param {
            strategy: "volatility".into(),
            param: p.into(),
        },
        values: axis_values(from, to, steps),
    };
    Sweep::new(
        config,
        vec![
            param("volatility_window", 10.0, 59.0, 50),
            param("rebalance_days", 1.0, 20.0, 20),
        ],
        BacktestSettings::default(),
    )
    .expect("a valid grid")
}

/// Issue 14's blend grid: size's and beta's weights 0..0.45 and the leverage 0.5..2.75, 10
/// values each, over the shipped config (every strategy's signals are the same at every point).
fn blend_grid() -> Sweep {
    let axis = |path: &str, from: f64, to: f64| Axis {
        target: AxisTarget::parse(path).expect("a known path"),
        values: axis_values(from, to, 10),
    };
    Sweep::new(
        Config::lockstep_default().expect("the shipped config"),
        vec![
            axis("strategy_weights.size", 0.0, 0.45),
            axis("strategy_weights.beta", 0.0, 0.45),
            axis("leverage", 0.5, 2.75),
        ],
        BacktestSettings::default(),
    )
    .expect("a valid grid")
}

/// Milliseconds for the whole grid on `threads` threads taking chunks of `chunk` points from a
/// shared counter, each with its own cache (as the page's pool hands chunks to its workers).
fn run(sweep: &Sweep, panel: &Panel, threads: usize, chunk: usize) -> f64 {
    let n = sweep.n_points();
    let next = AtomicUsize::new(0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut cache = SignalCache::default();
                loop {
                    let start = next.fetch_add(chunk, Ordering::Relaxed);
                    if start >= n {
                        break;
                    }
                    let end = (start + chunk).min(n);
                    let rows = sweep
                        .run_chunk_cached(panel, start..end, &mut cache, &mut |_, _| {}, &|| false)
                        .expect("the grid runs");
                    assert!(rows.rows.iter().all(|r| r.error.is_none()));
                }
            });
        }
    });
    t0.elapsed().as_secs_f64() * 1000.0
}

/// The fastest of `runs` timings of `f`, in milliseconds.
fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let blend_only = std::env::args().any(|a| a == "--blend-only");
    let synth = std::env::args().any(|a| a == "--synth");
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .or_else(|| std::env::var("LOCKSTEP_PANEL_FILE").ok());
    let bytes = match (&path, synth) {
        (Some(path), false) => {
            Some(std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}")))
        }
        (None, false) => {
            eprintln!(
                "usage: cargo bench -p shared --bench browser_grid -- [--blend-only] \
                 PANEL_FILE (an /api/panel body) | --synth"
            );
            std::process::exit(2);
        }
        (_, true) => None,
    };
    // A new panel, as decoded (its derived series not computed yet).
    let load = || match &bytes {
        None => shared::synth::generate(&shared::synth::SynthConfig {
            n_assets: 136,
            n_days: 2125,
            ..shared::synth::SynthConfig::default()
        })
        .expect("the synthetic market"),
        Some(bytes) => {
            shared::panel_codec::decode(bytes)
                .expect("an /api/panel body")
                .panel
        }
    };
    let t0 = Instant::now();
    let panel = load();
    let decode_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let t0 = Instant::now();
    panel.derive_all();
    let derive_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let blend = blend_grid();
    if blend_only {
        let ms = run(&blend, &panel, 1, blend.n_points());
        println!(
            "{}",
            serde_json::json!({ "blend_grid_1000_one_thread_cold_ms": ms })
        );
        return;
    }
    // A cold cache each time (`run` starts one per thread): signals once, then 1,000 blends.
    let blend_ms = best(3, || {
        run(&blend, &panel, 1, blend.n_points());
    });
    let sweep = grid();
    let n = sweep.n_points();
    // The page's chunking for two workers (app/src/pool.rs).
    let chunk = (n / 16).clamp(1, 50);
    let one = run(&sweep, &panel, 1, chunk);
    let two = run(&sweep, &panel, 2, chunk);

    // One point's phases, as the worker's profile splits them (app/src/worker.rs).
    let (config, settings) = sweep.point_at(0).expect("point 0");
    let cold = best(5, || {
        let mut c = SignalCache::default();
        backtest::metrics_with_signals(&panel, &config, &settings, &mut c).unwrap();
    });
    let mut cache = SignalCache::default();
    backtest::metrics_with_signals(&panel, &config, &settings, &mut cache).unwrap();
    let warm = best(5, || {
        backtest::metrics_with_signals(&panel, &config, &settings, &mut cache).unwrap();
    });
    let direct = best(5, || {
        backtest::metrics_for_config(&panel, &config, &settings).unwrap();
    });
    // The Backtest page's default backtest (the page times `backtest::run` the same way).
    let default = Config::lockstep_default().expect("the shipped config");
    let default_backtest_ms = best(5, || {
        backtest::run(&panel, &default, &BacktestSettings::default()).unwrap();
    });
    // The same on a panel just decoded: its derived series are computed inside the run (the
    // Backtest page derives them when the panel arrives, `app::data`).
    let default_backtest_new_panel_ms = (0..3)
        .map(|_| {
            let fresh = load();
            let t0 = Instant::now();
            backtest::run(&fresh, &default, &BacktestSettings::default()).unwrap();
            t0.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::INFINITY, f64::min);
    println!(
        "{}",
        serde_json::json!({
            "panel": format!("{} assets × {} days", panel.n_assets(), panel.n_days()),
            "decode_ms": decode_ms,
            "derive_ms": derive_ms,
            "points": n,
            "one_thread_ms": one,
            "one_thread_point_ms": one / n as f64,
            "two_threads_wall_ms": two,
            "two_threads_point_ms_per_thread": two * 2.0 / n as f64,
            "default_backtest_ms": default_backtest_ms,
            "default_backtest_new_panel_ms": default_backtest_new_panel_ms,
            "blend_grid_1000_one_thread_cold_ms": blend_ms,
            "profile_point0": {"cold_ms": cold, "warm_ms": warm, "signals_ms": (cold - warm).max(0.0), "direct_ms": direct},
        })
    );
}
