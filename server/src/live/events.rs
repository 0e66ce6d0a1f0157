//! What the live trader tells the outside when something changes: the open dashboards (a
//! broadcast that `GET /api/events` streams as server-sent events) and the people who are not
//! looking (notifications, [`crate::notify`]). The cycle, approval, execution and the kill
//! switch call [`Hub`]'s methods at each state change; none of them waits for a reader or a
//! delivery.

use crate::notify::{Message, Notifier};
use app::api::{LiveEvent, PlanDetail};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;

/// Events a slow reader may fall behind by before it skips (it then refetches everything).
const BACKLOG: usize = 256;

/// The live trader's announcements.
pub struct Hub {
    tx: broadcast::Sender<LiveEvent>,
    notifier: RwLock<Option<Arc<Notifier>>>,
    /// The data day the last "stale data" message was about: a scheduler that retries every
    /// few minutes on the same stale day tells people once, not every time.
    stale_told: Mutex<Option<shared::Day>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(BACKLOG).0,
            notifier: RwLock::new(None),
            stale_told: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.tx.receiver_count())
            .finish()
    }
}

/// The notification event of a plan status, if that status sends one.
pub fn plan_event(status: app::api::PlanStatus) -> Option<&'static str> {
    use app::api::PlanStatus as S;
    Some(match status {
        S::Proposed => "plan.proposed",
        S::Approved => "plan.approved",
        S::Done => "plan.done",
        S::PartiallyFailed => "plan.partially_failed",
        S::Abandoned => "plan.abandoned",
        _ => return None,
    })
}

impl Hub {
    /// A new stream of events (for one SSE connection).
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }

    /// Sends messages through `notifier` from now on.
    pub fn set_notifier(&self, notifier: Arc<Notifier>) {
        *self.notifier.write().unwrap_or_else(|e| e.into_inner()) = Some(notifier);
    }

    pub fn notifier(&self) -> Option<Arc<Notifier>> {
        self.notifier
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn emit(&self, kind: &str, plan_id: Option<&str>, status: Option<&str>, at: i64) {
        // No subscriber is not an error: nobody has a page open.
        let _ = self.tx.send(LiveEvent {
            kind: kind.into(),
            plan_id: plan_id.map(Into::into),
            status: status.map(Into::into),
            at,
        });
    }

    /// A plan appeared or moved to `plan`'s status: pages refresh, and a status that matters
    /// to a person ([`plan_event`]) sends a notification.
    pub fn plan(&self, plan: &PlanDetail, at: i64) {
        self.emit(
            "plan",
            Some(&plan.summary.id),
            Some(plan.summary.status.as_str()),
            at,
        );
        if let (Some(event), Some(n)) = (plan_event(plan.summary.status), self.notifier()) {
            n.send(Message::plan(event, plan, n.public_url(), at));
        }
    }

    /// A plan's status changed in a way nobody is told about but the open pages (expired,
    /// rejected, executing).
    pub fn plan_changed(&self, plan_id: &str, status: &str, at: i64) {
        self.emit("plan", Some(plan_id), Some(status), at);
    }

    /// Orders of an executing plan filled in (pages refresh; no notification).
    pub fn orders(&self, plan_id: &str, at: i64) {
        self.emit(
            "plan",
            Some(plan_id),
            Some(app::api::PlanStatus::Executing.as_str()),
            at,
        );
    }

    /// The kill switch changed.
    pub fn kill_switch(&self, active: bool, actor: &str, reason: Option<&str>, at: i64) {
        self.emit(
            "kill_switch",
            None,
            Some(if active { "on" } else { "off" }),
            at,
        );
        if let Some(n) = self.notifier() {
            n.send(Message::kill_switch(
                active,
                actor,
                reason,
                n.public_url(),
                at,
            ));
        }
    }

    /// The cycle refused stale data. People are told once per stale data day: the scheduler's
    /// retries on the same day stay quiet, the next stale day is told again.
    pub fn stale(&self, day: shared::Day, age_hours: f64, max_hours: f64, at: i64) {
        {
            let mut told = self.stale_told.lock().unwrap_or_else(|e| e.into_inner());
            if *told == Some(day) {
                return;
            }
            *told = Some(day);
        }
        if let Some(n) = self.notifier() {
            n.send(Message::stale(
                day,
                age_hours,
                max_hours,
                n.public_url(),
                at,
            ));
        }
    }

    /// The account changed (a snapshot was taken).
    pub fn portfolio(&self, at: i64) {
        self.emit("portfolio", None, None, at);
    }

    /// A demo history advanced (`done` of `total` days).
    pub fn demo(&self, done: u32, total: u32, at: i64) {
        let status = if done >= total { "done" } else { "running" };
        self.emit("demo", None, Some(status), at);
    }
}
