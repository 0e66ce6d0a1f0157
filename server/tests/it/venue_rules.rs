//! `rebalance.venue_rules`: the backtest trades the live plan's lots. The paper broker runs the
//! live cycle for 60 days on the real panel under Hyperliquid-like rules (a $10 minimum, lots
//! that follow the price, the plan's 2 % limit band); the backtest of the same config over the
//! same days, with the same rules, makes exactly the trades the executed plans made: per day the
//! same symbols, sides and sizes, to the last bit.

use server::commands::import::import_paths;
use server::live::{paper_broker, CycleOptions, FixedClock, LiveService, LiveSettings};
use server::parity::calibration::{account_costs, resolve_costs};
use server::store::testing::{Engine, TestStore};
use shared::backtest::{self, BacktestSettings};
use shared::config::{Config, CostModel};
use shared::{Day, Field, Panel};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::common::{cycle_ms, real_data_dir};

const DAYS: i32 = 60;

/// The last day on which at least 10 assets have a close.
fn last_full_day(panel: &Panel) -> usize {
    (0..panel.n_days())
        .rev()
        .find(|&t| {
            (0..panel.n_assets())
                .filter(|&a| panel.get(Field::Close, a, t).is_finite())
                .count()
                >= 10
        })
        .expect("a day with prices")
}

/// (symbol, signed units) of a day, sorted.
type DayTrades = Vec<(String, f64)>;

#[tokio::test]
async fn sixty_days_of_backtest_trades_are_the_executed_plans_lines() {
    let Some(dir) = real_data_dir("the venue-rules parity test is skipped") else {
        return;
    };
    // Hyperliquid-like: a $10 minimum and lots that follow the price, on $100,000 …
    let (orders, dropped) = sixty_days(&dir, "venue_rules", 100_000.0, None).await;
    assert!(orders > 100, "{orders} orders in 60 days");
    assert!(
        dropped > 0,
        "some lines fall under the minimum or round away"
    );
    // … and a small account on coarse lots (2 decimals: 0.01 BTC), where the lots, the minimum
    // and the tick grid (6 − 2 price decimals) drop many lines.
    let (orders, dropped) = sixty_days(&dir, "venue_rules_small", 3_000.0, Some(2)).await;
    assert!(orders > 50, "{orders} orders in 60 days");
    assert!(dropped > 20, "{dropped} lines dropped");
}

