//! The paper broker: a persistent simulated account in the store (the default broker).
//!
//! - Cash and positions live in `paper_accounts` / `paper_positions`, so they survive restarts.
//! - Fills happen at the close of the day the live cycle trades on (the marks set by
//!   [`Broker::observe_close`]) by the simulator's own fill function ([`Costs::fill`]): the cash
//!   moves by exactly what the backtest's trade moves it by, `−units × close − |units × close| ×
//!   (fee_bps + slippage_bps) / 10 000`; the report shows the fill price `close × (1 ±
//!   slippage_bps)` and the fee `fee_bps` of `|units| × close`.
//! - Funding is accrued once per day from the panel's `funding_rate` (a daily fraction; longs pay
//!   positive funding) on the positions held over that day, valued at its close, as the
//!   simulator does; `paper_funding` records each day, so accrual is idempotent, and
//!   `paper_funding_symbols` its split by symbol (what the consistency report reads through
//!   [`Broker::funding_paid`]).
//! - Every order is recorded with its report in `paper_orders` in the same transaction as the
//!   fill: an id seen before is answered from there and never filled twice.

use super::{
    Account, Broker, BrokerError, FundingPaid, Mark, OrderReport, OrderRequest, OrderStatus,
    Position, Valuation, VenueRule,
};
use crate::store::Store;
use shared::sim::Costs;
use shared::venue::LotRules;
use shared::{Field, Panel};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

const VENUE: &str = "paper";

/// How the paper venue trades.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperConfig {
    pub account: String,
    /// Cash of a new account (USD).
    pub initial_cash: f64,
    pub costs: Costs,
    pub min_notional: f64,
    /// Fixed size decimals; `None`: the fewest decimals that make one lot worth at most $1.
    pub size_decimals: Option<u32>,
}

impl Default for PaperConfig {
    fn default() -> Self {
        PaperConfig {
            account: "default".into(),
            initial_cash: 100_000.0,
            costs: Costs::default(),
            min_notional: 10.0,
            size_decimals: None,
        }
    }
}

impl PaperConfig {
    /// The venue's lots and minimum as the simulator states them: the paper venue's rules are
    /// [`LotRules::rule`] of the fill's close, the same the backtest trades under.
    pub fn lots(&self) -> LotRules {
        LotRules {
            min_notional: self.min_notional,
            size_decimals: self.size_decimals,
            ..LotRules::default()
        }
    }
}

/// The marks of the observed day.
#[derive(Clone, Debug, Default)]
struct Book {
    day: Option<shared::Day>,
    marks: BTreeMap<String, f64>,
}

/// A paper account stored in a [`Store`].
pub struct PaperBroker {
    store: Arc<Store>,
    config: PaperConfig,
    book: RwLock<Book>,
    /// Serialises submissions in this process (the database transaction guards the rest).
    submit_lock: tokio::sync::Mutex<()>,
    /// The account row is known to exist (saves a write per call).
    created: std::sync::atomic::AtomicBool,
}

