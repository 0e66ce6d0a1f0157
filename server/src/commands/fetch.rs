//! `lockstep fetch [--source NAME]` and the scheduled refresh inside `lockstep serve`: run the
//! live sources, write what they return into the store, record one fetch run per source and
//! print a per-source summary.
//!
//! Refresh is incremental: for every series the store's last day (any source) is asked first,
//! and only complete UTC days after it, up to yesterday, are requested. A series with no
//! stored day starts `--history-days` back. Data from other sources is never overwritten by a
//! fetch. A source without its API key is skipped with a one-line notice; a source that fails
//! is reported and recorded, and the other sources still run.

use crate::market_data::coinalyze::{self, Coinalyze, CoinalyzeConfig};
use crate::market_data::coinmarketcap::{self, CoinMarketCap, CoinMarketCapConfig};
use crate::market_data::http::{ApiKey, HttpError};
use crate::market_data::hyperliquid::{self, Hyperliquid, HyperliquidConfig};
use crate::market_data::source::{today_utc, MarketData, SourceError};
use crate::market_data::symbols::symbol_of_coin;
use crate::store::listings::ListingSeen;
use crate::store::market::{Record, RunOutcome, Series, SourceKind, UpsertCounts};
use crate::store::{Store, StoreError};
use shared::Day;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

/// The source names `--source` accepts.
pub const SOURCES: [&str; 3] = [hyperliquid::NAME, coinmarketcap::NAME, coinalyze::NAME];

/// `lockstep fetch` options.
#[derive(Debug, Clone, clap::Args)]
pub struct FetchArgs {
    /// Only this source: hyperliquid, coinmarketcap or coinalyze (default: all).
    #[arg(long)]
    pub source: Option<String>,
    #[command(flatten)]
    pub sources: SourceArgs,
}

/// Where the sources live and what to ask them; shared by `fetch` and `serve`'s refresh.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Bare symbols to fetch (comma-separated). Default: Hyperliquid's listed perps for
    /// Hyperliquid, the symbols with stored bars for Coinalyze.
    #[arg(long, value_delimiter = ',', env = "LOCKSTEP_FETCH_SYMBOLS")]
    pub symbols: Vec<String>,
    /// Days of history for a series the store has nothing of yet (candles, Coinalyze funding and
    /// open interest).
    #[arg(long, default_value_t = 365)]
    pub history_days: u32,
    /// Days of Hyperliquid funding history for a new series (hourly rows: ~2 requests per 20 days).
    #[arg(long, default_value_t = 30)]
    pub funding_history_days: u32,
    /// Hyperliquid API base URL.
    #[arg(long, env = "LOCKSTEP_HYPERLIQUID_URL", default_value = hyperliquid::MAINNET)]
    pub hyperliquid_url: String,
    /// CoinMarketCap API base URL (key: CMC_API_KEY).
    #[arg(long, env = "LOCKSTEP_CMC_URL", default_value = coinmarketcap::BASE_URL)]
    pub cmc_url: String,
    /// Coinalyze API base URL (key: COINALYZE_API_KEY).
    #[arg(long, env = "LOCKSTEP_COINALYZE_URL", default_value = coinalyze::BASE_URL)]
    pub coinalyze_url: String,
}

/// Everything a fetch needs, already resolved (tests build this directly).
#[derive(Clone, Debug)]
pub struct FetchConfig {
    pub symbols: Vec<String>,
    pub history_days: u32,
    pub funding_history_days: u32,
    pub hyperliquid: HyperliquidConfig,
    pub coinmarketcap: CoinMarketCapConfig,
    pub coinalyze: CoinalyzeConfig,
    pub cmc_key: Option<ApiKey>,
    pub coinalyze_key: Option<ApiKey>,
}

impl FetchConfig {
    /// The configuration from command-line/env options; keys from `CMC_API_KEY` and
    /// `COINALYZE_API_KEY`.
    pub fn from_args(args: &SourceArgs) -> FetchConfig {
        FetchConfig {
            symbols: args.symbols.clone(),
            history_days: args.history_days,
            funding_history_days: args.funding_history_days,
            hyperliquid: HyperliquidConfig {
                base_url: args.hyperliquid_url.clone(),
                ..HyperliquidConfig::default()
            },
            coinmarketcap: CoinMarketCapConfig {
                base_url: args.cmc_url.clone(),
                ..CoinMarketCapConfig::default()
            },
            coinalyze: CoinalyzeConfig {
                base_url: args.coinalyze_url.clone(),
                ..CoinalyzeConfig::default()
            },
            cmc_key: ApiKey::from_env(coinmarketcap::KEY_ENV),
            coinalyze_key: ApiKey::from_env(coinalyze::KEY_ENV),
        }
    }
}

