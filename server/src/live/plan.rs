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
            note: None,
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
        // The venue's lot and tick rules apply in its own units: one venue unit is
        // `venue_unit` of ours (Hyperliquid's kPEPE is 1000 PEPE, priced per 1000).
        let k = rule.venue_unit;
        let d = rule.size_decimals;
        let units = if exit {
            // Reduce-only: never more than is held, though the held units need not be on
            // today's lot grid (the paper venue's lots follow the price, so a position bought
            // at 1198.5 may have to be closed at whole units). Toward zero; exactly the held
            // units when the grid can express them, so nothing is left behind.
            let closable = truncate_size(current_units / k, d) * k;
            if (closable - current_units).abs() <= 1e-9 * current_units.abs() {
                -current_units
            } else {
                if closable != 0.0 {
                    line.note = Some(format!(
                        "the venue's {} cannot express the held {current_units} units: the \
                         exit closes {} of them and leaves {} as dust",
                        size_grid(d, k),
                        closable.abs(),
                        (current_units - closable).abs()
                    ));
                }
                -closable
            }
        } else {
            let nearest = round_size(raw_units / k, d) * k;
            // A reduction must not overshoot the held size by rounding up either.
            let reduces = raw_units * current_units < 0.0 && raw_units.abs() <= current_units.abs();
            if reduces && nearest.abs() > current_units.abs() {
                truncate_size(raw_units / k, d) * k
            } else {
                nearest
            }
        };
        line.action = if units > 0.0 || (units == 0.0 && raw_units > 0.0) {
            "buy"
        } else {
            "sell"
        }
        .into();
        line.size = decimal_string(units, shift_decimals(rule.size_decimals, -decimal_shift(k)));
        if units == 0.0 {
            line.dropped = Some(if exit {
                format!(
                    "the held {current_units} units are less than one lot at {}: nothing can be \
                     closed",
                    size_grid(d, k)
                )
            } else if k == 1.0 {
                format!(
                    "{raw_units:.10} units rounds to 0 at {} size decimals",
                    rule.size_decimals
                )
            } else {
                format!(
                    "{raw_units:.10} units rounds to 0 venue units of {k} at {} size decimals",
                    rule.size_decimals
                )
            });
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
        let limit = match limit_price(mark, units > 0.0, inputs.max_slippage, rule) {
            Ok(limit) => limit,
            Err(why) => {
                line.dropped = Some(why);
                lines.push(line);
                continue;
            }
        };
        line.limit_price = decimal_string(
            limit,
            shift_decimals(rule.price_max_decimals, decimal_shift(k)),
        );
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

/// The power of ten of a venue unit (1000 → 3), so venue decimals can be shown in our units.
fn decimal_shift(venue_unit: f64) -> i32 {
    venue_unit.log10().round() as i32
}

/// `decimals + shift`, never below 0.
fn shift_decimals(decimals: u32, shift: i32) -> u32 {
    (decimals as i32 + shift).max(0) as u32
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

/// `x` toward zero to `decimals` places: the most a reduce-only order may ask for.
pub fn truncate_size(x: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    let r = on_grid_or(x * scale, f64::trunc) / scale;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// `scaled` as a whole number: its nearest integer when it is one up to float noise
/// (1670.1 × 10 is 16700.999999999998, 0.3 × 10 is 3.0000000000000004), else `round(scaled)`.
fn on_grid_or(scaled: f64, round: fn(f64) -> f64) -> f64 {
    let nearest = scaled.round();
    if (scaled - nearest).abs() <= 1e-9 * scaled.abs().max(1.0) {
        nearest
    } else {
        round(scaled)
    }
}

/// "0 size decimals", with the venue unit when it is not ours, for drop reasons and notes.
fn size_grid(decimals: u32, venue_unit: f64) -> String {
    if venue_unit == 1.0 {
        format!("{decimals} size decimals")
    } else {
        format!("{decimals} size decimals of venue units of {venue_unit}")
    }
}

/// `px` on the venue's price grid — at most `sig_figs` significant figures and at most
/// `max_decimals` decimals, integers always allowed (Hyperliquid's tick rule; above 100,000 that
/// means whole dollars) — rounded down, or up when `up`. 0 for a non-positive price.
pub fn round_price(px: f64, sig_figs: u32, max_decimals: u32, up: bool) -> f64 {
    if !(px.is_finite() && px > 0.0) {
        return 0.0;
    }
    let magnitude = px.log10().floor() as i64;
    let decimals = (sig_figs as i64 - 1 - magnitude).clamp(0, max_decimals as i64) as i32;
    // Dividing a whole number by an exact power of ten gives the f64 nearest the decimal price,
    // the same value a parsed "0.000022" has.
    let scale = 10f64.powi(decimals);
    on_grid_or(px * scale, if up { f64::ceil } else { f64::floor }) / scale
}

/// The limit price of a buy (`is_buy`) or a sell at `mark` (our units), on the venue's grid and
/// inside the slippage band: a buy's in [mark, mark × (1 + max_slippage)], a sell's in
/// [mark × (1 − max_slippage), mark]. A buy takes the highest grid price under its cap, a sell
/// the lowest above it: the most room the cap allows. Rounding to the nearest grid price instead
/// can land a buy below the mark (BONK at $0.00002105 with 6 decimals: 0.0000212605 → 0.000021),
/// and the venue refuses it even with no slippage at all; when the grid has no price in the band
/// the line is dropped with this `Err` instead of being sent to be refused.
pub fn limit_price(
    mark: f64,
    is_buy: bool,
    max_slippage: f64,
    rule: &VenueRule,
) -> Result<f64, String> {
    // The tick rule applies to the venue's price: per 1000 for kPEPE.
    let k = rule.venue_unit;
    let (sig, dec) = (rule.price_sig_figs, rule.price_max_decimals);
    let side = if is_buy { 1.0 } else { -1.0 };
    let cap = mark * k * (1.0 + side * max_slippage);
    let venue_px = if is_buy || cap > 0.0 {
        round_price(cap, sig, dec, !is_buy)
    } else {
        // A sell capped at 100 % or more: the lowest price the venue can express.
        10f64.powi(-(dec as i32))
    };
    let limit = venue_px / k;
    let inside = if is_buy {
        limit >= mark
    } else {
        limit > 0.0 && limit <= mark
    };
    if inside {
        return Ok(limit);
    }
    Err(format!(
        "no {} limit price between the mark {mark} and the {}% slippage cap {}: the venue's \
         prices have at most {sig} significant figures and {dec} decimals{}, and the best one \
         within the cap, {limit}, is {} the mark",
        if is_buy { "buy" } else { "sell" },
        max_slippage * 100.0,
        cap / k,
        if k == 1.0 {
            String::new()
        } else {
            format!(" per venue unit of {k}")
        },
        if is_buy { "below" } else { "above" },
    ))
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
        // Rounded down (a buy's cap) or up (a sell's): 1234.567 has two decimals too many.
        assert_eq!(round_price(1234.567, 5, 6, false), 1234.5);
        assert_eq!(round_price(1234.567, 5, 6, true), 1234.6);
        assert_eq!(round_price(0.00123456, 5, 6, false), 0.001234);
        assert_eq!(round_price(0.00123456, 5, 6, true), 0.001235);
        // szDecimals 1: at most 5 decimals, so 0.012345 is not a price but 0.01234 is.
        assert_eq!(round_price(0.012345, 5, 5, false), 0.01234);
        assert_eq!(round_price(0.012345, 5, 5, true), 0.01235);
        // Above 100,000 only whole dollars (integers are always allowed).
        assert_eq!(round_price(123_456.7, 5, 1, false), 123_456.0);
        assert_eq!(round_price(123_456.7, 5, 1, true), 123_457.0);
        // Prices already on the grid stay put in both directions (1670.1 × 10 = 16700.99…).
        assert_eq!(round_price(1670.1, 5, 6, false), 1670.1);
        assert_eq!(round_price(1670.1, 5, 6, true), 1670.1);
        assert_eq!(round_price(0.000021, 5, 6, true), 0.000021);
        // Under $0.001 six decimals leave fewer than 5 significant figures: 0.0000212605 sits
        // between the ticks 0.000021 and 0.000022.
        assert_eq!(round_price(0.000_021_260_5, 5, 6, false), 0.000021);
        assert_eq!(round_price(0.000_021_260_5, 5, 6, true), 0.000022);
        assert_eq!(round_price(0.000_000_4, 5, 6, false), 0.0);
        assert_eq!(round_price(-1.0, 5, 6, true), 0.0);
        assert_eq!(
            decimal_string(round_price(1234.567, 5, 6, true), 6),
            "1234.6"
        );
        // Reduce-only sizes go toward zero, and held sizes on the grid stay exact.
        assert_eq!(truncate_size(1198.5, 0), 1198.0);
        assert_eq!(truncate_size(-1198.5, 0), -1198.0);
        assert_eq!(truncate_size(0.3, 1), 0.3);
        assert_eq!(truncate_size(0.7, 1), 0.7);
        assert_eq!(truncate_size(-0.4, 0), 0.0);
    }

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
        assert_eq!(order.limit_price, 0.012468 / 1000.0);
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
        assert_eq!(l.orders[0].limit_price, 0.009886 / 1000.0);
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
