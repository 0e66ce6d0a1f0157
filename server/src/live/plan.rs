//! From targets and holdings to a trade plan: per symbol the current and target weight, what the
//! rebalance policy keeps or trades, and the order, sized and priced on the venue's grid by
//! `shared::venue::round_order` (the one rounding the broker's wire format and the backtest use:
//! the line's size and limit strings are the digits the broker sends).
//! Pure: no I/O, no clock. The cycle (`cycle.rs`) gathers the inputs and stores the result.

use super::status::PlanAction;
use crate::broker::{client_order_id, Account, OrderRequest, VenueRule};
use app::api::PlanLine;
use shared::portfolio::engine::DayTargets;
use shared::portfolio::rebalance::RebalancePolicy;
use shared::venue;
use shared::Panel;
use std::collections::{BTreeMap, BTreeSet};

/// Everything a plan is computed from.
pub struct PlanInputs<'a> {
    pub plan_id: &'a str,
    /// The panel the targets were computed on (its symbols index `targets.weights`).
    pub panel: &'a Panel,
    pub targets: &'a DayTargets,
    pub account: &'a Account,
    /// Prices to size at (the broker's marks).
    pub marks: &'a BTreeMap<String, f64>,
    /// Venue rules of every tradable symbol.
    pub rules: &'a BTreeMap<String, VenueRule>,
    pub policy: RebalancePolicy,
    /// Limit price = mark × (1 ± max_slippage).
    pub max_slippage: f64,
}

/// A plan's lines and the orders to send for them.
#[derive(Clone, Debug, PartialEq)]
pub struct Lines {
    pub lines: Vec<PlanLine>,
    pub orders: Vec<OrderRequest>,
}

/// Whether `targets` were (re)computed at their day: true when any active strategy's anchor is
/// that day. Only [`RebalancePolicy::Time`] looks at it (as in the simulator).
pub fn is_rebalance_date(targets: &DayTargets) -> bool {
    targets
        .strategies
        .iter()
        .any(|s| s.computed_on == Some(targets.day))
}

/// The symbols a plan covers: every non-zero target and every held position, sorted.
fn universe(inputs: &PlanInputs<'_>) -> Vec<String> {
    let mut set = BTreeSet::new();
    for (s, w) in inputs.panel.symbols().iter().zip(&inputs.targets.weights) {
        if *w != 0.0 {
            set.insert(s.clone());
        }
    }
    for p in &inputs.account.positions {
        if p.units != 0.0 {
            set.insert(p.symbol.clone());
        }
    }
    set.into_iter().collect()
}