/// How one source's run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Not run: no key, or not selected. The reason is one line.
    Skipped(String),
    /// Every series fetched (or already up to date).
    Ok,
    /// Some series failed; the others were written.
    Partial,
    /// The source failed as a whole (down, rate limited, key refused, store error).
    Failed(String),
}

/// What one source's run did.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSummary {
    pub source: &'static str,
    pub status: Status,
    /// Series asked for (symbol × dataset) and, of those, already up to date (no request).
    pub series: u64,
    pub up_to_date: u64,
    /// Rows the source returned.
    pub rows_read: u64,
    pub counts: UpsertCounts,
    /// HTTP requests sent (retries included) and answers served from the cache.
    pub requests: u64,
    pub cache_hits: u64,
    /// Per-series failures, one line each.
    pub errors: Vec<String>,
}

impl SourceSummary {
    fn new(source: &'static str) -> SourceSummary {
        SourceSummary {
            source,
            status: Status::Ok,
            series: 0,
            up_to_date: 0,
            rows_read: 0,
            counts: UpsertCounts::default(),
            requests: 0,
            cache_hits: 0,
            errors: Vec::new(),
        }
    }

    fn skipped(source: &'static str, why: String) -> SourceSummary {
        SourceSummary {
            status: Status::Skipped(why),
            ..SourceSummary::new(source)
        }
    }
}

impl fmt::Display for SourceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            Status::Skipped(why) => return write!(f, "{}: skipped: {why}", self.source),
            Status::Ok => write!(f, "{}: ok", self.source)?,
            Status::Partial => write!(f, "{}: partial", self.source)?,
            Status::Failed(e) => write!(f, "{}: FAILED: {e}", self.source)?,
        }
        write!(
            f,
            "; {} series ({} up to date), {} rows read, {} inserted, {} updated, {} unchanged; \
             {} request(s), {} cached",
            self.series,
            self.up_to_date,
            self.rows_read,
            self.counts.inserted,
            self.counts.updated,
            self.counts.unchanged,
            self.requests,
            self.cache_hits
        )?;
        if !self.errors.is_empty() {
            write!(f, "; {} error(s):", self.errors.len())?;
            for e in self.errors.iter().take(10) {
                write!(f, "\n  {e}")?;
            }
            if self.errors.len() > 10 {
                write!(f, "\n  ... and {} more", self.errors.len() - 10)?;
            }
        }
        Ok(())
    }
}

/// The live sources, built once (their rate limiters and caches live as long as this does).
#[derive(Debug)]
pub struct Fetcher {
    config: FetchConfig,
    hyperliquid: Result<Hyperliquid, String>,
    coinmarketcap: Result<CoinMarketCap, String>,
    coinalyze: Result<Coinalyze, String>,
}

/// A failure that stops a whole source run.
#[derive(Debug, thiserror::Error)]
enum Abort {
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Whether a per-series error means the whole source is unusable right now.
fn is_fatal(e: &SourceError) -> bool {
    match e {
        SourceError::Http(HttpError::Rejected { status, .. }) => {
            matches!(status, 401 | 402 | 403 | 429)
        }
        SourceError::Http(HttpError::Setup { .. }) => true,
        other => other.is_retryable(),
    }
}

impl Fetcher {
    /// Builds the clients. A missing key or a client that cannot be built is remembered as
    /// the reason the source is skipped; it is not an error here.
    pub fn new(config: FetchConfig) -> Fetcher {
        let hyperliquid = Hyperliquid::new(config.hyperliquid.clone()).map_err(|e| e.to_string());
        let coinmarketcap = match &config.cmc_key {
            Some(k) => {
                CoinMarketCap::new(k, config.coinmarketcap.clone()).map_err(|e| e.to_string())
            }
            None => Err(format!("{} is not set", coinmarketcap::KEY_ENV)),
        };
        let coinalyze = match &config.coinalyze_key {
            Some(k) => Coinalyze::new(k, config.coinalyze.clone()).map_err(|e| e.to_string()),
            None => Err(format!("{} is not set", coinalyze::KEY_ENV)),
        };
        Fetcher {
            config,
            hyperliquid,
            coinmarketcap,
            coinalyze,
        }
    }

