//! CoinMarketCap Pro API (`CMC_API_KEY`): `GET /v1/cryptocurrency/listings/latest` for market
//! caps and circulating supply. Shapes and limits: `external-apis.md` §2.
//!
//! - The key goes in the `X-CMC_PRO_API_KEY` header (never the URL).
//! - Budget: 30 requests per minute (the Basic plan, third-party figure); one call returns up to
//!   5000 listings, so a refresh is one request.
//! - `symbol` is not unique: the best-ranked listing of a symbol wins, the others are dropped
//!   and counted ([`Listings::duplicates`]).
//! - A market cap or supply of 0 or `null` means CMC does not know it: it stays missing.

use super::http::{venue_message, ApiKey, Http, HttpConfig, HttpError, Method, Request};
use super::source::{Dataset, MarketCap, MarketData, SourceError};
use serde::Deserialize;
use shared::Day;
use std::collections::HashMap;
use std::time::Duration;

pub const NAME: &str = "coinmarketcap";
pub const BASE_URL: &str = "https://pro-api.coinmarketcap.com";
/// The environment variable holding the key.
pub const KEY_ENV: &str = "CMC_API_KEY";
const ENDPOINT: &str = "/v1/cryptocurrency/listings/latest";

/// Where and how to talk to CoinMarketCap.
#[derive(Clone, Debug)]
pub struct CoinMarketCapConfig {
    pub base_url: String,
    pub http: HttpConfig,
    /// Listings requested (1..=5000); credits: one per 200.
    pub limit: u32,
    pub cache_ttl: Duration,
}

impl Default for CoinMarketCapConfig {
    fn default() -> Self {
        CoinMarketCapConfig {
            base_url: BASE_URL.to_string(),
            http: HttpConfig {
                weight_per_minute: 30,
                ..HttpConfig::default()
            },
            limit: 500,
            // CMC refreshes listings every 60 s; credits are scarce.
            cache_ttl: Duration::from_secs(600),
        }
    }
}

/// The CoinMarketCap client.
#[derive(Debug)]
pub struct CoinMarketCap {
    http: Http,
    limit: u32,
    cache_ttl: Duration,
}

/// What one listings call returned, after dropping duplicate symbols.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listings {
    pub caps: Vec<MarketCap>,
    /// Listings dropped because a better-ranked one has the same symbol.
    pub duplicates: Vec<String>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Listing>,
}

#[derive(Deserialize)]
struct Listing {
    symbol: String,
    #[serde(default)]
    cmc_rank: Option<u32>,
    #[serde(default)]
    circulating_supply: Option<f64>,
    #[serde(default)]
    last_updated: Option<String>,
    quote: HashMap<String, Quote>,
}

#[derive(Deserialize)]
struct Quote {
    #[serde(default)]
    market_cap: Option<f64>,
    #[serde(default)]
    last_updated: Option<String>,
}

impl CoinMarketCap {
    /// # Errors
    /// The HTTP client could not be built (or the key is not a valid header value).
    pub fn new(key: &ApiKey, config: CoinMarketCapConfig) -> Result<CoinMarketCap, HttpError> {
        Ok(CoinMarketCap {
            http: Http::new(
                NAME,
                &config.base_url,
                Some(("x-cmc_pro_api_key", key)),
                config.http,
                venue_message,
            )?,
            limit: config.limit.clamp(1, 5000),
            cache_ttl: config.cache_ttl,
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The latest listings in USD.
    ///
    /// # Errors
    /// HTTP failures, a malformed answer, or a listing without a readable date.
    pub async fn listings(&self) -> Result<Listings, SourceError> {
        let req = Request {
            path: ENDPOINT.into(),
            method: Method::Get(vec![
                ("start".into(), "1".into()),
                ("limit".into(), self.limit.to_string()),
                ("convert".into(), "USD".into()),
            ]),
            weight: 1,
            cache_ttl: self.cache_ttl,
            endpoint: "listings/latest".into(),
        };
        let resp: Response = self.http.send(&req).await?;
        let mut out = Listings::default();
        let mut best: HashMap<String, usize> = HashMap::new();
        for l in resp.data {
            let symbol = l.symbol.trim().to_ascii_uppercase();
            if symbol.is_empty() {
                continue;
            }
            let usd = l.quote.get("USD");
            let stamp = usd
                .and_then(|q| q.last_updated.as_deref())
                .or(l.last_updated.as_deref())
                .ok_or_else(|| invalid(format!("{symbol}: no last_updated")))?;
            let day = stamp
                .get(..10)
                .and_then(|d| Day::parse(d).ok())
                .ok_or_else(|| {
                    invalid(format!("{symbol}: last_updated {stamp:?} is not a date"))
                })?;
            let known = |v: Option<f64>| v.filter(|x| x.is_finite() && *x > 0.0);
            let cap = MarketCap {
                symbol: symbol.clone(),
                day,
                market_cap_usd: known(usd.and_then(|q| q.market_cap)),
                circulating_supply: known(l.circulating_supply),
                rank: l.cmc_rank,
            };
            match best.get(&symbol) {
                Some(&i) => {
                    let rank = |r: Option<u32>| r.unwrap_or(u32::MAX);
                    if rank(cap.rank) < rank(out.caps[i].rank) {
                        out.duplicates
                            .push(format!("{symbol} (rank {})", out.caps[i].rank.unwrap_or(0)));
                        out.caps[i] = cap;
                    } else {
                        out.duplicates
                            .push(format!("{symbol} (rank {})", cap.rank.unwrap_or(0)));
                    }
                }
                None => {
                    best.insert(symbol, out.caps.len());
                    out.caps.push(cap);
                }
            }
        }
        Ok(out)
    }
}

fn invalid(detail: String) -> SourceError {
    SourceError::Invalid {
        source_name: NAME,
        endpoint: "listings/latest".into(),
        detail,
    }
}

const PROVIDES: &[Dataset] = &[Dataset::MarketCaps];

impl MarketData for CoinMarketCap {
    fn name(&self) -> &'static str {
        NAME
    }

    fn provides(&self) -> &'static [Dataset] {
        PROVIDES
    }

    async fn market_caps(&self) -> Result<Vec<MarketCap>, SourceError> {
        Ok(self.listings().await?.caps)
    }
}
