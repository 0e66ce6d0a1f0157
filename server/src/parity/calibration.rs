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
use app::api::CostCalibration;

/// A cost assumption differs materially when it is off by more than this many bps …
pub const MATERIAL_BPS: f64 = 1.0;
/// … and by more than this fraction of the configured value.
pub const MATERIAL_RELATIVE: f64 = 0.2;
/// Fewer fills than this make no suggestion.
pub const MIN_FILLS: usize = 10;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
