//! The registry of data sources (`data_sources`), the spellings each one uses for assets
//! (`symbol_aliases`), which source's bar the store keeps when several write the same day
//! (`bar_source_preference`, migration 0081), and which source's bar a venue's panel reads
//! (`bar_venue_preference`, migration 0120: per venue, among `daily_bars` and `bar_alternates`).

use super::{now_secs, Series};
use crate::store::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;

/// The source name of generated demo data.
pub const SYNTHETIC_SOURCE: &str = "synthetic";

/// What kind of source a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Files imported with `lockstep import`.
    Import,
    /// A live venue or vendor API.
    Live,
    /// Generated demo data: shown as synthetic everywhere.
    Synthetic,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Import => "import",
            SourceKind::Live => "live",
            SourceKind::Synthetic => "synthetic",
        }
    }
}

/// A registered data source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    pub name: String,
    pub kind: String,
    pub synthetic: bool,
    pub description: String,
}

/// A spelling a source uses for an asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub alias: String,
    /// The bare base the alias stands for.
    pub symbol: String,
    pub venue: Option<String>,
}

impl Store {
    /// Registers (or refreshes) a source name. Synthetic sources are flagged as such.
    pub async fn register_source(
        &self,
        name: &str,
        kind: SourceKind,
        description: &str,
    ) -> Result<(), StoreError> {
        let now = now_secs();
        sqlx::query(
            "INSERT INTO data_sources (name, kind, synthetic, description, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, \
             synthetic = excluded.synthetic, description = excluded.description, last_seen = excluded.last_seen",
        )
        .bind(name.to_string())
        .bind(kind.name().to_string())
        .bind(i64::from(kind == SourceKind::Synthetic))
        .bind(description.to_string())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Registered sources, by name.
    pub async fn sources(&self) -> Result<Vec<SourceInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, kind, synthetic, description FROM data_sources ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SourceInfo {
                    name: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    synthetic: r.try_get::<i64, _>(2)? != 0,
                    description: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// The sources that hold at least one stored value, by name.
    pub async fn sources_in_use(&self) -> Result<Vec<String>, StoreError> {
        let sql = Series::ALL
            .iter()
            .map(|s| format!("SELECT DISTINCT source FROM {}", s.table()))
            .collect::<Vec<_>>()
            .join(" UNION ");
        let rows = sqlx::query(&format!("SELECT source FROM ({sql}) s ORDER BY source"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Whether any stored value comes from a synthetic source (registered as such, or named
    /// `synthetic`).
    pub async fn synthetic_in_use(&self) -> Result<bool, StoreError> {
        let in_use = self.sources_in_use().await?;
        self.synthetic_among(&in_use).await
    }

    /// Whether any of `in_use` (source names, as [`Store::sources_in_use`] lists them) is
    /// synthetic (registered as such, or named `synthetic`).
    pub async fn synthetic_among(&self, in_use: &[String]) -> Result<bool, StoreError> {
        let synthetic: Vec<String> = self
            .sources()
            .await?
            .into_iter()
            .filter(|s| s.synthetic)
            .map(|s| s.name)
            .collect();
        Ok(in_use
            .iter()
            .any(|s| s == SYNTHETIC_SOURCE || synthetic.contains(s)))
    }

    /// Records the spellings `source` uses for assets.
    pub async fn upsert_aliases(&self, source: &str, aliases: &[Alias]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for a in aliases {
            sqlx::query(
                "INSERT INTO symbol_aliases (source, alias, symbol, venue) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (source, alias) DO UPDATE SET symbol = excluded.symbol, venue = excluded.venue",
            )
            .bind(source.to_string())
            .bind(a.alias.clone())
            .bind(a.symbol.clone())
            .bind(a.venue.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The bare symbol `raw` stands for at `source`: a stored alias first, then `infer` (the
    /// caller's spelling rules, `market_data::symbols::base_of`: the store does not import the
    /// importers, they import it). `None` when neither knows.
    pub async fn resolve_symbol(
        &self,
        source: &str,
        raw: &str,
        infer: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT symbol FROM symbol_aliases WHERE source = $1 AND alias = $2")
            .bind(source.to_string())
            .bind(raw.trim().to_string())
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => Ok(Some(r.try_get(0)?)),
            None => Ok(infer(raw)),
        }
    }

    /// All aliases of `source`.
    pub async fn aliases(&self, source: &str) -> Result<Vec<Alias>, StoreError> {
        let rows = sqlx::query(
            "SELECT alias, symbol, venue FROM symbol_aliases WHERE source = $1 ORDER BY alias",
        )
        .bind(source.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Alias {
                    alias: r.try_get(0)?,
                    symbol: r.try_get(1)?,
                    venue: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Sets which source's bar the store keeps when several write the same day, preferred
    /// first; an empty list clears the preference (the newer write wins). Bars already stored
    /// stay as they are until a source writes their day again.
    ///
    /// # Errors
    /// A source named twice; a database error.
    pub async fn set_bar_source_preference(&self, sources: &[String]) -> Result<(), StoreError> {
        self.replace_preference(None, sources).await
    }

    /// The bar source preference, preferred first (empty: none set).
    pub async fn bar_source_preference(&self) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT source FROM bar_source_preference ORDER BY priority, source")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Sets which source's bar a panel for `venue` reads when several sources hold the same
    /// day (in `daily_bars` or `bar_alternates`), preferred first; an empty list clears it (the
    /// venue's panel then reads the store's bars, as `any` does). Bars are not moved: the
    /// choice is made when the panel is built.
    ///
    /// # Errors
    /// An empty venue or `any` (the store's own preference, [`Store::set_bar_source_preference`]);
    /// a source named twice; a database error.
    pub async fn set_bar_venue_preference(
        &self,
        venue: &str,
        sources: &[String],
    ) -> Result<(), StoreError> {
        if venue.trim().is_empty() || venue == "any" {
            return Err(StoreError::Rejected(format!(
                "bar source preference per venue: venue {venue:?} is not a venue (`any` reads the \
                 store's preference: set it without a venue)"
            )));
        }
        self.replace_preference(Some(venue), sources).await
    }

    /// Replaces the store's preference (`venue: None`) or `venue`'s with `sources`, preferred
    /// first, in a new data version: the cached panels and status are keyed on it, so they show
    /// the new preference at once.
    async fn replace_preference(
        &self,
        venue: Option<&str>,
        sources: &[String],
    ) -> Result<(), StoreError> {
        check_sources(sources)?;
        let mut tx = self.begin_write().await?;
        super::writes::bump_version(&mut tx).await?;
        match venue {
            None => sqlx::query("DELETE FROM bar_source_preference"),
            Some(v) => {
                sqlx::query("DELETE FROM bar_venue_preference WHERE venue = $1").bind(v.to_string())
            }
        }
        .execute(&mut *tx)
        .await?;
        for (rank, source) in sources.iter().enumerate() {
            match venue {
                None => sqlx::query(
                    "INSERT INTO bar_source_preference (source, priority) VALUES ($1, $2)",
                ),
                Some(v) => sqlx::query(
                    "INSERT INTO bar_venue_preference (venue, source, priority) VALUES ($1, $2, $3)",
                )
                .bind(v.to_string()),
            }
            .bind(source.clone())
            .bind(rank as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `venue`'s bar source preference, preferred first (empty: none, the store's bars).
    pub async fn bar_venue_preference(&self, venue: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT source FROM bar_venue_preference WHERE venue = $1 ORDER BY priority, source",
        )
        .bind(venue.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Every venue's bar source preference, by venue, each preferred first.
    pub async fn bar_venue_preferences(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT venue, source FROM bar_venue_preference ORDER BY venue, priority, source",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &rows {
            let (venue, source): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            match out.last_mut() {
                Some((v, list)) if *v == venue => list.push(source),
                _ => out.push((venue, vec![source])),
            }
        }
        Ok(out)
    }

    /// The bars a venue panel with preference `prefs` takes instead of the `daily_bars` bar:
    /// per (symbol, day), the bar of the best-ranked source of `prefs` among the stored bar
    /// and the bars kept aside, where that is an alternate. `as_of`: the store at that data
    /// version — alternates set aside later are left out, and the stored bar's source is the
    /// one it had then (`source_at` maps a revised bar's key to its source at that version).
    pub(in crate::store) async fn venue_bar_choices(
        &self,
        prefs: &[String],
        as_of: Option<(i64, &SourcesAt)>,
    ) -> Result<HashMap<(String, i64), [f64; 5]>, StoreError> {
        if prefs.is_empty() {
            return Ok(HashMap::new());
        }
        let list: Vec<String> = (0..prefs.len()).map(|i| format!("${}", i + 1)).collect();
        let mut sql = format!(
            "SELECT a.symbol, a.day, a.source, a.open, a.high, a.low, a.close, a.volume, b.source \
             FROM bar_alternates a JOIN daily_bars b ON b.symbol = a.symbol AND b.day = a.day \
             WHERE a.source IN ({})",
            list.join(", ")
        );
        if as_of.is_some() {
            sql.push_str(&format!(
                " AND (a.first_version IS NULL OR a.first_version <= ${})",
                prefs.len() + 1
            ));
        }
        let mut q = sqlx::query(&sql);
        for p in prefs {
            q = q.bind(p.clone());
        }
        if let Some((version, _)) = as_of {
            q = q.bind(version);
        }
        let rows = q.fetch_all(self.pool()).await?;
        let mut candidates = Vec::with_capacity(rows.len());
        for r in &rows {
            let key: (String, i64) = (r.try_get(0)?, r.try_get(1)?);
            let mut values = [f64::NAN; 5];
            for (i, v) in values.iter_mut().enumerate() {
                *v = r.try_get::<Option<f64>, _>(3 + i)?.unwrap_or(f64::NAN);
            }
            let mut stored: String = r.try_get(8)?;
            if let Some(then) = as_of.and_then(|(_, m)| m.get(&key)) {
                stored = then.clone();
            }
            candidates.push(VenueBarCandidate {
                key,
                source: r.try_get(2)?,
                values,
                stored_source: stored,
            });
        }
        Ok(pick_venue_bars(candidates, prefs))
    }
}

/// The source each revised bar had at a data version, by (symbol, day).
pub(in crate::store) type SourcesAt = HashMap<(String, i64), String>;

/// A bar kept aside, next to the source of the bar `daily_bars` holds that day.
pub(in crate::store) struct VenueBarCandidate {
    pub key: (String, i64),
    pub source: String,
    pub values: [f64; 5],
    pub stored_source: String,
}

/// Per (symbol, day): the values of the best-ranked alternate in `prefs` when it ranks before
/// the stored bar's source (a source not in `prefs` ranks after all that are). Days whose stored
/// bar wins are absent.
pub(in crate::store) fn pick_venue_bars(
    candidates: Vec<VenueBarCandidate>,
    prefs: &[String],
) -> HashMap<(String, i64), [f64; 5]> {
    let rank = |s: &str| prefs.iter().position(|p| p == s).unwrap_or(usize::MAX);
    let mut best: HashMap<(String, i64), (usize, [f64; 5])> = HashMap::new();
    for c in candidates {
        let r = rank(&c.source);
        if r >= rank(&c.stored_source) {
            continue;
        }
        match best.get(&c.key) {
            Some((b, _)) if *b <= r => {}
            _ => {
                best.insert(c.key, (r, c.values));
            }
        }
    }
    best.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

/// A source list: no empty name, none twice.
fn check_sources(sources: &[String]) -> Result<(), StoreError> {
    for (i, s) in sources.iter().enumerate() {
        if s.trim().is_empty() || sources[..i].contains(s) {
            return Err(StoreError::Rejected(format!(
                "bar source preference: source {:?} (position {}) is empty or named twice",
                s,
                i + 1
            )));
        }
    }
    Ok(())
}
