//! The Hyperliquid broker: real orders through `POST /exchange`, signed as L1 actions
//! ([`signing`]), with the venue's state read from `POST /info` ([`wire`] has the shapes).
//!
//! Orders are limit IOC at most `max_slippage` away from the venue's mark price (the order's own
//! limit is kept when it is tighter), and carry the plan's client order id (`cloid`). Their size
//! and limit price arrive as exact decimals already on the venue's grid
//! (`shared::venue::round_order`); the broker converts them to the coin's units exactly and
//! refuses, rather than re-rounds, anything off the grid, so what is sent is what was approved.
//! Submission is idempotent per cloid:
//!
//! 1. before sending, `orderStatus` is asked about the cloid; an order the venue knows is
//!    reported, never sent again;
//! 2. when a send fails in a way that leaves its fate open (timeout, connection lost, 5xx, 429),
//!    the broker polls `orderStatus` by cloid; if the venue has the order, that is the answer;
//!    only if it still does not, the **same signed request** (same nonce — the venue accepts a
//!    nonce once) is sent again, up to `send_attempts` times; after that the order is reported as
//!    [`OrderStatus::Unknown`] and can be reconciled later;
//! 3. fees (and, for known orders, filled size and average price) come from `userFillsByTime`.
//!
//! The account's own funding payments (`userFunding`) are synced into the store on every
//! observed close when the broker has one ([`HyperliquidBroker::with_funding_store`]); the
//! consistency report compares them with the model's funding ([`funding`]).
//!
//! Symbols and units: the broker speaks Lockstep's symbols and units to the live cycle and the
//! venue's coins and units to Hyperliquid ([`symbol_of_coin`]). A coin is its own symbol
//! (`BTC`), except the thousand-unit contracts `k{ASSET}` (`kPEPE`, `kSHIB`, `kBONK`, ...): one
//! contract is 1000 of the asset, priced per 1000. Lockstep trades them as the asset (`PEPE`),
//! so sizes are divided by 1000 and prices multiplied by 1000 on the way out, and positions,
//! fills and marks converted back on the way in; [`VenueRule::venue_unit`] tells the plan to
//! round on the venue's grid.
//!
//! Configuration (all optional except the key; see [`HyperliquidConfig::from_env`]):
//! - `HYPERLIQUID_PRIVATE_KEY` (hex) or `HYPERLIQUID_KEY_FILE` (a file outside any git checkout):
//!   the signing key. Never logged, never stored.
//! - `HYPERLIQUID_NETWORK` = `testnet` (default) | `mainnet`.
//! - `HYPERLIQUID_ACCOUNT`: the account to read and trade for when the key is an **API (agent)
//!   wallet** approved by that account: the agent signs, but `/info` must be asked about the
//!   master address (the agent's own address has no positions). Defaults to the key's address.
//! - `HYPERLIQUID_VAULT_ADDRESS`: trade a sub-account or vault (sent as `vaultAddress` and part of
//!   the signed hash); `/info` is then asked about the vault.
//! - `HYPERLIQUID_BASE_URL`: another host (tests: a local mock). Plain `http://` is accepted for
//!   loopback hosts only.
//! - `HYPERLIQUID_MAX_SLIPPAGE`: the cap as a fraction (default 0.01 = 1%). The live cycle sets
//!   the cap to its settings' `max_slippage` instead ([`crate::live::hyperliquid_broker`]), so the
//!   prices sent are the plan's, and refuses a different value here.

pub mod funding;
pub mod signing;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy_primitives::Address;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{
    Account, Broker, BrokerError, FundingPaid, Halt, Mark, NeverHalt, OrderReport, OrderRequest,
    OrderStatus, Position, Valuation, VenueRule,
};
use crate::store::Store;
pub use signing::{HyperliquidSigner, Network, SigningError};
use std::sync::Arc;
use wire::{
    Action, AssetCtx, AssetMeta, BulkOrder, ClearinghouseState, ExchangeRequest, ExchangeResponse,
    Fill, Meta, OrderStatusEntry, OrderStatusResponse, OrderTypeWire, OrderWire, PlaceStatus,
};

const VENUE: &str = "hyperliquid";

/// The coin ↔ symbol mapping is shared with the market-data client (one copy), so the series
/// the strategies see and the orders sent are in the same units.
pub use crate::market_data::symbols::{symbol_of_coin, K_CONTRACT_UNITS};

/// How the broker reaches and uses the venue.
#[derive(Clone, Debug)]
pub struct HyperliquidConfig {
    pub network: Network,
    /// Host without a trailing slash; `/info` and `/exchange` are appended.
    pub base_url: String,
    /// Worst accepted price distance from the mark, as a fraction (0.01 = 1%).
    pub max_slippage: f64,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// How often one order's signed request may be sent (first try included).
    pub send_attempts: u32,
    /// After a send with an unknown outcome: how many `orderStatus` polls …
    pub reconcile_polls: u32,
    /// … and how long to wait before each.
    pub reconcile_delay: Duration,
    /// The account traded for, when it is not the key's own address (agent wallets).
    pub account: Option<Address>,
    /// Sub-account or vault traded on behalf of.
    pub vault: Option<Address>,
    /// How long one `allMids` answer values the book ([`Broker::current_marks`]): every open
    /// dashboard shares it, so the portfolio view costs the venue's IP budget (1200 weight a
    /// minute; `allMids` weighs 2) at most one request per this interval.
    pub mids_ttl: Duration,
}

