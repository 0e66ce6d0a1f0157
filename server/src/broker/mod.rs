//! Brokers: where orders go. `paper` (the default: a persistent simulated account in the
//! store) and `hyperliquid` (real orders through the `/exchange` endpoint).
//!
//! The live cycle talks to a `dyn Broker` only, so the plan → approval → execution path is the
//! same for paper and real money. Every order carries a client order id derived from the plan id
//! and the symbol ([`client_order_id`]): a retry or a restart re-sends the same id, and the venue
//! (or the paper account) refuses a second order with an id it has seen, so nothing trades twice.

pub mod hyperliquid;
pub mod paper;

use shared::venue::{self, Decimal};
use std::collections::BTreeMap;

/// A position held at the venue.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub symbol: String,
    /// Signed units (negative = short).
    pub units: f64,
    /// Price the venue marks it at (USD).
    pub mark_price: f64,
}

/// The account as the venue reports it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// Account value in USD (cash + unrealised P&L).
    pub equity: f64,
    pub positions: Vec<Position>,
}

/// A price to value a position at now, and when the venue quoted it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    pub price: f64,
    /// Unix milliseconds of the quote (a paper mark: the close it is; `None`: unknown).
    pub as_of: Option<i64>,
}

/// The marks the intraday portfolio view values the book at ([`Broker::current_marks`]).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Valuation {
    /// Where the prices come from: `last close` (paper), `allMids` (Hyperliquid).
    pub source: String,
    /// By Lockstep symbol; symbols without a quote are left out.
    pub marks: BTreeMap<String, Mark>,
}

/// How a venue lets a symbol be traded: one definition, in `shared` (the backtest rounds on
/// the same grid).
pub use shared::venue::VenueRule;

/// One order of a plan, on the venue's grid ([`shared::venue::round_order`]). The broker sends
/// `size` and `price` — exact decimals, the very digits the plan showed — and never rounds
/// again; `units` and `limit_price` are their `f64` values for arithmetic (risk, the paper
/// venue's cash).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredOrderRequest")]
pub struct OrderRequest {
    /// Client order id ([`client_order_id`]): the key that makes submission idempotent.
    pub client_order_id: String,
    pub symbol: String,
    /// Signed units to trade (positive buys): `size` as an `f64` (for an exit that closes the
    /// whole position, exactly the held units).
    pub units: f64,
    /// Limit price: the worst price accepted (mark ± the max-slippage cap): `price` as an `f64`.
    pub limit_price: f64,
    /// Only reduce an existing position (exits).
    pub reduce_only: bool,
    /// Signed size in Lockstep's units, a whole number of the venue's lots.
    pub size: Decimal,
    /// Limit price per Lockstep unit on the venue's tick grid; zero = the broker's slippage cap.
    pub price: Decimal,
}

/// An order as plans stored it: plans made before orders carried decimals have only the
/// `f64`s, which were rounded on the grid, so their shortest decimal form is the grid value.
#[derive(serde::Deserialize)]
struct StoredOrderRequest {
    client_order_id: String,
    symbol: String,
    units: f64,
    limit_price: f64,
    reduce_only: bool,
    #[serde(default)]
    size: Option<Decimal>,
    #[serde(default)]
    price: Option<Decimal>,
}

impl From<StoredOrderRequest> for OrderRequest {
    fn from(o: StoredOrderRequest) -> Self {
        OrderRequest {
            size: o
                .size
                .or_else(|| Decimal::from_f64_shortest(o.units))
                .unwrap_or_default(),
            price: o
                .price
                .or_else(|| Decimal::from_f64_shortest(o.limit_price))
                .unwrap_or_default(),
            client_order_id: o.client_order_id,
            symbol: o.symbol,
            units: o.units,
            limit_price: o.limit_price,
            reduce_only: o.reduce_only,
        }
    }
}

impl OrderRequest {
    /// The order `rounded` ([`shared::venue::round_order`]) for `symbol` under `client_order_id`.
    pub fn from_rounded(client_order_id: String, symbol: String, rounded: &venue::Order) -> Self {
        OrderRequest {
            client_order_id,
            symbol,
            units: rounded.units,
            limit_price: rounded.limit_price,
            reduce_only: rounded.reduce_only,
            size: rounded.size,
            price: rounded.price,
        }
    }

    /// An order of `size` at `price` (both already on the venue's grid; a zero price lets the
    /// broker use its slippage cap).
    pub fn new(
        client_order_id: impl Into<String>,
        symbol: impl Into<String>,
        size: Decimal,
        price: Decimal,
        reduce_only: bool,
    ) -> Self {
        OrderRequest {
            client_order_id: client_order_id.into(),
            symbol: symbol.into(),
            units: size.to_f64(),
            limit_price: price.to_f64(),
            reduce_only,
            size,
            price,
        }
    }
}

/// Where an order stands.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OrderStatus {
    /// Fully filled.
    Filled,
    /// Some units filled, the rest cancelled (IOC) — see `filled_units`.
    PartiallyFilled,
    /// Refused by the venue; nothing filled.
    Rejected { reason: String },
    /// Accepted and resting (should not happen for IOC orders; reconciled later).
    Open,
    /// The venue does not know this client order id.
    Unknown,
}

/// What happened to one order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderReport {
    pub client_order_id: String,
    pub symbol: String,
    pub status: OrderStatus,
    /// Signed units filled.
    pub filled_units: f64,
    /// Average fill price (NaN-free: 0 when nothing filled).
    pub avg_price: f64,
    /// Fees paid in USD.
    pub fee: f64,
}

/// Funding the venue charged the account on one UTC day (positive = paid, negative =
/// received): the day's total and, where the venue says, its split by symbol.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FundingPaid {
    pub total: f64,
    /// Per symbol; sums to `total`. Empty when only the total is known (paper days recorded
    /// before the split was kept).
    pub by_symbol: BTreeMap<String, f64>,
}

