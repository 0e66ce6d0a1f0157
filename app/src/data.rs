//! The market panel in the browser: downloaded once from `/api/panel`, decoded in WebAssembly
//! with the same codec the server encodes with, and shared by every page through context.

use leptos::prelude::*;
use shared::Panel;
use std::sync::Arc;

/// The fields the strategies read (everything but open/high/low).
pub const PANEL_FIELDS: &str =
    "close,volume,market_cap,circulating_supply,funding_rate,open_interest";

/// Grows the WebAssembly heap to hold `bytes` more in one step, now. The allocator otherwise
/// grows the memory a little at a time as a sweep's signal records (or a backtest's results)
/// pile up, and each `memory.grow` costs V8 a new buffer and a garbage collection: in a
/// 1,000-point sweep that was ~35 % of a worker's time (Node's CPU profile: `dlmalloc::sys::System::alloc` and the
/// garbage collector), making points in the middle of the run 3× slower than at either end.
/// The allocator keeps freed memory (WebAssembly memory never shrinks), so the block freed
/// here serves the allocations to come. Pages are only touched when used. A no-op natively.
pub fn reserve_heap(bytes: usize) {
    #[cfg(target_arch = "wasm32")]
    {
        // black_box: an allocation nobody reads may otherwise be optimised away.
        let block = Vec::<u8>::with_capacity(bytes);
        std::hint::black_box(&block);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = bytes;
}

/// Heap the page sets aside once the panel is in: a full backtest's holdings, trades and
/// attribution over the real panel, with room to spare.
#[cfg(feature = "hydrate")]
const PAGE_HEAP_RESERVE: usize = 48 << 20;

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
        // Room for a backtest's results in one step (see `reserve_heap`).
        reserve_heap(PAGE_HEAP_RESERVE);
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
