//! The consistency report's scenario: the paper broker runs the live cycle for 60 simulated days
//! on the real panel (the predecessor's files when `../shared/data/original` is present, else the
//! synthetic market), with slippage and fees that differ from the backtest's cost model, one
//! order the venue rejects, and one close revised after a plan used it. The gap attribution must
//! put each into its bucket, the buckets must add up to the gap, and nothing may stay
//! unexplained.

use server::broker::paper::PaperBroker;
use server::broker::{
    Account, Broker, BrokerError, FundingPaid, OrderReport, OrderRequest, OrderStatus, VenueRule,
};
use server::commands::import::import_paths;
use server::live::{paper_broker, CycleOptions, FixedClock, LiveService, LiveSettings};
use server::parity::gaps::part;
use server::parity::shadow;
use server::store::market::Record;
use server::store::testing::{Engine, TestStore};
use server::store::Store;
use shared::config::Config;
use shared::synth::{generate, SynthConfig};
use shared::{Day, Field, Panel};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const DAY_MS: i64 = 86_400_000;
const DAYS: i32 = 60;
/// Day (index into the 60) whose largest entry order the venue rejects.
const FAIL_DAY: i32 = 10;
/// Day whose close of a traded symbol is revised, two days later.
const REVISION_DAY: i32 = 35;
const MODEL_FEE_BPS: f64 = 10.0;
const MODEL_SLIPPAGE_BPS: f64 = 2.0;
const PAPER_FEE_BPS: f64 = 6.0;
const PAPER_SLIPPAGE_BPS: f64 = 15.0;

/// Writes a synthetic panel into the store (the fallback when the real files are absent).
async fn seed_synthetic(store: &Store) -> &'static str {
    let panel = generate(&SynthConfig {
        seed: 11,
        n_assets: 40,
        n_days: 500,
        start: Day(19_000),
    })
    .unwrap();
    // Bars, market caps and funding: the scenario's market has no supply snapshots.
    let records: Vec<Record> = crate::common::panel_rows(&panel, 0..=panel.n_days() - 1, false)
        .into_iter()
        .filter(|r| !matches!(r, Record::Supply { .. }))
        .collect();
    crate::common::store_synthetic(store, "scenario panel", &records).await;
    "synthetic"
}

