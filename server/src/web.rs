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
        AppState {
            leptos,
            store: Arc::new(store),
        }
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
        .nest("/api", crate::api::routes())
        .leptos_routes(&state, routes, {
            let options = state.leptos.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}