impl HyperliquidConfig {
    /// Defaults for `network`: the official host, 1% slippage cap, 10 s timeout, 3 sends,
    /// 5 polls 1 s apart.
    pub fn new(network: Network) -> Self {
        Self {
            network,
            base_url: network.default_base_url().to_string(),
            max_slippage: 0.01,
            request_timeout: Duration::from_secs(10),
            send_attempts: 3,
            reconcile_polls: 5,
            reconcile_delay: Duration::from_secs(1),
            account: None,
            vault: None,
            mids_ttl: Duration::from_secs(15),
        }
    }

    /// The configuration from `HYPERLIQUID_NETWORK`, `HYPERLIQUID_BASE_URL`,
    /// `HYPERLIQUID_ACCOUNT`, `HYPERLIQUID_VAULT_ADDRESS` and `HYPERLIQUID_MAX_SLIPPAGE` (the
    /// module docs explain them); unset ones keep [`HyperliquidConfig::new`]'s defaults.
    ///
    /// # Errors
    /// [`HyperliquidError::Config`] for a malformed value.
    pub fn from_env() -> Result<Self, HyperliquidError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let network = match var("HYPERLIQUID_NETWORK") {
            Some(v) => Network::from_str(&v)?,
            None => Network::Testnet,
        };
        let mut c = Self::new(network);
        if let Some(url) = var("HYPERLIQUID_BASE_URL") {
            c.base_url = url;
        }
        c.account = var("HYPERLIQUID_ACCOUNT")
            .map(|v| parse_address("HYPERLIQUID_ACCOUNT", &v))
            .transpose()?;
        c.vault = var("HYPERLIQUID_VAULT_ADDRESS")
            .map(|v| parse_address("HYPERLIQUID_VAULT_ADDRESS", &v))
            .transpose()?;
        if let Some(s) = var("HYPERLIQUID_MAX_SLIPPAGE") {
            c.max_slippage = s.trim().parse().map_err(|_| {
                HyperliquidError::Config(format!("HYPERLIQUID_MAX_SLIPPAGE: not a number: {s}"))
            })?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the values a broker cannot work with.
    ///
    /// # Errors
    /// [`HyperliquidError::Config`] naming the bad value.
    pub fn validate(&self) -> Result<(), HyperliquidError> {
        if !(self.max_slippage > 0.0 && self.max_slippage < 0.5) {
            return Err(HyperliquidError::Config(format!(
                "max_slippage must be in (0, 0.5), got {}",
                self.max_slippage
            )));
        }
        if self.send_attempts == 0 {
            return Err(HyperliquidError::Config("send_attempts must be ≥ 1".into()));
        }
        let url = self.base_url.trim_end_matches('/');
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| {
                url == *p || url.starts_with(&format!("{p}:")) || url.starts_with(&format!("{p}/"))
            });
        if !(url.starts_with("https://") || loopback) {
            return Err(HyperliquidError::Config(format!(
                "base URL must be https:// (plain http only for loopback hosts): {url}"
            )));
        }
        Ok(())
    }
}

fn parse_address(name: &str, v: &str) -> Result<Address, HyperliquidError> {
    Address::from_str(v.trim())
        .map_err(|_| HyperliquidError::Config(format!("{name}: not an address: {v}")))
}

/// Lower-case `0x…` hex, as the venue wants addresses.
fn addr_hex(a: &Address) -> String {
    format!("0x{}", alloy_primitives::hex::encode(a.as_slice()))
}

/// What can go wrong talking to Hyperliquid.
#[derive(Debug, thiserror::Error)]
pub enum HyperliquidError {
    #[error("request timed out: {0}")]
    Timeout(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("server error {status}: {body}")]
    Server { status: u16, body: String },
    /// `retry_after`: the venue's `Retry-After` (whole seconds), honoured before a resend.
    #[error("rate limited (429): {body}")]
    RateLimited {
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("request refused ({status}): {body}")]
    Client { status: u16, body: String },
    #[error("unexpected response: {0}")]
    Decode(String),
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error("configuration: {0}")]
    Config(String),
    /// The local store (funding payments) failed.
    #[error("store: {0}")]
    Store(String),
}

impl HyperliquidError {
    /// Whether the request may or may not have had an effect, so trying again (after
    /// reconciling) can help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout(_) | Self::Connect(_) | Self::Server { .. } | Self::RateLimited { .. }
        )
    }
}

