//! The daily live cycle inside `lockstep serve`: at `run_at_utc` every day (and on demand via
//! `POST /api/live/run`, which calls [`super::LiveService::run_cycle`] directly; the service's
//! lock keeps runs from overlapping).
//!
//! # One scheduler across replicas
//! Several `lockstep serve` processes may share one database (two replicas behind a load
//! balancer). Each one's loop wakes at `run_at_utc`, but only the one that takes the
//! `scheduler:cycle` lease ([`super::lease`], a compare-and-set on the shared table) runs the
//! cycle (and with it the data refresh of step 1); the lease is kept for [`CYCLE_CLAIM_MS`], so
//! a replica whose clock is a little late finds it taken and only serves. The next day's wake-up
//! finds it lapsed and the race starts again: one cycle per day, whichever replica wins.

use super::lease::Leases;
use super::{CycleOptions, LiveService};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

/// The lease a replica takes to run the day's cycle.
pub const CYCLE_LEASE: &str = "scheduler:cycle";

/// How long a day's claim lasts: longer than any clock skew between replicas, shorter than a
/// day.
pub const CYCLE_CLAIM_MS: i64 = 12 * 3_600_000;

/// Whether this process may run the scheduled cycle now: it took the day's claim (it is not
/// released after the run, so no other replica runs the same day's cycle).
///
/// # Errors
/// Store failure.
pub async fn claim_cycle(live: &LiveService, holder: &str) -> Result<bool, super::LiveError> {
    let now = live.now_ms();
    match (Leases { store: &live.store })
        .acquire(CYCLE_LEASE, holder, None, now, CYCLE_CLAIM_MS)
        .await
    {
        Ok(()) => Ok(true),
        Err(super::LiveError::Conflict(m)) => {
            tracing::info!(lease = %m, "another replica runs today's live cycle; this one only serves");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The first `hh:mm` UTC strictly after `now_ms`.
pub fn next_run(now_ms: i64, hour: u32, minute: u32) -> i64 {
    let offset = (hour as i64 * 60 + minute as i64) * 60_000;
    let today = now_ms.div_euclid(DAY_MS) * DAY_MS + offset;
    if today > now_ms {
        today
    } else {
        today + DAY_MS
    }
}

/// Starts the daily loop, unless the settings switch it off. The task logs each run's outcome.
pub fn spawn(live: Arc<LiveService>) -> Option<tokio::task::JoinHandle<()>> {
    if !live.settings.scheduler {
        tracing::info!("live scheduler off (settings: scheduler = false)");
        return None;
    }
    let (hour, minute) = match live.settings.run_at() {
        Ok(hm) => hm,
        Err(e) => {
            tracing::error!(error = %e, "live scheduler not started");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        loop {
            let now = live.now_ms();
            let next = next_run(now, hour, minute);
            tracing::info!(
                in_minutes = (next - now) / 60_000,
                "next live cycle scheduled"
            );
            tokio::time::sleep(std::time::Duration::from_millis((next - now).max(0) as u64)).await;
            // A fresh holder per day: this process's claim of yesterday does not carry over.
            let holder = format!("{}/{}", live.holder(), next);
            match claim_cycle(&live, &holder).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "live cycle not run: the claim could not be taken");
                    continue;
                }
            }
            let opts = CycleOptions {
                dry_run: false,
                actor: "scheduler".into(),
            };
            match live.run_cycle(&opts).await {
                Ok(out) => tracing::info!(
                    plan = %out.plan.summary.id,
                    status = %out.plan.summary.status,
                    orders = out.plan.summary.orders,
                    blocked = out.plan.summary.blocked,
                    "live cycle done"
                ),
                Err(e) => tracing::error!(error = %e, "live cycle failed"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_run_is_strictly_later_and_within_a_day() {
        let midnight = 20_000 * DAY_MS;
        assert_eq!(next_run(midnight, 0, 30), midnight + 30 * 60_000);
        assert_eq!(
            next_run(midnight + 30 * 60_000, 0, 30),
            midnight + DAY_MS + 30 * 60_000
        );
        assert_eq!(
            next_run(midnight + 3_600_000, 0, 30),
            midnight + DAY_MS + 30 * 60_000
        );
        assert_eq!(next_run(midnight, 0, 0), midnight + DAY_MS);
    }
}
