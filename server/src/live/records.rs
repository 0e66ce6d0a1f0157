//! The live trader's tables: plans, orders, fills, position and equity snapshots, the kill
//! switch and the append-only audit log. Plain SQL both engines accept.

use super::LiveError;
use crate::broker::{Account, OrderReport, OrderRequest, OrderStatus};
use crate::store::Store;
use app::api::{EquityPoint, KillSwitch, PlanDetail, PlanOrder, PlanSummary};
use sqlx::Row;

pub use super::status::{OrderState, PlanAction, PlanStatus};

/// A plan as stored: the columns plus the JSON body.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanBody {
    pub config_version: String,
    pub kernel_version: String,
    pub policy: String,
    pub lines: Vec<app::api::PlanLine>,
    pub targets: std::collections::BTreeMap<String, f64>,
    pub strategies: Vec<app::api::PlanStrategy>,
    pub risk: app::api::RiskReport,
    pub block_reasons: Vec<String>,
    pub orders: Vec<OrderRequest>,
    /// The store's data version the plan's panel was built at: the consistency report rebuilds
    /// that panel (`Store::build_panel_as_of`) to recompute the plan from the inputs it saw.
    /// A version, not a time: tests drive the cycle on a fixed clock while the store stamps
    /// real time. `None` in plans made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_version: Option<i64>,
}

/// A new plan to insert.
pub struct NewPlan<'a> {
    pub id: &'a str,
    pub created_at: i64,
    pub broker: &'a str,
    pub data_day: shared::Day,
    pub config_hash: &'a str,
    pub config_json: &'a str,
    pub equity: f64,
    pub expires_at: i64,
    pub body: &'a PlanBody,
}

/// A stored plan.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredPlan {
    pub id: String,
    pub created_at: i64,
    pub status: PlanStatus,
    pub broker: String,
    pub data_day: shared::Day,
    pub config_hash: String,
    pub config_json: String,
    pub kernel_version: String,
    pub equity: f64,
    pub blocked: bool,
    pub body: PlanBody,
    pub expires_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
}

impl StoredPlan {
    pub fn summary(&self) -> PlanSummary {
        let orders = self.body.orders.len();
        let wanted = self
            .body
            .lines
            .iter()
            .filter(|l| l.action != PlanAction::Hold)
            .count();
        PlanSummary {
            id: self.id.clone(),
            status: self.status,
            broker: self.broker.clone(),
            created_at: self.created_at,
            data_day: self.data_day.to_string(),
            equity: self.equity,
            orders,
            dropped: wanted - orders,
            blocked: self.blocked,
            block_reasons: self.body.block_reasons.clone(),
            decided_by: self.decided_by.clone(),
            decided_at: self.decided_at,
            expires_at: self.expires_at,
            // Set by the API from the demo runs (`crate::demo::Labels`).
            simulated: false,
        }
    }

    /// The API view, with the orders sent so far.
    ///
    /// # Errors
    /// The stored config is not JSON (the store was edited by hand).
    pub fn detail(&self, orders: Vec<PlanOrder>) -> Result<PlanDetail, LiveError> {
        Ok(PlanDetail {
            summary: self.summary(),
            config_version: self.config_hash.clone(),
            config: serde_json::from_str(&self.config_json)
                .map_err(|e| LiveError::Corrupt(format!("plan {} config: {e}", self.id)))?,
            kernel_version: self.kernel_version.clone(),
            policy: self.body.policy.clone(),
            lines: self.body.lines.clone(),
            targets: self.body.targets.clone(),
            strategies: self.body.strategies.clone(),
            risk: self.body.risk.clone(),
            orders,
            note: self.note.clone(),
        })
    }
}

pub use crate::ids::new_id;

const PLAN_COLUMNS: &str = "id, created_at, status, broker, data_day, config_hash, config_json, \
     kernel_version, equity, blocked, body, expires_at, decided_by, decided_at, note";

