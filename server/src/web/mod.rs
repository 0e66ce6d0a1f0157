//! The HTTP surface: the Leptos app (SSR + hydration), static files and the JSON API, behind the
//! HTTP layer's limits and security headers (`crate::http`).
//!
//! Who may see what (docs/security.md): without `--public-read`, only `/api/health`, the
//! sign-in page (`/login`) and static files (the WASM bundle, CSS, the sweep worker — code, no
//! data) answer a visitor who is not signed in. Every other page, and `/s/{id}`, redirects them
//! to `/login?next=<where they wanted to go>`; the API answers 401. With `--public-read`, the
//! pages, `/s/{id}` and the read endpoints that were public before (`/api/panel`,
//! `/api/data/status`, `/api/openapi.json`) are open again; the book (portfolio, plans, audit,
//! parity, links) stays signed-in only.

use crate::http::headers::CspNonce;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{generate_route_list, LeptosRoutes};

pub use crate::state::WebConfig;

/// The sign-in page: public whatever `--public-read` says.
pub const LOGIN_PATH: &str = "/login";

/// Hands this request's CSP nonce to Leptos, so the inline scripts it writes carry the nonce the
/// `Content-Security-Policy` header names; and who is signed in, when [`page_session`] knew.
fn leptos_context() {
    let parts = use_context::<axum::http::request::Parts>();
    let nonce = parts
        .as_ref()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(n)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(n));
    }
    let known = parts.and_then(|parts| parts.extensions.get::<PageSession>().cloned());
    if let Some(PageSession(s)) = known {
        provide_context(s);
    }
}

/// Who the page is rendered for ([`page_session`]), for [`leptos_context`].
#[derive(Clone)]
struct PageSession(app::session::ServerSession);

/// Whether this page request would have carried the `SameSite=Strict` session cookie had the
/// browser held one: a navigation from this site or a sibling, or one the user started
/// (address bar, bookmark). A navigation from another site (`cross-site`) comes without it,
/// and a browser that does not send `Sec-Fetch-Site` leaves it open; then the server cannot
/// tell "signed out" from "cookie withheld", and the page's app asks `/api/auth/me` itself.
fn session_cookie_would_be_sent(headers: &axum::http::HeaderMap) -> bool {
    matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("same-origin" | "same-site" | "none")
    )
}

/// Every page: looks the session up (once per request, shared with [`require_page_session`])
/// so the page is rendered for who is signed in and hands that to the hydrating app
/// ([`app::session::ServerSession`]: name and role, what `/api/auth/me` says minus the CSRF
/// token), sparing the browser that round trip after hydration. A page rendered for a
/// signed-in user is `Cache-Control: no-store`, like `/api/auth/me`.
async fn page_session(
    State(gate): State<crate::auth::session::SessionGate>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let mut signed_in = false;
    if session_cookie_would_be_sent(&parts.headers) {
        // A store error leaves it unknown: the page renders, and the browser asks itself.
        if let Ok(user) = gate.user(&mut parts).await {
            signed_in = user.is_some();
            let known = user.map(|u| app::session::SignedIn {
                username: u.username,
                role: u.role,
            });
            parts
                .extensions
                .insert(PageSession(app::session::ServerSession(known)));
        }
    }
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    if signed_in {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Pages for signed-in users: a visitor without a session is sent to the sign-in page, which
/// brings them back (`next`) once signed in.
async fn require_page_session(
    State(gate): State<crate::auth::session::SessionGate>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    match gate.user(&mut parts).await {
        Ok(Some(_)) => next.run(Request::from_parts(parts, body)).await,
        Ok(None) => {
            let wanted = parts
                .uri
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_string();
            let location = format!("{LOGIN_PATH}?next={}", encode_component(&wanted));
            let mut resp = (StatusCode::SEE_OTHER, "sign in first").into_response();
            resp.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&location).expect("percent-encoded ASCII"),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a query value.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The whole application: `/api/*` JSON endpoints, `/s/{id}`, the dashboard's pages, then
/// files, inside the HTTP layer's limits and security headers.
pub fn router(state: AppState) -> Router {
    let gate = crate::auth::session::SessionGate {
        store: state.store.clone(),
        auth: state.auth.clone(),
    };
    let (login, pages): (Vec<_>, Vec<_>) = generate_route_list(app::App)
        .into_iter()
        .partition(|r| r.path() == LOGIN_PATH);
    let shell = {
        let options = state.leptos.clone();
        move || app::shell(options.clone())
    };
    let mut pages = Router::new()
        .leptos_routes_with_context(&state, pages, leptos_context, shell.clone())
        .route_layer(axum::middleware::from_fn_with_state(
            gate.clone(),
            page_session,
        ))
        // Named team links: `/s/<id>` redirects to the page with the stored state.
        .route("/s/{id}", axum::routing::get(crate::api::links::open));
    if !state.web.public_read {
        pages = pages.route_layer(axum::middleware::from_fn_with_state(
            gate.clone(),
            require_page_session,
        ));
    }
    let login = Router::new()
        .leptos_routes_with_context(&state, login, leptos_context, shell)
        .route_layer(axum::middleware::from_fn_with_state(gate, page_session));
    let app = Router::new()
        // CSRF check on every state-changing /api request (login excepted; see crate::auth).
        .nest(
            "/api",
            crate::api::routes(&state).layer(axum::middleware::from_fn_with_state(
                state.auth.clone(),
                crate::auth::csrf::require_csrf,
            )),
        )
        .merge(pages)
        .merge(login)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(leptos_context, app::shell))
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
        );
    let app =
        crate::http::limits::apply(app, &state.web).layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            crate::http::headers::security_headers,
        ));
    app.with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_encoded_as_one_query_value() {
        assert_eq!(
            encode_component("/backtest?s=1.a+b&x=é"),
            "/backtest%3Fs%3D1.a%2Bb%26x%3D%C3%A9"
        );
    }
}
