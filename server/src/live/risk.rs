//! Risk limits, checked on every plan before anything is sent and shown on the plan. Pure.

use super::settings::RiskLimits;
use crate::broker::OrderRequest;
use app::api::{PlanLine, RiskCheck, RiskReport};

/// What the checks need besides the plan.
#[derive(Clone, Copy, Debug)]
pub struct RiskContext {
    pub equity: f64,
    /// USD already traded today (UTC), before this plan.
    pub traded_today: f64,
    pub kill_switch: bool,
}

/// Post-trade weight of a line: what it will hold if its order fills (dropped and held lines
/// keep their current weight).
fn post_weight(line: &PlanLine, order: Option<&OrderRequest>, equity: f64) -> f64 {
    match order {
        Some(o) if equity > 0.0 => (line.current_units + o.units) * line.mark_price / equity,
        _ => line.current_weight,
    }
}

/// Checks `lines`/`orders` against `limits`. The report is `blocked` when any check fails or the
/// kill switch is on; [`reasons`] turns it into messages.
pub fn check(
    lines: &[PlanLine],
    orders: &[OrderRequest],
    limits: &RiskLimits,
    ctx: RiskContext,
) -> RiskReport {
    let order_of = |l: &PlanLine| orders.iter().find(|o| o.symbol == l.symbol);
    let mut gross = 0.0;
    let (mut max_w, mut max_w_sym) = (0.0f64, String::new());
    for l in lines {
        let w = post_weight(l, order_of(l), ctx.equity).abs();
        gross += w;
        if w > max_w {
            max_w = w;
            max_w_sym = l.symbol.clone();
        }
    }
    let (mut max_n, mut max_n_sym) = (0.0f64, String::new());
    let mut traded = 0.0;
    for l in lines {
        if let Some(o) = order_of(l) {
            let n = (o.units * l.mark_price).abs();
            traded += n;
            if n > max_n {
                max_n = n;
                max_n_sym = l.symbol.clone();
            }
        }
    }
    let turnover = if ctx.equity > 0.0 {
        (ctx.traded_today + traded) / ctx.equity
    } else {
        f64::INFINITY
    };
    let mut checks = vec![
        RiskCheck {
            name: "max_gross_leverage".into(),
            limit: limits.max_gross_leverage,
            value: gross,
            ok: gross <= limits.max_gross_leverage,
            detail: format!("gross exposure after trading {gross:.4}"),
        },
        RiskCheck {
            name: "max_weight_per_symbol".into(),
            limit: limits.max_weight_per_symbol,
            value: max_w,
            ok: max_w <= limits.max_weight_per_symbol,
            detail: if max_w_sym.is_empty() {
                "no positions".into()
            } else {
                format!("largest: {max_w_sym} at {max_w:.4}")
            },
        },
        RiskCheck {
            name: "max_order_notional".into(),
            limit: limits.max_order_notional,
            value: max_n,
            ok: max_n <= limits.max_order_notional,
            detail: if max_n_sym.is_empty() {
                "no orders".into()
            } else {
                format!("largest: {max_n_sym} ${max_n:.2}")
            },
        },
        RiskCheck {
            name: "max_daily_turnover".into(),
            limit: limits.max_daily_turnover,
            value: turnover,
            ok: turnover <= limits.max_daily_turnover,
            detail: format!(
                "${:.2} already traded today + ${traded:.2} in this plan",
                ctx.traded_today
            ),
        },
    ];
    if !(ctx.equity.is_finite() && ctx.equity > 0.0) {
        checks.push(RiskCheck {
            name: "positive_equity".into(),
            limit: 0.0,
            value: ctx.equity,
            ok: false,
            detail: "account equity must be positive to size orders".into(),
        });
    }
    let blocked = ctx.kill_switch || checks.iter().any(|c| !c.ok);
    RiskReport {
        checks,
        kill_switch: ctx.kill_switch,
        blocked,
    }
}

/// Why a report blocks, one message per failed check (and the kill switch).
pub fn reasons(report: &RiskReport) -> Vec<String> {
    let mut out = Vec::new();
    if report.kill_switch {
        out.push("kill switch is on: no new orders".to_string());
    }
    for c in report.checks.iter().filter(|c| !c.ok) {
        out.push(format!(
            "{}: {:.4} exceeds the limit {:.4} ({})",
            c.name, c.value, c.limit, c.detail
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(symbol: &str, current_units: f64, mark: f64, current_weight: f64) -> PlanLine {
        PlanLine {
            symbol: symbol.into(),
            mark_price: mark,
            current_units,
            current_weight,
            target_weight: 0.0,
            new_weight: 0.0,
            notional: 0.0,
            size: "0".into(),
            limit_price: "0".into(),
            reduce_only: false,
            action: app::api::PlanAction::Buy,
            dropped: None,
            note: None,
            client_order_id: None,
        }
    }

    fn order(symbol: &str, units: f64) -> OrderRequest {
        use shared::venue::Decimal;
        OrderRequest::new(
            format!("c-{symbol}"),
            symbol,
            Decimal::from_f64_shortest(units).unwrap(),
            Decimal::new(1, 0).unwrap(),
            false,
        )
    }

    #[test]
    fn each_limit_blocks_with_its_reason() {
        let ctx = RiskContext {
            equity: 1000.0,
            traded_today: 0.0,
            kill_switch: false,
        };
        let lines = vec![line("A", 0.0, 10.0, 0.0), line("B", 0.0, 10.0, 0.0)];
        // 30 units × $10 = $300 = 0.3 of equity in A; 10 units of B = 0.1.
        let orders = vec![order("A", 30.0), order("B", -10.0)];
        let r = check(&lines, &orders, &RiskLimits::default(), ctx);
        assert!(r.blocked);
        let why = reasons(&r);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].starts_with("max_weight_per_symbol: 0.3000"),
            "{why:?}"
        );

        let limits = RiskLimits {
            max_weight_per_symbol: 0.5,
            max_order_notional: 200.0,
            max_daily_turnover: 0.35,
            max_gross_leverage: 0.39,
        };
        let r = check(&lines, &orders, &limits, ctx);
        let names: Vec<_> = r
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "max_gross_leverage",
                "max_order_notional",
                "max_daily_turnover"
            ]
        );

        let ok = RiskLimits {
            max_weight_per_symbol: 0.5,
            ..RiskLimits::default()
        };
        assert!(!check(&lines, &orders, &ok, ctx).blocked);
        let killed = check(
            &lines,
            &orders,
            &ok,
            RiskContext {
                kill_switch: true,
                ..ctx
            },
        );
        assert!(killed.blocked);
        assert_eq!(reasons(&killed), ["kill switch is on: no new orders"]);
    }
}
