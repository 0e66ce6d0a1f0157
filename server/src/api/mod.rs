//! The JSON API under `/api`. Response types live in `app::api` so the browser decodes exactly
//! what the server encodes.

mod audit;
mod auth;
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

use crate::web::AppState;
use app::api::ApiErrorBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

/// Routes mounted at `/api`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/data/status", get(data::status))
        .route("/panel", get(data::panel))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/openapi.json", get(openapi::openapi))
        .route("/portfolio", get(portfolio::portfolio))
        .route("/equity", get(portfolio::equity))
        .route(
            "/kill-switch",
            get(portfolio::kill_switch)
                .post(portfolio::kill_switch_on)
                .delete(portfolio::kill_switch_off),
        )
        .route("/plans", get(plans::list))
        .route("/plans/{id}", get(plans::detail))
        .route("/plans/{id}/approve", post(plans::approve))
        .route("/plans/{id}/reject", post(plans::reject))
        .route("/plans/{id}/execute", post(plans::execute))
        .route("/plans/{id}/replay", get(plans::replay))
        .route("/audit", get(audit::audit))
        .route("/notifications", get(notifications::list))
        .route("/events", get(events::events))
        .route("/demo", get(demo::list).post(demo::start))
        .route("/live/run", post(plans::run))
        .route("/parity", get(parity::parity))
        .route("/links", get(links::list).post(links::create))
        .route("/links/{id}", axum::routing::delete(links::delete))
        .fallback(not_found)
}

async fn not_found(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no API endpoint at {uri}"))
}

/// An error answer: a status and a message that says what went wrong, as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ApiErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}