/// The paper broker, except that it rejects the one order whose client order id is `fail`
/// (a venue refusing an order); everything else goes to the paper account.
struct RejectOne {
    inner: PaperBroker,
    fail: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Broker for RejectOne {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn account(&self) -> Result<Account, BrokerError> {
        self.inner.account().await
    }
    async fn marks(&self, symbols: &[String]) -> Result<BTreeMap<String, f64>, BrokerError> {
        self.inner.marks(symbols).await
    }
    async fn rules(&self, symbols: &[String]) -> Result<BTreeMap<String, VenueRule>, BrokerError> {
        self.inner.rules(symbols).await
    }
    async fn submit(&self, orders: &[OrderRequest]) -> Result<Vec<OrderReport>, BrokerError> {
        let fail = self.fail.lock().unwrap().clone();
        let mut out = Vec::new();
        for o in orders {
            if fail.as_deref() == Some(o.client_order_id.as_str()) {
                out.push(OrderReport {
                    client_order_id: o.client_order_id.clone(),
                    symbol: o.symbol.clone(),
                    status: OrderStatus::Rejected {
                        reason: "Insufficient margin to place order (injected)".into(),
                    },
                    filled_units: 0.0,
                    avg_price: 0.0,
                    fee: 0.0,
                });
            } else {
                out.extend(self.inner.submit(std::slice::from_ref(o)).await?);
            }
        }
        Ok(out)
    }
    async fn reconcile(&self, ids: &[String]) -> Result<Vec<OrderReport>, BrokerError> {
        self.inner.reconcile(ids).await
    }
    async fn observe_close(
        &self,
        panel: &Panel,
        t: usize,
        persist: bool,
    ) -> Result<(), BrokerError> {
        self.inner.observe_close(panel, t, persist).await
    }
    async fn funding_paid(
        &self,
        from: Day,
        to: Day,
    ) -> Result<Option<BTreeMap<Day, FundingPaid>>, BrokerError> {
        self.inner.funding_paid(from, to).await
    }
}

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

fn close_of(panel: &Panel, symbol: &str, day: Day) -> f64 {
    let a = panel.asset_index(symbol).unwrap();
    panel.get(Field::Close, a, panel.row_of(day).unwrap())
}

#[tokio::test]
async fn sixty_days_of_paper_trading_are_attributed_to_the_right_buckets() {
    let started = std::time::Instant::now();
    let t = TestStore::new(Engine::Sqlite, "consistency").await.unwrap();
    let store = &t.store;
    let source = match crate::common::real_data_dir(
        "the consistency scenario runs on the synthetic market instead",
    ) {
        Some(dir) => {
            import_paths(store, &[dir]).await.unwrap();
            server::commands::import::SOURCE
        }
        None => seed_synthetic(store).await,
    };
    let import_secs = started.elapsed().as_secs_f64();
    let (_, panel0) = store.panel().await.unwrap().unwrap();
    let end = panel0.day(last_full_day(&panel0));
    let first = Day(end.0 - DAYS + 1);

    let mut config = Config::lockstep_default().unwrap();
    // The scenario wants exactly one failed order, so it steers clear of two venue-rounding
    // rejections of the paper venue (plan.rs matters, not this scenario's): sizes are fixed at
    // 3 decimals (with per-price decimals, a position opened at 1 decimal and closed after the
    // price crossed a power of ten rounds its reduce-only exit above the position), and coins
    // that traded below $0.10 are left out (prices then have at most 6 − 3 decimals, which
    // rounds their limit price past the mark).
    let window = panel0.row_of(first).unwrap()..=panel0.row_of(end).unwrap();
    for (a, s) in panel0.symbols().iter().enumerate() {
        if window.clone().any(|t| panel0.get(Field::Close, a, t) < 0.1) {
            config.stablecoins.push(s.clone());
        }
    }
    config.rebalance.fee_bps = MODEL_FEE_BPS;
    config.rebalance.slippage_bps = MODEL_SLIPPAGE_BPS;
    let mut settings = LiveSettings::default();
    settings.paper.fee_bps = Some(PAPER_FEE_BPS);
    settings.paper.slippage_bps = Some(PAPER_SLIPPAGE_BPS);
    settings.paper.size_decimals = Some(3);
    // The scenario is about attribution, not risk limits: none may block a plan.
    settings.risk.max_gross_leverage = 100.0;
    settings.risk.max_weight_per_symbol = 100.0;
    settings.risk.max_order_notional = 1e12;
    settings.risk.max_daily_turnover = 1e6;
    let store_arc = Arc::new(store.clone());
    let broker = Arc::new(RejectOne {
        inner: paper_broker(store_arc.clone(), &settings, &config),
        fail: Mutex::new(None),
    });
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
        actor: "scenario".into(),
    };

