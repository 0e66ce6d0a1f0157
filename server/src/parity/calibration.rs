//! The cost calibration of the consistency report: what the live account's own fills say
//! fees and slippage cost, next to the backtest's assumptions.
//!
//! Over all live fills of the period, with `c` the close of the plan's data day in today's
//! panel: traded notional `Σ |u|·c`, implied fee `Σ φ / Σ |u|·c`, implied slippage
//! `Σ u·(p − c) / Σ |u|·c` (positive = adverse), both in bps, next to the config's. A
//! suggestion is made when either differs from the configured value by more than
//! [`MATERIAL_BPS`] bps and by more than [`MATERIAL_RELATIVE`] of the configured value, with at
//! least [`MIN_FILLS`] fills.

use super::gaps::LiveFill;
use super::ParityError;
use crate::live::records::{PlanStatus, Records};
use crate::store::Store;
use app::api::costs::VenueCosts;
use app::api::CostCalibration;
use shared::config::RebalanceSettings;
use shared::sim::Costs;
use shared::{Day, Field, Panel};
use std::collections::BTreeMap;

/// A cost assumption differs materially when it is off by more than this many bps …
pub const MATERIAL_BPS: f64 = 1.0;
/// … and by more than this fraction of the configured value.
pub const MATERIAL_RELATIVE: f64 = 0.2;
/// Fewer fills than this make no suggestion (and a calibrated run falls back to the fixed costs).
pub const MIN_FILLS: usize = app::api::costs::MIN_FILLS;

/// Implied costs of `fills` (each with its reference close) against the configured ones.
pub fn calibrate(fills: &[(LiveFill, f64)], fee_bps: f64, slippage_bps: f64) -> CostCalibration {
    let mut notional = 0.0;
    let mut fees = 0.0;
    let mut slip = 0.0;
    let mut count = 0;
    for (f, c) in fills {
        if !(c.is_finite() && *c > 0.0) || f.units == 0.0 {
            continue;
        }
        count += 1;
        notional += f.units.abs() * c;
        fees += f.fee;
        slip += f.units * (f.price - c);
    }
    let (implied_fee, implied_slip) = if notional > 0.0 {
        (
            Some(fees / notional * 10_000.0),
            Some(slip / notional * 10_000.0),
        )
    } else {
        (None, None)
    };
    let material = |implied: f64, configured: f64| {
        let d = (implied - configured).abs();
        d > MATERIAL_BPS && d > MATERIAL_RELATIVE * configured.abs()
    };
    let mut advice = Vec::new();
    if count >= MIN_FILLS {
        if let Some(f) = implied_fee.filter(|f| material(*f, fee_bps)) {
            advice.push(format!(
                "set rebalance.fee_bps to {f:.2} (live fills paid {f:.2} bps, the backtest assumes {fee_bps})"
            ));
        }
        if let Some(s) = implied_slip.filter(|s| material(*s, slippage_bps)) {
            advice.push(format!(
                "set rebalance.slippage_bps to {:.2} (live fills were {s:.2} bps from the close, the backtest assumes {slippage_bps})",
                s.max(0.0)
            ));
        }
    }
    CostCalibration {
        fills: count,
        traded_notional: notional,
        configured_fee_bps: fee_bps,
        configured_slippage_bps: slippage_bps,
        implied_fee_bps: implied_fee,
        implied_slippage_bps: implied_slip,
        suggestion: (!advice.is_empty()).then(|| {
            format!(
                "{} — measured over {count} fills, ${notional:.0} traded; suggested when off by more than {MATERIAL_BPS} bp and {:.0}% of the assumption",
                advice.join("; "),
                MATERIAL_RELATIVE * 100.0
            )
        }),
    }
}

/// Days of fills the calibrated cost model measures, ending at the panel's last day.
pub const CALIBRATION_WINDOW_DAYS: i32 = app::api::costs::WINDOW_DAYS;

/// The cost calibration of `broker`'s fills whose plan's data day lies in `[from, to]`, each
/// against that day's close in `panel`: what `rebalance.cost_model: "calibrated"` reads.
///
/// # Errors
/// The store failing.
pub async fn account_costs(
    store: &Store,
    broker: &str,
    panel: &Panel,
    from: Day,
    to: Day,
    fee_bps: f64,
    slippage_bps: f64,
) -> Result<CostCalibration, ParityError> {
    let rec = Records { store };
    let plans = rec
        .plans_in(&[
            PlanStatus::Done,
            PlanStatus::PartiallyFailed,
            PlanStatus::Executing,
        ])
        .await?;
    let days: BTreeMap<&str, Day> = plans
        .iter()
        .filter(|p| p.broker == broker && p.data_day >= from && p.data_day <= to)
        .map(|p| (p.id.as_str(), p.data_day))
        .collect();
    // A plan of data day d executes after d closed: its fills are recorded from d + 1 on.
    let since_ms = (i64::from(from.0) + 1) * 86_400_000;
    let mut fills = Vec::new();
    for f in rec.fills_since(broker, since_ms).await? {
        let Some(&day) = days.get(f.plan_id.as_str()) else {
            continue;
        };
        let close = match (panel.asset_index(&f.symbol), panel.row_of(day)) {
            (Some(a), Some(row)) => panel.get(Field::Close, a, row),
            _ => f64::NAN,
        };
        fills.push((
            LiveFill {
                symbol: f.symbol,
                units: f.units,
                price: f.price,
                fee: f.fee,
            },
            close,
        ));
    }
    Ok(calibrate(&fills, fee_bps, slippage_bps))
}