    /// Runs every source (or only `only`), with `today` as the first incomplete UTC day.
    ///
    /// # Errors
    /// `only` names no known source.
    pub async fn run(
        &self,
        store: &Store,
        only: Option<&str>,
        today: Day,
    ) -> Result<Vec<SourceSummary>, String> {
        if let Some(name) = only {
            if !SOURCES.contains(&name) {
                return Err(format!(
                    "unknown source {name:?}; known sources: {}",
                    SOURCES.join(", ")
                ));
            }
        }
        let mut out = Vec::new();
        for name in SOURCES {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let summary = match name {
                hyperliquid::NAME => match &self.hyperliquid {
                    Ok(c) => self.run_source(store, c, today).await,
                    Err(why) => SourceSummary::skipped(name, why.clone()),
                },
                coinmarketcap::NAME => match &self.coinmarketcap {
                    Ok(c) => self.run_source(store, c, today).await,
                    Err(why) => SourceSummary::skipped(name, why.clone()),
                },
                _ => match &self.coinalyze {
                    Ok(c) => self.run_source(store, c, today).await,
                    Err(why) => SourceSummary::skipped(name, why.clone()),
                },
            };
            out.push(summary);
        }
        Ok(out)
    }

    async fn run_source<S: Sourced>(&self, store: &Store, client: &S, today: Day) -> SourceSummary {
        let name = client.name();
        let mut summary = SourceSummary::new(name);
        let requests0 = client.http_counts();
        let run = async {
            store
                .register_source(name, SourceKind::Live, client.description())
                .await?;
            let id = store.start_run(name, Some("fetch")).await?;
            Ok::<i64, StoreError>(id)
        }
        .await;
        let run_id = match run {
            Ok(id) => Some(id),
            Err(e) => {
                summary.status = Status::Failed(format!("store: {e}"));
                return summary;
            }
        };
        let result = client.fetch_into(self, store, today, &mut summary).await;
        let (req, hits) = client.http_counts();
        summary.requests = req - requests0.0;
        summary.cache_hits = hits - requests0.1;
        let outcome = match &result {
            Err(e) => {
                summary.status = Status::Failed(e.to_string());
                RunOutcome::error(summary.rows_read, summary.counts, e.to_string())
            }
            Ok(()) if !summary.errors.is_empty() => {
                summary.status = Status::Partial;
                RunOutcome {
                    status: "partial",
                    rows_read: summary.rows_read,
                    counts: summary.counts,
                    rejected: summary.errors.len() as u64,
                    error: Some(summary.errors.join("; ")),
                }
            }
            Ok(()) => RunOutcome::ok(summary.rows_read, summary.counts),
        };
        if let Some(id) = run_id {
            if let Err(e) = store.finish_run(id, &outcome).await {
                summary.status = Status::Failed(format!("store: recording the run: {e}"));
            }
        }
        summary
    }

    /// The first day to ask for: the day after the last stored one, or `history` days back.
    fn start(last: Option<Day>, today: Day, history: u32) -> Day {
        match last {
            Some(d) => Day(d.0 + 1),
            None => Day(today.0 - history as i32),
        }
    }
}

/// Writes one series' records and accounts for them.
async fn write(
    store: &Store,
    source: &str,
    records: &[Record],
    summary: &mut SourceSummary,
) -> Result<(), StoreError> {
    summary.rows_read += records.len() as u64;
    if !records.is_empty() {
        summary.counts.add(store.upsert(source, records).await?);
    }
    Ok(())
}

/// One source's incremental series fetch: the block every series of every source runs.
struct SeriesFetch<'a> {
    store: &'a Store,
    source: &'static str,
    /// The first incomplete UTC day.
    today: Day,
}