fn plan_from_row(r: &sqlx::any::AnyRow) -> Result<StoredPlan, LiveError> {
    let body: String = r.try_get(10)?;
    let id: String = r.try_get(0)?;
    let status: PlanStatus = r
        .try_get::<String, _>(2)?
        .parse()
        .map_err(|e| LiveError::Corrupt(format!("plan {id}: {e}")))?;
    Ok(StoredPlan {
        status,
        body: serde_json::from_str(&body)
            .map_err(|e| LiveError::Corrupt(format!("plan {id} body: {e}")))?,
        id,
        created_at: r.try_get(1)?,
        broker: r.try_get(3)?,
        data_day: shared::Day(r.try_get::<i64, _>(4)? as i32),
        config_hash: r.try_get(5)?,
        config_json: r.try_get(6)?,
        kernel_version: r.try_get(7)?,
        equity: r.try_get(8)?,
        blocked: r.try_get::<i64, _>(9)? != 0,
        expires_at: r.try_get(11)?,
        decided_by: r.try_get(12)?,
        decided_at: r.try_get(13)?,
        note: r.try_get(14)?,
    })
}

/// `$first, $first+1, ...`: `n` numbered placeholders (never the values themselves).
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Store access for the live trader.
pub struct Records<'a> {
    pub store: &'a Store,
}

