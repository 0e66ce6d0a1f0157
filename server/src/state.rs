//! [`AppState`]: what every request handler may reach, and the sub-states the layers below the
//! handlers take from it with `FromRef` (the store, the sign-in settings), so that `auth` never
//! names the application state.

use crate::auth::Auth;
use crate::store::Store;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub store: Arc<Store>,
    /// Sign-in settings and the login rate limiters (`crate::auth`).
    pub auth: Auth,
    /// The live trader (`crate::live`): paper broker and the shipped config unless replaced
    /// with [`AppState::with_live`].
    pub live: Arc<crate::live::LiveService>,
    /// Who may read without signing in, and the HTTP layer's limits.
    pub web: WebConfig,
    /// `/api/data/status` answers of the current data version (`/api/panel`'s live in the
    /// store, beside the panel they encode).
    pub status_cache: Arc<StatusCache>,
    /// `/api/health`'s data summary (whole-table counts) of the current data version.
    pub health_cache: Arc<HealthCache>,
}

/// `/api/health`'s data summary: the bars' counts and range and the sources in use, computed
/// once per data version (every write of market data bumps it).
pub type HealthCache =
    crate::cache::VersionedCache<(), i64, Arc<(crate::store::BarSummary, Vec<String>)>>;

/// `/api/data/status` answers by (as of, stale days), valid for one data version and latest
/// fetch run (id, finished, status).
pub type StatusCache = crate::cache::VersionedCache<
    (shared::Day, u32),
    (i64, Option<(i64, Option<i64>, String)>),
    Arc<app::api::DataStatus>,
>;

/// Distinct status requests kept (least recently used out first).
pub const STATUS_CACHE_ENTRIES: usize = 16;

/// The HTTP surface's policy and limits (`lockstep serve` flags; see docs/security.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebConfig {
    /// `--public-read`: the pages, `/s/{id}`, `/api/panel`, `/api/data/status` and
    /// `/api/openapi.json` answer without sign-in. Off by default: then only `/api/health`, the
    /// sign-in page and static files do.
    pub public_read: bool,
    /// A handler that has not answered after this long gets 408 and is dropped. Trader actions
    /// (approve, execute, run the cycle) are exempt: cutting an execution short helps no one.
    pub request_timeout: Duration,
    /// A client must send a request's headers within this long after connecting (or after the
    /// previous response on a kept-alive connection), and each part of its body within it.
    pub header_timeout: Duration,
    /// Requests handled at once; more wait for a free slot.
    pub max_concurrent_requests: usize,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            public_read: false,
            request_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            max_concurrent_requests: 256,
            max_body_bytes: 256 * 1024,
        }
    }
}

impl AppState {
    /// State for a server whose compiled site lives in `site_root`.
    pub fn new(store: Store, site_root: &Path, addr: SocketAddr) -> AppState {
        let leptos = LeptosOptions::builder()
            // cargo-leptos names the bundle after `output-name` in the workspace Cargo.toml.
            .output_name(option_env!("LEPTOS_OUTPUT_NAME").unwrap_or("lockstep"))
            .site_root(site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let store = Arc::new(store);
        let live = crate::live::LiveService::paper_default(store.clone())
            .expect("the shipped strategy config builds");
        AppState {
            leptos,
            store,
            auth: Auth::default(),
            live: Arc::new(live),
            web: WebConfig::default(),
            status_cache: Arc::new(crate::cache::VersionedCache::new(STATUS_CACHE_ENTRIES)),
            health_cache: Arc::new(crate::cache::VersionedCache::new(1)),
        }
    }

    /// The same state with this live trader (its own settings, config, broker or clock).
    pub fn with_live(mut self, live: Arc<crate::live::LiveService>) -> AppState {
        self.live = live;
        self
    }

    /// The same state with these sign-in settings (fresh rate limiters).
    pub fn with_auth(mut self, config: crate::auth::AuthConfig) -> AppState {
        self.auth = Auth::new(config);
        self
    }

    /// The same state with this HTTP policy.
    pub fn with_web(mut self, web: WebConfig) -> AppState {
        self.web = web;
        self
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos.clone()
    }
}

impl FromRef<AppState> for Arc<Store> {
    fn from_ref(state: &AppState) -> Arc<Store> {
        state.store.clone()
    }
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Auth {
        state.auth.clone()
    }
}
