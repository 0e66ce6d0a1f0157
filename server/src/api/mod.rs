//! The JSON API under `/api`. Response types live in `app::api` so the browser decodes exactly
//! what the server encodes.

mod health;

use crate::web::AppState;
use app::api::ApiErrorBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// Routes mounted at `/api`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
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