impl SeriesFetch<'_> {
    /// Fetches one series from the day after its last stored day (or `history` days back) to
    /// yesterday and writes it; a series already up to date sends nothing. A per-series
    /// failure is recorded under `what` (the source aborts only on a source-wide one).
    async fn fetch<T, Fut>(
        &self,
        summary: &mut SourceSummary,
        what: String,
        last: Option<Day>,
        history: u32,
        get: impl FnOnce(Day, Day) -> Fut,
    ) -> Result<(), Abort>
    where
        T: Into<Record>,
        Fut: std::future::Future<Output = Result<Vec<T>, SourceError>>,
    {
        summary.series += 1;
        let yesterday = Day(self.today.0 - 1);
        let from = Fetcher::start(last, self.today, history);
        if from > yesterday {
            summary.up_to_date += 1;
            return Ok(());
        }
        match get(from, yesterday).await {
            Ok(rows) => {
                let records: Vec<Record> = rows.into_iter().map(Into::into).collect();
                write(self.store, self.source, &records, summary).await?;
                Ok(())
            }
            Err(e) => series_error(summary, what, e),
        }
    }
}

/// The per-source part of a fetch (private glue between the clients and the store).
trait Sourced: MarketData {
    fn description(&self) -> &'static str;
    fn http_counts(&self) -> (u64, u64);
    fn fetch_into(
        &self,
        fetcher: &Fetcher,
        store: &Store,
        today: Day,
        summary: &mut SourceSummary,
    ) -> impl std::future::Future<Output = Result<(), Abort>> + Send;
}

/// Records a per-series failure, or aborts the source when the failure is source-wide.
fn series_error(summary: &mut SourceSummary, what: String, e: SourceError) -> Result<(), Abort> {
    if is_fatal(&e) {
        return Err(Abort::Source(e));
    }
    summary.errors.push(format!("{what}: {e}"));
    Ok(())
}

impl Sourced for Hyperliquid {
    fn description(&self) -> &'static str {
        "Hyperliquid public info API: perp daily candles and hourly funding"
    }

    fn http_counts(&self) -> (u64, u64) {
        (self.http().requests_sent(), self.http().cache_hits())
    }

    async fn fetch_into(
        &self,
        fetcher: &Fetcher,
        store: &Store,
        today: Day,
        summary: &mut SourceSummary,
    ) -> Result<(), Abort> {
        let cfg = &fetcher.config;
        let universe = self.universe().await?;
        let listed: BTreeSet<String> = universe
            .iter()
            .filter(|i| !i.delisted)
            .map(|i| i.symbol.clone())
            .collect();
        let symbols: Vec<String> = if cfg.symbols.is_empty() {
            listed.iter().cloned().collect()
        } else {
            let mut wanted = Vec::new();
            for s in &cfg.symbols {
                let s = s.trim().to_ascii_uppercase();
                if listed.contains(&s) {
                    wanted.push(s);
                } else {
                    summary.errors.push(format!(
                        "{s}: unknown symbol (not a listed Hyperliquid perp)"
                    ));
                }
            }
            wanted
        };
        let bars_last = store.last_days(Series::Bars, None).await?;
        let funding_last = store.last_days(Series::Funding, None).await?;
        let bar = crate::progress::bar(symbols.len() as u64, hyperliquid::NAME);
        for symbol in bar.wrap_iter(symbols.iter()) {
            let series = SeriesFetch {
                store,
                source: hyperliquid::NAME,
                today,
            };
            let last = bars_last.get(&(symbol.clone(), String::new())).copied();
            series
                .fetch(
                    summary,
                    format!("{symbol} candles"),
                    last,
                    cfg.history_days,
                    |from, to| self.daily_candles(symbol, from, to),
                )
                .await?;
            let last = funding_last
                .get(&(symbol.clone(), hyperliquid::NAME.to_string()))
                .copied();
            series
                .fetch(
                    summary,
                    format!("{symbol} funding"),
                    last,
                    cfg.funding_history_days,
                    |from, to| self.funding_history(symbol, from, to),
                )
                .await?;
        }
        // Listing history: every market by default, else the named ones (delisted included).
        let wanted: Option<BTreeSet<String>> = (!cfg.symbols.is_empty()).then(|| {
            cfg.symbols
                .iter()
                .map(|s| s.trim().to_ascii_uppercase())
                .collect()
        });
        record_listings(self, store, &universe, wanted.as_ref(), today, summary).await
    }
}

