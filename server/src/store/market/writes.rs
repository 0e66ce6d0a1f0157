//! Writes: idempotent, revision-counting batched upserts, the data version, and the revision
//! log kept in the same transaction.
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

use super::{now_secs, Record, Series, UpsertCounts};
use crate::store::{Backend, Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const BATCH_ROWS: usize = 2000;

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
        // Bars whose day another source holds: the preference decides which one stays, and
        // the other is kept in `bar_alternates` (never dropped, never silently overwritten).
        let mut alternates_changed = false;
        if let Some(bars) = groups.remove(&Series::Bars) {
            let resolved =
                resolve_bar_sources(&mut tx, self.backend(), source, bars, now, version).await?;
            counts.replaced = resolved.replaced;
            counts.set_aside = resolved.set_aside;
            alternates_changed = resolved.changed;
            if resolved.replaced + resolved.set_aside > 0 {
                tracing::warn!(
                    "{source}: {} bar(s) replaced another source's bar for the same day, {} bar(s) \
                     set aside because a preferred source holds the day; both kept in bar_alternates \
                     (lockstep data status lists the splices)",
                    resolved.replaced,
                    resolved.set_aside
                );
            }
            if !resolved.write.is_empty() {
                groups.insert(Series::Bars, resolved.write);
            }
        }
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
                crate::store::warn_if_slow(
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
                    ..UpsertCounts::default()
                });
            }
        }
        // Rows repeated within this call were written once; they count as unchanged repeats.
        counts.unchanged += duplicates;
        if counts.inserted + counts.updated == 0 && !alternates_changed {
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
}

/// Increments the data version inside `tx` and returns the new value.
pub(in crate::store) async fn bump_version(
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

/// Whether a bar of `incoming` takes a day `stored` holds: the better ranked source wins; a
/// ranked source beats an unranked one; between two unranked sources the newer write wins.
fn incoming_preferred(incoming: &str, stored: &str, ranks: &HashMap<String, i64>) -> bool {
    match (ranks.get(incoming), ranks.get(stored)) {
        (Some(a), Some(b)) => a < b,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => true,
    }
}

/// What [`resolve_bar_sources`] decided for one write's bars.
struct ResolvedBars<'r> {
    /// The bars that go to `daily_bars`.
    write: Vec<&'r Record>,
    replaced: u64,
    set_aside: u64,
    /// Whether `bar_alternates` changed.
    changed: bool,
}

/// Bars other sources hold on the days of a write, by (symbol, day): their source and values.
type StoredBars = HashMap<(String, i64), (String, [Option<f64>; 5])>;

