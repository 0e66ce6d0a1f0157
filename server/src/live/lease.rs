//! Leases: the database row that lets one process (and one job in it) act alone on something
//! every process on this database shares. The owner of table `live_leases`.
//!
//! - `execute:<broker>`: one execution at a time per trading account. Taken with a
//!   compare-and-set before any order is sent, renewed (heartbeat) before every order, released
//!   when the plan reaches a final status. A second executor — another request, `lockstep live`
//!   beside `lockstep serve`, another replica — finds the live lease and refuses with a clear
//!   message; a crashed executor's lease lapses after its time-to-live, and the next `serve`
//!   start-up (or a trader's Reconcile) recovers the plan by client order id.
//! - `scheduler`: the process that runs the daily cycle and the data refresh when several
//!   replicas share one database ([`super::scheduler`]).
//!
//! The compare-and-set is one upsert whose `WHERE` admits only an expired lease or the holder's
//! own: both engines run it atomically, so exactly one of two racing takers gets the row.

use super::LiveError;
use crate::store::Store;
use sqlx::Row;

/// Who holds a lease now.
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// What it is held for (the plan id of an execution).
    pub subject: Option<String>,
    pub acquired_at: i64,
    pub heartbeat_at: i64,
    pub expires_at: i64,
}

/// Why a lease was not granted.
#[derive(Debug, thiserror::Error)]
#[error("{name} is held by {holder}{} until {expires_at} (Unix ms; heartbeat at {heartbeat_at}): refusing to act beside it", subject.as_ref().map(|s| format!(" for {s}")).unwrap_or_default())]
pub struct Held {
    pub name: String,
    pub holder: String,
    pub subject: Option<String>,
    pub heartbeat_at: i64,
    pub expires_at: i64,
}

/// A name for this process's lease holders: host, process id and a random part (two processes
/// never share one, even after a pid is reused).
pub fn process_holder() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    let mut random = [0u8; 4];
    // Without entropy the pid and the time still separate holders.
    let _ = getrandom::fill(&mut random);
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{host}:{}:{now}:{random}", std::process::id())
}

/// The lease table.
pub struct Leases<'a> {
    pub store: &'a Store,
}

impl Leases<'_> {
    /// Takes `name` for `holder` until `now + ttl_ms`, when it is free, expired or already the
    /// holder's own (then it is renewed and its subject replaced).
    ///
    /// # Errors
    /// [`LiveError::Conflict`] carrying [`Held`]'s message when another holder's lease is live; a
    /// database failure.
    pub async fn acquire(
        &self,
        name: &str,
        holder: &str,
        subject: Option<&str>,
        now: i64,
        ttl_ms: i64,
    ) -> Result<(), LiveError> {
        let r = sqlx::query(
            "INSERT INTO live_leases (name, holder, subject, acquired_at, heartbeat_at, expires_at) \
             VALUES ($1, $2, $3, $4, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, subject = excluded.subject, \
             acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at, \
             expires_at = excluded.expires_at \
             WHERE live_leases.expires_at < $4 OR live_leases.holder = $2",
        )
        .bind(name.to_string())
        .bind(holder.to_string())
        .bind(subject.map(str::to_string))
        .bind(now)
        .bind(now + ttl_ms)
        .execute(self.store.pool())
        .await?;
        if r.rows_affected() == 1 {
            return Ok(());
        }
        let msg = match self.get(name).await? {
            Some(l) => Held {
                name: l.name,
                holder: l.holder,
                subject: l.subject,
                heartbeat_at: l.heartbeat_at,
                expires_at: l.expires_at,
            }
            .to_string(),
            None => format!("{name}: the lease was taken and released meanwhile; try again"),
        };
        Err(LiveError::Conflict(msg))
    }

    /// Pushes `holder`'s lease on `name` to `now + ttl_ms`.
    ///
    /// # Errors
    /// [`LiveError::Conflict`] when `holder` no longer holds it (it lapsed and another process
    /// took it): the caller must stop at once. A database failure.
    pub async fn renew(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<(), LiveError> {
        let r = sqlx::query(
            "UPDATE live_leases SET heartbeat_at = $1, expires_at = $2 WHERE name = $3 AND holder = $4",
        )
        .bind(now)
        .bind(now + ttl_ms)
        .bind(name.to_string())
        .bind(holder.to_string())
        .execute(self.store.pool())
        .await?;
        if r.rows_affected() == 1 {
            Ok(())
        } else {
            Err(LiveError::Conflict(format!(
                "{name}: lease lost by {holder} (it lapsed and another process holds it); stopping"
            )))
        }
    }

    /// Gives `name` up, if `holder` holds it.
    ///
    /// # Errors
    /// Database failure.
    pub async fn release(&self, name: &str, holder: &str) -> Result<(), LiveError> {
        sqlx::query("DELETE FROM live_leases WHERE name = $1 AND holder = $2")
            .bind(name.to_string())
            .bind(holder.to_string())
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// The lease on `name`, live or lapsed.
    ///
    /// # Errors
    /// Database failure.
    pub async fn get(&self, name: &str) -> Result<Option<Lease>, LiveError> {
        let row = sqlx::query(
            "SELECT name, holder, subject, acquired_at, heartbeat_at, expires_at FROM live_leases WHERE name = $1",
        )
        .bind(name.to_string())
        .fetch_optional(self.store.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(Lease {
                name: r.try_get(0)?,
                holder: r.try_get(1)?,
                subject: r.try_get(2)?,
                acquired_at: r.try_get(3)?,
                heartbeat_at: r.try_get(4)?,
                expires_at: r.try_get(5)?,
            }),
            None => None,
        })
    }
}

/// The execution lease's name for `broker`'s account.
pub fn execution_name(broker: &str) -> String {
    format!("execute:{broker}")
}
