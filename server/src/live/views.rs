//! Read models of the live trader: a plan with its orders, the plan list, the portfolio (the
//! account valued now, with the last complete day's targets and allocation), the kill switch,
//! equity history and the audit log. Nothing here sends an order or moves a plan, except the
//! kill switch's setter (which only records and announces).

use super::cycle::{age_hours, nonzero, strategy_views};
use super::records::StoredPlan;
use super::{LiveError, LiveService};
use app::api::{DataFreshness, KillSwitch, PlanDetail, Portfolio, PortfolioPosition};
use shared::portfolio::engine::TargetCache;
use std::collections::BTreeMap;

impl LiveService {
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
