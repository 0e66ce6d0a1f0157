//! Market data in the store: writes (idempotent, revision-counting upserts), long-row reads,
//! data sources, symbol aliases and fetch runs.
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
//!
//! [`Store::upsert`] keys rows by `(symbol, day)` (bars, market caps, supply) or
//! `(symbol, venue, day)` (funding, open interest). Writing a row that is already stored with
//! the same values changes nothing and counts as `unchanged`; a different value overwrites it,
//! counts as `updated`, increments the row's `revisions` and sets `revised_at` (the consistency
//! report reads them). Within one call, a later row with the same key wins. Every call that
//! changed something bumps the store's data version, which the panel cache and `/api/panel`'s
//! ETag key on.
//!
//! # Revision history
//!
//! Counting revisions says *that* data changed; the consistency report must also say from what
//! to what, and rebuild the panel a live plan saw. So every upsert also keeps history, inside
//! the same transaction: a new row records the data version that inserted it
//! (`first_version`), and a row that changes has its previous values copied into
//! `market_revisions` under the version that changed it (`migrations/0030`). The copy costs no
//! extra read: the upsert's UPDATE moves the old values into the row's `prev_*` columns and its
//! RETURNING hands them back, for the changed rows only (inserted and unchanged rows return
//! nothing extra). [`Store::revisions_after`] reads the log back, and
//! [`Store::build_panel_as_of`] undoes it.

use super::{Backend, Store, StoreError};
use shared::Day;
use sqlx::Row;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

pub use super::layout::Record;

/// The source name of generated demo data.
pub const SYNTHETIC_SOURCE: &str = "synthetic";

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const BATCH_ROWS: usize = 2000;

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
}

impl UpsertCounts {
    pub fn add(&mut self, other: UpsertCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }

    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }
}

/// What kind of source a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Files imported with `lockstep import`.
    Import,
    /// A live venue or vendor API.
    Live,
    /// Generated demo data: shown as synthetic everywhere.
    Synthetic,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Import => "import",
            SourceKind::Live => "live",
            SourceKind::Synthetic => "synthetic",
        }
    }
}

/// A registered data source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    pub name: String,
    pub kind: String,
    pub synthetic: bool,
    pub description: String,
}

/// A spelling a source uses for an asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub alias: String,
    /// The bare base the alias stands for.
    pub symbol: String,
    pub venue: Option<String>,
}

/// How a fetch or import run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// `ok`, `partial` (some rows rejected) or `error`.
    pub status: &'static str,
    pub rows_read: u64,
    pub counts: UpsertCounts,
    pub rejected: u64,
    pub error: Option<String>,
}

impl RunOutcome {
    /// Everything read was written (or was already stored).
    pub fn ok(rows_read: u64, counts: UpsertCounts) -> RunOutcome {
        RunOutcome {
            status: "ok",
            rows_read,
            counts,
            rejected: 0,
            error: None,
        }
    }

    /// Good rows written, `rejected` rows refused (`partial` when any were).
    pub fn with_rejected(rows_read: u64, counts: UpsertCounts, rejected: u64) -> RunOutcome {
        RunOutcome {
            status: if rejected > 0 { "partial" } else { "ok" },
            rows_read,
            counts,
            rejected,
            error: None,
        }
    }

    /// The run failed; `counts` is what was written before it did.
    pub fn error(rows_read: u64, counts: UpsertCounts, message: impl Into<String>) -> RunOutcome {
        RunOutcome {
            status: "error",
            rows_read,
            counts,
            rejected: 0,
            error: Some(message.into()),
        }
    }
}

/// A stored fetch or import run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    pub id: i64,
    pub source: String,
    pub target: Option<String>,
    /// Unix milliseconds.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub status: String,
    pub rows_read: u64,
    pub counts: UpsertCounts,
    pub rejected: u64,
    pub error: Option<String>,
}

/// One stored value of a single-valued series (or one column of a multi-valued one), long form.
#[derive(Clone, Debug, PartialEq)]
pub struct LongRow {
    pub symbol: String,
    /// Empty for series without a venue.
    pub venue: String,
    pub day: Day,
    pub value: f64,
    pub source: String,
    pub revisions: u64,
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

/// NaN → NULL; -0.0 → 0.0, because SQLite stores integral reals as integers and so loses the
/// sign of zero: canonicalising on the way in makes both engines hand back the same bits.
fn opt(v: f64) -> Option<f64> {
    if v.is_nan() {
        None
    } else if v == 0.0 {
        Some(0.0)
    } else {
        Some(v)
    }
}

/// A row flattened for binding: key, venue ("" when none) and values.
struct Flat<'a> {
    symbol: &'a str,
    venue: &'a str,
    day: i64,
    values: [Option<f64>; 5],
}

