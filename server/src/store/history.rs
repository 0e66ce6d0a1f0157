//! The store as it was: the panel at an earlier data version, rebuilt from today's rows and the
//! revision log (`market_revisions`, written by every upsert; see [`super::market`]).
//!
//! A live plan records the data version its panel was built at. To recompute the plan "from
//! the stored inputs", the consistency report asks for the panel at that version: the rows
//! inserted later are left out, and every value revised later is put back to what it was. The
//! records then go through [`super::layout::layout_records`], the one layout the store's own
//! packed build is proven equal to (bit for bit), so at the current version the as-of panel is
//! today's panel.

use super::layout::{layout_records, VenueOrder};
use super::market::{Record, Series};
use super::panel::{summarize_fallbacks, FundingFallback};
use super::{Store, StoreError};
use shared::{Day, Panel};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// A market-data row: (table, symbol, venue or "", day).
type RowKey = (&'static str, String, String, i64);

/// A revised row's values and source at a data version.
type Undo = ([Option<f64>; 5], String);

impl Store {
    /// The panel exactly as the store would have built it at data version `version`; `None`
    /// when no daily bar was stored then. At the current version this is [`Store::panel`]'s.
    ///
    /// # Errors
    /// A database error, or a revision log naming an unknown series.
    pub async fn build_panel_as_of(&self, version: i64) -> Result<Option<Panel>, StoreError> {
        self.build_panel_as_of_for(version, &VenueOrder::default())
            .await
    }

    /// [`Store::build_panel_as_of`] with funding and open interest in `order`.
    ///
    /// # Errors
    /// As [`Store::build_panel_as_of`].
    pub async fn build_panel_as_of_for(
        &self,
        version: i64,
        order: &VenueOrder,
    ) -> Result<Option<Panel>, StoreError> {
        Ok(self
            .panel_as_of_parts(version, order, false)
            .await?
            .map(|(p, _)| p))
    }

    /// [`Store::build_panel_as_of_for`] and, with `fallbacks`, where that panel took funding
    /// from another venue than `order`'s ([`Store::funding_fallbacks`] as of `version`).
    pub(super) async fn panel_as_of_parts(
        &self,
        version: i64,
        order: &VenueOrder,
        fallbacks: bool,
    ) -> Result<Option<(Panel, Vec<FundingFallback>)>, StoreError> {
        if version >= self.data_version().await? {
            let Some((_, p)) = self.panel_for(order).await? else {
                return Ok(None);
            };
            let notes = if fallbacks {
                self.funding_fallbacks(order).await?
            } else {
                Vec::new()
            };
            return Ok(Some(((*p).clone(), notes)));
        }
        self.as_of_rebuilds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let undo = self.values_at(version).await?;
        let mut all = Vec::new();
        for series in Series::ALL {
            let mut records = self.records_present_at(series, Some(version)).await?;
            if !undo.is_empty() {
                for rec in &mut records {
                    restore(rec, series, &undo);
                }
            }
            all.push(records);
        }
        if !all[0].iter().any(|r| matches!(r, Record::Bar { .. })) {
            return Ok(None);
        }
        // A venue with its own bar source preference takes, per day, its preferred source's
        // bar among those stored at `version` (the preference is today's: it keeps no history).
        if let Some(venue) = &order.bars {
            let prefs = self.bar_venue_preference(venue).await?;
            if !prefs.is_empty() {
                let source_at: HashMap<(String, i64), String> = undo
                    .iter()
                    .filter(|(k, _)| k.0 == Series::Bars.table())
                    .map(|(k, (_, source))| ((k.1.clone(), k.3), source.clone()))
                    .collect();
                let choices = self
                    .venue_bar_choices(&prefs, Some((version, &source_at)))
                    .await?;
                for rec in &mut all[0] {
                    if let Record::Bar {
                        symbol,
                        day,
                        open,
                        high,
                        low,
                        close,
                        volume,
                    } = rec
                    {
                        if let Some(v) = choices.get(&(symbol.clone(), i64::from(day.0))) {
                            (*open, *high, *low, *close, *volume) = (v[0], v[1], v[2], v[3], v[4]);
                        }
                    }
                }
            }
        }
        let notes = match (&order.preferred, fallbacks) {
            (Some(venue), true) => {
                let priced: HashSet<&str> = all[0]
                    .iter()
                    .filter_map(|r| match r {
                        Record::Bar { symbol, .. } => Some(symbol.as_str()),
                        _ => None,
                    })
                    .collect();
                let funding = Series::ALL
                    .iter()
                    .position(|s| *s == Series::Funding)
                    .expect("a series");
                let rated = |r: &'_ Record| match r {
                    Record::Funding {
                        symbol,
                        venue,
                        day,
                        daily_rate,
                    } if !daily_rate.is_nan() && priced.contains(symbol.as_str()) => {
                        Some((symbol.clone(), i64::from(day.0), venue.clone()))
                    }
                    _ => None,
                };
                let own: HashSet<(String, i64)> = all[funding]
                    .iter()
                    .filter_map(rated)
                    .filter(|(_, _, v)| v == venue)
                    .map(|(s, d, _)| (s, d))
                    .collect();
                let others = all[funding]
                    .iter()
                    .filter_map(rated)
                    .filter(|(s, d, v)| v != venue && !own.contains(&(s.clone(), *d)));
                summarize_fallbacks(order, others)
            }
            _ => Vec::new(),
        };
        let panel = layout_records(all.iter().flatten(), order).map_err(StoreError::Data)?;
        Ok(Some((panel, notes)))
    }

    /// How many panels were rebuilt from the revision log (an older data version's) since the
    /// store was opened: what a test reads to tell a cached as-of answer from a rebuilt one.
    pub fn as_of_rebuilds(&self) -> u64 {
        self.as_of_rebuilds
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the panel at data version `version`, cut at `day`, is today's panel cut at
    /// `day`, bit for bit: nothing stored on or before `day` was revised or inserted after
    /// `version` (nor set aside in `bar_alternates`), and no asset got its first bar after it
    /// (a new asset is a new panel column even when its rows all lie after `day`). The usual case for a past plan, when the store
    /// only grew by newer days, and far cheaper to ask than to rebuild the old panel.
    ///
    /// # Errors
    /// A database error.
    pub async fn unchanged_through(&self, version: i64, day: Day) -> Result<bool, StoreError> {
        let day = day.0 as i64;
        let revised = sqlx::query(
            "SELECT COUNT(*) FROM market_revisions WHERE data_version > $1 AND day <= $2 \
             AND (row_first_version IS NULL OR row_first_version <= $1)",
        )
        .bind(version)
        .bind(day)
        .fetch_one(self.pool())
        .await?;
        if revised.try_get::<i64, _>(0)? > 0 {
            return Ok(false);
        }
        // `bar_alternates` too: a bar set aside later can be a venue panel's pick.
        for table in Series::ALL
            .iter()
            .map(|s| s.table())
            .chain(["bar_alternates"])
        {
            let inserted = sqlx::query(&format!(
                "SELECT COUNT(*) FROM {table} WHERE first_version > $1 AND day <= $2"
            ))
            .bind(version)
            .bind(day)
            .fetch_one(self.pool())
            .await?;
            if inserted.try_get::<i64, _>(0)? > 0 {
                return Ok(false);
            }
        }
        let new_assets = sqlx::query(
            "SELECT COUNT(*) FROM (SELECT symbol FROM daily_bars GROUP BY symbol \
             HAVING MIN(COALESCE(first_version, 0)) > $1) s",
        )
        .bind(version)
        .fetch_one(self.pool())
        .await?;
        Ok(new_assets.try_get::<i64, _>(0)? == 0)
    }

    /// For every row revised after data version `version` (and already stored at it): the
    /// values it held at `version`, i.e. those the first revision after it saved.
    async fn values_at(&self, version: i64) -> Result<HashMap<RowKey, Undo>, StoreError> {
        let rows = sqlx::query(
            "SELECT series, symbol, venue, day, v1, v2, v3, v4, v5, source FROM market_revisions \
             WHERE data_version > $1 AND (row_first_version IS NULL OR row_first_version <= $1) \
             ORDER BY data_version DESC",
        )
        .bind(version)
        .fetch_all(self.pool())
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        // Newest first: the earliest revision after `version` is inserted last and wins.
        for r in &rows {
            let name: String = r.try_get(0)?;
            let table = Series::ALL
                .iter()
                .map(|s| s.table())
                .find(|t| *t == name)
                .ok_or_else(|| {
                    StoreError::Data(format!("market_revisions names an unknown series {name:?}"))
                })?;
            let mut values = [None; 5];
            for (i, v) in values.iter_mut().enumerate() {
                *v = r.try_get::<Option<f64>, _>(4 + i)?;
            }
            out.insert(
                (table, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?),
                (values, r.try_get(9)?),
            );
        }
        Ok(out)
    }
}

/// Puts `rec`'s values back to those in `undo`, if its row was revised.
fn restore(rec: &mut Record, series: Series, undo: &HashMap<RowKey, Undo>) {
    let undo = |k: &RowKey| undo.get(k).map(|(v, _)| v);
    let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    let key = |symbol: &str, venue: &str, day: Day| {
        (
            series.table(),
            symbol.to_string(),
            venue.to_string(),
            day.0 as i64,
        )
    };
    match rec {
        Record::Bar {
            symbol,
            day,
            open,
            high,
            low,
            close,
            volume,
        } => {
            if let Some(v) = undo(&key(symbol, "", *day)) {
                (*open, *high, *low, *close, *volume) =
                    (nan(v[0]), nan(v[1]), nan(v[2]), nan(v[3]), nan(v[4]));
            }
        }
        Record::MarketCap { symbol, day, usd } => {
            if let Some(v) = undo(&key(symbol, "", *day)) {
                *usd = nan(v[0]);
            }
        }
        Record::Supply {
            symbol,
            day,
            circulating,
            market_cap,
        } => {
            if let Some(v) = undo(&key(symbol, "", *day)) {
                (*circulating, *market_cap) = (nan(v[0]), nan(v[1]));
            }
        }
        Record::Funding {
            symbol,
            venue,
            day,
            daily_rate: value,
        }
        | Record::OpenInterest {
            symbol,
            venue,
            day,
            usd: value,
        } => {
            if let Some(v) = undo(&key(symbol, venue, *day)) {
                *value = nan(v[0]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_puts_back_only_the_revised_row_of_its_series_and_venue() {
        let mut undo = HashMap::new();
        undo.insert(
            ("daily_bars", "AAA".to_string(), String::new(), 5),
            (
                [Some(1.0), Some(2.0), None, Some(1.5), Some(9.0)],
                "csv".to_string(),
            ),
        );
        undo.insert(
            ("funding", "AAA".to_string(), "bybit".to_string(), 5),
            ([Some(0.01), None, None, None, None], "bybit".to_string()),
        );
        let mut bar = Record::Bar {
            symbol: "AAA".into(),
            day: Day(5),
            open: 10.0,
            high: 20.0,
            low: 5.0,
            close: 15.0,
            volume: 90.0,
        };
        restore(&mut bar, Series::Bars, &undo);
        let Record::Bar {
            open,
            high,
            low,
            close,
            volume,
            ..
        } = bar
        else {
            unreachable!()
        };
        assert_eq!((open, high, close, volume), (1.0, 2.0, 1.5, 9.0));
        assert!(low.is_nan(), "NULL then is missing");
        let funding = |venue: &str| Record::Funding {
            symbol: "AAA".into(),
            venue: venue.into(),
            day: Day(5),
            daily_rate: 0.5,
        };
        let rate = |r: &Record| match r {
            Record::Funding { daily_rate, .. } => *daily_rate,
            _ => unreachable!(),
        };
        let (mut bybit, mut binance) = (funding("bybit"), funding("binance"));
        restore(&mut bybit, Series::Funding, &undo);
        restore(&mut binance, Series::Funding, &undo);
        assert_eq!((rate(&bybit), rate(&binance)), (0.01, 0.5));
        // Another series with the same key is not touched.
        let mut cap = Record::MarketCap {
            symbol: "AAA".into(),
            day: Day(5),
            usd: 7.0,
        };
        restore(&mut cap, Series::MarketCap, &undo);
        assert!(matches!(cap, Record::MarketCap { usd, .. } if usd == 7.0));
    }
}
