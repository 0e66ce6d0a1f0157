//! The JSON API under `/api`. Response types live in `app::api` so the browser decodes exactly
//! what the server encodes.
//!
//! Every endpoint is added through [`Endpoints`], which asks who may call it ([`Access`]) and
//! records the decision: public endpoints go on one router, all others on a router behind
//! `auth::session::require_session` (a `route_layer`), so a new handler cannot forget the
//! session check, and the route × role × CSRF test in `server/tests/it/attack.rs` walks
//! [`table`] — a route added without a decision does not compile, and one with a decision is
//! tested.

mod audit;
mod auth;
pub mod costs;
pub mod data;
mod demo;
mod events;
mod health;
pub mod links;
mod notifications;
mod openapi;
mod parity;
mod plans;
mod portfolio;

pub use crate::error::ApiError;

use crate::state::{AppState, WebConfig};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;

/// Who may call an endpoint. docs/security.md has the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not: health, sign-in, sign-out, who-am-I.
    Public,
    /// Signed-in users; anyone when the server runs with `--public-read`.
    Read,
    /// Any signed-in user, viewer or trader.
    SignedIn,
    /// Traders: signed-in (checked by the layer) with the trader role (checked by the
    /// handler's `RequireTrader`; viewers get 403).
    Trader,
}

impl Access {
    /// Whether an anonymous request reaches the handler, given `--public-read`.
    pub fn is_public(self, public_read: bool) -> bool {
        match self {
            Access::Public => true,
            Access::Read => public_read,
            Access::SignedIn | Access::Trader => false,
        }
    }
}

/// One endpoint as the router has it: method, path below `/api`, and who may call it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Endpoints that answer with a stream kept open for as long as the page is (server-sent
/// events): the request timeout would cut them, so they get none. A stream is cheap (one
/// subscription to the in-process event hub) and ends when the client goes away.
const STREAMS: &[&str] = &["/events"];

/// The router being built, with the list of what was added to it.
struct Endpoints {
    web: WebConfig,
    public: Router<AppState>,
    signed_in: Router<AppState>,
    table: Vec<Endpoint>,
}

impl Endpoints {
    fn new(web: &WebConfig) -> Endpoints {
        Endpoints {
            web: web.clone(),
            public: Router::new(),
            signed_in: Router::new(),
            table: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        let mut route: MethodRouter<AppState> = on(filter, handler);
        // A trader's action (approve, execute, run the cycle) is not cut off half-way: it is
        // bounded by the broker's and the venues' own timeouts instead.
        let trader_action = access == Access::Trader && method != Method::GET;
        if !trader_action && !STREAMS.contains(&path) {
            route = crate::http::limits::with_timeout(route, self.web.request_timeout);
        }
        if access.is_public(self.web.public_read) {
            self.public = self.public.route(path, route);
        } else {
            self.signed_in = self.signed_in.route(path, route);
        }
        self.table.push(Endpoint {
            method,
            path,
            access,
        });
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        self.add(Method::GET, path, access, h)
    }

    fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        self.add(Method::POST, path, access, h)
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        self.add(Method::DELETE, path, access, h)
    }
}

/// Every endpoint under `/api` with its decision. The one place routes are added.
fn endpoints(state: &AppState) -> Endpoints {
    use Access::{Public, Read, SignedIn, Trader};
    Endpoints::new(&state.web)
        .get("/health", Public, health::health)
        .get("/data/status", Read, data::status)
        .get("/panel", Read, data::panel)
        .post("/auth/login", Public, auth::login)
        .post("/auth/logout", Public, auth::logout)
        .get("/auth/me", Public, auth::me)
        .get("/openapi.json", Read, openapi::openapi)
        .get("/portfolio", SignedIn, portfolio::portfolio)
        .get("/equity", SignedIn, portfolio::equity)
        .get("/kill-switch", SignedIn, portfolio::kill_switch)
        .post("/kill-switch", Trader, portfolio::kill_switch_on)
        .delete("/kill-switch", Trader, portfolio::kill_switch_off)
        .get("/plans", SignedIn, plans::list)
        .get("/plans/{id}", SignedIn, plans::detail)
        .post("/plans/{id}/approve", Trader, plans::approve)
        .post("/plans/{id}/reject", Trader, plans::reject)
        .post("/plans/{id}/execute", Trader, plans::execute)
        .post("/plans/{id}/reconcile", Trader, plans::reconcile)
        .get("/plans/{id}/replay", SignedIn, plans::replay)
        .get("/audit", SignedIn, audit::audit)
        .get("/notifications", SignedIn, notifications::list)
        .get("/events", SignedIn, events::events)
        .get("/demo", SignedIn, demo::list)
        .post("/demo", Trader, demo::start)
        .post("/live/run", Trader, plans::run)
        .get("/parity", SignedIn, parity::parity)
        .get("/costs", SignedIn, costs::costs)
        .get("/links", SignedIn, links::list)
        .post("/links", SignedIn, links::create)
        .delete("/links/{id}", SignedIn, links::delete)
        .get("/links/{id}/results", Read, links::results)
}

/// Routes mounted at `/api`: the public ones as they are, the rest behind the session check.
pub fn routes(state: &AppState) -> Router<AppState> {
    let e = endpoints(state);
    let gate = crate::auth::session::SessionGate {
        store: state.store.clone(),
        auth: state.auth.clone(),
    };
    let signed_in = e
        .signed_in
        .route_layer(axum::middleware::from_fn_with_state(
            gate,
            crate::auth::session::require_session,
        ));
    e.public
        .merge(signed_in)
        .fallback(not_found)
        .layer(axum::middleware::map_response(json_errors))
}

/// Extractors' own rejections (a query string or body that does not deserialize: axum answers
/// in plain text) in the API's error shape, `{"error": "..."}`, so every 4xx of `/api` reads the
/// same. The text, which names the parameter, is kept (bounded).
async fn json_errors(resp: axum::response::Response) -> axum::response::Response {
    use axum::http::header::CONTENT_TYPE;
    let plain = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(resp.status().is_client_error() && plain) {
        return resp;
    }
    let status = resp.status();
    let text = match axum::body::to_bytes(resp.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_string(),
    };
    axum::response::IntoResponse::into_response(ApiError::new(status, text))
}

/// What [`routes`] serves, endpoint by endpoint, for tests and the route table in the docs.
pub fn table(state: &AppState) -> Vec<Endpoint> {
    endpoints(state).table
}

async fn not_found(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no API endpoint at {uri}"))
}
