//! Hyperliquid's public info API (no key): `POST /info` with `meta`, `metaAndAssetCtxs`,
//! `candleSnapshot` and `fundingHistory`. Shapes and limits: `external-apis.md` §1.
//!
//! - Numbers arrive as strings, times as integer milliseconds.
//! - Every info request weighs 20 of the IP's 1200 per minute; `candleSnapshot` costs one more
//!   per 60 candles returned, `fundingHistory` one more per 20 rows (charged after the answer).
//! - Time ranges come back in pages (at most 500 rows): the next page starts after the last
//!   row returned (`T + 1` for candles, whose page includes the candle containing `startTime`;
//!   `time + 1` for funding).
//! - Funding is an hourly fraction, paid every hour: a day's funding is the sum of its 24
//!   hourly rates. A day with fewer than 24 distinct hours is left out (missing, not guessed).
//! - The thousand-unit contracts (`kPEPE` = 1000 PEPE, priced per 1000) are named and measured
//!   as the asset, through the broker's mapping ([`symbol_of_coin`]): the series is `PEPE`,
//!   prices are divided by 1000, base volumes and open interest (in coins) multiplied by 1000;
//!   funding (a rate) and notional volume (USD) are unchanged. The store then holds what the
//!   broker trades: a `PEPE` weight is sized at a per-PEPE price.

use super::http::{venue_message, Http, HttpConfig, HttpError, Method, Request};
use super::source::{
    day_of_ms, day_start_ms, parse_num, Candle, Dataset, FundingDay, Instrument, MarketData,
    SourceError,
};
use super::symbols::{base_of, symbol_of_coin};
use serde::Deserialize;
use shared::Day;
use std::collections::BTreeMap;
use std::time::Duration;

pub const NAME: &str = "hyperliquid";
pub const MAINNET: &str = "https://api.hyperliquid.xyz";
const INFO_WEIGHT: u32 = 20;
const HOUR_MS: i64 = 3_600_000;

/// Where and how to talk to Hyperliquid.
#[derive(Clone, Debug)]
pub struct HyperliquidConfig {
    pub base_url: String,
    pub http: HttpConfig,
    /// How long answers are reused (funding: one hour, as the issue asks).
    pub cache_ttl: Duration,
}

impl Default for HyperliquidConfig {
    fn default() -> Self {
        HyperliquidConfig {
            base_url: MAINNET.to_string(),
            http: HttpConfig {
                weight_per_minute: 1200,
                ..HttpConfig::default()
            },
            cache_ttl: Duration::from_secs(3600),
        }
    }
}

/// The current state of one perp from `metaAndAssetCtxs`.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetContext {
    pub instrument: Instrument,
    /// Current hourly funding rate (fraction).
    pub funding_hourly: Option<f64>,
    /// Open interest in units of `instrument.symbol` (coins; for a `k` contract, of the asset).
    pub open_interest: Option<f64>,
    /// Prices per unit of `instrument.symbol` (a `k` contract's divided by its 1000 units).
    pub mark_px: Option<f64>,
    pub oracle_px: Option<f64>,
    /// USD, whatever the unit.
    pub day_notional_volume: Option<f64>,
}

/// The Hyperliquid client.
#[derive(Debug)]
pub struct Hyperliquid {
    http: Http,
    cache_ttl: Duration,
}

