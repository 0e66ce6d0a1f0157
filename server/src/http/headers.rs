//! Security headers on every response.
//!
//! - `Content-Security-Policy`: scripts only from this origin plus the one inline script of the
//!   page that carries this response's nonce (Leptos' hydration loader; Leptos puts the nonce on
//!   every inline script it writes), WebAssembly compilation (`'wasm-unsafe-eval'`, the
//!   dashboard is a WASM app), no inline styles (but for the exact `style` values plotters
//!   measures chart text with, by hash: [`CHART_FONT_SIZES`]), no plugins, no `<base>`, forms
//!   post only here,
//!   and `frame-ancestors 'none'`: no other site may frame the dashboard (the Approve button
//!   must not be clickjackable). Workers (the sweep) and fetches stay on this origin.
//! - `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`.
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (a page's URL holds the
//!   share state: it is not sent to other sites).
//! - `Strict-Transport-Security` when the request came over HTTPS (directly or through a
//!   TLS-terminating proxy; see `auth::session::is_https`): over plain HTTP it means nothing.
//!
//! The nonce is made here, per request, and handed to the page renderer in the request's
//! extensions ([`CspNonce`]; `web::leptos_context` gives it to Leptos), so the header and the
//! page always agree.

use crate::auth::Auth;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// This response's CSP nonce: 16 random bytes, URL-safe base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CspNonce(pub String);

impl CspNonce {
    /// A fresh nonce from the operating system's CSPRNG.
    ///
    /// # Panics
    /// If the OS has no randomness to give (never seen in practice; `getrandom`'s contract).
    pub fn new() -> CspNonce {
        use base64::Engine as _;
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the OS random source");
        CspNonce(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }
}

impl Default for CspNonce {
    fn default() -> Self {
        CspNonce::new()
    }
}

/// The font sizes (px) the dashboard's charts draw text in (`app/src/chart.rs`). plotters
/// measures text in the browser with a hidden `<span>` whose `style` attribute it sets
/// (`plotters::style::font::web`): those exact attribute values, and nothing else, are let
/// through by hash. A chart drawing in a new size shows up as a CSP violation in the e2e suite.
pub const CHART_FONT_SIZES: [u32; 3] = [12, 13, 16];

/// The `style` attribute plotters gives its text-measuring span for `size` px sans-serif.
pub fn plotters_measure_style(size: u32) -> String {
    format!(
        "display: inline-block; font-family:sans-serif; font-style:normal; font-size: {size}px; position: fixed; top: 100%"
    )
}

/// `'sha256-...'` sources for [`CHART_FONT_SIZES`], computed once.
fn chart_style_hashes() -> &'static str {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    static HASHES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASHES.get_or_init(|| {
        CHART_FONT_SIZES
            .iter()
            .map(|&size| {
                let digest = Sha256::digest(plotters_measure_style(size).as_bytes());
                format!(
                    "'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The policy for a response whose inline scripts carry `nonce`.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-hashes' {}; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
        chart_style_hashes()
    )
}

/// `Strict-Transport-Security` for HTTPS answers: a year, sub-domains included.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Middleware: makes the request's nonce and sets the headers on its response (whatever made
/// it: a page, the API, a static file, a 413 or a 500).
pub async fn security_headers(State(auth): State<Auth>, mut req: Request, next: Next) -> Response {
    let nonce = CspNonce::new();
    let https = auth.secure_for(req.uri(), req.headers());
    req.extensions_mut().insert(nonce.clone());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&content_security_policy(&nonce.0)).expect("ASCII policy"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_wasm_and_the_nonce_and_nothing_inline() {
        let n = CspNonce::new();
        assert_eq!(n.0.len(), 22);
        assert_ne!(n, CspNonce::new());
        let p = content_security_policy(&n.0);
        assert!(p.contains(&format!(
            "script-src 'self' 'nonce-{}' 'wasm-unsafe-eval';",
            n.0
        )));
        assert!(p.contains("frame-ancestors 'none'"));
        assert!(!p.contains("unsafe-inline"), "{p}");
        // The 13 px measuring span, as the browser reported its hash.
        assert!(
            p.contains("'sha256-SGv2RoMEiDiquni0d2hRt3svFYmL+pk2L3jsGSOUnfU='"),
            "{p}"
        );
        assert!(!p.contains("'unsafe-eval'"), "{p}");
    }
}
