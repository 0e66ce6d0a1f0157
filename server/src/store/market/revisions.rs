//! What changed after a data version: the values the consistency report lists under a plan.

use super::Series;
use crate::store::{Store, StoreError};
use shared::Day;
use sqlx::Row;

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
