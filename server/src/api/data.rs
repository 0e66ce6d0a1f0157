//! `GET /api/data/status` (the data-quality report) and `GET /api/panel` (the aligned panel in
//! `shared::panel_codec`'s binary form, with an ETag).

use super::ApiError;
use crate::state::AppState;
use crate::store::panel::{EncodedKey, PanelRequestError};
use crate::store::quality::{self, DEFAULT_STALE_DAYS};
use app::api::DataStatus;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::{Day, Field};
use std::collections::HashMap;
use std::sync::Arc;

/// The largest `stale_days` a status request may ask for (ten years).
pub const MAX_STALE_DAYS: u32 = 3650;

/// The response header of `/api/panel` that names the data version the panel is (today's, or
/// the `as_of` asked for): what a share link pins so that opening it later re-runs on the same
/// data.
pub const DATA_VERSION_HEADER: &str = "x-lockstep-data-version";

/// The fields `/api/panel` sends when the request names none: those the strategies read.
pub const DEFAULT_FIELDS: [Field; 6] = [
    Field::Close,
    Field::Volume,
    Field::MarketCap,
    Field::CirculatingSupply,
    Field::FundingRate,
    Field::OpenInterest,
];

fn bad(param: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("query parameter `{param}`: {message}"),
    )
}

fn only_known(query: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match query.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(bad(
            k,
            format!("unknown parameter; known: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn day_param(query: &HashMap<String, String>, name: &str) -> Result<Option<Day>, ApiError> {
    query
        .get(name)
        .map(|v| {
            Day::parse(v).map_err(|e| bad(name, format!("{v:?} is not a YYYY-MM-DD day ({e})")))
        })
        .transpose()
}

fn store_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}"))
}

/// `GET /api/data/status?as_of=YYYY-MM-DD|today|latest&stale_days=N`.
#[utoipa::path(get, path = "/api/data/status", tag = "system",
    params(("as_of" = Option<String>, Query, description = "YYYY-MM-DD, today (default) or latest"),
           ("stale_days" = Option<u32>, Query, description = "days without a new bar after which a symbol counts as stale (0 to 3650)")),
    responses((status = 200, body = DataStatus), (status = 400, body = app::api::ApiErrorBody),
              (status = 503, body = app::api::ApiErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<DataStatus>, ApiError> {
    only_known(&query, &["as_of", "stale_days"])?;
    let stale_days = match query.get("stale_days") {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|d| *d <= MAX_STALE_DAYS)
            .ok_or_else(|| {
                bad(
                    "stale_days",
                    format!("{v:?} is not a whole number of days from 0 to {MAX_STALE_DAYS}"),
                )
            })?,
        None => DEFAULT_STALE_DAYS,
    };
    let as_of = match query.get("as_of").map(String::as_str) {
        None | Some("today") => quality::today(),
        Some("latest") => crate::commands::data::resolve_as_of(&state.store, "latest")
            .await
            .map_err(|e| bad("as_of", e))?,
        Some(v) => Day::parse(v).map_err(|e| {
            bad(
                "as_of",
                format!("{v:?}: {e}; expected YYYY-MM-DD, today or latest"),
            )
        })?,
    };
    // The report reads every stored row: it is computed once per data version (and fetch run)
    // and request, one at a time, and served from the cache after that.
    let store = &state.store;
    let version = store.data_version().await.map_err(store_error)?;
    let last_run = store
        .runs(None, 1)
        .await
        .map_err(store_error)?
        .into_iter()
        .next()
        .map(|r| (r.id, r.finished_at, r.status));
    let status = state
        .status_cache
        .get_or_compute((as_of, stale_days), (version, last_run), || async {
            store.data_status(as_of, stale_days).await.map(Arc::new)
        })
        .await
        .map_err(store_error)?;
    Ok(Json(status.as_ref().clone()))
}

/// `GET /api/panel?fields=close,market_cap&from=YYYY-MM-DD&to=YYYY-MM-DD&as_of=VERSION&venue=V`:
/// the panel encoded with `shared::panel_codec` (`application/x-lockstep-panel`). `fields`
/// defaults to [`DEFAULT_FIELDS`], `from`/`to` to the stored range (and are clipped to it);
/// `as_of` (a data version, as a share link pins it) serves the panel as it was at that
/// version, bit for bit (400 for a version the store never had). `venue` (`hyperliquid`,
/// `paper`, `any`) serves the panel a run on that venue reads (its funding first) with the
/// venue's universe — its listing history, or the fact that none is stored — in the codec's
/// version 2, so a browser backtest trades the universe `lockstep backtest` does; without it
/// the answer is version 1, as before. The ETag is the content's hash; `If-None-Match` with it
/// answers 304.
pub async fn panel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    only_known(&query, &["fields", "from", "to", "as_of", "venue"])?;
    let venue = query
        .get("venue")
        .map(|v| {
            shared::config::VenueScope::parse(v.trim()).ok_or_else(|| {
                bad(
                    "venue",
                    format!(
                        "unknown venue {v:?}; known: {}",
                        shared::config::VenueScope::NAMES.join(", ")
                    ),
                )
            })
        })
        .transpose()?;
    let as_of = match query.get("as_of") {
        None => None,
        Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
            bad(
                "as_of",
                format!("{v:?} is not a data version (a whole number, as /api/data/status shows)"),
            )
        })?),
    };
    let fields = match query.get("fields") {
        None => DEFAULT_FIELDS.to_vec(),
        Some(list) => {
            let mut out = Vec::new();
            for name in list.split(',').map(str::trim) {
                let f = Field::from_name(name).ok_or_else(|| {
                    let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                    bad(
                        "fields",
                        format!("unknown field {name:?}; known: {}", known.join(", ")),
                    )
                })?;
                if out.contains(&f) {
                    return Err(bad("fields", format!("{name:?} is listed twice")));
                }
                out.push(f);
            }
            out
        }
    };
    let from = day_param(&query, "from")?;
    let to = day_param(&query, "to")?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(bad("from", format!("{f} is after `to` {t}")));
        }
    }
    let encoded = state
        .store
        .encoded_panel(&EncodedKey {
            fields,
            from,
            to,
            as_of,
            venue,
        })
        .await
        .map_err(|e| match e {
            PanelRequestError::Empty => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            PanelRequestError::UnknownVersion { .. } => bad("as_of", e),
            PanelRequestError::OutOfRange { .. } => {
                bad(if from.is_some() { "from" } else { "to" }, e)
            }
            other => store_error(other),
        })?;
    let etag = format!("\"{:016x}\"", encoded.hash);
    let etag_value = HeaderValue::from_str(&etag).expect("hex ETag is a valid header");
    let version_value = HeaderValue::from(encoded.version);
    let cache_control = HeaderValue::from_static("no-cache");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag_value),
                (header::CACHE_CONTROL, cache_control),
                (
                    header::HeaderName::from_static(DATA_VERSION_HEADER),
                    version_value,
                ),
            ],
        )
            .into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(shared::panel_codec::MEDIA_TYPE),
            ),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache_control),
            (
                header::HeaderName::from_static(DATA_VERSION_HEADER),
                version_value,
            ),
        ],
        encoded.bytes.as_ref().clone(),
    )
        .into_response())
}
