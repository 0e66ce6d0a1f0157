//! `GET /api/demo`, `POST /api/demo`: the simulated paper history of a first start (see
//! [`crate::demo`]). POST starts it in the background and answers at once with the run as
//! recorded; GET follows it (`days_done` of `days`).

use super::ApiError;
use crate::auth::{CurrentUser, RequireTrader};
use crate::demo::{self, DemoError};
use crate::state::AppState;
use app::api::{ApiErrorBody, DemoRequest, DemoRun};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use std::sync::Arc;

impl From<DemoError> for ApiError {
    fn from(e: DemoError) -> ApiError {
        let status = match &e {
            DemoError::NotEmpty(_)
            | DemoError::KillSwitch
            | DemoError::NoData
            | DemoError::Running => StatusCode::CONFLICT,
            DemoError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DemoError::Cycle { .. } | DemoError::Live(_) => StatusCode::CONFLICT,
            DemoError::Store(_) | DemoError::StoreErr(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The demo runs, newest first (empty when the history is all real).
#[utoipa::path(get, path = "/api/demo", tag = "live",
    responses((status = 200, body = Vec<DemoRun>), (status = 401, body = ApiErrorBody)))]
pub async fn list(
    _user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Vec<DemoRun>>, ApiError> {
    Ok(Json(demo::runs(&state.store).await.map_err(|e| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}"))
    })?))
}

/// Starts a simulated paper history over the last `days` (default 90) stored days: the live
/// cycle day by day on the paper broker with auto-approval (traders only). 409 when the store
/// already has plans, the kill switch is on, there is no data, a demo is running, or this
/// server trades on a real venue.
#[utoipa::path(post, path = "/api/demo", tag = "live", request_body = Option<DemoRequest>,
    responses((status = 202, body = DemoRun), (status = 400, body = ApiErrorBody),
              (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody)))]
pub async fn start(
    RequireTrader(user): RequireTrader,
    State(state): State<AppState>,
    body: Option<Json<DemoRequest>>,
) -> Result<(StatusCode, Json<DemoRun>), ApiError> {
    let live = state.live.clone();
    if live.broker().name() != "paper" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "this server trades on {}: the demo fills a paper account only; run `lockstep demo` against a paper server's database",
                live.broker().name()
            ),
        ));
    }
    let days = body
        .and_then(|Json(b)| b.days)
        .unwrap_or(demo::DEFAULT_DAYS);
    let events = live.clone();
    let run = demo::spawn(
        state.store.clone(),
        live.config().clone(),
        live.settings.clone(),
        days,
        &user.username,
        Arc::new(move |done, total| events.demo_progress(done, total)),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}