impl From<HyperliquidError> for BrokerError {
    fn from(e: HyperliquidError) -> Self {
        if let HyperliquidError::Store(message) = e {
            return BrokerError::Store(message);
        }
        if e.is_retryable() {
            BrokerError::Retryable {
                venue: VENUE,
                message: e.to_string(),
            }
        } else {
            BrokerError::Final {
                venue: VENUE,
                message: e.to_string(),
            }
        }
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 300;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The perp universe with marks, from one `metaAndAssetCtxs` call.
struct Universe {
    assets: Vec<AssetMeta>,
    marks: Vec<Option<f64>>,
}

impl Universe {
    /// The asset index of the coin that trades Lockstep's `symbol`, and its venue unit (see
    /// [`symbol_of_coin`]): `BTC` → (BTC's index, 1), `PEPE` → (kPEPE's index, 1000). The
    /// inverse of [`symbol_of_coin`], so positions read back under the symbol they were
    /// traded as. A plain listing wins over a `k` contract of the same asset.
    fn resolve(&self, symbol: &str) -> Option<(usize, f64)> {
        let mut found = None;
        for (i, a) in self.assets.iter().enumerate() {
            let (s, unit) = symbol_of_coin(&a.name);
            if s == symbol && !matches!(found, Some((_, u)) if u == 1.0) {
                found = Some((i, unit));
            }
        }
        found
    }
}

/// An order's state between the venue's answer and the final report.
enum Pending {
    /// Final without fills to look up.
    Done(OrderReport),
    /// Just placed: the place response gave size and price; fees come from the fills.
    Placed { report: OrderReport, oid: u64 },
    /// The venue knew the order already: size, price and fees come from the fills.
    Known {
        client_order_id: String,
        entry: Box<OrderStatusEntry>,
    },
}

/// The Hyperliquid [`Broker`].
pub struct HyperliquidBroker {
    config: HyperliquidConfig,
    signer: HyperliquidSigner,
    /// Whose state `/info` is asked about: the vault, else the configured account, else the
    /// key's address.
    user: Address,
    http: reqwest::Client,
    last_nonce: AtomicU64,
    /// Where the account's funding payments are kept ([`funding`]); `None`: not recorded.
    funding_store: Option<Arc<Store>>,
    /// The last `allMids` answer (Lockstep symbol → price) and when it was fetched (Unix ms);
    /// the lock also makes concurrent readers share one request.
    mids: tokio::sync::Mutex<Option<(i64, BTreeMap<String, f64>)>>,
    /// `allMids` requests sent (tests check the cache).
    mids_requests: AtomicU64,
}

impl std::fmt::Debug for HyperliquidBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperliquidBroker")
            .field("network", &self.config.network)
            .field("base_url", &self.config.base_url)
            .field("user", &self.user)
            .field("signer", &self.signer)
            .finish()
    }
}

