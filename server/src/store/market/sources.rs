//! The registry of data sources (`data_sources`), the spellings each one uses for assets
//! (`symbol_aliases`), and which source's bar the store keeps when several write the same day
//! (`bar_source_preference`, migration 0081).

use super::{now_secs, Series};
use crate::store::{Store, StoreError};
use sqlx::Row;

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
        for (i, s) in sources.iter().enumerate() {
            if s.trim().is_empty() || sources[..i].contains(s) {
                return Err(StoreError::Rejected(format!(
                    "bar source preference: source {:?} (position {}) is empty or named twice",
                    s,
                    i + 1
                )));
            }
        }
        let mut tx = self.begin_write().await?;
        // A new data version, so the cached status (and anything keyed on the version) shows
        // the new preference at once.
        super::writes::bump_version(&mut tx).await?;
        sqlx::query("DELETE FROM bar_source_preference")
            .execute(&mut *tx)
            .await?;
        for (rank, source) in sources.iter().enumerate() {
            sqlx::query("INSERT INTO bar_source_preference (source, priority) VALUES ($1, $2)")
                .bind(source.clone())
                .bind(rank as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The bar source preference, preferred first (empty: none set).
    pub async fn bar_source_preference(&self) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT source FROM bar_source_preference ORDER BY priority, source")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}
