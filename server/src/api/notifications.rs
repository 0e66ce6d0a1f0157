//! `GET /api/notifications`: the notification deliveries, newest first (what was sent where,
//! what failed and why).

use super::ApiError;
use crate::auth::CurrentUser;
use crate::state::AppState;
use app::api::{ApiErrorBody, NotificationRecord};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;

/// `?limit=N` (default 50, 1 to 500).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct NotificationsQuery {
    pub limit: Option<i64>,
}

/// Notification deliveries, newest first: event, channel, `sent` / `failed` / `pending`,
/// attempts and the last error.
#[utoipa::path(get, path = "/api/notifications", tag = "live", params(NotificationsQuery),
    responses((status = 200, body = Vec<NotificationRecord>), (status = 401, body = ApiErrorBody)))]
pub async fn list(
    _user: CurrentUser,
    State(state): State<AppState>,
    Query(q): Query<NotificationsQuery>,
) -> Result<Json<Vec<NotificationRecord>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    crate::notify::Deliveries {
        store: &state.store,
    }
    .recent(limit)
    .await
    .map(Json)
    .map_err(|e| {
        tracing::error!(error = %e, "reading notification deliveries");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}"))
    })
}
