//! Each venue's listing history (`venue_listings`, migration 0080): the markets a venue listed,
//! their lots and leverage, and the days they were tradable. The only module that queries the
//! table.
//!
//! A refresh records what the venue lists now ([`Store::record_listings`]); a market's first
//! tradable day is back-filled from the venue's first daily candle
//! ([`Store::backfill_first_day`]). [`Store::venue_listings`] turns the rows into the kernel's
//! [`Listings`], which the target engine uses for step 2 of the eligible universe
//! (docs/strategies.md). Refreshes never drop a row: a market the venue stops listing keeps
//! its span, marked delisted.

use super::layout::VenueOrder;
use super::market::{bump_version, now_secs};
use super::panel::FundingFallback;
use super::{Store, StoreError};
use shared::config::VenueScope;
use shared::universe::{Listings, Span, UniverseInfo, VenueUniverse};
use shared::Day;
use sqlx::Row;
use std::sync::Arc;

/// What a refresh saw of one market.
#[derive(Clone, Debug, PartialEq)]
pub struct ListingSeen {
    /// Lockstep's symbol (after `symbol_of_coin`).
    pub symbol: String,
    /// The venue's coin (`kPEPE`).
    pub venue_symbol: String,
    pub size_decimals: Option<u32>,
    /// Units of `symbol` in one venue unit (1000 for `kPEPE`).
    pub unit: f64,
    pub max_leverage: Option<u32>,
    pub delisted: bool,
}

/// One stored listing.
#[derive(Clone, Debug, PartialEq)]
pub struct ListingRow {
    pub venue: String,
    pub venue_symbol: String,
    pub symbol: String,
    /// First tradable day; `None` until back-filled.
    pub first_day: Option<Day>,
    /// Last day a refresh saw the market listed (see the migration for delisted markets).
    pub last_day: Option<Day>,
    pub size_decimals: Option<u32>,
    pub unit: f64,
    pub max_leverage: Option<u32>,
    pub delisted: bool,
    pub backfilled: bool,
}

impl ListingRow {
    /// The days the market was tradable: from its first day, open-ended while listed, up to
    /// its last listed day once delisted. `None` while the first day is unknown.
    pub fn span(&self) -> Option<Span> {
        let first = self.first_day?;
        let last = if self.delisted {
            Some(self.last_day.unwrap_or(first).max(first))
        } else {
            None
        };
        Some(Span { first, last })
    }
}