/// The earliest day a Hyperliquid listing's first candle is looked for (before the venue's
/// first perp listings).
const HYPERLIQUID_HISTORY_START: Day = Day(19_143); // 2022-05-31

/// Stores what `meta` lists now (every market, delisted ones included) in the listing
/// history, then back-fills the first tradable day of each market (of `wanted` only, when
/// given) not back-filled yet from its first daily candle: one request per market, once.
async fn record_listings(
    client: &Hyperliquid,
    store: &Store,
    universe: &[crate::market_data::source::Instrument],
    wanted: Option<&BTreeSet<String>>,
    today: Day,
    summary: &mut SourceSummary,
) -> Result<(), Abort> {
    let seen: Vec<ListingSeen> = universe
        .iter()
        .map(|i| ListingSeen {
            symbol: i.symbol.clone(),
            venue_symbol: i.venue_symbol.clone(),
            size_decimals: i.size_decimals,
            unit: symbol_of_coin(&i.venue_symbol).1,
            max_leverage: i.max_leverage,
            delisted: i.delisted,
        })
        .collect();
    store
        .record_listings(hyperliquid::NAME, today, &seen)
        .await?;
    let yesterday = Day(today.0 - 1);
    for row in store.listing_rows(hyperliquid::NAME).await? {
        if row.backfilled || wanted.is_some_and(|w| !w.contains(&row.symbol)) {
            continue;
        }
        match client
            .first_candle_day(&row.venue_symbol, HYPERLIQUID_HISTORY_START, yesterday)
            .await
        {
            Ok(first) => {
                store
                    .backfill_first_day(hyperliquid::NAME, &row.venue_symbol, first)
                    .await?
            }
            Err(e) => series_error(summary, format!("{} listing history", row.venue_symbol), e)?,
        }
    }
    Ok(())
}

impl Sourced for CoinMarketCap {
    fn description(&self) -> &'static str {
        "CoinMarketCap listings: market caps and circulating supply"
    }

    fn http_counts(&self) -> (u64, u64) {
        (self.http().requests_sent(), self.http().cache_hits())
    }

    async fn fetch_into(
        &self,
        fetcher: &Fetcher,
        store: &Store,
        _today: Day,
        summary: &mut SourceSummary,
    ) -> Result<(), Abort> {
        let listings = self.listings().await?;
        let wanted: BTreeSet<String> = fetcher
            .config
            .symbols
            .iter()
            .map(|s| s.trim().to_ascii_uppercase())
            .collect();
        let caps_last = store.last_days(Series::MarketCap, None).await?;
        let supply_last = store.last_days(Series::Supply, None).await?;
        let newer = |last: &HashMap<(String, String), Day>, symbol: &str, day: Day| {
            last.get(&(symbol.to_string(), String::new()))
                .is_none_or(|d| day > *d)
        };
        let mut records = Vec::new();
        for cap in &listings.caps {
            if !wanted.is_empty() && !wanted.contains(&cap.symbol) {
                continue;
            }
            if cap.market_cap_usd.is_none() && cap.circulating_supply.is_none() {
                // CMC does not know either: nothing to store, and nothing is made up.
                continue;
            }
            summary.series += 1;
            let mut fresh = false;
            // A day already stored (by any source) keeps its first value: one snapshot a day.
            if let Some(usd) = cap.market_cap_usd {
                if newer(&caps_last, &cap.symbol, cap.day) {
                    fresh = true;
                    records.push(Record::MarketCap {
                        symbol: cap.symbol.clone(),
                        day: cap.day,
                        usd,
                    });
                }
            }
            if let Some(circulating) = cap.circulating_supply {
                if newer(&supply_last, &cap.symbol, cap.day) {
                    fresh = true;
                    records.push(Record::Supply {
                        symbol: cap.symbol.clone(),
                        day: cap.day,
                        circulating,
                        market_cap: cap.market_cap_usd.unwrap_or(f64::NAN),
                    });
                }
            }
            if !fresh {
                summary.up_to_date += 1;
            }
        }
        for s in &wanted {
            if !listings.caps.iter().any(|c| &c.symbol == s) {
                summary
                    .errors
                    .push(format!("{s}: not in CoinMarketCap's listings"));
            }
        }
        write(store, coinmarketcap::NAME, &records, summary).await?;
        Ok(())
    }
}

