//! `GET /api/costs?venue=V`: what `rebalance.cost_model: "calibrated"` trades with — the fee and
//! slippage the account's own fills on each venue show over the last
//! [`app::api::costs::WINDOW_DAYS`] days of the panel, with the sample size and the window
//! (`crate::parity::calibration::account_costs`, the measurement `lockstep backtest` and
//! `lockstep sweep` read). The browser's Backtest and Sweep pages resolve a calibrated config
//! with these numbers by the CLI's rule (`app::api::costs::resolve`).
//!
//! Signed in (not opened by `--public-read`): fees and traded notional are the account's.

use super::ApiError;
use crate::parity::calibration::{account_costs, venue_costs};
use crate::state::AppState;
use app::api::costs::{calibration_venue, window, CalibratedCosts, MIN_FILLS, WINDOW_DAYS};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use shared::config::VenueScope;
use std::collections::HashMap;

/// The venues whose fills are calibrated, in the order the answer lists them.
const VENUES: [VenueScope; 2] = [VenueScope::Paper, VenueScope::Hyperliquid];

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// `GET /api/costs`: every venue's calibration, or (`?venue=hyperliquid|paper|any`, a config's
/// spelling) the one a config on that venue reads. An empty store answers no venues.
#[utoipa::path(get, path = "/api/costs", tag = "live",
    params(("venue" = Option<String>, Query, description = "hyperliquid, paper or any (a config's `venue`); default: every venue")),
    responses((status = 200, body = CalibratedCosts), (status = 400, body = app::api::ApiErrorBody),
              (status = 401, body = app::api::ApiErrorBody), (status = 503, body = app::api::ApiErrorBody)))]
pub async fn costs(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<CalibratedCosts>, ApiError> {
    if let Some(k) = query.keys().find(|k| k.as_str() != "venue") {
        return Err(bad(format!(
            "query parameter `{k}`: unknown parameter; known: venue"
        )));
    }
    let venues: Vec<&'static str> = match query.get("venue") {
        None => VENUES.iter().map(|v| calibration_venue(*v)).collect(),
        Some(v) => {
            let scope = VenueScope::parse(v.trim()).ok_or_else(|| {
                bad(format!(
                    "query parameter `venue`: unknown venue {v:?}; known: {}",
                    VenueScope::NAMES.join(", ")
                ))
            })?;
            vec![calibration_venue(scope)]
        }
    };
    let mut out = CalibratedCosts {
        window_days: WINDOW_DAYS,
        min_fills: MIN_FILLS,
        venues: Vec::new(),
    };
    let panel = state
        .store
        .panel()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")))?;
    let Some((_, panel)) = panel else {
        return Ok(Json(out));
    };
    if panel.n_days() == 0 {
        return Ok(Json(out));
    }
    let (from, to) = window(panel.end());
    for venue in venues {
        // The configured costs only shape the report's suggestion, which this answer leaves out.
        let measured = account_costs(&state.store, venue, &panel, from, to, 0.0, 0.0).await?;
        out.venues.push(venue_costs(&measured, venue, from, to));
    }
    Ok(Json(out))
}
