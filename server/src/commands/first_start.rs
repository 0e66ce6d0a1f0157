//! What `lockstep serve` does on its first start with an empty store, before serving:
//!
//! 1. the predecessor's files, when present: `LOCKSTEP_DEMO_DATA` or `../shared/data/original`
//!    relative to the working directory (imported like `lockstep import` does, source `csv`);
//! 2. otherwise Hyperliquid's public API (no key needed; see [`live_bootstrap`]; skipped when
//!    `LOCKSTEP_OFFLINE` is set);
//! 3. otherwise the deterministic synthetic market (`shared::synth`), stored with source
//!    `synthetic` and labelled as such by `/api/health` (`data.synthetic`, `data.sources`) and
//!    `/api/data/status`.
//!
//! A store that already holds daily bars is left alone.

use crate::store::market::{Record, SourceKind, SYNTHETIC_SOURCE};
use crate::store::Store;
use anyhow::Context;
use shared::synth::{self, SynthConfig};
use shared::{Field, Panel};
use std::path::PathBuf;

/// Where the first start looks for the predecessor's files.
pub fn demo_data_dir() -> PathBuf {
    std::env::var_os("LOCKSTEP_DEMO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data/original"))
}

/// How the store got its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstStart {
    /// The store already held bars.
    AlreadyFilled,
    Imported(PathBuf),
    Live(String),
    Synthetic,
}

/// Fills an empty store (see the module docs).
///
/// # Errors
/// A store failure, or a synthetic market that cannot be generated.
pub async fn ensure_data(store: &Store) -> anyhow::Result<FirstStart> {
    if store.bar_summary().await?.bars > 0 {
        return Ok(FirstStart::AlreadyFilled);
    }
    let dir = demo_data_dir();
    if dir.is_dir() {
        tracing::info!("empty store: importing {}", dir.display());
        let report = super::import::import_paths(store, std::slice::from_ref(&dir)).await?;
        if report.rejected() > 0 {
            tracing::warn!(
                "{} row(s) or file(s) of {} rejected; run `lockstep import {}` for the list",
                report.rejected(),
                dir.display(),
                dir.display()
            );
        }
        if store.bar_summary().await?.bars > 0 {
            return Ok(FirstStart::Imported(dir));
        }
        tracing::warn!("{} gave no daily bars", dir.display());
    }
    match live_bootstrap(store).await {
        Ok(Some(source)) => return Ok(FirstStart::Live(source)),
        Ok(None) => {}
        Err(e) => tracing::warn!("empty store: live bootstrap failed: {e:#}"),
    }
    tracing::warn!(
        "empty store, no {} and no live data: storing the SYNTHETIC demo market (source `{SYNTHETIC_SOURCE}`)",
        dir.display()
    );
    store_synthetic(store, &SynthConfig::default()).await?;
    Ok(FirstStart::Synthetic)
}

/// How long the first start waits for Hyperliquid before falling back to the synthetic market.
const LIVE_BOOTSTRAP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Fills an empty store from Hyperliquid's public API (no key) with the same fetcher as
/// `lockstep fetch --source hyperliquid` (`LOCKSTEP_HYPERLIQUID_URL` overrides the address).
/// Returns the source name when daily bars were stored, `None` when Hyperliquid gave none or
/// live bootstrapping is disabled (`LOCKSTEP_OFFLINE` set).
///
/// # Errors
/// Hyperliquid failed or did not answer within a minute.
pub async fn live_bootstrap(store: &Store) -> anyhow::Result<Option<String>> {
    use super::fetch::{FetchConfig, Fetcher};
    use crate::market_data::{coinalyze, coinmarketcap, hyperliquid};
    if std::env::var_os("LOCKSTEP_OFFLINE").is_some() {
        tracing::info!("LOCKSTEP_OFFLINE is set: not asking Hyperliquid");
        return Ok(None);
    }
    let config = FetchConfig {
        symbols: Vec::new(),
        history_days: 365,
        funding_history_days: 30,
        hyperliquid: hyperliquid::HyperliquidConfig {
            base_url: std::env::var("LOCKSTEP_HYPERLIQUID_URL")
                .unwrap_or_else(|_| hyperliquid::MAINNET.to_string()),
            ..Default::default()
        },
        coinmarketcap: coinmarketcap::CoinMarketCapConfig::default(),
        coinalyze: coinalyze::CoinalyzeConfig::default(),
        cmc_key: None,
        coinalyze_key: None,
    };
    tracing::info!("empty store: fetching from {}", config.hyperliquid.base_url);
    let fetcher = Fetcher::new(config);
    let today = crate::market_data::source::today_utc();
    let summaries = tokio::time::timeout(
        LIVE_BOOTSTRAP_TIMEOUT,
        fetcher.run(store, Some(hyperliquid::NAME), today),
    )
    .await
    .map_err(|_| anyhow::anyhow!("Hyperliquid did not finish within {LIVE_BOOTSTRAP_TIMEOUT:?}"))?
    .map_err(|e| anyhow::anyhow!(e))?;
    for s in &summaries {
        tracing::info!("{}: {:?}", s.source, s.status);
    }
    Ok((store.bar_summary().await?.bars > 0).then(|| hyperliquid::NAME.to_string()))
}