fn flatten(rec: &Record) -> Flat<'_> {
    match rec {
        Record::Bar {
            symbol,
            day,
            open,
            high,
            low,
            close,
            volume,
        } => Flat {
            symbol,
            venue: "",
            day: day.0 as i64,
            values: [opt(*open), opt(*high), opt(*low), opt(*close), opt(*volume)],
        },
        Record::MarketCap { symbol, day, usd } => Flat {
            symbol,
            venue: "",
            day: day.0 as i64,
            values: [opt(*usd), None, None, None, None],
        },
        Record::Supply {
            symbol,
            day,
            circulating,
            market_cap,
        } => Flat {
            symbol,
            venue: "",
            day: day.0 as i64,
            values: [opt(*circulating), opt(*market_cap), None, None, None],
        },
        Record::Funding {
            symbol,
            venue,
            day,
            daily_rate,
        } => Flat {
            symbol,
            venue,
            day: day.0 as i64,
            values: [opt(*daily_rate), None, None, None, None],
        },
        Record::OpenInterest {
            symbol,
            venue,
            day,
            usd,
        } => Flat {
            symbol,
            venue,
            day: day.0 as i64,
            values: [opt(*usd), None, None, None, None],
        },
    }
}

/// The `i`-th (1-based) bind placeholder. SQLite gets plain `?`: it resolves each named or
/// numbered placeholder with a linear search, which made a 16,000-parameter statement take a
/// second; PostgreSQL needs `$N`.
fn placeholder(backend: Backend, i: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_string(),
        Backend::Postgres => format!("${i}"),
    }
}

/// The multi-row upsert statement for `rows` rows of `series`.
fn upsert_sql(backend: Backend, series: Series, rows: usize, now: i64, version: i64) -> String {
    let table = series.table();
    let values = series.value_columns();
    let mut key_cols = vec!["symbol"];
    if series.has_venue() {
        key_cols.push("venue");
    }
    key_cols.push("day");
    let per_row = key_cols.len() + values.len() + 1; // + source
    let mut sql = format!(
        "INSERT INTO {table} ({}, {}, source, updated_at, revisions, first_version) VALUES ",
        key_cols.join(", "),
        values.join(", ")
    );
    let mut p = 1;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for _ in 0..per_row {
            sql.push_str(&placeholder(backend, p));
            sql.push(',');
            p += 1;
        }
        sql.push_str(&format!("{now}, 0, {version})"));
    }
    // The previous values go to the prev_* columns in the same SET: right-hand sides see the
    // row as it was (on both engines), and RETURNING then hands them back for the revision log
    // without a second read.
    let set: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, c)| format!("prev_v{} = {table}.{c}, {c} = excluded.{c}", i + 1))
        .collect();
    let changed: Vec<String> = values
        .iter()
        .map(|c| format!("{table}.{c} IS DISTINCT FROM excluded.{c}"))
        .collect();
    let prev: Vec<String> = (1..=values.len()).map(|i| format!("prev_v{i}")).collect();
    let venue = if series.has_venue() {
        "CASE WHEN revisions > 0 THEN venue END"
    } else {
        "''"
    };
    sql.push_str(&format!(
        " ON CONFLICT ({}) DO UPDATE SET {}, prev_source = {table}.source, source = excluded.source, \
         updated_at = excluded.updated_at, revisions = {table}.revisions + 1, revised_at = excluded.updated_at \
         WHERE {} RETURNING revisions, CASE WHEN revisions > 0 THEN symbol END, {venue}, day, first_version, \
         {}, prev_source",
        key_cols.join(", "),
        set.join(", "),
        changed.join(" OR "),
        prev.join(", ")
    ));
    sql
}

/// A revised row as the upsert's RETURNING reports it: key, first version, previous values and
/// previous source.
struct Revised {
    symbol: String,
    venue: String,
    day: i64,
    first_version: Option<i64>,
    values: [Option<f64>; 5],
    source: String,
}

