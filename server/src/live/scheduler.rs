//! The daily live cycle inside `lockstep serve`: at `run_at_utc` every day (and on demand via
//! `POST /api/live/run`, which calls [`super::LiveService::run_cycle`] directly; the service's
//! lock keeps runs from overlapping).

use super::{CycleOptions, LiveService};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

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
