//! The market panel in the browser: downloaded from `/api/panel`, decoded in WebAssembly with
//! the same codec the server encodes with, and shared by every page through context.
//!
//! Which panel: the default one, or the one a run on a venue reads (`?venue=`: that venue's
//! funding first, with its listing history, `shared::universe::VenueUniverse`), which a page
//! asks for when its config names a venue ([`PanelResource::want`]). The panel is downloaded
//! again only when the request changes.

use leptos::prelude::*;
use shared::config::VenueScope;
use shared::universe::VenueUniverse;
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

/// Which panel to download: `venue` asks for the panel a run on that venue reads and its
/// universe (`None`: the default panel, the one of a config with `venue: "any"` or none);
/// `as_of` for the panel as it was at that data version (a share link's pinned data; `None`:
/// today's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PanelRequest {
    pub venue: Option<VenueScope>,
    pub as_of: Option<i64>,
}

impl PanelRequest {
    /// The request a run of a config on `venue` needs.
    pub fn for_venue(venue: VenueScope) -> PanelRequest {
        PanelRequest {
            venue: (venue != VenueScope::Any).then_some(venue),
            as_of: None,
        }
    }

    /// The `/api/panel` address of this request.
    pub fn url(&self) -> String {
        let mut url = format!("/api/panel?fields={PANEL_FIELDS}");
        if let Some(v) = self.venue {
            url.push_str("&venue=");
            url.push_str(v.name());
        }
        if let Some(v) = self.as_of {
            url.push_str(&format!("&as_of={v}"));
        }
        url
    }
}

/// Decodes an `/api/panel` answer to `request`: the panel and, for a venue, the venue's
/// universe the server sent with it (the page and the tests share this path).
///
/// # Errors
/// Bytes that do not decode, or an answer without the venue's universe the request asked for.
pub fn decode_panel(
    bytes: &[u8],
    request: PanelRequest,
) -> Result<(Panel, Option<VenueUniverse>), String> {
    let decoded =
        shared::panel_codec::decode(bytes).map_err(|e| format!("decoding the panel: {e}"))?;
    if let Some(v) = request.venue {
        match &decoded.venue {
            Some(u) if u.venue == v.name() => {}
            Some(u) => {
                return Err(format!(
                    "the server sent the universe of venue {} for a request of {v}",
                    u.venue
                ))
            }
            None => return Err(format!("the server sent no universe for venue {v}")),
        }
    }
    Ok((decoded.panel, decoded.venue))
}

/// A decoded panel and where it came from.
#[derive(Clone, Debug)]
pub struct LoadedPanel {
    pub panel: Arc<Panel>,
    /// What was asked for.
    pub request: PanelRequest,
    /// The venue's universe (listings, funding notes) when the request named a venue.
    pub universe: Option<VenueUniverse>,
    /// The store's data version this panel is (the `x-lockstep-data-version` header): what a
    /// share link pins.
    pub data_version: Option<i64>,
    /// The response's ETag: identifies the data snapshot (used in shared links).
    pub etag: Option<String>,
    /// Compressed size on the wire, bytes.
    pub bytes: usize,
    /// Download + decode + derive time in milliseconds (browser clock).
    pub load_ms: f64,
    /// Of which the panel's derived series ([`Panel::derive_all`]: log returns, priced assets,
    /// the simulator's row-major closes), computed once here rather than inside the first run.
    pub derive_ms: f64,
}

/// The app-wide panel resource (created once in `App`): the panel of the current request.
#[derive(Clone, Copy)]
pub struct PanelResource(
    pub LocalResource<Result<LoadedPanel, String>>,
    pub RwSignal<PanelRequest>,
);

impl PanelResource {
    pub fn new() -> PanelResource {
        let request = RwSignal::new(PanelRequest::default());
        PanelResource(
            LocalResource::new(move || load_panel(request.get())),
            request,
        )
    }

    /// Asks for `request`'s panel (a new download only when it differs from the current one).
    pub fn want(&self, request: PanelRequest) {
        if self.1.get_untracked() != request {
            self.1.set(request);
        }
    }

    /// The loaded panel when it answers `request` (`None` while it loads or answers another).
    pub fn ready_for(&self, request: PanelRequest) -> Option<Result<LoadedPanel, String>> {
        match self.0.get() {
            Some(Ok(p)) if p.request != request => None,
            other => other,
        }
    }

    /// [`Self::ready_for`] without subscribing the caller (event handlers, one-off reads).
    pub fn ready_for_untracked(
        &self,
        request: PanelRequest,
    ) -> Option<Result<LoadedPanel, String>> {
        untrack(|| self.ready_for(request))
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

async fn load_panel(request: PanelRequest) -> Result<LoadedPanel, String> {
    #[cfg(feature = "hydrate")]
    {
        let t0 = now_ms();
        let url = request.url();
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
        let data_version = resp
            .headers()
            .get("x-lockstep-data-version")
            .and_then(|v| v.trim().parse::<i64>().ok());
        let bytes = resp
            .binary()
            .await
            .map_err(|e| format!("reading the panel: {e}"))?;
        let (panel, universe) = decode_panel(&bytes, request)?;
        // Room for a backtest's results in one step (see `reserve_heap`).
        reserve_heap(PAGE_HEAP_RESERVE);
        // The series every run reads, once per panel: the first backtest on the page then
        // costs what the next ones do (docs/benchmarks.md, session 5).
        let t_derive = now_ms();
        panel.derive_all();
        let derive_ms = now_ms() - t_derive;
        Ok(LoadedPanel {
            panel: Arc::new(panel),
            request,
            universe,
            data_version,
            etag,
            bytes: bytes.len(),
            load_ms: now_ms() - t0,
            derive_ms,
        })
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = request;
        Err("the panel is loaded in the browser".into())
    }
}
