//! Execution: an approved plan's orders sent to the broker under an execution lease, resumed
//! or closed after an interruption, and reconciled by client order id.
//!
//! # The job
//! 1. **Checks**: the plan is `approved` (not expired) or `executing` (a resume); the kill
//!    switch is off; the plan was made for this broker.
//! 2. **Lease**: `execute:<broker>` taken by compare-and-set ([`super::lease`]). Another
//!    executor — a second request, `lockstep live` beside `lockstep serve`, another replica —
//!    holding it live means a clear refusal; nothing is sent.
//! 3. **Resume rules** (an `executing` plan): the venue is first asked about every unsettled
//!    order by client order id (asking is always safe). The plan may then send the rest only if
//!    it is the newest plan, its data day is within `max_data_age_hours`, and
//!    [`super::risk::check`] passes against the account as it is now; otherwise it is closed
//!    `abandoned` with the reason, its orders reconciled.
//! 4. **Risk** (an `approved` plan): [`super::risk::check`] against the account now (another
//!    plan may have traded since it was made) — the one turnover check; then
//!    `approved → executing` by compare-and-set.
//! 5. **Sending**: every order is written `pending` first (write-ahead). Before each order the
//!    lease is renewed (a lost lease stops at once) and the kill switch read (on: the rest are
//!    not sent and the plan ends `partially_failed`). A broker error after a send records the
//!    order `unknown` (it may have landed) and stops; the plan stays `executing` for a resume,
//!    which asks the venue first.
//! 6. **Settling**: unknown and open orders are asked about once more, then
//!    `executing → done | partially_failed` by compare-and-set, the lease released.
//!
//! The server runs this in a task it owns ([`LiveService::execute_in_background`]): a dropped
//! request does not drop the job. On start-up, `serve` recovers plans whose lease lapsed
//! ([`LiveService::recover_interrupted`]).

use super::cycle::{age_hours, audit, DAY_MS};
use super::lease::{self, Leases};
use super::records::{OrderState, PlanStatus, StoredPlan};
use super::{risk, LiveError, LiveService};
use crate::broker::{Halt, OrderReport, OrderRequest, OrderStatus};
use app::api::PlanDetail;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A started execution: the plan and the lease held for it.
pub(super) struct Job {
    plan: StoredPlan,
    holder: String,
    lease: String,
    actor: String,
}

/// Where a test's crash-injection harness may stop the process (`LOCKSTEP_CRASH_AT=<point>:<n>`:
/// exit at the n-th time `point` is reached). Inert unless that variable is set; production
/// never sets it (docs/reliability.md).
fn crash_point(point: &str) {
    static COUNTS: std::sync::Mutex<BTreeMap<String, u64>> = std::sync::Mutex::new(BTreeMap::new());
    let Ok(spec) = std::env::var("LOCKSTEP_CRASH_AT") else {
        return;
    };
    let Some((at, n)) = spec.split_once(':') else {
        return;
    };
    if at != point {
        return;
    }
    let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let c = counts.entry(point.to_string()).or_insert(0);
    *c += 1;
    if n.parse::<u64>().ok() == Some(*c) {
        eprintln!("LOCKSTEP_CRASH_AT: stopping at {point} #{c}");
        // Like SIGKILL: no destructors, no flushing, no lease release.
        std::process::abort();
    }
}

/// The kill switch as the broker's [`Halt`]: read before the broker would send an order's
/// request again, so a switch turned on between two status polls stops the batch. A store that
/// cannot be read halts too (sending is what needs a reason, not stopping).
struct KillSwitchHalt<'a> {
    live: &'a LiveService,
}

#[async_trait::async_trait]
impl Halt for KillSwitchHalt<'_> {
    async fn halted(&self) -> Option<String> {
        match self.live.records().kill_switch().await {
            Ok(k) if !k.active => None,
            Ok(_) => Some("the kill switch is on".into()),
            Err(e) => Some(format!("the kill switch cannot be read: {e}")),
        }
    }
}

impl LiveService {
    /// The execution lease's lifetime ([`super::LiveSettings::execution_lease_seconds`]).
    pub fn lease_ms(&self) -> i64 {
        (self.settings.execution_lease_seconds * 1000.0) as i64
    }
}

