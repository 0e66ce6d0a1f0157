//! The live cycle, plan decisions, execution, replay and the portfolio view.

use super::plan::{self, PlanInputs};
use super::records::{status, NewPlan, PlanBody, StoredPlan};
use super::{risk, LiveError, LiveService};
use crate::broker::{OrderReport, OrderRequest, OrderStatus};
use crate::store::layout::VenueOrder;
use crate::store::Store;
use app::api::{
    DataFreshness, KillSwitch, PlanDetail, PlanStrategy, Portfolio, PortfolioPosition,
    StrategyAllocation,
};
use shared::config::Config;
use shared::portfolio::engine::{DayTargets, TargetCache, TargetEngine};
use shared::portfolio::rebalance::RebalancePolicy;
use shared::strategies::Activity;
use shared::universe::Listings;
use shared::{Day, Panel};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

const DAY_MS: i64 = 86_400_000;

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

/// A stored plan recomputed from its inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub plan_id: String,
    /// Blended targets, per-strategy targets, effective weights and activity all equal, bit for bit.
    pub identical: bool,
    pub kernel_version_matches: bool,
    pub differences: Vec<String>,
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

fn nonzero(panel: &Panel, weights: &[f64]) -> BTreeMap<String, f64> {
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
fn cut(panel: &Arc<Panel>, t: usize) -> Result<Arc<Panel>, LiveError> {
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
    fn engine_on(
        &self,
        listings: Option<Arc<shared::universe::Listings>>,
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
    async fn panel_at_last_complete(&self, now: i64) -> Result<(Arc<Panel>, usize), LiveError> {
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
        for p in rec.plans_in(&[status::PROPOSED, status::APPROVED]).await? {
            let why = if p.data_day < day {
                format!("expired: newer data ({day}) arrived")
            } else if superseding && p.data_day == day {
                "expired: superseded by a newer plan for the same day".to_string()
            } else if p.status == status::PROPOSED && now > p.expires_at {
                format!(
                    "expired: not approved within {} h",
                    self.settings.plan_ttl_hours
                )
            } else {
                continue;
            };
            if rec
                .transition_audited(
                    &p.id,
                    &[status::PROPOSED, status::APPROVED],
                    status::EXPIRED,
                    None,
                    Some(&why),
                    now,
                    audit("system", "plan.expire", &p.id, Some(&why)),
                )
                .await?
            {
                self.hub.plan_changed(&p.id, status::EXPIRED, now);
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
            status: status::PROPOSED.into(),
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

    /// A stored plan with its orders.
    ///
    /// # Errors
    /// Unknown id, store failure.
    pub async fn plan(&self, id: &str) -> Result<PlanDetail, LiveError> {
        let rec = self.records();
        let p = rec.plan(id).await?;
        p.detail(rec.orders(id).await?)
    }

    /// The newest plans first.
    ///
    /// # Errors
    /// Store failure.
    pub async fn plans(&self, limit: i64) -> Result<Vec<app::api::PlanSummary>, LiveError> {
        Ok(self
            .records()
            .plans(limit)
            .await?
            .iter()
            .map(StoredPlan::summary)
            .collect())
    }

    /// Whether newer data than the plan's day is in the store, or its lifetime is over; expires it
    /// if so and says why.
    async fn check_expiry(&self, p: &StoredPlan, now: i64) -> Result<Option<String>, LiveError> {
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
        if p.status == status::PROPOSED && now > p.expires_at {
            self.expire_plans(p.data_day, now, false).await?;
            return Ok(Some(format!(
                "plan {} expired: not approved within {} h",
                p.id, self.settings.plan_ttl_hours
            )));
        }
        Ok(None)
    }

    /// Approves a proposed plan as `actor` and executes it.
    ///
    /// # Errors
    /// Unknown id; not proposed; blocked by risk or the kill switch; expired; execution errors.
    pub async fn approve(&self, id: &str, actor: &str) -> Result<PlanDetail, LiveError> {
        let rec = self.records();
        let now = self.clock.now_ms();
        let p = rec.plan(id).await?;
        if p.status != status::PROPOSED {
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
                &[status::PROPOSED],
                status::APPROVED,
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
                &[status::PROPOSED],
                status::REJECTED,
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
        self.hub.plan_changed(id, status::REJECTED, now);
        self.plan(id).await
    }

    /// Executes an approved plan, or resumes one left `executing` (after a crash or a broker
    /// timeout): every order is written before it is sent, and the broker is asked about ids it
    /// may already have before anything is sent, so nothing trades twice.
    ///
    /// # Errors
    /// Not approved/executing; kill switch on; expired; turnover limit; broker or store failure
    /// (the plan stays `executing` and can be resumed).
    pub async fn execute(&self, id: &str, actor: &str) -> Result<PlanDetail, LiveError> {
        let _guard = self.run_lock.lock().await;
        let rec = self.records();
        let now = self.clock.now_ms();
        let p = rec.plan(id).await?;
        if p.status != status::APPROVED && p.status != status::EXECUTING {
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
        if p.status == status::APPROVED {
            if let Some(why) = self.check_expiry(&p, now).await? {
                return Err(LiveError::Conflict(why));
            }
            // Turnover may have moved since the plan was made (another plan executed).
            let traded_today = rec
                .traded_since(&p.broker, now.div_euclid(DAY_MS) * DAY_MS)
                .await?;
            let planned: f64 = p
                .body
                .orders
                .iter()
                .map(|o| {
                    let mark = p
                        .body
                        .lines
                        .iter()
                        .find(|l| l.symbol == o.symbol)
                        .map_or(0.0, |l| l.mark_price);
                    (o.units * mark).abs()
                })
                .sum();
            let turnover = (traded_today + planned) / p.equity;
            if turnover > self.settings.risk.max_daily_turnover {
                let why = format!(
                    "max_daily_turnover: {turnover:.4} exceeds the limit {:.4} (${traded_today:.2} already traded today)",
                    self.settings.risk.max_daily_turnover
                );
                return Err(LiveError::Blocked {
                    id: id.into(),
                    reasons: vec![why],
                });
            }
            // Mark the paper venue to the plan's day (a restart may have lost its marks).
            let (panel, t) = self.panel_at_last_complete(now).await?;
            if panel.day(t) == p.data_day {
                self.broker.observe_close(&panel, t, true).await?;
            }
            rec.transition_audited(
                id,
                &[status::APPROVED],
                status::EXECUTING,
                None,
                None,
                now,
                audit(actor, "plan.execute", id, None),
            )
            .await?;
            self.hub.plan_changed(id, status::EXECUTING, now);
        } else {
            let (panel, t) = self.panel_at_last_complete(now).await?;
            if panel.day(t) == p.data_day {
                self.broker.observe_close(&panel, t, true).await?;
            }
            rec.audit(actor, "plan.resume", Some(id), None, now).await?;
        }

        // Write-ahead: every order exists as `pending` before anything is sent.
        for o in &p.body.orders {
            let line = p.body.lines.iter().find(|l| l.symbol == o.symbol);
            rec.insert_order(
                id,
                &p.broker,
                o,
                line.map_or("", |l| l.size.as_str()),
                line.map_or("", |l| l.limit_price.as_str()),
                now,
            )
            .await?;
        }
        let known: BTreeMap<String, String> = rec
            .orders(id)
            .await?
            .into_iter()
            .map(|o| (o.client_order_id, o.status))
            .collect();
        let unsettled: Vec<&OrderRequest> = p
            .body
            .orders
            .iter()
            .filter(|o| {
                matches!(
                    known.get(&o.client_order_id).map(String::as_str),
                    Some("pending" | "unknown" | "open")
                )
            })
            .collect();
        // Ask the venue first: anything it already has is recorded, not re-sent.
        let ids: Vec<String> = unsettled
            .iter()
            .map(|o| o.client_order_id.clone())
            .collect();
        let mut to_send: Vec<OrderRequest> = Vec::new();
        if !ids.is_empty() {
            let seen = self.broker.reconcile(&ids).await?;
            for o in &unsettled {
                match seen.iter().find(|r| r.client_order_id == o.client_order_id) {
                    Some(r) if r.status != OrderStatus::Unknown => {
                        let mut r = r.clone();
                        if r.symbol.is_empty() {
                            r.symbol = o.symbol.clone();
                        }
                        rec.record_report(id, &p.broker, &r, self.clock.now_ms())
                            .await?;
                        self.hub.orders(id, self.clock.now_ms());
                    }
                    _ => to_send.push((*o).clone()),
                }
            }
        }
        if !to_send.is_empty() {
            let reports: Vec<OrderReport> = self.broker.submit(&to_send).await?;
            for r in &reports {
                rec.record_report(id, &p.broker, r, self.clock.now_ms())
                    .await?;
            }
            self.hub.orders(id, self.clock.now_ms());
        }

        let orders = rec.orders(id).await?;
        let failed: Vec<String> = orders
            .iter()
            .filter(|o| o.status != "filled")
            .map(|o| match &o.reason {
                Some(r) => format!("{} {}: {r}", o.symbol, o.status),
                None => format!("{} {}", o.symbol, o.status),
            })
            .collect();
        let now = self.clock.now_ms();
        let (to, note) = if failed.is_empty() {
            (status::DONE, None)
        } else {
            (status::PARTIALLY_FAILED, Some(failed.join("; ")))
        };
        let action = format!("plan.{to}");
        rec.transition_audited(
            id,
            &[status::EXECUTING],
            to,
            None,
            note.as_deref(),
            now,
            audit(actor, &action, id, note.as_deref()),
        )
        .await?;
        let account = self.broker.account().await?;
        rec.snapshot(&p.broker, &account, now).await?;
        drop(_guard);
        let done = self.plan(id).await?;
        self.hub.plan(&done, now);
        self.hub.portfolio(now);
        Ok(done)
    }

    /// Recomputes a stored plan's targets from its stored config, on the store's data cut at its
    /// data day, with a fresh cache, and compares them bit for bit.
    ///
    /// # Errors
    /// Unknown id, the stored config no longer parses, the data day is gone from the store.
    pub async fn replay(&self, id: &str) -> Result<Replay, LiveError> {
        let p = self.records().plan(id).await?;
        let order = plan_venue_order(&p)?;
        let Some((_, panel)) = self.store.panel_for(&order).await? else {
            return Err(LiveError::NoData);
        };
        let listings = plan_listings(&self.store, &p).await?;
        let recomputed = recompute_plan(&p, &panel, listings)?;
        let differences = plan_differences(&p, &recomputed);
        Ok(Replay {
            plan_id: id.into(),
            identical: differences.is_empty(),
            kernel_version_matches: p.kernel_version == shared::KERNEL_VERSION,
            differences,
        })
    }

    /// The account now, with targets and strategy allocation of the last complete day.
    ///
    /// # Errors
    /// Broker or store failure.
    pub async fn portfolio(&self) -> Result<Portfolio, LiveError> {
        let now = self.clock.now_ms();
        let mut targets_by_symbol = BTreeMap::new();
        let mut why = BTreeMap::new();
        let mut strategies = Vec::new();
        let mut freshness = DataFreshness {
            last_complete_day: None,
            age_hours: None,
            stale: true,
            max_age_hours: self.settings.max_data_age_hours,
        };
        let mut account = None;
        match self.panel_at_last_complete(now).await {
            Ok((panel, t)) => {
                let day = panel.day(t);
                let age = age_hours(day, now);
                freshness.last_complete_day = Some(day.to_string());
                freshness.age_hours = Some(age);
                freshness.stale = age > self.settings.max_data_age_hours;
                let (listings, _) = self.store.venue_universe(self.config.venue()).await?;
                let targets =
                    self.engine_on(listings)?
                        .targets_at(&panel, t, &mut TargetCache::new());
                targets_by_symbol = nonzero(&panel, &targets.weights);
                why = super::valuation::contributions(&panel, &targets, self.engine.leverage);
                strategies = strategy_views(&panel, &targets)
                    .into_iter()
                    .map(|s| s.allocation)
                    .collect();
                // Valued at that day's closes; a read changes nothing, not even the paper
                // venue's marks in memory.
                account = Some(self.broker.account_marked(&panel, t).await?);
            }
            Err(LiveError::NoData) => {}
            Err(e) => return Err(e),
        }
        let account = match account {
            Some(a) => a,
            None => self.broker.account().await?,
        };
        // The book at the venue's current marks; without them (the venue's mark endpoint is
        // down), at the account's own, said so.
        let held: Vec<String> = account.positions.iter().map(|p| p.symbol.clone()).collect();
        let valuation = match self.broker.current_marks(&held).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "current marks unavailable; valuing at the account's marks");
                crate::broker::Valuation {
                    source: "account".into(),
                    marks: BTreeMap::new(),
                }
            }
        };
        let valued = super::valuation::revalue(&account, &valuation);
        let e = valued.equity;
        let mut positions: Vec<PortfolioPosition> = valued
            .positions
            .iter()
            .map(|p| {
                let value = p.units * p.mark_price;
                PortfolioPosition {
                    symbol: p.symbol.clone(),
                    units: p.units,
                    mark_price: p.mark_price,
                    value,
                    weight: if e > 0.0 { value / e } else { 0.0 },
                    target_weight: targets_by_symbol.get(&p.symbol).copied().unwrap_or(0.0),
                    mark_as_of: p.mark_as_of,
                    contributions: why.get(&p.symbol).cloned().unwrap_or_default(),
                }
            })
            .collect();
        for (s, w) in &targets_by_symbol {
            if !positions.iter().any(|p| &p.symbol == s) {
                positions.push(PortfolioPosition {
                    symbol: s.clone(),
                    units: 0.0,
                    mark_price: 0.0,
                    value: 0.0,
                    weight: 0.0,
                    target_weight: *w,
                    mark_as_of: None,
                    contributions: why.get(s).cloned().unwrap_or_default(),
                });
            }
        }
        positions.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let gross = positions.iter().map(|p| p.weight.abs()).sum();
        let net = positions.iter().map(|p| p.weight).sum();
        let snapshot = super::valuation::last_snapshot(&self.store, self.broker.name()).await?;
        Ok(Portfolio {
            broker: self.broker.name().into(),
            as_of: now,
            equity: e,
            gross_exposure: gross,
            net_exposure: net,
            positions,
            strategies,
            data: freshness,
            kill_switch: self.records().kill_switch().await?.active,
            marks_source: valued.source,
            snapshot_at: snapshot.map(|s| s.0),
            snapshot_equity: snapshot.map(|s| s.1),
            pnl_since_snapshot: snapshot.map(|s| e - s.1),
            simulated: false,
        })
    }

    /// The kill switch.
    ///
    /// # Errors
    /// Store failure.
    pub async fn kill_switch(&self) -> Result<KillSwitch, LiveError> {
        self.records().kill_switch().await
    }

    /// Turns the kill switch on (`active`) or off, as `actor`.
    ///
    /// # Errors
    /// Store failure.
    pub async fn set_kill_switch(
        &self,
        active: bool,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<KillSwitch, LiveError> {
        let rec = self.records();
        let now = self.clock.now_ms();
        // The switch and its audit row, in one transaction.
        rec.set_kill_switch(active, actor, reason, now).await?;
        self.hub.kill_switch(active, actor, reason, now);
        rec.kill_switch().await
    }

    /// Equity history of this server's broker, oldest first.
    ///
    /// # Errors
    /// Store failure.
    pub async fn equity_history(&self) -> Result<Vec<app::api::EquityPoint>, LiveError> {
        self.records().equity(Some(self.broker.name())).await
    }

    /// One page of the audit log, newest first (see [`super::records::Records::audit_page`];
    /// `limit` is clamped to 1..=1000).
    ///
    /// # Errors
    /// Store failure.
    pub async fn audit_page(
        &self,
        limit: i64,
        before: Option<&str>,
    ) -> Result<app::api::AuditPage, LiveError> {
        self.records()
            .audit_page(limit.clamp(1, 1000), before)
            .await
    }

    /// The audit log, oldest first: (at, actor, action, subject, detail).
    ///
    /// # Errors
    /// Store failure.
    #[allow(clippy::type_complexity)]
    pub async fn audit_log(
        &self,
    ) -> Result<Vec<(i64, String, String, Option<String>, Option<String>)>, LiveError> {
        self.records().audit_log().await
    }
}

/// A stored plan's decision made again: its stored config, a fresh engine and cache, on a
/// panel cut at its data day. [`LiveService::replay`] and the consistency report
/// (`crate::parity::signals`) both call it, so "recomputed" means one thing.
#[derive(Clone, Debug, PartialEq)]
pub struct Recomputed {
    /// Blended target weights, non-zero only (as [`PlanBody::targets`]).
    pub targets: BTreeMap<String, f64>,
    pub strategies: Vec<PlanStrategy>,
    /// Rows the engine reads, ending at the data day: the window a data revision can matter in.
    pub lookback: usize,
}

/// Recomputes `plan`'s targets on `panel` (any panel holding its data day: the store's today,
/// or the store as of the plan's data version).
///
/// # Errors
/// The stored config no longer parses or builds; the data day is not in `panel`.
pub fn recompute_plan(
    plan: &StoredPlan,
    panel: &Arc<Panel>,
    listings: Option<Arc<Listings>>,
) -> Result<Recomputed, LiveError> {
    let config =
        Config::from_json(&plan.config_json).map_err(|e| LiveError::Config(e.to_string()))?;
    let mut engine =
        TargetEngine::from_config(&config).map_err(|e| LiveError::Config(e.to_string()))?;
    engine.listings = listings;
    let t = panel.row_of(plan.data_day).ok_or_else(|| {
        LiveError::NotFound(format!("data day {} is not in the store", plan.data_day))
    })?;
    let panel = cut(panel, t)?;
    let targets = engine.targets_at(&panel, t, &mut TargetCache::new());
    Ok(Recomputed {
        targets: nonzero(&panel, &targets.weights),
        strategies: strategy_views(&panel, &targets),
        lookback: engine.lookback(),
    })
}

/// The listings a stored plan's config trades on (its `venue`), as stored now: what
/// [`recompute_plan`] needs to make the plan's decision again.
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

/// How a recomputation differs from the stored plan, bit for bit: one line per differing blended
/// target and per differing strategy view; empty when identical.
pub fn plan_differences(plan: &StoredPlan, recomputed: &Recomputed) -> Vec<String> {
    let p = &plan.body;
    let mut differences = Vec::new();
    if recomputed.targets != p.targets {
        let keys: BTreeSet<&String> = recomputed.targets.keys().chain(p.targets.keys()).collect();
        for k in keys {
            let (a, b) = (p.targets.get(k), recomputed.targets.get(k));
            if a.map(|x| x.to_bits()) != b.map(|x| x.to_bits()) {
                differences.push(format!("target {k}: stored {a:?}, recomputed {b:?}"));
            }
        }
    }
    if recomputed.strategies != p.strategies {
        for (a, b) in p.strategies.iter().zip(&recomputed.strategies) {
            if a != b {
                differences.push(format!(
                    "strategy {}: stored and recomputed differ",
                    a.allocation.name
                ));
            }
        }
        if p.strategies.len() != recomputed.strategies.len() {
            differences.push("the number of strategies differs".into());
        }
    }
    differences
}

/// The audit row of a plan's move.
fn audit<'a>(
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
