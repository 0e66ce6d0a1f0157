//! Coinalyze (`COINALYZE_API_KEY`): daily funding-rate and open-interest history of perpetual
//! contracts. Shapes and limits: `external-apis.md` §3.
//!
//! - The key goes in the `api_key` header. Budget: 40 calls per minute per key, each symbol in
//!   a request counting as one call. Times are UNIX seconds, `from`/`to` inclusive.
//! - Contracts are resolved from `/future-markets` (perpetual, `base_asset` = the bare symbol,
//!   on the configured venues in order of preference; USDT, then USD, then USDC margin).
//! - Funding values are **percent per funding interval** (Binance, `.A`: 8 hours), and the daily
//!   bucket's close is the day's last rate. The daily fraction is `close / 100 × 24 / interval_h`,
//!   the same conversion `lockstep import` applies to the predecessor's Coinalyze files. Only
//!   venues whose funding interval is known here are used.
//! - Open interest is requested in USD (`convert_to_usd=true`); the day's close is stored.

use super::http::{venue_message, ApiKey, Http, HttpConfig, HttpError, Method, Request};
use super::source::{Dataset, FundingDay, MarketData, OpenInterestDay, SourceError};
use super::symbols::coinalyze_venue;
use serde::Deserialize;
use shared::Day;
use std::time::Duration;

pub const NAME: &str = "coinalyze";
pub const BASE_URL: &str = "https://api.coinalyze.net/v1";
/// The environment variable holding the key.
pub const KEY_ENV: &str = "COINALYZE_API_KEY";

/// Hours between funding payments per Coinalyze exchange code, where Lockstep knows them.
pub fn funding_interval_hours(code: &str) -> Option<f64> {
    match code {
        // Binance, Bybit, OKX, BitMEX: 8-hourly (the predecessor's files assume 8 h too).
        "A" | "6" | "3" | "0" => Some(8.0),
        _ => None,
    }
}

/// Where and how to talk to Coinalyze.
#[derive(Clone, Debug)]
pub struct CoinalyzeConfig {
    pub base_url: String,
    pub http: HttpConfig,
    /// Exchange codes to take contracts from, in order of preference (default Binance, `A`).
    pub venues: Vec<String>,
    pub cache_ttl: Duration,
}

impl Default for CoinalyzeConfig {
    fn default() -> Self {
        CoinalyzeConfig {
            base_url: BASE_URL.to_string(),
            http: HttpConfig {
                weight_per_minute: 40,
                ..HttpConfig::default()
            },
            venues: vec!["A".to_string()],
            cache_ttl: Duration::from_secs(3600),
        }
    }
}

/// A perpetual contract Lockstep reads from Coinalyze.
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    /// `BTCUSDT_PERP.A`.
    pub symbol: String,
    /// Exchange code, `A`.
    pub code: String,
    /// Venue name, `binance`.
    pub venue: &'static str,
}

/// The Coinalyze client.
#[derive(Debug)]
pub struct Coinalyze {
    http: Http,
    venues: Vec<String>,
    cache_ttl: Duration,
}

#[derive(Deserialize)]
struct Market {
    symbol: String,
    exchange: String,
    #[serde(default)]
    base_asset: Option<String>,
    #[serde(default)]
    quote_asset: Option<String>,
    #[serde(default)]
    is_perpetual: bool,
}

#[derive(Deserialize)]
struct History {
    symbol: String,
    history: Vec<Point>,
}

#[derive(Deserialize)]
struct Point {
    t: i64,
    #[serde(default)]
    c: Option<f64>,
}