    // The first day from FAIL_DAY on with an entry order.
    let mut fail_day = Day(i32::MAX);
    // The first day from REVISION_DAY on with a fill that leaves a position.
    let mut revision_day = Day(i32::MAX - 2);
    let mut failed: Option<(String, f64)> = None; // symbol, units
    let mut revision: Option<(String, f64, f64)> = None; // symbol, old close, new close
    let mut plan_ids: Vec<(Day, String)> = Vec::new();
    let cycles_started = std::time::Instant::now();
    for i in 0..DAYS {
        let day = Day(first.0 + i);
        clock.set((day.0 as i64 + 1) * DAY_MS + 3_600_000);
        if day == Day(revision_day.0 + 2) {
            // Revise a close a plan traded at two days ago: +4 %.
            let (sym, _) = revision.clone().map(|r| (r.0, r.1)).unwrap();
            let (_, p) = store.panel().await.unwrap().unwrap();
            let a = p.asset_index(&sym).unwrap();
            let row = p.row_of(revision_day).unwrap();
            let g = |f: Field| p.get(f, a, row);
            let new_close = g(Field::Close) * 1.04;
            store
                .upsert(
                    source,
                    &[Record::Bar {
                        symbol: sym.clone(),
                        day: revision_day,
                        open: g(Field::Open),
                        high: g(Field::High).max(new_close),
                        low: g(Field::Low),
                        close: new_close,
                        volume: g(Field::Volume),
                    }],
                )
                .await
                .unwrap();
            revision = Some((sym, g(Field::Close), new_close));
        }
        let out = live.run_cycle(&opts).await.unwrap();
        let plan = out.plan;
        assert_eq!(plan.summary.data_day, day.to_string());
        assert!(!plan.summary.blocked, "{:?}", plan.summary.block_reasons);
        // The largest entry (a position the account does not hold yet).
        let entry = plan
            .lines
            .iter()
            .filter(|l| l.client_order_id.is_some() && l.current_units == 0.0)
            .max_by(|a, b| a.notional.abs().total_cmp(&b.notional.abs()));
        if let (Some(line), true) = (entry, failed.is_none() && i >= FAIL_DAY) {
            fail_day = day;
            *broker.fail.lock().unwrap() = line.client_order_id.clone();
            failed = Some((line.symbol.clone(), line.size.parse().unwrap()));
        }
        // A minute later (the snapshots before and after the trades must not share a time).
        clock.set((day.0 as i64 + 1) * DAY_MS + 3_660_000);
        let done = live.approve(&plan.summary.id, "scenario").await.unwrap();
        if day == fail_day {
            assert_eq!(done.summary.status, "partially_failed");
            *broker.fail.lock().unwrap() = None;
        } else {
            assert_eq!(done.summary.status, "done", "{:?}", done.note);
        }
        if revision.is_none() && i >= REVISION_DAY {
            // A symbol bought or sold today and held afterwards.
            let account = live.broker().account().await.unwrap();
            let o = done
                .orders
                .iter()
                .filter(|o| o.status == "filled")
                .filter(|o| account.positions.iter().any(|p| p.symbol == o.symbol))
                .max_by(|a, b| {
                    (a.filled_units * a.avg_price)
                        .abs()
                        .total_cmp(&(b.filled_units * b.avg_price).abs())
                });
            if let Some(o) = o {
                revision_day = day;
                revision = Some((o.symbol.clone(), f64::NAN, f64::NAN));
            }
        }
        plan_ids.push((day, plan.summary.id.clone()));
    }
    let cycles_secs = cycles_started.elapsed().as_secs_f64();

    // --- the report ------------------------------------------------------------------------------
    let (_, panel) = store.panel().await.unwrap().unwrap();
    let report_started = std::time::Instant::now();
    let detail = shadow::shadow_detail(&live, &panel, first, end)
        .await
        .unwrap()
        .attribution;
    let (shadow, gaps, costs) = shadow::shadow_and_gaps(&live, &panel, first, end)
        .await
        .unwrap();
    let report_ms = report_started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(gaps.days.len(), DAYS as usize);
    assert_eq!(shadow.days.len(), DAYS as usize);
    assert_eq!(shadow.policy, "threshold(0.03)");
    assert_eq!(shadow.start_equity, 100_000.0);