/// A bar kept aside: key, source, values, reason.
type AsideBar = (String, i64, String, [Option<f64>; 5], &'static str);

/// Splits `bars` of `source` against the bars other sources hold on the same days: a bar
/// that wins its day is written (the stored one is copied to `bar_alternates` as
/// `displaced`), one that loses goes to `bar_alternates` as `not_preferred`; bars that meet no
/// other source's are written as before. Costs one indexed read of the days `bars` span when
/// no other source is stored there.
async fn resolve_bar_sources<'r>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    source: &str,
    bars: Vec<&'r Record>,
    now: i64,
    version: i64,
) -> Result<ResolvedBars<'r>, StoreError> {
    let days = bars.iter().map(|r| flatten(r).day);
    let (lo, hi) = (days.clone().min(), days.max());
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(ResolvedBars {
            write: bars,
            replaced: 0,
            set_aside: 0,
            changed: false,
        });
    };
    let stored = sqlx::query(
        "SELECT symbol, day, source, open, high, low, close, volume FROM daily_bars \
         WHERE source <> $1 AND day >= $2 AND day <= $3",
    )
    .bind(source.to_string())
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut **tx)
    .await?;
    let mut others = StoredBars::new();
    for r in &stored {
        let mut v = [None; 5];
        for (i, x) in v.iter_mut().enumerate() {
            *x = r.try_get::<Option<f64>, _>(3 + i)?;
        }
        others.insert((r.try_get(0)?, r.try_get(1)?), (r.try_get(2)?, v));
    }
    let kept = sqlx::query(
        "SELECT symbol, day FROM bar_alternates WHERE source = $1 AND day >= $2 AND day <= $3",
    )
    .bind(source.to_string())
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut **tx)
    .await?;
    let mut kept_before = std::collections::HashSet::new();
    for r in &kept {
        kept_before.insert((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?));
    }
    if others.is_empty() && kept_before.is_empty() {
        return Ok(ResolvedBars {
            write: bars,
            replaced: 0,
            set_aside: 0,
            changed: false,
        });
    }
    let mut ranks = HashMap::new();
    for r in sqlx::query("SELECT source, priority FROM bar_source_preference")
        .fetch_all(&mut **tx)
        .await?
    {
        ranks.insert(r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?);
    }
    let mut write = Vec::with_capacity(bars.len());
    let mut aside: Vec<AsideBar> = Vec::new();
    let mut no_longer_aside: Vec<(String, i64)> = Vec::new();
    let (mut replaced, mut set_aside) = (0u64, 0u64);
    for rec in bars {
        let f = flatten(rec);
        let key = (f.symbol.to_string(), f.day);
        match others.get(&key) {
            Some((other, values)) if *values != f.values => {
                if incoming_preferred(source, other, &ranks) {
                    aside.push((key.0.clone(), key.1, other.clone(), *values, "displaced"));
                    replaced += 1;
                    if kept_before.contains(&key) {
                        no_longer_aside.push(key);
                    }
                    write.push(rec);
                } else {
                    aside.push((key.0, key.1, source.to_string(), f.values, "not_preferred"));
                    set_aside += 1;
                }
            }
            // Another source holds the same values: nothing to choose (the stored bar and its
            // source stay; the write counts as unchanged).
            _ => {
                if kept_before.contains(&key) {
                    no_longer_aside.push(key);
                }
                write.push(rec);
            }
        }
    }
    let mut changed = false;
    const COLS: usize = 9;
    for part in aside.chunks(BATCH_ROWS) {
        let mut sql = String::from(
            "INSERT INTO bar_alternates (symbol, day, source, open, high, low, close, volume, \
             reason, updated_at, first_version) VALUES ",
        );
        for r in 0..part.len() {
            if r > 0 {
                sql.push(',');
            }
            let cells: Vec<String> = (1..=COLS)
                .map(|c| placeholder(backend, r * COLS + c))
                .collect();
            sql.push_str(&format!("({}, {now}, {version})", cells.join(", ")));
        }
        // `first_version` stays the version that first set the bar aside.
        sql.push_str(
            " ON CONFLICT (symbol, day, source) DO UPDATE SET open = excluded.open, \
             high = excluded.high, low = excluded.low, close = excluded.close, \
             volume = excluded.volume, reason = excluded.reason, updated_at = excluded.updated_at \
             WHERE bar_alternates.open IS DISTINCT FROM excluded.open \
             OR bar_alternates.high IS DISTINCT FROM excluded.high \
             OR bar_alternates.low IS DISTINCT FROM excluded.low \
             OR bar_alternates.close IS DISTINCT FROM excluded.close \
             OR bar_alternates.volume IS DISTINCT FROM excluded.volume \
             OR bar_alternates.reason IS DISTINCT FROM excluded.reason RETURNING day",
        );
        let mut q = sqlx::query(&sql);
        for (symbol, day, src, values, reason) in part {
            q = q.bind(symbol.clone()).bind(*day).bind(src.clone());
            for v in values {
                q = q.bind(*v);
            }
            q = q.bind(reason.to_string());
        }
        changed |= !q.fetch_all(&mut **tx).await?.is_empty();
    }
    for (symbol, day) in &no_longer_aside {
        let done = sqlx::query(
            "DELETE FROM bar_alternates WHERE symbol = $1 AND day = $2 AND source = $3",
        )
        .bind(symbol.clone())
        .bind(*day)
        .bind(source.to_string())
        .execute(&mut **tx)
        .await?;
        changed |= done.rows_affected() > 0;
    }
    Ok(ResolvedBars {
        write,
        replaced,
        set_aside,
        changed,
    })
}
