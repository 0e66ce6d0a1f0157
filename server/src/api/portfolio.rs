//! `GET /api/portfolio`, `GET /api/equity`, `GET|POST|DELETE /api/kill-switch`.

use super::ApiError;
use crate::auth::{CurrentUser, RequireTrader};
use crate::live::LiveError;
use crate::state::AppState;
use app::api::{ApiErrorBody, EquityPoint, KillSwitch, KillSwitchRequest, Portfolio};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

impl From<LiveError> for ApiError {
    fn from(e: LiveError) -> ApiError {
        use crate::broker::BrokerError;
        let status = match &e {
            LiveError::NotFound(_) => StatusCode::NOT_FOUND,
            LiveError::NoData
            | LiveError::Stale { .. }
            | LiveError::Conflict(_)
            | LiveError::Blocked { .. }
            | LiveError::KillSwitch => StatusCode::CONFLICT,
            LiveError::Broker(BrokerError::Retryable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            LiveError::Broker(BrokerError::Final { .. }) => StatusCode::BAD_GATEWAY,
            LiveError::Store(_) | LiveError::Broker(BrokerError::Store(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            LiveError::Config(_) | LiveError::Corrupt(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "live API error");
        }
        ApiError::new(status, e.to_string())
    }
}

/// The account now: positions, weights, exposure, per-strategy allocation, data freshness.
#[utoipa::path(get, path = "/api/portfolio", tag = "live",
    responses((status = 200, body = Portfolio), (status = 401, body = ApiErrorBody)))]
pub async fn portfolio(
    _user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Portfolio>, ApiError> {
    let mut p = state.live.portfolio().await?;
    p.simulated = crate::demo::Labels::load(
        &state.store,
        state.live.broker().name(),
        &state.live.settings.paper.account,
    )
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")))?
    .any();
    Ok(Json(p))
}

/// Equity history (one point per cycle and per execution), oldest first.
#[utoipa::path(get, path = "/api/equity", tag = "live",
    responses((status = 200, body = Vec<EquityPoint>), (status = 401, body = ApiErrorBody)))]
pub async fn equity(
    _user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<Vec<EquityPoint>>, ApiError> {
    Ok(Json(state.live.equity_history().await?))
}

/// Whether the kill switch blocks new orders.
#[utoipa::path(get, path = "/api/kill-switch", tag = "live",
    responses((status = 200, body = KillSwitch), (status = 401, body = ApiErrorBody)))]
pub async fn kill_switch(
    _user: CurrentUser,
    State(state): State<AppState>,
) -> Result<Json<KillSwitch>, ApiError> {
    Ok(Json(state.live.kill_switch().await?))
}

/// Turns the kill switch on: no new orders until it is turned off (traders only).
#[utoipa::path(post, path = "/api/kill-switch", tag = "live", request_body = Option<KillSwitchRequest>,
    responses((status = 200, body = KillSwitch), (status = 401, body = ApiErrorBody),
              (status = 403, body = ApiErrorBody)))]
pub async fn kill_switch_on(
    RequireTrader(user): RequireTrader,
    State(state): State<AppState>,
    body: Option<Json<KillSwitchRequest>>,
) -> Result<Json<KillSwitch>, ApiError> {
    let reason = body.and_then(|Json(b)| b.reason);
    Ok(Json(
        state
            .live
            .set_kill_switch(true, &user.username, reason.as_deref())
            .await?,
    ))
}

/// Turns the kill switch off (traders only).
#[utoipa::path(delete, path = "/api/kill-switch", tag = "live",
    responses((status = 200, body = KillSwitch), (status = 401, body = ApiErrorBody),
              (status = 403, body = ApiErrorBody)))]
pub async fn kill_switch_off(
    RequireTrader(user): RequireTrader,
    State(state): State<AppState>,
) -> Result<Json<KillSwitch>, ApiError> {
    Ok(Json(
        state
            .live
            .set_kill_switch(false, &user.username, None)
            .await?,
    ))
}
