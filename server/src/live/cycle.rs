//! The live cycle (a plan proposed from the last complete day) and the decisions on a proposed
//! plan: expiry, approval, rejection. Execution is [`super::execute`], the read models
//! [`super::views`], recomputation [`super::replay`].

use super::plan::{self, PlanInputs};
use super::records::{NewPlan, PlanBody, PlanStatus, StoredPlan};
use super::{risk, LiveError, LiveService};
use crate::store::layout::VenueOrder;
use crate::store::Store;
use app::api::{PlanDetail, PlanStrategy, StrategyAllocation};
use shared::config::Config;
use shared::portfolio::engine::{DayTargets, TargetCache, TargetEngine};
use shared::portfolio::rebalance::RebalancePolicy;
use shared::strategies::Activity;
use shared::universe::Listings;
use shared::{Day, Panel};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

pub(super) const DAY_MS: i64 = 86_400_000;

/// How to run one cycle.
#[derive(Clone, Debug, Default)]
pub struct CycleOptions {
    /// Compute and return the plan; store nothing, send nothing.
    pub dry_run: bool,
    /// Who started it (`scheduler`, `cli`, a user name).
    pub actor: String,
}

/// What a cycle did.
#[derive(Clone, Debug)]
pub struct CycleOutcome {
    /// The plan (stored unless dry run), after auto-approval if that ran.
    pub plan: PlanDetail,
    /// Plans this cycle expired.
    pub expired: Vec<String>,
    pub notes: Vec<String>,
    /// Time per step, milliseconds, in order.
    pub timings: Vec<(&'static str, f64)>,
}

/// The newest complete UTC day at `now_ms` given data up to `panel_end`: today's bar (if the
/// store has one) is still forming.
pub fn last_complete_day(panel_end: Day, now_ms: i64) -> Day {
    let today = Day(now_ms.div_euclid(DAY_MS) as i32);
    Day(panel_end.0.min(today.0 - 1))
}

/// Hours since `day` closed (its end, 24:00 UTC).
pub fn age_hours(day: Day, now_ms: i64) -> f64 {
    (now_ms - (day.0 as i64 + 1) * DAY_MS) as f64 / 3_600_000.0
}

/// The policy the backtest uses for this config.
pub fn policy_of(config: &Config) -> RebalancePolicy {
    match config.rebalance.policy {
        shared::config::PolicyKind::Time => RebalancePolicy::Time,
        shared::config::PolicyKind::Threshold => RebalancePolicy::Threshold {
            threshold: config.rebalance.threshold,
        },
    }
}

pub(super) fn nonzero(panel: &Panel, weights: &[f64]) -> BTreeMap<String, f64> {
    panel
        .symbols()
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w != 0.0)
        .map(|(s, w)| (s.clone(), *w))
        .collect()
}

/// Per-strategy views of a decision.
pub fn strategy_views(panel: &Panel, day: &DayTargets) -> Vec<PlanStrategy> {
    day.strategies
        .iter()
        .map(|s| PlanStrategy {
            allocation: StrategyAllocation {
                name: s.name.clone(),
                configured_weight: s.configured_weight,
                effective_weight: s.effective_weight,
                active: s.activity == Activity::Active,
                inactive_reason: match &s.activity {
                    Activity::Active => None,
                    Activity::Inactive(r) => Some(r.to_string()),
                },
                computed_on: s.computed_on.map(|d| d.to_string()),
            },
            targets: nonzero(panel, &s.targets),
        })
        .collect()
}

