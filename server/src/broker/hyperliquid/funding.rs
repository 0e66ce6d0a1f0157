//! The Hyperliquid account's own funding payments (`userFunding`, hourly), kept in the store so
//! the consistency report can compare them with the model's funding like the paper account's
//! (`hyperliquid_funding`, `hyperliquid_funding_sync`; this module owns both tables).
//!
//! - The broker syncs when the live cycle observes a close (`Broker::observe_close` with
//!   `persist`): from the last stored payment on, or, for an account never synced, from
//!   [`FIRST_SYNC_DAYS`] days before the observed day, up to now (the system clock, or the
//!   clock given to [`HyperliquidBroker::with_history_clock`]). Pages (at most ~500 rows) are
//!   followed from the last time seen (all coins share the hour's time, so a page may end
//!   inside an hour; rows are stored once) until one comes back empty.
//! - A payment's `usdc` is the venue's sign (negative = paid); Lockstep's amounts are what the
//!   account paid (`−usdc`), summed per UTC day of `time` and per Lockstep symbol (`kPEPE` →
//!   `PEPE`), the day the market-data client sums the hourly rates into.
//! - A day is known when it lies inside the synced span: a known day without rows paid nothing;
//!   a day outside is absent from [`Broker::funding_paid`](crate::broker::Broker::funding_paid)
//!   (unknown, not zero).

use super::wire::parse_num;
use super::{addr_hex, symbol_of_coin, HyperliquidBroker, HyperliquidError};
use crate::broker::FundingPaid;
use crate::store::Store;
use serde::Deserialize;
use serde_json::json;
use shared::Day;
use sqlx::Row;
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

/// How far back the first sync of an account reaches before the day the cycle observes.
pub const FIRST_SYNC_DAYS: i64 = 30;

/// One `userFunding` row.
#[derive(Clone, Debug, Deserialize)]
pub struct UserFunding {
    pub time: i64,
    pub delta: FundingDelta,
}

/// Its `delta`: `{"type":"funding","coin","usdc","szi","fundingRate"}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingDelta {
    #[serde(rename = "type")]
    pub kind: String,
    pub coin: String,
    pub usdc: String,
    pub szi: String,
    pub funding_rate: String,
}

/// A payment as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Payment {
    pub time: i64,
    pub coin: String,
    pub usdc: f64,
    pub szi: f64,
    pub funding_rate: f64,
}

/// Parses one row; `Ok(None)` for a delta of another type.
///
/// # Errors
/// [`HyperliquidError::Decode`] naming the field that is not a number.
pub fn payment_of(row: &UserFunding) -> Result<Option<Payment>, HyperliquidError> {
    let d = &row.delta;
    if d.kind != "funding" {
        return Ok(None);
    }
    let num = |name: &str, v: &str| {
        parse_num(v).ok_or_else(|| {
            HyperliquidError::Decode(format!(
                "userFunding at {}: {name} {v:?} of {} is not a number",
                row.time, d.coin
            ))
        })
    };
    Ok(Some(Payment {
        time: row.time,
        coin: d.coin.clone(),
        usdc: num("usdc", &d.usdc)?,
        szi: num("szi", &d.szi)?,
        funding_rate: num("fundingRate", &d.funding_rate)?,
    }))
}

fn store_err(e: sqlx::Error) -> HyperliquidError {
    HyperliquidError::Store(e.to_string())
}

impl HyperliquidBroker {
    fn funding_account(&self) -> String {
        addr_hex(&self.user)
    }

    /// Fetches the account's payments since the last sync (or `FIRST_SYNC_DAYS` before `day`)
    /// and stores them. Returns how many rows were new.
    ///
    /// # Errors
    /// The venue failing or answering garbage; the store failing. Nothing is stored then
    /// beyond complete pages, and the synced span only moves after the last page.
    pub async fn sync_funding(&self, store: &Store, day: Day) -> Result<usize, HyperliquidError> {
        let account = self.funding_account();
        let row = sqlx::query(
            "SELECT synced_from, synced_through FROM hyperliquid_funding_sync WHERE account = $1",
        )
        .bind(account.clone())
        .fetch_optional(store.pool())
        .await
        .map_err(store_err)?;
        let (from, mut start) = match row {
            Some(r) => {
                let from: i64 = r.try_get(0).map_err(store_err)?;
                let through: i64 = r.try_get(1).map_err(store_err)?;
                (from, through + 1)
            }
            None => {
                let from = (day.0 as i64 - FIRST_SYNC_DAYS) * DAY_MS;
                (from, from)
            }
        };
        let end = (self.history_now)();
        let mut new_rows = 0;
        while start <= end {
            let page: Vec<UserFunding> = self
                .info(json!({"type": "userFunding", "user": account, "startTime": start, "endTime": end}))
                .await?;
            let mut payments = Vec::with_capacity(page.len());
            for r in &page {
                if let Some(p) = payment_of(r)? {
                    payments.push(p);
                }
            }
            let Some(last) = page.iter().map(|r| r.time).max() else {
                break;
            };
            if last < start {
                return Err(HyperliquidError::Decode(format!(
                    "userFunding: page from {start} ends at {last}"
                )));
            }
            new_rows += self.store_payments(store, &payments).await?;
            // Every coin is paid at the same hour: a page cut inside one hour's rows would lose
            // the rest with `last + 1`. Ask again from `last` (the rows seen are stored once),
            // and move past it only when a page holds nothing newer.
            start = if last > start { last } else { last + 1 };
        }
        sqlx::query(
            "INSERT INTO hyperliquid_funding_sync (account, synced_from, synced_through) VALUES ($1, $2, $3) \
             ON CONFLICT (account) DO UPDATE SET synced_through = excluded.synced_through",
        )
        .bind(account)
        .bind(from)
        .bind(end)
        .execute(store.pool())
        .await
        .map_err(store_err)?;
        Ok(new_rows)
    }

