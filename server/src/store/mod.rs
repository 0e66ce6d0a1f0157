//! The store: market data, plans and records in SQLite (default) or PostgreSQL.
//!
//! One schema, written in SQL both engines accept, applied by sqlx migrations at connect time.
//! Queries go through sqlx's `Any` driver so the same code runs on either engine, and the same
//! tests run against both.

pub mod history;
pub mod layout;
pub mod listings;
pub mod market;
pub mod panel;
pub mod quality;
pub mod splices;
/// Throwaway stores for tests: compiled for this crate's unit tests and, through the `testing`
/// feature, for the integration tests; never in the release binary.
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;
use sqlx::ConnectOptions;
use std::str::FromStr;

/// Which database engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Errors opening or querying the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("creating the directory for the SQLite file {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("applying migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Data(String),
    #[error("refused: {0}")]
    Rejected(String),
}

/// The panels built from the store at the current data version, one per venue order.
type PanelCache = std::sync::Arc<
    tokio::sync::Mutex<
        Vec<(
            i64,
            layout::VenueOrder,
            Option<std::sync::Arc<shared::Panel>>,
        )>,
    >,
>;

/// Encoded `/api/panel` answers of the current data version, by request: the most recently
/// used [`panel::ENCODED_CACHE_ENTRIES`], encoded one at a time (`crate::cache`).
type EncodedCache =
    std::sync::Arc<crate::cache::VersionedCache<panel::EncodedKey, i64, panel::EncodedPanel>>;

/// The last panel rebuilt as it was at an older data version (a share link's pinned data), by
/// (version, venue order): a link opened with other days or fields clips this one instead of
/// rebuilding it. One panel at most; the past never changes, so it is never stale.
/// With the funding fallbacks of that panel when they were asked for (a venue's panel).
type AsOfPanel = std::sync::Arc<std::sync::Mutex<Option<KeptAsOf>>>;

/// (version, venue order, fallbacks computed?, the panel and its fallbacks; `None`: no data).
type KeptAsOf = (
    i64,
    layout::VenueOrder,
    bool,
    Option<(std::sync::Arc<shared::Panel>, Vec<panel::FundingFallback>)>,
);

/// A connection pool plus the engine it talks to.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    panel_cache: PanelCache,
    encoded_cache: EncodedCache,
    as_of_panel: AsOfPanel,
    /// Panels rebuilt from the revision log ([`Store::build_panel_as_of_for`] below today's
    /// version) since the store was opened.
    as_of_rebuilds: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// What the store holds, for the health endpoint and the first page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarSummary {
    pub symbols: u64,
    pub bars: u64,
    pub first_day: Option<shared::Day>,
    pub last_day: Option<shared::Day>,
}

/// The URL without its password, safe to print.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    ///
    /// # Errors
    /// An unsupported URL, an unreachable server, or a failed migration.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?
            // Every statement at DEBUG (off under the default `info,sqlx=warn` filter). sqlx's own
            // slow-statement warning carries the whole SQL text, and an import's multi-row upsert
            // is ~16,000 placeholders long: it goes to DEBUG too, and the bulk paths warn
            // themselves, in one short line ([`warn_if_slow`]).
            .log_statements(log::LevelFilter::Debug)
            .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
        let mut pool = AnyPoolOptions::new()
            // SQLite serialises writers anyway; a few readers are enough for the dashboard.
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 });
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)));
        }
        let pool = pool.connect_with(options).await?;
        let store = Store {
            pool,
            backend,
            panel_cache: PanelCache::default(),
            encoded_cache: std::sync::Arc::new(crate::cache::VersionedCache::new(
                panel::ENCODED_CACHE_ENTRIES,
            )),
            as_of_panel: AsOfPanel::default(),
            as_of_rebuilds: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the pending migrations: the portable ones in `migrations/` plus this engine's own
    /// in `migrations/sqlite/` or `migrations/postgres/` (SQL the other engine does not accept,
    /// such as triggers), merged into one sequence by version. The two engine directories hold
    /// twins under the same version numbers, so each version means the same change on both.
    async fn migrate(&self) -> Result<(), StoreError> {
        migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write: on SQLite `BEGIN IMMEDIATE`, which takes the write lock
    /// up front (waiting under the busy timeout), instead of a deferred `BEGIN` whose first
    /// write after a read fails at once with `SQLITE_BUSY_SNAPSHOT` (code 517, "database is
    /// locked") when another connection committed in between (docs/security.md, the sign-in
    /// flood). PostgreSQL's `BEGIN` has no such upgrade.
    ///
    /// # Errors
    /// No connection, or the lock was not granted within the busy timeout.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// How many assets and bars are stored, and which days they span.
    pub async fn bar_summary(&self) -> Result<BarSummary, StoreError> {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT symbol) AS symbols, COUNT(*) AS bars, MIN(day) AS first_day, MAX(day) AS last_day FROM daily_bars",
        )
        .fetch_one(&self.pool)
        .await?;
        let symbols: i64 = row.try_get("symbols")?;
        let bars: i64 = row.try_get("bars")?;
        let first: Option<i64> = row.try_get("first_day")?;
        let last: Option<i64> = row.try_get("last_day")?;
        Ok(BarSummary {
            symbols: symbols as u64,
            bars: bars as u64,
            first_day: first.map(|d| shared::Day(d as i32)),
            last_day: last.map(|d| shared::Day(d as i32)),
        })
    }
}