impl Records<'_> {
    /// Inserts a proposed plan.
    ///
    /// # Errors
    /// Database failure.
    pub async fn insert_plan(&self, p: &NewPlan<'_>) -> Result<(), LiveError> {
        let body = serde_json::to_string(p.body).map_err(|e| LiveError::Corrupt(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO live_plans ({PLAN_COLUMNS}, policy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL, NULL, $13)"
        ))
        .bind(p.id.to_string())
        .bind(p.created_at)
        .bind(PlanStatus::Proposed.as_str())
        .bind(p.broker.to_string())
        .bind(p.data_day.0 as i64)
        .bind(p.config_hash.to_string())
        .bind(p.config_json.to_string())
        .bind(p.body.kernel_version.clone())
        .bind(p.equity)
        .bind(i64::from(!p.body.block_reasons.is_empty()))
        .bind(body)
        .bind(p.expires_at)
        .bind(p.body.policy.clone())
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// One plan.
    ///
    /// # Errors
    /// [`LiveError::NotFound`] or a database failure.
    pub async fn plan(&self, id: &str) -> Result<StoredPlan, LiveError> {
        let row = sqlx::query(&format!(
            "SELECT {PLAN_COLUMNS} FROM live_plans WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.store.pool())
        .await?;
        match row {
            Some(r) => plan_from_row(&r),
            None => Err(LiveError::NotFound(format!("no plan {id:?}"))),
        }
    }

    /// The newest plans first.
    ///
    /// # Errors
    /// Database failure.
    pub async fn plans(&self, limit: i64) -> Result<Vec<StoredPlan>, LiveError> {
        let rows = sqlx::query(&format!(
            "SELECT {PLAN_COLUMNS} FROM live_plans ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(plan_from_row).collect()
    }

    /// Plans whose data day lies in `from..=to`, oldest data day first (then by creation).
    ///
    /// # Errors
    /// Database failure.
    pub async fn plans_between(
        &self,
        from: shared::Day,
        to: shared::Day,
    ) -> Result<Vec<StoredPlan>, LiveError> {
        let rows = sqlx::query(&format!(
            "SELECT {PLAN_COLUMNS} FROM live_plans WHERE data_day >= $1 AND data_day <= $2 \
             ORDER BY data_day, created_at, id"
        ))
        .bind(from.0 as i64)
        .bind(to.0 as i64)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(plan_from_row).collect()
    }

    /// The data days of the oldest and newest plans, if any.
    ///
    /// # Errors
    /// Database failure.
    pub async fn plan_day_range(&self) -> Result<Option<(shared::Day, shared::Day)>, LiveError> {
        let row = sqlx::query("SELECT MIN(data_day), MAX(data_day) FROM live_plans")
            .fetch_one(self.store.pool())
            .await?;
        let (lo, hi): (Option<i64>, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        Ok(lo
            .zip(hi)
            .map(|(lo, hi)| (shared::Day(lo as i32), shared::Day(hi as i32))))
    }

    /// Plans in one of `statuses`.
    ///
    /// # Errors
    /// Database failure.
    pub async fn plans_in(&self, statuses: &[PlanStatus]) -> Result<Vec<StoredPlan>, LiveError> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM live_plans WHERE status IN ({}) ORDER BY created_at, id",
            placeholders(1, statuses.len())
        );
        let mut q = sqlx::query(&sql);
        for s in statuses {
            q = q.bind(s.as_str());
        }
        let rows = q.fetch_all(self.store.pool()).await?;
        rows.iter().map(plan_from_row).collect()
    }

    /// The id of the newest plan (by creation), if any: only it may be resumed.
    ///
    /// # Errors
    /// Database failure.
    pub async fn newest_plan_id(&self) -> Result<Option<String>, LiveError> {
        let row =
            sqlx::query("SELECT id FROM live_plans ORDER BY created_at DESC, id DESC LIMIT 1")
                .fetch_optional(self.store.pool())
                .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Moves a plan from one of `from` to `to`; false when it was not in one of `from` (someone
    /// else moved it first). `decided` sets who and when.
    ///
    /// # Errors
    /// Database failure.
    pub async fn transition(
        &self,
        id: &str,
        from: &[PlanStatus],
        to: PlanStatus,
        decided: Option<(&str, i64)>,
        note: Option<&str>,
        now: i64,
    ) -> Result<bool, LiveError> {
        let mut conn = self.store.pool().acquire().await?;
        transition_on(&mut conn, id, from, to, decided, note, now).await
    }

    /// [`Records::transition`] and, when the plan moved, its audit row — in one transaction, so
    /// the log never misses a change that happened nor records one that did not.
    ///
    /// # Errors
    /// Database failure (then neither is written).
    #[allow(clippy::too_many_arguments)]
    pub async fn transition_audited(
        &self,
        id: &str,
        from: &[PlanStatus],
        to: PlanStatus,
        decided: Option<(&str, i64)>,
        note: Option<&str>,
        now: i64,
        entry: AuditRow<'_>,
    ) -> Result<bool, LiveError> {
        let mut tx = self.store.begin_write().await?;
        let moved = transition_on(&mut tx, id, from, to, decided, note, now).await?;
        if moved {
            audit_on(&mut tx, &entry, now).await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// [`Records::transition_audited`] from exactly `from`, where losing the race is an error:
    /// the caller must stop (another process or request moved the plan first).
    ///
    /// # Errors
    /// [`LiveError::Conflict`] naming the plan, the expected and the actual status; a database
    /// failure.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_plan(
        &self,
        id: &str,
        from: PlanStatus,
        to: PlanStatus,
        decided: Option<(&str, i64)>,
        note: Option<&str>,
        now: i64,
        entry: AuditRow<'_>,
    ) -> Result<(), LiveError> {
        if self
            .transition_audited(id, &[from], to, decided, note, now, entry)
            .await?
        {
            return Ok(());
        }
        let actual = self.plan(id).await.map(|p| p.status.as_str().to_string());
        Err(LiveError::Conflict(format!(
            "plan {id} is {}, not {from}: another request or process moved it first; nothing was done",
            actual.unwrap_or_else(|e| e.to_string())
        )))
    }

    /// Writes an order row before it is sent (ignored when it exists: a resumed execution).
    ///
    /// # Errors
    /// Database failure.
    pub async fn insert_order(
        &self,
        plan_id: &str,
        broker: &str,
        o: &OrderRequest,
        size: &str,
        limit_price: &str,
        now: i64,
    ) -> Result<(), LiveError> {
        sqlx::query(
            "INSERT INTO live_orders (client_order_id, plan_id, broker, symbol, units, size, limit_price, \
             reduce_only, status, filled_units, avg_price, fee, notional, reason, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, 0, 0, 0, NULL, $9, $9) \
             ON CONFLICT (client_order_id) DO NOTHING",
        )
        .bind(o.client_order_id.clone())
        .bind(plan_id.to_string())
        .bind(broker.to_string())
        .bind(o.symbol.clone())
        .bind(o.units)
        .bind(size.to_string())
        .bind(limit_price.to_string())
        .bind(i64::from(o.reduce_only))
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Records what the broker said about an order, and its fill.
    ///
    /// # Errors
    /// Database failure.
    pub async fn record_report(
        &self,
        plan_id: &str,
        broker: &str,
        r: &OrderReport,
        now: i64,
    ) -> Result<(), LiveError> {
        let reason = match &r.status {
            OrderStatus::Rejected { reason } => Some(reason.clone()),
            _ => None,
        };
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "UPDATE live_orders SET status = $1, filled_units = $2, avg_price = $3, fee = $4, \
             notional = $5, reason = $6, updated_at = $7 WHERE client_order_id = $8",
        )
        .bind(super::status::order_state_of(&r.status).as_str())
        .bind(r.filled_units)
        .bind(r.avg_price)
        .bind(r.fee)
        .bind((r.filled_units * r.avg_price).abs())
        .bind(reason)
        .bind(now)
        .bind(r.client_order_id.clone())
        .execute(&mut *tx)
        .await?;
        if r.filled_units != 0.0 {
            sqlx::query(
                "INSERT INTO live_fills (id, client_order_id, plan_id, broker, symbol, units, price, fee, at) \
                 VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET \
                 units = excluded.units, price = excluded.price, fee = excluded.fee",
            )
            .bind(r.client_order_id.clone())
            .bind(plan_id.to_string())
            .bind(broker.to_string())
            .bind(r.symbol.clone())
            .bind(r.filled_units)
            .bind(r.avg_price)
            .bind(r.fee)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Notes why an order's outcome is what it is (an `unknown` order's send error).
    ///
    /// # Errors
    /// Database failure.
    pub async fn set_order_reason(
        &self,
        client_order_id: &str,
        reason: &str,
    ) -> Result<(), LiveError> {
        sqlx::query("UPDATE live_orders SET reason = $1 WHERE client_order_id = $2")
            .bind(reason.to_string())
            .bind(client_order_id.to_string())
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Closes a plan's orders the venue does not have — `pending` (never sent, or sent and not
    /// known to the venue when asked) and `unknown` after a reconciliation found nothing — as
    /// `rejected` with `reason`: nothing of them filled. Returns how many.
    ///
    /// # Errors
    /// Database failure.
    pub async fn close_unsent(
        &self,
        plan_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<u64, LiveError> {
        let r = sqlx::query(
            "UPDATE live_orders SET status = $1, reason = COALESCE(reason || '; ', '') || $2, updated_at = $3 \
             WHERE plan_id = $4 AND status IN ($5, $6)",
        )
        .bind(OrderState::Rejected.as_str())
        .bind(reason.to_string())
        .bind(now)
        .bind(plan_id.to_string())
        .bind(OrderState::Pending.as_str())
        .bind(OrderState::Unknown.as_str())
        .execute(self.store.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// Closes a plan's `pending` orders — written ahead, never handed to the venue — as
    /// `rejected` with `reason` (the kill switch stopped the batch). `unknown` ones are left for
    /// reconciliation: they may have landed.
    ///
    /// # Errors
    /// Database failure.
    pub async fn close_never_sent(
        &self,
        plan_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<u64, LiveError> {
        let r = sqlx::query(
            "UPDATE live_orders SET status = $1, reason = COALESCE(reason || '; ', '') || $2, updated_at = $3 \
             WHERE plan_id = $4 AND status = $5",
        )
        .bind(OrderState::Rejected.as_str())
        .bind(reason.to_string())
        .bind(now)
        .bind(plan_id.to_string())
        .bind(OrderState::Pending.as_str())
        .execute(self.store.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// A plan's orders.
    ///
    /// # Errors
    /// Database failure.
    pub async fn orders(&self, plan_id: &str) -> Result<Vec<PlanOrder>, LiveError> {
        let rows = sqlx::query(
            "SELECT client_order_id, symbol, size, limit_price, status, filled_units, avg_price, fee, \
             reason, updated_at FROM live_orders WHERE plan_id = $1 ORDER BY symbol",
        )
        .bind(plan_id.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PlanOrder {
                    client_order_id: r.try_get(0)?,
                    symbol: r.try_get(1)?,
                    size: r.try_get(2)?,
                    limit_price: r.try_get(3)?,
                    status: r
                        .try_get::<String, _>(4)?
                        .parse()
                        .map_err(LiveError::Corrupt)?,
                    filled_units: r.try_get(5)?,
                    avg_price: r.try_get(6)?,
                    fee: r.try_get(7)?,
                    reason: r.try_get(8)?,
                    updated_at: r.try_get(9)?,
                })
            })
            .collect()
    }

    /// Fills recorded for a plan: (client order id, units, price).
    ///
    /// # Errors
    /// Database failure.
    pub async fn fills(&self, plan_id: &str) -> Result<Vec<(String, f64, f64)>, LiveError> {
        let rows = sqlx::query(
            "SELECT client_order_id, units, price FROM live_fills WHERE plan_id = $1 ORDER BY id",
        )
        .bind(plan_id.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// USD traded on `broker` since `since_ms` (filled notional).
    ///
    /// # Errors
    /// Database failure.
    pub async fn traded_since(&self, broker: &str, since_ms: i64) -> Result<f64, LiveError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(notional), 0.0) FROM live_orders WHERE broker = $1 AND updated_at >= $2",
        )
        .bind(broker.to_string())
        .bind(since_ms)
        .fetch_one(self.store.pool())
        .await?;
        Ok(row.try_get::<f64, _>(0)?)
    }

    /// Snapshots the account: one equity row and one row per position. A second snapshot at
    /// the same `(broker, now)` (two in one millisecond: a cycle then an execution) replaces the
    /// first whole, in one transaction: the instant's position rows are deleted first, so a
    /// position closed in between does not linger next to the newer equity.
    ///
    /// # Errors
    /// Database failure.
    pub async fn snapshot(
        &self,
        broker: &str,
        account: &Account,
        now: i64,
    ) -> Result<(), LiveError> {
        let e = account.equity;
        let (mut gross, mut net) = (0.0, 0.0);
        for p in &account.positions {
            let w = if e > 0.0 {
                p.units * p.mark_price / e
            } else {
                0.0
            };
            gross += w.abs();
            net += w;
        }
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM position_snapshots WHERE broker = $1 AND at = $2")
            .bind(broker.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO equity_snapshots (at, broker, equity, gross, net) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (broker, at) DO UPDATE SET equity = excluded.equity, gross = excluded.gross, net = excluded.net",
        )
        .bind(now)
        .bind(broker.to_string())
        .bind(e)
        .bind(gross)
        .bind(net)
        .execute(&mut *tx)
        .await?;
        for p in &account.positions {
            sqlx::query(
                "INSERT INTO position_snapshots (at, broker, symbol, units, mark_price, weight) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (broker, at, symbol) DO UPDATE SET \
                 units = excluded.units, mark_price = excluded.mark_price, weight = excluded.weight",
            )
            .bind(now)
            .bind(broker.to_string())
            .bind(p.symbol.clone())
            .bind(p.units)
            .bind(p.mark_price)
            .bind(if e > 0.0 { p.units * p.mark_price / e } else { 0.0 })
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Equity history, oldest first.
    ///
    /// # Errors
    /// Database failure.
    pub async fn equity(&self, broker: Option<&str>) -> Result<Vec<EquityPoint>, LiveError> {
        let sql =
            format!(
            "SELECT at, broker, equity, gross, net FROM equity_snapshots {} ORDER BY at, broker",
            if broker.is_some() { "WHERE broker = $1" } else { "" }
        );
        let mut q = sqlx::query(&sql);
        if let Some(b) = broker {
            q = q.bind(b.to_string());
        }
        let rows = q.fetch_all(self.store.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(EquityPoint {
                    at: r.try_get(0)?,
                    broker: r.try_get(1)?,
                    equity: r.try_get(2)?,
                    gross_exposure: r.try_get(3)?,
                    net_exposure: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Appends to the audit log.
    ///
    /// # Errors
    /// Database failure.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: Option<&str>,
        detail: Option<&str>,
        now: i64,
    ) -> Result<(), LiveError> {
        let mut conn = self.store.pool().acquire().await?;
        let entry = AuditRow {
            actor,
            action,
            subject,
            detail,
        };
        audit_on(&mut conn, &entry, now).await
    }

    /// The audit log, oldest first: (at, actor, action, subject, detail).
    ///
    /// # Errors
    /// Database failure.
    #[allow(clippy::type_complexity)]
    pub async fn audit_log(
        &self,
    ) -> Result<Vec<(i64, String, String, Option<String>, Option<String>)>, LiveError> {
        let rows =
            sqlx::query("SELECT at, actor, action, subject, detail FROM audit_log ORDER BY id")
                .fetch_all(self.store.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                ))
            })
            .collect()
    }

    /// One page of the audit log, newest first: at most `limit` entries older than `before`.
    /// `before` is an entry id (the previous page's `next_before`) or Unix milliseconds (every
    /// entry written before that instant): ids start with the zero-padded millisecond they were
    /// written at, so both compare as text.
    ///
    /// # Errors
    /// Database failure.
    pub async fn audit_page(
        &self,
        limit: i64,
        before: Option<&str>,
    ) -> Result<app::api::AuditPage, LiveError> {
        let bound = before.map(|b| match b.parse::<i64>() {
            Ok(ms) => format!("a-{ms:013}"),
            Err(_) => b.to_string(),
        });
        let columns = "SELECT id, at, actor, action, subject, detail FROM audit_log";
        // One more row than asked says whether an older page exists.
        let rows = match &bound {
            Some(b) => {
                sqlx::query(&format!(
                    "{columns} WHERE id < $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(b.clone())
                .bind(limit + 1)
                .fetch_all(self.store.pool())
                .await?
            }
            None => {
                sqlx::query(&format!("{columns} ORDER BY id DESC LIMIT $1"))
                    .bind(limit + 1)
                    .fetch_all(self.store.pool())
                    .await?
            }
        };
        let mut entries = rows
            .iter()
            .map(|r| {
                Ok(app::api::AuditEntry {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    subject: r.try_get(4)?,
                    detail: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let more = entries.len() as i64 > limit;
        entries.truncate(limit.max(0) as usize);
        let next_before = more.then(|| entries.last().map(|e| e.id.clone())).flatten();
        Ok(app::api::AuditPage {
            entries,
            next_before,
        })
    }

    /// The kill switch's state (off when never set).
    ///
    /// # Errors
    /// Database failure.
    pub async fn kill_switch(&self) -> Result<KillSwitch, LiveError> {
        let row = sqlx::query(
            "SELECT active, reason, changed_by, changed_at FROM live_switches WHERE name = 'kill_switch'",
        )
        .fetch_optional(self.store.pool())
        .await?;
        Ok(match row {
            Some(r) => KillSwitch {
                active: r.try_get::<i64, _>(0)? != 0,
                reason: r.try_get(1)?,
                changed_by: r.try_get(2)?,
                changed_at: r.try_get(3)?,
            },
            None => KillSwitch {
                active: false,
                reason: None,
                changed_by: None,
                changed_at: None,
            },
        })
    }

    /// Sets or clears the kill switch, and writes its audit row (`kill_switch.on|off`) in the
    /// same transaction.
    ///
    /// # Errors
    /// Database failure (then neither is written).
    pub async fn set_kill_switch(
        &self,
        active: bool,
        by: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), LiveError> {
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO live_switches (name, active, reason, changed_by, changed_at) VALUES ('kill_switch', $1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET active = excluded.active, reason = excluded.reason, \
             changed_by = excluded.changed_by, changed_at = excluded.changed_at",
        )
        .bind(i64::from(active))
        .bind(reason.map(str::to_string))
        .bind(by.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let entry = AuditRow {
            actor: by,
            action: if active {
                "kill_switch.on"
            } else {
                "kill_switch.off"
            },
            subject: None,
            detail: reason,
        };
        audit_on(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The compare-and-set UPDATE of [`Records::transition`], on a connection (a transaction's or
/// the pool's): it changes the row only while its status is one of `from`, and every move is
/// checked against [`PlanStatus::can_move_to`] first. Statuses are bound, never spliced in.
async fn transition_on(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    from: &[PlanStatus],
    to: PlanStatus,
    decided: Option<(&str, i64)>,
    note: Option<&str>,
    now: i64,
) -> Result<bool, LiveError> {
    if from.is_empty() {
        return Ok(false);
    }
    if let Some(bad) = from.iter().find(|f| !f.can_move_to(to)) {
        return Err(LiveError::Conflict(format!(
            "plan {id}: a {bad} plan cannot become {to}"
        )));
    }
    // Placeholders: $1 status, $2 note, $3 id, then `from`, then the optional ones in order.
    let mut sql = String::from("UPDATE live_plans SET status = $1, note = COALESCE($2, note)");
    let mut next = 4 + from.len();
    if decided.is_some() {
        sql.push_str(&format!(
            ", decided_by = ${next}, decided_at = ${}",
            next + 1
        ));
        next += 2;
    }
    let stamps = match to {
        PlanStatus::Executing => Some("started_at = COALESCE(started_at, "),
        PlanStatus::Done | PlanStatus::PartiallyFailed | PlanStatus::Abandoned => {
            Some("finished_at = (")
        }
        _ => None,
    };
    if let Some(column) = stamps {
        sql.push_str(&format!(", {column}${next})"));
    }
    sql.push_str(&format!(
        " WHERE id = $3 AND status IN ({})",
        placeholders(4, from.len())
    ));
    let mut q = sqlx::query(&sql)
        .bind(to.as_str())
        .bind(note.map(str::to_string))
        .bind(id.to_string());
    for f in from {
        q = q.bind(f.as_str());
    }
    if let Some((by, at)) = decided {
        q = q.bind(by.to_string()).bind(at);
    }
    if stamps.is_some() {
        q = q.bind(now);
    }
    let r = q.execute(&mut *conn).await?;
    Ok(r.rows_affected() == 1)
}

/// One audit-log row to write.
#[derive(Clone, Copy, Debug)]
pub struct AuditRow<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: Option<&'a str>,
    pub detail: Option<&'a str>,
}

async fn audit_on(
    conn: &mut sqlx::AnyConnection,
    e: &AuditRow<'_>,
    now: i64,
) -> Result<(), LiveError> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id("a", now))
    .bind(now)
    .bind(e.actor.to_string())
    .bind(e.action.to_string())
    .bind(e.subject.map(str::to_string))
    .bind(e.detail.map(str::to_string))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The account as one snapshot recorded it: equity and, per symbol, (units, mark price).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountSnapshot {
    pub equity: f64,
    pub positions: std::collections::BTreeMap<String, (f64, f64)>,
}

/// One fill as recorded in `live_fills`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFill {
    pub plan_id: String,
    pub symbol: String,
    /// Signed units (positive buys).
    pub units: f64,
    pub price: f64,
    pub fee: f64,
    /// When it was recorded (Unix ms).
    pub at: i64,
}

/// Reads for the consistency report (`parity`): it asks for the snapshots and fills of a
/// period instead of querying this module's tables itself.
impl Records<'_> {
    /// `broker`'s snapshots taken in `[from_ms, to_ms)`, by time.
    ///
    /// # Errors
    /// Database failure.
    pub async fn snapshots_between(
        &self,
        broker: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::BTreeMap<i64, AccountSnapshot>, LiveError> {
        let rows = sqlx::query(
            "SELECT at, equity FROM equity_snapshots WHERE broker = $1 AND at >= $2 AND at < $3 ORDER BY at",
        )
        .bind(broker.to_string())
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.store.pool())
        .await?;
        let mut out = std::collections::BTreeMap::new();
        for r in &rows {
            let at: i64 = r.try_get(0)?;
            out.insert(
                at,
                AccountSnapshot {
                    equity: r.try_get(1)?,
                    positions: Default::default(),
                },
            );
        }
        let rows = sqlx::query(
            "SELECT at, symbol, units, mark_price FROM position_snapshots WHERE broker = $1 AND at >= $2 AND at < $3",
        )
        .bind(broker.to_string())
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.store.pool())
        .await?;
        for r in &rows {
            let at: i64 = r.try_get(0)?;
            if let Some(s) = out.get_mut(&at) {
                s.positions
                    .insert(r.try_get(1)?, (r.try_get(2)?, r.try_get(3)?));
            }
        }
        Ok(out)
    }

    /// `broker`'s fills recorded at or after `since_ms`, oldest first.
    ///
    /// # Errors
    /// Database failure.
    pub async fn fills_since(
        &self,
        broker: &str,
        since_ms: i64,
    ) -> Result<Vec<StoredFill>, LiveError> {
        let rows = sqlx::query(
            "SELECT plan_id, symbol, units, price, fee, at FROM live_fills WHERE broker = $1 AND at >= $2 ORDER BY at, id",
        )
        .bind(broker.to_string())
        .bind(since_ms)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredFill {
                    plan_id: r.try_get(0)?,
                    symbol: r.try_get(1)?,
                    units: r.try_get(2)?,
                    price: r.try_get(3)?,
                    fee: r.try_get(4)?,
                    at: r.try_get(5)?,
                })
            })
            .collect()
    }
}
