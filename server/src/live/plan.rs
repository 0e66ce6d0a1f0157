//! From targets and holdings to a trade plan: per symbol the current and target weight, what the
//! rebalance policy keeps or trades, and the order, sized and priced by the venue's rules.
//! Pure: no I/O, no clock. The cycle (`cycle.rs`) gathers the inputs and stores the result.

use crate::broker::{client_order_id, Account, OrderRequest, VenueRule};
use app::api::PlanLine;
use shared::portfolio::engine::DayTargets;
use shared::portfolio::rebalance::RebalancePolicy;
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
            action: "hold".into(),
            dropped: None,
            client_order_id: None,
        };
        if !trade {
            lines.push(line);
            continue;
        }
        line.action = if new_weight > current_weight {
            "buy"
        } else {
            "sell"
        }
        .into();
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
        let exit = new_weight == 0.0;
        let raw_units = if exit {
            -current_units
        } else {
            new_weight * equity / mark - current_units
        };
        let units = round_size(raw_units, rule.size_decimals);
        line.action = if units > 0.0 || (units == 0.0 && raw_units > 0.0) {
            "buy"
        } else {
            "sell"
        }
        .into();
        line.size = decimal_string(units, rule.size_decimals);
        if units == 0.0 {
            line.dropped = Some(format!(
                "{raw_units:.10} units rounds to 0 at {} size decimals",
                rule.size_decimals
            ));
            lines.push(line);
            continue;
        }
        let value = (units * mark).abs();
        if value < rule.min_notional {
            line.dropped = Some(format!(
                "order value ${value:.2} is below the venue minimum ${:.2}",
                rule.min_notional
            ));
            lines.push(line);
            continue;
        }
        let side = if units > 0.0 { 1.0 } else { -1.0 };
        let limit = round_price(
            mark * (1.0 + side * inputs.max_slippage),
            rule.price_sig_figs,
            rule.price_max_decimals,
        );
        line.limit_price = decimal_string(limit, rule.price_max_decimals);
        // An exit only ever reduces; a flip or a resize may open the other side.
        line.reduce_only = exit;
        let cloid = client_order_id(inputs.plan_id, &symbol);
        line.client_order_id = Some(cloid.clone());
        orders.push(OrderRequest {
            client_order_id: cloid,
            symbol: symbol.clone(),
            units,
            limit_price: limit,
            reduce_only: exit,
        });
        lines.push(line);
    }
    Lines { lines, orders }
}

/// `x` rounded half away from zero to `decimals` places (Hyperliquid: `round(sz, szDecimals)`).
pub fn round_size(x: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    let r = (x * scale).round() / scale;
    if r == 0.0 {
        0.0 // no "-0"
    } else {
        r
    }
}

/// A price with at most `sig_figs` significant figures and `max_decimals` decimals; prices above
/// 100,000 are rounded to an integer (integers are always valid on Hyperliquid).
pub fn round_price(px: f64, sig_figs: u32, max_decimals: u32) -> f64 {
    if !px.is_finite() || px <= 0.0 {
        return 0.0;
    }
    if px > 100_000.0 {
        return px.round();
    }
    let magnitude = px.log10().floor() as i32;
    let scale = 10f64.powi(sig_figs as i32 - magnitude - 1);
    let sig = (px * scale).round() / scale;
    let dec = 10f64.powi(max_decimals as i32);
    (sig * dec).round() / dec
}

/// `x` (already rounded to `decimals`) as a decimal string without trailing zeros, never `-0`.
pub fn decimal_string(x: f64, decimals: u32) -> String {
    let s = format!("{:.*}", decimals as usize, x);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_prices_follow_the_venue_rules() {
        assert_eq!(round_size(0.123456, 3), 0.123);
        assert_eq!(round_size(-0.1235, 3), -0.124);
        assert_eq!(round_size(-0.0004, 3), 0.0);
        assert_eq!(decimal_string(round_size(-0.0004, 3), 3), "0");
        assert_eq!(decimal_string(1.5, 4), "1.5");
        assert_eq!(decimal_string(100.0, 2), "100");
        // Hyperliquid's examples: 5 significant figures, at most 6 - szDecimals decimals.
        assert_eq!(round_price(1234.567, 5, 6), 1234.6);
        assert_eq!(round_price(0.00123456, 5, 6), 0.001235);
        assert_eq!(round_price(0.0123456, 5, 5), 0.01235);
        assert_eq!(round_price(123_456.7, 5, 1), 123_457.0);
        assert_eq!(decimal_string(round_price(1234.567, 5, 6), 6), "1234.6");
    }
}
