//! `GET /api/parity`: the consistency report (see [`crate::parity`]).

use super::ApiError;
use crate::auth::CurrentUser;
use crate::parity::{self, ParityError, ReportRequest};
use crate::state::AppState;
use app::api::{ApiErrorBody, ParityReport};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use shared::Day;
use std::collections::HashMap;

impl From<ParityError> for ApiError {
    fn from(e: ParityError) -> ApiError {
        match e {
            ParityError::BadRequest(_) | ParityError::Config(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
            }
            ParityError::NoData => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            ParityError::Live(e) => e.into(),
            ParityError::Store(_) => {
                tracing::error!(error = %e, "parity report");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        }
    }
}

/// The query parameters [`parity`] accepts.
const PARAMS: &[&str] = &["from", "to", "tolerance", "date", "backtest_config"];

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn day(q: &HashMap<String, String>, name: &str) -> Result<Option<Day>, ApiError> {
    q.get(name)
        .map(|s| {
            Day::parse(s).map_err(|e| bad(format!("{name}: expected YYYY-MM-DD, got {s:?} ({e})")))
        })
        .transpose()
}

/// Parses the query string into a report request; every error names its parameter.
///
/// # Errors
/// An unknown parameter, a bad date, a bad tolerance, a backtest config that is not valid JSON
/// or not a valid config (the message gives the JSON path).
pub fn request_from_query(q: &HashMap<String, String>) -> Result<ReportRequest, ApiError> {
    if let Some(k) = q.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown query parameter {k:?}; valid: {}",
            PARAMS.join(", ")
        )));
    }
    let tolerance = q
        .get("tolerance")
        .map(|s| {
            s.parse::<f64>()
                .map_err(|_| bad(format!("tolerance: expected a number, got {s:?}")))
        })
        .transpose()?;
    let backtest_config = q
        .get("backtest_config")
        .map(|s| {
            parity::params::parse_backtest_config(s, "backtest_config")
                .map(|c| (c, "request (backtest_config)".to_string()))
                .map_err(ApiError::from)
        })
        .transpose()?;
    let req = ReportRequest {
        from: day(q, "from")?,
        to: day(q, "to")?,
        tolerance,
        date: day(q, "date")?,
        backtest_config,
        progress: None,
    };
    req.validate()?;
    Ok(req)
}

/// The consistency report: signal parity per plan, parameter audit, shadow backtest, gap
/// attribution, cost calibration and the four checks. Days are `YYYY-MM-DD`; `backtest_config`
/// is a strategy config as URL-encoded JSON (default: the shipped config `lockstep backtest`
/// uses).
#[utoipa::path(get, path = "/api/parity", tag = "live",
    params(
        ("from" = Option<String>, Query, description = "First data day (default: the first plan's)"),
        ("to" = Option<String>, Query, description = "Last data day (default: the last plan's)"),
        ("tolerance" = Option<f64>, Query, description = "Relative tolerance of the position and 30-day value checks (default 0.05)"),
        ("date" = Option<String>, Query, description = "Data day of the signal-consistency check (default: the newest plan's)"),
        ("backtest_config" = Option<String>, Query, description = "Backtest config as JSON (default: the shipped config)"),
    ),
    responses((status = 200, body = ParityReport), (status = 400, body = ApiErrorBody),
              (status = 401, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn parity(
    _user: CurrentUser,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<ParityReport>, ApiError> {
    let req = request_from_query(&q)?;
    Ok(Json(parity::report(&state.live, &req).await?))
}