impl Sourced for Coinalyze {
    fn description(&self) -> &'static str {
        "Coinalyze: daily funding-rate and open-interest history of perpetuals"
    }

    fn http_counts(&self) -> (u64, u64) {
        (self.http().requests_sent(), self.http().cache_hits())
    }

    async fn fetch_into(
        &self,
        fetcher: &Fetcher,
        store: &Store,
        today: Day,
        summary: &mut SourceSummary,
    ) -> Result<(), Abort> {
        let cfg = &fetcher.config;
        let bars_last = store.last_days(Series::Bars, None).await?;
        let symbols: BTreeSet<String> = if cfg.symbols.is_empty() {
            bars_last.keys().map(|(s, _)| s.clone()).collect()
        } else {
            cfg.symbols
                .iter()
                .map(|s| s.trim().to_ascii_uppercase())
                .collect()
        };
        if symbols.is_empty() {
            summary.errors.push(
                "no symbols: pass --symbols, or import or fetch daily bars first".to_string(),
            );
            return Ok(());
        }
        let funding_last = store.last_days(Series::Funding, None).await?;
        let oi_last = store.last_days(Series::OpenInterest, None).await?;
        let bar = crate::progress::bar(symbols.len() as u64, coinalyze::NAME);
        for symbol in bar.wrap_iter(symbols.iter()) {
            let contract = match self.contract_for(symbol).await {
                Ok(c) => c,
                Err(e) => {
                    summary.series += 2;
                    series_error(summary, symbol.clone(), e)?;
                    continue;
                }
            };
            let key = (symbol.clone(), contract.venue.to_string());
            let series = SeriesFetch {
                store,
                source: coinalyze::NAME,
                today,
            };
            series
                .fetch(
                    summary,
                    format!("{symbol} funding"),
                    funding_last.get(&key).copied(),
                    cfg.history_days,
                    |from, to| self.funding_history(symbol, from, to),
                )
                .await?;
            series
                .fetch(
                    summary,
                    format!("{symbol} open interest"),
                    oi_last.get(&key).copied(),
                    cfg.history_days,
                    |from, to| self.open_interest_history(symbol, from, to),
                )
                .await?;
        }
        Ok(())
    }
}

/// `lockstep fetch`: runs the sources once and prints one summary per source. Fails (non-zero
/// exit) when a source failed or a series could not be fetched; a skipped source is not a failure.
///
/// # Errors
/// An unknown `--source`, or any source that did not end `ok`.
pub async fn run(store: &Store, args: &FetchArgs) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(FetchConfig::from_args(&args.sources));
    let summaries = fetcher
        .run(store, args.source.as_deref(), today_utc())
        .await
        .map_err(anyhow::Error::msg)?;
    let mut failed = 0;
    for s in &summaries {
        println!("{s}");
        if matches!(s.status, Status::Failed(_) | Status::Partial) {
            failed += 1;
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} source(s) did not complete");
    }
    Ok(())
}

/// When `lockstep serve` refreshes market data.
#[derive(Debug, Clone, clap::Args)]
pub struct RefreshArgs {
    /// Refresh market data every interval (`30m`, `1h`, `1d`; `off` = never, the default).
    #[arg(long, env = "LOCKSTEP_REFRESH", default_value = "off", value_parser = parse_every_arg)]
    pub refresh_every: Every,
    /// Refresh once a day at this UTC time (`HH:MM`), e.g. `00:30` after the daily candles close.
    #[arg(long, env = "LOCKSTEP_REFRESH_AT", value_parser = parse_at)]
    pub refresh_at: Option<u32>,
    #[command(flatten)]
    pub sources: SourceArgs,
}

/// A refresh interval; `Every(None)` = off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Every(pub Option<Duration>);

fn parse_every_arg(s: &str) -> Result<Every, String> {
    parse_every(s).map(Every)
}

/// `30s`, `15m`, `1h`, `1d`, or `off`.
///
/// # Errors
/// Anything else, or a zero interval.
pub fn parse_every(s: &str) -> Result<Option<Duration>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") || s.is_empty() {
        return Ok(None);
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected e.g. 30m, 1h, 1d or off"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    if secs == 0 {
        return Err(format!("{s:?}: the interval must be positive"));
    }
    Ok(Some(Duration::from_secs(secs)))
}