    // Hand-computed from the orders: Σ over fills of the modelled minus the actual slippage and
    // fees, against today's close of the plan's day.
    let (mut slip, mut fees, mut notional, mut actual_slip, mut n_fills) = (0.0, 0.0, 0.0, 0.0, 0);
    let (mut paid, mut per_fill) = (0.0, Vec::new());
    let mut fills_by_day: BTreeMap<Day, BTreeMap<String, f64>> = BTreeMap::new();
    for (day, id) in &plan_ids {
        for o in live.plan(id).await.unwrap().orders {
            if o.filled_units == 0.0 {
                continue;
            }
            let (u, p) = (o.filled_units, o.avg_price);
            let c = close_of(&panel, &o.symbol, *day);
            slip += MODEL_SLIPPAGE_BPS / 1e4 * u.abs() * c - u * (p - c);
            fees += MODEL_FEE_BPS / 1e4 * u.abs() * c - o.fee;
            notional += u.abs() * c;
            actual_slip += u * (p - c);
            paid += o.fee;
            n_fills += 1;
            per_fill.push((*day, o.symbol.clone(), u, p, c, o.fee));
            *fills_by_day
                .entry(*day)
                .or_default()
                .entry(o.symbol.clone())
                .or_default() += u;
        }
    }
    let direct = |b: usize| detail.days.iter().map(|d| d.direct[b]).sum::<f64>();
    let total = &gaps.total;

    eprintln!(
        "consistency scenario ({} assets x {} days, {} .. {}): import {import_secs:.1} s, 60 cycles {cycles_secs:.1} s, report {report_ms:.0} ms",
        panel.n_assets(),
        panel.n_days(),
        first,
        end
    );
    eprintln!(
        "live {:.2} -> {:.2} ({:+.3} %), shadow -> {:.2} ({:+.3} %)",
        shadow.start_equity,
        shadow.days.last().unwrap().live_equity.unwrap(),
        shadow.live_return * 100.0,
        shadow.days.last().unwrap().shadow_equity,
        shadow.shadow_return * 100.0
    );
    eprintln!(
        "gap {:.4}: skipped {:.4}, slippage {:.4} (direct {:.4}, hand {:.4}), fees {:.4} (direct {:.4}, hand {:.4}), funding {:.4}, other {:.4}, unexplained {:.2e}",
        total.total,
        total.skipped,
        total.slippage,
        direct(part::SLIPPAGE),
        slip,
        total.fees,
        direct(part::FEES),
        fees,
        total.funding,
        total.other,
        total.unexplained
    );
    eprintln!("costs: {costs:?}");
    for d in &gaps.days {
        let p = &d.parts;
        if [p.skipped, p.other, p.funding]
            .iter()
            .any(|x| x.abs() > 1.0)
        {
            eprintln!(
                "  {}: total {:+.2} skipped {:+.2} slippage {:+.2} fees {:+.2} funding {:+.4} other {:+.2}",
                d.day, p.total, p.skipped, p.slippage, p.fees, p.funding, p.other
            );
        }
    }

    // --- the buckets add up, nothing is unexplained ------------------------------------------
    let last = shadow.days.last().unwrap();
    assert!(
        (total.total - (last.live_equity.unwrap() - last.shadow_equity)).abs() < 1e-6,
        "the total gap is the equity difference"
    );
    for d in &gaps.days {
        let p = &d.parts;
        let sum = p.skipped + p.slippage + p.fees + p.funding + p.other + p.unexplained;
        assert!(
            (sum - p.total).abs() < 1e-9,
            "{}: {sum} vs {}",
            d.day,
            p.total
        );
        assert!(
            (d.live_pnl - d.shadow_pnl - p.total).abs() < 1e-9,
            "{}",
            d.day
        );
        assert!(
            p.unexplained.abs() < 1e-6,
            "{}: unexplained {}",
            d.day,
            p.unexplained
        );
    }
    let sum = total.skipped
        + total.slippage
        + total.fees
        + total.funding
        + total.other
        + total.unexplained;
    assert!((sum - total.total).abs() < 1e-8);
    assert!(
        total.unexplained.abs() < 1e-6,
        "unexplained {}",
        total.unexplained
    );

