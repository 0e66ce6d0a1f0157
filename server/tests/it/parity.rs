//! The parity contract, checked on every date: what a live server computes for day `t` from only
//! the history it holds equals, bit for bit, what the backtest computed for `t`, for every
//! strategy and for the blend. Run on the predecessor's real panel (when `../shared/data/original`
//! is present beside the repository) and always on the synthetic market.

use server::commands::{self, backtest::BacktestArgs, targets::TargetsArgs};
use shared::backtest::{self, BacktestSettings};
use shared::config::Config;
use shared::portfolio::engine::{TargetCache, TargetEngine};
use shared::strategies::STRATEGY_NAMES;
use shared::synth::{self, SynthConfig};
use shared::Panel;

/// The seed config with every strategy switched on, so each one is checked, not just the
/// ones the team trades today.
fn every_strategy_config(base: &str) -> Config {
    let mut config = Config::from_json(base).expect("config parses");
    for name in STRATEGY_NAMES {
        config
            .set_weight(name, 1.0 / STRATEGY_NAMES.len() as f64)
            .expect("known strategy");
    }
    config
}

/// Walks every date the way the backtest does (one engine, one cache), and for each date
/// recomputes the live way: a fresh engine cache on a copy of the panel holding only the
/// engine's lookback. Every strategy's targets, activity and the blend must match exactly.
fn assert_parity_every_date(panel: &Panel, config: &Config) {
    let engine = TargetEngine::from_config(config).expect("engine builds");
    let lookback = engine.lookback();
    let result = backtest::run(panel, config, &BacktestSettings::default()).expect("backtest runs");
    let mut backtest_targets = vec![vec![0.0; panel.n_assets()]; panel.n_days()];
    for row in &result.targets {
        let t = panel.row_of(row.date).expect("target date in panel");
        let a = panel
            .asset_index(&row.symbol)
            .expect("target symbol in panel");
        backtest_targets[t][a] = row.weight;
    }
    let mut walk_cache = TargetCache::new();
    let mut active_days = 0usize;
    for (t, expected) in backtest_targets.iter().enumerate() {
        let walked = engine.targets_at(panel, t, &mut walk_cache);
        let first = (t + 1).saturating_sub(lookback);
        let held = panel.window(first, t).expect("window inside panel");
        let live = engine.targets_at(&held, t - first, &mut TargetCache::new());
        let day = panel.day(t);
        assert_eq!(walked.day, live.day);
        for (w, l) in walked.strategies.iter().zip(&live.strategies) {
            assert_eq!(w.activity, l.activity, "{day} {}: activity", w.name);
            assert_eq!(w.computed_on, l.computed_on, "{day} {}: anchor", w.name);
            for (a, (x, y)) in w.targets.iter().zip(&l.targets).enumerate() {
                assert_eq!(
                    x.to_bits(),
                    y.to_bits(),
                    "{day} {} {}: {x} vs {y}",
                    w.name,
                    panel.symbols()[a]
                );
            }
        }
        for (a, (x, y)) in walked.weights.iter().zip(&live.weights).enumerate() {
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "{day} blend {}: {x} vs {y}",
                panel.symbols()[a]
            );
            let b = expected[a];
            assert_eq!(
                b.to_bits(),
                y.to_bits(),
                "{day} backtest target {}: {b} vs live {y}",
                panel.symbols()[a]
            );
        }
        active_days += usize::from(walked.weights.iter().any(|w| *w != 0.0));
    }
    // A parity check over empty books would prove nothing.
    assert!(
        active_days > panel.n_days() / 2,
        "only {active_days} of {} days hold positions",
        panel.n_days()
    );
}

#[test]
fn parity_on_every_date_of_the_synthetic_market() {
    let panel = synth::generate(&SynthConfig {
        n_assets: 60,
        n_days: 700,
        ..SynthConfig::default()
    })
    .unwrap();
    assert_parity_every_date(
        &panel,
        &every_strategy_config(shared::config::DEFAULT_CONFIG_JSON),
    );
}

#[test]
fn parity_on_every_date_of_the_real_panel() {
    let Some(dir) =
        crate::common::real_data_dir("real-panel parity skipped, synthetic parity still runs")
    else {
        return;
    };
    let panel = commands::load_panel(&dir).unwrap();
    let seed = std::fs::read_to_string(dir.join("all_strategies_config_seed.json")).unwrap();
    assert_parity_every_date(&panel, &every_strategy_config(&seed));
    // And the config the team trades, unchanged.
    assert_parity_every_date(&panel, &Config::from_json(&seed).unwrap());
}

/// The two commands users script against agree to the bit: `lockstep targets --date D` prints
/// exactly the targets `lockstep backtest` recorded for D.
#[test]
fn targets_command_equals_backtest_json() {
    let Some(dir) =
        crate::common::real_data_dir("real-panel parity skipped, synthetic parity still runs")
    else {
        return;
    };
    let config = dir.join("all_strategies_config_seed.json");
    let out = std::env::temp_dir().join(format!("lockstep-parity-{}.json", std::process::id()));
    let result = commands::backtest::run(
        &BacktestArgs {
            config: Some(config.clone()),
            data: Some(dir.clone()),
            start: None,
            end: None,
            policy: None,
            out: out.clone(),
        },
        "sqlite::memory:",
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert_eq!(
        json["targets"].as_array().unwrap().len(),
        result.targets.len()
    );
    for date in ["2021-06-30", "2023-03-15", "2025-10-25"] {
        let live = commands::targets::run(
            &TargetsArgs {
                config: Some(config.clone()),
                data: Some(dir.clone()),
                date: Some(date.parse().unwrap()),
            },
            "sqlite::memory:",
        )
        .unwrap();
        let recorded: Vec<_> = json["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["date"] == date)
            .collect();
        assert!(!recorded.is_empty(), "backtest holds targets on {date}");
        assert_eq!(recorded.len(), live.weights.len(), "{date}");
        for r in recorded {
            let sym = r["symbol"].as_str().unwrap();
            let w = r["weight"].as_f64().unwrap();
            assert_eq!(live.weights[sym].to_bits(), w.to_bits(), "{date} {sym}");
        }
    }
}
