//! The book during the day: the account's positions valued at the venue's current marks
//! ([`crate::broker::Broker::current_marks`]: the paper venue's last close, Hyperliquid's
//! `allMids`), the P&L since the last equity snapshot, how old each mark is, and which
//! strategies want each symbol and by how much.

use crate::broker::{Account, Valuation};
use crate::store::Store;
use app::api::StrategyContribution;
use shared::portfolio::engine::DayTargets;
use shared::Panel;
use sqlx::Row;
use std::collections::BTreeMap;

/// A position at its current mark.
#[derive(Clone, Debug, PartialEq)]
pub struct ValuedPosition {
    pub symbol: String,
    pub units: f64,
    pub mark_price: f64,
    /// When that mark was quoted (Unix ms); `None` when the venue gave no current mark and the
    /// account's own was used.
    pub mark_as_of: Option<i64>,
}

/// The account revalued.
#[derive(Clone, Debug, PartialEq)]
pub struct Valued {
    pub equity: f64,
    pub positions: Vec<ValuedPosition>,
    /// Where the marks come from (`last close`, `allMids`, or `account` when none were had).
    pub source: String,
}

/// `account` at `valuation`'s marks: each position's value moves by `units × (mark − the
/// account's mark)`, and the equity with it (the account's equity is cash plus positions at
/// its own marks, so the difference is all that changes). A symbol without a current mark
/// keeps the account's.
pub fn revalue(account: &Account, valuation: &Valuation) -> Valued {
    let mut equity = account.equity;
    let positions = account
        .positions
        .iter()
        .map(|p| match valuation.marks.get(&p.symbol) {
            Some(m) => {
                equity += p.units * (m.price - p.mark_price);
                ValuedPosition {
                    symbol: p.symbol.clone(),
                    units: p.units,
                    mark_price: m.price,
                    mark_as_of: m.as_of,
                }
            }
            None => ValuedPosition {
                symbol: p.symbol.clone(),
                units: p.units,
                mark_price: p.mark_price,
                mark_as_of: None,
            },
        })
        .collect();
    Valued {
        equity,
        positions,
        source: valuation.source.clone(),
    }
}

/// The newest equity snapshot of `broker`: (Unix ms, equity).
///
/// # Errors
/// Database failure.
pub async fn last_snapshot(store: &Store, broker: &str) -> Result<Option<(i64, f64)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT at, equity FROM equity_snapshots WHERE broker = $1 ORDER BY at DESC LIMIT 1",
    )
    .bind(broker.to_string())
    .fetch_optional(store.pool())
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// Each symbol's target split by strategy: `leverage × effective weight × the strategy's own
/// target`, the largest first, zeros left out. They sum to the blended target (before the
/// blend's caps).
pub fn contributions(
    panel: &Panel,
    targets: &DayTargets,
    leverage: f64,
) -> BTreeMap<String, Vec<StrategyContribution>> {
    let mut out: BTreeMap<String, Vec<StrategyContribution>> = BTreeMap::new();
    for s in &targets.strategies {
        for (symbol, t) in panel.symbols().iter().zip(&s.targets) {
            let weight = leverage * s.effective_weight * t;
            if weight != 0.0 && weight.is_finite() {
                out.entry(symbol.clone())
                    .or_default()
                    .push(StrategyContribution {
                        strategy: s.name.clone(),
                        weight,
                    });
            }
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{Mark, Position};

    #[test]
    fn revaluing_moves_equity_by_the_mark_changes() {
        let account = Account {
            equity: 10_000.0,
            positions: vec![
                Position {
                    symbol: "BTC".into(),
                    units: -0.02,
                    mark_price: 60_000.0,
                },
                Position {
                    symbol: "ETH".into(),
                    units: 2.0,
                    mark_price: 3_000.0,
                },
            ],
        };
        let valuation = Valuation {
            source: "allMids".into(),
            marks: [(
                "BTC".to_string(),
                Mark {
                    price: 61_000.0,
                    as_of: Some(5),
                },
            )]
            .into(),
        };
        let v = revalue(&account, &valuation);
        // The short loses 0.02 × 1000 = 20; ETH has no mid and keeps its mark.
        assert_eq!(v.equity, 9_980.0);
        assert_eq!(v.positions[0].mark_price, 61_000.0);
        assert_eq!(v.positions[0].mark_as_of, Some(5));
        assert_eq!(v.positions[1].mark_price, 3_000.0);
        assert_eq!(v.positions[1].mark_as_of, None);
        assert_eq!(v.source, "allMids");
    }
}