/// Statements slower than this are worth a warning (see [`warn_if_slow`]).
pub const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(1);

/// Warns, in one short line, when a bulk statement (`what`, e.g. "upsert of 4,000 rows into
/// daily_bars") took longer than [`SLOW_STATEMENT`]; sqlx's own slow-statement log is kept at
/// DEBUG because it prints the whole SQL text.
pub fn warn_if_slow(what: impl FnOnce() -> String, started: std::time::Instant) {
    let elapsed = started.elapsed();
    if elapsed >= SLOW_STATEMENT {
        tracing::warn!(
            "slow statement: {} took {:.2} s",
            what(),
            elapsed.as_secs_f64()
        );
    }
}

/// Per-connection SQLite settings (the `Any` driver takes no pragmas in its URL):
///
/// - `journal_mode = WAL`: readers (the dashboard, the panel build's concurrent reads) never
///   wait for a writer, and a commit appends to the log instead of rewriting pages. Persistent
///   in the file; a no-op when already set.
/// - `synchronous = NORMAL`: in WAL mode a commit is still atomic and survives a crash of the
///   process (the kill-between-submit-and-record test relies on that); only an OS crash or power
///   loss may lose the last commits. FULL would fsync on every commit.
/// - `cache_size` 32 MiB and `mmap_size` 256 MiB per connection: the whole real store (~30 MB)
///   stays in memory, and reads come from the page cache without copying through SQLite's
///   own buffers.
/// - `temp_store = MEMORY`: sorts and temporary indices never touch the disk.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768; \
         PRAGMA mmap_size = 268435456; PRAGMA temp_store = MEMORY;",
    )
    .await?;
    Ok(())
}

/// The migrations for `backend`: the portable set plus the engine's own, in version order.
fn migrator(backend: Backend) -> sqlx::migrate::Migrator {
    static PORTABLE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
    static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
    static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
    let own = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    };
    let mut all: Vec<sqlx::migrate::Migration> =
        PORTABLE.iter().chain(own.iter()).cloned().collect();
    all.sort_by_key(|m| m.version);
    // `Migrator`'s fields are public (for `migrate!`) but not a stable API; this is the only
    // place that builds one by hand, and the test below pins what it must contain.
    sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(all),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}

/// Normalises a SQLite URL: creates the file's directory and asks sqlx to create the file.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" && !path.is_empty() {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: path.to_string(),
                    source,
                })?;
            }
        }
    }
    let mut query = query.to_string();
    if !query.contains("mode=") {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = std::env::temp_dir().join("lockstep-url-test");
        let url = format!("sqlite://{}/a.db", dir.display());
        assert!(sqlite_url(&url).unwrap().ends_with("a.db?mode=rwc"));
        assert!(dir.exists());
    }

    #[tokio::test]
    async fn empty_store_says_so() {
        let dir = std::env::temp_dir().join(format!("lockstep-empty-{}", std::process::id()));
        let store = Store::connect(&format!("sqlite://{}/s.db", dir.display()))
            .await
            .unwrap();
        store.ping().await.unwrap();
        assert_eq!(store.bar_summary().await.unwrap(), BarSummary::default());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn each_engine_gets_the_portable_migrations_and_its_own() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let m = migrator(backend);
            let versions: Vec<i64> = m.iter().map(|m| m.version).collect();
            let mut sorted = versions.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(versions, sorted, "{backend:?}: unique and in order");
            assert!(
                versions.contains(&1) && versions.contains(&10),
                "{versions:?}"
            );
            let trigger = m.iter().find(|m| m.version == 40).expect("0040");
            let own = match backend {
                Backend::Sqlite => "RAISE(ABORT",
                Backend::Postgres => "plpgsql",
            };
            assert!(
                trigger.sql.contains(own),
                "{backend:?} got the other engine's 0040"
            );
        }
    }

    #[tokio::test]
    async fn sqlite_runs_in_wal_mode() {
        use sqlx::Row;
        let dir = std::env::temp_dir().join(format!("lockstep-wal-{}", std::process::id()));
        let store = Store::connect(&format!("sqlite://{}/s.db", dir.display()))
            .await
            .unwrap();
        let mut conn = store.pool().acquire().await.unwrap();
        for (pragma, want) in [("journal_mode", "wal"), ("synchronous", "1")] {
            let row = sqlx::query(&format!("PRAGMA {pragma}"))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            let got: String = row
                .try_get::<String, _>(0)
                .or_else(|_| row.try_get::<i64, _>(0).map(|v| v.to_string()))
                .unwrap();
            assert_eq!(got, want, "{pragma}");
        }
        drop(conn);
        store.pool().close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn rejects_unknown_urls() {
        let err = Store::connect("mysql://x").await.unwrap_err();
        assert!(
            err.to_string().contains("unsupported database URL"),
            "{err}"
        );
    }
}