/// The panel as store rows: one bar per asset and day with any OHLCV value, and every finite
/// value of the other fields (funding and open interest on venue `synthetic`).
pub fn panel_records(panel: &Panel) -> Vec<Record> {
    let mut out = Vec::new();
    for (a, symbol) in panel.symbols().iter().enumerate() {
        for t in 0..panel.n_days() {
            let day = panel.day(t);
            let g = |f: Field| panel.get(f, a, t);
            let ohlcv = [
                g(Field::Open),
                g(Field::High),
                g(Field::Low),
                g(Field::Close),
                g(Field::Volume),
            ];
            if ohlcv.iter().any(|v| !v.is_nan()) {
                out.push(Record::Bar {
                    symbol: symbol.clone(),
                    day,
                    open: ohlcv[0],
                    high: ohlcv[1],
                    low: ohlcv[2],
                    close: ohlcv[3],
                    volume: ohlcv[4],
                });
            }
            if !g(Field::MarketCap).is_nan() {
                out.push(Record::MarketCap {
                    symbol: symbol.clone(),
                    day,
                    usd: g(Field::MarketCap),
                });
            }
            if !g(Field::CirculatingSupply).is_nan() {
                out.push(Record::Supply {
                    symbol: symbol.clone(),
                    day,
                    circulating: g(Field::CirculatingSupply),
                    market_cap: g(Field::MarketCap),
                });
            }
            if !g(Field::FundingRate).is_nan() {
                out.push(Record::Funding {
                    symbol: symbol.clone(),
                    venue: SYNTHETIC_SOURCE.into(),
                    day,
                    daily_rate: g(Field::FundingRate),
                });
            }
            if !g(Field::OpenInterest).is_nan() {
                out.push(Record::OpenInterest {
                    symbol: symbol.clone(),
                    venue: SYNTHETIC_SOURCE.into(),
                    day,
                    usd: g(Field::OpenInterest),
                });
            }
        }
    }
    out
}

/// Generates the synthetic market of `cfg` and stores it with source `synthetic`.
pub async fn store_synthetic(store: &Store, cfg: &SynthConfig) -> anyhow::Result<()> {
    let panel = synth::generate(cfg).context("generating the synthetic market")?;
    store
        .register_source(
            SYNTHETIC_SOURCE,
            SourceKind::Synthetic,
            &format!(
                "SYNTHETIC demo market (shared::synth, seed {}, {} assets, {} days): not market data",
                cfg.seed, cfg.n_assets, cfg.n_days
            ),
        )
        .await?;
    let records = panel_records(&panel);
    let run = store
        .start_run(SYNTHETIC_SOURCE, Some(&format!("seed {}", cfg.seed)))
        .await?;
    let counts = store.upsert(SYNTHETIC_SOURCE, &records).await?;
    store
        .finish_run(
            run,
            &crate::store::market::RunOutcome::ok(records.len() as u64, counts),
        )
        .await?;
    Ok(())
}
