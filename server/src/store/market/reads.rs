//! Reads of stored market data in long form: one value per row, or whole [`Record`]s.

use super::{Record, Series};
use crate::store::{Store, StoreError};
use shared::Day;
use sqlx::Row;
use std::collections::HashMap;

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

impl Store {
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
