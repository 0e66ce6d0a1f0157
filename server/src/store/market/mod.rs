//! Market data in the store, one file per job:
//!
//! - [`writes`]: idempotent, revision-counting batched upserts ([`Store::upsert`]), the data
//!   version, and the revision log they keep in the same transaction;
//! - [`reads`]: long-row reads ([`Store::long_rows`], [`Store::records`], [`Store::last_days`]);
//! - [`revisions`]: what changed after a data version ([`Store::revisions_after`]);
//! - [`sources`]: the registry of data sources and the symbol aliases each one uses;
//! - [`runs`]: fetch and import runs, and how each one ended.
//!
//! The types every part shares ([`Series`], [`UpsertCounts`], [`Record`]) live here, and every
//! public item is re-exported, so callers keep naming `store::market::…`.
//!
//! # Write API (for importers and the venue clients)
//!
//! All rows use Lockstep's units and bare symbols ([`Record`], the same type the CSV reader
//! produces): prices in USD, volume in base units, market cap and open interest in USD, funding
//! as a **daily fraction** with its venue. `NaN` means missing and is stored as NULL; `-0.0` is
//! stored as `0.0` (SQLite cannot keep the sign of zero, so neither engine does).
//!
//! ```ignore
//! let source = "hyperliquid";
//! store.register_source(source, SourceKind::Live, "Hyperliquid info API").await?;
//! let run = store.start_run(source, Some("candles BTC")).await?;
//! let counts = store.upsert(source, &records).await?;          // one transaction
//! store.finish_run(run, &RunOutcome::ok(rows_read, counts)).await?;
//! // or, on failure: store.finish_run(run, &RunOutcome::error(rows_read, counts, msg)).await?;
//! // incremental refresh: the last stored day per (symbol, venue) of one series
//! let last = store.last_days(Series::Funding, Some(source)).await?;
//! // aliases a venue uses that `symbols::base_of` cannot infer (e.g. `kPEPE` → `PEPE`)
//! store.upsert_aliases(source, &[Alias { alias: "kPEPE".into(), symbol: "PEPE".into(), venue: None }]).await?;
//! let sym = store.resolve_symbol(source, "kPEPE", base_of).await?; // alias table, else base_of
//! ```

pub mod reads;
pub mod revisions;
pub mod runs;
pub mod sources;
pub mod writes;

pub use reads::LongRow;
pub use revisions::ValueRevision;
pub use runs::{RunInfo, RunOutcome};
pub use sources::{Alias, SourceInfo, SourceKind, SYNTHETIC_SOURCE};
pub(in crate::store) use writes::bump_version;

use std::time::{SystemTime, UNIX_EPOCH};

pub use super::layout::Record;

/// The stored series, one table each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Series {
    Bars,
    MarketCap,
    Supply,
    Funding,
    OpenInterest,
}

impl Series {
    pub const ALL: [Series; 5] = [
        Series::Bars,
        Series::MarketCap,
        Series::Supply,
        Series::Funding,
        Series::OpenInterest,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Series::Bars => "daily_bars",
            Series::MarketCap => "market_caps",
            Series::Supply => "supply_snapshots",
            Series::Funding => "funding",
            Series::OpenInterest => "open_interest",
        }
    }

    /// Whether rows are keyed by venue as well.
    pub fn has_venue(self) -> bool {
        matches!(self, Series::Funding | Series::OpenInterest)
    }

    pub fn value_columns(self) -> &'static [&'static str] {
        match self {
            Series::Bars => &["open", "high", "low", "close", "volume"],
            Series::MarketCap | Series::OpenInterest => &["usd"],
            Series::Supply => &["circulating", "market_cap"],
            Series::Funding => &["daily_rate"],
        }
    }

    pub fn of(record: &Record) -> Series {
        match record {
            Record::Bar { .. } => Series::Bars,
            Record::MarketCap { .. } => Series::MarketCap,
            Record::Supply { .. } => Series::Supply,
            Record::Funding { .. } => Series::Funding,
            Record::OpenInterest { .. } => Series::OpenInterest,
        }
    }
}

/// What an upsert did, row by row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    /// New keys.
    pub inserted: u64,
    /// Existing keys whose values changed (each one is a revision).
    pub updated: u64,
    /// Existing keys written again with identical values.
    pub unchanged: u64,
    /// Of `updated`: bars of another source this write replaced (each kept in
    /// `bar_alternates`, see [`writes`]).
    pub replaced: u64,
    /// Bars of this write not used because a preferred source holds the day: kept in
    /// `bar_alternates`, not counted in `inserted`/`updated`/`unchanged`.
    pub set_aside: u64,
}

impl UpsertCounts {
    pub fn add(&mut self, other: UpsertCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.replaced += other.replaced;
        self.set_aside += other.set_aside;
    }

    /// Every row handled once: written, unchanged or set aside.
    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.unchanged + self.set_aside
    }
}

impl Series {
    /// The panel field each value column feeds, `None` for a column the panel does not read
    /// (the market cap a supply snapshot reported).
    pub fn panel_fields(self) -> &'static [Option<&'static str>] {
        match self {
            Series::Bars => &[
                Some("open"),
                Some("high"),
                Some("low"),
                Some("close"),
                Some("volume"),
            ],
            Series::MarketCap => &[Some("market_cap")],
            Series::Supply => &[Some("circulating_supply"), None],
            Series::Funding => &[Some("funding_rate")],
            Series::OpenInterest => &[Some("open_interest")],
        }
    }
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
