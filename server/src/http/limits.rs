//! Limits at the HTTP layer, so no request can hold the server: a time limit per handler, a
//! time limit per piece of request body, a cap on body size (413), a cap on requests handled at
//! once, and a panic in a handler answered with 500 (logged) while the server keeps serving.
//! The header read timeout lives in [`super::serve`] (it belongs to the connection, not the
//! request). Values: [`crate::state::WebConfig`].

use crate::error::ApiError;
use crate::state::WebConfig;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use std::any::Any;
use std::time::Duration;

/// `route` with a time limit: its handler (reading the body included) must answer within
/// `limit`, else the request gets 408 and the handler is dropped.
pub fn with_timeout<S: Clone + Send + Sync + 'static>(
    route: MethodRouter<S>,
    limit: Duration,
) -> MethodRouter<S> {
    route.layer(axum::middleware::from_fn_with_state(limit, time_limit))
}

async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(%method, %path, limit_s = limit.as_secs_f64(), "request timed out");
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "request timed out: no answer within {} s (a slow upload, or the server is overloaded)",
                    limit.as_secs_f64()
                ),
            )
            .into_response()
        }
    }
}

/// Each piece of a request body must arrive within `limit` of the previous one (a body that
/// trickles in cannot hold a request slot forever, even on routes without a handler timeout).
async fn body_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let req = req.map(|body| Body::new(tower_http::timeout::TimeoutBody::new(limit, body)));
    next.run(req).await
}

/// The answer to a handler that panicked: 500 with a JSON message, and the panic in the log.
/// The connection and the server carry on.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let what = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %what, "a request handler panicked; answered 500");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error: the server failed on this request (see its log); nothing else was affected",
    )
    .into_response()
}

/// Wraps the whole router in the limits of `web`. Outermost first: panic → 500, at most
/// `max_concurrent_requests` at once (the rest wait), body pieces at most `header_timeout`
/// apart, bodies over `max_body_bytes` → 413.
pub fn apply<S: Clone + Send + Sync + 'static>(router: Router<S>, web: &WebConfig) -> Router<S> {
    // The size limit sits inside the body timeout, so an oversized body's error reaches the
    // extractors as the length-limit error they answer with 413.
    router
        .layer(axum::extract::DefaultBodyLimit::max(web.max_body_bytes))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            web.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            web.header_timeout,
            body_timeout,
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            web.max_concurrent_requests.max(1),
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
}
