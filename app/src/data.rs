//! The market panel in the browser: downloaded once from `/api/panel`, decoded in WebAssembly
//! with the same codec the server encodes with, and shared by every page through context.

use leptos::prelude::*;
use shared::Panel;
use std::sync::Arc;

/// The fields the strategies read (everything but open/high/low).
pub const PANEL_FIELDS: &str =
    "close,volume,market_cap,circulating_supply,funding_rate,open_interest";

/// A decoded panel and where it came from.
#[derive(Clone, Debug)]
pub struct LoadedPanel {
    pub panel: Arc<Panel>,
    /// The response's ETag: identifies the data snapshot (used in shared links).
    pub etag: Option<String>,
    /// Compressed size on the wire, bytes.
    pub bytes: usize,
    /// Download + decode time in milliseconds (browser clock).
    pub load_ms: f64,
}

/// The app-wide panel resource (created once in `App`).
#[derive(Clone, Copy)]
pub struct PanelResource(pub LocalResource<Result<LoadedPanel, String>>);

impl PanelResource {
    pub fn new() -> PanelResource {
        PanelResource(LocalResource::new(load_panel))
    }
}

impl Default for PanelResource {
    fn default() -> Self {
        PanelResource::new()
    }
}

/// The panel resource provided by `App`.
pub fn use_panel() -> PanelResource {
    use_context::<PanelResource>().expect("PanelResource is provided by App")
}

/// Milliseconds from the browser's monotonic clock (0 on the server).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| p.now())
            .unwrap_or(0.0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

async fn load_panel() -> Result<LoadedPanel, String> {
    #[cfg(feature = "hydrate")]
    {
        let t0 = now_ms();
        let url = format!("/api/panel?fields={PANEL_FIELDS}");
        let resp = gloo_net::http::Request::get(&url)
            .send()
            .await
            .map_err(|e| format!("downloading the panel: {e}"))?;
        if !resp.ok() {
            let status = resp.status();
            let msg = resp
                .json::<crate::api::ApiErrorBody>()
                .await
                .map(|b| b.error)
                .unwrap_or_default();
            return Err(format!("downloading the panel: HTTP {status} {msg}"));
        }
        let etag = resp.headers().get("etag");
        let bytes = resp
            .binary()
            .await
            .map_err(|e| format!("reading the panel: {e}"))?;
        let panel = shared::panel_codec::decode(&bytes)
            .map_err(|e| format!("decoding the panel: {e}"))?
            .panel;
        Ok(LoadedPanel {
            panel: Arc::new(panel),
            etag,
            bytes: bytes.len(),
            load_ms: now_ms() - t0,
        })
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Err("the panel is loaded in the browser".into())
    }
}