#[derive(Deserialize)]
struct Meta {
    universe: Vec<MetaAsset>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaAsset {
    name: String,
    sz_decimals: u32,
    #[serde(default)]
    max_leverage: Option<u32>,
    #[serde(default)]
    is_delisted: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssetCtxWire {
    #[serde(default)]
    funding: Option<String>,
    #[serde(default)]
    open_interest: Option<String>,
    #[serde(default)]
    mark_px: Option<String>,
    #[serde(default)]
    oracle_px: Option<String>,
    #[serde(default)]
    day_ntl_vlm: Option<String>,
}

#[derive(Deserialize)]
struct CandleWire {
    t: i64,
    #[serde(rename = "T")]
    close_time: i64,
    s: String,
    i: String,
    o: String,
    h: String,
    l: String,
    c: String,
    v: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FundingWire {
    coin: String,
    funding_rate: String,
    time: i64,
}

impl Hyperliquid {
    /// # Errors
    /// The HTTP client could not be built.
    pub fn new(config: HyperliquidConfig) -> Result<Hyperliquid, HttpError> {
        Ok(Hyperliquid {
            http: Http::new(NAME, &config.base_url, None, config.http, venue_message)?,
            cache_ttl: config.cache_ttl,
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    fn info(&self, body: serde_json::Value, endpoint: String) -> Request {
        Request {
            path: "/info".into(),
            method: Method::Post(body),
            weight: INFO_WEIGHT,
            cache_ttl: self.cache_ttl,
            endpoint,
        }
    }

    /// One `candleSnapshot` page of daily candles from `start_ms` to `end_ms`, charged to the
    /// budget by its size (the venue weighs candle answers per 60 items). Returns the endpoint's
    /// name for error messages with the page.
    async fn candle_page(
        &self,
        coin: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(String, Vec<CandleWire>), SourceError> {
        let endpoint = format!("candleSnapshot {coin} from {start_ms}");
        let page: Vec<CandleWire> = self
            .http
            .send(&self.info(
                serde_json::json!({"type": "candleSnapshot", "req": {
                    "coin": coin, "interval": "1d", "startTime": start_ms, "endTime": end_ms}}),
                endpoint.clone(),
            ))
            .await?;
        self.http.charge(page.len().div_ceil(60) as u32).await;
        Ok((endpoint, page))
    }

    fn invalid(endpoint: &str, detail: String) -> SourceError {
        SourceError::Invalid {
            source_name: NAME,
            endpoint: endpoint.to_string(),
            detail,
        }
    }

    /// The venue's coin name for a bare symbol, from `meta`: `BTC` → `BTC`, `PEPE` → `kPEPE`.
    ///
    /// # Errors
    /// [`SourceError::UnknownSymbol`] when no listed perp has that base.
    pub async fn coin_of(&self, symbol: &str) -> Result<String, SourceError> {
        Ok(self.coin_and_unit(symbol).await?.0)
    }

    /// The coin that trades `symbol` and the symbol's units in one coin (see
    /// [`symbol_of_coin`]). A plain listing wins over a `k` contract of the same asset, as in
    /// the broker, so data and orders name the same market.
    async fn coin_and_unit(&self, symbol: &str) -> Result<(String, f64), SourceError> {
        let wanted = symbol.trim().to_ascii_uppercase();
        let mut found: Option<(String, f64)> = None;
        for i in self.universe().await? {
            if i.symbol == wanted && !i.delisted {
                let unit = symbol_of_coin(&i.venue_symbol).1;
                if !matches!(found, Some((_, u)) if u == 1.0) {
                    found = Some((i.venue_symbol, unit));
                }
            }
        }
        found.ok_or(SourceError::UnknownSymbol {
            source_name: NAME,
            symbol: symbol.to_string(),
        })
    }

    /// Current funding, open interest and prices of every perp (`metaAndAssetCtxs`).
    ///
    /// # Errors
    /// HTTP failures, a malformed answer, or unparseable numbers.
    pub async fn asset_contexts(&self) -> Result<Vec<AssetContext>, SourceError> {
        let endpoint = "metaAndAssetCtxs";
        let (meta, ctxs): (Meta, Vec<AssetCtxWire>) = self
            .http
            .send(&self.info(
                serde_json::json!({"type": "metaAndAssetCtxs"}),
                endpoint.into(),
            ))
            .await?;
        if meta.universe.len() != ctxs.len() {
            return Err(Self::invalid(
                endpoint,
                format!("{} assets but {} contexts", meta.universe.len(), ctxs.len()),
            ));
        }
        let num = |field: &str, v: &Option<String>| -> Result<Option<f64>, SourceError> {
            match v {
                None => Ok(None),
                Some(s) => parse_num(s).map(Some).ok_or_else(|| {
                    Self::invalid(endpoint, format!("{field} {s:?} is not a number"))
                }),
            }
        };
        meta.universe
            .into_iter()
            .zip(ctxs)
            .map(|(asset, ctx)| {
                let unit = symbol_of_coin(&asset.name).1;
                Ok(AssetContext {
                    instrument: instrument(asset),
                    funding_hourly: num("funding", &ctx.funding)?,
                    open_interest: num("openInterest", &ctx.open_interest)?.map(|v| v * unit),
                    mark_px: num("markPx", &ctx.mark_px)?.map(|v| v / unit),
                    oracle_px: num("oraclePx", &ctx.oracle_px)?.map(|v| v / unit),
                    day_notional_volume: num("dayNtlVlm", &ctx.day_ntl_vlm)?,
                })
            })
            .collect()
    }

    /// The day of `coin`'s first daily candle on or after `since` and before `until`: one
    /// `candleSnapshot` page (the venue answers from the earliest candle in the range), so a
    /// market's first tradable day costs one request. `None`: no candle in the range.
    ///
    /// # Errors
    /// HTTP failures or a malformed answer.
    pub async fn first_candle_day(
        &self,
        coin: &str,
        since: Day,
        until: Day,
    ) -> Result<Option<Day>, SourceError> {
        let start = day_start_ms(since);
        let end_ms = day_start_ms(Day(until.0 + 1)) - 1;
        let (endpoint, page) = self.candle_page(coin, start, end_ms).await?;
        let mut first: Option<Day> = None;
        for c in &page {
            if c.s != coin || c.i != "1d" {
                return Err(Self::invalid(
                    &endpoint,
                    format!("candle of {} {} in the answer for {coin} 1d", c.s, c.i),
                ));
            }
            let day = day_of_ms(c.t);
            if day >= since && day <= until {
                first = Some(first.map_or(day, |f: Day| f.min(day)));
            }
        }
        Ok(first)
    }

    /// Raw hourly funding rows `(hour start in ms, rate)` of a coin between two instants,
    /// all pages, deduplicated by hour.
    async fn funding_rows(
        &self,
        coin: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<BTreeMap<i64, f64>, SourceError> {
        let mut rows = BTreeMap::new();
        let mut start = start_ms;
        while start <= end_ms {
            let endpoint = format!("fundingHistory {coin} from {start}");
            let page: Vec<FundingWire> = self
                .http
                .send(&self.info(
                    serde_json::json!({"type": "fundingHistory", "coin": coin,
                                       "startTime": start, "endTime": end_ms}),
                    endpoint.clone(),
                ))
                .await?;
            self.http.charge(page.len().div_ceil(20) as u32).await;
            let Some(last) = page.last().map(|r| r.time) else {
                break;
            };
            for r in &page {
                if r.coin != coin {
                    return Err(Self::invalid(
                        &endpoint,
                        format!("row of {} in the answer for {coin}", r.coin),
                    ));
                }
                let rate = parse_num(&r.funding_rate).ok_or_else(|| {
                    Self::invalid(
                        &endpoint,
                        format!("fundingRate {:?} is not a number", r.funding_rate),
                    )
                })?;
                if r.time >= start_ms && r.time <= end_ms {
                    // Times carry millisecond jitter: key by the hour.
                    rows.entry(r.time.div_euclid(HOUR_MS) * HOUR_MS)
                        .or_insert(rate);
                }
            }
            if last < start {
                return Err(Self::invalid(
                    &endpoint,
                    format!("page ends at {last}, before its startTime {start}"),
                ));
            }
            // The range's last hour is in: nothing more to ask for.
            if last > end_ms - HOUR_MS {
                break;
            }
            start = last + 1;
        }
        Ok(rows)
    }
}

fn instrument(a: MetaAsset) -> Instrument {
    let (symbol, _) = symbol_of_coin(&a.name);
    Instrument {
        symbol: base_of(&symbol).unwrap_or_else(|| symbol.to_ascii_uppercase()),
        venue_symbol: a.name,
        venue: NAME.to_string(),
        size_decimals: Some(a.sz_decimals),
        max_leverage: a.max_leverage,
        delisted: a.is_delisted.unwrap_or(false),
    }
}

/// Sums hourly rates per UTC day; only days with all 24 hours present are returned.
pub fn daily_funding(symbol: &str, hourly: &BTreeMap<i64, f64>) -> Vec<FundingDay> {
    let mut days: BTreeMap<Day, (u32, f64)> = BTreeMap::new();
    for (&hour, &rate) in hourly {
        let e = days.entry(day_of_ms(hour)).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += rate;
    }
    days.into_iter()
        .filter(|(_, (n, _))| *n == 24)
        .map(|(day, (_, sum))| FundingDay {
            symbol: symbol.to_string(),
            venue: NAME.to_string(),
            day,
            daily_rate: sum,
        })
        .collect()
}

const PROVIDES: &[Dataset] = &[Dataset::Universe, Dataset::Candles, Dataset::Funding];

impl MarketData for Hyperliquid {
    fn name(&self) -> &'static str {
        NAME
    }

    fn provides(&self) -> &'static [Dataset] {
        PROVIDES
    }

    async fn universe(&self) -> Result<Vec<Instrument>, SourceError> {
        let meta: Meta = self
            .http
            .send(&self.info(serde_json::json!({"type": "meta"}), "meta".into()))
            .await?;
        Ok(meta.universe.into_iter().map(instrument).collect())
    }

    async fn daily_candles(
        &self,
        symbol: &str,
        from: Day,
        to: Day,
    ) -> Result<Vec<Candle>, SourceError> {
        if from > to {
            return Ok(Vec::new());
        }
        let (coin, unit) = self.coin_and_unit(symbol).await?;
        let base = symbol.trim().to_ascii_uppercase();
        let end_ms = day_start_ms(Day(to.0 + 1)) - 1;
        let mut start = day_start_ms(from);
        let mut out: BTreeMap<Day, Candle> = BTreeMap::new();
        while start <= end_ms {
            let (endpoint, page) = self.candle_page(&coin, start, end_ms).await?;
            let Some(last_close) = page.last().map(|c| c.close_time) else {
                break;
            };
            for c in page {
                let candle = parse_candle(&coin, &base, unit, c)
                    .map_err(|detail| Self::invalid(&endpoint, detail))?;
                if candle.day >= from && candle.day <= to {
                    out.insert(candle.day, candle);
                }
            }
            if last_close < start {
                return Err(Self::invalid(
                    &endpoint,
                    format!("page ends at {last_close}, before its startTime {start}"),
                ));
            }
            start = last_close + 1;
        }
        Ok(out.into_values().collect())
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
        let coin = self.coin_of(symbol).await?;
        let base = symbol.trim().to_ascii_uppercase();
        let rows = self
            .funding_rows(&coin, day_start_ms(from), day_start_ms(Day(to.0 + 1)) - 1)
            .await?;
        Ok(daily_funding(&base, &rows))
    }
}

/// One daily candle of `coin`, as `base` with `unit` of it per coin: prices divided by `unit`,
/// the base volume multiplied by it (`kPEPE`: per 1000 PEPE and in thousands → per PEPE, in
/// PEPE).
fn parse_candle(coin: &str, base: &str, unit: f64, c: CandleWire) -> Result<Candle, String> {
    if c.s != coin || c.i != "1d" {
        return Err(format!(
            "candle of {} {} in the answer for {coin} 1d",
            c.s, c.i
        ));
    }
    if c.t.rem_euclid(86_400_000) != 0 || c.close_time != c.t + 86_400_000 - 1 {
        return Err(format!(
            "daily candle t={} T={} does not span one UTC day",
            c.t, c.close_time
        ));
    }
    let num = |name: &str, s: &str| {
        parse_num(s)
            .filter(|v| *v >= 0.0)
            .ok_or_else(|| format!("{name} {s:?} at t={} is not a non-negative number", c.t))
    };
    let candle = Candle {
        symbol: base.to_string(),
        day: day_of_ms(c.t),
        open: num("o", &c.o)? / unit,
        high: num("h", &c.h)? / unit,
        low: num("l", &c.l)? / unit,
        close: num("c", &c.c)? / unit,
        volume: num("v", &c.v)? * unit,
    };
    if candle.low > candle.high {
        return Err(format!("low above high at t={}", c.t));
    }
    Ok(candle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_funding_is_the_sum_of_its_24_hours() {
        let d = Day::from_ymd(2024, 1, 2).unwrap();
        let mut rows = BTreeMap::new();
        for h in 0..24 {
            rows.insert(day_start_ms(d) + h * HOUR_MS, 0.0000125);
        }
        // The next day only has 23 hours: left out.
        for h in 0..23 {
            rows.insert(day_start_ms(Day(d.0 + 1)) + h * HOUR_MS, 0.0001);
        }
        let days = daily_funding("BTC", &rows);
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].day, d);
        assert!((days[0].daily_rate - 0.0003).abs() < 1e-15);
        assert_eq!(days[0].venue, "hyperliquid");
    }

    #[test]
    fn candles_must_span_one_utc_day() {
        let wire = |t: i64, big_t: i64| CandleWire {
            t,
            close_time: big_t,
            s: "BTC".into(),
            i: "1d".into(),
            o: "1".into(),
            h: "2".into(),
            l: "0.5".into(),
            c: "1.5".into(),
            v: "10".into(),
        };
        let t = 1_684_627_200_000;
        assert!(parse_candle("BTC", "BTC", 1.0, wire(t, t + 86_399_999)).is_ok());
        assert!(parse_candle("BTC", "BTC", 1.0, wire(t + 1, t + 86_399_999)).is_err());
        assert!(parse_candle("ETH", "ETH", 1.0, wire(t, t + 86_399_999)).is_err());
    }

    #[test]
    fn a_k_contract_candle_is_per_unit_of_the_asset() {
        let t = 1_684_627_200_000;
        let wire = CandleWire {
            t,
            close_time: t + 86_399_999,
            s: "kPEPE".into(),
            i: "1d".into(),
            o: "0.0125".into(),
            h: "0.0130".into(),
            l: "0.0120".into(),
            c: "0.0128".into(),
            v: "2500000".into(),
        };
        let c = parse_candle("kPEPE", "PEPE", 1000.0, wire).unwrap();
        assert_eq!(c.symbol, "PEPE");
        // 0.0128 USD per 1000 PEPE is 0.0000128 per PEPE; 2.5M contracts are 2.5G PEPE.
        assert!((c.close - 0.0000128).abs() < 1e-18, "{}", c.close);
        assert!((c.open - 0.0000125).abs() < 1e-18);
        assert!((c.high - 0.0000130).abs() < 1e-18);
        assert!((c.low - 0.0000120).abs() < 1e-18);
        assert_eq!(c.volume, 2_500_000_000.0);
    }
}