/// The costs a run trades with under `rebalance.cost_model`, and what to tell the reader
/// (`app::api::costs`: the type the browser and `lockstep sweep`'s JSON carry).
pub use app::api::costs::ResolvedCosts;

/// What `measured` (the calibration of `venue`'s fills over `[from, to]`) is as the API sends it.
pub fn venue_costs(measured: &CostCalibration, venue: &str, from: Day, to: Day) -> VenueCosts {
    VenueCosts {
        venue: venue.to_string(),
        from,
        to,
        fills: measured.fills,
        traded_notional: measured.traded_notional,
        fee_bps: measured.implied_fee_bps,
        slippage_bps: measured.implied_slippage_bps,
    }
}

/// The numbers `rebalance` asks for: the config's `fee_bps`/`slippage_bps` under `fixed`; under
/// `calibrated`, `measured` (the calibration of the account's fills on `venue` over
/// `[from, to]`) when it has at least [`MIN_FILLS`] fills — the implied fee, and the implied
/// slippage floored at 0 (the simulator charges no negative cost) — else the fixed ones with a
/// notice. The simulator stays pure: it only ever sees these numbers. The rule is
/// [`app::api::costs::resolve`], the browser's too.
pub fn resolve_costs(
    rebalance: &RebalanceSettings,
    measured: &CostCalibration,
    venue: &str,
    from: Day,
    to: Day,
) -> ResolvedCosts {
    let fixed = Costs {
        fee_bps: rebalance.fee_bps,
        slippage_bps: rebalance.slippage_bps,
    };
    app::api::costs::resolve(
        rebalance.cost_model,
        fixed,
        Ok(&venue_costs(measured, venue, from, to)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::CostModel;

    #[test]
    fn calibration_suggests_only_material_differences() {
        let fill = |units: f64, price: f64, fee: f64| {
            (
                LiveFill {
                    symbol: "X".into(),
                    units,
                    price,
                    fee,
                },
                100.0,
            )
        };
        // 12 fills of $1,000: fees 10 bps, buys 15 bps above and sells 15 bps below the close.
        let fills: Vec<_> = (0..12)
            .map(|i| {
                let u = if i % 2 == 0 { 10.0 } else { -10.0 };
                fill(u, 100.0 * (1.0 + u.signum() * 0.0015), 1.0)
            })
            .collect();
        let c = calibrate(&fills, 10.0, 0.0);
        assert_eq!(c.fills, 12);
        assert!((c.traded_notional - 12_000.0).abs() < 1e-9);
        assert!((c.implied_fee_bps.unwrap() - 10.0).abs() < 1e-9);
        assert!((c.implied_slippage_bps.unwrap() - 15.0).abs() < 1e-9);
        let s = c.suggestion.unwrap();
        assert!(
            s.contains("slippage_bps to 15.00") && !s.contains("fee_bps to"),
            "{s}"
        );
        // Within the threshold: no suggestion; too few fills: none either.
        assert!(calibrate(&fills, 10.5, 14.5).suggestion.is_none());
        assert!(calibrate(&fills[..5], 10.0, 0.0).suggestion.is_none());
        assert!(calibrate(&[], 10.0, 0.0).implied_fee_bps.is_none());
    }

    #[test]
    fn calibrated_costs_come_from_enough_fills_else_the_fixed_ones_with_a_notice() {
        let fill = |units: f64, price: f64, fee: f64| {
            (
                LiveFill {
                    symbol: "X".into(),
                    units,
                    price,
                    fee,
                },
                100.0,
            )
        };
        // 12 fills of $1,000 paying $0.60 (6 bps), buys 15 bps above the close, sells at it.
        let fills: Vec<_> = (0..12)
            .map(|i| {
                if i % 2 == 0 {
                    fill(10.0, 100.15, 0.6)
                } else {
                    fill(-10.0, 100.0, 0.6)
                }
            })
            .collect();
        let mut r = RebalanceSettings {
            cost_model: CostModel::Calibrated,
            ..RebalanceSettings::default()
        };
        let (from, to) = (Day(20_000), Day(20_089));
        let got = resolve_costs(&r, &calibrate(&fills, 10.0, 0.0), "paper", from, to);
        assert_eq!(got.used, CostModel::Calibrated);
        assert!((got.costs.fee_bps - 6.0).abs() < 1e-9);
        assert!((got.costs.slippage_bps - 7.5).abs() < 1e-9);
        let note = got.note.unwrap();
        assert!(
            note.contains("12 fills on paper") && note.contains("$12000"),
            "{note}"
        );
        // Favourable fills: the slippage is floored at 0.
        let kind: Vec<_> = (0..12).map(|_| fill(10.0, 99.9, 0.6)).collect();
        let got = resolve_costs(&r, &calibrate(&kind, 10.0, 0.0), "paper", from, to);
        assert_eq!(got.costs.slippage_bps, 0.0);
        // Too few fills: the config's numbers, with a notice.
        let got = resolve_costs(&r, &calibrate(&fills[..4], 10.0, 0.0), "paper", from, to);
        assert_eq!(got.used, CostModel::Fixed);
        assert_eq!(got.costs, Costs::default());
        assert!(got.note.unwrap().contains("only 4 fills"));
        // Fixed: the config's numbers, whatever the fills say.
        r.cost_model = CostModel::Fixed;
        let got = resolve_costs(&r, &calibrate(&fills, 10.0, 0.0), "paper", from, to);
        assert_eq!((got.costs, got.note), (Costs::default(), None));
    }
}