    // --- per symbol: the parts add up to the period's; the causes land on their symbols ------
    for (name, of) in [
        (
            "skipped",
            (|p: &app::api::AttributionParts| p.skipped) as fn(&_) -> f64,
        ),
        ("slippage", |p| p.slippage),
        ("fees", |p| p.fees),
        ("funding", |p| p.funding),
        ("other", |p| p.other),
    ] {
        let sum: f64 = gaps.symbols.iter().map(|s| of(&s.parts)).sum();
        assert!(
            (sum - of(total)).abs() < 1e-6 * of(total).abs().max(1.0),
            "{name}: symbols {sum} vs period {}",
            of(total)
        );
    }
    for w in gaps.symbols.windows(2) {
        assert!(w[0].parts.total.abs() >= w[1].parts.total.abs());
    }
    eprintln!("symbols explaining most of the gap:");
    for s in gaps.symbols.iter().take(5) {
        let p = &s.parts;
        eprintln!(
            "  {}: total {:+.2} = skipped {:+.2} slippage {:+.2} fees {:+.2} funding {:+.4} other {:+.2}",
            s.symbol, p.total, p.skipped, p.slippage, p.fees, p.funding, p.other
        );
    }

    // --- slippage and fees: exactly the hand-computed amounts, plus their carry --------------
    assert!((direct(part::SLIPPAGE) - slip).abs() < 1e-6 * notional.max(1.0) * 1e-4 + 1e-6);
    assert!((direct(part::FEES) - fees).abs() < 1e-6 * notional.max(1.0) * 1e-4 + 1e-6);
    assert!(
        slip < 0.0 && fees > 0.0,
        "paper slippage above, fees below the model"
    );
    // The carry (the return the money lost or saved would have earned) is a small fraction.
    assert!(
        (total.slippage - slip).abs() < 0.15 * slip.abs() + 1.0,
        "slippage {} vs {slip}",
        total.slippage
    );
    assert!(
        (total.fees - fees).abs() < 0.15 * fees.abs() + 1.0,
        "fees {} vs {fees}",
        total.fees
    );
    // The calibration: fees and distance from today's close over the traded notional.
    assert_eq!(costs.fills, n_fills);
    assert!((costs.traded_notional - notional).abs() < 1e-6);
    assert!((costs.implied_fee_bps.unwrap() - paid / notional * 1e4).abs() < 1e-9);
    assert!((costs.implied_slippage_bps.unwrap() - actual_slip / notional * 1e4).abs() < 1e-9);
    // Every fill but the revised one is exactly the paper venue's 15 bps from the close and
    // paid its 6 bps; the revised close moves its fill by the revision.
    let (rsym0, rday0) = (revision.as_ref().unwrap().0.clone(), revision_day);
    for (day, sym, u, p, c, fee) in &per_fill {
        if *day == rday0 && *sym == rsym0 {
            continue;
        }
        let bps = u.signum() * (p - c) / c * 1e4;
        assert!(
            (bps - PAPER_SLIPPAGE_BPS).abs() < 1e-6,
            "{day} {sym}: {bps} bps"
        );
        assert!(
            (fee / (u.abs() * c) * 1e4 - PAPER_FEE_BPS).abs() < 1e-6,
            "{day} {sym}"
        );
    }
    let advice = costs.suggestion.as_deref().expect("a suggestion");
    assert!(
        advice.contains("fee_bps") && advice.contains("slippage_bps"),
        "{advice}"
    );