impl Coinalyze {
    /// # Errors
    /// The HTTP client could not be built (or the key is not a valid header value).
    pub fn new(key: &ApiKey, config: CoinalyzeConfig) -> Result<Coinalyze, HttpError> {
        Ok(Coinalyze {
            http: Http::new(
                NAME,
                &config.base_url,
                Some(("api_key", key)),
                config.http,
                venue_message,
            )?,
            venues: config.venues,
            cache_ttl: config.cache_ttl,
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The contract read for a bare symbol.
    ///
    /// # Errors
    /// [`SourceError::UnknownSymbol`] when no perpetual of a configured venue has that base.
    pub async fn contract_for(&self, symbol: &str) -> Result<Contract, SourceError> {
        let wanted = symbol.trim().to_ascii_uppercase();
        let markets: Vec<Market> = self
            .http
            .send(&Request {
                path: "/future-markets".into(),
                method: Method::Get(Vec::new()),
                weight: 1,
                cache_ttl: self.cache_ttl,
                endpoint: "future-markets".into(),
            })
            .await?;
        let quote_rank = |q: Option<&str>| match q {
            Some("USDT") => 0,
            Some("USD") => 1,
            Some("USDC") => 2,
            _ => 3,
        };
        let mut best: Option<(usize, i32, &Market)> = None;
        for m in &markets {
            let Some(venue_rank) = self.venues.iter().position(|v| *v == m.exchange) else {
                continue;
            };
            if !m.is_perpetual
                || m.base_asset.as_deref().map(str::to_ascii_uppercase) != Some(wanted.clone())
                || funding_interval_hours(&m.exchange).is_none()
                || coinalyze_venue(&m.exchange).is_none()
            {
                continue;
            }
            let rank = (venue_rank, quote_rank(m.quote_asset.as_deref()));
            if best.is_none_or(|(v, q, _)| (v, q) > rank) {
                best = Some((rank.0, rank.1, m));
            }
        }
        let (_, _, m) = best.ok_or(SourceError::UnknownSymbol {
            source_name: NAME,
            symbol: symbol.to_string(),
        })?;
        Ok(Contract {
            symbol: m.symbol.clone(),
            code: m.exchange.clone(),
            venue: coinalyze_venue(&m.exchange).expect("checked above"),
        })
    }

    /// Daily `(day, close)` points of one history endpoint for one contract.
    async fn daily_closes(
        &self,
        path: &str,
        contract: &Contract,
        from: Day,
        to: Day,
        extra: &[(&str, &str)],
    ) -> Result<Vec<(Day, f64)>, SourceError> {
        let from_s = i64::from(from.0) * 86_400;
        let to_s = i64::from(to.0 + 1) * 86_400 - 1;
        let mut query = vec![
            ("symbols".to_string(), contract.symbol.clone()),
            ("interval".to_string(), "daily".to_string()),
            ("from".to_string(), from_s.to_string()),
            ("to".to_string(), to_s.to_string()),
        ];
        query.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let endpoint = format!("{} {}", path.trim_start_matches('/'), contract.symbol);
        let answer: Vec<History> = self
            .http
            .send(&Request {
                path: path.into(),
                method: Method::Get(query),
                weight: 1,
                cache_ttl: self.cache_ttl,
                endpoint: endpoint.clone(),
            })
            .await?;
        let mut out = Vec::new();
        for h in answer.into_iter().filter(|h| h.symbol == contract.symbol) {
            for p in h.history {
                if p.t.rem_euclid(86_400) != 0 {
                    return Err(SourceError::Invalid {
                        source_name: NAME,
                        endpoint,
                        detail: format!("daily point at t={} is not a UTC midnight", p.t),
                    });
                }
                let day = Day(p.t.div_euclid(86_400) as i32);
                if let Some(c) = p.c.filter(|c| c.is_finite()) {
                    if day >= from && day <= to {
                        out.push((day, c));
                    }
                }
            }
        }
        out.sort_by_key(|(d, _)| *d);
        out.dedup_by_key(|(d, _)| *d);
        Ok(out)
    }
}

const PROVIDES: &[Dataset] = &[Dataset::Funding, Dataset::OpenInterest];

impl MarketData for Coinalyze {
    fn name(&self) -> &'static str {
        NAME
    }

    fn provides(&self) -> &'static [Dataset] {
        PROVIDES
    }

    async fn funding_history(
        &self,
        symbol: &str,
        from: Day,
        to: Day,
    ) -> Result<Vec<FundingDay>, SourceError> {
        if from > to {
            return Ok(Vec::new());
        }
        let contract = self.contract_for(symbol).await?;
        let hours = funding_interval_hours(&contract.code).expect("contract_for checks it");
        let base = symbol.trim().to_ascii_uppercase();
        let points = self
            .daily_closes("/funding-rate-history", &contract, from, to, &[])
            .await?;
        Ok(points
            .into_iter()
            .map(|(day, pct)| FundingDay {
                symbol: base.clone(),
                venue: contract.venue.to_string(),
                day,
                daily_rate: pct / 100.0 * (24.0 / hours),
            })
            .collect())
    }

    async fn open_interest_history(
        &self,
        symbol: &str,
        from: Day,
        to: Day,
    ) -> Result<Vec<OpenInterestDay>, SourceError> {
        if from > to {
            return Ok(Vec::new());
        }
        let contract = self.contract_for(symbol).await?;
        let base = symbol.trim().to_ascii_uppercase();
        let points = self
            .daily_closes(
                "/open-interest-history",
                &contract,
                from,
                to,
                &[("convert_to_usd", "true")],
            )
            .await?;
        Ok(points
            .into_iter()
            .filter(|(_, usd)| *usd >= 0.0)
            .map(|(day, usd)| OpenInterestDay {
                symbol: base.clone(),
                venue: contract.venue.to_string(),
                day,
                usd,
            })
            .collect())
    }
}