impl Store {
    /// Records what a refresh on `seen_on` (the first incomplete UTC day) saw of `venue`:
    /// new markets are added, known ones get their current lots and leverage; a listed market's
    /// last day moves to `seen_on`, a delisted one keeps its last listed day. Markets the venue
    /// no longer reports are left as they are. One transaction.
    pub async fn record_listings(
        &self,
        venue: &str,
        seen_on: Day,
        seen: &[ListingSeen],
    ) -> Result<(), StoreError> {
        let now = now_secs();
        let day = i64::from(seen_on.0);
        let mut tx = self.pool().begin().await?;
        // Markets whose tradable span (or symbol) changed — a new market, a delisting or
        // relisting, a first day —, with what they held before: runs on the stored data then
        // change, so the data version moves, and the old state is kept for the listings as of
        // an earlier version.
        let mut changed: Vec<(String, Option<SpanState>)> = Vec::new();
        for l in seen {
            let existing = sqlx::query(
                "SELECT delisted, last_day, first_day, symbol FROM venue_listings \
                 WHERE venue = $1 AND venue_symbol = $2",
            )
            .bind(venue.to_string())
            .bind(l.venue_symbol.clone())
            .fetch_optional(&mut *tx)
            .await?;
            let sz = l.size_decimals.map(i64::from);
            let lev = l.max_leverage.map(i64::from);
            match existing {
                None => {
                    changed.push((l.venue_symbol.clone(), None));
                    // Seen listed: tradable today at least. Seen only delisted: it traded
                    // before today (the first day comes from its candles).
                    let (first, last) = if l.delisted {
                        (None, Some(day - 1))
                    } else {
                        (Some(day), Some(day))
                    };
                    sqlx::query(
                        "INSERT INTO venue_listings (venue, venue_symbol, symbol, first_day, last_day, \
                         size_decimals, unit, max_leverage, delisted, backfilled, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10)",
                    )
                    .bind(venue.to_string())
                    .bind(l.venue_symbol.clone())
                    .bind(l.symbol.clone())
                    .bind(first)
                    .bind(last)
                    .bind(sz)
                    .bind(l.unit)
                    .bind(lev)
                    .bind(i64::from(l.delisted))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(row) => {
                    let was_delisted = row.try_get::<i64, _>(0)? != 0;
                    let last: Option<i64> = row.try_get(1)?;
                    let first: Option<i64> = row.try_get(2)?;
                    let before = SpanState {
                        symbol: row.try_get(3)?,
                        first_day: first,
                        last_day: last,
                        delisted: was_delisted,
                    };
                    let last = if l.delisted {
                        last
                    } else {
                        Some(last.map_or(day, |d| d.max(day)))
                    };
                    let after = SpanState {
                        symbol: l.symbol.clone(),
                        first_day: if l.delisted {
                            first
                        } else {
                            first.or(Some(day))
                        },
                        last_day: last,
                        delisted: l.delisted,
                    };
                    if before.tradable() != after.tradable() {
                        changed.push((l.venue_symbol.clone(), Some(before)));
                    }
                    sqlx::query(
                        "UPDATE venue_listings SET symbol = $3, last_day = $4, size_decimals = $5, \
                         unit = $6, max_leverage = $7, delisted = $8, updated_at = $9, first_day = $10 \
                         WHERE venue = $1 AND venue_symbol = $2",
                    )
                    .bind(venue.to_string())
                    .bind(l.venue_symbol.clone())
                    .bind(l.symbol.clone())
                    .bind(last)
                    .bind(sz)
                    .bind(l.unit)
                    .bind(lev)
                    .bind(i64::from(l.delisted))
                    .bind(now)
                    .bind(if l.delisted { first } else { first.or(Some(day)) })
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        if !changed.is_empty() {
            let version = bump_version(&mut tx).await?;
            for (venue_symbol, before) in &changed {
                log_listing_revision(&mut tx, venue, venue_symbol, version, before.as_ref())
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets a market's first tradable day from the venue's first daily candle (earlier than
    /// what refreshes saw) and marks it back-filled. `None`: the venue has no candle for it;
    /// it is marked back-filled so it is not asked again.
    pub async fn backfill_first_day(
        &self,
        venue: &str,
        venue_symbol: &str,
        first_candle: Option<Day>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "SELECT first_day, last_day, delisted, symbol FROM venue_listings \
             WHERE venue = $1 AND venue_symbol = $2",
        )
        .bind(venue.to_string())
        .bind(venue_symbol.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(());
        };
        let before = SpanState {
            symbol: row.try_get(3)?,
            first_day: row.try_get(0)?,
            last_day: row.try_get(1)?,
            delisted: row.try_get::<i64, _>(2)? != 0,
        };
        let stored = before.first_day;
        let candle = first_candle.map(|d| i64::from(d.0));
        let first = match (stored, candle) {
            (Some(s), Some(c)) => Some(s.min(c)),
            (s, c) => s.or(c),
        };
        sqlx::query(
            "UPDATE venue_listings SET backfilled = 1, first_day = $3 \
             WHERE venue = $1 AND venue_symbol = $2",
        )
        .bind(venue.to_string())
        .bind(venue_symbol.to_string())
        .bind(first)
        .execute(&mut *tx)
        .await?;
        if first != stored {
            let version = bump_version(&mut tx).await?;
            log_listing_revision(&mut tx, venue, venue_symbol, version, Some(&before)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every stored listing of `venue`, by symbol then venue symbol.
    pub async fn listing_rows(&self, venue: &str) -> Result<Vec<ListingRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT venue, venue_symbol, symbol, first_day, last_day, size_decimals, unit, \
             max_leverage, delisted, backfilled FROM venue_listings WHERE venue = $1 \
             ORDER BY symbol, venue_symbol",
        )
        .bind(venue.to_string())
        .fetch_all(self.pool())
        .await?;
        let day = |v: Option<i64>| v.map(|d| Day(d as i32));
        rows.iter()
            .map(|r| {
                Ok(ListingRow {
                    venue: r.try_get(0)?,
                    venue_symbol: r.try_get(1)?,
                    symbol: r.try_get(2)?,
                    first_day: day(r.try_get(3)?),
                    last_day: day(r.try_get(4)?),
                    size_decimals: r.try_get::<Option<i64>, _>(5)?.map(|v| v as u32),
                    unit: r.try_get(6)?,
                    max_leverage: r.try_get::<Option<i64>, _>(7)?.map(|v| v as u32),
                    delisted: r.try_get::<i64, _>(8)? != 0,
                    backfilled: r.try_get::<i64, _>(9)? != 0,
                })
            })
            .collect()
    }

    /// [`Store::listing_rows`] as they stood at data version `version` (in today's order):
    /// today's rows with every change of a tradable span after `version` undone
    /// (`venue_listing_revisions`, migration 0121) and the markets first stored after it left
    /// out. Lots, leverage and a
    /// listed market's last seen day are today's (they change no span).
    ///
    /// # Errors
    /// A database error.
    pub async fn listing_rows_as_of(
        &self,
        venue: &str,
        version: i64,
    ) -> Result<Vec<ListingRow>, StoreError> {
        let mut rows = self.listing_rows(venue).await?;
        let revisions = sqlx::query(
            "SELECT venue_symbol, existed, symbol, first_day, last_day, delisted \
             FROM venue_listing_revisions WHERE venue = $1 AND data_version > $2 \
             ORDER BY data_version DESC",
        )
        .bind(venue.to_string())
        .bind(version)
        .fetch_all(self.pool())
        .await?;
        if revisions.is_empty() {
            return Ok(rows);
        }
        // Newest first: the earliest revision after `version` is inserted last and wins.
        let mut then: std::collections::HashMap<String, Option<SpanState>> =
            std::collections::HashMap::new();
        for r in &revisions {
            let state = if r.try_get::<i64, _>(1)? == 0 {
                None
            } else {
                Some(SpanState {
                    symbol: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                    first_day: r.try_get(3)?,
                    last_day: r.try_get(4)?,
                    delisted: r.try_get::<Option<i64>, _>(5)?.unwrap_or(0) != 0,
                })
            };
            then.insert(r.try_get(0)?, state);
        }
        let day = |v: Option<i64>| v.map(|d| Day(d as i32));
        rows.retain_mut(|row| match then.get(&row.venue_symbol) {
            None => true,
            Some(None) => false,
            Some(Some(s)) => {
                row.symbol = s.symbol.clone();
                row.first_day = day(s.first_day);
                row.last_day = day(s.last_day);
                row.delisted = s.delisted;
                true
            }
        });
        Ok(rows)
    }

    /// `venue`'s listing history as the kernel reads it; `None` when nothing is stored for it
    /// (the run then says so and trades every priced asset).
    pub async fn venue_listings(&self, venue: &str) -> Result<Option<Listings>, StoreError> {
        Ok(listings_of(venue, &self.listing_rows(venue).await?))
    }

    /// [`Store::venue_listings`] as they stood at data version `version`
    /// ([`Store::listing_rows_as_of`]).
    pub async fn venue_listings_as_of(
        &self,
        venue: &str,
        version: i64,
    ) -> Result<Option<Listings>, StoreError> {
        Ok(listings_of(
            venue,
            &self.listing_rows_as_of(venue, version).await?,
        ))
    }

    /// What a run on `venue` needs of the store besides the panel: a real venue's stored
    /// listings (none for `any` and the paper venue, which trade every priced asset) and where
    /// the venue's panel ([`VenueOrder::for_venue`]) took funding from another venue. What
    /// `/api/panel?venue=` sends the browser, and what [`Store::venue_universe`] resolves.
    pub async fn venue_universe_data(
        &self,
        venue: VenueScope,
    ) -> Result<VenueUniverse, StoreError> {
        let listings = match venue {
            VenueScope::Hyperliquid => self.venue_listings(venue.name()).await?,
            VenueScope::Any | VenueScope::Paper => None,
        };
        let funding_fallbacks = self
            .funding_fallbacks(&VenueOrder::for_venue(Some(venue.name())))
            .await?
            .iter()
            .map(ToString::to_string)
            .collect();
        Ok(VenueUniverse {
            venue: venue.name().to_string(),
            listings,
            funding_fallbacks,
        })
    }

    /// [`Store::venue_universe_data`] as it was at data version `version`: the listings then
    /// ([`Store::venue_listings_as_of`]) and `funding_fallbacks`, those of the venue's panel
    /// at that version (`Store::panel_as_of_parts`), which a pinned `/api/panel` sends.
    pub async fn venue_universe_data_as_of(
        &self,
        venue: VenueScope,
        version: i64,
        funding_fallbacks: &[FundingFallback],
    ) -> Result<VenueUniverse, StoreError> {
        let listings = match venue {
            VenueScope::Hyperliquid => self.venue_listings_as_of(venue.name(), version).await?,
            VenueScope::Any | VenueScope::Paper => None,
        };
        Ok(VenueUniverse {
            venue: venue.name().to_string(),
            listings,
            funding_fallbacks: funding_fallbacks.iter().map(ToString::to_string).collect(),
        })
    }

    /// The universe a run on `venue` trades and its note (see [`shared::universe::resolve`]):
    /// a real venue's stored listings, or every priced asset with a note saying why; and where
    /// the venue's panel ([`VenueOrder::for_venue`]) took funding from another venue.
    pub async fn venue_universe(
        &self,
        venue: VenueScope,
    ) -> Result<(Option<Arc<Listings>>, UniverseInfo), StoreError> {
        Ok(self.venue_universe_data(venue).await?.resolve())
    }
}

/// The kernel's [`Listings`] of `rows`; `None` when there are none.
fn listings_of(venue: &str, rows: &[ListingRow]) -> Option<Listings> {
    if rows.is_empty() {
        return None;
    }
    let mut out = Listings::new(venue);
    for r in rows {
        if let Some(span) = r.span() {
            out.add(r.symbol.clone(), span);
        }
    }
    Some(out)
}

/// What of a listing decides where it is tradable: its symbol and span.
#[derive(Clone, Debug, PartialEq)]
struct SpanState {
    symbol: String,
    first_day: Option<i64>,
    last_day: Option<i64>,
    delisted: bool,
}

impl SpanState {
    /// The symbol and the days it is tradable (as [`ListingRow::span`]).
    fn tradable(&self) -> (&str, Option<Span>) {
        let row = ListingRow {
            venue: String::new(),
            venue_symbol: String::new(),
            symbol: String::new(),
            first_day: self.first_day.map(|d| Day(d as i32)),
            last_day: self.last_day.map(|d| Day(d as i32)),
            size_decimals: None,
            unit: 1.0,
            max_leverage: None,
            delisted: self.delisted,
            backfilled: false,
        };
        (&self.symbol, row.span())
    }
}

/// Keeps what a listing held before the write that made data version `version` (`None`: it
/// did not exist). The first write of a version wins (a market seen twice in one refresh).
async fn log_listing_revision(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    venue: &str,
    venue_symbol: &str,
    version: i64,
    before: Option<&SpanState>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO venue_listing_revisions (venue, venue_symbol, data_version, existed, symbol, \
         first_day, last_day, delisted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (venue, venue_symbol, data_version) DO NOTHING",
    )
    .bind(venue.to_string())
    .bind(venue_symbol.to_string())
    .bind(version)
    .bind(i64::from(before.is_some()))
    .bind(before.map(|b| b.symbol.clone()))
    .bind(before.and_then(|b| b.first_day))
    .bind(before.and_then(|b| b.last_day))
    .bind(before.map(|b| i64::from(b.delisted)))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