impl HyperliquidBroker {
    /// A broker for `config`, signing with `signer`.
    ///
    /// # Errors
    /// [`HyperliquidError::Config`] for an invalid configuration or HTTP client.
    pub fn new(
        config: HyperliquidConfig,
        signer: HyperliquidSigner,
    ) -> Result<Self, HyperliquidError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|e| HyperliquidError::Config(format!("HTTP client: {e}")))?;
        let user = config.vault.or(config.account).unwrap_or(signer.address());
        Ok(Self {
            config,
            signer,
            user,
            http,
            last_nonce: AtomicU64::new(0),
            funding_store: None,
            mids: tokio::sync::Mutex::new(None),
            mids_requests: AtomicU64::new(0),
        })
    }

    /// Records the account's funding payments in `store` (synced on every observed close), so
    /// [`Broker::funding_paid`] can answer them; see [`funding`].
    pub fn with_funding_store(mut self, store: Arc<Store>) -> Self {
        self.funding_store = Some(store);
        self
    }

    /// How many `allMids` requests were sent (the rest were answered from the cache).
    pub fn mids_requests(&self) -> u64 {
        self.mids_requests.load(Ordering::Relaxed)
    }

    /// Mid prices by Lockstep symbol and when they were fetched, from the cache while it is
    /// younger than `mids_ttl`. Spot pairs (`@107`, `PURR/USDC`) are left out; a `k` contract's
    /// price per 1000 becomes the asset's price per unit.
    async fn all_mids(&self) -> Result<(i64, BTreeMap<String, f64>), HyperliquidError> {
        let mut cache = self.mids.lock().await;
        let now = now_ms() as i64;
        if let Some((at, mids)) = cache.as_ref() {
            if now - at < self.config.mids_ttl.as_millis() as i64 && now >= *at {
                return Ok((*at, mids.clone()));
            }
        }
        self.mids_requests.fetch_add(1, Ordering::Relaxed);
        let raw: BTreeMap<String, String> = self.info(json!({"type": "allMids"})).await?;
        let mids: BTreeMap<String, f64> = raw
            .iter()
            .filter(|(coin, _)| !coin.starts_with('@') && !coin.contains('/'))
            .filter_map(|(coin, px)| {
                let px = wire::parse_num(px).filter(|p| p.is_finite() && *p > 0.0)?;
                let (symbol, unit) = symbol_of_coin(coin);
                Some((symbol, px / unit))
            })
            .collect();
        *cache = Some((now, mids.clone()));
        Ok((now, mids))
    }

    /// A broker configured from the environment ([`HyperliquidConfig::from_env`],
    /// [`HyperliquidSigner::from_env`]).
    ///
    /// # Errors
    /// [`HyperliquidError`] for a missing key or malformed configuration.
    pub fn from_env() -> Result<Self, HyperliquidError> {
        Self::new(
            HyperliquidConfig::from_env()?,
            HyperliquidSigner::from_env()?,
        )
    }

    /// The address whose account is read and traded.
    pub fn account_address(&self) -> Address {
        self.user
    }

    /// The address the key signs as (the agent wallet when one is used).
    pub fn signer_address(&self) -> Address {
        self.signer.address()
    }

    pub fn config(&self) -> &HyperliquidConfig {
        &self.config
    }

    /// A fresh nonce: the current time in ms, strictly above every nonce handed out before.
    fn next_nonce(&self) -> u64 {
        let now = now_ms();
        let prev = self
            .last_nonce
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(now.max(last + 1))
            })
            .unwrap_or(0);
        now.max(prev + 1)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    async fn post_bytes(&self, path: &str, body: Vec<u8>) -> Result<String, HyperliquidError> {
        let resp = self
            .http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let text = resp.text().await.map_err(classify)?;
        if status.is_success() {
            Ok(text)
        } else if status.as_u16() == 429 {
            Err(HyperliquidError::RateLimited {
                body: truncate(&text),
                retry_after,
            })
        } else if status.is_server_error() {
            Err(HyperliquidError::Server {
                status: status.as_u16(),
                body: truncate(&text),
            })
        } else {
            Err(HyperliquidError::Client {
                status: status.as_u16(),
                body: truncate(&text),
            })
        }
    }

    async fn info<T: DeserializeOwned>(
        &self,
        req: serde_json::Value,
    ) -> Result<T, HyperliquidError> {
        let body = serde_json::to_vec(&req).map_err(|e| HyperliquidError::Decode(e.to_string()))?;
        let text = self.post_bytes("/info", body).await?;
        serde_json::from_str(&text).map_err(|e| {
            HyperliquidError::Decode(format!("{}: {e}: {}", req["type"], truncate(&text)))
        })
    }

    async fn universe(&self) -> Result<Universe, HyperliquidError> {
        let (meta, ctxs): (Meta, Vec<AssetCtx>) =
            self.info(json!({"type": "metaAndAssetCtxs"})).await?;
        let marks = (0..meta.universe.len())
            .map(|i| {
                ctxs.get(i).and_then(|c| {
                    c.mark_px
                        .as_deref()
                        .and_then(wire::parse_num)
                        .or_else(|| c.mid_px.as_deref().and_then(wire::parse_num))
                })
            })
            .collect();
        Ok(Universe {
            assets: meta.universe,
            marks,
        })
    }

    /// What the venue knows about `cloid`; `None` for `unknownOid`.
    async fn order_status(
        &self,
        cloid: &str,
    ) -> Result<Option<OrderStatusEntry>, HyperliquidError> {
        let r: OrderStatusResponse = self
            .info(json!({"type": "orderStatus", "user": addr_hex(&self.user), "oid": cloid}))
            .await?;
        match (r.status.as_str(), r.order) {
            ("order", Some(entry)) => Ok(Some(entry)),
            ("unknownOid", _) => Ok(None),
            (other, _) => Err(HyperliquidError::Decode(format!(
                "orderStatus: unexpected status {other:?}"
            ))),
        }
    }

    async fn fills_since(&self, start_ms: u64) -> Result<Vec<Fill>, HyperliquidError> {
        self.info(json!({
            "type": "userFillsByTime",
            "user": addr_hex(&self.user),
            "startTime": start_ms,
        }))
        .await
    }

    /// Works one order up to the venue's answer.
    async fn submit_one(
        &self,
        order: &OrderRequest,
        universe: &Universe,
        halt: &dyn Halt,
    ) -> Result<Pending, HyperliquidError> {
        let reject = |reason: String| {
            Pending::Done(report(order, OrderStatus::Rejected { reason }, 0.0, 0.0))
        };
        let cloid = order.client_order_id.to_ascii_lowercase();
        if !wire::is_cloid(&cloid) {
            return Ok(reject(format!(
                "client order id {:?} is not 0x + 32 hex digits",
                order.client_order_id
            )));
        }
        // Never send a cloid the venue already knows.
        if let Some(entry) = self.order_status(&cloid).await? {
            tracing::info!(cloid = %cloid, status = %entry.status, "hyperliquid: order already known, not sent again");
            return Ok(Pending::Known {
                client_order_id: order.client_order_id.clone(),
                entry: Box::new(entry),
            });
        }
        let Some((asset, unit)) = universe.resolve(&order.symbol) else {
            return Ok(reject(format!(
                "{} is not a Hyperliquid perp",
                order.symbol
            )));
        };
        let meta = &universe.assets[asset];
        if meta.is_delisted {
            return Ok(reject(format!("{} is delisted on Hyperliquid", meta.name)));
        }
        if order.size.is_zero() {
            return Ok(reject(format!("nothing to trade: size {}", order.size)));
        }
        let is_buy = !order.size.is_negative();
        let rule = VenueRule::hyperliquid_perp(meta.sz_decimals).with_venue_unit(unit);
        // Our units → the coin's (kPEPE: thousands of PEPE), exactly; never rounded here: the
        // size sent is the size approved, or nothing is sent.
        let size_dec = match rule.to_venue_size(order.size.abs()) {
            Some(s) if rule.is_lot(s) => s,
            _ => {
                return Ok(reject(format!(
                    "{} units of {} are not a whole number of {} lots at {} size decimals",
                    order.size, order.symbol, meta.name, meta.sz_decimals
                )))
            }
        };
        let Some(mark) = universe.marks[asset] else {
            return Ok(reject(format!(
                "no mark price for {}: cannot bound slippage",
                meta.name
            )));
        };
        // The cap at the venue's mark now, on the grid by the plan's own function; the order's
        // limit is kept when it is tighter (the mark has not moved against it since the plan).
        let cap = match shared::venue::limit_price(
            &rule,
            mark / unit,
            is_buy,
            self.config.max_slippage,
        ) {
            Ok(cap) => cap,
            Err(why) => {
                return Ok(reject(format!(
                    "at the current mark of {}: {why}",
                    meta.name
                )))
            }
        };
        let price = if order.price.is_zero() {
            cap
        } else if !rule
            .to_venue_price(order.price)
            .is_some_and(|p| rule.is_tick(p))
        {
            return Ok(reject(format!(
                "limit price {} is not on {}'s tick grid",
                order.price, meta.name
            )));
        } else if is_buy {
            order.price.min(cap)
        } else {
            order.price.max(cap)
        };
        let Some(px_dec) = rule.to_venue_price(price) else {
            return Ok(reject(format!("limit price {price} out of range")));
        };
        let (size, size_str, px_str) =
            (size_dec.to_f64(), size_dec.to_string(), px_dec.to_string());

        let action = Action::Order(BulkOrder {
            orders: vec![OrderWire {
                a: asset as u32,
                b: is_buy,
                p: px_str.clone(),
                s: size_str.clone(),
                r: order.reduce_only,
                t: OrderTypeWire::ioc(),
                c: Some(cloid.clone()),
            }],
            grouping: "na".into(),
        });
        let nonce = self.next_nonce();
        let signature =
            self.signer
                .sign_l1_action(&action, nonce, self.config.vault, self.config.network)?;
        let request = ExchangeRequest {
            action,
            nonce,
            signature,
            vault_address: self.config.vault.as_ref().map(addr_hex),
        };
        let body =
            serde_json::to_vec(&request).map_err(|e| HyperliquidError::Decode(e.to_string()))?;

        tracing::info!(cloid = %cloid, coin = %meta.name, buy = is_buy, px = %px_str, sz = %size_str,
            reduce_only = order.reduce_only, "hyperliquid: placing IOC order");
        let mut sent = 0;
        loop {
            sent += 1;
            match self.post_bytes("/exchange", body.clone()).await {
                Ok(text) => {
                    // The request reached the venue: an answer we cannot read is not a "no".
                    // Ask by cloid; if the venue does not (yet) know the order, it stays
                    // `Unknown` and is reconciled later — never recorded as rejected.
                    let resp: ExchangeResponse = match serde_json::from_str(&text) {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::warn!(cloid = %cloid, error = %e, body = %truncate(&text),
                                "hyperliquid: unreadable answer to an order; reconciling by cloid");
                            return self.unknown_after_send(order, &cloid).await;
                        }
                    };
                    return match resp.statuses() {
                        Ok(statuses) => match statuses.into_iter().next() {
                            Some(st) => {
                                self.report_place_status(order, &cloid, st, size, unit)
                                    .await
                            }
                            None => self.unknown_after_send(order, &cloid).await,
                        },
                        Err(message) => {
                            // A resend may be refused because the first copy landed after all
                            // (the venue takes a nonce once): unless the venue shows the order,
                            // its fate is open — unknown, reconciled later, never `rejected`.
                            if sent > 1 {
                                return self.unknown_after_send(order, &cloid).await.inspect(|p| {
                                    if matches!(p, Pending::Done(r) if r.status == OrderStatus::Unknown) {
                                        tracing::warn!(cloid = %cloid, answer = %message,
                                            "hyperliquid: a resend was refused and the venue does not show the order; unknown");
                                    }
                                });
                            }
                            Ok(reject(message))
                        }
                    };
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(cloid = %cloid, error = %e, attempt = sent,
                        "hyperliquid: order send has an unknown outcome; reconciling by cloid");
                    if let Some(entry) = self.poll_status(&cloid).await? {
                        return Ok(Pending::Known {
                            client_order_id: order.client_order_id.clone(),
                            entry: Box::new(entry),
                        });
                    }
                    if sent >= self.config.send_attempts {
                        tracing::error!(cloid = %cloid, error = %e,
                            "hyperliquid: order unconfirmed after all attempts; reconcile later");
                        return Ok(Pending::Done(report(order, OrderStatus::Unknown, 0.0, 0.0)));
                    }
                    // The kill switch (or another stop) turned on while we polled: nothing more
                    // is sent; the order stays unknown until reconciled.
                    if let Some(why) = halt.halted().await {
                        tracing::warn!(cloid = %cloid, why = %why,
                            "hyperliquid: not resending an unconfirmed order: halted");
                        return Ok(Pending::Done(report(order, OrderStatus::Unknown, 0.0, 0.0)));
                    }
                    if let HyperliquidError::RateLimited {
                        retry_after: Some(wait),
                        ..
                    } = &e
                    {
                        tracing::info!(cloid = %cloid, wait_ms = wait.as_millis() as u64,
                            "hyperliquid: rate limited; waiting as the venue asked before resending");
                        tokio::time::sleep(*wait).await;
                    }
                    // Still unknown: send the identical signed request again (same nonce).
                }
                Err(e) => return Ok(reject(e.to_string())),
            }
        }
    }

    /// The answer to a send that reached the venue but cannot be read: what `orderStatus`
    /// says about the cloid, or [`OrderStatus::Unknown`] (also when the venue cannot be asked).
    async fn unknown_after_send(
        &self,
        order: &OrderRequest,
        cloid: &str,
    ) -> Result<Pending, HyperliquidError> {
        match self.poll_status(cloid).await {
            Ok(Some(entry)) => Ok(Pending::Known {
                client_order_id: order.client_order_id.clone(),
                entry: Box::new(entry),
            }),
            Ok(None) | Err(_) => Ok(Pending::Done(report(order, OrderStatus::Unknown, 0.0, 0.0))),
        }
    }

    /// Polls `orderStatus` after a send with an unknown outcome.
    async fn poll_status(&self, cloid: &str) -> Result<Option<OrderStatusEntry>, HyperliquidError> {
        let mut last_err = None;
        for _ in 0..self.config.reconcile_polls.max(1) {
            tokio::time::sleep(self.config.reconcile_delay).await;
            match self.order_status(cloid).await {
                Ok(Some(entry)) => return Ok(Some(entry)),
                Ok(None) => last_err = None,
                Err(e) if e.is_retryable() => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        // Never resend while the venue could not even be asked.
        match last_err {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// `size` is in the coin's units; the report is in ours (`unit` of ours per coin unit).
    async fn report_place_status(
        &self,
        order: &OrderRequest,
        cloid: &str,
        status: PlaceStatus,
        size: f64,
        unit: f64,
    ) -> Result<Pending, HyperliquidError> {
        let sign = order.units.signum();
        Ok(match status {
            PlaceStatus::Filled {
                total_sz,
                avg_px,
                oid,
            } => {
                // Both sizes sit on the lot grid; the tolerance only absorbs float noise.
                let st = if total_sz + 1e-9 * size.max(1.0) >= size {
                    OrderStatus::Filled
                } else {
                    OrderStatus::PartiallyFilled
                };
                Pending::Placed {
                    report: report(order, st, sign * total_sz * unit, avg_px / unit),
                    oid,
                }
            }
            PlaceStatus::Resting { oid } => Pending::Placed {
                report: report(order, OrderStatus::Open, 0.0, 0.0),
                oid,
            },
            PlaceStatus::Error(reason) => {
                Pending::Done(report(order, OrderStatus::Rejected { reason }, 0.0, 0.0))
            }
            PlaceStatus::Other(s) => match self.order_status(cloid).await? {
                Some(entry) => Pending::Known {
                    client_order_id: order.client_order_id.clone(),
                    entry: Box::new(entry),
                },
                None => {
                    tracing::warn!(cloid = %cloid, status = %s, "hyperliquid: unexpected order status");
                    Pending::Done(report(order, OrderStatus::Unknown, 0.0, 0.0))
                }
            },
        })
    }

    /// Turns pending answers into reports, reading fills once for fees (and for the size and
    /// price of orders found by cloid).
    async fn finish(
        &self,
        pending: Vec<Pending>,
        since_ms: u64,
    ) -> Result<Vec<OrderReport>, HyperliquidError> {
        let need_fills = pending.iter().any(|p| {
            matches!(p, Pending::Placed { report, .. } if report.filled_units != 0.0)
                || matches!(p, Pending::Known { .. })
        });
        let fills = if need_fills {
            let start = pending
                .iter()
                .filter_map(|p| match p {
                    Pending::Known { entry, .. } => Some(entry.order.timestamp),
                    _ => None,
                })
                .chain(std::iter::once(since_ms))
                .min()
                .unwrap_or(since_ms);
            self.fills_since(start.saturating_sub(60_000)).await?
        } else {
            Vec::new()
        };
        let mut by_oid: HashMap<u64, Vec<&Fill>> = HashMap::new();
        for f in &fills {
            by_oid.entry(f.oid).or_default().push(f);
        }
        let fee_of = |oid: u64| -> f64 {
            by_oid
                .get(&oid)
                .map(|fs| {
                    fs.iter()
                        .filter_map(|f| f.fee.as_deref().and_then(wire::parse_num))
                        .sum()
                })
                .unwrap_or(0.0)
        };
        Ok(pending
            .into_iter()
            .map(|p| match p {
                Pending::Done(r) => r,
                Pending::Placed { mut report, oid } => {
                    report.fee = fee_of(oid);
                    report
                }
                Pending::Known {
                    client_order_id,
                    entry,
                } => {
                    let oid = entry.order.oid;
                    let own = by_oid.get(&oid).map(Vec::as_slice).unwrap_or(&[]);
                    report_from_status(client_order_id, &entry, own)
                }
            })
            .collect())
    }
}

/// The longest `Retry-After` the broker waits for before a resend; a longer one leaves the
/// order [`OrderStatus::Unknown`] after its attempts (reconciled later) rather than blocking
/// the batch.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A `Retry-After` header in whole seconds (the HTTP-date form is not used by the venue and is
/// ignored), capped at [`MAX_RETRY_AFTER`].
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

fn classify(e: reqwest::Error) -> HyperliquidError {
    if e.is_timeout() {
        HyperliquidError::Timeout(e.to_string())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        HyperliquidError::Connect(e.to_string())
    } else {
        HyperliquidError::Decode(e.to_string())
    }
}

fn report(
    order: &OrderRequest,
    status: OrderStatus,
    filled_units: f64,
    avg_price: f64,
) -> OrderReport {
    OrderReport {
        client_order_id: order.client_order_id.clone(),
        symbol: order.symbol.clone(),
        status,
        filled_units,
        avg_price,
        fee: 0.0,
    }
}

/// A report from `orderStatus` plus the order's fills, in Lockstep's symbol and units.
fn report_from_status(
    client_order_id: String,
    entry: &OrderStatusEntry,
    fills: &[&Fill],
) -> OrderReport {
    let sign = if entry.order.side == "A" { -1.0 } else { 1.0 };
    let (mut units, mut notional, mut fee) = (0.0, 0.0, 0.0);
    for f in fills {
        let (Some(sz), Some(px)) = (wire::parse_num(&f.sz), wire::parse_num(&f.px)) else {
            continue;
        };
        units += sz;
        notional += sz * px;
        fee += f.fee.as_deref().and_then(wire::parse_num).unwrap_or(0.0);
    }
    let mut avg = if units > 0.0 { notional / units } else { 0.0 };
    if units == 0.0 && entry.status == "filled" {
        // Fills out of reach (older than the venue keeps): size from the order itself.
        let orig = entry
            .order
            .orig_sz
            .as_deref()
            .and_then(wire::parse_num)
            .unwrap_or(0.0);
        let open = wire::parse_num(&entry.order.sz).unwrap_or(0.0);
        units = (orig - open).max(0.0);
        avg = 0.0;
        tracing::warn!(cloid = %client_order_id, oid = entry.order.oid,
            "hyperliquid: filled order without reachable fills; price and fee unknown");
    }
    let status = match entry.status.as_str() {
        "filled" => OrderStatus::Filled,
        "open" | "triggered" => OrderStatus::Open,
        other if units > 0.0 => {
            tracing::info!(cloid = %client_order_id, status = other, "hyperliquid: partially filled");
            OrderStatus::PartiallyFilled
        }
        other => OrderStatus::Rejected {
            reason: other.to_string(),
        },
    };
    let (symbol, unit) = symbol_of_coin(&entry.order.coin);
    OrderReport {
        client_order_id,
        symbol,
        status,
        filled_units: sign * units * unit,
        avg_price: avg / unit,
        fee,
    }
}

#[async_trait::async_trait]
impl Broker for HyperliquidBroker {
    fn name(&self) -> &'static str {
        VENUE
    }

    async fn account(&self) -> Result<Account, BrokerError> {
        let state: ClearinghouseState = self
            .info(json!({"type": "clearinghouseState", "user": addr_hex(&self.user)}))
            .await?;
        let equity = wire::parse_num(&state.margin_summary.account_value).ok_or_else(|| {
            HyperliquidError::Decode(format!(
                "accountValue {:?}",
                state.margin_summary.account_value
            ))
        })?;
        let mut positions = Vec::new();
        for ap in state.asset_positions {
            let p = ap.position;
            let units = wire::parse_num(&p.szi).ok_or_else(|| {
                HyperliquidError::Decode(format!("szi {:?} of {}", p.szi, p.coin))
            })?;
            if units == 0.0 {
                continue;
            }
            let value = wire::parse_num(&p.position_value).ok_or_else(|| {
                HyperliquidError::Decode(format!(
                    "positionValue {:?} of {}",
                    p.position_value, p.coin
                ))
            })?;
            // The coin's units → ours (a kPEPE position is held as PEPE).
            let (symbol, unit) = symbol_of_coin(&p.coin);
            let units = units * unit;
            positions.push(Position {
                symbol,
                units,
                mark_price: value / units.abs(),
            });
        }
        Ok(Account { equity, positions })
    }

    async fn marks(&self, symbols: &[String]) -> Result<BTreeMap<String, f64>, BrokerError> {
        let u = self.universe().await?;
        Ok(symbols
            .iter()
            .filter_map(|s| {
                let (i, unit) = u.resolve(s)?;
                Some((s.clone(), u.marks[i]? / unit))
            })
            .collect())
    }

    /// Mid prices from `allMids` (cached for `mids_ttl`), dated when they were fetched.
    async fn current_marks(&self, symbols: &[String]) -> Result<Valuation, BrokerError> {
        let (at, mids) = self.all_mids().await?;
        Ok(Valuation {
            source: "allMids".into(),
            marks: symbols
                .iter()
                .filter_map(|s| {
                    let price = *mids.get(s)?;
                    Some((
                        s.clone(),
                        Mark {
                            price,
                            as_of: Some(at),
                        },
                    ))
                })
                .collect(),
        })
    }

    async fn rules(&self, symbols: &[String]) -> Result<BTreeMap<String, VenueRule>, BrokerError> {
        let u = self.universe().await?;
        Ok(symbols
            .iter()
            .filter_map(|s| {
                let (i, unit) = u.resolve(s)?;
                let a = &u.assets[i];
                let rule = VenueRule::hyperliquid_perp(a.sz_decimals).with_venue_unit(unit);
                (!a.is_delisted).then(|| (s.clone(), rule))
            })
            .collect())
    }

    async fn submit(&self, orders: &[OrderRequest]) -> Result<Vec<OrderReport>, BrokerError> {
        self.submit_guarded(orders, &NeverHalt).await
    }

    async fn submit_guarded(
        &self,
        orders: &[OrderRequest],
        halt: &dyn Halt,
    ) -> Result<Vec<OrderReport>, BrokerError> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let started = now_ms();
        let universe = self.universe().await?;
        let mut pending = Vec::with_capacity(orders.len());
        for order in orders {
            pending.push(self.submit_one(order, &universe, halt).await?);
        }
        Ok(self.finish(pending, started).await?)
    }

    /// Syncs the account's funding payments (when a store is configured). A failure is logged
    /// and does not stop the cycle: the payments are fetched again on the next one.
    async fn observe_close(
        &self,
        panel: &shared::Panel,
        t: usize,
        persist: bool,
    ) -> Result<(), BrokerError> {
        if let (true, Some(store)) = (persist, &self.funding_store) {
            match self.sync_funding(store, panel.day(t)).await {
                Ok(n) => tracing::debug!(new = n, "hyperliquid: funding payments synced"),
                Err(e) => {
                    tracing::warn!(error = %e, "hyperliquid: funding payments not synced; next cycle retries")
                }
            }
        }
        Ok(())
    }

    async fn funding_paid(
        &self,
        from: shared::Day,
        to: shared::Day,
    ) -> Result<Option<BTreeMap<shared::Day, FundingPaid>>, BrokerError> {
        match &self.funding_store {
            Some(store) => Ok(Some(self.stored_funding(store, from, to).await?)),
            None => Ok(None),
        }
    }

    async fn reconcile(
        &self,
        client_order_ids: &[String],
    ) -> Result<Vec<OrderReport>, BrokerError> {
        let mut pending = Vec::with_capacity(client_order_ids.len());
        for id in client_order_ids {
            let cloid = id.to_ascii_lowercase();
            let unknown = || {
                Pending::Done(OrderReport {
                    client_order_id: id.clone(),
                    symbol: String::new(),
                    status: OrderStatus::Unknown,
                    filled_units: 0.0,
                    avg_price: 0.0,
                    fee: 0.0,
                })
            };
            if !wire::is_cloid(&cloid) {
                pending.push(unknown());
                continue;
            }
            pending.push(match self.order_status(&cloid).await? {
                Some(entry) => Pending::Known {
                    client_order_id: id.clone(),
                    entry: Box::new(entry),
                },
                None => unknown(),
            });
        }
        Ok(self.finish(pending, now_ms()).await?)
    }
}
