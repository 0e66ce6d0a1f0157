//! The HTTP surface: the Leptos app (SSR + hydration), static files and the JSON API.

use crate::store::Store;
use axum::extract::FromRef;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub store: Arc<Store>,
    /// Sign-in settings and the login rate limiters (`crate::auth`).
    pub auth: crate::auth::Auth,
    /// The live trader (`crate::live`): paper broker and the shipped config unless replaced
    /// with [`AppState::with_live`].
    pub live: Arc<crate::live::LiveService>,
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
            auth: crate::auth::Auth::default(),
            live: Arc::new(live),
        }
    }

    /// The same state with this live trader (its own settings, config, broker or clock).
    pub fn with_live(mut self, live: Arc<crate::live::LiveService>) -> AppState {
        self.live = live;
        self
    }

    /// The same state with these sign-in settings (fresh rate limiters).
    pub fn with_auth(mut self, config: crate::auth::AuthConfig) -> AppState {
        self.auth = crate::auth::Auth::new(config);
        self
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos.clone()
    }
}

/// The whole application: `/api/*` JSON endpoints, then the dashboard's pages, then files.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    Router::new()
        // CSRF check on every state-changing /api request (login excepted; see crate::auth).
        .nest(
            "/api",
            crate::api::routes().layer(axum::middleware::from_fn(crate::auth::csrf::require_csrf)),
        )
        // Named team links: `/s/<id>` redirects to the page with the stored state.
        .route("/s/{id}", axum::routing::get(crate::api::links::open))
        .leptos_routes(&state, routes, {
            let options = state.leptos.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        // `/api/panel` is deflate-compressed already: gzip would cost time and save nothing.
        .layer(
            tower_http::compression::CompressionLayer::new().compress_when({
                use tower_http::compression::predicate::{
                    DefaultPredicate, NotForContentType, Predicate,
                };
                DefaultPredicate::new().and(NotForContentType::const_new(
                    shared::panel_codec::MEDIA_TYPE,
                ))
            }),
        )
        .with_state(state)
}