    async fn store_payments(
        &self,
        store: &Store,
        payments: &[Payment],
    ) -> Result<usize, HyperliquidError> {
        let account = self.funding_account();
        let mut tx = store.pool().begin().await.map_err(store_err)?;
        let mut n = 0;
        for p in payments {
            let (symbol, _) = symbol_of_coin(&p.coin);
            let done = sqlx::query(
                "INSERT INTO hyperliquid_funding (account, time, coin, symbol, usdc, szi, funding_rate) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account, time, coin) DO NOTHING",
            )
            .bind(account.clone())
            .bind(p.time)
            .bind(p.coin.clone())
            .bind(symbol)
            .bind(p.usdc)
            .bind(p.szi)
            .bind(p.funding_rate)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            n += done.rows_affected() as usize;
        }
        tx.commit().await.map_err(store_err)?;
        Ok(n)
    }

    /// What the account paid on the days `from..=to` that the synced span covers (every covered
    /// day is present, zero when nothing was paid), per symbol.
    ///
    /// # Errors
    /// The store failing.
    pub async fn stored_funding(
        &self,
        store: &Store,
        from: Day,
        to: Day,
    ) -> Result<BTreeMap<Day, FundingPaid>, HyperliquidError> {
        let account = self.funding_account();
        let mut out: BTreeMap<Day, FundingPaid> = BTreeMap::new();
        let Some(span) = sqlx::query(
            "SELECT synced_from, synced_through FROM hyperliquid_funding_sync WHERE account = $1",
        )
        .bind(account.clone())
        .fetch_optional(store.pool())
        .await
        .map_err(store_err)?
        else {
            return Ok(out);
        };
        let (synced_from, synced_through): (i64, i64) = (
            span.try_get(0).map_err(store_err)?,
            span.try_get(1).map_err(store_err)?,
        );
        // Days wholly inside the span: from the first day starting at or after `synced_from`
        // to the last day ending at or before `synced_through`.
        let first_covered = (synced_from + DAY_MS - 1).div_euclid(DAY_MS) as i32;
        let last_covered = ((synced_through + 1).div_euclid(DAY_MS) - 1) as i32;
        let (first, last) = (Day(from.0.max(first_covered)), Day(to.0.min(last_covered)));
        if first > last {
            return Ok(out);
        }
        for d in first.0..=last.0 {
            out.insert(Day(d), FundingPaid::default());
        }
        let rows = sqlx::query(
            "SELECT time, symbol, usdc FROM hyperliquid_funding WHERE account = $1 AND time >= $2 AND time < $3 ORDER BY time, coin",
        )
        .bind(account)
        .bind(first.0 as i64 * DAY_MS)
        .bind((last.0 as i64 + 1) * DAY_MS)
        .fetch_all(store.pool())
        .await
        .map_err(store_err)?;
        for r in &rows {
            let time: i64 = r.try_get(0).map_err(store_err)?;
            let symbol: String = r.try_get(1).map_err(store_err)?;
            let paid = -r.try_get::<f64, _>(2).map_err(store_err)?;
            let day = out.entry(Day(time.div_euclid(DAY_MS) as i32)).or_default();
            day.total += paid;
            *day.by_symbol.entry(symbol).or_default() += paid;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payments_parse_and_other_deltas_are_skipped() {
        let rows: Vec<UserFunding> = serde_json::from_str(
            r#"[{"time":1700000000000,"hash":"0xab","delta":{"type":"funding","coin":"ETH","usdc":"-3.625312","szi":"49.1477","fundingRate":"0.0000125"}},
                {"time":1700000000001,"hash":"0xcd","delta":{"type":"other","coin":"ETH","usdc":"1","szi":"1","fundingRate":"0"}},
                {"time":1700000000002,"hash":"0xef","delta":{"type":"funding","coin":"BTC","usdc":"NaN","szi":"1","fundingRate":"0"}}]"#,
        )
        .unwrap();
        let p = payment_of(&rows[0]).unwrap().unwrap();
        assert_eq!(
            p,
            Payment {
                time: 1_700_000_000_000,
                coin: "ETH".into(),
                usdc: -3.625312,
                szi: 49.1477,
                funding_rate: 0.0000125
            }
        );
        assert!(payment_of(&rows[1]).unwrap().is_none());
        let e = payment_of(&rows[2]).unwrap_err().to_string();
        assert!(e.contains("usdc \"NaN\" of BTC"), "{e}");
    }
}
