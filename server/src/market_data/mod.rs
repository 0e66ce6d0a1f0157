//! Market data: where the panel's numbers come from.
//!
//! - The predecessor's CSV files (`csv.rs`) and symbol aliases (`symbols.rs`).
//! - Live sources behind the [`MarketData`] trait (`source.rs`): Hyperliquid's public info API
//!   (`hyperliquid.rs`), CoinMarketCap (`coinmarketcap.rs`), Coinalyze (`coinalyze.rs`), sharing
//!   rate limiting, retries and a response cache (`http.rs`). `lockstep fetch` and the scheduled
//!   refresh in `lockstep serve` (`commands/fetch.rs`) write what they return into the store.

pub mod coinalyze;
pub mod coinmarketcap;
pub mod csv;
pub mod http;
pub mod hyperliquid;
pub mod source;
pub mod symbols;

pub use source::{
    Candle, Dataset, FundingDay, Instrument, MarketCap, MarketData, OpenInterestDay, SourceError,
};
