//! The shadow backtest of the consistency report, and the live records it is compared with.
//!
//! The live config (`LiveService::config`) is backtested over the live period with the live
//! rebalance policy ([`crate::live::cycle::policy_of`]), the config's cost model
//! (`rebalance.fee_bps`, `rebalance.slippage_bps`) and today's store panel, by the one kernel
//! path (`shared::backtest::run`: `TargetEngine` → policy → simulator). It starts in cash with
//! the live account's equity at the start of the period. Under `rebalance.venue_rules` it
//! trades on the live venue's lots ([`crate::live::LiveSettings::lots`]) at that equity. The period is `[from, to]` clipped to
//! the days the live account has equity snapshots: it starts on the first day in `[from, to]`
//! with a snapshot and ends on the last.
//!
//! A live snapshot taken during UTC day `d + 1` shows the account marked at the close of `d`
//! (the last complete day then), so it is the live equity of day `d`. The live equity of `d`
//! is the last such snapshot (after the day's execution); the start equity `E_start` and the
//! positions held before trading are what the first day's first executed plan sized on (its
//! equity and its lines' current units), else the day's first snapshot.
//!
//! The live side is read from its owners: plans, fills and snapshots from
//! [`crate::live::records::Records`], funding from the broker ([`crate::broker::Broker::funding_paid`]).
//! The comparison itself is [`super::gaps`], the cost calibration [`super::calibration`].

use super::calibration::calibrate;
use super::gaps::{
    attribute, gap_attribution, AccountSnapshot, Attribution, Inputs, LiveDay, LiveFill, LiveLine,
};
use super::ParityError;
use crate::live::cycle::policy_of;
use crate::live::records::{PlanStatus, Records, StoredPlan};
use crate::live::LiveService;
use app::api::{CostCalibration, GapAttribution, ShadowComparison, ShadowDay};
use shared::backtest::{self, BacktestSettings};
use shared::{Day, Field, Panel};
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

/// The data day a snapshot taken at `at` shows: the last complete day then.
fn data_day_of(at: i64) -> Day {
    Day(at.div_euclid(DAY_MS) as i32 - 1)
}

/// Per symbol: the day's lines of the executed `plans` (oldest first), combined.
fn day_lines(plans: &[&StoredPlan]) -> BTreeMap<String, LiveLine> {
    let mut out: BTreeMap<String, LiveLine> = BTreeMap::new();
    for p in plans {
        for l in &p.body.lines {
            let traded = l.action != "hold";
            let intended = if !traded {
                l.current_units
            } else if l.new_weight == 0.0 {
                0.0
            } else if l.mark_price > 0.0 {
                l.new_weight * p.equity / l.mark_price
            } else {
                l.current_units // no price: nothing can trade
            };
            let order: f64 = p
                .body
                .orders
                .iter()
                .filter(|o| o.symbol == l.symbol)
                .map(|o| o.units)
                .sum();
            match out.get_mut(&l.symbol) {
                Some(prev) => {
                    prev.order_units += order;
                    prev.target_weight = l.target_weight;
                    if traded {
                        prev.traded = true;
                        prev.intended_units = intended;
                    }
                }
                None => {
                    out.insert(
                        l.symbol.clone(),
                        LiveLine {
                            traded,
                            target_weight: l.target_weight,
                            current_units: l.current_units,
                            intended_units: intended,
                            order_units: order,
                        },
                    );
                }
            }
        }
    }
    out
}

/// The shadow backtest, the gap attribution and the cost calibration of the live account of
/// `live` over `[from, to]` (see the module docs). `panel` is today's full panel of `store`.
///
/// # Errors
/// A bad range; the store failing; the live config not backtesting.
pub async fn shadow_and_gaps(
    live: &LiveService,
    panel: &Panel,
    from: Day,
    to: Day,
) -> Result<(ShadowComparison, GapAttribution, CostCalibration), ParityError> {
    let detail = shadow_detail(live, panel, from, to).await?;
    Ok((
        detail.shadow,
        gap_attribution(&detail.attribution),
        detail.costs,
    ))
}

/// Everything [`shadow_and_gaps`] computes, with the per-day direct amounts.
pub struct ShadowDetail {
    pub shadow: ShadowComparison,
    pub attribution: Attribution,
    pub costs: CostCalibration,
}