/// Trades 60 days on the paper broker with `cash` and `size_decimals`, checks the backtest's
/// trades against the executed plans', and returns (orders, lines dropped by the venue's rules).
async fn sixty_days(
    dir: &std::path::Path,
    schema: &str,
    cash: f64,
    size_decimals: Option<u32>,
) -> (usize, usize) {
    let t = TestStore::new(Engine::Sqlite, schema).await.unwrap();
    let store = &t.store;
    import_paths(store, &[dir.to_path_buf()]).await.unwrap();
    let (_, panel) = store.panel().await.unwrap().unwrap();
    let end = panel.day(last_full_day(&panel));
    let first = Day(end.0 - DAYS + 1);

    let mut config = Config::lockstep_default().unwrap();
    config.rebalance.venue_rules = Some(true);
    config.rebalance.fee_bps = 4.5;
    config.rebalance.slippage_bps = 0.0;
    let mut settings = LiveSettings::default();
    // Hyperliquid's $10 minimum (the default).
    assert_eq!(settings.paper.min_notional, 10.0);
    settings.paper.initial_cash = cash;
    settings.paper.size_decimals = size_decimals;
    // Rounding, not risk limits, is under test: none may block a plan.
    settings.risk.max_gross_leverage = 100.0;
    settings.risk.max_weight_per_symbol = 100.0;
    settings.risk.max_order_notional = 1e12;
    settings.risk.max_daily_turnover = 1e6;
    let store_arc = Arc::new(store.clone());
    let broker = Arc::new(paper_broker(store_arc.clone(), &settings, &config));
    let clock = Arc::new(FixedClock::new(0));
    let live = LiveService::new(
        store_arc,
        settings.clone(),
        config.clone(),
        broker.clone(),
        clock.clone(),
    )
    .unwrap();
    let opts = CycleOptions {
        dry_run: false,
        actor: "venue_rules".into(),
    };

    let mut live_trades: BTreeMap<Day, DayTrades> = BTreeMap::new();
    let (mut dropped_small, mut orders) = (0, 0);
    for i in 0..DAYS {
        let day = Day(first.0 + i);
        clock.set(cycle_ms(day));
        let plan = live.run_cycle(&opts).await.unwrap().plan;
        assert_eq!(plan.summary.data_day, day.to_string());
        assert!(!plan.summary.blocked, "{:?}", plan.summary.block_reasons);
        clock.set(cycle_ms(day) + 60_000);
        let done = live.approve(&plan.summary.id, "venue_rules").await.unwrap();
        assert_eq!(done.summary.status, "done", "{day}: {:?}", done.note);
        for l in &done.lines {
            let why = l.dropped.as_deref().unwrap_or("");
            if why.contains("below the venue minimum")
                || why.contains("rounds to 0")
                || why.contains("limit price")
                || why.contains("less than one lot")
            {
                dropped_small += 1;
            }
        }
        let mut trades: DayTrades = Vec::new();
        for o in &done.orders {
            assert_eq!(o.status, "filled", "{day} {}: {:?}", o.symbol, o.reason);
            // The line's size is the order's, and the fill is the whole of it.
            let line = done.lines.iter().find(|l| l.symbol == o.symbol).unwrap();
            assert_eq!(line.size, o.size);
            let sent: f64 = o.size.parse().unwrap();
            assert!(
                (o.filled_units - sent).abs() <= 1e-9 * sent.abs(),
                "{day} {}: filled {} of {sent}",
                o.symbol,
                o.filled_units
            );
            trades.push((o.symbol.clone(), o.filled_units));
            orders += 1;
        }
        trades.sort_by(|a, b| a.0.cmp(&b.0));
        live_trades.insert(day, trades);
    }

    // The backtest of the same config, on the same rules, from the same cash.
    let account = live.broker().account().await.unwrap();
    eprintln!(
        "{first}..{end} on ${cash} ({size_decimals:?} size decimals): {orders} orders, \
         {dropped_small} lines dropped by the venue's rules; live equity {:.2}",
        account.equity
    );
    let run = |config: &Config, lots: Option<shared::venue::LotRules>| {
        backtest::run(
            &panel,
            config,
            &BacktestSettings {
                start: Some(first),
                end: Some(end),
                initial_nav: settings.paper.initial_cash,
                lots,
                ..BacktestSettings::default()
            },
        )
        .unwrap()
    };
    let bt = run(&config, Some(settings.lots(settings.paper.initial_cash)));
    let mut sim_trades: BTreeMap<Day, DayTrades> = BTreeMap::new();
    for tr in &bt.trades {
        sim_trades
            .entry(tr.date)
            .or_default()
            .push((tr.symbol.clone(), tr.units));
    }
    for i in 0..DAYS {
        let day = Day(first.0 + i);
        let mut sim = sim_trades.remove(&day).unwrap_or_default();
        sim.sort_by(|a, b| a.0.cmp(&b.0));
        let live = &live_trades[&day];
        assert_eq!(
            sim.iter().map(|t| &t.0).collect::<Vec<_>>(),
            live.iter().map(|t| &t.0).collect::<Vec<_>>(),
            "{day}: the symbols traded"
        );
        for ((s, u), (_, v)) in sim.iter().zip(live) {
            assert_eq!(u.signum(), v.signum(), "{day} {s}: side");
            assert_eq!(u.to_bits(), v.to_bits(), "{day} {s}: size {u} vs {v}");
        }
    }
    assert!(sim_trades.is_empty());
    let nav = bt.equity.last().unwrap().nav;
    eprintln!("backtest NAV {nav:.2} (live {:.2})", account.equity);
    assert!((nav - account.equity).abs() < 1e-6 * account.equity);

    // `rebalance.cost_model: "calibrated"` reads the paper venue's 4.5 bps fee and zero
    // slippage back from the account's fills.
    let measured = account_costs(store, "paper", &panel, first, end, 10.0, 2.0)
        .await
        .unwrap();
    assert_eq!(measured.fills, orders);
    let mut calibrated = config.rebalance.clone();
    calibrated.cost_model = CostModel::Calibrated;
    let resolved = resolve_costs(&calibrated, &measured, "paper", first, end);
    assert_eq!(resolved.used, CostModel::Calibrated);
    assert!((resolved.costs.fee_bps - 4.5).abs() < 1e-9, "{resolved:?}");
    assert!(resolved.costs.slippage_bps.abs() < 1e-9, "{resolved:?}");
    let note = resolved.note.unwrap();
    assert!(
        note.contains(&format!("{orders} fills on paper ({first}..{end}")),
        "{note}"
    );

    // Without the rules the backtest trades the exact weights: other trades.
    config.rebalance.venue_rules = Some(false);
    let exact = run(&config, None);
    assert_ne!(exact.trades.len(), bt.trades.len());
    (orders, dropped_small)
}
