//! `rebalance.cost_model: "calibrated"`: the fee and slippage the account's own fills show, per
//! venue (`GET /api/costs`), and the one rule that turns them and a config into the numbers a
//! run trades with ([`resolve`]). `lockstep backtest`, `lockstep sweep` and the browser's
//! Backtest and Sweep pages all call it, so a calibrated run costs the same everywhere.

use serde::{Deserialize, Serialize};
use shared::config::{CostModel, VenueScope};
use shared::sim::Costs;
use shared::Day;

/// Fewer fills than this on the venue: a calibrated run falls back to the fixed costs.
pub const MIN_FILLS: usize = 10;
/// Days of fills the calibration measures, ending at the panel's last day.
pub const WINDOW_DAYS: i32 = 90;

/// The venue (broker) whose fills calibrate a run on `scope`: Hyperliquid's for a Hyperliquid
/// config, else the paper venue's (the default live broker).
pub fn calibration_venue(scope: VenueScope) -> &'static str {
    match scope {
        VenueScope::Hyperliquid => "hyperliquid",
        VenueScope::Paper | VenueScope::Any => "paper",
    }
}

/// The calibration window ending at `last` (the panel's last day): `[last − 89, last]`.
pub fn window(last: Day) -> (Day, Day) {
    (Day(last.0 - WINDOW_DAYS + 1), last)
}

/// What one venue's fills over the window measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VenueCosts {
    /// The broker: `paper` or `hyperliquid`.
    pub venue: String,
    /// The window's first and last day (the plans' data days), `YYYY-MM-DD`.
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub from: Day,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub to: Day,
    /// Fills measured (with a reference close).
    pub fills: usize,
    /// Σ |units × reference close| of the fills, USD.
    pub traded_notional: f64,
    /// Fees paid / traded notional, bps (`None` without fills).
    pub fee_bps: Option<f64>,
    /// Notional-weighted adverse distance of the fill prices from the close, bps (may be < 0).
    pub slippage_bps: Option<f64>,
}

/// `GET /api/costs`: the calibration of every venue (or the one asked for with `?venue=`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CalibratedCosts {
    /// The window's length in days ([`WINDOW_DAYS`]).
    pub window_days: i32,
    /// Fills a venue needs for its numbers to be used ([`MIN_FILLS`]).
    pub min_fills: usize,
    pub venues: Vec<VenueCosts>,
}

impl CalibratedCosts {
    /// The calibration of `venue`, if the answer has it.
    pub fn venue(&self, venue: &str) -> Option<&VenueCosts> {
        self.venues.iter().find(|v| v.venue == venue)
    }
}

/// The costs a run traded with, and where they came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedCosts {
    pub costs: Costs,
    /// `fixed` or `calibrated`: what ran (a calibrated model with too few fills ran `fixed`).
    #[serde(with = "model_name")]
    pub used: CostModel,
    /// The venue, sample size and window of calibrated costs, or why the fixed ones ran under
    /// `cost_model: "calibrated"` (`None` under `fixed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

mod model_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use shared::config::CostModel;

    pub fn serialize<S: Serializer>(m: &CostModel, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CostModel, D::Error> {
        match String::deserialize(d)?.as_str() {
            "fixed" => Ok(CostModel::Fixed),
            "calibrated" => Ok(CostModel::Calibrated),
            other => Err(serde::de::Error::custom(format!(
                "unknown cost model {other:?}; valid values: fixed, calibrated"
            ))),
        }
    }
}

