//! The error answer of every HTTP endpoint: a status and a message, as `{"error": "..."}`.
//!
//! It lives apart from `api` so that the layers below the handlers (`auth`'s extractors and
//! CSRF check, `web`'s limits) can reject a request without importing the handlers: the arrows
//! run `web → api → auth → error`, never back.

use app::api::ApiErrorBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

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

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message sent as `error`.
    pub fn message(&self) -> &str {
        &self.message
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

/// The status for a JSON body that could not be read: 413 when it was over the body limit
/// (`http::limits`), else 400.
pub fn rejection_status(e: &axum::extract::rejection::JsonRejection) -> StatusCode {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    }
}