fn store_err(e: impl std::fmt::Display) -> BrokerError {
    BrokerError::Store(e.to_string())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The paper venue's size decimals for a price: the fewest that make one lot worth ≤ $1.
pub use shared::venue::size_decimals_for;

impl PaperBroker {
    pub fn new(store: Arc<Store>, config: PaperConfig) -> PaperBroker {
        PaperBroker {
            store,
            config,
            book: RwLock::new(Book::default()),
            submit_lock: tokio::sync::Mutex::new(()),
            created: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn config(&self) -> &PaperConfig {
        &self.config
    }

    /// Creates the account with its initial cash if it does not exist yet.
    async fn ensure_account(&self) -> Result<(), BrokerError> {
        use std::sync::atomic::Ordering;
        if self.created.load(Ordering::Acquire) {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO paper_accounts (name, cash, initial_cash, funding_through, created_at) \
             VALUES ($1, $2, $2, NULL, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(self.config.account.clone())
        .bind(self.config.initial_cash)
        .bind(now_ms())
        .execute(self.store.pool())
        .await
        .map_err(store_err)?;
        self.created.store(true, Ordering::Release);
        Ok(())
    }

    /// Cash (USD): the initial cash of an account that has not traded yet (reading it creates
    /// nothing).
    ///
    /// # Errors
    /// The store failed.
    pub async fn cash(&self) -> Result<f64, BrokerError> {
        let row = sqlx::query("SELECT cash FROM paper_accounts WHERE name = $1")
            .bind(self.config.account.clone())
            .fetch_optional(self.store.pool())
            .await
            .map_err(store_err)?;
        match row {
            Some(r) => r.try_get::<f64, _>(0).map_err(store_err),
            None => Ok(self.config.initial_cash),
        }
    }

    /// Stored positions: symbol → (units, last price).
    async fn positions(&self) -> Result<BTreeMap<String, (f64, f64)>, BrokerError> {
        let rows = sqlx::query(
            "SELECT symbol, units, last_price FROM paper_positions WHERE account = $1 ORDER BY symbol",
        )
        .bind(self.config.account.clone())
        .fetch_all(self.store.pool())
        .await
        .map_err(store_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>(0).map_err(store_err)?,
                    (
                        r.try_get::<f64, _>(1).map_err(store_err)?,
                        r.try_get::<f64, _>(2).map_err(store_err)?,
                    ),
                ))
            })
            .collect()
    }

    fn mark_of(&self, symbol: &str) -> Option<f64> {
        self.book
            .read()
            .expect("book lock")
            .marks
            .get(symbol)
            .copied()
    }

    /// Funding charged on days `from..=to`, by day, split by symbol where recorded.
    ///
    /// # Errors
    /// The store failed.
    pub async fn funding_between(
        &self,
        from: shared::Day,
        to: shared::Day,
    ) -> Result<BTreeMap<shared::Day, FundingPaid>, BrokerError> {
        let day = |r: &sqlx::any::AnyRow| -> Result<shared::Day, BrokerError> {
            Ok(shared::Day(
                r.try_get::<i64, _>(0).map_err(store_err)? as i32
            ))
        };
        let mut out: BTreeMap<shared::Day, FundingPaid> = BTreeMap::new();
        let in_range = |sql: &'static str| {
            sqlx::query(sql)
                .bind(self.config.account.clone())
                .bind(from.0 as i64)
                .bind(to.0 as i64)
                .fetch_all(self.store.pool())
        };
        let totals = in_range(
            "SELECT day, amount FROM paper_funding WHERE account = $1 AND day >= $2 AND day <= $3",
        )
        .await
        .map_err(store_err)?;
        for r in &totals {
            out.entry(day(r)?).or_default().total += r.try_get::<f64, _>(1).map_err(store_err)?;
        }
        let by_symbol = in_range(
            "SELECT day, symbol, amount FROM paper_funding_symbols WHERE account = $1 AND day >= $2 AND day <= $3",
        )
        .await
        .map_err(store_err)?;
        for r in &by_symbol {
            out.entry(day(r)?).or_default().by_symbol.insert(
                r.try_get(1).map_err(store_err)?,
                r.try_get(2).map_err(store_err)?,
            );
        }
        Ok(out)
    }

    /// Funding accrued so far, by day (for the dashboard and tests).
    ///
    /// # Errors
    /// The store failed.
    pub async fn funding_history(&self) -> Result<Vec<(shared::Day, f64)>, BrokerError> {
        let rows =
            sqlx::query("SELECT day, amount FROM paper_funding WHERE account = $1 ORDER BY day")
                .bind(self.config.account.clone())
                .fetch_all(self.store.pool())
                .await
                .map_err(store_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    shared::Day(r.try_get::<i64, _>(0).map_err(store_err)? as i32),
                    r.try_get::<f64, _>(1).map_err(store_err)?,
                ))
            })
            .collect()
    }

    /// Charges funding for every day after the last accrued one up to `panel` row `t`.
    async fn accrue_funding(&self, panel: &Panel, t: usize) -> Result<(), BrokerError> {
        let day_t = panel.day(t).0 as i64;
        let mut tx = self.store.begin_write().await.map_err(store_err)?;
        let row = sqlx::query("SELECT funding_through FROM paper_accounts WHERE name = $1")
            .bind(self.config.account.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(store_err)?;
        let through: Option<i64> = row.try_get(0).map_err(store_err)?;
        let Some(through) = through else {
            // A new account owes nothing for days before it first saw data.
            sqlx::query("UPDATE paper_accounts SET funding_through = $1 WHERE name = $2")
                .bind(day_t)
                .bind(self.config.account.clone())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            return tx.commit().await.map_err(store_err);
        };
        if through >= day_t {
            return tx.commit().await.map_err(store_err);
        }
        let rows = sqlx::query("SELECT symbol, units FROM paper_positions WHERE account = $1")
            .bind(self.config.account.clone())
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
        let mut held = Vec::new();
        for r in &rows {
            let s: String = r.try_get(0).map_err(store_err)?;
            let u: f64 = r.try_get(1).map_err(store_err)?;
            held.push((panel.asset_index(&s), s, u));
        }
        let mut total = 0.0;
        for d in (through + 1)..=day_t {
            let Some(row) = panel.row_of(shared::Day(d as i32)) else {
                continue;
            };
            let mut amount = 0.0;
            for (asset, symbol, units) in &held {
                let Some(a) = *asset else { continue };
                let (close, rate) = (
                    panel.get(Field::Close, a, row),
                    panel.get(Field::FundingRate, a, row),
                );
                if close.is_finite() && rate.is_finite() {
                    let paid = units * close * rate;
                    amount += paid;
                    sqlx::query(
                        "INSERT INTO paper_funding_symbols (account, day, symbol, amount) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (account, day, symbol) DO NOTHING",
                    )
                    .bind(self.config.account.clone())
                    .bind(d)
                    .bind(symbol.clone())
                    .bind(paid)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_err)?;
                }
            }
            sqlx::query(
                "INSERT INTO paper_funding (account, day, amount) VALUES ($1, $2, $3) \
                 ON CONFLICT (account, day) DO NOTHING",
            )
            .bind(self.config.account.clone())
            .bind(d)
            .bind(amount)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            total += amount;
        }
        sqlx::query(
            "UPDATE paper_accounts SET cash = cash - $1, funding_through = $2 WHERE name = $3",
        )
        .bind(total)
        .bind(day_t)
        .bind(self.config.account.clone())
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)
    }

    /// Fills one order inside `tx`, or refuses it. Returns the report to record.
    async fn fill(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        o: &OrderRequest,
    ) -> Result<OrderReport, BrokerError> {
        let reject = |reason: String| OrderReport {
            client_order_id: o.client_order_id.clone(),
            symbol: o.symbol.clone(),
            status: OrderStatus::Rejected { reason },
            filled_units: 0.0,
            avg_price: 0.0,
            fee: 0.0,
        };
        if !o.units.is_finite() || o.units == 0.0 {
            return Ok(reject(format!("invalid size {}", o.units)));
        }
        let Some(close) = self.mark_of(&o.symbol) else {
            return Ok(reject(format!(
                "no price for {} on the paper venue",
                o.symbol
            )));
        };
        let side = o.units.signum();
        // The simulator's fill: the same cash move as the backtest's trade at this close.
        let fill = self.config.costs.fill(o.units, close);
        let price = fill.price;
        if (side > 0.0 && price > o.limit_price) || (side < 0.0 && price < o.limit_price) {
            return Ok(reject(format!(
                "fill price {price} is beyond the limit {}",
                o.limit_price
            )));
        }
        if fill.notional < self.config.min_notional {
            return Ok(reject(format!(
                "Order must have minimum value of ${}",
                self.config.min_notional
            )));
        }
        let row =
            sqlx::query("SELECT units FROM paper_positions WHERE account = $1 AND symbol = $2")
                .bind(self.config.account.clone())
                .bind(o.symbol.clone())
                .fetch_optional(&mut **tx)
                .await
                .map_err(store_err)?;
        let held: f64 = match row {
            Some(r) => r.try_get(0).map_err(store_err)?,
            None => 0.0,
        };
        if o.reduce_only
            && (held == 0.0 || held.signum() == side || o.units.abs() > held.abs() + 1e-12)
        {
            return Ok(reject(format!(
                "reduce-only order of {} would not reduce the position of {held}",
                o.units
            )));
        }
        let new_units = held + o.units;
        let new_units = if new_units.abs() < 1e-12 {
            0.0
        } else {
            new_units
        };
        sqlx::query("UPDATE paper_accounts SET cash = cash + $1 WHERE name = $2")
            .bind(fill.cash_delta)
            .bind(self.config.account.clone())
            .execute(&mut **tx)
            .await
            .map_err(store_err)?;
        if new_units == 0.0 {
            sqlx::query("DELETE FROM paper_positions WHERE account = $1 AND symbol = $2")
                .bind(self.config.account.clone())
                .bind(o.symbol.clone())
                .execute(&mut **tx)
                .await
                .map_err(store_err)?;
        } else {
            sqlx::query(
                "INSERT INTO paper_positions (account, symbol, units, last_price) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account, symbol) DO UPDATE SET units = excluded.units, last_price = excluded.last_price",
            )
            .bind(self.config.account.clone())
            .bind(o.symbol.clone())
            .bind(new_units)
            .bind(close)
            .execute(&mut **tx)
            .await
            .map_err(store_err)?;
        }
        Ok(OrderReport {
            client_order_id: o.client_order_id.clone(),
            symbol: o.symbol.clone(),
            status: OrderStatus::Filled,
            filled_units: o.units,
            avg_price: price,
            fee: fill.fee,
        })
    }

    async fn stored_report(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<Option<OrderReport>, BrokerError> {
        let row = sqlx::query(
            "SELECT report FROM paper_orders WHERE account = $1 AND client_order_id = $2",
        )
        .bind(self.config.account.clone())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_err)?;
        match row {
            Some(r) => {
                let text: String = r.try_get(0).map_err(store_err)?;
                serde_json::from_str(&text).map(Some).map_err(store_err)
            }
            None => Ok(None),
        }
    }
}