/// Builds the plan lines. Each line ends as `hold` (the policy keeps the current weight),
/// `buy`/`sell` with an order, or `buy`/`sell` with `dropped` set (no price, not tradable,
/// rounds to zero, below the venue minimum).
pub fn build(inputs: &PlanInputs<'_>) -> Lines {
    let equity = inputs.account.equity;
    let rebalance_date = is_rebalance_date(inputs.targets);
    let mut lines = Vec::new();
    let mut orders = Vec::new();
    for symbol in universe(inputs) {
        let held = inputs.account.positions.iter().find(|p| p.symbol == symbol);
        let current_units = held.map_or(0.0, |p| p.units);
        let mark = inputs
            .marks
            .get(&symbol)
            .copied()
            .filter(|m| m.is_finite() && *m > 0.0)
            .or_else(|| {
                held.map(|p| p.mark_price)
                    .filter(|m| m.is_finite() && *m > 0.0)
            });
        let target = inputs
            .panel
            .asset_index(&symbol)
            .map_or(0.0, |i| inputs.targets.weights[i]);
        let current_weight = match mark {
            Some(m) if equity > 0.0 => current_units * m / equity,
            _ => 0.0,
        };
        let trade = inputs
            .policy
            .should_trade(rebalance_date, current_weight, target);
        let new_weight = if trade { target } else { current_weight };
        let mut line = PlanLine {
            symbol: symbol.clone(),
            mark_price: mark.unwrap_or(0.0),
            current_units,
            current_weight,
            target_weight: target,
            new_weight,
            notional: (new_weight - current_weight) * equity,
            size: "0".into(),
            limit_price: "0".into(),
            reduce_only: false,
            action: PlanAction::Hold,
            dropped: None,
            note: None,
            client_order_id: None,
        };
        if !trade {
            lines.push(line);
            continue;
        }
        line.action = if new_weight > current_weight {
            PlanAction::Buy
        } else {
            PlanAction::Sell
        };
        let Some(mark) = mark else {
            line.dropped = Some(format!("no price for {symbol}"));
            lines.push(line);
            continue;
        };
        let Some(rule) = inputs.rules.get(&symbol) else {
            line.dropped = Some(format!("{symbol} is not tradable on this venue"));
            lines.push(line);
            continue;
        };
        // The position wanted after the trade, in units; zero is an exit.
        let target_units = if new_weight == 0.0 {
            0.0
        } else {
            new_weight * equity / mark
        };
        let raw_units = target_units - current_units;
        let side = |units: f64| {
            if units > 0.0 || (units == 0.0 && raw_units > 0.0) {
                PlanAction::Buy
            } else {
                PlanAction::Sell
            }
        };
        match venue::round_order(rule, current_units, target_units, mark, inputs.max_slippage) {
            Ok(o) => {
                line.action = side(o.units);
                line.size = o.size.to_string();
                line.limit_price = o.price.to_string();
                line.note = o.dust.map(|d| d.to_string());
                // An exit only ever reduces; a flip or a resize may open the other side.
                line.reduce_only = o.reduce_only;
                let cloid = client_order_id(inputs.plan_id, &symbol);
                line.client_order_id = Some(cloid.clone());
                orders.push(OrderRequest::from_rounded(cloid, symbol.clone(), &o));
            }
            Err(d) => {
                line.action = side(d.units);
                line.size = d.size.to_string();
                line.note = d.dust.map(|d| d.to_string());
                line.dropped = Some(d.reason.to_string());
            }
        }
        lines.push(line);
    }
    Lines { lines, orders }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hyperliquid trades PEPE as `kPEPE`: lots of 1000 PEPE (szDecimals 0), priced per 1000.
    /// The plan sizes and prices in PEPE, on the venue's grid.
    #[test]
    fn thousand_unit_contracts_size_on_the_venue_grid() {
        let panel = Panel::new(shared::Day(20_000), 1, vec!["PEPE".into()]).unwrap();
        let targets = DayTargets {
            day: shared::Day(20_000),
            weights: vec![0.1],
            strategies: Vec::new(),
        };
        let account = Account {
            equity: 10_000.0,
            positions: Vec::new(),
        };
        let marks = BTreeMap::from([("PEPE".to_string(), 0.000_012_345)]);
        let rules = BTreeMap::from([(
            "PEPE".to_string(),
            VenueRule {
                size_decimals: 0,
                min_notional: 10.0,
                price_sig_figs: 5,
                price_max_decimals: 6,
                venue_unit: 1000.0,
            },
        )]);
        let lines = build(&PlanInputs {
            plan_id: "p",
            panel: &panel,
            targets: &targets,
            account: &account,
            marks: &marks,
            rules: &rules,
            policy: RebalancePolicy::Threshold { threshold: 0.03 },
            max_slippage: 0.01,
        });
        // $1,000 / $0.000012345 = 81,004,455.2 PEPE = 81,004.455 kPEPE → 81,004 kPEPE.
        let order = &lines.orders[0];
        assert_eq!(order.units, 81_004_000.0);
        assert_eq!(lines.lines[0].size, "81004000");
        // 0.012345 × 1.01 = 0.01246845 per kPEPE → 5 significant figures 0.012468 → per PEPE.
        assert_eq!(order.limit_price, "0.000012468".parse::<f64>().unwrap());
        assert_eq!(lines.lines[0].limit_price, "0.000012468");
        // $0.005 is 405 PEPE, under half a lot: dropped, with the venue unit named.
        let tiny = BTreeMap::from([("PEPE".to_string(), 0.000_012_345)]);
        let account = Account {
            equity: 100.0,
            positions: Vec::new(),
        };
        let targets = DayTargets {
            weights: vec![0.000_05],
            ..targets
        };
        let lines = build(&PlanInputs {
            plan_id: "p",
            panel: &panel,
            targets: &targets,
            account: &account,
            marks: &tiny,
            rules: &rules,
            policy: RebalancePolicy::Threshold { threshold: 0.0 },
            max_slippage: 0.01,
        });
        assert!(lines.orders.is_empty());
        let why = lines.lines[0].dropped.as_deref().unwrap();
        assert!(why.contains("venue units of 1000"), "{why}");
    }

    /// A one-symbol plan: `held` units at `mark`, target `weight` of `equity`.
    fn one(mark: f64, held: f64, weight: f64, equity: f64, rule: VenueRule, slip: f64) -> Lines {
        let panel = Panel::new(shared::Day(20_000), 1, vec!["X".into()]).unwrap();
        let targets = DayTargets {
            day: shared::Day(20_000),
            weights: vec![weight],
            strategies: Vec::new(),
        };
        let positions = if held == 0.0 {
            Vec::new()
        } else {
            vec![crate::broker::Position {
                symbol: "X".into(),
                units: held,
                mark_price: mark,
            }]
        };
        let account = Account { equity, positions };
        let marks = BTreeMap::from([("X".to_string(), mark)]);
        let rules = BTreeMap::from([("X".to_string(), rule)]);
        build(&PlanInputs {
            plan_id: "p",
            panel: &panel,
            targets: &targets,
            account: &account,
            marks: &marks,
            rules: &rules,
            policy: RebalancePolicy::Threshold { threshold: 0.0 },
            max_slippage: slip,
        })
    }

    /// Hyperliquid's perp rule with `size_decimals`: 5 significant figures, 6 − szDecimals
    /// decimals, $10 minimum.
    fn perp(size_decimals: u32) -> VenueRule {
        VenueRule {
            size_decimals,
            min_notional: 10.0,
            price_sig_figs: 5,
            price_max_decimals: 6 - size_decimals,
            venue_unit: 1.0,
        }
    }

    /// BONK at $0.00002105 with 6 price decimals: the grid has ticks of $0.000001 (4.75 % of the
    /// price). A buy's limit may not round below the mark, so with a 1 % cap there is no price
    /// to send; with 5 % there is (0.000022); a sell rounds up into its band.
    #[test]
    fn limit_prices_stay_between_the_mark_and_the_cap() {
        let mark = 0.000_021_05;
        // $1,000 / $0.00002105 = 47,505,938.24 → 47,505,938 units.
        let l = one(mark, 0.0, 0.1, 10_000.0, perp(0), 0.01);
        assert!(l.orders.is_empty());
        assert_eq!(l.lines[0].action, "buy");
        assert_eq!(l.lines[0].size, "47505938");
        let why = l.lines[0].dropped.as_deref().unwrap();
        assert!(
            why.starts_with("no buy limit price between the mark 0.00002105"),
            "{why}"
        );
        assert!(why.contains("0.000021, is below the mark"), "{why}");
        // 0.00002105 × 1.05 = 0.0000221025 → down to 0.000022, above the mark.
        let l = one(mark, 0.0, 0.1, 10_000.0, perp(0), 0.05);
        assert_eq!(l.orders[0].units, 47_505_938.0);
        assert_eq!(l.orders[0].limit_price, 0.000022);
        assert_eq!(l.lines[0].limit_price, "0.000022");
        // A short at 1 %: 0.00002105 × 0.99 = 0.0000208395 → up to 0.000021 ≤ the mark.
        let l = one(mark, 0.0, -0.1, 10_000.0, perp(0), 0.01);
        assert_eq!(l.orders[0].units, -47_505_938.0);
        assert_eq!(l.orders[0].limit_price, 0.000021);
        // Zero slippage on a mark that is on the grid: the mark itself.
        let l = one(0.000021, 0.0, 0.1, 10_000.0, perp(0), 0.0);
        assert_eq!(l.orders[0].limit_price, 0.000021);
        // Fixed 4 size decimals leave 2 price decimals: $0.0523 × 1.02 = 0.053346 → 0.05 is
        // below the mark (dropped); $0.0595 × 1.02 = 0.06069 → 0.06.
        let fixed = VenueRule {
            price_max_decimals: 2,
            ..perp(4)
        };
        let l = one(0.0523, 0.0, 0.1, 10_000.0, fixed.clone(), 0.02);
        assert!(l.orders.is_empty());
        assert!(l.lines[0]
            .dropped
            .as_deref()
            .unwrap()
            .contains("2 decimals"));
        let l = one(0.0595, 0.0, 0.1, 10_000.0, fixed, 0.02);
        assert_eq!(l.orders[0].limit_price, 0.06);
        // Five significant figures: 2345.67 × 1.02 = 2392.5834 → 2392.5 (not 2392.6, which is
        // past the cap); × 0.98 = 2298.7566 → 2298.8.
        let l = one(2345.67, 0.0, 0.1, 100_000.0, perp(4), 0.02);
        assert_eq!(l.orders[0].limit_price, 2392.5);
        let l = one(2345.67, 0.0, -0.1, 100_000.0, perp(4), 0.02);
        assert_eq!(l.orders[0].limit_price, 2298.8);
        // kPEPE: the grid is per 1000 PEPE. 0.0000098765 × 1000 × 1.001 = 0.0098863765; 5
        // significant figures would allow 7 decimals, the rule 6: 0.009886 ≥ 0.0098765.
        let kpepe = VenueRule {
            venue_unit: 1000.0,
            ..perp(0)
        };
        let l = one(0.000_009_876_5, 0.0, 0.1, 10_000.0, kpepe, 0.001);
        assert_eq!(
            l.orders[0].limit_price,
            "0.000009886".parse::<f64>().unwrap()
        );
    }

    /// A position bought at 1 size decimal ($1.50: lots of 0.1) must be closed at 0 decimals
    /// once the price is $0.90 on a venue whose lots follow the price: the exit goes toward
    /// zero (1198, not 1199, which reduce-only refuses) and names the dust.
    #[test]
    fn exits_never_exceed_the_held_size() {
        let l = one(0.9, -1198.5, 0.0, 10_000.0, perp(0), 0.02);
        let o = &l.orders[0];
        assert_eq!(o.units, 1198.0);
        assert!(o.reduce_only);
        assert_eq!(l.lines[0].action, "buy");
        assert_eq!(l.lines[0].size, "1198");
        // 0.9 × 1.02 = 0.918, already on the grid.
        assert_eq!(o.limit_price, 0.918);
        let note = l.lines[0].note.as_deref().unwrap();
        assert!(
            note.contains("closes 1198 of them and leaves 0.5 as dust"),
            "{note}"
        );
        // Held units on the grid close exactly (0.3 × 10 is not exactly 3 in binary).
        let l = one(12.0, 250.3, 0.0, 10_000.0, perp(2), 0.02);
        assert_eq!(l.orders[0].units, -250.3);
        assert_eq!(l.lines[0].size, "-250.3");
        assert_eq!(l.lines[0].note, None);
        let l = one(
            2.0,
            0.3,
            0.0,
            10.0,
            VenueRule {
                min_notional: 0.5,
                ..perp(1)
            },
            0.02,
        );
        assert_eq!(l.orders[0].units, -0.3);
        // Less than one lot held: nothing can be closed, and the line says so.
        let l = one(30.0, 0.4, 0.0, 10_000.0, perp(0), 0.02);
        assert!(l.orders.is_empty());
        let why = l.lines[0].dropped.as_deref().unwrap();
        assert!(
            why.contains("less than one lot at 0 size decimals"),
            "{why}"
        );
        // kPEPE: 81,004,000 PEPE is 81,004 lots of 1000, closed exactly.
        let kpepe = VenueRule {
            venue_unit: 1000.0,
            ..perp(0)
        };
        let l = one(0.000_012, 81_004_000.0, 0.0, 10_000.0, kpepe, 0.02);
        assert_eq!(l.orders[0].units, -81_004_000.0);
        // A reduction (not an exit) from 1198.7 to 0.1 units wants −1198.6, which the nearest
        // lot makes −1199, past the held size: it goes toward zero instead, −1198.
        let l = one(0.9, 1198.7, 0.000_009, 10_000.0, perp(0), 0.02);
        assert_eq!(l.orders[0].units, -1198.0);
        assert!(!l.orders[0].reduce_only);
    }
}
