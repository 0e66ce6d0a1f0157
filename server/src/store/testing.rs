//! Throwaway stores for tests: a SQLite file in a temporary directory, or a PostgreSQL schema of
//! its own on the local test server (`LOCKSTEP_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped when the [`TestStore`] is dropped, so
//! tests run in parallel and leave nothing behind.
//!
//! ```ignore
//! for engine in Engine::ALL {
//!     let Some(t) = TestStore::new(engine, "upserts").await else { continue };
//!     t.store.upsert(...).await?;
//! }
//! ```

use super::Store;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which engine a test store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];
}

/// The PostgreSQL server tests use.
pub fn postgres_url() -> String {
    std::env::var("LOCKSTEP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Whether a test that wants PostgreSQL must fail rather than skip when it is unreachable:
/// `LOCKSTEP_REQUIRE_POSTGRES` is set (to anything but `0`), or `CI` is `true` (a CI run never
/// skips quietly; `./x test` sets both and starts the server).
pub fn postgres_required() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
    set("LOCKSTEP_REQUIRE_POSTGRES") || std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A store that cleans up after itself.
pub struct TestStore {
    pub store: Store,
    pub engine: Engine,
    /// The URL the store was opened with (another `Store::connect` reaches the same data).
    pub url: String,
    dir: Option<PathBuf>,
    schema: Option<String>,
}

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{tag}_{}_{n}_{nanos}", std::process::id())
}

impl TestStore {
    /// A fresh, migrated store. SQLite always works; PostgreSQL returns `None` (with a printed
    /// notice) only when the server cannot be reached, unless it is required
    /// ([`postgres_required`]: `LOCKSTEP_REQUIRE_POSTGRES` or `CI=true`), in which case an
    /// unreachable server fails the test.
    pub async fn new(engine: Engine, tag: &str) -> Option<TestStore> {
        let name = unique(tag);
        match engine {
            Engine::Sqlite => {
                let dir = std::env::temp_dir().join(format!("lockstep-store-{name}"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}/t.db", dir.display());
                let store = Store::connect(&url).await.expect("sqlite store");
                Some(TestStore {
                    store,
                    engine,
                    url,
                    dir: Some(dir),
                    schema: None,
                })
            }
            Engine::Postgres => {
                let base = postgres_url();
                let schema = format!("t_{name}");
                if let Err(e) = admin(&base, &format!("CREATE SCHEMA {schema}")).await {
                    if postgres_required() {
                        panic!("PostgreSQL at {base} is required: {e}");
                    }
                    eprintln!(
                        "notice: PostgreSQL at {base} unreachable ({e}); test runs on SQLite only"
                    );
                    return None;
                }
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                let store = Store::connect(&url).await.expect("postgres store");
                Some(TestStore {
                    store,
                    engine,
                    url,
                    dir: None,
                    schema: Some(schema),
                })
            }
        }
    }
}

async fn admin(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(sql).execute(&mut conn).await?;
    conn.close().await
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(schema) = self.schema.take() {
            // Drop the schema from a short-lived thread with its own runtime: Drop cannot await,
            // and the test's runtime may be shutting down.
            let url = postgres_url();
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _ = rt.block_on(admin(&url, &format!("DROP SCHEMA {schema} CASCADE")));
                }
            })
            .join();
        }
    }
}
