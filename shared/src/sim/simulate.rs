//! The daily loop of the simulator; the semantics are documented in the parent module.

use super::{
    CostedFill, Costs, Decision, SimConfig, SimError, SimOutput, TargetSource, Trade, TradeReason,
};
use crate::panel::Panel;

/// Simulates panel rows `first..=last` with targets from `source`.
///
/// All buffers are allocated before the daily loop; inside it nothing allocates except the
/// trade list, which is reserved up front and only grows if a run trades more than about four
/// assets a day on average.
///
/// # Errors
/// [`SimError`] for an invalid config or range, a non-finite target, or a failing source.
pub fn simulate<S: TargetSource>(
    panel: &Panel,
    first: usize,
    last: usize,
    cfg: &SimConfig,
    source: &mut S,
) -> Result<SimOutput, SimError<S::Error>> {
    validate(panel, first, last, cfg)?;
    let n_assets = panel.n_assets();
    let n_days = last - first + 1;
    let n_strat = source.n_strategies();
    let detail = cfg.record_detail;
    let attribute = detail && n_strat > 0;

    let mut out = SimOutput {
        start: panel.day(first),
        n_assets,
        n_strategies: n_strat,
        initial_nav: cfg.initial_nav,
        nav: Vec::with_capacity(n_days),
        returns: Vec::with_capacity(n_days),
        gross: Vec::with_capacity(n_days),
        net: Vec::with_capacity(n_days),
        turnover: Vec::with_capacity(n_days),
        fees: Vec::with_capacity(n_days),
        funding: Vec::with_capacity(n_days),
        holdings: Vec::with_capacity(if detail { n_days * n_assets } else { 0 }),
        trades: Vec::with_capacity(if detail { 4 * n_days + n_assets } else { 0 }),
        contributions: Vec::with_capacity(if attribute { n_days * n_strat } else { 0 }),
        unattributed: Vec::with_capacity(if detail { n_days } else { 0 }),
    };

    let mut units = vec![0.0; n_assets];
    let mut mark = vec![f64::NAN; n_assets];
    let mut stale = vec![0u32; n_assets];
    let mut asset_pnl = vec![0.0; n_assets];
    let mut asset_fee = vec![0.0; n_assets];
    let mut target = vec![0.0; n_assets];
    // Value of each held asset at the previous close (after that day's trades): the base of
    // the asset's return today, for attribution.
    let mut asset_val0 = vec![0.0; n_assets];
    // The breakdown is only read for attribution: without it the source gets an empty slice
    // and skips the work.
    let by_len = if attribute { n_strat * n_assets } else { 0 };
    let mut by = vec![0.0; by_len];
    let mut prev_by = vec![0.0; by_len];
    let mut contrib = vec![0.0; n_strat];
    // Assets held after the previous day's trades, ascending, and today's held-or-targeted
    // assets, ascending. The loops below visit only these: every skipped asset would have
    // contributed nothing, and the visit order is the asset order either way, so the sums are
    // the same bits as a loop over every asset.
    let mut held: Vec<usize> = Vec::with_capacity(n_assets);
    let mut touch: Vec<usize> = Vec::with_capacity(n_assets);
    let mut targeted: Vec<usize> = vec![0; n_assets];
    let mut n_targeted = 0;

    let mut cash = cfg.initial_nav;
    let mut nav_prev = cfg.initial_nav;
    // Dollars per unit of NAV under venue rules (1 when the book starts at `capital`, as the
    // shadow of a live account does: then its units are the account's, bit for bit).
    let scale = cfg.venue.map_or(1.0, |v| v.capital / cfg.initial_nav);

    for (i, row) in (first..=last).enumerate() {
        let day = panel.day(row);
        // Today's close and funding of every asset, adjacent in memory (a row-major copy the
        // panel makes once): the loops below read only held or targeted assets.
        let cf = panel.close_and_funding_at(row);
        if row < last {
            prefetch(panel.close_and_funding_at(row + 1));
        }
        if detail {
            asset_pnl.fill(0.0);
            asset_fee.fill(0.0);
            asset_val0.fill(0.0);
        }
        let mut fills = Fills {
            fees: 0.0,
            traded: 0.0,
            cash_delta: 0.0,
            costs: cfg.costs,
            day,
            detail,
        };

        // 1–4. Mark held assets, charge funding, value the book, close long-stale assets.
        let mut funding_paid = 0.0;
        let mut held_value = 0.0;
        for &a in &held {
            if units[a] == 0.0 {
                continue;
            }
            // Asset P&L and opening values feed only the attribution (`detail`).
            if detail {
                asset_val0[a] = units[a] * mark[a];
            }
            let [c, rate] = cf[a];
            if c.is_finite() && c > 0.0 {
                if detail {
                    asset_pnl[a] = units[a] * (c - mark[a]);
                }
                mark[a] = c;
                stale[a] = 0;
            } else {
                stale[a] += 1;
            }
            if rate.is_finite() {
                let f = units[a] * mark[a] * rate;
                cash -= f;
                funding_paid += f;
                if detail {
                    asset_pnl[a] -= f;
                }
            }
            held_value += units[a] * mark[a];
            if stale[a] >= cfg.stale_days {
                // At the mark: the NAV moves only by the fee.
                fills.fill(
                    a,
                    -units[a],
                    0.0,
                    mark[a],
                    TradeReason::StaleClose,
                    &mut units,
                    &mut asset_fee,
                    &mut out.trades,
                );
                stale[a] = 0;
            }
        }
        let nav_pre = cash + held_value;

        // 5. Targets decided at this close; the first day always trades to them. `target`
        // keeps the previous day's targets: on a `Same` day (most days between rebalance
        // dates) they, the compacted list and the breakdown stay as they were.
        by.fill(0.0);
        let decision = source
            .targets(row, &mut target, &mut by)
            .map_err(|source| SimError::Source { day, source })?;
        let same = decision == Decision::Same && i > 0;
        let rebalance = match decision {
            Decision::New { rebalance } => rebalance || i == 0,
            Decision::Same => i == 0,
        };
        if same {
            by.copy_from_slice(&prev_by);
        } else {
            // Branch-free compaction of the non-zero targets (a scan of every asset), then a
            // merge with the held list.
            let mut all_finite = true;
            n_targeted = 0;
            for (a, &w) in target.iter().enumerate() {
                all_finite &= w.is_finite();
                targeted[n_targeted] = a;
                n_targeted += usize::from(w != 0.0);
            }
            if !all_finite {
                let a = target
                    .iter()
                    .position(|w| !w.is_finite())
                    .expect("one is not");
                return Err(SimError::BadTarget {
                    day,
                    asset: a,
                    value: target[a],
                });
            }
        }
        touch.clear();
        let (mut h, mut k) = (0, 0);
        while h < held.len() || k < n_targeted {
            let next = match (held.get(h), targeted[..n_targeted].get(k)) {
                (Some(&x), Some(&y)) => x.min(y),
                (Some(&x), None) => x,
                (None, Some(&y)) => y,
                (None, None) => unreachable!("loop condition"),
            };
            h += usize::from(held.get(h) == Some(&next));
            k += usize::from(targeted[..n_targeted].get(k) == Some(&next));
            touch.push(next);
        }
        let ruined = nav_pre <= 0.0;

        // 6–7. Policy per asset on the current weight; unpriced assets cannot trade.
        let (mut value, mut gross_value) = (0.0, 0.0);
        held.clear();
        for &a in &touch {
            let t = if ruined { 0.0 } else { target[a] };
            if units[a] == 0.0 && t == 0.0 {
                continue;
            }
            let c = cf[a][0];
            if c.is_finite() && c > 0.0 {
                let current = if units[a] != 0.0 {
                    units[a] * mark[a] / nav_pre
                } else {
                    0.0
                };
                if cfg.policy.should_trade(rebalance, current, t) {
                    let want = if ruined { 0.0 } else { t * nav_pre / c };
                    // Under venue rules: the live plan's order, in the book's units.
                    let (d, new_units) = match &cfg.venue {
                        None => (want - units[a], want),
                        Some(lots) => match lots.trade(units[a] * scale, want * scale, c) {
                            Some(traded) if want == 0.0 && traded == -units[a] * scale => {
                                (-units[a], 0.0)
                            }
                            Some(traded) => {
                                let d = traded / scale;
                                (d, units[a] + d)
                            }
                            None => (0.0, units[a]),
                        },
                    };
                    if d != 0.0 {
                        mark[a] = c;
                        stale[a] = 0;
                        fills.fill(
                            a,
                            d,
                            new_units,
                            c,
                            TradeReason::Rebalance,
                            &mut units,
                            &mut asset_fee,
                            &mut out.trades,
                        );
                    }
                }
            }
            if units[a] != 0.0 {
                let v = units[a] * mark[a];
                value += v;
                gross_value += v.abs();
                held.push(a);
            }
        }

        // 8. Outputs.
        cash += fills.cash_delta;
        let nav = cash + value;
        out.nav.push(nav);
        out.returns.push(nav / nav_prev - 1.0);
        out.gross.push(gross_value / nav);
        out.net.push(value / nav);
        out.turnover.push(if nav_pre > 0.0 {
            fills.traded / nav_pre
        } else {
            0.0
        });
        out.fees.push(fills.fees);
        out.funding.push(funding_paid);

        if detail {
            for a in 0..n_assets {
                out.holdings.push(if units[a] != 0.0 {
                    units[a] * mark[a] / nav
                } else {
                    0.0
                });
            }
            let mut unattributed = 0.0;
            contrib.fill(0.0);
            for a in 0..n_assets {
                if asset_pnl[a] != 0.0 {
                    // Strategy s earns its own target weight (decided at t-1) times the asset's
                    // return over the day; the rest (drift inside the band, positions that
                    // could not trade) is unattributed. No division by a netted target, so
                    // two strategies netting each other out cannot produce huge offsetting
                    // parts.
                    let mut rest = asset_pnl[a];
                    if attribute && asset_val0[a] != 0.0 {
                        let r = asset_pnl[a] / asset_val0[a];
                        for s in 0..n_strat {
                            let part = prev_by[s * n_assets + a] * nav_prev * r;
                            contrib[s] += part;
                            rest -= part;
                        }
                    }
                    unattributed += rest;
                }
                if asset_fee[a] != 0.0 {
                    let fee = asset_fee[a];
                    let basis = if attribute {
                        fee_basis(&by, &prev_by, n_strat, n_assets, a)
                    } else {
                        FeeBasis::None
                    };
                    for (s, c) in contrib.iter_mut().enumerate() {
                        let (x, y) = (by[s * n_assets + a], prev_by[s * n_assets + a]);
                        *c -= fee
                            * match basis {
                                FeeBasis::Change(tot) => (x - y).abs() / tot,
                                FeeBasis::Now(tot) => x.abs() / tot,
                                FeeBasis::Before(tot) => y.abs() / tot,
                                FeeBasis::None => break,
                            };
                    }
                    if basis == FeeBasis::None {
                        unattributed -= fee;
                    }
                }
            }
            out.contributions
                .extend(contrib.iter().map(|c| c / nav_prev));
            out.unattributed.push(unattributed / nav_prev);
            std::mem::swap(&mut prev_by, &mut by);
        }
        nav_prev = nav;
    }
    Ok(out)
}