/// The numbers a run under `model` trades with: `fixed` under `fixed`; under `calibrated`,
/// `measured`'s implied fee and its implied slippage floored at 0 (the simulator charges no
/// negative cost) when it has at least [`MIN_FILLS`] fills, else `fixed` with a notice naming
/// the count and the window. `measured` is `Err(why)` when there is no calibration to read
/// (the browser could not fetch it): `fixed`, saying why.
pub fn resolve(
    model: CostModel,
    fixed: Costs,
    measured: Result<&VenueCosts, &str>,
) -> ResolvedCosts {
    if model == CostModel::Fixed {
        return ResolvedCosts {
            costs: fixed,
            used: CostModel::Fixed,
            note: None,
        };
    }
    let m = match measured {
        Ok(m) => m,
        Err(why) => {
            let note = format!(
                "cost_model calibrated: {why}; using the fixed costs (fee {} bps, slippage {} \
                 bps)",
                fixed.fee_bps, fixed.slippage_bps
            );
            return ResolvedCosts {
                costs: fixed,
                used: CostModel::Fixed,
                note: Some(note),
            };
        }
    };
    match (m.fee_bps, m.slippage_bps) {
        (Some(fee), Some(slip)) if m.fills >= MIN_FILLS => ResolvedCosts {
            costs: Costs {
                fee_bps: fee.max(0.0),
                slippage_bps: slip.max(0.0),
            },
            used: CostModel::Calibrated,
            note: Some(format!(
                "costs calibrated from {} fills on {} ({}..{}, ${:.0} traded): fee {:.2} bps, \
                 slippage {:.2} bps",
                m.fills,
                m.venue,
                m.from,
                m.to,
                m.traded_notional,
                fee.max(0.0),
                slip.max(0.0)
            )),
        },
        _ => ResolvedCosts {
            costs: fixed,
            used: CostModel::Fixed,
            note: Some(format!(
                "cost_model calibrated: only {} fills on {} ({}..{}), at least {MIN_FILLS} \
                 needed; using the fixed costs (fee {} bps, slippage {} bps)",
                m.fills, m.venue, m.from, m.to, fixed.fee_bps, fixed.slippage_bps
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(fills: usize) -> VenueCosts {
        VenueCosts {
            venue: "paper".into(),
            from: Day(20_000),
            to: Day(20_089),
            fills,
            traded_notional: 123_456.0,
            fee_bps: Some(5.99),
            slippage_bps: Some(-1.0),
        }
    }

    const FIXED: Costs = Costs {
        fee_bps: 10.0,
        slippage_bps: 2.0,
    };

    #[test]
    fn enough_fills_run_the_measured_numbers_else_the_fixed_ones_say_why() {
        let r = resolve(CostModel::Calibrated, FIXED, Ok(&measured(MIN_FILLS)));
        assert_eq!(r.used, CostModel::Calibrated);
        assert_eq!(r.costs.fee_bps, 5.99);
        assert_eq!(r.costs.slippage_bps, 0.0, "negative slippage is floored");
        let note = r.note.unwrap();
        assert!(
            note.contains("10 fills on paper (2024-10-04..2025-01-01"),
            "{note}"
        );
        let r = resolve(CostModel::Calibrated, FIXED, Ok(&measured(MIN_FILLS - 1)));
        assert_eq!((r.used, r.costs), (CostModel::Fixed, FIXED));
        assert!(r.note.unwrap().contains("only 9 fills on paper"));
        let r = resolve(CostModel::Calibrated, FIXED, Err("not signed in"));
        assert_eq!((r.used, r.costs), (CostModel::Fixed, FIXED));
        assert!(r.note.unwrap().contains("not signed in"));
        let r = resolve(CostModel::Fixed, FIXED, Ok(&measured(500)));
        assert_eq!(
            r,
            ResolvedCosts {
                costs: FIXED,
                used: CostModel::Fixed,
                note: None
            }
        );
    }

    #[test]
    fn resolved_costs_round_trip_as_json() {
        let r = resolve(CostModel::Calibrated, FIXED, Ok(&measured(50)));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["used"], "calibrated");
        assert_eq!(serde_json::from_value::<ResolvedCosts>(json).unwrap(), r);
        assert_eq!(calibration_venue(VenueScope::Hyperliquid), "hyperliquid");
        assert_eq!(calibration_venue(VenueScope::Any), "paper");
        assert_eq!(window(Day(20_089)), (Day(20_000), Day(20_089)));
    }
}