impl LiveService {
    /// Executes an approved plan, or resumes one left `executing`, in this task (the CLI and
    /// tests; the server uses [`LiveService::execute_in_background`]). See the module docs.
    ///
    /// # Errors
    /// Not approved/executing; kill switch on; expired; a risk limit; the lease is held by
    /// another executor; the plan was abandoned (resume rules); broker or store failure (the
    /// plan stays `executing` and can be resumed).
    pub async fn execute(&self, id: &str, actor: &str) -> Result<PlanDetail, LiveError> {
        let _guard = self.run_lock.clone().lock_owned().await;
        let job = self.start_job(id, actor).await?;
        self.run_job(job).await
    }

    /// Approves a proposed plan and starts its execution in a task the server owns; returns the
    /// plan once it is final or after `wait`, whichever comes first (then it is `executing` and
    /// the page follows its status). A dropped request does not stop the job.
    ///
    /// # Errors
    /// As [`LiveService::approve`], for what is decided before the job starts.
    pub async fn approve_in_background(
        self: &Arc<Self>,
        id: &str,
        actor: &str,
        wait: Duration,
    ) -> Result<PlanDetail, LiveError> {
        self.decide_approve(id, actor).await?;
        self.execute_in_background(id, actor, wait).await
    }

    /// [`LiveService::execute`] in a task the server owns (see
    /// [`LiveService::approve_in_background`]).
    ///
    /// # Errors
    /// What refuses the job before any order is sent (status, kill switch, lease, resume rules).
    pub async fn execute_in_background(
        self: &Arc<Self>,
        id: &str,
        actor: &str,
        wait: Duration,
    ) -> Result<PlanDetail, LiveError> {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        let (plan_id, who) = (id.to_string(), actor.to_string());
        tokio::spawn(async move {
            let _guard = me.run_lock.clone().lock_owned().await;
            let job = match me.start_job(&plan_id, &who).await {
                Ok(job) => {
                    let _ = started_tx.send(Ok(()));
                    job
                }
                Err(e) => {
                    let _ = started_tx.send(Err(e));
                    return;
                }
            };
            let result = me.run_job(job).await;
            if let Err(e) = &result {
                tracing::error!(plan = %plan_id, error = %e, "execution stopped; the plan can be resumed or reconciled");
            }
            let _ = done_tx.send(result);
        });
        match started_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(LiveError::Conflict("the execution task ended early".into())),
        }
        match tokio::time::timeout(wait, done_rx).await {
            Ok(Ok(result)) => result,
            _ => self.plan(id).await,
        }
    }

    /// Checks, takes the lease, applies the resume rules or the risk check, and moves the plan
    /// to `executing`. Nothing has been sent when this returns.
    async fn start_job(&self, id: &str, actor: &str) -> Result<Job, LiveError> {
        let rec = self.records();
        let now = self.clock.now_ms();
        let p = rec.plan(id).await?;
        if !matches!(p.status, PlanStatus::Approved | PlanStatus::Executing) {
            return Err(LiveError::Conflict(format!(
                "plan {id} is {}: only approved (or interrupted executing) plans execute",
                p.status
            )));
        }
        if rec.kill_switch().await?.active {
            return Err(LiveError::KillSwitch);
        }
        if p.broker != self.broker.name() {
            return Err(LiveError::Conflict(format!(
                "plan {id} was made for the {} broker; this server trades on {}",
                p.broker,
                self.broker.name()
            )));
        }
        if p.status == PlanStatus::Approved {
            if let Some(why) = self.check_expiry(&p, now).await? {
                return Err(LiveError::Conflict(why));
            }
        }
        let holder = format!("{}/{}", self.holder, super::records::new_id("job", now));
        let lease = lease::execution_name(&p.broker);
        let leases = Leases { store: &self.store };
        leases
            .acquire(&lease, &holder, Some(id), now, self.lease_ms())
            .await
            .map_err(|e| match e {
                LiveError::Conflict(m) => {
                    LiveError::Conflict(format!("plan {id} not executed: {m}"))
                }
                e => e,
            })?;
        let job = Job {
            plan: p,
            holder,
            lease,
            actor: actor.to_string(),
        };
        match self.start_leased(&job, now).await {
            Ok(()) => Ok(job),
            Err(e) => {
                leases.release(&job.lease, &job.holder).await?;
                Err(e)
            }
        }
    }

    async fn start_leased(&self, job: &Job, now: i64) -> Result<(), LiveError> {
        let rec = self.records();
        let p = &job.plan;
        let id = p.id.as_str();
        // Mark the paper venue to the plan's day (a restart may have lost its marks).
        let (panel, t) = self.panel_at_last_complete(now).await?;
        if panel.day(t) == p.data_day {
            self.broker.observe_close(&panel, t, true).await?;
        }
        if p.status == PlanStatus::Executing {
            // Asking is always safe: whatever the venue has is recorded before any decision.
            self.write_ahead(p, now).await?;
            self.reconcile_orders(p).await?;
            if let Some(why) = self.resume_refusal(p, now).await? {
                self.abandon(p, &why, &job.actor).await?;
                return Err(LiveError::Conflict(format!(
                    "plan {id} was abandoned: {why}"
                )));
            }
            rec.audit(&job.actor, "plan.resume", Some(id), None, now)
                .await?;
        } else {
            let reasons = self.risk_now(p, &p.body.orders).await?;
            if !reasons.is_empty() {
                return Err(LiveError::Blocked {
                    id: id.into(),
                    reasons,
                });
            }
            rec.move_plan(
                id,
                PlanStatus::Approved,
                PlanStatus::Executing,
                None,
                None,
                now,
                audit(&job.actor, "plan.execute", id, None),
            )
            .await?;
            self.hub
                .plan_changed(id, PlanStatus::Executing.as_str(), now);
        }
        Ok(())
    }

    /// Why an interrupted plan may not send its remaining orders, if it may not.
    async fn resume_refusal(&self, p: &StoredPlan, now: i64) -> Result<Option<String>, LiveError> {
        let rec = self.records();
        if let Some(newest) = rec.newest_plan_id().await? {
            if newest != p.id {
                return Ok(Some(format!("a newer plan ({newest}) exists")));
            }
        }
        let age = age_hours(p.data_day, now);
        if age > self.settings.max_data_age_hours {
            return Ok(Some(format!(
                "its data day {} closed {age:.1} h ago (limit {} h)",
                p.data_day, self.settings.max_data_age_hours
            )));
        }
        let remaining = self.unsent(p).await?;
        let reasons = self.risk_now(p, &remaining).await?;
        if !reasons.is_empty() {
            return Ok(Some(format!(
                "the risk limits fail against the account now: {}",
                reasons.join("; ")
            )));
        }
        Ok(None)
    }

    /// The risk limits ([`risk::check`], the one check) for sending `orders` of plan `p` now:
    /// the account's current positions and equity, and what was traded today.
    async fn risk_now(
        &self,
        p: &StoredPlan,
        orders: &[OrderRequest],
    ) -> Result<Vec<String>, LiveError> {
        let now = self.clock.now_ms();
        let account = self.broker.account().await?;
        let traded_today = self
            .records()
            .traded_since(&p.broker, now.div_euclid(DAY_MS) * DAY_MS)
            .await?;
        let held: BTreeMap<&str, f64> = account
            .positions
            .iter()
            .map(|x| (x.symbol.as_str(), x.units))
            .collect();
        let lines: Vec<app::api::PlanLine> = p
            .body
            .lines
            .iter()
            .map(|l| {
                let mut l = l.clone();
                l.current_units = held.get(l.symbol.as_str()).copied().unwrap_or(0.0);
                l.current_weight = if account.equity > 0.0 {
                    l.current_units * l.mark_price / account.equity
                } else {
                    0.0
                };
                l
            })
            .collect();
        let report = risk::check(
            &lines,
            orders,
            &self.settings.risk,
            risk::RiskContext {
                equity: account.equity,
                traded_today,
                kill_switch: false,
            },
        );
        Ok(risk::reasons(&report))
    }

    /// Every order of `p` as a `pending` row, unless it exists (write-ahead).
    async fn write_ahead(&self, p: &StoredPlan, now: i64) -> Result<(), LiveError> {
        let rec = self.records();
        for o in &p.body.orders {
            let line = p.body.lines.iter().find(|l| l.symbol == o.symbol);
            rec.insert_order(
                &p.id,
                &p.broker,
                o,
                line.map_or("", |l| l.size.as_str()),
                line.map_or("", |l| l.limit_price.as_str()),
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// The plan's orders the venue has not seen (as far as the store knows after the last
    /// reconciliation): `pending` and `unknown` ones.
    async fn unsent(&self, p: &StoredPlan) -> Result<Vec<OrderRequest>, LiveError> {
        let known: BTreeMap<String, OrderState> = self
            .records()
            .orders(&p.id)
            .await?
            .into_iter()
            .map(|o| Ok((o.client_order_id, o.status)))
            .collect::<Result<_, LiveError>>()?;
        Ok(p.body
            .orders
            .iter()
            .filter(|o| {
                matches!(
                    known.get(&o.client_order_id),
                    None | Some(OrderState::Pending | OrderState::Unknown)
                )
            })
            .cloned()
            .collect())
    }

    /// Asks the venue about every unsettled order of `p` (pending, unknown, open) by client
    /// order id and records what it knows. Returns how many it knew.
    async fn reconcile_orders(&self, p: &StoredPlan) -> Result<usize, LiveError> {
        let rec = self.records();
        let orders = rec.orders(&p.id).await?;
        let mut ids = Vec::new();
        let mut symbols = BTreeMap::new();
        for o in &orders {
            if o.status.is_unsettled() {
                ids.push(o.client_order_id.clone());
                symbols.insert(o.client_order_id.clone(), o.symbol.clone());
            }
        }
        if ids.is_empty() {
            return Ok(0);
        }
        crash_point("reconcile");
        let seen = self.broker.reconcile(&ids).await?;
        let mut known = 0;
        for r in seen {
            if r.status == OrderStatus::Unknown {
                continue;
            }
            let mut r = r;
            if r.symbol.is_empty() {
                r.symbol = symbols.get(&r.client_order_id).cloned().unwrap_or_default();
            }
            rec.record_report(&p.id, &p.broker, &r, self.clock.now_ms())
                .await?;
            known += 1;
        }
        if known > 0 {
            self.hub.orders(&p.id, self.clock.now_ms());
        }
        Ok(known)
    }

    /// Sends what is left of the job's plan and settles it (module docs, steps 5–6).
    async fn run_job(&self, job: Job) -> Result<PlanDetail, LiveError> {
        let result = self.send_and_settle(&job).await;
        Leases { store: &self.store }
            .release(&job.lease, &job.holder)
            .await?;
        result
    }

    async fn send_and_settle(&self, job: &Job) -> Result<PlanDetail, LiveError> {
        let rec = self.records();
        let leases = Leases { store: &self.store };
        let p = &job.plan;
        let id = p.id.as_str();
        self.write_ahead(p, self.clock.now_ms()).await?;
        // Ask the venue first: anything it already has is recorded, not re-sent.
        self.reconcile_orders(p).await?;
        let to_send = self.unsent(p).await?;
        let mut stopped: Option<String> = None;
        for o in &to_send {
            let now = self.clock.now_ms();
            leases
                .renew(&job.lease, &job.holder, now, self.lease_ms())
                .await?;
            if rec.kill_switch().await?.active {
                stopped = Some("the kill switch was turned on".into());
                break;
            }
            crash_point("before_send");
            let halt = KillSwitchHalt { live: self };
            match self
                .broker
                .submit_guarded(std::slice::from_ref(o), &halt)
                .await
            {
                Ok(reports) => {
                    crash_point("after_send");
                    for r in &reports {
                        rec.record_report(id, &p.broker, r, self.clock.now_ms())
                            .await?;
                    }
                }
                Err(e) => {
                    // The request may have reached the venue: unknown until asked by cloid.
                    let unknown = OrderReport {
                        client_order_id: o.client_order_id.clone(),
                        symbol: o.symbol.clone(),
                        status: OrderStatus::Unknown,
                        filled_units: 0.0,
                        avg_price: 0.0,
                        fee: 0.0,
                    };
                    rec.record_report(id, &p.broker, &unknown, self.clock.now_ms())
                        .await?;
                    rec.set_order_reason(&o.client_order_id, &e.to_string())
                        .await?;
                    self.hub.orders(id, self.clock.now_ms());
                    // Whatever is still unsettled is asked about by a resume, never re-sent
                    // blindly; the plan stays `executing`.
                    let _ = self.reconcile_orders(p).await;
                    return Err(e.into());
                }
            }
            self.hub.orders(id, self.clock.now_ms());
        }
        // Unknown or resting orders: ask once more before closing.
        if let Err(e) = self.reconcile_orders(p).await {
            tracing::warn!(plan = %id, error = %e, "reconciling before closing failed; orders stay as recorded");
        }
        if let Some(why) = &stopped {
            // Only orders never handed to the venue; an `unknown` one may have landed and stays
            // unknown until Reconcile asks the venue again.
            rec.close_never_sent(id, &format!("not sent: {why}"), self.clock.now_ms())
                .await?;
        } else {
            let unknown: Vec<String> = rec
                .orders(id)
                .await?
                .into_iter()
                .filter(|o| o.status == OrderState::Unknown.as_str())
                .map(|o| o.symbol)
                .collect();
            if !unknown.is_empty() {
                // Closing now would call an order that may have filled a failure: the plan
                // stays `executing` (lease released) and Reconcile or the start-up recovery
                // asks the venue by client order id again before anything else.
                self.hub
                    .plan_changed(id, PlanStatus::Executing.as_str(), self.clock.now_ms());
                return Err(LiveError::Conflict(format!(
                    "plan {id} stays executing: the venue's answer for {} is unknown; Reconcile \
                     asks the venue by client order id",
                    unknown.join(", ")
                )));
            }
        }
        self.finish(p, &job.actor, stopped.as_deref()).await
    }

    /// `executing → done | partially_failed` (compare-and-set), the account snapshotted and
    /// the change announced.
    async fn finish(
        &self,
        p: &StoredPlan,
        actor: &str,
        stopped: Option<&str>,
    ) -> Result<PlanDetail, LiveError> {
        let rec = self.records();
        let id = p.id.as_str();
        let orders = rec.orders(id).await?;
        let mut failed: Vec<String> = orders
            .iter()
            .filter(|o| o.status != OrderState::Filled.as_str())
            .map(|o| match &o.reason {
                Some(r) => format!("{} {}: {r}", o.symbol, o.status),
                None => format!("{} {}", o.symbol, o.status),
            })
            .collect();
        if let Some(why) = stopped {
            failed.insert(0, format!("stopped: {why}"));
        }
        let now = self.clock.now_ms();
        let (to, note) = if failed.is_empty() {
            (PlanStatus::Done, None)
        } else {
            (PlanStatus::PartiallyFailed, Some(failed.join("; ")))
        };
        crash_point("finish");
        rec.move_plan(
            id,
            PlanStatus::Executing,
            to,
            None,
            note.as_deref(),
            now,
            audit(actor, to.audit_action(), id, note.as_deref()),
        )
        .await?;
        let account = self.broker.account().await?;
        rec.snapshot(&p.broker, &account, now).await?;
        let done = self.plan(id).await?;
        self.hub.plan(&done, now);
        self.hub.portfolio(now);
        Ok(done)
    }

    /// Closes an interrupted plan that may not be resumed: `executing → abandoned` with `why`,
    /// its orders already reconciled; orders the venue does not know are closed as not sent.
    async fn abandon(&self, p: &StoredPlan, why: &str, actor: &str) -> Result<(), LiveError> {
        let rec = self.records();
        let now = self.clock.now_ms();
        rec.move_plan(
            &p.id,
            PlanStatus::Executing,
            PlanStatus::Abandoned,
            None,
            Some(why),
            now,
            audit(
                actor,
                PlanStatus::Abandoned.audit_action(),
                &p.id,
                Some(why),
            ),
        )
        .await?;
        rec.close_unsent(&p.id, &format!("not sent: plan abandoned ({why})"), now)
            .await?;
        let account = self.broker.account().await?;
        rec.snapshot(&p.broker, &account, now).await?;
        self.hub.plan(&self.plan(&p.id).await?, now);
        self.hub.portfolio(now);
        Ok(())
    }

    /// A trader's Reconcile (and the start-up recovery): an `executing` plan whose lease lapsed
    /// is resumed or abandoned by the resume rules; a closed plan (`partially_failed`,
    /// `abandoned`) has its unsettled orders asked about by client order id and recorded, and
    /// those the venue does not know closed as not sent. Never sends a closed plan's orders.
    ///
    /// # Errors
    /// Unknown id; nothing to reconcile (proposed, approved, rejected, expired); another
    /// executor holds the lease; broker or store failure.
    pub async fn reconcile(&self, id: &str, actor: &str) -> Result<PlanDetail, LiveError> {
        let p = self.records().plan(id).await?;
        match p.status {
            PlanStatus::Executing => match self.execute(id, actor).await {
                // Abandoned by the resume rules: that is the reconciliation's answer.
                Err(LiveError::Conflict(m)) if m.contains("was abandoned") => self.plan(id).await,
                other => other,
            },
            PlanStatus::PartiallyFailed | PlanStatus::Abandoned | PlanStatus::Done => {
                let _guard = self.run_lock.clone().lock_owned().await;
                let now = self.clock.now_ms();
                let holder = format!("{}/{}", self.holder, super::records::new_id("rec", now));
                let lease = lease::execution_name(&p.broker);
                let leases = Leases { store: &self.store };
                leases
                    .acquire(&lease, &holder, Some(id), now, self.lease_ms())
                    .await?;
                let result = async {
                    let known = self.reconcile_orders(&p).await?;
                    let closed = self
                        .records()
                        .close_unsent(id, "not at the venue when reconciled: never filled", now)
                        .await?;
                    self.records()
                        .audit(
                            actor,
                            "plan.reconcile",
                            Some(id),
                            Some(&format!(
                                "{known} orders found at the venue, {closed} closed as not sent"
                            )),
                            now,
                        )
                        .await?;
                    Ok::<_, LiveError>(())
                }
                .await;
                leases.release(&lease, &holder).await?;
                result?;
                let detail = self.plan(id).await?;
                self.hub.plan_changed(id, p.status.as_str(), now);
                Ok(detail)
            }
            other => Err(LiveError::Conflict(format!(
                "plan {id} is {other}: nothing was sent, nothing to reconcile"
            ))),
        }
    }

    /// On start-up: every `executing` plan of this broker whose execution lease is not live
    /// (its executor crashed) is reconciled ([`LiveService::reconcile`]): resumed under the
    /// resume rules or abandoned. Returns one line per plan.
    ///
    /// # Errors
    /// Store failure listing the plans; a plan's own failure is in its line.
    pub async fn recover_interrupted(&self, actor: &str) -> Result<Vec<String>, LiveError> {
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        for p in self.executing_here().await? {
            if let Some(l) = self.live_execution_lease(now).await? {
                out.push(format!(
                    "plan {}: left alone, {} holds the execution lease",
                    p.id, l.holder
                ));
                continue;
            }
            out.push(match self.reconcile(&p.id, actor).await {
                Ok(d) => format!("plan {}: {}", p.id, d.summary.status),
                Err(e) => format!("plan {}: {e}", p.id),
            });
        }
        Ok(out)
    }

    /// This broker's plans in `executing`: being executed when the execution lease is live,
    /// interrupted otherwise.
    async fn executing_here(&self) -> Result<Vec<StoredPlan>, LiveError> {
        let mut plans = self.records().plans_in(&[PlanStatus::Executing]).await?;
        plans.retain(|p| p.broker == self.broker.name());
        Ok(plans)
    }

    /// The execution lease on this broker if its holder is still alive at `now`. Asked afresh for
    /// every plan: reconciling the plan before may have taken and released it.
    async fn live_execution_lease(&self, now: i64) -> Result<Option<lease::Lease>, LiveError> {
        let held = Leases { store: &self.store }
            .get(&lease::execution_name(self.broker.name()))
            .await?;
        Ok(held.filter(|l| l.expires_at >= now))
    }

    /// Closes, as `abandoned`, every interrupted `executing` plan (no live lease) older than
    /// the plan a cycle is about to propose: they may never be resumed once a newer plan exists.
    pub(super) async fn abandon_superseded(
        &self,
        day: shared::Day,
        now: i64,
    ) -> Result<Vec<String>, LiveError> {
        let mut out = Vec::new();
        for p in self.executing_here().await? {
            if let Some(l) = self.live_execution_lease(now).await? {
                return Err(LiveError::Conflict(format!(
                    "plan {} is executing ({} holds the lease until {}): the cycle waits for it",
                    p.id, l.holder, l.expires_at
                )));
            }
            self.reconcile_orders(&p).await?;
            let why = format!("superseded by the cycle of data day {day} before it finished");
            self.abandon(&p, &why, "system").await?;
            out.push(p.id);
        }
        Ok(out)
    }
}
