//! Fetch and import runs (`fetch_runs`): what each one touched and how it ended.

use super::{now_millis, UpsertCounts};
use crate::store::{Store, StoreError};
use sqlx::Row;

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

impl Store {
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
             updated = $5, unchanged = $6, rejected = $7, error = $8, replaced = $10, \
             set_aside = $11 WHERE id = $9",
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
        .bind(outcome.counts.replaced as i64)
        .bind(outcome.counts.set_aside as i64)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The latest `limit` runs, newest first, optionally of one source.
    pub async fn runs(&self, source: Option<&str>, limit: u32) -> Result<Vec<RunInfo>, StoreError> {
        let sql = format!(
            "SELECT id, source, target, started_at, finished_at, status, rows_read, inserted, updated, \
             unchanged, rejected, error, replaced, set_aside FROM fetch_runs {} ORDER BY started_at DESC, id DESC LIMIT {limit}",
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
                        replaced: n(12)?,
                        set_aside: n(13)?,
                    },
                    rejected: n(10)?,
                    error: r.try_get(11)?,
                })
            })
            .collect()
    }
}