#[async_trait::async_trait]
impl Broker for PaperBroker {
    fn name(&self) -> &'static str {
        VENUE
    }

    async fn account(&self) -> Result<Account, BrokerError> {
        let cash = self.cash().await?;
        let mut equity = cash;
        let mut positions = Vec::new();
        for (symbol, (units, last)) in self.positions().await? {
            let mark = self.mark_of(&symbol).unwrap_or(last);
            equity += units * mark;
            positions.push(Position {
                symbol,
                units,
                mark_price: mark,
            });
        }
        Ok(Account { equity, positions })
    }

    async fn account_marked(&self, panel: &Panel, t: usize) -> Result<Account, BrokerError> {
        // What `observe_close(panel, t, false)` then `account()` would show, without setting the
        // book's marks.
        let cash = self.cash().await?;
        let mut equity = cash;
        let mut positions = Vec::new();
        for (symbol, (units, last)) in self.positions().await? {
            let mark = panel
                .asset_index(&symbol)
                .map(|a| panel.get(Field::Close, a, t))
                .filter(|c| c.is_finite() && *c > 0.0)
                .unwrap_or(last);
            equity += units * mark;
            positions.push(Position {
                symbol,
                units,
                mark_price: mark,
            });
        }
        Ok(Account { equity, positions })
    }

    async fn marks(&self, symbols: &[String]) -> Result<BTreeMap<String, f64>, BrokerError> {
        let book = self.book.read().expect("book lock");
        Ok(symbols
            .iter()
            .filter_map(|s| book.marks.get(s).map(|m| (s.clone(), *m)))
            .collect())
    }

    /// The observed day's closes, dated at that close (the end of the day, 24:00 UTC).
    async fn current_marks(&self, symbols: &[String]) -> Result<Valuation, BrokerError> {
        let book = self.book.read().expect("book lock");
        let as_of = book.day.map(|d| (i64::from(d.0) + 1) * 86_400_000);
        Ok(Valuation {
            source: "last close".into(),
            marks: symbols
                .iter()
                .filter_map(|s| {
                    let price = *book.marks.get(s)?;
                    Some((s.clone(), Mark { price, as_of }))
                })
                .collect(),
        })
    }

    async fn rules(&self, symbols: &[String]) -> Result<BTreeMap<String, VenueRule>, BrokerError> {
        let book = self.book.read().expect("book lock");
        let lots = self.config.lots();
        Ok(symbols
            .iter()
            .filter_map(|s| Some((s.clone(), lots.rule(*book.marks.get(s)?))))
            .collect())
    }

    async fn submit(&self, orders: &[OrderRequest]) -> Result<Vec<OrderReport>, BrokerError> {
        self.ensure_account().await?;
        let _guard = self.submit_lock.lock().await;
        let mut out = Vec::with_capacity(orders.len());
        for o in orders {
            let mut tx = self.store.begin_write().await.map_err(store_err)?;
            if let Some(seen) = self.stored_report(&mut tx, &o.client_order_id).await? {
                tx.rollback().await.map_err(store_err)?;
                out.push(seen);
                continue;
            }
            let report = self.fill(&mut tx, o).await?;
            sqlx::query(
                "INSERT INTO paper_orders (account, client_order_id, report, at) VALUES ($1, $2, $3, $4)",
            )
            .bind(self.config.account.clone())
            .bind(o.client_order_id.clone())
            .bind(serde_json::to_string(&report).map_err(store_err)?)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            tx.commit().await.map_err(store_err)?;
            out.push(report);
        }
        Ok(out)
    }

    async fn reconcile(
        &self,
        client_order_ids: &[String],
    ) -> Result<Vec<OrderReport>, BrokerError> {
        let mut conn = self.store.pool().acquire().await.map_err(store_err)?;
        let mut out = Vec::with_capacity(client_order_ids.len());
        for id in client_order_ids {
            out.push(match self.stored_report(&mut conn, id).await? {
                Some(r) => r,
                None => OrderReport {
                    client_order_id: id.clone(),
                    symbol: String::new(),
                    status: OrderStatus::Unknown,
                    filled_units: 0.0,
                    avg_price: 0.0,
                    fee: 0.0,
                },
            });
        }
        Ok(out)
    }

    async fn funding_paid(
        &self,
        from: shared::Day,
        to: shared::Day,
    ) -> Result<Option<BTreeMap<shared::Day, FundingPaid>>, BrokerError> {
        self.funding_between(from, to).await.map(Some)
    }

    async fn observe_close(
        &self,
        panel: &Panel,
        t: usize,
        persist: bool,
    ) -> Result<(), BrokerError> {
        self.ensure_account().await?;
        let positions = self.positions().await?;
        let mut marks = BTreeMap::new();
        for (a, s) in panel.symbols().iter().enumerate() {
            let c = panel.get(Field::Close, a, t);
            if c.is_finite() && c > 0.0 {
                marks.insert(s.clone(), c);
            }
        }
        {
            let mut book = self.book.write().expect("book lock");
            book.day = Some(panel.day(t));
            book.marks = marks.clone();
        }
        if persist {
            self.accrue_funding(panel, t).await?;
            // One transaction: a commit per position would cost a disk sync each.
            let mut tx = self.store.begin_write().await.map_err(store_err)?;
            for (s, _) in positions {
                if let Some(m) = marks.get(&s) {
                    sqlx::query(
                        "UPDATE paper_positions SET last_price = $1 WHERE account = $2 AND symbol = $3",
                    )
                    .bind(*m)
                    .bind(self.config.account.clone())
                    .bind(s.clone())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_err)?;
                }
            }
            tx.commit().await.map_err(store_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_lots_are_worth_at_most_a_dollar() {
        assert_eq!(size_decimals_for(100_000.0), 5);
        assert_eq!(size_decimals_for(4_000.0), 4);
        assert_eq!(size_decimals_for(0.5), 0);
        assert_eq!(size_decimals_for(1.0), 0);
        assert_eq!(size_decimals_for(1e12), 8);
    }
}