/// What a fee on one asset is split by (see the module docs): the strategies' changes of
/// their target in it (what caused the trade), else their targets now, else their targets
/// before; each carries the total of the absolute values it divides by.
#[derive(Clone, Copy, Debug, PartialEq)]
enum FeeBasis {
    Change(f64),
    Now(f64),
    Before(f64),
    None,
}

fn fee_basis(by: &[f64], prev_by: &[f64], n_strat: usize, n_assets: usize, a: usize) -> FeeBasis {
    let (mut change, mut now, mut before) = (0.0, 0.0, 0.0);
    for s in 0..n_strat {
        let (x, y) = (by[s * n_assets + a], prev_by[s * n_assets + a]);
        change += (x - y).abs();
        now += x.abs();
        before += y.abs();
    }
    if change > 0.0 {
        FeeBasis::Change(change)
    } else if now > 0.0 {
        FeeBasis::Now(now)
    } else if before > 0.0 {
        FeeBasis::Before(before)
    } else {
        FeeBasis::None
    }
}

/// Asks the CPU to start loading tomorrow's row of closes and funding rates while today's is
/// processed: the held assets are scattered over the row, so without it each is a cache miss.
/// A hint only (no effect on any value); a no-op where the platform has no prefetch
/// instruction (wasm32).
#[inline]
fn prefetch(row: &[[f64; 2]]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // One hint per 64-byte line (four assets).
        for chunk in row.chunks(4) {
            // SAFETY: prefetching is a hint that never faults, and the pointer is in bounds.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(chunk.as_ptr().cast::<i8>()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// The day's fills: cash moves, fee and notional totals.
struct Fills {
    fees: f64,
    traded: f64,
    /// Cash moved by today's fills (applied after all of them: trades are sized on the NAV
    /// before fees).
    cash_delta: f64,
    costs: Costs,
    day: crate::calendar::Day,
    detail: bool,
}

impl Fills {
    #[allow(clippy::too_many_arguments)]
    #[inline]
    /// Trades `d` units of asset `a`, which then holds `new_units` (passed, not summed: an
    /// exact-weight trade sets the units to the target bit for bit, a venue-rounded one to
    /// what the venue's position would be).
    fn fill(
        &mut self,
        a: usize,
        d: f64,
        new_units: f64,
        price: f64,
        reason: TradeReason,
        units: &mut [f64],
        asset_fee: &mut [f64],
        trades: &mut Vec<Trade>,
    ) {
        let CostedFill {
            notional,
            cost: fee,
            cash_delta,
            ..
        } = self.costs.fill(d, price);
        self.cash_delta += cash_delta;
        units[a] = new_units;
        asset_fee[a] += fee;
        self.fees += fee;
        self.traded += notional;
        if self.detail {
            trades.push(Trade {
                day: self.day,
                asset: a,
                units: d,
                price,
                notional,
                fee,
                reason,
            });
        }
    }
}

fn validate<E>(
    panel: &Panel,
    first: usize,
    last: usize,
    cfg: &SimConfig,
) -> Result<(), SimError<E>> {
    let c = cfg.costs;
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    if !ok(c.fee_bps) || !ok(c.slippage_bps) {
        return Err(SimError::BadCosts {
            fee_bps: c.fee_bps,
            slippage_bps: c.slippage_bps,
        });
    }
    if cfg.stale_days == 0 {
        return Err(SimError::BadStaleDays);
    }
    if !(cfg.initial_nav.is_finite() && cfg.initial_nav > 0.0) {
        return Err(SimError::BadInitialNav(cfg.initial_nav));
    }
    if let Some(v) = cfg.venue {
        let fine = v.min_notional.is_finite()
            && v.min_notional >= 0.0
            && (0.0..1.0).contains(&v.max_slippage)
            && v.capital.is_finite()
            && v.capital > 0.0;
        if !fine {
            return Err(SimError::BadVenueRules {
                min_notional: v.min_notional,
                max_slippage: v.max_slippage,
                capital: v.capital,
            });
        }
    }
    cfg.policy.validate()?;
    if first > last || last >= panel.n_days() {
        return Err(SimError::BadRange {
            first,
            last,
            n_days: panel.n_days(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Costs, FnSource};
    use super::*;
    use crate::calendar::Day;
    use crate::panel::Field;
    use crate::portfolio::rebalance::RebalancePolicy;
    use proptest::prelude::*;
    use std::convert::Infallible;

    const NAN: f64 = f64::NAN;

    fn panel(closes: &[&[f64]], funding: &[&[f64]]) -> Panel {
        let n = closes[0].len();
        let syms = (0..closes.len()).map(|i| format!("A{i}")).collect();
        let mut p = Panel::new(Day(0), n, syms).unwrap();
        for (a, cs) in closes.iter().enumerate() {
            p.series_mut(Field::Close, a).copy_from_slice(cs);
        }
        for (a, fs) in funding.iter().enumerate() {
            p.series_mut(Field::FundingRate, a).copy_from_slice(fs);
        }
        p
    }

    fn cfg(policy: RebalancePolicy, fee_bps: f64) -> SimConfig {
        SimConfig {
            costs: Costs {
                fee_bps,
                slippage_bps: 0.0,
            },
            policy,
            initial_nav: 1000.0,
            ..SimConfig::default()
        }
    }

    fn constant(w: Vec<f64>) -> FnSource<impl FnMut(usize, &mut [f64]) -> bool> {
        FnSource(move |_, out: &mut [f64]| {
            out.copy_from_slice(&w);
            true
        })
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + b.abs())
    }

    #[test]
    fn hand_computed_long_short_with_fees() {
        let p = panel(&[&[100.0, 110.0, 99.0], &[50.0, 50.0, 55.0]], &[]);
        let c = cfg(RebalancePolicy::Time, 10.0);
        let out = simulate(&p, 0, 2, &c, &mut constant(vec![0.5, -0.5])).unwrap();
        // Day 0: buy 5 A (500), sell 10 B (500), fees 0.5 + 0.5.
        assert!(close(out.nav[0], 999.0));
        assert!(close(out.returns[0], -0.001));
        // Day 1: A +50; NAV 1049; back to ±0.5: A to 4.768181.. (25.5 sold), B to -10.49
        // (24.5 sold); fees 0.05.
        assert!(close(out.nav[1], 1048.95));
        assert!(close(out.returns[1], 1048.95 / 999.0 - 1.0));
        // Day 2: A -52.45, B -52.45; NAV 944.05; trades 0.025 and 104.925 notional.
        assert!(close(out.nav[2], 944.05 - 0.104_95));
        assert!(close(out.turnover[2], 104.95 / 944.05));
        assert!(close(out.fees[2], 0.104_95));
        assert_eq!(out.trades.len(), 6);
        let t = out.trades[2];
        assert_eq!(
            (t.day, t.asset, t.reason),
            (Day(1), 0, TradeReason::Rebalance)
        );
        assert!(close(t.units, 0.5 * 1049.0 / 110.0 - 5.0));
        assert!(close(t.notional, 25.5) && close(t.fee, 0.0255));
        // Holdings after trading are exactly on target under `time`.
        assert!(close(out.holdings_on(2)[0], 0.5 * 944.05 / out.nav[2]));
        assert!(close(out.gross[0], 1000.0 / 999.0));
        assert!(close(out.net[0], 0.0));
    }

    #[test]
    fn funding_longs_pay_shorts_receive_missing_is_zero() {
        // Day 0's funding must not be charged: nothing was held over (close -1, close 0].
        let p = panel(
            &[&[100.0, 100.0, 100.0], &[10.0, 10.0, 10.0]],
            &[&[0.5, 0.001, NAN], &[0.5, 0.002, 0.002]],
        );
        let out = simulate(
            &p,
            0,
            2,
            &cfg(RebalancePolicy::Time, 0.0),
            &mut constant(vec![1.0, -0.5]),
        )
        .unwrap();
        assert!(close(out.nav[0], 1000.0));
        // Long 10 A × 100 × 0.001 = 1 paid; short 50 B × 10 × 0.002 = 1 received.
        assert!(close(out.funding[1], 0.0));
        assert!(close(out.nav[1], 1000.0));
        // Day 2: A's rate missing (0); B still receives 0.5 × 1000 × 0.002 = 1.
        assert!(close(out.funding[2], -1.0));
        assert!(close(out.nav[2], 1001.0));

        let out = simulate(
            &p,
            0,
            1,
            &cfg(RebalancePolicy::Time, 0.0),
            &mut constant(vec![1.0, 0.0]),
        )
        .unwrap();
        assert!(close(out.nav[1], 999.0));
        assert!(close(out.returns[1], -0.001));
    }

    #[test]
    fn stale_price_is_held_then_force_closed_at_last_price() {
        let p = panel(
            &[
                &[100.0, 100.0, NAN, NAN, 120.0],
                &[10.0, 10.0, 10.0, 10.0, 10.0],
            ],
            &[],
        );
        let mut c = cfg(RebalancePolicy::default(), 10.0);
        c.stale_days = 2;
        let out = simulate(&p, 0, 4, &c, &mut constant(vec![0.5, 0.5])).unwrap();
        let a_trades: Vec<&Trade> = out.trades.iter().filter(|t| t.asset == 0).collect();
        // Enter day 0; nothing on day 1 (inside the band); day 2 cannot trade; day 3 closed at the
        // last price 100, not the 120 seen later; day 4 re-entered at 120.
        assert_eq!(a_trades.len(), 3, "{a_trades:?}");
        assert_eq!(a_trades[1].day, Day(3));
        assert_eq!(a_trades[1].reason, TradeReason::StaleClose);
        assert_eq!(a_trades[1].price, 100.0);
        assert!(close(a_trades[1].units, -a_trades[0].units));
        assert!(close(a_trades[1].fee, 0.001 * a_trades[1].notional));
        assert_eq!(a_trades[2].day, Day(4));
        assert_eq!(a_trades[2].price, 120.0);
        // On day 2 A is marked at 100 and still held.
        assert!(out.holdings_on(2)[0] > 0.49);
        assert_eq!(out.holdings_on(3)[0], 0.0);
        // After the stale close the cash earns nothing: NAV on day 3 = NAV day 2 - fee.
        assert!(close(out.nav[3], out.nav[2] - a_trades[1].fee));
    }

    #[test]
    fn threshold_entries_and_exits_always_trade() {
        let p = panel(&[&[1.0; 4], &[1.0; 4]], &[]);
        let plan = [[0.01, 0.0], [0.02, 0.01], [0.0, 0.05], [0.0, 0.055]];
        let mut src = FnSource(|row: usize, out: &mut [f64]| {
            out.copy_from_slice(&plan[row]);
            false
        });
        let th = RebalancePolicy::Threshold { threshold: 0.03 };
        let out = simulate(&p, 0, 3, &cfg(th, 0.0), &mut src).unwrap();
        let got: Vec<(i32, usize)> = out.trades.iter().map(|t| (t.day.0, t.asset)).collect();
        // Day 0 enters A (1 % < band); day 1 keeps A (0.01 away), enters B; day 2 exits A,
        // moves B by 0.04 > band; day 3 keeps B (0.005 away).
        assert_eq!(got, vec![(0, 0), (1, 1), (2, 0), (2, 1)]);
        assert!(close(out.holdings_on(1)[0], 0.01));
        assert!(close(out.holdings_on(3)[1], 0.05));
    }

    #[test]
    fn time_policy_drifts_between_rebalance_dates() {
        let p = panel(&[&[100.0, 200.0, 200.0], &[1.0; 3]], &[]);
        let mut src = FnSource(|row: usize, out: &mut [f64]| {
            out[0] = 0.5;
            row != 1
        });
        let out = simulate(&p, 0, 2, &cfg(RebalancePolicy::Time, 0.0), &mut src).unwrap();
        assert!(close(out.holdings_on(1)[0], 1000.0 / 1500.0));
        assert!(close(out.holdings_on(2)[0], 0.5));
        assert_eq!(out.trades.len(), 2);
        assert!(close(out.trades[1].units, 750.0 / 200.0 - 5.0));
    }

    #[test]
    fn unpriced_target_is_not_entered_and_bad_inputs_error() {
        let p = panel(&[&[NAN, 100.0], &[1.0, 1.0]], &[]);
        let out = simulate(
            &p,
            0,
            1,
            &cfg(RebalancePolicy::Time, 0.0),
            &mut constant(vec![0.5, 0.0]),
        )
        .unwrap();
        assert_eq!(out.trades.len(), 1);
        assert_eq!(out.trades[0].day, Day(1));
        let mut c = cfg(RebalancePolicy::Time, 0.0);
        assert!(matches!(
            simulate(&p, 1, 0, &c, &mut constant(vec![0.0, 0.0])),
            Err(SimError::BadRange { .. })
        ));
        assert!(matches!(
            simulate(&p, 0, 1, &c, &mut constant(vec![NAN, 0.0])),
            Err(SimError::BadTarget { asset: 0, .. })
        ));
        c.costs.fee_bps = -1.0;
        assert!(matches!(
            simulate(&p, 0, 1, &c, &mut constant(vec![0.0, 0.0])),
            Err(SimError::BadCosts { .. })
        ));
    }

    #[test]
    fn a_ruined_book_is_closed_and_stays_flat() {
        // 3× long, price falls 50 %: NAV 1000 → -500; everything is closed at that close.
        let p = panel(&[&[100.0, 50.0, 80.0, 90.0], &[1.0; 4]], &[]);
        let out = simulate(
            &p,
            0,
            3,
            &cfg(RebalancePolicy::Time, 0.0),
            &mut constant(vec![3.0, 0.0]),
        )
        .unwrap();
        assert!(close(out.nav[1], -500.0));
        assert_eq!(out.trades.len(), 2);
        assert_eq!(out.trades[1].day, Day(1));
        assert_eq!(out.holdings_on(2), &[0.0, 0.0]);
        assert_eq!(out.nav[3], out.nav[1]);
    }

    /// Two strategies: s0 long A 0.6, s1 short A 0.2 and long B 0.4.
    struct TwoStrategies;
    impl TargetSource for TwoStrategies {
        type Error = Infallible;
        fn n_strategies(&self) -> usize {
            2
        }
        fn targets(
            &mut self,
            _: usize,
            w: &mut [f64],
            by: &mut [f64],
        ) -> Result<Decision, Infallible> {
            by.copy_from_slice(&[0.6, 0.0, -0.2, 0.4]);
            w.copy_from_slice(&[0.4, 0.4]);
            Ok(Decision::New { rebalance: true })
        }
    }

    #[test]
    fn attribution_by_own_target_times_return_and_sums_to_the_return() {
        let p = panel(&[&[100.0, 110.0, 121.0], &[10.0, 9.0, 9.0]], &[]);
        let out = simulate(
            &p,
            0,
            2,
            &cfg(RebalancePolicy::Time, 10.0),
            &mut TwoStrategies,
        )
        .unwrap();
        for i in 0..3 {
            let sum: f64 =
                out.contributions[2 * i..2 * i + 2].iter().sum::<f64>() + out.unattributed[i];
            assert!(
                close(sum, out.returns[i]),
                "day {i}: {sum} vs {}",
                out.returns[i]
            );
        }
        // Day 0: only fees, split by each strategy's change of target. A: 400 notional, fee
        // 0.4, changes 0.6 and 0.2 → 0.3 / 0.1; B: fee 0.4, all s1's.
        assert!(close(out.contributions[0], -0.3 / 1000.0));
        assert!(close(out.contributions[1], -0.5 / 1000.0));
        assert_eq!(out.unattributed[0], 0.0);
        // Day 1: A +10 %, B -10 %. s0 earns 0.6 × 10 %; s1 -0.2 × 10 % + 0.4 × -10 %. The time
        // policy trades back to unchanged targets: the fees are split by the targets now
        // (A: 0.6 / 0.2 of 0.8; B: all s1).
        let nav0 = out.nav[0];
        let fee_a = out.trades[2].fee;
        let fee_b = out.trades[3].fee;
        assert_eq!((out.trades[2].asset, out.trades[3].asset), (0, 1));
        assert!(close(out.contributions[2], 0.06 - 0.75 * fee_a / nav0));
        assert!(close(
            out.contributions[3],
            -0.02 - 0.04 - (0.25 * fee_a + fee_b) / nav0
        ));
        // The rest is the drift of the held weights from the targets (bought on the NAV
        // before fees): A held 400 / 999.2, B 400 / 999.2.
        let held = 400.0 / nav0;
        assert!(close(
            out.unattributed[1],
            (held - 0.4) * 0.1 + (held - 0.4) * -0.1
        ));
    }

    /// A source of `n` strategies whose parts net against each other asset by asset (the case
    /// the dashboard showed as huge offsetting lines when P&L was split by part / net target).
    struct Netting {
        n_strat: usize,
        seed: u64,
    }

    impl TargetSource for Netting {
        type Error = Infallible;
        fn n_strategies(&self) -> usize {
            self.n_strat
        }
        fn targets(
            &mut self,
            row: usize,
            w: &mut [f64],
            by: &mut [f64],
        ) -> Result<Decision, Infallible> {
            if !row.is_multiple_of(4) && row > 0 {
                // Between rebalance dates the parts are the previous row's.
                return Ok(Decision::Same);
            }
            w.fill(0.0);
            let n = w.len();
            for a in 0..n {
                let mut sum = 0.0;
                for s in 0..self.n_strat {
                    let h = (self.seed ^ (row as u64 / 4 * 31 + a as u64 * 7 + s as u64 * 13))
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        >> 40;
                    // Parts of ±0.1 that nearly cancel, plus the odd exact cancellation.
                    let x = if s > 0 && s == self.n_strat - 1 && h.is_multiple_of(3) {
                        1e-9 - sum
                    } else {
                        (h % 5) as f64 * 0.05 - 0.1
                    };
                    if !by.is_empty() {
                        by[s * n + a] = x;
                    }
                    sum += x;
                    w[a] += x;
                }
            }
            Ok(Decision::New { rebalance: true })
        }
    }
    /// Under venue rules each trade is the live plan's rounded order at the book's dollar size:
    /// lots of the price's size decimals, nothing under the $10 minimum, exits exactly closed.
    #[test]
    fn venue_rules_round_to_lots_and_drop_what_is_under_the_minimum() {
        let p = panel(&[&[2345.67, 2345.67, 2500.0], &[3.0, 3.0, 3.0]], &[]);
        let lots = crate::venue::LotRules {
            capital: 1000.0,
            ..crate::venue::LotRules::default()
        };
        let c = SimConfig {
            initial_nav: 1.0,
            venue: Some(lots),
            ..cfg(RebalancePolicy::Time, 0.0)
        };
        let mut src = FnSource(|row: usize, out: &mut [f64]| {
            out.copy_from_slice(&[[0.5, 0.005], [0.5, 0.02], [0.0, 0.02]][row]);
            true
        });
        let out = simulate(&p, 0, 2, &c, &mut src).unwrap();
        let got: Vec<(i32, usize, f64)> = out
            .trades
            .iter()
            .map(|t| (t.day.0, t.asset, t.units * 1000.0))
            .collect();
        // Day 0: $500 / 2345.67 = 0.213159 → 0.2132 (4 decimals); B's $5 is under $10.
        // Day 1: A is on target up to its lot (0.2132 vs 0.213159: no whole lot to trade); B
        // wants $20 / $3 = 6.667 units → 6.7 (1 decimal at $3). Day 2: A closed exactly.
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (0, 0));
        assert!((got[0].2 - 0.2132).abs() < 1e-12, "{got:?}");
        assert_eq!((got[1].0, got[1].1), (1, 1));
        assert!((got[1].2 - 6.7).abs() < 1e-12, "{got:?}");
        assert_eq!((got[2].0, got[2].1), (2, 0));
        assert_eq!(out.trades[2].units, -out.trades[0].units);
        assert_eq!(out.holdings_on(2)[0], 0.0);
        // Without the rules the same targets trade exact weights: B's $5 is bought.
        let c = SimConfig { venue: None, ..c };
        let mut src = FnSource(|row: usize, out: &mut [f64]| {
            out.copy_from_slice(&[[0.5, 0.005], [0.5, 0.02], [0.0, 0.02]][row]);
            true
        });
        let exact = simulate(&p, 0, 2, &c, &mut src).unwrap();
        assert!(exact
            .trades
            .iter()
            .any(|t| t.day.0 == 0 && t.asset == 1 && close(t.units, 5.0 / 3.0 / 1000.0)));
        let bad = SimConfig {
            venue: Some(crate::venue::LotRules {
                capital: 0.0,
                ..lots
            }),
            ..c
        };
        assert!(matches!(
            simulate(&p, 0, 2, &bad, &mut constant(vec![0.0, 0.0])),
            Err(SimError::BadVenueRules { .. })
        ));
    }

    #[test]
    fn detail_off_keeps_the_series_identical() {
        let p = crate::synth::generate(&crate::synth::SynthConfig {
            n_assets: 20,
            n_days: 120,
            ..Default::default()
        })
        .unwrap();
        let mut c = SimConfig::default();
        let w: Vec<f64> = (0..20)
            .map(|a| if a % 3 == 0 { 0.05 } else { -0.03 })
            .collect();
        let full = simulate(&p, 10, 119, &c, &mut constant(w.clone())).unwrap();
        c.record_detail = false;
        let lean = simulate(&p, 10, 119, &c, &mut constant(w)).unwrap();
        assert_eq!(full.nav, lean.nav);
        assert!(lean.trades.is_empty() && lean.holdings.is_empty());
        assert!(!full.trades.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn zero_targets_zero_fees_keep_nav_constant(seed in 0u64..1000, th in prop_oneof![Just(None), (0.0f64..0.1).prop_map(Some)]) {
            let p = crate::synth::generate(&crate::synth::SynthConfig { seed, n_assets: 8, n_days: 40, ..Default::default() }).unwrap();
            let policy = th.map_or(RebalancePolicy::Time, |threshold| RebalancePolicy::Threshold { threshold });
            let out = simulate(&p, 0, 39, &cfg(policy, 10.0), &mut constant(vec![0.0; 8])).unwrap();
            prop_assert!(out.trades.is_empty());
            prop_assert!(out.nav.iter().all(|&n| n == 1000.0));
            prop_assert!(out.returns.iter().all(|&r| r == 0.0));
        }

        /// Every day, the strategies' contributions plus the unattributed part equal the day's
        /// return, and each strategy's price part is its own target weight times the asset's
        /// return (so it is bounded by its gross weight × the largest asset move, however the
        /// strategies net), while its fee part lies between 0 and the day's fees.
        #[test]
        fn attribution_adds_up_and_is_each_strategys_own_pnl(seed in 0u64..1000, n_strat in 1usize..4, th in prop_oneof![Just(None), (0.0f64..0.08).prop_map(Some)], fee in 0.0f64..30.0) {
            let p = crate::synth::generate(&crate::synth::SynthConfig { seed, n_assets: 10, n_days: 50, ..Default::default() }).unwrap();
            let policy = th.map_or(RebalancePolicy::Time, |threshold| RebalancePolicy::Threshold { threshold });
            let c = SimConfig { stale_days: 3, ..cfg(policy, fee) };
            let out = simulate(&p, 0, 49, &c, &mut Netting { n_strat, seed }).unwrap();
            // The parts the source gave, to recompute each strategy's price P&L by hand.
            let mut src = Netting { n_strat, seed };
            let n = p.n_assets();
            let parts: Vec<Vec<f64>> = (0..50).map(|row| {
                let (mut w, mut by) = (vec![0.0; n], vec![0.0; n_strat * n]);
                // Rows between multiples of 4 repeat the last multiple's parts.
                src.targets(row - row % 4, &mut w, &mut by).unwrap();
                by
            }).collect();
            for i in 0..out.n_days() {
                let cs = &out.contributions[i * n_strat..(i + 1) * n_strat];
                let sum = cs.iter().sum::<f64>() + out.unattributed[i];
                prop_assert!((sum - out.returns[i]).abs() < 1e-12, "day {}: {} vs {}", i, sum, out.returns[i]);
                if i == 0 {
                    continue;
                }
                let nav_prev = out.nav[i - 1];
                let fees = out.fees[i] / nav_prev;
                for (s, &contrib) in cs.iter().enumerate() {
                    // Price part by hand: Σ_a part × (held asset's P&L / its value at t-1),
                    // from the holdings and the panel (marks carry over missing closes).
                    let mut price = 0.0;
                    for a in 0..n {
                        let h0 = out.holdings_on(i - 1)[a];
                        if h0 == 0.0 {
                            continue;
                        }
                        let mark0 = (0..i).rev().map(|r| p.get(Field::Close, a, r)).find(|c| c.is_finite() && *c > 0.0).unwrap();
                        let c1 = p.get(Field::Close, a, i);
                        let mark1 = if c1.is_finite() && c1 > 0.0 { c1 } else { mark0 };
                        let rate = p.get(Field::FundingRate, a, i);
                        let rate = if rate.is_finite() { rate } else { 0.0 };
                        let r = mark1 / mark0 - 1.0 - mark1 / mark0 * rate;
                        price += parts[i - 1][s * n + a] * r;
                    }
                    let fee_part = price - contrib;
                    prop_assert!(fee_part > -1e-12 && fee_part < fees + 1e-12,
                        "day {} strategy {}: contribution {} price part {} fees {}", i, s, contrib, price, fees);
                }
            }
        }

        #[test]
        fn reruns_are_bit_identical_and_attribution_adds_up(seed in 0u64..1000, th in 0.0f64..0.08) {
            let p = crate::synth::generate(&crate::synth::SynthConfig { seed, n_assets: 12, n_days: 60, ..Default::default() }).unwrap();
            let c = SimConfig { stale_days: 3, policy: RebalancePolicy::Threshold { threshold: th }, ..SimConfig::default() };
            let run = || {
                let mut src = FnSource(|row: usize, out: &mut [f64]| {
                    for (a, w) in out.iter_mut().enumerate() {
                        *w = (((row * 7 + a * 13) % 11) as f64 - 5.0) / 50.0;
                    }
                    row.is_multiple_of(5)
                });
                simulate(&p, 0, 59, &c, &mut src).unwrap()
            };
            let (a, b) = (run(), run());
            prop_assert!(a.nav.iter().zip(&b.nav).all(|(x, y)| x.to_bits() == y.to_bits()));
            prop_assert_eq!(a.trades.len(), b.trades.len());
            for i in 0..a.n_days() {
                prop_assert!(close(a.unattributed[i], a.returns[i]));
            }
        }
    }
}