    // --- the failed order lands in `other` ------------------------------------------------------
    let (fsym, funits) = failed.unwrap();
    let rate = (MODEL_FEE_BPS + MODEL_SLIPPAGE_BPS) / 1e4;
    let fi = (fail_day.0 - first.0) as usize;
    let ri = (revision_day.0 - first.0) as usize;
    eprintln!("failed entry on {fail_day} (day {fi}), revision of {revision_day} (day {ri})");
    assert!(fi + 1 < ri, "an entry failed before the revision");
    let day_other = |i: usize| gaps.days[i].parts.other;
    for i in 0..fi {
        assert!(
            day_other(i).abs() < 1e-6,
            "{}: other {}",
            gaps.days[i].day,
            day_other(i)
        );
    }
    // The fail day: the shadow paid the modelled cost of the trade the live book did not make.
    let c0 = close_of(&panel, &fsym, fail_day);
    let saved = rate * funits.abs() * c0;
    eprintln!(
        "failed order {fsym} {funits} units at {c0}: other on the day {:.4} (cost saved {saved:.4})",
        day_other(fi)
    );
    assert!(
        (day_other(fi) - saved).abs() < 0.02 * saved + 0.05,
        "{} vs {saved}",
        day_other(fi)
    );
    // The next day: the missing position's P&L and the cost of entering it then.
    let next = Day(fail_day.0 + 1);
    let bought = fills_by_day[&next]
        .get(&fsym)
        .copied()
        .expect("re-entered the next day");
    let c1 = close_of(&panel, &fsym, next);
    let a = panel.asset_index(&fsym).unwrap();
    let r1 = panel.get(Field::FundingRate, a, panel.row_of(next).unwrap());
    let g1 = c1 - c0 - c1 * if r1.is_finite() { r1 } else { 0.0 };
    // The re-entry's cost share of the missing units (the rest of the re-entry is the day's
    // target change, which the threshold made the live book trade and the shadow not).
    let expected = -funits * g1 - rate * funits.abs() * c1;
    eprintln!(
        "  next day: other {:.4}, expected {expected:.4} (missing {funits} x {g1:.6}, re-entry {bought})",
        day_other(fi + 1)
    );
    assert!(
        (day_other(fi + 1) - expected).abs() < 0.05 * expected.abs() + 0.5,
        "{} vs {expected}",
        day_other(fi + 1)
    );

    // --- the revision: the snapshot valued at the old close, reversed the next day ------------
    let (rsym, old, new) = revision.unwrap();
    assert!((close_of(&panel, &rsym, revision_day) - new).abs() < 1e-12);
    assert!(ri + 3 < DAYS as usize, "the revision happened in time");
    let held: f64 = live
        .plan(&plan_ids[ri + 1].1)
        .await
        .unwrap()
        .lines
        .iter()
        .find(|l| l.symbol == rsym)
        .map_or(0.0, |l| l.current_units);
    let reval = held * (old - new);
    eprintln!(
        "revision {rsym} {revision_day}: {old} -> {new}, held {held}: revaluation {reval:.4}; other direct {:.4} then {:.4}",
        detail.days[ri].direct[part::OTHER],
        detail.days[ri + 1].direct[part::OTHER]
    );
    assert!((detail.days[ri].direct[part::OTHER] - reval).abs() < 1e-6 * reval.abs().max(1.0));
    assert!((detail.days[ri + 1].direct[part::OTHER] + reval).abs() < 1e-6 * reval.abs().max(1.0));
    // Funding: the paper venue charges the model's funding, except on the revised day, which it
    // charged at the old close.
    let before: f64 = live
        .plan(&plan_ids[ri].1)
        .await
        .unwrap()
        .lines
        .iter()
        .find(|l| l.symbol == rsym)
        .map_or(0.0, |l| l.current_units);
    let ra = panel.asset_index(&rsym).unwrap();
    let rate_r = panel.get(Field::FundingRate, ra, panel.row_of(revision_day).unwrap());
    let funding_rev = before * (new - old) * if rate_r.is_finite() { rate_r } else { 0.0 };
    for (i, d) in detail.days.iter().enumerate() {
        let expected = if i == ri { funding_rev } else { 0.0 };
        assert!(
            (d.direct[part::FUNDING] - expected).abs() < 1e-9,
            "{}: funding {} vs {expected}",
            d.day,
            d.direct[part::FUNDING]
        );
    }
    eprintln!("scenario total {:.1} s", started.elapsed().as_secs_f64());
}
