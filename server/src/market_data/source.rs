//! The `MarketData` trait: one implementation per live data source (Hyperliquid, CoinMarketCap,
//! Coinalyze), each saying what it provides. Records come out in Lockstep's units: bare base
//! symbols (`BTC`), UTC [`Day`]s, funding as a **daily fraction** with its venue, open interest
//! and market caps in USD. A value the source did not give is absent, never invented.

use super::http::HttpError;
use crate::store::layout::Record;
use shared::Day;
use std::fmt;
use std::future::Future;

/// The kinds of data a source can provide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// Tradable symbols (and, for Hyperliquid, size decimals).
    Universe,
    /// Daily OHLCV bars.
    Candles,
    /// Daily funding (daily fraction, per venue).
    Funding,
    /// Daily open interest (USD, per venue).
    OpenInterest,
    /// Market caps and circulating supply.
    MarketCaps,
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Universe => "universe",
            Dataset::Candles => "candles",
            Dataset::Funding => "funding",
            Dataset::OpenInterest => "open interest",
            Dataset::MarketCaps => "market caps",
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tradable instrument of a source.
#[derive(Clone, Debug, PartialEq)]
pub struct Instrument {
    /// Bare base symbol, upper case (`BTC`).
    pub symbol: String,
    /// The source's own name for it (`BTC` on Hyperliquid, `BTCUSDT_PERP.A` on Coinalyze).
    pub venue_symbol: String,
    /// The venue that trades it (`hyperliquid`, `binance`, ...).
    pub venue: String,
    /// Hyperliquid's `szDecimals`: sizes carry at most this many decimals.
    pub size_decimals: Option<u32>,
    pub max_leverage: Option<u32>,
    /// Listed by the venue but no longer tradable.
    pub delisted: bool,
}

/// One complete UTC day of OHLCV. Volume in base units.
#[derive(Clone, Debug, PartialEq)]
pub struct Candle {
    pub symbol: String,
    pub day: Day,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// One UTC day of funding on one venue, as a daily fraction (0.0003 = 0.03% per day).
#[derive(Clone, Debug, PartialEq)]
pub struct FundingDay {
    pub symbol: String,
    pub venue: String,
    pub day: Day,
    pub daily_rate: f64,
}

/// Open interest at the end of one UTC day on one venue, in USD.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenInterestDay {
    pub symbol: String,
    pub venue: String,
    pub day: Day,
    pub usd: f64,
}

impl From<Candle> for Record {
    fn from(c: Candle) -> Record {
        Record::Bar {
            symbol: c.symbol,
            day: c.day,
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
        }
    }
}

impl From<FundingDay> for Record {
    fn from(f: FundingDay) -> Record {
        Record::Funding {
            symbol: f.symbol,
            venue: f.venue,
            day: f.day,
            daily_rate: f.daily_rate,
        }
    }
}

impl From<OpenInterestDay> for Record {
    fn from(o: OpenInterestDay) -> Record {
        Record::OpenInterest {
            symbol: o.symbol,
            venue: o.venue,
            day: o.day,
            usd: o.usd,
        }
    }
}

/// A market-cap observation. A field the source left empty (or zero) is `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketCap {
    pub symbol: String,
    /// The UTC day of the source's `last_updated`.
    pub day: Day,
    pub market_cap_usd: Option<f64>,
    pub circulating_supply: Option<f64>,
    pub rank: Option<u32>,
}

/// Why a source could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The source does not know this symbol (not in its universe).
    #[error("{source_name}: unknown symbol {symbol}")]
    UnknownSymbol {
        source_name: &'static str,
        symbol: String,
    },
    /// The source does not provide this kind of data.
    #[error("{source_name} does not provide {dataset}")]
    Unsupported {
        source_name: &'static str,
        dataset: Dataset,
    },
    /// The answer decoded but holds values that make no sense (an unparseable number string,
    /// a negative price, a candle of another coin or interval).
    #[error("{source_name} {endpoint}: invalid data: {detail}")]
    Invalid {
        source_name: &'static str,
        endpoint: String,
        detail: String,
    },
}

impl SourceError {
    /// Whether trying again later may help (the venue was down or rate limiting).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SourceError::Http(e) if e.is_retryable())
    }
}

/// A live data source. Every method asks for complete UTC days `from..=to`; a source that does
/// not provide a dataset answers [`SourceError::Unsupported`] (see [`MarketData::provides`]).
pub trait MarketData: Send + Sync {
    /// Short lower-case name, used by `lockstep fetch --source NAME` and in the store.
    fn name(&self) -> &'static str;

    /// What this source can provide.
    fn provides(&self) -> &'static [Dataset];

    /// Tradable instruments.
    fn universe(&self) -> impl Future<Output = Result<Vec<Instrument>, SourceError>> + Send {
        let name = self.name();
        async move { Err(unsupported(name, Dataset::Universe)) }
    }

    /// Daily candles of one bare symbol, ascending by day.
    fn daily_candles(
        &self,
        symbol: &str,
        from: Day,
        to: Day,
    ) -> impl Future<Output = Result<Vec<Candle>, SourceError>> + Send {
        let _ = (symbol, from, to);
        let name = self.name();
        async move { Err(unsupported(name, Dataset::Candles)) }
    }

    /// Daily funding of one bare symbol, ascending by day.
    fn funding_history(
        &self,
        symbol: &str,
        from: Day,
        to: Day,
    ) -> impl Future<Output = Result<Vec<FundingDay>, SourceError>> + Send {
        let _ = (symbol, from, to);
        let name = self.name();
        async move { Err(unsupported(name, Dataset::Funding)) }
    }

    /// Daily open interest (USD) of one bare symbol, ascending by day.
    fn open_interest_history(
        &self,
        symbol: &str,
        from: Day,
        to: Day,
    ) -> impl Future<Output = Result<Vec<OpenInterestDay>, SourceError>> + Send {
        let _ = (symbol, from, to);
        let name = self.name();
        async move { Err(unsupported(name, Dataset::OpenInterest)) }
    }

    /// The latest market caps and circulating supplies.
    fn market_caps(&self) -> impl Future<Output = Result<Vec<MarketCap>, SourceError>> + Send {
        let name = self.name();
        async move { Err(unsupported(name, Dataset::MarketCaps)) }
    }
}

fn unsupported(source_name: &'static str, dataset: Dataset) -> SourceError {
    SourceError::Unsupported {
        source_name,
        dataset,
    }
}

/// Milliseconds since the epoch at 00:00 UTC of `day`.
pub fn day_start_ms(day: Day) -> i64 {
    i64::from(day.0) * 86_400_000
}

/// The UTC day containing `ms` (milliseconds since the epoch).
pub fn day_of_ms(ms: i64) -> Day {
    Day(ms.div_euclid(86_400_000) as i32)
}

/// Today's UTC day by the system clock.
pub fn today_utc() -> Day {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Day(secs.div_euclid(86_400) as i32)
}

/// Parses a venue's number string (`"29258.0"`), rejecting non-finite values.
pub fn parse_num(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_boundaries() {
        let d = Day::from_ymd(2023, 5, 21).unwrap();
        assert_eq!(day_start_ms(d), 1_684_627_200_000);
        assert_eq!(day_of_ms(1_684_627_200_000), d);
        assert_eq!(day_of_ms(1_684_627_199_999), Day(d.0 - 1));
        assert_eq!(parse_num("29258.0"), Some(29258.0));
        assert_eq!(parse_num("NaN"), None);
        assert_eq!(parse_num("x"), None);
    }
}