/// The panel cut at `t` (shared when `t` is already its last row).
pub(super) fn cut(panel: &Arc<Panel>, t: usize) -> Result<Arc<Panel>, LiveError> {
    if t + 1 == panel.n_days() {
        Ok(panel.clone())
    } else {
        panel
            .truncate_to(t)
            .map(Arc::new)
            .map_err(|e| LiveError::Corrupt(e.to_string()))
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

impl LiveService {
    /// The configured engine on a venue's `listings` (see `Store::venue_universe`): the same
    /// strategies and blend as `self.engine`, with eligibility restricted to what the venue
    /// lists day by day.
    pub(super) fn engine_on(
        &self,
        listings: Option<Arc<Listings>>,
    ) -> Result<TargetEngine, LiveError> {
        let mut engine = TargetEngine::from_config(&self.config)
            .map_err(|e| LiveError::Config(e.to_string()))?;
        engine.listings = listings;
        Ok(engine)
    }

    /// The panel's venue order for the configured venue: its funding first (then Binance's,
    /// then the others by name; `store::layout::VenueOrder`).
    pub fn venue_order(&self) -> VenueOrder {
        VenueOrder::for_venue(Some(self.config.venue().name()))
    }

    /// The store's panel cut at the last complete day, and that day's row.
    pub(super) async fn panel_at_last_complete(
        &self,
        now: i64,
    ) -> Result<(Arc<Panel>, usize), LiveError> {
        let (panel, t, _) = self.versioned_panel_at_last_complete(now).await?;
        Ok((panel, t))
    }

    /// As `panel_at_last_complete`, with the store data version the panel was built at.
    async fn versioned_panel_at_last_complete(
        &self,
        now: i64,
    ) -> Result<(Arc<Panel>, usize, i64), LiveError> {
        let Some((version, panel)) = self.store.panel_for(&self.venue_order()).await? else {
            return Err(LiveError::NoData);
        };
        let last = last_complete_day(panel.end(), now);
        let t = panel.row_of(last).ok_or(LiveError::NoData)?;
        Ok((cut(&panel, t)?, t, version))
    }

    /// Expires proposed/approved plans older than `day`, superseded for the same day (when
    /// `superseding`), or past their lifetime. Returns their ids.
    async fn expire_plans(
        &self,
        day: Day,
        now: i64,
        superseding: bool,
    ) -> Result<Vec<String>, LiveError> {
        let rec = self.records();
        let mut out = Vec::new();
        for p in rec
            .plans_in(&[PlanStatus::Proposed, PlanStatus::Approved])
            .await?
        {
            let why = if p.data_day < day {
                format!("expired: newer data ({day}) arrived")
            } else if superseding && p.data_day == day {
                "expired: superseded by a newer plan for the same day".to_string()
            } else if now > p.expires_at {
                // An approved plan that never started executing ages like a proposed one.
                format!(
                    "expired: not {} within {} h",
                    if p.status == PlanStatus::Proposed {
                        "approved"
                    } else {
                        "executed"
                    },
                    self.settings.plan_ttl_hours
                )
            } else {
                continue;
            };
            if rec
                .transition_audited(
                    &p.id,
                    &[p.status],
                    PlanStatus::Expired,
                    None,
                    Some(&why),
                    now,
                    audit("system", "plan.expire", &p.id, Some(&why)),
                )
                .await?
            {
                self.hub
                    .plan_changed(&p.id, PlanStatus::Expired.as_str(), now);
                out.push(p.id);
            }
        }
        Ok(out)
    }

    /// Runs one live cycle (see the module docs).
    ///
    /// # Errors
    /// No or stale data, the broker failing, the store failing.
    pub async fn run_cycle(&self, opts: &CycleOptions) -> Result<CycleOutcome, LiveError> {
        let _guard = self.run_lock.lock().await;
        let mut timings = Vec::new();
        let mut notes = Vec::new();
        let actor = if opts.actor.is_empty() {
            "system"
        } else {
            opts.actor.as_str()
        };

        let step = Instant::now();
        match &self.refresher {
            Some(r) => match r.refresh(&self.store).await {
                Ok(summary) => notes.push(format!("data refreshed: {summary}")),
                Err(e) => {
                    tracing::warn!(error = %e, "data refresh failed; using the stored data");
                    notes.push(format!("data refresh failed ({e}); using the stored data"));
                }
            },
            None => {
                tracing::info!(
                    "no data refresh configured for the live cycle; using the stored data"
                );
                notes.push("data refresh skipped: none configured; using the stored data".into());
            }
        }
        timings.push(("refresh", ms(step)));

        let step = Instant::now();
        let now = self.clock.now_ms();
        let (panel, t, data_version) = self.versioned_panel_at_last_complete(now).await?;
        let day = panel.day(t);
        let age = age_hours(day, now);
        if age > self.settings.max_data_age_hours {
            self.hub
                .stale(day, age, self.settings.max_data_age_hours, now);
            return Err(LiveError::Stale {
                day,
                age_hours: age,
                max_hours: self.settings.max_data_age_hours,
            });
        }
        timings.push(("panel", ms(step)));

        let step = Instant::now();
        // The configured venue's universe (its listings as stored now, after the refresh).
        let (listings, universe) = self.store.venue_universe(self.config.venue()).await?;
        notes.push(format!("universe: {}", universe.note));
        let targets = self
            .engine_on(listings)?
            .targets_at(&panel, t, &mut TargetCache::new());
        timings.push(("targets", ms(step)));

        let step = Instant::now();
        self.broker.observe_close(&panel, t, !opts.dry_run).await?;
        let account = self.broker.account().await?;
        let mut symbols: BTreeSet<String> = nonzero(&panel, &targets.weights).into_keys().collect();
        symbols.extend(account.positions.iter().map(|p| p.symbol.clone()));
        let symbols: Vec<String> = symbols.into_iter().collect();
        let marks = self.broker.marks(&symbols).await?;
        let rules = self.broker.rules(&symbols).await?;
        timings.push(("broker", ms(step)));

        let step = Instant::now();
        let plan_id = super::records::new_id("plan", now);
        let policy = policy_of(&self.config);
        let built = plan::build(&PlanInputs {
            plan_id: &plan_id,
            panel: &panel,
            targets: &targets,
            account: &account,
            marks: &marks,
            rules: &rules,
            policy,
            max_slippage: self.settings.max_slippage,
        });
        let rec = self.records();
        let kill = rec.kill_switch().await?.active;
        let traded_today = rec
            .traded_since(self.broker.name(), now.div_euclid(DAY_MS) * DAY_MS)
            .await?;
        let report = risk::check(
            &built.lines,
            &built.orders,
            &self.settings.risk,
            risk::RiskContext {
                equity: account.equity,
                traded_today,
                kill_switch: kill,
            },
        );
        let body = PlanBody {
            config_version: self.config_hash.clone(),
            kernel_version: shared::KERNEL_VERSION.to_string(),
            policy: policy.to_string(),
            block_reasons: risk::reasons(&report),
            lines: built.lines,
            targets: nonzero(&panel, &targets.weights),
            strategies: strategy_views(&panel, &targets),
            risk: report,
            orders: built.orders,
            data_version: Some(data_version),
        };
        let stored = StoredPlan {
            id: plan_id.clone(),
            created_at: now,
            status: PlanStatus::Proposed,
            broker: self.broker.name().into(),
            data_day: day,
            config_hash: self.config_hash.clone(),
            config_json: self.config_json.clone(),
            kernel_version: shared::KERNEL_VERSION.into(),
            equity: account.equity,
            blocked: !body.block_reasons.is_empty(),
            expires_at: now + (self.settings.plan_ttl_hours * 3_600_000.0) as i64,
            body,
            decided_by: None,
            decided_at: None,
            note: None,
        };
        timings.push(("plan", ms(step)));
        if opts.dry_run {
            notes.push("dry run: nothing stored, nothing sent".into());
            return Ok(CycleOutcome {
                plan: stored.detail(Vec::new())?,
                expired: Vec::new(),
                notes,
                timings,
            });
        }

        let step = Instant::now();
        // An interrupted execution may never resume once this newer plan exists: close it now
        // (a live one makes the cycle wait instead).
        for id in self.abandon_superseded(day, now).await? {
            notes.push(format!(
                "plan {id} abandoned: superseded before it finished"
            ));
        }
        let expired = self.expire_plans(day, now, true).await?;
        rec.insert_plan(&NewPlan {
            id: &stored.id,
            created_at: now,
            broker: &stored.broker,
            data_day: day,
            config_hash: &stored.config_hash,
            config_json: &stored.config_json,
            equity: stored.equity,
            expires_at: stored.expires_at,
            body: &stored.body,
        })
        .await?;
        rec.audit(
            actor,
            "plan.propose",
            Some(&stored.id),
            Some(&format!(
                "data day {day}, {} orders, blocked: {}",
                stored.body.orders.len(),
                stored.blocked
            )),
            now,
        )
        .await?;
        rec.snapshot(self.broker.name(), &account, now).await?;
        timings.push(("record", ms(step)));
        drop(_guard);
        self.hub.plan(&self.plan(&stored.id).await?, now);
        self.hub.portfolio(now);

        if self.settings.auto_approve && !stored.blocked {
            match self.approve(&stored.id, "auto").await {
                Ok(_) => notes.push("auto-approved and executed".into()),
                Err(e) => notes.push(format!("auto-approval failed: {e}")),
            }
        }
        let plan = self.plan(&stored.id).await?;
        Ok(CycleOutcome {
            plan,
            expired,
            notes,
            timings,
        })
    }

    /// Whether newer data than the plan's day is in the store, or its lifetime is over; expires it
    /// if so and says why.
    pub(super) async fn check_expiry(
        &self,
        p: &StoredPlan,
        now: i64,
    ) -> Result<Option<String>, LiveError> {
        let summary = self.store.bar_summary().await?;
        if let Some(last) = summary.last_day {
            let complete = last_complete_day(last, now);
            if complete > p.data_day {
                let expired = self.expire_plans(complete, now, false).await?;
                if expired.contains(&p.id) {
                    return Ok(Some(format!(
                        "plan {} expired: newer data ({complete}) arrived",
                        p.id
                    )));
                }
            }
        }
        if matches!(p.status, PlanStatus::Proposed | PlanStatus::Approved) && now > p.expires_at {
            self.expire_plans(p.data_day, now, false).await?;
            return Ok(Some(format!(
                "plan {} expired: not {} within {} h",
                p.id,
                if p.status == PlanStatus::Proposed {
                    "approved"
                } else {
                    "executed"
                },
                self.settings.plan_ttl_hours
            )));
        }
        Ok(None)
    }

    /// Moves a proposed plan to `approved` as `actor`, after the expiry, risk and kill-switch
    /// checks (compare-and-set: a second approver loses).
    ///
    /// # Errors
    /// Unknown id; not proposed; blocked by risk or the kill switch; expired.
    pub(super) async fn decide_approve(&self, id: &str, actor: &str) -> Result<(), LiveError> {
        let rec = self.records();
        let now = self.clock.now_ms();
        let p = rec.plan(id).await?;
        if p.status != PlanStatus::Proposed {
            return Err(LiveError::Conflict(format!(
                "plan {id} is {}, not proposed",
                p.status
            )));
        }
        if let Some(why) = self.check_expiry(&p, now).await? {
            return Err(LiveError::Conflict(why));
        }
        if p.blocked {
            return Err(LiveError::Blocked {
                id: id.into(),
                reasons: p.body.block_reasons.clone(),
            });
        }
        if rec.kill_switch().await?.active {
            return Err(LiveError::KillSwitch);
        }
        if !rec
            .transition_audited(
                id,
                &[PlanStatus::Proposed],
                PlanStatus::Approved,
                Some((actor, now)),
                None,
                now,
                audit(actor, "plan.approve", id, None),
            )
            .await?
        {
            return Err(LiveError::Conflict(format!(
                "plan {id} was decided by someone else first"
            )));
        }
        self.hub.plan(&self.plan(id).await?, now);
        Ok(())
    }

    /// Approves a proposed plan as `actor` and executes it, in this task (the CLI, tests).
    /// The server starts the execution in a task of its own instead
    /// ([`LiveService::approve_in_background`]).
    ///
    /// # Errors
    /// Unknown id; not proposed; blocked by risk or the kill switch; expired; execution errors.
    pub async fn approve(&self, id: &str, actor: &str) -> Result<PlanDetail, LiveError> {
        self.decide_approve(id, actor).await?;
        self.execute(id, actor).await
    }

    /// Rejects a proposed plan.
    ///
    /// # Errors
    /// Unknown id or not proposed.
    pub async fn reject(
        &self,
        id: &str,
        actor: &str,
        note: Option<&str>,
    ) -> Result<PlanDetail, LiveError> {
        let rec = self.records();
        let now = self.clock.now_ms();
        let p = rec.plan(id).await?;
        if !rec
            .transition_audited(
                id,
                &[PlanStatus::Proposed],
                PlanStatus::Rejected,
                Some((actor, now)),
                note,
                now,
                audit(actor, "plan.reject", id, note),
            )
            .await?
        {
            return Err(LiveError::Conflict(format!(
                "plan {id} is {}, not proposed",
                p.status
            )));
        }
        self.hub
            .plan_changed(id, PlanStatus::Rejected.as_str(), now);
        self.plan(id).await
    }
}

/// The audit row of a plan's move.
pub(super) fn audit<'a>(
    actor: &'a str,
    action: &'a str,
    plan_id: &'a str,
    detail: Option<&'a str>,
) -> super::records::AuditRow<'a> {
    super::records::AuditRow {
        actor,
        action,
        subject: Some(plan_id),
        detail,
    }
}

/// The listings a stored plan's config trades on (its `venue`), as stored now: what
/// [`super::recompute_plan`] needs to make the plan's decision again.
///
/// # Errors
/// The stored config no longer parses; a store failure.
pub async fn plan_listings(
    store: &Store,
    plan: &StoredPlan,
) -> Result<Option<Arc<Listings>>, LiveError> {
    let config =
        Config::from_json(&plan.config_json).map_err(|e| LiveError::Config(e.to_string()))?;
    Ok(store.venue_universe(config.venue()).await?.0)
}

/// The venue order of the panel a stored plan's config trades on (its `venue`).
///
/// # Errors
/// The stored config no longer parses.
pub fn plan_venue_order(plan: &StoredPlan) -> Result<VenueOrder, LiveError> {
    let config =
        Config::from_json(&plan.config_json).map_err(|e| LiveError::Config(e.to_string()))?;
    Ok(VenueOrder::for_venue(Some(config.venue().name())))
}