/// [`shadow_and_gaps`] with the per-day detail (tests, diagnostics).
///
/// # Errors
/// As [`shadow_and_gaps`].
pub async fn shadow_detail(
    live: &LiveService,
    panel: &Panel,
    from: Day,
    to: Day,
) -> Result<ShadowDetail, ParityError> {
    if from > to {
        return Err(ParityError::BadRequest(format!(
            "the period {from}..{to} is empty"
        )));
    }
    if panel.n_days() == 0 {
        return Err(ParityError::NoData);
    }
    let config = live.config();
    let policy = policy_of(config);
    let (fee_bps, slippage_bps) = (config.rebalance.fee_bps, config.rebalance.slippage_bps);
    let broker = live.broker().name();
    let to = Day(to.0.min(panel.end().0));
    let from = Day(from.0.max(panel.start().0));
    let empty = |start_equity: f64| ShadowDetail {
        shadow: ShadowComparison {
            policy: policy.to_string(),
            start_equity,
            days: Vec::new(),
            live_return: 0.0,
            shadow_return: 0.0,
        },
        attribution: Attribution {
            days: Vec::new(),
            symbols: BTreeMap::new(),
        },
        costs: calibrate(&[], fee_bps, slippage_bps),
    };
    if from > to {
        return Ok(empty(0.0));
    }

    // Snapshots by data day: first (before trading) and last (after).
    let rec = Records {
        store: live.store.as_ref(),
    };
    let snaps = rec
        .snapshots_between(
            broker,
            (from.0 as i64 + 1) * DAY_MS,
            (to.0 as i64 + 2) * DAY_MS,
        )
        .await?;
    let mut by_day: BTreeMap<Day, (AccountSnapshot, AccountSnapshot)> = BTreeMap::new();
    for (at, s) in snaps {
        let d = data_day_of(at);
        by_day
            .entry(d)
            .and_modify(|e| e.1 = s.clone())
            .or_insert_with(|| (s.clone(), s));
    }
    let (Some(&first), Some(&last)) = (by_day.keys().next(), by_day.keys().next_back()) else {
        return Ok(empty(0.0));
    };
    // Executed plans of the period, by data day.
    let plans = rec
        .plans_in(&[
            PlanStatus::Done,
            PlanStatus::PartiallyFailed,
            PlanStatus::Executing,
        ])
        .await?;
    // Before the first day's trades: what the first executed plan sized on (its equity and
    // lines), else the day's first snapshot.
    let start = plans
        .iter()
        .filter(|p| p.broker == broker && p.data_day == first)
        .min_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
        .map(|p| AccountSnapshot {
            equity: p.equity,
            positions: p
                .body
                .lines
                .iter()
                .filter(|l| l.current_units != 0.0)
                .map(|l| (l.symbol.clone(), (l.current_units, l.mark_price)))
                .collect(),
        })
        .unwrap_or_else(|| by_day[&first].0.clone());
    if start.equity.is_nan() || start.equity <= 0.0 {
        return Err(ParityError::BadRequest(format!(
            "the live equity at the start ({first}) is {}: nothing to compare",
            start.equity
        )));
    }

    let mut plans_by_day: BTreeMap<Day, Vec<&StoredPlan>> = BTreeMap::new();
    for p in &plans {
        if p.broker == broker && p.data_day >= first && p.data_day <= last {
            plans_by_day.entry(p.data_day).or_default().push(p);
        }
    }
    let mut fills_by_plan: BTreeMap<String, Vec<LiveFill>> = BTreeMap::new();
    for f in rec
        .fills_since(broker, (first.0 as i64 + 1) * DAY_MS)
        .await?
    {
        fills_by_plan.entry(f.plan_id).or_default().push(LiveFill {
            symbol: f.symbol,
            units: f.units,
            price: f.price,
            fee: f.fee,
        });
    }
    // Funding as the broker recorded it (`None`: it records none).
    let funding = live
        .broker()
        .funding_paid(first, last)
        .await
        .map_err(crate::live::LiveError::from)?;

    let mut days = Vec::new();
    let mut calib = Vec::new();
    for d in first.0..=last.0 {
        let day = Day(d);
        let mut plans = plans_by_day.get(&day).cloned().unwrap_or_default();
        plans.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut fills = Vec::new();
        for p in &plans {
            fills.extend(fills_by_plan.get(&p.id).cloned().unwrap_or_default());
        }
        if let Some(row) = panel.row_of(day) {
            for f in &fills {
                let c = panel
                    .asset_index(&f.symbol)
                    .map_or(f64::NAN, |a| panel.get(Field::Close, a, row));
                calib.push((f.clone(), c));
            }
        }
        days.push(LiveDay {
            day,
            end: by_day.get(&day).map(|s| s.1.clone()),
            lines: day_lines(&plans),
            executed: !plans.is_empty(),
            fills,
            funding_paid: funding.as_ref().and_then(|f| f.get(&day).cloned()),
        });
    }

    let settings = BacktestSettings {
        start: Some(first),
        end: Some(last),
        policy: Some(policy),
        costs: None,
        stale_days: None,
        initial_nav: start.equity,
        // Under venue rules the shadow trades the live plan's lots at the account's equity,
        // so its units are the account's.
        lots: Some(live.settings.lots(start.equity)),
    };
    // The live config's universe: the same listings the live plans were chosen from.
    let (listings, _) = live.store.venue_universe(config.venue()).await?;
    let result = backtest::run_on_venue(panel, config, &settings, listings)
        .map_err(|e| ParityError::Config(format!("shadow backtest: {e}")))?;
    let attribution = attribute(&Inputs {
        panel,
        shadow: &result,
        live: &days,
        start: &start,
        fee_bps,
        slippage_bps,
    })?;
    let shadow_days: Vec<ShadowDay> = attribution
        .days
        .iter()
        .zip(&days)
        .map(|(d, l)| ShadowDay {
            day: d.day.to_string(),
            live_equity: l.end.as_ref().map(|s| s.equity),
            shadow_equity: d.shadow_equity,
        })
        .collect();
    let live_end = days
        .iter()
        .rev()
        .find_map(|l| l.end.as_ref().map(|s| s.equity))
        .unwrap_or(start.equity);
    let shadow_end = attribution
        .days
        .last()
        .map_or(start.equity, |d| d.shadow_equity);
    Ok(ShadowDetail {
        shadow: ShadowComparison {
            policy: policy.to_string(),
            start_equity: start.equity,
            days: shadow_days,
            live_return: live_end / start.equity - 1.0,
            shadow_return: shadow_end / start.equity - 1.0,
        },
        attribution,
        costs: calibrate(&calib, fee_bps, slippage_bps),
    })
}