/// Writes the previous values of `rows` (revised by the write that made data version
/// `version`) into `market_revisions`.
async fn log_revisions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    series: Series,
    rows: &[Revised],
    version: i64,
) -> Result<(), StoreError> {
    const COLS: usize = 12;
    for part in rows.chunks(BATCH_ROWS) {
        let mut sql = String::from(
            "INSERT INTO market_revisions (series, symbol, venue, day, data_version, \
             row_first_version, v1, v2, v3, v4, v5, source) VALUES ",
        );
        for r in 0..part.len() {
            if r > 0 {
                sql.push(',');
            }
            let cells: Vec<String> = (1..=COLS)
                .map(|c| placeholder(backend, r * COLS + c))
                .collect();
            sql.push_str(&format!("({})", cells.join(", ")));
        }
        let mut q = sqlx::query(&sql);
        for r in part {
            q = q
                .bind(series.table().to_string())
                .bind(r.symbol.clone())
                .bind(r.venue.clone())
                .bind(r.day)
                .bind(version)
                .bind(r.first_version);
            for v in r.values {
                q = q.bind(v);
            }
            q = q.bind(r.source.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Writes `records` (any mix of series) from `source` in one transaction. See the module
    /// docs for the semantics.
    ///
    /// # Errors
    /// A database error; nothing of this call is written then.
    pub async fn upsert(
        &self,
        source: &str,
        records: &[Record],
    ) -> Result<UpsertCounts, StoreError> {
        // A day before 1970 or after 2199 is garbage (a negative or far-future timestamp), and
        // one such row would make every later panel span centuries: refuse the batch, naming
        // the row. (Dates parsed from text — CSV, API, links — are held to 1990..2199 by
        // `Day::parse`; the store's floor is 1970 because synthetic test fixtures live there.)
        if let Some(f) = records.iter().map(flatten).find(|f| {
            !i32::try_from(f.day)
                .is_ok_and(|d| (shared::Day(0)..=shared::Day::MAX).contains(&shared::Day(d)))
        }) {
            return Err(StoreError::Rejected(format!(
                "{source}: a row for {} is dated day {} (days since 1970-01-01), outside 1970-01-01..={}; nothing was written",
                f.symbol,
                f.day,
                shared::Day::MAX
            )));
        }
        // Group by series, keeping the last row per key (a multi-row upsert may not touch a
        // row twice on PostgreSQL).
        let mut groups: HashMap<Series, Vec<&Record>> = HashMap::new();
        let mut index: HashMap<(Series, &str, &str, i64), usize> = HashMap::new();
        let mut duplicates = 0u64;
        for rec in records {
            let series = Series::of(rec);
            let f = flatten(rec);
            let group = groups.entry(series).or_default();
            match index.entry((series, f.symbol, f.venue, f.day)) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    group[*e.get()] = rec;
                    duplicates += 1;
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(group.len());
                    group.push(rec);
                }
            }
        }
        let now = now_secs();
        let mut counts = UpsertCounts::default();
        let mut tx = self.pool().begin().await?;
        // Bump first: the new version tags the rows this call inserts and the revisions it logs,
        // and taking the store_meta row first serialises concurrent writers on both engines.
        // A call that changes nothing is rolled back, so the version moves only with the data.
        let version = bump_version(&mut tx).await?;
        for series in Series::ALL {
            let Some(rows) = groups.get(&series) else {
                continue;
            };
            for chunk in rows.chunks(BATCH_ROWS) {
                let sql = upsert_sql(self.backend(), series, chunk.len(), now, version);
                let mut q = sqlx::query(&sql);
                for rec in chunk {
                    let f = flatten(rec);
                    q = q.bind(f.symbol.to_string());
                    if series.has_venue() {
                        q = q.bind(f.venue.to_string());
                    }
                    q = q.bind(f.day);
                    for v in &f.values[..series.value_columns().len()] {
                        q = q.bind(*v);
                    }
                    q = q.bind(source.to_string());
                }
                let started = std::time::Instant::now();
                let returned = q.fetch_all(&mut *tx).await?;
                super::warn_if_slow(
                    || format!("upsert of {} rows into {}", chunk.len(), series.table()),
                    started,
                );
                let mut inserted = 0u64;
                let mut revised = Vec::new();
                let n_values = series.value_columns().len();
                for row in &returned {
                    let revisions: i64 = row.try_get(0)?;
                    if revisions == 0 {
                        inserted += 1;
                        continue;
                    }
                    let mut values = [None; 5];
                    for (i, v) in values.iter_mut().enumerate().take(n_values) {
                        *v = row.try_get::<Option<f64>, _>(5 + i)?;
                    }
                    revised.push(Revised {
                        symbol: row.try_get(1)?,
                        venue: row.try_get(2)?,
                        day: row.try_get(3)?,
                        first_version: row.try_get(4)?,
                        values,
                        source: row.try_get(5 + n_values)?,
                    });
                }
                let updated = revised.len() as u64;
                log_revisions(&mut tx, self.backend(), series, &revised, version).await?;
                counts.add(UpsertCounts {
                    inserted,
                    updated,
                    unchanged: chunk.len() as u64 - inserted - updated,
                });
            }
        }
        // Rows repeated within this call were written once; they count as unchanged repeats.
        counts.unchanged += duplicates;
        if counts.inserted + counts.updated == 0 {
            tx.rollback().await?;
            return Ok(counts);
        }
        {
            let mut symbols: Vec<&str> = groups
                .values()
                .flatten()
                .map(|r| flatten(r).symbol)
                .collect();
            symbols.sort_unstable();
            symbols.dedup();
            insert_assets(&mut tx, self.backend(), &symbols, now).await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// The store's data version: changes whenever market data changed.
    pub async fn data_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT value FROM store_meta WHERE name = 'data_version'")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Registers (or refreshes) a source name. Synthetic sources are flagged as such.
    pub async fn register_source(
        &self,
        name: &str,
        kind: SourceKind,
        description: &str,
    ) -> Result<(), StoreError> {
        let now = now_secs();
        sqlx::query(
            "INSERT INTO data_sources (name, kind, synthetic, description, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, \
             synthetic = excluded.synthetic, description = excluded.description, last_seen = excluded.last_seen",
        )
        .bind(name.to_string())
        .bind(kind.name().to_string())
        .bind(i64::from(kind == SourceKind::Synthetic))
        .bind(description.to_string())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Registered sources, by name.
    pub async fn sources(&self) -> Result<Vec<SourceInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, kind, synthetic, description FROM data_sources ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SourceInfo {
                    name: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    synthetic: r.try_get::<i64, _>(2)? != 0,
                    description: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// The sources that hold at least one stored value, by name.
    pub async fn sources_in_use(&self) -> Result<Vec<String>, StoreError> {
        let sql = Series::ALL
            .iter()
            .map(|s| format!("SELECT DISTINCT source FROM {}", s.table()))
            .collect::<Vec<_>>()
            .join(" UNION ");
        let rows = sqlx::query(&format!("SELECT source FROM ({sql}) s ORDER BY source"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Whether any stored value comes from a synthetic source (registered as such, or named
    /// `synthetic`).
    pub async fn synthetic_in_use(&self) -> Result<bool, StoreError> {
        let in_use = self.sources_in_use().await?;
        let synthetic: Vec<String> = self
            .sources()
            .await?
            .into_iter()
            .filter(|s| s.synthetic)
            .map(|s| s.name)
            .collect();
        Ok(in_use
            .iter()
            .any(|s| s == SYNTHETIC_SOURCE || synthetic.contains(s)))
    }

    /// Records the spellings `source` uses for assets.
    pub async fn upsert_aliases(&self, source: &str, aliases: &[Alias]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for a in aliases {
            sqlx::query(
                "INSERT INTO symbol_aliases (source, alias, symbol, venue) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (source, alias) DO UPDATE SET symbol = excluded.symbol, venue = excluded.venue",
            )
            .bind(source.to_string())
            .bind(a.alias.clone())
            .bind(a.symbol.clone())
            .bind(a.venue.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The bare symbol `raw` stands for at `source`: a stored alias first, then `infer` (the
    /// caller's spelling rules, `market_data::symbols::base_of`: the store does not import the
    /// importers, they import it). `None` when neither knows.
    pub async fn resolve_symbol(
        &self,
        source: &str,
        raw: &str,
        infer: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT symbol FROM symbol_aliases WHERE source = $1 AND alias = $2")
            .bind(source.to_string())
            .bind(raw.trim().to_string())
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => Ok(Some(r.try_get(0)?)),
            None => Ok(infer(raw)),
        }
    }

    /// All aliases of `source`.
    pub async fn aliases(&self, source: &str) -> Result<Vec<Alias>, StoreError> {
        let rows = sqlx::query(
            "SELECT alias, symbol, venue FROM symbol_aliases WHERE source = $1 ORDER BY alias",
        )
        .bind(source.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Alias {
                    alias: r.try_get(0)?,
                    symbol: r.try_get(1)?,
                    venue: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Starts a run of `source` (an import of a file, a fetch of a venue); returns its id.
    pub async fn start_run(&self, source: &str, target: Option<&str>) -> Result<i64, StoreError> {
        static SEQ: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let started = now_millis();
        // Unique without a sequence object: milliseconds × 1000 + a per-process counter, retried
        // on the rare collision with another process.
        for attempt in 0..16 {
            let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let id = started * 1000 + (seq + attempt * 37) % 1000;
            let res = sqlx::query(
                "INSERT INTO fetch_runs (id, source, target, started_at, status) VALUES ($1, $2, $3, $4, 'running') \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(source.to_string())
            .bind(target.map(str::to_string))
            .bind(started)
            .execute(self.pool())
            .await?;
            if res.rows_affected() == 1 {
                return Ok(id);
            }
        }
        Err(StoreError::Sqlx(sqlx::Error::Protocol(
            "could not allocate a fetch run id".into(),
        )))
    }

    /// Records how run `id` ended.
    pub async fn finish_run(&self, id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE fetch_runs SET finished_at = $1, status = $2, rows_read = $3, inserted = $4, \
             updated = $5, unchanged = $6, rejected = $7, error = $8 WHERE id = $9",
        )
        .bind(now_millis())
        .bind(outcome.status.to_string())
        .bind(outcome.rows_read as i64)
        .bind(outcome.counts.inserted as i64)
        .bind(outcome.counts.updated as i64)
        .bind(outcome.counts.unchanged as i64)
        .bind(outcome.rejected as i64)
        .bind(outcome.error.clone())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The latest `limit` runs, newest first, optionally of one source.
    pub async fn runs(&self, source: Option<&str>, limit: u32) -> Result<Vec<RunInfo>, StoreError> {
        let sql = format!(
            "SELECT id, source, target, started_at, finished_at, status, rows_read, inserted, updated, \
             unchanged, rejected, error FROM fetch_runs {} ORDER BY started_at DESC, id DESC LIMIT {limit}",
            if source.is_some() { "WHERE source = $1" } else { "" }
        );
        let mut q = sqlx::query(&sql);
        if let Some(s) = source {
            q = q.bind(s.to_string());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let n =
                    |i: usize| -> Result<u64, sqlx::Error> { Ok(r.try_get::<i64, _>(i)? as u64) };
                Ok(RunInfo {
                    id: r.try_get(0)?,
                    source: r.try_get(1)?,
                    target: r.try_get(2)?,
                    started_at: r.try_get(3)?,
                    finished_at: r.try_get(4)?,
                    status: r.try_get(5)?,
                    rows_read: n(6)?,
                    counts: UpsertCounts {
                        inserted: n(7)?,
                        updated: n(8)?,
                        unchanged: n(9)?,
                    },
                    rejected: n(10)?,
                    error: r.try_get(11)?,
                })
            })
            .collect()
    }

    /// The last stored day of each `(symbol, venue)` series (venue "" for series without one),
    /// optionally only rows written by `source`: where an incremental refresh starts.
    pub async fn last_days(
        &self,
        series: Series,
        source: Option<&str>,
    ) -> Result<HashMap<(String, String), Day>, StoreError> {
        let venue = if series.has_venue() { "venue" } else { "''" };
        let sql =
            format!(
            "SELECT symbol, {venue} AS venue, MAX(day) AS last_day FROM {} {} GROUP BY symbol{}",
            series.table(),
            if source.is_some() { "WHERE source = $1" } else { "" },
            if series.has_venue() { ", venue" } else { "" }
        );
        let mut q = sqlx::query(&sql);
        if let Some(s) = source {
            q = q.bind(s.to_string());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let day: i64 = r.try_get(2)?;
                Ok(((r.try_get(0)?, r.try_get(1)?), Day(day as i32)))
            })
            .collect()
    }

    /// Every stored value of one column of `series` in long form, ordered by symbol, venue, day.
    /// `column` must be one of the series' value columns (`close`, `usd`, `daily_rate`...).
    ///
    /// # Panics
    /// On a column the series does not have (a programming error, not input).
    pub async fn long_rows(
        &self,
        series: Series,
        column: &str,
    ) -> Result<Vec<LongRow>, StoreError> {
        assert!(
            series.value_columns().contains(&column),
            "{column} is not a column of {}",
            series.table()
        );
        let venue = if series.has_venue() { "venue" } else { "''" };
        let sql = format!(
            "SELECT symbol, {venue} AS venue, day, {column}, source, revisions FROM {} \
             WHERE {column} IS NOT NULL ORDER BY symbol, venue, day",
            series.table()
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(LongRow {
                    symbol: r.try_get(0)?,
                    venue: r.try_get(1)?,
                    day: Day(r.try_get::<i64, _>(2)? as i32),
                    value: r.try_get(3)?,
                    source: r.try_get(4)?,
                    revisions: r.try_get::<i64, _>(5)? as u64,
                })
            })
            .collect()
    }

    /// Every stored row of `series` as [`Record`]s (NULL values read back as NaN), ordered by
    /// symbol, venue, day.
    pub async fn records(&self, series: Series) -> Result<Vec<Record>, StoreError> {
        self.records_present_at(series, None).await
    }

    /// As [`Store::records`], only the rows already stored at data version `version` (when
    /// given), with today's values.
    pub(crate) async fn records_present_at(
        &self,
        series: Series,
        version: Option<i64>,
    ) -> Result<Vec<Record>, StoreError> {
        let venue = if series.has_venue() { "venue" } else { "''" };
        let cols = series.value_columns().join(", ");
        let filter = match version {
            Some(v) => format!(" WHERE first_version IS NULL OR first_version <= {v}"),
            None => String::new(),
        };
        let sql = format!(
            "SELECT symbol, {venue} AS venue, day, {cols} FROM {}{filter} ORDER BY symbol, venue, day",
            series.table()
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| -> Result<Record, StoreError> {
                let symbol: String = r.try_get(0)?;
                let venue: String = r.try_get(1)?;
                let day = Day(r.try_get::<i64, _>(2)? as i32);
                let v = |i: usize| -> Result<f64, sqlx::Error> {
                    Ok(r.try_get::<Option<f64>, _>(3 + i)?.unwrap_or(f64::NAN))
                };
                Ok(match series {
                    Series::Bars => Record::Bar {
                        symbol,
                        day,
                        open: v(0)?,
                        high: v(1)?,
                        low: v(2)?,
                        close: v(3)?,
                        volume: v(4)?,
                    },
                    Series::MarketCap => Record::MarketCap {
                        symbol,
                        day,
                        usd: v(0)?,
                    },
                    Series::Supply => Record::Supply {
                        symbol,
                        day,
                        circulating: v(0)?,
                        market_cap: v(1)?,
                    },
                    Series::Funding => Record::Funding {
                        symbol,
                        venue,
                        day,
                        daily_rate: v(0)?,
                    },
                    Series::OpenInterest => Record::OpenInterest {
                        symbol,
                        venue,
                        day,
                        usd: v(0)?,
                    },
                })
            })
            .collect()
    }

    /// Total revisions (value changes after the first write) per series.
    pub async fn revision_counts(&self) -> Result<Vec<(Series, u64)>, StoreError> {
        let mut out = Vec::new();
        for s in Series::ALL {
            let row = sqlx::query(&format!(
                "SELECT CAST(COALESCE(SUM(revisions), 0) AS BIGINT) FROM {}",
                s.table()
            ))
            .fetch_one(self.pool())
            .await?;
            // SUM of BIGINT is NUMERIC on PostgreSQL: the CAST keeps it an i64 on both engines.
            let n: i64 = row.try_get(0)?;
            out.push((s, n as u64));
        }
        Ok(out)
    }
}

/// A stored value that changed (or appeared) after some data version: what the consistency
/// report lists under a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueRevision {
    pub series: Series,
    pub symbol: String,
    /// Empty for series without a venue.
    pub venue: String,
    pub day: Day,
    /// The panel field the column feeds (`close`, `market_cap`, `funding_rate`...).
    pub field: &'static str,
    /// The value at the version asked about; `None`: missing then (the row came later, or held
    /// NULL).
    pub before: Option<f64>,
    /// The value stored now; `None`: NULL now.
    pub after: Option<f64>,
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

impl Store {
    /// Every panel value on days `from..=to` that differs now from what the store held at data
    /// `version`: revised values (before = the value at `version`) and rows inserted after it
    /// (before = `None`), ordered by symbol, day, field. Rows written before revision history
    /// was kept (migration 0030) count as present at every version.
    pub async fn revisions_after(
        &self,
        version: i64,
        from: Day,
        to: Day,
    ) -> Result<Vec<ValueRevision>, StoreError> {
        let mut out = Vec::new();
        let (lo, hi) = (from.0 as i64, to.0 as i64);
        for series in Series::ALL {
            let table = series.table();
            let cols = series.value_columns();
            let n = cols.len();
            let fields = series.panel_fields();
            let venue_join = if series.has_venue() {
                " AND t.venue = r.venue"
            } else {
                ""
            };
            let current: Vec<String> = cols.iter().map(|c| format!("t.{c}")).collect();
            // The earliest change after `version` holds the values as of `version`.
            let sql = format!(
                "SELECT r.symbol, r.venue, r.day, r.v1, r.v2, r.v3, r.v4, r.v5, {} \
                 FROM market_revisions r JOIN {table} t ON t.symbol = r.symbol AND t.day = r.day{venue_join} \
                 WHERE r.series = $1 AND r.data_version > $2 AND r.day >= $3 AND r.day <= $4 \
                 AND (r.row_first_version IS NULL OR r.row_first_version <= $2) \
                 ORDER BY r.symbol, r.venue, r.day, r.data_version",
                current.join(", ")
            );
            let rows = sqlx::query(&sql)
                .bind(table.to_string())
                .bind(version)
                .bind(lo)
                .bind(hi)
                .fetch_all(self.pool())
                .await?;
            let mut last_key: Option<(String, String, i64)> = None;
            for r in &rows {
                let key: (String, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                if last_key.as_ref() == Some(&key) {
                    continue;
                }
                for (i, field) in fields.iter().enumerate().take(n) {
                    let Some(field) = field else { continue };
                    let before: Option<f64> = r.try_get(3 + i)?;
                    let after: Option<f64> = r.try_get(8 + i)?;
                    if before != after {
                        out.push(ValueRevision {
                            series,
                            symbol: key.0.clone(),
                            venue: key.1.clone(),
                            day: Day(key.2 as i32),
                            field,
                            before,
                            after,
                        });
                    }
                }
                last_key = Some(key);
            }
            let venue = if series.has_venue() { "venue" } else { "''" };
            let sql = format!(
                "SELECT symbol, {venue} AS venue, day, {} FROM {table} \
                 WHERE first_version > $1 AND day >= $2 AND day <= $3",
                cols.join(", ")
            );
            let rows = sqlx::query(&sql)
                .bind(version)
                .bind(lo)
                .bind(hi)
                .fetch_all(self.pool())
                .await?;
            for r in &rows {
                for (i, field) in fields.iter().enumerate().take(n) {
                    let Some(field) = field else { continue };
                    let after: Option<f64> = r.try_get(3 + i)?;
                    if after.is_some() {
                        out.push(ValueRevision {
                            series,
                            symbol: r.try_get(0)?,
                            venue: r.try_get(1)?,
                            day: Day(r.try_get::<i64, _>(2)? as i32),
                            field,
                            before: None,
                            after,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.symbol, a.day, a.field, &a.venue).cmp(&(&b.symbol, b.day, b.field, &b.venue))
        });
        Ok(out)
    }
}

/// Increments the data version inside `tx` and returns the new value.
pub(super) async fn bump_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "UPDATE store_meta SET value = value + 1 WHERE name = 'data_version' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

async fn insert_assets(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    symbols: &[&str],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in symbols.chunks(BATCH_ROWS) {
        let mut sql = String::from("INSERT INTO assets (symbol, first_seen) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("({}, {now})", placeholder(backend, i + 1)));
        }
        sql.push_str(" ON CONFLICT (symbol) DO NOTHING");
        let mut q = sqlx::query(&sql);
        for s in chunk {
            q = q.bind(s.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