/// `HH:MM` (UTC) as seconds after midnight.
///
/// # Errors
/// Not a valid time of day.
pub fn parse_at(s: &str) -> Result<u32, String> {
    let (h, m) = s
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected HH:MM (UTC)"))?;
    let h: u32 = h.parse().map_err(|_| format!("{s:?}: bad hour"))?;
    let m: u32 = m.parse().map_err(|_| format!("{s:?}: bad minute"))?;
    if h > 23 || m > 59 {
        return Err(format!("{s:?}: not a time of day"));
    }
    Ok(h * 3600 + m * 60)
}

/// How long until the next refresh, given seconds since the epoch now.
pub fn next_delay(every: Option<Duration>, at: Option<u32>, now_secs: u64) -> Option<Duration> {
    match (at, every) {
        (Some(at), _) => {
            let into_day = now_secs % 86_400;
            let at = u64::from(at);
            let wait = if into_day < at {
                at - into_day
            } else {
                86_400 - into_day + at
            };
            Some(Duration::from_secs(wait))
        }
        (None, Some(every)) => Some(every),
        (None, None) => None,
    }
}

/// Starts the scheduled refresh as a background task, or returns `None` when it is off.
/// A failing source is logged and recorded as a failed run; the task and the server go on.
///
/// With several replicas on one database, each period's refresh runs in the one process that
/// takes the `scheduler:refresh` lease (`crate::live::lease`; held for half a period, never
/// released early), named `holder`; the others skip it.
pub fn spawn_refresh(
    store: std::sync::Arc<Store>,
    args: &RefreshArgs,
    holder: String,
) -> Option<tokio::task::JoinHandle<()>> {
    let (every, at) = (args.refresh_every.0, args.refresh_at);
    next_delay(every, at, 0)?;
    let fetcher = Fetcher::new(FetchConfig::from_args(&args.sources));
    tracing::info!(
        every = ?every,
        at_utc_secs = ?at,
        "scheduled market-data refresh is on"
    );
    Some(tokio::spawn(async move {
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let Some(wait) = next_delay(every, at, now) else {
                return;
            };
            tokio::time::sleep(wait).await;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let claim_ms = (wait.as_millis() as i64 / 2).max(60_000);
            let leases = crate::live::lease::Leases { store: &store };
            match leases
                .acquire(
                    "scheduler:refresh",
                    &format!("{holder}/{now_ms}"),
                    None,
                    now_ms,
                    claim_ms,
                )
                .await
            {
                Ok(()) => {}
                Err(e) => {
                    tracing::info!("refresh skipped here: {e}");
                    continue;
                }
            }
            match fetcher.run(&store, None, today_utc()).await {
                Ok(summaries) => {
                    for s in summaries {
                        match s.status {
                            Status::Ok | Status::Skipped(_) => tracing::info!("refresh: {s}"),
                            Status::Partial | Status::Failed(_) => tracing::warn!("refresh: {s}"),
                        }
                    }
                }
                Err(e) => tracing::warn!("refresh: {e}"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_times() {
        assert_eq!(parse_every("off").unwrap(), None);
        assert_eq!(parse_every("1h").unwrap(), Some(Duration::from_secs(3600)));
        assert_eq!(parse_every("30m").unwrap(), Some(Duration::from_secs(1800)));
        assert_eq!(
            parse_every("2d").unwrap(),
            Some(Duration::from_secs(172_800))
        );
        assert!(parse_every("0h").is_err());
        assert!(parse_every("1w").is_err());
        assert_eq!(parse_at("00:30").unwrap(), 1800);
        assert!(parse_at("24:00").is_err());
        // 00:10 UTC → 20 minutes to 00:30; 01:00 → 23.5 hours.
        assert_eq!(
            next_delay(None, Some(1800), 86_400 * 10 + 600),
            Some(Duration::from_secs(1200))
        );
        assert_eq!(
            next_delay(None, Some(1800), 86_400 * 10 + 3600),
            Some(Duration::from_secs(86_400 - 1800))
        );
        assert_eq!(next_delay(None, None, 5), None);
    }
}