/// Broker failures, split by whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Network trouble, timeouts, 5xx, rate limits: the request may or may not have arrived.
    /// Reconcile by client order id before resending.
    #[error("{venue}: temporarily unavailable: {message}")]
    Retryable {
        venue: &'static str,
        message: String,
    },
    /// The venue said no, or the request was malformed: sending it again will not help.
    #[error("{venue}: {message}")]
    Final {
        venue: &'static str,
        message: String,
    },
    /// The local store (paper broker) failed.
    #[error("paper account store: {0}")]
    Store(String),
}

/// Asked by a broker before it sends an order's request again ([`Broker::submit_guarded`]).
#[async_trait::async_trait]
pub trait Halt: Send + Sync {
    /// Why no further request may be sent, if one may not (the kill switch is on).
    async fn halted(&self) -> Option<String>;
}

/// Never halts: [`Broker::submit`] without a guard.
pub struct NeverHalt;

#[async_trait::async_trait]
impl Halt for NeverHalt {
    async fn halted(&self) -> Option<String> {
        None
    }
}

/// A venue the live cycle can trade on.
#[async_trait::async_trait]
pub trait Broker: Send + Sync {
    /// `"paper"` or `"hyperliquid"`.
    fn name(&self) -> &'static str;

    /// Equity and positions now.
    async fn account(&self) -> Result<Account, BrokerError>;

    /// Current mark prices for `symbols` (missing symbols are left out).
    async fn marks(&self, symbols: &[String]) -> Result<BTreeMap<String, f64>, BrokerError>;

    /// Trading rules for `symbols` (unknown symbols are left out: they cannot be traded here).
    async fn rules(&self, symbols: &[String]) -> Result<BTreeMap<String, VenueRule>, BrokerError>;

    /// Submits orders. Must be idempotent per `client_order_id`: an id the venue has already
    /// seen is answered with that order's report, never placed again.
    async fn submit(&self, orders: &[OrderRequest]) -> Result<Vec<OrderReport>, BrokerError>;

    /// [`Broker::submit`], asking `halt` before the broker would send an order's request again
    /// after an unknown outcome (a timeout, a 5xx, a 429): when it says stop, the order is
    /// reported as it stands ([`OrderStatus::Unknown`] unless the venue knows it) and no further
    /// request is sent for it. The live executor passes the kill switch, so a switch turned on
    /// between two status polls stops the batch. Brokers that never resend use the default.
    async fn submit_guarded(
        &self,
        orders: &[OrderRequest],
        halt: &dyn Halt,
    ) -> Result<Vec<OrderReport>, BrokerError> {
        let _ = halt;
        self.submit(orders).await
    }

    /// What the venue knows about these client order ids (after a crash or a timeout).
    async fn reconcile(&self, client_order_ids: &[String])
        -> Result<Vec<OrderReport>, BrokerError>;

    /// Equity and positions valued at the closes of `panel` row `t`, changing nothing (for
    /// reads such as `GET /api/portfolio`). A real venue has its own marks: its [`Broker::account`].
    async fn account_marked(
        &self,
        panel: &shared::Panel,
        t: usize,
    ) -> Result<Account, BrokerError> {
        let _ = (panel, t);
        self.account().await
    }

    /// Prices to value `symbols` at now, during the day, each with its time: the paper venue's
    /// last close, Hyperliquid's mid prices (`allMids`, cached). The default is
    /// [`Broker::marks`] without times.
    async fn current_marks(&self, symbols: &[String]) -> Result<Valuation, BrokerError> {
        Ok(Valuation {
            source: "venue marks".into(),
            marks: self
                .marks(symbols)
                .await?
                .into_iter()
                .map(|(s, price)| (s, Mark { price, as_of: None }))
                .collect(),
        })
    }

    /// The live cycle tells the broker which complete day it trades on (`panel` row `t`) before
    /// reading the account. A real venue ignores it (it has its own marks); the paper broker
    /// marks to that day's closes and, when `persist`, accrues funding up to that day.
    async fn observe_close(
        &self,
        panel: &shared::Panel,
        t: usize,
        persist: bool,
    ) -> Result<(), BrokerError> {
        let _ = (panel, t, persist);
        Ok(())
    }

    /// The funding the account paid on the UTC days `from..=to`, as the broker recorded it
    /// (the paper account's charges; a real venue's own payments, synced when it observes a
    /// close), by day. Every day the broker knows is present (zero when nothing was paid); a
    /// day it has no record of is absent, and the consistency report then counts the model's
    /// funding as paid. `None`: this broker records no funding at all.
    async fn funding_paid(
        &self,
        from: shared::Day,
        to: shared::Day,
    ) -> Result<Option<BTreeMap<shared::Day, FundingPaid>>, BrokerError> {
        let _ = (from, to);
        Ok(None)
    }
}

/// The client order id of `symbol`'s order in plan `plan_id`: 16 bytes as `0x` + 32 hex digits
/// (Hyperliquid's cloid format), a hash of both, so it is the same on every retry and restart.
pub fn client_order_id(plan_id: &str, symbol: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("lockstep:{plan_id}:{symbol}").as_bytes());
    let mut s = String::with_capacity(34);
    s.push_str("0x");
    for b in &digest[..16] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_ids_are_stable_and_distinct() {
        let a = client_order_id("plan-1", "BTC");
        assert_eq!(a, client_order_id("plan-1", "BTC"));
        assert_eq!(a.len(), 34);
        assert!(a.starts_with("0x"));
        assert_ne!(a, client_order_id("plan-1", "ETH"));
        assert_ne!(a, client_order_id("plan-2", "BTC"));
    }
}
